//! The "encode once" path (issue 13): spans encoded one by one as records,
//! then framed into a request, give the same bytes as `TraceEncoder`, and
//! decode with `opentelemetry-proto`'s prost types as the protocol expects.

mod support;

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1 as proto_trace;
use otlp_contrib::testing::alloc::{CountingAllocator, allocations_during};
use otlp_core::encode::{Encoding, TraceEncoder, frame, record};
use otlp_core::{InstrumentationScope, KeyValue, Resource, SpanData};
use proptest::prelude::*;
use prost::Message;
use support::{arb_batch, expected_request, realistic_span};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Records grouped as the export loop will hold them: by resource, then by
/// scope, each record the bytes of one span.
type Grouped<'a> = Vec<(&'a Resource, Vec<(&'a InstrumentationScope, Vec<Vec<u8>>)>)>;

fn encode_record(span: &SpanData) -> Vec<u8> {
    let mut bytes = Vec::new();
    record::encode_span(span, &mut bytes);
    bytes
}

/// Groups as `TraceEncoder` does: resources by value in first-appearance
/// order, scopes by value in first-appearance order within their resource,
/// records in batch order.
fn group_records(spans: &[SpanData]) -> Grouped<'_> {
    let mut groups: Grouped<'_> = Vec::new();
    for span in spans {
        let resource = match groups.iter().position(|(r, _)| **r == *span.resource) {
            Some(index) => index,
            None => {
                groups.push((&span.resource, Vec::new()));
                groups.len() - 1
            }
        };
        let scopes = &mut groups[resource].1;
        let scope = match scopes.iter().position(|(s, _)| **s == *span.scope) {
            Some(index) => index,
            None => {
                scopes.push((&span.scope, Vec::new()));
                scopes.len() - 1
            }
        };
        scopes[scope].1.push(encode_record(span));
    }
    groups
}

/// The groups as the nested iterators `frame` takes.
fn as_groups<'g>(
    grouped: &'g Grouped<'_>,
) -> impl Iterator<
    Item = (
        &'g Resource,
        impl Iterator<
            Item = (
                &'g InstrumentationScope,
                impl Iterator<Item = &'g [u8]> + Clone,
            ),
        > + Clone,
    ),
> + Clone {
    grouped.iter().map(|(resource, scopes)| {
        let scopes = scopes
            .iter()
            .map(|(scope, records)| (*scope, records.iter().map(Vec::as_slice)));
        (*resource, scopes)
    })
}

fn frame_request(grouped: &Grouped<'_>) -> Vec<u8> {
    let mut body = Vec::new();
    let written = frame::write_request(as_groups(grouped), &mut body);
    assert_eq!(
        written,
        body.len(),
        "the returned length is the written length"
    );
    assert_eq!(
        frame::request_len(as_groups(grouped)),
        body.len(),
        "request_len is exact"
    );
    // Any BufMut takes the same bytes.
    let mut through_buf_mut = bytes::BytesMut::new();
    frame::write_request(as_groups(grouped), &mut through_buf_mut);
    assert_eq!(through_buf_mut.as_ref(), body.as_slice());
    body
}

fn encoder_request(spans: &[SpanData]) -> Vec<u8> {
    let mut body = Vec::new();
    TraceEncoder::new().encode(Encoding::Protobuf, spans, &mut body);
    body
}

/// The span as `opentelemetry-proto` expects it, from the reference conversion.
fn expected_span(span: &SpanData) -> proto_trace::Span {
    let mut request = expected_request(std::slice::from_ref(span));
    request
        .resource_spans
        .remove(0)
        .scope_spans
        .remove(0)
        .spans
        .remove(0)
}

fn check_framing(spans: &[SpanData]) {
    let body = frame_request(&group_records(spans));
    assert_eq!(
        body,
        encoder_request(spans),
        "the bytes TraceEncoder writes"
    );
    let decoded =
        ExportTraceServiceRequest::decode(body.as_slice()).expect("prost decodes framed records");
    assert_eq!(decoded, expected_request(spans));
}

fn check_record(span: &SpanData) {
    let bytes = encode_record(span);
    assert_eq!(bytes.len(), record::span_len(span), "span_len is exact");
    let decoded = proto_trace::Span::decode(bytes.as_slice()).expect("a record is a Span");
    assert_eq!(decoded, expected_span(span));
    // Exactly what the encoder writes inside `spans` for it.
    // (`spans` is field 2 of `ScopeSpans`: tag 0x12, then the length.)
    let mut spans_field = vec![0x12];
    prost::encoding::encode_varint(bytes.len() as u64, &mut spans_field);
    spans_field.extend_from_slice(&bytes);
    let request = encoder_request(std::slice::from_ref(span));
    assert!(
        contains(&request, &spans_field),
        "the record is the span's body in the encoder's request"
    );
    // Into a slice reserved at the exact size.
    let mut reserved = vec![0u8; record::span_len(span)];
    record::encode_span(span, &mut reserved.as_mut_slice());
    assert_eq!(reserved, bytes);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn framed_records_are_the_encoders_request(spans in arb_batch(12)) {
        check_framing(&spans);
    }

    #[test]
    fn a_record_decodes_alone_as_its_span(spans in arb_batch(4)) {
        for span in &spans {
            check_record(span);
        }
    }
}

