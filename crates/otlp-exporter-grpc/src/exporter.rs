//! [`GrpcExporter`]: sends encoded requests to `TraceService/Export` over one
//! lazily opened HTTP/2 channel.

use std::fmt;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use otlp_core::encode::Encoding;
use otlp_sdk::config::Compression;
use otlp_sdk::{ExportError, ExportOutcome, ExportRequest, Exporter, Signal};
use tokio::sync::Notify;
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};

use crate::classify::{
    capped, classify_not_ready, classify_response, classify_status, not_http2_hint,
};
use crate::coalesce::CoalescingConnector;
use crate::direct::{self, DirectError};
use crate::{MAX_REQUEST_BYTES, export_path};

/// What the builder hands over.
pub(crate) struct ExporterParts {
    pub(crate) endpoint: Endpoint,
    /// Opens the channel's connections.
    pub(crate) connector: CoalescingConnector,
    pub(crate) display_endpoint: String,
    /// `scheme://host:port`, without credentials: named in transport errors.
    pub(crate) shown_origin: String,
    pub(crate) metadata: MetadataMap,
    pub(crate) compression: Compression,
    pub(crate) timeout: Duration,
    pub(crate) signal: Signal,
}

/// The OTLP/gRPC transport: sends each pre-encoded `ExportTraceServiceRequest`
/// to `opentelemetry.proto.collector.trace.v1.TraceService/Export` (or, built
/// for [`Signal::Logs`], each `ExportLogsServiceRequest` to
/// `opentelemetry.proto.collector.logs.v1.LogsService/Export`; for
/// [`Signal::Metrics`], each `ExportMetricsServiceRequest` to
/// `opentelemetry.proto.collector.metrics.v1.MetricsService/Export`) and
/// classifies the answer as the OTLP specification says. A partial success
/// counts the rejected records, whichever the signal (`rejected_spans`,
/// `rejected_log_records`, `rejected_data_points`: the same field).
///
/// **Cost model.** An export clones the request's [`Bytes`] (a reference count),
/// the channel handle and the metadata map: no decode, no re-encode. An
/// uncompressed request is handed to the HTTP/2 stream straight from those
/// bytes (a 5-byte gRPC prefix, then the message; not even tonic's frame
/// buffer copies it), and the connection copies its frames once into a write
/// buffer it keeps (up to 256 KiB), so that a request reaches the socket in
/// one system call, not one per 16 KiB frame. A compressed one is compressed in one pass into a
/// buffer of its own, then written the same way; a body of 256 KiB or more is
/// compressed on the runtime's blocking pool, as the pipeline's own work, so
/// that the runtime thread (the application's, on a runtime it lent) goes on
/// serving other exports and timers meanwhile. The response message is
/// decoded only for its `partial_success`.
///
/// **One connection.** The channel (one HTTP/2 connection, reconnected when it
/// breaks) is opened lazily on the first export, inside the tokio runtime that
/// runs it — the pipeline's own runtime when used through
/// `otlp_sdk::BatchSpanProcessor`. So the exporter can be built anywhere, with
/// no runtime. Concurrent exports share the connection as multiplexed HTTP/2
/// streams. The channel lives on the runtime that opened it: an export run by
/// another runtime (say the exporter was tried out on a test runtime, then
/// handed to the pipeline) replaces it with a channel of its own. An attempt
/// that goes unanswered (timed out, or dropped by the caller) gives up its
/// channel: the next export opens a new connection instead of waiting on one
/// that may have stopped answering for good (the exports still on the old one
/// go on; it closes when they are done).
///
/// **Limits.** A request body over 64 MiB is refused without sending
/// ([`ExportOutcome::Permanent`] with [`ExportError::Request`]; the pipeline
/// splits batches under its own cap so this does not happen through it). A
/// response over 4 MiB is a permanent [`ExportError::InvalidResponse`].
/// Every attempt, from sending to the answer's trailers, is bounded by the
/// timeout, or less when the pipeline's attempt ends sooner
/// ([`otlp_sdk::attempt_deadline`]), and tells the server the time it has
/// left (`grpc-timeout`). A timeout names
/// where the request went: the endpoint without user name and password, the
/// signal's method and the proxy, if any ("export attempt timed out after
/// 10s: http://collector:4317/opentelemetry.proto.collector.trace.v1.TraceService/Export
/// (through the proxy http://proxy:3128 from HTTPS_PROXY)").
///
/// The exporter never retries: it classifies, and the pipeline's
/// `RetryPolicy` decides. See the [crate documentation](crate) for the table.
pub struct GrpcExporter {
    endpoint: Endpoint,
    connector: CoalescingConnector,
    display_endpoint: String,
    /// Where a transport failure happened, for its message (no credentials).
    shown_origin: String,
    metadata: MetadataMap,
    compression: Compression,
    timeout: Duration,
    /// What it sends, and so the method it calls.
    signal: Signal,
    /// The channel and the runtime it lives on, once an export opened it;
    /// `None` again after shutdown, or after an attempt on it went unanswered.
    channel: Mutex<ChannelSlot>,
    shut_down: AtomicBool,
    /// Wakes exports in flight when the exporter shuts down.
    shutting_down: Notify,
}

