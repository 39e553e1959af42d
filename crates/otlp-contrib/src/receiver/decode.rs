//! From body bytes to a request (or just a span count): protobuf and OTLP/JSON,
//! with the id checks a collector makes. Never panics on input.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::config::Store;

/// The body format of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Protobuf,
    Json,
}

impl Format {
    pub(crate) const PROTOBUF_CONTENT_TYPE: &'static str = "application/x-protobuf";
    pub(crate) const JSON_CONTENT_TYPE: &'static str = "application/json";

    /// The format of an HTTP `Content-Type` (parameters and case ignored).
    pub(crate) fn from_content_type(content_type: &str) -> Option<Self> {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if media_type.eq_ignore_ascii_case(Self::PROTOBUF_CONTENT_TYPE) {
            Some(Format::Protobuf)
        } else if media_type.eq_ignore_ascii_case(Self::JSON_CONTENT_TYPE) {
            Some(Format::Json)
        } else {
            None
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => Self::PROTOBUF_CONTENT_TYPE,
            Format::Json => Self::JSON_CONTENT_TYPE,
        }
    }
}

/// What decoding produced.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// A full request and its span count.
    Request(Box<ExportTraceServiceRequest>, u64),
    /// Only the span count ([`Store::CountOnly`]).
    Count(u64),
}

impl Decoded {
    pub(crate) fn span_count(&self) -> u64 {
        match self {
            Decoded::Request(_, spans) | Decoded::Count(spans) => *spans,
        }
    }
}

/// Decodes a body (already decompressed) as the `store` mode asks.
/// The error is a message for the client.
pub(crate) fn decode(format: Format, body: &[u8], store: Store) -> Result<Decoded, String> {
    match (store, format) {
        (Store::CountOnly, Format::Protobuf) => otlp_core::wire::count_spans(body)
            .map(Decoded::Count)
            .map_err(|error| format!("invalid ExportTraceServiceRequest protobuf: {error}")),
        (Store::CountOnly, Format::Json) => serde_json::from_slice::<CountRequest>(body)
            .map(|request| Decoded::Count(request.spans()))
            .map_err(|error| format!("invalid OTLP/JSON ExportTraceServiceRequest: {error}")),
        (_, Format::Protobuf) => {
            let request = ExportTraceServiceRequest::decode(body)
                .map_err(|error| format!("invalid ExportTraceServiceRequest protobuf: {error}"))?;
            checked(request)
        }
        (_, Format::Json) => {
            let request = serde_json::from_slice::<ExportTraceServiceRequest>(body)
                .map_err(|error| format!("invalid OTLP/JSON ExportTraceServiceRequest: {error}"))?;
            checked(request)
        }
    }
}

/// Validates ids and counts spans of an already decoded request.
pub(crate) fn checked(request: ExportTraceServiceRequest) -> Result<Decoded, String> {
    let spans = check_ids(&request)?;
    Ok(Decoded::Request(Box::new(request), spans))
}

/// Checks that every id has its OTLP length (as a collector does) and counts
/// the spans. Protobuf `bytes` and JSON hex strings of any length decode fine,
/// so this is where a wrong id is caught.
fn check_ids(request: &ExportTraceServiceRequest) -> Result<u64, String> {
    fn check(
        what: &str,
        path: impl Fn() -> String,
        id: &[u8],
        lengths: &[usize],
    ) -> Result<(), String> {
        if lengths.contains(&id.len()) {
            return Ok(());
        }
        let expected: Vec<String> = lengths.iter().map(usize::to_string).collect();
        Err(format!(
            "{}.{what} has {} bytes, expected {}",
            path(),
            id.len(),
            expected.join(" or ")
        ))
    }
    let mut spans = 0u64;
    for (r, resource) in request.resource_spans.iter().enumerate() {
        for (s, scope) in resource.scope_spans.iter().enumerate() {
            for (i, span) in scope.spans.iter().enumerate() {
                let path = || format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}]");
                check("traceId", path, &span.trace_id, &[16])?;
                check("spanId", path, &span.span_id, &[8])?;
                check("parentSpanId", path, &span.parent_span_id, &[0, 8])?;
                for (l, link) in span.links.iter().enumerate() {
                    let path =
                        || format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}].links[{l}]");
                    check("traceId", path, &link.trace_id, &[16])?;
                    check("spanId", path, &link.span_id, &[8])?;
                }
                spans += 1;
            }
        }
    }
    Ok(spans)
}

