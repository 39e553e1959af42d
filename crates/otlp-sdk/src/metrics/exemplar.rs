//! Exemplars: measurements kept with the span they were taken in.
//!
//! The filter ([`ExemplarFilter`], `OTEL_METRICS_EXEMPLAR_FILTER`) decides
//! which measurements are offered: by default those taken inside a sampled
//! span (`trace_based`). The span comes from the thread's active span
//! ([`crate::active_span`]), which the `tracing` layer of `otlp-contrib`
//! sets on entering a span, or from the context given explicitly.
//!
//! Each series has a reservoir, empty and unallocated until the first
//! offer: for explicit-bucket histograms one exemplar per bucket (the latest
//! measurement of the bucket wins), for other aggregations one exemplar
//! chosen uniformly among the interval's offers (reservoir sampling). A
//! collection takes the exemplars and empties the reservoir. Offering takes
//! the series' reservoir mutex: the measurement path pays it only when the
//! filter lets the measurement through.

use std::cell::Cell;
use std::sync::Mutex;

use otlp_core::{Exemplar, KeyValue};

use super::aggregation::Measure;
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
}

impl Reservoir {
    /// A reservoir of `size` slots (histogram buckets, or 1).
    pub(crate) fn new(size: usize) -> Reservoir {
        Reservoir {
            slots: Mutex::new(Slots::default()),
            size: size.max(1),
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
        let index = match bucket {
            Some(bucket) if self.size > 1 => bucket.min(self.size - 1),
            _ => {
                // Reservoir sampling: the n-th offer replaces the kept one
                // with probability 1/n.
                let pick = random_below(slots.offered);
                if pick != 0 {
                    return;
                }
                0
            }
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
        let reservoir = Reservoir::new(3);
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
        let reservoir = Reservoir::new(1);
        for value in 0..100 {
            reservoir.offer(None, Measure::Double(value as f64), None, vec![]);
        }
        assert_eq!(reservoir.take().len(), 1);
    }
}
