//! [`MetricConverter`]: one `opentelemetry_sdk` collection
//! (`ResourceMetrics`) into `otlp_core` metrics.
//!
//! Cost model: a collection is converted once per export interval, on the
//! reader's thread, so this is not a hot path per measurement but per data
//! point. Per collection: the resource once (attributes copied), each scope
//! once (one `Arc` shared by the scope's metrics). Per metric: its name,
//! description and unit copied (inline up to 23 bytes, the SDK's accessors
//! do not say whether the text is `'static`). Per data point: one allocation
//! for a non-empty attribute list, one per string value longer than 23
//! bytes, keys longer than 23 bytes shared through the bridge's bounded
//! interning table, bucket counts and bounds copied into one `Vec` each.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::Temporality as SdkTemporality;
use opentelemetry_sdk::metrics::data::{
    AggregatedMetrics, Exemplar as SdkExemplar, ExponentialBucket as SdkExponentialBucket,
    ExponentialHistogram as SdkExponentialHistogram, Gauge as SdkGauge, Histogram as SdkHistogram,
    Metric as SdkMetric, MetricData as SdkMetricData, ResourceMetrics, Sum as SdkSum,
};
use otlp_core::clock;
use otlp_core::{
    ExponentialBuckets, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, InstrumentationScope, Metric, MetricData, NumberDataPoint, NumberValue,
    Resource, SpanId, Str, Sum, Temporality, TraceId,
};

use super::intern::KeyInterner;
use super::scope_cache::convert_scope;
use super::value_convert::{INLINE_MAX, convert_resource, convert_value, str_from};

/// Converts what an `opentelemetry_sdk` metric reader collects
/// (`ResourceMetrics`: a resource, scope metrics, each metric's aggregated
/// data) into `otlp_core` [`Metric`]s, ready for
/// [`MetricEncoder`](otlp_core::encode::MetricEncoder). Used by
/// [`SdkMetricExporter`](super::SdkMetricExporter); public for benchmarks and
/// custom bridges.
///
/// What each field becomes (every field `opentelemetry-proto`'s own
/// conversion fills, with the same values, except where noted):
///
/// | `opentelemetry_sdk` | `otlp_core` |
/// |---|---|
/// | `ResourceMetrics::resource()` | one `Arc<Resource>` per collection (attributes, schema URL) shared by its metrics |
/// | `ScopeMetrics::scope()` | one `Arc<InstrumentationScope>` per scope metrics (name, version, schema URL, attributes) |
/// | name, description, unit | the same text |
/// | `MetricData::Gauge` | [`MetricData::Gauge`]; start time 0 when the gauge has none |
/// | `MetricData::Sum` | [`MetricData::Sum`] with its temporality and monotonicity |
/// | `MetricData::Histogram` | [`MetricData::Histogram`]: count, sum (always set), bucket counts, bounds, min, max |
/// | `MetricData::ExponentialHistogram` | [`MetricData::ExponentialHistogram`]: count, sum, scale, zero count and threshold, both bucket ranges, min, max |
/// | each metric's `start_time`, `time` | every data point's `start_time_unix_nano`, `time_unix_nano` (nanoseconds since the epoch, 0 before it) |
/// | `i64` values | [`NumberValue::Int`] |
/// | `u64` values | [`NumberValue::Int`], saturating at `i64::MAX` (`opentelemetry-proto` sends 0 past it) |
/// | `f64` values | [`NumberValue::Double`] |
/// | `u64`, `i64` histogram sums, mins, maxes | `f64`, as OTLP carries them |
/// | `Temporality::Delta`, `Cumulative` | [`Temporality::Delta`], [`Temporality::Cumulative`]; any other (the enum is non-exhaustive) cumulative, as `opentelemetry-proto` does |
/// | exemplars | filtered attributes, time, value; span and trace ids `None` when all zero (`opentelemetry-proto` sends the zero bytes) |
/// | data point flags | 0 |
///
/// `convert` takes `&self` and may run on many threads at once.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use opentelemetry::metrics::MeterProvider as _;
/// use opentelemetry_sdk::error::OTelSdkResult;
/// use opentelemetry_sdk::metrics::data::ResourceMetrics;
/// use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
/// use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
/// use otlp_contrib::bridge::MetricConverter;
///
/// /// Keeps each collection as `otlp_core` metrics.
/// #[derive(Clone, Default)]
/// struct Keep(Arc<Mutex<Vec<otlp_core::Metric>>>);
///
/// impl PushMetricExporter for Keep {
///     async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
///         self.0.lock().unwrap().extend(MetricConverter::new().convert(metrics));
///         Ok(())
///     }
///     fn force_flush(&self) -> OTelSdkResult { Ok(()) }
///     fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult { Ok(()) }
///     fn temporality(&self) -> Temporality { Temporality::Cumulative }
/// }
///
/// let kept = Keep::default();
/// let provider = SdkMeterProvider::builder()
///     .with_reader(PeriodicReader::builder(kept.clone()).build())
///     .build();
/// provider.meter("shop").u64_counter("orders").build().add(3, &[]);
/// provider.force_flush()?;
///
/// let metrics = kept.0.lock().unwrap();
/// assert_eq!(metrics[0].name, "orders");
/// assert_eq!(metrics[0].scope.name, "shop");
/// let otlp_core::MetricData::Sum(sum) = &metrics[0].data else { panic!("a sum") };
/// assert_eq!(sum.data_points[0].value, otlp_core::NumberValue::Int(3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct MetricConverter {
    keys: KeyInterner,
}

