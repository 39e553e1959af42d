//! Aggregations: what a series keeps of its measurements, and how a
//! collection reads it.
//!
//! Each series holds one [`Cell`]. Recording writes the cell with atomics
//! only — sums and last values in one word, explicit-bucket histograms in two
//! halves (below) — except the exponential histogram, whose rescaling moves
//! every bucket and so runs under the series' own mutex (uncontended unless
//! two threads record the same series at the same instant).
//!
//! Collections take the measurements recorded since the previous one (the
//! delta) from the cell; a cumulative stream adds them to totals only the
//! collector touches. So recording never waits for a collection, and a
//! collection never sees half a measurement.
//!
//! ## The histogram's two halves
//!
//! A histogram measurement writes a bucket count, the sum, the minimum and
//! the maximum: four words, which a collection must see all or none of. The
//! cell has two halves and a word `started` whose top bit names the half
//! being written and whose other bits count measurements started. Recording
//! adds one to `started` (learning the half), writes that half, then adds one
//! to the half's `completed`. A collection flips the top bit — later
//! measurements go to the other half — and waits until the old half's
//! `completed` has caught up with the measurements started in it before it
//! reads and clears it. (Prometheus's Go client does the same.) Cost per
//! measurement: three atomic additions and a compare-exchange for the sum
//! (and, when they move, for the minimum and maximum).
//!
//! A cell has one such pair of halves per stripe, one stripe per processor
//! (up to four), each on cache lines of its own; a thread records in the
//! stripe its number picks, so threads recording on one series at once do
//! not take turns on the same lines. A collection reads every stripe.

use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use otlp_core::{
    Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, KeyValue, NumberDataPoint,
    NumberValue, Temporality,
};

use super::exponential::ExponentialState;
use super::extremes::{higher, lower};

/// One measurement's value, as the instrument's number type gives it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Measure {
    /// From an integer instrument.
    Int(i64),
    /// From a float instrument.
    Double(f64),
}

impl Measure {
    /// The value as a float (histograms and exemplars of floats).
    #[inline]
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Measure::Int(value) => value as f64,
            Measure::Double(value) => value,
        }
    }

    /// The value as OTLP carries it.
    pub(crate) fn number(self) -> NumberValue {
        match self {
            Measure::Int(value) => NumberValue::Int(value),
            Measure::Double(value) => NumberValue::Double(value),
        }
    }
}

/// How a stream aggregates, with its parameters: what a view or the
/// instrument's kind chose.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum CellKind {
    /// Sum (counters, up-down counters).
    Sum {
        /// Whether the sum only increases (the instrument's `is_monotonic`):
        /// an integer one then saturates at `i64::MAX` instead of wrapping.
        monotonic: bool,
    },
    /// Last value (gauges).
    LastValue,
    /// Explicit-bucket histogram.
    Histogram {
        /// Bucket upper bounds, increasing, finite.
        bounds: Vec<f64>,
        /// Whether min and max are kept.
        record_min_max: bool,
    },
    /// Base-2 exponential histogram.
    Exponential {
        /// Most buckets per sign.
        max_size: u32,
        /// Finest scale.
        max_scale: i8,
        /// Whether min and max are kept.
        record_min_max: bool,
    },
}

impl CellKind {
    /// Whether a cell of this kind counts `measure`: histograms leave NaN
    /// and the infinities out (the spec: not incorporated into the sum,
    /// min and max), sums and last values take every value (a synchronous
    /// instrument with a sum or a histogram stream refuses non-finite
    /// values before they reach any cell: `SyncCore::finite_only`).
    #[inline]
    pub(crate) fn aggregates(&self, measure: Measure) -> bool {
        match self {
            CellKind::Histogram { .. } | CellKind::Exponential { .. } => {
                measure.as_f64().is_finite()
            }
            CellKind::Sum { .. } | CellKind::LastValue => true,
        }
    }
}

/// A collected point, in the shape of its stream.
#[derive(Clone, Debug)]
pub(crate) enum Point {
    /// A sum or gauge point.
    Number(NumberDataPoint),
    /// An explicit-bucket histogram point.
    Histogram(HistogramDataPoint),
    /// An exponential histogram point.
    Exponential(ExponentialHistogramDataPoint),
}

