//! OTLP/HTTP: protobuf and JSON bodies, compression, faults, bad input, keep-alive.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otlp_contrib::receiver::{Answer, Fault, Receiver, ReceiverConfig, Store, Transport};
use prost::Message;

use crate::support::*;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

fn url(receiver: &Receiver) -> String {
    receiver.http_traces_url().expect("HTTP endpoint")
}

fn encode(content_type: &str, request: &ExportTraceServiceRequest) -> Vec<u8> {
    if content_type == JSON {
        serde_json::to_vec(request).expect("JSON")
    } else {
        request.encode_to_vec()
    }
}

fn compress(encoding: Option<&str>, body: Vec<u8>) -> Vec<u8> {
    match encoding {
        Some("gzip") => gzip(&body),
        Some("zstd") => zstd(&body),
        _ => body,
    }
}

#[tokio::test]
async fn http_protobuf_and_json_arrive_decoded_field_for_field_with_every_compression() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let sent = rich_request("http-svc", 2);
    let mut cases = Vec::new();
    for content_type in [PROTOBUF, JSON] {
        for encoding in [None, Some("gzip"), Some("zstd")] {
            let body = compress(encoding, encode(content_type, &sent));
            let response = post(&url(&receiver), content_type, encoding, body).await;
            assert_eq!(
                response.status,
                StatusCode::OK,
                "{content_type} {encoding:?}"
            );
            assert_eq!(response.header("content-type"), Some(content_type));
            if content_type == JSON {
                assert_eq!(&response.body[..], b"{}");
            } else {
                let decoded =
                    ExportTraceServiceResponse::decode(response.body.clone()).expect("response");
                assert_eq!(decoded.partial_success, None);
            }
            cases.push((content_type, encoding));
        }
    }
    let requests = receiver.requests();
    assert_eq!(requests.len(), 6);
    for (received, (content_type, encoding)) in requests.iter().zip(cases) {
        assert_eq!(received.transport, Transport::Http);
        assert_eq!(received.request, sent, "{content_type} {encoding:?}");
        assert_eq!(received.content_type.as_deref(), Some(content_type));
        assert_eq!(received.content_encoding.as_deref(), encoding);
        assert_eq!(received.answered, Answer::Ok);
    }
    assert_eq!(receiver.span_count(), 12);
}

#[tokio::test]
async fn http_accepts_hand_written_otlp_json() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let json = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"js"}}]},
        "scopeSpans":[{"scope":{"name":"lib"},"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C",
        "spanId":"EEE19B7EC3C1B174","parentSpanId":"","name":"I'm a server span","kind":2,
        "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":1544712661000000000,
        "attributes":[{"key":"n","value":{"intValue":"42"}}],"unknownField":true,"status":{"code":2,"message":"bad"}}]}]}]}"#;
    let response = post(&url(&receiver), JSON, None, json.as_bytes().to_vec()).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    let spans = receiver.accepted_spans();
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.trace_id[0], 0x5b);
    assert_eq!(span.span_id.len(), 8);
    assert_eq!(span.kind, 2);
    assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
    assert_eq!(span.status.as_ref().map(|s| s.code), Some(2));
}

/// Proto3 JSON, which OTLP/JSON follows where the OTLP spec does not say
/// otherwise, reads a `double` given as a decimal string and `bytes` written
/// URL-safe or without padding; the receiver answered 400 to both.
#[tokio::test]
async fn http_accepts_doubles_as_strings_and_unpadded_or_url_safe_bytes() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;

    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let json = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",
        "spanId":"eee19b7ec3c1b174","name":"s","attributes":[
        {"key":"ratio","value":{"doubleValue":"0.75"}},
        {"key":"unpadded","value":{"bytesValue":"Zm8"}},
        {"key":"url-safe","value":{"bytesValue":"-_8="}}]}]}]}]}"#;
    let response = post(&url(&receiver), JSON, None, json.as_bytes().to_vec()).await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let spans = receiver.accepted_spans();
    let values: Vec<_> = spans[0]
        .attributes
        .iter()
        .map(|kv| kv.value.as_ref().and_then(|value| value.value.clone()))
        .collect();
    assert_eq!(
        values,
        [
            Some(Value::DoubleValue(0.75)),
            Some(Value::BytesValue(b"fo".to_vec())),
            Some(Value::BytesValue(vec![0xfb, 0xff])),
        ]
    );
}

