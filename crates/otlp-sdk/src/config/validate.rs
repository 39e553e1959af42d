//! Validation of a whole [`Config`]: single-value checks (shared with the parsers
//! in `keys.rs`, so a bad value is caught where it is read) and the constraints
//! between settings, which can only be checked once every source is merged.

use std::collections::HashSet;
use std::fmt::Display;
use std::hash::Hash;
use std::time::Duration;

use super::error::{REDACTED, password_cut_off, redact_userinfo};
use super::origin::{Origins, SetBy};
use super::setting::{Scope, Setting};
use super::{
    BatchConfig, Config, ConfigError, ConfigSource, ConfigWarning, ExporterConfig, FullPolicy,
    MetricsConfig, PerformanceConfig, Protocol, TlsFile,
};
use crate::Signal;
use crate::durable::{DurableConfig, DurableError};
use crate::retry::RetryPolicy;

/// The largest request body: the OTLP specification's 64 MiB cap.
pub(crate) const MAX_REQUEST_BYTES: usize = otlp_core::encode::MAX_REQUEST_BYTES;

/// Checks `config`; errors name each key as `origins` recorded it.
pub(crate) fn validate(config: &Config, origins: &Origins) -> Result<(), ConfigError> {
    let report = Report {
        origins,
        scope: Scope::Shared,
    };
    service(config, &report)?;
    if let Some(arg) = config.sampler.arg {
        report.check(Setting::SamplerArg.dotted(), arg, sampler_ratio(arg))?;
    }
    exporter(&config.exporter, Signal::Traces, &report)?;
    batch(&config.batch, &report)?;
    let logs = Report {
        origins,
        scope: Scope::Logs,
    };
    exporter(&config.logs.exporter, Signal::Logs, &logs)?;
    batch(&config.logs.batch, &logs)?;
    let metrics_exporter = Report {
        origins,
        scope: Scope::Metrics,
    };
    exporter(&config.metrics.exporter, Signal::Metrics, &metrics_exporter)?;
    metrics(&config.metrics, &report)?;
    retry(&config.retry, &report)?;
    performance(&config.performance, &report)?;
    durable(config.durable.as_ref(), &report)?;
    durable(config.logs.durable.as_ref(), &logs)?;
    separate_durable_directories(config, &report, &logs)
}

/// The durable queue's own rules (a directory, sane sizes), reported against
/// the `durable.*` key at fault (`logs.durable.*` for the log pipeline's).
fn durable(durable: Option<&DurableConfig>, report: &Report<'_>) -> Result<(), ConfigError> {
    let Some(durable) = durable else {
        return Ok(());
    };
    match durable.validate() {
        Err(DurableError::InvalidConfig { key, reason }) => {
            let dotted = format!("durable.{key}");
            let value = match key {
                "directory" => durable.directory.display().to_string(),
                "segment_bytes" => durable.segment_bytes.to_string(),
                "max_bytes" => durable.max_bytes.to_string(),
                _ => format!("{:?}", durable.fsync),
            };
            let reason = if key == "directory" {
                let scoped = format!("{}durable.directory", report.scope.prefix());
                format!("the durable queue needs a directory ({scoped})")
            } else {
                reason
            };
            // As `Report::at_most`: a segment size a source set over the default
            // cap is the segment size's fault, not the untouched cap's.
            let (segment_key, max_key) = ("durable.segment_bytes", "durable.max_bytes");
            if key == "max_bytes" && report.is_recorded(segment_key) && !report.is_recorded(max_key)
            {
                let other = report.of(max_key).key;
                let reason = format!("must be at most {other} ({})", durable.max_bytes);
                return Err(report.error(segment_key, durable.segment_bytes, reason));
            }
            Err(report.error(&dotted, value, reason))
        }
        _ => Ok(()),
    }
}

/// The span and log pipelines' durable queues in one directory: refused,
/// naming both keys as their sources spelled them, since a directory holds
/// one signal's requests (the first pipeline to open it claims it, and the
/// other would fail to start). Compared as paths, component by component
/// (`/q` and `/q/` are one directory), without touching the file system:
/// two spellings of one directory through a link or `..` pass here, and the
/// queue's claim refuses the second pipeline when it starts.
fn separate_durable_directories(
    config: &Config,
    spans: &Report<'_>,
    logs: &Report<'_>,
) -> Result<(), ConfigError> {
    let (Some(span_queue), Some(log_queue)) = (&config.durable, &config.logs.durable) else {
        return Ok(());
    };
    if span_queue.directory != log_queue.directory {
        return Ok(());
    }
    let key = Setting::DurableDirectory.dotted();
    let other = spans.of(key).key;
    Err(logs.error(
        key,
        log_queue.directory.display(),
        format!(
            "the span pipeline's durable queue uses this directory too ({other}); a directory \
             holds one signal's requests: give the log pipeline a directory of its own"
        ),
    ))
}

