//! Protobuf wire primitives: varints and tags for writing, and [`WireReader`]
//! for walking received messages field by field without building structs.

use bytes::BufMut;

use crate::error::DecodeError;

/// Wire type of varint fields (int32/64, uint32/64, bool, enum).
pub const WIRE_VARINT: u8 = 0;
/// Wire type of 64-bit fixed fields (fixed64, sfixed64, double).
pub const WIRE_FIXED64: u8 = 1;
/// Wire type of length-delimited fields (string, bytes, messages, packed).
pub const WIRE_LEN: u8 = 2;
/// Wire type of 32-bit fixed fields (fixed32, sfixed32, float).
pub const WIRE_FIXED32: u8 = 5;
/// Wire type of the tag that opens a group (proto2's deprecated groups; OTLP
/// has none, but a reader skips them in fields it does not know).
pub const WIRE_START_GROUP: u8 = 3;
/// Wire type of the tag that closes a group.
pub const WIRE_END_GROUP: u8 = 4;

/// How deeply groups may nest inside one another before a reader refuses
/// them: `prost`'s recursion limit, which also bounds its skipping of groups.
pub const MAX_GROUP_DEPTH: usize = 100;

/// Number of bytes `value` takes as a varint (1 to 10).
#[inline]
pub const fn varint_len(value: u64) -> usize {
    // One byte per started group of 7 bits; `| 1` makes zero take one byte.
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Writes `value` as a varint.
#[inline]
pub fn put_varint<B: BufMut + ?Sized>(buf: &mut B, mut value: u64) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

/// Number of bytes the tag of `field` takes.
#[inline]
pub const fn tag_len(field: u32) -> usize {
    varint_len((field as u64) << 3)
}

/// Writes the tag of `field` with `wire_type`.
#[inline]
pub fn put_tag<B: BufMut + ?Sized>(buf: &mut B, field: u32, wire_type: u8) {
    put_varint(buf, (u64::from(field) << 3) | u64::from(wire_type));
}

/// Size of a length-delimited field whose payload is `len` bytes (tag + length + payload).
#[inline]
pub const fn len_field_len(field: u32, len: usize) -> usize {
    tag_len(field) + varint_len(len as u64) + len
}

/// Writes the tag and length prefix of a length-delimited field.
#[inline]
pub fn put_len_prefix<B: BufMut + ?Sized>(buf: &mut B, field: u32, len: usize) {
    put_tag(buf, field, WIRE_LEN);
    put_varint(buf, len as u64);
}

/// Writes a length-delimited field holding `bytes`.
#[inline]
pub fn put_bytes_field<B: BufMut + ?Sized>(buf: &mut B, field: u32, bytes: &[u8]) {
    // A short field (a name, a message): its tag and length one byte each.
    if field < 16 && bytes.len() < 128 {
        put_short(
            buf,
            [&[(field << 3) as u8 | WIRE_LEN, bytes.len() as u8], bytes],
        );
    } else {
        put_len_prefix(buf, field, bytes.len());
        buf.put_slice(bytes);
    }
}

/// Room [`put_short`] wants in one piece: the longest short field, a
/// two-byte header and 127 bytes (or a string attribute whose `KeyValue`
/// is shorter than 128 bytes, behind its tag and length).
pub(crate) const SHORT_ROOM: usize = 129;

/// Writes `parts` one after the other. When they take at most
/// [`SHORT_ROOM`] bytes and `buf` has that much room in one piece (a buffer
/// with room, as the blocks of the record queue have), with a few fixed-size
/// stores each instead of a call to `memcpy` (which costs more than the copy
/// for text this short); otherwise part by part.
#[inline(always)]
pub(crate) fn put_short<B: BufMut + ?Sized, const N: usize>(buf: &mut B, parts: [&[u8]; N]) {
    let total: usize = parts.iter().map(|part| part.len()).sum();
    let room = buf.chunk_mut();
    if total > SHORT_ROOM || room.len() < SHORT_ROOM {
        for part in parts {
            buf.put_slice(part);
        }
        return;
    }
    let room = &mut room[..SHORT_ROOM];
    let mut at = 0;
    for part in parts {
        copy_short(room, at, part);
        at += part.len();
    }
    #[allow(unsafe_code)]
    // SAFETY: the loop initialized `room[..total]`: `copy_short` writes
    // exactly `at..at + part.len()` (every byte of that range, nothing
    // else), and each part starts where the previous one ended, from 0 to
    // `total` (<= SHORT_ROOM, so in bounds, checked by the slicing). `room`
    // starts at the start of `buf.chunk_mut()`, so those are the next
    // `total` bytes of `buf`: advancing by `total` exposes only initialized
    // bytes.
    unsafe {
        buf.advance_mut(total);
    }
}

/// Copies `text` into `out[at..at + text.len()]` with at most two stores of
/// one fixed size (overlapping when the length lies between two sizes), so
/// that short text needs no call to `memcpy`. Writes nothing else.
#[inline(always)]
fn copy_short(out: &mut bytes::buf::UninitSlice, at: usize, text: &[u8]) {
    let len = text.len();
    let end = at + len;
    if len >= 16 {
        if len <= 32 {
            out[at..at + 16].copy_from_slice(&text[..16]);
            out[end - 16..end].copy_from_slice(&text[len - 16..]);
        } else {
            out[at..end].copy_from_slice(text);
        }
    } else if len >= 8 {
        out[at..at + 8].copy_from_slice(&text[..8]);
        out[end - 8..end].copy_from_slice(&text[len - 8..]);
    } else if len >= 4 {
        out[at..at + 4].copy_from_slice(&text[..4]);
        out[end - 4..end].copy_from_slice(&text[len - 4..]);
    } else {
        for (offset, byte) in text.iter().enumerate() {
            out.write_byte(at + offset, *byte);
        }
    }
}

/// One field's value as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireValue<'a> {
    /// A varint (already decoded to its 64-bit value).
    Varint(u64),
    /// Eight little-endian bytes.
    Fixed64(u64),
    /// A length-delimited payload: string, bytes, sub-message or packed field.
    Len(&'a [u8]),
    /// Four little-endian bytes.
    Fixed32(u32),
    /// A group (proto2, deprecated): the fields between its start tag and
    /// its matching end tag, already checked to be well formed. OTLP defines
    /// no group, so readers skip it where the field is unknown (as `prost`
    /// does) and refuse it where a known field has another wire type.
    Group(&'a [u8]),
}

impl WireValue<'_> {
    /// The wire type number of this value.
    pub fn wire_type(&self) -> u8 {
        match self {
            WireValue::Varint(_) => WIRE_VARINT,
            WireValue::Fixed64(_) => WIRE_FIXED64,
            WireValue::Len(_) => WIRE_LEN,
            WireValue::Fixed32(_) => WIRE_FIXED32,
            WireValue::Group(_) => WIRE_START_GROUP,
        }
    }
}

/// Walks the fields of one protobuf message. Never panics on malformed input:
/// every problem is a [`DecodeError`] with the byte offset.
///
/// ```
/// use otlp_core::wire::{WireReader, WireValue};
///
/// // field 1, varint 150
/// let mut reader = WireReader::new(&[0x08, 0x96, 0x01]);
/// assert_eq!(reader.next_field()?, Some((1, WireValue::Varint(150))));
/// assert_eq!(reader.next_field()?, None);
/// # Ok::<(), otlp_core::DecodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct WireReader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    /// Where the tag of the field last returned starts, within `buf`.
    field_pos: usize,
    /// How many messages enclose the one read (0: the outermost): groups
    /// nest at most [`MAX_GROUP_DEPTH`] minus that, as in `prost`.
    depth: usize,
}

