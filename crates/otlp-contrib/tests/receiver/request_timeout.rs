//! `ReceiverConfig::request_timeout` (`otlp-receiver --request-timeout`):
//! from the end of its head, a request's body must be read whole and its
//! answer written within that time, or the request is cut (HTTP/1.1: 408 and
//! the connection closed; HTTP/2: its stream alone reset) and counted timed
//! out, its records not counted.
//!
//! The limits here are short (300 ms to 1 s) and the clients slower than
//! them by seconds; nothing asserts how fast the receiver reacts beyond the
//! generous [`TIMEOUT`] given to each outcome.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use h2::Reason;
use http::Request;
use otlp_contrib::receiver::{Receiver, ReceiverConfig, ReceiverStats};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::support::*;

const PROTOBUF: &str = "application/x-protobuf";
const GRPC_TRACES: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Sends an HTTP/1.1 `POST /v1/traces` head for `body`, then the body in
/// ten pieces `pause` apart (until the receiver stops reading); returns
/// everything read until the connection closed, or `None` if it was not
/// closed within [`TIMEOUT`] after the body was sent.
async fn post_slowly(
    address: std::net::SocketAddr,
    body: Vec<u8>,
    pause: Duration,
) -> Option<Vec<u8>> {
    let stream = TcpStream::connect(address).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: {PROTOBUF}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    writer.write_all(head.as_bytes()).await.expect("head");
    let sender = tokio::spawn(async move {
        for piece in body.chunks(body.len().div_ceil(10)) {
            tokio::time::sleep(pause).await;
            if writer.write_all(piece).await.is_err() {
                return; // the receiver closed the connection
            }
        }
        // Keep the writing half open: the receiver, not the client, ends it.
        tokio::time::sleep(TIMEOUT).await;
    });
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(TIMEOUT + pause * 10, async {
        let mut buffer = [0u8; 4096];
        // A reset after the answer (the rest of the body unread) ends it too.
        while let Ok(read @ 1..) = reader.read(&mut buffer).await {
            answer.extend_from_slice(&buffer[..read]);
        }
    })
    .await;
    sender.abort();
    closed.ok().map(|()| answer)
}

/// The counters once `condition` holds (or after [`TIMEOUT`]).
fn stats_once(receiver: &Receiver, condition: impl Fn(&ReceiverStats) -> bool) -> ReceiverStats {
    receiver.wait_until(TIMEOUT, condition);
    receiver.stats()
}

/// A client that sends its body slower than the request timeout (or sends
/// a head and no body) gets a 408 once the time is up, and its connection is
/// closed; the request is counted timed out, none of its spans counted.
#[tokio::test]
async fn an_http1_request_whose_body_arrives_slower_than_the_request_timeout_gets_a_408_and_its_connection_closed()
 {
    let receiver = Receiver::start(ReceiverConfig {
        request_timeout: Duration::from_millis(300),
        ..ReceiverConfig::default()
    })
    .expect("start");
    let address = receiver.http_addr().expect("HTTP address");

    // The body in ten pieces 200 ms apart: 2 s in all.
    let body = rich_request("slow", 3).encode_to_vec();
    let answer = post_slowly(address, body, Duration::from_millis(200))
        .await
        .expect("the connection is closed");
    let text = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(text.starts_with("http/1.1 408 "), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    assert!(text.contains("request timeout"), "{text}");

    // A head and no body at all.
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: {PROTOBUF}\r\ncontent-length: 100\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut answer = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut answer))
        .await
        .expect("the connection is closed")
        .expect("read");
    let text = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(text.starts_with("http/1.1 408 "), "{text}");

    let stats = stats_once(&receiver, |stats| stats.timed_out_requests == 2);
    assert_eq!(
        (
            stats.requests,
            stats.timed_out_requests,
            stats.accepted_requests,
            stats.accepted_spans,
            stats.abandoned_requests,
            stats.bad_requests
        ),
        (2, 2, 0, 0, 0, 0),
        "{stats:?}"
    );
    assert!(receiver.requests().is_empty());
}

/// A gRPC `Export` request and its 5-byte message frame.
fn grpc_export(spans: usize) -> (Request<()>, Bytes) {
    let message = rich_request("h2", spans).encode_to_vec();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
    framed.extend_from_slice(&message);
    let request = Request::post(GRPC_TRACES)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("request");
    (request, Bytes::from(framed))
}

