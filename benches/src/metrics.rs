//! Metrics (issue 17): otlp-sdk's instruments and `opentelemetry_sdk`'s set
//! up alike, and the loops that time them.
//!
//! Both sides get a counter ([`COUNTER_NAME`], `u64`) and a histogram
//! ([`HISTOGRAM_NAME`], `f64`, default explicit buckets: the same 15
//! boundaries on both sides), cumulative temporality, one `PeriodicReader`
//! whose interval (an hour) never fires during a measurement, and a
//! cardinality limit of [`CARDINALITY_LIMIT`] on every stream (both SDKs
//! default to 2,000, which the 10,000 series of `compare --scenario metrics`
//! would overflow). The exporter is either one that drops every request
//! ([`Exporter::Discard`]: the microbenchmarks, where nothing is collected)
//! or each SDK's OTLP/gRPC exporter to an endpoint ([`Exporter::Grpc`]:
//! otlp-exporter-grpc, and `opentelemetry-otlp`'s tonic `MetricExporter`
//! inside its own tokio runtime, as its documentation says).
//!
//! A recording builds its three attributes per call, as a call site does:
//! static keys and values ([`KEYS`], [`METHOD`], [`ROUTES`], [`STATUS`]);
//! `series` picks the route, so two threads can share a series or have one
//! each. [`Instruments::add_distinct`] and
//! [`Instruments::record_distinct`] make a new series per index (the route
//! an owned `String`) for the memory and export measurements.
//!
//! ```
//! use otlp_benches::metrics::{BaselineInstruments, Exporter, Instruments, OursInstruments};
//!
//! let ours = OursInstruments::new(&Exporter::Discard).unwrap();
//! let baseline = BaselineInstruments::new(&Exporter::Discard).unwrap();
//! for side in [&ours as &dyn Instruments, &baseline] {
//!     side.add(0);
//!     side.record(1, 12.5);
//!     side.add_distinct(7);
//! }
//! let metrics = ours.provider.collect();
//! assert_eq!(metrics.len(), 2);
//! ```

use std::sync::Barrier;
use std::time::{Duration, Instant};

/// The three attribute keys of every recording.
pub const KEYS: [&str; 3] = [
    "http.request.method",
    "http.route",
    "http.response.status_code",
];
/// The method of every recording.
pub const METHOD: &str = "GET";
/// The route of series 0 and series 1.
pub const ROUTES: [&str; 2] = ["/cart", "/checkout"];
/// The status of every recording.
pub const STATUS: &str = "200";
/// The counter's name.
pub const COUNTER_NAME: &str = "http.server.requests";
/// The histogram's name.
pub const HISTOGRAM_NAME: &str = "http.server.request.duration";
/// The meter's (scope's) name.
pub const METER_NAME: &str = "otlp-benches";
/// The resource's `service.name`.
pub const SERVICE_NAME: &str = "otlp-benches-metrics";
/// The cardinality limit of every stream on both sides: room for the
/// 10,000 series (and more) of `compare --scenario metrics`. At the limit
/// both SDKs send new attribute sets to the overflow series.
pub const CARDINALITY_LIMIT: usize = 1_000_000;
/// The readers' interval: long enough never to fire while a benchmark runs;
/// exports happen on `force_flush`.
pub const READER_INTERVAL: Duration = Duration::from_secs(3600);

/// Where a side's reader sends its requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exporter {
    /// Accept and drop every request.
    Discard,
    /// The SDK's OTLP/gRPC exporter to this endpoint (`http://host:port`).
    Grpc(String),
}

/// Which instrument a measurement uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Instrument {
    /// `Counter<u64>::add(1, ..)`.
    Counter,
    /// `Histogram<f64>::record(v, ..)`.
    Histogram,
}

impl Instrument {
    /// Both, counter first.
    pub const ALL: [Instrument; 2] = [Instrument::Counter, Instrument::Histogram];

    /// `counter` or `histogram`.
    pub fn as_str(self) -> &'static str {
        match self {
            Instrument::Counter => "counter",
            Instrument::Histogram => "histogram",
        }
    }

    /// Reads `counter` or `histogram`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "counter" => Ok(Instrument::Counter),
            "histogram" => Ok(Instrument::Histogram),
            other => Err(format!(
                "unknown instrument {other:?} (counter or histogram)"
            )),
        }
    }
}

