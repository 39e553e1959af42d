//! Metrics requests: an exporter built for `Signal::Metrics` sends to
//! `/v1/metrics` under the generic endpoint, or to the metrics endpoint
//! exactly as given, in protobuf and OTLP/JSON, and counts the data points a
//! partial success rejects (`rejected_data_points`, `rejectedDataPoints`).
//!
//! The bodies are written by hand here (not by the crates under test) and
//! decoded by the receiver with `opentelemetry-proto`.

use bytes::Bytes;
use otlp_contrib::receiver::{Fault, Signal as ReceivedSignal, Transport};
use otlp_core::encode::Encoding;
use otlp_core::wire::{WIRE_FIXED64, put_bytes_field, put_tag};
use otlp_exporter_http::{HttpExporter, HttpExporterBuilder};
use otlp_sdk::config::{Compression, ConfigLoader};
use otlp_sdk::{ExportOutcome, ExportRequest, Exporter, Signal};

use crate::support::{endpoint, export_once, receiver};

/// An `ExportMetricsServiceRequest` with one gauge of `points` integer data
/// points (`as_int` 0, 1, ...), hand-encoded.
fn protobuf_request(points: usize) -> Vec<u8> {
    let mut gauge = Vec::new();
    for value in 0..points {
        let mut point = Vec::new();
        put_tag(&mut point, 6, WIRE_FIXED64); // NumberDataPoint.as_int (sfixed64)
        point.extend_from_slice(&(value as i64).to_le_bytes());
        put_bytes_field(&mut gauge, 1, &point); // Gauge.data_points
    }
    let mut metric = Vec::new();
    put_bytes_field(&mut metric, 1, b"queue.depth"); // Metric.name
    put_bytes_field(&mut metric, 5, &gauge); // Metric.gauge
    let mut scope = Vec::new();
    put_bytes_field(&mut scope, 2, &metric); // ScopeMetrics.metrics
    let mut resource = Vec::new();
    put_bytes_field(&mut resource, 2, &scope); // ResourceMetrics.scope_metrics
    let mut request = Vec::new();
    put_bytes_field(&mut request, 1, &resource); // resource_metrics
    request
}

/// The same request in OTLP/JSON: a monotonic cumulative sum of `points`
/// data points.
fn json_request(points: usize) -> Vec<u8> {
    let data_points: Vec<String> = (0..points)
        .map(|value| format!(r#"{{"asInt":"{value}","timeUnixNano":"1700000000000000000"}}"#))
        .collect();
    format!(
        r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"requests","sum":{{"dataPoints":[{}],"aggregationTemporality":2,"isMonotonic":true}}}}]}}]}}]}}"#,
        data_points.join(",")
    )
    .into_bytes()
}

/// A request of `points` data points in `encoding`; its record count is the
/// number of data points.
fn request(encoding: Encoding, points: usize) -> ExportRequest {
    let body = match encoding {
        Encoding::Protobuf => protobuf_request(points),
        Encoding::Json => json_request(points),
    };
    ExportRequest {
        body: Bytes::from(body),
        encoding,
        span_count: points,
    }
}

#[test]
fn a_metrics_exporter_appends_v1_metrics_to_the_generic_endpoint() {
    let receiver = receiver();
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let exporter = HttpExporter::builder()
            .endpoint(endpoint(&receiver))
            .encoding(encoding)
            .signal(Signal::Metrics)
            .build()
            .expect("exporter");
        assert_eq!(exporter.signal(), Signal::Metrics);
        assert_eq!(
            export_once(&exporter, request(encoding, 5)),
            ExportOutcome::Success,
            "{encoding:?}"
        );
    }
    assert_eq!(receiver.data_point_count(), 10);
    assert_eq!((receiver.span_count(), receiver.log_record_count()), (0, 0));
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.transport, Transport::Http);
        assert_eq!(request.signal, ReceivedSignal::Metrics);
        assert_eq!(request.data_point_count, 5);
    }
    let names: Vec<String> = receiver
        .accepted_metrics()
        .into_iter()
        .map(|metric| metric.name)
        .collect();
    assert_eq!(names, ["queue.depth", "requests"]);
}

