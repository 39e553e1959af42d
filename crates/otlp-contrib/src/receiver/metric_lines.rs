//! Metrics of a request as one readable line per data point: what
//! `otlp-receiver` prints for metrics, and handy in a failing test.

use std::fmt::Write;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogramDataPoint, HistogramDataPoint, Metric,
    NumberDataPoint, SummaryDataPoint, metric, number_data_point,
};
use prost::Message;

use super::export_request::data_point_count;
use super::log_lines::key_value;
use super::render_limits::{RenderBudget, clip};
use super::tree::service_name;

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`: the point stands for a gap.
const FLAG_NO_RECORDED_VALUE: u32 = 1;

/// Renders the metrics of one request, one line per data point, in order:
///
/// ```text
///   checkout http.requests sum(cumulative, monotonic) 42 route="/cart"
///   checkout queue.depth gauge 3.5
///   checkout http.duration[ms] histogram(delta) count=3 sum=12.5 min=1 max=8 bounds=[5, 10] buckets=[1, 2, 0] method="GET"
///   checkout rpc.duration[s] exponential_histogram(cumulative) count=4 sum=2.25 scale=3 zero_count=1
///   checkout gc.pause summary count=10 sum=0.3 q0.5=0.02 q0.99=0.09
///   checkout idle gauge (no data points)
/// ```
///
/// Each line is the resource's `service.name` (`?` when missing), the metric
/// name with its unit in brackets, the kind (with the aggregation temporality
/// and, for sums, monotonicity), the value — a number for gauges and sums;
/// `count`, `sum` (when set) and the shape's own fields for histograms and
/// summaries — then the point's attributes as `key=value`, and
/// `(no recorded value)` for a point flagged so. A metric without data
/// points gets one line that says so.
///
/// The text stays proportional to the request: service names, metric names
/// and units are cut after 256 characters (`…`), and past 8 times the
/// request's encoded size (at least 16 KiB) the remaining data points are
/// left out, with a last line that says so.
pub fn render_metrics(request: &ExportMetricsServiceRequest) -> String {
    let total = request
        .resource_metrics
        .iter()
        .flat_map(|resource| &resource.scope_metrics)
        .flat_map(|scope| &scope.metrics)
        .map(|metric| data_point_count(metric) as u64)
        .sum();
    let mut budget = RenderBudget::new(request.encoded_len(), total);
    let mut out = String::new();
    'resources: for resource in &request.resource_metrics {
        let service = clip(service_name(resource.resource.as_ref()));
        for metric in resource
            .scope_metrics
            .iter()
            .flat_map(|scope| &scope.metrics)
        {
            if !budget.admits(&out) {
                break 'resources;
            }
            render_metric(&mut out, &service, metric, &mut budget);
        }
    }
    budget.finish(&mut out, "data points");
    out
}

/// Writes one line per point with `line`, while the budget admits lines.
fn each_point<P>(
    out: &mut String,
    budget: &mut RenderBudget,
    points: &[P],
    mut line: impl FnMut(&mut String, &P),
) {
    for point in points {
        if !budget.admits(out) {
            return;
        }
        line(out, point);
        budget.count(1);
    }
}

fn render_metric(out: &mut String, service: &str, metric: &Metric, budget: &mut RenderBudget) {
    let mut head = format!("  {service} {}", clip(&metric.name));
    if !metric.unit.is_empty() {
        let _ = write!(head, "[{}]", clip(&metric.unit));
    }
    let before = out.len();
    match &metric.data {
        None => {
            let _ = writeln!(out, "{head} - (no data)");
        }
        Some(metric::Data::Gauge(gauge)) => {
            let kind = "gauge";
            each_point(out, budget, &gauge.data_points, |out, point| {
                number_line(out, &head, kind, point)
            });
        }
        Some(metric::Data::Sum(sum)) => {
            let temporality = temporality(sum.aggregation_temporality);
            let kind = if sum.is_monotonic {
                format!("sum({temporality}, monotonic)")
            } else {
                format!("sum({temporality})")
            };
            each_point(out, budget, &sum.data_points, |out, point| {
                number_line(out, &head, &kind, point)
            });
        }
        Some(metric::Data::Histogram(histogram)) => {
            let kind = format!(
                "histogram({})",
                temporality(histogram.aggregation_temporality)
            );
            each_point(out, budget, &histogram.data_points, |out, point| {
                histogram_line(out, &head, &kind, point)
            });
        }
        Some(metric::Data::ExponentialHistogram(histogram)) => {
            let kind = format!(
                "exponential_histogram({})",
                temporality(histogram.aggregation_temporality)
            );
            each_point(out, budget, &histogram.data_points, |out, point| {
                exponential_line(out, &head, &kind, point)
            });
        }
        Some(metric::Data::Summary(summary)) => {
            each_point(out, budget, &summary.data_points, |out, point| {
                summary_line(out, &head, point)
            });
        }
    }
    // A metric without points says so, unless the budget stopped its points.
    if out.len() == before && data_point_count(metric) == 0 {
        let _ = writeln!(out, "{head} {} (no data points)", kind_name(metric));
    }
}

