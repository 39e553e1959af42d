//! OTLP/JSON that `opentelemetry-proto`'s serde refuses: doubles given as
//! strings, empty members left out, bytes in base64's other forms. OTLP/JSON
//! is the proto3 JSON mapping, where a `double` field may hold a string: one
//! of `"NaN"`, `"Infinity"` and `"-Infinity"`, or a number written as JSON
//! writes numbers (`"1.5"`, `"-0"`, `"1e-9"`; the Collector reads these too).
//! `opentelemetry-proto`'s serde takes the three names only for a summary
//! point's `quantile` and `value`, and refuses strings everywhere else (a
//! gauge's `asDouble`, a histogram's `sum`, `min` and `max`, an attribute's
//! `doubleValue`...).
//!
//! Cost model: a body is first decoded as it is, straight from its bytes.
//! Only a body that fails to decode for its content (not its syntax) is
//! parsed again, into a [`serde_json::Value`], completed (see below) and
//! decoded from that value by [`JsonValue`], which hands those strings to a
//! `double` field as numbers: about twice the work and the memory of the
//! body's tree, for such bodies only (the receiver's decoded-size bound
//! counts that tree).
//!
//! A string is read as a double only as the value of a key that names a
//! `double` field somewhere in OTLP ([`DOUBLE_FIELDS`]), or as an element of
//! an array under such a key (`explicitBounds`), so `"stringValue": "NaN"`
//! stays a string; and only when it is one of the three names or a JSON
//! number within a double's range ([`double_string`]): `" 1"`, `"+1"`,
//! `".5"`, `"1e400"` are still refused, as Go's `protojson` refuses them.
//!
//! The slow path also reads a `bytesValue` written URL-safe (`-` and `_`)
//! or without its `=` padding, which proto3 JSON accepts besides the
//! standard padded base64 it writes, and which that serde refuses
//! ([`standard_base64`]).
//!
//! The same slow path fills in the members canonical proto3 JSON leaves out
//! (empty repeated fields, empty strings) where that serde requires them
//! ([`fill_omitted_members`]): the `values` of an empty `arrayValue` or
//! `kvlistValue` (`{"arrayValue":{}}`, what Go's `protojson` and the
//! Collector write for an empty list attribute) and the `key` of a key-value
//! whose key is empty; and it drops `null` members, which proto3 JSON reads
//! as the field's default.
//!
//! An id (`traceId`, `spanId`, `parentSpanId`) written with a `0x` or `0X`
//! prefix is refused, naming the field ([`check_id`]): OTLP/JSON ids are hex
//! digits and the Collector refuses the prefix, but opentelemetry-proto's hex
//! reader strips it. The first decode cannot tell, so a body that decodes
//! there is decoded again when a string in it may start so
//! ([`may_hold_prefixed_id`], one pass over the bytes): the bodies an SDK
//! sends rarely hold one.
//!
//! The slow path reads only the keys that name a field of the message they
//! are in (the OTLP messages as [`Message`] lists them, and [`scalar_keys`]):
//! what an unknown field holds is left alone and can never refuse the
//! request, as receivers ignore unknown fields.
//!
//! It also reads the 32-bit integer fields (enums, counts, flags) given as
//! decimal strings (`"kind":"2"`, `"droppedAttributesCount":"3"`): proto3
//! JSON accepts a number or a string for every integer type, and
//! opentelemetry-proto's serde takes strings for the 64-bit ones only. And
//! it reads an integer of any width written in exponent notation or with a
//! zero fraction, quoted or not (`1e3`, `"1.7e18"`, `3.0`), which the proto3
//! JSON mapping accepts ("in both quoted and unquoted forms"; Go's
//! `protojson` reads them, the Collector does not) and that serde refuses.
//! A string in JSON's number grammar under the key of an integer field
//! ([`IntegerType::of`]), or a number that is not written as a plain
//! integer, becomes that integer ([`read_integer`]); one that is not a whole
//! number, or outside the field's range, is refused, naming the key and the
//! value. A quoted value is read exactly; an unquoted one in exponent or
//! fraction form is the double `serde_json` reads it as (exact for what a
//! program writes from a double, rounded past 17 significant digits).
//!
//! opentelemetry-proto's serde reads a oneof (a metric's data, a number data
//! point's and an exemplar's value) through `#[serde(flatten)]` into an
//! `Option`, which turns any error inside it into `None`: a body whose only
//! non-finite double is a gauge point's `asDouble` decodes without error, and
//! without the value. A request that decodes with such a oneof absent
//! ([`JsonOneofs::has_absent_oneof`], never the case in a request an SDK
//! sends) takes the slow path too, and one still absent there while its
//! member is in the body is refused
//! ([`JsonOneofs::check_absent_oneofs`]), as the protobuf twin of a
//! member that does not decode is.

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess};
use serde_json::Value;

use super::decoded_size::{Field, Message};

/// The OTLP/JSON keys of `double` fields (and of repeated `double` fields)
/// in traces, logs and metrics. The same keys also name message fields
/// (a metric's `sum`, a key-value's `value`): there the value is an object,
/// and only strings are read differently.
const DOUBLE_FIELDS: &[&str] = &[
    "asDouble",
    "doubleValue",
    "sum",
    "min",
    "max",
    "zeroThreshold",
    "explicitBounds",
    "quantile",
    "value",
];

/// The OTLP/JSON keys of signed 32-bit integer fields (`int32`, `sint32`
/// and enums) in traces, logs and metrics; no key of another type has these
/// names.
const INT32_FIELDS: &[&str] = &[
    "kind",
    "code",
    "severityNumber",
    "aggregationTemporality",
    "scale",
    "offset",
    "keyStrindex",
];

/// The OTLP/JSON keys of signed 64-bit integer fields (`int64`,
/// `sfixed64`) in traces, logs and metrics.
const INT64_FIELDS: &[&str] = &["intValue", "asInt"];

/// The OTLP/JSON keys of unsigned 64-bit integer fields (`uint64`,
/// `fixed64`, and the repeated `bucketCounts`) in traces, logs and metrics.
const UINT64_FIELDS: &[&str] = &[
    "startTimeUnixNano",
    "endTimeUnixNano",
    "timeUnixNano",
    "observedTimeUnixNano",
    "count",
    "zeroCount",
    "bucketCounts",
];

/// The OTLP/JSON keys of the id fields (hex strings in OTLP/JSON), whose
/// values may not start with `0x` or `0X` ([`check_id`]).
const ID_FIELDS: &[&str] = &["traceId", "spanId", "parentSpanId"];

/// The OTLP/JSON keys of unsigned 32-bit integer fields (`uint32` and
/// `fixed32`) in traces, logs and metrics.
const UINT32_FIELDS: &[&str] = &[
    "flags",
    "droppedAttributesCount",
    "droppedEventsCount",
    "droppedLinksCount",
];

/// A request decoded from OTLP/JSON whose oneofs serde may have read as
/// absent (see the [module docs](self)).
pub(crate) trait JsonOneofs: DeserializeOwned {
    /// This request's message: the slow path reads a key only where it names
    /// a field of the message it is in, leaving unknown fields alone.
    const REQUEST: Message;

    /// Whether a oneof of this request is absent: opentelemetry-proto's serde
    /// reads oneofs through `#[serde(flatten)]` into an `Option`, which turns
    /// an error inside the member into `None`, so an absent oneof may be one
    /// that did not decode. Only metrics have such oneofs.
    fn has_absent_oneof(&self) -> bool {
        false
    }

    /// Fails, naming the member, when a oneof absent from this request is
    /// present in `json`, the parsed body it was decoded from (so the member
    /// did not decode).
    fn check_absent_oneofs(&self, json: &Value) -> Result<(), serde_json::Error> {
        let _ = json;
        Ok(())
    }
}

