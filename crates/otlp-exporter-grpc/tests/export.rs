//! Delivery against the real OTLP receiver of otlp-contrib on loopback: every
//! field arrives intact, with and without compression; headers, user agent,
//! configuration, size cap and shutdown.

mod support;

use std::time::Duration;

use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig, Transport};
use otlp_core::encode::Encoding;
use otlp_exporter_grpc::{Compression, GrpcExporter, MAX_REQUEST_BYTES, USER_AGENT};
use otlp_sdk::config::{Config, Headers, Protocol};
use otlp_sdk::{ExportError, ExportOutcome, ExportRequest, Exporter, SpanProcessor};
use support::*;

fn receiver() -> Receiver {
    Receiver::start(ReceiverConfig::default()).expect("receiver starts")
}

fn grpc_endpoint(receiver: &Receiver) -> String {
    receiver.grpc_endpoint().expect("gRPC listener")
}

fn exports_every_field_intact(compression: Compression, expected_encoding: Option<&str>) {
    let receiver = receiver();
    let exporter = GrpcExporter::builder()
        .endpoint(grpc_endpoint(&receiver))
        .compression(compression)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("exporter builds");
    let processor = pipeline(exporter, Duration::from_secs(10));
    let spans = rich_spans(60);

    let stats = export_all(&processor, &spans, Duration::from_secs(10));
    processor
        .shutdown(Duration::from_secs(5))
        .expect("clean shutdown");

    assert_eq!(
        (stats.exported, stats.failed, stats.retries),
        (60, 0, 0),
        "{stats:?}"
    );
    assert_arrived_intact(&spans, &receiver);
    let requests = receiver.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(request.transport, Transport::Grpc);
        assert!(
            request
                .content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("application/grpc")),
            "{:?}",
            request.content_type
        );
        assert_eq!(request.content_encoding.as_deref(), expected_encoding);
    }
}

#[test]
fn every_field_arrives_intact_without_compression() {
    exports_every_field_intact(Compression::None, None);
}

#[test]
fn every_field_arrives_intact_with_gzip() {
    exports_every_field_intact(Compression::Gzip, Some("gzip"));
}

#[test]
fn every_field_arrives_intact_with_zstd() {
    exports_every_field_intact(Compression::Zstd, Some("zstd"));
}

