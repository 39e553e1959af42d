//! Store modes, refusing connections, waiting and shutting down.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::StatusCode;
use otlp_contrib::receiver::{
    Fault, MAX_WORKER_THREADS, ReceivedRequest, Receiver, ReceiverConfig, ReceiverError,
    RequestObserver, Store,
};
use prost::Message;
use tonic::codec::CompressionEncoding;

use crate::support::*;

#[tokio::test]
async fn count_only_counts_spans_on_every_transport_and_encoding() {
    let receiver = Receiver::start(ReceiverConfig {
        store: Store::CountOnly,
        ..Default::default()
    })
    .expect("start");
    let url = receiver.http_traces_url().expect("http");
    let request = rich_request("count", 5);

    let mut client = grpc_client(&receiver.grpc_endpoint().expect("grpc")).await;
    client.export(request.clone()).await.expect("grpc");
    let mut zstd_client = grpc_client(&receiver.grpc_endpoint().expect("grpc"))
        .await
        .send_compressed(CompressionEncoding::Zstd);
    zstd_client
        .export(request.clone())
        .await
        .expect("grpc zstd");
    assert_eq!(post_protobuf(&url, &request).await.status, StatusCode::OK);
    let json = serde_json::to_vec(&request).expect("json");
    assert_eq!(
        post(&url, "application/json", None, json.clone())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        post(&url, "application/json", Some("gzip"), gzip(&json))
            .await
            .status,
        StatusCode::OK
    );

    // Faults still play; faulted spans are not accepted.
    receiver.push_faults([Fault::Unavailable]);
    assert_eq!(
        post_protobuf(&url, &request).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    // Framing errors are still caught.
    assert_eq!(
        post(
            &url,
            "application/x-protobuf",
            None,
            b"\x0a\x05\x01".to_vec()
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(&url, "application/json", None, b"[".to_vec())
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    assert!(receiver.wait_for_spans(25, TIMEOUT));
    let stats = receiver.stats();
    assert_eq!(stats.accepted_spans, 25, "{stats:?}");
    assert_eq!(stats.accepted_requests, 5);
    assert_eq!((stats.faulted_requests, stats.faulted_spans), (1, 5));
    assert_eq!(stats.bad_requests, 2);
    assert_eq!(stats.requests, 8);
    assert!(receiver.requests().is_empty(), "count-only keeps nothing");
}

#[tokio::test]
async fn decode_only_feeds_the_observer_and_keeps_nothing() {
    let seen: Arc<Mutex<Vec<ReceivedRequest>>> = Arc::default();
    let observer_seen = Arc::clone(&seen);
    let receiver = Receiver::start(ReceiverConfig {
        store: Store::DecodeOnly,
        grpc: None,
        observer: Some(RequestObserver::new(move |request| {
            observer_seen.lock().expect("lock").push(request.clone());
        })),
        ..Default::default()
    })
    .expect("start");
    assert_eq!(receiver.grpc_endpoint(), None);
    let request = rich_request("observed", 2);
    post_protobuf(&receiver.http_traces_url().expect("http"), &request).await;
    assert!(receiver.requests().is_empty());
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].request, request);
    assert_eq!(receiver.span_count(), 2);
}

/// The service name a request's first resource carries.
fn service_of(request: &ReceivedRequest) -> String {
    let resource = request.request.resource_spans[0].resource.as_ref();
    resource
        .and_then(|resource| {
            resource
                .attributes
                .iter()
                .find(|attribute| attribute.key == "service.name")
        })
        .map(|attribute| format!("{:?}", attribute.value))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connection_is_served_on_one_thread_and_two_on_two() {
    let threads: Arc<Mutex<Vec<(String, std::thread::ThreadId)>>> = Arc::default();
    let observer_threads = Arc::clone(&threads);
    let receiver = Receiver::start(ReceiverConfig {
        store: Store::DecodeOnly,
        worker_threads: 2,
        observer: Some(RequestObserver::new(move |request| {
            let thread = std::thread::current().id();
            let service = service_of(request);
            observer_threads
                .lock()
                .expect("lock")
                .push((service, thread));
        })),
        ..Default::default()
    })
    .expect("start");
    let endpoint = receiver.grpc_endpoint().expect("grpc");
    // Two HTTP/2 connections, open together, each sending many streams at once.
    let (first, second) = (grpc_client(&endpoint).await, grpc_client(&endpoint).await);
    let mut calls = tokio::task::JoinSet::new();
    for (client, service) in [(first, "first"), (second, "second")] {
        let request = rich_request(service, 3);
        for _ in 0..40 {
            let (mut client, request) = (client.clone(), request.clone());
            calls.spawn(async move { client.export(request).await.map(|_| ()) });
        }
    }
    while let Some(call) = calls.join_next().await {
        call.expect("the call's task").expect("export");
    }
    assert!(receiver.wait_for_spans(240, TIMEOUT));

    let threads = threads.lock().expect("lock").clone();
    assert_eq!(threads.len(), 80);
    let served_on = |service: &str| {
        let mut ids: Vec<_> = threads
            .iter()
            .filter(|(name, _)| name.contains(service))
            .map(|(_, thread)| *thread)
            .collect();
        assert_eq!(ids.len(), 40, "{service}");
        ids.dedup();
        ids
    };
    let (first, second) = (served_on("first"), served_on("second"));
    assert_eq!(first.len(), 1, "one connection, one thread: {first:?}");
    assert_eq!(second.len(), 1, "one connection, one thread: {second:?}");
    assert_ne!(
        first, second,
        "the second connection goes to the idle worker"
    );
}

#[tokio::test]
async fn refusing_connections_breaks_open_and_new_connections_then_recovers() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    let url = receiver.http_traces_url().expect("http");
    let grpc_endpoint = receiver.grpc_endpoint().expect("grpc");
    let (grpc_addr, http_addr) = (
        receiver.grpc_addr().expect("grpc"),
        receiver.http_addr().expect("http"),
    );
    let request = rich_request("refuse", 1);
    let http = http_client();
    let post_with = |client: &hyper_util::client::legacy::Client<_, _>| {
        client.request(
            http::Request::post(url.clone())
                .header("content-type", "application/x-protobuf")
                .body(http_body_util::Full::new(bytes::Bytes::from(
                    request.encode_to_vec(),
                )))
                .expect("request"),
        )
    };
    // Warm a pooled HTTP connection and a gRPC channel.
    assert_eq!(
        post_with(&http).await.expect("warm").status(),
        StatusCode::OK
    );
    let mut grpc = grpc_client(&grpc_endpoint).await;
    grpc.export(request.clone()).await.expect("warm");

    // Long enough for the four refused attempts below on a loaded machine.
    receiver.refuse_connections_for(Duration::from_millis(4000));
    let refused_at = Instant::now();
    for addr in [grpc_addr, http_addr] {
        let connect = tokio::net::TcpStream::connect(addr).await;
        assert_eq!(
            connect.err().map(|error| error.kind()),
            Some(std::io::ErrorKind::ConnectionRefused),
            "{addr}"
        );
    }
    assert!(
        post_with(&http).await.is_err(),
        "the pooled HTTP connection was closed"
    );
    let status = grpc
        .export(request.clone())
        .await
        .expect_err("gRPC refused");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");

    // Back on the same ports after the window.
    let deadline = Instant::now() + TIMEOUT;
    while tokio::net::TcpStream::connect(http_addr).await.is_err() {
        assert!(Instant::now() < deadline, "the listener came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused_at.elapsed() >= Duration::from_millis(3900));
    assert_eq!(
        post_with(&http).await.expect("back").status(),
        StatusCode::OK
    );
    let mut grpc = grpc_client(&grpc_endpoint).await;
    grpc.export(request).await.expect("gRPC back");
    assert_eq!(receiver.span_count(), 4);
}

#[tokio::test]
async fn shutdown_closes_the_ports_and_releases_hanging_requests() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    receiver.push_faults([Fault::Hang]);
    let url = receiver.http_traces_url().expect("http");
    let hanging = tokio::spawn(async move { post_protobuf(&url, &rich_request("hang", 1)).await });
    assert!(
        receiver
            .wait_until_async(TIMEOUT, |stats| stats.faulted_requests == 1)
            .await
    );
    let addr = receiver.http_addr().expect("http");
    receiver.shutdown();
    receiver.shutdown(); // idempotent
    let connect = tokio::net::TcpStream::connect(addr).await;
    assert!(connect.is_err(), "closed after shutdown");
    assert!(
        hanging.await.is_err(),
        "the hanging request was dropped, not answered"
    );
    assert_eq!(
        receiver.stats().faulted_requests,
        1,
        "data survives shutdown"
    );
    assert!(
        !receiver
            .wait_for_spans_async(1, Duration::from_millis(10))
            .await
    );
}

#[test]
fn works_from_plain_threads_and_rejects_bad_configs() {
    let receiver = Receiver::start(ReceiverConfig::default()).expect("start");
    assert!(!receiver.wait_for_spans(1, Duration::from_millis(10)));
    drop(receiver);

    let bad = [
        ReceiverConfig {
            grpc: None,
            http: None,
            ..Default::default()
        },
        ReceiverConfig {
            max_request_bytes: 0,
            ..Default::default()
        },
        ReceiverConfig {
            worker_threads: 0,
            ..Default::default()
        },
    ];
    for config in bad {
        assert!(matches!(
            Receiver::start(config),
            Err(ReceiverError::Config { .. })
        ));
    }
    let first = Receiver::start(ReceiverConfig::default()).expect("start");
    let clash = Receiver::start(ReceiverConfig {
        http: first.http_addr(),
        ..Default::default()
    });
    assert!(
        matches!(
            clash,
            Err(ReceiverError::Bind {
                transport: "http",
                ..
            })
        ),
        "{clash:?}"
    );
}

#[test]
fn more_worker_threads_than_the_most_are_refused_naming_the_field_and_the_count() {
    for threads in [MAX_WORKER_THREADS + 1, usize::MAX] {
        let refused = Receiver::start(ReceiverConfig {
            worker_threads: threads,
            ..Default::default()
        });
        let Err(error @ ReceiverError::Config { .. }) = refused else {
            panic!("{threads} threads: {refused:?}");
        };
        let message = error.to_string();
        assert!(
            message.contains("worker_threads") && message.contains(&threads.to_string()),
            "{message}"
        );
    }
}
