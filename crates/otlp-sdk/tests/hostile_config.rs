//! Hostile input for configuration loading: arbitrary and mutated `OTEL_*` /
//! `OTLP__` environments (through `ConfigLoader::with_env`) and arbitrary and
//! mutated YAML and TOML files (through `ConfigLoader::with_file`).
//!
//! Properties: loading never panics, strict or lenient; a loaded configuration
//! passes `Config::validate`; every error names what is wrong — a key present
//! in the environment, or the file — in its fields and in its message; secrets
//! (header values, the client key path, URL user-info) never appear in an
//! error, a warning or a `Debug` rendering.
//!
//! Bounded run: `PROPTEST_CASES=20000 cargo test -p otlp-sdk --test hostile_config`.
#![cfg(all(feature = "yaml", feature = "toml"))]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use otlp_contrib::testing::fuzz::{apply, config, mutated, mutated_text, mutations};
use otlp_sdk::config::{ConfigError, ConfigLoader, ConfigSource, ConfigWarning};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};

// ---- mutations (otlp_contrib::testing::fuzz) -----------------------------------

/// Bytes that mean something to YAML, TOML, URLs, header lists and numbers.
const DICTIONARY: &[u8] = b"\0\t\n\r \"#%&'*,-.:;=[]{}|~!>?@\\0119aeEfxzZ_\x7f\x80\xc3\xff";

// ---- temporary files -------------------------------------------------------------

/// A directory of its own under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = format!(
            "otlp-sdk-hostile-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(unique);
        fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

// ---- what the sources may say ----------------------------------------------------

/// Marks every secret the generators plant; it must never be shown.
const SECRET: &str = "SECRETQX";

const OTEL_VARIABLES: &[&str] = &[
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_INSECURE",
    "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_PROPAGATORS",
    "OTEL_TRACES_EXPORTER", // someone else's: ignored
    "RUN_ENV",
];

/// `section.key` of every file key, in file order.
const FILE_KEYS: &[(&str, &[&str])] = &[
    ("service", &["name", "disabled"]),
    ("resource", &["attributes"]),
    ("sampler", &["name", "arg"]),
    ("propagation", &["propagators"]),
    (
        "exporter",
        &[
            "endpoint",
            "traces_endpoint",
            "protocol",
            "timeout",
            "compression",
            "headers",
            "certificate",
            "client_certificate",
            "client_key",
            "insecure",
        ],
    ),
    (
        "batch",
        &[
            "max_queue_bytes",
            "max_queue_size",
            "max_export_batch_size",
            "min_export_batch_size",
            "scheduled_delay",
            "export_timeout",
            "max_concurrent_exports",
            "adaptive",
            "full_policy",
            "block_timeout",
        ],
    ),
    (
        "retry",
        &[
            "enabled",
            "initial_backoff",
            "max_backoff",
            "multiplier",
            "randomization_factor",
        ],
    ),
    (
        "performance",
        &["max_request_bytes", "buffer_pool_size", "io_threads"],
    ),
    (
        "durable",
        &[
            "directory",
            "fsync",
            "fsync_interval",
            "max_bytes",
            "segment_bytes",
        ],
    ),
];

fn file_key() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        15 => select(
            FILE_KEYS
                .iter()
                .flat_map(|(section, keys)| keys.iter().map(move |key| (*section, *key)))
                .collect::<Vec<_>>()
        )
        .prop_map(|(section, key)| (section.to_owned(), key.to_owned())),
        1 => ("[a-z_]{0,8}", "[a-z_]{0,8}"),
    ]
}

