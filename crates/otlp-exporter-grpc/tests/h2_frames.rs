//! HTTP/2 behaviour of servers and proxies in front of collectors, written
//! frame by frame on loopback: streams refused with `RST_STREAM`
//! (`REFUSED_STREAM`), `GOAWAY` before a stream is taken or after an answer
//! (a server draining, `MaxConnectionAge`), a server that accepts the
//! connection but never speaks, and one that sends its answer's headers and
//! then stalls.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use otlp_exporter_grpc::GrpcExporter;
use otlp_sdk::{ExportError, ExportOutcome, Exporter};
use support::rich_spans;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server does with the `n`th request stream (from 0, over all connections).
#[derive(Clone, Copy, Debug)]
enum Act {
    /// Answers gRPC OK with an empty response message.
    Answer,
    /// `RST_STREAM` `REFUSED_STREAM` as soon as the request headers arrive.
    Refuse,
    /// `GOAWAY` (last stream 0, `NO_ERROR`) as soon as the request headers
    /// arrive; the connection stays open a while, then closes.
    GoAwayBefore,
    /// Answers OK, then `GOAWAY` (this stream the last, `NO_ERROR`), and
    /// closes the connection a little later.
    AnswerThenGoAway,
    /// Never answers (the stream stays open).
    Ignore,
    /// Answers OK, then closes the connection once idle, without `GOAWAY`
    /// (a load balancer's idle timeout): a FIN, then waits for the client's.
    AnswerThenCloseIdle,
    /// As grpc-go's `MaxConnectionAge` drains a connection with a request in
    /// flight: `GOAWAY` (last stream 2^31-1, `NO_ERROR`), a `PING`, `GOAWAY`
    /// naming this stream the last, then its answer; then closes the
    /// connection once the client closes its end.
    DrainThenAnswer,
    /// Resets the connection (`SO_LINGER` 0, so an RST) as soon as the
    /// request headers arrive.
    Reset,
    /// Sends the answer's headers (`200`, `application/grpc`), then nothing
    /// more: no response message, no trailers (the stream stays open).
    StallAfterHeaders,
    /// Sends the answer's headers and its (empty) response message, then
    /// nothing more: the trailers with `grpc-status` never come.
    StallBeforeTrailers,
}

struct Server {
    url: String,
    connections: Arc<AtomicUsize>,
    streams: Arc<AtomicUsize>,
}

/// Connections the server closed (`AnswerThenCloseIdle`) whose client
/// closed its end too: the client has seen them go.
static SEEN_CLOSED: AtomicUsize = AtomicUsize::new(0);

