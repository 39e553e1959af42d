//! A span or log record encoded once, when it ends (a metric, when it is
//! collected): the bytes of one OTLP `Span`, `LogRecord` or `Metric` message.
//!
//! A *record* is the body of one protobuf `opentelemetry.proto.trace.v1.Span`
//! (or `opentelemetry.proto.logs.v1.LogRecord`) message: no field tag and no
//! length prefix in front of it, nothing about its resource or scope inside
//! it. It is exactly what
//! [`TraceEncoder`](super::TraceEncoder) writes inside a `ScopeSpans.spans`
//! field for the same span (the same code writes both), so it decodes alone as
//! a `Span`, and [`frame::write_request`](super::frame::write_request) turns
//! records into a request by writing only the framing around them. Which
//! resource and scope a record belongs to is the caller's to keep next to it.
//! Log records work the same way ([`encode_log`], [`log_len`], with
//! [`LogEncoder`](super::LogEncoder)): their framing has the same field
//! numbers, so the same [`frame::write_request`](super::frame::write_request)
//! makes an `ExportLogsServiceRequest` of them. Metrics too ([`encode_metric`],
//! [`metric_len`], with [`MetricEncoder`](super::MetricEncoder)): a metric's
//! record is one `Metric` message, all its data points inside. A request
//! holds records of one signal only.
//!
//! Cost model: [`encode_span`] ([`encode_log`]) writes the record in one pass
//! over its fields.
//! Strings and bytes are copied once, into `out`; nothing is allocated
//! besides `out` growing (none at all into a buffer with room, such as a
//! `Vec` with capacity or a reserved `&mut [u8]`). Each nested message
//! (attribute, event, link, status, body) is measured just before its length
//! prefix is written; measuring reads lengths, not bytes, and values nested
//! in arrays and key-value lists are measured again at each level that
//! encloses them.
//! [`span_len`] ([`log_len`]) measures without writing, for a caller that must reserve
//! exactly the record's size before writing it (a byte ring's
//! reserve/commit).

use bytes::BufMut;

use super::protobuf;
use crate::{LogRecord, Metric, SpanData};

/// Appends the record of `span` to `out`: the body of one OTLP `Span`
/// message, without tag or length prefix. Writes exactly
/// [`span_len(span)`](span_len) bytes, the same bytes
/// [`TraceEncoder`](super::TraceEncoder) writes for this span inside a
/// request.
///
/// ```
/// use otlp_core::encode::record;
/// use otlp_core::{KeyValue, SpanData};
///
/// let span = SpanData::builder("checkout").attribute(KeyValue::new("items", 3)).build();
/// let mut records = Vec::new();
/// record::encode_span(&span, &mut records);
/// assert_eq!(records.len(), record::span_len(&span));
///
/// // Into a slice reserved at exactly the record's size.
/// let mut reserved = vec![0u8; record::span_len(&span)];
/// record::encode_span(&span, &mut reserved.as_mut_slice());
/// assert_eq!(reserved, records);
/// ```
pub fn encode_span<B: BufMut + ?Sized>(span: &SpanData, out: &mut B) {
    protobuf::put_span(out, span);
}

/// Exact size of the record [`encode_span`] writes for `span`, without
/// writing it.
pub fn span_len(span: &SpanData) -> usize {
    protobuf::span_len(span)
}

/// Appends the record of `log` to `out`: the body of one OTLP `LogRecord`
/// message, without tag or length prefix. Writes exactly
/// [`log_len(log)`](log_len) bytes, the same bytes
/// [`LogEncoder`](super::LogEncoder) writes for this record inside a request.
///
/// ```
/// use otlp_core::encode::{Encoding, LogEncoder, frame, record};
/// use otlp_core::{LogRecord, Severity};
///
/// let log = LogRecord::builder().severity(Severity::ERROR).body("payment failed").build();
/// let mut bytes = Vec::new();
/// record::encode_log(&log, &mut bytes);
/// assert_eq!(bytes.len(), record::log_len(&log));
///
/// // Framed later, as the export loop does: the encoder's request, byte for byte.
/// let groups = [(&*log.resource, [(&*log.scope, [bytes.as_slice()])])];
/// let mut framed = Vec::new();
/// frame::write_request(groups, &mut framed);
/// let mut encoded = Vec::new();
/// LogEncoder::new().encode(Encoding::Protobuf, &[log], &mut encoded);
/// assert_eq!(framed, encoded);
/// ```
pub fn encode_log<B: BufMut + ?Sized>(log: &LogRecord, out: &mut B) {
    protobuf::put_log(out, log);
}

/// Exact size of the record [`encode_log`] writes for `log`, without writing
/// it.
pub fn log_len(log: &LogRecord) -> usize {
    protobuf::log_len(log)
}

/// Appends the record of `metric` to `out`: the body of one OTLP `Metric`
/// message (name, description, unit, data with every data point, metadata),
/// without tag or length prefix. Writes exactly [`metric_len(metric)`](metric_len)
/// bytes, the same bytes [`MetricEncoder`](super::MetricEncoder) writes for
/// this metric inside a request.
///
/// ```
/// use otlp_core::encode::{Encoding, MetricEncoder, frame, record};
/// use otlp_core::{Metric, MetricData, NumberDataPoint, Sum, Temporality};
///
/// let metric = Metric::new(
///     "jobs.done",
///     MetricData::Sum(Sum {
///         data_points: vec![NumberDataPoint::int(Vec::new(), 1, 2, 7)],
///         temporality: Temporality::Delta,
///         is_monotonic: true,
///     }),
/// );
/// let mut bytes = Vec::new();
/// record::encode_metric(&metric, &mut bytes);
/// assert_eq!(bytes.len(), record::metric_len(&metric));
///
/// let groups = [(&*metric.resource, [(&*metric.scope, [bytes.as_slice()])])];
/// let mut framed = Vec::new();
/// frame::write_request(groups, &mut framed);
/// let mut encoded = Vec::new();
/// MetricEncoder::new().encode(Encoding::Protobuf, &[metric], &mut encoded);
/// assert_eq!(framed, encoded);
/// ```
pub fn encode_metric<B: BufMut + ?Sized>(metric: &Metric, out: &mut B) {
    protobuf::put_metric(out, metric);
}

/// Exact size of the record [`encode_metric`] writes for `metric`, without
/// writing it.
pub fn metric_len(metric: &Metric) -> usize {
    protobuf::metric_len(metric)
}
