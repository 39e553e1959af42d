//! The coordinator of the burst: one receiver process for the whole
//! comparison, then one sender process per row and run, one at a time. The
//! receiver process and the measurement of one sender are shared with the
//! other scenarios ([`crate::field`]).

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use otlp_benches::end_to_end::{Endpoints, Shape, Transport};

use crate::args::{Options, Queue, Scenario, receiver_command_line, sender_command_line};
use crate::durable::DurableDir;
use crate::memory::MemorySample;
use crate::process::{ChildUsage, machine_busy, reap};
use crate::roles::{
    CallTimes, Front, Implementation, Load, ReceiverStats, ReceiverStore, SenderArgs, SenderReport,
};

/// The row indices of `runs` runs over `rows` rows: every row once per run,
/// each run starting one row further, so that no row always follows the same one.
pub fn rotation(rows: usize, runs: usize) -> impl Iterator<Item = usize> {
    (0..runs).flat_map(move |run| (0..rows).map(move |offset| (offset + run) % rows))
}

/// After a sender exits, the receiver's count must stay still this long
/// before the row is settled (unless every span has arrived).
const SETTLE_QUIET: Duration = Duration::from_millis(300);
/// ...and the coordinator waits at most this long for it.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);
/// How long a sender may live beyond its shutdown bound before it is killed.
const SENDER_GRACE: Duration = Duration::from_secs(60);
/// How long a sender may take to start producing.
const START_LIMIT: Duration = Duration::from_secs(30);
/// While the receiver refuses for a whole load, each refusal lasts this
/// long...
const REFUSAL_STEP: Duration = Duration::from_secs(1);
/// ...and is renewed this often until the sender says `loaded`, so that the
/// receiver is back at most [`REFUSAL_STEP`] later.
const REFUSAL_RENEW: Duration = Duration::from_millis(250);
/// The longest a sender may take to make its load while the receiver refuses.
const LOAD_LIMIT: Duration = Duration::from_secs(300);

/// One row of the table: which SDK, which transport, which queue. The
/// control row ([`Implementation::Workload`]) sends nothing; it carries the
/// first transport only because every sender is given one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowSpec {
    /// The SDK.
    pub implementation: Implementation,
    /// The transport.
    pub transport: Transport,
    /// The baseline's queue; `None` for ours (always its defaults).
    pub queue: Option<Queue>,
}

/// The rows `options` ask for, per transport: ours, ours with the durable
/// queue (unless `--no-durable`), then the baseline per queue; then the one
/// control row (workload only), which serves every transport.
pub fn rows(options: &Options) -> Vec<RowSpec> {
    let mut rows = Vec::new();
    for &transport in &options.transports {
        rows.push(RowSpec {
            implementation: Implementation::OtlpRust,
            transport,
            queue: None,
        });
        if options.durable {
            rows.push(RowSpec {
                implementation: Implementation::OtlpRustDurable,
                transport,
                queue: None,
            });
        }
        for &queue in &options.queues {
            rows.push(RowSpec {
                implementation: Implementation::OpenTelemetry,
                transport,
                queue: Some(queue),
            });
        }
    }
    if let Some(&transport) = options.transports.first() {
        rows.push(RowSpec {
            implementation: Implementation::Workload,
            transport,
            queue: None,
        });
    }
    rows
}

