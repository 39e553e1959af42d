//! [`ExportCore`]: what [`SdkExporter`](super::SdkExporter),
//! [`SdkLogExporter`](super::SdkLogExporter) and
//! [`SdkMetricExporter`](super::SdkMetricExporter) share, once, generic over
//! the signal ([`ExportSignal`]: its records, its encoder, its nouns).
//!
//! Cost model, per batch (a collection, for metrics): the conversion the
//! adapter hands in, one encoding into one buffer under the encoder's lock (a
//! second pass and one buffer per request only when it exceeds the request
//! cap), then one task on the export runtime that sends the requests in turn
//! with retries. Counting is a few relaxed atomic adds, and a lock only to
//! keep the latest error. Each batch's delivery is counted in and out of
//! [`InFlight`] (one uncontended lock each way), which metrics' `force_flush`
//! and shutdown wait on.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use otlp_core::encode::{
    Chunk, Encoding, LogEncoder, MAX_REQUEST_BYTES, MetricEncoder, TraceEncoder,
};
use otlp_core::{LogRecord, Metric, SpanData};
use otlp_sdk::config::Config;
use otlp_sdk::deadline;
use otlp_sdk::{ExportRequest, Exporter, RetryCutoff, RetryPolicy, SendEvent, Signal};
use tokio::runtime::{Handle, Runtime};

use super::BridgeError;

/// The default bound of one batch's export, retries included.
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// What happened to the spans an [`SdkExporter`](super::SdkExporter) was given (the log records
/// an [`SdkLogExporter`](super::SdkLogExporter) was given, the data points of
/// the collections an [`SdkMetricExporter`](super::SdkMetricExporter) was
/// given). Every span received is in exactly one of `exported`,
/// `rejected`, `failed` and `in_flight`, at any moment:
/// `received = exported + rejected + failed + in_flight` in every snapshot.
/// (The SDK's processor in front keeps its own queue and its own drops; these
/// counts start where it hands a batch over.)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SdkExporterStats {
    /// Batches received from the SDK.
    pub batches: u64,
    /// Spans received from the SDK to export (in batches with at least one
    /// span, while the exporter was not shut down and not disabled).
    pub received: u64,
    /// Spans received and not settled yet: being encoded, sent or retried.
    pub in_flight: u64,
    /// Spans the backend accepted.
    pub exported: u64,
    /// Spans the backend rejected in a partial success (not retried).
    pub rejected: u64,
    /// Spans not delivered: permanent errors, retries exhausted, too large, shut down,
    /// or their export task ended first (its runtime shut down, or the transport panicked).
    pub failed: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// The latest error or partial-success message.
    pub last_error: Option<String>,
}

/// How far away "no limit" is: an export timeout of zero (the
/// configuration's `OTEL_METRIC_EXPORT_TIMEOUT=0`) means no deadline, and
/// `Instant` arithmetic needs a finite one. A year outlives any process that
/// still waits; past it, the export gives up as if timed out.
const NO_LIMIT: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// What differs between the exporters of spans, log records and metrics:
/// the records a batch converts to, how they are encoded and counted, and
/// the words their errors use.
pub(super) trait ExportSignal: 'static {
    /// A converted record (`SpanData`, `LogRecord`, `Metric`).
    type Record;
    /// Its batch encoder, reused across batches.
    type Encoder: BatchEncoder<Record = Self::Record>;
    /// The signal the transport must be built for; `None` takes any.
    const SIGNAL: Option<Signal>;
    /// What the counts count, as errors say it: "spans".
    const NOUN: &'static str;
    /// How the oversized error says the count: "spans are each" (larger than the cap).
    const OVERSIZED: &'static str;
    /// Names the export in errors: "export", "log export".
    const EXPORT: &'static str;
    /// A zero export timeout is no limit (otherwise: no time at all).
    const ZERO_TIMEOUT_IS_NO_LIMIT: bool;
    /// Shutdown waits for exports in flight before shutting the transport down.
    const SHUTDOWN_WAITS_FOR_EXPORTS: bool;

    /// What `records` count for (records; data points for metrics).
    fn count(records: &[Self::Record]) -> usize {
        records.len()
    }

    /// What the records of `chunk` count for: what a request of them
    /// delivers, or what an oversized one loses.
    fn count_chunk(_records: &[Self::Record], chunk: &Chunk) -> usize {
        match chunk {
            Chunk::Fits(range) => range.len(),
            Chunk::Oversized(_) => 1,
        }
    }
}

