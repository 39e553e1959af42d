//! `--scenario logs` (issue 16): `tracing` events as log records, otlp-rust
//! against `opentelemetry-appender-tracing`, the SDK's `BatchLogProcessor`
//! and `opentelemetry-otlp`, the same events in the same run, over gRPC and
//! HTTP/protobuf to a decoding receiver in its own process.
//!
//! Rows, per transport, load ([`Mode`]: a burst, or a steady rate) and
//! shape ([`Shape`]: outside any span, or inside one), each in its own
//! sender process ([`Side`], `otlp_benches::logs`):
//!
//! - `OtlpLogLayer` → otlp-sdk's `BatchLogProcessor`, log defaults;
//! - `Logger::emit` → the same pipeline, no `tracing` (flat only);
//! - `OpenTelemetryTracingBridge` → `opentelemetry_sdk` + `opentelemetry-otlp`
//!   with its default queue (2,048 records), and with a queue that holds
//!   every record of the load (lossless);
//! - the control: the same producer loop with no logger (once per load,
//!   flat only): what formatting the values costs both sides.
//!
//! Every row runs `--runs` times in rotating order (the sides interleaved).
//! Sender CPU is the kernel's accounting of the sender process (`wait4`),
//! per record produced; received is what the receiver decoded with the
//! load's message as body (other records are counted apart); lost is
//! produced less received.
//!
//! The children: `--role logs-receiver` (an `otlp_contrib::receiver` with
//! `Store::DecodeOnly`, answering `stats` on stdin with one
//! `stats logs=N app=N requests=N bad=N cpu_ns=N` line) and `--role
//! logs-sender` (one row: prints `producing`, then `result {json}`).

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use otlp_benches::end_to_end::{Endpoints, Transport};
use otlp_benches::fixtures::{ValueLen, write_attribute_values_of_len};
use otlp_benches::logs::{
    BaselineLogs, EVENTS_PER_SPAN, LOG_MESSAGE, LogSender, OursLogs, Shape, WorkloadLogs,
    request_span,
};
use otlp_contrib::receiver::{Receiver, ReceiverConfig, RequestObserver, Store};
use serde_json::{Value, json};

use crate::args::{LogOptions, ModeKind, Options};
use crate::format::{ratio, thousands};
use crate::process::{ChildUsage, machine_busy, monotonic_ns, own_cpu, reap, thread_cpu};
use crate::report::{Machine, command_line, median, runs_phrase, value_len_line};
use crate::run::{MIB, rotation};

/// Issue 16's goal: otlp-rust's sender CPU per record at most this share of
/// the baseline's.
pub const GOAL_CPU_RATIO: f64 = 0.2;

/// How often a paced producer looks whether records are due.
const PACING_TICK: Duration = Duration::from_millis(1);

/// How long the count must stay still before a row's stragglers are given
/// up on, and the longest wait for them.
const SETTLE_QUIET: Duration = Duration::from_millis(300);
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// A sender's deadline beyond its shutdown bound.
const SENDER_GRACE: Duration = Duration::from_secs(60);

/// How a sender emits its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// `records` as fast as one thread emits them.
    Burst {
        /// Records.
        records: u64,
    },
    /// `rate` records per second for `duration`, on one thread: every
    /// millisecond it emits the records due by then.
    Steady {
        /// Records per second.
        rate: u64,
        /// How long.
        duration: Duration,
    },
}

impl Mode {
    /// Records the load makes.
    pub fn records(self) -> u64 {
        match self {
            Mode::Burst { records } => records,
            Mode::Steady { rate, duration } => {
                (rate as f64 * duration.as_secs_f64()).round() as u64
            }
        }
    }

    fn label(self) -> String {
        match self {
            Mode::Burst { records } => format!("burst of {}", thousands(records)),
            Mode::Steady { rate, duration } => format!(
                "{}/s for {} s",
                thousands(rate),
                format_seconds(duration.as_secs_f64())
            ),
        }
    }
}

fn format_seconds(seconds: f64) -> String {
    if seconds.fract() == 0.0 {
        format!("{seconds:.0}")
    } else {
        format!("{seconds}")
    }
}

/// What one sender process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// `tracing` + `OtlpLogLayer` → otlp-sdk, defaults.
    OursLayer,
    /// `Logger::emit` → otlp-sdk, defaults.
    OursNative,
    /// `tracing` + `OpenTelemetryTracingBridge` → the baseline, its default
    /// queue.
    BaselineDefault,
    /// The same with a queue that holds every record of the load.
    BaselineLossless,
    /// No logger: the producer loop alone.
    Workload,
}

impl Side {
    const ALL: [Side; 5] = [
        Side::OursLayer,
        Side::OursNative,
        Side::BaselineDefault,
        Side::BaselineLossless,
        Side::Workload,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Side::OursLayer => "ours-layer",
            Side::OursNative => "ours-native",
            Side::BaselineDefault => "baseline-default",
            Side::BaselineLossless => "baseline-lossless",
            Side::Workload => "workload",
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        Side::ALL
            .into_iter()
            .find(|side| side.as_str() == text)
            .ok_or_else(|| format!("unknown log sender side {text:?}"))
    }

