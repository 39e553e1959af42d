//! Protobuf output decodes, field for field, with `opentelemetry-proto`'s
//! prost types, and matches prost's own encoding byte for byte.

mod support;

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otlp_core::encode::{Chunk, Encoding, TraceEncoder};
use otlp_core::wire::count_spans;
use otlp_core::{
    AnyValue, Event, InstrumentationScope, KeyValue, Link, Resource, SpanContext, SpanData,
    SpanFlags, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use proptest::prelude::*;
use prost::Message;
use support::{arb_batch, expected_request, realistic_span};

fn encode(spans: &[SpanData]) -> Vec<u8> {
    let mut encoder = TraceEncoder::new();
    let mut body = Vec::new();
    let written = encoder.encode(Encoding::Protobuf, spans, &mut body);
    assert_eq!(
        written,
        body.len(),
        "reported length must be the written length"
    );
    assert_eq!(
        encoder.encoded_len(spans),
        body.len(),
        "encoded_len must be exact"
    );
    // `encode` writes in one pass, learning lengths as it goes;
    // `encode_protobuf` measures first, into any `BufMut`: both paths must
    // give the same bytes.
    let mut through_buf_mut = bytes::BytesMut::new();
    encoder.encode_protobuf(spans, &mut through_buf_mut);
    assert_eq!(
        through_buf_mut.as_ref(),
        body.as_slice(),
        "both writers agree"
    );
    body
}

fn check(spans: &[SpanData]) {
    let body = encode(spans);
    let decoded =
        ExportTraceServiceRequest::decode(body.as_slice()).expect("prost decodes our bytes");
    let expected = expected_request(spans);
    assert_eq!(decoded, expected);
    assert_eq!(body, expected.encode_to_vec(), "same bytes as prost");
    assert_eq!(count_spans(&body).ok(), Some(spans.len() as u64));
}

#[test]
fn a_span_with_every_field_set_round_trips() {
    let resource = Arc::new(
        Resource::new([
            KeyValue::new("service.name", "checkout"),
            KeyValue::new("host.cores", 8),
        ])
        .with_schema_url("https://opentelemetry.io/schemas/1.26.0"),
    );
    let scope = Arc::new(
        InstrumentationScope::new("otlp-core-tests")
            .with_version("1.0.0")
            .with_schema_url("https://example.com/scope")
            .with_attributes([KeyValue::new("scope.attr", true)]),
    );
    let linked = SpanContext {
        trace_id: TraceId::random(),
        span_id: SpanId::random(),
        trace_flags: TraceFlags::SAMPLED,
        is_remote: true,
        trace_state: TraceState::parse("vendor=value").unwrap(),
    };
    let nested = AnyValue::KvList(
        vec![
            KeyValue::new("inner", vec![AnyValue::from(1i64), AnyValue::from("two")]),
            KeyValue::new("bytes", vec![0u8, 255, 7]),
        ]
        .into(),
    );
    let span = SpanData::builder("POST /orders/{id}")
        .trace_id(TraceId::random())
        .span_id(SpanId::random())
        .parent_span_id(Some(SpanId::random()))
        .trace_state(TraceState::parse("a=1,b=2").unwrap())
        .flags(SpanFlags::new(TraceFlags::SAMPLED, Some(true)))
        .kind(SpanKind::Client)
        .times(1_544_712_660_000_000_000, 1_544_712_661_000_000_000)
        .attributes([
            KeyValue::new("s", "ünïcødé ✓"),
            KeyValue::new("empty", ""),
            KeyValue::new("b", false),
            KeyValue::new("i", -42i64),
            KeyValue::new("zero", 0i64),
            KeyValue::new("d", 2.5),
            KeyValue::new("nested", nested),
        ])
        .event(Event::new(
            "cache.miss",
            1_544_712_660_500_000_000,
            [KeyValue::new("k", "v")],
        ))
        .link(Link::new(&linked, [KeyValue::new("link.kind", "follows")]))
        .dropped_counts(1, 2, 3)
        .status(Status::error("upstream timed out"))
        .resource(resource)
        .scope(scope)
        .build();
    check(&[span]);
}

#[test]
fn special_values_match_prost_byte_for_byte() {
    // What the random batches leave out (NaN cannot compare equal after a
    // decode, so `check` cannot take it) and the edges of every kind: NaNs
    // with payloads and signs, infinities, -0.0, the i64 extremes, empty
    // strings, bytes, arrays and lists, an empty key, strings of 16383 and
    // 16384 bytes (two- and three-byte prefixes) and multibyte text, in
    // every place attributes go. Checked against prost's bytes, and decoded
    // with prost (compared through `Debug`, where NaN is NaN).
    let doubles = [
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff0_0000_0000_0001),
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        f64::MAX,
    ];
    let mut values: Vec<AnyValue> = doubles.iter().map(|&d| AnyValue::Double(d)).collect();
    values.extend([
        AnyValue::Int(i64::MIN),
        AnyValue::Int(i64::MAX),
        AnyValue::Int(-1),
        AnyValue::Int(0),
        AnyValue::from(""),
        AnyValue::Bytes(Vec::new().into()),
        AnyValue::from(Vec::<AnyValue>::new()),
        AnyValue::from(Vec::<KeyValue>::new()),
        AnyValue::from(vec![AnyValue::from(Vec::<AnyValue>::new())]),
        AnyValue::from(vec![KeyValue::new("", Vec::<KeyValue>::new())]),
        AnyValue::from("x".repeat(16_383)),
        AnyValue::from("x".repeat(16_384)),
        AnyValue::from("\u{10348}é€".repeat(3_000)),
    ]);
    let mut attributes: Vec<KeyValue> = values
        .iter()
        .enumerate()
        .map(|(i, value)| KeyValue::new(format!("k{i}"), value.clone()))
        .collect();
    attributes.push(KeyValue::new("", f64::NAN));
    attributes.push(KeyValue::new("array", values.clone()));
    let resource = Arc::new(Resource::new(attributes.clone()).with_schema_url("r"));
    let scope = Arc::new(
        InstrumentationScope::new("")
            .with_schema_url("s")
            .with_attributes(attributes.clone()),
    );
    let linked = SpanContext {
        trace_id: TraceId::from_bytes([0xff; 16]),
        span_id: SpanId::from_bytes([0xff; 8]),
        trace_flags: TraceFlags::new(0xff),
        is_remote: false,
        trace_state: TraceState::EMPTY,
    };
    let span = SpanData::builder("")
        .flags(SpanFlags::from_bits(u32::MAX))
        .kind(SpanKind::Unspecified)
        .times(u64::MAX, 1)
        .attributes(attributes.clone())
        .event(Event::new("", u64::MAX, attributes.clone()))
        .link(Link::new(&linked, attributes.clone()))
        .dropped_counts(u32::MAX, u32::MAX, u32::MAX)
        .status(Status::error(""))
        .resource(resource)
        .scope(scope)
        .build();
    let spans = [span];
    let body = encode(&spans);
    let expected = expected_request(&spans);
    assert!(body == expected.encode_to_vec(), "same bytes as prost");
    let decoded =
        ExportTraceServiceRequest::decode(body.as_slice()).expect("prost decodes our bytes");
    assert_eq!(format!("{decoded:?}"), format!("{expected:?}"));
    assert_eq!(count_spans(&body).ok(), Some(1));
}

