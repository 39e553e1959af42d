//! A service that names its tracers and loggers after tenants (or versions,
//! or anything else that keeps coming) meets new instrumentation scopes for
//! as long as it runs: every span and log record of every one of them
//! reaches the collector under its own scope, however many came before.
//! Until the record queue forgot the scopes no longer in use, a pipeline
//! refused every record of the 4,097th and later for good.

use std::collections::HashMap;
use std::time::Duration;

use otlp_contrib::receiver::{Receiver, ReceiverConfig};
use otlp_core::LogRecord;
use otlp_exporter_grpc::GrpcExporter;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::{BatchLogProcessor, BatchSpanProcessor, LoggerProvider, Signal, TracerProvider};

/// More scopes than the old table told apart (4,096).
const TENANTS: usize = 6_000;
const PATIENCE: Duration = Duration::from_secs(60);

#[test]
fn spans_and_log_records_of_ever_new_scopes_all_arrive_under_their_own() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("the receiver starts");
    let spans = BatchSpanProcessor::builder(
        GrpcExporter::builder()
            .endpoint(receiver.grpc_endpoint().expect("gRPC"))
            .signal(Signal::Traces)
            .build()
            .expect("gRPC exporter"),
    )
    .build()
    .expect("span pipeline");
    let logs = BatchLogProcessor::builder(
        HttpExporter::builder()
            .endpoint(receiver.http_endpoint().expect("HTTP"))
            .signal(Signal::Logs)
            .build()
            .expect("HTTP exporter"),
    )
    .build()
    .expect("log pipeline");
    let tracers = TracerProvider::builder()
        .with_processor(spans.clone())
        .build();
    let loggers = LoggerProvider::builder()
        .with_processor(logs.clone())
        .build();
    for tenant in 0..TENANTS {
        let name = format!("tenant {tenant}");
        // A tracer and a logger made per request, as handlers do.
        tracers.tracer(name.clone()).start(name.clone()).end();
        loggers
            .logger(name.clone())
            .emit(LogRecord::builder().body(name).build());
        if tenant % 500 == 499 {
            tracers.force_flush(PATIENCE).expect("spans flushed");
            loggers.force_flush(PATIENCE).expect("log records flushed");
        }
    }
    tracers.shutdown(PATIENCE).expect("span pipeline shut down");
    loggers.shutdown(PATIENCE).expect("log pipeline shut down");

    let stats = spans.stats();
    assert_eq!(
        (stats.produced, stats.exported, stats.dropped),
        (TENANTS as u64, TENANTS as u64, 0),
        "spans: {stats:?}"
    );
    let stats = logs.stats();
    assert_eq!(
        (stats.produced, stats.exported, stats.dropped),
        (TENANTS as u64, TENANTS as u64, 0),
        "log records: {stats:?}"
    );

    // Each span and log record under the scope of its tenant, decoded by
    // `opentelemetry-proto`.
    let mut span_scopes = HashMap::new();
    for request in receiver.accepted_requests() {
        for resource_spans in request.resource_spans {
            for scope_spans in resource_spans.scope_spans {
                let scope = scope_spans
                    .scope
                    .map(|scope| scope.name)
                    .unwrap_or_default();
                for span in scope_spans.spans {
                    assert_eq!(span.name, scope, "a span under another tenant's scope");
                    *span_scopes.entry(scope.clone()).or_insert(0) += 1;
                }
            }
        }
    }
    assert_eq!(span_scopes.len(), TENANTS);
    assert!(span_scopes.values().all(|&spans| spans == 1));
    let mut log_scopes = HashMap::new();
    for request in receiver.accepted_log_requests() {
        for resource_logs in request.resource_logs {
            for scope_logs in resource_logs.scope_logs {
                let scope = scope_logs.scope.map(|scope| scope.name).unwrap_or_default();
                for record in scope_logs.log_records {
                    let body = match record.body.and_then(|body| body.value) {
                        Some(
                            opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                                body,
                            ),
                        ) => body,
                        other => panic!("a string body, not {other:?}"),
                    };
                    assert_eq!(body, scope, "a log record under another tenant's scope");
                    *log_scopes.entry(scope.clone()).or_insert(0) += 1;
                }
            }
        }
    }
    assert_eq!(log_scopes.len(), TENANTS);
    assert!(log_scopes.values().all(|&records| records == 1));
}
