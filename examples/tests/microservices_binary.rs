//! The microservices binary as users run it (`cargo run --example
//! microservices`), built by cargo: what it prints says where the spans went
//! when it has no trace to show.

use std::process::Output;

mod common;

/// The microservices example run with `env`; its output.
fn microservices(env: &[(&str, &str)]) -> Output {
    microservices_with(&[], env)
}

/// The microservices example run with `args` and `env`; its output.
fn microservices_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    common::example(&common::example_binary("microservices"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run the microservices example")
}

#[test]
fn without_a_trace_to_show_it_says_where_the_spans_went_not_to_a_collector() {
    // Before, each of these printed "(spans went to the collector
    // OTEL_EXPORTER_OTLP_ENDPOINT names)", no endpoint being set.
    for (env, says) in [
        (
            [("OTEL_TRACES_EXPORTER", "none")],
            "span export is off: the traces exporter is none",
        ),
        (
            [("OTEL_TRACES_SAMPLER", "always_off")],
            "the embedded receiver at http://127.0.0.1:",
        ),
    ] {
        let output = microservices(&env);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{env:?}: {stdout}{stderr}");
        assert!(
            stdout.contains("5 of 5 requests succeeded"),
            "{env:?}: {stdout}"
        );
        assert!(stdout.contains(says), "{env:?}: {stdout}");
        assert!(!stdout.contains("collector"), "{env:?}: {stdout}");
    }
}

#[test]
fn an_argument_is_refused_with_the_usage_and_help_shows_it() {
    // Before, every argument was ignored: `--spans 3` or a typo ran the
    // services anyway and exited 0.
    let output = microservices_with(&["--requests", "3"], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("unknown argument \"--requests\"") && stderr.contains("usage:"),
        "{stderr}"
    );
    assert_eq!(stdout, "", "nothing ran");

    let output = microservices_with(&["--help"], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("usage:"), "{stdout}");
    assert!(
        !stdout.contains("requests succeeded"),
        "nothing ran: {stdout}"
    );
}

#[test]
fn a_reader_gone_or_a_full_disk_ends_the_run_with_a_status_not_a_panic() {
    // Before, `println!` panicked on either (exit status 101).
    let binary = common::example_binary("microservices");
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = common::example(&binary)
        .stdout(writer)
        .output()
        .expect("run the microservices example");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Every request went through and every span reached the receiver: 0,
    // as with the whole report read.
    assert_eq!(output.status.code(), Some(0), "{stderr}");

    #[cfg(target_os = "linux")]
    {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let output = common::example(&binary)
            .stdout(full)
            .output()
            .expect("run the microservices example");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("microservices: cannot write the report to stdout"),
            "{stderr}"
        );
    }
}

#[cfg(unix)]
#[test]
fn an_argument_that_is_not_utf8_is_refused_not_a_panic() {
    // `std::env::args()` panics on it (status 101); it is an unknown
    // argument like any other.
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let output = common::example(&common::example_binary("microservices"))
        .arg(OsStr::from_bytes(b"--x\xff"))
        .output()
        .expect("run the microservices example");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown argument"), "{stderr}");
}

/// The microservices example exporting to `receiver`, which never answers:
/// no retry, and an export timeout of ten minutes, so its shutdown waits on
/// the receiver until the test lets it go. Returned once the receiver has a
/// request (the run is past its five requests, in its shutdown; the signal
/// handlers were in place before the first request), with its stderr
/// reader.
#[cfg(unix)]
fn microservices_stuck_in_shutdown(
    receiver: &otlp_contrib::receiver::Receiver,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStderr>,
) {
    use otlp_contrib::receiver::Fault;
    use std::process::Stdio;
    use std::time::Duration;
    receiver.set_fallback_fault(Some(Fault::Hang));
    let mut child = common::example(&common::example_binary("microservices"))
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            receiver.http_endpoint().expect("an HTTP endpoint"),
        )
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", "600000")
        .env("OTEL_BSP_EXPORT_TIMEOUT", "600000")
        .env("OTLP__RETRY__ENABLED", "false")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the microservices example");
    assert!(
        receiver.wait_until(Duration::from_secs(120), |stats| stats.requests > 0),
        "no request from the microservices example: {:?}",
        receiver.stats()
    );
    let errors = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    (child, errors)
}

#[cfg(unix)]
fn send(child: &std::process::Child, signal: rustix::process::Signal) {
    use rustix::process::{Pid, kill_process};
    kill_process(Pid::from_child(child), signal)
        .unwrap_or_else(|error| panic!("{signal:?}: {error}"));
}

/// A SIGTERM (`kill`, a container stop) while the shutdown waits on a slow
/// collector: the example says it was interrupted, finishes the shutdown
/// within its deadline, prints its report and exits with the status the
/// outcome earned (1: the collector took no span). It had no handler and
/// died of the signal, its spans unflushed and nothing printed.
#[cfg(unix)]
#[test]
fn a_sigterm_during_the_shutdown_lets_it_finish_and_report() {
    use otlp_contrib::receiver::{Receiver, ReceiverConfig};
    use std::io::{BufRead, Read};
    let receiver = Receiver::start(ReceiverConfig::default()).expect("a receiver");
    let (child, mut errors) = microservices_stuck_in_shutdown(&receiver);
    send(&child, rustix::process::Signal::TERM);
    let mut first = String::new();
    errors.read_line(&mut first).expect("read stderr");
    assert!(
        first.starts_with("microservices: interrupted by SIGTERM"),
        "{first:?}"
    );
    // The collector goes away: the export waiting on it fails, and the
    // shutdown ends.
    receiver.shutdown();
    let output = child.wait_with_output().expect("the example ends");
    let mut rest = String::new();
    errors.read_to_string(&mut rest).expect("read stderr");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}{first}{rest}");
    assert!(stdout.contains("5 of 5 requests succeeded"), "{stdout}");
    assert!(stdout.contains("0 exported"), "{stdout}");
}

/// A second signal while the first one's shutdown still waits quits at
/// once: status 130 (128 + SIGINT), no report.
#[cfg(unix)]
#[test]
fn a_second_ctrl_c_quits_at_once_without_a_report() {
    use otlp_contrib::receiver::{Receiver, ReceiverConfig};
    use std::io::BufRead;
    let receiver = Receiver::start(ReceiverConfig::default()).expect("a receiver");
    let (child, mut errors) = microservices_stuck_in_shutdown(&receiver);
    send(&child, rustix::process::Signal::INT);
    let mut first = String::new();
    errors.read_line(&mut first).expect("read stderr");
    assert!(
        first.starts_with("microservices: interrupted by SIGINT (Ctrl-C)"),
        "{first:?}"
    );
    send(&child, rustix::process::Signal::INT);
    let output = child.wait_with_output().expect("the example ends");
    assert_eq!(output.status.code(), Some(130), "{first}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "", "no report");
}
