//! Every record accounted for at any moment, not only at rest: while
//! producers produce and the export loop exports to the embedded receiver on
//! loopback, another thread takes stats snapshots in a tight loop and checks
//! each one — `produced = exported + dropped + failed + rejected + queued +
//! in_flight` for spans and log records, `produced = exported + rejected +
//! failed + in_flight` for metric data points — through retries, partial
//! successes (rejecting some, or more than were sent), permanent failures, a
//! collector outage, a full queue under each `FullPolicy`, the count cap and
//! the byte budget, records too large to send, and the durable queue (records
//! on disk, and their replay after a restart). After shutdown the accounts
//! are exact.
//!
//! Each snapshot is also held to what the docs say of its parts: the counters
//! never go back, `dropped` is the sum of its reasons, `on_disk` and
//! `persisted` are part of `in_flight`, and nothing is counted exported or
//! rejected before the receiver took it (its count is read after the
//! snapshot).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use log::Log as _;
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use otlp_contrib::bridge::OtlpSpanProcessor;
use otlp_contrib::log_bridge::OtlpLogger;
use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig, Store};
use otlp_contrib::tracing::OtlpLogLayer;
use otlp_core::{KeyValue, LogRecord, SpanData, SpanId, TraceId};
use otlp_exporter_grpc::GrpcExporter;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::config::{BatchConfig, FullPolicy, PerformanceConfig, Protocol};
use otlp_sdk::durable::{DurableConfig, FsyncPolicy};
use otlp_sdk::metrics::{MeterProvider, MetricsStats, PeriodicReader};
use otlp_sdk::{
    BatchLogProcessor, BatchSpanProcessor, DynExporter, LoggerProvider, PipelineError, RetryPolicy,
    Signal, SpanProcessor, StatsSnapshot, TracerProvider,
};
use tracing_subscriber::layer::SubscriberExt as _;

/// Bound of every shutdown (never reached when the receiver answers).
const SHUTDOWN: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug)]
enum Transport {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

fn receiver() -> Receiver {
    Receiver::start(ReceiverConfig {
        store: Store::CountOnly,
        ..ReceiverConfig::default()
    })
    .expect("the receiver starts")
}

fn exporter(receiver: &Receiver, transport: Transport, signal: Signal) -> Box<dyn DynExporter> {
    match transport {
        Transport::Grpc => Box::new(
            GrpcExporter::builder()
                .endpoint(receiver.grpc_endpoint().expect("gRPC"))
                .signal(signal)
                .build()
                .expect("gRPC exporter"),
        ),
        Transport::HttpProtobuf | Transport::HttpJson => Box::new(
            HttpExporter::builder()
                .endpoint(receiver.http_endpoint().expect("HTTP"))
                .signal(signal)
                .protocol(if matches!(transport, Transport::HttpJson) {
                    Protocol::HttpJson
                } else {
                    Protocol::HttpProtobuf
                })
                .build()
                .expect("HTTP exporter"),
        ),
    }
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(10),
        ..RetryPolicy::default()
    }
}

/// Every way a request can end, over and over: retried, partly rejected
/// (some, none with a message, more than were sent), refused for good,
/// slow, accepted.
fn mixed_faults(rounds: usize) -> Vec<Fault> {
    let round = [
        Fault::Unavailable,
        Fault::PartialSuccess {
            rejected: 3,
            message: "too old".into(),
        },
        Fault::InvalidArgument,
        Fault::PartialSuccess {
            rejected: 1_000_000,
            message: "all of them".into(),
        },
        Fault::Delay(Duration::from_millis(3)),
        Fault::Throttle(Duration::from_millis(1)),
        Fault::PartialSuccess {
            rejected: 0,
            message: "a warning".into(),
        },
        Fault::Internal,
        Fault::PartialSuccess {
            rejected: -1,
            message: "a negative count".into(),
        },
    ];
    round
        .iter()
        .cloned()
        .cycle()
        .take(round.len() * rounds)
        .collect()
}