    fn label(self, mode: Mode) -> String {
        match self {
            Side::OursLayer => "`tracing` + `OtlpLogLayer` → otlp-sdk (default settings)".into(),
            Side::OursNative => "`Logger::emit` → otlp-sdk (default settings)".into(),
            Side::BaselineDefault => {
                "`tracing` + `OpenTelemetryTracingBridge` → opentelemetry_sdk + \
                 opentelemetry-otlp (default settings, queue 2,048)"
                    .into()
            }
            Side::BaselineLossless => format!(
                "`tracing` + `OpenTelemetryTracingBridge` → opentelemetry_sdk + \
                 opentelemetry-otlp, queue {} (lossless)",
                thousands(lossless_queue(mode) as u64)
            ),
            Side::Workload => "workload only (no logger)".into(),
        }
    }

    fn is_ours(self) -> bool {
        matches!(self, Side::OursLayer | Side::OursNative)
    }
}

/// A queue that holds every record of `mode` (never below the default).
fn lossless_queue(mode: Mode) -> usize {
    mode.records().max(2_048) as usize
}

/// One row of the scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Row {
    mode: Mode,
    shape: Shape,
    transport: Transport,
    side: Side,
}

fn modes(options: &LogOptions) -> Vec<Mode> {
    options
        .modes
        .iter()
        .map(|kind| match kind {
            ModeKind::Burst => Mode::Burst {
                records: options.records,
            },
            ModeKind::Steady => Mode::Steady {
                rate: options.rate,
                duration: options.duration,
            },
        })
        .collect()
}

fn rows(options: &Options) -> Vec<Row> {
    let mut rows = Vec::new();
    for mode in modes(&options.logs) {
        for &shape in &options.logs.shapes {
            for &transport in &options.transports {
                for side in [
                    Side::OursLayer,
                    Side::OursNative,
                    Side::BaselineDefault,
                    Side::BaselineLossless,
                ] {
                    // The native door has no span to be in.
                    if side == Side::OursNative && shape != Shape::Flat {
                        continue;
                    }
                    rows.push(Row {
                        mode,
                        shape,
                        transport,
                        side,
                    });
                }
            }
            if shape == Shape::Flat
                && let Some(&transport) = options.transports.first()
            {
                rows.push(Row {
                    mode,
                    shape,
                    transport,
                    side: Side::Workload,
                });
            }
        }
    }
    rows
}

// ---------------------------------------------------------------------------
// The child roles.

/// Runs `--role logs-receiver` or `--role logs-sender` when `args` ask for
/// one of them; `None` otherwise.
pub fn child_role(args: &[String]) -> Option<Result<(), String>> {
    let role = args
        .iter()
        .position(|arg| arg == "--role")
        .and_then(|index| args.get(index + 1))?;
    match role.as_str() {
        "logs-receiver" => Some(receiver_role()),
        "logs-sender" => Some(SenderArgs::parse(args).and_then(|args| sender_role(&args))),
        _ => None,
    }
}

fn receiver_role() -> Result<(), String> {
    let app = Arc::new(AtomicU64::new(0));
    let observer = {
        let app = app.clone();
        RequestObserver::new(move |request| {
            if request.answered.is_accepted() {
                let ours = request
                    .log_records()
                    .filter(|record| {
                        matches!(
                            record.body.as_ref().and_then(|body| body.value.as_ref()),
                            Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(text))
                                if text == LOG_MESSAGE
                        )
                    })
                    .count();
                app.fetch_add(ours as u64, Ordering::Relaxed);
            }
        })
    };
    let receiver = Receiver::start(ReceiverConfig {
        store: Store::DecodeOnly,
        worker_threads: 2,
        observer: Some(observer),
        ..ReceiverConfig::default()
    })
    .map_err(|error| format!("cannot start the receiver: {error}"))?;
    let endpoints = Endpoints::of(&receiver);
    let mut stdout = std::io::stdout().lock();
    let mut say = |line: String| {
        writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .map_err(|error| format!("stdout: {error}"))
    };
    say(format!(
        "listening grpc={} http={}",
        endpoints.grpc, endpoints.http
    ))?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|error| format!("stdin: {error}"))?;
        if line.trim() == "stats" {
            let stats = receiver.stats();
            say(format!(
                "stats logs={} app={} requests={} bad={} cpu_ns={}",
                receiver.log_record_count(),
                app.load(Ordering::Relaxed),
                stats.requests,
                stats.bad_requests,
                own_cpu().as_nanos() as u64
            ))?;
        }
    }
    receiver.shutdown();
    Ok(())
}

/// What one sender process does.
#[derive(Clone, Debug, PartialEq)]
struct SenderArgs {
    side: Side,
    transport: Transport,
    endpoints: Endpoints,
    mode: Mode,
    shape: Shape,
    /// The length of every field value (`--value-len`).
    value_len: ValueLen,
    shutdown_timeout: Duration,
}

