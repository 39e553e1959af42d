//! Odd but valid framing around valid records, for every signal: the
//! request's, resource groups' and scope groups' fields in any order,
//! unknown fields (scalars, nested messages and groups) anywhere among them,
//! `resource`, `scope` and `schema_url` given more than once (prost merges
//! the messages, and the last string wins), empty groups. `prost` reads every
//! such request; the wire walker ([`count_spans`], [`count_log_records`],
//! [`count_data_points`], [`record_bytes`]) counts what it decodes, and the
//! transcoders write JSON that reads back (through `opentelemetry-proto`'s
//! serde) as prost reads the bytes, or refuse a singular message given twice
//! ([`TranscodeError::Duplicate`], documented: no encoder splits one).

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otlp_contrib::testing::fuzz::config;
use otlp_core::encode::{
    TranscodeError, logs_request_to_json, metrics_request_to_json, record, trace_request_to_json,
};
use otlp_core::wire::{
    WIRE_END_GROUP, WIRE_FIXED32, WIRE_FIXED64, WIRE_START_GROUP, WIRE_VARINT, count_data_points,
    count_log_records, count_spans, put_bytes_field, put_tag, put_varint, record_bytes,
};
use otlp_core::{
    AnyValue, Gauge, Histogram, HistogramDataPoint, KeyValue, LogRecord, Metric, MetricData,
    NumberDataPoint, Severity, SpanData, SpanId, Sum, Temporality, TraceId,
};
use proptest::collection::vec;
use proptest::prelude::*;
use prost::Message;

// ---- unknown fields ------------------------------------------------------------

/// A field no OTLP message of the framing knows (its number is past theirs).
#[derive(Clone, Debug)]
enum Unknown {
    Varint(u32, u64),
    Fixed64(u32, u64),
    Fixed32(u32, u32),
    Bytes(u32, Vec<u8>),
    Message(u32, Vec<Unknown>),
    Group(u32, Vec<Unknown>),
}

fn arb_unknown() -> impl Strategy<Value = Unknown> {
    // Field numbers 4 and up: unknown to every framing message (their
    // fields are 1 to 3). Inside an unknown field any number goes.
    let number = prop_oneof![4u32..=20, 21u32..=(u32::MAX >> 3)];
    let leaf = prop_oneof![
        (number.clone(), any::<u64>()).prop_map(|(f, v)| Unknown::Varint(f, v)),
        (number.clone(), any::<u64>()).prop_map(|(f, v)| Unknown::Fixed64(f, v)),
        (number.clone(), any::<u32>()).prop_map(|(f, v)| Unknown::Fixed32(f, v)),
        (number.clone(), vec(any::<u8>(), 0..12)).prop_map(|(f, v)| Unknown::Bytes(f, v)),
    ];
    leaf.prop_recursive(3, 16, 4, move |inner| {
        let number = prop_oneof![4u32..=20, 21u32..=(u32::MAX >> 3)];
        prop_oneof![
            (number.clone(), vec(inner.clone(), 0..4)).prop_map(|(f, v)| Unknown::Message(f, v)),
            (number, vec(inner, 0..4)).prop_map(|(f, v)| Unknown::Group(f, v)),
        ]
    })
}

fn put_unknown(out: &mut Vec<u8>, field: &Unknown) {
    match field {
        Unknown::Varint(number, value) => {
            put_tag(out, *number, WIRE_VARINT);
            put_varint(out, *value);
        }
        Unknown::Fixed64(number, value) => {
            put_tag(out, *number, WIRE_FIXED64);
            out.extend_from_slice(&value.to_le_bytes());
        }
        Unknown::Fixed32(number, value) => {
            put_tag(out, *number, WIRE_FIXED32);
            out.extend_from_slice(&value.to_le_bytes());
        }
        Unknown::Bytes(number, bytes) => put_bytes_field(out, *number, bytes),
        Unknown::Message(number, fields) => {
            let mut body = Vec::new();
            fields
                .iter()
                .for_each(|field| put_unknown(&mut body, field));
            put_bytes_field(out, *number, &body);
        }
        Unknown::Group(number, fields) => {
            put_tag(out, *number, WIRE_START_GROUP);
            fields.iter().for_each(|field| put_unknown(out, field));
            put_tag(out, *number, WIRE_END_GROUP);
        }
    }
}

// ---- the framing ---------------------------------------------------------------

/// One field of a `ResourceX` or `ScopeX` message, or of the request.
#[derive(Clone, Debug)]
enum Part {
    /// `resource` (in a resource group) or `scope` (in a scope group): a
    /// valid message with one attribute (and, for a scope, a name).
    Meta(u8),
    /// A scope group (in a resource group) or a record (in a scope group),
    /// by index into the records.
    Child(Vec<Part>),
    Record(usize),
    SchemaUrl(String),
    Unknown(Unknown),
}

