//! OTLP/JSON encoding of `ExportTraceServiceRequest`, `ExportLogsServiceRequest`
//! and `ExportMetricsServiceRequest` (the `Metric` in [`metric`]).
//!
//! OTLP/JSON is proto3's JSON mapping with the differences the OTLP
//! specification lists: trace and span ids are lowercase hex (not base64),
//! enums are integers, field names are lowerCamelCase, and 64-bit integers
//! are decimal strings. Default values are omitted, like in protobuf.
//! Members are written in the order their fields are declared in the
//! `.proto` files (the order of opentelemetry-proto's structs).

mod metric;

use std::io::Write;

use super::MAX_VALUE_DEPTH;
use super::grouping::Groups;
use super::kv_list::unique_entries;
use super::signal::Signal;
pub(super) use metric::put_metric;

use crate::id::encode_hex_into;
use crate::{
    AnyValue, Event, InstrumentationScope, KeyValue, Link, LogRecord, Resource, SpanData, Status,
};

/// Writes the members of one JSON object, inserting commas between them.
pub(super) struct Object<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Object<'a> {
    pub(super) fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, empty: true }
    }

    /// Starts a member and returns the buffer to write its value into.
    pub(super) fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn string(&mut self, key: &str, text: &str) {
        if !text.is_empty() {
            put_string(self.key(key), text);
        }
    }

    fn uint(&mut self, key: &str, value: u32) {
        if value != 0 {
            put_display(self.key(key), value);
        }
    }

    /// A 64-bit integer: a decimal string.
    fn uint64(&mut self, key: &str, value: u64) {
        if value != 0 {
            let out = self.key(key);
            out.push(b'"');
            put_display(out, value);
            out.push(b'"');
        }
    }

    fn hex(&mut self, key: &str, bytes: &[u8]) {
        let out = self.key(key);
        out.push(b'"');
        let start = out.len();
        out.resize(start + bytes.len() * 2, 0);
        encode_hex_into(bytes, &mut out[start..]);
        out.push(b'"');
    }

    fn attributes(&mut self, key: &str, attributes: &[KeyValue]) {
        if !attributes.is_empty() {
            put_key_values(self.key(key), attributes);
        }
    }

    pub(super) fn close(self) {
        self.out.push(b'}');
    }
}

pub(super) fn put_display(out: &mut Vec<u8>, value: impl std::fmt::Display) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{value}");
}