impl SenderArgs {
    fn command_line(&self) -> Vec<String> {
        let mut line: Vec<String> = [
            "--role",
            "logs-sender",
            "--side",
            self.side.as_str(),
            "--transport",
            self.transport.as_str(),
            "--grpc",
            &self.endpoints.grpc,
            "--http",
            &self.endpoints.http,
            "--shape",
            self.shape.as_str(),
        ]
        .map(str::to_owned)
        .to_vec();
        line.extend([
            "--value-len".to_owned(),
            self.value_len.to_string(),
            "--shutdown-timeout".to_owned(),
            self.shutdown_timeout.as_secs().to_string(),
        ]);
        match self.mode {
            Mode::Burst { records } => line.extend(["--records".into(), records.to_string()]),
            Mode::Steady { rate, duration } => line.extend([
                "--rate".into(),
                rate.to_string(),
                "--duration-ms".into(),
                duration.as_millis().to_string(),
            ]),
        }
        line
    }

    fn parse(args: &[String]) -> Result<Self, String> {
        let mut named = std::collections::HashMap::new();
        let mut iter = args.iter();
        while let Some(name) = iter.next() {
            let value = iter.next().ok_or_else(|| format!("{name} needs a value"))?;
            named.insert(name.as_str(), value.as_str());
        }
        let get = |name: &str| {
            named
                .get(name)
                .copied()
                .ok_or_else(|| format!("a log sender needs {name}"))
        };
        let number = |name: &str| -> Result<u64, String> {
            get(name)?
                .parse()
                .map_err(|_| format!("{name}: not a number"))
        };
        let mode = match named.get("--records") {
            Some(_) => Mode::Burst {
                records: number("--records")?,
            },
            None => Mode::Steady {
                rate: number("--rate")?,
                duration: Duration::from_millis(number("--duration-ms")?),
            },
        };
        Ok(SenderArgs {
            side: Side::parse(get("--side")?)?,
            transport: get("--transport")?.parse()?,
            endpoints: Endpoints {
                grpc: get("--grpc")?.to_owned(),
                http: get("--http")?.to_owned(),
            },
            mode,
            shape: Shape::parse(get("--shape")?)?,
            // The issues' 16 characters unless given.
            value_len: match named.get("--value-len") {
                None => ValueLen::DEFAULT,
                Some(_) => usize::try_from(number("--value-len")?)
                    .ok()
                    .and_then(|len| ValueLen::new(len).ok())
                    .ok_or_else(|| {
                        format!(
                            "--value-len {}: attribute values must be {} to {} characters long",
                            named["--value-len"],
                            otlp_benches::fixtures::MIN_ATTRIBUTE_VALUE_LEN,
                            otlp_benches::fixtures::MAX_ATTRIBUTE_VALUE_LEN
                        )
                    })?,
            },
            shutdown_timeout: Duration::from_secs(number("--shutdown-timeout")?),
        })
    }
}

fn sender_role(args: &SenderArgs) -> Result<(), String> {
    let (transport, endpoints) = (args.transport, &args.endpoints);
    let (mut result, stats) = match args.side {
        Side::OursLayer | Side::OursNative => {
            let ours = if args.side == Side::OursLayer {
                OursLogs::install_layer(transport, endpoints)?
            } else {
                OursLogs::native(transport, endpoints)?
            };
            let result = produce_and_shut_down(&ours, args)?;
            let stats = ours.stats();
            (
                result,
                json!({
                    "produced": stats.produced,
                    "exported": stats.exported,
                    "dropped": stats.dropped,
                    "dropped_queue_full": stats.dropped_queue_full,
                    "failed": stats.failed,
                    "rejected": stats.rejected,
                    "queued": stats.queued,
                    "in_flight": stats.in_flight,
                    "batches": stats.batches,
                    "last_error": stats.last_error,
                }),
            )
        }
        Side::BaselineDefault | Side::BaselineLossless => {
            let queue = (args.side == Side::BaselineLossless).then(|| lossless_queue(args.mode));
            let baseline = BaselineLogs::install(transport, endpoints, queue)?;
            (produce_and_shut_down(&baseline, args)?, Value::Null)
        }
        Side::Workload => (produce_and_shut_down(&WorkloadLogs, args)?, Value::Null),
    };
    result["pipeline"] = stats;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "result {result}")
        .and_then(|()| stdout.flush())
        .map_err(|error| format!("stdout: {error}"))
}

