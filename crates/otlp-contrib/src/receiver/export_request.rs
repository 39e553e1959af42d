//! The three OTLP export requests behind one trait, so that decoding,
//! checking, counting and answering are written once for traces, logs and
//! metrics: what differs per signal is here, and only here.
//!
//! Counting without decoding ([`Store::CountOnly`](super::Store::CountOnly))
//! walks the protobuf with [`otlp_core::wire`]'s counters: spans and log
//! records sit at the same depth (field 2 of field 2 of field 1), data points
//! one level deeper, inside each metric's data. Counting OTLP/JSON reads
//! the records' ids too (and skips the rest of them), so that it refuses
//! the bodies decoding refuses for an id.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, Gauge, Histogram, Metric, NumberDataPoint, Sum, Summary, metric,
};
use otlp_core::DecodeError;
use otlp_core::response::PartialSuccess;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::decoded_size::Message;
use super::json_doubles::{JsonOneofs, decode_value};
use super::store::Signal;

/// What decoding produced.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// A full trace request and its span count.
    Traces(Box<ExportTraceServiceRequest>, u64),
    /// A full log request and its log record count.
    Logs(Box<ExportLogsServiceRequest>, u64),
    /// A full metrics request and its data point count.
    Metrics(Box<ExportMetricsServiceRequest>, u64),
    /// Only the count of spans, log records or data points ([`Store::CountOnly`](super::config::Store::CountOnly)).
    Count(Signal, u64),
}

impl Decoded {
    /// The signal of the request.
    pub(crate) fn signal(&self) -> Signal {
        match self {
            Decoded::Traces(..) => Signal::Traces,
            Decoded::Logs(..) => Signal::Logs,
            Decoded::Metrics(..) => Signal::Metrics,
            Decoded::Count(signal, _) => *signal,
        }
    }

    /// Spans of a trace request, log records of a log request, data points
    /// of a metrics request.
    pub(crate) fn item_count(&self) -> u64 {
        match self {
            Decoded::Traces(_, count)
            | Decoded::Logs(_, count)
            | Decoded::Metrics(_, count)
            | Decoded::Count(_, count) => *count,
        }
    }

    /// Only the count, for [`Store::CountOnly`](super::config::Store::CountOnly).
    pub(crate) fn into_count(self) -> Decoded {
        Decoded::Count(self.signal(), self.item_count())
    }
}

/// An `opentelemetry-proto` export request of one signal, with what the
/// receiver needs to know about it.
pub(crate) trait ExportRequest:
    prost::Message + JsonOneofs + Default + Send + Sized + 'static
{
    /// The signal whose requests these are.
    const SIGNAL: Signal;
    /// The message name, for error messages.
    const NAME: &'static str;
    /// The `ExportXServiceResponse` a tonic service answers with.
    type Response: Send + 'static;

    /// Checks what a collector checks (id lengths, all-zero required ids)
    /// and counts the spans, log records or data points. The error is a
    /// message for the client.
    fn check(&self) -> Result<u64, String>;

    /// Counts the items of an encoded request without decoding them.
    fn count_protobuf(body: &[u8]) -> Result<u64, DecodeError>;

    /// Counts the items of an OTLP/JSON request, skipping their contents
    /// except their ids, which are checked as [`check`](Self::check) checks
    /// them. The error is a message for the client.
    fn count_json(body: &[u8]) -> Result<u64, String>;

    /// The decoded request, for [`Shared::answer`](super::shared::Shared::answer).
    fn into_decoded(self, items: u64) -> Decoded;

    /// The success response, with `partial_success` when some items were rejected.
    fn response(partial: Option<PartialSuccess>) -> Self::Response;
}

/// Traces have no oneof serde could read as absent.
impl JsonOneofs for ExportTraceServiceRequest {
    const REQUEST: Message = Message::TraceRequest;
}

/// Logs have no oneof serde could read as absent.
impl JsonOneofs for ExportLogsServiceRequest {
    const REQUEST: Message = Message::LogsRequest;
}

/// A metric's data, a number data point's and an exemplar's value.
impl JsonOneofs for ExportMetricsServiceRequest {
    const REQUEST: Message = Message::MetricsRequest;

