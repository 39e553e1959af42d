//! Spans, log records and metrics as [`Signal`]s: each record type's
//! resource, scope and JSON group names, and the encoders of its own
//! message ([`protobuf`] and [`json`]).

use std::sync::Arc;

use bytes::BufMut;

use super::signal::Signal;
use super::{json, protobuf};
use crate::{InstrumentationScope, LogRecord, Metric, Resource, SpanData};

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
