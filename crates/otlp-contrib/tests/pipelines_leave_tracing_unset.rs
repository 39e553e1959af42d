//! A pipeline's threads keep what they do out of `tracing` by giving
//! themselves a no-op dispatcher. That must not tell `tracing` that the
//! program uses it: while no dispatcher has been set, `tracing`'s `log`
//! feature turns every event into a `log` record, which a program that
//! records through the `log` crate (and `OtlpLogger`) relies on to see its
//! dependencies' `tracing` events. Once the program sets a subscriber, what
//! the pipeline's threads record never reaches it.
//!
//! One test in its own binary: whether a dispatcher has been set, and the
//! global subscriber, are process-wide.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use log::{Level, Log as _, Record};
use otlp_contrib::log_bridge::OtlpLogger;
use otlp_core::encode::Encoding;
use otlp_sdk::{
    BatchLogProcessor, ExportOutcome, ExportRequest, Exporter, LoggerProvider, Signal, own_threads,
};
use tracing_subscriber::layer::SubscriberExt as _;

const PATIENCE: Duration = Duration::from_secs(30);

/// An exporter that records a `tracing` event as it exports, as a
/// transport's dependencies (h2, tower) do, and accepts every request.
#[derive(Clone, Default)]
struct Instrumented(Arc<AtomicUsize>);

impl Exporter for Instrumented {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        Signal::Logs
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        self.0.fetch_add(1, Ordering::SeqCst);
        tracing::warn!("exporting");
        ExportOutcome::Success
    }
}

/// Counts the events it sees, by the thread that recorded them.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Option<String>>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Seen {
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let thread = std::thread::current().name().map(str::to_owned);
        self.0.lock().unwrap().push(thread);
    }
}

fn log(logger: &OtlpLogger, body: &str) {
    logger.log(
        &Record::builder()
            .level(Level::Info)
            .args(format_args!("{body}"))
            .build(),
    );
}

#[test]
fn a_pipeline_leaves_tracing_unset_until_the_program_sets_a_subscriber() {
    assert!(
        !tracing::dispatcher::has_been_set(),
        "nothing in this binary has set a dispatcher yet"
    );
    let exports = Instrumented::default();
    let pipeline = BatchLogProcessor::builder(exports.clone())
        .build()
        .expect("the log pipeline builds");
    let provider = LoggerProvider::builder()
        .with_service_name("tracing-left-unset")
        .with_processor(pipeline.clone())
        .build();
    let logger = OtlpLogger::new(&provider);
    log(&logger, "before");
    provider.force_flush(PATIENCE).expect("flushes");
    assert_eq!(exports.0.load(Ordering::SeqCst), 1, "the loop has run");
    // What exporter builders do on the application's thread.
    own_threads::as_own(|| ());
    assert!(
        !tracing::dispatcher::has_been_set(),
        "the pipeline's threads and its work on this one made `tracing` \
         believe a dispatcher is set: its `log` fallback stops on every thread"
    );

    let seen = Seen::default();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(seen.clone()))
        .expect("the only global subscriber in this binary");
    // The loop takes the no-op dispatcher at the start of its next turn: a
    // turn under way as the subscriber was set may still export where the
    // subscriber sees it. Once a flush asked after it is answered, every
    // later turn starts after it.
    log(&logger, "between");
    provider.force_flush(PATIENCE).expect("flushes");
    seen.0.lock().unwrap().clear();
    log(&logger, "after");
    provider.force_flush(PATIENCE).expect("flushes");
    assert_eq!(exports.0.load(Ordering::SeqCst), 3);
    tracing::info!("the application's own event");
    provider.shutdown(PATIENCE).expect("shuts down");

    let here = std::thread::current().name().map(str::to_owned);
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        [here],
        "only the application's event, not the exporter's"
    );
    let stats = pipeline.stats();
    assert!(stats.is_balanced(), "{stats:#?}");
    assert_eq!(stats.exported, 3, "{stats:#?}");
}
