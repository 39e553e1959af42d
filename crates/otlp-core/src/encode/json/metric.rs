//! OTLP/JSON of one `Metric` and everything inside it.
//!
//! The rules of the parent module: lowerCamelCase keys in the order of
//! `metrics.proto`'s declarations (a `oneof` member where the `oneof` is
//! declared), 64-bit integers (`count`, `zeroCount`, `asInt`, times, each
//! bucket count) as decimal strings, `aggregationTemporality` as its enum
//! number, ids as hex, doubles as numbers or `"NaN"`, `"Infinity"`,
//! `"-Infinity"`. What protobuf omits JSON omits (defaults, `0.0` doubles,
//! empty lists); what protobuf writes JSON writes (`optional` doubles when
//! set, zero included; the value `oneof`; both exponential bucket sets).

use super::{Object, put_display, put_double, put_key_values, put_list};
use crate::{
    Exemplar, ExponentialBuckets, ExponentialHistogramDataPoint, HistogramDataPoint, Metric,
    MetricData, NumberDataPoint, NumberValue, SummaryDataPoint, Temporality, ValueAtQuantile,
};

impl Object<'_> {
    /// A `double` field: omitted when `0.0`, as in protobuf.
    fn double(&mut self, key: &str, value: f64) {
        if value != 0.0 {
            put_double(self.key(key), value);
        }
    }

    /// An `optional double`: written whenever set.
    fn optional_double(&mut self, key: &str, value: Option<f64>) {
        if let Some(value) = value {
            put_double(self.key(key), value);
        }
    }

    /// A `sint32` or `int32` field: a number, omitted when zero.
    fn int(&mut self, key: &str, value: i32) {
        if value != 0 {
            put_display(self.key(key), value);
        }
    }

    /// `asDouble` or `asInt` (a decimal string, as every 64-bit integer).
    fn number_value(&mut self, value: NumberValue) {
        match value {
            NumberValue::Double(double) => put_double(self.key("asDouble"), double),
            NumberValue::Int(int) => put_quoted(self.key("asInt"), int),
        }
    }

    /// Repeated 64-bit integers: an array of decimal strings, omitted when empty.
    fn uint64s(&mut self, key: &str, values: &[u64]) {
        if !values.is_empty() {
            put_list(self.key(key), values, |out, &value| put_quoted(out, value));
        }
    }

    fn doubles(&mut self, key: &str, values: &[f64]) {
        if !values.is_empty() {
            put_list(self.key(key), values, |out, &value| put_double(out, value));
        }
    }

    fn list<T>(&mut self, key: &str, items: &[T], put: impl FnMut(&mut Vec<u8>, &T)) {
        if !items.is_empty() {
            put_list(self.key(key), items, put);
        }
    }

    fn temporality(&mut self, temporality: Temporality) {
        self.int("aggregationTemporality", temporality.as_number());
    }
}

fn put_quoted(out: &mut Vec<u8>, value: impl std::fmt::Display) {
    out.push(b'"');
    put_display(out, value);
    out.push(b'"');
}

fn put_exemplar(out: &mut Vec<u8>, exemplar: &Exemplar) {
    let mut object = Object::open(out);
    object.attributes("filteredAttributes", &exemplar.filtered_attributes);
    object.uint64("timeUnixNano", exemplar.time_unix_nano);
    object.number_value(exemplar.value);
    if let Some(span_id) = &exemplar.span_id {
        object.hex("spanId", span_id.as_bytes());
    }
    if let Some(trace_id) = &exemplar.trace_id {
        object.hex("traceId", trace_id.as_bytes());
    }
    object.close();
}

fn put_number_point(out: &mut Vec<u8>, point: &NumberDataPoint) {
    let mut object = Object::open(out);
    object.attributes("attributes", &point.attributes);
    object.uint64("startTimeUnixNano", point.start_time_unix_nano);
    object.uint64("timeUnixNano", point.time_unix_nano);
    object.number_value(point.value);
    object.list("exemplars", &point.exemplars, put_exemplar);
    object.uint("flags", point.flags);
    object.close();
}

