//! Encoding a batch of spans, log records or metrics as an OTLP export
//! request (`ExportTraceServiceRequest`, `ExportLogsServiceRequest`,
//! `ExportMetricsServiceRequest`).
//!
//! [`TraceEncoder`] writes protobuf ([`TraceEncoder::encode_protobuf`]) or
//! OTLP/JSON ([`TraceEncoder::encode_json`]) straight from [`SpanData`] into a
//! caller-supplied buffer; [`LogEncoder`] does the same from [`LogRecord`] and
//! [`MetricEncoder`] from [`Metric`].
//! Records are grouped by resource and then by instrumentation scope, as the
//! protocol requires; within a group they keep their batch order.
//!
//! The encoder owns a little scratch space (group tables and per-record
//! lengths). Keep one encoder per export loop: once its scratch and the output
//! buffer have grown to the batch size, encoding allocates nothing.
//!
//! Grouping compares `Arc` pointers first and falls back to comparing values,
//! so records whose resources are equal but separately allocated still share
//! one `ResourceSpans` (`ResourceLogs`).
//!
//! The signals share everything but their record: grouping, the resource,
//! scope, attribute and `AnyValue` encodings, the protobuf and JSON request
//! writers, splitting and the transcoder's walker are written once. The
//! protobuf framing is even the same bytes: `ResourceLogs`/`ScopeLogs` and
//! `ResourceMetrics`/`ScopeMetrics` have the field numbers of
//! `ResourceSpans`/`ScopeSpans` (resource 1, scope groups 2, schema URL 3;
//! scope 1, records 2, schema URL 3). For metrics the record is a whole
//! [`Metric`], all its data points in one message: a metric is never cut
//! across requests.
//!
//! The "encode once" path (issue 13) is the other way to a request:
//! [`record::encode_span`] (or [`record::encode_log`], [`record::encode_metric`])
//! encodes each record on its own, when it ends, into the bytes of one OTLP
//! `Span` (`LogRecord`, `Metric`), and
//! [`frame::write_request`] later writes only the `ResourceX`/`ScopeX`
//! framing around records that are already encoded, giving the same bytes as
//! [`TraceEncoder`] ([`LogEncoder`], [`MetricEncoder`]).

pub mod frame;
mod grouping;
mod json;
pub(crate) mod kv_list;
mod protobuf;
pub mod record;
mod signal;
mod signal_records;
mod split;
mod transcode;

use std::sync::Arc;

use bytes::BufMut;

pub use split::Chunk;
pub use transcode::{
    TranscodeError, logs_request_to_json, metrics_request_to_json, trace_request_to_json,
};

use crate::{LogRecord, Metric, SpanData};
use grouping::Groups;
use signal::Signal;

/// The two OTLP body encodings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Binary protobuf (`application/x-protobuf`, and gRPC).
    #[default]
    Protobuf,
    /// OTLP/JSON (`application/json`).
    Json,
}