/// Lenient loading's answer to a batch size above the count cap, for spans
/// and for logs: where a standard variable set either
/// (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_MAX_QUEUE_SIZE`, the
/// `OTEL_BLRP_*` pair), the batch size is lowered to the cap and the error
/// strict loading reports becomes a warning. The specification only says
/// the batch size must be at most the queue size, and asks for bad standard
/// values to be warned about and ignored; lowering it is what the other
/// SDKs do. Where both came from files or `OTLP__` overrides (ours), the
/// error stays, as every error there does. A lowered batch size is then
/// recorded as set by whoever set the queue size: a later error about it
/// names that key, which gave the value, not the batch size's, which gave
/// another.
pub(crate) fn clamp_batch_sizes(
    config: &mut Config,
    origins: &mut Origins,
    warnings: &mut Vec<ConfigWarning>,
) {
    for (batch, scope) in [
        (&mut config.batch, Scope::Shared),
        (&mut config.logs.batch, Scope::Logs),
    ] {
        let Some(cap) = batch.max_queue_size else {
            continue;
        };
        let (size, queue) = (Setting::BatchMaxExportBatchSize, Setting::BatchMaxQueueSize);
        let report = Report {
            origins: &*origins,
            scope,
        };
        let standard = |key: Setting| {
            matches!(report.of(key.dotted()).source,
                ConfigSource::Env(ref name) if name.starts_with("OTEL_"))
        };
        if !(standard(size) || standard(queue)) {
            continue;
        }
        if let Err(error) = report.at_most((size, batch.max_export_batch_size), (queue, cap)) {
            warnings.push(ConfigWarning(error.replaced_by(cap.to_string())));
            batch.max_export_batch_size = cap;
            let prefix = scope.prefix();
            origins.copy(
                &format!("{prefix}{}", queue.dotted()),
                &format!("{prefix}{}", size.dotted()),
            );
        }
    }
}

/// Checks the settings a pipeline is built from in code (the processor builder's
/// share of a [`Config`]); errors name the dotted keys, with origin `Builder`.
pub(crate) fn validate_pipeline(
    batch_config: &BatchConfig,
    retry_policy: &RetryPolicy,
    performance_config: &PerformanceConfig,
    attempt_timeout: Duration,
) -> Result<(), ConfigError> {
    given_in_code(|report| {
        report.check(
            Setting::ExporterTimeout.dotted(),
            Millis(&attempt_timeout),
            longer_than_zero(attempt_timeout),
        )?;
        batch(batch_config, report)?;
        retry(retry_policy, report)?;
        performance(performance_config, report)
    })
}

/// Runs `check` against a report for settings given in code: errors name
/// the dotted keys, with origin `Builder`.
fn given_in_code(
    check: impl FnOnce(&Report<'_>) -> Result<(), ConfigError>,
) -> Result<(), ConfigError> {
    let origins = Origins::new(ConfigSource::Builder);
    check(&Report {
        origins: &origins,
        scope: Scope::Shared,
    })
}

// Here, not in `retry.rs`: the check is the configuration's, and `retry.rs`
// importing this module would make the two (and `config`) import one another.
impl RetryPolicy {
    /// Checks the policy as configuration loading checks `retry.*`: both
    /// backoffs longer than 0, the maximum at least the initial, a finite
    /// multiplier of at least 1, a randomization factor between 0 and 1.
    /// The pipelines' and the metrics reader's builders refuse a policy
    /// that fails it (without backoff, retries of a request to a backend
    /// that is down would go without a pause until its deadline); so do the
    /// `opentelemetry_sdk` bridges of otlp-contrib. The error names the key
    /// (`retry.initial_backoff`...) and the value.
    ///
    /// ```
    /// use std::time::Duration;
    /// use otlp_sdk::RetryPolicy;
    ///
    /// assert!(RetryPolicy::default().validate().is_ok());
    /// let eager = RetryPolicy { initial_backoff: Duration::ZERO, ..RetryPolicy::default() };
    /// assert!(eager.validate().unwrap_err().to_string().contains("retry.initial_backoff"));
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        given_in_code(|report| retry(self, report))
    }
}

/// Checks the settings a metrics reader is built from in code, as
/// [`validate_pipeline`] checks a span or log pipeline's: the export timeout
/// (`metrics.export_timeout`), the retry policy and the request size cap;
/// errors name the dotted keys, with origin `Builder`.
pub(crate) fn validate_reader(
    export_timeout: Duration,
    retry_policy: &RetryPolicy,
    max_request_bytes: usize,
) -> Result<(), ConfigError> {
    given_in_code(|report| {
        report.check(
            Setting::MetricsExportTimeout.dotted(),
            Millis(&export_timeout),
            longer_than_zero(export_timeout),
        )?;
        retry(retry_policy, report)?;
        report.check(
            Setting::PerformanceMaxRequestBytes.dotted(),
            max_request_bytes,
            request_bytes(max_request_bytes),
        )
    })
}

/// Turns a failed check into an error naming the key as its source spelled it.
struct Report<'a> {
    origins: &'a Origins,
    /// Whose settings are checked: the dotted names given are the top-level
    /// ones (`batch.max_queue_size`), looked up with the scope's prefix
    /// (`logs.batch.max_queue_size`).
    scope: Scope,
}

