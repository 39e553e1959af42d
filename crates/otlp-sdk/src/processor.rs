//! [`SpanProcessor`] and [`BatchSpanProcessor`]: where finished spans enter the pipeline.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use otlp_core::SpanData;

use crate::config::validate::validate_pipeline;
use crate::config::{BatchConfig, Config, FullPolicy, PerformanceConfig};
use crate::durable::DurableConfig;
use crate::error::PipelineError;
use crate::export_loop::{Command, ExportLoop, LoopSettings};
use crate::exporter::Exporter;
use crate::queue::SpanQueue;
use crate::recycle::Shells;
use crate::retry::RetryPolicy;
use crate::stats::{Stats, StatsSnapshot};

/// Receives every finished span. The vocabulary of `opentelemetry_sdk`:
/// `on_end`, `force_flush`, `shutdown`.
pub trait SpanProcessor: Send + Sync + 'static {
    /// Takes a finished span. Must not block (beyond a configured bound) and
    /// must account for the span: exported, dropped or failed, never lost silently.
    fn on_end(&self, span: SpanData);

    /// Exports everything received so far; returns by `timeout`.
    fn force_flush(&self, timeout: Duration) -> Result<(), PipelineError>;

    /// Flushes, stops, and releases resources; returns by `timeout`. Spans
    /// received afterwards are dropped and counted. For the batch processor,
    /// stats after shutdown show nothing queued or in flight (except, with
    /// the durable queue, spans kept on disk); a timeout so short that the
    /// export loop cannot even answer (zero, say) returns first, and the loop
    /// settles the accounts a moment later.
    fn shutdown(&self, timeout: Duration) -> Result<(), PipelineError>;

    /// The batch pipeline this processor hands every span to unchanged, if
    /// it is one (or wraps one that way). A [`TracerProvider`](crate::TracerProvider)
    /// whose only processor answers `Some` lets its spans go straight into
    /// that pipeline's queue, without the dynamic dispatch of `on_end`. The
    /// default is `None`; a processor that filters, changes or copies spans
    /// must keep it.
    fn batch_pipeline(&self) -> Option<&BatchSpanProcessor> {
        None
    }
}

/// State shared by every handle of a pipeline and by its export loop.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) queue: SpanQueue,
    pub(crate) stats: Stats,
    pub(crate) full_policy: FullPolicy,
    pub(crate) shut_down: AtomicBool,
    /// Set by the export loop alone, once it has taken what shutdown
    /// exports (see [`Shared::close_queue`]).
    queue_closed: AtomicBool,
    /// Whether exports make progress (for [`FullPolicy::Block`]).
    pub(crate) progress: Progress,
    /// What exported spans leave for new ones (see `recycle`).
    pub(crate) shells: Shells,
}

/// Whether the pipeline moves: how many times the export loop has taken
/// spans from the queue, whether the backend answers, and at which count a
/// producer last found the pipeline stalled.
///
/// The pipeline is *stalled* when its exports fail and are being retried (the
/// backend is down or refuses), or when nothing has moved (no take, no
/// answer) for a whole attempt timeout (the backend hangs). A pipeline whose
/// exports are in flight within their timeout, or complete, is healthy
/// however slow it is: producers wait for it.
#[derive(Debug)]
pub(crate) struct Progress {
    takes: AtomicU64,
    /// The `takes` a producer found stalled (`u64::MAX`: none).
    stalled_at: AtomicU64,
    /// The last export attempt failed with a retryable error; cleared when
    /// the backend answers again.
    failing: AtomicBool,
    /// When the loop last took spans or an export was answered, in
    /// nanoseconds since `epoch`.
    moved_at: AtomicU64,
    epoch: Instant,
    /// No movement for this long (the attempt timeout) means stalled.
    patience: Duration,
    /// Producers parked until the loop takes spans (the blocking path only).
    waiters: Mutex<Vec<Thread>>,
    has_waiters: AtomicBool,
}

