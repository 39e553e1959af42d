//! # otlp-contrib: what sits at the edges of otlp-rust
//!
//! The core crates move spans from an application to an OTLP backend. This
//! crate holds the pieces around that path: things you run next to it, test
//! it with, or plug it into. Each piece is a module behind a feature named
//! after it, so you only build what you use.
//!
//! ## Pieces
//!
//! - [`receiver`] (feature `receiver`, on by default): an embeddable OTLP
//!   trace receiver — gRPC and HTTP, protobuf and OTLP/JSON, gzip and zstd,
//!   optional TLS/mTLS — that keeps decoded spans in memory, counts requests
//!   and spans, and plays scripted faults (error codes, throttling with
//!   `RetryInfo` / `Retry-After`, partial success, delays, hangs, refused
//!   connections). The integration tests, examples and benchmarks of the
//!   workspace all export to it. `receiver::TestCertificates` (feature
//!   `test-certs`, on by default) generates a throwaway CA, server and client
//!   certificate for TLS tests.
//! - The `otlp-receiver` binary: the same receiver as a local debugging tool
//!   that prints each trace as an indented tree and can append OTLP/JSON
//!   lines to a file, or just count spans for benchmarks
//!   (`otlp-receiver --help`).
//! - [`bridge`] (feature `opentelemetry-bridge`, on by default): for programs
//!   written against `opentelemetry` / `opentelemetry_sdk` (and `tracing`
//!   through `tracing-opentelemetry`). `bridge::OtlpSpanProcessor` is an SDK
//!   span processor that feeds the otlp-sdk pipeline — switching is one line,
//!   `.with_span_processor(OtlpSpanProcessor::from_env()?)` in place of
//!   `.with_batch_exporter(..)` — and `bridge::SdkExporter` makes our gRPC and
//!   HTTP exporters usable as SDK span exporters, with their own runtime and
//!   retries.
//! - [`file_exporter`] (feature `file-exporter`, on by default):
//!   `FileExporter`, an `otlp_sdk::Exporter` that appends every export request
//!   as one OTLP/JSON line to a file or standard output — the specification's
//!   file exporter format, readable by any OTLP/JSON tool — flushed per
//!   request, never interleaved, with I/O errors classified for the retry policy.
//! - [`metrics`] (feature `metrics`, on by default): the pipeline's
//!   `StatsSnapshot` as Prometheus text exposition, named after the
//!   OpenTelemetry SDK self-metrics conventions (and, on request, the
//!   Collector's `otelcol_exporter_*` names); `metrics::MetricsServer`
//!   (feature `metrics-server`) serves it on `GET /metrics`.
//! - [`pipeline`] (feature `pipeline`, on by default): `exporter_from_config`
//!   builds the exporter a loaded `otlp_sdk::config::Config` names (gRPC or
//!   HTTP, as `Box<dyn DynExporter>`), `build_processor` a batch span
//!   processor around it.
//! - The `otlp-loadgen` binary (feature `loadgen`, on by default): load-tests a
//!   collector through the real pipeline and exporters — workers, total spans
//!   or duration, target rate, attributes per span — with a progress line and
//!   a final summary of sent, exported, dropped, failed and spans per second
//!   (`otlp-loadgen --help`).
//! - [`testing`] (feature `testing`, on by default): a reference conversion of
//!   otlp-core spans into `opentelemetry-proto` messages that shares no code
//!   with the encoders, and an allocation-counting global allocator — what the
//!   workspace's own tests check encoders, transports and "allocates nothing"
//!   claims with.
//!
//! ## Example
//!
//! ```
//! use std::time::Duration;
//! use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig, Store};
//!
//! // gRPC and HTTP on free loopback ports, spans counted but not kept.
//! let receiver = Receiver::start(ReceiverConfig {
//!     store: Store::CountOnly,
//!     ..Default::default()
//! })?;
//! let grpc = receiver.grpc_endpoint().expect("gRPC is on by default");
//! let http = receiver.http_traces_url().expect("HTTP is on by default");
//! println!("export to {grpc} or {http}");
//!
//! // The next request is refused as unavailable, then all succeed.
//! receiver.push_faults([Fault::Unavailable]);
//! assert_eq!(receiver.pending_faults(), 1);
//! assert!(!receiver.wait_for_spans(1, Duration::from_millis(1)));
//! # Ok::<(), otlp_contrib::receiver::ReceiverError>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![deny(unsafe_code)]

#[cfg(feature = "opentelemetry-bridge")]
pub mod bridge;
#[cfg(feature = "file-exporter")]
pub mod file_exporter;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "pipeline")]
pub mod pipeline;
#[cfg(feature = "receiver")]
pub mod receiver;
#[cfg(feature = "testing")]
pub mod testing;
