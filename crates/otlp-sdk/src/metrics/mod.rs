//! Metrics: instruments, in-process aggregation and periodic export.
//!
//! Metrics are not a queue of records: measurements are aggregated where
//! they are taken, and a reader exports the aggregates periodically.
//!
//! ## How a measurement travels
//!
//! 1. A [`MeterProvider`] hands out [`Meter`]s; a meter builds instruments:
//!    [`Counter`], [`UpDownCounter`], [`Histogram`], [`Gauge`], and their
//!    observable (callback) forms, for `u64`/`i64`/`f64` as OTLP allows.
//! 2. Each instrument has one stream per [`View`] that selects it (or its
//!    default stream). Recording finds the stream's series for the
//!    measurement's attributes in a table read without a lock (the
//!    `series_table` module; a delta stream takes an uncontended read lock
//!    of the thread's stripe, so that it can free the series it forgets)
//!    and updates the series' cell with atomics (the `aggregation` module):
//!    no waiting, no allocation once the series exists. Only the
//!    exponential histogram records under the series' own mutex.
//!    New attribute sets past the cardinality limit (2000 by default) go to
//!    the `otel.metric.overflow=true` series, counted in [`MetricsStats`].
//! 3. A measurement taken inside a sampled span (the thread's
//!    [`active_span`](crate::active_span)) is offered as an exemplar.
//! 4. The [`PeriodicReader`] collects every `OTEL_METRIC_EXPORT_INTERVAL`
//!    (60 s), on `force_flush` and at `shutdown`: it runs the callbacks,
//!    takes each series' delta (adding it to the totals of cumulative
//!    streams), encodes one `ExportMetricsServiceRequest` and sends it with
//!    the retry policy of the span pipeline, by `OTEL_METRIC_EXPORT_TIMEOUT`.
//!
//! Temporality follows `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`
//! (the spec's table: `cumulative` for all; `delta` for counters, histograms
//! and observable counters, and for both gauges, which the table leaves out,
//! as `opentelemetry_sdk` does; `lowmemory` for counters and histograms); the
//! aggregation of histograms follows
//! `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`.
//!
//! The span and log pipelines' own counts become metrics too:
//! [`observe_pipeline`] (names in the Collector's style).
//!
//! A cumulative stream's series live as long as their stream. A delta
//! stream reports the series with measurements in the interval and forgets
//! all its series at each collection, as `opentelemetry_sdk` does: the
//! cardinality limit counts the sets of one interval (the spec's collection
//! cycle), no set holds memory past the interval it was recorded in, and a
//! set recorded again is a new series, whose first measurement takes the
//! slow path once (the `series_table` module says why no measurement racing
//! that is lost).
//!
//! ## Example
//!
//! ```
//! use std::time::Duration;
//! use otlp_core::{encode::Encoding, KeyValue};
//! use otlp_sdk::metrics::{MeterProvider, PeriodicReader};
//! use otlp_sdk::{ExportOutcome, ExportRequest, Exporter, Signal};
//!
//! struct Accept;
//! impl Exporter for Accept {
//!     fn encoding(&self) -> Encoding { Encoding::Protobuf }
//!     fn signal(&self) -> Signal { Signal::Metrics }
//!     async fn export(&self, _: ExportRequest) -> ExportOutcome { ExportOutcome::Success }
//! }
//!
//! let provider = MeterProvider::builder()
//!     .with_service_name("checkout")
//!     .with_reader(PeriodicReader::builder(Accept).with_interval(Duration::from_secs(10)).build()?)
//!     .build()?;
//! let meter = provider.meter("checkout");
//! let latency = meter.f64_histogram("http.server.request.duration").with_unit("s").build();
//! latency.record(0.012, &[KeyValue::new("http.route", "/cart")]);
//! provider.shutdown(Duration::from_secs(5))?;
//! assert_eq!(provider.stats().exported_data_points, 1);
//! # Ok::<(), otlp_sdk::metrics::MetricsError>(())
//! ```

mod aggregation;
mod attributes;
mod collection_mark;
mod exemplar;
mod exponential;
mod extremes;
mod instrument;
mod instrument_kind;
mod pipeline_stats;
mod provider;
mod reader;
mod series_table;
mod stream;
mod view;

use std::time::Duration;

pub use instrument::{
    Counter, Gauge, Histogram, Number, ObservableCounter, ObservableGauge, ObservableUpDownCounter,
    Observer, UpDownCounter,
};
pub use instrument_kind::InstrumentKind;
pub use pipeline_stats::observe_pipeline;
pub use provider::{
    DEFAULT_CARDINALITY_LIMIT, InstrumentBuilder, Meter, MeterProvider, MeterProviderBuilder,
    ObservableBuilder,
};
pub use reader::{
    DEFAULT_EXPORT_INTERVAL, DEFAULT_EXPORT_TIMEOUT, PeriodicReader, PeriodicReaderBuilder,
};
pub use series_table::OVERFLOW_ATTRIBUTE;
pub use view::{Aggregation, DEFAULT_HISTOGRAM_BOUNDARIES, View};

use crate::config::ConfigError;
use crate::exporter::Signal;

