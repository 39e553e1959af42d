//! Outages, end to end: the real pipeline (`BatchSpanProcessor` with the
//! OTLP/gRPC and OTLP/HTTP exporters) against a real receiver on loopback.
//!
//! - The receiver is down when the program starts and comes up later:
//!   everything queued meanwhile is delivered by the retries.
//! - The receiver goes away for a while in the middle of a steady run and
//!   comes back: with a memory queue sized for the gap nothing is lost, and
//!   the stats say so (retries, no drops).
//! - A receiver that accepts connections and never answers, and one that
//!   answers slowly: shutdown still returns by its deadline, and every span is
//!   accounted for exactly (nothing left queued or in flight).
//! - With the durable queue, a backend that is down sends batches to disk
//!   (up to its cap, the oldest evicted) rather than leaving the program to
//!   drop at a full memory queue, also when the disk starts out filled.
//!
//! Retry backoffs are short (tens of milliseconds) so the suite stays quick;
//! everything else keeps its default. Waits poll the receiver or the stats
//! with a timeout; no test sleeps hoping the other side is ready.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig};
use otlp_core::{SpanData, SpanId, TraceId};
use otlp_exporter_grpc::GrpcExporter;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::config::BatchConfig;
use otlp_sdk::{
    BatchSpanProcessor, DynExporter, PipelineError, RetryPolicy, SpanProcessor, StatsSnapshot,
};

#[path = "support/closed_port.rs"]
mod closed_port;
use closed_port::closed_port;

/// Upper bound for anything that should happen soon.
const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Grpc,
    Http,
}

const TRANSPORTS: [Transport; 2] = [Transport::Grpc, Transport::Http];

fn receiver_on(transport: Transport, addr: SocketAddr) -> Receiver {
    let (grpc, http) = match transport {
        Transport::Grpc => (Some(addr), None),
        Transport::Http => (None, Some(addr)),
    };
    Receiver::start(ReceiverConfig {
        grpc,
        http,
        ..ReceiverConfig::default()
    })
    .expect("the receiver binds its port")
}

fn any_port_receiver() -> Receiver {
    Receiver::start(ReceiverConfig::default()).expect("receiver")
}

fn endpoint_of(receiver: &Receiver, transport: Transport) -> String {
    match transport {
        Transport::Grpc => receiver.grpc_endpoint(),
        Transport::Http => receiver.http_endpoint(),
    }
    .expect("the transport's endpoint")
}

fn exporter(transport: Transport, endpoint: &str) -> Box<dyn DynExporter> {
    match transport {
        Transport::Grpc => Box::new(
            GrpcExporter::builder()
                .endpoint(endpoint)
                .build()
                .expect("gRPC exporter"),
        ),
        Transport::Http => Box::new(
            HttpExporter::builder()
                .endpoint(endpoint)
                .build()
                .expect("HTTP exporter"),
        ),
    }
}

/// Short backoffs, default multiplier and jitter.
fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        ..RetryPolicy::default()
    }
}

fn pipeline(
    transport: Transport,
    endpoint: &str,
    batch: BatchConfig,
    attempt_timeout: Duration,
) -> BatchSpanProcessor {
    BatchSpanProcessor::builder(exporter(transport, endpoint))
        .with_batch_config(batch)
        .with_retry_policy(quick_retries())
        .with_attempt_timeout(attempt_timeout)
        .build()
        .expect("pipeline")
}

/// Span number `n` (from 1): its span id says which it is.
fn span(n: u64) -> SpanData {
    SpanData::builder("outage")
        .trace_id(TraceId::from_bytes([7; 16]))
        .span_id(SpanId::from_bytes(n.to_be_bytes()))
        .build()
}

fn produce(processor: &BatchSpanProcessor, range: std::ops::RangeInclusive<u64>) {
    for n in range {
        processor.on_end(span(n));
    }
}

/// Polls `condition` on the stats until it holds; panics after [`PATIENCE`].
fn wait_for_stats(
    processor: &BatchSpanProcessor,
    what: &str,
    condition: impl Fn(&StatsSnapshot) -> bool,
) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stats = processor.stats();
        if condition(&stats) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "waited in vain for {what}: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The distinct span numbers the receiver accepted, and how many arrived in all.
fn received(receiver: &Receiver) -> (HashSet<u64>, usize) {
    let spans = receiver.accepted_spans();
    let total = spans.len();
    let ids = spans
        .iter()
        .map(|span| u64::from_be_bytes(span.span_id.as_slice().try_into().expect("8 bytes")))
        .collect();
    (ids, total)
}

