//! Long-running stability: a program's pipelines run for weeks, so the
//! threads, file descriptors and memory they hold must stay bounded whatever
//! the collector does.
//!
//! Each test runs many fast cycles of a fault (outage, retryable errors,
//! permanent errors, partial successes with a different message each time,
//! slow answers) against the embedded receiver on loopback, and compares what
//! the process holds (`/proc/self/fd`, `/proc/self/task`, `VmRSS`) after an
//! early cycle with what it holds after the last one: not with the start, so
//! that warm-up (connection pools, runtimes, allocator arenas) is allowed for.
//! A leak per cycle, per request, per connection or per error message shows
//! up as a count that keeps climbing.
//!
//! The tests of this file measure the whole process, so they take
//! [`MEASURING`] in turn; the receiver keeps nothing ([`Store::DecodeOnly`]),
//! so its memory stays flat too.

#![cfg(target_os = "linux")]

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig, Store};
use otlp_core::{KeyValue, LogRecord, SpanData, SpanId, TraceId};
use otlp_exporter_grpc::GrpcExporter;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::config::BatchConfig;
use otlp_sdk::durable::{DurableConfig, FsyncPolicy};
use otlp_sdk::metrics::{MeterProvider, PeriodicReader};
use otlp_sdk::{
    BatchLogProcessor, BatchSpanProcessor, DynExporter, LoggerProvider, RetryPolicy, Signal,
    SpanProcessor, StatsSnapshot,
};

/// Upper bound for anything that should happen soon.
const PATIENCE: Duration = Duration::from_secs(30);

/// One measuring test at a time: they count the whole process's threads and
/// descriptors.
static MEASURING: Mutex<()> = Mutex::new(());

fn measuring() -> MutexGuard<'static, ()> {
    MEASURING.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Grpc,
    Http,
}

const TRANSPORTS: [Transport; 2] = [Transport::Grpc, Transport::Http];

/// What the process holds.
#[derive(Clone, Copy, Debug)]
struct Held {
    fds: usize,
    threads: usize,
    rss_kib: u64,
}

fn held() -> Held {
    let count = |dir: &str| {
        std::fs::read_dir(dir)
            .expect("procfs is readable")
            .filter(|entry| entry.is_ok())
            .count()
    };
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    Held {
        fds: count("/proc/self/fd"),
        threads: count("/proc/self/task"),
        rss_kib,
    }
}

/// Threads and descriptors come back to their level, give or take a few that
/// come and go on their own (a runtime's blocking thread parked for its keep
/// alive, a connection being replaced).
const SLACK: usize = 4;

/// Memory growth allowed between the early and the last measure: 64 MiB.
/// The cycles push a few megabytes of spans in all; a leak of what a request,
/// a connection or an error message holds, times the thousands of requests of
/// the later cycles, crosses it, while allocator retention does not.
const RSS_SLACK_KIB: u64 = 64 * 1024;

fn assert_level(transport: Transport, what: &str, early: Held, late: Held) {
    assert_level_beside_pools(transport, what, early, late, 0);
}

/// Descriptors one pipeline's idle HTTP/1.1 connections may add after a
/// burst: an HTTP/1.1 connection carries one request at a time, so a
/// pipeline whose exports overlap (up to `max_concurrent_exports`, 4 by
/// default) opens up to that many connections, and keeps them idle for
/// 90 s for reuse; each is two descriptors here, the receiver running in
/// this process. gRPC multiplexes its requests on one connection.
const HTTP_POOL_FDS: usize = 2 * 4;

/// The descriptors `pipelines` HTTP/1.1 pipelines may hold in idle
/// connections beyond what they held at the early measure.
fn pool_fds(transport: Transport, pipelines: usize) -> usize {
    match transport {
        Transport::Grpc => 0,
        Transport::Http => pipelines * HTTP_POOL_FDS,
    }
}

