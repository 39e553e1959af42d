//! Configuration of the metrics pipeline: `Config::metrics`, its exporter filled
//! from the generic settings with the metrics-specific ones over them
//! (`OTEL_EXPORTER_OTLP_METRICS_*`, section `metrics.exporter`,
//! `OTLP__METRICS__EXPORTER__*`), and its own settings (`OTEL_METRIC_EXPORT_*`,
//! the temporality, histogram and exemplar variables, keys of section
//! `metrics`, `OTLP__METRICS__*`). Traces- and logs-specific values never
//! reach metrics, and metrics-specific ones never reach the other signals.
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
    Compression, Config, ConfigError, ConfigSource, DefaultHistogramAggregation, ExemplarFilter,
    ExporterConfig, MetricsConfig, Protocol, TemporalityPreference,
};

mod config_support;
use config_support::{TempDir, assert_names, headers, load, load_err, loader, pairs};

/// What `0` ("no limit") is stored as for a timeout.
const NO_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

// ---------------------------------------------------------------- defaults

#[test]
fn metrics_default_to_v1_metrics_a_minute_cumulative_and_2000_series() {
    let config = load(&[]);
    assert_eq!(config.metrics, MetricsConfig::default());
    let metrics = &config.metrics;
    assert_eq!(
        metrics.exporter.endpoint_for(Signal::Metrics),
        "http://localhost:4318/v1/metrics"
    );
    assert_eq!(metrics.exporter, ExporterConfig::default());
    assert_eq!(metrics.export_interval, Duration::from_millis(60_000));
    assert_eq!(metrics.export_timeout, Duration::from_millis(30_000));
    assert_eq!(metrics.temporality, TemporalityPreference::Cumulative);
    assert_eq!(
        metrics.default_histogram_aggregation,
        DefaultHistogramAggregation::ExplicitBucketHistogram
    );
    assert_eq!(metrics.cardinality_limit, 2000);
    assert_eq!(metrics.exemplar_filter, ExemplarFilter::TraceBased);
    assert_eq!(
        (
            MetricsConfig::DEFAULT_EXPORT_INTERVAL,
            MetricsConfig::DEFAULT_EXPORT_TIMEOUT,
            MetricsConfig::DEFAULT_CARDINALITY_LIMIT,
            MetricsConfig::MIN_CARDINALITY_LIMIT,
        ),
        (Duration::from_secs(60), Duration::from_secs(30), 2000, 1)
    );
    assert_eq!(Config::default().validate(), Ok(()));
}

#[test]
fn the_choices_are_spelled_as_their_variables_values() {
    let temporalities = [
        (TemporalityPreference::Cumulative, "cumulative"),
        (TemporalityPreference::Delta, "delta"),
        (TemporalityPreference::LowMemory, "lowmemory"),
    ];
    for (value, text) in temporalities {
        assert_eq!(value.as_str(), text);
    }
    let histograms = [
        (
            DefaultHistogramAggregation::ExplicitBucketHistogram,
            "explicit_bucket_histogram",
        ),
        (
            DefaultHistogramAggregation::Base2ExponentialBucketHistogram,
            "base2_exponential_bucket_histogram",
        ),
    ];
    for (value, text) in histograms {
        assert_eq!(value.as_str(), text);
    }
    let filters = [
        (ExemplarFilter::TraceBased, "trace_based"),
        (ExemplarFilter::AlwaysOn, "always_on"),
        (ExemplarFilter::AlwaysOff, "always_off"),
    ];
    for (value, text) in filters {
        assert_eq!(value.as_str(), text);
    }
    assert_eq!(Signal::Metrics.as_str(), "metrics");
    assert_eq!(Signal::Metrics.record_noun(), "data point");
}

// ---------------------------------------------------------------- the endpoint rule

#[test]
fn endpoint_for_metrics_appends_v1_metrics_with_exactly_one_slash() {
    for base in ["http://c:4318", "http://c:4318/"] {
        let exporter = ExporterConfig {
            endpoint: Some(base.into()),
            ..ExporterConfig::default()
        };
        assert_eq!(
            exporter.endpoint_for(Signal::Metrics),
            "http://c:4318/v1/metrics"
        );
    }
    let exporter = ExporterConfig {
        endpoint: Some("https://c/base/".into()),
        protocol: Protocol::HttpJson,
        ..ExporterConfig::default()
    };
    assert_eq!(
        exporter.endpoint_for(Signal::Metrics),
        "https://c/base/v1/metrics"
    );
}

