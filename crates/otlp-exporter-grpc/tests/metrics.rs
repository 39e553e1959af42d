//! Metrics requests: an exporter built for `Signal::Metrics` calls
//! `opentelemetry.proto.collector.metrics.v1.MetricsService/Export` on the
//! real receiver of otlp-contrib, its configuration comes from the metrics
//! section, and a partial success counts the rejected data points
//! (`rejected_data_points`).
//!
//! The requests are built with `opentelemetry-proto` (not by the crates under
//! test), and the receiver decodes them with it.

mod support;

use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1 as pm;
use otlp_contrib::receiver::{
    Fault, Receiver, ReceiverConfig, Signal as ReceivedSignal, Transport,
};
use otlp_core::encode::Encoding;
use otlp_exporter_grpc::{
    GrpcExporter, GrpcExporterBuilder, LOGS_EXPORT_PATH, METRICS_EXPORT_PATH, TRACE_EXPORT_PATH,
    export_path,
};
use otlp_sdk::config::{Compression, ConfigLoader};
use otlp_sdk::{ExportOutcome, ExportRequest, Exporter, Signal};
use prost::Message;
use support::block_on;

fn receiver() -> Receiver {
    Receiver::start(ReceiverConfig::default()).expect("receiver starts")
}

/// A request with one histogram of `points` data points; its record count is
/// the number of data points.
fn request(points: usize) -> ExportRequest {
    let data_points = (0..points)
        .map(|i| pm::HistogramDataPoint {
            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            count: 2,
            sum: Some(7.5),
            bucket_counts: vec![1, 1],
            explicit_bounds: vec![5.0],
            ..Default::default()
        })
        .collect();
    let metric = pm::Metric {
        name: "http.server.duration".into(),
        unit: "ms".into(),
        data: Some(pm::metric::Data::Histogram(pm::Histogram {
            data_points,
            aggregation_temporality: pm::AggregationTemporality::Delta as i32,
        })),
        ..Default::default()
    };
    let message = ExportMetricsServiceRequest {
        resource_metrics: vec![pm::ResourceMetrics {
            scope_metrics: vec![pm::ScopeMetrics {
                metrics: vec![metric],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    ExportRequest {
        body: Bytes::from(message.encode_to_vec()),
        encoding: Encoding::Protobuf,
        span_count: points,
    }
}

#[test]
fn each_signal_has_its_method() {
    assert_eq!(
        METRICS_EXPORT_PATH,
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
    );
    assert_eq!(export_path(Signal::Metrics), METRICS_EXPORT_PATH);
    assert_eq!(export_path(Signal::Logs), LOGS_EXPORT_PATH);
    assert_eq!(export_path(Signal::Traces), TRACE_EXPORT_PATH);
}

#[test]
fn a_metrics_exporter_calls_metrics_service_export() {
    let receiver = receiver();
    for compression in [Compression::None, Compression::Gzip] {
        let exporter = GrpcExporter::builder()
            .endpoint(receiver.grpc_endpoint().expect("gRPC listener"))
            .signal(Signal::Metrics)
            .compression(compression)
            .timeout(Duration::from_secs(5))
            .build()
            .expect("exporter builds");
        assert_eq!(exporter.signal(), Signal::Metrics);
        assert_eq!(
            block_on(exporter.export(request(4))),
            ExportOutcome::Success,
            "{compression:?}"
        );
    }
    assert_eq!(receiver.data_point_count(), 8);
    assert_eq!((receiver.span_count(), receiver.log_record_count()), (0, 0));
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.transport, Transport::Grpc);
        assert_eq!(request.signal, ReceivedSignal::Metrics);
        assert_eq!(request.data_point_count, 4);
    }
    assert_eq!(requests[1].content_encoding.as_deref(), Some("gzip"));
    let metric = &receiver.accepted_metrics()[0];
    assert_eq!(
        (metric.name.as_str(), metric.unit.as_str()),
        ("http.server.duration", "ms")
    );
}

#[test]
fn from_config_for_metrics_takes_the_metrics_endpoint_and_settings() {
    let receiver = receiver();
    let config = ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://127.0.0.1:9".to_owned(),
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                receiver.grpc_endpoint().expect("gRPC listener"),
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
                "x-tenant=metrics".to_owned(),
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip".to_owned()),
        ])
        .load()
        .expect("configuration");
    let exporter = GrpcExporterBuilder::from_config_for(&config.metrics.exporter, Signal::Metrics)
        .expect("builder")
        .build()
        .expect("exporter builds");
    assert_eq!(exporter.signal(), Signal::Metrics);
    assert_eq!(
        block_on(exporter.export(request(3))),
        ExportOutcome::Success
    );
    assert_eq!(receiver.data_point_count(), 3);
    let received = &receiver.requests()[0];
    assert_eq!(received.signal, ReceivedSignal::Metrics);
    assert_eq!(received.header("x-tenant"), Some("metrics"));
    assert_eq!(received.content_encoding.as_deref(), Some("gzip"));
}

#[test]
fn partial_success_counts_rejected_data_points() {
    let receiver = receiver();
    receiver.push_faults([
        Fault::PartialSuccess {
            rejected: 3,
            message: "NaN value".into(),
        },
        Fault::PartialSuccess {
            rejected: 0,
            message: "deprecated unit".into(),
        },
    ]);
    let exporter = GrpcExporter::builder()
        .endpoint(receiver.grpc_endpoint().expect("gRPC listener"))
        .signal(Signal::Metrics)
        .build()
        .expect("exporter builds");
    assert_eq!(
        block_on(exporter.export(request(10))),
        ExportOutcome::PartialSuccess {
            rejected_spans: 3,
            message: "NaN value".into()
        }
    );
    assert_eq!(
        block_on(exporter.export(request(1))),
        ExportOutcome::PartialSuccess {
            rejected_spans: 0,
            message: "deprecated unit".into()
        },
        "a message without rejections is a warning"
    );
    assert!(
        receiver
            .requests()
            .iter()
            .all(|request| request.signal == ReceivedSignal::Metrics)
    );
}

#[test]
fn a_request_without_data_points_is_not_sent() {
    let receiver = receiver();
    let exporter = GrpcExporter::builder()
        .endpoint(receiver.grpc_endpoint().expect("gRPC listener"))
        .signal(Signal::Metrics)
        .build()
        .expect("exporter builds");
    assert_eq!(
        block_on(exporter.export(request(0))),
        ExportOutcome::Success
    );
    assert_eq!(receiver.request_count(), 0);
}