/// OTLP/JSON seen only as far as needed to count spans; span contents are
/// skipped (`IgnoredAny`) and unknown fields ignored, like the full decoder.
#[derive(Deserialize)]
struct CountRequest {
    #[serde(default, rename = "resourceSpans")]
    resource_spans: Vec<CountResourceSpans>,
}

#[derive(Deserialize)]
struct CountResourceSpans {
    #[serde(default, rename = "scopeSpans")]
    scope_spans: Vec<CountScopeSpans>,
}

#[derive(Deserialize)]
struct CountScopeSpans {
    #[serde(default)]
    spans: Vec<IgnoredAny>,
}

impl CountRequest {
    fn spans(&self) -> u64 {
        self.resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .map(|scope| scope.spans.len() as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    use super::*;

    fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn span(trace_len: usize, span_len: usize) -> Span {
        Span {
            trace_id: vec![1; trace_len],
            span_id: vec![2; span_len],
            name: "s".into(),
            ..Default::default()
        }
    }

    #[test]
    fn content_types_ignore_case_and_parameters() {
        assert_eq!(
            Format::from_content_type("application/x-protobuf"),
            Some(Format::Protobuf)
        );
        assert_eq!(
            Format::from_content_type("Application/JSON; charset=utf-8"),
            Some(Format::Json)
        );
        assert_eq!(Format::from_content_type("text/plain"), None);
        assert_eq!(Format::from_content_type(""), None);
    }

    #[test]
    fn protobuf_decodes_and_counts_in_every_mode() {
        let body = request(vec![span(16, 8), span(16, 8)]).encode_to_vec();
        for store in [Store::All, Store::DecodeOnly, Store::CountOnly] {
            let decoded = decode(Format::Protobuf, &body, store).map(|d| d.span_count());
            assert_eq!(decoded, Ok(2), "{store:?}");
        }
    }

    #[test]
    fn json_counting_matches_decoding() {
        let json = serde_json::to_vec(&request(vec![span(16, 8), span(16, 8), span(16, 8)]))
            .unwrap_or_default();
        for store in [Store::All, Store::CountOnly] {
            assert_eq!(
                decode(Format::Json, &json, store).map(|d| d.span_count()),
                Ok(3)
            );
        }
        assert!(decode(Format::Json, b"{\"resourceSpans\":[{]}", Store::CountOnly).is_err());
        assert_eq!(
            decode(Format::Json, b"{}", Store::CountOnly).map(|d| d.span_count()),
            Ok(0)
        );
    }

    #[test]
    fn wrong_id_lengths_are_rejected() {
        let body = request(vec![span(16, 8), span(15, 8)]).encode_to_vec();
        let error = decode(Format::Protobuf, &body, Store::All)
            .err()
            .unwrap_or_default();
        assert!(
            error.contains("spans[1].traceId has 15 bytes, expected 16"),
            "{error}"
        );
        let body = request(vec![span(16, 0)]).encode_to_vec();
        assert!(decode(Format::Protobuf, &body, Store::All).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for garbage in [&b"\xff\xff\xff"[..], b"\x0a\x05\x01", b"not json"] {
            for format in [Format::Protobuf, Format::Json] {
                for store in [Store::All, Store::CountOnly] {
                    assert!(
                        decode(format, garbage, store).is_err(),
                        "{garbage:?} {format:?}"
                    );
                }
            }
        }
    }
}
