//! `otlp-receiver`: the embeddable receiver of `otlp-contrib` as a local
//! debugging and benchmarking tool. See `otlp-receiver --help` (or [`args::Args`]).

/// `eprintln!` that does not panic: a stderr whose reader went away loses
/// the line, not the run.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod args;
#[path = "../support/option_values.rs"]
mod option_values;

use std::error::Error;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use otlp_contrib::receiver::{
    Fault, ReceivedRequest, Receiver, ReceiverConfig, ReceiverError, ReceiverStats, ReceiverTls,
    RequestObserver, Signal, Store, Transport, render_logs, render_metrics, render_traces,
};

/// The exit status of a run that ended as asked but lost `--jsonl` lines
/// (0 ended cleanly, 1 could not start, 2 bad usage).
const LOST_JSONL_LINES: u8 = 3;

fn main() -> ExitCode {
    // `--help` and `--version` exit 0 here, bad usage 2 with clap's message.
    let args = args::Args::from_command_line();
    match run(args) {
        Ok(Outcome {
            lost_jsonl_lines: 0,
        }) => ExitCode::SUCCESS,
        Ok(Outcome { lost_jsonl_lines }) => {
            note!(
                "otlp-receiver: {lost_jsonl_lines} request(s) could not be appended to the JSONL file"
            );
            ExitCode::from(LOST_JSONL_LINES)
        }
        Err(error) => {
            note!("otlp-receiver: {error}");
            ExitCode::FAILURE
        }
    }
}

/// How a run that started ended.
struct Outcome {
    /// Requests that could not be appended to the `--jsonl` file.
    lost_jsonl_lines: u64,
}

/// The `--jsonl` file and the count of requests that could not be appended
/// to it (a write or flush that failed, a request that could not be
/// transcoded).
struct JsonlFile {
    file: Mutex<File>,
    lost_lines: AtomicU64,
}

fn run(args: args::Args) -> Result<Outcome, Box<dyn Error>> {
    // Each start failure names the flag and the value it comes from.
    let read = |flag: &str, path: &std::path::PathBuf| {
        std::fs::read_to_string(path)
            .map_err(|error| format!("{flag} {}: cannot read it: {error}", path.display()))
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(ReceiverTls {
            cert_pem: read("--tls-cert", cert)?,
            key_pem: read("--tls-key", key)?,
            client_ca_pem: args
                .tls_client_ca
                .as_ref()
                .map(|ca| read("--tls-client-ca", ca))
                .transpose()?,
        }),
        _ => None,
    };
    let jsonl = match &args.jsonl {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| {
                    format!(
                        "--jsonl {}: cannot open it for appending: {error}",
                        path.display()
                    )
                })?;
            Some(Arc::new(JsonlFile {
                file: Mutex::new(file),
                lost_lines: AtomicU64::new(0),
            }))
        }
        None => None,
    };
    let observer = (!args.count_only).then(|| printer(args.quiet, jsonl.clone()));
    let defaults = ReceiverConfig::default();
    let (grpc, http) = args.listeners();
    let receiver = Receiver::start(ReceiverConfig {
        grpc,
        http,
        tls,
        store: if args.count_only {
            Store::CountOnly
        } else {
            Store::DecodeOnly
        },
        max_request_bytes: args.max_request_bytes.unwrap_or(defaults.max_request_bytes),
        worker_threads: args.threads,
        observer,
        request_head_timeout: args.request_head_timeout,
        request_timeout: args.request_timeout,
    })
    .map_err(|error| match error {
        ReceiverError::Bind {
            transport,
            addr,
            source,
        } => {
            let default = if args.gave_address(transport) {
                ""
            } else {
                " (the default)"
            };
            format!("--{transport} {addr}{default}: cannot listen there: {source}")
        }
        ReceiverError::Tls(reason) => {
            let mut flags = Vec::new();
            for (flag, path) in [
                ("--tls-cert", &args.tls_cert),
                ("--tls-key", &args.tls_key),
                ("--tls-client-ca", &args.tls_client_ca),
            ] {
                if let Some(path) = path {
                    flags.push(format!("{flag} {}", path.display()));
                }
            }
            format!("{}: unusable TLS material: {reason}", flags.join(", "))
        }
        other => other.to_string(),
    })?;
    // Set before the `listening` line, so a client that waits for it sees the
    // delay on its first request.
    if !args.answer_delay.is_zero() {
        receiver.set_fallback_fault(Some(Fault::Delay(args.answer_delay)));
    }
    // SIGINT and SIGTERM are caught from here on, before the `listening`
    // line: a signal sent as soon as it is out must end the run with the
    // `final` line and status 0, not kill the process mid-way.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let signals = {
        let _entered = runtime.enter();
        signals()?
    };

    let mut listening = String::from("listening");
    if let Some(addr) = receiver.grpc_addr() {
        listening.push_str(&format!(" grpc={addr}"));
    }
    if let Some(addr) = receiver.http_addr() {
        listening.push_str(&format!(" http={addr}"));
    }
    say(&listening);

    let default_summary = if args.count_only {
        Duration::from_secs(1)
    } else {
        Duration::ZERO
    };
    let summary_every = args.summary_every.unwrap_or(default_summary);
    runtime.block_on(wait_for_exit(
        &receiver,
        jsonl.as_deref(),
        signals,
        summary_every,
        args.exit_on_stdin_eof,
    ))?;
    receiver.shutdown();
    say(&format!(
        "final {}",
        summary(&receiver.stats(), jsonl.as_deref())
    ));
    Ok(Outcome {
        lost_jsonl_lines: jsonl.map_or(0, |jsonl| jsonl.lost_lines.load(Ordering::Relaxed)),
    })
}

