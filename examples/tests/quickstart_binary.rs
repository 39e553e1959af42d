//! The quickstart binary as users run it (`cargo run --example quickstart`),
//! built by cargo and spawned with its output going where a shell sends it:
//! a reader that stops early or a full disk ends it with a status, never a
//! panic.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The built `quickstart` example: `cargo build --example quickstart`, with
/// the test run's cargo and target directory (a no-op when `cargo test`
/// built the examples already).
fn quickstart_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let mut cargo = Command::new(env!("CARGO"));
        // What cargo set for this test (`CARGO_PKG_NAME`, …) would be new to
        // the build scripts that watch those variables: they would run again
        // and rebuild their crates, here and in the next `cargo test`.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_BIN_"]
                .iter()
                .any(|prefix| name.starts_with(prefix))
                || [
                    "CARGO_CRATE_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_CURRENT_DIR",
                    "OUT_DIR",
                ]
                .contains(&name.as_ref())
            {
                cargo.env_remove(name.as_ref());
            }
        }
        let output = cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--offline", "--package", "otlp-examples"])
            .args(["--example", "quickstart", "--message-format", "json"])
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build");
        assert!(output.status.success(), "cargo build failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| message["target"]["name"] == "quickstart")
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the quickstart executable")
    })
}

/// The quickstart with `args`, with none of the runner's `OTEL_*` /
/// `OTLP__` variables (so it exports to its embedded receiver), and stderr
/// captured.
fn quickstart(args: &[&str]) -> Command {
    let mut command = Command::new(quickstart_binary());
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("OTEL_") || name.starts_with("OTLP__") || name == "RUN_ENV" {
            command.env_remove(name.as_ref());
        }
    }
    command
        .args(args)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
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
