//! Encoding a warm batch allocates nothing: not per span, not per batch.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use otlp_core::encode::{Encoding, TraceEncoder};
use otlp_core::{InstrumentationScope, KeyValue, Resource, SpanData};
use support::realistic_span;

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

fn allocations_during(work: impl FnOnce()) -> usize {
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.with(|counting| counting.set(true));
    work();
    COUNTING.with(|counting| counting.set(false));
    ALLOCATIONS.load(Ordering::Relaxed)
}

#[test]
fn the_counting_allocator_sees_allocations() {
    let allocations = allocations_during(|| drop(std::hint::black_box(vec![1u8; 64])));
    assert_eq!(allocations, 1);
}

#[test]
fn encoding_a_warm_batch_allocates_nothing() {
    let resource = Arc::new(Resource::new([KeyValue::new("service.name", "alloc")]));
    let other = Arc::new(Resource::new([KeyValue::new("service.name", "other")]));
    let scope = Arc::new(InstrumentationScope::new("alloc"));
    let spans: Vec<SpanData> = (0..1_000)
        .map(|i| realistic_span(if i % 7 == 0 { &other } else { &resource }, &scope, i))
        .collect();
    let mut encoder = TraceEncoder::new();
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let mut body = Vec::new();
        // Warm-up: scratch space and the output buffer grow to the batch size.
        encoder.encode(encoding, &spans, &mut body);
        let warm_len = body.len();
        for round in 0..3 {
            body.clear();
            let allocations = allocations_during(|| {
                encoder.encode(encoding, &spans, &mut body);
            });
            assert_eq!(allocations, 0, "{encoding:?} round {round} allocated");
            assert_eq!(body.len(), warm_len);
        }
    }
}
