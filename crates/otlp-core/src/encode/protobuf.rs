//! Protobuf encoding of `ExportTraceServiceRequest`,
//! `ExportLogsServiceRequest` and `ExportMetricsServiceRequest`, written
//! field by field.
//!
//! Field numbers follow `opentelemetry/proto/trace/v1/trace.proto`,
//! `logs/v1/logs.proto`, `metrics/v1/metrics.proto`, `common/v1/common.proto`,
//! `resource/v1/resource.proto` and `collector/{trace,logs,metrics}/v1/*_service.proto`.
//! The request framing (`ResourceSpans`/`ResourceLogs`/`ResourceMetrics`,
//! `ScopeSpans`/`ScopeLogs`/`ScopeMetrics`) has the same field numbers for
//! every signal, so one generic writer serves all; only the record (`Span`,
//! `LogRecord`, `Metric`, the last in [`metric`]) differs. Proto3 defaults (empty strings,
//! zero numbers, empty lists) are omitted, as every protobuf encoder does;
//! `oneof` members of `AnyValue` are always written, defaults included.
//! Each `*_len` function computes exactly what the matching `put_*` writes.
//!
//! Two ways to write a request: [`write_request`] after measuring every span
//! (any [`BufMut`], and the sizes `split` needs), and
//! [`write_request_in_one_pass`] into a `Vec`, which learns lengths as it
//! writes (no measuring pass: about a third less time). Both give the same
//! bytes, the same as prost's.

mod metric;

use bytes::BufMut;

pub(super) use metric::{metric_len, put_metric};

use super::MAX_VALUE_DEPTH;
use super::grouping::Groups;
use super::kv_list::{RepeatFinder, unique_entries};
use super::signal::Signal;
use crate::wire::{
    WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT, len_field_len, put_bytes_field,
    put_len_prefix, put_short, put_tag, put_varint, tag_len, varint_len,
};
use crate::{
    AnyValue, Event, InstrumentationScope, KeyValue, Link, LogRecord, Resource, SpanData, Status,
};

// ---- lengths -------------------------------------------------------------

fn str_len(field: u32, text: &str) -> usize {
    if text.is_empty() {
        0
    } else {
        len_field_len(field, text.len())
    }
}

fn uint_len(field: u32, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        tag_len(field) + varint_len(value)
    }
}

fn fixed64_len(field: u32, value: u64) -> usize {
    if value == 0 { 0 } else { tag_len(field) + 8 }
}

fn fixed32_len(field: u32, value: u32) -> usize {
    if value == 0 { 0 } else { tag_len(field) + 4 }
}

/// Inlined for the common scalar values; nested values take the call.
#[inline(always)]
pub(super) fn any_value_len(value: &AnyValue) -> usize {
    any_value_len_at(value, 0)
}

/// [`any_value_len`] of a value `depth` levels inside arrays and key-value
/// lists (0: an attribute's or a body's own value).
#[inline(always)]
fn any_value_len_at(value: &AnyValue, depth: usize) -> usize {
    match value {
        AnyValue::String(text) => len_field_len(1, text.len()),
        AnyValue::Bool(_) => 2,
        AnyValue::Int(int) => 1 + varint_len(*int as u64),
        AnyValue::Double(_) => 9,
        nested => nested_value_len(nested, depth),
    }
}

/// The length of a value that is not a common scalar, an array or a list
/// cut at [`MAX_VALUE_DEPTH`] as [`put_other_value`] cuts it.
#[inline(never)]
fn nested_value_len(value: &AnyValue, depth: usize) -> usize {
    match value {
        AnyValue::Array(_) | AnyValue::KvList(_) if depth >= MAX_VALUE_DEPTH => 0,
        AnyValue::Array(values) => len_field_len(5, array_len(values, depth + 1)),
        AnyValue::KvList(entries) => len_field_len(6, kv_list_len(entries, depth + 1).0),
        AnyValue::Bytes(bytes) => len_field_len(7, bytes.len()),
        scalar => any_value_len_at(scalar, depth),
    }
}

