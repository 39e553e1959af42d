//! `cargo run --release --example microservices`
//!
//! Three HTTP services (gateway → orders → inventory), instrumented with
//! `tracing` and recorded by `otlp_contrib::tracing::OtlpLayer`, propagate
//! W3C `traceparent` and export through one otlp-rust pipeline; the output
//! shows one connected trace across the three services. Exit status 0 if
//! every request succeeded, every span was exported and the trace shown is
//! connected, 1 if not, 2 if it could not run or write its report (or was
//! given an argument: it takes none but `--help`). A reader that stops
//! early (`| head -1`) leaves that status as it is.

use std::fmt::Display;
use std::io::{self, ErrorKind, Write};
use std::process::ExitCode;

use otlp_examples::microservices::run;
use otlp_sdk::config::ConfigLoader;

const USAGE: &str = "usage: cargo run --release --example microservices

Runs three HTTP services (gateway -> orders -> inventory) on loopback, sends
five requests through them, exports their spans through one otlp-rust
pipeline (configured by the OTEL_* variables; without
OTEL_EXPORTER_OTLP_ENDPOINT an embedded OTLP receiver gets them) and shows
the first request's trace across the three services. Takes no arguments.";

#[tokio::main]
async fn main() -> ExitCode {
    if let Some(argument) = std::env::args().nth(1) {
        if argument == "-h" || argument == "--help" {
            return print(&USAGE, ExitCode::SUCCESS);
        }
        complain(&format!("unknown argument {argument:?}\n\n{USAGE}"));
        return ExitCode::from(2);
    }
    let outcome = match run(5, ConfigLoader::new()).await {
        Ok(outcome) => outcome,
        Err(error) => {
            complain(&error);
            return ExitCode::from(2);
        }
    };
    let delivered = outcome.stats.exported == outcome.stats.produced;
    let connected = outcome.first_trace.is_none() || outcome.first_trace_connected;
    let earned = if outcome.succeeded == outcome.requests && delivered && connected {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    print(&outcome, earned)
}

/// Writes `report` and a newline to stdout and returns `earned`; a closed
/// pipe (the reader has all it wanted) stops the writing quietly and still
/// returns `earned`; any other write error is said on stderr and returns 2.
/// `println!` would panic on either.
fn print(report: &dyn Display, earned: ExitCode) -> ExitCode {
    let written = (|| {
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "{report}")?;
        stdout.flush()
    })();
    match written {
        Ok(()) => earned,
        Err(error) if error.kind() == ErrorKind::BrokenPipe => earned,
        Err(error) => {
            complain(&format!("cannot write the report to stdout: {error}"));
            ExitCode::from(2)
        }
    }
}

/// Says `message` on stderr; a stderr that cannot be written to is left
/// alone (`eprintln!` would panic).
fn complain(message: &dyn Display) {
    let _ = writeln!(io::stderr().lock(), "microservices: {message}");
}
