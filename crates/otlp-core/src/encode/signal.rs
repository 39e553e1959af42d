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

//!
//! The three record types' implementations live in
//! [`signal_records`](super::signal_records), beside the encoders they
//! call, so that the encoders, generic over this trait, and the records,
//! which call the encoders, import each other in no circle.

use std::sync::Arc;

use bytes::BufMut;

use crate::{InstrumentationScope, Resource};

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