/// One sender run, as measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Spans the sender produced.
    pub produced: u64,
    /// The application's spans the receiver counted from this sender.
    pub delivered: u64,
    /// Of those, the spans counted once each by their ids, when the receiver
    /// tells them apart (`--receiver distinct`, the outage's default).
    pub distinct: Option<u64>,
    /// Other spans the receiver counted from this sender (what its
    /// pipeline's own threads recorded; only a decoding receiver tells them
    /// apart, see [`ReceiverStats::app_spans`]).
    pub other_spans: u64,
    /// The producer's time in span calls, if it timed them.
    pub calls: Option<CallTimes>,
    /// CPU time of the producer threads, all together, while they produced.
    pub producer_cpu: Duration,
    /// From the first span to the last span the receiver counted.
    pub elapsed: Duration,
    /// From the first span to the last span ended (the producer's loop).
    pub produce_time: Duration,
    /// From the first span to the return of shutdown.
    pub until_shutdown: Duration,
    /// The sender process's CPU time and peak RSS, from `wait4`.
    pub usage: ChildUsage,
    /// CPU time the receiver process used meanwhile.
    pub receiver_cpu: Duration,
    /// CPU time the rest of the machine used meanwhile: everything the
    /// kernel counted as busy, less the sender and the receiver (other
    /// programs competing for the cores, the coordinator; `None` if unknown).
    pub others_cpu: Option<Duration>,
    /// Wall time over which `others_cpu` was measured (sender start to
    /// settled count).
    pub window: Duration,
    /// Requests the receiver got from this sender.
    pub requests: u64,
    /// Requests the receiver refused (should be 0).
    pub bad_requests: u64,
    /// The sender's shutdown error, if any.
    pub shutdown_error: Option<String>,
    /// otlp-sdk's accounting (ours only).
    pub pipeline_stats: serde_json::Value,
    /// The sender's memory and what its pipeline held after the load (the
    /// memory scenario).
    pub memory: Option<MemorySample>,
}

impl Measurement {
    /// Spans produced and never counted by the receiver: exact when the
    /// receiver counted [`distinct`](Self::distinct) spans, else taken from
    /// every span counted, behind which a [`surplus`](Self::surplus) may hide
    /// lost ones.
    pub fn lost(&self) -> u64 {
        self.produced
            .saturating_sub(self.distinct.unwrap_or(self.delivered))
    }

    /// The application's spans the receiver counted beyond those the sender
    /// made, without telling a span delivered twice from another: a request
    /// counted twice (an export retried after the receiver had taken it but
    /// before its answer arrived, as when connections are reset) or spans
    /// from elsewhere. [`lost`](Self::lost) never goes below zero, so a run
    /// with a surplus may hide as many lost spans. With
    /// [`distinct`](Self::distinct) counts, only distinct spans beyond those
    /// made (none but from elsewhere); spans delivered twice are
    /// [`duplicates`](Self::duplicates) then.
    pub fn surplus(&self) -> u64 {
        self.distinct
            .unwrap_or(self.delivered)
            .saturating_sub(self.produced)
    }

    /// Deliveries of spans the receiver had already counted (at-least-once
    /// delivery, not a loss): known only with [`distinct`](Self::distinct)
    /// counts, else 0.
    pub fn duplicates(&self) -> u64 {
        self.distinct
            .map_or(0, |distinct| self.delivered.saturating_sub(distinct))
    }

    /// What went wrong in this run, for the tables' problems: requests the
    /// receiver refused, a [`surplus`](Self::surplus), spans delivered twice,
    /// the shutdown's error.
    pub fn problems(&self) -> Vec<String> {
        let bad = (self.bad_requests > 0).then(|| format!("{} bad requests", self.bad_requests));
        let surplus = (self.surplus() > 0).then(|| match self.distinct {
            None => format!(
                "{} spans counted beyond the {} made (counted twice? lost spans may hide behind them)",
                crate::format::thousands(self.surplus()),
                crate::format::thousands(self.produced),
            ),
            Some(_) => format!(
                "{} distinct spans counted beyond the {} made (from elsewhere)",
                crate::format::thousands(self.surplus()),
                crate::format::thousands(self.produced),
            ),
        });
        let duplicates = (self.duplicates() > 0).then(|| {
            format!(
                "{} spans delivered twice (at-least-once: an export retried after the receiver \
                 had taken it; not lost, none hidden)",
                crate::format::thousands(self.duplicates()),
            )
        });
        let shutdown = self
            .shutdown_error
            .as_ref()
            .map(|error| format!("shutdown: {error}"));
        bad.into_iter()
            .chain(surplus)
            .chain(duplicates)
            .chain(shutdown)
            .collect()
    }

    /// Delivered spans per second of [`elapsed`](Self::elapsed).
    pub fn delivered_per_second(&self) -> f64 {
        if self.delivered == 0 || self.elapsed.is_zero() {
            return 0.0;
        }
        self.delivered as f64 / self.elapsed.as_secs_f64()
    }
}