fn fixture() -> (Vec<SpanData>, Arc<Resource>, Arc<InstrumentationScope>) {
    let resource = Arc::new(
        Resource::new([KeyValue::new("service.name", "checkout")])
            .with_schema_url("https://opentelemetry.io/schemas/1.26.0"),
    );
    let other_resource = Arc::new(Resource::new([KeyValue::new("service.name", "billing")]));
    let scope = Arc::new(
        InstrumentationScope::new("http")
            .with_version("1.0.0")
            .with_schema_url("https://example.com/scope"),
    );
    let other_scope = Arc::new(InstrumentationScope::new("db"));
    let spans = (0..9)
        .map(|i| {
            let resource = if i % 3 == 2 {
                &other_resource
            } else {
                &resource
            };
            let scope = if i % 2 == 0 { &scope } else { &other_scope };
            realistic_span(resource, scope, i)
        })
        .collect();
    (spans, resource, scope)
}

#[test]
fn spans_of_several_resources_and_scopes_frame_as_the_encoder_writes_them() {
    let (spans, ..) = fixture();
    assert_eq!(group_records(&spans).len(), 2);
    check_framing(&spans);
}

#[test]
fn empty_groups_are_not_written() {
    let (spans, resource, scope) = fixture();
    let grouped = group_records(&spans);
    let expected = frame_request(&grouped);

    // A scope group without records in a resource that has some, and a
    // resource whose only scope group is empty, and one with no scope group.
    let mut padded = grouped.clone();
    padded[0].1.insert(0, (&scope, Vec::new()));
    padded[1].1.push((&scope, Vec::new()));
    padded.insert(1, (&resource, vec![(&scope, Vec::new())]));
    padded.push((&resource, Vec::new()));
    assert_eq!(frame_request(&padded), expected);

    // Nothing but empty groups: no request at all.
    let empty: Grouped<'_> = vec![
        (&resource, vec![(&scope, Vec::new())]),
        (&resource, Vec::new()),
    ];
    assert!(frame_request(&empty).is_empty());
    assert!(frame_request(&Vec::new()).is_empty());
}

#[test]
fn an_empty_record_is_a_record() {
    let (_, resource, scope) = fixture();
    let grouped: Grouped<'_> = vec![(&resource, vec![(&scope, vec![Vec::new()])])];
    let decoded = ExportTraceServiceRequest::decode(frame_request(&grouped).as_slice())
        .expect("prost decodes it");
    let spans = &decoded.resource_spans[0].scope_spans[0].spans;
    assert_eq!(spans, &vec![proto_trace::Span::default()]);
}

#[test]
fn large_records_take_multi_byte_length_prefixes() {
    let resource = Arc::new(Resource::new([KeyValue::new("service.name", "big")]));
    let scope = Arc::new(InstrumentationScope::new("big"));
    let spans: Vec<SpanData> = (0..3)
        .map(|i| {
            SpanData::builder("big")
                .attribute(KeyValue::new("payload", "x".repeat(70_000 * (i + 1))))
                .resource(resource.clone())
                .scope(scope.clone())
                .build()
        })
        .collect();
    check_framing(&spans);
    for span in &spans {
        check_record(span);
    }
}

