//! The scenarios beyond the burst, where users run a pipeline: a steady
//! rate, a slow collector, a short outage, the front doors programs enter
//! through, and the memory a pipeline takes per span it holds while the
//! collector is down (see [`crate::args::USAGE`]).
//!
//! Each scenario has its own receiver process (decoding every request by
//! default, the slow collector's delaying every answer), and per transport
//! pairs of rows, otlp-rust and the baseline doing the same work: the same
//! load ([`Load`]) through the same kind of door ([`Front`]). Every row runs
//! `--runs` times in rotating order, one sender process at a time, and each
//! figure is the median of its runs (lost: the worst run). Ratios are
//! otlp-rust's figure over the baseline's in its pair.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use otlp_benches::end_to_end::{Shape, Transport};
use otlp_benches::fixtures::ValueLen;
use serde_json::{Value, json};

use crate::args::{OUTAGE_MARGIN, Options, Queue, Scenario, scenario_arguments};
use crate::durable::{DURABLE_LABEL, DurableComparison, durable_table};
use crate::format::{ratio, thousands};
use crate::report::{
    Machine, WORKLOAD_LABEL, WORKLOAD_NOTE, command_line, median, others_phrase, others_share,
    runs_phrase, value_len_line,
};
use crate::roles::{Front, Implementation, Load, ReceiverStore, SenderArgs};
use crate::run::{MIB, Measurement, ReceiverProcess, Refusal, measure, rotation};

/// Issue 13's goal for the memory scenario: otlp-rust's resident memory per
/// queued span at most this many times the span's encoded size.
pub const GOAL_RSS_PER_ENCODED_BYTE: f64 = 1.3;

/// One row of a scenario's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldRow {
    /// The SDK.
    pub implementation: Implementation,
    /// The door the spans enter through.
    pub front: Front,
    /// The transport.
    pub transport: Transport,
    /// How the spans are produced.
    pub load: Load,
    /// Producer threads sharing the load.
    pub threads: usize,
    /// Single spans or a root with nine children per unit of work.
    pub shape: Shape,
}

/// The smallest baseline queue that holds every span of `load`: the
/// lossless configuration the `tracing` rows of the front doors compare
/// against (never below the SDK's default, 2,048).
pub fn lossless_queue(load: Load) -> usize {
    load.spans().max(2_048) as usize
}

impl FieldRow {
    /// The baseline's queue in this row of `scenario`: a queue that holds
    /// every span for the memory scenario and the front doors' `tracing`
    /// rows, `--field-queue` otherwise; `None` for otlp-rust and the control
    /// (they run at their defaults).
    pub fn baseline_queue(&self, scenario: Scenario, field: &crate::args::FieldOptions) -> Queue {
        match (self.implementation, scenario, self.front) {
            (Implementation::OpenTelemetry, Scenario::Memory, _) => {
                Queue::Size(field.memory_spans as usize)
            }
            (
                Implementation::OpenTelemetry,
                Scenario::FrontDoors,
                Front::Tracing | Front::TracingFiltered,
            ) => Queue::Size(lossless_queue(self.load)),
            _ => field.queue,
        }
    }

    /// Whether this is one of the `tracing` rows of the front doors (either
    /// layer, either pipeline).
    fn is_tracing(&self) -> bool {
        matches!(
            self.front,
            Front::Tracing | Front::Layer | Front::TracingFiltered
        )
    }

    /// Whether this row sends what `other` sends: the same transport, load,
    /// producer threads and shape, whatever the SDK and door.
    fn same_work(&self, other: &FieldRow) -> bool {
        self.transport == other.transport
            && self.load == other.load
            && self.threads == other.threads
            && self.shape == other.shape
    }

    /// Whether this baseline row does the same work as `ours`: same load
    /// and transport, and the same door (the baseline's own tracer is the
    /// `opentelemetry` API, so for it the native door and the API are one).
    /// The filtered `tracing` baseline pairs with no row of ours: it is the
    /// second baseline of the `OtlpLayer` rows ([`Self::is_layer_row`]).
    fn pairs_with(&self, ours: &FieldRow) -> bool {
        let door = |front: Front| match front {
            Front::Native | Front::Api => Front::Api,
            Front::Tracing | Front::Layer => Front::Tracing,
            Front::TracingFiltered => Front::TracingFiltered,
        };
        self.implementation == Implementation::OpenTelemetry
            && self.same_work(ours)
            && door(self.front) == door(ours.front)
    }

    /// Whether this row is `implementation` behind `front` doing the same
    /// work as `layer`, an `OtlpLayer` row: `tracing-opentelemetry` over the
    /// bridge (ours, [`Front::Tracing`]) or over the baseline behind the
    /// documented filter (the baseline's, [`Front::TracingFiltered`]).
    fn is_layer_row(&self, layer: &FieldRow, implementation: Implementation, front: Front) -> bool {
        layer.front == Front::Layer
            && self.implementation == implementation
            && self.front == front
            && self.same_work(layer)
    }

    /// The implementation's name in the tables.
    fn implementation_label(&self, queue: Queue) -> String {
        let mut label = self.pipeline_label(queue);
        if self.front == Front::TracingFiltered {
            label.push_str(", exporters' crates filtered out");
        }
        label
    }

    /// The pipeline's name in the tables, whatever filter is in front.
    fn pipeline_label(&self, queue: Queue) -> String {
        match (self.implementation, self.front) {
            (Implementation::OtlpRust, Front::Native) => "otlp-rust (default settings)".to_owned(),
            (Implementation::OtlpRust, Front::Layer) => {
                "OtlpLayer → otlp-rust (default settings)".to_owned()
            }
            (Implementation::OtlpRust, _) => {
                "OtlpSpanProcessor → otlp-rust (default settings)".to_owned()
            }
            (Implementation::OtlpRustDurable, _) => DURABLE_LABEL.to_owned(),
            (Implementation::Workload, _) => WORKLOAD_LABEL.to_owned(),
            (Implementation::OpenTelemetry, _) => match queue {
                Queue::Default => {
                    "opentelemetry_sdk + opentelemetry-otlp (default settings)".into()
                }
                Queue::Size(size) if self.is_tracing() && size == lossless_queue(self.load) => {
                    format!(
                        "opentelemetry_sdk + opentelemetry-otlp, queue {} (lossless: holds every span)",
                        thousands(size as u64)
                    )
                }
                Queue::Size(size) => format!(
                    "opentelemetry_sdk + opentelemetry-otlp, queue {}",
                    thousands(size as u64)
                ),
            },
        }
    }

    /// The door's name in the front-door table.
    fn front_label(&self) -> &'static str {
        match (self.implementation, self.front) {
            (Implementation::OtlpRust | Implementation::OtlpRustDurable, Front::Native) => {
                "otlp-sdk's tracer"
            }
            (Implementation::Workload, _) => "none (no SDK)",
            (_, Front::Native | Front::Api) => "`opentelemetry` API",
            (_, Front::Tracing) => "`tracing` + `tracing-opentelemetry`",
            (_, Front::Layer) => "`tracing` + `OtlpLayer`",
            (_, Front::TracingFiltered) => {
                "`tracing` + `tracing-opentelemetry`, exporters' crates filtered out"
            }
        }
    }
}

/// The transport column of a row: `–` for the control, which sends nothing.
fn transport_label(row: &FieldRow) -> &'static str {
    match row.implementation {
        Implementation::Workload => "–",
        _ => row.transport.label(),
    }
}

/// A row's load with its producer threads and shape when they are not one
/// thread and flat spans: `burst of 200,000, 2 threads, nested`.
fn row_load_label(row: &FieldRow) -> String {
    let mut label = load_label(row.load);
    if row.threads != 1 {
        let _ = write!(label, ", {} threads", row.threads);
    }
    if row.shape == Shape::Nested {
        label.push_str(", nested");
    }
    label
}

/// A load as the tables name it: `burst of 5,000`, `10,000/s for 10 s`.
fn load_label(load: Load) -> String {
    match load {
        Load::Burst { spans } => format!("burst of {}", thousands(spans)),
        Load::Paced { rate, duration } => {
            format!("{}/s for {}", thousands(rate), seconds_label(duration))
        }
    }
}

/// `10 s`, `2.5 s`, `200 ms`.
fn seconds_label(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} s", duration.as_secs_f64())
    }
}

/// Whether `scenario` runs the control row (workload only, no SDK): the
/// scenarios that compare sender CPU per span.
pub fn has_workload_row(scenario: Scenario) -> bool {
    matches!(scenario, Scenario::Steady | Scenario::FrontDoors)
}

/// The loads of the front doors' `tracing` rows: a burst of `--door-spans`
/// and the steady rate.
fn door_loads(options: &Options) -> [Load; 2] {
    [
        Load::Burst {
            spans: options.field.door_spans,
        },
        Load::Paced {
            rate: options.field.rate,
            duration: options.field.duration,
        },
    ]
}

