//! A bound on the memory a request (protobuf or OTLP/JSON) takes once
//! decoded, found before decoding it, so that the cap on body bytes
//! ([`ReceiverConfig::max_request_bytes`](super::ReceiverConfig::max_request_bytes))
//! also caps what decoding allocates.
//!
//! Why: an empty message is two bytes on the wire (tag, length 0) and a
//! struct of a hundred or more bytes once decoded (a `Span` is a few
//! hundred), in a `Vec` that doubles as it grows: a body of empty log
//! records took 150 times its size in memory at the peak of decoding.
//!
//! Cost model: one walk of the body with [`otlp_core::wire::WireReader`],
//! each nested message read once, no allocation; about the cost of counting
//! spans, far less than decoding. It follows the OTLP schema (only fields
//! that decode into messages or into `Vec`s are looked at) and adds, per
//! message, the `Vec`s its repeated fields grow into (each the element size
//! times the capacity `Vec` reaches pushing that many elements, and half as
//! much again for the buffer it grew from, alive while it is copied), plus
//! [`BYTES_PER_BODY_BYTE`] times the body for strings, bytes and packed
//! numbers (copied from the body, with `Vec`'s rounding up). A body that is
//! not valid protobuf is walked as far as it goes: decoding refuses it.
//!
//! An OTLP/JSON body is walked the same way over its text (objects by their
//! lowerCamelCase keys, arrays by their elements; no allocation), and its
//! structs are counted twice: a body with doubles written as strings
//! (`"NaN"`) is decoded a second time through a JSON tree.
//!
//! The same JSON walk also finds a message written as an array
//! ([`misshapen_json`]): OTLP/JSON writes every message as an object, but
//! the decoder's derived structs also take an array of their fields in
//! order (`[]` for a whole request, `{"resourceSpans":[[]]}`), so without
//! that look such a body would be accepted.

use std::collections::HashSet;
use std::mem::size_of;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use otlp_core::wire::{WireReader, WireValue};

use super::store::Signal;

/// The decoded request may take this many bytes per byte of the cap on a
/// body. The bound of a real request is 3 to 12 times its size (2000 spans
/// with ids, times, a name and one attribute: 148 KB on the wire, 1.15 MB at
/// the peak of decoding, bounded at 1.77 MB), a little more for log records
/// of a few bytes each; a body of empty log records reached 150 (240 KB,
/// 36 MB). (Peaks measured once with a byte-counting global allocator that
/// is not in the repository; the bounds are what [`decoded_size`] returns.)
/// Past it the body is refused as one over the cap is (HTTP 413,
/// gRPC `RESOURCE_EXHAUSTED`), and counted a bad request.
pub(crate) const DECODED_BYTES_PER_CAP_BYTE: usize = 32;

/// What strings, bytes and packed numbers may take per body byte: copied
/// from the body, in `Vec`s that round small ones up (a one-byte string,
/// three bytes on the wire, gets eight) and grow by doubling.
const BYTES_PER_BODY_BYTE: u64 = 3;

/// Deeper than this, `prost` refuses the body (its recursion limit), so the
/// walk stops there.
const MAX_DEPTH: usize = 100;

/// Keys of one JSON object compared one by one to find a repeat: more than
/// any OTLP message has fields (16), so a request an SDK writes never needs
/// more. Past it the keys go into a hash set (an object of unknown fields).
const FEW_KEYS: usize = 16;

/// The messages of OTLP traces, logs and metrics that hold other messages
/// or `Vec`s, and the leaves a `Vec` holds.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Message {
    TraceRequest,
    ResourceSpans,
    ScopeSpans,
    Span,
    Event,
    Link,
    Resource,
    EntityRef,
    Scope,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
    LogsRequest,
    ResourceLogs,
    ScopeLogs,
    LogRecord,
    MetricsRequest,
    ResourceMetrics,
    ScopeMetrics,
    Metric,
    Gauge,
    Sum,
    Histogram,
    ExponentialHistogram,
    Summary,
    NumberPoint,
    HistogramPoint,
    ExponentialPoint,
    Buckets,
    SummaryPoint,
    ValueAtQuantile,
    Exemplar,
    /// A span's status: no `Vec` of its own, listed so that the JSON walk
    /// sees it written as an array ([`misshapen_json`]).
    Status,
    /// A `String` in a `Vec<String>` (its bytes are counted with the body's).
    Text,
    /// A `u64`, `i64` or `f64` in a `Vec` (packed or not).
    Number,
}

