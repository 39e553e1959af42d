//! OTLP/JSON's non-finite doubles. OTLP/JSON is the proto3 JSON mapping,
//! where a `double` field may hold the strings `"NaN"`, `"Infinity"` and
//! `"-Infinity"`; `opentelemetry-proto`'s serde takes them only for a summary
//! point's `quantile` and `value`, and refuses them everywhere else (a gauge's
//! `asDouble`, a histogram's `sum`, `min` and `max`, an attribute's
//! `doubleValue`...).
//!
//! Cost model: a body is first decoded as it is, straight from its bytes.
//! Only a body that fails to decode and holds one of the three strings is
//! parsed again, into a [`serde_json::Value`], and decoded from that value by
//! [`JsonValue`], which hands those strings to a `double` field as numbers:
//! about twice the work and the memory of the body's tree, for such bodies
//! only.
//!
//! A string is read as a double only as the value of a key that names a
//! `double` field somewhere in OTLP ([`DOUBLE_FIELDS`]), or as an element of
//! an array under such a key (`explicitBounds`), so `"stringValue": "NaN"`
//! stays a string.

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess};
use serde_json::Value;

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

/// Decodes an OTLP/JSON request, taking `"NaN"`, `"Infinity"` and
/// `"-Infinity"` in its `double` fields. The error is the first decode's
/// (with its line and column) when the second one fails too.
pub(crate) fn from_slice<R: DeserializeOwned>(body: &[u8]) -> Result<R, serde_json::Error> {
    match serde_json::from_slice(body) {
        Ok(request) => Ok(request),
        Err(error) if error.is_data() && has_non_finite_string(body) => {
            let Ok(value) = serde_json::from_slice::<Value>(body) else {
                return Err(error);
            };
            R::deserialize(JsonValue {
                value: &value,
                double: false,
            })
            .map_err(|_| error)
        }
        Err(error) => Err(error),
    }
}

/// Whether `body` holds one of the three strings (cheap, and may say yes for
/// a string that is not a `double`'s: the slow path then decodes as before).
fn has_non_finite_string(body: &[u8]) -> bool {
    [&b"\"NaN\""[..], b"\"Infinity\"", b"\"-Infinity\""]
        .iter()
        .any(|needle| body.windows(needle.len()).any(|window| window == *needle))
}

/// The double a proto3 JSON string stands for, if it is one of the three.
fn non_finite(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// A deserializer over a parsed JSON value that gives the three strings to
/// visitors as doubles where `double` says the value is a `double` field's.
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
            Value::String(text) if self.double => match non_finite(text) {
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
}