impl Report<'_> {
    /// Who set `dotted` (in this report's scope).
    fn of(&self, dotted: &str) -> SetBy {
        self.origins.of(&format!("{}{dotted}", self.scope.prefix()))
    }

    /// Whether a source set `dotted` (in this report's scope).
    fn is_recorded(&self, dotted: &str) -> bool {
        self.origins
            .is_recorded(&format!("{}{dotted}", self.scope.prefix()))
    }

    fn error(&self, dotted: &str, value: impl Display, reason: impl Into<String>) -> ConfigError {
        let setting = self.of(dotted);
        ConfigError::invalid(setting.key, value.to_string(), reason, setting.source)
    }

    fn check(
        &self,
        dotted: &str,
        value: impl Display,
        result: Result<(), String>,
    ) -> Result<(), ConfigError> {
        result.map_err(|reason| self.error(dotted, value, reason))
    }

    /// `small <= big`. Reported against `small`, unless only `big` was set by a
    /// source (then the user's value is the one to blame).
    fn at_most(&self, small: (Setting, usize), big: (Setting, usize)) -> Result<(), ConfigError> {
        let ((small_key, small_value), (big_key, big_value)) = (small, big);
        if small_value <= big_value {
            return Ok(());
        }
        let (small_name, big_name) = (small_key.dotted(), big_key.dotted());
        if self.is_recorded(big_name) && !self.is_recorded(small_name) {
            let other = self.of(small_name).key;
            Err(self.error(
                big_name,
                big_value,
                format!("must be at least {other} ({small_value})"),
            ))
        } else {
            let other = self.of(big_name).key;
            Err(self.error(
                small_name,
                small_value,
                format!("must be at most {other} ({big_value})"),
            ))
        }
    }
}

fn service(config: &Config, report: &Report<'_>) -> Result<(), ConfigError> {
    if let Some(name) = &config.service_name {
        let result = non_blank(name);
        report.check(Setting::ServiceName.dotted(), name, result)?;
    }
    let attributes = &config.resource_attributes;
    let repeated = repeats(attributes.iter().map(|(key, _)| key.as_str()));
    for ((key, value), repeated) in attributes.iter().zip(repeated) {
        let dotted = format!("{}.{key}", Setting::ResourceAttributes.dotted());
        report.check(&dotted, value, attribute_key(key))?;
        if repeated {
            return Err(report.error(
                &dotted,
                value,
                format!("attribute key {key:?} appears twice"),
            ));
        }
    }
    Ok(())
}

/// For each of `keys`, in order, whether an earlier one equals it.
///
/// Cost: one hash-set insert per key, linear in their number (comparing each
/// key with every earlier one took over 20 s for 40 000 resource attributes).
fn repeats<K: Hash + Eq>(keys: impl IntoIterator<Item = K>) -> impl Iterator<Item = bool> {
    let mut seen = HashSet::new();
    keys.into_iter().map(move |key| !seen.insert(key))
}

/// Checks the exporter settings of the pipeline of `signal`.
fn exporter(
    exporter: &ExporterConfig,
    signal: Signal,
    report: &Report<'_>,
) -> Result<(), ConfigError> {
    let timeout = &exporter.timeout;
    report.check(
        Setting::ExporterTimeout.dotted(),
        Millis(timeout),
        longer_than_zero(*timeout),
    )?;
    let protocol = exporter.protocol;
    let own_endpoint = match signal {
        Signal::Traces => &exporter.traces_endpoint,
        Signal::Logs => &exporter.logs_endpoint,
        Signal::Metrics => &exporter.metrics_endpoint,
    };
    // The generic endpoint is checked only for a signal that uses it: one
    // with an endpoint of its own never does (`endpoint_for`), and may use
    // another protocol, whose rules the generic endpoint need not meet.
    if let (Some(url), None) = (&exporter.endpoint, own_endpoint) {
        let result = endpoint(url, protocol, Some(signal));
        report.check(
            Setting::ExporterEndpoint.dotted(),
            redact_userinfo(url),
            result,
        )?;
    }
    let own_endpoints = [
        (Setting::ExporterTracesEndpoint, &exporter.traces_endpoint),
        (Setting::ExporterLogsEndpoint, &exporter.logs_endpoint),
        (Setting::ExporterMetricsEndpoint, &exporter.metrics_endpoint),
    ];
    for (key, url) in own_endpoints {
        if let Some(url) = url {
            let result = endpoint(url, protocol, None);
            report.check(key.dotted(), redact_userinfo(url), result)?;
        }
    }
    for (name, value) in exporter.headers.iter() {
        let dotted = format!(
            "{}.{}",
            Setting::ExporterHeaders.dotted(),
            name.to_ascii_lowercase()
        );
        let result = header_name(name).and_then(|()| header_value(value));
        report.check(
            &dotted,
            REDACTED,
            result.map_err(|reason| format!("header {name:?}: {reason}")),
        )?;
    }
    tls(exporter, signal, report)
}

