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
use otlp_sdk::{
    BatchLogProcessor, BatchSpanProcessor, DynExporter, LoggerProvider, Signal, TracerProvider,
};

/// More scopes than the old table told apart (4,096).
const TENANTS: usize = 6_000;
const PATIENCE: Duration = Duration::from_secs(60);

#[derive(Clone, Copy)]
enum Transport {
    Grpc,
    Http,
}

/// A span and a log pipeline to the embedded receiver, and their providers.
struct Pipelines {
    receiver: Receiver,
    spans: BatchSpanProcessor,
    logs: BatchLogProcessor,
    tracers: TracerProvider,
    loggers: LoggerProvider,
}

fn exporter(receiver: &Receiver, transport: Transport, signal: Signal) -> Box<dyn DynExporter> {
    match transport {
        Transport::Grpc => Box::new(
            GrpcExporter::builder()
                .endpoint(receiver.grpc_endpoint().expect("gRPC"))
                .signal(signal)
                .build()
                .expect("gRPC exporter"),
        ),
        Transport::Http => Box::new(
            HttpExporter::builder()
                .endpoint(receiver.http_endpoint().expect("HTTP"))
                .signal(signal)
                .build()
                .expect("HTTP exporter"),
        ),
    }
}

fn pipelines(spans: Transport, logs: Transport) -> Pipelines {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("the receiver starts");
    let spans = BatchSpanProcessor::builder(exporter(&receiver, spans, Signal::Traces))
        .build()
        .expect("span pipeline");
    let logs = BatchLogProcessor::builder(exporter(&receiver, logs, Signal::Logs))
        .build()
        .expect("log pipeline");
    let tracers = TracerProvider::builder()
        .with_processor(spans.clone())
        .build();
    let loggers = LoggerProvider::builder()
        .with_processor(logs.clone())
        .build();
    Pipelines {
        receiver,
        spans,
        logs,
        tracers,
        loggers,
    }
}

#[test]
fn spans_and_log_records_of_ever_new_scopes_all_arrive_under_their_own() {
    let Pipelines {
        receiver,
        spans,
        logs,
        tracers,
        loggers,
    } = pipelines(Transport::Grpc, Transport::Http);
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

/// Tracers and loggers made per request on four threads, all of one name
/// and version, told apart by a `tenant` attribute (and, for every other
/// tenant, a schema URL): scopes the loop finds by all they encode to, not
/// by their name. Every span and log record arrives under its own tenant's
/// scope, attributes and schema URL.
#[test]
fn records_of_scopes_of_one_name_told_apart_by_attributes_arrive_under_their_own() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use otlp_core::{InstrumentationScope, KeyValue};
    const THREADS: usize = 4;
    const PER_THREAD: usize = 1_500;
    const SCOPE_TENANTS: usize = 2_000;
    let Pipelines {
        receiver,
        spans,
        logs,
        tracers,
        loggers,
    } = pipelines(Transport::Http, Transport::Grpc);
    let tenant_of = |t: usize, i: usize| (t * PER_THREAD + i) * 7_919 % SCOPE_TENANTS;
    let scope_of = |tenant: usize| {
        let scope = InstrumentationScope::new("handler")
            .with_version("1")
            .with_attributes([KeyValue::new("tenant", tenant as i64)]);
        if tenant % 2 == 1 {
            scope.with_schema_url("https://example.com/odd")
        } else {
            scope
        }
    };
    std::thread::scope(|threads| {
        for t in 0..THREADS {
            let (tracers, loggers) = (&tracers, &loggers);
            threads.spawn(move || {
                for i in 0..PER_THREAD {
                    let tenant = tenant_of(t, i);
                    let name = format!("{tenant} {t}-{i}");
                    tracers
                        .tracer_with_scope(scope_of(tenant))
                        .start(name.clone())
                        .end();
                    loggers
                        .logger_with_scope(scope_of(tenant))
                        .emit(LogRecord::builder().body(name).build());
                }
            });
        }
    });
    tracers.shutdown(PATIENCE).expect("span pipeline shut down");
    loggers.shutdown(PATIENCE).expect("log pipeline shut down");
    let records = (THREADS * PER_THREAD) as u64;
    let stats = spans.stats();
    assert_eq!(
        (stats.produced, stats.exported, stats.dropped),
        (records, records, 0),
        "spans: {stats:?}"
    );
    let stats = logs.stats();
    assert_eq!(
        (stats.produced, stats.exported, stats.dropped),
        (records, records, 0),
        "log records: {stats:?}"
    );

    // The tenant a record names, and the one of its scope.
    let check = |name: &str,
                 scope: Option<&opentelemetry_proto::tonic::common::v1::InstrumentationScope>,
                 schema_url: &str| {
        let scope = scope.expect("a scope");
        let tenant: usize = name
            .split_once(' ')
            .and_then(|(tenant, _)| tenant.parse().ok())
            .expect("a name of the test");
        let attribute = scope.attributes.first().and_then(|kv| kv.value.as_ref());
        assert_eq!(
            (
                scope.name.as_str(),
                scope.attributes.len(),
                attribute.and_then(|value| value.value.as_ref()),
                schema_url,
            ),
            (
                "handler",
                1,
                Some(&Value::IntValue(tenant as i64)),
                if tenant % 2 == 1 {
                    "https://example.com/odd"
                } else {
                    ""
                },
            ),
            "the scope of {name}"
        );
        name.to_owned()
    };
    let mut span_names = Vec::new();
    for request in receiver.accepted_requests() {
        for resource_spans in request.resource_spans {
            for scope_spans in resource_spans.scope_spans {
                for span in &scope_spans.spans {
                    span_names.push(check(
                        &span.name,
                        scope_spans.scope.as_ref(),
                        &scope_spans.schema_url,
                    ));
                }
            }
        }
    }
    let mut log_names = Vec::new();
    for request in receiver.accepted_log_requests() {
        for resource_logs in request.resource_logs {
            for scope_logs in resource_logs.scope_logs {
                for record in &scope_logs.log_records {
                    let body = match record.body.as_ref().and_then(|body| body.value.as_ref()) {
                        Some(Value::StringValue(body)) => body.clone(),
                        other => panic!("a string body, not {other:?}"),
                    };
                    log_names.push(check(
                        &body,
                        scope_logs.scope.as_ref(),
                        &scope_logs.schema_url,
                    ));
                }
            }
        }
    }
    for names in [&mut span_names, &mut log_names] {
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), THREADS * PER_THREAD, "every record once");
    }
}