    /// A metric without data, a number data point or an exemplar without a
    /// value: none of which an SDK sends.
    fn has_absent_oneof(&self) -> bool {
        self.resource_metrics
            .iter()
            .flat_map(|resource| &resource.scope_metrics)
            .flat_map(|scope| &scope.metrics)
            .any(|metric| {
                metric.data.is_none()
                    || number_points(metric)
                        .iter()
                        .any(|point| point.value.is_none())
                    || try_each_point_exemplars(metric, |_, exemplars| {
                        match exemplars.iter().any(|exemplar| exemplar.value.is_none()) {
                            true => Err(()),
                            false => Ok(()),
                        }
                    })
                    .is_err()
            })
    }

    fn check_absent_oneofs(&self, json: &serde_json::Value) -> Result<(), serde_json::Error> {
        for (r, resource) in self.resource_metrics.iter().enumerate() {
            for (s, scope) in resource.scope_metrics.iter().enumerate() {
                for (m, metric) in scope.metrics.iter().enumerate() {
                    let member = json
                        .get("resourceMetrics")
                        .and_then(|resources| resources.get(r))
                        .and_then(|resource| resource.get("scopeMetrics"))
                        .and_then(|scopes| scopes.get(s))
                        .and_then(|scope| scope.get("metrics"))
                        .and_then(|metrics| metrics.get(m));
                    let path = || format!("resourceMetrics[{r}].scopeMetrics[{s}].metrics[{m}]");
                    check_absent_metric_oneofs(metric, member, path)?;
                }
            }
        }
        Ok(())
    }
}

impl ExportRequest for ExportTraceServiceRequest {
    const SIGNAL: Signal = Signal::Traces;
    const NAME: &'static str = "ExportTraceServiceRequest";
    type Response = ExportTraceServiceResponse;

    fn check(&self) -> Result<u64, String> {
        let mut spans = 0u64;
        for (r, resource) in self.resource_spans.iter().enumerate() {
            for (s, scope) in resource.scope_spans.iter().enumerate() {
                for (i, span) in scope.spans.iter().enumerate() {
                    let path = || format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}]");
                    check_id("traceId", path, &span.trace_id, Id::Required(16))?;
                    check_id("spanId", path, &span.span_id, Id::Required(8))?;
                    check_id("parentSpanId", path, &span.parent_span_id, Id::Optional(8))?;
                    for (l, link) in span.links.iter().enumerate() {
                        let path =
                            || format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}].links[{l}]");
                        check_id("traceId", path, &link.trace_id, Id::Sized(16))?;
                        check_id("spanId", path, &link.span_id, Id::Sized(8))?;
                    }
                    spans += 1;
                }
            }
        }
        Ok(spans)
    }

    fn count_protobuf(body: &[u8]) -> Result<u64, DecodeError> {
        otlp_core::wire::count_spans(body)
    }

    fn count_json(body: &[u8]) -> Result<u64, String> {
        parse_count::<CountRequest>(Self::NAME, body)?.spans()
    }

    fn into_decoded(self, items: u64) -> Decoded {
        Decoded::Traces(Box::new(self), items)
    }

    fn response(partial: Option<PartialSuccess>) -> Self::Response {
        ExportTraceServiceResponse {
            partial_success: partial.map(|partial| ExportTracePartialSuccess {
                rejected_spans: partial.rejected_spans,
                error_message: partial.error_message,
            }),
        }
    }
}

impl ExportRequest for ExportLogsServiceRequest {
    const SIGNAL: Signal = Signal::Logs;
    const NAME: &'static str = "ExportLogsServiceRequest";
    type Response = ExportLogsServiceResponse;

    /// A log record's trace context is optional: a `traceId` is empty or 16
    /// bytes, a `spanId` empty or 8 bytes. All-zero ids are accepted:
    /// logs.proto asks receivers to take an invalid id as "no trace context",
    /// not to refuse the record.
    fn check(&self) -> Result<u64, String> {
        let mut records = 0u64;
        for (r, resource) in self.resource_logs.iter().enumerate() {
            for (s, scope) in resource.scope_logs.iter().enumerate() {
                for (i, record) in scope.log_records.iter().enumerate() {
                    let path = || format!("resourceLogs[{r}].scopeLogs[{s}].logRecords[{i}]");
                    check_id("traceId", path, &record.trace_id, Id::Optional(16))?;
                    check_id("spanId", path, &record.span_id, Id::Optional(8))?;
                    records += 1;
                }
            }
        }
        Ok(records)
    }