impl fmt::Debug for GrpcExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcExporter")
            .field("endpoint", &self.display_endpoint)
            .field("compression", &self.compression)
            .field("timeout", &self.timeout)
            .field("headers", &self.metadata.keys().count())
            .field("proxy", &self.connector.proxy())
            .field("connected", &self.lock_channel().open.is_some())
            .field("shut_down", &self.shut_down.load(Ordering::Relaxed))
            .finish()
    }
}

impl GrpcExporter {
    pub(crate) fn new(parts: ExporterParts) -> Self {
        GrpcExporter {
            endpoint: parts.endpoint,
            connector: parts.connector,
            display_endpoint: parts.display_endpoint,
            shown_origin: parts.shown_origin,
            metadata: parts.metadata,
            compression: parts.compression,
            timeout: parts.timeout,
            signal: parts.signal,
            channel: Mutex::new(ChannelSlot::default()),
            shut_down: AtomicBool::new(false),
            shutting_down: Notify::new(),
        }
    }

    /// The endpoint as configured, its user-info (user name and password)
    /// `<redacted>`: they go as the `authorization` header instead.
    pub fn endpoint(&self) -> &str {
        &self.display_endpoint
    }

    /// The request compression.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The timeout of one export attempt.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether [`shutdown`](Exporter::shutdown) has been called.
    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    fn lock_channel(&self) -> std::sync::MutexGuard<'_, ChannelSlot> {
        self.channel.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The channel and its number, opened on first use in the current tokio runtime.
    fn channel(&self) -> Result<(u64, Channel), ExportOutcome> {
        let mut slot = self.lock_channel();
        if self.is_shut_down() {
            return Err(shut_down());
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(ExportOutcome::Permanent {
                error: ExportError::Transport(
                    "the gRPC exporter must run inside a tokio runtime (the otlp-sdk pipeline provides one)"
                        .into(),
                ),
            });
        };
        match &slot.open {
            Some(open) if open.runtime == runtime.id() => Ok((open.number, open.channel.clone())),
            // Not yet opened, opened by another runtime (whose tasks, the
            // connection's among them, may be gone), or given up.
            _ => {
                let channel = self
                    .endpoint
                    .connect_with_connector_lazy(self.connector.clone());
                slot.opened += 1;
                let number = slot.opened;
                slot.open = Some(OpenChannel {
                    runtime: runtime.id(),
                    number,
                    channel: channel.clone(),
                });
                Ok((number, channel))
            }
        }
    }

    /// Gives up channel `number` if it is still the exporter's: the next
    /// export opens a new one. Exports in flight on it go on; its connection
    /// closes once they are done.
    fn forget_channel(&self, number: u64) {
        let mut slot = self.lock_channel();
        if slot.open.as_ref().is_some_and(|open| open.number == number) {
            slot.open = None;
        }
    }