/// The reason an HTTP/2 stream was reset with, from its response or body.
async fn reset_reason(response: h2::client::ResponseFuture) -> Option<Reason> {
    let response = match response.await {
        Ok(response) => response,
        Err(error) => return error.reason(),
    };
    let mut body = response.into_body();
    loop {
        match body.data().await {
            Some(Ok(_)) => {}
            Some(Err(error)) => return error.reason(),
            None => return None,
        }
    }
}

/// An HTTP/2 client whose flow-control window is 0 sends a whole request,
/// so its answer can never be written, and a head with no body on a second
/// stream: once the request timeout is up each stream is reset (`CANCEL`),
/// not the connection, on which a normal request then succeeds. The request
/// that never sent its body is counted timed out; the one whose answer was
/// decided in time keeps its count (accepted) though its answer was never
/// written.
#[tokio::test]
async fn an_http2_stream_whose_answer_cannot_be_written_is_reset_and_its_connection_serves_the_next()
 {
    // Long enough for the first stream's answer to be decided in time on a
    // loaded machine (its whole body follows its head at once).
    let receiver = Receiver::start(ReceiverConfig {
        request_timeout: Duration::from_secs(1),
        ..ReceiverConfig::default()
    })
    .expect("start");
    let tcp = TcpStream::connect(receiver.grpc_addr().expect("gRPC address"))
        .await
        .expect("connect");
    let (client, mut connection) = h2::client::Builder::new()
        .initial_window_size(0)
        .handshake::<_, Bytes>(tcp)
        .await
        .expect("HTTP/2 handshake");
    // Drives the connection; on the signal, opens every stream's window.
    let (open_windows, mut opened) = oneshot::channel::<()>();
    let driver = tokio::spawn(async move {
        let mut signal = Some(&mut opened);
        std::future::poll_fn(|cx| {
            if let Some(receiver) = signal.as_mut()
                && Pin::new(&mut **receiver).poll(cx).is_ready()
            {
                signal = None;
                connection
                    .set_initial_window_size(65_535)
                    .expect("a larger window");
            }
            Pin::new(&mut connection).poll(cx)
        })
        .await
    });
    let mut client = client.ready().await.expect("ready");

    // A whole request, whose answer the window of 0 holds back.
    let (request, message) = grpc_export(2);
    let (held, mut body) = client.send_request(request, false).expect("first stream");
    body.send_data(message, true).expect("its message");
    // A head, and no body.
    let mut client = client.ready().await.expect("ready");
    let (request, _) = grpc_export(1);
    let (headless, _body) = client.send_request(request, false).expect("second stream");

    let reasons = tokio::time::timeout(TIMEOUT, async {
        (reset_reason(held).await, reset_reason(headless).await)
    })
    .await
    .expect("both streams reset");
    assert_eq!(reasons, (Some(Reason::CANCEL), Some(Reason::CANCEL)));

    // The connection carries on.
    let _ = open_windows.send(());
    let mut client = client.ready().await.expect("ready");
    let (request, message) = grpc_export(3);
    let (response, mut body) = client.send_request(request, false).expect("third stream");
    body.send_data(message, true).expect("its message");
    let response = tokio::time::timeout(TIMEOUT, response)
        .await
        .expect("an answer")
        .expect("a response");
    assert_eq!(response.status(), http::StatusCode::OK);
    let mut body = response.into_body();
    while let Some(data) = tokio::time::timeout(TIMEOUT, body.data())
        .await
        .expect("data")
    {
        let data = data.expect("the answer's data");
        let _ = body.flow_control().release_capacity(data.len());
    }
    let trailers = tokio::time::timeout(TIMEOUT, body.trailers())
        .await
        .expect("trailers")
        .expect("the answer's trailers")
        .expect("grpc-status");
    assert_eq!(
        trailers.get("grpc-status").map(|v| v.as_bytes()),
        Some(&b"0"[..])
    );

    let stats = stats_once(&receiver, |stats| {
        stats.timed_out_requests == 1 && stats.accepted_requests == 2
    });
    assert_eq!(
        (
            stats.requests,
            stats.accepted_requests,
            stats.accepted_spans,
            stats.timed_out_requests,
            stats.abandoned_requests,
        ),
        (3, 2, 5, 1, 0),
        "{stats:?}"
    );
    drop(client);
    driver.abort();
}

