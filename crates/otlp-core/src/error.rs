//! The typed errors of this crate: parsing ids and W3C headers, and decoding wire bytes.

use thiserror::Error;

/// The most characters of rejected outside text (a B3 id, a `tracestate`
/// key or value) an error shows: enough for any id B3 defines (32) with room
/// to see what went wrong. Past it the text is cut and ends with `…`, so a
/// hostile header of a megabyte makes an error of a few hundred bytes.
pub(crate) const SHOWN_MAX: usize = 64;

/// `text` for an error: whole up to [`SHOWN_MAX`] characters, else its first
/// [`SHOWN_MAX`] and `…` (at most 4 × 64 + 3 bytes, whatever `text` is).
pub(crate) fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN_MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// A hex identifier ([`TraceId`](crate::TraceId), [`SpanId`](crate::SpanId)) could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdError {
    /// The text has the wrong number of hex digits.
    #[error("{what} must be {expected} hex digits, found {found} characters")]
    Length {
        /// Which identifier.
        what: &'static str,
        /// Required number of hex digits.
        expected: usize,
        /// Number of characters given.
        found: usize,
    },
    /// A character is not a (lowercase, when required) hex digit.
    #[error("{what} has a character that is not a {}hex digit at position {position}", if *.lowercase_only { "lowercase " } else { "" })]
    Digit {
        /// Which identifier.
        what: &'static str,
        /// Zero-based character position.
        position: usize,
        /// Whether only lowercase digits were allowed.
        lowercase_only: bool,
    },
}

/// A W3C `traceparent` header was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TraceParentError {
    /// The header contains non-ASCII characters.
    #[error("traceparent must be ASCII")]
    NotAscii,
    /// Version 00 is exactly 55 characters; later versions at least 55.
    #[error(
        "traceparent must be 55 characters (version 00) or at least 55 (a later version), found {found}"
    )]
    Length {
        /// Length of the header given, without the optional whitespace around it.
        found: usize,
    },
    /// Version `ff` is forbidden by the specification.
    #[error("traceparent version ff is forbidden")]
    ForbiddenVersion,
    /// A `-` is missing where the format requires one.
    #[error("traceparent needs '-' at position {position}")]
    Delimiter {
        /// Zero-based byte position, in the header without the optional
        /// whitespace around it.
        position: usize,
    },
    /// The version or flags field is not two lowercase hex digits.
    #[error("traceparent {field} {value:?} is not two lowercase hex digits")]
    Field {
        /// `version` or `trace flags`.
        field: &'static str,
        /// The text found.
        value: String,
    },
    /// The trace id or span id is malformed.
    #[error("traceparent: {0}")]
    Id(#[from] IdError),
    /// The trace id is all zeros.
    #[error("traceparent trace id is all zeros")]
    ZeroTraceId,
    /// The parent span id is all zeros.
    #[error("traceparent parent id is all zeros")]
    ZeroSpanId,
}

/// A W3C `tracestate` header or entry was rejected.
///
/// Rejected members, keys and values are shown cut to 64 characters (and
/// `…`), so that an error's size is bounded whatever the header's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TraceStateError {
    /// A list member has no `=`.
    #[error("tracestate member {member:?} has no '='")]
    MissingEquals {
        /// The offending member, cut to 64 characters and `…`.
        member: String,
    },
    /// A key breaks the W3C key grammar.
    #[error(
        "tracestate key {key:?} is invalid (1-256 characters, a lowercase letter or digit first; a-z 0-9 _ - * / @ only)"
    )]
    InvalidKey {
        /// The offending key, cut to 64 characters and `…`.
        key: String,
    },
    /// A value breaks the W3C value grammar.
    #[error(
        "tracestate value {value:?} for key {key:?} is invalid (1-256 printable ASCII characters except ',' and '=', not ending in a space)"
    )]
    InvalidValue {
        /// The key the value belongs to (a valid key: at most 256 characters).
        key: String,
        /// The offending value, cut to 64 characters and `…`.
        value: String,
    },
    /// The same key appears twice. [`TraceState::parse`](crate::TraceState::parse)
    /// no longer returns it (it keeps a duplicated key's first member, as W3C
    /// allows); kept so that code matching it still builds.
    #[error("tracestate key {key:?} appears more than once")]
    DuplicateKey {
        /// The duplicated key.
        key: String,
    },
    /// More list members than the specification allows.
    #[error("tracestate has more than {max} members")]
    TooManyMembers {
        /// The limit.
        max: usize,
    },
}

