//! `trace_request_to_json` (protobuf request -> OTLP/JSON request) writes the
//! same bytes as `TraceEncoder::encode_json` for the same spans, whichever
//! protobuf encoder wrote the request (ours, in both modes, prost, or spans
//! encoded once as records and framed by `frame::write_request`); its
//! JSON decodes with `opentelemetry-proto`'s serde support into the request
//! the spans stand for; hostile protobuf is an error or valid JSON, never a
//! panic; and a warm transcode allocates nothing.
//!
//! Byte identity holds for doubles too (infinities included): both paths
//! format the same `f64` bits with the same helper, so no case needs a
//! comparison as `serde_json::Value`.
//!
//! Bounded hostile run: `PROPTEST_CASES=20000 cargo test -p otlp-core --test transcode`.

mod hostile_support;
mod support;

use std::sync::Arc;

use hostile_support::DICTIONARY;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otlp_contrib::testing::alloc::{CountingAllocator, allocations_during};
use otlp_contrib::testing::fuzz::{config, mutated};
use otlp_core::encode::{
    Encoding, TraceEncoder, TranscodeError, frame, record, trace_request_to_json,
};
use otlp_core::{
    AnyValue, Event, InstrumentationScope, KeyValue, Link, Resource, SpanData, SpanFlags, SpanId,
    SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use proptest::collection::vec;
use proptest::prelude::*;
use prost::Message;
use support::{arb_batch, expected_request, finite_attributes, finite_span, realistic_span};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn protobuf(spans: &[SpanData]) -> Vec<u8> {
    let mut body = Vec::new();
    TraceEncoder::new().encode_protobuf(spans, &mut body);
    body
}

fn json(spans: &[SpanData]) -> Vec<u8> {
    let mut body = Vec::new();
    TraceEncoder::new().encode_json(spans, &mut body);
    body
}

fn transcode(protobuf: &[u8]) -> Result<Vec<u8>, TranscodeError> {
    let mut out = Vec::new();
    let written = trace_request_to_json(protobuf, &mut out)?;
    assert_eq!(written, out.len());
    Ok(out)
}

/// Transcoding the protobuf of `spans` gives the JSON encoder's bytes, for
/// each protobuf writer: measured, one pass, and prost's.
fn check_identical(spans: &[SpanData]) {
    let expected = json(spans);
    let mut one_pass = Vec::new();
    TraceEncoder::new().encode(Encoding::Protobuf, spans, &mut one_pass);
    let prost = expected_request(spans).encode_to_vec();
    for (writer, body) in [
        ("encode_protobuf", protobuf(spans)),
        ("encode (one pass)", one_pass),
        ("prost", prost),
    ] {
        let transcoded = match transcode(&body) {
            Ok(transcoded) => transcoded,
            Err(error) => panic!("{writer}: {error}"),
        };
        if transcoded != expected {
            panic!(
                "{writer}: transcoded JSON differs\n transcoded: {}\n encoder:    {}",
                String::from_utf8_lossy(&transcoded),
                String::from_utf8_lossy(&expected)
            );
        }
    }
}

/// Every kind of value, in every place a value can be.
fn every_kind_of_value() -> Vec<KeyValue> {
    vec![
        KeyValue::new("string", "quote \" backslash \\ newline \n nul \u{0} é"),
        KeyValue::new("empty", ""),
        KeyValue::new("true", true),
        KeyValue::new("false", false),
        KeyValue::new("int", -42i64),
        KeyValue::new("zero", 0i64),
        KeyValue::new("max", i64::MAX),
        KeyValue::new("double", 0.1),
        KeyValue::new("negative zero", -0.0),
        KeyValue::new("tiny", 5e-324),
        KeyValue::new("nan", f64::NAN),
        KeyValue::new("inf", f64::INFINITY),
        KeyValue::new("ninf", f64::NEG_INFINITY),
        KeyValue::new("bytes", AnyValue::from(vec![0u8, 1, 2, 0xfe, 0xff])),
        KeyValue::new("no bytes", AnyValue::from(Vec::<u8>::new())),
        KeyValue::new(
            "array",
            AnyValue::from(vec![
                AnyValue::from("x"),
                AnyValue::from(vec![AnyValue::from(1i64)]),
                AnyValue::from(Vec::<AnyValue>::new()),
            ]),
        ),
        KeyValue::new(
            "kvlist",
            AnyValue::KvList(
                vec![
                    KeyValue::new("inner", 1.5),
                    KeyValue::new("", AnyValue::KvList(Vec::new().into())),
                ]
                .into(),
            ),
        ),
        KeyValue::new("", "empty key"),
    ]
}

/// A span with every field set, in two resources and three scopes.
fn every_field() -> Vec<SpanData> {
    // Resources and scopes without NaN: the reference grouping behind the prost
    // path compares them by value, and NaN is not equal to itself.
    let mut resource = Resource::new(finite_attributes(&every_kind_of_value()));
    resource.dropped_attributes_count = 3;
    resource.schema_url = "https://opentelemetry.io/schemas/1.26.0".into();
    let resource = Arc::new(resource);
    let other_resource = Arc::new(Resource::new([KeyValue::new("service.name", "other")]));
    let scope = Arc::new(InstrumentationScope {
        name: "scope".into(),
        version: "1.2.3".into(),
        schema_url: "https://example.com/schema".into(),
        attributes: finite_attributes(&every_kind_of_value()),
        dropped_attributes_count: 7,
    });
    let other_scope = Arc::new(InstrumentationScope::new("other"));
    let trace_state = TraceState::parse("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE").unwrap();
    let full = SpanData::builder("every field")
        .trace_id(TraceId::from_hex("5b8efff798038103d269b633813fc60c").unwrap())
        .span_id(SpanId::from_hex("eee19b7ec3c1b174").unwrap())
        .parent_span_id(Some(SpanId::from_hex("eee19b7ec3c1b173").unwrap()))
        .flags(SpanFlags::new(TraceFlags::SAMPLED, Some(true)))
        .kind(SpanKind::Consumer)
        .times(1_544_712_660_000_000_000, u64::MAX)
        .attributes(every_kind_of_value())
        .dropped_counts(u32::MAX, 2, 3)
        .status(Status::error("boom \"quoted\""))
        .resource(resource.clone())
        .scope(scope.clone())
        .build();
    let mut full = full;
    full.trace_state = trace_state.clone();
    full.events = vec![
        Event {
            time_unix_nano: 1,
            name: "event".into(),
            attributes: every_kind_of_value(),
            dropped_attributes_count: 9,
        },
        Event {
            time_unix_nano: 0,
            name: "".into(),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
        },
    ];
    full.links = vec![Link {
        trace_id: TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        span_id: SpanId::from_hex("b7ad6b7169203331").unwrap(),
        trace_state,
        attributes: every_kind_of_value(),
        dropped_attributes_count: 4,
        flags: SpanFlags::from_bits(0x301),
    }];
    let bare = SpanData::builder("")
        .resource(other_resource.clone())
        .scope(scope.clone())
        .build();
    vec![
        full,
        bare.clone(),
        SpanData::builder("ok")
            .status(Status::Ok)
            .resource(resource.clone())
            .scope(other_scope.clone())
            .build(),
        SpanData {
            scope: other_scope,
            resource: other_resource,
            ..bare
        },
    ]
}

/// The "encode once" path of issue 13: each span a record
/// (`record::encode_span`), grouped by resource and then scope in
/// first-appearance order (as `TraceEncoder` groups), framed by
/// `frame::write_request`.
fn encode_once(spans: &[SpanData]) -> Vec<u8> {
    type Scopes<'a> = Vec<(&'a InstrumentationScope, Vec<Vec<u8>>)>;
    let mut groups: Vec<(&Resource, Scopes<'_>)> = Vec::new();
    for span in spans {
        let mut record = Vec::new();
        record::encode_span(span, &mut record);
        let resource = &*span.resource;
        let index = groups
            .iter()
            .position(|(r, _)| std::ptr::eq(*r, resource) || *r == resource)
            .unwrap_or_else(|| {
                groups.push((resource, Vec::new()));
                groups.len() - 1
            });
        let scopes = &mut groups[index].1;
        let scope = &*span.scope;
        let index = scopes
            .iter()
            .position(|(s, _)| std::ptr::eq(*s, scope) || *s == scope)
            .unwrap_or_else(|| {
                scopes.push((scope, Vec::new()));
                scopes.len() - 1
            });
        scopes[index].1.push(record);
    }
    let mut out = Vec::new();
    frame::write_request(
        groups.iter().map(|(resource, scopes)| {
            let scopes = scopes
                .iter()
                .map(|(scope, records)| (*scope, records.iter().map(Vec::as_slice)));
            (*resource, scopes)
        }),
        &mut out,
    );
    out
}

#[test]
fn encoded_once_records_of_every_field_transcode_to_the_encoders_bytes() {
    let spans = every_field();
    assert_eq!(transcode(&encode_once(&spans)).unwrap(), json(&spans));
}

#[test]
fn every_field_and_value_kind_transcodes_to_the_encoders_bytes() {
    let spans = every_field();
    check_identical(&spans);
    let text = String::from_utf8(transcode(&protobuf(&spans)).unwrap()).unwrap();
    // Spot checks of the OTLP/JSON rules on the transcoded text itself.
    for needle in [
        r#""traceId":"5b8efff798038103d269b633813fc60c""#,
        r#""parentSpanId":"eee19b7ec3c1b173""#,
        r#""kind":5"#,
        r#""endTimeUnixNano":"18446744073709551615""#,
        r#""droppedAttributesCount":4294967295"#,
        r#""flags":769"#,
        r#""bytesValue":"AAEC/v8=""#,
        r#""doubleValue":"-Infinity""#,
        r#""intValue":"-42""#,
        r#""traceState":"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE""#,
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
}

#[test]
fn realistic_batches_transcode_to_the_encoders_bytes() {
    let resource = Arc::new(Resource::new([KeyValue::new("service.name", "transcode")]));
    let scope = Arc::new(InstrumentationScope::new("transcode").with_version("1"));
    let spans: Vec<SpanData> = (0..200)
        .map(|i| realistic_span(&resource, &scope, i))
        .collect();
    check_identical(&spans);
    check_identical(&[]);
}

#[test]
fn transcoded_json_decodes_like_the_protobuf() {
    // Finite doubles: opentelemetry-proto's serde cannot read "NaN"/"Infinity".
    let spans: Vec<SpanData> = every_field().iter().map(finite_span).collect();
    check_serde(&spans);
}

/// The transcoded JSON decodes with opentelemetry-proto's serde support into
/// the request the spans stand for (as `json_round_trip` checks the encoder).
fn check_serde(spans: &[SpanData]) {
    let body = transcode(&protobuf(spans)).expect("our protobuf transcodes");
    let decoded: ExportTraceServiceRequest = match serde_json::from_slice(&body) {
        Ok(decoded) => decoded,
        Err(err) => panic!("opentelemetry-proto rejects the transcoded JSON: {err}"),
    };
    assert!(
        decoded == expected_request(spans),
        "decoded JSON differs from the spans"
    );
}

// ---- hostile input -------------------------------------------------------------

/// Hostile bytes: an error, with `out` untouched and the offset inside the
/// input, or valid JSON of bytes that prost reads too.
fn check_hostile(bytes: &[u8]) {
    let mut out = b"kept".to_vec();
    match trace_request_to_json(bytes, &mut out) {
        Ok(written) => {
            assert_eq!(written, out.len() - 4);
            if let Err(error) = ExportTraceServiceRequest::decode(bytes) {
                panic!("transcoded, but prost refuses it: {error}");
            }
            if let Err(err) = serde_json::from_slice::<serde_json::Value>(&out[4..]) {
                panic!(
                    "invalid JSON ({err}): {}",
                    String::from_utf8_lossy(&out[4..])
                );
            }
        }
        Err(error) => {
            assert_eq!(out, b"kept", "output touched by a failed transcode");
            if let Some(offset) = error_offset(&error) {
                assert!(
                    offset <= bytes.len(),
                    "{error} is outside {} bytes",
                    bytes.len()
                );
            }
            assert!(!error.to_string().is_empty());
        }
    }
}

fn error_offset(error: &TranscodeError) -> Option<usize> {
    use otlp_core::DecodeError;
    match error {
        TranscodeError::Wire(
            DecodeError::Truncated { offset }
            | DecodeError::Varint { offset }
            | DecodeError::WireType { offset, .. }
            | DecodeError::FieldNumber { offset, .. },
        ) => Some(*offset),
        TranscodeError::Wire(_) => None,
        TranscodeError::WireType { offset, .. }
        | TranscodeError::Utf8 { offset, .. }
        | TranscodeError::IdLength { offset, .. }
        | TranscodeError::Duplicate { offset, .. }
        | TranscodeError::TooDeep { offset, .. } => Some(*offset),
        other => panic!("a TranscodeError this test does not know yet: {other:?}"),
    }
}

fn encoded_request() -> impl Strategy<Value = Vec<u8>> {
    arb_batch(4).prop_map(|spans| protobuf(&spans))
}

#[test]
fn every_truncation_of_a_request_is_an_error_or_valid_json() {
    let body = protobuf(&every_field());
    for len in 0..body.len() {
        check_hostile(&body[..len]);
    }
    // Cutting inside the last field leaves a length prefix pointing past the end.
    assert!(matches!(
        trace_request_to_json(&body[..body.len() - 1], &mut Vec::new()),
        Err(TranscodeError::Wire(_))
    ));
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    // AnyValue { array_value: ArrayValue { values: [AnyValue { ... }] } }, 10,000 deep,
    // on a thread with a quarter of the default stack: the 100 levels read before
    // the refusal take about 3 KiB each in a debug build (far less optimised).
    let mut value: Vec<u8> = Vec::new();
    for _ in 0..10_000 {
        value = field(1, &value);
        value = field(5, &value);
    }
    let request = field(1, &field(1, &field(1, &field(2, &value))));
    let result = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || trace_request_to_json(&request, &mut Vec::new()))
        .expect("thread")
        .join()
        .expect("no stack overflow");
    assert!(
        matches!(result, Err(TranscodeError::TooDeep { limit: 100, .. })),
        "{result:?}"
    );
}

#[test]
fn unknown_fields_deep_in_a_request_are_refused_where_prost_refuses_them() {
    // prost counts messages and groups together against its limit of 100
    // from the request: an unknown field (which it skips, checking the
    // limit) in a message 100 deep, or inside `k` groups of a message `d`
    // deep once `d + k` reaches 100, is refused. The transcoder turned both
    // into JSON: it counted groups from the message it was writing, and
    // skipped unknown fields at any depth it writes.
    for arrays in 40..=48 {
        for lists in 0..=1 {
            // Request (0) > ResourceSpans (1) > Resource (2) > KeyValue (3) >
            // AnyValue (4), then 2 more per array and 3 more per key-value list.
            let depth = 4 + 2 * arrays + 3 * lists;
            for groups in 0..=3 {
                // An unknown varint (field 9) inside `groups` groups of field 99.
                let mut value = vec![9 << 3, 1];
                for _ in 0..groups {
                    value = [vec![0x9b, 0x06], value, vec![0x9c, 0x06]].concat();
                }
                for _ in 0..lists {
                    value = field(6, &field(1, &field(2, &value)));
                }
                for _ in 0..arrays {
                    value = field(5, &field(1, &value));
                }
                let request = field(1, &field(1, &field(1, &field(2, &value))));
                let prost = ExportTraceServiceRequest::decode(request.as_slice()).is_ok();
                let what = format!("{groups} groups in a value {depth} deep");
                assert_eq!(prost, depth + groups < 100, "prost: {what}");
                let ours = transcode(&request);
                assert_eq!(ours.is_ok(), prost, "{what}: {:?}", ours.map(|_| ()));
            }
        }
    }
}

#[test]
fn resource_entity_refs_are_transcoded_not_dropped() {
    // `Resource.entity_refs` (field 3, opentelemetry-proto 0.33) in a request
    // another SDK sent: the otlp-receiver's JSONL lines are this transcode of
    // it. Every member is set, as opentelemetry-proto's serde requires them.
    use opentelemetry_proto::tonic::common::v1::EntityRef;
    use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
    let entity = |kind: &str, ids: &[&str], descriptions: &[&str]| EntityRef {
        schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
        r#type: kind.into(),
        id_keys: ids.iter().map(|key| key.to_string()).collect(),
        description_keys: descriptions.iter().map(|key| key.to_string()).collect(),
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(ProtoResource {
                entity_refs: vec![
                    entity(
                        "service",
                        &["service.name", "service.namespace"],
                        &["service.version"],
                    ),
                    entity("host", &["host.id"], &[]),
                ],
                ..ProtoResource::default()
            }),
            scope_spans: vec![ScopeSpans::default()],
            schema_url: String::new(),
        }],
    };
    let json = transcode(&request.encode_to_vec()).expect("transcodes");
    let text = String::from_utf8_lossy(&json);
    assert!(
        text.contains(r#""resource":{"entityRefs":[{"schemaUrl":"https://opentelemetry.io/schemas/1.26.0","type":"service","idKeys":["service.name","service.namespace"],"descriptionKeys":["service.version"]},"#),
        "{text}"
    );
    let decoded: ExportTraceServiceRequest =
        serde_json::from_slice(&json).unwrap_or_else(|err| panic!("serde rejects {text}: {err}"));
    assert_eq!(decoded, request, "{text}");
}

