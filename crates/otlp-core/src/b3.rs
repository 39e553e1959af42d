//! The B3 headers of Zipkin (<https://github.com/openzipkin/b3-propagation>)
//! on [`SpanContext`]: the single `b3` header and the multi `X-B3-*` headers.
//!
//! Read as the OpenTelemetry specification's "B3 Requirements" say, and as
//! `opentelemetry-zipkin` does:
//!
//! - trace ids of 32 or 16 lowercase hex digits (a 64-bit id is left-padded
//!   with zeros to 128 bits), span ids of 16; all-zero ids are refused;
//! - the sampling state `1` (sampled), `0` (not sampled) or `d` (debug, which
//!   implies sampled); the multi headers also take the legacy `true` and
//!   `false` of `X-B3-Sampled`, and `X-B3-Flags: 1` (debug, so sampled) over
//!   whatever `X-B3-Sampled` says. The debug flag is kept on the context
//!   ([`TraceFlags::B3_DEBUG`]), as the specification asks ("MUST preserve a
//!   debug trace flag, if received, and propagate it");
//! - no sampling state (the "deferred" decision) reads as not sampled, as in
//!   `opentelemetry-java`: the B3 header cannot say "sampled" without saying it;
//! - the parent span id is checked (single header) and then not used: the
//!   span id is the parent of the span this side starts, never reused as its
//!   own id;
//! - `b3: 0` (deny without ids, and `1` or `d` alone) carries no trace:
//!   [`B3Error::SamplingOnly`].
//!
//! Written: `{trace id}-{span id}-{1|0|d}` in the single header, and
//! `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled: 1|0` in the multi headers
//! (`X-B3-Flags: 1` instead of `X-B3-Sampled` for debug, which implies it),
//! the trace id always with 32 digits; no parent span id, as the specification
//! asks. Debug is written when the context carries
//! [`TraceFlags::B3_DEBUG`]: received in B3 headers, it stays with the spans
//! started under that context and their B3 headers (a W3C `traceparent`
//! cannot say it).
//!
//! Cost: parsing and writing are allocation-free (errors allocate their text).

use crate::error::{B3Error, shown};
use crate::id::encode_hex_into;
use crate::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

/// Length of the single `b3` header this crate writes:
/// `{32 hex}-{16 hex}-{1 digit}`.
pub const B3_SINGLE_LEN: usize = 32 + 1 + 16 + 1 + 1;

/// The values of the multi B3 headers, as received: each `None` when the
/// header is absent. `X-B3-ParentSpanId` is not read (it is never used).
///
/// Plain borrowed data: `Copy`.
///
/// ```
/// use otlp_core::{B3MultiHeaders, SpanContext};
///
/// let headers = B3MultiHeaders {
///     trace_id: Some("a3ce929d0e0e4736"),
///     span_id: Some("00f067aa0ba902b7"),
///     sampled: Some("1"),
///     flags: None,
/// };
/// let context = SpanContext::from_b3_multi(headers)?;
/// assert_eq!(context.trace_id.to_string(), "0000000000000000a3ce929d0e0e4736");
/// assert!(context.trace_flags.is_sampled() && context.is_remote);
/// # Ok::<(), otlp_core::B3Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct B3MultiHeaders<'a> {
    /// `X-B3-TraceId`: 32 or 16 lowercase hex digits.
    pub trace_id: Option<&'a str>,
    /// `X-B3-SpanId`: 16 lowercase hex digits.
    pub span_id: Option<&'a str>,
    /// `X-B3-Sampled`: `1`, `0` (or the legacy `true`, `false`).
    pub sampled: Option<&'a str>,
    /// `X-B3-Flags`: `1` is debug (and so sampled); any other value is no flag.
    pub flags: Option<&'a str>,
}

