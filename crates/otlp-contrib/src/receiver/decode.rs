//! From body bytes to a request (or just a count of spans, log records or
//! data points): protobuf and OTLP/JSON, of any signal, with the id checks a
//! collector makes. Never panics on input. What differs per signal is in
//! [`export_request`](super::export_request).

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::config::Store;
use super::export_request::{Decoded, ExportRequest};
use super::store::Signal;
use super::{decoded_size, json_doubles};

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

/// Decodes a body (already decompressed) of `signal` as the `store` mode asks.
/// The error is a message for the client.
pub(crate) fn decode(
    signal: Signal,
    format: Format,
    body: &[u8],
    store: Store,
) -> Result<Decoded, String> {
    match signal {
        Signal::Traces => decode_as::<ExportTraceServiceRequest>(format, body, store),
        Signal::Logs => decode_as::<ExportLogsServiceRequest>(format, body, store),
        Signal::Metrics => decode_as::<ExportMetricsServiceRequest>(format, body, store),
    }
}

fn decode_as<R: ExportRequest>(
    format: Format,
    body: &[u8],
    store: Store,
) -> Result<Decoded, String> {
    let name = R::NAME;
    let invalid_protobuf =
        |error: &dyn std::fmt::Display| format!("invalid {name} protobuf: {error}");
    let invalid_json = |error: &dyn std::fmt::Display| format!("invalid OTLP/JSON {name}: {error}");
    if format == Format::Json
        && let Some(misshapen) = decoded_size::misshapen_json(R::SIGNAL, body)
    {
        return Err(invalid_json(&misshapen));
    }
    match (store, format) {
        (Store::CountOnly, Format::Protobuf) => R::count_protobuf(body)
            .map(|count| Decoded::Count(R::SIGNAL, count))
            .map_err(|error| invalid_protobuf(&error)),
        (Store::CountOnly, Format::Json) => {
            R::count_json(body).map(|count| Decoded::Count(R::SIGNAL, count))
        }
        (_, Format::Protobuf) => checked(R::decode(body).map_err(|e| invalid_protobuf(&e))?),
        (_, Format::Json) => {
            checked(json_doubles::from_slice::<R>(body).map_err(|e| invalid_json(&e))?)
        }
    }
}

/// Fails, with a message for the client, when decoding `body` as `store`
/// asks could take more memory than the cap allows
/// ([`decoded_size::check`], for OTLP/JSON
/// [`check_json`](super::decoded_size::check_json)): only bodies that are
/// decoded into structs are looked at.
pub(crate) fn check_decoded_size(
    signal: Signal,
    format: Format,
    body: &[u8],
    store: Store,
    cap: usize,
) -> Result<(), String> {
    match (store, format) {
        (Store::CountOnly, _) => Ok(()),
        (_, Format::Protobuf) => super::decoded_size::check(signal, body, cap),
        (_, Format::Json) => super::decoded_size::check_json(signal, body, cap),
    }
}