/// What a field decodes into.
#[derive(Clone, Copy)]
pub(crate) enum Field {
    /// One message inside its parent (an `Option` or a oneof member): no
    /// allocation of its own.
    One(Message),
    /// One more element of a `Vec` per occurrence.
    Many(Message),
    /// Numbers in a `Vec`: one per occurrence, or a packed run of varints
    /// (`varint`) or of 8-byte values.
    Numbers { varint: bool },
}

impl Message {
    /// The size of the decoded struct.
    fn size(self) -> usize {
        match self {
            Message::TraceRequest => size_of::<ExportTraceServiceRequest>(),
            Message::ResourceSpans => size_of::<ResourceSpans>(),
            Message::ScopeSpans => size_of::<ScopeSpans>(),
            Message::Span => size_of::<Span>(),
            Message::Event => size_of::<span::Event>(),
            Message::Link => size_of::<span::Link>(),
            Message::Resource => size_of::<Resource>(),
            Message::EntityRef => size_of::<EntityRef>(),
            Message::Scope => size_of::<InstrumentationScope>(),
            Message::KeyValue => size_of::<KeyValue>(),
            Message::AnyValue => size_of::<AnyValue>(),
            Message::ArrayValue => size_of::<ArrayValue>(),
            Message::KeyValueList => size_of::<KeyValueList>(),
            Message::LogsRequest => size_of::<ExportLogsServiceRequest>(),
            Message::ResourceLogs => size_of::<ResourceLogs>(),
            Message::ScopeLogs => size_of::<ScopeLogs>(),
            Message::LogRecord => size_of::<LogRecord>(),
            Message::MetricsRequest => size_of::<ExportMetricsServiceRequest>(),
            Message::ResourceMetrics => size_of::<ResourceMetrics>(),
            Message::ScopeMetrics => size_of::<ScopeMetrics>(),
            Message::Metric => size_of::<Metric>(),
            Message::Gauge => size_of::<Gauge>(),
            Message::Sum => size_of::<Sum>(),
            Message::Histogram => size_of::<Histogram>(),
            Message::ExponentialHistogram => size_of::<ExponentialHistogram>(),
            Message::Summary => size_of::<Summary>(),
            Message::NumberPoint => size_of::<NumberDataPoint>(),
            Message::HistogramPoint => size_of::<HistogramDataPoint>(),
            Message::ExponentialPoint => size_of::<ExponentialHistogramDataPoint>(),
            Message::Buckets => size_of::<Buckets>(),
            Message::SummaryPoint => size_of::<SummaryDataPoint>(),
            Message::ValueAtQuantile => size_of::<ValueAtQuantile>(),
            Message::Exemplar => size_of::<Exemplar>(),
            Message::Status => size_of::<Status>(),
            Message::Text => size_of::<String>(),
            Message::Number => size_of::<u64>(),
        }
    }

