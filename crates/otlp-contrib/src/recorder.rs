//! The `metrics` crate's facade over otlp-sdk instruments.
//!
//! Many Rust services record through the `metrics` crate (`counter!`,
//! `gauge!`, `histogram!`) and pick an exporter by installing a
//! `metrics::Recorder`. [`OtlpRecorder`] is one: each metric name becomes an
//! otlp-sdk instrument of the provider's meter (a `u64` counter, an `f64`
//! gauge, an `f64` histogram), each label an attribute, and the periodic
//! reader exports them over OTLP with the rest of the program's telemetry.
//!
//! ```
//! use otlp_contrib::recorder::OtlpRecorder;
//! use otlp_core::{MetricData, NumberValue};
//! use otlp_sdk::metrics::MeterProvider;
//!
//! let provider = MeterProvider::builder().build()?;
//! let recorder = OtlpRecorder::new(&provider);
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::describe_counter!("jobs_done", metrics::Unit::Count, "Jobs finished");
//!     metrics::counter!("jobs_done", "queue" => "default").increment(3);
//! });
//! let collected = provider.collect();
//! let MetricData::Sum(sum) = &collected[0].data else { unreachable!() };
//! assert_eq!(sum.data_points[0].value, NumberValue::Int(3));
//! assert_eq!(collected[0].description.as_str(), "Jobs finished");
//! # Ok::<(), otlp_sdk::metrics::MetricsError>(())
//! ```
//!
//! Registration (what the macros do at each use) looks the key up in a
//! concurrent map and hands out a handle; recording through the handle is
//! the instrument's own recording: no lock, no allocation. `metrics`
//! gauges can be incremented as well as set: the handle keeps the current
//! value and records each new one under its own lock (uncontended, tens of
//! nanoseconds), so that the value recorded last is the current one. A
//! counter's handle keeps its total, so that `absolute` sets the counter to
//! at least the value given (as `metrics` defines it): the increment past
//! the total is recorded.
//!
//! Memory is bounded by the provider's cardinality limit
//! ([`MeterProvider::max_cardinality_limit`]): the recorder keeps the
//! handles (with a gauge's current value and a counter's total) of at most
//! that many series per instrument, and of at most [`KEYS_PER_SERIES`] keys
//! per series it keeps. A further series, as high-cardinality labels (a
//! user or request id) make, gets a handle of its own at each registration,
//! not kept: its increments, histogram records and gauge `set`s are recorded
//! as ever, but a gauge's `increment`/`decrement` and a counter's
//! `absolute` count from the handle's own value, so from 0 for a handle
//! registered again (one kept by the caller keeps its value). A cumulative
//! stream past its limit puts these series in its overflow series anyway,
//! whose value sums or mixes every series there. Such a registration costs
//! the series' attributes and the instrument's look-up in the meter, each
//! time.
//!
//! On a pipeline's own threads (see [`otlp_sdk::own_threads`]: an
//! exporter, a loss handler), a registration hands out a handle that records
//! nothing, as the other front doors record nothing there: the pipeline never
//! records itself. A handle registered on another thread records wherever it
//! is used.
//!
//! Names are made valid instrument names (characters other than letters,
//! digits and `_ . - /` become `_`; a name not starting with a letter gets
//! a `m_` prefix). Units map to UCUM (`ms`, `By`, `%`...). A description or
//! unit given after the metric was first used does not change it. A
//! histogram described in [`Unit::Seconds`] is advised the semantic
//! conventions' boundaries for durations in seconds (5 ms to 10 s), not the
//! default ones, which are made for milliseconds.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SetRecorderError, SharedString, Unit,
};
use otlp_core::{InstrumentationScope, KeyValue};
use otlp_sdk::metrics::{Meter, MeterProvider};
use otlp_sdk::own_threads;

/// Keys kept per series the recorder keeps, per instrument: a series is
/// mostly registered under one key; labels in another order or a name
/// spelled two ways (`a:b`, `a_b`) make a few more. At the limit, a further
/// key still gets its series' handle, its series worked out at each
/// registration.
pub const KEYS_PER_SERIES: usize = 2;

/// The bucket boundaries advised to a histogram described in
/// [`Unit::Seconds`]: the semantic conventions' advice for durations in
/// seconds (`http.server.request.duration`), 5 ms to 10 s. A view still
/// wins over them.
const SECONDS_BOUNDARIES: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// [`OtlpRecorder::install`] found another recorder installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a `metrics` recorder is already installed in this process")]
pub struct RecorderAlreadyInstalled;