/// A JSON string literal with the escapes RFC 8259 requires.
pub(super) fn put_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut clean_from = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[clean_from..index]);
        if escape.is_empty() {
            let hex = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(hex[usize::from(byte >> 4)]);
            out.push(hex[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        clean_from = index + 1;
    }
    out.extend_from_slice(&bytes[clean_from..]);
    out.push(b'"');
}

pub(super) fn put_double(out: &mut Vec<u8>, value: f64) {
    if value.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
    } else {
        // `{:?}` prints the shortest representation that round-trips, always a valid JSON number.
        let _ = write!(out, "{value:?}");
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(super) fn put_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let symbols = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for (position, symbol) in symbols.iter().enumerate() {
            if position <= chunk.len() {
                out.push(BASE64[*symbol as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out.push(b'"');
}

fn put_any_value(out: &mut Vec<u8>, value: &AnyValue) {
    put_value_at(out, value, 0);
}

/// Writes `value`, `depth` levels inside arrays and key-value lists; an
/// array or list at [`MAX_VALUE_DEPTH`] is an empty value (`{}`), as the
/// protobuf encoder writes it.
fn put_value_at(out: &mut Vec<u8>, value: &AnyValue, depth: usize) {
    let mut object = Object::open(out);
    match value {
        AnyValue::Array(_) | AnyValue::KvList(_) if depth >= MAX_VALUE_DEPTH => {}
        AnyValue::String(text) => put_string(object.key("stringValue"), text),
        AnyValue::Bool(flag) => {
            object
                .key("boolValue")
                .extend_from_slice(if *flag { b"true" } else { b"false" })
        }
        AnyValue::Int(int) => {
            let out = object.key("intValue");
            out.push(b'"');
            put_display(out, int);
            out.push(b'"');
        }
        AnyValue::Double(double) => put_double(object.key("doubleValue"), *double),
        AnyValue::Bytes(bytes) => put_base64(object.key("bytesValue"), bytes),
        AnyValue::Array(values) => {
            let out = object.key("arrayValue");
            out.extend_from_slice(b"{\"values\":[");
            for (index, item) in values.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                put_value_at(out, item, depth + 1);
            }
            out.extend_from_slice(b"]}");
        }
        AnyValue::KvList(entries) => {
            let out = object.key("kvlistValue");
            out.extend_from_slice(b"{\"values\":");
            put_entries(out, unique_entries(entries), depth + 1);
            out.push(b'}');
        }
    }
    object.close();
}

fn put_key_values(out: &mut Vec<u8>, attributes: &[KeyValue]) {
    let entries = attributes
        .iter()
        .map(|attribute| (&*attribute.key, &attribute.value));
    put_entries(out, entries, 0);
}

/// A JSON array of `KeyValue` objects.
fn put_entries<'a>(
    out: &mut Vec<u8>,
    entries: impl Iterator<Item = (&'a str, &'a AnyValue)>,
    depth: usize,
) {
    out.push(b'[');
    for (index, (key, value)) in entries.enumerate() {
        if index > 0 {
            out.push(b',');
        }
        let mut object = Object::open(out);
        put_string(object.key("key"), key);
        put_value_at(object.key("value"), value, depth);
        object.close();
    }
    out.push(b']');
}

pub(super) fn put_resource(out: &mut Vec<u8>, resource: &Resource) {
    let mut object = Object::open(out);
    object.attributes("attributes", &resource.attributes);
    object.uint("droppedAttributesCount", resource.dropped_attributes_count);
    object.close();
}

pub(super) fn put_scope(out: &mut Vec<u8>, scope: &InstrumentationScope) {
    let mut object = Object::open(out);
    object.string("name", &scope.name);
    object.string("version", &scope.version);
    object.attributes("attributes", &scope.attributes);
    object.uint("droppedAttributesCount", scope.dropped_attributes_count);
    object.close();
}

fn put_event(out: &mut Vec<u8>, event: &Event) {
    let mut object = Object::open(out);
    object.uint64("timeUnixNano", event.time_unix_nano);
    object.string("name", &event.name);
    object.attributes("attributes", &event.attributes);
    object.uint("droppedAttributesCount", event.dropped_attributes_count);
    object.close();
}

fn put_link(out: &mut Vec<u8>, link: &Link) {
    let mut object = Object::open(out);
    object.hex("traceId", link.trace_id.as_bytes());
    object.hex("spanId", link.span_id.as_bytes());
    object.string("traceState", link.trace_state.header());
    object.attributes("attributes", &link.attributes);
    object.uint("droppedAttributesCount", link.dropped_attributes_count);
    object.uint("flags", link.flags.bits());
    object.close();
}

fn put_list<T>(out: &mut Vec<u8>, items: &[T], mut put: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        put(out, item);
    }
    out.push(b']');
}

pub(super) fn put_span(out: &mut Vec<u8>, span: &SpanData) {
    let mut object = Object::open(out);
    object.hex("traceId", span.trace_id.as_bytes());
    object.hex("spanId", span.span_id.as_bytes());
    object.string("traceState", span.trace_state.header());
    if let Some(parent) = &span.parent_span_id {
        object.hex("parentSpanId", parent.as_bytes());
    }
    object.uint("flags", span.flags.bits());
    object.string("name", &span.name);
    object.uint("kind", u32::from(span.kind.wire_value()));
    object.uint64("startTimeUnixNano", span.start_time_unix_nano);
    object.uint64("endTimeUnixNano", span.end_time_unix_nano);
    object.attributes("attributes", &span.attributes);
    object.uint("droppedAttributesCount", span.dropped_attributes_count);
    if !span.events.is_empty() {
        put_list(object.key("events"), &span.events, put_event);
    }
    object.uint("droppedEventsCount", span.dropped_events_count);
    if !span.links.is_empty() {
        put_list(object.key("links"), &span.links, put_link);
    }
    object.uint("droppedLinksCount", span.dropped_links_count);
    if span.status != Status::Unset {
        let mut status = Object::open(object.key("status"));
        status.string("message", span.status.message());
        status.uint("code", u32::from(span.status.code()));
        status.close();
    }
    object.close();
}

/// A log record; an absent body or id is omitted, a present one written
/// whatever its value.
pub(super) fn put_log(out: &mut Vec<u8>, log: &LogRecord) {
    let mut object = Object::open(out);
    object.uint64("timeUnixNano", log.time_unix_nano);
    object.uint64("observedTimeUnixNano", log.observed_time_unix_nano);
    object.uint("severityNumber", u32::from(log.severity_number.number()));
    object.string("severityText", &log.severity_text);
    if let Some(body) = &log.body {
        put_any_value(object.key("body"), body);
    }
    object.attributes("attributes", &log.attributes);
    object.uint("droppedAttributesCount", log.dropped_attributes_count);
    object.uint("flags", log.wire_flags());
    if let Some(trace_id) = &log.trace_id {
        object.hex("traceId", trace_id.as_bytes());
    }
    if let Some(span_id) = &log.span_id {
        object.hex("spanId", span_id.as_bytes());
    }
    object.string("eventName", &log.event_name);
    object.close();
}

/// Writes the request for `spans` (records of any signal), grouped as `groups` says.
pub(super) fn write_request<T: Signal>(groups: &Groups, spans: &[T], out: &mut Vec<u8>) {
    let mut request = Object::open(out);
    let out = request.key(T::RESOURCE_GROUPS_KEY);
    out.push(b'[');
    for (resource_index, resource_group) in groups.resources.iter().enumerate() {
        if resource_index > 0 {
            out.push(b',');
        }
        let resource = spans[resource_group.span].resource();
        let mut resource_spans = Object::open(out);
        put_resource(resource_spans.key("resource"), resource);
        let scopes_out = resource_spans.key(T::SCOPE_GROUPS_KEY);
        scopes_out.push(b'[');
        for (scope_index, scope_group) in groups.scopes_of(resource_group).enumerate() {
            if scope_index > 0 {
                scopes_out.push(b',');
            }
            let scope = spans[scope_group.span].scope();
            let mut scope_spans = Object::open(scopes_out);
            put_scope(scope_spans.key("scope"), scope);
            let spans_out = scope_spans.key(T::RECORDS_KEY);
            spans_out.push(b'[');
            for (position, &index) in groups.spans_of(scope_group).iter().enumerate() {
                if position > 0 {
                    spans_out.push(b',');
                }
                spans[index].put_json(spans_out);
            }
            spans_out.push(b']');
            scope_spans.string("schemaUrl", &scope.schema_url);
            scope_spans.close();
        }
        scopes_out.push(b']');
        resource_spans.string("schemaUrl", &resource.schema_url);
        resource_spans.close();
    }
    out.push(b']');
    request.close();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(text: &str) -> String {
        let mut out = Vec::new();
        put_string(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_escape_quotes_backslashes_and_control_characters() {
        assert_eq!(string("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
    }

    #[test]
    fn base64_pads_like_rfc_4648() {
        for (input, expected) in [
            (&b""[..], "\"\""),
            (b"f", "\"Zg==\""),
            (b"fo", "\"Zm8=\""),
            (b"foo", "\"Zm9v\""),
            (b"foob", "\"Zm9vYg==\""),
        ] {
            let mut out = Vec::new();
            put_base64(&mut out, input);
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn non_finite_doubles_use_proto3_json_names() {
        for (value, expected) in [
            (f64::NAN, "\"NaN\""),
            (f64::INFINITY, "\"Infinity\""),
            (f64::NEG_INFINITY, "\"-Infinity\""),
            (1e300, "1e300"),
            (0.5, "0.5"),
        ] {
            let mut out = Vec::new();
            put_double(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }
}
