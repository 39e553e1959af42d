//! [`SpanContext`] and [`TraceFlags`]: what crosses process boundaries, and the W3C `traceparent` header.

use std::fmt;

use crate::error::TraceParentError;
use crate::id::encode_hex_into;
use crate::{SpanId, TraceId, TraceState};

/// The W3C trace flags byte, and B3's debug flag beside it.
///
/// Only the `sampled` bit (0x01) and, in W3C Trace Context level 2, the
/// `random` bit (0x02) are defined; [`bits`](Self::bits) is the byte a
/// `traceparent` header and OTLP's `flags` fields carry. B3's debug flag
/// ([`B3_DEBUG`](Self::B3_DEBUG): `b3: …-d`, `X-B3-Flags: 1`) lives outside
/// that byte: the specification asks B3 propagators to keep a debug flag
/// received and to pass it on, so a context carries it to the spans started
/// under it and their B3 headers, but no W3C header and no OTLP field can
/// say it, and it is never written there.
///
/// Plain data: `Copy`, two bytes.
///
/// ```
/// use otlp_core::TraceFlags;
///
/// assert!(TraceFlags::SAMPLED.is_sampled());
/// assert_eq!(TraceFlags::default().with_sampled(true), TraceFlags::SAMPLED);
/// let random = TraceFlags::SAMPLED.with_random(true);
/// assert!(random.is_random() && random.bits() == 0x03);
/// let debug = TraceFlags::SAMPLED.with_b3_debug(true);
/// assert!(debug.is_b3_debug() && debug.bits() == 0x01);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TraceFlags(u16);

impl TraceFlags {
    /// No flag set.
    pub const NONE: TraceFlags = TraceFlags(0);
    /// The `sampled` flag.
    pub const SAMPLED: TraceFlags = TraceFlags(0x01);
    /// The `random` flag (W3C Trace Context level 2): at least the 7
    /// rightmost bytes of the trace id were generated at random, so that
    /// samplers may decide by them. Set on the roots `otlp-sdk`'s tracer
    /// starts (it makes every trace id at random); a span continuing a
    /// trace keeps its parent's, set or not.
    pub const RANDOM: TraceFlags = TraceFlags(0x02);
    /// The flags W3C Trace Context defines (level 2: `sampled` 0x01 and
    /// `random` 0x02); a written `traceparent` carries no others, as
    /// "Vendors MUST set those to zero".
    pub const DEFINED: TraceFlags = TraceFlags(0x03);
    /// B3's debug flag, received as `b3: {trace}-{span}-d` or
    /// `X-B3-Flags: 1` and written back only in B3 headers; outside the W3C
    /// byte ([`bits`](Self::bits) never shows it).
    pub const B3_DEBUG: TraceFlags = TraceFlags(0x100);

    /// Wraps a raw W3C flags byte (unknown bits are kept; no B3 debug flag).
    pub const fn new(bits: u8) -> Self {
        TraceFlags(bits as u16)
    }

    /// The W3C flags byte (without the B3 debug flag).
    pub const fn bits(self) -> u8 {
        (self.0 & 0xff) as u8
    }

    /// These flags with only those W3C defines kept ([`DEFINED`](Self::DEFINED):
    /// sampled and random): reserved bits and B3's debug flag dropped, what a
    /// child, a link, a log record or a written `traceparent` carries.
    ///
    /// ```
    /// use otlp_core::TraceFlags;
    ///
    /// assert_eq!(TraceFlags::new(0xff).defined().bits(), 0x03);
    /// ```
    pub const fn defined(self) -> Self {
        TraceFlags(self.0 & Self::DEFINED.0)
    }

    /// Whether the `sampled` bit is set.
    pub const fn is_sampled(self) -> bool {
        self.0 & 0x01 != 0
    }

    /// These flags with the `sampled` bit set or cleared.
    pub const fn with_sampled(self, sampled: bool) -> Self {
        if sampled {
            TraceFlags(self.0 | 0x01)
        } else {
            TraceFlags(self.0 & !0x01)
        }
    }

    /// Whether the `random` bit is set ([`RANDOM`](Self::RANDOM)).
    pub const fn is_random(self) -> bool {
        self.0 & Self::RANDOM.0 != 0
    }

    /// These flags with the `random` bit set or cleared.
    pub const fn with_random(self, random: bool) -> Self {
        if random {
            TraceFlags(self.0 | Self::RANDOM.0)
        } else {
            TraceFlags(self.0 & !Self::RANDOM.0)
        }
    }

