//! The pipelines' own statistics as OTLP metrics.
//!
//! [`observe_pipeline`] registers observable instruments that read a span
//! or log pipeline's [`StatsSnapshot`] at each collection, named as the
//! OpenTelemetry Collector names its exporters' telemetry
//! (`otelcol_exporter_sent_spans`, `otelcol_exporter_queue_size`...), so
//! the dashboards built for a Collector work for a program's own pipeline.
//! The same counts are on the Prometheus page of `otlp-contrib`.

use std::sync::{Arc, Mutex, PoisonError};

use otlp_core::KeyValue;

use super::Meter;
use super::collection_mark;
use crate::exporter::Signal;
use crate::stats::StatsSnapshot;

/// Reads one count of a snapshot.
type Read = fn(&StatsSnapshot) -> u64;

/// The unit of the record counts whose names carry no record word
/// (`otelcol_exporter_queue_size`, `otelcol_exporter_queue_capacity`): one
/// instrument for every signal, its pipelines told apart by the `signal`
/// attribute. A unit naming the signal's records (`{span}`, `{log_record}`)
/// would make a span and a log pipeline observed on one meter two
/// instruments of one name in conflict (another unit), exported twice.
const SHARED_RECORD_UNIT: &str = "{record}";

/// Collections whose snapshot [`observe_pipeline`] keeps at once: several
/// collections of one provider may run at the same time (the reader's and a
/// pull exporter's `collect`, one started in a callback). Past it the oldest
/// is forgotten, and a collection still running reads `stats` again (its
/// points then come from two snapshots).
const KEPT_SNAPSHOTS: usize = 4;

