//! The two child roles the coordinator starts by running this binary again.
//!
//! - `--role receiver`: an `otlp_contrib::receiver::Receiver` on free
//!   loopback ports, with `Store::CountOnly` (`--store count`: spans counted
//!   by walking the protobuf, nothing decoded into structs) or
//!   `Store::DecodeOnly` (`--store decode`: every request decoded into
//!   `opentelemetry-proto` types and its ids checked, as a collector does)
//!   or the same counting each application span once by its ids too
//!   (`--store distinct`), optionally answering every request after `--answer-delay`. It prints
//!   `listening grpc=URL http=URL`, then answers each line on stdin: `stats`
//!   with one `stats ...` line (see [`ReceiverStats`]), `refuse MS` (refuse
//!   connections for MS milliseconds) with `refusing` once its listeners are
//!   closed. It exits at stdin EOF.
//! - `--role sender`: one pipeline ([`SenderArgs`]) producing the spans on
//!   its main thread (a burst, or paced at a rate: [`Load`]), entering it
//!   through one [`Front`] door, then shutting down (`--impl workload`: the
//!   same producer with no pipeline at all, the control; `--impl
//!   otlp-rust-durable --durable-dir DIR`: ours with the durable queue in
//!   `DIR`); it prints `producing`
//!   when it starts, then one `result {json}` line ([`SenderReport`]) and
//!   exits. With `--memory` it also notes its resident memory before the
//!   pipeline is built, before the load and after it, and what the pipeline
//!   holds then ([`MemorySample`]), and prints `loaded` before it shuts down.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use otlp_benches::end_to_end::{
    BaselineSender, Endpoints, OursSender, Producer, Sender, Shape, Transport, WorkloadOnly,
};
use otlp_benches::fixtures::ValueLen;
use otlp_benches::front_doors::{BridgeSender, LayerSender, TracingSender};
use otlp_benches::hot_path::{SPAN_NAME, ValueKind};
use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig, RequestObserver, Store};
use otlp_sdk::durable::DurableConfig;
use serde_json::{Value, json};

use crate::memory::{CountedBaseline, MemorySample};
use crate::process::{monotonic_ns, own_cpu, resident_bytes, thread_cpu};

/// What the receiver does with each request it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReceiverStore {
    /// `Store::CountOnly`: spans counted by walking the protobuf.
    Count,
    /// `Store::DecodeOnly`: every request decoded into `opentelemetry-proto`
    /// types and checked, as a collector does.
    Decode,
    /// As [`Decode`](Self::Decode), and each application span is also
    /// counted once by its trace and span ids, so a span delivered twice (an
    /// export retried after the receiver had taken it) is told apart from
    /// one lost ([`ReceiverStats::distinct_app_spans`]). The ids seen are kept
    /// for the receiver's life (24 bytes and a hash-set slot per span): the
    /// outage scenario's store, whose refusals make such retries.
    Distinct,
}

impl ReceiverStore {
    /// The name on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReceiverStore::Count => "count",
            ReceiverStore::Decode => "decode",
            ReceiverStore::Distinct => "distinct",
        }
    }

    /// Reads the name given on the command line.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "count" => Ok(ReceiverStore::Count),
            "decode" => Ok(ReceiverStore::Decode),
            "distinct" => Ok(ReceiverStore::Distinct),
            other => Err(format!(
                "unknown receiver {other:?} (count, decode or distinct)"
            )),
        }
    }
}

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

