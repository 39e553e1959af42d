//! # otlp-core: the span, log and metric models and the OTLP wire formats
//!
//! This crate is the foundation of the `otlp-rust` workspace. It holds the
//! data a finished span or an emitted log record carries and turns batches of
//! them into OTLP request bodies. It has no async runtime, no network code and no dependency on
//! `opentelemetry`: everything here is plain data and plain functions over
//! buffers, so any pipeline can build on it.
//!
//! ## The model
//!
//! - [`TraceId`] and [`SpanId`]: `Copy` byte arrays with hex forms and fast
//!   random generation. [`SpanContext`] adds [`TraceFlags`] and the W3C
//!   [`TraceState`], and parses and formats the W3C `traceparent` header.
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
//!   the same for log records (`ExportLogsServiceRequest`), with the same
//!   code: only the record's own message differs between the signals.
//! - [`encode::record`] encodes one span or log record on its own, when it
//!   ends; [`encode::frame`] writes the request framing around such records
//!   (the same bytes for both signals); [`encode::trace_request_to_json`] and
//!   [`encode::logs_request_to_json`] transcode protobuf requests to OTLP/JSON.
//! - [`wire`] has the protobuf primitives and a reader for received bytes;
//!   [`response`] decodes what receivers answer (partial success, `google.rpc.Status`,
//!   `RetryInfo`).
//!
//! ## Example
//!
//! ```
//! use std::sync::Arc;
//! use otlp_core::encode::{LogEncoder, TraceEncoder};
//! use otlp_core::{
//!     KeyValue, LogRecord, Resource, Severity, SpanContext, SpanData, SpanId, SpanKind,
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
//! # Ok::<(), otlp_core::TraceParentError>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![deny(unsafe_code)]

pub mod clock;
pub mod encode;
mod error;
mod id;
mod log;
mod metric;
mod resource;
pub mod response;
mod scope;
mod span;
mod span_context;
mod string;
mod trace_state;
mod value;
pub mod wire;

pub use error::{DecodeError, IdError, TraceParentError, TraceStateError};
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
