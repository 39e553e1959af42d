//! Configuration loading: every source and its precedence, every `OTEL_*`
//! variable, the endpoint rule, files in both formats, and the error (or, when
//! lenient, the warning) for each kind of bad value.
//!
//! No test touches the process environment: each passes its variables with
//! `ConfigLoader::with_env` and its files in a directory of its own.
//!
//! Tests that write files need the `yaml` and/or `toml` feature; the rest run
//! with any feature set (`--no-default-features` included).
#![cfg_attr(
    not(all(feature = "yaml", feature = "toml")),
    allow(unused_imports, dead_code)
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use otlp_sdk::config::{
    BatchConfig, Compression, Config, ConfigError, ConfigLoader, ConfigSource, ExporterConfig,
    ExporterKind, FullPolicy, Headers, LimitsConfig, LogsConfig, MetricsConfig, PerformanceConfig,
    PropagatorName, PropagatorsConfig, Protocol, SamplerConfig, SamplerName, TlsConfig, TlsFile,
};
use otlp_sdk::{RetryPolicy, Signal};

mod config_support;
use config_support::{TempDir, assert_names, headers, load, load_err, loader, pairs};

// ------------------------------------------------------- sources and precedence

#[test]
fn nothing_set_gives_the_defaults() {
    assert_eq!(load(&[]), Config::default());
    assert_eq!(Config::default().validate(), Ok(()));
}

#[cfg(feature = "yaml")]
const DEFAULT_YAML: &str = "\
service:
  name: from-default-file
exporter:
  compression: gzip
batch:
  max_queue_size: 1000
  max_export_batch_size: 100
";

#[cfg(feature = "toml")]
const PROD_TOML: &str = "\
[service]
name = \"from-run-env-file\"

[batch]
max_queue_size = 2000
";

#[cfg(all(feature = "yaml", feature = "toml"))]
#[test]
fn each_source_overrides_the_ones_before_it() {
    let dir = TempDir::new("precedence");
    dir.write("default.yaml", DEFAULT_YAML);
    dir.write("prod.toml", PROD_TOML);
    let all = [
        ("RUN_ENV", "prod"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "3000"),
        ("OTLP__BATCH__MAX_QUEUE_SIZE", "4000"),
    ];
    let queue = |env: &[(&str, &str)]| loader(&dir, env).load().unwrap().batch.max_queue_size;
    assert_eq!(queue(&all), Some(4000), "OTLP__ beats OTEL_*");
    assert_eq!(
        queue(&all[..2]),
        Some(3000),
        "OTEL_* beats the RUN_ENV file"
    );
    assert_eq!(
        queue(&all[..1]),
        Some(2000),
        "the RUN_ENV file beats default.*"
    );
    assert_eq!(queue(&[]), Some(1000), "default.* beats the defaults");
    let empty = TempDir::new("precedence-empty");
    assert_eq!(
        loader(&empty, &all[..1])
            .load()
            .unwrap()
            .batch
            .max_queue_size,
        None
    );

    // Keys a later source does not mention keep the earlier value.
    let config = loader(&dir, &all).load().unwrap();
    assert_eq!(config.batch.max_export_batch_size, 100);
    assert_eq!(config.exporter.compression, Compression::Gzip);
    assert_eq!(config.service_name.as_deref(), Some("from-run-env-file"));
}

#[cfg(feature = "yaml")]
#[test]
fn the_builder_comes_last_and_is_checked_by_validate() {
    let dir = TempDir::new("builder");
    dir.write("default.yaml", DEFAULT_YAML);
    let mut config = loader(&dir, &[("OTEL_SERVICE_NAME", "from-env")])
        .load()
        .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("from-env"));

    config.service_name = Some("from-builder".into());
    config.batch.max_queue_size = Some(50); // below the file's batch size of 100
    let err = config.validate().unwrap_err();
    assert_names(
        &err,
        "batch.max_export_batch_size",
        "100",
        "must be at most batch.max_queue_size (50)",
    );
    assert_eq!(err.origin(), ConfigSource::Builder);

    config.batch.max_queue_size = Some(100);
    assert_eq!(config.validate(), Ok(()));
    config.batch.max_queue_size = None; // no count cap: any batch size fits
    config.batch.max_export_batch_size = 100_000;
    assert_eq!(config.validate(), Ok(()));
}

#[cfg(all(feature = "yaml", feature = "toml"))]
#[test]
fn an_explicit_file_replaces_the_directory_lookup() {
    let dir = TempDir::new("explicit");
    dir.write("default.yaml", DEFAULT_YAML);
    let other = TempDir::new("explicit-other");
    let file = other.write(
        "otlp.toml",
        "[batch]\nmax_queue_size = 7\nmax_export_batch_size = 7\nmin_export_batch_size = 7\n",
    );
    let config = loader(&dir, &[("RUN_ENV", "prod")])
        .with_file(&file)
        .load()
        .unwrap();
    assert_eq!(config.batch.max_queue_size, Some(7));
    assert_eq!(config.service_name, None, "default.yaml was not read");
    assert_eq!(config.exporter.compression, Compression::None);
}

#[cfg(all(feature = "yaml", feature = "toml"))]
#[test]
fn otlp_config_dir_and_otlp_config_file_say_where_the_files_are() {
    let dir = TempDir::new("env-dir");
    dir.write("default.yaml", "service:\n  name: from-dir\n");
    dir.write("prod.toml", "[batch]\nadaptive = true\n");
    let dir_path = dir.path().to_str().unwrap();
    let config = ConfigLoader::new()
        .with_env([("OTLP_CONFIG_DIR", dir_path), ("RUN_ENV", "prod")])
        .load()
        .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("from-dir"));
    assert!(config.batch.adaptive, "RUN_ENV applies in that directory");

    let other = TempDir::new("env-file");
    let file = other.write("otlp.toml", "[service]\nname = \"from-file\"\n");
    let file_path = file.to_str().unwrap();
    let config = ConfigLoader::new()
        .with_env([("OTLP_CONFIG_FILE", file_path), ("RUN_ENV", "prod")])
        .load()
        .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("from-file"));
    assert!(!config.batch.adaptive, "one file, no directory lookup");

    // A blank value is unset; a missing file is an error naming it.
    let missing = other.path().join("missing.yaml");
    let err = ConfigLoader::new()
        .with_env([
            ("OTLP_CONFIG_FILE", missing.to_str().unwrap()),
            ("OTLP_CONFIG_DIR", " "),
        ])
        .load()
        .unwrap_err();
    assert!(
        matches!(&err, ConfigError::FileUnreadable { path, .. } if *path == missing),
        "{err}"
    );

    // Both: which one was meant is unclear.
    let err = ConfigLoader::new()
        .with_env([
            ("OTLP_CONFIG_FILE", file_path),
            ("OTLP_CONFIG_DIR", dir_path),
        ])
        .load()
        .unwrap_err();
    assert_names(
        &err,
        "OTLP_CONFIG_FILE",
        file_path,
        "OTLP_CONFIG_DIR is set too",
    );

    // The program's choice wins over the environment's.
    let config = loader(&other, &[("OTLP_CONFIG_DIR", dir_path)])
        .load()
        .unwrap();
    assert_eq!(config.service_name, None, "with_config_dir: {config:?}");
    let config = ConfigLoader::new()
        .with_env([("OTLP_CONFIG_DIR", dir_path)])
        .with_file(&file)
        .load()
        .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("from-file"));
}

#[cfg(feature = "toml")]
#[test]
fn an_applications_file_in_a_chosen_directory_is_an_error_without_the_hint() {
    // The hint about OTLP_CONFIG_DIR is for files found in `config/` by
    // default only (see the loader's unit tests); a directory someone chose
    // holds what they meant for this SDK.
    let dir = TempDir::new("app-file");
    dir.write("default.toml", "[database]\nurl = \"postgres://db\"\n");
    let err = ConfigLoader::new()
        .with_env([("OTLP_CONFIG_DIR", dir.path().to_str().unwrap())])
        .load()
        .unwrap_err();
    assert_eq!(err.key(), Some("database"), "{err}");
    assert!(!err.to_string().contains("OTLP_CONFIG_DIR"), "{err}");
}

#[cfg(feature = "yaml")]
#[test]
fn run_env_default_names_the_default_file() {
    let dir = TempDir::new("run-env-default");
    dir.write("default.yaml", "resource:\n  attributes: { a: '1' }\n");
    let config = loader(&dir, &[("RUN_ENV", "default")]).load().unwrap();
    assert_eq!(config.resource_attributes, pairs(&[("a", "1")]));
}

#[cfg(feature = "toml")]
#[test]
fn a_missing_run_env_file_is_fine() {
    let dir = TempDir::new("run-env-missing");
    dir.write("default.toml", "[batch]\nadaptive = true\n");
    let config = loader(&dir, &[("RUN_ENV", "staging")]).load().unwrap();
    assert!(config.batch.adaptive);
}

#[cfg(feature = "yaml")]
#[test]
fn an_empty_variable_means_unset() {
    let dir = TempDir::new("empty-var");
    dir.write("default.yaml", DEFAULT_YAML);
    let env = [
        ("OTEL_BSP_MAX_QUEUE_SIZE", ""),
        ("OTEL_SERVICE_NAME", "  "),
        ("OTLP__EXPORTER__COMPRESSION", ""),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", ""),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ];
    let config = loader(&dir, &env).load().unwrap();
    assert_eq!(config.batch.max_queue_size, Some(1000));
    assert_eq!(config.service_name.as_deref(), Some("from-default-file"));
    assert_eq!(config.exporter.compression, Compression::Gzip);
    assert_eq!(
        config.exporter.protocol,
        Protocol::Grpc,
        "an empty _TRACES_ variant does not hide the generic one"
    );
}

// ------------------------------------------------------------ the queue's bounds

#[test]
fn the_queue_is_bounded_by_64_mib_and_not_by_a_count_by_default() {
    let config = load(&[]);
    assert_eq!(config.batch.max_queue_bytes, 64 * 1024 * 1024);
    assert_eq!(
        BatchConfig::DEFAULT_MAX_QUEUE_BYTES,
        config.batch.max_queue_bytes
    );
    assert_eq!(config.batch.max_queue_size, None, "no count cap unless set");
}

#[test]
fn otlp_max_queue_bytes_sets_the_byte_bound_and_no_count_cap() {
    let config = load(&[("OTLP__BATCH__MAX_QUEUE_BYTES", "1048576")]);
    assert_eq!(config.batch.max_queue_bytes, 1024 * 1024);
    assert_eq!(config.batch.max_queue_size, None);
    let config = load(&[("OTLP__batch__Max_Queue_Bytes", " 1 ")]);
    assert_eq!(config.batch.max_queue_bytes, 1, "at least 1 byte is enough");
}

#[test]
fn max_queue_size_sets_a_count_cap_beside_the_byte_bound() {
    for var in ["OTEL_BSP_MAX_QUEUE_SIZE", "OTLP__BATCH__MAX_QUEUE_SIZE"] {
        let config = load(&[(var, "4096")]);
        assert_eq!(config.batch.max_queue_size, Some(4096), "{var}");
        assert_eq!(
            config.batch.max_queue_bytes,
            BatchConfig::DEFAULT_MAX_QUEUE_BYTES,
            "{var}"
        );
    }
}

#[cfg(feature = "yaml")]
#[test]
fn max_queue_bytes_is_a_yaml_file_key() {
    let dir = TempDir::new("queue-bytes-yaml");
    dir.write("default.yaml", "batch:\n  max_queue_bytes: 2097152\n");
    let config = loader(&dir, &[]).load().unwrap();
    assert_eq!(config.batch.max_queue_bytes, 2 * 1024 * 1024);
    assert_eq!(config.batch.max_queue_size, None);
    // The override beats the file.
    let env = [("OTLP__BATCH__MAX_QUEUE_BYTES", "4096")];
    let config = loader(&dir, &env).load().unwrap();
    assert_eq!(config.batch.max_queue_bytes, 4096);
}

#[cfg(feature = "toml")]
#[test]
fn max_queue_bytes_is_a_toml_file_key() {
    let dir = TempDir::new("queue-bytes-toml");
    dir.write(
        "default.toml",
        "[batch]\nmax_queue_bytes = 8388608\nmax_queue_size = 10000\n",
    );
    let config = loader(&dir, &[]).load().unwrap();
    assert_eq!(config.batch.max_queue_bytes, 8 * 1024 * 1024);
    assert_eq!(config.batch.max_queue_size, Some(10_000));
}

#[test]
fn a_bad_max_queue_bytes_names_the_key_and_value_even_when_lenient() {
    let var = "OTLP__BATCH__MAX_QUEUE_BYTES";
    let cases = [
        ("0", "must be at least 1"),
        ("lots", "not a whole number"),
        ("-1", "must not be negative"),
        ("64MiB", "not a whole number"),
    ];
    for (value, reason) in cases {
        let err = load_err(&[(var, value)]);
        assert_names(&err, var, value, reason);
        assert_eq!(err.origin(), ConfigSource::Env(var.to_string()));
        let dir = TempDir::new("queue-bytes-lenient");
        let lenient = loader(&dir, &[(var, value)]).lenient().load();
        assert_eq!(lenient, Err(err), "an OTLP__ override is never ignored");
    }
}

#[cfg(feature = "yaml")]
#[test]
fn a_bad_max_queue_bytes_in_a_file_names_the_dotted_key() {
    let cases = [
        ("0", "0", "must be at least 1"),
        ("lots", "lots", "not a whole number"),
    ];
    for (text, value, reason) in cases {
        let dir = TempDir::new("queue-bytes-bad-file");
        dir.write(
            "default.yaml",
            &format!("batch:\n  max_queue_bytes: {text}\n"),
        );
        let err = loader(&dir, &[]).load().unwrap_err();
        assert_names(&err, "batch.max_queue_bytes", value, reason);
    }
}

#[test]
fn without_a_count_cap_any_batch_size_is_valid() {
    let config = load(&[("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096")]);
    assert_eq!(config.batch.max_export_batch_size, 4096);
    assert_eq!(config.batch.max_queue_size, None);
    // With one, the batch must still fit in it.
    let err = load_err(&[
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "2048"),
    ]);
    assert_names(
        &err,
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "4096",
        "must be at most OTEL_BSP_MAX_QUEUE_SIZE (2048)",
    );
}

