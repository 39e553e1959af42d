//! Values nested deeper than `MAX_VALUE_DEPTH` are cut there (written as an
//! empty `AnyValue`), by the protobuf and the OTLP/JSON encoders alike, so
//! that one such attribute or body does not make a receiver refuse the whole
//! request: before, a value nested 40 arrays deep was encoded as it was, and
//! prost (and opentelemetry-proto's serde, for JSON) refused every span and
//! record of its batch.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::AnyValue as ProtoValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use otlp_core::encode::{
    LogEncoder, MAX_VALUE_DEPTH, TraceEncoder, logs_request_to_json, trace_request_to_json,
};
use otlp_core::{AnyValue, KeyValue, LogRecord, SpanData};
use prost::Message;

/// `levels` arrays (odd levels) and key-value lists (even levels) around a
/// string.
fn nested(levels: usize) -> AnyValue {
    let mut value = AnyValue::from("leaf");
    for level in 0..levels {
        value = if level % 2 == 0 {
            AnyValue::Array(vec![value, AnyValue::Int(level as i64)].into())
        } else {
            AnyValue::KvList(vec![KeyValue::new("inner", value)].into())
        };
    }
    value
}

/// How many arrays and lists nest in `value` (decoded), and whether the
/// innermost is the cut: an empty value where a list or an array was.
fn depth_of(value: &ProtoValue) -> (usize, bool) {
    match &value.value {
        Some(Value::ArrayValue(array)) => {
            let (depth, cut) = depth_of(&array.values[0]);
            (depth + 1, cut)
        }
        Some(Value::KvlistValue(list)) => {
            let inner = list.values[0].value.as_ref().expect("a value");
            let (depth, cut) = depth_of(inner);
            (depth + 1, cut)
        }
        Some(_) => (0, false),
        None => (0, true),
    }
}

#[test]
fn a_span_attribute_nested_past_the_limit_is_cut_and_its_request_decodes() {
    let span = SpanData::builder("deep")
        .attribute(KeyValue::new("nested", nested(60)))
        .attribute(KeyValue::new("shallow", nested(3)))
        .build();
    let mut encoder = TraceEncoder::new();
    let mut body = Vec::new();
    encoder.encode_protobuf(std::slice::from_ref(&span), &mut body);
    assert_eq!(
        encoder.encoded_len(std::slice::from_ref(&span)),
        body.len(),
        "the measured length is what is written"
    );
    let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("prost decodes it");
    let attributes = &request.resource_spans[0].scope_spans[0].spans[0].attributes;
    let value = |key: &str| {
        attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .expect("the attribute")
    };
    assert_eq!(depth_of(value("nested")), (MAX_VALUE_DEPTH, true));
    assert_eq!(
        depth_of(value("shallow")),
        (3, false),
        "shallow values are whole"
    );

    let mut json = Vec::new();
    encoder.encode_json(std::slice::from_ref(&span), &mut json);
    let from_json: ExportTraceServiceRequest =
        serde_json::from_slice(&json).expect("opentelemetry-proto's serde reads it");
    assert_eq!(
        from_json, request,
        "the JSON encoder cuts where protobuf does"
    );
    let mut transcoded = Vec::new();
    trace_request_to_json(&body, &mut transcoded).expect("transcodes");
    assert_eq!(
        String::from_utf8_lossy(&transcoded),
        String::from_utf8_lossy(&json)
    );
}

#[test]
fn a_log_body_nested_past_the_limit_is_cut_and_its_request_decodes() {
    let log = LogRecord::builder().body(nested(60)).build();
    let mut encoder = LogEncoder::new();
    let mut body = Vec::new();
    encoder.encode_protobuf(std::slice::from_ref(&log), &mut body);
    let request = ExportLogsServiceRequest::decode(body.as_slice()).expect("prost decodes it");
    let record = &request.resource_logs[0].scope_logs[0].log_records[0];
    let decoded = record.body.as_ref().expect("a body");
    assert_eq!(depth_of(decoded), (MAX_VALUE_DEPTH, true));

    let mut json = Vec::new();
    encoder.encode_json(std::slice::from_ref(&log), &mut json);
    let from_json: ExportLogsServiceRequest =
        serde_json::from_slice(&json).expect("opentelemetry-proto's serde reads it");
    assert_eq!(from_json, request);
    let mut transcoded = Vec::new();
    logs_request_to_json(&body, &mut transcoded).expect("transcodes");
    assert_eq!(
        String::from_utf8_lossy(&transcoded),
        String::from_utf8_lossy(&json)
    );
}
