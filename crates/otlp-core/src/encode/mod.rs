//! Encoding a batch of spans as an OTLP `ExportTraceServiceRequest`.
//!
//! [`TraceEncoder`] writes protobuf ([`TraceEncoder::encode_protobuf`]) or
//! OTLP/JSON ([`TraceEncoder::encode_json`]) straight from [`SpanData`] into a
//! caller-supplied buffer. Spans are grouped by resource and then by
//! instrumentation scope, as the protocol requires; within a group they keep
//! their batch order.
//!
//! The encoder owns a little scratch space (group tables and per-span
//! lengths). Keep one encoder per export loop: once its scratch and the output
//! buffer have grown to the batch size, encoding allocates nothing.
//!
//! Grouping compares `Arc` pointers first and falls back to comparing values,
//! so spans whose resources are equal but separately allocated still share one
//! `ResourceSpans`.
//!
//! The "encode once" path (issue 13) is the other way to a request:
//! [`record::encode_span`] encodes each span on its own, when it ends, into a
//! record (the bytes of one OTLP `Span`), and [`frame::write_request`] later
//! writes only the `ResourceSpans`/`ScopeSpans` framing around records that
//! are already encoded, giving the same bytes as [`TraceEncoder`].

pub mod frame;
mod grouping;
mod json;
mod protobuf;
pub mod record;
mod split;
mod transcode;

use std::sync::Arc;

use bytes::BufMut;

pub use split::Chunk;
pub use transcode::{TranscodeError, trace_request_to_json};

use crate::SpanData;
use grouping::Groups;

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
    groups: Groups,
    /// Protobuf length of each span body, by batch index.
    span_lens: Vec<usize>,
    /// Scratch for JSON measurement while splitting.
    json_scratch: Vec<u8>,
    /// Length-prefix sizes of the last protobuf request, the guesses for the next.
    prefix_guesses: protobuf::PrefixGuesses,
    /// Protobuf bytes per span of the last request, to reserve the next.
    bytes_per_span: usize,
}

impl TraceEncoder {
    /// A new encoder with empty scratch space.
    pub fn new() -> Self {
        TraceEncoder::default()
    }

    /// Exact protobuf size of the request for `spans`.
    pub fn encoded_len(&mut self, spans: &[SpanData]) -> usize {
        self.groups.build(spans);
        self.measure(spans)
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
        self.groups.build(spans);
        let len = self.measure(spans);
        protobuf::write_request(&self.groups, &self.span_lens, spans, buf);
        len
    }

    /// Writes the OTLP/JSON request for `spans` into `out` (appending).
    /// Returns the bytes written.
    pub fn encode_json(&mut self, spans: &[SpanData], out: &mut Vec<u8>) -> usize {
        self.groups.build(spans);
        let start = out.len();
        json::write_request(&self.groups, spans, out);
        out.len() - start
    }

    /// Encodes `spans` in `encoding`, appending to `out`; returns the bytes written.
    pub fn encode(&mut self, encoding: Encoding, spans: &[SpanData], out: &mut Vec<u8>) -> usize {
        match encoding {
            Encoding::Protobuf => {
                self.groups.build(spans);
                let start = out.len();
                out.reserve(self.bytes_per_span.saturating_mul(spans.len() + 1));
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
        self.groups.build(spans);
        match encoding {
            Encoding::Protobuf => {
                self.measure(spans);
                split::split_protobuf(&self.groups, &self.span_lens, spans, max_bytes)
            }
            Encoding::Json => {
                split::split_json(&self.groups, spans, max_bytes, &mut self.json_scratch)
            }
        }
    }

    /// Measures every span and group for the current grouping; returns the request length.
    fn measure(&mut self, spans: &[SpanData]) -> usize {
        self.span_lens.clear();
        self.span_lens.extend(spans.iter().map(protobuf::span_len));
        protobuf::measure_groups(&mut self.groups, &self.span_lens, spans)
    }
}

/// Whether two shared values are the same: same allocation, or equal contents.
fn same_shared<T: PartialEq>(a: &Arc<T>, b: &Arc<T>) -> bool {
    Arc::ptr_eq(a, b) || **a == **b
}
