//! `batch_processor_submit_shutdown`: 1,000 finished spans into a fresh batch
//! processor, then shutdown, otlp-sdk against `opentelemetry_sdk`'s
//! `BatchSpanProcessor`, in the same run.
//!
//! ```text
//! cargo bench -p otlp-benches --bench batch_processor_submit_shutdown
//! ```
//!
//! Benchmarks (group `batch_processor_submit_shutdown`, throughput 1,000 elements
//! = spans, so criterion's element rate is spans per second):
//!
//! - `otlp_sdk`: `otlp_sdk::SpanProcessor::on_end` for each of the 1,000
//!   spans of the standard fixture batch (`otlp_core::SpanData`), which
//!   encodes the span into its OTLP protobuf record on the calling thread
//!   and appends it to the queue, then `shutdown`, which drains the queue,
//!   writes the requests' framing around the records, exports them and
//!   stops the export loop (and its runtime).
//! - `opentelemetry_sdk`: `opentelemetry_sdk::trace::SpanProcessor::on_end`
//!   for the same 1,000 spans (`opentelemetry_sdk::trace::SpanData`), then
//!   `shutdown`, which exports every span and joins the processor's thread.
//!   Its exporter encodes every batch as `opentelemetry-otlp`'s does
//!   (`otlp_benches::pipeline::EncodingSpanExporter`: converted, then
//!   encoded with prost into a fresh body) and sends nothing.
//!
//! Both processors have the baseline's default batch settings (queue 2,048
//! spans, batch 512, delay 5 s; otlp-sdk keeps its default 64 MiB byte bound
//! too), so nothing is dropped, and an exporter that sends nothing and
//! counts spans and bytes (`otlp_benches::pipeline`). Each iteration gets a fresh
//! processor, built and flushed once (so its thread is up) before the clock
//! starts, and its own copy of the spans, cloned before the clock starts; the
//! processor is dropped after the clock stops. What is timed is the submit
//! and the shutdown.
//!
//! At the end the suite prints otlp-sdk's ratio against the baseline,
//! measured in interleaved rounds (`otlp_benches::report`), for the whole
//! iteration and for its two parts (the 1,000 `on_end` calls, then the
//! shutdown), and checks that every span submitted in the whole run reached
//! its exporter, and how many bytes each side's exporter received (both
//! encode the same requests; `encode` checks that the two encoders write
//! the same bytes). Both sides encode every span, but at different points:
//! our `on_end` encodes each span to its OTLP protobuf record (our exporter
//! takes bytes), so our encoding is in our `submit_only` figure, while the
//! baseline encodes on its processor's thread when it exports: a batch cut
//! while spans are still being submitted, the rest within its
//! `shutdown_only` figure. Only the whole iteration compares the same work. The report states about what encoding the 1,000 records alone
//! costs (`otlp_core::encode::record`, as `on_end` writes them), so the
//! parts can be read with it. Until 2026-12-08 the baseline's exporter
//! encoded nothing, and the whole ratio took our encoding against none.
//!
//! Until 2026-12-08 the suite was `lock_free_collector_submit`, a name from
//! before the batch processor had its queue of encoded records; no
//! lock-free collector exists, and what is timed is a fresh processor's
//! whole life (submit and shutdown), so the suite, its group and its report
//! lines are named for that. Criterion's saved results under the old group
//! name (`target/criterion/lock_free_collector_submit`) are not compared
//! with the new ones.

use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use opentelemetry_sdk::trace::SpanProcessor as _;
use otlp_benches::fixtures::Batch;
use otlp_benches::pipeline::{Accounting, BatchSettings, EncodingSpanExporter, NoopExporter};
use otlp_benches::report::{
    Comparison, Interleaved, RunMode, Timing, print_report, settle_allocator, time,
};
use otlp_core::encode::record;
use otlp_sdk::SpanProcessor as _;

/// The baseline's default batch settings, for both SDKs.
const SETTINGS: BatchSettings = BatchSettings {
    max_queue_size: 2_048,
    max_export_batch_size: 512,
    scheduled_delay: Duration::from_secs(5),
};

/// How long a shutdown may take.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// One side: builds fresh processors over one shared exporter count, and
/// counts the spans it submits.
struct Side<E> {
    exporter: E,
    submitted: Cell<u64>,
}

