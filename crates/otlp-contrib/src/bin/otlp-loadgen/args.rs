//! Command-line arguments: a `clap` derive, with typed value parsers whose
//! errors say what a good value looks like (clap names the flag and the value;
//! the value of `--endpoint` with its user-info redacted).
//! A word starting with a single `-` after an option that takes a value is
//! its value (`--endpoint -1` is a bad `--endpoint`, not an unknown option
//! `-1`), and a value that is not UTF-8 is refused naming its option: see
//! `option_values.rs`.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, Command, CommandFactory, Parser};
use otlp_sdk::config::{Compression, FullPolicy, Protocol, REDACTED, redact_userinfo};

use crate::option_values::{FileName, OptionValue, parse_words};

/// What the help prints before the options.
const ABOUT: &str = "\
Load-tests an OTLP trace, logs or metrics endpoint (a Collector, an agent, a
backend) through the otlp-rust pipeline: W worker threads create spans with
the native tracer (or, with --signal logs, log records with the native
logger; with --signal metrics, measurements on a counter and a histogram), a
BatchSpanProcessor (BatchLogProcessor; for metrics a PeriodicReader) batches
them and the OTLP/gRPC or OTLP/HTTP exporter sends them. Settings not given as
options come from the standard OTEL_* variables (OTEL_EXPORTER_OTLP_*,
OTEL_BSP_* for traces, OTEL_EXPORTER_OTLP_LOGS_* and OTEL_BLRP_* for logs,
OTEL_EXPORTER_OTLP_METRICS_* and OTEL_METRIC_EXPORT_* for metrics,
OTEL_SERVICE_NAME, ...), the OTLP__SECTION__KEY overrides and
config/default.{yaml,toml}, as for any otlp-sdk program; options win, but
every variable and file is checked first: an invalid one is an error even
where an option replaces its value (unset it). The
durable queue: OTLP__DURABLE__DIRECTORY for traces,
OTLP__LOGS__DURABLE__DIRECTORY for logs (each a directory of its own).";

/// What the help prints after the options.
const AFTER_HELP: &str = "\
While it runs, a progress line goes to standard error every second: spans
(or log records) sent (handed to the pipeline), exported, dropped, failed,
queued, and the current send rate. At the end, once the pipeline has shut
down, the summary goes to standard output:

  sent=N exported=N dropped=N failed=N rejected=N elapsed=SECS spans/s=RATE

(records/s=RATE with --signal logs). sent counts every span (log record)
the pipeline took: each one created, none when the signal's exporter is
none (OTEL_TRACES_EXPORTER, OTEL_LOGS_EXPORTER) or the SDK is disabled,
which a warning says at the start; elapsed runs from the first one until the pipeline has settled
every one; spans/s is exported / elapsed. A second line gives the details
(signal, send time and rate, batches, retries, export latency: n/a when no
export ended). Ctrl-C
stops producing early and still drains and summarises.

With --signal logs, each worker emits log records (mostly INFO, some WARN and
ERROR, a body of about 150 bytes, --attributes attributes); --spans (or its
alias --records), --duration, --rate and --workers count log records.

With --signal metrics, each recording adds 1 to the counter loadgen.requests
and records a duration in the histogram loadgen.request.duration (ms), both
on one of --series attribute sets (series), taken in turn; --records (or
--spans), --duration, --rate and --workers count recordings. A PeriodicReader
exports every --export-interval, and once more at shutdown. The summary reads

  recordings=N series=N data_points_exported=N data_points_failed=N
  data_points_rejected=N overflowed=N elapsed=SECS recordings/s=RATE

(on one line); recordings/s is recordings / the send time (the workers'
time recording; data points are exported per interval, not per recording);
series counts the attribute sets recorded on (fewer than
--series when there were fewer recordings); overflowed counts measurements
that went to the overflow
series because --series is above the cardinality limit
(OTLP__METRICS__CARDINALITY_LIMIT, 2000 by default). --queue-size,
--batch-size, --full-policy, --span-ids and --metrics do not apply.

Exit status: 0 when every span (log record) sent was exported, or, for
metrics, every data point was; 3 when some were dropped,
failed, rejected or not settled by --shutdown-timeout (the summary says
which); 1 when the pipeline cannot start (an endpoint or header from the
configuration that the exporter refuses, an unreadable TLS file, the port
of --metrics taken) or the summary cannot be written to standard output
(a full disk; not a reader gone early); 2 on bad options (one the exporter
refuses included) or configuration.";

/// Spans (log records) sent when neither `--spans` nor `--duration` is given.
pub const DEFAULT_SPANS: u64 = 10_000;
/// The most attributes a span may carry without the default span limits dropping some.
pub const MAX_ATTRIBUTES: usize = 128;
/// The most worker threads: more would only measure the scheduler.
const MAX_WORKERS: usize = 4096;
/// The slowest `--rate`, in spans (log records, recordings) per second: one
/// every 1000 s is already no load; slower rates are refused, as are those
/// whose pacing (`n / rate` seconds) would not fit a `Duration`.
pub const MIN_RATE: f64 = 0.001;
/// Series (attribute sets) when `--series` is not given: well under the
/// default cardinality limit (2000), so nothing overflows.
pub const DEFAULT_SERIES: usize = 100;
/// The most series: 50 times the default cardinality limit is plenty to
/// exercise the overflow series; past it, `--series` is refused. Memory does
/// not grow with it but by a byte per series (which ones were recorded on):
/// each worker derives the attribute set of the series it records on from
/// the series number, and the SDK keeps the sets of at most the cardinality
/// limit's series (about 64 bytes per attribute, per instrument: a run of
/// 2000 series or more of 128 attributes peaks at about 150 MB resident).
const MAX_SERIES: usize = 100_000;

