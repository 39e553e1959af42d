//! Transcoding an encoded protobuf request into OTLP/JSON, without decoding it
//! into structs.
//!
//! Records are encoded once, as protobuf; only an exporter configured for
//! `http/json` pays for JSON, by transcoding the protobuf request it was about
//! to send. [`trace_request_to_json`] writes exactly the bytes that
//! [`TraceEncoder::encode_json`](super::TraceEncoder::encode_json) writes for
//! the spans that [`TraceEncoder::encode_protobuf`](super::TraceEncoder::encode_protobuf)
//! encoded: same keys, same key order, same escapes and number formats (the
//! same helpers write them). [`logs_request_to_json`] does the same for log
//! records and [`LogEncoder`](super::LogEncoder), [`metrics_request_to_json`]
//! for metrics and [`MetricEncoder`](super::MetricEncoder); the signals share
//! the walker and every schema but the record's and its groups'.
//!
//! # Cost model
//!
//! - **Allocates nothing** but the growth of the output `Vec`: no intermediate
//!   structs, no scratch. Each message being written holds a table of
//!   `MAX_FIELDS` slots on the stack (32 bytes each).
//! - **One pass over the payload bytes**: strings are validated as UTF-8 and
//!   escaped straight into the output; ids are hex-encoded, bytes
//!   base64-encoded, numbers formatted, each once.
//! - **Tags are read twice**: every message is first scanned tag by tag (a
//!   length-delimited field is skipped in O(1)) to find where its fields are,
//!   because JSON wants them in a fixed key order (`Span.flags`, field 16,
//!   comes fifth) and a repeated field as one array. The scan remembers the
//!   last occurrence of each singular field and the byte range holding each
//!   repeated field; writing then walks only that range. Messages written by
//!   our encoder (or any encoder writing repeated fields together) are thus
//!   read at most twice at the tag level and once at the byte level (a run
//!   of packed numbers, such as `bucketCounts`, is scanned once more, for
//!   tags only, to omit it when all its runs are empty).
//! - Recursion is bounded by 100 nested messages (`MAX_DEPTH`, as in `prost`),
//!   so hostile nesting (`AnyValue` arrays in arrays) is an error, not a stack
//!   overflow. As in `prost`, groups in unknown fields count against the
//!   same limit as the messages around them, and no unknown field is
//!   skipped in a message 100 deep.
//!
//! # Rules
//!
//! Proto3 semantics, as `prost` reads them: unknown fields are skipped; of a
//! singular field given more than once the last wins; of a `oneof` the last
//! member given wins; integers are truncated to their declared width; a
//! repeated number field may come packed (one length-delimited run of
//! values), unpacked (one field per value) or both, and is one JSON array. A known
//! field with the wrong wire type, a string that is not UTF-8, an id that is
//! neither empty nor of its length (16 bytes for trace ids, 8 for span ids)
//! and a singular message given twice (which protobuf would merge: no OTLP
//! encoder splits a message, and merging would take another scan) are a
//! [`TranscodeError`]. Whatever both accept, this reads as `prost` does.
//!
//! # Adding a signal
//!
//! Each message type is a `Schema`: its fields in JSON key order, each with
//! its number, JSON key, `Kind` and `Rule`. A signal adds its schemas and a
//! `*_request_to_json` function calling `transcode`, as logs and metrics do;
//! the walker stays.

use super::json::{Object, put_base64, put_display, put_double, put_string};
use crate::error::DecodeError;
use crate::id::encode_hex_into;
use crate::wire::{WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT, WireReader, WireValue};

/// Deepest nesting of messages read: `prost`'s recursion limit, so both refuse
/// the same inputs. Beyond it, [`TranscodeError::TooDeep`].
const MAX_DEPTH: usize = 100;

/// Most fields one schema may list: `Span` has 16, the most of any OTLP message
/// (`ExponentialHistogramDataPoint` has 14). A schema listing more fails to compile.
const MAX_FIELDS: usize = 16;

/// Why a protobuf request could not be transcoded; every variant says where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TranscodeError {
    /// The bytes are not protobuf (truncated, a bad varint or tag).
    #[error("malformed protobuf: {0}")]
    Wire(#[from] DecodeError),
    /// A known field carries a wire type its declaration does not allow.
    #[error("{message}.{field} has wire type {wire_type}, expected {expected}, at byte {offset}")]
    WireType {
        /// The message holding the field (`Span`).
        message: &'static str,
        /// The field's OTLP/JSON name (`startTimeUnixNano`).
        field: &'static str,
        /// The wire type found.
        wire_type: u8,
        /// The wire type the field is declared with.
        expected: u8,
        /// Byte offset of the field's tag in the input.
        offset: usize,
    },
    /// A string field is not UTF-8.
    #[error("{message}.{field} is not UTF-8, at byte {offset}")]
    Utf8 {
        /// The message holding the field.
        message: &'static str,
        /// The field's OTLP/JSON name.
        field: &'static str,
        /// Byte offset of the string in the input.
        offset: usize,
    },
    /// A trace or span id is neither empty nor of its fixed length.
    #[error("{message}.{field} is {len} bytes, expected {expected}, at byte {offset}")]
    IdLength {
        /// The message holding the id.
        message: &'static str,
        /// The field's OTLP/JSON name (`traceId`).
        field: &'static str,
        /// Length found.
        len: usize,
        /// Length required (16 or 8).
        expected: usize,
        /// Byte offset of the id in the input.
        offset: usize,
    },
    /// A singular message field is given twice: protobuf would merge the two,
    /// which no OTLP encoder asks for; refused rather than read differently.
    #[error("{message}.{field} is given twice, at byte {offset}")]
    Duplicate {
        /// The message holding the field (`Span`).
        message: &'static str,
        /// The field's OTLP/JSON name (`status`).
        field: &'static str,
        /// Byte offset of the second occurrence's tag.
        offset: usize,
    },
    /// Messages are nested deeper than 100 levels (`prost`'s limit too), or
    /// an unknown field lies where `prost` would not skip it: in a message
    /// 100 deep.
    #[error("messages nested deeper than {limit} levels, at byte {offset}")]
    TooDeep {
        /// The nesting limit, 100.
        limit: usize,
        /// Byte offset of the message too deep (of the unknown field).
        offset: usize,
    },
}

