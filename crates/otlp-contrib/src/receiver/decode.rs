//! From body bytes to a request (or just a count of spans or log records):
//! protobuf and OTLP/JSON, traces and logs, with the id checks a collector
//! makes. Never panics on input.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::config::Store;
use super::store::Signal;

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
    /// A full trace request and its span count.
    Traces(Box<ExportTraceServiceRequest>, u64),
    /// A full log request and its log record count.
    Logs(Box<ExportLogsServiceRequest>, u64),
    /// Only the count of spans or log records ([`Store::CountOnly`]).
    Count(Signal, u64),
}

impl Decoded {
    /// The signal of the request.
    pub(crate) fn signal(&self) -> Signal {
        match self {
            Decoded::Traces(..) => Signal::Traces,
            Decoded::Logs(..) => Signal::Logs,
            Decoded::Count(signal, _) => *signal,
        }
    }

    /// Spans of a trace request, log records of a log request.
    pub(crate) fn item_count(&self) -> u64 {
        match self {
            Decoded::Traces(_, count) | Decoded::Logs(_, count) | Decoded::Count(_, count) => {
                *count
            }
        }
    }

    /// Only the count, for [`Store::CountOnly`].
    pub(crate) fn into_count(self) -> Decoded {
        Decoded::Count(self.signal(), self.item_count())
    }
}

/// The name of a signal's request message, for error messages.
fn message_name(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "ExportTraceServiceRequest",
        Signal::Logs => "ExportLogsServiceRequest",
    }
}

/// Decodes a body (already decompressed) of `signal` as the `store` mode asks.
/// The error is a message for the client.
pub(crate) fn decode(
    signal: Signal,
    format: Format,
    body: &[u8],
    store: Store,
) -> Result<Decoded, String> {
    let name = message_name(signal);
    let invalid_protobuf =
        |error: &dyn std::fmt::Display| format!("invalid {name} protobuf: {error}");
    let invalid_json = |error: &dyn std::fmt::Display| format!("invalid OTLP/JSON {name}: {error}");
    match (store, format, signal) {
        // `ExportLogsServiceRequest` frames its records with the field numbers
        // of `ExportTraceServiceRequest` (resource_logs = 1, scope_logs = 2,
        // log_records = 2), so the span counter counts log records as they are.
        (Store::CountOnly, Format::Protobuf, _) => otlp_core::wire::count_spans(body)
            .map(|count| Decoded::Count(signal, count))
            .map_err(|error| invalid_protobuf(&error)),
        (Store::CountOnly, Format::Json, Signal::Traces) => {
            serde_json::from_slice::<CountRequest>(body)
                .map(|request| Decoded::Count(signal, request.spans()))
                .map_err(|error| invalid_json(&error))
        }
        (Store::CountOnly, Format::Json, Signal::Logs) => {
            serde_json::from_slice::<CountLogsRequest>(body)
                .map(|request| Decoded::Count(signal, request.log_records()))
                .map_err(|error| invalid_json(&error))
        }
        (_, Format::Protobuf, Signal::Traces) => {
            checked(ExportTraceServiceRequest::decode(body).map_err(|e| invalid_protobuf(&e))?)
        }
        (_, Format::Json, Signal::Traces) => checked(
            serde_json::from_slice::<ExportTraceServiceRequest>(body)
                .map_err(|e| invalid_json(&e))?,
        ),
        (_, Format::Protobuf, Signal::Logs) => {
            checked_logs(ExportLogsServiceRequest::decode(body).map_err(|e| invalid_protobuf(&e))?)
        }
        (_, Format::Json, Signal::Logs) => checked_logs(
            serde_json::from_slice::<ExportLogsServiceRequest>(body)
                .map_err(|e| invalid_json(&e))?,
        ),
    }
}

/// Validates ids and counts spans of an already decoded trace request.
pub(crate) fn checked(request: ExportTraceServiceRequest) -> Result<Decoded, String> {
    let spans = check_ids(&request)?;
    Ok(Decoded::Traces(Box::new(request), spans))
}

/// Validates ids and counts log records of an already decoded log request.
pub(crate) fn checked_logs(request: ExportLogsServiceRequest) -> Result<Decoded, String> {
    let records = check_log_ids(&request)?;
    Ok(Decoded::Logs(Box::new(request), records))
}

/// Fails unless `id` has one of the `lengths`, naming the field.
fn check_id(
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

/// Checks that every id has its OTLP length (as a collector does) and counts
/// the spans. Protobuf `bytes` and JSON hex strings of any length decode fine,
/// so this is where a wrong id is caught.
fn check_ids(request: &ExportTraceServiceRequest) -> Result<u64, String> {
    let mut spans = 0u64;
    for (r, resource) in request.resource_spans.iter().enumerate() {
        for (s, scope) in resource.scope_spans.iter().enumerate() {
            for (i, span) in scope.spans.iter().enumerate() {
                let path = || format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}]");
                check_id("traceId", path, &span.trace_id, &[16])?;
                check_id("spanId", path, &span.span_id, &[8])?;
                check_id("parentSpanId", path, &span.parent_span_id, &[0, 8])?;
                for (l, link) in span.links.iter().enumerate() {
                    let path =
                        || format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}].links[{l}]");
                    check_id("traceId", path, &link.trace_id, &[16])?;
                    check_id("spanId", path, &link.span_id, &[8])?;
                }
                spans += 1;
            }
        }
    }
    Ok(spans)
}