/// A `metrics::Recorder` recording into otlp-sdk instruments.
pub struct OtlpRecorder {
    meter: Meter,
    /// The most series kept per instrument (and kind): the provider's
    /// largest cardinality limit.
    max_series: usize,
    descriptions: Mutex<HashMap<String, Description>>,
    counters: DashMap<Key, Arc<CounterHandle>>,
    gauges: DashMap<Key, Arc<GaugeHandle>>,
    histograms: DashMap<Key, Arc<HistogramHandle>>,
    /// The handles again, by the series they record into.
    counter_series: DashMap<SeriesKey, Arc<CounterHandle>>,
    gauge_series: DashMap<SeriesKey, Arc<GaugeHandle>>,
    histogram_series: DashMap<SeriesKey, Arc<HistogramHandle>>,
}

/// What names one series of the provider: the instrument name, lowercased
/// (instrument names are case-insensitive), and the attribute set (sorted by
/// key; of a key given twice, the last value). Different `metrics` keys can
/// name one series (`a:b` and `a_b`, `Jobs` and `jobs`, a label given twice):
/// they share one handle, so a gauge's current value and a counter's total
/// are the series' own.
type SeriesKey = (String, Vec<(String, String)>);

/// An instrument's name, description and unit, and a series' attributes.
struct Identity {
    name: String,
    description: String,
    unit: &'static str,
    attributes: Vec<KeyValue>,
}

impl fmt::Debug for OtlpRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpRecorder")
            .field("scope", self.meter.scope())
            .field("max_series", &self.max_series)
            .field("counters", &self.counters.len())
            .field("gauges", &self.gauges.len())
            .field("histograms", &self.histograms.len())
            .finish()
    }
}

impl OtlpRecorder {
    /// A recorder whose instruments belong to the scope `metrics`.
    pub fn new(provider: &MeterProvider) -> OtlpRecorder {
        OtlpRecorder::with_scope(provider, InstrumentationScope::new("metrics"))
    }

    /// A recorder whose instruments belong to `scope`.
    pub fn with_scope(provider: &MeterProvider, scope: InstrumentationScope) -> OtlpRecorder {
        OtlpRecorder {
            meter: provider.meter_with_scope(scope),
            max_series: provider.max_cardinality_limit(),
            descriptions: Mutex::new(HashMap::new()),
            counters: DashMap::new(),
            gauges: DashMap::new(),
            histograms: DashMap::new(),
            counter_series: DashMap::new(),
            gauge_series: DashMap::new(),
            histogram_series: DashMap::new(),
        }
    }

    /// Makes this the process's recorder (`metrics::set_global_recorder`);
    /// fails if one is installed already.
    pub fn install(self) -> Result<(), RecorderAlreadyInstalled> {
        metrics::set_global_recorder(self)
            .map_err(|_: SetRecorderError<OtlpRecorder>| RecorderAlreadyInstalled)
    }

    fn describe(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        let mut descriptions = self.descriptions.lock().unwrap_or_else(|p| p.into_inner());
        let known = descriptions
            .entry(description_key(key.as_str()))
            .or_default();
        if !known.used {
            known.unit = unit;
            known.text = description.to_string();
        }
    }

    /// The handle of `key`'s series: the one kept for the key, else the one
    /// kept for the same series under another key, else a new one, kept
    /// while the instrument has room (see the module documentation).
    fn handle<H>(
        &self,
        kind: Kind,
        by_key: &DashMap<Key, Arc<H>>,
        by_series: &DashMap<SeriesKey, Arc<H>>,
        key: &Key,
        make: impl FnOnce(Identity) -> H,
    ) -> Arc<H> {
        if let Some(handle) = by_key.get(key) {
            return handle.clone();
        }
        let (series, identity) = self.identity(key);
        let instrument = series.0.clone();
        let kept = by_series.get(&series).map(|kept| kept.clone());
        let handle = match kept {
            Some(kept) => kept,
            None => {
                // Made before any lock of the maps is taken: building the
                // instrument may warn, and the process's warning handler,
                // which runs on this thread, may record through this
                // recorder (a new series would want the entry lock held
                // here). Two threads making the same series both build
                // it: one instrument, the meter's, and one handle kept.
                let made = Arc::new(make(identity));
                // Room is taken under the entry's lock: two threads making
                // the same series take one place.
                match by_series.entry(series) {
                    Entry::Occupied(kept) => kept.get().clone(),
                    Entry::Vacant(room) => {
                        if !self.take_room(&instrument, kind, Room::Series) {
                            return made;
                        }
                        room.insert(made).clone()
                    }
                }
            }
        };
        match by_key.entry(key.clone()) {
            Entry::Occupied(kept) => kept.get().clone(),
            Entry::Vacant(room) => {
                if self.take_room(&instrument, kind, Room::Key) {
                    room.insert(handle.clone());
                }
                handle
            }
        }
    }

