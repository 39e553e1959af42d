//! Configuration of the log pipeline: `Config::logs`, filled from the generic
//! exporter settings with the logs-specific ones over them
//! (`OTEL_EXPORTER_OTLP_LOGS_*`, section `logs.exporter`,
//! `OTLP__LOGS__EXPORTER__*`), and its batching (`OTEL_BLRP_*`, section
//! `logs.batch`, `OTLP__LOGS__BATCH__*`) from the logs defaults, and its
//! durable queue (section `logs.durable`, `OTLP__LOGS__DURABLE__*`), which
//! never shares the span pipeline's directory. Traces-specific values never
//! reach logs, and logs-specific ones never reach traces.
//!
//! No test touches the process environment: each passes its variables with
//! `ConfigLoader::with_env` and its files in a directory of its own.
#![cfg_attr(
    not(all(feature = "yaml", feature = "toml")),
    allow(unused_imports, dead_code)
)]

use std::path::PathBuf;
use std::time::Duration;

use otlp_sdk::Signal;
use otlp_sdk::config::{
    BatchConfig, Compression, Config, ConfigError, ConfigLoader, ConfigSource, ExporterConfig,
    LogsConfig, Protocol,
};
use otlp_sdk::durable::{DurableConfig, FsyncPolicy};

mod config_support;
use config_support::{TempDir, assert_names, headers, load, load_err, loader, pairs};

// ---------------------------------------------------------------- defaults

#[test]
fn logs_default_to_v1_logs_a_one_second_delay_and_no_count_cap() {
    let config = load(&[]);
    assert_eq!(config.logs, LogsConfig::default());
    let logs = &config.logs;
    assert_eq!(
        logs.exporter.endpoint_for(Signal::Logs),
        "http://localhost:4318/v1/logs"
    );
    assert_eq!(logs.exporter.protocol, Protocol::HttpProtobuf);
    assert_eq!(logs.exporter.timeout, Duration::from_secs(10));
    assert_eq!(logs.batch.scheduled_delay, Duration::from_secs(1));
    assert_eq!(logs.batch.export_timeout, Duration::from_secs(30));
    assert_eq!(logs.batch.max_export_batch_size, 512);
    assert_eq!(logs.batch.max_queue_size, None);
    assert_eq!(
        logs.batch.max_queue_bytes,
        BatchConfig::DEFAULT_MAX_QUEUE_BYTES
    );
    assert_eq!(logs.batch, BatchConfig::logs_default());
    // Spans keep theirs.
    assert_eq!(config.batch.scheduled_delay, Duration::from_secs(5));
    assert_eq!(Config::default().validate(), Ok(()));
}

// ---------------------------------------------------------------- the endpoint rule

#[test]
fn endpoint_for_appends_the_signals_path_with_exactly_one_slash() {
    for base in ["http://c:4318", "http://c:4318/"] {
        let exporter = ExporterConfig {
            endpoint: Some(base.into()),
            ..ExporterConfig::default()
        };
        assert_eq!(exporter.endpoint_for(Signal::Logs), "http://c:4318/v1/logs");
        assert_eq!(
            exporter.endpoint_for(Signal::Traces),
            "http://c:4318/v1/traces"
        );
        assert_eq!(exporter.traces_endpoint(), "http://c:4318/v1/traces");
    }
    let exporter = ExporterConfig {
        endpoint: Some("https://c/base/".into()),
        protocol: Protocol::HttpJson,
        ..ExporterConfig::default()
    };
    assert_eq!(
        exporter.endpoint_for(Signal::Logs),
        "https://c/base/v1/logs"
    );
}

#[test]
fn each_signals_own_endpoint_is_used_as_given_and_only_for_it() {
    let exporter = ExporterConfig {
        endpoint: Some("http://generic:4318".into()),
        traces_endpoint: Some("http://traces:1/t".into()),
        logs_endpoint: Some("http://logs:2/l/".into()),
        ..ExporterConfig::default()
    };
    assert_eq!(exporter.endpoint_for(Signal::Traces), "http://traces:1/t");
    assert_eq!(exporter.endpoint_for(Signal::Logs), "http://logs:2/l/");
}

#[test]
fn grpc_endpoints_for_logs_get_no_path_and_a_scheme_from_insecure() {
    let grpc = |endpoint: Option<&str>, logs: Option<&str>, insecure: Option<bool>| {
        let mut exporter = ExporterConfig {
            protocol: Protocol::Grpc,
            endpoint: endpoint.map(str::to_owned),
            logs_endpoint: logs.map(str::to_owned),
            ..ExporterConfig::default()
        };
        exporter.tls.insecure = insecure;
        exporter.endpoint_for(Signal::Logs)
    };
    assert_eq!(grpc(None, None, None), "http://localhost:4317");
    assert_eq!(grpc(Some("c:4317"), None, None), "https://c:4317");
    assert_eq!(grpc(Some("c:4317"), None, Some(true)), "http://c:4317");
    assert_eq!(
        grpc(Some("c:4317"), Some("l:4317"), Some(true)),
        "http://l:4317"
    );
    assert_eq!(
        grpc(None, Some("http://l:4317"), Some(false)),
        "http://l:4317"
    );
}

// ---------------------------------------------------------------- variables

