//! One record encoded on its own, as otlp-sdk's pipeline encodes every span
//! and log record when it ends (`otlp_core::encode::record`): its length
//! (`span_len` / `log_len`), then its bytes (`encode_span` / `encode_log`),
//! in a loop; prints the best of five timed rounds in ns per record.
//!
//! ```sh
//! cargo run --release -p otlp-benches --example encode_record -- [ENTRIES [ROUNDS]]
//! ```
//!
//! ENTRIES 0 (the default): a span with eight string attributes of 16
//! characters, the `hot_path` span's. ENTRIES 1–16: a log record whose body
//! is a key-value list (`AnyValue::KvList`) of that many string entries,
//! distinct keys, plus one string attribute: what the encoders' check for a
//! repeated key costs. ROUNDS (default 2,000,000) records per timed round;
//! with fewer than 1,000, one round, for instruction counts that do not
//! depend on the machine's load:
//!
//! ```sh
//! valgrind --tool=callgrind target/release/examples/encode_record 10 100
//! valgrind --tool=callgrind target/release/examples/encode_record 10 200
//! ```
//!
//! (the difference of the two totals over 100 is the instructions per
//! record). It uses only otlp-core's public API, so the same file measures
//! an older checkout too.

use std::hint::black_box;
use std::time::Instant;

use otlp_core::encode::record::{encode_log, encode_span, log_len, span_len};
use otlp_core::{AnyValue, KeyValue, LogRecord, SpanData};

/// Keys of the span's attributes and of the list body's entries, in order.
const KEYS: [&str; 16] = [
    "http.method",
    "http.route",
    "user.id",
    "order.id",
    "status",
    "region",
    "service",
    "duration_ms",
    "retry",
    "cache",
    "a",
    "bb",
    "ccc",
    "dddd",
    "eeeee",
    "ffffff",
];

/// The positional argument `index` as a number, else `default`.
fn argument(index: usize, name: &str, default: usize) -> Result<usize, String> {
    match std::env::args().nth(index) {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| format!("{name} must be a number, not {text:?}")),
    }
}

/// The best of the timed rounds of `encode`, in ns per call.
fn best_of(rounds: usize, mut encode: impl FnMut()) -> f64 {
    let repeats = if rounds < 1_000 { 1 } else { 5 };
    (0..repeats)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..rounds {
                encode();
            }
            start.elapsed().as_nanos() as f64 / rounds as f64
        })
        .fold(f64::MAX, f64::min)
}

fn main() -> Result<(), String> {
    let entries = argument(1, "ENTRIES", 0)?;
    let rounds = argument(2, "ROUNDS", 2_000_000)?.max(1);
    if entries > KEYS.len() {
        return Err(format!("ENTRIES is at most {}, not {entries}", KEYS.len()));
    }
    let mut out = Vec::with_capacity(4096);
    if entries == 0 {
        let span = SpanData::builder("render_response")
            .attributes(
                KEYS.iter()
                    .take(8)
                    .enumerate()
                    .map(|(i, key)| KeyValue::new(*key, format!("value-{i:010}"))),
            )
            .build();
        let ns = best_of(rounds, || {
            out.clear();
            black_box(span_len(black_box(&span)));
            encode_span(black_box(&span), &mut out);
        });
        println!(
            "span, 8 string attributes: {ns:.1} ns per record ({} bytes)",
            out.len()
        );
        return Ok(());
    }
    let body = KEYS
        .iter()
        .take(entries)
        .enumerate()
        .map(|(i, key)| KeyValue::new(*key, format!("value-{i:08}")))
        .collect::<Vec<_>>();
    let log = LogRecord::builder()
        .body(AnyValue::from(body))
        .attribute(KeyValue::new("x", "y"))
        .build();
    let ns = best_of(rounds, || {
        out.clear();
        black_box(log_len(black_box(&log)));
        encode_log(black_box(&log), &mut out);
    });
    println!(
        "log record, a body of {entries} list entries: {ns:.1} ns per record ({} bytes)",
        out.len()
    );
    Ok(())
}