#[test]
fn length_prefixes_of_every_size_are_minimal_whatever_the_last_batch_was() {
    // One encoder across batches, so each starts from the prefix sizes the
    // last one learned: spans under 128 bytes (1-byte prefix), of a few
    // hundred (2), over 16 KiB (3), a group over 2 MiB (4), in every order.
    let resource = Arc::new(Resource::new([KeyValue::new("service.name", "sizes")]));
    let scope = Arc::new(InstrumentationScope::new("sizes"));
    let span = |value_len: usize| {
        SpanData::builder("s")
            .attribute(KeyValue::new("v", "x".repeat(value_len)))
            .resource(resource.clone())
            .scope(scope.clone())
            .build()
    };
    let batches: Vec<Vec<SpanData>> = vec![
        vec![span(0)],
        (0..120).map(|_| span(20_000)).collect(),
        vec![span(0), span(20_000), span(0), span(300), span(0)],
        vec![span(300)],
        Vec::new(),
        (0..3).map(|_| span(0)).collect(),
    ];
    let mut encoder = TraceEncoder::new();
    for batch in &batches {
        // Appending after what the buffer already holds.
        let mut body = vec![0xee; 3];
        let written = encoder.encode(Encoding::Protobuf, batch, &mut body);
        assert_eq!(&body[..3], &[0xee; 3]);
        assert_eq!(written, body.len() - 3);
        assert_eq!(written, encoder.encoded_len(batch));
        let expected = expected_request(batch).encode_to_vec();
        assert!(body[3..] == expected[..], "batch of {} spans", batch.len());
    }
}