#[test]
fn generic_variables_reach_both_signals() {
    let config = load(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318/"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cr3t,x-tenant=7"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/ca.pem"),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/client.pem"),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/client.key"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
    ]);
    assert_eq!(config.logs.exporter, config.exporter);
    let logs = &config.logs.exporter;
    assert_eq!(
        logs.endpoint_for(Signal::Logs),
        "https://collector:4318/v1/logs"
    );
    assert_eq!(
        config.exporter.traces_endpoint(),
        "https://collector:4318/v1/traces"
    );
    assert_eq!(logs.protocol, Protocol::HttpJson);
    assert_eq!(logs.timeout, Duration::from_millis(2500));
    assert_eq!(logs.compression, Compression::Gzip);
    assert_eq!(
        headers(logs),
        pairs(&[("x-api-key", "s3cr3t"), ("x-tenant", "7")])
    );
    assert_eq!(logs.tls.ca_certificate, Some(PathBuf::from("/ca.pem")));
    assert_eq!(
        logs.tls.client_certificate,
        Some(PathBuf::from("/client.pem"))
    );
    assert_eq!(logs.tls.client_key, Some(PathBuf::from("/client.key")));
    assert_eq!(logs.tls.insecure, Some(true));
}

type Read = fn(&ExporterConfig) -> String;

/// Suffixes, with a generic, a traces and a logs value, and how to read the field.
const VARIANTS: &[(&str, [&str; 3], Read)] = &[
    ("PROTOCOL", ["grpc", "http/json", "http/protobuf"], |e| {
        e.protocol.to_string()
    }),
    ("TIMEOUT", ["1000", "2000", "3000"], |e| {
        e.timeout.as_millis().to_string()
    }),
    ("COMPRESSION", ["gzip", "zstd", "none"], |e| {
        e.compression.to_string()
    }),
    ("HEADERS", ["a=generic", "a=traces", "a=logs"], |e| {
        let entries: Vec<String> = headers(e).iter().map(|(k, v)| format!("{k}={v}")).collect();
        entries.join(",")
    }),
    ("CERTIFICATE", ["/generic", "/traces", "/logs"], |e| {
        format!("{:?}", e.tls.ca_certificate)
    }),
    (
        "CLIENT_CERTIFICATE",
        ["/generic", "/traces", "/logs"],
        |e| format!("{:?}", e.tls.client_certificate),
    ),
    ("CLIENT_KEY", ["/generic", "/traces", "/logs"], |e| {
        format!("{:?}", e.tls.client_key)
    }),
    ("INSECURE", ["true", "false", "true"], |e| {
        format!("{:?}", e.tls.insecure)
    }),
];

/// mTLS needs both files: the other half of a pair, set in the same scope.
fn mtls_companion(suffix: &str) -> Option<(&'static str, &'static str)> {
    match suffix {
        "CLIENT_CERTIFICATE" => Some(("CLIENT_KEY", "/k")),
        "CLIENT_KEY" => Some(("CLIENT_CERTIFICATE", "/c")),
        _ => None,
    }
}

#[test]
fn each_signals_variables_win_for_it_and_do_not_reach_the_other() {
    for (suffix, [generic, traces, logs], read) in VARIANTS {
        let prefixes = [
            "OTEL_EXPORTER_OTLP_",
            "OTEL_EXPORTER_OTLP_TRACES_",
            "OTEL_EXPORTER_OTLP_LOGS_",
        ];
        // Loads with the variable of each scope whose value is given.
        let with = |values: [Option<&str>; 3]| {
            let mut env: Vec<(String, String)> = Vec::new();
            for (prefix, value) in prefixes.iter().zip(values) {
                let Some(value) = value else { continue };
                env.push((format!("{prefix}{suffix}"), value.to_owned()));
                if let Some((other, other_value)) = mtls_companion(suffix) {
                    env.push((format!("{prefix}{other}"), other_value.to_owned()));
                }
            }
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (&**k, &**v)).collect();
            load(&env)
        };
        let baseline = with([None, None, None]);

        let all = with([Some(generic), Some(traces), Some(logs)]);
        assert!(read(&all.exporter).contains(traces), "{suffix}");
        assert!(read(&all.logs.exporter).contains(logs), "{suffix}");

        let traces_only = with([None, Some(traces), None]);
        assert!(read(&traces_only.exporter).contains(traces), "{suffix}");
        assert_eq!(
            traces_only.logs, baseline.logs,
            "OTEL_EXPORTER_OTLP_TRACES_{suffix} reached logs"
        );

        let logs_only = with([None, None, Some(logs)]);
        assert!(read(&logs_only.logs.exporter).contains(logs), "{suffix}");
        assert_eq!(
            logs_only.exporter, baseline.exporter,
            "OTEL_EXPORTER_OTLP_LOGS_{suffix} reached traces"
        );

        let generic_and_traces = with([Some(generic), Some(traces), None]);
        assert!(
            read(&generic_and_traces.logs.exporter).contains(generic),
            "{suffix}: logs take the generic value"
        );
        let generic_and_logs = with([Some(generic), None, Some(logs)]);
        assert!(
            read(&generic_and_logs.exporter).contains(generic),
            "{suffix}: traces take the generic value"
        );
    }
}

