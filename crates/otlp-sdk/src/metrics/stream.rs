//! Streams: what one instrument (through one view) exports.
//!
//! A [`Stream`] belongs to a synchronous instrument: its series live in a
//! [`SeriesTable`] that measurements write and collections read. An
//! [`ObservedStream`] belongs to an observable instrument: it has no
//! recording path, only what its callback observed at each collection, and
//! keeps per series what the delta of a sum needs (the previous total), for
//! the series its previous collection observed (and, after a callback
//! panicked, those it missed). A monotonic total observed
//! below the previous one was reset: the series starts again at the previous
//! collection, and its delta is the new total, never negative.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use otlp_core::{
    ExponentialHistogram, Gauge, Histogram, InstrumentationScope, KeyValue, Metric, MetricData,
    NumberDataPoint, Resource, Str, Sum, Temporality,
};

use super::aggregation::{CellKind, Measure, Point, Window};
use super::attributes::{AttributeSet, KeyFilter, canonical};
use super::exemplar::offers;
use super::instrument_kind::InstrumentKind;
use super::series_table::{OVERFLOW_ATTRIBUTE, Series, SeriesTable, is_overflow_set};
use crate::active_span::ActiveSpan;
use crate::config::ExemplarFilter;

/// A stream's name, description, unit and origin.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    pub(crate) name: Str,
    pub(crate) description: Str,
    pub(crate) unit: Str,
    pub(crate) kind: InstrumentKind,
    pub(crate) scope: Arc<InstrumentationScope>,
}

impl Identity {
    fn metric(&self, data: MetricData, resource: &Arc<Resource>) -> Metric {
        Metric::new(self.name.clone(), data)
            .with_description(self.description.clone())
            .with_unit(self.unit.clone())
            .with_resource(resource.clone())
            .with_scope(self.scope.clone())
    }

    fn data(
        &self,
        cell: &CellKind,
        temporality: Temporality,
        points: Vec<Point>,
    ) -> Option<MetricData> {
        if points.is_empty() {
            return None;
        }
        // Histograms of measurements that may be negative carry no sum.
        let no_sum = self.kind.records_negative();
        let numbers = || {
            points
                .iter()
                .filter_map(|point| match point {
                    Point::Number(point) => Some(point.clone()),
                    _ => None,
                })
                .collect()
        };
        Some(match cell {
            CellKind::Sum { .. } => MetricData::Sum(Sum {
                data_points: numbers(),
                temporality,
                is_monotonic: self.kind.is_monotonic(),
            }),
            CellKind::LastValue => MetricData::Gauge(Gauge {
                data_points: numbers(),
            }),
            CellKind::Histogram { .. } => MetricData::Histogram(Histogram {
                data_points: points
                    .into_iter()
                    .filter_map(|point| match point {
                        Point::Histogram(mut point) => {
                            if no_sum {
                                point.sum = None;
                            }
                            Some(point)
                        }
                        _ => None,
                    })
                    .collect(),
                temporality,
            }),
            CellKind::Exponential { .. } => {
                MetricData::ExponentialHistogram(ExponentialHistogram {
                    data_points: points
                        .into_iter()
                        .filter_map(|point| match point {
                            Point::Exponential(mut point) => {
                                if no_sum {
                                    point.sum = None;
                                }
                                Some(point)
                            }
                            _ => None,
                        })
                        .collect(),
                    temporality,
                })
            }
        })
    }
}

/// The stream of a synchronous instrument.
#[derive(Debug)]
pub(crate) struct Stream {
    identity: Identity,
    cell: CellKind,
    temporality: Temporality,
    table: SeriesTable,
    exemplar_filter: ExemplarFilter,
    /// Start of the next delta point.
    last_collection: Mutex<u64>,
}

