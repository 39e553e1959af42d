//! The instruments: what a program records measurements with.
//!
//! Synchronous instruments ([`Counter`], [`UpDownCounter`], [`Histogram`],
//! [`Gauge`]) record on the caller's thread, into each of their streams'
//! series (see the `series_table` module for what that costs). Observable
//! instruments ([`ObservableCounter`], [`ObservableUpDownCounter`],
//! [`ObservableGauge`]) are callbacks the reader runs at each collection,
//! on its own thread.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use otlp_core::KeyValue;

use super::aggregation::Measure;
use super::stream::Stream;
use crate::active_span;

mod sealed {
    /// Keeps [`super::Number`] to the three types OTLP carries.
    pub trait Sealed: Copy {
        /// The value as the aggregations take it.
        fn measure(self) -> super::Measure;
        /// Whether the value is finite (integers always are).
        fn is_finite(self) -> bool;
    }
}

/// The number types instruments record: `u64`, `i64` and `f64`.
pub trait Number: Copy + Send + Sync + fmt::Debug + 'static + sealed::Sealed {
    /// Whether the instrument's points carry floats.
    const IS_FLOAT: bool;
    /// Whether the value is not a valid increment of a counter: negative,
    /// or (a float) NaN, which would make the running total NaN for good.
    fn is_negative(self) -> bool;
}

impl sealed::Sealed for u64 {
    /// OTLP carries integers as `i64` (`as_int`, sfixed64): a value above
    /// `i64::MAX` is capped there rather than wrapped negative.
    #[inline]
    fn measure(self) -> Measure {
        Measure::Int(i64::try_from(self).unwrap_or(i64::MAX))
    }
    #[inline]
    fn is_finite(self) -> bool {
        true
    }
}
impl Number for u64 {
    const IS_FLOAT: bool = false;
    #[inline]
    fn is_negative(self) -> bool {
        false
    }
}

impl sealed::Sealed for i64 {
    #[inline]
    fn measure(self) -> Measure {
        Measure::Int(self)
    }
    #[inline]
    fn is_finite(self) -> bool {
        true
    }
}
impl Number for i64 {
    const IS_FLOAT: bool = false;
    #[inline]
    fn is_negative(self) -> bool {
        self < 0
    }
}