/// What [`TraceEncoder`], [`LogEncoder`] and [`MetricEncoder`] have in
/// common (one implementation in otlp-core, three concrete types).
pub(super) trait BatchEncoder: Send {
    type Record;

    fn new() -> Self;

    fn encode(&mut self, encoding: Encoding, records: &[Self::Record], out: &mut Vec<u8>);

    fn split(
        &mut self,
        records: &[Self::Record],
        max_bytes: usize,
        encoding: Encoding,
    ) -> Vec<Chunk>;
}

macro_rules! batch_encoder {
    ($($encoder:ty => $record:ty),*) => {$(
        impl BatchEncoder for $encoder {
            type Record = $record;

            fn new() -> Self {
                <$encoder>::new()
            }

            fn encode(&mut self, encoding: Encoding, records: &[$record], out: &mut Vec<u8>) {
                <$encoder>::encode(self, encoding, records, out);
            }

            fn split(
                &mut self,
                records: &[$record],
                max_bytes: usize,
                encoding: Encoding,
            ) -> Vec<Chunk> {
                <$encoder>::split(self, records, max_bytes, encoding)
            }
        }
    )*};
}

batch_encoder!(TraceEncoder => SpanData, LogEncoder => LogRecord, MetricEncoder => Metric);

/// A builder's settings before `build`, with their defaults.
pub(super) struct ExportSettings<E> {
    pub(super) exporter: E,
    pub(super) retry: RetryPolicy,
    pub(super) export_timeout: Duration,
    pub(super) max_request_bytes: usize,
    pub(super) runtime: Option<Handle>,
    /// Set by the adapters' `from_config` for a disabled SDK or signal
    /// (`OTEL_SDK_DISABLED=true`, the signal's exporter `none`): every
    /// batch is discarded, nothing sent or counted.
    pub(super) discard: bool,
    /// The settings given in code, which a configuration does not replace.
    in_code: InCode,
}

/// Which of [`ExportSettings`]' settings the builder's own methods gave.
#[derive(Clone, Copy, Debug, Default)]
struct InCode {
    retry: bool,
    export_timeout: bool,
    max_request_bytes: bool,
}

impl<E> ExportSettings<E> {
    /// [`RetryPolicy::default`], [`DEFAULT_EXPORT_TIMEOUT`], the 64 MiB
    /// request cap, an own runtime.
    pub(super) fn new(exporter: E) -> Self {
        ExportSettings {
            exporter,
            retry: RetryPolicy::default(),
            export_timeout: DEFAULT_EXPORT_TIMEOUT,
            max_request_bytes: MAX_REQUEST_BYTES,
            runtime: None,
            discard: false,
            in_code: InCode::default(),
        }
    }

    /// The retry policy given in code: a configuration does not replace it.
    pub(super) fn set_retry(&mut self, retry: RetryPolicy) {
        self.retry = retry;
        self.in_code.retry = true;
    }

    /// The export timeout given in code: a configuration does not replace it.
    pub(super) fn set_export_timeout(&mut self, timeout: Duration) {
        self.export_timeout = timeout;
        self.in_code.export_timeout = true;
    }

    /// The request cap given in code: a configuration does not replace it.
    pub(super) fn set_max_request_bytes(&mut self, bytes: usize) {
        self.max_request_bytes = bytes;
        self.in_code.max_request_bytes = true;
    }

    /// The retry policy and the request cap of `config`, and `export_timeout`
    /// (the signal's own setting), for each of them not given in code: a
    /// setting made in code wins, whichever call came first, as in otlp-sdk's
    /// builders (a loaded `Config` holds every setting, its defaults
    /// included, so it cannot say which it sets).
    pub(super) fn configure(&mut self, config: &Config, export_timeout: Duration) {
        if !self.in_code.retry {
            self.retry = config.retry.clone();
        }
        if !self.in_code.export_timeout {
            self.export_timeout = export_timeout;
        }
        if !self.in_code.max_request_bytes {
            self.max_request_bytes = config.performance.max_request_bytes;
        }
    }