impl SpanContext {
    /// Parses a single `b3` header,
    /// `{TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]`; the result is
    /// marked remote and has an empty trace state.
    ///
    /// As the OpenTelemetry specification's "B3 Requirements" say: the trace
    /// id is 32 or 16 lowercase hex digits (a 64-bit id is left-padded with
    /// zeros to 128 bits), the span id and parent span id 16; all-zero ids
    /// are refused. The sampling state is `1`, `0` or `d` (debug, which
    /// implies sampled, and is kept: [`TraceFlags::B3_DEBUG`]); without one
    /// (the "deferred" decision) the context is not sampled, as in
    /// `opentelemetry-java`. The parent span id is checked
    /// and not used: the span id is the parent of the span this side starts.
    /// A header with a sampling state alone (`b3: 0`, the deny-only form)
    /// carries no trace: [`B3Error::SamplingOnly`]. Spaces and tabs around
    /// the value (HTTP's `OWS`) are ignored, as by
    /// [`from_traceparent`](Self::from_traceparent).
    ///
    /// ```
    /// use otlp_core::{B3Error, SpanContext};
    ///
    /// let context = SpanContext::from_b3("4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-d")?;
    /// assert!(context.trace_flags.is_sampled()); // debug implies sampled
    /// assert!(context.trace_flags.is_b3_debug()); // and is passed on
    /// assert_eq!(context.b3(), "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-d");
    ///
    /// // A deny-only header carries no trace.
    /// assert!(matches!(SpanContext::from_b3("0"), Err(B3Error::SamplingOnly { .. })));
    /// # Ok::<(), B3Error>(())
    /// ```
    pub fn from_b3(header: &str) -> Result<Self, B3Error> {
        // Spaces and tabs around the value (HTTP's `OWS`, RFC 9110 §5.5)
        // are not part of it, as for `traceparent`: a header map built by
        // hand or gRPC metadata may keep them. Other whitespace is not `OWS`.
        let header = header.trim_matches([' ', '\t']);
        let mut fields = header.split('-');
        let fields_found = || B3Error::Fields {
            found: header.split('-').count(),
        };
        let (Some(trace_id), Some(span_id)) = (fields.next(), fields.next()) else {
            return Err(if matches!(header, "0" | "1" | "d") {
                B3Error::SamplingOnly {
                    value: header.to_owned(),
                }
            } else {
                fields_found()
            });
        };
        let sampling = fields.next();
        let parent = fields.next();
        if fields.next().is_some() {
            return Err(fields_found());
        }
        let trace_id = b3_trace_id(trace_id)?;
        let span_id = b3_span_id(span_id, "span id")?;
        let (sampled, debug) = match sampling {
            None => (false, false),
            Some("1") => (true, false),
            Some("d") => (true, true),
            Some("0") => (false, false),
            Some(other) => {
                return Err(B3Error::SamplingState {
                    value: shown(other),
                    expected: "1, 0 or d",
                });
            }
        };
        if let Some(parent) = parent {
            b3_span_id(parent, "parent span id")?;
        }
        Ok(remote(trace_id, span_id, sampled, debug))
    }

    /// Reads the multi `X-B3-*` headers: `X-B3-TraceId` and `X-B3-SpanId`
    /// are required; `X-B3-Flags: 1` (debug) makes the context sampled
    /// whatever `X-B3-Sampled` says, and is kept
    /// ([`TraceFlags::B3_DEBUG`]); without either, not sampled. Spaces and
    /// tabs around a value are not part of it. The result is marked remote
    /// and has an empty trace state.
    pub fn from_b3_multi(headers: B3MultiHeaders<'_>) -> Result<Self, B3Error> {
        // Spaces and tabs around each value are not part of it, as for the
        // single header (`OWS`).
        fn ows(value: Option<&str>) -> Option<&str> {
            value.map(|value| value.trim_matches([' ', '\t']))
        }
        let headers = B3MultiHeaders {
            trace_id: ows(headers.trace_id),
            span_id: ows(headers.span_id),
            sampled: ows(headers.sampled),
            flags: ows(headers.flags),
        };
        let trace_id = headers.trace_id.ok_or(B3Error::Missing {
            header: "X-B3-TraceId",
        })?;
        let span_id = headers.span_id.ok_or(B3Error::Missing {
            header: "X-B3-SpanId",
        })?;
        let trace_id = b3_trace_id(trace_id)?;
        let span_id = b3_span_id(span_id, "span id")?;
        let debug = headers.flags == Some("1");
        let sampled = match headers.sampled {
            _ if debug => true,
            None => false,
            Some("1" | "true") => true,
            Some("0" | "false") => false,
            Some(other) => {
                return Err(B3Error::SamplingState {
                    value: shown(other),
                    expected: "1, 0, true or false",
                });
            }
        };
        Ok(remote(trace_id, span_id, sampled, debug))
    }

