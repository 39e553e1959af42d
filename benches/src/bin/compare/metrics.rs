//! `--scenario metrics` (issue 17): otlp-sdk's counter and histogram against
//! `opentelemetry_sdk`'s, the same work in the same run
//! (`otlp_benches::metrics` sets both up alike).
//!
//! Three measurements, each printed with otlp-rust's ratio against the
//! baseline (ours / baseline: below 1 is better):
//!
//! - **ns per operation**, in this process: `Counter::add(1, ..)` and
//!   `Histogram::record(v, ..)` with three attributes built per call (static
//!   keys and values) on an existing series, on 1 thread and on 2 threads
//!   (both on one series, and one series each). Each figure is a timed loop
//!   of about `--metric-op-time` (after a short calibration loop); with two
//!   threads, the longest thread's time over its operations. Ours and the
//!   baseline alternate loop by loop, the side that goes first alternating
//!   too; `--repeat` repeats the whole set (median, min, max). Both providers
//!   export to an exporter that drops everything, and never do during a
//!   loop.
//! - **memory per series**, in a fresh sender process per side, instrument
//!   and run: the process's resident memory (`/proc/self/statm`, as the
//!   `memory` scenario reads it) just before the first of `--metric-series`
//!   recordings with distinct attribute sets (the route an owned `String`)
//!   and just after the last, over the series; again after the two exports
//!   below (what malloc keeps of the export's buffers included).
//! - **CPU to collect and export** those series, in the same process: each
//!   SDK's `PeriodicReader` (interval an hour) with its OTLP/gRPC exporter
//!   (otlp-exporter-grpc; `opentelemetry-otlp`'s tonic `MetricExporter`) to
//!   a receiver in its own process that decodes every request
//!   (`Store::DecodeOnly`); timed: the sender process's CPU (user + system,
//!   all threads, `getrusage`) and wall time from just before
//!   `force_flush()` to its return: collecting every series, building and
//!   encoding the request, sending it and waiting for the answer. Twice: the
//!   first export, then, after one more recording per series, the second
//!   (cumulative: every series again). The coordinator checks the receiver
//!   got every data point of both exports and of the shutdown's final one.
//!
//! The children: `--role metrics-receiver` (answers `stats` on stdin with
//! `stats points=N requests=N cpu_ns=N`) and `--role metrics-sender` (one
//! side and instrument: prints `result {json}`).

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use otlp_benches::metrics::{
    BaselineInstruments, Exporter, Instrument, Instruments, OursInstruments, Series, ns_per_op,
};
use otlp_contrib::receiver::{Receiver, ReceiverConfig, Store};
use serde_json::{Value, json};

use crate::args::Options;
use crate::format::{ratio, thousands};
use crate::process::{machine_busy, own_cpu, reap, resident_bytes};
use crate::report::{Machine, command_line, median};

/// Issue 17: ours at least twice as fast per recording (ours / baseline
/// at most this).
pub const GOAL_NS_RATIO: f64 = 0.5;
/// Issue 17: less memory per series than the baseline.
pub const GOAL_MEMORY_RATIO: f64 = 1.0;

/// How long a sender may take, all of it.
const SENDER_LIMIT: Duration = Duration::from_secs(300);
/// How long the coordinator waits for the receiver to count the data points
/// of a sender's exports after the sender is gone.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// Which SDK.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Side {
    Ours,
    Baseline,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Side::Ours => "ours",
            Side::Baseline => "baseline",
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "ours" => Ok(Side::Ours),
            "baseline" => Ok(Side::Baseline),
            other => Err(format!("unknown side {other:?} (ours or baseline)")),
        }
    }

    /// Both, the first one alternating with `turn`.
    fn order(turn: usize) -> [Side; 2] {
        if turn.is_multiple_of(2) {
            [Side::Ours, Side::Baseline]
        } else {
            [Side::Baseline, Side::Ours]
        }
    }
}

/// A timed-loop case: instrument, threads, series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct OpCase {
    instrument: Instrument,
    threads: usize,
    series: Series,
}