/// The rows of `scenario`, in table order: per transport, ours (in the
/// steady rate also ours with the durable queue, unless `--no-durable`) then
/// the baseline for each load and door; then, where [`has_workload_row`], the
/// one control row, which serves every transport (it sends nothing; it
/// carries the first transport only because every sender is given one).
pub fn rows(options: &Options, scenario: Scenario) -> Vec<FieldRow> {
    let field = &options.field;
    let steady = Load::Paced {
        rate: field.rate,
        duration: field.duration,
    };
    let pair = |front: Front| {
        [
            (Implementation::OtlpRust, front),
            (Implementation::OpenTelemetry, front),
        ]
    };
    let (loads, doors): (Vec<Load>, Vec<(Implementation, Front)>) = match scenario {
        Scenario::Burst => (Vec::new(), Vec::new()),
        Scenario::Steady => {
            let mut doors = vec![(Implementation::OtlpRust, Front::Native)];
            if options.durable {
                doors.push((Implementation::OtlpRustDurable, Front::Native));
            }
            doors.push((Implementation::OpenTelemetry, Front::Native));
            (vec![steady], doors)
        }
        Scenario::Slow => (
            vec![
                Load::Burst {
                    spans: field.slow_spans,
                },
                Load::Paced {
                    rate: field.slow_rate,
                    duration: field.slow_duration,
                },
            ],
            pair(Front::Native).to_vec(),
        ),
        Scenario::Outage => (vec![field.outage_load()], pair(Front::Native).to_vec()),
        Scenario::Memory => (
            vec![Load::Burst {
                spans: field.memory_spans,
            }],
            pair(Front::Native).to_vec(),
        ),
        Scenario::FrontDoors => {
            let mut doors = vec![(Implementation::OtlpRust, Front::Native)];
            doors.extend(pair(Front::Api));
            (vec![steady], doors)
        }
    };
    let one = |implementation, front, transport, load| FieldRow {
        implementation,
        front,
        transport,
        load,
        threads: 1,
        shape: Shape::Flat,
    };
    let mut rows = Vec::new();
    for &transport in &options.transports {
        for &load in &loads {
            for &(implementation, front) in &doors {
                rows.push(one(implementation, front, transport, load));
            }
        }
        if scenario == Scenario::FrontDoors {
            // The `tracing` door four ways, for every load, thread count
            // and shape: OtlpLayer, tracing-opentelemetry over the bridge,
            // tracing-opentelemetry over the baseline (lossless queue),
            // with no filter and behind the documented filter.
            for load in door_loads(options) {
                for &threads in &options.door_threads {
                    for &shape in &options.door_shapes {
                        for (implementation, front) in [
                            (Implementation::OtlpRust, Front::Layer),
                            (Implementation::OtlpRust, Front::Tracing),
                            (Implementation::OpenTelemetry, Front::Tracing),
                            (Implementation::OpenTelemetry, Front::TracingFiltered),
                        ] {
                            rows.push(FieldRow {
                                threads,
                                shape,
                                ..one(implementation, front, transport, load)
                            });
                        }
                    }
                }
            }
        }
    }
    if let Some(&transport) = options.transports.first()
        && has_workload_row(scenario)
    {
        // One control per load and thread count (the shape does not change
        // the workload: every span formats its own eight values).
        let controls: Vec<(Load, usize)> = match scenario {
            Scenario::FrontDoors => {
                let mut controls = vec![(steady, 1)];
                for load in door_loads(options) {
                    for &threads in &options.door_threads {
                        if !controls.contains(&(load, threads)) {
                            controls.push((load, threads));
                        }
                    }
                }
                controls
            }
            _ => vec![(steady, 1)],
        };
        for (load, threads) in controls {
            rows.push(FieldRow {
                threads,
                ..one(Implementation::Workload, Front::Native, transport, load)
            });
        }
    }
    rows
}

/// One scenario's measurements.
#[derive(Clone, Debug)]
pub struct ScenarioResults {
    /// Which scenario.
    pub scenario: Scenario,
    /// What its receiver did with each request.
    pub store: ReceiverStore,
    /// Every row's runs, in table order.
    pub rows: Vec<(FieldRow, Vec<Measurement>)>,
}

/// Runs every scenario of `options` but the burst, one after the other.
/// Progress goes to stderr.
pub fn run(options: &Options) -> Result<Vec<ScenarioResults>, String> {
    let exe = std::env::current_exe().map_err(|error| format!("current_exe: {error}"))?;
    options
        .scenarios
        .iter()
        .filter(|&&scenario| scenario != Scenario::Burst)
        .map(|&scenario| run_scenario(&exe, options, scenario))
        .collect()
}

fn run_scenario(
    exe: &PathBuf,
    options: &Options,
    scenario: Scenario,
) -> Result<ScenarioResults, String> {
    let field = &options.field;
    let store = options.store_for(scenario);
    let answer_delay = (scenario == Scenario::Slow).then_some(field.slow_delay);
    let refusal = match scenario {
        Scenario::Outage => Some(Refusal::Outage {
            after: OUTAGE_MARGIN,
            length: field.outage,
        }),
        Scenario::Memory => Some(Refusal::WholeLoad),
        _ => None,
    };
    let mut receiver = ReceiverProcess::start(exe, options.receiver_threads, store, answer_delay)?;
    let rows = rows(options, scenario);
    let mut results: Vec<(FieldRow, Vec<Measurement>)> =
        rows.iter().map(|&row| (row, Vec::new())).collect();
    let total = rows.len() * options.runs;
    let mut done = 0;
    for index in rotation(rows.len(), options.runs) {
        let row = rows[index];
        done += 1;
        if row.implementation == Implementation::Workload {
            eprint!(
                "compare: {} [{done}/{total}] {WORKLOAD_LABEL} {}: ",
                scenario.as_str(),
                row_load_label(&row),
            );
        } else {
            eprint!(
                "compare: {} [{done}/{total}] {} {} {} {}: ",
                scenario.as_str(),
                row.implementation.as_str(),
                row.front.as_str(),
                row.transport,
                row_load_label(&row),
            );
        }
        let args = SenderArgs {
            implementation: row.implementation,
            transport: row.transport,
            endpoints: receiver.endpoints().clone(),
            load: row.load,
            front: row.front,
            threads: row.threads,
            shape: row.shape,
            timed: matches!(scenario, Scenario::Slow | Scenario::Outage),
            memory: scenario == Scenario::Memory,
            durable_dir: None,
            queue: match (row.implementation, row.baseline_queue(scenario, field)) {
                (
                    Implementation::OtlpRust
                    | Implementation::OtlpRustDurable
                    | Implementation::Workload,
                    _,
                ) => None,
                (_, Queue::Size(size)) => Some(size),
                (_, Queue::Default) => None,
            },
            values: options.values,
            value_len: options.value_len,
            shutdown_timeout: options.shutdown_timeout,
        };
        let measurement = measure(exe, &mut receiver, &args, refusal)?;
        eprintln!(
            "{} lost, CPU {:.2} s ({:.2} µs/span){}{}",
            if row.implementation == Implementation::Workload {
                "nothing sent, none".to_owned()
            } else {
                thousands(measurement.lost())
            },
            measurement.usage.cpu().as_secs_f64(),
            cpu_per_span(&measurement) * 1e6,
            measurement
                .calls
                .map(|calls| format!(", {:.2} s in span calls", calls.total_ns as f64 / 1e9))
                .unwrap_or_default(),
            measurement
                .memory
                .as_ref()
                .map(|memory| format!(
                    ", {} spans held, RSS +{:.1} MB ({:.0} B/span)",
                    thousands(memory.held),
                    memory.growth_bytes() as f64 / MIB,
                    memory.growth_per_held_span().unwrap_or(f64::NAN),
                ))
                .unwrap_or_default(),
        );
        results[index].1.push(measurement);
    }
    receiver.stop();
    Ok(ScenarioResults {
        scenario,
        store,
        rows: results,
    })
}

/// Sender CPU seconds per span produced.
fn cpu_per_span(run: &Measurement) -> f64 {
    run.usage.cpu().as_secs_f64() / run.produced.max(1) as f64
}

/// The producer threads' own CPU seconds per span they made.
fn producer_cpu_per_span(run: &Measurement) -> f64 {
    run.producer_cpu.as_secs_f64() / run.produced.max(1) as f64
}

/// The producer's wall time per span, per thread: the time from the first
/// span started to the last one ended, over the spans each of the
/// `threads` producer threads made.
fn producer_wall_per_span(run: &Measurement, threads: usize) -> f64 {
    run.produce_time.as_secs_f64() * threads as f64 / run.produced.max(1) as f64
}

/// Sender CPU over the sender's wall time from its first span to the return
/// of its shutdown: the share of one core it kept busy.
fn core_share(run: &Measurement) -> f64 {
    let wall = run.until_shutdown.as_secs_f64();
    if wall > 0.0 {
        run.usage.cpu().as_secs_f64() / wall
    } else {
        0.0
    }
}

/// One row's runs, summarised.
#[derive(Clone, Debug)]
pub struct FieldSummary {
    /// Which row.
    pub row: FieldRow,
    /// Every run, in the order they ran.
    pub runs: Vec<Measurement>,
    /// Spans produced per run.
    pub produced: u64,
    /// Spans lost in the worst run.
    pub lost: u64,
    /// The most spans of the application a run had counted beyond those it
    /// made ([`Measurement::surplus`]): lost spans may hide behind them.
    pub surplus: u64,
    /// The most spans a run delivered twice, where the receiver counted
    /// each span once by its ids ([`Measurement::duplicates`]): not lost.
    pub duplicates: u64,
    /// Median delivered spans per second (first span to last span counted).
    pub delivered_per_second: f64,
    /// Median of other spans received.
    pub other_spans: f64,
    /// Median sender CPU seconds.
    pub cpu_seconds: f64,
    /// Median sender CPU seconds per span produced.
    pub cpu_per_span: f64,
    /// The lowest and highest sender CPU seconds per span of the runs.
    pub cpu_per_span_range: (f64, f64),
    /// Median CPU seconds of the producer threads per span.
    pub producer_cpu_per_span: f64,
    /// Median producer wall seconds per span, per thread.
    pub producer_wall_per_span: f64,
    /// Median share of one core.
    pub core_share: f64,
    /// Median peak RSS, bytes.
    pub peak_rss_bytes: f64,
    /// Median seconds the producer spent in span calls (timed rows).
    pub in_calls: Option<f64>,
    /// The longest span call of any run, seconds (timed rows).
    pub longest_call: Option<f64>,
    /// Median seconds from the first span to the last one made.
    pub produce_seconds: f64,
    /// Median seconds from the first span to the return of shutdown.
    pub until_shutdown: f64,
    /// The memory scenario's figures, when the runs noted them.
    pub memory: Option<MemorySummary>,
}