    fn count_protobuf(body: &[u8]) -> Result<u64, DecodeError> {
        otlp_core::wire::count_log_records(body)
    }

    fn count_json(body: &[u8]) -> Result<u64, String> {
        parse_count::<CountLogsRequest>(Self::NAME, body)?.log_records()
    }

    fn into_decoded(self, items: u64) -> Decoded {
        Decoded::Logs(Box::new(self), items)
    }

    fn response(partial: Option<PartialSuccess>) -> Self::Response {
        ExportLogsServiceResponse {
            partial_success: partial.map(|partial| ExportLogsPartialSuccess {
                rejected_log_records: partial.rejected_spans,
                error_message: partial.error_message,
            }),
        }
    }
}

impl ExportRequest for ExportMetricsServiceRequest {
    const SIGNAL: Signal = Signal::Metrics;
    const NAME: &'static str = "ExportMetricsServiceRequest";
    type Response = ExportMetricsServiceResponse;

    /// Counts data points over every metric shape; an exemplar's trace
    /// context is optional, as a log record's.
    fn check(&self) -> Result<u64, String> {
        let mut points = 0u64;
        for (r, resource) in self.resource_metrics.iter().enumerate() {
            for (s, scope) in resource.scope_metrics.iter().enumerate() {
                for (m, metric) in scope.metrics.iter().enumerate() {
                    let shape = shape_name(metric);
                    try_each_point_exemplars(metric, |p, exemplars| {
                        exemplars.iter().enumerate().try_for_each(|(e, exemplar)| {
                            let path = || {
                                format!(
                                    "resourceMetrics[{r}].scopeMetrics[{s}].metrics[{m}].{shape}.dataPoints[{p}].exemplars[{e}]"
                                )
                            };
                            check_id("traceId", path, &exemplar.trace_id, Id::Optional(16))?;
                            check_id("spanId", path, &exemplar.span_id, Id::Optional(8))
                        })
                    })?;
                    points += data_point_count(metric) as u64;
                }
            }
        }
        Ok(points)
    }

    fn count_protobuf(body: &[u8]) -> Result<u64, DecodeError> {
        otlp_core::wire::count_data_points(body)
    }

    fn count_json(body: &[u8]) -> Result<u64, String> {
        parse_count::<CountMetricsRequest>(Self::NAME, body)?.data_points()
    }

    fn into_decoded(self, items: u64) -> Decoded {
        Decoded::Metrics(Box::new(self), items)
    }

    fn response(partial: Option<PartialSuccess>) -> Self::Response {
        ExportMetricsServiceResponse {
            partial_success: partial.map(|partial| ExportMetricsPartialSuccess {
                rejected_data_points: partial.rejected_spans,
                error_message: partial.error_message,
            }),
        }
    }
}

/// The data points of a metric, whatever its shape (0 without data).
pub(crate) fn data_point_count(metric: &Metric) -> usize {
    match &metric.data {
        Some(metric::Data::Gauge(gauge)) => gauge.data_points.len(),
        Some(metric::Data::Sum(sum)) => sum.data_points.len(),
        Some(metric::Data::Histogram(histogram)) => histogram.data_points.len(),
        Some(metric::Data::ExponentialHistogram(histogram)) => histogram.data_points.len(),
        Some(metric::Data::Summary(summary)) => summary.data_points.len(),
        None => 0,
    }
}

/// The OTLP/JSON name of a metric's shape (`gauge`, `sum`, `histogram`,
/// `exponentialHistogram`, `summary`), `-` without data.
fn shape_name(metric: &Metric) -> &'static str {
    match &metric.data {
        Some(metric::Data::Gauge(_)) => "gauge",
        Some(metric::Data::Sum(_)) => "sum",
        Some(metric::Data::Histogram(_)) => "histogram",
        Some(metric::Data::ExponentialHistogram(_)) => "exponentialHistogram",
        Some(metric::Data::Summary(_)) => "summary",
        None => "-",
    }
}

