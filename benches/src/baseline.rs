//! The baseline encoding path: what `opentelemetry-otlp` 0.33 does with a
//! batch of `opentelemetry_sdk` spans before it sends them.
//!
//! Per batch, `opentelemetry-otlp`'s exporters call
//! `opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope`
//! on the owned `Vec<SpanData>` and the resource converted once at setup,
//! wrap the result in an `ExportTraceServiceRequest`, and encode it with prost
//! (gRPC and HTTP/protobuf) or serde_json (HTTP/JSON). [`BaselineEncoder`]
//! does exactly that, with two simplifications that can only make the
//! baseline faster, never slower:
//!
//! - it encodes into a caller-supplied, reused buffer (the exporter calls
//!   `encode_to_vec`, a fresh allocation per batch), and writes compact JSON
//!   (the HTTP exporter writes `to_string_pretty`);
//! - it converts the batch it is given; the gRPC exporter first clones the
//!   whole batch (`(*batch).clone()`, kept for retries), which is not timed here.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::SpanData;
use otlp_core::encode::Encoding;
use prost::Message;

/// The opentelemetry-rust encoding path, set up once per exporter like
/// `opentelemetry-otlp` does (the resource is converted once, in `new`).
///
/// Cost model: each call converts every span into `opentelemetry-proto`'s
/// generated structs (a `String` or `Vec<u8>` per id, name, key and value),
/// encodes them, then frees them; it consumes the batch.
#[derive(Debug)]
pub struct BaselineEncoder {
    resource: ResourceAttributesWithSchema,
}

impl BaselineEncoder {
    /// An encoder for spans from `resource`.
    pub fn new(resource: &opentelemetry_sdk::Resource) -> Self {
        BaselineEncoder {
            resource: ResourceAttributesWithSchema::from(resource),
        }
    }

    /// The request `opentelemetry-otlp` would send for `spans`.
    pub fn request(&self, spans: Vec<SpanData>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(spans, &self.resource),
        }
    }

    /// Converts `spans` and encodes the request in `encoding`, appending to
    /// `out`; returns the bytes written. The request is dropped before returning.
    pub fn encode(&self, encoding: Encoding, spans: Vec<SpanData>, out: &mut Vec<u8>) -> usize {
        let request = self.request(spans);
        let start = out.len();
        match encoding {
            Encoding::Protobuf => request
                .encode(out)
                .expect("a Vec<u8> has room for any request"),
            Encoding::Json => serde_json::to_writer(&mut *out, &request)
                .expect("generated OTLP types always serialize to JSON"),
        }
        out.len() - start
    }
}
