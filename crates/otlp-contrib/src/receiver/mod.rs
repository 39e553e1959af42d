//! An embeddable OTLP receiver of traces, logs and metrics for tests,
//! examples, benchmarks and local debugging.
//!
//! [`Receiver::start`] binds OTLP/gRPC and OTLP/HTTP listeners (free loopback
//! ports by default) on its own threads and tokio runtimes (one thread
//! listens, [`ReceiverConfig::worker_threads`] serve connections, each
//! connection on one of them), so it works the same from synchronous code,
//! `#[test]` and `#[tokio::test]`. It accepts what a
//! collector accepts:
//!
//! - gRPC `TraceService/Export`, `LogsService/Export` and
//!   `MetricsService/Export` with `grpc-encoding` gzip or zstd;
//! - HTTP `POST /v1/traces`, `POST /v1/logs` and `POST /v1/metrics` with
//!   `application/x-protobuf` or `application/json` (OTLP/JSON: proto3's
//!   JSON mapping with hex ids, case-insensitive; integers as numbers or
//!   strings, in exponent or zero-fraction form too (`"1e3"`, `3.0`); a `double` as a number, a decimal string or `"NaN"`,
//!   `"Infinity"`, `"-Infinity"`; `bytesValue` as base64, standard or
//!   URL-safe, padded or not; unknown keys ignored) bodies,
//!   `Content-Encoding` gzip or zstd, HTTP/1.1 keep-alive or HTTP/2;
//! - optionally over TLS, with client certificates required (mTLS).
//!
//! Every request is decoded with `opentelemetry-proto` and kept, unless the
//! [`Store`] mode says otherwise ([`Store::CountOnly`] counts spans, log
//! records and data points straight from the protobuf, for benchmarks).
//! Spans, log records and metric data points are counted apart
//! ([`span_count`](Receiver::span_count),
//! [`log_record_count`](Receiver::log_record_count),
//! [`data_point_count`](Receiver::data_point_count)); each
//! [`ReceivedRequest`] says its [`Signal`]. Bad input gets the protocol's answer —
//! HTTP 400/404/405/413/415 with a `google.rpc.Status` body, gRPC
//! `INVALID_ARGUMENT`, or `RESOURCE_EXHAUSTED` without `RetryInfo` over the
//! cap (all permanent for an OTLP client) — and never a panic; bodies are
//! capped before and after decompression (a zstd frame's window too), and what a protobuf body would
//! take decoded at 32 times the cap
//! ([`ReceiverConfig::max_request_bytes`]). Bad data includes ids of the
//! wrong length and a span's all-zero span or trace id (which trace.proto
//! calls invalid); a link's ids may be all zeroes (the trace API records
//! links to an invalid context that carry attributes), a log record's or
//! exemplar's optional ids empty or all zeroes.
//!
//! Where the Collector reads more OTLP/JSON than the OTLP specification
//! allows, this receiver holds to the specification, so that an exporter's
//! mistake shows here: an enum given by name (`"kind":"SPAN_KIND_SERVER"`,
//! which the specification says MUST NOT be used) is bad data, and a key in
//! the original snake_case (`"trace_id"`, "not valid to use as keys") is an
//! unknown field, ignored as the specification says unknown fields are.
//!
//! A script of [`Fault`]s, played one per request, makes it misbehave like a
//! real backend: error codes, throttling with `RetryInfo` / `Retry-After`,
//! partial success, delays, hanging requests; [`Receiver::refuse_connections_for`]
//! takes it off the network for a while. The three signals share one
//! script: each request of any signal takes the next fault.
//!
//! ```
//! use std::time::Duration;
//! use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig};
//!
//! let receiver = Receiver::start(ReceiverConfig::default())?;
//! let endpoint = receiver.http_endpoint().expect("HTTP is on by default");
//! assert!(endpoint.starts_with("http://127.0.0.1:"));
//!
//! // The first export is throttled, the second accepted.
//! receiver.push_faults([Fault::Throttle(Duration::from_secs(1))]);
//! // ... point an exporter at `endpoint` (traces go to `{endpoint}/v1/traces`) ...
//! assert!(!receiver.wait_for_spans(1, Duration::from_millis(10)));
//! assert_eq!(receiver.request_count(), 0);
//! // Logs go to `{endpoint}/v1/logs`, or gRPC `LogsService/Export`.
//! assert_eq!(receiver.http_logs_url(), Some(format!("{endpoint}/v1/logs")));
//! assert_eq!(receiver.log_record_count(), 0);
//! // Metrics go to `{endpoint}/v1/metrics`, or gRPC `MetricsService/Export`.
//! assert_eq!(receiver.http_metrics_url(), Some(format!("{endpoint}/v1/metrics")));
//! assert!(!receiver.wait_for_data_points(1, Duration::from_millis(10)));
//! receiver.shutdown();
//! # Ok::<(), otlp_contrib::receiver::ReceiverError>(())
//! ```

