//! Smoke test of `compare --scenario metrics` (issue 17) at tiny counts:
//! the timed loops, the receiver and one sender process per side and
//! instrument run; every figure is there and positive, and every export
//! reached the receiver whole on both sides. No performance assertion: under
//! `cargo test` this is a debug build.

use std::process::Command;

use serde_json::Value;

const SERIES: u64 = 300;

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

fn positive(value: &Value, what: &str) {
    let median = value["median"].as_f64().unwrap_or(f64::NAN);
    assert!(median > 0.0 && median.is_finite(), "{what}: {value}");
}

#[test]
fn the_metrics_scenario_reports_every_figure_and_both_sides_deliver_every_point() {
    let series = SERIES.to_string();
    let stdout = compare(&[
        "--scenario",
        "metrics",
        "--repeat",
        "1",
        "--metric-series",
        &series,
        "--metric-op-time",
        "5ms",
        "--json",
    ]);
    let json: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(json["scenario"], "metrics");
    assert_eq!(json["series"], SERIES);

    let ops = json["ns_per_op"].as_array().expect("ns_per_op");
    assert_eq!(ops.len(), 6, "{ops:?}");
    for op in ops {
        positive(&op["ours_ns_per_op"], "ours ns/op");
        positive(&op["baseline_ns_per_op"], "baseline ns/op");
        assert!(op["ratio"].as_f64().is_some_and(f64::is_finite), "{op}");
    }
    for instrument in ["counter", "histogram"] {
        for threads in [1, 2] {
            assert!(
                ops.iter()
                    .any(|op| op["instrument"] == instrument && op["threads"] == threads),
                "{instrument} on {threads} threads missing"
            );
        }
    }

    let memory = json["memory"].as_array().expect("memory");
    assert_eq!(memory.len(), 2);
    for row in memory {
        // RSS grows page by page: a few hundred series may fit in pages
        // already there, so only the shape is checked.
        assert!(row["ours_bytes_per_series"]["median"].is_number(), "{row}");
        assert!(
            row["baseline_bytes_per_series"]["median"].is_number(),
            "{row}"
        );
    }

    let export = json["export"].as_array().expect("export");
    assert_eq!(export.len(), 4, "counter and histogram, two exports each");
    for row in export {
        positive(&row["ours_cpu_ms"], "ours export CPU");
        positive(&row["baseline_cpu_ms"], "baseline export CPU");
        positive(&row["ours_wall_ms"], "ours export wall");
        positive(&row["baseline_wall_ms"], "baseline export wall");
    }

    let senders = json["senders"].as_array().expect("senders");
    assert_eq!(senders.len(), 4, "one per side and instrument");
    for sender in senders {
        // Two timed exports and the shutdown's final one, every series each.
        assert_eq!(sender["received"], 3 * SERIES, "{sender}");
        assert_eq!(sender["expected"], 3 * SERIES, "{sender}");
    }
    assert_eq!(json["all_received"], true);
}

#[test]
fn the_metrics_table_names_every_row() {
    let stdout = compare(&[
        "--scenario",
        "metrics",
        "--repeat",
        "1",
        "--metric-series",
        "200",
        "--metric-op-time",
        "2ms",
    ]);
    for needle in [
        "### Metrics",
        "`Counter::add`, 1 thread",
        "`Counter::add`, 2 threads, one series",
        "`Histogram::record`, 2 threads, a series each",
        "| counter | first |",
        "| histogram | second |",
        "--scenario metrics",
        "every data point of every export",
    ] {
        assert!(
            stdout.contains(needle),
            "{needle:?} missing from:\n{stdout}"
        );
    }
}