#[test]
fn a_large_span_does_not_make_the_next_batch_reserve_its_size_for_every_span() {
    // `encode` reserves the next request from the last one's bytes per
    // span: one span of 256 KiB alone, then 512 ordinary spans, reserved
    // 512 times 256 KiB (128 MiB; a 40 MiB span asked for 20 GiB, and the
    // process aborted) for a request of about 250 KB.
    let resource = Arc::new(Resource::new([KeyValue::new("service.name", "reserve")]));
    let scope = Arc::new(InstrumentationScope::new("reserve"));
    let large = SpanData::builder("large")
        .attribute(KeyValue::new("db.query.text", "x".repeat(256 * 1024)))
        .resource(resource.clone())
        .scope(scope.clone())
        .build();
    let batch: Vec<SpanData> = (0..512)
        .map(|i| realistic_span(&resource, &scope, i))
        .collect();
    let mut encoder = TraceEncoder::new();
    encoder.encode(Encoding::Protobuf, &[large], &mut Vec::new());
    let mut body = Vec::new();
    let written = encoder.encode(Encoding::Protobuf, &batch, &mut body);
    assert!(
        body.capacity() <= 8 * 1024 * 1024,
        "{} bytes reserved for a request of {written}",
        body.capacity()
    );
    let expected = expected_request(&batch).encode_to_vec();
    assert!(body == expected, "the request is prost's");
}

#[test]
fn an_empty_batch_encodes_to_an_empty_request() {
    assert!(encode(&[]).is_empty());
}

#[test]
fn multiple_resources_and_scopes_are_grouped() {
    let r1 = Arc::new(Resource::new([KeyValue::new("service.name", "a")]));
    let r2 = Arc::new(Resource::new([KeyValue::new("service.name", "b")]));
    let s1 = Arc::new(InstrumentationScope::new("s1"));
    let s2 = Arc::new(InstrumentationScope::new("s2"));
    let spans: Vec<SpanData> = (0..40)
        .map(|i| {
            let resource = if i % 3 == 0 { &r1 } else { &r2 };
            let scope = if i % 2 == 0 { &s1 } else { &s2 };
            realistic_span(resource, scope, i)
        })
        .collect();
    check(&spans);
    let decoded = ExportTraceServiceRequest::decode(encode(&spans).as_slice()).unwrap();
    assert_eq!(decoded.resource_spans.len(), 2);
    assert!(
        decoded
            .resource_spans
            .iter()
            .all(|rs| rs.scope_spans.len() == 2)
    );
}

#[test]
fn split_chunks_respect_the_limit_and_cover_the_batch_in_order() {
    let resource = Arc::new(Resource::new([KeyValue::new("service.name", "split")]));
    let scope = Arc::new(InstrumentationScope::new("split"));
    let mut spans: Vec<SpanData> = (0..500)
        .map(|i| realistic_span(&resource, &scope, i))
        .collect();
    // One span far over the limit.
    spans[250]
        .attributes
        .push(KeyValue::new("blob", "x".repeat(50_000)));
    let mut encoder = TraceEncoder::new();
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let limit = 16 * 1024;
        let chunks = encoder.split(&spans, limit, encoding);
        let mut next = 0;
        let mut oversized = Vec::new();
        for chunk in chunks {
            match chunk {
                Chunk::Fits(range) => {
                    assert_eq!(range.start, next);
                    next = range.end;
                    let mut body = Vec::new();
                    encoder.encode(encoding, &spans[range.clone()], &mut body);
                    assert!(
                        body.len() <= limit,
                        "{encoding:?} chunk {range:?} is {} bytes",
                        body.len()
                    );
                }
                Chunk::Oversized(index) => {
                    assert_eq!(index, next);
                    oversized.push(index);
                    next = index + 1;
                }
            }
        }
        assert_eq!(next, spans.len());
        assert_eq!(oversized, vec![250], "{encoding:?}");
    }
}

