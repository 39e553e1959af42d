//! Pipeline self-metrics in the Prometheus text exposition format.
//!
//! [`render_prometheus`] turns one pipeline's [`StatsSnapshot`](otlp_sdk::StatsSnapshot)
//! into Prometheus text; [`Exposition`] does the same for several pipelines
//! (told apart by [`Labels`]) and can add the OpenTelemetry Collector's metric
//! names. [`Exposition`] documents every metric and where its value comes from.
//! `MetricsServer` (feature `metrics-server`) serves the text on
//! `GET /metrics` for Prometheus to scrape.
//!
//! ```
//! use otlp_contrib::metrics::{render_prometheus, Labels};
//! use otlp_sdk::{BatchSpanProcessor, ExportOutcome, ExportRequest, Exporter};
//! use otlp_core::encode::Encoding;
//!
//! struct Accept;
//! impl Exporter for Accept {
//!     fn encoding(&self) -> Encoding { Encoding::Protobuf }
//!     async fn export(&self, _: ExportRequest) -> ExportOutcome { ExportOutcome::Success }
//! }
//!
//! let processor = BatchSpanProcessor::builder(Accept).build()?;
//! let labels = Labels::new([("pipeline", "checkout")])?;
//! let text = render_prometheus(&processor.stats(), &labels);
//! assert!(text.contains("otlp_sdk_queue_capacity_bytes{pipeline=\"checkout\"} 67108864\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod exposition;
#[cfg(feature = "metrics-server")]
mod server;

use std::net::SocketAddr;

pub use exposition::{CONTENT_TYPE, Exposition, Labels, render_prometheus};
#[cfg(feature = "metrics-server")]
pub use server::MetricsServer;

/// What can go wrong building labels or starting a `MetricsServer`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// A label name Prometheus (or the exposition) does not allow.
    #[error("invalid metric label `{name}`: {reason}")]
    InvalidLabel {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The metrics listener could not be bound.
    #[error("cannot listen for /metrics on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The server's thread or runtime could not be started.
    #[error("cannot start the metrics server: {0}")]
    Start(#[source] std::io::Error),
}