/// The receiver child process and its command channel.
pub struct ReceiverProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    endpoints: Endpoints,
}

impl ReceiverProcess {
    /// Starts the receiver role with `threads` workers, keeping `store`,
    /// answering every request after `answer_delay` (if any).
    pub fn start(
        exe: &PathBuf,
        threads: usize,
        store: ReceiverStore,
        answer_delay: Option<Duration>,
    ) -> Result<Self, String> {
        let mut child = child_command(exe)
            .args(receiver_command_line(threads, store, answer_delay))
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
        let endpoints = parse_listening(line.trim())?;
        Ok(ReceiverProcess {
            child,
            stdin,
            stdout,
            endpoints,
        })
    }

    /// Where it listens.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Sends one command line and reads the one-line answer.
    fn ask(&mut self, command: &str) -> Result<String, String> {
        writeln!(self.stdin, "{command}")
            .and_then(|()| self.stdin.flush())
            .map_err(|error| format!("receiver stdin: {error}"))?;
        let mut line = String::new();
        let read = self
            .stdout
            .read_line(&mut line)
            .map_err(|error| format!("receiver stdout: {error}"))?;
        if read == 0 {
            return Err("the receiver process exited".into());
        }
        Ok(line.trim().to_owned())
    }

    fn stats(&mut self) -> Result<ReceiverStats, String> {
        ReceiverStats::parse(&self.ask("stats")?)
    }

    /// Makes the receiver refuse connections for `duration`; returns once
    /// its listeners are closed.
    fn refuse(&mut self, duration: Duration) -> Result<(), String> {
        match self
            .ask(&format!("refuse {}", duration.as_millis()))?
            .as_str()
        {
            "refusing" => Ok(()),
            other => Err(format!("the receiver did not refuse: {other:?}")),
        }
    }

    /// Closes its stdin and waits for it to exit.
    pub fn stop(mut self) {
        drop(self.stdin);
        let _ = self.child.wait();
    }
}

/// Reads `listening grpc=URL http=URL`.
fn parse_listening(line: &str) -> Result<Endpoints, String> {
    let mut grpc = None;
    let mut http = None;
    for field in line
        .strip_prefix("listening ")
        .ok_or_else(|| format!("the receiver did not start: {line:?}"))?
        .split_whitespace()
    {
        match field.split_once('=') {
            Some(("grpc", url)) => grpc = Some(url.to_owned()),
            Some(("http", url)) => http = Some(url.to_owned()),
            _ => {}
        }
    }
    Ok(Endpoints {
        grpc: grpc.ok_or("the receiver has no gRPC listener")?,
        http: http.ok_or("the receiver has no HTTP listener")?,
    })
}

/// This binary, with an environment cleared of the variables that would
/// change either SDK's settings (`OTEL_*`, `OTLP__*`): every row runs with
/// the settings this program gives it.
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