/// Decodes an OTLP/JSON request, taking `"NaN"`, `"Infinity"`,
/// `"-Infinity"` and decimal strings in its `double` fields, the members
/// proto3 JSON may leave out ([`fill_omitted_members`]), 32-bit integers given
/// as strings, and URL-safe or unpadded base64 in `bytesValue`. The
/// error is the first decode's (with its line and column) when the second one
/// fails too; a oneof whose member is in the body but does not decode, an
/// integer string out of its field's range and an id written with a `0x`
/// prefix are errors naming them.
pub(crate) fn from_slice<R: JsonOneofs>(body: &[u8]) -> Result<R, serde_json::Error> {
    let first_error = match serde_json::from_slice::<R>(body) {
        Ok(request) if !request.has_absent_oneof() && !may_hold_prefixed_id(body) => {
            return Ok(request);
        }
        // Dropped before the second decode, whose memory the receiver's
        // decoded-size bound counts once.
        Ok(_) => None,
        Err(error) if error.is_data() => Some(error),
        Err(error) => return Err(error),
    };
    let mut value = match serde_json::from_slice::<Value>(body) {
        Ok(value) => value,
        Err(error) => return Err(first_error.unwrap_or(error)),
    };
    fill_omitted_members(&mut value, R::REQUEST)?;
    let request = decode_value::<R>(&value).map_err(|error| first_error.unwrap_or(error))?;
    request.check_absent_oneofs(&value)?;
    Ok(request)
}

/// Decodes `value` (a parsed body or a part of one) as `T`, taking
/// `"NaN"`, `"Infinity"`, `"-Infinity"` and decimal strings (`"1.5"`) in
/// `double` fields ([`double_string`]). Members are
/// not filled in: `value` is expected to have been through
/// [`fill_omitted_members`].
pub(crate) fn decode_value<T: DeserializeOwned>(value: &Value) -> Result<T, serde_json::Error> {
    T::deserialize(JsonValue {
        value,
        double: false,
    })
}

/// Fills in, as proto3 JSON reads them, the members opentelemetry-proto's
/// serde requires and canonical proto3 JSON leaves out when empty: `values`
/// (an empty list) of an `arrayValue` or a `kvlistValue`, `key` (an empty
/// string) of a key-value (in `attributes`, `filteredAttributes`, `metadata`
/// or a `kvlistValue`), and the four members of a resource's entity
/// reference (`entityRefs`). A `null` member is removed first: proto3 JSON reads
/// it as the field's default, that serde only where the field is an `Option`.
/// A decimal string under the key of an integer field, or a number in
/// exponent or fraction form, becomes that integer ([`read_integer`]); a
/// `bytesValue` written URL-safe or unpadded
/// becomes its standard padded base64 ([`standard_base64`]); an id
/// written with a `0x` prefix is an error ([`check_id`]).
///
/// `value` is a `message` (or a list of them). Only the keys that name a field
/// of it are read: those of its message fields ([`Message::json_field`],
/// walked as the message they hold) and of its scalar fields read here
/// ([`scalar_keys`]). Any other key is an unknown field (or a scalar decoded
/// as it is) and its value is left as it is: receivers ignore unknown
/// fields, so nothing inside one may refuse the request. Recursion is bounded
/// by `serde_json`'s nesting limit (128) on the parsed value.
fn fill_omitted_members(value: &mut Value, message: Message) -> Result<(), serde_json::Error> {
    match value {
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|item| fill_omitted_members(item, message)),
        Value::Object(fields) => {
            fields.retain(|_, field| !field.is_null());
            for (key, field) in fields.iter_mut() {
                let child = match message.json_field(key.as_bytes()) {
                    Some((_, Field::One(child) | Field::Many(child))) => child,
                    Some((_, Field::Numbers { .. })) => {
                        // `bucketCounts` (integers); `explicitBounds` are doubles.
                        if let Value::Array(items) = field {
                            items
                                .iter_mut()
                                .try_for_each(|item| read_integer(key, item))?;
                        }
                        continue;
                    }
                    None => {
                        if scalar_keys(message).contains(&key.as_str()) {
                            read_scalar(key, field)?;
                        }
                        continue;
                    }
                };
                match (key.as_str(), &mut *field) {
                    ("arrayValue", Value::Object(list)) => {
                        fill_default(list, "values", || Value::Array(Vec::new()));
                    }
                    ("kvlistValue", Value::Object(list)) => {
                        fill_default(list, "values", || Value::Array(Vec::new()));
                        if let Some(Value::Array(entries)) = list.get_mut("values") {
                            fill_keys(entries);
                        }
                    }
                    ("attributes" | "filteredAttributes" | "metadata", Value::Array(entries)) => {
                        fill_keys(entries);
                    }
                    ("entityRefs", Value::Array(entries)) => fill_entity_refs(entries),
                    _ => {}
                }
                fill_omitted_members(field, child)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The keys of `message`'s scalar fields that [`fill_omitted_members`]
/// reads: ids ([`ID_FIELDS`]), integers ([`IntegerType::of`]) and an
/// `AnyValue`'s `bytesValue` (field names from the OTLP protos, as
/// opentelemetry-proto 0.33 has them; `bucketCounts`, a repeated field, is
/// read where its list is met).
fn scalar_keys(message: Message) -> &'static [&'static str] {
    use Message as M;
    match message {
        M::Span => &[
            "traceId",
            "spanId",
            "parentSpanId",
            "startTimeUnixNano",
            "endTimeUnixNano",
            "flags",
            "kind",
            "droppedAttributesCount",
            "droppedEventsCount",
            "droppedLinksCount",
        ],
        M::Link => &["traceId", "spanId", "flags", "droppedAttributesCount"],
        M::LogRecord => &[
            "traceId",
            "spanId",
            "timeUnixNano",
            "observedTimeUnixNano",
            "flags",
            "severityNumber",
            "droppedAttributesCount",
        ],
        M::Exemplar => &["traceId", "spanId", "timeUnixNano", "asInt"],
        M::Event => &["timeUnixNano", "droppedAttributesCount"],
        M::Resource | M::Scope => &["droppedAttributesCount"],
        M::Status => &["code"],
        M::KeyValue => &["keyStrindex"],
        M::AnyValue => &["bytesValue", "intValue"],
        M::Sum | M::Histogram | M::ExponentialHistogram => &["aggregationTemporality"],
        M::NumberPoint => &["startTimeUnixNano", "timeUnixNano", "asInt", "flags"],
        M::HistogramPoint | M::SummaryPoint => {
            &["startTimeUnixNano", "timeUnixNano", "count", "flags"]
        }
        M::ExponentialPoint => &[
            "startTimeUnixNano",
            "timeUnixNano",
            "count",
            "zeroCount",
            "flags",
            "scale",
        ],
        M::Buckets => &["offset"],
        _ => &[],
    }
}

/// Reads `field`, the value of a scalar field `key`: a `bytesValue` written
/// URL-safe or unpadded becomes standard padded base64, an integer field's
/// value its number ([`read_integer`]); an id with a `0x` prefix is an
/// error. Other values are left to the decoder.
fn read_scalar(key: &str, field: &mut Value) -> Result<(), serde_json::Error> {
    match field {
        Value::String(text) if key == "bytesValue" => {
            if let Some(standard) = standard_base64(text) {
                *text = standard;
            }
            Ok(())
        }
        Value::String(text) if ID_FIELDS.contains(&key) => check_id(key, text),
        _ => read_integer(key, field),
    }
}

/// Fails, naming the field, when an id's hex string starts with `0x` or
/// `0X`: OTLP/JSON writes ids as hex digits (either case), the Collector
/// refuses the prefix, and opentelemetry-proto's hex reader strips it, so
/// that the first decode reads `"0x0102030405060708"` as the id `0102...`.
fn check_id(key: &str, text: &str) -> Result<(), serde_json::Error> {
    if !(text.starts_with("0x") || text.starts_with("0X")) {
        return Ok(());
    }
    // An id is 32 hex digits at most; a longer value is cut in the message.
    let shown: String = text.chars().take(34).collect();
    let cut = if shown.len() < text.len() { "..." } else { "" };
    Err(de::Error::custom(format!(
        "`{key}` is \"{shown}{cut}\": OTLP/JSON writes an id as hex digits, without a 0x prefix"
    )))
}

/// Whether `body` may hold a string that starts with `0x` or `0X` (a quote
/// followed by `0x`, `0X`, or by a `\u` escape at or after the `0`, which
/// `serde_json` reads as those characters): the bodies that the first decode
/// may have read with a prefixed id, which are decoded again so that
/// [`check_id`] sees their ids. One pass over the bytes, no allocation;
/// other strings that start so (an attribute `"0xdeadbeef"`) only cost
/// those bodies the second decode.
fn may_hold_prefixed_id(body: &[u8]) -> bool {
    body.iter().enumerate().any(|(at, &byte)| {
        byte == b'"'
            && matches!(
                body.get(at + 1..at + 3),
                Some([b'0', b'x' | b'X' | b'\\'] | [b'\\', b'u'])
            )
    })
}

/// The integer type of a field, as its OTLP/JSON key names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IntegerType {
    Int32,
    Uint32,
    Int64,
    Uint64,
}

impl IntegerType {
    /// The type of the integer field named `key` ([`INT32_FIELDS`],
    /// [`UINT32_FIELDS`], [`INT64_FIELDS`], [`UINT64_FIELDS`]), `None` for
    /// another key.
    fn of(key: &str) -> Option<Self> {
        [
            (INT32_FIELDS, IntegerType::Int32),
            (UINT32_FIELDS, IntegerType::Uint32),
            (INT64_FIELDS, IntegerType::Int64),
            (UINT64_FIELDS, IntegerType::Uint64),
        ]
        .into_iter()
        .find_map(|(keys, kind)| keys.contains(&key).then_some(kind))
    }

    /// The number `value` is as this type, `None` out of its range.
    fn number(self, value: i128) -> Option<serde_json::Number> {
        let (low, high) = match self {
            IntegerType::Int32 => (i128::from(i32::MIN), i128::from(i32::MAX)),
            IntegerType::Uint32 => (0, i128::from(u32::MAX)),
            IntegerType::Int64 => (i128::from(i64::MIN), i128::from(i64::MAX)),
            IntegerType::Uint64 => (0, i128::from(u64::MAX)),
        };
        if !(low..=high).contains(&value) {
            return None;
        }
        match i64::try_from(value) {
            Ok(signed) => Some(serde_json::Number::from(signed)),
            Err(_) => u64::try_from(value).ok().map(serde_json::Number::from),
        }
    }

    fn name(self) -> &'static str {
        match self {
            IntegerType::Int32 => "int32",
            IntegerType::Uint32 => "uint32",
            IntegerType::Int64 => "int64",
            IntegerType::Uint64 => "uint64",
        }
    }
}