#[test]
fn logs_headers_replace_the_generic_ones() {
    let config = load(&[
        ("OTEL_EXPORTER_OTLP_HEADERS", "a=1,B=2"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "t=9"),
        ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "b=3,c=4"),
    ]);
    assert_eq!(
        headers(&config.logs.exporter),
        pairs(&[("b", "3"), ("c", "4")])
    );
    assert_eq!(headers(&config.exporter), pairs(&[("t", "9")]));
    let generic_only = load(&[("OTEL_EXPORTER_OTLP_HEADERS", "a=1")]);
    assert_eq!(headers(&generic_only.logs.exporter), pairs(&[("a", "1")]));
}

#[test]
fn the_logs_endpoint_is_used_as_given() {
    let config = load(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "http://logs:9000/ingest",
        ),
    ]);
    assert_eq!(
        config.logs.exporter.endpoint_for(Signal::Logs),
        "http://logs:9000/ingest"
    );
    assert_eq!(
        config.logs.exporter.logs_endpoint.as_deref(),
        Some("http://logs:9000/ingest")
    );
    assert_eq!(
        config.exporter.traces_endpoint(),
        "http://generic:4318/v1/traces"
    );
    assert_eq!(config.exporter.logs_endpoint, None);

    let config = load(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:9000/t")]);
    assert_eq!(config.logs.exporter.traces_endpoint, None);
    assert_eq!(
        config.logs.exporter.endpoint_for(Signal::Logs),
        "http://localhost:4318/v1/logs"
    );
}

#[test]
fn grpc_can_be_chosen_for_logs_only() {
    let config = load(&[("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpc")]);
    assert_eq!(config.logs.exporter.protocol, Protocol::Grpc);
    assert_eq!(
        config.logs.exporter.endpoint_for(Signal::Logs),
        "http://localhost:4317"
    );
    assert_eq!(config.exporter.protocol, Protocol::HttpProtobuf);
    assert_eq!(
        config.exporter.traces_endpoint(),
        "http://localhost:4318/v1/traces"
    );

    let config = load(&[
        ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "logs:4317"),
        ("OTEL_EXPORTER_OTLP_LOGS_INSECURE", "true"),
    ]);
    assert_eq!(
        config.logs.exporter.endpoint_for(Signal::Logs),
        "http://logs:4317"
    );
}

#[test]
fn a_generic_endpoint_is_not_checked_for_a_signal_that_has_its_own() {
    // gRPC for spans and metrics at a generic endpoint without a scheme (a
    // form gRPC accepts); logs over HTTP at their own URL, used as given: the
    // generic endpoint never serves logs, so HTTP's rules do not apply to it.
    let env = [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
        ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf"),
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "http://logs:4318/v1/logs",
        ),
    ];
    let config = load(&env);
    assert_eq!(config.exporter.traces_endpoint(), "https://collector:4317");
    assert_eq!(
        config.logs.exporter.endpoint_for(Signal::Logs),
        "http://logs:4318/v1/logs"
    );
    // Without the logs endpoint, logs use the generic one: checked for them.
    let err = load_err(&env[..3]);
    assert_names(
        &err,
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "collector:4317",
        "must start with http:// or https://",
    );
}

#[test]
fn blrp_variables_set_the_logs_batch_and_nothing_else() {
    let config = load(&[
        ("OTEL_BLRP_SCHEDULE_DELAY", "250"),
        ("OTEL_BLRP_EXPORT_TIMEOUT", "4000"),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "4096"),
        ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "1024"),
    ]);
    let batch = &config.logs.batch;
    assert_eq!(batch.scheduled_delay, Duration::from_millis(250));
    assert_eq!(batch.export_timeout, Duration::from_secs(4));
    assert_eq!(batch.max_queue_size, Some(4096));
    assert_eq!(batch.max_export_batch_size, 1024);
    assert_eq!(
        batch.max_queue_bytes,
        BatchConfig::DEFAULT_MAX_QUEUE_BYTES,
        "the count cap comes beside the byte bound"
    );
    assert_eq!(config.batch, BatchConfig::default(), "spans untouched");

    let config = load(&[
        ("OTEL_BSP_SCHEDULE_DELAY", "250"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "4096"),
    ]);
    assert_eq!(
        config.logs.batch,
        BatchConfig::logs_default(),
        "BSP is spans only"
    );
}

#[test]
fn blrp_export_timeout_zero_means_no_limit() {
    let config = load(&[("OTEL_BLRP_EXPORT_TIMEOUT", "0")]);
    assert_eq!(
        config.logs.batch.export_timeout,
        Duration::from_millis(i32::MAX as u64)
    );
}

// ---------------------------------------------------------------- files and overrides

#[cfg(feature = "yaml")]
const LOGS_YAML: &str = "\
exporter:
  endpoint: http://collector:4318
  compression: gzip
  headers: { x-api-key: generic, x-tenant: '7' }
logs:
  exporter:
    protocol: http/json
    headers: { x-api-key: l0gs }
  batch:
    scheduled_delay: 2s
    max_queue_size: 1000
    max_export_batch_size: 100
";

