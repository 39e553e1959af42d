//! Log records, end to end through the wire formats: every field of OTLP's
//! `LogRecord` round-trips through protobuf (decoded with
//! `opentelemetry-proto`'s prost types, and the same bytes as prost writes)
//! and through OTLP/JSON (parsed with its serde types), grouped by resource
//! and scope; the protobuf writers agree with each other; JSON transcoded from
//! protobuf is the JSON encoder's output byte for byte; records encoded one by
//! one and framed by `frame::write_request` (the framing spans use) are the
//! encoder's request; a warm batch allocates nothing; hostile protobuf
//! transcodes to an error or to valid JSON that reads as prost reads the bytes.
//!
//! The expected request comes from a reference conversion written here field
//! by field through the generated types (resources, scopes and values through
//! `otlp_contrib::testing::proto`), sharing no code with `otlp_core::encode`.

mod hostile_support;
mod support;

use std::sync::Arc;

use hostile_support::DICTIONARY;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1 as proto_logs;
use otlp_contrib::testing::alloc::{CountingAllocator, allocations_during};
use otlp_contrib::testing::fuzz::{config, mutated};
use otlp_contrib::testing::proto;
use otlp_core::encode::{
    Chunk, Encoding, LogEncoder, TranscodeError, frame, logs_request_to_json, record,
};
use otlp_core::wire::count_log_records;
use otlp_core::{
    AnyValue, InstrumentationScope, KeyValue, LogRecord, Resource, Severity, SpanContext, SpanId,
    TraceFlags, TraceId, TraceState,
};
use proptest::collection::vec;
use proptest::prelude::*;
use prost::Message;
use serde_json::Value;
use support::{
    arb_attributes, arb_groups, arb_str, arb_u32, arb_u64, arb_value, assert_same_json_as_serde,
    finite_attributes, finite_value,
};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

// ---- the reference -----------------------------------------------------------

/// The `LogRecord` message the protocol expects for `log`.
fn expected_log(log: &LogRecord) -> proto_logs::LogRecord {
    proto_logs::LogRecord {
        time_unix_nano: log.time_unix_nano,
        observed_time_unix_nano: log.observed_time_unix_nano,
        severity_number: i32::from(log.severity_number.number()),
        severity_text: log.severity_text.to_string(),
        body: log.body.as_ref().map(proto::value),
        attributes: proto::attributes(&log.attributes),
        dropped_attributes_count: log.dropped_attributes_count,
        // logs.proto: the 24 most significant bits are reserved, must be 0.
        flags: log.flags & 0xff,
        trace_id: log
            .trace_id
            .map(|id| id.to_bytes().to_vec())
            .unwrap_or_default(),
        span_id: log
            .span_id
            .map(|id| id.to_bytes().to_vec())
            .unwrap_or_default(),
        event_name: log.event_name.to_string(),
    }
}

/// The request the protocol expects: records grouped by resource value, then
/// by scope value, groups in first-appearance order, records in batch order.
fn expected_request(logs: &[LogRecord]) -> ExportLogsServiceRequest {
    let mut groups: Vec<(
        &Resource,
        proto_logs::ResourceLogs,
        Vec<&InstrumentationScope>,
    )> = Vec::new();
    for log in logs {
        let resource = match groups
            .iter()
            .position(|(known, ..)| **known == *log.resource)
        {
            Some(index) => index,
            None => {
                groups.push((
                    &log.resource,
                    proto_logs::ResourceLogs {
                        resource: Some(proto::resource(&log.resource)),
                        scope_logs: Vec::new(),
                        schema_url: log.resource.schema_url.to_string(),
                    },
                    Vec::new(),
                ));
                groups.len() - 1
            }
        };
        let (_, resource_logs, scopes) = &mut groups[resource];
        let scope = match scopes.iter().position(|known| **known == *log.scope) {
            Some(index) => index,
            None => {
                scopes.push(&log.scope);
                resource_logs.scope_logs.push(proto_logs::ScopeLogs {
                    scope: Some(proto::scope(&log.scope)),
                    log_records: Vec::new(),
                    schema_url: log.scope.schema_url.to_string(),
                });
                scopes.len() - 1
            }
        };
        resource_logs.scope_logs[scope]
            .log_records
            .push(expected_log(log));
    }
    ExportLogsServiceRequest {
        resource_logs: groups.into_iter().map(|(_, group, _)| group).collect(),
    }
}