    /// Whether B3's debug flag is set ([`B3_DEBUG`](Self::B3_DEBUG)).
    pub const fn is_b3_debug(self) -> bool {
        self.0 & Self::B3_DEBUG.0 != 0
    }

    /// These flags with B3's debug flag set or cleared.
    pub const fn with_b3_debug(self, debug: bool) -> Self {
        if debug {
            TraceFlags(self.0 | Self::B3_DEBUG.0)
        } else {
            TraceFlags(self.0 & !Self::B3_DEBUG.0)
        }
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_b3_debug() {
            write!(f, "TraceFlags({:02x}, b3 debug)", self.bits())
        } else {
            write!(f, "TraceFlags({:02x})", self.bits())
        }
    }
}

/// The part of a span that travels to other processes: ids, flags and trace state.
///
/// `is_remote` says whether the context was received from another process
/// (parsed from a header) rather than created here.
///
/// ```
/// use otlp_core::SpanContext;
///
/// let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// let context = SpanContext::from_traceparent(header)?;
/// assert!(context.is_remote && context.trace_flags.is_sampled());
/// assert_eq!(context.traceparent(), header);
/// # Ok::<(), otlp_core::TraceParentError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SpanContext {
    /// The trace this span belongs to.
    pub trace_id: TraceId,
    /// The span itself.
    pub span_id: SpanId,
    /// W3C trace flags.
    pub trace_flags: TraceFlags,
    /// Whether this context came from another process.
    pub is_remote: bool,
    /// Vendor-specific trace state.
    pub trace_state: TraceState,
}

/// Length of a version-00 `traceparent` header.
const TRACEPARENT_LEN: usize = 55;

impl SpanContext {
    /// A local context with empty trace state.
    pub fn new(trace_id: TraceId, span_id: SpanId, trace_flags: TraceFlags) -> Self {
        SpanContext {
            trace_id,
            span_id,
            trace_flags,
            is_remote: false,
            trace_state: TraceState::EMPTY,
        }
    }

    /// Whether both ids are valid (non-zero).
    pub fn is_valid(&self) -> bool {
        self.trace_id.is_valid() && self.span_id.is_valid()
    }

