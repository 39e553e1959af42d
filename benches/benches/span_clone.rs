//! `span_clone`: what it costs to clone a finished span, otlp-core's
//! `SpanData` against `opentelemetry_sdk`'s.
//!
//! ```text
//! cargo bench -p otlp-benches --bench span_clone
//! ```
//!
//! Benchmarks (group `span_clone`, throughput 1,000 elements =
//! spans; each iteration clones each of the 1,000 spans of the batch, the same
//! data in each model, see `otlp_benches::fixtures`), for three span models:
//!
//! - `*/otlp_core_span_data`: `otlp_core::SpanData`. Names and keys are
//!   static; every value (16 characters, the fixtures' workload) is an inline
//!   `Str`, held in place (up to 23 bytes), not an `Arc<str>`; resource and
//!   scope are `Arc`s. A clone allocates one attribute vector and copies the
//!   eight values into it (32 bytes each, no allocation and no atomic
//!   operation per value), and bumps the resource's and the scope's
//!   reference counts: it is not free of copies, only of a heap allocation
//!   per string. Values longer than 23 bytes would be shared `Arc<str>`s,
//!   one reference-count increment each; this suite does not measure them.
//! - `*/owned_deep_clone`: `OwnedSpanData`, the same span fields in owned
//!   `String`s and `Vec<u8>`s (no resource or scope at all, which favours it):
//!   a clone allocates and copies every id, name, key and value. No SDK holds
//!   a span this way (it is the layout of `opentelemetry-proto`'s generated
//!   `Span`): a reference figure only, in criterion's output, with no ratio.
//! - `*/opentelemetry_sdk_span_data`: `opentelemetry_sdk::trace::SpanData`, as
//!   the official SDK holds it (static name and keys, owned values, its own
//!   copy of the instrumentation scope).
//!
//! and two costs:
//!
//! - `clone/*`: making the clones only. They go into a vector reused across
//!   iterations and are dropped after the clock stops (in steady state the
//!   allocator hands back the memory the previous clones freed, as in a
//!   running pipeline).
//! - `clone_and_drop/*`: each clone is dropped at once, so the figure is the
//!   whole cost of a clone: for otlp-core, the attribute vector allocated
//!   and freed and two reference counts incremented then decremented; for
//!   the copies, an allocation per string (and vector) then its free.
//!
//! Where a finished span is cloned: a provider with several processors
//! (otlp-sdk's hands each but the last a clone; `opentelemetry_sdk`'s
//! clones the span's data for each of them). otlp-sdk's own
//! `BatchSpanProcessor` never clones a span: it encodes it once, on the
//! thread that ends it.
//!
//! At the end the suite prints otlp-core's ratio against the baseline,
//! `opentelemetry_sdk_span_data`, for both costs, measured in interleaved
//! rounds (`otlp_benches::report`). It printed a ratio against
//! `owned_deep_clone` too, a model no SDK uses, until 2026-12-08.
//!
//! Until 2026-12-08 the suite was `zero_copy_comparison`: a clone of
//! otlp-core's span is not free of copies (see above), so the name said
//! more than the suite measures. Criterion's saved results under the old
//! group name are not compared with the new ones.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use otlp_benches::fixtures::Batch;
use otlp_benches::report::{
    Comparison, Interleaved, RunMode, Timing, print_report, settle_allocator, time,
};

/// Clones every span of `spans`, dropping each clone at once.
fn clone_and_drop<T: Clone>(spans: &[T]) {
    for span in spans {
        black_box(span.clone());
    }
}

/// Times cloning every span of `spans` into `clones`, which is emptied first
/// (dropping the previous clones) before the clock starts.
fn time_clone<T: Clone>(spans: &[T], clones: &mut Vec<T>) -> Duration {
    clones.clear();
    time(|| {
        clones.extend(black_box(spans).iter().cloned());
        black_box(&*clones);
    })
}

/// Registers `clone/<name>` for one span model.
fn bench_clone_only<T: Clone>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, spans: &[T]) {
    let mut clones = Vec::with_capacity(spans.len());
    group.bench_function(BenchmarkId::new("clone", name), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| time_clone(spans, &mut clones)).sum())
    });
}

/// Registers `clone_and_drop/<name>` for one span model.
fn bench_clone_and_drop<T: Clone>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    spans: &[T],
) {
    group.bench_function(BenchmarkId::new("clone_and_drop", name), |b| {
        b.iter(|| clone_and_drop(black_box(spans)))
    });
}

fn bench_clone(criterion: &mut Criterion, batch: &Batch) {
    let mut group = criterion.benchmark_group("span_clone");
    group.throughput(Throughput::Elements(batch.len() as u64));
    bench_clone_only(&mut group, "otlp_core_span_data", &batch.spans);
    bench_clone_only(&mut group, "owned_deep_clone", &batch.owned_spans);
    bench_clone_only(&mut group, "opentelemetry_sdk_span_data", &batch.sdk_spans);
    bench_clone_and_drop(&mut group, "otlp_core_span_data", &batch.spans);
    bench_clone_and_drop(&mut group, "owned_deep_clone", &batch.owned_spans);
    bench_clone_and_drop(&mut group, "opentelemetry_sdk_span_data", &batch.sdk_spans);
    group.finish();
}

/// otlp-core against the SDK, interleaved, once for each cost: the
/// comparison lines of the final report.
fn compare(batch: &Batch, interleaved: Interleaved) -> Vec<Comparison> {
    let spans = batch.len() as u64;
    let line = |cost: &str, timing: Timing| {
        Comparison::new(
            format!("span_clone/{cost}"),
            "otlp-core SpanData",
            "opentelemetry_sdk SpanData",
            spans,
            timing,
        )
    };

    let (mut ours, mut sdk) = (Vec::new(), Vec::new());
    let clone = interleaved.run(
        || time_clone(&batch.spans, &mut ours),
        || time_clone(&batch.sdk_spans, &mut sdk),
    );
    drop((ours, sdk));
    let clone_and_drop = interleaved.run(
        || time(|| clone_and_drop(black_box(&batch.spans))),
        || time(|| clone_and_drop(black_box(&batch.sdk_spans))),
    );
    vec![line("clone", clone), line("clone_and_drop", clone_and_drop)]
}

fn main() {
    let mode = RunMode::from_env();
    settle_allocator();
    let batch = Batch::standard();

    // About 4 s per benchmark on two cores; command-line flags override these.
    let mut criterion = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench_clone(&mut criterion, &batch);
    criterion.final_summary();

    if let Some(interleaved) = Interleaved::for_mode(mode) {
        print_report("span_clone", mode, &compare(&batch, interleaved));
    }
}