#[test]
fn the_metrics_endpoint_is_used_as_given_and_wins_over_the_generic_one() {
    let receiver = receiver();
    let url = receiver
        .http_metrics_url()
        .expect("the receiver serves HTTP");
    assert!(url.ends_with("/v1/metrics"), "{url}");
    let exporter = HttpExporter::builder()
        .endpoint("http://127.0.0.1:9")
        .metrics_endpoint(url)
        .signal(Signal::Metrics)
        .compression(Compression::Gzip)
        .build()
        .expect("exporter");
    assert_eq!(
        export_once(&exporter, request(Encoding::Protobuf, 3)),
        ExportOutcome::Success
    );
    assert_eq!(receiver.data_point_count(), 3);
    assert_eq!(
        receiver.requests()[0].content_encoding.as_deref(),
        Some("gzip")
    );

    // The other signals' endpoints are not the metrics exporter's.
    let elsewhere = HttpExporter::builder()
        .endpoint(endpoint(&receiver))
        .traces_endpoint("http://127.0.0.1:9/v1/traces")
        .logs_endpoint("http://127.0.0.1:9/v1/logs")
        .signal(Signal::Metrics)
        .build()
        .expect("exporter");
    assert_eq!(
        export_once(&elsewhere, request(Encoding::Protobuf, 2)),
        ExportOutcome::Success
    );
    assert_eq!(receiver.data_point_count(), 5);
}

#[test]
fn from_config_takes_the_metrics_section() {
    let receiver = receiver();
    let config = ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://127.0.0.1:9".to_owned(),
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                receiver.http_metrics_url().expect("HTTP"),
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
                "http/json".to_owned(),
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
                "x-tenant=metrics".to_owned(),
            ),
        ])
        .load()
        .expect("configuration");
    let exporter = HttpExporterBuilder::from_config(&config.metrics.exporter)
        .expect("builder")
        .signal(Signal::Metrics)
        .build()
        .expect("exporter");
    assert_eq!(exporter.encoding(), Encoding::Json);
    assert_eq!(
        export_once(&exporter, request(Encoding::Json, 4)),
        ExportOutcome::Success
    );
    assert_eq!(receiver.data_point_count(), 4);
    assert_eq!(receiver.requests()[0].header("x-tenant"), Some("metrics"));
}

#[test]
fn partial_success_counts_rejected_data_points_in_both_encodings() {
    let receiver = receiver();
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        receiver.push_faults([Fault::PartialSuccess {
            rejected: 2,
            message: "NaN value".into(),
        }]);
        let exporter = HttpExporter::builder()
            .endpoint(endpoint(&receiver))
            .encoding(encoding)
            .signal(Signal::Metrics)
            .build()
            .expect("exporter");
        assert_eq!(
            export_once(&exporter, request(encoding, 6)),
            ExportOutcome::PartialSuccess {
                rejected_spans: 2,
                message: "NaN value".into()
            },
            "{encoding:?}"
        );
    }
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests
            .iter()
            .all(|request| request.signal == ReceivedSignal::Metrics)
    );
}

#[test]
fn an_empty_metrics_request_is_not_sent() {
    let receiver = receiver();
    let exporter = HttpExporter::builder()
        .endpoint(endpoint(&receiver))
        .signal(Signal::Metrics)
        .build()
        .expect("exporter");
    assert_eq!(
        export_once(&exporter, request(Encoding::Protobuf, 0)),
        ExportOutcome::Success
    );
    let empty_body = ExportRequest {
        body: Bytes::new(),
        encoding: Encoding::Protobuf,
        span_count: 3,
    };
    let ExportOutcome::Permanent { error } = export_once(&exporter, empty_body) else {
        panic!("an empty body for 3 data points is refused")
    };
    assert!(
        error.to_string().contains("empty body for 3 data points"),
        "{error}"
    );
    assert_eq!(receiver.request_count(), 0);
}
