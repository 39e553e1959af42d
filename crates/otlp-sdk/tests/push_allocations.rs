//! `on_end` allocates nothing: the span moves into a preallocated queue slot.

use std::time::Duration;

use otlp_contrib::testing::alloc::{CountingAllocator, allocations_during};
use otlp_core::encode::Encoding;
use otlp_core::{KeyValue, SpanData};
use otlp_sdk::config::BatchConfig;
use otlp_sdk::{BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, SpanProcessor};

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

#[test]
fn pushing_spans_allocates_nothing_on_the_producer_thread() {
    let processor = BatchSpanProcessor::builder(Accept)
        .with_batch_config(BatchConfig {
            max_queue_size: Some(8192),
            max_export_batch_size: 512,
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    let spans: Vec<SpanData> = (0..5_000)
        .map(|i| {
            SpanData::builder("op")
                .attributes((0..8).map(|k| KeyValue::new("key", format!("{i}-{k}"))))
                .build()
        })
        .collect();
    // Warm the thread-local shard index of the produced counter.
    processor.on_end(SpanData::builder("warm").build());

    let (allocations, ()) = allocations_during(|| {
        for span in spans {
            processor.on_end(span);
        }
    });
    assert_eq!(allocations, 0);

    processor.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(processor.stats().exported, 5_001);
}