    /// Checks what can be checked before sending.
    fn refuse(&self, request: &ExportRequest) -> Option<ExportOutcome> {
        if self.is_shut_down() {
            return Some(shut_down());
        }
        if request.encoding != Encoding::Protobuf {
            return Some(ExportOutcome::Permanent {
                error: ExportError::Request(format!(
                    "OTLP/gRPC carries protobuf, not {:?} bodies",
                    request.encoding
                )),
            });
        }
        if request.body.len() > MAX_REQUEST_BYTES {
            return Some(ExportOutcome::Permanent {
                error: ExportError::Request(format!(
                    "the request is {} bytes, over the {MAX_REQUEST_BYTES} byte cap; split it",
                    request.body.len()
                )),
            });
        }
        None
    }

    /// Where a request goes, for a timeout's message: the endpoint (no
    /// user name or password) and the signal's method, and the proxy the
    /// connection goes through, if any.
    /// `http://collector:4317/opentelemetry.proto.collector.trace.v1.TraceService/Export
    /// (through the proxy http://proxy:3128 from HTTPS_PROXY)`.
    fn target(&self) -> String {
        let mut target = format!("{}{}", self.shown_origin, export_path(self.signal));
        if let Some(proxy) = self.connector.proxy() {
            target.push_str(&format!(" (through {})", proxy.shown()));
        }
        target
    }

    /// A timeout after `after`, naming where the request went.
    fn timed_out(&self, after: Duration) -> ExportOutcome {
        ExportOutcome::Retryable {
            error: ExportError::Timeout {
                after,
                target: Some(self.target()),
            },
            throttle: None,
        }
    }

    /// One attempt, written straight onto the channel (see [`direct`]),
    /// ending at `deadline`, `allowed` after it started (the time a timeout
    /// reports). A failure of the connection names the endpoint, a timeout
    /// the endpoint, method and proxy: the pipeline's last error is often
    /// all a user sees of it.
    async fn attempt(
        &self,
        channel: Channel,
        body: Bytes,
        (deadline, allowed): (Instant, Duration),
    ) -> ExportOutcome {
        let named = |error: String| {
            ExportError::Transport(capped(&format!("{}: {error}", self.shown_origin)))
        };
        match self.attempt_here(channel, body, (deadline, allowed)).await {
            ExportOutcome::Retryable {
                error:
                    ExportError::Timeout {
                        after,
                        target: None,
                    },
                ..
            } => self.timed_out(after),
            ExportOutcome::Retryable {
                error: ExportError::Transport(error),
                throttle,
            } => ExportOutcome::Retryable {
                error: named(error),
                throttle,
            },
            ExportOutcome::Permanent {
                error: ExportError::Transport(error),
            } => ExportOutcome::Permanent {
                error: named(error),
            },
            outcome => outcome,
        }
    }

    async fn attempt_here(
        &self,
        mut channel: Channel,
        body: Bytes,
        (deadline, allowed): (Instant, Duration),
    ) -> ExportOutcome {
        let message = match direct::compress(self.compression, body).await {
            Ok(message) => message,
            Err(reason) => {
                return ExportOutcome::Permanent {
                    error: ExportError::Request(reason),
                };
            }
        };
        match direct::export(
            &mut channel,
            &self.metadata,
            deadline,
            export_path(self.signal),
            message,
            self.compression,
        )
        .await
        {
            Ok(response) => classify_response(&response),
            Err(DirectError::Status(status)) => classify_status(&status, allowed),
            Err(DirectError::NotReady(error)) => classify_not_ready(&error),
            Err(DirectError::Transport(error)) => ExportOutcome::Retryable {
                error: ExportError::Transport(capped(&error)),
                throttle: None,
            },
            // No retry can change a certificate that fails verification.
            Err(DirectError::CertificateRejected(error)) => ExportOutcome::Permanent {
                error: ExportError::Transport(capped(&error)),
            },
            // Retryable, as any connection failure: the server behind the
            // address may change; the hint says what the bytes looked like.
            Err(DirectError::NotHttp2(error)) => ExportOutcome::Retryable {
                error: ExportError::Transport(capped(&format!(
                    "{error} ({})",
                    not_http2_hint(self.shown_origin.starts_with("https://"))
                ))),
                throttle: None,
            },
            Err(DirectError::TimedOut) => self.timed_out(allowed),
            Err(DirectError::InvalidResponse(error)) => ExportOutcome::Permanent {
                error: ExportError::InvalidResponse(capped(&error)),
            },
            // `OK`: the server took the records; only its answer is
            // unreadable. A warning, as `classify_response` gives for a
            // message that does not decode: the records are not failed.
            Err(DirectError::UnreadableOk(error)) => ExportOutcome::PartialSuccess {
                rejected_spans: 0,
                message: capped(&format!(
                    "records accepted (gRPC OK), but the response could not be read: {error}"
                )),
            },
        }
    }
}

