//! The control of the comparison (`WorkloadOnly`, "workload only (no SDK)")
//! must do what the SDK rows' producer does apart from the SDK: with
//! `--values owned` that producer builds a `String` per value and hands it
//! over (`hot_path::record_ours` and `record_baseline` clone each value), so
//! the control builds and frees them too. Counted with the counting global
//! allocator of `otlp_benches::alloc_count`, on this thread only.

use otlp_benches::alloc_count::{CountingAllocator, count_allocations, is_counting};
use otlp_benches::end_to_end::{Producer, WorkloadOnly};
use otlp_benches::fixtures::{ATTRIBUTE_KEYS, ValueLen};
use otlp_benches::hot_path::ValueKind;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations a producer makes on the control for `spans` spans, once its
/// reused buffers have grown.
fn control_allocations(kind: ValueKind, spans: u64) -> u64 {
    control_allocations_of_len(kind, ValueLen::DEFAULT, spans)
}

/// The same with every value `len` characters long.
fn control_allocations_of_len(kind: ValueKind, len: ValueLen, spans: u64) -> u64 {
    let mut producer = Producer::new(kind).with_value_len(len);
    producer.produce(&WorkloadOnly, 64);
    count_allocations(|| producer.produce(&WorkloadOnly, spans)).1
}

#[test]
fn the_control_builds_the_owned_values_the_sdk_rows_callers_build() {
    assert!(is_counting(), "the counting allocator is installed");
    // What the caller of an SDK row allocates per span with owned values:
    // one `String` per attribute value, built from the formatted buffer.
    let values: [String; 8] = std::array::from_fn(|index| format!("value-{index:010}"));
    let per_span = count_allocations(|| values.iter().map(String::clone).collect::<Vec<_>>())
        .1
        .saturating_sub(1); // the `Vec` holding them here
    assert_eq!(per_span, ATTRIBUTE_KEYS.len() as u64);

    assert_eq!(control_allocations(ValueKind::Owned, 100), 100 * per_span);
    assert_eq!(control_allocations(ValueKind::Borrowed, 100), 0);
    assert_eq!(control_allocations(ValueKind::Static, 100), 0);

    // Longer values (`compare --value-len`) cost the control as much more
    // as they cost the SDK rows' caller, and nothing more: the formatting
    // buffers, once grown, are reused.
    for len in [8, 40, 4_096] {
        let len = ValueLen::new(len).expect("within the range");
        assert_eq!(
            control_allocations_of_len(ValueKind::Owned, len, 100),
            100 * per_span,
            "{len}"
        );
        assert_eq!(
            control_allocations_of_len(ValueKind::Borrowed, len, 100),
            0,
            "{len}"
        );
    }
}