/// Runs the receiver role until stdin closes: see the module docs.
///
/// Decoding, it also counts the application's spans (those named
/// [`SPAN_NAME`]) apart from any other span a sender exports, such as the
/// spans its pipeline's own threads record through a global `tracing`
/// subscriber. Counting, every span is taken for the application's.
pub fn receiver(
    worker_threads: usize,
    store: ReceiverStore,
    answer_delay: Option<Duration>,
) -> Result<(), String> {
    let app_spans = Arc::new(AtomicU64::new(0));
    let distinct = (store == ReceiverStore::Distinct).then(|| Arc::new(DistinctSpans::default()));
    let (store, observer) = match store {
        ReceiverStore::Count => (Store::CountOnly, None),
        ReceiverStore::Decode | ReceiverStore::Distinct => {
            let app_spans = app_spans.clone();
            let distinct = distinct.clone();
            let observer = RequestObserver::new(move |request| {
                if request.answered.is_accepted() {
                    let named = request.spans().filter(|span| span.name == SPAN_NAME);
                    let named = match &distinct {
                        Some(distinct) => distinct.note(named),
                        None => named.count(),
                    };
                    app_spans.fetch_add(named as u64, Ordering::Relaxed);
                }
            });
            (Store::DecodeOnly, Some(observer))
        }
    };
    let counts_apart = observer.is_some();
    let receiver = Arc::new(
        Receiver::start(ReceiverConfig {
            store,
            worker_threads,
            observer,
            ..ReceiverConfig::default()
        })
        .map_err(|error| format!("cannot start the receiver: {error}"))?,
    );
    if let Some(delay) = answer_delay {
        receiver.set_fallback_fault(Some(Fault::Delay(delay)));
    }
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
        let command = line.trim();
        if let Some(millis) = command.strip_prefix("refuse ") {
            let millis = millis
                .trim()
                .parse()
                .map_err(|_| format!("bad command {command:?}"))?;
            receiver.refuse_connections_for(Duration::from_millis(millis));
            say(&mut stdout, "refusing".to_owned())?;
            continue;
        }
        match command {
            "stats" => {
                let (spans, last_change_ns) = observe(&receiver, &last);
                let stats = receiver.stats();
                let reply = ReceiverStats {
                    spans,
                    app_spans: if counts_apart {
                        app_spans.load(Ordering::Relaxed)
                    } else {
                        spans
                    },
                    distinct_app_spans: distinct.as_ref().map(|distinct| distinct.count()),
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

/// The trace and span ids of the application's spans the receiver has
/// counted, to count each span once however often it is delivered.
#[derive(Debug, Default)]
struct DistinctSpans {
    seen: Mutex<std::collections::HashSet<[u8; 24]>>,
    count: AtomicU64,
}

impl DistinctSpans {
    /// Notes one request's application spans; returns how many there were
    /// (each delivery counts here; only new ids count in [`count`](Self::count)).
    fn note<'a>(
        &self,
        spans: impl Iterator<Item = &'a opentelemetry_proto::tonic::trace::v1::Span>,
    ) -> usize {
        let mut seen = self.seen.lock().expect("no observer panics");
        let (mut delivered, mut new) = (0_usize, 0_u64);
        for span in spans {
            delivered += 1;
            let mut ids = [0u8; 24];
            // The receiver checked the ids' lengths (16 and 8 bytes) before
            // it accepted the request; a shorter one is kept zero-padded.
            for (slot, byte) in ids
                .iter_mut()
                .zip(span.trace_id.iter().chain(&span.span_id))
            {
                *slot = *byte;
            }
            if seen.insert(ids) {
                new += 1;
            }
        }
        self.count.fetch_add(new, Ordering::Relaxed);
        delivered
    }

    /// Application spans counted once each so far.
    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// One answer of the receiver role to `stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Spans counted in accepted requests, since the receiver started.
    pub spans: u64,
    /// Of those, the application's (named [`SPAN_NAME`]); all of them when
    /// the receiver only counts.
    pub app_spans: u64,
    /// Of those, how many had trace and span ids not counted before: the
    /// application's spans counted once each (`--store distinct` only).
    pub distinct_app_spans: Option<u64>,
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
    /// `stats spans=N app=N [distinct=N] requests=N bad=N faulted=N
    /// last_change_ns=N cpu_ns=N`.
    pub fn to_line(self) -> String {
        format!(
            "stats spans={} app={}{} requests={} bad={} faulted={} last_change_ns={} cpu_ns={}",
            self.spans,
            self.app_spans,
            self.distinct_app_spans
                .map(|distinct| format!(" distinct={distinct}"))
                .unwrap_or_default(),
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
                "app" => stats.app_spans = value,
                "distinct" => stats.distinct_app_spans = Some(value),
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
    /// The same with the durable queue on, at its defaults (fsync every
    /// second), in the directory [`SenderArgs::durable_dir`].
    OtlpRustDurable,
    /// opentelemetry_sdk with opentelemetry-otlp.
    OpenTelemetry,
    /// The control: the same producer loop with no SDK at all
    /// ([`WorkloadOnly`]); its CPU is the workload both sides pay.
    Workload,
}

impl Implementation {
    /// The name on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Implementation::OtlpRust => "otlp-rust",
            Implementation::OtlpRustDurable => "otlp-rust-durable",
            Implementation::OpenTelemetry => "opentelemetry",
            Implementation::Workload => "workload",
        }
    }

    /// Reads a command-line name.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "otlp-rust" => Ok(Implementation::OtlpRust),
            "otlp-rust-durable" => Ok(Implementation::OtlpRustDurable),
            "opentelemetry" => Ok(Implementation::OpenTelemetry),
            "workload" => Ok(Implementation::Workload),
            other => Err(format!(
                "unknown implementation {other:?} \
                 (otlp-rust, otlp-rust-durable, opentelemetry or workload)"
            )),
        }
    }
}

/// The door a sender's spans enter through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Front {
    /// Each SDK's own tracer: otlp-sdk's for ours, the `opentelemetry` API
    /// (which is the baseline's own) for the baseline.
    Native,
    /// The `opentelemetry` API: for ours, `opentelemetry_sdk`'s provider with
    /// `otlp_contrib::bridge::OtlpSpanProcessor`.
    Api,
    /// `tracing` + `tracing-opentelemetry` (global subscriber) in front of
    /// the `opentelemetry` API.
    Tracing,
    /// `tracing` + `otlp_contrib::tracing::OtlpLayer` (global subscriber)
    /// straight into otlp-sdk's own pipeline (ours only).
    Layer,
    /// `tracing` + `tracing-opentelemetry` (global subscriber) behind
    /// `otlp_benches::logs::documented_filter`, which keeps the exporters'
    /// own crates out, in front of the baseline (the baseline only: ours
    /// record nothing of their own to filter).
    TracingFiltered,
}

