//! [`PeriodicReader`]: collects at an interval and exports what it read.
//!
//! The reader runs on its own thread (an own thread of the pipeline: what
//! the exporter or a callback records through `tracing` goes nowhere) with a
//! one-worker tokio runtime for the exporter. Every interval, and on
//! `force_flush` and `shutdown`, it collects, encodes the metrics once as
//! one `ExportMetricsServiceRequest` (in the exporter's encoding), and sends
//! it with the [`RetryPolicy`] until it settles or the export timeout
//! passes, or a shutdown that ran out of time gives up on it (the attempt
//! in progress is dropped and nothing more is sent). Data points are
//! counted as the spans of a span pipeline are: exported, rejected (partial
//! success) or failed.
//!
//! Metrics are state, not a queue: a failed export loses no measurement of a
//! cumulative stream (the next collection reports the totals again), and
//! loses the interval of a delta stream (counted in
//! [`MetricsStats::failed_data_points`]).

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};
use otlp_core::encode::{Chunk, Encoding, MetricEncoder};
use otlp_core::{ExponentialHistogram, Gauge, Histogram, Metric, MetricData, Sum, Summary};

use super::{MetricsError, MetricsStats};
use crate::config::Config;
use crate::config::validate::validate_reader;
use crate::deadline::deadline_after;
use crate::diagnostics::{LossReporter, Losses};
use crate::ending_thread::EndingThread;
use crate::export_loop::panic_message;
use crate::exporter::{ExportRequest, Exporter, Signal};
use crate::layered::Layered;
use crate::retry::{RetryCutoff, RetryPolicy, SendEvent, Settlement};

/// The spec's default export interval (`OTEL_METRIC_EXPORT_INTERVAL`).
pub const DEFAULT_EXPORT_INTERVAL: Duration = Duration::from_secs(60);
/// The spec's default export timeout (`OTEL_METRIC_EXPORT_TIMEOUT`).
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(30);

/// What an export timeout of `0` ("no limit") stands for: a year.
const NO_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// What a reader collects from: its provider's instruments. The provider's
/// shared state implements it; a trait here, because that state holds the
/// readers and this module must not import the provider's.
pub(crate) trait MetricSource: Send + Sync {
    /// Every stream's data points as of now.
    fn collect(&self) -> Vec<Metric>;
}

type StartFn = Box<dyn FnOnce(Arc<dyn MetricSource>) -> Result<ReaderHandle, MetricsError> + Send>;

/// Collects and exports at an interval. Built with [`PeriodicReader::builder`],
/// given to [`MeterProviderBuilder::with_reader`](super::MeterProviderBuilder::with_reader).
pub struct PeriodicReader {
    start: StartFn,
    /// Its exporter [stands for `none`](Exporter::stands_for_none).
    stands_for_none: bool,
}

impl fmt::Debug for PeriodicReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeriodicReader").finish_non_exhaustive()
    }
}

impl PeriodicReader {
    /// A reader exporting through `exporter`, which must carry
    /// [`Signal::Metrics`].
    pub fn builder<E: Exporter>(exporter: E) -> PeriodicReaderBuilder<E> {
        PeriodicReaderBuilder {
            exporter,
            interval: Layered::default(),
            timeout: Layered::default(),
            retry: Layered::default(),
            max_request_bytes: Layered::default(),
        }
    }

    pub(crate) fn start(self, shared: Arc<dyn MetricSource>) -> Result<ReaderHandle, MetricsError> {
        (self.start)(shared)
    }

    /// Whether its exporter only [stands for a metrics exporter configured
    /// `none`](Exporter::stands_for_none): a
    /// [`MeterProvider`](super::MeterProvider) built `with_config` from a
    /// configuration whose metrics exporter is `none` never starts it.
    pub fn stands_for_none(&self) -> bool {
        self.stands_for_none
    }
}

/// Builder for [`PeriodicReader`].
#[derive(Debug)]
pub struct PeriodicReaderBuilder<E> {
    exporter: E,
    interval: Layered<Duration>,
    timeout: Layered<Duration>,
    retry: Layered<RetryPolicy>,
    max_request_bytes: Layered<usize>,
}