impl<'a> WireReader<'a> {
    /// A reader over one encoded message.
    pub fn new(buf: &'a [u8]) -> Self {
        WireReader {
            buf,
            pos: 0,
            base: 0,
            field_pos: 0,
            depth: 0,
        }
    }

    /// A reader over a nested message found at `base` bytes into the outer input
    /// (only used to report offsets relative to the outermost input).
    pub fn nested(buf: &'a [u8], base: usize) -> Self {
        WireReader {
            buf,
            pos: 0,
            base,
            field_pos: 0,
            depth: 0,
        }
    }

    /// This reader, for a message `depth` messages deep in the outermost
    /// input (0, the default: the outermost message itself; 1: a message in
    /// one of its fields). `prost` counts messages and groups together
    /// against one limit from the outermost message: a field inside `k`
    /// groups of this message is [`DecodeError::TooDeep`] once `depth + k`
    /// reaches [`MAX_GROUP_DEPTH`], as `prost` refuses it.
    pub(crate) fn at_depth(mut self, depth: usize) -> Self {
        self.depth = depth;
        self
    }

    /// Offset of the next unread byte, relative to the outermost input.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// The offset, relative to the outermost input, of the tag of the field
    /// [`next_field`](Self::next_field) returned last (of the message's
    /// start before the first): where an error about that field points.
    pub fn field_offset(&self) -> usize {
        self.base + self.field_pos
    }

