//! Protobuf encoding of one `Metric` message and everything inside it.
//!
//! Field numbers and types follow `opentelemetry/proto/metrics/v1/metrics.proto`.
//! Fields are written in the order prost writes them, by field number, a
//! `oneof` at the place of its smallest member (`NumberDataPoint.as_int = 6`
//! comes before `exemplars = 5`, after `time_unix_nano = 3`), so the bytes
//! are prost's. Proto3 defaults are omitted (a `double` equal to `0.0`,
//! `-0.0` included, as prost compares); `optional double` (`sum`, `min`,
//! `max`) is written whenever it is `Some`, zero included; `oneof` members
//! (the metric's data, a point's value) are always written; repeated numbers
//! are packed; `ExponentialHistogramDataPoint.positive` and `negative` are
//! always written, as the Collector's and opentelemetry-rust's encoders do.
//!
//! Cost model: one pass over the fields to write; each nested message is
//! measured just before its length prefix, so a data point's attributes are
//! measured once for the point's prefix, once for the metric's data prefix
//! and once more by whoever measures the whole metric first.

use bytes::BufMut;

use super::{attributes_len, fixed64_len, put_attributes, put_fixed64, put_str, put_uint};
use super::{str_len, uint_len};
use crate::wire::{
    WIRE_FIXED64, WIRE_VARINT, len_field_len, put_bytes_field, put_len_prefix, put_tag, tag_len,
    varint_len,
};
use crate::{
    Exemplar, ExponentialBuckets, ExponentialHistogramDataPoint, HistogramDataPoint, Metric,
    MetricData, NumberDataPoint, NumberValue, SummaryDataPoint, ValueAtQuantile,
};

// `Metric` fields.
const METRIC_NAME: u32 = 1;
const METRIC_DESCRIPTION: u32 = 2;
const METRIC_UNIT: u32 = 3;
const METRIC_GAUGE: u32 = 5;
const METRIC_SUM: u32 = 7;
const METRIC_HISTOGRAM: u32 = 9;
const METRIC_EXPONENTIAL_HISTOGRAM: u32 = 10;
const METRIC_SUMMARY: u32 = 11;
const METRIC_METADATA: u32 = 12;

// `Gauge`, `Sum`, `Histogram`, `ExponentialHistogram`, `Summary`.
const DATA_POINTS: u32 = 1;
const AGGREGATION_TEMPORALITY: u32 = 2;
const SUM_IS_MONOTONIC: u32 = 3;

// ---- scalars -------------------------------------------------------------

fn double_len(field: u32, value: f64) -> usize {
    if value == 0.0 { 0 } else { tag_len(field) + 8 }
}

fn optional_double_len(field: u32, value: Option<f64>) -> usize {
    value.map_or(0, |_| tag_len(field) + 8)
}

/// `sint32`'s zigzag form: small magnitudes, either sign, are short varints.
fn zigzag(value: i32) -> u64 {
    u64::from(((value << 1) ^ (value >> 31)) as u32)
}

fn sint32_len(field: u32, value: i32) -> usize {
    uint_len(field, zigzag(value))
}

fn packed_fixed64_len(field: u32, count: usize) -> usize {
    if count == 0 {
        0
    } else {
        len_field_len(field, 8 * count)
    }
}

fn packed_varints_body_len(values: &[u64]) -> usize {
    values.iter().map(|&value| varint_len(value)).sum()
}

fn packed_varints_len(field: u32, values: &[u64]) -> usize {
    if values.is_empty() {
        0
    } else {
        len_field_len(field, packed_varints_body_len(values))
    }
}

/// Size of a `oneof value { double as_double = 3 or 4; sfixed64 as_int = 6; }`:
/// either member is eight bytes behind a one-byte tag.
const NUMBER_VALUE_LEN: usize = 1 + 8;

fn put_double<B: BufMut + ?Sized>(buf: &mut B, field: u32, value: f64) {
    if value != 0.0 {
        put_tag(buf, field, WIRE_FIXED64);
        buf.put_f64_le(value);
    }
}

fn put_optional_double<B: BufMut + ?Sized>(buf: &mut B, field: u32, value: Option<f64>) {
    if let Some(value) = value {
        put_tag(buf, field, WIRE_FIXED64);
        buf.put_f64_le(value);
    }
}

fn put_sint32<B: BufMut + ?Sized>(buf: &mut B, field: u32, value: i32) {
    put_uint(buf, field, zigzag(value));
}