/// What building, flushing or shutting down a metrics pipeline reports.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// A view asks for something impossible.
    #[error("invalid view {view:?}: {reason}")]
    InvalidView {
        /// The view's instrument name pattern.
        view: String,
        /// What is wrong.
        reason: String,
    },
    /// The cardinality limit must be positive (one attribute set of its own,
    /// beside the overflow series).
    #[error("invalid cardinality limit {0}: it must be at least 1")]
    InvalidCardinalityLimit(usize),
    /// The reader's interval must be positive.
    #[error("invalid export interval {0:?}: it must be positive")]
    InvalidInterval(Duration),
    /// A reader setting given in code is invalid (the error names its key
    /// and value, as the span and log pipelines' builders do): a zero
    /// export timeout (`metrics.export_timeout`; the configuration's `0`
    /// means no limit, [`NO_TIMEOUT`](crate::config::NO_TIMEOUT)), a retry
    /// policy the configuration would refuse (`retry.*`), or a request cap
    /// of 0 or past 64 MiB (`performance.max_request_bytes`).
    #[error("invalid metrics reader setting: {0}")]
    InvalidReaderSetting(#[source] ConfigError),
    /// The reader's exporter sends another signal.
    #[error("the metrics reader needs an exporter of metrics, not of {0}")]
    WrongSignal(Signal),
    /// More than one reader was given to one provider (their count), which
    /// runs one: with two, one would never be read.
    #[error(
        "{0} metric readers were given to one meter provider, which runs one: \
         give each reader a provider of its own"
    )]
    SeveralReaders(usize),
    /// The reader's thread or runtime could not start.
    #[error("could not start the metrics reader: {0}")]
    Start(String),
    /// The flush or shutdown did not finish in time.
    #[error("the metrics export did not settle within {0:?}")]
    Timeout(Duration),
    /// Some data points were not accepted.
    #[error("{failed} data points failed to export and {rejected} were rejected by the backend")]
    Undelivered {
        /// Data points whose export failed.
        failed: u64,
        /// Data points the backend rejected (partial success).
        rejected: u64,
    },
    /// The provider was already shut down.
    #[error("the meter provider is shut down")]
    ShutDown,
}

/// Counts of a metrics pipeline.
///
/// The data points a reader exports are accounted for at any moment:
/// `produced_data_points = exported_data_points + rejected_data_points +
/// failed_data_points + in_flight_data_points`, and once the provider is
/// shut down nothing is in flight: a shutdown that runs out of time counts
/// the data points still in flight failed (whatever the busy reader does
/// after, it sends and counts nothing more).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsStats {
    /// Collections run (by the reader, flushes, shutdown or `collect`).
    pub collections: u64,
    /// Data points the reader's collections handed to export (a
    /// [`MeterProvider::collect`] by the program exports nothing and is not
    /// counted).
    pub produced_data_points: u64,
    /// Of those, the ones not settled yet: being exported or retried.
    pub in_flight_data_points: u64,
    /// Export requests settled. A request a shutdown out of time gave up
    /// on counts as settled when the shutdown returns (its data points
    /// counted failed); the requests of that collection not sent yet are
    /// never sent, nor counted.
    pub exports: u64,
    /// Data points the backend accepted.
    pub exported_data_points: u64,
    /// Data points the backend rejected (partial success).
    pub rejected_data_points: u64,
    /// Data points whose export failed (permanent error, or retries
    /// exhausted by the export timeout, or called off by a shutdown whose
    /// deadline came before the next one).
    pub failed_data_points: u64,
    /// Export attempts retried.
    pub retries: u64,
    /// Measurements (and observations) that went to the overflow series
    /// because their stream had reached its cardinality limit.
    pub overflowed_measurements: u64,
    /// Measurements refused, ignored: negative values given to a counter
    /// (a monotonic sum), and NaN and the infinities given to an instrument
    /// whose streams sum them or make a histogram of them (counters,
    /// up-down counters, histograms; a gauge only through a view), or
    /// observed by a callback of an instrument whose streams sum them
    /// (observable counters and up-down counters).
    pub refused_measurements: u64,
    /// Instruments refused (invalid name or unit): they record nothing.
    pub invalid_instruments: u64,
    /// Advisory parameters ignored because they were invalid (histogram
    /// boundaries not finite or not increasing): the instrument was
    /// created as if they had not been given.
    pub ignored_advice: u64,
    /// Views skipped for an instrument they selected but cannot apply to
    /// (a histogram aggregation for an observable instrument), once per
    /// instrument: the instrument's streams are made as if the view did not
    /// exist.
    pub ignored_views: u64,
    /// Instruments registered with the name of an instrument of the same
    /// meter (names compare case-insensitively) but another description,
    /// unit, kind or number type, and no view resolving it (renaming one of
    /// them, or setting their description): the spec's duplicate
    /// instrument registration conflict, which it asks to warn of. Each
    /// conflicting registration counts once. Both instruments work and both
    /// metrics are exported, under one name, which backends may refuse or
    /// mix up; an instrument registered again with only another description
    /// is the first instrument, and keeps the first description. So is a
    /// histogram registered again advised other boundaries (or advice where
    /// the first had none, or none where it had some), counted too unless
    /// a view's aggregation leaves advice aside: it keeps the first
    /// advice, as the spec asks. (The same name in another case is the
    /// same instrument, under its first name: warned of, not counted.) Counted
    /// too: an instrument one of whose views gives a stream the name of
    /// another stream of the meter, alike in every other respect (two
    /// instruments renamed alike, two views selecting one instrument
    /// without renaming it): the spec's conflicting metric identities, also
    /// exported apart under one name.
    pub conflicting_instruments: u64,
    /// Observable callbacks that panicked.
    pub callback_panics: u64,
    /// The last export error or partial-success message.
    pub last_error: Option<String>,
}