/// Runs every row `options.runs` times and returns the measurements, per
/// row in table order. Progress goes to stderr.
pub fn run(options: &Options) -> Result<Vec<(RowSpec, Vec<Measurement>)>, String> {
    let exe = std::env::current_exe().map_err(|error| format!("current_exe: {error}"))?;
    let mut receiver = ReceiverProcess::start(
        &exe,
        options.receiver_threads,
        options.store_for(Scenario::Burst),
        None,
    )?;
    let rows = rows(options);
    let mut results: Vec<(RowSpec, Vec<Measurement>)> =
        rows.iter().map(|&row| (row, Vec::new())).collect();
    let total = rows.len() * options.runs;
    let mut done = 0;
    for index in rotation(rows.len(), options.runs) {
        let row = rows[index];
        done += 1;
        if row.implementation == Implementation::Workload {
            eprint!("compare: [{done}/{total}] workload only (no SDK): ");
        } else {
            eprint!(
                "compare: [{done}/{total}] {} {} {}: ",
                row.implementation.as_str(),
                row.transport,
                row.queue
                    .map(|queue| format!("queue {}", queue.capacity()))
                    .unwrap_or_else(|| "defaults".into()),
            );
        }
        let args = SenderArgs {
            implementation: row.implementation,
            transport: row.transport,
            endpoints: receiver.endpoints.clone(),
            load: Load::Burst {
                spans: options.spans,
            },
            front: Front::Native,
            threads: 1,
            shape: Shape::Flat,
            timed: false,
            memory: false,
            durable_dir: None,
            queue: match row.queue {
                None | Some(Queue::Default) => None,
                Some(Queue::Size(size)) => Some(size),
            },
            values: options.values,
            value_len: options.value_len,
            shutdown_timeout: options.shutdown_timeout,
        };
        let measurement = measure(&exe, &mut receiver, &args, None)?;
        if row.implementation == Implementation::Workload {
            eprintln!(
                "CPU {:.2} s, produced in {:.2} s",
                measurement.usage.cpu().as_secs_f64(),
                measurement.produce_time.as_secs_f64(),
            );
        } else {
            eprintln!(
                "{:.0} spans/s delivered, {} lost, CPU {:.2} s, peak RSS {:.1} MB",
                measurement.delivered_per_second(),
                measurement.lost(),
                measurement.usage.cpu().as_secs_f64(),
                measurement.usage.peak_rss_bytes as f64 / MIB,
            );
        }
        results[index].1.push(measurement);
    }
    receiver.stop();
    Ok(results)
}

/// Bytes per MB in the report (MiB: `ru_maxrss` / 1024).
pub const MIB: f64 = (1 << 20) as f64;

/// When the receiver refuses connections during a sender's run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An outage: from `after` the sender starts producing, for `length`.
    Outage {
        /// How long after the sender starts producing it begins.
        after: Duration,
        /// How long it lasts.
        length: Duration,
    },
    /// From before the sender starts until it says `loaded` (the
    /// `--memory` sender, once its load is made and its memory noted), and
    /// at most [`REFUSAL_STEP`] longer: the sender's shutdown finds the
    /// receiver back.
    WholeLoad,
}