/// The kind without temporality, for a metric with no data points.
fn kind_name(metric: &Metric) -> &'static str {
    match &metric.data {
        Some(metric::Data::Gauge(_)) => "gauge",
        Some(metric::Data::Sum(_)) => "sum",
        Some(metric::Data::Histogram(_)) => "histogram",
        Some(metric::Data::ExponentialHistogram(_)) => "exponential_histogram",
        Some(metric::Data::Summary(_)) => "summary",
        None => "-",
    }
}

/// `delta`, `cumulative`, or `unspecified` (0 and unknown values).
fn temporality(value: i32) -> &'static str {
    match AggregationTemporality::try_from(value) {
        Ok(AggregationTemporality::Delta) => "delta",
        Ok(AggregationTemporality::Cumulative) => "cumulative",
        _ => "unspecified",
    }
}

fn number_line(out: &mut String, head: &str, kind: &str, point: &NumberDataPoint) {
    let _ = write!(out, "{head} {kind} ");
    match point.value {
        Some(number_data_point::Value::AsInt(value)) => {
            let _ = write!(out, "{value}");
        }
        Some(number_data_point::Value::AsDouble(value)) => {
            let _ = write!(out, "{value}");
        }
        None => out.push('-'),
    }
    line_end(out, &point.attributes, point.flags);
}

fn histogram_line(out: &mut String, head: &str, kind: &str, point: &HistogramDataPoint) {
    let _ = write!(out, "{head} {kind} count={}", point.count);
    optional(out, "sum", point.sum);
    optional(out, "min", point.min);
    optional(out, "max", point.max);
    out.push_str(" bounds=");
    list(out, &point.explicit_bounds);
    out.push_str(" buckets=");
    list(out, &point.bucket_counts);
    line_end(out, &point.attributes, point.flags);
}

fn exponential_line(
    out: &mut String,
    head: &str,
    kind: &str,
    point: &ExponentialHistogramDataPoint,
) {
    let _ = write!(out, "{head} {kind} count={}", point.count);
    optional(out, "sum", point.sum);
    optional(out, "min", point.min);
    optional(out, "max", point.max);
    let _ = write!(
        out,
        " scale={} zero_count={}",
        point.scale, point.zero_count
    );
    line_end(out, &point.attributes, point.flags);
}

fn summary_line(out: &mut String, head: &str, point: &SummaryDataPoint) {
    let _ = write!(
        out,
        "{head} summary count={} sum={}",
        point.count, point.sum
    );
    for quantile in &point.quantile_values {
        let _ = write!(out, " q{}={}", quantile.quantile, quantile.value);
    }
    line_end(out, &point.attributes, point.flags);
}

fn optional(out: &mut String, name: &str, value: Option<f64>) {
    if let Some(value) = value {
        let _ = write!(out, " {name}={value}");
    }
}

fn list<T: std::fmt::Display>(out: &mut String, values: &[T]) {
    out.push('[');
    for (index, value) in values.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{value}");
    }
    out.push(']');
}

