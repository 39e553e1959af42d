//! Encoding a warm batch allocates nothing: not per span, not per batch.

mod support;

use std::sync::Arc;

use otlp_contrib::testing::alloc::{CountingAllocator, allocations_during};
use otlp_core::encode::{Encoding, TraceEncoder};
use otlp_core::{InstrumentationScope, KeyValue, Resource, SpanData};
use support::realistic_span;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn the_counting_allocator_sees_allocations() {
    let (allocations, ()) = allocations_during(|| drop(std::hint::black_box(vec![1u8; 64])));
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
            let (allocations, _) =
                allocations_during(|| encoder.encode(encoding, &spans, &mut body));
            assert_eq!(allocations, 0, "{encoding:?} round {round} allocated");
            assert_eq!(body.len(), warm_len);
        }
    }
}
