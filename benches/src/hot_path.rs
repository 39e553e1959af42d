//! The hot path both SDKs are compared on: start a root span, give it eight
//! string attributes, end it (which enqueues it for export), on one or more
//! producing threads.
//!
//! Both sides do the same work through their public API:
//!
//! - ours: `otlp_sdk::Tracer::start`, eight `Span::set_attribute`, `Span::end`;
//! - the baseline: `opentelemetry::trace::Tracer::start` on an
//!   `opentelemetry_sdk` tracer, eight `Span::set_attribute`, `Span::end`.
//!
//! Same span name ([`SPAN_NAME`]), kind `Internal` (both SDKs' default), no
//! parent (a root span: neither side has an active context), the default
//! parent-based always-on sampler on both sides, the eight keys of
//! [`ATTRIBUTE_KEYS`], and values of exactly
//! [`ATTRIBUTE_VALUE_LEN`](crate::fixtures::ATTRIBUTE_VALUE_LEN) characters. How
//! the values reach the SDK is the [`ValueKind`]:
//!
//! - [`ValueKind::Borrowed`]: per-span text the program already holds (ids
//!   and routes of the request being handled), borrowed as `&str` and
//!   converted to each SDK's owned attribute value by its idiomatic API:
//!   `otlp_core::Str::copy_from` (stored inline, no allocation) and
//!   `String::from` (the baseline's `Value` takes only `'static` or owned
//!   text). The values differ from span to span.
//! - [`ValueKind::Owned`]: the caller builds an owned `String` per value
//!   (what `format!` or `to_string()` does) and hands it over; both sides
//!   get the very same `String`s. The caller's allocations are counted in
//!   both sides' time.
//! - [`ValueKind::Static`]: `&'static str` values, the same on both sides.
//!
//! Per-span values come from a [`ValueRing`] built before timing, so the
//! timings hold no formatting work, only the SDKs'.
//!
//! [`produce`] runs the hot path on one or more threads and times it; see
//! its docs for how bursts and flushes keep both queues from ever filling.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::trace::{Span as _, Tracer as _};
use otlp_core::Str;

use crate::fixtures::{ATTRIBUTE_KEYS, span_source};
use crate::pipeline::{BaselinePipeline, BatchSettings, OursPipeline};

/// Name of every span on the hot path (both sides, `&'static str`).
pub const SPAN_NAME: &str = "render_response";

/// Spans produced between two flushes (all threads together). The queues
/// hold twice this ([`settings`]), so neither side ever drops a span.
pub const BURST: usize = 8_192;

/// Spans whose values the [`ValueRing`] holds before it repeats (a power
/// of two, so picking a span's values is a mask, not a division).
pub const RING_SPANS: usize = 1_024;

/// The values of [`ValueKind::Static`], one per key of [`ATTRIBUTE_KEYS`],
/// each 16 characters.
pub const STATIC_VALUES: [&str; 8] = [
    "/v1/orders/{oid}",
    "/v1/orders/00042",
    "node-042.example",
    "okhttp/4.12.0042",
    "2001:db8::00a1b2",
    "user-00000004242",
    "tenant-000000042",
    "req-00000000beef",
];

/// The batch settings both hot-path pipelines get: room for a [`BURST`].
pub fn settings() -> BatchSettings {
    BatchSettings::for_burst(BURST)
}

/// How attribute values reach the SDK; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// Per-span text borrowed as `&str`; each SDK makes its own owned copy.
    Borrowed,
    /// Per-span owned `String`s built by the caller and handed over.
    Owned,
    /// `&'static str` values.
    Static,
}

impl ValueKind {
    /// Every kind, the main one first.
    pub const ALL: [ValueKind; 3] = [ValueKind::Borrowed, ValueKind::Owned, ValueKind::Static];

    /// The criterion group measuring this kind.
    pub fn group(self) -> &'static str {
        match self {
            ValueKind::Borrowed => "hot_path",
            ValueKind::Owned => "hot_path_owned_values",
            ValueKind::Static => "hot_path_static_values",
        }
    }

    /// A few words for reports.
    pub fn describe(self) -> &'static str {
        match self {
            ValueKind::Borrowed => "per-span &str values, each SDK copies them",
            ValueKind::Owned => "per-span String values built by the caller",
            ValueKind::Static => "&'static str values",
        }
    }
}

/// Per-span attribute values (the fixture's request data), built once.
#[derive(Clone, Debug)]
pub struct ValueRing {
    spans: Vec<[String; 8]>,
}

impl ValueRing {
    /// Values for [`RING_SPANS`] spans, all distinct across spans.
    pub fn new() -> Self {
        let spans = (0..RING_SPANS as u64)
            .map(|i| {
                let source = span_source(i);
                let values: Vec<String> = source
                    .attributes
                    .into_iter()
                    .map(|(_, value)| value)
                    .collect();
                values
                    .try_into()
                    .expect("every fixture span has eight attributes")
            })
            .collect();
        ValueRing { spans }
    }

