//! Carrying a [`SpanContext`] across process boundaries: [`Propagator`], one
//! header format (W3C Trace Context, B3 single, B3 multi); [`Propagators`],
//! the ordered set a program uses (what `OTEL_PROPAGATORS` names); and the
//! carrier traits [`Extractor`] and [`Injector`], over whatever holds the
//! headers (an HTTP header map, gRPC metadata, a message's properties).
//!
//! The vocabulary is `opentelemetry`'s (`Extractor`, `Injector`, `inject`,
//! `extract`, `fields`), but what travels is a [`SpanContext`] alone: there
//! is no `Context` and no baggage here.
//!
//! ```
//! use std::collections::HashMap;
//! use otlp_core::propagation::{Propagator, Propagators};
//! use otlp_core::{SpanContext, SpanId, TraceFlags, TraceId};
//!
//! // OTEL_PROPAGATORS=tracecontext,b3multi
//! let propagators = Propagators::new([Propagator::TraceContext, Propagator::B3Multi]);
//! let context = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
//! let mut headers = HashMap::new();
//! propagators.inject(&context, &mut headers); // every propagator writes its headers
//! assert!(headers.contains_key("traceparent") && headers.contains_key("x-b3-traceid"));
//!
//! // A request carrying B3 headers only continues the trace.
//! headers.remove("traceparent");
//! let remote = propagators.extract(&headers).expect("the B3 headers");
//! assert_eq!((remote.trace_id, remote.span_id), (context.trace_id, context.span_id));
//! assert!(remote.is_remote);
//! ```
//!
//! Cost: a [`Propagators`] is a few bytes, `Copy`, and never allocates;
//! extracting allocates only for a `tracestate` (its canonical text, and to
//! join one given on several lines); injecting allocates what the carrier
//! does with each value.
//!
//! # Where this differs from opentelemetry-rust
//!
//! Where W3C Trace Context (levels 1 and 2, and its test suite) or the
//! OpenTelemetry specification's B3 requirements decide, they are followed;
//! `opentelemetry_sdk::propagation::TraceContextPropagator` and
//! `opentelemetry_zipkin::Propagator` read some headers otherwise:
//!
//! | case | here | opentelemetry-rust |
//! |---|---|---|
//! | trace flags | `sampled` and level 2's `random` are read and written (W3C: a received `random` MUST stay on outgoing headers of that trace); reserved bits are never written | `sampled` alone, both ways |
//! | `00-…-01-` (version 00 with a tail) | refused: version 00 is exactly 55 characters (the suite's `test_traceparent_version_0x00`) | accepted (a trailing empty field is ignored) |
//! | two `traceparent` lines | no parent (`test_traceparent_duplicated`) | the first line is read |
//! | several `tracestate` lines | joined into one list (W3C: MUST be combined) | the first line alone |
//! | `a=1, b=2`, `a=1,,b=2` | read: spaces and tabs around members and empty members are allowed | the whole `tracestate` is dropped |
//! | a key given twice | its first member kept, the others dropped (W3C: MAY discard) | both kept |
//! | `tracestate` keys and values | W3C level 2's key grammar; values of printable ASCII not ending in a space | level 1's keys (a short `@system`); any value without `,` or `=` |
//! | empty trace state | no `tracestate` written (W3C: SHOULD avoid sending it empty) | `tracestate:` written empty |
//! | a `b3` header (or an `X-B3-*` one) with spaces or tabs around its value | read through them (HTTP's `OWS`), as `traceparent` is | not read |
//! | B3 without a sampling state (deferred) | not sampled, and written `0`, as opentelemetry-java | kept deferred, written without a state |
//! | an invalid context, B3 | nothing written | `b3: 0` or `X-B3-Sampled: 0` |
//!
//! A `tracestate` is never truncated: the grammar bounds it (32 members of
//! at most 256 + 1 + 256 characters, about 16 KiB), and the whole of it is
//! passed on, more than the 512 characters W3C asks vendors to propagate.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;

use crate::SpanContext;
use crate::b3::{B3_SINGLE_LEN, B3MultiHeaders};