// ---- our encodings -----------------------------------------------------------

/// The protobuf request, checked on the way: both writers (one pass and
/// measured, into a `Vec` and into any `BufMut`) give the same bytes, and the
/// lengths reported are exact.
fn protobuf(logs: &[LogRecord]) -> Vec<u8> {
    let mut encoder = LogEncoder::new();
    let mut body = Vec::new();
    let written = encoder.encode(Encoding::Protobuf, logs, &mut body);
    assert_eq!(written, body.len(), "reported length is the written length");
    assert_eq!(
        encoder.encoded_len(logs),
        body.len(),
        "encoded_len is exact"
    );
    let mut measured = bytes::BytesMut::new();
    let written = encoder.encode_protobuf(logs, &mut measured);
    assert_eq!(written, measured.len());
    assert_eq!(measured.as_ref(), body.as_slice(), "both writers agree");
    body
}

fn json(logs: &[LogRecord]) -> Vec<u8> {
    let mut body = Vec::new();
    let written = LogEncoder::new().encode(Encoding::Json, logs, &mut body);
    assert_eq!(written, body.len());
    let mut again = Vec::new();
    LogEncoder::new().encode_json(logs, &mut again);
    assert_eq!(again, body);
    body
}

fn transcode(protobuf: &[u8]) -> Result<Vec<u8>, TranscodeError> {
    let mut out = Vec::new();
    let written = logs_request_to_json(protobuf, &mut out)?;
    assert_eq!(written, out.len());
    Ok(out)
}

/// Records grouped as the export loop holds them.
type Grouped<'a> = Vec<(&'a Resource, Vec<(&'a InstrumentationScope, Vec<Vec<u8>>)>)>;

/// Each record encoded on its own, grouped by resource and scope value in
/// first-appearance order.
fn group_records(logs: &[LogRecord]) -> Grouped<'_> {
    let mut groups: Grouped<'_> = Vec::new();
    for log in logs {
        let resource = match groups.iter().position(|(r, _)| **r == *log.resource) {
            Some(index) => index,
            None => {
                groups.push((&log.resource, Vec::new()));
                groups.len() - 1
            }
        };
        let scopes = &mut groups[resource].1;
        let scope = match scopes.iter().position(|(s, _)| **s == *log.scope) {
            Some(index) => index,
            None => {
                scopes.push((&log.scope, Vec::new()));
                scopes.len() - 1
            }
        };
        let mut bytes = Vec::new();
        record::encode_log(log, &mut bytes);
        assert_eq!(bytes.len(), record::log_len(log), "log_len is exact");
        scopes[scope].1.push(bytes);
    }
    groups
}

fn framed(logs: &[LogRecord]) -> Vec<u8> {
    let grouped = group_records(logs);
    let groups = || {
        grouped.iter().map(|(resource, scopes)| {
            let scopes = scopes
                .iter()
                .map(|(scope, records)| (*scope, records.iter().map(Vec::as_slice)));
            (*resource, scopes)
        })
    };
    let mut body = Vec::new();
    let written = frame::write_request(groups(), &mut body);
    assert_eq!(written, body.len());
    assert_eq!(frame::request_len(groups()), body.len());
    body
}

// ---- checks ------------------------------------------------------------------