fn shut_down() -> ExportOutcome {
    ExportOutcome::Permanent {
        error: ExportError::ShutDown,
    }
}

impl Exporter for GrpcExporter {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    /// Sends one request and classifies the outcome (see the crate docs).
    /// A request with no records (spans, log records, data points) is not
    /// sent and succeeds.
    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        if let Some(refused) = self.refuse(&request) {
            return refused;
        }
        if request.span_count == 0 {
            return ExportOutcome::Success;
        }
        // The server is told the time left (`grpc-timeout`): the timeout, or
        // less when the caller's attempt ends sooner (the request's last
        // attempts before its export deadline, under `RetryPolicy::send`);
        // a timeout reports the time the attempt was given. The whole
        // attempt (headers, message, trailers) ends by that deadline: the
        // channel's own timeout bounds only the headers, and a server that
        // stalls after them must be cut here, with the endpoint named, not
        // by the caller's bound, whose timeout names no endpoint.
        let window = otlp_sdk::attempt_window(self.timeout);
        let (deadline, allowed) = window;
        let mut shutting_down = pin!(self.shutting_down.notified());
        shutting_down.as_mut().enable();
        let (number, channel) = match self.channel() {
            Ok(channel) => channel,
            Err(outcome) => return outcome,
        };
        // Dropped unanswered (timed out here, or by the caller), the
        // attempt gives up the channel it used.
        let mut unanswered = Unanswered {
            exporter: self,
            channel: Some(number),
        };
        let outcome = tokio::select! {
            biased;
            () = shutting_down => shut_down(),
            result = tokio::time::timeout_at(deadline.into(), self.attempt(channel, request.body, window)) => match result {
                Ok(outcome) => outcome,
                Err(_elapsed) => self.timed_out(allowed),
            },
        };
        if !matches!(
            outcome,
            ExportOutcome::Retryable {
                error: ExportError::Timeout { .. },
                ..
            }
        ) {
            unanswered.channel = None;
        }
        outcome
    }

    /// Refuses new exports, ends the ones in flight (they report
    /// [`ExportError::ShutDown`]) and releases the channel, which closes the
    /// connection. Returns at once.
    async fn shutdown(&self) {
        self.shut_down.store(true, Ordering::Release);
        self.shutting_down.notify_waiters();
        let channel = self.lock_channel().open.take();
        drop(channel);
    }
}

/// The exporter's channel, if open, and how many it opened: an attempt that
/// went unanswered gives up the channel it used, not a newer one.
#[derive(Default)]
struct ChannelSlot {
    open: Option<OpenChannel>,
    opened: u64,
}

/// A channel, the runtime it lives on and its number.
struct OpenChannel {
    runtime: tokio::runtime::Id,
    number: u64,
    channel: Channel,
}

/// An attempt in progress: unless it got an answer (`channel` cleared),
/// dropping it gives up its channel. A connection that stopped answering (a
/// collector gone without a word, a load balancer black-holing the
/// connection) would otherwise take every later export until TCP gives up
/// on it, many minutes later.
struct Unanswered<'a> {
    exporter: &'a GrpcExporter,
    channel: Option<u64>,
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if let Some(number) = self.channel {
            self.exporter.forget_channel(number);
        }
    }
}
