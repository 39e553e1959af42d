//! Smoke tests of the `compare` binary: a tiny burst (20,000 spans, ours
//! memory-only and with the durable queue, and one lossless baseline row per
//! transport), and the other scenarios at
//! small loads over HTTP, run the receiver and sender processes and print
//! their tables. No performance assertion: under `cargo test` this is a
//! debug build.

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
            "--scenario",
            "burst",
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
            "cargo run --release -p otlp-benches --bin compare -- --scenario burst --spans 20000 --runs 1"
        ),
        "{stdout}"
    );
    for transport in ["gRPC", "HTTP/protobuf"] {
        for label in [
            "otlp-rust (default settings)",
            "otlp-rust (durable queue, default fsync)",
            "opentelemetry_sdk + opentelemetry-otlp, queue 65,536 †",
        ] {
            let cells = row(&stdout, label, transport);
            assert!(number(cells[2]) > 0.0, "{label} {transport}: {cells:?}");
            assert_eq!(cells[3], "0", "{label} {transport} lost spans: {cells:?}");
            assert!(number(cells[4]) > 0.0, "{label} {transport}: {cells:?}");
            assert!(number(cells[5]) > 0.0, "{label} {transport}: {cells:?}");
        }
        // The control's table: each pipeline's CPU per span, the
        // workload's, what is left.
        let cells = beyond_row(&stdout, "otlp-rust (default settings)", transport);
        assert!(number(cells[2]) > 0.0, "{transport}: {cells:?}");
        assert!(number(cells[3]) > 0.0, "{transport}: {cells:?}");
    }
    assert!(
        stdout.contains("Sender CPU beyond the workload (control: workload only (no SDK)"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("| workload only (no SDK) | gRPC | 0 |"),
        "the control is not a row of the main table:\n{stdout}"
    );
    // Issue 14: the durable queue against memory-only, per transport.
    durable_rows(&stdout, "both");
}

/// Checks the table of the durable queue against memory-only: one row per
/// transport (`transports`), both ratios given, nothing lost.
fn durable_rows(stdout: &str, transports: &str) {
    assert!(
        stdout.contains("Durable queue vs memory-only (otlp-rust at its defaults"),
        "{stdout}"
    );
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip_while(|line| !line.starts_with("Durable queue vs memory-only"))
        .filter(|line| line.starts_with("| gRPC |") || line.starts_with("| HTTP/protobuf |"))
        .map(|line| line.trim_matches('|').split('|').map(str::trim).collect())
        .take_while(|cells: &Vec<&str>| cells.len() == 9)
        .collect();
    let expected: Vec<&str> = if transports == "both" {
        vec!["gRPC", "HTTP/protobuf"]
    } else {
        vec![transports]
    };
    assert_eq!(
        rows.iter().map(|cells| cells[0]).collect::<Vec<_>>(),
        expected,
        "{stdout}"
    );
    for cells in rows {
        assert!(
            cells[3].ends_with('x') && cells[6].ends_with('x'),
            "{cells:?}"
        );
        assert_eq!((cells[7], cells[8]), ("0", "0"), "{cells:?}");
    }
    assert!(stdout.contains("has no goals of its own"), "{stdout}");
}

/// The cells of a "beyond the workload" table's row (six cells in the
/// burst's table, eight in the steady rate's, which splits the cost by
/// thread; the first starting with `label`, the second `transport`).
fn beyond_row<'a>(table: &'a str, label: &str, transport: &str) -> Vec<&'a str> {
    table
        .lines()
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect::<Vec<_>>()
        })
        .find(|cells| {
            [6, 8].contains(&cells.len()) && cells[0].starts_with(label) && cells[1] == transport
        })
        .unwrap_or_else(|| panic!("no beyond-the-workload row {label} / {transport} in:\n{table}"))
}