/// Validates ids and counts the items of an already decoded request.
pub(crate) fn checked<R: ExportRequest>(request: R) -> Result<Decoded, String> {
    let items = request.check()?;
    Ok(request.into_decoded(items))
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

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

    /// Proto3 JSON reads `null` as a field's default: the full decoder
    /// reads a `null` list as empty at every level, and counting alone must
    /// count the same (it refused `"resourceSpans":null`). A `null` where a
    /// span, log record or data point is expected is refused by both.
    #[test]
    fn counting_reads_null_lists_as_decoding_does() {
        let span = r#"{"traceId":"01010101010101010101010101010101","spanId":"0202020202020202"}"#;
        let point = r#"{"asInt":"1"}"#;
        let cases: [(Signal, String, Option<u64>); 18] = [
            (Signal::Traces, r#"{"resourceSpans":null}"#.into(), Some(0)),
            (Signal::Traces, r#"{"resourceSpans":[{"scopeSpans":null}]}"#.into(), Some(0)),
            (
                Signal::Traces,
                format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":null}},{{"spans":[{span}]}}]}}]}}"#),
                Some(1),
            ),
            (
                Signal::Traces,
                format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span},null]}}]}}]}}"#),
                None,
            ),
            (Signal::Traces, r#"{"resourceSpans":[null]}"#.into(), None),
            (Signal::Logs, r#"{"resourceLogs":null}"#.into(), Some(0)),
            (Signal::Logs, r#"{"resourceLogs":[{"scopeLogs":null}]}"#.into(), Some(0)),
            (
                Signal::Logs,
                r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":null},{"logRecords":[{}]}]}]}"#.into(),
                Some(1),
            ),
            (
                Signal::Logs,
                r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[null]}]}]}"#.into(),
                None,
            ),
            (Signal::Metrics, r#"{"resourceMetrics":null}"#.into(), Some(0)),
            (Signal::Metrics, r#"{"resourceMetrics":[{"scopeMetrics":null}]}"#.into(), Some(0)),
            (
                Signal::Metrics,
                r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":null}]}]}"#.into(),
                Some(0),
            ),
            (
                Signal::Metrics,
                format!(r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"m","gauge":{{"dataPoints":null}}}},{{"name":"n","sum":{{"dataPoints":[{point}]}}}}]}}]}}]}}"#),
                Some(1),
            ),
            (
                Signal::Metrics,
                r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":null}]}]}]}"#.into(),
                Some(0),
            ),
            (
                Signal::Metrics,
                format!(r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"m","gauge":{{"dataPoints":[{point},null]}}}}]}}]}}]}}"#),
                None,
            ),
            (
                Signal::Metrics,
                r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[null]}]}]}"#.into(),
                None,
            ),
            (Signal::Metrics, r#"{"resourceMetrics":[null]}"#.into(), None),
            (Signal::Logs, r#"{"resourceLogs":[{"scopeLogs":[null]}]}"#.into(), None),
        ];
        for (signal, body, expected) in cases {
            for store in [Store::All, Store::CountOnly] {
                let counted = decode(signal, Format::Json, body.as_bytes(), store)
                    .map(|decoded| decoded.item_count());
                assert_eq!(
                    counted.as_ref().ok(),
                    expected.as_ref(),
                    "{store:?} {body}: {counted:?}"
                );
            }
        }
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
    fn all_zero_required_ids_are_rejected_naming_the_field() {
        let mut zero_trace = span(16, 8);
        zero_trace.trace_id = vec![0; 16];
        let body = request(vec![span(16, 8), zero_trace]).encode_to_vec();
        for format in [Format::Protobuf, Format::Json] {
            let body = match format {
                Format::Protobuf => body.clone(),
                Format::Json => serde_json::to_vec(
                    &ExportTraceServiceRequest::decode(&body[..]).unwrap_or_default(),
                )
                .unwrap_or_default(),
            };
            let error = decode(Signal::Traces, format, &body, Store::All)
                .err()
                .unwrap_or_default();
            assert!(
                error.contains("spans[1].traceId is all zeroes"),
                "{format:?}: {error}"
            );
        }
        let mut zero_span = span(16, 8);
        zero_span.span_id = vec![0; 8];
        let body = request(vec![zero_span]).encode_to_vec();
        let error = decode(Signal::Traces, Format::Protobuf, &body, Store::DecodeOnly)
            .err()
            .unwrap_or_default();
        assert!(error.contains("spans[0].spanId is all zeroes"), "{error}");
        // Optional ids may be all zeroes: a parent span id, a log record's
        // trace context (logs.proto: "not associated with a trace").
        let mut zero_parent = span(16, 8);
        zero_parent.parent_span_id = vec![0; 8];
        let body = request(vec![zero_parent]).encode_to_vec();
        assert_eq!(
            decode(Signal::Traces, Format::Protobuf, &body, Store::All).map(|d| d.item_count()),
            Ok(1)
        );
        let mut zero_record = record(16, 8);
        zero_record.trace_id = vec![0; 16];
        zero_record.span_id = vec![0; 8];
        let body = logs_request(vec![zero_record]).encode_to_vec();
        assert_eq!(
            decode(Signal::Logs, Format::Protobuf, &body, Store::All).map(|d| d.item_count()),
            Ok(1)
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for garbage in [&b"\xff\xff\xff"[..], b"\x0a\x05\x01", b"not json"] {
            for format in [Format::Protobuf, Format::Json] {
                for store in [Store::All, Store::CountOnly] {
                    for signal in Signal::ALL {
                        assert!(
                            decode(signal, format, garbage, store).is_err(),
                            "{garbage:?} {format:?} {signal:?}"
                        );
                    }
                }
            }
        }
    }

    /// Field `field` holding `payload`, length-delimited.
    fn len_field(field: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![field << 3 | 2, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    /// Field `field` as the varint 1.
    fn varint_field(field: u8) -> Vec<u8> {
        vec![field << 3, 1]
    }

    #[test]
    fn counting_and_decoding_refuse_the_same_wrong_wire_types() {
        let scope = |inner: &[u8]| len_field(1, &len_field(2, inner));
        let metric = |inner: &[u8]| scope(&len_field(2, inner));
        let record_bodies = [
            varint_field(1),                // resource_spans / resource_logs
            len_field(1, &varint_field(1)), // resource
            len_field(1, &varint_field(2)), // scope_spans / scope_logs
            len_field(1, &varint_field(3)), // schema_url
            scope(&varint_field(1)),        // scope
            scope(&varint_field(2)),        // spans / log_records
            scope(&varint_field(3)),        // schema_url
        ];
        let metric_bodies = [
            varint_field(1),
            len_field(1, &varint_field(2)),
            scope(&varint_field(2)),                   // metrics
            metric(&varint_field(1)),                  // name
            metric(&varint_field(5)),                  // gauge
            metric(&varint_field(11)),                 // summary
            metric(&varint_field(12)),                 // metadata
            metric(&len_field(7, &varint_field(1))),   // sum.data_points
            metric(&len_field(7, &len_field(3, &[]))), // sum.is_monotonic
            metric(&len_field(9, &len_field(2, &[]))), // histogram.aggregation_temporality
        ];
        let cases = record_bodies
            .iter()
            .flat_map(|body| [(Signal::Traces, body), (Signal::Logs, body)])
            .chain(metric_bodies.iter().map(|body| (Signal::Metrics, body)));
        for (signal, body) in cases {
            for store in [Store::DecodeOnly, Store::CountOnly] {
                let error = decode(signal, Format::Protobuf, body, store)
                    .err()
                    .unwrap_or_default();
                assert!(
                    error.contains("wire type"),
                    "{signal:?} {store:?} {body:02x?}: {error:?}"
                );
            }
        }
        // The right wire types, with unknown fields of any type, pass both.
        let good = metric(&[&varint_field(4)[..], &len_field(7, &varint_field(2))].concat());
        for store in [Store::DecodeOnly, Store::CountOnly] {
            assert_eq!(
                decode(Signal::Metrics, Format::Protobuf, &good, store).map(|d| d.item_count()),
                Ok(0),
                "{store:?}"
            );
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

    mod metrics {
        use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
        use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
        use opentelemetry_proto::tonic::metrics::v1::{
            Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
            HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
            Summary, SummaryDataPoint, metric, number_data_point,
        };

        use super::*;

        fn exemplar(trace_len: usize, span_len: usize) -> Exemplar {
            Exemplar {
                trace_id: vec![1; trace_len],
                span_id: vec![2; span_len],
                value: Some(opentelemetry_proto::tonic::metrics::v1::exemplar::Value::AsInt(3)),
                ..Default::default()
            }
        }

        fn number(value: i64, exemplars: Vec<Exemplar>) -> NumberDataPoint {
            NumberDataPoint {
                value: Some(number_data_point::Value::AsInt(value)),
                time_unix_nano: 1_544_712_660_000_000_000,
                exemplars,
                ..Default::default()
            }
        }

        fn metric(name: &str, data: Option<metric::Data>) -> Metric {
            Metric {
                name: name.into(),
                data,
                ..Default::default()
            }
        }

        /// Every shape, with 2 + 1 + 2 + 1 + 1 = 7 data points, plus a
        /// metric without data and a scope without metrics.
        fn every_shape(sum_exemplar: Exemplar) -> ExportMetricsServiceRequest {
            let metrics = vec![
                metric(
                    "gauge",
                    Some(metric::Data::Gauge(Gauge {
                        data_points: vec![number(1, Vec::new()), number(2, Vec::new())],
                    })),
                ),
                metric(
                    "sum",
                    Some(metric::Data::Sum(Sum {
                        data_points: vec![number(3, vec![exemplar(16, 8), sum_exemplar])],
                        aggregation_temporality: 2,
                        is_monotonic: true,
                    })),
                ),
                metric(
                    "histogram",
                    Some(metric::Data::Histogram(Histogram {
                        data_points: vec![
                            HistogramDataPoint {
                                count: 3,
                                sum: Some(1.5),
                                bucket_counts: vec![1, 2],
                                explicit_bounds: vec![1.0],
                                exemplars: vec![exemplar(0, 0)],
                                ..Default::default()
                            },
                            HistogramDataPoint::default(),
                        ],
                        aggregation_temporality: 1,
                    })),
                ),
                metric(
                    "exponential",
                    Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                        data_points: vec![ExponentialHistogramDataPoint {
                            count: 2,
                            scale: -1,
                            positive: Some(Buckets {
                                offset: -2,
                                bucket_counts: vec![1, 1],
                            }),
                            ..Default::default()
                        }],
                        aggregation_temporality: 2,
                    })),
                ),
                metric(
                    "summary",
                    Some(metric::Data::Summary(Summary {
                        data_points: vec![SummaryDataPoint {
                            count: 4,
                            sum: 2.0,
                            quantile_values: vec![ValueAtQuantile {
                                quantile: 0.5,
                                value: 0.4,
                            }],
                            ..Default::default()
                        }],
                    })),
                ),
                metric("empty", None),
            ];
            ExportMetricsServiceRequest {
                resource_metrics: vec![ResourceMetrics {
                    scope_metrics: vec![
                        ScopeMetrics {
                            metrics,
                            ..Default::default()
                        },
                        ScopeMetrics::default(),
                    ],
                    ..Default::default()
                }],
            }
        }

        #[test]
        fn data_points_of_every_shape_decode_and_count_in_every_mode_and_format() {
            let sent = every_shape(exemplar(0, 8));
            let protobuf = sent.encode_to_vec();
            let json = serde_json::to_vec(&sent).unwrap_or_default();
            for store in [Store::All, Store::DecodeOnly, Store::CountOnly] {
                for (format, body) in [(Format::Protobuf, &protobuf), (Format::Json, &json)] {
                    let decoded = decode(Signal::Metrics, format, body, store);
                    assert_eq!(
                        decoded.as_ref().map(|d| (d.signal(), d.item_count())),
                        Ok((Signal::Metrics, 7)),
                        "{store:?} {format:?}"
                    );
                    if let (Store::All, Ok(Decoded::Metrics(request, _))) = (store, decoded) {
                        assert_eq!(*request, sent, "{format:?}");
                    }
                }
            }
            assert_eq!(
                decode(Signal::Metrics, Format::Json, b"{}", Store::CountOnly)
                    .map(|d| d.item_count()),
                Ok(0)
            );
        }

        #[test]
        fn exemplar_ids_are_empty_or_full_length() {
            let body = every_shape(exemplar(16, 3)).encode_to_vec();
            let error = decode(Signal::Metrics, Format::Protobuf, &body, Store::All)
                .err()
                .unwrap_or_default();
            assert!(
                error.contains(
                    "metrics[1].sum.dataPoints[0].exemplars[1].spanId has 3 bytes, expected 0 or 8"
                ),
                "{error}"
            );
            let body = every_shape(exemplar(8, 8)).encode_to_vec();
            assert!(decode(Signal::Metrics, Format::Protobuf, &body, Store::All).is_err());
            // Counting protobuf alone does not look at ids.
            assert_eq!(
                decode(Signal::Metrics, Format::Protobuf, &body, Store::CountOnly)
                    .map(|d| d.item_count()),
                Ok(7)
            );
            let garbage = decode(
                Signal::Metrics,
                Format::Json,
                b"{\"resourceMetrics\":{}}",
                Store::All,
            );
            assert!(
                garbage.is_err_and(|error| error.contains("ExportMetricsServiceRequest")),
                "the message names the metrics request"
            );
        }
    }

    /// OTLP/JSON ids are checked by counting alone as by decoding: a body
    /// one store refuses for an id, the other refuses too (counting took
    /// any id, so a benchmark run with `Store::CountOnly` counted spans a
    /// collector refuses).
    #[test]
    fn counting_and_decoding_agree_on_json_ids() {
        const TRACE: &str = "0102030405060708090a0b0c0d0e0f10";
        const SPAN: &str = "0102030405060708";
        const ZERO_TRACE: &str = "00000000000000000000000000000000";
        const ZERO_SPAN: &str = "0000000000000000";
        let spans = |span: &str| {
            format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}"#)
        };
        let span = |ids: &str| spans(&format!(r#"{{"name":"s",{ids}}}"#));
        let ids =
            |trace: &str, span_id: &str| format!(r#""traceId":"{trace}","spanId":"{span_id}""#);
        let link = |link: &str| span(&format!(r#"{},"links":[{link}]"#, ids(TRACE, SPAN)));
        let logs = |record: &str| {
            format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{record}]}}]}}]}}"#)
        };
        let exemplar = |exemplar: &str| {
            format!(
                r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"m","gauge":{{"dataPoints":[{{"asInt":"1","exemplars":[{exemplar}]}}]}}}}]}}]}}]}}"#
            )
        };
        let cases: Vec<(Signal, String, bool)> = vec![
            (Signal::Traces, span(&ids(TRACE, SPAN)), true),
            (
                Signal::Traces,
                span(&ids(&TRACE.to_uppercase(), SPAN)),
                true,
            ),
            (Signal::Traces, span(&ids(&TRACE[2..], SPAN)), false),
            (Signal::Traces, span(&ids(&TRACE[1..], SPAN)), false),
            (Signal::Traces, span(&ids(TRACE, ZERO_SPAN)), false),
            (Signal::Traces, span(&ids(ZERO_TRACE, SPAN)), false),
            (
                Signal::Traces,
                span(&ids(&format!("0x{TRACE}"), SPAN)),
                false,
            ),
            (
                Signal::Traces,
                span(&ids(&format!("zz{}", &TRACE[2..]), SPAN)),
                false,
            ),
            (
                Signal::Traces,
                span(&format!(r#""spanId":"{SPAN}""#)),
                false,
            ),
            (
                Signal::Traces,
                span(&format!(r#""traceId":"{TRACE}","spanId":null"#)),
                false,
            ),
            (
                Signal::Traces,
                span(&format!(r#""traceId":"{TRACE}","spanId":7"#)),
                false,
            ),
            (
                Signal::Traces,
                span(&format!(r#"{},"parentSpanId":"""#, ids(TRACE, SPAN))),
                true,
            ),
            (
                Signal::Traces,
                span(&format!(
                    r#"{},"parentSpanId":"{ZERO_SPAN}""#,
                    ids(TRACE, SPAN)
                )),
                true,
            ),
            (
                Signal::Traces,
                span(&format!(
                    r#"{},"parentSpanId":"01020304""#,
                    ids(TRACE, SPAN)
                )),
                false,
            ),
            (
                Signal::Traces,
                link(&format!(r#"{{{}}}"#, ids(ZERO_TRACE, ZERO_SPAN))),
                true,
            ),
            (
                Signal::Traces,
                link(&format!(r#"{{"traceId":"{TRACE}"}}"#)),
                false,
            ),
            (
                Signal::Traces,
                link(&format!(r#"{{{}}}"#, ids(TRACE, &SPAN[2..]))),
                false,
            ),
            (Signal::Logs, logs("{}"), true),
            (
                Signal::Logs,
                logs(&format!("{{{}}}", ids(ZERO_TRACE, ZERO_SPAN))),
                true,
            ),
            (
                Signal::Logs,
                logs(&format!(r#"{{"traceId":"{}"}}"#, &TRACE[2..])),
                false,
            ),
            (
                Signal::Logs,
                logs(&format!(r#"{{"spanId":"0x{}"}}"#, &SPAN[2..])),
                false,
            ),
            (Signal::Metrics, exemplar(r#"{"asInt":"1"}"#), true),
            (
                Signal::Metrics,
                exemplar(&format!(r#"{{"asInt":"1",{}}}"#, ids(TRACE, SPAN))),
                true,
            ),
            (
                Signal::Metrics,
                exemplar(&format!(r#"{{"asInt":"1","spanId":"{}"}}"#, &SPAN[2..])),
                false,
            ),
        ];
        for (signal, body, valid) in cases {
            for store in [Store::All, Store::CountOnly] {
                let decoded = decode(signal, Format::Json, body.as_bytes(), store);
                assert_eq!(
                    decoded.is_ok(),
                    valid,
                    "{store:?} {body}: {:?}",
                    decoded.map(|d| d.item_count())
                );
            }
        }
        // Counting names the field as decoding does.
        let error = decode(
            Signal::Traces,
            Format::Json,
            span(&ids(TRACE, ZERO_SPAN)).as_bytes(),
            Store::CountOnly,
        )
        .err()
        .unwrap_or_default();
        assert!(error.contains("spans[0].spanId is all zeroes"), "{error}");
    }
}
