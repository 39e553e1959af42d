//! `otlp-loadgen`: load-tests an OTLP trace, logs or metrics endpoint through
//! the otlp-rust pipeline (native tracer and `BatchSpanProcessor`; native
//! logger and `BatchLogProcessor` with `--signal logs`; a counter and a
//! histogram of a `MeterProvider` read by a `PeriodicReader` with `--signal
//! metrics`; our gRPC and HTTP exporters). See `otlp-loadgen --help` (or
//! [`args::Args`]).

/// `eprintln!` that does not panic: a stderr whose reader went away
/// (`otlp-loadgen 2>&1 | head -1`) loses the line, not the run.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod args;
#[path = "../support/option_values.rs"]
mod option_values;
mod report;
mod workload;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use otlp_contrib::metrics::{Exposition, Labels, MetricsServer};
use otlp_contrib::pipeline::{
    PipelineBuildError, build_log_processor, build_processor, metric_exporter_from_config,
};
use otlp_exporter_grpc::BuildError;
use otlp_exporter_http::HttpExporterError;
use otlp_sdk::config::{Config, ConfigError, ConfigLoader, MetricsConfig};
use otlp_sdk::metrics::{MeterProvider, PeriodicReader};
use otlp_sdk::{
    BatchLogProcessor, BatchSpanProcessor, LoggerProvider, PipelineError, StatsSnapshot,
    TracerProvider,
};

use crate::args::{Args, Signal};
use crate::report::{MetricsSummary, Progress, Summary};
use crate::workload::{Plan, SeriesUsed, Source, SpanIdLog, Workers};

/// Exit status when some spans (log records, metric data points) were not delivered.
const EXIT_UNDELIVERED: u8 = 3;
/// The metrics export interval when neither `--export-interval` nor the
/// configuration sets one: short, so that a run of seconds exports several
/// times (the specification's default, 60 s, would export only at shutdown).
const DEFAULT_METRIC_EXPORT_INTERVAL: Duration = Duration::from_secs(1);
/// How long the pipeline may take to settle when `--shutdown-timeout` is not given.
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// `service.name` when neither the options nor the configuration name one.
const DEFAULT_SERVICE_NAME: &str = "otlp-loadgen";