#[cfg(feature = "yaml")]
#[test]
fn a_yaml_logs_section_inherits_the_generic_exporter() {
    let dir = TempDir::new("logs-yaml");
    dir.write("default.yaml", LOGS_YAML);
    let config = loader(&dir, &[]).load().unwrap();
    let logs = &config.logs;
    assert_eq!(
        logs.exporter.endpoint_for(Signal::Logs),
        "http://collector:4318/v1/logs"
    );
    assert_eq!(logs.exporter.protocol, Protocol::HttpJson);
    assert_eq!(logs.exporter.compression, Compression::Gzip, "inherited");
    assert_eq!(
        headers(&logs.exporter),
        pairs(&[("x-api-key", "l0gs")]),
        "the logs section's headers replace the generic ones"
    );
    assert_eq!(logs.batch.scheduled_delay, Duration::from_secs(2));
    assert_eq!(logs.batch.max_queue_size, Some(1000));
    assert_eq!(logs.batch.max_export_batch_size, 100);
    assert_eq!(
        logs.batch.export_timeout,
        Duration::from_secs(30),
        "logs default"
    );

    assert_eq!(config.exporter.protocol, Protocol::HttpProtobuf);
    assert_eq!(
        headers(&config.exporter),
        pairs(&[("x-api-key", "generic"), ("x-tenant", "7")])
    );
    assert_eq!(config.batch, BatchConfig::default());
}

#[cfg(feature = "toml")]
#[test]
fn a_toml_logs_section_sets_every_exporter_key() {
    let dir = TempDir::new("logs-toml");
    dir.write(
        "default.toml",
        r#"
[logs.exporter]
endpoint = "https://logs-collector:4318/base"
logs_endpoint = "https://logs.example.com/ingest"
protocol = "grpc"
timeout = "3s"
compression = "zstd"
certificate = "/ca.pem"
client_certificate = "/client.pem"
client_key = "/client.key"
insecure = true

[logs.exporter.headers]
authorization = "Bearer l0gs"

[logs.batch]
scheduled_delay = "500ms"
export_timeout = "10s"
max_queue_bytes = 1048576
max_export_batch_size = 64
full_policy = "drop"
"#,
    );
    let config = loader(&dir, &[]).load().unwrap();
    let exporter = &config.logs.exporter;
    assert_eq!(
        exporter.endpoint.as_deref(),
        Some("https://logs-collector:4318/base")
    );
    assert_eq!(
        exporter.endpoint_for(Signal::Logs),
        "https://logs.example.com/ingest"
    );
    assert_eq!(exporter.protocol, Protocol::Grpc);
    assert_eq!(exporter.timeout, Duration::from_secs(3));
    assert_eq!(exporter.compression, Compression::Zstd);
    assert_eq!(
        headers(exporter),
        pairs(&[("authorization", "Bearer l0gs")])
    );
    assert_eq!(exporter.tls.ca_certificate, Some(PathBuf::from("/ca.pem")));
    assert_eq!(
        exporter.tls.client_certificate,
        Some(PathBuf::from("/client.pem"))
    );
    assert_eq!(exporter.tls.client_key, Some(PathBuf::from("/client.key")));
    assert_eq!(exporter.tls.insecure, Some(true));
    let batch = &config.logs.batch;
    assert_eq!(batch.scheduled_delay, Duration::from_millis(500));
    assert_eq!(batch.export_timeout, Duration::from_secs(10));
    assert_eq!(batch.max_queue_bytes, 1024 * 1024);
    assert_eq!(batch.max_export_batch_size, 64);
    assert_eq!(batch.full_policy, otlp_sdk::config::FullPolicy::Drop);
    assert_eq!(
        config.exporter,
        ExporterConfig::default(),
        "spans untouched"
    );
}

#[cfg(feature = "yaml")]
#[test]
fn logs_sources_override_in_order_and_specific_beats_generic() {
    let dir = TempDir::new("logs-precedence");
    dir.write("default.yaml", LOGS_YAML);
    let batch = |env: &[(&str, &str)]| loader(&dir, env).load().unwrap().logs.batch;
    let all = [
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "3000"),
        ("OTLP__LOGS__BATCH__MAX_QUEUE_SIZE", "4000"),
    ];
    assert_eq!(
        batch(&all).max_queue_size,
        Some(4000),
        "OTLP__ beats OTEL_*"
    );
    assert_eq!(
        batch(&all[..1]).max_queue_size,
        Some(3000),
        "OTEL_* beats the file"
    );
    assert_eq!(
        batch(&[]).max_queue_size,
        Some(1000),
        "the file beats the defaults"
    );

    // Within a scope the later source wins; a logs value wins over a generic
    // one whichever source set either.
    let config = loader(
        &dir,
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "zstd"),
            ("OTLP__EXPORTER__COMPRESSION", "none"),
            ("OTLP__LOGS__EXPORTER__HEADERS__X_API_KEY", "override"),
        ],
    )
    .load()
    .unwrap();
    assert_eq!(
        config.logs.exporter.protocol,
        Protocol::HttpJson,
        "the file's logs.exporter.protocol beats the generic variable"
    );
    assert_eq!(config.exporter.protocol, Protocol::Grpc);
    assert_eq!(
        config.logs.exporter.compression,
        Compression::Zstd,
        "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION beats OTLP__EXPORTER__COMPRESSION"
    );
    assert_eq!(config.exporter.compression, Compression::None);
    assert_eq!(
        headers(&config.logs.exporter),
        pairs(&[("x-api-key", "override")]),
        "the logs headers (file and override merged) replace the generic ones"
    );
}