/// What `--signal` asks for: the pipeline under load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Spans through a `BatchSpanProcessor` (the default).
    Traces,
    /// Log records through a `BatchLogProcessor`.
    Logs,
    /// Measurements through a `MeterProvider` and its `PeriodicReader`.
    Metrics,
}

impl Signal {
    /// As written on the command line and in the JSON summary: `traces`,
    /// `logs`, `metrics`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
        }
    }

    /// The SDK's name for the signal, for endpoints.
    pub const fn sdk(self) -> otlp_sdk::Signal {
        match self {
            Signal::Traces => otlp_sdk::Signal::Traces,
            Signal::Logs => otlp_sdk::Signal::Logs,
            Signal::Metrics => otlp_sdk::Signal::Metrics,
        }
    }
}

/// What the command line asks for. `None` means "not given": the
/// configuration (or the built-in default) decides.
#[derive(Debug, Parser)]
#[command(
    name = "otlp-loadgen",
    version,
    // A flag given twice takes its last value, as scripts that append options expect.
    args_override_self = true,
    about = ABOUT,
    long_about = None,
    after_help = AFTER_HELP,
)]
pub struct Args {
    /// Where to send: the base URL (http://host:4318 gets
    /// /v1/traces appended for HTTP, /v1/logs with --signal
    /// logs, /v1/metrics with --signal metrics; http://host:4317
    /// for gRPC) or a full URL whose path ends in that path (a
    /// query may follow), used as given
    /// (default: OTEL_EXPORTER_OTLP_ENDPOINT, else the
    /// protocol's localhost default)
    #[arg(
        long,
        value_name = "URL",
        value_parser = Redacting::new(endpoint, redact_userinfo),
        verbatim_doc_comment
    )]
    pub endpoint: Option<String>,
    /// grpc, http/protobuf or http/json
    /// (default: OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf)
    #[arg(long, value_name = "P", value_parser = OptionValue::new(protocol), verbatim_doc_comment)]
    pub protocol: Option<Protocol>,
    /// What to send: traces (spans), logs (log records) or
    /// metrics (recordings on a counter and a histogram)
    /// (default traces)
    #[arg(long, value_name = "S", value_parser = OptionValue::new(signal), verbatim_doc_comment)]
    pub signal: Option<Signal>,
    /// Total spans (log records with --signal logs, recordings
    /// with --signal metrics), split across the workers
    /// (default 10000 when --duration is not given)
    #[arg(long, value_name = "N", value_parser = OptionValue::new(positive), verbatim_doc_comment)]
    pub spans: Option<u64>,
    /// Same as --spans, for --signal logs and metrics
    #[arg(
        long,
        value_name = "N",
        value_parser = OptionValue::new(positive),
        conflicts_with = "spans"
    )]
    pub records: Option<u64>,
    /// Produce for this long (e.g. 30s, 500ms, 2m; a bare
    /// number is seconds); with --spans, stop at whichever
    /// comes first
    #[arg(long, value_name = "D", value_parser = OptionValue::new(duration), verbatim_doc_comment)]
    pub duration: Option<Duration>,
    /// Producing threads (default 1)
    #[arg(long, value_name = "W", value_parser = OptionValue::new(workers))]
    pub workers: Option<usize>,
    /// Target spans (log records, recordings) per second over all
    /// workers (default: as fast as possible); paced with sleeps,
    /// not spinning
    #[arg(long, value_name = "R", value_parser = OptionValue::new(rate), verbatim_doc_comment)]
    pub rate: Option<f64>,
    /// String attributes per span or log record, 0 to 128
    /// (default 8: realistic HTTP server attributes); per
    /// series with --signal metrics (default 4, the first
    /// being loadgen.series; at least 1 with --series above 1)
    #[arg(
        long,
        value_name = "N",
        value_parser = OptionValue::new(attributes),
        verbatim_doc_comment
    )]
    pub attributes: Option<usize>,
    /// Distinct attribute sets the recordings are spread over,
    /// 1 to 100000 (--signal metrics only; default 100)
    #[arg(long, value_name = "N", value_parser = OptionValue::new(series), verbatim_doc_comment)]
    pub series: Option<usize>,
    /// Time between two metric exports (--signal metrics only;
    /// default 1s, unless OTEL_METRIC_EXPORT_INTERVAL sets
    /// another value than its default, 60s)
    #[arg(long, value_name = "D", value_parser = OptionValue::new(duration), verbatim_doc_comment)]
    pub export_interval: Option<Duration>,
    /// none, gzip or zstd (default: OTEL_EXPORTER_OTLP_COMPRESSION)
    #[arg(long, value_name = "C", value_parser = OptionValue::new(compression))]
    pub compression: Option<Compression>,
    /// Add a request header / gRPC metadata entry (repeatable)
    #[arg(
        long = "header",
        value_name = "K=V",
        value_parser = Redacting::new(header, redact_header),
    )]
    pub headers: Vec<(String, String)>,
    /// Cap on the number of queued spans or log records (default: OTEL_BSP_MAX_QUEUE_SIZE, or OTEL_BLRP_MAX_QUEUE_SIZE for logs, else none: the queue is bounded by OTLP__BATCH__MAX_QUEUE_BYTES, or OTLP__LOGS__BATCH__MAX_QUEUE_BYTES for logs, 64 MiB)
    #[arg(long, value_name = "N", value_parser = OptionValue::new(size))]
    pub queue_size: Option<usize>,
    /// When the queue is full: block (wait while the pipeline
    /// drains; the default) or drop (OpenTelemetry's behaviour)
    #[arg(
        long,
        value_name = "P",
        value_parser = OptionValue::new(full_policy),
        verbatim_doc_comment
    )]
    pub full_policy: Option<FullPolicy>,
    /// Largest batch (default: OTEL_BSP_MAX_EXPORT_BATCH_SIZE, or
    /// OTEL_BLRP_MAX_EXPORT_BATCH_SIZE for logs, 512, lowered
    /// to --queue-size if that is smaller)
    #[arg(long, value_name = "N", value_parser = OptionValue::new(size), verbatim_doc_comment)]
    pub batch_size: Option<usize>,
    /// Timeout of one export attempt (default: OTEL_EXPORTER_OTLP_TIMEOUT, 10s)
    #[arg(long, value_name = "D", value_parser = OptionValue::new(duration))]
    pub timeout: Option<Duration>,
    /// How long to wait at the end for queued records to be
    /// exported (default 30s)
    #[arg(long, value_name = "D", value_parser = OptionValue::new(duration), verbatim_doc_comment)]
    pub shutdown_timeout: Option<Duration>,
    /// service.name of the spans or logs (default: OTEL_SERVICE_NAME,
    /// else otlp-loadgen)
    #[arg(
        long,
        value_name = "NAME",
        value_parser = OptionValue::new(service_name),
        verbatim_doc_comment
    )]
    pub service_name: Option<String>,
    /// Read this YAML or TOML configuration file instead of
    /// config/default.* and config/$RUN_ENV.* (or what
    /// OTLP_CONFIG_DIR or OTLP_CONFIG_FILE name)
    #[arg(long, value_name = "FILE", value_parser = FileName, verbatim_doc_comment)]
    pub config: Option<PathBuf>,
    /// Write the id of every span (32 hex digits of trace id,
    /// a space, 16 of span id), one line each, to FILE once the
    /// span is handed to the pipeline: to check what a collector
    /// received against what was sent. FILE is created, or
    /// emptied first: it holds this run's spans only. Each
    /// worker's lines are in the order its spans were sent;
    /// lines still buffered when the process is killed are lost
    /// (traces only)
    #[arg(long, value_name = "FILE", value_parser = FileName, verbatim_doc_comment)]
    pub span_ids: Option<PathBuf>,
    /// Serve the pipeline's Prometheus metrics on
    /// http://ADDR/metrics while running (e.g. 127.0.0.1:9464)
    #[arg(
        long,
        value_name = "ADDR",
        value_parser = OptionValue::new(address),
        verbatim_doc_comment
    )]
    pub metrics: Option<SocketAddr>,
    /// Also print the summary as one JSON object, as the last
    /// line of standard output
    #[arg(long, verbatim_doc_comment)]
    pub json_summary: bool,
    /// No progress line
    #[arg(long)]
    pub quiet: bool,
}