/// A side's counter and histogram, recorded the same way on both sides.
pub trait Instruments: Sync {
    /// `counter.add(1, [method, ROUTES[series % 2], status])`.
    fn add(&self, series: usize);
    /// `histogram.record(value, [method, ROUTES[series % 2], status])`.
    fn record(&self, series: usize, value: f64);
    /// `counter.add(1, &[])`: the series without attributes (what a
    /// recording costs before any attribute lookup).
    fn add_bare(&self);
    /// `counter.add(1, ..)` on the series of `index`: route `/items/{index}`.
    fn add_distinct(&self, index: u64);
    /// `histogram.record(value, ..)` on the series of `index`.
    fn record_distinct(&self, index: u64, value: f64);
    /// Records on `instrument` (series of `index`; value from `index`).
    fn distinct(&self, instrument: Instrument, index: u64) {
        match instrument {
            Instrument::Counter => self.add_distinct(index),
            Instrument::Histogram => self.record_distinct(index, value_of(index)),
        }
    }
    /// Records on `instrument`, series `series` (value from `series`).
    fn existing(&self, instrument: Instrument, series: usize) {
        match instrument {
            Instrument::Counter => self.add(series),
            Instrument::Histogram => self.record(series, value_of(series as u64)),
        }
    }
    /// Collects and exports now (`force_flush`).
    fn flush(&self) -> Result<(), String>;
    /// Shuts the provider down.
    fn shutdown(&self) -> Result<(), String>;
}

/// A histogram value that lands in several buckets as `index` moves.
pub fn value_of(index: u64) -> f64 {
    (index % 1000) as f64 * 1.7
}

/// The route of distinct series `index`.
pub fn distinct_route(index: u64) -> String {
    format!("/items/{index:06}")
}

/// An exporter for otlp-sdk that accepts and drops every request.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiscardOurs;

impl otlp_sdk::Exporter for DiscardOurs {
    fn encoding(&self) -> otlp_core::encode::Encoding {
        otlp_core::encode::Encoding::Protobuf
    }

    fn signal(&self) -> otlp_sdk::Signal {
        otlp_sdk::Signal::Metrics
    }

    async fn export(&self, _: otlp_sdk::ExportRequest) -> otlp_sdk::ExportOutcome {
        otlp_sdk::ExportOutcome::Success
    }
}

/// An exporter for `opentelemetry_sdk` that accepts and drops every
/// collection (cumulative, as the SDK's default).
#[derive(Clone, Copy, Debug, Default)]
pub struct DiscardBaseline;

impl opentelemetry_sdk::metrics::exporter::PushMetricExporter for DiscardBaseline {
    async fn export(
        &self,
        _: &opentelemetry_sdk::metrics::data::ResourceMetrics,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> opentelemetry_sdk::metrics::Temporality {
        opentelemetry_sdk::metrics::Temporality::Cumulative
    }
}

/// otlp-sdk: `MeterProvider` + `PeriodicReader`; see the module docs.
pub struct OursInstruments {
    /// The provider (for `collect`, `stats`).
    pub provider: otlp_sdk::metrics::MeterProvider,
    counter: otlp_sdk::metrics::Counter<u64>,
    histogram: otlp_sdk::metrics::Histogram<f64>,
}

impl OursInstruments {
    /// A provider whose reader exports to `exporter`.
    pub fn new(exporter: &Exporter) -> Result<Self, String> {
        match exporter {
            Exporter::Discard => Self::with_exporter(DiscardOurs),
            Exporter::Grpc(endpoint) => Self::with_exporter(
                otlp_exporter_grpc::GrpcExporter::builder()
                    .signal(otlp_sdk::Signal::Metrics)
                    .endpoint(endpoint.clone())
                    .build()
                    .map_err(|error| error.to_string())?,
            ),
        }
    }

    fn with_exporter<E: otlp_sdk::Exporter>(exporter: E) -> Result<Self, String> {
        let reader = otlp_sdk::metrics::PeriodicReader::builder(exporter)
            .with_interval(READER_INTERVAL)
            .build()
            .map_err(|error| error.to_string())?;
        let provider = otlp_sdk::metrics::MeterProvider::builder()
            .with_service_name(SERVICE_NAME)
            .with_cardinality_limit(CARDINALITY_LIMIT)
            .with_reader(reader)
            .build()
            .map_err(|error| error.to_string())?;
        let meter = provider.meter(METER_NAME);
        Ok(OursInstruments {
            counter: meter.u64_counter(COUNTER_NAME).build(),
            histogram: meter.f64_histogram(HISTOGRAM_NAME).with_unit("ms").build(),
            provider,
        })
    }
}

impl Instruments for OursInstruments {
    #[inline]
    fn add(&self, series: usize) {
        use otlp_core::KeyValue;
        self.counter.add(
            1,
            &[
                KeyValue::new(KEYS[0], METHOD),
                KeyValue::new(KEYS[1], ROUTES[series % 2]),
                KeyValue::new(KEYS[2], STATUS),
            ],
        );
    }