    /// A builder's `Debug`: `extra` fields come after the exporter.
    pub(super) fn fmt(
        &self,
        f: &mut fmt::Formatter<'_>,
        name: &str,
        extra: &[(&str, &dyn fmt::Debug)],
    ) -> fmt::Result {
        let mut debug = f.debug_struct(name);
        debug.field("exporter", &std::any::type_name::<E>());
        for (field, value) in extra {
            debug.field(field, value);
        }
        debug
            .field("retry", &self.retry)
            .field("export_timeout", &self.export_timeout)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("runtime", &self.runtime.as_ref().map(Handle::id))
            .finish()
    }
}

/// One exporter's transport, encoder, counters and runtime, and everything
/// it does with a batch once converted: encode, cut, send with retries,
/// count, answer; and its flush and shutdown.
pub(super) struct ExportCore<S: ExportSignal, E> {
    exporter: Arc<E>,
    encoder: Mutex<S::Encoder>,
    encoding: Encoding,
    retry: RetryPolicy,
    /// The shutdown's cutoff, given to every delivery: no retry starts
    /// after it ([`RetryPolicy::send_until`]).
    retry_cutoff: RetryCutoff,
    pub(super) export_timeout: Duration,
    max_request_bytes: usize,
    counters: Arc<Counters>,
    pub(super) in_flight: Arc<InFlight>,
    shut_down: AtomicBool,
    /// See [`ExportSettings::discard`].
    discard: bool,
    runtime: ExportRuntime,
}

/// A converted and encoded batch, ready to send.
pub(super) struct Prepared<E> {
    total: u64,
    oversized: u64,
    requests: Vec<ExportRequest>,
    delivery: Delivery<E>,
}

impl<S: ExportSignal, E: Exporter> ExportCore<S, E> {
    /// Checks the exporter's signal (if [`ExportSignal::SIGNAL`] names one)
    /// and the retry policy ([`RetryPolicy::validate`]), starts the runtime
    /// (unless one was given) and builds the core.
    pub(super) fn start(settings: ExportSettings<E>) -> Result<Self, BridgeError> {
        if let Some(expected) = S::SIGNAL {
            let found = settings.exporter.signal();
            if found != expected {
                return Err(BridgeError::WrongSignal { expected, found });
            }
        }
        // As the pipelines' builders: a policy without backoff would retry
        // a failing export without a pause until its deadline.
        settings.retry.validate()?;
        super::suppress_on_pipeline_threads();
        let runtime = ExportRuntime::start(settings.runtime)?;
        let encoding = settings.exporter.encoding();
        Ok(ExportCore {
            exporter: Arc::new(settings.exporter),
            encoder: Mutex::new(S::Encoder::new()),
            encoding,
            retry: settings.retry,
            retry_cutoff: RetryCutoff::new(),
            export_timeout: settings.export_timeout,
            max_request_bytes: settings.max_request_bytes.clamp(1, MAX_REQUEST_BYTES),
            counters: Arc::new(Counters::default()),
            in_flight: Arc::new(InFlight::default()),
            shut_down: AtomicBool::new(false),
            discard: settings.discard,
            runtime,
        })
    }

    pub(super) fn exporter(&self) -> &E {
        &self.exporter
    }

    pub(super) fn stats(&self) -> SdkExporterStats {
        self.counters.snapshot()
    }

    /// Encodes a batch: the requests to send, and what could not be sent
    /// because a record alone exceeds the size cap.
    fn encode(&self, records: &[S::Record]) -> (Vec<ExportRequest>, u64) {
        let mut encoder = self.encoder.lock().unwrap_or_else(PoisonError::into_inner);
        let mut body = Vec::new();
        encoder.encode(self.encoding, records, &mut body);
        if body.len() <= self.max_request_bytes {
            return (vec![self.request(body, S::count(records))], 0);
        }
        let mut requests = Vec::new();
        let mut oversized = 0;
        for chunk in encoder.split(records, self.max_request_bytes, self.encoding) {
            let count = S::count_chunk(records, &chunk);
            match chunk {
                Chunk::Fits(range) => {
                    let mut body = Vec::new();
                    encoder.encode(self.encoding, &records[range], &mut body);
                    requests.push(self.request(body, count));
                }
                Chunk::Oversized(_) => oversized += count as u64,
            }
        }
        (requests, oversized)
    }