    /// The offset, within the outermost input, of a payload this reader returned.
    pub fn offset_of(&self, payload: &[u8]) -> usize {
        let start = self.buf.as_ptr() as usize;
        self.base + (payload.as_ptr() as usize).saturating_sub(start)
    }

    /// Reads one bare varint (no tag): for the values of packed fields.
    pub(crate) fn read_varint(&mut self) -> Result<u64, DecodeError> {
        let start = self.offset();
        let mut value = 0u64;
        for shift in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(DecodeError::Truncated {
                    offset: self.offset(),
                });
            };
            self.pos += 1;
            if shift == 9 && byte > 1 {
                // The tenth byte holds bit 63 only: anything more overflows
                // 64 bits (prost and Go's protowire refuse it too).
                return Err(DecodeError::Varint { offset: start });
            }
            value |= u64::from(byte & 0x7f) << (7 * shift);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(DecodeError::Varint { offset: start })
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.buf.len())
            .ok_or(DecodeError::Truncated {
                offset: self.offset(),
            })?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// The next field number and value, or `None` at the end of the message.
    pub fn next_field(&mut self) -> Result<Option<(u32, WireValue<'a>)>, DecodeError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        self.field_pos = self.pos;
        let (field, wire_type, tag_offset) = self.read_tag()?;
        let value = self.read_value(wire_type, field, tag_offset, 0)?;
        Ok(Some((field, value)))
    }

    /// Reads a tag: its field number (checked), wire type and offset.
    fn read_tag(&mut self) -> Result<(u32, u8, usize), DecodeError> {
        let tag_offset = self.offset();
        let tag = self.read_varint()?;
        let field = tag >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return Err(DecodeError::FieldNumber {
                field,
                offset: tag_offset,
            });
        }
        Ok((field as u32, (tag & 0x7) as u8, tag_offset))
    }

    /// Reads past the fields of the group `field` opened, `depth` groups
    /// deep, and its end tag; returns the bytes of those fields. Refuses
    /// what `prost` refuses when it skips a group: a malformed field inside,
    /// an end tag of another field, a missing end tag (the input ends), and
    /// a field inside a group [`MAX_GROUP_DEPTH`] deep, counting the
    /// messages around the reader's message too (see [`at_depth`](Self::at_depth)),
    /// as `prost` counts them.
    fn skip_group(&mut self, field: u32, depth: usize) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        loop {
            let end = self.pos;
            if self.pos >= self.buf.len() {
                return Err(DecodeError::Truncated {
                    offset: self.offset(),
                });
            }
            let (inner, wire_type, tag_offset) = self.read_tag()?;
            if wire_type == WIRE_END_GROUP && inner == field {
                return Ok(&self.buf[start..end]);
            }
            if self.depth + depth >= MAX_GROUP_DEPTH && wire_type != WIRE_END_GROUP {
                return Err(DecodeError::TooDeep {
                    limit: MAX_GROUP_DEPTH,
                    offset: tag_offset,
                });
            }
            self.read_value(wire_type, inner, tag_offset, depth)?;
        }
    }

    /// Reads the value of field `field` of `wire_type`, whose tag is at
    /// `tag_offset`, inside `depth` groups (0: directly in the message).
    fn read_value(
        &mut self,
        wire_type: u8,
        field: u32,
        tag_offset: usize,
        depth: usize,
    ) -> Result<WireValue<'a>, DecodeError> {
        Ok(match wire_type {
            WIRE_VARINT => WireValue::Varint(self.read_varint()?),
            WIRE_FIXED64 => {
                let bytes = self.take(8)?;
                let mut word = [0u8; 8];
                word.copy_from_slice(bytes);
                WireValue::Fixed64(u64::from_le_bytes(word))
            }
            WIRE_LEN => {
                let len = self.read_varint()?;
                let len = usize::try_from(len).map_err(|_| DecodeError::Truncated {
                    offset: self.offset(),
                })?;
                WireValue::Len(self.take(len)?)
            }
            WIRE_FIXED32 => {
                let bytes = self.take(4)?;
                let mut word = [0u8; 4];
                word.copy_from_slice(bytes);
                WireValue::Fixed32(u32::from_le_bytes(word))
            }
            WIRE_START_GROUP => {
                // A group is a level of its own: none opens where no field may.
                if self.depth + depth >= MAX_GROUP_DEPTH {
                    return Err(DecodeError::TooDeep {
                        limit: MAX_GROUP_DEPTH,
                        offset: tag_offset,
                    });
                }
                WireValue::Group(self.skip_group(field, depth + 1)?)
            }
            WIRE_END_GROUP => {
                return Err(DecodeError::EndGroup {
                    field,
                    offset: tag_offset,
                });
            }
            wire_type => {
                return Err(DecodeError::WireType {
                    wire_type,
                    offset: tag_offset,
                });
            }
        })
    }
}

