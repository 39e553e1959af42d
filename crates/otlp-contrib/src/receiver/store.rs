//! What arrived: decoded requests, counters and the waits on them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::Span;

use super::faults::Fault;

/// The transport a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// OTLP/gRPC (`TraceService/Export`, `LogsService/Export`, `MetricsService/Export`).
    Grpc,
    /// OTLP/HTTP (`POST /v1/traces`, `POST /v1/logs`, `POST /v1/metrics`).
    Http,
}

/// The OTLP signal of a request: which export method or path it came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// `ExportTraceServiceRequest`: gRPC `TraceService/Export`, HTTP `/v1/traces`.
    Traces,
    /// `ExportLogsServiceRequest`: gRPC `LogsService/Export`, HTTP `/v1/logs`.
    Logs,
    /// `ExportMetricsServiceRequest`: gRPC `MetricsService/Export`, HTTP `/v1/metrics`.
    Metrics,
}

impl Signal {
    /// Every signal, in the order of [`index`](Self::index).
    pub(crate) const ALL: [Signal; 3] = [Signal::Traces, Signal::Logs, Signal::Metrics];

    /// The position of the signal in [`ALL`](Self::ALL), for per-signal arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Signal::Traces => 0,
            Signal::Logs => 1,
            Signal::Metrics => 2,
        }
    }

    /// The OTLP/HTTP path: `/v1/traces`, `/v1/logs` or `/v1/metrics`.
    pub(crate) fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Logs => "/v1/logs",
            Signal::Metrics => "/v1/metrics",
        }
    }

    /// The gRPC path of the signal's export method.
    pub(crate) fn grpc_path(self) -> &'static str {
        match self {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        }
    }
}

impl std::fmt::Display for Signal {
    /// `traces`, `logs` or `metrics`, as in the HTTP path.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signal::Traces => "traces",
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
        })
    }
}

/// How the receiver answered a request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// Success (possibly after a [`Fault::Delay`]).
    Ok,
    /// Success with `partial_success` ([`Fault::PartialSuccess`]).
    Partial {
        /// `rejected_spans` (`rejected_log_records`, `rejected_data_points`) sent back.
        rejected: i64,
        /// `error_message` sent back.
        message: String,
    },
    /// An error fault, or [`Fault::Hang`] (no answer at all).
    Fault(Fault),
}

impl std::fmt::Display for Answer {
    /// `ok`, `partial rejected=N message="…"` or `fault <Fault as Debug>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Ok => f.write_str("ok"),
            Answer::Partial { rejected, message } => {
                write!(f, "partial rejected={rejected} message={message:?}")
            }
            Answer::Fault(fault) => write!(f, "fault {fault:?}"),
        }
    }
}

impl Answer {
    /// Whether the request counts as accepted (OK or partial success).
    pub fn is_accepted(&self) -> bool {
        matches!(self, Answer::Ok | Answer::Partial { .. })
    }
}

/// One decoded export request and how it was answered.
///
/// A trace request fills `request` and `span_count`, a log request `logs`
/// and `log_record_count`, a metrics request `metrics` and
/// `data_point_count`; the other fields of the kind stay empty (default).
/// `signal` says which.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedRequest {
    /// gRPC or HTTP.
    pub transport: Transport,
    /// Traces, logs or metrics.
    pub signal: Signal,
    /// The trace request, decoded with `opentelemetry-proto` (from protobuf or
    /// OTLP/JSON); empty unless `signal` is [`Signal::Traces`].
    pub request: ExportTraceServiceRequest,
    /// The log request, decoded with `opentelemetry-proto`; empty unless
    /// `signal` is [`Signal::Logs`].
    pub logs: ExportLogsServiceRequest,
    /// The metrics request, decoded with `opentelemetry-proto`; empty unless
    /// `signal` is [`Signal::Metrics`].
    pub metrics: ExportMetricsServiceRequest,
    /// HTTP `Content-Type` as sent (`application/grpc...` for gRPC).
    pub content_type: Option<String>,
    /// HTTP `Content-Encoding`, or gRPC `grpc-encoding`, as sent.
    pub content_encoding: Option<String>,
    /// HTTP headers or gRPC metadata; names are lowercase, values lossy UTF-8.
    pub headers: Vec<(String, String)>,
    /// How the receiver answered.
    pub answered: Answer,
    /// Spans in `request` (0 for the other signals).
    pub span_count: u64,
    /// Log records in `logs` (0 for the other signals).
    pub log_record_count: u64,
    /// Data points in `metrics`, over every metric shape (0 for the other signals).
    pub data_point_count: u64,
}