/// Reads `field`, the value (or, for `bucketCounts`, one element) of the
/// field `key`, as the proto3 JSON mapping reads an integer, when `key`
/// names an integer field ([`IntegerType::of`]): a string in JSON's number
/// grammar (`"2"`, `"1e3"`, `"3.0"`) or a number not written as a plain
/// integer (`1e3`, `3.0`, which `serde_json` holds as a double) becomes the
/// integer it stands for. One that is not a whole number or is out of the
/// field's range is an error naming the key and the value. Other values
/// (plain integers, other strings) are left to the decoder.
fn read_integer(key: &str, field: &mut Value) -> Result<(), serde_json::Error> {
    let Some(kind) = IntegerType::of(key) else {
        return Ok(());
    };
    let (whole, shown) = match &*field {
        Value::String(text) if is_json_number(text) => {
            // A value is at most a few dozen characters; a longer one is
            // cut in the message.
            let shown: String = text.chars().take(48).collect();
            let cut = if shown.len() < text.len() { "..." } else { "" };
            (whole_number(text), format!("\"{shown}{cut}\""))
        }
        Value::Number(number) if !(number.is_i64() || number.is_u64()) => {
            let double = number.as_f64().unwrap_or(f64::NAN);
            let whole = if double.fract() == 0.0 {
                // Saturates past the i128 range, which no field reaches.
                Some(double as i128)
            } else {
                None
            };
            (whole, number.to_string())
        }
        _ => return Ok(()),
    };
    let Some(whole) = whole else {
        return Err(de::Error::custom(format!(
            "`{key}` is {shown}, not a whole number (its type is {})",
            kind.name()
        )));
    };
    match kind.number(whole) {
        Some(number) => {
            *field = Value::Number(number);
            Ok(())
        }
        None => Err(de::Error::custom(format!(
            "`{key}` is {shown}, out of the range of its type ({})",
            kind.name()
        ))),
    }
}

/// The integer `text`, a number in JSON's grammar ([`is_json_number`]),
/// stands for, read exactly: `Some(i128::MAX)` (out of every field's range)
/// for one too large, `None` for one that is not a whole number
/// (`"1.5"`, `"1e-1"`).
fn whole_number(text: &str) -> Option<i128> {
    /// Past this many digits (or this exponent) a nonzero value is out of
    /// every field's range: an `i128` holds 38 digits.
    const MAX_DIGITS: i128 = 40;
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], &text[at + 1..]),
        None => (text, ""),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let exponent: i128 = {
        let digits = exponent.trim_start_matches(['+', '-']);
        // An exponent of more than 30 digits is taken as 10^30: as far past
        // every range (or below every whole number) as itself, and no sum
        // with a digit count overflows.
        let magnitude = if digits.len() > 30 {
            10_i128.pow(30)
        } else {
            digits.parse::<i128>().unwrap_or(0)
        };
        if exponent.starts_with('-') {
            -magnitude
        } else {
            magnitude
        }
    };
    let digits: String = [integer, fraction].concat();
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Some(0);
    }
    // The value is `digits` times ten to `scale`.
    let scale = exponent - fraction.len() as i128;
    let (kept, dropped) = if scale < 0 {
        let dropped = usize::try_from(-scale).unwrap_or(usize::MAX);
        if dropped >= digits.len() {
            return None;
        }
        digits.split_at(digits.len() - dropped)
    } else {
        (digits, "")
    };
    if dropped.bytes().any(|digit| digit != b'0') {
        return None;
    }
    if kept.len() as i128 + scale.max(0) > MAX_DIGITS {
        return Some(i128::MAX);
    }
    // `kept` is digits: only a value past the i128 range fails to parse.
    let Ok(mut value) = kept.parse::<i128>() else {
        return Some(i128::MAX);
    };
    for _ in 0..scale.max(0) {
        value = value.saturating_mul(10);
    }
    Some(if negative { -value } else { value })
}

/// The members of each entity reference (a resource's `entityRefs`) in
/// `entries` that proto3 JSON leaves out when empty: `schemaUrl` and `type`
/// (empty strings), `idKeys` and `descriptionKeys` (empty lists).
fn fill_entity_refs(entries: &mut [Value]) {
    for entry in entries {
        if let Value::Object(entity) = entry {
            fill_default(entity, "schemaUrl", || Value::String(String::new()));
            fill_default(entity, "type", || Value::String(String::new()));
            fill_default(entity, "idKeys", || Value::Array(Vec::new()));
            fill_default(entity, "descriptionKeys", || Value::Array(Vec::new()));
        }
    }
}

/// The `key` of each key-value object in `entries`, when left out.
fn fill_keys(entries: &mut [Value]) {
    for entry in entries {
        if let Value::Object(key_value) = entry {
            fill_default(key_value, "key", || Value::String(String::new()));
        }
    }
}

/// Sets `object[name]` to `default()` when absent or `null`.
fn fill_default(
    object: &mut serde_json::Map<String, Value>,
    name: &str,
    default: impl FnOnce() -> Value,
) {
    let member = object.entry(name).or_insert(Value::Null);
    if member.is_null() {
        *member = default();
    }
}

