//! [`LogConverter`]: `opentelemetry_sdk` log records into `otlp_core` log records.

use std::sync::Arc;

use opentelemetry::logs::AnyValue as OtelAnyValue;
use opentelemetry::{InstrumentationScope, Key, SpanId as OtelSpanId, TraceId as OtelTraceId};
use opentelemetry_sdk::logs::SdkLogRecord;
use otlp_core::clock;
use otlp_core::{AnyValue, KeyValue, LogRecord, Resource, Severity, SpanId, Str, TraceId};

use super::intern::KeyInterner;
use super::log_scope_cache::LogScopeCache;
use super::value_convert::{INLINE_MAX, convert_resource, str_from};

/// Converts `opentelemetry_sdk` log records into `otlp_core` log records,
/// sharing what can be shared. Used by
/// [`OtlpLogProcessor`](super::OtlpLogProcessor) and
/// [`SdkLogExporter`](super::SdkLogExporter); public for benchmarks and
/// custom bridges.
///
/// What each field becomes (every field of OTLP's `LogRecord` is kept):
///
/// | `opentelemetry_sdk` | `otlp_core` |
/// |---|---|
/// | `timestamp` | `time_unix_nano` (0, "unknown", when absent) |
/// | `observed_timestamp` | `observed_time_unix_nano`; the SDK's logger sets it on emit, and when absent it is *now*, as the data model asks |
/// | `severity_number` (`Trace` 1 ... `Fatal4` 24) | the same [`Severity`] number; absent is [`Severity::UNSPECIFIED`] |
/// | `severity_text`, `event_name` (`&'static str`) | [`Str::new_static`]: no allocation |
/// | `body`, attribute values: `String`, `Int`, `Double`, `Boolean` | the same [`AnyValue`] kind |
/// | `Bytes` | [`AnyValue::Bytes`] |
/// | `ListAny` | [`AnyValue::Array`], each item converted, nested to any depth |
/// | `Map` | [`AnyValue::KvList`], sorted by key (a `HashMap` has no order; sorting makes the same map encode to the same bytes) |
/// | attribute keys | up to 23 bytes inline; longer ones shared through a bounded interning table |
/// | a key added twice (`opentelemetry_sdk` keeps both) | one attribute: the last value, in the key's first place (OTLP wants one value per key) |
/// | `trace_context`: trace id, span id, trace flags | `trace_id`, `span_id` (`None` when absent or all-zero), the flags' low byte |
/// | the logger's `InstrumentationScope`, with the record's `target` | one `Arc<InstrumentationScope>` per distinct pair, cached; the target, when present, names the scope (as `opentelemetry-otlp` exports it) |
/// | the SDK's resource (see [`set_resource`](Self::set_resource)) | one `Arc<Resource>`, shared by every record |
///
/// Cost model: one allocation for a non-empty attribute list, one per string
/// longer than 23 bytes (body, values; the SDK's record is borrowed, so its
/// strings are copied), one per byte, list or map value; none for severity
/// text, event name or short text; the scope costs a comparison and a
/// reference-count increment (thread-local cache). `convert` takes `&self`
/// and is safe to call from many threads at once.
///
/// ```
/// use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
/// use opentelemetry::{InstrumentationScope, SpanId, TraceFlags, TraceId};
/// use opentelemetry_sdk::logs::SdkLoggerProvider;
/// use otlp_contrib::bridge::LogConverter;
///
/// let logger = SdkLoggerProvider::builder().build().logger("checkout");
/// let mut record = logger.create_log_record();
/// record.set_severity_number(Severity::Warn);
/// record.set_severity_text("WARN");
/// record.set_body(AnyValue::from("stock low"));
/// record.add_attribute("items.left", 2);
/// record.set_trace_context(TraceId::from(1), SpanId::from(2), Some(TraceFlags::SAMPLED));
///
/// let converted = LogConverter::new().convert(&record, &InstrumentationScope::builder("checkout").build());
/// assert_eq!(converted.severity_number.number(), 13);
/// assert!(converted.severity_text.is_static());
/// assert_eq!(converted.body, Some(otlp_core::AnyValue::from("stock low")));
/// assert_eq!(converted.attributes, vec![otlp_core::KeyValue::new("items.left", 2)]);
/// assert_eq!(converted.flags, 1);
/// assert!(converted.observed_time_unix_nano > 0, "now, when the record has none");
/// ```
#[derive(Debug)]
pub struct LogConverter {
    resource: Arc<Resource>,
    scopes: LogScopeCache,
    keys: KeyInterner,
}

impl Default for LogConverter {
    fn default() -> Self {
        LogConverter::new()
    }
}