/// Counts the spans in an encoded `ExportTraceServiceRequest` by walking the
/// wire format (`resource_spans` -> `scope_spans` -> `spans`) without decoding
/// any span. Cheap enough for a receiver that must never be the bottleneck.
///
/// The messages it walks through are read as `prost` reads them: a known
/// field of theirs with the wrong wire type (a `resource_spans` sent as a
/// varint) is [`DecodeError::UnexpectedWireType`], as it is to a full
/// decoder. What is inside a span, a resource or a scope is not read.
///
/// ```
/// use otlp_core::{encode::TraceEncoder, wire::count_spans, SpanData};
///
/// let spans = vec![SpanData::builder("a").build(), SpanData::builder("b").build()];
/// let mut body = Vec::new();
/// TraceEncoder::new().encode_protobuf(&spans, &mut body);
/// assert_eq!(count_spans(&body)?, 2);
/// // `resource_spans` (field 1) as a varint: refused, as `prost` refuses it.
/// assert!(count_spans(&[0x08, 0x01]).is_err());
/// # Ok::<(), otlp_core::DecodeError>(())
/// ```
pub fn count_spans(request: &[u8]) -> Result<u64, DecodeError> {
    walk_records(
        request,
        ["ExportTraceServiceRequest", "ResourceSpans", "ScopeSpans"],
    )
    .map(|(count, _)| count)
}

/// The bytes of the records in an encoded `ExportTraceServiceRequest` or
/// `ExportLogsServiceRequest`: the sum of the encoded lengths of its spans
/// (or log records), without their tags and length prefixes or the
/// resource and scope framing around them. The walk is [`count_spans`]'s
/// (the two requests have the same field numbers down to their records).
///
/// ```
/// use otlp_core::{encode::TraceEncoder, wire::record_bytes, SpanData};
///
/// let spans = vec![SpanData::builder("a").build(), SpanData::builder("bc").build()];
/// let mut body = Vec::new();
/// TraceEncoder::new().encode_protobuf(&spans, &mut body);
/// let one = |span: &SpanData| {
///     let mut bytes = Vec::new();
///     otlp_core::encode::record::encode_span(span, &mut bytes);
///     bytes.len() as u64
/// };
/// assert_eq!(record_bytes(&body)?, one(&spans[0]) + one(&spans[1]));
/// # Ok::<(), otlp_core::DecodeError>(())
/// ```
pub fn record_bytes(request: &[u8]) -> Result<u64, DecodeError> {
    walk_records(request, ["ExportRequest", "ResourceGroup", "ScopeGroup"]).map(|(_, bytes)| bytes)
}

