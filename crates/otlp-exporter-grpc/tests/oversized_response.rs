//! The 4 MiB response cap: a response over it is a permanent error, refused
//! from its length prefix without being read whole; one of exactly 4 MiB is
//! read. No receiver answers that much (the contrib receiver cannot be
//! scripted to), so a bare HTTP/2 server on loopback plays the server here.

mod support;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use otlp_core::response::PartialSuccess;
use otlp_exporter_grpc::{GrpcExporter, MAX_RESPONSE_BYTES};
use otlp_sdk::{ExportError, ExportOutcome, Exporter};
use support::rich_spans;

/// One gRPC message frame: uncompressed flag, length, message.
fn frame(message_len: usize) -> Bytes {
    let mut frame = BytesMut::with_capacity(5 + message_len);
    frame.put_u8(0);
    frame.put_u32(u32::try_from(message_len).expect("fits"));
    frame.put_bytes(0, message_len);
    frame.freeze()
}

async fn serve_oversized(listener: tokio::net::TcpListener, calls: Arc<AtomicU64>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let calls = calls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async move {
                        let _ = request.into_body().collect().await;
                        let response = hyper::Response::builder()
                            .header("content-type", "application/grpc")
                            .body(Full::new(frame(MAX_RESPONSE_BYTES + (1 << 20))))
                            .expect("response");
                        Ok::<_, Infallible>(response)
                    }
                },
            );
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[test]
fn a_response_over_4_mib_is_a_permanent_error() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let calls = Arc::new(AtomicU64::new(0));
    let outcome = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(serve_oversized(listener, calls.clone()));
        let exporter = GrpcExporter::builder()
            .endpoint(format!("http://{address}"))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("exporter builds");
        exporter.export(support::request(&rich_spans(1))).await
    });
    match outcome {
        ExportOutcome::Permanent {
            error: ExportError::InvalidResponse(message),
        } => assert!(
            message.contains(&MAX_RESPONSE_BYTES.to_string()),
            "{message}"
        ),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_response_of_exactly_4_mib_is_read() {
    // The same bare server answering a valid response of exactly the cap
    // (a partial success with a very long message) proves the limit is the cap.
    let body = response_of_len(MAX_RESPONSE_BYTES);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    let body = body.clone();
                    async move {
                        let _ = request.into_body().collect().await;
                        let mut message = BytesMut::with_capacity(5 + body.len());
                        message.put_u8(0);
                        message.put_u32(u32::try_from(body.len()).expect("fits"));
                        message.put_slice(&body);
                        let response = hyper::Response::builder()
                            .header("content-type", "application/grpc")
                            .body(DataThenTrailers {
                                data: Some(message.freeze()),
                                trailers: Some(ok_trailers()),
                            })
                            .expect("response");
                        Ok::<_, Infallible>(response)
                    }
                },
            );
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        let exporter = GrpcExporter::builder()
            .endpoint(format!("http://{address}"))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("exporter builds");
        exporter.export(support::request(&rich_spans(1))).await
    });
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

fn ok_trailers() -> http::HeaderMap {
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    trailers
}

/// A response body: one data frame, then the trailers.
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
