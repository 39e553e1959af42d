//! The quickstart: spans, log records correlated with them, and request
//! metrics, through the whole pipeline to a collector, and a report.
//!
//! Configuration is the standard one ([`ConfigLoader`]): with neither
//! `OTEL_EXPORTER_OTLP_ENDPOINT` nor `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
//! set, an embedded receiver starts on a free loopback port and the spans go
//! there over `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf` by default,
//! `grpc`, or `http/json`); otherwise they go to the collector named. Log
//! records go through their own pipeline (`config.logs`: the same variables,
//! under the `OTEL_EXPORTER_OTLP_LOGS_*` and `OTEL_BLRP_*` ones), to the
//! receiver likewise unless `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` names a collector (a signal's own
//! endpoint sends that signal alone elsewhere); each one is emitted inside a
//! span and carries its trace and span ids.
//! Each request is also counted (`quickstart.requests`, a counter with its
//! `http.route`) and timed (`quickstart.request.duration`, a histogram in ms)
//! inside its server span, so sampled requests become exemplars; a
//! `PeriodicReader` exports them through the metrics pipeline
//! (`config.metrics`: `OTEL_EXPORTER_OTLP_METRICS_*`, `OTEL_METRIC_EXPORT_*`)
//! likewise (the receiver unless `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` names a collector), and once more
//! at shutdown. `OTEL_TRACES_EXPORTER`,
//! `OTEL_LOGS_EXPORTER` and `OTEL_METRICS_EXPORTER` send a signal to the
//! console (`console`) or turn it off (`none`) instead; the report then
//! names that instead of an endpoint, and the receiver does not count it.
//! With nothing produced at all (every signal off, or the spans sampled out
//! and the others off), the report says first that nothing was sent, and why.
//!
//! [`run_until`] stops producing once its [`StopRequest`] is made (the
//! quickstart's first SIGINT or SIGTERM,
//! [`stop_on_signals`](crate::interrupt::stop_on_signals)) and still shuts
//! the pipelines down within their deadlines and reports, saying it was
//! interrupted and by which signal.

use std::ffi::OsString;
use std::fmt;
use std::num::{IntErrorKind, ParseIntError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otlp_contrib::pipeline::{build_log_processor, build_processor, metric_exporter_from_config};
use otlp_contrib::receiver::{render_logs, render_metrics, render_traces};
use otlp_core::{KeyValue, LogRecord, Severity, SpanKind, Status};
use otlp_sdk::config::{
    Config, ConfigLoader, ConfigOrigins, ConfigSource, ExporterKind, NO_TIMEOUT, redact_userinfo,
};
use otlp_sdk::metrics::{Counter, Histogram, MeterProvider, MetricsStats, PeriodicReader};
use otlp_sdk::{
    Logger, LoggerProvider, Signal, Span, StatsSnapshot, Tracer, TracerProvider, active_span,
};

use crate::collector::EmbeddedCollector;
use crate::interrupt::{StopRequest, StopSignal};

/// Spans per generated trace: a server span with four children.
const SPANS_PER_TRACE: u64 = 5;
/// Measurements per request: one on the counter, one on the histogram.
const RECORDINGS_PER_REQUEST: u64 = 2;
/// The route of every request, as the spans and the metrics carry it.
const ROUTE: &str = "/checkout/{cart}";
/// How long a pipeline's shutdown may take when its export timeout is 0
/// (`OTEL_BSP_EXPORT_TIMEOUT`, `OTEL_BLRP_EXPORT_TIMEOUT`,
/// `OTEL_METRIC_EXPORT_TIMEOUT`: no limit): the quickstart still ends.
const UNLIMITED_SHUTDOWN_CAP: Duration = Duration::from_secs(60);

/// The deadline of a pipeline's shutdown for its configured export
/// `timeout`: the timeout, or [`UNLIMITED_SHUTDOWN_CAP`] for "no limit"
/// (stored as [`NO_TIMEOUT`] by the configuration loader, or zero when set
/// in code). The microservices example's too.
pub(crate) fn shutdown_deadline(timeout: Duration) -> Duration {
    if timeout.is_zero() || timeout >= NO_TIMEOUT {
        UNLIMITED_SHUTDOWN_CAP
    } else {
        timeout
    }
}

/// What the quickstart was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Spans to send.
    pub spans: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { spans: 100_000 }
    }
}

/// A command-line argument the quickstart does not understand.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsageError {
    /// `--help` was asked for.
    #[error("{USAGE}")]
    Help,
    /// An argument is unknown, missing its value, or has a bad value.
    #[error("{0}\n\n{USAGE}")]
    Invalid(String),
}

const USAGE: &str = "usage: cargo run --release --example quickstart [-- --spans N]

