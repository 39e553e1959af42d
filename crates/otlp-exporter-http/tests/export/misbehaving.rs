//! Servers that answer the way real collectors, proxies and load balancers
//! sometimes do: chunked and close-delimited bodies, `Connection: close`,
//! early 413s, headers or bodies that never end, silence. A bare HTTP/1.1
//! server on loopback writes the raw bytes of each answer.

use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use otlp_contrib::receiver::TestCertificates;
use otlp_core::encode::Encoding;
use otlp_core::response::{PartialSuccess, RpcStatus, encode_export_response};
use otlp_core::wire::put_bytes_field;
use otlp_exporter_http::HttpExporter;
use otlp_sdk::{ExportError, ExportOutcome, Exporter, Signal};

use crate::support::{encode, rich_spans};

/// What the server does with one request.
#[derive(Clone)]
enum Reply {
    /// Writes these bytes, then keeps the connection open for the next request.
    Raw(Vec<u8>),
    /// Writes these bytes, then closes the connection.
    RawThenClose(Vec<u8>),
    /// Writes these bytes as soon as the request head is read, before the
    /// body, then reads the body and keeps the connection.
    Early(Vec<u8>),
    /// Writes the first bytes, then the second forever (until the client goes).
    Endless(Vec<u8>, Vec<u8>),
    /// Says nothing, holds the connection.
    Silence,
    /// Closes the connection without answering.
    Hangup,
    /// Writes these bytes, then closes the connection once idle (a FIN, as
    /// a load balancer's or the Collector's idle timeout), and waits for the
    /// client to close its end: see [`SEEN_CLOSED`].
    RawThenCloseIdle(Vec<u8>),
}

/// Connections closed by `RawThenCloseIdle` that the client closed too.
static SEEN_CLOSED: AtomicUsize = AtomicUsize::new(0);

struct Server {
    url: String,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

/// A server giving the `n`th request (from 0, over all connections) `reply(n)`.
fn server(reply: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (accepted, answered) = (connections.clone(), requests.clone());
    let reply = Arc::new(reply);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            accepted.fetch_add(1, Ordering::SeqCst);
            let (reply, answered) = (reply.clone(), answered.clone());
            std::thread::spawn(move || serve(stream, &*reply, &answered));
        }
    });
    Server {
        url,
        connections,
        requests,
    }
}

fn serve(stream: TcpStream, reply: &dyn Fn(usize) -> Reply, requests: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let Some(length) = crate::support::read_request_head(&mut reader) else {
            return;
        };
        let n = requests.fetch_add(1, Ordering::SeqCst);
        let reply = reply(n);
        if let Reply::Early(bytes) = &reply {
            let _ = writer.write_all(bytes);
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        match reply {
            Reply::Raw(bytes) => {
                if writer.write_all(&bytes).is_err() {
                    return;
                }
            }
            Reply::RawThenClose(bytes) => {
                let _ = writer.write_all(&bytes);
                return;
            }
            Reply::Early(_) => {}
            Reply::Endless(head, filler) => {
                let _ = writer.write_all(&head);
                while writer.write_all(&filler).is_ok() {}
                return;
            }
            Reply::Silence => {
                std::thread::sleep(Duration::from_secs(60));
                return;
            }
            Reply::Hangup => return,
            Reply::RawThenCloseIdle(bytes) => {
                let _ = writer.write_all(&bytes);
                let _ = writer.shutdown(std::net::Shutdown::Write);
                let _ = reader.read_to_end(&mut Vec::new());
                SEEN_CLOSED.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }
    }
}

fn exporter(url: &str, timeout: Duration) -> HttpExporter {
    HttpExporter::builder()
        .endpoint(url)
        .timeout(timeout)
        .build()
        .expect("exporter")
}

/// `times` exports, one after the other, on one runtime, with no pause.
fn export_times(exporter: &HttpExporter, times: usize) -> Vec<ExportOutcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut outcomes = Vec::new();
        for _ in 0..times {
            outcomes.push(
                exporter
                    .export(encode(&rich_spans(2), Encoding::Protobuf))
                    .await,
            );
        }
        Exporter::shutdown(exporter).await;
        outcomes
    })
}