/// Protobuf decodes as the protocol expects and is prost's bytes; records
/// framed one by one are the same request; JSON transcoded from each protobuf
/// writer's bytes is the JSON encoder's.
fn check_protobuf(logs: &[LogRecord]) {
    let body = protobuf(logs);
    let decoded = ExportLogsServiceRequest::decode(body.as_slice()).expect("prost decodes it");
    let expected = expected_request(logs);
    assert_eq!(decoded, expected);
    assert_eq!(body, expected.encode_to_vec(), "the same bytes as prost");
    assert_eq!(
        framed(logs),
        body,
        "framed records are the encoder's request"
    );
    assert_eq!(count_log_records(&body), Ok(logs.len() as u64));

    let json = json(logs);
    for (writer, protobuf) in [("ours", &body), ("prost", &expected.encode_to_vec())] {
        let transcoded = transcode(protobuf).unwrap_or_else(|error| panic!("{writer}: {error}"));
        assert!(
            transcoded == json,
            "{writer}: transcoded JSON differs\n transcoded: {}\n encoder:    {}",
            String::from_utf8_lossy(&transcoded),
            String::from_utf8_lossy(&json)
        );
    }
}

/// JSON parses with `opentelemetry-proto`'s serde types into the expected
/// request (records whose doubles are finite: see `support::finite_value`).
fn check_json(logs: &[LogRecord]) {
    let body = json(logs);
    let decoded: ExportLogsServiceRequest = match serde_json::from_slice(&body) {
        Ok(decoded) => decoded,
        Err(error) => panic!(
            "opentelemetry-proto rejects our JSON: {error}\n{}",
            String::from_utf8_lossy(&body)
        ),
    };
    assert!(
        decoded == expected_request(logs),
        "decoded JSON differs from the records"
    );
    let expected = serde_json::to_value(expected_request(logs)).expect("serde writes it");
    assert_same_json_as_serde(&body, expected);
}

/// `log` with every double it carries made finite.
fn finite_log(log: &LogRecord) -> LogRecord {
    let mut log = log.clone();
    log.body = log.body.as_ref().map(finite_value);
    log.attributes = finite_attributes(&log.attributes);
    let mut resource = (*log.resource).clone();
    resource.attributes = finite_attributes(&resource.attributes);
    log.resource = Arc::new(resource);
    let mut scope = (*log.scope).clone();
    scope.attributes = finite_attributes(&scope.attributes);
    log.scope = Arc::new(scope);
    log
}

// ---- fixtures ----------------------------------------------------------------

fn nested_body() -> AnyValue {
    AnyValue::KvList(
        vec![
            KeyValue::new("message", "payment declined"),
            KeyValue::new(
                "items",
                vec![
                    AnyValue::from(1i64),
                    AnyValue::from(vec![AnyValue::from(2.5), AnyValue::from(true)]),
                    AnyValue::from(vec![0u8, 255, 7]),
                ],
            ),
            KeyValue::new("empty", AnyValue::KvList(Vec::new().into())),
        ]
        .into(),
    )
}

