//! [`Exporter`]: what a transport implements. It moves encoded bytes and
//! classifies the outcome; batching, retry and accounting stay in the pipeline.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use otlp_core::encode::Encoding;

/// One encoded export request (`ExportTraceServiceRequest`,
/// `ExportLogsServiceRequest` or `ExportMetricsServiceRequest`), ready to send.
///
/// Cloning is cheap (the body is a reference-counted [`Bytes`]): a retry sends
/// the same bytes again, it never re-encodes.
#[derive(Clone, Debug)]
pub struct ExportRequest {
    /// The request body, uncompressed.
    pub body: Bytes,
    /// How the body is encoded.
    pub encoding: Encoding,
    /// Records in the request, in the exporter's [`Signal`]: spans, log
    /// records, or for metrics the data points (what a partial success's
    /// `rejected_data_points` counts against). `0` means an empty request,
    /// which transports do not send.
    pub span_count: usize,
}

/// Why an export attempt did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The connection could not be made or broke without a response.
    #[error("transport error: {0}")]
    Transport(String),
    /// The attempt took longer than its timeout: "export attempt timed out
    /// after 10s: POST https://collector:4318/v1/traces (through the proxy
    /// http://proxy:3128 from HTTPS_PROXY)".
    #[error("export attempt timed out after {after:?}{}", Target(.target))]
    Timeout {
        /// The time the attempt was given: the exporter's timeout, or less
        /// when the caller's attempt ended sooner.
        after: Duration,
        /// Where the request went, as the transport's errors name it: the
        /// URL without user name and password (`POST …` over HTTP, the
        /// endpoint and method over gRPC) and the proxy it went through,
        /// if any. `None` when the caller's own limit ended an attempt the
        /// exporter did not end itself ([`RetryPolicy::send`](crate::RetryPolicy::send)
        /// knows no URL).
        target: Option<String>,
    },
    /// The server answered with an error status.
    #[error("server answered {status}: {message}")]
    Server {
        /// `HTTP 503`, `gRPC UNAVAILABLE`...
        status: String,
        /// The server's message, size-capped.
        message: String,
    },
    /// The server's answer could not be understood.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    /// The request cannot be sent at all (for example larger than the size cap).
    #[error("request rejected before sending: {0}")]
    Request(String),
    /// The exporter was shut down.
    #[error("exporter is shut down")]
    ShutDown,
}

/// The `: <target>` a timeout's message ends with, when it knows one.
struct Target<'a>(&'a Option<String>);

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(target) => write!(f, ": {target}"),
            None => Ok(()),
        }
    }
}

/// How one export attempt ended, classified by the transport per the OTLP specification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportOutcome {
    /// Every span was accepted.
    Success,
    /// Accepted, but the server rejected some spans. Never retried.
    /// `rejected_spans == 0` with a message is a warning.
    PartialSuccess {
        /// Records the server rejected: its `rejected_spans`,
        /// `rejected_log_records` or `rejected_data_points`.
        rejected_spans: u64,
        /// The server's explanation.
        message: String,
    },
    /// Failed in a way worth retrying.
    Retryable {
        /// What went wrong.
        error: ExportError,
        /// The server's requested minimum wait (gRPC `RetryInfo`, HTTP `Retry-After`).
        throttle: Option<Duration>,
    },
    /// Failed for good (bad data, unauthorized...). Never retried.
    Permanent {
        /// What went wrong.
        error: ExportError,
    },
}

/// Which OTLP signal a pipeline carries, and so where a transport sends its
/// requests (`/v1/traces`, `/v1/logs` or `/v1/metrics`; `TraceService/Export`,
/// `LogsService/Export` or `MetricsService/Export`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// Spans: `ExportTraceServiceRequest`.
    #[default]
    Traces,
    /// Log records: `ExportLogsServiceRequest`.
    Logs,
    /// Metric data points: `ExportMetricsServiceRequest`. An
    /// [`ExportRequest`]'s record count is then its number of data points.
    Metrics,
}