impl Args {
    /// Parses the command line; on bad usage prints clap's message and exits
    /// with status 2 (0 for `--help` and `--version`).
    pub fn from_command_line() -> Args {
        Args::parse_checked(std::env::args_os()).unwrap_or_else(|error| error.exit())
    }

    /// Parses `words` (the program's name first) as clap does, with a word
    /// starting with a single `-` after an option that takes a value taken
    /// as its value ([`parse_words`]) and a word clap does not expect shown
    /// redacted (see [`redact_unexpected`]), then [`checked`](Args::checked).
    pub fn parse_checked<I, T>(words: I) -> Result<Args, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString>,
    {
        parse_words(words)
            .map_err(redact_unexpected)
            .and_then(Args::checked)
    }

    /// What one flag's value parser cannot see: how the flags go together.
    pub fn checked(self) -> Result<Args, clap::Error> {
        if let (Some(batch), Some(queue)) = (self.batch_size, self.queue_size)
            && batch > queue
        {
            return Err(Args::command().error(
                ErrorKind::ArgumentConflict,
                format!("--batch-size {batch} is larger than --queue-size {queue}"),
            ));
        }
        if self.signal() == Signal::Logs && self.span_ids.is_some() {
            return Err(Args::command().error(
                ErrorKind::ArgumentConflict,
                "--span-ids applies to --signal traces only, not --signal logs",
            ));
        }
        if self.signal() == Signal::Metrics {
            let batching = [
                ("--span-ids", self.span_ids.is_some()),
                ("--queue-size", self.queue_size.is_some()),
                ("--batch-size", self.batch_size.is_some()),
                ("--full-policy", self.full_policy.is_some()),
                ("--metrics", self.metrics.is_some()),
            ];
            if let Some((flag, _)) = batching.iter().find(|(_, given)| *given) {
                return Err(Args::command().error(
                    ErrorKind::ArgumentConflict,
                    format!("{flag} applies to --signal traces and logs, not --signal metrics"),
                ));
            }
            if self.attributes == Some(0) && self.series() > 1 {
                return Err(Args::command().error(
                    ErrorKind::ArgumentConflict,
                    format!(
                        "--attributes 0 leaves no attribute to tell {} series apart \
                         (give --series 1, or at least --attributes 1)",
                        self.series()
                    ),
                ));
            }
        } else {
            let metric_only = [
                ("--series", self.series.is_some()),
                ("--export-interval", self.export_interval.is_some()),
            ];
            if let Some((flag, _)) = metric_only.iter().find(|(_, given)| *given) {
                return Err(Args::command().error(
                    ErrorKind::ArgumentConflict,
                    format!(
                        "{flag} applies to --signal metrics only, not --signal {}",
                        self.signal().as_str()
                    ),
                ));
            }
        }
        Ok(self)
    }

