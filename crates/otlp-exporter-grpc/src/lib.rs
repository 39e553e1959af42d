//! # otlp-exporter-grpc: OTLP/gRPC transport for the otlp-sdk pipeline
//!
//! [`GrpcExporter`] implements `otlp_sdk::Exporter`. The pipeline
//! (`otlp_sdk::BatchSpanProcessor`) encodes each span once, when it ends, and
//! frames a batch of them into an `ExportTraceServiceRequest`; this crate
//! moves those bytes to `opentelemetry.proto.collector.trace.v1.TraceService/Export`, written
//! straight onto tonic's HTTP/2 channel — nothing is decoded or re-encoded on
//! the way out, and the bytes are copied once, into the connection's write
//! buffer, so that a request of up to 256 KiB leaves in one system call rather
//! than one per HTTP/2 frame, a larger one in writes of up to 256 KiB — and tells the
//! pipeline how the attempt ended. Retrying is the pipeline's job.
//! Built for another [`Signal`](otlp_sdk::Signal), it sends log records to
//! [`LOGS_EXPORT_PATH`] or metrics to [`METRICS_EXPORT_PATH`] the same way.
//!
//! ## What it does
//!
//! - **One connection**, opened lazily on the first export inside the
//!   pipeline's tokio runtime (so building needs no runtime) and reconnected
//!   when it breaks; concurrent exports are multiplexed HTTP/2 streams on it.
//! - **Compression**: gzip or zstd (`grpc-encoding`), features `gzip` and `zstd`
//!   (both default), once per attempt into a buffer of its own (from 256 KiB
//!   on the runtime's blocking pool, as the HTTP exporter does). No response
//!   compression is offered (responses are a few bytes).
//! - **TLS** with rustls and the *ring* provider (tonic's `tls-ring`; the
//!   process-default rustls provider is used instead if one is installed, and
//!   aws-lc-rs is never compiled in). `http://` is plaintext HTTP/2;
//!   `https://` verifies the server against a CA file you give, or else against
//!   the default roots: the system's PEM bundles (feature `native-roots`,
//!   default; read once at build, no other system access) and/or the Mozilla
//!   roots compiled into the binary (feature `webpki-roots`). A client
//!   certificate and key give mutual TLS.
//! - **Proxies** as the Collector's gRPC exporter (grpc-go) reads them: a
//!   remote endpoint is reached through the `http://` proxy `HTTPS_PROXY`
//!   names, in an HTTP `CONNECT` tunnel, unless `NO_PROXY` lists it; a
//!   collector on loopback is always reached directly. See
//!   [Proxies](#proxies).
//! - **Metadata** headers on every request (the endpoint's user name and
//!   password as HTTP Basic `authorization`, unless that header is set), a
//!   `User-Agent` naming this crate ([`USER_AGENT`]), and a **per-attempt
//!   timeout** sent as `grpc-timeout` and enforced locally.
//! - **Size caps**: a request over [`MAX_REQUEST_BYTES`] (64 MiB) is refused
//!   before sending; a response over [`MAX_RESPONSE_BYTES`] (4 MiB) is a
//!   permanent error.
//!
//! ## How outcomes are classified (OTLP specification)
//!
//! | answer | outcome |
//! |---|---|
//! | `OK`, no `partial_success` (or an empty one) | `Success` |
//! | `OK` with rejected spans (log records, data points) or a message | `PartialSuccess` (never retried) |
//! | `OK` whose response cannot be read (decoded, decompressed, unframed) | `PartialSuccess` rejecting nothing, with a warning: the records were delivered |
//! | `CANCELLED`, `DEADLINE_EXCEEDED`, `ABORTED`, `OUT_OF_RANGE`, `UNAVAILABLE`, `DATA_LOSS` | `Retryable` |
//! | `RESOURCE_EXHAUSTED` with `google.rpc.RetryInfo` | `Retryable`, throttle = the retry delay |
//! | `RESOURCE_EXHAUSTED` without `RetryInfo`, and every other code | `Permanent` |
//! | no answer: connection refused or reset, TLS failure, timeout | `Retryable` |
//! | the server's certificate fails verification (unknown issuer, wrong name; not expired or not yet valid, which may be the local clock) | `Permanent` |
//! | response over 4 MiB | `Permanent` |
//!
//! A `RetryInfo` delay on any retryable status becomes the throttle hint: the
//! pipeline waits at least that long before the next attempt.
//!
//! ## Proxies
//!
//! Read from the environment when the exporter is built, as grpc-go (the
//! Collector's gRPC exporter) reads them:
//!
//! - `HTTPS_PROXY` (else `https_proxy`) names the proxy for **every**
//!   endpoint, `http://` and `https://` alike: grpc-go maps each target as
//!   an `https` URL, since a gRPC connection goes through a proxy as a
//!   `CONNECT` tunnel whatever runs inside it. `HTTP_PROXY` and `ALL_PROXY`
//!   are not read (grpc-go reads neither). `otlp-exporter-http`, whose
//!   requests are plain HTTP, reads `HTTP_PROXY` for `http://` endpoints and
//!   `ALL_PROXY` too: set `HTTPS_PROXY` for both exporters.
//! - `NO_PROXY` (else `no_proxy`) lists hosts reached directly, read as Go
//!   reads it: comma-separated; `*` for all; an IP address or CIDR block
//!   (`10.0.0.0/8`); a domain (`example.com`, itself and its subdomains;
//!   `.example.com`, its subdomains only); each with an optional `:port`.
//! - A collector on loopback (`localhost`, `127.0.0.0/8`, `::1`) is always
//!   reached directly, as Go and `otlp-exporter-http` reach it: a proxy
//!   elsewhere would reach its own loopback.
//! - Only `http://` proxies (`host:port` without a scheme is one; port 80
//!   by default). A user name and password in the proxy URL
//!   (percent-encoded) go as `Proxy-Authorization: Basic`, and show in no
//!   error or `Debug` output. A `socks5://` or `https://` proxy that applies
//!   to the endpoint fails the build ([`BuildError::InvalidProxy`], naming
//!   the variable and its value) rather than being gone around: list the
//!   endpoint in `NO_PROXY` to reach it directly.
//!
//! Through a proxy, each connection goes to the proxy and asks it for a
//! tunnel to the endpoint's `host:port` (`CONNECT`; the proxy resolves the
//! name), bounded by the timeout; TLS (verified against the endpoint's
//! name, end to end) and HTTP/2 then run inside the tunnel as on a direct
//! connection. A proxy that refuses (`407`, `403`, `502`...) fails the
//! attempt with an error naming the proxy, where it came from and its
//! status; retryable, as any connection failure. Nothing changes per
//! request: the tunnel is the connection. (Many proxies tunnel to port 443
//! only: put the collector there, or use `otlp-exporter-http`.)
//!
//! ## Configuration
//!
//! From code with [`GrpcExporter::builder`], or from the typed configuration of
//! `otlp-sdk` (files, `OTEL_EXPORTER_OTLP_*` variables...) with
//! [`GrpcExporter::from_config`]. [`BuildError`] names the setting that is wrong.
//!
//! ## Example
//!
//! A local receiver (from `otlp-contrib`) stands in for your collector:
//!
//! ```
//! use std::time::Duration;
//! use otlp_contrib::receiver::{Receiver, ReceiverConfig};
//! use otlp_core::KeyValue;
//! use otlp_exporter_grpc::{Compression, GrpcExporter};
//! use otlp_sdk::{BatchSpanProcessor, TracerProvider};
//!
//! let collector = Receiver::start(ReceiverConfig::default())?;
//! let endpoint = collector.grpc_endpoint().expect("gRPC listener"); // http://127.0.0.1:<port>
//!
//! // Built with no runtime and no connection: it connects on the first export.
//! let exporter = GrpcExporter::builder()
//!     .endpoint(endpoint)
//!     .compression(Compression::Gzip)
//!     .header("x-tenant", "checkout")
//!     .timeout(Duration::from_secs(5))
//!     .build()?;
//! let processor = BatchSpanProcessor::builder(exporter).build()?;
//! let provider = TracerProvider::builder()
//!     .with_service_name("checkout")
//!     .with_processor(processor.clone())
//!     .build();
//!
//! let mut span = provider.tracer("checkout").start("place order");
//! span.set_attribute(KeyValue::new("order.items", 3));
//! span.end();
//!
//! provider.shutdown(Duration::from_secs(5))?;
//! assert_eq!(processor.stats().exported, 1);
//! assert_eq!(collector.accepted_spans()[0].name, "place order");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the configuration of `otlp-sdk` instead, `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`
//! and the other `OTEL_EXPORTER_OTLP_*` variables apply:
//!
//! ```no_run
//! use otlp_exporter_grpc::GrpcExporter;
//! use otlp_sdk::BatchSpanProcessor;
//! use otlp_sdk::config::ConfigLoader;
//!
//! let config = ConfigLoader::new().load()?;
//! let exporter = GrpcExporter::from_config(&config.exporter)?;
//! let processor = BatchSpanProcessor::builder(exporter).with_config(&config).build()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![forbid(unsafe_code)]