    fn request(&self, body: Vec<u8>, count: usize) -> ExportRequest {
        ExportRequest {
            body: Bytes::from(body),
            encoding: self.encoding,
            span_count: count,
        }
    }

    /// Everything `export` does before it awaits: refuse after shutdown,
    /// discard when disabled, `convert`, encode, count; the delivery left to
    /// run, if any.
    pub(super) fn prepare(
        &self,
        convert: impl FnOnce() -> Vec<S::Record>,
    ) -> Result<Option<Prepared<E>>, OTelSdkError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        if self.discard {
            return Ok(None);
        }
        let records = convert();
        if records.is_empty() {
            return Ok(None);
        }
        let total = S::count(&records) as u64;
        let counters = &self.counters;
        // Before anything of them settles: a snapshot sees them in flight.
        Counters::add(&counters.received, total);
        let (requests, oversized) = self.encode(&records);
        Counters::add(&counters.batches, 1);
        if oversized > 0 {
            Counters::add(&counters.failed, oversized);
            counters.record_error(format!(
                "{oversized} {} larger than the {} byte request cap: not sent",
                S::OVERSIZED,
                self.max_request_bytes
            ));
        }
        let deadline = if S::ZERO_TIMEOUT_IS_NO_LIMIT {
            deadline_or_no_limit(self.export_timeout)
        } else {
            // Any duration the caller gave, `Duration::MAX` included.
            deadline::deadline_after(self.export_timeout)
        };
        Ok(Some(Prepared {
            total,
            oversized,
            requests,
            delivery: Delivery {
                exporter: Arc::clone(&self.exporter),
                retry: self.retry.clone(),
                retry_cutoff: self.retry_cutoff.clone(),
                deadline,
                counters: Arc::clone(&self.counters),
                unsettled: Unsettled {
                    records: total.saturating_sub(oversized),
                    counters: Arc::clone(&self.counters),
                    noun: S::NOUN,
                },
            },
        }))
    }

    /// Sends a prepared batch on the export runtime and answers as the
    /// exporters document: `Ok` when nothing failed, else
    /// `Err(InternalFailure)` counting the failures and naming the last error.
    pub(super) fn send(
        &self,
        prepared: Result<Option<Prepared<E>>, OTelSdkError>,
    ) -> impl Future<Output = OTelSdkResult> + Send + use<S, E> {
        let handle = self.runtime.handle.clone();
        let counters = Arc::clone(&self.counters);
        let in_flight = Arc::clone(&self.in_flight);
        async move {
            let Some(prepared) = prepared? else {
                return Ok(());
            };
            let guard = InFlight::enter(in_flight);
            let delivery = prepared.delivery.run(prepared.requests);
            // Polled as the pipeline's own work: on a runtime given with
            // `with_runtime` (the application's), what the transport records
            // there reaches no front door.
            let settled = handle
                .spawn(as_pipeline_work(async move {
                    let settled = delivery.await;
                    drop(guard);
                    settled
                }))
                .await
                .map_err(|error| {
                    OTelSdkError::InternalFailure(format!("{} task failed: {error}", S::EXPORT))
                })?;
            let failed = settled.failed + prepared.oversized;
            if failed == 0 {
                return Ok(());
            }
            let last_error = counters.last_error().unwrap_or_default();
            Err(OTelSdkError::InternalFailure(format!(
                "{failed} of {} {} were not exported: {last_error}",
                prepared.total,
                S::NOUN
            )))
        }
    }

    /// Waits for exports in flight (one whose future was dropped keeps
    /// running on the runtime), at most the export timeout (zero: no limit
    /// where [`ExportSignal::ZERO_TIMEOUT_IS_NO_LIMIT`]); `Err(Timeout)` past
    /// it.
    pub(super) fn force_flush(&self) -> OTelSdkResult {
        let timeout = if S::ZERO_TIMEOUT_IS_NO_LIMIT && self.export_timeout.is_zero() {
            NO_LIMIT
        } else {
            self.export_timeout
        };
        if self.in_flight.wait_idle(deadline::deadline_after(timeout)) {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(timeout))
        }
    }

    /// Refuses new exports, waits for those in flight if
    /// [`ExportSignal::SHUTDOWN_WAITS_FOR_EXPORTS`], then shuts the transport
    /// down (ending any export still running), all within `timeout`; then
    /// waits, within it still, for the deliveries so ended to count their
    /// records, so that the stats show none in flight.
    ///
    /// `Ok` once every record is settled, failed ones included (counted in
    /// the stats, as the native pipelines' shutdown counts them); records
    /// still in flight at the deadline (an export not over when a metric
    /// shutdown stops waiting, a delivery that has not counted its records
    /// yet) answer `Err(Timeout)`, as `force_flush` does and as the bridge's
    /// processors answer otlp-sdk's `PipelineError::Timeout`: they may yet
    /// be lost, and a shutdown that said `Ok` would hide it (how many were
    /// in flight is in the stats, `in_flight` or, once counted, `failed`).
    ///
    /// No retry starts after the shutdown's deadline, or, where the
    /// transport's shutdown ends the exports in flight at once, after now: a
    /// delivery waiting for a later one (a server's throttle hint, a long
    /// backoff) fails at once, its cause kept in the last error, rather than
    /// hold the shutdown to its deadline or sleep on past it for an attempt
    /// that cannot be made ([`RetryPolicy::send_until`]).
    ///
    /// The transport's shutdown is polled once on the calling thread (inside
    /// the export runtime, as the pipeline's own work) before any wait: one
    /// that needs no waiting, as ours (a flag, connections let go), is done
    /// then, and the answer is `Ok` even for a zero `timeout` when nothing
    /// was in flight. One that is not finishes on the export runtime, waited
    /// for until the deadline
    /// (`Err(Timeout)` past it; it still runs to its end there).
    pub(super) fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let deadline = deadline::deadline_after(timeout);
        // Whether every export was over by the deadline; one ended below, by
        // the transport's shutdown, was not.
        let mut settled = true;
        if S::SHUTDOWN_WAITS_FOR_EXPORTS {
            self.retry_cutoff.cut_off_at(deadline);
            // Exports in flight finish first (or are ended below, by the transport's shutdown).
            settled = self.in_flight.wait_idle(deadline);
        } else {
            // The transport's shutdown below ends the attempts under way.
            self.retry_cutoff.cut_off_at(Instant::now());
        }
        let exporter = Arc::clone(&self.exporter);
        let mut transport_shutdown = Box::pin(as_pipeline_work(async move {
            exporter.shutdown().await;
        }));
        // Spawned and waited for with what is left of `timeout`, a shutdown
        // that completes at its first poll would still miss a zero timeout
        // (`Timeout(0)` while the transport did shut down, an instant later).
        let done_at_once = {
            let _runtime = self.runtime.handle.enter();
            let mut context = Context::from_waker(Waker::noop());
            transport_shutdown.as_mut().poll(&mut context).is_ready()
        };
        if done_at_once {
            return self.settled_by(deadline, timeout, settled);
        }
        let (done, finished) = mpsc::sync_channel(1);
        self.runtime.handle.spawn(async move {
            transport_shutdown.await;
            let _ = done.send(());
        });
        let left = deadline.saturating_duration_since(Instant::now());
        match finished.recv_timeout(left) {
            Ok(()) => self.settled_by(deadline, timeout, settled),
            Err(RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(timeout)),
            Err(RecvTimeoutError::Disconnected) => Err(OTelSdkError::InternalFailure(format!(
                "the {} runtime stopped before the exporter shut down",
                S::EXPORT
            ))),
        }
    }

    /// The shutdown's answer once the transport is shut down: `Ok` if the
    /// exports were `settled` before it and the deliveries it ended count
    /// their records by `deadline`; `Err(Timeout(timeout))` if records were
    /// still in flight at the deadline.
    fn settled_by(&self, deadline: Instant, timeout: Duration, settled: bool) -> OTelSdkResult {
        // Waits even when not `settled`: the deliveries the transport ended
        // count their records within what is left of the deadline.
        if self.in_flight.wait_idle(deadline) && settled {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(timeout))
        }
    }
}

