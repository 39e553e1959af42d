//! What a `tracing` front door costs in allocations on the producing
//! thread, in steady state.
//!
//! - An event through `OtlpLogLayer` into a log pipeline: nothing. The
//!   attributes go into the thread's spare vector (`Logger::attribute_vector`,
//!   given back by `Logger::emit` once the record is encoded), the message is
//!   formatted into the thread's buffer and copied into its `Str` (in place
//!   when short), the target's logger comes from the thread's last entry, and
//!   the record is encoded into the thread's block of the queue.
//! - A span through `OtlpLayer`: one, the box `tracing-subscriber`'s registry
//!   keeps the layer's state in. The attributes go into the thread's spare
//!   vector (`Tracer::attribute_vector`), which the span builder adopts and
//!   the pipeline gives back once the span is encoded. With tracing off (an
//!   `always_off` sampler): nothing, the layer's mark is zero-sized.
//!
//! Steady state is made, not hoped for (as in otlp-sdk's
//! `push_allocations.rs`): the first round is queued while the exporter is
//! held shut, so every block exists at once and comes back spare when it
//! opens.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use otlp_contrib::testing::alloc::{CountingAllocator, allocations_during};
use otlp_contrib::tracing::{OtlpLayer, OtlpLogLayer};
use otlp_core::encode::Encoding;
use otlp_sdk::config::BatchConfig;
use otlp_sdk::{
    BatchLogProcessor, BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, LoggerProvider,
    Signal, TracerProvider,
};
use tracing_subscriber::layer::SubscriberExt as _;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Accepts every request once it is open; until then an export waits (on
/// the export loop's thread), so the queue fills.
#[derive(Clone)]
struct Gate {
    open: Arc<AtomicBool>,
    signal: Signal,
}

impl Gate {
    fn shut(signal: Signal) -> Self {
        Gate {
            open: Arc::new(AtomicBool::new(false)),
            signal,
        }
    }
}

/// The queue's shape for both tests: room for the first round, batches of 512.
fn batch_config() -> BatchConfig {
    BatchConfig {
        max_queue_size: Some(8192),
        max_export_batch_size: 512,
        ..BatchConfig::default()
    }
}

impl Exporter for Gate {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        while !self.open.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
        ExportOutcome::Success
    }
}

#[test]
fn an_event_allocates_nothing_in_steady_state() {
    let gate = Gate::shut(Signal::Logs);
    let processor = BatchLogProcessor::builder(gate.clone())
        .with_batch_config(batch_config())
        .build()
        .expect("the log pipeline builds");
    let provider = LoggerProvider::builder()
        .with_service_name("allocations")
        .with_processor(processor.clone())
        .build();
    let subscriber = tracing_subscriber::registry().with(OtlpLogLayer::new(&provider));
    let values: Vec<String> = (0..8).map(|i| format!("value-{i:010}")).collect();
    let emit = |count: usize| {
        for round in 0..count {
            tracing::info!(
                target: "checkout.http",
                a0 = values[0].as_str(),
                a1 = values[1].as_str(),
                a2 = values[2].as_str(),
                a3 = values[3].as_str(),
                round,
                "request served"
            );
        }
    };
    tracing::subscriber::with_default(subscriber, || {
        emit(5_000);
        assert_eq!(processor.stats().dropped, 0);
        gate.open.store(true, Ordering::Release);
        provider
            .force_flush(Duration::from_secs(30))
            .expect("the first round is delivered");
        let events = 1_000;
        let (allocations, ()) = allocations_during(|| emit(events));
        assert!(
            allocations == 0,
            "{allocations} allocations for {events} events"
        );
    });
    provider
        .shutdown(Duration::from_secs(30))
        .expect("everything is delivered");
    assert_eq!(processor.stats().exported, 6_000);
}

#[test]
fn a_span_allocates_only_the_registrys_box_in_steady_state() {
    let gate = Gate::shut(Signal::Traces);
    let processor = BatchSpanProcessor::builder(gate.clone())
        .with_batch_config(batch_config())
        .build()
        .expect("the span pipeline builds");
    let provider = TracerProvider::builder()
        .with_service_name("allocations")
        .with_processor(processor.clone())
        .build();
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&provider));
    let values: Vec<String> = (0..8).map(|i| format!("value-{i:010}")).collect();
    let make = |count: usize| {
        for round in 0..count {
            let span = tracing::info_span!(
                "request",
                a0 = values[0].as_str(),
                a1 = values[1].as_str(),
                a2 = values[2].as_str(),
                a3 = values[3].as_str(),
                round,
            );
            drop(span);
        }
    };
    tracing::subscriber::with_default(subscriber, || {
        make(5_000);
        assert_eq!(processor.stats().dropped, 0);
        gate.open.store(true, Ordering::Release);
        provider
            .force_flush(Duration::from_secs(30))
            .expect("the first round is delivered");
        let spans = 1_000;
        let (allocations, ()) = allocations_during(|| make(spans));
        assert!(
            allocations <= spans,
            "{allocations} allocations for {spans} spans: more than the registry's box each"
        );
    });
    provider
        .shutdown(Duration::from_secs(30))
        .expect("everything is delivered");
    assert_eq!(processor.stats().exported, 6_000);
}

#[test]
fn with_tracing_off_a_span_allocates_nothing_in_steady_state() {
    // `always_off`: the layer marks the span (a zero-sized extension, no
    // box) and makes its state only if something asks for its ids.
    let provider = TracerProvider::builder()
        .with_sampler(otlp_sdk::Sampler::AlwaysOff)
        .build();
    assert!(provider.tracer("t").never_records());
    let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(&provider));
    let values: Vec<String> = (0..8).map(|i| format!("value-{i:010}")).collect();
    let make = |count: usize| {
        for round in 0..count {
            let span = tracing::info_span!(
                "request",
                a0 = values[0].as_str(),
                a1 = values[1].as_str(),
                round,
            );
            drop(span);
        }
    };
    tracing::subscriber::with_default(subscriber, || {
        make(100);
        let (allocations, ()) = allocations_during(|| make(1_000));
        assert_eq!(allocations, 0, "allocations for 1,000 spans");
    });
}
