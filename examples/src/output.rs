//! [`print()`] and [`complain`]: how the example programs write their report
//! and their errors, so that a closed pipe or a full disk ends a run with an
//! exit status, never a panic (`println!` and `eprintln!` would panic).

use std::fmt::Display;
use std::io::{self, ErrorKind, Write};
use std::process::ExitCode;

/// The exit status of a run that could not start or write its report (or
/// was used wrongly).
pub const EXIT_ERROR: u8 = 2;

/// Writes each of `lines` and a newline to stdout and returns `earned`; a
/// closed pipe (the reader has all it wanted) stops the writing quietly and
/// still returns `earned`; any other write error is said on stderr by
/// `program` and returns [`EXIT_ERROR`].
pub fn print(program: &str, lines: &[&dyn Display], earned: ExitCode) -> ExitCode {
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
            complain(
                program,
                &format!("cannot write the report to stdout: {error}"),
            );
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Says `message` on stderr, after `program`'s name; a stderr that cannot be
/// written to is left alone.
pub fn complain(program: &str, message: &dyn Display) {
    let _ = writeln!(io::stderr().lock(), "{program}: {message}");
}