/// A span; every `large_every`-th one carries an attribute of `large` bytes.
fn span(n: u64, large_every: u64, large: usize) -> SpanData {
    let mut builder = SpanData::builder("accounting")
        .trace_id(TraceId::from_bytes([9; 16]))
        .span_id(SpanId::from_bytes((n + 1).to_be_bytes()))
        .attributes([KeyValue::new("n", n as i64)]);
    if large_every > 0 && n % large_every == large_every - 1 {
        builder = builder.attributes([KeyValue::new("blob", "x".repeat(large))]);
    }
    builder.build()
}

/// Runs `work` while another thread takes snapshots with `take` in a tight
/// loop and hands each, with the one before, to `check`; returns what
/// `work` returned and how many snapshots were checked. The work starts
/// once the first snapshot is taken, and the last is taken after it ended.
fn sampled<S: Send, T>(
    take: impl Fn() -> S + Sync,
    check: impl Fn(Option<&S>, &S) + Sync,
    work: impl FnOnce() -> T,
) -> (T, u64) {
    let working = AtomicBool::new(true);
    let samples = AtomicU64::new(0);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut last: Option<S> = None;
            loop {
                // Read before the snapshot: the one taken after `work`
                // ended is checked too.
                let go_on = working.load(Ordering::SeqCst);
                let now = take();
                check(last.as_ref(), &now);
                samples.fetch_add(1, Ordering::SeqCst);
                last = Some(now);
                if !go_on {
                    return;
                }
            }
        });
        while samples.load(Ordering::SeqCst) == 0 && !sampler.is_finished() {
            std::thread::yield_now();
        }
        let output = work();
        working.store(false, Ordering::SeqCst);
        sampler.join().expect("the sampler's checks hold");
        (output, samples.load(Ordering::SeqCst))
    })
}

/// A snapshot of a span or log pipeline, and what the receiver had counted
/// of its signal right after it.
struct Sample {
    stats: StatsSnapshot,
    received: u64,
}

fn sample(stats: &StatsSnapshot, received: u64) -> Sample {
    Sample {
        stats: stats.clone(),
        received,
    }
}

/// What every snapshot of a batch pipeline must show.
fn check_snapshot(last: Option<&Sample>, now: &Sample) {
    let s = &now.stats;
    assert!(s.is_balanced(), "unbalanced: {s:#?}");
    assert!(s.bytes.is_balanced(), "{:#?}", s.bytes);
    assert_eq!(
        s.dropped,
        s.dropped_queue_full + s.dropped_oversized + s.dropped_shutdown + s.dropped_durable,
        "{s:#?}"
    );
    assert!(
        s.on_disk <= s.in_flight,
        "on disk but not in flight: {s:#?}"
    );
    assert!(
        s.persisted <= s.in_flight,
        "persisted but not in flight: {s:#?}"
    );
    assert!(
        s.exported + s.rejected <= now.received,
        "counted delivered before the receiver took it ({} received): {s:#?}",
        now.received
    );
    if let Some(last) = last.map(|last| &last.stats) {
        let monotonic = |name: &str, get: fn(&StatsSnapshot) -> u64| {
            assert!(
                get(s) >= get(last),
                "{name} went back: {last:#?} then {s:#?}"
            );
        };
        monotonic("produced", |s| s.produced);
        monotonic("exported", |s| s.exported);
        monotonic("failed", |s| s.failed);
        monotonic("rejected", |s| s.rejected);
        monotonic("dropped", |s| s.dropped);
        monotonic("dropped_queue_full", |s| s.dropped_queue_full);
        monotonic("dropped_oversized", |s| s.dropped_oversized);
        monotonic("dropped_shutdown", |s| s.dropped_shutdown);
        monotonic("dropped_durable", |s| s.dropped_durable);
        monotonic("settled", StatsSnapshot::settled);
        monotonic("retries", |s| s.retries);
        monotonic("batches", |s| s.batches);
    }
}

/// After shutdown: nothing queued, nothing in flight but what waits on disk.
fn assert_exact(stats: &StatsSnapshot, produced: u64) {
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(stats.produced, produced, "{stats:#?}");
    assert_eq!(stats.queued, 0, "{stats:#?}");
    assert_eq!(stats.in_flight, stats.persisted, "{stats:#?}");
    assert_eq!(stats.on_disk, stats.persisted, "{stats:#?}");
}