    /// Takes a place for a series or a key of `instrument`'s `kind`, if the
    /// instrument has one left.
    fn take_room(&self, instrument: &str, kind: Kind, room: Room) -> bool {
        let limit = match room {
            Room::Series => self.max_series,
            Room::Key => self.max_series.saturating_mul(KEYS_PER_SERIES),
        };
        let mut descriptions = self.descriptions.lock().unwrap_or_else(|p| p.into_inner());
        // `identity` made the entry; a missing one is made again.
        let known = match descriptions.get_mut(instrument) {
            Some(known) => known,
            None => descriptions.entry(instrument.to_owned()).or_default(),
        };
        let taken = &mut known.kept[kind as usize][room as usize];
        if *taken < limit {
            *taken += 1;
            true
        } else {
            false
        }
    }

    /// How many series handles and keys the recorder keeps, all kinds
    /// together: the memory that grows with labels' cardinality.
    #[cfg(test)]
    fn kept_handles(&self) -> (usize, usize) {
        (
            self.counter_series.len() + self.gauge_series.len() + self.histogram_series.len(),
            self.counters.len() + self.gauges.len() + self.histograms.len(),
        )
    }

    /// The series of a key, and its instrument's identity.
    fn identity(&self, key: &Key) -> (SeriesKey, Identity) {
        let (unit, description) = {
            let mut descriptions = self.descriptions.lock().unwrap_or_else(|p| p.into_inner());
            let known = descriptions.entry(description_key(key.name())).or_default();
            known.used = true;
            (known.unit, known.text.clone())
        };
        let mut labels: Vec<(String, String)> = Vec::with_capacity(key.labels().len());
        for label in key.labels() {
            match labels.iter_mut().find(|(name, _)| name == label.key()) {
                Some((_, value)) => *value = label.value().to_string(),
                None => labels.push((label.key().to_string(), label.value().to_string())),
            }
        }
        labels.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let attributes = labels
            .iter()
            .map(|(name, value)| KeyValue::new(name.clone(), value.clone()))
            .collect();
        let name = instrument_name(key.name());
        (
            (name.to_ascii_lowercase(), labels),
            Identity {
                name,
                description,
                unit: unit.map_or("", ucum),
                attributes,
            },
        )
    }
}

impl Recorder for OtlpRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        if own_threads::is_own_thread() {
            return Counter::noop();
        }
        Counter::from_arc(self.handle(
            Kind::Counter,
            &self.counters,
            &self.counter_series,
            key,
            |identity| {
                CounterHandle {
                    counter: self
                        .meter
                        .u64_counter(identity.name)
                        .with_description(identity.description)
                        .with_unit(identity.unit)
                        .build(),
                    attributes: identity.attributes,
                    total: AtomicU64::new(0),
                }
            },
        ))
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        if own_threads::is_own_thread() {
            return Gauge::noop();
        }
        Gauge::from_arc(self.handle(
            Kind::Gauge,
            &self.gauges,
            &self.gauge_series,
            key,
            |identity| {
                GaugeHandle {
                    gauge: self
                        .meter
                        .f64_gauge(identity.name)
                        .with_description(identity.description)
                        .with_unit(identity.unit)
                        .build(),
                    attributes: identity.attributes,
                    value: Mutex::new(0.0),
                }
            },
        ))
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        if own_threads::is_own_thread() {
            return Histogram::noop();
        }
        Histogram::from_arc(self.handle(
            Kind::Histogram,
            &self.histograms,
            &self.histogram_series,
            key,
            |identity| {
                let mut histogram = self
                    .meter
                    .f64_histogram(identity.name)
                    .with_description(identity.description)
                    .with_unit(identity.unit);
                // The default boundaries (0, 5 ... 10000) are made for
                // milliseconds: a histogram in seconds (what `metrics`
                // records a `Duration` as) would hold every duration under
                // five seconds in one bucket.
                if identity.unit == "s" {
                    histogram = histogram.with_boundaries(SECONDS_BOUNDARIES.to_vec());
                }
                HistogramHandle {
                    histogram: histogram.build(),
                    attributes: identity.attributes,
                }
            },
        ))
    }
}