/// The memory scenario's figures of one row: medians of its runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemorySummary {
    /// Spans the pipeline held after the load.
    pub held: f64,
    /// Resident bytes the load added.
    pub growth_bytes: f64,
    /// Resident bytes the load added per span held.
    pub per_held_span: f64,
    /// Encoded bytes per queued span (otlp-rust only).
    pub encoded_per_span: Option<f64>,
    /// Resident bytes building the pipeline added.
    pub setup_bytes: f64,
}

impl MemorySummary {
    /// The medians of the runs' samples; `None` if no run noted one.
    fn of(runs: &[Measurement]) -> Option<Self> {
        let samples: Vec<_> = runs.iter().filter_map(|run| run.memory.as_ref()).collect();
        if samples.is_empty() {
            return None;
        }
        let median_of = |value: &dyn Fn(&crate::memory::MemorySample) -> f64| {
            median(samples.iter().map(|sample| value(sample)).collect())
        };
        let encoded: Vec<f64> = samples
            .iter()
            .filter_map(|sample| sample.encoded_per_queued_span())
            .collect();
        Some(MemorySummary {
            held: median_of(&|sample| sample.held as f64),
            growth_bytes: median_of(&|sample| sample.growth_bytes() as f64),
            per_held_span: median_of(&|sample| {
                sample.growth_per_held_span().unwrap_or(f64::INFINITY)
            }),
            encoded_per_span: (!encoded.is_empty()).then(|| median(encoded)),
            setup_bytes: median_of(&|sample| sample.setup_bytes() as f64),
        })
    }
}

impl FieldSummary {
    fn new(row: FieldRow, runs: Vec<Measurement>) -> Self {
        let median_of = |value: &dyn Fn(&Measurement) -> f64| {
            median(runs.iter().map(value).collect::<Vec<f64>>())
        };
        let calls: Vec<_> = runs.iter().filter_map(|run| run.calls).collect();
        let timed = !calls.is_empty();
        FieldSummary {
            row,
            produced: runs.first().map_or(0, |run| run.produced),
            lost: runs.iter().map(Measurement::lost).max().unwrap_or(0),
            surplus: runs.iter().map(Measurement::surplus).max().unwrap_or(0),
            duplicates: runs.iter().map(Measurement::duplicates).max().unwrap_or(0),
            delivered_per_second: median_of(&Measurement::delivered_per_second),
            other_spans: median_of(&|run| run.other_spans as f64),
            cpu_seconds: median_of(&|run| run.usage.cpu().as_secs_f64()),
            cpu_per_span: median_of(&cpu_per_span),
            cpu_per_span_range: runs
                .iter()
                .map(cpu_per_span)
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), value| {
                    (low.min(value), high.max(value))
                }),
            producer_cpu_per_span: median_of(&producer_cpu_per_span),
            producer_wall_per_span: median_of(&|run| producer_wall_per_span(run, row.threads)),
            core_share: median_of(&core_share),
            peak_rss_bytes: median_of(&|run| run.usage.peak_rss_bytes as f64),
            in_calls: timed.then(|| {
                median(
                    calls
                        .iter()
                        .map(|calls| calls.total_ns as f64 / 1e9)
                        .collect(),
                )
            }),
            longest_call: calls
                .iter()
                .map(|calls| calls.longest_ns as f64 / 1e9)
                .reduce(f64::max),
            produce_seconds: median_of(&|run| run.produce_time.as_secs_f64()),
            until_shutdown: median_of(&|run| run.until_shutdown.as_secs_f64()),
            memory: MemorySummary::of(&runs),
            runs,
        }
    }

    /// `0 lost`, or with a surplus `0 lost, 100 counted beyond those made,
    /// behind which lost spans may hide`, or with spans delivered twice
    /// `0 lost, 512 delivered twice (at-least-once)`: a goal's value.
    fn loss_value(&self) -> String {
        let mut value = format!("{} lost", thousands(self.lost));
        if self.surplus > 0 {
            let _ = write!(
                value,
                ", {} counted beyond those made, behind which lost spans may hide",
                thousands(self.surplus)
            );
        }
        if self.duplicates > 0 {
            let _ = write!(
                value,
                ", {} delivered twice (at-least-once; each span counted once by its ids)",
                thousands(self.duplicates)
            );
        }
        value
    }

    /// `1,234 (2.5%)` or `0`.
    fn lost_label(&self) -> String {
        if self.lost == 0 {
            "0".to_owned()
        } else {
            format!(
                "{} ({:.1}%)",
                thousands(self.lost),
                100.0 * self.lost as f64 / self.produced.max(1) as f64
            )
        }
    }
}

/// One scenario's report: summaries and the pairs.
#[derive(Clone, Debug)]
pub struct ScenarioReport {
    /// Which scenario.
    pub scenario: Scenario,
    /// What its receiver did with each request.
    pub store: ReceiverStore,
    /// The rows, in table order.
    pub rows: Vec<FieldSummary>,
    /// Per row, the index of the baseline row doing the same work (ours only).
    pub pairs: Vec<Option<usize>>,
    /// The command that produces this table alone.
    pub command: String,
    /// Runs per row.
    pub runs: usize,
    /// The loads' settings (for the headings).
    pub field: crate::args::FieldOptions,
    /// Machine CPUs, for the other processes' share.
    pub nproc: usize,
    /// A sender's shutdown bound.
    pub shutdown_timeout: Duration,
    /// The length of every attribute value (`--value-len`).
    pub value_len: ValueLen,
}

impl ScenarioReport {
    /// The report of one scenario's measurements.
    pub fn new(options: &Options, results: ScenarioResults, nproc: usize) -> Self {
        let rows: Vec<FieldSummary> = results
            .rows
            .into_iter()
            .map(|(row, runs)| FieldSummary::new(row, runs))
            .collect();
        let pairs = rows
            .iter()
            .map(|ours| {
                if !matches!(
                    ours.row.implementation,
                    Implementation::OtlpRust | Implementation::OtlpRustDurable
                ) {
                    return None;
                }
                rows.iter()
                    .position(|baseline| baseline.row.pairs_with(&ours.row))
            })
            .collect();
        ScenarioReport {
            scenario: results.scenario,
            store: results.store,
            rows,
            pairs,
            command: command_line(&scenario_arguments(&options.given, results.scenario)),
            runs: options.runs,
            field: options.field,
            nproc,
            shutdown_timeout: options.shutdown_timeout,
            value_len: options.value_len,
        }
    }

    /// The baseline row paired with row `index`, if it is ours.
    fn pair(&self, index: usize) -> Option<&FieldSummary> {
        self.pairs[index].map(|pair| &self.rows[pair])
    }

    /// The memory-only row of durable row `index`: otlp-rust at its
    /// defaults with the same transport, load and door. `None` for any
    /// other row.
    fn memory_only(&self, index: usize) -> Option<usize> {
        let durable = &self.rows[index].row;
        if durable.implementation != Implementation::OtlpRustDurable {
            return None;
        }
        self.rows.iter().position(|row| {
            row.row.implementation == Implementation::OtlpRust
                && row.row.transport == durable.transport
                && row.row.load == durable.load
                && row.row.front == durable.front
        })
    }

    /// Row `index` against its memory-only row, if it is a durable row.
    fn durable_comparison(&self, index: usize) -> Option<DurableComparison> {
        let memory_only = &self.rows[self.memory_only(index)?];
        let durable = &self.rows[index];
        Some(DurableComparison {
            transport: durable.row.transport,
            memory_only_per_second: memory_only.delivered_per_second,
            durable_per_second: durable.delivered_per_second,
            memory_only_cpu_per_span: memory_only.cpu_per_span,
            durable_cpu_per_span: durable.cpu_per_span,
            memory_only_lost: memory_only.lost,
            durable_lost: durable.lost,
        })
    }

    /// Every durable row against its memory-only row, in table order.
    pub fn durable_comparisons(&self) -> Vec<DurableComparison> {
        (0..self.rows.len())
            .filter_map(|index| self.durable_comparison(index))
            .collect()
    }

    /// The control row (workload only, no SDK), if this scenario ran one.
    pub fn workload(&self) -> Option<&FieldSummary> {
        self.rows
            .iter()
            .find(|row| row.row.implementation == Implementation::Workload)
    }

    /// The control of row `index`: the control row with the same load and
    /// producer threads (else the first control). `None` for a control
    /// itself or without one.
    pub fn workload_for(&self, index: usize) -> Option<&FieldSummary> {
        let row = &self.rows[index].row;
        if row.implementation == Implementation::Workload {
            return None;
        }
        self.rows
            .iter()
            .find(|control| {
                control.row.implementation == Implementation::Workload
                    && control.row.load == row.load
                    && control.row.threads == row.threads
            })
            .or_else(|| self.workload())
    }

    /// Row `index`'s sender CPU seconds per span beyond the workload: its
    /// CPU per span less its control's. `None` for the control itself or
    /// without one.
    pub fn beyond_workload(&self, index: usize) -> Option<f64> {
        let row = &self.rows[index];
        Some(row.cpu_per_span - self.workload_for(index)?.cpu_per_span)
    }

    /// Row `index`'s CPU per span beyond the workload split by thread: the
    /// producer threads' (their CPU per span less the control's producer
    /// threads') and the rest of the process's (the pipeline's export,
    /// runtime and helper threads, less the control's few). The two add up
    /// to [`beyond_workload`](Self::beyond_workload). `None` as there.
    pub fn beyond_workload_by_thread(&self, index: usize) -> Option<(f64, f64)> {
        let row = &self.rows[index];
        let control = self.workload_for(index)?;
        let producer = row.producer_cpu_per_span - control.producer_cpu_per_span;
        Some((producer, self.beyond_workload(index)? - producer))
    }

    /// The `tracing` + `tracing-opentelemetry` over the bridge row doing
    /// the same work as `OtlpLayer` row `index`.
    fn bridge_of(&self, index: usize) -> Option<&FieldSummary> {
        let layer = &self.rows[index].row;
        self.rows.iter().find(|row| {
            row.row
                .is_layer_row(layer, Implementation::OtlpRust, Front::Tracing)
        })
    }