fn tls(exporter: &ExporterConfig, signal: Signal, report: &Report<'_>) -> Result<(), ConfigError> {
    let tls = &exporter.tls;
    // Paths are shown by `TlsFile::show`, the rule the exporters' TLS
    // errors follow too (`TlsFile::shown_path`).
    let paths = [
        (
            Setting::ExporterCertificate,
            TlsFile::Certificate,
            &tls.ca_certificate,
        ),
        (
            Setting::ExporterClientCertificate,
            TlsFile::ClientCertificate,
            &tls.client_certificate,
        ),
        (
            Setting::ExporterClientKey,
            TlsFile::ClientKey,
            &tls.client_key,
        ),
    ];
    for (key, file, path) in paths {
        if let Some(path) = path {
            let shown = file.show(path);
            report.check(key.dotted(), shown, non_blank(&path.to_string_lossy()))?;
        }
    }
    let (certificate, key) = (
        Setting::ExporterClientCertificate,
        Setting::ExporterClientKey,
    );
    // The missing half was set by no source: it is named by its key and
    // the variables that set it, whichever kind of source the user writes.
    match (&tls.client_certificate, &tls.client_key) {
        (Some(path), None) => {
            let other = TlsFile::ClientKey.setting(signal);
            let reason = format!("mTLS needs {other} too");
            let shown = TlsFile::ClientCertificate.show(path);
            Err(report.error(certificate.dotted(), shown, reason))
        }
        (None, Some(path)) => {
            let other = TlsFile::ClientCertificate.setting(signal);
            let reason = format!("mTLS needs {other} too");
            Err(report.error(key.dotted(), TlsFile::ClientKey.show(path), reason))
        }
        _ => Ok(()),
    }
}

fn batch(batch: &BatchConfig, report: &Report<'_>) -> Result<(), ConfigError> {
    if let Some(queue) = batch.max_queue_size {
        let key = Setting::BatchMaxQueueSize.dotted();
        report.check(key, queue, at_least_one(queue))?;
    }
    let counts = [
        (Setting::BatchMaxQueueBytes, batch.max_queue_bytes),
        (
            Setting::BatchMaxExportBatchSize,
            batch.max_export_batch_size,
        ),
        (
            Setting::BatchMinExportBatchSize,
            batch.min_export_batch_size,
        ),
        (
            Setting::BatchMaxConcurrentExports,
            batch.max_concurrent_exports,
        ),
    ];
    for (key, value) in counts {
        report.check(key.dotted(), value, at_least_one(value))?;
    }
    // A zero scheduled delay is valid: records are exported as they come.
    let timeout = batch.export_timeout;
    report.check(
        Setting::BatchExportTimeout.dotted(),
        Millis(&timeout),
        longer_than_zero(timeout),
    )?;
    if let FullPolicy::Block(timeout) = batch.full_policy {
        let key = Setting::BatchBlockTimeout.dotted();
        report.check(key, Millis(&timeout), longer_than_zero(timeout))?;
    }
    // Without a count cap the queue is bounded by bytes alone, and any batch size fits.
    if let Some(queue) = batch.max_queue_size {
        report.at_most(
            (
                Setting::BatchMaxExportBatchSize,
                batch.max_export_batch_size,
            ),
            (Setting::BatchMaxQueueSize, queue),
        )?;
    }
    // The minimum only matters to adaptive batching; without it, a standard
    // `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` below the default minimum is fine.
    if !batch.adaptive {
        return Ok(());
    }
    // A batch size no source set follows a smaller count cap
    // (`Staged::resolve`): then the cap is the maximum the user gave, and the
    // one an error names.
    let (size, queue) = (Setting::BatchMaxExportBatchSize, Setting::BatchMaxQueueSize);
    let maximum = if batch.max_queue_size == Some(batch.max_export_batch_size)
        && !report.is_recorded(size.dotted())
        && report.is_recorded(queue.dotted())
    {
        queue
    } else {
        size
    };
    report.at_most(
        (
            Setting::BatchMinExportBatchSize,
            batch.min_export_batch_size,
        ),
        (maximum, batch.max_export_batch_size),
    )
}

/// The metrics pipeline's own settings (its exporter is checked apart, as
/// every signal's): reported under `metrics.*`.
fn metrics(metrics: &MetricsConfig, report: &Report<'_>) -> Result<(), ConfigError> {
    // Unlike a batch's delay, a zero export interval is refused: measurements
    // wake no one, so "at once" could only mean collecting without pause.
    let durations = [
        (Setting::MetricsExportInterval, metrics.export_interval),
        (Setting::MetricsExportTimeout, metrics.export_timeout),
    ];
    for (key, value) in durations {
        report.check(key.dotted(), Millis(&value), longer_than_zero(value))?;
    }
    let limit = metrics.cardinality_limit;
    report.check(
        Setting::MetricsCardinalityLimit.dotted(),
        limit,
        cardinality_limit(limit),
    )
}