/// Why the run ended early, with its exit status.
struct Failure {
    status: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            status: 2,
            message: message.into(),
        }
    }

    fn start(message: impl Into<String>) -> Self {
        Failure {
            status: 1,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    // `--help` and `--version` exit 0 here, bad usage 2 with clap's message.
    let args = Args::from_command_line();
    match run(args) {
        Ok(status) => ExitCode::from(status),
        Err(failure) => {
            note!("otlp-loadgen: {}", failure.message);
            if failure.status == 2 {
                note!("Try `otlp-loadgen --help`.");
            }
            ExitCode::from(failure.status)
        }
    }
}

/// The pipeline under load: spans, log records or metrics.
enum Pipeline {
    Traces {
        provider: TracerProvider,
        processor: BatchSpanProcessor,
    },
    Logs {
        provider: LoggerProvider,
        processor: BatchLogProcessor,
    },
    Metrics {
        provider: MeterProvider,
        /// Recordings made so far, as the workers report them.
        recordings: Arc<AtomicU64>,
        /// The series (attribute sets) recorded on so far.
        series_used: Arc<SeriesUsed>,
    },
}

impl Pipeline {
    fn start(args: &Args, config: &Config) -> Result<Pipeline, Failure> {
        let signal = args.signal();
        let failed = |error: PipelineBuildError| build_failure(args, &error);
        Ok(match signal {
            Signal::Traces => {
                let processor = build_processor(config).map_err(failed)?;
                let provider = TracerProvider::builder()
                    .with_config(config)
                    .with_processor(processor.clone())
                    .build();
                Pipeline::Traces {
                    provider,
                    processor,
                }
            }
            Signal::Logs => {
                let processor = build_log_processor(config).map_err(failed)?;
                let provider = LoggerProvider::builder()
                    .with_config(config)
                    .with_processor(processor.clone())
                    .build();
                Pipeline::Logs {
                    provider,
                    processor,
                }
            }
            Signal::Metrics => {
                let exporter = metric_exporter_from_config(config).map_err(failed)?;
                let not_started =
                    |error: otlp_sdk::metrics::MetricsError| Failure::start(error.to_string());
                // The reader's `with_config` takes the interval, the timeout,
                // the retry policy (`OTLP__RETRY__*`, the pipeline's too) and
                // the request size cap.
                let reader = PeriodicReader::builder(exporter)
                    .with_config(config)
                    .build()
                    .map_err(not_started)?;
                let provider = MeterProvider::builder()
                    .with_config(config)
                    .with_reader(reader)
                    .build()
                    .map_err(not_started)?;
                Pipeline::Metrics {
                    provider,
                    recordings: Arc::new(AtomicU64::new(0)),
                    series_used: Arc::new(SeriesUsed::new(args.series())),
                }
            }
        })
    }

    fn source(&self) -> Source<'_> {
        match self {
            Pipeline::Traces { provider, .. } => Source::Traces(provider),
            Pipeline::Logs { provider, .. } => Source::Logs(provider),
            Pipeline::Metrics {
                provider,
                recordings,
                series_used,
            } => Source::Metrics {
                provider,
                recordings,
                series_used,
            },
        }
    }

    /// A function that reads the span or log pipeline's stats, for the
    /// metrics server (`None` for metrics: `--metrics` is refused there).
    fn stats_reader(&self) -> Option<Box<dyn Fn() -> StatsSnapshot + Send + Sync>> {
        match self {
            Pipeline::Traces { processor, .. } => {
                let processor = processor.clone();
                Some(Box::new(move || processor.stats()))
            }
            Pipeline::Logs { processor, .. } => {
                let processor = processor.clone();
                Some(Box::new(move || processor.stats()))
            }
            Pipeline::Metrics { .. } => None,
        }
    }

    /// One progress line.
    fn report(&self, progress: &mut Progress) {
        match self {
            Pipeline::Traces { processor, .. } => progress.report(&processor.stats()),
            Pipeline::Logs { processor, .. } => progress.report(&processor.stats()),
            Pipeline::Metrics {
                provider,
                recordings,
                ..
            } => progress.report_metrics(recordings.load(Ordering::Relaxed), &provider.stats()),
        }
    }

    /// Shuts the pipeline down: what is queued (for metrics, a last
    /// collection) is exported by `timeout`.
    fn shutdown(&self, timeout: Duration) -> Result<(), String> {
        let error = |error: PipelineError| error.to_string();
        match self {
            Pipeline::Traces { provider, .. } => provider.shutdown(timeout).map_err(error),
            Pipeline::Logs { provider, .. } => provider.shutdown(timeout).map_err(error),
            Pipeline::Metrics { provider, .. } => provider
                .shutdown(timeout)
                .map_err(|error| error.to_string()),
        }
    }
}

/// What the run did, apart from the pipeline's counts.
struct Run<'a> {
    config: &'a Config,
    signal: Signal,
    workers: usize,
    sent_in: Duration,
    elapsed: Duration,
    /// An interrupt came while the workers were producing (not during the drain).
    interrupted: bool,
    shutdown_error: Option<String>,
}

/// The text summary, the JSON summary and whether everything was delivered.
fn summarise(pipeline: &Pipeline, run: Run<'_>) -> (String, String, bool) {
    let records = |stats: &StatsSnapshot| {
        let summary = Summary {
            config: run.config,
            signal: run.signal,
            workers: run.workers,
            stats,
            sent_in: run.sent_in,
            elapsed: run.elapsed,
            interrupted: run.interrupted,
            shutdown_error: run.shutdown_error.clone(),
        };
        (summary.text(), summary.json(), summary.all_delivered())
    };
    match pipeline {
        Pipeline::Traces { processor, .. } => records(&processor.stats()),
        Pipeline::Logs { processor, .. } => records(&processor.stats()),
        Pipeline::Metrics {
            provider,
            recordings,
            series_used,
        } => {
            let stats = provider.stats();
            let summary = MetricsSummary {
                config: run.config,
                workers: run.workers,
                recordings: recordings.load(Ordering::SeqCst),
                series: series_used.distinct(),
                stats: &stats,
                sent_in: run.sent_in,
                elapsed: run.elapsed,
                interrupted: run.interrupted,
                shutdown_error: run.shutdown_error.clone(),
            };
            (summary.text(), summary.json(), summary.all_delivered())
        }
    }
}

