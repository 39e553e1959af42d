//! A program sets one global `tracing` subscriber with `OtlpLayer` (spans
//! over gRPC) and `OtlpLogLayer`s (log records over gRPC and over HTTP)
//! exporting through the real exporters to the embedded receiver. The
//! exporters' own `tracing` events (h2, hyper, tonic, reqwest, on the
//! pipelines' threads) must never come back as log records or spans: what
//! arrives is exactly what the application recorded.
//!
//! One test in its own binary: the global subscriber is process-wide.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use otlp_contrib::pipeline::{build_log_processor, build_processor};
use otlp_contrib::receiver::{Receiver, ReceiverConfig};
use otlp_contrib::tracing::{OtlpLayer, OtlpLogLayer};
use otlp_sdk::config::{Config, ConfigLoader};
use otlp_sdk::{LoggerProvider, StatsSnapshot, TracerProvider};
use tracing_subscriber::layer::SubscriberExt as _;

const PATIENCE: Duration = Duration::from_secs(30);
/// Spans entered, each with two events: a `TRACE` one and a `WARN` one.
const ENTERED: u64 = 200;
/// Spans never entered, each with one event naming it as its parent: the
/// log layer starts the pending span to read its ids.
const PENDING: u64 = 20;
const SPANS: u64 = ENTERED + PENDING;
const RECORDS: u64 = 2 * ENTERED + PENDING;

fn config(env: &[(&str, &str)]) -> Config {
    ConfigLoader::new()
        .with_env(env.iter().map(|(name, value)| (*name, *value)))
        .load()
        .expect("the configuration loads")
}

fn assert_only_the_application(what: &str, stats: &StatsSnapshot, expected: u64) {
    assert!(stats.is_balanced(), "{what}: {stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(stats.produced, expected, "{what}: {stats:#?}");
    assert_eq!(stats.exported, expected, "{what}: {stats:#?}");
}

#[test]
fn the_pipelines_own_events_never_become_log_records() {
    let grpc = Receiver::start(ReceiverConfig::default()).expect("the gRPC receiver starts");
    let http = Receiver::start(ReceiverConfig::default()).expect("the HTTP receiver starts");
    let grpc_endpoint = grpc.grpc_endpoint().expect("gRPC is on");
    let http_endpoint = http.http_endpoint().expect("HTTP is on");
    let grpc_config = config(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &grpc_endpoint),
    ]);
    let http_config = config(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &http_endpoint),
    ]);

    let span_processor = build_processor(&grpc_config).expect("the gRPC span pipeline builds");
    let tracers = TracerProvider::builder()
        .with_service_name("global-app")
        .with_processor(span_processor.clone())
        .build();
    let grpc_logs = build_log_processor(&grpc_config).expect("the gRPC log pipeline builds");
    let grpc_loggers = LoggerProvider::builder()
        .with_service_name("global-app")
        .with_processor(grpc_logs.clone())
        .build();
    let http_logs = build_log_processor(&http_config).expect("the HTTP log pipeline builds");
    let http_loggers = LoggerProvider::builder()
        .with_service_name("global-app")
        .with_processor(http_logs.clone())
        .build();

    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(OtlpLayer::new(&tracers))
            .with(OtlpLogLayer::new(&grpc_loggers))
            .with(OtlpLogLayer::new(&http_loggers)),
    )
    .expect("the only global subscriber in this binary");

    for i in 0..ENTERED {
        if i < PENDING {
            let pending = tracing::info_span!("pending", i);
            tracing::info!(parent: &pending, i, "pending");
        }
        let _span = tracing::trace_span!("application", i).entered();
        tracing::trace!(i, "working");
        tracing::warn!(i, "slow");
        if i % 50 == 0 {
            // Exports run while the application records: the exporters'
            // events happen under the global subscriber.
            grpc_loggers.force_flush(PATIENCE).expect("flushes");
            http_loggers.force_flush(PATIENCE).expect("flushes");
            tracers.force_flush(PATIENCE).expect("flushes");
        }
    }
    tracers.shutdown(PATIENCE).expect("spans shut down");
    grpc_loggers
        .shutdown(PATIENCE)
        .expect("gRPC logs shut down");
    http_loggers
        .shutdown(PATIENCE)
        .expect("HTTP logs shut down");

    assert_only_the_application("spans", &span_processor.stats(), SPANS);
    assert_only_the_application("gRPC logs", &grpc_logs.stats(), RECORDS);
    assert_only_the_application("HTTP logs", &http_logs.stats(), RECORDS);
    assert!(grpc.wait_for_spans(SPANS, PATIENCE));
    assert!(grpc.wait_for_log_records(RECORDS, PATIENCE));
    assert!(http.wait_for_log_records(RECORDS, PATIENCE));
    assert_eq!(http.span_count(), 0);

    let spans: HashMap<_, _> = grpc
        .accepted_spans()
        .into_iter()
        .map(|span| (span.span_id.clone(), span))
        .collect();
    assert_eq!(spans.len() as u64, SPANS);
    for (receiver, name) in [(&grpc, "gRPC"), (&http, "HTTP")] {
        let records = receiver.accepted_logs();
        assert_eq!(
            records.len() as u64,
            RECORDS,
            "{name}: exactly the application's"
        );
        for record in &records {
            let body = match record.body.as_ref().and_then(|body| body.value.as_ref()) {
                Some(Value::StringValue(text)) => text.as_str(),
                other => panic!("{name}: a string body, not {other:?}"),
            };
            assert!(
                matches!(body, "working" | "slow" | "pending"),
                "{name}: not the application's: {body:?}"
            );
            let span = spans
                .get(&record.span_id)
                .unwrap_or_else(|| panic!("{name}: the record's span was exported"));
            assert_eq!(record.trace_id, span.trace_id, "{name}");
        }
    }
}