fn put_histogram_point(out: &mut Vec<u8>, point: &HistogramDataPoint) {
    let mut object = Object::open(out);
    object.attributes("attributes", &point.attributes);
    object.uint64("startTimeUnixNano", point.start_time_unix_nano);
    object.uint64("timeUnixNano", point.time_unix_nano);
    object.uint64("count", point.count);
    object.optional_double("sum", point.sum);
    object.uint64s("bucketCounts", &point.bucket_counts);
    object.doubles("explicitBounds", &point.explicit_bounds);
    object.list("exemplars", &point.exemplars, put_exemplar);
    object.uint("flags", point.flags);
    object.optional_double("min", point.min);
    object.optional_double("max", point.max);
    object.close();
}

fn put_buckets(out: &mut Vec<u8>, buckets: &ExponentialBuckets) {
    let mut object = Object::open(out);
    object.int("offset", buckets.offset);
    object.uint64s("bucketCounts", &buckets.bucket_counts);
    object.close();
}

fn put_exponential_point(out: &mut Vec<u8>, point: &ExponentialHistogramDataPoint) {
    let mut object = Object::open(out);
    object.attributes("attributes", &point.attributes);
    object.uint64("startTimeUnixNano", point.start_time_unix_nano);
    object.uint64("timeUnixNano", point.time_unix_nano);
    object.uint64("count", point.count);
    object.optional_double("sum", point.sum);
    object.int("scale", point.scale);
    object.uint64("zeroCount", point.zero_count);
    put_buckets(object.key("positive"), &point.positive);
    put_buckets(object.key("negative"), &point.negative);
    object.uint("flags", point.flags);
    object.list("exemplars", &point.exemplars, put_exemplar);
    object.optional_double("min", point.min);
    object.optional_double("max", point.max);
    object.double("zeroThreshold", point.zero_threshold);
    object.close();
}

fn put_quantile(out: &mut Vec<u8>, quantile: &ValueAtQuantile) {
    let mut object = Object::open(out);
    object.double("quantile", quantile.quantile);
    object.double("value", quantile.value);
    object.close();
}

fn put_summary_point(out: &mut Vec<u8>, point: &SummaryDataPoint) {
    let mut object = Object::open(out);
    object.attributes("attributes", &point.attributes);
    object.uint64("startTimeUnixNano", point.start_time_unix_nano);
    object.uint64("timeUnixNano", point.time_unix_nano);
    object.uint64("count", point.count);
    object.double("sum", point.sum);
    object.list("quantileValues", &point.quantile_values, put_quantile);
    object.uint("flags", point.flags);
    object.close();
}

/// Writes the metric's data under its `oneof` member's key.
fn put_data(object: &mut Object<'_>, data: &MetricData) {
    match data {
        MetricData::Gauge(gauge) => {
            let mut inner = Object::open(object.key("gauge"));
            inner.list("dataPoints", &gauge.data_points, put_number_point);
            inner.close();
        }
        MetricData::Sum(sum) => {
            let mut inner = Object::open(object.key("sum"));
            inner.list("dataPoints", &sum.data_points, put_number_point);
            inner.temporality(sum.temporality);
            if sum.is_monotonic {
                inner.key("isMonotonic").extend_from_slice(b"true");
            }
            inner.close();
        }
        MetricData::Histogram(histogram) => {
            let mut inner = Object::open(object.key("histogram"));
            inner.list("dataPoints", &histogram.data_points, put_histogram_point);
            inner.temporality(histogram.temporality);
            inner.close();
        }
        MetricData::ExponentialHistogram(histogram) => {
            let mut inner = Object::open(object.key("exponentialHistogram"));
            inner.list("dataPoints", &histogram.data_points, put_exponential_point);
            inner.temporality(histogram.temporality);
            inner.close();
        }
        MetricData::Summary(summary) => {
            let mut inner = Object::open(object.key("summary"));
            inner.list("dataPoints", &summary.data_points, put_summary_point);
            inner.close();
        }
    }
}

/// Writes one metric as a JSON object.
pub(in crate::encode) fn put_metric(out: &mut Vec<u8>, metric: &Metric) {
    let mut object = Object::open(out);
    object.string("name", &metric.name);
    object.string("description", &metric.description);
    object.string("unit", &metric.unit);
    put_data(&mut object, &metric.data);
    if !metric.metadata.is_empty() {
        put_key_values(object.key("metadata"), &metric.metadata);
    }
    object.close();
}