impl Encoding {
    /// The HTTP `Content-Type` for this encoding.
    pub const fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// The largest request the OTLP specification lets a client send: 64 MiB.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// How deep arrays and key-value lists may nest inside an attribute's value
/// or a log record's body: one nested deeper is written as an empty value
/// (an `AnyValue` with none of its fields), by the protobuf and the OTLP/JSON
/// encoders alike. Past some 35–45 levels (it depends on where the value
/// sits in the request) receivers built on prost refuse the whole request
/// (its recursion limit of 100 messages), and OTLP/JSON readers on
/// serde_json likewise (128 JSON levels): one such attribute would make
/// every record of its batch fail. 16 levels keep every position well
/// within both, and real data rarely nests past a few.
///
/// ```
/// use otlp_core::encode::{MAX_VALUE_DEPTH, TraceEncoder};
/// use otlp_core::{AnyValue, KeyValue, SpanData};
///
/// let mut value = AnyValue::from("leaf");
/// for _ in 0..MAX_VALUE_DEPTH + 10 {
///     value = AnyValue::Array(vec![value].into());
/// }
/// let span = SpanData::builder("deep").attribute(KeyValue::new("nested", value)).build();
/// let mut body = Vec::new();
/// TraceEncoder::new().encode_protobuf(&[span], &mut body);
/// assert_eq!(otlp_core::wire::count_spans(&body)?, 1);
/// # Ok::<(), otlp_core::DecodeError>(())
/// ```
pub const MAX_VALUE_DEPTH: usize = 16;

/// The most `encode` reserves in the output ahead of a protobuf request
/// (the last request's bytes per record times the records): a batch of 512
/// spans of 8 KiB, more than the usual batch needs. Past it the output grows
/// as a `Vec` grows, so one large record alone in a batch does not make the
/// next batch reserve its size for each of its records.
const MAX_RESERVED_BYTES: usize = 4 * 1024 * 1024;

/// The largest JSON scratch an encoder keeps after a split: one record's
/// JSON at a time is measured there, and a megabyte is a very large record.
/// A larger scratch (a record of megabytes was measured) is freed once the
/// split is done, so that it does not hold its size for the encoder's life.
const MAX_KEPT_SCRATCH_BYTES: usize = 1024 * 1024;

/// Encodes batches of spans into OTLP request bodies; reuse it across batches.
///
/// Cost model: no allocation once warm (scratch grown to the batch size and
/// the output buffer's capacity reserved); one pass to group, then
/// [`encode`](Self::encode) writes protobuf in one more pass, learning each
/// message's length as it writes it (a length prefix is guessed from the last
/// request and the message moved in the rare case the guess was wrong), while
/// [`encode_protobuf`](Self::encode_protobuf) and [`split`](Self::split)
/// measure first; no intermediate structs; strings are copied once, into the
/// output.
///
/// ```
/// use otlp_core::encode::TraceEncoder;
/// use otlp_core::{KeyValue, SpanData};
///
/// let spans = vec![SpanData::builder("checkout").attribute(KeyValue::new("items", 3)).build()];
/// let mut encoder = TraceEncoder::new();
/// let mut body = Vec::new();
/// encoder.encode_protobuf(&spans, &mut body);
/// assert_eq!(body.len(), encoder.encoded_len(&spans));
/// ```
#[derive(Debug, Default)]
pub struct TraceEncoder {
    batch: BatchEncoder,
}

impl TraceEncoder {
    /// A new encoder with empty scratch space.
    pub fn new() -> Self {
        TraceEncoder::default()
    }

    /// Exact protobuf size of the request for `spans`.
    pub fn encoded_len(&mut self, spans: &[SpanData]) -> usize {
        self.batch.encoded_len(spans)
    }

    /// Writes the protobuf `ExportTraceServiceRequest` for `spans` into `buf`
    /// (appending). Returns the bytes written, which is exactly
    /// [`encoded_len`](Self::encoded_len). For a `Vec<u8>` output prefer
    /// [`encode`](Self::encode), which skips the measuring pass.
    pub fn encode_protobuf<B: BufMut + ?Sized>(
        &mut self,
        spans: &[SpanData],
        buf: &mut B,
    ) -> usize {
        self.batch.encode_protobuf(spans, buf)
    }

    /// Writes the OTLP/JSON request for `spans` into `out` (appending).
    /// Returns the bytes written.
    pub fn encode_json(&mut self, spans: &[SpanData], out: &mut Vec<u8>) -> usize {
        self.batch.encode_json(spans, out)
    }

    /// Encodes `spans` in `encoding`, appending to `out`; returns the bytes written.
    pub fn encode(&mut self, encoding: Encoding, spans: &[SpanData], out: &mut Vec<u8>) -> usize {
        self.batch.encode(encoding, spans, out)
    }

