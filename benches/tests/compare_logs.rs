//! Smoke test of `compare --scenario logs` (issue 16) at tiny loads: the
//! receiver and one sender process per row run, both transports, a burst
//! and a paced load, flat and inside a span; otlp-rust loses nothing and the
//! JSON and the table carry every row. No performance assertion: under
//! `cargo test` this is a debug build.

use std::process::Command;

use serde_json::Value;

fn compare(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_compare"))
        .args(args)
        .output()
        .expect("compare runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "compare failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_logs_scenario_reports_every_row_and_ours_loses_nothing() {
    let stdout = compare(&[
        "--scenario",
        "logs",
        "--repeat",
        "1",
        "--log-records",
        "3000",
        "--log-rate",
        "4000",
        "--log-duration",
        "500ms",
        "--log-shapes",
        "flat,in-span",
        "--shutdown-timeout",
        "60",
        "--json",
    ]);
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(report["scenario"], "logs", "{report:#}");
    let rows = report["rows"].as_array().expect("rows");
    // Per load: flat (ours ×2, baseline ×2 per transport, the control) and
    // in-span (ours ×1, baseline ×2 per transport).
    assert_eq!(rows.len(), 2 * (4 * 2 + 1 + 3 * 2), "{report:#}");
    for row in rows {
        let side = row["side"].as_str().expect("side");
        let records = row["records"].as_u64().expect("records");
        assert_eq!(records, if row["mode"] == "burst" { 3_000 } else { 2_000 });
        let run = &row["runs"][0];
        assert_eq!(run["produced"].as_u64(), Some(records), "{row:#}");
        assert!(
            row["sender_cpu_seconds_per_record"].as_f64().expect("cpu") > 0.0,
            "{row:#}"
        );
        match side {
            "ours-layer" | "ours-native" => {
                assert_eq!(run["received"].as_u64(), Some(records), "{row:#}");
                assert_eq!(row["lost_worst"], 0, "{row:#}");
                assert_eq!(run["pipeline"]["exported"].as_u64(), Some(records));
                assert!(
                    row["ratio_cpu_per_record_vs_baseline_lossless"]
                        .as_f64()
                        .is_some()
                );
                assert!(
                    row["ratio_cpu_per_record_vs_baseline_default"]
                        .as_f64()
                        .is_some()
                );
            }
            // Its queue holds every record.
            "baseline-lossless" => assert_eq!(row["lost_worst"], 0, "{row:#}"),
            "baseline-default" => {}
            "workload" => assert_eq!(run["received"], 0, "{row:#}"),
            other => panic!("unknown side {other}"),
        }
        // The documented filter keeps the exporters' own events out.
        assert_eq!(run["other_records"], 0, "{row:#}");
    }
}

#[test]
fn the_logs_table_names_both_sides_and_the_command() {
    let stdout = compare(&[
        "--scenario",
        "logs",
        "--runs",
        "1",
        "--transport",
        "http",
        "--log-modes",
        "burst",
        "--log-records",
        "2000",
    ]);
    assert!(
        stdout.contains(
            "cargo run --release -p otlp-benches --bin compare -- --scenario logs --runs 1 \
             --transport http --log-modes burst --log-records 2000"
        ),
        "{stdout}"
    );
    for label in [
        "| burst of 2,000 | flat | HTTP/protobuf | `tracing` + `OtlpLogLayer` → otlp-sdk (default settings) |",
        "| burst of 2,000 | flat | HTTP/protobuf | `Logger::emit` → otlp-sdk (default settings) |",
        "(default settings, queue 2,048) |",
        "queue 2,048 (lossless) |",
        "| burst of 2,000 | flat | – | workload only (no logger) |",
        "- burst of 2,000, flat, HTTP/protobuf: CPU/record vs baseline default",
    ] {
        assert!(stdout.contains(label), "no {label:?} in:\n{stdout}");
    }
}