impl<E: Exporter> PeriodicReaderBuilder<E> {
    /// Takes the export interval and timeout (`0`: no limit), the retry
    /// policy and the request size cap of a loaded [`Config`]. What the
    /// program sets in code wins over the configuration, whether it is set
    /// before or after this call (the `with_*` methods below); a second call
    /// replaces the first configuration's settings.
    pub fn with_config(mut self, config: &Config) -> Self {
        self.retry.configure(config.retry.clone());
        self.max_request_bytes
            .configure(config.performance.max_request_bytes);
        self.interval.configure(config.metrics.export_interval);
        self.timeout
            .configure(if config.metrics.export_timeout.is_zero() {
                NO_TIMEOUT
            } else {
                config.metrics.export_timeout
            });
        self
    }

    /// Time between collections (default 60 s).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval.set(interval);
        self
    }

    /// How long one export may take, retries included (default 30 s;
    /// [`NO_TIMEOUT`](crate::config::NO_TIMEOUT) for no limit: a zero
    /// timeout is refused by [`build`](Self::build)).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout.set(timeout);
        self
    }

    /// The retry policy of exports.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry.set(retry);
        self
    }

    /// The largest request body to send (default
    /// [`MAX_REQUEST_BYTES`](otlp_core::encode::MAX_REQUEST_BYTES)); larger
    /// collections go in several requests.
    pub fn with_max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes.set(bytes);
        self
    }

    /// Builds the reader; its thread starts with the provider. Refuses an
    /// exporter of another signal, a zero interval, and (naming the key and
    /// value, as the span pipeline's builder does) a zero timeout, a retry
    /// policy the configuration would refuse, or a request cap of 0 or past
    /// 64 MiB.
    pub fn build(self) -> Result<PeriodicReader, MetricsError> {
        if self.exporter.signal() != Signal::Metrics {
            return Err(MetricsError::WrongSignal(self.exporter.signal()));
        }
        let settings = self.settings();
        if settings.interval.is_zero() {
            return Err(MetricsError::InvalidInterval(settings.interval));
        }
        validate_reader(
            settings.timeout,
            &settings.retry,
            settings.max_request_bytes,
        )
        .map_err(MetricsError::InvalidReaderSetting)?;
        Ok(PeriodicReader {
            stands_for_none: settings.exporter.stands_for_none(),
            start: Box::new(move |shared| spawn(settings, shared)),
        })
    }

    /// The settings: each as set in code, else as configured, else its default.
    fn settings(self) -> ReaderSettings<E> {
        ReaderSettings {
            exporter: self.exporter,
            interval: self.interval.value_or(DEFAULT_EXPORT_INTERVAL),
            timeout: self.timeout.value_or(DEFAULT_EXPORT_TIMEOUT),
            retry: self.retry.value_or_default(),
            max_request_bytes: self
                .max_request_bytes
                .value_or(otlp_core::encode::MAX_REQUEST_BYTES),
        }
    }
}

/// What a [`PeriodicReaderBuilder`] settled on.
#[derive(Debug)]
struct ReaderSettings<E> {
    exporter: E,
    interval: Duration,
    timeout: Duration,
    retry: RetryPolicy,
    max_request_bytes: usize,
}

enum Command {
    Flush(Sender<Result<(), MetricsError>>),
    Shutdown(Sender<Result<(), MetricsError>>),
}

#[derive(Debug, Default)]
struct ExportCounts {
    /// Data points the reader's collections handed to export (each settles
    /// as exported, rejected or failed).
    produced: AtomicU64,
    exports: AtomicU64,
    /// Requests handed to the exporter and not yet counted in `exports`
    /// (the reader sends one at a time): a shutdown that runs out of time
    /// counts them settled as it counts their points failed.
    exporting: AtomicU64,
    exported: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// Set when a shutdown ran out of time: the data points then in flight
    /// were counted failed, so whatever the reader settles or collects
    /// after is not counted again (held while counts change, so that a
    /// point is counted once). See [`ExportCounts::abandon`].
    abandoned: Mutex<bool>,
    /// Wakes an export in progress when the pipeline is abandoned: it is
    /// given up then, not left sending and retrying to its own deadline.
    gave_up: tokio::sync::Notify,
    /// A shutdown's deadline once one is asked for: no retry starts after
    /// it ([`RetryPolicy::send_until`]), so that an export waiting out a
    /// long backoff or throttle hint ends then, not at the deadline.
    retry_cutoff: RetryCutoff,
}