/// Exports `spans` in one request with `compression` on a fresh
/// current-thread runtime, as an application's, and returns the outcome and
/// how many threads the runtime started: a current-thread runtime starts none
/// but its blocking pool's.
#[cfg(any(feature = "gzip", feature = "zstd"))]
fn export_on_a_current_thread_runtime(
    receiver: &Receiver,
    compression: Compression,
    spans: &[otlp_core::SpanData],
) -> (ExportOutcome, usize) {
    let started = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = started.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_start(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .build()
        .expect("runtime");
    let exporter = GrpcExporter::builder()
        .endpoint(grpc_endpoint(receiver))
        .compression(compression)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("exporter builds");
    let outcome = runtime.block_on(exporter.export(request(spans)));
    drop(runtime);
    (outcome, started.load(std::sync::atomic::Ordering::Relaxed))
}

/// A body of 256 KiB or more is compressed on the runtime's blocking pool, not
/// on the thread driving the export (the application's, on a runtime it
/// lent); a small one where the export runs. The large one still arrives
/// whole, decompressed and decoded by the receiver with opentelemetry-proto.
#[cfg(any(feature = "gzip", feature = "zstd"))]
fn a_large_body_is_compressed_off_the_runtime_thread(compression: Compression) {
    let receiver = receiver();
    let small = rich_spans(2);
    let (outcome, started) = export_on_a_current_thread_runtime(&receiver, compression, &small);
    assert_eq!(outcome, ExportOutcome::Success);
    assert_eq!(started, 0, "threads started to export a small request");

    let large = rich_spans(2000);
    let body_len = request(&large).body.len();
    assert!(
        body_len >= otlp_sdk::compression::BLOCKING_THRESHOLD,
        "{body_len} bytes"
    );
    let (outcome, started) = export_on_a_current_thread_runtime(&receiver, compression, &large);
    assert_eq!(outcome, ExportOutcome::Success);
    assert!(
        started >= 1,
        "a {body_len} byte body was compressed on the runtime's only thread"
    );
    let all: Vec<_> = small.iter().chain(&large).cloned().collect();
    assert_arrived_intact(&all, &receiver);
    assert!(
        receiver
            .requests()
            .iter()
            .all(|r| r.content_encoding.as_deref() == Some(compression.as_str()))
    );
}

#[cfg(feature = "gzip")]
#[test]
fn a_large_gzip_body_is_compressed_off_the_runtime_thread_and_arrives_whole() {
    a_large_body_is_compressed_off_the_runtime_thread(Compression::Gzip);
}

#[cfg(feature = "zstd")]
#[test]
fn a_large_zstd_body_is_compressed_off_the_runtime_thread_and_arrives_whole() {
    a_large_body_is_compressed_off_the_runtime_thread(Compression::Zstd);
}

#[test]
fn metadata_headers_and_the_user_agent_arrive() {
    let receiver = receiver();
    let exporter = GrpcExporter::builder()
        .endpoint(grpc_endpoint(&receiver))
        .header("Authorization", "Bearer t0k3n")
        .headers([("x-tenant", "checkout"), ("x-region", "eu-west-1")])
        .build()
        .expect("exporter builds");
    let outcome = block_on(exporter.export(request(&rich_spans(2))));
    assert_eq!(outcome, ExportOutcome::Success);

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.header("authorization"), Some("Bearer t0k3n"));
    assert_eq!(request.header("x-tenant"), Some("checkout"));
    assert_eq!(request.header("x-region"), Some("eu-west-1"));
    let user_agent = request.header("user-agent").expect("a user agent");
    assert!(user_agent.starts_with(USER_AGENT), "{user_agent}");
    assert!(user_agent.contains("otlp-exporter-grpc/"), "{user_agent}");
    // The attempt timeout travels as grpc-timeout.
    assert!(
        request.header("grpc-timeout").is_some(),
        "{:?}",
        request.headers
    );
}

/// The user name and password of an endpoint's user-info arrive as HTTP
/// Basic `authorization` (percent-decoded), as the HTTP exporter sends them;
/// a configured `authorization` header wins. Before, gRPC dropped them.
#[test]
fn an_endpoints_user_and_password_arrive_as_basic_authorization() {
    let receiver = receiver();
    let with_user_info = grpc_endpoint(&receiver).replace("http://", "http://us%40er:p%3Aw@");
    let exporter = GrpcExporter::builder()
        .endpoint(&with_user_info)
        .build()
        .expect("exporter builds");
    assert_eq!(
        block_on(exporter.export(request(&rich_spans(1)))),
        ExportOutcome::Success
    );
    let configured = GrpcExporter::builder()
        .endpoint(&with_user_info)
        .header("Authorization", "Bearer t0k3n")
        .build()
        .expect("exporter builds");
    assert_eq!(
        block_on(configured.export(request(&rich_spans(1)))),
        ExportOutcome::Success
    );

    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    // base64 of `us@er:p:w`.
    assert_eq!(
        requests[0].header("authorization"),
        Some("Basic dXNAZXI6cDp3")
    );
    assert_eq!(requests[1].header("authorization"), Some("Bearer t0k3n"));
    assert_eq!(
        requests[1]
            .headers
            .iter()
            .filter(|(name, _)| name == "authorization")
            .count(),
        1
    );
}