impl<S: ExportSignal, E> ExportCore<S, E> {
    /// An exporter's `Debug`: `extra` fields come after the encoding.
    pub(super) fn fmt(
        &self,
        f: &mut fmt::Formatter<'_>,
        name: &str,
        extra: &[(&str, &dyn fmt::Debug)],
    ) -> fmt::Result {
        let mut debug = f.debug_struct(name);
        debug
            .field("exporter", &std::any::type_name::<E>())
            .field("encoding", &self.encoding);
        for (field, value) in extra {
            debug.field(field, value);
        }
        debug
            .field("export_timeout", &self.export_timeout)
            .field("retry", &self.retry)
            .field("own_runtime", &self.runtime.owned.is_some())
            .field("stats", &self.counters.snapshot())
            .field("shut_down", &self.shut_down.load(Ordering::Relaxed))
            .finish()
    }
}

/// `future`, polled as the pipeline's own work wherever it runs (the
/// adapter's runtime, or the application's given with `with_runtime`): each
/// poll, and its drop, outside any `tracing` subscriber
/// ([`otlp_sdk::own_threads::as_own_future`]), and each poll in
/// `opentelemetry`'s suppressed context, so that a span the transport starts
/// through the `opentelemetry` API is not recording and reaches no processor
/// (the stock ones included, which do not look at `own_threads`). On the
/// adapter's own threads that context is already the current one.
///
/// Cost: one allocation (the pinned future) and, per poll, a context attached
/// and detached (a thread-local push and pop, a reference count).
fn as_pipeline_work<F: Future>(future: F) -> impl Future<Output = F::Output> {
    use opentelemetry::context::FutureExt as _;

    otlp_sdk::own_threads::as_own_future(
        future.with_context(opentelemetry::Context::new().with_telemetry_suppressed()),
    )
}