impl Front {
    /// The name on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Front::Native => "native",
            Front::Api => "api",
            Front::Tracing => "tracing",
            Front::Layer => "tracing-layer",
            Front::TracingFiltered => "tracing-filtered",
        }
    }

    /// Reads a command-line name.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "native" => Ok(Front::Native),
            "api" => Ok(Front::Api),
            "tracing" => Ok(Front::Tracing),
            "tracing-layer" => Ok(Front::Layer),
            "tracing-filtered" => Ok(Front::TracingFiltered),
            other => Err(format!(
                "unknown front door {other:?} (native, api, tracing, tracing-layer or \
                 tracing-filtered)"
            )),
        }
    }
}

/// How a sender produces its spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Load {
    /// As fast as the producer thread makes them.
    Burst {
        /// Spans to produce.
        spans: u64,
    },
    /// `rate` spans per second for `duration`: every millisecond (or as soon
    /// as the producer is back) the producer makes the spans due by then.
    Paced {
        /// Spans per second.
        rate: u64,
        /// How long.
        duration: Duration,
    },
}

impl Load {
    /// Spans the load makes.
    pub fn spans(self) -> u64 {
        match self {
            Load::Burst { spans } => spans,
            Load::Paced { rate, duration } => (rate as f64 * duration.as_secs_f64()).round() as u64,
        }
    }
}

/// How often a paced producer looks whether spans are due.
const PACING_TICK: Duration = Duration::from_millis(1);