#[test]
fn the_metrics_endpoint_is_used_as_given_and_only_for_metrics() {
    let exporter = ExporterConfig {
        endpoint: Some("http://generic:4318".into()),
        traces_endpoint: Some("http://traces:1/t".into()),
        logs_endpoint: Some("http://logs:2/l".into()),
        metrics_endpoint: Some("http://metrics:3/m/".into()),
        ..ExporterConfig::default()
    };
    assert_eq!(exporter.endpoint_for(Signal::Traces), "http://traces:1/t");
    assert_eq!(exporter.endpoint_for(Signal::Logs), "http://logs:2/l");
    assert_eq!(
        exporter.endpoint_for(Signal::Metrics),
        "http://metrics:3/m/"
    );
}

#[test]
fn grpc_endpoints_for_metrics_get_no_path_and_a_scheme_from_insecure() {
    let grpc = |endpoint: Option<&str>, metrics: Option<&str>, insecure: Option<bool>| {
        let mut exporter = ExporterConfig {
            protocol: Protocol::Grpc,
            endpoint: endpoint.map(str::to_owned),
            metrics_endpoint: metrics.map(str::to_owned),
            ..ExporterConfig::default()
        };
        exporter.tls.insecure = insecure;
        exporter.endpoint_for(Signal::Metrics)
    };
    assert_eq!(grpc(None, None, None), "http://localhost:4317");
    assert_eq!(grpc(Some("c:4317"), None, None), "https://c:4317");
    assert_eq!(grpc(Some("c:4317"), None, Some(true)), "http://c:4317");
    assert_eq!(
        grpc(Some("c:4317"), Some("m:4317"), Some(true)),
        "http://m:4317"
    );
    assert_eq!(
        grpc(None, Some("http://m:4317"), Some(false)),
        "http://m:4317"
    );
}

// ---------------------------------------------------------------- exporter variables

#[test]
fn generic_variables_reach_metrics_too() {
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
    assert_eq!(config.metrics.exporter, config.exporter);
    assert_eq!(config.metrics.exporter, config.logs.exporter);
    let metrics = &config.metrics.exporter;
    assert_eq!(
        metrics.endpoint_for(Signal::Metrics),
        "https://collector:4318/v1/metrics"
    );
    assert_eq!(metrics.protocol, Protocol::HttpJson);
    assert_eq!(metrics.timeout, Duration::from_millis(2500));
    assert_eq!(metrics.compression, Compression::Gzip);
    assert_eq!(
        headers(metrics),
        pairs(&[("x-api-key", "s3cr3t"), ("x-tenant", "7")])
    );
    assert_eq!(metrics.tls.ca_certificate, Some(PathBuf::from("/ca.pem")));
    assert_eq!(
        metrics.tls.client_certificate,
        Some(PathBuf::from("/client.pem"))
    );
    assert_eq!(metrics.tls.client_key, Some(PathBuf::from("/client.key")));
    assert_eq!(metrics.tls.insecure, Some(true));
}

type Read = fn(&ExporterConfig) -> String;

