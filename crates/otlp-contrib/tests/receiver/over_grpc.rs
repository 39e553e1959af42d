//! OTLP/gRPC: decoding, compression, metadata, faults and bad input.

use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService;
use otlp_contrib::receiver::{Answer, Fault, Receiver, ReceiverConfig, Transport};
use otlp_exporter_grpc::RawCodec;
use prost::Message;
use tonic::Code;
use tonic::codec::CompressionEncoding;

use crate::support::*;

fn endpoint(receiver: &Receiver) -> String {
    receiver.grpc_endpoint().expect("gRPC endpoint")
}

#[tokio::test]
async fn grpc_requests_arrive_decoded_field_for_field_with_every_compression() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let sent = rich_request("grpc-svc", 3);
    for encoding in [
        None,
        Some(CompressionEncoding::Gzip),
        Some(CompressionEncoding::Zstd),
    ] {
        let mut client = grpc_client(&endpoint(&receiver)).await;
        if let Some(encoding) = encoding {
            client = client.send_compressed(encoding);
        }
        let mut request = tonic::Request::new(sent.clone());
        request
            .metadata_mut()
            .insert("x-api-key", "secret".parse().expect("metadata"));
        let response = client.export(request).await.expect("export").into_inner();
        assert_eq!(response.partial_success, None);
    }
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    for (received, encoding) in requests.iter().zip([None, Some("gzip"), Some("zstd")]) {
        assert_eq!(received.transport, Transport::Grpc);
        assert_eq!(received.request, sent);
        assert_eq!(received.span_count, 3);
        assert_eq!(received.answered, Answer::Ok);
        assert_eq!(received.header("x-api-key"), Some("secret"));
        assert_eq!(received.content_encoding.as_deref(), encoding);
        assert!(
            received
                .content_type
                .as_deref()
                .is_some_and(|ct| ct.starts_with("application/grpc"))
        );
    }
    assert_eq!(receiver.span_count(), 9);
    assert_eq!(receiver.accepted_spans().len(), 9);
    assert_eq!(
        receiver.accepted_requests(),
        vec![sent.clone(), sent.clone(), sent]
    );
    assert_eq!(receiver.request_count(), 3);
}

#[tokio::test]
async fn grpc_faults_map_to_status_codes_with_retry_info() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    receiver.push_faults([
        Fault::Unavailable,
        Fault::InvalidArgument,
        Fault::Internal,
        Fault::Unauthenticated,
        Fault::UnavailableRetryAfter(Duration::from_millis(250)),
        Fault::Throttle(Duration::from_millis(1500)),
        Fault::ThrottleHttpDate(Duration::from_secs(3)),
        Fault::Status {
            grpc_code: Code::Aborted as i32,
            http_status: 409,
            message: "try again".into(),
        },
    ]);
    let mut client = grpc_client(&endpoint(&receiver)).await;
    let request = rich_request("faults", 1);
    let mut seen = Vec::new();
    for _ in 0..8 {
        let status = client.export(request.clone()).await.expect_err("fault");
        seen.push((status.code(), grpc_retry_delay(&status)));
    }
    assert_eq!(
        seen,
        vec![
            (Code::Unavailable, None),
            (Code::InvalidArgument, None),
            (Code::Internal, None),
            (Code::Unauthenticated, None),
            (Code::Unavailable, Some(Duration::from_millis(250))),
            (Code::ResourceExhausted, Some(Duration::from_millis(1500))),
            (Code::ResourceExhausted, Some(Duration::from_secs(3))),
            (Code::Aborted, None),
        ]
    );
    // After the script: success.
    client
        .export(request.clone())
        .await
        .expect("success after the script");
    let stats = receiver.stats();
    assert_eq!(
        (
            stats.requests,
            stats.faulted_requests,
            stats.accepted_requests
        ),
        (9, 8, 1)
    );
    assert_eq!(stats.accepted_spans, 1);
    assert_eq!(receiver.requests().len(), 9);
    assert_eq!(
        receiver.requests()[5].answered,
        Answer::Fault(Fault::Throttle(Duration::from_millis(1500)))
    );
}