/// A scope group's fields: records among the rest, in any order.
fn arb_scope_group(records: usize) -> impl Strategy<Value = Vec<Part>> {
    vec(
        prop_oneof![
            1 => any::<u8>().prop_map(Part::Meta),
            4 => (0..records).prop_map(Part::Record),
            1 => "[a-zé€]{0,6}".prop_map(Part::SchemaUrl),
            2 => arb_unknown().prop_map(Part::Unknown),
        ],
        0..8,
    )
}

/// A resource group's fields: scope groups among the rest.
fn arb_resource_group(records: usize) -> impl Strategy<Value = Vec<Part>> {
    vec(
        prop_oneof![
            1 => any::<u8>().prop_map(Part::Meta),
            3 => arb_scope_group(records).prop_map(Part::Child),
            1 => "[a-zé€]{0,6}".prop_map(Part::SchemaUrl),
            2 => arb_unknown().prop_map(Part::Unknown),
        ],
        0..5,
    )
}

/// The request's fields: resource groups and unknown fields.
fn arb_request(records: usize) -> impl Strategy<Value = Vec<Part>> {
    vec(
        prop_oneof![
            3 => arb_resource_group(records).prop_map(Part::Child),
            1 => arb_unknown().prop_map(Part::Unknown),
        ],
        0..4,
    )
}

/// `resource` (`scope` when `scope`) number `seed`: a valid message.
fn meta(seed: u8, scope: bool) -> Vec<u8> {
    let mut key_value = Vec::new();
    put_bytes_field(&mut key_value, 1, format!("k{}", seed % 3).as_bytes());
    let mut value = Vec::new();
    put_tag(&mut value, 3, WIRE_VARINT);
    put_varint(&mut value, u64::from(seed));
    put_bytes_field(&mut key_value, 2, &value);
    let mut body = Vec::new();
    if scope {
        put_bytes_field(&mut body, 1, format!("scope{seed}").as_bytes());
        put_bytes_field(&mut body, 3, &key_value);
    } else {
        put_bytes_field(&mut body, 1, &key_value);
    }
    body
}

/// What a request holds by our count: its records and their bytes, and
/// whether a singular message was given twice somewhere.
#[derive(Default)]
struct Written {
    records: Vec<usize>,
    duplicate: bool,
}

/// Writes the fields `parts` of a message `level` deep in the framing (0: the
/// request, 1: a resource group, 2: a scope group).
fn put_parts(
    out: &mut Vec<u8>,
    parts: &[Part],
    level: usize,
    records: &[Vec<u8>],
    written: &mut Written,
) {
    let mut metas = 0;
    for part in parts {
        match part {
            Part::Meta(seed) => {
                metas += 1;
                put_bytes_field(out, 1, &meta(*seed, level == 2));
            }
            Part::Child(children) => {
                let mut body = Vec::new();
                put_parts(&mut body, children, level + 1, records, written);
                put_bytes_field(out, if level == 0 { 1 } else { 2 }, &body);
            }
            Part::Record(index) => {
                put_bytes_field(out, 2, &records[*index]);
                written.records.push(*index);
            }
            Part::SchemaUrl(url) => put_bytes_field(out, 3, url.as_bytes()),
            Part::Unknown(field) => put_unknown(out, field),
        }
    }
    written.duplicate |= metas > 1;
}

fn request(parts: &[Part], records: &[Vec<u8>]) -> (Vec<u8>, Written) {
    let mut written = Written::default();
    let mut out = Vec::new();
    put_parts(&mut out, parts, 0, records, &mut written);
    (out, written)
}

// ---- records -------------------------------------------------------------------

fn span_records() -> Vec<Vec<u8>> {
    let spans = [
        SpanData::builder("").build(),
        SpanData::builder("GET /cart")
            .attribute(KeyValue::new("items", 3))
            .times(1, 2)
            .build(),
    ];
    let mut records: Vec<Vec<u8>> = spans
        .iter()
        .map(|span| {
            let mut bytes = Vec::new();
            record::encode_span(span, &mut bytes);
            bytes
        })
        .collect();
    records.push(Vec::new()); // a span of defaults only, as prost writes it
    records
}

fn log_records() -> Vec<Vec<u8>> {
    let logs = [
        LogRecord::builder().build(),
        LogRecord::builder()
            .severity(Severity::WARN)
            .body(AnyValue::from(vec![AnyValue::from("a"), AnyValue::from(1)]))
            .trace_id(TraceId::from_bytes([7; 16]))
            .span_id(SpanId::from_bytes([8; 8]))
            .build(),
    ];
    logs.iter()
        .map(|log| {
            let mut bytes = Vec::new();
            record::encode_log(log, &mut bytes);
            bytes
        })
        .collect()
}