#[test]
fn otlp_logs_overrides_reach_every_logs_key() {
    let config = load(&[
        ("OTLP__LOGS__EXPORTER__ENDPOINT", "http://logs:4318"),
        ("OTLP__LOGS__EXPORTER__TIMEOUT", "2s"),
        ("otlp__logs__exporter__headers", "a=1,b=2"),
        ("OTLP__LOGS__EXPORTER__HEADERS__X_API_KEY", "k"),
        ("OTLP__LOGS__BATCH__SCHEDULED_DELAY", "2s"),
        ("OTLP__LOGS__BATCH__MAX_QUEUE_BYTES", "1048576"),
        ("OTLP__LOGS__BATCH__ADAPTIVE", "true"),
    ]);
    let logs = &config.logs;
    assert_eq!(
        logs.exporter.endpoint_for(Signal::Logs),
        "http://logs:4318/v1/logs"
    );
    assert_eq!(logs.exporter.timeout, Duration::from_secs(2));
    assert_eq!(logs.batch.scheduled_delay, Duration::from_secs(2));
    assert_eq!(logs.batch.max_queue_bytes, 1024 * 1024);
    assert!(logs.batch.adaptive);
    assert_eq!(config.exporter, ExporterConfig::default());
    assert_eq!(config.batch, BatchConfig::default());

    let config = load(&[
        ("OTLP__LOGS__EXPORTER__HEADERS", "a=1,b=2"),
        ("OTLP__LOGS__EXPORTER__HEADERS__X_API_KEY", "k"),
        ("OTLP__LOGS__EXPORTER__LOGS_ENDPOINT", "http://l:1/x"),
    ]);
    assert_eq!(
        headers(&config.logs.exporter),
        pairs(&[("a", "1"), ("b", "2"), ("x-api-key", "k")])
    );
    assert_eq!(
        config.logs.exporter.endpoint_for(Signal::Logs),
        "http://l:1/x"
    );
}

// ---------------------------------------------------------------- errors

#[test]
fn bad_logs_variables_name_the_variable_and_the_value() {
    let cases = [
        (
            "OTEL_BLRP_SCHEDULE_DELAY",
            "soon",
            "expected whole milliseconds",
        ),
        ("OTEL_BLRP_SCHEDULE_DELAY", "-1", "must not be negative"),
        ("OTEL_BLRP_EXPORT_TIMEOUT", "-5", "must not be negative"),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "0", "must be at least 1"),
        (
            "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
            "lots",
            "not a whole number",
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
            "brotli",
            "expected one of gzip, none, zstd",
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
            "udp",
            "expected one of grpc, http/protobuf, http/json",
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
            "10s",
            "expected whole milliseconds",
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_INSECURE",
            "1",
            "expected true or false",
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "ftp://logs",
            "unsupported scheme",
        ),
    ];
    for (var, value, reason) in cases {
        let err = load_err(&[(var, value)]);
        assert_names(&err, var, value, reason);
        assert_eq!(err.origin(), ConfigSource::Env(var.to_string()));
    }
}

#[test]
fn lenient_loading_ignores_a_bad_blrp_value_with_a_warning() {
    let dir = TempDir::new("logs-lenient");
    let (config, warnings) = loader(
        &dir,
        &[
            ("OTEL_BLRP_SCHEDULE_DELAY", "soon"),
            ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "brotli"),
        ],
    )
    .lenient()
    .load_with_warnings()
    .unwrap();
    assert_eq!(config.logs, LogsConfig::default());
    let keys: Vec<Option<&str>> = warnings.iter().map(|w| w.0.key()).collect();
    assert_eq!(
        keys,
        [
            Some("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION"),
            Some("OTEL_BLRP_SCHEDULE_DELAY")
        ]
    );
}

#[test]
fn a_logs_batch_larger_than_its_count_cap_is_an_error() {
    let err = load_err(&[
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "200"),
    ]);
    assert_names(
        &err,
        "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
        "200",
        "must be at most OTEL_BLRP_MAX_QUEUE_SIZE (100)",
    );

    // Only the cap set: the default batch size follows it down.
    let config = load(&[("OTEL_BLRP_MAX_QUEUE_SIZE", "100")]);
    assert_eq!(config.logs.batch.max_export_batch_size, 100);
    assert_eq!(config.batch.max_export_batch_size, 512, "spans keep theirs");

    // The span pipeline's cap does not bound logs, nor the reverse.
    assert!(
        ConfigLoader::new()
            .with_config_dir("no-such-dir")
            .with_env([
                ("OTEL_BSP_MAX_QUEUE_SIZE", "1000"),
                ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "2000"),
            ])
            .load()
            .is_ok()
    );

    // Changed in code: the dotted key.
    let mut config = Config::default();
    config.logs.batch.max_queue_size = Some(10);
    let err = config.validate().unwrap_err();
    assert_names(
        &err,
        "logs.batch.max_export_batch_size",
        "512",
        "must be at most logs.batch.max_queue_size (10)",
    );
    assert_eq!(err.origin(), ConfigSource::Builder);
}