/// [`assert_level`], allowing for the idle connections of `pipelines`
/// pipelines still running at the late measure, which a burst may have
/// grown to their bound ([`pool_fds`]; a leak per thread or per request
/// crosses that bound many times over).
fn assert_level_beside_pools(
    transport: Transport,
    what: &str,
    early: Held,
    late: Held,
    pipelines: usize,
) {
    eprintln!("{transport:?} {what}: early {early:?}, late {late:?}");
    let fd_slack = SLACK + pool_fds(transport, pipelines);
    assert!(
        late.fds <= early.fds + fd_slack,
        "{transport:?} {what}: descriptors grew from {} to {}",
        early.fds,
        late.fds
    );
    assert!(
        late.threads <= early.threads + SLACK,
        "{transport:?} {what}: threads grew from {} to {}",
        early.threads,
        late.threads
    );
    assert!(
        late.rss_kib <= early.rss_kib + RSS_SLACK_KIB,
        "{transport:?} {what}: resident memory grew from {} KiB to {} KiB",
        early.rss_kib,
        late.rss_kib
    );
}

fn receiver() -> Receiver {
    Receiver::start(ReceiverConfig {
        store: Store::DecodeOnly,
        ..ReceiverConfig::default()
    })
    .expect("receiver")
}

fn exporter(transport: Transport, receiver: &Receiver) -> Box<dyn DynExporter> {
    exporter_of(transport, receiver, Signal::Traces)
}