    /// Cuts `spans` into consecutive chunks whose requests each encode (in
    /// `encoding`) to at most `max_bytes`. A span that alone exceeds the limit
    /// becomes [`Chunk::Oversized`] so the caller can count it as dropped.
    /// The chunk sizes are upper bounds computed without encoding the
    /// requests; [`MAX_REQUEST_BYTES`] is the specification's limit.
    ///
    /// ```
    /// use otlp_core::encode::{Chunk, Encoding, TraceEncoder};
    /// use otlp_core::{KeyValue, SpanData};
    ///
    /// let spans: Vec<SpanData> = (0..100)
    ///     .map(|i| SpanData::builder("op").attribute(KeyValue::new("i", i)).build())
    ///     .collect();
    /// let mut encoder = TraceEncoder::new();
    /// let chunks = encoder.split(&spans, 1_000, Encoding::Protobuf);
    /// assert!(chunks.len() > 1);
    /// for chunk in chunks {
    ///     let Chunk::Fits(range) = chunk else { panic!("no span is that big") };
    ///     assert!(encoder.encoded_len(&spans[range]) <= 1_000);
    /// }
    /// ```
    pub fn split(
        &mut self,
        spans: &[SpanData],
        max_bytes: usize,
        encoding: Encoding,
    ) -> Vec<Chunk> {
        self.batch.split(spans, max_bytes, encoding)
    }
}

/// Encodes batches of log records into OTLP `ExportLogsServiceRequest`
/// bodies; reuse it across batches. The log twin of [`TraceEncoder`]: the
/// same grouping (by resource, then scope, batch order within a group), the
/// same writers and the same cost model; only the record differs.
///
/// ```
/// use otlp_core::encode::{Encoding, LogEncoder, logs_request_to_json};
/// use otlp_core::{LogRecord, Severity};
///
/// let logs = vec![LogRecord::builder().severity(Severity::INFO).body("started").build()];
/// let mut encoder = LogEncoder::new();
/// let mut protobuf = Vec::new();
/// encoder.encode(Encoding::Protobuf, &logs, &mut protobuf);
/// assert_eq!(protobuf.len(), encoder.encoded_len(&logs));
///
/// let mut json = Vec::new();
/// encoder.encode_json(&logs, &mut json);
/// let mut transcoded = Vec::new();
/// logs_request_to_json(&protobuf, &mut transcoded)?;
/// assert_eq!(transcoded, json);
/// # Ok::<(), otlp_core::encode::TranscodeError>(())
/// ```
#[derive(Debug, Default)]
pub struct LogEncoder {
    batch: BatchEncoder,
}

impl LogEncoder {
    /// A new encoder with empty scratch space.
    pub fn new() -> Self {
        LogEncoder::default()
    }

    /// Exact protobuf size of the request for `logs`.
    pub fn encoded_len(&mut self, logs: &[LogRecord]) -> usize {
        self.batch.encoded_len(logs)
    }

    /// Writes the protobuf `ExportLogsServiceRequest` for `logs` into `buf`
    /// (appending). Returns the bytes written, which is exactly
    /// [`encoded_len`](Self::encoded_len). For a `Vec<u8>` output prefer
    /// [`encode`](Self::encode), which skips the measuring pass.
    pub fn encode_protobuf<B: BufMut + ?Sized>(
        &mut self,
        logs: &[LogRecord],
        buf: &mut B,
    ) -> usize {
        self.batch.encode_protobuf(logs, buf)
    }

    /// Writes the OTLP/JSON request for `logs` into `out` (appending).
    /// Returns the bytes written.
    pub fn encode_json(&mut self, logs: &[LogRecord], out: &mut Vec<u8>) -> usize {
        self.batch.encode_json(logs, out)
    }

    /// Encodes `logs` in `encoding`, appending to `out`; returns the bytes written.
    pub fn encode(&mut self, encoding: Encoding, logs: &[LogRecord], out: &mut Vec<u8>) -> usize {
        self.batch.encode(encoding, logs, out)
    }

    /// Cuts `logs` into consecutive chunks whose requests each encode (in
    /// `encoding`) to at most `max_bytes`; a record that alone exceeds the
    /// limit becomes [`Chunk::Oversized`]. As [`TraceEncoder::split`].
    pub fn split(
        &mut self,
        logs: &[LogRecord],
        max_bytes: usize,
        encoding: Encoding,
    ) -> Vec<Chunk> {
        self.batch.split(logs, max_bytes, encoding)
    }
}

/// Encodes batches of metrics into OTLP `ExportMetricsServiceRequest`
/// bodies; reuse it across batches. The metric twin of [`TraceEncoder`]: the
/// same grouping (by resource, then scope, batch order within a group), the
/// same writers and the same cost model; the record is one [`Metric`] with
/// all its data points.
///
/// The unit of everything here is the metric: [`split`](Self::split) cuts
/// between metrics, never inside one, and a metric whose request alone
/// exceeds the limit is [`Chunk::Oversized`], which loses
/// [`data_point_count`](crate::MetricData::data_point_count) data points,
/// the unit in which OTLP counts (`rejected_data_points`) and exporters
/// should report drops. [`data_points`](Self::data_points) counts them for a
/// chunk.
///
/// ```
/// use otlp_core::encode::{Chunk, Encoding, MetricEncoder, metrics_request_to_json};
/// use otlp_core::{Gauge, Metric, MetricData, NumberDataPoint};
///
/// let metrics = vec![
///     Metric::new(
///         "process.cpu.utilization",
///         MetricData::Gauge(Gauge {
///             data_points: vec![NumberDataPoint::double(Vec::new(), 0, 1_700_000_000_000_000_000, 0.25)],
///         }),
///     )
///     .with_unit("1"),
/// ];
/// let mut encoder = MetricEncoder::new();
/// let mut protobuf = Vec::new();
/// encoder.encode(Encoding::Protobuf, &metrics, &mut protobuf);
/// assert_eq!(protobuf.len(), encoder.encoded_len(&metrics));
///
/// let mut json = Vec::new();
/// encoder.encode_json(&metrics, &mut json);
/// let mut transcoded = Vec::new();
/// metrics_request_to_json(&protobuf, &mut transcoded)?;
/// assert_eq!(transcoded, json);
///
/// let chunks = encoder.split(&metrics, 1_000, Encoding::Protobuf);
/// assert_eq!(chunks, vec![Chunk::Fits(0..1)]);
/// assert_eq!(MetricEncoder::data_points(&metrics, &chunks[0]), 1);
/// # Ok::<(), otlp_core::encode::TranscodeError>(())
/// ```
#[derive(Debug, Default)]
pub struct MetricEncoder {
    batch: BatchEncoder,
}

impl MetricEncoder {
    /// A new encoder with empty scratch space.
    pub fn new() -> Self {
        MetricEncoder::default()
    }