    /// Writes the single `b3` header, `{trace id}-{span id}-{1|0|d}`, into
    /// `out` and returns it: `d` when the context carries B3's debug flag
    /// ([`TraceFlags::B3_DEBUG`]). Does not allocate. The trace id is written
    /// with 32 digits, and no parent span id.
    pub fn write_b3<'a>(&self, out: &'a mut [u8; B3_SINGLE_LEN]) -> &'a str {
        encode_hex_into(self.trace_id.as_bytes(), &mut out[0..32]);
        out[32] = b'-';
        encode_hex_into(self.span_id.as_bytes(), &mut out[33..49]);
        out[49] = b'-';
        out[50] = if self.trace_flags.is_b3_debug() {
            b'd'
        } else {
            self.b3_sampled().as_bytes()[0]
        };
        match std::str::from_utf8(out) {
            Ok(text) => text,
            Err(_) => unreachable!("the b3 header is ASCII"),
        }
    }

    /// The single `b3` header (see [`write_b3`](Self::write_b3)).
    pub fn b3(&self) -> String {
        let mut out = [0u8; B3_SINGLE_LEN];
        self.write_b3(&mut out).to_owned()
    }

    /// The value of `X-B3-Sampled` for this context: `1` or `0` (a context
    /// with B3's debug flag sends `X-B3-Flags: 1` instead, which implies
    /// sampled).
    pub fn b3_sampled(&self) -> &'static str {
        if self.trace_flags.is_sampled() {
            "1"
        } else {
            "0"
        }
    }
}

/// A remote context of B3 ids.
fn remote(trace_id: TraceId, span_id: SpanId, sampled: bool, debug: bool) -> SpanContext {
    SpanContext {
        trace_id,
        span_id,
        trace_flags: TraceFlags::NONE.with_sampled(sampled).with_b3_debug(debug),
        is_remote: true,
        trace_state: TraceState::EMPTY,
    }
}

/// A trace id of 32 lowercase hex digits, or 16 left-padded with zeros.
fn b3_trace_id(text: &str) -> Result<TraceId, B3Error> {
    let bad = || B3Error::Id {
        field: "trace id",
        value: shown(text),
        digits: "32 or 16",
    };
    let trace_id = match text.len() {
        32 => TraceId::from_lower_hex(text).map_err(|_| bad())?,
        16 => {
            let low = SpanId::from_lower_hex(text).map_err(|_| bad())?;
            let mut bytes = [0u8; 16];
            bytes[8..].copy_from_slice(low.as_bytes());
            TraceId::from_bytes(bytes)
        }
        _ => return Err(bad()),
    };
    if !trace_id.is_valid() {
        return Err(B3Error::ZeroId { field: "trace id" });
    }
    Ok(trace_id)
}

