//! # otlp-sdk: from finished record to export, with every record accounted for
//!
//! This crate holds the pipelines of the `otlp-rust` workspace. It encodes
//! each finished [`otlp_core::SpanData`] (and each emitted
//! [`otlp_core::LogRecord`]) once, queues the bytes, batches them, hands
//! requests to a transport, retries what can be retried, and keeps count of
//! where every record went. Spans tell the story below; log records take
//! the same road (see "Log records"). Metrics are aggregated where they are
//! measured and exported periodically over the same transports and retry
//! (see "Metrics").
//!
//! ## How a span travels
//!
//! 1. A [`Tracer`] (from a [`TracerProvider`]) starts a [`Span`]; ending it
//!    (or dropping it) hands the finished span to each [`SpanProcessor`].
//!    The `opentelemetry` bridge in `otlp-contrib` feeds the same processors.
//!    A root span's trace flags carry W3C level 2's `random` flag
//!    ([`TraceFlags::RANDOM`](otlp_core::TraceFlags::RANDOM): its
//!    `traceparent` ends in `-03` when sampled), as every trace id the tracer
//!    makes is random; a child keeps its parent's `random` flag. The
//!    provider's [`Sampler`] decides at start whether the span records and
//!    is sampled: a built-in one by its parent and trace id, or one of the
//!    program's own ([`ShouldSample`]) by what the span starts with (name,
//!    kind, attributes, links), which may also record a span for the
//!    processors without exporting it ([`SamplingDecision::RecordOnly`]).
//! 2. [`BatchSpanProcessor::on_end`](SpanProcessor::on_end) encodes the span,
//!    on the thread that ended it, into the bytes of one OTLP `Span` message
//!    tagged with its resource and scope, and appends them to that thread's
//!    block of the pipeline's queue. The queue is bounded by bytes
//!    (`max_queue_bytes`, 64 MiB by default; a cap on the count only when
//!    `OTEL_BSP_MAX_QUEUE_SIZE` is set). A full queue makes the caller wait
//!    while exports make progress, and drops and counts the span once the
//!    backend is stalled ([`config::FullPolicy`]).
//! 3. One export loop per pipeline, on its own thread, takes the records in
//!    the order their blocks were handed over, cuts a batch at the batch size
//!    or after the scheduled delay (adaptive mode moves the size with queue
//!    depth and latency), writes only the `ResourceSpans`/`ScopeSpans`
//!    framing around the records into a pooled buffer ([`Pool`]) —
//!    transcoding to OTLP/JSON for a JSON exporter — and starts up to
//!    `max_concurrent_exports` exports. They run on the pipeline's own tokio
//!    runtime, which by default is the loop's thread itself, driving the
//!    requests whenever the loop waits (`performance.io_threads` gives them
//!    worker threads of their own instead).
//! 4. An [`Exporter`] (OTLP/gRPC in `otlp-exporter-grpc`, OTLP/HTTP in
//!    `otlp-exporter-http`) sends the bytes and classifies the outcome; the
//!    [`RetryPolicy`] resends the same bytes with backoff and jitter until the
//!    batch's deadline. The durable queue ([`durable`]), when on, stores the
//!    same bytes.
//! 5. [`StatsSnapshot`] says where every span is:
//!    `produced = exported + dropped + failed + rejected + queued + in_flight`,
//!    at any moment and exactly after shutdown, and how many bytes the queue
//!    holds. [`StatsSnapshot::bytes`] ([`ByteAccount`]) keeps the same
//!    identity in the records' encoded bytes. `force_flush` and `shutdown` return by their deadline, even if
//!    the backend hangs. A provider shuts its processors down once: a later
//!    [`TracerProvider::shutdown`] (or [`LoggerProvider::shutdown`]) returns
//!    [`PipelineError::ShutDown`] without calling them.
//! 6. Losses are told, unasked: a pipeline that fails, or drops, records
//!    (as a metrics reader that fails data points)
//!    hands a [`diagnostics::LossReport`] to the process's loss handler (by
//!    default a line on standard error, which `OTEL_LOG_LEVEL=none`
//!    silences) at the first loss, at most every ten
//!    seconds while they go on, and at shutdown.
//!
//! ## Log records
//!
//! A [`LoggerProvider`] hands out [`Logger`]s; [`Logger::emit`] stamps an
//! [`otlp_core::LogRecord`] with the provider's resource and the logger's
//! scope, gives a record that carries no trace and span ids those of the
//! thread's [`active_span`] ([`Logger::emit_in`] takes the context
//! explicitly instead), and hands it to each [`LogProcessor`] in the order
//! they were added: [`LogProcessor::on_emit`] takes `&mut LogRecord`, so each
//! processor sees what those before it changed. [`Logger::enabled_for`]
//! asks the processors whether a record of a severity and event name would
//! be kept, for a caller that would rather not build it. [`BatchLogProcessor`] is
//! the span pipeline for log records: the same queue of encoded records,
//! export loop, retry, durable queue and [`StatsSnapshot`] (counted in log
//! records), with `ResourceLogs`/`ScopeLogs` framing and an exporter of
//! [`Signal::Logs`]. Configuration: [`config::Config::logs`].
//!
//! ## Metrics
//!
//! A [`metrics::MeterProvider`] hands out meters and their instruments.
//! Recording finds the measurement's series without a lock and updates it
//! with atomics; a [`metrics::PeriodicReader`] collects every interval,
//! encodes one `ExportMetricsServiceRequest` and sends it through an
//! exporter of [`Signal::Metrics`] with the [`RetryPolicy`]. Configuration:
//! [`config::Config::metrics`]. Exemplars come from the thread's
//! [`active_span`]. An instrument it cannot take as asked (registered again
//! otherwise, an invalid name or advice, a view it cannot have) is counted
//! and warned of once ([`diagnostics::Warning`]). Details: the [`metrics`]
//! module.
//!
//! ## The queue: per-thread blocks of encoded records
//!
//! Why encoded bytes: a queued span costs what it weighs on the wire plus
//! eight bytes (about 300 bytes for a span with eight short attributes,
//! against some 800 for the span itself with its attribute vector), so the
//! default budget holds an outage of seconds at tens of thousands of spans
//! per second; and nothing of a span (vectors, strings) is freed on another
//! thread than the one that made it. Its resource and scope are named by an
//! index into its block's list, which holds one handle on each per block;
//! the loop merges equal ones and forgets those no longer used, so a
//! pipeline takes the records of new scopes for as long as it runs.
//!
//! How they travel: each producing thread fills a block of its own (64 KiB)
//! and hands it to the loop when it is full; the loop takes the blocks of
//! threads that are slow to fill them when the scheduled delay runs out, for
//! a flush, and when a producer finds no room. Blocks are reserved from the
//! byte budget when started and recycled after export.
//!
//! Cost model, per span on the producing thread: one pass encoding it in
//! place into the block, a thread-local lookup, two uncontended atomic swaps,
//! no lock, no allocation, no syscall; the reference count a span takes at
//! start and gives back at end is on its thread's own handle on the
//! pipeline (the provider keeps one per thread that starts spans), not on a
//! cache line every thread writes, and its attribute vector and its
//! resource and scope handles are kept for the thread's next span
//! (`spare_attributes`, `spare_handles`). Per block of
//! about two hundred spans: a compare-exchange on the budget, an uncontended
//! lock to hand it over, at most one wake-up of the loop. A shared byte ring
//! with reserve/commit would instead write a shared counter per span.
//! Details and the closing protocol: the `record_queue` module; a block and
//! its records' groups: the `record_block` module.
//!
//! The pipeline never records itself: its threads install a no-op `tracing`
//! dispatcher and run the suppression hooks of other telemetry APIs (see
//! [`own_threads`]), so the exporters' own instrumentation never comes back
//! into the queue; and while a provider or logger calls its processors, the
//! thread is marked ([`processor_calls`]) so that what a processor logs
//! meanwhile is not handed back to it through a front door.
//!
//! Configuration ([`config::Config`]) comes from defaults, files, the
//! standard `OTEL_*` variables, `OTLP__SECTION__KEY` overrides and code.
//! `OTEL_TRACES_EXPORTER=none` (likewise `OTEL_LOGS_EXPORTER`,
//! `OTEL_METRICS_EXPORTER`) means no exporter from configuration: a
//! provider built `with_config` leaves out the processors and readers over
//! an exporter that [stands for that `none`](Exporter::stands_for_none),
//! and those the program gives in code still get every record;
//! `OTEL_SDK_DISABLED=true` turns everything off.
//!
//! ## Features
//!
//! - `yaml` and `toml` (default): configuration files in YAML
//!   (`serde_norway`) and TOML (`toml`). Without one, a file in its format
//!   is a [`ConfigError`](config::ConfigError) naming the feature; a program
//!   that reads no files can turn both off (`default-features = false`).
//!   The exporters leave them to the program; otlp-contrib turns them on
//!   with the features that load a configuration (`opentelemetry-bridge`,
//!   a default, and `tools`).
//! - `gzip` and `zstd`: request compression for the transports
//!   ([`compression`]; zstd builds the zstd C library). The exporters'
//!   features of the same names turn them on.
//!
//! ## Example
//!
//! ```
//! use std::time::Duration;
//! use otlp_sdk::{BatchSpanProcessor, Encoding, ExportOutcome, ExportRequest, Exporter, TracerProvider};
//! use otlp_core::KeyValue;
//!
//! // A transport: here one that accepts everything.
//! struct Accept;
//! impl Exporter for Accept {
//!     fn encoding(&self) -> Encoding { Encoding::Protobuf }
//!     async fn export(&self, _: ExportRequest) -> ExportOutcome { ExportOutcome::Success }
//! }
//!
//! let processor = BatchSpanProcessor::builder(Accept).build()?;
//! let provider = TracerProvider::builder()
//!     .with_service_name("checkout")
//!     .with_processor(processor.clone())
//!     .build();
//! let tracer = provider.tracer("checkout");
//! let mut span = tracer.start("place order");
//! span.set_attribute(KeyValue::new("order.items", 3));
//! span.end();
//!
//! provider.shutdown(Duration::from_secs(5))?;
//! let stats = processor.stats();
//! assert!(stats.is_balanced() && stats.exported == 1);
//! assert!(stats.bytes.is_balanced() && stats.bytes.answered == stats.bytes.produced);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![forbid(unsafe_code)]

