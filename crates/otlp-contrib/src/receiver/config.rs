//! How a receiver is set up: addresses, TLS, what it keeps, limits.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use otlp_sdk::config::REDACTED;

use super::error::ReceiverError;
use super::store::ReceivedRequest;

/// The default cap on a request body, compressed and decompressed: 64 MiB,
/// the largest request an OTLP exporter sends.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 64 << 20;

/// The default [`request_head_timeout`](ReceiverConfig::request_head_timeout):
/// 30 seconds, hyper's default for HTTP/1.1 request heads (the OpenTelemetry
/// Collector allows a minute).
pub const DEFAULT_REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The default [`request_timeout`](ReceiverConfig::request_timeout): 30
/// seconds, the OpenTelemetry Collector's HTTP server write timeout (Go's
/// `WriteTimeout`, which runs from the end of a request's head to the end of
/// its answer).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The most requests (HTTP/2 streams) one connection may have in progress
/// at once, on either port, announced in the receiver's HTTP/2 `SETTINGS`.
/// Why 200: hyper's default, pinned here because the receiver's memory bound
/// rests on it ([`ReceiverConfig::max_request_bytes`]); Go's HTTP/2 server
/// allows 250, grpc-go (so the Collector's gRPC receiver) has no limit unless
/// told. At the limit, a client's next request waits for one of its others to
/// end (HTTP/2 clients queue it), or it opens another connection.
pub const MAX_CONCURRENT_STREAMS: u32 = 200;

/// The most [`worker_threads`](ReceiverConfig::worker_threads): each is an OS
/// thread with its own runtime (a stack, a few file descriptors), and 1024 is
/// far more than the cores of any machine that serves connections on them.
/// Above it, [`Receiver::start`](super::Receiver::start) refuses the
/// configuration instead of trying to start them all.
pub const MAX_WORKER_THREADS: usize = 1024;