impl MetricConverter {
    /// A converter with an empty key table.
    pub fn new() -> Self {
        MetricConverter::default()
    }

    /// Converts one collection: every metric of every scope, in the SDK's
    /// order, each pointing at the collection's resource and its scope.
    pub fn convert(&self, metrics: &ResourceMetrics) -> Vec<Metric> {
        let mut converted = Vec::new();
        self.convert_into(metrics, &mut converted);
        converted
    }

    /// [`convert`](Self::convert), appending to `out` (reuse its capacity
    /// across collections).
    pub fn convert_into(&self, metrics: &ResourceMetrics, out: &mut Vec<Metric>) {
        let resource: Arc<Resource> = Arc::new(convert_resource(metrics.resource()));
        for scope_metrics in metrics.scope_metrics() {
            let scope: Arc<InstrumentationScope> = Arc::new(convert_scope(scope_metrics.scope()));
            out.extend(
                scope_metrics
                    .metrics()
                    .map(|metric| self.metric(metric, &resource, &scope)),
            );
        }
    }

    fn metric(
        &self,
        metric: &SdkMetric,
        resource: &Arc<Resource>,
        scope: &Arc<InstrumentationScope>,
    ) -> Metric {
        let data = match metric.data() {
            AggregatedMetrics::F64(data) => self.data(data),
            AggregatedMetrics::U64(data) => self.data(data),
            AggregatedMetrics::I64(data) => self.data(data),
        };
        Metric {
            name: str_from(metric.name()),
            description: str_from(metric.description()),
            unit: str_from(metric.unit()),
            data,
            metadata: Vec::new(),
            resource: Arc::clone(resource),
            scope: Arc::clone(scope),
        }
    }

    fn data<T: SdkNumber>(&self, data: &SdkMetricData<T>) -> MetricData {
        match data {
            SdkMetricData::Gauge(gauge) => MetricData::Gauge(self.gauge(gauge)),
            SdkMetricData::Sum(sum) => MetricData::Sum(self.sum(sum)),
            SdkMetricData::Histogram(histogram) => MetricData::Histogram(self.histogram(histogram)),
            SdkMetricData::ExponentialHistogram(histogram) => {
                MetricData::ExponentialHistogram(self.exponential_histogram(histogram))
            }
        }
    }

    fn gauge<T: SdkNumber>(&self, gauge: &SdkGauge<T>) -> Gauge {
        let start = gauge.start_time().map_or(0, clock::unix_nanos);
        let time = clock::unix_nanos(gauge.time());
        Gauge {
            data_points: gauge
                .data_points()
                .map(|point| NumberDataPoint {
                    attributes: self.attributes(point.attributes()),
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    value: point.value().number(),
                    exemplars: self.exemplars(point.exemplars()),
                    flags: 0,
                })
                .collect(),
        }
    }

    fn sum<T: SdkNumber>(&self, sum: &SdkSum<T>) -> Sum {
        let start = clock::unix_nanos(sum.start_time());
        let time = clock::unix_nanos(sum.time());
        Sum {
            data_points: sum
                .data_points()
                .map(|point| NumberDataPoint {
                    attributes: self.attributes(point.attributes()),
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    value: point.value().number(),
                    exemplars: self.exemplars(point.exemplars()),
                    flags: 0,
                })
                .collect(),
            temporality: convert_temporality(sum.temporality()),
            is_monotonic: sum.is_monotonic(),
        }
    }

