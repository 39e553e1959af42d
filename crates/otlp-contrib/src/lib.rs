//! # otlp-contrib: what sits at the edges of otlp-rust
//!
//! The core crates move spans from an application to an OTLP backend. This
//! crate holds the pieces around that path: things you run next to it, test
//! it with, or plug it into. Each piece is a module behind a feature named
//! after it, so you only build what you use.
//!
//! ## Features
//!
//! The default features are what a service runs with; nothing it would only
//! test with is in its dependency graph (no `proptest`, no `rcgen`, no server).
//!
//! - [`pipeline`] (feature `pipeline`, default): `exporter_from_config`
//!   builds the exporter a loaded `otlp_sdk::config::Config` names (gRPC or
//!   HTTP, as `Box<dyn DynExporter>`), `build_processor` a batch span
//!   processor around it; `log_exporter_from_config` and
//!   `build_log_processor` do the same for log records (`config.logs`), and
//!   `metric_exporter_from_config` builds the exporter of a metrics
//!   `PeriodicReader` (`config.metrics`).
//! - [`bridge`] (feature `opentelemetry-bridge`, default): for programs
//!   written against `opentelemetry` / `opentelemetry_sdk` (and `tracing`
//!   through `tracing-opentelemetry`). `bridge::OtlpSpanProcessor` is an SDK
//!   span processor that feeds the otlp-sdk pipeline — switching is one line,
//!   `.with_span_processor(OtlpSpanProcessor::from_env()?)` in place of
//!   `.with_batch_exporter(..)` — and `bridge::SdkExporter` makes our gRPC and
//!   HTTP exporters usable as SDK span exporters, with their own runtime and
//!   retries. For an `SdkLoggerProvider` (and `opentelemetry-appender-tracing`
//!   on it), `bridge::OtlpLogProcessor` and `bridge::SdkLogExporter` do the
//!   same for log records: `.with_log_processor(OtlpLogProcessor::from_env()?)`.
//!   For an `SdkMeterProvider`, `bridge::SdkMetricExporter` is our metrics
//!   transport as the push exporter of the SDK's `PeriodicReader`:
//!   `.with_periodic_exporter(SdkMetricExporter::from_env()?)`.
//! - [`tracing`] (feature `tracing`, default): the `tracing` front door.
//!   `tracing::OtlpLayer` is a `tracing-subscriber` layer that records spans
//!   and the events inside them straight into otlp-sdk spans — switching from
//!   `tracing-opentelemetry` is one line, `OtlpLayer::new(&provider)` in place
//!   of `tracing_opentelemetry::layer().with_tracer(..)` — and
//!   `tracing::OtlpSpanExt` with `extract`/`inject` carries the trace
//!   context in and out of `http::HeaderMap`s: W3C `traceparent`/`tracestate`,
//!   or B3 when `OTEL_PROPAGATORS` says so (the span pipeline's builders,
//!   `build_processor` and `exporter_from_config`, install the configuration's
//!   propagators, the log and metrics builders do not; `extract_with`/`inject_with`
//!   take them explicitly).
//!   `tracing::OtlpLogLayer` turns `tracing` events into OTLP log records of
//!   an `otlp_sdk::LoggerProvider` — severity, the message as body, typed
//!   fields, and the trace and span ids of the `OtlpLayer` span they happen
//!   in — in place of `opentelemetry-appender-tracing`'s
//!   `OpenTelemetryTracingBridge::new(&provider)`.
//! - `log_bridge` (feature `log`, opt-in: a program that records through
//!   `tracing` does not need it): `log_bridge::OtlpLogger`, a `log::Log`
//!   that turns the `log` crate's records (level, message, target, location,
//!   key-values) into OTLP log records; `OtlpLogger::new(&provider)
//!   .install(LevelFilter::Info)` makes it the process's logger.
//! - `recorder` (feature `metrics-recorder`, opt-in): `recorder::OtlpRecorder`,
//!   a `metrics::Recorder` over otlp-sdk instruments, so a program that
//!   records through the `metrics` crate (`counter!`, `gauge!`,
//!   `histogram!`) exports OTLP metrics with `OtlpRecorder::new(&meter_provider).install()`.
//! - [`metrics`] (feature `metrics`, default): the pipeline's
//!   `StatsSnapshot` as Prometheus text exposition, named after the
//!   OpenTelemetry SDK self-metrics conventions (and, on request, the
//!   Collector's `otelcol_exporter_*` names), for a service's own `/metrics`.
//!   `metrics::MetricsServer` (feature `metrics-server`, opt-in: a hyper
//!   server) serves it on `GET /metrics`.
//! - [`file_exporter`] (feature `file-exporter`, default):
//!   `FileExporter`, an `otlp_sdk::Exporter` that appends every export request
//!   (spans, log records or metrics: one exporter per signal) as one OTLP/JSON
//!   line to a file or standard output — the specification's file exporter
//!   format, readable by any OTLP/JSON tool — flushed per request, never
//!   interleaved, with I/O errors classified for the retry policy; and
//!   `Rotation`, the Collector `fileexporter`'s size rotation
//!   (`max_megabytes`, `max_backups`, `max_days`) for it.
//!
//! Opt-in, for tests, benchmarks and debugging (not linked here: a default
//! build does not have them; docs.rs documents every feature):
//!
//! - `receiver` (feature `receiver`): an embeddable OTLP receiver of traces,
//!   logs and metrics — gRPC and HTTP, protobuf and OTLP/JSON, gzip and zstd,
//!   optional TLS/mTLS — that keeps decoded spans, log records and metrics in
//!   memory, counts requests, spans, log records and data points, and plays
//!   scripted faults (error codes, throttling with `RetryInfo` /
//!   `Retry-After`, partial success, delays, hangs, refused connections). The
//!   integration tests, examples and benchmarks of the workspace all export to
//!   it. `receiver::TestCertificates` (feature `test-certs`) generates a
//!   throwaway CA, server and client certificate for TLS tests.
//! - `testing` (feature `testing`): a reference conversion of otlp-core
//!   spans into `opentelemetry-proto` messages that shares no code with the
//!   encoders, and an allocation-counting global allocator — what the
//!   workspace's own tests check encoders, transports and "allocates nothing"
//!   claims with. `testing::fuzz` (feature `fuzzing`) adds byte-level
//!   mutations of valid inputs as `proptest` strategies.
//! - Feature `tools`: the two binaries, installed with
//!   `cargo install otlp-contrib --features tools` (in this workspace:
//!   `cargo run --release -p otlp-contrib --features tools --bin otlp-receiver -- --help`).
//!   - `otlp-receiver`: the receiver as a local debugging tool that prints
//!     each trace as an indented tree and each log record and metric data
//!     point as a line, and can append OTLP/JSON lines to a file, or just
//!     count spans, log records and data points for benchmarks
//!     (`otlp-receiver --help`).
//!   - `otlp-loadgen`: load-tests a collector through the real pipeline and
//!     exporters — workers, total spans or duration, target rate, attributes
//!     per span — with a progress line and a final summary of sent, exported,
//!     dropped, failed and spans per second; `--signal logs` sends log
//!     records instead, `--signal metrics` counter and histogram recordings
//!     over `--series` attribute sets (`otlp-loadgen --help`).
//!
//! ## Example
//!
//! The receiver (feature `receiver`) as a test uses it:
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
// The module links above: to the module when its feature is on, else to
// this version's page on docs.rs (which documents every feature), so that
// the docs build, and link, with any set of features.
#![cfg_attr(feature = "pipeline", doc = "[`pipeline`]: crate::pipeline")]
#![cfg_attr(
    not(feature = "pipeline"),
    doc = concat!(
        "[`pipeline`]: https://docs.rs/otlp-contrib/",
        env!("CARGO_PKG_VERSION"),
        "/otlp_contrib/pipeline/index.html"
    )
)]
#![cfg_attr(feature = "opentelemetry-bridge", doc = "[`bridge`]: crate::bridge")]
#![cfg_attr(
    not(feature = "opentelemetry-bridge"),
    doc = concat!(
        "[`bridge`]: https://docs.rs/otlp-contrib/",
        env!("CARGO_PKG_VERSION"),
        "/otlp_contrib/bridge/index.html"
    )
)]
#![cfg_attr(feature = "tracing", doc = "[`tracing`]: crate::tracing")]
#![cfg_attr(
    not(feature = "tracing"),
    doc = concat!(
        "[`tracing`]: https://docs.rs/otlp-contrib/",
        env!("CARGO_PKG_VERSION"),
        "/otlp_contrib/tracing/index.html"
    )
)]
#![cfg_attr(feature = "metrics", doc = "[`metrics`]: crate::metrics")]
#![cfg_attr(
    not(feature = "metrics"),
    doc = concat!(
        "[`metrics`]: https://docs.rs/otlp-contrib/",
        env!("CARGO_PKG_VERSION"),
        "/otlp_contrib/metrics/index.html"
    )
)]
#![cfg_attr(
    feature = "file-exporter",
    doc = "[`file_exporter`]: crate::file_exporter"
)]
#![cfg_attr(
    not(feature = "file-exporter"),
    doc = concat!(
        "[`file_exporter`]: https://docs.rs/otlp-contrib/",
        env!("CARGO_PKG_VERSION"),
        "/otlp_contrib/file_exporter/index.html"
    )
)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![deny(unsafe_code)]

#[cfg(feature = "opentelemetry-bridge")]
pub mod bridge;
#[cfg(any(feature = "receiver", feature = "file-exporter"))]
mod civil_date;
#[cfg(feature = "file-exporter")]
pub mod file_exporter;
#[cfg(feature = "log")]
pub mod log_bridge;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "pipeline")]
pub mod pipeline;
#[cfg(feature = "receiver")]
pub mod receiver;
#[cfg(feature = "metrics-recorder")]
pub mod recorder;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "tracing")]
pub mod tracing;

// The README's examples, compiled as doctests (and run, but for the `no_run`
// ones) so that they keep up with the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