/// Emits the load on this thread, then shuts the pipeline down; returns the
/// sender's report (without the pipeline's counters).
fn produce_and_shut_down(sender: &dyn LogSender, args: &SenderArgs) -> Result<Value, String> {
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "producing")
            .and_then(|()| stdout.flush())
            .map_err(|error| format!("stdout: {error}"))?;
    }
    let total = args.mode.records();
    let mut values: [String; 8] = Default::default();
    let mut next = 0_u64;
    // Emits records up to `until` (exclusive), in spans of
    // EVENTS_PER_SPAN when the shape asks for them.
    let mut emit_until = |until: u64| {
        while next < until {
            match args.shape {
                Shape::Flat => {
                    write_attribute_values_of_len(next, args.value_len, &mut values);
                    sender.emit(&values);
                    next += 1;
                }
                Shape::InSpan => {
                    let span = request_span();
                    let _entered = span.enter();
                    let end = (next + EVENTS_PER_SPAN).min(until);
                    while next < end {
                        write_attribute_values_of_len(next, args.value_len, &mut values);
                        sender.emit(&values);
                        next += 1;
                    }
                }
            }
        }
    };
    let cpu_start = thread_cpu();
    let start_ns = monotonic_ns();
    match args.mode {
        Mode::Burst { records } => emit_until(records),
        Mode::Steady { rate, duration } => {
            let start = Instant::now();
            loop {
                let elapsed = start.elapsed();
                let due = if elapsed >= duration {
                    total
                } else {
                    ((elapsed.as_secs_f64() * rate as f64) as u64).min(total)
                };
                emit_until(due);
                if due >= total {
                    break;
                }
                std::thread::sleep(PACING_TICK);
            }
        }
    }
    let produced_ns = monotonic_ns();
    let producer_cpu_ns = thread_cpu().saturating_sub(cpu_start).as_nanos() as u64;
    let shutdown = sender.shutdown(args.shutdown_timeout);
    let shutdown_ns = monotonic_ns();
    Ok(json!({
        "produced": next,
        "start_ns": start_ns,
        "produced_ns": produced_ns,
        "shutdown_ns": shutdown_ns,
        "producer_cpu_ns": producer_cpu_ns,
        "shutdown_error": shutdown.err(),
    }))
}

// ---------------------------------------------------------------------------
// The coordinator.

/// The receiver process and how to ask it.
struct ReceiverProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    endpoints: Endpoints,
}

/// One answer of the receiver to `stats`.
#[derive(Clone, Copy, Debug, Default)]
struct ReceiverCounts {
    logs: u64,
    app: u64,
    requests: u64,
    bad: u64,
    cpu_ns: u64,
}

/// `Command` for this binary with no `OTEL_*` or `OTLP__` variables, so
/// that every pipeline runs at its defaults.
fn child_command(exe: &PathBuf) -> Command {
    let mut command = Command::new(exe);
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("OTEL_") || text.starts_with("OTLP__") {
            command.env_remove(&name);
        }
    }
    command
}

