//! Rendering [`StatsSnapshot`]s as Prometheus text exposition (format 0.0.4).

use std::fmt::Write as _;
use std::time::Duration;

use otlp_sdk::{Signal, StatsSnapshot};

use super::MetricsError;

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Label names the exposition sets itself: a pipeline label of the same name
/// would appear twice in a sample, which Prometheus refuses.
const RESERVED_LABELS: [&str; 4] = ["error_type", "outcome", "quantile", "stage"];

/// Labels added to every sample of one pipeline, validated when built.
///
/// Names follow Prometheus: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`
/// (reserved by Prometheus), not `error_type`, `outcome`, `quantile` or
/// `stage` (set by the exposition), no repeats. Values are any text; they are
/// escaped when rendered. The OpenTelemetry semantic conventions suggest
/// `otel_component_name` / `otel_component_type` for naming a pipeline.
///
/// ```
/// use otlp_contrib::metrics::Labels;
///
/// let labels = Labels::new([("pipeline", "checkout"), ("otel_component_type", "batching_span_processor")])?;
/// assert_eq!(labels.len(), 2);
/// assert!(Labels::new([("service.name", "x")]).is_err()); // '.' is not allowed
/// # Ok::<(), otlp_contrib::metrics::MetricsError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// No labels.
    pub const fn none() -> Self {
        Labels(Vec::new())
    }

    /// Checks every name (see the type's docs); the error names the bad label.
    pub fn new<I, K, V>(labels: I) -> Result<Self, MetricsError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut checked: Vec<(String, String)> = Vec::new();
        for (name, value) in labels {
            let name = name.into();
            if let Some(reason) = invalid_label_name(&name) {
                return Err(MetricsError::InvalidLabel { name, reason });
            }
            if checked.iter().any(|(existing, _)| *existing == name) {
                return Err(MetricsError::InvalidLabel {
                    name,
                    reason: "given more than once",
                });
            }
            checked.push((name, value.into()));
        }
        Ok(Labels(checked))
    }

    /// The labels in the order given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether both name the same series: the same labels in any order,
    /// those with an empty value left out (Prometheus drops them, so
    /// `{team=""}` is the series without labels). Names do not repeat, so
    /// equal counts and inclusion suffice.
    fn same_set(&self, other: &Labels) -> bool {
        self.present().count() == other.present().count()
            && self.present().all(|label| other.0.contains(label))
    }

    /// The labels with a value (Prometheus drops those whose value is empty).
    fn present(&self) -> impl Iterator<Item = &(String, String)> {
        self.0.iter().filter(|(_, value)| !value.is_empty())
    }
}

fn invalid_label_name(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some("must match [a-zA-Z_][a-zA-Z0-9_]*");
    }
    if name.starts_with("__") {
        return Some("names starting with `__` are reserved by Prometheus");
    }
    if RESERVED_LABELS.contains(&name) {
        return Some("set by the exposition itself");
    }
    None
}