#[tokio::test]
async fn grpc_partial_success_delay_and_fallback() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    receiver.push_faults([
        Fault::PartialSuccess {
            rejected: 2,
            message: "too old".into(),
        },
        Fault::Delay(Duration::from_millis(300)),
    ]);
    let mut client = grpc_client(&endpoint(&receiver)).await;
    let request = rich_request("partial", 3);
    let partial = client
        .export(request.clone())
        .await
        .expect("partial")
        .into_inner();
    let partial = partial.partial_success.expect("partial_success");
    assert_eq!(
        (partial.rejected_spans, partial.error_message.as_str()),
        (2, "too old")
    );

    let started = std::time::Instant::now();
    client.export(request.clone()).await.expect("delayed");
    assert!(started.elapsed() >= Duration::from_millis(300));

    receiver.set_fallback_fault(Some(Fault::Unavailable));
    for _ in 0..3 {
        let status = client.export(request.clone()).await.expect_err("down");
        assert_eq!(status.code(), Code::Unavailable);
    }
    receiver.clear_faults();
    client.export(request).await.expect("back up");
    assert_eq!(receiver.span_count(), 9);
    assert_eq!(
        receiver.requests()[0].answered,
        Answer::Partial {
            rejected: 2,
            message: "too old".into()
        }
    );
}

#[tokio::test]
async fn grpc_hang_never_answers_until_the_client_gives_up() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    receiver.push_faults([Fault::Hang]);
    let mut client = grpc_client(&endpoint(&receiver)).await;
    let mut request = tonic::Request::new(rich_request("hang", 1));
    request.set_timeout(Duration::from_millis(300));
    let status = tokio::time::timeout(TIMEOUT, client.export(request))
        .await
        .expect("the client's own deadline fires")
        .expect_err("no answer");
    // tonic reports its own timeout as CANCELLED ("Timeout expired").
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    assert_eq!(receiver.requests()[0].answered, Answer::Fault(Fault::Hang));
    // The connection and the receiver still work.
    client
        .export(rich_request("after", 1))
        .await
        .expect("next request");
    assert_eq!(receiver.span_count(), 1);
}