impl Progress {
    fn new(patience: Duration) -> Self {
        Progress {
            takes: AtomicU64::new(0),
            stalled_at: AtomicU64::new(u64::MAX),
            failing: AtomicBool::new(false),
            moved_at: AtomicU64::new(0),
            epoch: Instant::now(),
            patience,
            waiters: Mutex::new(Vec::new()),
            has_waiters: AtomicBool::new(false),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn note_movement(&self) {
        self.moved_at.fetch_max(self.now(), Ordering::Relaxed);
    }

    /// Called by the loop whenever it takes spans: there is room again, so
    /// producers waiting for it are woken.
    pub(crate) fn note_take(&self) {
        self.note_movement();
        self.takes.fetch_add(1, Ordering::SeqCst);
        if self.has_waiters.load(Ordering::SeqCst) && self.has_waiters.swap(false, Ordering::SeqCst)
        {
            let waiters =
                std::mem::take(&mut *self.waiters.lock().unwrap_or_else(PoisonError::into_inner));
            for waiter in waiters {
                waiter.unpark();
            }
        }
    }

    /// Called by an export task when an attempt failed and will be retried.
    pub(crate) fn note_retry(&self) {
        self.failing.store(true, Ordering::Relaxed);
    }

    /// Called by an export task when the backend answered (success, partial
    /// success or a permanent error): it is up.
    pub(crate) fn note_answer(&self) {
        self.failing.store(false, Ordering::Relaxed);
        self.note_movement();
    }

    /// Whether exports fail, or nothing has moved for a whole attempt timeout.
    fn is_stalled(&self) -> bool {
        if self.failing.load(Ordering::Relaxed) {
            return true;
        }
        let still_for = self
            .now()
            .saturating_sub(self.moved_at.load(Ordering::Relaxed));
        Duration::from_nanos(still_for) >= self.patience
    }

    /// Parks the calling producer until the loop takes spans after `seen`
    /// (the `takes` count it last saw), or `at_most` passes.
    fn wait_for_take(&self, seen: u64, at_most: Duration) {
        {
            let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
            waiters.push(std::thread::current());
            self.has_waiters.store(true, Ordering::SeqCst);
        }
        // A take between the failed push and the registration above would
        // not have woken us: look before sleeping.
        if self.takes.load(Ordering::SeqCst) == seen {
            std::thread::park_timeout(at_most);
        }
    }
}

impl Shared {
    /// Hands the finished span in `slot` to the queue, taking it out only
    /// when it is pushed (the tracer's path: one copy fewer per span).
    #[inline]
    pub(crate) fn on_end_from(&self, slot: &mut Option<SpanData>) {
        if slot.is_none() {
            return;
        }
        // Counted before anything else, so the span is never in a stage it
        // was not first counted into (see `stats`).
        self.stats.produced.add(1);
        if self.shut_down.load(Ordering::SeqCst) {
            *slot = None;
            Stats::add(&self.stats.dropped_shutdown, 1);
            return;
        }
        let Some(span) = slot.take() else {
            return;
        };
        match self.queue.push(span) {
            Ok(()) => self.after_push(),
            Err(span) => match self.full_policy {
                FullPolicy::Drop => Stats::add(&self.stats.dropped_queue_full, 1),
                FullPolicy::Block(bound) => self.block_until_room(span, bound),
            },
        }
    }

    /// A push that raced with shutdown and landed after the loop closed the
    /// queue is drained here (the loop will not look again); before that,
    /// the loop's own final drain takes it.
    ///
    /// Why nothing is left behind: the push is a `SeqCst` compare-exchange
    /// on the queue's tail, followed by the `SeqCst` loads below; the loop
    /// stores `queue_closed` (`SeqCst`) before its final pops, whose look at
    /// the tail follows a `SeqCst` fence. So either these loads see the
    /// queue closed, or the final pops see the pushed span.
    #[inline]
    fn after_push(&self) {
        if self.shut_down.load(Ordering::SeqCst) && self.queue_closed.load(Ordering::SeqCst) {
            self.drain_after_shutdown();
        }
    }

    /// [`FullPolicy::Block`]: waits for room while the pipeline makes
    /// progress. A producer that waited `bound` while exports were failing
    /// or nothing moved marks the pipeline stalled, and later producers drop
    /// at once until the loop takes spans again.
    fn block_until_room(&self, mut span: SpanData, bound: Duration) {
        let progress = &self.progress;
        if progress.stalled_at.load(Ordering::Acquire) == progress.takes.load(Ordering::Acquire) {
            return Stats::add(&self.stats.dropped_queue_full, 1);
        }
        let started = Instant::now();
        let mut step = 0u32;
        loop {
            self.queue.wake_loop();
            let seen = progress.takes.load(Ordering::SeqCst);
            if step < 4 {
                std::thread::yield_now();
            } else {
                // Woken as soon as the loop takes a batch (room again), or
                // after a millisecond to look at the clock.
                progress.wait_for_take(seen, Duration::from_millis(1));
            }
            step = step.saturating_add(1);
            match self.queue.push(span) {
                Ok(()) => return self.after_push(),
                Err(back) => span = back,
            }
            if self.shut_down.load(Ordering::SeqCst) {
                return Stats::add(&self.stats.dropped_shutdown, 1);
            }
            if started.elapsed() >= bound && progress.is_stalled() {
                progress
                    .stalled_at
                    .store(progress.takes.load(Ordering::Acquire), Ordering::Release);
                return Stats::add(&self.stats.dropped_queue_full, 1);
            }
        }
    }

    /// Closes the queue for good (the export loop alone, at the end of
    /// shutdown) and discards what is still in it, counting it.
    pub(crate) fn close_queue(&self) {
        self.queue_closed.store(true, Ordering::SeqCst);
        self.drain_after_shutdown();
    }

    /// Discards whatever is in the queue, counting it.
    fn drain_after_shutdown(&self) {
        let mut drained = 0;
        while self.queue.pop().is_some() {
            drained += 1;
        }
        if drained > 0 {
            Stats::add(&self.stats.dropped_shutdown, drained);
        }
    }
}

struct Control {
    commands: Sender<Command>,
    loop_thread: Mutex<Option<JoinHandle<()>>>,
    /// Bound for the shutdown done when the last handle is dropped.
    drop_timeout: Duration,
}

struct Inner {
    shared: Arc<Shared>,
    control: Control,
}

/// The batching span processor: a bounded lock-free queue in front of one
/// export loop that batches, encodes once, exports with retry, and counts
/// every span.
///
/// Cost model of [`on_end`](SpanProcessor::on_end): one counter increment on
/// a per-thread cache line (a plain store for the first 16 threads that
/// count), one lock-free queue push (a move of the span into a preallocated
/// slot), two loads of shared flags. No lock, no allocation,
/// no syscall — except one `unpark` when the loop sleeps and a batch's worth
/// is waiting. When the queue is full the span is dropped and counted (or,
/// with [`FullPolicy::Block`], the caller waits up to the configured bound).
///
/// The export loop runs on its own thread with its own small tokio runtime,
/// so it works in programs with or without tokio and never blocks the
/// application's runtime. Handles are cheap to clone; the pipeline shuts down
/// (with a bounded wait) when the last handle is dropped.
///
/// ```
/// use std::time::Duration;
/// use otlp_sdk::{BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, SpanProcessor};
/// use otlp_core::{encode::Encoding, SpanData};
///
/// struct Accept;
/// impl Exporter for Accept {
///     fn encoding(&self) -> Encoding { Encoding::Protobuf }
///     async fn export(&self, _: ExportRequest) -> ExportOutcome { ExportOutcome::Success }
/// }
///
/// let processor = BatchSpanProcessor::builder(Accept).build()?;
/// processor.on_end(SpanData::builder("work").build());
/// processor.shutdown(Duration::from_secs(1))?;
/// let stats = processor.stats();
/// assert_eq!((stats.produced, stats.exported, stats.queued), (1, 1, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct BatchSpanProcessor {
    inner: Arc<Inner>,
}

impl fmt::Debug for BatchSpanProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchSpanProcessor")
            .field("queued", &self.inner.shared.queue.len())
            .field("capacity", &self.inner.shared.queue.capacity())
            .field(
                "shut_down",
                &self.inner.shared.shut_down.load(Ordering::Relaxed),
            )
            .finish()
    }
}