impl ExportCounts {
    /// Counts `points` handed to export; `false` (nothing counted) once the
    /// pipeline was abandoned: they are not to be sent.
    fn produce(&self, points: u64) -> bool {
        let abandoned = self.abandoned.lock().unwrap_or_else(|p| p.into_inner());
        if !*abandoned {
            self.produced.fetch_add(points, Ordering::Release);
        }
        !*abandoned
    }

    /// Keeps `message` as the last error.
    fn note_error(&self, message: String) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(message);
    }

    /// Returns once the pipeline is abandoned ([`abandon`](Self::abandon)):
    /// at once if it is already.
    async fn given_up(&self) {
        let notified = self.gave_up.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if *self.abandoned.lock().unwrap_or_else(|p| p.into_inner()) {
            return;
        }
        notified.await;
    }

    /// A request is handed to the exporter.
    fn start_export(&self) {
        let _abandoned = self.abandoned.lock().unwrap_or_else(|p| p.into_inner());
        self.exporting.fetch_add(1, Ordering::Relaxed);
    }

    /// The request handed over last has ended: counted settled, unless the
    /// pipeline was abandoned meanwhile ([`abandon`](Self::abandon) counted
    /// it, or, handed over after, it was never sent).
    fn end_export(&self) {
        let abandoned = self.abandoned.lock().unwrap_or_else(|p| p.into_inner());
        if !*abandoned {
            self.exporting.fetch_sub(1, Ordering::Relaxed);
            self.exports.fetch_add(1, Ordering::Release);
        }
    }

    /// Counts how points handed to export ended, unless the pipeline was
    /// abandoned while they were in flight (they were counted failed then).
    fn settle(&self, exported: u64, rejected: u64, failed: u64) {
        let abandoned = self.abandoned.lock().unwrap_or_else(|p| p.into_inner());
        if !*abandoned {
            self.exported.fetch_add(exported, Ordering::Release);
            self.rejected.fetch_add(rejected, Ordering::Release);
            self.failed.fetch_add(failed, Ordering::Release);
        }
    }

    /// A shutdown ran out of time with data points in flight (an export
    /// that hangs, retries to its deadline): they are counted failed now,
    /// so that after shutdown returns nothing is in flight, as
    /// [`MetricsStats`] promises; the reader, still busy, sends nothing
    /// more and counts nothing more.
    fn abandon(&self, timeout: Duration) {
        let mut abandoned = self.abandoned.lock().unwrap_or_else(|p| p.into_inner());
        if *abandoned {
            return;
        }
        *abandoned = true;
        // Under the lock that set the flag: `given_up` either sees the flag
        // or is waiting already.
        self.gave_up.notify_waiters();
        // The request being sent is given up: settled now, as its points.
        let given_up = self.exporting.swap(0, Ordering::Relaxed);
        self.exports.fetch_add(given_up, Ordering::Release);
        let settled = self.exported.load(Ordering::Acquire)
            + self.rejected.load(Ordering::Acquire)
            + self.failed.load(Ordering::Acquire);
        let in_flight = self
            .produced
            .load(Ordering::Acquire)
            .saturating_sub(settled);
        if in_flight > 0 {
            self.failed.fetch_add(in_flight, Ordering::Release);
            *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!(
                "shutdown did not settle within {timeout:?}: {in_flight} data points in flight counted failed"
            ));
        }
    }
}

/// The provider's side of a running reader.
pub(crate) struct ReaderHandle {
    commands: Sender<Command>,
    counts: Arc<ExportCounts>,
    thread: Mutex<Option<EndingThread>>,
    /// A shutdown was asked for (answered or not): dropping the handle
    /// asks for none.
    shut_down: AtomicBool,
    /// Bound of the shutdown a drop does: the export timeout, at most
    /// [`DROP_SHUTDOWN_TIMEOUT`], as the span and log pipelines bound theirs.
    drop_timeout: Duration,
}