/// Counts the log records in an encoded `ExportLogsServiceRequest`, as
/// [`count_spans`] counts spans: `resource_logs` -> `scope_logs` ->
/// `log_records` have the field numbers of their span counterparts, so the
/// walk (and what it refuses) is the same.
///
/// ```
/// use otlp_core::{encode::LogEncoder, wire::count_log_records, LogRecord};
///
/// let logs = vec![LogRecord::builder().body("a").build(), LogRecord::builder().build()];
/// let mut body = Vec::new();
/// LogEncoder::new().encode_protobuf(&logs, &mut body);
/// assert_eq!(count_log_records(&body)?, 2);
/// # Ok::<(), otlp_core::DecodeError>(())
/// ```
pub fn count_log_records(request: &[u8]) -> Result<u64, DecodeError> {
    walk_records(
        request,
        ["ExportLogsServiceRequest", "ResourceLogs", "ScopeLogs"],
    )
    .map(|(count, _)| count)
}

/// Counts the data points in an encoded `ExportMetricsServiceRequest`: OTLP's
/// unit for metrics (`rejected_data_points`), what an exporter reports as
/// sent or dropped. Walks `resource_metrics` -> `scope_metrics` -> `metrics`
/// -> the metric's data (`gauge`, `sum`, `histogram`, `exponential_histogram`
/// or `summary`) -> `data_points` without decoding any point; a metric
/// without data counts zero. Reads as `prost` does: of data given more than
/// once the last member wins, the same member given twice merges (its
/// points add up), and a known field of a message walked through with the
/// wrong wire type is [`DecodeError::UnexpectedWireType`].
///
/// ```
/// use otlp_core::encode::MetricEncoder;
/// use otlp_core::wire::count_data_points;
/// use otlp_core::{Gauge, Metric, MetricData, NumberDataPoint, Summary};
///
/// let points = vec![
///     NumberDataPoint::int(Vec::new(), 0, 1, 5),
///     NumberDataPoint::double(Vec::new(), 0, 1, 0.5),
/// ];
/// let metrics = vec![
///     Metric::new("queue.depth", MetricData::Gauge(Gauge { data_points: points })),
///     Metric::new("empty", MetricData::Summary(Summary::default())),
/// ];
/// let mut body = Vec::new();
/// MetricEncoder::new().encode_protobuf(&metrics, &mut body);
/// assert_eq!(count_data_points(&body)?, 2);
/// # Ok::<(), otlp_core::DecodeError>(())
/// ```
pub fn count_data_points(request: &[u8]) -> Result<u64, DecodeError> {
    /// `Metric`'s fields: name, description, unit, the `oneof data` (gauge,
    /// sum, histogram, exponential histogram, summary) and metadata.
    const METRIC: FieldWireTypes = &[
        (1, WIRE_LEN),
        (2, WIRE_LEN),
        (3, WIRE_LEN),
        (5, WIRE_LEN),
        (7, WIRE_LEN),
        (9, WIRE_LEN),
        (10, WIRE_LEN),
        (11, WIRE_LEN),
        (12, WIRE_LEN),
    ];
    /// Each data member's name and fields: `data_points`, then (sum,
    /// histograms) `aggregation_temporality` and (sum) `is_monotonic`.
    const DATA: [(u32, &str, FieldWireTypes); 5] = [
        (5, "Gauge", &[(1, WIRE_LEN)]),
        (
            7,
            "Sum",
            &[(1, WIRE_LEN), (2, WIRE_VARINT), (3, WIRE_VARINT)],
        ),
        (9, "Histogram", &[(1, WIRE_LEN), (2, WIRE_VARINT)]),
        (
            10,
            "ExponentialHistogram",
            &[(1, WIRE_LEN), (2, WIRE_VARINT)],
        ),
        (11, "Summary", &[(1, WIRE_LEN)]),
    ];
    let mut count = 0u64;
    let mut outer = WireReader::new(request);
    while let Some((field, value)) = outer.next_field()? {
        check_wire_type(
            "ExportMetricsServiceRequest",
            REQUEST,
            (field, value),
            outer.field_offset(),
        )?;
        let (1, WireValue::Len(resource_metrics)) = (field, value) else {
            continue;
        };
        let mut resource =
            WireReader::nested(resource_metrics, outer.offset_of(resource_metrics)).at_depth(1);
        while let Some((field, value)) = resource.next_field()? {
            check_wire_type(
                "ResourceMetrics",
                RESOURCE_OR_SCOPE,
                (field, value),
                resource.field_offset(),
            )?;
            let (2, WireValue::Len(scope_metrics)) = (field, value) else {
                continue;
            };
            let mut scope =
                WireReader::nested(scope_metrics, resource.offset_of(scope_metrics)).at_depth(2);
            while let Some((field, value)) = scope.next_field()? {
                check_wire_type(
                    "ScopeMetrics",
                    RESOURCE_OR_SCOPE,
                    (field, value),
                    scope.field_offset(),
                )?;
                let (2, WireValue::Len(metric)) = (field, value) else {
                    continue;
                };
                let mut metric_reader =
                    WireReader::nested(metric, scope.offset_of(metric)).at_depth(3);
                // The data member last given and its points so far.
                let mut member = 0;
                let mut points = 0u64;
                while let Some((field, value)) = metric_reader.next_field()? {
                    check_wire_type(
                        "Metric",
                        METRIC,
                        (field, value),
                        metric_reader.field_offset(),
                    )?;
                    let WireValue::Len(data) = value else {
                        continue;
                    };
                    let Some(&(_, name, fields)) =
                        DATA.iter().find(|(number, _, _)| *number == field)
                    else {
                        continue;
                    };
                    if field != member {
                        member = field;
                        points = 0;
                    }
                    let mut data_reader =
                        WireReader::nested(data, metric_reader.offset_of(data)).at_depth(4);
                    while let Some((field, value)) = data_reader.next_field()? {
                        check_wire_type(name, fields, (field, value), data_reader.field_offset())?;
                        if let (1, WireValue::Len(_)) = (field, value) {
                            points += 1;
                        }
                    }
                }
                count += points;
            }
        }
    }
    Ok(count)
}