mod body;
#[cfg(feature = "test-certs")]
mod certs;
mod config;
mod decode;
mod decoded_size;
mod error;
mod export_request;
mod faults;
mod grpc;
mod http;
mod json_doubles;
mod listener;
mod log_lines;
mod metric_lines;
mod render_limits;
mod request_cut;
mod shared;
mod store;
mod tls;
mod tree;
mod workers;
mod zstd_window;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::Span;
use tokio::sync::{mpsc, oneshot};

#[cfg(feature = "test-certs")]
pub use certs::TestCertificates;
pub use config::{
    DEFAULT_MAX_REQUEST_BYTES, DEFAULT_REQUEST_HEAD_TIMEOUT, DEFAULT_REQUEST_TIMEOUT,
    MAX_CONCURRENT_STREAMS, MAX_WORKER_THREADS, ReceiverConfig, ReceiverTls, RequestObserver,
    Store,
};
pub use error::ReceiverError;
pub use faults::Fault;
pub use grpc::ReceiverService;
pub use log_lines::render_logs;
pub use metric_lines::render_metrics;
pub use store::{Answer, ReceivedRequest, ReceiverStats, Signal, Transport};
pub use tree::render_traces;

use listener::ListenerCommand;
use shared::Shared;

/// How long [`Receiver::refuse_connections_for`] waits for the listeners to close.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for connection tasks before dropping them.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// A running OTLP receiver of traces, logs and metrics. See the [module docs](self).
///
/// The receiver runs on its own threads with their own tokio runtimes
/// ([`ReceiverConfig::worker_threads`]); this handle controls it and reads
/// what it collected. All methods are synchronous and cheap except the ones
/// that copy collected requests. The receiver stops on [`shutdown`](Self::shutdown)
/// or when the handle is dropped; the collected data stays readable after
/// shutdown.
pub struct Receiver {
    shared: Arc<Shared>,
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    tls: bool,
    listeners: Vec<mpsc::UnboundedSender<ListenerCommand>>,
    runtime: Mutex<Option<RuntimeThread>>,
}