/// Longest a dropped provider's reader may hold the dropping thread for its
/// last collection and export (the span and log pipelines' bound).
const DROP_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

impl ReaderHandle {
    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), MetricsError> {
        self.ask(Command::Flush, timeout)
    }

    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), MetricsError> {
        let deadline = deadline_after(timeout);
        self.shut_down.store(true, Ordering::Release);
        // No retry starts after the deadline, less the time the reader
        // needs to answer (as the span pipeline leaves its loop: a tenth,
        // at most 50 ms): an export waiting for one ends now, and the
        // final collection is sent once.
        let cutoff = deadline
            .checked_sub((timeout / 10).min(Duration::from_millis(50)))
            .unwrap_or(deadline);
        self.counts.retry_cutoff.cut_off_at(cutoff);
        let result = self.ask(Command::Shutdown, timeout);
        if let Err(MetricsError::Timeout(_)) = result {
            self.counts.abandon(timeout);
        }
        // The thread answered (its final export delivered or not): it ends
        // now, dropping the exporter and the export runtime, and is joined
        // once it has, if that is before the deadline (an exporter whose
        // drop blocks must not hold shutdown past it: the thread is then left
        // to end on its own). Not after a timeout (the deadline has passed)
        // nor when it never answered (`ShutDown`).
        let answered = !matches!(
            result,
            Err(MetricsError::Timeout(_) | MetricsError::ShutDown)
        );
        if answered
            && let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take()
        {
            thread.join_by(deadline);
        }
        result
    }

    fn ask(
        &self,
        command: fn(Sender<Result<(), MetricsError>>) -> Command,
        timeout: Duration,
    ) -> Result<(), MetricsError> {
        let (reply, answer) = bounded(1);
        self.commands
            .send(command(reply))
            .map_err(|_| MetricsError::ShutDown)?;
        match answer.recv_timeout(timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => Err(MetricsError::Timeout(timeout)),
            Err(RecvTimeoutError::Disconnected) => Err(MetricsError::ShutDown),
        }
    }

    pub(crate) fn add_stats(&self, stats: &mut MetricsStats) {
        let counts = &self.counts;
        stats.exports = counts.exports.load(Ordering::Acquire);
        stats.exported_data_points = counts.exported.load(Ordering::Acquire);
        stats.rejected_data_points = counts.rejected.load(Ordering::Acquire);
        stats.failed_data_points = counts.failed.load(Ordering::Acquire);
        // Read after the settled counts, so at least everything they count:
        // a point is counted produced before it can be counted settled.
        stats.produced_data_points = counts.produced.load(Ordering::Acquire);
        stats.in_flight_data_points = stats.produced_data_points.saturating_sub(
            stats.exported_data_points + stats.rejected_data_points + stats.failed_data_points,
        );
        stats.retries = counts.retries.load(Ordering::Relaxed);
        stats.last_error = counts
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
    }
}

impl Drop for ReaderHandle {
    /// The last handle of a provider never shut down (a program that lets
    /// it go out of scope at the end of `main`): shuts the reader down, so
    /// that what was recorded since the last export is collected and
    /// exported, bounded by `drop_timeout`, as a dropped span or log
    /// pipeline exports what it holds. Before, the reader's thread ended
    /// when the channel closed and the last interval was lost without a
    /// word (never collected, so in no count). Not from the reader's own
    /// thread (it cannot answer itself).
    fn drop(&mut self) {
        if self.shut_down.load(Ordering::Acquire) {
            return;
        }
        let on_reader_thread = self
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|thread| thread.thread().id() == std::thread::current().id());
        if !on_reader_thread {
            let _ = self.shutdown(self.drop_timeout);
        }
    }
}