/// A message's known fields and the wire type each must have.
type FieldWireTypes = &'static [(u32, u8)];

/// An export request's one field: its `resource_spans` (`_logs`, `_metrics`).
const REQUEST: FieldWireTypes = &[(1, WIRE_LEN)];
/// The fields of `ResourceSpans` and `ScopeSpans` (and of their logs and
/// metrics twins): `resource` or `scope`, the records, `schema_url`.
const RESOURCE_OR_SCOPE: FieldWireTypes = &[(1, WIRE_LEN), (2, WIRE_LEN), (3, WIRE_LEN)];

/// Fails if `field` is one of `message`'s `fields` and `value` does not
/// have its wire type (the error at `offset`, the field's tag); unknown
/// fields pass, as they do for `prost`.
fn check_wire_type(
    message: &'static str,
    fields: &[(u32, u8)],
    (field, value): (u32, WireValue<'_>),
    offset: usize,
) -> Result<(), DecodeError> {
    match fields.iter().find(|(number, _)| *number == field) {
        Some(&(_, expected)) if value.wire_type() != expected => {
            Err(DecodeError::UnexpectedWireType {
                message,
                field,
                wire_type: value.wire_type(),
                expected,
                offset,
            })
        }
        _ => Ok(()),
    }
}

/// Counts field 2 of field 2 of field 1: the records of any signal's export
/// request, whose three message names are `names`.
/// The records of a trace or logs request: how many, and their bytes.
fn walk_records(request: &[u8], names: [&'static str; 3]) -> Result<(u64, u64), DecodeError> {
    let [request_name, resource_name, scope_name] = names;
    let mut count = 0u64;
    let mut bytes = 0u64;
    let mut outer = WireReader::new(request);
    while let Some((field, value)) = outer.next_field()? {
        check_wire_type(request_name, REQUEST, (field, value), outer.field_offset())?;
        let (1, WireValue::Len(resource_spans)) = (field, value) else {
            continue;
        };
        let mut resource =
            WireReader::nested(resource_spans, outer.offset_of(resource_spans)).at_depth(1);
        while let Some((field, value)) = resource.next_field()? {
            check_wire_type(
                resource_name,
                RESOURCE_OR_SCOPE,
                (field, value),
                resource.field_offset(),
            )?;
            let (2, WireValue::Len(scope_spans)) = (field, value) else {
                continue;
            };
            let mut scope =
                WireReader::nested(scope_spans, resource.offset_of(scope_spans)).at_depth(2);
            while let Some((field, value)) = scope.next_field()? {
                check_wire_type(
                    scope_name,
                    RESOURCE_OR_SCOPE,
                    (field, value),
                    scope.field_offset(),
                )?;
                if let (2, WireValue::Len(record)) = (field, value) {
                    count += 1;
                    bytes += record.len() as u64;
                }
            }
        }
    }
    Ok((count, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Short fields (tag and length one byte each) are written with
    /// fixed-size stores when the buffer has room, piece by piece when it
    /// has not; longer ones by the general path. All write what `prost`
    /// writes, and nothing past the field.
    #[test]
    fn bytes_fields_match_prost_at_every_length_with_and_without_room() {
        let text: Vec<u8> = (0..=255u8).collect();
        for field in [1, 5, 15, 16, 300] {
            for len in 0..=200 {
                let bytes = &text[..len];
                let mut expected = Vec::new();
                prost::encoding::bytes::encode(field, &bytes.to_vec(), &mut expected);
                let mut roomy = Vec::with_capacity(1024);
                put_bytes_field(&mut roomy, field, bytes);
                let mut cramped = Vec::new();
                put_bytes_field(&mut cramped, field, bytes);
                assert_eq!(roomy, expected, "field {field}, {len} bytes");
                assert_eq!(cramped, expected, "field {field}, {len} bytes");
                for spare in [0, SHORT_ROOM] {
                    let mut slice = vec![0xEE; expected.len() + spare];
                    let mut out = slice.as_mut_slice();
                    put_bytes_field(&mut out, field, bytes);
                    assert!(out.iter().all(|byte| *byte == 0xEE));
                    assert_eq!(
                        slice[..expected.len()],
                        expected,
                        "field {field}, {len} bytes, {spare} spare"
                    );
                }
            }
        }
    }

    #[test]
    fn varint_len_matches_the_written_length() {
        for value in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            put_varint(&mut buf, value);
            assert_eq!(buf.len(), varint_len(value), "{value}");
            let mut reader = WireReader::new(&buf);
            assert_eq!(reader.read_varint().ok(), Some(value));
        }
    }

    #[test]
    fn a_tenth_varint_byte_may_hold_bit_63_only() {
        let nine = [0xff; 9];
        let read = |last: u8| {
            let bytes: Vec<u8> = nine.iter().copied().chain([last]).collect();
            WireReader::new(&bytes).read_varint()
        };
        assert_eq!(read(0x01).ok(), Some(u64::MAX));
        assert_eq!(read(0x00).ok(), Some(u64::MAX >> 1));
        // Found by hostile_wire's rpc_status_mutated: a RetryInfo nanos of
        // `ff ×9 03` read as -1 where prost refuses the message.
        for overflowing in [0x02, 0x03, 0x7f] {
            assert_eq!(
                read(overflowing),
                Err(DecodeError::Varint { offset: 0 }),
                "{overflowing:#x}"
            );
        }
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let cases: &[&[u8]] = &[
            &[0x0a, 0x05, 0x01], // length past the end
            &[0x08],             // missing varint
            &[0x0b],             // a group that never ends
            &[0x0c],             // an end tag outside any group
            &[0x0b, 0x14],       // a group closed by another field's end tag
            &[0x00, 0x00],       // field 0
            &[0x09, 0x01, 0x02], // truncated fixed64
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
        ];
        for case in cases {
            let mut reader = WireReader::new(case);
            assert!(reader.next_field().is_err(), "{case:?}");
        }
    }
}
