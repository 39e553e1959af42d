//! Answers no receiver gives (the contrib receiver cannot be scripted to),
//! from a bare HTTP/2 server on loopback: responses at and over the 4 MiB
//! cap, HTTP errors with no gRPC status (a proxy's), a trailers-only error,
//! and an answer that never says its status.

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::StatusCode;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otlp_core::response::PartialSuccess;
use otlp_exporter_grpc::{Compression, GrpcExporter, MAX_RESPONSE_BYTES};
use otlp_sdk::{ExportError, ExportOutcome, Exporter};
use prost::Message as _;
use support::rich_spans;

/// One gRPC message frame: uncompressed flag, length, message.
fn frame(message: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(u32::try_from(message.len()).expect("fits"));
    frame.put_slice(message);
    frame.freeze()
}

type Answer = hyper::Response<DataThenTrailers>;

/// Exports one span to a bare server that gives every request `answer()`;
/// returns the outcome and how many requests the server saw.
fn export_to(answer: impl Fn() -> Answer + Send + Sync + 'static) -> (ExportOutcome, u64) {
    let (outcome, requests) = export_compressed(Compression::None, answer);
    (outcome, requests.len() as u64)
}

/// What the server received: each request's `grpc-encoding` and body.
type Received = Vec<(Option<String>, Bytes)>;

/// As [`export_to`], the request compressed with `compression`; returns the
/// outcome and every request the server received.
fn export_compressed(
    compression: Compression,
    answer: impl Fn() -> Answer + Send + Sync + 'static,
) -> (ExportOutcome, Received) {
    let (outcome, requests) = serve_while(answer, move |endpoint| async move {
        let exporter = GrpcExporter::builder()
            .endpoint(endpoint)
            .compression(compression)
            .timeout(Duration::from_secs(5))
            .build()
            .expect("exporter builds");
        exporter.export(support::request(&rich_spans(1))).await
    });
    let received = requests
        .into_iter()
        .map(|(headers, body)| {
            let encoding = headers
                .get("grpc-encoding")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            (encoding, body)
        })
        .collect();
    (outcome, received)
}

/// Runs `client` (given the endpoint `http://…`) against a bare server that
/// gives every request `answer()`; returns what `client` returned and every
/// request the server received, headers and body.
fn serve_while<T, F>(
    answer: impl Fn() -> Answer + Send + Sync + 'static,
    client: impl FnOnce(String) -> F,
) -> (T, Vec<(http::HeaderMap, Bytes)>)
where
    F: std::future::Future<Output = T>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let calls = Arc::new(Mutex::new(Vec::new()));
    let answer = Arc::new(answer);
    let outcome = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let server_calls = calls.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let calls = server_calls.clone();
                let answer = answer.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: hyper::Request<hyper::body::Incoming>| {
                            let calls = calls.clone();
                            let answer = answer.clone();
                            async move {
                                let (parts, body) = request.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(|body| body.to_bytes())
                                    .unwrap_or_default();
                                calls.lock().unwrap().push((parts.headers, body));
                                Ok::<_, Infallible>(answer())
                            }
                        },
                    );
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        client(format!("http://{address}")).await
    });
    let received = std::mem::take(&mut *calls.lock().unwrap());
    (outcome, received)
}

fn grpc_answer(data: Option<Bytes>, trailers: Option<http::HeaderMap>) -> Answer {
    hyper::Response::builder()
        .header("content-type", "application/grpc")
        .body(DataThenTrailers { data, trailers })
        .expect("response")
}

fn status_headers(code: &'static str, message: &'static str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("grpc-status", http::HeaderValue::from_static(code));
    if !message.is_empty() {
        headers.insert("grpc-message", http::HeaderValue::from_static(message));
    }
    headers
}