fn spawn<E: Exporter>(
    settings: ReaderSettings<E>,
    shared: Arc<dyn MetricSource>,
) -> Result<ReaderHandle, MetricsError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("otlp-metrics-io")
        .on_thread_start(crate::own_threads::enter)
        .on_thread_unpark(crate::own_threads::catch_up)
        .enable_all()
        .build()
        .map_err(|error| {
            MetricsError::Start(format!("cannot build the export runtime: {error}"))
        })?;
    let (commands, receiver) = crossbeam_channel::unbounded();
    let counts = Arc::new(ExportCounts::default());
    let reader = Reader {
        shared,
        exporter: settings.exporter,
        timeout: settings.timeout,
        retry: settings.retry,
        max_request_bytes: settings.max_request_bytes,
        counts: counts.clone(),
        encoder: MetricEncoder::new(),
        body: Vec::new(),
        runtime: ReaderRuntime(Some(runtime)),
        losses: LossReporter::default(),
    };
    let interval = settings.interval;
    let thread = EndingThread::spawn(
        std::thread::Builder::new().name("otlp-metrics-reader".into()),
        move || {
            crate::own_threads::enter();
            reader.run(receiver, interval);
        },
    )
    .map_err(|error| MetricsError::Start(format!("cannot start the reader thread: {error}")))?;
    Ok(ReaderHandle {
        commands,
        counts,
        thread: Mutex::new(Some(thread)),
        shut_down: AtomicBool::new(false),
        drop_timeout: settings.timeout.min(DROP_SHUTDOWN_TIMEOUT),
    })
}

struct Reader<E> {
    shared: Arc<dyn MetricSource>,
    exporter: E,
    timeout: Duration,
    retry: RetryPolicy,
    max_request_bytes: usize,
    counts: Arc<ExportCounts>,
    encoder: MetricEncoder,
    body: Vec<u8>,
    runtime: ReaderRuntime,
    /// What it told of its losses ([`crate::diagnostics`]).
    losses: LossReporter,
}

/// The reader's runtime. Dropped when the reader's thread ends, it stops
/// without waiting for what still runs on its blocking pool (a compression
/// or DNS lookup an attempt that timed out left behind), as the span and
/// log pipelines' export loops do: a plain drop waits for it, and a
/// shutdown that got its answer joins this thread.
struct ReaderRuntime(Option<tokio::runtime::Runtime>);

impl ReaderRuntime {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.0
            .as_ref()
            .expect("the runtime is there until the reader is dropped")
            .block_on(future)
    }
}