#[test]
fn string_attributes_around_the_one_byte_length_boundary_match_prost() {
    // A `KeyValue` of a string is 6 bytes of framing plus its two texts; the
    // short path writes one-byte prefixes while that stays under 128 bytes.
    // Keys and values of every split around the boundary, empty ones too,
    // and multi-byte characters, in spans, events, links, resource and scope.
    let mut attributes = Vec::new();
    for total in [0usize, 1, 119, 120, 121, 122, 123, 127, 128, 200] {
        for key_len in [0usize, 1, total / 2, total] {
            let key = "k".repeat(key_len.min(total));
            let value = "é".repeat((total - key.len()) / 2) + &"v".repeat((total - key.len()) % 2);
            attributes.push(KeyValue::new(key, value));
        }
    }
    let scope = InstrumentationScope::new("boundary").with_attributes(attributes.clone());
    let resource = Resource::new(attributes.clone());
    let span = SpanData::builder("boundary")
        .attributes(attributes.clone())
        .event(Event::new("event", 7, attributes.clone()))
        .resource(Arc::new(resource))
        .scope(Arc::new(scope))
        .build();
    check(&[span]);
}

#[test]
fn a_built_child_exports_only_the_defined_trace_flags_of_its_parent() {
    // W3C Trace Context reserves every flag but sampled (0x01) and random
    // (0x02): "Vendors MUST set those to zero". A child built under a remote
    // parent that sent others (`-ff`) carried them into OTLP's `Span.flags`
    // (0x3ff), where otlp-sdk's children of the same parent say 0x303 and
    // the child's own traceparent says `-03`.
    use opentelemetry_proto::tonic::trace::v1::SpanFlags as ProtoSpanFlags;
    const REMOTE: u32 =
        ProtoSpanFlags::ContextHasIsRemoteMask as u32 | ProtoSpanFlags::ContextIsRemoteMask as u32;
    for (received, exported) in [("ff", 0x03), ("fd", 0x01), ("0a", 0x02), ("01", 0x01)] {
        let parent = SpanContext::from_traceparent(&format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{received}"
        ))
        .unwrap();
        let child = SpanData::builder("child")
            .parent(&parent)
            .span_id(SpanId::random())
            .build();
        assert_eq!(
            child.span_context().traceparent()[53..],
            format!("{exported:02x}")
        );
        let body = encode(&[child]);
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
        let flags = request.resource_spans[0].scope_spans[0].spans[0].flags;
        assert_eq!(flags, REMOTE | exported, "parent -{received}: {flags:#x}");
    }
}

#[test]
fn a_link_to_a_remote_span_exports_only_its_defined_trace_flags() {
    // OTLP `Link.flags` bits 0-7 are the W3C trace flags, of which W3C
    // defines sampled (0x01) and random (0x02) and reserves the rest:
    // "Vendors MUST set those to zero". A link to a remote context that sent
    // others (`-ff`) wrote them (0x3ff), where a child of the same context
    // says 0x303.
    use opentelemetry_proto::tonic::trace::v1::SpanFlags as ProtoSpanFlags;
    const REMOTE: u32 =
        ProtoSpanFlags::ContextHasIsRemoteMask as u32 | ProtoSpanFlags::ContextIsRemoteMask as u32;
    for (received, exported) in [("ff", 0x03), ("fd", 0x01), ("0a", 0x02), ("01", 0x01)] {
        let linked = SpanContext::from_traceparent(&format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{received}"
        ))
        .unwrap();
        let span = SpanData::builder("linking")
            .trace_id(TraceId::random())
            .span_id(SpanId::random())
            .link(Link::new(&linked, []))
            .build();
        let body = encode(&[span]);
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
        let flags = request.resource_spans[0].scope_spans[0].spans[0].links[0].flags;
        assert_eq!(flags, REMOTE | exported, "linked -{received}: {flags:#x}");
    }
}

