//! The batch pipeline under load and faults: every span accounted for at
//! every snapshot and exactly at the end; flush and shutdown return by their
//! deadlines even when the exporter hangs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use otlp_core::encode::Encoding;
use otlp_core::wire::count_spans;
use otlp_core::{KeyValue, SpanData, SpanId, TraceId};
use otlp_sdk::config::{BatchConfig, FullPolicy, PerformanceConfig};
use otlp_sdk::{
    BatchSpanProcessor, BatchSpanProcessorBuilder, ExportError, ExportOutcome, ExportRequest,
    Exporter, PipelineError, RetryPolicy, Signal, SpanProcessor, StatsSnapshot, TracerProvider,
};

/// What the test exporter does with the n-th attempt.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    Accept,
    Retryable,
    Throttle(Duration),
    Permanent,
    Partial(u64),
    Slow(Duration),
    Hang,
    Panic,
}

/// An in-memory exporter that plays a script and counts what it accepted,
/// checking every body with `count_spans` (an independent walk of the bytes).
struct ScriptedExporter {
    script: Box<dyn Fn(u64) -> Behaviour + Send + Sync>,
    attempts: AtomicU64,
    accepted_spans: Arc<AtomicU64>,
    attempt_times: Arc<std::sync::Mutex<Vec<Instant>>>,
}

impl ScriptedExporter {
    fn new(script: impl Fn(u64) -> Behaviour + Send + Sync + 'static) -> Self {
        ScriptedExporter {
            script: Box::new(script),
            attempts: AtomicU64::new(0),
            accepted_spans: Arc::new(AtomicU64::new(0)),
            attempt_times: Arc::default(),
        }
    }
}

impl Exporter for ScriptedExporter {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst);
        self.attempt_times.lock().unwrap().push(Instant::now());
        let spans = count_spans(&request.body).expect("a valid request body");
        assert_eq!(
            spans, request.span_count as u64,
            "span_count matches the body"
        );
        let retryable = || ExportOutcome::Retryable {
            error: ExportError::Server {
                status: "HTTP 503".into(),
                message: "try later".into(),
            },
            throttle: None,
        };
        match (self.script)(attempt) {
            Behaviour::Accept => {}
            Behaviour::Retryable => return retryable(),
            Behaviour::Throttle(delay) => {
                return ExportOutcome::Retryable {
                    error: ExportError::Server {
                        status: "HTTP 429".into(),
                        message: "slow down".into(),
                    },
                    throttle: Some(delay),
                };
            }
            Behaviour::Permanent => {
                return ExportOutcome::Permanent {
                    error: ExportError::Server {
                        status: "HTTP 400".into(),
                        message: "bad data".into(),
                    },
                };
            }
            Behaviour::Partial(rejected) => {
                let rejected = rejected.min(spans);
                self.accepted_spans
                    .fetch_add(spans - rejected, Ordering::SeqCst);
                return ExportOutcome::PartialSuccess {
                    rejected_spans: rejected,
                    message: "some spans were too old".into(),
                };
            }
            Behaviour::Slow(delay) => tokio::time::sleep(delay).await,
            Behaviour::Hang => std::future::pending::<()>().await,
            Behaviour::Panic => panic!("the exporter's own bug"),
        }
        self.accepted_spans.fetch_add(spans, Ordering::SeqCst);
        ExportOutcome::Success
    }
}

fn span(i: u64) -> SpanData {
    SpanData::builder("GET /api/items/{id}")
        .trace_id(TraceId::random())
        .span_id(SpanId::random())
        .times(1_700_000_000_000_000_000 + i, 1_700_000_000_000_100_000 + i)
        .attributes((0..8).map(|k| KeyValue::new("attr", format!("value-{k:010}"))))
        .build()
}

/// A processor builder whose exporter accepts every batch after `millis`.
fn slow_processor_builder(millis: u64) -> BatchSpanProcessorBuilder<ScriptedExporter> {
    BatchSpanProcessor::builder(ScriptedExporter::new(move |_| {
        Behaviour::Slow(Duration::from_millis(millis))
    }))
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(20),
        ..RetryPolicy::default()
    }
}

fn batch(queue: usize, batch: usize, delay_ms: u64) -> BatchConfig {
    BatchConfig {
        max_queue_size: Some(queue),
        max_export_batch_size: batch,
        scheduled_delay: Duration::from_millis(delay_ms),
        export_timeout: Duration::from_secs(10),
        ..BatchConfig::default()
    }
}

fn assert_final(stats: &StatsSnapshot) {
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!(stats.queued, 0, "{stats:#?}");
    assert_eq!(stats.in_flight, 0, "{stats:#?}");
    assert_eq!(stats.produced, stats.settled(), "{stats:#?}");
}

#[test]
fn every_span_from_several_threads_is_exported_once() {
    let exporter = ScriptedExporter::new(|_| Behaviour::Accept);
    let accepted = exporter.accepted_spans.clone();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(BatchConfig {
            full_policy: FullPolicy::Block(Duration::from_secs(5)),
            ..batch(2048, 256, 20)
        })
        .build()
        .unwrap();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let processor = processor.clone();
            scope.spawn(move || {
                for i in 0..5_000 {
                    processor.on_end(span(t * 10_000 + i));
                }
            });
        }
    });
    processor.shutdown(Duration::from_secs(10)).unwrap();
    let stats = processor.stats();
    assert_final(&stats);
    assert_eq!(stats.produced, 20_000);
    assert_eq!(stats.exported, 20_000);
    assert_eq!(accepted.load(Ordering::SeqCst), 20_000);
    assert!(stats.batches >= 20_000 / 256);
    assert!(stats.batch_size.max <= 256);
}

