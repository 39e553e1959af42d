//! otlp-core carries no W3C Baggage (`otlp_core::propagation`: "there is no
//! `Context` and no baggage here"; `OTEL_PROPAGATORS=baggage` is accepted
//! with a warning that nothing is propagated). What it does promise is that
//! a `baggage` header is left alone: extracting reads the trace context the
//! same with or without one, and injecting never writes, replaces or removes
//! one — so a program may run opentelemetry_sdk's `BaggagePropagator` beside
//! otlp-core's propagators over the same headers.
//!
//! This test holds otlp-core (and otlp-contrib's `http::HeaderMap` helpers)
//! to that against opentelemetry_sdk's W3C propagators, on headers carrying
//! valid and malformed `baggage` lines (tokens, every visible ASCII byte,
//! UTF-8, percent escapes, properties, whitespace, empty members, duplicate
//! keys, lines near the specification's 8192-byte limit, several lines):
//!
//! - the context otlp-core extracts is the one it extracts without the
//!   baggage, and the one opentelemetry_sdk's `TraceContextPropagator`
//!   (composed with its `BaggagePropagator`) extracts from the same headers;
//! - after otlp-core injects (every format), the `baggage` lines are
//!   byte-for-byte those before, and opentelemetry_sdk's `BaggagePropagator`
//!   extracts from them exactly what it extracted before;
//! - `Propagators::fields` never names `baggage`.
//!
//! opentelemetry_sdk's `BaggagePropagator` serves as a reader of the lines
//! before and after, not as a reference for the W3C format: 0.33.1 keeps 64
//! list-members where W3C allows 180, reads `k=a=b` as `a` (`=` is a
//! `baggage-octet`), and writes a value's `%` unescaped (`%41` comes back
//! `A`).

use std::collections::HashMap;

use http::{HeaderMap, HeaderValue};
use opentelemetry::Context;
use opentelemetry::baggage::{BaggageExt as _, KeyValueMetadata};
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use otlp_contrib::tracing::{extract_with, inject_with};
use otlp_core::SpanContext;
use otlp_core::propagation::{Propagator, Propagators};
use proptest::prelude::*;

/// Every otlp-core format, in each order that lets a different one win.
fn all_formats() -> [Propagators; 2] {
    [
        Propagators::new([
            Propagator::TraceContext,
            Propagator::B3,
            Propagator::B3Multi,
        ]),
        Propagators::new([
            Propagator::B3Multi,
            Propagator::B3,
            Propagator::TraceContext,
        ]),
    ]
}

fn otel_propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

/// What opentelemetry_sdk's baggage holds, sorted: key, value, properties.
fn otel_baggage(cx: &Context) -> Vec<(String, String, String)> {
    let mut entries: Vec<_> = cx
        .baggage()
        .iter()
        .map(|(key, (value, metadata))| {
            (
                key.to_string(),
                value.to_string(),
                metadata.as_str().to_owned(),
            )
        })
        .collect();
    entries.sort();
    entries
}

/// The W3C `token` characters (RFC 7230 `tchar`): baggage keys.
const TCHAR: &str = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn token() -> impl Strategy<Value = String> {
    let chars: Vec<char> = TCHAR.chars().collect();
    prop::collection::vec(prop::sample::select(chars), 1..8)
        .prop_map(|chars| chars.into_iter().collect())
}

/// A baggage value: `baggage-octet`s, percent escapes (of anything, valid
/// UTF-8 or not), and now and then any visible ASCII, space, tab or UTF-8.
fn value() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => (0x21u8..=0x7e)
            .prop_filter("baggage-octet", |b| !matches!(b, b'"' | b',' | b';' | b'\\'))
            .prop_map(|b| char::from(b).to_string()),
        2 => any::<u8>().prop_map(|b| format!("%{b:02X}")),
        1 => prop::sample::select(vec![" ", "\t", "\"", ",", ";", "\\", "=", "%", "%G1", "é", "☃", "%E2%98%83"])
            .prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat())
}

fn ows() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", "", " ", "\t", "  "])
}

