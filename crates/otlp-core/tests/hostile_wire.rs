//! Hostile input for everything in otlp-core that reads bytes from the
//! network: [`WireReader`], [`count_spans`] (the receiver's count-only path)
//! and the response decoders (`ExportTraceServiceResponse`,
//! `google.rpc.Status` with `RetryInfo`), fed arbitrary bytes and mutated
//! valid messages.
//!
//! Properties: no input panics; every error offset lies inside the input;
//! whatever `prost` (an independent decoder) reads, ours reads the same way,
//! groups (wire types 3 and 4, which OTLP never uses) skipped as it skips
//! them.
//!
//! Bounded run: `PROPTEST_CASES=20000 cargo test -p otlp-core --test hostile_wire`.

mod hostile_support;
mod support;

use std::time::Duration;

use hostile_support::DICTIONARY;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use otlp_contrib::testing::fuzz::{config, mutated};
use otlp_core::DecodeError;
use otlp_core::encode::TraceEncoder;
use otlp_core::response::{
    PartialSuccess, RETRY_INFO_TYPE_URL, RpcStatus, decode_export_response, encode_export_response,
};
use otlp_core::wire::{
    WIRE_END_GROUP, WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_START_GROUP, WIRE_VARINT,
    WireReader, WireValue, count_data_points, count_log_records, count_spans, put_bytes_field,
    put_tag, put_varint, record_bytes,
};
use proptest::collection::vec;
use proptest::prelude::*;
use prost::Message;
use support::arb_batch;

// ---- independent decoders for google.rpc.Status ---------------------------------

/// `google.rpc.Status`, as prost reads it.
#[derive(Clone, PartialEq, prost::Message)]
struct ProstStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<ProstAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProstAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProstRetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProstDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProstDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

// ---- structure-aware inputs ------------------------------------------------------

/// Raw fields of every wire type (groups included), nested up to three levels.
#[derive(Clone, Debug)]
enum Field {
    Varint(u32, u64),
    Fixed64(u32, u64),
    Fixed32(u32, u32),
    Bytes(u32, Vec<u8>),
    Message(u32, Vec<Field>),
    Group(u32, Vec<Field>),
}

fn field_number() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 1u32..=4, 1 => 1u32..=(u32::MAX >> 3)]
}

fn arb_field() -> impl Strategy<Value = Field> {
    let leaf = prop_oneof![
        (field_number(), any::<u64>()).prop_map(|(f, v)| Field::Varint(f, v)),
        (field_number(), any::<u64>()).prop_map(|(f, v)| Field::Fixed64(f, v)),
        (field_number(), any::<u32>()).prop_map(|(f, v)| Field::Fixed32(f, v)),
        (field_number(), vec(any::<u8>(), 0..24)).prop_map(|(f, v)| Field::Bytes(f, v)),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            3 => (field_number(), vec(inner.clone(), 0..5))
                .prop_map(|(f, fields)| Field::Message(f, fields)),
            1 => (field_number(), vec(inner, 0..5)).prop_map(|(f, fields)| Field::Group(f, fields)),
        ]
    })
}

fn encode_fields(fields: &[Field], out: &mut Vec<u8>) {
    for field in fields {
        match field {
            Field::Varint(number, value) => {
                put_tag(out, *number, WIRE_VARINT);
                put_varint(out, *value);
            }
            Field::Fixed64(number, value) => {
                put_tag(out, *number, WIRE_FIXED64);
                out.extend_from_slice(&value.to_le_bytes());
            }
            Field::Fixed32(number, value) => {
                put_tag(out, *number, WIRE_FIXED32);
                out.extend_from_slice(&value.to_le_bytes());
            }
            Field::Bytes(number, bytes) => put_bytes_field(out, *number, bytes),
            Field::Message(number, inner) => {
                let mut body = Vec::new();
                encode_fields(inner, &mut body);
                put_bytes_field(out, *number, &body);
            }
            Field::Group(number, inner) => {
                put_tag(out, *number, WIRE_START_GROUP);
                encode_fields(inner, out);
                put_tag(out, *number, WIRE_END_GROUP);
            }
        }
    }
}