/// Configuration of a [`Receiver`](super::Receiver). Plain data with public
/// fields; build it with a struct literal and `..Default::default()`.
///
/// The default listens for gRPC and HTTP on free loopback ports, without TLS,
/// keeping every decoded request.
#[derive(Clone, Debug)]
pub struct ReceiverConfig {
    /// Address of the OTLP/gRPC listener; `None` turns gRPC off.
    /// Default `127.0.0.1:0` (a free port).
    pub grpc: Option<SocketAddr>,
    /// Address of the OTLP/HTTP listener (`POST /v1/traces`, `/v1/logs`, `/v1/metrics`);
    /// `None` turns HTTP off. Default `127.0.0.1:0`.
    pub http: Option<SocketAddr>,
    /// Serve both listeners over TLS (and require client certificates when
    /// [`ReceiverTls::client_ca_pem`] is set). Default: plain text.
    pub tls: Option<ReceiverTls>,
    /// What the receiver does with the requests it accepts. Default [`Store::All`].
    pub store: Store,
    /// Cap on a request body in bytes, applied to the bytes on the wire and
    /// again to the decompressed body (so compression bombs stop at the cap),
    /// and as tonic's maximum decoding message size. Default
    /// [`DEFAULT_MAX_REQUEST_BYTES`].
    ///
    /// With [`Store::All`] or [`Store::DecodeOnly`] it also bounds the
    /// decoded request: a body (protobuf or OTLP/JSON) is walked before it
    /// is decoded, and one whose decoding would take more than 32 times the
    /// cap in memory (a body of empty messages, two bytes each on the wire
    /// and a few hundred decoded, took up to 150 times its size) is refused
    /// as a body over the cap is: HTTP 413, gRPC `RESOURCE_EXHAUSTED`. Real
    /// requests decode to 3 to 12 times their size.
    ///
    /// Memory: a request is held whole while it arrives, so this cap, times
    /// the requests in progress, bounds what request bodies take. One HTTP/2
    /// connection (either port) carries at most [`MAX_CONCURRENT_STREAMS`]
    /// (200) requests at once: 200 times the cap, 12.5 GiB at the default
    /// 64 MiB, and connections are not limited in number. On the gRPC port
    /// tonic reserves a message's whole announced length (up to the cap) as
    /// soon as its 5-byte prefix arrives, as grpc-go does: address space,
    /// which becomes memory in use only as the bytes arrive, but which a
    /// system that limits address space (`ulimit -v`, strict overcommit)
    /// counts at once; each stream's body must arrive within
    /// [`request_timeout`](Self::request_timeout). A zstd body or message
    /// also takes, while it is undone, the window its frames declare: at
    /// most [`otlp_sdk::compression::zstd_window_log_max`] of the cap (8 to
    /// 128 MiB; more is refused as over the cap), one at a time per worker
    /// thread. Facing clients you do not trust, lower the cap: the bound
    /// scales with it.
    pub max_request_bytes: usize,
    /// Threads that serve connections, each with its own single-threaded
    /// tokio runtime; a connection stays on one of them from start to end,
    /// and new connections go to the one serving the fewest. Default 2; from
    /// 1 to [`MAX_WORKER_THREADS`].
    pub worker_threads: usize,
    /// Called with every decoded request of any signal (in [`Store::All`] and
    /// [`Store::DecodeOnly`] modes) as soon as its answer is decided, on a
    /// receiver thread. Keep it short: the answer waits for it.
    pub observer: Option<RequestObserver>,
    /// A connection that brings no request head within this time, from its
    /// start (over TLS, from the end of the handshake, which has its own
    /// limit of 10 s) and from the end of each answer when no other request
    /// is in progress on it (HTTP/1.1 and HTTP/2 alike), is closed: a client
    /// that opens connections and sends nothing, a header a byte at a time,
    /// or one request and then nothing, cannot hold sockets for ever. It also
    /// ends idle keep-alive connections (an HTTP/1.1 connection, a gRPC
    /// channel's HTTP/2 connection); clients open a new one. A request in
    /// progress (its body still arriving, its answer being written) is not
    /// timed by it.
    ///
    /// The close is graceful: an HTTP/2 client gets a GOAWAY (so a request
    /// that crossed it is still served), an HTTP/1.1 one a clean close
    /// between requests. A client that holds up the graceful close (it never
    /// answers the GOAWAY's PING) is dropped after this time again. Default
    /// [`DEFAULT_REQUEST_HEAD_TIMEOUT`]; must be more than zero. A timeout
    /// past a year (up to `Duration::MAX`, for "never") stands for a year.
    pub request_head_timeout: Duration,
    /// From the moment a request's head has been read, its body must be
    /// read whole and its answer written within this time; a client that
    /// sends its body a byte at a time, or sends nothing after the head, or
    /// never lets its answer through (an HTTP/2 flow-control window of 0),
    /// cannot hold a connection, an HTTP/2 stream and a task for ever.
    ///
    /// A request whose time runs out before its answer was decided is not
    /// received: nothing of it is counted, kept or observed, and it is
    /// counted in [`ReceiverStats::timed_out_requests`](super::ReceiverStats::timed_out_requests).
    /// Over HTTP/1.1 it is answered 408 Request Timeout (a `google.rpc.Status`
    /// body, `DEADLINE_EXCEEDED`) and the connection is closed; over HTTP/2
    /// (every gRPC request) its stream alone is reset (`RST_STREAM` with
    /// `CANCEL`), and the connection's other streams carry on. A request
    /// whose answer was decided in time but not written in time keeps the
    /// count it got when its answer was decided (accepted, faulted or bad);
    /// its HTTP/2 stream is reset all the same (an HTTP/1.1 answer taken
    /// whole by the connection is then left to it, which closes as an idle
    /// one a client that does not read it). A [`Fault::Delay`](super::Fault::Delay)
    /// as long as this times requests out; a [`Fault::Hang`](super::Fault::Hang)
    /// hangs until this time is up.
    ///
    /// Default [`DEFAULT_REQUEST_TIMEOUT`]; must be more than zero. A timeout
    /// past a year (up to `Duration::MAX`, for "never") stands for a year.
    pub request_timeout: Duration,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        ReceiverConfig {
            grpc: Some(loopback),
            http: Some(loopback),
            tls: None,
            store: Store::All,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            worker_threads: 2,
            observer: None,
            request_head_timeout: DEFAULT_REQUEST_HEAD_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

impl ReceiverConfig {
    /// Checks the configuration; the error names the bad field.
    pub(crate) fn validate(&self) -> Result<(), ReceiverError> {
        if self.grpc.is_none() && self.http.is_none() {
            return Err(ReceiverError::Config {
                field: "grpc/http",
                reason: "at least one listener is required".into(),
            });
        }
        if self.max_request_bytes == 0 {
            return Err(ReceiverError::Config {
                field: "max_request_bytes",
                reason: "must be at least 1".into(),
            });
        }
        if self.request_head_timeout.is_zero() {
            return Err(ReceiverError::Config {
                field: "request_head_timeout",
                reason: "must be more than zero".into(),
            });
        }
        if self.request_timeout.is_zero() {
            return Err(ReceiverError::Config {
                field: "request_timeout",
                reason: "must be more than zero".into(),
            });
        }
        if self.worker_threads == 0 {
            return Err(ReceiverError::Config {
                field: "worker_threads",
                reason: "must be at least 1".into(),
            });
        }
        if self.worker_threads > MAX_WORKER_THREADS {
            return Err(ReceiverError::Config {
                field: "worker_threads",
                reason: format!(
                    "{} is more than {MAX_WORKER_THREADS}, the most",
                    self.worker_threads
                ),
            });
        }
        Ok(())
    }
}

/// What the receiver does with a request it accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Store {
    /// Decode every request with `opentelemetry-proto` (validating ids) and
    /// keep it in memory: [`Receiver::requests`](super::Receiver::requests),
    /// [`accepted_spans`](super::Receiver::accepted_spans) and friends.
    /// Memory grows with every request; made for tests.
    #[default]
    All,
    /// Decode and validate every request and hand it to the
    /// [`observer`](ReceiverConfig::observer), but keep nothing: memory stays
    /// flat. Counters still count.
    DecodeOnly,
    /// Never decode into structs; count spans, log records and data points by
    /// walking the protobuf ([`otlp_core::wire::count_spans`] and
    /// [`otlp_core::wire::count_data_points`]: the framing of
    /// log requests has the same field numbers; data points are one level
    /// deeper, in each metric's shape), so the receiver is never the
    /// bottleneck of a benchmark. OTLP/JSON bodies are still parsed, with a
    /// visitor that checks the JSON and the `resourceSpans` / `scopeSpans` /
    /// `spans` (or `resourceLogs` / `scopeLogs` / `logRecords`, or
    /// `resourceMetrics` / `scopeMetrics` / `metrics` / shape / `dataPoints`)
    /// structure and the records' ids (a span's and its links', a log
    /// record's, an exemplar's: checked as decoding checks them) but skips
    /// the rest of the records. In protobuf only framing errors are detected
    /// (no id checks), and a known field of a message walked through (an
    /// export request, a resource's or scope's group, a metric and its data)
    /// with the wrong wire type, which decoding refuses too; nothing is kept
    /// and the observer is not called.
    CountOnly,
}

/// TLS for both listeners, as PEM text. Crypto is rustls with the `ring`
/// provider, chosen explicitly: the process-wide default provider is neither
/// needed nor changed. `Debug` shows the certificates, and the private key
/// as `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceiverTls {
    /// The server certificate chain (leaf first).
    pub cert_pem: String,
    /// The server's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: String,
    /// When set, clients must present a certificate signed by one of these CAs (mTLS).
    pub client_ca_pem: Option<String>,
}