#[test]
fn logs_exporter_checks_name_the_logs_key() {
    // A client key for logs alone needs a certificate for logs.
    let err = load_err(&[("OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY", "/logs.key")]);
    assert_names(
        &err,
        "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
        "<redacted>",
        "mTLS needs logs.exporter.client_certificate (OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE or OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE) too",
    );
    let ok = load(&[
        ("OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY", "/logs.key"),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/client.pem"),
        ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/traces.key"),
        ("OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", "/metrics.key"),
    ]);
    assert_eq!(
        ok.logs.exporter.tls.client_key,
        Some(PathBuf::from("/logs.key"))
    );

    // A logs base endpoint gets v1/logs appended: no query.
    let err = load_err(&[("OTLP__LOGS__EXPORTER__ENDPOINT", "http://logs:4318/?a=1")]);
    assert_names(
        &err,
        "OTLP__LOGS__EXPORTER__ENDPOINT",
        "http://logs:4318/?a=1",
        "because v1/logs is appended",
    );
    // The traces endpoint's message speaks of traces.
    let err = load_err(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/?a=1")]);
    assert!(err.reason().contains("v1/traces"), "{err}");

    // Code: dotted logs keys.
    let mut config = Config::default();
    config.logs.exporter.timeout = Duration::ZERO;
    let err = config.validate().unwrap_err();
    assert_eq!(err.key(), Some("logs.exporter.timeout"));
    let mut config = Config::default();
    config.logs.exporter.logs_endpoint = Some("logs:4318".into());
    let err = config.validate().unwrap_err();
    assert_names(
        &err,
        "logs.exporter.logs_endpoint",
        "logs:4318",
        "must start with http:// or https://",
    );
}

#[cfg(feature = "yaml")]
#[test]
fn bad_logs_file_values_name_the_dotted_key() {
    let cases = [
        (
            "logs: { batch: { max_export_batch_size: 0 } }",
            "logs.batch.max_export_batch_size",
            "0",
            "must be at least 1",
        ),
        (
            "logs: { exporter: { compression: brotli } }",
            "logs.exporter.compression",
            "brotli",
            "expected one of gzip, none, zstd",
        ),
        (
            "logs: { batch: { max_queue_size: 10, max_export_batch_size: 20 } }",
            "logs.batch.max_export_batch_size",
            "20",
            "must be at most logs.batch.max_queue_size (10)",
        ),
    ];
    for (yaml, key, value, reason) in cases {
        let dir = TempDir::new("logs-bad-file");
        let path = dir.write("default.yaml", yaml);
        let err = loader(&dir, &[]).load().unwrap_err();
        assert_names(&err, key, value, reason);
        assert_eq!(err.origin(), ConfigSource::File(path));
    }
}

#[cfg(feature = "yaml")]
#[test]
fn unknown_logs_keys_in_files_are_errors() {
    let cases = [
        (
            "logs: { exporter: { traces_endpoint: 'http://t' } }",
            "logs.exporter.traces_endpoint",
            "has no key \"traces_endpoint\"",
        ),
        (
            "logs: { exporter: { endpiont: 'http://t' } }",
            "logs.exporter.endpiont",
            "logs_endpoint",
        ),
        (
            "logs: { batches: { adaptive: true } }",
            "logs.batches",
            "no subsection \"batches\"; expected one of exporter, batch",
        ),
        ("logs: 3", "logs", "must be a map of subsections"),
    ];
    for (yaml, key, reason) in cases {
        let dir = TempDir::new("logs-unknown");
        dir.write("default.yaml", yaml);
        let err = loader(&dir, &[]).load().unwrap_err();
        assert_eq!(err.key(), Some(key), "{err}");
        assert!(err.reason().contains(reason), "{err}");
    }
}

#[test]
fn unknown_logs_overrides_are_errors() {
    let cases = [
        ("OTLP__LOGS__ENDPOINT", "expected OTLP__LOGS__EXPORTER__KEY"),
        ("OTLP__LOGS__EXPORTER__NOPE", "has no key \"nope\""),
        ("OTLP__LOGS__BATCHES__ADAPTIVE", "no subsection \"batches\""),
        (
            "OTLP__LOGS__EXPORTER__TRACES_ENDPOINT",
            "has no key \"traces_endpoint\"",
        ),
        (
            "OTLP__LOGS__BATCH__ADAPTIVE__X",
            "logs.batch.adaptive is not a map: use OTLP__LOGS__BATCH__ADAPTIVE",
        ),
        (
            "OTLP__LOGS__A__B__C__D",
            "expected OTLP__LOGS__EXPORTER__KEY",
        ),
    ];
    for (var, reason) in cases {
        let err = load_err(&[(var, "5")]);
        assert!(matches!(err, ConfigError::UnknownKey { .. }), "{err}");
        assert_names(&err, var, "5", reason);
    }
}

// ---------------------------------------------------------------- durable queue

#[test]
fn otlp_logs_durable_overrides_set_the_log_pipelines_queue_only() {
    let config = load(&[
        ("OTLP__LOGS__DURABLE__DIRECTORY", "/var/lib/app/logs-queue"),
        ("OTLP__LOGS__DURABLE__FSYNC", "INTERVAL"),
        ("OTLP__LOGS__DURABLE__FSYNC_INTERVAL", "250ms"),
        ("OTLP__LOGS__DURABLE__MAX_BYTES", "67108864"),
        ("OTLP__LOGS__DURABLE__SEGMENT_BYTES", "1048576"),
    ]);
    assert_eq!(
        config.logs.durable,
        Some(DurableConfig {
            fsync: FsyncPolicy::Interval(Duration::from_millis(250)),
            max_bytes: 64 << 20,
            segment_bytes: 1 << 20,
            ..DurableConfig::new("/var/lib/app/logs-queue")
        })
    );
    assert_eq!(config.durable, None, "spans: untouched");

    // Each pipeline's own: unset keys take the defaults, not the other's values.
    let config = load(&[
        ("OTLP__DURABLE__DIRECTORY", "/q/spans"),
        ("OTLP__DURABLE__FSYNC", "never"),
        ("OTLP__DURABLE__MAX_BYTES", "33554432"),
        ("OTLP__LOGS__DURABLE__DIRECTORY", "/q/logs"),
    ]);
    assert_eq!(config.logs.durable, Some(DurableConfig::new("/q/logs")));
    let spans = config.durable.expect("the span pipeline's");
    assert_eq!(spans.directory, PathBuf::from("/q/spans"));
    assert_eq!(
        (spans.fsync, spans.max_bytes),
        (FsyncPolicy::Never, 32 << 20)
    );

    // The fsync interval waits for its policy per pipeline, in either order.
    let config = load(&[
        ("OTLP__DURABLE__DIRECTORY", "/q/spans"),
        ("OTLP__DURABLE__FSYNC_INTERVAL", "3s"),
        ("OTLP__LOGS__DURABLE__DIRECTORY", "/q/logs"),
        ("OTLP__LOGS__DURABLE__FSYNC", "interval"),
    ]);
    assert_eq!(
        config.logs.durable.map(|durable| durable.fsync),
        Some(FsyncPolicy::default()),
        "the spans' interval is not the log pipeline's"
    );
    assert_eq!(
        config.durable.map(|durable| durable.fsync),
        Some(FsyncPolicy::Interval(Duration::from_secs(3))),
        "the spans' own"
    );
    assert_eq!(load(&[]).logs.durable, None, "off by default");
}

#[cfg(feature = "yaml")]
#[test]
fn a_yaml_logs_durable_section_sets_the_log_pipelines_queue() {
    let dir = TempDir::new("logs-durable-yaml");
    dir.write(
        "default.yaml",
        "\
durable: { directory: /q/spans }
logs:
  durable:
    directory: /q/logs
    fsync: every_batch
    max_bytes: 1048576
    segment_bytes: 65536
",
    );
    let config = loader(&dir, &[]).load().unwrap();
    assert_eq!(
        config.logs.durable,
        Some(DurableConfig {
            fsync: FsyncPolicy::EveryBatch,
            max_bytes: 1 << 20,
            segment_bytes: 64 << 10,
            ..DurableConfig::new("/q/logs")
        })
    );
    assert_eq!(config.durable, Some(DurableConfig::new("/q/spans")));
}

#[cfg(feature = "toml")]
#[test]
fn a_toml_logs_durable_section_sets_the_log_pipelines_queue() {
    let dir = TempDir::new("logs-durable-toml");
    dir.write(
        "default.toml",
        "\
[logs.durable]
directory = \"/q/logs\"
fsync = \"interval\"
fsync_interval = \"2s\"
",
    );
    // An override wins over the file, as for every key.
    let config = loader(&dir, &[("OTLP__LOGS__DURABLE__MAX_BYTES", "33554432")])
        .load()
        .unwrap();
    assert_eq!(
        config.logs.durable,
        Some(DurableConfig {
            fsync: FsyncPolicy::Interval(Duration::from_secs(2)),
            max_bytes: 32 << 20,
            ..DurableConfig::new("/q/logs")
        })
    );
    assert_eq!(config.durable, None);
}

#[test]
fn logs_durable_set_in_code_is_checked_under_its_dotted_key() {
    let mut config = Config::default();
    config.logs.durable = Some(DurableConfig::new("/q/logs"));
    assert_eq!(config.validate(), Ok(()));

    config.logs.durable = Some(DurableConfig {
        segment_bytes: 100,
        ..DurableConfig::new("/q/logs")
    });
    let err = config.validate().unwrap_err();
    assert_names(
        &err,
        "logs.durable.segment_bytes",
        "100",
        "less than the minimum",
    );
    assert_eq!(err.origin(), ConfigSource::Builder);

    config.logs.durable = Some(DurableConfig::new(""));
    let err = config.validate().unwrap_err();
    assert_names(
        &err,
        "logs.durable.directory",
        "",
        "the durable queue needs a directory (logs.durable.directory)",
    );
}

#[test]
fn bad_logs_durable_variables_name_the_variable_and_the_value() {
    /// The variables, then the key, value and reason the error names.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        (
            &[
                ("OTLP__LOGS__DURABLE__DIRECTORY", "/q"),
                ("OTLP__LOGS__DURABLE__MAX_BYTES", "lots"),
            ],
            "OTLP__LOGS__DURABLE__MAX_BYTES",
            "lots",
            "not a whole number",
        ),
        (
            &[("OTLP__LOGS__DURABLE__FSYNC", "sometimes")],
            "OTLP__LOGS__DURABLE__FSYNC",
            "sometimes",
            "expected one of every_batch, interval, never",
        ),
        (
            &[("OTLP__LOGS__DURABLE__FSYNC_INTERVAL", "0")],
            "OTLP__LOGS__DURABLE__FSYNC_INTERVAL",
            "0",
            "",
        ),
        (
            &[("OTLP__LOGS__DURABLE__MAX_BYTES", "1048576")],
            "logs.durable.directory",
            "",
            "the durable queue needs a directory (logs.durable.directory)",
        ),
        (
            &[
                ("OTLP__LOGS__DURABLE__DIRECTORY", "/q"),
                ("OTLP__LOGS__DURABLE__SEGMENT_BYTES", "100"),
            ],
            "OTLP__LOGS__DURABLE__SEGMENT_BYTES",
            "100",
            "less than the minimum of 4096 bytes",
        ),
        (
            &[
                ("OTLP__LOGS__DURABLE__DIRECTORY", "/q"),
                ("OTLP__LOGS__DURABLE__SEGMENT_BYTES", "1073741824"),
            ],
            "OTLP__LOGS__DURABLE__SEGMENT_BYTES",
            "1073741824",
            "must be at most logs.durable.max_bytes (268435456)",
        ),
    ];
    for (env, key, value, reason) in cases {
        let err = load_err(env);
        assert_names(&err, key, value, reason);
    }
}