    /// The `tracing` + `tracing-opentelemetry` over the baseline behind the
    /// documented filter row doing the same work as `OtlpLayer` row `index`.
    fn filtered_of(&self, index: usize) -> Option<&FieldSummary> {
        let layer = &self.rows[index].row;
        self.rows.iter().find(|row| {
            row.row
                .is_layer_row(layer, Implementation::OpenTelemetry, Front::TracingFiltered)
        })
    }

    /// Row `index`'s CPU per span beyond the workload over its pair's (ours
    /// only).
    pub fn beyond_workload_ratio(&self, index: usize) -> Option<f64> {
        let pair = self.pairs[index]?;
        Some(self.beyond_workload(index)? / self.beyond_workload(pair)?)
    }

    /// The control's table under the steady and front-door tables: every
    /// pipeline row's CPU per span, the control's, the difference and
    /// otlp-rust's ratio against its pair; nothing without a control row.
    fn beyond_workload_table(&self, out: &mut String) {
        let Some(workload) = self.workload() else {
            return;
        };
        let doors = self.scenario == Scenario::FrontDoors;
        let controls: Vec<&FieldSummary> = self
            .rows
            .iter()
            .filter(|row| row.row.implementation == Implementation::Workload)
            .collect();
        if controls.len() == 1 {
            let _ = writeln!(
                out,
                "\nSender CPU beyond the workload (control: {WORKLOAD_LABEL}, {:.2} µs/span of CPU, \
                 {:.0}% of one core):\n",
                workload.cpu_per_span * 1e6,
                workload.core_share * 100.0,
            );
        } else {
            let each: Vec<String> = controls
                .iter()
                .map(|control| {
                    format!(
                        "{}: {:.2} µs/span of CPU, producer {:.0} ns/span of CPU",
                        row_load_label(&control.row).replace(", nested", ""),
                        control.cpu_per_span * 1e6,
                        control.producer_cpu_per_span * 1e9,
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "\nSender CPU beyond the workload (controls: {WORKLOAD_LABEL}, one per load and \
                 thread count; {}):\n",
                each.join("; "),
            );
        }
        out.push_str(if doors {
            "| front door | load | pipeline | transport | CPU µs/span | workload only µs/span \
             | CPU µs/span beyond the workload | beyond workload vs baseline (same door) \
             | of which producer threads µs/span (vs baseline) \
             | of which other threads µs/span (vs baseline) |\n\
             |---|---|---|---|---:|---:|---:|---:|---:|---:|\n"
        } else {
            "| implementation | transport | CPU µs/span | workload only µs/span \
             | CPU µs/span beyond the workload | beyond workload vs baseline \
             | of which producer thread µs/span (vs baseline) \
             | of which other threads µs/span (vs baseline) |\n\
             |---|---|---:|---:|---:|---:|---:|---:|\n"
        });
        for (index, row) in self.rows.iter().enumerate() {
            let Some(beyond) = self.beyond_workload(index) else {
                continue;
            };
            if doors {
                let _ = write!(
                    out,
                    "| {} | {} ",
                    row.row.front_label(),
                    row_load_label(&row.row)
                );
            }
            let by_thread = self.beyond_workload_by_thread(index);
            let pair = self.pairs[index].and_then(|pair| self.beyond_workload_by_thread(pair));
            let part = |own: Option<f64>, baseline: Option<f64>| match (own, baseline) {
                (Some(own), Some(baseline)) => {
                    format!("{:.2} ({})", own * 1e6, ratio(own / baseline))
                }
                (Some(own), None) => format!("{:.2}", own * 1e6),
                (None, _) => "–".to_owned(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {} |",
                self.label(&row.row),
                row.row.transport.label(),
                row.cpu_per_span * 1e6,
                self.workload_for(index)
                    .map_or(workload.cpu_per_span, |control| control.cpu_per_span)
                    * 1e6,
                beyond * 1e6,
                self.beyond_workload_ratio(index)
                    .map_or("–".to_owned(), ratio),
                part(
                    by_thread.map(|(producer, _)| producer),
                    pair.map(|(producer, _)| producer)
                ),
                part(
                    by_thread.map(|(_, other)| other),
                    pair.map(|(_, other)| other)
                ),
            );
        }
        let _ = writeln!(out, "\n{WORKLOAD_NOTE}");
    }

    /// The share of the machine's CPU (all cores) that processes other than
    /// the sender and the receiver used while this scenario's rows ran.
    pub fn others_share(&self) -> Option<f64> {
        others_share(self.rows.iter().flat_map(|row| &row.runs), self.nproc)
    }

    fn heading(&self) -> String {
        let field = &self.field;
        match self.scenario {
            Scenario::Burst => String::new(),
            Scenario::Steady => format!(
                "Steady rate: {} spans/s for {}, otlp-rust vs opentelemetry-rust",
                thousands(field.rate),
                seconds_label(field.duration)
            ),
            Scenario::Slow => format!(
                "Slow collector: every answer after {}, otlp-rust vs opentelemetry-rust",
                seconds_label(field.slow_delay)
            ),
            Scenario::Outage => format!(
                "Short outage: connections refused for {} while {} spans/s are sent, \
                 otlp-rust vs opentelemetry-rust",
                seconds_label(field.outage),
                thousands(field.outage_rate)
            ),
            Scenario::FrontDoors => format!(
                "Front doors: {} spans/s for {} (and `tracing` also in a burst of {}) through \
                 the `opentelemetry` API and `tracing`, otlp-rust vs opentelemetry-rust",
                thousands(field.rate),
                seconds_label(field.duration),
                thousands(field.door_spans),
            ),
            Scenario::Memory => format!(
                "Memory per held span: {} spans made while the receiver is down, \
                 otlp-rust vs opentelemetry-rust",
                thousands(field.memory_spans)
            ),
        }
    }

    fn receiver_label(&self) -> &'static str {
        match self.store {
            ReceiverStore::Count => {
                "`otlp_contrib::receiver`, `Store::CountOnly`: spans counted by walking the \
                 protobuf"
            }
            ReceiverStore::Decode => {
                "`otlp_contrib::receiver`, `Store::DecodeOnly`: every request decoded into \
                 `opentelemetry-proto` types and its ids checked"
            }
            ReceiverStore::Distinct => {
                "`otlp_contrib::receiver`, `Store::DecodeOnly`: every request decoded into \
                 `opentelemetry-proto` types and its ids checked; each span counted once by \
                 its trace and span ids, so lost = made − distinct spans counted, exactly, \
                 and a span delivered twice (an export retried after the receiver had taken \
                 it, as connections are reset) is reported apart"
            }
        }
    }

    /// The scenario's Markdown section.
    pub fn markdown(&self, machine: &Machine) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "### {}\n", self.heading());
        let _ = writeln!(
            out,
            "Measured {}{}; {}; {}. Receiver: {}, in its own process.\n",
            machine.summary(),
            others_phrase(self.others_share(), "these rows"),
            machine.source,
            runs_phrase(self.runs),
            self.receiver_label(),
        );
        out.push_str(&value_len_line(self.value_len));
        if machine.debug_build {
            out.push_str("**Debug build: not a measurement.**\n\n");
        }
        let _ = writeln!(out, "```sh\n{}\n```\n", self.command);
        match self.scenario {
            Scenario::Burst => {}
            Scenario::Steady => {
                self.steady_table(&mut out);
                self.beyond_workload_table(&mut out);
                durable_table(&mut out, &self.durable_comparisons(), "span made");
            }
            Scenario::Slow | Scenario::Outage => self.loss_table(&mut out),
            Scenario::FrontDoors => {
                self.front_door_table(&mut out);
                self.tracing_table(&mut out);
                self.beyond_workload_table(&mut out);
            }
            Scenario::Memory => self.memory_table(&mut out),
        }
        out.push('\n');
        out.push_str(&self.explanation());
        let goals = self.goals();
        if !goals.is_empty() {
            out.push_str(if self.scenario == Scenario::FrontDoors {
                "Goals for `tracing` + `OtlpLayer` at otlp-rust's default settings (the `tracing` \
                 front door), over every load, thread count and shape above:\n\n"
            } else {
                "Goals for otlp-rust at its default settings (issue 13):\n\n"
            });
            for goal in goals {
                let _ = writeln!(out, "- {goal}");
            }
            out.push('\n');
        }
        self.details(&mut out);
        out
    }

    fn label(&self, row: &FieldRow) -> String {
        row.implementation_label(row.baseline_queue(self.scenario, &self.field))
    }

