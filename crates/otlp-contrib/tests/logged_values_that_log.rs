//! What the program's own code records while a front door formats one of
//! its records (a `Debug` field value, a `Display` argument that logs as it
//! is written) is the program's telemetry, and both front doors record it:
//! only what the log processors record while they are asked about a record
//! or handed one is left alone (`log_processors_that_log.rs`), as that would
//! be handed back to them without end.
//!
//! One test in its own binary: the global subscriber and `log` logger are
//! process-wide.
//!
//! Not pinned here: a `tracing` event made while a `tracing` field is
//! formatted. `tracing` itself drops an event made inside another's
//! dispatch as soon as any thread of the process has a dispatcher of its
//! own, and the pipeline's threads take their no-op one once the program
//! has set a subscriber (at their next turn): from then on no layer sees
//! such an event. What is made through the other front door (`log` inside a
//! `tracing` field, `tracing` inside a `log` argument) or through `log`
//! inside `log` reaches the front doors whatever threads have.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use otlp_contrib::log_bridge::OtlpLogger;
use otlp_contrib::tracing::OtlpLogLayer;
use otlp_core::encode::Encoding;
use otlp_sdk::{BatchLogProcessor, ExportOutcome, ExportRequest, Exporter, LoggerProvider, Signal};
use prost::Message as _;
use tracing_subscriber::layer::SubscriberExt as _;

const PATIENCE: Duration = Duration::from_secs(30);

/// An exporter that decodes every request as a collector would.
#[derive(Clone, Default)]
struct Decoding(Arc<Mutex<Vec<ExportLogsServiceRequest>>>);

impl Exporter for Decoding {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        Signal::Logs
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        let decoded = ExportLogsServiceRequest::decode(request.body)
            .expect("every request decodes with opentelemetry-proto");
        self.0.lock().unwrap().push(decoded);
        ExportOutcome::Success
    }
}

/// A value that logs through `log` as it is written, in a `tracing` field
/// (`Debug`) or a `log` argument (`Display`), as a lazily computed value may.
struct LogsThroughLog;

impl fmt::Debug for LogsThroughLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        log::warn!("logged while a tracing field is formatted");
        f.write_str("chatty")
    }
}

impl fmt::Display for LogsThroughLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        log::warn!("logged while a log argument is formatted");
        f.write_str("chatty")
    }
}

/// A value that records a `tracing` event as its `Display` is written.
struct TracesThroughTracing;

impl fmt::Display for TracesThroughTracing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tracing::warn!("traced while a log argument is formatted");
        f.write_str("chatty")
    }
}

#[test]
fn what_a_logged_value_records_while_it_is_formatted_is_recorded_too() {
    let exporter = Decoding::default();
    let pipeline = BatchLogProcessor::builder(exporter.clone())
        .build()
        .expect("the log pipeline builds");
    let provider = LoggerProvider::builder()
        .with_service_name("logged-values-that-log")
        .with_processor(pipeline.clone())
        .build();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(OtlpLogLayer::new(&provider)),
    )
    .expect("the first global subscriber");
    OtlpLogger::new(&provider)
        .install(log::LevelFilter::Trace)
        .expect("the first log logger");

    // The pipeline's threads take their no-op dispatcher at their next
    // turn, which a flush makes: the state a program is in from then on.
    provider
        .force_flush(PATIENCE)
        .expect("nothing recorded yet");

    tracing::info!(detail = ?LogsThroughLog, "through tracing");
    log::info!("through log: {}", LogsThroughLog);
    log::info!("through log again: {}", TracesThroughTracing);

    provider
        .shutdown(PATIENCE)
        .expect("the pipeline shuts down");
    let mut bodies = Vec::new();
    for request in exporter.0.lock().unwrap().iter() {
        for resource_logs in &request.resource_logs {
            for scope_logs in &resource_logs.scope_logs {
                for record in &scope_logs.log_records {
                    match record.body.as_ref().and_then(|body| body.value.as_ref()) {
                        Some(Value::StringValue(text)) => bodies.push(text.clone()),
                        other => panic!("a text body, not {other:?}"),
                    }
                }
            }
        }
    }
    bodies.sort();
    assert_eq!(
        bodies,
        [
            "logged while a log argument is formatted",
            "logged while a tracing field is formatted",
            "through log again: chatty",
            "through log: chatty",
            "through tracing",
            "traced while a log argument is formatted",
        ]
    );
    let stats = pipeline.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert_eq!(stats.exported, 6, "{stats:#?}");
}