/// Suffixes, with a generic, a traces, a logs and a metrics value, and how to
/// read the field.
const VARIANTS: &[(&str, [&str; 4], Read)] = &[
    (
        "PROTOCOL",
        ["grpc", "http/json", "http/json", "http/protobuf"],
        |e| e.protocol.to_string(),
    ),
    ("TIMEOUT", ["1000", "2000", "3000", "4000"], |e| {
        e.timeout.as_millis().to_string()
    }),
    ("COMPRESSION", ["gzip", "zstd", "zstd", "none"], |e| {
        e.compression.to_string()
    }),
    (
        "HEADERS",
        ["a=generic", "a=traces", "a=logs", "a=metrics"],
        |e| {
            let entries: Vec<String> = headers(e).iter().map(|(k, v)| format!("{k}={v}")).collect();
            entries.join(",")
        },
    ),
    (
        "CERTIFICATE",
        ["/generic", "/traces", "/logs", "/metrics"],
        |e| format!("{:?}", e.tls.ca_certificate),
    ),
    (
        "CLIENT_CERTIFICATE",
        ["/generic", "/traces", "/logs", "/metrics"],
        |e| format!("{:?}", e.tls.client_certificate),
    ),
    (
        "CLIENT_KEY",
        ["/generic", "/traces", "/logs", "/metrics"],
        |e| format!("{:?}", e.tls.client_key),
    ),
    ("INSECURE", ["true", "false", "false", "true"], |e| {
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
fn every_metrics_exporter_variable_wins_for_metrics_and_reaches_no_other_signal() {
    for (suffix, [generic, traces, logs, metrics], read) in VARIANTS {
        let prefixes = [
            "OTEL_EXPORTER_OTLP_",
            "OTEL_EXPORTER_OTLP_TRACES_",
            "OTEL_EXPORTER_OTLP_LOGS_",
            "OTEL_EXPORTER_OTLP_METRICS_",
        ];
        // Loads with the variable of each scope whose value is given.
        let with = |values: [Option<&str>; 4]| {
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
        let baseline = with([None, None, None, None]);

        let all = with([Some(generic), Some(traces), Some(logs), Some(metrics)]);
        assert!(read(&all.metrics.exporter).contains(metrics), "{suffix}");
        assert!(read(&all.exporter).contains(traces), "{suffix}");
        assert!(read(&all.logs.exporter).contains(logs), "{suffix}");

        let metrics_only = with([None, None, None, Some(metrics)]);
        assert!(
            read(&metrics_only.metrics.exporter).contains(metrics),
            "{suffix}"
        );
        assert_eq!(
            metrics_only.exporter, baseline.exporter,
            "OTEL_EXPORTER_OTLP_METRICS_{suffix} reached traces"
        );
        assert_eq!(
            metrics_only.logs, baseline.logs,
            "OTEL_EXPORTER_OTLP_METRICS_{suffix} reached logs"
        );

        let others_only = with([None, Some(traces), Some(logs), None]);
        assert_eq!(
            others_only.metrics, baseline.metrics,
            "OTEL_EXPORTER_OTLP_TRACES_{suffix} or _LOGS_{suffix} reached metrics"
        );

        let generic_and_others = with([Some(generic), Some(traces), Some(logs), None]);
        assert!(
            read(&generic_and_others.metrics.exporter).contains(generic),
            "{suffix}: metrics take the generic value"
        );
        let generic_and_metrics = with([Some(generic), None, None, Some(metrics)]);
        assert!(
            read(&generic_and_metrics.metrics.exporter).contains(metrics),
            "{suffix}: the metrics value beats the generic one"
        );
        assert!(
            read(&generic_and_metrics.exporter).contains(generic),
            "{suffix}: traces take the generic value"
        );
        assert!(
            read(&generic_and_metrics.logs.exporter).contains(generic),
            "{suffix}: logs take the generic value"
        );
    }
}

#[test]
fn metrics_headers_replace_the_generic_ones() {
    let config = load(&[
        ("OTEL_EXPORTER_OTLP_HEADERS", "a=1,B=2"),
        ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "l=9"),
        ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "b=3,c=4"),
    ]);
    assert_eq!(
        headers(&config.metrics.exporter),
        pairs(&[("b", "3"), ("c", "4")])
    );
    assert_eq!(headers(&config.logs.exporter), pairs(&[("l", "9")]));
    assert_eq!(headers(&config.exporter), pairs(&[("a", "1"), ("B", "2")]));
}

#[test]
fn the_metrics_endpoint_variable_is_used_as_given() {
    let config = load(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "http://metrics:9000/ingest",
        ),
    ]);
    let metrics = &config.metrics.exporter;
    assert_eq!(
        metrics.endpoint_for(Signal::Metrics),
        "http://metrics:9000/ingest"
    );
    assert_eq!(
        metrics.metrics_endpoint.as_deref(),
        Some("http://metrics:9000/ingest")
    );
    assert_eq!(metrics.endpoint.as_deref(), Some("http://generic:4318"));
    assert_eq!(
        config.exporter.traces_endpoint(),
        "http://generic:4318/v1/traces"
    );
    assert_eq!(config.exporter.metrics_endpoint, None);
    assert_eq!(config.logs.exporter.metrics_endpoint, None);
    assert_eq!(
        config.logs.exporter.endpoint_for(Signal::Logs),
        "http://generic:4318/v1/logs"
    );

    // The other signals' own endpoints do not reach metrics.
    let config = load(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:9000/t"),
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://logs:9000/l"),
    ]);
    let metrics = &config.metrics.exporter;
    assert_eq!(
        (&metrics.traces_endpoint, &metrics.logs_endpoint),
        (&None, &None)
    );
    assert_eq!(
        metrics.endpoint_for(Signal::Metrics),
        "http://localhost:4318/v1/metrics"
    );
}

#[test]
fn grpc_can_be_chosen_for_metrics_only() {
    let config = load(&[("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc")]);
    assert_eq!(config.metrics.exporter.protocol, Protocol::Grpc);
    assert_eq!(
        config.metrics.exporter.endpoint_for(Signal::Metrics),
        "http://localhost:4317"
    );
    assert_eq!(config.exporter.protocol, Protocol::HttpProtobuf);
    assert_eq!(config.logs.exporter.protocol, Protocol::HttpProtobuf);

    let config = load(&[
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "GRPC"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "metrics:4317"),
        ("OTEL_EXPORTER_OTLP_METRICS_INSECURE", "true"),
    ]);
    assert_eq!(
        config.metrics.exporter.endpoint_for(Signal::Metrics),
        "http://metrics:4317"
    );
}

// ---------------------------------------------------------------- the metrics settings