    #[inline]
    fn record(&self, series: usize, value: f64) {
        use otlp_core::KeyValue;
        self.histogram.record(
            value,
            &[
                KeyValue::new(KEYS[0], METHOD),
                KeyValue::new(KEYS[1], ROUTES[series % 2]),
                KeyValue::new(KEYS[2], STATUS),
            ],
        );
    }

    #[inline]
    fn add_bare(&self) {
        self.counter.add(1, &[]);
    }

    fn add_distinct(&self, index: u64) {
        use otlp_core::KeyValue;
        self.counter.add(
            1,
            &[
                KeyValue::new(KEYS[0], METHOD),
                KeyValue::new(KEYS[1], distinct_route(index)),
                KeyValue::new(KEYS[2], STATUS),
            ],
        );
    }

    fn record_distinct(&self, index: u64, value: f64) {
        use otlp_core::KeyValue;
        self.histogram.record(
            value,
            &[
                KeyValue::new(KEYS[0], METHOD),
                KeyValue::new(KEYS[1], distinct_route(index)),
                KeyValue::new(KEYS[2], STATUS),
            ],
        );
    }

    fn flush(&self) -> Result<(), String> {
        self.provider
            .force_flush(Duration::from_secs(60))
            .map_err(|error| error.to_string())
    }

    fn shutdown(&self) -> Result<(), String> {
        self.provider
            .shutdown(Duration::from_secs(60))
            .map_err(|error| error.to_string())
    }
}

/// `opentelemetry_sdk`: `SdkMeterProvider` + `PeriodicReader`, a view that
/// sets the cardinality limit; see the module docs.
pub struct BaselineInstruments {
    /// The provider.
    pub provider: opentelemetry_sdk::metrics::SdkMeterProvider,
    counter: opentelemetry::metrics::Counter<u64>,
    histogram: opentelemetry::metrics::Histogram<f64>,
    /// Drives the tonic exporter's connection (gRPC only); dropped last.
    _runtime: Option<tokio::runtime::Runtime>,
}

impl BaselineInstruments {
    /// A provider whose reader exports to `exporter`.
    pub fn new(exporter: &Exporter) -> Result<Self, String> {
        match exporter {
            Exporter::Discard => Ok(Self::with_exporter(DiscardBaseline, None)),
            Exporter::Grpc(endpoint) => {
                // The tonic exporter must be built inside a runtime, which
                // then drives its connection until shutdown.
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .map_err(|error| format!("tokio runtime: {error}"))?;
                let exporter = {
                    let _entered = runtime.enter();
                    use opentelemetry_otlp::WithExportConfig as _;
                    opentelemetry_otlp::MetricExporter::builder()
                        .with_tonic()
                        .with_endpoint(endpoint.clone())
                        .build()
                        .map_err(|error| error.to_string())?
                };
                Ok(Self::with_exporter(exporter, Some(runtime)))
            }
        }
    }

    fn with_exporter<E: opentelemetry_sdk::metrics::exporter::PushMetricExporter>(
        exporter: E,
        runtime: Option<tokio::runtime::Runtime>,
    ) -> Self {
        use opentelemetry::metrics::MeterProvider as _;
        use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Stream};
        let reader = PeriodicReader::builder(exporter)
            .with_interval(READER_INTERVAL)
            .build();
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(SERVICE_NAME)
            .build();
        let provider = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_view(|_: &opentelemetry_sdk::metrics::Instrument| {
                Stream::builder()
                    .with_cardinality_limit(CARDINALITY_LIMIT)
                    .build()
                    .ok()
            })
            .with_reader(reader)
            .build();
        let meter = provider.meter(METER_NAME);
        BaselineInstruments {
            counter: meter.u64_counter(COUNTER_NAME).build(),
            histogram: meter.f64_histogram(HISTOGRAM_NAME).with_unit("ms").build(),
            provider,
            _runtime: runtime,
        }
    }
}

impl Instruments for BaselineInstruments {
    #[inline]
    fn add(&self, series: usize) {
        use opentelemetry::KeyValue;
        self.counter.add(
            1,
            &[
                KeyValue::new(KEYS[0], METHOD),
                KeyValue::new(KEYS[1], ROUTES[series % 2]),
                KeyValue::new(KEYS[2], STATUS),
            ],
        );
    }