/// What a collection needs to know to build a point.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    /// Delta or cumulative.
    pub(crate) temporality: Temporality,
    /// The point's start time.
    pub(crate) start: u64,
    /// The collection's time.
    pub(crate) time: u64,
}

/// A series' aggregation state.
#[derive(Debug)]
pub(crate) enum Cell {
    /// Sum of measurements.
    Sum(SumCell),
    /// Last measurement.
    LastValue(LastValueCell),
    /// Explicit-bucket histogram.
    Histogram(Box<HistogramCell>),
    /// Exponential histogram.
    Exponential(Box<ExponentialCell>),
}

impl Cell {
    /// An empty cell of `kind`; `float` says how sums and last values store
    /// their number.
    pub(crate) fn new(kind: &CellKind, float: bool) -> Cell {
        match kind {
            CellKind::Sum { monotonic } => Cell::Sum(SumCell::new(float, *monotonic)),
            CellKind::LastValue => Cell::LastValue(LastValueCell::new(float)),
            CellKind::Histogram {
                bounds,
                record_min_max,
            } => Cell::Histogram(Box::new(HistogramCell::new(
                bounds.clone(),
                *record_min_max,
            ))),
            CellKind::Exponential {
                max_size,
                max_scale,
                record_min_max,
            } => Cell::Exponential(Box::new(ExponentialCell {
                recording: Mutex::new(ExponentialState::new(
                    *max_size,
                    *max_scale,
                    *record_min_max,
                )),
                totals: Mutex::new(ExponentialState::new(
                    *max_size,
                    *max_scale,
                    *record_min_max,
                )),
            })),
        }
    }

    /// Records one measurement.
    #[inline]
    pub(crate) fn record(&self, measure: Measure) {
        match self {
            Cell::Sum(cell) => cell.add(measure),
            Cell::LastValue(cell) => cell.set(measure),
            Cell::Histogram(cell) => cell.record(measure.as_f64()),
            Cell::Exponential(cell) => cell.record(measure.as_f64()),
        }
    }

    /// The point of this collection, or `None` if the series has nothing to
    /// report in it. Only one collection runs at a time per stream.
    pub(crate) fn collect(
        &self,
        window: Window,
        attributes: Vec<KeyValue>,
        exemplars: Vec<Exemplar>,
    ) -> Option<Point> {
        match self {
            Cell::Sum(cell) => cell
                .collect(window.temporality)
                .map(|value| Point::Number(number_point(attributes, window, value, exemplars))),
            Cell::LastValue(cell) => cell
                .collect(window.temporality)
                .map(|value| Point::Number(number_point(attributes, window, value, exemplars))),
            Cell::Histogram(cell) => cell
                .collect(window, attributes, exemplars)
                .map(Point::Histogram),
            Cell::Exponential(cell) => cell
                .collect(window, attributes, exemplars)
                .map(Point::Exponential),
        }
    }
}

fn number_point(
    attributes: Vec<KeyValue>,
    window: Window,
    value: Measure,
    exemplars: Vec<Exemplar>,
) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: window.start,
        time_unix_nano: window.time,
        value: value.number(),
        exemplars,
        flags: 0,
    }
}

/// Adds `value` to the float whose bits `word` holds.
#[inline]
fn add_f64(word: &AtomicU64, value: f64) {
    let mut current = word.load(Ordering::Relaxed);
    loop {
        let next = (f64::from_bits(current) + value).to_bits();
        match word.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(seen) => current = seen,
        }
    }
}

