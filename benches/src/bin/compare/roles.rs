//! The two child roles the coordinator starts by running this binary again.
//!
//! - `--role receiver`: an `otlp_contrib::receiver::Receiver` with
//!   `Store::CountOnly` (spans counted by walking the protobuf, nothing
//!   decoded into structs) on free loopback ports. It prints
//!   `listening grpc=URL http=URL`, then answers each `stats` line on stdin
//!   with one `stats ...` line (see [`ReceiverStats`]) and exits at stdin EOF.
//! - `--role sender`: one pipeline ([`SenderArgs`]) producing the spans on
//!   its main thread, then shutting down; it prints one `result {json}` line
//!   ([`SenderReport`]) and exits.

use std::io::{BufRead as _, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use otlp_benches::end_to_end::{
    BaselineSender, Endpoints, OursSender, Producer, Sender, Transport,
};
use otlp_benches::hot_path::ValueKind;
use otlp_contrib::receiver::{Receiver, ReceiverConfig, Store};
use serde_json::{Value, json};

use crate::process::{monotonic_ns, own_cpu};

/// How often the receiver notes whether its span count changed: the
/// resolution of the "last span counted" time.
const WATCH_INTERVAL: Duration = Duration::from_millis(1);

/// The receiver's span count and when it last changed.
#[derive(Debug, Default)]
struct LastChange {
    spans: u64,
    at_ns: u64,
}

/// Notes the current count; a change is stamped with the current time.
fn observe(receiver: &Receiver, last: &Mutex<LastChange>) -> (u64, u64) {
    let mut last = last.lock().expect("no observer panics");
    let spans = receiver.span_count();
    if spans != last.spans {
        last.spans = spans;
        last.at_ns = monotonic_ns();
    }
    (last.spans, last.at_ns)
}

/// Runs the receiver role until stdin closes.
pub fn receiver(worker_threads: usize) -> Result<(), String> {
    let receiver = Arc::new(
        Receiver::start(ReceiverConfig {
            store: Store::CountOnly,
            worker_threads,
            ..ReceiverConfig::default()
        })
        .map_err(|error| format!("cannot start the receiver: {error}"))?,
    );
    let endpoints = Endpoints::of(&receiver);
    let last = Arc::new(Mutex::new(LastChange::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (receiver, last, stop) = (receiver.clone(), last.clone(), stop.clone());
        std::thread::Builder::new()
            .name("count-watcher".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    observe(&receiver, &last);
                    std::thread::sleep(WATCH_INTERVAL);
                }
            })
            .map_err(|error| format!("cannot start the count watcher: {error}"))?
    };

    let mut stdout = std::io::stdout().lock();
    let say = |stdout: &mut std::io::StdoutLock<'_>, line: String| {
        writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .map_err(|error| format!("stdout: {error}"))
    };
    say(
        &mut stdout,
        format!("listening grpc={} http={}", endpoints.grpc, endpoints.http),
    )?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|error| format!("stdin: {error}"))?;
        match line.trim() {
            "stats" => {
                let (spans, last_change_ns) = observe(&receiver, &last);
                let stats = receiver.stats();
                let reply = ReceiverStats {
                    spans,
                    requests: stats.requests,
                    bad_requests: stats.bad_requests,
                    faulted_requests: stats.faulted_requests,
                    last_change_ns,
                    cpu_ns: own_cpu().as_nanos() as u64,
                };
                say(&mut stdout, reply.to_line())?;
            }
            "" => {}
            other => eprintln!("compare receiver: unknown command {other:?}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    receiver.shutdown();
    Ok(())
}

/// One answer of the receiver role to `stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Spans counted in accepted requests, since the receiver started.
    pub spans: u64,
    /// Requests received (bad ones included).
    pub requests: u64,
    /// Requests refused as bad input.
    pub bad_requests: u64,
    /// Requests answered with a fault (none: no fault is scripted).
    pub faulted_requests: u64,
    /// `CLOCK_MONOTONIC` when the span count last changed (0: never).
    pub last_change_ns: u64,
    /// CPU time the receiver process has used so far.
    pub cpu_ns: u64,
}

impl ReceiverStats {
    /// `stats spans=N requests=N bad=N faulted=N last_change_ns=N cpu_ns=N`.
    pub fn to_line(self) -> String {
        format!(
            "stats spans={} requests={} bad={} faulted={} last_change_ns={} cpu_ns={}",
            self.spans,
            self.requests,
            self.bad_requests,
            self.faulted_requests,
            self.last_change_ns,
            self.cpu_ns
        )
    }

    /// Reads a line written by [`to_line`](Self::to_line).
    pub fn parse(line: &str) -> Result<Self, String> {
        let fields = line
            .strip_prefix("stats ")
            .ok_or_else(|| format!("not a stats line: {line:?}"))?;
        let mut stats = ReceiverStats::default();
        for field in fields.split_whitespace() {
            let (name, value) = field
                .split_once('=')
                .ok_or_else(|| format!("bad field {field:?} in {line:?}"))?;
            let value: u64 = value
                .parse()
                .map_err(|_| format!("bad number in {field:?}"))?;
            match name {
                "spans" => stats.spans = value,
                "requests" => stats.requests = value,
                "bad" => stats.bad_requests = value,
                "faulted" => stats.faulted_requests = value,
                "last_change_ns" => stats.last_change_ns = value,
                "cpu_ns" => stats.cpu_ns = value,
                _ => {}
            }
        }
        Ok(stats)
    }
}

/// Which SDK a sender runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Implementation {
    /// otlp-sdk with our exporters, default settings.
    OtlpRust,
    /// opentelemetry_sdk with opentelemetry-otlp.
    OpenTelemetry,
}

