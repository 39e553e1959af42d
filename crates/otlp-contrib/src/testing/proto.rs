//! otlp-core spans as `opentelemetry-proto` messages, built field by field
//! through the generated types — a reference that shares no code with
//! [`otlp_core::encode`], for checking what encoders and transports produce.
//!
//! ```
//! use otlp_contrib::testing::proto;
//! use otlp_core::{KeyValue, SpanData};
//!
//! let span = SpanData::builder("GET /").attribute(KeyValue::new("http.response.status_code", 200)).build();
//! let request = proto::request(std::slice::from_ref(&span));
//! assert_eq!(request.resource_spans[0].scope_spans[0].spans[0], proto::span(&span));
//! ```

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as common;
use opentelemetry_proto::tonic::resource::v1 as resource;
use opentelemetry_proto::tonic::trace::v1 as trace;
use otlp_core::{AnyValue, InstrumentationScope, KeyValue, Resource, SpanData, Status};

/// An attribute value.
pub fn value(value: &AnyValue) -> common::AnyValue {
    use common::any_value::Value;
    let value = match value {
        AnyValue::String(text) => Value::StringValue(text.to_string()),
        AnyValue::Bool(flag) => Value::BoolValue(*flag),
        AnyValue::Int(int) => Value::IntValue(*int),
        AnyValue::Double(double) => Value::DoubleValue(*double),
        AnyValue::Bytes(bytes) => Value::BytesValue(bytes.to_vec()),
        AnyValue::Array(values) => Value::ArrayValue(common::ArrayValue {
            values: values.iter().map(self::value).collect(),
        }),
        AnyValue::KvList(entries) => Value::KvlistValue(common::KeyValueList {
            values: attributes(&each_key_once(entries)),
        }),
    };
    common::AnyValue { value: Some(value) }
}

/// A key-value list's entries as OTLP wants them, each key once ("keys MUST
/// be unique"): a repeated key keeps its last value, in the place where the
/// key first appears.
fn each_key_once(entries: &[KeyValue]) -> Vec<KeyValue> {
    let mut unique: Vec<KeyValue> = Vec::with_capacity(entries.len());
    for entry in entries {
        match unique.iter_mut().find(|kept| kept.key == entry.key) {
            Some(kept) => kept.value = entry.value.clone(),
            None => unique.push(entry.clone()),
        }
    }
    unique
}

/// A list of attributes.
pub fn attributes(attributes: &[KeyValue]) -> Vec<common::KeyValue> {
    attributes
        .iter()
        .map(|attribute| common::KeyValue {
            key: attribute.key.to_string(),
            value: Some(value(&attribute.value)),
            ..Default::default()
        })
        .collect()
}

/// A resource.
pub fn resource(from: &Resource) -> resource::Resource {
    resource::Resource {
        attributes: attributes(&from.attributes),
        dropped_attributes_count: from.dropped_attributes_count,
        ..Default::default()
    }
}

/// An instrumentation scope.
pub fn scope(from: &InstrumentationScope) -> common::InstrumentationScope {
    common::InstrumentationScope {
        name: from.name.to_string(),
        version: from.version.to_string(),
        attributes: attributes(&from.attributes),
        dropped_attributes_count: from.dropped_attributes_count,
    }
}

/// A span (without its resource and scope). An unset status is absent, as
/// encoders omit it.
pub fn span(from: &SpanData) -> trace::Span {
    trace::Span {
        trace_id: from.trace_id.to_bytes().to_vec(),
        span_id: from.span_id.to_bytes().to_vec(),
        trace_state: from.trace_state.header().to_owned(),
        parent_span_id: from
            .parent_span_id
            .map(|id| id.to_bytes().to_vec())
            .unwrap_or_default(),
        flags: from.flags.bits(),
        name: from.name.to_string(),
        kind: i32::from(from.kind.wire_value()),
        start_time_unix_nano: from.start_time_unix_nano,
        end_time_unix_nano: from.end_time_unix_nano,
        attributes: attributes(&from.attributes),
        dropped_attributes_count: from.dropped_attributes_count,
        events: from
            .events
            .iter()
            .map(|event| trace::span::Event {
                time_unix_nano: event.time_unix_nano,
                name: event.name.to_string(),
                attributes: attributes(&event.attributes),
                dropped_attributes_count: event.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: from.dropped_events_count,
        links: from
            .links
            .iter()
            .map(|link| trace::span::Link {
                trace_id: link.trace_id.to_bytes().to_vec(),
                span_id: link.span_id.to_bytes().to_vec(),
                trace_state: link.trace_state.header().to_owned(),
                attributes: attributes(&link.attributes),
                dropped_attributes_count: link.dropped_attributes_count,
                flags: link.flags.bits(),
            })
            .collect(),
        dropped_links_count: from.dropped_links_count,
        status: match &from.status {
            Status::Unset => None,
            status => Some(trace::Status {
                message: status.message().to_owned(),
                code: i32::from(status.code()),
            }),
        },
    }
}

/// The request the protocol expects for `spans`: grouped by resource value,
/// then by scope value, groups in first-appearance order, spans in batch order.
pub fn request(spans: &[SpanData]) -> ExportTraceServiceRequest {
    let mut groups: Vec<(&Resource, trace::ResourceSpans, Vec<&InstrumentationScope>)> = Vec::new();
    for from in spans {
        let resource_index = match groups
            .iter()
            .position(|(known, ..)| **known == *from.resource)
        {
            Some(index) => index,
            None => {
                groups.push((
                    &from.resource,
                    trace::ResourceSpans {
                        resource: Some(resource(&from.resource)),
                        scope_spans: Vec::new(),
                        schema_url: from.resource.schema_url.to_string(),
                    },
                    Vec::new(),
                ));
                groups.len() - 1
            }
        };
        let (_, resource_spans, scopes) = &mut groups[resource_index];
        let scope_index = match scopes.iter().position(|known| **known == *from.scope) {
            Some(index) => index,
            None => {
                scopes.push(&from.scope);
                resource_spans.scope_spans.push(trace::ScopeSpans {
                    scope: Some(scope(&from.scope)),
                    spans: Vec::new(),
                    schema_url: from.scope.schema_url.to_string(),
                });
                scopes.len() - 1
            }
        };
        resource_spans.scope_spans[scope_index]
            .spans
            .push(span(from));
    }
    ExportTraceServiceRequest {
        resource_spans: groups
            .into_iter()
            .map(|(_, resource_spans, _)| resource_spans)
            .collect(),
    }
}