/// The standard padded base64 of a proto3 JSON `bytes` value written
/// URL-safe or without padding, as Go's `protojson` reads it: URL-safe when
/// it has a `-` or `_` (and then no `+` or `/`), unpadded when its length is
/// not a multiple of 4 (and then no `=`). `None` for a string in the
/// standard form or in no form, left to the decoder (which refuses the
/// latter).
fn standard_base64(text: &str) -> Option<String> {
    let url_safe = text.contains(['-', '_']);
    let padding = match text.len() % 4 {
        0 => 0,
        // One symbol past a whole group is no base64, padded or not.
        1 => return None,
        rest => 4 - rest,
    };
    if (!url_safe && padding == 0)
        || (url_safe && text.contains(['+', '/']))
        || (padding > 0 && text.contains('='))
    {
        return None;
    }
    let mut standard: String = text
        .chars()
        .map(|symbol| match symbol {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    standard.extend(std::iter::repeat_n('=', padding));
    Some(standard)
}

/// The double a proto3 JSON string stands for in a `double` field: one of
/// `"NaN"`, `"Infinity"` and `"-Infinity"`, or a number written as a JSON
/// number (RFC 8259: no `+`, no leading zero, no bare `.`, no whitespace)
/// that fits a double (`"1e400"` does not: `None`, as for any other string).
fn double_string(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ if is_json_number(text) => text.parse::<f64>().ok().filter(|d| d.is_finite()),
        _ => None,
    }
}

/// Whether `text` is a number in JSON's grammar (RFC 8259, section 6):
/// `-`? (`0` | `[1-9][0-9]*`) (`.` `[0-9]+`)? (`[eE]` `[+-]`? `[0-9]+`)?.
fn is_json_number(text: &str) -> bool {
    /// The rest of `text` after its leading ASCII digits, if there is one.
    fn after_digits(text: &[u8]) -> Option<&[u8]> {
        let digits = text.iter().take_while(|byte| byte.is_ascii_digit()).count();
        (digits > 0).then(|| &text[digits..])
    }
    let text = text.as_bytes();
    let text = text.strip_prefix(b"-").unwrap_or(text);
    let rest = match text {
        [b'0', rest @ ..] => rest,
        [b'1'..=b'9', ..] => after_digits(text).unwrap_or_default(),
        _ => return false,
    };
    let rest = match rest.strip_prefix(b".") {
        Some(fraction) => match after_digits(fraction) {
            Some(rest) => rest,
            None => return false,
        },
        None => rest,
    };
    match rest {
        [] => true,
        [b'e' | b'E', exponent @ ..] => {
            let exponent = exponent
                .strip_prefix(b"+")
                .or_else(|| exponent.strip_prefix(b"-"))
                .unwrap_or(exponent);
            after_digits(exponent).is_some_and(<[u8]>::is_empty)
        }
        _ => false,
    }
}

/// A deserializer over a parsed JSON value that gives the strings
/// [`double_string`] reads to visitors as doubles where `double` says the
/// value is a `double` field's.
/// Everything else is handed over as `serde_json`'s own deserializer does.
#[derive(Clone, Copy)]
struct JsonValue<'de> {
    value: &'de Value,
    double: bool,
}

impl<'de> Deserializer<'de> for JsonValue<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::String(text) if self.double => match double_string(text) {
                Some(double) => visitor.visit_f64(double),
                None => visitor.visit_borrowed_str(text),
            },
            Value::Array(items) => visitor.visit_seq(Items {
                items: items.iter(),
                double: self.double,
            }),
            Value::Object(fields) => visitor.visit_map(Fields {
                fields: fields.iter(),
                pending: None,
            }),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        // OTLP enums are integers and oneofs are flattened: no request type
        // asks for an enum here; serde_json's own reading is kept if one does.
        self.value.deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// The elements of an array, each a `double`'s if the array is.
struct Items<'de> {
    items: std::slice::Iter<'de, Value>,
    double: bool,
}

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.items
            .next()
            .map(|value| {
                seed.deserialize(JsonValue {
                    value,
                    double: self.double,
                })
            })
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The fields of an object, each a `double`'s if its key names one.
struct Fields<'de> {
    fields: serde_json::map::Iter<'de>,
    pending: Option<JsonValue<'de>>,
}

