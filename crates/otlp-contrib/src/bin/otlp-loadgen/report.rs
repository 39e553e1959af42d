//! What the user sees: the progress line while running and the final summary.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use otlp_sdk::config::{Config, FullPolicy};
use otlp_sdk::metrics::MetricsStats;
use otlp_sdk::{LatencySummary, StatsSnapshot};

use crate::args::Signal;
use otlp_sdk::config::redact_userinfo;

/// The progress line, every second on standard error: rewritten in place on a
/// terminal, one line per report otherwise (logs, CI).
pub struct Progress {
    enabled: bool,
    terminal: bool,
    started: Instant,
    last_at: Instant,
    last_sent: u64,
    printed: bool,
}

impl Progress {
    pub fn new(enabled: bool, terminal: bool, started: Instant) -> Self {
        Progress {
            enabled,
            terminal,
            started,
            last_at: started,
            last_sent: 0,
            printed: false,
        }
    }

    pub fn report(&mut self, stats: &StatsSnapshot) {
        let now = Instant::now();
        let interval = now.duration_since(self.last_at).as_secs_f64();
        let rate = per_second(stats.produced.saturating_sub(self.last_sent), interval);
        self.last_at = now;
        self.last_sent = stats.produced;
        if !self.enabled {
            return;
        }
        let line = format!(
            "{:.0}s sent={} exported={} dropped={} failed={} queued={} in_flight={} on_disk={} rate={:.0}/s",
            now.duration_since(self.started).as_secs_f64(),
            stats.produced,
            stats.exported,
            stats.dropped,
            stats.failed,
            stats.queued,
            stats.in_flight,
            stats.on_disk,
            rate,
        );
        self.print(&line);
    }

    /// The metrics pipeline's progress: `recordings` made so far.
    pub fn report_metrics(&mut self, recordings: u64, stats: &MetricsStats) {
        let now = Instant::now();
        let interval = now.duration_since(self.last_at).as_secs_f64();
        let rate = per_second(recordings.saturating_sub(self.last_sent), interval);
        self.last_at = now;
        self.last_sent = recordings;
        if !self.enabled {
            return;
        }
        let line = format!(
            "{:.0}s recordings={recordings} data_points_exported={} data_points_failed={} \
             data_points_rejected={} overflowed={} exports={} rate={rate:.0}/s",
            now.duration_since(self.started).as_secs_f64(),
            stats.exported_data_points,
            stats.failed_data_points,
            stats.rejected_data_points,
            stats.overflowed_measurements,
            stats.exports,
        );
        self.print(&line);
    }

    fn print(&mut self, line: &str) {
        if self.terminal {
            use std::io::Write as _;
            let _ = write!(std::io::stderr(), "\r\x1b[2Kotlp-loadgen: {line}");
        } else {
            note!("otlp-loadgen: {line}");
        }
        self.printed = true;
    }

    /// Ends the rewritten line on a terminal.
    pub fn finish(&mut self) {
        if self.enabled && self.terminal && self.printed {
            note!();
        }
    }
}

fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// The final report, once the pipeline has shut down.
pub struct Summary<'a> {
    pub config: &'a Config,
    /// Spans or log records.
    pub signal: Signal,
    pub workers: usize,
    pub stats: &'a StatsSnapshot,
    /// From the first span to the last worker ending.
    pub sent_in: Duration,
    /// From the first span to the end of shutdown (every span settled).
    pub elapsed: Duration,
    pub interrupted: bool,
    pub shutdown_error: Option<String>,
}