fn raw_message() -> impl Strategy<Value = Vec<u8>> {
    vec(arb_field(), 0..8).prop_map(|fields| {
        let mut out = Vec::new();
        encode_fields(&fields, &mut out);
        out
    })
}

/// A real request body from our encoder.
fn encoded_request() -> impl Strategy<Value = Vec<u8>> {
    arb_batch(6).prop_map(|spans| {
        let mut body = Vec::new();
        TraceEncoder::new().encode_protobuf(&spans, &mut body);
        body
    })
}

fn arb_duration() -> impl Strategy<Value = ProstDuration> {
    prop_oneof![
        (0i64..100_000, 0i32..1_000_000_000)
            .prop_map(|(seconds, nanos)| ProstDuration { seconds, nanos }),
        (any::<i64>(), any::<i32>()).prop_map(|(seconds, nanos)| ProstDuration { seconds, nanos }),
    ]
}

fn arb_any() -> impl Strategy<Value = ProstAny> {
    let type_url = prop_oneof![
        3 => Just(RETRY_INFO_TYPE_URL.to_owned()),
        1 => Just("type.googleapis.com/google.rpc.DebugInfo".to_owned()),
        1 => ".{0,12}",
    ];
    let value = prop_oneof![
        3 => proptest::option::of(arb_duration())
            .prop_map(|retry_delay| ProstRetryInfo { retry_delay }.encode_to_vec()),
        1 => vec(any::<u8>(), 0..16),
    ];
    (type_url, value).prop_map(|(type_url, value)| ProstAny { type_url, value })
}

fn arb_status() -> impl Strategy<Value = ProstStatus> {
    (any::<i32>(), ".{0,24}", vec(arb_any(), 0..3)).prop_map(|(code, message, details)| {
        ProstStatus {
            code,
            message,
            details,
        }
    })
}

fn status_bytes() -> impl Strategy<Value = Vec<u8>> {
    arb_status().prop_map(|status| status.encode_to_vec())
}

fn export_response_bytes() -> impl Strategy<Value = Vec<u8>> {
    let partial = proptest::option::of((any::<i64>(), ".{0,24}")).prop_map(|partial| {
        ExportTraceServiceResponse {
            partial_success: partial.map(|(rejected_spans, error_message)| {
                ExportTracePartialSuccess {
                    rejected_spans,
                    error_message,
                }
            }),
        }
    });
    partial.prop_map(|response| response.encode_to_vec())
}

// ---- checks ------------------------------------------------------------------------

fn error_offset(error: &DecodeError) -> Option<usize> {
    match error {
        DecodeError::Truncated { offset }
        | DecodeError::Varint { offset }
        | DecodeError::WireType { offset, .. }
        | DecodeError::FieldNumber { offset, .. }
        | DecodeError::EndGroup { offset, .. }
        | DecodeError::UnexpectedWireType { offset, .. }
        | DecodeError::TooDeep { offset, .. } => Some(*offset),
        _ => None,
    }
}

/// Walks a message (and every length-delimited payload as a nested one) and
/// checks offsets and progress.
fn walk(bytes: &[u8], base: usize, total: usize, depth: usize) {
    let mut reader = WireReader::nested(bytes, base);
    let mut fields = 0usize;
    loop {
        let before = reader.offset();
        match reader.next_field() {
            Ok(None) => {
                assert_eq!(reader.offset(), base + bytes.len());
                break;
            }
            Ok(Some((field, value))) => {
                assert!((1..=u32::MAX >> 3).contains(&field));
                assert!(reader.offset() > before, "no progress at {before}");
                assert!(reader.offset() <= base + bytes.len());
                if let WireValue::Len(payload) | WireValue::Group(payload) = value {
                    let at = reader.offset_of(payload);
                    assert!(at >= base && at + payload.len() <= base + bytes.len());
                    if depth < 4 {
                        walk(payload, at, total, depth + 1);
                    }
                }
                fields += 1;
                assert!(fields <= bytes.len());
            }
            Err(error) => {
                let offset = error_offset(&error).expect("reader errors carry an offset");
                assert!(offset <= total, "{error} beyond {total}");
                assert!(!error.to_string().is_empty());
                break;
            }
        }
    }
}