#[test]
fn accounting_balances_at_every_snapshot_under_failures_slowness_and_drops() {
    // A deterministic mix: retryable failures, permanent failures, partial
    // successes, slow and fast exports.
    let exporter = ScriptedExporter::new(|attempt| match attempt % 10 {
        0 | 1 => Behaviour::Retryable,
        2 => Behaviour::Permanent,
        3 => Behaviour::Partial(7),
        4 => Behaviour::Slow(Duration::from_millis(15)),
        _ => Behaviour::Accept,
    });
    let accepted = exporter.accepted_spans.clone();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(BatchConfig {
            max_concurrent_exports: 3,
            adaptive: true,
            full_policy: FullPolicy::Drop,
            min_export_batch_size: 16,
            ..batch(512, 128, 5)
        })
        .with_retry_policy(fast_retry())
        .build()
        .unwrap();

    let producing = AtomicBool::new(true);
    let snapshots = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        // A monitor checks the identity while everything moves.
        scope.spawn(|| {
            let mut last = processor.stats();
            while producing.load(Ordering::SeqCst) {
                let stats = processor.stats();
                assert!(stats.is_balanced(), "unbalanced mid-run: {stats:#?}");
                assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
                // `queued` also holds spans being pushed (3 producers) or just
                // popped into a batch (at most 128) but not yet counted taken.
                assert!(stats.queued <= stats.queue_capacity + 128 + 3, "{stats:#?}");
                assert!(stats.settled() >= last.settled(), "settled went backwards");
                assert!(stats.produced >= last.produced);
                last = stats;
                snapshots.fetch_add(1, Ordering::Relaxed);
            }
        });
        let producers: Vec<_> = (0..3)
            .map(|t| {
                let processor = processor.clone();
                scope.spawn(move || {
                    for i in 0..20_000 {
                        processor.on_end(span(t * 100_000 + i));
                        if i % 1_000 == 0 {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.join().unwrap();
        }
        let result = processor.shutdown(Duration::from_secs(10));
        producing.store(false, Ordering::SeqCst);
        assert!(
            matches!(result, Ok(()) | Err(PipelineError::Undelivered { .. })),
            "{result:?}"
        );
    });
    let stats = processor.stats();
    assert_final(&stats);
    assert_eq!(stats.produced, 60_000);
    assert_eq!(
        stats.exported,
        accepted.load(Ordering::SeqCst),
        "{stats:#?}"
    );
    assert!(
        stats.failed > 0 && stats.rejected > 0 && stats.retries > 0,
        "{stats:#?}"
    );
    assert!(snapshots.load(Ordering::Relaxed) > 10);
}

#[test]
fn shutdown_returns_by_its_deadline_when_the_exporter_hangs() {
    let processor = BatchSpanProcessor::builder(ScriptedExporter::new(|_| Behaviour::Hang))
        .with_batch_config(batch(4096, 100, 1))
        .build()
        .unwrap();
    for i in 0..1_000 {
        processor.on_end(span(i));
    }
    // Let some batches go in flight (and hang).
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let result = processor.shutdown(Duration::from_millis(300));
    let took = started.elapsed();
    // Loose, for a loaded machine: the exporter hangs for ever.
    assert!(
        took < Duration::from_millis(300) + Duration::from_secs(2),
        "took {took:?}"
    );
    match result {
        Err(PipelineError::Timeout { pending, .. }) => assert!(pending > 0),
        other => panic!("expected a timeout, got {other:?}"),
    }
    // A loop running late on a loaded machine settles after the answer.
    wait_until_settled(&processor);
    let stats = processor.stats();
    assert_eq!(stats.exported, 0);
    assert_eq!(stats.failed + stats.dropped, 1_000, "{stats:#?}");
    assert!(
        stats.failed > 0,
        "hung exports are counted failed: {stats:#?}"
    );
}

#[test]
fn a_flush_waits_for_the_exports_already_in_flight() {
    // Three batches go out on their own (the batch size is reached) and take
    // 100 ms each; permits are left, so the loop parks without asking to be
    // woken by their completions. The flush that follows must be: it returns
    // as soon as they settle, long before its deadline or the scheduled
    // delay (a minute).
    let processor = slow_processor_builder(100)
        .with_batch_config(batch(4096, 10, 60_000))
        .build()
        .unwrap();
    for i in 0..30 {
        processor.on_end(span(i));
    }
    let started = Instant::now();
    processor.force_flush(Duration::from_secs(20)).unwrap();
    // Not a timing goal: a loop left asleep until the flush's deadline
    // would answer after about 19 s, still in time.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the flush waited {:?} for exports that took 100 ms",
        started.elapsed()
    );
    let stats = processor.stats();
    assert_eq!(stats.exported, 30, "{stats:#?}");
    processor.shutdown(Duration::from_secs(5)).unwrap();
    assert_final(&processor.stats());
}

#[test]
fn force_flush_delivers_what_was_queued_and_reports_failures() {
    let processor = BatchSpanProcessor::builder(ScriptedExporter::new(|_| Behaviour::Accept))
        .with_batch_config(batch(4096, 512, 60_000))
        .build()
        .unwrap();
    for i in 0..100 {
        processor.on_end(span(i));
    }
    // The scheduled delay is a minute: only the flush can have sent these.
    processor.force_flush(Duration::from_secs(5)).unwrap();
    assert_eq!(processor.stats().exported, 100);

    let failing = BatchSpanProcessor::builder(ScriptedExporter::new(|_| Behaviour::Permanent))
        .with_batch_config(batch(4096, 512, 60_000))
        .build()
        .unwrap();
    for i in 0..10 {
        failing.on_end(span(i));
    }
    assert_eq!(
        failing.force_flush(Duration::from_secs(5)),
        Err(PipelineError::Undelivered {
            failed: 10,
            rejected: 0,
            signal: Signal::Traces
        })
    );
    failing.shutdown(Duration::from_secs(1)).unwrap();
    processor.shutdown(Duration::from_secs(1)).unwrap();
}

#[test]
fn an_exporter_that_panics_fails_its_request_and_gives_its_export_slot_back() {
    let exporter = ScriptedExporter::new(|attempt| {
        if attempt == 0 {
            Behaviour::Panic
        } else {
            Behaviour::Accept
        }
    });
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(BatchConfig {
            max_concurrent_exports: 1,
            ..batch(4096, 512, 60_000)
        })
        .build()
        .unwrap();
    for i in 0..10 {
        processor.on_end(span(i));
    }
    assert_eq!(
        processor.force_flush(Duration::from_secs(5)),
        Err(PipelineError::Undelivered {
            failed: 10,
            rejected: 0,
            signal: Signal::Traces
        })
    );
    let error = processor.stats().last_error.unwrap_or_default();
    assert!(
        error.contains("the exporter panicked: the exporter's own bug"),
        "{error}"
    );
    // The only export slot is free again: the next batch goes out.
    for i in 10..20 {
        processor.on_end(span(i));
    }
    processor.force_flush(Duration::from_secs(5)).unwrap();
    processor.shutdown(Duration::from_secs(1)).unwrap();
    let stats = processor.stats();
    assert_eq!((stats.exported, stats.failed), (10, 10));
    assert_final(&stats);
}

#[test]
fn force_flush_returns_by_its_deadline_when_the_exporter_hangs() {
    let processor = BatchSpanProcessor::builder(ScriptedExporter::new(|_| Behaviour::Hang))
        .with_batch_config(batch(4096, 512, 60_000))
        .build()
        .unwrap();
    for i in 0..10 {
        processor.on_end(span(i));
    }
    // The exporter never answers and the scheduled delay is a minute: the
    // flush can only return through its own deadline. The bound below is a
    // hundred times that deadline, so that a loaded machine never trips it;
    // it catches a deadline taken in the wrong unit, not a slow return.
    let started = Instant::now();
    let result = processor.force_flush(Duration::from_millis(200));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        result,
        Err(PipelineError::Timeout {
            pending: 10,
            signal: Signal::Traces
        })
    );
    let _ = processor.shutdown(Duration::from_millis(100));
    wait_until_settled(&processor);
}

#[test]
fn a_full_queue_drops_and_counts() {
    let exporter = ScriptedExporter::new(|_| Behaviour::Slow(Duration::from_millis(20)));
    let accepted = exporter.accepted_spans.clone();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(BatchConfig {
            max_concurrent_exports: 1,
            full_policy: FullPolicy::Drop,
            ..batch(32, 16, 1)
        })
        .build()
        .unwrap();
    for i in 0..5_000 {
        processor.on_end(span(i));
    }
    processor.shutdown(Duration::from_secs(10)).unwrap();
    let stats = processor.stats();
    assert_final(&stats);
    assert!(stats.dropped_queue_full > 0, "{stats:#?}");
    assert_eq!(stats.dropped, stats.dropped_queue_full);
    assert_eq!(stats.exported + stats.dropped_queue_full, 5_000);
    assert_eq!(stats.exported, accepted.load(Ordering::SeqCst));
}

/// Under [`FullPolicy::Drop`], a span that could never be queued (larger,
/// encoded, than the whole queue, or than a request may be) arriving while
/// the queue is full is dropped as too large, as under the block policy
/// and as when the queue has room, not as queue-full: with the queue full
/// (here by its count cap, `OTEL_BSP_MAX_QUEUE_SIZE`) and no block of its
/// own, the producer was told `Full` before the span was measured. The
/// pipeline's one export hangs, so once the queue is full with it in
/// flight nothing frees room.
#[test]
fn under_the_drop_policy_a_span_that_never_fits_is_dropped_as_oversized_not_queue_full() {
    let queue_bytes = 256 * 1024;
    // Larger than the queue; and, under a request cap of 32 KiB, than a
    // request.
    for (too_large, request_bytes) in [(300 * 1024, 64 * 1024), (40 * 1024, 32 * 1024)] {
        let processor = BatchSpanProcessor::builder(ScriptedExporter::new(|_| Behaviour::Hang))
            .with_batch_config(BatchConfig {
                max_queue_bytes: queue_bytes,
                // Some 80 KB of these spans: the count fills first.
                max_queue_size: Some(256),
                max_export_batch_size: 64,
                scheduled_delay: Duration::from_secs(60),
                max_concurrent_exports: 1,
                full_policy: FullPolicy::Drop,
                ..BatchConfig::default()
            })
            .with_performance_config(PerformanceConfig {
                max_request_bytes: request_bytes,
                ..PerformanceConfig::default()
            })
            .build()
            .unwrap();
        // Spans until one is dropped as queue-full after the one export
        // went in flight: from then on the queue stays full.
        let mut i = 0;
        let mut waits = 0;
        let full = loop {
            let before = processor.stats();
            processor.on_end(span(i));
            i += 1;
            let after = processor.stats();
            if before.in_flight > 0 && after.dropped_queue_full > before.dropped_queue_full {
                break after;
            }
            if after.dropped_queue_full > 0 && after.in_flight == 0 {
                // Full before the loop (asked for room) took its batch:
                // nothing public tells when it does.
                waits += 1;
                assert!(waits < 100_000, "the loop took nothing: {after:#?}");
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        let big = SpanData::builder("too large")
            .attributes([KeyValue::new("blob", "x".repeat(too_large))])
            .build();
        processor.on_end(big);
        let stats = processor.stats();
        assert_eq!(
            (
                stats.dropped_oversized_on_arrival,
                stats.dropped_oversized,
                stats.dropped_queue_full
            ),
            (1, 1, full.dropped_queue_full),
            "{too_large} bytes, request cap {request_bytes}: {stats:#?}"
        );
        assert_eq!(stats.produced, full.produced + 1);
        assert_eq!(
            stats.produced,
            stats.exported
                + stats.dropped
                + stats.failed
                + stats.rejected
                + stats.queued
                + stats.in_flight,
            "{stats:#?}"
        );
        assert!(stats.is_balanced(), "{stats:#?}");
        assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
        let _ = processor.shutdown(Duration::from_millis(100));
        wait_until_settled(&processor);
        let stats = processor.stats();
        assert_eq!(stats.dropped_oversized_on_arrival, 1, "{stats:#?}");
    }
}

#[test]
fn the_block_policy_waits_for_room_instead_of_dropping() {
    let processor = slow_processor_builder(2)
        .with_batch_config(BatchConfig {
            full_policy: FullPolicy::Block(Duration::from_secs(5)),
            ..batch(32, 16, 1)
        })
        .build()
        .unwrap();
    for i in 0..2_000 {
        processor.on_end(span(i));
    }
    processor.shutdown(Duration::from_secs(10)).unwrap();
    let stats = processor.stats();
    assert_final(&stats);
    assert_eq!((stats.exported, stats.dropped), (2_000, 0), "{stats:#?}");
}

#[test]
fn retries_resend_until_success_and_honour_the_throttle_hint() {
    let exporter = ScriptedExporter::new(|attempt| match attempt {
        0 => Behaviour::Throttle(Duration::from_millis(300)),
        1 => Behaviour::Retryable,
        _ => Behaviour::Accept,
    });
    let times = exporter.attempt_times.clone();
    let accepted = exporter.accepted_spans.clone();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch(1024, 512, 1))
        .with_retry_policy(fast_retry())
        .build()
        .unwrap();
    for i in 0..10 {
        processor.on_end(span(i));
    }
    processor.force_flush(Duration::from_secs(10)).unwrap();
    let stats = processor.stats();
    assert_eq!((stats.exported, stats.retries, stats.failed), (10, 2, 0));
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        10,
        "delivered exactly once"
    );
    let times = times.lock().unwrap().clone();
    assert_eq!(times.len(), 3);
    assert!(
        times[1] - times[0] >= Duration::from_millis(300),
        "throttle honoured"
    );
    processor.shutdown(Duration::from_secs(1)).unwrap();
}

#[test]
fn permanent_errors_and_partial_success_are_not_retried() {
    for (behaviour, expect_failed, expect_rejected) in
        [(Behaviour::Permanent, 10, 0), (Behaviour::Partial(4), 0, 4)]
    {
        let exporter = ScriptedExporter::new(move |_| behaviour);
        let processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(batch(1024, 512, 1))
            .with_retry_policy(fast_retry())
            .build()
            .unwrap();
        for i in 0..10 {
            processor.on_end(span(i));
        }
        let _ = processor.force_flush(Duration::from_secs(5));
        let stats = processor.stats();
        assert_eq!(stats.retries, 0, "{behaviour:?}");
        assert_eq!(
            (stats.failed, stats.rejected),
            (expect_failed, expect_rejected)
        );
        assert_eq!(stats.exported, 10 - expect_failed - expect_rejected);
        assert!(stats.last_error.is_some());
        processor.shutdown(Duration::from_secs(1)).unwrap();
    }
}

#[test]
fn retries_stop_at_the_export_deadline() {
    let processor = BatchSpanProcessor::builder(ScriptedExporter::new(|_| Behaviour::Retryable))
        .with_batch_config(BatchConfig {
            export_timeout: Duration::from_millis(200),
            ..batch(1024, 512, 1)
        })
        .with_retry_policy(fast_retry())
        .build()
        .unwrap();
    for i in 0..10 {
        processor.on_end(span(i));
    }
    let result = processor.force_flush(Duration::from_secs(5));
    assert_eq!(
        result,
        Err(PipelineError::Undelivered {
            failed: 10,
            rejected: 0,
            signal: Signal::Traces
        })
    );
    assert!(processor.stats().retries > 0);
    processor.shutdown(Duration::from_secs(1)).unwrap();
}

#[test]
fn oversized_batches_are_split_and_oversized_spans_dropped() {
    let exporter = ScriptedExporter::new(|_| Behaviour::Accept);
    let accepted = exporter.accepted_spans.clone();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch(1024, 512, 60_000))
        .with_performance_config(PerformanceConfig {
            max_request_bytes: 4 * 1024,
            ..PerformanceConfig::default()
        })
        .build()
        .unwrap();
    for i in 0..100 {
        processor.on_end(span(i));
    }
    processor.on_end(
        SpanData::builder("huge")
            .attribute(KeyValue::new("blob", "x".repeat(10_000)))
            .build(),
    );
    // The huge span is refused when it ends: it could never be sent.
    processor.shutdown(Duration::from_secs(5)).unwrap();
    let stats = processor.stats();
    assert_final(&stats);
    assert_eq!(
        (stats.exported, stats.dropped_oversized),
        (100, 1),
        "{stats:#?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 100);
    // 100 spans of some 80 bytes do not fit in one request of 4 KiB.
    assert!(stats.batches >= 2, "{stats:#?}");
}

#[test]
fn spans_after_shutdown_are_dropped_and_counted() {
    let processor = BatchSpanProcessor::builder(ScriptedExporter::new(|_| Behaviour::Accept))
        .build()
        .unwrap();
    processor.shutdown(Duration::from_secs(1)).unwrap();
    processor.on_end(span(0));
    let stats = processor.stats();
    assert_eq!((stats.produced, stats.dropped_shutdown), (1, 1));
    assert_final(&stats);
    assert_eq!(
        processor.shutdown(Duration::from_secs(1)),
        Err(PipelineError::ShutDown)
    );
    assert_eq!(
        processor.force_flush(Duration::from_secs(1)),
        Err(PipelineError::ShutDown)
    );
}

/// Accepts everything and records the name of the thread each export ran on.
struct ThreadRecorder(Arc<std::sync::Mutex<Vec<String>>>);

impl Exporter for ThreadRecorder {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, _request: ExportRequest) -> ExportOutcome {
        let name = std::thread::current().name().unwrap_or("").to_owned();
        self.0.lock().unwrap().push(name);
        ExportOutcome::Success
    }
}

