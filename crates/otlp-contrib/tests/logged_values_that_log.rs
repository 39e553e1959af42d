//! What the program's own code records while a front door formats one of
//! its records (a `Debug` field value, a `Display` argument that logs as it
//! is written) is the program's telemetry, and both front doors record it:
//! only what the log processors record while they are asked about a record
//! or handed one is left alone (`log_processors_that_log.rs`), as that would
//! be handed back to them without end.
//!
//! One test in its own binary: the global subscriber and `log` logger are
//! process-wide (under a subscriber set per thread, `tracing` itself drops
//! events made inside another's handling).

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

/// A value that logs, through `tracing` as its `Debug` is written and
/// through `log` as its `Display` is, as a lazily computed field may.
struct Chatty;

impl fmt::Debug for Chatty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tracing::warn!("written while a tracing field is formatted");
        f.write_str("chatty")
    }
}

impl fmt::Display for Chatty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        log::warn!("written while a log argument is formatted");
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

    tracing::info!(detail = ?Chatty, "through tracing");
    log::info!("through log: {}", Chatty);

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
            "through log: chatty",
            "through tracing",
            "written while a log argument is formatted",
            "written while a tracing field is formatted",
        ]
    );
    let stats = pipeline.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert_eq!(stats.exported, 4, "{stats:#?}");
}