/// The attributes, the no-recorded-value mark and the newline.
fn line_end(out: &mut String, attributes: &[KeyValue], flags: u32) {
    for attribute in attributes {
        out.push(' ');
        key_value(out, attribute);
    }
    if flags & FLAG_NO_RECORDED_VALUE != 0 {
        out.push_str(" (no recorded value)");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::AnyValue;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
    use opentelemetry_proto::tonic::metrics::v1::{
        ExponentialHistogram, Gauge, Histogram, ResourceMetrics, ScopeMetrics, Sum, Summary,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;

    use super::*;

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn metric(name: &str, unit: &str, data: metric::Data) -> Metric {
        Metric {
            name: name.into(),
            unit: unit.into(),
            data: Some(data),
            ..Default::default()
        }
    }

    fn number(value: number_data_point::Value, attributes: Vec<KeyValue>) -> NumberDataPoint {
        NumberDataPoint {
            value: Some(value),
            attributes,
            ..Default::default()
        }
    }

    #[test]
    fn every_shape_prints_one_line_per_data_point() {
        let metrics = vec![
            metric(
                "http.requests",
                "",
                metric::Data::Sum(Sum {
                    data_points: vec![
                        number(
                            number_data_point::Value::AsInt(42),
                            vec![kv("route", Value::StringValue("/cart".into()))],
                        ),
                        number(number_data_point::Value::AsInt(7), Vec::new()),
                    ],
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                }),
            ),
            metric(
                "queue.depth",
                "",
                metric::Data::Gauge(Gauge {
                    data_points: vec![number(number_data_point::Value::AsDouble(3.5), Vec::new())],
                }),
            ),
            metric(
                "http.duration",
                "ms",
                metric::Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        count: 3,
                        sum: Some(12.5),
                        min: Some(1.0),
                        max: Some(8.0),
                        explicit_bounds: vec![5.0, 10.0],
                        bucket_counts: vec![1, 2, 0],
                        attributes: vec![kv("method", Value::StringValue("GET".into()))],
                        ..Default::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                }),
            ),
            metric(
                "rpc.duration",
                "s",
                metric::Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![ExponentialHistogramDataPoint {
                        count: 4,
                        sum: Some(2.25),
                        scale: 3,
                        zero_count: 1,
                        ..Default::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                }),
            ),
            metric(
                "gc.pause",
                "",
                metric::Data::Summary(Summary {
                    data_points: vec![SummaryDataPoint {
                        count: 10,
                        sum: 0.3,
                        quantile_values: vec![
                            ValueAtQuantile {
                                quantile: 0.5,
                                value: 0.02,
                            },
                            ValueAtQuantile {
                                quantile: 0.99,
                                value: 0.09,
                            },
                        ],
                        flags: FLAG_NO_RECORDED_VALUE,
                        ..Default::default()
                    }],
                }),
            ),
            metric(
                "idle",
                "",
                metric::Data::Gauge(Gauge {
                    data_points: Vec::new(),
                }),
            ),
            Metric {
                name: "shapeless".into(),
                ..Default::default()
            },
        ];
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", Value::StringValue("shop".into()))],
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let expected = [
            "  shop http.requests sum(cumulative, monotonic) 42 route=\"/cart\"",
            "  shop http.requests sum(cumulative, monotonic) 7",
            "  shop queue.depth gauge 3.5",
            "  shop http.duration[ms] histogram(delta) count=3 sum=12.5 min=1 max=8 bounds=[5, 10] buckets=[1, 2, 0] method=\"GET\"",
            "  shop rpc.duration[s] exponential_histogram(cumulative) count=4 sum=2.25 scale=3 zero_count=1",
            "  shop gc.pause summary count=10 sum=0.3 q0.5=0.02 q0.99=0.09 (no recorded value)",
            "  shop idle gauge (no data points)",
            "  shop shapeless - (no data)",
        ];
        assert_eq!(
            render_metrics(&request),
            expected.map(|line| format!("{line}\n")).concat()
        );
    }

    #[test]
    fn empty_points_under_long_names_render_in_bounded_text() {
        let long = "m".repeat(1024);
        let gauge = metric(
            &long,
            &long,
            metric::Data::Gauge(Gauge {
                data_points: vec![NumberDataPoint::default(); 10_000],
            }),
        );
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", Value::StringValue(long.clone()))],
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![gauge, Metric::default()],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let text = render_metrics(&request);
        let size = request.encoded_len();
        assert!(
            text.len() < 16 * size,
            "{} bytes of text for {size} bytes of request",
            text.len()
        );
        let clipped = format!("{}…", "m".repeat(256));
        assert_eq!(
            text.lines().next(),
            Some(format!("  {clipped} {clipped}[{clipped}] gauge -").as_str())
        );
        let last = text.lines().last().unwrap_or_default();
        assert!(
            last.contains("output truncated") && last.contains("of 10000 data points printed"),
            "{last}"
        );
        assert!(!text.contains("(no data"), "nothing past the budget");
    }

    #[test]
    fn control_characters_from_the_request_are_printed_escaped() {
        let hostile = "\u{1b}[2J\r\u{7}\u{9b}31m\nfinal requests=0";
        let gauge = metric(
            hostile,
            hostile,
            metric::Data::Gauge(Gauge {
                data_points: vec![number(
                    number_data_point::Value::AsInt(1),
                    vec![kv(hostile, Value::StringValue(hostile.into()))],
                )],
            }),
        );
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", Value::StringValue(hostile.into()))],
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![gauge],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let text = render_metrics(&request);
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        let escaped = "\\u{1b}[2J\\r\\u{7}\\u{9b}31m\\nfinal requests=0";
        assert_eq!(
            text,
            format!("  {escaped} {escaped}[{escaped}] gauge 1 {escaped}=\"{escaped}\"\n")
        );
    }

    #[test]
    fn unknown_temporalities_are_unspecified() {
        assert_eq!(temporality(0), "unspecified");
        assert_eq!(temporality(1), "delta");
        assert_eq!(temporality(2), "cumulative");
        assert_eq!(temporality(9), "unspecified");
    }
}