/// What one sender process does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderArgs {
    /// The SDK.
    pub implementation: Implementation,
    /// The transport.
    pub transport: Transport,
    /// The receiver.
    pub endpoints: Endpoints,
    /// How the spans are produced.
    pub load: Load,
    /// The door the spans enter through.
    pub front: Front,
    /// Producer threads; the load is shared out evenly among them (a
    /// rate too: each thread makes its share at its share of the rate).
    pub threads: usize,
    /// What a producer makes per unit of work: single spans, or a root
    /// with nine children (through `tracing`; the other doors make ten
    /// single spans).
    pub shape: Shape,
    /// Whether the producer times every span call (two clock reads per
    /// span): [`SenderReport::calls`].
    pub timed: bool,
    /// Whether the sender notes its memory and what its pipeline holds once
    /// the load is made ([`SenderReport::memory`]); the baseline then counts
    /// the spans handed to its exporter ([`CountedBaseline`], native door only).
    pub memory: bool,
    /// The baseline's queue size; `None` is its default. Ours always runs
    /// with its defaults.
    pub queue: Option<usize>,
    /// The durable queue's directory ([`Implementation::OtlpRustDurable`]
    /// only): made fresh and empty by the coordinator, removed after the run.
    pub durable_dir: Option<PathBuf>,
    /// How attribute values reach the SDK.
    pub values: ValueKind,
    /// The length of every attribute value the producer formats
    /// (`--value-len`; the control's too).
    pub value_len: ValueLen,
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
    /// The producer's time in span calls, when it timed them.
    pub calls: Option<CallTimes>,
    /// CPU time of the producer threads (their own, from the first span to
    /// the last one they made), all together, ns.
    pub producer_cpu_ns: u64,
    /// Memory and what the pipeline held after the load (`--memory`).
    pub memory: Option<MemorySample>,
}

/// The time a producer spent inside the SDK's span calls (start, eight
/// attributes, end, as one call per span), including any wait for room in
/// a queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallTimes {
    /// All calls together, ns.
    pub total_ns: u64,
    /// The longest single call, ns.
    pub longest_ns: u64,
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
            "producer_cpu_ns": self.producer_cpu_ns,
            "calls": self.calls.map(|calls| json!({
                "total_ns": calls.total_ns,
                "longest_ns": calls.longest_ns,
            })),
            "memory": self.memory.as_ref().map(MemorySample::json),
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
            producer_cpu_ns: json["producer_cpu_ns"].as_u64().unwrap_or(0),
            calls: match &json["calls"] {
                Value::Null => None,
                calls => Some(CallTimes {
                    total_ns: calls["total_ns"]
                        .as_u64()
                        .ok_or_else(|| format!("calls without total_ns: {line}"))?,
                    longest_ns: calls["longest_ns"]
                        .as_u64()
                        .ok_or_else(|| format!("calls without longest_ns: {line}"))?,
                }),
            },
            memory: match &json["memory"] {
                Value::Null => None,
                memory => Some(MemorySample::from_json(memory)?),
            },
        })
    }
}

/// otlp-sdk's counters as the report carries them.
fn stats_json(stats: &otlp_sdk::StatsSnapshot) -> Value {
    json!({
        "produced": stats.produced,
        "exported": stats.exported,
        "dropped": stats.dropped,
        "dropped_queue_full": stats.dropped_queue_full,
        "failed": stats.failed,
        "rejected": stats.rejected,
        "queued": stats.queued,
        "queued_bytes": stats.queued_bytes,
        "queue_capacity_bytes": stats.queue_capacity_bytes,
        "queue_capacity": stats.queue_capacity,
        "in_flight": stats.in_flight,
        "retries": stats.retries,
        "persisted": stats.persisted,
        "recovered": stats.recovered,
        "dropped_durable": stats.dropped_durable,
        "batches": stats.batches,
        "last_error": stats.last_error,
    })
}

/// What a pipeline holds right after the load, for [`MemorySample`]: given
/// the spans made, the sample's `held`, `queued`, `queued_bytes` and
/// `pipeline`.
type Holding<'a> = &'a dyn Fn(u64) -> MemorySample;

/// otlp-sdk's queue as [`MemorySample`] counts it: queued plus in flight held.
fn ours_holding(stats: &otlp_sdk::StatsSnapshot) -> MemorySample {
    MemorySample {
        held: stats.queued + stats.in_flight,
        queued: stats.queued,
        queued_bytes: stats.queued_bytes,
        pipeline: stats_json(stats),
        ..MemorySample::default()
    }
}

/// Nothing known about what the pipeline holds.
fn unknown_holding(_produced: u64) -> MemorySample {
    MemorySample::default()
}