/// The W3C `traceparent` header.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C `tracestate` header.
pub const TRACESTATE: &str = "tracestate";
/// The single B3 header, `b3`.
pub const B3: &str = "b3";
/// The multi B3 header of the trace id, `X-B3-TraceId` (lower-cased, as
/// HTTP/2 and gRPC metadata require).
pub const X_B3_TRACE_ID: &str = "x-b3-traceid";
/// The multi B3 header of the span id, `X-B3-SpanId`.
pub const X_B3_SPAN_ID: &str = "x-b3-spanid";
/// The multi B3 header of the sampling decision, `X-B3-Sampled`.
pub const X_B3_SAMPLED: &str = "x-b3-sampled";
/// The multi B3 header of the debug flag, `X-B3-Flags`.
pub const X_B3_FLAGS: &str = "x-b3-flags";
/// The multi B3 header of the parent span id, `X-B3-ParentSpanId`: read by
/// no propagator here, and removed by the multi B3 one, as the specification
/// asks ("MUST NOT propagate `X-B3-ParentSpanId`").
pub const X_B3_PARENT_SPAN_ID: &str = "x-b3-parentspanid";

/// Where [`Propagator::extract`] reads fields from: the headers of a request.
///
/// Field names are asked for in lower case (`traceparent`, `x-b3-traceid`);
/// a carrier whose names are case-insensitive (HTTP) matches them so.
pub trait Extractor {
    /// The value of field `name`: the first one if the field is given more
    /// than once; `None` if it is absent (or not text).
    fn get(&self, name: &str) -> Option<&str>;

    /// The `index`-th value (from 0) of a field given more than once, as an
    /// HTTP header may be; `None` past the last. W3C Trace Context needs
    /// this: two `traceparent` lines are no parent, several `tracestate`
    /// lines are one list (read from index 0 through this method, so a
    /// carrier may answer a line that is present but not text with `""`,
    /// which carries nothing and keeps the other lines). The default knows
    /// one value per field ([`get`](Self::get)'s).
    fn get_line(&self, name: &str, index: usize) -> Option<&str> {
        if index == 0 { self.get(name) } else { None }
    }
}

/// Where [`Propagator::inject`] writes fields to: the headers of a request
/// about to be sent. Names are lower case.
pub trait Injector {
    /// Sets field `name` to `value`, replacing every earlier value of it.
    fn set(&mut self, name: &'static str, value: &str);

    /// Removes field `name`, if present: a stale header the propagator
    /// would otherwise leave beside the ones it writes (a `tracestate` when
    /// the trace state is empty). The default does nothing.
    fn remove(&mut self, name: &'static str) {
        let _ = name;
    }
}

/// Keys are the lower-case field names.
impl<S: BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }
}

/// Keys are the lower-case field names.
impl<S: BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, name: &'static str, value: &str) {
        self.insert(name.to_owned(), value.to_owned());
    }

    fn remove(&mut self, name: &'static str) {
        HashMap::remove(self, name);
    }
}

/// One header format a [`SpanContext`] travels in.
///
/// Each variant is named after its `OTEL_PROPAGATORS` value
/// ([`name`](Self::name)). Plain data: `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Propagator {
    /// W3C Trace Context (`tracecontext`): `traceparent` and `tracestate`.
    /// Extract: exactly one `traceparent` (two lines are no parent, as the
    /// W3C test suite asks); `tracestate` lines are joined into one list,
    /// and a malformed one is dropped without losing the parent. Inject:
    /// `traceparent`, and `tracestate` when the trace state is not empty
    /// (else a stale one is removed).
    TraceContext,
    /// B3 with the single header (`b3`). Extract: the single header, else
    /// the multi headers, as the specification's "B3 Requirements" ask
    /// (see [`SpanContext::from_b3`], [`SpanContext::from_b3_multi`]).
    /// Inject: `b3: {trace id}-{span id}-{1|0|d}`. A debug flag received
    /// (`d`, `X-B3-Flags: 1`) makes the context sampled and stays with it
    /// ([`TraceFlags::B3_DEBUG`](crate::TraceFlags::B3_DEBUG)), so that the
    /// requests made under it say debug too, as the specification asks.
    B3,
    /// B3 with the multi headers (`b3multi`). Extract: as [`B3`](Self::B3).
    /// Inject: `X-B3-TraceId`, `X-B3-SpanId` and `X-B3-Sampled: 1|0`, or
    /// `X-B3-Flags: 1` instead of `X-B3-Sampled` for a debug context (debug
    /// implies sampled: B3 sends one or the other), and removes
    /// `X-B3-ParentSpanId`.
    B3Multi,
}