    /// The fields that decode into messages or `Vec`s (field numbers from
    /// the OTLP protos); other fields are strings, bytes or scalars.
    fn fields(self) -> &'static [(u32, Field)] {
        use Field::{Many, Numbers, One};
        use Message as M;
        match self {
            M::TraceRequest => &[(1, Many(M::ResourceSpans))],
            M::ResourceSpans => &[(1, One(M::Resource)), (2, Many(M::ScopeSpans))],
            M::ScopeSpans => &[(1, One(M::Scope)), (2, Many(M::Span))],
            M::Span => &[
                (9, Many(M::KeyValue)),
                (11, Many(M::Event)),
                (13, Many(M::Link)),
                (15, One(M::Status)),
            ],
            M::Event => &[(3, Many(M::KeyValue))],
            M::Link => &[(4, Many(M::KeyValue))],
            M::Resource => &[(1, Many(M::KeyValue)), (3, Many(M::EntityRef))],
            M::EntityRef => &[(3, Many(M::Text)), (4, Many(M::Text))],
            M::Scope => &[(3, Many(M::KeyValue))],
            M::KeyValue => &[(2, One(M::AnyValue))],
            M::AnyValue => &[(5, One(M::ArrayValue)), (6, One(M::KeyValueList))],
            M::ArrayValue => &[(1, Many(M::AnyValue))],
            M::KeyValueList => &[(1, Many(M::KeyValue))],
            M::LogsRequest => &[(1, Many(M::ResourceLogs))],
            M::ResourceLogs => &[(1, One(M::Resource)), (2, Many(M::ScopeLogs))],
            M::ScopeLogs => &[(1, One(M::Scope)), (2, Many(M::LogRecord))],
            M::LogRecord => &[(5, One(M::AnyValue)), (6, Many(M::KeyValue))],
            M::MetricsRequest => &[(1, Many(M::ResourceMetrics))],
            M::ResourceMetrics => &[(1, One(M::Resource)), (2, Many(M::ScopeMetrics))],
            M::ScopeMetrics => &[(1, One(M::Scope)), (2, Many(M::Metric))],
            M::Metric => &[
                (5, One(M::Gauge)),
                (7, One(M::Sum)),
                (9, One(M::Histogram)),
                (10, One(M::ExponentialHistogram)),
                (11, One(M::Summary)),
                (12, Many(M::KeyValue)),
            ],
            M::Gauge | M::Sum => &[(1, Many(M::NumberPoint))],
            M::Histogram => &[(1, Many(M::HistogramPoint))],
            M::ExponentialHistogram => &[(1, Many(M::ExponentialPoint))],
            M::Summary => &[(1, Many(M::SummaryPoint))],
            M::NumberPoint => &[(5, Many(M::Exemplar)), (7, Many(M::KeyValue))],
            M::HistogramPoint => &[
                (6, Numbers { varint: false }),
                (7, Numbers { varint: false }),
                (8, Many(M::Exemplar)),
                (9, Many(M::KeyValue)),
            ],
            M::ExponentialPoint => &[
                (1, Many(M::KeyValue)),
                (8, One(M::Buckets)),
                (9, One(M::Buckets)),
                (11, Many(M::Exemplar)),
            ],
            M::Buckets => &[(2, Numbers { varint: true })],
            M::SummaryPoint => &[(6, Many(M::ValueAtQuantile)), (7, Many(M::KeyValue))],
            M::Exemplar => &[(7, Many(M::KeyValue))],
            M::ValueAtQuantile | M::Status | M::Text | M::Number => &[],
        }
    }
}

/// An upper bound, in bytes, on the memory decoding `body` as a request of
/// `signal` holds at its peak (its structs, `Vec`s, strings and bytes).
pub(crate) fn decoded_size(signal: Signal, body: &[u8]) -> u64 {
    let request = request_of(signal);
    let mut total = request.size() as u64;
    walk(body, request, 0, &mut total);
    total.saturating_add((body.len() as u64).saturating_mul(BYTES_PER_BODY_BYTE))
}

/// The most elements a `Vec` holds memory for at once while `n` are pushed
/// one by one: its capacity, 4 at least and then doubling (what `Vec::push`
/// does for elements of up to 1 KiB), plus, once it has grown, the
/// half-size buffer it was copied from.
fn peak_capacity(n: u64) -> u64 {
    match n.max(4).checked_next_power_of_two() {
        // Allocated once, at its first push.
        Some(4) => 4,
        Some(capacity) => capacity + capacity / 2,
        None => u64::MAX,
    }
}

/// Adds to `total` the `Vec`s of the `message` encoded in `bytes` and of
/// every message inside it.
fn walk(bytes: &[u8], message: Message, depth: usize, total: &mut u64) {
    if depth > MAX_DEPTH {
        return;
    }
    let fields = message.fields();
    // Elements pushed into each field's `Vec` (`Metric` has the most such fields: six).
    let mut pushed = [0u64; 6];
    let mut reader = WireReader::new(bytes);
    while let Ok(Some((number, value))) = reader.next_field() {
        let Some(index) = fields.iter().position(|(field, _)| *field == number) else {
            continue;
        };
        let Some(pushed) = pushed.get_mut(index) else {
            continue;
        };
        match (fields[index].1, value) {
            (Field::One(child), WireValue::Len(payload)) => {
                walk(payload, child, depth + 1, total);
            }
            (Field::Many(child), WireValue::Len(payload)) => {
                *pushed += 1;
                walk(payload, child, depth + 1, total);
            }
            (Field::Numbers { varint: true }, WireValue::Len(packed)) => {
                *pushed += packed.iter().filter(|&&byte| byte < 0x80).count() as u64;
            }
            (Field::Numbers { varint: false }, WireValue::Len(packed)) => {
                *pushed += (packed.len() / 8) as u64;
            }
            (Field::Numbers { .. }, _) => *pushed += 1,
            // The wrong wire type: decoding refuses the body.
            (Field::One(_) | Field::Many(_), _) => {}
        }
    }
    add_vecs(fields, &pushed, total);
}