Sends N spans (default 100000, at least 1), log records correlated with them
(two per request: one in the server span, one in its authentication span),
and metrics of the requests (a counter and a duration histogram) through the
otlp-rust pipelines. Without OTEL_EXPORTER_OTLP_ENDPOINT an embedded OTLP
receiver on loopback receives them; OTEL_EXPORTER_OTLP_PROTOCOL picks grpc,
http/protobuf or http/json. The last line printed is a JSON summary; the
exit status is 0 only if every span, every log record and every metric data
point was delivered (with every signal turned off nothing is sent: the
report says so, and the status is 0), 1 if some were not, 2 if the
quickstart could not run, 130 if Ctrl-C (SIGINT) stopped it, 143 if SIGTERM
did: the first signal stops sending, shuts down as usual and reports; a
second quits at once.";

impl Options {
    /// Parses `--spans N` (also `--spans=N`; N at least 1) and `--help`.
    /// Takes `std::env::args_os()` (without the program's name): an
    /// argument that is not UTF-8 is a usage error, where `std::env::args()`
    /// would panic.
    pub fn parse<T: Into<OsString>>(args: impl IntoIterator<Item = T>) -> Result<Self, UsageError> {
        let mut options = Options::default();
        let mut args = args.into_iter().map(|arg| arg.into().into_string());
        while let Some(arg) = args.next() {
            let arg = arg.map_err(|arg| {
                UsageError::Invalid(format!("argument {arg:?} is not valid UTF-8"))
            })?;
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            match flag.as_str() {
                "-h" | "--help" => return Err(UsageError::Help),
                "--spans" => {
                    let value = match inline.map(Ok).or_else(|| args.next()) {
                        Some(Ok(value)) => value,
                        Some(Err(value)) => {
                            return Err(UsageError::Invalid(format!(
                                "--spans {value:?} is not valid UTF-8"
                            )));
                        }
                        None => return Err(UsageError::Invalid("--spans needs a number".into())),
                    };
                    options.spans = value.parse().map_err(|error: ParseIntError| {
                        UsageError::Invalid(match error.kind() {
                            IntErrorKind::PosOverflow => {
                                format!("--spans {value:?} is more than the most, {}", u64::MAX)
                            }
                            _ => format!("--spans {value:?} is not a whole number"),
                        })
                    })?;
                    // Nothing sent would be "everything delivered", exit 0.
                    if options.spans == 0 {
                        return Err(UsageError::Invalid(format!(
                            "--spans {value:?}: give at least 1 span"
                        )));
                    }
                }
                other => return Err(UsageError::Invalid(format!("unknown argument {other:?}"))),
            }
        }
        Ok(options)
    }
}

/// What happened, for the report.
#[derive(Clone, Debug)]
pub struct Report {
    /// The protocol the spans went over (empty when spans are not exported
    /// over OTLP).
    pub protocol: String,
    /// The protocol the log records went over (empty when they are not
    /// exported over OTLP).
    pub logs_protocol: String,
    /// The protocol the metrics went over (empty when they are not exported
    /// over OTLP).
    pub metrics_protocol: String,
    /// Why nothing was sent, when no span, log record or metric data point
    /// was produced (every signal turned off, or the spans sampled out and
    /// the other signals off); `None` when something was.
    pub nothing_sent: Option<String>,
    /// Spans asked for (`--spans`).
    pub spans_requested: u64,
    /// Spans started, sampled or not: those asked for, unless the run was
    /// interrupted.
    pub spans_started: u64,
    /// Whether the run was stopped (by SIGINT or SIGTERM) before it started
    /// every span asked for; what it had made was still shut down and
    /// reported.
    pub interrupted: bool,
    /// The signal that stopped the run, when it was [`interrupted`](Self::interrupted)
    /// by one.
    pub interrupted_by: Option<StopSignal>,
    /// Where the spans went (the endpoint's user-info `<redacted>`).
    pub endpoint: String,
    /// Whether that was the embedded receiver.
    pub embedded: bool,
    /// From the first span to the end of shutdown.
    pub elapsed: Duration,
    /// The span pipeline's final accounting.
    pub stats: StatsSnapshot,
    /// Spans the embedded receiver got (`None` for an external collector).
    pub received: Option<u64>,
    /// Where the log records went (user-info `<redacted>`).
    pub logs_endpoint: String,
    /// The log pipeline's final accounting.
    pub log_stats: StatsSnapshot,
    /// Log records the embedded receiver got (`None` when they went to an
    /// external collector).
    pub received_logs: Option<u64>,
    /// A sample trace as the receiver saw it, drawn as a tree.
    pub sample_trace: Option<String>,
    /// The sample trace's log records as the receiver saw them, one line each.
    pub sample_logs: Option<String>,
    /// The sample trace's spans, as received.
    pub sample_spans_received: Option<ExportTraceServiceRequest>,
    /// The sample trace's log records (those carrying its trace id), as received.
    pub sample_logs_received: Option<ExportLogsServiceRequest>,
    /// Where the metrics went (user-info `<redacted>`).
    pub metrics_endpoint: String,
    /// Measurements made: a counter add and a histogram record per request.
    pub recordings: u64,
    /// The metrics pipeline's final accounting, in data points.
    pub metric_stats: MetricsStats,
    /// Metric data points the embedded receiver got (`None` when they went
    /// to an external collector).
    pub received_data_points: Option<u64>,
    /// The last metrics request the embedded receiver got (shutdown's
    /// collection), as received.
    pub metrics_received: Option<ExportMetricsServiceRequest>,
    /// The same, one line per data point.
    pub sample_metrics: Option<String>,
    /// An error from shutdown, if any.
    pub shutdown_error: Option<String>,
}