#[tokio::test]
async fn grpc_bad_input_is_invalid_argument_and_the_receiver_keeps_working() {
    let receiver = Receiver::start(ReceiverConfig {
        max_request_bytes: 64 << 10,
        ..Default::default()
    })
    .expect("start");
    let endpoint = endpoint(&receiver);

    let garbage = grpc_raw(&endpoint, Bytes::from_static(b"\xff\xff\xff\xff")).await;
    assert_eq!(garbage.expect_err("garbage").code(), Code::InvalidArgument);

    let mut wrong_id = rich_request("ids", 1);
    wrong_id.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![1; 15];
    let status = grpc_client(&endpoint)
        .await
        .export(wrong_id)
        .await
        .expect_err("bad id");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("traceId has 15 bytes"),
        "{}",
        status.message()
    );

    let mut zero_id = rich_request("ids", 1);
    zero_id.resource_spans[0].scope_spans[0].spans[0].span_id = vec![0; 8];
    let status = grpc_client(&endpoint)
        .await
        .export(zero_id)
        .await
        .expect_err("all-zero id");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("spanId is all zeroes"),
        "{}",
        status.message()
    );

    // Over the cap uncompressed: tonic's own limit, answered as grpc-go (and
    // so the Collector) does, RESOURCE_EXHAUSTED without RetryInfo, which an
    // OTLP client does not retry (tonic's OUT_OF_RANGE it would).
    let status = grpc_client(&endpoint)
        .await
        .export(big_request(100 << 10))
        .await
        .expect_err("too big");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(
        grpc_retry_delay(&status),
        None,
        "no RetryInfo: not retryable"
    );
    const RETRYABLE: [Code; 6] = [
        Code::Cancelled,
        Code::DeadlineExceeded,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unavailable,
        Code::DataLoss,
    ];
    assert!(!RETRYABLE.contains(&status.code()), "{status:?}");
    assert!(
        status.message().contains("too large"),
        "tonic's message is kept: {status:?}"
    );

    // A compression bomb: small on the wire, over the cap once decompressed.
    for encoding in [CompressionEncoding::Gzip, CompressionEncoding::Zstd] {
        let bomb = big_request(4 << 20);
        let status = grpc_client(&endpoint)
            .await
            .send_compressed(encoding)
            .export(bomb)
            .await
            .expect_err("bomb");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert_eq!(
            grpc_retry_delay(&status),
            None,
            "no RetryInfo: not retryable"
        );
    }

    // A corrupt compressed message, framed by hand over h2c.
    assert_eq!(
        grpc_status_of_frame(&endpoint, b"this is not gzip").await,
        Code::Internal as i32
    );

    // Unknown method.
    let mut grpc = tonic::client::Grpc::new(
        tonic::transport::Endpoint::from_shared(endpoint.clone())
            .expect("endpoint")
            .connect()
            .await
            .expect("connect"),
    );
    grpc.ready().await.expect("ready");
    let unknown = grpc
        .unary(
            tonic::Request::new(Bytes::new()),
            http::uri::PathAndQuery::from_static(
                "/opentelemetry.proto.collector.trace.v1.TraceService/Nope",
            ),
            RawCodec,
        )
        .await
        .expect_err("unknown method");
    assert_eq!(unknown.code(), Code::Unimplemented);

    let stats = receiver.stats();
    assert_eq!(stats.bad_requests, 8, "{stats:?}");
    assert_eq!(stats.accepted_requests, 0);
    assert!(receiver.requests().is_empty());

    grpc_client(&endpoint)
        .await
        .export(rich_request("still fine", 2))
        .await
        .expect("still working");
    assert_eq!(receiver.span_count(), 2);
}

#[tokio::test]
async fn grpc_raw_bytes_and_the_trace_service_agree() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let sent = rich_request("raw", 2);
    let answer = grpc_raw(&endpoint(&receiver), Bytes::from(sent.encode_to_vec()))
        .await
        .expect("raw export");
    assert!(answer.is_empty(), "full success is an empty response");

    // The TraceService implementation shares script and data.
    receiver.push_faults([Fault::PartialSuccess {
        rejected: 1,
        message: "one".into(),
    }]);
    let service = receiver.service();
    let response = service
        .export(tonic::Request::new(sent.clone()))
        .await
        .expect("service export")
        .into_inner();
    assert_eq!(response.partial_success.map(|p| p.rejected_spans), Some(1));
    let mut bad = sent.clone();
    bad.resource_spans[0].scope_spans[0].spans[0]
        .span_id
        .clear();
    let status = service
        .export(tonic::Request::new(bad))
        .await
        .expect_err("bad id");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(receiver.accepted_requests(), vec![sent.clone(), sent]);
    assert_eq!(receiver.stats().bad_requests, 1);
}

/// An uncompressed gRPC message: its 5-byte prefix, then `message`.
fn plain_frame(message: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    frame
}

