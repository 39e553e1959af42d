//! Exemplars: measurements kept with the span they were taken in.
//!
//! The filter ([`ExemplarFilter`], `OTEL_METRICS_EXEMPLAR_FILTER`) decides
//! which measurements are offered: by default those taken inside a sampled
//! span (`trace_based`). The span comes from the thread's active span
//! ([`crate::active_span`]), which the `tracing` layer of `otlp-contrib`
//! sets on entering a span, or from the context given explicitly.
//!
//! Each series has a reservoir, empty and unallocated until the first
//! offer, shaped as the spec's exemplar defaults say
//! ([`ReservoirShape::of`]): for explicit-bucket histograms one exemplar per
//! bucket (the latest measurement of the bucket wins), for exponential
//! histograms up to [`EXPONENTIAL_EXEMPLARS`] (fewer if the aggregation has
//! fewer buckets), for other aggregations one; those are chosen uniformly
//! among the interval's offers (reservoir sampling). A collection takes the
//! exemplars and empties the reservoir. Offering takes the series'
//! reservoir mutex: the measurement path pays it only when the filter lets
//! the measurement through.

use std::cell::Cell;
use std::sync::Mutex;

use otlp_core::{Exemplar, KeyValue};

use super::aggregation::{CellKind, Measure};
use crate::active_span::ActiveSpan;
use crate::config::ExemplarFilter;

/// Whether the filter offers a measurement taken in `span`.
#[inline]
pub(crate) fn offers(filter: ExemplarFilter, span: Option<&ActiveSpan>) -> bool {
    match filter {
        ExemplarFilter::AlwaysOff => false,
        ExemplarFilter::AlwaysOn => true,
        ExemplarFilter::TraceBased => span.is_some_and(ActiveSpan::is_sampled),
    }
}

/// Most exemplars an exponential histogram's series keeps per interval:
/// the spec's default (`min(20, max_buckets)`). Past it, each further offer
/// replaces a kept one at random (every offer kept with equal chance).
pub(crate) const EXPONENTIAL_EXEMPLARS: usize = 20;

/// How a series' reservoir keeps exemplars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReservoirShape {
    /// The spec's `AlignedHistogramBucketExemplarReservoir`: one slot per
    /// bucket, the latest offer of the bucket kept.
    Aligned(usize),
    /// The spec's `SimpleFixedSizeExemplarReservoir`: this many slots,
    /// filled in order, then sampled uniformly.
    Fixed(usize),
}

impl ReservoirShape {
    /// The spec's default for an aggregation: aligned for an explicit-bucket
    /// histogram with more than one bucket, `min(20, max_size)` slots for an
    /// exponential histogram, one slot otherwise.
    pub(crate) fn of(kind: &CellKind) -> ReservoirShape {
        match kind {
            CellKind::Histogram { bounds, .. } if !bounds.is_empty() => {
                ReservoirShape::Aligned(bounds.len() + 1)
            }
            CellKind::Exponential { max_size, .. } => ReservoirShape::Fixed(
                usize::try_from(*max_size)
                    .unwrap_or(usize::MAX)
                    .min(EXPONENTIAL_EXEMPLARS),
            ),
            _ => ReservoirShape::Fixed(1),
        }
    }
}

#[derive(Debug, Default)]
struct Slots {
    exemplars: Vec<Option<Exemplar>>,
    offered: u64,
}

/// A series' exemplars since the last collection.
#[derive(Debug)]
pub(crate) struct Reservoir {
    slots: Mutex<Slots>,
    size: usize,
    aligned: bool,
}

impl Reservoir {
    /// An empty reservoir of that shape (at least one slot).
    pub(crate) fn new(shape: ReservoirShape) -> Reservoir {
        let (size, aligned) = match shape {
            ReservoirShape::Aligned(buckets) => (buckets, true),
            ReservoirShape::Fixed(size) => (size, false),
        };
        Reservoir {
            slots: Mutex::new(Slots::default()),
            size: size.max(1),
            aligned,
        }
    }

    /// Offers a measurement; `bucket` picks the slot of an aligned
    /// (histogram) reservoir and is ignored otherwise.
    pub(crate) fn offer(
        &self,
        bucket: Option<usize>,
        measure: Measure,
        span: Option<&ActiveSpan>,
        filtered_attributes: Vec<KeyValue>,
    ) {
        let exemplar = Exemplar {
            filtered_attributes,
            time_unix_nano: otlp_core::clock::now_unix_nanos(),
            value: measure.number(),
            span_id: span.map(|span| span.span_id),
            trace_id: span.map(|span| span.trace_id),
        };
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.exemplars.is_empty() {
            slots.exemplars.resize(self.size, None);
        }
        slots.offered += 1;
        let index = if self.aligned {
            bucket.unwrap_or(0).min(self.size - 1)
        } else if slots.offered <= self.size as u64 {
            // The first offers fill the slots in order.
            (slots.offered - 1) as usize
        } else {
            // Reservoir sampling: the n-th offer replaces a kept one with
            // probability size/n, so every offer is kept with equal chance.
            let pick = random_below(slots.offered);
            if pick >= self.size as u64 {
                return;
            }
            pick as usize
        };
        slots.exemplars[index] = Some(exemplar);
    }

