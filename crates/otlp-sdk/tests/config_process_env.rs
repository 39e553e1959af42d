//! Loading from the process environment (`ConfigLoader::new()` without
//! `with_env`) when a value is not UTF-8.
//!
//! Setting a variable in this process would need `unsafe` and would race the
//! other tests, so each case runs the loader in a child process: this test
//! binary, run again on [`child_loads_the_process_environment`] alone, with
//! an environment of its own. The child prints what loading gave.
#![cfg(unix)]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::Command;

use otlp_sdk::config::ConfigLoader;

/// Set only in the child: the child test does nothing without it.
const CHILD: &str = "OTLP_SDK_TEST_CHILD";

/// What a child printed: `error: …` or `loaded`.
fn load_in_child(name: &str, value: &[u8]) -> String {
    let exe = std::env::current_exe().expect("the test binary");
    let output = Command::new(exe)
        .args([
            "--exact",
            "child_loads_the_process_environment",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_clear()
        .env(CHILD, "1")
        .env(name, OsString::from_vec(value.to_vec()))
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "child failed: {stdout}");
    stdout
        .lines()
        .find_map(|line| line.split_once("RESULT ").map(|(_, result)| result))
        .unwrap_or_else(|| panic!("no result in {stdout}"))
        .to_owned()
}

#[test]
fn child_loads_the_process_environment() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    match ConfigLoader::new().with_config_dir("no-such-dir").load() {
        Ok(_) => println!("RESULT loaded"),
        Err(err) => println!("RESULT error: {err}"),
    }
}

#[test]
fn a_secret_that_is_not_utf8_is_named_but_not_shown() {
    let cases: [(&str, &[u8], &str); 5] = [
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            b"authorization=Bearer s3cr3t\xff",
            "\"<redacted>\"",
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
            b"/etc/s3cr3t/key\xff.pem",
            "\"<redacted>\"",
        ),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            b"https://user:s3cr3t@collector\xff:4318",
            "\"https://<redacted>@collector\u{fffd}:4318\"",
        ),
        (
            "OTLP__EXPORTER__HEADERS__X_API_KEY",
            b"s3cr3t\xff",
            "\"<redacted>\"",
        ),
        ("OTEL_SERVICE_NAME", b"caf\xe9", "\"caf\u{fffd}\""),
    ];
    for (name, value, shown) in cases {
        let result = load_in_child(name, value);
        assert!(
            result.starts_with(&format!("error: invalid value {shown} for {name}")),
            "{result}"
        );
        assert!(result.ends_with("not valid UTF-8"), "{result}");
        assert!(!result.contains("s3cr3t"), "{name}: {result}");
    }
}

#[test]
fn another_components_otel_variable_that_is_not_utf8_is_skipped() {
    assert_eq!(
        load_in_child("OTEL_PYTHON_EXCLUDED_URLS", b"/caf\xe9"),
        "loaded"
    );
    // One this SDK reads is still refused, naming it.
    let result = load_in_child("OTEL_BSP_SCHEDULE_DELAY", b"5\xff");
    assert!(
        result.starts_with("error: invalid value \"5\u{fffd}\" for OTEL_BSP_SCHEDULE_DELAY"),
        "{result}"
    );
}