// ------------------------------------------------------------ OTEL_* variables

type Read = fn(&Config) -> String;

/// Every standard variable, a value for it, and what the config then holds.
const EACH_OTEL_VARIABLE: &[(&str, &str, Read, &str)] = &[
    (
        "OTEL_SERVICE_NAME",
        "checkout",
        |c| format!("{:?}", c.service_name),
        "Some(\"checkout\")",
    ),
    (
        "OTEL_SDK_DISABLED",
        "TRUE",
        |c| c.disabled.to_string(),
        "true",
    ),
    (
        "OTEL_TRACES_EXPORTER",
        "none",
        |c| c.exporter.kind.to_string(),
        "none",
    ),
    (
        "OTEL_LOGS_EXPORTER",
        "Console",
        |c| c.logs.exporter.kind.to_string(),
        "console",
    ),
    (
        "OTEL_METRICS_EXPORTER",
        "none",
        |c| c.metrics.exporter.kind.to_string(),
        "none",
    ),
    (
        "OTEL_RESOURCE_ATTRIBUTES",
        "a=1,b=2",
        |c| format!("{:?}", c.resource_attributes),
        "[(\"a\", \"1\"), (\"b\", \"2\")]",
    ),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "http://c:4318",
        |c| format!("{:?}", c.exporter.endpoint),
        "Some(\"http://c:4318\")",
    ),
    (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "http://c:4318/x",
        |c| format!("{:?}", c.exporter.traces_endpoint),
        "Some(\"http://c:4318/x\")",
    ),
    (
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "GRPC",
        |c| c.exporter.protocol.to_string(),
        "grpc",
    ),
    (
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "http/json",
        |c| c.exporter.protocol.to_string(),
        "http/json",
    ),
    (
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "2500",
        |c| format!("{:?}", c.exporter.timeout),
        "2.5s",
    ),
    (
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "Gzip",
        |c| c.exporter.compression.to_string(),
        "gzip",
    ),
    (
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "zstd",
        |c| c.exporter.compression.to_string(),
        "zstd",
    ),
    (
        "OTEL_EXPORTER_OTLP_HEADERS",
        "a=1",
        |c| format!("{:?}", headers(&c.exporter)),
        "[(\"a\", \"1\")]",
    ),
    (
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "/ca.pem",
        |c| format!("{:?}", c.exporter.tls.ca_certificate),
        "Some(\"/ca.pem\")",
    ),
    (
        "OTEL_EXPORTER_OTLP_INSECURE",
        "true",
        |c| format!("{:?}", c.exporter.tls.insecure),
        "Some(true)",
    ),
    (
        "OTEL_EXPORTER_OTLP_INSECURE",
        "FALSE",
        |c| format!("{:?}", c.exporter.tls.insecure),
        "Some(false)",
    ),
    (
        "OTEL_BSP_SCHEDULE_DELAY",
        "250",
        |c| format!("{:?}", c.batch.scheduled_delay),
        "250ms",
    ),
    (
        "OTEL_BSP_EXPORT_TIMEOUT",
        "1000",
        |c| format!("{:?}", c.batch.export_timeout),
        "1s",
    ),
    (
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "4096",
        |c| format!("{:?}", c.batch.max_queue_size),
        "Some(4096)",
    ),
    (
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "1024",
        |c| c.batch.max_export_batch_size.to_string(),
        "1024",
    ),
];

#[test]
fn each_otel_variable_sets_its_setting() {
    for (var, value, read, expected) in EACH_OTEL_VARIABLE {
        let config = load(&[(var, value)]);
        assert_eq!(read(&config), *expected, "{var}={value}");
        assert_ne!(
            read(&Config::default()),
            *expected,
            "{var}: the test must change something"
        );
    }
}

#[cfg(feature = "toml")]
#[test]
fn default_valued_variables_override_a_file() {
    let dir = TempDir::new("default-valued");
    dir.write(
        "default.toml",
        "[service]\ndisabled = true\n[exporter]\nprotocol = \"grpc\"\ncompression = \"gzip\"\n",
    );
    let env = [
        ("OTEL_SDK_DISABLED", "false"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "HTTP/PROTOBUF"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
    ];
    let from_file = loader(&dir, &[]).load().unwrap();
    assert!(from_file.disabled);
    let config = loader(&dir, &env).load().unwrap();
    assert!(!config.disabled);
    assert_eq!(config.exporter.protocol, Protocol::HttpProtobuf);
    assert_eq!(config.exporter.compression, Compression::None);
}

#[test]
fn each_client_tls_variable_sets_its_path() {
    let config = load(&[
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/client.pem"),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/client.key"),
    ]);
    assert_eq!(
        config.exporter.tls.client_certificate,
        Some(PathBuf::from("/client.pem"))
    );
    assert_eq!(
        config.exporter.tls.client_key,
        Some(PathBuf::from("/client.key"))
    );
}

/// `OTEL_EXPORTER_OTLP_X` suffixes, a generic and a traces value, and the field.
const TRACES_VARIANTS: &[(&str, &str, &str, Read)] = &[
    ("PROTOCOL", "grpc", "http/json", |c| {
        c.exporter.protocol.to_string()
    }),
    ("TIMEOUT", "1000", "2000", |c| {
        c.exporter.timeout.as_millis().to_string()
    }),
    ("COMPRESSION", "gzip", "zstd", |c| {
        c.exporter.compression.to_string()
    }),
    ("HEADERS", "a=generic", "a=traces", |c| {
        let entries: Vec<String> = headers(&c.exporter)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        entries.join(",")
    }),
    ("CERTIFICATE", "generic", "traces", |c| {
        format!("{:?}", c.exporter.tls.ca_certificate)
    }),
    ("CLIENT_CERTIFICATE", "generic", "traces", |c| {
        format!("{:?}", c.exporter.tls.client_certificate)
    }),
    ("CLIENT_KEY", "generic", "traces", |c| {
        format!("{:?}", c.exporter.tls.client_key)
    }),
    ("INSECURE", "true", "false", |c| {
        format!("{:?}", c.exporter.tls.insecure)
    }),
];

#[test]
fn each_traces_variant_wins_over_the_generic_variable() {
    for (suffix, generic, traces, read) in TRACES_VARIANTS {
        let generic_var = format!("OTEL_EXPORTER_OTLP_{suffix}");
        let traces_var = format!("OTEL_EXPORTER_OTLP_TRACES_{suffix}");
        // mTLS needs both files: an override completes the pair (for logs
        // and metrics, whose own files keep their pairs complete without the
        // generic one).
        let mut env: Vec<(&str, &str)> = match *suffix {
            "CLIENT_CERTIFICATE" => vec![
                ("OTLP__EXPORTER__CLIENT_KEY", "/c.key"),
                ("OTLP__LOGS__EXPORTER__CLIENT_CERTIFICATE", "/l.pem"),
                ("OTLP__METRICS__EXPORTER__CLIENT_CERTIFICATE", "/m.pem"),
            ],
            "CLIENT_KEY" => vec![
                ("OTLP__EXPORTER__CLIENT_CERTIFICATE", "/c.pem"),
                ("OTLP__LOGS__EXPORTER__CLIENT_KEY", "/l.key"),
                ("OTLP__METRICS__EXPORTER__CLIENT_KEY", "/m.key"),
            ],
            _ => Vec::new(),
        };
        env.push((&generic_var, generic));
        let generic_only = read(&load(&env));
        env.push((&traces_var, traces));
        let with_traces = read(&load(&env));
        let traces_only = read(&load(
            &[&env[..env.len() - 2], &env[env.len() - 1..]].concat(),
        ));
        assert!(generic_only.contains(generic), "{suffix}: {generic_only}");
        assert!(with_traces.contains(traces), "{suffix}: {with_traces}");
        assert_eq!(with_traces, traces_only, "{suffix}");
        assert_ne!(generic_only, with_traces, "{suffix}");
    }
}

#[test]
fn traces_headers_replace_the_generic_ones() {
    let config = load(&[
        ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=generic,B=2"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=3,c=4"),
    ]);
    assert_eq!(
        headers(&config.exporter),
        pairs(&[("b", "3"), ("c", "4")]),
        "the generic credential does not reach the traces backend"
    );
    let generic_only = load(&[("OTEL_EXPORTER_OTLP_HEADERS", "a=1")]);
    assert_eq!(headers(&generic_only.exporter), pairs(&[("a", "1")]));
}

#[test]
fn header_values_are_percent_decoded_and_keys_trimmed() {
    let config = load(&[(
        "OTEL_EXPORTER_OTLP_HEADERS",
        " Authorization = Basic%20dXNlcjpwYXNz%3D%3D , x-list=a%2Cb ,x-plus=a+b",
    )]);
    assert_eq!(
        headers(&config.exporter),
        pairs(&[
            ("Authorization", "Basic dXNlcjpwYXNz=="),
            ("x-list", "a,b"),
            ("x-plus", "a+b")
        ])
    );
}

#[test]
fn resource_attributes_are_percent_decoded_and_deduplicated() {
    let config = load(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "deployment.environment=prod, team=a%2Cb ,k%3D1=v%3D2,team=c,note=caf%C3%A9",
    )]);
    assert_eq!(
        config.resource_attributes,
        pairs(&[
            ("deployment.environment", "prod"),
            ("team", "c"),
            ("k=1", "v=2"),
            ("note", "café")
        ])
    );
}

#[cfg(feature = "yaml")]
#[test]
fn one_bad_attribute_discards_the_whole_variable() {
    let dir = TempDir::new("attrs-discard");
    dir.write(
        "default.yaml",
        "resource:\n  attributes:\n    from-file: kept\n",
    );
    let env = [("OTEL_RESOURCE_ATTRIBUTES", "good=1,bad%zz=2")];

    let err = loader(&dir, &env).load().unwrap_err();
    assert_names(
        &err,
        "OTEL_RESOURCE_ATTRIBUTES",
        "good=1,bad%zz=2",
        "entry 2",
    );

    let (config, warnings) = loader(&dir, &env).lenient().load_with_warnings().unwrap();
    assert_eq!(
        config.resource_attributes,
        pairs(&[("from-file", "kept")]),
        "good=1 is dropped too"
    );
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].0, err);
}