impl fmt::Debug for ReceiverTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Key material must not reach a log through `{:?}` of a configuration.
        f.debug_struct("ReceiverTls")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &REDACTED)
            .field("client_ca_pem", &self.client_ca_pem)
            .finish()
    }
}

/// A callback that sees every decoded request; see [`ReceiverConfig::observer`].
///
/// Cloning shares the callback.
#[derive(Clone)]
pub struct RequestObserver(Arc<dyn Fn(&ReceivedRequest) + Send + Sync>);

impl RequestObserver {
    /// Wraps a callback.
    pub fn new(callback: impl Fn(&ReceivedRequest) + Send + Sync + 'static) -> Self {
        RequestObserver(Arc::new(callback))
    }

    pub(crate) fn call(&self, request: &ReceivedRequest) {
        (self.0)(request);
    }
}

impl fmt::Debug for RequestObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestObserver(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server's private key is key material: it must not reach a log
    /// through `{:?}` of the TLS settings or of the whole configuration.
    #[test]
    fn debug_output_shows_the_certificates_but_not_the_private_key() {
        let tls = ReceiverTls {
            cert_pem: "-----BEGIN CERTIFICATE-----\ncert\n-----END CERTIFICATE-----".into(),
            key_pem: "-----BEGIN PRIVATE KEY-----\ns3cret\n-----END PRIVATE KEY-----".into(),
            client_ca_pem: Some(
                "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----".into(),
            ),
        };
        let shown = format!("{tls:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("key_pem: \"<redacted>\""), "{shown}");
        assert!(shown.contains("cert") && shown.contains("ca"), "{shown}");
        let config = ReceiverConfig {
            tls: Some(tls),
            ..ReceiverConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
