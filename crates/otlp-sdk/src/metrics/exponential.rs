//! The base-2 exponential histogram aggregation: [`ExponentialState`], one
//! series' buckets, and the mapping from a value to its bucket index.
//!
//! Follows the OpenTelemetry metrics SDK's "Base2 Exponential Bucket
//! Histogram Aggregation" and the data model's mapping functions.
//!
//! # Representation
//!
//! At scale `s` the base is `2^(2^-s)` and bucket `i` holds the magnitudes in
//! `(base^i, base^(i+1)]`: a value that is exactly a boundary belongs to the
//! lower bucket, so `1.0` is in bucket `-1` at every scale. Positive values
//! and the magnitudes of negative values have one bucket range each, kept as
//! a `Vec<u64>` of consecutive counts plus the index of the first one (the
//! same shape OTLP exports). One scale is shared by both signs. Exact zeros
//! (and `-0.0`) go to `zero_count` (the zero threshold is 0); NaN and ±Inf are
//! ignored: not counted, not summed. Count, sum, min and max are kept too.
//!
//! Mapping a magnitude: its binary exponent `e` and significand `m` in
//! `[1, 2)` are read from the `f64` bits, subnormals included, exactly.
//! - scale ≤ 0 (the spec's "exponent" method): the index is `e - 1` when `m`
//!   is 1 (an exact power of two), else `e`, then shifted right by `-s`. Exact.
//! - scale > 0 (the spec's "logarithm" method): an exact power of two maps to
//!   `(e << s) - 1`; otherwise the index is `(e << s) + floor(ln(m) ×
//!   LOG2_E × 2^s)`, clamped to the last bucket below `2^(e+1)`. Taking the
//!   logarithm of `m` rather than of the value keeps the error of `ln` within
//!   about one ulp of the value at every magnitude, subnormals included (the
//!   spec only clamps those to the smallest normal's bucket). A value within
//!   about an ulp of an irrational boundary may still land in the neighbour
//!   bucket; the spec leaves exactness there out of scope.
//!
//! # Scale
//!
//! A state starts at `max_scale`. When a value's bucket would stretch its
//! sign's range past `max_size` buckets, the scale drops by the fewest steps
//! that make it fit, and each step merges adjacent buckets pairwise (index
//! `i` becomes `i >> 1`) in both signs. The scale never rises while values
//! are recorded; [`reset`](ExponentialState::reset) returns it to
//! `max_scale` (the spec's "maintain the ideal scale": each delta interval
//! gets the best resolution of its own values, a single value the maximum
//! scale), so it is always the largest scale at or below `max_scale` where
//! every value recorded since creation or the last reset fits (an empty
//! state that is merged into starts over at `max_scale` too). With `max_size >= 3` it never goes below
//! [`MIN_SCALE`]`(-10)`, where every `f64` fits in three buckets; with
//! `max_size == 2` values spanning subnormals to large magnitudes take it to
//! -11, where every `f64` fits in two (OTLP does not bound the scale).
//!
//! # Cost model
//!
//! - [`record`](ExponentialState::record): bit decoding, at scale > 0 one
//!   `ln`, then one counter increment. It allocates only while a sign's range
//!   grows past the `Vec`'s capacity (doubling from [`INITIAL_BUCKETS`],
//!   never past `max_size`), so once the storage has reached the range a
//!   series needs, recording never allocates. Extending the range downwards
//!   moves the counts (`O(range)`, at most `max_size` words); a rescale is
//!   one in-place pass over both ranges (`O(max_size)`), at most 31 between
//!   two resets (scale 20 down to -11).
//! - [`reset`](ExponentialState::reset): clears, keeps the allocation.
//! - [`merge_from`](ExponentialState::merge_from): `O(buckets)`; may grow the
//!   destination's storage.
//! - [`to_point`](ExponentialState::to_point): copies both ranges into the
//!   exported point (two allocations).

use super::extremes::{higher, lower};
use otlp_core::{ExponentialBuckets, ExponentialHistogramDataPoint, KeyValue};

/// The specification's default `max_size`: buckets per sign.
pub(crate) const DEFAULT_MAX_SIZE: u32 = 160;
/// The specification's default `max_scale`.
pub(crate) const DEFAULT_MAX_SCALE: i8 = 20;
/// The finest scale accepted: at 20 each bucket is ~0.66 ppm wide and every
/// index still fits an `i32`; a larger `max_scale` is clamped to it.
pub(crate) const MAX_SCALE: i8 = 20;
/// The coarsest `max_scale` accepted (every `f64` fits in three buckets); a
/// smaller one is clamped to it.
pub(crate) const MIN_SCALE: i8 = -10;
/// The smallest `max_size`: two buckets per sign still cover every `f64` (at
/// scale -11); a smaller one is clamped to it.
pub(crate) const MIN_MAX_SIZE: u32 = 2;
/// The largest `max_size`: 128 KiB of counts per sign and series, 100 times
/// the default; a larger one is clamped to it, so a misconfiguration cannot
/// ask for gigabytes (a range at scale 20 can span 2^31 buckets).
pub(crate) const MAX_MAX_SIZE: u32 = 16_384;
/// Capacity of a sign's first allocation: a narrow distribution never
/// reallocates; wider ones double from here up to `max_size`.
const INITIAL_BUCKETS: usize = 8;

/// Bits of an `f64`'s significand.
const SIGNIFICAND_BITS: u32 = 52;
/// Mask of an `f64`'s significand bits.
const SIGNIFICAND_MASK: u64 = (1 << SIGNIFICAND_BITS) - 1;
/// Mask of an `f64`'s biased exponent, once shifted down.
const EXPONENT_MASK: u64 = 0x7ff;
/// The bias of an `f64`'s exponent.
const EXPONENT_BIAS: i32 = 1023;
/// The binary exponent of the smallest normal `f64`.
const MIN_NORMAL_EXPONENT: i32 = -1022;