/// A server acting `act(n)` on the `n`th request; its first `silent`
/// connections are accepted and never written a byte (`usize::MAX`: all).
async fn server(act: fn(usize) -> Act, silent: usize) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let connections = Arc::new(AtomicUsize::new(0));
    let streams = Arc::new(AtomicUsize::new(0));
    let (accepted, counted) = (connections.clone(), streams.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let n = accepted.fetch_add(1, Ordering::SeqCst);
            let counted = counted.clone();
            tokio::spawn(async move {
                if n < silent {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    drop(stream);
                } else {
                    let _ = serve(stream, act, &counted).await;
                }
            });
        }
    });
    Server {
        url,
        connections,
        streams,
    }
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).expect("fits").to_be_bytes();
    let mut frame = vec![length[1], length[2], length[3], kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const END_STREAM: u8 = 1;
const END_HEADERS: u8 = 4;
const ACK: u8 = 1;
const REFUSED_STREAM: u32 = 7;

fn go_away(last_stream: u32) -> Vec<u8> {
    let mut payload = last_stream.to_be_bytes().to_vec();
    payload.extend_from_slice(&0u32.to_be_bytes());
    frame(GOAWAY, 0, 0, &payload)
}

/// `:status: 200`, `content-type: application/grpc`: the headers of a gRPC
/// answer, before its message. HPACK without indexing or Huffman.
fn answer_headers(stream: u32) -> Vec<u8> {
    let mut head = vec![0x88, 0x0f, 0x10, 16];
    head.extend_from_slice(b"application/grpc");
    frame(HEADERS, END_HEADERS, stream, &head)
}

/// The headers of a gRPC answer and its empty message, without trailers.
fn answer_without_trailers(stream: u32) -> Vec<u8> {
    let mut bytes = answer_headers(stream);
    bytes.extend(frame(DATA, 0, stream, &[0, 0, 0, 0, 0]));
    bytes
}

/// `:status: 200`, `content-type: application/grpc`; an empty message;
/// trailers `grpc-status: 0`.
fn ok_answer(stream: u32) -> Vec<u8> {
    let mut trailers = vec![0x00, 11];
    trailers.extend_from_slice(b"grpc-status");
    trailers.extend_from_slice(&[1, b'0']);
    let mut bytes = answer_without_trailers(stream);
    bytes.extend(frame(HEADERS, END_HEADERS | END_STREAM, stream, &trailers));
    bytes
}

async fn serve(
    mut stream: TcpStream,
    act: fn(usize) -> Act,
    streams: &AtomicUsize,
) -> std::io::Result<()> {
    let mut preface = [0u8; 24];
    stream.read_exact(&mut preface).await?;
    stream.write_all(&frame(SETTINGS, 0, 0, &[])).await?;
    let mut acts = std::collections::HashMap::new();
    loop {
        let mut header = [0u8; 9];
        stream.read_exact(&mut header).await?;
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let (kind, flags) = (header[3], header[4]);
        let id = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; length];
        stream.read_exact(&mut payload).await?;
        match kind {
            SETTINGS if flags & ACK == 0 => stream.write_all(&frame(SETTINGS, ACK, 0, &[])).await?,
            PING if flags & ACK == 0 => stream.write_all(&frame(PING, ACK, 0, &payload)).await?,
            GOAWAY => return Ok(()),
            HEADERS => {
                let act = act(streams.fetch_add(1, Ordering::SeqCst));
                match act {
                    Act::Refuse => {
                        stream
                            .write_all(&frame(RST_STREAM, 0, id, &REFUSED_STREAM.to_be_bytes()))
                            .await?;
                    }
                    Act::Reset => {
                        stream.set_zero_linger()?;
                        return Ok(());
                    }
                    Act::GoAwayBefore => {
                        stream.write_all(&go_away(0)).await?;
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        return Ok(());
                    }
                    _ => {
                        acts.insert(id, act);
                    }
                }
            }
            DATA if flags & END_STREAM != 0 => match acts.remove(&id) {
                Some(Act::Answer) => stream.write_all(&ok_answer(id)).await?,
                Some(Act::StallAfterHeaders) => stream.write_all(&answer_headers(id)).await?,
                Some(Act::StallBeforeTrailers) => {
                    stream.write_all(&answer_without_trailers(id)).await?;
                }
                Some(Act::AnswerThenGoAway) => {
                    stream.write_all(&ok_answer(id)).await?;
                    stream.write_all(&go_away(id)).await?;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    return Ok(());
                }
                Some(Act::DrainThenAnswer) => {
                    stream.write_all(&go_away(0x7fff_ffff)).await?;
                    stream.write_all(&frame(PING, 0, 0, &[1; 8])).await?;
                    stream.write_all(&go_away(id)).await?;
                    stream.write_all(&ok_answer(id)).await?;
                    stream.shutdown().await?;
                    let mut rest = Vec::new();
                    let _ = stream.read_to_end(&mut rest).await;
                    return Ok(());
                }
                Some(Act::AnswerThenCloseIdle) => {
                    stream.write_all(&ok_answer(id)).await?;
                    stream.shutdown().await?;
                    let mut rest = Vec::new();
                    let _ = stream.read_to_end(&mut rest).await;
                    SEEN_CLOSED.fetch_add(1, Ordering::SeqCst);
                    return Ok(());
                }
                _ => {}
            },
            _ => {}
        }
    }
}

fn exporter(url: &str, timeout: Duration) -> GrpcExporter {
    GrpcExporter::builder()
        .endpoint(url)
        .timeout(timeout)
        .build()
        .expect("exporter")
}