const OP_CASES: [OpCase; 6] = [
    OpCase {
        instrument: Instrument::Counter,
        threads: 1,
        series: Series::Shared,
    },
    OpCase {
        instrument: Instrument::Counter,
        threads: 2,
        series: Series::Shared,
    },
    OpCase {
        instrument: Instrument::Counter,
        threads: 2,
        series: Series::PerThread,
    },
    OpCase {
        instrument: Instrument::Histogram,
        threads: 1,
        series: Series::Shared,
    },
    OpCase {
        instrument: Instrument::Histogram,
        threads: 2,
        series: Series::Shared,
    },
    OpCase {
        instrument: Instrument::Histogram,
        threads: 2,
        series: Series::PerThread,
    },
];

impl OpCase {
    fn label(self) -> String {
        let call = match self.instrument {
            Instrument::Counter => "`Counter::add`",
            Instrument::Histogram => "`Histogram::record`",
        };
        match (self.threads, self.series) {
            (1, _) => format!("{call}, 1 thread"),
            (threads, Series::Shared) => format!("{call}, {threads} threads, one series"),
            (threads, Series::PerThread) => format!("{call}, {threads} threads, a series each"),
        }
    }

    fn series_name(self) -> &'static str {
        match self.series {
            Series::Shared => "shared",
            Series::PerThread => "per-thread",
        }
    }
}

// The child roles.

/// Runs `--role metrics-receiver` or `--role metrics-sender` when `args` ask
/// for one of them; `None` otherwise.
pub fn child_role(args: &[String]) -> Option<Result<(), String>> {
    let role = args
        .iter()
        .position(|arg| arg == "--role")
        .and_then(|index| args.get(index + 1))?;
    match role.as_str() {
        "metrics-receiver" => Some(receiver_role()),
        "metrics-sender" => Some(SenderArgs::parse(args).and_then(|args| sender_role(&args))),
        _ => None,
    }
}

fn receiver_role() -> Result<(), String> {
    let receiver = Receiver::start(ReceiverConfig {
        http: None,
        store: Store::DecodeOnly,
        ..ReceiverConfig::default()
    })
    .map_err(|error| error.to_string())?;
    let endpoint = receiver
        .grpc_endpoint()
        .ok_or("the receiver has no gRPC listener")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening grpc={endpoint}")
        .and_then(|()| stdout.flush())
        .map_err(|error| error.to_string())?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|error| error.to_string())?;
        if line.trim() == "stats" {
            writeln!(
                stdout,
                "stats points={} requests={} cpu_ns={}",
                receiver.data_point_count(),
                receiver.request_count(),
                own_cpu().as_nanos()
            )
            .and_then(|()| stdout.flush())
            .map_err(|error| error.to_string())?;
        }
    }
    receiver.shutdown();
    Ok(())
}

#[derive(Clone, Debug, PartialEq)]
struct SenderArgs {
    side: Side,
    instrument: Instrument,
    series: u64,
    endpoint: String,
}

impl SenderArgs {
    fn parse(args: &[String]) -> Result<Self, String> {
        let value = |name: &str| {
            args.iter()
                .position(|arg| arg == name)
                .and_then(|index| args.get(index + 1))
                .ok_or_else(|| format!("metrics-sender needs {name}"))
        };
        Ok(SenderArgs {
            side: Side::parse(value("--side")?)?,
            instrument: Instrument::parse(value("--instrument")?)?,
            series: value("--series")?
                .parse()
                .map_err(|_| "--series takes a number".to_owned())?,
            endpoint: value("--endpoint")?.clone(),
        })
    }

    fn to_args(&self) -> Vec<String> {
        [
            "--role",
            "metrics-sender",
            "--side",
            self.side.as_str(),
            "--instrument",
            self.instrument.as_str(),
            "--series",
            &self.series.to_string(),
            "--endpoint",
            &self.endpoint,
        ]
        .iter()
        .map(|arg| (*arg).to_owned())
        .collect()
    }
}

