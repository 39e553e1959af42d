//! OTLP/JSON output decodes with `opentelemetry-proto`'s serde support into the
//! same request the protobuf path produces, and follows the OTLP/JSON rules
//! (hex ids, integer enums, 64-bit integers as strings, lowerCamelCase).

mod support;

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otlp_core::encode::{Encoding, TraceEncoder};
use otlp_core::{
    AnyValue, InstrumentationScope, KeyValue, Resource, SpanData, SpanId, SpanKind, Status, TraceId,
};
use proptest::prelude::*;
use serde_json::Value;
use support::{
    arb_batch, assert_same_json_as_serde, expected_request, finite_span, realistic_span,
};

fn encode_json(spans: &[SpanData]) -> Vec<u8> {
    let mut body = Vec::new();
    let written = TraceEncoder::new().encode(Encoding::Json, spans, &mut body);
    assert_eq!(written, body.len());
    body
}

fn check(spans: &[SpanData]) {
    let body = encode_json(spans);
    let decoded: ExportTraceServiceRequest = match serde_json::from_slice(&body) {
        Ok(decoded) => decoded,
        Err(err) => panic!("opentelemetry-proto rejects our JSON: {err}"),
    };
    assert!(
        decoded == expected_request(spans),
        "decoded JSON differs from the spans"
    );
    let expected = serde_json::to_value(expected_request(spans)).expect("serde writes it");
    assert_same_json_as_serde(&body, expected);
}

#[test]
fn json_follows_the_otlp_rules() {
    let span = SpanData::builder("GET /")
        .trace_id(TraceId::from_hex("5b8efff798038103d269b633813fc60c").unwrap())
        .span_id(SpanId::from_hex("eee19b7ec3c1b174").unwrap())
        .parent_span_id(Some(SpanId::from_hex("eee19b7ec3c1b173").unwrap()))
        .kind(SpanKind::Server)
        .times(1_544_712_660_000_000_000, 1_544_712_661_000_000_000)
        .attribute(KeyValue::new("count", 123i64))
        .dropped_counts(4, 0, 0)
        .status(Status::error("boom"))
        .build();
    let body = encode_json(&[span]);
    let json: Value = serde_json::from_slice(&body).unwrap();
    let span = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["traceId"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(span["spanId"], "eee19b7ec3c1b174");
    assert_eq!(span["parentSpanId"], "eee19b7ec3c1b173");
    assert_eq!(span["kind"], 2);
    assert_eq!(span["startTimeUnixNano"], "1544712660000000000");
    assert_eq!(span["endTimeUnixNano"], "1544712661000000000");
    assert_eq!(span["attributes"][0]["value"]["intValue"], "123");
    assert_eq!(span["droppedAttributesCount"], 4);
    assert_eq!(span["status"]["code"], 2);
    assert_eq!(span["status"]["message"], "boom");
}

#[test]
fn non_finite_doubles_and_escapes_are_valid_json() {
    let span = SpanData::builder("quote \" backslash \\ newline \n tab \t nul \u{0}")
        .attributes([
            KeyValue::new("nan", f64::NAN),
            KeyValue::new("inf", f64::INFINITY),
            KeyValue::new("ninf", f64::NEG_INFINITY),
        ])
        .build();
    let body = encode_json(&[span]);
    let json: Value = serde_json::from_slice(&body).expect("valid JSON");
    let span = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(
        span["name"],
        "quote \" backslash \\ newline \n tab \t nul \u{0}"
    );
    let attrs = &span["attributes"];
    assert_eq!(attrs[0]["value"]["doubleValue"], "NaN");
    assert_eq!(attrs[1]["value"]["doubleValue"], "Infinity");
    assert_eq!(attrs[2]["value"]["doubleValue"], "-Infinity");
}

#[test]
fn realistic_batch_decodes_identically_to_protobuf() {
    let resource = Arc::new(Resource::new([KeyValue::new("service.name", "json")]));
    let scope = Arc::new(InstrumentationScope::new("json").with_version("1"));
    let spans: Vec<SpanData> = (0..50)
        .map(|i| realistic_span(&resource, &scope, i))
        .collect();
    check(&spans);
    let value = AnyValue::from(vec![AnyValue::from(vec![1u8, 2, 3]), AnyValue::from("x")]);
    check(&[SpanData::builder("arrays")
        .attribute(KeyValue::new("a", value))
        .build()]);
}

proptest! {
    #![proptest_config(support::cases_or_env(128))]

    #[test]
    fn random_batches_round_trip_through_serde(spans in arb_batch(8)) {
        let spans: Vec<SpanData> = spans.iter().map(finite_span).collect();
        check(&spans);
    }
}