    /// Exact protobuf size of the request for `metrics`.
    pub fn encoded_len(&mut self, metrics: &[Metric]) -> usize {
        self.batch.encoded_len(metrics)
    }

    /// Writes the protobuf `ExportMetricsServiceRequest` for `metrics` into
    /// `buf` (appending). Returns the bytes written, which is exactly
    /// [`encoded_len`](Self::encoded_len). For a `Vec<u8>` output prefer
    /// [`encode`](Self::encode), which skips the measuring pass.
    pub fn encode_protobuf<B: BufMut + ?Sized>(
        &mut self,
        metrics: &[Metric],
        buf: &mut B,
    ) -> usize {
        self.batch.encode_protobuf(metrics, buf)
    }

    /// Writes the OTLP/JSON request for `metrics` into `out` (appending).
    /// Returns the bytes written.
    pub fn encode_json(&mut self, metrics: &[Metric], out: &mut Vec<u8>) -> usize {
        self.batch.encode_json(metrics, out)
    }

    /// Encodes `metrics` in `encoding`, appending to `out`; returns the bytes written.
    pub fn encode(&mut self, encoding: Encoding, metrics: &[Metric], out: &mut Vec<u8>) -> usize {
        self.batch.encode(encoding, metrics, out)
    }

    /// Cuts `metrics` into consecutive chunks whose requests each encode (in
    /// `encoding`) to at most `max_bytes`, as [`TraceEncoder::split`]; the
    /// cut falls between metrics. A metric that alone exceeds the limit
    /// becomes [`Chunk::Oversized`]: count its
    /// [`data_point_count`](crate::MetricData::data_point_count) (or
    /// [`data_points`](Self::data_points) of the chunk) as dropped.
    pub fn split(
        &mut self,
        metrics: &[Metric],
        max_bytes: usize,
        encoding: Encoding,
    ) -> Vec<Chunk> {
        self.batch.split(metrics, max_bytes, encoding)
    }

    /// How many data points the metrics of `chunk` (a chunk of `metrics`
    /// from [`split`](Self::split)) hold: what a request of them delivers,
    /// or what an oversized metric loses.
    pub fn data_points(metrics: &[Metric], chunk: &Chunk) -> usize {
        let range = match chunk {
            Chunk::Fits(range) => range.clone(),
            Chunk::Oversized(index) => *index..*index + 1,
        };
        metrics[range]
            .iter()
            .map(|metric| metric.data.data_point_count())
            .sum()
    }
}

/// The state and the work of [`TraceEncoder`], [`LogEncoder`] and [`MetricEncoder`], generic
/// over the record type (each use is monomorphised). The scratch is not: one
/// encoder encodes one signal, so what it learns (prefix sizes, bytes per
/// record) fits the next batch.
#[derive(Debug, Default)]
struct BatchEncoder {
    groups: Groups,
    /// Protobuf length of each record body, by batch index.
    span_lens: Vec<usize>,
    /// Scratch for JSON measurement while splitting (kept up to
    /// [`MAX_KEPT_SCRATCH_BYTES`]).
    json_scratch: Vec<u8>,
    /// Length-prefix sizes of the last protobuf request, the guesses for the next.
    prefix_guesses: protobuf::PrefixGuesses,
    /// Protobuf bytes per record of the last request, to reserve the next
    /// (at most [`MAX_RESERVED_BYTES`]).
    bytes_per_span: usize,
}

impl BatchEncoder {
    fn encoded_len<T: Signal>(&mut self, spans: &[T]) -> usize {
        self.groups.build(spans);
        self.measure(spans)
    }

