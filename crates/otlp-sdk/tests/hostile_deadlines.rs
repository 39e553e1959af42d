//! Extreme deadlines handed to the pipeline: `Duration::MAX` (the usual way
//! to say "no deadline") and `Duration::ZERO` never panic, and an idle
//! pipeline answers at once whatever the deadline.

use std::time::{Duration, Instant};

use otlp_core::SpanData;
use otlp_core::encode::Encoding;
use otlp_sdk::config::{BatchConfig, FullPolicy};
use otlp_sdk::metrics::{MeterProvider, PeriodicReader};
use otlp_sdk::{
    BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, PipelineError, Signal,
    SpanProcessor, TracerProvider,
};

struct Accept;

impl Exporter for Accept {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        ExportOutcome::Success
    }
}

#[test]
fn flush_and_shutdown_take_duration_max_as_no_deadline() {
    // Found by probing the deadlines: force_flush(Duration::MAX) panicked
    // with "overflow when adding duration to instant".
    let processor = BatchSpanProcessor::builder(Accept)
        .build()
        .expect("pipeline");
    processor.on_end(SpanData::builder("a").build());
    let started = Instant::now();
    assert_eq!(processor.force_flush(Duration::MAX), Ok(()));
    processor.on_end(SpanData::builder("b").build());
    assert_eq!(processor.shutdown(Duration::MAX), Ok(()));
    assert!(started.elapsed() < Duration::from_secs(10));
    let stats = processor.stats();
    assert_eq!((stats.produced, stats.exported), (2, 2));
    assert!(stats.is_balanced());
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
}

#[test]
fn configured_durations_of_duration_max_mean_no_limit() {
    // Found by reading the loop: `now + scheduled_delay` and
    // `now + export_timeout` overflowed on the export loop's thread.
    let batch = BatchConfig {
        scheduled_delay: Duration::MAX,
        export_timeout: Duration::MAX,
        full_policy: FullPolicy::Block(Duration::MAX),
        ..BatchConfig::default()
    };
    let processor = BatchSpanProcessor::builder(Accept)
        .with_batch_config(batch)
        .with_attempt_timeout(Duration::MAX)
        .build()
        .expect("pipeline");
    processor.on_end(SpanData::builder("a").build());
    assert_eq!(processor.force_flush(Duration::from_secs(10)), Ok(()));
    assert_eq!(processor.shutdown(Duration::from_secs(10)), Ok(()));
    let stats = processor.stats();
    assert_eq!((stats.produced, stats.exported), (1, 1), "{stats:?}");
}

#[test]
fn the_provider_passes_duration_max_through() {
    let processor = BatchSpanProcessor::builder(Accept)
        .build()
        .expect("pipeline");
    let provider = TracerProvider::builder()
        .with_processor(processor.clone())
        .build();
    provider.tracer("t").start("span").end();
    assert_eq!(provider.force_flush(Duration::MAX), Ok(()));
    assert_eq!(provider.shutdown(Duration::MAX), Ok(()));
    assert_eq!(processor.stats().exported, 1);
}

#[test]
fn a_zero_deadline_answers_at_once() {
    let processor = BatchSpanProcessor::builder(Accept)
        .build()
        .expect("pipeline");
    for _ in 0..1_000 {
        processor.on_end(SpanData::builder("a").build());
    }
    let started = Instant::now();
    let flushed = processor.force_flush(Duration::ZERO);
    assert!(
        matches!(flushed, Ok(()) | Err(PipelineError::Timeout { .. })),
        "{flushed:?}"
    );
    let shut = processor.shutdown(Duration::ZERO);
    assert!(
        matches!(shut, Ok(()) | Err(PipelineError::Timeout { .. })),
        "{shut:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let stats = processor.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    // A shutdown that timed out before the export loop could even answer
    // (a zero deadline) leaves the loop to settle the accounts a moment
    // later: queued spans become dropped, abandoned exports failed, and
    // nothing stays queued or in flight.
    let settle_by = Instant::now() + Duration::from_secs(5);
    let unsettled = || {
        let stats = processor.stats();
        stats.queued + stats.in_flight
    };
    while unsettled() > 0 && Instant::now() < settle_by {
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = processor.stats();
    assert!(stats.is_balanced(), "{stats:?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    assert_eq!((stats.queued, stats.in_flight), (0, 0), "{stats:?}");
}

/// Never answers.
struct Hang;

impl Exporter for Hang {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        std::future::pending().await
    }
}

/// Answers after blocking work on the runtime's blocking pool that outlives
/// any deadline (a compression or DNS lookup that does not return).
struct BlockingWork;

impl Exporter for BlockingWork {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        let work = tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_secs(60)));
        let _ = work.await;
        ExportOutcome::Success
    }
}

#[test]
fn the_provider_returns_by_its_deadline_whatever_its_processors_take() {
    // Ten processors that each hang until their own deadline: the provider's
    // shutdown must still return by the one deadline it was given, not after
    // ten of them.
    let processors: Vec<BatchSpanProcessor> = (0..10)
        .map(|_| BatchSpanProcessor::builder(Hang).build().expect("pipeline"))
        .collect();
    let mut builder = TracerProvider::builder();
    for processor in &processors {
        builder = builder.with_processor(processor.clone());
    }
    let provider = builder.build();
    provider.tracer("t").start("span").end();
    let started = Instant::now();
    let result = provider.shutdown(Duration::from_secs(1));
    let took = started.elapsed();
    assert!(
        matches!(result, Err(PipelineError::Timeout { .. })),
        "{result:?}"
    );
    // Generous against a noisy machine; one processor after another would take 10 s.
    assert!(took < Duration::from_secs(6), "{took:?}");
}

