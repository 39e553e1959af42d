//! `end_to_end`: N spans created, ended and flushed through the whole
//! pipeline to a loopback OTLP receiver, otlp-rust against
//! `opentelemetry_sdk` + `opentelemetry-otlp`, over gRPC and HTTP/protobuf,
//! in the same run.
//!
//! ```text
//! cargo bench -p otlp-benches --bench end_to_end
//! ```
//!
//! One iteration: the producer formats the eight attribute values of each of
//! N spans and records the span through the SDK's tracer API (start, eight
//! string attributes, end: `otlp_benches::end_to_end::Producer`, the same
//! work on both sides), then `force_flush` waits until the receiver has
//! answered every export. N is 100, 500, 1,000 and 2,000 (at most the
//! default queue of both SDKs, so nothing is ever dropped). Throughput is N
//! elements (spans), so criterion's element rate is spans per second.
//!
//! Benchmark ids are `end_to_end/export_spans/<N>/<side>`, the sides being
//! `otlp_rust_grpc`, `opentelemetry_grpc`, `otlp_rust_http` and
//! `opentelemetry_http`: `cargo bench --bench end_to_end -- export_spans/500/`
//! runs the four sides of N = 500.
//!
//! Both pipelines have their default settings (see
//! `otlp_benches::end_to_end`): ours a batch processor with our gRPC or HTTP
//! exporter; the baseline `with_batch_exporter` and `opentelemetry-otlp`'s
//! tonic exporter (on a tokio runtime it owns) or HTTP exporter (blocking
//! reqwest client). The receiver is `otlp_contrib::receiver::Receiver` with
//! `Store::CountOnly` (counts spans by walking the protobuf, decodes
//! nothing) in this process, on its own runtime (2 worker threads): on two
//! cores it competes with both pipelines alike. `cargo run --release -p
//! otlp-benches --bin compare` runs the receiver and each sender in their own
//! processes instead, with a million spans.
//!
//! At the end the suite prints otlp-rust's ratio against the baseline for
//! every N and transport, measured in interleaved rounds
//! (`otlp_benches::report`), and checks that the receiver counted every span
//! produced in the whole run.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use otlp_benches::end_to_end::{
    BaselineSender, Endpoints, OursSender, Producer, Sender, Transport, install_ring_provider,
};
use otlp_benches::hot_path::ValueKind;
use otlp_benches::report::{Comparison, Interleaved, RunMode, print_report, settle_allocator};
use otlp_contrib::receiver::{Receiver, ReceiverConfig, Store};

/// Spans per iteration: the batch sizes measured.
const SIZES: [u64; 4] = [100, 500, 1_000, 2_000];

/// One pipeline and its producer.
struct Side {
    /// The benchmark id's last part, e.g. `otlp_rust_grpc`.
    name: String,
    sender: Box<dyn Sender>,
    producer: RefCell<Producer>,
    /// Spans produced and flushed so far.
    produced: Cell<u64>,
}

impl Side {
    fn new(name: String, sender: Box<dyn Sender>) -> Self {
        Side {
            name,
            sender,
            producer: RefCell::new(Producer::new(ValueKind::Borrowed)),
            produced: Cell::new(0),
        }
    }

    /// Records `spans` spans and flushes them to the receiver.
    fn export(&self, spans: u64) {
        self.producer
            .borrow_mut()
            .produce(self.sender.as_ref(), spans);
        self.sender
            .flush()
            .unwrap_or_else(|error| panic!("{}: flush failed: {error}", self.name));
        self.produced.set(self.produced.get() + spans);
    }

    /// One timed export of `spans` spans.
    fn timed(&self, spans: u64) -> Duration {
        let start = Instant::now();
        self.export(spans);
        start.elapsed()
    }
}

/// Ours and the baseline over one transport.
struct Pair {
    transport: Transport,
    ours: Side,
    baseline: Side,
}

impl Pair {
    fn new(transport: Transport, endpoints: &Endpoints) -> Self {
        let ours = OursSender::new(transport, endpoints).expect("our pipeline builds");
        let baseline =
            BaselineSender::new(transport, endpoints, None).expect("the baseline pipeline builds");
        Pair {
            transport,
            ours: Side::new(format!("otlp_rust_{transport}"), Box::new(ours)),
            baseline: Side::new(format!("opentelemetry_{transport}"), Box::new(baseline)),
        }
    }
}

fn bench_end_to_end(criterion: &mut Criterion, pairs: &[Pair]) {
    let mut group = criterion.benchmark_group("end_to_end");
    for spans in SIZES {
        group.throughput(Throughput::Elements(spans));
        for pair in pairs {
            for side in [&pair.ours, &pair.baseline] {
                group.bench_function(format!("export_spans/{spans}/{}", side.name), |b| {
                    b.iter(|| side.export(spans))
                });
            }
        }
    }
    group.finish();
}

fn compare(pairs: &[Pair], interleaved: Interleaved) -> Vec<Comparison> {
    let mut comparisons = Vec::new();
    for spans in SIZES {
        for pair in pairs {
            let timing = interleaved.run(|| pair.ours.timed(spans), || pair.baseline.timed(spans));
            comparisons.push(Comparison::new(
                format!("end_to_end/export_spans/{spans} {}", pair.transport.label()),
                "otlp-rust",
                "opentelemetry",
                spans,
                timing,
            ));
        }
    }
    comparisons
}

fn main() {
    let mode = RunMode::from_env();
    settle_allocator();
    install_ring_provider();
    let receiver = Receiver::start(ReceiverConfig {
        store: Store::CountOnly,
        ..ReceiverConfig::default()
    })
    .expect("the receiver starts");
    let endpoints = Endpoints::of(&receiver);
    let pairs: Vec<Pair> = Transport::ALL
        .into_iter()
        .map(|transport| Pair::new(transport, &endpoints))
        .collect();
    if mode != RunMode::List {
        // Connections up and code paths warm before anything is timed.
        for pair in &pairs {
            pair.ours.export(SIZES[0]);
            pair.baseline.export(SIZES[0]);
        }
    }

    // 16 benchmarks of about 2.5 s each on two cores; flags override.
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench_end_to_end(&mut criterion, &pairs);
    criterion.final_summary();

    if let Some(interleaved) = Interleaved::for_mode(mode) {
        let interleaved = match mode {
            RunMode::Benchmark => interleaved.with_budget(Duration::from_secs(1)),
            _ => interleaved,
        };
        print_report("end_to_end", mode, &compare(&pairs, interleaved));
    }

    if mode != RunMode::List {
        let produced: u64 = pairs
            .iter()
            .flat_map(|pair| [&pair.ours, &pair.baseline])
            .map(|side| side.produced.get())
            .sum();
        // Every flush returned after the receiver answered, and it counts
        // before answering.
        let counted = receiver.span_count();
        let stats = receiver.stats();
        println!(
            "end_to_end: where every span went: produced {produced}, counted by the receiver \
             {counted} in {} requests, {} refused",
            stats.accepted_requests, stats.bad_requests
        );
        assert_eq!(
            counted, produced,
            "the receiver counted every span produced"
        );
        assert_eq!(stats.bad_requests, 0, "no request was refused");
    }
}