impl Message {
    /// The OTLP/JSON name of field `number` of this message (lowerCamelCase),
    /// for the fields [`fields`](Self::fields) lists.
    fn json_name(self, number: u32) -> &'static str {
        use Message as M;
        match (self, number) {
            (M::TraceRequest, 1) => "resourceSpans",
            (M::LogsRequest, 1) => "resourceLogs",
            (M::MetricsRequest, 1) => "resourceMetrics",
            (M::ResourceSpans | M::ResourceLogs | M::ResourceMetrics, 1) => "resource",
            (M::ResourceSpans, 2) => "scopeSpans",
            (M::ResourceLogs, 2) => "scopeLogs",
            (M::ResourceMetrics, 2) => "scopeMetrics",
            (M::ScopeSpans | M::ScopeLogs | M::ScopeMetrics, 1) => "scope",
            (M::ScopeSpans, 2) => "spans",
            (M::ScopeLogs, 2) => "logRecords",
            (M::ScopeMetrics, 2) => "metrics",
            (M::Span, 11) => "events",
            (M::Span, 13) => "links",
            (M::Span, 15) => "status",
            (M::Resource, 3) => "entityRefs",
            (M::EntityRef, 3) => "idKeys",
            (M::EntityRef, 4) => "descriptionKeys",
            (M::KeyValue, 2) => "value",
            (M::AnyValue, 5) => "arrayValue",
            (M::AnyValue, 6) => "kvlistValue",
            (M::ArrayValue | M::KeyValueList, 1) => "values",
            (M::LogRecord, 5) => "body",
            (M::Metric, 5) => "gauge",
            (M::Metric, 7) => "sum",
            (M::Metric, 9) => "histogram",
            (M::Metric, 10) => "exponentialHistogram",
            (M::Metric, 11) => "summary",
            (M::Metric, 12) => "metadata",
            (M::Gauge | M::Sum | M::Histogram | M::ExponentialHistogram | M::Summary, 1) => {
                "dataPoints"
            }
            (M::NumberPoint, 5) | (M::HistogramPoint, 8) | (M::ExponentialPoint, 11) => "exemplars",
            (M::HistogramPoint, 6) | (M::Buckets, 2) => "bucketCounts",
            (M::HistogramPoint, 7) => "explicitBounds",
            (M::ExponentialPoint, 8) => "positive",
            (M::ExponentialPoint, 9) => "negative",
            (M::SummaryPoint, 6) => "quantileValues",
            (M::Exemplar, 7) => "filteredAttributes",
            // Every other listed field is a message's `attributes`.
            _ => "attributes",
        }
    }

    /// Whether `key` names a member of this message's oneof (a metric's
    /// `data`, a number data point's or an exemplar's `value`, an
    /// `AnyValue`'s `value`; OTLP has no other oneof of several members):
    /// a JSON object gives at most one of them.
    fn is_oneof_member(self, key: &[u8]) -> bool {
        use Message as M;
        let members: &[&str] = match self {
            M::Metric => &[
                "gauge",
                "sum",
                "histogram",
                "exponentialHistogram",
                "summary",
            ],
            M::NumberPoint | M::Exemplar => &["asDouble", "asInt"],
            M::AnyValue => &[
                "stringValue",
                "boolValue",
                "intValue",
                "doubleValue",
                "arrayValue",
                "kvlistValue",
                "bytesValue",
            ],
            _ => &[],
        };
        members.iter().any(|member| member.as_bytes() == key)
    }

    /// The field a JSON key names: its lowerCamelCase name, the only
    /// spelling the decoder reads (it ignores others, as unknown fields).
    pub(crate) fn json_field(self, key: &[u8]) -> Option<(usize, Field)> {
        self.fields()
            .iter()
            .enumerate()
            .find(|(_, (number, _))| self.json_name(*number).as_bytes() == key)
            .map(|(index, &(_, field))| (index, field))
    }
}