    /// Parses a W3C `traceparent` header strictly; the result is marked remote.
    ///
    /// Optional whitespace (spaces and tabs, HTTP's `OWS`) around the value
    /// is ignored; lengths and positions in errors are those of the value
    /// without it. The value itself is strict: version `00` must be exactly
    /// `00-<32 hex>-<16 hex>-<2 hex>` in lowercase, and its flags byte is
    /// kept whole (bits W3C reserves are kept on the context, never written).
    /// Higher versions are parsed by their version-00 prefix, as the
    /// specification asks, provided what follows starts with `-`; of their
    /// flags those level 2 defines are taken, `sampled` and `random`
    /// ([`TraceFlags::DEFINED`]), and the others dropped: W3C has a receiver
    /// of a higher version "only parse the trace-flags values supported by
    /// this version of this specification", and wants a `random` flag
    /// received kept on the headers of its trace. Version `ff`, uppercase
    /// hex, all-zero ids and wrong lengths are errors.
    ///
    /// ```
    /// use otlp_core::SpanContext;
    ///
    /// let header = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0b-future";
    /// let context = SpanContext::from_traceparent(header)?;
    /// assert!(context.trace_flags.is_sampled() && context.trace_flags.is_random());
    /// assert_eq!(context.trace_flags.bits(), 0x03); // reserved 0x08 dropped
    /// # Ok::<(), otlp_core::TraceParentError>(())
    /// ```
    pub fn from_traceparent(header: &str) -> Result<Self, TraceParentError> {
        // HTTP lets a field value be surrounded by spaces and tabs (RFC 9110
        // §5.5, `OWS`), and a header map built by hand or by a proxy may keep
        // them; W3C's test suite (`test_traceparent_ows_handling`) expects
        // such a parent to be continued, and opentelemetry-rust trims it.
        // Nothing else is trimmed: other whitespace is not `OWS`.
        let header = header.trim_matches(|c| c == ' ' || c == '\t');
        let bytes = header.as_bytes();
        if !header.is_ascii() {
            return Err(TraceParentError::NotAscii);
        }
        if bytes.len() < TRACEPARENT_LEN {
            return Err(TraceParentError::Length { found: bytes.len() });
        }
        let version = decode_field(&header[0..2], "version")?;
        if version == 0xff {
            return Err(TraceParentError::ForbiddenVersion);
        }
        if version == 0 && bytes.len() != TRACEPARENT_LEN {
            return Err(TraceParentError::Length { found: bytes.len() });
        }
        if version > 0 && bytes.len() > TRACEPARENT_LEN && bytes[TRACEPARENT_LEN] != b'-' {
            return Err(TraceParentError::Delimiter {
                position: TRACEPARENT_LEN,
            });
        }
        for position in [2, 35, 52] {
            if bytes[position] != b'-' {
                return Err(TraceParentError::Delimiter { position });
            }
        }
        let trace_id = TraceId::from_lower_hex(&header[3..35])?;
        let span_id = SpanId::from_lower_hex(&header[36..52])?;
        let flags = decode_field(&header[53..55], "trace flags")?;
        // Of a higher version, the flags this level (2) defines: its
        // processing model ("A traceparent is received") says "The vendor
        // will only parse the trace-flags values supported by this version
        // of this specification and ignore all other values" and "Vendors
        // will set all unparsed / unknown trace-flags to 0 on outgoing
        // requests"; the random trace id flag, set in the incoming
        // `traceparent`, "MUST also be set in all outgoing traceparent
        // headers which use the same trace-id"; and later versions are
        // assumed "additive" to 00, so 0x02 still means random there. The
        // versioning section's "Parse the `sampled` bit of `flags`" dates
        // from when `sampled` was the only flag (2018, before level 2's
        // random flag), and keeping it alone would drop a random flag the
        // MUST above keeps.
        let flags = if version == 0 {
            flags
        } else {
            flags & TraceFlags::DEFINED.bits()
        };
        if !trace_id.is_valid() {
            return Err(TraceParentError::ZeroTraceId);
        }
        if !span_id.is_valid() {
            return Err(TraceParentError::ZeroSpanId);
        }
        Ok(SpanContext {
            trace_id,
            span_id,
            trace_flags: TraceFlags::new(flags),
            is_remote: true,
            trace_state: TraceState::EMPTY,
        })
    }

    /// Parses `traceparent` and, if given, `tracestate`.
    ///
    /// A malformed `tracestate` does not invalidate the parent: as the W3C
    /// specification requires, it is discarded and the trace continues with an
    /// empty state. Use [`TraceState::parse`] directly to see that error.
    pub fn from_headers(
        traceparent: &str,
        tracestate: Option<&str>,
    ) -> Result<Self, TraceParentError> {
        let mut context = SpanContext::from_traceparent(traceparent)?;
        if let Some(header) = tracestate {
            context.trace_state = TraceState::parse(header).unwrap_or_default();
        }
        Ok(context)
    }

    /// Writes the version-00 `traceparent` header into `out` and returns it. Does not allocate.
    ///
    /// Only the defined trace flags ([`TraceFlags::DEFINED`]) are written:
    /// unknown bits a remote parent sent are kept on its context but not
    /// passed on, as W3C requires of every vendor.
    pub fn write_traceparent<'a>(&self, out: &'a mut [u8; TRACEPARENT_LEN]) -> &'a str {
        out[0] = b'0';
        out[1] = b'0';
        out[2] = b'-';
        encode_hex_into(self.trace_id.as_bytes(), &mut out[3..35]);
        out[35] = b'-';
        encode_hex_into(self.span_id.as_bytes(), &mut out[36..52]);
        out[52] = b'-';
        encode_hex_into(&[self.trace_flags.defined().bits()], &mut out[53..55]);
        match std::str::from_utf8(out) {
            Ok(text) => text,
            Err(_) => unreachable!("traceparent is ASCII"),
        }
    }

    /// The version-00 `traceparent` header (see [`write_traceparent`](Self::write_traceparent)).
    pub fn traceparent(&self) -> String {
        let mut out = [0u8; TRACEPARENT_LEN];
        self.write_traceparent(&mut out).to_owned()
    }
}

fn decode_field(hex: &str, field: &'static str) -> Result<u8, TraceParentError> {
    let bytes = hex.as_bytes();
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    match (digit(bytes[0]), digit(bytes[1])) {
        (Some(high), Some(low)) => Ok((high << 4) | low),
        _ => Err(TraceParentError::Field {
            field,
            value: hex.to_owned(),
        }),
    }
}