/// The OTLP specification writes ids as hex ("case-insensitive"), and the
/// Collector refuses a `0x` prefix; opentelemetry-proto's hex reader strips
/// one, so `"parentSpanId":"0x0102030405060708"` was accepted (as were
/// prefixed trace and span ids of spans, links, log records and exemplars).
/// Each is a 400 naming the field; a `0x` string that is no id (an
/// attribute's value), or an id inside an unknown field, is not.
#[tokio::test]
async fn http_json_ids_with_a_0x_prefix_are_400_naming_the_field() {
    const TRACE: &str = "01010101010101010101010101010101";
    const SPAN: &str = "0202020202020202";
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let traces = url(&receiver);
    let logs = receiver.http_logs_url().expect("logs URL");
    let metrics = receiver.http_metrics_url().expect("metrics URL");
    let span = |fields: &str| {
        format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"name":"s",{fields}}}]}}]}}]}}"#)
    };
    let record = |fields: &str| {
        format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{{fields}}}]}}]}}]}}"#)
    };
    let exemplar = |fields: &str| {
        format!(
            r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"m","gauge":{{"dataPoints":[{{"asInt":"1","exemplars":[{{"asInt":"2",{fields}}}]}}]}}}}]}}]}}]}}"#
        )
    };
    let ids = format!(r#""traceId":"{TRACE}","spanId":"{SPAN}""#);
    let refused: [(&str, String, &str); 9] = [
        (
            &traces,
            span(&format!(r#"{ids},"parentSpanId":"0x0102030405060708""#)),
            "parentSpanId",
        ),
        (
            &traces,
            span(&format!(r#""traceId":"0x{TRACE}","spanId":"{SPAN}""#)),
            "traceId",
        ),
        (
            &traces,
            span(&format!(r#""traceId":"{TRACE}","spanId":"0X{SPAN}""#)),
            "spanId",
        ),
        (
            &traces,
            span(&format!(
                r#"{ids},"links":[{{"traceId":"0x{TRACE}","spanId":"{SPAN}"}}]"#
            )),
            "traceId",
        ),
        (
            &traces,
            span(&format!(
                r#"{ids},"links":[{{"traceId":"{TRACE}","spanId":"0x{SPAN}"}}]"#
            )),
            "spanId",
        ),
        (
            &logs,
            record(&format!(r#""traceId":"0x{TRACE}""#)),
            "traceId",
        ),
        (&logs, record(&format!(r#""spanId":"0X{SPAN}""#)), "spanId"),
        (
            &metrics,
            exemplar(&format!(r#""traceId":"0x{TRACE}""#)),
            "traceId",
        ),
        (&metrics, exemplar(r#""spanId":"0x""#), "spanId"),
    ];
    for (url, body, field) in &refused {
        let response = post(url, JSON, None, body.as_bytes().to_vec()).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}");
        let (code, message, _) = response.rpc_status();
        assert_eq!(code, 3, "INVALID_ARGUMENT for {body}: {message}");
        assert!(
            message.contains(&format!("`{field}`")) && message.contains("0x"),
            "{body}: {message}"
        );
    }
    // A `0x` string that is not an id, and ids inside unknown fields.
    let accepted = [
        (
            &traces,
            span(&format!(
                r#"{ids},"attributes":[{{"key":"address","value":{{"stringValue":"0xdeadbeef"}}}}],
                "x":{{"parentSpanId":"0x0102030405060708"}}"#
            )),
        ),
        (
            &logs,
            record(r#""body":{"stringValue":"0X1"},"x":{"traceId":"0x01"}"#),
        ),
    ];
    for (url, body) in &accepted {
        let response = post(url, JSON, None, body.as_bytes().to_vec()).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "{body}: {}",
            String::from_utf8_lossy(&response.body)
        );
    }
    assert_eq!(receiver.span_count(), 1);
    assert_eq!(receiver.log_record_count(), 1);
    assert_eq!(receiver.data_point_count(), 0);
}

/// Receivers ignore unknown fields (OTLP specification). The second decode
/// (a body with a double written as a string, here) read 32-bit integer
/// strings in unknown fields too, so `{"x":{"kind":"99999999999"}}` made a
/// valid request a 400; it must be accepted, in a span and in a metric
/// (whose oneof serde reads through `flatten`), and the same value in the
/// field itself still refused.
#[tokio::test]
async fn http_json_unknown_fields_are_ignored_on_the_second_decode_too() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let traces = url(&receiver);
    let metrics = receiver.http_metrics_url().expect("metrics URL");
    let span = |fields: &str| {
        format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"01010101010101010101010101010101",
            "spanId":"0202020202020202","name":"s",
            "attributes":[{{"key":"ratio","value":{{"doubleValue":"0.75"}}}}],{fields}}}]}}]}}]}}"#
        )
    };
    let metric = |fields: &str| {
        format!(
            r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"m",
            "gauge":{{"dataPoints":[{{"asDouble":"1.5",{fields}}}]}},{fields}}}]}}]}}]}}"#
        )
    };
    let unknown =
        r#""x":{"kind":"99999999999","flags":"-1","code":{"severityNumber":"99999999999"}}"#;
    for (url, body) in [
        (&traces, span(unknown)),
        (
            &traces,
            span(&format!(r#""status":{{"code":"1",{unknown}}}"#)),
        ),
        (&metrics, metric(unknown)),
    ] {
        let response = post(url, JSON, None, body.as_bytes().to_vec()).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "{body}: {}",
            String::from_utf8_lossy(&response.body)
        );
    }
    assert_eq!(receiver.span_count(), 2);
    assert_eq!(receiver.data_point_count(), 1);
    let response = post(
        &traces,
        JSON,
        None,
        span(r#""kind":"99999999999""#).into_bytes(),
    )
    .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    let (_, message, _) = response.rpc_status();
    assert!(message.contains("`kind` is \"99999999999\""), "{message}");
}

#[tokio::test]
async fn http_keeps_connections_alive() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let client = http_client();
    let body = rich_request("keepalive", 1).encode_to_vec();
    for _ in 0..5 {
        let request = http::Request::post(url(&receiver))
            .header("content-type", PROTOBUF)
            .body(Full::new(Bytes::from(body.clone())))
            .expect("request");
        let response = send(&client, request).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_ne!(response.header("connection"), Some("close"));
    }
    // HTTP/2 without TLS (prior knowledge) is served too.
    let h2c = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let request = http::Request::post(url(&receiver))
        .header("content-type", PROTOBUF)
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let response = send(&h2c, request).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(receiver.span_count(), 6);
}

#[tokio::test]
async fn http_1_1_serves_several_requests_on_one_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let mut stream = tokio::net::TcpStream::connect(receiver.http_addr().expect("http"))
        .await
        .expect("connect");
    let body = rich_request("one-socket", 1).encode_to_vec();
    for _ in 0..3 {
        let head = format!(
            "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("write head");
        stream.write_all(&body).await.expect("write body");
        // A full success is an empty protobuf response: the head ends the answer.
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        while !answer.ends_with(b"\r\n\r\n") {
            let read = tokio::time::timeout(TIMEOUT, stream.read(&mut byte))
                .await
                .expect("answer in time")
                .expect("read");
            assert_eq!(
                read,
                1,
                "connection closed after {:?}",
                String::from_utf8_lossy(&answer)
            );
            answer.push(byte[0]);
        }
        let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
        assert!(answer.starts_with("http/1.1 200"), "{answer}");
        assert!(answer.contains("content-length: 0"), "{answer}");
    }
    assert_eq!(receiver.span_count(), 3);
}

/// A body of empty log records (valid ones) or spans is two bytes an item on
/// the wire and a few hundred decoded: under the byte cap, it would take
/// over 100 times the cap in memory. It is refused as a body over the cap
/// is, over both transports; real requests, decoded at a few times their
/// size, are not, even with the cap at their exact size.
#[tokio::test]
async fn a_body_that_would_decode_far_past_the_cap_is_refused_and_real_ones_are_not() {
    const CAP: usize = 256 << 10;
    let receiver = Receiver::start(ReceiverConfig {
        max_request_bytes: CAP,
        ..Default::default()
    })
    .expect("start");
    let empty_records = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default(); 120_000],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    assert!(empty_records.len() <= CAP, "{}", empty_records.len());
    let empty_spans = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span::default(); 120_000],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    assert!(empty_spans.len() <= CAP, "{}", empty_spans.len());

    let logs_url = receiver.http_logs_url().expect("HTTP endpoint");
    let response = post(&logs_url, PROTOBUF, None, empty_records).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    let (_, message, retry) = response.rpc_status();
    assert!(message.contains("decoded"), "{message}");
    assert_eq!(retry, None);
    let endpoint = receiver.grpc_endpoint().expect("gRPC endpoint");
    let status = grpc_raw(&endpoint, Bytes::from(empty_spans))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert_eq!(grpc_retry_delay(&status), None);
    assert_eq!(receiver.stats().bad_requests, 2);
    assert_eq!(receiver.log_record_count(), 0);

    // Real requests, with the cap at their own size.
    let rich = rich_request("real", 50).encode_to_vec();
    let exact = Receiver::start(ReceiverConfig {
        max_request_bytes: rich.len(),
        ..Default::default()
    })
    .expect("start");
    let response = post(&url(&exact), PROTOBUF, None, rich.clone()).await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{:?}",
        response.rpc_status()
    );
    let endpoint = exact.grpc_endpoint().expect("gRPC endpoint");
    grpc_raw(&endpoint, Bytes::from(rich))
        .await
        .expect("a real request passes over gRPC");
    let minimal = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (1..=2000u64)
                    .map(|i| Span {
                        trace_id: vec![1; 16],
                        span_id: i.to_le_bytes().to_vec(),
                        name: "s".into(),
                        start_time_unix_nano: i,
                        end_time_unix_nano: i + 1,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    let exact = Receiver::start(ReceiverConfig {
        max_request_bytes: minimal.len(),
        ..Default::default()
    })
    .expect("start");
    let response = post(&url(&exact), PROTOBUF, None, minimal).await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{:?}",
        response.rpc_status()
    );
    assert_eq!(exact.span_count(), 2000);
}

