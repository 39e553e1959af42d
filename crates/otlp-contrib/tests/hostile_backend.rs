//! Hostile input from the other side: bare HTTP/1.1 and HTTP/2 servers on
//! loopback answer the OTLP exporters with arbitrary statuses, headers,
//! `Retry-After` values, `google.rpc.Status` details and bodies (random,
//! mutated valid ones, and over the 4 MiB response cap with and without a
//! `Content-Length`), and gRPC framing that lies.
//!
//! Properties: no exporter panics or hangs; each answer is classified as
//! OTLP says — 2xx / `OK` is a success (a partial success when it says so,
//! a warning when its body is unreadable) unless the body is over the cap
//! (permanent); 429/502/503/504 and the retryable gRPC codes are retryable
//! with the server's hint; everything else is permanent; and through the
//! retry loop any hint, however absurd, ends in a settled request.
//!
//! Bounded run: `PROPTEST_CASES=20000 cargo test -p otlp-contrib --test hostile_backend`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use otlp_contrib::testing::fuzz::{Mutation, config, mutate, mutations};
use otlp_core::SpanData;
use otlp_core::encode::{Encoding, TraceEncoder};
use otlp_core::response::{PartialSuccess, RpcStatus, encode_export_response};
use otlp_exporter_grpc::GrpcExporter;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::{ExportError, ExportOutcome, ExportRequest, Exporter, RetryPolicy};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestRunner;

/// The exporters' response cap (both crates use 4 MiB).
const CAP: usize = 4 << 20;
const ATTEMPT: Duration = Duration::from_secs(5);

fn runner(default_cases: u32) -> TestRunner {
    TestRunner::new(config(default_cases))
}

/// Bytes that mean something in protobuf and JSON response bodies.
const DICTIONARY: &[u8] = b"\0\x01\x08\x0a\x12\x1a\x22\x7f\x80\xff\"{}[]:,-0e9";

/// No edit (twice as often), or one to three.
fn edits() -> impl Strategy<Value = Vec<Mutation>> {
    prop_oneof![2 => Just(Vec::new()), 1 => mutations(DICTIONARY, 1..4)]
}

fn request() -> ExportRequest {
    let spans = vec![SpanData::builder("hostile").build()];
    let mut body = Vec::new();
    TraceEncoder::new().encode_protobuf(&spans, &mut body);
    ExportRequest {
        body: Bytes::from(body),
        encoding: Encoding::Protobuf,
        span_count: 1,
    }
}

// ---- a scripted response body ----------------------------------------------------

/// Data chunks, then optional trailers; with `exact`, a `Content-Length`.
struct Scripted {
    chunks: VecDeque<Bytes>,
    trailers: Option<HeaderMap>,
    exact: Option<u64>,
}

impl Body for Scripted {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(chunk) = self.chunks.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact {
            Some(length) => SizeHint::with_exact(length),
            None => SizeHint::default(),
        }
    }
}

/// In 64 KiB chunks, so a big body streams.
fn chunks(body: &[u8]) -> VecDeque<Bytes> {
    body.chunks(64 << 10).map(Bytes::copy_from_slice).collect()
}

/// Serves every connection on `listener` with `answer` (HTTP/1.1 or HTTP/2).
async fn serve<F>(listener: tokio::net::TcpListener, http2: bool, answer: F)
where
    F: Fn() -> http::Response<Scripted> + Send + Sync + Clone + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let answer = answer.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: http::Request<_>| {
                let answer = answer.clone();
                async move {
                    let _ = BodyExt::collect(request.into_body()).await;
                    Ok::<_, Infallible>(answer())
                }
            });
            let io = TokioIo::new(stream);
            if http2 {
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(io, service)
                    .await;
            } else {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            }
        });
    }
}

struct Backend<R> {
    runtime: tokio::runtime::Runtime,
    reply: Arc<Mutex<Option<R>>>,
    endpoint: String,
}

impl<R: Clone + Send + 'static> Backend<R> {
    fn start(http2: bool, render: fn(&R) -> http::Response<Scripted>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let reply: Arc<Mutex<Option<R>>> = Arc::new(Mutex::new(None));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let script = Arc::clone(&reply);
        runtime.spawn(serve(listener, http2, move || {
            let reply = script.lock().expect("script").clone().expect("a reply");
            render(&reply)
        }));
        Backend {
            runtime,
            reply,
            endpoint,
        }
    }

    fn export(&self, exporter: &impl Exporter, reply: R) -> ExportOutcome {
        *self.reply.lock().expect("script") = Some(reply);
        self.runtime.block_on(async {
            tokio::time::timeout(ATTEMPT * 2, exporter.export(request()))
                .await
                .expect("the exporter answers within its timeout")
        })
    }
}