#[test]
fn the_sampler_variables_name_the_specifications_samplers() {
    use otlp_sdk::Sampler;
    let sampler = |env: &[(&str, &str)]| load(env).sampler.sampler();
    assert_eq!(sampler(&[]), None, "unset: the provider's own");
    assert_eq!(
        sampler(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ]),
        Some(Sampler::parent_based(Sampler::TraceIdRatio(0.25)))
    );
    assert_eq!(
        sampler(&[("OTEL_TRACES_SAMPLER", "TraceIdRatio")]),
        Some(Sampler::TraceIdRatio(1.0)),
        "any case; the ratio is 1 without an argument"
    );
    assert_eq!(
        sampler(&[
            ("OTEL_TRACES_SAMPLER", "always_off"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
        ]),
        Some(Sampler::AlwaysOff),
        "the argument is the ratio samplers' only"
    );
    assert_eq!(
        sampler(&[
            ("OTLP__SAMPLER__NAME", "parentbased_always_off"),
            ("OTLP__SAMPLER__ARG", "0.5"),
        ]),
        Some(Sampler::parent_based(Sampler::AlwaysOff))
    );
}

#[test]
fn a_bad_sampler_or_ratio_names_the_variable_and_is_ignored_when_lenient() {
    for (var, value, reason) in [
        (
            "OTEL_TRACES_SAMPLER",
            "jaeger_remote",
            "parentbased_traceidratio",
        ),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5", "between 0 and 1"),
        ("OTEL_TRACES_SAMPLER_ARG", "-0.1", "between 0 and 1"),
        ("OTEL_TRACES_SAMPLER_ARG", "half", "not a number"),
    ] {
        let env = [("OTEL_TRACES_SAMPLER", "traceidratio"), (var, value)];
        let err = load_err(&env);
        assert_names(&err, var, value, reason);
        let dir = TempDir::new("sampler-lenient");
        let (config, warnings) = loader(&dir, &env).lenient().load_with_warnings().unwrap();
        assert_eq!(warnings.len(), 1, "{var}={value}");
        assert_eq!(warnings[0].0, err);
        assert_eq!(config.sampler.arg, None, "{var}={value}");
    }
    let mut config = Config::default();
    config.sampler.arg = Some(2.0);
    assert_eq!(
        config.validate().unwrap_err().key(),
        Some("sampler.arg"),
        "a ratio set in code is checked too"
    );
}

#[test]
fn a_sampler_of_the_specification_not_built_here_is_refused_as_such() {
    // The specification names jaeger_remote, parentbased_jaeger_remote and
    // xray for OTEL_TRACES_SAMPLER; this SDK builds none of them. The error
    // says so (as OTEL_PROPAGATORS does for jaeger and xray) instead of
    // treating a known name as a typo, and still lists what is built.
    for value in ["jaeger_remote", "ParentBased_Jaeger_Remote", "XRay"] {
        let env = [("OTEL_TRACES_SAMPLER", value)];
        let err = load_err(&env);
        assert_names(
            &err,
            "OTEL_TRACES_SAMPLER",
            value,
            "is a sampler of the specification that this SDK does not build",
        );
        assert!(
            err.reason().contains("parentbased_traceidratio"),
            "{}",
            err.reason()
        );
        let dir = TempDir::new("sampler-not-built");
        let (config, warnings) = loader(&dir, &env).lenient().load_with_warnings().unwrap();
        assert_eq!(warnings.len(), 1, "{value}");
        assert_eq!(warnings[0].0, err);
        assert_eq!(config.sampler.name, None, "the provider's sampler stays");
    }
    let err = load_err(&[("OTEL_TRACES_SAMPLER", "jaeger")]);
    assert!(
        !err.reason().contains("does not build"),
        "an unknown name is not called one of the specification's: {}",
        err.reason()
    );
}

#[test]
fn a_missing_mtls_half_is_named_by_the_variables_that_set_it() {
    // Set by no source, the missing half was named by its file key alone
    // (`mTLS needs exporter.client_certificate too`), a key a user of the
    // standard variables never wrote; the exporters' TLS errors name the
    // variables too (`TlsFile::setting`).
    let err = load_err(&[("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/client.key")]);
    assert_names(
        &err,
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        "<redacted>",
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    );
    assert!(
        err.reason()
            .contains(TlsFile::ClientCertificate.setting(Signal::Traces)),
        "{}",
        err.reason()
    );
    let err = load_err(&[("OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE", "/logs.pem")]);
    assert!(
        err.reason().contains(
            "logs.exporter.client_key (OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY or \
             OTEL_EXPORTER_OTLP_CLIENT_KEY)"
        ),
        "{}",
        err.reason()
    );
}

#[test]
fn a_grpc_endpoint_with_a_query_is_refused_naming_the_variable() {
    // The gRPC exporter refuses a query ("a gRPC endpoint has no query"),
    // naming neither the key nor the variable; loading took it.
    let value = "http://collector:4317?token=abc";
    let err = load_err(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", value),
    ]);
    assert_names(
        &err,
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        value,
        "a gRPC endpoint has no query",
    );
    let value = "http://logs:4317/?x=1";
    let err = load_err(&[
        ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", value),
    ]);
    assert_names(
        &err,
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        value,
        "a gRPC endpoint has no query",
    );
    // An HTTP signal's own URL is used as given, its query included.
    let config = load(&[(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "http://c:4318/v1/traces?x=1",
    )]);
    assert_eq!(
        config.exporter.traces_endpoint(),
        "http://c:4318/v1/traces?x=1"
    );
}

#[test]
fn a_host_the_exporters_refuse_is_refused_naming_the_variable() {
    // Each loaded, and the exporter's build then refused it ("invalid
    // international domain name", "invalid IPv4 address", "invalid uri
    // character"), naming neither the key nor the variable.
    for (protocol, value, reason) in [
        ("http/protobuf", "http://a|b:4318", "holds '|'"),
        ("http/protobuf", "http://a%20b:4318", "holds ' '"),
        (
            "http/protobuf",
            "http://a%zz:4318",
            "invalid percent-encoding",
        ),
        ("http/protobuf", "http://999.1.1.1:4318", "not a valid one"),
        ("http/protobuf", "http://[zz]:4318", "not an IPv6 address"),
        ("grpc", "http://c\u{e9}:4317", "not ASCII"),
        ("grpc", "[fe80::1%25eth0]:4317", "not an IPv6 address"),
    ] {
        let err = load_err(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", value),
        ]);
        assert_names(&err, "OTEL_EXPORTER_OTLP_ENDPOINT", value, reason);
    }
    // What the exporters take still loads: names with `_`, a trailing dot,
    // the short IPv4 forms, IPv6, an international name over HTTP.
    for (protocol, value) in [
        ("http/protobuf", "http://otel_collector.svc.:4318"),
        ("http/protobuf", "http://1.2.3:4318"),
        ("http/protobuf", "http://0x7f.1:4318"),
        ("http/protobuf", "http://[::ffff:10.0.0.1]:4318"),
        ("http/protobuf", "http://c\u{e9}:4318"),
        ("grpc", "collector-1:4317"),
    ] {
        load(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", value),
        ]);
    }
}

#[test]
fn an_argument_the_sampler_does_not_use_is_ignored_with_a_warning() {
    // The specification: OTEL_TRACES_SAMPLER_ARG is the ratio samplers'
    // probability; the other samplers have no argument, so a value meant
    // for another sampler (or left over) cannot fail the load.
    use otlp_sdk::Sampler;
    /// Variables, then the sampler they configure.
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<Sampler>);
    let cases: &[Case<'_>] = &[
        (
            &[
                ("OTEL_TRACES_SAMPLER", "always_on"),
                ("OTEL_TRACES_SAMPLER_ARG", "garbage"),
            ],
            Some(Sampler::AlwaysOn),
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "parentbased_always_off"),
                ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
            ],
            Some(Sampler::parent_based(Sampler::AlwaysOff)),
        ),
        // No sampler named: the provider's own, which takes no argument.
        (&[("OTEL_TRACES_SAMPLER_ARG", "-1")], None),
        (
            &[
                ("OTLP__SAMPLER__NAME", "always_off"),
                ("OTLP__SAMPLER__ARG", "half"),
            ],
            Some(Sampler::AlwaysOff),
        ),
    ];
    for (env, sampler) in cases {
        let dir = TempDir::new("unused-sampler-arg");
        for lenient in [false, true] {
            let mut l = loader(&dir, env);
            if lenient {
                l = l.lenient();
            }
            let (config, warnings) = l.load_with_warnings().unwrap_or_else(|err| {
                panic!("{env:?} (lenient: {lenient}): {err}");
            });
            assert_eq!(config.sampler.sampler(), *sampler, "{env:?}");
            assert_eq!(config.sampler.arg, None, "{env:?}");
            assert_eq!(warnings.len(), 1, "{env:?} (lenient: {lenient})");
            let key = env.last().map(|(name, _)| *name);
            assert_eq!(warnings[0].0.key(), key, "{}", warnings[0]);
            assert!(warnings[0].0.reason().contains("unused"), "{}", warnings[0]);
        }
    }
    // A ratio sampler still refuses a bad argument, and a file's even when lenient.
    let ratio = [
        ("OTLP__SAMPLER__NAME", "traceidratio"),
        ("OTLP__SAMPLER__ARG", "half"),
    ];
    let dir = TempDir::new("used-sampler-arg");
    let err = loader(&dir, &ratio).lenient().load().unwrap_err();
    assert_names(&err, "OTLP__SAMPLER__ARG", "half", "not a number");
}

#[test]
fn an_unused_argument_of_a_refused_sampler_says_the_sampler_was_refused() {
    // Lenient loading ignores a refused OTEL_TRACES_SAMPLER with a warning of
    // its own; the warning for a bad argument then said "no sampler is
    // named", though one was: it was refused. (jaeger_remote's own argument,
    // `endpoint=…,pollingIntervalMs=…`, is no ratio, so its users meet this.)
    for sampler in ["bogus", "jaeger_remote", "XRay"] {
        for arg in ["endpoint=http://localhost:14250", "1.5"] {
            let env = [
                ("OTEL_TRACES_SAMPLER", sampler),
                ("OTEL_TRACES_SAMPLER_ARG", arg),
            ];
            let dir = TempDir::new("refused-sampler-arg");
            let (config, warnings) = loader(&dir, &env).lenient().load_with_warnings().unwrap();
            assert_eq!(config.sampler, SamplerConfig::default(), "{env:?}");
            assert_eq!(warnings.len(), 2, "{env:?}: {warnings:?}");
            assert_eq!(warnings[0].0.key(), Some("OTEL_TRACES_SAMPLER"));
            let unused = &warnings[1].0;
            assert_eq!(unused.key(), Some("OTEL_TRACES_SAMPLER_ARG"), "{unused}");
            assert_eq!(unused.value(), Some(arg), "{unused}");
            let reason = unused.reason();
            assert!(!reason.contains("no sampler is named"), "{reason}");
            assert!(
                reason.contains(&format!("unused: the sampler {sampler:?} was refused")),
                "{reason}"
            );
            // Strict loading still fails on the sampler, as before.
            let err = load_err(&env);
            assert_eq!(err.key(), Some("OTEL_TRACES_SAMPLER"), "{err}");
            assert_eq!(err.value(), Some(sampler), "{err}");
        }
        // A valid argument is unused too, and silent, as with any sampler
        // that takes none: the one warning is the sampler's, which is true.
        let env = [
            ("OTEL_TRACES_SAMPLER", sampler),
            ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
        ];
        let dir = TempDir::new("refused-sampler-good-arg");
        let (config, warnings) = loader(&dir, &env).lenient().load_with_warnings().unwrap();
        assert_eq!(
            config.sampler.sampler(),
            None,
            "the provider's sampler stays"
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].0.key(), Some("OTEL_TRACES_SAMPLER"));
        assert_eq!(load_err(&env).key(), Some("OTEL_TRACES_SAMPLER"));
    }
    // A sampler accepted after the refused one is the one that is used,
    // and the one the warning names.
    let env = [
        ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
        ("OTEL_TRACES_SAMPLER_ARG", "half"),
        ("OTLP__SAMPLER__NAME", "always_off"),
    ];
    let dir = TempDir::new("refused-then-named-sampler");
    let (config, warnings) = loader(&dir, &env).lenient().load_with_warnings().unwrap();
    assert_eq!(config.sampler.name, Some(SamplerName::AlwaysOff));
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let reason = warnings[1].0.reason();
    assert!(
        reason.contains("unused: the sampler always_off takes no argument"),
        "{reason}"
    );
    assert!(!reason.contains("refused"), "{reason}");
}