fn partial_success_body() -> Vec<u8> {
    encode_export_response(Some(&PartialSuccess {
        rejected_spans: 1,
        error_message: "too old".into(),
    }))
}

fn head(status: &str, headers: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status}\r\n{headers}\r\n").into_bytes()
}

fn with_body(mut head: Vec<u8>, body: &[u8]) -> Vec<u8> {
    head.extend_from_slice(body);
    head
}

fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(3) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn partial() -> ExportOutcome {
    ExportOutcome::PartialSuccess {
        rejected_spans: 1,
        message: "too old".into(),
    }
}

#[test]
fn a_chunked_partial_success_is_read_and_the_connection_kept() {
    let body = partial_success_body();
    let server = server(move |_| {
        Reply::Raw(with_body(
            head(
                "200 OK",
                "content-type: application/x-protobuf\r\ntransfer-encoding: chunked\r\n",
            ),
            &chunked(&body),
        ))
    });
    let outcomes = export_times(&exporter(&server.url, Duration::from_secs(5)), 3);
    assert_eq!(outcomes, vec![partial(), partial(), partial()]);
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

/// The proto3 JSON mapping accepts an integer written in exponent notation
/// or with a zero fraction, quoted or not (the protobuf conformance suite
/// requires it of every parser): a server's `1e1` rejected spans are ten, not
/// an undecodable answer whose rejections are counted exported.
#[test]
fn a_json_rejected_count_in_exponent_or_float_form_is_counted() {
    for count in ["1e1", "10.0", "\"1e1\"", "\"10.0\"", "1.0e1"] {
        let body =
            format!(r#"{{"partialSuccess":{{"rejectedSpans":{count},"errorMessage":"too old"}}}}"#);
        let server = server(move |_| {
            Reply::Raw(with_body(
                head(
                    "200 OK",
                    &format!(
                        "content-type: application/json\r\ncontent-length: {}\r\n",
                        body.len()
                    ),
                ),
                body.as_bytes(),
            ))
        });
        let outcomes = export_times(&exporter(&server.url, Duration::from_secs(5)), 1);
        assert_eq!(
            outcomes,
            vec![ExportOutcome::PartialSuccess {
                rejected_spans: 10,
                message: "too old".into(),
            }],
            "{count}"
        );
    }
}

#[test]
fn a_close_delimited_body_is_read_and_the_next_export_reconnects() {
    let body = partial_success_body();
    let server = server(move |_| {
        Reply::RawThenClose(with_body(
            head("200 OK", "content-type: application/x-protobuf\r\n"),
            &body,
        ))
    });
    let outcomes = export_times(&exporter(&server.url, Duration::from_secs(5)), 3);
    assert_eq!(outcomes, vec![partial(), partial(), partial()]);
    assert_eq!(server.requests.load(Ordering::SeqCst), 3, "each sent once");
}

#[test]
fn connection_close_is_honoured_at_once() {
    let server = server(|_| {
        Reply::RawThenClose(head("200 OK", "content-length: 0\r\nconnection: close\r\n"))
    });
    let outcomes = export_times(&exporter(&server.url, Duration::from_secs(5)), 4);
    assert!(
        outcomes
            .iter()
            .all(|outcome| *outcome == ExportOutcome::Success),
        "{outcomes:?}"
    );
    assert_eq!(server.connections.load(Ordering::SeqCst), 4);
    assert_eq!(server.requests.load(Ordering::SeqCst), 4);
}

#[test]
fn an_informational_answer_before_the_status_is_skipped() {
    let server = server(|_| {
        let mut bytes = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
        bytes.extend(head("200 OK", "content-length: 0\r\n"));
        Reply::Raw(bytes)
    });
    let outcomes = export_times(&exporter(&server.url, Duration::from_secs(5)), 2);
    assert_eq!(
        outcomes,
        vec![ExportOutcome::Success, ExportOutcome::Success]
    );
}

#[test]
fn payload_too_large_is_permanent_even_when_answered_before_the_body() {
    for early in [false, true] {
        let answer = with_body(
            head(
                "413 Payload Too Large",
                "content-type: text/plain\r\ncontent-length: 9\r\n",
            ),
            b"too large",
        );
        let server = server(move |_| {
            if early {
                Reply::Early(answer.clone())
            } else {
                Reply::Raw(answer.clone())
            }
        });
        let outcomes = export_times(&exporter(&server.url, Duration::from_secs(5)), 1);
        assert_eq!(
            outcomes,
            vec![ExportOutcome::Permanent {
                error: ExportError::Server {
                    status: "HTTP 413 Payload Too Large".into(),
                    message: "too large".into(),
                }
            }],
            "early: {early}"
        );
    }
}

#[test]
fn a_bad_request_carries_its_status_message_or_its_text() {
    let status = RpcStatus {
        code: 3,
        message: "invalid span id".into(),
        retry_delay: None,
    }
    .encode();
    let answers = [
        (
            with_body(
                head(
                    "400 Bad Request",
                    &format!(
                        "content-type: application/x-protobuf\r\ncontent-length: {}\r\n",
                        status.len()
                    ),
                ),
                &status,
            ),
            "invalid span id",
        ),
        (
            with_body(
                head(
                    "400 Bad Request",
                    "content-type: text/plain; charset=utf-8\r\ncontent-length: 12\r\n",
                ),
                b"no such path",
            ),
            "no such path",
        ),
    ];
    for (answer, expected) in answers {
        let server = server(move |_| Reply::Raw(answer.clone()));
        let outcomes = export_times(&exporter(&server.url, Duration::from_secs(5)), 1);
        assert_eq!(
            outcomes,
            vec![ExportOutcome::Permanent {
                error: ExportError::Server {
                    status: "HTTP 400 Bad Request".into(),
                    message: expected.into(),
                }
            }]
        );
    }
}

/// A JSON `google.rpc.Status` need not have a `message` (proto3 JSON leaves
/// an empty string out): its `RetryInfo` is the throttle hint all the same,
/// as it is in a protobuf body.
#[test]
fn a_json_status_without_a_message_still_carries_its_retry_info() {
    let body = br#"{"code":8,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"3s"}]}"#;
    let answer = with_body(
        head(
            "429 Too Many Requests",
            &format!(
                "content-type: application/json\r\ncontent-length: {}\r\n",
                body.len()
            ),
        ),
        body,
    );
    let server = server(move |_| Reply::Raw(answer.clone()));
    let outcomes = export_times(&exporter(&server.url, Duration::from_secs(5)), 1);
    assert!(
        matches!(
            &outcomes[0],
            ExportOutcome::Retryable { error: ExportError::Server { status, .. }, throttle }
                if status == "HTTP 429 Too Many Requests"
                    && *throttle == Some(Duration::from_secs(3))
        ),
        "{outcomes:?}"
    );
}

/// A protobuf `google.rpc.Status` with one malformed detail (another
/// service's, garbled) next to a valid `RetryInfo`: the message and the
/// server's hint survive it. The whole body used to be refused, shown as
/// text, and the 503 retried after the policy's backoff, not the hint.
#[test]
fn a_malformed_detail_does_not_cost_the_status_its_retry_info() {
    let valid = RpcStatus {
        code: 14,
        message: "overloaded".into(),
        retry_delay: Some(Duration::from_secs(7)),
    }
    .encode();
    // An `Any` whose `type_url` is a varint.
    let mut malformed = Vec::new();
    put_bytes_field(&mut malformed, 3, &[0x08, 0x01]);
    let body = [&malformed[..], &valid].concat();
    let answer = with_body(
        head(
            "503 Service Unavailable",
            &format!(
                "content-type: application/x-protobuf\r\ncontent-length: {}\r\n",
                body.len()
            ),
        ),
        &body,
    );
    let server = server(move |_| Reply::Raw(answer.clone()));
    let outcomes = export_times(&exporter(&server.url, Duration::from_secs(5)), 1);
    assert_eq!(
        outcomes,
        vec![ExportOutcome::Retryable {
            error: ExportError::Server {
                status: "HTTP 503 Service Unavailable".into(),
                message: "overloaded".into(),
            },
            throttle: Some(Duration::from_secs(7)),
        }]
    );
}

#[test]
fn a_bodiless_5xx_is_retryable_however_it_ends() {
    for (answer, close) in [
        (
            head("503 Service Unavailable", "content-length: 0\r\n"),
            false,
        ),
        (head("502 Bad Gateway", "connection: close\r\n"), true),
        (head("504 Gateway Timeout", ""), true),
    ] {
        let server = server(move |_| {
            if close {
                Reply::RawThenClose(answer.clone())
            } else {
                Reply::Raw(answer.clone())
            }
        });
        let outcomes = export_times(&exporter(&server.url, Duration::from_secs(5)), 1);
        assert!(
            matches!(
                &outcomes[0],
                ExportOutcome::Retryable {
                    error: ExportError::Server { .. },
                    throttle: None
                }
            ),
            "{outcomes:?}"
        );
    }
}

#[test]
fn endless_headers_fail_the_attempt_quickly() {
    let server = server(|_| {
        Reply::Endless(
            b"HTTP/1.1 200 OK\r\n".to_vec(),
            b"x-filler: 0123456789abcdef0123456789abcdef\r\n".to_vec(),
        )
    });
    let started = Instant::now();
    let outcomes = export_times(&exporter(&server.url, Duration::from_secs(10)), 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(&outcomes[0], ExportOutcome::Retryable { .. }),
        "{outcomes:?}"
    );
}

#[test]
fn an_endless_success_body_is_over_the_cap_not_read_forever() {
    let mut chunk = b"4000\r\n".to_vec();
    chunk.extend(vec![b'x'; 0x4000]);
    chunk.extend(b"\r\n");
    let server = server(move |_| {
        Reply::Endless(
            head("200 OK", "transfer-encoding: chunked\r\n"),
            chunk.clone(),
        )
    });
    let started = Instant::now();
    let outcomes = export_times(&exporter(&server.url, Duration::from_secs(10)), 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            &outcomes[0],
            ExportOutcome::Permanent {
                error: ExportError::InvalidResponse(message)
            } if message.contains("cap")
        ),
        "{outcomes:?}"
    );
}

#[test]
fn a_silent_server_fails_the_attempt_at_its_timeout() {
    let server = server(|_| Reply::Silence);
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let outcomes = export_times(&exporter(&server.url, timeout), 1);
    let took = started.elapsed();
    assert!(took >= timeout && took < Duration::from_secs(3), "{took:?}");
    assert_eq!(
        outcomes,
        vec![ExportOutcome::Retryable {
            error: ExportError::Timeout {
                after: timeout,
                target: Some(format!("POST {}/v1/traces", server.url)),
            },
            throttle: None
        }]
    );
}

/// Under the pipeline's retry loop, whose attempt (300 ms: say
/// `OTEL_METRIC_EXPORT_TIMEOUT`, or the time left before a request's
/// deadline) ends before the exporter's own timeout (a minute), a silent
/// server's attempt ends at the pipeline's limit, and its error names that
/// limit. It named the exporter's timeout: "timed out after 60s" after
/// 300 ms, in the last error and the loss report, pointing at the wrong
/// setting.
#[test]
fn an_attempt_the_pipeline_cuts_short_reports_the_time_it_was_given() {
    let server = server(|_| Reply::Silence);
    let exporter = exporter(&server.url, Duration::from_secs(60));
    let request = encode(&rich_spans(2), Encoding::Protobuf);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut errors = Vec::new();
    let settled = runtime.block_on(otlp_sdk::RetryPolicy::disabled().send(
        &exporter,
        &request,
        Duration::from_millis(300),
        Instant::now() + Duration::from_secs(20),
        |event| {
            if let otlp_sdk::SendEvent::Error(message) = event {
                errors.push(message);
            }
        },
    ));
    assert_eq!((settled.exported, settled.failed), (0, 2), "{settled:?}");
    assert_eq!(
        errors,
        [format!(
            "export attempt timed out after 300ms: POST {}/v1/traces",
            server.url
        )]
    );
}

/// The message of `outcome`'s error, which must be a retryable timeout.
fn timeout_message(outcome: &ExportOutcome) -> String {
    match outcome {
        ExportOutcome::Retryable {
            error: error @ ExportError::Timeout { .. },
            ..
        } => error.to_string(),
        other => panic!("not a timeout: {other:?}"),
    }
}

/// A collector that takes the connection and never answers: the timeout
/// says where the request went, the URL without its user name and password,
/// for each signal, on the exporter's own connections (`http://`) and
/// through reqwest (`https://`, whose TLS handshake goes unanswered). It
/// said "export attempt timed out after 300ms" and nothing more, in the
/// pipeline's last error and its logs: nothing to tell which collector
/// hung, while a transport error names it.
#[test]
fn a_timeout_names_the_url_the_request_went_to() {
    let address = crate::support::hung_server();
    let certs = TestCertificates::generate().expect("test certificates");
    for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
        for scheme in ["http", "https"] {
            let mut builder = HttpExporter::builder()
                .endpoint(format!("{scheme}://otel:s3cr3t-pw@{address}"))
                .signal(signal)
                .timeout(Duration::from_millis(300));
            if scheme == "https" {
                builder = builder.ca_certificate_pem(&certs.ca_pem);
            }
            let exporter = builder.build().expect("exporter");
            let outcomes = export_times(&exporter, 1);
            let message = timeout_message(&outcomes[0]);
            assert!(
                message.starts_with("export attempt timed out after 300ms: ")
                    && message.ends_with(&format!(": POST {scheme}://{address}/v1/{signal}")),
                "{message}"
            );
            assert!(
                !message.contains("s3cr3t-pw") && !message.contains("otel"),
                "{message}"
            );
        }
    }
}