/// Calls `visit` with the index and exemplars of each data point that can
/// carry exemplars (summary points cannot), up to the first error.
fn try_each_point_exemplars<E>(
    metric: &Metric,
    mut visit: impl FnMut(usize, &[Exemplar]) -> Result<(), E>,
) -> Result<(), E> {
    fn each<P, E>(
        points: &[P],
        exemplars: fn(&P) -> &[Exemplar],
        visit: &mut impl FnMut(usize, &[Exemplar]) -> Result<(), E>,
    ) -> Result<(), E> {
        points
            .iter()
            .enumerate()
            .try_for_each(|(p, point)| visit(p, exemplars(point)))
    }
    match &metric.data {
        Some(metric::Data::Gauge(gauge)) => {
            each(&gauge.data_points, |point| &point.exemplars, &mut visit)
        }
        Some(metric::Data::Sum(sum)) => {
            each(&sum.data_points, |point| &point.exemplars, &mut visit)
        }
        Some(metric::Data::Histogram(histogram)) => {
            each(&histogram.data_points, |point| &point.exemplars, &mut visit)
        }
        Some(metric::Data::ExponentialHistogram(histogram)) => {
            each(&histogram.data_points, |point| &point.exemplars, &mut visit)
        }
        Some(metric::Data::Summary(_)) | None => Ok(()),
    }
}

/// The number data points of a gauge or a sum (none for other shapes).
fn number_points(metric: &Metric) -> &[NumberDataPoint] {
    match &metric.data {
        Some(metric::Data::Gauge(gauge)) => &gauge.data_points,
        Some(metric::Data::Sum(sum)) => &sum.data_points,
        _ => &[],
    }
}

/// The OTLP/JSON members of a value oneof (a number data point's, an
/// exemplar's).
const VALUE_MEMBERS: [&str; 2] = ["asDouble", "asInt"];

/// Fails when `metric`'s data, a number point's value or an exemplar's value
/// is absent while `json` (the metric's object in the parsed body) has its
/// member: that member did not decode. The error names it (`path`, then the
/// member) and, for the data, carries the decoder's error.
fn check_absent_metric_oneofs(
    metric: &Metric,
    json: Option<&serde_json::Value>,
    path: impl Fn() -> String,
) -> Result<(), serde_json::Error> {
    use serde::de::Error as _;
    use serde_json::Error;

    let Some(json) = json else {
        return Ok(());
    };
    if metric.data.is_none() {
        for shape in [
            "gauge",
            "sum",
            "histogram",
            "exponentialHistogram",
            "summary",
        ] {
            let Some(member) = json.get(shape) else {
                continue;
            };
            let decoded = match shape {
                "gauge" => decode_value::<Gauge>(member).map(drop),
                "sum" => decode_value::<Sum>(member).map(drop),
                "histogram" => decode_value::<Histogram>(member).map(drop),
                "exponentialHistogram" => decode_value::<ExponentialHistogram>(member).map(drop),
                _ => decode_value::<Summary>(member).map(drop),
            };
            if let Err(error) = decoded {
                return Err(Error::custom(format!("{}.{shape}: {error}", path())));
            }
        }
        return Ok(());
    }
    let shape = shape_name(metric);
    let points = json.get(shape).and_then(|data| data.get("dataPoints"));
    let point = |p: usize| points.and_then(|points| points.get(p));
    let invalid_member = |at: &dyn Fn() -> String, object: Option<&serde_json::Value>| {
        VALUE_MEMBERS
            .iter()
            .find_map(|name| object?.get(name).map(|member| (name, member)))
            .map(|(name, member)| {
                Error::custom(format!(
                    "{}.{name} is not a valid {}: {}",
                    at(),
                    if *name == "asInt" { "int64" } else { "double" },
                    describe(member)
                ))
            })
    };
    for (p, number) in number_points(metric).iter().enumerate() {
        if number.value.is_none() {
            let at = || format!("{}.{shape}.dataPoints[{p}]", path());
            if let Some(error) = invalid_member(&at, point(p)) {
                return Err(error);
            }
        }
    }
    try_each_point_exemplars(metric, |p, exemplars| {
        for (e, exemplar) in exemplars.iter().enumerate() {
            if exemplar.value.is_none() {
                let at = || format!("{}.{shape}.dataPoints[{p}].exemplars[{e}]", path());
                let object = point(p)
                    .and_then(|point| point.get("exemplars"))
                    .and_then(|exemplars| exemplars.get(e));
                if let Some(error) = invalid_member(&at, object) {
                    return Err(error);
                }
            }
        }
        Ok(())
    })
}