mod basic_auth;
mod builder;
mod classify;
mod coalesce;
pub mod codec;
mod direct;
mod error;
mod exporter;
mod proxy;
mod tls;

use std::time::Duration;

pub use builder::GrpcExporterBuilder;
pub use codec::RawCodec;
pub use error::BuildError;
pub use exporter::GrpcExporter;
/// Request compression, shared with the `otlp-sdk` configuration.
pub use otlp_sdk::config::Compression;

/// The gRPC method span requests go to.
pub const TRACE_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The gRPC method log requests go to.
pub const LOGS_EXPORT_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// The gRPC method metrics requests go to.
pub const METRICS_EXPORT_PATH: &str =
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// The gRPC method of `signal`'s requests.
///
/// ```
/// use otlp_exporter_grpc::{METRICS_EXPORT_PATH, export_path};
/// use otlp_sdk::Signal;
///
/// assert_eq!(export_path(Signal::Metrics), METRICS_EXPORT_PATH);
/// ```
pub const fn export_path(signal: otlp_sdk::Signal) -> &'static str {
    match signal {
        otlp_sdk::Signal::Logs => LOGS_EXPORT_PATH,
        otlp_sdk::Signal::Metrics => METRICS_EXPORT_PATH,
        // `Signal` is non-exhaustive: traces, and any signal added later
        // until this crate learns its method.
        _ => TRACE_EXPORT_PATH,
    }
}

/// Where the exporter sends when no endpoint is configured.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4317";

/// The default timeout of one export attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest request body sent (64 MiB, the specification's cap, before compression).
pub const MAX_REQUEST_BYTES: usize = otlp_core::encode::MAX_REQUEST_BYTES;

/// Largest response message accepted (4 MiB).
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// The `User-Agent` of every request: the specification's
/// `OTel-OTLP-Exporter-Rust/<version>` followed by this crate and its version
/// (tonic appends its own `tonic/<version>`).
pub const USER_AGENT: &str = concat!(
    "OTel-OTLP-Exporter-Rust/",
    env!("CARGO_PKG_VERSION"),
    " otlp-exporter-grpc/",
    env!("CARGO_PKG_VERSION")
);

// The README's examples, compiled as doctests (and run, but for the `no_run`
// ones) so that they keep up with the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