/// A file names a sampler, the environment one that is refused: lenient
/// loading keeps the file's, and the argument's warning names both.
#[cfg(feature = "toml")]
#[test]
fn an_unused_argument_after_a_refused_sampler_names_the_one_kept_too() {
    let dir = TempDir::new("refused-sampler-kept");
    dir.write("default.toml", "[sampler]\nname = \"always_on\"\n");
    let env = [
        ("OTEL_TRACES_SAMPLER", "xray"),
        ("OTEL_TRACES_SAMPLER_ARG", "half"),
    ];
    let (config, warnings) = loader(&dir, &env).lenient().load_with_warnings().unwrap();
    assert_eq!(config.sampler.name, Some(SamplerName::AlwaysOn));
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let reason = warnings[1].0.reason();
    assert!(
        reason.contains("unused: the sampler \"xray\" was refused"),
        "{reason}"
    );
    assert!(reason.contains("always_on"), "{reason}");
    assert_eq!(
        loader(&dir, &env).load().unwrap_err().key(),
        Some("OTEL_TRACES_SAMPLER")
    );
}

#[test]
fn each_signal_exporter_variable_reaches_its_signal_only() {
    let kinds = |config: &Config| {
        [Signal::Traces, Signal::Logs, Signal::Metrics]
            .map(|signal| (config.exporter_for(signal).kind, config.is_disabled(signal)))
    };
    let (otlp, console, none) = (
        ExporterKind::Otlp,
        ExporterKind::Console,
        ExporterKind::None,
    );
    assert_eq!(
        kinds(&load(&[])),
        [(otlp, false), (otlp, false), (otlp, false)],
        "OTLP for every signal by default"
    );
    assert_eq!(
        kinds(&load(&[("OTEL_TRACES_EXPORTER", "none")])),
        [(none, true), (otlp, false), (otlp, false)]
    );
    assert_eq!(
        kinds(&load(&[("OTEL_LOGS_EXPORTER", "none")])),
        [(otlp, false), (none, true), (otlp, false)]
    );
    assert_eq!(
        kinds(&load(&[
            ("OTEL_METRICS_EXPORTER", "NONE"),
            ("OTEL_TRACES_EXPORTER", "console"),
        ])),
        [(console, false), (otlp, false), (none, true)]
    );
    // The generic key reaches every signal; a signal's own value wins.
    assert_eq!(
        kinds(&load(&[
            ("OTLP__EXPORTER__KIND", "none"),
            ("OTLP__LOGS__EXPORTER__KIND", "otlp"),
        ])),
        [(none, true), (otlp, false), (none, true)]
    );
    assert_eq!(
        kinds(&load(&[
            ("OTLP__EXPORTER__KIND", "none"),
            ("OTEL_TRACES_EXPORTER", "otlp"),
        ])),
        [(otlp, false), (none, true), (none, true)]
    );
    // OTEL_SDK_DISABLED turns every signal off, whatever its exporter.
    let disabled = load(&[("OTEL_SDK_DISABLED", "true")]);
    assert_eq!(kinds(&disabled), [(otlp, true), (otlp, true), (otlp, true)]);
}

#[test]
fn an_exporter_kind_this_sdk_does_not_build_names_the_variable() {
    for (var, value) in [
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_TRACES_EXPORTER", "otlp,console"),
        ("OTEL_LOGS_EXPORTER", "logging"),
        ("OTEL_METRICS_EXPORTER", "prometheus"),
    ] {
        let env = [(var, value)];
        let err = load_err(&env);
        assert_names(&err, var, value, "otlp, console, none");
        let dir = TempDir::new("exporter-kind-lenient");
        let (config, warnings) = loader(&dir, &env).lenient().load_with_warnings().unwrap();
        assert_eq!(warnings.len(), 1, "{var}={value}");
        assert_eq!(warnings[0].0, err);
        assert_eq!(config, Config::default(), "{var}={value} is ignored");
    }
}

#[test]
fn a_list_of_exporters_is_refused_as_a_list() {
    for (var, value) in [
        ("OTEL_TRACES_EXPORTER", "otlp,console"),
        ("OTEL_LOGS_EXPORTER", "console, otlp"),
        ("OTLP__METRICS__EXPORTER__KIND", "none,otlp"),
    ] {
        let err = load_err(&[(var, value)]);
        assert_names(
            &err,
            var,
            value,
            "one exporter per signal, not a list: expected one of otlp, console, none",
        );
    }
    // A single unknown name is not called a list.
    let err = load_err(&[("OTEL_TRACES_EXPORTER", "zipkin")]);
    assert_eq!(err.reason(), "expected one of otlp, console, none");
}

#[test]
fn otel_service_name_wins_over_the_service_name_attribute() {
    let both = load(&[
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attributes,a=1",
        ),
        ("OTEL_SERVICE_NAME", "from-variable"),
    ]);
    assert_eq!(both.service_name.as_deref(), Some("from-variable"));
    assert_eq!(both.resource_attributes, pairs(&[("a", "1")]));

    let attribute_only = load(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes")]);
    assert_eq!(
        attribute_only.service_name.as_deref(),
        Some("from-attributes")
    );
    assert!(attribute_only.resource_attributes.is_empty());
}

#[test]
fn a_blank_service_name_attribute_sets_no_service_name() {
    // Blank means unset, as for `OTEL_SERVICE_NAME`: not a load failure.
    let config = load(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=,team=a")]);
    assert_eq!(config.service_name, None);
    assert_eq!(config.resource_attributes, pairs(&[("team", "a")]));
    let config = load(&[
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=%20"),
        ("OTEL_SERVICE_NAME", "from-variable"),
    ]);
    assert_eq!(config.service_name.as_deref(), Some("from-variable"));
}

#[cfg(feature = "toml")]
#[test]
fn a_blank_service_name_attribute_keeps_an_earlier_file_name() {
    let dir = TempDir::new("service-name-blank-attr");
    dir.write("default.toml", "[service]\nname = \"file\"\n");
    let config = loader(&dir, &[("OTEL_RESOURCE_ATTRIBUTES", "service.name= ")])
        .load()
        .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("file"));
}

#[cfg(feature = "toml")]
#[test]
fn a_later_service_name_attribute_beats_an_earlier_file_name() {
    let dir = TempDir::new("service-name-attr");
    dir.write("default.toml", "[service]\nname = \"file\"\n");
    let config = loader(&dir, &[("OTEL_RESOURCE_ATTRIBUTES", "service.name=env")])
        .load()
        .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("env"));
}

#[test]
fn effective_service_name_falls_back_to_the_attribute() {
    let mut config = Config::default();
    config
        .resource_attributes
        .push(("service.name".into(), "attr".into()));
    assert_eq!(config.effective_service_name(), Some("attr"));
    config.service_name = Some("field".into());
    assert_eq!(config.effective_service_name(), Some("field"));
}

#[test]
fn only_true_disables_the_sdk() {
    for value in ["true", "True", "TRUE", " true "] {
        assert!(load(&[("OTEL_SDK_DISABLED", value)]).disabled, "{value:?}");
    }
    for value in ["false", "FALSE", ""] {
        assert!(!load(&[("OTEL_SDK_DISABLED", value)]).disabled, "{value:?}");
    }
    let err = load_err(&[("OTEL_SDK_DISABLED", "yes")]);
    assert_names(&err, "OTEL_SDK_DISABLED", "yes", "only \"true\"");
}

#[cfg(feature = "yaml")]
#[test]
fn a_bad_boolean_reads_as_false_when_lenient() {
    let dir = TempDir::new("lenient-bool");
    dir.write(
        "default.yaml",
        "service:\n  disabled: true\nexporter:\n  insecure: true\n",
    );
    let env = [
        ("OTEL_SDK_DISABLED", "1"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "yes"),
    ];
    let (config, warnings) = loader(&dir, &env).lenient().load_with_warnings().unwrap();
    assert!(
        !config.disabled,
        "the specification: any other value is false"
    );
    assert_eq!(config.exporter.tls.insecure, Some(false));
    let keys: Vec<_> = warnings
        .iter()
        .map(|w| w.0.key().unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_INSECURE"]);
}

#[test]
fn a_lenient_warning_names_the_value_used_when_the_rejected_one_was_replaced() {
    let env = [
        ("OTEL_SDK_DISABLED", "1"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096"),
        ("OTLP__BATCH__MAX_QUEUE_SIZE", "2048"),
        ("OTEL_BSP_SCHEDULE_DELAY", "soon"),
    ];
    let dir = TempDir::new("lenient-replaced");
    let (config, warnings) = loader(&dir, &env).lenient().load_with_warnings().unwrap();
    assert!(!config.disabled);
    assert_eq!(config.batch.max_export_batch_size, 2048);
    let shown: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "replaced: invalid value \"1\" for OTEL_SDK_DISABLED (from environment): \
             expected true or false (only \"true\", in any case, means true); false is used instead",
            "ignored: invalid value \"soon\" for OTEL_BSP_SCHEDULE_DELAY (from environment): \
             expected whole milliseconds",
            "replaced: invalid value \"4096\" for OTEL_BSP_MAX_EXPORT_BATCH_SIZE (from environment): \
             must be at most OTLP__BATCH__MAX_QUEUE_SIZE (2048); 2048 is used instead",
        ]
    );
}

#[test]
fn timeout_zero_means_no_limit() {
    let config = load(&[
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "0"),
    ]);
    let no_limit = Duration::from_millis(i32::MAX as u64);
    assert_eq!(config.exporter.timeout, no_limit);
    assert_eq!(config.batch.export_timeout, no_limit);
}

// -------------------------------------------------------- the endpoint rule

fn exporter(protocol: Protocol, endpoint: Option<&str>, traces: Option<&str>) -> ExporterConfig {
    ExporterConfig {
        protocol,
        endpoint: endpoint.map(str::to_owned),
        traces_endpoint: traces.map(str::to_owned),
        ..ExporterConfig::default()
    }
}

#[test]
fn a_generic_http_endpoint_gets_v1_traces_with_exactly_one_slash() {
    let http = Protocol::HttpProtobuf;
    for (endpoint, expected) in [
        ("http://c:4318", "http://c:4318/v1/traces"),
        ("http://c:4318/", "http://c:4318/v1/traces"),
        ("https://c/base", "https://c/base/v1/traces"),
        ("https://c/base/", "https://c/base/v1/traces"),
    ] {
        assert_eq!(
            exporter(http, Some(endpoint), None).traces_endpoint(),
            expected
        );
        assert_eq!(
            exporter(Protocol::HttpJson, Some(endpoint), None).traces_endpoint(),
            expected
        );
    }
}

#[test]
fn a_traces_endpoint_is_used_as_given_and_wins() {
    let http = Protocol::HttpProtobuf;
    for url in [
        "http://c:4318",
        "http://c:4318/",
        "https://c/custom/path?x=1",
    ] {
        assert_eq!(
            exporter(http, Some("http://other:4318"), Some(url)).traces_endpoint(),
            url
        );
    }
}

#[test]
fn defaults_follow_the_protocol() {
    assert_eq!(
        exporter(Protocol::HttpProtobuf, None, None).traces_endpoint(),
        "http://localhost:4318/v1/traces"
    );
    assert_eq!(
        exporter(Protocol::HttpJson, None, None).traces_endpoint(),
        "http://localhost:4318/v1/traces"
    );
    assert_eq!(
        exporter(Protocol::Grpc, None, None).traces_endpoint(),
        "http://localhost:4317"
    );
}