/// A JSON value for an error message: a scalar as written, a container by
/// its kind (it may be large).
fn describe(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Array(_) => "an array".into(),
        serde_json::Value::Object(_) => "an object".into(),
        scalar => scalar.to_string(),
    }
}

/// What a trace or span id field accepts.
#[derive(Clone, Copy, Debug)]
enum Id {
    /// Exactly this many bytes, not all zeroes: a span's own `traceId` and
    /// `spanId`. trace.proto: "An ID with all zeroes OR of length other than
    /// 16 \[8\] bytes is considered invalid", and the field is required.
    Required(usize),
    /// Exactly this many bytes, of any value: a link's ids. The trace API
    /// records links to an invalid (all-zero) context when they carry
    /// attributes or a trace state, so a collector takes them.
    Sized(usize),
    /// Empty, or this many bytes of any value: a parent span id, a log
    /// record's or an exemplar's trace context. All zeroes are accepted, as
    /// the protos ask nothing more (logs.proto: a receiver takes an invalid
    /// id as no trace context, it does not refuse the record).
    Optional(usize),
}

/// Fails unless `id` is what `rule` accepts, naming the field.
///
/// Protobuf `bytes` and JSON hex strings of any length decode fine, so this
/// is where a wrong id is caught, as a collector does.
fn check_id(what: &str, path: impl Fn() -> String, id: &[u8], rule: Id) -> Result<(), String> {
    let all_zero = id.iter().all(|&byte| byte == 0);
    check_id_shape(what, path, id.len(), all_zero, rule)
}

/// [`check_id`] for an id of `length` bytes, `all_zero` or not.
fn check_id_shape(
    what: &str,
    path: impl Fn() -> String,
    length: usize,
    all_zero: bool,
    rule: Id,
) -> Result<(), String> {
    match rule {
        Id::Required(expected) if length != expected => Err(format!(
            "{}.{what} has {length} bytes, expected {expected}",
            path()
        )),
        Id::Required(_) if all_zero => {
            Err(format!("{}.{what} is all zeroes, an invalid id", path()))
        }
        Id::Sized(expected) if length != expected => Err(format!(
            "{}.{what} has {length} bytes, expected {expected}",
            path()
        )),
        Id::Optional(expected) if length != 0 && length != expected => Err(format!(
            "{}.{what} has {length} bytes, expected 0 or {expected}",
            path()
        )),
        Id::Required(_) | Id::Sized(_) | Id::Optional(_) => Ok(()),
    }
}

/// Parses an OTLP/JSON body into one of the counting shapes; the error is a
/// message for the client, as decoding words it.
fn parse_count<T: serde::de::DeserializeOwned>(name: &str, body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|error| format!("invalid OTLP/JSON {name}: {error}"))
}

/// An OTLP/JSON id (hex digits) seen by counting: its length in bytes and
/// whether it is all zeroes, read straight from the text (no allocation).
/// Not a string of hex digits in pairs (a `0x` prefix included, which
/// decoding refuses too) is an error, as it is to decoding; `null` or
/// absent reads as empty (the field's default), as decoding reads it.
#[derive(Clone, Copy, Default)]
struct CountId {
    length: usize,
    all_zero: bool,
}

impl<'de> Deserialize<'de> for CountId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HexVisitor;

        impl serde::de::Visitor<'_> for HexVisitor {
            type Value = CountId;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("an id as a string of hex digits")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<CountId, E> {
                if !text.len().is_multiple_of(2)
                    || !text.bytes().all(|byte| byte.is_ascii_hexdigit())
                {
                    // An id is 32 hex digits at most; a longer value is cut.
                    let shown: String = text.chars().take(34).collect();
                    let cut = if shown.len() < text.len() { "..." } else { "" };
                    return Err(E::custom(format!(
                        "\"{shown}{cut}\" is not an id: OTLP/JSON writes one as hex digits, two per byte"
                    )));
                }
                Ok(CountId {
                    length: text.len() / 2,
                    all_zero: text.bytes().all(|byte| byte == b'0'),
                })
            }
        }

        deserializer.deserialize_str(HexVisitor)
    }
}