/// Transcodes a protobuf `ExportTraceServiceRequest` into the OTLP/JSON
/// request [`TraceEncoder::encode_json`](super::TraceEncoder::encode_json)
/// writes for the same spans, appending to `out`; returns the bytes written.
/// On error `out` is left as it was.
///
/// Cost: no allocation but the growth of `out` (none once it has room), no
/// intermediate structs; payload bytes (strings, ids, numbers) are read once,
/// straight into the output; each message's tags are read at most twice (a
/// scan finds its fields, then they are written in JSON key order). Nesting
/// is bounded (100 messages, as in `prost`), so no input overflows the stack.
///
/// Reads as `prost` does (unknown fields skipped, the last of a repeated
/// singular field or `oneof` member wins), but refuses what `prost` would let
/// through into invalid OTLP/JSON or read otherwise: see [`TranscodeError`].
///
/// ```
/// use otlp_core::encode::{TraceEncoder, trace_request_to_json};
/// use otlp_core::{KeyValue, SpanData};
///
/// let spans = vec![SpanData::builder("checkout").attribute(KeyValue::new("items", 3)).build()];
/// let mut encoder = TraceEncoder::new();
/// let mut protobuf = Vec::new();
/// encoder.encode_protobuf(&spans, &mut protobuf);
///
/// let mut json = Vec::new();
/// let written = trace_request_to_json(&protobuf, &mut json)?;
/// assert_eq!(written, json.len());
///
/// let mut expected = Vec::new();
/// encoder.encode_json(&spans, &mut expected);
/// assert_eq!(json, expected);
///
/// // Hostile input is an error naming what and where, never a panic.
/// let truncated = &protobuf[..protobuf.len() - 1];
/// assert!(trace_request_to_json(truncated, &mut json).is_err());
/// assert_eq!(json, expected, "untouched on error");
/// # Ok::<(), otlp_core::encode::TranscodeError>(())
/// ```
pub fn trace_request_to_json(protobuf: &[u8], out: &mut Vec<u8>) -> Result<usize, TranscodeError> {
    transcode(&TRACE_REQUEST, protobuf, out)
}

/// Transcodes a protobuf `ExportLogsServiceRequest` into the OTLP/JSON
/// request [`LogEncoder::encode_json`](super::LogEncoder::encode_json) writes
/// for the same log records, appending to `out`; returns the bytes written.
/// On error `out` is left as it was. Cost and rules as
/// [`trace_request_to_json`]; `LogRecord.trace_id` must be empty or 16 bytes
/// and `LogRecord.span_id` empty or 8 bytes.
///
/// ```
/// use otlp_core::encode::{LogEncoder, logs_request_to_json};
/// use otlp_core::{KeyValue, LogRecord, Severity};
///
/// let logs = vec![
///     LogRecord::builder()
///         .severity(Severity::WARN)
///         .body("retrying")
///         .attribute(KeyValue::new("attempt", 2))
///         .build(),
/// ];
/// let mut encoder = LogEncoder::new();
/// let mut protobuf = Vec::new();
/// encoder.encode_protobuf(&logs, &mut protobuf);
///
/// let mut json = Vec::new();
/// logs_request_to_json(&protobuf, &mut json)?;
/// let mut expected = Vec::new();
/// encoder.encode_json(&logs, &mut expected);
/// assert_eq!(json, expected);
/// # Ok::<(), otlp_core::encode::TranscodeError>(())
/// ```
pub fn logs_request_to_json(protobuf: &[u8], out: &mut Vec<u8>) -> Result<usize, TranscodeError> {
    transcode(&LOGS_REQUEST, protobuf, out)
}

/// Transcodes a protobuf `ExportMetricsServiceRequest` into the OTLP/JSON
/// request [`MetricEncoder::encode_json`](super::MetricEncoder::encode_json)
/// writes for the same metrics, appending to `out`; returns the bytes
/// written. On error `out` is left as it was. Cost and rules as
/// [`trace_request_to_json`]; `Exemplar.trace_id` must be empty or 16 bytes
/// and `Exemplar.span_id` empty or 8 bytes; packed numbers
/// (`bucket_counts`, `explicit_bounds`) must hold whole values.
///
/// ```
/// use otlp_core::encode::{MetricEncoder, metrics_request_to_json};
/// use otlp_core::{Histogram, HistogramDataPoint, Metric, MetricData, Temporality};
///
/// let point = HistogramDataPoint {
///     count: 3,
///     sum: Some(7.5),
///     bucket_counts: vec![1, 2, 0],
///     explicit_bounds: vec![1.0, 5.0],
///     ..HistogramDataPoint::default()
/// };
/// let metrics = vec![Metric::new(
///     "http.server.request.duration",
///     MetricData::Histogram(Histogram {
///         data_points: vec![point],
///         temporality: Temporality::Cumulative,
///     }),
/// )];
/// let mut encoder = MetricEncoder::new();
/// let mut protobuf = Vec::new();
/// encoder.encode_protobuf(&metrics, &mut protobuf);
///
/// let mut json = Vec::new();
/// metrics_request_to_json(&protobuf, &mut json)?;
/// let mut expected = Vec::new();
/// encoder.encode_json(&metrics, &mut expected);
/// assert_eq!(json, expected);
/// # Ok::<(), otlp_core::encode::TranscodeError>(())
/// ```
pub fn metrics_request_to_json(
    protobuf: &[u8],
    out: &mut Vec<u8>,
) -> Result<usize, TranscodeError> {
    transcode(&METRICS_REQUEST, protobuf, out)
}

