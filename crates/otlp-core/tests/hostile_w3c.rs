//! Hostile input for the W3C Trace Context parsers: `traceparent`,
//! `tracestate` and the hex ids, fed arbitrary text and mutated valid headers.
//!
//! Properties: no input panics; the parsers accept exactly what the grammar
//! allows (checked against a small reference reading of the W3C ABNF written
//! here, not against the parser's own helpers); every accepted `traceparent`
//! formats back to the same header (its version-00 prefix for later
//! versions); every accepted `tracestate` is canonical and re-parses to itself.
//!
//! Bounded run: `PROPTEST_CASES=20000 cargo test -p otlp-core --test hostile_w3c`.

mod hostile_support;

use hostile_support::DICTIONARY;
use otlp_contrib::testing::fuzz::{config, mutated_text};
use otlp_core::{
    MAX_TRACE_STATE_MEMBERS, SpanContext, SpanId, TraceFlags, TraceId, TraceParentError,
    TraceState, TraceStateError,
};
use proptest::collection::vec;
use proptest::prelude::*;

// ---- reference readings of the W3C grammar ----------------------------------

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The `traceparent` value without HTTP's optional whitespace (`OWS`:
/// spaces and tabs) around it, which the W3C test suite expects ignored.
fn without_ows(header: &str) -> &str {
    header.trim_matches(|c| c == ' ' || c == '\t')
}

/// Whether W3C Trace Context level 1 accepts `header` as a `traceparent`.
fn traceparent_is_valid(header: &str) -> bool {
    // OWS version "-" trace-id "-" parent-id "-" trace-flags, then for
    // versions above 00 optionally "-" and anything, then OWS.
    let header = without_ows(header);
    let Some(prefix) = header.get(..55) else {
        return false;
    };
    let parts: Vec<&str> = prefix.split('-').collect();
    let [version, trace, span, flags] = parts.as_slice() else {
        return false;
    };
    let shape = [(version, 2), (trace, 32), (span, 16), (flags, 2)]
        .iter()
        .all(|(part, len)| part.len() == *len && is_lower_hex(part));
    let rest = &header[55..];
    let tail_ok = match *version {
        "00" => rest.is_empty(),
        _ => rest.is_empty() || rest.starts_with('-'),
    };
    header.is_ascii()
        && shape
        && *version != "ff"
        && tail_ok
        && trace.bytes().any(|b| b != b'0')
        && span.bytes().any(|b| b != b'0')
}

/// W3C Trace Context level 2's `key = ( lcalpha / DIGIT ) 0*255( keychar )`,
/// `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`.
fn key_is_valid(key: &str) -> bool {
    let mut chars = key.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok
        && key.len() <= 256
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-*/@".contains(c))
}

fn value_is_valid(value: &str) -> bool {
    let printable = |c: char| (' '..='~').contains(&c) && c != ',' && c != '=';
    (1..=256).contains(&value.len()) && value.chars().all(printable) && !value.ends_with(' ')
}

/// The members W3C accepts in `header`, or `None` if it rejects the header.
/// A key given twice keeps its first (left-most) member: W3C lets a
/// receiver drop duplicates, and its test suite wants the rest kept; every
/// member received counts towards the 32.
fn tracestate_reference(header: &str) -> Option<Vec<(String, String)>> {
    let mut members: Vec<(String, String)> = Vec::new();
    let mut received = 0;
    for member in header.split(',') {
        let member = member.trim_matches(|c| c == ' ' || c == '\t');
        if member.is_empty() {
            continue;
        }
        let (key, value) = member.split_once('=')?;
        if !key_is_valid(key) || !value_is_valid(value) {
            return None;
        }
        received += 1;
        if !members.iter().any(|(k, _)| k == key) {
            members.push((key.to_owned(), value.to_owned()));
        }
    }
    (received <= MAX_TRACE_STATE_MEMBERS).then_some(members)
}