fn put_number_value<B: BufMut + ?Sized>(buf: &mut B, double_field: u32, value: NumberValue) {
    match value {
        NumberValue::Double(double) => {
            put_tag(buf, double_field, WIRE_FIXED64);
            buf.put_f64_le(double);
        }
        NumberValue::Int(int) => {
            put_tag(buf, 6, WIRE_FIXED64);
            buf.put_i64_le(int);
        }
    }
}

fn put_packed_fixed64<B: BufMut + ?Sized>(buf: &mut B, field: u32, values: &[u64]) {
    if !values.is_empty() {
        put_len_prefix(buf, field, 8 * values.len());
        for &value in values {
            buf.put_u64_le(value);
        }
    }
}

fn put_packed_doubles<B: BufMut + ?Sized>(buf: &mut B, field: u32, values: &[f64]) {
    if !values.is_empty() {
        put_len_prefix(buf, field, 8 * values.len());
        for &value in values {
            buf.put_f64_le(value);
        }
    }
}

fn put_packed_varints<B: BufMut + ?Sized>(buf: &mut B, field: u32, values: &[u64]) {
    if !values.is_empty() {
        put_len_prefix(buf, field, packed_varints_body_len(values));
        for &value in values {
            crate::wire::put_varint(buf, value);
        }
    }
}

fn put_repeated<B, T>(
    buf: &mut B,
    field: u32,
    items: &[T],
    len: impl Fn(&T) -> usize,
    put: impl Fn(&mut B, &T),
) where
    B: BufMut + ?Sized,
{
    for item in items {
        put_len_prefix(buf, field, len(item));
        put(buf, item);
    }
}

fn repeated_len<T>(field: u32, items: &[T], len: impl Fn(&T) -> usize) -> usize {
    items
        .iter()
        .map(|item| len_field_len(field, len(item)))
        .sum()
}

// ---- exemplars -----------------------------------------------------------

fn exemplar_len(exemplar: &Exemplar) -> usize {
    let mut len = fixed64_len(2, exemplar.time_unix_nano);
    len += NUMBER_VALUE_LEN;
    if exemplar.span_id.is_some() {
        len += len_field_len(4, 8);
    }
    if exemplar.trace_id.is_some() {
        len += len_field_len(5, 16);
    }
    len + attributes_len(7, &exemplar.filtered_attributes)
}

fn put_exemplar<B: BufMut + ?Sized>(buf: &mut B, exemplar: &Exemplar) {
    put_fixed64(buf, 2, exemplar.time_unix_nano);
    put_number_value(buf, 3, exemplar.value);
    if let Some(span_id) = &exemplar.span_id {
        put_bytes_field(buf, 4, span_id.as_bytes());
    }
    if let Some(trace_id) = &exemplar.trace_id {
        put_bytes_field(buf, 5, trace_id.as_bytes());
    }
    put_attributes(buf, 7, &exemplar.filtered_attributes);
}

// ---- data points ---------------------------------------------------------

fn number_point_len(point: &NumberDataPoint) -> usize {
    fixed64_len(2, point.start_time_unix_nano)
        + fixed64_len(3, point.time_unix_nano)
        + NUMBER_VALUE_LEN
        + repeated_len(5, &point.exemplars, exemplar_len)
        + attributes_len(7, &point.attributes)
        + uint_len(8, u64::from(point.flags))
}

fn put_number_point<B: BufMut + ?Sized>(buf: &mut B, point: &NumberDataPoint) {
    put_fixed64(buf, 2, point.start_time_unix_nano);
    put_fixed64(buf, 3, point.time_unix_nano);
    put_number_value(buf, 4, point.value);
    put_repeated(buf, 5, &point.exemplars, exemplar_len, put_exemplar);
    put_attributes(buf, 7, &point.attributes);
    put_uint(buf, 8, u64::from(point.flags));
}

fn histogram_point_len(point: &HistogramDataPoint) -> usize {
    fixed64_len(2, point.start_time_unix_nano)
        + fixed64_len(3, point.time_unix_nano)
        + fixed64_len(4, point.count)
        + optional_double_len(5, point.sum)
        + packed_fixed64_len(6, point.bucket_counts.len())
        + packed_fixed64_len(7, point.explicit_bounds.len())
        + repeated_len(8, &point.exemplars, exemplar_len)
        + attributes_len(9, &point.attributes)
        + uint_len(10, u64::from(point.flags))
        + optional_double_len(11, point.min)
        + optional_double_len(12, point.max)
}