impl Propagator {
    /// Every propagator, in the order of their names in the specification.
    pub const ALL: [Propagator; 3] = [
        Propagator::TraceContext,
        Propagator::B3,
        Propagator::B3Multi,
    ];

    /// The name `OTEL_PROPAGATORS` gives it: `tracecontext`, `b3`, `b3multi`.
    pub const fn name(self) -> &'static str {
        match self {
            Propagator::TraceContext => "tracecontext",
            Propagator::B3 => "b3",
            Propagator::B3Multi => "b3multi",
        }
    }

    /// The propagator `OTEL_PROPAGATORS` calls `name` (any case, trimmed);
    /// `None` for a name not built here.
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::ALL
            .into_iter()
            .find(|propagator| propagator.name().eq_ignore_ascii_case(name))
    }

    /// Every field [`inject`](Self::inject) may write (the specification's
    /// `Fields`): a carrier reused between requests should clear them first.
    /// Some are written only for some contexts: `tracestate` when the trace
    /// state is not empty, and `X-B3-Flags`, which the multi B3 propagator
    /// writes for a debug context in place of `X-B3-Sampled` (as
    /// opentelemetry-go's B3 `Fields` and opentelemetry-zipkin's name it). [`inject`](Self::inject)
    /// also removes whichever of the two it does not write, through
    /// [`Injector::remove`], so a reused carrier never holds both; a carrier
    /// without `remove` relies on being cleared of these fields.
    pub const fn fields(self) -> &'static [&'static str] {
        match self {
            Propagator::TraceContext => &[TRACEPARENT, TRACESTATE],
            Propagator::B3 => &[B3],
            Propagator::B3Multi => &[X_B3_TRACE_ID, X_B3_SPAN_ID, X_B3_SAMPLED, X_B3_FLAGS],
        }
    }

    /// The remote context `carrier` holds in this format, marked remote;
    /// `None` when its fields are absent or malformed (never a panic).
    pub fn extract(self, carrier: &dyn Extractor) -> Option<SpanContext> {
        match self {
            Propagator::TraceContext => extract_trace_context(carrier),
            Propagator::B3 | Propagator::B3Multi => extract_b3(carrier),
        }
    }

    /// Writes `context` into `carrier` in this format. An invalid context
    /// (all-zero ids) writes nothing.
    pub fn inject(self, context: &SpanContext, carrier: &mut dyn Injector) {
        if !context.is_valid() {
            return;
        }
        match self {
            Propagator::TraceContext => {
                let mut buffer = [0u8; 55];
                carrier.set(TRACEPARENT, context.write_traceparent(&mut buffer));
                let state = context.trace_state.header();
                if state.is_empty() {
                    carrier.remove(TRACESTATE);
                } else {
                    carrier.set(TRACESTATE, state);
                }
            }
            Propagator::B3 => {
                let mut buffer = [0u8; B3_SINGLE_LEN];
                carrier.set(B3, context.write_b3(&mut buffer));
            }
            Propagator::B3Multi => {
                let mut trace_id = [0u8; 32];
                let mut span_id = [0u8; 16];
                carrier.set(X_B3_TRACE_ID, context.trace_id.encode_hex(&mut trace_id));
                carrier.set(X_B3_SPAN_ID, context.span_id.encode_hex(&mut span_id));
                if context.trace_flags.is_b3_debug() {
                    carrier.set(X_B3_FLAGS, "1");
                    carrier.remove(X_B3_SAMPLED);
                } else {
                    carrier.set(X_B3_SAMPLED, context.b3_sampled());
                    carrier.remove(X_B3_FLAGS);
                }
                carrier.remove(X_B3_PARENT_SPAN_ID);
            }
        }
    }
}