fn entries(state: &TraceState) -> Vec<(String, String)> {
    state
        .entries()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

// ---- checks shared by every input shape ---------------------------------------

fn check_traceparent(header: &str) {
    let parsed = SpanContext::from_traceparent(header);
    assert_eq!(
        parsed.is_ok(),
        traceparent_is_valid(header),
        "{header:?}: {parsed:?}"
    );
    if let Ok(context) = parsed {
        let header = without_ows(header);
        assert!(context.is_remote && context.is_valid());
        assert!(context.trace_state.is_empty());
        // The flags byte of version 00; of a later version the flags W3C
        // level 2 defines (sampled, random) and no others ("only parse the
        // trace-flags values supported by this version").
        let received = u8::from_str_radix(&header[53..55], 16).expect("hex flags");
        let kept = if header.starts_with("00") {
            received
        } else {
            received & TraceFlags::DEFINED.bits()
        };
        assert_eq!(context.trace_flags.bits(), kept, "{header:?}");
        // Every accepted header formats back as its version-00 prefix, with
        // only the defined flags (sampled, random): W3C has vendors zero the
        // others. A version-00 header with only those is written identically.
        let formatted = context.traceparent();
        let flags = context.trace_flags.bits() & TraceFlags::DEFINED.bits();
        let expected = format!("00-{}-{flags:02x}", &header[3..52]);
        assert_eq!(formatted, expected, "{header:?}");
        if header.starts_with("00") && flags == context.trace_flags.bits() {
            assert_eq!(formatted, header);
        }
        let written = SpanContext {
            trace_flags: TraceFlags::new(flags),
            ..context
        };
        assert_eq!(SpanContext::from_traceparent(&formatted), Ok(written));
    }
}

fn check_tracestate(header: &str) {
    let strict = TraceState::parse(header);
    let reference = tracestate_reference(header);
    assert_eq!(
        strict.as_ref().ok().map(entries),
        reference,
        "{header:?}: {strict:?}"
    );
    let lenient = TraceState::parse_lenient(header);
    match &strict {
        Ok(state) => {
            // Canonical: re-parses to itself; lenient agrees on valid headers.
            assert_eq!(TraceState::parse(state.header()).as_ref(), Ok(state));
            assert_eq!(&lenient, state);
            assert_eq!(state.is_empty(), state.header().is_empty());
            for (key, value) in state.entries() {
                assert_eq!(state.get(key), Some(value));
            }
        }
        Err(error) => {
            // The message names something; no error is empty.
            assert!(!error.to_string().is_empty());
        }
    }
    // Whatever lenient parsing keeps is a valid, canonical state.
    assert_eq!(TraceState::parse(lenient.header()).as_ref(), Ok(&lenient));
    assert!(lenient.entries().count() <= MAX_TRACE_STATE_MEMBERS);
    // Headers from the wire never break the parent.
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let context = SpanContext::from_headers(parent, Some(header)).expect("valid parent");
    assert_eq!(context.trace_state, strict.unwrap_or_default());
}

// ---- generators of valid input -------------------------------------------------

fn valid_traceparent() -> impl Strategy<Value = String> {
    let version = prop_oneof![
        4 => Just("00".to_owned()),
        1 => "[0-9a-f]{2}".prop_filter("ff is forbidden", |v| v != "ff"),
    ];
    let suffix = prop_oneof![Just(String::new()), "-[ -~]{0,20}"];
    // HTTP's optional whitespace around the value, mostly none.
    let ows = || prop_oneof![3 => Just(String::new()), 1 => "[ \t]{1,3}"];
    (
        version,
        any::<[u8; 16]>().prop_filter("valid", |b| b != &[0; 16]),
        any::<[u8; 8]>().prop_filter("valid", |b| b != &[0; 8]),
        any::<u8>(),
        suffix,
        (ows(), ows()),
    )
        .prop_map(|(version, trace, span, flags, suffix, (before, after))| {
            let suffix = if version == "00" {
                String::new()
            } else {
                suffix
            };
            format!(
                "{before}{version}-{}-{}-{flags:02x}{suffix}{after}",
                TraceId::from_bytes(trace),
                SpanId::from_bytes(span)
            )
        })
}

fn valid_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_*/-]{0,12}",
        "[a-z0-9][a-z0-9_*/-]{0,8}@[a-z][a-z0-9_*/-]{0,13}",
        // level 2: a digit first, `@` anywhere after the first character
        "[a-z0-9][a-z0-9_*/@-]{0,16}",
        // the length limits, exactly
        Just(format!("k{}", "x".repeat(255))),
        Just(format!("9{}", "@".repeat(255))),
        Just(format!("{}@{}", "t".repeat(241), "s".repeat(14))),
    ]
}