/// Registers the instruments that report `stats` for a pipeline of
/// `signal`, each point carrying `signal` and `attributes` (say, the
/// pipeline's name). `stats` is called once per collection and every
/// instrument reports from that one snapshot, so the points of one
/// collection agree: `produced = sent + send_failed + enqueue_failed +
/// rejected + queue_size + in_flight` holds among them exactly.
///
/// | instrument | kind | from |
/// |---|---|---|
/// | `otelcol_exporter_sent_{spans,log_records,metric_points}` | counter | `exported` |
/// | `otelcol_exporter_send_failed_{spans,log_records,metric_points}` | counter | `failed` |
/// | `otelcol_exporter_enqueue_failed_{spans,log_records,metric_points}` | counter | `dropped` |
/// | `otlp_sdk_exporter_rejected_{spans,log_records,data_points}` | counter | `rejected` |
/// | `otlp_sdk_produced_{spans,log_records,data_points}` | counter | `produced` |
/// | `otelcol_exporter_queue_size` | gauge | `queued` (unit `{record}`, whatever the signal) |
/// | `otlp_sdk_exporter_in_flight` | gauge | `in_flight` (unit `{record}`) |
/// | `otelcol_exporter_queue_capacity` | gauge | `queue_capacity` (0: bytes only; unit `{record}`) |
/// | `otlp_sdk_queue_size_bytes` | gauge | `queued_bytes` |
/// | `otlp_sdk_queue_capacity_bytes` | gauge | `queue_capacity_bytes` |
/// | `otlp_sdk_record_bytes_produced` | counter | `bytes.produced` |
/// | `otlp_sdk_record_bytes_answered` | counter | `bytes.answered` |
/// | `otlp_sdk_record_bytes_dropped` | counter | `bytes.dropped` |
/// | `otlp_sdk_record_bytes_failed` | counter | `bytes.failed` |
/// | `otlp_sdk_record_bytes_queued` | gauge | `bytes.queued` |
/// | `otlp_sdk_record_bytes_in_flight` | gauge | `bytes.in_flight` |
///
/// The `record_bytes` instruments are the records' encoded bytes
/// ([`ByteAccount`](crate::ByteAccount)): produced = answered + dropped +
/// failed + queued + in flight.
///
/// The instruments whose names carry no record word (the queue and
/// in-flight gauges, the `otlp_sdk_queue_*_bytes` and `record_bytes` ones) are the same
/// instruments for every signal: a span and a log pipeline may be observed
/// on one meter, their points told apart by `signal`.
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
    let stats = Arc::new(SharedSnapshot {
        stats: Box::new(stats),
        kept: Mutex::new(Vec::with_capacity(KEPT_SNAPSHOTS)),
    });
    let mut attributes = attributes;
    attributes.push(KeyValue::new("signal", signal.as_str()));
    let attributes: Arc<[KeyValue]> = attributes.into();
    // The records in `otlp_sdk_` names, in the Collector's names (which
    // call a metrics pipeline's `metric_points`), and their unit.
    let (noun, collector_noun, unit) = match signal {
        Signal::Traces => ("spans", "spans", "{span}"),
        Signal::Logs => ("log_records", "log_records", "{log_record}"),
        Signal::Metrics => ("data_points", "metric_points", "{data_point}"),
    };
    let counters: [(&str, &str, &str, Read); 5] = [
        (
            "otelcol_exporter_sent",
            collector_noun,
            "accepted by the backend",
            |s| s.exported,
        ),
        (
            "otelcol_exporter_send_failed",
            collector_noun,
            "whose export failed",
            |s| s.failed,
        ),
        (
            "otelcol_exporter_enqueue_failed",
            collector_noun,
            "dropped before export",
            |s| s.dropped,
        ),
        (
            "otlp_sdk_exporter_rejected",
            noun,
            "rejected by the backend",
            |s| s.rejected,
        ),
        ("otlp_sdk_produced", noun, "handed to the pipeline", |s| {
            s.produced
        }),
    ];
    for (prefix, noun, what, read) in counters {
        let (stats, attributes) = (stats.clone(), attributes.clone());
        meter
            .u64_observable_counter(format!("{prefix}_{noun}"))
            .with_description(format!("Records {what}"))
            .with_unit(unit)
            .with_callback(move |observer| observer.observe(read(&stats.read()), &attributes))
            .build();
    }
    let byte_counters: [(&str, &str, Read); 4] = [
        (
            "produced",
            "handed to the pipeline, once their length is known",
            |s| s.bytes.produced,
        ),
        (
            "answered",
            "of requests the backend answered (exported or rejected)",
            |s| s.bytes.answered,
        ),
        ("dropped", "dropped", |s| s.bytes.dropped),
        ("failed", "whose export failed", |s| s.bytes.failed),
    ];
    for (stage, what, read) in byte_counters {
        let (stats, attributes) = (stats.clone(), attributes.clone());
        meter
            .u64_observable_counter(format!("otlp_sdk_record_bytes_{stage}"))
            .with_description(format!("Encoded bytes of the records {what}"))
            .with_unit("By")
            .with_callback(move |observer| observer.observe(read(&stats.read()), &attributes))
            .build();
    }
    let gauges: [(&str, &str, &str, Read); 7] = [
        (
            "otelcol_exporter_queue_size",
            "Records in the queue",
            SHARED_RECORD_UNIT,
            |s| s.queued,
        ),
        (
            "otlp_sdk_exporter_in_flight",
            "Records taken from the queue for export and not settled yet",
            SHARED_RECORD_UNIT,
            |s| s.in_flight,
        ),
        (
            "otelcol_exporter_queue_capacity",
            "Cap on queued records (0: only bytes bound the queue)",
            SHARED_RECORD_UNIT,
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
        (
            "otlp_sdk_record_bytes_queued",
            "Encoded bytes of the records in the queue",
            "By",
            |s| s.bytes.queued,
        ),
        (
            "otlp_sdk_record_bytes_in_flight",
            "Encoded bytes of the records in flight",
            "By",
            |s| s.bytes.in_flight,
        ),
    ];
    for (name, description, unit, read) in gauges {
        let (stats, attributes) = (stats.clone(), attributes.clone());
        meter
            .u64_observable_gauge(name)
            .with_description(description)
            .with_unit(unit)
            .with_callback(move |observer| observer.observe(read(&stats.read()), &attributes))
            .build();
    }
}

/// The program's `stats`, read once per collection for all the
/// instruments of one [`observe_pipeline`] call.
struct SharedSnapshot {
    stats: Box<dyn Fn() -> StatsSnapshot + Send + Sync>,
    /// The latest collections' ids and snapshots, oldest first: at most
    /// [`KEPT_SNAPSHOTS`] (collections running at once each keep theirs).
    kept: Mutex<Vec<(u64, StatsSnapshot)>>,
}

impl SharedSnapshot {
    /// The snapshot of the calling thread's collection: read by the first
    /// callback of the collection, the others reuse it. Outside a
    /// collection (not expected: callbacks run in one), a fresh one.
    fn read(&self) -> StatsSnapshot {
        let Some(collection) = collection_mark::current() else {
            return (self.stats)();
        };
        if let Some((_, snapshot)) = self
            .kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(read_in, _)| *read_in == collection)
        {
            return snapshot.clone();
        }
        // The program's code, run without the lock held.
        let snapshot = (self.stats)();
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= KEPT_SNAPSHOTS {
            kept.remove(0);
        }
        kept.push((collection, snapshot.clone()));
        snapshot
    }
}