impl fmt::Display for Propagator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `traceparent` (one line exactly) and the `tracestate` lines, joined.
fn extract_trace_context(carrier: &dyn Extractor) -> Option<SpanContext> {
    let traceparent = carrier.get(TRACEPARENT)?;
    if carrier.get_line(TRACEPARENT, 1).is_some() {
        return None;
    }
    // Lines from the first through `get_line`, which a carrier may answer
    // for a line `get` cannot read (see `Extractor::get_line`).
    let tracestate = match carrier.get_line(TRACESTATE, 0) {
        None => None,
        Some(first) => match carrier.get_line(TRACESTATE, 1) {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut joined = format!("{first},{second}");
                let mut index = 2;
                while let Some(line) = carrier.get_line(TRACESTATE, index) {
                    joined.push(',');
                    joined.push_str(line);
                    index += 1;
                }
                Some(Cow::Owned(joined))
            }
        },
    };
    SpanContext::from_headers(traceparent, tracestate.as_deref()).ok()
}

/// The single `b3` header, else the multi headers.
fn extract_b3(carrier: &dyn Extractor) -> Option<SpanContext> {
    if let Some(context) = carrier
        .get(B3)
        .and_then(|header| SpanContext::from_b3(header).ok())
    {
        return Some(context);
    }
    SpanContext::from_b3_multi(B3MultiHeaders {
        trace_id: carrier.get(X_B3_TRACE_ID),
        span_id: carrier.get(X_B3_SPAN_ID),
        sampled: carrier.get(X_B3_SAMPLED),
        flags: carrier.get(X_B3_FLAGS),
    })
    .ok()
}

/// The propagators a program uses, in order, each once: what
/// `OTEL_PROPAGATORS` names (the configuration's `PropagatorsConfig` in
/// `otlp-sdk` builds one).
///
/// - [`extract`](Self::extract) asks each propagator in order, and when
///   several find a context the **last** of them wins, as in the other
///   OpenTelemetry SDKs (their composite propagator lets each extraction
///   replace what an earlier one found): with `tracecontext,b3` a request
///   carrying both headers continues the B3 one.
/// - [`inject`](Self::inject) has every propagator write its headers.
/// - [`none`](Self::none) extracts nothing and injects nothing.
///
/// The [`Default`] is W3C Trace Context alone: the specification's default,
/// `tracecontext,baggage`, without baggage, which this workspace does not
/// carry.
///
/// Cost: a few bytes, `Copy`; building, extracting and injecting never
/// allocate (but to join `tracestate` lines, and what the carrier does).
///
/// ```
/// use otlp_core::propagation::{Propagator, Propagators};
///
/// let propagators = Propagators::new([Propagator::B3, Propagator::TraceContext, Propagator::B3]);
/// assert_eq!(propagators.to_string(), "b3,tracecontext"); // duplicates dropped
/// assert_eq!(Propagators::default().to_string(), "tracecontext");
/// assert_eq!(Propagators::none().to_string(), "none");
/// assert!(Propagators::none().is_empty());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Propagators {
    /// The propagators in order, then `None`s. Distinct, so
    /// [`Propagator::ALL`]'s length is always room enough.
    order: [Option<Propagator>; Propagator::ALL.len()],
}

impl Propagators {
    /// No propagator: nothing is extracted, nothing injected
    /// (`OTEL_PROPAGATORS=none`).
    pub const fn none() -> Self {
        Propagators {
            order: [None; Propagator::ALL.len()],
        }
    }

    /// W3C Trace Context alone (the [`Default`]).
    pub const fn trace_context() -> Self {
        let mut order = [None; Propagator::ALL.len()];
        order[0] = Some(Propagator::TraceContext);
        Propagators { order }
    }

    /// These propagators in this order; a repeated one keeps its first
    /// place (the specification: "values MUST be deduplicated").
    pub fn new(propagators: impl IntoIterator<Item = Propagator>) -> Self {
        let mut set = Propagators::none();
        let mut len = 0;
        for propagator in propagators {
            if set.contains(propagator) {
                continue;
            }
            if let Some(slot) = set.order.get_mut(len) {
                *slot = Some(propagator);
                len += 1;
            }
        }
        set
    }