/// Records with every field set, and with none, in two resources and three
/// scopes (one resource value in two allocations).
fn every_field() -> Vec<LogRecord> {
    let resource = Arc::new(
        Resource::new([
            KeyValue::new("service.name", "checkout"),
            KeyValue::new("host.cores", 8),
        ])
        .with_schema_url("https://opentelemetry.io/schemas/1.26.0"),
    );
    let same_resource = Arc::new((*resource).clone());
    let other_resource = Arc::new(Resource::new([KeyValue::new("service.name", "billing")]));
    let scope = Arc::new(
        InstrumentationScope::new("payments")
            .with_version("1.0.0")
            .with_schema_url("https://example.com/scope")
            .with_attributes([KeyValue::new("scope.attr", true)]),
    );
    let other_scope = Arc::new(InstrumentationScope::new("db"));
    let context = SpanContext {
        trace_id: TraceId::from_hex("5b8efff798038103d269b633813fc60c").unwrap(),
        span_id: SpanId::from_hex("eee19b7ec3c1b174").unwrap(),
        trace_flags: TraceFlags::SAMPLED,
        is_remote: false,
        trace_state: TraceState::EMPTY,
    };
    let full = LogRecord::builder()
        .time_unix_nano(1_544_712_660_000_000_000)
        .observed_time_unix_nano(1_544_712_660_000_000_123)
        .severity(Severity::ERROR3)
        .severity_text("ERROR")
        .body(nested_body())
        .attributes([
            KeyValue::new("s", "ünïcødé ✓ \" \\ \n"),
            KeyValue::new("empty", ""),
            KeyValue::new("i", -42i64),
            KeyValue::new("max", i64::MAX),
            KeyValue::new("d", 0.1),
        ])
        .dropped_attributes_count(3)
        .flags(0x0000_0101)
        .span_context(&context)
        .event_name("payment.declined")
        .resource(resource.clone())
        .scope(scope.clone())
        .build();
    vec![
        full.clone(),
        LogRecord::builder().build(),
        LogRecord::builder()
            .severity(Severity::TRACE)
            .body("string body")
            .trace_id(TraceId::INVALID)
            .resource(other_resource.clone())
            .scope(scope.clone())
            .build(),
        LogRecord {
            resource: same_resource,
            scope: other_scope.clone(),
            span_id: None,
            ..full.clone()
        },
        LogRecord::builder()
            .severity(Severity::FATAL4)
            .body(AnyValue::Int(0))
            .span_id(SpanId::INVALID)
            .resource(resource)
            .scope(other_scope)
            .build(),
        LogRecord {
            body: Some(AnyValue::from("")),
            ..full
        },
    ]
}

#[test]
fn every_field_round_trips_through_protobuf_grouped_by_resource_and_scope() {
    let logs = every_field();
    check_protobuf(&logs);
    let decoded = ExportLogsServiceRequest::decode(protobuf(&logs).as_slice()).unwrap();
    // Two resources (one value in two allocations), scopes in first-appearance order.
    let layout: Vec<Vec<usize>> = decoded
        .resource_logs
        .iter()
        .map(|group| {
            group
                .scope_logs
                .iter()
                .map(|s| s.log_records.len())
                .collect()
        })
        .collect();
    assert_eq!(layout, vec![vec![2, 2], vec![1], vec![1]]);
    let full = &decoded.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(full.severity_number, 19);
    assert_eq!(full.observed_time_unix_nano, 1_544_712_660_000_000_123);
    assert_eq!(full.flags, 0x01, "the reserved bits cleared");
    assert_eq!(full.event_name, "payment.declined");
    assert_eq!(full.trace_id.len(), 16);
    assert_eq!(full.span_id.len(), 8);
}

#[test]
fn every_field_round_trips_through_json() {
    check_json(&every_field());
}