impl Summary<'_> {
    /// Whether every span (log record) sent was exported.
    pub fn all_delivered(&self) -> bool {
        self.stats.exported == self.stats.produced
    }

    fn unsettled(&self) -> u64 {
        self.stats.queued + self.stats.in_flight
    }

    fn spans_per_second(&self) -> f64 {
        per_second(self.stats.exported, self.elapsed.as_secs_f64())
    }

    fn send_rate(&self) -> f64 {
        per_second(self.stats.produced, self.sent_in.as_secs_f64())
    }

    fn endpoint(&self) -> String {
        endpoint(self.config, self.signal)
    }

    fn protocol(&self) -> &'static str {
        exporter(self.config, self.signal).protocol.as_str()
    }

    /// What is counted, in the plural: `spans` or `log records`.
    fn records(&self) -> &'static str {
        match self.signal {
            Signal::Traces => "spans",
            Signal::Logs => "log records",
            Signal::Metrics => "recordings",
        }
    }

    /// What bounds the queue: its byte budget, and the count cap when one is
    /// set (`queue_capacity` is 0 without one).
    fn queue_bounds(&self) -> String {
        let bytes = self.stats.queue_capacity_bytes;
        match self.stats.queue_capacity {
            0 => format!("{bytes} bytes"),
            count => format!("{count} {} or {bytes} bytes", self.records()),
        }
    }

    /// What to do about drops at a full queue, by the policy that dropped them.
    fn full_queue_hint(&self) -> &'static str {
        let batch = match self.signal {
            Signal::Logs => &self.config.logs.batch,
            Signal::Traces | Signal::Metrics => &self.config.batch,
        };
        match batch.full_policy {
            FullPolicy::Drop => "lower --rate, raise --queue-size, or use --full-policy block",
            // Blocking producers drop only when the pipeline is stalled.
            FullPolicy::Block(_) => {
                "the pipeline stalled (exports failing and retried, or unanswered for a whole \
                 --timeout; see the last export error), and producers stop waiting for a \
                 stalled pipeline: check the endpoint, or lower --rate"
            }
        }
    }

    /// The summary line, a details line, and notes on anything that went wrong.
    pub fn text(&self) -> String {
        let stats = self.stats;
        let latency = stats.export_latency;
        let rate_name = match self.signal {
            Signal::Traces => "spans/s",
            Signal::Logs => "records/s",
            Signal::Metrics => "recordings/s",
        };
        let mut text = format!(
            "sent={} exported={} dropped={} failed={} rejected={} elapsed={:.3}s {rate_name}={:.1}\n",
            stats.produced,
            stats.exported,
            stats.dropped,
            stats.failed,
            stats.rejected,
            self.elapsed.as_secs_f64(),
            self.spans_per_second(),
        );
        let _ = writeln!(
            text,
            "details: signal={} protocol={} endpoint={} workers={} send_time={:.3}s send_rate={:.1}/s \
             batches={} retries={} export_p50={} export_p99={} \
             dropped_queue_full={} dropped_shutdown={} unsettled={}",
            self.signal.as_str(),
            self.protocol(),
            self.endpoint(),
            self.workers,
            self.sent_in.as_secs_f64(),
            self.send_rate(),
            stats.batches,
            stats.retries,
            latency_text(&latency, latency.p50),
            latency_text(&latency, latency.p99),
            stats.dropped_queue_full,
            stats.dropped_shutdown,
            self.unsettled(),
        );
        if stats.dropped_queue_full > 0 {
            let _ = writeln!(
                text,
                "note: {} {} were dropped because the queue ({}) was full: {}",
                stats.dropped_queue_full,
                self.records(),
                self.queue_bounds(),
                self.full_queue_hint(),
            );
        }
        if self.interrupted {
            let one = match self.signal {
                Signal::Traces => "span",
                Signal::Logs => "log record",
                Signal::Metrics => "recording",
            };
            let _ = writeln!(text, "note: interrupted before every {one} was sent");
        }
        if let Some(error) = &self.shutdown_error {
            let _ = writeln!(text, "note: shutdown: {error}");
        }
        if let Some(error) = &stats.last_error {
            let _ = writeln!(text, "note: last export error: {error}");
        }
        text
    }

    /// The summary as one JSON object (no line break). The keys are the same
    /// for both signals, counting spans or log records, with `signal` saying
    /// which; `spans_per_second` is only there for traces,
    /// `records_per_second` for both.
    pub fn json(&self) -> String {
        let stats = self.stats;
        let latency = stats.export_latency;
        let mut json = String::from("{");
        let mut field = |name: &str, value: &str| json_field(&mut json, name, value);
        field("signal", &text(self.signal.as_str()));
        field("protocol", &text(self.protocol()));
        field("endpoint", &text(&self.endpoint()));
        field("workers", &self.workers.to_string());
        field("sent", &stats.produced.to_string());
        field("exported", &stats.exported.to_string());
        field("dropped", &stats.dropped.to_string());
        field("failed", &stats.failed.to_string());
        field("rejected", &stats.rejected.to_string());
        field("unsettled", &self.unsettled().to_string());
        field("elapsed_seconds", &number(self.elapsed.as_secs_f64()));
        if self.signal == Signal::Traces {
            field("spans_per_second", &number(self.spans_per_second()));
        }
        field("records_per_second", &number(self.spans_per_second()));
        field("send_seconds", &number(self.sent_in.as_secs_f64()));
        field("send_rate", &number(self.send_rate()));
        field("batches", &stats.batches.to_string());
        field("retries", &stats.retries.to_string());
        field("dropped_queue_full", &stats.dropped_queue_full.to_string());
        field("dropped_oversized", &stats.dropped_oversized.to_string());
        field("dropped_shutdown", &stats.dropped_shutdown.to_string());
        field(
            "export_latency_p50_seconds",
            &latency_number(&latency, latency.p50),
        );
        field(
            "export_latency_p99_seconds",
            &latency_number(&latency, latency.p99),
        );
        field(
            "export_latency_max_seconds",
            &latency_number(&latency, latency.max),
        );
        field("interrupted", &self.interrupted.to_string());
        field("all_delivered", &self.all_delivered().to_string());
        field("shutdown_error", &optional(self.shutdown_error.as_ref()));
        field("last_error", &optional(stats.last_error.as_ref()));
        json.push('}');
        json
    }
}