impl Report {
    /// Whether every span, every log record and every metric data point was
    /// delivered (and, with the embedded receiver, received).
    pub fn all_delivered(&self) -> bool {
        delivered(&self.stats, self.received)
            && delivered(&self.log_stats, self.received_logs)
            && self.metrics_delivered()
    }

    /// Every data point handed to export was exported (none failed, was
    /// rejected or was still in flight when shutdown gave up on it), the
    /// recordings made some, and the embedded receiver (when it was the
    /// target) got every one exported.
    fn metrics_delivered(&self) -> bool {
        let stats = &self.metric_stats;
        stats.failed_data_points == 0
            && stats.rejected_data_points == 0
            && stats.in_flight_data_points == 0
            && (self.recordings == 0 || stats.exported_data_points > 0)
            && self
                .received_data_points
                .is_none_or(|received| received == stats.exported_data_points)
    }

    /// The summary line. `produced`, `exported`, `dropped`, `failed`,
    /// `rejected`, `unsettled` (the five add up to `produced`) and `received`
    /// (when the embedded receiver got them) count spans, as before logs were
    /// added; `spans` and `logs` hold the same counts per signal, each with
    /// `bytes`, the same account in the records' encoded bytes;
    /// `metrics` the recordings made and the data points produced (handed
    /// to export), exported, failed, rejected, unsettled (in flight after
    /// shutdown: none since a shutdown out of time counts them failed; the
    /// four add up to produced) (and received); `all_delivered` says whether
    /// every record was delivered (the exit status is 0 if so, unless
    /// `interrupted`); `nothing_sent`, that nothing was produced to send;
    /// `interrupted`, that a signal (SIGINT or SIGTERM) stopped the run early.
    pub fn json_summary(&self) -> String {
        let spans = counts(&self.stats, self.received);
        let mut summary = spans.clone();
        summary["spans"] = spans;
        summary["logs"] = counts(&self.log_stats, self.received_logs);
        let metrics = &self.metric_stats;
        summary["metrics"] = serde_json::json!({
            "recordings": self.recordings,
            "data_points_produced": metrics.produced_data_points,
            "data_points_exported": metrics.exported_data_points,
            "data_points_failed": metrics.failed_data_points,
            "data_points_rejected": metrics.rejected_data_points,
            "data_points_unsettled": metrics.in_flight_data_points,
        });
        if let Some(received) = self.received_data_points {
            summary["metrics"]["data_points_received"] = received.into();
        }
        summary["all_delivered"] = self.all_delivered().into();
        summary["nothing_sent"] = self.nothing_sent.is_some().into();
        summary["interrupted"] = self.interrupted.into();
        summary.to_string()
    }
}

/// Every record produced was exported, and received when that is known.
fn delivered(stats: &StatsSnapshot, received: Option<u64>) -> bool {
    stats.produced == stats.exported && received.is_none_or(|received| received == stats.exported)
}