#[test]
fn one_io_thread_is_the_export_loops_own_and_more_are_workers_beside_it() {
    for (io_threads, expected) in [(1, "otlp-export-traces"), (2, "otlp-export-io")] {
        let threads = Arc::default();
        let processor = BatchSpanProcessor::builder(ThreadRecorder(Arc::clone(&threads)))
            .with_batch_config(batch(4096, 10, 60_000))
            .with_performance_config(PerformanceConfig {
                io_threads,
                ..PerformanceConfig::default()
            })
            .build()
            .unwrap();
        for i in 0..30 {
            processor.on_end(span(i));
        }
        processor.force_flush(Duration::from_secs(10)).unwrap();
        processor.shutdown(Duration::from_secs(5)).unwrap();
        assert_final(&processor.stats());
        let threads = threads.lock().unwrap();
        assert_eq!(threads.len(), 3, "{io_threads} I/O threads: {threads:?}");
        assert!(
            threads.iter().all(|name| name == expected),
            "{io_threads} I/O threads: exports ran on {threads:?}, not on {expected}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn works_inside_a_current_thread_runtime_without_stalling_it() {
    let processor = slow_processor_builder(1)
        .with_batch_config(batch(4096, 64, 1))
        .build()
        .unwrap();
    for i in 0..1_000 {
        processor.on_end(span(i));
        if i % 100 == 0 {
            // The application's runtime keeps running its own tasks.
            tokio::task::yield_now().await;
        }
    }
    let flushing = processor.clone();
    tokio::task::spawn_blocking(move || flushing.force_flush(Duration::from_secs(5)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(processor.stats().exported, 1_000);
    processor.shutdown(Duration::from_secs(1)).unwrap();
}

#[test]
fn dropping_the_last_handle_shuts_down_and_delivers() {
    let exporter = ScriptedExporter::new(|_| Behaviour::Accept);
    let accepted = exporter.accepted_spans.clone();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch(1024, 512, 60_000))
        .build()
        .unwrap();
    for i in 0..50 {
        processor.on_end(span(i));
    }
    drop(processor);
    assert_eq!(accepted.load(Ordering::SeqCst), 50);
}

#[test]
fn the_block_policy_does_not_hold_producers_when_the_pipeline_is_stalled() {
    // Every export hangs: after the first batches go in flight nothing leaves
    // the queue, and after an attempt timeout without an answer the pipeline
    // counts as stalled.
    let processor = BatchSpanProcessor::builder(ScriptedExporter::new(|_| Behaviour::Hang))
        .with_attempt_timeout(Duration::from_millis(500))
        .with_batch_config(BatchConfig {
            max_concurrent_exports: 1,
            full_policy: FullPolicy::Block(Duration::from_millis(500)),
            ..batch(64, 32, 1)
        })
        .build()
        .unwrap();
    let started = Instant::now();
    for i in 0..1_000 {
        processor.on_end(span(i));
    }
    // Waiting the full bound for each of the ~900 spans that cannot fit would
    // take 450 s; the stall is noticed once and the rest are dropped at once.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let stats = processor.stats();
    assert!(stats.dropped_queue_full >= 1_000 - 64 - 32, "{stats:#?}");
    assert!(stats.is_balanced());
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    let _ = processor.shutdown(Duration::from_millis(200));
    wait_until_settled(&processor);
}

/// A provider whose one batch processor accepts everything and exports
/// once a minute (or when flushed): spans stay queued meanwhile.
fn accepting_provider_exporting_each_minute() -> (BatchSpanProcessor, TracerProvider) {
    let processor = BatchSpanProcessor::builder(ScriptedExporter::new(|_| Behaviour::Accept))
        .with_batch_config(batch(4096, 512, 60_000))
        .build()
        .unwrap();
    let provider = TracerProvider::builder()
        .with_processor(processor.clone())
        .build();
    (processor, provider)
}

#[test]
fn queued_spans_hold_no_handle_on_their_resource_only_their_bytes() {
    let (processor, provider) = accepting_provider_exporting_each_minute();
    let tracer = provider.tracer("encoded");
    let handles = || Arc::strong_count(provider.resource());
    let before = handles();
    for _ in 0..100 {
        let mut span = tracer.start("queued");
        span.set_attribute(KeyValue::new("key", "value"));
        span.end();
    }
    // A hundred spans wait for the scheduled delay (a minute): encoded, they
    // keep no handle; the pipeline's table of resources and scopes holds a
    // couple, and this thread one for its next span, however many spans wait.
    let stats = processor.stats();
    assert_eq!(stats.queued, 100, "{stats:#?}");
    assert!(stats.queued_bytes >= 100 * 10, "{stats:#?}");
    assert!(handles() <= before + 3, "{} handles", handles() - before);
    processor.force_flush(Duration::from_secs(10)).unwrap();
    assert_eq!(processor.stats().exported, 100);
    assert_eq!(processor.stats().queued_bytes, 0);
}

#[test]
fn a_thread_reuses_its_handles_on_the_resource_and_scope() {
    let (processor, provider) = accepting_provider_exporting_each_minute();
    let tracer = provider.tracer("reused");
    let counts = || {
        (
            Arc::strong_count(provider.resource()),
            Arc::strong_count(tracer.scope()),
        )
    };
    tracer.start("first").end();
    // The first span's handles stay with this thread; every later span takes
    // them back: no new count on the shared resource or scope, at start or end.
    let kept = counts();
    for _ in 0..10 {
        let mut span = tracer.start("again");
        assert_eq!(counts(), kept);
        span.set_attribute(KeyValue::new("key", "value"));
        span.end();
        assert_eq!(counts(), kept);
    }
    // Log records too: the logger's handles, stamped and kept by `emit`.
    let logs = otlp_sdk::BatchLogProcessor::builder(LogExporter)
        .build()
        .unwrap();
    let loggers = otlp_sdk::LoggerProvider::builder()
        .with_processor(logs.clone())
        .build();
    let logger = loggers.logger("reused");
    let log_counts = || {
        (
            Arc::strong_count(loggers.resource()),
            Arc::strong_count(logger.scope()),
        )
    };
    let record = |(resource, scope)| otlp_core::LogRecord {
        resource,
        scope,
        ..otlp_core::LogRecord::builder().body("event").build()
    };
    logger.emit(record(logger.handles()));
    let kept = log_counts();
    for _ in 0..10 {
        let handles = logger.handles();
        assert_eq!(log_counts(), kept);
        logger.emit(record(handles));
        assert_eq!(log_counts(), kept);
    }
    processor.force_flush(Duration::from_secs(10)).unwrap();
    assert_eq!(processor.stats().exported, 11);
    otlp_sdk::LogProcessor::force_flush(&logs, Duration::from_secs(10)).unwrap();
    assert_eq!(logs.stats().exported, 11);
}

/// Accepts every log request.
struct LogExporter;

impl Exporter for LogExporter {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        Signal::Logs
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        ExportOutcome::Success
    }
}

#[test]
fn the_block_policy_waits_for_a_slow_but_healthy_backend() {
    // Every answer takes three times the block bound: a remote collector.
    // Exports are in flight within their timeout, so the pipeline is not
    // stalled: producers wait for room and nothing is lost.
    let processor = slow_processor_builder(300)
        .with_batch_config(BatchConfig {
            max_concurrent_exports: 2,
            full_policy: FullPolicy::Block(Duration::from_millis(100)),
            ..batch(64, 32, 1)
        })
        .build()
        .unwrap();
    for i in 0..600 {
        processor.on_end(span(i));
    }
    processor.shutdown(Duration::from_secs(30)).unwrap();
    let stats = processor.stats();
    assert_final(&stats);
    assert_eq!((stats.exported, stats.dropped), (600, 0), "{stats:#?}");
}

#[test]
fn the_block_policy_holds_producers_one_bound_per_stall_when_exports_fail() {
    // The backend refuses everything: exports retry, nothing leaves the queue.
    let processor = BatchSpanProcessor::builder(ScriptedExporter::new(|_| Behaviour::Retryable))
        .with_retry_policy(fast_retry())
        .with_batch_config(BatchConfig {
            max_concurrent_exports: 1,
            full_policy: FullPolicy::Block(Duration::from_millis(100)),
            ..batch(64, 32, 1)
        })
        .build()
        .unwrap();
    let started = Instant::now();
    let mut longest = Duration::ZERO;
    for i in 0..3_000 {
        let before = Instant::now();
        processor.on_end(span(i));
        longest = longest.max(before.elapsed());
    }
    // Waiting the bound for each span that cannot fit would take minutes.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert!(longest < Duration::from_secs(5), "{longest:?}");
    let stats = processor.stats();
    assert!(stats.dropped_queue_full > 0, "{stats:#?}");
    assert!(stats.is_balanced());
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    let _ = processor.shutdown(Duration::from_millis(200));
    wait_until_settled(&processor);
}

/// After a shutdown that timed out, the loop settles the accounts a moment
/// later: waits (generously) for nothing to be queued or in flight.
fn wait_until_settled(processor: &BatchSpanProcessor) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let stats = processor.stats();
        if stats.queued == 0 && stats.in_flight == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_final(&processor.stats());
}

/// Shuts `processor` down (bound 20 s) after `lead` while `producers`
/// threads keep handing it spans, before, during and after the shutdown;
/// checks that it succeeded and that every span is accounted for, nothing
/// left queued or in flight.
fn shut_down_while_producing(processor: BatchSpanProcessor, producers: usize, lead: Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..producers)
        .map(|_| {
            let processor = processor.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    processor.on_end(span(i));
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(lead);
    // On a loaded machine the producers may not have run yet: shutdown
    // begins once they have queued something.
    let deadline = Instant::now() + Duration::from_secs(10);
    while processor.stats().produced < 64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let result = processor.shutdown(Duration::from_secs(20));
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(result.is_ok(), "{result:?}");
    let stats = processor.stats();
    assert_final(&stats);
    assert!(stats.exported > 0, "{stats:#?}");
}

#[test]
fn producers_blocked_when_shutdown_begins_leave_nothing_queued() {
    // A small queue, slow exports and producers blocked waiting for room
    // while shutdown drains the queue: a producer that gets room after the
    // final drain must not leave its span queued forever.
    for _ in 0..5 {
        let processor = slow_processor_builder(20)
            .with_batch_config(BatchConfig {
                max_concurrent_exports: 1,
                full_policy: FullPolicy::Block(Duration::from_secs(30)),
                ..batch(16, 8, 1)
            })
            .build()
            .unwrap();
        shut_down_while_producing(processor, 4, Duration::from_millis(100));
    }
}

#[test]
fn a_push_racing_shutdown_never_discards_spans_the_loop_still_exports() {
    // Producers keep pushing while shutdown runs. Whatever was queued when
    // shutdown began is exported, and shutdown reports success by its
    // deadline instead of timing out over spans a producer threw away.
    for _ in 0..20 {
        let processor = slow_processor_builder(5)
            .with_batch_config(BatchConfig {
                max_concurrent_exports: 1,
                full_policy: FullPolicy::Drop,
                ..batch(4_096, 64, 1_000)
            })
            .build()
            .unwrap();
        shut_down_while_producing(processor, 2, Duration::from_millis(20));
    }
}

#[test]
fn a_quiet_threads_span_leaves_within_the_scheduled_delay_while_others_keep_batches_full() {
    // Batches are cut whenever a busy thread's blocks fill them; a thread
    // that ended one span and went quiet still has it in its own block. The
    // scheduled delay is a tick that takes such blocks, not a timer every
    // cut restarts: before, the busy thread's cuts kept pushing it back and
    // the quiet thread's span waited until the busy one stopped.
    const MARKER: &[u8] = b"the quiet thread's only span";
    let seen = Arc::new(AtomicBool::new(false));
    struct Watch(Arc<AtomicBool>);
    impl Exporter for Watch {
        fn encoding(&self) -> Encoding {
            Encoding::Protobuf
        }
        async fn export(&self, request: ExportRequest) -> ExportOutcome {
            if request.body.windows(MARKER.len()).any(|w| w == MARKER) {
                self.0.store(true, Ordering::SeqCst);
            }
            ExportOutcome::Success
        }
    }
    let processor = BatchSpanProcessor::builder(Watch(seen.clone()))
        .with_batch_config(BatchConfig {
            max_export_batch_size: 64,
            scheduled_delay: Duration::from_millis(100),
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (ended, has_ended) = std::sync::mpsc::channel::<()>();
    let quiet = {
        let processor = processor.clone();
        std::thread::spawn(move || {
            let mut span = span(0);
            span.name = std::str::from_utf8(MARKER).unwrap().into();
            processor.on_end(span);
            ended.send(()).unwrap();
            // Stays alive (its block stays in its slot) until told.
            let _ = released.recv();
        })
    };
    has_ended.recv().unwrap();
    // The busy thread: some 20,000 spans a second, a batch every few ms,
    // until the quiet thread's span has been exported (or 30 s, a hang).
    let give_up = Instant::now() + Duration::from_secs(30);
    let mut i = 1;
    while !seen.load(Ordering::SeqCst) && Instant::now() < give_up {
        processor.on_end(span(i));
        i += 1;
        if i % 20 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let exported_while_busy = seen.load(Ordering::SeqCst);
    release.send(()).unwrap();
    quiet.join().unwrap();
    processor.shutdown(Duration::from_secs(10)).unwrap();
    assert!(
        exported_while_busy,
        "the quiet thread's span waited out {i} spans of the busy thread"
    );
    assert_final(&processor.stats());
}

/// Remembers whether a request carried `marker` (set by the test).
struct MarkerWatch {
    marker: Arc<std::sync::Mutex<Vec<u8>>>,
    seen: Arc<AtomicBool>,
}

impl Exporter for MarkerWatch {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        let marker = self.marker.lock().unwrap().clone();
        if !marker.is_empty() && request.body.windows(marker.len()).any(|w| w == marker) {
            self.seen.store(true, Ordering::SeqCst);
        }
        ExportOutcome::Success
    }
}

#[test]
fn force_flush_exports_a_span_ended_before_it_while_its_thread_writes_the_next() {
    // A thread ends a span, then keeps ending more; a flush called after the
    // first `on_end` returned must export it, even when the flush finds the
    // thread's block out of its slot (the thread writing its next span).
    let marker = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::new(AtomicBool::new(false));
    let processor = BatchSpanProcessor::builder(MarkerWatch {
        marker: marker.clone(),
        seen: seen.clone(),
    })
    .with_batch_config(BatchConfig {
        max_export_batch_size: 4096,
        scheduled_delay: Duration::from_secs(600),
        ..BatchConfig::default()
    })
    .build()
    .unwrap();
    let rounds = 200;
    let mut missed = 0;
    for round in 0..rounds {
        let name = format!("the span ended before flush, round {round:04}");
        *marker.lock().unwrap() = name.clone().into_bytes();
        seen.store(false, Ordering::SeqCst);
        let stop = Arc::new(AtomicBool::new(false));
        let (ended, has_ended) = std::sync::mpsc::channel::<()>();
        let writer = {
            let processor = processor.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                processor.on_end(SpanData::builder(name).build());
                ended.send(()).unwrap();
                // Small, but slow to encode (each level's length is
                // computed in turn): the thread spends most of its time
                // writing a span, its block out of its slot.
                let mut nested = otlp_core::AnyValue::Int(1);
                for _ in 0..48 {
                    nested = otlp_core::AnyValue::Array(Arc::from(vec![nested]));
                }
                let filler = SpanData::builder("filler")
                    .attribute(KeyValue::new("nested", nested))
                    .build();
                for _ in 0..20_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    processor.on_end(filler.clone());
                }
            })
        };
        has_ended.recv().unwrap();
        let flushed = processor.force_flush(Duration::from_secs(30));
        let exported = seen.load(Ordering::SeqCst);
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        assert!(flushed.is_ok(), "{flushed:?}");
        if !exported {
            missed += 1;
        }
    }
    processor.shutdown(Duration::from_secs(30)).unwrap();
    assert_final(&processor.stats());
    assert_eq!(
        missed, 0,
        "the flush missed the span in {missed} of {rounds} rounds"
    );
}

/// Accepts everything; panics when told to shut down.
struct PanicsAtShutdown;

impl Exporter for PanicsAtShutdown {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        ExportOutcome::Success
    }

    async fn shutdown(&self) {
        panic!("the exporter's own bug at shutdown");
    }
}