/// Transcodes one top-level message of `schema`; `out` is restored on error.
fn transcode(schema: &Schema, protobuf: &[u8], out: &mut Vec<u8>) -> Result<usize, TranscodeError> {
    let start = out.len();
    match write_message(schema, protobuf, 0, 0, out) {
        Ok(()) => Ok(out.len() - start),
        Err(error) => {
            out.truncate(start);
            Err(error)
        }
    }
}

// ---- schemas -------------------------------------------------------------

/// One message type: its fields in the order their JSON keys are written.
#[derive(Debug)]
struct Schema {
    /// The protobuf message name, for errors.
    name: &'static str,
    /// At most `MAX_FIELDS`.
    fields: &'static [Field],
}

/// One field of a [`Schema`].
#[derive(Debug)]
struct Field {
    number: u32,
    /// The OTLP/JSON key (lowerCamelCase).
    key: &'static str,
    kind: Kind,
    rule: Rule,
}

/// How a field is encoded on the wire and written in JSON.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `uint32` varint: a JSON number.
    Uint32,
    /// `int32` or enum varint: a JSON number (enums are integers in OTLP/JSON).
    Int32,
    /// `int64` varint: a decimal string.
    Int64,
    /// `uint64` varint: a decimal string.
    Uint64,
    /// `sint32` (zigzag) varint: a JSON number.
    Sint32,
    /// `fixed64`: a decimal string.
    Fixed64,
    /// `sfixed64`: a decimal string.
    Sfixed64,
    /// `fixed32`: a JSON number.
    Fixed32,
    /// `bool` varint.
    Bool,
    /// `double`: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    Double,
    /// `string`: a JSON string.
    Str,
    /// A trace or span id of this many bytes: lowercase hex.
    Id(usize),
    /// `bytes`: base64.
    Bytes,
    /// A nested message.
    Message(&'static Schema),
}

impl Kind {
    const fn wire_type(self) -> u8 {
        match self {
            Kind::Uint32 | Kind::Int32 | Kind::Int64 | Kind::Uint64 | Kind::Sint32 | Kind::Bool => {
                WIRE_VARINT
            }
            Kind::Fixed64 | Kind::Sfixed64 | Kind::Double => WIRE_FIXED64,
            Kind::Fixed32 => WIRE_FIXED32,
            Kind::Str | Kind::Id(_) | Kind::Bytes | Kind::Message(_) => WIRE_LEN,
        }
    }

    /// Whether a repeated field of this kind may come packed: numbers may,
    /// strings, bytes and messages may not.
    const fn is_packable(self) -> bool {
        !matches!(self.wire_type(), WIRE_LEN)
    }

    /// Whether `value` is the proto3 default, which JSON omits (a present
    /// message, even empty, is not a default).
    fn is_default(self, value: WireValue<'_>) -> bool {
        match (self, value) {
            (Kind::Message(_), _) => false,
            (Kind::Uint32 | Kind::Int32 | Kind::Sint32, WireValue::Varint(int)) => int as u32 == 0,
            (_, WireValue::Varint(int) | WireValue::Fixed64(int)) => int == 0,
            (_, WireValue::Fixed32(int)) => int == 0,
            (_, WireValue::Len(bytes)) => bytes.is_empty(),
            // No known field is a group: the scan refuses one first.
            (_, _) => false,
        }
    }
}

/// When a field's key is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Written unless absent or the default value (a message: when present).
    Singular,
    /// A proto3 `optional` scalar: written when present, default included.
    Optional,
    /// Always written, as the default when absent (`KeyValue.key`).
    Always,
    /// A member of the message's one `oneof`: written when it is the last
    /// member given, default value included.
    Oneof,
    /// Repeated: a JSON array, omitted when empty.
    Repeated,
    /// Repeated: a JSON array, written even when empty.
    RepeatedAlways,
}

const fn field(number: u32, key: &'static str, kind: Kind, rule: Rule) -> Field {
    Field {
        number,
        key,
        kind,
        rule,
    }
}

