//! A log processor is the program's code, and it may log what it does
//! through `tracing` or `log` (a record it filters out, a sink that fails).
//! Through a front door of this crate on the same provider, each record it
//! is handed would make one more, handed to it in turn: a recursion without
//! end, until the thread's stack overflows. `tracing` drops such nested
//! events under a subscriber set per thread (`with_default`), not under a
//! global one, and `log` never does; so the front doors leave alone what is
//! recorded while processors run on that thread (asked about a record,
//! given one, flushed or shut down: through `log::logger().flush()` or by
//! the program's own call to a provider, whichever thread runs them).
//!
//! One test in its own binary: the global subscriber and `log` logger are
//! process-wide.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use otlp_contrib::log_bridge::OtlpLogger;
use otlp_contrib::tracing::OtlpLogLayer;
use otlp_core::encode::Encoding;
use otlp_core::{InstrumentationScope, LogRecord, Severity, SpanData};
use otlp_sdk::{
    BatchLogProcessor, ExportOutcome, ExportRequest, Exporter, LogProcessor, LoggerProvider,
    PipelineError, Signal, SpanProcessor, TracerProvider,
};
use prost::Message as _;
use tracing_subscriber::layer::SubscriberExt as _;

const PATIENCE: Duration = Duration::from_secs(30);

/// Calls a [`Talkative`] processor logs from before it stops (so that the
/// recursion, if it happens, ends in counts that are too high, not in a
/// stack overflow).
const TALKS: usize = 20;

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

/// A processor that logs, through `tracing` and `log`, each time it is
/// asked whether it takes a record and each time it is given one, then
/// hands the record on.
struct Talkative {
    next: BatchLogProcessor,
    asked: Arc<AtomicUsize>,
    given: Arc<AtomicUsize>,
}

impl LogProcessor for Talkative {
    fn on_emit(&self, record: &mut LogRecord) {
        if self.given.fetch_add(1, Ordering::SeqCst) < TALKS {
            tracing::debug!("the processor was given a record");
            log::debug!("the processor was given a record");
        }
        self.next.on_emit(record);
    }

    fn enabled(&self, _: &InstrumentationScope, _: Severity, _: &str) -> bool {
        if self.asked.fetch_add(1, Ordering::SeqCst) < TALKS {
            tracing::trace!("the processor was asked");
            log::trace!("the processor was asked");
        }
        true
    }

    fn force_flush(&self, timeout: Duration) -> Result<(), PipelineError> {
        tracing::debug!("the processor flushes");
        log::debug!("the processor flushes");
        self.next.force_flush(timeout)
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), PipelineError> {
        tracing::debug!("the processor shuts down");
        log::debug!("the processor shuts down");
        self.next.shutdown(timeout)
    }
}

/// A processor that only logs when it is flushed or shut down, through
/// `tracing` (an event and a span) and `log`: of a provider other than the
/// front doors', whose records would reach the front doors' processors.
struct FlushTalker;

impl FlushTalker {
    fn talk(&self, what: &str) -> Result<(), PipelineError> {
        tracing::info_span!("a processor's span").in_scope(|| tracing::info!("{what}"));
        log::info!("{what}");
        Ok(())
    }
}

impl LogProcessor for FlushTalker {
    fn on_emit(&self, _: &mut LogRecord) {}

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        self.talk("another log processor flushes")
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        self.talk("another log processor shuts down")
    }
}

impl SpanProcessor for FlushTalker {
    fn on_end(&self, _: SpanData) {}

    fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
        self.talk("a span processor flushes")
    }

    fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
        self.talk("a span processor shuts down")
    }
}

#[test]
fn what_a_processor_logs_while_it_handles_a_record_is_not_handed_back_to_it() {
    let exporter = Decoding::default();
    let pipeline = BatchLogProcessor::builder(exporter.clone())
        .build()
        .expect("the log pipeline builds");
    let asked = Arc::new(AtomicUsize::new(0));
    let given = Arc::new(AtomicUsize::new(0));
    let provider = LoggerProvider::builder()
        .with_service_name("log-processors-that-log")
        .with_processor(Talkative {
            next: pipeline.clone(),
            asked: asked.clone(),
            given: given.clone(),
        })
        .build();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(OtlpLogLayer::new(&provider)),
    )
    .expect("the first global subscriber");
    OtlpLogger::new(&provider)
        .install(log::LevelFilter::Trace)
        .expect("the first log logger");

    tracing::info!("through tracing");
    log::info!("through log");
    // `log`'s flush flushes the provider: what the processor logs while it
    // flushes is not handed to it in the middle of its flush either.
    log::logger().flush();
    // Nor when the program flushes the provider itself (its one processor
    // on this thread).
    provider
        .force_flush(PATIENCE)
        .expect("the pipeline flushes");
    // Nor what other providers' processors log while the program flushes
    // and shuts them down: two log processors (each on a thread of its
    // own), one span processor (on this thread).
    let other_logs = LoggerProvider::builder()
        .with_processor(FlushTalker)
        .with_processor(FlushTalker)
        .build();
    other_logs.force_flush(PATIENCE).expect("they flush");
    other_logs.shutdown(PATIENCE).expect("they shut down");
    let spans = TracerProvider::builder()
        .with_processor(FlushTalker)
        .build();
    spans.force_flush(PATIENCE).expect("it flushes");
    spans.shutdown(PATIENCE).expect("it shuts down");

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
    assert_eq!(bodies, ["through log", "through tracing"]);
    assert_eq!(given.load(Ordering::SeqCst), 2, "the application's records");
    assert_eq!(
        asked.load(Ordering::SeqCst),
        2,
        "about the application's records"
    );
    let stats = pipeline.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert_eq!(stats.exported, 2, "{stats:#?}");
}