/// A redirect the plain connections got, to a server that never answers:
/// the timeout names the URL configured and the one the request that hung
/// went to.
#[test]
fn a_timeout_after_a_redirect_names_where_it_was_redirected() {
    let silent = format!("http://{}", crate::support::hung_server());
    let location = format!("{silent}/v1/elsewhere");
    let redirecting = server(move |_| {
        Reply::Raw(head(
            "307 Temporary Redirect",
            &format!("location: {location}\r\ncontent-length: 0\r\n"),
        ))
    });
    let outcomes = export_times(&exporter(&redirecting.url, Duration::from_millis(300)), 1);
    let message = timeout_message(&outcomes[0]);
    assert!(
        message.ends_with(&format!(
            ": POST {}/v1/traces, redirected to {silent}/v1/elsewhere",
            redirecting.url
        )),
        "{message}"
    );
}

#[test]
fn a_hangup_without_an_answer_is_retryable() {
    let server = server(|_| Reply::Hangup);
    let outcomes = export_times(&exporter(&server.url, Duration::from_secs(5)), 1);
    assert!(
        matches!(
            &outcomes[0],
            ExportOutcome::Retryable {
                error: ExportError::Transport(_),
                throttle: None
            }
        ),
        "{outcomes:?}"
    );
}

/// The server answers, then closes the kept-alive connection at once, without
/// saying so (an idle timeout of zero): no export may fail for good.
#[test]
fn a_server_closing_kept_alive_connections_at_once_fails_nothing_for_good() {
    let server = server(|_| Reply::RawThenClose(head("200 OK", "content-length: 0\r\n")));
    let outcomes = export_times(&exporter(&server.url, Duration::from_secs(5)), 20);
    let permanent: Vec<_> = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, ExportOutcome::Permanent { .. }))
        .collect();
    assert!(permanent.is_empty(), "{permanent:?}");
}