    /// The values of the `index`-th span (the ring repeats).
    #[inline]
    pub fn span(&self, index: usize) -> &[String; 8] {
        &self.spans[index & (RING_SPANS - 1)]
    }
}

impl Default for ValueRing {
    fn default() -> Self {
        ValueRing::new()
    }
}

/// Starts, fills and ends one span on our side.
#[inline]
pub fn record_ours(tracer: &otlp_sdk::Tracer, kind: ValueKind, values: &[String; 8]) {
    let mut span = tracer.start(SPAN_NAME);
    for ((key, value), static_value) in ATTRIBUTE_KEYS.into_iter().zip(values).zip(STATIC_VALUES) {
        let value = match kind {
            ValueKind::Borrowed => Str::copy_from(value),
            ValueKind::Owned => Str::from(value.clone()),
            ValueKind::Static => Str::from(static_value),
        };
        span.set_attribute(otlp_core::KeyValue::new(key, value));
    }
    span.end();
}

/// Starts, fills and ends one span on the baseline.
#[inline]
pub fn record_baseline(
    tracer: &opentelemetry_sdk::trace::SdkTracer,
    kind: ValueKind,
    values: &[String; 8],
) {
    let mut span = tracer.start(SPAN_NAME);
    for ((key, value), static_value) in ATTRIBUTE_KEYS.into_iter().zip(values).zip(STATIC_VALUES) {
        let value = match kind {
            ValueKind::Borrowed => opentelemetry::Value::from(String::from(value.as_str())),
            ValueKind::Owned => opentelemetry::Value::from(value.clone()),
            ValueKind::Static => opentelemetry::Value::from(static_value),
        };
        span.set_attribute(opentelemetry::KeyValue::new(key, value));
    }
    span.end();
}

/// A processor for either SDK that drops every finished span on the spot,
/// on the thread that ended it: no queue, no export thread. With it, a span's
/// time is the SDK's own work to create, fill and end it.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiscardSpans;

impl otlp_sdk::SpanProcessor for DiscardSpans {
    fn on_end(&self, span: otlp_core::SpanData) {
        drop(std::hint::black_box(span));
    }

    fn force_flush(&self, _: Duration) -> Result<(), otlp_sdk::PipelineError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), otlp_sdk::PipelineError> {
        Ok(())
    }
}

impl opentelemetry_sdk::trace::SpanProcessor for DiscardSpans {
    fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {}

    fn on_end(&self, span: opentelemetry_sdk::trace::SpanData) {
        drop(std::hint::black_box(span));
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// Starts and ends one span with no attributes on our side.
#[inline]
pub fn record_bare_ours(tracer: &otlp_sdk::Tracer) {
    tracer.start(SPAN_NAME).end();
}

/// Starts and ends one span with no attributes on the baseline.
#[inline]
pub fn record_bare_baseline(tracer: &opentelemetry_sdk::trace::SdkTracer) {
    tracer.start(SPAN_NAME).end();
}

/// One side of the hot-path comparison.
pub trait HotPath: Sync {
    /// Records the spans `indices` (values from `ring`), one after another
    /// on the calling thread.
    fn record_spans(&self, kind: ValueKind, ring: &ValueRing, indices: Range<usize>);

    /// Exports everything queued.
    fn flush(&self);

    /// Notes that `spans` more spans were produced, for the final accounting.
    fn count_produced(&self, spans: u64);
}

impl HotPath for OursPipeline {
    fn record_spans(&self, kind: ValueKind, ring: &ValueRing, indices: Range<usize>) {
        for index in indices {
            record_ours(&self.tracer, kind, ring.span(index));
        }
    }

    fn flush(&self) {
        OursPipeline::flush(self);
    }

    fn count_produced(&self, spans: u64) {
        OursPipeline::count_produced(self, spans);
    }
}

impl HotPath for BaselinePipeline {
    fn record_spans(&self, kind: ValueKind, ring: &ValueRing, indices: Range<usize>) {
        for index in indices {
            record_baseline(&self.tracer, kind, ring.span(index));
        }
    }

    fn flush(&self) {
        BaselinePipeline::flush(self);
    }

    fn count_produced(&self, spans: u64) {
        BaselinePipeline::count_produced(self, spans);
    }
}

/// Produces `spans` spans on `threads` threads (split evenly) and returns the
/// time they took, for ns per span as `time / spans`.
///
/// The spans go out in bursts of at most [`BURST`]. Before each burst the
/// side is flushed, untimed, so its queue starts empty and never fills (it
/// holds two bursts): no span is dropped and the producers always take the
/// enqueue path, never the queue-full path. The export thread runs during the
/// burst as it would in a program, competing for the cores.
///
/// With one thread the burst runs on the calling thread. With more, the
/// threads are spawned once per call and wait for each other (spinning)
/// before starting a burst; a burst's time runs from the first thread's
/// start to the last thread's finish, so with two threads the result is
/// wall time per span (throughput), not each thread's own cost per span.
pub fn produce<S: HotPath>(
    side: &S,
    kind: ValueKind,
    ring: &ValueRing,
    threads: usize,
    spans: u64,
) -> Duration {
    let threads = threads.max(1);
    let bursts = bursts(spans);
    if threads == 1 {
        let mut next = 0;
        let mut elapsed = Duration::ZERO;
        for burst in bursts {
            side.flush();
            let start = Instant::now();
            side.record_spans(kind, ring, next..next + burst);
            elapsed += start.elapsed();
            side.count_produced(burst as u64);
            next += burst;
        }
        return elapsed;
    }

    let barrier = Barrier::new(threads + 1);
    let arrived = AtomicUsize::new(0);
    let times: Vec<Mutex<Option<(Instant, Instant)>>> =
        (0..threads).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let (barrier, arrived, times, bursts) = (&barrier, &arrived, &times, &bursts);
            scope.spawn(move || {
                let mut next = 0;
                for (round, &burst) in bursts.iter().enumerate() {
                    let mine = share(burst, threads, thread);
                    barrier.wait();
                    // Every producer running before anyone starts the clock.
                    arrived.fetch_add(1, Ordering::AcqRel);
                    spin_until(|| arrived.load(Ordering::Acquire) >= (round + 1) * threads);
                    let start = Instant::now();
                    side.record_spans(kind, ring, next + mine.start..next + mine.end);
                    let end = Instant::now();
                    *times[thread].lock().expect("no producer panics") = Some((start, end));
                    next += burst;
                    barrier.wait();
                }
            });
        }
        let mut elapsed = Duration::ZERO;
        for &burst in &bursts {
            side.flush();
            barrier.wait();
            barrier.wait();
            let spans: Vec<(Instant, Instant)> = times
                .iter()
                .map(|time| {
                    time.lock()
                        .expect("no producer panics")
                        .take()
                        .expect("every producer timed its share")
                })
                .collect();
            let first_start = spans.iter().map(|(start, _)| *start).min();
            let last_end = spans.iter().map(|(_, end)| *end).max();
            if let (Some(start), Some(end)) = (first_start, last_end) {
                elapsed += end.duration_since(start);
            }
            side.count_produced(burst as u64);
        }
        elapsed
    })
}