#[test]
fn an_exporter_that_panics_at_shutdown_still_gets_its_answer_from_shutdown() {
    let processor = BatchSpanProcessor::builder(PanicsAtShutdown)
        .build()
        .unwrap();
    for i in 0..100 {
        processor.on_end(span(i));
    }
    let result = processor.shutdown(Duration::from_secs(30));
    let stats = processor.stats();
    assert_final(&stats);
    assert_eq!(stats.exported, 100, "{stats:#?}");
    assert!(result.is_ok(), "{result:?}");
    assert!(
        stats
            .last_error
            .as_deref()
            .is_some_and(|error| error.contains("panicked")),
        "{stats:#?}"
    );
}

#[test]
fn spans_dropped_at_the_shutdown_deadline_give_their_bytes_back() {
    // One export hangs with the only permit; the rest of the block it was
    // cut from, and the blocks behind it, are still queued at the deadline.
    let processor = BatchSpanProcessor::builder(ScriptedExporter::new(|_| Behaviour::Hang))
        .with_batch_config(BatchConfig {
            max_concurrent_exports: 1,
            ..batch(100_000, 10, 1)
        })
        .build()
        .unwrap();
    for i in 0..1_000 {
        processor.on_end(span(i));
    }
    let _ = processor.force_flush(Duration::from_millis(200));
    let result = processor.shutdown(Duration::from_millis(300));
    assert!(
        matches!(result, Err(PipelineError::Timeout { .. })),
        "{result:?}"
    );
    wait_until_settled(&processor);
    let stats = processor.stats();
    assert!(stats.dropped_shutdown > 0, "{stats:#?}");
    assert_eq!(stats.queued_bytes, 0, "nothing is queued: {stats:#?}");
}