#[test]
fn grpc_endpoints_get_no_path_and_a_scheme_from_insecure() {
    let grpc = |endpoint: &str, insecure: Option<bool>| {
        let mut e = exporter(Protocol::Grpc, Some(endpoint), None);
        e.tls.insecure = insecure;
        e.traces_endpoint()
    };
    assert_eq!(grpc("https://c:4317", None), "https://c:4317");
    assert_eq!(grpc("c:4317", None), "https://c:4317");
    assert_eq!(grpc("c:4317", Some(false)), "https://c:4317");
    assert_eq!(grpc("c:4317", Some(true)), "http://c:4317");
    assert_eq!(
        grpc("https://c:4317", Some(true)),
        "https://c:4317",
        "the scheme wins"
    );
    let mut traces = exporter(Protocol::Grpc, None, Some("c:4317"));
    traces.tls.insecure = Some(true);
    assert_eq!(traces.traces_endpoint(), "http://c:4317");
}

#[test]
fn env_endpoints_flow_through_the_rule() {
    let config = load(&[(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "https://collector:4318/otlp/",
    )]);
    assert_eq!(
        config.exporter.traces_endpoint(),
        "https://collector:4318/otlp/v1/traces"
    );
    let config = load(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
    ]);
    assert_eq!(config.exporter.traces_endpoint(), "http://collector:4317");
}

#[test]
fn an_endpoint_with_an_empty_port_means_the_schemes_default_port() {
    // RFC 3986 (3.2.3) and the WHATWG URL standard: `host:` with no digits
    // is the scheme's default port; both exporters' URL parsers read it so.
    let config = load(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:")]);
    assert_eq!(
        config.exporter.traces_endpoint(),
        "http://collector:/v1/traces"
    );
    let config = load(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://[::1]:/v1/traces",
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "http://user:pw@logs:/v1/logs",
        ),
    ]);
    assert_eq!(
        config.exporter.traces_endpoint(),
        "https://[::1]:/v1/traces"
    );
    assert_eq!(
        config.logs.exporter.endpoint_for(Signal::Logs),
        "http://user:pw@logs:/v1/logs"
    );
    let config = load(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]);
    assert_eq!(config.exporter.traces_endpoint(), "https://collector:");
    // A port that is there must still be a port.
    let err = load_err(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:http")]);
    assert!(err.reason().contains("port \"http\""), "{err}");
}

// ------------------------------------------------------------ invalid values

/// Standard variables whose bad value the specification says to warn about and ignore.
const REJECTED_OTEL_VALUES: &[(&str, &str, &str)] = &[
    ("OTEL_SDK_DISABLED", "yes", "only \"true\""),
    (
        "OTEL_RESOURCE_ATTRIBUTES",
        "a=1,b",
        "entry 2 (\"b\") is not key=value",
    ),
    ("OTEL_RESOURCE_ATTRIBUTES", "=x", "empty key"),
    (
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "http",
        "expected one of grpc, http/protobuf, http/json",
    ),
    (
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "udp",
        "expected one of grpc, http/protobuf, http/json",
    ),
    (
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "brotli",
        "expected one of gzip, none, zstd",
    ),
    (
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "lz4",
        "expected one of gzip, none, zstd",
    ),
    (
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "10s",
        "expected whole milliseconds",
    ),
    (
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "-5",
        "must not be negative",
    ),
    ("OTEL_EXPORTER_OTLP_INSECURE", "1", "expected true or false"),
    (
        "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
        "no",
        "expected true or false",
    ),
    (
        "OTEL_BSP_SCHEDULE_DELAY",
        "5s",
        "expected whole milliseconds",
    ),
    ("OTEL_BSP_SCHEDULE_DELAY", "-1", "must not be negative"),
    (
        "OTEL_BSP_EXPORT_TIMEOUT",
        "soon",
        "expected whole milliseconds",
    ),
    ("OTEL_BSP_MAX_QUEUE_SIZE", "0", "must be at least 1"),
    ("OTEL_BSP_MAX_QUEUE_SIZE", "-1", "must not be negative"),
    ("OTEL_BSP_MAX_QUEUE_SIZE", "lots", "not a whole number"),
    (
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "1.5",
        "not a whole number",
    ),
    (
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "99999999999999999999999",
        "too large",
    ),
];

#[test]
fn each_rejected_otel_value_is_an_error_naming_key_value_and_reason() {
    for (var, value, reason) in REJECTED_OTEL_VALUES {
        let err = load_err(&[(var, value)]);
        assert_names(&err, var, value, reason);
        assert_eq!(err.origin(), ConfigSource::Env(var.to_string()));
    }
}

#[test]
fn lenient_loading_turns_each_rejected_otel_value_into_a_warning() {
    for (var, value, reason) in REJECTED_OTEL_VALUES {
        let dir = TempDir::new("lenient");
        let (config, warnings) = loader(&dir, &[(var, value)])
            .lenient()
            .load_with_warnings()
            .unwrap();
        let mut expected = Config::default();
        if var.ends_with("INSECURE") {
            expected.exporter.tls.insecure = Some(false); // a bad boolean reads as false
            if !var.contains("_TRACES_") {
                // generic: logs and metrics too
                expected.logs.exporter.tls.insecure = Some(false);
                expected.metrics.exporter.tls.insecure = Some(false);
            }
        }
        assert_eq!(config, expected, "{var}={value} is ignored");
        assert_eq!(warnings.len(), 1, "{var}={value}");
        assert_names(&warnings[0].0, var, value, reason);
        let shown = warnings[0].to_string();
        if var.ends_with("INSECURE") || var.ends_with("DISABLED") {
            // Not ignored: read as false, which may replace an earlier true.
            assert!(shown.starts_with("replaced: "), "{shown}");
            assert!(shown.ends_with("; false is used instead"), "{shown}");
        } else {
            assert!(shown.starts_with("ignored: "), "{shown}");
        }
    }
}

#[cfg(feature = "yaml")]
#[test]
fn lenient_keeps_the_earlier_value_of_an_ignored_variable() {
    let dir = TempDir::new("lenient-keeps");
    dir.write("default.yaml", DEFAULT_YAML);
    let env = [
        ("OTEL_BSP_MAX_QUEUE_SIZE", "-1"),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "brotli"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc-web"),
    ];
    let (config, warnings) = loader(&dir, &env).lenient().load_with_warnings().unwrap();
    assert_eq!(config.batch.max_queue_size, Some(1000));
    assert_eq!(config.exporter.compression, Compression::Gzip);
    assert_eq!(
        config.exporter.protocol,
        Protocol::Grpc,
        "a rejected _TRACES_ variant leaves the generic one"
    );
    assert_eq!(warnings.len(), 3);
    // `load` drops the warnings but still succeeds.
    assert!(loader(&dir, &env).lenient().load().is_ok());
    // Strict, the first rejected variable (in application order) fails the load.
    assert_eq!(
        loader(&dir, &env).load().unwrap_err().key(),
        Some("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
    );
}

#[test]
fn a_zero_schedule_delay_means_export_as_soon_as_records_arrive() {
    // The specification's durations are non-negative integers of
    // milliseconds: 0 is a valid delay (the pipeline then exports what
    // arrives at once, see `BatchConfig::scheduled_delay`).
    let config = load(&[
        ("OTEL_BSP_SCHEDULE_DELAY", "0"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "0"),
    ]);
    assert_eq!(config.batch.scheduled_delay, Duration::ZERO);
    assert_eq!(config.logs.batch.scheduled_delay, Duration::ZERO);
    let config = load(&[("OTLP__LOGS__BATCH__SCHEDULED_DELAY", "0ms")]);
    assert_eq!(config.logs.batch.scheduled_delay, Duration::ZERO);
    let mut config = Config::default();
    config.batch.scheduled_delay = Duration::ZERO;
    assert_eq!(config.validate(), Ok(()));
    // A zero export interval would collect without pause: still refused.
    let err = load_err(&[("OTEL_METRIC_EXPORT_INTERVAL", "0")]);
    assert_names(
        &err,
        "OTEL_METRIC_EXPORT_INTERVAL",
        "0",
        "must be longer than 0",
    );
}

#[test]
fn a_count_cap_below_the_default_batch_size_lowers_that_default() {
    let config = load(&[("OTEL_BSP_MAX_QUEUE_SIZE", "100")]);
    assert_eq!(config.batch.max_queue_size, Some(100));
    assert_eq!(config.batch.max_export_batch_size, 100);
    assert_eq!(
        config.logs.batch.max_export_batch_size, 512,
        "logs keep theirs"
    );
    let above = load(&[("OTEL_BSP_MAX_QUEUE_SIZE", "4096")]);
    assert_eq!(above.batch.max_export_batch_size, 512);
}

#[test]
fn a_count_cap_too_small_for_adaptive_batching_is_named_not_the_default_minimum() {
    // The cap lowers the default batch size (512) to 10, under adaptive
    // batching's default minimum (64): the user set the cap, so the error
    // names it, its value and its variable, not a default nobody set.
    for (queue_key, env) in [
        (
            "OTEL_BSP_MAX_QUEUE_SIZE",
            [
                ("OTLP__BATCH__ADAPTIVE", "true"),
                ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
            ],
        ),
        (
            "OTEL_BLRP_MAX_QUEUE_SIZE",
            [
                ("OTLP__LOGS__BATCH__ADAPTIVE", "true"),
                ("OTEL_BLRP_MAX_QUEUE_SIZE", "10"),
            ],
        ),
    ] {
        let err = load_err(&env);
        assert_eq!(err.key(), Some(queue_key), "{err}");
        assert_eq!(err.value(), Some("10"), "{err}");
        assert_eq!(err.origin(), ConfigSource::Env(queue_key.to_owned()));
        assert!(err.reason().contains("min_export_batch_size (64)"), "{err}");
    }
    // A minimum a source set is still the one named.
    let err = load_err(&[
        ("OTLP__BATCH__ADAPTIVE", "true"),
        ("OTLP__BATCH__MIN_EXPORT_BATCH_SIZE", "32"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
    ]);
    assert_eq!(
        err.key(),
        Some("OTLP__BATCH__MIN_EXPORT_BATCH_SIZE"),
        "{err}"
    );
    // Without adaptive batching the minimum does not matter.
    assert_eq!(
        load(&[("OTEL_BSP_MAX_QUEUE_SIZE", "10")])
            .batch
            .max_export_batch_size,
        10
    );
}

#[test]
fn a_batch_size_lenient_loading_lowered_is_not_named_with_a_value_nobody_gave() {
    // Lenient loading lowers OTEL_BSP_MAX_EXPORT_BATCH_SIZE=512 to the count
    // cap, 10, which is then under adaptive batching's minimum (64): the
    // error names the variable that set 10, the count cap, not the batch
    // size with a value it was never given.
    for (queue_key, env) in [
        (
            "OTEL_BSP_MAX_QUEUE_SIZE",
            [
                ("OTLP__BATCH__ADAPTIVE", "true"),
                ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"),
                ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
            ],
        ),
        (
            "OTEL_BLRP_MAX_QUEUE_SIZE",
            [
                ("OTLP__LOGS__BATCH__ADAPTIVE", "true"),
                ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "512"),
                ("OTEL_BLRP_MAX_QUEUE_SIZE", "10"),
            ],
        ),
    ] {
        let dir = TempDir::new("lenient-adaptive");
        let err = loader(&dir, &env)
            .lenient()
            .load_with_warnings()
            .expect_err("a minimum above the lowered batch size");
        assert_eq!(err.key(), Some(queue_key), "{err}");
        assert_eq!(err.value(), Some("10"), "{err}");
        assert_eq!(err.origin(), ConfigSource::Env(queue_key.to_owned()));
        assert!(err.reason().contains("min_export_batch_size (64)"), "{err}");
    }
}

#[test]
fn lenient_loading_lowers_a_batch_size_above_the_queue_size_to_it_with_a_warning() {
    // The specification: the batch size must be at most the queue size.
    // Strict, that is an error naming both; lenient, where a standard
    // variable set either, the batch size is lowered to the queue size (as
    // the other SDKs do) and the error becomes a warning.
    type Batch = fn(&Config) -> usize;
    /// Variables; the batch size read, its value when lenient; then the key,
    /// value and reason the strict error (the lenient warning) names.
    type Case<'a> = (
        &'a [(&'a str, &'a str)],
        Batch,
        usize,
        &'a str,
        &'a str,
        &'a str,
    );
    let cases: &[Case<'_>] = &[
        (
            &[
                ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
                ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "200"),
            ],
            |c| c.batch.max_export_batch_size,
            100,
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            "200",
            "must be at most OTEL_BSP_MAX_QUEUE_SIZE (100)",
        ),
        (
            &[
                ("OTEL_BLRP_MAX_QUEUE_SIZE", "100"),
                ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "200"),
            ],
            |c| c.logs.batch.max_export_batch_size,
            100,
            "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
            "200",
            "must be at most OTEL_BLRP_MAX_QUEUE_SIZE (100)",
        ),
        (
            &[
                ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096"),
                ("OTLP__BATCH__MAX_QUEUE_SIZE", "2048"),
            ],
            |c| c.batch.max_export_batch_size,
            2048,
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            "4096",
            "must be at most OTLP__BATCH__MAX_QUEUE_SIZE (2048)",
        ),
        (
            &[
                ("OTLP__LOGS__BATCH__MAX_EXPORT_BATCH_SIZE", "600"),
                ("OTEL_BLRP_MAX_QUEUE_SIZE", "300"),
            ],
            |c| c.logs.batch.max_export_batch_size,
            300,
            "OTLP__LOGS__BATCH__MAX_EXPORT_BATCH_SIZE",
            "600",
            "must be at most OTEL_BLRP_MAX_QUEUE_SIZE (300)",
        ),
    ];
    for (env, batch, clamped, key, value, reason) in cases {
        let err = load_err(env);
        assert_names(&err, key, value, reason);
        let dir = TempDir::new("lenient-batch");
        let (config, warnings) = loader(&dir, env)
            .lenient()
            .load_with_warnings()
            .unwrap_or_else(|err| panic!("{env:?}: {err}"));
        assert_eq!(batch(&config), *clamped, "{env:?}");
        assert_eq!(warnings.len(), 1, "{env:?}");
        let warning = &warnings[0].0;
        assert_eq!(
            (warning.key(), warning.value(), warning.reason()),
            (err.key(), err.value(), err.reason()),
            "{env:?}"
        );
        assert_eq!(warning.origin(), err.origin(), "{env:?}");
        assert_eq!(config.validate(), Ok(()), "{env:?}");
    }
}