/// One series' base-2 exponential histogram: scale, count, sum, min, max,
/// zero count and the bucket counts of each sign.
///
/// Cost: [`record`](Self::record) is a few arithmetic operations (one `ln`
/// at scale > 0) and does not allocate once each sign's storage has grown to
/// the range the series needs (at most `max_size` counts). Invariants: each
/// sign's range spans at most `max_size` buckets and its first and last
/// counts are non-zero; `count` is `zero_count` plus every bucket's count;
/// `min`/`max` are ±∞ while `count` is 0.
#[derive(Clone, Debug)]
pub(crate) struct ExponentialState {
    /// Most buckets per sign (clamped to `MIN_MAX_SIZE..=MAX_MAX_SIZE`).
    max_size: usize,
    /// The scale a new state starts at (clamped to `MIN_SCALE..=MAX_SCALE`).
    max_scale: i32,
    /// Whether [`to_point`](Self::to_point) exports min and max (they are
    /// tracked either way: two comparisons).
    record_min_max: bool,
    /// Current scale: at most `max_scale`, never rises until a reset.
    scale: i32,
    /// Values recorded (zeros included; NaN and ±Inf are not).
    count: u64,
    /// Values recorded whose magnitude is 0.
    zero_count: u64,
    /// Sum of the values recorded.
    sum: f64,
    /// Smallest value recorded (`+∞` while empty).
    min: f64,
    /// Largest value recorded (`-∞` while empty).
    max: f64,
    /// Buckets of the positive values.
    positive: Buckets,
    /// Buckets of the negative values, by magnitude.
    negative: Buckets,
}

impl ExponentialState {
    /// An empty histogram at scale `max_scale`. `max_size` (buckets per
    /// sign) is clamped to [`MIN_MAX_SIZE`]`..=`[`MAX_MAX_SIZE`] and
    /// `max_scale` to [`MIN_SCALE`]`..=`[`MAX_SCALE`]; `record_min_max` says
    /// whether [`to_point`](Self::to_point) exports min and max. Does not
    /// allocate.
    pub(crate) fn new(max_size: u32, max_scale: i8, record_min_max: bool) -> Self {
        let max_scale = i32::from(max_scale.clamp(MIN_SCALE, MAX_SCALE));
        ExponentialState {
            max_size: max_size.clamp(MIN_MAX_SIZE, MAX_MAX_SIZE) as usize,
            max_scale,
            record_min_max,
            scale: max_scale,
            count: 0,
            zero_count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            positive: Buckets::default(),
            negative: Buckets::default(),
        }
    }

    /// Records one measurement: NaN and ±Inf are ignored, ±0 counts in the
    /// zero bucket, anything else in its sign's bucket, lowering the scale
    /// first if that bucket would stretch the range past `max_size`.
    pub(crate) fn record(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.count += 1;
        self.sum += value;
        self.min = lower(self.min, value);
        self.max = higher(self.max, value);
        if value == 0.0 {
            self.zero_count += 1;
            return;
        }
        let positive = value > 0.0;
        let mut index = map_to_index(value.abs(), self.scale);
        let buckets = if positive {
            &self.positive
        } else {
            &self.negative
        };
        if let Some((low, high)) = buckets.range() {
            let change = scale_change(low.min(index), high.max(index), self.max_size);
            if change > 0 {
                self.downscale(change);
                index >>= change;
            }
        }
        let buckets = if positive {
            &mut self.positive
        } else {
            &mut self.negative
        };
        buckets.add(index, 1, self.max_size);
    }