fn array_len(values: &[AnyValue], depth: usize) -> usize {
    values
        .iter()
        .map(|value| len_field_len(1, any_value_len_at(value, depth)))
        .sum()
}

fn entry_len(key: &str, value: &AnyValue, depth: usize) -> usize {
    str_len(1, key) + len_field_len(2, any_value_len_at(value, depth))
}

/// The length of a `KeyValueList`'s entries, each key once, and whether a
/// key repeats (then the entries to write are [`unique_entries`]'s); one
/// pass over a list without a repeat.
fn kv_list_len(entries: &[KeyValue], depth: usize) -> (usize, bool) {
    let mut finder = RepeatFinder::new(entries);
    let mut len = 0;
    for (index, entry) in entries.iter().enumerate() {
        let key = &*entry.key;
        if finder.repeats(index, key) {
            let unique = unique_entries(entries)
                .map(|(key, value)| len_field_len(1, entry_len(key, value, depth)))
                .sum();
            return (unique, true);
        }
        len += len_field_len(1, entry_len(key, &entry.value, depth));
    }
    (len, false)
}

fn attributes_len(field: u32, attributes: &[KeyValue]) -> usize {
    attributes
        .iter()
        .map(|attribute| len_field_len(field, entry_len(&attribute.key, &attribute.value, 0)))
        .sum()
}

fn resource_len(resource: &Resource) -> usize {
    attributes_len(1, &resource.attributes)
        + uint_len(2, u64::from(resource.dropped_attributes_count))
}

fn scope_len(scope: &InstrumentationScope) -> usize {
    str_len(1, &scope.name)
        + str_len(2, &scope.version)
        + attributes_len(3, &scope.attributes)
        + uint_len(4, u64::from(scope.dropped_attributes_count))
}

fn event_len(event: &Event) -> usize {
    fixed64_len(1, event.time_unix_nano)
        + str_len(2, &event.name)
        + attributes_len(3, &event.attributes)
        + uint_len(4, u64::from(event.dropped_attributes_count))
}

fn link_len(link: &Link) -> usize {
    len_field_len(1, 16)
        + len_field_len(2, 8)
        + str_len(3, link.trace_state.header())
        + attributes_len(4, &link.attributes)
        + uint_len(5, u64::from(link.dropped_attributes_count))
        + fixed32_len(6, link.flags.bits())
}

fn status_len(status: &Status) -> usize {
    str_len(2, status.message()) + uint_len(3, u64::from(status.code()))
}

/// Length of one `Span` message body.
pub(super) fn span_len(span: &SpanData) -> usize {
    let mut len = len_field_len(1, 16) + len_field_len(2, 8);
    len += str_len(3, span.trace_state.header());
    if span.parent_span_id.is_some() {
        len += len_field_len(4, 8);
    }
    len += str_len(5, &span.name);
    len += uint_len(6, u64::from(span.kind.wire_value()));
    len += fixed64_len(7, span.start_time_unix_nano);
    len += fixed64_len(8, span.end_time_unix_nano);
    len += attributes_len(9, &span.attributes);
    len += uint_len(10, u64::from(span.dropped_attributes_count));
    len += span
        .events
        .iter()
        .map(|event| len_field_len(11, event_len(event)))
        .sum::<usize>();
    len += uint_len(12, u64::from(span.dropped_events_count));
    len += span
        .links
        .iter()
        .map(|link| len_field_len(13, link_len(link)))
        .sum::<usize>();
    len += uint_len(14, u64::from(span.dropped_links_count));
    if span.status != Status::Unset {
        len += len_field_len(15, status_len(&span.status));
    }
    len += fixed32_len(16, span.flags.bits());
    len
}