fn check_count_spans(bytes: &[u8]) {
    let ours = count_spans(bytes);
    if let Err(error) = &ours {
        let offset = error_offset(error).expect("count_spans errors carry an offset");
        assert!(offset <= bytes.len(), "{error}");
    }
    // Whatever prost decodes, we count the same way.
    if let Ok(request) = ExportTraceServiceRequest::decode(bytes) {
        let spans: usize = request
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .map(|scope| scope.spans.len())
            .sum();
        match ours {
            Ok(count) => assert_eq!(count, spans as u64),
            Err(error) => panic!("prost decodes, we say {error}"),
        }
    }
}

fn check_export_response(bytes: &[u8]) {
    let ours = decode_export_response(bytes);
    if let Ok(response) = ExportTraceServiceResponse::decode(bytes) {
        let expected = response.partial_success.map(|partial| PartialSuccess {
            rejected_spans: partial.rejected_spans,
            error_message: partial.error_message,
        });
        match ours {
            Ok(partial) => assert_eq!(partial, expected),
            Err(error) => panic!("prost decodes, we say {error}"),
        }
    }
}

/// The delay a client must honour, read from prost's view of the status:
/// the RetryInfo details, merged as protobuf merges repeated sub-messages.
fn expected_delay(status: &ProstStatus) -> Option<Duration> {
    let mut delay = None;
    for any in &status.details {
        // `Any` names its type by the URL's last segment, whatever the host.
        let names_retry_info = any
            .type_url
            .rsplit_once('/')
            .is_some_and(|(_, name)| name == "google.rpc.RetryInfo");
        if !names_retry_info {
            continue;
        }
        let Ok(info) = ProstRetryInfo::decode(&any.value[..]) else {
            continue; // a detail that does not decode is skipped
        };
        delay = Some(match info.retry_delay {
            Some(d) if d.seconds >= 0 && (0..1_000_000_000).contains(&d.nanos) => {
                Duration::new(d.seconds as u64, d.nanos as u32)
            }
            _ => Duration::ZERO,
        });
    }
    delay
}

fn check_rpc_status(bytes: &[u8]) {
    let ours = RpcStatus::decode(bytes);
    let Ok(status) = ProstStatus::decode(bytes) else {
        return;
    };
    match ours {
        Ok(decoded) => {
            assert_eq!(decoded.code, status.code);
            assert_eq!(decoded.message, status.message);
            // The last RetryInfo detail that decodes (one is the only shape
            // servers send) reads exactly; none, no hint.
            assert_eq!(decoded.retry_delay, expected_delay(&status));
        }
        // prost reads `Any.value` as opaque bytes; we look inside a RetryInfo,
        // but skip one that does not decode, as any malformed detail.
        Err(error) => panic!("prost decodes, we say {error}"),
    }
}