/// The Prometheus text exposition of one or more pipelines.
///
/// Each pipeline is a [`StatsSnapshot`] with its [`Labels`]; every metric
/// family is written once (`# HELP`, `# TYPE`, then the samples of every
/// pipeline), as the format requires. A pipeline added with the same labels
/// as an earlier one (in any order; a label with an empty value counts as
/// none, as in Prometheus) replaces it, so the output never holds a series
/// twice.
///
/// # The metrics
///
/// Names are the OpenTelemetry SDK semantic conventions for self-metrics,
/// translated the way OpenTelemetry's Prometheus exporters translate them
/// (dots become underscores, counters get `_total`, the `{span}` unit is
/// dropped, `error.type` becomes the label `error_type`), followed by what
/// the conventions have no name for, under `otlp_sdk_`:
///
/// | metric | type | from [`StatsSnapshot`] |
/// |---|---|---|
/// | `otel_sdk_processor_span_processed_total` | counter | no `error_type`: spans taken from the queue for export (`exported + rejected + failed + dropped_oversized − dropped_oversized_on_arrival + dropped_durable + in_flight`) |
/// | … `{error_type="queue_full"}` | | `dropped_queue_full` |
/// | … `{error_type="oversized"}` | | `dropped_oversized_on_arrival` (refused by the queue: larger than it or a request may be) |
/// | … `{error_type="already_shutdown"}` | | `dropped_shutdown` (arrived after shutdown, or still queued at its deadline) |
/// | `otel_sdk_processor_span_queue_size` | gauge | `queued` |
/// | `otel_sdk_processor_span_queue_capacity` | gauge | `queue_capacity`, only when the count is capped (`max_queue_size`) |
/// | `otel_sdk_exporter_span_exported_total` | counter | no `error_type`: `exported` |
/// | … `{error_type="rejected"}` | | `rejected` (partial success; the conventions count these as failed) |
/// | … `{error_type="oversized"}` | | `dropped_oversized − dropped_oversized_on_arrival` (taken, then larger than the request cap once encoded: never sent) |
/// | … `{error_type="durable_queue"}` | | `dropped_durable` (evicted at the durable queue's disk cap, or damaged on disk) |
/// | … `{error_type="failed"}` | | `failed` (permanent error, retries exhausted, abandoned at shutdown) |
/// | `otel_sdk_exporter_span_inflight` | gauge | `in_flight` |
/// | `otlp_sdk_spans_produced_total` | counter | `produced` (spans handed to the processor) |
/// | `otlp_sdk_queue_size_bytes` | gauge | `queued_bytes` (encoded, with eight bytes of framing each) |
/// | `otlp_sdk_queue_capacity_bytes` | gauge | `queue_capacity_bytes` (`max_queue_bytes`) |
/// | `otlp_sdk_spans_on_disk` | gauge | `on_disk` (durable queue: in flight, on disk) |
/// | `otlp_sdk_record_bytes_produced_total` | counter | `bytes.produced` (the records' encoded bytes: see [`ByteAccount`](otlp_sdk::ByteAccount)) |
/// | `otlp_sdk_record_bytes_settled_total{outcome="answered"}` | counter | `bytes.answered` (exported and rejected records) |
/// | … `{outcome="dropped"}` | | `bytes.dropped` |
/// | … `{outcome="failed"}` | | `bytes.failed` |
/// | `otlp_sdk_record_bytes_pending{stage="queued"}` | gauge | `bytes.queued` |
/// | … `{stage="in_flight"}` | | `bytes.in_flight` |
/// | `otlp_sdk_export_batches_total` | counter | `batches` |
/// | `otlp_sdk_export_retries_total` | counter | `retries` (attempts retried) |
/// | `otlp_sdk_export_batch_size_spans` | summary | `batch_size`: quantiles 0 (min), 0.5, 0.9, 0.99, 1 (max), `_sum` (spans taken), `_count` |
/// | `otlp_sdk_export_duration_seconds` | summary | `export_latency` (first attempt to final outcome, retries included): quantiles 0.5, 0.9, 0.99, 1 (max), `_sum`, `_count` |
///
/// So `otlp_sdk_spans_produced_total` = the four `processed` series +
/// `queue_size`, and the `processed` series without `error_type` = the five
/// `exported` series + `inflight` = the spans taken into batches, in every
/// scrape; and `otlp_sdk_record_bytes_produced_total` = the three `settled`
/// series + the two `pending` ones. A span the queue refuses as too large never reaches the
/// exporter: as the conventions count a processor's failures (and the
/// Collector a request its queue cannot take, an enqueue failure), it is a
/// `processed` series with an `error_type`, not one handed on for export. Quantiles of an empty
/// summary are `NaN`, as Prometheus client libraries write them.
/// `last_error` is not exported (free text would make unbounded label values).
///
/// With [`with_collector_names`](Self::with_collector_names) the exposition
/// also carries the OpenTelemetry Collector's exporter metrics, for
/// dashboards built on them. They are off by default so that an application's
/// pipeline is not summed into Collector dashboards by accident:
///
/// | metric | type | from [`StatsSnapshot`] |
/// |---|---|---|
/// | `otelcol_exporter_sent_spans_total` | counter | `exported` |
/// | `otelcol_exporter_send_failed_spans_total` | counter | `failed + rejected + dropped_oversized − dropped_oversized_on_arrival` |
/// | `otelcol_exporter_enqueue_failed_spans_total` | counter | `dropped_queue_full + dropped_shutdown + dropped_oversized_on_arrival` |
/// | `otelcol_exporter_queue_size` | gauge | `queued` (in spans; the Collector's default sizer counts requests) |
/// | `otelcol_exporter_queue_capacity` | gauge | `queue_capacity` (spans), only when the count is capped |
///
/// # Log pipelines
///
/// The tables name a span pipeline's metrics. A pipeline added with
/// [`pipeline_for`](Self::pipeline_for) is named after its signal's records,
/// as the conventions and the Collector name them; the families without a
/// record in their name (`otlp_sdk_queue_size_bytes`,
/// `otlp_sdk_export_duration_seconds`, `otelcol_exporter_queue_size`, …) are
/// shared, each written once with the samples of every pipeline. For
/// [`Signal::Logs`] (a [`BatchLogProcessor`](otlp_sdk::BatchLogProcessor)'s
/// stats):
///
/// | span pipeline | log pipeline |
/// |---|---|
/// | `otel_sdk_processor_span_processed_total` | `otel_sdk_processor_log_processed_total` |
/// | `otel_sdk_processor_span_queue_size` | `otel_sdk_processor_log_queue_size` |
/// | `otel_sdk_processor_span_queue_capacity` | `otel_sdk_processor_log_queue_capacity` |
/// | `otel_sdk_exporter_span_exported_total` | `otel_sdk_exporter_log_exported_total` |
/// | `otel_sdk_exporter_span_inflight` | `otel_sdk_exporter_log_inflight` |
/// | `otlp_sdk_spans_produced_total` | `otlp_sdk_log_records_produced_total` |
/// | `otlp_sdk_spans_on_disk` | `otlp_sdk_log_records_on_disk` |
/// | `otlp_sdk_export_batch_size_spans` | `otlp_sdk_export_batch_size_log_records` |
/// | `otelcol_exporter_sent_spans_total` | `otelcol_exporter_sent_log_records_total` |
/// | `otelcol_exporter_send_failed_spans_total` | `otelcol_exporter_send_failed_log_records_total` |
/// | `otelcol_exporter_enqueue_failed_spans_total` | `otelcol_exporter_enqueue_failed_log_records_total` |
///
/// ```
/// use otlp_contrib::metrics::{Exposition, Labels};
/// use otlp_sdk::{Signal, StatsSnapshot};
///
/// let logs = StatsSnapshot { produced: 4, exported: 4, ..Default::default() };
/// let text = Exposition::new()
///     .pipeline(Labels::new([("pipeline", "spans")])?, StatsSnapshot::default())
///     .pipeline_for(Signal::Logs, Labels::new([("pipeline", "logs")])?, logs)
///     .render();
/// assert!(text.contains("otel_sdk_exporter_log_exported_total{pipeline=\"logs\"} 4\n"));
/// assert!(text.contains("otel_sdk_exporter_span_exported_total{pipeline=\"spans\"} 0\n"));
/// // A shared family, once, with both pipelines.
/// assert_eq!(text.matches("# TYPE otlp_sdk_queue_capacity_bytes gauge").count(), 1);
/// assert!(text.contains("otlp_sdk_queue_capacity_bytes{pipeline=\"logs\"} 0\n"));
/// # Ok::<(), otlp_contrib::metrics::MetricsError>(())
/// ```
///
/// Cost: rendering allocates one `String` of a few kilobytes per pipeline.
///
/// ```
/// use otlp_contrib::metrics::{Exposition, Labels};
/// use otlp_sdk::StatsSnapshot;
///
/// let checkout = StatsSnapshot { produced: 10, exported: 7, dropped: 3, dropped_queue_full: 3, ..Default::default() };
/// let audit = StatsSnapshot::default();
/// let text = Exposition::new()
///     .with_collector_names(true)
///     .pipeline(Labels::new([("pipeline", "checkout")])?, checkout)
///     .pipeline(Labels::new([("pipeline", "audit")])?, audit)
///     .render();
/// assert!(text.contains("otel_sdk_exporter_span_exported_total{pipeline=\"checkout\"} 7\n"));
/// assert!(text.contains("otel_sdk_processor_span_processed_total{pipeline=\"checkout\",error_type=\"queue_full\"} 3\n"));
/// assert!(text.contains("otelcol_exporter_sent_spans_total{pipeline=\"audit\"} 0\n"));
/// # Ok::<(), otlp_contrib::metrics::MetricsError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Exposition {
    pipelines: Vec<Pipeline>,
    collector_names: bool,
}