/// A unary call carries one request message. One that carried two (each a
/// whole, valid request) was answered OK with the first one's spans kept
/// and the second's dropped without a word: tonic's unary path reads the
/// first message and drains the rest. The receiver refuses it, `INTERNAL`
/// as grpc-java does ("too many requests"), keeping neither.
#[tokio::test]
async fn a_unary_call_carrying_two_messages_is_refused_not_half_kept() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let endpoint = endpoint(&receiver);
    let first = rich_request("first", 2).encode_to_vec();
    let second = rich_request("second", 3).encode_to_vec();
    let two = [plain_frame(&first), plain_frame(&second)].concat();
    assert_eq!(
        grpc_status_of_body(&endpoint, None, two).await,
        Code::Internal as i32
    );
    assert_eq!(receiver.span_count(), 0, "{:?}", receiver.stats());
    let stats = receiver.stats();
    assert_eq!(
        (stats.bad_requests, stats.accepted_requests),
        (1, 0),
        "{stats:?}"
    );
    // One message, and none: as before.
    assert_eq!(
        grpc_status_of_body(&endpoint, None, plain_frame(&second)).await,
        Code::Ok as i32
    );
    assert_eq!(receiver.span_count(), 3);
    assert_eq!(
        grpc_status_of_body(&endpoint, None, Vec::new()).await,
        Code::Internal as i32
    );
    let stats = receiver.stats();
    assert_eq!(
        (stats.bad_requests, stats.accepted_requests),
        (2, 1),
        "{stats:?}"
    );
}

/// A compressed gRPC message: its 5-byte prefix (flag 1), then `message`.
fn compressed_frame(message: &[u8]) -> Vec<u8> {
    let mut frame = plain_frame(message);
    frame[0] = 1;
    frame
}

/// A zstd frame whose header declares a window of `1 << window_log` bytes
/// (its `Window_Descriptor`: exponent `window_log - 10`, mantissa 0) and no
/// content size, holding `content` in one raw block, the last.
pub(crate) fn zstd_frame_with_window(window_log: u8, content: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x28, 0xB5, 0x2F, 0xFD, 0x00, (window_log - 10) << 3];
    let block_header = ((content.len() as u32) << 3) | 1;
    frame.extend_from_slice(&block_header.to_le_bytes()[..3]);
    frame.extend_from_slice(content);
    frame
}

/// The process's peak virtual size in KiB (`VmPeak`), for a diagnostic line
/// only: never asserted on.
fn vm_peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmPeak:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// tonic undid `grpc-encoding: zstd` with zstd's default window limit
/// (128 MiB), whatever `max_request_bytes`: a message of a few dozen bytes
/// whose frame declared a 128 MiB window was decompressed (and answered OK)
/// after allocating that window, where the HTTP side grants what a body of
/// the cap can need (8 MiB at least). Such a frame is refused
/// `RESOURCE_EXHAUSTED` before any window is allocated, also behind a
/// modest frame in the same message; a frame within the limit is
/// decompressed as before, and a corrupt one is still `INTERNAL`.
#[tokio::test]
async fn a_grpc_zstd_frame_declaring_a_window_past_the_cap_is_resource_exhausted() {
    let receiver = Receiver::start(ReceiverConfig {
        max_request_bytes: 64 << 10,
        ..Default::default()
    })
    .expect("start");
    let endpoint = endpoint(&receiver);
    let message = rich_request("window", 2).encode_to_vec();

    let peak_before = vm_peak_kib();
    let huge = zstd_frame_with_window(27, &message);
    let status = grpc_status_of_body(&endpoint, Some("zstd"), compressed_frame(&huge)).await;
    eprintln!(
        "diagnostic: VmPeak {peak_before:?} KiB before a 128 MiB-window frame, {:?} KiB after",
        vm_peak_kib()
    );
    assert_eq!(status, Code::ResourceExhausted as i32);

    let behind = [zstd_frame_with_window(20, &[]), huge].concat();
    assert_eq!(
        grpc_status_of_body(&endpoint, Some("zstd"), compressed_frame(&behind)).await,
        Code::ResourceExhausted as i32
    );
    assert_eq!(receiver.span_count(), 0);

    // 8 MiB, the least window granted: decompressed.
    let modest = zstd_frame_with_window(23, &message);
    assert_eq!(
        grpc_status_of_body(&endpoint, Some("zstd"), compressed_frame(&modest)).await,
        Code::Ok as i32
    );
    assert_eq!(receiver.span_count(), 2);
    let requests = receiver.requests();
    assert_eq!(
        requests.last().and_then(|r| r.content_encoding.as_deref()),
        Some("zstd")
    );

    // Not zstd at all.
    assert_eq!(
        grpc_status_of_body(&endpoint, Some("zstd"), compressed_frame(b"not zstd")).await,
        Code::Internal as i32
    );
    // An uncompressed message under `grpc-encoding: zstd` (flag 0).
    assert_eq!(
        grpc_status_of_body(&endpoint, Some("zstd"), plain_frame(&message)).await,
        Code::Ok as i32
    );
    assert_eq!(receiver.span_count(), 4);
    let stats = receiver.stats();
    assert_eq!(
        (stats.bad_requests, stats.accepted_requests),
        (3, 2),
        "{stats:?}"
    );
}