fn shut_down_ok(result: Result<(), PipelineError>) {
    assert!(
        matches!(
            result,
            Ok(()) | Err(PipelineError::Undelivered { .. } | PipelineError::Persisted { .. })
        ),
        "{result:?}"
    );
}

/// `threads` threads call `produce(thread, i)` for `i` in `0..each`.
fn produce_from(threads: u64, each: u64, produce: impl Fn(u64, u64) + Sync) {
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let produce = &produce;
            scope.spawn(move || {
                for i in 0..each {
                    produce(thread, i);
                }
            });
        }
    });
}

/// The native span pipeline over each transport, its queue small (a count
/// cap, a byte budget and a request cap some spans exceed), the receiver
/// playing every fault and going away for a moment, under each full-queue
/// policy.
#[test]
fn span_snapshots_balance_through_faults_an_outage_full_queues_and_oversized_spans() {
    // Exports sent by the loop's own thread, or by threads beside it (they
    // settle while the loop cuts); fixed or adaptive batch sizes.
    for (transport, policy, io_threads, adaptive) in [
        (Transport::Grpc, FullPolicy::Drop, 1, false),
        (
            Transport::HttpProtobuf,
            FullPolicy::Block(Duration::from_millis(20)),
            2,
            true,
        ),
        (Transport::HttpJson, FullPolicy::Drop, 2, false),
        (
            Transport::Grpc,
            FullPolicy::Block(Duration::from_millis(20)),
            1,
            true,
        ),
    ] {
        let receiver = receiver();
        receiver.push_faults(mixed_faults(30));
        let processor = BatchSpanProcessor::builder(exporter(&receiver, transport, Signal::Traces))
            .with_batch_config(BatchConfig {
                max_queue_size: Some(300),
                max_queue_bytes: 48 * 1024,
                max_export_batch_size: 50,
                scheduled_delay: Duration::from_millis(2),
                export_timeout: Duration::from_millis(500),
                max_concurrent_exports: 3,
                full_policy: policy,
                adaptive,
                min_export_batch_size: 8,
            })
            .with_performance_config(PerformanceConfig {
                max_request_bytes: 6 * 1024,
                io_threads,
                ..PerformanceConfig::default()
            })
            .with_retry_policy(quick_retries())
            .with_attempt_timeout(Duration::from_millis(200))
            .build()
            .expect("pipeline");
        let (threads, each) = (3, 3_000);
        let ((), samples) = sampled(
            || sample(&processor.stats(), receiver.span_count()),
            check_snapshot,
            || {
                produce_from(threads, each, |thread, i| {
                    if thread == 0 && i == each / 3 {
                        receiver.refuse_connections_for(Duration::from_millis(100));
                    }
                    // Every 101st span is larger than a request may be.
                    processor.on_end(span(thread * each + i, 101, 8 * 1024));
                });
                shut_down_ok(processor.shutdown(SHUTDOWN));
            },
        );
        let stats = processor.stats();
        assert_exact(&stats, threads * each);
        assert!(stats.dropped_oversized > 0, "{transport:?}: {stats:#?}");
        assert!(stats.exported > 0, "{transport:?}: {stats:#?}");
        assert!(samples > 1);
    }
}