impl Implementation {
    /// The name on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Implementation::OtlpRust => "otlp-rust",
            Implementation::OpenTelemetry => "opentelemetry",
        }
    }

    /// Reads a command-line name.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "otlp-rust" => Ok(Implementation::OtlpRust),
            "opentelemetry" => Ok(Implementation::OpenTelemetry),
            other => Err(format!(
                "unknown implementation {other:?} (otlp-rust or opentelemetry)"
            )),
        }
    }
}

/// What one sender process does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderArgs {
    /// The SDK.
    pub implementation: Implementation,
    /// The transport.
    pub transport: Transport,
    /// The receiver.
    pub endpoints: Endpoints,
    /// Spans to produce.
    pub spans: u64,
    /// The baseline's queue size; `None` is its default. Ours always runs
    /// with its defaults.
    pub queue: Option<usize>,
    /// How attribute values reach the SDK.
    pub values: ValueKind,
    /// The longest the final shutdown may take.
    pub shutdown_timeout: Duration,
}

/// What a sender reports when it is done (times are `CLOCK_MONOTONIC`).
#[derive(Clone, Debug, PartialEq)]
pub struct SenderReport {
    /// Spans produced.
    pub produced: u64,
    /// Just before the first span started.
    pub start_ns: u64,
    /// Just after the last span ended.
    pub produced_ns: u64,
    /// When shutdown returned.
    pub shutdown_ns: u64,
    /// Why shutdown failed, if it did.
    pub shutdown_error: Option<String>,
    /// otlp-sdk's own accounting (`StatsSnapshot` fields); `Null` for the
    /// baseline, which has none.
    pub pipeline_stats: Value,
}

impl SenderReport {
    /// The `result {json}` line.
    pub fn to_line(&self) -> String {
        let json = json!({
            "produced": self.produced,
            "start_ns": self.start_ns,
            "produced_ns": self.produced_ns,
            "shutdown_ns": self.shutdown_ns,
            "shutdown_error": self.shutdown_error,
            "pipeline_stats": self.pipeline_stats,
        });
        format!("result {json}")
    }

    /// Finds and reads the `result` line in a sender's output.
    pub fn parse(output: &str) -> Result<Self, String> {
        let line = output
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("result "))
            .ok_or_else(|| format!("the sender printed no result line: {output:?}"))?;
        let json: Value =
            serde_json::from_str(line).map_err(|error| format!("bad result line: {error}"))?;
        let number = |name: &str| {
            json[name]
                .as_u64()
                .ok_or_else(|| format!("result without {name}: {line}"))
        };
        Ok(SenderReport {
            produced: number("produced")?,
            start_ns: number("start_ns")?,
            produced_ns: number("produced_ns")?,
            shutdown_ns: number("shutdown_ns")?,
            shutdown_error: json["shutdown_error"].as_str().map(str::to_owned),
            pipeline_stats: json["pipeline_stats"].clone(),
        })
    }
}

/// Runs the sender role and prints its report.
pub fn sender(args: &SenderArgs) -> Result<(), String> {
    let report = match args.implementation {
        Implementation::OtlpRust => {
            let sender = OursSender::new(args.transport, &args.endpoints)?;
            let mut report = produce_and_shut_down(&sender, args);
            let stats = sender.stats();
            report.pipeline_stats = json!({
                "produced": stats.produced,
                "exported": stats.exported,
                "dropped": stats.dropped,
                "dropped_queue_full": stats.dropped_queue_full,
                "failed": stats.failed,
                "rejected": stats.rejected,
                "queued": stats.queued,
                "in_flight": stats.in_flight,
                "retries": stats.retries,
                "batches": stats.batches,
                "last_error": stats.last_error,
            });
            report
        }
        Implementation::OpenTelemetry => {
            let sender = BaselineSender::new(args.transport, &args.endpoints, args.queue)?;
            produce_and_shut_down(&sender, args)
        }
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", report.to_line())
        .and_then(|()| stdout.flush())
        .map_err(|error| format!("stdout: {error}"))
}

/// One producer thread (this one) records every span, then the pipeline
/// shuts down, exporting what is left.
fn produce_and_shut_down<S: Sender>(sender: &S, args: &SenderArgs) -> SenderReport {
    let mut producer = Producer::new(args.values);
    let start_ns = monotonic_ns();
    producer.produce(sender, args.spans);
    let produced_ns = monotonic_ns();
    let shutdown = sender.shutdown(args.shutdown_timeout);
    let shutdown_ns = monotonic_ns();
    SenderReport {
        produced: producer.produced(),
        start_ns,
        produced_ns,
        shutdown_ns,
        shutdown_error: shutdown.err(),
        pipeline_stats: Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_stats_round_trip_through_their_line() {
        let stats = ReceiverStats {
            spans: 1_000_000,
            requests: 1_954,
            bad_requests: 0,
            faulted_requests: 0,
            last_change_ns: 123_456_789,
            cpu_ns: 42,
        };
        assert_eq!(ReceiverStats::parse(&stats.to_line()), Ok(stats));
        assert!(ReceiverStats::parse("listening grpc=x").is_err());
    }

    #[test]
    fn sender_reports_round_trip_through_their_line() {
        let report = SenderReport {
            produced: 20_000,
            start_ns: 1,
            produced_ns: 2,
            shutdown_ns: 3,
            shutdown_error: Some("timed out".into()),
            pipeline_stats: json!({"exported": 20_000}),
        };
        let output = format!("noise\n{}\n", report.to_line());
        assert_eq!(SenderReport::parse(&output), Ok(report));
        assert!(SenderReport::parse("nothing here").is_err());
    }
}