// ---- the fuzz targets --------------------------------------------------------

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn wire_reader_arbitrary_bytes(bytes in vec(any::<u8>(), 0..256)) {
        walk(&bytes, 0, bytes.len(), 0);
    }

    #[test]
    fn wire_reader_reads_back_what_was_written(fields in vec(arb_field(), 0..8)) {
        let mut bytes = Vec::new();
        encode_fields(&fields, &mut bytes);
        let mut reader = WireReader::new(&bytes);
        for field in &fields {
            let read = reader.next_field().expect("well-formed").expect("a field");
            let expected = match field {
                Field::Varint(n, v) => (*n, WireValue::Varint(*v)),
                Field::Fixed64(n, v) => (*n, WireValue::Fixed64(*v)),
                Field::Fixed32(n, v) => (*n, WireValue::Fixed32(*v)),
                Field::Bytes(n, b) => (*n, WireValue::Len(b)),
                Field::Message(n, _) => {
                    prop_assert_eq!(read.0, *n);
                    prop_assert_eq!(read.1.wire_type(), WIRE_LEN);
                    continue;
                }
                Field::Group(n, inner) => {
                    let mut body = Vec::new();
                    encode_fields(inner, &mut body);
                    prop_assert_eq!(read, (*n, WireValue::Group(&body)));
                    continue;
                }
            };
            prop_assert_eq!(read, expected);
        }
        prop_assert_eq!(reader.next_field(), Ok(None));
    }

    #[test]
    fn wire_reader_mutated_messages(bytes in mutated(raw_message(), DICTIONARY)) {
        walk(&bytes, 0, bytes.len(), 0);
    }

    #[test]
    fn count_spans_arbitrary_bytes(bytes in vec(any::<u8>(), 0..256)) {
        check_count_spans(&bytes);
    }

    #[test]
    fn count_spans_counts_encoded_requests(spans in arb_batch(6)) {
        let mut body = Vec::new();
        TraceEncoder::new().encode_protobuf(&spans, &mut body);
        prop_assert_eq!(count_spans(&body), Ok(spans.len() as u64));
    }

    #[test]
    fn count_spans_mutated_requests(bytes in mutated(encoded_request(), DICTIONARY)) {
        check_count_spans(&bytes);
    }

    #[test]
    fn count_spans_mutated_raw_messages(bytes in mutated(raw_message(), DICTIONARY)) {
        check_count_spans(&bytes);
    }

    #[test]
    fn export_response_arbitrary_bytes(bytes in vec(any::<u8>(), 0..64)) {
        check_export_response(&bytes);
    }

    #[test]
    fn export_response_mutated(bytes in mutated(export_response_bytes(), DICTIONARY)) {
        check_export_response(&bytes);
    }

    #[test]
    fn export_response_round_trips(rejected_spans in any::<i64>(), error_message in ".{0,40}") {
        let partial = PartialSuccess { rejected_spans, error_message };
        let body = encode_export_response(Some(&partial));
        prop_assert_eq!(decode_export_response(&body), Ok(Some(partial.clone())));
        check_export_response(&body);
    }

    #[test]
    fn export_response_concatenated(first in export_response_bytes(), second in export_response_bytes()) {
        // Protobuf concatenation is a merge: prost reads it that way, so must we.
        check_export_response(&[first, second].concat());
    }

    #[test]
    fn rpc_status_concatenated(first in status_bytes(), second in status_bytes()) {
        check_rpc_status(&[first, second].concat());
    }

    #[test]
    fn rpc_status_arbitrary_bytes(bytes in vec(any::<u8>(), 0..96)) {
        check_rpc_status(&bytes);
    }

    #[test]
    fn rpc_status_from_prost(bytes in status_bytes()) {
        // Decodes unless a RetryInfo detail is garbage (checked inside).
        check_rpc_status(&bytes);
    }

    #[test]
    fn rpc_status_mutated(bytes in mutated(status_bytes(), DICTIONARY)) {
        check_rpc_status(&bytes);
    }

    #[test]
    fn rpc_status_round_trips(
        code in any::<i32>(),
        message in ".{0,40}",
        delay in proptest::option::of((0u64..=i64::MAX as u64, 0u32..1_000_000_000)),
    ) {
        let status = RpcStatus {
            code,
            message,
            retry_delay: delay.map(|(seconds, nanos)| Duration::new(seconds, nanos)),
        };
        let bytes = status.encode();
        prop_assert_eq!(RpcStatus::decode(&bytes), Ok(status));
        check_rpc_status(&bytes);
    }
}

// ---- edges, pinned -------------------------------------------------------------

#[test]
fn varints_of_ten_bytes_and_more() {
    // The longest legal varint, then one continuation too many.
    let mut ten = vec![0x08];
    ten.extend([0xff; 9]);
    ten.push(0x01);
    assert_eq!(
        WireReader::new(&ten).next_field(),
        Ok(Some((1, WireValue::Varint(u64::MAX))))
    );
    let mut eleven = vec![0x08];
    eleven.extend([0xff; 10]);
    eleven.push(0x01);
    assert!(WireReader::new(&eleven).next_field().is_err());
    // A length prefix of u64::MAX must not wrap around.
    let mut huge = vec![0x0a];
    huge.extend([0xff; 9]);
    huge.push(0x01);
    huge.extend([0u8; 16]);
    assert!(matches!(
        WireReader::new(&huge).next_field(),
        Err(DecodeError::Truncated { .. })
    ));
    check_count_spans(&huge);
}