    /// How many values were recorded (zeros included; NaN and ±Inf are not).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Whether nothing was recorded since creation or the last reset.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The current scale: bucket boundaries are powers of `2^(2^-scale)`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn scale(&self) -> i32 {
        self.scale
    }

    /// Empties the histogram for the next delta interval and returns it to
    /// `max_scale` (the interval's values get the best resolution they
    /// fit; rescaling again costs at most one pass per scale step), keeping
    /// the bucket storage (so recording stays allocation-free).
    pub(crate) fn reset(&mut self) {
        self.scale = self.max_scale;
        self.count = 0;
        self.zero_count = 0;
        self.sum = 0.0;
        self.min = f64::INFINITY;
        self.max = f64::NEG_INFINITY;
        self.positive.clear();
        self.negative.clear();
    }

    /// Adds `other`'s values to this histogram (cumulative accumulation of
    /// deltas). Both are brought to the largest scale, at most either's
    /// current scale, at which each sign's combined range fits this state's
    /// `max_size`; an empty `self` first returns to its `max_scale`, so
    /// merging into it copies `other` (within this state's limits). The
    /// result equals recording both sets of values into one state with
    /// this configuration, up to the rounding of the sum (and but for a sum
    /// that overflowed: intervals whose sums passed `f64::MAX` in opposite
    /// directions add up to NaN, where one interval of all the values would
    /// say infinite).
    pub(crate) fn merge_from(&mut self, other: &ExponentialState) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            self.scale = self.max_scale;
        }
        let common = self.scale.min(other.scale);
        let (own_shift, other_shift) = (self.scale - common, other.scale - common);
        let max_size = self.max_size;
        let mut change = 0;
        for (own, theirs) in [
            (&self.positive, &other.positive),
            (&self.negative, &other.negative),
        ] {
            let own = own.range().map(|(l, h)| (l >> own_shift, h >> own_shift));
            let theirs = theirs
                .range()
                .map(|(l, h)| (l >> other_shift, h >> other_shift));
            let combined = match (own, theirs) {
                (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
                (one, None) | (None, one) => one,
            };
            if let Some((low, high)) = combined {
                change = change.max(scale_change(low, high, max_size));
            }
        }
        let target = common - change;
        self.downscale(self.scale - target);
        let other_shift = other.scale - target;
        for (own, theirs) in [
            (&mut self.positive, &other.positive),
            (&mut self.negative, &other.negative),
        ] {
            for (position, &count) in theirs.counts.iter().enumerate() {
                if count != 0 {
                    let index = (i64::from(theirs.offset) + position as i64) >> other_shift;
                    own.add(index as i32, count, max_size);
                }
            }
        }
        self.count += other.count;
        self.zero_count += other.zero_count;
        self.sum += other.sum;
        self.min = lower(self.min, other.min);
        self.max = higher(self.max, other.max);
    }

    /// The histogram as an OTLP data point: `sum` is always `Some` (the
    /// buckets keep signs apart, so the sum of mixed values is meaningful;
    /// a caller whose instrument forbids it may drop it; finite values whose
    /// total passes `f64::MAX` make it infinite, or NaN in a cumulative
    /// point whose intervals overflowed in opposite directions), `min`/`max` are
    /// `Some` when `record_min_max` and `count > 0`, `zero_threshold` is 0,
    /// no exemplars or flags. Copies the counts (allocates).
    pub(crate) fn to_point(
        &self,
        attributes: Vec<KeyValue>,
        start_time_unix_nano: u64,
        time_unix_nano: u64,
    ) -> ExponentialHistogramDataPoint {
        let min_max = self.record_min_max && self.count > 0;
        ExponentialHistogramDataPoint {
            attributes,
            start_time_unix_nano,
            time_unix_nano,
            count: self.count,
            sum: Some(self.sum),
            scale: self.scale,
            zero_count: self.zero_count,
            positive: self.positive.to_otlp(),
            negative: self.negative.to_otlp(),
            flags: 0,
            exemplars: Vec::new(),
            min: min_max.then_some(self.min),
            max: min_max.then_some(self.max),
            zero_threshold: 0.0,
        }
    }

    /// Lowers the scale by `change` steps, merging buckets in both signs.
    fn downscale(&mut self, change: i32) {
        if change <= 0 {
            return;
        }
        self.scale -= change;
        self.positive.downscale(change);
        self.negative.downscale(change);
    }
}

/// How many scale steps (halvings of the indices) make the buckets
/// `low..=high` fit in `max_size` buckets (`max_size >= 2`, so this ends:
/// after at most 32 steps every `i32` range spans at most 2 buckets).
fn scale_change(low: i32, high: i32, max_size: usize) -> i32 {
    let (mut low, mut high) = (i64::from(low), i64::from(high));
    let mut change = 0;
    while high - low >= max_size as i64 {
        low >>= 1;
        high >>= 1;
        change += 1;
    }
    change
}

/// The exact binary exponent `e` and significand bits `f` of a positive,
/// finite, non-zero `value`: `value = 2^e × (1 + f / 2^52)`, subnormals
/// included (normalised, so their `e` goes down to -1074).
fn decompose(value: f64) -> (i32, u64) {
    let bits = value.to_bits();
    let biased = ((bits >> SIGNIFICAND_BITS) & EXPONENT_MASK) as i32;
    let significand = bits & SIGNIFICAND_MASK;
    if biased != 0 {
        return (biased - EXPONENT_BIAS, significand);
    }
    // Subnormal: value = significand × 2^-1074 with significand in
    // [1, 2^52). Move its leading one to bit 52, the implicit bit's place.
    let shift = significand.leading_zeros() - (63 - SIGNIFICAND_BITS);
    (
        MIN_NORMAL_EXPONENT - shift as i32,
        (significand << shift) & SIGNIFICAND_MASK,
    )
}

/// The index of the bucket `(base^i, base^(i+1)]` holding `magnitude`
/// (positive, finite, non-zero) at `scale` (`-11..=20`).
fn map_to_index(magnitude: f64, scale: i32) -> i32 {
    let (exponent, significand) = decompose(magnitude);
    if scale <= 0 {
        // Exponent method: at scale 0 bucket e holds (2^e, 2^(e+1)], so an
        // exact power of two 2^e is in bucket e - 1. Coarser scales group
        // 2^-scale of those buckets: an arithmetic shift (floor division).
        let index = if significand == 0 {
            exponent - 1
        } else {
            exponent
        };
        return index >> -scale;
    }
    // Logarithm method, on the significand only.
    if significand == 0 {
        return (exponent << scale) - 1;
    }
    let significand = f64::from_bits(((EXPONENT_BIAS as u64) << SIGNIFICAND_BITS) | significand);
    let scale_factor = std::f64::consts::LOG2_E * f64::from(1u32 << scale);
    // `significand` is in (1, 2), so the exact result is in [0, 2^scale);
    // rounding of `ln` near 2 may reach 2^scale, which the clamp undoes.
    let within = (significand.ln() * scale_factor).floor() as i32;
    (exponent << scale) + within.clamp(0, (1 << scale) - 1)
}

/// One sign's bucket counts: `counts[k]` counts bucket `offset + k`.
///
/// Invariant: empty, or the first and last counts are non-zero. Clearing
/// keeps the allocation; the capacity never exceeds the owner's `max_size`.
#[derive(Clone, Debug, Default)]
struct Buckets {
    /// Index of the bucket `counts[0]` counts (meaningless while empty).
    offset: i32,
    /// Counts of consecutive buckets.
    counts: Vec<u64>,
}