/// Metrics of 0 to 3 data points.
fn metric_records() -> Vec<(Vec<u8>, u64)> {
    let point = |value| NumberDataPoint::int(Vec::new(), 1, 2, value);
    let metrics = [
        Metric::new("empty", MetricData::Gauge(Gauge::default())),
        Metric::new(
            "gauge",
            MetricData::Gauge(Gauge {
                data_points: vec![point(1)],
            }),
        ),
        Metric::new(
            "sum",
            MetricData::Sum(Sum {
                data_points: vec![point(1), point(2), point(3)],
                temporality: Temporality::Delta,
                is_monotonic: true,
            }),
        ),
        Metric::new(
            "histogram",
            MetricData::Histogram(Histogram {
                data_points: vec![
                    HistogramDataPoint {
                        count: 2,
                        sum: Some(3.5),
                        bucket_counts: vec![1, 1],
                        explicit_bounds: vec![2.0],
                        ..HistogramDataPoint::default()
                    };
                    2
                ],
                temporality: Temporality::Cumulative,
            }),
        ),
    ];
    metrics
        .iter()
        .map(|metric| {
            let mut bytes = Vec::new();
            record::encode_metric(metric, &mut bytes);
            (bytes, metric.data.data_point_count() as u64)
        })
        .collect()
}

// ---- checks --------------------------------------------------------------------

/// The transcoder's JSON of a request prost reads: what prost reads, through
/// serde; or a refusal of a singular message given twice.
fn check_json<T: PartialEq + std::fmt::Debug>(
    result: Result<usize, TranscodeError>,
    json: &[u8],
    parse: impl Fn(&[u8]) -> Result<T, serde_json::Error>,
    decoded: &T,
    duplicate: bool,
) {
    match result {
        Ok(_) => {
            let from_json = parse(json).unwrap_or_else(|error| {
                panic!("serde rejects {}: {error}", String::from_utf8_lossy(json))
            });
            assert_eq!(&from_json, decoded);
        }
        Err(TranscodeError::Duplicate { .. }) if duplicate => {}
        Err(error) => panic!("prost reads it, the transcoder says {error}"),
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn odd_trace_framing_is_counted_and_transcoded_as_prost_reads_it(parts in arb_request(3)) {
        let records = span_records();
        let (bytes, written) = request(&parts, &records);
        let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).expect("prost reads it");
        let spans: usize = decoded
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .map(|scope| scope.spans.len())
            .sum();
        prop_assert_eq!(spans, written.records.len());
        prop_assert_eq!(count_spans(&bytes), Ok(spans as u64));
        let expected_bytes: usize = written.records.iter().map(|&index| records[index].len()).sum();
        prop_assert_eq!(record_bytes(&bytes), Ok(expected_bytes as u64));
        let mut json = Vec::new();
        let result = trace_request_to_json(&bytes, &mut json);
        check_json(result, &json, |json: &[u8]| serde_json::from_slice::<ExportTraceServiceRequest>(json), &decoded, written.duplicate);
    }

    #[test]
    fn odd_logs_framing_is_counted_and_transcoded_as_prost_reads_it(parts in arb_request(2)) {
        let records = log_records();
        let (bytes, written) = request(&parts, &records);
        let decoded = ExportLogsServiceRequest::decode(bytes.as_slice()).expect("prost reads it");
        let logs: usize = decoded
            .resource_logs
            .iter()
            .flat_map(|resource| &resource.scope_logs)
            .map(|scope| scope.log_records.len())
            .sum();
        prop_assert_eq!(logs, written.records.len());
        prop_assert_eq!(count_log_records(&bytes), Ok(logs as u64));
        let expected_bytes: usize = written.records.iter().map(|&index| records[index].len()).sum();
        prop_assert_eq!(record_bytes(&bytes), Ok(expected_bytes as u64));
        let mut json = Vec::new();
        let result = logs_request_to_json(&bytes, &mut json);
        check_json(result, &json, |json: &[u8]| serde_json::from_slice::<ExportLogsServiceRequest>(json), &decoded, written.duplicate);
    }

    #[test]
    fn odd_metrics_framing_is_counted_and_transcoded_as_prost_reads_it(parts in arb_request(4)) {
        let metrics = metric_records();
        let records: Vec<Vec<u8>> = metrics.iter().map(|(bytes, _)| bytes.clone()).collect();
        let (bytes, written) = request(&parts, &records);
        let decoded =
            ExportMetricsServiceRequest::decode(bytes.as_slice()).expect("prost reads it");
        let points: u64 = written.records.iter().map(|&index| metrics[index].1).sum();
        prop_assert_eq!(count_data_points(&bytes), Ok(points));
        let expected_bytes: usize = written.records.iter().map(|&index| records[index].len()).sum();
        prop_assert_eq!(record_bytes(&bytes), Ok(expected_bytes as u64));
        let mut json = Vec::new();
        let result = metrics_request_to_json(&bytes, &mut json);
        check_json(result, &json, |json: &[u8]| serde_json::from_slice::<ExportMetricsServiceRequest>(json), &decoded, written.duplicate);
    }
}