#[test]
fn a_retry_delay_whose_varint_overflows_64_bits_is_refused_as_prost_does() {
    // Found by rpc_status_mutated: Status { details: [Any { RetryInfo {
    // retry_delay { nanos: ff ff ff ff ff ff ff ff ff 03 } } }] }. The tenth
    // byte carries more than bit 63; prost refuses the RetryInfo, which our
    // reader used to read with nanos -1 (a delay of 0). Refused, the
    // detail is skipped: the status decodes without a RetryInfo.
    let mut bytes = vec![0x1a, 0x39, 0x0a, 0x28];
    bytes.extend(RETRY_INFO_TYPE_URL.as_bytes());
    bytes.extend([0x12, 0x0d, 0x0a, 0x0b, 0x10]);
    bytes.extend([0xff; 9]);
    bytes.push(0x03);
    assert!(
        ProstStatus::decode(&bytes[..]).is_ok(),
        "prost reads the status"
    );
    assert_eq!(
        RpcStatus::decode(&bytes).map(|status| status.retry_delay),
        Ok(None)
    );
    check_rpc_status(&bytes);
}

#[test]
fn a_retry_delay_given_in_two_pieces_is_merged_as_prost_does() {
    // RetryInfo { retry_delay { seconds: 5 }, retry_delay { nanos: 7 } }: a
    // repeated message field merges (protobuf concatenation), so the delay
    // is 5 s 7 ns; each occurrence used to replace the one before (7 ns).
    let mut first = Vec::new();
    put_tag(&mut first, 1, WIRE_VARINT);
    put_varint(&mut first, 5);
    let mut second = Vec::new();
    put_tag(&mut second, 2, WIRE_VARINT);
    put_varint(&mut second, 7);
    let mut retry_info = Vec::new();
    put_bytes_field(&mut retry_info, 1, &first);
    put_bytes_field(&mut retry_info, 1, &second);
    let mut any = Vec::new();
    put_bytes_field(&mut any, 1, RETRY_INFO_TYPE_URL.as_bytes());
    put_bytes_field(&mut any, 2, &retry_info);
    let mut bytes = Vec::new();
    put_bytes_field(&mut bytes, 3, &any);
    let prost = ProstRetryInfo::decode(&retry_info[..]).expect("prost reads it");
    assert_eq!(
        prost.retry_delay.map(|d| (d.seconds, d.nanos)),
        Some((5, 7))
    );
    assert_eq!(
        RpcStatus::decode(&bytes).map(|status| status.retry_delay),
        Ok(Some(Duration::new(5, 7)))
    );
    // Merged, then judged: a valid piece and an invalid one are no hint.
    let mut negative = Vec::new();
    put_tag(&mut negative, 2, WIRE_VARINT);
    put_varint(&mut negative, -1i64 as u64);
    let mut retry_info = Vec::new();
    put_bytes_field(&mut retry_info, 1, &first);
    put_bytes_field(&mut retry_info, 1, &negative);
    let mut any = Vec::new();
    put_bytes_field(&mut any, 1, RETRY_INFO_TYPE_URL.as_bytes());
    put_bytes_field(&mut any, 2, &retry_info);
    let mut bytes = Vec::new();
    put_bytes_field(&mut bytes, 3, &any);
    assert_eq!(
        RpcStatus::decode(&bytes).map(|status| status.retry_delay),
        Ok(Some(Duration::ZERO))
    );
    check_rpc_status(&bytes);
}

#[test]
fn export_response_with_partial_success_twice_keeps_the_rejected_count() {
    // Found by export_response_concatenated: `partial_success { rejected_spans: 5 }`
    // followed by `partial_success {}` lost the 5 (the second replaced the
    // first instead of merging into it, as protobuf requires).
    let body = [0x0a, 0x02, 0x08, 0x05, 0x0a, 0x00];
    let expected = PartialSuccess {
        rejected_spans: 5,
        error_message: String::new(),
    };
    assert_eq!(decode_export_response(&body), Ok(Some(expected)));
    check_export_response(&body);
}