/// An `OTLP__` override name: real keys in any case, map entries, and broken shapes.
fn override_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (file_key(), any::<bool>()).prop_map(|((section, key), upper)| {
            let name = format!("OTLP__{section}__{key}");
            if upper { name.to_ascii_uppercase() } else { name }
        }),
        2 => ("(EXPORTER__HEADERS|RESOURCE__ATTRIBUTES|BATCH__ADAPTIVE)", "[A-Z_]{0,10}")
            .prop_map(|(map, entry)| format!("OTLP__{map}__{entry}")),
        1 => select(vec!["OTLP__", "OTLP__BATCH", "OTLP__BATCH__", "OTLP____X", "OTLP__X__Y__Z__W"])
            .prop_map(str::to_owned),
        // The log pipeline's durable queue, beside the span pipeline's (`durable` above).
        1 => (
            select(vec!["directory", "fsync", "fsync_interval", "max_bytes", "segment_bytes", ""]),
            any::<bool>(),
        )
            .prop_map(|(key, upper)| {
                let name = format!("OTLP__logs__durable__{key}");
                if upper { name.to_ascii_uppercase() } else { name }
            }),
        1 => "OTLP__[A-Za-z_]{0,20}",
    ]
}

/// A header value or client key path with the secret planted in it.
fn secret_value() -> impl Strategy<Value = String> {
    "[a-z0-9 ]{0,4}".prop_map(|prefix| format!("{prefix}{SECRET}"))
}

/// An endpoint URL, good or bad; with `secret`, sometimes with a password in it.
fn endpoint(secret: bool) -> impl Strategy<Value = String> {
    let scheme = select(vec!["http://", "https://", "HTTP://", "ftp://", "", "://"]);
    let password = if secret { SECRET } else { "pw" };
    let userinfo = prop_oneof![
        3 => Just(String::new()),
        1 => "[a-z]{1,4}".prop_map(move |user| format!("{user}:{password}@")),
    ];
    let host = prop_oneof![
        "[a-z0-9.-]{0,12}",
        Just("[::1]".to_owned()),
        Just("[::1".to_owned()),
        "\\[[0-9a-f:]{0,8}\\][a-z:]{0,2}",
    ];
    let port = prop_oneof![Just(String::new()), ":[0-9]{0,6}", ":[a-z]{1,3}"];
    let tail = prop_oneof![
        Just(String::new()),
        "/[a-z/]{0,8}",
        "\\?[a-z=]{0,5}",
        "#[a-z]{0,3}",
        " [a-z]{1,3}",
    ];
    (scheme, userinfo, host, port, tail).prop_map(|(s, u, h, p, t)| format!("{s}{u}{h}{p}{t}"))
}

/// `k1=v1,k2=v2` lists with percent-encoding, good and bad.
fn list(value: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    let key = prop_oneof![
        "[a-zA-Z0-9._-]{0,10}",
        Just("service.name".to_owned()),
        "%[0-9a-fA-Fz]{0,2}"
    ];
    let separator = select(vec!["=", "==", "", " = "]);
    vec((key, separator, value), 0..4).prop_map(|entries| {
        entries
            .into_iter()
            .map(|(k, s, v)| format!("{k}{s}{v}"))
            .collect::<Vec<_>>()
            .join(",")
    })
}

fn plain_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        3 => "-?[0-9]{0,22}",
        3 => "-?[0-9]{1,6}( ?(ms|s|m|h|d|MS|S|\\.5s|us))?",
        3 => select(vec![
            "", " ", "true", "TRUE", "false", "False", "yes", "1", "0", "grpc", "GRPC",
            "http/protobuf", "http/json", "http", "gzip", "zstd", "none", "br", "drop", "block",
            "BLOCK", "1.5", "NaN", "inf", "-0", "1e3", "0x10", "%", "%zz", "%c3", "%c3%a9",
            "18446744073709551616", "9223372036854775807", "default", "../etc", ".hidden",
            "always", "interval", "never", "every_batch", "4096", "1048576", "b3", "B3MULTI",
            "tracecontext,baggage", "baggage", "jaeger", "b3,none", "tracecontext, b3 ,xray",
        ])
        .prop_map(str::to_owned),
        2 => endpoint(false),
        2 => list("[a-z0-9%]{0,6}"),
        1 => "[a-zA-Z0-9 .:/\\\\-]{0,16}",
    ]
}

