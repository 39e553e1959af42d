//! A configuration whose exporters are all `none` starts no thread of the
//! SDK's: the pipelines built from it (`pipeline::build_processor`,
//! `build_log_processor`, a reader over `metric_exporter_from_config`) are
//! left out of the providers built `with_config` from it, and their export
//! loops wait for a first record, which only a provider configured in code
//! hands them (and which fails, naming why, as before).
//!
//! One test in a binary of its own, so that no other test starts threads
//! beside it: it counts the process's threads (`/proc/self/task`). Not by
//! name: a thread has its creator's name until it sets its own, so a loop
//! just started may not show as `otlp-export-traces` yet.
#![cfg(target_os = "linux")]

use std::time::Duration;

use otlp_contrib::pipeline::{build_log_processor, build_processor, metric_exporter_from_config};
use otlp_core::LogRecord;
use otlp_sdk::config::ConfigLoader;
use otlp_sdk::metrics::{MeterProvider, PeriodicReader};
use otlp_sdk::{LogProcessor as _, LoggerProvider, SpanProcessor as _, TracerProvider};

/// How many threads this process has.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

#[test]
fn a_none_configuration_starts_no_thread_until_a_provider_in_code_sends_a_record() {
    let config = ConfigLoader::new()
        .with_config_dir("no-such-dir")
        .with_env([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ])
        .load()
        .expect("configuration");
    let before = threads();

    let spans = build_processor(&config).expect("span processor");
    let logs = build_log_processor(&config).expect("log processor");
    let reader = PeriodicReader::builder(metric_exporter_from_config(&config).expect("exporter"))
        .with_config(&config)
        .build()
        .expect("reader");
    let tracer_provider = TracerProvider::builder()
        .with_config(&config)
        .with_processor(spans.clone())
        .build();
    let logger_provider = LoggerProvider::builder()
        .with_config(&config)
        .with_processor(logs.clone())
        .build();
    let meter_provider = MeterProvider::builder()
        .with_config(&config)
        .with_reader(reader)
        .build()
        .expect("meter provider");
    tracer_provider.tracer("off").start("not recorded").end();
    logger_provider
        .logger("off")
        .emit(LogRecord::builder().body("not emitted").build());
    meter_provider
        .meter("off")
        .u64_counter("c")
        .build()
        .add(1, &[]);
    // Nothing came: nothing to flush, and no loop to start for it.
    assert_eq!(spans.force_flush(Duration::from_secs(10)), Ok(()));
    assert_eq!(logs.force_flush(Duration::from_secs(10)), Ok(()));
    // Before: two more, otlp-export-traces and otlp-export-logs, idle for
    // the process's life (waking at each scheduled delay).
    assert_eq!(threads(), before);

    // A provider configured in code still hands the stand-in its records:
    // its loop starts with the first, and the span fails naming why.
    let in_code = TracerProvider::builder()
        .with_processor(spans.clone())
        .build();
    in_code.tracer("on").start("recorded").end();
    assert_eq!(threads(), before + 1);
    let flushed = spans.force_flush(Duration::from_secs(10));
    assert!(flushed.is_err(), "the span failed: {flushed:?}");
    let stats = spans.stats();
    assert_eq!((stats.produced, stats.exported, stats.failed), (1, 0, 1));
    assert!(stats.is_balanced(), "{stats:#?}");
    assert!(stats.bytes.is_balanced(), "{:#?}", stats.bytes);
    let error = stats.last_error.unwrap_or_default();
    assert!(error.contains("OTEL_TRACES_EXPORTER=none"), "{error}");

    // The providers shut the pipelines they left out down too (the logs'
    // loop starts for it, to shut its exporter down, as it always did).
    tracer_provider
        .shutdown(Duration::from_secs(5))
        .expect("shutdown");
    logger_provider
        .shutdown(Duration::from_secs(5))
        .expect("shutdown");
    meter_provider
        .shutdown(Duration::from_secs(5))
        .expect("shutdown");
    assert!(spans.is_shut_down() && logs.is_shut_down());
    assert_eq!(logs.stats().produced, 0);
}