/// The request as one line of OTLP/JSON, written by otlp-core's transcoder
/// from its protobuf encoding: exactly the OTLP/JSON mapping, where a double
/// that is NaN or infinite is the string `"NaN"`, `"Infinity"` or
/// `"-Infinity"` (serde's JSON would write `null` and lose it).
fn otlp_json_line(received: &ReceivedRequest) -> Result<String, String> {
    use otlp_core::encode::{logs_request_to_json, metrics_request_to_json, trace_request_to_json};
    use prost::Message;
    let mut json = Vec::new();
    let transcoded = match received.signal {
        Signal::Logs => logs_request_to_json(&received.logs.encode_to_vec(), &mut json),
        Signal::Metrics => metrics_request_to_json(&received.metrics.encode_to_vec(), &mut json),
        _ => trace_request_to_json(&received.request.encode_to_vec(), &mut json),
    };
    transcoded.map_err(|error| error.to_string())?;
    String::from_utf8(json).map_err(|error| error.to_string())
}

/// The observer of decoded requests: prints each with its trees (traces) or
/// lines (a log record or a data point each), appends it to the JSONL file,
/// counting the requests it could not append.
fn printer(quiet: bool, jsonl: Option<Arc<JsonlFile>>) -> RequestObserver {
    RequestObserver::new(move |received: &ReceivedRequest| {
        if let Some(jsonl) = &jsonl {
            // One `ExportTraceServiceRequest`, `ExportLogsServiceRequest` or
            // `ExportMetricsServiceRequest` per line (the file exporter
            // format); `resourceSpans`, `resourceLogs` or `resourceMetrics`
            // tells them apart.
            // The line goes in one `write_all` to the unbuffered file, so a
            // failed line leaves nothing behind to be written with the next.
            let written = otlp_json_line(received).and_then(|mut line| {
                line.push('\n');
                let mut file = jsonl
                    .file
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                file.write_all(line.as_bytes())
                    .map_err(|error| error.to_string())
            });
            if let Err(error) = written {
                jsonl.lost_lines.fetch_add(1, Ordering::Relaxed);
                note!("otlp-receiver: cannot append to the JSONL file: {error}");
            }
        }
        if quiet {
            return;
        }
        let transport = match received.transport {
            Transport::Grpc => "grpc",
            Transport::Http => "http",
        };
        let text = match received.signal {
            Signal::Logs => format!(
                "request {transport} log_records={} answer={}\n{}",
                received.log_record_count,
                received.answered,
                render_logs(&received.logs)
            ),
            Signal::Metrics => format!(
                "request {transport} data_points={} answer={}\n{}",
                received.data_point_count,
                received.answered,
                render_metrics(&received.metrics)
            ),
            _ => format!(
                "request {transport} spans={} answer={}\n{}",
                received.span_count,
                received.answered,
                render_traces(&received.request)
            ),
        };
        // One write for the whole block, so concurrent requests do not interleave.
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    })
}