#[test]
fn json_follows_the_otlp_rules() {
    let logs = every_field();
    let body: Value = serde_json::from_slice(&json(&logs[..1])).unwrap();
    let log = &body["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert_eq!(log["timeUnixNano"], "1544712660000000000");
    assert_eq!(log["observedTimeUnixNano"], "1544712660000000123");
    assert_eq!(log["severityNumber"], 19, "enums are integers");
    assert_eq!(log["severityText"], "ERROR");
    assert_eq!(log["body"]["kvlistValue"]["values"][0]["key"], "message");
    assert_eq!(
        log["attributes"][3]["value"]["intValue"],
        "9223372036854775807"
    );
    assert_eq!(log["droppedAttributesCount"], 3);
    assert_eq!(log["flags"], 1);
    assert_eq!(log["traceId"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(log["spanId"], "eee19b7ec3c1b174");
    assert_eq!(log["eventName"], "payment.declined");
    // Keys in the order of logs.proto's declarations.
    let json = String::from_utf8(json(&logs[..1])).unwrap();
    assert!(json.contains(
        r#"{"timeUnixNano":"1544712660000000000","observedTimeUnixNano":"1544712660000000123","severityNumber":19,"severityText":"ERROR","body":"#
    ));
    assert!(json.contains(
        r#""droppedAttributesCount":3,"flags":1,"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","eventName":"payment.declined"}"#
    ));
}

#[test]
fn reserved_flag_bits_are_not_written() {
    let mut log = LogRecord::builder().body("flags").build();
    log.flags = 0xffff_ff01;
    let mut bytes = Vec::new();
    record::encode_log(&log, &mut bytes);
    let decoded = proto_logs::LogRecord::decode(bytes.as_slice()).unwrap();
    assert_eq!(decoded.flags, 0x01);
    let text = String::from_utf8(json(&[log])).unwrap();
    assert!(text.contains(r#""flags":1"#), "{text}");
}

#[test]
fn a_record_in_a_remote_context_exports_only_its_defined_trace_flags() {
    // `LogRecord.flags` bits 0-7 are the W3C trace flags, of which W3C
    // defines sampled (0x01) and random (0x02) and reserves the rest:
    // "Vendors MUST set those to zero". `span_context` with a remote context
    // that sent others (`-ff`) wrote them (0xff), where a span started in the
    // same context says 0x03.
    for (received, exported) in [("ff", 0x03), ("fd", 0x01), ("0a", 0x02), ("01", 0x01)] {
        let context = SpanContext::from_traceparent(&format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{received}"
        ))
        .unwrap();
        let log = LogRecord::builder()
            .body("remote")
            .span_context(&context)
            .build();
        let body = protobuf(std::slice::from_ref(&log));
        let request = ExportLogsServiceRequest::decode(body.as_slice()).expect("decodes");
        let decoded = &request.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(decoded.flags, exported, "context -{received}");
        assert_eq!(decoded.trace_id, context.trace_id.to_bytes());
    }
}

#[test]
fn absent_fields_are_not_written() {
    let empty = LogRecord::builder().build();
    assert_eq!(record::log_len(&empty), 0);
    let body = json(std::slice::from_ref(&empty));
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{},"logRecords":[{}]}]}]}"#
    );
    // Present ids are written whatever their value; a present empty body too.
    let zeros = LogRecord::builder()
        .trace_id(TraceId::INVALID)
        .span_id(SpanId::INVALID)
        .body("")
        .build();
    let mut bytes = Vec::new();
    record::encode_log(&zeros, &mut bytes);
    let decoded = proto_logs::LogRecord::decode(bytes.as_slice()).unwrap();
    assert_eq!(decoded.trace_id, vec![0; 16]);
    assert_eq!(decoded.span_id, vec![0; 8]);
    assert!(decoded.body.is_some());
    let text = String::from_utf8(json(&[zeros])).unwrap();
    assert!(text.contains(
        r#"{"body":{"stringValue":""},"traceId":"00000000000000000000000000000000","spanId":"0000000000000000"}"#
    ));
}

#[test]
fn an_invalid_span_context_leaves_the_ids_out() {
    // OTLP's trace and span ids are optional: a record outside any span has
    // none (empty bytes), as otlp-contrib's `tracing` log layer and `log`
    // bridge write it. `span_context` with an invalid (all-zero) context wrote two
    // all-zero ids instead, which a backend reads as a span that is not one.
    let decoded = |log: &LogRecord| {
        let mut bytes = Vec::new();
        record::encode_log(log, &mut bytes);
        proto_logs::LogRecord::decode(bytes.as_slice()).unwrap()
    };
    for context in [
        SpanContext::default(),
        SpanContext::new(TraceId::INVALID, SpanId::INVALID, TraceFlags::SAMPLED),
        SpanContext::new(TraceId::random(), SpanId::INVALID, TraceFlags::SAMPLED),
    ] {
        let log = LogRecord::builder()
            .body("outside")
            .span_context(&context)
            .build();
        assert_eq!((log.trace_id, log.span_id, log.flags), (None, None, 0));
        let wire = decoded(&log);
        assert!(wire.trace_id.is_empty(), "{context:?}");
        assert!(wire.span_id.is_empty(), "{context:?}");
        assert_eq!(wire.flags, 0, "{context:?}");
    }
    // A valid one is written, with its flags.
    let context = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
    let wire = decoded(&LogRecord::builder().span_context(&context).build());
    assert_eq!(wire.trace_id, context.trace_id.to_bytes());
    assert_eq!(wire.span_id, context.span_id.to_bytes());
    assert_eq!(wire.flags, 0x01);
}