#[test]
fn a_built_root_says_its_parent_is_known_not_remote_as_the_sdks_roots_do() {
    // OTLP `Span.flags`: 0x100 says whether the parent is remote is known,
    // 0x200 that it is. otlp-sdk's roots (as opentelemetry-otlp's and Go's)
    // set 0x100 and leave 0x200 clear: a root has no parent, so none remote.
    // A root built here left both clear, "unknown", as an exporter that does
    // not record it would send.
    use opentelemetry_proto::tonic::trace::v1::SpanFlags as ProtoSpanFlags;
    const HAS_IS_REMOTE: u32 = ProtoSpanFlags::ContextHasIsRemoteMask as u32;
    const IS_REMOTE: u32 = ProtoSpanFlags::ContextIsRemoteMask as u32;
    let decoded_flags = |span: SpanData| {
        let body = encode(&[span]);
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
        request.resource_spans[0].scope_spans[0].spans[0].flags
    };
    let root = SpanData::builder("root")
        .trace_id(TraceId::random())
        .span_id(SpanId::random())
        .build();
    assert_eq!(root.flags.is_remote(), Some(false));
    assert_eq!(decoded_flags(root), HAS_IS_REMOTE, "known, not remote");
    // An invalid parent is no parent: a root too.
    let root = SpanData::builder("root")
        .parent(&SpanContext::default())
        .build();
    assert_eq!(decoded_flags(root), HAS_IS_REMOTE);
    // A parent given as a context says whether it is remote.
    let remote =
        SpanContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .unwrap();
    let child = SpanData::builder("child").parent(&remote).build();
    assert_eq!(decoded_flags(child), HAS_IS_REMOTE | IS_REMOTE | 0x01);
    // A parent id alone does not: that stays unknown. Flags given stay as given.
    let child = SpanData::builder("child")
        .parent_span_id(Some(SpanId::random()))
        .build();
    assert_eq!(decoded_flags(child), 0);
    let root = SpanData::builder("root")
        .flags(SpanFlags::new(TraceFlags::SAMPLED, None))
        .build();
    assert_eq!(decoded_flags(root), 0x01);
}

proptest! {
    #![proptest_config(support::cases_or_env(128))]

    #[test]
    fn random_batches_round_trip_through_prost(spans in arb_batch(12)) {
        check(&spans);
    }

    #[test]
    fn random_batches_split_under_any_limit(spans in arb_batch(12), limit in 64usize..200_000) {
        let mut encoder = TraceEncoder::new();
        let mut covered = 0;
        for chunk in encoder.split(&spans, limit, Encoding::Protobuf) {
            match chunk {
                Chunk::Fits(range) => {
                    prop_assert_eq!(range.start, covered);
                    covered = range.end;
                    prop_assert!(encoder.encoded_len(&spans[range]) <= limit);
                }
                Chunk::Oversized(index) => {
                    prop_assert_eq!(index, covered);
                    prop_assert!(encoder.encoded_len(&spans[index..=index]) > limit);
                    covered += 1;
                }
            }
        }
        prop_assert_eq!(covered, spans.len());
    }
}