/// The value of one variable; header and client-key variables carry secrets.
fn env_entry() -> impl Strategy<Value = (String, String)> {
    let header_var = select(vec![
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTLP__EXPORTER__HEADERS",
        "OTLP__exporter__headers",
    ]);
    prop_oneof![
        6 => (select(OTEL_VARIABLES.to_vec()).prop_map(str::to_owned), plain_value()),
        2 => (
            select(vec![
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "OTLP__EXPORTER__ENDPOINT",
                "OTLP__EXPORTER__TRACES_ENDPOINT",
            ])
            .prop_map(str::to_owned),
            endpoint(true),
        ),
        4 => (override_name(), plain_value()),
        2 => (header_var.prop_map(str::to_owned), list(secret_value())),
        1 => ("OTLP__EXPORTER__HEADERS__[A-Z_]{1,8}", secret_value()),
        1 => (
            select(vec!["OTEL_EXPORTER_OTLP_CLIENT_KEY", "OTLP__EXPORTER__CLIENT_KEY"])
                .prop_map(str::to_owned),
            secret_value(),
        ),
        1 => ("[A-Z_]{1,12}", any::<String>()),
    ]
}

fn environment() -> impl Strategy<Value = BTreeMap<String, String>> {
    vec(env_entry(), 0..8).prop_map(|entries| entries.into_iter().collect())
}

/// A valid environment, then one value mutated.
fn mutated_environment() -> impl Strategy<Value = BTreeMap<String, String>> {
    let valid = vec(
        select(vec![
            ("OTEL_BSP_MAX_QUEUE_SIZE", "4096"),
            ("OTLP__BATCH__MAX_QUEUE_BYTES", "1048576"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "256"),
            ("OTEL_BSP_SCHEDULE_DELAY", "250"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://collector.example:4318/base/",
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://[::1]:4318/v1/traces",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            // (no planted secret here: a mutation may move it into a header name)
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-api-key=s3cr3t,tenant=a%20b",
            ),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=shop,deployment.environment=prod",
            ),
            ("OTLP__RETRY__MULTIPLIER", "1.5"),
            ("OTLP__BATCH__FULL_POLICY", "block"),
            ("OTLP__BATCH__BLOCK_TIMEOUT", "20ms"),
            ("OTLP__EXPORTER__HEADERS__X_TOKEN", "s3cr3t"),
            ("OTLP__PERFORMANCE__MAX_REQUEST_BYTES", "1048576"),
        ]),
        1..6,
    );
    (valid, any::<Index>(), mutations(DICTIONARY, 1..4)).prop_map(|(entries, which, mutations)| {
        let mut env: BTreeMap<String, String> = entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let key = env.keys().nth(which.index(env.len())).cloned();
        if let Some(key) = key {
            let mut value = env.remove(&key).unwrap_or_default().into_bytes();
            for mutation in &mutations {
                apply(&mut value, mutation);
            }
            env.insert(key, String::from_utf8_lossy(&value).into_owned());
        }
        env
    })
}

// ---- files ------------------------------------------------------------------------

/// A scalar as YAML or TOML would spell it (quoted or not).
fn file_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        plain_value().prop_map(|v| format!("{v:?}")),
        "-?[0-9]{1,22}",
        "-?[0-9]{1,4}\\.[0-9]{1,3}",
        select(vec![
            "true",
            "false",
            "~",
            "null",
            "''",
            "1979-05-27T07:32:00Z",
            "inf",
            "nan",
            "[]",
            "{}",
            "[1, 2]",
            "{ a = 1 }",
            "{ a: 1 }",
            "\"5s\"",
            "'250ms'",
            "\"gzip\"",
            "\"http/json\"",
        ])
        .prop_map(str::to_owned),
    ]
}

fn file_entries() -> impl Strategy<Value = Vec<((String, String), String)>> {
    vec((file_key(), file_scalar()), 0..10)
}