/// Length of one `LogRecord` message body.
pub(super) fn log_len(log: &LogRecord) -> usize {
    let mut len = fixed64_len(1, log.time_unix_nano);
    len += fixed64_len(11, log.observed_time_unix_nano);
    len += uint_len(2, u64::from(log.severity_number.number()));
    len += str_len(3, &log.severity_text);
    if let Some(body) = &log.body {
        len += len_field_len(5, any_value_len(body));
    }
    len += attributes_len(6, &log.attributes);
    len += uint_len(7, u64::from(log.dropped_attributes_count));
    len += fixed32_len(8, log.wire_flags());
    if log.trace_id.is_some() {
        len += len_field_len(9, 16);
    }
    if log.span_id.is_some() {
        len += len_field_len(10, 8);
    }
    len += str_len(12, &log.event_name);
    len
}

/// Size of a `ScopeSpans` (or `ScopeLogs`) body without its records: the
/// scope and the schema URL.
pub(super) fn scope_group_overhead(scope: &InstrumentationScope) -> usize {
    len_field_len(1, scope_len(scope)) + str_len(3, &scope.schema_url)
}

/// Size of a `ResourceSpans` (or `ResourceLogs`) body without its scope groups.
pub(super) fn resource_group_overhead(resource: &Resource) -> usize {
    len_field_len(1, resource_len(resource)) + str_len(3, &resource.schema_url)
}

/// Fills in group lengths from the record lengths; returns the request length.
pub(super) fn measure_groups<T: Signal>(
    groups: &mut Groups,
    span_lens: &[usize],
    spans: &[T],
) -> usize {
    for scope in &mut groups.scopes {
        let spans_len: usize = groups.order[scope.spans.clone()]
            .iter()
            .map(|&index| len_field_len(2, span_lens[index]))
            .sum();
        scope.len = scope_group_overhead(spans[scope.span].scope()) + spans_len;
    }
    let mut request_len = 0;
    for resource in &mut groups.resources {
        let scopes_len: usize = groups.scope_order[resource.scopes.clone()]
            .iter()
            .map(|&scope| len_field_len(2, groups.scopes[scope].len))
            .sum();
        resource.len = resource_group_overhead(spans[resource.span].resource()) + scopes_len;
        request_len += len_field_len(1, resource.len);
    }
    request_len
}

// ---- writers -------------------------------------------------------------

pub(super) fn put_str<B: BufMut + ?Sized>(buf: &mut B, field: u32, text: &str) {
    if !text.is_empty() {
        put_bytes_field(buf, field, text.as_bytes());
    }
}

fn put_uint<B: BufMut + ?Sized>(buf: &mut B, field: u32, value: u64) {
    if value != 0 {
        put_tag(buf, field, WIRE_VARINT);
        put_varint(buf, value);
    }
}

fn put_fixed64<B: BufMut + ?Sized>(buf: &mut B, field: u32, value: u64) {
    if value != 0 {
        put_tag(buf, field, WIRE_FIXED64);
        buf.put_u64_le(value);
    }
}

fn put_fixed32<B: BufMut + ?Sized>(buf: &mut B, field: u32, value: u32) {
    if value != 0 {
        put_tag(buf, field, WIRE_FIXED32);
        buf.put_u32_le(value);
    }
}

/// Inlined for strings, the common value; the rest take the call.
#[inline(always)]
fn put_any_value<B: BufMut + ?Sized>(buf: &mut B, value: &AnyValue) {
    put_value_at(buf, value, 0);
}

/// [`put_any_value`] of a value `depth` levels inside arrays and key-value
/// lists (0: an attribute's or a body's own value).
#[inline(always)]
fn put_value_at<B: BufMut + ?Sized>(buf: &mut B, value: &AnyValue, depth: usize) {
    match value {
        AnyValue::String(text) => put_bytes_field(buf, 1, text.as_bytes()),
        other => put_other_value(buf, other, depth),
    }
}