/// One list-member: `key OWS = OWS value *( OWS ; OWS property )`, or an
/// empty member, or a malformed one.
fn member() -> impl Strategy<Value = String> {
    let property =
        (token(), prop::option::of(value()), ows()).prop_map(|(key, value, ows)| match value {
            Some(value) => format!("{ows};{ows}{key}{ows}={ows}{value}"),
            None => format!("{ows};{ows}{key}"),
        });
    prop_oneof![
        8 => (ows(), token(), ows(), ows(), value(), prop::collection::vec(property, 0..3), ows())
            .prop_map(|(a, key, b, c, value, properties, d)| {
                format!("{a}{key}{b}={c}{value}{}{d}", properties.concat())
            }),
        1 => ows().prop_map(str::to_owned),
        1 => token(),                                       // no `=`
        1 => (value(), value()).prop_map(|(key, value)| format!("{key}={value}")),
        1 => "[ -~]{0,20}",                                 // any visible ASCII
        1 => (token(), 4000usize..4100).prop_map(|(key, len)| format!("{key}={}", "v".repeat(len))),
    ]
}

/// One `baggage` line: list-members joined by `,` (with whitespace), some
/// keys repeated.
fn line() -> impl Strategy<Value = String> {
    (prop::collection::vec(member(), 0..12), any::<bool>(), ows()).prop_map(
        |(mut members, repeat, ows)| {
            if repeat && let Some(first) = members.first().cloned() {
                members.push(first.replace('=', "=again"));
            }
            members.join(&format!("{ows},{ows}"))
        },
    )
}

/// A sampled or not context, with or without a trace state.
fn traceparent() -> impl Strategy<Value = (String, Option<&'static str>)> {
    (
        "[0-9a-f]{31}[1-9a-f]",
        "[0-9a-f]{15}[1-9a-f]",
        prop::sample::select(vec!["00", "01"]),
        prop::sample::select(vec![None, Some("vendor=value"), Some("a=1,b@c=2")]),
    )
        .prop_map(|(trace, span, flags, state)| (format!("00-{trace}-{span}-{flags}"), state))
}

fn carrier(traceparent: &str, state: Option<&str>) -> HashMap<String, String> {
    let mut carrier = HashMap::new();
    carrier.insert("traceparent".to_owned(), traceparent.to_owned());
    if let Some(state) = state {
        carrier.insert("tracestate".to_owned(), state.to_owned());
    }
    carrier
}

/// The trace id, span id, sampled flag and trace state of a context.
fn ours(context: &SpanContext) -> (String, String, bool, String) {
    (
        context.trace_id.to_string(),
        context.span_id.to_string(),
        context.trace_flags.is_sampled(),
        context.trace_state.header().to_owned(),
    )
}

fn theirs(cx: &Context) -> (String, String, bool, String) {
    let span = cx.span();
    let context = span.span_context();
    (
        context.trace_id().to_string(),
        context.span_id().to_string(),
        context.is_sampled(),
        context.trace_state().header(),
    )
}

