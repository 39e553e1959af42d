//! Recording on an existing series allocates nothing: the series is found
//! in the stream's table without building its attribute set, and the
//! measurement goes to atomics (the exponential histogram's buckets, once
//! grown, are reused).

use otlp_contrib::testing::alloc::{CountingAllocator, allocations_during};
use otlp_core::KeyValue;
use otlp_sdk::config::DefaultHistogramAggregation;
use otlp_sdk::metrics::MeterProvider;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn recording_on_existing_series_allocates_nothing() {
    let provider = MeterProvider::builder().build().expect("provider");
    let exponential = MeterProvider::builder()
        .with_default_histogram_aggregation(
            DefaultHistogramAggregation::Base2ExponentialBucketHistogram,
        )
        .build()
        .expect("provider");
    let meter = provider.meter("m");
    let counter = meter.u64_counter("requests").build();
    let up_down = meter.f64_up_down_counter("level").build();
    let histogram = meter.f64_histogram("latency").build();
    let gauge = meter.i64_gauge("threads").build();
    let buckets = exponential.meter("m").f64_histogram("latency").build();
    let record = |round: u64| {
        for i in 0..100u64 {
            // Built per call, as call sites do: static keys and values.
            let attributes = [
                KeyValue::new("http.route", "/cart"),
                KeyValue::new("http.method", if i % 2 == 0 { "GET" } else { "POST" }),
                KeyValue::new("status", 200),
            ];
            counter.add(1, &attributes);
            up_down.add(-0.5, &attributes);
            histogram.record((i * round) as f64, &attributes);
            gauge.record(i as i64, &attributes);
            buckets.record(1.0 + (i % 10) as f64, &attributes);
        }
    };
    // Creates the series (and grows the exponential buckets).
    record(1);
    let (allocations, ()) = allocations_during(|| record(1));
    assert_eq!(allocations, 0, "recording on existing series allocated");
    // The other order of the same set: the slow path once, then an alias.
    let reordered = [
        KeyValue::new("status", 200),
        KeyValue::new("http.method", "GET"),
        KeyValue::new("http.route", "/cart"),
    ];
    counter.add(1, &reordered);
    assert_eq!(allocations_during(|| counter.add(1, &reordered)).0, 0);
    assert_eq!(provider.collect().len(), 4);
}