#[test]
fn every_severity_round_trips() {
    let logs: Vec<LogRecord> = (0..=24u8)
        .map(|number| {
            let severity = Severity::new(number).unwrap();
            LogRecord::builder()
                .severity(severity)
                .severity_text(severity.name())
                .build()
        })
        .collect();
    check_protobuf(&logs);
    check_json(&logs);
    let decoded = ExportLogsServiceRequest::decode(protobuf(&logs).as_slice()).unwrap();
    for (number, log) in decoded.resource_logs[0].scope_logs[0]
        .log_records
        .iter()
        .enumerate()
    {
        assert_eq!(log.severity_number, number as i32);
        let named = proto_logs::SeverityNumber::try_from(log.severity_number).unwrap();
        // The generated names are `SEVERITY_NUMBER_<OUR NAME>`.
        assert_eq!(
            named.as_str_name(),
            format!("SEVERITY_NUMBER_{}", log.severity_text)
        );
    }
}

#[test]
fn a_record_decodes_alone_as_a_log_record_and_is_the_encoders_body() {
    for log in every_field() {
        let mut bytes = Vec::new();
        record::encode_log(&log, &mut bytes);
        let decoded = proto_logs::LogRecord::decode(bytes.as_slice()).expect("a LogRecord");
        assert_eq!(decoded, expected_log(&log));
        // Into a slice reserved at the exact size.
        let mut reserved = vec![0u8; record::log_len(&log)];
        record::encode_log(&log, &mut reserved.as_mut_slice());
        assert_eq!(reserved, bytes);
    }
}

#[test]
fn span_framing_serves_logs_resource_and_scope_groups_have_the_same_field_numbers() {
    // The same records framed by frame::write_request, prost's request and
    // the encoder's are one and the same bytes.
    let logs = every_field();
    let body = framed(&logs);
    assert_eq!(body, expected_request(&logs).encode_to_vec());
    // And the framing bytes around one record are those around a span's.
    let log = &logs[0];
    let mut record_bytes = Vec::new();
    record::encode_log(log, &mut record_bytes);
    let groups = [(&*log.resource, [(&*log.scope, [record_bytes.as_slice()])])];
    let mut single = Vec::new();
    frame::write_request(groups, &mut single);
    assert_eq!(
        single.len(),
        frame::single_record_request_len(&log.resource, &log.scope, record_bytes.len())
    );
    let decoded = ExportLogsServiceRequest::decode(single.as_slice()).unwrap();
    assert_eq!(decoded, expected_request(std::slice::from_ref(log)));
}

#[test]
fn transcoding_refuses_ids_of_the_wrong_length() {
    // ExportLogsServiceRequest { ResourceLogs { ScopeLogs { LogRecord { span_id: 3 bytes } } } }
    let log_record = [0x52, 3, 1, 2, 3];
    let scope_logs = [&[0x12, log_record.len() as u8][..], &log_record].concat();
    let resource_logs = [&[0x12, scope_logs.len() as u8][..], &scope_logs].concat();
    let request = [&[0x0a, resource_logs.len() as u8][..], &resource_logs].concat();
    assert_eq!(
        transcode(&request),
        Err(TranscodeError::IdLength {
            message: "LogRecord",
            field: "spanId",
            len: 3,
            expected: 8,
            offset: 8,
        })
    );
    assert_eq!(
        String::from_utf8(transcode(&[]).unwrap()).unwrap(),
        r#"{"resourceLogs":[]}"#
    );
}