    /// What to send: `--signal`, else traces.
    pub fn signal(&self) -> Signal {
        self.signal.unwrap_or(Signal::Traces)
    }

    /// Series of `--signal metrics`: `--series`, else [`DEFAULT_SERIES`].
    pub fn series(&self) -> usize {
        self.series.unwrap_or(DEFAULT_SERIES)
    }

    /// Total spans (log records) to send: `--spans` or `--records`, else
    /// unlimited with `--duration`, else the default.
    pub fn span_limit(&self) -> Option<u64> {
        match (self.spans.or(self.records), self.duration) {
            (Some(spans), _) => Some(spans),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_SPANS),
        }
    }
}

/// A value parser whose error shows the refused value as `shown` makes it,
/// not as given: clap's own error prints the value, and that of a flag that
/// may carry a secret (a password in an endpoint's user-info) must not reach
/// standard error, whether or not it is UTF-8 (an [`OptionValue`] shows such
/// a value lossily). The message is otherwise clap's, status 2.
#[derive(Clone)]
struct Redacting<P> {
    parse: OptionValue<P>,
    shown: fn(&str) -> String,
}

impl<P> Redacting<P> {
    /// `parse` as an [`OptionValue`], its refused values shown as `shown`
    /// makes them.
    fn new(parse: P, shown: fn(&str) -> String) -> Self {
        Redacting {
            parse: OptionValue::new(parse),
            shown,
        }
    }
}

impl<P: TypedValueParser> TypedValueParser for Redacting<P> {
    type Value = P::Value;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<P::Value, clap::Error> {
        self.parse.parse_ref(cmd, arg, value).map_err(|mut error| {
            // The error of a refused value shows it (one that is not UTF-8
            // included, lossily: see `OptionValue`); no other has one.
            if error.kind() == ErrorKind::ValueValidation {
                let shown = (self.shown)(&value.to_string_lossy());
                error.insert(ContextKind::InvalidValue, ContextValue::String(shown));
            }
            error
        })
    }
}

/// clap's error for a word it does not expect shows the word, and a word
/// typed without its flag may be a secret: an endpoint with a password
/// (`otlp-loadgen http://user:pw@host`) or a header with a token
/// (`otlp-loadgen x-api-key=secret`). Such a word is shown as `--endpoint`
/// and `--header` show their refused values: user-info and header values
/// redacted. Other words (a mistyped flag) are shown as given.
fn redact_unexpected(mut error: clap::Error) -> clap::Error {
    if error.kind() != ErrorKind::UnknownArgument {
        return error;
    }
    // The command takes no positional arguments, so clap adds no "to pass
    // it as a value" tip that would show the word a second time.
    let shown = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(word)) if word.contains('@') => redact_userinfo(word),
        Some(ContextValue::String(word)) if word.contains('=') && !word.starts_with('-') => {
            redact_header(word)
        }
        _ => return error,
    };
    error.insert(ContextKind::InvalidArg, ContextValue::String(shown));
    error
}

fn endpoint(text: &str) -> Result<String, String> {
    let rest = ["http://", "https://"]
        .iter()
        .find_map(|scheme| {
            text.get(..scheme.len())
                .filter(|head| head.eq_ignore_ascii_case(scheme))
                .map(|_| &text[scheme.len()..])
        })
        .ok_or_else(|| "not an http:// or https:// URL (e.g. http://localhost:4317)".to_owned())?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err("the URL has no valid host".into());
    }
    Ok(text.to_owned())
}

fn protocol(text: &str) -> Result<Protocol, String> {
    match text.to_ascii_lowercase().as_str() {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "http/json" => Ok(Protocol::HttpJson),
        _ => Err("not one of grpc, http/protobuf, http/json".into()),
    }
}

fn signal(text: &str) -> Result<Signal, String> {
    match text.to_ascii_lowercase().as_str() {
        "traces" => Ok(Signal::Traces),
        "logs" => Ok(Signal::Logs),
        "metrics" => Ok(Signal::Metrics),
        _ => Err("not one of traces, logs, metrics".into()),
    }
}

fn compression(text: &str) -> Result<Compression, String> {
    match text.to_ascii_lowercase().as_str() {
        "none" => Ok(Compression::None),
        "gzip" => Ok(Compression::Gzip),
        "zstd" => Ok(Compression::Zstd),
        _ => Err("not one of none, gzip, zstd".into()),
    }
}