/// Sections in key order (a real file groups its keys), duplicates dropped.
fn grouped(entries: Vec<((String, String), String)>) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for ((section, key), value) in entries {
        sections.entry(section).or_default().insert(key, value);
    }
    sections
}

fn yaml_document() -> impl Strategy<Value = String> {
    (file_entries(), any::<bool>()).prop_map(|(entries, flow)| {
        let mut text = String::new();
        for (section, keys) in grouped(entries) {
            if flow {
                let keys: Vec<String> = keys.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                text.push_str(&format!("{section}: {{ {} }}\n", keys.join(", ")));
            } else {
                text.push_str(&format!("{section}:\n"));
                for (key, value) in keys {
                    text.push_str(&format!("  {key}: {value}\n"));
                }
            }
        }
        text
    })
}

fn toml_document() -> impl Strategy<Value = String> {
    file_entries().prop_map(|entries| {
        let mut text = String::new();
        for (section, keys) in grouped(entries) {
            text.push_str(&format!("[{section}]\n"));
            for (key, value) in keys {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        text
    })
}

// ---- checks ---------------------------------------------------------------------

fn assert_no_secret(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows a secret: {text}");
}

/// The one error that rightly names a key no source set: any `durable.*`
/// (`logs.durable.*`) key asks for the queue's directory.
fn is_required_but_missing(error: &ConfigError) -> bool {
    matches!(
        error.key(),
        Some("durable.directory" | "logs.durable.directory")
    ) && error.value() == Some("")
}

/// A key as error messages show it: control characters, line separators
/// and bidirectional formatting characters escaped (`\u{1b}`).
fn shown_key(key: &str) -> String {
    key.chars()
        .map(|c| {
            let escaped = c.is_control()
                || matches!(
                    c,
                    '\u{2028}'
                        | '\u{2029}'
                        | '\u{202a}'..='\u{202e}'
                        | '\u{2066}'..='\u{2069}'
                        | '\u{200e}'
                        | '\u{200f}'
                        | '\u{061c}'
                );
            if escaped {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn check_error_names_env_key(error: &ConfigError, env: &BTreeMap<String, String>) {
    let message = error.to_string();
    let key = error
        .key()
        .unwrap_or_else(|| panic!("an environment error names a key: {message}"));
    assert!(message.contains(&shown_key(key)), "{message}");
    if is_required_but_missing(error) {
        assert_eq!(error.origin(), ConfigSource::Default, "{message}");
    } else {
        assert!(
            env.contains_key(key),
            "{key} is not in the environment: {message}"
        );
        assert_eq!(
            error.origin(),
            ConfigSource::Env(key.to_owned()),
            "{message}"
        );
    }
    assert!(!error.reason().is_empty(), "{message}");
    assert_no_secret("error", &message);
    assert_no_secret("error Debug", &format!("{error:?}"));
}

fn check_environment(env: &BTreeMap<String, String>, dir: &TempDir) {
    let loader = || {
        ConfigLoader::new()
            .with_config_dir(dir.path())
            .with_env(env.clone())
    };
    assert_no_secret("loader Debug", &format!("{:?}", loader()));
    let strict = loader().load_with_warnings();
    let lenient = loader().lenient().load_with_warnings();
    for (mode, result) in [("strict", &strict), ("lenient", &lenient)] {
        match result {
            Ok((config, warnings)) => {
                assert_eq!(config.validate(), Ok(()), "{mode}: {env:?}");
                assert_no_secret("config Debug", &format!("{config:?}"));
                if mode == "strict" {
                    // Strict loading warns only of a sampler argument the
                    // sampler does not use, and of what it accepts and does
                    // not do: baggage, named in OTEL_PROPAGATORS.
                    // The key as the environment spelled it: `OTLP__` keys
                    // are case-insensitive after the prefix.
                    for ConfigWarning(warning) in warnings {
                        let sampler_arg = warning.key().is_some_and(|key| {
                            key == "OTEL_TRACES_SAMPLER_ARG"
                                || key.eq_ignore_ascii_case("OTLP__SAMPLER__ARG")
                        });
                        if sampler_arg {
                            assert!(warning.reason().contains("unused"), "{warning}");
                        } else {
                            assert_eq!(warning.value(), Some("baggage"), "{warning}");
                        }
                    }
                }
                for ConfigWarning(warning) in warnings {
                    check_error_names_env_key(warning, env);
                }
            }
            Err(error) => check_error_names_env_key(error, env),
        }
    }
    // Lenient loading only forgives what strict loading refuses.
    if strict.is_ok() {
        assert_eq!(
            strict.as_ref().ok().map(|(config, _)| config),
            lenient.as_ref().ok().map(|(config, _)| config)
        );
    }
}

fn check_file(dir: &TempDir, extension: &str, contents: &[u8]) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = dir.path().join(format!(
        "fuzz-{}.{extension}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    fs::write(&path, contents).expect("write");
    let result = ConfigLoader::new()
        .with_file(&path)
        .with_env(BTreeMap::<String, String>::new())
        .load();
    let _ = fs::remove_file(&path);
    let text = String::from_utf8_lossy(contents);
    match result {
        Ok(config) => assert_eq!(config.validate(), Ok(())),
        Err(error) => {
            let message = error.to_string();
            if !is_required_but_missing(&error) {
                assert_eq!(
                    error.origin(),
                    ConfigSource::File(path.clone()),
                    "{message}"
                );
            }
            assert!(!error.reason().is_empty(), "{message}");
            match &error {
                ConfigError::FileSyntax { line, column, .. } => {
                    assert!(message.contains(&path.display().to_string()), "{message}");
                    // YAML also breaks lines at a lone CR, NEL, LS and PS.
                    let breaks = text
                        .replace("\r\n", "\n")
                        .matches(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
                        .count();
                    let lines = breaks + 1;
                    if let Some(line) = line {
                        assert!(
                            *line >= 1 && *line <= lines + 1,
                            "{message} ({lines} lines)"
                        );
                    }
                    assert!(column.is_none_or(|column| column >= 1), "{message}");
                }
                ConfigError::FileRejected { .. } | ConfigError::FileUnreadable { .. } => {
                    assert!(message.contains(&path.display().to_string()), "{message}");
                }
                _ => {
                    let key = error
                        .key()
                        .unwrap_or_else(|| panic!("a value error names a key: {message}"));
                    assert!(message.contains(&shown_key(key)), "{message}");
                }
            }
            assert_no_secret("file error", &message);
        }
    }
}

/// The case `environment_arbitrary` found twice: an unused sampler argument
/// under an `OTLP__` key spelled in another case is the sampler's warning,
/// not one about `baggage` (the check knew only the upper-case spellings).
#[test]
fn an_unused_sampler_argument_under_a_key_in_any_case_is_the_samplers_warning() {
    for key in [
        "OTLP__sampler__arg",
        "OTLP__Sampler__ARG",
        "OTLP__SAMPLER__ARG",
    ] {
        let env = BTreeMap::from([(key.to_owned(), "2792".to_owned())]);
        let dir = TempDir::new("env-sampler-arg");
        check_environment(&env, &dir);
    }
}

// ---- the fuzz targets --------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn environment_arbitrary(env in environment()) {
        let dir = TempDir::new("env");
        check_environment(&env, &dir);
    }

    #[test]
    fn environment_mutated(env in mutated_environment()) {
        let dir = TempDir::new("env-mutated");
        check_environment(&env, &dir);
    }

    #[test]
    fn yaml_arbitrary_text(text in any::<String>()) {
        let dir = TempDir::new("yaml-text");
        check_file(&dir, "yaml", text.as_bytes());
    }

    #[test]
    fn yaml_documents(text in yaml_document()) {
        let dir = TempDir::new("yaml-doc");
        check_file(&dir, "yaml", text.as_bytes());
    }

    #[test]
    fn yaml_mutated(bytes in mutated(yaml_document().prop_map(String::into_bytes), DICTIONARY)) {
        let dir = TempDir::new("yaml-mutated");
        check_file(&dir, "yml", &bytes);
    }

    #[test]
    fn toml_arbitrary_text(text in any::<String>()) {
        let dir = TempDir::new("toml-text");
        check_file(&dir, "toml", text.as_bytes());
    }

    #[test]
    fn toml_documents(text in toml_document()) {
        let dir = TempDir::new("toml-doc");
        check_file(&dir, "toml", text.as_bytes());
    }

    #[test]
    fn toml_mutated(text in mutated_text(toml_document(), DICTIONARY)) {
        let dir = TempDir::new("toml-mutated");
        check_file(&dir, "toml", text.as_bytes());
    }
}

// ---- edges, pinned -------------------------------------------------------------

#[test]
fn a_key_with_an_escape_in_a_file_is_named_escaped() {
    let dir = TempDir::new("escaped-key");
    check_file(&dir, "yaml", b"batch: { \"max\\e[2J\\nqueue\": 1 }");
    let path = dir.path().join("escaped.yaml");
    fs::write(&path, "batch: { \"max\\e[2J\\nqueue\": 1 }").expect("write");
    let error = ConfigLoader::new().with_file(&path).load().unwrap_err();
    assert_eq!(error.key(), Some("batch.max\u{1b}[2J\nqueue"));
    let message = error.to_string();
    assert!(
        message.starts_with("unknown key batch.max\\u{1b}[2J\\nqueue with value"),
        "{message}"
    );
}

#[test]
fn deeply_nested_files_are_errors_not_stack_overflows() {
    let dir = TempDir::new("deep");
    // (100 000 levels also end in an error, but the YAML parser takes a
    // quadratic minute to get there: see the report in the commit.)
    for depth in [200usize, 5_000] {
        let yaml = format!("service: {}1{}\n", "[".repeat(depth), "]".repeat(depth));
        check_file(&dir, "yaml", yaml.as_bytes());
        let yaml_maps = format!("service: {}1{}\n", "{a: ".repeat(depth), "}".repeat(depth));
        check_file(&dir, "yaml", yaml_maps.as_bytes());
        let toml = format!(
            "[service]\nname = {}1{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        check_file(&dir, "toml", toml.as_bytes());
        let toml_tables = format!(
            "[service]\nname = {}1{}\n",
            "{a = ".repeat(depth),
            "}".repeat(depth)
        );
        check_file(&dir, "toml", toml_tables.as_bytes());
        let dotted = format!("[service]\n{} = 1\n", vec!["a"; depth].join("."));
        check_file(&dir, "toml", dotted.as_bytes());
    }
}

#[test]
fn yaml_alias_bombs_are_refused() {
    let dir = TempDir::new("bomb");
    let mut yaml = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..12 {
        let previous = format!("*a{}", level - 1);
        let list = [previous.as_str(); 10].join(", ");
        yaml.push_str(&format!("a{level}: &a{level} [{list}]\n"));
    }
    yaml.push_str("service: { name: *a11 }\n");
    let started = std::time::Instant::now();
    check_file(&dir, "yaml", yaml.as_bytes());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn odd_but_valid_files_load() {
    let dir = TempDir::new("odd");
    for (extension, text) in [
        ("yaml", ""),
        ("yaml", "# only a comment\n"),
        ("yaml", "\u{feff}service: { name: bom }\n"),
        ("yaml", "---\nservice:\n  name: doc\n...\n"),
        ("toml", ""),
        ("toml", "\u{feff}[service]\nname = \"bom\"\n"),
    ] {
        check_file(&dir, extension, text.as_bytes());
    }
}

#[test]
fn non_utf8_and_binary_files_are_named_errors() {
    let dir = TempDir::new("binary");
    for contents in [
        &b"\xff\xfe\x00s\x00e\x00r\x00v\x00i\x00c\x00e"[..],
        b"service:\n  name: \xc3\x28\n",
        b"\x00\x00\x00\x00",
    ] {
        check_file(&dir, "yaml", contents);
        check_file(&dir, "toml", contents);
    }
}

#[test]
fn config_debug_hides_the_endpoint_password() {
    // Found by environment_arbitrary: OTEL_EXPORTER_OTLP_ENDPOINT=http://a:SECRETQX@-
    // loaded fine and `{:?}` of the Config showed the password.
    for (name, url) in [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:SECRETQX@-"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://user:SECRETQX@collector:4318/v1/traces",
        ),
    ] {
        let env = BTreeMap::from([(name.to_owned(), url.to_owned())]);
        let dir = TempDir::new("debug");
        check_environment(&env, &dir);
        let config = ConfigLoader::new()
            .with_config_dir(dir.path())
            .with_env(env)
            .load()
            .expect("valid");
        let debug = format!("{config:?}");
        assert_no_secret("config Debug", &debug);
        assert!(debug.contains("<redacted>@"), "{debug}");
    }
}

#[test]
fn retry_initial_backoff_over_the_default_maximum_names_the_key_that_was_set() {
    // Found by yaml_documents: "retry:\n  initial_backoff: 30010\n" was
    // reported against retry.max_backoff, a default nobody set.
    let dir = TempDir::new("retry-blame");
    check_file(&dir, "yaml", b"retry:\n  initial_backoff: 30010\n");
    let env = BTreeMap::from([("OTLP__RETRY__INITIAL_BACKOFF".to_owned(), "31s".to_owned())]);
    check_environment(&env, &dir);
    let error = ConfigLoader::new()
        .with_config_dir(dir.path())
        .with_env(env)
        .load()
        .expect_err("over the maximum");
    assert_eq!(error.key(), Some("OTLP__RETRY__INITIAL_BACKOFF"));
    assert!(
        error
            .reason()
            .contains("must be at most retry.max_backoff (30000ms)"),
        "{error}"
    );
}

#[test]
fn a_password_before_a_misplaced_scheme_stays_hidden() {
    // Found by environment_arbitrary: OTEL_EXPORTER_OTLP_ENDPOINT=a:SECRETQX@://
    // was refused as the "unsupported scheme" "a:SECRETQX@", shown twice.
    let dir = TempDir::new("misplaced-scheme");
    for url in [
        "a:SECRETQX@://",
        "a:SECRETQX@[::1]:///bh",
        "admin:SECRETQX@http://collector",
        "://a:SECRETQX@[::1]:gfa",
    ] {
        let env = BTreeMap::from([("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), url.to_owned())]);
        check_environment(&env, &dir);
    }
}

#[test]
fn durable_segment_size_over_the_default_cap_names_the_key_that_was_set() {
    // Found by environment_arbitrary: OTLP__DURABLE__SEGMENT_BYTES=99999999999999
    // (with a directory) was reported against durable.max_bytes, a default.
    let dir = TempDir::new("durable-blame");
    let env = BTreeMap::from([
        (
            "OTLP__DURABLE__DIRECTORY".to_owned(),
            "/tmp/otlp-queue".to_owned(),
        ),
        (
            "OTLP__DURABLE__SEGMENT_BYTES".to_owned(),
            "99999999999999".to_owned(),
        ),
    ]);
    check_environment(&env, &dir);
    let error = ConfigLoader::new()
        .with_config_dir(dir.path())
        .with_env(env)
        .load()
        .expect_err("segment over the cap");
    assert_eq!(error.key(), Some("OTLP__DURABLE__SEGMENT_BYTES"));
    assert!(
        error.reason().contains("must be at most durable.max_bytes"),
        "{error}"
    );
    check_file(
        &dir,
        "toml",
        b"[durable]\ndirectory = \"q\"\nsegment_bytes = 99999999999999\n",
    );
}
