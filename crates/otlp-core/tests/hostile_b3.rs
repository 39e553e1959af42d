//! Hostile input for the B3 readers: the single `b3` header, the multi
//! `X-B3-*` headers and `Propagators::extract` over them, fed arbitrary text
//! and mutated valid headers.
//!
//! Properties: no input panics; the readers accept exactly what the B3
//! grammar allows (checked against a small reference reading written here,
//! not against the parser's own helpers); every accepted header writes back
//! as `{32-digit trace id}-{span id}-{1|0}` and reads back to the same context.
//!
//! Bounded run: `PROPTEST_CASES=20000 cargo test -p otlp-core --test hostile_b3`.

mod hostile_support;

use std::collections::HashMap;

use hostile_support::DICTIONARY;
use otlp_contrib::testing::fuzz::{config, mutated_text};
use otlp_core::propagation::{Propagator, Propagators};
use otlp_core::{B3MultiHeaders, SpanContext, SpanId, TraceId};
use proptest::prelude::*;

// ---- a reference reading of the B3 grammar -----------------------------------

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn id_is_valid(text: &str, lengths: &[usize]) -> bool {
    lengths.contains(&text.len()) && is_lower_hex(text) && text.bytes().any(|b| b != b'0')
}

/// `header` without the spaces and tabs around it (HTTP's `OWS`).
fn without_ows(header: &str) -> &str {
    header.trim_matches([' ', '\t'])
}

/// The trace id (32 digits) and sampled flag B3 reads in `header`, if valid;
/// the spaces and tabs around it are not part of it.
fn single_reference(header: &str) -> Option<(String, String, bool)> {
    let parts: Vec<&str> = without_ows(header).split('-').collect();
    if !(2..=4).contains(&parts.len()) {
        return None;
    }
    let (trace, span) = (parts[0], parts[1]);
    if !id_is_valid(trace, &[16, 32]) || !id_is_valid(span, &[16]) {
        return None;
    }
    let sampled = match parts.get(2) {
        None | Some(&"0") => false,
        Some(&"1" | &"d") => true,
        Some(_) => return None,
    };
    if let Some(parent) = parts.get(3)
        && !id_is_valid(parent, &[16])
    {
        return None;
    }
    Some((format!("{trace:0>32}"), span.to_owned(), sampled))
}

fn multi_reference(headers: &B3MultiHeaders<'_>) -> Option<(String, String, bool)> {
    let trace = without_ows(headers.trace_id?);
    let span = without_ows(headers.span_id?);
    let (flags, sampled) = (
        headers.flags.map(without_ows),
        headers.sampled.map(without_ows),
    );
    if !id_is_valid(trace, &[16, 32]) || !id_is_valid(span, &[16]) {
        return None;
    }
    let sampled = match (flags, sampled) {
        (Some("1"), _) => true,
        (_, None | Some("0" | "false")) => false,
        (_, Some("1" | "true")) => true,
        (_, Some(_)) => return None,
    };
    Some((format!("{trace:0>32}"), span.to_owned(), sampled))
}

fn read(context: &SpanContext) -> (String, String, bool) {
    (
        context.trace_id.to_string(),
        context.span_id.to_string(),
        context.trace_flags.is_sampled(),
    )
}

// ---- checks ---------------------------------------------------------------------