fn retry(retry: &RetryPolicy, report: &Report<'_>) -> Result<(), ConfigError> {
    let (initial, max) = (retry.initial_backoff, retry.max_backoff);
    report.check(
        Setting::RetryInitialBackoff.dotted(),
        Millis(&initial),
        longer_than_zero(initial),
    )?;
    report.check(
        Setting::RetryMaxBackoff.dotted(),
        Millis(&max),
        longer_than_zero(max),
    )?;
    if max < initial {
        // As `Report::at_most`: blame the one a source set when the other is a default.
        let (initial_key, max_key) = (
            Setting::RetryInitialBackoff.dotted(),
            Setting::RetryMaxBackoff.dotted(),
        );
        if report.is_recorded(initial_key) && !report.is_recorded(max_key) {
            let other = report.of(max_key).key;
            let reason = format!("must be at most {other} ({})", Millis(&max));
            return Err(report.error(initial_key, Millis(&initial), reason));
        }
        let other = report.of(initial_key).key;
        let reason = format!("must be at least {other} ({})", Millis(&initial));
        return Err(report.error(max_key, Millis(&max), reason));
    }
    let multiplier_key = Setting::RetryMultiplier.dotted();
    report.check(
        multiplier_key,
        retry.multiplier,
        multiplier(retry.multiplier),
    )?;
    let factor = retry.randomization_factor;
    report.check(
        Setting::RetryRandomizationFactor.dotted(),
        factor,
        randomization_factor(factor),
    )
}

fn performance(performance: &PerformanceConfig, report: &Report<'_>) -> Result<(), ConfigError> {
    let bytes = performance.max_request_bytes;
    report.check(
        Setting::PerformanceMaxRequestBytes.dotted(),
        bytes,
        request_bytes(bytes),
    )?;
    if let Some(buffers) = performance.buffer_pool_size {
        report.check(
            Setting::PerformanceBufferPoolSize.dotted(),
            buffers,
            at_least_one(buffers),
        )?;
    }
    let threads = performance.io_threads;
    report.check(
        Setting::PerformanceIoThreads.dotted(),
        threads,
        io_threads(threads),
    )
}

/// Renders a duration as whole milliseconds (`250ms`).
struct Millis<'a>(&'a Duration);

impl Display for Millis<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}ms", self.0.as_millis())
    }
}

// Single-value checks, shared with the parsers.

/// At least 1.
pub(crate) fn at_least_one(n: usize) -> Result<(), String> {
    if n >= 1 {
        Ok(())
    } else {
        Err("must be at least 1".to_owned())
    }
}

/// Between 1 and [`PerformanceConfig::MAX_IO_THREADS`].
pub(crate) fn io_threads(n: usize) -> Result<(), String> {
    at_least_one(n)?;
    if n > PerformanceConfig::MAX_IO_THREADS {
        return Err(format!(
            "must be at most {} (threads the pipeline starts; beyond the machine's cores \
             they gain nothing)",
            PerformanceConfig::MAX_IO_THREADS
        ));
    }
    Ok(())
}

/// Not zero.
pub(crate) fn longer_than_zero(duration: Duration) -> Result<(), String> {
    if duration.is_zero() {
        Err("must be longer than 0".to_owned())
    } else {
        Ok(())
    }
}

/// A metric stream's series cap: at least
/// [`MetricsConfig::MIN_CARDINALITY_LIMIT`] (one series, beside the overflow series).
pub(crate) fn cardinality_limit(n: usize) -> Result<(), String> {
    if n >= MetricsConfig::MIN_CARDINALITY_LIMIT {
        Ok(())
    } else {
        Err(format!(
            "must be at least {} (one series, beside the overflow series)",
            MetricsConfig::MIN_CARDINALITY_LIMIT
        ))
    }
}

/// Backoff growth: at least 1 (a shrinking backoff would hammer the backend).
pub(crate) fn multiplier(x: f64) -> Result<(), String> {
    if x.is_finite() && x >= 1.0 {
        Ok(())
    } else {
        Err("must be a number of at least 1".to_owned())
    }
}

/// A sampling probability, in `[0, 1]`.
pub(crate) fn sampler_ratio(x: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&x) {
        Ok(())
    } else {
        Err("must be a probability between 0 and 1".to_owned())
    }
}

/// Jitter fraction in `[0, 1]`.
pub(crate) fn randomization_factor(x: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&x) {
        Ok(())
    } else {
        Err("must be between 0 and 1".to_owned())
    }
}

/// Between 1 byte and the specification's 64 MiB cap.
pub(crate) fn request_bytes(n: usize) -> Result<(), String> {
    if n == 0 {
        Err("must be at least 1".to_owned())
    } else if n > MAX_REQUEST_BYTES {
        Err(format!(
            "must be at most {MAX_REQUEST_BYTES} (64 MiB, the OTLP request limit)"
        ))
    } else {
        Ok(())
    }
}

fn non_blank(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(())
    }
}

/// A resource attribute key: not empty.
pub(crate) fn attribute_key(key: &str) -> Result<(), String> {
    if key.trim().is_empty() {
        Err("attribute keys must not be empty".to_owned())
    } else {
        Ok(())
    }
}

/// An HTTP header name: a non-empty RFC 9110 token.
pub(crate) fn header_name(name: &str) -> Result<(), String> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !name.is_empty() && name.bytes().all(token) {
        Ok(())
    } else {
        Err("not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)".to_owned())
    }
}

/// An HTTP header value: no control characters (a line break would inject headers).
pub(crate) fn header_value(value: &str) -> Result<(), String> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        Err("the value contains a control character or line break".to_owned())
    } else {
        Ok(())
    }
}