fn is_success(outcome: &ExportOutcome) -> bool {
    matches!(
        outcome,
        ExportOutcome::Success | ExportOutcome::PartialSuccess { .. }
    )
}

fn is_over_cap(outcome: &ExportOutcome) -> bool {
    matches!(
        outcome,
        ExportOutcome::Permanent {
            error: ExportError::InvalidResponse(_)
        }
    )
}

// ---- OTLP/HTTP -------------------------------------------------------------------

#[derive(Clone, Debug)]
struct HttpReply {
    status: u16,
    content_type: Option<String>,
    retry_after: Option<String>,
    body: Vec<u8>,
    content_length: bool,
}

fn render_http(reply: &HttpReply) -> http::Response<Scripted> {
    let mut response = http::Response::builder().status(reply.status);
    if let Some(value) = &reply.content_type {
        response = response.header("content-type", value.as_str());
    }
    if let Some(value) = &reply.retry_after {
        response = response.header("retry-after", value.as_str());
    }
    response
        .body(Scripted {
            chunks: chunks(&reply.body),
            trailers: None,
            exact: reply.content_length.then_some(reply.body.len() as u64),
        })
        .expect("response")
}

fn status_body() -> impl Strategy<Value = Vec<u8>> {
    let status = (
        any::<i32>(),
        ".{0,20}",
        proptest::option::of((0u64..1 << 40, 0u32..1_000_000_000)),
    )
        .prop_map(|(code, message, delay)| {
            RpcStatus {
                code,
                message,
                retry_delay: delay.map(|(s, n)| Duration::new(s, n)),
            }
            .encode()
        });
    let partial = proptest::option::of((any::<i64>(), ".{0,20}")).prop_map(|partial| {
        encode_export_response(
            partial
                .map(|(rejected_spans, error_message)| PartialSuccess {
                    rejected_spans,
                    error_message,
                })
                .as_ref(),
        )
    });
    let json = prop_oneof![
        Just(b"{}".to_vec()),
        (any::<i64>(), ".{0,10}").prop_map(|(rejected, message)| {
            serde_json::json!({"partialSuccess": {"rejectedSpans": rejected.to_string(), "errorMessage": message}})
                .to_string()
                .into_bytes()
        }),
        Just(b"{\"code\":8,\"message\":\"slow\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"1.5s\"}]}".to_vec()),
        Just(b"[1,2".to_vec()),
    ];
    let valid = prop_oneof![status, partial, json, vec(any::<u8>(), 0..64)];
    (valid, edits()).prop_map(|(valid, edits)| mutate(valid, &edits))
}

fn http_reply() -> impl Strategy<Value = HttpReply> {
    let status = prop_oneof![
        3 => select(vec![200u16, 202, 204, 400, 401, 403, 404, 413, 415, 429, 500, 501, 502, 503, 504]),
        1 => 200u16..600,
    ];
    let content_type = prop_oneof![
        Just(None),
        select(vec![
            "application/x-protobuf",
            "application/json",
            "application/problem+json",
            "text/html",
            "application/protobuf; charset=x",
            "",
        ])
        .prop_map(|v| Some(v.to_owned())),
        "[ -~]{0,16}".prop_map(Some),
    ];
    let retry_after = prop_oneof![
        2 => Just(None),
        1 => "[0-9]{1,25}".prop_map(Some),
        1 => select(vec![
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "-1",
            "1.5",
            "soon",
            "",
        ])
        .prop_map(|v| Some(v.to_owned())),
        1 => "[ -~]{0,20}".prop_map(Some),
    ];
    let body = prop_oneof![
        8 => status_body(),
        1 => (CAP - 2..CAP + 3).prop_map(|len| vec![b'x'; len]),
    ];
    (status, content_type, retry_after, body, any::<bool>()).prop_map(
        |(status, content_type, retry_after, body, content_length)| HttpReply {
            status,
            content_type,
            retry_after,
            body,
            content_length,
        },
    )
}

fn check_http(reply: &HttpReply, outcome: &ExportOutcome) {
    // A 204 or 304 carries no body, whatever the server wrote.
    let body_len = if matches!(reply.status, 204 | 304) {
        0
    } else {
        reply.body.len()
    };
    match reply.status {
        200..=299 if body_len > CAP => assert!(is_over_cap(outcome), "{outcome:?}"),
        200..=299 => assert!(is_success(outcome), "{outcome:?}"),
        429 | 502 | 503 | 504 => {
            let ExportOutcome::Retryable { throttle, .. } = outcome else {
                panic!("{} must be retryable: {outcome:?}", reply.status);
            };
            let digits = reply
                .retry_after
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
            if let Some(digits) = digits {
                let seconds = digits.parse().unwrap_or(u64::MAX);
                assert_eq!(*throttle, Some(Duration::from_secs(seconds)), "{outcome:?}");
            }
        }
        _ => assert!(
            matches!(outcome, ExportOutcome::Permanent { .. }),
            "{}: {outcome:?}",
            reply.status
        ),
    }
}

