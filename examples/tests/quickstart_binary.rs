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

/// With every signal off there is nothing to deliver, so nothing went
/// undelivered: status 0, as documented, but the report says plainly that
/// nothing was sent, and why.
#[test]
fn with_every_signal_off_it_says_nothing_was_sent_and_exits_0() {
    for env in [
        &[("OTEL_SDK_DISABLED", "true")][..],
        &[
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ],
    ] {
        let output = quickstart(&["--spans", "20"])
            .envs(env.iter().copied())
            .output()
            .expect("run the quickstart");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{env:?}: {}",
            stderr(&output)
        );
        assert!(stdout.contains("\n  nothing sent  "), "{env:?}: {stdout}");
        let summary = last_line_json(&output);
        assert_eq!(summary["nothing_sent"], true, "{env:?}: {summary}");
    }
}

/// The JSON summary, the last line of stdout.
fn last_line_json(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|error| panic!("{error}: {stdout}"))
}

/// The quickstart sending more spans than it will ever finish to `receiver`
/// (each signal exported every 100 ms, so spans arrive while it produces),
/// stdout and stderr piped, and the moment it is producing: the receiver has
/// spans.
#[cfg(unix)]
fn quickstart_producing_to(
    receiver: &otlp_contrib::receiver::Receiver,
    env: &[(&str, &str)],
) -> std::process::Child {
    use std::process::Stdio;
    use std::time::Duration;
    let child = quickstart(&["--spans", &u64::MAX.to_string()])
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            receiver.http_endpoint().expect("an HTTP endpoint"),
        )
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("OTEL_BLRP_SCHEDULE_DELAY", "100")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the quickstart");
    // The signal handler is in place before the first span is made.
    assert!(
        receiver.wait_until(Duration::from_secs(120), |stats| stats.requests > 0),
        "no request from the quickstart: {:?}",
        receiver.stats()
    );
    child
}

#[cfg(unix)]
fn interrupt(child: &std::process::Child) {
    send(child, rustix::process::Signal::INT);
}

/// Sends `signal` to `child`, as `kill -<signal>` would.
#[cfg(unix)]
fn send(child: &std::process::Child, signal: rustix::process::Signal) {
    use rustix::process::{Pid, kill_process};
    kill_process(Pid::from_child(child), signal)
        .unwrap_or_else(|error| panic!("{signal:?}: {error}"));
}

/// A long run stopped with Ctrl-C stops producing, shuts the pipelines down
/// as usual, prints its report and summary (`"interrupted": true`) and
/// exits 130. It died of the signal with nothing printed.
#[cfg(unix)]
#[test]
fn a_ctrl_c_stops_a_long_run_which_still_reports_and_exits_130() {
    use otlp_contrib::receiver::{Receiver, ReceiverConfig, Store};
    let receiver = Receiver::start(ReceiverConfig {
        store: Store::CountOnly,
        ..ReceiverConfig::default()
    })
    .expect("a receiver");
    let child = quickstart_producing_to(&receiver, &[]);
    interrupt(&child);
    let output = child.wait_with_output().expect("the quickstart ends");
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(130), "{errors}");
    assert!(
        errors.contains("quickstart: interrupted") && errors.contains("again"),
        "{errors}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("\n  interrupted   by SIGINT (Ctrl-C) after "),
        "{stdout}"
    );
    let summary = last_line_json(&output);
    assert_eq!(summary["interrupted"], true, "{summary}");
    // Stopped early, and what was made went through the shutdown: every
    // span produced is accounted for.
    let produced = summary["spans"]["produced"].as_u64().expect("produced");
    assert!(produced > 0 && produced < u64::MAX, "{summary}");
    let settled: u64 = ["exported", "dropped", "failed", "rejected", "unsettled"]
        .iter()
        .map(|key| {
            summary["spans"][key]
                .as_u64()
                .unwrap_or_else(|| panic!("{key}"))
        })
        .sum();
    assert_eq!(settled, produced, "{summary}");
    assert_eq!(summary["spans"]["unsettled"], 0, "{summary}");
}

/// A second Ctrl-C, while the shutdown waits on a collector that never
/// answers, quits at once: status 130, no report.
#[cfg(unix)]
#[test]
fn a_second_ctrl_c_quits_at_once_without_a_report() {
    use otlp_contrib::receiver::{Fault, Receiver, ReceiverConfig, Store};
    use std::io::{BufRead, BufReader, Read};
    let receiver = Receiver::start(ReceiverConfig {
        store: Store::CountOnly,
        ..ReceiverConfig::default()
    })
    .expect("a receiver");
    receiver.set_fallback_fault(Some(Fault::Hang));
    // Without the second Ctrl-C the shutdown would wait ten minutes.
    let mut child = quickstart_producing_to(
        &receiver,
        &[
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "600000"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "600000"),
        ],
    );
    let mut errors = BufReader::new(child.stderr.take().expect("stderr"));
    interrupt(&child);
    // The first was taken: the quickstart says so, and shuts down.
    let mut first = String::new();
    errors.read_line(&mut first).expect("read stderr");
    assert!(first.starts_with("quickstart: interrupted"), "{first:?}");
    interrupt(&child);
    let output = child.wait_with_output().expect("the quickstart ends");
    let mut rest = String::new();
    errors.read_to_string(&mut rest).expect("read stderr");
    assert_eq!(output.status.code(), Some(130), "{first}{rest}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "", "no report");
}

/// SIGTERM (`kill`, a container stop) stops a long run as Ctrl-C does: it
/// stops producing, shuts the pipelines down as usual, prints its report
/// and summary, saying which signal came, and exits 143 (128 + 15). It was
/// not caught: the run died of it with nothing flushed and nothing printed.
#[cfg(unix)]
#[test]
fn a_sigterm_stops_a_long_run_which_still_reports_and_exits_143() {
    use otlp_contrib::receiver::{Receiver, ReceiverConfig, Store};
    let receiver = Receiver::start(ReceiverConfig {
        store: Store::CountOnly,
        ..ReceiverConfig::default()
    })
    .expect("a receiver");
    let child = quickstart_producing_to(&receiver, &[]);
    send(&child, rustix::process::Signal::TERM);
    let output = child.wait_with_output().expect("the quickstart ends");
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(143), "{errors}");
    assert!(
        errors.contains("quickstart: interrupted by SIGTERM") && errors.contains("again"),
        "{errors}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("\n  interrupted   by SIGTERM after "),
        "{stdout}"
    );
    let summary = last_line_json(&output);
    assert_eq!(summary["interrupted"], true, "{summary}");
    assert_eq!(summary["spans"]["unsettled"], 0, "{summary}");
}