/// One pipeline of an [`Exposition`].
#[derive(Clone, Debug)]
struct Pipeline {
    signal: Signal,
    labels: Labels,
    stats: StatsSnapshot,
}

impl Exposition {
    /// An exposition with no pipelines and the Collector names off.
    pub fn new() -> Self {
        Exposition::default()
    }

    /// Also writes the Collector's `otelcol_exporter_*` metrics (default off).
    pub fn with_collector_names(mut self, on: bool) -> Self {
        self.collector_names = on;
        self
    }

    /// Adds a span pipeline ([`pipeline_for`](Self::pipeline_for) with
    /// [`Signal::Traces`]); one with the same labels as an earlier one
    /// replaces it.
    pub fn pipeline(self, labels: Labels, stats: StatsSnapshot) -> Self {
        self.pipeline_for(Signal::Traces, labels, stats)
    }

    /// Adds a pipeline of `signal`, whose metrics are named after its records
    /// (see "Log pipelines" above); one with the same labels as an earlier
    /// one replaces it, whatever the signals (the families the signals share
    /// would otherwise hold its series twice): give pipelines of different
    /// signals labels of their own.
    pub fn pipeline_for(mut self, signal: Signal, labels: Labels, stats: StatsSnapshot) -> Self {
        let pipeline = Pipeline {
            signal,
            labels,
            stats,
        };
        match self
            .pipelines
            .iter_mut()
            .find(|known| known.labels.same_set(&pipeline.labels))
        {
            Some(existing) => *existing = pipeline,
            None => self.pipelines.push(pipeline),
        }
        self
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096 * self.pipelines.len().max(1));
        self.render_into(&mut out);
        out
    }

    /// Appends the text exposition to `out`.
    pub fn render_into(&self, out: &mut String) {
        let mut families = FAMILIES.to_vec();
        if self.collector_names {
            families.extend_from_slice(&COLLECTOR_FAMILIES);
        }
        // The signals present, in order of first appearance (spans when
        // there is no pipeline, so that the families are still described).
        let mut signals: Vec<Signal> = Vec::new();
        for pipeline in &self.pipelines {
            if !signals.contains(&pipeline.signal) {
                signals.push(pipeline.signal);
            }
        }
        if signals.is_empty() {
            signals.push(Signal::Traces);
        }
        // A family whose name has no record word is the same family for
        // every signal: written once, with the samples of every pipeline.
        let mut written: Vec<String> = Vec::new();
        for signal in signals {
            let words = Words::of(signal);
            for family in &families {
                let name = words.fill(family.name);
                if written.contains(&name) {
                    continue;
                }
                let help = words.fill(family.help);
                let _ = writeln!(out, "# HELP {name} {help}");
                let _ = writeln!(out, "# TYPE {name} {}", family.kind.as_str());
                for pipeline in &self.pipelines {
                    if Words::of(pipeline.signal).fill(family.name) != name {
                        continue;
                    }
                    (family.samples)(&mut Samples {
                        out,
                        name: &name,
                        labels: &pipeline.labels,
                        stats: &pipeline.stats,
                    });
                }
                written.push(name);
            }
        }
    }
}

