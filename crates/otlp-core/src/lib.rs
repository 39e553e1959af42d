//! # otlp-core: the span, log and metric models and the OTLP wire formats
//!
//! This crate is the foundation of the `otlp-rust` workspace. It holds the
//! data a finished span, an emitted log record or a collected metric carries
//! and turns batches of them into OTLP request bodies. It has no async
//! runtime, no network code and no dependency on `opentelemetry`: everything
//! here is plain data and plain functions over buffers, so any pipeline can
//! build on it.
//!
//! ## The model
//!
//! - [`TraceId`] and [`SpanId`]: `Copy` byte arrays with hex forms and fast
//!   random generation. [`SpanContext`] adds [`TraceFlags`] (`sampled`,
//!   W3C level 2's `random`, B3's debug flag) and the W3C
//!   [`TraceState`], and parses and formats the W3C `traceparent` header and
//!   the B3 headers of Zipkin ([`SpanContext::from_b3`]).
//! - [`propagation`]: [`Propagators`](propagation::Propagators), the header
//!   formats a program extracts and injects (what `OTEL_PROPAGATORS` names:
//!   W3C Trace Context, B3 single, B3 multi), over any carrier of headers.
//! - [`Str`]: the string of every name, key and value. Static text is free to
//!   clone; dynamic text of up to 23 bytes is stored inline (no allocation),
//!   longer text is an `Arc<str>` and clones with one counter increment.
//! - [`AnyValue`] and [`KeyValue`]: attributes, covering all of OTLP's `AnyValue`
//!   (string, bool, int, double, bytes, array, key-value list).
//! - [`Resource`] and [`InstrumentationScope`]: shared by `Arc` between spans
//!   and log records.
//! - [`SpanData`]: a finished span with every field of OTLP's `Span`.
//! - [`LogRecord`]: a log record with every field of OTLP's `LogRecord`
//!   (times, [`Severity`] number and text, a body that is any [`AnyValue`],
//!   attributes, flags, the ids of the span it belongs to, event name).
//! - [`Metric`]: one instrument's state at a collection, in OTLP's shapes
//!   ([`MetricData`]: gauge, sum, explicit and exponential histogram, summary),
//!   with [`Exemplar`]s.
//! - [`clock::now_unix_nanos`]: span and log timestamps, read from the wall clock
//!   (`CLOCK_REALTIME`) every time.
//!
//! ## The wire
//!
//! - [`encode::TraceEncoder`] writes an `ExportTraceServiceRequest` straight
//!   from `SpanData` as protobuf or OTLP/JSON, grouping spans by resource and
//!   scope, with exact lengths and no allocation once warm; it also splits a
//!   batch so no request exceeds a size limit. [`encode::LogEncoder`] does
//!   the same for log records (`ExportLogsServiceRequest`) and
//!   [`encode::MetricEncoder`] for metrics (`ExportMetricsServiceRequest`,
//!   split between metrics, never inside one), with the same code: only the
//!   record's own message differs between the signals.
//! - [`encode::record`] encodes one span, log record or metric on its own;
//!   [`encode::frame`] writes the request framing around such records (the
//!   same bytes for every signal); [`encode::trace_request_to_json`],
//!   [`encode::logs_request_to_json`] and [`encode::metrics_request_to_json`]
//!   transcode protobuf requests to OTLP/JSON.
//! - [`wire`] has the protobuf primitives, a reader for received bytes and
//!   counters of what a request holds (spans, log records, data points);
//!   [`response`] decodes what receivers answer (partial success, `google.rpc.Status`,
//!   `RetryInfo`).
//!
//! ## Example
//!
//! ```
//! use std::sync::Arc;
//! use otlp_core::encode::{LogEncoder, MetricEncoder, TraceEncoder};
//! use otlp_core::{
//!     Exemplar, KeyValue, LogRecord, Metric, MetricData, NumberDataPoint, Resource, Severity,
//!     SpanContext, SpanData, SpanId, SpanKind, Sum, Temporality,
//! };
//!
//! let resource = Arc::new(Resource::new([KeyValue::new("service.name", "checkout")]));
//! let parent = SpanContext::from_traceparent(
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
//! )?;
//! let span = SpanData::builder("POST /cart")
//!     .parent(&parent)
//!     .span_id(SpanId::random())
//!     .kind(SpanKind::Server)
//!     .attribute(KeyValue::new("http.response.status_code", 201))
//!     .resource(resource)
//!     .build();
//!
//! let mut body = Vec::new();
//! let written = TraceEncoder::new().encode_protobuf(&[span.clone()], &mut body);
//! assert_eq!(written, body.len());
//!
//! // A log record emitted inside the span, in the same resource.
//! let log = LogRecord::builder()
//!     .severity(Severity::INFO)
//!     .body("cart updated")
//!     .span_context(&span.span_context())
//!     .resource(span.resource.clone())
//!     .build();
//! let mut body = Vec::new();
//! LogEncoder::new().encode_protobuf(&[log], &mut body);
//!
//! // A counter of carts updated, with the span as the exemplar of its point.
//! let (start, end) = (1_700_000_000_000_000_000, 1_700_000_060_000_000_000);
//! let mut point = NumberDataPoint::int(Vec::new(), start, end, 1);
//! point.exemplars.push(Exemplar {
//!     filtered_attributes: Vec::new(),
//!     time_unix_nano: end,
//!     value: 1i64.into(),
//!     span_id: Some(span.span_id),
//!     trace_id: Some(span.trace_id),
//! });
//! let sum = Sum { data_points: vec![point], temporality: Temporality::Delta, is_monotonic: true };
//! let carts = Metric::new("cart.updates", MetricData::Sum(sum)).with_resource(span.resource);
//! let mut body = Vec::new();
//! MetricEncoder::new().encode_protobuf(&[carts], &mut body);
//! # Ok::<(), otlp_core::TraceParentError>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![deny(unsafe_code)]

mod b3;
pub mod clock;
pub mod encode;
mod error;
mod id;
mod log;
mod metric;
pub mod printable;
pub mod propagation;
mod resource;
pub mod response;
mod scope;
mod span;
mod span_context;
mod string;
mod trace_state;
mod value;
pub mod wire;

pub use b3::{B3_SINGLE_LEN, B3MultiHeaders};
pub use error::{B3Error, DecodeError, IdError, TraceParentError, TraceStateError};
pub use id::{SpanId, TraceId};
pub use log::{LogRecord, LogRecordBuilder, Severity};
pub use metric::{
    Exemplar, ExponentialBuckets, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, MetricData, NO_RECORDED_VALUE, NumberDataPoint,
    NumberValue, Sum, Summary, SummaryDataPoint, Temporality, ValueAtQuantile,
};
pub use resource::Resource;
pub use scope::InstrumentationScope;
pub use span::{Event, Link, SpanData, SpanDataBuilder, SpanFlags, SpanKind, Status};
pub use span_context::{SpanContext, TraceFlags};
pub use string::Str;
pub use trace_state::{MAX_TRACE_STATE_MEMBERS, TraceState};
pub use value::{AnyValue, KeyValue};

// The README's examples, compiled as doctests (and run, but for the `no_run`
// ones) so that they keep up with the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