#[test]
fn deeply_nested_length_prefixes_are_walked_without_recursion() {
    // 100 000 nested empty-ish messages: count_spans only looks three levels
    // deep, so depth costs nothing and cannot overflow the stack.
    let mut body: Vec<u8> = Vec::new();
    for _ in 0..100_000 {
        let mut outer = Vec::with_capacity(body.len() + 6);
        put_bytes_field(&mut outer, 1, &body);
        body = outer;
    }
    assert_eq!(count_spans(&body), Ok(0));
}

#[test]
fn a_million_empty_spans_are_counted() {
    let mut scope = Vec::new();
    for _ in 0..1_000_000 {
        put_bytes_field(&mut scope, 2, &[]);
    }
    let mut resource = Vec::new();
    put_bytes_field(&mut resource, 2, &scope);
    let mut request = Vec::new();
    put_bytes_field(&mut request, 1, &resource);
    assert_eq!(count_spans(&request), Ok(1_000_000));
}

/// `depth` groups of field 7 inside one another, `inner` in the innermost.
fn nested_groups(depth: usize, inner: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for _ in 0..depth {
        put_tag(&mut body, 7, WIRE_START_GROUP);
    }
    body.extend_from_slice(inner);
    for _ in 0..depth {
        put_tag(&mut body, 7, WIRE_END_GROUP);
    }
    body
}

#[test]
fn unknown_groups_are_skipped_as_prost_skips_them() {
    // A real request with an unknown group before its spans, one inside its
    // `ResourceSpans` and one inside its `ScopeSpans`: prost skips all three
    // and reads 3 spans. Before, every reader refused wire type 3, so the
    // receiver's count-only mode answered 400 to what its decoding mode
    // accepted, and a collector's response with such a field was an error.
    let group = {
        let mut group = Vec::new();
        put_tag(&mut group, 99, WIRE_START_GROUP);
        put_tag(&mut group, 1, WIRE_VARINT);
        put_varint(&mut group, 5);
        put_bytes_field(&mut group, 2, b"text");
        group.extend(nested_groups(2, &[]));
        put_tag(&mut group, 99, WIRE_END_GROUP);
        group
    };
    let mut scope = group.clone();
    for _ in 0..3 {
        put_bytes_field(&mut scope, 2, &[]);
    }
    let mut resource = group.clone();
    put_bytes_field(&mut resource, 2, &scope);
    let mut request = group.clone();
    put_bytes_field(&mut request, 1, &resource);
    let decoded = ExportTraceServiceRequest::decode(&request[..]).expect("prost skips groups");
    assert_eq!(decoded.resource_spans[0].scope_spans[0].spans.len(), 3);
    assert_eq!(count_spans(&request), Ok(3));
    check_count_spans(&request);

    let mut reader = WireReader::new(&group);
    match reader.next_field() {
        Ok(Some((99, WireValue::Group(fields)))) => assert_eq!(fields, &group[2..group.len() - 2]),
        other => panic!("expected group 99, got {other:?}"),
    }
    assert_eq!(reader.next_field(), Ok(None));

    let mut response = group.clone();
    response.extend_from_slice(&[0x0a, 0x02, 0x08, 0x05]);
    check_export_response(&response);
    assert_eq!(
        decode_export_response(&response),
        Ok(Some(PartialSuccess {
            rejected_spans: 5,
            error_message: String::new(),
        }))
    );
}

#[test]
fn groups_prost_refuses_are_refused() {
    // A known field sent as a group: refused by both.
    let mut body = Vec::new();
    put_tag(&mut body, 1, WIRE_START_GROUP);
    put_tag(&mut body, 1, WIRE_END_GROUP);
    assert!(ExportTraceServiceRequest::decode(&body[..]).is_err());
    assert!(matches!(
        count_spans(&body),
        Err(DecodeError::UnexpectedWireType {
            field: 1,
            wire_type: 3,
            ..
        })
    ));
    // Ill-formed groups: unclosed, closed by another field, an end tag alone.
    for (bytes, error) in [
        (&[0x3b][..], DecodeError::Truncated { offset: 1 }),
        (
            &[0x3b, 0x44],
            DecodeError::EndGroup {
                field: 8,
                offset: 1,
            },
        ),
        (
            &[0x3c],
            DecodeError::EndGroup {
                field: 7,
                offset: 0,
            },
        ),
    ] {
        assert!(
            ExportTraceServiceRequest::decode(bytes).is_err(),
            "{bytes:?}"
        );
        assert_eq!(count_spans(bytes), Err(error), "{bytes:?}");
    }
    // Depth: prost skips 100 groups inside one another, but no field inside
    // the hundredth; both agree at each side of the limit.
    let varint = [0x08, 0x01];
    for (depth, inner, accepted) in [
        (100, &[][..], true),
        (99, &varint[..], true),
        (100, &varint[..], false),
        (101, &[][..], false),
    ] {
        let body = nested_groups(depth, inner);
        let prost = ExportTraceServiceRequest::decode(&body[..]).is_ok();
        assert_eq!(prost, accepted, "prost at depth {depth}, {inner:?}");
        let ours = count_spans(&body);
        assert_eq!(
            ours.is_ok(),
            accepted,
            "{ours:?} at depth {depth}, {inner:?}"
        );
        if !accepted {
            assert!(
                matches!(ours, Err(DecodeError::TooDeep { limit: 100, .. })),
                "{ours:?}"
            );
        }
    }
}