/// Runs the sender role and prints its report.
pub fn sender(args: &SenderArgs) -> Result<(), String> {
    let (transport, endpoints) = (args.transport, &args.endpoints);
    // Before anything of the pipeline exists.
    let rss_start = if args.memory { resident_bytes() } else { None };
    let report = match (args.implementation, args.front) {
        (Implementation::OtlpRust, Front::Native) => {
            let sender = OursSender::new(transport, endpoints)?;
            let mut report = produce_and_shut_down(&sender, args, rss_start, &|_| {
                ours_holding(&sender.stats())
            })?;
            report.pipeline_stats = stats_json(&sender.stats());
            report
        }
        (Implementation::OtlpRustDurable, Front::Native) => {
            let directory = args
                .durable_dir
                .clone()
                .ok_or("a durable sender needs --durable-dir")?;
            let sender = OursSender::with_durable_queue(
                transport,
                endpoints,
                Some(DurableConfig::new(directory)),
            )?;
            let mut report = produce_and_shut_down(&sender, args, rss_start, &|_| {
                ours_holding(&sender.stats())
            })?;
            report.pipeline_stats = stats_json(&sender.stats());
            report
        }
        (Implementation::OtlpRustDurable, front) => {
            return Err(format!(
                "the durable queue runs behind otlp-sdk's own tracer only, not {}",
                front.as_str()
            ));
        }
        (Implementation::OtlpRust, Front::Api) => {
            let sender = BridgeSender::new(transport, endpoints)?;
            let mut report = produce_and_shut_down(&sender, args, rss_start, &|_| {
                ours_holding(&sender.stats())
            })?;
            report.pipeline_stats = stats_json(&sender.stats());
            report
        }
        (Implementation::OtlpRust, Front::Tracing) => {
            let sender = TracingSender::install(BridgeSender::new(transport, endpoints)?)?;
            let mut report = produce_and_shut_down(&sender, args, rss_start, &|_| {
                ours_holding(&sender.inner.stats())
            })?;
            report.pipeline_stats = stats_json(&sender.inner.stats());
            report
        }
        (Implementation::OtlpRust, Front::Layer) => {
            let sender = LayerSender::install(transport, endpoints)?;
            let mut report = produce_and_shut_down(&sender, args, rss_start, &|_| {
                ours_holding(&sender.stats())
            })?;
            report.pipeline_stats = stats_json(&sender.stats());
            report
        }
        (Implementation::OpenTelemetry, Front::Layer) => {
            return Err("OtlpLayer records into otlp-sdk only".to_owned());
        }
        (Implementation::OtlpRust, Front::TracingFiltered) => {
            return Err(
                "the filtered `tracing-opentelemetry` door is the baseline's row only".to_owned(),
            );
        }
        (Implementation::OpenTelemetry, Front::Native) if args.memory => {
            let queue = args
                .queue
                .ok_or("the memory scenario sizes the baseline's queue")?;
            let sender = CountedBaseline::new(transport, endpoints, queue)?;
            produce_and_shut_down(&sender, args, rss_start, &|produced| {
                let handed = sender.handed();
                let held = produced.saturating_sub(handed);
                MemorySample {
                    held,
                    queued: held,
                    pipeline: json!({ "handed_to_exporter": handed }),
                    ..MemorySample::default()
                }
            })?
        }
        (Implementation::OpenTelemetry, Front::Native | Front::Api) => {
            let sender = BaselineSender::new(transport, endpoints, args.queue)?;
            produce_and_shut_down(&sender, args, rss_start, &unknown_holding)?
        }
        (Implementation::OpenTelemetry, Front::Tracing) => {
            let sender =
                TracingSender::install(BaselineSender::new(transport, endpoints, args.queue)?)?;
            produce_and_shut_down(&sender, args, rss_start, &unknown_holding)?
        }
        (Implementation::OpenTelemetry, Front::TracingFiltered) => {
            let sender = TracingSender::install_filtered(BaselineSender::new(
                transport, endpoints, args.queue,
            )?)?;
            produce_and_shut_down(&sender, args, rss_start, &unknown_holding)?
        }
        // No SDK, no door, nothing sent: the transport and endpoints are
        // ignored.
        (Implementation::Workload, _) => {
            produce_and_shut_down(&WorkloadOnly, args, rss_start, &unknown_holding)?
        }
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", report.to_line())
        .and_then(|()| stdout.flush())
        .map_err(|error| format!("stdout: {error}"))
}

/// Writes one line to stdout, flushed.
fn say(line: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|error| format!("stdout: {error}"))
}