/// An endpoint URL: `http` or `https` with a host (a gRPC endpoint may omit the
/// scheme), and a port from 1 to 65535 or none (`host` or `host:`: the
/// scheme's default). A generic HTTP endpoint (`generic_for`: the signal it serves) gets
/// `v1/traces`, `v1/logs` or `v1/metrics` appended to its path, so it may have neither query
/// nor fragment; a signal's own endpoint (`None`) is used as given.
pub(crate) fn endpoint(
    url: &str,
    protocol: Protocol,
    generic_for: Option<Signal>,
) -> Result<(), String> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".to_owned());
    }
    let rest = match url.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            rest
        }
        Some((scheme, _)) if is_scheme(scheme) => {
            return Err(format!("unsupported scheme {scheme:?}: use http or https"));
        }
        // Not a scheme at all (`user:password@://host`): show none of it.
        Some(_) => return Err("has a malformed scheme: use http:// or https://".to_owned()),
        None if protocol == Protocol::Grpc => url,
        None => return Err("must start with http:// or https://".to_owned()),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if !authority.contains('@') && tail.contains('@') && password_cut_off(authority) {
        // `user:pa/ss@host`: what reads as the port is the head of a
        // password; the port check would name it.
        return Err(
            "has a user name or password holding an unencoded `/`, `?` or `#`, which ends \
             its host early: percent-encode them (`%2F`, `%3F`, `%23`)"
                .to_owned(),
        );
    }
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host_port)| host_port);
    host_and_port(host_port, protocol)?;
    // The gRPC exporter refuses a query (its requests go to the service's
    // fixed path): refused here, the error names the key that set it. What
    // follows a `#` is no query, to `http::Uri` either.
    if protocol == Protocol::Grpc && tail.split('#').next().is_some_and(|t| t.contains('?')) {
        return Err(
            "a gRPC endpoint has no query: requests go to the service's fixed path".to_owned(),
        );
    }
    if let Some(signal) = generic_for
        && protocol != Protocol::Grpc
        && tail.contains(['?', '#'])
    {
        let signal = signal.as_str();
        return Err(format!(
            "a base endpoint cannot have a query or fragment, because v1/{signal} is appended to its path \
             (set the {signal} endpoint to give a complete URL)"
        ));
    }
    Ok(())
}

fn host_and_port(host_port: &str, protocol: Protocol) -> Result<(), String> {
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (address, after) = bracketed
            .split_once(']')
            .ok_or("has an unclosed [ in its host")?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or("has text after its [host]")?),
        };
        if address.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("[{address}] is not an IPv6 address"));
        }
        (address, port)
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err("has no host".to_owned());
    }
    if !host_port.starts_with('[') {
        host_name(host, protocol)?;
    }
    match port.map(|port| (port, port.parse::<u16>())) {
        // `host:` with no digits is the scheme's default port (RFC 3986
        // 3.2.3, the WHATWG URL standard), and both exporters' parsers
        // (`url`, `http::Uri`) read it so.
        Some(("", _)) => Ok(()),
        Some((port, Ok(0) | Err(_))) => {
            Err(format!("port {port:?} is not a number from 1 to 65535"))
        }
        _ => Ok(()),
    }
}

/// A host that is no IPv6 literal, as the exporters' URL parsers read it
/// (the WHATWG URL standard's, `url`'s, for HTTP; `http::Uri`'s for gRPC):
/// percent-decoded, it holds none of the characters a host may not hold; a
/// host whose last label is a number is an IPv4 address, and must be a valid
/// one (`999.1.1.1` is none); gRPC takes ASCII names only (HTTP turns others
/// into punycode). Without this check such a host loaded, and the exporter's
/// build refused it naming neither the key nor the variable.
fn host_name(host: &str, protocol: Protocol) -> Result<(), String> {
    // The WHATWG URL standard's forbidden domain code points that can be
    // left in a host once the authority is split off (`#/?@:` cannot).
    const FORBIDDEN: &[char] = &['<', '>', '[', ']', '\\', '^', '|', '%'];
    let decoded = super::parse::percent_decode(host)
        .map_err(|why| format!("host {host:?} is not a host name: {why}"))?;
    if let Some(bad) = decoded
        .chars()
        .find(|c| FORBIDDEN.contains(c) || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "host {host:?} is not a host name: it holds {bad:?}"
        ));
    }
    if protocol == Protocol::Grpc && !host.is_ascii() {
        return Err(format!(
            "host {host:?} is not ASCII: the gRPC exporter takes ASCII host names only \
             (write an international name in punycode, xn--…)"
        ));
    }
    if !ipv4_if_numeric(&decoded.to_ascii_lowercase()) {
        return Err(format!(
            "host {host:?} ends in a number, so it is an IPv4 address, and not a valid one"
        ));
    }
    Ok(())
}