impl ReceiverProcess {
    fn start(exe: &PathBuf) -> Result<Self, String> {
        let mut child = child_command(exe)
            .args(["--role", "logs-receiver"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| format!("cannot start the receiver process: {error}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .map_err(|error| format!("receiver stdout: {error}"))?;
        let mut endpoints = Endpoints {
            grpc: String::new(),
            http: String::new(),
        };
        for field in line
            .trim()
            .strip_prefix("listening ")
            .ok_or_else(|| format!("the receiver did not start: {line:?}"))?
            .split_whitespace()
        {
            match field.split_once('=') {
                Some(("grpc", url)) => endpoints.grpc = url.to_owned(),
                Some(("http", url)) => endpoints.http = url.to_owned(),
                _ => {}
            }
        }
        Ok(ReceiverProcess {
            child,
            stdin,
            stdout,
            endpoints,
        })
    }

    fn counts(&mut self) -> Result<ReceiverCounts, String> {
        writeln!(self.stdin, "stats")
            .and_then(|()| self.stdin.flush())
            .map_err(|error| format!("receiver stdin: {error}"))?;
        let mut line = String::new();
        if self
            .stdout
            .read_line(&mut line)
            .map_err(|error| format!("receiver stdout: {error}"))?
            == 0
        {
            return Err("the receiver process exited".into());
        }
        let mut counts = ReceiverCounts::default();
        for field in line.trim().trim_start_matches("stats ").split_whitespace() {
            let (name, value) = field
                .split_once('=')
                .ok_or_else(|| format!("bad receiver line {line:?}"))?;
            let value: u64 = value
                .parse()
                .map_err(|_| format!("bad receiver line {line:?}"))?;
            match name {
                "logs" => counts.logs = value,
                "app" => counts.app = value,
                "requests" => counts.requests = value,
                "bad" => counts.bad = value,
                "cpu_ns" => counts.cpu_ns = value,
                _ => {}
            }
        }
        Ok(counts)
    }

    fn stop(mut self) {
        drop(self.stdin);
        let _ = self.child.wait();
    }
}

/// One run of one row.
#[derive(Clone, Debug)]
struct Run {
    produced: u64,
    received: u64,
    other_records: u64,
    usage: ChildUsage,
    producer_cpu: Duration,
    produce_time: Duration,
    until_shutdown: Duration,
    requests: u64,
    bad_requests: u64,
    others_cpu: Option<Duration>,
    window: Duration,
    shutdown_error: Option<String>,
    pipeline: Value,
}

impl Run {
    fn lost(&self) -> u64 {
        self.produced.saturating_sub(self.received)
    }

    /// Records of the load the receiver counted beyond those made (a request
    /// counted twice: an export retried after the receiver had taken it).
    /// [`lost`](Self::lost) never goes below zero, so as many lost records
    /// may hide behind a surplus.
    fn surplus(&self) -> u64 {
        self.received.saturating_sub(self.produced)
    }

    fn cpu_per_record(&self) -> f64 {
        self.usage.cpu().as_secs_f64() / self.produced.max(1) as f64
    }

    /// Per record the receiver got: what a lossy row paid for each record
    /// it delivered.
    fn cpu_per_received_record(&self) -> f64 {
        self.usage.cpu().as_secs_f64() / self.received.max(1) as f64
    }
}

fn measure(
    exe: &PathBuf,
    receiver: &mut ReceiverProcess,
    args: &SenderArgs,
) -> Result<Run, String> {
    let before = receiver.counts()?;
    let busy_before = machine_busy();
    let window_start = Instant::now();
    let mut child = child_command(exe)
        .args(args.command_line())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|error| format!("cannot start a sender process: {error}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut output = String::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            output.push_str(&line);
            output.push('\n');
        }
        output
    });
    let usage = reap(&child, args.shutdown_timeout + SENDER_GRACE)
        .map_err(|error| format!("wait4: {error}"))?;
    let output = reader.join().unwrap_or_default();
    if usage.killed || !usage.status.success() {
        return Err(format!(
            "the log sender {args:?} failed ({}); output: {output}",
            usage.status
        ));
    }
    let report: Value = output
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("result "))
        .ok_or_else(|| format!("no result from the log sender: {output}"))
        .and_then(|json| {
            serde_json::from_str(json).map_err(|error| format!("bad sender result: {error}"))
        })?;
    let field = |name: &str| report[name].as_u64().unwrap_or(0);
    let produced = field("produced");
    // Shutdown returned once every export was answered; wait a little for
    // stragglers all the same (a shutdown that timed out may leave some).
    let settle_start = Instant::now();
    let mut after = receiver.counts()?;
    let mut quiet_since = Instant::now();
    while args.side != Side::Workload
        && after.app - before.app < produced
        && quiet_since.elapsed() < SETTLE_QUIET
        && settle_start.elapsed() < SETTLE_LIMIT
    {
        std::thread::sleep(Duration::from_millis(20));
        let now = receiver.counts()?;
        if now.logs != after.logs {
            quiet_since = Instant::now();
        }
        after = now;
    }
    let busy_after = machine_busy();
    let receiver_cpu = Duration::from_nanos(after.cpu_ns.saturating_sub(before.cpu_ns));
    let received = after.app - before.app;
    Ok(Run {
        produced,
        received,
        other_records: (after.logs - before.logs).saturating_sub(received),
        usage,
        producer_cpu: Duration::from_nanos(field("producer_cpu_ns")),
        produce_time: Duration::from_nanos(field("produced_ns").saturating_sub(field("start_ns"))),
        until_shutdown: Duration::from_nanos(
            field("shutdown_ns").saturating_sub(field("start_ns")),
        ),
        requests: after.requests - before.requests,
        bad_requests: after.bad - before.bad,
        others_cpu: busy_before.zip(busy_after).map(|(before, after)| {
            after
                .saturating_sub(before)
                .saturating_sub(usage.cpu())
                .saturating_sub(receiver_cpu)
        }),
        window: window_start.elapsed(),
        shutdown_error: report["shutdown_error"].as_str().map(str::to_owned),
        pipeline: report["pipeline"].clone(),
    })
}

/// The scenario's results: every row with its runs.
pub struct LogsReport {
    rows: Vec<(Row, Vec<Run>)>,
    runs: usize,
    command: String,
    nproc: usize,
    value_len: ValueLen,
}

/// Runs every row `options.runs` times in rotating order.
pub fn run(options: &Options) -> Result<LogsReport, String> {
    let exe = std::env::current_exe().map_err(|error| format!("current_exe: {error}"))?;
    let mut receiver = ReceiverProcess::start(&exe)?;
    let rows = rows(options);
    let mut results: Vec<(Row, Vec<Run>)> = rows.iter().map(|&row| (row, Vec::new())).collect();
    let total = rows.len() * options.runs;
    for (done, index) in rotation(rows.len(), options.runs).enumerate() {
        let row = rows[index];
        eprint!(
            "compare: logs [{}/{total}] {} {} {} {}: ",
            done + 1,
            row.mode.label(),
            row.shape.as_str(),
            row.transport,
            row.side.as_str(),
        );
        let args = SenderArgs {
            side: row.side,
            transport: row.transport,
            endpoints: receiver.endpoints.clone(),
            mode: row.mode,
            shape: row.shape,
            value_len: options.value_len,
            shutdown_timeout: options.shutdown_timeout,
        };
        let run = measure(&exe, &mut receiver, &args)?;
        eprintln!(
            "CPU {:.3} s ({:.2} µs/record), {} produced, {} received, {} lost",
            run.usage.cpu().as_secs_f64(),
            run.cpu_per_record() * 1e6,
            run.produced,
            run.received,
            if row.side == Side::Workload {
                0
            } else {
                run.lost()
            },
        );
        results[index].1.push(run);
    }
    receiver.stop();
    Ok(LogsReport {
        rows: results,
        runs: options.runs,
        command: command_line(&logs_only_arguments(&options.given)),
        nproc: Machine::describe().nproc,
        value_len: options.value_len,
    })
}