impl ReceivedRequest {
    /// The first value of a header (or gRPC metadata entry); `name` is lowercase.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The spans of the request, in order.
    pub fn spans(&self) -> impl Iterator<Item = &Span> {
        self.request
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .flat_map(|scope| &scope.spans)
    }

    /// The log records of the request, in order (none for the other signals).
    pub fn log_records(&self) -> impl Iterator<Item = &LogRecord> {
        self.logs
            .resource_logs
            .iter()
            .flat_map(|resource| &resource.scope_logs)
            .flat_map(|scope| &scope.log_records)
    }

    /// The metrics of the request, each with its data points, in order (none
    /// for the other signals).
    pub fn metric_list(&self) -> impl Iterator<Item = &Metric> {
        self.metrics
            .resource_metrics
            .iter()
            .flat_map(|resource| &resource.scope_metrics)
            .flat_map(|scope| &scope.metrics)
    }
}

/// Counters of a receiver, read with [`Receiver::stats`](super::Receiver::stats).
///
/// Counted in every [`Store`](super::Store) mode. Each request is counted once
/// when it arrives and settled exactly once, so `requests` equals the sum of
/// `accepted_requests`, `faulted_requests`, `bad_requests`,
/// `abandoned_requests` and `timed_out_requests`, plus the requests still in
/// progress. Request counters cover every signal; spans, log records and
/// data points are counted apart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiverStats {
    /// Every request received on either transport, of any signal, whatever its answer.
    pub requests: u64,
    /// Requests answered OK or with partial success.
    pub accepted_requests: u64,
    /// Spans in accepted requests (rejected spans of a partial success included:
    /// they arrived).
    pub accepted_spans: u64,
    /// Log records in accepted requests (rejected ones of a partial success included).
    pub accepted_log_records: u64,
    /// Metric data points in accepted requests, over every metric shape
    /// (rejected ones of a partial success included).
    pub accepted_data_points: u64,
    /// Requests answered with an error fault or left hanging.
    pub faulted_requests: u64,
    /// Spans in faulted requests.
    pub faulted_spans: u64,
    /// Log records in faulted requests.
    pub faulted_log_records: u64,
    /// Metric data points in faulted requests.
    pub faulted_data_points: u64,
    /// Requests refused as bad input: undecodable, oversized, wrong content
    /// type or encoding, wrong path or method.
    pub bad_requests: u64,
    /// Requests the client gave up on (connection closed or stream reset)
    /// before they were answered or refused, while its body was still
    /// arriving included, and requests in hand when the receiver closed
    /// their connection itself ([`Receiver::refuse_connections_for`](super::Receiver::refuse_connections_for));
    /// their spans were not recorded.
    pub abandoned_requests: u64,
    /// Requests whose time ([`ReceiverConfig::request_timeout`](super::ReceiverConfig::request_timeout),
    /// from the end of their head) ran out before they were answered or
    /// refused: their body still arriving, or their answer not decided yet.
    /// Their spans, log records and data points were not recorded.
    pub timed_out_requests: u64,
}