/// Whether `host`, read as the WHATWG URL standard reads it, is a valid IPv4
/// address or not one at all (a name): a host whose last label (after one
/// trailing dot) is a number is an address of at most four parts, each
/// decimal, `0x` hexadecimal or `0`-led octal, all but the last below 256,
/// the last filling the bytes left (`1.2.3` is `1.2.0.3`).
fn ipv4_if_numeric(host: &str) -> bool {
    let mut parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    let number = |part: &str| -> Option<u64> {
        let (digits, radix) = match part {
            "" => return None,
            _ if part.starts_with("0x") => (&part[2..], 16),
            _ if part.len() > 1 && part.starts_with('0') => (&part[1..], 8),
            _ => (part, 10),
        };
        if digits.is_empty() {
            return Some(0);
        }
        if !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        u64::from_str_radix(digits, radix).ok()
    };
    let last = parts.last().copied().unwrap_or("");
    let last_is_number =
        !last.is_empty() && (last.bytes().all(|b| b.is_ascii_digit()) || number(last).is_some());
    if !last_is_number {
        return true;
    }
    if parts.len() > 4 {
        return false;
    }
    let Some(numbers) = parts
        .iter()
        .map(|part| number(part))
        .collect::<Option<Vec<u64>>>()
    else {
        return false;
    };
    let (last, leading) = numbers.split_last().unwrap_or((&0, &[]));
    leading.iter().all(|n| *n <= 255) && *last < 256u64.pow(5 - numbers.len() as u32)
}