#[test]
fn http_exporter_classifies_whatever_the_backend_answers() {
    let backend = Backend::start(false, render_http);
    let exporter = HttpExporter::builder()
        .endpoint(&backend.endpoint)
        .timeout(ATTEMPT)
        .build()
        .expect("exporter");
    let result = runner(128).run(&http_reply(), |reply| {
        let outcome = backend.export(&exporter, reply.clone());
        check_http(&reply, &outcome);
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

// ---- OTLP/gRPC -------------------------------------------------------------------

#[derive(Clone, Debug)]
struct GrpcReply {
    http_status: u16,
    /// `grpc-status` in the response headers with no body (trailers-only).
    trailers_only: bool,
    grpc_status: String,
    grpc_message: Option<String>,
    /// `grpc-status-details-bin`, before base64.
    details: Option<Vec<u8>>,
    /// The response message, if any, and how its frame lies.
    message: Option<Vec<u8>>,
    compressed_flag: bool,
    length_delta: i64,
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn render_grpc(reply: &GrpcReply) -> http::Response<Scripted> {
    let mut status = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&reply.grpc_status) {
        status.insert("grpc-status", value);
    }
    if let Some(message) = reply.grpc_message.as_deref()
        && let Ok(value) = HeaderValue::from_str(message)
    {
        status.insert("grpc-message", value);
    }
    if let Some(details) = &reply.details
        && let Ok(value) = HeaderValue::from_str(&base64(details))
    {
        status.insert("grpc-status-details-bin", value);
    }
    let mut response = http::Response::builder()
        .status(reply.http_status)
        .header("content-type", "application/grpc");
    if reply.trailers_only {
        for (name, value) in &status {
            response = response.header(name, value);
        }
        return response
            .body(Scripted {
                chunks: VecDeque::new(),
                trailers: None,
                exact: None,
            })
            .expect("response");
    }
    let mut chunks = VecDeque::new();
    if let Some(message) = &reply.message {
        let mut frame = vec![u8::from(reply.compressed_flag)];
        let length = (message.len() as i64 + reply.length_delta).clamp(0, u32::MAX as i64);
        frame.extend_from_slice(&(length as u32).to_be_bytes());
        frame.extend_from_slice(message);
        chunks = self::chunks(&frame);
    }
    response
        .body(Scripted {
            chunks,
            trailers: Some(status),
            exact: None,
        })
        .expect("response")
}

fn grpc_reply() -> impl Strategy<Value = GrpcReply> {
    let code = prop_oneof![
        6 => (0i32..=16).prop_map(|code| code.to_string()),
        1 => select(vec!["17", "-1", "99999999999", "", "ok", "0 "]).prop_map(str::to_owned),
    ];
    let details = prop_oneof![
        2 => Just(None),
        2 => (0u64..1 << 40, ".{0,8}").prop_map(|(seconds, message)| {
            Some(RpcStatus { code: 8, message, retry_delay: Some(Duration::from_secs(seconds)) }.encode())
        }),
        1 => Just(Some(RpcStatus { code: 8, message: "huge".into(), retry_delay: Some(Duration::from_secs(i64::MAX as u64)) }.encode())),
        1 => vec(any::<u8>(), 0..32).prop_map(Some),
    ];
    let message = prop_oneof![
        1 => Just(None),
        4 => status_body().prop_map(Some),
        1 => Just(Some(vec![0u8; CAP + 1])),
    ];
    let length_delta = prop_oneof![6 => Just(0i64), 1 => -4i64..4, 1 => Just(i64::from(u32::MAX))];
    (
        prop_oneof![8 => Just(200u16), 1 => select(vec![400u16, 404, 429, 500, 502, 503, 504])],
        prop_oneof![4 => Just(false), 1 => Just(true)],
        code,
        proptest::option::of("[ -~]{0,16}"),
        details,
        message,
        prop_oneof![6 => Just(false), 1 => Just(true)],
        length_delta,
    )
        .prop_map(
            |(
                http_status,
                trailers_only,
                grpc_status,
                grpc_message,
                details,
                message,
                compressed_flag,
                length_delta,
            )| {
                GrpcReply {
                    http_status,
                    trailers_only,
                    grpc_status,
                    grpc_message,
                    details,
                    message,
                    compressed_flag,
                    length_delta,
                }
            },
        )
}

/// Whether a `grpc-message` is percent-encoded UTF-8, as gRPC requires (tonic
/// turns any other status into UNKNOWN, "Error deserializing status message").
fn percent_decodes_to_utf8(message: &str) -> bool {
    let bytes = message.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).is_ok()
}

/// OTLP's retryable codes (RESOURCE_EXHAUSTED only with RetryInfo).
fn otlp_retryable(code: i32, has_retry_info: bool) -> bool {
    matches!(code, 1 | 4 | 10 | 11 | 14 | 15) || (code == 8 && has_retry_info)
}

fn check_grpc(reply: &GrpcReply, outcome: &ExportOutcome) {
    // Only well-formed answers have one right classification; the rest must
    // merely be classified (no panic, no hang).
    let well_formed = reply.http_status == 200
        && !reply.compressed_flag
        && reply.length_delta == 0
        && reply
            .grpc_status
            .parse::<i32>()
            .is_ok_and(|c| (0..=16).contains(&c))
        && reply
            .grpc_message
            .as_deref()
            .is_none_or(percent_decodes_to_utf8);
    if !well_formed {
        return;
    }
    let code: i32 = reply.grpc_status.parse().expect("checked");
    let retry_info = reply
        .details
        .as_deref()
        .and_then(|details| RpcStatus::decode(details).ok())
        .and_then(|status| status.retry_delay);
    match (code, &reply.message) {
        // A message over the cap is refused as it arrives, before the
        // trailers say anything, whatever they say.
        (_, Some(message)) if !reply.trailers_only && message.len() > CAP => {
            assert!(is_over_cap(outcome), "{outcome:?}")
        }
        // OK: the records were delivered, whether or not the answer decodes
        // (an undecodable one is a warning: a partial success rejecting none).
        (0, Some(message)) if !reply.trailers_only => {
            assert!(is_success(outcome), "{outcome:?}");
            if otlp_core::response::decode_export_response(message).is_err() {
                assert!(
                    matches!(
                        outcome,
                        ExportOutcome::PartialSuccess { rejected_spans: 0, message }
                            if message.contains("could not be decoded")
                    ),
                    "{outcome:?}"
                );
            }
        }
        (0, _) => {}
        (code, _) if otlp_retryable(code, retry_info.is_some()) => {
            let ExportOutcome::Retryable { throttle, .. } = outcome else {
                panic!("code {code} must be retryable: {outcome:?}");
            };
            assert_eq!(*throttle, retry_info, "{outcome:?}");
        }
        (code, _) => assert!(
            matches!(outcome, ExportOutcome::Permanent { .. }),
            "code {code}: {outcome:?}"
        ),
    }
}

#[test]
fn grpc_exporter_classifies_whatever_the_backend_answers() {
    let backend = Backend::start(true, render_grpc);
    let exporter = GrpcExporter::builder()
        .endpoint(&backend.endpoint)
        .timeout(ATTEMPT)
        .build()
        .expect("exporter");
    let result = runner(128).run(&grpc_reply(), |reply| {
        let outcome = backend.export(&exporter, reply.clone());
        check_grpc(&reply, &outcome);
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

// ---- through the retry loop --------------------------------------------------------

#[test]
fn absurd_throttle_hints_settle_the_request() {
    // Found with this suite: `Retry-After: 99999999999999999999` and a
    // RetryInfo of i64::MAX seconds made the retry loop overflow `Instant`.
    let http = Backend::start(false, render_http);
    let http_exporter = HttpExporter::builder()
        .endpoint(&http.endpoint)
        .timeout(ATTEMPT)
        .build()
        .expect("exporter");
    let grpc = Backend::start(true, render_grpc);
    let grpc_exporter = GrpcExporter::builder()
        .endpoint(&grpc.endpoint)
        .timeout(ATTEMPT)
        .build()
        .expect("exporter");
    *http.reply.lock().expect("script") = Some(HttpReply {
        status: 503,
        content_type: None,
        retry_after: Some("99999999999999999999".into()),
        body: Vec::new(),
        content_length: true,
    });
    *grpc.reply.lock().expect("script") = Some(GrpcReply {
        http_status: 200,
        trailers_only: true,
        grpc_status: "14".into(),
        grpc_message: None,
        details: Some(
            RpcStatus {
                code: 14,
                message: "later".into(),
                retry_delay: Some(Duration::from_secs(i64::MAX as u64)),
            }
            .encode(),
        ),
        message: None,
        compressed_flag: false,
        length_delta: 0,
    });
    let policy = RetryPolicy::default();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(10);
    let request = request();
    let settled =
        http.runtime
            .block_on(policy.send(&http_exporter, &request, ATTEMPT, deadline, |_| {}));
    assert_eq!((settled.failed, settled.retries), (1, 0), "{settled:?}");
    let settled =
        grpc.runtime
            .block_on(policy.send(&grpc_exporter, &request, ATTEMPT, deadline, |_| {}));
    assert_eq!((settled.failed, settled.retries), (1, 0), "{settled:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