/// `spans` cut into bursts of at most [`BURST`].
fn bursts(spans: u64) -> Vec<usize> {
    let mut left = spans;
    let mut bursts = Vec::new();
    while left > 0 {
        let burst = left.min(BURST as u64);
        bursts.push(burst as usize);
        left -= burst;
    }
    bursts
}

/// The indices, within a burst of `burst` spans, that `thread` of `threads` produces.
fn share(burst: usize, threads: usize, thread: usize) -> Range<usize> {
    let base = burst / threads;
    let extra = burst % threads;
    let start = thread * base + thread.min(extra);
    let len = base + usize::from(thread < extra);
    start..start + len
}

fn spin_until(ready: impl Fn() -> bool) {
    let mut spins = 0u32;
    while !ready() {
        if spins < 10_000 {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::ATTRIBUTE_VALUE_LEN;

    const _: () = assert!(RING_SPANS.is_power_of_two());

    #[test]
    fn every_value_has_the_fixture_length() {
        let ring = ValueRing::new();
        for index in [0, 1, RING_SPANS - 1] {
            for value in ring.span(index) {
                assert_eq!(value.len(), ATTRIBUTE_VALUE_LEN, "{value}");
            }
        }
        for value in STATIC_VALUES {
            assert_eq!(value.len(), ATTRIBUTE_VALUE_LEN, "{value}");
        }
        assert_ne!(ring.span(0), ring.span(1));
    }

    #[test]
    fn shares_cover_a_burst_exactly() {
        for burst in [1, 2, 3, 8_191] {
            let shares: Vec<_> = (0..2).map(|thread| share(burst, 2, thread)).collect();
            assert_eq!(shares[0].start, 0);
            assert_eq!(shares[0].end, shares[1].start);
            assert_eq!(shares[1].end, burst);
        }
        assert_eq!(bursts(2 * BURST as u64 + 1), vec![BURST, BURST, 1]);
        assert!(bursts(0).is_empty());
    }

    #[test]
    fn two_threads_deliver_every_span_on_both_sides() {
        let ring = ValueRing::new();
        let ours = OursPipeline::new(&settings());
        let baseline = BaselinePipeline::new(&settings());
        for kind in ValueKind::ALL {
            produce(&ours, kind, &ring, 2, 301);
            produce(&baseline, kind, &ring, 2, 301);
        }
        let (ours, baseline) = (ours.accounting(), baseline.accounting());
        assert!(ours.is_lossless() && ours.produced == 903, "{ours}");
        assert!(
            baseline.is_lossless() && baseline.produced == 903,
            "{baseline}"
        );
    }
}