#[test]
fn a_response_over_4_mib_is_a_permanent_error() {
    let oversized = frame(&vec![0; MAX_RESPONSE_BYTES + (1 << 20)]);
    let (outcome, calls) = export_to(move || grpc_answer(Some(oversized.clone()), None));
    match outcome {
        ExportOutcome::Permanent {
            error: ExportError::InvalidResponse(message),
        } => assert!(
            message.contains(&MAX_RESPONSE_BYTES.to_string()),
            "{message}"
        ),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(calls, 1, "not retried by the exporter");
}

#[test]
fn a_response_of_exactly_4_mib_is_read() {
    // A valid response of exactly the cap (a partial success with a very long
    // message) proves the limit is the cap.
    let message = frame(&response_of_len(MAX_RESPONSE_BYTES));
    let (outcome, _) =
        export_to(move || grpc_answer(Some(message.clone()), Some(status_headers("0", ""))));
    match outcome {
        ExportOutcome::PartialSuccess {
            rejected_spans,
            message,
        } => {
            assert_eq!(rejected_spans, 1);
            assert!(
                message.starts_with("xxxx") && message.len() < 2048,
                "kept capped"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// HTTP statuses without a gRPC status map as gRPC's
/// http-grpc-status-mapping says, then classify as OTLP says.
#[test]
fn http_errors_without_a_grpc_status_map_to_grpc_codes() {
    let plain = |status: StatusCode| {
        move || {
            hyper::Response::builder()
                .status(status)
                .header("content-type", "text/plain")
                .body(DataThenTrailers {
                    data: Some(Bytes::from_static(b"proxy says no")),
                    trailers: None,
                })
                .expect("response")
        }
    };
    let (outcome, _) = export_to(plain(StatusCode::SERVICE_UNAVAILABLE));
    assert!(
        matches!(
            &outcome,
            ExportOutcome::Retryable { error: ExportError::Server { status, .. }, throttle: None }
                if status == "gRPC UNAVAILABLE"
        ),
        "{outcome:?}"
    );
    let (outcome, _) = export_to(plain(StatusCode::BAD_REQUEST));
    assert!(
        matches!(
            &outcome,
            ExportOutcome::Permanent { error: ExportError::Server { status, .. } }
                if status == "gRPC INTERNAL"
        ),
        "{outcome:?}"
    );
}

#[test]
fn a_proxys_retry_after_is_the_throttle_hint_with_or_without_compression() {
    let throttled = || {
        hyper::Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header("content-type", "text/plain")
            .header("retry-after", "7")
            .body(DataThenTrailers {
                data: Some(Bytes::from_static(b"slow down")),
                trailers: None,
            })
            .expect("response")
    };
    let mut compressions = vec![Compression::None];
    if cfg!(feature = "gzip") {
        compressions.push(Compression::Gzip);
    }
    if cfg!(feature = "zstd") {
        compressions.push(Compression::Zstd);
    }
    for compression in compressions {
        let (outcome, received) = export_compressed(compression, throttled);
        assert!(
            matches!(
                &outcome,
                ExportOutcome::Retryable { throttle: Some(delay), .. }
                    if *delay == Duration::from_secs(7)
            ),
            "{compression:?}: {outcome:?}"
        );
        // What was sent is one gRPC message, compressed as announced, that
        // decodes into the one span.
        let [(encoding, body)] = received.as_slice() else {
            panic!("{compression:?}: {} requests", received.len());
        };
        let compressed = compression != Compression::None;
        assert_eq!(
            encoding.as_deref(),
            compressed.then_some(compression.as_str())
        );
        assert_eq!(body[0], u8::from(compressed));
        let length = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        assert_eq!(length, body.len() - 5);
        let message = decompress(compression, &body[5..]);
        let request = ExportTraceServiceRequest::decode(&message[..]).expect("decodes");
        assert_eq!(request.resource_spans[0].scope_spans[0].spans.len(), 1);
    }
}

/// A proxy may give its `Retry-After` as an HTTP-date rather than seconds
/// (RFC 9110 allows both); the wait until that date is the throttle hint.
#[test]
fn a_proxys_retry_after_http_date_is_the_throttle_hint() {
    let (outcome, _) = export_to(|| {
        let later = std::time::SystemTime::now() + Duration::from_secs(30);
        hyper::Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .header("content-type", "text/plain")
            .header("retry-after", httpdate::fmt_http_date(later))
            .body(DataThenTrailers {
                data: Some(Bytes::from_static(b"slow down")),
                trailers: None,
            })
            .expect("response")
    });
    assert!(
        matches!(
            &outcome,
            ExportOutcome::Retryable { throttle: Some(delay), .. }
                if *delay > Duration::from_secs(25) && *delay <= Duration::from_secs(30)
        ),
        "{outcome:?}"
    );
}

/// A request message as the server reads it.
fn decompress(compression: Compression, message: &[u8]) -> Vec<u8> {
    match compression {
        #[cfg(feature = "gzip")]
        Compression::Gzip => {
            use std::io::Read as _;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(message)
                .read_to_end(&mut out)
                .expect("gzip");
            out
        }
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::decode_all(message).expect("zstd"),
        _ => message.to_vec(),
    }
}

#[test]
fn a_trailers_only_error_is_read_from_the_headers() {
    let (outcome, _) = export_to(|| {
        let mut answer = grpc_answer(None, None);
        answer
            .headers_mut()
            .extend(status_headers("3", "bad%20span"));
        answer
    });
    assert_eq!(
        outcome,
        ExportOutcome::Permanent {
            error: ExportError::Server {
                status: "gRPC INVALID_ARGUMENT".into(),
                message: "bad span".into(),
            }
        }
    );
}

#[test]
fn an_answer_without_a_grpc_status_is_invalid() {
    let message = frame(&[]);
    let (outcome, _) = export_to(move || grpc_answer(Some(message.clone()), None));
    assert!(
        matches!(
            &outcome,
            ExportOutcome::Permanent { error: ExportError::InvalidResponse(message) }
                if message.contains("grpc-status")
        ),
        "{outcome:?}"
    );
}

/// An `ExportTraceServiceResponse` of exactly `len` bytes.
fn response_of_len(len: usize) -> Bytes {
    let encode = |message_len: usize| {
        otlp_core::response::encode_export_response(Some(&PartialSuccess {
            rejected_spans: 1,
            error_message: "x".repeat(message_len),
        }))
    };
    let mut message_len = len - 16;
    let mut body = encode(message_len);
    message_len = message_len + len - body.len();
    body = encode(message_len);
    assert_eq!(body.len(), len);
    body.into()
}

/// A response body: data (if any), then trailers (if any).
struct DataThenTrailers {
    data: Option<Bytes>,
    trailers: Option<http::HeaderMap>,
}

impl hyper::body::Body for DataThenTrailers {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        let frame = match self.data.take() {
            Some(data) => Some(hyper::body::Frame::data(data)),
            None => self.trailers.take().map(hyper::body::Frame::trailers),
        };
        std::task::Poll::Ready(frame.map(Ok))
    }
}

/// A `google.rpc.Status` whose details carry a `RetryInfo` delay.
fn retry_info_status(code: i32, delay: Duration) -> String {
    let details = otlp_core::response::RpcStatus {
        code,
        message: "slow down".into(),
        retry_delay: Some(delay),
    }
    .encode();
    base64_encode(&details)
}

/// Standard base64 without padding, as gRPC sends `-bin` metadata.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in bytes.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let bits = u32::from_be_bytes([0, group[0], group[1], group[2]]);
        for index in 0..=chunk.len() {
            text.push(ALPHABET[(bits >> (18 - 6 * index) & 63) as usize] as char);
        }
    }
    text
}

/// A trailers-only error answer with these status headers.
fn trailers_only(headers: Vec<(&'static str, String)>) -> Answer {
    let mut answer = grpc_answer(None, None);
    for (name, value) in headers {
        answer
            .headers_mut()
            .insert(name, http::HeaderValue::from_str(&value).expect("value"));
    }
    answer
}

#[test]
fn resource_exhausted_with_retry_info_is_retried_after_its_delay() {
    for in_trailers in [false, true] {
        let status = retry_info_status(8, Duration::from_millis(1500));
        let (outcome, _) = export_to(move || {
            let headers = vec![
                ("grpc-status", "8".to_owned()),
                ("grpc-message", "quota".to_owned()),
                ("grpc-status-details-bin", status.clone()),
            ];
            if in_trailers {
                let mut trailers = http::HeaderMap::new();
                for (name, value) in headers {
                    trailers.insert(name, http::HeaderValue::from_str(&value).unwrap());
                }
                grpc_answer(Some(frame(&[])), Some(trailers))
            } else {
                trailers_only(headers)
            }
        });
        assert_eq!(
            outcome,
            ExportOutcome::Retryable {
                error: ExportError::Server {
                    status: "gRPC RESOURCE_EXHAUSTED".into(),
                    message: "quota".into(),
                },
                throttle: Some(Duration::from_millis(1500)),
            },
            "in trailers: {in_trailers}"
        );
    }
}

/// A server (or a proxy rewriting its answers) sending status details that
/// are no base64: the status code still decides, and the exporter does not panic.
#[test]
fn status_details_that_are_not_base64_are_ignored_not_a_panic() {
    let (outcome, _) = export_to(|| {
        trailers_only(vec![
            ("grpc-status", "14".to_owned()),
            ("grpc-message", "draining".to_owned()),
            ("grpc-status-details-bin", "not*base64!".to_owned()),
        ])
    });
    assert_eq!(
        outcome,
        ExportOutcome::Retryable {
            error: ExportError::Server {
                status: "gRPC UNAVAILABLE".into(),
                message: "draining".into(),
            },
            throttle: None,
        }
    );
}

/// A `grpc-message` that is not percent-encoded UTF-8 (a proxy that cut it
/// mid-character, a server in another charset) must not change the code:
/// gRPC says never to throw the status away over its message.
#[test]
fn a_status_message_that_is_not_utf8_keeps_its_code() {
    let (outcome, _) = export_to(|| {
        trailers_only(vec![
            ("grpc-status", "14".to_owned()),
            ("grpc-message", "overloaded %E2%9C".to_owned()),
        ])
    });
    let ExportOutcome::Retryable {
        error: ExportError::Server { status, message },
        throttle: None,
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(status, "gRPC UNAVAILABLE");
    assert!(message.starts_with("overloaded"), "{message}");
}

/// The Collector (grpc-go) answers in the compression of the request, whether
/// or not the client offered it: a compressed partial success is still one.
#[test]
fn a_compressed_partial_success_is_read() {
    let mut compressions = Vec::new();
    if cfg!(feature = "gzip") {
        compressions.push(Compression::Gzip);
    }
    if cfg!(feature = "zstd") {
        compressions.push(Compression::Zstd);
    }
    for compression in compressions {
        let response = otlp_core::response::encode_export_response(Some(&PartialSuccess {
            rejected_spans: 1,
            error_message: "too old".into(),
        }));
        let compressed = otlp_sdk::compression::compress(compression, &response)
            .expect("compress")
            .expect("compressed");
        let mut message = BytesMut::new();
        message.put_u8(1);
        message.put_u32(u32::try_from(compressed.len()).unwrap());
        message.put_slice(&compressed);
        let message = message.freeze();
        let (outcome, _) = export_compressed(compression, move || {
            let mut answer = grpc_answer(Some(message.clone()), Some(status_headers("0", "")));
            answer.headers_mut().insert(
                "grpc-encoding",
                http::HeaderValue::from_static(compression.as_str()),
            );
            answer
        });
        assert_eq!(
            outcome,
            ExportOutcome::PartialSuccess {
                rejected_spans: 1,
                message: "too old".into()
            },
            "{compression:?}"
        );
    }
}

/// An `OK` whose response message cannot be read (compressed in a
/// `grpc-encoding` not decoded here, a corrupt compressed stream, a prefix
/// that lies about its length) still says that the server took the records:
/// a warning (a partial success rejecting nothing) naming what could not be
/// read, as over HTTP, never a failure of records that were delivered.
#[test]
fn an_ok_whose_response_cannot_be_read_still_counts_the_records_delivered() {
    let compressed_flag = |payload: &[u8]| {
        let mut message = BytesMut::new();
        message.put_u8(1);
        message.put_u32(u32::try_from(payload.len()).unwrap());
        message.put_slice(payload);
        message.freeze()
    };
    let lying_prefix = {
        let mut message = BytesMut::new();
        message.put_u8(0);
        message.put_u32(9);
        message.put_slice(&[8, 1]);
        message.freeze()
    };
    for (encoding, message, named) in [
        (Some("snappy"), compressed_flag(&[1, 2, 3]), "snappy"),
        (Some("gzip"), compressed_flag(b"not gzip at all"), "corrupt"),
        (None, lying_prefix, "announces"),
    ] {
        let (outcome, requests) = export_to(move || {
            let mut answer = grpc_answer(Some(message.clone()), Some(status_headers("0", "")));
            if let Some(encoding) = encoding {
                answer
                    .headers_mut()
                    .insert("grpc-encoding", http::HeaderValue::from_static(encoding));
            }
            answer
        });
        assert_eq!(requests, 1);
        match &outcome {
            ExportOutcome::PartialSuccess {
                rejected_spans: 0,
                message,
            } => assert!(
                message.contains("OK") && message.contains(named),
                "{encoding:?}: {message}"
            ),
            other => panic!("{encoding:?}: {other:?}"),
        }
    }
}

/// Under `RetryPolicy::send`, an attempt ends at the request's export
/// deadline when that comes before the exporter's timeout (the last attempts
/// after retries): the server is told the time actually left, not the full
/// timeout, so that it does not work on after the client has given up.
#[test]
fn grpc_timeout_is_the_time_left_before_the_attempts_deadline() {
    let timeout = Duration::from_secs(10);
    let left = Duration::from_secs(2);
    let (settled, requests) = serve_while(
        || grpc_answer(Some(frame(&[])), Some(status_headers("0", ""))),
        move |endpoint| async move {
            let exporter = GrpcExporter::builder()
                .endpoint(endpoint)
                .timeout(timeout)
                .build()
                .expect("exporter builds");
            let request = support::request(&rich_spans(1));
            // Called alone, the exporter tells its full timeout.
            assert_eq!(
                exporter.export(request.clone()).await,
                ExportOutcome::Success
            );
            otlp_sdk::RetryPolicy::default()
                .send(
                    &exporter,
                    &request,
                    timeout,
                    std::time::Instant::now() + left,
                    |_| {},
                )
                .await
        },
    );
    assert_eq!(settled.exported, 1, "{settled:?}");
    let sent: Vec<Duration> = requests
        .iter()
        .map(|(headers, _)| {
            let value = headers["grpc-timeout"].to_str().expect("text");
            let millis = value.strip_suffix('m').expect("in milliseconds");
            Duration::from_millis(millis.parse().expect("a number"))
        })
        .collect();
    let [alone, under_send] = sent[..] else {
        panic!("{sent:?}")
    };
    assert!(alone <= timeout, "{alone:?}");
    assert!(
        under_send > Duration::ZERO && under_send <= left,
        "{under_send:?}"
    );
}

/// A 200 that is no gRPC answer (a captive portal's or a proxy's HTML page,
/// no `grpc-status` anywhere) says what came instead: its content type and
/// the start of its body, as a non-200 page does; still a permanent failure.
#[test]
fn a_200_page_that_is_no_grpc_answer_is_quoted_in_the_error() {
    let page = || {
        hyper::Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "text/html; charset=utf-8")
            .body(DataThenTrailers {
                data: Some(Bytes::from_static(
                    b"<html><body>\x1b[2J<h1>Sign in to continue</h1>\n</body></html>\r\n",
                )),
                trailers: None,
            })
            .expect("response")
    };
    let (outcome, _) = export_to(page);
    let ExportOutcome::Permanent {
        error: ExportError::InvalidResponse(message),
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        message,
        "HTTP status 200 OK with content-type \"text/html; charset=utf-8\" instead of a \
         gRPC answer: <html><body> [2J<h1>Sign in to continue</h1> </body></html>"
    );
}

/// A load balancer's own answer (an HTTP 502 with an HTML page, no gRPC
/// status) says in the error what answered: a bounded excerpt of its body,
/// on one line, with no control characters to garble a log.
#[test]
fn a_proxys_error_page_is_quoted_in_the_error() {
    let page = || {
        hyper::Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .header("content-type", "text/html")
            .body(DataThenTrailers {
                data: Some(Bytes::from_static(
                    b"<html><head><title>502 Bad Gateway</title></head>\r\n\
                      <body>\x1b[2J<h1>502 Bad Gateway</h1>\n<hr>envoy</body></html>\r\n",
                )),
                trailers: None,
            })
            .expect("response")
    };
    let (outcome, _) = export_to(page);
    let ExportOutcome::Retryable {
        error: ExportError::Server { status, message },
        throttle: None,
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(status, "gRPC UNAVAILABLE");
    assert_eq!(
        message,
        "HTTP status 502 Bad Gateway instead of a gRPC answer: \
         <html><head><title>502 Bad Gateway</title></head> \
         <body> [2J<h1>502 Bad Gateway</h1> <hr>envoy</body></html>"
    );
    // A page of any size: its start, marked as cut.
    let large = || {
        hyper::Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .body(DataThenTrailers {
                data: Some(Bytes::from("no healthy upstream ".repeat(50_000))),
                trailers: None,
            })
            .expect("response")
    };
    let (outcome, _) = export_to(large);
    let ExportOutcome::Retryable {
        error: ExportError::Server { message, .. },
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(
        message.starts_with(
            "HTTP status 503 Service Unavailable instead of a gRPC answer: no healthy upstream no"
        ) && message.ends_with('…')
            && message.len() < 700,
        "{message}"
    );
}
