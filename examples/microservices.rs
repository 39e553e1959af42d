//! `cargo run --release --example microservices`
//!
//! Three HTTP services (gateway → orders → inventory), instrumented with
//! `tracing` and recorded by `otlp_contrib::tracing::OtlpLayer`, propagate
//! W3C `traceparent` and export through one otlp-rust pipeline; the output
//! shows one connected trace across the three services.

use std::process::ExitCode;

use otlp_examples::microservices::run;
use otlp_sdk::config::ConfigLoader;

#[tokio::main]
async fn main() -> ExitCode {
    let outcome = match run(5, ConfigLoader::new()).await {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("microservices: {error}");
            return ExitCode::from(2);
        }
    };
    println!(
        "{} of {} requests succeeded; {} spans produced, {} exported, {} dropped, {} failed",
        outcome.succeeded,
        outcome.requests,
        outcome.stats.produced,
        outcome.stats.exported,
        outcome.stats.dropped,
        outcome.stats.failed
    );
    match &outcome.first_trace {
        Some(tree) => {
            println!(
                "\nThe first request's trace crosses {} services ({}), connected: {}",
                outcome.services_in_first_trace.len(),
                outcome.services_in_first_trace.join(" → "),
                outcome.first_trace_connected
            );
            println!("{tree}");
        }
        None => println!("(spans went to the collector OTEL_EXPORTER_OTLP_ENDPOINT names)"),
    }
    let delivered = outcome.stats.exported == outcome.stats.produced;
    let connected = outcome.first_trace.is_none() || outcome.first_trace_connected;
    if outcome.succeeded == outcome.requests && delivered && connected {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