/// A provider with several processors: two batch pipelines (one over gRPC,
/// one over HTTP/JSON) around a processor of the program's own. Each
/// pipeline balances at every snapshot, and both got every span.
#[test]
fn with_several_processors_each_pipeline_balances_at_every_snapshot() {
    struct Tag;
    impl SpanProcessor for Tag {
        fn on_start(&self, span: &mut otlp_sdk::Span, _: Option<&otlp_core::SpanContext>) {
            span.set_attribute(KeyValue::new("tagged", true));
        }
        fn on_end(&self, _span: SpanData) {}
        fn force_flush(&self, _: Duration) -> Result<(), PipelineError> {
            Ok(())
        }
        fn shutdown(&self, _: Duration) -> Result<(), PipelineError> {
            Ok(())
        }
    }
    let receiver = receiver();
    receiver.push_faults(mixed_faults(20));
    let build = |transport| {
        BatchSpanProcessor::builder(exporter(&receiver, transport, Signal::Traces))
            .with_batch_config(BatchConfig {
                max_queue_size: Some(200),
                max_export_batch_size: 40,
                scheduled_delay: Duration::from_millis(2),
                max_concurrent_exports: 2,
                full_policy: FullPolicy::Drop,
                ..BatchConfig::default()
            })
            .with_retry_policy(quick_retries())
            .build()
            .expect("pipeline")
    };
    let (first, second) = (build(Transport::Grpc), build(Transport::HttpJson));
    let provider = TracerProvider::builder()
        .with_processor(first.clone())
        .with_processor(Tag)
        .with_processor(second.clone())
        .build();
    let tracer = provider.tracer("accounting");
    let (threads, each) = (3, 10_000);
    let ((), _) = sampled(
        || {
            let both = (first.stats(), second.stats());
            (sample(&both.0, 0), sample(&both.1, 0))
        },
        |last, now| {
            // The receiver counts both pipelines' spans: only each one's
            // own balance is checked here.
            let received = u64::MAX;
            let own = |s: &Sample| Sample {
                stats: s.stats.clone(),
                received,
            };
            check_snapshot(last.map(|l| own(&l.0)).as_ref(), &own(&now.0));
            check_snapshot(last.map(|l| own(&l.1)).as_ref(), &own(&now.1));
        },
        || {
            produce_from(threads, each, |_, _| tracer.start("work").end());
            shut_down_ok(provider.shutdown(SHUTDOWN));
        },
    );
    for stats in [first.stats(), second.stats()] {
        assert_exact(&stats, threads * each);
    }
}

/// The `opentelemetry_sdk` bridge: spans of an `SdkTracerProvider` through
/// `OtlpSpanProcessor` into the pipeline, whose stats balance at every
/// snapshot.
#[test]
fn bridged_span_snapshots_balance_at_every_snapshot() {
    let receiver = receiver();
    receiver.push_faults(mixed_faults(20));
    let pipeline =
        BatchSpanProcessor::builder(exporter(&receiver, Transport::Grpc, Signal::Traces))
            .with_batch_config(BatchConfig {
                max_queue_size: Some(200),
                max_export_batch_size: 40,
                scheduled_delay: Duration::from_millis(2),
                full_policy: FullPolicy::Drop,
                ..BatchConfig::default()
            })
            .with_retry_policy(quick_retries())
            .build()
            .expect("pipeline");
    let provider = SdkTracerProvider::builder()
        .with_span_processor(OtlpSpanProcessor::new(pipeline.clone()))
        .build();
    let (threads, each) = (3, 10_000);
    let ((), _) = sampled(
        || sample(&pipeline.stats(), receiver.span_count()),
        check_snapshot,
        || {
            produce_from(threads, each, |_, _| {
                provider.tracer("bridge").in_span("work", |_| {});
            });
            provider
                .shutdown_with_timeout(SHUTDOWN)
                .or_else(|error| match error {
                    opentelemetry_sdk::error::OTelSdkError::InternalFailure(_) => Ok(()),
                    other => Err(other),
                })
                .expect("the provider shuts down");
        },
    );
    assert_exact(&pipeline.stats(), threads * each);
}

