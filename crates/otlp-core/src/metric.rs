//! The metric data model: what one collection of an instrument exports.
//!
//! A [`Metric`] is one instrument's state at a collection: its name,
//! description and unit, and its data points in one of OTLP's five shapes
//! ([`MetricData`]): a [`Gauge`], a [`Sum`], an explicit-bucket
//! [`Histogram`], a base-2 [`ExponentialHistogram`] or a [`Summary`] (for
//! data bridged from systems that compute quantiles). Each data point carries
//! its attribute set, its time window and, for sums and histograms, the
//! [`Exemplar`]s of measurements taken inside sampled spans.
//!
//! Like spans and log records, a metric points at its [`Resource`] and
//! [`InstrumentationScope`] by `Arc`; the encoders group metrics by both, as
//! OTLP's `ResourceMetrics`/`ScopeMetrics` require. The types are plain data:
//! the aggregation that produces them lives in `otlp-sdk`.

use std::sync::Arc;

use crate::{InstrumentationScope, KeyValue, Resource, SpanId, Str, TraceId};

/// One instrument's exported state: identity plus data points.
///
/// ```
/// use otlp_core::{KeyValue, Metric, MetricData, NumberDataPoint, Sum, Temporality};
///
/// let requests = Metric::new(
///     "http.server.requests",
///     MetricData::Sum(Sum {
///         data_points: vec![NumberDataPoint::int(
///             vec![KeyValue::new("http.route", "/cart")],
///             1_700_000_000_000_000_000,
///             1_700_000_060_000_000_000,
///             42,
///         )],
///         temporality: Temporality::Cumulative,
///         is_monotonic: true,
///     }),
/// )
/// .with_unit("{request}");
/// assert_eq!(requests.data.data_point_count(), 1);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// Instrument name (`http.server.request.duration`).
    pub name: Str,
    /// Human-readable description (`""` if none).
    pub description: Str,
    /// Unit in UCUM form (`ms`, `By`, `{request}`; `""` if none).
    pub unit: Str,
    /// The data points, in one of OTLP's shapes.
    pub data: MetricData,
    /// Additional metadata (OTLP `Metric.metadata`); usually empty.
    pub metadata: Vec<KeyValue>,
    /// What produced the metric (shared).
    pub resource: Arc<Resource>,
    /// Which instrumentation produced the metric (shared).
    pub scope: Arc<InstrumentationScope>,
}

impl Metric {
    /// A metric with no description, unit or metadata, in the empty resource
    /// and scope.
    pub fn new(name: impl Into<Str>, data: MetricData) -> Metric {
        Metric {
            name: name.into(),
            description: Str::default(),
            unit: Str::default(),
            data,
            metadata: Vec::new(),
            resource: Resource::empty(),
            scope: InstrumentationScope::empty(),
        }
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<Str>) -> Metric {
        self.description = description.into();
        self
    }

    /// Sets the unit.
    pub fn with_unit(mut self, unit: impl Into<Str>) -> Metric {
        self.unit = unit.into();
        self
    }

    /// Sets the resource.
    pub fn with_resource(mut self, resource: Arc<Resource>) -> Metric {
        self.resource = resource;
        self
    }

    /// Sets the scope.
    pub fn with_scope(mut self, scope: Arc<InstrumentationScope>) -> Metric {
        self.scope = scope;
        self
    }
}

/// The data of a metric, in one of OTLP's five shapes.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricData {
    /// Last values (OTLP `Gauge`).
    Gauge(Gauge),
    /// Sums of measurements (OTLP `Sum`).
    Sum(Sum),
    /// Explicit-bucket histograms (OTLP `Histogram`).
    Histogram(Histogram),
    /// Base-2 exponential histograms (OTLP `ExponentialHistogram`).
    ExponentialHistogram(ExponentialHistogram),
    /// Precomputed quantiles (OTLP `Summary`), for bridged data.
    Summary(Summary),
}

impl MetricData {
    /// How many data points the metric carries: what OTLP counts when a
    /// receiver rejects some (`rejected_data_points`).
    pub fn data_point_count(&self) -> usize {
        match self {
            MetricData::Gauge(gauge) => gauge.data_points.len(),
            MetricData::Sum(sum) => sum.data_points.len(),
            MetricData::Histogram(histogram) => histogram.data_points.len(),
            MetricData::ExponentialHistogram(histogram) => histogram.data_points.len(),
            MetricData::Summary(summary) => summary.data_points.len(),
        }
    }
}