    fn histogram<T: SdkNumber>(&self, histogram: &SdkHistogram<T>) -> Histogram {
        let start = clock::unix_nanos(histogram.start_time());
        let time = clock::unix_nanos(histogram.time());
        Histogram {
            data_points: histogram
                .data_points()
                .map(|point| HistogramDataPoint {
                    attributes: self.attributes(point.attributes()),
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    count: point.count(),
                    sum: Some(point.sum().as_f64()),
                    bucket_counts: point.bucket_counts().collect(),
                    explicit_bounds: point.bounds().collect(),
                    exemplars: self.exemplars(point.exemplars()),
                    flags: 0,
                    min: point.min().map(SdkNumber::as_f64),
                    max: point.max().map(SdkNumber::as_f64),
                })
                .collect(),
            temporality: convert_temporality(histogram.temporality()),
        }
    }

    fn exponential_histogram<T: SdkNumber>(
        &self,
        histogram: &SdkExponentialHistogram<T>,
    ) -> ExponentialHistogram {
        let start = clock::unix_nanos(histogram.start_time());
        let time = clock::unix_nanos(histogram.time());
        ExponentialHistogram {
            data_points: histogram
                .data_points()
                .map(|point| ExponentialHistogramDataPoint {
                    attributes: self.attributes(point.attributes()),
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    count: point.count() as u64,
                    sum: Some(point.sum().as_f64()),
                    scale: i32::from(point.scale()),
                    zero_count: point.zero_count(),
                    positive: convert_buckets(point.positive_bucket()),
                    negative: convert_buckets(point.negative_bucket()),
                    flags: 0,
                    exemplars: self.exemplars(point.exemplars()),
                    min: point.min().map(SdkNumber::as_f64),
                    max: point.max().map(SdkNumber::as_f64),
                    zero_threshold: point.zero_threshold(),
                })
                .collect(),
            temporality: convert_temporality(histogram.temporality()),
        }
    }

    fn attributes<'a>(
        &self,
        attributes: impl Iterator<Item = &'a KeyValue>,
    ) -> Vec<otlp_core::KeyValue> {
        attributes
            .map(|attribute| otlp_core::KeyValue {
                key: self.key(attribute.key.as_str()),
                value: convert_value(&attribute.value),
            })
            .collect()
    }

    fn key(&self, key: &str) -> Str {
        if key.len() <= INLINE_MAX {
            Str::copy_from(key)
        } else {
            self.keys.intern(key)
        }
    }

    fn exemplars<'a, T: SdkNumber + 'a>(
        &self,
        exemplars: impl Iterator<Item = &'a SdkExemplar<T>>,
    ) -> Vec<otlp_core::Exemplar> {
        exemplars
            .map(|exemplar| {
                self.exemplar(
                    exemplar.filtered_attributes(),
                    exemplar.time(),
                    exemplar.value.number(),
                    exemplar.span_id(),
                    exemplar.trace_id(),
                )
            })
            .collect()
    }

    /// An exemplar from its parts (the SDK's `Exemplar` cannot be built
    /// outside the SDK, so the tests call this).
    fn exemplar<'a>(
        &self,
        filtered_attributes: impl Iterator<Item = &'a KeyValue>,
        time: SystemTime,
        value: NumberValue,
        span_id: &[u8; 8],
        trace_id: &[u8; 16],
    ) -> otlp_core::Exemplar {
        let span_id = SpanId::from_bytes(*span_id);
        let trace_id = TraceId::from_bytes(*trace_id);
        otlp_core::Exemplar {
            filtered_attributes: self.attributes(filtered_attributes),
            time_unix_nano: clock::unix_nanos(time),
            value,
            span_id: span_id.is_valid().then_some(span_id),
            trace_id: trace_id.is_valid().then_some(trace_id),
        }
    }
}

/// The SDK's temporality as OTLP's; one the SDK adds later (the enum is
/// non-exhaustive) is cumulative, as `opentelemetry-proto` maps it.
fn convert_temporality(temporality: SdkTemporality) -> Temporality {
    match temporality {
        SdkTemporality::Delta => Temporality::Delta,
        _ => Temporality::Cumulative,
    }
}