/// `--full-policy`: `block` or `drop`, any case.
fn full_policy(text: &str) -> Result<FullPolicy, String> {
    match text.to_ascii_lowercase().as_str() {
        "block" => Ok(FullPolicy::default()),
        "drop" => Ok(FullPolicy::Drop),
        _ => Err("not block or drop".into()),
    }
}

fn positive(text: &str) -> Result<u64, String> {
    text.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| "not a positive whole number".to_owned())
}

fn size(text: &str) -> Result<usize, String> {
    usize::try_from(positive(text)?).map_err(|_| "too large".to_owned())
}

fn workers(text: &str) -> Result<usize, String> {
    let workers = size(text)?;
    if workers > MAX_WORKERS {
        return Err(format!("more than {MAX_WORKERS} threads"));
    }
    Ok(workers)
}

fn series(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_SERIES).contains(n))
        .ok_or_else(|| format!("not a whole number from 1 to {MAX_SERIES}"))
}

fn attributes(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| *n <= MAX_ATTRIBUTES)
        .ok_or_else(|| format!("not a whole number from 0 to {MAX_ATTRIBUTES}"))
}

fn rate(text: &str) -> Result<f64, String> {
    let rate = text
        .parse::<f64>()
        .ok()
        .filter(|rate| rate.is_finite() && *rate > 0.0)
        .ok_or_else(|| "not a positive number of spans per second".to_owned())?;
    if rate < MIN_RATE {
        return Err(format!(
            "below the slowest rate, {MIN_RATE} spans per second (one every {} s)",
            1.0 / MIN_RATE
        ));
    }
    Ok(rate)
}

/// Whether `name` is an HTTP token (RFC 9110), which is also valid gRPC
/// metadata once lower-cased.
fn is_header_name(name: &str) -> bool {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    !name.is_empty() && name.chars().all(token)
}

/// A refused `--header` as its error shows it: the name, when it is one,
/// and never the value (an API key, a bearer token), as the SDK shows
/// `OTEL_EXPORTER_OTLP_HEADERS`: `x-api-key=<redacted>`, else `<redacted>`
/// (`Authorization: Bearer ...`, written as for curl, has no name to show).
fn redact_header(text: &str) -> String {
    match text.split_once('=') {
        Some((name, _)) if is_header_name(name.trim()) => format!("{}={REDACTED}", name.trim()),
        _ => REDACTED.to_owned(),
    }
}

// The reasons name no part of the value that `redact_header` hides.
fn header(text: &str) -> Result<(String, String), String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err("not NAME=VALUE (e.g. --header x-api-key=secret)".into());
    };
    let name = name.trim();
    if !is_header_name(name) {
        return Err(
            "the name before the first = is not a header name (letters, digits and !#$%&'*+-.^_`|~)"
                .into(),
        );
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!("the value of {name:?} contains control characters"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

fn service_name(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("the name is empty".into());
    }
    Ok(text.to_owned())
}

fn address(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| "not an IP:PORT address (e.g. 127.0.0.1:9464)".to_owned())
}