/// The bound on decoded memory holds for OTLP/JSON too: an object of two
/// bytes (`{}`) per span decodes into a few hundred bytes as surely as an
/// empty protobuf message does. It was checked for protobuf only.
#[tokio::test]
async fn a_json_body_that_would_decode_far_past_the_cap_is_refused_and_real_ones_are_not() {
    const CAP: usize = 256 << 10;
    let receiver = Receiver::start(ReceiverConfig {
        max_request_bytes: CAP,
        ..Default::default()
    })
    .expect("start");
    let spans = vec!["{}"; 80_000].join(",");
    let empty_spans = format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{spans}]}}]}}]}}"#);
    assert!(empty_spans.len() <= CAP, "{}", empty_spans.len());
    let response = post(&url(&receiver), JSON, None, empty_spans.into_bytes()).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(response.rpc_status().1.contains("decoded"));
    assert_eq!(receiver.stats().bad_requests, 1);
    assert_eq!(receiver.span_count(), 0);

    // A real request, with the cap at its own size.
    let rich = serde_json::to_vec(&rich_request("real", 50)).expect("JSON");
    let exact = Receiver::start(ReceiverConfig {
        max_request_bytes: rich.len(),
        ..Default::default()
    })
    .expect("start");
    let response = post(&url(&exact), JSON, None, rich).await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{:?}",
        response.rpc_status()
    );
    assert_eq!(exact.span_count(), 50);
}

#[tokio::test]
async fn http_announced_oversize_is_413_before_100_continue() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let receiver = Receiver::start(ReceiverConfig {
        max_request_bytes: 1024,
        ..Default::default()
    })
    .expect("start");
    let mut stream = tokio::net::TcpStream::connect(receiver.http_addr().expect("http"))
        .await
        .expect("connect");
    let head = "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\n\
                content-length: 1000000\r\nexpect: 100-continue\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = tokio::time::timeout(TIMEOUT, stream.read(&mut buf))
            .await
            .expect("answer in time")
            .expect("read");
        assert!(
            read > 0,
            "closed early: {:?}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..read]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(receiver.stats().bad_requests, 1);
}

#[tokio::test]
async fn http_faults_map_to_statuses_retry_after_and_status_bodies() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    for content_type in [PROTOBUF, JSON] {
        receiver.push_faults([
            Fault::Unavailable,
            Fault::InvalidArgument,
            Fault::Internal,
            Fault::Unauthenticated,
            Fault::UnavailableRetryAfter(Duration::from_secs(1)),
            Fault::Throttle(Duration::from_millis(1500)),
            Fault::ThrottleHttpDate(Duration::from_secs(3)),
            Fault::Status {
                grpc_code: 10,
                http_status: 502,
                message: "gateway".into(),
            },
        ]);
        let body = encode(content_type, &rich_request("faults", 1));
        let mut answers = Vec::new();
        for _ in 0..8 {
            let before = SystemTime::now();
            let response = post(&url(&receiver), content_type, None, body.clone()).await;
            assert_eq!(response.header("content-type"), Some(content_type));
            let (code, message, delay) = response.rpc_status();
            assert!(!message.is_empty());
            let retry_after = response.header("retry-after").map(|value| {
                value
                    .parse::<u64>()
                    .map(|seconds| format!("{seconds}s"))
                    .unwrap_or_else(|_| {
                        // An HTTP-date: at least the delay from now (whole seconds).
                        let at = httpdate::parse_http_date(value).expect("HTTP-date");
                        let wait = at.duration_since(before).unwrap_or_default();
                        assert!(
                            wait >= Duration::from_secs(2) && wait <= Duration::from_secs(5),
                            "{wait:?}"
                        );
                        "date".to_owned()
                    })
            });
            answers.push((response.status.as_u16(), code, delay, retry_after));
        }
        assert_eq!(
            answers,
            vec![
                (503, 14, None, None),
                (400, 3, None, None),
                (500, 13, None, None),
                (401, 16, None, None),
                (503, 14, Some(Duration::from_secs(1)), Some("1s".to_owned())),
                (
                    429,
                    8,
                    Some(Duration::from_millis(1500)),
                    Some("2s".to_owned())
                ),
                (
                    429,
                    8,
                    Some(Duration::from_secs(3)),
                    Some("date".to_owned())
                ),
                (502, 10, None, None),
            ],
            "{content_type}"
        );
    }
    let stats = receiver.stats();
    assert_eq!((stats.faulted_requests, stats.accepted_requests), (16, 0));
}

#[tokio::test]
async fn http_throttle_dates_past_the_year_9999_are_clamped_not_a_panic() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    receiver.push_faults([Fault::ThrottleHttpDate(Duration::from_secs(1 << 40))]);
    let response = post_protobuf(&url(&receiver), &rich_request("far", 1)).await;
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        response.header("retry-after"),
        Some("Fri, 31 Dec 9999 23:59:59 GMT")
    );
    // The handler did not die: the next request is served.
    let response = post_protobuf(&url(&receiver), &rich_request("after", 1)).await;
    assert_eq!(response.status, StatusCode::OK);
}

#[tokio::test]
async fn http_all_zero_span_and_trace_ids_are_400_naming_the_field() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    // Each case zeroes one required id of the first span.
    type Zeroing = fn(&mut ExportTraceServiceRequest);
    let cases: [(&str, Zeroing); 2] = [
        ("spans[0].traceId", |request| {
            request.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![0; 16];
        }),
        ("spans[0].spanId", |request| {
            request.resource_spans[0].scope_spans[0].spans[0].span_id = vec![0; 8];
        }),
    ];
    for content_type in [PROTOBUF, JSON] {
        for (field, zero) in &cases {
            let mut request = rich_request("zeros", 1);
            zero(&mut request);
            let body = encode(content_type, &request);
            let response = post(&url(&receiver), content_type, None, body).await;
            assert_eq!(
                response.status,
                StatusCode::BAD_REQUEST,
                "{field} {content_type}"
            );
            let (code, message, _) = response.rpc_status();
            assert_eq!(code, 3, "INVALID_ARGUMENT: {message}");
            assert!(
                message.contains(&format!("{field} is all zeroes")),
                "{field}: {message}"
            );
        }
    }
    assert_eq!(receiver.span_count(), 0);
    // An all-zero parent span id is not refused: the field is optional and
    // trace.proto only asks roots to leave it empty. Nor is a link to an
    // invalid context: the trace API records one that carries attributes.
    let mut request = rich_request("zero parent", 2);
    request.resource_spans[0].scope_spans[0].spans[1].parent_span_id = vec![0; 8];
    let link = &mut request.resource_spans[0].scope_spans[0].spans[0].links[0];
    link.trace_id = vec![0; 16];
    link.span_id = vec![0; 8];
    let response = post_protobuf(&url(&receiver), &request).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(receiver.span_count(), 2);
}