#[test]
fn small_field_scenarios_print_their_tables() {
    let output = Command::new(env!("CARGO_BIN_EXE_compare"))
        .args([
            "--scenario",
            "steady,slow,outage,front-doors",
            "--transport",
            "http",
            "--runs",
            "1",
            "--rate",
            "2000",
            "--duration",
            "1s",
            "--slow-delay",
            "50ms",
            "--slow-spans",
            "1000",
            "--slow-rate",
            "1000",
            "--slow-duration",
            "1s",
            "--outage",
            "300ms",
            "--outage-rate",
            "1000",
            "--door-spans",
            "2000",
            "--door-threads",
            "2",
            "--door-shapes",
            "nested",
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
    for heading in [
        "### Steady rate: 2,000 spans/s for 1 s",
        "### Slow collector: every answer after 50 ms",
        "### Short outage: connections refused for 300 ms while 1,000 spans/s are sent",
        "### Front doors: 2,000 spans/s for 1 s (and `tracing` also in a burst of 2,000)",
        "--scenario steady",
        "--scenario front-doors",
        "`Store::DecodeOnly`",
    ] {
        assert!(stdout.contains(heading), "{heading}:\n{stdout}");
    }
    // The steady rows: both sides make every span of the load and lose none.
    for label in [
        "otlp-rust (default settings)",
        "otlp-rust (durable queue, default fsync)",
        "opentelemetry_sdk + opentelemetry-otlp (default settings)",
    ] {
        let line = stdout
            .lines()
            .find(|line| line.starts_with(&format!("| {label} | HTTP/protobuf | 2,000 |")))
            .unwrap_or_else(|| panic!("no steady row for {label}:\n{stdout}"));
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells[3], "0", "{line}");
    }
    // The steady and front-door tables are followed by the control's (the
    // front doors have one per load and thread count).
    assert_eq!(
        stdout
            .matches("Sender CPU beyond the workload (control: workload only (no SDK)")
            .count(),
        1,
        "{stdout}"
    );
    assert_eq!(
        stdout
            .matches("Sender CPU beyond the workload (controls: workload only (no SDK)")
            .count(),
        1,
        "{stdout}"
    );
    let cells = beyond_row(&stdout, "otlp-rust (default settings)", "HTTP/protobuf");
    assert!(number(cells[3]) > 0.0, "{cells:?}");
    assert!(cells[5].ends_with('x'), "{cells:?}");
    // The cost beyond the workload split by thread, each part against the
    // baseline's: "0.35 (0.32x)".
    for part in &cells[6..8] {
        let (micros, ratio) = part.split_once(' ').expect("a figure and its ratio");
        assert!(micros.parse::<f64>().is_ok(), "{cells:?}");
        assert!(ratio.starts_with('(') && ratio.ends_with("x)"), "{cells:?}");
    }
    // The steady rate's durable row against memory-only.
    durable_rows(&stdout, "HTTP/protobuf");
    // Every door of the front-door table.
    for door in [
        "| otlp-sdk's tracer | otlp-rust",
        "| `opentelemetry` API | OtlpSpanProcessor",
        "| `opentelemetry` API | opentelemetry_sdk",
    ] {
        assert!(stdout.contains(door), "{door}:\n{stdout}");
    }
    // The `tracing` door four ways, in a burst and paced, two threads,
    // nested: every row makes every span and loses none; OtlpLayer's rows
    // carry the three ratios (the baseline unfiltered and filtered, the
    // bridge).
    let tracing_rows: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|line| {
            line.starts_with("| burst of 2,000 | nested | 2 |")
                || line.starts_with("| 2,000/s for 1 s | nested | 2 |")
        })
        .map(|line| line.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    assert_eq!(tracing_rows.len(), 8, "{stdout}");
    for cells in &tracing_rows {
        assert_eq!(cells[6], "0", "{cells:?}");
        if cells[4].starts_with("`OtlpLayer`") {
            assert!(
                cells[11..=13].iter().all(|cell| cell.ends_with('x')),
                "{cells:?}"
            );
        }
    }
    for door in [
        "`OtlpLayer` → otlp-sdk",
        "`tracing-opentelemetry` → `OtlpSpanProcessor` → otlp-sdk",
        "`tracing-opentelemetry` → `opentelemetry_sdk` + `opentelemetry-otlp` (lossless queue)",
        "`tracing-opentelemetry` (exporters' crates filtered out) → `opentelemetry_sdk`",
    ] {
        assert!(
            tracing_rows
                .iter()
                .filter(|cells| cells[4].contains(door))
                .count()
                == 2,
            "{door}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("Goals for `tracing` + `OtlpLayer`"),
        "{stdout}"
    );
}
