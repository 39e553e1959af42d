//! `OTEL_LOG_LEVEL` governs the default loss handler (`otlp_sdk::diagnostics`):
//! `none` or `off` silences it, a known level keeps it, an unknown value is
//! said once and keeps it; a handler set in code gets reports whatever the
//! level. Warnings are printed from `warn` on.
//!
//! The level is the process's, read from its environment, and setting a
//! variable in this process would need `unsafe` and race the other tests: so
//! each case runs [`child_loses_spans`] in a child process, this test binary
//! run again with an environment of its own, and reads its standard error.
#![cfg(unix)]

use std::process::Command;
use std::time::Duration;

use otlp_core::SpanData;
use otlp_core::encode::Encoding;
use otlp_sdk::diagnostics::set_loss_handler;
use otlp_sdk::{BatchSpanProcessor, ExportError, ExportOutcome, ExportRequest, Exporter};
use otlp_sdk::{Signal, SpanProcessor};

/// Set only in the child: the child test does nothing without it. Its value
/// says whether the child sets a loss handler of its own (`handler`).
const CHILD: &str = "OTLP_SDK_TEST_LOG_LEVEL_CHILD";

/// The default handler's line for the child's losses.
const LOSS_LINE: &str = "otlp-rust: the traces pipeline lost 3 spans: 3 failed";

/// The default warning handler's line for the child's instrument.
const WARNING_LINE: &str = "otlp-rust: warning: metrics: instrument \"9lives\"";

/// Refuses every export, as a backend refusing a token.
struct Refuse;

impl Exporter for Refuse {
    fn encoding(&self) -> Encoding {
        Encoding::Protobuf
    }

    fn signal(&self) -> Signal {
        Signal::Traces
    }

    async fn export(&self, _: ExportRequest) -> ExportOutcome {
        ExportOutcome::Permanent {
            error: ExportError::Request("refused".into()),
        }
    }
}

#[test]
fn child_loses_spans() {
    let Some(mode) = std::env::var_os(CHILD) else {
        return;
    };
    if mode == "handler" {
        set_loss_handler(|report| println!("HANDLER {report}"));
    }
    // An instrument name that is not valid, twice: one warning.
    let meters = otlp_sdk::metrics::MeterProvider::builder().build().unwrap();
    for _ in 0..2 {
        meters.meter("child").u64_counter("9lives").build();
    }
    let processor = BatchSpanProcessor::builder(Refuse).build().unwrap();
    for i in 0..3 {
        processor.on_end(SpanData::builder(format!("span {i}")).build());
    }
    // Shutdown reports what was lost before it returns.
    let _ = processor.shutdown(Duration::from_secs(30));
    assert_eq!(processor.stats().failed, 3);
}

/// The child's standard error and output, run with `OTEL_LOG_LEVEL` as given
/// (`None`: unset).
fn run_child(level: Option<&str>, mode: &str) -> (String, String) {
    let exe = std::env::current_exe().expect("the test binary");
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            "child_loses_spans",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_clear()
        .env(CHILD, mode);
    if let Some(level) = level {
        command.env("OTEL_LOG_LEVEL", level);
    }
    let output = command.output().expect("the child runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "child failed: {stdout}\n{stderr}");
    (stderr, stdout)
}

#[test]
fn otel_log_level_none_or_off_silences_the_default_loss_handler() {
    // Before: the line was written whatever OTEL_LOG_LEVEL said.
    for level in ["none", "OFF"] {
        let (stderr, _) = run_child(Some(level), "default");
        assert!(!stderr.contains("otlp-rust:"), "{level}: {stderr}");
    }
    for level in [None, Some(""), Some("error"), Some("warn"), Some("debug")] {
        let (stderr, _) = run_child(level, "default");
        assert_eq!(stderr.matches(LOSS_LINE).count(), 1, "{level:?}: {stderr}");
        // Warnings from `warn` on (the default is `info`), once each.
        let warnings = if level == Some("error") { 0 } else { 1 };
        assert_eq!(
            stderr.matches(WARNING_LINE).count(),
            warnings,
            "{level:?}: {stderr}"
        );
    }
}

#[test]
fn an_unknown_otel_log_level_is_said_once_and_losses_are_still_reported() {
    let (stderr, _) = run_child(Some("quiet"), "default");
    let said = "otlp-rust: OTEL_LOG_LEVEL=\"quiet\" is not a log level";
    assert_eq!(stderr.matches(said).count(), 1, "{stderr}");
    assert_eq!(stderr.matches(LOSS_LINE).count(), 1, "{stderr}");
}

#[test]
fn a_loss_handler_set_in_code_gets_reports_whatever_the_level() {
    let (stderr, stdout) = run_child(Some("none"), "handler");
    assert!(
        stdout.contains("HANDLER the traces pipeline lost 3 spans"),
        "{stdout}"
    );
    assert!(!stderr.contains("otlp-rust:"), "{stderr}");
}