impl sealed::Sealed for f64 {
    #[inline]
    fn measure(self) -> Measure {
        Measure::Double(self)
    }
    #[inline]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}
impl Number for f64 {
    const IS_FLOAT: bool = true;
    #[inline]
    fn is_negative(self) -> bool {
        // NaN is no valid increment either: refused with the negatives.
        self < 0.0 || self.is_nan()
    }
}

/// What a synchronous instrument records into: its streams, and whether the
/// provider still runs.
pub(crate) struct SyncCore {
    pub(crate) streams: Vec<Arc<Stream>>,
    pub(crate) live: Arc<AtomicBool>,
    /// The provider's count of refused measurements.
    pub(crate) refused: Arc<AtomicU64>,
    /// Whether NaN and the infinities are refused: when any stream sums
    /// the measurements or makes a histogram of them. A sum that took one
    /// would be NaN or infinite at every later collection (a running total
    /// never recovers; +Inf then -Inf is NaN), and a histogram leaves them
    /// out (the spec: not incorporated into its sum, min and max). Only an
    /// instrument whose every stream keeps the last value takes them: a
    /// gauge may be NaN or infinite, and its next value replaces it.
    pub(crate) finite_only: bool,
    /// Whether any stream keeps exemplars (else the active span is not read).
    pub(crate) wants_span: bool,
}

impl SyncCore {
    /// Counts a measurement the instrument refused (a negative value given
    /// to a counter, a non-finite one given to a sum or a histogram), while
    /// the provider runs.
    #[cold]
    fn refuse(&self) {
        if self.live.load(Ordering::Relaxed) {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[inline]
    fn record(&self, measure: Measure, attributes: &[KeyValue]) {
        if !self.live.load(Ordering::Relaxed) {
            return;
        }
        let span = if self.wants_span {
            active_span::current()
        } else {
            None
        };
        for stream in &self.streams {
            stream.record(measure, attributes, span.as_ref());
        }
    }
}

impl fmt::Debug for SyncCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncCore")
            .field("streams", &self.streams.len())
            .finish_non_exhaustive()
    }
}

macro_rules! sync_instrument {
    ($(#[$doc:meta])* $name:ident, $method:ident, $verb:literal, refuse_negative: $refuse:literal) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name<T> {
            core: Arc<SyncCore>,
            number: PhantomData<fn(T)>,
        }

        impl<T: Number> $name<T> {
            pub(crate) fn new(core: Arc<SyncCore>) -> Self {
                $name { core, number: PhantomData }
            }

            /// Whether a measurement would be recorded (the API's
            /// `Enabled`): `false` for an instrument with no stream (every
            /// view selecting it drops it, or its name or unit is invalid)
            /// and once the provider is shut down or disabled. The answer
            /// can change (a shutdown), so ask it each time before the work
            /// a measurement would need. One atomic load.
            #[inline]
            pub fn enabled(&self) -> bool {
                !self.core.streams.is_empty() && self.core.live.load(Ordering::Relaxed)
            }

            #[doc = concat!("Records `value` (", $verb, ") in the series named by `attributes`.")]
            #[inline]
            pub fn $method(&self, value: T, attributes: &[KeyValue]) {
                if ($refuse && value.is_negative())
                    || (self.core.finite_only && !sealed::Sealed::is_finite(value))
                {
                    self.core.refuse();
                    return;
                }
                self.core.record(sealed::Sealed::measure(value), attributes);
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field("core", &self.core).finish()
            }
        }
    };
}

sync_instrument!(
    /// A monotonic sum (`u64` or `f64`): requests served, bytes sent.
    /// Negative values, NaN and the infinities are ignored, and counted in
    /// [`MetricsStats::refused_measurements`](super::MetricsStats::refused_measurements).
    ///
    /// An integer counter's sum saturates at `i64::MAX`, the largest value
    /// OTLP's `as_int` (sfixed64) can carry: a `u64` above it counts as
    /// `i64::MAX`, and a sum that reaches it (in an interval, or as a running
    /// total) stays there. It never wraps negative, which a consumer would
    /// take for a reset. (`opentelemetry_sdk` exports a `u64` total above
    /// `i64::MAX` as 0.)
    Counter, add, "added; negative values, NaN and the infinities are ignored (and counted)", refuse_negative: true
);
sync_instrument!(
    /// A sum that goes up and down (`i64` or `f64`): items in a queue.
    /// NaN and the infinities are ignored, and counted in
    /// [`MetricsStats::refused_measurements`](super::MetricsStats::refused_measurements):
    /// the running total would be NaN or infinite for good.
    UpDownCounter, add, "added; NaN and the infinities are ignored (and counted)", refuse_negative: false
);
sync_instrument!(
    /// A distribution (`u64` or `f64`): request durations, payload sizes.
    /// NaN and the infinities, which fall in no bucket, are ignored, and
    /// counted in
    /// [`MetricsStats::refused_measurements`](super::MetricsStats::refused_measurements).
    /// A `u64` above `i64::MAX` is recorded as `i64::MAX` (every integer
    /// measurement is taken as OTLP's `i64` first).
    ///
    /// Values are expected to be non-negative (the API specification says
    /// so, and its SDK counts a histogram's sum monotonic). A negative `f64`
    /// is recorded all the same, not validated: in the explicit bucket
    /// that holds it (or the exponential histogram's negative range), the
    /// sum and the minimum; a view making a sum of the histogram then
    /// exports a sum flagged monotonic that decreases.
    Histogram, record, "one measurement; NaN and the infinities are ignored (and counted)", refuse_negative: false
);
sync_instrument!(
    /// The current value of something (`u64`, `i64` or `f64`): a temperature,
    /// a pool's size. NaN and the infinities are values like any other
    /// (unless a view makes a sum or a histogram of the gauge: then they are
    /// ignored and counted, as for those instruments). A `u64` above
    /// `i64::MAX`, which OTLP's integer point (`as_int`, sfixed64) cannot
    /// carry, is recorded as `i64::MAX`.
    Gauge, record, "the new current value", refuse_negative: false
);

/// What an observable instrument's callback reports into.
pub struct Observer<'a, T> {
    pub(crate) observations: &'a mut Vec<(Measure, Vec<KeyValue>)>,
    pub(crate) number: PhantomData<fn(T)>,
}

impl<T: Number> Observer<'_, T> {
    /// Reports the value of the series named by `attributes` (for counters,
    /// the running total, not an increment). For an instrument whose streams
    /// sum (observable counters and up-down counters), NaN and the
    /// infinities are ignored, and counted in
    /// [`MetricsStats::refused_measurements`](super::MetricsStats::refused_measurements).
    ///
    /// Observe each set once per collection: a set observed again (by this
    /// callback or another of the instrument) is summed for a counter or
    /// up-down counter, and replaces the earlier value for a gauge.
    pub fn observe(&mut self, value: T, attributes: &[KeyValue]) {
        self.observations
            .push((sealed::Sealed::measure(value), attributes.to_vec()));
    }
}

impl<T> fmt::Debug for Observer<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observer")
            .field("observations", &self.observations.len())
            .finish()
    }
}

macro_rules! observable_instrument {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// The handle only names the registration: the callback stays
        /// registered for the provider's life.
        #[derive(Clone)]
        pub struct $name<T> {
            pub(crate) name: otlp_core::Str,
            pub(crate) number: PhantomData<fn(T)>,
        }

        impl<T> $name<T> {
            /// The instrument's name.
            pub fn name(&self) -> &str {
                &self.name
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field("name", &self.name).finish()
            }
        }
    };
}

observable_instrument!(
    /// A monotonic sum observed at each collection (`u64` or `f64`).
    ///
    /// As for [`Counter`], an integer total saturates at `i64::MAX`: a `u64`
    /// observation above it counts as `i64::MAX`, and observations of one
    /// attribute set that add up past it (identical instruments' callbacks)
    /// stay there.
    ObservableCounter
);
observable_instrument!(
    /// A sum that goes up and down, observed at each collection (`i64` or `f64`).
    ObservableUpDownCounter
);
observable_instrument!(
    /// A current value observed at each collection (`u64`, `i64` or `f64`).
    /// As for [`Gauge`], a `u64` above `i64::MAX` is observed as `i64::MAX`.
    ObservableGauge
);