/// `AnyValue::wire_eq` says whether two values encode to the same bytes,
/// and a key-value list is written with each key once: two lists that differ
/// only by a repeated key's earlier value are wire-equal, and resources
/// holding them too (the export loop groups resources by `wire_eq`, the
/// metrics SDK names series by it).
#[test]
fn values_are_wire_equal_exactly_when_they_encode_alike() {
    let list = |entries: &[(&'static str, AnyValue)]| {
        AnyValue::KvList(
            entries
                .iter()
                .map(|(key, value)| KeyValue::new(*key, value.clone()))
                .collect::<Vec<_>>()
                .into(),
        )
    };
    let int = AnyValue::Int;
    let in_array = |value: AnyValue| AnyValue::Array(vec![value].into());
    let pairs = [
        (
            list(&[("a", int(1)), ("a", int(2))]),
            list(&[("a", int(2))]),
        ),
        (
            list(&[("a", int(1)), ("b", int(2)), ("a", int(3))]),
            list(&[("a", int(3)), ("b", int(2))]),
        ),
        (
            list(&[
                ("a", AnyValue::Double(0.0)),
                ("a", AnyValue::Double(f64::NAN)),
            ]),
            list(&[("a", AnyValue::Double(f64::NAN))]),
        ),
        (
            in_array(list(&[("x", int(1)), ("x", int(2))])),
            in_array(list(&[("x", int(2))])),
        ),
        (
            list(&[("m", list(&[("x", int(1)), ("x", int(2))]))]),
            list(&[("m", list(&[("x", int(2))])), ("m", list(&[("x", int(2))]))]),
        ),
        (
            list(&[("a", int(1)), ("b", int(2))]),
            list(&[("b", int(2)), ("a", int(1))]),
        ),
        (
            list(&[("a", int(1)), ("a", int(2))]),
            list(&[("a", int(1))]),
        ),
        (
            list(&[("a", AnyValue::Double(0.0)), ("a", AnyValue::Double(-0.0))]),
            list(&[("a", AnyValue::Double(0.0))]),
        ),
        (
            list(&[("a", int(1)), ("a", int(2))]),
            list(&[("a", int(2)), ("a", int(1))]),
        ),
    ];
    let span_with = |value: &AnyValue| {
        SpanData::builder("value")
            .trace_id(TraceId::from_bytes([7; 16]))
            .span_id(SpanId::from_bytes([9; 8]))
            .attributes([KeyValue::new("value", value.clone())])
            .build()
    };
    let mut equal_pairs = 0;
    for (index, (a, b)) in pairs.iter().enumerate() {
        let alike = encode(&[span_with(a)]) == encode(&[span_with(b)]);
        assert_eq!(a.wire_eq(b), alike, "pair {index}: {a:?} and {b:?}");
        assert_eq!(b.wire_eq(a), alike, "pair {index}, the other way");
        let resource = |value: &AnyValue| Resource::new([KeyValue::new("value", value.clone())]);
        assert_eq!(
            resource(a).wire_eq(&resource(b)),
            alike,
            "pair {index}'s resources"
        );
        equal_pairs += usize::from(alike);
    }
    // Both outcomes are tested.
    assert_eq!(equal_pairs, 5);
}

/// OTLP's `KeyValueList` keys "MUST be unique": a list a program built with
/// a repeated key goes out with each key once, its last value in the place
/// where the key first appears, wherever the list sits (an attribute's
/// value, inside an array, inside another list), in protobuf and in
/// OTLP/JSON alike. Read back with prost and with serde_json.
#[test]
fn key_value_lists_go_out_with_each_key_once() {
    use opentelemetry_proto::tonic::common::v1::AnyValue as ProtoValue;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;

    let inner = AnyValue::KvList(vec![KeyValue::new("x", 1i64), KeyValue::new("x", 2i64)].into());
    let list = AnyValue::KvList(
        vec![
            KeyValue::new("a", 1i64),
            KeyValue::new("b", inner),
            KeyValue::new("a", 3i64),
        ]
        .into(),
    );
    let span = SpanData::builder("maps")
        .trace_id(TraceId::random())
        .span_id(SpanId::random())
        .attributes([
            KeyValue::new("map", list.clone()),
            KeyValue::new("maps", AnyValue::Array(vec![list].into())),
        ])
        .build();

    // `(key, value)` of a decoded list, an `Int` as its number, a list as
    // its entries.
    fn entries(value: Option<&ProtoValue>) -> Vec<(String, String)> {
        let Some(Value::KvlistValue(list)) = value.and_then(|value| value.value.as_ref()) else {
            panic!("not a kvlist: {value:?}");
        };
        list.values
            .iter()
            .map(|entry| {
                let shown = match entry.value.as_ref().and_then(|value| value.value.as_ref()) {
                    Some(Value::IntValue(int)) => int.to_string(),
                    Some(Value::KvlistValue(_)) => format!("{:?}", entries(entry.value.as_ref())),
                    other => panic!("unexpected value {other:?}"),
                };
                (entry.key.clone(), shown)
            })
            .collect()
    }
    let expected = vec![
        ("a".to_owned(), "3".to_owned()),
        ("b".to_owned(), r#"[("x", "2")]"#.to_owned()),
    ];

    let body = encode(std::slice::from_ref(&span));
    let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("prost decodes it");
    let attributes = &request.resource_spans[0].scope_spans[0].spans[0].attributes;
    assert_eq!(
        entries(attributes[0].value.as_ref()),
        expected,
        "an attribute's value"
    );
    let Some(Value::ArrayValue(array)) =
        attributes[1].value.as_ref().and_then(|v| v.value.as_ref())
    else {
        panic!("not an array: {:?}", attributes[1]);
    };
    assert_eq!(entries(array.values.first()), expected, "inside an array");
    check(std::slice::from_ref(&span));

    let mut json = Vec::new();
    TraceEncoder::new().encode(Encoding::Json, &[span], &mut json);
    let json: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
    let attributes = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"];
    for list in [
        &attributes[0]["value"]["kvlistValue"]["values"],
        &attributes[1]["value"]["arrayValue"]["values"][0]["kvlistValue"]["values"],
    ] {
        let keys = |list: &serde_json::Value| {
            list.as_array()
                .expect("a list's values")
                .iter()
                .map(|entry| entry["key"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(list), ["a", "b"]);
        assert_eq!(list[0]["value"]["intValue"], "3");
        let inner = &list[1]["value"]["kvlistValue"]["values"];
        assert_eq!(keys(inner), ["x"]);
        assert_eq!(inner[0]["value"]["intValue"], "2");
    }
}