#[tokio::test]
async fn http_partial_success_in_both_encodings_delay_and_hang() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let partial = Fault::PartialSuccess {
        rejected: 3,
        message: "quota".into(),
    };
    receiver.push_faults([
        partial.clone(),
        partial,
        Fault::Delay(Duration::from_millis(250)),
        Fault::Hang,
    ]);
    let request = rich_request("partial", 4);

    let response = post(&url(&receiver), PROTOBUF, None, encode(PROTOBUF, &request)).await;
    let decoded = ExportTraceServiceResponse::decode(response.body.clone()).expect("response");
    let partial = decoded.partial_success.expect("partial");
    assert_eq!(
        (partial.rejected_spans, partial.error_message.as_str()),
        (3, "quota")
    );

    let response = post(&url(&receiver), JSON, None, encode(JSON, &request)).await;
    assert_eq!(response.status, StatusCode::OK);
    // OTLP/JSON writes int64 as a decimal string, as the Collector does.
    // (opentelemetry-proto's serde only reads it as a number, so check by hand.)
    let value: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(value["partialSuccess"]["rejectedSpans"], "3");
    assert_eq!(value["partialSuccess"]["errorMessage"], "quota");

    let started = std::time::Instant::now();
    let response = post(&url(&receiver), PROTOBUF, None, encode(PROTOBUF, &request)).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(250));

    let client = http_client();
    let hung = http::Request::post(url(&receiver))
        .header("content-type", PROTOBUF)
        .body(Full::new(Bytes::from(encode(PROTOBUF, &request))))
        .expect("request");
    let hang = tokio::time::timeout(Duration::from_millis(500), client.request(hung)).await;
    assert!(hang.is_err(), "a hanging request gets no answer");
    assert!(receiver.wait_until(TIMEOUT, |stats| stats.faulted_requests == 1));
    assert_eq!(receiver.span_count(), 12);
    assert_eq!(receiver.requests()[3].answered, Answer::Fault(Fault::Hang));
}

#[tokio::test]
async fn http_bad_input_gets_4xx_and_the_receiver_keeps_working() {
    let receiver = Receiver::start(ReceiverConfig {
        max_request_bytes: 64 << 10,
        ..Default::default()
    })
    .expect("start");
    let url = url(&receiver);
    let good = rich_request("good", 1);
    let mut wrong_id = good.clone();
    wrong_id.resource_spans[0].scope_spans[0].spans[0].span_id = vec![1; 4];

    let protobuf = |body: Vec<u8>| (PROTOBUF, None, body);
    let json = |body: Vec<u8>| (JSON, None, body);
    let encoded = |encoding, body: Vec<u8>| (PROTOBUF, Some(encoding), body);
    let bomb = big_request(8 << 20).encode_to_vec();
    let cases = [
        (
            "garbage protobuf",
            400,
            protobuf(b"\xff\xff\xff\xff".to_vec()),
        ),
        (
            "truncated protobuf",
            400,
            protobuf(good.encode_to_vec()[..20].to_vec()),
        ),
        ("bad JSON", 400, json(b"{\"resourceSpans\": [".to_vec())),
        (
            "JSON of the wrong shape",
            400,
            json(b"{\"resourceSpans\": 5}".to_vec()),
        ),
        ("wrong id length", 400, protobuf(wrong_id.encode_to_vec())),
        (
            "wrong id length in JSON",
            400,
            json(serde_json::to_vec(&wrong_id).expect("json")),
        ),
        (
            "wrong content type",
            415,
            ("text/plain", None, good.encode_to_vec()),
        ),
        ("unknown encoding", 415, encoded("br", good.encode_to_vec())),
        (
            "corrupt gzip",
            400,
            encoded("gzip", b"\x1f\x8b\x08\x00garbage".to_vec()),
        ),
        (
            "corrupt zstd",
            400,
            encoded("zstd", b"\x28\xb5\x2f\xfdgarbage".to_vec()),
        ),
        (
            "truncated gzip",
            400,
            encoded("gzip", gzip(&good.encode_to_vec())[..30].to_vec()),
        ),
        ("gzip bomb", 413, encoded("gzip", gzip(&bomb))),
        ("zstd bomb", 413, encoded("zstd", zstd(&bomb))),
        // A frame declaring a 128 MiB window, more than a body of the cap
        // can need: refused before any window is allocated, as over gRPC
        // (`RESOURCE_EXHAUSTED` there), not taken for corrupt.
        (
            "zstd window past the limit",
            413,
            encoded(
                "zstd",
                super::over_grpc::zstd_frame_with_window(27, &good.encode_to_vec()),
            ),
        ),
        (
            "oversized body",
            413,
            protobuf(big_request(1 << 20).encode_to_vec()),
        ),
    ];
    let client = http_client();
    let wrong_path = format!("{}/v1/profiles", receiver.http_endpoint().expect("base"));
    let requests = cases
        .into_iter()
        .map(|(what, expected, parts)| (what, url.as_str(), expected, parts))
        .chain([(
            "wrong path",
            wrong_path.as_str(),
            404,
            protobuf(good.encode_to_vec()),
        )]);
    let mut count = 0;
    for (what, target, expected, (content_type, encoding, body)) in requests {
        count += 1;
        let mut builder = http::Request::post(target).header("content-type", content_type);
        if let Some(encoding) = encoding {
            builder = builder.header("content-encoding", encoding);
        }
        let response = send(
            &client,
            builder.body(Full::new(Bytes::from(body))).expect("request"),
        )
        .await;
        assert_eq!(
            response.status.as_u16(),
            expected,
            "{what}: {:?}",
            response.body
        );
        let reply_type = if content_type == JSON { JSON } else { PROTOBUF };
        assert_eq!(response.header("content-type"), Some(reply_type), "{what}");
        let (code, message, _) = response.rpc_status();
        assert!(code != 0 && !message.is_empty(), "{what}: {code} {message}");
        if expected == 415 && encoding.is_some() {
            assert_eq!(response.header("accept-encoding"), Some("gzip, zstd"));
        }
    }

    let get = http::Request::get(url.clone())
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = send(&client, get).await;
    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.header("allow"), Some("POST"));

    let stats = receiver.stats();
    assert_eq!(stats.bad_requests, count + 1, "{stats:?}");
    assert!(receiver.requests().is_empty());

    // Still working, on the same pooled connection.
    let request = http::Request::post(url)
        .header("content-type", PROTOBUF)
        .body(Full::new(Bytes::from(good.encode_to_vec())))
        .expect("request");
    assert_eq!(send(&client, request).await.status, StatusCode::OK);
    assert_eq!(receiver.span_count(), 1);
}