impl Drop for ReaderRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl<E: Exporter> Reader<E> {
    fn run(mut self, commands: Receiver<Command>, interval: Duration) {
        let mut next = deadline_after(interval);
        loop {
            let wait = next.saturating_duration_since(Instant::now());
            let command = commands.recv_timeout(wait);
            // The hooks registered since the last turn (a bridge built after
            // this provider) run before the callbacks and the export do.
            crate::own_threads::catch_up();
            match command {
                Err(RecvTimeoutError::Timeout) => {
                    next = deadline_after(interval);
                    let _ = self.collect_and_export();
                    self.report_losses(false);
                }
                Ok(Command::Flush(reply)) => {
                    // Flushes asked while the reader was busy (an export
                    // that hangs to its timeout) have waited here, most of
                    // them given up by their callers: one collection
                    // answers every flush waiting now, and a shutdown
                    // waiting with them goes first (its final collection
                    // answers them too), instead of a collection each.
                    // Only those queued now: flushes asked again and again
                    // meanwhile must not hold the loop.
                    let mut replies = vec![reply];
                    let mut shutdown = None;
                    for command in commands.try_iter().take(commands.len()) {
                        match command {
                            Command::Flush(reply) => replies.push(reply),
                            Command::Shutdown(reply) => {
                                shutdown = Some(reply);
                                break;
                            }
                        }
                    }
                    if let Some(shutdown) = shutdown {
                        let result = self.shut_down();
                        for reply in replies {
                            let _ = reply.send(result.clone());
                        }
                        let _ = shutdown.send(result);
                        return;
                    }
                    let result = self.collect_and_export();
                    self.report_losses(false);
                    for reply in replies {
                        let _ = reply.send(result.clone());
                    }
                }
                Ok(Command::Shutdown(reply)) => {
                    let result = self.shut_down();
                    let _ = reply.send(result);
                    return;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// The last collection and export, then the exporter's shutdown
    /// (bounded by the export timeout) and the last loss report: what a
    /// shutdown command does before it is answered.
    fn shut_down(&mut self) -> Result<(), MetricsError> {
        let result = self.collect_and_export();
        let deadline = self.timeout;
        let exporter = &self.exporter;
        // An exporter whose shutdown panics must not take the
        // reader down before it answers.
        let released = catch_unwind(AssertUnwindSafe(|| {
            self.runtime
                .block_on(async { tokio::time::timeout(deadline, exporter.shutdown()).await })
        }));
        if let Err(panic) = released {
            self.counts.note_error(format!(
                "the exporter panicked at shutdown: {}",
                panic_message(panic.as_ref())
            ));
        }
        // Before answering: shutdown returns with every loss told.
        self.report_losses(true);
        result
    }

    /// Tells the process's loss handler of data points that failed or were
    /// rejected since the last report (see [`LossReporter::report`]).
    fn report_losses(&mut self, finishing: bool) {
        let counts = &self.counts;
        let losses = Losses {
            failed: counts.failed.load(Ordering::Acquire),
            rejected: counts.rejected.load(Ordering::Acquire),
            ..Losses::default()
        };
        let last_error = || {
            counts
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        };
        self.losses
            .report(Signal::Metrics, losses, last_error, finishing);
    }

    fn collect_and_export(&mut self) -> Result<(), MetricsError> {
        let metrics = split_large_metrics(self.shared.collect());
        if metrics.is_empty() {
            return Ok(());
        }
        let points: usize = metrics.iter().map(|m| m.data.data_point_count()).sum();
        if !self.counts.produce(points as u64) {
            // A shutdown gave up on this reader: nothing more is sent.
            return Ok(());
        }
        let encoding = self.exporter.encoding();
        let (mut failed, mut rejected) = (0, 0);
        let deadline = deadline_after(self.timeout);
        for chunk in self
            .encoder
            .split(&metrics, self.max_request_bytes, encoding)
        {
            let range = match chunk {
                Chunk::Fits(range) => range,
                Chunk::Oversized(index) => {
                    // Split to MAX_POINTS_PER_REQUEST points already: only a
                    // point of absurd size (attributes of megabytes) is left.
                    let points = metrics[index].data.data_point_count() as u64;
                    self.counts.settle(0, 0, points);
                    failed += points;
                    *self
                        .counts
                        .last_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()) = Some(format!(
                        "metric {} encodes larger than the request size limit",
                        metrics[index].name.as_str()
                    ));
                    continue;
                }
            };
            let settlement = self.export(&metrics[range], encoding, deadline);
            failed += settlement.failed;
            rejected += settlement.rejected;
        }
        if failed > 0 || rejected > 0 {
            return Err(MetricsError::Undelivered { failed, rejected });
        }
        Ok(())
    }

    fn export(&mut self, metrics: &[Metric], encoding: Encoding, deadline: Instant) -> Settlement {
        let points: usize = metrics.iter().map(|m| m.data.data_point_count()).sum();
        self.body.clear();
        self.encoder.encode(encoding, metrics, &mut self.body);
        let request = ExportRequest {
            body: Bytes::copy_from_slice(&self.body),
            encoding,
            span_count: points,
        };
        let counts = &self.counts;
        counts.start_export();
        let send = self.retry.send_until(
            &self.exporter,
            &request,
            self.timeout,
            deadline,
            &counts.retry_cutoff,
            |event| match event {
                SendEvent::Error(message) => counts.note_error(message),
                SendEvent::Retry => {
                    counts.retries.fetch_add(1, Ordering::Relaxed);
                }
            },
        );
        // A shutdown out of time gave up on these points (counted failed):
        // the attempt in progress is dropped (its connection closes) and no
        // retry, nor any later request of this collection, is sent.
        let sent = catch_unwind(AssertUnwindSafe(|| {
            self.runtime.block_on(async {
                tokio::select! {
                    biased;
                    () = counts.given_up() => Settlement {
                        failed: points as u64,
                        ..Settlement::default()
                    },
                    settlement = send => settlement,
                }
            })
        }));
        // An exporter that panics fails its request like a permanent error,
        // as in the span pipeline: unnoticed, the panic ended the reader's
        // thread, its data points stayed in flight for good and nothing
        // was collected again.
        let settlement = sent.unwrap_or_else(|panic| {
            counts.note_error(format!(
                "the exporter panicked: {}",
                panic_message(panic.as_ref())
            ));
            Settlement {
                failed: points as u64,
                ..Settlement::default()
            }
        });
        counts.settle(settlement.exported, settlement.rejected, settlement.failed);
        // After the settlement: an export counted has been settled.
        counts.end_export();
        settlement
    }
}

/// Data points per metric in one request at most: a metric with more is
/// sent as several copies with parts of its points, so that requests can be
/// cut under the size limit.
const MAX_POINTS_PER_REQUEST: usize = 1000;

/// Cuts metrics with more than [`MAX_POINTS_PER_REQUEST`] points into
/// copies holding at most that many each.
fn split_large_metrics(metrics: Vec<Metric>) -> Vec<Metric> {
    if metrics
        .iter()
        .all(|metric| metric.data.data_point_count() <= MAX_POINTS_PER_REQUEST)
    {
        return metrics;
    }
    let mut out = Vec::with_capacity(metrics.len());
    for metric in metrics {
        if metric.data.data_point_count() <= MAX_POINTS_PER_REQUEST {
            out.push(metric);
            continue;
        }
        let Metric {
            name,
            description,
            unit,
            data,
            metadata,
            resource,
            scope,
        } = metric;
        let copy = |data| Metric {
            name: name.clone(),
            description: description.clone(),
            unit: unit.clone(),
            data,
            metadata: metadata.clone(),
            resource: resource.clone(),
            scope: scope.clone(),
        };
        match data {
            MetricData::Gauge(gauge) => {
                for points in chunks(gauge.data_points) {
                    out.push(copy(MetricData::Gauge(Gauge {
                        data_points: points,
                    })));
                }
            }
            MetricData::Sum(sum) => {
                let (temporality, is_monotonic) = (sum.temporality, sum.is_monotonic);
                for points in chunks(sum.data_points) {
                    out.push(copy(MetricData::Sum(Sum {
                        data_points: points,
                        temporality,
                        is_monotonic,
                    })));
                }
            }
            MetricData::Histogram(histogram) => {
                let temporality = histogram.temporality;
                for points in chunks(histogram.data_points) {
                    out.push(copy(MetricData::Histogram(Histogram {
                        data_points: points,
                        temporality,
                    })));
                }
            }
            MetricData::ExponentialHistogram(histogram) => {
                let temporality = histogram.temporality;
                for points in chunks(histogram.data_points) {
                    out.push(copy(MetricData::ExponentialHistogram(
                        ExponentialHistogram {
                            data_points: points,
                            temporality,
                        },
                    )));
                }
            }
            MetricData::Summary(summary) => {
                for points in chunks(summary.data_points) {
                    out.push(copy(MetricData::Summary(Summary {
                        data_points: points,
                    })));
                }
            }
        }
    }
    out
}

fn chunks<T>(mut points: Vec<T>) -> Vec<Vec<T>> {
    let mut parts = Vec::new();
    while points.len() > MAX_POINTS_PER_REQUEST {
        let rest = points.split_off(MAX_POINTS_PER_REQUEST);
        parts.push(std::mem::replace(&mut points, rest));
    }
    parts.push(points);
    parts
}

#[cfg(test)]
mod tests {
    use otlp_core::{NumberDataPoint, Temporality};

    use super::*;

    struct Accept;

    impl Exporter for Accept {
        fn encoding(&self) -> Encoding {
            Encoding::Protobuf
        }

        fn signal(&self) -> Signal {
            Signal::Metrics
        }

        async fn export(&self, _: ExportRequest) -> crate::ExportOutcome {
            crate::ExportOutcome::Success
        }
    }

    thread_local! {
        /// Whether `mark_hooked` ran on this thread.
        static HOOKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    fn mark_hooked() {
        HOOKED.with(|hooked| hooked.set(true));
    }

    /// Notes, at each export, whether `mark_hooked` had run on the thread
    /// that exports.
    struct SeesHook(Arc<Mutex<Vec<bool>>>);

    impl Exporter for SeesHook {
        fn encoding(&self) -> Encoding {
            Encoding::Protobuf
        }

        fn signal(&self) -> Signal {
            Signal::Metrics
        }

        async fn export(&self, _: ExportRequest) -> crate::ExportOutcome {
            let hooked = HOOKED.with(std::cell::Cell::get);
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(hooked);
            crate::ExportOutcome::Success
        }
    }

    /// `own_threads` promises that the order in which pipelines and bridges
    /// are built does not matter: a hook registered after a pipeline thread
    /// started (`opentelemetry`'s suppression, registered by a bridge built
    /// after the meter provider) runs on that thread before it works again.
    /// The reader's thread, which runs the callbacks and polls the exports,
    /// never caught up: the hook never ran there.
    #[test]
    fn a_hook_registered_after_the_reader_started_runs_on_its_thread_before_it_exports() {
        use crate::metrics::MeterProvider;

        let seen = Arc::new(Mutex::new(Vec::new()));
        let reader = PeriodicReader::builder(SeesHook(seen.clone()))
            .with_interval(Duration::from_secs(3600))
            .build()
            .expect("reader");
        let provider = MeterProvider::builder()
            .with_reader(reader)
            .build()
            .expect("provider");
        let counter = provider.meter("m").u64_counter("c").build();
        counter.add(1, &[]);
        // Answered: the reader's thread has started (and entered).
        provider
            .force_flush(Duration::from_secs(30))
            .expect("first flush");
        crate::own_threads::add_hook(mark_hooked);
        counter.add(1, &[]);
        provider
            .force_flush(Duration::from_secs(30))
            .expect("second flush");
        provider
            .shutdown(Duration::from_secs(30))
            .expect("shutdown");
        let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(seen.len() >= 2, "{seen:?}");
        assert!(
            seen[1..].iter().all(|hooked| *hooked),
            "exports after the hook was registered ran where it had not: {seen:?}"
        );
    }

    #[test]
    fn reader_settings_set_in_code_win_over_a_configuration_in_either_order() {
        let mut config = Config::default();
        config.metrics.export_interval = Duration::from_secs(15);
        config.metrics.export_timeout = Duration::ZERO;
        let code_first = PeriodicReader::builder(Accept)
            .with_interval(Duration::from_secs(1))
            .with_config(&config)
            .settings();
        let config_first = PeriodicReader::builder(Accept)
            .with_config(&config)
            .with_interval(Duration::from_secs(1))
            .settings();
        for settings in [code_first, config_first] {
            assert_eq!(settings.interval, Duration::from_secs(1));
            assert_eq!(settings.timeout, NO_TIMEOUT, "the configuration's");
        }
        let defaults = PeriodicReader::builder(Accept).settings();
        assert_eq!(
            (defaults.interval, defaults.timeout),
            (DEFAULT_EXPORT_INTERVAL, DEFAULT_EXPORT_TIMEOUT)
        );
    }

    #[test]
    fn metrics_with_many_points_are_cut_into_copies_of_at_most_the_request_share() {
        let points: Vec<NumberDataPoint> = (0..2500)
            .map(|i| NumberDataPoint::int(vec![otlp_core::KeyValue::new("i", i)], 1, 2, i))
            .collect();
        let big = Metric::new(
            "big",
            MetricData::Sum(Sum {
                data_points: points,
                temporality: Temporality::Delta,
                is_monotonic: true,
            }),
        );
        let small = Metric::new("small", MetricData::Gauge(Gauge::default()));
        let cut = split_large_metrics(vec![big, small]);
        let sizes: Vec<usize> = cut.iter().map(|m| m.data.data_point_count()).collect();
        assert_eq!(sizes, vec![1000, 1000, 500, 0]);
        let MetricData::Sum(last) = &cut[2].data else {
            panic!("a sum")
        };
        assert_eq!(
            (last.temporality, last.is_monotonic),
            (Temporality::Delta, true)
        );
        assert_eq!(last.data_points[0].value, otlp_core::NumberValue::Int(2000));
        assert!(cut[..3].iter().all(|m| m.name.as_str() == "big"));
    }
}