/// Log records through the native `Logger`, the `tracing` log layer and the
/// `log` bridge, all into one pipeline, from their own threads.
#[test]
fn log_snapshots_balance_through_every_front_door() {
    let receiver = receiver();
    receiver.push_faults(mixed_faults(20));
    let processor = BatchLogProcessor::builder(exporter(&receiver, Transport::Grpc, Signal::Logs))
        .with_batch_config(BatchConfig {
            max_queue_size: Some(200),
            max_queue_bytes: 32 * 1024,
            max_export_batch_size: 40,
            scheduled_delay: Duration::from_millis(2),
            export_timeout: Duration::from_millis(500),
            max_concurrent_exports: 2,
            full_policy: FullPolicy::Drop,
            ..BatchConfig::default()
        })
        .with_retry_policy(quick_retries())
        .build()
        .expect("pipeline");
    let provider = LoggerProvider::builder()
        .with_processor(processor.clone())
        .build();
    let logger = provider.logger("native");
    let bridge = OtlpLogger::builder(&provider)
        .with_max_level(log::LevelFilter::Info)
        .build();
    let dispatch =
        tracing::Dispatch::new(tracing_subscriber::registry().with(OtlpLogLayer::new(&provider)));
    let each = 15_000;
    let ((), _) = sampled(
        || sample(&processor.stats(), receiver.log_record_count()),
        check_snapshot,
        || {
            produce_from(3, each, |door, i| match door {
                0 => logger.emit(LogRecord::builder().body(format!("native {i}")).build()),
                1 => tracing::dispatcher::with_default(&dispatch, || {
                    tracing::warn!(i, "through tracing");
                }),
                _ => bridge.log(
                    &log::Record::builder()
                        .level(log::Level::Warn)
                        .target("accounting")
                        .args(format_args!("through log {i}"))
                        .build(),
                ),
            });
            shut_down_ok(provider.shutdown(SHUTDOWN));
        },
    );
    assert_exact(&processor.stats(), 3 * each);
}

/// What every snapshot of a metrics pipeline must show.
fn check_metrics(last: Option<&(MetricsStats, u64)>, now: &(MetricsStats, u64)) {
    let (s, received) = now;
    assert_eq!(
        s.produced_data_points,
        s.exported_data_points
            + s.rejected_data_points
            + s.failed_data_points
            + s.in_flight_data_points,
        "unbalanced: {s:#?}"
    );
    assert!(
        s.exported_data_points + s.rejected_data_points <= *received,
        "counted delivered before the receiver took it ({received} received): {s:#?}"
    );
    if let Some((last, _)) = last {
        for (name, before, after) in [
            (
                "produced",
                last.produced_data_points,
                s.produced_data_points,
            ),
            (
                "exported",
                last.exported_data_points,
                s.exported_data_points,
            ),
            (
                "rejected",
                last.rejected_data_points,
                s.rejected_data_points,
            ),
            ("failed", last.failed_data_points, s.failed_data_points),
            ("exports", last.exports, s.exports),
        ] {
            assert!(after >= before, "{name} went back: {last:#?} then {s:#?}");
        }
    }
}

/// Metric data points: the reader collects and exports every few
/// milliseconds while threads record, through faults and an outage.
#[test]
fn metrics_snapshots_balance_through_faults_and_an_outage() {
    let receiver = receiver();
    receiver.push_faults(mixed_faults(20));
    let reader = PeriodicReader::builder(exporter(&receiver, Transport::Grpc, Signal::Metrics))
        .with_interval(Duration::from_millis(2))
        .with_timeout(Duration::from_millis(300))
        .with_retry(quick_retries())
        .build()
        .expect("reader");
    let provider = MeterProvider::builder()
        .with_reader(reader)
        .build()
        .expect("provider");
    let counter = provider.meter("accounting").u64_counter("work").build();
    let ((), _) = sampled(
        || (provider.stats(), receiver.data_point_count()),
        check_metrics,
        || {
            produce_from(3, 3_000, |thread, i| {
                if thread == 0 && i == 1_000 {
                    receiver.refuse_connections_for(Duration::from_millis(50));
                }
                counter.add(
                    1,
                    &[KeyValue::new("series", ((thread * 7 + i) % 40) as i64)],
                );
            });
            let result = provider.shutdown(SHUTDOWN);
            assert!(
                matches!(
                    result,
                    Ok(()) | Err(otlp_sdk::metrics::MetricsError::Undelivered { .. })
                ),
                "{result:?}"
            );
        },
    );
    let stats = provider.stats();
    assert_eq!(stats.in_flight_data_points, 0, "{stats:#?}");
    assert!(stats.produced_data_points > 0, "{stats:#?}");
}