impl Buckets {
    /// The lowest and highest index counted, if any.
    fn range(&self) -> Option<(i32, i32)> {
        let last = self.counts.len().checked_sub(1)?;
        Some((self.offset, self.offset + last as i32))
    }

    /// Adds `count` to bucket `index`, extending the range; the caller has
    /// made sure the extended range fits in `max_size` buckets.
    fn add(&mut self, index: i32, count: u64, max_size: usize) {
        let Some((low, high)) = self.range() else {
            self.reserve(1, max_size);
            self.offset = index;
            self.counts.push(count);
            return;
        };
        if index < low {
            let grow = (i64::from(low) - i64::from(index)) as usize;
            let len = self.counts.len();
            self.reserve(len + grow, max_size);
            self.counts.resize(len + grow, 0);
            self.counts.rotate_right(grow);
            self.offset = index;
        } else if index > high {
            let len = (i64::from(index) - i64::from(low)) as usize + 1;
            self.reserve(len, max_size);
            self.counts.resize(len, 0);
        }
        self.counts[(i64::from(index) - i64::from(self.offset)) as usize] += count;
    }

    /// Makes room for `len` counts: doubling from [`INITIAL_BUCKETS`], never
    /// past `max_size` (`len <= max_size`).
    fn reserve(&mut self, len: usize, max_size: usize) {
        let capacity = self.counts.capacity();
        if len <= capacity {
            return;
        }
        let target = (capacity * 2).max(INITIAL_BUCKETS).min(max_size).max(len);
        self.counts.reserve_exact(target - self.counts.len());
    }

    /// Lowers the scale by `change` steps: bucket `i` becomes `i >> change`.
    /// In place: new positions never exceed old ones, so one forward pass
    /// moves every count to a slot already read.
    fn downscale(&mut self, change: i32) {
        let Some((low, high)) = self.range() else {
            return;
        };
        let offset = low >> change;
        for position in 0..self.counts.len() {
            let count = self.counts[position];
            let target = (((low + position as i32) >> change) - offset) as usize;
            if count != 0 && target != position {
                self.counts[position] = 0;
                self.counts[target] += count;
            }
        }
        self.counts
            .truncate(((high >> change) - offset) as usize + 1);
        self.offset = offset;
    }

    /// Empties the range, keeping the allocation.
    fn clear(&mut self) {
        self.counts.clear();
        self.offset = 0;
    }

