//! What the request encoders need of one signal's records.
//!
//! Spans, log records and metrics travel in requests of the same shape:
//! records grouped by resource, then by scope (`ResourceSpans`/`ScopeSpans`/`Span`,
//! `ResourceLogs`/`ScopeLogs`/`LogRecord`, `ResourceMetrics`/`ScopeMetrics`/`Metric`),
//! with the same field numbers for the groups in protobuf. Grouping, measuring, the request writers (protobuf
//! in both modes, JSON) and splitting are written once, generic over
//! [`Signal`]; a signal adds only the encoding of its own record and the
//! JSON names of its groups. Each use is monomorphised: spans encode exactly
//! as they did before logs shared the code.

use std::sync::Arc;

use bytes::BufMut;

use super::{json, protobuf};
use crate::{InstrumentationScope, LogRecord, Metric, Resource, SpanData};

/// A record type whose batches encode as one OTLP export request.
pub(crate) trait Signal {
    /// JSON key of the request's resource groups (`resourceSpans`).
    const RESOURCE_GROUPS_KEY: &'static str;
    /// JSON key of a resource group's scope groups (`scopeSpans`).
    const SCOPE_GROUPS_KEY: &'static str;
    /// JSON key of a scope group's records (`spans`).
    const RECORDS_KEY: &'static str;

    /// The resource the record belongs to.
    fn resource(&self) -> &Arc<Resource>;
    /// The scope the record belongs to.
    fn scope(&self) -> &Arc<InstrumentationScope>;
    /// Exact protobuf length of the record's message body.
    fn protobuf_len(&self) -> usize;
    /// Writes the record's protobuf message body (no tag, no length prefix).
    fn put_protobuf<B: BufMut + ?Sized>(&self, buf: &mut B);
    /// Writes the record as a JSON object.
    fn put_json(&self, out: &mut Vec<u8>);
}

impl Signal for SpanData {
    const RESOURCE_GROUPS_KEY: &'static str = "resourceSpans";
    const SCOPE_GROUPS_KEY: &'static str = "scopeSpans";
    const RECORDS_KEY: &'static str = "spans";

    #[inline]
    fn resource(&self) -> &Arc<Resource> {
        &self.resource
    }

    #[inline]
    fn scope(&self) -> &Arc<InstrumentationScope> {
        &self.scope
    }

    #[inline]
    fn protobuf_len(&self) -> usize {
        protobuf::span_len(self)
    }

    #[inline]
    fn put_protobuf<B: BufMut + ?Sized>(&self, buf: &mut B) {
        protobuf::put_span(buf, self);
    }

    #[inline]
    fn put_json(&self, out: &mut Vec<u8>) {
        json::put_span(out, self);
    }
}

impl Signal for LogRecord {
    const RESOURCE_GROUPS_KEY: &'static str = "resourceLogs";
    const SCOPE_GROUPS_KEY: &'static str = "scopeLogs";
    const RECORDS_KEY: &'static str = "logRecords";

    #[inline]
    fn resource(&self) -> &Arc<Resource> {
        &self.resource
    }

    #[inline]
    fn scope(&self) -> &Arc<InstrumentationScope> {
        &self.scope
    }

    #[inline]
    fn protobuf_len(&self) -> usize {
        protobuf::log_len(self)
    }

    #[inline]
    fn put_protobuf<B: BufMut + ?Sized>(&self, buf: &mut B) {
        protobuf::put_log(buf, self);
    }

    #[inline]
    fn put_json(&self, out: &mut Vec<u8>) {
        json::put_log(out, self);
    }
}

/// A metric is the record of the metrics signal: one `Metric` message with
/// all its data points. Requests are grouped, measured and split by metric.
impl Signal for Metric {
    const RESOURCE_GROUPS_KEY: &'static str = "resourceMetrics";
    const SCOPE_GROUPS_KEY: &'static str = "scopeMetrics";
    const RECORDS_KEY: &'static str = "metrics";

    #[inline]
    fn resource(&self) -> &Arc<Resource> {
        &self.resource
    }

    #[inline]
    fn scope(&self) -> &Arc<InstrumentationScope> {
        &self.scope
    }

    #[inline]
    fn protobuf_len(&self) -> usize {
        protobuf::metric_len(self)
    }

    #[inline]
    fn put_protobuf<B: BufMut + ?Sized>(&self, buf: &mut B) {
        protobuf::put_metric(buf, self);
    }

    #[inline]
    fn put_json(&self, out: &mut Vec<u8>) {
        json::put_metric(out, self);
    }
}