impl BatchSpanProcessor {
    /// Starts building a processor that exports through `exporter`.
    pub fn builder<E: Exporter>(exporter: E) -> BatchSpanProcessorBuilder<E> {
        BatchSpanProcessorBuilder {
            exporter,
            batch: BatchConfig::default(),
            retry: RetryPolicy::default(),
            attempt_timeout: Duration::from_secs(10),
            performance: PerformanceConfig::default(),
            durable: None,
        }
    }

    /// Where every span is now.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.shared.stats.snapshot()
    }

    /// Whether [`shutdown`](SpanProcessor::shutdown) has been called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.shared.shut_down.load(Ordering::SeqCst)
    }

    /// Sends a command to the loop and waits for its answer until `deadline`.
    /// `None` means no answer came in time.
    fn send(
        &self,
        command: impl FnOnce(Sender<Result<(), PipelineError>>) -> Command,
        deadline: Instant,
    ) -> Option<Result<(), PipelineError>> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        if self.inner.control.commands.send(command(reply)).is_err() {
            return Some(Err(PipelineError::ShutDown));
        }
        self.inner.shared.queue.unpark_loop();
        answer.recv_deadline(deadline).ok()
    }

    fn pending(&self) -> PipelineError {
        let stats = self.stats();
        PipelineError::Timeout {
            pending: stats.queued + stats.in_flight,
        }
    }

    /// This pipeline's state: where a span of a provider that exports
    /// through it alone is handed (see `Span`), and where shells come from.
    #[inline]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }
}