/// `times` exports one after the other on one runtime, against a server
/// acting `act`; the outcomes and the server's counts.
fn export_times(
    act: fn(usize) -> Act,
    silent: usize,
    timeout: Duration,
    times: usize,
) -> (Vec<ExportOutcome>, usize, usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let server = server(act, silent).await;
        let exporter = exporter(&server.url, timeout);
        let mut outcomes = Vec::new();
        for _ in 0..times {
            outcomes.push(exporter.export(support::request(&rich_spans(2))).await);
        }
        exporter.shutdown().await;
        (
            outcomes,
            server.connections.load(Ordering::SeqCst),
            server.streams.load(Ordering::SeqCst),
        )
    })
}

/// Whether `outcome` is a retryable timeout after `after`, naming the
/// traces method.
fn is_timeout_after(outcome: &ExportOutcome, after: Duration) -> bool {
    matches!(
        outcome,
        ExportOutcome::Retryable {
            error: ExportError::Timeout { after: took, target: Some(target) },
            throttle: None
        } if *took == after && target.ends_with(otlp_exporter_grpc::TRACE_EXPORT_PATH)
    )
}

fn is_retryable_transport(outcome: &ExportOutcome) -> bool {
    matches!(
        outcome,
        ExportOutcome::Retryable {
            error: ExportError::Transport(_),
            throttle: None
        }
    )
}

#[test]
fn the_frame_server_answers() {
    let (outcomes, connections, _) = export_times(|_| Act::Answer, 0, Duration::from_secs(5), 3);
    assert_eq!(outcomes, vec![ExportOutcome::Success; 3]);
    assert_eq!(connections, 1);
}

/// A stream the server refused (`RST_STREAM` `REFUSED_STREAM`: it did no
/// work on it) is sent again at once: the export succeeds without waiting
/// for the pipeline's backoff.
#[test]
fn a_refused_stream_is_sent_again_at_once() {
    let (outcomes, connections, streams) = export_times(
        |n| if n == 0 { Act::Refuse } else { Act::Answer },
        0,
        Duration::from_secs(5),
        2,
    );
    assert_eq!(outcomes, vec![ExportOutcome::Success; 2]);
    assert_eq!(
        connections, 1,
        "a refused stream leaves the connection usable"
    );
    assert_eq!(streams, 3);
}

/// Refused every time: two resends at once, then the pipeline's retry decides.
#[test]
fn a_stream_refused_again_is_retryable() {
    let (outcomes, _, streams) = export_times(|_| Act::Refuse, 0, Duration::from_secs(5), 1);
    assert!(is_retryable_transport(&outcomes[0]), "{outcomes:?}");
    assert_eq!(streams, 3, "sent twice more at once, not more");
}

/// `GOAWAY` before the stream (a server draining): the request was not
/// taken, and it goes again at once on a new connection.
#[test]
fn goaway_before_the_stream_sends_it_again_on_a_new_connection() {
    let (outcomes, connections, _) = export_times(
        |n| {
            if n == 0 {
                Act::GoAwayBefore
            } else {
                Act::Answer
            }
        },
        0,
        Duration::from_secs(5),
        4,
    );
    assert_eq!(outcomes, vec![ExportOutcome::Success; 4]);
    assert_eq!(connections, 2);
}

/// A server that ends every connection after one answer (`MaxConnectionAge`
/// at its extreme): the next request, handed to the closing connection,
/// goes again at once on a new one; no export waits for a retry.
#[test]
fn goaway_after_each_answer_costs_no_retry() {
    let (outcomes, connections, _) =
        export_times(|_| Act::AnswerThenGoAway, 0, Duration::from_secs(5), 5);
    assert_eq!(outcomes, vec![ExportOutcome::Success; 5]);
    assert!(connections >= 5, "{connections}");
}

#[test]
fn a_stream_never_answered_times_out() {
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let (outcomes, _, _) = export_times(|_| Act::Ignore, 0, timeout, 1);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        outcomes.len() == 1 && is_timeout_after(&outcomes[0], timeout),
        "{outcomes:?}"
    );
}

#[test]
fn a_server_that_never_speaks_times_out() {
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let (outcomes, connections, _) = export_times(|_| Act::Answer, usize::MAX, timeout, 1);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(connections, 1);
    assert!(
        matches!(&outcomes[0], ExportOutcome::Retryable { .. }),
        "{outcomes:?}"
    );
}