fn run(args: Args) -> Result<u8, Failure> {
    // SIGINT and SIGTERM are caught from here on, before the configuration
    // is read and the pipeline starts: a signal sent as soon as the process
    // is up (or its `metrics at` line is out) must end the run with its
    // summary, not kill it by the signal's default action.
    let stop = Arc::new(AtomicBool::new(false));
    stop_on_interrupt(stop.clone());
    let signal = args.signal();
    let config = configure(&args)?;
    if config.is_disabled(signal.sdk()) {
        let why = if config.disabled {
            "OTEL_SDK_DISABLED is true".to_owned()
        } else {
            format!("{} is none", signal.sdk().exporter_variable())
        };
        note!(
            "otlp-loadgen: warning: {why}: no {} will be recorded",
            signal.sdk().record_noun()
        );
    }
    if let Some(warning) = durable_warning(signal, &config) {
        note!("otlp-loadgen: warning: {warning}");
    }
    let pipeline = Pipeline::start(&args, &config)?;
    let _metrics = match (args.metrics, pipeline.stats_reader()) {
        (Some(addr), Some(stats)) => {
            // The metric names are the pipeline's records': `otlp_sdk_spans_*`
            // or `otlp_sdk_log_records_*` (metrics have no batch pipeline).
            let records = match signal {
                Signal::Traces | Signal::Metrics => otlp_sdk::Signal::Traces,
                Signal::Logs => otlp_sdk::Signal::Logs,
            };
            let server = MetricsServer::start_with(addr, move || {
                Exposition::new()
                    .pipeline_for(records, Labels::none(), stats())
                    .render()
            })
            // Named by the flag and its value, as every other start failure.
            .map_err(|error| Failure::start(format!("--metrics {addr}: {error}")))?;
            note!("otlp-loadgen: metrics at {}", server.url());
            Some(server)
        }
        _ => None,
    };

    let workers = args.workers.unwrap_or(1);
    let span_ids = match &args.span_ids {
        Some(path) => Some(SpanIdLog::create(path).map_err(|error| {
            Failure::start(format!(
                "cannot create the --span-ids file {}: {error}",
                path.display()
            ))
        })?),
        None => None,
    };
    let plan = Plan {
        total_spans: args.span_limit(),
        duration: args.duration,
        rate: args.rate,
        attributes: args.attributes.unwrap_or(match signal {
            Signal::Traces | Signal::Logs => workload::DEFAULT_ATTRIBUTES,
            Signal::Metrics => workload::DEFAULT_METRIC_ATTRIBUTES,
        }),
        span_ids: span_ids.clone(),
        series: args.series(),
    };
    let mut running = Workers::start(pipeline.source(), workers, &plan, stop.clone())
        .map_err(|error| Failure::start(format!("cannot start a worker thread: {error}")))?;
    let started = running.started();

    let mut progress = Progress::new(!args.quiet, std::io::stderr().is_terminal(), started);
    while !running.wait(Duration::from_secs(1)) {
        pipeline.report(&mut progress);
    }
    let sent_in = started.elapsed();
    // Whether an interrupt ended the production early: one during the drain
    // below stops nothing that was still to be sent.
    let interrupted = stop.load(Ordering::SeqCst);
    progress.finish();
    if let Some(Err(error)) = span_ids.as_ref().map(SpanIdLog::finish) {
        note!("otlp-loadgen: warning: the --span-ids file is incomplete: {error}");
    }

    let shutdown_timeout = args.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);
    let shutdown = pipeline.shutdown(shutdown_timeout);
    let elapsed = started.elapsed();
    let (text, json, all_delivered) = summarise(
        &pipeline,
        Run {
            config: &config,
            signal,
            workers,
            sent_in,
            elapsed,
            interrupted,
            shutdown_error: shutdown.err(),
        },
    );
    let written = (|| {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        if args.json_summary {
            writeln!(stdout, "{json}")?;
        }
        stdout.flush()
    })();
    match written {
        // A reader gone early (`| head -1`) has all it wanted.
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::start(
            format!("cannot write the summary to standard output: {error}"),
        )),
        _ => Ok(if all_delivered { 0 } else { EXIT_UNDELIVERED }),
    }
}

/// Why the durable queue the configuration names keeps nothing of
/// `signal`: `durable.directory` is the span pipeline's, and a run of
/// another signal that names only it would otherwise lose at a shutdown
/// during an outage what the user expected on disk, without a word.
fn durable_warning(signal: Signal, config: &Config) -> Option<String> {
    config.durable.as_ref()?;
    match signal {
        Signal::Traces => None,
        Signal::Logs if config.logs.durable.is_some() => None,
        Signal::Logs => Some(
            "durable.directory (OTLP__DURABLE__DIRECTORY) is the span pipeline's durable queue: \
             --signal logs keeps nothing on disk; set logs.durable.directory \
             (OTLP__LOGS__DURABLE__DIRECTORY) to a directory of its own"
                .to_owned(),
        ),
        Signal::Metrics => Some(
            "durable.directory (OTLP__DURABLE__DIRECTORY) is the span pipeline's durable queue: \
             --signal metrics keeps nothing on disk (metrics have no durable queue)"
                .to_owned(),
        ),
    }
}