/// Lowers (or raises, with `keep_lower = false`) the float in `word` to
/// `value`, -0.0 below 0.0 (see [`lower`]).
#[inline]
fn bound_f64(word: &AtomicU64, value: f64, keep_lower: bool) {
    let mut current = word.load(Ordering::Relaxed);
    loop {
        let held = f64::from_bits(current);
        let moves = if keep_lower {
            value.total_cmp(&held).is_lt()
        } else {
            value.total_cmp(&held).is_gt()
        };
        if !moves {
            return;
        }
        match word.compare_exchange_weak(
            current,
            value.to_bits(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return,
            Err(seen) => current = seen,
        }
    }
}

/// Whether a series has been written: never, since the last collection, or
/// only before it.
const NEVER: u8 = 0;
const FRESH: u8 = 1;
const STALE: u8 = 2;

/// A sum in one word (integer, or float bits).
///
/// An integer sum is an `i64` in two's complement, as OTLP's `as_int`
/// (sfixed64) carries it. A non-monotonic one (up-down counter) wraps: its
/// result is exact whenever the true total fits, whatever the order of the
/// measurements. A monotonic one (counter) saturates at `i64::MAX`, in each
/// interval and in the running total: its true total only grows, so once
/// past the largest value `as_int` can carry it can never come back, and a
/// wrapped value would go negative (a counter's sum must never go down; a
/// consumer takes a drop for a reset). Saturating costs a comparison after
/// the same one atomic addition (see [`SumCell::add_saturating`]).
#[derive(Debug)]
pub(crate) struct SumCell {
    value: AtomicU64,
    float: bool,
    /// Integer sums saturate instead of wrapping.
    saturates: bool,
    written: AtomicU8,
    /// Cumulative total of the deltas taken (collector only).
    total: Mutex<u64>,
}

impl SumCell {
    fn new(float: bool, monotonic: bool) -> SumCell {
        let zero = if float { 0f64.to_bits() } else { 0 };
        SumCell {
            value: AtomicU64::new(zero),
            float,
            saturates: monotonic && !float,
            written: AtomicU8::new(NEVER),
            total: Mutex::new(zero),
        }
    }

    #[inline]
    fn add(&self, measure: Measure) {
        if self.written.load(Ordering::Relaxed) != FRESH {
            self.written.store(FRESH, Ordering::Relaxed);
        }
        match measure {
            // A monotonic integer sum only takes `u64` measurements, capped
            // at `i64::MAX`: `value` is never negative.
            Measure::Int(value) if self.saturates => self.add_saturating(value as u64),
            Measure::Int(value) => {
                self.value.fetch_add(value as u64, Ordering::Relaxed);
            }
            Measure::Double(value) => add_f64(&self.value, value),
        }
    }

    /// Adds `value` (`0..=i64::MAX`) to a saturating sum.
    ///
    /// One atomic addition, as for the other sums: the value may pass
    /// `i64::MAX` for a moment, until the adding thread lowers it back with
    /// `fetch_min`, and [`collect`](Self::collect) caps what it takes. Past
    /// `i64::MAX` by at most `SMALL_ADD` per thread adding at that moment,
    /// the `u64` cannot wrap. A larger value (a `u64` near the top of its
    /// range, rare) takes a compare-exchange loop that never passes the cap.
    #[inline]
    fn add_saturating(&self, value: u64) {
        const SMALL_ADD: u64 = 1 << 48;
        if value <= SMALL_ADD {
            let previous = self.value.fetch_add(value, Ordering::Relaxed);
            if previous.saturating_add(value) > INT_SUM_MAX {
                self.value.fetch_min(INT_SUM_MAX, Ordering::Relaxed);
            }
        } else {
            // The closure always returns `Some`: the update cannot fail.
            let _ = self
                .value
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                    Some(bits.saturating_add(value).min(INT_SUM_MAX))
                });
        }
    }

    fn collect(&self, temporality: Temporality) -> Option<Measure> {
        // `written` is cleared before the value is taken, so a measurement
        // racing the collection either lands in this delta or leaves a
        // non-zero value (or a fresh mark) for the next.
        let written = self.written.swap(STALE, Ordering::AcqRel);
        let zero = if self.float { 0f64.to_bits() } else { 0 };
        let mut delta = self.value.swap(zero, Ordering::AcqRel);
        if self.saturates {
            // Taken while an addition passed the cap, before it lowered it.
            delta = delta.min(INT_SUM_MAX);
        }
        let mut total = self
            .total
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *total = if self.float {
            (f64::from_bits(*total) + f64::from_bits(delta)).to_bits()
        } else {
            add_int(*total, delta, self.saturates)
        };
        let fresh = written == FRESH || delta != zero;
        let bits = match temporality {
            Temporality::Delta if fresh => delta,
            Temporality::Delta => return None,
            _ if written == NEVER && !fresh => return None,
            _ => *total,
        };
        Some(if self.float {
            Measure::Double(f64::from_bits(bits))
        } else {
            Measure::Int(bits as i64)
        })
    }
}

