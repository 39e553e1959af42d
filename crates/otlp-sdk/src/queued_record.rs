//! [`QueuedRecord`]: what a record of any signal tells the record queue.
//!
//! The queue (`record_queue`) keeps encoded bytes and a group naming their
//! resource and scope (handles a block holds for its records); the export loop writes the `Resource*`/`Scope*`
//! framing around them, whose field numbers are the same for spans and log
//! records. So all a record type has to give is its resource, its scope and
//! the bytes of its own OTLP message.

use std::sync::Arc;

use otlp_core::encode::record;
use otlp_core::{InstrumentationScope, LogRecord, Resource, SpanData};

/// A finished record on its way into the queue.
pub(crate) trait QueuedRecord {
    /// The resource it belongs to (shared, compared by address first).
    fn resource(&self) -> &Arc<Resource>;
    /// The scope that recorded it.
    fn scope(&self) -> &Arc<InstrumentationScope>;
    /// Appends the bytes of its OTLP message (`Span`, `LogRecord`), without
    /// tag or length, to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// The exact length of what [`encode`](Self::encode) appends, measured
    /// without writing it.
    fn encoded_len(&self) -> usize;
}

impl QueuedRecord for SpanData {
    #[inline]
    fn resource(&self) -> &Arc<Resource> {
        &self.resource
    }

    #[inline]
    fn scope(&self) -> &Arc<InstrumentationScope> {
        &self.scope
    }

    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        record::encode_span(self, out);
    }

    #[inline]
    fn encoded_len(&self) -> usize {
        record::span_len(self)
    }
}

impl QueuedRecord for LogRecord {
    #[inline]
    fn resource(&self) -> &Arc<Resource> {
        &self.resource
    }

    #[inline]
    fn scope(&self) -> &Arc<InstrumentationScope> {
        &self.scope
    }

    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        record::encode_log(self, out);
    }

    #[inline]
    fn encoded_len(&self) -> usize {
        record::log_len(self)
    }
}