#[test]
fn one_durable_directory_for_both_pipelines_is_refused_naming_both_keys() {
    for (spans, logs) in [("/q/shared", "/q/shared"), ("/q/shared", "/q/shared/")] {
        let err = load_err(&[
            ("OTLP__DURABLE__DIRECTORY", spans),
            ("OTLP__LOGS__DURABLE__DIRECTORY", logs),
        ]);
        assert_names(
            &err,
            "OTLP__LOGS__DURABLE__DIRECTORY",
            logs,
            "uses this directory too (OTLP__DURABLE__DIRECTORY)",
        );
        assert!(err.reason().contains("a directory of its own"), "{err}");
    }
    // Different directories, one inside the other's parent: fine.
    let config = load(&[
        ("OTLP__DURABLE__DIRECTORY", "/q/spans"),
        ("OTLP__LOGS__DURABLE__DIRECTORY", "/q/logs"),
    ]);
    assert!(config.durable.is_some() && config.logs.durable.is_some());

    // In code: the dotted keys, from the builder.
    let mut config = Config {
        durable: Some(DurableConfig::new("/q/one")),
        ..Config::default()
    };
    config.logs.durable = Some(DurableConfig::new("/q/one"));
    let err = config.validate().unwrap_err();
    assert_names(
        &err,
        "logs.durable.directory",
        "/q/one",
        "uses this directory too (durable.directory)",
    );
    assert_eq!(err.origin(), ConfigSource::Builder);
}