#[test]
fn an_exporter_from_the_sdk_config_delivers() {
    let receiver = receiver();
    let mut config = Config::default();
    config.exporter.protocol = Protocol::Grpc;
    // Without a scheme, `insecure` selects plaintext.
    config.exporter.endpoint = Some(
        grpc_endpoint(&receiver)
            .trim_start_matches("http://")
            .to_owned(),
    );
    config.exporter.tls.insecure = Some(true);
    config.exporter.compression = Compression::Gzip;
    config.exporter.headers = Headers::from_iter([("x-api-key", "k3y")]);
    config.exporter.timeout = Duration::from_secs(3);
    config.batch.scheduled_delay = Duration::from_millis(20);
    config.retry = fast_retry();

    let exporter = GrpcExporter::from_config(&config.exporter).expect("exporter builds");
    assert_eq!(exporter.timeout(), Duration::from_secs(3));
    let processor = otlp_sdk::BatchSpanProcessor::builder(exporter)
        .with_config(&config)
        .build()
        .expect("pipeline starts");
    let spans = rich_spans(10);
    let stats = export_all(&processor, &spans, Duration::from_secs(10));
    processor
        .shutdown(Duration::from_secs(5))
        .expect("clean shutdown");

    assert_eq!(stats.exported, 10, "{stats:?}");
    assert_arrived_intact(&spans, &receiver);
    let requests = receiver.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.header("x-api-key") == Some("k3y"))
    );
    assert!(
        requests
            .iter()
            .all(|r| r.content_encoding.as_deref() == Some("gzip"))
    );
}

#[test]
fn concurrent_exports_share_one_connection() {
    let receiver = receiver();
    let address = receiver.grpc_addr().expect("gRPC listener");
    // Every answer waits a little, so the exports are in flight together.
    receiver.push_faults(std::iter::repeat_n(
        Fault::Delay(Duration::from_millis(150)),
        16,
    ));
    let exporter = GrpcExporter::builder()
        .endpoint(grpc_endpoint(&receiver))
        .build()
        .expect("exporter builds");
    let batches: Vec<_> = (0..16).map(|_| rich_spans(5)).collect();
    let (outcomes, connections) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let exporter = std::sync::Arc::new(exporter);
            let tasks: Vec<_> = batches
                .iter()
                .map(|spans| {
                    let exporter = exporter.clone();
                    let request = request(spans);
                    tokio::spawn(async move { exporter.export(request).await })
                })
                .collect();
            let mut outcomes = Vec::new();
            for task in tasks {
                outcomes.push(task.await.expect("export task"));
            }
            // The exporter (and so its channel) is still alive here.
            (outcomes, established_connections_to(address.port()))
        });
    assert!(
        outcomes
            .iter()
            .all(|outcome| *outcome == ExportOutcome::Success),
        "{outcomes:?}"
    );
    let all: Vec<_> = batches.concat();
    assert_arrived_intact(&all, &receiver);
    if let Some(connections) = connections {
        assert_eq!(connections, 1, "client connections to the receiver");
    }
}

/// Established TCP connections from this machine to `port` on 127.0.0.1, read
/// from `/proc/net/tcp` (`None` where there is no such file).
fn established_connections_to(port: u16) -> Option<usize> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let remote = format!("0100007F:{port:04X}");
    Some(
        table
            .lines()
            .skip(1)
            .filter(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.get(2) == Some(&remote.as_str()) && fields.get(3) == Some(&"01")
            })
            .count(),
    )
}

#[test]
fn a_request_over_64_mib_is_refused_without_sending() {
    let receiver = receiver();
    let exporter = GrpcExporter::builder()
        .endpoint(grpc_endpoint(&receiver))
        .build()
        .expect("exporter builds");
    let oversized = ExportRequest {
        body: vec![0u8; MAX_REQUEST_BYTES + 1].into(),
        encoding: Encoding::Protobuf,
        span_count: 1,
    };
    match block_on(exporter.export(oversized)) {
        ExportOutcome::Permanent {
            error: ExportError::Request(message),
        } => assert!(message.contains("cap"), "{message}"),
        other => panic!("unexpected {other:?}"),
    }
    // Still usable, and nothing was sent before.
    assert_eq!(receiver.request_count(), 0);
    assert_eq!(
        block_on(exporter.export(request(&rich_spans(1)))),
        ExportOutcome::Success
    );
    assert_eq!(receiver.request_count(), 1);
}