impl Stream {
    pub(crate) fn new(
        identity: Identity,
        cell: CellKind,
        float: bool,
        temporality: Temporality,
        filter: KeyFilter,
        limit: usize,
        exemplar_filter: ExemplarFilter,
    ) -> Stream {
        Stream {
            table: SeriesTable::new(
                cell.clone(),
                float,
                filter,
                limit,
                temporality == Temporality::Delta,
            ),
            identity,
            cell,
            temporality,
            exemplar_filter,
            last_collection: Mutex::new(otlp_core::clock::now_unix_nanos()),
        }
    }

    /// Records one measurement, offering it as an exemplar if the filter
    /// lets it through and the aggregation counts it (a histogram leaves NaN
    /// and the infinities out: they would displace an exemplar it counted).
    #[inline]
    pub(crate) fn record(
        &self,
        measure: Measure,
        attributes: &[KeyValue],
        span: Option<&ActiveSpan>,
    ) {
        self.table.with_series(attributes, |series| {
            series.cell.record(measure);
            if offers(self.exemplar_filter, span) && self.cell.aggregates(measure) {
                let bucket = match &self.cell {
                    CellKind::Histogram { bounds, .. } => {
                        Some(super::aggregation::bucket_of(bounds, measure.as_f64()))
                    }
                    _ => None,
                };
                let filter = self.table.filter();
                let mut dropped = if is_overflow_set(&series.attributes) {
                    // The overflow series' point keeps none of the
                    // measurement's attributes: the exemplar keeps them all
                    // (the spec: those "filtered out by the aggregator").
                    attributes
                        .iter()
                        .filter(|attribute| !is_overflow_set(std::slice::from_ref(attribute)))
                        .cloned()
                        .collect()
                } else if filter.is_all() {
                    Vec::new()
                } else {
                    attributes
                        .iter()
                        .filter(|attribute| !filter.keeps(&attribute.key))
                        .cloned()
                        .collect()
                };
                // A key given twice keeps its last value, as in the
                // series' own set: OTLP asks every attribute list for
                // unique keys.
                crate::unique_keys::keep_last_value_per_key(&mut dropped);
                series.reservoir.offer(bucket, measure, span, dropped);
            }
        });
    }

    /// This collection's metric, if any series has a point in it.
    pub(crate) fn collect(&self, resource: &Arc<Resource>, now: u64) -> Option<Metric> {
        let mut last = self
            .last_collection
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut points = Vec::new();
        let delta = self.temporality == Temporality::Delta;
        // `now` was read before this stream's series were listed: a series
        // created since starts after it, and a wall clock stepped back puts
        // `now` before the previous collection. Starts are kept at most
        // `now`, so that every point has `start <= time`.
        let window = |series: &Series| Window {
            temporality: self.temporality,
            start: if delta {
                (*last).min(now)
            } else {
                series.cumulative_start(now)
            },
            time: now,
        };
        // A delta stream forgets all its series but the overflow one at each
        // collection, before it reads them (see `series_table`): nobody
        // writes them any more, so each cell is taken whole, once, and the
        // next interval has the whole cardinality limit for its own sets.
        let series = if delta {
            let mut retired = self.table.retire_all();
            retired.extend(self.table.overflow());
            retired
        } else {
            self.table.series()
        };
        for series in series {
            let exemplars = series.reservoir.take();
            if let Some(point) =
                series
                    .cell
                    .collect(window(&series), series.attributes.to_vec(), exemplars)
            {
                points.push(point);
            }
        }
        *last = now;
        let data = self.identity.data(&self.cell, self.temporality, points)?;
        Some(self.identity.metric(data, resource))
    }

    /// Measurements sent to the overflow series.
    pub(crate) fn overflowed(&self) -> u64 {
        self.table.overflowed()
    }

    /// Whether the stream can aggregate only finite values: it sums them
    /// (a NaN or infinite total never recovers) or makes a histogram of
    /// them (no bucket holds them). A last value can be anything.
    pub(crate) fn takes_finite_only(&self) -> bool {
        !matches!(self.cell, CellKind::LastValue)
    }
}