fn valid_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\\x20-\\x2b\\x2d-\\x3c\\x3e-\\x7e]{0,12}[\\x21-\\x2b\\x2d-\\x3c\\x3e-\\x7e]",
        Just("v".repeat(256)),
        Just(format!("{}x", " ".repeat(255))),
    ]
}

/// A valid header: unique keys, at most 32 members, optional whitespace and
/// empty members, as a vendor's proxy might send them.
fn valid_tracestate() -> impl Strategy<Value = String> {
    let separator = prop::sample::select(vec![",", ", ", " ,\t", ",,", " , , "]);
    vec((valid_key(), valid_value(), separator), 0..=34).prop_map(|members| {
        let mut seen = std::collections::HashSet::new();
        let mut header = String::new();
        for (key, value, separator) in members {
            if seen.len() == MAX_TRACE_STATE_MEMBERS || !seen.insert(key.clone()) {
                continue;
            }
            if !header.is_empty() {
                header.push_str(separator);
            }
            header.push_str(&key);
            header.push('=');
            header.push_str(&value);
        }
        header
    })
}

/// Text made of the characters the grammar cares about.
fn tracestate_alphabet() -> impl Strategy<Value = String> {
    "[a-z0-9A-Z@=,_*/ \t!~-]{0,80}"
}

// ---- the fuzz targets --------------------------------------------------------

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn traceparent_arbitrary_text(header in any::<String>()) {
        check_traceparent(&header);
    }

    #[test]
    fn traceparent_hex_and_dashes(header in "[0-9a-fA-F-]{50,60}") {
        check_traceparent(&header);
    }

    #[test]
    fn traceparent_valid_headers_round_trip(header in valid_traceparent()) {
        prop_assert!(SpanContext::from_traceparent(&header).is_ok(), "{}", header);
        check_traceparent(&header);
    }

    #[test]
    fn traceparent_mutated(header in mutated_text(valid_traceparent(), DICTIONARY)) {
        check_traceparent(&header);
    }

    #[test]
    fn tracestate_arbitrary_text(header in any::<String>()) {
        check_tracestate(&header);
    }

    #[test]
    fn tracestate_grammar_alphabet(header in tracestate_alphabet()) {
        check_tracestate(&header);
    }

    #[test]
    fn tracestate_valid_headers_parse(header in valid_tracestate()) {
        prop_assert!(TraceState::parse(&header).is_ok(), "{}", header);
        check_tracestate(&header);
    }

    #[test]
    fn tracestate_mutated(header in mutated_text(valid_tracestate(), DICTIONARY)) {
        check_tracestate(&header);
    }

    #[test]
    fn tracestate_insert_and_remove(
        header in valid_tracestate(),
        key in prop_oneof![valid_key(), any::<String>()],
        value in prop_oneof![valid_value(), any::<String>()],
    ) {
        let state = TraceState::parse(&header).expect("valid");
        match state.insert(&key, &value) {
            Ok(inserted) => {
                prop_assert!(key_is_valid(&key) && value_is_valid(&value));
                prop_assert_eq!(inserted.entries().next(), Some((key.as_str(), value.as_str())));
                prop_assert_eq!(TraceState::parse(inserted.header()), Ok(inserted.clone()));
                let mut others = entries(&state.remove(&key));
                // A full list makes room by dropping its right-most member.
                others.truncate(MAX_TRACE_STATE_MEMBERS - 1);
                prop_assert_eq!(entries(&inserted.remove(&key)), others);
            }
            Err(_) => prop_assert!(!key_is_valid(&key) || !value_is_valid(&value)),
        }
        let removed = state.remove(&key);
        prop_assert_eq!(removed.get(&key), None);
        prop_assert_eq!(TraceState::parse(removed.header()), Ok(removed.clone()));
    }

    #[test]
    fn hex_ids_arbitrary_text(text in prop_oneof!["[0-9a-fA-F]{14,34}", any::<String>()]) {
        for (parsed, len) in [
            (TraceId::from_hex(&text).map(|id| id.to_string()), 32),
            (SpanId::from_hex(&text).map(|id| id.to_string()), 16),
        ] {
            let valid = text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit());
            prop_assert_eq!(parsed.is_ok(), valid, "{:?}", text);
            if let Ok(shown) = parsed {
                prop_assert_eq!(shown, text.to_ascii_lowercase());
            }
        }
        let strict = TraceId::from_lower_hex(&text);
        prop_assert_eq!(strict.is_ok(), text.len() == 32 && is_lower_hex(&text));
    }
}