impl LogConverter {
    /// A converter whose records carry the empty resource until
    /// [`set_resource`](Self::set_resource) is called.
    pub fn new() -> Self {
        LogConverter {
            resource: Resource::empty(),
            scopes: LogScopeCache::default(),
            keys: KeyInterner::default(),
        }
    }

    /// Converts the SDK's resource once; every record converted afterwards shares it.
    pub fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.resource = Arc::new(convert_resource(resource));
    }

    /// Sets the already converted resource every record shares.
    pub fn set_otlp_resource(&mut self, resource: Arc<Resource>) {
        self.resource = resource;
    }

    /// The resource records get.
    pub fn resource(&self) -> &Arc<Resource> {
        &self.resource
    }

    /// Converts one record emitted by a logger of `scope` (see the table above).
    pub fn convert(&self, record: &SdkLogRecord, scope: &InstrumentationScope) -> LogRecord {
        let (trace_id, span_id, flags) = match record.trace_context() {
            Some(context) => (
                (context.trace_id != OtelTraceId::INVALID)
                    .then(|| TraceId::from_bytes(context.trace_id.to_bytes())),
                (context.span_id != OtelSpanId::INVALID)
                    .then(|| SpanId::from_bytes(context.span_id.to_bytes())),
                // The flags W3C defines (sampled, random): the others, which
                // `opentelemetry_sdk` keeps from a remote parent, W3C
                // reserves ("Vendors MUST set those to zero").
                context.trace_flags.map_or(0, |flags| {
                    u32::from(super::convert::defined_flags(flags).bits())
                }),
            ),
            None => (None, None, 0),
        };
        let mut converted = LogRecord {
            time_unix_nano: record.timestamp().map_or(0, clock::unix_nanos),
            observed_time_unix_nano: record
                .observed_timestamp()
                .map_or_else(clock::now_unix_nanos, clock::unix_nanos),
            severity_number: record
                .severity_number()
                .and_then(|severity| Severity::new(severity as u8))
                .unwrap_or(Severity::UNSPECIFIED),
            severity_text: record
                .severity_text()
                .map(Str::new_static)
                .unwrap_or_default(),
            body: record.body().map(convert_any_value),
            attributes: record
                .attributes_iter()
                .map(|(key, value)| KeyValue {
                    key: self.key(key),
                    value: convert_any_value(value),
                })
                .collect(),
            dropped_attributes_count: 0,
            flags,
            trace_id,
            span_id,
            event_name: record.event_name().map(Str::new_static).unwrap_or_default(),
            resource: Arc::clone(&self.resource),
            scope: self.scopes.get(scope, record.target()),
        };
        otlp_sdk::keep_last_value_per_key(&mut converted.attributes);
        converted
    }

    fn key(&self, key: &Key) -> Str {
        let text = key.as_str();
        if text.len() <= INLINE_MAX {
            Str::copy_from(text)
        } else {
            self.keys.intern(text)
        }
    }
}