/// The largest integer sum: what OTLP's `as_int` (sfixed64) carries.
const INT_SUM_MAX: u64 = i64::MAX as u64;

/// Adds two `i64`s held as bits: saturating at the `i64` range, or wrapping.
#[inline]
fn add_int(a: u64, b: u64, saturate: bool) -> u64 {
    let (a, b) = (a as i64, b as i64);
    (if saturate {
        a.saturating_add(b)
    } else {
        a.wrapping_add(b)
    }) as u64
}

/// The last value in one word (integer, or float bits).
#[derive(Debug)]
pub(crate) struct LastValueCell {
    value: AtomicU64,
    float: bool,
    written: AtomicU8,
}

impl LastValueCell {
    fn new(float: bool) -> LastValueCell {
        LastValueCell {
            value: AtomicU64::new(0),
            float,
            written: AtomicU8::new(NEVER),
        }
    }

    #[inline]
    fn set(&self, measure: Measure) {
        let bits = match measure {
            Measure::Int(value) => value as u64,
            Measure::Double(value) => value.to_bits(),
        };
        self.value.store(bits, Ordering::Release);
        if self.written.load(Ordering::Relaxed) != FRESH {
            self.written.store(FRESH, Ordering::Release);
        }
    }

    fn collect(&self, temporality: Temporality) -> Option<Measure> {
        let written = self.written.swap(STALE, Ordering::AcqRel);
        let report = match temporality {
            Temporality::Delta => written == FRESH,
            _ => written != NEVER,
        };
        if !report {
            return None;
        }
        let bits = self.value.load(Ordering::Acquire);
        Some(if self.float {
            Measure::Double(f64::from_bits(bits))
        } else {
            Measure::Int(bits as i64)
        })
    }
}

const HOT_BIT: u64 = 1 << 63;

/// The bucket of `value`: bucket `i` holds `(bounds[i-1], bounds[i]]`, so it
/// is the number of bounds below the value. Up to 32 bounds (the default
/// has 15) they are all compared — no chain of dependent branches, and the
/// compiler uses vector compares; beyond, a binary search.
#[inline]
pub(crate) fn bucket_of(bounds: &[f64], value: f64) -> usize {
    if bounds.len() <= 32 {
        bounds.iter().map(|bound| usize::from(*bound < value)).sum()
    } else {
        bounds.partition_point(|bound| *bound < value)
    }
}

/// One half of a histogram cell.
#[derive(Debug)]
struct HistogramHalf {
    completed: AtomicU64,
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
}

impl HistogramHalf {
    fn new(buckets: usize) -> HistogramHalf {
        HistogramHalf {
            completed: AtomicU64::new(0),
            buckets: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
            min: AtomicU64::new(f64::INFINITY.to_bits()),
            max: AtomicU64::new(f64::NEG_INFINITY.to_bits()),
        }
    }
}

/// One stripe of a histogram cell: the two halves and the word that says
/// which is hot. Aligned so that two stripes never share a cache line.
#[derive(Debug)]
#[repr(align(128))]
struct HistogramStripe {
    started: AtomicU64,
    halves: [HistogramHalf; 2],
}

/// What only the collector of a histogram touches.
#[derive(Debug)]
struct HistogramCollector {
    /// Per stripe: `started` (count bits) at the previous flip.
    started_at_flip: Vec<u64>,
    /// Per stripe: each half's `completed` when it was last emptied.
    completed_when_emptied: Vec<[u64; 2]>,
    /// Totals for cumulative points.
    counts: Vec<u64>,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

/// How many stripes a histogram cell has: one per processor, up to four.
/// Threads recording on one series at once then mostly write lines of
/// their own instead of taking turns on one; a collection reads them all.
fn stripes() -> usize {
    static STRIPES: OnceLock<usize> = OnceLock::new();
    *STRIPES.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|count| count.get())
            .unwrap_or(1)
            .clamp(1, 4)
    })
}