impl<E> Side<E> {
    fn new(exporter: E) -> Self {
        Side {
            exporter,
            submitted: Cell::new(0),
        }
    }
}

impl Side<NoopExporter> {
    /// A fresh processor with its thread up, and its own copy of the spans.
    fn fresh(&self, batch: &Batch) -> (otlp_sdk::BatchSpanProcessor, Vec<otlp_core::SpanData>) {
        let processor = otlp_sdk::BatchSpanProcessor::builder(self.exporter.clone())
            .with_batch_config(SETTINGS.ours())
            .build()
            .expect("the default batch settings are valid");
        processor
            .force_flush(SHUTDOWN_TIMEOUT)
            .expect("flushing an empty processor");
        self.submitted
            .set(self.submitted.get() + batch.spans.len() as u64);
        (processor, batch.spans.clone())
    }

    fn accounting(&self) -> Accounting {
        accounting(self.submitted.get(), self.exporter.received())
    }
}

impl Side<EncodingSpanExporter> {
    /// A fresh processor with its thread up, and its own copy of the spans.
    fn fresh(
        &self,
        batch: &Batch,
    ) -> (
        opentelemetry_sdk::trace::BatchSpanProcessor,
        Vec<opentelemetry_sdk::trace::SpanData>,
    ) {
        let processor =
            opentelemetry_sdk::trace::BatchSpanProcessor::builder(self.exporter.clone())
                .with_batch_config(SETTINGS.baseline())
                .build();
        processor
            .force_flush()
            .expect("flushing an empty processor");
        self.submitted
            .set(self.submitted.get() + batch.sdk_spans.len() as u64);
        (processor, batch.sdk_spans.clone())
    }

    fn accounting(&self) -> Accounting {
        accounting(self.submitted.get(), self.exporter.received())
    }
}

fn accounting(submitted: u64, exported: u64) -> Accounting {
    Accounting {
        produced: submitted,
        exported,
        dropped: submitted.saturating_sub(exported),
    }
}

/// Submits every span, then shuts down; returns the processor to be dropped
/// after the clock stops.
fn submit_ours(
    (processor, spans): (otlp_sdk::BatchSpanProcessor, Vec<otlp_core::SpanData>),
) -> otlp_sdk::BatchSpanProcessor {
    for span in spans {
        processor.on_end(span);
    }
    processor
        .shutdown(SHUTDOWN_TIMEOUT)
        .expect("shutting down the otlp-sdk processor");
    processor
}

/// Submits every span, then shuts down; returns the processor to be dropped
/// after the clock stops.
fn submit_baseline(
    (processor, spans): (
        opentelemetry_sdk::trace::BatchSpanProcessor,
        Vec<opentelemetry_sdk::trace::SpanData>,
    ),
) -> opentelemetry_sdk::trace::BatchSpanProcessor {
    for span in spans {
        processor.on_end(span);
    }
    processor
        .shutdown_with_timeout(SHUTDOWN_TIMEOUT)
        .expect("shutting down the opentelemetry_sdk processor");
    processor
}

