//! The quickstart binary as users run it (`cargo run --example quickstart`),
//! built by cargo and spawned with its output going where a shell sends it:
//! a reader that stops early or a full disk ends it with a status, never a
//! panic.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

mod common;

/// The built `quickstart` example.
fn quickstart_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| common::example_binary("quickstart"))
}

/// The quickstart with `args`, with none of the runner's `OTEL_*` /
/// `OTLP__` variables (so it exports to its embedded receiver), and stderr
/// captured.
fn quickstart(args: &[&str]) -> Command {
    let mut command = common::example(quickstart_binary());
    command.args(args);
    command
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_reader_gone_before_the_report_ends_the_run_quietly_with_the_status_it_earned() {
    // `quickstart | head -1` once `head` has its line: every write after it
    // fails with EPIPE. Here the reader is gone before the first one.
    for args in [&["--spans", "20"][..], &["--help"]] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let output = quickstart(args)
            .stdout(writer)
            .output()
            .expect("run the quickstart");
        let errors = stderr(&output);
        assert!(!errors.contains("panicked"), "{args:?}: {errors}");
        // Everything was delivered to the embedded receiver (or `--help`
        // was asked for): 0, as with the whole report read.
        assert_eq!(output.status.code(), Some(0), "{args:?}: {errors}");
        assert_eq!(errors, "", "{args:?}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_report_that_cannot_be_written_is_said_on_stderr_with_status_2() {
    // `quickstart > /dev/full`: the disk is full. Not a reader's choice: the
    // report is lost, and the run must say so.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let output = quickstart(&["--spans", "20"])
        .stdout(full)
        .output()
        .expect("run the quickstart");
    let errors = stderr(&output);
    assert!(!errors.contains("panicked"), "{errors}");
    assert_eq!(output.status.code(), Some(2), "{errors}");
    assert!(
        errors.contains("quickstart: cannot write the report to stdout"),
        "{errors}"
    );
}

#[cfg(unix)]
#[test]
fn an_argument_that_is_not_utf8_is_a_usage_error_not_a_panic() {
    // `std::env::args()` panics on such an argument (a file name in another
    // encoding, a stray byte from a script): input from outside is refused
    // with status 2 and a message, never a panic (status 101).
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let bad = OsStr::from_bytes(b"\xff");
    for (args, names) in [
        (vec![bad], "argument"),
        (vec![OsStr::new("--spans"), bad], "--spans"),
    ] {
        let output = common::example(quickstart_binary())
            .args(&args)
            .output()
            .expect("run the quickstart");
        let errors = stderr(&output);
        assert!(!errors.contains("panicked"), "{args:?}: {errors}");
        assert_eq!(output.status.code(), Some(2), "{args:?}: {errors}");
        assert!(
            errors.contains(names) && errors.contains("UTF-8"),
            "{args:?}: {errors}"
        );
    }
}