/// The stripe this thread records in: threads are numbered as they first
/// record, so concurrent threads take different stripes.
#[inline]
pub(crate) fn thread_stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    STRIPE.try_with(|stripe| *stripe).unwrap_or(0)
}

/// An explicit-bucket histogram in two halves per stripe (see the module docs).
#[derive(Debug)]
pub(crate) struct HistogramCell {
    bounds: Vec<f64>,
    record_min_max: bool,
    stripes: Box<[HistogramStripe]>,
    collector: Mutex<HistogramCollector>,
}

impl HistogramCell {
    fn new(bounds: Vec<f64>, record_min_max: bool) -> HistogramCell {
        let buckets = bounds.len() + 1;
        let stripes = stripes();
        HistogramCell {
            bounds,
            record_min_max,
            stripes: (0..stripes)
                .map(|_| HistogramStripe {
                    started: AtomicU64::new(0),
                    halves: [HistogramHalf::new(buckets), HistogramHalf::new(buckets)],
                })
                .collect(),
            collector: Mutex::new(HistogramCollector {
                started_at_flip: vec![0; stripes],
                completed_when_emptied: vec![[0, 0]; stripes],
                counts: vec![0; buckets],
                count: 0,
                sum: 0.0,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
            }),
        }
    }

    #[inline]
    fn record(&self, value: f64) {
        if !value.is_finite() {
            return;
        }
        let bucket = bucket_of(&self.bounds, value);
        let stripe = &self.stripes[thread_stripe() % self.stripes.len()];
        let started = stripe.started.fetch_add(1, Ordering::Acquire);
        let half = &stripe.halves[(started >> 63) as usize];
        half.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        add_f64(&half.sum, value);
        if self.record_min_max {
            bound_f64(&half.min, value, true);
            bound_f64(&half.max, value, false);
        }
        half.completed.fetch_add(1, Ordering::Release);
    }

    fn collect(
        &self,
        window: Window,
        attributes: Vec<KeyValue>,
        exemplars: Vec<Exemplar>,
    ) -> Option<HistogramDataPoint> {
        let mut collector = self.collector.lock().unwrap_or_else(|p| p.into_inner());
        let collector = &mut *collector;
        let mut counts = vec![0u64; self.bounds.len() + 1];
        let (mut count, mut sum, mut min, mut max) = (0, 0.0, f64::INFINITY, f64::NEG_INFINITY);
        for (index, stripe) in self.stripes.iter().enumerate() {
            let flipped = stripe.started.fetch_xor(HOT_BIT, Ordering::AcqRel);
            let cold = (flipped >> 63) as usize;
            let started = flipped & !HOT_BIT;
            let started_here = started - collector.started_at_flip[index];
            let expected = collector.completed_when_emptied[index][cold] + started_here;
            let half = &stripe.halves[cold];
            // Measurements started in the cold half finish in a few
            // instructions; wait for the stragglers.
            while half.completed.load(Ordering::Acquire) < expected {
                std::thread::yield_now();
            }
            for (total, bucket) in counts.iter_mut().zip(half.buckets.iter()) {
                *total += bucket.swap(0, Ordering::Relaxed);
            }
            sum += f64::from_bits(half.sum.swap(0f64.to_bits(), Ordering::Relaxed));
            min = lower(
                min,
                f64::from_bits(half.min.swap(f64::INFINITY.to_bits(), Ordering::Relaxed)),
            );
            max = higher(
                max,
                f64::from_bits(
                    half.max
                        .swap(f64::NEG_INFINITY.to_bits(), Ordering::Relaxed),
                ),
            );
            collector.started_at_flip[index] = started;
            collector.completed_when_emptied[index][cold] = expected;
            count += started_here;
        }

        collector.count += count;
        collector.sum += sum;
        collector.min = lower(collector.min, min);
        collector.max = higher(collector.max, max);
        for (total, delta) in collector.counts.iter_mut().zip(&counts) {
            *total += delta;
        }
        let (count, sum, min, max, counts) = match window.temporality {
            Temporality::Delta if count == 0 => return None,
            Temporality::Delta => (count, sum, min, max, counts),
            _ if collector.count == 0 => return None,
            _ => (
                collector.count,
                collector.sum,
                collector.min,
                collector.max,
                collector.counts.clone(),
            ),
        };
        Some(HistogramDataPoint {
            attributes,
            start_time_unix_nano: window.start,
            time_unix_nano: window.time,
            count,
            sum: Some(sum),
            bucket_counts: counts,
            explicit_bounds: self.bounds.clone(),
            exemplars,
            flags: 0,
            min: self.record_min_max.then_some(min),
            max: self.record_min_max.then_some(max),
        })
    }
}