/// `groups` groups of field 99 (unknown to every OTLP message) inside one
/// another, a varint field in the innermost.
fn unknown_groups(groups: usize) -> Vec<u8> {
    let mut body = Vec::new();
    for _ in 0..groups {
        put_tag(&mut body, 99, WIRE_START_GROUP);
    }
    body.extend_from_slice(&[0x08, 0x01]);
    for _ in 0..groups {
        put_tag(&mut body, 99, WIRE_END_GROUP);
    }
    body
}

/// `message` as the length-delimited field `field`.
fn len_field(field: u32, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_bytes_field(&mut out, field, message);
    out
}

#[test]
fn groups_in_nested_messages_nest_as_deep_as_prost_allows_counting_from_the_request() {
    // prost counts one depth for messages and groups together, from the
    // request: in a message `d` messages deep, a field inside `k` groups
    // is refused once `d + k` reaches 100. The readers counted groups from
    // the message they walk, so `count_spans` counted a request whose
    // `ScopeSpans` held 98 or 99 groups inside one another, which prost
    // refuses (as do the log and data point counts, and the partial
    // success of a response).
    for groups in 94..=101 {
        let unknown = unknown_groups(groups);
        // In the request (0 deep), a resource group (1), a scope group (2).
        let requests = [
            unknown.clone(),
            len_field(1, &unknown),
            len_field(1, &len_field(2, &unknown)),
        ];
        for (depth, request) in requests.iter().enumerate() {
            let what = format!("{groups} groups {depth} messages deep");
            let prost = ExportTraceServiceRequest::decode(&request[..]).is_ok();
            assert_eq!(prost, depth + groups < 100, "prost: {what}");
            assert_eq!(count_spans(request).is_ok(), prost, "count_spans: {what}");
            assert_eq!(record_bytes(request).is_ok(), prost, "record_bytes: {what}");
            let prost = ExportLogsServiceRequest::decode(&request[..]).is_ok();
            assert_eq!(count_log_records(request).is_ok(), prost, "logs: {what}");
            let prost = ExportMetricsServiceRequest::decode(&request[..]).is_ok();
            assert_eq!(count_data_points(request).is_ok(), prost, "metrics: {what}");
        }
        // In a metric (3 deep) and in its sum (4 deep).
        let in_metric = len_field(2, &unknown);
        let in_sum = len_field(2, &len_field(7, &unknown));
        for (depth, metric) in [(3, in_metric), (4, in_sum)] {
            let request = len_field(1, &len_field(2, &metric));
            let prost = ExportMetricsServiceRequest::decode(&request[..]).is_ok();
            assert_eq!(
                prost,
                depth + groups < 100,
                "prost: {groups} groups {depth} deep"
            );
            assert_eq!(
                count_data_points(&request).is_ok(),
                prost,
                "count_data_points: {groups} groups {depth} messages deep"
            );
        }
        // In a response's partial success (1 deep).
        let response = len_field(1, &unknown);
        let prost = ExportTraceServiceResponse::decode(&response[..]).is_ok();
        assert_eq!(
            decode_export_response(&response).is_ok(),
            prost,
            "partial success: {groups} groups"
        );
    }
}
