//! In steady state, ending a span allocates nothing on the producing thread:
//! it is encoded into the thread's block of the queue, and blocks come back
//! from the export loop for reuse.
//!
//! Steady state is made, not hoped for: the first round is queued while the
//! exporter is held shut, so every block it fills exists at once and comes
//! back spare when the exporter opens. The measured round is smaller, so it
//! finds all its blocks (and room in the loop's FIFO) ready, however slowly
//! the loop runs beside it on a loaded machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use otlp_contrib::testing::alloc::{CountingAllocator, allocations_during};
use otlp_core::encode::Encoding;
use otlp_core::{KeyValue, SpanData};
use otlp_sdk::config::BatchConfig;
use otlp_sdk::{
    BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, SpanProcessor, TracerProvider,
};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Accepts every request once it is open; until then an export waits (on
/// the export loop's thread), so the queue fills.
#[derive(Clone, Default)]
struct Gate {
    open: Arc<AtomicBool>,
}

impl Gate {
    fn open(&self) {
        self.open.store(true, Ordering::Release);
    }
}

impl Exporter for Gate {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        while !self.open.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
        ExportOutcome::Success
    }
}

fn processor(gate: &Gate) -> BatchSpanProcessor {
    BatchSpanProcessor::builder(gate.clone())
        .with_batch_config(BatchConfig {
            max_queue_size: Some(8192),
            max_export_batch_size: 512,
            ..BatchConfig::default()
        })
        .build()
        .unwrap()
}

#[test]
fn pushing_spans_allocates_nothing_on_the_producer_thread() {
    let gate = Gate::default();
    let processor = processor(&gate);
    let spans = |count| -> Vec<SpanData> {
        (0..count)
            .map(|i| {
                SpanData::builder("op")
                    .attributes((0..8).map(|k| KeyValue::new("key", format!("{i}-{k}"))))
                    .build()
            })
            .collect()
    };
    for span in spans(5_000) {
        processor.on_end(span);
    }
    assert_eq!(processor.stats().dropped, 0);
    gate.open();
    processor.force_flush(Duration::from_secs(5)).unwrap();

    let spans = spans(2_000);
    let (allocations, ()) = allocations_during(|| {
        for span in spans {
            processor.on_end(span);
        }
    });
    assert_eq!(allocations, 0);

    processor.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(processor.stats().exported, 7_000);
}

#[test]
fn ending_spans_through_the_tracer_allocates_nothing_in_steady_state() {
    let gate = Gate::default();
    let processor = processor(&gate);
    let provider = TracerProvider::builder()
        .with_processor(processor.clone())
        .build();
    let tracer = provider.tracer("steady");
    let record = |count: i64| {
        for i in 0..count {
            let mut span = tracer.start("op");
            for k in 0..8 {
                span.set_attribute(KeyValue::new("key", i * 8 + k));
            }
            span.end();
        }
    };
    record(5_000);
    assert_eq!(processor.stats().dropped, 0);
    gate.open();
    processor.force_flush(Duration::from_secs(5)).unwrap();

    let (allocations, ()) = allocations_during(|| record(2_000));
    assert_eq!(allocations, 0);

    provider.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(processor.stats().exported, 7_000);
}