/// Values that are only wrong in combination or as URLs: errors in both modes.
#[test]
fn checks_on_the_merged_config_are_errors_even_when_lenient() {
    /// Variables, then the key, value and reason the error must name.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        // Both sizes ours (no standard variable): lenient does not clamp.
        (
            &[
                ("OTLP__BATCH__MAX_EXPORT_BATCH_SIZE", "4096"),
                ("OTLP__BATCH__MAX_QUEUE_SIZE", "2048"),
            ],
            "OTLP__BATCH__MAX_EXPORT_BATCH_SIZE",
            "4096",
            "must be at most OTLP__BATCH__MAX_QUEUE_SIZE (2048)",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "collector:4318",
            "must start with http:// or https://",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://c/x")],
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "ftp://c/x",
            "unsupported scheme \"ftp\"",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://",
            "has no host",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318?a=1")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://c:4318?a=1",
            "query or fragment",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/c.pem")],
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            "/c.pem",
            "mTLS needs exporter.client_key (OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY or OTEL_EXPORTER_OTLP_CLIENT_KEY) too",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/c.key")],
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
            "<redacted>",
            "mTLS needs exporter.client_certificate (OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE or OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE) too",
        ),
        (
            &[
                ("OTLP__BATCH__ADAPTIVE", "true"),
                ("OTLP__BATCH__MIN_EXPORT_BATCH_SIZE", "600"),
            ],
            "OTLP__BATCH__MIN_EXPORT_BATCH_SIZE",
            "600",
            "must be at most batch.max_export_batch_size (512)",
        ),
        (
            &[("OTLP__RETRY__MAX_BACKOFF", "10ms")],
            "OTLP__RETRY__MAX_BACKOFF",
            "10ms",
            "must be at least retry.initial_backoff (1000ms)",
        ),
    ];
    for (env, key, value, reason) in cases {
        let dir = TempDir::new("merged");
        for lenient in [false, true] {
            let mut l = loader(&dir, env);
            if lenient {
                l = l.lenient();
            }
            let err = l.load().unwrap_err();
            assert_names(&err, key, value, reason);
        }
    }
}

#[test]
fn grpc_endpoints_without_a_scheme_pass_validation() {
    let config = load(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]);
    assert_eq!(config.exporter.traces_endpoint(), "https://collector:4317");
}

#[test]
fn builder_values_are_validated_with_dotted_keys() {
    type Change = fn(&mut Config);
    let cases: &[(Change, &str, &str, &str)] = &[
        (
            |c| c.batch.max_queue_size = Some(0),
            "batch.max_queue_size",
            "0",
            "must be at least 1",
        ),
        (
            |c| c.batch.max_queue_bytes = 0,
            "batch.max_queue_bytes",
            "0",
            "must be at least 1",
        ),
        (
            |c| c.batch.max_concurrent_exports = 0,
            "batch.max_concurrent_exports",
            "0",
            "must be at least 1",
        ),
        (
            |c| c.batch.export_timeout = Duration::ZERO,
            "batch.export_timeout",
            "0ms",
            "must be longer than 0",
        ),
        (
            |c| c.batch.full_policy = FullPolicy::Block(Duration::ZERO),
            "batch.block_timeout",
            "0ms",
            "must be longer than 0",
        ),
        (
            |c| c.exporter.timeout = Duration::ZERO,
            "exporter.timeout",
            "0ms",
            "must be longer than 0",
        ),
        (
            |c| c.exporter.endpoint = Some("localhost:4318".into()),
            "exporter.endpoint",
            "localhost:4318",
            "must start with http://",
        ),
        (
            |c| c.exporter.endpoint = Some("https://user:pw@h:99999".into()),
            "exporter.endpoint",
            "https://<redacted>@h:99999",
            "port \"99999\"",
        ),
        (
            |c| c.exporter.headers.insert("x-api-key", "a\r\nInjected: 1"),
            "exporter.headers.x-api-key",
            "<redacted>",
            "control character",
        ),
        (
            |c| c.exporter.headers.insert("bad name", "v"),
            "exporter.headers.bad name",
            "<redacted>",
            "not a valid header name",
        ),
        (
            |c| c.exporter.tls.ca_certificate = Some(PathBuf::new()),
            "exporter.certificate",
            "",
            "must not be empty",
        ),
        (
            |c| c.service_name = Some(" ".into()),
            "service.name",
            " ",
            "must not be empty",
        ),
        (
            |c| c.resource_attributes = pairs(&[("a", "1"), ("a", "2")]),
            "resource.attributes.a",
            "2",
            "appears twice",
        ),
        (
            |c| c.retry.multiplier = 0.5,
            "retry.multiplier",
            "0.5",
            "at least 1",
        ),
        (
            |c| c.retry.multiplier = f64::NAN,
            "retry.multiplier",
            "NaN",
            "at least 1",
        ),
        (
            |c| c.retry.randomization_factor = 1.5,
            "retry.randomization_factor",
            "1.5",
            "between 0 and 1",
        ),
        (
            |c| c.retry.initial_backoff = Duration::ZERO,
            "retry.initial_backoff",
            "0ms",
            "must be longer than 0",
        ),
        (
            |c| c.performance.max_request_bytes = 64 * 1024 * 1024 + 1,
            "performance.max_request_bytes",
            "67108865",
            "64 MiB",
        ),
        (
            |c| c.performance.max_request_bytes = 0,
            "performance.max_request_bytes",
            "0",
            "at least 1",
        ),
        (
            |c| c.performance.buffer_pool_size = Some(0),
            "performance.buffer_pool_size",
            "0",
            "at least 1",
        ),
        (
            |c| c.performance.io_threads = 0,
            "performance.io_threads",
            "0",
            "at least 1",
        ),
    ];
    for (change, key, value, reason) in cases {
        let mut config = Config::default();
        change(&mut config);
        let err = config.validate().unwrap_err();
        assert_names(&err, key, value, reason);
        assert_eq!(err.origin(), ConfigSource::Builder);
    }
}

/// A TLS file's path shows in the configuration's own errors as in the
/// exporters' TLS errors (`TlsFile::shown_path`): one rule, for every
/// signal's section. A client key's is redacted (a key pasted where its
/// path goes stays out of the message), a certificate's shown as given;
/// each error names its key.
#[test]
fn tls_paths_show_in_validation_errors_as_in_the_exporters_tls_errors() {
    type Section = fn(&mut Config) -> &mut ExporterConfig;
    type SetPath = fn(&mut TlsConfig, PathBuf);
    let sections: [(Signal, Section); 3] = [
        (Signal::Traces, |c| &mut c.exporter),
        (Signal::Logs, |c| &mut c.logs.exporter),
        (Signal::Metrics, |c| &mut c.metrics.exporter),
    ];
    // Each alone is an error: a blank path, or half of an mTLS pair.
    let files: [(TlsFile, SetPath, &str, &str); 3] = [
        (
            TlsFile::Certificate,
            |tls, path| tls.ca_certificate = Some(path),
            " ",
            " ",
        ),
        (
            TlsFile::ClientCertificate,
            |tls, path| tls.client_certificate = Some(path),
            "/etc/tls/client.pem",
            "/etc/tls/client.pem",
        ),
        (
            TlsFile::ClientKey,
            |tls, path| tls.client_key = Some(path),
            "-----BEGIN PRIVATE KEY----- MIIEvQ",
            "<redacted>",
        ),
    ];
    for (signal, section) in sections {
        for (file, set, path, shown) in files {
            let mut config = Config::default();
            set(&mut section(&mut config).tls, PathBuf::from(path));
            let err = config.validate().unwrap_err();
            let setting = file.setting(signal);
            let key = err.key().unwrap_or_default();
            assert!(
                setting.starts_with(&format!("{key} (")),
                "{setting}: error about {key:?}: {err}"
            );
            assert_eq!(
                err.value(),
                Some(TlsFile::shown_path(setting, Path::new(path)).as_str()),
                "{setting}"
            );
            assert_eq!(err.value(), Some(shown), "{setting}");
            if file == TlsFile::ClientKey {
                assert!(!err.to_string().contains("PRIVATE"), "{err}");
            }
        }
    }
}

/// Accepts every request: a pipeline's exporter, for building one.
struct Accept;

impl otlp_sdk::Exporter for Accept {
    fn encoding(&self) -> otlp_core::encode::Encoding {
        otlp_core::encode::Encoding::Protobuf
    }

    async fn export(&self, _: otlp_sdk::ExportRequest) -> otlp_sdk::ExportOutcome {
        otlp_sdk::ExportOutcome::Success
    }
}

#[test]
fn io_threads_over_the_cap_are_refused_naming_the_key_and_value() {
    // Before: any count was taken, and a pipeline built from it started a
    // runtime of that many threads (usize::MAX panicked in tokio's builder).
    let cap = PerformanceConfig::MAX_IO_THREADS;
    assert_eq!(cap, 256);
    let over = (cap + 1).to_string();
    let reason = "must be at most 256";
    for value in [over.as_str(), "100000", &usize::MAX.to_string()] {
        let var = "OTLP__PERFORMANCE__IO_THREADS";
        let err = load_err(&[(var, value)]);
        assert_names(&err, var, value, reason);
        assert_eq!(err.origin(), ConfigSource::Env(var.to_string()));
    }
    let at_cap = load(&[("OTLP__PERFORMANCE__IO_THREADS", "256")]);
    assert_eq!(at_cap.performance.io_threads, cap);

    let mut config = Config::default();
    config.performance.io_threads = cap + 1;
    let err = config.validate().unwrap_err();
    assert_names(&err, "performance.io_threads", &over, reason);
    assert_eq!(err.origin(), ConfigSource::Builder);

    #[cfg(feature = "yaml")]
    {
        let dir = TempDir::new("io-threads-yaml");
        let path = dir.write("default.yaml", "performance:\n  io_threads: 100000\n");
        let err = loader(&dir, &[]).load().unwrap_err();
        assert_names(&err, "performance.io_threads", "100000", reason);
        assert_eq!(err.origin(), ConfigSource::File(path));
    }

    // A pipeline given the count in code refuses to start, without a thread.
    let performance = PerformanceConfig {
        io_threads: cap + 1,
        ..PerformanceConfig::default()
    };
    let error = otlp_sdk::BatchSpanProcessor::builder(Accept)
        .with_performance_config(performance)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("performance.io_threads") && error.contains(&over) && error.contains(reason),
        "{error}"
    );
}