/// The exposition of one pipeline's stats: [`Exposition`] with one pipeline
/// and the Collector names off. See [`Exposition`] for every metric.
///
/// ```
/// use otlp_contrib::metrics::{render_prometheus, Labels};
/// use otlp_sdk::StatsSnapshot;
///
/// let stats = StatsSnapshot { produced: 5, exported: 5, ..Default::default() };
/// let text = render_prometheus(&stats, &Labels::none());
/// assert!(text.contains("# TYPE otel_sdk_exporter_span_exported_total counter\n"));
/// assert!(text.contains("\notel_sdk_exporter_span_exported_total 5\n"));
/// ```
pub fn render_prometheus(stats: &StatsSnapshot, labels: &Labels) -> String {
    Exposition::new()
        .pipeline(labels.clone(), stats.clone())
        .render()
}

/// The words a signal's metric names and help texts use for its records;
/// [`fill`](Self::fill) puts them in place of the placeholders of a
/// [`Family`]'s name and help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Words {
    /// `{component}`: the SDK semantic conventions' component (`span`, `log`,
    /// `metric_data_point`).
    component: &'static str,
    /// `{records}`: the records in `otlp_sdk_` names (`spans`, `log_records`).
    records: &'static str,
    /// `{collector}`: the records in the Collector's names (`spans`,
    /// `log_records`, `metric_points`).
    collector: &'static str,
    /// `{text}`: the records in help texts (`spans`, `log records`).
    text: &'static str,
    /// `{Text}`: the same at the start of a sentence (`Spans`, `Log records`).
    title: &'static str,
}

