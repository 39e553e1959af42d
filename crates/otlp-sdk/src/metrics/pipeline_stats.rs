//! The pipelines' own statistics as OTLP metrics.
//!
//! [`observe_pipeline`] registers observable instruments that read a span
//! or log pipeline's [`StatsSnapshot`] at each collection, named as the
//! OpenTelemetry Collector names its exporters' telemetry
//! (`otelcol_exporter_sent_spans`, `otelcol_exporter_queue_size`...), so
//! the dashboards built for a Collector work for a program's own pipeline.
//! The same counts are on the Prometheus page of `otlp-contrib`.

use std::sync::Arc;

use otlp_core::KeyValue;

use super::Meter;
use crate::exporter::Signal;
use crate::stats::StatsSnapshot;

/// Reads one count of a snapshot.
type Read = fn(&StatsSnapshot) -> u64;

/// Registers the instruments that report `stats` (called at each
/// collection, once per instrument) for a pipeline of `signal`, each point
/// carrying `signal` and `attributes` (say, the pipeline's name).
///
/// | instrument | kind | from |
/// |---|---|---|
/// | `otelcol_exporter_sent_{spans,log_records}` | counter | `exported` |
/// | `otelcol_exporter_send_failed_{spans,log_records}` | counter | `failed` |
/// | `otelcol_exporter_enqueue_failed_{spans,log_records}` | counter | `dropped` |
/// | `otlp_sdk_exporter_rejected_{spans,log_records}` | counter | `rejected` |
/// | `otlp_sdk_produced_{spans,log_records}` | counter | `produced` |
/// | `otelcol_exporter_queue_size` | gauge | `queued` |
/// | `otelcol_exporter_queue_capacity` | gauge | `queue_capacity` (0: bytes only) |
/// | `otlp_sdk_queue_size_bytes` | gauge | `queued_bytes` |
/// | `otlp_sdk_queue_capacity_bytes` | gauge | `queue_capacity_bytes` |
///
/// ```
/// use otlp_core::KeyValue;
/// use otlp_sdk::metrics::{observe_pipeline, MeterProvider};
/// use otlp_sdk::{Signal, StatsSnapshot};
///
/// let provider = MeterProvider::builder().build()?;
/// let meter = provider.meter("otlp-sdk");
/// observe_pipeline(&meter, Signal::Traces, vec![KeyValue::new("pipeline", "main")], || {
///     StatsSnapshot { produced: 5, exported: 4, queued: 1, ..StatsSnapshot::default() }
/// });
/// let metrics = provider.collect();
/// assert!(metrics.iter().any(|m| m.name.as_str() == "otelcol_exporter_sent_spans"));
/// # Ok::<(), otlp_sdk::metrics::MetricsError>(())
/// ```
pub fn observe_pipeline(
    meter: &Meter,
    signal: Signal,
    attributes: Vec<KeyValue>,
    stats: impl Fn() -> StatsSnapshot + Send + Sync + 'static,
) {
    let stats: Arc<dyn Fn() -> StatsSnapshot + Send + Sync> = Arc::new(stats);
    let mut attributes = attributes;
    attributes.push(KeyValue::new("signal", signal.as_str()));
    let attributes: Arc<[KeyValue]> = attributes.into();
    let (noun, unit) = match signal {
        Signal::Traces => ("spans", "{span}"),
        Signal::Logs => ("log_records", "{log_record}"),
        Signal::Metrics => ("data_points", "{data_point}"),
    };
    let counters: [(&str, &str, Read); 5] = [
        ("otelcol_exporter_sent", "accepted by the backend", |s| {
            s.exported
        }),
        ("otelcol_exporter_send_failed", "whose export failed", |s| {
            s.failed
        }),
        (
            "otelcol_exporter_enqueue_failed",
            "dropped before export",
            |s| s.dropped,
        ),
        (
            "otlp_sdk_exporter_rejected",
            "rejected by the backend",
            |s| s.rejected,
        ),
        ("otlp_sdk_produced", "handed to the pipeline", |s| {
            s.produced
        }),
    ];
    for (prefix, what, read) in counters {
        let (stats, attributes) = (stats.clone(), attributes.clone());
        meter
            .u64_observable_counter(format!("{prefix}_{noun}"))
            .with_description(format!("Records {what}"))
            .with_unit(unit)
            .with_callback(move |observer| observer.observe(read(&stats()), &attributes))
            .build();
    }
    let gauges: [(&str, &str, &str, Read); 4] = [
        (
            "otelcol_exporter_queue_size",
            "Records in the queue",
            unit,
            |s| s.queued,
        ),
        (
            "otelcol_exporter_queue_capacity",
            "Cap on queued records (0: only bytes bound the queue)",
            unit,
            |s| s.queue_capacity,
        ),
        (
            "otlp_sdk_queue_size_bytes",
            "Bytes the queued records take",
            "By",
            |s| s.queued_bytes,
        ),
        (
            "otlp_sdk_queue_capacity_bytes",
            "Byte budget of the queue",
            "By",
            |s| s.queue_capacity_bytes,
        ),
    ];
    for (name, description, unit, read) in gauges {
        let (stats, attributes) = (stats.clone(), attributes.clone());
        meter
            .u64_observable_gauge(name)
            .with_description(description)
            .with_unit(unit)
            .with_callback(move |observer| observer.observe(read(&stats()), &attributes))
            .build();
    }
}
