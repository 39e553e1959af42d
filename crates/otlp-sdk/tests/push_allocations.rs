//! In steady state, ending a span allocates nothing on the producing thread:
//! it is encoded into the thread's block of the queue, and blocks come back
//! from the export loop for reuse.

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

struct Accept;

impl Exporter for Accept {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        ExportOutcome::Success
    }
}

fn processor() -> BatchSpanProcessor {
    BatchSpanProcessor::builder(Accept)
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
    let processor = processor();
    let spans = |count| -> Vec<SpanData> {
        (0..count)
            .map(|i| {
                SpanData::builder("op")
                    .attributes((0..8).map(|k| KeyValue::new("key", format!("{i}-{k}"))))
                    .build()
            })
            .collect()
    };
    // Steady state: a first round fills blocks, which come back once
    // exported; the measured round needs fewer than came back, however fast
    // the export loop recycles during it.
    for span in spans(5_000) {
        processor.on_end(span);
    }
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
    let processor = processor();
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
    processor.force_flush(Duration::from_secs(5)).unwrap();

    let (allocations, ()) = allocations_during(|| record(2_000));
    assert_eq!(allocations, 0);

    provider.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(processor.stats().exported, 7_000);
}