#[test]
fn split_chunks_fit_and_oversized_records_are_named() {
    let resource = Arc::new(Resource::new([KeyValue::new("service.name", "split")]));
    let mut logs: Vec<LogRecord> = (0..200)
        .map(|i| {
            LogRecord::builder()
                .severity(Severity::INFO)
                .body(format!("request {i} served"))
                .attribute(KeyValue::new("i", i))
                .resource(resource.clone())
                .build()
        })
        .collect();
    logs[50].body = Some(AnyValue::from("x".repeat(5_000)));
    let mut encoder = LogEncoder::new();
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let chunks = encoder.split(&logs, 2_000, encoding);
        assert!(chunks.contains(&Chunk::Oversized(50)), "{encoding:?}");
        let mut covered = 0;
        for chunk in chunks {
            match chunk {
                Chunk::Fits(range) => {
                    assert_eq!(range.start, covered);
                    covered = range.end;
                    let mut body = Vec::new();
                    encoder.encode(encoding, &logs[range], &mut body);
                    assert!(body.len() <= 2_000, "{encoding:?}: {}", body.len());
                }
                Chunk::Oversized(index) => {
                    assert_eq!(index, covered);
                    covered += 1;
                }
            }
        }
        assert_eq!(covered, logs.len());
    }
}

#[test]
fn encoding_a_warm_batch_allocates_nothing() {
    let resource = Arc::new(Resource::new([KeyValue::new("service.name", "alloc")]));
    let other = Arc::new(Resource::new([KeyValue::new("service.name", "other")]));
    let scope = Arc::new(InstrumentationScope::new("alloc"));
    let logs: Vec<LogRecord> = (0..1_000)
        .map(|i| {
            LogRecord::builder()
                .time_unix_nano(1_700_000_000_000_000_000 + i)
                .severity(Severity::INFO)
                .body("request served")
                .attribute(KeyValue::new("http.route", "/api/v1/users/{id}"))
                .trace_id(TraceId::random())
                .span_id(SpanId::random())
                .resource(Arc::clone(if i % 7 == 0 { &other } else { &resource }))
                .scope(scope.clone())
                .build()
        })
        .collect();
    let mut encoder = LogEncoder::new();
    let mut protobuf = Vec::new();
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let mut body = Vec::new();
        encoder.encode(encoding, &logs, &mut body);
        let warm_len = body.len();
        for round in 0..3 {
            body.clear();
            let (allocations, _) =
                allocations_during(|| encoder.encode(encoding, &logs, &mut body));
            assert_eq!(allocations, 0, "{encoding:?} round {round} allocated");
            assert_eq!(body.len(), warm_len);
        }
        if encoding == Encoding::Protobuf {
            protobuf = body;
        }
    }
    let mut json = Vec::new();
    logs_request_to_json(&protobuf, &mut json).unwrap();
    json.clear();
    let (allocations, _) = allocations_during(|| logs_request_to_json(&protobuf, &mut json));
    assert_eq!(allocations, 0, "a warm transcode allocated");
}

// ---- properties --------------------------------------------------------------

fn arb_severity() -> impl Strategy<Value = Severity> {
    (0u8..=24).prop_map(|number| Severity::new(number).expect("0..=24"))
}

/// Bodies: absent, any value, or nested arrays and key-value lists.
fn arb_body() -> impl Strategy<Value = Option<AnyValue>> {
    proptest::option::of(arb_value())
}

fn arb_log(
    resources: Vec<Arc<Resource>>,
    scopes: Vec<Arc<InstrumentationScope>>,
) -> impl Strategy<Value = LogRecord> {
    let times = (arb_u64(), arb_u64(), arb_severity(), arb_str());
    let content = (arb_body(), arb_attributes(), arb_u32(), arb_u32());
    let ids = (
        proptest::option::of(any::<[u8; 16]>()),
        proptest::option::of(any::<[u8; 8]>()),
        arb_str(),
    );
    let group = (0..resources.len(), 0..scopes.len());
    (times, content, ids, group).prop_map(
        move |(
            (time, observed, severity, severity_text),
            (body, attributes, dropped, flags),
            (trace_id, span_id, event_name),
            (r, s),
        )| LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: observed,
            severity_number: severity,
            severity_text,
            body,
            attributes,
            dropped_attributes_count: dropped,
            flags,
            trace_id: trace_id.map(TraceId::from_bytes),
            span_id: span_id.map(SpanId::from_bytes),
            event_name,
            resource: resources[r].clone(),
            scope: scopes[s].clone(),
        },
    )
}