/// Checks a counted id as [`check_id`] checks a decoded one.
fn check_count_id(
    what: &str,
    path: impl Fn() -> String,
    id: Option<CountId>,
    rule: Id,
) -> Result<(), String> {
    let id = id.unwrap_or_default();
    check_id_shape(what, path, id.length, id.all_zero, rule)
}

/// OTLP/JSON seen only as far as needed to count spans and check their ids
/// ([`CountSpan`]); the rest of a span is skipped and unknown fields are
/// ignored, like the full decoder. A `null` list reads as empty
/// ([`null_as_empty`]), as in the full decoder.
#[derive(Deserialize)]
struct CountRequest {
    #[serde(default, rename = "resourceSpans", deserialize_with = "null_as_empty")]
    resource_spans: Vec<CountResourceSpans>,
}

#[derive(Deserialize)]
struct CountResourceSpans {
    #[serde(default, rename = "scopeSpans", deserialize_with = "null_as_empty")]
    scope_spans: Vec<CountScopeSpans>,
}

#[derive(Deserialize)]
struct CountScopeSpans {
    #[serde(default, deserialize_with = "null_as_empty")]
    spans: Vec<CountSpan>,
}

/// A span's ids and its links' ids; the rest is skipped.
#[derive(Deserialize)]
struct CountSpan {
    #[serde(default, rename = "traceId")]
    trace_id: Option<CountId>,
    #[serde(default, rename = "spanId")]
    span_id: Option<CountId>,
    #[serde(default, rename = "parentSpanId")]
    parent_span_id: Option<CountId>,
    #[serde(default, deserialize_with = "null_as_empty")]
    links: Vec<CountIds>,
}

/// The ids of a link, a log record or an exemplar; the rest is skipped.
#[derive(Deserialize)]
struct CountIds {
    #[serde(default, rename = "traceId")]
    trace_id: Option<CountId>,
    #[serde(default, rename = "spanId")]
    span_id: Option<CountId>,
}

impl CountRequest {
    /// The spans, once their ids are checked as
    /// [`ExportRequest::check`] checks them.
    fn spans(&self) -> Result<u64, String> {
        let mut spans = 0u64;
        for (r, resource) in self.resource_spans.iter().enumerate() {
            for (s, scope) in resource.scope_spans.iter().enumerate() {
                for (i, span) in scope.spans.iter().enumerate() {
                    let path = || format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}]");
                    check_count_id("traceId", path, span.trace_id, Id::Required(16))?;
                    check_count_id("spanId", path, span.span_id, Id::Required(8))?;
                    check_count_id("parentSpanId", path, span.parent_span_id, Id::Optional(8))?;
                    for (l, link) in span.links.iter().enumerate() {
                        let path =
                            || format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}].links[{l}]");
                        check_count_id("traceId", path, link.trace_id, Id::Sized(16))?;
                        check_count_id("spanId", path, link.span_id, Id::Sized(8))?;
                    }
                    spans += 1;
                }
            }
        }
        Ok(spans)
    }
}

/// The log twin of [`CountRequest`]: `resourceLogs` / `scopeLogs` / `logRecords`.
#[derive(Deserialize)]
struct CountLogsRequest {
    #[serde(default, rename = "resourceLogs", deserialize_with = "null_as_empty")]
    resource_logs: Vec<CountResourceLogs>,
}

#[derive(Deserialize)]
struct CountResourceLogs {
    #[serde(default, rename = "scopeLogs", deserialize_with = "null_as_empty")]
    scope_logs: Vec<CountScopeLogs>,
}

#[derive(Deserialize)]
struct CountScopeLogs {
    #[serde(default, rename = "logRecords", deserialize_with = "null_as_empty")]
    log_records: Vec<CountIds>,
}

impl CountLogsRequest {
    /// The log records, once their ids are checked as
    /// [`ExportRequest::check`] checks them.
    fn log_records(&self) -> Result<u64, String> {
        let mut records = 0u64;
        for (r, resource) in self.resource_logs.iter().enumerate() {
            for (s, scope) in resource.scope_logs.iter().enumerate() {
                for (i, record) in scope.log_records.iter().enumerate() {
                    let path = || format!("resourceLogs[{r}].scopeLogs[{s}].logRecords[{i}]");
                    check_count_id("traceId", path, record.trace_id, Id::Optional(16))?;
                    check_count_id("spanId", path, record.span_id, Id::Optional(8))?;
                    records += 1;
                }
            }
        }
        Ok(records)
    }
}