/// Converts a log `AnyValue`, nested lists and maps included; every kind keeps its kind.
pub(crate) fn convert_any_value(value: &OtelAnyValue) -> AnyValue {
    match value {
        OtelAnyValue::Int(value) => AnyValue::Int(*value),
        OtelAnyValue::Double(value) => AnyValue::Double(*value),
        OtelAnyValue::String(value) => AnyValue::String(str_from(value.as_str())),
        OtelAnyValue::Boolean(value) => AnyValue::Bool(*value),
        OtelAnyValue::Bytes(bytes) => AnyValue::Bytes(Arc::from(bytes.as_slice())),
        OtelAnyValue::ListAny(items) => {
            AnyValue::Array(items.iter().map(convert_any_value).collect())
        }
        OtelAnyValue::Map(map) => {
            let mut entries: Vec<(&Key, &OtelAnyValue)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
            AnyValue::KvList(
                entries
                    .into_iter()
                    .map(|(key, value)| KeyValue {
                        key: str_from(key.as_str()),
                        value: convert_any_value(value),
                    })
                    .collect(),
            )
        }
        // `AnyValue` is non-exhaustive: a kind added later travels as its text.
        other => AnyValue::String(Str::from(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::{Duration, UNIX_EPOCH};

    use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity as S};
    use opentelemetry::{
        KeyValue as OtelKeyValue, SpanId as OSpanId, TraceFlags, TraceId as OTraceId,
    };
    use opentelemetry_sdk::logs::SdkLoggerProvider;

    use super::*;

    const LONG_KEY: &str = "messaging.destination.name";

    fn blank_record() -> SdkLogRecord {
        SdkLoggerProvider::builder()
            .build()
            .logger("test")
            .create_log_record()
    }

    fn scope() -> InstrumentationScope {
        InstrumentationScope::builder("checkout")
            .with_version("1.4.2")
            .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
            .with_attributes([OtelKeyValue::new("scope.attr", true)])
            .build()
    }

    /// A record using every field and every value kind.
    fn everything() -> SdkLogRecord {
        let mut record = blank_record();
        record.set_timestamp(UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_001));
        record.set_observed_timestamp(UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_002));
        record.set_severity_number(S::Error2);
        record.set_severity_text("error");
        record.set_event_name("order.failed");
        record.set_target("shop::orders");
        let mut map = HashMap::new();
        map.insert(Key::from_static_str("zeta"), OtelAnyValue::Int(1));
        map.insert(
            Key::from_static_str("alpha"),
            OtelAnyValue::ListAny(Box::new(vec![
                OtelAnyValue::Boolean(true),
                OtelAnyValue::Bytes(Box::new(vec![0xde, 0xad])),
            ])),
        );
        record.set_body(OtelAnyValue::Map(Box::new(map)));
        record.add_attribute("bool", true);
        record.add_attribute("int", -7i64);
        record.add_attribute("double", 0.25);
        record.add_attribute("short", "GET");
        record.add_attribute(
            LONG_KEY,
            String::from("a string value longer than 23 bytes"),
        );
        record.add_attribute("bytes", OtelAnyValue::Bytes(Box::new(vec![1, 2, 3])));
        record.add_attribute(
            "list",
            OtelAnyValue::ListAny(Box::new(vec![
                OtelAnyValue::Int(1),
                OtelAnyValue::String("two".into()),
            ])),
        );
        record.set_trace_context(
            OTraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
            OSpanId::from(0x00f067aa0ba902b7),
            Some(TraceFlags::SAMPLED),
        );
        record
    }

    #[test]
    fn every_field_is_converted() {
        let mut converter = LogConverter::new();
        converter.set_resource(
            &opentelemetry_sdk::Resource::builder_empty()
                .with_service_name("shop")
                .build(),
        );
        let source = everything();
        let record = converter.convert(&source, &scope());

        assert_eq!(record.time_unix_nano, 1_700_000_000_000_000_001);
        assert_eq!(record.observed_time_unix_nano, 1_700_000_000_000_000_002);
        assert_eq!(record.severity_number, Severity::ERROR2);
        assert_eq!(record.severity_text, "error");
        assert!(record.severity_text.is_static());
        assert_eq!(record.event_name, "order.failed");
        assert!(record.event_name.is_static());
        assert_eq!(
            record.body,
            Some(AnyValue::from(vec![
                KeyValue::new(
                    "alpha",
                    vec![AnyValue::Bool(true), AnyValue::from(vec![0xde_u8, 0xad])]
                ),
                KeyValue::new("zeta", 1),
            ]))
        );
        assert_eq!(
            record.attributes,
            vec![
                KeyValue::new("bool", true),
                KeyValue::new("int", -7i64),
                KeyValue::new("double", 0.25),
                KeyValue::new("short", "GET"),
                KeyValue::new(LONG_KEY, "a string value longer than 23 bytes"),
                KeyValue::new("bytes", vec![1_u8, 2, 3]),
                KeyValue::new("list", vec![AnyValue::Int(1), AnyValue::from("two")]),
            ]
        );
        assert_eq!(record.dropped_attributes_count, 0);
        assert_eq!(
            record.trace_id.map(|id| id.to_string()).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            record.span_id.map(|id| id.to_string()).as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert_eq!(record.flags, 1);
        assert_eq!(record.resource.service_name(), Some("shop"));
        assert!(Arc::ptr_eq(&record.resource, converter.resource()));
        assert_eq!(
            source.target().map(|target| target.as_ref()),
            Some("shop::orders")
        );
        assert_eq!(
            record.scope.name, "shop::orders",
            "the target names the scope"
        );
        assert_eq!(record.scope.version, "1.4.2");
        assert_eq!(
            record.scope.schema_url,
            "https://opentelemetry.io/schemas/1.30.0"
        );
        assert_eq!(
            record.scope.attributes,
            vec![KeyValue::new("scope.attr", true)]
        );
    }

    #[test]
    fn a_key_added_twice_is_converted_once_with_its_last_value_in_its_first_place() {
        let mut source = blank_record();
        source.add_attribute("exception.message", "first");
        source.add_attribute("other", 1i64);
        source.add_attribute("exception.message", "last");
        let record = LogConverter::new().convert(&source, &scope());
        assert_eq!(
            record.attributes,
            vec![
                KeyValue::new("exception.message", "last"),
                KeyValue::new("other", 1),
            ]
        );
        assert_eq!(record.dropped_attributes_count, 0);
    }

    #[test]
    fn an_empty_record_gets_defaults_and_an_observed_time_of_now() {
        let before = clock::now_unix_nanos();
        let record = LogConverter::new().convert(&blank_record(), &scope());
        assert_eq!(record.time_unix_nano, 0);
        assert!(record.observed_time_unix_nano >= before);
        assert_eq!(record.severity_number, Severity::UNSPECIFIED);
        assert!(record.severity_text.is_empty());
        assert!(record.event_name.is_empty());
        assert_eq!(record.body, None);
        assert!(record.attributes.is_empty());
        assert_eq!(
            (record.trace_id, record.span_id, record.flags),
            (None, None, 0)
        );
        assert_eq!(
            record.scope.name, "checkout",
            "no target: the logger's name"
        );
    }

    #[test]
    fn every_severity_keeps_its_number() {
        let converter = LogConverter::new();
        let severities = [
            S::Trace,
            S::Trace2,
            S::Trace3,
            S::Trace4,
            S::Debug,
            S::Debug2,
            S::Debug3,
            S::Debug4,
            S::Info,
            S::Info2,
            S::Info3,
            S::Info4,
            S::Warn,
            S::Warn2,
            S::Warn3,
            S::Warn4,
            S::Error,
            S::Error2,
            S::Error3,
            S::Error4,
            S::Fatal,
            S::Fatal2,
            S::Fatal3,
            S::Fatal4,
        ];
        for (number, severity) in (1u8..).zip(severities) {
            let mut record = blank_record();
            record.set_severity_number(severity);
            let converted = converter.convert(&record, &scope());
            assert_eq!(converted.severity_number.number(), number, "{severity:?}");
        }
    }

    #[test]
    fn an_all_zero_trace_context_is_no_context_and_unsampled_flags_stay() {
        let converter = LogConverter::new();
        let mut record = blank_record();
        record.set_trace_context(OTraceId::INVALID, OSpanId::INVALID, None);
        let converted = converter.convert(&record, &scope());
        assert_eq!((converted.trace_id, converted.span_id), (None, None));
        record.set_trace_context(
            OTraceId::from(5),
            OSpanId::from(6),
            Some(TraceFlags::NOT_SAMPLED),
        );
        let converted = converter.convert(&record, &scope());
        assert_eq!(converted.flags, 0);
        assert!(converted.trace_id.is_some() && converted.span_id.is_some());
    }

    #[test]
    fn a_remote_contexts_reserved_trace_flags_are_not_exported() {
        // `LogRecord.flags` carry the W3C byte, whose bits but sampled and
        // random W3C reserves ("Vendors MUST set those to zero"); a record
        // in a remote context that sent `-ff` went out 0xff.
        use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
        use otlp_core::encode::{Encoding, LogEncoder};
        use prost::Message;

        let mut record = blank_record();
        record.set_trace_context(
            OTraceId::from(5),
            OSpanId::from(6),
            Some(TraceFlags::new(0xff)),
        );
        let converted = LogConverter::new().convert(&record, &scope());
        let mut body = Vec::new();
        LogEncoder::new().encode(Encoding::Protobuf, &[converted], &mut body);
        let request = ExportLogsServiceRequest::decode(body.as_slice()).unwrap();
        let flags = request.resource_logs[0].scope_logs[0].log_records[0].flags;
        assert_eq!(flags, 0x03, "{flags:#x}");
    }

    #[test]
    fn records_share_resource_scope_and_long_keys() {
        let converter = LogConverter::new();
        let a = converter.convert(&everything(), &scope());
        let b = converter.convert(&everything(), &scope());
        assert!(Arc::ptr_eq(&a.scope, &b.scope));
        assert!(Arc::ptr_eq(&a.resource, &b.resource));
        assert_eq!(a.attributes[4].key.as_ptr(), b.attributes[4].key.as_ptr());
        let mut other = everything();
        other.set_target("shop::payments");
        let c = converter.convert(&other, &scope());
        assert_eq!(c.scope.name, "shop::payments");
        assert!(!Arc::ptr_eq(&a.scope, &c.scope));
    }

    #[test]
    fn equal_maps_convert_to_equal_values_whatever_their_order() {
        let forward: HashMap<Key, OtelAnyValue> = (0..32)
            .map(|i| (Key::new(format!("k{i}")), OtelAnyValue::Int(i)))
            .collect();
        let backward: HashMap<Key, OtelAnyValue> = (0..32)
            .rev()
            .map(|i| (Key::new(format!("k{i}")), OtelAnyValue::Int(i)))
            .collect();
        assert_eq!(
            convert_any_value(&OtelAnyValue::Map(Box::new(forward))),
            convert_any_value(&OtelAnyValue::Map(Box::new(backward)))
        );
    }
}
