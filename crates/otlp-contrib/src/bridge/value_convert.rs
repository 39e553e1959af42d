//! Attribute values, attributes and resources of the `opentelemetry` API
//! into `otlp_core`'s, for every converter of the bridge (spans, log records,
//! metrics, scopes).

use std::sync::Arc;

use opentelemetry::{Array, KeyValue, Value};
use otlp_core::{AnyValue, Resource, Str};

/// Longest text [`Str`] stores inline, without allocating.
pub(crate) const INLINE_MAX: usize = Str::INLINE_CAPACITY;

/// Converts the SDK's resource (attributes and schema URL).
pub fn convert_resource(resource: &opentelemetry_sdk::Resource) -> Resource {
    let mut converted = Resource::new(resource.iter().map(|(key, value)| otlp_core::KeyValue {
        key: str_from(key.as_str()),
        value: convert_value(value),
    }));
    if let Some(schema_url) = resource.schema_url() {
        converted.schema_url = str_from(schema_url);
    }
    converted
}

/// Copies text into a [`Str`]: inline when short, else one shared allocation.
pub(crate) fn str_from(text: &str) -> Str {
    Str::copy_from(text)
}

/// Converts an attribute without the interning table (for cold paths: scopes, resources).
pub(crate) fn convert_attribute_plain(attribute: &KeyValue) -> otlp_core::KeyValue {
    otlp_core::KeyValue {
        key: str_from(attribute.key.as_str()),
        value: convert_value(&attribute.value),
    }
}

/// Converts an attribute value; every kind keeps its kind.
pub(crate) fn convert_value(value: &Value) -> AnyValue {
    match value {
        Value::Bool(value) => AnyValue::Bool(*value),
        Value::I64(value) => AnyValue::Int(*value),
        Value::F64(value) => AnyValue::Double(*value),
        Value::String(value) => AnyValue::String(str_from(value.as_str())),
        Value::Array(array) => convert_array(array),
        // `Value` is non-exhaustive: a kind added later travels as its text.
        other => AnyValue::String(Str::from(other.to_string())),
    }
}

fn convert_array(array: &Array) -> AnyValue {
    let items: Arc<[AnyValue]> = match array {
        Array::Bool(items) => items.iter().map(|&item| AnyValue::Bool(item)).collect(),
        Array::I64(items) => items.iter().map(|&item| AnyValue::Int(item)).collect(),
        Array::F64(items) => items.iter().map(|&item| AnyValue::Double(item)).collect(),
        Array::String(items) => items
            .iter()
            .map(|item| AnyValue::String(str_from(item.as_str())))
            .collect(),
        // `Array` is non-exhaustive: a kind added later travels as its text.
        other => return AnyValue::String(Str::from(other.to_string())),
    };
    AnyValue::Array(items)
}