impl Signal {
    /// The signal's name in OTLP paths and variables: `traces`, `logs`, `metrics`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
        }
    }

    /// The standard variable that names this signal's exporter:
    /// `OTEL_TRACES_EXPORTER`, `OTEL_LOGS_EXPORTER`, `OTEL_METRICS_EXPORTER`
    /// ([`ExporterKind`](crate::config::ExporterKind)).
    pub const fn exporter_variable(self) -> &'static str {
        match self {
            Signal::Traces => "OTEL_TRACES_EXPORTER",
            Signal::Logs => "OTEL_LOGS_EXPORTER",
            Signal::Metrics => "OTEL_METRICS_EXPORTER",
        }
    }

    /// What one of its records is called in messages: `span`, `log record`,
    /// `data point`.
    pub const fn record_noun(self) -> &'static str {
        match self {
            Signal::Traces => "span",
            Signal::Logs => "log record",
            Signal::Metrics => "data point",
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transport that sends encoded requests: OTLP/gRPC, OTLP/HTTP, a file, a test double.
///
/// The pipeline calls [`export`](Exporter::export) from its own tokio runtime,
/// possibly several times concurrently (up to `max_concurrent_exports`), and
/// bounds every call by the attempt timeout, dropping the future if it runs
/// over. Implementations must not retry: they classify the outcome and the
/// pipeline's [`RetryPolicy`](crate::RetryPolicy) decides.
///
/// ```
/// use otlp_sdk::{Encoding, ExportOutcome, ExportRequest, Exporter};
///
/// /// Counts spans and accepts everything.
/// struct Counting(std::sync::atomic::AtomicUsize);
///
/// impl Exporter for Counting {
///     fn encoding(&self) -> Encoding {
///         Encoding::Protobuf
///     }
///
///     async fn export(&self, request: ExportRequest) -> ExportOutcome {
///         self.0.fetch_add(request.span_count, std::sync::atomic::Ordering::Relaxed);
///         ExportOutcome::Success
///     }
/// }
/// ```
pub trait Exporter: Send + Sync + 'static {
    /// The body encoding this exporter sends.
    fn encoding(&self) -> Encoding;

    /// The signal whose requests this exporter sends (default: traces). A
    /// pipeline refuses to start with an exporter of another signal.
    fn signal(&self) -> Signal {
        Signal::Traces
    }

    /// Sends one request and classifies the outcome.
    fn export(&self, request: ExportRequest) -> impl Future<Output = ExportOutcome> + Send;

    /// Releases resources; called once when the pipeline shuts down, within its deadline.
    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Whether this exporter only stands in for a signal whose configured
    /// exporter is `none` (`OTEL_TRACES_EXPORTER=none`, …): what a helper
    /// that builds the exporter a [`Config`](crate::config::Config) names
    /// returns when it names none (`otlp-contrib`'s pipeline does). Default
    /// `false`: every exporter a program writes or picks itself.
    ///
    /// A provider built `with_config` from a configuration whose exporter
    /// of this signal is `none` leaves a processor or reader over such an
    /// exporter out: it records nothing for it (with nothing else given in
    /// code, nothing at all, the cost of a flag check), and the durable
    /// queue of a pipeline over it stays closed. A provider configured in
    /// code only still hands it its records, which it may fail, naming why.
    /// A batch pipeline over it starts its export loop's thread with the
    /// first record it is handed (or to shut down), not when it is built,
    /// and sends on that thread whatever `performance.io_threads` says: a
    /// configuration whose exporters are all `none` starts no thread.
    fn stands_for_none(&self) -> bool {
        false
    }
}

/// A boxed export future, for exporters chosen at run time.
pub type BoxExportFuture<'a> = Pin<Box<dyn Future<Output = ExportOutcome> + Send + 'a>>;

/// The object-safe form of [`Exporter`], implemented for every exporter, so
/// that `Box<dyn DynExporter>` can hold any of them (and is itself an `Exporter`).
///
/// ```
/// use otlp_sdk::{DynExporter, Encoding, ExportOutcome, ExportRequest, Exporter};
///
/// struct Accept;
/// impl Exporter for Accept {
///     fn encoding(&self) -> Encoding { Encoding::Json }
///     async fn export(&self, _: ExportRequest) -> ExportOutcome { ExportOutcome::Success }
/// }
///
/// let chosen: Box<dyn DynExporter> = Box::new(Accept);
/// assert_eq!(Exporter::encoding(&chosen), Encoding::Json);
/// ```
pub trait DynExporter: Send + Sync + 'static {
    /// See [`Exporter::encoding`].
    fn dyn_encoding(&self) -> Encoding;
    /// See [`Exporter::signal`].
    fn dyn_signal(&self) -> Signal;
    /// See [`Exporter::export`].
    fn dyn_export(&self, request: ExportRequest) -> BoxExportFuture<'_>;
    /// See [`Exporter::shutdown`].
    fn dyn_shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
    /// See [`Exporter::stands_for_none`].
    fn dyn_stands_for_none(&self) -> bool;
}

impl<E: Exporter> DynExporter for E {
    fn dyn_encoding(&self) -> Encoding {
        self.encoding()
    }

    fn dyn_signal(&self) -> Signal {
        self.signal()
    }

    fn dyn_export(&self, request: ExportRequest) -> BoxExportFuture<'_> {
        Box::pin(self.export(request))
    }

    fn dyn_shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.shutdown())
    }

    fn dyn_stands_for_none(&self) -> bool {
        self.stands_for_none()
    }
}

impl Exporter for Box<dyn DynExporter> {
    fn encoding(&self) -> Encoding {
        (**self).dyn_encoding()
    }

    fn signal(&self) -> Signal {
        (**self).dyn_signal()
    }

    fn export(&self, request: ExportRequest) -> impl Future<Output = ExportOutcome> + Send {
        (**self).dyn_export(request)
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        (**self).dyn_shutdown()
    }

    fn stands_for_none(&self) -> bool {
        (**self).dyn_stands_for_none()
    }
}

/// The first `E` in `error`'s chain of sources, for an exporter classifying
/// a transport failure (a TLS verdict, a timeout of its own). Looks inside
/// the errors an `io::Error` wraps too, which its `source()` skips: a TLS
/// stream reports rustls' verdict that way.
///
/// ```
/// use otlp_sdk::find_in_chain;
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("certificate expired")]
/// struct Expired;
///
/// let io = std::io::Error::new(std::io::ErrorKind::InvalidData, Expired);
/// assert!(find_in_chain::<Expired>(&io).is_some());
/// assert!(find_in_chain::<std::fmt::Error>(&io).is_none());
/// ```
pub fn find_in_chain<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        if let Some(found) = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|wrapped| find_in_chain::<E>(wrapped))
        {
            return Some(found);
        }
        next = error.source();
    }
    None
}