#[test]
fn metric_variables_set_the_metrics_settings_and_nothing_else() {
    let config = load(&[
        ("OTEL_METRIC_EXPORT_INTERVAL", "15000"),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "5000"),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
            "base2_exponential_bucket_histogram",
        ),
        ("OTEL_METRICS_EXEMPLAR_FILTER", "always_off"),
    ]);
    let metrics = &config.metrics;
    assert_eq!(metrics.export_interval, Duration::from_secs(15));
    assert_eq!(metrics.export_timeout, Duration::from_secs(5));
    assert_eq!(metrics.temporality, TemporalityPreference::Delta);
    assert_eq!(
        metrics.default_histogram_aggregation,
        DefaultHistogramAggregation::Base2ExponentialBucketHistogram
    );
    assert_eq!(metrics.exemplar_filter, ExemplarFilter::AlwaysOff);
    assert_eq!(metrics.cardinality_limit, 2000);
    assert_eq!(metrics.exporter, ExporterConfig::default());

    let expected = Config {
        metrics: metrics.clone(),
        ..Config::default()
    };
    assert_eq!(config, expected, "nothing outside config.metrics changed");
}

#[test]
fn metric_enum_values_are_case_insensitive() {
    type ReadChoice = fn(&MetricsConfig) -> &'static str;
    let cases: [(&str, &str, ReadChoice); 5] = [
        (
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            "LowMemory",
            |m| m.temporality.as_str(),
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            "CUMULATIVE",
            |m| m.temporality.as_str(),
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
            "Explicit_Bucket_Histogram",
            |m| m.default_histogram_aggregation.as_str(),
        ),
        ("OTEL_METRICS_EXEMPLAR_FILTER", "ALWAYS_ON", |m| {
            m.exemplar_filter.as_str()
        }),
        ("OTEL_METRICS_EXEMPLAR_FILTER", " Trace_Based ", |m| {
            m.exemplar_filter.as_str()
        }),
    ];
    for (var, value, read) in cases {
        let config = load(&[(var, value)]);
        assert_eq!(
            read(&config.metrics),
            value.trim().to_ascii_lowercase(),
            "{var}={value}"
        );
    }
}

#[test]
fn metric_export_timeout_zero_means_no_limit() {
    let config = load(&[("OTEL_METRIC_EXPORT_TIMEOUT", "0")]);
    assert_eq!(config.metrics.export_timeout, NO_TIMEOUT);
}

#[test]
fn empty_metric_variables_mean_unset() {
    let config = load(&[
        ("OTEL_METRIC_EXPORT_INTERVAL", ""),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "  "),
        ("OTEL_METRICS_EXEMPLAR_FILTER", ""),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", ""),
    ]);
    assert_eq!(config.metrics, MetricsConfig::default());
}

// ---------------------------------------------------------------- files and overrides

#[cfg(feature = "yaml")]
const METRICS_YAML: &str = "\
exporter:
  endpoint: http://collector:4318
  compression: gzip
  headers: { x-api-key: generic, x-tenant: '7' }
metrics:
  exporter:
    protocol: http/json
    headers: { x-api-key: m3trics }
  export_interval: 10s
  export_timeout: 2s
  temporality: lowmemory
  default_histogram_aggregation: base2_exponential_bucket_histogram
  cardinality_limit: 100
  exemplar_filter: always_on
";

#[cfg(feature = "yaml")]
#[test]
fn a_yaml_metrics_section_inherits_the_generic_exporter() {
    let dir = TempDir::new("metrics-yaml");
    dir.write("default.yaml", METRICS_YAML);
    let config = loader(&dir, &[]).load().unwrap();
    let metrics = &config.metrics;
    assert_eq!(
        metrics.exporter.endpoint_for(Signal::Metrics),
        "http://collector:4318/v1/metrics"
    );
    assert_eq!(metrics.exporter.protocol, Protocol::HttpJson);
    assert_eq!(metrics.exporter.compression, Compression::Gzip, "inherited");
    assert_eq!(
        headers(&metrics.exporter),
        pairs(&[("x-api-key", "m3trics")]),
        "the metrics section's headers replace the generic ones"
    );
    assert_eq!(metrics.export_interval, Duration::from_secs(10));
    assert_eq!(metrics.export_timeout, Duration::from_secs(2));
    assert_eq!(metrics.temporality, TemporalityPreference::LowMemory);
    assert_eq!(
        metrics.default_histogram_aggregation,
        DefaultHistogramAggregation::Base2ExponentialBucketHistogram
    );
    assert_eq!(metrics.cardinality_limit, 100);
    assert_eq!(metrics.exemplar_filter, ExemplarFilter::AlwaysOn);

    assert_eq!(config.exporter.protocol, Protocol::HttpProtobuf);
    assert_eq!(config.logs.exporter.protocol, Protocol::HttpProtobuf);
    assert_eq!(
        headers(&config.exporter),
        pairs(&[("x-api-key", "generic"), ("x-tenant", "7")])
    );
}