/// RFC 9110 reads `Content-Encoding` on several header lines as one list,
/// the codings applied in order: two lines are two codings stacked, which
/// the receiver does not undo (415, with `Accept-Encoding`), as it refuses
/// `gzip, gzip` on one line. Only the first line was read: a body gzipped
/// twice was a 400 (undone once, it is no protobuf), and one sent as
/// `identity` then `gzip` was read as uncompressed protobuf, a 400 too.
#[tokio::test]
async fn http_content_encoding_on_two_lines_is_stacked_and_415() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let url = url(&receiver);
    let request = rich_request("stacked", 1).encode_to_vec();
    let client = http_client();
    for (content_type, lines, body) in [
        (PROTOBUF, ["gzip", "gzip"], gzip(&gzip(&request))),
        (PROTOBUF, ["identity", "gzip"], gzip(&request)),
        (JSON, ["zstd", "identity"], zstd(&request)),
    ] {
        let builder = http::Request::post(url.as_str())
            .header("content-type", content_type)
            .header("content-encoding", lines[0])
            .header("content-encoding", lines[1]);
        let response = send(
            &client,
            builder.body(Full::new(Bytes::from(body))).expect("request"),
        )
        .await;
        assert_eq!(
            response.status.as_u16(),
            415,
            "{lines:?}: {:?}",
            response.body
        );
        assert_eq!(response.header("content-type"), Some(content_type));
        assert_eq!(response.header("accept-encoding"), Some("gzip, zstd"));
        let (_, message, _) = response.rpc_status();
        assert!(
            message.contains(&format!("{:?}", lines.join(", "))),
            "{lines:?}: {message}"
        );
    }
    assert_eq!(receiver.stats().bad_requests, 3);
    assert_eq!(receiver.span_count(), 0);
}

#[tokio::test]
async fn http_body_over_the_cap_without_content_length_is_413() {
    let receiver = Receiver::start(ReceiverConfig {
        max_request_bytes: 64 << 10,
        ..Default::default()
    })
    .expect("start");
    // A streamed (chunked) body: the cap is enforced while reading.
    let body = Chunked((0..20).map(|_| Bytes::from(vec![0u8; 16 << 10])).collect());
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let request = http::Request::post(url(&receiver))
        .header("content-type", PROTOBUF)
        .body(body)
        .expect("request");
    let response = client.request(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(receiver.stats().bad_requests, 1);
}

/// A body of several chunks with no announced length (sent chunked).
struct Chunked(std::collections::VecDeque<Bytes>);

impl hyper::body::Body for Chunked {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(
            self.0
                .pop_front()
                .map(|chunk| Ok(hyper::body::Frame::data(chunk))),
        )
    }
}