    /// The exemplars since the last collection; the reservoir starts over.
    pub(crate) fn take(&self) -> Vec<Exemplar> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.offered = 0;
        slots
            .exemplars
            .iter_mut()
            .filter_map(Option::take)
            .collect()
    }
}

/// A number in `0..bound` from a per-thread xorshift generator.
fn random_below(bound: u64) -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            u64::from_le_bytes(otlp_core::SpanId::random().to_bytes()).max(1)
        );
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x % bound.max(1)
    })
}

#[cfg(test)]
mod tests {
    use otlp_core::{NumberValue, SpanId, TraceFlags, TraceId};

    use super::*;

    fn span(sampled: bool) -> ActiveSpan {
        ActiveSpan {
            trace_id: TraceId::from_bytes([1; 16]),
            span_id: SpanId::from_bytes([2; 8]),
            trace_flags: TraceFlags::NONE.with_sampled(sampled),
        }
    }

    #[test]
    fn the_trace_based_filter_offers_only_sampled_spans() {
        assert!(offers(ExemplarFilter::TraceBased, Some(&span(true))));
        assert!(!offers(ExemplarFilter::TraceBased, Some(&span(false))));
        assert!(!offers(ExemplarFilter::TraceBased, None));
        assert!(offers(ExemplarFilter::AlwaysOn, None));
        assert!(!offers(ExemplarFilter::AlwaysOff, Some(&span(true))));
    }

    #[test]
    fn aligned_reservoirs_keep_the_latest_per_bucket_and_empty_on_take() {
        let reservoir = Reservoir::new(ReservoirShape::Aligned(3));
        let active = span(true);
        reservoir.offer(Some(0), Measure::Int(1), Some(&active), vec![]);
        reservoir.offer(Some(2), Measure::Int(7), Some(&active), vec![]);
        reservoir.offer(Some(2), Measure::Int(9), Some(&active), vec![]);
        let taken = reservoir.take();
        let values: Vec<NumberValue> = taken.iter().map(|e| e.value).collect();
        assert_eq!(values, vec![NumberValue::Int(1), NumberValue::Int(9)]);
        assert_eq!(taken[0].trace_id, Some(active.trace_id));
        assert_eq!(taken[0].span_id, Some(active.span_id));
        assert!(reservoir.take().is_empty());
    }

    #[test]
    fn a_single_slot_keeps_one_of_the_offers() {
        let reservoir = Reservoir::new(ReservoirShape::Fixed(1));
        for value in 0..100 {
            reservoir.offer(None, Measure::Double(value as f64), None, vec![]);
        }
        assert_eq!(reservoir.take().len(), 1);
    }

    #[test]
    fn a_fixed_size_reservoir_fills_its_slots_then_samples_every_offer_alike() {
        let reservoir = Reservoir::new(ReservoirShape::Fixed(4));
        for value in 0..3 {
            reservoir.offer(None, Measure::Int(value), None, vec![]);
        }
        let values: Vec<NumberValue> = reservoir.take().iter().map(|e| e.value).collect();
        assert_eq!(values, (0..3).map(NumberValue::Int).collect::<Vec<_>>());
        // Over many intervals of 8 offers into 4 slots, each offer is kept
        // about half the time.
        let mut kept = [0u32; 8];
        for _ in 0..4000 {
            for value in 0..8 {
                reservoir.offer(None, Measure::Int(value), None, vec![]);
            }
            let taken = reservoir.take();
            assert_eq!(taken.len(), 4);
            for exemplar in taken {
                let NumberValue::Int(value) = exemplar.value else {
                    panic!("not an int");
                };
                kept[value as usize] += 1;
            }
        }
        assert!(kept.iter().all(|&n| (1700..2300).contains(&n)), "{kept:?}");
    }

    #[test]
    fn the_default_shapes_follow_the_spec() {
        let histogram = |bounds: Vec<f64>| CellKind::Histogram {
            bounds,
            record_min_max: true,
        };
        let exponential = |max_size| CellKind::Exponential {
            max_size,
            max_scale: 20,
            record_min_max: true,
        };
        assert_eq!(
            ReservoirShape::of(&histogram(vec![1.0, 2.0])),
            ReservoirShape::Aligned(3)
        );
        assert_eq!(
            ReservoirShape::of(&histogram(vec![])),
            ReservoirShape::Fixed(1)
        );
        assert_eq!(
            ReservoirShape::of(&exponential(160)),
            ReservoirShape::Fixed(20)
        );
        assert_eq!(
            ReservoirShape::of(&exponential(4)),
            ReservoirShape::Fixed(4)
        );
        assert_eq!(
            ReservoirShape::of(&CellKind::LastValue),
            ReservoirShape::Fixed(1)
        );
    }
}