impl Words {
    const SPANS: Words = Words {
        component: "span",
        records: "spans",
        collector: "spans",
        text: "spans",
        title: "Spans",
    };

    fn of(signal: Signal) -> Words {
        match signal {
            Signal::Traces => Words::SPANS,
            Signal::Logs => Words {
                component: "log",
                records: "log_records",
                collector: "log_records",
                text: "log records",
                title: "Log records",
            },
            Signal::Metrics => Words {
                component: "metric_data_point",
                records: "data_points",
                collector: "metric_points",
                text: "data points",
                title: "Data points",
            },
            // A signal added later: neutral words, still valid names.
            _ => Words {
                component: "record",
                records: "records",
                collector: "records",
                text: "records",
                title: "Records",
            },
        }
    }

    /// `template` with every placeholder replaced.
    fn fill(self, template: &str) -> String {
        template
            .replace("{component}", self.component)
            .replace("{records}", self.records)
            .replace("{collector}", self.collector)
            .replace("{text}", self.text)
            .replace("{Text}", self.title)
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Summary,
}

impl Kind {
    const fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Summary => "summary",
        }
    }
}

/// One metric family: its metadata and how to write one pipeline's samples.
/// Name and help may hold [`Words`]' placeholders; a family whose name holds
/// none is shared by every signal, and so is its help (checked by a test).
#[derive(Clone, Copy)]
struct Family {
    name: &'static str,
    kind: Kind,
    /// Plain text: no backslash, no line break (checked by a test).
    help: &'static str,
    samples: fn(&mut Samples<'_>),
}

/// Writes the samples of one family for one pipeline.
struct Samples<'a> {
    out: &'a mut String,
    name: &'a str,
    labels: &'a Labels,
    stats: &'a StatsSnapshot,
}