/// Writes a value that is not a string. An array or a list at
/// [`MAX_VALUE_DEPTH`] is written empty (an `AnyValue` with no value): past
/// it, a receiver built on prost (or on serde_json, for OTLP/JSON) would
/// refuse the whole request, every record of the batch with it.
#[inline(never)]
fn put_other_value<B: BufMut + ?Sized>(buf: &mut B, value: &AnyValue, depth: usize) {
    match value {
        AnyValue::Array(_) | AnyValue::KvList(_) if depth >= MAX_VALUE_DEPTH => {}
        AnyValue::String(text) => put_bytes_field(buf, 1, text.as_bytes()),
        AnyValue::Bool(flag) => {
            put_tag(buf, 2, WIRE_VARINT);
            buf.put_u8(u8::from(*flag));
        }
        AnyValue::Int(int) => {
            put_tag(buf, 3, WIRE_VARINT);
            put_varint(buf, *int as u64);
        }
        AnyValue::Double(double) => {
            put_tag(buf, 4, WIRE_FIXED64);
            buf.put_f64_le(*double);
        }
        AnyValue::Array(values) => {
            put_len_prefix(buf, 5, array_len(values, depth + 1));
            for item in values.iter() {
                put_len_prefix(buf, 1, any_value_len_at(item, depth + 1));
                put_value_at(buf, item, depth + 1);
            }
        }
        AnyValue::KvList(entries) => {
            let (len, repeats) = kv_list_len(entries, depth + 1);
            put_len_prefix(buf, 6, len);
            if repeats {
                for (key, value) in unique_entries(entries) {
                    put_entry(buf, 1, key, value, depth + 1);
                }
            } else {
                for entry in entries.iter() {
                    put_entry(buf, 1, &entry.key, &entry.value, depth + 1);
                }
            }
        }
        AnyValue::Bytes(bytes) => put_bytes_field(buf, 7, bytes),
    }
}

fn put_attributes<B: BufMut + ?Sized>(buf: &mut B, field: u32, attributes: &[KeyValue]) {
    for attribute in attributes {
        put_entry(buf, field, &attribute.key, &attribute.value, 0);
    }
}

/// One `KeyValue` under `field`: most often a short string attribute
/// ([`put_short_string_attribute`]), else the general path.
#[inline(always)]
fn put_entry<B: BufMut + ?Sized>(
    buf: &mut B,
    field: u32,
    key: &str,
    value: &AnyValue,
    depth: usize,
) {
    if put_short_string_attribute(buf, field, key, value) {
        return;
    }
    // The value's length once, for both prefixes (as `entry_len`).
    let value_len = any_value_len_at(value, depth);
    put_len_prefix(buf, field, str_len(1, key) + len_field_len(2, value_len));
    put_str(buf, 1, key);
    put_len_prefix(buf, 2, value_len);
    put_value_at(buf, value, depth);
}

/// The common attribute, a string value under a non-empty key, whose
/// `KeyValue` is shorter than 128 bytes: every tag and length prefix is one
/// byte, so the field is two four-byte headers and the two texts, written
/// by [`put_short`]: a few fixed-size stores into a buffer with room, else
/// four slices. The same bytes as the general path. Returns whether
/// it wrote the attribute.
#[inline(always)]
fn put_short_string_attribute<B: BufMut + ?Sized>(
    buf: &mut B,
    field: u32,
    key: &str,
    value: &AnyValue,
) -> bool {
    let AnyValue::String(text) = value else {
        return false;
    };
    let key = key.as_bytes();
    let value = text.as_bytes();
    // `AnyValue { string_value = 1 }`, then `KeyValue { key = 1, value = 2 }`.
    let value_len = 2 + value.len();
    let key_value_len = 2 + key.len() + 2 + value_len;
    if field >= 16 || key.is_empty() || key_value_len >= 128 {
        return false;
    }
    let tag = (field << 3) as u8 | WIRE_LEN;
    let key_header = [tag, key_value_len as u8, 1 << 3 | WIRE_LEN, key.len() as u8];
    let value_header = [
        2 << 3 | WIRE_LEN,
        value_len as u8,
        1 << 3 | WIRE_LEN,
        value.len() as u8,
    ];
    put_short(buf, [&key_header, key, &value_header, value]);
    true
}