/// One signal's counts for the JSON summary: `produced` is the sum of
/// `exported`, `dropped`, `failed`, `rejected` (by the backend, in partial
/// successes) and `unsettled` (still queued or in flight after shutdown: left
/// on disk with the durable queue). `bytes` is the same account in the
/// records' encoded bytes (`answered`: exported and rejected records).
fn counts(stats: &StatsSnapshot, received: Option<u64>) -> serde_json::Value {
    let bytes = &stats.bytes;
    let mut counts = serde_json::json!({
        "produced": stats.produced,
        "exported": stats.exported,
        "dropped": stats.dropped,
        "failed": stats.failed,
        "rejected": stats.rejected,
        "unsettled": stats.queued + stats.in_flight,
        "bytes": {
            "produced": bytes.produced,
            "answered": bytes.answered,
            "dropped": bytes.dropped,
            "failed": bytes.failed,
            "unsettled": bytes.queued + bytes.in_flight,
        },
    });
    if let Some(received) = received {
        counts["received"] = received.into();
    }
    counts
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stats = &self.stats;
        let seconds = self.elapsed.as_secs_f64().max(1e-9);
        let target = if self.embedded {
            " (embedded receiver)"
        } else {
            ""
        };
        writeln!(f, "otlp-rust quickstart")?;
        if let Some(why) = &self.nothing_sent {
            writeln!(
                f,
                "  nothing sent  {why}: no span, log record or metric data point was produced"
            )?;
        }
        if self.interrupted {
            let by = self
                .interrupted_by
                .map(|signal| format!("by {signal} "))
                .unwrap_or_default();
            writeln!(
                f,
                "  interrupted   {by}after {} of the {} spans asked for; what was made was shut down as usual",
                self.spans_started, self.spans_requested
            )?;
        }
        writeln!(
            f,
            "  exported to   {}{}{target}",
            self.endpoint,
            over(&self.protocol)
        )?;
        writeln!(
            f,
            "  spans         {} produced, {} exported, {} dropped, {} failed, {} rejected, {} unsettled",
            stats.produced,
            stats.exported,
            stats.dropped,
            stats.failed,
            stats.rejected,
            stats.queued + stats.in_flight,
        )?;
        if let Some(received) = self.received {
            writeln!(f, "  received      {received}")?;
        }
        let logs = &self.log_stats;
        writeln!(
            f,
            "  log records   {} produced, {} exported, {} dropped, {} failed, {} rejected, {} unsettled (to {}{})",
            logs.produced,
            logs.exported,
            logs.dropped,
            logs.failed,
            logs.rejected,
            logs.queued + logs.in_flight,
            self.logs_endpoint,
            over(&self.logs_protocol),
        )?;
        if let Some(received) = self.received_logs {
            writeln!(f, "  received      {received}")?;
        }
        let metrics = &self.metric_stats;
        writeln!(
            f,
            "  metrics       {} recordings, {} data points produced, {} exported, {} failed, {} rejected, {} unsettled (to {}{})",
            self.recordings,
            metrics.produced_data_points,
            metrics.exported_data_points,
            metrics.failed_data_points,
            metrics.rejected_data_points,
            metrics.in_flight_data_points,
            self.metrics_endpoint,
            over(&self.metrics_protocol),
        )?;
        if let Some(received) = self.received_data_points {
            writeln!(f, "  received      {received} data points")?;
        }
        writeln!(
            f,
            "  throughput    {:.0} spans/s ({:.3} s end to end, shutdown included)",
            stats.exported as f64 / seconds,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "  batches       {} (mean {} spans), {} retries, export latency p50 {:?} p99 {:?}",
            stats.batches,
            stats.batch_size.mean,
            stats.retries,
            stats.export_latency.p50,
            stats.export_latency.p99
        )?;
        if let Some(error) = &self.shutdown_error {
            writeln!(f, "  shutdown      {error}")?;
        }
        if let Some(error) = &stats.last_error {
            writeln!(f, "  last error    {error}")?;
        }
        if let Some(error) = &logs.last_error {
            writeln!(f, "  last log error {error}")?;
        }
        if let Some(error) = &metrics.last_error {
            writeln!(f, "  last metrics error {error}")?;
        }
        if let Some(tree) = &self.sample_trace {
            writeln!(f, "\nA sample trace, as the receiver got it:")?;
            for line in tree.lines() {
                writeln!(f, "  {line}")?;
            }
        }
        if let Some(lines) = self.sample_logs.as_ref().filter(|lines| !lines.is_empty()) {
            writeln!(
                f,
                "\nIts log records, with the trace and span ids of their spans:"
            )?;
            // The receiver's log lines come indented as the metric lines do.
            for line in lines.lines() {
                writeln!(f, "{line}")?;
            }
        }
        if let Some(lines) = self
            .sample_metrics
            .as_ref()
            .filter(|lines| !lines.is_empty())
        {
            writeln!(f, "\nThe request metrics, as the receiver got them last:")?;
            for line in lines.lines() {
                writeln!(f, "{line}")?;
            }
        }
        Ok(())
    }
}

/// " over `protocol`", or nothing for a signal not sent over OTLP.
fn over(protocol: &str) -> String {
    if protocol.is_empty() {
        String::new()
    } else {
        format!(" over {protocol}")
    }
}

/// Runs the quickstart with the process environment's configuration.
pub fn run(options: &Options) -> Result<Report, Box<dyn std::error::Error>> {
    run_with(options, ConfigLoader::new())
}

/// Runs the quickstart: loads the configuration from `loader`, starts the
/// embedded receiver if no endpoint is configured, sends `options.spans`
/// spans with their log records and request metrics, and shuts the three
/// pipelines down together, each within its own deadline (its
/// `export_timeout`): against a collector that never answers, the run ends
/// by the longest of those, not their sum.
pub fn run_with(
    options: &Options,
    loader: ConfigLoader,
) -> Result<Report, Box<dyn std::error::Error>> {
    run_until(options, loader, &StopRequest::new())
}