/// Requests answered in time succeed and are counted, over HTTP/1.1 and
/// gRPC, on connections kept open between them for longer than the request
/// timeout (the time is each request's, not its connection's).
#[tokio::test]
async fn requests_answered_within_the_request_timeout_succeed_and_are_counted() {
    // Each request must be answered within it, also on a loaded machine.
    let request_timeout = Duration::from_secs(2);
    let receiver = Receiver::start(ReceiverConfig {
        request_timeout,
        ..ReceiverConfig::default()
    })
    .expect("start");
    let url = receiver.http_traces_url().expect("HTTP");
    let mut grpc = grpc_client(&receiver.grpc_endpoint().expect("gRPC")).await;
    for _ in 0..2 {
        let response = post_protobuf(&url, &rich_request("http", 2)).await;
        assert_eq!(response.status, http::StatusCode::OK);
        grpc.export(rich_request("grpc", 1))
            .await
            .expect("gRPC export");
        tokio::time::sleep(request_timeout + request_timeout / 2).await;
    }
    let stats = receiver.stats();
    assert_eq!(
        (
            stats.requests,
            stats.accepted_requests,
            stats.accepted_spans,
            stats.timed_out_requests
        ),
        (4, 4, 6, 0),
        "{stats:?}"
    );
}

#[test]
fn a_zero_request_timeout_is_refused_naming_the_field() {
    let error = Receiver::start(ReceiverConfig {
        request_timeout: Duration::ZERO,
        ..ReceiverConfig::default()
    })
    .expect_err("a zero timeout cuts every request");
    assert!(error.to_string().contains("request_timeout"), "{error}");
}

/// `Duration::MAX` ("never") stands for a year: a deadline past the
/// clock's range would panic in the connection's task.
#[tokio::test]
async fn a_request_timeout_past_the_clocks_range_still_serves_requests() {
    let receiver = Receiver::start(ReceiverConfig {
        request_timeout: Duration::MAX,
        ..ReceiverConfig::default()
    })
    .expect("start");
    let response = post_protobuf(
        &receiver.http_traces_url().expect("HTTP"),
        &rich_request("never", 1),
    )
    .await;
    assert_eq!(response.status, http::StatusCode::OK);
    let mut grpc = grpc_client(&receiver.grpc_endpoint().expect("gRPC")).await;
    grpc.export(rich_request("never", 1))
        .await
        .expect("gRPC export");
    assert_eq!(receiver.stats().accepted_requests, 2);
}

/// Over TLS as in plain text: an HTTP/1.1 request that sends its head and
/// no body gets a 408 and its connection closed, a gRPC (HTTP/2) stream that
/// does the same is reset; both are counted timed out.
#[tokio::test]
async fn over_tls_a_request_without_its_body_is_cut_at_the_request_timeout() {
    use otlp_contrib::receiver::TestCertificates;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let certs = TestCertificates::generate().expect("certificates");
    let receiver = Receiver::start(ReceiverConfig {
        tls: Some(certs.server_tls()),
        request_timeout: Duration::from_millis(300),
        ..ReceiverConfig::default()
    })
    .expect("start");
    let connect = |address, alpn: &'static [u8]| {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(certs.ca_pem.as_bytes()).expect("CA"))
            .expect("root");
        #[allow(deprecated)] // ring's provider, deprecated in rustls 0.23.48 (no post-quantum)
        let ring = rustls::crypto::ring::default_provider();
        let mut config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(ring))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.to_vec()];
        async move {
            let tcp = TcpStream::connect(address).await.expect("connect");
            tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
                .connect(ServerName::try_from("localhost").expect("name"), tcp)
                .await
                .expect("TLS handshake")
        }
    };

    let mut tls = connect(receiver.http_addr().expect("HTTP"), b"http/1.1").await;
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: localhost\r\ncontent-type: {PROTOBUF}\r\ncontent-length: 100\r\n\r\n"
    );
    tls.write_all(head.as_bytes()).await.expect("head");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(TIMEOUT, tls.read_to_end(&mut answer))
        .await
        .expect("the connection is closed");
    let text = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(text.starts_with("http/1.1 408 "), "{text}");

    let tls = connect(receiver.grpc_addr().expect("gRPC"), b"h2").await;
    let (client, connection) = h2::client::handshake(tls).await.expect("HTTP/2 handshake");
    let driver = tokio::spawn(connection);
    let mut client = client.ready().await.expect("ready");
    let (request, _) = grpc_export(1);
    let (headless, _body) = client.send_request(request, false).expect("a stream");
    let reason = tokio::time::timeout(TIMEOUT, reset_reason(headless))
        .await
        .expect("the stream is reset");
    assert_eq!(reason, Some(Reason::CANCEL));

    let stats = stats_once(&receiver, |stats| stats.timed_out_requests == 2);
    assert_eq!(
        (
            stats.requests,
            stats.timed_out_requests,
            stats.accepted_requests
        ),
        (2, 2, 0),
        "{stats:?}"
    );
    drop(client);
    driver.abort();
}