    /// The propagators, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Propagator> + '_ {
        self.order.iter().flatten().copied()
    }

    /// Whether there is none ([`none`](Self::none)).
    pub fn is_empty(&self) -> bool {
        self.order[0].is_none()
    }

    /// Whether `propagator` is one of them.
    pub fn contains(&self, propagator: Propagator) -> bool {
        self.iter().any(|p| p == propagator)
    }

    /// The remote context `carrier` holds: each propagator is asked in
    /// order, and of those that find one, the last in the order wins (see
    /// the type's docs). `None` when none finds a valid context.
    pub fn extract(&self, carrier: &dyn Extractor) -> Option<SpanContext> {
        self.iter()
            .rev()
            .find_map(|propagator| propagator.extract(carrier))
    }

    /// Writes `context` into `carrier` with every propagator, in order. An
    /// invalid context writes nothing.
    pub fn inject(&self, context: &SpanContext, carrier: &mut dyn Injector) {
        for propagator in self.iter() {
            propagator.inject(context, carrier);
        }
    }

    /// Every field [`inject`](Self::inject) may write, in order.
    pub fn fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.iter()
            .flat_map(|propagator| propagator.fields().iter().copied())
    }
}

impl Default for Propagators {
    fn default() -> Self {
        Propagators::trace_context()
    }
}

impl FromIterator<Propagator> for Propagators {
    fn from_iter<I: IntoIterator<Item = Propagator>>(iter: I) -> Self {
        Propagators::new(iter)
    }
}

