//! `on_end` allocates nothing: the span moves into a preallocated queue slot.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use otlp_core::encode::Encoding;
use otlp_core::{KeyValue, SpanData};
use otlp_sdk::config::BatchConfig;
use otlp_sdk::{BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, SpanProcessor};

/// Counts allocations made by the thread that turned counting on.
struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the bookkeeping touches only an
// atomic and a const-initialised thread-local `Cell`, neither of which allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; `ptr` came from `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn count() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

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
            max_queue_size: 8192,
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

    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.with(|counting| counting.set(true));
    for span in spans {
        processor.on_end(span);
    }
    COUNTING.with(|counting| counting.set(false));
    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst), 0);

    processor.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(processor.stats().exported, 5_001);
}