/// `250ms`, `1.5s`, `2m`, `1h`, or a bare number of seconds; at least a nanosecond.
pub fn duration(text: &str) -> Result<Duration, String> {
    let bad = || "not a duration (e.g. 30s, 500ms, 2m, or a number of seconds)".to_owned();
    let trimmed = text.trim();
    // The unit is a known suffix (`ms` before `s` and `m`); what is left is
    // the number, as Rust reads one (`1e3` is a bare 1,000 seconds).
    let (number, scale) = [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)]
        .into_iter()
        .find_map(|(unit, scale)| trimmed.strip_suffix(unit).map(|number| (number, scale)))
        .unwrap_or((trimmed, 1.0));
    let number: f64 = number.trim().parse().map_err(|_| bad())?;
    let seconds = number * scale;
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err("must be more than zero".into());
    }
    let duration = Duration::try_from_secs_f64(seconds).map_err(|_| bad())?;
    // Below half a nanosecond, a positive number is still a zero `Duration`.
    if duration.is_zero() {
        return Err("shorter than a nanosecond, the shortest duration".into());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Args, clap::Error> {
        Args::parse_checked(std::iter::once("otlp-loadgen").chain(args.iter().copied()))
    }

    fn parsed(args: &[&str]) -> Args {
        parse_strs(args).unwrap()
    }

    /// The error as the user reads it, without colours.
    fn error(args: &[&str]) -> String {
        match parse_strs(args) {
            Ok(parsed) => panic!("{args:?} parsed: {parsed:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn the_command_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn full_policy_is_block_or_drop() {
        assert_eq!(
            parsed(&["--full-policy", "DROP"]).full_policy,
            Some(FullPolicy::Drop)
        );
        assert_eq!(
            parsed(&["--full-policy=block"]).full_policy,
            Some(FullPolicy::default())
        );
        let error = error(&["--full-policy", "wait"]);
        assert!(
            error.contains("--full-policy") && error.contains("'wait'"),
            "{error}"
        );
    }

    #[test]
    fn flags_take_values_both_ways() {
        let args = parsed(&[
            "--endpoint=http://127.0.0.1:4317",
            "--protocol",
            "GRPC",
            "--spans",
            "1000",
            "--workers=4",
            "--rate",
            "2500.5",
            "--attributes",
            "0",
            "--header",
            "x-api-key=a=b",
            "--header=x-b=c",
            "--duration",
            "1.5s",
            "--timeout",
            "250ms",
            "--json-summary",
        ]);
        assert_eq!(args.endpoint.as_deref(), Some("http://127.0.0.1:4317"));
        assert_eq!(args.protocol, Some(Protocol::Grpc));
        assert_eq!(args.spans, Some(1000));
        assert_eq!(args.workers, Some(4));
        assert_eq!(args.rate, Some(2500.5));
        assert_eq!(args.attributes, Some(0));
        assert_eq!(
            args.headers,
            vec![
                ("x-api-key".into(), "a=b".into()),
                ("x-b".into(), "c".into())
            ]
        );
        assert_eq!(args.duration, Some(Duration::from_millis(1500)));
        assert_eq!(args.timeout, Some(Duration::from_millis(250)));
        assert!(args.json_summary);
        assert!(!args.quiet);
    }

    #[test]
    fn a_repeated_flag_takes_its_last_value() {
        let args = parsed(&["--workers", "3", "--workers=5", "--quiet", "--quiet"]);
        assert_eq!(args.workers, Some(5));
        assert!(args.quiet);
        let headers = parsed(&["--header", "a=1", "--header", "a=2"]).headers;
        assert_eq!(
            headers,
            vec![("a".into(), "1".into()), ("a".into(), "2".into())]
        );
    }

    #[test]
    fn the_span_limit_defaults_unless_a_duration_is_given() {
        assert_eq!(parsed(&[]).span_limit(), Some(DEFAULT_SPANS));
        assert_eq!(parsed(&["--duration", "2"]).span_limit(), None);
        assert_eq!(
            parsed(&["--duration", "2", "--spans", "7"]).span_limit(),
            Some(7)
        );
    }

    #[test]
    fn the_signal_is_traces_unless_logs_are_asked_for() {
        assert_eq!(parsed(&[]).signal(), Signal::Traces);
        assert_eq!(parsed(&["--signal", "LOGS"]).signal(), Signal::Logs);
        assert_eq!(parsed(&["--signal=traces"]).signal(), Signal::Traces);
        let args = parsed(&["--signal", "logs", "--records", "42"]);
        assert_eq!(args.span_limit(), Some(42));
        assert_eq!(
            parsed(&["--signal", "logs", "--spans", "7"]).span_limit(),
            Some(7)
        );
        let conflict = error(&["--signal", "logs", "--span-ids", "ids.txt"]);
        assert!(
            conflict.contains("--span-ids") && conflict.contains("--signal logs"),
            "{conflict}"
        );
        let both = error(&["--spans", "1", "--records", "2"]);
        assert!(
            both.contains("--records") && both.contains("--spans"),
            "{both}"
        );
    }

    #[test]
    fn metrics_take_series_and_an_export_interval_and_refuse_batching_flags() {
        let args = parsed(&["--signal", "Metrics", "--records", "500", "--series", "20"]);
        assert_eq!(args.signal(), Signal::Metrics);
        assert_eq!(args.span_limit(), Some(500));
        assert_eq!(args.series(), 20);
        assert_eq!(parsed(&["--signal", "metrics"]).series(), DEFAULT_SERIES);
        let args = parsed(&["--signal=metrics", "--export-interval", "250ms"]);
        assert_eq!(args.export_interval, Some(Duration::from_millis(250)));
        // One series needs no attribute to tell it apart.
        assert_eq!(
            parsed(&["--signal", "metrics", "--series", "1", "--attributes", "0"]).series(),
            1
        );
        for flag in [
            &["--queue-size", "10"][..],
            &["--batch-size", "10"],
            &["--full-policy", "drop"],
            &["--span-ids", "ids.txt"],
            &["--metrics", "127.0.0.1:0"],
        ] {
            let message = error(&[&["--signal", "metrics"][..], flag].concat());
            assert!(
                message.contains(flag[0]) && message.contains("not --signal metrics"),
                "{message}"
            );
        }
        let message = error(&["--signal", "metrics", "--attributes", "0"]);
        assert!(message.contains("--attributes 0"), "{message}");
        for (flag, value) in [("--series", "5"), ("--export-interval", "1s")] {
            for signal in ["traces", "logs"] {
                let message = error(&["--signal", signal, flag, value]);
                assert!(
                    message.contains(flag) && message.contains(&format!("not --signal {signal}")),
                    "{message}"
                );
            }
        }
    }

    #[test]
    fn durations_have_units() {
        assert_eq!(duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        // A bare number as Rust reads one, exponent included.
        assert_eq!(duration("1e3"), Ok(Duration::from_secs(1000)));
        assert_eq!(duration("1.5e3ms"), Ok(Duration::from_millis(1500)));
        for bad in [
            "", "0", "-1s", "1d", "abc", "NaN", "inf", "ms", "1 ms s", "5sm",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    /// A positive number of seconds below half a nanosecond is a zero
    /// `Duration`: refused as "0" is, not a run of no time or a zero timeout.
    #[test]
    fn durations_shorter_than_a_nanosecond_are_refused_naming_the_flag() {
        for (args, flag, value) in [
            (
                &["--duration", "0.0000000001"][..],
                "--duration",
                "0.0000000001",
            ),
            (&["--timeout", "0.0000001ms"], "--timeout", "0.0000001ms"),
            (
                &["--shutdown-timeout", "0.0000000001s"],
                "--shutdown-timeout",
                "0.0000000001s",
            ),
            (
                &["--signal", "metrics", "--export-interval", "0.0000000001"],
                "--export-interval",
                "0.0000000001",
            ),
        ] {
            let error = error(args);
            assert!(
                error.contains(flag)
                    && error.contains(&format!("'{value}'"))
                    && error.contains("nanosecond"),
                "{args:?}: {error}"
            );
        }
        assert_eq!(duration("0.000000001"), Ok(Duration::from_nanos(1)));
        assert_eq!(duration("0.000001ms"), Ok(Duration::from_nanos(1)));
    }

    #[test]
    fn rates_below_the_slowest_are_refused_naming_rate() {
        for tiny in ["1e-20", "5e-324", "0.0009"] {
            let error = error(&["--rate", tiny]);
            assert!(
                error.contains("--rate") && error.contains("slowest rate"),
                "{tiny}: {error}"
            );
        }
        assert_eq!(parsed(&["--rate", "0.001"]).rate, Some(MIN_RATE));
    }

    #[test]
    fn errors_name_the_flag_and_the_value() {
        for (args, flag, value) in [
            (&["--workers", "abc"][..], "--workers", "abc"),
            (&["--workers", "0"], "--workers", "0"),
            (&["--workers", "4097"], "--workers", "4097"),
            (&["--spans", "-5"], "--spans", "-5"),
            (&["--protocol", "http"], "--protocol", "http"),
            (&["--signal", "profiles"], "--signal", "profiles"),
            (&["--series", "0"], "--series", "0"),
            (&["--series", "100001"], "--series", "100001"),
            (&["--export-interval", "0s"], "--export-interval", "0s"),
            (&["--records", "0"], "--records", "0"),
            (&["--rate", "0"], "--rate", "0"),
            (&["--rate", "1e-20"], "--rate", "1e-20"),
            (&["--rate", "0.0009"], "--rate", "0.0009"),
            (&["--attributes", "129"], "--attributes", "129"),
            (&["--compression", "brotli"], "--compression", "brotli"),
            (
                &["--endpoint", "localhost:4317"],
                "--endpoint",
                "localhost:4317",
            ),
            (&["--endpoint", "http://"], "--endpoint", "http://"),
            (&["--header", "novalue"], "--header", "<redacted>"),
            (&["--header", "bad name=x"], "--header", "<redacted>"),
            (&["--header", "x-b=1\u{7}"], "--header", "x-b=<redacted>"),
            (&["--duration", "soon"], "--duration", "soon"),
            (&["--timeout", "0"], "--timeout", "0"),
            (&["--service-name", " "], "--service-name", " "),
            (&["--metrics", "9464"], "--metrics", "9464"),
        ] {
            let error = error(args);
            assert!(
                error.contains(flag) && error.contains(&format!("'{value}'")),
                "{args:?}: {error}"
            );
        }
        // The reason reads as one sentence, the characters right after "and".
        let header = error(&["--header", "bad name=x"]);
        assert!(
            header.contains("not a header name (letters, digits and !#$%&'*+-.^_`|~)"),
            "{header}"
        );
        assert!(error(&["--bogus"]).contains("--bogus"));
        assert!(error(&["--bogus=value"]).contains("--bogus"));
        // A typo gets a suggestion.
        assert!(error(&["--span", "5"]).contains("--spans"));
        let missing = error(&["--spans"]);
        assert!(
            missing.contains("--spans") && missing.contains("a value is required"),
            "{missing}"
        );
        assert!(error(&["--quiet=yes"]).contains("--quiet"));
        let error = error(&["--queue-size", "100", "--batch-size", "200"]);
        assert!(
            error.contains("--batch-size") && error.contains("--queue-size"),
            "{error}"
        );
    }

    /// Every option that takes a value (found in the command, so that a new
    /// one is covered): `-1` after it is its value, refused naming it (but
    /// by `--service-name`, whose names may start with `-`); a word that is
    /// one of the options leaves it without a value; a value that is not
    /// UTF-8 is refused naming it, but for a file name, taken as given.
    #[test]
    fn every_option_that_takes_a_value_reads_one_starting_with_a_dash() {
        let mut command = Args::command();
        command.build();
        let options: Vec<String> = command
            .get_arguments()
            .filter(|arg| arg.get_action().takes_values())
            .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
            .collect();
        assert!(options.len() >= 22, "{options:?}");
        for option in &options {
            let missing = error(&[option, "--quiet"]);
            assert!(
                missing.contains(&format!("a value is required for '{option} <")),
                "{option}: {missing}"
            );
            if option == "--service-name" {
                assert_eq!(parsed(&[option, "-1"]).service_name.as_deref(), Some("-1"));
                continue;
            }
            let shown = if option == "--header" { REDACTED } else { "-1" };
            let refused = error(&[option, "-1"]);
            assert!(
                refused.contains(&format!("invalid value '{shown}' for '{option} <")),
                "{option}: {refused}"
            );
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let not_utf8 = OsStr::from_bytes(b"a\xff");
            for option in &options {
                let parsed =
                    Args::parse_checked(["otlp-loadgen".as_ref(), OsStr::new(option), not_utf8]);
                if option == "--config" || option == "--span-ids" {
                    let args = parsed.expect("a file name that is not UTF-8");
                    let file = args.config.or(args.span_ids);
                    assert_eq!(file.as_deref(), Some(std::path::Path::new(not_utf8)));
                    continue;
                }
                let shown = if option == "--header" {
                    REDACTED
                } else {
                    "a\u{FFFD}"
                };
                let error = parsed.expect_err(option).to_string();
                assert!(
                    error.contains(&format!("invalid value '{shown}' for '{option} <"))
                        && error.contains("not valid UTF-8"),
                    "{option}: {error}"
                );
            }
        }
    }

    /// A value an option takes may start with `-` (a header name, a
    /// service name), given apart or attached; a file name may not (more
    /// likely a mistyped option), and the error says how to name the file.
    #[test]
    fn a_value_starting_with_a_dash_is_taken_where_the_option_takes_it() {
        let args = parsed(&[
            "--header",
            "-x=1",
            "--service-name",
            "-svc",
            "--header=-y=2",
        ]);
        assert_eq!(
            args.headers,
            vec![("-x".into(), "1".into()), ("-y".into(), "2".into())]
        );
        assert_eq!(args.service_name.as_deref(), Some("-svc"));
        for args in [&["--span-ids", "-ids.txt"][..], &["--config=-c.yaml"]] {
            let error = error(args);
            assert!(
                error.contains("starts with '-'") && error.contains("./-"),
                "{args:?}: {error}"
            );
        }
        // Not a secret shown: a header value after a refused one.
        let error = error(&["--header", "-x=s3cret\u{1}"]);
        assert!(
            error.contains("'-x=<redacted>'") && !error.contains("s3cret"),
            "{error}"
        );
    }

    /// A word typed without its flag is echoed by clap's "unexpected
    /// argument" error: an endpoint's password and a header's value are not.
    #[test]
    fn an_unexpected_word_is_shown_without_its_secret() {
        for (word, shown) in [
            (
                "http://user:pw@collector:4318",
                "'http://<redacted>@collector:4318'",
            ),
            ("user:pw@collector:4317", "'<redacted>@collector:4317'"),
            ("x-api-key=secret", "'x-api-key=<redacted>'"),
            ("Authorization: Bearer=tok", "'<redacted>'"),
        ] {
            let error = error(&["--endpoint", "http://localhost:4318", word]);
            assert!(
                error.contains("unexpected argument") && error.contains(shown),
                "{word}: {error}"
            );
            for secret in ["pw", "secret", "tok"] {
                assert!(!error.contains(secret), "{word}: {error}");
            }
        }
        // A mistyped word with nothing secret is shown as typed.
        assert!(error(&["sapns"]).contains("'sapns'"));
    }

    /// Every option the parser knows is in `--help` (none hidden), so a
    /// new one cannot be left out of the list users read.
    #[test]
    fn help_lists_every_flag() {
        let help = parse_strs(&["--help"]).expect_err("help").to_string();
        let mut command = Args::command();
        command.build();
        for long in command.get_arguments().filter_map(|arg| arg.get_long()) {
            assert!(help.contains(&format!("--{long}")), "--{long}: {help}");
        }
    }

    /// `--endpoint` takes the path of the signal sent: a traces URL given to
    /// `--signal logs` is a base URL, and gets `/v1/logs` appended.
    #[test]
    fn help_gives_the_endpoint_path_of_every_signal() {
        let help = Args::command()
            .get_arguments()
            .find(|arg| arg.get_long() == Some("endpoint"))
            .and_then(|arg| arg.get_help())
            .map(ToString::to_string)
            .expect("--endpoint has a help text");
        for path in ["/v1/traces", "/v1/logs", "/v1/metrics"] {
            assert!(help.contains(path), "{path}: {help}");
        }
    }

    /// The `--span-ids` file is created or emptied, not appended to
    /// (`SpanIdLog::create`): its lines are the spans of this run only, and
    /// the help says so, where it said "Append".
    #[test]
    fn help_says_the_span_ids_file_is_emptied_first() {
        let help = Args::command()
            .get_arguments()
            .find(|arg| arg.get_long() == Some("span-ids"))
            .and_then(|arg| arg.get_help())
            .map(ToString::to_string)
            .expect("--span-ids has a help text");
        assert!(!help.contains("Append"), "{help}");
        assert!(help.contains("emptied first"), "{help}");
    }

    #[test]
    fn help_and_version_exit_0_and_bad_usage_2() {
        let help = parse_strs(&["--help"]).expect_err("help");
        assert_eq!(help.kind(), ErrorKind::DisplayHelp);
        assert_eq!(help.exit_code(), 0);
        let text = help.to_string();
        for part in [
            "--header <K=V>",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "Exit status",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        let version = parse_strs(&["--version"]).expect_err("version");
        assert_eq!(version.kind(), ErrorKind::DisplayVersion);
        assert!(version.to_string().contains(env!("CARGO_PKG_VERSION")));
        assert_eq!(parse_strs(&["--bogus"]).expect_err("bogus").exit_code(), 2);
        let conflict = parse_strs(&["--queue-size=1", "--batch-size=2"]).expect_err("conflict");
        assert_eq!(conflict.exit_code(), 2);
    }
}