/// Prints a line; a closed stdout is not worth a panic (`println!` would).
fn say(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

/// The counts of a `count` or `final` line; with `--jsonl`, ends with
/// `jsonl_lost_lines=N`, the requests that could not be appended.
fn summary(stats: &ReceiverStats, jsonl: Option<&JsonlFile>) -> String {
    let mut line = format!(
        "requests={} accepted_requests={} spans={} log_records={} data_points={} faulted_requests={} bad_requests={} abandoned_requests={} timed_out_requests={}",
        stats.requests,
        stats.accepted_requests,
        stats.accepted_spans,
        stats.accepted_log_records,
        stats.accepted_data_points,
        stats.faulted_requests,
        stats.bad_requests,
        stats.abandoned_requests,
        stats.timed_out_requests
    );
    if let Some(jsonl) = jsonl {
        line.push_str(&format!(
            " jsonl_lost_lines={}",
            jsonl.lost_lines.load(Ordering::Relaxed)
        ));
    }
    line
}

/// Returns when `signals` resolves (SIGINT or SIGTERM) or (when asked) at the
/// end of stdin, printing count lines meanwhile.
async fn wait_for_exit(
    receiver: &Receiver,
    jsonl: Option<&JsonlFile>,
    signals: impl Future<Output = ()>,
    summary_every: Duration,
    exit_on_stdin_eof: bool,
) -> std::io::Result<()> {
    let stdin_closed = if exit_on_stdin_eof {
        let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("stdin-watch".into())
            .spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
                let _ = closed_tx.send(());
            })?;
        Some(closed_rx)
    } else {
        None
    };
    let stdin_closed = async move {
        match stdin_closed {
            Some(closed) => {
                let _ = closed.await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stdin_closed);
    let mut ticks = (!summary_every.is_zero()).then(|| tokio::time::interval(summary_every));
    // From zero, not from the counts when this loop starts: requests can
    // arrive as soon as `listening` is out, before this thread gets here, and
    // a baseline taken after them would never report them.
    let mut last = ReceiverStats::default();
    let mut last_lost = 0;
    tokio::pin!(signals);
    loop {
        tokio::select! {
            _ = &mut signals => return Ok(()),
            _ = &mut stdin_closed => return Ok(()),
            _ = tick(ticks.as_mut()) => {
                let stats = receiver.stats();
                let lost = jsonl.map_or(0, |jsonl| jsonl.lost_lines.load(Ordering::Relaxed));
                if (&stats, lost) != (&last, last_lost) {
                    say(&format!("count {}", summary(&stats, jsonl)));
                    last = stats;
                    last_lost = lost;
                }
            }
        }
    }
}

/// The next tick, or never without an interval.
async fn tick(ticks: Option<&mut tokio::time::Interval>) {
    match ticks {
        Some(ticks) => {
            ticks.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// A future that resolves on SIGINT or SIGTERM (Ctrl-C elsewhere). On Unix
/// the handlers are installed by this call, inside a tokio runtime: a signal
/// that comes after it, even before the future is first polled, is seen.
#[cfg(unix)]
fn signals() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn signals() -> std::io::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