#[cfg(feature = "toml")]
#[test]
fn a_toml_metrics_section_sets_every_exporter_key() {
    let dir = TempDir::new("metrics-toml");
    dir.write(
        "default.toml",
        r#"
[metrics]
export_interval = 30000
temporality = "delta"

[metrics.exporter]
endpoint = "https://metrics-collector:4318/base"
metrics_endpoint = "https://metrics.example.com/ingest"
protocol = "grpc"
timeout = "3s"
compression = "zstd"
certificate = "/ca.pem"
client_certificate = "/client.pem"
client_key = "/client.key"
insecure = true

[metrics.exporter.headers]
authorization = "Bearer m3trics"
"#,
    );
    let config = loader(&dir, &[]).load().unwrap();
    let exporter = &config.metrics.exporter;
    assert_eq!(
        exporter.endpoint.as_deref(),
        Some("https://metrics-collector:4318/base")
    );
    assert_eq!(
        exporter.endpoint_for(Signal::Metrics),
        "https://metrics.example.com/ingest"
    );
    assert_eq!(exporter.protocol, Protocol::Grpc);
    assert_eq!(exporter.timeout, Duration::from_secs(3));
    assert_eq!(exporter.compression, Compression::Zstd);
    assert_eq!(
        headers(exporter),
        pairs(&[("authorization", "Bearer m3trics")])
    );
    assert_eq!(exporter.tls.ca_certificate, Some(PathBuf::from("/ca.pem")));
    assert_eq!(
        exporter.tls.client_certificate,
        Some(PathBuf::from("/client.pem"))
    );
    assert_eq!(exporter.tls.client_key, Some(PathBuf::from("/client.key")));
    assert_eq!(exporter.tls.insecure, Some(true));
    assert_eq!(config.metrics.export_interval, Duration::from_secs(30));
    assert_eq!(config.metrics.temporality, TemporalityPreference::Delta);
    assert_eq!(
        config.exporter,
        ExporterConfig::default(),
        "spans untouched"
    );
    assert_eq!(
        config.logs.exporter,
        ExporterConfig::default(),
        "logs untouched"
    );
}

#[cfg(feature = "yaml")]
#[test]
fn metrics_sources_override_in_order_and_specific_beats_generic() {
    let dir = TempDir::new("metrics-precedence");
    dir.write("default.yaml", METRICS_YAML);
    let metrics = |env: &[(&str, &str)]| loader(&dir, env).load().unwrap().metrics;
    let all = [
        ("OTEL_METRIC_EXPORT_INTERVAL", "20000"),
        ("OTLP__METRICS__EXPORT_INTERVAL", "30s"),
    ];
    assert_eq!(
        metrics(&all).export_interval,
        Duration::from_secs(30),
        "OTLP__ beats OTEL_*"
    );
    assert_eq!(
        metrics(&all[..1]).export_interval,
        Duration::from_secs(20),
        "OTEL_* beats the file"
    );
    assert_eq!(
        metrics(&[]).export_interval,
        Duration::from_secs(10),
        "the file beats the defaults"
    );
    let limits = [
        ("OTLP__METRICS__CARDINALITY_LIMIT", "500"),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
        ("OTLP__METRICS__TEMPORALITY", "cumulative"),
    ];
    let overridden = metrics(&limits);
    assert_eq!(overridden.cardinality_limit, 500);
    assert_eq!(overridden.temporality, TemporalityPreference::Cumulative);
    assert_eq!(
        metrics(&limits[1..2]).temporality,
        TemporalityPreference::Delta
    );

    // Within a scope the later source wins; a metrics value wins over a
    // generic one whichever source set either.
    let config = loader(
        &dir,
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "zstd"),
            ("OTLP__EXPORTER__COMPRESSION", "none"),
            ("OTLP__METRICS__EXPORTER__HEADERS__X_API_KEY", "override"),
        ],
    )
    .load()
    .unwrap();
    assert_eq!(
        config.metrics.exporter.protocol,
        Protocol::HttpJson,
        "the file's metrics.exporter.protocol beats the generic variable"
    );
    assert_eq!(config.exporter.protocol, Protocol::Grpc);
    assert_eq!(
        config.metrics.exporter.compression,
        Compression::Zstd,
        "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION beats OTLP__EXPORTER__COMPRESSION"
    );
    assert_eq!(config.exporter.compression, Compression::None);
    assert_eq!(
        headers(&config.metrics.exporter),
        pairs(&[("x-api-key", "override")]),
        "the metrics headers replace the generic ones"
    );
}