/// With a count cap (`OTEL_BSP_MAX_QUEUE_SIZE`), each producing thread's open
/// block sets aside a share of it. Many threads, each with a block it has
/// barely begun, must not set aside the whole cap: a record is dropped as
/// queue-full only when the queue holds the cap's worth. Here 32 threads
/// make 128 spans against a cap of 320; the loop sleeps (no batch is due).
#[test]
fn many_threads_with_open_blocks_do_not_use_up_a_count_cap() {
    thirty_two_threads_with_open_blocks_lose_nothing(BatchConfig {
        full_policy: FullPolicy::Drop,
        ..batch(320, 256, 60_000)
    });
}

/// The byte budget as the count cap above: each producing thread's open
/// block reserves part of `max_queue_bytes`, and a block was a sixteenth of
/// any budget under 1 MiB (64 KiB of one of 1 MiB). Sixteen threads that had
/// each begun a block held the whole budget, and the spans of a seventeenth
/// were dropped as queue-full while the queue held a few kilobytes. Here 32
/// threads make 128 spans of some 300 bytes against a budget of 1 MiB; the
/// loop sleeps (no batch is due).
#[test]
fn many_threads_with_open_blocks_do_not_use_up_a_small_byte_budget() {
    thirty_two_threads_with_open_blocks_lose_nothing(BatchConfig {
        max_queue_bytes: 1 << 20,
        max_queue_size: None,
        full_policy: FullPolicy::Drop,
        ..batch(0, 256, 60_000)
    });
}