// ------------------------------------------------------------------- files

#[cfg(feature = "yaml")]
const FULL_YAML: &str = r#"
service:
  name: checkout
  disabled: true
resource:
  attributes:
    deployment.environment: prod
    team: payments
    replicas: 3
sampler:
  name: parentbased_traceidratio
  arg: 0.125
propagation:
  propagators: [b3multi, tracecontext]
exporter:
  endpoint: https://collector.example.com:4318/base/
  traces_endpoint: https://traces.example.com/v1/traces
  protocol: HTTP/JSON
  timeout: 2s
  compression: gzip
  headers:
    x-api-key: s3cr3t
    x-tenant: 42
  certificate: /etc/otlp/ca.pem
  client_certificate: /etc/otlp/client.pem
  client_key: /etc/otlp/client.key
  insecure: false
  kind: Console
batch:
  max_queue_bytes: 1048576
  max_queue_size: 8192
  max_export_batch_size: 1024
  min_export_batch_size: 128
  scheduled_delay: 250ms
  export_timeout: 1m
  max_concurrent_exports: 8
  adaptive: true
  full_policy: block
  block_timeout: 20
retry:
  enabled: false
  initial_backoff: 500ms
  max_backoff: 1h
  multiplier: 2
  randomization_factor: 0.25
performance:
  max_request_bytes: 4194304
  buffer_pool_size: 16
  io_threads: 2
"#;

#[cfg(feature = "toml")]
const FULL_TOML: &str = r#"
[service]
name = "checkout"
disabled = true

[resource.attributes]
"deployment.environment" = "prod"
team = "payments"
replicas = 3

[sampler]
name = "parentbased_traceidratio"
arg = 0.125

[propagation]
propagators = ["b3multi", "tracecontext"]

[exporter]
endpoint = "https://collector.example.com:4318/base/"
traces_endpoint = "https://traces.example.com/v1/traces"
protocol = "HTTP/JSON"
timeout = "2s"
compression = "gzip"
certificate = "/etc/otlp/ca.pem"
client_certificate = "/etc/otlp/client.pem"
client_key = "/etc/otlp/client.key"
insecure = false
kind = "console"
headers = { x-api-key = "s3cr3t", x-tenant = 42 }

[batch]
max_queue_bytes = 1048576
max_queue_size = 8192
max_export_batch_size = 1024
min_export_batch_size = 128
scheduled_delay = "250ms"
export_timeout = "1m"
max_concurrent_exports = 8
adaptive = true
block_timeout = 20
full_policy = "block"

[retry]
enabled = false
initial_backoff = "500ms"
max_backoff = "1h"
multiplier = 2
randomization_factor = 0.25

[performance]
max_request_bytes = 4194304
buffer_pool_size = 16
io_threads = 2
"#;

#[cfg(any(feature = "yaml", feature = "toml"))]
fn full_config() -> Config {
    let exporter = ExporterConfig {
        endpoint: Some("https://collector.example.com:4318/base/".into()),
        traces_endpoint: Some("https://traces.example.com/v1/traces".into()),
        logs_endpoint: None,
        metrics_endpoint: None,
        protocol: Protocol::HttpJson,
        timeout: Duration::from_secs(2),
        compression: Compression::Gzip,
        headers: Headers::from_iter([("x-api-key", "s3cr3t"), ("x-tenant", "42")]),
        tls: TlsConfig {
            ca_certificate: Some("/etc/otlp/ca.pem".into()),
            client_certificate: Some("/etc/otlp/client.pem".into()),
            client_key: Some("/etc/otlp/client.key".into()),
            insecure: Some(false),
        },
        kind: ExporterKind::Console,
    };
    // The generic exporter settings reach logs and metrics too;
    // `traces_endpoint` does not.
    let logs = LogsConfig {
        exporter: ExporterConfig {
            traces_endpoint: None,
            ..exporter.clone()
        },
        batch: BatchConfig::logs_default(),
        durable: None,
    };
    let metrics = MetricsConfig {
        exporter: logs.exporter.clone(),
        ..MetricsConfig::default()
    };
    Config {
        service_name: Some("checkout".into()),
        disabled: true,
        resource_attributes: pairs(&[
            ("deployment.environment", "prod"),
            ("team", "payments"),
            ("replicas", "3"),
        ]),
        sampler: SamplerConfig {
            name: Some(SamplerName::ParentBasedTraceIdRatio),
            arg: Some(0.125),
        },
        propagators: PropagatorsConfig {
            names: vec![PropagatorName::B3Multi, PropagatorName::TraceContext],
        },
        exporter,
        logs,
        metrics,
        batch: BatchConfig {
            max_queue_bytes: 1024 * 1024,
            max_queue_size: Some(8192),
            max_export_batch_size: 1024,
            min_export_batch_size: 128,
            scheduled_delay: Duration::from_millis(250),
            export_timeout: Duration::from_secs(60),
            max_concurrent_exports: 8,
            adaptive: true,
            full_policy: FullPolicy::Block(Duration::from_millis(20)),
        },
        retry: RetryPolicy {
            enabled: false,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(3600),
            multiplier: 2.0,
            randomization_factor: 0.25,
        },
        performance: PerformanceConfig {
            max_request_bytes: 4 * 1024 * 1024,
            buffer_pool_size: Some(16),
            io_threads: 2,
        },
        durable: None,
        limits: LimitsConfig::default(),
    }
}

#[cfg(feature = "yaml")]
#[test]
fn a_yaml_file_sets_every_key() {
    let dir = TempDir::new("full-yaml");
    dir.write("default.yaml", FULL_YAML);
    assert_eq!(loader(&dir, &[]).load().unwrap(), full_config());
}

#[cfg(feature = "toml")]
#[test]
fn a_toml_file_sets_every_key() {
    let dir = TempDir::new("full-toml");
    dir.write("default.toml", FULL_TOML);
    assert_eq!(loader(&dir, &[]).load().unwrap(), full_config());
}

#[cfg(feature = "yaml")]
#[test]
fn yml_is_yaml_and_an_empty_file_is_no_settings() {
    let dir = TempDir::new("yml");
    dir.write("default.yml", "");
    dir.write("prod.yml", "# nothing but a comment\n");
    assert_eq!(
        loader(&dir, &[("RUN_ENV", "prod")]).load().unwrap(),
        Config::default()
    );
    let dir = TempDir::new("yml-section");
    dir.write("default.yml", "batch:\nretry: ~\n");
    assert_eq!(loader(&dir, &[]).load().unwrap(), Config::default());
}

#[cfg(all(feature = "yaml", feature = "toml"))]
#[test]
fn file_maps_merge_with_later_sources_per_key() {
    let dir = TempDir::new("maps");
    dir.write(
        "default.yaml",
        "exporter:\n  headers: { a: '1', b: '2' }\nresource:\n  attributes: { x: '1', y: '2' }\n",
    );
    dir.write(
        "prod.toml",
        "[exporter.headers]\nB = \"file\"\n[resource.attributes]\ny = \"file\"\n",
    );
    let env = [
        ("RUN_ENV", "prod"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "c=env"),
        ("OTEL_RESOURCE_ATTRIBUTES", "x=env"),
        ("OTLP__EXPORTER__HEADERS__A", "override"),
        ("OTLP__RESOURCE__ATTRIBUTES__Z", "override"),
    ];
    let config = loader(&dir, &env).load().unwrap();
    assert_eq!(
        headers(&config.exporter),
        pairs(&[("a", "override"), ("b", "file"), ("c", "env")])
    );
    assert_eq!(
        config.resource_attributes,
        pairs(&[("x", "env"), ("y", "file"), ("z", "override")])
    );
}

#[cfg(feature = "toml")]
#[test]
fn durations_take_units_in_files_and_overrides() {
    let dir = TempDir::new("durations");
    dir.write(
        "default.toml",
        "[batch]\nscheduled_delay = \"2m\"\nexport_timeout = 1500\n[exporter]\ntimeout = \"3 s\"\n",
    );
    let config = loader(
        &dir,
        &[
            ("OTLP__RETRY__INITIAL_BACKOFF", "250ms"),
            ("OTLP__RETRY__MAX_BACKOFF", "1h"),
        ],
    )
    .load()
    .unwrap();
    assert_eq!(config.batch.scheduled_delay, Duration::from_secs(120));
    assert_eq!(config.batch.export_timeout, Duration::from_millis(1500));
    assert_eq!(config.exporter.timeout, Duration::from_secs(3));
    assert_eq!(config.retry.initial_backoff, Duration::from_millis(250));
    assert_eq!(config.retry.max_backoff, Duration::from_secs(3600));
}

#[cfg(feature = "toml")]
#[test]
fn bad_file_values_name_the_dotted_key_and_the_file() {
    let cases = [
        (
            "[batch]\nscheduled_delay = \"1.5s\"\n",
            "batch.scheduled_delay",
            "1.5s",
            "whole numbers only",
        ),
        (
            "[batch]\nscheduled_delay = \"5d\"\n",
            "batch.scheduled_delay",
            "5d",
            "unknown unit \"d\"",
        ),
        (
            "[batch]\nscheduled_delay = 1.5\n",
            "batch.scheduled_delay",
            "1.5",
            "expected whole milliseconds or a whole number with a unit",
        ),
        (
            "[batch]\nmax_queue_size = -3\n",
            "batch.max_queue_size",
            "-3",
            "must not be negative",
        ),
        (
            "[batch]\nmax_queue_size = \"many\"\n",
            "batch.max_queue_size",
            "many",
            "not a whole number",
        ),
        (
            "[batch]\nadaptive = \"yes\"\n",
            "batch.adaptive",
            "yes",
            "expected true or false",
        ),
        (
            "[batch]\nfull_policy = \"wait\"\n",
            "batch.full_policy",
            "wait",
            "expected one of drop, block",
        ),
        (
            "[batch]\nmax_queue_size = [1, 2]\n",
            "batch.max_queue_size",
            "[1, 2]",
            "expected a whole number, found a list",
        ),
        (
            "[exporter]\nprotocol = \"http\"\n",
            "exporter.protocol",
            "http",
            "expected one of grpc",
        ),
        (
            "[exporter]\nendpoint = { url = \"x\" }\n",
            "exporter.endpoint",
            "{url=x}",
            "expected a single value, found a map",
        ),
        (
            "[exporter]\nheaders = [\"a\"]\n",
            "exporter.headers",
            "<redacted>",
            "expected a map of headers",
        ),
        (
            "[service]\nname = 1.10\n",
            "service.name",
            "1.1",
            "write it in quotes",
        ),
        (
            "[retry]\nrandomization_factor = 2\n",
            "retry.randomization_factor",
            "2",
            "between 0 and 1",
        ),
        (
            "[retry]\nmultiplier = \"fast\"\n",
            "retry.multiplier",
            "fast",
            "not a number",
        ),
        (
            "[performance]\nmax_request_bytes = 100000000\n",
            "performance.max_request_bytes",
            "100000000",
            "64 MiB",
        ),
        (
            "[performance]\nio_threads = 0\n",
            "performance.io_threads",
            "0",
            "at least 1",
        ),
        (
            "[resource.attributes]\nversion = 1.0\n",
            "resource.attributes",
            "{version=1}",
            "attribute \"version\": decimal number",
        ),
        (
            "batch = 5\n",
            "batch",
            "5",
            "section \"batch\" must be a map of keys",
        ),
    ];
    for (text, key, value, reason) in cases {
        let dir = TempDir::new("bad-file-value");
        let path = dir.write("default.toml", text);
        let err = loader(&dir, &[]).load().unwrap_err();
        assert_names(&err, key, value, reason);
        assert_eq!(err.origin(), ConfigSource::File(path), "{text}");
        assert!(err.to_string().contains("default.toml"), "{err}");
    }
}