impl SpanProcessor for BatchSpanProcessor {
    #[inline]
    fn on_end(&self, span: SpanData) {
        self.inner.shared.on_end_from(&mut Some(span));
    }

    fn batch_pipeline(&self) -> Option<&BatchSpanProcessor> {
        Some(self)
    }

    fn force_flush(&self, timeout: Duration) -> Result<(), PipelineError> {
        if self.is_shut_down() {
            return Err(PipelineError::ShutDown);
        }
        let deadline = deadline_after(timeout);
        self.send(|reply| Command::Flush { reply, deadline }, deadline)
            .unwrap_or_else(|| Err(self.pending()))
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), PipelineError> {
        let deadline = deadline_after(timeout);
        if self.inner.shared.shut_down.swap(true, Ordering::SeqCst) {
            return Err(PipelineError::ShutDown);
        }
        let answer = self.send(|reply| Command::Shutdown { reply, deadline }, deadline);
        // The loop answers as its last act, so joining it now is immediate.
        let loop_thread = answer
            .as_ref()
            .and_then(|_| self.inner.control.loop_thread.lock().ok())
            .and_then(|mut thread| thread.take());
        if let Some(handle) = loop_thread {
            let _ = handle.join();
        }
        // Whatever is still queued is the loop's to settle (it closes the
        // queue as its last act, even after this call's deadline).
        answer.unwrap_or_else(|| Err(self.pending()))
    }
}

/// `timeout` from now; a timeout too long for `Instant` (`Duration::MAX`,
/// "no deadline") ends a century from now instead of overflowing.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.shared.shut_down.swap(true, Ordering::SeqCst) {
            return;
        }
        let deadline = Instant::now() + self.control.drop_timeout;
        let (reply, answer) = crossbeam_channel::bounded(1);
        if self
            .control
            .commands
            .send(Command::Shutdown { reply, deadline })
            .is_ok()
        {
            self.shared.queue.unpark_loop();
            let _ = answer.recv_deadline(deadline);
        }
    }
}

/// Builder for [`BatchSpanProcessor`]; every setting has a default.
pub struct BatchSpanProcessorBuilder<E> {
    exporter: E,
    batch: BatchConfig,
    retry: RetryPolicy,
    attempt_timeout: Duration,
    performance: PerformanceConfig,
    durable: Option<DurableConfig>,
}

impl<E: Exporter> BatchSpanProcessorBuilder<E> {
    /// Takes batch, retry, attempt timeout, performance and durable-queue
    /// settings from a loaded [`Config`].
    pub fn with_config(mut self, config: &Config) -> Self {
        self.batch = config.batch.clone();
        self.retry = config.retry.clone();
        self.attempt_timeout = config.exporter.timeout;
        self.performance = config.performance.clone();
        self.durable = config.durable.clone();
        self
    }

    /// Turns the durable queue on: every encoded request is written to
    /// `config.directory` before it is exported and removed once the backend
    /// took it; what was not delivered is sent again at the next start, and
    /// requests that run out of retries wait on disk for a later round
    /// instead of failing. See [`crate::durable`].
    pub fn with_durable_queue(mut self, config: DurableConfig) -> Self {
        self.durable = Some(config);
        self
    }