#[cfg(feature = "yaml")]
#[test]
fn one_durable_directory_from_a_file_and_a_variable_is_refused_naming_each_as_spelled() {
    let dir = TempDir::new("logs-durable-shared");
    let path = dir.write("default.yaml", "logs: { durable: { directory: /q/one } }");
    let err = loader(&dir, &[("OTLP__DURABLE__DIRECTORY", "/q/one")])
        .load()
        .unwrap_err();
    assert_names(
        &err,
        "logs.durable.directory",
        "/q/one",
        "uses this directory too (OTLP__DURABLE__DIRECTORY)",
    );
    assert_eq!(err.origin(), ConfigSource::File(path));
}

#[test]
fn unknown_logs_durable_keys_are_errors() {
    let cases = [
        ("OTLP__LOGS__DURABLE__DIRECTRY", "has no key \"directry\""),
        (
            "OTLP__LOGS__DURABLE__DIRECTORY__X",
            "logs.durable.directory is not a map: use OTLP__LOGS__DURABLE__DIRECTORY",
        ),
        (
            "OTLP__METRICS__DURABLE__DIRECTORY",
            "no subsection \"durable\"",
        ),
        ("OTLP__LOGS__DURABLE", "OTLP__LOGS__DURABLE__KEY"),
    ];
    for (var, reason) in cases {
        let err = load_err(&[(var, "/q")]);
        assert!(matches!(err, ConfigError::UnknownKey { .. }), "{err}");
        assert_names(&err, var, "/q", reason);
    }
}

#[cfg(feature = "yaml")]
#[test]
fn unknown_logs_durable_keys_in_files_are_errors() {
    let dir = TempDir::new("logs-durable-unknown");
    dir.write("default.yaml", "logs: { durable: { directry: /q } }");
    let err = loader(&dir, &[]).load().unwrap_err();
    assert_eq!(err.key(), Some("logs.durable.directry"), "{err}");
    assert!(err.reason().contains("segment_bytes"), "{err}");
}

// ---------------------------------------------------------------- secrets

#[test]
fn logs_headers_and_endpoint_user_info_stay_hidden() {
    let config = load(&[
        (
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
            "authorization=Bearer%20l0gs",
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "https://user:pa55@logs:4318/v1/logs",
        ),
    ]);
    let debug = format!("{config:?}");
    assert!(!debug.contains("l0gs"), "{debug}");
    assert!(!debug.contains("pa55"), "{debug}");
    assert!(debug.contains("authorization"), "{debug}");

    let err = load_err(&[("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "authorization=l0gs,bad")]);
    assert_eq!(err.key(), Some("OTEL_EXPORTER_OTLP_LOGS_HEADERS"));
    assert!(!err.to_string().contains("l0gs"), "{err}");

    let err = load_err(&[("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "ftp://user:pa55@logs")]);
    assert!(!err.to_string().contains("pa55"), "{err}");
}