/// `now + timeout`, where zero is no limit ([`NO_LIMIT`]).
fn deadline_or_no_limit(timeout: Duration) -> Instant {
    deadline::deadline_after(if timeout.is_zero() { NO_LIMIT } else { timeout })
}

/// The live counters behind [`SdkExporterStats`].
#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    received: AtomicU64,
    exported: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Counters {
    /// Release: a snapshot that sees a record settled (Acquire) sees it
    /// received too, as it was counted received before.
    fn add(counter: &AtomicU64, value: u64) {
        counter.fetch_add(value, Ordering::Release);
    }

    fn record_error(&self, error: impl ToString) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
    }

    fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The settled counts first, then `received`: every record settled
    /// was received before, so `received` read after them covers them and
    /// `in_flight` never goes below zero.
    fn snapshot(&self) -> SdkExporterStats {
        let exported = self.exported.load(Ordering::Acquire);
        let rejected = self.rejected.load(Ordering::Acquire);
        let failed = self.failed.load(Ordering::Acquire);
        let received = self.received.load(Ordering::Acquire);
        SdkExporterStats {
            batches: self.batches.load(Ordering::Relaxed),
            received,
            in_flight: received.saturating_sub(exported + rejected + failed),
            exported,
            rejected,
            failed,
            retries: self.retries.load(Ordering::Relaxed),
            last_error: self.last_error(),
        }
    }
}

/// The runtime exports run on; an owned one is shut down without blocking
/// when the adapter is dropped (dropping a runtime inside another runtime's
/// context would panic).
struct ExportRuntime {
    handle: Handle,
    owned: Option<Runtime>,
}

impl ExportRuntime {
    /// Runs on `handle`, or starts the adapter's own runtime: one worker
    /// thread named `otlp-bridge-export`, one of the pipeline's own threads.
    fn start(handle: Option<Handle>) -> Result<ExportRuntime, BridgeError> {
        Ok(match handle {
            Some(handle) => ExportRuntime {
                handle,
                owned: None,
            },
            None => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("otlp-bridge-export")
                    .on_thread_start(otlp_sdk::own_threads::enter)
                    .on_thread_unpark(otlp_sdk::own_threads::catch_up)
                    .enable_all()
                    .build()
                    .map_err(BridgeError::Runtime)?;
                ExportRuntime {
                    handle: runtime.handle().clone(),
                    owned: Some(runtime),
                }
            }
        })
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.owned.take() {
            runtime.shutdown_background();
        }
    }
}

/// Exports whose delivery is running on the runtime, and a way to wait for none.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    pub(super) running: Mutex<usize>,
    idle: Condvar,
}

/// One running delivery; dropping it (the delivery ended, or the runtime
/// dropped its task) counts it out.
pub(super) struct InFlightGuard(Arc<InFlight>);

impl InFlight {
    pub(super) fn enter(this: Arc<InFlight>) -> InFlightGuard {
        *this.running.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        InFlightGuard(this)
    }