fn exporter_of(transport: Transport, receiver: &Receiver, signal: Signal) -> Box<dyn DynExporter> {
    match transport {
        Transport::Grpc => Box::new(
            GrpcExporter::builder()
                .endpoint(receiver.grpc_endpoint().expect("gRPC endpoint"))
                .signal(signal)
                .build()
                .expect("gRPC exporter"),
        ),
        Transport::Http => Box::new(
            HttpExporter::builder()
                .endpoint(receiver.http_endpoint().expect("HTTP endpoint"))
                .signal(signal)
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

fn small_batches() -> BatchConfig {
    BatchConfig {
        scheduled_delay: Duration::from_millis(2),
        max_export_batch_size: 20,
        ..BatchConfig::default()
    }
}

/// Attempts that meet a hanging collector give up after a short timeout, so
/// that a cycle of them is quick.
fn processor(transport: Transport, receiver: &Receiver) -> BatchSpanProcessor {
    BatchSpanProcessor::builder(exporter(transport, receiver))
        .with_batch_config(small_batches())
        .with_retry_policy(quick_retries())
        .with_attempt_timeout(Duration::from_millis(300))
        .build()
        .expect("pipeline")
}

fn span(n: u64) -> SpanData {
    SpanData::builder(format!("stability {}", n % 7))
        .trace_id(TraceId::from_bytes([9; 16]))
        .span_id(SpanId::from_bytes((n + 1).to_be_bytes()))
        .build()
}

fn wait_for_stats(
    processor: &BatchSpanProcessor,
    what: &str,
    condition: impl Fn(&StatsSnapshot) -> bool,
) -> StatsSnapshot {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stats = processor.stats();
        if condition(&stats) {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "waited in vain for {what}: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Everything produced so far has left the pipeline (exported, failed or
/// rejected): nothing queued or in flight, and the queue's byte budget all
/// given back.
fn drained(stats: &StatsSnapshot) -> bool {
    stats.queued == 0
        && stats.in_flight == 0
        && stats.queued_bytes == 0
        && stats.settled() == stats.produced
}

/// One cycle of a fault and recovery (the fault cycles through outage,
/// retryable error, permanent error, partial success with a message of its
/// own, slow answers, hanging requests and throttling): spans go out while the collector
/// misbehaves, then it is healthy again and the queue drains.
fn cycle(processor: &BatchSpanProcessor, receiver: &Receiver, n: u64, next: &mut u64) {
    const SPANS: u64 = 60;
    let before = processor.stats();
    let fault = n % 7;
    match fault {
        0 => receiver.refuse_connections_for(Duration::from_millis(30)),
        5 => receiver.push_faults([Fault::Hang, Fault::Hang]),
        6 => receiver.push_faults([
            Fault::Throttle(Duration::from_millis(5)),
            Fault::UnavailableRetryAfter(Duration::from_millis(5)),
        ]),
        1 => receiver.set_fallback_fault(Some(Fault::Unavailable)),
        2 => receiver.set_fallback_fault(Some(Fault::InvalidArgument)),
        3 => receiver.set_fallback_fault(Some(Fault::PartialSuccess {
            rejected: 1,
            message: format!("cycle {n}: one span rejected, {}", "x".repeat(200)),
        })),
        _ => receiver.set_fallback_fault(Some(Fault::Delay(Duration::from_millis(5)))),
    }
    for _ in 0..SPANS {
        processor.on_end(span(*next));
        *next += 1;
    }
    if fault == 1 {
        // Retries really happen before the collector comes back.
        wait_for_stats(processor, "a retry", |stats| {
            stats.retries > before.retries || stats.last_error != before.last_error
        });
    }
    if fault >= 5 {
        wait_for_stats(processor, "the scripted faults to be played", |stats| {
            stats.retries > before.retries || receiver.pending_faults() == 0
        });
    }
    // The fault has been met before it is cleared: a batch counts when it is
    // cut, before its request reaches the receiver, so on a loaded machine
    // waiting for the count alone cleared the fault first (a run once ended
    // with no span rejected in seven partial-success cycles).
    if fault == 2 {
        wait_for_stats(processor, "a batch refused for good", |stats| {
            stats.failed > before.failed
        });
    }
    if fault == 3 {
        wait_for_stats(processor, "a partial success", |stats| {
            stats.rejected > before.rejected
        });
    }
    if fault != 0 {
        wait_for_stats(processor, "the cycle's exports", |stats| {
            stats.batches > before.batches
        });
        receiver.clear_faults();
    }
    wait_for_stats(processor, "the queue to drain", drained);
}

#[test]
fn thirty_cycles_of_faults_leave_threads_descriptors_and_memory_at_their_level() {
    let _measuring = measuring();
    for transport in TRANSPORTS {
        let receiver = receiver();
        let processor = processor(transport, &receiver);
        let mut next = 0;
        let mut early = None;
        for n in 0..49 {
            cycle(&processor, &receiver, n, &mut next);
            if n == 13 {
                early = Some(held());
            }
        }
        let late = held();
        let stats = processor.stats();
        assert!(stats.is_balanced(), "{stats:?}");
        assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
        assert!(
            stats.retries > 0 && stats.failed > 0 && stats.rejected > 0,
            "{stats:?}"
        );
        assert_level(
            transport,
            "fault cycles",
            early.expect("measured early"),
            late,
        );
        processor
            .shutdown(Duration::from_secs(10))
            .expect("shutdown");
        receiver.shutdown();
    }
}

#[test]
fn building_and_dropping_two_hundred_pipelines_gives_back_their_threads_and_descriptors() {
    let _measuring = measuring();
    for transport in TRANSPORTS {
        let receiver = receiver();
        let mut exported = 0;
        let mut early = None;
        for n in 0..200 {
            let processor = processor(transport, &receiver);
            processor.on_end(span(n));
            processor
                .force_flush(Duration::from_secs(10))
                .expect("flush");
            exported += 1;
            if n % 2 == 0 {
                processor
                    .shutdown(Duration::from_secs(10))
                    .expect("shutdown");
            }
            // Every other one is only dropped.
            drop(processor);
            if n == 19 {
                early = Some(held());
            }
        }
        assert!(receiver.wait_for_spans(exported, PATIENCE));
        // Threads of dropped pipelines end on their own, after the drop
        // returns: wait (bounded) for them before measuring.
        let early = early.expect("measured early");
        let deadline = Instant::now() + PATIENCE;
        let mut late = held();
        while (late.threads > early.threads + SLACK || late.fds > early.fds + SLACK)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
            late = held();
        }
        assert_level(transport, "200 pipelines", early, late);
        receiver.shutdown();
    }
}

// ---- logs -------------------------------------------------------------------------

fn log_processor(transport: Transport, receiver: &Receiver) -> BatchLogProcessor {
    BatchLogProcessor::builder(exporter_of(transport, receiver, Signal::Logs))
        .with_batch_config(small_batches())
        .with_retry_policy(quick_retries())
        .with_attempt_timeout(Duration::from_secs(5))
        .build()
        .expect("log pipeline")
}

#[test]
fn log_pipelines_through_fault_cycles_and_rebuilt_two_hundred_times_stay_level() {
    let _measuring = measuring();
    for transport in TRANSPORTS {
        let receiver = receiver();
        let processor = log_processor(transport, &receiver);
        let provider = LoggerProvider::builder()
            .with_processor(processor.clone())
            .build();
        let mut early = None;
        for n in 0..40u64 {
            let before = processor.stats();
            match n % 4 {
                0 => receiver.set_fallback_fault(Some(Fault::Unavailable)),
                1 => receiver.set_fallback_fault(Some(Fault::Internal)),
                2 => receiver.set_fallback_fault(Some(Fault::PartialSuccess {
                    rejected: 1,
                    message: format!("cycle {n}"),
                })),
                _ => receiver.refuse_connections_for(Duration::from_millis(20)),
            }
            // A logger per cycle, under a scope of its own name.
            let logger = provider.logger(format!("module {}", n % 5));
            for i in 0..60 {
                logger.emit(LogRecord::builder().body(format!("record {n}.{i}")).build());
            }
            let deadline = Instant::now() + PATIENCE;
            while n % 4 != 3 && processor.stats().batches == before.batches {
                assert!(Instant::now() < deadline, "no export in cycle {n}");
                std::thread::sleep(Duration::from_millis(2));
            }
            receiver.clear_faults();
            let deadline = Instant::now() + PATIENCE;
            while !drained(&processor.stats()) {
                assert!(
                    Instant::now() < deadline,
                    "the log queue never drained: {:?}",
                    processor.stats()
                );
                std::thread::sleep(Duration::from_millis(2));
            }
            if n == 9 {
                early = Some(held());
            }
        }
        assert_level(transport, "log fault cycles", early.expect("early"), held());
        provider
            .shutdown(Duration::from_secs(10))
            .expect("shutdown");
        drop(provider);
        drop(processor);

        let mut early = None;
        for n in 0..200 {
            let provider = LoggerProvider::builder()
                .with_processor(log_processor(transport, &receiver))
                .build();
            provider
                .logger("rebuilt")
                .emit(LogRecord::builder().body("one").build());
            provider
                .force_flush(Duration::from_secs(10))
                .expect("flush");
            if n % 2 == 0 {
                provider
                    .shutdown(Duration::from_secs(10))
                    .expect("shutdown");
            }
            drop(provider);
            if n == 19 {
                early = Some(held());
            }
        }
        let early = early.expect("early");
        assert_level(transport, "200 log pipelines", early, settle(early));
        receiver.shutdown();
    }
}

/// What the process holds once threads that were told to end have ended
/// (they end after a drop returns): waits, bounded, for the counts to come
/// back within [`SLACK`] of `early`.
fn settle(early: Held) -> Held {
    settle_beside(early, 0)
}

/// [`settle`], allowing `fd_allowance` more descriptors.
fn settle_beside(early: Held, fd_allowance: usize) -> Held {
    let deadline = Instant::now() + PATIENCE;
    let mut late = held();
    while (late.threads > early.threads + SLACK || late.fds > early.fds + SLACK + fd_allowance)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
        late = held();
    }
    late
}

// ---- metrics ----------------------------------------------------------------------

/// A reader exporting every `interval`; an export that meets an outage
/// gives up after a short timeout, so that a cycle of one is quick.
fn meter_provider(transport: Transport, receiver: &Receiver, interval: Duration) -> MeterProvider {
    let reader = PeriodicReader::builder(exporter_of(transport, receiver, Signal::Metrics))
        .with_interval(interval)
        .with_timeout(Duration::from_millis(200))
        .with_retry(quick_retries())
        .build()
        .expect("reader");
    MeterProvider::builder()
        .with_reader(reader)
        .with_cardinality_limit(50)
        .build()
        .expect("meter provider")
}

#[test]
fn meter_providers_through_fault_cycles_and_rebuilt_two_hundred_times_stay_level() {
    let _measuring = measuring();
    for transport in TRANSPORTS {
        let receiver = receiver();
        let provider = meter_provider(transport, &receiver, Duration::from_millis(2));
        let meter = provider.meter("stability");
        let counter = meter.u64_counter("requests").build();
        let mut early = None;
        for n in 0..40u64 {
            let before = provider.stats();
            match n % 4 {
                0 => receiver.set_fallback_fault(Some(Fault::Unavailable)),
                1 => receiver.set_fallback_fault(Some(Fault::InvalidArgument)),
                2 => receiver.set_fallback_fault(Some(Fault::PartialSuccess {
                    rejected: 1,
                    message: format!("cycle {n}"),
                })),
                _ => receiver.refuse_connections_for(Duration::from_millis(20)),
            }
            // New attribute sets every cycle: past the cardinality limit
            // they go to the overflow series.
            for i in 0..20 {
                counter.add(1, &[KeyValue::new("route", format!("/r/{n}/{i}"))]);
            }
            let deadline = Instant::now() + PATIENCE;
            while provider.stats().exports < before.exports + 2 {
                assert!(Instant::now() < deadline, "no export in cycle {n}");
                std::thread::sleep(Duration::from_millis(2));
            }
            receiver.clear_faults();
            provider
                .force_flush(Duration::from_secs(10))
                .expect("flush once healthy");
            if n == 9 {
                early = Some(held());
            }
        }
        let stats = provider.stats();
        assert!(stats.overflowed_measurements > 0, "{stats:?}");
        assert_level(
            transport,
            "metric fault cycles",
            early.expect("early"),
            held(),
        );
        provider
            .shutdown(Duration::from_secs(10))
            .expect("shutdown");
        drop(provider);

        let mut early = None;
        for n in 0..200 {
            let provider = meter_provider(transport, &receiver, Duration::from_secs(3600));
            provider
                .meter("rebuilt")
                .u64_counter("built")
                .build()
                .add(1, &[]);
            provider
                .force_flush(Duration::from_secs(10))
                .expect("flush");
            if n % 2 == 0 {
                provider
                    .shutdown(Duration::from_secs(10))
                    .expect("shutdown");
            }
            drop(provider);
            if n == 19 {
                early = Some(held());
            }
        }
        let early = early.expect("early");
        assert_level(transport, "200 meter providers", early, settle(early));
        receiver.shutdown();
    }
}

// ---- the durable queue ------------------------------------------------------------

/// Files in `dir` and their total size.
fn on_disk(dir: &std::path::Path) -> (usize, u64) {
    std::fs::read_dir(dir)
        .expect("the queue's directory")
        .filter_map(Result::ok)
        .filter_map(|entry| entry.metadata().ok())
        .filter(|meta| meta.is_file())
        .fold((0, 0), |(files, bytes), meta| {
            (files + 1, bytes + meta.len())
        })
}

#[test]
fn the_durable_queue_through_outages_keeps_its_files_and_descriptors_bounded() {
    let _measuring = measuring();
    for transport in TRANSPORTS {
        let dir = std::env::temp_dir().join(format!(
            "otlp-stability-durable-{transport:?}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let config = DurableConfig {
            fsync: FsyncPolicy::Never,
            max_bytes: 64 * 1024,
            segment_bytes: 8 * 1024,
            ..DurableConfig::new(&dir)
        };
        let receiver = receiver();
        let processor = BatchSpanProcessor::builder(exporter(transport, &receiver))
            .with_batch_config(small_batches())
            .with_retry_policy(quick_retries())
            .with_attempt_timeout(Duration::from_secs(5))
            .with_durable_queue(config)
            .build()
            .expect("durable pipeline");
        let mut next = 0;
        let mut early = None;
        let mut most_on_disk = 0;
        for n in 0..40u64 {
            let before = processor.stats();
            receiver.set_fallback_fault(Some(if n % 2 == 0 {
                Fault::Unavailable
            } else {
                Fault::InvalidArgument
            }));
            for _ in 0..100 {
                processor.on_end(span(next));
                next += 1;
            }
            wait_for_stats(&processor, "the cycle's exports", |stats| {
                stats.batches > before.batches || stats.retries > before.retries
            });
            most_on_disk = most_on_disk.max(on_disk(&dir).1);
            receiver.clear_faults();
            wait_for_stats(&processor, "the queue to drain", drained);
            if n == 9 {
                early = Some((held(), on_disk(&dir)));
            }
        }
        let (early, early_disk) = early.expect("early");
        let late_disk = on_disk(&dir);
        eprintln!(
            "{transport:?} durable: files early {early_disk:?}, late {late_disk:?}, most {most_on_disk}"
        );
        assert_level(transport, "durable outages", early, held());
        assert!(
            late_disk.0 <= early_disk.0 + 2,
            "{transport:?}: files on disk grew from {early_disk:?} to {late_disk:?}"
        );
        // The cap, with room for the segments' acknowledgement files and the
        // queue's own small files.
        assert!(
            late_disk.1 <= 2 * 64 * 1024,
            "{transport:?}: {late_disk:?} on disk over a cap of 64 KiB"
        );
        processor
            .shutdown(Duration::from_secs(10))
            .expect("shutdown");
        receiver.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

// ---- front doors: the tracing layer and the opentelemetry_sdk bridge --------------

/// Spans from `threads` short-lived threads, one after another, through the
/// tracing layer and through the bridge: each thread takes a slot in the
/// pipeline's queue and thread-local state, then exits.
fn spans_from_short_lived_threads(
    threads: usize,
    dispatch: &tracing::Dispatch,
    sdk_provider: &opentelemetry_sdk::trace::SdkTracerProvider,
) {
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    for n in 0..threads {
        let dispatch = dispatch.clone();
        let sdk_provider = sdk_provider.clone();
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                let span = tracing::info_span!("request", n);
                let _entered = span.enter();
                tracing::info!(n, "handled");
            });
            let tracer = sdk_provider.tracer(format!("library {}", n % 8));
            tracer.in_span("bridged", |_| {});
        })
        .join()
        .expect("the producing thread");
    }
}

#[test]
fn short_lived_producer_threads_and_rebuilt_front_doors_leave_nothing_behind() {
    use otlp_contrib::bridge::OtlpSpanProcessor;
    use otlp_contrib::tracing::OtlpLayer;
    use otlp_sdk::TracerProvider;
    use tracing_subscriber::layer::SubscriberExt as _;

    let _measuring = measuring();
    for transport in TRANSPORTS {
        let receiver = receiver();
        let pipeline = processor(transport, &receiver);
        let provider = TracerProvider::builder()
            .with_processor(pipeline.clone())
            .build();
        let dispatch =
            tracing::Dispatch::new(tracing_subscriber::registry().with(OtlpLayer::new(&provider)));
        let bridge_pipeline = processor(transport, &receiver);
        let sdk_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_span_processor(OtlpSpanProcessor::new(bridge_pipeline.clone()))
            .build();
        spans_from_short_lived_threads(100, &dispatch, &sdk_provider);
        let early = held();
        spans_from_short_lived_threads(1_000, &dispatch, &sdk_provider);
        wait_for_stats(&pipeline, "the layer's spans", |stats| {
            stats.produced == 1_100 && drained(stats)
        });
        wait_for_stats(&bridge_pipeline, "the bridge's spans", |stats| {
            stats.produced == 1_100 && drained(stats)
        });
        // The layer's and the bridge's pipelines still run, and their
        // exports overlapped as they pleased during the burst.
        let late = settle_beside(early, pool_fds(transport, 2));
        assert_level_beside_pools(transport, "1000 short-lived threads", early, late, 2);
        drop(dispatch);
        let _ = sdk_provider.shutdown();
        provider
            .shutdown(Duration::from_secs(10))
            .expect("shutdown");

        let mut early = None;
        for n in 0..200 {
            let pipeline = processor(transport, &receiver);
            let provider = TracerProvider::builder()
                .with_processor(pipeline.clone())
                .build();
            let dispatch = tracing::Dispatch::new(
                tracing_subscriber::registry().with(OtlpLayer::new(&provider)),
            );
            tracing::dispatcher::with_default(&dispatch, || {
                tracing::info_span!("rebuilt", n).in_scope(|| {});
            });
            let sdk_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_span_processor(OtlpSpanProcessor::new(processor(transport, &receiver)))
                .build();
            {
                use opentelemetry::trace::{Tracer as _, TracerProvider as _};
                sdk_provider.tracer("rebuilt").in_span("bridged", |_| {});
            }
            if n % 2 == 0 {
                let _ = sdk_provider.shutdown();
                provider
                    .shutdown(Duration::from_secs(10))
                    .expect("shutdown");
            }
            drop((dispatch, provider, pipeline, sdk_provider));
            if n == 19 {
                early = Some(held());
            }
        }
        let early = early.expect("early");
        assert_level(transport, "200 layers and bridges", early, settle(early));
        receiver.shutdown();
    }
}