    fn encode_protobuf<T: Signal, B: BufMut + ?Sized>(
        &mut self,
        spans: &[T],
        buf: &mut B,
    ) -> usize {
        self.groups.build(spans);
        let len = self.measure(spans);
        protobuf::write_request(&self.groups, &self.span_lens, spans, buf);
        len
    }

    fn encode_json<T: Signal>(&mut self, spans: &[T], out: &mut Vec<u8>) -> usize {
        self.groups.build(spans);
        let start = out.len();
        json::write_request(&self.groups, spans, out);
        out.len() - start
    }

    fn encode<T: Signal>(&mut self, encoding: Encoding, spans: &[T], out: &mut Vec<u8>) -> usize {
        match encoding {
            Encoding::Protobuf => {
                self.groups.build(spans);
                let start = out.len();
                let expected = self.bytes_per_span.saturating_mul(spans.len() + 1);
                out.reserve(expected.min(MAX_RESERVED_BYTES));
                protobuf::write_request_in_one_pass(
                    &self.groups,
                    spans,
                    out,
                    &mut self.prefix_guesses,
                );
                let len = out.len() - start;
                if !spans.is_empty() {
                    // With some slack, so that the next batch rarely grows the output.
                    self.bytes_per_span = (len / spans.len()).saturating_add(16);
                }
                len
            }
            Encoding::Json => self.encode_json(spans, out),
        }
    }

    fn split<T: Signal>(
        &mut self,
        spans: &[T],
        max_bytes: usize,
        encoding: Encoding,
    ) -> Vec<Chunk> {
        self.groups.build(spans);
        match encoding {
            Encoding::Protobuf => {
                self.measure(spans);
                split::split_protobuf(&self.groups, &self.span_lens, spans, max_bytes)
            }
            Encoding::Json => {
                let chunks =
                    split::split_json(&self.groups, spans, max_bytes, &mut self.json_scratch);
                if self.json_scratch.capacity() > MAX_KEPT_SCRATCH_BYTES {
                    self.json_scratch = Vec::new();
                }
                chunks
            }
        }
    }

    /// Measures every record and group for the current grouping; returns the request length.
    fn measure<T: Signal>(&mut self, spans: &[T]) -> usize {
        self.span_lens.clear();
        self.span_lens.extend(spans.iter().map(T::protobuf_len));
        protobuf::measure_groups(&mut self.groups, &self.span_lens, spans)
    }
}

/// A resource or scope compared as its encoding: equal when the bytes are.
trait WireEq {
    fn wire_eq(&self, other: &Self) -> bool;
}

impl WireEq for crate::Resource {
    fn wire_eq(&self, other: &Self) -> bool {
        crate::Resource::wire_eq(self, other)
    }
}

impl WireEq for crate::InstrumentationScope {
    fn wire_eq(&self, other: &Self) -> bool {
        crate::InstrumentationScope::wire_eq(self, other)
    }
}

/// Whether two shared values are the same on the wire: same allocation (the
/// common case, one comparison), or contents that encode to the same bytes
/// (doubles by bit pattern: `0.0` and `-0.0` are two resources, equal
/// resources holding a NaN one).
fn same_shared<T: WireEq>(a: &Arc<T>, b: &Arc<T>) -> bool {
    Arc::ptr_eq(a, b) || a.wire_eq(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyValue;

    #[test]
    fn splitting_a_large_span_as_json_does_not_keep_its_size() {
        // The JSON split measures each span, and a span over the limit as a
        // request of its own, in the encoder's scratch: one span of 8 MiB
        // kept 8 MiB there for the encoder's life (an exporter's).
        let large = SpanData::builder("large")
            .attribute(KeyValue::new("blob", "x".repeat(8 * 1024 * 1024)))
            .build();
        let small = SpanData::builder("small").build();
        let mut encoder = TraceEncoder::new();
        let chunks = encoder.split(&[small.clone(), large, small], 1024 * 1024, Encoding::Json);
        assert_eq!(
            chunks,
            vec![Chunk::Fits(0..1), Chunk::Oversized(1), Chunk::Fits(2..3)]
        );
        assert!(
            encoder.batch.json_scratch.capacity() <= MAX_KEPT_SCRATCH_BYTES,
            "{} bytes kept",
            encoder.batch.json_scratch.capacity()
        );
    }
}