/// One producer thread (this one) records every span of the load, then the
/// pipeline shuts down, exporting what is left. Says `producing` on stdout
/// first, so that the coordinator can time an outage from the start. With
/// `args.memory`, notes the memory sample once the last span ended
/// (`rss_start`: the resident memory before the pipeline was built;
/// `holding`: what the pipeline holds), then says `loaded`, so that the
/// coordinator can let the receiver come back, and only then shuts down.
fn produce_and_shut_down<S: Sender + Sync + ?Sized>(
    sender: &S,
    args: &SenderArgs,
    rss_start: Option<u64>,
    holding: Holding<'_>,
) -> Result<SenderReport, String> {
    let rss_before_load = if args.memory { resident_bytes() } else { None };
    say("producing")?;
    let threads = args.threads.max(1) as u64;
    let unit = args.shape.unit();
    let total = args.load.spans();
    let start_ns = monotonic_ns();
    let made: Vec<(u64, Option<CallTimes>, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                // This thread's share, in whole units; the first thread
                // takes what does not divide evenly.
                let share = total / threads + if thread == 0 { total % threads } else { 0 };
                let units = share.div_ceil(unit);
                let first = thread * (total / threads + threads);
                let load = args.load;
                let shape = args.shape;
                let timed = args.timed;
                let values = args.values;
                let value_len = args.value_len;
                let work = move || {
                    let mut producer = TimedProducer {
                        producer: Producer::starting_at(values, first).with_value_len(value_len),
                        calls: timed.then(CallTimes::default),
                    };
                    let cpu_start = thread_cpu();
                    produce_load(&mut producer, sender, load, shape, units, threads);
                    let cpu = thread_cpu().saturating_sub(cpu_start);
                    (
                        producer.producer.produced(),
                        producer.calls,
                        cpu.as_nanos() as u64,
                    )
                };
                if thread == 0 {
                    None
                } else {
                    Some(scope.spawn(work))
                }
                .ok_or(work)
            })
            .collect();
        // The main thread is the first producer; the others run beside it.
        let mut made = Vec::new();
        for handle in handles {
            match handle {
                Err(work) => made.push(work()),
                Ok(handle) => made.push(handle.join().expect("a producer thread panicked")),
            }
        }
        made
    });
    let produced: u64 = made.iter().map(|(spans, ..)| spans).sum();
    let producer_cpu_ns = made.iter().map(|(.., cpu)| cpu).sum();
    let calls = made
        .iter()
        .filter_map(|(_, calls, _)| *calls)
        .reduce(|a, b| CallTimes {
            total_ns: a.total_ns + b.total_ns,
            longest_ns: a.longest_ns.max(b.longest_ns),
        });
    let produced_ns = monotonic_ns();
    let memory = if args.memory {
        let rss_loaded = resident_bytes();
        let sample = MemorySample {
            rss_start_bytes: rss_start.unwrap_or(0),
            rss_before_load_bytes: rss_before_load.unwrap_or(0),
            rss_loaded_bytes: rss_loaded.unwrap_or(0),
            ..holding(produced)
        };
        say("loaded")?;
        Some(sample)
    } else {
        None
    };
    let shutdown = sender.shutdown(args.shutdown_timeout);
    let shutdown_ns = monotonic_ns();
    Ok(SenderReport {
        produced,
        start_ns,
        produced_ns,
        shutdown_ns,
        shutdown_error: shutdown.err(),
        pipeline_stats: Value::Null,
        producer_cpu_ns,
        calls,
        memory,
    })
}

/// One producer thread's part of `load`: `units` units of `shape`, as fast
/// as it can (a burst) or paced at its share (`1 / threads`) of the rate.
fn produce_load<S: Sender + ?Sized>(
    producer: &mut TimedProducer,
    sender: &S,
    load: Load,
    shape: Shape,
    units: u64,
    threads: u64,
) {
    match load {
        Load::Burst { .. } => producer.produce(sender, shape, units),
        Load::Paced { rate, duration } => {
            // Units per second of this thread.
            let rate = rate as f64 / threads as f64 / shape.unit() as f64;
            let start = Instant::now();
            let mut made = 0;
            loop {
                let elapsed = start.elapsed();
                let due = if elapsed >= duration {
                    units
                } else {
                    ((elapsed.as_secs_f64() * rate) as u64).min(units)
                };
                producer.produce(sender, shape, due.saturating_sub(made));
                made = made.max(due);
                if made >= units {
                    break;
                }
                std::thread::sleep(PACING_TICK);
            }
        }
    }
}