    /// Waits until no delivery runs; `false` if `deadline` came first.
    fn wait_idle(&self, deadline: Instant) -> bool {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        while *running > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            running = self
                .idle
                .wait_timeout(running, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut running = self
            .0
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *running -= 1;
        if *running == 0 {
            self.0.idle.notify_all();
        }
    }
}

/// One batch's requests on their way out, on the export runtime.
struct Delivery<E> {
    exporter: Arc<E>,
    retry: RetryPolicy,
    /// The adapter's: a shutdown calls off a retry that would come after it.
    retry_cutoff: RetryCutoff,
    deadline: Instant,
    counters: Arc<Counters>,
    unsettled: Unsettled,
}

/// The records of a delivery not settled yet. Dropped before they are (the
/// task running the delivery cancelled, its runtime shut down, or the
/// transport panicked, or the export's future dropped before it spawned the
/// task), it counts them as failed, so that every record of a batch still
/// ends in exactly one of [`SdkExporterStats`]' `exported`, `rejected` and
/// `failed`.
struct Unsettled {
    records: u64,
    counters: Arc<Counters>,
    noun: &'static str,
}

impl Drop for Unsettled {
    fn drop(&mut self) {
        if self.records == 0 {
            return;
        }
        Counters::add(&self.counters.failed, self.records);
        self.counters.record_error(format!(
            "{} {} not delivered: their export task ended before they were settled \
             (its runtime shut down, or the transport panicked)",
            self.records, self.noun
        ));
    }
}

/// How a batch's requests ended.
#[derive(Debug, Default)]
struct Settled {
    /// Records (spans, log records or data points) not delivered.
    failed: u64,
}

impl<E: Exporter> Delivery<E> {
    async fn run(mut self, requests: Vec<ExportRequest>) -> Settled {
        let mut settled = Settled::default();
        for request in requests {
            let records = request.span_count as u64;
            settled.failed += self.send_with_retry(request).await;
            self.unsettled.records = self.unsettled.records.saturating_sub(records);
        }
        // Counted request by request: nothing left unless counts disagree.
        self.unsettled.records = 0;
        settled
    }

    /// Sends one request until it is settled (the sdk's one retry loop,
    /// each attempt bounded only by the export deadline, no retry after a
    /// shutdown's cutoff); returns the records that failed.
    async fn send_with_retry(&self, request: ExportRequest) -> u64 {
        let counters = &*self.counters;
        let attempt_timeout = self.deadline.saturating_duration_since(Instant::now());
        let settled = self
            .retry
            .send_until(
                &*self.exporter,
                &request,
                attempt_timeout,
                self.deadline,
                &self.retry_cutoff,
                |event| {
                    if let SendEvent::Error(error) = event {
                        counters.record_error(error);
                    }
                },
            )
            .await;
        Counters::add(&counters.exported, settled.exported);
        Counters::add(&counters.rejected, settled.rejected);
        Counters::add(&counters.failed, settled.failed);
        Counters::add(&counters.retries, settled.retries);
        settled.failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_given_in_code_win_over_a_configuration_given_after_them() {
        // Before: `with_config` replaced them all, so
        // `.with_export_timeout(7 s).with_config(&config)` exported with the
        // configuration's 10 s.
        let mut config = Config::default();
        config.retry.initial_backoff = Duration::from_millis(9);
        config.performance.max_request_bytes = 1_000;
        let mut settings = ExportSettings::new(());
        settings.set_export_timeout(Duration::from_secs(7));
        settings.set_max_request_bytes(2_000);
        settings.configure(&config, Duration::from_secs(10));
        assert_eq!(settings.export_timeout, Duration::from_secs(7));
        assert_eq!(settings.max_request_bytes, 2_000);
        assert_eq!(
            settings.retry.initial_backoff,
            Duration::from_millis(9),
            "not given in code"
        );
        // A later configuration replaces the earlier one's, not the code's.
        settings.configure(&Config::default(), Duration::from_secs(20));
        assert_eq!(settings.export_timeout, Duration::from_secs(7));
        assert_eq!(settings.retry, Config::default().retry);
    }

    #[test]
    fn a_zero_export_timeout_is_no_limit() {
        let deadline = deadline_or_no_limit(Duration::ZERO);
        assert!(deadline > Instant::now() + Duration::from_secs(3600));
    }
}