/// [`run_with`] until done or until `stop` is requested: then it sends no
/// more, shuts the pipelines down as usual and reports, with
/// [`interrupted`](Report::interrupted) (and the signal that asked) if it
/// had not sent all it was asked to.
pub fn run_until(
    options: &Options,
    loader: ConfigLoader,
    stop: &StopRequest,
) -> Result<Report, Box<dyn std::error::Error>> {
    // Who set what: the report names what turned a signal off.
    let (mut config, origins) = loader.load_with_origins()?;
    // A signal exported to the console or not at all
    // (`OTEL_TRACES_EXPORTER=console`, `…=none`, `OTEL_SDK_DISABLED=true`)
    // never reaches the receiver.
    let [spans_otlp, logs_otlp, metrics_otlp] =
        [Signal::Traces, Signal::Logs, Signal::Metrics].map(|signal| over_otlp(&config, signal));
    // Each signal goes to the embedded receiver unless it has an endpoint of
    // its own: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` alone sends the spans
    // there, and leaves the log records and metrics on the receiver. None
    // starts when no signal is exported over OTLP.
    let embedded = if spans_otlp || logs_otlp || metrics_otlp {
        EmbeddedCollector::unless_every_signal_configured(&config, 1)?
    } else {
        None
    };
    let spans_embedded = embedded.as_ref().is_some_and(|collector| {
        spans_otlp && collector.receive_spans_unless_configured(&mut config)
    });
    let logs_embedded = embedded.as_ref().is_some_and(|collector| {
        logs_otlp && collector.receive_logs_unless_configured(&mut config)
    });
    let metrics_embedded = embedded.as_ref().is_some_and(|collector| {
        metrics_otlp && collector.receive_metrics_unless_configured(&mut config)
    });
    if config.service_name.is_none() {
        config.service_name = Some("quickstart".into());
    }
    let processor = build_processor(&config)?;
    let provider = TracerProvider::builder()
        .with_config(&config)
        .with_processor(processor.clone())
        .build();
    let log_processor = build_log_processor(&config)?;
    let logger_provider = LoggerProvider::builder()
        .with_config(&config)
        .with_processor(log_processor.clone())
        .build();
    // The reader's `with_config` takes the interval, the timeout, the retry
    // policy (the span pipeline's) and the request size cap.
    let reader = PeriodicReader::builder(metric_exporter_from_config(&config)?)
        .with_config(&config)
        .build()?;
    let meter_provider = MeterProvider::builder()
        .with_config(&config)
        .with_reader(reader)
        .build()?;
    let tracer = provider.tracer("otlp-rust-quickstart");
    let logger = logger_provider.logger("otlp-rust-quickstart");
    let meter = meter_provider.meter("otlp-rust-quickstart");
    let metrics = RequestMetrics {
        requests: meter
            .u64_counter("quickstart.requests")
            .with_unit("{request}")
            .with_description("Requests handled")
            .build(),
        duration: meter
            .f64_histogram("quickstart.request.duration")
            .with_unit("ms")
            .with_description("Time to handle a request")
            // A generated request takes well under a millisecond.
            .with_boundaries(vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            .build(),
    };

    let started = Instant::now();
    let (requests, spans_started) = produce(&tracer, &logger, &metrics, options.spans, stop);
    // The three pipelines shut down together, each within its own deadline:
    // against a collector that never answers, the run ends by the longest
    // of them (30 s by default), not by their sum.
    let shutdowns: [Result<(), String>; 3] = std::thread::scope(|scope| {
        let spans = scope.spawn(|| {
            provider
                .shutdown(shutdown_deadline(config.batch.export_timeout))
                .map_err(|e| e.to_string())
        });
        let logs = scope.spawn(|| {
            logger_provider
                .shutdown(shutdown_deadline(config.logs.batch.export_timeout))
                .map_err(|e| e.to_string())
        });
        // A last collection and export of everything recorded.
        let metrics = meter_provider
            .shutdown(shutdown_deadline(config.metrics.export_timeout))
            .map_err(|e| e.to_string());
        let joined = |shutdown: std::thread::ScopedJoinHandle<'_, Result<(), String>>| {
            shutdown
                .join()
                .unwrap_or_else(|_| Err("the shutdown panicked".to_owned()))
        };
        [joined(spans), joined(logs), metrics]
    });
    let shutdown_errors: Vec<String> = shutdowns
        .into_iter()
        .zip(["spans", "logs", "metrics"])
        .filter_map(|(result, signal)| result.err().map(|error| format!("{signal}: {error}")))
        .collect();
    let shutdown_error = (!shutdown_errors.is_empty()).then(|| shutdown_errors.join("; "));
    let elapsed = started.elapsed();
    let stats = processor.stats();
    let log_stats = log_processor.stats();
    let metric_stats = meter_provider.stats();

    let mut received = None;
    let mut received_logs = None;
    let mut sample_spans_received = None;
    let mut sample_logs_received = None;
    let mut received_data_points = None;
    let mut metrics_received = None;
    if let Some(collector) = &embedded {
        // The receiver counts a request as it answers it: give the last answers a moment.
        if spans_embedded {
            collector.wait_for_spans(stats.exported, Duration::from_secs(5));
            received = Some(collector.received_spans());
        }
        if logs_embedded {
            collector.wait_for_log_records(log_stats.exported, Duration::from_secs(5));
            received_logs = Some(collector.received_log_records());
        }
        if metrics_embedded {
            collector
                .wait_for_data_points(metric_stats.exported_data_points, Duration::from_secs(5));
            received_data_points = Some(collector.received_data_points());
            metrics_received = collector.latest_metrics();
        }
        if let Some(trace_id) = collector
            .kept_trace_ids()
            .first()
            .filter(|_| spans_embedded)
        {
            sample_spans_received = Some(collector.trace(trace_id));
            if logs_embedded {
                sample_logs_received = Some(collector.trace_logs(trace_id));
            }
        }
    }
    let protocol = |otlp: bool, signal: Signal| {
        if otlp {
            config.exporter_for(signal).protocol.to_string()
        } else {
            String::new()
        }
    };
    Ok(Report {
        protocol: protocol(spans_otlp, Signal::Traces),
        logs_protocol: protocol(logs_otlp, Signal::Logs),
        metrics_protocol: protocol(metrics_otlp, Signal::Metrics),
        nothing_sent: why_nothing_was_sent(
            &config,
            &origins,
            [
                stats.produced,
                log_stats.produced,
                metric_stats.produced_data_points,
            ],
        ),
        spans_requested: options.spans,
        spans_started,
        interrupted: spans_started < options.spans,
        interrupted_by: stop.signal().filter(|_| spans_started < options.spans),
        endpoint: destination(&config, Signal::Traces),
        embedded: spans_embedded,
        elapsed,
        stats,
        received,
        logs_endpoint: destination(&config, Signal::Logs),
        log_stats,
        received_logs,
        // None when the sample trace's spans were all sampled out (its log
        // records still carry its id): no heading over an empty tree.
        sample_trace: sample_spans_received
            .as_ref()
            .map(render_traces)
            .filter(|tree| !tree.is_empty()),
        sample_logs: sample_logs_received.as_ref().map(render_logs),
        sample_spans_received,
        sample_logs_received,
        metrics_endpoint: destination(&config, Signal::Metrics),
        // A meter provider that is off (`OTEL_METRICS_EXPORTER=none`) records nothing.
        recordings: if config.is_disabled(Signal::Metrics) {
            0
        } else {
            requests * RECORDINGS_PER_REQUEST
        },
        metric_stats,
        received_data_points,
        sample_metrics: metrics_received.as_ref().map(render_metrics),
        metrics_received,
        shutdown_error,
    })
}