/// What an observed series remembers between collections.
#[derive(Debug)]
struct Observed {
    created: u64,
    /// The previous total, for delta sums.
    previous: Option<Measure>,
    /// When `previous` was observed: the start of the next delta.
    previous_time: u64,
}

#[derive(Debug)]
struct ObservedState {
    series: HashMap<AttributeSet, Observed>,
    last_collection: u64,
    overflowed: u64,
}

/// The stream of an observable instrument.
#[derive(Debug)]
pub(crate) struct ObservedStream {
    identity: Identity,
    /// `Sum` or `LastValue`.
    cell: CellKind,
    temporality: Temporality,
    filter: KeyFilter,
    limit: usize,
    state: Mutex<ObservedState>,
}

impl ObservedStream {
    /// Whether the stream can aggregate only finite observations: it sums
    /// them (a gauge's last value can be anything).
    pub(crate) fn takes_finite_only(&self) -> bool {
        matches!(self.cell, CellKind::Sum { .. })
    }

    pub(crate) fn new(
        identity: Identity,
        cell: CellKind,
        temporality: Temporality,
        filter: KeyFilter,
        limit: usize,
    ) -> ObservedStream {
        ObservedStream {
            identity,
            cell,
            temporality,
            filter,
            limit: limit.max(1),
            state: Mutex::new(ObservedState {
                series: HashMap::new(),
                last_collection: otlp_core::clock::now_unix_nanos(),
                overflowed: 0,
            }),
        }
    }

    /// This collection's metric from the callbacks' observations;
    /// `partial` says that some callbacks panicked, so that a set missing
    /// from `observations` may still exist: its series is kept (within the
    /// cardinality limit), and its next delta is taken from its last total.
    pub(crate) fn collect(
        &self,
        observations: &[(Measure, Vec<KeyValue>)],
        partial: bool,
        resource: &Arc<Resource>,
        now: u64,
    ) -> Option<Metric> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *state;
        let (is_sum, monotonic) = match self.cell {
            CellKind::Sum { monotonic } => (true, monotonic),
            _ => (false, false),
        };
        // This round's value per canonical set, in the order first observed.
        // The limit counts the sets of this round: the first `limit` sets
        // observed get points of their own (the spec: "prefer the
        // first-observed attributes in the callback").
        let mut round: Vec<(AttributeSet, Measure)> = Vec::new();
        let mut index: HashMap<AttributeSet, usize> = HashMap::new();
        let mut own_sets = 0;
        for (measure, attributes) in observations {
            let mut set = AttributeSet(canonical(attributes, &self.filter));
            // The overflow set itself takes no place under the limit (the
            // spec counts the non-overflow sets), as in `SeriesTable`.
            if !index.contains_key(&set) && !is_overflow_set(&set.0) {
                if own_sets >= self.limit {
                    state.overflowed += 1;
                    set = AttributeSet(vec![KeyValue::new(OVERFLOW_ATTRIBUTE, true)]);
                } else {
                    own_sets += 1;
                }
            }
            match index.get(&set) {
                Some(&at) if is_sum => round[at].1 = add(round[at].1, *measure, monotonic),
                Some(&at) => round[at].1 = *measure,
                None => {
                    index.insert(set.clone(), round.len());
                    round.push((set, *measure));
                }
            }
        }
        let mut points = Vec::new();
        for (set, value) in round {
            let series = state.series.entry(set.clone()).or_insert(Observed {
                created: state.last_collection,
                previous: None,
                previous_time: state.last_collection,
            });
            // A monotonic total below the previous one was reset (a process
            // restarted, a counter was cleared): the data model's reset. The
            // series starts again after the previous collection, and what is
            // observed now is what accumulated since; a delta of a monotonic
            // sum is never negative.
            let reset = monotonic
                && series
                    .previous
                    .is_some_and(|previous| below(value, previous));
            if reset {
                series.created = state.last_collection;
                series.previous = None;
            }
            // A wall clock stepped back puts `now` before the previous
            // collection: a start is kept at most `now` (`start <= time` for
            // every point), and a cumulative series keeps the lowered start.
            series.created = series.created.min(now);
            let last_collection = state.last_collection.min(now);
            let (start, reported) = match (is_sum, self.temporality) {
                (true, Temporality::Delta) => match series.previous {
                    // From the total it is taken from: the previous
                    // collection's, or an older one if a callback's panic
                    // left the set out since.
                    Some(previous) => (series.previous_time.min(now), subtract(value, previous)),
                    None => (last_collection, value),
                },
                // A cumulative stream repeats its series' start time, gauges
                // included (the spec's reader: the rule applies "to all
                // metrics, not just those whose point kinds includes an
                // aggregation temporality field").
                (true, _) | (false, Temporality::Cumulative) => (series.created, value),
                (false, _) => (last_collection, value),
            };
            series.previous = Some(value);
            series.previous_time = now;
            points.push(Point::Number(NumberDataPoint {
                attributes: set.0,
                start_time_unix_nano: start,
                time_unix_nano: now,
                value: reported.number(),
                exemplars: Vec::new(),
                flags: 0,
            }));
        }
        // A set not observed this round is forgotten, as opentelemetry_sdk
        // does: should it come back, it is a new series (a start time of its
        // own, a delta from zero), and sets seen once do not hold memory or
        // a place under the limit for good. When a callback panicked, the
        // sets it observes are missing only this round: they are kept, as
        // many as the limit leaves room for beside this round's sets (a
        // callback panicking every round cannot make the state grow).
        let mut room = if partial {
            (self.limit + 1).saturating_sub(index.len())
        } else {
            0
        };
        state.series.retain(|set, _| {
            if index.contains_key(set) {
                return true;
            }
            let keep = room > 0;
            room = room.saturating_sub(1);
            keep
        });
        state.last_collection = now;
        let data = self.identity.data(&self.cell, self.temporality, points)?;
        Some(self.identity.metric(data, resource))
    }

    /// Observations sent to the overflow series.
    pub(crate) fn overflowed(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .overflowed
    }
}