fn sender_role(args: &SenderArgs) -> Result<(), String> {
    let exporter = Exporter::Grpc(args.endpoint.clone());
    let side: Box<dyn Instruments> = match args.side {
        Side::Ours => Box::new(OursInstruments::new(&exporter)?),
        Side::Baseline => Box::new(BaselineInstruments::new(&exporter)?),
    };
    let rss = || resident_bytes().unwrap_or(0);
    let before = rss();
    let start = Instant::now();
    for index in 0..args.series {
        side.distinct(args.instrument, index);
    }
    let create = start.elapsed();
    let created = rss();
    let mut flushes = Vec::new();
    for round in 0..2 {
        if round > 0 {
            for index in 0..args.series {
                side.distinct(args.instrument, index);
            }
        }
        let (cpu, start) = (own_cpu(), Instant::now());
        side.flush()?;
        let (wall, cpu) = (start.elapsed(), own_cpu() - cpu);
        flushes.push(json!({
            "cpu_ns": cpu.as_nanos() as u64,
            "wall_ns": wall.as_nanos() as u64,
        }));
    }
    let exported = rss();
    side.shutdown()?;
    let result = json!({
        "rss_before": before,
        "rss_created": created,
        "rss_exported": exported,
        "create_ns": create.as_nanos() as u64,
        "flushes": flushes,
    });
    println!("result {result}");
    Ok(())
}

// The coordinator's side of the children.

struct ReceiverProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    endpoint: String,
}

