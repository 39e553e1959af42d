//! Smoke test of the `compare` binary: a tiny end-to-end comparison (20,000
//! spans, ours and one lossless baseline row per transport) runs the
//! receiver and sender processes and prints the table. No performance
//! assertion: under `cargo test` this is a debug build.

use std::process::Command;

/// The cells of the table row whose first cell starts with `label` and whose
/// second is `transport`.
fn row<'a>(table: &'a str, label: &str, transport: &str) -> Vec<&'a str> {
    table
        .lines()
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.len() >= 9 && cells[0].starts_with(label) && cells[1] == transport)
        .unwrap_or_else(|| panic!("no row {label} / {transport} in:\n{table}"))
}

fn number(cell: &str) -> f64 {
    cell.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {cell:?}"))
}

#[test]
fn a_tiny_comparison_prints_the_table_and_both_sides_deliver() {
    let output = Command::new(env!("CARGO_BIN_EXE_compare"))
        .args([
            "--spans",
            "20000",
            "--runs",
            "1",
            "--baseline-queues",
            "65536",
            "--shutdown-timeout",
            "60",
        ])
        .output()
        .expect("compare runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "compare failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(
            "| implementation | transport | delivered spans/s | lost | sender CPU s | peak RSS MB |"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "cargo run --release -p otlp-benches --bin compare -- --spans 20000 --runs 1"
        ),
        "{stdout}"
    );
    for transport in ["gRPC", "HTTP/protobuf"] {
        for label in [
            "otlp-rust",
            "opentelemetry_sdk + opentelemetry-otlp, queue 65,536 †",
        ] {
            let cells = row(&stdout, label, transport);
            assert!(number(cells[2]) > 0.0, "{label} {transport}: {cells:?}");
            assert_eq!(cells[3], "0", "{label} {transport} lost spans: {cells:?}");
            assert!(number(cells[4]) > 0.0, "{label} {transport}: {cells:?}");
            assert!(number(cells[5]) > 0.0, "{label} {transport}: {cells:?}");
        }
    }
}