/// 32 threads each make four spans in lock-step rounds (each thread's block
/// stays open) under `batch`, whose loop sleeps: none is dropped, all 128
/// are queued, then exported at shutdown.
fn thirty_two_threads_with_open_blocks_lose_nothing(batch: BatchConfig) {
    let threads = 32;
    let processor = BatchSpanProcessor::builder(ScriptedExporter::new(|_| Behaviour::Accept))
        .with_batch_config(batch)
        .build()
        .unwrap();
    let round = std::sync::Barrier::new(threads);
    std::thread::scope(|scope| {
        for t in 0..threads as u64 {
            let (processor, round) = (&processor, &round);
            scope.spawn(move || {
                for i in 0..4 {
                    processor.on_end(span(t * 100 + i));
                    round.wait();
                }
            });
        }
    });
    let stats = processor.stats();
    assert_eq!(stats.dropped_queue_full, 0, "{stats:#?}");
    assert_eq!(stats.queued, 128, "{stats:#?}");
    processor.shutdown(Duration::from_secs(10)).unwrap();
    let stats = processor.stats();
    assert_final(&stats);
    assert_eq!(stats.exported, 128);
}

/// The count cap and byte budget as above, with threads that come one after
/// another (a pool growing under load), each ending a span that stays in its
/// open block. A block's share shrinks as threads come, but the blocks begun
/// before keep the larger shares they reserved: some 90 threads had set aside
/// the whole cap of 2,048 (or budget of 1 MiB), and the next thread's span was
/// dropped as queue-full while the queue held 90. Here 200 threads; the loop
/// sleeps (no batch is due).
#[test]
fn threads_that_come_one_after_another_do_not_use_up_the_queue_with_open_blocks() {
    let caps = [
        BatchConfig {
            full_policy: FullPolicy::Drop,
            ..batch(2_048, 1_024, 60_000)
        },
        BatchConfig {
            max_queue_bytes: 1 << 20,
            max_queue_size: None,
            full_policy: FullPolicy::Drop,
            ..batch(0, 4_096, 60_000)
        },
    ];
    for batch in caps {
        let threads = 200;
        let processor = BatchSpanProcessor::builder(ScriptedExporter::new(|_| Behaviour::Accept))
            .with_batch_config(batch.clone())
            .build()
            .unwrap();
        // One thread at a time ends its span; every thread lives on (its
        // block open) until all have.
        let turn = std::sync::Mutex::new(());
        let all_ended = std::sync::Barrier::new(threads);
        std::thread::scope(|scope| {
            for t in 0..threads as u64 {
                let (processor, turn, all_ended) = (&processor, &turn, &all_ended);
                scope.spawn(move || {
                    {
                        let _turn = turn.lock().unwrap();
                        processor.on_end(span(t));
                    }
                    all_ended.wait();
                });
            }
        });
        let stats = processor.stats();
        assert_eq!(
            stats.dropped_queue_full, 0,
            "{:?} {:?}: {stats:#?}",
            batch.max_queue_size, batch.max_queue_bytes
        );
        processor.shutdown(Duration::from_secs(10)).unwrap();
        let stats = processor.stats();
        assert_final(&stats);
        assert_eq!(stats.exported, threads as u64);
    }
}