pub(super) fn put_resource<B: BufMut + ?Sized>(buf: &mut B, resource: &Resource) {
    put_len_prefix(buf, 1, resource_len(resource));
    put_attributes(buf, 1, &resource.attributes);
    put_uint(buf, 2, u64::from(resource.dropped_attributes_count));
}

pub(super) fn put_scope<B: BufMut + ?Sized>(buf: &mut B, scope: &InstrumentationScope) {
    put_len_prefix(buf, 1, scope_len(scope));
    put_str(buf, 1, &scope.name);
    put_str(buf, 2, &scope.version);
    put_attributes(buf, 3, &scope.attributes);
    put_uint(buf, 4, u64::from(scope.dropped_attributes_count));
}

pub(super) fn put_span<B: BufMut + ?Sized>(buf: &mut B, span: &SpanData) {
    // The two ids, fixed size, as one slice: `trace_id = 1`, `span_id = 2`.
    let mut ids = [0u8; 2 + 16 + 2 + 8];
    ids[0] = 1 << 3 | WIRE_LEN;
    ids[1] = 16;
    ids[2..18].copy_from_slice(span.trace_id.as_bytes());
    ids[18] = 2 << 3 | WIRE_LEN;
    ids[19] = 8;
    ids[20..].copy_from_slice(span.span_id.as_bytes());
    buf.put_slice(&ids);
    put_str(buf, 3, span.trace_state.header());
    if let Some(parent) = &span.parent_span_id {
        put_bytes_field(buf, 4, parent.as_bytes());
    }
    put_str(buf, 5, &span.name);
    put_uint(buf, 6, u64::from(span.kind.wire_value()));
    if span.start_time_unix_nano != 0 && span.end_time_unix_nano != 0 {
        // Both times, as one slice: `start_time_unix_nano = 7`, `end_time_unix_nano = 8`.
        let mut times = [0u8; 2 * 9];
        times[0] = 7 << 3 | WIRE_FIXED64;
        times[1..9].copy_from_slice(&span.start_time_unix_nano.to_le_bytes());
        times[9] = 8 << 3 | WIRE_FIXED64;
        times[10..].copy_from_slice(&span.end_time_unix_nano.to_le_bytes());
        buf.put_slice(&times);
    } else {
        put_fixed64(buf, 7, span.start_time_unix_nano);
        put_fixed64(buf, 8, span.end_time_unix_nano);
    }
    put_attributes(buf, 9, &span.attributes);
    put_uint(buf, 10, u64::from(span.dropped_attributes_count));
    for event in &span.events {
        put_len_prefix(buf, 11, event_len(event));
        put_fixed64(buf, 1, event.time_unix_nano);
        put_str(buf, 2, &event.name);
        put_attributes(buf, 3, &event.attributes);
        put_uint(buf, 4, u64::from(event.dropped_attributes_count));
    }
    put_uint(buf, 12, u64::from(span.dropped_events_count));
    for link in &span.links {
        put_len_prefix(buf, 13, link_len(link));
        put_bytes_field(buf, 1, link.trace_id.as_bytes());
        put_bytes_field(buf, 2, link.span_id.as_bytes());
        put_str(buf, 3, link.trace_state.header());
        put_attributes(buf, 4, &link.attributes);
        put_uint(buf, 5, u64::from(link.dropped_attributes_count));
        put_fixed32(buf, 6, link.flags.bits());
    }
    put_uint(buf, 14, u64::from(span.dropped_links_count));
    if span.status != Status::Unset {
        put_len_prefix(buf, 15, status_len(&span.status));
        put_str(buf, 2, span.status.message());
        put_uint(buf, 3, u64::from(span.status.code()));
    }
    put_fixed32(buf, 16, span.flags.bits());
}