#[test]
fn otlp_metrics_overrides_reach_every_metrics_key() {
    let config = load(&[
        ("OTLP__METRICS__EXPORTER__ENDPOINT", "http://metrics:4318"),
        ("OTLP__METRICS__EXPORTER__TIMEOUT", "2s"),
        ("OTLP__METRICS__EXPORTER__HEADERS", "a=1,b=2"),
        ("OTLP__METRICS__EXPORTER__HEADERS__X_API_KEY", "k"),
        ("OTLP__METRICS__EXPORT_INTERVAL", "1m"),
        ("OTLP__METRICS__EXPORT_TIMEOUT", "0"),
        ("OTLP__METRICS__TEMPORALITY", "Delta"),
        (
            "OTLP__METRICS__DEFAULT_HISTOGRAM_AGGREGATION",
            "base2_exponential_bucket_histogram",
        ),
        ("OTLP__METRICS__CARDINALITY_LIMIT", "2"),
        ("OTLP__METRICS__EXEMPLAR_FILTER", "always_on"),
    ]);
    let metrics = &config.metrics;
    assert_eq!(
        metrics.exporter.endpoint_for(Signal::Metrics),
        "http://metrics:4318/v1/metrics"
    );
    assert_eq!(metrics.exporter.timeout, Duration::from_secs(2));
    assert_eq!(
        headers(&metrics.exporter),
        pairs(&[("a", "1"), ("b", "2"), ("x-api-key", "k")])
    );
    assert_eq!(metrics.export_interval, Duration::from_secs(60));
    assert_eq!(metrics.export_timeout, NO_TIMEOUT);
    assert_eq!(metrics.temporality, TemporalityPreference::Delta);
    assert_eq!(
        metrics.default_histogram_aggregation,
        DefaultHistogramAggregation::Base2ExponentialBucketHistogram
    );
    assert_eq!(metrics.cardinality_limit, 2);
    assert_eq!(metrics.exemplar_filter, ExemplarFilter::AlwaysOn);
    assert_eq!(config.exporter, ExporterConfig::default());
    assert_eq!(config.logs.exporter, ExporterConfig::default());

    let config = load(&[("OTLP__METRICS__EXPORTER__METRICS_ENDPOINT", "http://m:1/x")]);
    assert_eq!(
        config.metrics.exporter.endpoint_for(Signal::Metrics),
        "http://m:1/x"
    );
}

// ---------------------------------------------------------------- errors

#[test]
fn bad_metrics_variables_name_the_variable_and_the_value() {
    let cases = [
        (
            "OTEL_METRIC_EXPORT_INTERVAL",
            "soon",
            "expected whole milliseconds",
        ),
        (
            "OTEL_METRIC_EXPORT_INTERVAL",
            "60s",
            "expected whole milliseconds",
        ),
        ("OTEL_METRIC_EXPORT_INTERVAL", "0", "must be longer than 0"),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "-5", "must not be negative"),
        (
            "OTEL_METRIC_EXPORT_TIMEOUT",
            "1.5",
            "expected whole milliseconds",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            "sometimes",
            "expected one of cumulative, delta, lowmemory",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            "low_memory",
            "expected one of cumulative, delta, lowmemory",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
            "exponential",
            "expected one of explicit_bucket_histogram, base2_exponential_bucket_histogram",
        ),
        (
            "OTEL_METRICS_EXEMPLAR_FILTER",
            "sampled",
            "expected one of trace_based, always_on, always_off",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
            "brotli",
            "expected one of gzip, none, zstd",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
            "udp",
            "expected one of grpc, http/protobuf, http/json",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
            "10s",
            "expected whole milliseconds",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
            "1",
            "expected true or false",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "ftp://metrics",
            "unsupported scheme",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "metrics:4318",
            "must start with http:// or https://",
        ),
    ];
    for (var, value, reason) in cases {
        let err = load_err(&[(var, value)]);
        assert_names(&err, var, value, reason);
        assert_eq!(err.origin(), ConfigSource::Env(var.to_string()));
    }
}

#[test]
fn the_cardinality_limit_must_be_positive() {
    let err = load_err(&[("OTLP__METRICS__CARDINALITY_LIMIT", "0")]);
    assert_names(
        &err,
        "OTLP__METRICS__CARDINALITY_LIMIT",
        "0",
        "must be at least 1 (one series, beside the overflow series)",
    );
    let config = load(&[("OTLP__METRICS__CARDINALITY_LIMIT", "1")]);
    assert_eq!(config.metrics.cardinality_limit, 1);
    let err = load_err(&[("OTLP__METRICS__CARDINALITY_LIMIT", "many")]);
    assert_names(
        &err,
        "OTLP__METRICS__CARDINALITY_LIMIT",
        "many",
        "not a whole number",
    );
    let err = load_err(&[("OTLP__METRICS__CARDINALITY_LIMIT", "-3")]);
    assert_names(
        &err,
        "OTLP__METRICS__CARDINALITY_LIMIT",
        "-3",
        "must not be negative",
    );

    // Changed in code: the dotted key.
    let mut config = Config::default();
    config.metrics.cardinality_limit = 0;
    let err = config.validate().unwrap_err();
    assert_names(&err, "metrics.cardinality_limit", "0", "must be at least 1");
    assert_eq!(err.origin(), ConfigSource::Builder);
}