fn put_histogram_point<B: BufMut + ?Sized>(buf: &mut B, point: &HistogramDataPoint) {
    put_fixed64(buf, 2, point.start_time_unix_nano);
    put_fixed64(buf, 3, point.time_unix_nano);
    put_fixed64(buf, 4, point.count);
    put_optional_double(buf, 5, point.sum);
    put_packed_fixed64(buf, 6, &point.bucket_counts);
    put_packed_doubles(buf, 7, &point.explicit_bounds);
    put_repeated(buf, 8, &point.exemplars, exemplar_len, put_exemplar);
    put_attributes(buf, 9, &point.attributes);
    put_uint(buf, 10, u64::from(point.flags));
    put_optional_double(buf, 11, point.min);
    put_optional_double(buf, 12, point.max);
}

fn buckets_len(buckets: &ExponentialBuckets) -> usize {
    sint32_len(1, buckets.offset) + packed_varints_len(2, &buckets.bucket_counts)
}

fn put_buckets<B: BufMut + ?Sized>(buf: &mut B, field: u32, buckets: &ExponentialBuckets) {
    put_len_prefix(buf, field, buckets_len(buckets));
    put_sint32(buf, 1, buckets.offset);
    put_packed_varints(buf, 2, &buckets.bucket_counts);
}

fn exponential_point_len(point: &ExponentialHistogramDataPoint) -> usize {
    attributes_len(1, &point.attributes)
        + fixed64_len(2, point.start_time_unix_nano)
        + fixed64_len(3, point.time_unix_nano)
        + fixed64_len(4, point.count)
        + optional_double_len(5, point.sum)
        + sint32_len(6, point.scale)
        + fixed64_len(7, point.zero_count)
        + len_field_len(8, buckets_len(&point.positive))
        + len_field_len(9, buckets_len(&point.negative))
        + uint_len(10, u64::from(point.flags))
        + repeated_len(11, &point.exemplars, exemplar_len)
        + optional_double_len(12, point.min)
        + optional_double_len(13, point.max)
        + double_len(14, point.zero_threshold)
}

fn put_exponential_point<B: BufMut + ?Sized>(buf: &mut B, point: &ExponentialHistogramDataPoint) {
    put_attributes(buf, 1, &point.attributes);
    put_fixed64(buf, 2, point.start_time_unix_nano);
    put_fixed64(buf, 3, point.time_unix_nano);
    put_fixed64(buf, 4, point.count);
    put_optional_double(buf, 5, point.sum);
    put_sint32(buf, 6, point.scale);
    put_fixed64(buf, 7, point.zero_count);
    put_buckets(buf, 8, &point.positive);
    put_buckets(buf, 9, &point.negative);
    put_uint(buf, 10, u64::from(point.flags));
    put_repeated(buf, 11, &point.exemplars, exemplar_len, put_exemplar);
    put_optional_double(buf, 12, point.min);
    put_optional_double(buf, 13, point.max);
    put_double(buf, 14, point.zero_threshold);
}

fn quantile_len(quantile: &ValueAtQuantile) -> usize {
    double_len(1, quantile.quantile) + double_len(2, quantile.value)
}

fn put_quantile<B: BufMut + ?Sized>(buf: &mut B, quantile: &ValueAtQuantile) {
    put_double(buf, 1, quantile.quantile);
    put_double(buf, 2, quantile.value);
}

fn summary_point_len(point: &SummaryDataPoint) -> usize {
    fixed64_len(2, point.start_time_unix_nano)
        + fixed64_len(3, point.time_unix_nano)
        + fixed64_len(4, point.count)
        + double_len(5, point.sum)
        + repeated_len(6, &point.quantile_values, quantile_len)
        + attributes_len(7, &point.attributes)
        + uint_len(8, u64::from(point.flags))
}

fn put_summary_point<B: BufMut + ?Sized>(buf: &mut B, point: &SummaryDataPoint) {
    put_fixed64(buf, 2, point.start_time_unix_nano);
    put_fixed64(buf, 3, point.time_unix_nano);
    put_fixed64(buf, 4, point.count);
    put_double(buf, 5, point.sum);
    put_repeated(buf, 6, &point.quantile_values, quantile_len, put_quantile);
    put_attributes(buf, 7, &point.attributes);
    put_uint(buf, 8, u64::from(point.flags));
}

// ---- the metric ----------------------------------------------------------

