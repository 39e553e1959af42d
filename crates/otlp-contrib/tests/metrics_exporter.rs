//! Metrics through the exporter the configuration's metrics section names
//! (`metric_exporter_from_config`) to the embedded receiver on loopback:
//! gRPC `MetricsService/Export`, HTTP/protobuf with `v1/metrics` appended to
//! the generic endpoint, HTTP/JSON + gzip to a metrics endpoint used as given
//! while the generic one points elsewhere. Every data point arrives (decoded
//! by the receiver with `opentelemetry-proto`), each request counts its data
//! points, and partial success counts the rejected ones.

use bytes::Bytes;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point::Value};
use otlp_contrib::pipeline::metric_exporter_from_config;
use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig, Signal as ReceivedSignal};
use otlp_core::encode::MetricEncoder;
use otlp_core::wire::count_data_points;
use otlp_core::{KeyValue, Metric, MetricData, NumberDataPoint, Sum, Temporality};
use otlp_sdk::config::{Config, ConfigLoader};
use otlp_sdk::{ExportOutcome, ExportRequest, Exporter, Signal};

const POINTS: usize = 25;

/// A configuration from `env` alone (no files, no process environment).
fn config(env: &[(&str, &str)]) -> Config {
    ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env(env.iter().map(|(name, value)| (*name, *value)))
        .load()
        .expect("a valid configuration")
}

/// A counter with POINTS series (`route` = 0, 1, ...) whose value is the
/// series number.
fn metrics() -> Vec<Metric> {
    let data_points = (0..POINTS)
        .map(|i| {
            NumberDataPoint::int(
                vec![KeyValue::new("route", i as i64)],
                1_700_000_000_000_000_000,
                1_700_000_060_000_000_000,
                i as i64,
            )
        })
        .collect();
    vec![
        Metric::new(
            "http.server.requests",
            MetricData::Sum(Sum {
                data_points,
                temporality: Temporality::Cumulative,
                is_monotonic: true,
            }),
        )
        .with_unit("{request}"),
    ]
}

/// One request in the exporter's encoding; its record count is the number of
/// data points, as `wire::count_data_points` walks them in the protobuf form.
fn request(exporter: &dyn otlp_sdk::DynExporter) -> ExportRequest {
    let encoding = exporter.dyn_encoding();
    let metrics = metrics();
    let mut encoder = MetricEncoder::new();
    let mut protobuf = Vec::new();
    encoder.encode_protobuf(&metrics, &mut protobuf);
    let points = count_data_points(&protobuf).expect("a valid request") as usize;
    assert_eq!(points, POINTS);
    let mut body = Vec::new();
    encoder.encode(encoding, &metrics, &mut body);
    ExportRequest {
        body: Bytes::from(body),
        encoding,
        span_count: points,
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// Exports one request through the configuration's metrics exporter and
/// checks every data point at the receiver.
fn delivers_every_data_point(receiver: &Receiver, config: &Config) {
    let exporter = metric_exporter_from_config(config).expect("the metrics exporter builds");
    assert_eq!(exporter.signal(), Signal::Metrics);
    let outcome = block_on(exporter.export(request(exporter.as_ref())));
    assert_eq!(outcome, ExportOutcome::Success);
    assert_eq!(receiver.data_point_count(), POINTS as u64);
    assert_eq!((receiver.span_count(), receiver.log_record_count()), (0, 0));

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].signal, ReceivedSignal::Metrics);
    let metrics = receiver.accepted_metrics();
    assert_eq!(metrics.len(), 1);
    let metric = &metrics[0];
    assert_eq!(
        (metric.name.as_str(), metric.unit.as_str()),
        ("http.server.requests", "{request}")
    );
    let Some(Data::Sum(sum)) = &metric.data else {
        panic!("a sum, not {:?}", metric.data)
    };
    assert!(sum.is_monotonic);
    assert_eq!(sum.aggregation_temporality, 2);
    assert_eq!(sum.data_points.len(), POINTS);
    for (i, point) in sum.data_points.iter().enumerate() {
        assert_eq!(point.value, Some(Value::AsInt(i as i64)));
        assert_eq!(point.time_unix_nano, 1_700_000_060_000_000_000);
        assert_eq!(point.attributes[0].key, "route");
    }
}

#[test]
fn grpc_calls_metrics_service_export() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let endpoint = receiver.grpc_endpoint().unwrap();
    let config = config(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
    ]);
    delivers_every_data_point(&receiver, &config);
}

#[test]
fn http_protobuf_appends_v1_metrics_to_the_generic_endpoint() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let endpoint = receiver.http_endpoint().unwrap();
    let config = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
    delivers_every_data_point(&receiver, &config);
}

#[test]
fn http_json_with_gzip_to_the_metrics_endpoint_used_as_given() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    let url = receiver.http_metrics_url().unwrap();
    // The generic and the other signals' settings point elsewhere: the
    // metrics ones win for metrics.
    let config = config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "http://127.0.0.1:9/v1/logs",
        ),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &url),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip"),
    ]);
    delivers_every_data_point(&receiver, &config);
    assert_eq!(
        receiver.requests()[0].content_encoding.as_deref(),
        Some("gzip")
    );
}

#[test]
fn partial_success_counts_rejected_data_points() {
    let receiver = Receiver::start(ReceiverConfig::default()).unwrap();
    for protocol in ["grpc", "http/protobuf", "http/json"] {
        let endpoint = match protocol {
            "grpc" => receiver.grpc_endpoint().unwrap(),
            _ => receiver.http_metrics_url().unwrap(),
        };
        receiver.push_faults([Fault::PartialSuccess {
            rejected: 4,
            message: "out of order".into(),
        }]);
        let config = config(&[
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &endpoint),
        ]);
        let exporter = metric_exporter_from_config(&config).unwrap();
        assert_eq!(
            block_on(exporter.export(request(exporter.as_ref()))),
            ExportOutcome::PartialSuccess {
                rejected_spans: 4,
                message: "out of order".into()
            },
            "{protocol}"
        );
    }
}
