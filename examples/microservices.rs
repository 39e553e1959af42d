//! `cargo run --release --example microservices`
//!
//! Three HTTP services (gateway → orders → inventory), instrumented with
//! `tracing` and recorded by `otlp_contrib::tracing::OtlpLayer`, propagate
//! W3C `traceparent` and export through one otlp-rust pipeline; the output
//! shows one connected trace across the three services. Exit status 0 if
//! every request succeeded, every span was exported (and, with the embedded
//! receiver, received) and the trace shown is connected, 1 if not, 2 if it could not run or write its report (or was
//! given an argument: it takes none but `--help`), 130 if Ctrl-C (SIGINT)
//! stopped it before its last request, 143 if SIGTERM did. A reader that
//! stops early (`| head -1`) leaves that status as it is.
//!
//! The first SIGINT or SIGTERM sends no more requests: the pipeline is
//! shut down within its usual deadline and the report printed. One that
//! comes once every request was sent (most often: the shutdown is where the
//! time goes, against a slow collector) stops nothing, and the status is
//! the outcome's. A second signal quits at once, with 128 + its number and
//! no report.

use std::process::ExitCode;

use otlp_examples::interrupt::stop_on_signals;
use otlp_examples::microservices::run_until;
use otlp_examples::output::{self, EXIT_ERROR};
use otlp_sdk::config::ConfigLoader;

/// The example's name in what it says on stderr.
const PROGRAM: &str = "microservices";

const USAGE: &str = "usage: cargo run --release --example microservices

Runs three HTTP services (gateway -> orders -> inventory) on loopback, sends
five requests through them, exports their spans through one otlp-rust
pipeline (configured by the OTEL_* variables; without
OTEL_EXPORTER_OTLP_ENDPOINT an embedded OTLP receiver gets them) and shows
the first request's trace across the three services. Takes no arguments.
Ctrl-C or SIGTERM stops it: no more requests, the pipeline shut down as
usual and the report printed (status 130 or 143 if requests were left
unsent); a second quits at once.";

#[tokio::main]
async fn main() -> ExitCode {
    // `args_os`: `std::env::args()` would panic on an argument that is not UTF-8.
    if let Some(argument) = std::env::args_os().nth(1) {
        let argument = argument.to_string_lossy();
        if argument == "-h" || argument == "--help" {
            return output::print(PROGRAM, &[&USAGE], ExitCode::SUCCESS);
        }
        output::complain(
            PROGRAM,
            &format!("unknown argument {argument:?}\n\n{USAGE}"),
        );
        return ExitCode::from(EXIT_ERROR);
    }
    let stop = stop_on_signals(PROGRAM);
    let outcome = match run_until(5, ConfigLoader::new(), &stop).await {
        Ok(outcome) => outcome,
        Err(error) => {
            output::complain(PROGRAM, &error);
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let earned = if let Some(signal) = outcome.interrupted_by {
        ExitCode::from(signal.exit_status())
    } else if outcome.all_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    output::print(PROGRAM, &[&outcome], earned)
}
