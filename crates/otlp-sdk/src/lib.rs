//! # otlp-sdk
//!
//! (crate story written with the pipeline)
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod batch_size;
pub mod config;
mod counter;
mod error;
mod export_loop;
mod exporter;
mod pool;
mod processor;
mod queue;
mod retry;
mod stats;

pub use error::PipelineError;
pub use exporter::{BoxExportFuture, DynExporter, ExportError, ExportOutcome, ExportRequest, Exporter};
pub use pool::{Pool, PoolStats, Pooled};
pub use processor::{BatchSpanProcessor, BatchSpanProcessorBuilder, SpanProcessor};
pub use retry::RetryPolicy;
pub use stats::{LatencySummary, StatsSnapshot, Summary};