/// A connection that stopped answering (a collector gone without a word, a
/// load balancer black-holing it) is not kept: the export after a timed-out
/// attempt goes out on a new connection instead of waiting on the dead one
/// until the kernel gives up on it, minutes later.
#[test]
fn after_a_timed_out_attempt_the_next_export_reconnects() {
    // Each export after the first connects anew within it, also on a loaded
    // machine (300 ms could end before the connection and its answer).
    let timeout = Duration::from_secs(2);
    let (outcomes, connections, _) = export_times(|_| Act::Answer, 1, timeout, 3);
    assert!(is_timeout_after(&outcomes[0], timeout), "{outcomes:?}");
    assert_eq!(
        outcomes[1..],
        [ExportOutcome::Success, ExportOutcome::Success],
        "{outcomes:?}"
    );
    assert_eq!(connections, 2, "one new connection, then kept");
}

/// A connection the server (or a load balancer) closed while idle, with a
/// plain FIN and no `GOAWAY`: the next export goes out on a new connection
/// and succeeds at its first attempt, no failure counted.
#[test]
fn a_connection_closed_while_idle_costs_the_next_export_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let server = server(|_| Act::AnswerThenCloseIdle, 0).await;
        let exporter = exporter(&server.url, Duration::from_secs(5));
        let seen_before = SEEN_CLOSED.load(Ordering::SeqCst);
        for round in 1..=3 {
            let outcome = exporter.export(support::request(&rich_spans(2))).await;
            assert_eq!(outcome, ExportOutcome::Success, "export {round}");
            // The server closed the idle connection, and the client saw it go.
            while SEEN_CLOSED.load(Ordering::SeqCst) < seen_before + round {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        assert_eq!(server.connections.load(Ordering::SeqCst), 3);
        assert_eq!(
            server.streams.load(Ordering::SeqCst),
            3,
            "nothing sent twice"
        );
        exporter.shutdown().await;
    });
}

/// A connection reset (RST) once the request is on its way: the server may
/// have read it, so it is not sent again at once; the attempt is retryable
/// (the pipeline's retry sends it again), and the next export reconnects.
#[test]
fn a_reset_mid_request_is_retryable_and_the_next_export_reconnects() {
    let (outcomes, connections, streams) = export_times(
        |n| if n == 0 { Act::Reset } else { Act::Answer },
        0,
        Duration::from_secs(5),
        2,
    );
    assert!(is_retryable_transport(&outcomes[0]), "{outcomes:?}");
    assert_eq!(outcomes[1], ExportOutcome::Success);
    assert_eq!((connections, streams), (2, 2));
}

/// grpc-go's `MaxConnectionAge` (and its grace): a graceful `GOAWAY` while a
/// request is in flight; that request is answered on the draining
/// connection, and the next one goes out on a new connection, each once.
#[test]
fn a_request_in_flight_through_a_graceful_goaway_is_answered_once() {
    let (outcomes, connections, streams) =
        export_times(|_| Act::DrainThenAnswer, 0, Duration::from_secs(5), 4);
    assert_eq!(outcomes, vec![ExportOutcome::Success; 4]);
    assert_eq!(streams, 4, "no request sent twice");
    assert_eq!(connections, 4);
}

/// A runtime for a frame server that the test's pipeline (which runs on a
/// runtime of its own) exports to: it serves while the test holds it.
fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The traces method at `url`: what a timeout of an attempt sent there names.
fn target_of(url: &str) -> String {
    format!("{url}{}", otlp_exporter_grpc::TRACE_EXPORT_PATH)
}