/// A length-delimited field.
fn field(number: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    otlp_core::wire::put_varint(&mut out, (number << 3) | 2);
    otlp_core::wire::put_varint(&mut out, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

#[test]
fn a_warm_transcode_allocates_nothing() {
    let resource = Arc::new(Resource::new([KeyValue::new("service.name", "alloc")]));
    let scope = Arc::new(InstrumentationScope::new("alloc"));
    let mut spans: Vec<SpanData> = (0..500)
        .map(|i| realistic_span(&resource, &scope, i))
        .collect();
    spans.extend(every_field());
    let body = protobuf(&spans);
    let mut out = Vec::new();
    trace_request_to_json(&body, &mut out).expect("valid");
    let warm_len = out.len();
    for round in 0..3 {
        out.clear();
        let (allocations, written) = allocations_during(|| trace_request_to_json(&body, &mut out));
        assert_eq!(allocations, 0, "round {round} allocated");
        assert_eq!(written, Ok(warm_len));
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn random_batches_transcode_to_the_encoders_bytes(spans in arb_batch(8)) {
        check_identical(&spans);
    }

    #[test]
    fn encoded_once_records_transcode_to_the_encoders_bytes(spans in arb_batch(8)) {
        let transcoded = transcode(&encode_once(&spans)).expect("framed records transcode");
        let expected = json(&spans);
        prop_assert_eq!(String::from_utf8_lossy(&transcoded), String::from_utf8_lossy(&expected));
    }

    #[test]
    fn random_batches_decode_with_serde_like_the_protobuf(spans in arb_batch(8)) {
        let spans: Vec<SpanData> = spans.iter().map(finite_span).collect();
        check_serde(&spans);
    }

    #[test]
    fn transcoding_appends_after_what_out_holds(spans in arb_batch(4), prefix in vec(any::<u8>(), 0..16)) {
        let mut out = prefix.clone();
        let written = trace_request_to_json(&protobuf(&spans), &mut out).expect("valid");
        prop_assert_eq!(&out[..prefix.len()], &prefix[..]);
        prop_assert_eq!(written, out.len() - prefix.len());
        prop_assert_eq!(&out[prefix.len()..], &json(&spans)[..]);
    }

    #[test]
    fn arbitrary_bytes_are_an_error_or_valid_json(bytes in vec(any::<u8>(), 0..256)) {
        check_hostile(&bytes);
    }

    #[test]
    fn mutated_requests_are_an_error_or_valid_json(bytes in mutated(encoded_request(), DICTIONARY)) {
        check_hostile(&bytes);
    }

    /// Whatever prost reads from a mutated request, the transcoded JSON reads
    /// the same through opentelemetry-proto's serde (when both accept it).
    #[test]
    fn mutated_requests_read_as_prost_reads_them(bytes in mutated(encoded_request(), DICTIONARY)) {
        check_like_prost(&bytes)?;
    }
}

/// When both prost and the transcoder accept `bytes`, the JSON decodes (with
/// serde) to what prost decodes. Inputs the transcoder refuses and prost reads
/// (ids of other lengths, a message given twice) are left out, as are
/// non-finite doubles, which opentelemetry-proto's serde cannot read.
fn check_like_prost(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    let (Ok(decoded), Ok(_)) = (
        ExportTraceServiceRequest::decode(bytes),
        trace_request_to_json(bytes, &mut out),
    ) else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(&out);
    if text.contains("\"NaN\"") || text.contains("Infinity\"") {
        return Ok(());
    }
    let from_json: ExportTraceServiceRequest = serde_json::from_slice(&out)
        .map_err(|err| TestCaseError::fail(format!("serde rejects {text}: {err}")))?;
    prop_assert_eq!(from_json, decoded);
    Ok(())
}