/// The final report of `--signal metrics`, once the meter provider has shut
/// down (its last collection exported).
pub struct MetricsSummary<'a> {
    pub config: &'a Config,
    pub workers: usize,
    /// Recordings made (each one counter add and one histogram record).
    pub recordings: u64,
    /// Distinct attribute sets the recordings were spread over: at most
    /// `--series`, fewer when there were fewer recordings.
    pub series: usize,
    pub stats: &'a MetricsStats,
    /// From the first recording to the last worker ending.
    pub sent_in: Duration,
    /// From the first recording to the end of shutdown.
    pub elapsed: Duration,
    pub interrupted: bool,
    pub shutdown_error: Option<String>,
}

impl MetricsSummary<'_> {
    /// Whether every data point collected was exported: none failed or was
    /// rejected, shutdown settled, and recordings made some data points —
    /// unless the configuration turned metrics off (`OTEL_METRICS_EXPORTER=none`,
    /// `OTEL_SDK_DISABLED`), where recordings make none and nothing is lost,
    /// as a span or log run records none then.
    pub fn all_delivered(&self) -> bool {
        let stats = self.stats;
        let disabled = self.config.is_disabled(otlp_sdk::Signal::Metrics);
        stats.failed_data_points == 0
            && stats.rejected_data_points == 0
            && self.shutdown_error.is_none()
            && (self.recordings == 0 || stats.exported_data_points > 0 || disabled)
    }

    fn recordings_per_second(&self) -> f64 {
        per_second(self.recordings, self.sent_in.as_secs_f64())
    }

    /// The summary line, a details line, and notes on anything that went wrong.
    pub fn text(&self) -> String {
        let stats = self.stats;
        let mut text = format!(
            "recordings={} series={} data_points_exported={} data_points_failed={} \
             data_points_rejected={} overflowed={} elapsed={:.3}s recordings/s={:.1}\n",
            self.recordings,
            self.series,
            stats.exported_data_points,
            stats.failed_data_points,
            stats.rejected_data_points,
            stats.overflowed_measurements,
            self.elapsed.as_secs_f64(),
            self.recordings_per_second(),
        );
        let _ = writeln!(
            text,
            "details: signal=metrics protocol={} endpoint={} workers={} send_time={:.3}s \
             exports={} retries={} collections={} export_interval={:.3}s",
            exporter(self.config, Signal::Metrics).protocol.as_str(),
            endpoint(self.config, Signal::Metrics),
            self.workers,
            self.sent_in.as_secs_f64(),
            stats.exports,
            stats.retries,
            stats.collections,
            self.config.metrics.export_interval.as_secs_f64(),
        );
        if stats.overflowed_measurements > 0 {
            let _ = writeln!(
                text,
                "note: {} measurements went to the overflow series ({}=true): --series {} is \
                 above the cardinality limit ({} series per instrument, then the overflow \
                 series; OTLP__METRICS__CARDINALITY_LIMIT)",
                stats.overflowed_measurements,
                otlp_sdk::metrics::OVERFLOW_ATTRIBUTE,
                self.series,
                self.config.metrics.cardinality_limit,
            );
        }
        if self.interrupted {
            let _ = writeln!(text, "note: interrupted before every recording was made");
        }
        if let Some(error) = &self.shutdown_error {
            let _ = writeln!(text, "note: shutdown: {error}");
        }
        if let Some(error) = &stats.last_error {
            let _ = writeln!(text, "note: last export error: {error}");
        }
        text
    }

    /// The summary as one JSON object (no line break): `signal` is
    /// `metrics`, and the counts are of recordings and data points.
    pub fn json(&self) -> String {
        let stats = self.stats;
        let mut json = String::from("{");
        let mut field = |name: &str, value: &str| json_field(&mut json, name, value);
        field("signal", &text(Signal::Metrics.as_str()));
        field(
            "protocol",
            &text(exporter(self.config, Signal::Metrics).protocol.as_str()),
        );
        field("endpoint", &text(&endpoint(self.config, Signal::Metrics)));
        field("workers", &self.workers.to_string());
        field("recordings", &self.recordings.to_string());
        field("series", &self.series.to_string());
        field(
            "data_points_exported",
            &stats.exported_data_points.to_string(),
        );
        field("data_points_failed", &stats.failed_data_points.to_string());
        field(
            "data_points_rejected",
            &stats.rejected_data_points.to_string(),
        );
        field(
            "overflowed_measurements",
            &stats.overflowed_measurements.to_string(),
        );
        field("exports", &stats.exports.to_string());
        field("retries", &stats.retries.to_string());
        field("collections", &stats.collections.to_string());
        field(
            "export_interval_seconds",
            &number(self.config.metrics.export_interval.as_secs_f64()),
        );
        field("elapsed_seconds", &number(self.elapsed.as_secs_f64()));
        field("send_seconds", &number(self.sent_in.as_secs_f64()));
        field("send_rate", &number(self.recordings_per_second()));
        field("interrupted", &self.interrupted.to_string());
        field("all_delivered", &self.all_delivered().to_string());
        field("shutdown_error", &optional(self.shutdown_error.as_ref()));
        field("last_error", &optional(stats.last_error.as_ref()));
        json.push('}');
        json
    }
}