    /// The range as OTLP buckets (offset 0 and no counts when empty).
    fn to_otlp(&self) -> ExponentialBuckets {
        ExponentialBuckets {
            offset: self.offset,
            bucket_counts: self.counts.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `2^e` exactly: subnormals included, 0 below them, ∞ above `f64::MAX`.
    fn pow2(e: i64) -> f64 {
        match e {
            ..-1074 => 0.0,
            -1074..=-1023 => f64::from_bits(1 << (e + 1074)),
            -1022..=1023 => f64::from_bits(((e + 1023) as u64) << 52),
            _ => f64::INFINITY,
        }
    }

    /// Asserts that `magnitude` lies in bucket `index`'s `(lower, upper]` at
    /// `scale`, computed from scale and index alone: exact at powers of two,
    /// within a few ulps at irrational boundaries (`exp2` rounds).
    fn assert_in_bucket(magnitude: f64, scale: i32, index: i32) {
        if scale <= 0 {
            let width = 1i64 << -scale;
            let lower = pow2(i64::from(index) * width);
            let upper = pow2((i64::from(index) + 1) * width);
            assert!(
                lower < magnitude && magnitude <= upper,
                "{magnitude:e} not in ({lower:e}, {upper:e}] (scale {scale}, index {index})"
            );
            return;
        }
        // Scale tiny magnitudes into the normal range (exactly) so that the
        // bounds are computed without subnormal rounding.
        let (magnitude, index) = if magnitude < pow2(-900) {
            (magnitude * pow2(200), index + (200 << scale))
        } else {
            (magnitude, index)
        };
        let bound = |index: i32| -> (f64, f64) {
            let within = index & ((1 << scale) - 1);
            let power = pow2(i64::from(index >> scale));
            if within == 0 {
                (power, 0.0)
            } else {
                (
                    power * (f64::from(within) / f64::from(1u32 << scale)).exp2(),
                    1e-15,
                )
            }
        };
        let (lower, lower_tolerance) = bound(index);
        let (upper, upper_tolerance) = bound(index + 1);
        assert!(
            lower * (1.0 - lower_tolerance) < magnitude
                && magnitude <= upper * (1.0 + upper_tolerance),
            "{magnitude:e} not in ({lower:e}, {upper:e}] (scale {scale}, index {index})"
        );
    }

    fn histogram(max_size: u32, max_scale: i8, values: &[f64]) -> ExponentialState {
        let mut state = ExponentialState::new(max_size, max_scale, true);
        for &value in values {
            state.record(value);
        }
        state
    }

    /// (offset, counts) of the positive and negative buckets.
    fn buckets(state: &ExponentialState) -> ((i32, Vec<u64>), (i32, Vec<u64>)) {
        let point = state.to_point(Vec::new(), 0, 0);
        (
            (point.positive.offset, point.positive.bucket_counts),
            (point.negative.offset, point.negative.bucket_counts),
        )
    }

    #[test]
    fn scale_0_puts_a_power_of_two_in_the_bucket_below_it() {
        assert_eq!(map_to_index(1.0, 0), -1);
        assert_eq!(map_to_index(1.0f64.next_up(), 0), 0);
        assert_eq!(map_to_index(1.0f64.next_down(), 0), -1);
        assert_eq!(map_to_index(1.5, 0), 0);
        assert_eq!(map_to_index(2.0, 0), 0);
        assert_eq!(map_to_index(2.0f64.next_up(), 0), 1);
        assert_eq!(map_to_index(3.0, 0), 1);
        assert_eq!(map_to_index(4.0, 0), 1);
        assert_eq!(map_to_index(0.5, 0), -2);
        assert_eq!(map_to_index(0.75, 0), -1);
        assert_eq!(map_to_index(1024.0, 0), 9);
        assert_eq!(map_to_index(f64::MAX, 0), 1023);
        assert_eq!(map_to_index(f64::MIN_POSITIVE, 0), -1023);
        assert_eq!(map_to_index(f64::MIN_POSITIVE.next_up(), 0), -1022);
        // Subnormals: 2^-1074 is an exact power of two, 3 × 2^-1074 is not.
        assert_eq!(map_to_index(pow2(-1074), 0), -1075);
        assert_eq!(map_to_index(2.0 * pow2(-1074), 0), -1074);
        assert_eq!(map_to_index(3.0 * pow2(-1074), 0), -1073);
        assert_eq!(map_to_index(pow2(-1030), 0), -1031);
        assert_eq!(map_to_index(pow2(-1030).next_up(), 0), -1030);
        assert_eq!(map_to_index(f64::MIN_POSITIVE.next_down(), 0), -1023);
    }

    #[test]
    fn negative_scales_group_powers_of_two() {
        // Scale -1: base 4, bucket i is (4^i, 4^(i+1)].
        assert_eq!(map_to_index(1.0, -1), -1);
        assert_eq!(map_to_index(1.0f64.next_up(), -1), 0);
        assert_eq!(map_to_index(2.0, -1), 0);
        assert_eq!(map_to_index(4.0, -1), 0);
        assert_eq!(map_to_index(4.0f64.next_up(), -1), 1);
        assert_eq!(map_to_index(16.0, -1), 1);
        assert_eq!(map_to_index(17.0, -1), 2);
        assert_eq!(map_to_index(0.25, -1), -2);
        assert_eq!(map_to_index(0.3, -1), -1);
        assert_eq!(map_to_index(f64::MAX, -1), 511);
        assert_eq!(map_to_index(pow2(-1074), -1), -538);
        // Scale -10: base 2^1024, bucket 0 is (1, 2^1024], -1 is
        // (2^-1024, 1], -2 holds the subnormals up to 2^-1024.
        assert_eq!(map_to_index(1.0, -10), -1);
        assert_eq!(map_to_index(1.0f64.next_up(), -10), 0);
        assert_eq!(map_to_index(f64::MAX, -10), 0);
        assert_eq!(map_to_index(f64::MIN_POSITIVE, -10), -1);
        assert_eq!(map_to_index(pow2(-1024), -10), -2);
        assert_eq!(map_to_index(pow2(-1024).next_up(), -10), -1);
        assert_eq!(map_to_index(pow2(-1074), -10), -2);
    }

    #[test]
    fn scale_1_splits_each_power_of_two_at_its_square_root() {
        // Base √2: bucket 0 is (1, √2], 1 is (√2, 2].
        assert_eq!(map_to_index(1.0, 1), -1);
        assert_eq!(map_to_index(1.0f64.next_up(), 1), 0);
        let sqrt_2 = std::f64::consts::SQRT_2;
        assert_eq!(map_to_index(sqrt_2 * (1.0 - 1e-12), 1), 0);
        assert_eq!(map_to_index(sqrt_2 * (1.0 + 1e-12), 1), 1);
        // The nearest f64 to √2 is 0.97e-16 above it, the one below 1.26e-16
        // below: within an ulp of the boundary, still mapped correctly.
        assert_eq!(map_to_index(sqrt_2, 1), 1);
        assert_eq!(map_to_index(sqrt_2.next_down(), 1), 0);
        assert_eq!(map_to_index(1.5, 1), 1);
        assert_eq!(map_to_index(2.0, 1), 1);
        assert_eq!(map_to_index(2.0f64.next_up(), 1), 2);
        assert_eq!(map_to_index(3.0, 1), 3); // log2(3) × 2 = 3.17
        assert_eq!(map_to_index(4.0, 1), 3);
        assert_eq!(map_to_index(0.5, 1), -3);
        assert_eq!(map_to_index(10.0, 1), 6); // 6.64
        assert_eq!(map_to_index(0.1, 1), -7); // -6.64
        assert_eq!(map_to_index(1e300, 1), 1993); // 1993.16
        assert_eq!(map_to_index(1e-300, 1), -1994); // -1993.16
        assert_eq!(map_to_index(f64::MAX, 1), 2047);
        assert_eq!(map_to_index(f64::MIN_POSITIVE, 1), -2045);
        assert_eq!(map_to_index(pow2(-1074), 1), -2149);
        // 3 × 2^-1074: log2 = -1074 + 1.585, × 2 = -2144.83.
        assert_eq!(map_to_index(3.0 * pow2(-1074), 1), -2145);
    }

    #[test]
    fn scale_20_maps_by_logarithm_with_exact_powers_of_two() {
        assert_eq!(map_to_index(1.0, 20), -1);
        assert_eq!(map_to_index(1.0f64.next_up(), 20), 0);
        assert_eq!(map_to_index(1.0f64.next_down(), 20), -1);
        assert_eq!(map_to_index(2.0, 20), (1 << 20) - 1);
        // The last bucket below 2 holds everything in (2^(1 - 2^-20), 2].
        assert_eq!(map_to_index(2.0f64.next_down(), 20), (1 << 20) - 1);
        assert_eq!(map_to_index(2.0f64.next_up(), 20), 1 << 20);
        // Hand-computed: floor(log2(v) × 2^20).
        assert_eq!(map_to_index(1.5, 20), 613_377); // 613377.64
        assert_eq!(map_to_index(3.0, 20), 1_661_953); // 1661953.64
        assert_eq!(map_to_index(10.0, 20), 3_483_294); // 3483294.07
        assert_eq!(map_to_index(100.0, 20), 6_966_588); // 6966588.15
        assert_eq!(map_to_index(0.1, 20), -3_483_295); // -3483294.07
        assert_eq!(map_to_index(1e300, 20), 1_044_988_222); // ….21
        assert_eq!(map_to_index(1e-300, 20), -1_044_988_223); // ….21
        // Extremes: f64::MAX in the last bucket below 2^1024, the smallest
        // subnormal (2^-1074) in the bucket below it.
        assert_eq!(map_to_index(f64::MAX, 20), (1024 << 20) - 1);
        assert_eq!(map_to_index(f64::MIN_POSITIVE, 20), (-1022 << 20) - 1);
        assert_eq!(map_to_index(pow2(-1074), 20), (-1074 << 20) - 1);
        assert_eq!(map_to_index(pow2(-1074).next_up(), 20), (-1073 << 20) - 1);
        assert_eq!(
            map_to_index(3.0 * pow2(-1074), 20),
            (-1074 << 20) + 1_661_953
        );
    }

    #[test]
    fn mapped_values_lie_in_their_bucket_at_every_scale() {
        let values = [
            1.0,
            1.5,
            2.0,
            3.0,
            0.1,
            1e-300,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::MIN_POSITIVE.next_down(),
            pow2(-1074),
            3.0 * pow2(-1074),
            std::f64::consts::SQRT_2,
        ];
        for scale in -10..=20 {
            for &value in &values {
                assert_in_bucket(value, scale, map_to_index(value, scale));
            }
        }
    }

    #[test]
    fn a_range_wider_than_max_size_lowers_the_scale() {
        let mut state = ExponentialState::new(4, 20, true);
        state.record(1.0);
        assert_eq!(state.scale(), 20);
        // 1 is in bucket -1 and 2 in bucket 2^s - 1: they fit in 4 buckets
        // only from scale 1 ((1, √2], (√2, 2]: indices -1..=1).
        state.record(2.0);
        assert_eq!(state.scale(), 1);
        assert_eq!(buckets(&state).0, (-1, vec![1, 0, 1]));
        state.record(4.0); // index 3 at scale 1: -1..=3 is 5 buckets.
        assert_eq!(state.scale(), 0);
        assert_eq!(buckets(&state).0, (-1, vec![1, 1, 1]));
        state.record(8.0); // index 2 at scale 0: -1..=2 fits.
        assert_eq!(state.scale(), 0);
        state.record(16.0); // index 3: scale -1, base 4.
        assert_eq!(state.scale(), -1);
        // (1/4, 1]: 1; (1, 4]: 2, 4; (4, 16]: 8, 16.
        assert_eq!(buckets(&state).0, (-1, vec![1, 2, 2]));
        assert_eq!(state.count(), 5);
        let point = state.to_point(Vec::new(), 1, 2);
        assert_eq!(point.sum, Some(31.0));
        assert_eq!((point.min, point.max), (Some(1.0), Some(16.0)));
        assert_eq!(point.negative.bucket_counts, Vec::<u64>::new());
    }

    #[test]
    fn values_recorded_downwards_extend_the_range_below() {
        let state = histogram(4, 0, &[16.0, 8.0, 4.0, 2.0]);
        assert_eq!(state.scale(), 0);
        assert_eq!(buckets(&state).0, (0, vec![1, 1, 1, 1]));
        let state = histogram(4, 0, &[16.0, 8.0, 4.0, 2.0, 1.0]);
        assert_eq!(state.scale(), -1);
        assert_eq!(buckets(&state).0, (-1, vec![1, 2, 2]));
    }

    #[test]
    fn negative_values_count_by_magnitude_and_share_the_scale() {
        let state = histogram(4, 20, &[-1.0, -2.0, -4.0, -8.0, -16.0]);
        assert_eq!(state.scale(), -1);
        assert_eq!(buckets(&state), ((0, vec![]), (-1, vec![1, 2, 2])));
        // A wide negative range lowers the scale of the positive side too.
        let state = histogram(4, 0, &[3.0, -1.0, -16.0]);
        assert_eq!(state.scale(), -1);
        assert_eq!(buckets(&state), ((0, vec![1]), (-1, vec![1, 0, 1])));
        let point = state.to_point(Vec::new(), 0, 0);
        assert_eq!((point.min, point.max), (Some(-16.0), Some(3.0)));
        assert_eq!(point.sum, Some(-14.0));
    }

    #[test]
    fn zeros_go_to_the_zero_count() {
        let state = histogram(160, 20, &[0.0, -0.0, 5.0]);
        let point = state.to_point(Vec::new(), 0, 0);
        assert_eq!((point.count, point.zero_count), (3, 2));
        assert_eq!(point.positive.bucket_counts, vec![1]);
        assert_eq!(point.zero_threshold, 0.0);
        assert_eq!(point.max, Some(5.0));
        assert_eq!(point.min.map(f64::abs), Some(0.0));
        assert_eq!(state.scale(), 20);
    }

    #[test]
    fn nan_and_infinities_are_ignored() {
        let state = histogram(
            160,
            20,
            &[f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -f64::NAN, 2.0],
        );
        let point = state.to_point(Vec::new(), 0, 0);
        assert_eq!(point.count, 1);
        assert_eq!(point.sum, Some(2.0));
        assert_eq!((point.min, point.max), (Some(2.0), Some(2.0)));
        let state = histogram(160, 20, &[f64::NAN, f64::INFINITY]);
        assert!(state.is_empty());
        assert_eq!(state.to_point(Vec::new(), 0, 0).min, None);
    }

    #[test]
    fn extremes_fit_at_scale_minus_10_and_at_minus_11_with_two_buckets() {
        let all = [pow2(-1074), 1.0, f64::MAX];
        let state = histogram(3, 20, &all);
        assert_eq!(state.scale(), -10);
        assert_eq!(buckets(&state).0, (-2, vec![1, 1, 1]));
        let state = histogram(2, 20, &all);
        assert_eq!(state.scale(), -11);
        assert_eq!(buckets(&state).0, (-1, vec![2, 1]));
        // Without subnormals two buckets suffice at -10.
        let state = histogram(2, 20, &[1e-300, 1.0, 1e300]);
        assert_eq!(state.scale(), -10);
        assert_eq!(buckets(&state).0, (-1, vec![2, 1]));
    }

    #[test]
    fn new_clamps_its_configuration() {
        let state = ExponentialState::new(0, 100, true);
        assert_eq!((state.max_size, state.scale()), (2, 20));
        let state = ExponentialState::new(u32::MAX, -100, false);
        assert_eq!((state.max_size, state.scale()), (16_384, -10));
        let state = ExponentialState::new(DEFAULT_MAX_SIZE, DEFAULT_MAX_SCALE, true);
        assert_eq!((state.max_size, state.scale()), (160, 20));
    }

    #[test]
    fn to_point_carries_times_attributes_and_optional_min_max() {
        let mut state = ExponentialState::new(160, 20, false);
        state.record(3.0);
        let attributes = vec![KeyValue::new("k", "v")];
        let point = state.to_point(attributes.clone(), 10, 20);
        assert_eq!(point.attributes, attributes);
        assert_eq!((point.start_time_unix_nano, point.time_unix_nano), (10, 20));
        assert_eq!((point.min, point.max), (None, None));
        assert_eq!((point.flags, point.exemplars.len()), (0, 0));
        assert_eq!(point.positive.offset, 1_661_953);
        let empty = ExponentialState::new(160, 20, true).to_point(Vec::new(), 0, 0);
        assert_eq!((empty.count, empty.sum, empty.min), (0, Some(0.0), None));
        assert_eq!(empty.positive, ExponentialBuckets::default());
    }

    #[test]
    fn merging_states_at_different_scales_equals_recording_all_values() {
        let narrow = [1.0, 1.5, 1.75, -3.0, 0.0];
        let wide = [0.25, 1024.0, 5.0, -0.5, -40.0, 2.0];
        let mut merged = histogram(8, 20, &narrow);
        let other = histogram(8, 20, &wide);
        assert!(merged.scale() > other.scale());
        merged.merge_from(&other);
        let mut all = narrow.to_vec();
        all.extend_from_slice(&wide);
        let expected = histogram(8, 20, &all);
        assert_eq!(merged.scale(), expected.scale());
        assert_eq!(
            merged.to_point(Vec::new(), 0, 0),
            expected.to_point(Vec::new(), 0, 0)
        );
        // The other way round: the finer state merged into the coarser.
        let mut merged = histogram(8, 20, &wide);
        merged.merge_from(&histogram(8, 20, &narrow));
        assert_eq!(
            merged.to_point(Vec::new(), 0, 0),
            expected.to_point(Vec::new(), 0, 0)
        );
    }

    #[test]
    fn merging_can_lower_the_scale_below_both_inputs() {
        // Each fits at scale 0 on its own (4 and 3 buckets); together they
        // span 8 buckets at scale 0 and 5 at -1, so they meet at -2.
        let mut low = histogram(4, 0, &[1.0, 2.0, 4.0, 8.0]);
        let high = histogram(4, 0, &[32.0, 64.0, 128.0]);
        assert_eq!((low.scale(), high.scale()), (0, 0));
        low.merge_from(&high);
        assert_eq!(low.scale(), -2);
        let expected = histogram(4, 0, &[1.0, 2.0, 4.0, 8.0, 32.0, 64.0, 128.0]);
        assert_eq!(
            low.to_point(Vec::new(), 0, 0),
            expected.to_point(Vec::new(), 0, 0)
        );
        assert_eq!(buckets(&low).0, (-1, vec![1, 3, 3]));
    }

    #[test]
    fn merging_into_an_empty_state_copies_and_empty_other_changes_nothing() {
        let source = histogram(160, 20, &[3.0, 3.5, -7.0]);
        let mut cumulative = ExponentialState::new(160, 20, true);
        cumulative.merge_from(&source);
        assert_eq!(
            cumulative.to_point(Vec::new(), 0, 0),
            source.to_point(Vec::new(), 0, 0)
        );
        let before = cumulative.to_point(Vec::new(), 0, 0);
        cumulative.merge_from(&ExponentialState::new(160, -10, true));
        assert_eq!(cumulative.to_point(Vec::new(), 0, 0), before);
        // An emptied state at a coarse scale returns to its maximum scale.
        let mut delta = histogram(4, 20, &[1.0, 1e6]);
        delta.reset();
        delta.merge_from(&source);
        assert_eq!(
            delta.to_point(Vec::new(), 0, 0),
            histogram(4, 20, &[3.0, 3.5, -7.0]).to_point(Vec::new(), 0, 0)
        );
    }

    #[test]
    fn reset_empties_returns_to_the_maximum_scale_and_keeps_the_storage() {
        let mut state = histogram(4, 20, &[1.0, 2.0, 4.0, 8.0, 16.0, -1.0]);
        assert!(state.scale() < 20);
        let capacity = state.positive.counts.capacity();
        state.reset();
        assert!(state.is_empty());
        assert_eq!(state.scale(), 20);
        assert_eq!(state.positive.counts.capacity(), capacity);
        let point = state.to_point(Vec::new(), 0, 0);
        assert_eq!(
            (point.count, point.zero_count, point.sum),
            (0, 0, Some(0.0))
        );
        assert_eq!((point.min, point.max), (None, None));
        assert_eq!(point.positive, ExponentialBuckets::default());
        assert_eq!(point.negative, ExponentialBuckets::default());
        // One value: the maximum scale, 2.0 in the last bucket below 2^1.
        state.record(2.0);
        assert_eq!(buckets(&state).0, ((1 << 20) - 1, vec![1]));
        assert_eq!(state.scale(), 20);
        assert_eq!(state.positive.counts.capacity(), capacity);
    }

    #[test]
    fn recording_within_grown_storage_does_not_reallocate() {
        let mut state = ExponentialState::new(160, 20, true);
        let warm_up: Vec<f64> = (1..=2000).map(|i| f64::from(i) * 0.37).collect();
        for &value in &warm_up {
            state.record(value);
            state.record(-value);
        }
        assert!(state.positive.counts.capacity() <= 160);
        let storage = |state: &ExponentialState| {
            (
                state.positive.counts.as_ptr(),
                state.positive.counts.capacity(),
                state.negative.counts.as_ptr(),
                state.negative.counts.capacity(),
            )
        };
        let before = storage(&state);
        for _ in 0..3 {
            state.reset();
            for &value in warm_up.iter().rev() {
                state.record(value);
                state.record(-value);
            }
            assert_eq!(storage(&state), before);
        }
    }

    /// Finite values from the whole `f64` range, clusters near 1, zeros and
    /// the values to ignore.
    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<u64>().prop_map(f64::from_bits),
            (-1000.0..1000.0f64),
            (0.5..4.0f64),
            Just(0.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            (1u64..1 << 52).prop_map(f64::from_bits),
        ]
    }

    proptest! {
        #[test]
        fn every_value_is_counted_in_the_bucket_that_holds_it(
            values in proptest::collection::vec(value(), 0..200),
            max_size in 2u32..40,
            max_scale in -10i8..=20,
        ) {
            let state = histogram(max_size, max_scale, &values);
            let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
            prop_assert_eq!(state.count(), finite.len() as u64);
            let scale = state.scale();
            let mut expected = [Vec::new(), Vec::new()];
            let mut zeros = 0;
            for &value in &finite {
                if value == 0.0 {
                    zeros += 1;
                    continue;
                }
                let index = map_to_index(value.abs(), scale);
                assert_in_bucket(value.abs(), scale, index);
                expected[usize::from(value < 0.0)].push(index);
            }
            let point = state.to_point(Vec::new(), 0, 0);
            prop_assert_eq!(point.zero_count, zeros);
            for (indices, side) in expected.iter_mut().zip([&point.positive, &point.negative]) {
                // Recording (with its rescales) counts exactly what mapping
                // every value at the final scale counts.
                indices.sort_unstable();
                let mut counted = Vec::new();
                for (position, &count) in side.bucket_counts.iter().enumerate() {
                    counted.extend(std::iter::repeat_n(side.offset + position as i32, count as usize));
                }
                prop_assert_eq!(&counted, indices);
                prop_assert!(side.bucket_counts.len() <= max_size as usize);
                if let (Some(first), Some(last)) = (side.bucket_counts.first(), side.bucket_counts.last()) {
                    prop_assert!(*first > 0 && *last > 0);
                }
            }
            // The scale is the finest at which everything fits: one step
            // finer, some sign would span more than max_size buckets.
            if scale < i32::from(max_scale) {
                let span = |negative: bool| {
                    let indices = finite
                        .iter()
                        .filter(|v| **v != 0.0 && (**v < 0.0) == negative)
                        .map(|v| i64::from(map_to_index(v.abs(), scale + 1)));
                    indices.clone().max().unwrap_or(0) - indices.min().unwrap_or(0) + 1
                };
                let too_wide = span(false).max(span(true)) > i64::from(max_size);
                prop_assert!(too_wide, "scale {} is coarser than needed", scale);
            }
        }

        #[test]
        fn merging_halves_equals_recording_everything(
            values in proptest::collection::vec(value(), 0..100),
            split in 0usize..100,
            max_size in 2u32..20,
            max_scale in -10i8..=20,
        ) {
            let split = split.min(values.len());
            let mut merged = histogram(max_size, max_scale, &values[..split]);
            merged.merge_from(&histogram(max_size, max_scale, &values[split..]));
            let all = histogram(max_size, max_scale, &values);
            let (mut merged, mut all) = (merged.to_point(Vec::new(), 0, 0), all.to_point(Vec::new(), 0, 0));
            // Sums differ by rounding only (bounded by the sum of magnitudes).
            let (merged_sum, all_sum) = (merged.sum.take().unwrap(), all.sum.take().unwrap());
            let magnitude: f64 = values.iter().filter(|v| v.is_finite()).map(|v| v.abs()).sum();
            prop_assert!(
                !magnitude.is_finite() || (merged_sum - all_sum).abs() <= 1e-12 * magnitude,
                "{} vs {}", merged_sum, all_sum
            );
            prop_assert_eq!(merged, all);
        }
    }
}