#[test]
fn bad_metrics_overrides_name_the_override() {
    let cases = [
        (
            "OTLP__METRICS__EXPORT_INTERVAL",
            "0",
            "must be longer than 0",
        ),
        (
            "OTLP__METRICS__EXPORT_INTERVAL",
            "1.5s",
            "whole numbers only",
        ),
        (
            "OTLP__METRICS__TEMPORALITY",
            "both",
            "expected one of cumulative, delta, lowmemory",
        ),
        (
            "OTLP__METRICS__EXEMPLAR_FILTER",
            "never",
            "expected one of trace_based, always_on, always_off",
        ),
        (
            "OTLP__METRICS__EXPORTER__COMPRESSION",
            "brotli",
            "expected one of gzip, none, zstd",
        ),
    ];
    for (var, value, reason) in cases {
        let err = load_err(&[(var, value)]);
        assert_names(&err, var, value, reason);
        assert_eq!(err.origin(), ConfigSource::Env(var.to_string()));
    }
}

#[test]
fn metrics_settings_changed_in_code_are_checked_under_their_dotted_keys() {
    type Change = fn(&mut Config);
    let cases: [(Change, &str, &str, &str); 5] = [
        (
            |c| c.metrics.export_interval = Duration::ZERO,
            "metrics.export_interval",
            "0ms",
            "must be longer than 0",
        ),
        (
            |c| c.metrics.export_timeout = Duration::ZERO,
            "metrics.export_timeout",
            "0ms",
            "must be longer than 0",
        ),
        (
            |c| c.metrics.exporter.timeout = Duration::ZERO,
            "metrics.exporter.timeout",
            "0ms",
            "must be longer than 0",
        ),
        (
            |c| c.metrics.exporter.metrics_endpoint = Some("metrics:4318".into()),
            "metrics.exporter.metrics_endpoint",
            "metrics:4318",
            "must start with http:// or https://",
        ),
        (
            |c| c.metrics.exporter.endpoint = Some("http://m:4318/?a=1".into()),
            "metrics.exporter.endpoint",
            "http://m:4318/?a=1",
            "because v1/metrics is appended",
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

#[test]
fn metrics_exporter_checks_name_the_metrics_key() {
    // A client key for metrics alone needs a certificate for metrics.
    let err = load_err(&[("OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", "/metrics.key")]);
    assert_names(
        &err,
        "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
        "<redacted>",
        "mTLS needs metrics.exporter.client_certificate (OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE or OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE) too",
    );
    let ok = load(&[
        ("OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", "/metrics.key"),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/client.pem"),
        ("OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY", "/logs.key"),
        ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/traces.key"),
    ]);
    assert_eq!(
        ok.metrics.exporter.tls.client_key,
        Some(PathBuf::from("/metrics.key"))
    );

    // A metrics base endpoint gets v1/metrics appended: no query.
    let err = load_err(&[(
        "OTLP__METRICS__EXPORTER__ENDPOINT",
        "http://metrics:4318/?a=1",
    )]);
    assert_names(
        &err,
        "OTLP__METRICS__EXPORTER__ENDPOINT",
        "http://metrics:4318/?a=1",
        "because v1/metrics is appended",
    );
}

#[test]
fn lenient_loading_ignores_bad_metrics_values_with_warnings() {
    let dir = TempDir::new("metrics-lenient");
    let (config, warnings) = loader(
        &dir,
        &[
            ("OTEL_METRIC_EXPORT_INTERVAL", "soon"),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "both"),
            ("OTEL_METRICS_EXEMPLAR_FILTER", "never"),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "brotli"),
        ],
    )
    .lenient()
    .load_with_warnings()
    .unwrap();
    assert_eq!(config.metrics, MetricsConfig::default());
    let mut keys: Vec<Option<&str>> = warnings.iter().map(|w| w.0.key()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            Some("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION"),
            Some("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"),
            Some("OTEL_METRICS_EXEMPLAR_FILTER"),
            Some("OTEL_METRIC_EXPORT_INTERVAL"),
        ]
    );
    // Overrides stay strict.
    assert!(
        loader(&dir, &[("OTLP__METRICS__TEMPORALITY", "both")])
            .lenient()
            .load()
            .is_err()
    );
}