#[test]
fn group_lengths_crossing_a_prefix_size_are_exact() {
    // Spans, scope groups and resource groups whose bodies take 127, 128,
    // 16383 and 16384 bytes, and every size around them: each length
    // prefix one byte longer than the one before, at each level, framed
    // around records, measured by `request_len` and
    // `single_record_request_len`, and written by the encoder in one pass
    // (after batches of every size, so its guesses are wrong both ways).
    let mut encoder = TraceEncoder::new();
    let mut seen = [[false; 4]; 3];
    for schema_url in ["", "https://opentelemetry.io/schemas/1.26.0"] {
        let resource = Arc::new(
            Resource::new([KeyValue::new("service.name", "edges")]).with_schema_url(schema_url),
        );
        let scope = Arc::new(InstrumentationScope::new("edges").with_schema_url(schema_url));
        for value_len in (0..200).chain(16_200..16_400) {
            for count in [1, 2] {
                let spans: Vec<SpanData> = (0..count)
                    .map(|_| {
                        SpanData::builder("edge")
                            .attribute(KeyValue::new("v", "x".repeat(value_len)))
                            .resource(resource.clone())
                            .scope(scope.clone())
                            .build()
                    })
                    .collect();
                let expected = expected_request(&spans);
                let resource_spans = &expected.resource_spans[0];
                let lens = [
                    resource_spans.encoded_len(),
                    resource_spans.scope_spans[0].encoded_len(),
                    resource_spans.scope_spans[0].spans[0].encoded_len(),
                ];
                for (level, len) in lens.into_iter().enumerate() {
                    for (edge, size) in [127, 128, 16_383, 16_384].into_iter().enumerate() {
                        seen[level][edge] |= len == size;
                    }
                }
                let expected = expected.encode_to_vec();
                let framed = frame_request(&group_records(&spans));
                assert!(
                    framed == expected,
                    "framed: {value_len} bytes, {count} spans"
                );
                let records: Vec<Vec<u8>> = spans.iter().map(encode_record).collect();
                if count == 1 {
                    assert_eq!(
                        frame::single_record_request_len(&resource, &scope, records[0].len()),
                        expected.len()
                    );
                }
                let mut one_pass = Vec::new();
                encoder.encode(Encoding::Protobuf, &spans, &mut one_pass);
                assert!(
                    one_pass == expected,
                    "encoded: {value_len} bytes, {count} spans"
                );
            }
        }
    }
    assert_eq!(seen, [[true; 4]; 3], "every level met every edge");
}

#[test]
fn encoding_records_and_framing_into_buffers_with_room_allocate_nothing() {
    let (spans, ..) = fixture();
    let mut records = Vec::new();
    record::encode_span(&spans[0], &mut records);
    let grouped = group_records(&spans);
    let mut body = Vec::new();
    frame::write_request(as_groups(&grouped), &mut body);
    // Warm: both buffers have grown to their size.
    for _ in 0..3 {
        records.clear();
        body.clear();
        let (allocations, ()) = allocations_during(|| record::encode_span(&spans[0], &mut records));
        assert_eq!(allocations, 0, "encode_span allocated");
        let (allocations, _) =
            allocations_during(|| frame::write_request(as_groups(&grouped), &mut body));
        assert_eq!(allocations, 0, "write_request allocated");
        let (allocations, _) = allocations_during(|| frame::request_len(as_groups(&grouped)));
        assert_eq!(allocations, 0, "request_len allocated");
    }
}

// ---- another signal, by the same field numbers --------------------------------

/// `ExportLogsServiceRequest` and its groups as in `opentelemetry-proto` 0.33
/// (`collector/logs/v1/logs_service.proto`, `logs/v1/logs.proto`); the logs
/// types are not built with the features this workspace enables.
mod logs {
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::resource::v1::Resource;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportLogsServiceRequest {
        #[prost(message, repeated, tag = "1")]
        pub resource_logs: Vec<ResourceLogs>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceLogs {
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        #[prost(message, repeated, tag = "2")]
        pub scope_logs: Vec<ScopeLogs>,
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ScopeLogs {
        #[prost(message, optional, tag = "1")]
        pub scope: Option<InstrumentationScope>,
        #[prost(message, repeated, tag = "2")]
        pub log_records: Vec<LogRecord>,
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }

    /// A few of `LogRecord`'s fields.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LogRecord {
        #[prost(fixed64, tag = "1")]
        pub time_unix_nano: u64,
        #[prost(int32, tag = "2")]
        pub severity_number: i32,
        #[prost(string, tag = "3")]
        pub severity_text: String,
    }
}

#[test]
fn log_records_frame_as_an_export_logs_request() {
    let (_, resource, scope) = fixture();
    let records: Vec<logs::LogRecord> = (0..3)
        .map(|i| logs::LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + i,
            severity_number: 9,
            severity_text: "INFO".into(),
        })
        .collect();
    let grouped: Grouped<'_> = vec![(
        &resource,
        vec![(&scope, records.iter().map(Message::encode_to_vec).collect())],
    )];
    let decoded = logs::ExportLogsServiceRequest::decode(frame_request(&grouped).as_slice())
        .expect("prost decodes a logs request");
    let expected = logs::ExportLogsServiceRequest {
        resource_logs: vec![logs::ResourceLogs {
            resource: Some(otlp_contrib::testing::proto::resource(&resource)),
            scope_logs: vec![logs::ScopeLogs {
                scope: Some(otlp_contrib::testing::proto::scope(&scope)),
                log_records: records,
                schema_url: scope.schema_url.to_string(),
            }],
            schema_url: resource.schema_url.to_string(),
        }],
    };
    assert_eq!(decoded, expected);
    assert_eq!(
        frame_request(&grouped),
        expected.encode_to_vec(),
        "the bytes prost writes"
    );
}
