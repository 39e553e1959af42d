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
    println!("{outcome}");
    let delivered = outcome.stats.exported == outcome.stats.produced;
    let connected = outcome.first_trace.is_none() || outcome.first_trace_connected;
    if outcome.succeeded == outcome.requests && delivered && connected {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
