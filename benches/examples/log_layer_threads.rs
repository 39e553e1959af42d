//! `OtlpLogLayer` from several producing threads at once, no transport: the
//! producers' wall time per record (`tracing` event with the eight `&str`
//! fields of the `logs` scenario, values prebuilt), into otlp-sdk's log
//! pipeline at its defaults with an exporter that accepts every request.
//!
//! ```sh
//! cargo run --release -p otlp-benches --example log_layer_threads -- [THREADS [RECORDS]]
//! ```
//!
//! THREADS (default 2) threads share RECORDS (default 400,000) records. What
//! it shows is the cost threads impose on each other (shared cache lines
//! written per record); `compare --scenario logs` measures the whole sender
//! against the baseline.

use std::time::{Duration, Instant};

use otlp_benches::pipeline::NoopExporter;
use tracing_subscriber::layer::SubscriberExt as _;

/// The positional argument `index` as a positive number, else `default`.
fn argument(index: usize, name: &str, default: usize) -> Result<usize, String> {
    match std::env::args().nth(index) {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(value) if value > 0 => Ok(value),
            _ => Err(format!("{name} must be a positive number, not {text:?}")),
        },
    }
}

fn main() -> Result<(), String> {
    let threads = argument(1, "THREADS", 2)?;
    let records = argument(2, "RECORDS", 400_000)?;
    let processor =
        otlp_sdk::BatchLogProcessor::builder(NoopExporter::for_signal(otlp_sdk::Signal::Logs))
            .build()
            .map_err(|error| error.to_string())?;
    let provider = otlp_sdk::LoggerProvider::builder()
        .with_processor(processor.clone())
        .build();
    let subscriber =
        tracing_subscriber::registry().with(otlp_contrib::tracing::OtlpLogLayer::new(&provider));
    tracing::subscriber::set_global_default(subscriber).map_err(|error| error.to_string())?;
    let mut values: [String; 8] = Default::default();
    otlp_benches::fixtures::write_attribute_values(1, &mut values);
    let each = records / threads;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..each {
                    otlp_benches::logs::log_event(&values);
                }
            });
        }
    });
    let elapsed = started.elapsed();
    provider
        .shutdown(Duration::from_secs(30))
        .map_err(|error| error.to_string())?;
    let stats = processor.stats();
    println!(
        "{threads} threads, {} records: {:.1} ns per record (producers' wall time); exported {}, dropped {}",
        each * threads,
        elapsed.as_nanos() as f64 / (each * threads) as f64,
        stats.exported,
        stats.dropped,
    );
    Ok(())
}