// ---- edges, pinned -------------------------------------------------------------

#[test]
fn traceparent_multibyte_text_at_every_delimiter_is_not_ascii() {
    let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for position in 0..valid.len() {
        let mut header = valid.to_owned();
        header.replace_range(position..position + 1, "é");
        assert_eq!(
            SpanContext::from_traceparent(&header),
            Err(TraceParentError::NotAscii),
            "{header}"
        );
        check_traceparent(&header);
    }
}

#[test]
fn traceparent_future_version_with_a_long_tail_formats_its_prefix() {
    let header = format!(
        "fe-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0b-{}",
        "x".repeat(10_000)
    );
    let context = SpanContext::from_traceparent(&header).expect("future version");
    // Of a later version's flags those level 2 defines are taken: sampled
    // and random, not the reserved 0x08.
    assert_eq!(
        context.traceparent(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"
    );
    assert_eq!(context.trace_flags, TraceFlags::SAMPLED.with_random(true));
}

#[test]
fn tracestate_key_and_value_length_limits_are_exact() {
    let longest_key = format!("k{}", "x".repeat(255));
    let too_long_key = format!("k{}", "x".repeat(256));
    let longest_value = "v".repeat(256);
    for (header, ok) in [
        (format!("{longest_key}=1"), true),
        (format!("{too_long_key}=1"), false),
        (format!("a={longest_value}"), true),
        (format!("a={longest_value}v"), false),
        (format!("{}@{}=1", "t".repeat(241), "s".repeat(14)), true),
        // level 2: 256 characters in all, however the `@` splits them
        (format!("{}@{}=1", "t".repeat(242), "s".repeat(13)), true),
        (format!("{}@{}=1", "t".repeat(242), "s".repeat(14)), false),
        (format!("{}@{}=1", "t".repeat(241), "s".repeat(15)), false),
        ("a@=1".to_owned(), true),
        ("1abc=1".to_owned(), true),
        ("@a=1".to_owned(), false),
        ("_a=1".to_owned(), false),
        ("a@b@c=1".to_owned(), true),
        ("a= x".to_owned(), true),
        ("a=x ".to_owned(), true), // trailing OWS belongs to the list, not the value
        ("a=x\u{a0}".to_owned(), false),
    ] {
        assert_eq!(TraceState::parse(&header).is_ok(), ok, "{header}");
        check_tracestate(&header);
    }
}

#[test]
fn tracestate_thousands_of_members_are_rejected_quickly() {
    // A header far over the member limit must fail fast, not after a
    // quadratic duplicate scan over every member. No clock is read (tests
    // assert no times on a shared machine): at 200,000 members a quadratic
    // scan would keep this test running for minutes, which shows.
    let header: Vec<String> = (0..200_000).map(|i| format!("k{i}=v")).collect();
    let header = header.join(",");
    assert_eq!(
        TraceState::parse(&header),
        Err(TraceStateError::TooManyMembers {
            max: MAX_TRACE_STATE_MEMBERS
        })
    );
    let lenient = TraceState::parse_lenient(&header);
    assert_eq!(lenient.entries().count(), MAX_TRACE_STATE_MEMBERS);
}