fn check_single(header: &str) {
    let parsed = SpanContext::from_b3(header);
    let reference = single_reference(header);
    assert_eq!(
        parsed.as_ref().ok().map(read),
        reference,
        "{header:?}: {parsed:?}"
    );
    match parsed {
        Ok(context) => {
            assert!(context.is_remote && context.is_valid());
            let written = context.b3();
            let (trace, span, sampled) = read(&context);
            // A debug flag received is passed on as debug.
            let debug = without_ows(header).split('-').nth(2) == Some("d");
            assert_eq!(context.trace_flags.is_b3_debug(), debug, "{header:?}");
            let flag = match (debug, sampled) {
                (true, _) => "d",
                (false, true) => "1",
                (false, false) => "0",
            };
            assert_eq!(written, format!("{trace}-{span}-{flag}"));
            assert_eq!(SpanContext::from_b3(&written), Ok(context));
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
    // Through a propagator: the same answer, never a panic.
    let carrier = HashMap::from([("b3".to_owned(), header.to_owned())]);
    let extracted = Propagator::B3.extract(&carrier);
    assert_eq!(extracted.as_ref().map(read), single_reference(header));
}

fn check_multi(headers: B3MultiHeaders<'_>) {
    let parsed = SpanContext::from_b3_multi(headers);
    assert_eq!(
        parsed.as_ref().ok().map(read),
        multi_reference(&headers),
        "{headers:?}: {parsed:?}"
    );
    let mut carrier = HashMap::new();
    for (name, value) in [
        ("x-b3-traceid", headers.trace_id),
        ("x-b3-spanid", headers.span_id),
        ("x-b3-sampled", headers.sampled),
        ("x-b3-flags", headers.flags),
    ] {
        if let Some(value) = value {
            carrier.insert(name.to_owned(), value.to_owned());
        }
    }
    let all = Propagators::new(Propagator::ALL);
    assert_eq!(
        all.extract(&carrier).as_ref().map(read),
        multi_reference(&headers)
    );
}

// ---- generators of valid input -------------------------------------------------

fn hex_id(len: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[0-9a-f]{{{len}}}"))
        .expect("regex")
        .prop_filter("not all zeros", |id| id.bytes().any(|b| b != b'0'))
}

fn valid_single() -> impl Strategy<Value = String> {
    (
        prop_oneof![hex_id(32), hex_id(16)],
        hex_id(16),
        prop::option::of(prop::sample::select(vec!["0", "1", "d"])),
        prop::option::of(hex_id(16)),
    )
        .prop_map(|(trace, span, sampling, parent)| match (sampling, parent) {
            (None, _) => format!("{trace}-{span}"),
            (Some(sampling), None) => format!("{trace}-{span}-{sampling}"),
            (Some(sampling), Some(parent)) => format!("{trace}-{span}-{sampling}-{parent}"),
        })
}

fn header_value() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        hex_id(32),
        hex_id(16),
        prop::sample::select(vec!["0", "1", "d", "true", "false", "", "2"]).prop_map(str::to_owned),
        "[0-9a-fA-F-]{0,34}",
        any::<String>(),
    ])
}

// ---- the fuzz targets --------------------------------------------------------

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn single_arbitrary_text(header in any::<String>()) {
        check_single(&header);
    }

    #[test]
    fn single_hex_and_dashes(header in "[0-9a-fdA-F-]{0,72}") {
        check_single(&header);
    }

    #[test]
    fn single_valid_headers_round_trip(header in valid_single()) {
        prop_assert!(SpanContext::from_b3(&header).is_ok(), "{}", header);
        check_single(&header);
    }

    #[test]
    fn single_valid_headers_with_ows_around_them(
        header in valid_single(),
        before in "[ \t]{0,3}",
        after in "[ \t]{0,3}",
    ) {
        let padded = format!("{before}{header}{after}");
        prop_assert_eq!(SpanContext::from_b3(&padded), SpanContext::from_b3(&header));
        check_single(&padded);
    }

    #[test]
    fn single_mutated(header in mutated_text(valid_single(), DICTIONARY)) {
        check_single(&header);
    }

    #[test]
    fn multi_any_combination(
        trace_id in header_value(),
        span_id in header_value(),
        sampled in header_value(),
        flags in header_value(),
    ) {
        check_multi(B3MultiHeaders {
            trace_id: trace_id.as_deref(),
            span_id: span_id.as_deref(),
            sampled: sampled.as_deref(),
            flags: flags.as_deref(),
        });
    }

    #[test]
    fn propagators_extract_arbitrary_carriers(
        entries in prop::collection::vec(
            (
                prop::sample::select(vec![
                    "traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid",
                    "x-b3-sampled", "x-b3-flags", "x-b3-parentspanid",
                ]),
                prop_oneof![valid_single(), any::<String>()],
            ),
            0..8,
        ),
    ) {
        let carrier: HashMap<String, String> = entries
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        for propagators in [
            Propagators::new(Propagator::ALL),
            Propagators::new([Propagator::B3Multi, Propagator::TraceContext]),
            Propagators::none(),
        ] {
            if let Some(context) = propagators.extract(&carrier) {
                prop_assert!(context.is_remote && context.is_valid());
            }
        }
    }
}

// ---- edges, pinned -------------------------------------------------------------

#[test]
fn a_written_context_reads_back_through_every_propagator() {
    let context = SpanContext::new(
        TraceId::random(),
        SpanId::random(),
        otlp_core::TraceFlags::SAMPLED,
    );
    for propagator in Propagator::ALL {
        let mut carrier = HashMap::new();
        propagator.inject(&context, &mut carrier);
        let back = propagator
            .extract(&carrier)
            .expect("written headers read back");
        assert_eq!(read(&back), read(&context), "{propagator}");
    }
}