/// `max_concurrent_exports` and `performance.buffer_pool_size` are whole
/// numbers of at least 1, from code, a file or `OTLP__*` variables, with no
/// upper bound. The pipeline's buffer pool set aside a slot for each buffer
/// it may keep (twice the concurrency by default) when it was built: a
/// count of 2^40 made it ask for 64 TiB, and the process aborted (a failed
/// allocation is no panic: nothing could catch it).
#[test]
fn a_huge_export_concurrency_or_buffer_pool_builds_a_pipeline_that_works() {
    for (concurrency, buffers) in [(1 << 40, None), (4, Some(1 << 40)), (usize::MAX, None)] {
        let processor = BatchSpanProcessor::builder(ScriptedExporter::new(|_| Behaviour::Accept))
            .with_batch_config(BatchConfig {
                max_concurrent_exports: concurrency,
                ..BatchConfig::default()
            })
            .with_performance_config(PerformanceConfig {
                buffer_pool_size: buffers,
                ..PerformanceConfig::default()
            })
            .build()
            .expect("a valid configuration");
        for i in 0..10 {
            processor.on_end(span(i));
        }
        processor.shutdown(Duration::from_secs(10)).unwrap();
        let stats = processor.stats();
        assert_final(&stats);
        assert_eq!(stats.exported, 10, "{concurrency} {buffers:?}");
    }
}

