//! `cargo run --release --example quickstart [-- --spans N]`
//!
//! Spans, log records correlated with them, and request metrics (a counter
//! and a duration histogram) through the otlp-rust pipelines to the embedded
//! receiver (or to the collector `OTEL_EXPORTER_OTLP_ENDPOINT` names), a
//! short report, and a JSON summary as the last line. Exit status 0 only if
//! every span, every log record and every metric data point was delivered,
//! 1 if some were not, 2 if the quickstart could not run or could not write
//! its report.
//!
//! A reader that stops reading early (`| head -1`) ends the report quietly:
//! the exit status still says whether everything was delivered, as it would
//! had the whole report been read. Any other error writing the report (a
//! full disk) is said on stderr, with status 2.

use std::fmt::Display;
use std::io::{self, ErrorKind, Write};
use std::process::ExitCode;

use otlp_examples::quickstart::{Options, UsageError, run};

/// Some span, log record or metric data point was not delivered.
const EXIT_UNDELIVERED: u8 = 1;
/// Bad usage, a run that could not start, or a report that could not be written.
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(UsageError::Help) => return print(&[&UsageError::Help], ExitCode::SUCCESS),
        Err(error) => {
            complain(&error);
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match run(&options) {
        Ok(report) => {
            let earned = if report.all_delivered() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_UNDELIVERED)
            };
            print(&[&report, &report.json_summary()], earned)
        }
        Err(error) => {
            complain(&error);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Writes each of `lines` and a newline to stdout and returns `earned`; a
/// closed pipe (the reader has all it wanted) stops the writing quietly and
/// still returns `earned`; any other write error is said on stderr and
/// returns [`EXIT_ERROR`]. `println!` would panic on either.
fn print(lines: &[&dyn Display], earned: ExitCode) -> ExitCode {
    let written = (|| {
        let mut stdout = io::stdout().lock();
        for line in lines {
            writeln!(stdout, "{line}")?;
        }
        stdout.flush()
    })();
    match written {
        Ok(()) => earned,
        Err(error) if error.kind() == ErrorKind::BrokenPipe => earned,
        Err(error) => {
            complain(&format!("cannot write the report to stdout: {error}"));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Says `message` on stderr; a stderr that cannot be written to is left
/// alone (`eprintln!` would panic).
fn complain(message: &dyn Display) {
    let _ = writeln!(io::stderr().lock(), "quickstart: {message}");
}