/// The exporter settings of `signal`.
fn exporter(config: &Config, signal: Signal) -> &otlp_sdk::config::ExporterConfig {
    match signal {
        Signal::Traces => &config.exporter,
        Signal::Logs => &config.logs.exporter,
        Signal::Metrics => &config.metrics.exporter,
    }
}

/// Where `signal` goes, without credentials.
fn endpoint(config: &Config, signal: Signal) -> String {
    redact_userinfo(&exporter(config, signal).endpoint_for(signal.sdk()))
}

/// Appends `"name":value` to an object being written (after a comma unless
/// it is the first field).
fn json_field(json: &mut String, name: &str, value: &str) {
    if json.len() > 1 {
        json.push(',');
    }
    json_string(json, name);
    json.push(':');
    json.push_str(value);
}

/// `value` as a JSON string.
fn text(value: &str) -> String {
    let mut out = String::new();
    json_string(&mut out, value);
    out
}

/// `value` as a JSON string, or `null`.
fn optional(value: Option<&String>) -> String {
    value.map_or("null".to_owned(), |v| text(v))
}

/// A percentile of the export latency in milliseconds, or `n/a` when no
/// export ended (an empty summary's 0 would read as exports answered at once).
fn latency_text(latency: &LatencySummary, percentile: Duration) -> String {
    if latency.count == 0 {
        "n/a".to_owned()
    } else {
        format!("{:.1}ms", millis(percentile))
    }
}

/// A percentile of the export latency in seconds as JSON, `null` when no
/// export ended.
fn latency_number(latency: &LatencySummary, percentile: Duration) -> String {
    if latency.count == 0 {
        "null".to_owned()
    } else {
        number(percentile.as_secs_f64())
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A finite JSON number (rates and durations are never NaN or infinite here,
/// but a bad value must not make the line invalid).
fn number(value: f64) -> String {
    if value.is_finite() {
        format!("{value}")
    } else {
        "null".to_owned()
    }
}

fn json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_endpoint_are_not_printed() {
        assert_eq!(
            redact_userinfo("https://user:pw@collector:4318/v1/traces"),
            "https://<redacted>@collector:4318/v1/traces"
        );
        assert_eq!(
            redact_userinfo("http://collector:4318/v1/traces?a=b@c"),
            "http://collector:4318/v1/traces?a=b@c"
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        json_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
    }
}