/// Bytes received from outside could not be decoded as the expected protobuf message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends in the middle of a field.
    #[error("truncated protobuf input at byte {offset}")]
    Truncated {
        /// Byte offset where more input was needed.
        offset: usize,
    },
    /// A varint runs past 10 bytes.
    #[error("malformed varint at byte {offset}")]
    Varint {
        /// Byte offset of the varint.
        offset: usize,
    },
    /// A wire type the protocol does not define (6 or 7).
    #[error("unsupported wire type {wire_type} at byte {offset}")]
    WireType {
        /// The wire type found.
        wire_type: u8,
        /// Byte offset of the tag.
        offset: usize,
    },
    /// A group's end tag that closes no group open at that point: outside
    /// any group, or for another field than the group's.
    #[error("end-group tag of field {field} closes no open group, at byte {offset}")]
    EndGroup {
        /// The field number of the end tag.
        field: u32,
        /// Byte offset of the tag.
        offset: usize,
    },
    /// Field number 0 or a tag out of range.
    #[error("invalid field number {field} at byte {offset}")]
    FieldNumber {
        /// The field number found.
        field: u64,
        /// Byte offset of the tag.
        offset: usize,
    },
    /// A known field carries the wrong wire type.
    #[error(
        "field {field} of {message} has wire type {wire_type}, expected {expected}, at byte {offset}"
    )]
    UnexpectedWireType {
        /// Message name.
        message: &'static str,
        /// Field number.
        field: u32,
        /// Wire type found.
        wire_type: u8,
        /// Wire type required.
        expected: u8,
        /// Byte offset of the field's tag.
        offset: usize,
    },
    /// A string field is not UTF-8.
    #[error("field {field} of {message} is not valid UTF-8")]
    Utf8 {
        /// Message name.
        message: &'static str,
        /// Field number.
        field: u32,
    },
    /// Messages, or groups inside one another, nested deeper than the
    /// decoder allows.
    #[error("messages or groups nested deeper than {limit} levels, at byte {offset}")]
    TooDeep {
        /// The nesting limit.
        limit: usize,
        /// Byte offset of the tag that went one level too deep.
        offset: usize,
    },
}

/// A B3 header (single `b3`, or the multi `X-B3-*` headers) was rejected.
///
/// Rejected values are shown cut to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum B3Error {
    /// The single header is not `{TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]`.
    #[error(
        "b3 header has {found} fields separated by '-', expected 2 to 4: trace id, span id, sampling state, parent span id"
    )]
    Fields {
        /// Number of fields found.
        found: usize,
    },
    /// The header carries a sampling decision (`0`, `1` or `d`) and no ids:
    /// no trace to continue.
    #[error("b3 header {value:?} carries a sampling decision only, no trace id and span id")]
    SamplingOnly {
        /// The header.
        value: String,
    },
    /// An id is not the lowercase hex digits B3 requires.
    #[error("b3 {field} {value:?} is not {digits} lowercase hex digits")]
    Id {
        /// `trace id`, `span id` or `parent span id`.
        field: &'static str,
        /// The text found.
        value: String,
        /// How many digits are allowed (`32 or 16`, `16`).
        digits: &'static str,
    },
    /// An id is all zeros.
    #[error("b3 {field} is all zeros")]
    ZeroId {
        /// `trace id`, `span id` or `parent span id`.
        field: &'static str,
    },
    /// The sampling state is not one B3 defines.
    #[error("b3 sampling state {value:?} is not one of {expected}")]
    SamplingState {
        /// The text found.
        value: String,
        /// The values allowed where it was found.
        expected: &'static str,
    },
    /// A required multi header is absent.
    #[error("{header} is missing")]
    Missing {
        /// `X-B3-TraceId` or `X-B3-SpanId`.
        header: &'static str,
    },
}