/// Why nothing was sent, when the spans, log records and metric data points
/// `produced` are all 0: each signal's reason, by the setting that gave it
/// as its source spells it (`OTEL_LOGS_EXPORTER=none`, or
/// `logs.exporter.kind=none in config/default.yaml`), as `origins` says.
fn why_nothing_was_sent(
    config: &Config,
    origins: &ConfigOrigins,
    produced: [u64; 3],
) -> Option<String> {
    if produced.iter().any(|&count| count > 0) {
        return None;
    }
    let set = |key: &str, value: &str| setting(origins, key, value);
    if config.disabled {
        return Some(format!(
            "the SDK is disabled ({})",
            set("service.disabled", "true")
        ));
    }
    let reasons: Vec<String> = [
        (Signal::Traces, "spans", "exporter.kind"),
        (Signal::Logs, "log records", "logs.exporter.kind"),
        (Signal::Metrics, "metrics", "metrics.exporter.kind"),
    ]
    .into_iter()
    .map(|(signal, records, key)| {
        if config.is_disabled(signal) {
            format!("{records} are turned off ({})", set(key, "none"))
        } else if signal == Signal::Traces {
            // At least one span is started: only the sampler drops them all.
            match config.sampler.name {
                Some(name) => format!(
                    "every span was sampled out ({})",
                    set("sampler.name", name.as_str())
                ),
                None => "every span was sampled out".to_owned(),
            }
        } else {
            format!("no {records} were produced")
        }
    })
    .collect();
    Some(reasons.join(", "))
}

/// `key` set to `value`, named as the source that set it spells it:
/// `OTEL_TRACES_EXPORTER=none` (a variable), `exporter.kind=none in
/// config/default.yaml` (a file), or the key itself when no source is known.
fn setting(origins: &ConfigOrigins, key: &str, value: &str) -> String {
    match origins.set_by(key) {
        Some(set_by) => match set_by.source {
            ConfigSource::File(path) => {
                format!("{}={value} in {}", set_by.key, path.display())
            }
            _ => format!("{}={value}", set_by.key),
        },
        None => format!("{key}={value}"),
    }
}

/// Whether `signal`'s records are exported over OTLP: its exporter is OTLP
/// and the signal is not turned off (by `OTEL_*_EXPORTER=none` or
/// `OTEL_SDK_DISABLED=true`).
fn over_otlp(config: &Config, signal: Signal) -> bool {
    !config.is_disabled(signal) && config.exporter_for(signal).kind == ExporterKind::Otlp
}

/// Where `signal`'s records went: the endpoint, or the exporter kind when it
/// is not OTLP (`console`, `none`), `none` too when the SDK is disabled.
fn destination(config: &Config, signal: Signal) -> String {
    let exporter = config.exporter_for(signal);
    if over_otlp(config, signal) {
        // The report is printed: a password in the endpoint must not be.
        redact_userinfo(&exporter.endpoint_for(signal))
    } else if config.is_disabled(signal) {
        ExporterKind::None.to_string()
    } else {
        exporter.kind.to_string()
    }
}

/// The request metrics: how many, and how long each took.
struct RequestMetrics {
    requests: Counter<u64>,
    duration: Histogram<f64>,
}