/// A span id of 16 lowercase hex digits, not all zeros.
fn b3_span_id(text: &str, field: &'static str) -> Result<SpanId, B3Error> {
    let span_id = SpanId::from_lower_hex(text).map_err(|_| B3Error::Id {
        field,
        value: shown(text),
        digits: "16",
    })?;
    if !span_id.is_valid() {
        return Err(B3Error::ZeroId { field });
    }
    Ok(span_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";
    const PARENT: &str = "00000000000000cd";

    /// What an error is about: `fields`, `sampling`, or the id or header it names.
    fn about(err: &B3Error) -> &'static str {
        match err {
            B3Error::Fields { .. } => "fields",
            B3Error::SamplingOnly { .. } => "sampling only",
            B3Error::Id { field, .. } | B3Error::ZeroId { field } => field,
            B3Error::SamplingState { .. } => "sampling",
            B3Error::Missing { header } => header,
        }
    }

    fn single(header: &str) -> Result<SpanContext, B3Error> {
        SpanContext::from_b3(header)
    }

    fn multi(
        trace_id: Option<&str>,
        span_id: Option<&str>,
        sampled: Option<&str>,
        flags: Option<&str>,
    ) -> Result<SpanContext, B3Error> {
        SpanContext::from_b3_multi(B3MultiHeaders {
            trace_id,
            span_id,
            sampled,
            flags,
        })
    }

    /// Spaces and tabs around each multi header's value (HTTP's `OWS`) are
    /// not part of it, as for the single header and `traceparent`: the
    /// multi headers refused them.
    #[test]
    fn the_multi_headers_are_read_through_the_spaces_and_tabs_around_them() {
        let bare = multi(Some(TRACE), Some(SPAN), Some("1"), Some("1")).unwrap();
        let padded = multi(
            Some(&format!(" {TRACE}\t")),
            Some(&format!("\t{SPAN} ")),
            Some(" 1"),
            Some("1\t"),
        );
        assert_eq!(padded, Ok(bare));
        let sampled = multi(Some(TRACE), Some(SPAN), Some(" true "), None).unwrap();
        assert!(sampled.trace_flags.is_sampled());
        // Other whitespace is not `OWS`.
        assert!(multi(Some(&format!("{TRACE}\n")), Some(SPAN), None, None).is_err());
    }

    #[test]
    fn the_single_header_reads_ids_and_each_sampling_state() {
        for (suffix, sampled) in [("", false), ("-0", false), ("-1", true), ("-d", true)] {
            let context = single(&format!("{TRACE}-{SPAN}{suffix}")).unwrap();
            assert_eq!(context.trace_id.to_string(), TRACE, "{suffix}");
            assert_eq!(context.span_id.to_string(), SPAN, "{suffix}");
            assert_eq!(context.trace_flags.is_sampled(), sampled, "{suffix}");
            assert!(context.is_remote && context.trace_state.is_empty());
        }
        let with_parent = single(&format!("{TRACE}-{SPAN}-1-{PARENT}")).unwrap();
        assert_eq!(
            with_parent.span_id.to_string(),
            SPAN,
            "the parent span id is not used"
        );
    }

    #[test]
    fn a_64_bit_trace_id_is_left_padded_to_128_bits() {
        let context = single(&format!("a3ce929d0e0e4736-{SPAN}-1")).unwrap();
        assert_eq!(
            context.trace_id.to_string(),
            "0000000000000000a3ce929d0e0e4736"
        );
        assert_eq!(
            context.b3(),
            format!("0000000000000000a3ce929d0e0e4736-{SPAN}-1")
        );
        let context = multi(Some("a3ce929d0e0e4736"), Some(SPAN), Some("0"), None).unwrap();
        assert_eq!(
            context.trace_id.to_string(),
            "0000000000000000a3ce929d0e0e4736"
        );
    }

    #[test]
    fn sampling_only_headers_carry_no_trace() {
        for value in ["0", "1", "d"] {
            assert_eq!(
                single(value),
                Err(B3Error::SamplingOnly {
                    value: value.to_owned()
                })
            );
        }
    }

    #[test]
    fn the_single_header_is_read_without_the_optional_whitespace_around_it() {
        // HTTP lets a field value be surrounded by spaces and tabs (`OWS`),
        // which a carrier filled by hand or gRPC metadata may keep; the
        // `traceparent` was read through them and the `b3` header was not.
        let header = format!("{TRACE}-{SPAN}-d");
        let expected = single(&header).unwrap();
        for padded in [
            format!(" {header}"),
            format!("{header}\t"),
            format!("\t {header} \t"),
        ] {
            assert_eq!(single(&padded).as_ref(), Ok(&expected), "{padded:?}");
            let carrier = std::collections::HashMap::from([("b3".to_owned(), padded.clone())]);
            assert_eq!(
                crate::propagation::Propagator::B3
                    .extract(&carrier)
                    .as_ref(),
                Some(&expected),
                "{padded:?}"
            );
        }
        assert_eq!(
            single(" 0\t"),
            Err(B3Error::SamplingOnly {
                value: "0".to_owned()
            })
        );
        // Only spaces and tabs around the value: not other whitespace, not
        // inside it.
        for bad in [
            format!("{header}\n"),
            format!("\r{header}"),
            format!("{TRACE} -{SPAN}-d"),
            format!("{TRACE}-{SPAN}- d"),
        ] {
            assert!(single(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn malformed_single_headers_are_errors_never_panics() {
        let cases: &[(String, &str)] = &[
            (String::new(), "fields"),
            ("-".into(), "trace id"),
            (TRACE.to_owned(), "fields"),
            (format!("{TRACE}-{SPAN}-1-{PARENT}-x"), "fields"),
            (format!("{TRACE}-{SPAN}-"), "sampling"),
            (format!("{TRACE}-{SPAN}-2"), "sampling"),
            (format!("{TRACE}-{SPAN}-true"), "sampling"),
            (format!("{TRACE}-{SPAN}-1-"), "parent span id"),
            (format!("{TRACE}-{SPAN}-1-00cd"), "parent span id"),
            (
                format!("{TRACE}-{SPAN}-1-0000000000000000"),
                "parent span id",
            ),
            (format!("{}-{SPAN}", &TRACE[1..]), "trace id"),
            (format!("{TRACE}0-{SPAN}"), "trace id"),
            (format!("{}-{SPAN}", TRACE.to_uppercase()), "trace id"),
            (
                format!("4bf92f3577b34da6a3ce929d0e0e473g-{SPAN}"),
                "trace id",
            ),
            (format!("{}-{SPAN}", "0".repeat(32)), "trace id"),
            (format!("{}-{SPAN}", "0".repeat(16)), "trace id"),
            (format!("{TRACE}-{}", &SPAN[1..]), "span id"),
            (format!("{TRACE}-{}", "0".repeat(16)), "span id"),
            (format!("{TRACE}-00f067aa0ba902bZ"), "span id"),
            (format!("{TRACE}-é0f067aa0ba902b"), "span id"),
            (
                format!("{TRACE}-{SPAN}-1-00f067aa0ba902é"),
                "parent span id",
            ),
        ];
        for (header, what) in cases {
            let err = single(header).unwrap_err();
            assert_eq!(about(&err), *what, "{header:?}: {err}");
        }
    }

    #[test]
    fn the_multi_headers_read_sampled_and_debug() {
        let read = |sampled, flags| {
            multi(Some(TRACE), Some(SPAN), sampled, flags)
                .unwrap()
                .trace_flags
                .is_sampled()
        };
        assert!(!read(None, None), "deferred reads as not sampled");
        assert!(read(Some("1"), None));
        assert!(!read(Some("0"), None));
        assert!(read(Some("true"), None), "legacy");
        assert!(!read(Some("false"), None), "legacy");
        assert!(read(None, Some("1")), "debug implies sampled");
        assert!(read(Some("0"), Some("1")), "debug wins over a deny");
        assert!(!read(Some("0"), Some("0")));
        assert!(!read(None, Some("yes")), "only 1 is debug");
        let context = multi(Some(TRACE), Some(SPAN), Some("1"), None).unwrap();
        assert!(context.is_remote && context.trace_state.is_empty());
    }

    #[test]
    fn malformed_multi_headers_are_errors_never_panics() {
        assert_eq!(
            multi(None, Some(SPAN), Some("1"), None),
            Err(B3Error::Missing {
                header: "X-B3-TraceId"
            })
        );
        assert_eq!(
            multi(Some(TRACE), None, Some("1"), None),
            Err(B3Error::Missing {
                header: "X-B3-SpanId"
            })
        );
        let zeros = "0".repeat(32);
        for (trace_id, span_id, sampled, what) in [
            (&zeros[..], SPAN, "1", "trace id"),
            (TRACE, &zeros[..16], "1", "span id"),
            (&TRACE[..20], SPAN, "1", "trace id"),
            (TRACE, &SPAN[..15], "1", "span id"),
            (TRACE, SPAN, "yes", "sampling"),
            (TRACE, SPAN, "", "sampling"),
        ] {
            let err = multi(Some(trace_id), Some(span_id), Some(sampled), None).unwrap_err();
            assert_eq!(about(&err), what, "{err}");
        }
    }

    #[test]
    fn written_headers_round_trip_as_sampled_or_not() {
        for flags in [TraceFlags::SAMPLED, TraceFlags::NONE, TraceFlags::new(0x03)] {
            let context = SpanContext::new(TraceId::random(), SpanId::random(), flags);
            let header = context.b3();
            assert_eq!(header.len(), B3_SINGLE_LEN);
            let back = single(&header).unwrap();
            assert_eq!(back.trace_id, context.trace_id);
            assert_eq!(back.span_id, context.span_id);
            assert_eq!(back.trace_flags.is_sampled(), flags.is_sampled());
            let mut trace_id = [0u8; 32];
            let mut span_id = [0u8; 16];
            let back = multi(
                Some(context.trace_id.encode_hex(&mut trace_id)),
                Some(context.span_id.encode_hex(&mut span_id)),
                Some(context.b3_sampled()),
                None,
            )
            .unwrap();
            assert_eq!(
                (back.trace_id, back.span_id, back.trace_flags.is_sampled()),
                (context.trace_id, context.span_id, flags.is_sampled())
            );
        }
    }

    #[test]
    fn long_rejected_values_are_cut_in_errors() {
        let long = "x".repeat(10_000);
        let err = single(&format!("{TRACE}-{SPAN}-{long}")).unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
    }
}