/// Adds two observations of one set. Integers saturate for a monotonic sum
/// (a counter's total never wraps negative; see `SumCell`) and wrap for the
/// others (exact whenever the true total fits).
fn add(a: Measure, b: Measure, monotonic: bool) -> Measure {
    match (a, b) {
        (Measure::Int(a), Measure::Int(b)) if monotonic => Measure::Int(a.saturating_add(b)),
        (Measure::Int(a), Measure::Int(b)) => Measure::Int(a.wrapping_add(b)),
        (a, b) => Measure::Double(a.as_f64() + b.as_f64()),
    }
}

/// Whether `a` is less than `b` (integers compared as integers: exact past
/// 2^53).
fn below(a: Measure, b: Measure) -> bool {
    match (a, b) {
        (Measure::Int(a), Measure::Int(b)) => a < b,
        (a, b) => a.as_f64() < b.as_f64(),
    }
}

fn subtract(a: Measure, b: Measure) -> Measure {
    match (a, b) {
        (Measure::Int(a), Measure::Int(b)) => Measure::Int(a.wrapping_sub(b)),
        (a, b) => Measure::Double(a.as_f64() - b.as_f64()),
    }
}

#[cfg(test)]
mod tests {
    use otlp_core::{InstrumentationScope, NumberDataPoint, Resource};

    use super::*;

    fn identity(kind: InstrumentKind) -> Identity {
        Identity {
            name: Str::from("m"),
            description: Str::from(""),
            unit: Str::from(""),
            kind,
            scope: InstrumentationScope::empty(),
        }
    }

    fn stream(temporality: Temporality) -> Stream {
        Stream::new(
            identity(InstrumentKind::Counter),
            CellKind::Sum { monotonic: true },
            false,
            temporality,
            KeyFilter::All,
            100,
            ExemplarFilter::AlwaysOff,
        )
    }