impl Samples<'_> {
    /// `name{labels,extra} value`, with `suffix` appended to the name.
    fn write(&mut self, suffix: &str, extra: Option<(&str, &str)>, value: impl std::fmt::Display) {
        let out = &mut *self.out;
        out.push_str(self.name);
        out.push_str(suffix);
        let mut labels = self.labels.iter().chain(extra).peekable();
        if labels.peek().is_some() {
            out.push('{');
            for (index, (name, value)) in labels.enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(name);
                out.push_str("=\"");
                escape_label_value(out, value);
                out.push('"');
            }
            out.push('}');
        }
        let _ = writeln!(out, " {value}");
    }

    fn value(&mut self, value: u64) {
        self.write("", None, value);
    }

    fn error_type(&mut self, error_type: &str, value: u64) {
        self.write("", Some(("error_type", error_type)), value);
    }

    /// A sample with one more label, `name="value"`.
    fn labeled(&mut self, name: &str, value_of_label: &str, value: u64) {
        self.write("", Some((name, value_of_label)), value);
    }

    /// A quantile sample; `NaN` when the summary is empty.
    fn quantile(&mut self, quantile: &str, value: Option<f64>) {
        match value {
            Some(value) => self.write("", Some(("quantile", quantile)), value),
            None => self.write("", Some(("quantile", quantile)), "NaN"),
        }
    }
}

fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Spans taken from the queue into batches: every span past the queue.
fn taken(stats: &StatsSnapshot) -> u64 {
    stats.exported
        + stats.rejected
        + stats.failed
        + oversized_taken(stats)
        + stats.dropped_durable
        + stats.in_flight
}

