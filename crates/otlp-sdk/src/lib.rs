//! # otlp-sdk: from finished span to export, with every span accounted for
//!
//! This crate is the pipeline of the `otlp-rust` workspace. It collects
//! finished [`otlp_core::SpanData`], batches them, encodes each batch once,
//! hands the bytes to a transport, retries what can be retried, and keeps
//! count of where every span went.
//!
//! ## How a span travels
//!
//! 1. A [`Tracer`] (from a [`TracerProvider`]) starts a [`Span`]; ending it
//!    (or dropping it) hands the finished span to each [`SpanProcessor`].
//!    The `opentelemetry` bridge in `otlp-contrib` feeds the same processors.
//! 2. [`BatchSpanProcessor::on_end`](SpanProcessor::on_end) moves the span into a
//!    bounded lock-free queue: no lock, no allocation, no syscall. A full
//!    queue drops the span and counts it (or waits a bounded time, if
//!    configured with [`config::FullPolicy::Block`]).
//! 3. One export loop per pipeline, on its own thread with its own small
//!    tokio runtime, cuts a batch at the batch size or after the scheduled
//!    delay (adaptive mode moves the size with queue depth and latency),
//!    encodes it once into a pooled buffer ([`Pool`]), and starts up to
//!    `max_concurrent_exports` exports.
//! 4. An [`Exporter`] (OTLP/gRPC in `otlp-exporter-grpc`, OTLP/HTTP in
//!    `otlp-exporter-http`) sends the bytes and classifies the outcome; the
//!    [`RetryPolicy`] resends the same bytes with backoff and jitter until the
//!    batch's deadline.
//! 5. [`StatsSnapshot`] says where every span is:
//!    `produced = exported + dropped + failed + rejected + queued + in_flight`,
//!    at any moment and exactly after shutdown. `force_flush` and `shutdown`
//!    return by their deadline, even if the backend hangs.
//!
//! The pipeline never records itself: its threads install a no-op `tracing`
//! dispatcher and run the suppression hooks of other telemetry APIs (see
//! [`own_threads`]), so the exporters' own instrumentation never comes back
//! into the queue.
//!
//! Configuration ([`config::Config`]) comes from defaults, files, the
//! standard `OTEL_*` variables, `OTLP__SECTION__KEY` overrides and code.
//!
//! ## Example
//!
//! ```
//! use std::time::Duration;
//! use otlp_sdk::{BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter, TracerProvider};
//! use otlp_core::{encode::Encoding, KeyValue};
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
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![forbid(unsafe_code)]

mod backlog;
mod batch_size;
pub mod config;
mod counter;
pub mod durable;
mod error;
mod export_loop;
mod exporter;
mod limits;
pub mod own_threads;
mod pool;
mod processor;
mod provider;
mod queue;
mod recycle;
mod retry;
mod sampler;
mod span;
mod stats;
mod tracer;

pub use error::PipelineError;
pub use exporter::{
    BoxExportFuture, DynExporter, ExportError, ExportOutcome, ExportRequest, Exporter,
};
pub use limits::SpanLimits;
pub use pool::{Pool, PoolStats, Pooled};
pub use processor::{BatchSpanProcessor, BatchSpanProcessorBuilder, SpanProcessor};
pub use provider::{TracerProvider, TracerProviderBuilder};
pub use retry::{RetryPolicy, SendEvent, Settlement};
pub use sampler::Sampler;
pub use span::Span;
pub use stats::{LatencySummary, StatsSnapshot, Summary};
pub use tracer::{SpanBuilder, Tracer};