    /// The (start, time) of every point of `metric`.
    fn windows(metric: Option<Metric>) -> Vec<(u64, u64)> {
        let metric = metric.expect("a metric");
        let points: &[NumberDataPoint] = match &metric.data {
            MetricData::Sum(sum) => &sum.data_points,
            MetricData::Gauge(gauge) => &gauge.data_points,
            other => panic!("not a number metric: {other:?}"),
        };
        points
            .iter()
            .map(|point| (point.start_time_unix_nano, point.time_unix_nano))
            .collect()
    }

    /// A time the wall clock has passed: the next reading is later.
    fn past_time() -> u64 {
        let time = otlp_core::clock::now_unix_nanos();
        while otlp_core::clock::now_unix_nanos() <= time {
            std::hint::spin_loop();
        }
        time
    }

    /// The provider reads a collection's time, then collects its streams one
    /// after another: a series another thread creates in between (here:
    /// after `now` was read, before this stream is collected) was created
    /// after the point's time. Its start is kept at the point's time, and
    /// the next point repeats it.
    #[test]
    fn a_cumulative_series_created_after_the_collection_read_its_time_starts_no_later() {
        let stream = stream(Temporality::Cumulative);
        let resource = Resource::empty();
        stream.record(Measure::Int(1), &[KeyValue::new("old", true)], None);
        let now = past_time();
        // Another thread, during the collection.
        stream.record(Measure::Int(1), &[KeyValue::new("new", true)], None);
        let first = windows(stream.collect(&resource, now));
        assert_eq!(first.len(), 2);
        for (start, time) in &first {
            assert!(start <= time, "start after time: {first:?}");
        }
        let later = past_time();
        let second = windows(stream.collect(&resource, later));
        assert_eq!(
            first.iter().map(|(start, _)| *start).collect::<Vec<_>>(),
            second.iter().map(|(start, _)| *start).collect::<Vec<_>>(),
            "a cumulative series repeats its start"
        );
    }

    /// The wall clock stepped back between two collections: the second
    /// collection's time is before the first's. A delta point's start (the
    /// previous collection) and an observed series' start are kept at most
    /// the point's time.
    #[test]
    fn after_the_wall_clock_steps_back_no_point_starts_after_its_time() {
        let resource = Resource::empty();
        let before = past_time();
        let delta = stream(Temporality::Delta);
        delta.record(Measure::Int(1), &[], None);
        let first = windows(delta.collect(&resource, past_time()));
        assert!(first.iter().all(|(start, time)| start <= time), "{first:?}");
        delta.record(Measure::Int(1), &[], None);
        let stepped = windows(delta.collect(&resource, before));
        assert!(
            stepped.iter().all(|(start, time)| start <= time),
            "delta: {stepped:?}"
        );

        for (kind, cell, temporality) in [
            (
                InstrumentKind::ObservableCounter,
                CellKind::Sum { monotonic: true },
                Temporality::Delta,
            ),
            (
                InstrumentKind::ObservableCounter,
                CellKind::Sum { monotonic: true },
                Temporality::Cumulative,
            ),
            (
                InstrumentKind::ObservableGauge,
                CellKind::LastValue,
                Temporality::Delta,
            ),
        ] {
            let before = past_time();
            let observed =
                ObservedStream::new(identity(kind), cell, temporality, KeyFilter::All, 100);
            let observations = [(Measure::Int(5), Vec::new())];
            let first = windows(observed.collect(&observations, false, &resource, past_time()));
            assert!(first.iter().all(|(start, time)| start <= time), "{first:?}");
            let stepped = windows(observed.collect(&observations, false, &resource, before));
            assert!(
                stepped.iter().all(|(start, time)| start <= time),
                "{kind:?} {temporality:?}: {stepped:?}"
            );
        }
    }
}