fn directory(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("otlp-accounting-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    path
}

/// The durable queue: an outage parks batches on disk (under a disk cap
/// that evicts the oldest), shutdown leaves them there, and the next start
/// replays them; every snapshot of both runs balances, with what is on disk
/// part of what is in flight.
///
/// Once with the loop's thread sending and no fsync, once with two threads
/// sending beside the loop (settling records while it moves others to disk)
/// and every batch synced (each cut takes every thread's records).
#[test]
fn durable_snapshots_balance_while_records_go_to_disk_and_are_replayed_after_a_restart() {
    durable_runs("never", FsyncPolicy::Never, 1);
    durable_runs("every-batch", FsyncPolicy::EveryBatch, 2);
}

/// The two runs of the durable test, in a directory of their own.
fn durable_runs(name: &str, fsync: FsyncPolicy, io_threads: usize) {
    let dir = directory(name);
    let receiver = receiver();
    let durable = DurableConfig {
        fsync,
        max_bytes: 96 * 1024,
        segment_bytes: 8 * 1024,
        ..DurableConfig::new(&dir)
    };
    let pipeline = |receiver: &Receiver| {
        BatchSpanProcessor::builder(exporter(receiver, Transport::Grpc, Signal::Traces))
            .with_batch_config(BatchConfig {
                max_queue_size: Some(500),
                max_export_batch_size: 50,
                scheduled_delay: Duration::from_millis(2),
                export_timeout: Duration::from_millis(100),
                max_concurrent_exports: 2,
                full_policy: FullPolicy::Block(Duration::from_millis(200)),
                ..BatchConfig::default()
            })
            .with_performance_config(PerformanceConfig {
                io_threads,
                ..PerformanceConfig::default()
            })
            .with_retry_policy(quick_retries())
            .with_attempt_timeout(Duration::from_millis(50))
            .with_durable_queue(durable.clone())
            .build()
            .expect("pipeline")
    };
    // The first run: the backend answers with the script's faults, then is
    // down for good while the program waits for room (the loop moves
    // batches to disk, evicting the oldest at the cap).
    let first = pipeline(&receiver);
    receiver.push_faults(mixed_faults(5));
    let (threads, each) = (2, 2_000);
    let ((), _) = sampled(
        || sample(&first.stats(), receiver.span_count()),
        check_snapshot,
        || {
            produce_from(threads, each / 4, |thread, i| {
                first.on_end(span(thread * each + i, 0, 0));
            });
            // The outage starts once these spans are settled or parked on
            // disk, and the script's faults left are dropped: the fallback
            // answers only after the script, which holds more faults than a
            // run may send requests (the outage then answered with
            // successes and refusals for good: a loaded run had every
            // record the cap kept delivered or failed, and none left).
            shut_down_ok(first.force_flush(SHUTDOWN));
            receiver.clear_faults();
            receiver.set_fallback_fault(Some(Fault::Unavailable));
            produce_from(threads, each - each / 4, |thread, i| {
                first.on_end(span(thread * each + each / 4 + i, 0, 0));
            });
            shut_down_ok(first.shutdown(SHUTDOWN));
        },
    );
    let stats = first.stats();
    assert_exact(&stats, threads * each);
    // The newest records are never evicted, and an outage settles none:
    // some are left on disk for the second run.
    assert!(stats.persisted > 0, "{stats:#?}");
    drop(first);

    // The second run replays what the first left on disk.
    receiver.set_fallback_fault(None);
    receiver.clear_faults();
    receiver.push_faults(mixed_faults(3));
    let second_run = pipeline(&receiver);
    let recovered = second_run.stats().recovered;
    assert_eq!(recovered, stats.persisted, "{:#?}", second_run.stats());
    let ((), _) = sampled(
        || sample(&second_run.stats(), receiver.span_count()),
        check_snapshot,
        || {
            produce_from(threads, 500, |thread, i| {
                second_run.on_end(span(100_000 + thread * 500 + i, 0, 0));
            });
            shut_down_ok(second_run.shutdown(SHUTDOWN));
        },
    );
    assert_exact(&second_run.stats(), recovered + threads * 500);
    let _ = std::fs::remove_dir_all(&dir);
}