/// The memory bound `ReceiverConfig::max_request_bytes` documents rests on
/// each HTTP/2 connection carrying at most `MAX_CONCURRENT_STREAMS` requests
/// at once: the limit the receiver's SETTINGS announce, on both ports.
#[tokio::test]
async fn each_http2_connection_is_announced_max_concurrent_streams() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    for addr in [receiver.grpc_addr(), receiver.http_addr()] {
        let tcp = tokio::net::TcpStream::connect(addr.expect("address"))
            .await
            .expect("connect");
        let (client, mut connection) = h2::client::Builder::new()
            .handshake::<_, Bytes>(tcp)
            .await
            .expect("HTTP/2 handshake");
        let mut ping_pong = connection.ping_pong().expect("ping pong");
        let driver = tokio::spawn(connection);
        // The server's SETTINGS come before its answer to a PING.
        ping_pong.ping(h2::Ping::opaque()).await.expect("pong");
        assert_eq!(
            client.current_max_send_streams(),
            otlp_contrib::receiver::MAX_CONCURRENT_STREAMS as usize,
            "{addr:?}"
        );
        assert_eq!(otlp_contrib::receiver::MAX_CONCURRENT_STREAMS, 200);
        drop(client);
        driver.abort();
    }
    receiver.shutdown();
}

/// Sends one gzip-flagged gRPC frame with `payload` over plain HTTP/2 and
/// returns the `grpc-status` (from the headers or the trailers).
async fn grpc_status_of_frame(endpoint: &str, payload: &[u8]) -> i32 {
    let mut frame = vec![1u8];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    grpc_status_of_body(endpoint, Some("gzip"), frame).await
}

