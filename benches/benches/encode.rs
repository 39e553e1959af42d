//! `encode`: one batch of 1,000 spans encoded as an OTLP
//! `ExportTraceServiceRequest` by otlp-core and by the opentelemetry-rust
//! baseline, in protobuf and in OTLP/JSON, side by side.
//!
//! ```text
//! cargo bench -p otlp-benches --bench encode
//! ```
//!
//! Benchmarks (group `encode`, throughput 1,000 elements = spans):
//!
//! - `otlp_core/protobuf`, `otlp_core/json`: `TraceEncoder::encode` over
//!   `&[otlp_core::SpanData]`, with one encoder and one output buffer reused
//!   (cleared) across iterations. (otlp-sdk's pipeline does not encode a
//!   batch this way: it encodes each span on its own when it ends,
//!   `otlp_core::encode::record`, and its export loop writes only the
//!   framing around those bytes; `hot_path` measures that.)
//! - `baseline/protobuf`, `baseline/json`: `opentelemetry-proto`'s
//!   `group_spans_by_resource_and_scope` over the owned
//!   `Vec<opentelemetry_sdk::trace::SpanData>`, then prost (or serde_json)
//!   into a reused, cleared buffer; see `otlp_benches::baseline`. The batch is
//!   consumed, so each iteration gets a fresh clone, made outside the timing.
//!
//! What each side's time covers: otlp-core's, encoding only (its spans are
//! borrowed; the pipeline frees them after export, outside this benchmark).
//! The baseline's, everything its exporter does to produce the bytes:
//! converting the batch into generated structs (which consumes, and so
//! frees, the SDK spans), encoding them, and freeing the generated structs.
//! The clone that gives each iteration its own input is not timed.
//!
//! Before anything is timed, both sides' output is decoded with
//! `opentelemetry-proto` and checked to be the same request
//! (`otlp_benches::verify`). At the end the suite prints otlp-core's speed-up
//! over the baseline, measured in interleaved rounds
//! (`otlp_benches::report`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use otlp_benches::baseline::BaselineEncoder;
use otlp_benches::fixtures::Batch;
use otlp_benches::report::{
    Comparison, Interleaved, RunMode, print_report, settle_allocator, time,
};
use otlp_benches::verify::assert_same_requests;
use otlp_core::encode::{Encoding, TraceEncoder};

/// The encodings measured, with their benchmark names.
const ENCODINGS: [(Encoding, &str); 2] =
    [(Encoding::Protobuf, "protobuf"), (Encoding::Json, "json")];

/// The goal of the issue that introduced this suite: encoding at least 5x
/// faster per span than the baseline.
const PROTOBUF_GOAL: f64 = 5.0;

fn bench_encode(criterion: &mut Criterion, batch: &Batch) {
    let baseline = BaselineEncoder::new(&batch.sdk_resource);
    let mut group = criterion.benchmark_group("encode");
    group.throughput(Throughput::Elements(batch.len() as u64));
    for (encoding, name) in ENCODINGS {
        let mut encoder = TraceEncoder::new();
        let mut out = Vec::new();
        group.bench_function(BenchmarkId::new("otlp_core", name), |b| {
            b.iter(|| {
                out.clear();
                encoder.encode(encoding, black_box(&batch.spans), &mut out)
            })
        });

        let mut out = Vec::new();
        group.bench_function(BenchmarkId::new("baseline", name), |b| {
            b.iter_batched(
                || batch.sdk_spans.clone(),
                |spans| {
                    out.clear();
                    baseline.encode(encoding, black_box(spans), &mut out)
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// Both sides again, interleaved, for the final ratio.
fn compare(batch: &Batch, interleaved: Interleaved) -> Vec<Comparison> {
    let baseline = BaselineEncoder::new(&batch.sdk_resource);
    ENCODINGS
        .into_iter()
        .map(|(encoding, name)| {
            let mut encoder = TraceEncoder::new();
            let (mut ours_out, mut baseline_out) = (Vec::new(), Vec::new());
            let timing = interleaved.run(
                || {
                    time(|| {
                        ours_out.clear();
                        encoder.encode(encoding, black_box(&batch.spans), &mut ours_out)
                    })
                },
                || {
                    let spans = batch.sdk_spans.clone();
                    time(|| {
                        baseline_out.clear();
                        baseline.encode(encoding, black_box(spans), &mut baseline_out)
                    })
                },
            );
            let comparison = Comparison::new(
                format!("encode/{name}"),
                "otlp-core",
                "baseline",
                batch.len() as u64,
                timing,
            );
            match encoding {
                Encoding::Protobuf => comparison.with_goal(PROTOBUF_GOAL),
                Encoding::Json => comparison,
            }
        })
        .collect()
}

fn main() {
    let mode = RunMode::from_env();
    settle_allocator();
    let batch = Batch::standard();
    if mode != RunMode::List {
        println!("encode: {}", assert_same_requests(&batch));
    }

    // About 5 s per benchmark on two cores; command-line flags override these.
    let mut criterion = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench_encode(&mut criterion, &batch);
    criterion.final_summary();

    if let Some(interleaved) = Interleaved::for_mode(mode) {
        print_report("encode", mode, &compare(&batch, interleaved));
    }
}