fn convert_buckets(buckets: &SdkExponentialBucket) -> ExponentialBuckets {
    ExponentialBuckets {
        offset: buckets.offset(),
        bucket_counts: buckets.counts().collect(),
    }
}

/// The three value types of the SDK's aggregations.
trait SdkNumber: Copy + Debug {
    /// The value of a number data point or exemplar.
    fn number(self) -> NumberValue;
    /// A histogram's sum, min or max, which OTLP carries as doubles.
    fn as_f64(self) -> f64;
}

impl SdkNumber for u64 {
    fn number(self) -> NumberValue {
        NumberValue::Int(i64::try_from(self).unwrap_or(i64::MAX))
    }

    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl SdkNumber for i64 {
    fn number(self) -> NumberValue {
        NumberValue::Int(self)
    }

    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl SdkNumber for f64 {
    fn number(self) -> NumberValue {
        NumberValue::Double(self)
    }

    fn as_f64(self) -> f64 {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry::{InstrumentationScope as SdkScope, Value};
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
    use opentelemetry_sdk::metrics::{
        Aggregation, Instrument, PeriodicReader, SdkMeterProvider, Stream,
    };
    use otlp_core::AnyValue;
    use otlp_core::encode::MetricEncoder;
    use prost::Message as _;

    use super::*;

    /// Converts each collection, and keeps `opentelemetry-proto`'s own
    /// conversion of it beside ours.
    #[derive(Clone)]
    struct Capture {
        temporality: SdkTemporality,
        ours: Arc<Mutex<Vec<Vec<Metric>>>>,
        theirs: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    }

    impl Capture {
        fn new(temporality: SdkTemporality) -> Self {
            Capture {
                temporality,
                ours: Arc::default(),
                theirs: Arc::default(),
            }
        }

        fn last(&self) -> (Vec<Metric>, ExportMetricsServiceRequest) {
            (
                self.ours
                    .lock()
                    .unwrap()
                    .last()
                    .cloned()
                    .expect("a collection"),
                self.theirs
                    .lock()
                    .unwrap()
                    .last()
                    .cloned()
                    .expect("a collection"),
            )
        }
    }

    impl PushMetricExporter for Capture {
        async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
            self.ours
                .lock()
                .unwrap()
                .push(MetricConverter::new().convert(metrics));
            self.theirs
                .lock()
                .unwrap()
                .push(ExportMetricsServiceRequest::from(metrics));
            Ok(())
        }

        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }

        fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
            Ok(())
        }

        fn temporality(&self) -> SdkTemporality {
            self.temporality
        }
    }

    fn provider(capture: &Capture) -> SdkMeterProvider {
        SdkMeterProvider::builder()
            .with_resource(
                opentelemetry_sdk::Resource::builder_empty()
                    .with_service_name("convert")
                    .with_schema_url(
                        Vec::<KeyValue>::new(),
                        "https://opentelemetry.io/schemas/1.30.0",
                    )
                    .build(),
            )
            .with_view(|instrument: &Instrument| {
                (instrument.name() == "exponential").then(|| {
                    Stream::builder()
                        .with_aggregation(Aggregation::Base2ExponentialHistogram {
                            max_size: 160,
                            max_scale: 20,
                            record_min_max: true,
                        })
                        .build()
                        .expect("a valid stream")
                })
            })
            .with_reader(PeriodicReader::builder(capture.clone()).build())
            .build()
    }