/// The metrics twin of [`CountRequest`]: `resourceMetrics` / `scopeMetrics` /
/// `metrics` / a shape / `dataPoints`, with the ids of each point's
/// exemplars.
#[derive(Deserialize)]
struct CountMetricsRequest {
    #[serde(
        default,
        rename = "resourceMetrics",
        deserialize_with = "null_as_empty"
    )]
    resource_metrics: Vec<CountResourceMetrics>,
}

#[derive(Deserialize)]
struct CountResourceMetrics {
    #[serde(default, rename = "scopeMetrics", deserialize_with = "null_as_empty")]
    scope_metrics: Vec<CountScopeMetrics>,
}

#[derive(Deserialize)]
struct CountScopeMetrics {
    #[serde(default, deserialize_with = "null_as_empty")]
    metrics: Vec<CountMetric>,
}

/// A metric's shapes: one is present (with several, the first in this order
/// is counted; decoding refuses such a metric before, as `misshapen_json`).
/// A summary point has no exemplars: an `exemplars` key there is an
/// unknown field, skipped as decoding skips it.
#[derive(Deserialize)]
struct CountMetric {
    #[serde(default)]
    gauge: Option<CountShape<CountPoint>>,
    #[serde(default)]
    sum: Option<CountShape<CountPoint>>,
    #[serde(default)]
    histogram: Option<CountShape<CountPoint>>,
    #[serde(default, rename = "exponentialHistogram")]
    exponential_histogram: Option<CountShape<CountPoint>>,
    #[serde(default)]
    summary: Option<CountShape<CountItem>>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "P: Deserialize<'de>"))]
struct CountShape<P> {
    #[serde(default, rename = "dataPoints", deserialize_with = "null_as_empty")]
    data_points: Vec<P>,
}

/// A data point that can carry exemplars: their ids; the rest is skipped.
#[derive(Deserialize)]
struct CountPoint {
    #[serde(default, deserialize_with = "null_as_empty")]
    exemplars: Vec<CountIds>,
}

impl CountMetricsRequest {
    /// The data points, once their exemplars' ids are checked as
    /// [`ExportRequest::check`] checks them.
    fn data_points(&self) -> Result<u64, String> {
        let mut points = 0u64;
        for (r, resource) in self.resource_metrics.iter().enumerate() {
            for (s, scope) in resource.scope_metrics.iter().enumerate() {
                for (m, metric) in scope.metrics.iter().enumerate() {
                    let with_exemplars = [
                        ("gauge", &metric.gauge),
                        ("sum", &metric.sum),
                        ("histogram", &metric.histogram),
                        ("exponentialHistogram", &metric.exponential_histogram),
                    ]
                    .into_iter()
                    .find_map(|(shape, data)| data.as_ref().map(|data| (shape, data)));
                    let Some((shape, data)) = with_exemplars else {
                        let summary = metric.summary.as_ref();
                        points += summary.map_or(0, |data| data.data_points.len() as u64);
                        continue;
                    };
                    for (p, point) in data.data_points.iter().enumerate() {
                        for (e, exemplar) in point.exemplars.iter().enumerate() {
                            let path = || {
                                format!(
                                    "resourceMetrics[{r}].scopeMetrics[{s}].metrics[{m}].{shape}.dataPoints[{p}].exemplars[{e}]"
                                )
                            };
                            check_count_id("traceId", path, exemplar.trace_id, Id::Optional(16))?;
                            check_count_id("spanId", path, exemplar.span_id, Id::Optional(8))?;
                        }
                    }
                    points += data.data_points.len() as u64;
                }
            }
        }
        Ok(points)
    }
}

/// A list, `null` read as empty: proto3 JSON reads `null` as the field's
/// default, and the full decoder ([`json_doubles`](super::json_doubles))
/// does.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// A span, log record or data point seen by counting: anything but `null`,
/// which the full decoder refuses where a message is expected.
struct CountItem;

impl<'de> Deserialize<'de> for CountItem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Option::<IgnoredAny>::deserialize(deserializer)? {
            Some(IgnoredAny) => Ok(CountItem),
            None => Err(serde::de::Error::invalid_type(
                serde::de::Unexpected::Unit,
                &"an object",
            )),
        }
    }
}