/// Sends `body` (gRPC frames, as they are) as an Export call over plain
/// HTTP/2 with `grpc_encoding`, and returns the `grpc-status` (from the
/// headers or the trailers).
async fn grpc_status_of_body(endpoint: &str, grpc_encoding: Option<&str>, body: Vec<u8>) -> i32 {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let mut request = http::Request::post(format!(
        "{endpoint}/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers");
    if let Some(encoding) = grpc_encoding {
        request = request.header("grpc-encoding", encoding);
    }
    let request = request.body(Full::new(Bytes::from(body))).expect("request");
    let response = client.request(request).await.expect("h2 response");
    let in_headers = response.headers().get("grpc-status").cloned();
    let collected = response.into_body().collect().await.expect("body");
    let status = in_headers.or_else(|| {
        collected
            .trailers()
            .and_then(|t| t.get("grpc-status").cloned())
    });
    status
        .and_then(|value| value.to_str().ok()?.parse().ok())
        .expect("grpc-status")
}

#[tokio::test]
async fn a_grpc_call_that_is_not_grpc_content_is_unsupported_media_type() {
    use http_body_util::{BodyExt, Full};
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let message = rich_request("not-grpc", 1).encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    let path = format!(
        "{}/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        endpoint(&receiver)
    );
    for content_type in [Some("application/json"), Some("text/plain"), None] {
        let mut request = http::Request::post(&path).header("te", "trailers");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let request = request
            .body(Full::new(Bytes::from(frame.clone())))
            .expect("request");
        let response = client.request(request).await.expect("h2 response");
        // What the gRPC spec asks, so that a client of another protocol
        // does not take a gRPC error (HTTP 200) for success; and, as grpc-go
        // (so the Collector) answers, a trailers-only gRPC answer too:
        // `INVALID_ARGUMENT` naming the content type, no body.
        assert_eq!(
            response.status(),
            http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header("content-type").as_deref(),
            Some("application/grpc"),
            "{content_type:?}"
        );
        assert_eq!(
            header("grpc-status").as_deref(),
            Some("3"),
            "{content_type:?}"
        );
        let message = header("grpc-message").unwrap_or_default();
        let expected = format!("{:?}", content_type.unwrap_or(""));
        assert!(
            message.starts_with("invalid%20gRPC%20request%20content-type")
                && message.contains(&expected.replace(' ', "%20").replace('"', "%22")),
            "{content_type:?}: {message}"
        );
        let body = response.into_body().collect().await.expect("body");
        assert!(body.trailers().is_none(), "trailers-only: {content_type:?}");
        assert!(body.to_bytes().is_empty(), "no body: {content_type:?}");
    }
    // gRPC's own content types are still served.
    for content_type in ["application/grpc", "application/grpc+proto"] {
        let request = http::Request::post(&path)
            .header("te", "trailers")
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(frame.clone())))
            .expect("request");
        let response = client.request(request).await.expect("h2 response");
        assert_eq!(response.status(), http::StatusCode::OK, "{content_type}");
        let trailers = response.into_body().collect().await.expect("body");
        let status = trailers
            .trailers()
            .and_then(|t| t.get("grpc-status")?.to_str().ok().map(str::to_owned));
        assert_eq!(status.as_deref(), Some("0"), "{content_type}");
    }
    let stats = receiver.stats();
    assert_eq!(
        (stats.bad_requests, stats.accepted_requests),
        (3, 2),
        "{stats:?}"
    );
    receiver.shutdown();
}

/// A gRPC channel's connection left idle past `request_head_timeout` is
/// closed with a GOAWAY (over_http tests the frames); the channel's next
/// export goes over a new connection and succeeds, as a tonic exporter's
/// does after the Collector's gRPC server closes an idle connection. The
/// channel's connector counts its connections: one per export, each idle
/// gap having closed the last.
#[tokio::test]
async fn a_grpc_channel_whose_connection_was_closed_as_idle_exports_again() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let head_timeout = Duration::from_millis(200);
    let receiver = Receiver::start(ReceiverConfig {
        request_head_timeout: head_timeout,
        ..ReceiverConfig::default()
    })
    .expect("start");
    let connections = Arc::new(AtomicUsize::new(0));
    let connector = CountingConnector(Arc::clone(&connections));
    let channel = tonic::transport::Endpoint::from_shared(endpoint(&receiver))
        .expect("endpoint")
        .connect_with_connector(connector)
        .await
        .expect("gRPC connect");
    let mut client =
        opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient::new(channel);
    for round in 0..3 {
        tokio::time::timeout(TIMEOUT, client.export(rich_request("idle", 1)))
            .await
            .expect("an answer in time")
            .unwrap_or_else(|status| panic!("export {round}: {status:?}"));
        // Long enough for the idle close to start and end.
        tokio::time::sleep(head_timeout * 5).await;
    }
    assert_eq!(receiver.span_count(), 3);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        3,
        "each export after an idle gap needs a new connection"
    );
}

/// A tonic connector that opens plain TCP connections and counts them.
#[derive(Clone)]
struct CountingConnector(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl tonic::codegen::Service<http::Uri> for CountingConnector {
    type Response = hyper_util::rt::TokioIo<tokio::net::TcpStream>;
    type Error = std::io::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async move {
            let host = uri.host().unwrap_or("127.0.0.1").to_owned();
            let port = uri.port_u16().unwrap_or(80);
            let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            Ok(hyper_util::rt::TokioIo::new(stream))
        })
    }
}
