//! `cargo run --release --example quickstart [-- --spans N]`
//!
//! Spans, log records correlated with them, and request metrics (a counter
//! and a duration histogram) through the otlp-rust pipelines to the embedded
//! receiver (or to the collector `OTEL_EXPORTER_OTLP_ENDPOINT` names), a
//! short report, and a JSON summary as the last line. Exit status 0 only if
//! every span, every log record and every metric data point was delivered.

use std::process::ExitCode;

use otlp_examples::quickstart::{Options, UsageError, run};

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(UsageError::Help) => {
            println!("{}", UsageError::Help);
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("quickstart: {error}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(report) => {
            println!("{report}");
            println!("{}", report.json_summary());
            if report.all_delivered() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("quickstart: {error}");
            ExitCode::from(2)
        }
    }
}