/// Every span settled and nothing lost: the exact accounting after a clean run.
fn assert_all_exported(stats: &StatsSnapshot, produced: u64) {
    assert!(stats.is_balanced(), "{stats:?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(stats.produced, produced, "{stats:?}");
    assert_eq!(stats.exported, produced, "{stats:?}");
    assert_eq!(
        (
            stats.dropped,
            stats.failed,
            stats.rejected,
            stats.queued,
            stats.in_flight
        ),
        (0, 0, 0, 0, 0),
        "{stats:?}"
    );
}

// ---- (a) down at start ------------------------------------------------------------

#[test]
fn a_receiver_that_comes_up_late_gets_everything_queued_meanwhile() {
    const SPANS: u64 = 2_000;
    for transport in TRANSPORTS {
        let (held, addr) = closed_port();
        let endpoint = format!("http://{addr}");
        let batch = BatchConfig {
            scheduled_delay: Duration::from_millis(20),
            max_export_batch_size: 200,
            ..BatchConfig::default()
        };
        let processor = pipeline(transport, &endpoint, batch, Duration::from_secs(2));
        produce(&processor, 1..=SPANS);
        // The exports really meet the closed port (retries are counted when a
        // request settles; the error is recorded as it happens).
        wait_for_stats(
            &processor,
            "an export error against the closed port",
            |stats| stats.last_error.is_some(),
        );
        // Then the backend stays down a while longer: the outage itself, not
        // a wait for anything to be ready.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(processor.stats().exported, 0);

        drop(held);
        let receiver = receiver_on(transport, addr);
        assert_eq!(processor.force_flush(PATIENCE), Ok(()), "{transport:?}");
        let stats = processor.stats();
        assert_all_exported(&stats, SPANS);
        assert!(stats.retries > 0, "{stats:?}");
        let (ids, total) = received(&receiver);
        eprintln!(
            "{transport:?} late receiver: {} retries, {total} spans received",
            stats.retries
        );
        assert_eq!(ids, (1..=SPANS).collect::<HashSet<_>>(), "{transport:?}");
        assert_eq!(
            total as u64, SPANS,
            "no request was half-delivered, so no duplicates"
        );
        assert_eq!(processor.shutdown(PATIENCE), Ok(()));
        assert_all_exported(&processor.stats(), SPANS);
    }
}

// ---- (b) an outage mid-run ------------------------------------------------------------

#[test]
fn an_outage_in_the_middle_of_a_steady_run_loses_nothing() {
    // 4 000 spans over about 2 s (2 000 per second); the receiver is gone for
    // 600 ms of it. The memory queue holds the gap several times over.
    const SPANS: u64 = 4_000;
    const PER_TICK: u64 = 10;
    const TICK: Duration = Duration::from_millis(5);
    const GAP: Duration = Duration::from_millis(600);
    for transport in TRANSPORTS {
        let receiver = any_port_receiver();
        let batch = BatchConfig {
            max_queue_size: Some(8_192),
            scheduled_delay: Duration::from_millis(20),
            max_export_batch_size: 256,
            ..BatchConfig::default()
        };
        let processor = pipeline(
            transport,
            &endpoint_of(&receiver, transport),
            batch,
            Duration::from_secs(2),
        );

        let done = Arc::new(AtomicBool::new(false));
        let produced = Arc::new(AtomicU64::new(0));
        let producer = {
            let (processor, done, produced) =
                (processor.clone(), Arc::clone(&done), Arc::clone(&produced));
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut next = 1;
                while next <= SPANS {
                    let last = (next + PER_TICK - 1).min(SPANS);
                    produce(&processor, next..=last);
                    produced.store(last, Ordering::SeqCst);
                    next = last + 1;
                    // A steady rate: tick n starts at n * TICK, whatever the pipeline does.
                    let due = started + TICK * (next / PER_TICK) as u32;
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                }
                done.store(true, Ordering::SeqCst);
            })
        };

        // The outage starts once a good part of the run has been delivered.
        assert!(
            receiver.wait_for_spans(SPANS / 4, PATIENCE),
            "{transport:?}"
        );
        receiver.refuse_connections_for(GAP);
        let at_outage = produced.load(Ordering::SeqCst);
        // The receiver stays away until an export has met the outage (its
        // error is recorded as it happens), and GAP more: a window of a
        // fixed length could pass unfelt while a loaded machine's export
        // loop did not run.
        let give_up = Instant::now() + PATIENCE;
        while processor.stats().last_error.is_none() && Instant::now() < give_up {
            receiver.refuse_connections_for(GAP);
            std::thread::sleep(Duration::from_millis(5));
        }
        producer.join().expect("producer");
        assert!(done.load(Ordering::SeqCst));
        assert!(
            at_outage < SPANS,
            "the producer was still producing when the receiver went away"
        );

        assert_eq!(processor.force_flush(PATIENCE), Ok(()), "{transport:?}");
        let stats = processor.stats();
        assert_all_exported(&stats, SPANS);
        assert!(stats.retries > 0, "the outage was felt: {stats:?}");
        assert_eq!(stats.dropped_queue_full, 0, "{stats:?}");
        // At-least-once: a request cut off after the receiver read it is sent
        // again, so duplicates may arrive, but every span arrives.
        let (ids, total) = received(&receiver);
        eprintln!(
            "{transport:?} outage at span {at_outage}: {} retries, {total} spans received ({} duplicates)",
            stats.retries,
            total as u64 - SPANS
        );
        assert_eq!(ids.len() as u64, SPANS, "{transport:?}: {stats:?}");
        assert_eq!(ids, (1..=SPANS).collect::<HashSet<_>>());
        assert!(total as u64 >= SPANS);
        assert_eq!(processor.shutdown(PATIENCE), Ok(()));
    }
}