proptest! {
    // `BAGGAGE_CASES=N` for a longer run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("BAGGAGE_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(128),
        ..ProptestConfig::default()
    })]

    /// One `baggage` line in a `HashMap` carrier, read and written by
    /// otlp-core and by opentelemetry_sdk.
    #[test]
    fn a_baggage_header_changes_nothing_and_is_left_as_it_is(
        (parent, state) in traceparent(),
        baggage in line(),
    ) {
        let without = carrier(&parent, state);
        let mut with = without.clone();
        with.insert("baggage".to_owned(), baggage.clone());
        let otel = otel_propagator();

        for propagators in all_formats() {
            let context = propagators.extract(&with).expect("the traceparent");
            prop_assert!(context.is_remote);
            prop_assert_eq!(propagators.extract(&without), Some(context.clone()));
            prop_assert_eq!(ours(&context), theirs(&otel.extract(&with)));
            prop_assert!(propagators.fields().all(|field| field != "baggage"));

            let before = otel_baggage(&otel.extract(&with));
            let mut written = with.clone();
            propagators.inject(&context, &mut written);
            prop_assert_eq!(written.get("baggage"), Some(&baggage));
            prop_assert_eq!(otel_baggage(&otel.extract(&written)), before);
            prop_assert_eq!(ours(&context), theirs(&otel.extract(&written)));
        }
    }

    /// Baggage that opentelemetry_sdk's `BaggagePropagator` writes (any keys
    /// and values: it percent-encodes them) survives otlp-core's injection
    /// into the same carrier, whichever writes first.
    #[test]
    fn baggage_opentelemetry_writes_survives_otlp_core_writing_beside_it(
        (parent, state) in traceparent(),
        entries in prop::collection::vec((token(), value(), prop::option::of(token())), 1..8),
        ours_first in any::<bool>(),
    ) {
        let context = SpanContext::from_headers(&parent, state).expect("valid");
        let otel = otel_propagator();
        let otel_cx = otel
            .extract(&carrier(&parent, state))
            .with_baggage(entries.iter().map(|(key, value, property)| {
                KeyValueMetadata::new(key.clone(), value.clone(), property.clone().unwrap_or_default())
            }));
        for propagators in all_formats() {
            let mut alone = HashMap::new();
            otel.inject_context(&otel_cx, &mut alone);
            let mut both = HashMap::new();
            if ours_first {
                propagators.inject(&context, &mut both);
                otel.inject_context(&otel_cx, &mut both);
            } else {
                otel.inject_context(&otel_cx, &mut both);
                propagators.inject(&context, &mut both);
            }
            prop_assert_eq!(both.get("baggage"), alone.get("baggage"));
            prop_assert_eq!(both.get("traceparent"), alone.get("traceparent"));
            let back = otel.extract(&both);
            prop_assert_eq!(otel_baggage(&back), otel_baggage(&otel.extract(&alone)));
            // With B3 last in the order, the B3 headers win: no trace state.
            let mut ours_alone = HashMap::new();
            propagators.inject(&context, &mut ours_alone);
            let ours_back = propagators.extract(&both).expect("the context");
            prop_assert_eq!(propagators.extract(&ours_alone), Some(ours_back.clone()));
            let (trace, span, sampled, _) = theirs(&back);
            prop_assert_eq!(
                (ours_back.trace_id.to_string(), ours_back.span_id.to_string()),
                (trace, span)
            );
            prop_assert_eq!(ours_back.trace_flags.is_sampled(), sampled);
        }
    }

    /// Several `baggage` lines in an `http::HeaderMap`, some not text
    /// (obs-text bytes): otlp-contrib's `extract_with` and `inject_with`
    /// read the same context as without them and leave every line, in order.
    #[test]
    fn baggage_lines_in_a_header_map_are_left_in_order(
        (parent, state) in traceparent(),
        lines in prop::collection::vec(line(), 1..4),
        opaque in prop::option::of(prop::collection::vec(0x80u8..=0xff, 1..6)),
    ) {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_str(&parent).unwrap());
        if let Some(state) = state {
            headers.insert("tracestate", HeaderValue::from_static(state));
        }
        let without = headers.clone();
        for line in &lines {
            // Visible ASCII, space, tab and UTF-8 bytes (obs-text): always a
            // header value, though not text for `to_str` when UTF-8.
            headers.append("baggage", HeaderValue::from_str(line).unwrap());
        }
        if let Some(bytes) = &opaque {
            headers.append("baggage", HeaderValue::from_bytes(bytes).unwrap());
        }
        let before: Vec<HeaderValue> = headers.get_all("baggage").iter().cloned().collect();

        for propagators in all_formats() {
            let context = extract_with(&propagators, &headers).expect("the traceparent");
            prop_assert_eq!(extract_with(&propagators, &without), Some(context.clone()));
            let mut written = headers.clone();
            inject_with(&propagators, &context, &mut written);
            let after: Vec<HeaderValue> = written.get_all("baggage").iter().cloned().collect();
            prop_assert_eq!(&after, &before);
        }
    }
}