/// Spans taken into a batch, then found larger than a request: the
/// oversized spans but those the queue refused as they arrived.
fn oversized_taken(stats: &StatsSnapshot) -> u64 {
    stats
        .dropped_oversized
        .saturating_sub(stats.dropped_oversized_on_arrival)
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

const FAMILIES: [Family; 16] = [
    Family {
        name: "otel_sdk_processor_{component}_processed_total",
        kind: Kind::Counter,
        help: "{Text} whose processing finished: handed on for export (no error_type) or dropped (error_type queue_full, oversized, already_shutdown).",
        samples: |s| {
            let stats = s.stats;
            s.value(taken(stats));
            s.error_type("queue_full", stats.dropped_queue_full);
            s.error_type("oversized", stats.dropped_oversized_on_arrival);
            s.error_type("already_shutdown", stats.dropped_shutdown);
        },
    },
    Family {
        name: "otel_sdk_processor_{component}_queue_size",
        kind: Kind::Gauge,
        help: "{Text} waiting in the batch processor's queue.",
        samples: |s| s.value(s.stats.queued),
    },
    Family {
        name: "otel_sdk_processor_{component}_queue_capacity",
        kind: Kind::Gauge,
        help: "{Text} the batch processor's queue can hold, when their count is capped.",
        samples: |s| {
            if s.stats.queue_capacity > 0 {
                s.value(s.stats.queue_capacity);
            }
        },
    },
    Family {
        name: "otlp_sdk_queue_size_bytes",
        kind: Kind::Gauge,
        help: "Bytes the queued records take, encoded.",
        samples: |s| s.value(s.stats.queued_bytes),
    },
    Family {
        name: "otlp_sdk_{records}_on_disk",
        kind: Kind::Gauge,
        help: "{Text} in flight whose record is on disk (the durable queue): waiting there or being exported from it.",
        samples: |s| s.value(s.stats.on_disk),
    },
    Family {
        name: "otlp_sdk_queue_capacity_bytes",
        kind: Kind::Gauge,
        help: "Bytes the queue may hold.",
        samples: |s| s.value(s.stats.queue_capacity_bytes),
    },
    Family {
        name: "otel_sdk_exporter_{component}_exported_total",
        kind: Kind::Counter,
        help: "{Text} whose export finished: accepted (no error_type), rejected by partial success, oversized (never sent) or failed.",
        samples: |s| {
            let stats = s.stats;
            s.value(stats.exported);
            s.error_type("rejected", stats.rejected);
            s.error_type("oversized", oversized_taken(stats));
            s.error_type("durable_queue", stats.dropped_durable);
            s.error_type("failed", stats.failed);
        },
    },
    Family {
        name: "otel_sdk_exporter_{component}_inflight",
        kind: Kind::Gauge,
        help: "{Text} taken for export whose export has not finished, retries included.",
        samples: |s| s.value(s.stats.in_flight),
    },
    Family {
        name: "otlp_sdk_{records}_produced_total",
        kind: Kind::Counter,
        help: "{Text} handed to the batch processor.",
        samples: |s| s.value(s.stats.produced),
    },
    Family {
        name: "otlp_sdk_record_bytes_produced_total",
        kind: Kind::Counter,
        help: "Encoded bytes of the records handed to the pipeline, once their length is known.",
        samples: |s| s.value(s.stats.bytes.produced),
    },
    Family {
        name: "otlp_sdk_record_bytes_settled_total",
        kind: Kind::Counter,
        help: "Encoded bytes of the records that reached a final state: answered by the backend (exported or rejected), dropped, or failed.",
        samples: |s| {
            let bytes = s.stats.bytes;
            s.labeled("outcome", "answered", bytes.answered);
            s.labeled("outcome", "dropped", bytes.dropped);
            s.labeled("outcome", "failed", bytes.failed);
        },
    },
    Family {
        name: "otlp_sdk_record_bytes_pending",
        kind: Kind::Gauge,
        help: "Encoded bytes of the records waiting in the queue or in flight.",
        samples: |s| {
            let bytes = s.stats.bytes;
            s.labeled("stage", "queued", bytes.queued);
            s.labeled("stage", "in_flight", bytes.in_flight);
        },
    },
    Family {
        name: "otlp_sdk_export_batches_total",
        kind: Kind::Counter,
        help: "Batches cut from the queue.",
        samples: |s| s.value(s.stats.batches),
    },
    Family {
        name: "otlp_sdk_export_retries_total",
        kind: Kind::Counter,
        help: "Export attempts retried.",
        samples: |s| s.value(s.stats.retries),
    },
    Family {
        name: "otlp_sdk_export_batch_size_{records}",
        kind: Kind::Summary,
        help: "{Text} per batch (quantile 0 is the smallest batch, 1 the largest).",
        samples: |s| {
            let size = s.stats.batch_size;
            let value = |v: u64| (size.count > 0).then_some(v as f64);
            s.quantile("0", value(size.min));
            s.quantile("0.5", value(size.p50));
            s.quantile("0.9", value(size.p90));
            s.quantile("0.99", value(size.p99));
            s.quantile("1", value(size.max));
            s.write("_sum", None, size.sum);
            s.write("_count", None, size.count);
        },
    },
    Family {
        name: "otlp_sdk_export_duration_seconds",
        kind: Kind::Summary,
        help: "Time from a batch's first export attempt to its final outcome, retries included (quantile 1 is the slowest).",
        samples: |s| {
            let latency = s.stats.export_latency;
            let value = |v: Duration| (latency.count > 0).then(|| seconds(v));
            s.quantile("0.5", value(latency.p50));
            s.quantile("0.9", value(latency.p90));
            s.quantile("0.99", value(latency.p99));
            s.quantile("1", value(latency.max));
            s.write("_sum", None, seconds(latency.sum));
            s.write("_count", None, latency.count);
        },
    },
];

const COLLECTOR_FAMILIES: [Family; 5] = [
    Family {
        name: "otelcol_exporter_sent_{collector}_total",
        kind: Kind::Counter,
        help: "Number of {text} successfully sent to destination.",
        samples: |s| s.value(s.stats.exported),
    },
    Family {
        name: "otelcol_exporter_send_failed_{collector}_total",
        kind: Kind::Counter,
        help: "Number of {text} in failed attempts to send to destination (failed, rejected or oversized).",
        samples: |s| {
            let stats = s.stats;
            s.value(stats.failed + stats.rejected + oversized_taken(stats));
        },
    },
    Family {
        name: "otelcol_exporter_enqueue_failed_{collector}_total",
        kind: Kind::Counter,
        help: "Number of {text} failed to be added to the sending queue (full, too large for it, or shut down).",
        samples: |s| {
            let stats = s.stats;
            s.value(
                stats.dropped_queue_full
                    + stats.dropped_shutdown
                    + stats.dropped_oversized_on_arrival,
            );
        },
    },
    Family {
        name: "otelcol_exporter_queue_size",
        kind: Kind::Gauge,
        help: "Current size of the sending queue, in records (spans, log records: the pipeline's).",
        samples: |s| s.value(s.stats.queued),
    },
    Family {
        name: "otelcol_exporter_queue_capacity",
        kind: Kind::Gauge,
        help: "Fixed capacity of the sending queue, in records (spans, log records: the pipeline's).",
        samples: |s| {
            if s.stats.queue_capacity > 0 {
                s.value(s.stats.queue_capacity);
            }
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_texts_need_no_escaping() {
        for family in FAMILIES.iter().chain(&COLLECTOR_FAMILIES) {
            assert!(
                !family.help.contains(['\\', '\n']),
                "{}: {}",
                family.name,
                family.help
            );
        }
    }

    #[test]
    fn shared_families_have_help_for_every_signal_and_names_are_filled() {
        let signals = [Signal::Traces, Signal::Logs, Signal::Metrics];
        for family in FAMILIES.iter().chain(&COLLECTOR_FAMILIES) {
            let names: Vec<String> = signals
                .iter()
                .map(|signal| Words::of(*signal).fill(family.name))
                .collect();
            let shared = names.iter().all(|name| *name == names[0]);
            if shared {
                assert!(
                    !family.help.contains('{'),
                    "{}: {}",
                    family.name,
                    family.help
                );
            } else {
                assert_eq!(
                    names.iter().collect::<std::collections::HashSet<_>>().len(),
                    signals.len(),
                    "{}",
                    family.name
                );
            }
            for signal in signals {
                let words = Words::of(signal);
                for text in [words.fill(family.name), words.fill(family.help)] {
                    assert!(!text.contains(['{', '}']), "{text}");
                }
                let name = words.fill(family.name);
                assert!(
                    name.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn label_values_are_escaped() {
        let labels = Labels::new([("path", "C:\\x \"y\"\nz")]).unwrap();
        let text = render_prometheus(&StatsSnapshot::default(), &labels);
        assert!(
            text.contains("otlp_sdk_spans_produced_total{path=\"C:\\\\x \\\"y\\\"\\nz\"} 0\n"),
            "{text}"
        );
    }

    #[test]
    fn label_names_are_checked() {
        for (bad, reason) in [
            ("", "must match"),
            ("1abc", "must match"),
            ("a-b", "must match"),
            ("é", "must match"),
            ("__name", "reserved by Prometheus"),
            ("quantile", "set by the exposition"),
            ("error_type", "set by the exposition"),
            ("outcome", "set by the exposition"),
            ("stage", "set by the exposition"),
        ] {
            let error = Labels::new([(bad, "v")]).unwrap_err();
            assert!(error.to_string().contains(reason), "{bad}: {error}");
            assert!(error.to_string().contains(&format!("`{bad}`")), "{error}");
        }
        let error = Labels::new([("a", "1"), ("a", "2")]).unwrap_err();
        assert!(error.to_string().contains("more than once"), "{error}");
        assert!(Labels::new([("_ok", ""), ("Ok_9", "x")]).is_ok());
    }

    #[test]
    fn a_pipeline_with_the_same_labels_replaces_the_earlier_one() {
        let labels = Labels::new([("p", "a")]).unwrap();
        let first = StatsSnapshot {
            produced: 1,
            ..Default::default()
        };
        let second = StatsSnapshot {
            produced: 2,
            ..Default::default()
        };
        let text = Exposition::new()
            .pipeline(labels.clone(), first)
            .pipeline(labels, second)
            .render();
        assert!(text.contains("otlp_sdk_spans_produced_total{p=\"a\"} 2\n"));
        assert_eq!(text.matches("otlp_sdk_spans_produced_total{").count(), 1);
    }
}