/// OTLP `AggregationTemporality`: whether a data point covers the time since
/// the previous collection or since the series started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Temporality {
    /// Not set (0); receivers treat such points as invalid for sums and histograms.
    #[default]
    Unspecified,
    /// Each point covers the interval since the previous point (1).
    Delta,
    /// Each point covers the interval since the series' start time (2).
    Cumulative,
}

impl Temporality {
    /// The OTLP enum number.
    pub const fn as_number(self) -> i32 {
        match self {
            Temporality::Unspecified => 0,
            Temporality::Delta => 1,
            Temporality::Cumulative => 2,
        }
    }

    /// The protobuf enum value's name (`AGGREGATION_TEMPORALITY_DELTA`), for
    /// messages; OTLP/JSON writes the number ([`as_number`](Self::as_number)).
    pub const fn as_str(self) -> &'static str {
        match self {
            Temporality::Unspecified => "AGGREGATION_TEMPORALITY_UNSPECIFIED",
            Temporality::Delta => "AGGREGATION_TEMPORALITY_DELTA",
            Temporality::Cumulative => "AGGREGATION_TEMPORALITY_CUMULATIVE",
        }
    }
}

/// Last values: each point is the most recent measurement of its series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gauge {
    /// One point per attribute set.
    pub data_points: Vec<NumberDataPoint>,
}

/// Sums of measurements.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sum {
    /// One point per attribute set.
    pub data_points: Vec<NumberDataPoint>,
    /// Delta or cumulative.
    pub temporality: Temporality,
    /// `true` for counters (only increases), `false` for up-down counters.
    pub is_monotonic: bool,
}

/// Explicit-bucket histograms.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// One point per attribute set.
    pub data_points: Vec<HistogramDataPoint>,
    /// Delta or cumulative.
    pub temporality: Temporality,
}

/// Base-2 exponential histograms.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExponentialHistogram {
    /// One point per attribute set.
    pub data_points: Vec<ExponentialHistogramDataPoint>,
    /// Delta or cumulative.
    pub temporality: Temporality,
}

/// Precomputed quantiles.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// One point per attribute set.
    pub data_points: Vec<SummaryDataPoint>,
}

/// The value of a number point or exemplar: OTLP keeps integers and floats apart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NumberValue {
    /// An integer (`as_int`, sfixed64).
    Int(i64),
    /// A float (`as_double`).
    Double(f64),
}

impl From<i64> for NumberValue {
    fn from(value: i64) -> Self {
        NumberValue::Int(value)
    }
}

impl From<f64> for NumberValue {
    fn from(value: f64) -> Self {
        NumberValue::Double(value)
    }
}

/// OTLP `DataPointFlags.NO_RECORDED_VALUE`: the point marks a series that
/// stopped reporting (its value fields are meaningless).
pub const NO_RECORDED_VALUE: u32 = 1;

/// A point of a gauge or sum.
#[derive(Clone, Debug, PartialEq)]
pub struct NumberDataPoint {
    /// The series' attribute set.
    pub attributes: Vec<KeyValue>,
    /// Start of the series (cumulative) or of the interval (delta), in
    /// nanoseconds since the Unix epoch; 0 = unknown.
    pub start_time_unix_nano: u64,
    /// When the point was collected, in nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// The value.
    pub value: NumberValue,
    /// Measurements taken inside sampled spans.
    pub exemplars: Vec<Exemplar>,
    /// OTLP `DataPointFlags` ([`NO_RECORDED_VALUE`]).
    pub flags: u32,
}

impl NumberDataPoint {
    /// An integer point with no exemplars or flags.
    pub fn int(attributes: Vec<KeyValue>, start: u64, time: u64, value: i64) -> Self {
        NumberDataPoint {
            attributes,
            start_time_unix_nano: start,
            time_unix_nano: time,
            value: NumberValue::Int(value),
            exemplars: Vec::new(),
            flags: 0,
        }
    }

    /// A float point with no exemplars or flags.
    pub fn double(attributes: Vec<KeyValue>, start: u64, time: u64, value: f64) -> Self {
        NumberDataPoint {
            attributes,
            start_time_unix_nano: start,
            time_unix_nano: time,
            value: NumberValue::Double(value),
            exemplars: Vec::new(),
            flags: 0,
        }
    }
}