/// A server that sends an answer's headers and then stalls (before the
/// response message, or before the trailers with the `grpc-status`), under
/// the pipeline's retry loop whose attempt (300 ms: a request's deadline
/// near, `OTEL_BSP_EXPORT_TIMEOUT` shorter than the exporter's timeout, a
/// flush's) ends before the exporter's own timeout (a minute): the attempt
/// ends at the pipeline's limit as a timeout the exporter reports, naming
/// the endpoint and method. Found in review (read, then reproduced here):
/// only the headers were bounded by the attempt's end (its `grpc-timeout`);
/// the exporter's own bound on the whole attempt was its timeout, so the
/// retry loop's backstop cut the attempt, and its timeout named no endpoint
/// ("export attempt timed out after 300ms", nothing to tell which collector
/// stalled).
#[test]
fn an_answer_that_stalls_after_its_headers_ends_at_the_pipelines_attempt_deadline_naming_the_endpoint()
 {
    for act in [(|_| Act::StallAfterHeaders) as fn(usize) -> Act, |_| {
        Act::StallBeforeTrailers
    }] {
        let runtime = server_runtime();
        let (errors, target) = runtime.block_on(async {
            let server = server(act, 0).await;
            let exporter = exporter(&server.url, Duration::from_secs(60));
            let mut errors = Vec::new();
            let settled = otlp_sdk::RetryPolicy::disabled()
                .send(
                    &exporter,
                    &support::request(&rich_spans(2)),
                    Duration::from_millis(300),
                    Instant::now() + Duration::from_secs(20),
                    |event| {
                        if let otlp_sdk::SendEvent::Error(message) = event {
                            errors.push(message);
                        }
                    },
                )
                .await;
            assert_eq!(
                (settled.exported, settled.failed),
                (0, 2),
                "{:?}: {settled:?}",
                act(0)
            );
            assert_eq!(server.streams.load(Ordering::SeqCst), 1, "{:?}", act(0));
            (errors, target_of(&server.url))
        });
        assert_eq!(
            errors,
            [format!("export attempt timed out after 300ms: {target}")],
            "{:?}",
            act(0)
        );
    }
}

/// The same through a `BatchSpanProcessor` whose export timeout (a
/// batch's whole time, `OTEL_BSP_EXPORT_TIMEOUT`: 300 ms) is shorter than
/// the exporter's timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`: a minute): the
/// flush returns once the batch failed at its deadline, the last error names
/// the endpoint; and a shutdown with an attempt stalled in flight returns by
/// its deadline.
#[test]
fn a_flush_and_a_shutdown_return_by_their_deadlines_while_an_answer_stalls_after_its_headers() {
    let runtime = server_runtime();
    let server = runtime.block_on(server(|_| Act::StallAfterHeaders, 0));
    let processor = support::pipeline_with(
        exporter(&server.url, Duration::from_secs(60)),
        Duration::from_millis(300),
        otlp_sdk::RetryPolicy::disabled(),
    );
    for span in rich_spans(2) {
        otlp_sdk::SpanProcessor::on_end(&processor, span);
    }
    // Returns (generously before the exporter's minute) with the batch failed.
    let flushed = otlp_sdk::SpanProcessor::force_flush(&processor, Duration::from_secs(20));
    assert!(
        matches!(
            flushed,
            Err(otlp_sdk::PipelineError::Undelivered { failed: 2, .. })
        ),
        "{flushed:?}"
    );
    let stats = processor.stats();
    assert_eq!((stats.exported, stats.failed), (0, 2), "{stats:?}");
    let last_error = stats.last_error.unwrap_or_default();
    assert_eq!(
        last_error,
        format!(
            "export attempt timed out after 300ms: {}",
            target_of(&server.url)
        )
    );

    // A batch whose attempt stalls in flight (its deadline, a minute away):
    // the shutdown returns by its own deadline, the batch pending or failed.
    let processor = support::pipeline_with(
        exporter(&server.url, Duration::from_secs(60)),
        Duration::from_secs(60),
        otlp_sdk::RetryPolicy::disabled(),
    );
    let streams = server.streams.load(Ordering::SeqCst);
    otlp_sdk::SpanProcessor::on_end(&processor, rich_spans(1).remove(0));
    let _ = otlp_sdk::SpanProcessor::force_flush(&processor, Duration::from_millis(50));
    assert!(support::eventually(Duration::from_secs(20), || server
        .streams
        .load(Ordering::SeqCst)
        > streams));
    let deadline = Duration::from_millis(500);
    let started = Instant::now();
    let shut = otlp_sdk::SpanProcessor::shutdown(&processor, deadline);
    let took = started.elapsed();
    assert!(
        matches!(
            shut,
            Err(otlp_sdk::PipelineError::Timeout { pending: 1, .. })
                | Err(otlp_sdk::PipelineError::Undelivered { failed: 1, .. })
        ),
        "{shut:?}"
    );
    // Generous: the point is that it returns, not before the exporter's minute.
    assert!(took < Duration::from_secs(30), "shutdown took {took:?}");
}