fn bench_submit(
    criterion: &mut Criterion,
    batch: &Batch,
    ours: &Side<NoopExporter>,
    baseline: &Side<EncodingSpanExporter>,
) {
    let mut group = criterion.benchmark_group("batch_processor_submit_shutdown");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function(BenchmarkId::from_parameter("otlp_sdk"), |b| {
        b.iter_batched(|| ours.fresh(batch), submit_ours, BatchSize::PerIteration)
    });
    group.bench_function(BenchmarkId::from_parameter("opentelemetry_sdk"), |b| {
        b.iter_batched(
            || baseline.fresh(batch),
            submit_baseline,
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// Per-call times of the two parts of an iteration.
#[derive(Default)]
struct Parts {
    submit: Vec<Duration>,
    shutdown: Vec<Duration>,
}

impl Parts {
    /// Records one iteration's parts; returns its whole time.
    fn record(&mut self, start: Instant, submitted: Instant, stopped: Instant) -> Duration {
        self.submit.push(submitted - start);
        self.shutdown.push(stopped - submitted);
        stopped - start
    }
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// Both sides interleaved, each iteration timed whole and in its two parts:
/// the comparison lines of the final report.
fn compare(
    batch: &Batch,
    ours: &Side<NoopExporter>,
    baseline: &Side<EncodingSpanExporter>,
    interleaved: Interleaved,
) -> Vec<Comparison> {
    let (ours_parts, baseline_parts) = (
        RefCell::new(Parts::default()),
        RefCell::new(Parts::default()),
    );
    let (rounds, whole) = interleaved.run_sides(&mut [
        &mut || {
            let (processor, spans) = ours.fresh(batch);
            let start = Instant::now();
            for span in spans {
                processor.on_end(span);
            }
            let submitted = Instant::now();
            processor
                .shutdown(SHUTDOWN_TIMEOUT)
                .expect("shutting down the otlp-sdk processor");
            let stopped = Instant::now();
            ours_parts.borrow_mut().record(start, submitted, stopped)
        },
        &mut || {
            let (processor, spans) = baseline.fresh(batch);
            let start = Instant::now();
            for span in spans {
                processor.on_end(span);
            }
            let submitted = Instant::now();
            processor
                .shutdown_with_timeout(SHUTDOWN_TIMEOUT)
                .expect("shutting down the opentelemetry_sdk processor");
            let stopped = Instant::now();
            baseline_parts
                .borrow_mut()
                .record(start, submitted, stopped)
        },
    ]);
    let (mut ours_parts, mut baseline_parts) =
        (ours_parts.into_inner(), baseline_parts.into_inner());
    let line = |name: &str, ours: Duration, baseline: Duration| {
        Comparison::new(
            name,
            "otlp-sdk",
            "opentelemetry_sdk",
            batch.len() as u64,
            Timing {
                rounds,
                ours,
                baseline,
            },
        )
    };
    vec![
        line("batch_processor_submit_shutdown", whole[0], whole[1]),
        line(
            "batch_processor_submit_shutdown/submit_only",
            median(&mut ours_parts.submit),
            median(&mut baseline_parts.submit),
        ),
        line(
            "batch_processor_submit_shutdown/shutdown_only",
            median(&mut ours_parts.shutdown),
            median(&mut baseline_parts.shutdown),
        ),
    ]
}

fn main() {
    let mode = RunMode::from_env();
    settle_allocator();
    let batch = Batch::standard();
    let ours = Side::new(NoopExporter::default());
    let baseline = Side::new(EncodingSpanExporter::new(&batch.sdk_resource));

    // Each iteration also builds, flushes and drops a processor and clones
    // 1,000 spans, untimed, which takes longer than the timed part: about
    // 10 s per benchmark on two cores. Command-line flags override these.
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench_submit(&mut criterion, &batch, &ours, &baseline);
    criterion.final_summary();

    if let Some(interleaved) = Interleaved::for_mode(mode) {
        print_report(
            "batch_processor_submit_shutdown",
            mode,
            &compare(&batch, &ours, &baseline, interleaved),
        );
        // What `on_end` does to each span before it queues it: measure its
        // record, then write it, on the submitting thread.
        let mut records = Vec::new();
        let encode = median(
            &mut (0..21)
                .map(|_| {
                    records.clear();
                    time(|| {
                        for span in black_box(&batch.spans) {
                            records.reserve(record::span_len(span));
                            record::encode_span(span, &mut records);
                        }
                        records.len()
                    })
                })
                .collect::<Vec<_>>(),
        );
        println!(
            "  (otlp-sdk's submit includes encoding each of the {} spans to its OTLP protobuf \
             record as it ends, on the submitting thread: about {:.1} us for the records alone; \
             its shutdown writes only the requests' framing around them. The baseline encodes \
             on its processor's thread as it exports, the last batches within its shutdown)",
            batch.len(),
            encode.as_secs_f64() * 1e6
        );
    }
    if mode != RunMode::List {
        let bytes = (
            ours.exporter.received_bytes(),
            baseline.exporter.received_bytes(),
        );
        let (ours, baseline) = (ours.accounting(), baseline.accounting());
        println!(
            "batch_processor_submit_shutdown: where every span went: otlp-sdk {ours}, {} bytes \
             encoded; opentelemetry_sdk {baseline}, {} bytes encoded",
            bytes.0, bytes.1
        );
        assert!(
            ours.is_lossless() && baseline.is_lossless(),
            "every submitted span reaches the exporter by shutdown"
        );
    }
}