/// A point of an explicit-bucket histogram.
///
/// `bucket_counts` has one more entry than `explicit_bounds`: bucket `i`
/// counts values `v` with `bounds[i-1] < v <= bounds[i]` (the first is
/// unbounded below, the last above).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramDataPoint {
    /// The series' attribute set.
    pub attributes: Vec<KeyValue>,
    /// Start of the series or interval (nanoseconds since the epoch).
    pub start_time_unix_nano: u64,
    /// When the point was collected.
    pub time_unix_nano: u64,
    /// How many values were recorded.
    pub count: u64,
    /// Their sum; `None` when it is not meaningful (negative values in a
    /// histogram that should only see positive ones).
    pub sum: Option<f64>,
    /// Count per bucket (`explicit_bounds.len() + 1` entries, or none).
    pub bucket_counts: Vec<u64>,
    /// Upper bounds of the buckets, increasing.
    pub explicit_bounds: Vec<f64>,
    /// Measurements taken inside sampled spans.
    pub exemplars: Vec<Exemplar>,
    /// OTLP `DataPointFlags`.
    pub flags: u32,
    /// Smallest value recorded, if tracked.
    pub min: Option<f64>,
    /// Largest value recorded, if tracked.
    pub max: Option<f64>,
}

/// The buckets of one sign of an exponential histogram: consecutive counts
/// starting at bucket index `offset`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExponentialBuckets {
    /// Index of the first bucket (may be negative).
    pub offset: i32,
    /// Counts of buckets `offset`, `offset + 1`, ...
    pub bucket_counts: Vec<u64>,
}

/// A point of a base-2 exponential histogram.
///
/// Bucket `index` at `scale` holds values in
/// `(base^index, base^(index+1)]` with `base = 2^(2^-scale)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExponentialHistogramDataPoint {
    /// The series' attribute set.
    pub attributes: Vec<KeyValue>,
    /// Start of the series or interval (nanoseconds since the epoch).
    pub start_time_unix_nano: u64,
    /// When the point was collected.
    pub time_unix_nano: u64,
    /// How many values were recorded (buckets plus zero count).
    pub count: u64,
    /// Their sum, if meaningful.
    pub sum: Option<f64>,
    /// Resolution: larger is finer.
    pub scale: i32,
    /// Values whose magnitude is at most `zero_threshold`.
    pub zero_count: u64,
    /// Buckets of positive values.
    pub positive: ExponentialBuckets,
    /// Buckets of negative values (by magnitude).
    pub negative: ExponentialBuckets,
    /// OTLP `DataPointFlags`.
    pub flags: u32,
    /// Measurements taken inside sampled spans.
    pub exemplars: Vec<Exemplar>,
    /// Smallest value recorded, if tracked.
    pub min: Option<f64>,
    /// Largest value recorded, if tracked.
    pub max: Option<f64>,
    /// Width of the zero bucket (0 = exact zeros only).
    pub zero_threshold: f64,
}

/// A quantile of a summary point.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ValueAtQuantile {
    /// The quantile, in `[0, 1]`.
    pub quantile: f64,
    /// The value at that quantile.
    pub value: f64,
}

/// A point of a summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SummaryDataPoint {
    /// The series' attribute set.
    pub attributes: Vec<KeyValue>,
    /// Start of the series (nanoseconds since the epoch).
    pub start_time_unix_nano: u64,
    /// When the point was collected.
    pub time_unix_nano: u64,
    /// How many values were observed.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The quantiles, in increasing order of quantile.
    pub quantile_values: Vec<ValueAtQuantile>,
    /// OTLP `DataPointFlags`.
    pub flags: u32,
}

/// One measurement kept as an example of a point, with the span it was
/// taken in.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    /// The measurement's attributes that the point's attribute set dropped.
    pub filtered_attributes: Vec<KeyValue>,
    /// When the measurement was taken.
    pub time_unix_nano: u64,
    /// The measured value.
    pub value: NumberValue,
    /// The span the measurement was taken in, if any.
    pub span_id: Option<SpanId>,
    /// That span's trace, if any.
    pub trace_id: Option<TraceId>,
}