/// Fails to compile when a schema lists more than [`MAX_FIELDS`] fields.
const fn fits(fields: &'static [Field]) -> &'static [Field] {
    assert!(fields.len() <= MAX_FIELDS, "schema longer than MAX_FIELDS");
    fields
}

use Kind::{
    Bool, Bytes, Double, Fixed32, Fixed64, Id, Int32, Int64, Message, Sfixed64, Sint32, Str,
    Uint32, Uint64,
};
use Rule::{Always, Oneof, Optional, Repeated, RepeatedAlways, Singular};

// Key orders follow `json.rs`, which writes them.

static TRACE_REQUEST: Schema = Schema {
    name: "ExportTraceServiceRequest",
    fields: fits(&[field(
        1,
        "resourceSpans",
        Message(&RESOURCE_SPANS),
        RepeatedAlways,
    )]),
};

static RESOURCE_SPANS: Schema = Schema {
    name: "ResourceSpans",
    fields: fits(&[
        field(1, "resource", Message(&RESOURCE), Singular),
        field(2, "scopeSpans", Message(&SCOPE_SPANS), RepeatedAlways),
        field(3, "schemaUrl", Str, Singular),
    ]),
};

static SCOPE_SPANS: Schema = Schema {
    name: "ScopeSpans",
    fields: fits(&[
        field(1, "scope", Message(&SCOPE), Singular),
        field(2, "spans", Message(&SPAN), RepeatedAlways),
        field(3, "schemaUrl", Str, Singular),
    ]),
};

static SPAN: Schema = Schema {
    name: "Span",
    fields: fits(&[
        field(1, "traceId", Id(16), Singular),
        field(2, "spanId", Id(8), Singular),
        field(3, "traceState", Str, Singular),
        field(4, "parentSpanId", Id(8), Singular),
        field(16, "flags", Fixed32, Singular),
        field(5, "name", Str, Singular),
        field(6, "kind", Int32, Singular),
        field(7, "startTimeUnixNano", Fixed64, Singular),
        field(8, "endTimeUnixNano", Fixed64, Singular),
        field(9, "attributes", Message(&KEY_VALUE), Repeated),
        field(10, "droppedAttributesCount", Uint32, Singular),
        field(11, "events", Message(&EVENT), Repeated),
        field(12, "droppedEventsCount", Uint32, Singular),
        field(13, "links", Message(&LINK), Repeated),
        field(14, "droppedLinksCount", Uint32, Singular),
        field(15, "status", Message(&STATUS), Singular),
    ]),
};

static EVENT: Schema = Schema {
    name: "Span.Event",
    fields: fits(&[
        field(1, "timeUnixNano", Fixed64, Singular),
        field(2, "name", Str, Singular),
        field(3, "attributes", Message(&KEY_VALUE), Repeated),
        field(4, "droppedAttributesCount", Uint32, Singular),
    ]),
};

static LINK: Schema = Schema {
    name: "Span.Link",
    fields: fits(&[
        field(1, "traceId", Id(16), Singular),
        field(2, "spanId", Id(8), Singular),
        field(3, "traceState", Str, Singular),
        field(4, "attributes", Message(&KEY_VALUE), Repeated),
        field(5, "droppedAttributesCount", Uint32, Singular),
        field(6, "flags", Fixed32, Singular),
    ]),
};

static STATUS: Schema = Schema {
    name: "Status",
    fields: fits(&[
        field(2, "message", Str, Singular),
        field(3, "code", Int32, Singular),
    ]),
};

static LOGS_REQUEST: Schema = Schema {
    name: "ExportLogsServiceRequest",
    fields: fits(&[field(
        1,
        "resourceLogs",
        Message(&RESOURCE_LOGS),
        RepeatedAlways,
    )]),
};

static RESOURCE_LOGS: Schema = Schema {
    name: "ResourceLogs",
    fields: fits(&[
        field(1, "resource", Message(&RESOURCE), Singular),
        field(2, "scopeLogs", Message(&SCOPE_LOGS), RepeatedAlways),
        field(3, "schemaUrl", Str, Singular),
    ]),
};

static SCOPE_LOGS: Schema = Schema {
    name: "ScopeLogs",
    fields: fits(&[
        field(1, "scope", Message(&SCOPE), Singular),
        field(2, "logRecords", Message(&LOG_RECORD), RepeatedAlways),
        field(3, "schemaUrl", Str, Singular),
    ]),
};

static LOG_RECORD: Schema = Schema {
    name: "LogRecord",
    fields: fits(&[
        field(1, "timeUnixNano", Fixed64, Singular),
        field(11, "observedTimeUnixNano", Fixed64, Singular),
        field(2, "severityNumber", Int32, Singular),
        field(3, "severityText", Str, Singular),
        field(5, "body", Message(&ANY_VALUE), Singular),
        field(6, "attributes", Message(&KEY_VALUE), Repeated),
        field(7, "droppedAttributesCount", Uint32, Singular),
        field(8, "flags", Fixed32, Singular),
        field(9, "traceId", Id(16), Singular),
        field(10, "spanId", Id(8), Singular),
        field(12, "eventName", Str, Singular),
    ]),
};

static METRICS_REQUEST: Schema = Schema {
    name: "ExportMetricsServiceRequest",
    fields: fits(&[field(
        1,
        "resourceMetrics",
        Message(&RESOURCE_METRICS),
        RepeatedAlways,
    )]),
};

static RESOURCE_METRICS: Schema = Schema {
    name: "ResourceMetrics",
    fields: fits(&[
        field(1, "resource", Message(&RESOURCE), Singular),
        field(2, "scopeMetrics", Message(&SCOPE_METRICS), RepeatedAlways),
        field(3, "schemaUrl", Str, Singular),
    ]),
};

static SCOPE_METRICS: Schema = Schema {
    name: "ScopeMetrics",
    fields: fits(&[
        field(1, "scope", Message(&SCOPE), Singular),
        field(2, "metrics", Message(&METRIC), RepeatedAlways),
        field(3, "schemaUrl", Str, Singular),
    ]),
};

static METRIC: Schema = Schema {
    name: "Metric",
    fields: fits(&[
        field(1, "name", Str, Singular),
        field(2, "description", Str, Singular),
        field(3, "unit", Str, Singular),
        field(5, "gauge", Message(&GAUGE), Oneof),
        field(7, "sum", Message(&SUM), Oneof),
        field(9, "histogram", Message(&HISTOGRAM), Oneof),
        field(
            10,
            "exponentialHistogram",
            Message(&EXPONENTIAL_HISTOGRAM),
            Oneof,
        ),
        field(11, "summary", Message(&SUMMARY), Oneof),
        field(12, "metadata", Message(&KEY_VALUE), Repeated),
    ]),
};

static GAUGE: Schema = Schema {
    name: "Gauge",
    fields: fits(&[field(
        1,
        "dataPoints",
        Message(&NUMBER_DATA_POINT),
        Repeated,
    )]),
};

static SUM: Schema = Schema {
    name: "Sum",
    fields: fits(&[
        field(1, "dataPoints", Message(&NUMBER_DATA_POINT), Repeated),
        field(2, "aggregationTemporality", Int32, Singular),
        field(3, "isMonotonic", Bool, Singular),
    ]),
};

static HISTOGRAM: Schema = Schema {
    name: "Histogram",
    fields: fits(&[
        field(1, "dataPoints", Message(&HISTOGRAM_DATA_POINT), Repeated),
        field(2, "aggregationTemporality", Int32, Singular),
    ]),
};

static EXPONENTIAL_HISTOGRAM: Schema = Schema {
    name: "ExponentialHistogram",
    fields: fits(&[
        field(
            1,
            "dataPoints",
            Message(&EXPONENTIAL_HISTOGRAM_DATA_POINT),
            Repeated,
        ),
        field(2, "aggregationTemporality", Int32, Singular),
    ]),
};

static SUMMARY: Schema = Schema {
    name: "Summary",
    fields: fits(&[field(
        1,
        "dataPoints",
        Message(&SUMMARY_DATA_POINT),
        Repeated,
    )]),
};

static NUMBER_DATA_POINT: Schema = Schema {
    name: "NumberDataPoint",
    fields: fits(&[
        field(7, "attributes", Message(&KEY_VALUE), Repeated),
        field(2, "startTimeUnixNano", Fixed64, Singular),
        field(3, "timeUnixNano", Fixed64, Singular),
        field(4, "asDouble", Double, Oneof),
        field(6, "asInt", Sfixed64, Oneof),
        field(5, "exemplars", Message(&EXEMPLAR), Repeated),
        field(8, "flags", Uint32, Singular),
    ]),
};

static HISTOGRAM_DATA_POINT: Schema = Schema {
    name: "HistogramDataPoint",
    fields: fits(&[
        field(9, "attributes", Message(&KEY_VALUE), Repeated),
        field(2, "startTimeUnixNano", Fixed64, Singular),
        field(3, "timeUnixNano", Fixed64, Singular),
        field(4, "count", Fixed64, Singular),
        field(5, "sum", Double, Optional),
        field(6, "bucketCounts", Fixed64, Repeated),
        field(7, "explicitBounds", Double, Repeated),
        field(8, "exemplars", Message(&EXEMPLAR), Repeated),
        field(10, "flags", Uint32, Singular),
        field(11, "min", Double, Optional),
        field(12, "max", Double, Optional),
    ]),
};

static EXPONENTIAL_HISTOGRAM_DATA_POINT: Schema = Schema {
    name: "ExponentialHistogramDataPoint",
    fields: fits(&[
        field(1, "attributes", Message(&KEY_VALUE), Repeated),
        field(2, "startTimeUnixNano", Fixed64, Singular),
        field(3, "timeUnixNano", Fixed64, Singular),
        field(4, "count", Fixed64, Singular),
        field(5, "sum", Double, Optional),
        field(6, "scale", Sint32, Singular),
        field(7, "zeroCount", Fixed64, Singular),
        field(8, "positive", Message(&BUCKETS), Singular),
        field(9, "negative", Message(&BUCKETS), Singular),
        field(10, "flags", Uint32, Singular),
        field(11, "exemplars", Message(&EXEMPLAR), Repeated),
        field(12, "min", Double, Optional),
        field(13, "max", Double, Optional),
        field(14, "zeroThreshold", Double, Singular),
    ]),
};

static BUCKETS: Schema = Schema {
    name: "ExponentialHistogramDataPoint.Buckets",
    fields: fits(&[
        field(1, "offset", Sint32, Singular),
        field(2, "bucketCounts", Uint64, Repeated),
    ]),
};

static SUMMARY_DATA_POINT: Schema = Schema {
    name: "SummaryDataPoint",
    fields: fits(&[
        field(7, "attributes", Message(&KEY_VALUE), Repeated),
        field(2, "startTimeUnixNano", Fixed64, Singular),
        field(3, "timeUnixNano", Fixed64, Singular),
        field(4, "count", Fixed64, Singular),
        field(5, "sum", Double, Singular),
        field(6, "quantileValues", Message(&VALUE_AT_QUANTILE), Repeated),
        field(8, "flags", Uint32, Singular),
    ]),
};

static VALUE_AT_QUANTILE: Schema = Schema {
    name: "SummaryDataPoint.ValueAtQuantile",
    fields: fits(&[
        field(1, "quantile", Double, Singular),
        field(2, "value", Double, Singular),
    ]),
};

static EXEMPLAR: Schema = Schema {
    name: "Exemplar",
    fields: fits(&[
        field(7, "filteredAttributes", Message(&KEY_VALUE), Repeated),
        field(2, "timeUnixNano", Fixed64, Singular),
        field(3, "asDouble", Double, Oneof),
        field(6, "asInt", Sfixed64, Oneof),
        field(4, "spanId", Id(8), Singular),
        field(5, "traceId", Id(16), Singular),
    ]),
};

static RESOURCE: Schema = Schema {
    name: "Resource",
    fields: fits(&[
        field(1, "attributes", Message(&KEY_VALUE), Repeated),
        field(2, "droppedAttributesCount", Uint32, Singular),
        field(3, "entityRefs", Message(&ENTITY_REF), Repeated),
    ]),
};

/// `EntityRef` (common.proto, status Development): our encoders never write
/// one; a request another SDK sent may carry them (the otlp-receiver's JSONL
/// lines transcode what it received). Every member is written, as for
/// `KeyValue.key`: opentelemetry-proto's serde requires each.
static ENTITY_REF: Schema = Schema {
    name: "EntityRef",
    fields: fits(&[
        field(1, "schemaUrl", Str, Always),
        field(2, "type", Str, Always),
        field(3, "idKeys", Str, RepeatedAlways),
        field(4, "descriptionKeys", Str, RepeatedAlways),
    ]),
};

static SCOPE: Schema = Schema {
    name: "InstrumentationScope",
    fields: fits(&[
        field(1, "name", Str, Singular),
        field(2, "version", Str, Singular),
        field(3, "attributes", Message(&KEY_VALUE), Repeated),
        field(4, "droppedAttributesCount", Uint32, Singular),
    ]),
};

static KEY_VALUE: Schema = Schema {
    name: "KeyValue",
    fields: fits(&[
        field(1, "key", Str, Always),
        field(2, "value", Message(&ANY_VALUE), Singular),
    ]),
};

static ANY_VALUE: Schema = Schema {
    name: "AnyValue",
    fields: fits(&[
        field(1, "stringValue", Str, Oneof),
        field(2, "boolValue", Bool, Oneof),
        field(3, "intValue", Int64, Oneof),
        field(4, "doubleValue", Double, Oneof),
        field(5, "arrayValue", Message(&ARRAY_VALUE), Oneof),
        field(6, "kvlistValue", Message(&KEY_VALUE_LIST), Oneof),
        field(7, "bytesValue", Bytes, Oneof),
    ]),
};

static ARRAY_VALUE: Schema = Schema {
    name: "ArrayValue",
    fields: fits(&[field(1, "values", Message(&ANY_VALUE), RepeatedAlways)]),
};

static KEY_VALUE_LIST: Schema = Schema {
    name: "KeyValueList",
    fields: fits(&[field(1, "values", Message(&KEY_VALUE), RepeatedAlways)]),
};

// ---- the walker ----------------------------------------------------------

/// Where the scan found a field of the message being written.
#[derive(Debug, Clone, Copy)]
enum Slot<'a> {
    Absent,
    /// The last occurrence of a singular field, with the input offset of its
    /// payload (of its tag, for numbers).
    Value(WireValue<'a>, usize),
    /// Every occurrence of a repeated field lies in `start..end` of the
    /// message body (from the first one's tag to the last one's end).
    Run {
        start: usize,
        end: usize,
    },
}

/// Writes the message `body` (found `base` bytes into the input, `depth`
/// messages deep) as a JSON object.
fn write_message(
    schema: &Schema,
    body: &[u8],
    base: usize,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), TranscodeError> {
    if depth > MAX_DEPTH {
        return Err(TranscodeError::TooDeep {
            limit: MAX_DEPTH,
            offset: base,
        });
    }
    let mut slots = [Slot::Absent; MAX_FIELDS];
    let mut reader = WireReader::nested(body, base).at_depth(depth);
    loop {
        let tag_at = reader.offset();
        let Some((number, value)) = reader.next_field()? else {
            break;
        };
        let Some(index) = schema.fields.iter().position(|f| f.number == number) else {
            // Unknown: skipped, as proto3 requires, but not in a message as
            // deep as messages may be: `prost` refuses to skip a field there.
            if depth >= MAX_DEPTH {
                return Err(TranscodeError::TooDeep {
                    limit: MAX_DEPTH,
                    offset: tag_at,
                });
            }
            continue;
        };
        let field = &schema.fields[index];
        let expected = field.kind.wire_type();
        let repeated = matches!(field.rule, Rule::Repeated | Rule::RepeatedAlways);
        let packed = repeated && field.kind.is_packable() && value.wire_type() == WIRE_LEN;
        if value.wire_type() != expected && !packed {
            return Err(TranscodeError::WireType {
                message: schema.name,
                field: field.key,
                wire_type: value.wire_type(),
                expected,
                offset: tag_at,
            });
        }
        let offset = match value {
            WireValue::Len(payload) => reader.offset_of(payload),
            _ => tag_at,
        };
        let singular = matches!(field.rule, Rule::Singular | Rule::Oneof);
        if singular
            && matches!(field.kind, Kind::Message(_))
            && matches!(slots[index], Slot::Value(..))
        {
            return Err(TranscodeError::Duplicate {
                message: schema.name,
                field: field.key,
                offset: tag_at,
            });
        }
        match field.rule {
            Rule::Repeated | Rule::RepeatedAlways => {
                let end = reader.offset() - base;
                slots[index] = match slots[index] {
                    Slot::Run { start, .. } => Slot::Run { start, end },
                    _ => Slot::Run {
                        start: tag_at - base,
                        end,
                    },
                };
            }
            Rule::Oneof => {
                for (slot, other) in slots.iter_mut().zip(schema.fields) {
                    if other.rule == Rule::Oneof {
                        *slot = Slot::Absent;
                    }
                }
                slots[index] = Slot::Value(value, offset);
            }
            Rule::Singular | Rule::Optional | Rule::Always => {
                slots[index] = Slot::Value(value, offset);
            }
        }
    }

    let mut object = Object::open(out);
    for (field, &slot) in schema.fields.iter().zip(&slots) {
        match slot {
            Slot::Absent => match field.rule {
                Rule::RepeatedAlways => object.key(field.key).extend_from_slice(b"[]"),
                Rule::Always => {
                    let default = match field.kind.wire_type() {
                        WIRE_VARINT => WireValue::Varint(0),
                        WIRE_FIXED64 => WireValue::Fixed64(0),
                        WIRE_FIXED32 => WireValue::Fixed32(0),
                        _ => WireValue::Len(&[]),
                    };
                    let out = object.key(field.key);
                    write_value(schema, field, default, base, depth, out)?;
                }
                _ => {}
            },
            Slot::Value(value, offset) => {
                if field.rule == Rule::Singular && field.kind.is_default(value) {
                    continue;
                }
                write_value(schema, field, value, offset, depth, object.key(field.key))?;
            }
            Slot::Run { start, end } => {
                let run = &body[start..end];
                if field.rule == Rule::Repeated
                    && field.kind.is_packable()
                    && !has_values(field, run, base + start, depth)?
                {
                    continue; // only empty packed runs: an empty list, omitted
                }
                let out = object.key(field.key);
                out.push(b'[');
                let mut run = WireReader::nested(run, base + start).at_depth(depth);
                let mut first = true;
                while let Some((number, value)) = run.next_field()? {
                    if number != field.number {
                        continue;
                    }
                    if let (true, WireValue::Len(payload)) = (field.kind.is_packable(), value) {
                        let offset = run.offset_of(payload);
                        write_packed(schema, field, payload, offset, &mut first, out)?;
                        continue;
                    }
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    let offset = match value {
                        WireValue::Len(payload) => run.offset_of(payload),
                        _ => run.offset(),
                    };
                    write_value(schema, field, value, offset, depth, out)?;
                }
                out.push(b']');
            }
        }
    }
    object.close();
    Ok(())
}

/// Whether the run of a packable repeated `field` (in a message `depth`
/// deep) holds at least one value (an unpacked one, or a packed run that is
/// not empty).
fn has_values(
    field: &Field,
    run: &[u8],
    base: usize,
    depth: usize,
) -> Result<bool, TranscodeError> {
    let mut reader = WireReader::nested(run, base).at_depth(depth);
    while let Some((number, value)) = reader.next_field()? {
        if number == field.number && value != WireValue::Len(&[]) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes the values of a packed run of `field` (starting at input `offset`)
/// as array elements, each preceded by a comma unless it is the `first`. A
/// run that does not end with a whole value is an error, as in `prost`.
fn write_packed(
    schema: &Schema,
    field: &Field,
    payload: &[u8],
    offset: usize,
    first: &mut bool,
    out: &mut Vec<u8>,
) -> Result<(), TranscodeError> {
    let end = offset + payload.len();
    let mut varints = WireReader::nested(payload, offset);
    let mut rest = payload;
    loop {
        let at = end - rest.len();
        let value = match field.kind.wire_type() {
            _ if rest.is_empty() => break,
            WIRE_VARINT => {
                let value = WireValue::Varint(varints.read_varint()?);
                rest = &payload[varints.offset() - offset..];
                value
            }
            WIRE_FIXED64 => {
                let Some((word, tail)) = rest.split_first_chunk::<8>() else {
                    return Err(DecodeError::Truncated { offset: end }.into());
                };
                rest = tail;
                WireValue::Fixed64(u64::from_le_bytes(*word))
            }
            _ => {
                let Some((word, tail)) = rest.split_first_chunk::<4>() else {
                    return Err(DecodeError::Truncated { offset: end }.into());
                };
                rest = tail;
                WireValue::Fixed32(u32::from_le_bytes(*word))
            }
        };
        if !*first {
            out.push(b',');
        }
        *first = false;
        // Numbers nest nothing: the depth does not matter.
        write_value(schema, field, value, at, 0, out)?;
    }
    Ok(())
}

/// Writes one value of `field` (of a `schema` message `depth` deep), whose
/// payload starts at input `offset`. The wire type was checked by the scan.
fn write_value(
    schema: &Schema,
    field: &Field,
    value: WireValue<'_>,
    offset: usize,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), TranscodeError> {
    let (int, bytes): (u64, &[u8]) = match value {
        WireValue::Varint(int) | WireValue::Fixed64(int) => (int, &[]),
        WireValue::Fixed32(int) => (u64::from(int), &[]),
        WireValue::Len(bytes) => (0, bytes),
        // The scan refused a group in a known field (no schema has one).
        _ => {
            return Err(TranscodeError::WireType {
                message: schema.name,
                field: field.key,
                wire_type: value.wire_type(),
                expected: field.kind.wire_type(),
                offset,
            });
        }
    };
    match field.kind {
        // Truncation to the declared width, as protobuf decoders do.
        Kind::Uint32 | Kind::Fixed32 => put_display(out, int as u32),
        Kind::Int32 => put_display(out, int as i32),
        Kind::Sint32 => {
            let zigzag = int as u32;
            put_display(out, (zigzag >> 1) as i32 ^ -((zigzag & 1) as i32));
        }
        Kind::Int64 | Kind::Sfixed64 => {
            out.push(b'"');
            put_display(out, int as i64);
            out.push(b'"');
        }
        Kind::Fixed64 | Kind::Uint64 => {
            out.push(b'"');
            put_display(out, int);
            out.push(b'"');
        }
        Kind::Bool => out.extend_from_slice(if int != 0 { b"true" } else { b"false" }),
        Kind::Double => put_double(out, f64::from_bits(int)),
        Kind::Str => match std::str::from_utf8(bytes) {
            Ok(text) => put_string(out, text),
            Err(_) => {
                return Err(TranscodeError::Utf8 {
                    message: schema.name,
                    field: field.key,
                    offset,
                });
            }
        },
        Kind::Id(len) => {
            if !bytes.is_empty() && bytes.len() != len {
                return Err(TranscodeError::IdLength {
                    message: schema.name,
                    field: field.key,
                    len: bytes.len(),
                    expected: len,
                    offset,
                });
            }
            out.push(b'"');
            let start = out.len();
            out.resize(start + bytes.len() * 2, 0);
            encode_hex_into(bytes, &mut out[start..]);
            out.push(b'"');
        }
        Kind::Bytes => put_base64(out, bytes),
        Kind::Message(nested) => write_message(nested, bytes, offset, depth + 1, out)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(protobuf: &[u8]) -> Result<String, TranscodeError> {
        let mut out = b"prefix".to_vec();
        let written = trace_request_to_json(protobuf, &mut out)?;
        assert_eq!(written, out.len() - 6);
        Ok(String::from_utf8(out.split_off(6)).expect("JSON is UTF-8"))
    }

    /// A length-delimited field.
    fn len(field: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(field << 3) | 2, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn a_slot_takes_four_words() {
        assert!(std::mem::size_of::<Slot<'_>>() <= 32);
    }

    #[test]
    fn an_empty_request_has_an_empty_resource_spans_array() {
        assert_eq!(json(&[]).unwrap(), r#"{"resourceSpans":[]}"#);
    }

    #[test]
    fn unknown_fields_are_skipped_at_every_level() {
        // ResourceSpans { unknown 9: varint 1, scope_spans: { unknown 7: "x" } }
        let scope_spans = len(7, b"x");
        let mut resource_spans = vec![9 << 3, 1];
        resource_spans.extend(len(2, &scope_spans));
        let request = len(1, &resource_spans);
        assert_eq!(
            json(&request).unwrap(),
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[]}]}]}"#
        );
    }

    #[test]
    fn repeated_fields_apart_from_each_other_still_form_one_array() {
        // Two ScopeSpans with a schema URL between them.
        let mut resource_spans = len(2, &[]);
        resource_spans.extend(len(3, b"u"));
        resource_spans.extend(len(2, &len(3, b"v")));
        let request = len(1, &resource_spans);
        assert_eq!(
            json(&request).unwrap(),
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[]},{"spans":[],"schemaUrl":"v"}],"schemaUrl":"u"}]}"#
        );
    }

    #[test]
    fn the_last_oneof_member_wins() {
        // KeyValue { value: AnyValue { string "a", int 5 } } as a resource attribute.
        let mut any = len(1, b"a");
        any.extend([3 << 3, 5]);
        let mut key_value = len(1, b"k");
        key_value.extend(len(2, &any));
        let resource = len(1, &key_value);
        let request = len(1, &len(1, &resource));
        assert_eq!(
            json(&request).unwrap(),
            r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"intValue":"5"}}]},"scopeSpans":[]}]}"#
        );
    }

    #[test]
    fn errors_name_the_field_and_the_offset() {
        // ScopeSpans { schema_url: varint } at offset 4 of the input.
        let request = len(1, &len(2, &[3 << 3, 1]));
        assert_eq!(
            json(&request),
            Err(TranscodeError::WireType {
                message: "ScopeSpans",
                field: "schemaUrl",
                wire_type: WIRE_VARINT,
                expected: WIRE_LEN,
                offset: 4,
            })
        );
        let span = len(1, &[0xab; 3]);
        let request = len(1, &len(2, &len(2, &span)));
        assert_eq!(
            json(&request),
            Err(TranscodeError::IdLength {
                message: "Span",
                field: "traceId",
                len: 3,
                expected: 16,
                offset: 8,
            })
        );
        let request = len(1, &len(3, &[0xff]));
        assert_eq!(
            json(&request),
            Err(TranscodeError::Utf8 {
                message: "ResourceSpans",
                field: "schemaUrl",
                offset: 4,
            })
        );
    }

    #[test]
    fn a_singular_message_given_twice_is_refused_not_merged() {
        // ResourceSpans { resource {}, resource {} }
        let mut resource_spans = len(1, &[]);
        resource_spans.extend(len(1, &[]));
        assert_eq!(
            json(&len(1, &resource_spans)),
            Err(TranscodeError::Duplicate {
                message: "ResourceSpans",
                field: "resource",
                offset: 4,
            })
        );
        // AnyValue { array_value {}, string_value "", array_value {} }: another
        // member in between replaces the first array, as in prost.
        let mut any = len(5, &[]);
        any.extend(len(1, &[]));
        any.extend(len(5, &[]));
        let resource = len(1, &len(2, &any));
        assert_eq!(
            json(&len(1, &len(1, &resource))).unwrap(),
            r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"","value":{"arrayValue":{"values":[]}}}]},"scopeSpans":[]}]}"#
        );
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_an_error_not_a_stack_overflow() {
        // AnyValue { array_value { values: AnyValue { ... } } }, far too deep.
        let mut value: Vec<u8> = Vec::new();
        for _ in 0..MAX_DEPTH {
            let mut array = vec![0x0a];
            crate::wire::put_varint(&mut array, value.len() as u64);
            array.extend_from_slice(&value);
            value = vec![0x2a];
            crate::wire::put_varint(&mut value, array.len() as u64);
            value.extend_from_slice(&array);
        }
        let mut key_value = vec![0x12];
        crate::wire::put_varint(&mut key_value, value.len() as u64);
        key_value.extend_from_slice(&value);
        let mut resource = vec![0x0a];
        crate::wire::put_varint(&mut resource, key_value.len() as u64);
        resource.extend_from_slice(&key_value);
        let mut resource_spans = vec![0x0a];
        crate::wire::put_varint(&mut resource_spans, resource.len() as u64);
        resource_spans.extend_from_slice(&resource);
        let mut request = vec![0x0a];
        crate::wire::put_varint(&mut request, resource_spans.len() as u64);
        request.extend_from_slice(&resource_spans);
        assert!(matches!(
            json(&request),
            Err(TranscodeError::TooDeep {
                limit: MAX_DEPTH,
                ..
            })
        ));
    }
}