/// Shared collection state: atomics for the counters (lock-free on the count-only
/// path), one mutex for the kept requests, a condvar for blocking waits and a
/// watch channel (a change counter) for async waits.
pub(crate) struct Collected {
    requests: AtomicU64,
    accepted_requests: AtomicU64,
    /// Spans, log records, data points of accepted requests, by [`Signal::index`].
    accepted_items: [AtomicU64; 3],
    faulted_requests: AtomicU64,
    /// The same, of faulted requests.
    faulted_items: [AtomicU64; 3],
    bad_requests: AtomicU64,
    abandoned_requests: AtomicU64,
    timed_out_requests: AtomicU64,
    kept: Mutex<Vec<ReceivedRequest>>,
    waiters: AtomicUsize,
    progress: Mutex<()>,
    progressed: Condvar,
    changes: tokio::sync::watch::Sender<u64>,
}

impl Default for Collected {
    fn default() -> Self {
        Collected {
            requests: AtomicU64::new(0),
            accepted_requests: AtomicU64::new(0),
            accepted_items: Default::default(),
            faulted_requests: AtomicU64::new(0),
            faulted_items: Default::default(),
            bad_requests: AtomicU64::new(0),
            abandoned_requests: AtomicU64::new(0),
            timed_out_requests: AtomicU64::new(0),
            kept: Mutex::new(Vec::new()),
            waiters: AtomicUsize::new(0),
            progress: Mutex::new(()),
            progressed: Condvar::new(),
            changes: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl std::fmt::Debug for Collected {
    /// Counters and the number of kept requests, not their contents.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collected")
            .field("stats", &self.stats())
            .field("kept_requests", &lock(&self.kept).len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Poisoning only records a panic elsewhere; the data stays consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Collected {
    pub(crate) fn note_request(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.changed();
    }

    pub(crate) fn note_bad_request(&self) {
        self.bad_requests.fetch_add(1, Ordering::SeqCst);
        self.changed();
    }

    pub(crate) fn note_abandoned_request(&self) {
        self.abandoned_requests.fetch_add(1, Ordering::SeqCst);
        self.changed();
    }

    pub(crate) fn note_timed_out_request(&self) {
        self.timed_out_requests.fetch_add(1, Ordering::SeqCst);
        self.changed();
    }

    /// Wakes the waiters after a counter changed.
    fn changed(&self) {
        self.changes
            .send_modify(|version| *version = version.wrapping_add(1));
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _guard = lock(&self.progress);
            self.progressed.notify_all();
        }
    }

    /// Counts an answered request of `signal` holding `items` spans, log
    /// records or data points, and keeps it if `keep` is given.
    pub(crate) fn note_answer(
        &self,
        accepted: bool,
        signal: Signal,
        items: u64,
        keep: Option<ReceivedRequest>,
    ) {
        if let Some(request) = keep {
            lock(&self.kept).push(request);
        }
        let (requests, counters) = if accepted {
            (&self.accepted_requests, &self.accepted_items)
        } else {
            (&self.faulted_requests, &self.faulted_items)
        };
        requests.fetch_add(1, Ordering::SeqCst);
        counters[signal.index()].fetch_add(items, Ordering::SeqCst);
        self.changed();
    }

    pub(crate) fn stats(&self) -> ReceiverStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::SeqCst);
        let [accepted_spans, accepted_log_records, accepted_data_points] =
            self.accepted_items.each_ref().map(load);
        let [faulted_spans, faulted_log_records, faulted_data_points] =
            self.faulted_items.each_ref().map(load);
        ReceiverStats {
            requests: self.requests.load(Ordering::SeqCst),
            accepted_requests: self.accepted_requests.load(Ordering::SeqCst),
            accepted_spans,
            accepted_log_records,
            accepted_data_points,
            faulted_requests: self.faulted_requests.load(Ordering::SeqCst),
            faulted_spans,
            faulted_log_records,
            faulted_data_points,
            bad_requests: self.bad_requests.load(Ordering::SeqCst),
            abandoned_requests: self.abandoned_requests.load(Ordering::SeqCst),
            timed_out_requests: self.timed_out_requests.load(Ordering::SeqCst),
        }
    }

    /// Spans, log records or data points of accepted requests of `signal`.
    pub(crate) fn accepted_items(&self, signal: Signal) -> u64 {
        self.accepted_items[signal.index()].load(Ordering::SeqCst)
    }

    pub(crate) fn requests(&self) -> Vec<ReceivedRequest> {
        lock(&self.kept).clone()
    }

    pub(crate) fn with_requests<R>(&self, read: impl FnOnce(&[ReceivedRequest]) -> R) -> R {
        read(&lock(&self.kept))
    }

    pub(crate) fn take_requests(&self) -> Vec<ReceivedRequest> {
        std::mem::take(&mut *lock(&self.kept))
    }

    /// Blocks until `condition` holds or `timeout` passed.
    pub(crate) fn wait_until(
        &self,
        timeout: Duration,
        condition: impl Fn(&ReceiverStats) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let mut guard = lock(&self.progress);
        let reached = loop {
            if condition(&self.stats()) {
                break true;
            }
            let now = Instant::now();
            if now >= deadline {
                break false;
            }
            guard = match self.progressed.wait_timeout(guard, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        };
        drop(guard);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        reached
    }

    /// Waits without blocking a thread; needs a tokio runtime with timers.
    pub(crate) async fn wait_until_async(
        &self,
        timeout: Duration,
        condition: impl Fn(&ReceiverStats) -> bool,
    ) -> bool {
        let mut changes = self.changes.subscribe();
        let wait = async {
            loop {
                if condition(&self.stats()) {
                    return;
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
        condition(&self.stats())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn blocking_wait_wakes_up_on_accepted_spans() {
        let collected = Arc::new(Collected::default());
        let writer = Arc::clone(&collected);
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            writer.note_answer(true, Signal::Traces, 3, None);
        });
        assert!(collected.wait_until(Duration::from_secs(10), |stats| stats.accepted_spans >= 3));
        assert!(
            !collected.wait_until(Duration::from_millis(10), |stats| stats.accepted_spans >= 4)
        );
        thread.join().ok();
        assert_eq!(collected.stats().accepted_requests, 1);
    }

    #[test]
    fn faulted_requests_are_not_accepted() {
        let collected = Collected::default();
        collected.note_request();
        collected.note_answer(false, Signal::Traces, 5, None);
        let stats = collected.stats();
        assert_eq!(
            (stats.requests, stats.faulted_requests, stats.faulted_spans),
            (1, 1, 5)
        );
        assert_eq!(stats.accepted_spans, 0);
    }

    #[test]
    fn spans_log_records_and_data_points_are_counted_apart() {
        let collected = Collected::default();
        collected.note_answer(true, Signal::Traces, 2, None);
        collected.note_answer(true, Signal::Logs, 7, None);
        collected.note_answer(false, Signal::Logs, 3, None);
        collected.note_answer(true, Signal::Metrics, 11, None);
        collected.note_answer(false, Signal::Metrics, 5, None);
        let stats = collected.stats();
        assert_eq!(
            (
                stats.accepted_spans,
                stats.accepted_log_records,
                stats.accepted_data_points
            ),
            (2, 7, 11)
        );
        assert_eq!(
            (
                stats.faulted_spans,
                stats.faulted_log_records,
                stats.faulted_data_points
            ),
            (0, 3, 5)
        );
        assert_eq!((stats.accepted_requests, stats.faulted_requests), (3, 2));
        assert_eq!(collected.accepted_items(Signal::Metrics), 11);
    }

    #[test]
    fn signals_index_their_arrays_and_name_their_paths() {
        for (index, signal) in Signal::ALL.into_iter().enumerate() {
            assert_eq!(signal.index(), index);
            assert_eq!(signal.http_path(), format!("/v1/{signal}"));
            assert!(signal.grpc_path().ends_with("Service/Export"), "{signal}");
        }
    }
}