// ---- (c) a backend that hangs or crawls ------------------------------------------------

/// Shutdown against `fault` returns by its deadline, with every span accounted for.
fn shutdown_meets_its_deadline(transport: Transport, fault: Fault, spans: u64) -> StatsSnapshot {
    const DEADLINE: Duration = Duration::from_millis(800);
    // Loose, for a loaded machine: without the deadline, a hung backend
    // holds shutdown for the attempt timeout (10 s), a slow one 1.5 s, and
    // the slow case's exported-some-not-all checks that it was cut short.
    const MARGIN: Duration = Duration::from_millis(1200);
    let receiver = any_port_receiver();
    receiver.set_fallback_fault(Some(fault.clone()));
    let batch = BatchConfig {
        scheduled_delay: Duration::from_millis(10),
        max_export_batch_size: 100,
        max_concurrent_exports: 2,
        ..BatchConfig::default()
    };
    // The default attempt timeout (10 s) and export deadline (30 s): nothing
    // but shutdown's own deadline ends the exports.
    let processor =
        BatchSpanProcessor::builder(exporter(transport, &endpoint_of(&receiver, transport)))
            .with_batch_config(batch)
            .with_retry_policy(quick_retries())
            .build()
            .expect("pipeline");
    produce(&processor, 1..=spans);
    // Exports are under way before shutdown starts.
    assert!(
        receiver.wait_until(PATIENCE, |stats| stats.requests >= 1),
        "{transport:?} {fault:?}"
    );

    let started = Instant::now();
    let result = processor.shutdown(DEADLINE);
    let took = started.elapsed();
    assert!(
        took <= DEADLINE + MARGIN,
        "{transport:?} {fault:?}: shutdown took {took:?} for a deadline of {DEADLINE:?}"
    );
    // A loop running late on a loaded machine settles just after its answer.
    wait_for_stats(&processor, "the loop settles", |stats| {
        stats.queued == 0 && stats.in_flight == 0
    });
    let stats = processor.stats();
    eprintln!(
        "{transport:?} {fault:?}: shutdown took {took:?}, {result:?}; exported {} failed {} dropped {}",
        stats.exported, stats.failed, stats.dropped
    );
    // Exactly balanced, nothing left anywhere in between.
    assert!(stats.is_balanced(), "{stats:?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(stats.produced, spans);
    assert_eq!((stats.queued, stats.in_flight), (0, 0), "{stats:?}");
    assert_eq!(
        stats.exported + stats.dropped + stats.failed + stats.rejected,
        spans,
        "{stats:?}"
    );
    let undelivered = stats.dropped + stats.failed;
    match result {
        Err(PipelineError::Timeout { pending, .. }) => {
            assert!(pending > 0 && pending <= undelivered, "{pending} {stats:?}")
        }
        Err(PipelineError::Undelivered { failed, .. }) => assert!(failed <= undelivered),
        Ok(()) => assert_eq!(undelivered, 0, "{stats:?}"),
        Err(other) => panic!("{transport:?} {fault:?}: {other}"),
    }
    // The receiver never accepted more than was exported... the spans it did
    // accept were counted exported unless their answer came too late.
    assert!(stats.exported <= receiver.span_count(), "{stats:?}");
    // Spans arriving after shutdown are dropped and counted, never lost.
    processor.on_end(span(spans + 1));
    let after = processor.stats();
    assert!(after.is_balanced() && after.dropped_shutdown == stats.dropped_shutdown + 1);
    assert!(after.bytes.is_balanced(), "{:#?}", after.bytes);
    stats
}

#[test]
fn a_receiver_that_never_answers_cannot_hold_up_shutdown() {
    for transport in TRANSPORTS {
        let stats = shutdown_meets_its_deadline(transport, Fault::Hang, 1_000);
        assert_eq!(stats.exported, 0, "{transport:?}: {stats:?}");
        assert_eq!(stats.failed + stats.dropped, 1_000, "{stats:?}");
    }
}

#[test]
fn a_slow_receiver_cannot_hold_up_shutdown() {
    for transport in TRANSPORTS {
        // 10 batches, 2 at a time, 300 ms each: 1.5 s of work for a 0.8 s deadline.
        let stats =
            shutdown_meets_its_deadline(transport, Fault::Delay(Duration::from_millis(300)), 1_000);
        assert!(stats.exported > 0, "some batches finish: {stats:?}");
        assert!(stats.exported < 1_000, "and some do not: {stats:?}");
    }
}

// ---- (d) the durable queue through an outage ---------------------------------------------

/// A pipeline with a durable queue of at most 64 KiB in `directory`, a
/// memory queue of 16 KiB, one export at a time, and a scheduled delay and
/// deadlines of an hour (only records and answers move the loop), exporting
/// to `endpoint`.
fn durable_pipeline(
    transport: Transport,
    endpoint: &str,
    directory: &std::path::Path,
    full_policy: otlp_sdk::config::FullPolicy,
) -> BatchSpanProcessor {
    const HOUR: Duration = Duration::from_secs(3600);
    let mut durable = otlp_sdk::durable::DurableConfig::new(directory);
    durable.max_bytes = 64 * 1024;
    durable.segment_bytes = 4 * 1024;
    let batch = BatchConfig {
        max_queue_bytes: 16 * 1024,
        max_export_batch_size: 32,
        scheduled_delay: HOUR,
        export_timeout: HOUR,
        max_concurrent_exports: 1,
        full_policy,
        ..BatchConfig::default()
    };
    BatchSpanProcessor::builder(exporter(transport, endpoint))
        .with_batch_config(batch)
        .with_retry_policy(quick_retries())
        .with_attempt_timeout(HOUR)
        .with_durable_queue(durable)
        .build()
        .expect("durable pipeline")
}

/// The durable queue keeps a program producing through an outage: while
/// the backend is down, batches go to disk up to its cap (the oldest
/// evicted, and counted), never leaving the program to drop at a full
/// memory queue. Here the disk is already past the three quarters a
/// healthy backend may fill (what the last run left) when the pipeline
/// starts, so the loop, its one export slot taken by the first record sent
/// again, sleeps until that export ends. It learns that the backend is down
/// only from that export's retries. Before, it was not woken by them: a
/// retried export ends only at its deadline (an hour here), so the loop
/// slept on, the memory queue filled, and the producer, waiting for room,
/// found the pipeline stalled (exports failing, and the disk without room
/// when the loop last looked) and dropped everything as queue-full.
#[test]
fn a_backend_going_down_lets_batches_go_to_a_durable_queue_the_last_run_filled() {
    use otlp_sdk::config::FullPolicy;
    for transport in TRANSPORTS {
        let directory = std::env::temp_dir().join(format!(
            "otlp-outage-durable-{transport:?}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&directory);
        let (_held, address) = closed_port();
        let endpoint = format!("http://{address}");

        // The last run: nothing listens; batch by batch, its records go to
        // disk, up to the cap (the oldest evicted); it leaves them there.
        let last_run = durable_pipeline(transport, &endpoint, &directory, FullPolicy::Drop);
        for batch in 0..100 {
            produce(&last_run, batch * 32 + 1..=batch * 32 + 32);
            wait_for_stats(&last_run, "the batch on disk", |stats| stats.queued == 0);
        }
        let filled = last_run.stats();
        assert!(filled.dropped_durable > 0, "the disk is full: {filled:?}");
        let left = last_run.shutdown(Duration::from_secs(2));
        assert!(
            matches!(left, Err(PipelineError::Persisted { .. })),
            "{transport:?}: {left:?}"
        );
        drop(last_run);

        // This run: the backend is still down.
        let processor = durable_pipeline(
            transport,
            &endpoint,
            &directory,
            FullPolicy::Block(PATIENCE),
        );
        wait_for_stats(&processor, "a retry of the record sent again", |stats| {
            stats.retries >= 1
        });
        // Some 30 times what the memory queue holds.
        produce(&processor, 10_001..=18_000);
        let stats = processor.stats();
        assert_eq!(
            stats.dropped_queue_full, 0,
            "{transport:?}: the program dropped at a full memory queue while the disk had room: {stats:?}"
        );
        assert!(
            stats.dropped_durable > 0,
            "the disk cap evicted the oldest: {stats:?}"
        );
        let result = processor.shutdown(Duration::from_secs(2));
        let stats = processor.stats();
        assert!(
            matches!(result, Err(PipelineError::Persisted { .. })),
            "{transport:?}: {result:?}"
        );
        assert!(stats.is_balanced(), "{stats:?}");
        assert_eq!(stats.queued, 0, "{stats:?}");
        assert_eq!(stats.in_flight, stats.on_disk, "{stats:?}");
        let _ = std::fs::remove_dir_all(&directory);
    }
}