/// The configuration: files and `OTEL_*` / `OTLP__` variables, then the
/// options, which apply to the pipeline of `--signal` (`exporter` and `batch`
/// for traces, `logs.exporter` and `logs.batch` for logs, `metrics.exporter`
/// and `metrics.export_interval` for metrics).
fn configure(args: &Args) -> Result<Config, Failure> {
    let mut loader = ConfigLoader::new();
    if let Some(path) = &args.config {
        loader = loader.with_file(path);
    }
    let mut config = loader
        .load()
        .map_err(|error| match (&error, &args.config) {
            // The file `--config` named: the flag is named with it.
            (ConfigError::FileUnreadable { path, .. }, Some(given)) if path == given => {
                Failure::usage(format!("--config: {error}"))
            }
            _ => Failure::usage(format!("invalid configuration: {error}")),
        })?;
    let signal = args.signal();
    let exporter = match signal {
        Signal::Traces => &mut config.exporter,
        Signal::Logs => &mut config.logs.exporter,
        Signal::Metrics => &mut config.metrics.exporter,
    };
    if let Some(protocol) = args.protocol {
        exporter.protocol = protocol;
    }
    if let Some(endpoint) = &args.endpoint {
        // The option wins over both endpoint variables: a URL whose path
        // ends in the signal's (whatever its query or fragment) is used as
        // given, any other is the base URL.
        let path = endpoint.split(['?', '#']).next().unwrap_or_default();
        let full = path
            .trim_end_matches('/')
            .ends_with(&format!("/v1/{}", signal.as_str()));
        let own = match signal {
            Signal::Traces => &mut exporter.traces_endpoint,
            Signal::Logs => &mut exporter.logs_endpoint,
            Signal::Metrics => &mut exporter.metrics_endpoint,
        };
        if full {
            *own = Some(endpoint.clone());
        } else {
            exporter.endpoint = Some(endpoint.clone());
            *own = None;
        }
    }
    if let Some(compression) = args.compression {
        exporter.compression = compression;
    }
    for (name, value) in &args.headers {
        exporter.headers.insert(name.clone(), value.clone());
    }
    if let Some(timeout) = args.timeout {
        exporter.timeout = timeout;
    }
    let batch = match signal {
        Signal::Traces => Some(&mut config.batch),
        Signal::Logs => Some(&mut config.logs.batch),
        Signal::Metrics => None,
    };
    if let Some(batch) = batch {
        if let Some(queue) = args.queue_size {
            batch.max_queue_size = Some(queue);
            if args.batch_size.is_none() {
                batch.max_export_batch_size = batch.max_export_batch_size.min(queue);
            }
        }
        if let Some(size) = args.batch_size {
            batch.max_export_batch_size = size;
        }
        if let Some(policy) = args.full_policy {
            batch.full_policy = policy;
        }
        batch.min_export_batch_size = batch.min_export_batch_size.min(batch.max_export_batch_size);
    }
    if signal == Signal::Metrics {
        let metrics = &mut config.metrics;
        if let Some(interval) = args.export_interval {
            metrics.export_interval = interval;
        } else if metrics.export_interval == MetricsConfig::DEFAULT_EXPORT_INTERVAL {
            metrics.export_interval = DEFAULT_METRIC_EXPORT_INTERVAL;
        }
    }
    if let Some(name) = &args.service_name {
        config.service_name = Some(name.clone());
    } else if config.effective_service_name().is_none() {
        config.service_name = Some(DEFAULT_SERVICE_NAME.to_owned());
    }
    config
        .validate()
        .map_err(|error| Failure::usage(settings_error(args, &error)))?;
    Ok(config)
}

/// The message for settings the configuration refuses once the options are
/// in. Some option values are only checked there: `--endpoint` (its own
/// parser asks for a scheme and a host) and `--batch-size` against a queue
/// size from the configuration. An error on a key an option set names the
/// option, not the key (`exporter.endpoint`, "from builder": `validate`
/// knows no other source); the value is the configuration's, user-info
/// redacted.
///
/// An endpoint from the configuration is refused only when `--protocol`
/// changed the rules (a gRPC endpoint without a scheme, for HTTP): the
/// configuration alone was valid, so the message names `--protocol`.
fn settings_error(args: &Args, error: &ConfigError) -> String {
    let key = error.key().unwrap_or_default();
    match (option_of(args, key), error.value(), args.protocol) {
        (Some(option), Some(value), _) => {
            format!("invalid value {value:?} for {option}: {}", error.reason())
        }
        (None, Some(value), Some(protocol)) if key.ends_with("endpoint") => format!(
            "--protocol {protocol} does not suit the endpoint {value:?} the configuration \
             gives ({key}): {}",
            error.reason()
        ),
        _ => format!("invalid settings: {error}"),
    }
}