    /// Records one of every kind and value type.
    fn record_everything(provider: &SdkMeterProvider) {
        let meter = provider.meter_with_scope(
            SdkScope::builder("convert-test")
                .with_version("1.2.3")
                .with_schema_url("https://example.com/schema")
                .with_attributes([KeyValue::new("scope.attribute", true)])
                .build(),
        );
        let route = [
            KeyValue::new("http.route", "/cart"),
            KeyValue::new("a.key.longer.than.twenty.three.bytes", 7_i64),
        ];
        meter
            .u64_counter("u64.counter")
            .with_description("counted")
            .with_unit("{request}")
            .build()
            .add(3, &route);
        meter.f64_counter("f64.counter").build().add(1.5, &route);
        let up_down = meter.i64_up_down_counter("i64.up_down").build();
        up_down.add(5, &route);
        up_down.add(-7, &route);
        meter
            .f64_up_down_counter("f64.up_down")
            .build()
            .add(-0.25, &[]);
        meter.u64_gauge("u64.gauge").build().record(u64::MAX, &[]);
        meter.i64_gauge("i64.gauge").build().record(-4, &route);
        meter.f64_gauge("f64.gauge").build().record(2.5, &[]);
        let histogram = meter.f64_histogram("f64.histogram").with_unit("ms").build();
        for value in [0.5, 7.0, 120.0, 9_000.0] {
            histogram.record(value, &route);
        }
        meter.u64_histogram("u64.histogram").build().record(42, &[]);
        let exponential = meter.f64_histogram("exponential").build();
        for value in [0.0, 0.001, 1.0, 3.0, 1e6] {
            exponential.record(value, &[]);
        }
        let _observed = meter
            .u64_observable_counter("observable.counter")
            .with_callback(|observer| observer.observe(11, &[KeyValue::new("cpu", 0_i64)]))
            .build();
        let _observed_gauge = meter
            .f64_observable_gauge("observable.gauge")
            .with_callback(|observer| observer.observe(0.75, &[]))
            .build();
        let _observed_up_down = meter
            .i64_observable_up_down_counter("observable.up_down")
            .with_callback(|observer| observer.observe(-2, &[]))
            .build();
        provider.force_flush().expect("flushed");
    }

    /// Our conversion, encoded and decoded, against `opentelemetry-proto`'s:
    /// every field but the one documented difference (u64 past `i64::MAX`).
    fn assert_same_as_opentelemetry_proto(temporality: SdkTemporality) {
        let capture = Capture::new(temporality);
        let provider = provider(&capture);
        record_everything(&provider);
        let (ours, mut theirs) = capture.last();
        assert_eq!(ours.len(), 13);

        let mut body = Vec::new();
        MetricEncoder::new().encode_protobuf(&ours, &mut body);
        let mut decoded = ExportMetricsServiceRequest::decode(body.as_slice()).expect("decodes");

        for request in [&mut decoded, &mut theirs] {
            for resource_metrics in &mut request.resource_metrics {
                if let Some(resource) = &mut resource_metrics.resource {
                    resource.attributes.sort_by(|a, b| a.key.cmp(&b.key));
                }
            }
        }
        // opentelemetry-proto sends 0 for a u64 past i64::MAX; we saturate.
        let gauge = theirs.resource_metrics[0].scope_metrics[0]
            .metrics
            .iter_mut()
            .find(|metric| metric.name == "u64.gauge")
            .expect("the u64 gauge");
        let Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Gauge(gauge)) =
            &mut gauge.data
        else {
            panic!("a gauge")
        };
        use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as ProtoValue;
        assert_eq!(gauge.data_points[0].value, Some(ProtoValue::AsInt(0)));
        gauge.data_points[0].value = Some(ProtoValue::AsInt(i64::MAX));