/// A server (or a load balancer) that closes kept-alive connections once
/// idle: the export after the idle time goes out on a new connection and
/// succeeds at its first attempt, nothing sent twice.
#[test]
fn a_connection_closed_while_idle_costs_the_next_export_nothing() {
    let server = server(|_| Reply::RawThenCloseIdle(head("200 OK", "content-length: 0\r\n")));
    let exporter = exporter(&server.url, Duration::from_secs(5));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let seen_before = SEEN_CLOSED.load(Ordering::SeqCst);
    runtime.block_on(async {
        for round in 1..=3 {
            let outcome = exporter
                .export(encode(&rich_spans(2), Encoding::Protobuf))
                .await;
            assert_eq!(outcome, ExportOutcome::Success, "export {round}");
            // The server closed the idle connection, and the client saw it go.
            while SEEN_CLOSED.load(Ordering::SeqCst) < seen_before + round {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Exporter::shutdown(&exporter).await;
    });
    assert_eq!(server.connections.load(Ordering::SeqCst), WARM);
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        3,
        "nothing sent twice"
    );
}

/// Some proxies and servers write a `408` on a kept-alive connection they
/// time out, then close it: that answer belongs to no request of ours.
#[test]
fn an_unsolicited_408_on_an_idle_connection_fails_nothing() {
    let server = server(|_| {
        let mut bytes = head("200 OK", "content-length: 0\r\n");
        bytes.extend(head(
            "408 Request Timeout",
            "content-length: 0\r\nconnection: close\r\n",
        ));
        Reply::RawThenClose(bytes)
    });
    let outcomes = export_times(&exporter(&server.url, Duration::from_secs(5)), 10);
    assert!(
        outcomes
            .iter()
            .all(|outcome| *outcome == ExportOutcome::Success),
        "{outcomes:?}"
    );
}

#[test]
fn a_redirect_loop_ends_permanently() {
    let server = server(|_| {
        Reply::Raw(head(
            "307 Temporary Redirect",
            "location: /v1/traces\r\ncontent-length: 0\r\n",
        ))
    });
    let started = Instant::now();
    let outcomes = export_times(&exporter(&server.url, Duration::from_secs(5)), 1);
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(
        matches!(&outcomes[0], ExportOutcome::Permanent { .. }),
        "{outcomes:?}"
    );
}

/// The status decides, even when the body after it never arrives: a `400`
/// is never retried (the data is bad) and a `200` delivered the records
/// (sending them again would deliver them twice).
#[test]
fn a_status_whose_body_stalls_is_the_outcome_not_a_timeout() {
    let timeout = Duration::from_millis(300);
    let stalled = |status: &str| {
        // Two bytes of the hundred announced, then nothing (the connection stays open).
        Reply::Raw(with_body(
            head(
                status,
                "content-type: application/x-protobuf\r\ncontent-length: 100\r\n",
            ),
            b"\x0a\x02",
        ))
    };
    let bad_request = server(move |_| stalled("400 Bad Request"));
    let outcomes = export_times(&exporter(&bad_request.url, timeout), 1);
    assert!(
        matches!(
            &outcomes[0],
            ExportOutcome::Permanent { error: ExportError::Server { status, message } }
                if status == "HTTP 400 Bad Request" && message.contains("time")
        ),
        "{outcomes:?}"
    );
    let ok = server(move |_| stalled("200 OK"));
    let outcomes = export_times(&exporter(&ok.url, timeout), 1);
    assert!(
        matches!(
            &outcomes[0],
            ExportOutcome::PartialSuccess { rejected_spans: 0, message } if message.contains("time")
        ),
        "{outcomes:?}"
    );
    assert_eq!(ok.requests.load(Ordering::SeqCst), 1);
    // The same through reqwest, which a redirect from the plain path takes
    // (its own timeout, as long, may be the one that ends the body).
    let redirected = server(move |n| {
        if n == 0 {
            Reply::Raw(head(
                "307 Temporary Redirect",
                "location: /v1/traces\r\ncontent-length: 0\r\n",
            ))
        } else {
            stalled("400 Bad Request")
        }
    });
    let outcomes = export_times(&exporter(&redirected.url, timeout), 1);
    assert!(
        matches!(
            &outcomes[0],
            ExportOutcome::Permanent { error: ExportError::Server { status, message } }
                if status == "HTTP 400 Bad Request" && message.contains("time")
        ),
        "{outcomes:?}"
    );
}

/// The same under the pipeline's retry loop, whose attempt ends before the
/// exporter's own timeout (its attempt timeout is shorter, or the request's
/// deadline is near): the status that arrived still decides when the body
/// stalls past the attempt's end. A `400` is not retried and a `200`
/// delivered the records, once; neither is an attempt that timed out, to be
/// sent again. On both paths: the exporter's own HTTP/1.1 connections, and
/// reqwest, which a `307` from them takes the request through (reqwest's own
/// timeout is the exporter's minute: only the attempt's deadline can end
/// the body in time).
#[test]
fn a_status_whose_body_stalls_past_the_pipelines_attempt_deadline_is_the_outcome() {
    fn stalled(status: &'static str) -> Reply {
        Reply::Raw(with_body(
            head(
                status,
                "content-type: application/x-protobuf\r\ncontent-length: 100\r\n",
            ),
            b"\x0a\x02",
        ))
    }
    let retry = crate::support::quick_retry();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    for redirected in [false, true] {
        for (status, delivered) in [("400 Bad Request", false), ("200 OK", true)] {
            let server = server(move |n| {
                if redirected && n == 0 {
                    Reply::Raw(head(
                        "307 Temporary Redirect",
                        "location: /v1/traces\r\ncontent-length: 0\r\n",
                    ))
                } else {
                    stalled(status)
                }
            });
            // The exporter would wait a minute; the pipeline's attempt, 2 s.
            let exporter = exporter(&server.url, Duration::from_secs(60));
            let request = encode(&rich_spans(2), Encoding::Protobuf);
            let mut errors = Vec::new();
            let settled = runtime.block_on(retry.send(
                &exporter,
                &request,
                Duration::from_secs(2),
                Instant::now() + Duration::from_secs(20),
                |event| {
                    if let otlp_sdk::SendEvent::Error(error) = event {
                        errors.push(error);
                    }
                },
            ));
            let expected = if delivered { (2, 0) } else { (0, 2) };
            assert_eq!(
                (settled.exported, settled.failed, settled.retries),
                (expected.0, expected.1, 0),
                "{status}, redirected {redirected}: {settled:?} {errors:?}"
            );
            assert!(
                errors
                    .iter()
                    .all(|error| !error.contains("timed out") && error.contains("time")),
                "the status decided, the body's stall said: {status}, redirected {redirected}: {errors:?}"
            );
            assert_eq!(
                server.requests.load(Ordering::SeqCst),
                1 + usize::from(redirected),
                "{status}, redirected {redirected}"
            );
        }
    }
}

/// A `200` whose body is cut short (a `Content-Length` of 100, two bytes,
/// then the server closes) or does not decode as an export response: the
/// status line said the collector accepted the records, so they count as
/// exported (sending them again would deliver them twice, and the OTLP
/// specification makes the body only the carrier of `partial_success`).
/// What went wrong with the body is not hidden: the pipeline's
/// `last_error` says it, nothing is retried, failed or rejected, and the
/// shutdown returns within its deadline.
#[test]
fn a_success_whose_body_is_cut_short_or_garbled_counts_as_exported_with_the_reason_shown() {
    let answers = [
        (
            Reply::RawThenClose(with_body(
                head(
                    "200 OK",
                    "content-type: application/x-protobuf\r\ncontent-length: 100\r\n",
                ),
                b"\x0a\x02",
            )),
            "could not be read",
        ),
        (
            // Field 1 (`partial_success`), length-delimited, 5 bytes announced, 1 present.
            Reply::Raw(with_body(
                head(
                    "200 OK",
                    "content-type: application/x-protobuf\r\ncontent-length: 3\r\n",
                ),
                b"\x0a\x05\x08",
            )),
            "could not be decoded",
        ),
    ];
    for (answer, reason) in answers {
        let server = server(move |_| answer.clone());
        let processor = crate::support::pipeline(
            exporter(&server.url, Duration::from_secs(5)),
            Duration::from_secs(10),
        );
        crate::support::send_batch(&processor, rich_spans(3)).expect("flush");
        let stats = crate::support::finish(&processor);
        assert_eq!(
            (stats.exported, stats.failed, stats.rejected, stats.retries),
            (3, 0, 0, 0),
            "{reason}: {stats:#?}"
        );
        let last_error = stats.last_error.unwrap_or_default();
        assert!(
            last_error.contains(reason) && last_error.contains("accepted"),
            "{reason}: {last_error}"
        );
        assert_eq!(server.requests.load(Ordering::SeqCst), 1, "{reason}");
    }
}

#[test]
fn a_truncated_success_body_is_a_warning() {
    let server = server(|_| {
        Reply::RawThenClose(with_body(
            head(
                "200 OK",
                "content-type: application/x-protobuf\r\ncontent-length: 100\r\n",
            ),
            b"\x0a\x02",
        ))
    });
    let outcomes = export_times(&exporter(&server.url, Duration::from_secs(5)), 1);
    assert!(
        matches!(
            &outcomes[0],
            ExportOutcome::PartialSuccess {
                rejected_spans: 0,
                ..
            }
        ),
        "{outcomes:?}"
    );
}

/// A server whose connections opened before [`BlackHole::start`] take
/// requests and never answer again (a collector gone without a word, a NAT
/// or load balancer that dropped their state); new connections are answered.
/// The first requests of its first [`WARM`] connections are answered once
/// all of them are in: the client holds that many connections.
struct BlackHole {
    url: String,
    connections: Arc<AtomicUsize>,
    /// Connections numbered below this one are silent.
    silent_below: Arc<AtomicUsize>,
}

/// Connections the client opens before [`BlackHole::start`].
const WARM: usize = 3;

impl BlackHole {
    fn serve() -> BlackHole {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let connections = Arc::new(AtomicUsize::new(0));
        let silent_below = Arc::new(AtomicUsize::new(0));
        let (accepted, silent) = (connections.clone(), silent_below.clone());
        let warm = Arc::new(std::sync::Barrier::new(WARM));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let number = accepted.fetch_add(1, Ordering::SeqCst);
                let (silent, warm) = (silent.clone(), warm.clone());
                std::thread::spawn(move || {
                    let mut first = number < WARM;
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut writer = stream;
                    while let Some(length) = crate::support::read_request_head(&mut reader) {
                        let mut body = vec![0; length];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        if std::mem::take(&mut first) {
                            warm.wait();
                        }
                        if number < silent.load(Ordering::SeqCst) {
                            // Silent until the client gives the connection up.
                            let _ = reader.read_to_end(&mut Vec::new());
                            return;
                        }
                        if writer
                            .write_all(&head("200 OK", "content-length: 0\r\n"))
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        BlackHole {
            url,
            connections,
            silent_below,
        }
    }

    /// From now on, every connection opened so far is silent.
    fn start(&self) {
        self.silent_below
            .store(self.connections.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// After an attempt that went unanswered, the next export goes out on a
/// new connection, not on another kept-alive connection to the same peer
/// that stopped answering too (each would cost an attempt its timeout, and
/// with a few of them the request its retries). Whether the attempt ended
/// by the exporter's timeout or was dropped by its caller (the pipeline's
/// attempt timeout).
#[test]
fn after_an_unanswered_attempt_no_idle_connection_to_the_silent_peer_is_used() {
    const SHORT: Duration = Duration::from_millis(300);
    for dropped_by_the_caller in [false, true] {
        let server = BlackHole::serve();
        let timeout = if dropped_by_the_caller {
            Duration::from_secs(30)
        } else {
            SHORT
        };
        let exporter = exporter(&server.url, timeout);
        let timed_out = ExportOutcome::Retryable {
            error: ExportError::Timeout {
                after: SHORT,
                target: Some(format!("POST {}/v1/traces", server.url)),
            },
            throttle: None,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let outcomes = runtime.block_on(async {
            let export = || exporter.export(encode(&rich_spans(2), Encoding::Protobuf));
            // Three exports at once, each answered once all are in: three
            // kept-alive connections.
            let warm = tokio::join!(export(), export(), export());
            assert_eq!(
                [warm.0, warm.1, warm.2],
                [
                    ExportOutcome::Success,
                    ExportOutcome::Success,
                    ExportOutcome::Success
                ]
            );
            assert_eq!(server.connections.load(Ordering::SeqCst), WARM);
            server.start();
            let mut outcomes = Vec::new();
            for _ in 0..3 {
                outcomes.push(if dropped_by_the_caller {
                    tokio::time::timeout(SHORT, export())
                        .await
                        .unwrap_or(timed_out.clone())
                } else {
                    export().await
                });
            }
            Exporter::shutdown(&exporter).await;
            outcomes
        });
        assert_eq!(
            outcomes,
            vec![
                timed_out.clone(),
                ExportOutcome::Success,
                ExportOutcome::Success,
            ],
            "dropped by the caller: {dropped_by_the_caller}"
        );
        assert_eq!(
            server.connections.load(Ordering::SeqCst),
            4,
            "one new connection, then kept"
        );
    }
}
