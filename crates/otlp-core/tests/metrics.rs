//! Metrics, end to end through the wire formats: every shape of OTLP's
//! `Metric` (gauge, sum of both temporalities, explicit and exponential
//! histogram, summary), with exemplars, flags and metadata, round-trips
//! through protobuf (decoded with `opentelemetry-proto`'s prost types, and
//! the same bytes as prost writes) and through OTLP/JSON (parsed with its
//! serde types), grouped by resource and scope; the protobuf writers agree
//! with each other; JSON transcoded from protobuf is the JSON encoder's
//! output byte for byte; metrics encoded one by one and framed by
//! `frame::write_request` are the encoder's request; splitting cuts between
//! metrics and counts data points; `wire::count_data_points` counts as prost
//! reads; hostile protobuf transcodes to an error or to valid JSON that
//! reads as prost reads the bytes.
//!
//! The expected request comes from a reference conversion written here field
//! by field through the generated types (resources, scopes and values through
//! `otlp_contrib::testing::proto`), sharing no code with `otlp_core::encode`.
//! Messages are compared through their `Debug` text, which is field for field
//! and, unlike `==`, treats a NaN as equal to itself.
//!
//! opentelemetry-proto's serde quirk: it reads `"NaN"`, `"Infinity"` and
//! `"-Infinity"` (proto3 JSON's non-finite doubles, which we write) only in
//! `ValueAtQuantile`; every other double (`asDouble`, `sum`, `min`, `max`,
//! `explicitBounds`, `zeroThreshold`) must be a JSON number for it, so the
//! batches that go through its serde keep those finite, and the non-finite
//! ones are checked on the JSON text and through the transcoder.

mod hostile_support;
mod support;

use std::fmt::Debug;
use std::sync::Arc;

use hostile_support::DICTIONARY;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1 as pm;
use otlp_contrib::testing::alloc::{CountingAllocator, allocations_during};
use otlp_contrib::testing::fuzz::{config, mutated};
use otlp_contrib::testing::proto;
use otlp_core::encode::{
    Chunk, Encoding, MetricEncoder, TranscodeError, frame, metrics_request_to_json, record,
};
use otlp_core::wire::count_data_points;
use otlp_core::{
    Exemplar, ExponentialBuckets, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, InstrumentationScope, KeyValue, Metric, MetricData,
    NO_RECORDED_VALUE, NumberDataPoint, NumberValue, Resource, SpanId, Sum, Summary,
    SummaryDataPoint, Temporality, TraceId, ValueAtQuantile,
};
use proptest::collection::vec;
use proptest::prelude::*;
use prost::Message;
use serde_json::Value;
use support::{
    arb_attributes, arb_double, arb_groups, arb_str, arb_u32, arb_u64, assert_same_json_as_serde,
    finite_attributes,
};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

// ---- the reference -----------------------------------------------------------

/// A proto3 `double` without presence: `-0.0` is `0.0`, which is not sent
/// (prost and every encoder compare with `0.0`), and arrives as `0.0`.
fn implicit(value: f64) -> f64 {
    if value == 0.0 { 0.0 } else { value }
}

fn ids(span_id: Option<SpanId>, trace_id: Option<TraceId>) -> (Vec<u8>, Vec<u8>) {
    (
        span_id.map(|id| id.to_bytes().to_vec()).unwrap_or_default(),
        trace_id
            .map(|id| id.to_bytes().to_vec())
            .unwrap_or_default(),
    )
}

fn expected_exemplar(exemplar: &Exemplar) -> pm::Exemplar {
    let (span_id, trace_id) = ids(exemplar.span_id, exemplar.trace_id);
    pm::Exemplar {
        filtered_attributes: proto::attributes(&exemplar.filtered_attributes),
        time_unix_nano: exemplar.time_unix_nano,
        span_id,
        trace_id,
        value: Some(match exemplar.value {
            NumberValue::Double(double) => pm::exemplar::Value::AsDouble(double),
            NumberValue::Int(int) => pm::exemplar::Value::AsInt(int),
        }),
    }
}

fn expected_exemplars(exemplars: &[Exemplar]) -> Vec<pm::Exemplar> {
    exemplars.iter().map(expected_exemplar).collect()
}

fn expected_number_point(point: &NumberDataPoint) -> pm::NumberDataPoint {
    pm::NumberDataPoint {
        attributes: proto::attributes(&point.attributes),
        start_time_unix_nano: point.start_time_unix_nano,
        time_unix_nano: point.time_unix_nano,
        exemplars: expected_exemplars(&point.exemplars),
        flags: point.flags,
        value: Some(match point.value {
            NumberValue::Double(double) => pm::number_data_point::Value::AsDouble(double),
            NumberValue::Int(int) => pm::number_data_point::Value::AsInt(int),
        }),
    }
}

fn expected_histogram_point(point: &HistogramDataPoint) -> pm::HistogramDataPoint {
    pm::HistogramDataPoint {
        attributes: proto::attributes(&point.attributes),
        start_time_unix_nano: point.start_time_unix_nano,
        time_unix_nano: point.time_unix_nano,
        count: point.count,
        sum: point.sum,
        bucket_counts: point.bucket_counts.clone(),
        explicit_bounds: point.explicit_bounds.clone(),
        exemplars: expected_exemplars(&point.exemplars),
        flags: point.flags,
        min: point.min,
        max: point.max,
    }
}

fn expected_buckets(buckets: &ExponentialBuckets) -> pm::exponential_histogram_data_point::Buckets {
    pm::exponential_histogram_data_point::Buckets {
        offset: buckets.offset,
        bucket_counts: buckets.bucket_counts.clone(),
    }
}

fn expected_exponential_point(
    point: &ExponentialHistogramDataPoint,
) -> pm::ExponentialHistogramDataPoint {
    pm::ExponentialHistogramDataPoint {
        attributes: proto::attributes(&point.attributes),
        start_time_unix_nano: point.start_time_unix_nano,
        time_unix_nano: point.time_unix_nano,
        count: point.count,
        sum: point.sum,
        scale: point.scale,
        zero_count: point.zero_count,
        // Always present, as the Collector and opentelemetry-rust write them.
        positive: Some(expected_buckets(&point.positive)),
        negative: Some(expected_buckets(&point.negative)),
        flags: point.flags,
        exemplars: expected_exemplars(&point.exemplars),
        min: point.min,
        max: point.max,
        zero_threshold: implicit(point.zero_threshold),
    }
}

fn expected_summary_point(point: &SummaryDataPoint) -> pm::SummaryDataPoint {
    pm::SummaryDataPoint {
        attributes: proto::attributes(&point.attributes),
        start_time_unix_nano: point.start_time_unix_nano,
        time_unix_nano: point.time_unix_nano,
        count: point.count,
        sum: implicit(point.sum),
        quantile_values: point
            .quantile_values
            .iter()
            .map(|q| pm::summary_data_point::ValueAtQuantile {
                quantile: implicit(q.quantile),
                value: implicit(q.value),
            })
            .collect(),
        flags: point.flags,
    }
}