    #[inline]
    fn record(&self, series: usize, value: f64) {
        use opentelemetry::KeyValue;
        self.histogram.record(
            value,
            &[
                KeyValue::new(KEYS[0], METHOD),
                KeyValue::new(KEYS[1], ROUTES[series % 2]),
                KeyValue::new(KEYS[2], STATUS),
            ],
        );
    }

    #[inline]
    fn add_bare(&self) {
        self.counter.add(1, &[]);
    }

    fn add_distinct(&self, index: u64) {
        use opentelemetry::KeyValue;
        self.counter.add(
            1,
            &[
                KeyValue::new(KEYS[0], METHOD),
                KeyValue::new(KEYS[1], distinct_route(index)),
                KeyValue::new(KEYS[2], STATUS),
            ],
        );
    }

    fn record_distinct(&self, index: u64, value: f64) {
        use opentelemetry::KeyValue;
        self.histogram.record(
            value,
            &[
                KeyValue::new(KEYS[0], METHOD),
                KeyValue::new(KEYS[1], distinct_route(index)),
                KeyValue::new(KEYS[2], STATUS),
            ],
        );
    }

    fn flush(&self) -> Result<(), String> {
        self.provider
            .force_flush()
            .map_err(|error| error.to_string())
    }

    fn shutdown(&self) -> Result<(), String> {
        self.provider
            .shutdown_with_timeout(Duration::from_secs(60))
            .map_err(|error| error.to_string())
    }
}

/// Which series the threads of a timed loop record on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Series {
    /// Every thread on series 0.
    Shared,
    /// Thread `t` on series `t % 2`.
    PerThread,
}

impl Series {
    /// The series thread `thread` records on.
    pub fn of(self, thread: usize) -> usize {
        match self {
            Series::Shared => 0,
            Series::PerThread => thread % 2,
        }
    }
}

/// Runs `op(thread)` `iterations` times on each of `threads` threads and
/// returns the longest thread's time for its loop. The threads start
/// together (a barrier; thread start-up is not timed); one thread runs on
/// the calling thread without spawning. Per operation on each thread:
/// the result divided by `iterations`.
pub fn time_threads<F: Fn(usize) + Sync>(threads: usize, iterations: u64, op: F) -> Duration {
    let run = |thread: usize| {
        let start = Instant::now();
        for _ in 0..iterations {
            op(thread);
        }
        start.elapsed()
    };
    if threads <= 1 {
        return run(0);
    }
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let (barrier, run) = (&barrier, &run);
                scope.spawn(move || {
                    barrier.wait();
                    run(thread)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("a timed thread panicked"))
            .max()
            .unwrap_or_default()
    })
}

/// One recording on an existing series, timed on `threads` threads for
/// about `budget`: after a calibration run the loop is sized to take
/// `budget`. Returns nanoseconds per operation (per thread: the longest
/// thread's time over its operations).
pub fn ns_per_op(
    side: &dyn Instruments,
    instrument: Instrument,
    threads: usize,
    series: Series,
    budget: Duration,
) -> f64 {
    let op = |thread: usize| side.existing(instrument, series.of(thread));
    let mut iterations = 1_000u64;
    let calibration = loop {
        let took = time_threads(threads, iterations, op);
        if took >= budget / 20 || iterations >= 1 << 34 {
            break took;
        }
        iterations *= 4;
    };
    let per_op = calibration.as_secs_f64() / iterations as f64;
    let iterations = ((budget.as_secs_f64() / per_op.max(1e-10)) as u64).max(1);
    time_threads(threads, iterations, op).as_secs_f64() * 1e9 / iterations as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_indices_make_distinct_series_on_both_sides() {
        let ours = OursInstruments::new(&Exporter::Discard).unwrap();
        let baseline = BaselineInstruments::new(&Exporter::Discard).unwrap();
        for index in 0..3000 {
            for side in [&ours as &dyn Instruments, &baseline] {
                side.distinct(Instrument::Counter, index);
                side.distinct(Instrument::Histogram, index);
            }
        }
        let metrics = ours.provider.collect();
        assert_eq!(metrics.len(), 2);
        assert!(
            metrics
                .iter()
                .all(|metric| metric.data.data_point_count() == 3000)
        );
        baseline.flush().unwrap();
    }

    #[test]
    fn two_threads_each_do_every_iteration() {
        let count = std::sync::atomic::AtomicU64::new(0);
        time_threads(2, 1000, |_| {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        assert_eq!(count.into_inner(), 2000);
    }
}