/// An exponential histogram: recorded under a mutex, totals for cumulative
/// points kept apart.
#[derive(Debug)]
pub(crate) struct ExponentialCell {
    recording: Mutex<ExponentialState>,
    totals: Mutex<ExponentialState>,
}

impl ExponentialCell {
    #[inline]
    fn record(&self, value: f64) {
        self.recording
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .record(value);
    }

    fn collect(
        &self,
        window: Window,
        attributes: Vec<KeyValue>,
        exemplars: Vec<Exemplar>,
    ) -> Option<ExponentialHistogramDataPoint> {
        let mut totals = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        let mut recording = self.recording.lock().unwrap_or_else(|p| p.into_inner());
        let mut point = match window.temporality {
            Temporality::Delta => {
                if recording.is_empty() {
                    return None;
                }
                let point = recording.to_point(attributes, window.start, window.time);
                recording.reset();
                point
            }
            _ => {
                totals.merge_from(&recording);
                recording.reset();
                drop(recording);
                if totals.is_empty() {
                    return None;
                }
                totals.to_point(attributes, window.start, window.time)
            }
        };
        point.exemplars = exemplars;
        Some(point)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// An up-down counter's sum (integer sums wrap).
    const SUM: CellKind = CellKind::Sum { monotonic: false };

    fn window(temporality: Temporality) -> Window {
        Window {
            temporality,
            start: 1,
            time: 2,
        }
    }

    fn number(point: Option<Point>) -> Option<NumberValue> {
        match point {
            Some(Point::Number(point)) => Some(point.value),
            None => None,
            other => panic!("not a number point: {other:?}"),
        }
    }

    fn histogram(point: Option<Point>) -> Option<HistogramDataPoint> {
        match point {
            Some(Point::Histogram(point)) => Some(point),
            None => None,
            other => panic!("not a histogram point: {other:?}"),
        }
    }

    #[test]
    fn sums_report_deltas_or_running_totals_and_skip_quiet_intervals() {
        let delta = Cell::new(&SUM, false);
        let cumulative = Cell::new(&SUM, false);
        for cell in [&delta, &cumulative] {
            assert_eq!(
                number(cell.collect(window(Temporality::Delta), vec![], vec![])),
                None
            );
        }
        for value in [3, 4] {
            delta.record(Measure::Int(value));
            cumulative.record(Measure::Int(value));
        }
        let take = |cell: &Cell, t| number(cell.collect(window(t), vec![], vec![]));
        assert_eq!(take(&delta, Temporality::Delta), Some(NumberValue::Int(7)));
        assert_eq!(
            take(&cumulative, Temporality::Cumulative),
            Some(NumberValue::Int(7))
        );
        assert_eq!(take(&delta, Temporality::Delta), None);
        assert_eq!(
            take(&cumulative, Temporality::Cumulative),
            Some(NumberValue::Int(7))
        );
        delta.record(Measure::Int(-2));
        cumulative.record(Measure::Int(-2));
        assert_eq!(take(&delta, Temporality::Delta), Some(NumberValue::Int(-2)));
        assert_eq!(
            take(&cumulative, Temporality::Cumulative),
            Some(NumberValue::Int(5))
        );

        let float = Cell::new(&SUM, true);
        float.record(Measure::Double(0.5));
        float.record(Measure::Double(0.25));
        assert_eq!(
            take(&float, Temporality::Cumulative),
            Some(NumberValue::Double(0.75))
        );
    }

    #[test]
    fn a_delta_sum_of_zero_that_was_recorded_is_still_reported() {
        let cell = Cell::new(&SUM, false);
        cell.record(Measure::Int(0));
        let point = number(cell.collect(window(Temporality::Delta), vec![], vec![]));
        assert_eq!(point, Some(NumberValue::Int(0)));
    }

    #[test]
    fn last_values_report_the_latest_and_delta_only_when_written_since() {
        let cell = Cell::new(&CellKind::LastValue, true);
        cell.record(Measure::Double(1.5));
        cell.record(Measure::Double(-3.0));
        let take = |t| number(cell.collect(window(t), vec![], vec![]));
        assert_eq!(take(Temporality::Delta), Some(NumberValue::Double(-3.0)));
        assert_eq!(take(Temporality::Delta), None);
        assert_eq!(
            take(Temporality::Cumulative),
            Some(NumberValue::Double(-3.0))
        );
    }

    #[test]
    fn histogram_buckets_include_their_upper_bound() {
        let kind = CellKind::Histogram {
            bounds: vec![0.0, 5.0, 10.0],
            record_min_max: true,
        };
        let cell = Cell::new(&kind, false);
        for value in [
            -1.0,
            0.0,
            0.5,
            5.0,
            5.1,
            10.0,
            11.0,
            f64::NAN,
            f64::INFINITY,
        ] {
            cell.record(Measure::Double(value));
        }
        let point =
            histogram(cell.collect(window(Temporality::Delta), vec![], vec![])).expect("a point");
        assert_eq!(point.bucket_counts, vec![2, 2, 2, 1]);
        assert_eq!(point.count, 7);
        assert_eq!(point.sum, Some(-1.0 + 0.5 + 5.0 + 5.1 + 10.0 + 11.0));
        assert_eq!((point.min, point.max), (Some(-1.0), Some(11.0)));
        assert_eq!(point.explicit_bounds, vec![0.0, 5.0, 10.0]);
    }

    #[test]
    fn histogram_deltas_and_totals_across_collections() {
        let kind = CellKind::Histogram {
            bounds: vec![10.0],
            record_min_max: false,
        };
        let delta = Cell::new(&kind, false);
        let cumulative = Cell::new(&kind, false);
        for round in 0..3 {
            for cell in [&delta, &cumulative] {
                cell.record(Measure::Int(5));
                cell.record(Measure::Int(50 + round));
            }
            let d = histogram(delta.collect(window(Temporality::Delta), vec![], vec![]))
                .expect("delta");
            assert_eq!((d.count, d.bucket_counts.clone()), (2, vec![1, 1]));
            assert_eq!(d.sum, Some(55.0 + round as f64));
            assert_eq!((d.min, d.max), (None, None));
            let c = histogram(cumulative.collect(window(Temporality::Cumulative), vec![], vec![]))
                .expect("cumulative");
            let n = round as u64 + 1;
            assert_eq!((c.count, c.bucket_counts.clone()), (2 * n, vec![n, n]));
        }
        assert!(histogram(delta.collect(window(Temporality::Delta), vec![], vec![])).is_none());
    }

    #[test]
    fn a_counter_sum_adds_exactly_below_the_cap_and_never_passes_it_from_many_threads() {
        let counter = CellKind::Sum { monotonic: true };
        // Below the cap, the saturating sum adds every measurement.
        let exact = Arc::new(Cell::new(&counter, false));
        // Close to the cap, threads pass it at once (small additions, the
        // `fetch_add` path) and with `u64`s near the top of their range
        // (the compare-exchange path).
        let near_cap = Arc::new(Cell::new(&counter, false));
        near_cap.record(Measure::Int(i64::MAX - 1_000));
        // Large additions with no collection between them: together they
        // pass the `u64` range several times over.
        let uncollected = Arc::new(Cell::new(&counter, false));
        let per_thread = 100_000i64;
        let writers: Vec<_> = (0..2)
            .map(|thread| {
                let (exact, near_cap) = (exact.clone(), near_cap.clone());
                let uncollected = uncollected.clone();
                std::thread::spawn(move || {
                    for i in 0..per_thread {
                        exact.record(Measure::Int(1));
                        uncollected.record(Measure::Int(1 << 48));
                        let big = thread == 1 && i % 1_000 == 0;
                        near_cap.record(Measure::Int(if big { i64::MAX } else { 1 }));
                    }
                })
            })
            .collect();
        let mut seen = Vec::new();
        let mut collect = || {
            let point = number(near_cap.collect(window(Temporality::Cumulative), vec![], vec![]));
            if let Some(NumberValue::Int(total)) = point {
                seen.push(total);
            }
        };
        while writers.iter().any(|writer| !writer.is_finished()) {
            collect();
        }
        for writer in writers {
            writer.join().expect("writer");
        }
        collect();
        assert!(
            seen.windows(2).all(|pair| pair[0] <= pair[1]),
            "the running total never goes down"
        );
        assert_eq!(seen.last(), Some(&i64::MAX));
        assert_eq!(
            number(uncollected.collect(window(Temporality::Delta), vec![], vec![])),
            Some(NumberValue::Int(i64::MAX))
        );
        assert_eq!(
            number(exact.collect(window(Temporality::Cumulative), vec![], vec![])),
            Some(NumberValue::Int(2 * per_thread))
        );
    }

    #[test]
    fn concurrent_recording_and_collection_lose_and_split_nothing() {
        let kind = CellKind::Histogram {
            bounds: vec![1.0, 2.0],
            record_min_max: true,
        };
        let cell = Arc::new(Cell::new(&kind, false));
        let sum = Arc::new(Cell::new(&SUM, false));
        let per_thread = 200_000u64;
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let (cell, sum) = (cell.clone(), sum.clone());
                std::thread::spawn(move || {
                    for i in 0..per_thread {
                        cell.record(Measure::Int(1 + (i % 3) as i64));
                        sum.record(Measure::Int(1));
                    }
                })
            })
            .collect();
        let (mut count, mut buckets, mut total, mut added) = (0u64, [0u64; 3], 0.0, 0i64);
        let mut collect = || {
            if let Some(point) = histogram(cell.collect(window(Temporality::Delta), vec![], vec![]))
            {
                // Every point is whole: its count is its buckets' sum, its sum
                // theirs.
                assert_eq!(point.count, point.bucket_counts.iter().sum::<u64>());
                let expected = point.bucket_counts[0]
                    + 2 * point.bucket_counts[1]
                    + 3 * point.bucket_counts[2];
                assert_eq!(point.sum, Some(expected as f64));
                count += point.count;
                total += point.sum.unwrap_or(0.0);
                for (all, delta) in buckets.iter_mut().zip(&point.bucket_counts) {
                    *all += delta;
                }
            }
            if let Some(NumberValue::Int(delta)) =
                number(sum.collect(window(Temporality::Delta), vec![], vec![]))
            {
                added += delta;
            }
        };
        while writers.iter().any(|writer| !writer.is_finished()) {
            collect();
        }
        for writer in writers {
            writer.join().expect("writer");
        }
        collect();
        assert_eq!(count, 2 * per_thread);
        assert_eq!(added, 2 * per_thread as i64);
        assert_eq!(buckets.iter().sum::<u64>(), 2 * per_thread);
        assert!(total > 0.0);
    }

    #[test]
    fn bucket_of_counts_the_bounds_below_for_short_and_long_lists() {
        let short: Vec<f64> = (0..15).map(|i| f64::from(i) * 10.0).collect();
        let long: Vec<f64> = (0..100).map(f64::from).collect();
        for bounds in [&short, &long] {
            for value in [-1.0, 0.0, 0.5, 10.0, 10.1, 99.0, 140.0, 1e9] {
                assert_eq!(
                    bucket_of(bounds, value),
                    bounds.partition_point(|bound| *bound < value),
                    "{value} in {} bounds",
                    bounds.len()
                );
            }
        }
        assert_eq!(bucket_of(&[], 5.0), 0);
    }
}
