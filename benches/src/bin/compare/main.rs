//! `compare`: otlp-rust against opentelemetry-rust end to end over OTLP/gRPC
//! and OTLP/HTTP to a loopback receiver, in several scenarios, printed as
//! Markdown tables (or JSON).
//!
//! ```text
//! cargo run --release -p otlp-benches --bin compare [-- --scenario LIST --spans N --runs R --json ...]
//! ```
//!
//! Scenarios ([`args::Scenario`], `--scenario`): the **burst** (1,000,000
//! spans as fast as one thread makes them, described below; this module's
//! [`run`] and [`report`]), and where users run a pipeline ([`field`]): a
//! **steady** rate, a **slow** collector, a short **outage** (5 s), the
//! **front doors** (the `opentelemetry` API and `tracing`), and the
//! **memory** a pipeline takes per span it holds while the receiver is down
//! ([`memory`]). The burst's receiver counts spans; the others' decodes
//! every request (`--receiver count|decode` chooses for all). Apart from
//! those, `--scenario logs` compares log records through `tracing`
//! ([`logs`]), and `--scenario metrics` compares counters and histograms
//! (issue 17: ns per recording, memory per series, CPU to export;
//! [`metrics`]).
//!
//! ## What runs where
//!
//! The coordinator (this process, no options or the public ones of
//! [`args::USAGE`]) starts this same binary again in two hidden roles:
//!
//! - one **receiver** process for the whole comparison
//!   (`otlp_contrib::receiver::Receiver` with `Store::CountOnly` on free
//!   loopback ports: spans are counted by walking the protobuf, nothing is
//!   decoded into structs), which it asks for its span count over stdin;
//! - one **sender** process per row and run, one at a time: a single
//!   producer thread formats eight attribute values per span (16 characters
//!   each unless `--value-len` says otherwise) and records the
//!   span through the SDK's tracer API, then shuts the provider down with a
//!   generous bound. Rows: otlp-rust at its default settings; the baseline
//!   (`opentelemetry_sdk` + `opentelemetry-otlp`, set up as documented) with
//!   its default queue (2,048), 65,536 and 1,000,000 spans; each over gRPC
//!   and HTTP/protobuf. See `otlp_benches::end_to_end`. One more row, the
//!   control, runs the same producer loop with no SDK at all
//!   (`otlp_benches::end_to_end::WorkloadOnly`, in the burst, the steady rate
//!   and the front doors): what the workload itself costs. In the burst and
//!   the steady rate (unless `--no-durable`), otlp-rust also runs with its
//!   durable queue on at its defaults ([`durable`]), each run in a fresh
//!   directory under the temporary directory, beside its memory-only row;
//!   that row has no goals, only its ratios against the memory-only one.
//!
//! ## What is measured
//!
//! - **producer ns/span**: the producing thread's wall time from just before
//!   the first span started to just after the last one ended, per span;
//! - **delivered spans/s**: spans the receiver counted from the sender,
//!   divided by the time from the sender's first span to the receiver's last
//!   count change (both read `CLOCK_MONOTONIC`; the receiver notes its count
//!   every millisecond and on every query);
//! - **lost**: spans produced and never counted;
//! - **sender CPU s** and **peak RSS**: the kernel's accounting of the sender
//!   process (user + system time of all its threads, and `ru_maxrss`), read
//!   by the coordinator with `wait4` when it reaps the process;
//! - each ratio against the lossless baseline row of the same transport (the
//!   smallest queue with which the baseline lost nothing);
//! - **CPU per span beyond the workload**: a row's sender CPU less the
//!   control's CPU per span times the spans it made, per span delivered, and
//!   its ratio against the same reference (the goals stay on the total).
//!
//! `--runs R` repeats every row R times in rotating order and reports
//! medians (lost: the worst run).

mod args;
mod durable;
mod field;
mod format;
mod logs;
mod memory;
mod metrics;
mod process;
mod report;
mod roles;
mod run;

use std::io::Write as _;
use std::process::ExitCode;

use crate::args::{Options, Role, Scenario};
use crate::field::ScenarioReport;
use crate::report::{Machine, Report};

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if let Some(outcome) = logs::child_role(&arguments).or_else(|| metrics::child_role(&arguments))
    {
        return match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("compare: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let role = match args::parse(arguments) {
        Ok(role) => role,
        Err(error) => {
            eprintln!("compare: {error}\nTry `compare --help`.");
            return ExitCode::from(2);
        }
    };
    let outcome = match role {
        Role::Help => {
            print!("{}", args::USAGE);
            Ok(())
        }
        Role::Receiver {
            threads,
            store,
            answer_delay,
        } => roles::receiver(threads, store, answer_delay),
        Role::Sender(args) => roles::sender(&args),
        Role::Coordinator(options) => coordinate(&options),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("compare: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the scenarios `options` ask for and prints their report: the
/// burst's table as it always was, then one section per other scenario.
/// JSON: the burst's object alone when only the burst ran, the logs'
/// alone when only they ran, else `{"burst": ..., "scenarios": [...]}`
/// (with `"logs": ...` when they ran); likewise for the metrics.
fn coordinate(options: &Options) -> Result<(), String> {
    let mut machine = Machine::describe();
    let burst = if options.scenarios.contains(&Scenario::Burst) {
        Some(run::run(options)?)
    } else {
        None
    };
    let scenarios = field::run(options)?;
    let logs = if options.logs.run {
        Some(logs::run(options)?)
    } else {
        None
    };
    let metrics = if options.metrics.run {
        Some(metrics::run(options)?)
    } else {
        None
    };
    machine.finish();
    let nproc = machine.nproc;
    let burst = burst.map(|results| Report::new(options, results, machine.clone()));
    let scenarios: Vec<ScenarioReport> = scenarios
        .into_iter()
        .map(|results| ScenarioReport::new(options, results, nproc))
        .collect();
    let text = if options.json {
        let json = match (&burst, scenarios.is_empty(), &logs, &metrics) {
            (Some(burst), true, None, None) => burst.json(),
            (None, true, Some(logs), None) => logs.json(),
            (None, true, None, Some(metrics)) => metrics.json(),
            _ => {
                let mut json = serde_json::json!({
                    "burst": burst.as_ref().map(Report::json),
                    "scenarios": scenarios.iter().map(ScenarioReport::json).collect::<Vec<_>>(),
                });
                if let Some(logs) = &logs {
                    json["logs"] = logs.json();
                }
                if let Some(metrics) = &metrics {
                    json["metrics"] = metrics.json();
                }
                json
            }
        };
        format!("{json:#}\n")
    } else {
        let mut text = burst.as_ref().map(Report::markdown).unwrap_or_default();
        for scenario in &scenarios {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&scenario.markdown(&machine));
        }
        if let Some(logs) = &logs {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&logs.markdown(&machine));
        }
        if let Some(metrics) = &metrics {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&metrics.markdown(&machine));
        }
        text
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    Ok(())
}