/// [`decoded_size`] for an OTLP/JSON body: the same structs and `Vec`s,
/// found by walking the JSON text (objects by their keys, arrays by their
/// elements) instead of the protobuf. Text that is not JSON is walked as far
/// as it goes: decoding refuses it.
pub(crate) fn decoded_size_json(signal: Signal, body: &[u8]) -> u64 {
    let request = request_of(signal);
    let mut total = request.size() as u64;
    let mut json = Json::new(body);
    json.object(request, 0, &mut total);
    // Strings are copied out of the text; a JSON tree may be built once
    // more when the first decode fails (doubles written as strings, empty
    // members left out: `json_doubles`), about the structs' size again.
    total
        .saturating_mul(2)
        .saturating_add((body.len() as u64).saturating_mul(BYTES_PER_BODY_BYTE))
}

/// Where an OTLP/JSON request of `signal` writes a message as an array
/// (the request itself, a field that holds one message, or an element of a
/// field that holds several), gives a message's field twice, or gives two
/// members of one oneof (neither `null`), named for the client; `None` if it
/// does none of these (text that is not JSON included: decoding refuses it).
/// OTLP/JSON is the proto3 JSON mapping, where a message is an object with
/// each field once and at most one member of a oneof; the decoder's derived
/// structs would also take an array of their fields in order, its second
/// decode (through a JSON tree, `json_doubles`) keeps the last of two
/// values, and of two oneof members it keeps one, the first or the last
/// depending on the oneof, while counting alone keeps another.
///
/// Cost: one walk of the text, as [`decoded_size_json`]'s, and a list of
/// the keys of the object being walked.
pub(crate) fn misshapen_json(signal: Signal, body: &[u8]) -> Option<String> {
    let mut json = Json::new(body);
    if json.peek() == Some(b'[') {
        return Some(format!(
            "the request is a JSON array; OTLP/JSON writes an {} as an object",
            request_name(signal)
        ));
    }
    let mut total = 0;
    json.object(request_of(signal), 0, &mut total);
    json.misshapen.map(|misshapen| match misshapen {
        Misshapen::ArrayElement(key) => {
            format!("an element of `{key}` is a JSON array; OTLP/JSON writes each as an object")
        }
        Misshapen::Array(key) => {
            format!("`{key}` holds a JSON array; OTLP/JSON writes that message as an object")
        }
        Misshapen::Repeated(key) => {
            format!("`{key}` is given twice in one object; OTLP/JSON gives each field once")
        }
        Misshapen::TwoOfOneof { first, second } => format!(
            "`{first}` and `{second}` are both given in one object; they are members of one \
             oneof, of which OTLP/JSON gives at most one"
        ),
    })
}

/// What [`misshapen_json`] found, with the key it is about.
enum Misshapen {
    /// A field that holds one message holds an array.
    Array(String),
    /// An element of a field that holds messages is an array.
    ArrayElement(String),
    /// A key given twice in one message's object.
    Repeated(String),
    /// Two members of one oneof (not `null`) given in one message's object.
    TwoOfOneof { first: String, second: String },
}

/// The request message of `signal`, where a walk starts.
fn request_of(signal: Signal) -> Message {
    match signal {
        Signal::Logs => Message::LogsRequest,
        Signal::Metrics => Message::MetricsRequest,
        _ => Message::TraceRequest,
    }
}

/// The name of `signal`'s request message, for messages to the client.
fn request_name(signal: Signal) -> &'static str {
    match signal {
        Signal::Logs => "ExportLogsServiceRequest",
        Signal::Metrics => "ExportMetricsServiceRequest",
        _ => "ExportTraceServiceRequest",
    }
}

/// The keys of one JSON object seen so far, to find one given twice: a
/// list while it is short (every OTLP message has at most 16 fields), a
/// hash set past [`FEW_KEYS`], so that an object of many keys (unknown
/// fields, which the decoder skips) costs one lookup per key, not a
/// comparison with every key before it.
#[derive(Default)]
struct SeenKeys<'a> {
    few: Vec<&'a [u8]>,
    many: Option<HashSet<&'a [u8]>>,
}