/// The `OTEL_PROPAGATORS` value: the names joined by `,`, or `none`.
impl fmt::Display for Propagators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (index, propagator) in self.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            f.write_str(propagator.name())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Propagators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Propagators({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SpanId, TraceFlags, TraceId, TraceState};

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";
    const OTHER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
    const OTHER_SPAN: &str = "b7ad6b7169203331";

    fn headers(entries: &[(&str, &str)]) -> HashMap<String, String> {
        entries
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn sampled_context() -> SpanContext {
        let mut context =
            SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
        context.trace_state = TraceState::parse("vendor=value").unwrap();
        context
    }

    /// A carrier that holds several lines per field, as an HTTP header map.
    #[derive(Default)]
    struct Lines(Vec<(&'static str, String)>);

    impl Extractor for Lines {
        fn get(&self, name: &str) -> Option<&str> {
            self.get_line(name, 0)
        }

        fn get_line(&self, name: &str, index: usize) -> Option<&str> {
            self.0
                .iter()
                .filter(|(n, _)| *n == name)
                .nth(index)
                .map(|(_, value)| value.as_str())
        }
    }

    #[test]
    fn each_propagator_round_trips_a_context_alone() {
        for propagator in Propagator::ALL {
            for flags in [TraceFlags::SAMPLED, TraceFlags::NONE] {
                let mut context = sampled_context();
                context.trace_flags = flags;
                let mut carrier = HashMap::new();
                propagator.inject(&context, &mut carrier);
                let mut names: Vec<&str> = carrier.keys().map(String::as_str).collect();
                names.sort_unstable();
                let mut fields = propagator.fields().to_vec();
                // `X-B3-Flags` is written for a debug context only.
                fields.retain(|field| *field != X_B3_FLAGS);
                fields.sort_unstable();
                assert_eq!(names, fields, "{propagator} writes its fields");
                let back = propagator.extract(&carrier).unwrap();
                assert!(back.is_remote);
                assert_eq!(
                    (back.trace_id, back.span_id, back.trace_flags),
                    (context.trace_id, context.span_id, flags),
                    "{propagator}"
                );
                let state = if propagator == Propagator::TraceContext {
                    context.trace_state.clone()
                } else {
                    TraceState::EMPTY
                };
                assert_eq!(back.trace_state, state, "{propagator}");
            }
        }
    }

    #[test]
    fn the_written_b3_headers_are_those_opentelemetry_writes() {
        let context = SpanContext::from_traceparent(&format!("00-{TRACE}-{SPAN}-01")).unwrap();
        let mut single = HashMap::new();
        Propagator::B3.inject(&context, &mut single);
        assert_eq!(single, headers(&[("b3", &format!("{TRACE}-{SPAN}-1"))]));

        let mut multi = headers(&[("x-b3-parentspanid", SPAN), ("x-b3-flags", "1")]);
        let not_sampled = SpanContext {
            trace_flags: TraceFlags::NONE,
            ..context
        };
        Propagator::B3Multi.inject(&not_sampled, &mut multi);
        assert_eq!(
            multi,
            headers(&[
                ("x-b3-traceid", TRACE),
                ("x-b3-spanid", SPAN),
                ("x-b3-sampled", "0"),
            ]),
            "no parent span id, no stale debug flag"
        );
    }

    #[test]
    fn a_b3_debug_flag_received_is_passed_on_in_either_form() {
        // Before: debug read as sampled and was written back as `1` (and
        // `X-B3-Sampled: 1`), though the specification asks B3 propagators
        // to keep a debug flag received and propagate it.
        let single = headers(&[("b3", &format!("{TRACE}-{SPAN}-d"))]);
        let multi = headers(&[
            ("x-b3-traceid", TRACE),
            ("x-b3-spanid", SPAN),
            ("x-b3-flags", "1"),
        ]);
        for received in [single, multi] {
            let context = Propagator::B3.extract(&received).unwrap();
            assert!(context.trace_flags.is_sampled());

            let mut out = HashMap::new();
            Propagator::B3.inject(&context, &mut out);
            assert_eq!(out, headers(&[("b3", &format!("{TRACE}-{SPAN}-d"))]));

            let mut out = headers(&[("x-b3-sampled", "1")]);
            Propagator::B3Multi.inject(&context, &mut out);
            assert_eq!(
                out,
                headers(&[
                    ("x-b3-traceid", TRACE),
                    ("x-b3-spanid", SPAN),
                    ("x-b3-flags", "1"),
                ]),
                "debug implies sampled: X-B3-Sampled is not sent with it"
            );

            // W3C has no debug flag: traceparent says sampled only.
            let mut out = HashMap::new();
            Propagator::TraceContext.inject(&context, &mut out);
            assert_eq!(out["traceparent"], format!("00-{TRACE}-{SPAN}-01"));
        }
    }

    #[test]
    fn b3_extracts_either_form_and_prefers_the_single_header() {
        let multi = [
            ("x-b3-traceid", OTHER_TRACE),
            ("x-b3-spanid", OTHER_SPAN),
            ("x-b3-sampled", "1"),
        ];
        for propagator in [Propagator::B3, Propagator::B3Multi] {
            let only_multi = propagator.extract(&headers(&multi)).unwrap();
            assert_eq!(only_multi.trace_id.to_string(), OTHER_TRACE);

            let single = format!("{TRACE}-{SPAN}-0");
            let mut both = multi.to_vec();
            both.push(("b3", &single));
            let from_both = propagator.extract(&headers(&both)).unwrap();
            assert_eq!(from_both.trace_id.to_string(), TRACE, "{propagator}");
            assert!(!from_both.trace_flags.is_sampled());

            // A malformed (or deny-only) single header falls back to the multi ones.
            for bad in ["0", "garbage", &format!("{TRACE}-{SPAN}-x")] {
                let mut fallback = multi.to_vec();
                fallback.push(("b3", bad));
                let context = propagator.extract(&headers(&fallback)).unwrap();
                assert_eq!(context.trace_id.to_string(), OTHER_TRACE, "{bad}");
            }
        }
    }

    #[test]
    fn malformed_or_absent_headers_extract_nothing() {
        let cases: &[&[(&str, &str)]] = &[
            &[],
            &[("b3", "0")],
            &[("b3", "d")],
            &[("b3", "")],
            &[("b3", "-")],
            &[("b3", "4bf92f3577b34da6-00f067aa0ba902b7-1-")],
            &[("b3", "00000000000000000000000000000000-00f067aa0ba902b7")],
            &[("b3", "4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-1")],
            &[("b3", "4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-1")],
            &[("x-b3-traceid", TRACE)],
            &[("x-b3-spanid", SPAN), ("x-b3-sampled", "1")],
            &[("x-b3-traceid", TRACE), ("x-b3-spanid", "00f067aa0ba902")],
            &[("x-b3-traceid", "xyz"), ("x-b3-spanid", SPAN)],
            &[
                ("x-b3-traceid", TRACE),
                ("x-b3-spanid", SPAN),
                ("x-b3-sampled", "2"),
            ],
            &[("traceparent", "00-zz")],
        ];
        let all = Propagators::new(Propagator::ALL);
        for case in cases {
            assert_eq!(all.extract(&headers(case)), None, "{case:?}");
        }
    }

    #[test]
    fn trace_context_wants_one_traceparent_and_joins_tracestate_lines() {
        let traceparent = format!("00-{TRACE}-{SPAN}-01");
        let mut carrier = Lines::default();
        carrier.0.push((TRACEPARENT, traceparent.clone()));
        carrier.0.push((TRACESTATE, "a=1".into()));
        carrier.0.push((TRACESTATE, "b=2".into()));
        carrier.0.push((TRACESTATE, "c=3".into()));
        let context = Propagator::TraceContext.extract(&carrier).unwrap();
        assert_eq!(context.trace_state.header(), "a=1,b=2,c=3");
        carrier.0.push((TRACEPARENT, traceparent));
        assert_eq!(Propagator::TraceContext.extract(&carrier), None);
    }

    #[test]
    fn a_duplicated_tracestate_key_keeps_the_trace_state() {
        // W3C's test suite, test_tracestate_duplicated_keys: the trace state
        // is inherited with the duplicates kept or one of them dropped.
        // Before, the whole trace state was discarded, every vendor's member
        // with it.
        let traceparent = format!("00-{TRACE}-{SPAN}-00");
        for lines in [
            &["foo=1,foo=1"][..],
            &["foo=1,foo=2"],
            &["foo=1", "foo=1"],
            &["foo=1", "foo=2"],
            &["rojo=1,foo=1", "congo=2,foo=2"],
        ] {
            let mut carrier = Lines::default();
            carrier.0.push((TRACEPARENT, traceparent.clone()));
            for line in lines {
                carrier.0.push((TRACESTATE, (*line).to_owned()));
            }
            let context = Propagator::TraceContext.extract(&carrier).unwrap();
            assert_eq!(context.trace_state.get("foo"), Some("1"), "{lines:?}");
            let mut out = HashMap::new();
            Propagator::TraceContext.inject(&context, &mut out);
            let sent = out.get(TRACESTATE).map(String::as_str).unwrap_or("");
            assert_eq!(sent.matches("foo=").count(), 1, "{lines:?}: {sent}");
            if lines.len() == 2 && lines[0].starts_with("rojo") {
                assert_eq!(sent, "rojo=1,foo=1,congo=2");
            }
        }
    }

    /// A carrier that cannot remove a field (the trait's default `remove`):
    /// its owner clears [`Propagator::fields`] before reusing it, as the
    /// specification's `Fields` asks.
    #[derive(Default)]
    struct SetOnly(HashMap<String, String>);

    impl Injector for SetOnly {
        fn set(&mut self, name: &'static str, value: &str) {
            self.0.insert(name.to_owned(), value.to_owned());
        }
    }

    #[test]
    fn the_fields_name_every_header_inject_may_write() {
        // Before: the multi B3 fields left out `X-B3-Flags`, which it writes
        // for a debug context, so a reused carrier cleared of its fields
        // kept `X-B3-Flags: 1` and the next, unsampled request said debug
        // (so sampled) downstream.
        let mut context = SpanContext::from_traceparent(&format!("00-{TRACE}-{SPAN}-01")).unwrap();
        context.trace_flags = context.trace_flags.with_b3_debug(true);
        let unsampled = SpanContext {
            trace_flags: TraceFlags::NONE,
            ..context.clone()
        };
        for propagator in Propagator::ALL {
            let mut carrier = SetOnly::default();
            propagator.inject(&context, &mut carrier);
            for name in carrier.0.keys() {
                assert!(
                    propagator.fields().contains(&name.as_str()),
                    "{propagator} writes {name} and does not name it"
                );
            }
            for field in propagator.fields() {
                carrier.0.remove(*field);
            }
            assert!(carrier.0.is_empty(), "{propagator}: {:?}", carrier.0);
            propagator.inject(&unsampled, &mut carrier);
            let back = propagator.extract(&carrier.0).unwrap();
            assert!(!back.trace_flags.is_sampled(), "{propagator}");
            assert!(!back.trace_flags.is_b3_debug(), "{propagator}");
        }
    }

    #[test]
    fn when_several_propagators_find_a_context_the_last_configured_wins() {
        let both = headers(&[
            ("traceparent", &format!("00-{TRACE}-{SPAN}-01")),
            ("b3", &format!("{OTHER_TRACE}-{OTHER_SPAN}-1")),
        ]);
        let trace_id = |list: &[Propagator]| {
            Propagators::new(list.iter().copied())
                .extract(&both)
                .map(|context| context.trace_id.to_string())
        };
        use Propagator::{B3, TraceContext};
        assert_eq!(trace_id(&[TraceContext, B3]).as_deref(), Some(OTHER_TRACE));
        assert_eq!(trace_id(&[B3, TraceContext]).as_deref(), Some(TRACE));
        assert_eq!(trace_id(&[TraceContext]).as_deref(), Some(TRACE));
        assert_eq!(trace_id(&[B3]).as_deref(), Some(OTHER_TRACE));
        assert_eq!(trace_id(&[]), None);

        // A later propagator that finds nothing leaves the earlier one's context.
        let w3c_only = headers(&[("traceparent", &format!("00-{TRACE}-{SPAN}-01"))]);
        let context = Propagators::new([TraceContext, B3])
            .extract(&w3c_only)
            .unwrap();
        assert_eq!(context.trace_id.to_string(), TRACE);
    }

    #[test]
    fn every_configured_propagator_injects_and_none_injects_nothing() {
        let context = sampled_context();
        let all = Propagators::new([
            Propagator::B3Multi,
            Propagator::TraceContext,
            Propagator::B3,
        ]);
        let mut carrier = HashMap::new();
        all.inject(&context, &mut carrier);
        let mut written: Vec<&str> = carrier.keys().map(String::as_str).collect();
        written.sort_unstable();
        let mut fields: Vec<&str> = all.fields().collect();
        fields.sort_unstable();
        assert_eq!(fields.len(), 7);
        // All but `X-B3-Flags`, written for a debug context only.
        fields.retain(|field| *field != X_B3_FLAGS);
        assert_eq!(written, fields);

        let mut nothing = HashMap::new();
        Propagators::none().inject(&context, &mut nothing);
        assert!(nothing.is_empty());
        assert_eq!(Propagators::none().extract(&carrier), None);

        let mut invalid = HashMap::new();
        all.inject(&SpanContext::default(), &mut invalid);
        assert!(invalid.is_empty(), "an invalid context writes nothing");
    }

    #[test]
    fn an_empty_trace_state_removes_a_stale_tracestate() {
        let mut carrier = headers(&[("tracestate", "stale=1")]);
        let context = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
        Propagator::TraceContext.inject(&context, &mut carrier);
        assert!(!carrier.contains_key("tracestate"));
    }

    #[test]
    fn names_parse_in_any_case_and_sets_keep_their_first_order() {
        for propagator in Propagator::ALL {
            assert_eq!(Propagator::from_name(propagator.name()), Some(propagator));
            let upper = propagator.name().to_ascii_uppercase();
            assert_eq!(
                Propagator::from_name(&format!(" {upper} ")),
                Some(propagator)
            );
        }
        for unknown in ["baggage", "jaeger", "xray", "ottrace", "none", ""] {
            assert_eq!(Propagator::from_name(unknown), None, "{unknown}");
        }
        let set: Propagators = [Propagator::B3Multi, Propagator::B3, Propagator::B3Multi]
            .into_iter()
            .collect();
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [Propagator::B3Multi, Propagator::B3]
        );
        assert_eq!(format!("{set:?}"), "Propagators(b3multi,b3)");
        assert!(set.contains(Propagator::B3) && !set.contains(Propagator::TraceContext));
        assert_eq!(
            Propagators::default(),
            Propagators::new([Propagator::TraceContext])
        );
    }
}