/// A name's unit and description, as `describe_*` gave them, and how many
/// series and keys of its instruments the recorder keeps.
#[derive(Default)]
struct Description {
    unit: Option<Unit>,
    text: String,
    /// An instrument was built with them: they are kept from then on (the
    /// instrument's are fixed, and a later unit would make a second
    /// instrument of the same name beside it).
    used: bool,
    /// Series and keys kept, by [`Kind`] and [`Room`].
    kept: [[usize; 2]; 3],
}

/// The three kinds of `metrics` instruments, each with its own handles.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// What the recorder keeps per instrument, each up to its own limit.
#[derive(Clone, Copy)]
enum Room {
    Series,
    Key,
}

struct CounterHandle {
    counter: otlp_sdk::metrics::Counter<u64>,
    attributes: Vec<KeyValue>,
    /// The counter's total: every increment, and what `absolute` added.
    total: AtomicU64,
}

impl CounterFn for CounterHandle {
    fn increment(&self, value: u64) {
        self.total.fetch_add(value, Ordering::Relaxed);
        self.counter.add(value, &self.attributes);
    }

    /// Sets the counter to at least `value` (`metrics`' contract: callers
    /// copying an external counter may arrive out of order).
    fn absolute(&self, value: u64) {
        let previous = self.total.fetch_max(value, Ordering::Relaxed);
        if value > previous {
            self.counter.add(value - previous, &self.attributes);
        }
    }
}

struct GaugeHandle {
    gauge: otlp_sdk::metrics::Gauge<f64>,
    attributes: Vec<KeyValue>,
    /// The current value, held while it is recorded: the series' last value
    /// is then always the current one (updating an atomic and recording after
    /// it let two threads record in the other order, a stale value last).
    value: Mutex<f64>,
}

impl GaugeHandle {
    fn change(&self, by: impl Fn(f64) -> f64) {
        let mut value = self.value.lock().unwrap_or_else(|p| p.into_inner());
        *value = by(*value);
        self.gauge.record(*value, &self.attributes);
    }
}

impl GaugeFn for GaugeHandle {
    fn increment(&self, value: f64) {
        self.change(|current| current + value);
    }

    fn decrement(&self, value: f64) {
        self.change(|current| current - value);
    }

    fn set(&self, value: f64) {
        self.change(|_| value);
    }
}

struct HistogramHandle {
    histogram: otlp_sdk::metrics::Histogram<f64>,
    attributes: Vec<KeyValue>,
}

impl HistogramFn for HistogramHandle {
    fn record(&self, value: f64) {
        self.histogram.record(value, &self.attributes);
    }
}

/// A valid instrument name for a `metrics` name.
/// The instrument a `metrics` name becomes, as descriptions are kept: its
/// [`instrument_name`], lowercased (OpenTelemetry instrument names are
/// case-insensitive), so that `describe_counter!("Jobs.Done")` describes
/// `counter!("jobs.done")`, and `"queue:depth"` describes `"queue_depth"`.
fn description_key(name: &str) -> String {
    instrument_name(name).to_ascii_lowercase()
}

fn instrument_name(name: &str) -> String {
    let mut valid: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !valid.starts_with(|c: char| c.is_ascii_alphabetic()) {
        valid.insert_str(0, "m_");
    }
    valid.truncate(255);
    valid
}

/// The UCUM form of a `metrics` unit.
fn ucum(unit: Unit) -> &'static str {
    match unit {
        // A count of things: an annotation, as the semantic conventions
        // write counts (`1` is for ratios, and Prometheus names a gauge in
        // `1` `..._ratio`).
        Unit::Count => "{count}",
        Unit::Percent => "%",
        Unit::Seconds => "s",
        Unit::Milliseconds => "ms",
        Unit::Microseconds => "us",
        Unit::Nanoseconds => "ns",
        Unit::Tebibytes => "TiBy",
        Unit::Gibibytes => "GiBy",
        Unit::Mebibytes => "MiBy",
        Unit::Kibibytes => "KiBy",
        Unit::Bytes => "By",
        Unit::TerabitsPerSecond => "Tbit/s",
        Unit::GigabitsPerSecond => "Gbit/s",
        Unit::MegabitsPerSecond => "Mbit/s",
        Unit::KilobitsPerSecond => "kbit/s",
        Unit::BitsPerSecond => "bit/s",
        Unit::CountPerSecond => "{count}/s",
    }
}

