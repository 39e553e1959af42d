//! # otlp-exporter-http: OTLP/HTTP transport for otlp-sdk
//!
//! The pipeline of `otlp-sdk` encodes each span once, when it ends, and frames
//! a batch of them into a request; this crate carries those bytes to a
//! collector over OTLP/HTTP and tells the pipeline how it went. It only moves
//! bytes: batching, retry and accounting stay in the pipeline.
//!
//! ## How a request travels
//!
//! 1. The export loop hands [`HttpExporter`] an [`ExportRequest`](otlp_sdk::ExportRequest):
//!    an encoded `ExportTraceServiceRequest`, protobuf or OTLP/JSON.
//! 2. The exporter refuses what must never be sent (no spans, over 64 MiB),
//!    compresses the body if configured (gzip, zstd), and `POST`s it to the
//!    traces URL — `…/v1/traces` appended to a generic endpoint, a per-signal
//!    endpoint used as given — with the `Content-Type` of the encoding,
//!    the configured headers (the endpoint's user name and password as HTTP
//!    Basic `authorization`, unless that header is set) and a [`USER_AGENT`]
//!    naming this crate. Built
//!    for another [`Signal`](otlp_sdk::Signal)
//!    ([`HttpExporterBuilder::signal`]), it sends log requests to `…/v1/logs`
//!    and metrics requests to `…/v1/metrics` the same way.
//! 3. The connection is kept alive between requests. A plain `http://`
//!    endpoint reached without a proxy (on loopback, or none set, or one
//!    `NO_PROXY` exempts) uses the exporter's own hyper HTTP/1.1
//!    connections (no per-request work of reqwest's; redirects still go
//!    through reqwest); `https://` and proxied endpoints use reqwest's pool,
//!    rustls (custom CA, mTLS, or the system's roots; on `ring` unless the
//!    application installed a process-default provider) and HTTP/2
//!    when the server offers it. The environment's proxy (`HTTP_PROXY`,
//!    `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`, lowercase forms too) is used
//!    for a remote collector, never for one on loopback (`localhost`,
//!    `127.0.0.0/8`, `::1`); a request that fails through it names it.
//! 4. The answer becomes an [`ExportOutcome`](otlp_sdk::ExportOutcome) exactly as the OTLP
//!    specification says: 2xx success or partial success (decoded from a
//!    protobuf or JSON body, decompressed first when the server sent it
//!    with `Content-Encoding: gzip` or `zstd`, at most 4 MiB either way);
//!    429/502/503/504 and connection failures
//!    retryable (not a server certificate that fails verification for a
//!    reason other than time: no retry can change it), with `Retry-After` as the throttle hint; everything else
//!    permanent, with the server's `google.rpc.Status` message. The
//!    pipeline's retry policy takes it from there.
//!
//! ## The types
//!
//! - [`HttpExporter`]: the exporter, an [`otlp_sdk::Exporter`]. Cheap to clone.
//! - [`HttpExporterBuilder`]: every setting, validated once by `build`; also
//!   filled from a loaded [`otlp_sdk::config::ExporterConfig`] (and so from
//!   the `OTEL_EXPORTER_OTLP_*` variables) by [`HttpExporter::from_config`].
//! - [`HttpExporterError`]: why building failed, naming the bad setting.
//!
//! ## Example
//!
//! ```
//! use std::time::Duration;
//! use otlp_core::KeyValue;
//! use otlp_exporter_http::HttpExporter;
//! use otlp_sdk::config::Compression;
//! use otlp_sdk::{BatchSpanProcessor, TracerProvider};
//! # #[cfg(feature = "gzip")] {
//! # let receiver = otlp_contrib::receiver::Receiver::start(Default::default())?;
//! # let endpoint = receiver.http_endpoint().expect("the receiver serves OTLP/HTTP");
//!
//! // `endpoint` is the collector's base URL, like "http://localhost:4318".
//! let exporter = HttpExporter::builder()
//!     .endpoint(endpoint)
//!     .compression(Compression::Gzip)
//!     .header("x-tenant", "checkout-team")
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
//! # assert_eq!(receiver.span_count(), 1);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Features
//!
//! - `gzip` (default): gzip request compression, pure Rust.
//! - `zstd` (default): zstd request compression; builds the zstd C library.
//!
//! TLS needs no feature and no setup: the exporter builds its rustls
//! configuration on the `ring` provider itself, so the application never
//! has to install a process-wide `CryptoProvider`, and `aws-lc-rs` is not
//! in the dependency graph. An application that installs a process default
//! provider (`CryptoProvider::install_default`, before the exporter is
//! built) has the exporter's connections use it, as tonic's do for the gRPC
//! exporter.
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![forbid(unsafe_code)]

mod builder;
mod client;
mod compression;
mod error;
mod exporter;
mod plain;
mod proxy;
mod response;
mod tls;

pub use builder::HttpExporterBuilder;
pub use client::USER_AGENT;
pub use error::HttpExporterError;
pub use exporter::HttpExporter;
pub use response::{MAX_ERROR_MESSAGE_BYTES, MAX_RESPONSE_BYTES};

// The README's examples, compiled as doctests (and run, but for the `no_run`
// ones) so that they keep up with the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