/// The arguments as given, with `--scenario` naming `logs` alone: the
/// command that produces this section.
fn logs_only_arguments(given: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = given.iter();
    while let Some(arg) = iter.next() {
        if arg == "--scenario" {
            iter.next();
            continue;
        }
        out.push(arg.clone());
    }
    out.insert(0, "logs".to_owned());
    out.insert(0, "--scenario".to_owned());
    out
}

/// Median, min and max of a row's runs of `figure`.
fn spread(runs: &[Run], figure: impl Fn(&Run) -> f64) -> (f64, f64, f64) {
    let values: Vec<f64> = runs.iter().map(figure).collect();
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (median(values), min, max)
}

impl LogsReport {
    fn cpu(&self, row: &Row) -> Option<f64> {
        self.rows
            .iter()
            .find(|(other, runs)| other == row && !runs.is_empty())
            .map(|(_, runs)| spread(runs, Run::cpu_per_record).0)
    }

    fn baseline_cpu(&self, row: &Row, side: Side) -> Option<f64> {
        self.cpu(&Row { side, ..*row })
    }

    fn control_cpu(&self, row: &Row) -> Option<f64> {
        self.rows
            .iter()
            .find(|(other, runs)| {
                other.side == Side::Workload && other.mode == row.mode && !runs.is_empty()
            })
            .map(|(_, runs)| spread(runs, Run::cpu_per_record).0)
    }

    /// Ours over the baseline (default queue, lossless) in the same load,
    /// shape and transport.
    fn ratios(&self, row: &Row) -> (Option<f64>, Option<f64>) {
        if !row.side.is_ours() {
            return (None, None);
        }
        let ours = self.cpu(row);
        let of = |side| {
            ours.zip(self.baseline_cpu(row, side))
                .map(|(ours, theirs)| ours / theirs)
        };
        (of(Side::BaselineDefault), of(Side::BaselineLossless))
    }

    fn others_share(&self) -> Option<f64> {
        let (mut others, mut capacity) = (0.0, 0.0);
        for run in self.rows.iter().flat_map(|(_, runs)| runs) {
            others += run.others_cpu?.as_secs_f64();
            capacity += run.window.as_secs_f64() * self.nproc as f64;
        }
        (capacity > 0.0).then(|| others / capacity)
    }