/// As [`check_ids`] for log records, whose trace context is optional: a
/// `traceId` is empty or 16 bytes, a `spanId` empty or 8 bytes.
fn check_log_ids(request: &ExportLogsServiceRequest) -> Result<u64, String> {
    let mut records = 0u64;
    for (r, resource) in request.resource_logs.iter().enumerate() {
        for (s, scope) in resource.scope_logs.iter().enumerate() {
            for (i, record) in scope.log_records.iter().enumerate() {
                let path = || format!("resourceLogs[{r}].scopeLogs[{s}].logRecords[{i}]");
                check_id("traceId", path, &record.trace_id, &[0, 16])?;
                check_id("spanId", path, &record.span_id, &[0, 8])?;
                records += 1;
            }
        }
    }
    Ok(records)
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

/// The log twin of [`CountRequest`]: `resourceLogs` / `scopeLogs` / `logRecords`.
#[derive(Deserialize)]
struct CountLogsRequest {
    #[serde(default, rename = "resourceLogs")]
    resource_logs: Vec<CountResourceLogs>,
}

#[derive(Deserialize)]
struct CountResourceLogs {
    #[serde(default, rename = "scopeLogs")]
    scope_logs: Vec<CountScopeLogs>,
}

#[derive(Deserialize)]
struct CountScopeLogs {
    #[serde(default, rename = "logRecords")]
    log_records: Vec<IgnoredAny>,
}

impl CountLogsRequest {
    fn log_records(&self) -> u64 {
        self.resource_logs
            .iter()
            .flat_map(|resource| &resource.scope_logs)
            .map(|scope| scope.log_records.len() as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
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
            let decoded =
                decode(Signal::Traces, Format::Protobuf, &body, store).map(|d| d.item_count());
            assert_eq!(decoded, Ok(2), "{store:?}");
        }
    }

    #[test]
    fn json_counting_matches_decoding() {
        let json = serde_json::to_vec(&request(vec![span(16, 8), span(16, 8), span(16, 8)]))
            .unwrap_or_default();
        for store in [Store::All, Store::CountOnly] {
            assert_eq!(
                decode(Signal::Traces, Format::Json, &json, store).map(|d| d.item_count()),
                Ok(3)
            );
        }
        assert!(
            decode(
                Signal::Traces,
                Format::Json,
                b"{\"resourceSpans\":[{]}",
                Store::CountOnly
            )
            .is_err()
        );
        assert_eq!(
            decode(Signal::Traces, Format::Json, b"{}", Store::CountOnly).map(|d| d.item_count()),
            Ok(0)
        );
    }

    #[test]
    fn wrong_id_lengths_are_rejected() {
        let body = request(vec![span(16, 8), span(15, 8)]).encode_to_vec();
        let error = decode(Signal::Traces, Format::Protobuf, &body, Store::All)
            .err()
            .unwrap_or_default();
        assert!(
            error.contains("spans[1].traceId has 15 bytes, expected 16"),
            "{error}"
        );
        let body = request(vec![span(16, 0)]).encode_to_vec();
        assert!(decode(Signal::Traces, Format::Protobuf, &body, Store::All).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for garbage in [&b"\xff\xff\xff"[..], b"\x0a\x05\x01", b"not json"] {
            for format in [Format::Protobuf, Format::Json] {
                for store in [Store::All, Store::CountOnly] {
                    for signal in [Signal::Traces, Signal::Logs] {
                        assert!(
                            decode(signal, format, garbage, store).is_err(),
                            "{garbage:?} {format:?} {signal:?}"
                        );
                    }
                }
            }
        }
    }

    fn logs_request(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![
                    ScopeLogs {
                        log_records: records,
                        ..Default::default()
                    },
                    ScopeLogs::default(),
                ],
                ..Default::default()
            }],
        }
    }

    fn record(trace_len: usize, span_len: usize) -> LogRecord {
        LogRecord {
            trace_id: vec![1; trace_len],
            span_id: vec![2; span_len],
            severity_number: 9,
            ..Default::default()
        }
    }

    #[test]
    fn log_records_decode_and_count_in_every_mode_and_format() {
        let sent = logs_request(vec![record(16, 8), record(0, 0), record(16, 0)]);
        let protobuf = sent.encode_to_vec();
        let json = serde_json::to_vec(&sent).unwrap_or_default();
        for store in [Store::All, Store::DecodeOnly, Store::CountOnly] {
            for (format, body) in [(Format::Protobuf, &protobuf), (Format::Json, &json)] {
                let decoded = decode(Signal::Logs, format, body, store);
                assert_eq!(
                    decoded.as_ref().map(|d| (d.signal(), d.item_count())),
                    Ok((Signal::Logs, 3)),
                    "{store:?} {format:?}"
                );
                if let (Store::All, Ok(Decoded::Logs(request, _))) = (store, decoded) {
                    assert_eq!(*request, sent);
                }
            }
        }
    }

    #[test]
    fn log_record_ids_are_empty_or_full_length() {
        let body = logs_request(vec![record(16, 8), record(8, 8)]).encode_to_vec();
        let error = decode(Signal::Logs, Format::Protobuf, &body, Store::All)
            .err()
            .unwrap_or_default();
        assert!(
            error.contains("logRecords[1].traceId has 8 bytes, expected 0 or 16"),
            "{error}"
        );
        let body = logs_request(vec![record(16, 4)]).encode_to_vec();
        assert!(decode(Signal::Logs, Format::Protobuf, &body, Store::All).is_err());
        let garbage = decode(
            Signal::Logs,
            Format::Json,
            b"{\"resourceLogs\":{}}",
            Store::All,
        );
        assert!(
            garbage.is_err_and(|error| error.contains("ExportLogsServiceRequest")),
            "the message names the logs request"
        );
    }
}