#[derive(Debug)]
struct RuntimeThread {
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

/// What the runtime thread reports once its listeners are bound.
struct Started {
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    listeners: Vec<mpsc::UnboundedSender<ListenerCommand>>,
}

impl Receiver {
    /// Starts a receiver: validates the configuration, binds the listeners
    /// and returns once they accept connections.
    ///
    /// Blocks the calling thread for the few milliseconds this takes (fine
    /// inside an async test too: the runtime is a separate one).
    pub fn start(config: ReceiverConfig) -> Result<Receiver, ReceiverError> {
        config.validate()?;
        let (grpc_tls, http_tls) = match &config.tls {
            Some(tls_config) => (
                Some(tls::server_config(tls_config, tls::ALPN_GRPC)?),
                Some(tls::server_config(tls_config, tls::ALPN_HTTP)?),
            ),
            None => (None, None),
        };
        let shared = Shared::new(&config);
        // Listening and control run on the receiver's thread; connections on
        // the workers (see `workers` for why each keeps its connections). The
        // server's own telemetry (hyper, h2, tonic) is never recorded on any
        // of them: an embedded receiver must not feed the program's pipeline.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .on_thread_unpark(otlp_sdk::own_threads::catch_up)
            .enable_all()
            .build()
            .map_err(ReceiverError::Runtime)?;
        let workers =
            workers::Workers::start(config.worker_threads).map_err(ReceiverError::Runtime)?;
        let pool = workers.pool();

        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread_shared = Arc::clone(&shared);
        let (grpc, http) = (config.grpc, config.http);
        let timeouts = listener::Timeouts {
            request_head: config.request_head_timeout,
            request: config.request_timeout,
        };
        let thread = std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                otlp_sdk::own_threads::enter();
                let started = runtime.block_on(async {
                    let mut started = Started {
                        grpc_addr: None,
                        http_addr: None,
                        listeners: Vec::new(),
                    };
                    if let Some(addr) = grpc {
                        let socket = bind("grpc", addr)?;
                        started.grpc_addr = socket.local_addr().ok();
                        let shared = Arc::clone(&thread_shared);
                        let service = hyper::service::service_fn(move |request| {
                            grpc::serve(Arc::clone(&shared), request)
                        });
                        let (tx, rx) = mpsc::unbounded_channel();
                        tokio::spawn(listener::run(
                            socket,
                            grpc_tls,
                            timeouts,
                            service,
                            pool.clone(),
                            rx,
                        ));
                        started.listeners.push(tx);
                    }
                    if let Some(addr) = http {
                        let socket = bind("http", addr)?;
                        started.http_addr = socket.local_addr().ok();
                        let shared = Arc::clone(&thread_shared);
                        let service = hyper::service::service_fn(move |request| {
                            http::serve(Arc::clone(&shared), request)
                        });
                        let (tx, rx) = mpsc::unbounded_channel();
                        tokio::spawn(listener::run(socket, http_tls, timeouts, service, pool, rx));
                        started.listeners.push(tx);
                    }
                    Ok::<_, ReceiverError>(started)
                });
                let ok = started.is_ok();
                let _ = started_tx.send(started);
                if ok {
                    runtime.block_on(async {
                        let _ = stop_rx.await;
                    });
                }
                // Dropping the listeners aborts their connections; the
                // workers then drop what is left.
                runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
                workers.shutdown();
            })
            .map_err(ReceiverError::Runtime)?;
        let started = match started_rx.recv() {
            Ok(started) => started,
            Err(_) => {
                let _ = thread.join();
                return Err(ReceiverError::Runtime(std::io::Error::other(
                    "the receiver thread died while starting",
                )));
            }
        };
        let started = match started {
            Ok(started) => started,
            Err(error) => {
                let _ = thread.join();
                return Err(error);
            }
        };
        Ok(Receiver {
            shared,
            grpc_addr: started.grpc_addr,
            http_addr: started.http_addr,
            tls: config.tls.is_some(),
            listeners: started.listeners,
            runtime: Mutex::new(Some(RuntimeThread {
                stop: stop_tx,
                thread,
            })),
        })
    }

    /// The bound gRPC address (the real port when `:0` was asked for).
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// `http://IP:PORT` (`https://` with TLS) for a gRPC exporter. An
    /// unspecified bind address (`0.0.0.0`, `::`) is given as loopback.
    pub fn grpc_endpoint(&self) -> Option<String> {
        self.grpc_addr.map(|addr| self.endpoint(addr))
    }

    /// `http://IP:PORT` (`https://` with TLS), the base URL of OTLP/HTTP;
    /// traces go to [`http_traces_url`](Self::http_traces_url), logs to
    /// [`http_logs_url`](Self::http_logs_url), metrics to
    /// [`http_metrics_url`](Self::http_metrics_url).
    pub fn http_endpoint(&self) -> Option<String> {
        self.http_addr.map(|addr| self.endpoint(addr))
    }

    /// `http://IP:PORT/v1/traces` (`https://` with TLS).
    pub fn http_traces_url(&self) -> Option<String> {
        self.http_url(Signal::Traces)
    }

    /// `http://IP:PORT/v1/logs` (`https://` with TLS).
    pub fn http_logs_url(&self) -> Option<String> {
        self.http_url(Signal::Logs)
    }

    /// `http://IP:PORT/v1/metrics` (`https://` with TLS).
    pub fn http_metrics_url(&self) -> Option<String> {
        self.http_url(Signal::Metrics)
    }

    fn http_url(&self, signal: Signal) -> Option<String> {
        self.http_endpoint()
            .map(|base| format!("{base}{}", signal.http_path()))
    }

    fn endpoint(&self, addr: SocketAddr) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        let mut addr = addr;
        match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => addr.set_ip(Ipv4Addr::LOCALHOST.into()),
            IpAddr::V6(ip) if ip.is_unspecified() => addr.set_ip(Ipv6Addr::LOCALHOST.into()),
            _ => {}
        }
        format!("{scheme}://{addr}")
    }

    /// Appends faults to the script: each of the next requests (on either
    /// transport, of any signal, in arrival order) gets one. Requests refused as bad input
    /// do not consume a fault. After the script, requests succeed (or get the
    /// [fallback fault](Self::set_fallback_fault)).
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.faults.push(faults);
    }

    /// Sets the fault for every request once the script is empty (`None`:
    /// succeed), e.g. `Some(Fault::Unavailable)` for a backend that stays down.
    pub fn set_fallback_fault(&self, fault: Option<Fault>) {
        self.shared.faults.set_fallback(fault);
    }

    /// Empties the script and removes the fallback fault.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Faults left in the script.
    pub fn pending_faults(&self) -> usize {
        self.shared.faults.pending()
    }

    /// Closes both listeners and every open connection, and binds the same
    /// ports again after `duration`. Clients see connection errors
    /// (`ECONNREFUSED` for new connections, a reset on open ones) meanwhile.
    /// A request in hand on a closed connection gets no answer and is counted
    /// abandoned, not accepted, even when its handler was already decoding it:
    /// its client sends it again. Returns once the listeners are closed;
    /// calling it again while refusing extends the window.
    pub fn refuse_connections_for(&self, duration: Duration) {
        let until = Instant::now() + duration;
        let acks: Vec<_> = self
            .listeners
            .iter()
            .filter_map(|listener| {
                let (ack, acked) = std::sync::mpsc::channel();
                listener
                    .send(ListenerCommand::Refuse { until, ack })
                    .ok()
                    .map(|()| acked)
            })
            .collect();
        for acked in acks {
            let _ = acked.recv_timeout(CONTROL_TIMEOUT);
        }
    }

    /// A copy of every decoded request of any signal, in arrival order,
    /// whatever its answer (only kept in [`Store::All`] mode).
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.shared.collected.requests()
    }

    /// Removes and returns the kept requests (counters are not reset).
    pub fn take_requests(&self) -> Vec<ReceivedRequest> {
        self.shared.collected.take_requests()
    }

    /// The trace requests answered OK or with partial success.
    pub fn accepted_requests(&self) -> Vec<ExportTraceServiceRequest> {
        self.accepted(Signal::Traces, |received| received.request.clone())
    }

    /// The spans of accepted requests, in arrival order.
    pub fn accepted_spans(&self) -> Vec<Span> {
        self.shared.collected.with_requests(|requests| {
            requests
                .iter()
                .filter(|received| received.answered.is_accepted())
                .flat_map(ReceivedRequest::spans)
                .cloned()
                .collect()
        })
    }

    /// Spans in accepted requests (counted in every [`Store`] mode).
    pub fn span_count(&self) -> u64 {
        self.shared.collected.accepted_items(Signal::Traces)
    }

    /// The log requests answered OK or with partial success, with their
    /// resources and scopes.
    pub fn accepted_log_requests(&self) -> Vec<ExportLogsServiceRequest> {
        self.accepted(Signal::Logs, |received| received.logs.clone())
    }

    /// The log records of accepted requests, in arrival order.
    pub fn accepted_logs(&self) -> Vec<LogRecord> {
        self.shared.collected.with_requests(|requests| {
            requests
                .iter()
                .filter(|received| received.answered.is_accepted())
                .flat_map(ReceivedRequest::log_records)
                .cloned()
                .collect()
        })
    }

    /// Log records in accepted requests (counted in every [`Store`] mode).
    pub fn log_record_count(&self) -> u64 {
        self.shared.collected.accepted_items(Signal::Logs)
    }

    /// The metrics requests answered OK or with partial success, with their
    /// resources and scopes.
    pub fn accepted_metric_requests(&self) -> Vec<ExportMetricsServiceRequest> {
        self.accepted(Signal::Metrics, |received| received.metrics.clone())
    }

    /// The metrics of accepted requests, each with its data points, in
    /// arrival order. One instrument exported twice appears twice.
    pub fn accepted_metrics(&self) -> Vec<Metric> {
        self.shared.collected.with_requests(|requests| {
            requests
                .iter()
                .filter(|received| received.answered.is_accepted())
                .flat_map(ReceivedRequest::metric_list)
                .cloned()
                .collect()
        })
    }

    /// Metric data points in accepted requests, over every metric shape
    /// (gauge, sum, histogram, exponential histogram, summary); counted in
    /// every [`Store`] mode.
    pub fn data_point_count(&self) -> u64 {
        self.shared.collected.accepted_items(Signal::Metrics)
    }

    /// `read` applied to each kept accepted request of `signal`, in arrival order.
    fn accepted<T>(&self, signal: Signal, read: impl Fn(&ReceivedRequest) -> T) -> Vec<T> {
        self.shared.collected.with_requests(|requests| {
            requests
                .iter()
                .filter(|received| received.signal == signal && received.answered.is_accepted())
                .map(read)
                .collect()
        })
    }

    /// Every request received, bad and faulted ones included.
    pub fn request_count(&self) -> u64 {
        self.shared.collected.stats().requests
    }

    /// All counters at once.
    pub fn stats(&self) -> ReceiverStats {
        self.shared.collected.stats()
    }

    /// Blocks until at least `n` spans were accepted; `false` on timeout.
    ///
    /// This blocks the calling thread: in a `#[tokio::test]` on a
    /// current-thread runtime whose tasks feed the receiver, use
    /// [`wait_for_spans_async`](Self::wait_for_spans_async).
    pub fn wait_for_spans(&self, n: u64, timeout: Duration) -> bool {
        self.wait_until(timeout, |stats| stats.accepted_spans >= n)
    }

    /// Blocks until at least `n` log records were accepted; `false` on
    /// timeout. Blocks the calling thread, as [`wait_for_spans`](Self::wait_for_spans).
    pub fn wait_for_log_records(&self, n: u64, timeout: Duration) -> bool {
        self.wait_until(timeout, |stats| stats.accepted_log_records >= n)
    }

    /// Blocks until at least `n` metric data points were accepted; `false` on
    /// timeout. Blocks the calling thread, as [`wait_for_spans`](Self::wait_for_spans).
    pub fn wait_for_data_points(&self, n: u64, timeout: Duration) -> bool {
        self.wait_until(timeout, |stats| stats.accepted_data_points >= n)
    }

    /// Blocks until `condition` holds for the counters; `false` on timeout.
    pub fn wait_until(
        &self,
        timeout: Duration,
        condition: impl Fn(&ReceiverStats) -> bool,
    ) -> bool {
        self.shared.collected.wait_until(timeout, condition)
    }

    /// Waits, without blocking the thread, until at least `n` spans were
    /// accepted; `false` on timeout. Needs a tokio runtime with timers.
    pub async fn wait_for_spans_async(&self, n: u64, timeout: Duration) -> bool {
        self.wait_until_async(timeout, |stats| stats.accepted_spans >= n)
            .await
    }

    /// Waits, without blocking the thread, until at least `n` log records were
    /// accepted; `false` on timeout. Needs a tokio runtime with timers.
    pub async fn wait_for_log_records_async(&self, n: u64, timeout: Duration) -> bool {
        self.wait_until_async(timeout, |stats| stats.accepted_log_records >= n)
            .await
    }

    /// Waits, without blocking the thread, until at least `n` metric data
    /// points were accepted; `false` on timeout. Needs a tokio runtime with timers.
    pub async fn wait_for_data_points_async(&self, n: u64, timeout: Duration) -> bool {
        self.wait_until_async(timeout, |stats| stats.accepted_data_points >= n)
            .await
    }

    /// Waits, without blocking the thread, until `condition` holds for the
    /// counters; `false` on timeout. Needs a tokio runtime with timers.
    pub async fn wait_until_async(
        &self,
        timeout: Duration,
        condition: impl Fn(&ReceiverStats) -> bool,
    ) -> bool {
        self.shared
            .collected
            .wait_until_async(timeout, condition)
            .await
    }

    /// An `opentelemetry-proto` `TraceService`, `LogsService` and
    /// `MetricsService` sharing this receiver's script and collected data, to
    /// mount in your own tonic server.
    pub fn service(&self) -> ReceiverService {
        ReceiverService {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Stops the receiver: closes the listeners and drops open connections
    /// (hanging requests included). Idempotent; also done on drop. Collected
    /// data stays readable.
    pub fn shutdown(&self) {
        let runtime = self
            .runtime
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(runtime) = runtime {
            let _ = runtime.stop.send(());
            let _ = runtime.thread.join();
        }
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .field("tls", &self.tls)
            .field("store", &self.shared.store)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn bind(
    transport: &'static str,
    addr: SocketAddr,
) -> Result<tokio::net::TcpListener, ReceiverError> {
    listener::bind(addr).map_err(|source| ReceiverError::Bind {
        transport,
        addr,
        source,
    })
}