/// Sends `spans` spans as traces shaped like a web request: a server span,
/// an authentication check, two database queries, and a render; and, inside
/// the server span and the authentication span, a log record each; counts
/// and times each request in `metrics`. Stops early, between two requests,
/// once `stop` is requested. Returns the number of requests and of spans started.
fn produce(
    tracer: &Tracer,
    logger: &Logger,
    metrics: &RequestMetrics,
    spans: u64,
    stop: &StopRequest,
) -> (u64, u64) {
    let mut sent = 0;
    let mut request = 0u64;
    while sent < spans && !stop.is_requested() {
        let budget = (spans - sent).min(SPANS_PER_TRACE);
        trace_one_request(tracer, logger, metrics, request, budget);
        sent += budget;
        request += 1;
    }
    (request, sent)
}

/// Emits a log record inside `span`: it carries the span's trace and span ids.
fn log_in(
    logger: &Logger,
    span: &Span,
    severity: Severity,
    body: String,
    attributes: Vec<KeyValue>,
) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64);
    logger.emit(
        LogRecord::builder()
            .time_unix_nano(now)
            .severity(severity)
            .severity_text(severity.name())
            .body(body)
            .attributes(attributes)
            .span_context(span.context())
            .build(),
    );
}

fn trace_one_request(
    tracer: &Tracer,
    logger: &Logger,
    metrics: &RequestMetrics,
    request: u64,
    budget: u64,
) {
    let started = Instant::now();
    let user = format!("user-{:06}", request % 10_000);
    let mut server = tracer
        .span_builder("GET /checkout/{cart}")
        .kind(SpanKind::Server)
        .attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", ROUTE),
            KeyValue::new("url.path", format!("/checkout/{:08}", request)),
            KeyValue::new("server.address", "shop.example.com"),
            KeyValue::new(
                "network.peer.address",
                format!("10.0.{}.{}", request % 250, request % 200),
            ),
            KeyValue::new("user_agent.original", "quickstart/1.0"),
            KeyValue::new("enduser.id", user.clone()),
            KeyValue::new("app.request.id", format!("req-{request:012}")),
        ])
        .start();
    let items = 1 + request % 5;
    log_in(
        logger,
        &server,
        Severity::INFO,
        format!("checkout started for {user}: {items} items in cart"),
        vec![
            KeyValue::new("enduser.id", user.clone()),
            KeyValue::new("app.cart.items", items as i64),
        ],
    );
    let children: [(&'static str, SpanKind); 4] = [
        ("authenticate", SpanKind::Internal),
        ("SELECT cart_items", SpanKind::Client),
        ("SELECT prices", SpanKind::Client),
        ("render page", SpanKind::Internal),
    ];
    for (name, kind) in children.iter().take(budget.saturating_sub(1) as usize) {
        let mut child = tracer
            .span_builder(*name)
            .kind(*kind)
            .parent(server.context())
            .start();
        if *kind == SpanKind::Client {
            child.set_attributes([
                KeyValue::new("db.system.name", "postgresql"),
                KeyValue::new("db.query.text", *name),
            ]);
        } else {
            child.set_attribute(KeyValue::new("enduser.id", user.clone()));
        }
        if *name == "authenticate" {
            // One login in 50 needs a second factor: a warning.
            let (severity, body) = if request % 50 == 49 {
                (
                    Severity::WARN,
                    format!("{user} authenticated after a second factor"),
                )
            } else {
                (
                    Severity::INFO,
                    format!("{user} authenticated by session cookie"),
                )
            };
            log_in(
                logger,
                &child,
                severity,
                body,
                vec![KeyValue::new("enduser.id", user.clone())],
            );
        }
        child.end();
    }
    server.set_attribute(KeyValue::new("http.response.status_code", 200));
    server.set_status(Status::Ok);
    // Recorded in the server span: a sampled request can be the exemplar
    // that links a data point to its trace.
    active_span::in_span(server.context(), || {
        let route = [KeyValue::new("http.route", ROUTE)];
        metrics.requests.add(1, &route);
        metrics
            .duration
            .record(started.elapsed().as_secs_f64() * 1000.0, &route);
    });
    server.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| arg.to_string()).collect()
    }

    /// "No limit" as the loader stores it (`OTEL_*_EXPORT_TIMEOUT=0`) is
    /// capped, so the quickstart ends; it was passed on as about 24.8 days,
    /// and the cap applied only to a zero no loader produces.
    #[test]
    fn a_shutdown_without_a_limit_is_capped_and_others_keep_theirs()
    -> Result<(), otlp_sdk::config::ConfigError> {
        let config = ConfigLoader::new()
            .with_config_dir("no-such-dir")
            .with_env([
                ("OTEL_BSP_EXPORT_TIMEOUT", "0"),
                ("OTEL_BLRP_EXPORT_TIMEOUT", "0"),
                ("OTEL_METRIC_EXPORT_TIMEOUT", "0"),
            ])
            .load()?;
        for timeout in [
            config.batch.export_timeout,
            config.logs.batch.export_timeout,
            config.metrics.export_timeout,
            Duration::ZERO,
        ] {
            assert_eq!(
                shutdown_deadline(timeout),
                UNLIMITED_SHUTDOWN_CAP,
                "{timeout:?}"
            );
        }
        let given = Duration::from_secs(90);
        assert_eq!(shutdown_deadline(given), given);
        Ok(())
    }

    /// A report of a run against an external collector that took every
    /// span and log record, and whose metrics are `metric_stats`.
    fn report_with(metric_stats: MetricsStats) -> Report {
        let all_exported = StatsSnapshot {
            produced: 5,
            exported: 5,
            ..StatsSnapshot::default()
        };
        Report {
            protocol: "grpc".into(),
            logs_protocol: "grpc".into(),
            metrics_protocol: "grpc".into(),
            nothing_sent: None,
            spans_requested: 5,
            spans_started: 5,
            interrupted: false,
            interrupted_by: None,
            endpoint: "http://collector:4317".into(),
            embedded: false,
            elapsed: Duration::from_millis(1),
            stats: all_exported.clone(),
            received: None,
            logs_endpoint: "http://collector:4317".into(),
            log_stats: all_exported,
            received_logs: None,
            sample_trace: None,
            sample_logs: None,
            sample_spans_received: None,
            sample_logs_received: None,
            metrics_endpoint: "http://collector:4317".into(),
            recordings: 2,
            metric_stats,
            received_data_points: None,
            metrics_received: None,
            sample_metrics: None,
            shutdown_error: None,
        }
    }

    #[test]
    fn data_points_still_in_flight_when_shutdown_ends_are_not_delivered() {
        // A periodic export was accepted, the last one (shutdown's) never
        // settled: the collector hung. Before, only failed and rejected data
        // points counted, and the run said all delivered, exit status 0.
        let report = report_with(MetricsStats {
            produced_data_points: 4,
            exported_data_points: 2,
            in_flight_data_points: 2,
            ..MetricsStats::default()
        });
        assert!(!report.all_delivered(), "{report}");
        let summary: serde_json::Value = serde_json::from_str(&report.json_summary()).unwrap();
        assert_eq!(summary["all_delivered"], false, "{summary}");
        assert_eq!(summary["metrics"]["data_points_unsettled"], 2, "{summary}");
        assert!(
            report.to_string().contains("0 rejected, 2 unsettled"),
            "{report}"
        );

        // Settled, they are.
        let report = report_with(MetricsStats {
            produced_data_points: 4,
            exported_data_points: 4,
            ..MetricsStats::default()
        });
        assert!(report.all_delivered(), "{report}");
    }

    #[test]
    fn spans_is_the_only_option() {
        assert_eq!(Options::parse(args(&[])), Ok(Options::default()));
        assert_eq!(
            Options::parse(args(&["--spans", "42"])),
            Ok(Options { spans: 42 })
        );
        assert_eq!(
            Options::parse(args(&["--spans=7"])),
            Ok(Options { spans: 7 })
        );
        assert!(
            matches!(Options::parse(args(&["--spans", "many"])), Err(UsageError::Invalid(message)) if message.contains("many"))
        );
        assert!(matches!(
            Options::parse(args(&["--spans"])),
            Err(UsageError::Invalid(_))
        ));
        assert!(
            matches!(Options::parse(args(&["--fast"])), Err(UsageError::Invalid(message)) if message.contains("--fast"))
        );
        assert_eq!(Options::parse(args(&["--help"])), Err(UsageError::Help));
    }

    #[test]
    fn zero_spans_is_refused_naming_the_flag() {
        // A run of nothing would exit 0, "every span delivered", having
        // checked nothing.
        for zero in [&["--spans", "0"][..], &["--spans=0"], &["--spans", "000"]] {
            let Err(UsageError::Invalid(message)) = Options::parse(args(zero)) else {
                panic!("{zero:?} was accepted");
            };
            assert!(
                message.contains("--spans") && message.contains("at least 1"),
                "{message}"
            );
        }
        assert_eq!(
            Options::parse(args(&["--spans", "1"])),
            Ok(Options { spans: 1 })
        );
    }

    #[test]
    fn a_count_too_large_for_the_counters_says_so_and_names_the_most() {
        let huge = "99999999999999999999999";
        let Err(UsageError::Invalid(message)) = Options::parse(args(&["--spans", huge])) else {
            panic!("{huge} was accepted");
        };
        assert!(
            message.contains(huge) && message.contains(&u64::MAX.to_string()),
            "{message}"
        );
        assert!(!message.contains("not a whole number"), "{message}");
        assert_eq!(
            Options::parse(args(&["--spans", &u64::MAX.to_string()])),
            Ok(Options { spans: u64::MAX })
        );
        // What is not a whole number still says so.
        for bad in ["", "-1", "1e3", "+", "12x"] {
            let Err(UsageError::Invalid(message)) = Options::parse(args(&["--spans", bad])) else {
                panic!("{bad:?} was accepted");
            };
            assert!(message.contains("not a whole number"), "{bad:?}: {message}");
        }
    }
}