/// Writes one `LogRecord` message body, fields in number order as prost
/// writes them (`observed_time_unix_nano = 11` after the ids).
pub(super) fn put_log<B: BufMut + ?Sized>(buf: &mut B, log: &LogRecord) {
    put_fixed64(buf, 1, log.time_unix_nano);
    put_uint(buf, 2, u64::from(log.severity_number.number()));
    put_str(buf, 3, &log.severity_text);
    if let Some(body) = &log.body {
        put_len_prefix(buf, 5, any_value_len(body));
        put_any_value(buf, body);
    }
    put_attributes(buf, 6, &log.attributes);
    put_uint(buf, 7, u64::from(log.dropped_attributes_count));
    put_fixed32(buf, 8, log.wire_flags());
    if let Some(trace_id) = &log.trace_id {
        put_bytes_field(buf, 9, trace_id.as_bytes());
    }
    if let Some(span_id) = &log.span_id {
        put_bytes_field(buf, 10, span_id.as_bytes());
    }
    put_fixed64(buf, 11, log.observed_time_unix_nano);
    put_str(buf, 12, &log.event_name);
}

/// Writes the request; `groups` and `span_lens` must come from measuring `spans`.
pub(super) fn write_request<T: Signal, B: BufMut + ?Sized>(
    groups: &Groups,
    span_lens: &[usize],
    spans: &[T],
    buf: &mut B,
) {
    for resource_group in &groups.resources {
        let resource = spans[resource_group.span].resource();
        put_len_prefix(buf, 1, resource_group.len);
        put_resource(buf, resource);
        for scope_group in groups.scopes_of(resource_group) {
            let scope = spans[scope_group.span].scope();
            put_len_prefix(buf, 2, scope_group.len);
            put_scope(buf, scope);
            for &index in groups.spans_of(scope_group) {
                put_len_prefix(buf, 2, span_lens[index]);
                spans[index].put_protobuf(buf);
            }
            put_str(buf, 3, &scope.schema_url);
        }
        put_str(buf, 3, &resource.schema_url);
    }
}

// ---- one pass ------------------------------------------------------------

/// Length-prefix sizes guessed for the next request, learned from the last.
#[derive(Clone, Copy, Debug)]
pub(super) struct PrefixGuesses {
    /// Bytes of a `ResourceSpans` length prefix.
    resource: usize,
    /// Bytes of a `ScopeSpans` length prefix.
    scope: usize,
    /// Bytes of a `Span` length prefix.
    span: usize,
}

impl Default for PrefixGuesses {
    fn default() -> Self {
        // A batch of a few hundred spans of a few hundred bytes.
        PrefixGuesses {
            resource: 3,
            scope: 3,
            span: 2,
        }
    }
}

/// Writes a length-delimited field whose body `write` appends, without
/// knowing the body's length first: room for a `guess`-byte length prefix is
/// left, and the body is moved when the prefix turns out longer or shorter
/// (then the output is exactly what measuring first gives). Returns the size
/// of the prefix, the best guess for the next field like it.
#[inline]
fn put_len_field_after(
    out: &mut Vec<u8>,
    field: u32,
    guess: usize,
    write: impl FnOnce(&mut Vec<u8>),
) -> usize {
    put_tag(out, field, WIRE_LEN);
    let prefix_at = out.len();
    out.resize(prefix_at + guess, 0);
    let body_at = out.len();
    write(out);
    let len = out.len() - body_at;
    let need = varint_len(len as u64);
    if need != guess {
        let body_end = body_at + len;
        if need > guess {
            out.resize(body_end + (need - guess), 0);
        }
        out.copy_within(body_at..body_end, prefix_at + need);
        out.truncate(prefix_at + need + len);
    }
    put_varint(&mut &mut out[prefix_at..prefix_at + need], len as u64);
    need
}

