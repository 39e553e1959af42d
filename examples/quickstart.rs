//! `cargo run --release --example quickstart [-- --spans N]`
//!
//! Spans, log records correlated with them, and request metrics (a counter
//! and a duration histogram) through the otlp-rust pipelines to the embedded
//! receiver (or to the collector `OTEL_EXPORTER_OTLP_ENDPOINT` names), a
//! short report, and a JSON summary as the last line. Exit status 0 only if
//! every span, every log record and every metric data point was delivered,
//! 1 if some were not, 2 if the quickstart could not run or could not write
//! its report, 130 if Ctrl-C (SIGINT) stopped it, 143 if SIGTERM did (`kill`,
//! a container stop).
//!
//! With every signal turned off (`OTEL_SDK_DISABLED=true`, or
//! `OTEL_TRACES_EXPORTER`, `OTEL_LOGS_EXPORTER` and `OTEL_METRICS_EXPORTER`
//! all `none`) nothing is sent, so nothing went undelivered: the status is
//! 0, and the report's first line says that nothing was sent, and why
//! (`"nothing_sent": true` in the summary).
//!
//! The first SIGINT or SIGTERM stops sending: what was made is shut down
//! within the usual deadlines, the report (naming the signal) and summary
//! (`"interrupted": true`) are printed, and the status is 130 (SIGINT) or
//! 143 (SIGTERM) whatever was delivered. A second signal quits at once,
//! with 128 + its number and no report. One that comes once every span was
//! started stops nothing: the run shuts down and reports as usual.
//!
//! A reader that stops reading early (`| head -1`) ends the report quietly:
//! the exit status still says whether everything was delivered, as it would
//! had the whole report been read. Any other error writing the report (a
//! full disk) is said on stderr, with status 2.

use std::process::ExitCode;

use otlp_examples::interrupt::{StopSignal, stop_on_signals};
use otlp_examples::output::{self, EXIT_ERROR};
use otlp_examples::quickstart::{Options, UsageError, run_until};
use otlp_sdk::config::ConfigLoader;

/// Some span, log record or metric data point was not delivered.
const EXIT_UNDELIVERED: u8 = 1;
/// The quickstart's name in what it says on stderr.
const PROGRAM: &str = "quickstart";

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args_os().skip(1)) {
        Ok(options) => options,
        Err(UsageError::Help) => {
            return output::print(PROGRAM, &[&UsageError::Help], ExitCode::SUCCESS);
        }
        Err(error) => {
            output::complain(PROGRAM, &error);
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let stop = stop_on_signals(PROGRAM);
    match run_until(&options, ConfigLoader::new(), &stop) {
        Ok(report) => {
            let earned = if report.interrupted {
                let signal = report.interrupted_by.unwrap_or(StopSignal::Interrupt);
                ExitCode::from(signal.exit_status())
            } else if report.all_delivered() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_UNDELIVERED)
            };
            output::print(PROGRAM, &[&report, &report.json_summary()], earned)
        }
        Err(error) => {
            output::complain(PROGRAM, &error);
            ExitCode::from(EXIT_ERROR)
        }
    }
}