/// The `Metric` message the protocol expects for `metric`.
fn expected_metric(metric: &Metric) -> pm::Metric {
    let temporality = |t: Temporality| match t {
        Temporality::Unspecified => pm::AggregationTemporality::Unspecified as i32,
        Temporality::Delta => pm::AggregationTemporality::Delta as i32,
        Temporality::Cumulative => pm::AggregationTemporality::Cumulative as i32,
    };
    let data = match &metric.data {
        MetricData::Gauge(gauge) => pm::metric::Data::Gauge(pm::Gauge {
            data_points: gauge
                .data_points
                .iter()
                .map(expected_number_point)
                .collect(),
        }),
        MetricData::Sum(sum) => pm::metric::Data::Sum(pm::Sum {
            data_points: sum.data_points.iter().map(expected_number_point).collect(),
            aggregation_temporality: temporality(sum.temporality),
            is_monotonic: sum.is_monotonic,
        }),
        MetricData::Histogram(histogram) => pm::metric::Data::Histogram(pm::Histogram {
            data_points: histogram
                .data_points
                .iter()
                .map(expected_histogram_point)
                .collect(),
            aggregation_temporality: temporality(histogram.temporality),
        }),
        MetricData::ExponentialHistogram(histogram) => {
            pm::metric::Data::ExponentialHistogram(pm::ExponentialHistogram {
                data_points: histogram
                    .data_points
                    .iter()
                    .map(expected_exponential_point)
                    .collect(),
                aggregation_temporality: temporality(histogram.temporality),
            })
        }
        MetricData::Summary(summary) => pm::metric::Data::Summary(pm::Summary {
            data_points: summary
                .data_points
                .iter()
                .map(expected_summary_point)
                .collect(),
        }),
    };
    pm::Metric {
        name: metric.name.to_string(),
        description: metric.description.to_string(),
        unit: metric.unit.to_string(),
        metadata: proto::attributes(&metric.metadata),
        data: Some(data),
    }
}

/// The request the protocol expects: metrics grouped by resource value, then
/// by scope value, groups in first-appearance order, metrics in batch order.
fn expected_request(metrics: &[Metric]) -> ExportMetricsServiceRequest {
    let mut groups: Vec<(&Resource, pm::ResourceMetrics, Vec<&InstrumentationScope>)> = Vec::new();
    for metric in metrics {
        let resource = match groups
            .iter()
            .position(|(known, ..)| **known == *metric.resource)
        {
            Some(index) => index,
            None => {
                groups.push((
                    &metric.resource,
                    pm::ResourceMetrics {
                        resource: Some(proto::resource(&metric.resource)),
                        scope_metrics: Vec::new(),
                        schema_url: metric.resource.schema_url.to_string(),
                    },
                    Vec::new(),
                ));
                groups.len() - 1
            }
        };
        let (_, resource_metrics, scopes) = &mut groups[resource];
        let scope = match scopes.iter().position(|known| **known == *metric.scope) {
            Some(index) => index,
            None => {
                scopes.push(&metric.scope);
                resource_metrics.scope_metrics.push(pm::ScopeMetrics {
                    scope: Some(proto::scope(&metric.scope)),
                    metrics: Vec::new(),
                    schema_url: metric.scope.schema_url.to_string(),
                });
                scopes.len() - 1
            }
        };
        resource_metrics.scope_metrics[scope]
            .metrics
            .push(expected_metric(metric));
    }
    ExportMetricsServiceRequest {
        resource_metrics: groups.into_iter().map(|(_, group, _)| group).collect(),
    }
}

/// Field-for-field equality in which a NaN equals itself (and `-0.0` differs
/// from `0.0`): the `Debug` texts of the two messages.
fn assert_same<T: Debug>(actual: &T, expected: &T, what: &str) {
    let (actual, expected) = (format!("{actual:#?}"), format!("{expected:#?}"));
    if actual != expected {
        let line = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .unwrap_or(0);
        panic!(
            "{what}: differs from line {line}\n actual:   {:?}\n expected: {:?}",
            actual.lines().nth(line),
            expected.lines().nth(line)
        );
    }
}

/// Data points in a request as prost decodes it.
fn prost_data_points(request: &ExportMetricsServiceRequest) -> u64 {
    let points = |metric: &pm::Metric| match &metric.data {
        None => 0,
        Some(pm::metric::Data::Gauge(data)) => data.data_points.len(),
        Some(pm::metric::Data::Sum(data)) => data.data_points.len(),
        Some(pm::metric::Data::Histogram(data)) => data.data_points.len(),
        Some(pm::metric::Data::ExponentialHistogram(data)) => data.data_points.len(),
        Some(pm::metric::Data::Summary(data)) => data.data_points.len(),
    };
    request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| points(m) as u64)
        .sum()
}

fn total_data_points(metrics: &[Metric]) -> u64 {
    metrics
        .iter()
        .map(|metric| metric.data.data_point_count() as u64)
        .sum()
}

// ---- our encodings -----------------------------------------------------------

/// The protobuf request, checked on the way: both writers (one pass and
/// measured, into a `Vec` and into any `BufMut`) give the same bytes, and the
/// lengths reported are exact.
fn protobuf(metrics: &[Metric]) -> Vec<u8> {
    let mut encoder = MetricEncoder::new();
    let mut body = Vec::new();
    let written = encoder.encode(Encoding::Protobuf, metrics, &mut body);
    assert_eq!(written, body.len(), "reported length is the written length");
    assert_eq!(
        encoder.encoded_len(metrics),
        body.len(),
        "encoded_len is exact"
    );
    let mut measured = bytes::BytesMut::new();
    let written = encoder.encode_protobuf(metrics, &mut measured);
    assert_eq!(written, measured.len());
    assert_eq!(measured.as_ref(), body.as_slice(), "both writers agree");
    body
}

fn json(metrics: &[Metric]) -> Vec<u8> {
    let mut body = Vec::new();
    let written = MetricEncoder::new().encode(Encoding::Json, metrics, &mut body);
    assert_eq!(written, body.len());
    let mut again = Vec::new();
    MetricEncoder::new().encode_json(metrics, &mut again);
    assert_eq!(again, body);
    body
}

fn json_text(metrics: &[Metric]) -> String {
    String::from_utf8(json(metrics)).expect("JSON is UTF-8")
}

fn transcode(protobuf: &[u8]) -> Result<Vec<u8>, TranscodeError> {
    let mut out = Vec::new();
    let written = metrics_request_to_json(protobuf, &mut out)?;
    assert_eq!(written, out.len());
    Ok(out)
}

/// Metrics grouped as the export loop holds them.
type Grouped<'a> = Vec<(&'a Resource, Vec<(&'a InstrumentationScope, Vec<Vec<u8>>)>)>;

/// Each metric encoded on its own, grouped by resource and scope value in
/// first-appearance order.
fn group_records(metrics: &[Metric]) -> Grouped<'_> {
    let mut groups: Grouped<'_> = Vec::new();
    for metric in metrics {
        let resource = match groups.iter().position(|(r, _)| **r == *metric.resource) {
            Some(index) => index,
            None => {
                groups.push((&metric.resource, Vec::new()));
                groups.len() - 1
            }
        };
        let scopes = &mut groups[resource].1;
        let scope = match scopes.iter().position(|(s, _)| **s == *metric.scope) {
            Some(index) => index,
            None => {
                scopes.push((&metric.scope, Vec::new()));
                scopes.len() - 1
            }
        };
        let mut bytes = Vec::new();
        record::encode_metric(metric, &mut bytes);
        assert_eq!(
            bytes.len(),
            record::metric_len(metric),
            "metric_len is exact"
        );
        scopes[scope].1.push(bytes);
    }
    groups
}