/// The `Metric` field holding `data` and the length of that message's body.
fn data_field_and_len(data: &MetricData) -> (u32, usize) {
    match data {
        MetricData::Gauge(gauge) => (
            METRIC_GAUGE,
            repeated_len(DATA_POINTS, &gauge.data_points, number_point_len),
        ),
        MetricData::Sum(sum) => (
            METRIC_SUM,
            repeated_len(DATA_POINTS, &sum.data_points, number_point_len)
                + uint_len(AGGREGATION_TEMPORALITY, sum.temporality.as_number() as u64)
                + uint_len(SUM_IS_MONOTONIC, u64::from(sum.is_monotonic)),
        ),
        MetricData::Histogram(histogram) => (
            METRIC_HISTOGRAM,
            repeated_len(DATA_POINTS, &histogram.data_points, histogram_point_len)
                + uint_len(
                    AGGREGATION_TEMPORALITY,
                    histogram.temporality.as_number() as u64,
                ),
        ),
        MetricData::ExponentialHistogram(histogram) => (
            METRIC_EXPONENTIAL_HISTOGRAM,
            repeated_len(DATA_POINTS, &histogram.data_points, exponential_point_len)
                + uint_len(
                    AGGREGATION_TEMPORALITY,
                    histogram.temporality.as_number() as u64,
                ),
        ),
        MetricData::Summary(summary) => (
            METRIC_SUMMARY,
            repeated_len(DATA_POINTS, &summary.data_points, summary_point_len),
        ),
    }
}

/// Length of one `Metric` message body.
pub(in crate::encode) fn metric_len(metric: &Metric) -> usize {
    let (data_field, data_len) = data_field_and_len(&metric.data);
    str_len(METRIC_NAME, &metric.name)
        + str_len(METRIC_DESCRIPTION, &metric.description)
        + str_len(METRIC_UNIT, &metric.unit)
        + len_field_len(data_field, data_len)
        + attributes_len(METRIC_METADATA, &metric.metadata)
}

/// Writes one `Metric` message body (no tag, no length prefix).
pub(in crate::encode) fn put_metric<B: BufMut + ?Sized>(buf: &mut B, metric: &Metric) {
    put_str(buf, METRIC_NAME, &metric.name);
    put_str(buf, METRIC_DESCRIPTION, &metric.description);
    put_str(buf, METRIC_UNIT, &metric.unit);
    let (data_field, data_len) = data_field_and_len(&metric.data);
    put_len_prefix(buf, data_field, data_len);
    match &metric.data {
        MetricData::Gauge(gauge) => {
            put_repeated(
                buf,
                DATA_POINTS,
                &gauge.data_points,
                number_point_len,
                put_number_point,
            );
        }
        MetricData::Sum(sum) => {
            put_repeated(
                buf,
                DATA_POINTS,
                &sum.data_points,
                number_point_len,
                put_number_point,
            );
            put_uint(
                buf,
                AGGREGATION_TEMPORALITY,
                sum.temporality.as_number() as u64,
            );
            if sum.is_monotonic {
                put_tag(buf, SUM_IS_MONOTONIC, WIRE_VARINT);
                buf.put_u8(1);
            }
        }
        MetricData::Histogram(histogram) => {
            put_repeated(
                buf,
                DATA_POINTS,
                &histogram.data_points,
                histogram_point_len,
                put_histogram_point,
            );
            put_uint(
                buf,
                AGGREGATION_TEMPORALITY,
                histogram.temporality.as_number() as u64,
            );
        }
        MetricData::ExponentialHistogram(histogram) => {
            put_repeated(
                buf,
                DATA_POINTS,
                &histogram.data_points,
                exponential_point_len,
                put_exponential_point,
            );
            put_uint(
                buf,
                AGGREGATION_TEMPORALITY,
                histogram.temporality.as_number() as u64,
            );
        }
        MetricData::Summary(summary) => {
            put_repeated(
                buf,
                DATA_POINTS,
                &summary.data_points,
                summary_point_len,
                put_summary_point,
            );
        }
    }
    put_attributes(buf, METRIC_METADATA, &metric.metadata);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_is_sint32s() {
        for (value, expected) in [(0, 0), (-1, 1), (1, 2), (-2, 3), (i32::MAX, 0xffff_fffe)] {
            assert_eq!(zigzag(value), expected, "{value}");
        }
        assert_eq!(zigzag(i32::MIN), 0xffff_ffff);
    }
}