#[tokio::test]
async fn a_request_the_client_abandons_is_counted_as_abandoned() {
    use tokio::io::AsyncWriteExt;

    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    // Held long enough that the client is gone before the answer.
    receiver.push_faults([Fault::Delay(Duration::from_secs(3))]);
    let body = encode(PROTOBUF, &rich_request("abandoning", 2));
    let mut text = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: {PROTOBUF}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    text.extend_from_slice(&body);
    let address = receiver.http_addr().expect("HTTP address");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.write_all(&text).await.expect("write");
    // Once the answer is being held, the client hangs up.
    assert!(receiver.wait_until(TIMEOUT, |stats| stats.requests == 1));
    drop(stream);

    assert!(
        receiver.wait_until(TIMEOUT, |stats| stats.abandoned_requests == 1),
        "{:?}",
        receiver.stats()
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let stats = receiver.stats();
    assert_eq!(
        (
            stats.requests,
            stats.accepted_requests,
            stats.abandoned_requests
        ),
        (1, 0, 1),
        "settled once, as abandoned: {stats:?}"
    );
    assert_eq!(receiver.span_count(), 0);
}

/// OTLP/JSON writes every message as an object, each field once;
/// `opentelemetry-proto`'s derived structs also take an array of their
/// fields in order, and the receiver's second decode (through a JSON tree)
/// kept the last of a field given twice, so these bodies were answered 200
/// and counted as accepted requests.
#[tokio::test]
async fn http_json_messages_written_as_arrays_or_with_a_field_twice_are_400_naming_the_key() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let traces = url(&receiver);
    let logs = receiver.http_logs_url().expect("logs URL");
    let metrics = receiver.http_metrics_url().expect("metrics URL");
    let cases: [(&str, &str, &str); 8] = [
        (&traces, "[]", "the request is a JSON array"),
        (
            &traces,
            r#"{"resourceSpans":[[]]}"#,
            "an element of `resourceSpans`",
        ),
        (
            &traces,
            r#"{"resourceSpans":[{"resource":[],"scopeSpans":[]}]}"#,
            "`resource` holds a JSON array",
        ),
        (
            &traces,
            r#"{"resourceSpans":[{"scopeSpans":[{"scope":[],"spans":[]}]}]}"#,
            "`scope` holds a JSON array",
        ),
        (
            &logs,
            r#"{"resourceLogs":[[]]}"#,
            "an element of `resourceLogs`",
        ),
        (&metrics, "[[]]", "the request is a JSON array"),
        // A field given twice: the decoder's second pass kept the last.
        (
            &traces,
            r#"{"resourceSpans":[],"resourceSpans":[]}"#,
            "`resourceSpans` is given twice",
        ),
        (
            &traces,
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[],"spans":[]}]}]}"#,
            "`spans` is given twice",
        ),
    ];
    for (url, body, named) in cases {
        let response = post(url, JSON, None, body.as_bytes().to_vec()).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}");
        let (code, message, _) = response.rpc_status();
        assert_eq!(code, 3, "INVALID_ARGUMENT for {body}: {message}");
        assert!(message.contains(named), "{body}: {message}");
    }
    // The same shapes written as objects are requests like any other.
    for (url, body) in [
        (&traces, "{}"),
        (&traces, r#"{"resourceSpans":[{}]}"#),
        (
            &traces,
            r#"{"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{}}]}]}"#,
        ),
        (&logs, r#"{"resourceLogs":[{}]}"#),
    ] {
        let response = post(url, JSON, None, body.as_bytes().to_vec()).await;
        assert_eq!(response.status, StatusCode::OK, "{body}");
    }
    let stats = receiver.stats();
    assert_eq!(stats.bad_requests, 8, "{stats:?}");
    assert_eq!(stats.accepted_requests, 4, "{stats:?}");
}

/// A oneof (a metric's data, a number data point's or an exemplar's value,
/// an `AnyValue`) holds one member; OTLP/JSON, the proto3 JSON mapping,
/// gives at most one of them per object (Go's protojson refuses a second).
/// An object giving two was answered 200, and what it meant depended on the
/// member and the store: the decoder kept the first of a metric's data and
/// of a point's value but the last of an `AnyValue`'s (protobuf keeps the
/// last), and counting alone took the gauge of a metric whatever came
/// first, so a count-only receiver counted 1 data point of a request the
/// decoding receiver counted 2 of. Both refuse it, naming the two keys.
#[tokio::test]
async fn http_json_objects_giving_two_members_of_one_oneof_are_400_naming_both() {
    let metric = |members: &str| {
        format!(
            r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"m",{members}}}]}}]}}]}}"#
        )
    };
    let body = |value: &str| {
        format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{value}}}]}}]}}]}}"#)
    };
    let span = |value: &str| {
        format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"01010101010101010101010101010101","spanId":"0202020202020202","attributes":[{{"key":"k","value":{value}}}]}}]}}]}}]}}"#
        )
    };
    let two_points = r#"{"dataPoints":[{"asInt":"1"},{"asInt":"2"}]}"#;
    let one_point = r#"{"dataPoints":[{"asInt":"1"}]}"#;
    for store in [Store::All, Store::CountOnly] {
        let receiver = Receiver::start(ReceiverConfig {
            store,
            ..ReceiverConfig::default()
        })
        .expect("start");
        let traces = url(&receiver);
        let logs = receiver.http_logs_url().expect("logs URL");
        let metrics = receiver.http_metrics_url().expect("metrics URL");
        let refused: [(&str, String, &str); 7] = [
            (
                &metrics,
                metric(&format!(r#""sum":{two_points},"gauge":{one_point}"#)),
                "`sum` and `gauge`",
            ),
            (
                &metrics,
                metric(&format!(r#""gauge":{one_point},"summary":{{}}"#)),
                "`gauge` and `summary`",
            ),
            (
                &metrics,
                metric(r#""gauge":{"dataPoints":[{"asInt":"1","asDouble":2.5}]}"#),
                "`asInt` and `asDouble`",
            ),
            (
                &metrics,
                metric(
                    r#""sum":{"dataPoints":[{"asInt":"1","exemplars":[{"asDouble":1.5,"asInt":"2"}]}]}"#,
                ),
                "`asDouble` and `asInt`",
            ),
            (
                &logs,
                body(r#"{"stringValue":"s","intValue":"2"}"#),
                "`stringValue` and `intValue`",
            ),
            (
                &logs,
                body(r#"{"arrayValue":{"values":[{"boolValue":true,"bytesValue":"AA=="}]}}"#),
                "`boolValue` and `bytesValue`",
            ),
            (
                &traces,
                span(r#"{"kvlistValue":{"values":[]},"doubleValue":1.5}"#),
                "`kvlistValue` and `doubleValue`",
            ),
        ];
        for (url, body, named) in &refused {
            let response = post(url, JSON, None, body.as_bytes().to_vec()).await;
            assert_eq!(
                response.status,
                StatusCode::BAD_REQUEST,
                "{store:?}: {body}"
            );
            let (code, message, _) = response.rpc_status();
            assert_eq!(code, 3, "INVALID_ARGUMENT for {body}: {message}");
            assert!(message.contains(named), "{store:?}: {body}: {message}");
        }
        // One member, or a second one that is null (not given), is a request
        // like any other.
        let accepted = [
            (&metrics, metric(&format!(r#""sum":{two_points}"#))),
            (
                &metrics,
                metric(&format!(r#""gauge":null,"sum":{two_points}"#)),
            ),
            (&logs, body(r#"{"stringValue":"s","intValue":null}"#)),
            (&traces, span(r#"{"doubleValue":1.5}"#)),
        ];
        for (url, body) in &accepted {
            let response = post(url, JSON, None, body.as_bytes().to_vec()).await;
            assert_eq!(response.status, StatusCode::OK, "{store:?}: {body}");
        }
        assert_eq!(receiver.data_point_count(), 4, "{store:?}");
        assert_eq!(receiver.log_record_count(), 1, "{store:?}");
        assert_eq!(receiver.span_count(), 1, "{store:?}");
        let stats = receiver.stats();
        assert_eq!(stats.bad_requests, 7, "{store:?}: {stats:?}");
        assert_eq!(stats.accepted_requests, 4, "{store:?}: {stats:?}");
    }
}

/// A client that hangs up (HTTP/1.1) or resets its stream (HTTP/2, gRPC)
/// while its body is still arriving gave up on the request: it is counted
/// abandoned, as one that hangs up while waiting for the answer. It was
/// counted as bad input, as if the client had sent undecodable data.
#[tokio::test]
async fn a_body_its_client_cuts_short_is_counted_abandoned_not_bad_on_both_transports() {
    use tokio::io::AsyncWriteExt;

    let body = encode(PROTOBUF, &rich_request("cut", 4));
    let half = &body[..body.len() / 2];

    // HTTP/1.1: the announced length, half the body, then the connection closes.
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let mut text = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: {PROTOBUF}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    text.extend_from_slice(half);
    let address = receiver.http_addr().expect("HTTP address");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.write_all(&text).await.expect("write");
    assert!(
        receiver
            .wait_until_async(TIMEOUT, |stats| stats.requests == 1)
            .await
    );
    drop(stream);
    assert!(
        receiver
            .wait_until_async(TIMEOUT, |stats| stats.bad_requests
                + stats.abandoned_requests
                == 1)
            .await,
        "{:?}",
        receiver.stats()
    );
    let stats = receiver.stats();
    assert_eq!(
        (stats.abandoned_requests, stats.bad_requests),
        (1, 0),
        "HTTP/1.1: {stats:?}"
    );

    // HTTP/2 on the HTTP port, and gRPC: half the body, then the stream is reset.
    let grpc_body = {
        let mut framed = vec![0u8];
        framed.extend_from_slice(&(body.len() as u32).to_be_bytes());
        framed.extend_from_slice(&body);
        framed
    };
    for (transport, path, content_type, whole) in [
        ("http/2", "/v1/traces", PROTOBUF, body.clone()),
        (
            "grpc",
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            "application/grpc",
            grpc_body,
        ),
    ] {
        let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
        let address = match transport {
            "grpc" => receiver.grpc_addr(),
            _ => receiver.http_addr(),
        }
        .expect("address");
        let tcp = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let (mut sender, connection) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tcp),
        )
        .await
        .expect("HTTP/2 handshake");
        tokio::spawn(connection);
        let (frames, rx) = tokio::sync::mpsc::unbounded_channel();
        let request = http::Request::post(format!("http://{address}{path}"))
            .header("content-type", content_type)
            .header("te", "trailers")
            .body(ChannelBody(rx))
            .expect("request");
        frames
            .send(Ok(Bytes::copy_from_slice(&whole[..whole.len() / 2])))
            .expect("first half");
        let answer = tokio::spawn(sender.send_request(request));
        assert!(
            receiver
                .wait_until_async(TIMEOUT, |stats| stats.requests == 1)
                .await
        );
        // The body fails: hyper's client resets the stream.
        frames
            .send(Err(std::io::Error::other("client gives up")))
            .expect("reset");
        assert!(
            receiver
                .wait_until_async(TIMEOUT, |stats| stats.bad_requests
                    + stats.abandoned_requests
                    == 1)
                .await,
            "{transport}: {:?}",
            receiver.stats()
        );
        let stats = receiver.stats();
        assert_eq!(
            (stats.abandoned_requests, stats.bad_requests),
            (1, 0),
            "{transport}: {stats:?}"
        );
        answer.abort();
    }
}

/// An HTTP/2 frame: length, type, flags, stream id, payload.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = (payload.len() as u32).to_be_bytes();
    let mut frame = length[1..].to_vec();
    frame.extend_from_slice(&[kind, flags]);
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// An HTTP/2 client that resets its stream with `NO_ERROR` after half the
/// body it announced: hyper ends such a body without an error (a server's
/// early answer), and the receiver decoded the half it had. Cut at a
/// message boundary it is a valid request, which was accepted with half the
/// spans; it is abandoned now.
#[tokio::test]
async fn an_http2_body_reset_short_of_its_content_length_is_not_accepted() {
    use tokio::io::AsyncWriteExt;

    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let first = rich_request("first", 2);
    let second = rich_request("second", 2);
    let whole = ExportTraceServiceRequest {
        resource_spans: [first.resource_spans.clone(), second.resource_spans].concat(),
    }
    .encode_to_vec();
    let half = first.encode_to_vec();
    assert!(whole.starts_with(&half), "a valid request of its own");

    // HPACK, no Huffman: :method POST (static 3), :scheme http (6), then
    // literals without indexing of :path (4), :authority (1),
    // content-type (31) and content-length (28).
    let length = whole.len().to_string();
    let mut headers = vec![0x83, 0x86, 0x04, 10];
    headers.extend_from_slice(b"/v1/traces");
    headers.extend_from_slice(&[0x01, 1, b'x', 0x0f, 31 - 15, PROTOBUF.len() as u8]);
    headers.extend_from_slice(PROTOBUF.as_bytes());
    headers.extend_from_slice(&[0x0f, 28 - 15, length.len() as u8]);
    headers.extend_from_slice(length.as_bytes());
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend(h2_frame(4, 0, 0, &[])); // SETTINGS
    bytes.extend(h2_frame(1, 0x4, 1, &headers)); // HEADERS, END_HEADERS
    bytes.extend(h2_frame(0, 0, 1, &half)); // DATA, not the end
    let address = receiver.http_addr().expect("HTTP address");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.write_all(&bytes).await.expect("write");
    assert!(
        receiver
            .wait_until_async(TIMEOUT, |stats| stats.requests == 1)
            .await
    );
    stream
        .write_all(&h2_frame(3, 0, 1, &[0, 0, 0, 0])) // RST_STREAM NO_ERROR
        .await
        .expect("reset");
    assert!(
        receiver
            .wait_until_async(TIMEOUT, |stats| stats.requests
                == stats.accepted_requests + stats.bad_requests + stats.abandoned_requests)
            .await,
        "{:?}",
        receiver.stats()
    );
    let stats = receiver.stats();
    assert_eq!(
        (
            stats.accepted_requests,
            stats.accepted_spans,
            stats.abandoned_requests
        ),
        (0, 0, 1),
        "{stats:?}"
    );
}

/// Reads until the receiver closes the connection; `false` when it is still
/// open after `TIMEOUT` (a hundred times the head timeout the test sets).
async fn closed_by_the_receiver(stream: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    // An error (a reset) is a close as much as an end of input.
    tokio::time::timeout(TIMEOUT * 3, stream.read_to_end(&mut answer))
        .await
        .is_ok()
}

/// A client that opened a connection and sent nothing, part of an HTTP/1.1
/// head, part of the HTTP/2 preface, or a first request and then part of a
/// second head held its socket and task for as long as it liked: hyper
/// times request heads only with a timer, which the receiver did not give
/// it, and nothing timed the wait for the first bytes. Each connection is
/// closed once `request_head_timeout` passes without a request head.
#[tokio::test]
async fn a_connection_that_brings_no_request_head_in_time_is_closed() {
    use tokio::io::AsyncWriteExt;

    let receiver = Receiver::start(ReceiverConfig {
        request_head_timeout: Duration::from_millis(100),
        ..ReceiverConfig::default()
    })
    .expect("start");
    let http = receiver.http_addr().expect("HTTP address");
    let grpc = receiver.grpc_addr().expect("gRPC address");
    let body = encode(PROTOBUF, &rich_request("first", 1));
    let mut whole_request = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: {PROTOBUF}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    whole_request.extend_from_slice(&body);
    let partial_head = b"POST /v1/traces HTTP/1.1\r\nhost: x\r\n".to_vec();
    let cases: [(&str, _, Vec<u8>); 4] = [
        ("nothing at all", http, Vec::new()),
        ("part of an HTTP/1.1 head", http, partial_head.clone()),
        (
            "part of the HTTP/2 preface",
            grpc,
            b"PRI * HTTP/2.0\r\n".to_vec(),
        ),
        (
            "a request, then part of the next head",
            http,
            [whole_request, partial_head].concat(),
        ),
    ];
    for (sent, address, bytes) in cases {
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        stream.write_all(&bytes).await.expect("write");
        assert!(
            closed_by_the_receiver(&mut stream).await,
            "a connection that sent {sent} is still open"
        );
    }
    // The whole request was answered before its connection was closed.
    assert_eq!(receiver.stats().accepted_requests, 1);
    assert_eq!(receiver.span_count(), 1);
}

/// An HTTP/2 frame as read off the wire.
#[derive(Debug)]
struct H2Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

const H2_HEADERS: u8 = 1;
const H2_RST_STREAM: u8 = 3;
const H2_SETTINGS: u8 = 4;
const H2_PING: u8 = 6;
const H2_GOAWAY: u8 = 7;
const H2_ACK: u8 = 0x1;

/// The HPACK block (no Huffman) of `POST /v1/traces` with a protobuf body
/// of `length` bytes: :method POST (static 3), :scheme http (6), then
/// literals without indexing of :path (4), :authority (1), content-type
/// (31) and content-length (28).
fn h2_traces_post_head(length: usize) -> Vec<u8> {
    let length = length.to_string();
    let mut headers = vec![0x83, 0x86, 0x04, 10];
    headers.extend_from_slice(b"/v1/traces");
    headers.extend_from_slice(&[0x01, 1, b'x', 0x0f, 31 - 15, PROTOBUF.len() as u8]);
    headers.extend_from_slice(PROTOBUF.as_bytes());
    headers.extend_from_slice(&[0x0f, 28 - 15, length.len() as u8]);
    headers.extend_from_slice(length.as_bytes());
    headers
}

/// Reads the receiver's frames until it closes the connection, answering
/// its SETTINGS and, when `answer_pings`, its PINGs (as every HTTP/2 client
/// does). `None` when the connection is still open after `TIMEOUT`.
async fn h2_frames_until_closed(
    stream: &mut tokio::net::TcpStream,
    answer_pings: bool,
) -> Option<Vec<H2Frame>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let read_all = async {
        let mut frames = Vec::new();
        loop {
            let mut head = [0u8; 9];
            // An error (a reset) is a close as much as an end of input.
            if stream.read_exact(&mut head).await.is_err() {
                return frames;
            }
            let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0; length];
            if stream.read_exact(&mut payload).await.is_err() {
                return frames;
            }
            let frame = H2Frame {
                kind: head[3],
                flags: head[4],
                stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
                payload,
            };
            let answer = match frame.kind {
                H2_SETTINGS if frame.flags & H2_ACK == 0 => {
                    Some(h2_frame(H2_SETTINGS, H2_ACK, 0, &[]))
                }
                H2_PING if frame.flags & H2_ACK == 0 && answer_pings => {
                    Some(h2_frame(H2_PING, H2_ACK, 0, &frame.payload))
                }
                _ => None,
            };
            if let Some(answer) = answer {
                // The receiver may have closed already.
                let _ = stream.write_all(&answer).await;
            }
            frames.push(frame);
        }
    };
    tokio::time::timeout(TIMEOUT, read_all).await.ok()
}

/// The (last stream id, error code) of each GOAWAY among `frames`.
fn goaways(frames: &[H2Frame]) -> Vec<(u32, u32)> {
    frames
        .iter()
        .filter(|frame| frame.kind == H2_GOAWAY && frame.payload.len() >= 8)
        .map(|frame| {
            let word = |at: usize| {
                u32::from_be_bytes([
                    frame.payload[at],
                    frame.payload[at + 1],
                    frame.payload[at + 2],
                    frame.payload[at + 3],
                ])
            };
            (word(0) & 0x7fff_ffff, word(4))
        })
        .collect()
}

/// An HTTP/2 connection was timed only until its first request: a client
/// could send one request and then hold the connection (and its task) open
/// for ever, sending nothing. Once no request has been in progress for
/// `request_head_timeout` it is closed, gracefully: a GOAWAY with
/// `NO_ERROR`, then (once the client answered its PING) a last one naming
/// the request it served. A client that never answers the PING, holding up
/// the graceful close, is dropped all the same.
#[tokio::test]
async fn an_http2_connection_idle_after_its_answer_gets_a_goaway_and_is_closed() {
    use tokio::io::AsyncWriteExt;

    let receiver = Receiver::start(ReceiverConfig {
        request_head_timeout: Duration::from_millis(200),
        ..ReceiverConfig::default()
    })
    .expect("start");
    let body = rich_request("idle", 2).encode_to_vec();
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend(h2_frame(H2_SETTINGS, 0, 0, &[]));
    bytes.extend(h2_frame(
        H2_HEADERS,
        0x4,
        1,
        &h2_traces_post_head(body.len()),
    )); // END_HEADERS
    bytes.extend(h2_frame(0, 0x1, 1, &body)); // DATA, END_STREAM
    for answer_pings in [true, false] {
        let mut stream =
            tokio::net::TcpStream::connect(receiver.http_addr().expect("HTTP address"))
                .await
                .expect("connect");
        stream.write_all(&bytes).await.expect("write");
        let frames = h2_frames_until_closed(&mut stream, answer_pings)
            .await
            .unwrap_or_else(|| {
                panic!("answering PINGs {answer_pings}: still open {TIMEOUT:?} after its answer")
            });
        let answer = frames
            .iter()
            .position(|frame| frame.kind == H2_HEADERS && frame.stream == 1)
            .expect("an answer on stream 1");
        let first_goaway = frames
            .iter()
            .position(|frame| frame.kind == H2_GOAWAY)
            .unwrap_or_else(|| panic!("answering PINGs {answer_pings}: no GOAWAY in {frames:?}"));
        assert!(answer < first_goaway, "{frames:?}");
        assert!(
            !frames.iter().any(|frame| frame.kind == H2_RST_STREAM),
            "{frames:?}"
        );
        let goaways = goaways(&frames);
        assert!(
            goaways.iter().all(|&(_, code)| code == 0),
            "NO_ERROR: {goaways:?}"
        );
        if answer_pings {
            // The graceful close's last word: stream 1 was served.
            assert_eq!(goaways.last(), Some(&(1, 0)), "{goaways:?}");
        }
    }
    let stats = receiver.stats();
    assert_eq!(
        (stats.accepted_requests, stats.accepted_spans),
        (2, 4),
        "{stats:?}"
    );
}

/// A request is in progress while its body arrives, however slowly (within
/// `max_request_bytes`): the idle close, which starts only once no request
/// is in progress, does not cut it, over HTTP/1.1 or HTTP/2, though its
/// body pauses for longer than `request_head_timeout` between pieces.
#[tokio::test]
async fn a_request_whose_body_arrives_slowly_is_not_closed_as_idle() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let head_timeout = Duration::from_millis(200);
    let receiver = Receiver::start(ReceiverConfig {
        request_head_timeout: head_timeout,
        ..ReceiverConfig::default()
    })
    .expect("start");
    let address = receiver.http_addr().expect("HTTP address");
    let body = rich_request("slow", 3).encode_to_vec();
    let pieces: Vec<&[u8]> = body.chunks(body.len().div_ceil(4)).collect();
    let pause = head_timeout + head_timeout / 2;

    // HTTP/1.1: the head, then the body a piece at a time.
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: {PROTOBUF}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    for piece in &pieces {
        tokio::time::sleep(pause).await;
        stream.write_all(piece).await.expect("a piece of the body");
    }
    let mut answer = Vec::new();
    // The connection is closed once idle after the answer.
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut answer))
        .await
        .expect("closed once idle after its answer")
        .expect("read");
    assert!(
        answer.starts_with(b"HTTP/1.1 200 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // HTTP/2: the HEADERS, then DATA frames a piece at a time.
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend(h2_frame(H2_SETTINGS, 0, 0, &[]));
    bytes.extend(h2_frame(
        H2_HEADERS,
        0x4,
        1,
        &h2_traces_post_head(body.len()),
    )); // END_HEADERS
    stream.write_all(&bytes).await.expect("head");
    for (index, piece) in pieces.iter().enumerate() {
        tokio::time::sleep(pause).await;
        let end_stream = if index + 1 == pieces.len() { 0x1 } else { 0 };
        stream
            .write_all(&h2_frame(0, end_stream, 1, piece))
            .await
            .expect("a piece of the body");
    }
    let frames = h2_frames_until_closed(&mut stream, true)
        .await
        .expect("closed once idle after its answer");
    let answer = frames
        .iter()
        .position(|frame| frame.kind == H2_HEADERS && frame.stream == 1)
        .unwrap_or_else(|| panic!("no answer on stream 1: {frames:?}"));
    assert!(
        frames[..answer]
            .iter()
            .all(|frame| frame.kind != H2_GOAWAY && frame.kind != H2_RST_STREAM),
        "{frames:?}"
    );
    let stats = receiver.stats();
    assert_eq!(
        (stats.accepted_requests, stats.accepted_spans),
        (2, 6),
        "{stats:?}"
    );
}

/// A request head timeout too long to add to the clock (`Duration::MAX`,
/// or `--request-head-timeout 1e19s`: "practically never") made every
/// connection's task panic at its start (an `Instant` overflow, in the
/// listener's own deadline and in hyper's HTTP/1.1 head timer), so no
/// request over either transport was ever answered. It stands for a year.
#[tokio::test]
async fn a_request_head_timeout_past_the_clocks_range_still_serves_requests() {
    let receiver = Receiver::start(ReceiverConfig {
        request_head_timeout: Duration::MAX,
        ..ReceiverConfig::default()
    })
    .expect("start");
    let url = receiver.http_traces_url().expect("HTTP URL");
    let response = post_protobuf(&url, &rich_request("http", 1)).await;
    assert_eq!(response.status, StatusCode::OK);
    let endpoint = receiver.grpc_endpoint().expect("gRPC endpoint");
    let mut client = grpc_client(&endpoint).await;
    tokio::time::timeout(TIMEOUT, client.export(rich_request("grpc", 2)))
        .await
        .expect("gRPC answer in time")
        .expect("gRPC export");
    assert_eq!(receiver.span_count(), 3);
}

#[test]
fn a_zero_request_head_timeout_is_refused_naming_the_field() {
    let error = Receiver::start(ReceiverConfig {
        request_head_timeout: Duration::ZERO,
        ..ReceiverConfig::default()
    })
    .expect_err("a zero timeout closes every connection");
    assert!(
        error.to_string().contains("request_head_timeout"),
        "{error}"
    );
}