#[cfg(feature = "yaml")]
#[test]
fn unknown_sections_and_keys_in_files_are_errors() {
    let cases = [
        (
            "bach:\n  max_queue_size: 5\n",
            "bach",
            "{max_queue_size=5}",
            "no section \"bach\"; expected one of service, resource, sampler, propagation, exporter, batch, retry, performance",
        ),
        (
            "batch:\n  max_queue: 5\n",
            "batch.max_queue",
            "5",
            "section \"batch\" has no key \"max_queue\"; expected one of max_queue_bytes, max_queue_size",
        ),
        (
            "exporter:\n  header: { authorization: Bearer s3cr3t }\n",
            "exporter.header",
            "<redacted>",
            "has no key \"header\"",
        ),
        (
            "service:\n  Name: x\n",
            "service.Name",
            "x",
            "expected one of name, disabled",
        ),
        ("tracing: ~\n", "tracing", "null", "no section \"tracing\""),
    ];
    for (text, key, value, reason) in cases {
        let dir = TempDir::new("unknown-key");
        dir.write("default.yaml", text);
        let err = loader(&dir, &[]).load().unwrap_err();
        assert!(matches!(err, ConfigError::UnknownKey { .. }), "{err}");
        assert_names(&err, key, value, reason);
    }
}

#[test]
fn unknown_overrides_are_errors() {
    let cases = [
        ("OTLP__BATCH__MAX_QUEUE", "5", "has no key \"max_queue\""),
        ("OTLP__BACH__MAX_QUEUE_SIZE", "5", "no section \"bach\""),
        ("OTLP__BATCH", "5", "expected OTLP__SECTION__KEY"),
        (
            "OTLP__BATCH__MAX_QUEUE_SIZE__X",
            "5",
            "batch.max_queue_size is not a map: use OTLP__BATCH__MAX_QUEUE_SIZE",
        ),
        ("OTLP__A__B__C__D", "5", "expected OTLP__SECTION__KEY"),
    ];
    for (var, value, reason) in cases {
        let err = load_err(&[(var, value)]);
        assert!(matches!(err, ConfigError::UnknownKey { .. }), "{err}");
        assert_names(&err, var, value, reason);
        // Not even lenient mode lets a typo through.
        let dir = TempDir::new("unknown-override");
        assert!(
            loader(&dir, &[(var, value)]).lenient().load().is_err(),
            "{var}"
        );
    }
}

#[test]
fn overrides_reach_every_section_case_insensitively() {
    let config = load(&[
        ("OTLP__SERVICE__NAME", "svc"),
        ("OTLP__service__Disabled", "true"),
        ("OTLP__EXPORTER__PROTOCOL", "grpc"),
        ("OTLP__EXPORTER__INSECURE", "true"),
        ("OTLP__BATCH__FULL_POLICY", "block"),
        ("OTLP__BATCH__BLOCK_TIMEOUT", "5ms"),
        ("OTLP__BATCH__ADAPTIVE", "TRUE"),
        ("OTLP__RETRY__MULTIPLIER", "2.5"),
        ("OTLP__RETRY__ENABLED", "false"),
        ("OTLP__PERFORMANCE__BUFFER_POOL_SIZE", "3"),
    ]);
    assert_eq!(config.service_name.as_deref(), Some("svc"));
    assert!(config.disabled);
    assert_eq!(config.exporter.protocol, Protocol::Grpc);
    assert_eq!(config.exporter.tls.insecure, Some(true));
    assert_eq!(
        config.batch.full_policy,
        FullPolicy::Block(Duration::from_millis(5))
    );
    assert!(config.batch.adaptive);
    assert_eq!(config.retry.multiplier, 2.5);
    assert!(!config.retry.enabled);
    assert_eq!(config.performance.buffer_pool_size, Some(3));
}

#[test]
fn map_overrides_name_one_entry_or_give_a_list() {
    let config = load(&[
        ("OTLP__EXPORTER__HEADERS", "x_custom=a%20b,x-api-key=list"),
        ("OTLP__EXPORTER__HEADERS__X_API_KEY", "single"),
        ("OTLP__RESOURCE__ATTRIBUTES__DEPLOYMENT_ENVIRONMENT", "prod"),
        ("OTLP__RESOURCE__ATTRIBUTES", "Mixed_Case=kept"),
    ]);
    assert_eq!(
        headers(&config.exporter),
        pairs(&[("x_custom", "a b"), ("x-api-key", "single")])
    );
    assert_eq!(
        config.resource_attributes,
        pairs(&[("Mixed_Case", "kept"), ("deployment.environment", "prod")])
    );
}

#[test]
fn file_errors_name_the_file() {
    let dir = TempDir::new("file-errors");
    let missing = dir.path().join("nope.yaml");
    let err = loader(&dir, &[]).with_file(&missing).load().unwrap_err();
    assert_eq!(
        err,
        ConfigError::FileUnreadable {
            path: missing,
            reason: "file not found".into()
        }
    );

    let json = dir.write("otlp.json", "{}");
    let err = loader(&dir, &[]).with_file(&json).load().unwrap_err();
    assert!(
        matches!(&err, ConfigError::FileRejected { path, .. } if *path == json),
        "{err}"
    );
    assert!(err.to_string().contains(".yaml, .yml or .toml"), "{err}");

    let not_a_file = dir.path().join("sub.toml");
    fs::create_dir(&not_a_file).unwrap();
    let err = loader(&dir, &[]).with_file(&not_a_file).load().unwrap_err();
    assert!(matches!(err, ConfigError::FileUnreadable { .. }), "{err}");
}

#[cfg(all(feature = "yaml", feature = "toml"))]
#[test]
fn two_formats_of_one_file_are_ambiguous() {
    let dir = TempDir::new("ambiguous");
    dir.write("default.yaml", "");
    dir.write("default.toml", "");
    let err = loader(&dir, &[]).load().unwrap_err();
    assert!(matches!(err, ConfigError::FileRejected { .. }), "{err}");
    assert!(
        err.reason().contains("ambiguous") && err.reason().contains("default.toml"),
        "{err}"
    );

    let dir = TempDir::new("ambiguous-run-env");
    dir.write("prod.yml", "");
    dir.write("prod.yaml", "");
    let err = loader(&dir, &[("RUN_ENV", "prod")]).load().unwrap_err();
    assert!(err.reason().contains("ambiguous"), "{err}");
}

#[cfg(feature = "toml")]
#[test]
fn a_toml_syntax_error_has_file_line_and_column() {
    let dir = TempDir::new("toml-syntax");
    let path = dir.write(
        "default.toml",
        "[batch]\nmax_queue_size = 1\nmax_queue_size = 2\n",
    );
    let err = loader(&dir, &[]).load().unwrap_err();
    match &err {
        ConfigError::FileSyntax { path: p, line, .. } => {
            assert_eq!(p, &path);
            assert_eq!(*line, Some(3));
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("(line 3, column"), "{err}");
}

#[cfg(feature = "yaml")]
#[test]
fn a_yaml_syntax_error_has_file_line_and_column() {
    let dir = TempDir::new("yaml-syntax");
    let path = dir.write("default.yaml", "batch:\n  max_queue_size: 1\n  - oops\n");
    let err = loader(&dir, &[]).load().unwrap_err();
    assert!(
        matches!(&err, ConfigError::FileSyntax { path: p, line: Some(3), column: Some(_), .. } if *p == path),
        "{err:?}"
    );
    assert!(err.to_string().contains("(line 3, column"), "{err}");
    assert!(
        !err.reason().contains("line 3 column 3"),
        "the location is shown once: {err}"
    );

    // Duplicate keys are refused (YAML parsers would silently keep the last);
    // the location is that of the map holding them.
    let dir = TempDir::new("yaml-duplicate");
    dir.write(
        "default.yaml",
        "batch:\n  max_queue_size: 1\n  max_queue_size: 2\n",
    );
    let err = loader(&dir, &[]).load().unwrap_err();
    assert!(
        matches!(err, ConfigError::FileSyntax { line: Some(2), .. }),
        "{err:?}"
    );
    assert!(
        err.reason().contains("duplicate key `max_queue_size`"),
        "{err}"
    );

    let dir = TempDir::new("yaml-top");
    dir.write("default.yaml", "- a\n- b\n");
    let err = loader(&dir, &[]).load().unwrap_err();
    assert!(
        err.reason()
            .contains("the top level must be a map of sections"),
        "{err}"
    );
}

#[cfg(not(feature = "yaml"))]
#[test]
fn a_yaml_file_without_the_yaml_feature_is_an_error() {
    let dir = TempDir::new("no-yaml");
    dir.write("default.yaml", "batch: {}\n");
    let err = loader(&dir, &[]).load().unwrap_err();
    assert!(err.reason().contains("enable the `yaml` feature"), "{err}");
}

#[cfg(not(feature = "toml"))]
#[test]
fn a_toml_file_without_the_toml_feature_is_an_error() {
    let dir = TempDir::new("no-toml");
    dir.write("default.toml", "[batch]\n");
    let err = loader(&dir, &[]).load().unwrap_err();
    assert!(err.reason().contains("enable the `toml` feature"), "{err}");
}

#[test]
fn run_env_cannot_leave_the_config_directory() {
    let err = load_err(&[("RUN_ENV", "../secrets")]);
    assert_names(&err, "RUN_ENV", "../secrets", "file name stem");
}

// ---------------------------------------------------------------- redaction

const SECRET: &str = "s3cr3t-t0ken";

#[test]
fn debug_output_hides_header_values_and_the_client_key() {
    let config = load(&[
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            &format!("authorization=Bearer%20{SECRET}"),
        ),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/c.pem"),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            &format!("/keys/{SECRET}.key"),
        ),
    ]);
    assert_eq!(headers(&config.exporter)[0].1, format!("Bearer {SECRET}"));
    let debug = format!("{config:?}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(
        debug.contains("authorization") && debug.contains("<redacted>"),
        "{debug}"
    );

    let dir = TempDir::new("loader-debug");
    let loader = loader(
        &dir,
        &[("OTEL_EXPORTER_OTLP_HEADERS", &format!("a={SECRET}"))],
    );
    let debug = format!("{loader:?}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(debug.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{debug}");
}

#[test]
fn errors_and_warnings_hide_secrets() {
    let dir = TempDir::new("redacted-errors");
    let bad_headers = format!("authorization=Bearer%20{SECRET},x=%zz");
    let env = [("OTEL_EXPORTER_OTLP_HEADERS", bad_headers.as_str())];
    let err = loader(&dir, &env).load().unwrap_err();
    assert_names(
        &err,
        "OTEL_EXPORTER_OTLP_HEADERS",
        "<redacted>",
        "entry 2 (`x`) has a bad value",
    );
    let (_, warnings) = loader(&dir, &env).lenient().load_with_warnings().unwrap();
    assert!(!warnings[0].to_string().contains(SECRET));
    assert!(!format!("{warnings:?}").contains(SECRET));

    let cases = [
        format!("OTEL_EXPORTER_OTLP_HEADERS=Bearer {SECRET}"), // no `=`: the whole entry may be the secret
        format!("OTLP__EXPORTER__HEADERS__AUTHORIZATION=Bearer {SECRET}\r\nx-injected: 1"),
        format!("OTEL_EXPORTER_OTLP_ENDPOINT=https://user:{SECRET}@:4318"),
    ];
    for case in &cases {
        let (var, value) = case.split_once('=').unwrap();
        let err = load_err(&[(var, value)]);
        assert!(!err.to_string().contains(SECRET), "{err}");
        assert!(!format!("{err:?}").contains(SECRET), "{err:?}");
        assert!(err.to_string().contains("<redacted>"), "{err}");
    }
}

#[cfg(feature = "yaml")]
#[test]
fn file_errors_hide_header_values() {
    let dir = TempDir::new("redacted-file");
    dir.write(
        "default.yaml",
        &format!("exporter:\n  headers:\n    authorization: \"Bearer\\r\\n{SECRET}\"\n"),
    );
    let err = loader(&dir, &[]).load().unwrap_err();
    assert_names(&err, "exporter.headers", "<redacted>", "control character");
    assert!(!err.to_string().contains(SECRET), "{err}");
}

#[test]
fn a_max_batch_below_the_adaptive_minimum_is_fine_without_adaptive_batching() {
    let config = ConfigLoader::new()
        .with_env([("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16")])
        .with_config_dir(std::env::temp_dir().join("otlp-sdk-no-such-config-dir"))
        .load()
        .expect("a standard OTEL_BSP value must load");
    assert_eq!(config.batch.max_export_batch_size, 16);
}