#[test]
fn shutdown_returns_by_its_deadline_while_blocking_work_runs() {
    let processor = BatchSpanProcessor::builder(BlockingWork)
        .build()
        .expect("pipeline");
    processor.on_end(SpanData::builder("a").build());
    // Let the export start its blocking work.
    let _ = processor.force_flush(Duration::from_millis(300));
    let started = Instant::now();
    let result = processor.shutdown(Duration::from_millis(500));
    let took = started.elapsed();
    assert!(
        matches!(result, Err(PipelineError::Timeout { .. })),
        "{result:?}"
    );
    // Generous against a noisy machine; waiting for the blocking work takes a minute.
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert!(processor.stats().is_balanced());
}

/// A metrics exporter that answers at once but leaves work on the blocking
/// pool that outlives any deadline: what an attempt that timed out leaves
/// behind (the HTTP exporter's compression of a large body, a DNS lookup in
/// `getaddrinfo`) while a later one succeeds.
struct LeavesBlockingWork;

impl Exporter for LeavesBlockingWork {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        Signal::Metrics
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        drop(tokio::task::spawn_blocking(|| {
            std::thread::sleep(Duration::from_secs(600))
        }));
        ExportOutcome::Success
    }
}

#[test]
fn a_meter_provider_shutdown_does_not_wait_for_blocking_work_its_exports_left() {
    // Before, the reader's thread dropped its runtime, which waits for the
    // blocking pool, and shutdown joined that thread: ten minutes here.
    let reader = PeriodicReader::builder(LeavesBlockingWork)
        .with_interval(Duration::from_secs(3600))
        .build()
        .expect("reader");
    let provider = MeterProvider::builder()
        .with_reader(reader)
        .build()
        .expect("provider");
    provider.meter("m").u64_counter("c").build().add(1, &[]);
    let (done, shut_down) = std::sync::mpsc::channel();
    let shutting_down = provider.clone();
    std::thread::spawn(move || {
        let _ = done.send(shutting_down.shutdown(Duration::from_secs(10)));
    });
    // A hang detector only: the shutdown has a deadline of 10 s.
    let result = shut_down
        .recv_timeout(Duration::from_secs(60))
        .expect("shutdown returned");
    assert_eq!(result, Ok(()));
    let stats = provider.stats();
    assert_eq!(
        (
            stats.produced_data_points,
            stats.exported_data_points,
            stats.in_flight_data_points
        ),
        (1, 1, 0),
        "{stats:?}"
    );
}

/// Accepts every export; dropped by the export loop's thread as it ends, it
/// blocks that thread until told to go on (or ten seconds have passed).
struct BlocksWhenDropped {
    go_on: crossbeam_channel::Receiver<()>,
    dropped: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Exporter for BlocksWhenDropped {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        ExportOutcome::Success
    }
}

impl Drop for BlocksWhenDropped {
    fn drop(&mut self) {
        let _ = self.go_on.recv_timeout(Duration::from_secs(10));
        self.dropped
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A span pipeline's shutdown returns by its deadline even when the export
/// loop, having answered, blocks in dropping the program's exporter: the
/// loop's thread is joined only if it ends by the deadline (the metrics
/// reader's shutdown does the same). Before, shutdown joined it without a
/// limit and returned only once the exporter's drop was done.
#[test]
fn a_span_pipeline_shutdown_returns_by_its_deadline_while_the_exporters_drop_blocks() {
    let (go_on_sender, go_on) = crossbeam_channel::bounded(1);
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let processor = BatchSpanProcessor::builder(BlocksWhenDropped {
        go_on,
        dropped: dropped.clone(),
    })
    .build()
    .expect("pipeline");
    processor.on_end(SpanData::builder("a").build());
    // Room for the export on a loaded machine; the drop holds for 10 s.
    let result = processor.shutdown(Duration::from_secs(3));
    let drop_done = dropped.load(std::sync::atomic::Ordering::SeqCst);
    let _ = go_on_sender.send(());
    assert_eq!(result, Ok(()), "the span was exported before the deadline");
    assert!(
        !drop_done,
        "shutdown waited for the exporter's drop, past its deadline"
    );
}

/// Refuses every attempt, as a collector that is down: worth retrying.
struct Refuses;

impl Exporter for Refuses {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        ExportOutcome::Retryable {
            error: otlp_sdk::ExportError::Transport("connection refused".into()),
            throttle: None,
        }
    }
}

/// Spans still being retried at the shutdown deadline fail; the last error
/// says so, and keeps what they were retried for (the deadline is why they
/// failed, not what went wrong): it said only "1 span still in flight at
/// the shutdown deadline", the refusal gone from the report. A retry that
/// would come after the deadline is called off as soon as that is known
/// (the default backoff, 0.5 to 1.5 s and growing, soon outlasts 2 s):
/// the request fails then, its last error saying so after the refusal.
#[test]
fn spans_retried_past_the_shutdown_deadline_keep_their_cause_in_the_last_error() {
    let processor = BatchSpanProcessor::builder(Refuses)
        .build()
        .expect("pipeline");
    let provider = TracerProvider::builder()
        .with_processor(processor.clone())
        .build();
    provider.tracer("t").start("span").end();
    let result = provider.shutdown(Duration::from_secs(2));
    assert!(result.is_err(), "{result:?}");
    let stats = processor.stats();
    assert_eq!(
        (stats.failed, stats.queued, stats.in_flight),
        (1, 0, 0),
        "{stats:?}"
    );
    let error = stats.last_error.unwrap_or_default();
    assert!(
        (error.contains("still in flight at the shutdown deadline")
            || error
                .contains("not retried: the next attempt would come after the shutdown deadline"))
            && error.contains("connection refused"),
        "{error}"
    );
}