        assert_eq!(decoded, theirs);
    }

    #[test]
    fn every_kind_and_value_type_matches_opentelemetry_proto_cumulative() {
        assert_same_as_opentelemetry_proto(SdkTemporality::Cumulative);
    }

    #[test]
    fn every_kind_and_value_type_matches_opentelemetry_proto_delta() {
        assert_same_as_opentelemetry_proto(SdkTemporality::Delta);
    }

    #[test]
    fn metrics_share_the_collections_resource_and_their_scope() {
        let capture = Capture::new(SdkTemporality::Cumulative);
        let provider = provider(&capture);
        record_everything(&provider);
        let (ours, _) = capture.last();
        assert!(
            ours.iter()
                .all(|metric| Arc::ptr_eq(&metric.resource, &ours[0].resource))
        );
        assert!(
            ours.iter()
                .all(|metric| Arc::ptr_eq(&metric.scope, &ours[0].scope))
        );
        assert_eq!(ours[0].resource.service_name(), Some("convert"));
        assert_eq!(
            ours[0].resource.schema_url,
            "https://opentelemetry.io/schemas/1.30.0"
        );
        let scope = &ours[0].scope;
        assert_eq!(
            (
                scope.name.as_ref(),
                scope.version.as_ref(),
                scope.schema_url.as_ref()
            ),
            ("convert-test", "1.2.3", "https://example.com/schema")
        );
        assert_eq!(
            scope.attributes,
            vec![otlp_core::KeyValue::new("scope.attribute", true)]
        );
    }

    #[test]
    fn temporality_and_monotonicity_are_kept() {
        let capture = Capture::new(SdkTemporality::Delta);
        let provider = provider(&capture);
        record_everything(&provider);
        let (ours, _) = capture.last();
        let find = |name: &str| {
            ours.iter()
                .find(|metric| metric.name == name)
                .unwrap_or_else(|| panic!("{name}"))
        };
        let MetricData::Sum(counter) = &find("u64.counter").data else {
            panic!("a sum")
        };
        assert_eq!(
            (counter.temporality, counter.is_monotonic),
            (Temporality::Delta, true)
        );
        // The SDK keeps up-down counters cumulative whatever the preference.
        let MetricData::Sum(up_down) = &find("i64.up_down").data else {
            panic!("a sum")
        };
        assert_eq!(
            (up_down.temporality, up_down.is_monotonic),
            (Temporality::Cumulative, false)
        );
        assert_eq!(up_down.data_points[0].value, NumberValue::Int(-2));
        let MetricData::ExponentialHistogram(exponential) = &find("exponential").data else {
            panic!("an exponential histogram")
        };
        assert_eq!(exponential.temporality, Temporality::Delta);
        let point = &exponential.data_points[0];
        assert_eq!((point.count, point.zero_count), (5, 1));
        assert_eq!((point.min, point.max), (Some(0.0), Some(1e6)));
        let MetricData::Histogram(histogram) = &find("f64.histogram").data else {
            panic!("a histogram")
        };
        let point = &histogram.data_points[0];
        assert_eq!(point.count, 4);
        assert_eq!(point.bucket_counts.len(), point.explicit_bounds.len() + 1);
        assert_eq!(point.bucket_counts.iter().sum::<u64>(), 4);
    }

    #[test]
    fn a_u64_past_i64_max_saturates() {
        assert_eq!(u64::MAX.number(), NumberValue::Int(i64::MAX));
        assert_eq!(7_u64.number(), NumberValue::Int(7));
        assert_eq!(7_u64.as_f64(), 7.0);
        assert_eq!((-3_i64).as_f64(), -3.0);
    }

    #[test]
    fn an_exemplar_keeps_every_field_and_zero_ids_are_none() {
        let converter = MetricConverter::new();
        let time = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        let filtered = [
            KeyValue::new("user.id", "u-1"),
            KeyValue::new("retry", true),
        ];
        let sampled = converter.exemplar(
            filtered.iter(),
            time,
            NumberValue::Double(2.5),
            &[1, 2, 3, 4, 5, 6, 7, 8],
            &[9; 16],
        );
        assert_eq!(
            sampled,
            otlp_core::Exemplar {
                filtered_attributes: vec![
                    otlp_core::KeyValue::new("user.id", "u-1"),
                    otlp_core::KeyValue::new("retry", true),
                ],
                time_unix_nano: 1_700_000_000_123_456_789,
                value: NumberValue::Double(2.5),
                span_id: Some(SpanId::from_bytes([1, 2, 3, 4, 5, 6, 7, 8])),
                trace_id: Some(TraceId::from_bytes([9; 16])),
            }
        );
        let unsampled = converter.exemplar([].iter(), time, NumberValue::Int(4), &[0; 8], &[0; 16]);
        assert_eq!((unsampled.span_id, unsampled.trace_id), (None, None));
        assert!(unsampled.filtered_attributes.is_empty());
    }

    #[test]
    fn attribute_values_keep_their_kind() {
        let converter = MetricConverter::new();
        let attributes = [
            KeyValue::new("bool", true),
            KeyValue::new("int", -1_i64),
            KeyValue::new("double", 0.5),
            KeyValue::new("string", "text"),
            KeyValue::new("array", Value::Array(opentelemetry::Array::I64(vec![1, 2]))),
        ];
        let converted = converter.attributes(attributes.iter());
        assert_eq!(converted[0].value, AnyValue::Bool(true));
        assert_eq!(converted[1].value, AnyValue::Int(-1));
        assert_eq!(converted[2].value, AnyValue::Double(0.5));
        assert_eq!(converted[3].value, AnyValue::from("text"));
        assert_eq!(
            converted[4].value,
            AnyValue::Array(vec![AnyValue::Int(1), AnyValue::Int(2)].into())
        );
    }
}