impl<'de> MapAccess<'de> for Fields<'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.fields.next() else {
            return Ok(None);
        };
        self.pending = Some(JsonValue {
            value,
            double: DOUBLE_FIELDS.contains(&key.as_str()),
        });
        seed.deserialize(BorrowedStrDeserializer::new(key.as_str()))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        match self.pending.take() {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::custom("a value asked for before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.fields.len())
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value;

    use super::*;

    #[test]
    fn non_finite_strings_are_doubles_only_in_double_fields() {
        let json = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
            {"body":{"doubleValue":"-Infinity"},"severityText":"NaN",
             "attributes":[{"key":"s","value":{"stringValue":"NaN"}},
                           {"key":"d","value":{"doubleValue":"NaN"}}]}]}]}]}"#;
        let request: ExportLogsServiceRequest = from_slice(json).expect("decodes");
        let record = &request.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(record.severity_text, "NaN");
        let body = record.body.as_ref().and_then(|body| body.value.clone());
        assert_eq!(body, Some(any_value::Value::DoubleValue(f64::NEG_INFINITY)));
        let values: Vec<_> = record
            .attributes
            .iter()
            .map(|kv| kv.value.as_ref().and_then(|value| value.value.clone()))
            .collect();
        assert_eq!(values[0], Some(any_value::Value::StringValue("NaN".into())));
        assert!(
            matches!(values[1], Some(any_value::Value::DoubleValue(d)) if d.is_nan()),
            "{values:?}"
        );
    }

    /// Canonical proto3 JSON (Go's `protojson`, the Collector's file
    /// exporter) leaves out empty repeated fields and empty strings: an empty
    /// list attribute is `{"arrayValue":{}}`, an empty map `{"kvlistValue":{}}`,
    /// an attribute with an empty key has no `key`. opentelemetry-proto's serde
    /// requires those members; the request must read as prost reads its
    /// protobuf twin, here built from the generated types.
    #[test]
    fn empty_arrays_maps_and_keys_left_out_by_proto3_json_are_read() {
        use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::common::v1::{
            AnyValue, ArrayValue, KeyValue, KeyValueList,
        };
        use opentelemetry_proto::tonic::metrics::v1 as pm;
        use opentelemetry_proto::tonic::resource::v1::Resource;
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        use prost::Message as _;

        let value = |value| Some(AnyValue { value: Some(value) });
        let attributes = vec![
            KeyValue {
                key: "list".into(),
                value: value(any_value::Value::ArrayValue(ArrayValue::default())),
                ..KeyValue::default()
            },
            KeyValue {
                key: "map".into(),
                value: value(any_value::Value::KvlistValue(KeyValueList {
                    values: vec![KeyValue {
                        key: String::new(),
                        value: value(any_value::Value::KvlistValue(KeyValueList::default())),
                        ..KeyValue::default()
                    }],
                })),
                ..KeyValue::default()
            },
            KeyValue {
                key: String::new(),
                value: value(any_value::Value::StringValue("no key".into())),
                ..KeyValue::default()
            },
        ];
        let attributes_json = r#"[{"key":"list","value":{"arrayValue":{}}},
            {"key":"map","value":{"kvlistValue":{"values":[{"value":{"kvlistValue":{}}}]}}},
            {"value":{"stringValue":"no key"}}]"#;

        let traces = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: attributes.clone(),
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        name: "s".into(),
                        attributes: attributes.clone(),
                        ..Span::default()
                    }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        let traces_json = format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":{attributes_json}}},
            "scopeSpans":[{{"spans":[{{"traceId":"01010101010101010101010101010101",
            "spanId":"0202020202020202","name":"s","attributes":{attributes_json}}}]}}]}}]}}"#
        );
        let read: ExportTraceServiceRequest =
            from_slice(traces_json.as_bytes()).expect("valid OTLP/JSON");
        let protobuf = ExportTraceServiceRequest::decode(traces.encode_to_vec().as_slice());
        assert_eq!(Ok(read), protobuf.map_err(|error| error.to_string()));

        // In a metric, whose data points serde reads through `flatten`, and
        // with a non-finite double in the same body.
        let point = pm::NumberDataPoint {
            attributes: attributes.clone(),
            value: Some(pm::number_data_point::Value::AsDouble(f64::INFINITY)),
            ..pm::NumberDataPoint::default()
        };
        let metrics = ExportMetricsServiceRequest {
            resource_metrics: vec![pm::ResourceMetrics {
                scope_metrics: vec![pm::ScopeMetrics {
                    metrics: vec![pm::Metric {
                        name: "m".into(),
                        metadata: attributes,
                        data: Some(pm::metric::Data::Gauge(pm::Gauge {
                            data_points: vec![point],
                        })),
                        ..pm::Metric::default()
                    }],
                    ..pm::ScopeMetrics::default()
                }],
                ..pm::ResourceMetrics::default()
            }],
        };
        let metrics_json = format!(
            r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"m",
            "gauge":{{"dataPoints":[{{"attributes":{attributes_json},"asDouble":"Infinity"}}]}},
            "metadata":{attributes_json}}}]}}]}}]}}"#
        );
        let read: ExportMetricsServiceRequest =
            from_slice(metrics_json.as_bytes()).expect("valid OTLP/JSON");
        let protobuf = ExportMetricsServiceRequest::decode(metrics.encode_to_vec().as_slice());
        assert_eq!(Ok(read), protobuf.map_err(|error| error.to_string()));
    }

    /// A resource's entity references (opentelemetry-proto 0.33's
    /// `Resource.entity_refs`) as canonical proto3 JSON writes them: an empty
    /// `schemaUrl` or key list left out. opentelemetry-proto's serde requires
    /// all four members, so such a request was refused; it must read as prost
    /// reads its protobuf twin.
    #[test]
    fn entity_refs_with_empty_members_left_out_are_read() {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::common::v1::EntityRef;
        use opentelemetry_proto::tonic::resource::v1::Resource;
        use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
        use prost::Message as _;

        let traces = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    entity_refs: vec![
                        EntityRef {
                            r#type: "service".into(),
                            id_keys: vec!["service.name".into()],
                            ..EntityRef::default()
                        },
                        EntityRef::default(),
                    ],
                    ..Resource::default()
                }),
                ..ResourceSpans::default()
            }],
        };
        let json = br#"{"resourceSpans":[{"resource":{"entityRefs":[
            {"type":"service","idKeys":["service.name"]},{}]}}]}"#;
        let read: ExportTraceServiceRequest = from_slice(json).expect("valid OTLP/JSON");
        let protobuf = ExportTraceServiceRequest::decode(traces.encode_to_vec().as_slice());
        assert_eq!(Ok(read), protobuf.map_err(|error| error.to_string()));
    }

    /// Proto3 JSON reads `null` as a field's default, whatever its type;
    /// opentelemetry-proto's serde takes it only where the field is an
    /// `Option`. The request must read as prost reads its protobuf twin.
    #[test]
    fn null_members_read_as_their_defaults() {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        use prost::Message as _;

        let traces = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        ..Span::default()
                    }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        let json = br#"{"resourceSpans":[{"resource":null,"scopeSpans":[{"scope":null,
            "spans":[{"traceId":"01010101010101010101010101010101","spanId":"0202020202020202",
            "traceState":null,"parentSpanId":null,"flags":null,"name":null,"kind":null,
            "startTimeUnixNano":null,"endTimeUnixNano":null,"attributes":null,
            "droppedAttributesCount":null,"events":null,"droppedEventsCount":null,
            "links":null,"droppedLinksCount":null,"status":null}],"schemaUrl":null}],
            "schemaUrl":null}]}"#;
        let read: ExportTraceServiceRequest = from_slice(json).expect("valid OTLP/JSON");
        let protobuf = ExportTraceServiceRequest::decode(traces.encode_to_vec().as_slice());
        assert_eq!(Ok(read), protobuf.map_err(|error| error.to_string()));
    }

    /// opentelemetry-proto's serde reads a metric's data and a point's or an
    /// exemplar's value through `flatten` into an `Option`, which reads a
    /// member that fails to decode as absent, without an error: a non-finite
    /// double there was lost when nothing else in the body sent the decoder
    /// to the slow path, and a member that cannot decode was dropped in
    /// silence where its protobuf twin is refused.
    #[test]
    fn metric_oneofs_that_fail_to_decode_are_neither_dropped_nor_read_as_absent() {
        use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
        use opentelemetry_proto::tonic::metrics::v1 as pm;

        let body = |data: &str| {
            format!(
                r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"m"}},
                {{"name":"m",{data}}}]}}]}}]}}"#
            )
        };
        let decode = |data: &str| {
            from_slice::<ExportMetricsServiceRequest>(body(data).as_bytes())
                .map_err(|error| error.to_string())
        };
        let points = |request: &ExportMetricsServiceRequest| match &request.resource_metrics[0]
            .scope_metrics[0]
            .metrics[1]
            .data
        {
            Some(pm::metric::Data::Gauge(gauge)) => gauge.data_points.clone(),
            other => panic!("not a gauge: {other:?}"),
        };

        let read = decode(r#""gauge":{"dataPoints":[{"asDouble":"NaN"}]}"#).expect("valid");
        assert!(
            matches!(points(&read)[0].value, Some(pm::number_data_point::Value::AsDouble(d)) if d.is_nan()),
            "{read:?}"
        );
        let read = decode(
            r#""gauge":{"dataPoints":[{"asInt":"3","exemplars":[{"asDouble":"-Infinity"}]}]}"#,
        )
        .expect("valid");
        assert_eq!(
            points(&read)[0].exemplars[0].value,
            Some(pm::exemplar::Value::AsDouble(f64::NEG_INFINITY))
        );
        // A metric without data and a point without a value stay valid.
        let read = decode(r#""gauge":{"dataPoints":[{"timeUnixNano":"1"}]}"#).expect("valid");
        assert_eq!(points(&read)[0].value, None);

        for (data, expected) in [
            (
                r#""gauge":{"dataPoints":[{"asInt":"x"}]}"#,
                "resourceMetrics[0].scopeMetrics[0].metrics[1].gauge.dataPoints[0].asInt is not a valid int64: \"x\"",
            ),
            (
                r#""gauge":{"dataPoints":[{"asInt":1,"exemplars":[{},{"asDouble":true}]}]}"#,
                "metrics[1].gauge.dataPoints[0].exemplars[1].asDouble is not a valid double: true",
            ),
            (
                r#""sum":{"dataPoints":[{"asInt":"1"}],"isMonotonic":"yes"}"#,
                "resourceMetrics[0].scopeMetrics[0].metrics[1].sum: invalid type: string \"yes\"",
            ),
            (
                r#""histogram":{"dataPoints":[{"count":"x"}]}"#,
                "metrics[1].histogram: ",
            ),
        ] {
            let error = decode(data).err().unwrap_or_default();
            assert!(error.contains(expected), "{data}: {error}");
        }
    }

    /// Proto3 JSON takes a number or a decimal string for every integer
    /// type; opentelemetry-proto's serde takes strings for 64-bit fields
    /// only. The 32-bit ones (enums, counts, flags, a metric's `scale` and
    /// `offset`, also where serde reads a metric's data through `flatten`)
    /// must read as prost reads the protobuf twin, and a string out of the
    /// field's range must be refused naming the key.
    #[test]
    fn thirty_two_bit_integers_given_as_strings_are_read_and_out_of_range_ones_refused() {
        use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
        use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
        use opentelemetry_proto::tonic::metrics::v1 as pm;
        use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
        use prost::Message as _;

        let traces = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        dropped_attributes_count: 7,
                        ..InstrumentationScope::default()
                    }),
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        flags: 0x301,
                        kind: 2,
                        dropped_attributes_count: 3,
                        dropped_events_count: 4,
                        dropped_links_count: 4_294_967_295,
                        events: vec![Event {
                            dropped_attributes_count: 5,
                            ..Event::default()
                        }],
                        links: vec![Link {
                            trace_id: vec![3; 16],
                            span_id: vec![4; 8],
                            flags: 0x100,
                            ..Link::default()
                        }],
                        status: Some(Status {
                            code: 2,
                            ..Status::default()
                        }),
                        ..Span::default()
                    }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        let json = br#"{"resourceSpans":[{"scopeSpans":[{"scope":{"droppedAttributesCount":"7"},
            "spans":[{"traceId":"01010101010101010101010101010101","spanId":"0202020202020202",
            "flags":"769","kind":"2","droppedAttributesCount":"3","droppedEventsCount":"4",
            "droppedLinksCount":"4294967295","events":[{"droppedAttributesCount":"5"}],
            "links":[{"traceId":"03030303030303030303030303030303","spanId":"0404040404040404",
            "flags":"256"}],"status":{"code":"2"}}]}]}]}"#;
        let read: ExportTraceServiceRequest = from_slice(json).expect("valid OTLP/JSON");
        let protobuf = ExportTraceServiceRequest::decode(traces.encode_to_vec().as_slice());
        assert_eq!(Ok(read), protobuf.map_err(|error| error.to_string()));

        let logs = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        severity_number: 9,
                        flags: 1,
                        dropped_attributes_count: 2,
                        ..LogRecord::default()
                    }],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        };
        let json = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
            {"severityNumber":"9","flags":"1","droppedAttributesCount":"2"}]}]}]}"#;
        let read: ExportLogsServiceRequest = from_slice(json).expect("valid OTLP/JSON");
        let protobuf = ExportLogsServiceRequest::decode(logs.encode_to_vec().as_slice());
        assert_eq!(Ok(read), protobuf.map_err(|error| error.to_string()));

        let metric = |data| pm::Metric {
            name: "m".into(),
            data: Some(data),
            ..pm::Metric::default()
        };
        let metrics = ExportMetricsServiceRequest {
            resource_metrics: vec![pm::ResourceMetrics {
                scope_metrics: vec![pm::ScopeMetrics {
                    metrics: vec![
                        metric(pm::metric::Data::Sum(pm::Sum {
                            data_points: vec![pm::NumberDataPoint {
                                flags: 1,
                                value: Some(pm::number_data_point::Value::AsInt(5)),
                                ..pm::NumberDataPoint::default()
                            }],
                            aggregation_temporality: 1,
                            is_monotonic: true,
                        })),
                        metric(pm::metric::Data::ExponentialHistogram(
                            pm::ExponentialHistogram {
                                data_points: vec![pm::ExponentialHistogramDataPoint {
                                    count: 1,
                                    scale: -2_147_483_648,
                                    positive: Some(pm::exponential_histogram_data_point::Buckets {
                                        offset: -2,
                                        bucket_counts: vec![1],
                                    }),
                                    ..pm::ExponentialHistogramDataPoint::default()
                                }],
                                aggregation_temporality: 2,
                            },
                        )),
                    ],
                    ..pm::ScopeMetrics::default()
                }],
                ..pm::ResourceMetrics::default()
            }],
        };
        let json = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
            {"name":"m","sum":{"dataPoints":[{"flags":"1","asInt":"5"}],
             "aggregationTemporality":"1","isMonotonic":true}},
            {"name":"m","exponentialHistogram":{"dataPoints":[{"count":"1","scale":"-2147483648",
             "positive":{"offset":"-2","bucketCounts":["1"]}}],"aggregationTemporality":"2"}}]}]}]}"#;
        let read: ExportMetricsServiceRequest = from_slice(json).expect("valid OTLP/JSON");
        let protobuf = ExportMetricsServiceRequest::decode(metrics.encode_to_vec().as_slice());
        assert_eq!(Ok(read), protobuf.map_err(|error| error.to_string()));

        for (field, out_of_range) in [
            ("droppedAttributesCount", "4294967296"),
            ("flags", "-1"),
            ("kind", "2147483648"),
            ("kind", "-2147483649"),
            ("kind", "123456789012345678901234567890123456789012345"),
        ] {
            let json = format!(
                r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"{field}":"{out_of_range}"}}]}}]}}]}}"#
            );
            let error = from_slice::<ExportTraceServiceRequest>(json.as_bytes())
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default();
            assert!(
                error.contains(&format!(
                    "`{field}` is \"{out_of_range}\", out of the range"
                )),
                "{field} {out_of_range}: {error}"
            );
        }
        // A string that is no integer stays a string, refused by the decoder.
        for not_an_integer in ["", "two", "+2", " 2", "2.5", "-", "2e", ".5"] {
            let json = format!(
                r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"kind":"{not_an_integer}"}}]}}]}}]}}"#
            );
            assert!(
                from_slice::<ExportTraceServiceRequest>(json.as_bytes()).is_err(),
                "{not_an_integer:?}"
            );
        }
    }

    /// Proto3 JSON takes a `double` as a number or as a string: one of the
    /// three non-finite names, or a number written as a JSON number is
    /// (`"1.5"`, `"-0"`, `"1e-9"`); the Collector reads such strings too.
    /// opentelemetry-proto's serde took only the three names, and only in a
    /// summary. Every `double` field of OTLP must read as prost reads its
    /// protobuf twin, and a string that is not a JSON number (or is out of
    /// the range of a double) must still be refused.
    #[test]
    fn doubles_given_as_decimal_strings_are_read() {
        use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
        use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
        use opentelemetry_proto::tonic::metrics::v1 as pm;
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        use prost::Message as _;

        let double = |key: &str, value: f64| KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::DoubleValue(value)),
            }),
            ..KeyValue::default()
        };
        let traces = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        attributes: vec![
                            double("a", 1.5),
                            double("b", -0.0),
                            double("c", 1e-9),
                            double("d", 12.0),
                            double("e", -2.5e300),
                        ],
                        ..Span::default()
                    }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        let json = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{
            "traceId":"01010101010101010101010101010101","spanId":"0202020202020202",
            "attributes":[{"key":"a","value":{"doubleValue":"1.5"}},
                          {"key":"b","value":{"doubleValue":"-0"}},
                          {"key":"c","value":{"doubleValue":"1e-9"}},
                          {"key":"d","value":{"doubleValue":"12"}},
                          {"key":"e","value":{"doubleValue":"-2.5E+300"}}]}]}]}]}"#;
        let read: ExportTraceServiceRequest = from_slice(json).expect("valid OTLP/JSON");
        // `-0.0 == 0.0`: the sign is checked apart.
        let b = &read.resource_spans[0].scope_spans[0].spans[0].attributes[1];
        assert!(
            matches!(b.value.as_ref().and_then(|v| v.value.clone()),
                Some(any_value::Value::DoubleValue(d)) if d.is_sign_negative()),
            "-0 keeps its sign: {b:?}"
        );
        let protobuf = ExportTraceServiceRequest::decode(traces.encode_to_vec().as_slice());
        assert_eq!(Ok(read), protobuf.map_err(|error| error.to_string()));

        let logs = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        body: Some(AnyValue {
                            value: Some(any_value::Value::DoubleValue(0.25)),
                        }),
                        attributes: vec![KeyValue {
                            key: "s".into(),
                            value: Some(AnyValue {
                                value: Some(any_value::Value::StringValue("0.25".into())),
                            }),
                            ..KeyValue::default()
                        }],
                        ..LogRecord::default()
                    }],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        };
        let json = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{
            "body":{"doubleValue":"0.25"},
            "attributes":[{"key":"s","value":{"stringValue":"0.25"}}]}]}]}]}"#;
        let read: ExportLogsServiceRequest = from_slice(json).expect("valid OTLP/JSON");
        let protobuf = ExportLogsServiceRequest::decode(logs.encode_to_vec().as_slice());
        assert_eq!(Ok(read), protobuf.map_err(|error| error.to_string()));

        let metric = |data| pm::Metric {
            name: "m".into(),
            data: Some(data),
            ..pm::Metric::default()
        };
        let metrics = ExportMetricsServiceRequest {
            resource_metrics: vec![pm::ResourceMetrics {
                scope_metrics: vec![pm::ScopeMetrics {
                    metrics: vec![
                        metric(pm::metric::Data::Gauge(pm::Gauge {
                            data_points: vec![pm::NumberDataPoint {
                                value: Some(pm::number_data_point::Value::AsDouble(2.5)),
                                exemplars: vec![pm::Exemplar {
                                    value: Some(pm::exemplar::Value::AsDouble(-3.0)),
                                    ..pm::Exemplar::default()
                                }],
                                ..pm::NumberDataPoint::default()
                            }],
                        })),
                        metric(pm::metric::Data::Histogram(pm::Histogram {
                            data_points: vec![pm::HistogramDataPoint {
                                count: 3,
                                sum: Some(1.5),
                                bucket_counts: vec![1, 1, 1],
                                explicit_bounds: vec![1.0, 2.5],
                                min: Some(0.5),
                                max: Some(1000.0),
                                ..pm::HistogramDataPoint::default()
                            }],
                            aggregation_temporality: 2,
                        })),
                        metric(pm::metric::Data::ExponentialHistogram(
                            pm::ExponentialHistogram {
                                data_points: vec![pm::ExponentialHistogramDataPoint {
                                    count: 1,
                                    sum: Some(4.0),
                                    zero_threshold: 1e-9,
                                    ..pm::ExponentialHistogramDataPoint::default()
                                }],
                                aggregation_temporality: 1,
                            },
                        )),
                        metric(pm::metric::Data::Summary(pm::Summary {
                            data_points: vec![pm::SummaryDataPoint {
                                count: 2,
                                sum: 7.5,
                                quantile_values: vec![pm::summary_data_point::ValueAtQuantile {
                                    quantile: 0.5,
                                    value: 3.0,
                                }],
                                ..pm::SummaryDataPoint::default()
                            }],
                        })),
                    ],
                    ..pm::ScopeMetrics::default()
                }],
                ..pm::ResourceMetrics::default()
            }],
        };
        let json = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
            {"name":"m","gauge":{"dataPoints":[{"asDouble":"2.5","exemplars":[{"asDouble":"-3"}]}]}},
            {"name":"m","histogram":{"dataPoints":[{"count":"3","sum":"1.5","bucketCounts":["1","1","1"],
             "explicitBounds":["1","2.5"],"min":"0.5","max":"1e3"}],"aggregationTemporality":2}},
            {"name":"m","exponentialHistogram":{"dataPoints":[{"count":"1","sum":"4",
             "zeroThreshold":"1e-9"}],"aggregationTemporality":1}},
            {"name":"m","summary":{"dataPoints":[{"count":"2","sum":"7.5",
             "quantileValues":[{"quantile":"0.5","value":"3"}]}]}}]}]}]}"#;
        let read: ExportMetricsServiceRequest = from_slice(json).expect("valid OTLP/JSON");
        let protobuf = ExportMetricsServiceRequest::decode(metrics.encode_to_vec().as_slice());
        assert_eq!(Ok(read), protobuf.map_err(|error| error.to_string()));

        // Not a JSON number, or out of a double's range: still refused.
        for not_a_double in [
            "", " 1", "1 ", "+1", ".5", "1.", "01", "1e", "0x10", "1_0", "inf", "nan", "1e400",
            "-1e400",
        ] {
            let json = format!(
                r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{{"doubleValue":"{not_a_double}"}}}}]}}]}}]}}"#
            );
            assert!(
                from_slice::<ExportLogsServiceRequest>(json.as_bytes()).is_err(),
                "{not_a_double:?}"
            );
        }
    }

    /// Proto3 JSON writes `bytes` as standard base64 with padding and reads
    /// it URL-safe or without padding too (as Go's `protojson` does);
    /// opentelemetry-proto's serde took only the standard padded form, so an
    /// attribute's `bytesValue` of `"Zm8"` was refused. A string that is no
    /// base64 of either kind (mixing the alphabets, padded short, one symbol
    /// too many) is still refused.
    #[test]
    fn bytes_values_url_safe_or_unpadded_are_read() {
        let bytes_of = |text: &str| {
            let json = format!(
                r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{{"bytesValue":"{text}"}}}}]}}]}}]}}"#
            );
            from_slice::<ExportLogsServiceRequest>(json.as_bytes())
                .map(|request| {
                    request.resource_logs[0].scope_logs[0].log_records[0]
                        .body
                        .as_ref()
                        .and_then(|body| body.value.clone())
                })
                .map_err(|error| error.to_string())
        };
        let bytes = |bytes: &[u8]| Ok(Some(any_value::Value::BytesValue(bytes.to_vec())));
        for (text, expected) in [
            ("Zm8=", &b"fo"[..]),
            ("Zm8", b"fo"),
            ("Zg", b"f"),
            ("Zm9v", b"foo"),
            ("+/8=", b"\xfb\xff"),
            ("-_8=", b"\xfb\xff"),
            ("-_8", b"\xfb\xff"),
            ("", b""),
        ] {
            assert_eq!(bytes_of(text), bytes(expected), "{text:?}");
        }
        for not_base64 in ["Zg=", "Z", "Zm9vY", "-/8=", "+_8", "Zm8*", "Zm=8"] {
            assert!(bytes_of(not_base64).is_err(), "{not_base64:?}");
        }
    }

    /// Deliberately stricter than the Collector, as the OTLP specification
    /// says: enum names "MUST NOT be used" (refused, in every enum field, on
    /// the slow path too), and snake_case keys are "not valid" (unknown
    /// fields, ignored).
    #[test]
    fn enum_names_are_refused_and_snake_case_keys_are_unknown_fields() {
        use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

        for (field, name) in [
            ("kind", "SPAN_KIND_SERVER"),
            ("status", r#"{"code":"STATUS_CODE_ERROR"}"#),
        ] {
            let value = if name.starts_with('{') {
                name.to_owned()
            } else {
                format!("\"{name}\"")
            };
            // With a non-finite double, so the slow path reads it too.
            let json = format!(
                r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"{field}":{value},
                "attributes":[{{"key":"d","value":{{"doubleValue":"NaN"}}}}]}}]}}]}}]}}"#
            );
            assert!(
                from_slice::<ExportTraceServiceRequest>(json.as_bytes()).is_err(),
                "{json}"
            );
        }
        let json = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
            {"severityNumber":"SEVERITY_NUMBER_INFO"}]}]}]}"#;
        assert!(from_slice::<ExportLogsServiceRequest>(json).is_err());
        let json = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m",
            "sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA"}}]}]}]}"#;
        assert!(from_slice::<ExportMetricsServiceRequest>(json).is_err());

        let json = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
            {"severity_number":9,"severity_text":"INFO","body":{"string_value":"x"}}]}]}]}"#;
        let read: ExportLogsServiceRequest = from_slice(json).expect("unknown keys are ignored");
        let record = &read.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(record.severity_number, 0);
        assert_eq!(record.severity_text, "");
        assert_eq!(
            record.body.as_ref().map(|body| body.value.clone()),
            Some(None)
        );
    }

    /// OTLP/JSON ids are hex; opentelemetry-proto's hex reader strips a `0x`
    /// (or `0X`) prefix, so a prefixed id decoded as if it had none. Refused
    /// on both decodes (a body that decodes the first time is decoded again
    /// when it holds a `"0x`), naming the field; a `0x` string that is no
    /// id, or an id in an unknown field, is read as before.
    #[test]
    fn ids_with_a_0x_prefix_are_refused_naming_the_field() {
        use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

        let error_of = |result: Result<(), serde_json::Error>| {
            result
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default()
        };
        for (fields, field) in [
            (r#""parentSpanId":"0x0102030405060708""#, "parentSpanId"),
            (
                r#""traceId":"0X01010101010101010101010101010101""#,
                "traceId",
            ),
            (r#""spanId":"0x""#, "spanId"),
            // Escaped, as serde_json reads it.
            (r#""spanId":"\u0030x0102030405060708""#, "spanId"),
            (r#""spanId":"0\u00580102030405060708""#, "spanId"),
            (r#""links":[{"spanId":"0x0102030405060708"}]"#, "spanId"),
            // With a double that only the second decode reads.
            (
                r#""parentSpanId":"0x0102030405060708","attributes":[{"key":"d","value":{"doubleValue":"1.5"}}]"#,
                "parentSpanId",
            ),
        ] {
            let json =
                format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{{fields}}}]}}]}}]}}"#);
            let error =
                error_of(from_slice::<ExportTraceServiceRequest>(json.as_bytes()).map(drop));
            assert!(
                error.contains(&format!("`{field}` is \"0")),
                "{json}: {error}"
            );
        }
        let json = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"0x01"}]}]}]}"#;
        let error = error_of(from_slice::<ExportLogsServiceRequest>(json).map(drop));
        assert!(error.contains("`traceId` is \"0x01\""), "{error}");
        let json =
            br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"dataPoints":[
            {"asInt":"1","exemplars":[{"asInt":"1","spanId":"0x0102030405060708"}]}]}}]}]}]}"#;
        let error = error_of(from_slice::<ExportMetricsServiceRequest>(json).map(drop));
        assert!(error.contains("`spanId` is \"0x"), "{error}");

        let json = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"spanId":"0102030405060708",
            "body":{"stringValue":"0x01"},"x":{"spanId":"0x01"}}]}]}]}"#;
        let read = from_slice::<ExportLogsServiceRequest>(json).expect("no prefixed id");
        let record = &read.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(record.span_id, [1, 2, 3, 4, 5, 6, 7, 8]);
    }

    /// Receivers ignore unknown fields; the second decode read integer
    /// strings inside them, so an out-of-range one (`"kind":"99999999999"`
    /// under an unknown key) refused a body that needed that decode. Unknown
    /// fields are left alone at every level, including a metric's and a
    /// data point's (read by serde through `flatten`); a known field keeps
    /// its error.
    #[test]
    fn unknown_fields_are_left_alone_on_the_second_decode() {
        use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

        let unknown = r#""x":{"kind":"99999999999","flags":"-1","a":[{"code":"4294967296"}]}"#;
        let json = format!(
            r#"{{"resourceSpans":[{{{unknown},"scopeSpans":[{{"spans":[{{"kind":"2",{unknown},
            "status":{{"code":"1",{unknown}}},
            "attributes":[{{"key":"d","value":{{"doubleValue":"1.5",{unknown}}}}}]}}]}}]}}]}}"#
        );
        let read = from_slice::<ExportTraceServiceRequest>(json.as_bytes()).expect("ignored");
        let span = &read.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(
            (span.kind, span.status.as_ref().map(|s| s.code)),
            (2, Some(1))
        );

        let json = format!(
            r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"m",{unknown},
            "gauge":{{{unknown},"dataPoints":[{{"asDouble":"1.5","flags":"1",{unknown}}}]}}}}]}}]}}]}}"#
        );
        let read = from_slice::<ExportMetricsServiceRequest>(json.as_bytes()).expect("ignored");
        assert_eq!(read.resource_metrics[0].scope_metrics[0].metrics.len(), 1);

        // A key that names a field of another message is unknown here too.
        let json = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"kind":"99999999999",
            "body":{"doubleValue":"1.5"}}]}]}]}"#;
        assert!(from_slice::<ExportLogsServiceRequest>(json).is_ok());
    }

    #[test]
    fn other_errors_keep_their_position() {
        let error = from_slice::<ExportLogsServiceRequest>(
            br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"doubleValue":"Infinity"},"severityNumber":"x"}]}]}]}"#,
        )
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
        assert!(error.contains("column"), "{error}");
    }

    /// The proto3 JSON mapping reads an integer of any width written in
    /// exponent notation or with a zero fraction, quoted or not (`1e3`,
    /// `"1e3"`, `3.0`: "Exponent notation (such as 1e2) is accepted in both
    /// quoted and unquoted forms", and the protobuf conformance suite's
    /// `Int32FieldExponentialFormat`, `Int32FieldFloatTrailingZero`); Go's
    /// `protojson` reads them, and they were refused here. Every integer
    /// field must read as prost reads its protobuf twin; one that is not a
    /// whole number, or out of its field's range, is refused naming the key.
    #[test]
    fn integers_in_exponent_or_fraction_form_are_read() {
        use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
        use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
        use opentelemetry_proto::tonic::metrics::v1 as pm;
        use opentelemetry_proto::tonic::trace::v1::span::Event;
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        use prost::Message as _;

        let int = |key: &str, value: i64| KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::IntValue(value)),
            }),
            ..KeyValue::default()
        };
        let traces = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        start_time_unix_nano: 1_700_000_000_123_456_789,
                        end_time_unix_nano: 1_700_000_000_000_000_000,
                        kind: 2,
                        dropped_attributes_count: 30,
                        attributes: vec![int("a", -100), int("b", 100), int("c", 0)],
                        events: vec![Event {
                            time_unix_nano: 2000,
                            ..Event::default()
                        }],
                        ..Span::default()
                    }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        let json = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{
            "traceId":"01010101010101010101010101010101","spanId":"0202020202020202",
            "startTimeUnixNano":"1.700000000123456789e18","endTimeUnixNano":1.7e18,
            "kind":2.0,"droppedAttributesCount":"3E1",
            "attributes":[{"key":"a","value":{"intValue":"-1e2"}},
                          {"key":"b","value":{"intValue":1e2}},
                          {"key":"c","value":{"intValue":"-0.0e5"}}],
            "events":[{"timeUnixNano":"2000.000"}]}]}]}]}"#;
        let read: ExportTraceServiceRequest = from_slice(json).expect("valid OTLP/JSON");
        let protobuf = ExportTraceServiceRequest::decode(traces.encode_to_vec().as_slice());
        assert_eq!(Ok(read), protobuf.map_err(|error| error.to_string()));

        let logs = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        time_unix_nano: 5,
                        observed_time_unix_nano: 18_446_744_073_709_551_615,
                        severity_number: 9,
                        ..LogRecord::default()
                    }],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        };
        let json = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":5e0,
            "observedTimeUnixNano":"18446744073709551615e0","severityNumber":"90e-1"}]}]}]}"#;
        let read: ExportLogsServiceRequest = from_slice(json).expect("valid OTLP/JSON");
        let protobuf = ExportLogsServiceRequest::decode(logs.encode_to_vec().as_slice());
        assert_eq!(Ok(read), protobuf.map_err(|error| error.to_string()));

        let metric = |data| pm::Metric {
            name: "m".into(),
            data: Some(data),
            ..pm::Metric::default()
        };
        let metrics = ExportMetricsServiceRequest {
            resource_metrics: vec![pm::ResourceMetrics {
                scope_metrics: vec![pm::ScopeMetrics {
                    metrics: vec![
                        metric(pm::metric::Data::Sum(pm::Sum {
                            data_points: vec![pm::NumberDataPoint {
                                value: Some(pm::number_data_point::Value::AsInt(-5)),
                                exemplars: vec![pm::Exemplar {
                                    value: Some(pm::exemplar::Value::AsInt(7000)),
                                    ..pm::Exemplar::default()
                                }],
                                ..pm::NumberDataPoint::default()
                            }],
                            aggregation_temporality: 1,
                            is_monotonic: true,
                        })),
                        metric(pm::metric::Data::Histogram(pm::Histogram {
                            data_points: vec![pm::HistogramDataPoint {
                                count: 10,
                                bucket_counts: vec![1, 9],
                                explicit_bounds: vec![1.0],
                                ..pm::HistogramDataPoint::default()
                            }],
                            aggregation_temporality: 2,
                        })),
                        metric(pm::metric::Data::ExponentialHistogram(
                            pm::ExponentialHistogram {
                                data_points: vec![pm::ExponentialHistogramDataPoint {
                                    count: 3,
                                    zero_count: 2,
                                    scale: -3,
                                    positive: Some(pm::exponential_histogram_data_point::Buckets {
                                        offset: -20,
                                        bucket_counts: vec![1],
                                    }),
                                    ..pm::ExponentialHistogramDataPoint::default()
                                }],
                                aggregation_temporality: 2,
                            },
                        )),
                        metric(pm::metric::Data::Summary(pm::Summary {
                            data_points: vec![pm::SummaryDataPoint {
                                count: 40,
                                ..pm::SummaryDataPoint::default()
                            }],
                        })),
                    ],
                    ..pm::ScopeMetrics::default()
                }],
                ..pm::ResourceMetrics::default()
            }],
        };
        let json = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
            {"name":"m","sum":{"dataPoints":[{"asInt":"-5e0","exemplars":[{"asInt":7e3}]}],
             "aggregationTemporality":1e0,"isMonotonic":true}},
            {"name":"m","histogram":{"dataPoints":[{"count":"1e1","bucketCounts":["1e0",9.0],
             "explicitBounds":[1]}],"aggregationTemporality":"2.0"}},
            {"name":"m","exponentialHistogram":{"dataPoints":[{"count":3.0,"zeroCount":"2e0",
             "scale":"-3e0","positive":{"offset":-2e1,"bucketCounts":["0.1e1"]}}],
             "aggregationTemporality":2}},
            {"name":"m","summary":{"dataPoints":[{"count":4e1}]}}]}]}]}"#;
        let read: ExportMetricsServiceRequest = from_slice(json).expect("valid OTLP/JSON");
        let protobuf = ExportMetricsServiceRequest::decode(metrics.encode_to_vec().as_slice());
        assert_eq!(Ok(read), protobuf.map_err(|error| error.to_string()));

        // Not a whole number, or out of the field's range: refused, naming
        // the key and the value.
        for (key, value, why) in [
            ("startTimeUnixNano", r#""1.5""#, "not a whole number"),
            ("startTimeUnixNano", "1.5", "not a whole number"),
            ("startTimeUnixNano", r#""1e-1""#, "not a whole number"),
            ("startTimeUnixNano", r#""-1e0""#, "out of the range"),
            ("startTimeUnixNano", r#""1e20""#, "out of the range"),
            // (An unquoted value is shown as `serde_json` writes the double.)
            ("startTimeUnixNano", "1e+20", "out of the range"),
            (
                "startTimeUnixNano",
                r#""1e999999999999""#,
                "out of the range",
            ),
            (
                "startTimeUnixNano",
                r#""1234567890123456789012345678901234567890""#,
                "out of the range",
            ),
            ("startTimeUnixNano", r#""1.5e39""#, "out of the range"),
            (
                "droppedAttributesCount",
                r#""4.294967296e9""#,
                "out of the range",
            ),
            ("kind", "2.5", "not a whole number"),
        ] {
            let json = format!(
                r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"{key}":{value}}}]}}]}}]}}"#
            );
            let error = from_slice::<ExportTraceServiceRequest>(json.as_bytes())
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default();
            assert!(
                error.contains(&format!("`{key}` is {value}")) && error.contains(why),
                "{key} {value}: {error}"
            );
        }
        let json =
            br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"intValue":"1e19"}}]}]}]}"#;
        let error = from_slice::<ExportLogsServiceRequest>(json)
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(
            error.contains(r#"`intValue` is "1e19", out of the range of its type (int64)"#),
            "{error}"
        );
    }
}