#[cfg(feature = "yaml")]
#[test]
fn bad_metrics_file_values_name_the_dotted_key() {
    let cases = [
        (
            "metrics: { export_interval: 0 }",
            "metrics.export_interval",
            "0",
            "must be longer than 0",
        ),
        (
            "metrics: { cardinality_limit: 0 }",
            "metrics.cardinality_limit",
            "0",
            "must be at least 1",
        ),
        (
            "metrics: { temporality: sometimes }",
            "metrics.temporality",
            "sometimes",
            "expected one of cumulative, delta, lowmemory",
        ),
        (
            "metrics: { default_histogram_aggregation: linear }",
            "metrics.default_histogram_aggregation",
            "linear",
            "expected one of explicit_bucket_histogram",
        ),
        (
            "metrics: { exemplar_filter: maybe }",
            "metrics.exemplar_filter",
            "maybe",
            "expected one of trace_based, always_on, always_off",
        ),
        (
            "metrics: { exporter: { compression: brotli } }",
            "metrics.exporter.compression",
            "brotli",
            "expected one of gzip, none, zstd",
        ),
        (
            "metrics: { exporter: { metrics_endpoint: 'ftp://m' } }",
            "metrics.exporter.metrics_endpoint",
            "ftp://m",
            "unsupported scheme",
        ),
    ];
    for (yaml, key, value, reason) in cases {
        let dir = TempDir::new("metrics-bad-file");
        let path = dir.write("default.yaml", yaml);
        let err = loader(&dir, &[]).load().unwrap_err();
        assert_names(&err, key, value, reason);
        assert_eq!(err.origin(), ConfigSource::File(path));
    }
}

#[cfg(feature = "yaml")]
#[test]
fn unknown_metrics_keys_in_files_are_errors() {
    let cases = [
        (
            "metrics: { exporter: { traces_endpoint: 'http://t' } }",
            "metrics.exporter.traces_endpoint",
            "has no key \"traces_endpoint\"",
        ),
        (
            "metrics: { exporter: { logs_endpoint: 'http://t' } }",
            "metrics.exporter.logs_endpoint",
            "metrics_endpoint",
        ),
        (
            "metrics: { interval: 5s }",
            "metrics.interval",
            "expected one of exporter, export_interval, export_timeout",
        ),
        (
            "metrics: { batch: { scheduled_delay: 5s } }",
            "metrics.batch",
            "has no key \"batch\"",
        ),
        ("metrics: 3", "metrics", "must be a map of keys"),
        (
            "exporter: { metrics_endpoint: 'http://m' }",
            "exporter.metrics_endpoint",
            "has no key \"metrics_endpoint\"",
        ),
    ];
    for (yaml, key, reason) in cases {
        let dir = TempDir::new("metrics-unknown");
        dir.write("default.yaml", yaml);
        let err = loader(&dir, &[]).load().unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::UnknownKey { .. } | ConfigError::InvalidValue { .. }
            ),
            "{err}"
        );
        assert_eq!(err.key(), Some(key), "{err}");
        assert!(err.reason().contains(reason), "{err}");
    }
}

#[test]
fn unknown_metrics_overrides_are_errors() {
    let cases = [
        ("OTLP__METRICS__ENDPOINT", "has no key \"endpoint\""),
        (
            "OTLP__METRICS__EXPORTER",
            "expected OTLP__METRICS__KEY or OTLP__METRICS__EXPORTER__KEY",
        ),
        ("OTLP__METRICS__EXPORTER__NOPE", "has no key \"nope\""),
        (
            "OTLP__METRICS__BATCH__SCHEDULED_DELAY",
            "no subsection \"batch\"; expected one of exporter",
        ),
        (
            "OTLP__METRICS__EXPORTER__LOGS_ENDPOINT",
            "has no key \"logs_endpoint\"",
        ),
        (
            "OTLP__METRICS__EXPORTER__TIMEOUT__X",
            "metrics.exporter.timeout is not a map: use OTLP__METRICS__EXPORTER__TIMEOUT",
        ),
        (
            "OTLP__METRICS__A__B__C__D",
            "expected OTLP__METRICS__KEY or OTLP__METRICS__EXPORTER__KEY",
        ),
    ];
    for (var, reason) in cases {
        let err = load_err(&[(var, "5")]);
        assert!(matches!(err, ConfigError::UnknownKey { .. }), "{err}");
        assert_names(&err, var, "5", reason);
    }
}

// ---------------------------------------------------------------- secrets

#[test]
fn metrics_headers_and_endpoint_user_info_stay_hidden() {
    let config = load(&[
        (
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
            "authorization=Bearer%20m3trics",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "https://user:pa55@metrics:4318/v1/metrics",
        ),
    ]);
    let debug = format!("{config:?}");
    assert!(!debug.contains("m3trics"), "{debug}");
    assert!(!debug.contains("pa55"), "{debug}");
    assert!(debug.contains("authorization"), "{debug}");

    let err = load_err(&[(
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        "authorization=m3trics,bad",
    )]);
    assert_eq!(err.key(), Some("OTEL_EXPORTER_OTLP_METRICS_HEADERS"));
    assert!(!err.to_string().contains("m3trics"), "{err}");

    let err = load_err(&[(
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "ftp://user:pa55@metrics",
    )]);
    assert!(!err.to_string().contains("pa55"), "{err}");
}