fn arb_logs(max: usize) -> impl Strategy<Value = Vec<LogRecord>> {
    arb_groups().prop_flat_map(move |(resources, scopes)| vec(arb_log(resources, scopes), 0..max))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_batches_round_trip_through_protobuf_frame_and_transcode(logs in arb_logs(10)) {
        // Doubles here are never NaN (support::arb_double), so values compare equal.
        check_protobuf(&logs);
    }

    #[test]
    fn random_batches_round_trip_through_serde(logs in arb_logs(10)) {
        let logs: Vec<LogRecord> = logs.iter().map(finite_log).collect();
        check_json(&logs);
    }

    #[test]
    fn a_random_record_decodes_alone_as_its_log_record(logs in arb_logs(4)) {
        for log in &logs {
            let mut bytes = Vec::new();
            record::encode_log(log, &mut bytes);
            prop_assert_eq!(bytes.len(), record::log_len(log));
            let decoded = proto_logs::LogRecord::decode(bytes.as_slice()).expect("a LogRecord");
            prop_assert_eq!(&decoded, &expected_log(log));
            prop_assert_eq!(bytes, decoded.encode_to_vec(), "prost's bytes");
        }
    }
}

// ---- hostile input -------------------------------------------------------------

/// Hostile bytes: an error with `out` untouched, or valid JSON of bytes that
/// prost reads too, which reads (through serde) as prost reads the bytes.
/// Non-finite doubles, which opentelemetry-proto's serde cannot read, are
/// left out of the comparison.
fn check_hostile(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut out = b"kept".to_vec();
    match logs_request_to_json(bytes, &mut out) {
        Ok(written) => prop_assert_eq!(written, out.len() - 4),
        Err(error) => {
            prop_assert_eq!(&out, b"kept", "output touched by a failed transcode");
            prop_assert!(!error.to_string().is_empty());
            return Ok(());
        }
    }
    let json = &out[4..];
    let text = String::from_utf8_lossy(json);
    if let Err(error) = serde_json::from_slice::<Value>(json) {
        return Err(TestCaseError::fail(format!(
            "invalid JSON ({error}): {text}"
        )));
    }
    // What the transcoder accepts, prost reads.
    let decoded = ExportLogsServiceRequest::decode(bytes).map_err(|error| {
        TestCaseError::fail(format!("transcoded, but prost refuses it: {error}"))
    })?;
    if text.contains("\"NaN\"") || text.contains("Infinity\"") {
        return Ok(());
    }
    let from_json: ExportLogsServiceRequest = serde_json::from_slice(json)
        .map_err(|error| TestCaseError::fail(format!("serde rejects {text}: {error}")))?;
    prop_assert_eq!(from_json, decoded);
    Ok(())
}

fn encoded_logs() -> impl Strategy<Value = Vec<u8>> {
    arb_logs(4).prop_map(|logs| {
        let mut body = Vec::new();
        LogEncoder::new().encode_protobuf(&logs, &mut body);
        body
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn mutated_logs_requests_are_an_error_or_json_that_reads_as_prost_reads_them(
        bytes in mutated(encoded_logs(), DICTIONARY)
    ) {
        check_hostile(&bytes)?;
    }

    #[test]
    fn arbitrary_bytes_are_an_error_or_valid_json(bytes in vec(any::<u8>(), 0..256)) {
        check_hostile(&bytes)?;
    }
}