#[cfg(test)]
mod tests {
    use otlp_core::{AnyValue, MetricData, NumberValue};

    use super::*;

    /// The sum of every point of the sum named `name`, and its number of
    /// points.
    fn sum_of(provider: &MeterProvider, name: &str) -> (i64, usize) {
        let collected = provider.collect();
        let metric = collected
            .iter()
            .find(|metric| metric.name.as_str() == name)
            .unwrap_or_else(|| panic!("no metric {name}"));
        let MetricData::Sum(sum) = &metric.data else {
            panic!("{name} is not a sum");
        };
        let total = sum
            .data_points
            .iter()
            .map(|point| match point.value {
                NumberValue::Int(value) => value,
                NumberValue::Double(value) => panic!("a double {value}"),
            })
            .sum();
        (total, sum.data_points.len())
    }

    /// Labels of unbounded cardinality (an id per request) leave the
    /// recorder's memory bounded by the provider's cardinality limit: past
    /// it, a series' handle is not kept. Counts stay exact, and the series
    /// kept keep the `metrics` semantics (a gauge's current value).
    #[test]
    fn high_cardinality_labels_keep_at_most_the_cardinality_limit_of_handles() {
        const LIMIT: usize = 10;
        let provider = MeterProvider::builder()
            .with_cardinality_limit(LIMIT)
            .build()
            .expect("the provider builds");
        let recorder = OtlpRecorder::new(&provider);
        metrics::with_local_recorder(&recorder, || {
            for id in 0..1_000 {
                let id = id.to_string();
                metrics::counter!("requests", "id" => id.clone()).increment(1);
                // The same series with its labels in the other order.
                metrics::counter!("requests", "route" => "/", "id" => id.clone()).increment(1);
                metrics::counter!("requests", "id" => id.clone(), "route" => "/").increment(1);
                metrics::histogram!("latency", "id" => id).record(1.0);
            }
            for _ in 0..3 {
                metrics::gauge!("in_flight", "route" => "/").increment(1.0);
            }
        });
        let (series, keys) = recorder.kept_handles();
        // Two instruments of LIMIT series, and the gauge's one.
        assert_eq!(series, 2 * LIMIT + 1);
        assert!(keys <= 2 * LIMIT * KEYS_PER_SERIES + 1, "{keys} keys kept");
        assert_eq!(sum_of(&provider, "requests"), (3_000, LIMIT + 1));
        let collected = provider.collect();
        let gauge = collected
            .iter()
            .find(|metric| metric.name.as_str() == "in_flight")
            .expect("the gauge");
        let MetricData::Gauge(gauge) = &gauge.data else {
            panic!("not a gauge");
        };
        assert_eq!(gauge.data_points[0].value, NumberValue::Double(3.0));
        assert_eq!(
            gauge.data_points[0].attributes[0].value,
            AnyValue::from("/")
        );
    }

    /// A loss handler or an exporter that counts through the `metrics`
    /// crate runs on a pipeline's thread: its measurements would be the
    /// pipeline recording itself. The application's are recorded.
    #[test]
    fn nothing_is_recorded_on_a_pipelines_own_threads() {
        let provider = MeterProvider::builder().build().expect("provider");
        let recorder = OtlpRecorder::new(&provider);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                own_threads::enter();
                metrics::with_local_recorder(&recorder, || {
                    metrics::counter!("lost_records").increment(3);
                    metrics::gauge!("queue_bytes").set(1.0);
                    metrics::histogram!("export_seconds").record(0.5);
                });
            });
        });
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!("orders").increment(1);
        });
        let names: Vec<String> = provider
            .collect()
            .iter()
            .map(|metric| metric.name.as_str().to_owned())
            .collect();
        assert_eq!(names, ["orders"]);
    }

    #[test]
    fn names_become_valid_instrument_names() {
        assert_eq!(
            instrument_name("http_requests_total"),
            "http_requests_total"
        );
        assert_eq!(instrument_name("a:b c"), "a_b_c");
        assert_eq!(instrument_name("2xx"), "m_2xx");
        assert_eq!(instrument_name(""), "m_");
    }
}