impl<'a> SeenKeys<'a> {
    /// Adds `key`; `false` if it was given before.
    fn insert(&mut self, key: &'a [u8]) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(key);
        }
        #[cfg(test)]
        tests::KEY_COMPARISONS.with(|count| count.set(count.get() + self.few.len() as u64));
        if self.few.contains(&key) {
            return false;
        }
        if self.few.len() < FEW_KEYS {
            self.few.push(key);
        } else {
            let mut many: HashSet<&[u8]> = self.few.drain(..).collect();
            many.insert(key);
            self.many = Some(many);
        }
        true
    }
}

/// A cursor over JSON text that never panics: every read is checked, and
/// text that is not JSON ends the walk.
struct Json<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// The first message found written as an array, or with a key given
    /// twice, which ends the walk.
    misshapen: Option<Misshapen>,
}

impl<'a> Json<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Json {
            bytes,
            pos: 0,
            misshapen: None,
        }
    }

    /// Notes what is wrong with the message at `key` (`make` names it); the
    /// walk ends there.
    fn misshapen(&mut self, key: &[u8], make: fn(String) -> Misshapen) -> bool {
        self.misshapen = Some(make(String::from_utf8_lossy(key).into_owned()));
        false
    }
    fn peek(&mut self) -> Option<u8> {
        while let Some(&byte) = self.bytes.get(self.pos) {
            if !byte.is_ascii_whitespace() {
                return Some(byte);
            }
            self.pos += 1;
        }
        None
    }

    /// Consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// A string's raw text (escapes left as they are), after its quote.
    fn string(&mut self) -> Option<&'a [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        loop {
            match self.bytes.get(self.pos)? {
                b'"' => {
                    self.pos += 1;
                    return self.bytes.get(start..self.pos - 1);
                }
                b'\\' => self.pos += 2,
                _ => self.pos += 1,
            }
        }
    }

    /// Skips one value of any kind; `false` if the text is not JSON.
    fn skip(&mut self, depth: usize) -> bool {
        match self.peek() {
            Some(b'"') => self.string().is_some(),
            Some(b'{') if depth <= MAX_DEPTH => {
                self.pos += 1;
                if self.eat(b'}') {
                    return true;
                }
                loop {
                    if self.string().is_none() || !self.eat(b':') || !self.skip(depth + 1) {
                        return false;
                    }
                    if self.eat(b'}') {
                        return true;
                    }
                    if !self.eat(b',') {
                        return false;
                    }
                }
            }
            Some(b'[') if depth <= MAX_DEPTH => {
                self.pos += 1;
                if self.eat(b']') {
                    return true;
                }
                loop {
                    if !self.skip(depth + 1) {
                        return false;
                    }
                    if self.eat(b']') {
                        return true;
                    }
                    if !self.eat(b',') {
                        return false;
                    }
                }
            }
            Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                let start = self.pos;
                while let Some(byte) = self.bytes.get(self.pos) {
                    if matches!(byte, b',' | b'}' | b']') || byte.is_ascii_whitespace() {
                        break;
                    }
                    self.pos += 1;
                }
                self.pos > start
            }
            _ => false,
        }
    }

    /// Walks an object holding `message`, adding its `Vec`s (and those of
    /// the messages inside it) to `total`; `false` if the text is not JSON.
    fn object(&mut self, message: Message, depth: usize, total: &mut u64) -> bool {
        if depth > MAX_DEPTH || !self.eat(b'{') {
            return false;
        }
        let fields = message.fields();
        let mut pushed = [0u64; 6];
        let mut fine = self.eat(b'}');
        let mut open = !fine;
        // The keys so far, compared as written (an escaped spelling of a
        // key is not matched).
        let mut keys = SeenKeys::default();
        // The member of the message's oneof given so far, if any.
        let mut oneof_member: Option<&[u8]> = None;
        while open {
            let Some(key) = self.string() else { break };
            if !keys.insert(key) {
                self.misshapen(key, Misshapen::Repeated);
                break;
            }
            let field = message.json_field(key);
            if !self.eat(b':') {
                break;
            }
            // A `null` member is not given (proto3 JSON), as Go's protojson
            // reads it: only members with a value count.
            if self.peek() != Some(b'n') && message.is_oneof_member(key) {
                if let Some(first) = oneof_member {
                    self.misshapen = Some(Misshapen::TwoOfOneof {
                        first: String::from_utf8_lossy(first).into_owned(),
                        second: String::from_utf8_lossy(key).into_owned(),
                    });
                    break;
                }
                oneof_member = Some(key);
            }
            let walked = match field {
                Some((_, Field::One(child))) if self.peek() == Some(b'{') => {
                    self.object(child, depth + 1, total)
                }
                Some((_, Field::One(_))) if self.peek() == Some(b'[') => {
                    self.misshapen(key, Misshapen::Array)
                }
                Some((index, field @ (Field::Many(_) | Field::Numbers { .. })))
                    if self.peek() == Some(b'[') =>
                {
                    let count = self.array(key, field, depth + 1, total);
                    match (count, pushed.get_mut(index)) {
                        (Some(count), Some(pushed)) => {
                            *pushed += count;
                            true
                        }
                        _ => false,
                    }
                }
                _ => self.skip(depth + 1),
            };
            if !walked {
                break;
            }
            if self.eat(b'}') {
                fine = true;
                open = false;
            } else if !self.eat(b',') {
                break;
            }
        }
        add_vecs(fields, &pushed, total);
        fine
    }

    /// Walks the array of `field`'s elements under `key`; their count,
    /// `None` if the text is not JSON (or an element that is a message is
    /// written as an array).
    fn array(&mut self, key: &[u8], field: Field, depth: usize, total: &mut u64) -> Option<u64> {
        if depth > MAX_DEPTH || !self.eat(b'[') {
            return None;
        }
        let mut count = 0;
        if self.eat(b']') {
            return Some(0);
        }
        loop {
            let walked = match field {
                Field::Many(child) if self.peek() == Some(b'{') => {
                    self.object(child, depth + 1, total)
                }
                Field::Many(Message::Text) => self.skip(depth + 1),
                Field::Many(_) if self.peek() == Some(b'[') => {
                    self.misshapen(key, Misshapen::ArrayElement)
                }
                _ => self.skip(depth + 1),
            };
            if !walked {
                return None;
            }
            count += 1;
            if self.eat(b']') {
                return Some(count);
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }
}

/// Adds the peak size of each `Vec` field that got `pushed` elements.
fn add_vecs(fields: &[(u32, Field)], pushed: &[u64; 6], total: &mut u64) {
    for ((_, field), &count) in fields.iter().zip(pushed) {
        let element = match *field {
            Field::One(_) => continue,
            Field::Many(child) => child.size(),
            Field::Numbers { .. } => Message::Number.size(),
        };
        if count > 0 {
            *total = total.saturating_add(peak_capacity(count).saturating_mul(element as u64));
        }
    }
}

/// Fails, with a message for the client, if decoding `body` could take more
/// than [`DECODED_BYTES_PER_CAP_BYTE`] times `cap` bytes.
pub(crate) fn check(signal: Signal, body: &[u8], cap: usize) -> Result<(), String> {
    refuse_past_limit(decoded_size(signal, body), cap)
}

/// [`check`] for an OTLP/JSON body.
pub(crate) fn check_json(signal: Signal, body: &[u8], cap: usize) -> Result<(), String> {
    refuse_past_limit(decoded_size_json(signal, body), cap)
}

fn refuse_past_limit(size: u64, cap: usize) -> Result<(), String> {
    let limit = (cap as u64).saturating_mul(DECODED_BYTES_PER_CAP_BYTE as u64);
    if size > limit {
        return Err(format!(
            "the request would take about {size} bytes decoded, more than the receiver's \
             limit of {limit} ({DECODED_BYTES_PER_CAP_BYTE} times its limit of {cap} bytes \
             on a request body): send fewer items per request"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use prost::Message as _;

    use super::*;

    thread_local! {
        /// Keys [`SeenKeys::insert`] compared on this thread.
        pub(super) static KEY_COMPARISONS: Cell<u64> = const { Cell::new(0) };
    }

    /// An object with many keys, each given once (unknown fields, which
    /// the decoder skips), costs the JSON walks a bounded number of key
    /// comparisons per key: each key was compared with every key before it,
    /// so a log record of 100,000 such keys (a 1 MB body) held a receiver
    /// thread for minutes, and a 64 MiB body for hours.
    #[test]
    fn an_object_of_many_keys_is_walked_in_time_that_grows_with_its_size() {
        let keys = 20_000;
        let record: Vec<String> = (0..keys).map(|i| format!("\"k{i}\":0")).collect();
        let body = format!(
            r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{{}}}]}}]}}]}}"#,
            record.join(",")
        );
        let before = KEY_COMPARISONS.with(Cell::get);
        assert_eq!(misshapen_json(Signal::Logs, body.as_bytes()), None);
        let _ = decoded_size_json(Signal::Logs, body.as_bytes());
        let compared = KEY_COMPARISONS.with(Cell::get) - before;
        assert!(compared <= 64 * keys, "{compared} key comparisons");
        // A key given twice among many is still found.
        let repeated = body.replacen("\"k19999\"", "\"k7\"", 1);
        assert_eq!(
            misshapen_json(Signal::Logs, repeated.as_bytes()).as_deref(),
            Some("`k7` is given twice in one object; OTLP/JSON gives each field once")
        );
    }

    /// A request of `count` empty spans in one resource and scope.
    fn empty_spans(count: usize) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span::default(); count],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn empty_spans_are_counted_at_their_decoded_size() {
        let request = empty_spans(1000);
        let body = request.encode_to_vec();
        let size = decoded_size(Signal::Traces, &body);
        assert!(
            size >= 1536 * size_of::<Span>() as u64,
            "{size} for {} bytes",
            body.len()
        );
        // The spans' `Vec` (capacity 1024, grown from 512), the body's bytes,
        // the small rest.
        let most = 1536 * size_of::<Span>() + 3 * body.len() + 4096;
        assert!(size <= most as u64, "{size} > {most}");
    }

    /// An unknown group, which `prost` skips, does not end the walk: before,
    /// the walk stopped at the first group (its reader refused wire type 3),
    /// so a group in front of a body hid everything after it from the bound
    /// while `prost` went on to decode it all.
    #[test]
    fn an_unknown_group_in_front_hides_nothing_from_the_bound() {
        use otlp_core::wire::{WIRE_END_GROUP, WIRE_START_GROUP, put_tag};
        let request = empty_spans(1000);
        let body = request.encode_to_vec();
        let mut grouped = Vec::new();
        put_tag(&mut grouped, 99, WIRE_START_GROUP);
        put_tag(&mut grouped, 99, WIRE_END_GROUP);
        grouped.extend_from_slice(&body);
        let decoded = ExportTraceServiceRequest::decode(&grouped[..]).expect("prost skips it");
        assert_eq!(decoded, request);
        let alone = decoded_size(Signal::Traces, &body);
        let behind_a_group = decoded_size(Signal::Traces, &grouped);
        assert!(
            behind_a_group >= alone,
            "{behind_a_group} behind a group, {alone} alone"
        );
    }

    /// The JSON walk finds the same structs and `Vec`s as the protobuf one
    /// (its bound is twice theirs, for a JSON tree built once more, plus the
    /// text), and it never panics on text that is not JSON.
    #[test]
    fn a_json_body_is_bounded_like_its_protobuf_form() {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (0..1000u64)
                        .map(|i| Span {
                            name: "s".into(),
                            start_time_unix_nano: i,
                            attributes: vec![KeyValue {
                                key: "k".into(),
                                value: Some(AnyValue::default()),
                                ..Default::default()
                            }],
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let protobuf = request.encode_to_vec();
        let json = serde_json::to_vec(&request).expect("JSON");
        let structs = decoded_size(Signal::Traces, &protobuf) - 3 * protobuf.len() as u64;
        let bound = decoded_size_json(Signal::Traces, &json);
        assert_eq!(bound, 2 * structs + 3 * json.len() as u64);
        // Real text is far below the limit per byte.
        assert!(
            bound < (DECODED_BYTES_PER_CAP_BYTE as u64 / 2) * json.len() as u64,
            "{bound} for {} bytes",
            json.len()
        );
        for text in [
            &b"{"[..],
            b"{\"resourceSpans\":[{",
            b"[1,2",
            b"\"x",
            b"{\"a\":tru",
            b"}}]]",
        ] {
            let _ = decoded_size_json(Signal::Traces, text);
        }
    }
}