/// One sender process, start to finish, and what the receiver counted from
/// it; with a `refusal`, the receiver refuses connections during the run. A
/// durable row's sender gets a fresh directory ([`DurableDir`]), removed
/// once the sender is reaped.
pub fn measure(
    exe: &PathBuf,
    receiver: &mut ReceiverProcess,
    args: &SenderArgs,
    refusal: Option<Refusal>,
) -> Result<Measurement, String> {
    let durable_dir = match args.implementation {
        Implementation::OtlpRustDurable => Some(DurableDir::fresh()?),
        _ => None,
    };
    let args = &SenderArgs {
        durable_dir: durable_dir.as_ref().map(|dir| dir.path().to_owned()),
        ..args.clone()
    };
    let before = receiver.stats()?;
    let busy_before = machine_busy();
    let window_start = Instant::now();
    if refusal == Some(Refusal::WholeLoad) {
        receiver.refuse(REFUSAL_STEP)?;
    }
    let mut child = child_command(exe)
        .args(sender_command_line(args))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|error| format!("cannot start a sender process: {error}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    // The sender's progress lines (`producing`, `loaded`), as they come.
    let (progress, events) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut output = String::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line == "producing" || line == "loaded" {
                let _ = progress.send((line.clone(), Instant::now()));
            }
            output.push_str(&line);
            output.push('\n');
        }
        output
    });
    let refusal_error = match refusal {
        None => None,
        Some(Refusal::Outage { after, length }) => match events.recv_timeout(START_LIMIT) {
            Ok((_, at)) => {
                std::thread::sleep(after.saturating_sub(at.elapsed()));
                receiver.refuse(length).err()
            }
            Err(_) => Some("the sender never started producing".to_owned()),
        },
        Some(Refusal::WholeLoad) => refuse_until_loaded(receiver, &events).err(),
    };
    let usage = reap(&child, args.shutdown_timeout + SENDER_GRACE)
        .map_err(|error| format!("wait4: {error}"))?;
    if let Some(error) = refusal_error {
        return Err(format!("refusing connections to {args:?}: {error}"));
    }
    let output = reader.join().unwrap_or_default();
    if usage.killed || !usage.status.success() {
        return Err(format!(
            "the sender {args:?} failed ({}{}); output: {output}",
            usage.status,
            if usage.killed {
                ", killed at its deadline"
            } else {
                ""
            }
        ));
    }
    let report = SenderReport::parse(&output)?;

    // Shutdown returned once every export was answered, and the receiver
    // counts a request before answering it; wait a little for stragglers
    // all the same (a shutdown that timed out may leave some in flight).
    // The control sends nothing: nothing to wait for.
    let settle_start = Instant::now();
    let mut after = receiver.stats()?;
    let mut quiet_since = Instant::now();
    let counted = |stats: &ReceiverStats| stats.distinct_app_spans.unwrap_or(stats.app_spans);
    while args.implementation != Implementation::Workload
        && counted(&after) - counted(&before) < report.produced
        && quiet_since.elapsed() < SETTLE_QUIET
        && settle_start.elapsed() < SETTLE_LIMIT
    {
        std::thread::sleep(Duration::from_millis(20));
        let now = receiver.stats()?;
        if now.spans != after.spans {
            quiet_since = Instant::now();
        }
        after = now;
    }
    let busy_after = machine_busy();
    let window = window_start.elapsed();
    let receiver_cpu = Duration::from_nanos(after.cpu_ns.saturating_sub(before.cpu_ns));
    let others_cpu = busy_before.zip(busy_after).map(|(before, after)| {
        after
            .saturating_sub(before)
            .saturating_sub(usage.cpu())
            .saturating_sub(receiver_cpu)
    });
    let delivered = after.app_spans - before.app_spans;
    let distinct = after
        .distinct_app_spans
        .zip(before.distinct_app_spans)
        .map(|(after, before)| after - before);
    let other_spans = (after.spans - before.spans).saturating_sub(delivered);
    let elapsed = if delivered == 0 {
        Duration::ZERO
    } else {
        Duration::from_nanos(after.last_change_ns.saturating_sub(report.start_ns))
    };
    Ok(Measurement {
        produced: report.produced,
        delivered,
        distinct,
        other_spans,
        calls: report.calls,
        producer_cpu: Duration::from_nanos(report.producer_cpu_ns),
        elapsed,
        produce_time: Duration::from_nanos(report.produced_ns.saturating_sub(report.start_ns)),
        until_shutdown: Duration::from_nanos(report.shutdown_ns.saturating_sub(report.start_ns)),
        usage,
        receiver_cpu,
        others_cpu,
        window,
        requests: after.requests - before.requests,
        bad_requests: after.bad_requests - before.bad_requests,
        shutdown_error: report.shutdown_error,
        pipeline_stats: report.pipeline_stats,
        memory: report.memory,
    })
}

/// Keeps the receiver refusing, in steps of [`REFUSAL_STEP`], until the
/// sender says `loaded` (or its output ends).
fn refuse_until_loaded(
    receiver: &mut ReceiverProcess,
    events: &mpsc::Receiver<(String, Instant)>,
) -> Result<(), String> {
    let started = Instant::now();
    loop {
        match events.recv_timeout(REFUSAL_RENEW) {
            Ok((line, _)) if line == "loaded" => return Ok(()),
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err("the sender ended before it said `loaded`".into());
            }
        }
        if started.elapsed() > LOAD_LIMIT {
            return Err(format!(
                "the sender did not make its load within {} s",
                LOAD_LIMIT.as_secs()
            ));
        }
        receiver.refuse(REFUSAL_STEP)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_line_names_both_endpoints() {
        let endpoints =
            parse_listening("listening grpc=http://127.0.0.1:1 http=http://127.0.0.1:2")
                .expect("valid");
        assert_eq!(endpoints.grpc, "http://127.0.0.1:1");
        assert_eq!(endpoints.http_traces_url(), "http://127.0.0.1:2/v1/traces");
        assert!(parse_listening("error: port taken").is_err());
    }

    #[test]
    fn each_run_visits_every_row_once_starting_one_row_further() {
        let order: Vec<usize> = super::rotation(3, 2).collect();
        assert_eq!(order, [0, 1, 2, 1, 2, 0]);
        assert_eq!(super::rotation(0, 3).count(), 0);
    }
}