/// Accepts every request of one signal.
struct AcceptSignal(Signal);

impl Exporter for AcceptSignal {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        self.0
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        ExportOutcome::Success
    }
}

#[test]
fn a_count_cap_of_usize_max_shows_in_stats_as_given_not_as_no_cap() {
    // Before: `queue_capacity` 0, what the stats say when only bytes bound
    // the queue, for spans and log records alike.
    let huge = usize::MAX.to_string();
    let config = otlp_sdk::config::ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([
            ("OTEL_BSP_MAX_QUEUE_SIZE", huge.as_str()),
            ("OTEL_BLRP_MAX_QUEUE_SIZE", huge.as_str()),
        ])
        .load()
        .unwrap();
    assert_eq!(config.batch.max_queue_size, Some(usize::MAX));
    assert_eq!(config.logs.batch.max_queue_size, Some(usize::MAX));
    let spans = BatchSpanProcessor::builder(AcceptSignal(Signal::Traces))
        .with_config(&config)
        .build()
        .unwrap();
    let logs = otlp_sdk::BatchLogProcessor::builder(AcceptSignal(Signal::Logs))
        .with_config(&config)
        .build()
        .unwrap();
    assert_eq!(spans.stats().queue_capacity, u64::MAX);
    assert_eq!(logs.stats().queue_capacity, u64::MAX);
    // In code too, and beside them a cap and none.
    for (cap, shown) in [(Some(usize::MAX), u64::MAX), (Some(7), 7), (None, 0)] {
        let batch = BatchConfig {
            max_queue_size: cap,
            max_export_batch_size: 1,
            ..BatchConfig::default()
        };
        let processor = BatchSpanProcessor::builder(AcceptSignal(Signal::Traces))
            .with_batch_config(batch)
            .build()
            .unwrap();
        assert_eq!(processor.stats().queue_capacity, shown, "{cap:?}");
        processor.shutdown(Duration::from_secs(5)).unwrap();
    }
    spans.shutdown(Duration::from_secs(5)).unwrap();
    otlp_sdk::LogProcessor::shutdown(&logs, Duration::from_secs(5)).unwrap();
}

/// How many of a provider's exporters are in their `shutdown` now, and the
/// most that ever were at once.
#[derive(Default)]
struct ShutdownsAtOnce {
    now: AtomicUsize,
    most: AtomicUsize,
}

/// Counts one exporter's `shutdown` as running until it is dropped (by the
/// loop's deadline: it never ends by itself).
struct InShutdown(Arc<ShutdownsAtOnce>);

impl InShutdown {
    fn enter(counts: Arc<ShutdownsAtOnce>) -> Self {
        let now = counts.now.fetch_add(1, Ordering::SeqCst) + 1;
        counts.most.fetch_max(now, Ordering::SeqCst);
        InShutdown(counts)
    }
}

impl Drop for InShutdown {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accepts every request; its `shutdown` hangs until the loop gives up on it.
struct HangsAtShutdown {
    signal: Signal,
    counts: Arc<ShutdownsAtOnce>,
}

impl Exporter for HangsAtShutdown {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        ExportOutcome::Success
    }

    async fn shutdown(&self) {
        let _running = InShutdown::enter(Arc::clone(&self.counts));
        std::future::pending::<()>().await
    }
}

#[test]
fn dropping_a_provider_shuts_its_pipelines_down_at_once_not_one_after_another() {
    // A provider dropped without `shutdown` shut its batch pipelines down
    // one after another, each waited for up to its bound (the export
    // timeout, at most 5 s): three pipelines whose exporter hangs held the
    // dropping thread 15 s. Asked together, they shut down at the same
    // time: every exporter is in its (hanging) shutdown while the others
    // are, where one after another only one ever was.
    const PIPELINES: usize = 3;
    let batch = BatchConfig {
        export_timeout: Duration::from_secs(2),
        ..BatchConfig::default()
    };

    let counts = Arc::new(ShutdownsAtOnce::default());
    let mut builder = TracerProvider::builder();
    for _ in 0..PIPELINES {
        let exporter = HangsAtShutdown {
            signal: Signal::Traces,
            counts: Arc::clone(&counts),
        };
        let processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(batch.clone())
            .build()
            .unwrap();
        builder = builder.with_processor(processor);
    }
    let provider = builder.build();
    provider.tracer("dropped").start("span").end();
    drop(provider);
    assert_eq!(counts.most.load(Ordering::SeqCst), PIPELINES, "spans");

    let counts = Arc::new(ShutdownsAtOnce::default());
    let mut builder = otlp_sdk::LoggerProvider::builder();
    for _ in 0..PIPELINES {
        let exporter = HangsAtShutdown {
            signal: Signal::Logs,
            counts: Arc::clone(&counts),
        };
        let processor = otlp_sdk::BatchLogProcessor::builder(exporter)
            .with_batch_config(batch.clone())
            .build()
            .unwrap();
        builder = builder.with_processor(processor);
    }
    let provider = builder.build();
    provider
        .logger("dropped")
        .emit(otlp_core::LogRecord::builder().body("record").build());
    drop(provider);
    assert_eq!(counts.most.load(Ordering::SeqCst), PIPELINES, "log records");
}
