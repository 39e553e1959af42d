//! W3C Trace Context `traceparent` test vectors, valid and invalid
//! (after the W3C test suite's cases, `test/test.py` of w3c/trace-context).

use otlp_core::{SpanContext, SpanId, TraceFlags, TraceId, TraceParentError, TraceState};

#[test]
fn valid_headers_parse_and_format_back() {
    let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let context = SpanContext::from_traceparent(header).unwrap();
    assert_eq!(
        context.trace_id,
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
    );
    assert_eq!(
        context.span_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
    assert_eq!(context.trace_flags, TraceFlags::SAMPLED);
    assert!(context.is_remote);
    assert_eq!(context.traceparent(), header);

    let unsampled =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
            .unwrap();
    assert!(!unsampled.trace_flags.is_sampled());
    // Unknown flag bits are kept.
    let other_flags =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09")
            .unwrap();
    assert_eq!(other_flags.trace_flags.bits(), 0x09);
}

#[test]
fn future_versions_parse_by_their_version_00_prefix() {
    let longer =
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like";
    assert!(SpanContext::from_traceparent(longer).is_ok());
    let exact = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert!(SpanContext::from_traceparent(exact).is_ok());
    let no_dash = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what";
    assert_eq!(
        SpanContext::from_traceparent(no_dash),
        Err(TraceParentError::Delimiter { position: 55 })
    );
}

#[test]
fn invalid_headers_are_rejected_with_the_reason() {
    use TraceParentError as E;
    let valid_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let valid_span = "00f067aa0ba902b7";
    /// A header and a check of the error it must give.
    type Case = (String, fn(&E) -> bool);
    let cases: Vec<Case> = vec![
        // wrong version
        (format!("ff-{valid_trace}-{valid_span}-01"), |e| {
            *e == E::ForbiddenVersion
        }),
        (format!("0-{valid_trace}-{valid_span}-01"), |e| {
            matches!(e, E::Length { .. })
        }),
        (format!("000-{valid_trace}-{valid_span}-01"), |e| {
            matches!(e, E::Field { .. } | E::Length { .. } | E::Delimiter { .. })
        }),
        (format!("0x-{valid_trace}-{valid_span}-01"), |e| {
            matches!(
                e,
                E::Field {
                    field: "version",
                    ..
                }
            )
        }),
        (format!("0A-{valid_trace}-{valid_span}-01"), |e| {
            matches!(
                e,
                E::Field {
                    field: "version",
                    ..
                }
            )
        }),
        // bad length
        (format!("00-{valid_trace}-{valid_span}-01-"), |e| {
            matches!(e, E::Length { found: 56 })
        }),
        (format!("00-{valid_trace}-{valid_span}-1"), |e| {
            matches!(e, E::Length { found: 54 })
        }),
        (format!("00-{valid_trace}0-{valid_span}-01"), |e| {
            matches!(e, E::Length { .. })
        }),
        (String::new(), |e| matches!(e, E::Length { found: 0 })),
        // bad delimiters
        (format!("00_{valid_trace}-{valid_span}-01"), |e| {
            *e == E::Delimiter { position: 2 }
        }),
        (format!("00-{valid_trace}_{valid_span}-01"), |e| {
            *e == E::Delimiter { position: 35 }
        }),
        (format!("00-{valid_trace}-{valid_span}_01"), |e| {
            *e == E::Delimiter { position: 52 }
        }),
        // all-zero ids
        (format!("00-{}-{valid_span}-01", "0".repeat(32)), |e| {
            *e == E::ZeroTraceId
        }),
        (format!("00-{valid_trace}-{}-01", "0".repeat(16)), |e| {
            *e == E::ZeroSpanId
        }),
        // upper-case hex and non-hex
        (
            format!("00-{}-{valid_span}-01", valid_trace.to_uppercase()),
            |e| matches!(e, E::Id(_)),
        ),
        (
            format!("00-{valid_trace}-{}-01", valid_span.to_uppercase()),
            |e| matches!(e, E::Id(_)),
        ),
        (format!("00-{valid_trace}-{valid_span}-0A"), |e| {
            matches!(
                e,
                E::Field {
                    field: "trace flags",
                    ..
                }
            )
        }),
        (format!("00-{valid_trace}-{valid_span}-0g"), |e| {
            matches!(e, E::Field { .. })
        }),
        (
            format!("00-4bf92f3577b34da6a3ce929d0e0e473z-{valid_span}-01"),
            |e| matches!(e, E::Id(_)),
        ),
        // non-ASCII of the right byte length must not panic on a char boundary
        (
            format!("00-{}é-{valid_span}-01", &valid_trace[..30]),
            |e| *e == E::NotAscii,
        ),
        // whitespace that is not optional whitespace around the value
        (format!("00- {}-{valid_span}-01", &valid_trace[1..]), |e| {
            matches!(e, E::Id(_))
        }),
        (format!("00-{valid_trace}-{valid_span}-01 x"), |e| {
            matches!(e, E::Length { found: 57 })
        }),
        (format!("\n00-{valid_trace}-{valid_span}-01"), |e| {
            matches!(
                e,
                E::Field {
                    field: "version",
                    ..
                }
            )
        }),
        (format!("00-{valid_trace}-{valid_span}-01\r"), |e| {
            matches!(e, E::Length { found: 56 })
        }),
        (format!("\u{a0}00-{valid_trace}-{valid_span}-01"), |e| {
            *e == E::NotAscii
        }),
        (" \t ".to_owned(), |e| matches!(e, E::Length { found: 0 })),
    ];
    for (header, expected) in cases {
        match SpanContext::from_traceparent(&header) {
            Ok(context) => panic!("{header:?} parsed as {context:?}"),
            Err(err) => {
                assert!(expected(&err), "{header:?} gave {err:?}");
                assert!(!err.to_string().is_empty());
            }
        }
    }
}

#[test]
fn optional_whitespace_around_the_header_is_ignored() {
    // W3C's test suite (test_traceparent_ows_handling) sends these and
    // expects the trace continued: HTTP's optional whitespace (spaces and
    // tabs) around a field value is not part of the value.
    let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let expected = SpanContext::from_traceparent(header).unwrap();
    for padded in [
        format!(" {header}"),
        format!("\t{header}"),
        format!("{header} "),
        format!("{header}\t"),
        format!("\t {header} \t"),
    ] {
        assert_eq!(
            SpanContext::from_traceparent(&padded).as_ref(),
            Ok(&expected),
            "{padded:?}"
        );
    }
    // A future version's tail ends where the whitespace starts.
    let future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-tail";
    assert_eq!(
        SpanContext::from_traceparent(&format!(" {future}\t")),
        SpanContext::from_traceparent(future)
    );
    // Errors count from the value: a short one is short by its own length.
    assert_eq!(
        SpanContext::from_traceparent(&format!("  {}  ", &header[..54])),
        Err(TraceParentError::Length { found: 54 })
    );
}

#[test]
fn a_bad_tracestate_is_discarded_without_losing_the_parent() {
    let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let context = SpanContext::from_headers(header, Some("INVALID KEY=1")).unwrap();
    assert_eq!(context.trace_state, TraceState::EMPTY);
    let context = SpanContext::from_headers(header, Some("congo=t61rcWkgMzE")).unwrap();
    assert_eq!(context.trace_state.get("congo"), Some("t61rcWkgMzE"));
}

#[test]
fn a_written_traceparent_carries_only_the_defined_flags() {
    // W3C Trace Context (level 2, trace-flags): only `sampled` (0x01) and
    // `random` (0x02) are defined; "The behavior of other flags ... is not
    // defined and is reserved for future use. Vendors MUST set those to
    // zero." Unknown bits received are kept on the context, never sent on.
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let span = "00f067aa0ba902b7";
    for (received, sent) in [
        (format!("00-{trace}-{span}-ff"), "03"),
        (format!("00-{trace}-{span}-09"), "01"),
        (format!("00-{trace}-{span}-fc"), "00"),
        // A later version gives the flags level 2 defines (see
        // a_later_versions_traceparent_gives_the_flags_level_2_defines).
        (format!("cc-{trace}-{span}-0b-future"), "03"),
    ] {
        let context = SpanContext::from_traceparent(&received).unwrap();
        assert_eq!(
            context.traceparent(),
            format!("00-{trace}-{span}-{sent}"),
            "{received}"
        );
    }
    let context = SpanContext::new(
        TraceId::from_hex(trace).unwrap(),
        SpanId::from_hex(span).unwrap(),
        TraceFlags::new(0x85),
    );
    let mut out = [0u8; 55];
    assert!(context.write_traceparent(&mut out).ends_with("-01"));
}

#[test]
fn a_later_versions_traceparent_gives_the_flags_level_2_defines() {
    // W3C Trace Context level 2, processing model ("A traceparent is
    // received"): of a higher version "The vendor will only parse the
    // trace-flags values supported by this version of this specification
    // and ignore all other values" -- sampled and random -- and "Vendors
    // will set all unparsed / unknown trace-flags to 0 on outgoing
    // requests". The random trace id flag: "If the flag is set in the
    // incoming traceparent header, it MUST also be set in all outgoing
    // traceparent headers which use the same trace-id"; later versions are
    // "additive" to 00. Before, only the sampled bit was kept (the
    // versioning section's "Parse the sampled bit of flags", written when
    // it was the only flag), so `01-...-03` lost its random flag.
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let span = "00f067aa0ba902b7";
    for (received, bits) in [
        (format!("cc-{trace}-{span}-0b-future"), 0x03),
        (format!("01-{trace}-{span}-03"), 0x03),
        (format!("01-{trace}-{span}-02"), 0x02),
        (format!("01-{trace}-{span}-fe"), 0x02),
        (format!("01-{trace}-{span}-fc"), 0x00),
        (format!("fe-{trace}-{span}-ff-x"), 0x03),
        // Version 00 keeps its byte (sampled, random and bits it reserves).
        (format!("00-{trace}-{span}-0b"), 0x0b),
    ] {
        let context = SpanContext::from_traceparent(&received).unwrap();
        assert_eq!(context.trace_flags.bits(), bits, "{received}");
        assert_eq!(
            context.trace_flags.is_random(),
            bits & 0x02 != 0,
            "{received}"
        );
    }
    let context = SpanContext::from_traceparent(&format!("cc-{trace}-{span}-03")).unwrap();
    assert_eq!(context.traceparent(), format!("00-{trace}-{span}-03"));
    let context = SpanContext::from_traceparent(&format!("01-{trace}-{span}-fe-x")).unwrap();
    assert_eq!(context.traceparent(), format!("00-{trace}-{span}-02"));
}

#[test]
fn a_short_traceparent_of_a_later_version_is_not_told_about_version_00_alone() {
    // Before: "must be 55 characters for version 00" for a `cc-` header too
    // short to hold the version-00 fields.
    let short = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0";
    let error = SpanContext::from_traceparent(short).unwrap_err();
    assert_eq!(
        error.to_string(),
        "traceparent must be 55 characters (version 00) or at least 55 (a later version), found 54"
    );
}