pub mod active_span;
mod attribute_hash;
mod backlog;
mod batch;
mod batch_pipeline;
mod batch_size;
pub mod compression;
pub mod config;
mod counter;
pub mod deadline;
mod destination;
pub mod diagnostics;
pub mod durable;
mod ending_thread;
mod error;
mod export_loop;
mod export_runtime;
mod exporter;
mod fan_out;
mod group_table;
mod layered;
mod limits;
mod log_processor;
mod logger;
pub mod metrics;
pub mod own_threads;
mod pool;
mod processor;
pub mod processor_calls;
mod provider;
mod provider_state;
mod queued_record;
mod record_block;
mod record_queue;
mod resource_settings;
mod retry;
mod sampler;
mod shared;
mod span;
mod spare_attributes;
mod spare_handles;
mod stats;
mod tracer;
mod unique_keys;

pub use batch_pipeline::BatchProcessorBuilder;
pub use error::PipelineError;
pub use exporter::{
    BoxExportFuture, DynExporter, ExportError, ExportOutcome, ExportRequest, Exporter, Signal,
    find_in_chain,
};
pub use limits::{LogRecordLimits, SpanLimits};
pub use log_processor::{BatchLogProcessor, BatchLogProcessorBuilder, LogProcessor};
pub use logger::{Logger, LoggerProvider, LoggerProviderBuilder};
/// How a request's body is encoded, OTLP/protobuf or OTLP/JSON: what
/// [`Exporter::encoding`] returns and [`ExportRequest::encoding`] carries.
/// `otlp_core::encode::Encoding`, re-exported so that an exporter (and a
/// [`durable::DurableQueue`]'s user) needs no dependency on `otlp-core`.
pub use otlp_core::encode::Encoding;
pub use pool::{Pool, PoolStats, Pooled};
pub use processor::{BatchSpanProcessor, BatchSpanProcessorBuilder, SpanProcessor};
pub use provider::{TracerProvider, TracerProviderBuilder};
pub use retry::{
    RetryCutoff, RetryPolicy, SendEvent, Settlement, attempt_deadline, attempt_window,
};
pub use sampler::{
    ParentBasedSamplers, Sampler, SamplingDecision, SamplingParameters, SamplingResult,
    ShouldSample,
};
pub use span::Span;
pub use stats::{ByteAccount, LatencySummary, StatsSnapshot, Summary};
pub use tracer::{SpanBuilder, Tracer};
pub use unique_keys::keep_last_value_per_key;

// The README's examples, compiled as doctests (and run, but for the `no_run`
// ones) so that they keep up with the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
