//! [`SpanProcessor`] and [`BatchSpanProcessor`]: where finished spans enter the pipeline.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use otlp_core::SpanData;

use crate::config::validate::validate_pipeline;
use crate::config::{BatchConfig, Config, PerformanceConfig};
use crate::durable::DurableConfig;
use crate::error::PipelineError;
use crate::export_loop::{Command, ExportLoop, LoopSettings};
use crate::exporter::Exporter;
use crate::record_queue::RecordQueue;
use crate::retry::RetryPolicy;
use crate::shared::{Progress, Shared};
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

/// The batching span processor: a byte-bounded queue of encoded spans in front of one
/// export loop that batches, encodes once, exports with retry, and counts
/// every span.
///
/// Cost model of [`on_end`](SpanProcessor::on_end): one counter increment on
/// a per-thread cache line (a plain store for the first 16 threads that
/// count), then the span is encoded once, on the calling thread, into that
/// thread's block of the pipeline's byte-bounded queue (see the crate
/// documentation): a measuring pass and a writing pass over its fields, two
/// uncontended atomic swaps. No lock, no allocation, no syscall per span —
/// once per block of about two hundred spans, an uncontended lock to hand
/// the block over, and one `unpark` when the loop sleeps and a batch's worth
/// is waiting. When the queue's bytes are all taken the span is dropped and
/// counted (or, with [`FullPolicy::Block`](crate::config::FullPolicy::Block),
/// the caller waits while the pipeline makes progress).
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
            .field("queued_bytes", &self.inner.shared.queue.used_bytes())
            .field("max_queue_bytes", &self.inner.shared.queue.max_bytes())
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
        self.inner.shared.snapshot()
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
    /// through it alone is handed (see `Span`).
    #[inline]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }
}

impl SpanProcessor for BatchSpanProcessor {
    #[inline]
    fn on_end(&self, span: SpanData) {
        self.inner.shared.on_end(&span);
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
    /// instead of failing. Batches are cut when due (batch size or scheduled
    /// delay) whether or not an export slot is free, and wait on disk when
    /// none is: during an outage what the program hands over reaches the disk
    /// within a batch's time. See [`crate::durable`].
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
        let durable = self.durable.is_some();
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
            queue: RecordQueue::new(
                self.batch.max_queue_bytes,
                self.batch.max_queue_size,
                self.performance.max_request_bytes,
                self.batch.max_export_batch_size,
            ),
            stats: Stats::new(),
            full_policy: self.batch.full_policy,
            shut_down: AtomicBool::new(false),
            progress: Progress::new(self.attempt_timeout, durable),
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