/// Whether `text` is an RFC 3986 scheme: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_repeated_attribute_keys_is_linear_in_their_number() {
        use std::cell::Cell;

        use super::super::counted_key::Counted;

        let compared = Cell::new(0);
        let n: u32 = 2000;
        // Every key once, then key 7 again at the end.
        let keys = (0..n).chain([7]).map(|i| Counted(i, &compared));
        let repeated: Vec<bool> = repeats(keys).collect();
        assert_eq!(repeated.len(), n as usize + 1);
        assert_eq!(repeated.iter().filter(|&&r| r).count(), 1);
        assert!(repeated[n as usize], "the second 7 repeats the first");
        // Before: each key compared with every earlier one, about n * n / 2
        // comparisons (2 million); with a hash set about one per repeat. A
        // configuration changed in code with 40 000 resource attributes took
        // over 20 s to validate.
        assert!(
            compared.get() <= 4 * u64::from(n),
            "{} comparisons",
            compared.get()
        );
    }

    #[test]
    fn endpoints_need_an_http_scheme_and_a_host() {
        let http = Protocol::HttpProtobuf;
        assert_eq!(
            endpoint("http://collector:4318", http, Some(Signal::Traces)),
            Ok(())
        );
        assert_eq!(
            endpoint("https://[::1]:4318/base/", http, Some(Signal::Traces)),
            Ok(())
        );
        assert_eq!(
            endpoint("https://user:pw@collector/x?y=1", http, None),
            Ok(())
        );
        assert_eq!(
            endpoint("collector:4318", http, Some(Signal::Traces)),
            Err("must start with http:// or https://".to_owned())
        );
        assert_eq!(
            endpoint("ftp://collector", http, Some(Signal::Traces)),
            Err("unsupported scheme \"ftp\": use http or https".to_owned())
        );
        assert_eq!(
            endpoint("http://:4318", http, Some(Signal::Traces)),
            Err("has no host".to_owned())
        );
        assert_eq!(
            endpoint("http://", http, Some(Signal::Traces)),
            Err("has no host".to_owned())
        );
        assert!(
            endpoint("http://c:99999", http, Some(Signal::Traces))
                .unwrap_err()
                .contains("port \"99999\"")
        );
        assert!(
            endpoint("http://c:0", http, Some(Signal::Traces))
                .unwrap_err()
                .contains("port \"0\"")
        );
        assert!(
            endpoint("http://c:4318?x=1", http, Some(Signal::Traces))
                .unwrap_err()
                .contains("query or fragment")
        );
        assert!(
            endpoint("http://c a", http, Some(Signal::Traces))
                .unwrap_err()
                .contains("spaces")
        );
        assert!(
            endpoint("http://[::1", http, Some(Signal::Traces))
                .unwrap_err()
                .contains("unclosed")
        );
    }

    #[test]
    fn numeric_hosts_are_read_as_the_url_standard_reads_ipv4() {
        // The verdicts of `url` (the HTTP exporter's parser) on each host.
        for host in [
            "127.0.0.1",
            "1.2.3",
            "0x7f.1",
            "1.16777215",
            "0",
            "0x",
            "a.b",
            "1e3",
        ] {
            assert!(ipv4_if_numeric(host), "{host} is valid or a name");
        }
        for host in [
            "999.1.1.1",
            "08",
            "a.08",
            "1.2.3.4.5",
            "1..2",
            "256.1",
            "1.16777216",
        ] {
            assert!(!ipv4_if_numeric(host), "{host} is an invalid IPv4 address");
        }
    }

    #[test]
    fn grpc_endpoints_may_omit_the_scheme() {
        assert_eq!(
            endpoint("collector:4317", Protocol::Grpc, Some(Signal::Traces)),
            Ok(())
        );
        // The base endpoint's rule (no query, as a path is appended) is
        // HTTP's; a gRPC endpoint has no query at all, generic or a signal's.
        assert_eq!(
            endpoint("http://c:4317/#x", Protocol::Grpc, Some(Signal::Traces)),
            Ok(())
        );
        for (url, generic_for) in [
            ("http://c:4317?x", Some(Signal::Traces)),
            ("c:4317/?x=1", None),
        ] {
            assert!(
                endpoint(url, Protocol::Grpc, generic_for)
                    .unwrap_err()
                    .contains("a gRPC endpoint has no query"),
                "{url}"
            );
        }
        assert_eq!(
            endpoint(":4317", Protocol::Grpc, Some(Signal::Traces)),
            Err("has no host".to_owned())
        );
    }

    #[test]
    fn userinfo_is_redacted() {
        assert_eq!(
            redact_userinfo("https://u:s3cret@host:1/p@x"),
            "https://<redacted>@host:1/p@x"
        );
        assert_eq!(redact_userinfo("http://host/a@b"), "http://host/a@b");
        assert_eq!(redact_userinfo("u:p@host"), "<redacted>@host");
        // A password before a misplaced "://" is no scheme.
        assert_eq!(redact_userinfo("a:s3cret@://h"), "<redacted>@://h");
        assert_eq!(redact_userinfo("://a:s3cret@h"), "://<redacted>@h");
        assert_eq!(
            redact_userinfo("http://collector:4318/v1/traces?a=b@c"),
            "http://collector:4318/v1/traces?a=b@c"
        );
        assert_eq!(redact_userinfo("localhost:4317"), "localhost:4317");
        // A password with an unencoded `/` (or several) is hidden whole;
        // a path with an `@` after a host, a port or an IPv6 literal is not
        // user-info.
        assert_eq!(
            redact_userinfo("https://u:s3c/r/et@host:1/p?q=a@b"),
            "https://<redacted>@host:1/p?q=a@b"
        );
        assert_eq!(redact_userinfo("u:s3c/ret@host"), "<redacted>@host");
        assert_eq!(
            redact_userinfo("http://host:4318/a@b"),
            "http://host:4318/a@b"
        );
        assert_eq!(redact_userinfo("http://[::1]/a@b"), "http://[::1]/a@b");
        assert_eq!(
            redact_userinfo("http://[::1]:4318/a@b"),
            "http://[::1]:4318/a@b"
        );
        let reason = endpoint(
            "a:s3cret@://h",
            Protocol::HttpProtobuf,
            Some(Signal::Traces),
        )
        .unwrap_err();
        assert!(!reason.contains("s3cret"), "{reason}");
    }

    /// A password holding an unencoded `/`, `?` or `#` ends what parsers
    /// read as the authority early, its head read as a port: neither the
    /// value shown, nor the reason, nor `Debug` output shows any of it.
    #[test]
    fn a_password_holding_a_slash_a_question_mark_or_a_hash_is_hidden_whole() {
        use crate::config::{ConfigLoader, ExporterConfig};

        for url in [
            "http://user:s3cret/x@collector:4318",
            "http://user:s3cret?x@collector:4318",
            "http://user:s3cret#x@collector:4318",
            "http://user:x#s3cret@collector:4318/v1/traces",
            "http://user:x/y?s3cret@collector:4318",
            "user:s3cret#x@collector:4317",
        ] {
            assert!(
                redact_userinfo(url).contains("<redacted>@collector:43"),
                "{url}"
            );
            assert!(!redact_userinfo(url).contains("s3cret"), "{url}");
            let config = ConfigLoader::new()
                .with_config_dir("no-such-config-dir")
                .with_env([
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url),
                ]);
            let error = config.clone().load().expect_err(url);
            assert!(!error.to_string().contains("s3cret"), "{error}");
            assert!(!format!("{error:?}").contains("s3cret"), "{error:?}");
            assert!(error.reason().contains("percent-encode"), "{error}");
            let lenient = config.lenient().load_with_warnings();
            assert!(!format!("{lenient:?}").contains("s3cret"), "{lenient:?}");
            let exporter = ExporterConfig {
                endpoint: Some(url.into()),
                traces_endpoint: Some(url.into()),
                ..ExporterConfig::default()
            };
            assert!(!format!("{exporter:?}").contains("s3cret"), "{exporter:?}");
        }
        // An `@` in the path of an endpoint whose port is a port is no
        // user-info, nor is one in the query.
        assert_eq!(
            redact_userinfo("http://collector:4318/v1/traces?a=b@c"),
            "http://collector:4318/v1/traces?a=b@c"
        );
    }

    #[test]
    fn headers_are_tokens_without_line_breaks() {
        assert_eq!(header_name("x-api-key"), Ok(()));
        assert!(header_name("x api").is_err());
        assert!(header_name("").is_err());
        assert_eq!(header_value("Bearer a\tb"), Ok(()));
        assert!(header_value("a\r\nx-injected: 1").is_err());
    }

    #[test]
    fn request_bytes_are_capped_at_64_mib() {
        assert_eq!(request_bytes(64 * 1024 * 1024), Ok(()));
        assert!(
            request_bytes(64 * 1024 * 1024 + 1)
                .unwrap_err()
                .contains("64 MiB")
        );
        assert!(request_bytes(0).is_err());
    }
}
