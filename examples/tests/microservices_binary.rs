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