    /// The section in Markdown.
    pub fn markdown(&self, machine: &Machine) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "### Logs: `tracing` events as log records, otlp-rust vs \
             opentelemetry-appender-tracing + opentelemetry-rust\n"
        );
        let _ = writeln!(
            out,
            "Measured {}{}; {}; {}. Receiver: `otlp_contrib::receiver`, `Store::DecodeOnly`: \
             every request decoded into `opentelemetry-proto` types, records with the load's \
             body counted, in its own process.\n",
            machine.summary(),
            match self.others_share() {
                Some(share) => format!(
                    "; other processes used {:.0}% of the machine's CPU during these rows",
                    share * 100.0
                ),
                None => String::new(),
            },
            machine.source,
            runs_phrase(self.runs),
        );
        out.push_str(&value_len_line(self.value_len));
        if machine.debug_build {
            out.push_str("**Debug build: not a measurement.**\n\n");
        }
        let _ = writeln!(out, "```sh\n{}\n```\n", self.command);
        let _ = writeln!(
            out,
            "Each event: `tracing::event!(INFO)` with eight {}-character `&str` fields and a \
             message, one producer thread, every layer the global subscriber behind the same \
             `Targets` filter. Sender CPU: the sender process's user + system time \
             (`wait4`) per record produced, median (min–max) over the runs. Ratios: the \
             otlp-rust row's median over the baseline row's of the same load, shape and \
             transport (goal ≤ {GOAL_CPU_RATIO}x).\n",
            self.value_len
        );
        let _ = writeln!(
            out,
            "| load | shape | transport | implementation | sender CPU µs/record | vs baseline default | vs baseline lossless | µs/received record | producer CPU ns/record | produce s | until shut down s | produced | received | lost | other records | peak RSS MiB |"
        );
        let _ = writeln!(
            out,
            "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for (row, runs) in &self.rows {
            if runs.is_empty() {
                continue;
            }
            let (cpu, low, high) = spread(runs, Run::cpu_per_record);
            let (versus_default, versus_lossless) = self.ratios(row);
            let show = |value: Option<f64>| value.map_or("–".to_owned(), ratio);
            let control = row.side == Side::Workload;
            let lost = runs.iter().map(Run::lost).max().unwrap_or(0);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.2} ({:.2}–{:.2}) | {} | {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {} | {:.1} |",
                row.mode.label(),
                row.shape.as_str(),
                if control {
                    "–"
                } else {
                    row.transport.label()
                },
                row.side.label(row.mode),
                cpu * 1e6,
                low * 1e6,
                high * 1e6,
                show(versus_default),
                show(versus_lossless),
                if control {
                    "–".to_owned()
                } else {
                    format!("{:.2}", spread(runs, Run::cpu_per_received_record).0 * 1e6)
                },
                spread(runs, |run| run.producer_cpu.as_secs_f64()
                    / run.produced.max(1) as f64)
                .0 * 1e9,
                spread(runs, |run| run.produce_time.as_secs_f64()).0,
                spread(runs, |run| run.until_shutdown.as_secs_f64()).0,
                thousands(runs[0].produced),
                if control {
                    "–".to_owned()
                } else {
                    thousands(runs.iter().map(|run| run.received).min().unwrap_or(0))
                },
                if control {
                    "–".to_owned()
                } else {
                    thousands(lost)
                },
                if control {
                    "–".to_owned()
                } else {
                    thousands(runs.iter().map(|run| run.other_records).max().unwrap_or(0))
                },
                spread(runs, |run| run.usage.peak_rss_bytes as f64).0 / MIB,
            );
        }
        out.push('\n');
        out.push_str(&self.goals());
        out
    }

    /// Issue 16's goals for every `OtlpLogLayer` row.
    fn goals(&self) -> String {
        let mut out = String::from("Goals (issue 16), `OtlpLogLayer` at default settings:\n\n");
        for (row, runs) in &self.rows {
            if row.side != Side::OursLayer || runs.is_empty() {
                continue;
            }
            let (versus_default, versus_lossless) = self.ratios(row);
            let met = |value: Option<f64>| match value {
                Some(value) if value <= GOAL_CPU_RATIO => format!("{} (met)", ratio(value)),
                Some(value) => format!("{} (NOT met)", ratio(value)),
                None => "–".to_owned(),
            };
            let lost = runs.iter().map(Run::lost).max().unwrap_or(0);
            let surplus = runs.iter().map(Run::surplus).max().unwrap_or(0);
            let lost_verdict = match (lost, surplus) {
                (0, 0) => " (met)".to_owned(),
                (0, surplus) => format!(
                    " (not shown: {} counted beyond those made, behind which lost records may \
                     hide)",
                    thousands(surplus)
                ),
                _ => " (NOT met)".to_owned(),
            };
            // Beyond the workload: each side's CPU per record less the
            // control's, ours over the lossless baseline's.
            let control = self.control_cpu(row);
            let beyond = control
                .zip(self.cpu(row))
                .zip(self.baseline_cpu(row, Side::BaselineLossless))
                .map(|((control, ours), theirs)| (ours - control) / (theirs - control));
            let control = match (control, beyond) {
                (Some(control), Some(beyond)) => format!(
                    "; the control took {:.2} µs/record, beyond it ours over lossless is {}",
                    control * 1e6,
                    ratio(beyond)
                ),
                _ => String::new(),
            };
            // The default queue dropped records: what it paid per record it
            // delivered.
            let delivered = self
                .rows
                .iter()
                .find(|(other, runs)| {
                    *other
                        == Row {
                            side: Side::BaselineDefault,
                            ..*row
                        }
                        && !runs.is_empty()
                })
                .zip(self.cpu(row))
                .map(|((_, runs), ours)| ours / spread(runs, Run::cpu_per_received_record).0)
                .map(|value| format!(" ({} per record it delivered)", ratio(value)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- {}, {}, {}: CPU/record vs baseline default {}{}, vs lossless {}; lost {}{}{}",
                row.mode.label(),
                row.shape.as_str(),
                row.transport.label(),
                met(versus_default),
                delivered,
                met(versus_lossless),
                lost,
                lost_verdict,
                control,
            );
        }
        out
    }

    /// The section as JSON.
    pub fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|(row, runs)| {
                let (versus_default, versus_lossless) = self.ratios(row);
                let (cpu, low, high) = spread(runs, Run::cpu_per_record);
                json!({
                    "mode": match row.mode { Mode::Burst { .. } => "burst", Mode::Steady { .. } => "steady" },
                    "load": row.mode.label(),
                    "records": row.mode.records(),
                    "shape": row.shape.as_str(),
                    "transport": row.transport.as_str(),
                    "side": row.side.as_str(),
                    "implementation": row.side.label(row.mode),
                    "sender_cpu_seconds_per_record": cpu,
                    "sender_cpu_seconds_per_record_min": low,
                    "sender_cpu_seconds_per_record_max": high,
                    "sender_cpu_seconds_per_received_record": spread(runs, Run::cpu_per_received_record).0,
                    "ratio_cpu_per_record_vs_baseline_default": versus_default,
                    "ratio_cpu_per_record_vs_baseline_lossless": versus_lossless,
                    "lost_worst": if row.side == Side::Workload { 0 } else { runs.iter().map(Run::lost).max().unwrap_or(0) },
                    "runs": runs.iter().map(|run| json!({
                        "produced": run.produced,
                        "received": run.received,
                        "lost": if row.side == Side::Workload { 0 } else { run.lost() },
                        "surplus": run.surplus(),
                        "other_records": run.other_records,
                        "sender_cpu_seconds": run.usage.cpu().as_secs_f64(),
                        "sender_cpu_seconds_per_record": run.cpu_per_record(),
                        "producer_cpu_seconds": run.producer_cpu.as_secs_f64(),
                        "produce_seconds": run.produce_time.as_secs_f64(),
                        "until_shutdown_seconds": run.until_shutdown.as_secs_f64(),
                        "peak_rss_bytes": run.usage.peak_rss_bytes,
                        "requests": run.requests,
                        "bad_requests": run.bad_requests,
                        "others_cpu_seconds": run.others_cpu.map(|cpu| cpu.as_secs_f64()),
                        "shutdown_error": run.shutdown_error,
                        "pipeline": run.pipeline,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "scenario": "logs",
            "command": self.command,
            "runs": self.runs,
            "attribute_value_len": self.value_len.get(),
            "goal_cpu_ratio": GOAL_CPU_RATIO,
            "others_cpu_share": self.others_share(),
            "rows": rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_run_that_counted_more_records_than_it_made_does_not_meet_zero_loss() {
        use std::os::unix::process::ExitStatusExt as _;
        let run = |produced: u64, received: u64| Run {
            produced,
            received,
            other_records: 0,
            usage: ChildUsage {
                status: std::process::ExitStatus::from_raw(0),
                user: Duration::from_secs(1),
                system: Duration::ZERO,
                peak_rss_bytes: 1 << 20,
                killed: false,
            },
            producer_cpu: Duration::ZERO,
            produce_time: Duration::from_secs(1),
            until_shutdown: Duration::from_secs(1),
            requests: 1,
            bad_requests: 0,
            others_cpu: None,
            window: Duration::from_secs(1),
            shutdown_error: None,
            pipeline: Value::Null,
        };
        let row = |side| Row {
            mode: Mode::Burst { records: 1_000 },
            shape: Shape::Flat,
            transport: Transport::Http,
            side,
        };
        // Ours: 24 records counted twice (an export retried after the
        // receiver had taken it), 0 lost on the face of it.
        let report = LogsReport {
            rows: vec![
                (row(Side::OursLayer), vec![run(1_000, 1_024)]),
                (row(Side::BaselineLossless), vec![run(1_000, 1_000)]),
            ],
            runs: 1,
            command: String::new(),
            nproc: 2,
            value_len: ValueLen::DEFAULT,
        };
        let goals = report.goals();
        assert!(
            goals.contains(
                "lost 0 (not shown: 24 counted beyond those made, behind which lost records may \
                 hide)"
            ),
            "{goals}"
        );
        assert_eq!(report.json()["rows"][0]["runs"][0]["surplus"], 24);
    }

    #[test]
    fn a_log_sender_command_line_parses_back() {
        for mode in [
            Mode::Burst { records: 1_000 },
            Mode::Steady {
                rate: 50_000,
                duration: Duration::from_millis(2_500),
            },
        ] {
            let args = SenderArgs {
                side: Side::BaselineLossless,
                transport: Transport::Http,
                endpoints: Endpoints {
                    grpc: "http://127.0.0.1:1".into(),
                    http: "http://127.0.0.1:2".into(),
                },
                mode,
                shape: Shape::InSpan,
                value_len: ValueLen::new(40).expect("within the range"),
                shutdown_timeout: Duration::from_secs(7),
            };
            assert_eq!(SenderArgs::parse(&args.command_line()), Ok(args.clone()));
            // Without --value-len (a sender run by hand): the issues' 16.
            let line = args.command_line();
            let at = line
                .iter()
                .position(|arg| arg == "--value-len")
                .expect("the length is passed on");
            assert_eq!(line[at + 1], "40");
            let mut without = line.clone();
            without.drain(at..at + 2);
            assert_eq!(
                SenderArgs::parse(&without).map(|args| args.value_len),
                Ok(ValueLen::DEFAULT)
            );
            let mut short = line;
            short[at + 1] = "7".to_owned();
            assert_eq!(
                SenderArgs::parse(&short),
                Err("--value-len 7: attribute values must be 8 to 4096 characters long".to_owned())
            );
        }
        assert_eq!(lossless_queue(Mode::Burst { records: 10 }), 2_048);
        assert_eq!(
            logs_only_arguments(&[
                "--scenario".into(),
                "logs".into(),
                "--runs".into(),
                "1".into()
            ]),
            ["--scenario", "logs", "--runs", "1"]
        );
    }
}