    /// Replaces the batch settings.
    pub fn with_batch_config(mut self, batch: BatchConfig) -> Self {
        self.batch = batch;
        self
    }

    /// Replaces the retry policy.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the timeout of one export attempt (default 10 s).
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Replaces the performance settings.
    pub fn with_performance_config(mut self, performance: PerformanceConfig) -> Self {
        self.performance = performance;
        self
    }

    /// Validates the settings and starts the export loop.
    pub fn build(self) -> Result<BatchSpanProcessor, PipelineError> {
        validate_pipeline(
            &self.batch,
            &self.retry,
            &self.performance,
            self.attempt_timeout,
        )
        .map_err(|error| PipelineError::Start(error.to_string()))?;
        let settings = LoopSettings {
            encoding: self.exporter.encoding(),
            scheduled_delay: self.batch.scheduled_delay,
            export_timeout: self.batch.export_timeout,
            attempt_timeout: self.attempt_timeout,
            max_concurrent_exports: self.batch.max_concurrent_exports,
            max_request_bytes: self.performance.max_request_bytes,
            buffer_pool_size: self
                .performance
                .buffer_pool_size
                .unwrap_or(2 * self.batch.max_concurrent_exports),
            io_threads: self.performance.io_threads,
            retry: self.retry,
            batch: self.batch.clone(),
            durable: self.durable,
        };
        let shared = Arc::new(Shared {
            queue: SpanQueue::new(
                self.batch.max_queue_size.unwrap_or(2048),
                self.batch.max_export_batch_size,
            ),
            stats: Stats::new(self.batch.max_queue_size.unwrap_or(2048)),
            full_policy: self.batch.full_policy,
            shut_down: AtomicBool::new(false),
            queue_closed: AtomicBool::new(false),
            progress: Progress::new(self.attempt_timeout),
            shells: Shells::new(self.batch.max_queue_size.unwrap_or(2048)),
        });
        let (commands, receiver) = crossbeam_channel::unbounded();
        let export_loop = ExportLoop::new(shared.clone(), self.exporter, settings, receiver)?;
        let thread = std::thread::Builder::new()
            .name("otlp-export-loop".into())
            .spawn(move || {
                crate::own_threads::enter();
                export_loop.run()
            })
            .map_err(|error| {
                PipelineError::Start(format!("cannot spawn the export loop thread: {error}"))
            })?;
        shared.queue.set_loop_thread(thread.thread().clone());
        Ok(BatchSpanProcessor {
            inner: Arc::new(Inner {
                shared,
                control: Control {
                    commands,
                    loop_thread: Mutex::new(Some(thread)),
                    drop_timeout: self.batch.export_timeout.min(Duration::from_secs(5)),
                },
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use otlp_core::encode::Encoding;

    use super::*;
    use crate::exporter::{ExportOutcome, ExportRequest};
    use crate::provider::TracerProvider;

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
    fn a_shut_down_pipeline_keeps_no_memory_in_the_threads_that_used_it() {
        let processor = BatchSpanProcessor::builder(Accept).build().unwrap();
        let provider = TracerProvider::builder()
            .with_processor(processor.clone())
            .build();
        let shared = Arc::downgrade(processor.shared());
        // A thread records spans, then stays alive doing something else.
        let (recorded, wait) = mpsc::channel();
        let (release, parked) = mpsc::channel::<()>();
        let tracer = provider.tracer("memory");
        let thread = std::thread::spawn(move || {
            for _ in 0..100 {
                tracer.start("span").end();
            }
            drop(tracer);
            recorded.send(()).unwrap();
            let _ = parked.recv();
        });
        wait.recv().unwrap();
        processor.force_flush(Duration::from_secs(10)).unwrap();
        provider.shutdown(Duration::from_secs(10)).unwrap();
        // Shut down, the pipeline keeps no shells for spans that will not come.
        assert!(processor.shared().shells.take().is_none());
        drop(provider);
        drop(processor);
        // Dropped, nothing keeps its queue alive: not the thread that used it.
        assert!(
            shared.upgrade().is_none(),
            "the pipeline outlived its last handle"
        );
        release.send(()).unwrap();
        thread.join().unwrap();
    }
}