#[derive(Clone, Copy, Debug, Default)]
struct ReceiverCounts {
    points: u64,
    requests: u64,
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
            .args(["--role", "metrics-receiver"])
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
        let endpoint = line
            .trim()
            .strip_prefix("listening grpc=")
            .ok_or_else(|| format!("the receiver did not start: {line:?}"))?
            .to_owned();
        Ok(ReceiverProcess {
            child,
            stdin,
            stdout,
            endpoint,
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
                "points" => counts.points = value,
                "requests" => counts.requests = value,
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

/// One sender process's figures.
#[derive(Clone, Debug)]
struct SenderRun {
    side: Side,
    instrument: Instrument,
    series: u64,
    rss_before: u64,
    rss_created: u64,
    rss_exported: u64,
    create: Duration,
    /// Per export: CPU, wall.
    flushes: Vec<(Duration, Duration)>,
    /// Data points the receiver counted from this sender.
    received: u64,
    /// The sender process's CPU over its whole life.
    process_cpu: Duration,
}

impl SenderRun {
    fn bytes_per_series(&self) -> f64 {
        self.rss_created.saturating_sub(self.rss_before) as f64 / self.series.max(1) as f64
    }

    fn bytes_per_series_exported(&self) -> f64 {
        self.rss_exported.saturating_sub(self.rss_before) as f64 / self.series.max(1) as f64
    }

    /// Every series in each timed export and in the shutdown's final one.
    fn expected(&self) -> u64 {
        self.series * (self.flushes.len() as u64 + 1)
    }
}

fn run_sender(
    exe: &PathBuf,
    receiver: &mut ReceiverProcess,
    args: &SenderArgs,
) -> Result<SenderRun, String> {
    let before = receiver.counts()?;
    let mut child = child_command(exe)
        .args(args.to_args())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|error| format!("cannot start a sender process: {error}"))?;
    let mut stdout = String::new();
    let read = child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut stdout);
    let usage = reap(&child, SENDER_LIMIT).map_err(|error| format!("wait4: {error}"))?;
    read.map_err(|error| format!("sender stdout: {error}"))?;
    if !usage.status.success() || usage.killed {
        return Err(format!(
            "the {} {} sender failed ({}{})",
            args.side.as_str(),
            args.instrument.as_str(),
            usage.status,
            if usage.killed { ", killed" } else { "" }
        ));
    }
    let result: Value = stdout
        .lines()
        .find_map(|line| line.strip_prefix("result "))
        .ok_or_else(|| format!("the sender printed no result: {stdout:?}"))
        .and_then(|text| serde_json::from_str(text).map_err(|error| error.to_string()))?;
    let number = |value: &Value| value.as_u64().unwrap_or(0);
    let flushes = result["flushes"]
        .as_array()
        .map(|flushes| {
            flushes
                .iter()
                .map(|flush| {
                    (
                        Duration::from_nanos(number(&flush["cpu_ns"])),
                        Duration::from_nanos(number(&flush["wall_ns"])),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut run = SenderRun {
        side: args.side,
        instrument: args.instrument,
        series: args.series,
        rss_before: number(&result["rss_before"]),
        rss_created: number(&result["rss_created"]),
        rss_exported: number(&result["rss_exported"]),
        create: Duration::from_nanos(number(&result["create_ns"])),
        flushes,
        received: 0,
        process_cpu: usage.cpu(),
    };
    let settle = Instant::now();
    loop {
        run.received = receiver.counts()?.points - before.points;
        if run.received >= run.expected() || settle.elapsed() > SETTLE_LIMIT {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(run)
}

/// Median, min and max.
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (median(values.to_vec()), min, max)
}

fn spread_json(values: &[f64]) -> Value {
    let (median, min, max) = spread(values);
    json!({ "median": median, "min": min, "max": max, "runs": values })
}

/// The scenario's results.
pub struct MetricsReport {
    /// Per case: ours' and the baseline's ns/op, one per run.
    ops: Vec<(OpCase, Vec<f64>, Vec<f64>)>,
    senders: Vec<SenderRun>,
    series: u64,
    op_time: Duration,
    runs: usize,
    command: String,
    /// Other processes' share of the machine's CPU while the loops ran.
    others_during_loops: Option<f64>,
}

/// Runs the loops and the sender processes `options.runs` times.
pub fn run(options: &Options) -> Result<MetricsReport, String> {
    let metrics = &options.metrics;
    let nproc = Machine::describe().nproc;
    let ours = OursInstruments::new(&Exporter::Discard)?;
    let baseline = BaselineInstruments::new(&Exporter::Discard)?;
    for side in [&ours as &dyn Instruments, &baseline] {
        for instrument in Instrument::ALL {
            side.existing(instrument, 0);
            side.existing(instrument, 1);
        }
    }
    let mut ops: Vec<(OpCase, Vec<f64>, Vec<f64>)> = OP_CASES
        .iter()
        .map(|&case| (case, Vec::new(), Vec::new()))
        .collect();
    let (busy, cpu, start) = (machine_busy(), own_cpu(), Instant::now());
    for run in 0..options.runs {
        for (index, (case, ours_runs, baseline_runs)) in ops.iter_mut().enumerate() {
            eprint!(
                "compare: metrics [run {}/{}] {}: ",
                run + 1,
                options.runs,
                case.label().replace('`', "")
            );
            for side in Side::order(run + index) {
                let (instruments, runs): (&dyn Instruments, &mut Vec<f64>) = match side {
                    Side::Ours => (&ours, ours_runs),
                    Side::Baseline => (&baseline, baseline_runs),
                };
                let ns = ns_per_op(
                    instruments,
                    case.instrument,
                    case.threads,
                    case.series,
                    metrics.op_time,
                );
                eprint!("{} {ns:.1} ns/op ", side.as_str());
                runs.push(ns);
            }
            eprintln!();
        }
    }
    let others_during_loops = machine_busy().zip(busy).map(|(after, before)| {
        let others = (after.saturating_sub(before)).saturating_sub(own_cpu() - cpu);
        others.as_secs_f64() / (start.elapsed().as_secs_f64() * nproc as f64)
    });
    drop((ours, baseline));

    let exe = std::env::current_exe().map_err(|error| format!("current_exe: {error}"))?;
    let mut receiver = ReceiverProcess::start(&exe)?;
    let mut senders = Vec::new();
    for run in 0..options.runs {
        for (index, instrument) in Instrument::ALL.into_iter().enumerate() {
            for side in Side::order(run + index) {
                let args = SenderArgs {
                    side,
                    instrument,
                    series: metrics.series,
                    endpoint: receiver.endpoint.clone(),
                };
                eprint!(
                    "compare: metrics [run {}/{}] {} series, {} {}: ",
                    run + 1,
                    options.runs,
                    thousands(metrics.series),
                    instrument.as_str(),
                    side.as_str()
                );
                let sender = run_sender(&exe, &mut receiver, &args)?;
                eprintln!(
                    "{:.0} B/series; exports: {}; received {} of {} data points",
                    sender.bytes_per_series(),
                    sender
                        .flushes
                        .iter()
                        .map(|(cpu, wall)| format!(
                            "CPU {:.1} ms (wall {:.1} ms)",
                            cpu.as_secs_f64() * 1e3,
                            wall.as_secs_f64() * 1e3
                        ))
                        .collect::<Vec<_>>()
                        .join(", "),
                    sender.received,
                    sender.expected()
                );
                senders.push(sender);
            }
        }
    }
    receiver.stop();
    Ok(MetricsReport {
        ops,
        senders,
        series: metrics.series,
        op_time: metrics.op_time,
        runs: options.runs,
        command: command_line(&metrics_only_arguments(&options.given)),
        others_during_loops,
    })
}

/// The arguments as given, with `--scenario` naming `metrics` alone: the
/// command that produces this section. `--value-len` is left out: the
/// metrics have no per-span values, and `compare` refuses it with
/// `--scenario metrics` alone.
fn metrics_only_arguments(given: &[String]) -> Vec<String> {
    let mut out = vec!["--scenario".to_owned(), "metrics".to_owned()];
    let mut iter = given.iter();
    while let Some(arg) = iter.next() {
        if arg == "--scenario" || arg == "--value-len" {
            iter.next();
            continue;
        }
        out.push(arg.clone());
    }
    out
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**not met**" }
}

fn spread_text(values: &[f64], decimals: usize) -> String {
    let (median, min, max) = spread(values);
    if values.len() > 1 {
        format!("{median:.decimals$} ({min:.decimals$}–{max:.decimals$})")
    } else {
        format!("{median:.decimals$}")
    }
}

impl MetricsReport {
    fn senders(&self, side: Side, instrument: Instrument) -> Vec<&SenderRun> {
        self.senders
            .iter()
            .filter(|run| run.side == side && run.instrument == instrument)
            .collect()
    }

    fn figures(
        &self,
        side: Side,
        instrument: Instrument,
        figure: impl Fn(&SenderRun) -> f64,
    ) -> Vec<f64> {
        self.senders(side, instrument)
            .into_iter()
            .map(figure)
            .collect()
    }

    fn flush_figures(
        &self,
        side: Side,
        instrument: Instrument,
        flush: usize,
        wall: bool,
    ) -> Vec<f64> {
        self.figures(side, instrument, |run| {
            run.flushes
                .get(flush)
                .map(|(cpu, elapsed)| if wall { *elapsed } else { *cpu })
                .unwrap_or_default()
                .as_secs_f64()
                * 1e3
        })
    }

    /// Whether every sender's exports reached the receiver whole.
    fn all_received(&self) -> bool {
        self.senders
            .iter()
            .all(|run| run.received == run.expected())
    }

    /// The section in Markdown.
    pub fn markdown(&self, machine: &Machine) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "### Metrics: counter and histogram, otlp-sdk vs opentelemetry_sdk (issue 17)\n"
        );
        let _ = writeln!(
            out,
            "Measured {}{}; {}; {}.\n",
            machine.summary(),
            match self.others_during_loops {
                Some(share) => format!(
                    "; other processes used {:.0}% of the machine's CPU during the timed loops",
                    share * 100.0
                ),
                None => String::new(),
            },
            machine.source,
            if self.runs == 1 {
                "1 run".to_owned()
            } else {
                format!("{} runs (medians, min–max in brackets)", self.runs)
            },
        );
        if machine.debug_build {
            out.push_str("**Debug build: not a measurement.**\n\n");
        }
        let _ = writeln!(out, "```sh\n{}\n```\n", self.command);
        let _ = writeln!(
            out,
            "Recording on an existing series, three attributes built per call (static keys and \
             values), ns per operation per thread (loops of about {} ms, the sides alternating; \
             median of the runs, min–max in brackets). Goal: ours / baseline ≤ {:.2}x (2x \
             faster).\n",
            self.op_time.as_millis(),
            GOAL_NS_RATIO
        );
        out.push_str(
            "| operation | otlp-sdk ns/op | opentelemetry_sdk ns/op | ours / baseline | goal |\n\
             |---|---:|---:|---:|---|\n",
        );
        for (case, ours, baseline) in &self.ops {
            let r = spread(ours).0 / spread(baseline).0;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                case.label(),
                spread_text(ours, 1),
                spread_text(baseline, 1),
                ratio(r),
                verdict(r <= GOAL_NS_RATIO)
            );
        }
        let _ = writeln!(
            out,
            "\nMemory per series: {} series with distinct attribute sets on one instrument, in a \
             fresh sender process per side, instrument and run; its resident memory \
             (`/proc/self/statm`) from just before the first recording to just after the last, \
             per series; and the same up to just after the two exports below. Goal: ours / \
             baseline < {:.0}x.\n",
            thousands(self.series),
            GOAL_MEMORY_RATIO
        );
        out.push_str(
            "| instrument | otlp-sdk B/series | opentelemetry_sdk B/series | ours / baseline | goal | \
             after 2 exports: otlp-sdk | opentelemetry_sdk | ours / baseline |\n\
             |---|---:|---:|---:|---|---:|---:|---:|\n",
        );
        for instrument in Instrument::ALL {
            let ours = self.figures(Side::Ours, instrument, SenderRun::bytes_per_series);
            let theirs = self.figures(Side::Baseline, instrument, SenderRun::bytes_per_series);
            let ours_after =
                self.figures(Side::Ours, instrument, SenderRun::bytes_per_series_exported);
            let theirs_after = self.figures(
                Side::Baseline,
                instrument,
                SenderRun::bytes_per_series_exported,
            );
            let r = spread(&ours).0 / spread(&theirs).0;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                instrument.as_str(),
                spread_text(&ours, 0),
                spread_text(&theirs, 0),
                ratio(r),
                verdict(r < GOAL_MEMORY_RATIO),
                spread_text(&ours_after, 0),
                spread_text(&theirs_after, 0),
                ratio(spread(&ours_after).0 / spread(&theirs_after).0),
            );
        }
        let _ = writeln!(
            out,
            "\nCollect and export {} series over OTLP/gRPC to a receiver in its own process that \
             decodes every request: the sender process's CPU (user + system, all threads) and \
             wall time from just before `force_flush()` to its return (collect, build and encode \
             the request, send it, wait for the answer); ms. Ours: otlp-sdk's `PeriodicReader` \
             with otlp-exporter-grpc; baseline: the SDK's `PeriodicReader` with \
             `opentelemetry-otlp`'s tonic `MetricExporter`; both cumulative. The second export \
             follows one more recording per series.\n",
            thousands(self.series)
        );
        out.push_str(
            "| instrument | export | otlp-sdk CPU ms | opentelemetry_sdk CPU ms | ours / baseline | \
             otlp-sdk wall ms | opentelemetry_sdk wall ms |\n\
             |---|---|---:|---:|---:|---:|---:|\n",
        );
        for instrument in Instrument::ALL {
            for (flush, name) in ["first", "second"].into_iter().enumerate() {
                let ours = self.flush_figures(Side::Ours, instrument, flush, false);
                let theirs = self.flush_figures(Side::Baseline, instrument, flush, false);
                let _ = writeln!(
                    out,
                    "| {} | {name} | {} | {} | {} | {} | {} |",
                    instrument.as_str(),
                    spread_text(&ours, 1),
                    spread_text(&theirs, 1),
                    ratio(spread(&ours).0 / spread(&theirs).0),
                    spread_text(&self.flush_figures(Side::Ours, instrument, flush, true), 1),
                    spread_text(
                        &self.flush_figures(Side::Baseline, instrument, flush, true),
                        1
                    ),
                );
            }
        }
        let _ = writeln!(
            out,
            "\n{}",
            if self.all_received() {
                format!(
                    "The receiver decoded every data point of every export on both sides ({} per \
                     export; two timed, and the final one of shutdown).",
                    thousands(self.series)
                )
            } else {
                "**Some exports did not reach the receiver whole** (see the JSON's `received`)."
                    .to_owned()
            }
        );
        out
    }

    /// The section as JSON.
    pub fn json(&self) -> Value {
        let ops: Vec<Value> = self
            .ops
            .iter()
            .map(|(case, ours, baseline)| {
                let r = spread(ours).0 / spread(baseline).0;
                json!({
                    "instrument": case.instrument.as_str(),
                    "threads": case.threads,
                    "series": case.series_name(),
                    "ours_ns_per_op": spread_json(ours),
                    "baseline_ns_per_op": spread_json(baseline),
                    "ratio": r,
                    "goal_ratio": GOAL_NS_RATIO,
                    "goal_met": r <= GOAL_NS_RATIO,
                })
            })
            .collect();
        let memory: Vec<Value> = Instrument::ALL
            .into_iter()
            .map(|instrument| {
                let ours = self.figures(Side::Ours, instrument, SenderRun::bytes_per_series);
                let theirs = self.figures(Side::Baseline, instrument, SenderRun::bytes_per_series);
                let r = spread(&ours).0 / spread(&theirs).0;
                json!({
                    "instrument": instrument.as_str(),
                    "ours_bytes_per_series": spread_json(&ours),
                    "baseline_bytes_per_series": spread_json(&theirs),
                    "ratio": r,
                    "goal_met": r < GOAL_MEMORY_RATIO,
                    "ours_bytes_per_series_after_exports": spread_json(
                        &self.figures(Side::Ours, instrument, SenderRun::bytes_per_series_exported)),
                    "baseline_bytes_per_series_after_exports": spread_json(
                        &self.figures(Side::Baseline, instrument, SenderRun::bytes_per_series_exported)),
                })
            })
            .collect();
        let mut export = Vec::new();
        for instrument in Instrument::ALL {
            for (flush, name) in ["first", "second"].into_iter().enumerate() {
                let ours = self.flush_figures(Side::Ours, instrument, flush, false);
                let theirs = self.flush_figures(Side::Baseline, instrument, flush, false);
                export.push(json!({
                    "instrument": instrument.as_str(),
                    "export": name,
                    "ours_cpu_ms": spread_json(&ours),
                    "baseline_cpu_ms": spread_json(&theirs),
                    "ratio": spread(&ours).0 / spread(&theirs).0,
                    "ours_wall_ms": spread_json(&self.flush_figures(Side::Ours, instrument, flush, true)),
                    "baseline_wall_ms": spread_json(&self.flush_figures(Side::Baseline, instrument, flush, true)),
                }));
            }
        }
        let senders: Vec<Value> = self
            .senders
            .iter()
            .map(|run| {
                json!({
                    "side": run.side.as_str(),
                    "instrument": run.instrument.as_str(),
                    "series": run.series,
                    "rss_before": run.rss_before,
                    "rss_created": run.rss_created,
                    "rss_exported": run.rss_exported,
                    "create_ns_per_series": run.create.as_nanos() as f64 / run.series.max(1) as f64,
                    "export_cpu_ms": run.flushes.iter().map(|(cpu, _)| cpu.as_secs_f64() * 1e3).collect::<Vec<_>>(),
                    "export_wall_ms": run.flushes.iter().map(|(_, wall)| wall.as_secs_f64() * 1e3).collect::<Vec<_>>(),
                    "received": run.received,
                    "expected": run.expected(),
                    "process_cpu_ms": run.process_cpu.as_secs_f64() * 1e3,
                })
            })
            .collect();
        json!({
            "scenario": "metrics",
            "command": self.command,
            "series": self.series,
            "op_time_ms": self.op_time.as_secs_f64() * 1e3,
            "runs": self.runs,
            "others_share_during_loops": self.others_during_loops,
            "ns_per_op": ops,
            "memory": memory,
            "export": export,
            "all_received": self.all_received(),
            "senders": senders,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_arguments_round_trip() {
        let args = SenderArgs {
            side: Side::Baseline,
            instrument: Instrument::Histogram,
            series: 123,
            endpoint: "http://127.0.0.1:4317".into(),
        };
        assert_eq!(SenderArgs::parse(&args.to_args()), Ok(args));
    }

    #[test]
    fn the_section_command_names_metrics_alone() {
        let given: Vec<String> = ["--scenario", "steady,metrics", "--repeat", "2"]
            .iter()
            .map(|arg| (*arg).to_owned())
            .collect();
        assert_eq!(
            metrics_only_arguments(&given),
            ["--scenario", "metrics", "--repeat", "2"]
        );
        // The section's command runs as printed: without the values'
        // length, which metrics alone refuse.
        let given: Vec<String> = [
            "--scenario",
            "steady,metrics",
            "--value-len",
            "40",
            "--json",
        ]
        .iter()
        .map(|arg| (*arg).to_owned())
        .collect();
        let alone = metrics_only_arguments(&given);
        assert_eq!(alone, ["--scenario", "metrics", "--json"]);
        assert!(crate::args::parse(alone).is_ok());
        assert!(
            crate::args::parse(
                ["--scenario", "metrics", "--value-len", "40"]
                    .map(String::from)
                    .to_vec()
            )
            .is_err()
        );
    }

    #[test]
    fn sides_alternate_which_goes_first() {
        assert_eq!(Side::order(0), [Side::Ours, Side::Baseline]);
        assert_eq!(Side::order(1), [Side::Baseline, Side::Ours]);
    }
}