    fn steady_table(&self, out: &mut String) {
        out.push_str(
            "| implementation | transport | spans sent | lost | sender CPU s | CPU µs/span \
             | share of one core | peak RSS MB | CPU/span vs baseline |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for (index, row) in self.rows.iter().enumerate() {
            if row.row.implementation == Implementation::Workload {
                continue;
            }
            let versus = self.pair(index).map_or("–".to_owned(), |pair| {
                ratio(row.cpu_per_span / pair.cpu_per_span)
            });
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.2} | {:.2} | {:.0}% | {:.1} | {versus} |",
                self.label(&row.row),
                row.row.transport.label(),
                thousands(row.produced),
                row.lost_label(),
                row.cpu_seconds,
                row.cpu_per_span * 1e6,
                row.core_share * 100.0,
                row.peak_rss_bytes / MIB,
            );
        }
    }

    fn loss_table(&self, out: &mut String) {
        out.push_str(
            "| implementation | transport | load | lost | producer s in span calls \
             | longest span call ms | produce s | until shutdown s | sender CPU s \
             | lost vs baseline | span-call time vs baseline |\n\
             |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for (index, row) in self.rows.iter().enumerate() {
            let pair = self.pair(index);
            let versus = match (pair.and_then(|pair| pair.in_calls), row.in_calls) {
                (Some(theirs), Some(ours)) => ratio(ours / theirs),
                _ => "–".to_owned(),
            };
            let lost_versus = pair.map_or("–".to_owned(), |pair| match (row.lost, pair.lost) {
                (_, 0) => "–".to_owned(),
                (0, _) => "0x".to_owned(),
                (ours, theirs) => ratio(ours as f64 / theirs as f64),
            });
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {lost_versus} | {versus} |",
                self.label(&row.row),
                row.row.transport.label(),
                load_label(row.row.load),
                row.lost_label(),
                row.in_calls.map_or("–".to_owned(), |s| format!("{s:.3}")),
                row.longest_call
                    .map_or("–".to_owned(), |s| format!("{:.1}", s * 1e3)),
                row.produce_seconds,
                row.until_shutdown,
                row.cpu_seconds,
            );
        }
    }

    fn front_door_table(&self, out: &mut String) {
        out.push_str(
            "| front door | pipeline | transport | spans sent | lost | other spans received \
             | CPU µs/span | share of one core | CPU/span vs baseline (same door) |\n\
             |---|---|---|---:|---:|---:|---:|---:|---:|\n",
        );
        for (index, row) in self.rows.iter().enumerate() {
            let steady = matches!(row.row.load, Load::Paced { .. });
            if row.row.implementation == Implementation::Workload
                || !steady
                || row.row.threads != 1
                || row.row.shape != Shape::Flat
            {
                continue;
            }
            let versus = self.pair(index).map_or("–".to_owned(), |pair| {
                ratio(row.cpu_per_span / pair.cpu_per_span)
            });
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {:.2} | {:.0}% | {versus} |",
                row.row.front_label(),
                self.label(&row.row),
                row.row.transport.label(),
                thousands(row.produced),
                row.lost_label(),
                thousands(row.other_spans.round() as u64),
                row.cpu_per_span * 1e6,
                row.core_share * 100.0,
            );
        }
    }

    /// The front doors' `tracing` rows, every load, thread count and shape:
    /// `OtlpLayer` against `tracing-opentelemetry` over the bridge and over
    /// the baseline (lossless queue).
    fn tracing_table(&self, out: &mut String) {
        out.push_str(
            "\nThe `tracing` door four ways: `OtlpLayer` → otlp-sdk, `tracing-opentelemetry` → \
             `OtlpSpanProcessor` → otlp-sdk, and `tracing-opentelemetry` → `opentelemetry_sdk` + \
             `opentelemetry-otlp` with a queue that holds every span (lossless), with no filter \
             and behind a filter that keeps the exporters' own crates (`h2`, `hyper`, `tonic`, \
             `tower`, `reqwest`) out:\n\n\
             | load | shape | threads | transport | door → pipeline | spans sent | lost \
             | sender CPU µs/span (min–max) | beyond workload µs/span | producer CPU ns/span \
             | producer wall ns/span | CPU/span vs baseline (lossless) \
             | CPU/span vs baseline (lossless, filtered) | CPU/span vs OtlpSpanProcessor |\n\
             |---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for (index, row) in self.rows.iter().enumerate() {
            if !row.row.is_tracing() || row.row.implementation == Implementation::Workload {
                continue;
            }
            let door = match (row.row.implementation, row.row.front) {
                (_, Front::Layer) => "`OtlpLayer` → otlp-sdk",
                (Implementation::OtlpRust, _) => {
                    "`tracing-opentelemetry` → `OtlpSpanProcessor` → otlp-sdk"
                }
                (_, Front::TracingFiltered) => {
                    "`tracing-opentelemetry` (exporters' crates filtered out) → \
                     `opentelemetry_sdk` + `opentelemetry-otlp` (lossless queue)"
                }
                _ => {
                    "`tracing-opentelemetry` → `opentelemetry_sdk` + `opentelemetry-otlp` (lossless queue)"
                }
            };
            let versus = self.pair(index).map_or("–".to_owned(), |pair| {
                ratio(row.cpu_per_span / pair.cpu_per_span)
            });
            let versus_filtered = self.filtered_of(index).map_or("–".to_owned(), |filtered| {
                ratio(row.cpu_per_span / filtered.cpu_per_span)
            });
            let versus_bridge = self.bridge_of(index).map_or("–".to_owned(), |bridge| {
                ratio(row.cpu_per_span / bridge.cpu_per_span)
            });
            let (low, high) = row.cpu_per_span_range;
            let wall = match row.row.load {
                Load::Burst { .. } => format!("{:.0}", row.producer_wall_per_span * 1e9),
                Load::Paced { .. } => "– (paced)".to_owned(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {door} | {} | {} | {:.2} ({:.2}–{:.2}) | {} | {:.0} | {wall} \
                 | {versus} | {versus_filtered} | {versus_bridge} |",
                load_label(row.row.load),
                row.row.shape.as_str(),
                row.row.threads,
                row.row.transport.label(),
                thousands(row.produced),
                row.lost_label(),
                row.cpu_per_span * 1e6,
                low * 1e6,
                high * 1e6,
                self.beyond_workload(index)
                    .map_or("–".to_owned(), |beyond| format!("{:.2}", beyond * 1e6)),
                row.producer_cpu_per_span * 1e9,
            );
        }
    }

    /// The encoded bytes per queued span of otlp-rust's row in `transport`:
    /// the size the baseline's spans are held against (the same spans,
    /// encoded the same way on the wire).
    fn encoded_in(&self, transport: Transport) -> Option<f64> {
        self.rows
            .iter()
            .find(|row| {
                row.row.implementation == Implementation::OtlpRust && row.row.transport == transport
            })?
            .memory?
            .encoded_per_span
    }

    fn memory_table(&self, out: &mut String) {
        out.push_str(
            "| implementation | transport | spans made | spans held after the load \
             | RSS growth MB | RSS bytes per held span | encoded bytes per span \
             | RSS per span / encoded size | RSS per span vs baseline | pipeline setup RSS MB \
             | lost once the receiver was back |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for (index, row) in self.rows.iter().enumerate() {
            let dash = || "–".to_owned();
            let memory = row.memory;
            let own_encoding = memory.and_then(|memory| memory.encoded_per_span);
            let encoded = own_encoding.or_else(|| self.encoded_in(row.row.transport));
            let encoded_label = match (own_encoding, encoded) {
                (Some(bytes), _) => format!("{bytes:.0}"),
                (None, Some(bytes)) => format!("({bytes:.0})"),
                (None, None) => dash(),
            };
            let versus = match (memory, self.pair(index).and_then(|pair| pair.memory)) {
                (Some(ours), Some(theirs)) => ratio(ours.per_held_span / theirs.per_held_span),
                _ => dash(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {encoded_label} | {} | {versus} | {} | {} |",
                self.label(&row.row),
                row.row.transport.label(),
                thousands(row.produced),
                memory.map_or_else(dash, |memory| thousands(memory.held.round() as u64)),
                memory.map_or_else(dash, |memory| format!("{:.1}", memory.growth_bytes / MIB)),
                memory.map_or_else(dash, |memory| format!("{:.0}", memory.per_held_span)),
                match (memory, encoded) {
                    (Some(memory), Some(encoded)) => ratio(memory.per_held_span / encoded),
                    _ => dash(),
                },
                memory.map_or_else(dash, |memory| format!("{:.1}", memory.setup_bytes / MIB)),
                row.lost_label(),
            );
        }
    }

    /// The issue's goals this scenario measures, for otlp-rust's rows.
    pub fn goals(&self) -> Vec<FieldGoal> {
        let ours = self
            .rows
            .iter()
            .filter(|row| row.row.implementation == Implementation::OtlpRust);
        match self.scenario {
            Scenario::Outage => ours
                .map(|row| FieldGoal {
                    transport: row.row.transport,
                    goal: format!(
                        "nothing lost in a {} outage at {} spans/s, everything delivered once \
                         the receiver is back",
                        seconds_label(self.field.outage),
                        thousands(self.field.outage_rate)
                    ),
                    met: row.lost == 0 && row.surplus == 0,
                    value: row.loss_value(),
                })
                .collect(),
            Scenario::Memory => ours
                .filter_map(|row| {
                    let memory = row.memory?;
                    let encoded = memory.encoded_per_span?;
                    let per_byte = memory.per_held_span / encoded;
                    Some(FieldGoal {
                        transport: row.row.transport,
                        goal: format!(
                            "resident memory per held span ≤ {GOAL_RSS_PER_ENCODED_BYTE}x its \
                             encoded size"
                        ),
                        met: per_byte <= GOAL_RSS_PER_ENCODED_BYTE,
                        value: format!(
                            "{}: {:.0} B against {encoded:.0} B",
                            ratio(per_byte),
                            memory.per_held_span
                        ),
                    })
                })
                .collect(),
            Scenario::FrontDoors => self.tracing_goals(),
            _ => Vec::new(),
        }
    }

    /// The `tracing` front door's goals, per transport over every
    /// `OtlpLayer` row: sender CPU per span at most 1/5 of the baseline's
    /// (lossless queue), at most 1 µs per span, nothing lost.
    fn tracing_goals(&self) -> Vec<FieldGoal> {
        let mut goals = Vec::new();
        for &transport in Transport::ALL.iter() {
            let layers: Vec<usize> = (0..self.rows.len())
                .filter(|&index| {
                    let row = &self.rows[index].row;
                    row.front == Front::Layer && row.transport == transport
                })
                .collect();
            if layers.is_empty() {
                continue;
            }
            let name = |index: usize| {
                let row = &self.rows[index].row;
                format!(
                    "{}/{}t/{}",
                    match row.load {
                        Load::Burst { .. } => "burst",
                        Load::Paced { .. } => "steady",
                    },
                    row.threads,
                    row.shape.as_str()
                )
            };
            let ratio_goal = |goal: &str, baseline_cpu: &dyn Fn(usize) -> Option<f64>| {
                let ratios: Vec<(usize, Option<f64>)> = layers
                    .iter()
                    .map(|&index| {
                        let cpu = self.rows[index].cpu_per_span;
                        (index, baseline_cpu(index).map(|other| cpu / other))
                    })
                    .collect();
                FieldGoal {
                    transport,
                    goal: goal.to_owned(),
                    met: ratios
                        .iter()
                        .all(|(_, ratio)| ratio.is_some_and(|ratio| ratio <= 0.2)),
                    value: ratios
                        .iter()
                        .map(|&(index, value)| {
                            format!("{} {}", name(index), value.map_or("–".to_owned(), ratio))
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            };
            goals.push(ratio_goal(
                "sender CPU per span ≤ 1/5 of `tracing-opentelemetry` + \
                 `opentelemetry-otlp` with a lossless queue",
                &|index| self.pair(index).map(|pair| pair.cpu_per_span),
            ));
            goals.push(ratio_goal(
                "sender CPU per span ≤ 1/5 of `tracing-opentelemetry` + \
                 `opentelemetry-otlp` with a lossless queue, its exporters' crates filtered out",
                &|index| {
                    self.filtered_of(index)
                        .map(|filtered| filtered.cpu_per_span)
                },
            ));
            goals.push(FieldGoal {
                transport,
                goal: "sender CPU ≤ 1 µs per span (8 fields)".to_owned(),
                met: layers
                    .iter()
                    .all(|&index| self.rows[index].cpu_per_span <= 1e-6),
                value: layers
                    .iter()
                    .map(|&index| {
                        let row = &self.rows[index];
                        format!(
                            "{} {:.2} µs (producer threads {:.2})",
                            name(index),
                            row.cpu_per_span * 1e6,
                            row.producer_cpu_per_span * 1e6
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            });
            let lost: u64 = layers.iter().map(|&index| self.rows[index].lost).sum();
            let surplus: u64 = layers.iter().map(|&index| self.rows[index].surplus).sum();
            goals.push(FieldGoal {
                transport,
                goal: "0 lost at default settings".to_owned(),
                met: lost == 0 && surplus == 0,
                value: if surplus == 0 {
                    format!("{} lost in the worst runs together", thousands(lost))
                } else {
                    format!(
                        "{} lost in the worst runs together, {} counted beyond those made, \
                         behind which lost spans may hide",
                        thousands(lost),
                        thousands(surplus)
                    )
                },
            });
        }
        goals
    }

    fn explanation(&self) -> String {
        let common = format!(
            "Each row is one sender process whose main thread formats eight \
             {}-character attribute values per span and records the span, paced: \
             every millisecond it makes the spans due by then. Lost = spans made − \
             spans of the application the receiver accepted. Sender CPU = user + \
             system time of the whole sender process (`wait4`), setup and shutdown \
             included; CPU µs/span divides it by the spans made; share of one core \
             divides it by the time from the first span to the return of shutdown.",
            self.value_len
        );
        let specific = match self.scenario {
            Scenario::Burst => String::new(),
            Scenario::Steady => {
                " Both pipelines at their defaults (the baseline's queue as its row's label \
                 says); CPU/span vs baseline is otlp-rust's CPU µs/span over the \
                 baseline's in the same transport (for the durable row too, described \
                 under its own table)."
                    .to_owned()
            }
            Scenario::Slow => {
                " The burst row makes its spans as fast as it can. Producer s in span calls \
                 = the time the producing thread spent inside the SDK's span calls (start, \
                 eight attributes, end), each call timed: time spent waiting for room in a \
                 queue shows here, and so does a producer that fell behind its pace (produce \
                 s above the load's duration). Span-call time vs baseline is otlp-rust's over \
                 the baseline's for the same load and transport; lost vs baseline, its spans \
                 lost over the baseline's (– when the baseline lost none)."
                    .to_owned()
            }
            Scenario::Outage => format!(
                " The receiver refuses connections (listeners closed, open connections \
                 reset) from {margin} after the sender's first span until the outage ends \
                 ({outage}); the sender keeps its pace throughout and for {margin} more, then \
                 shuts down (bound {bound} s), so lost counts every span not delivered once the \
                 receiver is back.{by_id} Producer s in span calls and the ratios as in the \
                 slow-collector table.",
                by_id = if self.store == ReceiverStore::Distinct {
                    " The receiver counts each span once by its ids: a span delivered twice \
                     (an export retried after the receiver had taken it, when its answer was \
                     lost with the reset connection) counts once in lost and shows in the \
                     problems column."
                } else {
                    ""
                },
                margin = seconds_label(OUTAGE_MARGIN),
                outage = seconds_label(self.field.outage),
                bound = self.shutdown_timeout.as_secs(),
            ),
            Scenario::Memory => format!(
                " Here the main thread makes {spans} spans as fast as it can while the receiver \
                 refuses connections (from before the sender starts until it has noted its \
                 memory; at most 1 s later the receiver is back and the sender shuts down). \
                 Both pipelines at their defaults but the baseline's queue, which holds \
                 {spans} spans. RSS = the sender's resident set (`/proc/self/statm`), read \
                 before the pipeline is built, just before the first span and just after the \
                 last one ended; RSS growth is the last less the second, pipeline setup RSS \
                 the second less the first. Spans held after the load: otlp-rust's `queued` + \
                 `in_flight`; the baseline's spans made less those its batch processor handed \
                 to its exporter (counted by a wrapper; those exports fail and the spans are \
                 gone). Encoded bytes per span = otlp-rust's `queued_bytes` / `queued` (OTLP \
                 protobuf, eight bytes of framing each); the baseline's row is set against the \
                 same figure, in parentheses. The baseline's queue allocates and touches a slot \
                 per span when it is built (its pipeline setup RSS), so its RSS growth counts \
                 only what a span holds beyond its slot. RSS per span vs baseline is otlp-rust's RSS \
                 bytes per held span over the baseline's. Lost = spans made − spans the \
                 receiver accepted once it was back (otlp-rust drops what does not fit its \
                 64 MiB budget, counted as `dropped_queue_full`).",
                spans = thousands(self.field.memory_spans),
            ),
            Scenario::FrontDoors => {
                " The `opentelemetry` API rows record through `opentelemetry_sdk`'s tracer: \
                 for otlp-rust with `otlp_contrib::bridge::OtlpSpanProcessor` over an \
                 `otlp_sdk::BatchSpanProcessor`, for the baseline with its batch processor \
                 and `opentelemetry-otlp`. The `tracing` rows make an `info_span!` with the \
                 eight attributes as fields through `tracing_subscriber::registry()` with \
                 `tracing_opentelemetry::layer()` on that tracer, its busy and idle timing off \
                 (`with_tracked_inactivity(false)`: `OtlpLayer` writes no `busy_ns` nor \
                 `idle_ns`), installed as the global \
                 subscriber, no filter (as the bridge documents). Other spans received = \
                 spans the sender exported that the application did not make (its \
                 pipeline's own `tracing` spans fed back). Ratios: each otlp-rust row over \
                 the baseline behind the same door (otlp-sdk's own tracer over the \
                 baseline's API row). The `tracing` table adds `OtlpLayer` \
                 (`otlp_contrib::tracing::OtlpLayer` with the scope set to the other doors' \
                 tracer's and the thread and target attributes on, as \
                 `tracing-opentelemetry` writes them by default, on \
                 `tracing_subscriber::registry()`, global) over \
                 otlp-sdk's own pipeline at its defaults, with the same exporters, receiver and \
                 spans; each door also makes a burst as fast as it can, with one and with two \
                 producer threads (the load shared evenly: each thread makes half the spans, a \
                 steady thread at half the rate), flat spans and the nested shape (a root span \
                 entered while its nine children, eight fields each, are made and closed: ten \
                 spans per unit). The baseline's `tracing` rows run with a queue that holds \
                 every span of the load, so that they lose none, twice: as above, and with \
                 its layer behind `otlp_benches::logs::documented_filter` (`INFO` and above, \
                 `h2`, `hyper`, `tonic`, `tower` and `reqwest` off: the set-up of a user who \
                 keeps the exporter's own spans out, its filter's cost included); `OtlpLayer` \
                 is set against both. Producer CPU ns/span = the \
                 producer threads' own CPU time (`CLOCK_THREAD_CPUTIME_ID`, from their first \
                 span to their last) over the spans made; producer wall ns/span = the time from \
                 the first span started to the last one ended, over the spans each thread made \
                 (bursts only). Min–max: over the runs."
                    .to_owned()
            }
        };
        format!("{common}{specific}\n\n")
    }

    fn details(&self, out: &mut String) {
        out.push_str(
            "<details><summary>Details</summary>\n\n\
             | implementation | door | transport | load | lost per run | CPU µs/span per run \
             | otlp-sdk dropped / retries per run | receiver CPU s | other processes' CPU s \
             | requests | problems |\n\
             |---|---|---|---|---|---|---|---:|---:|---:|---|\n",
        );
        for row in &self.rows {
            let join = |values: Vec<String>| values.join(", ");
            let lost = match row.row.implementation {
                Implementation::Workload => "– (sends nothing)".to_owned(),
                _ => join(row.runs.iter().map(|run| thousands(run.lost())).collect()),
            };
            let cpu = join(
                row.runs
                    .iter()
                    .map(|run| format!("{:.2}", cpu_per_span(run) * 1e6))
                    .collect(),
            );
            let accounting = join(
                row.runs
                    .iter()
                    .map(|run| {
                        let stats = &run.pipeline_stats;
                        match (stats["dropped"].as_u64(), stats["retries"].as_u64()) {
                            (Some(dropped), Some(retries)) => {
                                format!("{} / {}", thousands(dropped), thousands(retries))
                            }
                            _ => "–".to_owned(),
                        }
                    })
                    .collect(),
            );
            let receiver_cpu = median(
                row.runs
                    .iter()
                    .map(|run| run.receiver_cpu.as_secs_f64())
                    .collect(),
            );
            let others: Vec<f64> = row
                .runs
                .iter()
                .filter_map(|run| run.others_cpu.map(|cpu| cpu.as_secs_f64()))
                .collect();
            let others = if others.is_empty() {
                "?".to_owned()
            } else {
                format!("{:.2}", median(others))
            };
            let requests = median(row.runs.iter().map(|run| run.requests as f64).collect());
            let problems: Vec<String> = row.runs.iter().flat_map(Measurement::problems).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {lost} | {cpu} | {accounting} | {receiver_cpu:.2} | {others} \
                 | {} | {} |",
                self.label(&row.row),
                match row.row.implementation {
                    Implementation::Workload => "–",
                    _ => row.row.front.as_str(),
                },
                transport_label(&row.row),
                row_load_label(&row.row),
                thousands(requests.round() as u64),
                problems.join("; ").replace('|', "\\|"),
            );
        }
        out.push_str("\n</details>\n");
    }

    /// The same report as JSON.
    pub fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .enumerate()
            .map(|(index, row)| {
                let pair = self.pair(index);
                let durable = self.durable_comparison(index).map(|comparison| {
                    json!({
                        "ratio_throughput": comparison.throughput_ratio(),
                        "ratio_cpu_per_span": comparison.cpu_per_span_ratio(),
                    })
                });
                let runs: Vec<Value> = row
                    .runs
                    .iter()
                    .map(|run| {
                        json!({
                            "produced": run.produced,
                            "delivered": run.delivered,
                            "lost": run.lost(),
                            "surplus": run.surplus(),
                            "distinct": run.distinct,
                            "duplicates": run.duplicates(),
                            "other_spans": run.other_spans,
                            "sender_cpu_seconds": run.usage.cpu().as_secs_f64(),
                            "peak_rss_bytes": run.usage.peak_rss_bytes,
                            "produce_seconds": run.produce_time.as_secs_f64(),
                            "producer_cpu_seconds": run.producer_cpu.as_secs_f64(),
                            "until_shutdown_seconds": run.until_shutdown.as_secs_f64(),
                            "in_span_calls_seconds": run.calls.map(|c| c.total_ns as f64 / 1e9),
                            "longest_span_call_seconds": run.calls.map(|c| c.longest_ns as f64 / 1e9),
                            "receiver_cpu_seconds": run.receiver_cpu.as_secs_f64(),
                            "others_cpu_seconds": run.others_cpu.map(|cpu| cpu.as_secs_f64()),
                            "requests": run.requests,
                            "bad_requests": run.bad_requests,
                            "shutdown_error": run.shutdown_error,
                            "pipeline_stats": run.pipeline_stats,
                            "memory": run.memory.as_ref().map(crate::memory::MemorySample::json),
                        })
                    })
                    .collect();
                let by_thread = self.beyond_workload_by_thread(index).map(|(producer, other)| {
                    json!({
                        "producer_threads_cpu_seconds_per_span": producer,
                        "other_threads_cpu_seconds_per_span": other,
                    })
                });
                json!({
                    "implementation": row.row.implementation.as_str(),
                    "front": row.row.front.as_str(),
                    "label": self.label(&row.row),
                    "transport": row.row.transport.as_str(),
                    "load": load_label(row.row.load),
                    "threads": row.row.threads,
                    "shape": row.row.shape.as_str(),
                    "producer_cpu_seconds_per_span": row.producer_cpu_per_span,
                    "producer_wall_seconds_per_span_per_thread": row.producer_wall_per_span,
                    "sender_cpu_seconds_per_span_min": row.cpu_per_span_range.0,
                    "sender_cpu_seconds_per_span_max": row.cpu_per_span_range.1,
                    "ratio_cpu_per_span_vs_filtered_baseline": self
                        .filtered_of(index)
                        .map(|filtered| row.cpu_per_span / filtered.cpu_per_span),
                    "ratio_cpu_per_span_vs_bridge": self
                        .bridge_of(index)
                        .map(|bridge| row.cpu_per_span / bridge.cpu_per_span),
                    "produced": row.produced,
                    "lost": row.lost,
                    "delivered_per_second": row.delivered_per_second,
                    "other_spans": row.other_spans,
                    "sender_cpu_seconds": row.cpu_seconds,
                    "sender_cpu_seconds_per_span": row.cpu_per_span,
                    "core_share": row.core_share,
                    "peak_rss_bytes": row.peak_rss_bytes,
                    "in_span_calls_seconds": row.in_calls,
                    "longest_span_call_seconds": row.longest_call,
                    "produce_seconds": row.produce_seconds,
                    "until_shutdown_seconds": row.until_shutdown,
                    "ratio_cpu_per_span": pair.map(|pair| row.cpu_per_span / pair.cpu_per_span),
                    "ratio_in_span_calls": pair
                        .and_then(|pair| Some(row.in_calls? / pair.in_calls?)),
                    "workload_cpu_seconds_per_span": self.workload_for(index).map(|w| w.cpu_per_span),
                    "sender_cpu_seconds_per_span_beyond_workload": self.beyond_workload(index),
                    "ratio_cpu_per_span_beyond_workload": self.beyond_workload_ratio(index),
                    "beyond_workload_by_thread": by_thread,
                    "durable_vs_memory_only": durable,
                    "memory": row.memory.map(|memory| {
                        let encoded = memory
                            .encoded_per_span
                            .or_else(|| self.encoded_in(row.row.transport));
                        json!({
                            "held": memory.held,
                            "rss_growth_bytes": memory.growth_bytes,
                            "rss_bytes_per_held_span": memory.per_held_span,
                            "encoded_bytes_per_span": memory.encoded_per_span,
                            "rss_per_encoded_byte": encoded.map(|bytes| memory.per_held_span / bytes),
                            "ratio_rss_per_held_span": pair
                                .and_then(|pair| pair.memory)
                                .map(|theirs| memory.per_held_span / theirs.per_held_span),
                            "pipeline_setup_rss_bytes": memory.setup_bytes,
                        })
                    }),
                    "runs": runs,
                })
            })
            .collect();
        json!({
            "scenario": self.scenario.as_str(),
            "receiver": self.store.as_str(),
            "command": self.command,
            "runs": self.runs,
            "attribute_value_len": self.value_len.get(),
            "others_cpu_share": self.others_share(),
            "rows": rows,
            "workload": self.workload().map(|row| json!({
                "label": WORKLOAD_LABEL,
                "sender_cpu_seconds_per_span": row.cpu_per_span,
                "core_share": row.core_share,
                "produce_seconds": row.produce_seconds,
                "note": WORKLOAD_NOTE,
            })),
            "goals": self.goals().iter().map(|goal| json!({
                "transport": goal.transport.as_str(),
                "goal": goal.goal,
                "met": goal.met,
                "value": goal.value,
            })).collect::<Vec<_>>(),
            "durable_vs_memory_only": self
                .durable_comparisons()
                .iter()
                .map(DurableComparison::json)
                .collect::<Vec<_>>(),
        })
    }
}

/// One goal of the issue, for otlp-rust in one transport.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldGoal {
    /// The transport.
    pub transport: Transport,
    /// What the goal asks.
    pub goal: String,
    /// Whether the measured row meets it.
    pub met: bool,
    /// The measured figure.
    pub value: String,
}

impl std::fmt::Display for FieldGoal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}: {} ({})",
            self.transport.label(),
            self.goal,
            if self.met { "met" } else { "**NOT met**" },
            self.value
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Role, parse};

    fn options(args: &[&str]) -> Options {
        match parse(args.iter().map(|arg| arg.to_string()).collect()) {
            Ok(Role::Coordinator(options)) => options,
            other => panic!("coordinator expected: {other:?}"),
        }
    }

    #[test]
    fn every_otlp_rust_row_has_a_baseline_row_doing_the_same_work() {
        let options = options(&["--scenario", "all"]);
        for scenario in Scenario::ALL {
            let rows = rows(&options, scenario);
            let expected = match scenario {
                Scenario::Burst => 0,
                // Per transport ours, ours with the durable queue and
                // the baseline; then the control.
                Scenario::Steady => 7,
                Scenario::Outage | Scenario::Memory => 4,
                Scenario::Slow => 8,
                // Per transport ours, the API pair, and the `tracing`
                // door four ways for 2 loads x 2 thread counts x 2
                // shapes; then a control per load and thread count.
                Scenario::FrontDoors => 2 * (3 + 4 * 8) + 4,
            };
            assert_eq!(rows.len(), expected, "{scenario:?}");
            for ours in rows.iter().filter(|row| {
                matches!(
                    row.implementation,
                    Implementation::OtlpRust | Implementation::OtlpRustDurable
                )
            }) {
                let pairs = rows.iter().filter(|row| row.pairs_with(ours)).count();
                assert_eq!(pairs, 1, "{scenario:?} {ours:?}");
            }
        }
        let steady = rows(&options, Scenario::Steady);
        assert_eq!(
            steady[0].load,
            Load::Paced {
                rate: 50_000,
                duration: Duration::from_secs(10)
            }
        );
        // 2 s, the 5 s outage, 2 s: 9 s at 20,000 spans/s.
        let outage = rows(&options, Scenario::Outage);
        assert_eq!(outage[0].load.spans(), 180_000);
        let memory = rows(&options, Scenario::Memory);
        assert_eq!(memory[0].load, Load::Burst { spans: 200_000 });
        // The durable row sits beside the memory-only one, in the steady
        // rate only, and `--no-durable` leaves it out.
        assert_eq!(steady[1].implementation, Implementation::OtlpRustDurable);
        let durable_rows = |options: &Options| {
            Scenario::ALL
                .into_iter()
                .flat_map(|scenario| rows(options, scenario))
                .filter(|row| row.implementation == Implementation::OtlpRustDurable)
                .count()
        };
        assert_eq!(durable_rows(&options), 2);
        assert_eq!(durable_rows(&self::options(&["--no-durable"])), 0);
    }

    #[test]
    fn the_tracing_goals_judge_the_filtered_baseline_too() {
        use crate::report::tests::measurement;
        let options = options(&[
            "--scenario",
            "front-doors",
            "--transport",
            "http",
            "--door-threads",
            "1",
            "--door-shapes",
            "flat",
            "--runs",
            "1",
        ]);
        let rows = rows(&options, Scenario::FrontDoors);
        let filtered: Vec<&FieldRow> = rows
            .iter()
            .filter(|row| row.front == Front::TracingFiltered)
            .collect();
        // One filtered baseline per load (burst and steady), the baseline's.
        assert_eq!(filtered.len(), 2, "{rows:?}");
        assert!(
            filtered
                .iter()
                .all(|row| row.implementation == Implementation::OpenTelemetry)
        );
        // CPU seconds per row for the spans each makes: `OtlpLayer` 0.15x
        // of the unfiltered baseline, 0.3x of the filtered one.
        let cpu = |row: &FieldRow| match (row.implementation, row.front) {
            (Implementation::OtlpRust, Front::Layer) => 1.5,
            (Implementation::OpenTelemetry, Front::Tracing) => 10.0,
            (Implementation::OpenTelemetry, Front::TracingFiltered) => 5.0,
            _ => 4.0,
        };
        let results = ScenarioResults {
            scenario: Scenario::FrontDoors,
            store: ReceiverStore::Decode,
            rows: rows
                .iter()
                .map(|row| {
                    let spans = row.load.spans();
                    (*row, vec![measurement(spans, spans, 10.0, cpu(row), 50)])
                })
                .collect(),
        };
        let report = ScenarioReport::new(&options, results, 1);
        let goals = report.goals();
        let unfiltered = goals
            .iter()
            .find(|goal| goal.goal.ends_with("with a lossless queue"))
            .expect("the goal against the unfiltered baseline");
        assert!(unfiltered.met, "{unfiltered}");
        let against_filtered = goals
            .iter()
            .find(|goal| goal.goal.ends_with("exporters' crates filtered out"))
            .expect("the goal against the filtered baseline");
        assert!(!against_filtered.met, "{against_filtered}");
        assert!(
            against_filtered.value.contains("0.30x"),
            "{against_filtered}"
        );
        let markdown = report.markdown(&crate::report::Machine::describe());
        assert!(
            markdown.contains("exporters' crates filtered out"),
            "{markdown}"
        );
    }

    #[test]
    fn the_cost_beyond_the_workload_is_split_between_the_producer_and_the_other_threads() {
        use crate::report::tests::measurement;
        let options = options(&["--scenario", "steady", "--transport", "grpc", "--runs", "1"]);
        let rows = rows(&options, Scenario::Steady);
        // Per span of 500,000: process CPU and the producer thread's.
        let cpu = |row: &FieldRow| match row.implementation {
            Implementation::OtlpRust => (2.0e-6, 1.0e-6),
            Implementation::OpenTelemetry => (7.0e-6, 2.0e-6),
            Implementation::Workload => (0.6e-6, 0.5e-6),
            Implementation::OtlpRustDurable => (2.5e-6, 1.0e-6),
        };
        let results = ScenarioResults {
            scenario: Scenario::Steady,
            store: ReceiverStore::Decode,
            rows: rows
                .iter()
                .map(|row| {
                    let spans = row.load.spans();
                    let (process, producer) = cpu(row);
                    let mut run = measurement(spans, spans, 10.0, process * spans as f64, 50);
                    run.producer_cpu = Duration::from_secs_f64(producer * spans as f64);
                    (*row, vec![run])
                })
                .collect(),
        };
        let report = ScenarioReport::new(&options, results, 2);
        let ours = report
            .rows
            .iter()
            .position(|row| row.row.implementation == Implementation::OtlpRust)
            .expect("otlp-rust's row");
        let (producer, other) = report
            .beyond_workload_by_thread(ours)
            .expect("a control row ran");
        // Producer: 1.0 - 0.5 µs; the other threads: (2.0 - 0.6) - 0.5 µs.
        assert!((producer - 0.5e-6).abs() < 1e-12, "{producer}");
        assert!((other - 0.9e-6).abs() < 1e-12, "{other}");
        let beyond = report.beyond_workload(ours).expect("a control row ran");
        assert!((producer + other - beyond).abs() < 1e-12);
        // The baseline: 1.5 µs on its producer, 4.9 on its other threads.
        let markdown = report.markdown(&crate::report::Machine::describe());
        assert!(
            markdown.contains("| 1.40 | 0.22x | 0.50 (0.33x) | 0.90 (0.18x) |"),
            "{markdown}"
        );
        let split = &report.json()["rows"][ours]["beyond_workload_by_thread"];
        assert!(
            split["other_threads_cpu_seconds_per_span"].is_f64(),
            "{split}"
        );
    }

    #[test]
    fn a_scenario_report_names_the_value_length_when_it_is_not_the_default() {
        use crate::report::tests::measurement;
        let mut machine = crate::report::Machine::describe();
        machine.finish();
        let report = |args: &[&str]| {
            let options = options(args);
            let results = ScenarioResults {
                scenario: Scenario::Steady,
                store: ReceiverStore::Decode,
                rows: rows(&options, Scenario::Steady)
                    .iter()
                    .map(|row| {
                        let spans = row.load.spans();
                        (*row, vec![measurement(spans, spans, 10.0, 1.0, 50)])
                    })
                    .collect(),
            };
            ScenarioReport::new(&options, results, 2)
        };
        let default = report(&["--scenario", "steady", "--transport", "grpc", "--runs", "1"]);
        let markdown = default.markdown(&machine);
        assert!(!markdown.contains("Attribute values:"), "{markdown}");
        assert!(
            markdown.contains("formats eight 16-character attribute values per span"),
            "{markdown}"
        );
        assert_eq!(default.json()["attribute_value_len"], 16);
        let long = report(&[
            "--scenario",
            "steady",
            "--transport",
            "grpc",
            "--runs",
            "1",
            "--value-len",
            "40",
        ]);
        let markdown = long.markdown(&machine);
        assert!(
            markdown.contains(
                "Attribute values: 40 characters each (`--value-len 40`; the issues' workload \
                 is 16)."
            ),
            "{markdown}"
        );
        assert!(
            markdown.contains("formats eight 40-character attribute values per span"),
            "{markdown}"
        );
        assert!(long.command.contains("--value-len 40"), "{}", long.command);
        assert_eq!(long.json()["attribute_value_len"], 40);
    }

    #[test]
    fn an_outage_run_that_counted_more_spans_than_it_made_does_not_meet_zero_loss() {
        use crate::report::tests::measurement;
        let options = options(&["--scenario", "outage", "--transport", "grpc", "--runs", "1"]);
        let rows = rows(&options, Scenario::Outage);
        assert_eq!(rows.len(), 2);
        // Ours retried 200 spans the receiver had taken before the
        // connections were reset: counted twice, 0 lost on the face of it.
        let results = ScenarioResults {
            scenario: Scenario::Outage,
            store: ReceiverStore::Decode,
            rows: vec![
                (rows[0], vec![measurement(180_000, 180_200, 9.0, 1.0, 50)]),
                (rows[1], vec![measurement(180_000, 80_000, 9.0, 2.0, 90)]),
            ],
        };
        let report = ScenarioReport::new(&options, results, 2);
        let goals = report.goals();
        assert_eq!(goals.len(), 1);
        assert!(!goals[0].met, "{}", goals[0]);
        assert_eq!(
            goals[0].value,
            "0 lost, 200 counted beyond those made, behind which lost spans may hide"
        );
        let markdown = report.markdown(&crate::report::Machine::describe());
        assert!(
            markdown.contains("200 spans counted beyond the 180,000 made"),
            "{markdown}"
        );
        assert_eq!(report.json()["rows"][0]["runs"][0]["surplus"], 200);
    }

    #[test]
    fn an_outage_run_counted_by_id_meets_zero_loss_with_its_spans_delivered_twice_shown() {
        use crate::report::tests::measurement;
        let options = options(&["--scenario", "outage", "--transport", "grpc", "--runs", "1"]);
        assert_eq!(options.store_for(Scenario::Outage), ReceiverStore::Distinct);
        let rows = rows(&options, Scenario::Outage);
        // The same 200 spans counted twice, but the receiver counted each
        // span once by its ids as well: all 180,000 arrived.
        let ours = Measurement {
            distinct: Some(180_000),
            ..measurement(180_000, 180_200, 9.0, 1.0, 50)
        };
        let results = ScenarioResults {
            scenario: Scenario::Outage,
            store: ReceiverStore::Distinct,
            rows: vec![
                (rows[0], vec![ours]),
                (rows[1], vec![measurement(180_000, 80_000, 9.0, 2.0, 90)]),
            ],
        };
        let report = ScenarioReport::new(&options, results, 2);
        let goals = report.goals();
        assert!(goals[0].met, "{}", goals[0]);
        assert_eq!(
            goals[0].value,
            "0 lost, 200 delivered twice (at-least-once; each span counted once by its ids)"
        );
        let markdown = report.markdown(&crate::report::Machine::describe());
        assert!(markdown.contains("200 spans delivered twice"), "{markdown}");
        assert_eq!(report.json()["rows"][0]["runs"][0]["duplicates"], 200);
        assert_eq!(report.json()["rows"][0]["runs"][0]["distinct"], 180_000);
    }

    #[test]
    fn a_scenario_table_names_the_command_that_makes_it_alone() {
        assert_eq!(
            scenario_arguments(
                &[
                    "--runs".into(),
                    "1".into(),
                    "--scenario".into(),
                    "all".into()
                ],
                Scenario::Slow
            ),
            ["--runs", "1", "--scenario", "slow"]
        );
        assert_eq!(load_label(Load::Burst { spans: 5_000 }), "burst of 5,000");
        assert_eq!(
            load_label(Load::Paced {
                rate: 10_000,
                duration: Duration::from_millis(2_500)
            }),
            "10,000/s for 2.5 s"
        );
        assert_eq!(seconds_label(Duration::from_millis(200)), "200 ms");
    }
}
