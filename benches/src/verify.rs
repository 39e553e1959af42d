//! Checks, before anything is timed, that otlp-core and the baseline encode
//! the same request: a benchmark that compares different work is worthless.
//!
//! Both sides' protobuf output is decoded with prost into
//! `opentelemetry-proto`'s `ExportTraceServiceRequest`, and both sides' JSON
//! with its serde support; all four must be equal, field for field, and hold
//! every span of the batch. With the fixtures of [`crate::fixtures`] the two
//! protobuf bodies are also identical byte for byte; [`Equivalence`] reports
//! whether they were.

use std::fmt;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otlp_core::encode::{Encoding, TraceEncoder};
use prost::Message;

use crate::baseline::BaselineEncoder;
use crate::fixtures::Batch;

/// What [`assert_same_requests`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Equivalence {
    /// Spans in each request.
    pub spans: usize,
    /// Size of otlp-core's protobuf body.
    pub protobuf_len: usize,
    /// Size of the baseline's protobuf body.
    pub baseline_protobuf_len: usize,
    /// Whether the two protobuf bodies are the same bytes.
    pub protobuf_identical: bool,
    /// Size of otlp-core's JSON body.
    pub json_len: usize,
    /// Size of the baseline's JSON body.
    pub baseline_json_len: usize,
}

impl fmt::Display for Equivalence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "same request checked: {} spans; protobuf {} B (otlp-core) vs {} B (baseline), {}; \
             JSON {} B vs {} B, equal once decoded",
            self.spans,
            self.protobuf_len,
            self.baseline_protobuf_len,
            if self.protobuf_identical {
                "byte-identical"
            } else {
                "equal once decoded"
            },
            self.json_len,
            self.baseline_json_len,
        )
    }
}

/// Encodes `batch` with otlp-core and with the baseline, in protobuf and in
/// JSON, decodes all four bodies with `opentelemetry-proto` and panics,
/// naming the first difference, unless they are the same request with every
/// span of the batch.
pub fn assert_same_requests(batch: &Batch) -> Equivalence {
    let mut encoder = TraceEncoder::new();
    let baseline = BaselineEncoder::new(&batch.sdk_resource);
    let encode_both = |encoding, encoder: &mut TraceEncoder| {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        encoder.encode(encoding, &batch.spans, &mut ours);
        baseline.encode(encoding, batch.sdk_spans.clone(), &mut theirs);
        (ours, theirs)
    };

    let (protobuf, baseline_protobuf) = encode_both(Encoding::Protobuf, &mut encoder);
    let decoded = decode_protobuf(&protobuf, "otlp-core");
    let baseline_decoded = decode_protobuf(&baseline_protobuf, "baseline");
    assert_eq!(
        span_count(&decoded),
        batch.len(),
        "otlp-core's request lost spans"
    );
    assert_same("protobuf", &decoded, &baseline_decoded);

    let (json, baseline_json) = encode_both(Encoding::Json, &mut encoder);
    let json_decoded = decode_json(&json, "otlp-core");
    let baseline_json_decoded = decode_json(&baseline_json, "baseline");
    assert_same("JSON", &json_decoded, &baseline_json_decoded);
    assert_same("JSON vs protobuf", &json_decoded, &decoded);

    Equivalence {
        spans: span_count(&decoded),
        protobuf_len: protobuf.len(),
        baseline_protobuf_len: baseline_protobuf.len(),
        protobuf_identical: protobuf == baseline_protobuf,
        json_len: json.len(),
        baseline_json_len: baseline_json.len(),
    }
}

/// Spans in a request, over all resources and scopes.
pub fn span_count(request: &ExportTraceServiceRequest) -> usize {
    request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

fn decode_protobuf(body: &[u8], side: &str) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest::decode(body)
        .unwrap_or_else(|err| panic!("{side}'s protobuf does not decode: {err}"))
}

fn decode_json(body: &[u8], side: &str) -> ExportTraceServiceRequest {
    serde_json::from_slice(body)
        .unwrap_or_else(|err| panic!("{side}'s JSON does not decode: {err}"))
}

fn assert_same(what: &str, ours: &ExportTraceServiceRequest, theirs: &ExportTraceServiceRequest) {
    if let Some(difference) = first_difference(ours, theirs) {
        panic!("{what}: otlp-core and the baseline encode different requests: {difference}");
    }
}

/// Where two requests first differ, for a readable failure.
fn first_difference(
    a: &ExportTraceServiceRequest,
    b: &ExportTraceServiceRequest,
) -> Option<String> {
    if a == b {
        return None;
    }
    if a.resource_spans.len() != b.resource_spans.len() {
        return Some(format!(
            "{} vs {} ResourceSpans",
            a.resource_spans.len(),
            b.resource_spans.len()
        ));
    }
    for (r, (ra, rb)) in a.resource_spans.iter().zip(&b.resource_spans).enumerate() {
        if ra.resource != rb.resource || ra.schema_url != rb.schema_url {
            return Some(format!(
                "resource {r}: {:?} {:?} vs {:?} {:?}",
                ra.resource, ra.schema_url, rb.resource, rb.schema_url
            ));
        }
        if ra.scope_spans.len() != rb.scope_spans.len() {
            return Some(format!(
                "resource {r}: {} vs {} ScopeSpans",
                ra.scope_spans.len(),
                rb.scope_spans.len()
            ));
        }
        for (s, (sa, sb)) in ra.scope_spans.iter().zip(&rb.scope_spans).enumerate() {
            if sa.scope != sb.scope || sa.schema_url != sb.schema_url {
                return Some(format!(
                    "scope {r}/{s}: {:?} {:?} vs {:?} {:?}",
                    sa.scope, sa.schema_url, sb.scope, sb.schema_url
                ));
            }
            if sa.spans.len() != sb.spans.len() {
                return Some(format!(
                    "scope {r}/{s}: {} vs {} spans",
                    sa.spans.len(),
                    sb.spans.len()
                ));
            }
            if let Some((i, (x, y))) = sa
                .spans
                .iter()
                .zip(&sb.spans)
                .enumerate()
                .find(|(_, (x, y))| x != y)
            {
                return Some(format!("span {r}/{s}/{i}:\n  {x:?}\nvs\n  {y:?}"));
            }
        }
    }
    Some("requests differ outside resource spans".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otlp_core_and_the_baseline_encode_the_same_request() {
        let batch = Batch::standard();
        let equivalence = assert_same_requests(&batch);
        assert_eq!(equivalence.spans, batch.len());
        assert!(equivalence.protobuf_identical, "{equivalence}");
    }

    #[test]
    fn a_different_span_is_named() {
        let batch = Batch::new(3);
        let baseline = BaselineEncoder::new(&batch.sdk_resource);
        let ours = baseline.request(batch.sdk_spans.clone());
        let mut spans = batch.sdk_spans.clone();
        spans[2].name = "changed".into();
        let theirs = baseline.request(spans);
        let difference = first_difference(&ours, &theirs).expect("they differ");
        assert!(difference.starts_with("span 0/0/2"), "{difference}");
    }
}