/// Writes the request in one pass, learning each length as its message is
/// written (see [`put_len_field_after`]); `guesses` carries prefix sizes from
/// one request to the next so that bodies rarely move.
pub(super) fn write_request_in_one_pass<T: Signal>(
    groups: &Groups,
    spans: &[T],
    out: &mut Vec<u8>,
    guesses: &mut PrefixGuesses,
) {
    let mut span_guess = guesses.span;
    let mut scope_guess = guesses.scope;
    for resource_group in &groups.resources {
        let resource = spans[resource_group.span].resource();
        guesses.resource = put_len_field_after(out, 1, guesses.resource, |out| {
            put_resource(out, resource);
            for scope_group in groups.scopes_of(resource_group) {
                let scope = spans[scope_group.span].scope();
                scope_guess = put_len_field_after(out, 2, scope_guess, |out| {
                    put_scope(out, scope);
                    for &index in groups.spans_of(scope_group) {
                        span_guess = put_len_field_after(out, 2, span_guess, |out| {
                            spans[index].put_protobuf(out);
                        });
                    }
                    put_str(out, 3, &scope.schema_url);
                });
            }
            put_str(out, 3, &resource.schema_url);
        });
    }
    guesses.scope = scope_guess;
    guesses.span = span_guess;
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1 as proto;

    use super::*;
    use crate::Str;

    /// The bytes `prost` writes for `key = value` as field `field`.
    fn prost_attribute(field: u32, key: &str, value: &str) -> Vec<u8> {
        let attribute = proto::KeyValue {
            key: key.to_owned(),
            value: Some(proto::AnyValue {
                value: Some(proto::any_value::Value::StringValue(value.to_owned())),
            }),
            ..Default::default()
        };
        let mut out = Vec::new();
        prost::encoding::message::encode(field, &attribute, &mut out);
        out
    }

    /// A string attribute under a non-empty key whose `KeyValue` is shorter
    /// than 128 bytes takes the short path; an empty key or a longer one
    /// (its value's length prefixes then take two bytes) the general one:
    /// both write what `prost` writes, at every length.
    #[test]
    fn string_attributes_match_prost_at_every_length() {
        let text = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_-+".repeat(3);
        let (mut short, mut general) = (0, 0);
        for key_len in 0..=45 {
            for value_len in 0..=140 {
                // `2 + key + 2 + (2 + value)`: the `KeyValue`'s length when
                // every prefix is one byte (the short path's condition).
                if key_len == 0 || key_len + value_len + 6 >= 128 {
                    general += 1;
                } else {
                    short += 1;
                }
                let key = &text[..key_len];
                let value = &text[..value_len];
                let attribute = KeyValue::new(Str::copy_from(key), Str::copy_from(value));
                // Into a buffer with room (fixed-size stores) and into one
                // that must grow (piece by piece).
                let mut roomy = Vec::with_capacity(4096);
                roomy.push(0xFF);
                put_attributes(&mut roomy, 9, std::slice::from_ref(&attribute));
                let mut cramped = Vec::with_capacity(3);
                cramped.push(0xFF);
                put_attributes(&mut cramped, 9, std::slice::from_ref(&attribute));
                let mut expected = vec![0xFF];
                expected.extend(prost_attribute(9, key, value));
                // Into slices: one with room to spare (fixed-size stores)
                // and one of the exact size (piece by piece); what lies past
                // the attribute is left as it was.
                for spare in [0, crate::wire::SHORT_ROOM] {
                    let mut slice = vec![0xEE; expected.len() + spare];
                    let mut out = slice.as_mut_slice();
                    out.put_u8(0xFF);
                    put_attributes(&mut out, 9, std::slice::from_ref(&attribute));
                    assert!(out.iter().all(|byte| *byte == 0xEE));
                    assert_eq!(
                        slice[..expected.len()],
                        expected,
                        "key {key_len} bytes, value {value_len} bytes, {spare} spare"
                    );
                }
                assert_eq!(
                    roomy, expected,
                    "key {key_len} bytes, value {value_len} bytes"
                );
                assert_eq!(
                    cramped, expected,
                    "key {key_len} bytes, value {value_len} bytes"
                );
            }
        }
        // Both paths ran, each many times.
        assert!(
            short > 1_000 && general > 1_000,
            "{short} short, {general} general"
        );
    }
}