/// Why the pipeline could not be built. An endpoint or a header the exporter
/// refuses (past `validate`: a host its URL parser refuses, a query on a gRPC
/// endpoint, a header it sets itself or gRPC reserves) is bad usage when an
/// option gave it, and the message names the option; the rest cannot start
/// (status 1).
fn build_failure(args: &Args, error: &PipelineBuildError) -> Failure {
    let given_header = |name: &str| {
        args.headers
            .iter()
            .any(|(given, _)| given.eq_ignore_ascii_case(name))
    };
    let option = match error {
        PipelineBuildError::Grpc(BuildError::InvalidEndpoint { .. })
        | PipelineBuildError::Http(HttpExporterError::InvalidEndpoint { .. }) => {
            args.endpoint.is_some().then_some("--endpoint")
        }
        PipelineBuildError::Grpc(BuildError::InvalidHeader { name, .. })
        | PipelineBuildError::Http(
            HttpExporterError::InvalidHeaderName { name }
            | HttpExporterError::InvalidHeaderValue { name }
            | HttpExporterError::ReservedHeader { name },
        ) => given_header(name).then_some("--header"),
        _ => None,
    };
    match option {
        Some(option) => Failure::usage(format!("{option}: {error}")),
        None => Failure::start(error.to_string()),
    }
}

/// The option given on the command line that set `key` (a dotted key, in
/// the scope of `--signal`: `logs.batch.max_queue_size` for logs).
fn option_of(args: &Args, key: &str) -> Option<&'static str> {
    let signal = args.signal();
    let scope = match signal {
        Signal::Traces => "",
        Signal::Logs => "logs.",
        Signal::Metrics => "metrics.",
    };
    let key = key.strip_prefix(scope)?;
    let own_endpoint = format!("exporter.{}_endpoint", signal.as_str());
    let (option, given) = match key {
        "exporter.endpoint" => ("--endpoint", args.endpoint.is_some()),
        _ if key == own_endpoint => ("--endpoint", args.endpoint.is_some()),
        "batch.max_export_batch_size" => ("--batch-size", args.batch_size.is_some()),
        "batch.max_queue_size" => ("--queue-size", args.queue_size.is_some()),
        _ => return None,
    };
    given.then_some(option)
}

/// On the first Ctrl-C (or SIGTERM), stop producing and let the run drain and
/// summarise; on the second, exit at once. Returns once the handlers are
/// installed (on Unix): a signal that comes after the call is caught.
fn stop_on_interrupt(stop: Arc<AtomicBool>) {
    let (installed, on_installed) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("otlp-loadgen-signals".into())
        .spawn(move || {
            let ready = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .and_then(|runtime| {
                    let signals = {
                        let _entered = runtime.enter();
                        Signals::new()?
                    };
                    Ok((runtime, signals))
                });
            let (runtime, mut signals) = match ready {
                Ok(ready) => ready,
                Err(error) => {
                    let _ = installed.send(Err(error));
                    return;
                }
            };
            let _ = installed.send(Ok(()));
            runtime.block_on(async {
                signals.next().await;
                stop.store(true, Ordering::SeqCst);
                note!("\notlp-loadgen: interrupted: draining (interrupt again to quit now)");
                // 128 + the signal's number, as a shell reports a process
                // the signal killed.
                let status = signals.next().await;
                std::process::exit(status);
            });
        });
    let installed = match spawned {
        // A thread that ends without a word failed to set up.
        Ok(_) => on_installed
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("the signal thread ended"))),
        Err(error) => Err(error),
    };
    if let Err(error) = installed {
        note!("otlp-loadgen: warning: Ctrl-C will not drain: {error}");
    }
}

/// SIGINT and SIGTERM (Ctrl-C elsewhere), listened to from the first call on.
#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for the next signal; the exit status it asks for when it
    /// quits at once: 130 for SIGINT, 143 for SIGTERM.
    async fn next(&mut self) -> i32 {
        tokio::select! {
            _ = self.interrupt.recv() => 130,
            _ = self.terminate.recv() => 143,
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Signals)
    }

    /// Waits for Ctrl-C; the exit status it asks for when it quits at once.
    async fn next(&mut self) -> i32 {
        let _ = tokio::signal::ctrl_c().await;
        130
    }
}