fn framed(metrics: &[Metric]) -> Vec<u8> {
    let grouped = group_records(metrics);
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

/// Protobuf decodes as the protocol expects and is prost's bytes; metrics
/// framed one by one are the same request; data points are counted; JSON
/// transcoded from each protobuf writer's bytes is the JSON encoder's.
fn check_protobuf(metrics: &[Metric]) {
    let body = protobuf(metrics);
    let decoded = ExportMetricsServiceRequest::decode(body.as_slice()).expect("prost decodes it");
    let expected = expected_request(metrics);
    assert_same(&decoded, &expected, "decoded protobuf");
    let prost_bytes = expected.encode_to_vec();
    assert!(body == prost_bytes, "not the same bytes as prost");
    assert!(
        framed(metrics) == body,
        "framed records are not the encoder's request"
    );
    assert_eq!(count_data_points(&body), Ok(total_data_points(metrics)));
    assert_eq!(prost_data_points(&decoded), total_data_points(metrics));

    let json = json(metrics);
    for (writer, protobuf) in [("ours", &body), ("prost", &prost_bytes)] {
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
/// request (metrics whose doubles that serde can read: see [`finite_metric`]).
fn check_json(metrics: &[Metric]) {
    let body = json(metrics);
    let decoded: ExportMetricsServiceRequest = match serde_json::from_slice(&body) {
        Ok(decoded) => decoded,
        Err(error) => panic!(
            "opentelemetry-proto rejects our JSON: {error}\n{}",
            String::from_utf8_lossy(&body)
        ),
    };
    assert_same(&decoded, &expected_request(metrics), "decoded JSON");
    let expected = serde_json::to_value(expected_request(metrics)).expect("serde writes it");
    assert_same_json_as_serde(&body, expected);
}

fn finite(value: f64) -> f64 {
    if value.is_finite() { value } else { 1.5 }
}

fn finite_exemplars(exemplars: &mut [Exemplar]) {
    for exemplar in exemplars {
        exemplar.filtered_attributes = finite_attributes(&exemplar.filtered_attributes);
        if let NumberValue::Double(double) = exemplar.value {
            exemplar.value = NumberValue::Double(finite(double));
        }
    }
}

fn finite_number_points(points: &mut [NumberDataPoint]) {
    for point in points {
        point.attributes = finite_attributes(&point.attributes);
        if let NumberValue::Double(double) = point.value {
            point.value = NumberValue::Double(finite(double));
        }
        finite_exemplars(&mut point.exemplars);
    }
}

/// `metric` with every double opentelemetry-proto's serde cannot read made
/// finite: all but the quantiles' (see the module documentation).
fn finite_metric(metric: &Metric) -> Metric {
    let mut metric = metric.clone();
    metric.metadata = finite_attributes(&metric.metadata);
    match &mut metric.data {
        MetricData::Gauge(gauge) => finite_number_points(&mut gauge.data_points),
        MetricData::Sum(sum) => finite_number_points(&mut sum.data_points),
        MetricData::Histogram(histogram) => {
            for point in &mut histogram.data_points {
                point.attributes = finite_attributes(&point.attributes);
                point.sum = point.sum.map(finite);
                point.min = point.min.map(finite);
                point.max = point.max.map(finite);
                point
                    .explicit_bounds
                    .iter_mut()
                    .for_each(|b| *b = finite(*b));
                finite_exemplars(&mut point.exemplars);
            }
        }
        MetricData::ExponentialHistogram(histogram) => {
            for point in &mut histogram.data_points {
                point.attributes = finite_attributes(&point.attributes);
                point.sum = point.sum.map(finite);
                point.min = point.min.map(finite);
                point.max = point.max.map(finite);
                point.zero_threshold = finite(point.zero_threshold);
                finite_exemplars(&mut point.exemplars);
            }
        }
        MetricData::Summary(summary) => {
            for point in &mut summary.data_points {
                point.attributes = finite_attributes(&point.attributes);
                point.sum = finite(point.sum);
            }
        }
    }
    let mut resource = (*metric.resource).clone();
    resource.attributes = finite_attributes(&resource.attributes);
    metric.resource = Arc::new(resource);
    let mut scope = (*metric.scope).clone();
    scope.attributes = finite_attributes(&scope.attributes);
    metric.scope = Arc::new(scope);
    metric
}

// ---- fixtures ----------------------------------------------------------------

const T0: u64 = 1_544_712_660_000_000_000;
const T1: u64 = 1_544_712_720_000_000_000;

fn trace_id() -> TraceId {
    TraceId::from_hex("5b8efff798038103d269b633813fc60c").unwrap()
}

fn span_id() -> SpanId {
    SpanId::from_hex("eee19b7ec3c1b174").unwrap()
}

fn exemplars() -> Vec<Exemplar> {
    vec![
        Exemplar {
            filtered_attributes: vec![KeyValue::new("user.id", "u-42")],
            time_unix_nano: T0 + 5,
            value: NumberValue::Double(12.5),
            span_id: Some(span_id()),
            trace_id: Some(trace_id()),
        },
        Exemplar {
            filtered_attributes: Vec::new(),
            time_unix_nano: T0 + 6,
            value: NumberValue::Int(-7),
            span_id: None,
            trace_id: None,
        },
    ]
}

fn route(route: &'static str) -> Vec<KeyValue> {
    vec![
        KeyValue::new("http.route", route),
        KeyValue::new("http.response.status_code", 200),
    ]
}

fn gauge() -> Metric {
    let mut stale = NumberDataPoint::double(route("/old"), 0, T1, 0.0);
    stale.flags = NO_RECORDED_VALUE;
    Metric::new(
        "process.cpu.utilization",
        MetricData::Gauge(Gauge {
            data_points: vec![
                NumberDataPoint::double(route("/cart"), 0, T1, 0.25),
                NumberDataPoint::int(Vec::new(), 0, T1, i64::MIN),
                stale,
            ],
        }),
    )
    .with_description("CPU used, 0 to 1")
    .with_unit("1")
}

fn delta_counter() -> Metric {
    let mut point = NumberDataPoint::int(route("/cart"), T0, T1, 42);
    point.exemplars = exemplars();
    Metric::new(
        "http.server.requests",
        MetricData::Sum(Sum {
            data_points: vec![point, NumberDataPoint::int(route("/pay"), T0, T1, 0)],
            temporality: Temporality::Delta,
            is_monotonic: true,
        }),
    )
    .with_unit("{request}")
}

fn cumulative_up_down_counter() -> Metric {
    Metric::new(
        "queue.depth",
        MetricData::Sum(Sum {
            data_points: vec![NumberDataPoint::double(Vec::new(), T0, T1, -3.5)],
            temporality: Temporality::Cumulative,
            is_monotonic: false,
        }),
    )
}

fn histogram() -> Metric {
    Metric::new(
        "http.server.request.duration",
        MetricData::Histogram(Histogram {
            data_points: vec![
                HistogramDataPoint {
                    attributes: route("/cart"),
                    start_time_unix_nano: T0,
                    time_unix_nano: T1,
                    count: 6,
                    sum: Some(0.0),
                    bucket_counts: vec![1, 0, 2, 3],
                    explicit_bounds: vec![-1.0, 0.0, 2.5e-3],
                    exemplars: exemplars(),
                    flags: 0,
                    min: Some(0.0),
                    max: Some(-0.0),
                },
                // Count and sum only: no buckets, no min or max.
                HistogramDataPoint {
                    start_time_unix_nano: T0,
                    time_unix_nano: T1,
                    count: 2,
                    sum: Some(3.0),
                    ..HistogramDataPoint::default()
                },
                HistogramDataPoint {
                    flags: NO_RECORDED_VALUE,
                    ..HistogramDataPoint::default()
                },
            ],
            temporality: Temporality::Cumulative,
        }),
    )
    .with_unit("s")
    .with_description("Duration of HTTP server requests.")
}

fn exponential_histogram() -> Metric {
    Metric::new(
        "db.client.operation.duration",
        MetricData::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![
                ExponentialHistogramDataPoint {
                    attributes: vec![KeyValue::new("db.system", "postgresql")],
                    start_time_unix_nano: T0,
                    time_unix_nano: T1,
                    count: 17,
                    sum: Some(-12.75),
                    scale: -3,
                    zero_count: 2,
                    positive: ExponentialBuckets {
                        offset: -130,
                        bucket_counts: vec![1, 0, 300, 2],
                    },
                    negative: ExponentialBuckets {
                        offset: 5,
                        bucket_counts: vec![4, 5],
                    },
                    flags: 0,
                    exemplars: exemplars(),
                    min: Some(-40.0),
                    max: Some(1e-9),
                    zero_threshold: 1e-12,
                },
                ExponentialHistogramDataPoint {
                    scale: 20,
                    positive: ExponentialBuckets {
                        offset: i32::MIN,
                        bucket_counts: vec![u64::MAX],
                    },
                    negative: ExponentialBuckets {
                        offset: i32::MAX,
                        bucket_counts: Vec::new(),
                    },
                    count: u64::MAX,
                    ..ExponentialHistogramDataPoint::default()
                },
                // Everything at its default: empty buckets are still written.
                ExponentialHistogramDataPoint::default(),
            ],
            temporality: Temporality::Delta,
        }),
    )
    .with_unit("s")
}

fn summary() -> Metric {
    Metric::new(
        "rpc.latency",
        MetricData::Summary(Summary {
            data_points: vec![
                SummaryDataPoint {
                    attributes: route("/pay"),
                    start_time_unix_nano: T0,
                    time_unix_nano: T1,
                    count: 1_000,
                    sum: 2_345.5,
                    quantile_values: vec![
                        ValueAtQuantile {
                            quantile: 0.0,
                            value: 0.1,
                        },
                        ValueAtQuantile {
                            quantile: 0.5,
                            value: 2.0,
                        },
                        ValueAtQuantile {
                            quantile: 1.0,
                            value: 0.0,
                        },
                    ],
                    flags: 0,
                },
                SummaryDataPoint::default(),
            ],
        }),
    )
    .with_unit("ms")
}

/// Every shape, with metadata and empty data, in two resources (one value in
/// two allocations) and three scopes.
fn every_shape() -> Vec<Metric> {
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
    let mut with_metadata = cumulative_up_down_counter();
    with_metadata.metadata = vec![
        KeyValue::new("prometheus.type", "gauge"),
        KeyValue::new("ünïcødé ✓", "\" \\ \n"),
    ];
    let place = |metric: Metric, resource: &Arc<Resource>, scope: &Arc<InstrumentationScope>| {
        metric
            .with_resource(resource.clone())
            .with_scope(scope.clone())
    };
    vec![
        place(gauge(), &resource, &scope),
        place(delta_counter(), &other_resource, &scope),
        place(with_metadata, &same_resource, &other_scope),
        place(histogram(), &resource, &other_scope),
        place(exponential_histogram(), &resource, &scope),
        place(summary(), &other_resource, &other_scope),
        // Empty data of each shape.
        Metric::new("empty.gauge", MetricData::Gauge(Gauge::default())),
        Metric::new("empty.sum", MetricData::Sum(Sum::default())),
        Metric::new(
            "empty.histogram",
            MetricData::Histogram(Histogram::default()),
        ),
        Metric::new(
            "empty.exponential",
            MetricData::ExponentialHistogram(ExponentialHistogram::default()),
        ),
        Metric::new("", MetricData::Summary(Summary::default())),
    ]
}

// ---- examples ----------------------------------------------------------------

#[test]
fn every_shape_round_trips_through_protobuf_grouped_by_resource_and_scope() {
    let metrics = every_shape();
    check_protobuf(&metrics);
    let decoded = ExportMetricsServiceRequest::decode(protobuf(&metrics).as_slice()).unwrap();
    // Two resource values (one in two allocations) and the empty one; scopes
    // in first-appearance order within each.
    let layout: Vec<Vec<Vec<&str>>> = decoded
        .resource_metrics
        .iter()
        .map(|group| {
            group
                .scope_metrics
                .iter()
                .map(|s| s.metrics.iter().map(|m| m.name.as_str()).collect())
                .collect()
        })
        .collect();
    assert_eq!(
        layout,
        vec![
            vec![
                vec!["process.cpu.utilization", "db.client.operation.duration"],
                vec!["queue.depth", "http.server.request.duration"],
            ],
            vec![vec!["http.server.requests"], vec!["rpc.latency"]],
            vec![vec![
                "empty.gauge",
                "empty.sum",
                "empty.histogram",
                "empty.exponential",
                ""
            ]],
        ]
    );
    assert_eq!(count_data_points(&protobuf(&metrics)), Ok(14));
}

#[test]
fn every_shape_round_trips_through_json() {
    check_json(&every_shape());
}

#[test]
fn both_temporalities_and_monotonicity_reach_the_wire() {
    let metrics = [delta_counter(), cumulative_up_down_counter()];
    let decoded = ExportMetricsServiceRequest::decode(protobuf(&metrics).as_slice()).unwrap();
    let sums: Vec<(i32, bool)> = decoded.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|metric| match &metric.data {
            Some(pm::metric::Data::Sum(sum)) => (sum.aggregation_temporality, sum.is_monotonic),
            other => panic!("not a sum: {other:?}"),
        })
        .collect();
    assert_eq!(
        sums,
        vec![
            (pm::AggregationTemporality::Delta as i32, true),
            (pm::AggregationTemporality::Cumulative as i32, false),
        ]
    );
    let text = json_text(&metrics);
    assert!(text.contains(r#""aggregationTemporality":1,"isMonotonic":true}"#));
    assert!(
        text.contains(r#""aggregationTemporality":2}"#),
        "false is omitted"
    );
}

#[test]
fn json_follows_the_otlp_rules() {
    let body: Value = serde_json::from_slice(&json(&[delta_counter(), histogram()])).unwrap();
    let metrics = &body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
    let counter = &metrics[0];
    assert_eq!(counter["name"], "http.server.requests");
    assert_eq!(counter["unit"], "{request}");
    let sum = &counter["sum"];
    assert_eq!(sum["aggregationTemporality"], 1, "enums are integers");
    assert_eq!(sum["isMonotonic"], true);
    let point = &sum["dataPoints"][0];
    assert_eq!(point["startTimeUnixNano"], "1544712660000000000");
    assert_eq!(point["timeUnixNano"], "1544712720000000000");
    assert_eq!(point["asInt"], "42", "64-bit integers are strings");
    let exemplar = &point["exemplars"][0];
    assert_eq!(exemplar["traceId"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(exemplar["spanId"], "eee19b7ec3c1b174");
    assert_eq!(exemplar["asDouble"], 12.5);
    assert_eq!(exemplar["timeUnixNano"], "1544712660000000005");
    assert_eq!(exemplar["filteredAttributes"][0]["key"], "user.id");
    assert_eq!(point["exemplars"][1]["asInt"], "-7");
    assert!(
        point["exemplars"][1].get("spanId").is_none(),
        "absent ids are omitted"
    );
    // A zero integer is a value (the oneof), so it is written.
    assert_eq!(sum["dataPoints"][1]["asInt"], "0");

    let histogram = &metrics[1]["histogram"];
    assert_eq!(histogram["aggregationTemporality"], 2);
    let point = &histogram["dataPoints"][0];
    assert_eq!(point["count"], "6");
    assert_eq!(
        point["bucketCounts"],
        serde_json::json!(["1", "0", "2", "3"])
    );
    assert_eq!(
        point["explicitBounds"],
        serde_json::json!([-1.0, 0.0, 0.0025])
    );
    assert_eq!(point["sum"], 0.0, "a present optional zero is written");
    assert_eq!(point["min"], 0.0);
    assert!(point.get("flags").is_none());
    let count_only = &histogram["dataPoints"][1];
    assert!(count_only.get("bucketCounts").is_none());
    assert!(count_only.get("min").is_none() && count_only.get("max").is_none());
    assert_eq!(histogram["dataPoints"][2]["flags"], 1);

    // Keys in the order of metrics.proto's declarations.
    let text = json_text(&[delta_counter()]);
    assert!(text.contains(
        r#"{"name":"http.server.requests","unit":"{request}","sum":{"dataPoints":[{"attributes":["#
    ));
    assert!(text.contains(
        r#""startTimeUnixNano":"1544712660000000000","timeUnixNano":"1544712720000000000","asInt":"42","exemplars":[{"filteredAttributes":"#
    ));
    assert!(text.contains(
        r#""timeUnixNano":"1544712660000000005","asDouble":12.5,"spanId":"eee19b7ec3c1b174","traceId":"5b8efff798038103d269b633813fc60c"}"#
    ));
}

#[test]
fn exponential_histograms_keep_negative_offsets_scales_and_buckets() {
    let metric = exponential_histogram();
    check_protobuf(std::slice::from_ref(&metric));
    check_json(std::slice::from_ref(&metric));
    let decoded =
        ExportMetricsServiceRequest::decode(protobuf(std::slice::from_ref(&metric)).as_slice())
            .unwrap();
    let Some(pm::metric::Data::ExponentialHistogram(histogram)) =
        &decoded.resource_metrics[0].scope_metrics[0].metrics[0].data
    else {
        panic!("an exponential histogram");
    };
    let point = &histogram.data_points[0];
    assert_eq!(point.scale, -3);
    assert_eq!(point.positive.as_ref().unwrap().offset, -130);
    assert_eq!(point.negative.as_ref().unwrap().bucket_counts, vec![4, 5]);
    assert_eq!(
        histogram.data_points[1].positive.as_ref().unwrap().offset,
        i32::MIN
    );
    assert_eq!(
        histogram.data_points[1].negative.as_ref().unwrap().offset,
        i32::MAX
    );
    assert!(
        histogram.data_points[2].positive.is_some(),
        "empty buckets are written"
    );

    let body: Value = serde_json::from_slice(&json(&[metric])).unwrap();
    let points = &body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["exponentialHistogram"]
        ["dataPoints"];
    assert_eq!(points[0]["scale"], -3, "sint32 is a number");
    assert_eq!(points[0]["zeroCount"], "2");
    assert_eq!(points[0]["positive"]["offset"], -130);
    assert_eq!(
        points[0]["positive"]["bucketCounts"],
        serde_json::json!(["1", "0", "300", "2"])
    );
    assert_eq!(
        points[0]["negative"],
        serde_json::json!({"offset": 5, "bucketCounts": ["4", "5"]})
    );
    assert_eq!(points[0]["zeroThreshold"], 1e-12);
    assert_eq!(
        points[1]["positive"]["bucketCounts"][0],
        "18446744073709551615"
    );
    assert_eq!(points[1]["count"], "18446744073709551615");
    assert_eq!(
        points[2],
        serde_json::json!({"positive": {}, "negative": {}}),
        "defaults are omitted, the bucket messages are not"
    );
}

#[test]
fn summaries_carry_quantiles() {
    let metric = summary();
    check_protobuf(std::slice::from_ref(&metric));
    check_json(std::slice::from_ref(&metric));
    let text = json_text(&[metric]);
    assert!(text.contains(
        r#""count":"1000","sum":2345.5,"quantileValues":[{"value":0.1},{"quantile":0.5,"value":2.0},{"quantile":1.0}]}"#
    ));
}

#[test]
fn non_finite_doubles_are_proto3_json_strings_and_exact_in_protobuf() {
    let non_finite = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    let mut metrics = Vec::new();
    for value in non_finite {
        let mut point = NumberDataPoint::double(Vec::new(), 0, T1, value);
        point.exemplars = vec![Exemplar {
            value: NumberValue::Double(value),
            ..exemplars()[1].clone()
        }];
        metrics.push(Metric::new(
            "g",
            MetricData::Gauge(Gauge {
                data_points: vec![point],
            }),
        ));
        metrics.push(Metric::new(
            "h",
            MetricData::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    sum: Some(value),
                    min: Some(value),
                    max: Some(value),
                    bucket_counts: vec![0, 1],
                    explicit_bounds: vec![value],
                    ..HistogramDataPoint::default()
                }],
                temporality: Temporality::Delta,
            }),
        ));
        metrics.push(Metric::new(
            "e",
            MetricData::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    zero_threshold: value,
                    sum: Some(value),
                    ..ExponentialHistogramDataPoint::default()
                }],
                temporality: Temporality::Delta,
            }),
        ));
        metrics.push(Metric::new(
            "s",
            MetricData::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    sum: value,
                    quantile_values: vec![ValueAtQuantile {
                        quantile: value,
                        value,
                    }],
                    ..SummaryDataPoint::default()
                }],
            }),
        ));
    }
    // Protobuf: the bits travel as they are (NaN compared as NaN).
    check_protobuf(&metrics);
    let text = json_text(&metrics);
    // Per value: a gauge point and its exemplar (2), a histogram's sum, min,
    // max and bound (4), an exponential one's sum and zero threshold (2), a
    // summary's sum, quantile and value (3).
    for (name, expected) in [("NaN", 11), ("Infinity", 11), ("-Infinity", 11)] {
        assert_eq!(
            text.matches(&format!("\"{name}\"")).count(),
            expected,
            "{name} in {text}"
        );
    }
    assert!(text.contains(r#""asDouble":"NaN""#));
    assert!(text.contains(r#""explicitBounds":["-Infinity"]"#));
    assert!(text.contains(r#""zeroThreshold":"Infinity""#));
    assert!(text.contains(r#""quantileValues":[{"quantile":"NaN","value":"NaN"}]"#));
    // opentelemetry-proto's serde reads them in quantiles (its quirk: only there).
    let summaries: Vec<Metric> = metrics.iter().filter(|m| m.name == "s").cloned().collect();
    let summary_sums_finite: Vec<Metric> = summaries.iter().map(finite_metric).collect();
    check_json(&summary_sums_finite);
}

#[test]
fn absent_fields_are_not_written_and_present_optionals_are() {
    let bare = Metric::new("m", MetricData::Gauge(Gauge::default()));
    assert_eq!(record::metric_len(&bare), 3 + 2, "name and an empty gauge");
    assert_eq!(
        json_text(std::slice::from_ref(&bare)),
        r#"{"resourceMetrics":[{"resource":{},"scopeMetrics":[{"scope":{},"metrics":[{"name":"m","gauge":{}}]}]}]}"#
    );
    let point = |sum, min, max| HistogramDataPoint {
        sum,
        min,
        max,
        ..HistogramDataPoint::default()
    };
    let metric = |point| {
        Metric::new(
            "h",
            MetricData::Histogram(Histogram {
                data_points: vec![point],
                temporality: Temporality::Unspecified,
            }),
        )
    };
    let absent = metric(point(None, None, None));
    let zeros = metric(point(Some(0.0), Some(0.0), Some(0.0)));
    assert_eq!(
        record::metric_len(&zeros),
        record::metric_len(&absent) + 3 * 9
    );
    let mut bytes = Vec::new();
    record::encode_metric(&zeros, &mut bytes);
    let decoded = pm::Metric::decode(bytes.as_slice()).unwrap();
    let Some(pm::metric::Data::Histogram(histogram)) = decoded.data else {
        panic!("a histogram")
    };
    let point = &histogram.data_points[0];
    assert_eq!(
        (point.sum, point.min, point.max),
        (Some(0.0), Some(0.0), Some(0.0))
    );
    assert!(json_text(&[absent]).contains(r#""histogram":{"dataPoints":[{}]}"#));
    assert!(json_text(&[zeros]).contains(r#""dataPoints":[{"sum":0.0,"min":0.0,"max":0.0}]"#));
}

#[test]
fn a_record_decodes_alone_as_a_metric_and_is_the_encoders_body() {
    for metric in every_shape() {
        let mut bytes = Vec::new();
        record::encode_metric(&metric, &mut bytes);
        let decoded = pm::Metric::decode(bytes.as_slice()).expect("a Metric");
        assert_same(&decoded, &expected_metric(&metric), &metric.name);
        assert_eq!(bytes, decoded.encode_to_vec(), "prost's bytes");
        // Into a slice reserved at the exact size.
        let mut reserved = vec![0u8; record::metric_len(&metric)];
        record::encode_metric(&metric, &mut reserved.as_mut_slice());
        assert_eq!(reserved, bytes);
    }
}

#[test]
fn span_framing_serves_metrics() {
    let metrics = every_shape();
    assert_eq!(framed(&metrics), expected_request(&metrics).encode_to_vec());
    let metric = &metrics[0];
    let mut record_bytes = Vec::new();
    record::encode_metric(metric, &mut record_bytes);
    let groups = [(
        &*metric.resource,
        [(&*metric.scope, [record_bytes.as_slice()])],
    )];
    let mut single = Vec::new();
    frame::write_request(groups, &mut single);
    assert_eq!(
        single.len(),
        frame::single_record_request_len(&metric.resource, &metric.scope, record_bytes.len())
    );
    let decoded = ExportMetricsServiceRequest::decode(single.as_slice()).unwrap();
    assert_same(
        &decoded,
        &expected_request(std::slice::from_ref(metric)),
        "single",
    );
}

#[test]
fn an_empty_batch_is_an_empty_request() {
    assert!(protobuf(&[]).is_empty());
    assert_eq!(json_text(&[]), r#"{"resourceMetrics":[]}"#);
    assert_eq!(transcode(&[]).unwrap(), json(&[]));
    assert_eq!(count_data_points(&[]), Ok(0));
}

// ---- splitting -----------------------------------------------------------------

#[test]
fn split_cuts_between_metrics_and_counts_their_data_points() {
    let resource = Arc::new(Resource::new([KeyValue::new("service.name", "split")]));
    let mut metrics: Vec<Metric> = (0..120)
        .map(|i| {
            let points = (0..(i % 4) + 1)
                .map(|p| NumberDataPoint::int(vec![KeyValue::new("p", p)], T0, T1, i))
                .collect();
            Metric::new(
                format!("metric.{i}"),
                MetricData::Sum(Sum {
                    data_points: points,
                    temporality: Temporality::Cumulative,
                    is_monotonic: true,
                }),
            )
            .with_resource(resource.clone())
        })
        .collect();
    // One metric too big for any request: 200 points.
    metrics[50].data = MetricData::Gauge(Gauge {
        data_points: (0..200)
            .map(|p| NumberDataPoint::double(vec![KeyValue::new("p", p)], T0, T1, 0.5))
            .collect(),
    });
    let total = total_data_points(&metrics) as usize;
    let mut encoder = MetricEncoder::new();
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let chunks = encoder.split(&metrics, 2_000, encoding);
        assert!(chunks.len() > 2, "{encoding:?}");
        assert!(chunks.contains(&Chunk::Oversized(50)), "{encoding:?}");
        let mut covered = 0;
        let mut delivered = 0;
        let mut dropped = 0;
        for chunk in &chunks {
            match chunk {
                Chunk::Fits(range) => {
                    assert_eq!(range.start, covered);
                    covered = range.end;
                    let mut body = Vec::new();
                    encoder.encode(encoding, &metrics[range.clone()], &mut body);
                    assert!(body.len() <= 2_000, "{encoding:?}: {}", body.len());
                    let points = MetricEncoder::data_points(&metrics, chunk);
                    if encoding == Encoding::Protobuf {
                        assert_eq!(count_data_points(&body), Ok(points as u64));
                    }
                    delivered += points;
                }
                Chunk::Oversized(index) => {
                    assert_eq!(*index, covered);
                    covered += 1;
                    dropped += MetricEncoder::data_points(&metrics, chunk);
                }
            }
        }
        assert_eq!(covered, metrics.len());
        assert_eq!(dropped, 200, "{encoding:?}: the oversized metric's points");
        assert_eq!(delivered + dropped, total);
    }
}

#[test]
fn json_chunks_stay_under_every_limit() {
    // `{"resourceMetrics":[]}` is 22 bytes, two more than the span request
    // the split's fixed cost was written for: chunks of small metrics at
    // every limit stay under it.
    let metrics: Vec<Metric> = (0..40)
        .map(|i| Metric::new(format!("m{i}"), MetricData::Gauge(Gauge::default())))
        .collect();
    let mut encoder = MetricEncoder::new();
    for limit in 60..400 {
        for chunk in encoder.split(&metrics, limit, Encoding::Json) {
            if let Chunk::Fits(range) = chunk {
                let mut body = Vec::new();
                encoder.encode_json(&metrics[range], &mut body);
                assert!(body.len() <= limit, "{} > {limit}", body.len());
            }
        }
    }
}

// ---- counting and transcoding by hand ----------------------------------------------

/// A length-delimited field.
fn len(field: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    otlp_core::wire::put_len_prefix(&mut out, field, payload.len());
    out.extend_from_slice(payload);
    out
}

/// A request holding `metrics` (encoded `Metric` bodies) in an empty
/// resource and scope, as our encoder frames them.
fn request_of(metrics: &[Vec<u8>]) -> Vec<u8> {
    let mut scope_metrics = len(1, &[]);
    for metric in metrics {
        scope_metrics.extend(len(2, metric));
    }
    let mut resource_metrics = len(1, &[]);
    resource_metrics.extend(len(2, &scope_metrics));
    len(1, &resource_metrics)
}

/// A data message (`Gauge`, `Sum`, ...) of `points` empty data points.
fn points(points: usize) -> Vec<u8> {
    (0..points).flat_map(|_| len(1, &[])).collect()
}

#[test]
fn count_data_points_reads_the_metric_data_as_prost_does() {
    let cases: [(&[(u32, usize)], u64); 6] = [
        (&[(5, 2)], 2),
        (&[(11, 3)], 3),
        // Another member replaces the data; the same member merges.
        (&[(5, 2), (7, 1)], 1),
        (&[(9, 2), (9, 3)], 5),
        (&[(5, 1), (7, 2), (5, 4)], 4),
        (&[], 0),
    ];
    for (members, expected) in cases {
        let mut metric = len(1, b"m");
        for &(field, count) in members {
            metric.extend(len(field, &points(count)));
        }
        let request = request_of(&[metric.clone(), metric]);
        let decoded = ExportMetricsServiceRequest::decode(request.as_slice()).unwrap();
        assert_eq!(prost_data_points(&decoded), 2 * expected, "{members:?}");
        assert_eq!(count_data_points(&request), Ok(2 * expected), "{members:?}");
    }
    assert!(count_data_points(&[0x0a, 0x05, 0x12]).is_err());
}

#[test]
fn packed_and_unpacked_numbers_transcode_alike() {
    // HistogramDataPoint { count 6, bucket_counts [1, 2, 3], explicit_bounds [0.5, 2.0] }
    let fixed = |field: u32, bits: u64| {
        let mut out = vec![(field << 3 | 1) as u8];
        out.extend(bits.to_le_bytes());
        out
    };
    let packed = |field: u32, words: &[u64]| {
        len(
            field,
            &words
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
    };
    let count = fixed(4, 6);
    let variants: Vec<Vec<u8>> = vec![
        [
            count.clone(),
            packed(6, &[1, 2, 3]),
            packed(7, &[0.5f64.to_bits(), 2f64.to_bits()]),
        ]
        .concat(),
        [
            count.clone(),
            fixed(6, 1),
            fixed(6, 2),
            fixed(6, 3),
            fixed(7, 0.5f64.to_bits()),
            fixed(7, 2f64.to_bits()),
        ]
        .concat(),
        // Mixed, interleaved, and an empty packed run.
        [
            count.clone(),
            packed(6, &[1]),
            fixed(7, 0.5f64.to_bits()),
            packed(6, &[]),
            fixed(6, 2),
            packed(7, &[2f64.to_bits()]),
            packed(6, &[3]),
        ]
        .concat(),
    ];
    let expected = Metric::new(
        "h",
        MetricData::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                count: 6,
                bucket_counts: vec![1, 2, 3],
                explicit_bounds: vec![0.5, 2.0],
                ..HistogramDataPoint::default()
            }],
            temporality: Temporality::Unspecified,
        }),
    );
    for point in variants {
        let metric = [len(1, b"h"), len(9, &len(1, &point))].concat();
        let request = request_of(&[metric]);
        let decoded = ExportMetricsServiceRequest::decode(request.as_slice()).unwrap();
        assert_same(
            &decoded,
            &expected_request(std::slice::from_ref(&expected)),
            "prost",
        );
        assert_eq!(
            String::from_utf8(transcode(&request).unwrap()).unwrap(),
            json_text(std::slice::from_ref(&expected))
        );
    }
    // Buckets { offset -2 (zigzag 3), bucket_counts [300, 0] } unpacked, and packed.
    let unpacked = [vec![0x08, 3, 0x10, 0xac, 0x02, 0x10, 0x00]].concat();
    let packed_varints = [vec![0x08, 3], len(2, &[0xac, 0x02, 0x00])].concat();
    let mut outputs = Vec::new();
    for buckets in [unpacked, packed_varints] {
        let point = len(8, &buckets);
        let metric = [len(1, b"e"), len(10, &len(1, &point))].concat();
        outputs.push(String::from_utf8(transcode(&request_of(&[metric])).unwrap()).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    assert!(
        outputs[0].contains(r#""positive":{"offset":-2,"bucketCounts":["300","0"]}"#),
        "{}",
        outputs[0]
    );
}

#[test]
fn malformed_packed_runs_and_ids_are_errors() {
    let metric_with_point = |data_field: u32, point: Vec<u8>| {
        request_of(&[[len(1, b"m"), len(data_field, &len(1, &point))].concat()])
    };
    // Seven bytes of fixed64 bucket counts.
    let request = metric_with_point(9, len(6, &[1, 0, 0, 0, 0, 0, 0]));
    assert!(ExportMetricsServiceRequest::decode(request.as_slice()).is_err());
    assert!(matches!(transcode(&request), Err(TranscodeError::Wire(_))));
    // A packed varint cut short.
    let request = metric_with_point(10, len(8, &len(2, &[0x80])));
    assert!(ExportMetricsServiceRequest::decode(request.as_slice()).is_err());
    assert!(matches!(transcode(&request), Err(TranscodeError::Wire(_))));
    // An exemplar's span id of three bytes.
    let exemplar = len(4, &[1, 2, 3]);
    let request = metric_with_point(5, len(5, &exemplar));
    assert!(matches!(
        transcode(&request),
        Err(TranscodeError::IdLength {
            message: "Exemplar",
            field: "spanId",
            len: 3,
            expected: 8,
            ..
        })
    ));
    // A scale given as fixed64.
    let request = metric_with_point(10, vec![6 << 3 | 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(
        transcode(&request),
        Err(TranscodeError::WireType {
            message: "ExponentialHistogramDataPoint",
            field: "scale",
            ..
        })
    ));
}

// ---- allocation --------------------------------------------------------------------

#[test]
fn encoding_a_warm_batch_allocates_nothing() {
    let resource = Arc::new(Resource::new([KeyValue::new("service.name", "alloc")]));
    let other = Arc::new(Resource::new([KeyValue::new("service.name", "other")]));
    let metrics: Vec<Metric> = (0..200)
        .flat_map(|i| {
            let resource = Arc::clone(if i % 7 == 0 { &other } else { &resource });
            [
                delta_counter().with_resource(resource.clone()),
                histogram().with_resource(resource.clone()),
                exponential_histogram().with_resource(resource.clone()),
                summary().with_resource(resource),
            ]
        })
        .collect();
    let mut encoder = MetricEncoder::new();
    let mut protobuf = Vec::new();
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let mut body = Vec::new();
        encoder.encode(encoding, &metrics, &mut body);
        let warm_len = body.len();
        for round in 0..3 {
            body.clear();
            let (allocations, _) =
                allocations_during(|| encoder.encode(encoding, &metrics, &mut body));
            assert_eq!(allocations, 0, "{encoding:?} round {round} allocated");
            assert_eq!(body.len(), warm_len);
        }
        if encoding == Encoding::Protobuf {
            protobuf = body;
        }
    }
    let mut json = Vec::new();
    metrics_request_to_json(&protobuf, &mut json).unwrap();
    json.clear();
    let (allocations, _) = allocations_during(|| metrics_request_to_json(&protobuf, &mut json));
    assert_eq!(allocations, 0, "a warm transcode allocated");
}

// ---- properties --------------------------------------------------------------------

/// Doubles of every class, NaN included.
fn arb_any_double() -> impl Strategy<Value = f64> {
    prop_oneof![9 => arb_double(), 1 => Just(f64::NAN), 1 => Just(-0.0)]
}

fn arb_number_value() -> impl Strategy<Value = NumberValue> {
    prop_oneof![
        any::<i64>().prop_map(NumberValue::Int),
        Just(NumberValue::Int(0)),
        arb_any_double().prop_map(NumberValue::Double),
    ]
}

fn arb_exemplar() -> impl Strategy<Value = Exemplar> {
    (
        arb_attributes(),
        arb_u64(),
        arb_number_value(),
        proptest::option::of(any::<[u8; 8]>()),
        proptest::option::of(any::<[u8; 16]>()),
    )
        .prop_map(|(filtered_attributes, time, value, span, trace)| Exemplar {
            filtered_attributes,
            time_unix_nano: time,
            value,
            span_id: span.map(SpanId::from_bytes),
            trace_id: trace.map(TraceId::from_bytes),
        })
}

fn arb_exemplars() -> impl Strategy<Value = Vec<Exemplar>> {
    vec(arb_exemplar(), 0..3)
}

fn arb_number_point() -> impl Strategy<Value = NumberDataPoint> {
    (
        arb_attributes(),
        arb_u64(),
        arb_u64(),
        arb_number_value(),
        arb_exemplars(),
        arb_u32(),
    )
        .prop_map(
            |(attributes, start, time, value, exemplars, flags)| NumberDataPoint {
                attributes,
                start_time_unix_nano: start,
                time_unix_nano: time,
                value,
                exemplars,
                flags,
            },
        )
}

fn arb_optional_double() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![Just(None), Just(Some(0.0)), arb_any_double().prop_map(Some)]
}

fn arb_histogram_point() -> impl Strategy<Value = HistogramDataPoint> {
    let times = (arb_attributes(), arb_u64(), arb_u64(), arb_u64());
    let values = (
        arb_optional_double(),
        vec(arb_u64(), 0..6),
        vec(arb_any_double(), 0..5),
        arb_optional_double(),
        arb_optional_double(),
    );
    (times, values, arb_exemplars(), arb_u32()).prop_map(
        |((attributes, start, time, count), (sum, buckets, bounds, min, max), exemplars, flags)| {
            HistogramDataPoint {
                attributes,
                start_time_unix_nano: start,
                time_unix_nano: time,
                count,
                sum,
                bucket_counts: buckets,
                explicit_bounds: bounds,
                exemplars,
                flags,
                min,
                max,
            }
        },
    )
}

fn arb_buckets() -> impl Strategy<Value = ExponentialBuckets> {
    (
        prop_oneof![Just(0), -200i32..200, any::<i32>()],
        vec(prop_oneof![Just(0u64), 0u64..1_000, any::<u64>()], 0..8),
    )
        .prop_map(|(offset, bucket_counts)| ExponentialBuckets {
            offset,
            bucket_counts,
        })
}

fn arb_exponential_point() -> impl Strategy<Value = ExponentialHistogramDataPoint> {
    let times = (arb_attributes(), arb_u64(), arb_u64(), arb_u64());
    let shape = (
        prop_oneof![-10i32..=20, any::<i32>()],
        arb_u64(),
        arb_buckets(),
        arb_buckets(),
    );
    let rest = (
        arb_optional_double(),
        arb_u32(),
        arb_exemplars(),
        (arb_optional_double(), arb_optional_double()),
        prop_oneof![Just(0.0), arb_any_double()],
    );
    (times, shape, rest).prop_map(
        |(
            (attributes, start, time, count),
            (scale, zero_count, positive, negative),
            (sum, flags, exemplars, (min, max), zero_threshold),
        )| ExponentialHistogramDataPoint {
            attributes,
            start_time_unix_nano: start,
            time_unix_nano: time,
            count,
            sum,
            scale,
            zero_count,
            positive,
            negative,
            flags,
            exemplars,
            min,
            max,
            zero_threshold,
        },
    )
}

fn arb_summary_point() -> impl Strategy<Value = SummaryDataPoint> {
    let quantile = (arb_any_double(), arb_any_double())
        .prop_map(|(quantile, value)| ValueAtQuantile { quantile, value });
    (
        arb_attributes(),
        arb_u64(),
        arb_u64(),
        arb_u64(),
        prop_oneof![Just(0.0), arb_any_double()],
        vec(quantile, 0..4),
        arb_u32(),
    )
        .prop_map(
            |(attributes, start, time, count, sum, quantile_values, flags)| SummaryDataPoint {
                attributes,
                start_time_unix_nano: start,
                time_unix_nano: time,
                count,
                sum,
                quantile_values,
                flags,
            },
        )
}

fn arb_temporality() -> impl Strategy<Value = Temporality> {
    prop_oneof![
        Just(Temporality::Unspecified),
        Just(Temporality::Delta),
        Just(Temporality::Cumulative),
    ]
}

fn arb_data() -> impl Strategy<Value = MetricData> {
    prop_oneof![
        vec(arb_number_point(), 0..4)
            .prop_map(|data_points| MetricData::Gauge(Gauge { data_points })),
        (
            vec(arb_number_point(), 0..4),
            arb_temporality(),
            any::<bool>()
        )
            .prop_map(
                |(data_points, temporality, is_monotonic)| MetricData::Sum(Sum {
                    data_points,
                    temporality,
                    is_monotonic,
                })
            ),
        (vec(arb_histogram_point(), 0..3), arb_temporality()).prop_map(
            |(data_points, temporality)| MetricData::Histogram(Histogram {
                data_points,
                temporality,
            })
        ),
        (vec(arb_exponential_point(), 0..3), arb_temporality()).prop_map(
            |(data_points, temporality)| {
                MetricData::ExponentialHistogram(ExponentialHistogram {
                    data_points,
                    temporality,
                })
            }
        ),
        vec(arb_summary_point(), 0..3)
            .prop_map(|data_points| MetricData::Summary(Summary { data_points })),
    ]
}

fn arb_metric(
    resources: Vec<Arc<Resource>>,
    scopes: Vec<Arc<InstrumentationScope>>,
) -> impl Strategy<Value = Metric> {
    let identity = (arb_str(), arb_str(), arb_str(), arb_attributes());
    let group = (0..resources.len(), 0..scopes.len());
    (identity, arb_data(), group).prop_map(
        move |((name, description, unit, metadata), data, (r, s))| Metric {
            name,
            description,
            unit,
            data,
            metadata,
            resource: resources[r].clone(),
            scope: scopes[s].clone(),
        },
    )
}

fn arb_metrics(max: usize) -> impl Strategy<Value = Vec<Metric>> {
    arb_groups()
        .prop_flat_map(move |(resources, scopes)| vec(arb_metric(resources, scopes), 0..max))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_batches_round_trip_through_protobuf_frame_and_transcode(metrics in arb_metrics(6)) {
        check_protobuf(&metrics);
    }

    #[test]
    fn random_batches_round_trip_through_serde(metrics in arb_metrics(6)) {
        let metrics: Vec<Metric> = metrics.iter().map(finite_metric).collect();
        check_json(&metrics);
    }

    #[test]
    fn a_random_metric_decodes_alone_as_its_metric(metrics in arb_metrics(4)) {
        for metric in &metrics {
            let mut bytes = Vec::new();
            record::encode_metric(metric, &mut bytes);
            prop_assert_eq!(bytes.len(), record::metric_len(metric));
            let decoded = pm::Metric::decode(bytes.as_slice()).expect("a Metric");
            assert_same(&decoded, &expected_metric(metric), "record");
            prop_assert_eq!(bytes, decoded.encode_to_vec(), "prost's bytes");
        }
    }

    #[test]
    fn random_splits_fit_and_cover_every_metric_once(
        metrics in arb_metrics(12),
        limit in 64usize..4_096,
        json in any::<bool>(),
    ) {
        let encoding = if json { Encoding::Json } else { Encoding::Protobuf };
        let mut encoder = MetricEncoder::new();
        let mut covered = 0;
        for chunk in encoder.split(&metrics, limit, encoding) {
            match chunk {
                Chunk::Fits(range) => {
                    prop_assert_eq!(range.start, covered);
                    covered = range.end;
                    let mut body = Vec::new();
                    encoder.encode(encoding, &metrics[range], &mut body);
                    prop_assert!(body.len() <= limit);
                }
                Chunk::Oversized(index) => {
                    prop_assert_eq!(index, covered);
                    covered += 1;
                    let mut body = Vec::new();
                    encoder.encode(encoding, &metrics[index..=index], &mut body);
                    prop_assert!(body.len() > limit, "oversized only when it is");
                }
            }
        }
        prop_assert_eq!(covered, metrics.len());
    }
}

// ---- hostile input -------------------------------------------------------------

/// Hostile bytes: an error with `out` untouched, or valid JSON of bytes that
/// prost reads too, which reads (through serde) as prost reads the bytes,
/// and `count_data_points` counts what prost decodes. Non-finite doubles,
/// which opentelemetry-proto's serde cannot read, are left out of the JSON
/// comparison.
fn check_hostile(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut out = b"kept".to_vec();
    match metrics_request_to_json(bytes, &mut out) {
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
    let decoded = ExportMetricsServiceRequest::decode(bytes).map_err(|error| {
        TestCaseError::fail(format!("transcoded, but prost refuses it: {error}"))
    })?;
    prop_assert_eq!(count_data_points(bytes), Ok(prost_data_points(&decoded)));
    if text.contains("\"NaN\"") || text.contains("Infinity\"") {
        return Ok(());
    }
    let from_json: ExportMetricsServiceRequest = serde_json::from_slice(json)
        .map_err(|error| TestCaseError::fail(format!("serde rejects {text}: {error}")))?;
    assert_same(&from_json, &decoded, "JSON read back");
    Ok(())
}

fn encoded_metrics() -> impl Strategy<Value = Vec<u8>> {
    arb_metrics(3).prop_map(|metrics| {
        let mut body = Vec::new();
        MetricEncoder::new().encode_protobuf(&metrics, &mut body);
        body
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn mutated_metrics_requests_are_an_error_or_json_that_reads_as_prost_reads_them(
        bytes in mutated(encoded_metrics(), DICTIONARY)
    ) {
        check_hostile(&bytes)?;
    }

    #[test]
    fn arbitrary_bytes_are_an_error_or_valid_json(bytes in vec(any::<u8>(), 0..256)) {
        check_hostile(&bytes)?;
    }
}