/// The shared [`Producer`], timing each span call (each unit's calls) when
/// asked to.
struct TimedProducer {
    producer: Producer,
    calls: Option<CallTimes>,
}

impl TimedProducer {
    #[inline]
    fn produce<S: Sender + ?Sized>(&mut self, sender: &S, shape: Shape, units: u64) {
        match &mut self.calls {
            None => self.producer.produce_units(sender, shape, units),
            Some(calls) => {
                for _ in 0..units {
                    let start = Instant::now();
                    self.producer.produce_units(sender, shape, 1);
                    let took = start.elapsed().as_nanos() as u64;
                    calls.total_ns += took;
                    calls.longest_ns = calls.longest_ns.max(took);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_stats_round_trip_through_their_line() {
        let stats = ReceiverStats {
            spans: 1_000_000,
            app_spans: 999_000,
            distinct_app_spans: None,
            requests: 1_954,
            bad_requests: 0,
            faulted_requests: 0,
            last_change_ns: 123_456_789,
            cpu_ns: 42,
        };
        assert_eq!(ReceiverStats::parse(&stats.to_line()), Ok(stats));
        let distinct = ReceiverStats {
            distinct_app_spans: Some(998_488),
            ..stats
        };
        assert!(distinct.to_line().contains(" distinct=998488 "));
        assert_eq!(ReceiverStats::parse(&distinct.to_line()), Ok(distinct));
        assert!(ReceiverStats::parse("listening grpc=x").is_err());
    }

    #[test]
    fn distinct_spans_are_counted_once_however_often_delivered() {
        use opentelemetry_proto::tonic::trace::v1::Span;
        let span = |trace: u8, id: u8| Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            ..Span::default()
        };
        let first = [span(1, 1), span(1, 2), span(2, 1)];
        // A retried request: the same spans again, and one new one.
        let retried = [span(1, 2), span(2, 1), span(2, 2)];
        let distinct = DistinctSpans::default();
        assert_eq!(distinct.note(first.iter()), 3);
        assert_eq!(distinct.count(), 3);
        assert_eq!(
            distinct.note(retried.iter()),
            3,
            "every delivery is returned"
        );
        assert_eq!(distinct.count(), 4, "the ids counted before are not");
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
            producer_cpu_ns: 17,
            calls: None,
            memory: None,
        };
        let output = format!("noise\n{}\n", report.to_line());
        assert_eq!(SenderReport::parse(&output), Ok(report.clone()));
        let timed = SenderReport {
            calls: Some(CallTimes {
                total_ns: 5,
                longest_ns: 2,
            }),
            ..report
        };
        assert_eq!(SenderReport::parse(&timed.to_line()), Ok(timed.clone()));
        let held = SenderReport {
            memory: Some(MemorySample {
                rss_start_bytes: 1,
                rss_before_load_bytes: 2,
                rss_loaded_bytes: 3,
                held: 4,
                queued: 4,
                queued_bytes: 0,
                pipeline: json!({"handed_to_exporter": 0}),
            }),
            ..timed
        };
        assert_eq!(SenderReport::parse(&held.to_line()), Ok(held));
        assert!(SenderReport::parse("nothing here").is_err());
    }

    #[test]
    fn a_paced_load_makes_rate_times_duration_spans() {
        let load = Load::Paced {
            rate: 50_000,
            duration: Duration::from_millis(2_500),
        };
        assert_eq!(load.spans(), 125_000);
        assert_eq!(Load::Burst { spans: 7 }.spans(), 7);
        for front in [
            Front::Native,
            Front::Api,
            Front::Tracing,
            Front::Layer,
            Front::TracingFiltered,
        ] {
            assert_eq!(Front::parse(front.as_str()), Ok(front));
        }
        assert!(Front::parse("log").is_err());
    }
}