#[test]
fn empty_and_json_requests_are_not_sent() {
    let receiver = receiver();
    let exporter = GrpcExporter::builder()
        .endpoint(grpc_endpoint(&receiver))
        .build()
        .expect("exporter builds");
    assert_eq!(exporter.encoding(), Encoding::Protobuf);
    assert_eq!(
        block_on(exporter.export(request(&[]))),
        ExportOutcome::Success
    );
    let json = ExportRequest {
        body: b"{}".to_vec().into(),
        encoding: Encoding::Json,
        span_count: 1,
    };
    assert!(matches!(
        block_on(exporter.export(json)),
        ExportOutcome::Permanent {
            error: ExportError::Request(_)
        }
    ));
    assert_eq!(receiver.request_count(), 0);
}

#[test]
fn after_shutdown_exports_are_refused() {
    let receiver = receiver();
    let exporter = GrpcExporter::builder()
        .endpoint(grpc_endpoint(&receiver))
        .build()
        .expect("exporter builds");
    block_on(async {
        assert_eq!(
            exporter.export(request(&rich_spans(1))).await,
            ExportOutcome::Success
        );
        exporter.shutdown().await;
        assert!(exporter.is_shut_down());
        assert_eq!(
            exporter.export(request(&rich_spans(1))).await,
            ExportOutcome::Permanent {
                error: ExportError::ShutDown
            }
        );
    });
    assert_eq!(receiver.request_count(), 1);
}

#[test]
fn exporting_outside_a_tokio_runtime_fails_instead_of_panicking() {
    let exporter = GrpcExporter::builder().build().expect("exporter builds");
    let outcome = poll_once_to_completion(exporter.export(request(&rich_spans(1))));
    assert!(
        matches!(
            outcome,
            ExportOutcome::Permanent {
                error: ExportError::Transport(ref message)
            } if message.contains("tokio runtime")
        ),
        "{outcome:?}"
    );
}

/// Drives a future that completes without waiting, outside any runtime.
fn poll_once_to_completion<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the future waited"),
    }
}

#[test]
fn an_exporter_used_on_one_runtime_keeps_working_on_the_next() {
    let receiver = receiver();
    let exporter = GrpcExporter::builder()
        .endpoint(grpc_endpoint(&receiver))
        .build()
        .expect("exporter builds");
    // The first runtime opens the channel and is then dropped with it...
    assert_eq!(
        block_on(exporter.export(request(&rich_spans(1)))),
        ExportOutcome::Success
    );
    // ...a second one, and then the pipeline's own, open their own.
    assert_eq!(
        block_on(exporter.export(request(&rich_spans(1)))),
        ExportOutcome::Success
    );
    let processor = pipeline(exporter, Duration::from_secs(10));
    let stats = export_all(&processor, &rich_spans(4), Duration::from_secs(10));
    processor
        .shutdown(Duration::from_secs(5))
        .expect("clean shutdown");
    assert_eq!((stats.exported, stats.retries), (4, 0), "{stats:?}");
    assert_eq!(receiver.span_count(), 6);
}

#[test]
fn a_batch_over_the_request_cap_is_split_and_arrives_whole() {
    use prost::Message as _;

    let receiver = receiver();
    let exporter = GrpcExporter::builder()
        .endpoint(grpc_endpoint(&receiver))
        .build()
        .expect("exporter builds");
    let cap = 8 * 1024;
    let processor = otlp_sdk::BatchSpanProcessor::builder(exporter)
        .with_batch_config(otlp_sdk::config::BatchConfig {
            scheduled_delay: Duration::from_millis(20),
            ..otlp_sdk::config::BatchConfig::default()
        })
        .with_performance_config(otlp_sdk::config::PerformanceConfig {
            max_request_bytes: cap,
            ..otlp_sdk::config::PerformanceConfig::default()
        })
        .build()
        .expect("pipeline starts");
    let spans = rich_spans(80);
    let stats = export_all(&processor, &spans, Duration::from_secs(10));
    processor
        .shutdown(Duration::from_secs(5))
        .expect("clean shutdown");

    assert_eq!(
        (stats.exported, stats.dropped, stats.failed),
        (80, 0, 0),
        "{stats:?}"
    );
    let requests = receiver.accepted_requests();
    assert!(requests.len() > 1, "split into {} requests", requests.len());
    for request in &requests {
        assert!(
            request.encoded_len() <= cap,
            "{} bytes",
            request.encoded_len()
        );
    }
    assert_arrived_intact(&spans, &receiver);
}
