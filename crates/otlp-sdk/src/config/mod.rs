//! [`Config`]: one typed configuration for a pipeline, and where it comes from.
//!
//! Sources, each overriding the ones before it:
//!
//! 1. defaults ([`Config::default`]);
//! 2. configuration files: `config/default.{yaml,toml}` then `config/{RUN_ENV}.{yaml,toml}`,
//!    or one explicit file;
//! 3. the standard `OTEL_*` environment variables;
//! 4. nested overrides `OTLP__SECTION__KEY=value` (for example `OTLP__BATCH__MAX_QUEUE_BYTES=16777216`);
//! 5. whatever the program sets through the builder.
//!
//! See [`ConfigLoader`] for loading — the file format, every variable, the
//! `OTLP__` rule for map keys, strict versus lenient — and [`ConfigError`] for
//! what a bad value reports. [`Config::validate`] checks a configuration changed in code.

#[cfg(test)]
mod counted_key;
mod env;
mod error;
mod file;
mod keys;
mod loader;
mod loopback;
mod metric_options;
mod node;
mod origin;
mod parse;
mod propagator_options;
mod sampler_options;
mod setting;
pub(crate) mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::{ConfigError, ConfigSource, ConfigWarning, REDACTED, redact_userinfo};
pub use loader::ConfigLoader;
pub use loopback::is_loopback_host;
pub use metric_options::{DefaultHistogramAggregation, ExemplarFilter, TemporalityPreference};
pub use origin::{ConfigOrigins, SetBy};
pub use parse::NO_TIMEOUT;
pub use propagator_options::{PropagatorName, PropagatorsConfig};
pub use sampler_options::{SamplerConfig, SamplerName};

use crate::Signal;
use crate::durable::DurableConfig;
use crate::limits::{LogRecordLimits, SpanLimits};
use crate::retry::RetryPolicy;

/// Everything the pipelines need to know, after merging all sources: the span
/// pipeline's [`exporter`](Self::exporter) and [`batch`](Self::batch), the log
/// pipeline's [`logs`](Self::logs), the metrics pipeline's
/// [`metrics`](Self::metrics), and what they share (service, resource, retry,
/// performance, durable queue, attribute [`limits`](Self::limits)).
///
/// ```
/// use std::time::Duration;
/// use otlp_sdk::Signal;
/// use otlp_sdk::config::{Config, Protocol};
///
/// let config = Config::default();
/// assert_eq!(config.exporter.protocol, Protocol::HttpProtobuf);
/// assert_eq!(config.exporter.traces_endpoint(), "http://localhost:4318/v1/traces");
/// assert_eq!(config.batch.max_queue_bytes, 64 * 1024 * 1024);
/// assert_eq!(config.batch.max_queue_size, None); // no cap on the count unless set
///
/// // Log records have their own exporter settings and batching.
/// assert_eq!(
///     config.logs.exporter.endpoint_for(Signal::Logs),
///     "http://localhost:4318/v1/logs"
/// );
/// assert_eq!(config.logs.batch.scheduled_delay, Duration::from_secs(1));
///
/// // So do metrics, collected and exported once a minute by default.
/// assert_eq!(
///     config.metrics.exporter.endpoint_for(Signal::Metrics),
///     "http://localhost:4318/v1/metrics"
/// );
/// assert_eq!(config.metrics.export_interval, Duration::from_secs(60));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// `service.name` of the resource (`OTEL_SERVICE_NAME`, section `service`, key `name`).
    pub service_name: Option<String>,
    /// When true the SDK records and exports nothing (`OTEL_SDK_DISABLED`).
    pub disabled: bool,
    /// Extra resource attributes, in order (`OTEL_RESOURCE_ATTRIBUTES`, section `resource`).
    pub resource_attributes: Vec<(String, String)>,
    /// Which spans are sampled (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`,
    /// section `sampler`); unset, the tracer provider's own sampler.
    pub sampler: SamplerConfig,
    /// The header formats trace context travels in (`OTEL_PROPAGATORS`,
    /// section `propagation`, key `propagators`; default
    /// `tracecontext,baggage`, baggage accepted but not propagated).
    pub propagators: PropagatorsConfig,
    /// Where and how spans are sent: the generic settings (`OTEL_EXPORTER_OTLP_*`,
    /// section `exporter`) with the traces-specific ones
    /// (`OTEL_EXPORTER_OTLP_TRACES_*`, `exporter.traces_endpoint`) over them.
    pub exporter: ExporterConfig,
    /// Queueing and batching of spans (`OTEL_BSP_*`, section `batch`).
    pub batch: BatchConfig,
    /// The log pipeline's exporter and batching (`OTEL_EXPORTER_OTLP_LOGS_*`,
    /// `OTEL_BLRP_*`, section `logs`).
    pub logs: LogsConfig,
    /// The metrics pipeline's exporter, export interval and aggregation
    /// defaults (`OTEL_EXPORTER_OTLP_METRICS_*`, `OTEL_METRIC_EXPORT_*`,
    /// section `metrics`).
    pub metrics: MetricsConfig,
    /// Retrying failed exports.
    pub retry: RetryPolicy,
    /// Tuning that trades memory for speed.
    pub performance: PerformanceConfig,
    /// The span pipeline's durable queue (section `durable`; off unless
    /// `durable.directory` is set). The log pipeline has its own,
    /// [`logs.durable`](LogsConfig::durable): a directory holds one signal's
    /// requests, so the two must name different directories.
    pub durable: Option<DurableConfig>,
    /// Caps on the attributes, events and links of spans and on the
    /// attributes of log records (`OTEL_*_LIMIT`, section `limits`).
    pub limits: LimitsConfig,
}

impl Config {
    /// Checks every setting and the constraints between them (batch size at most
    /// the queue's count cap when one is set, endpoint URLs, client certificate and
    /// key together, …), for spans, for logs (`logs.*` keys) and for metrics
    /// (`metrics.*` keys).
    ///
    /// [`ConfigLoader::load`] already does this and names each key as its source
    /// spelled it; call this after changing a loaded configuration in code. Errors
    /// then name the dotted key (`batch.max_queue_size`) and [`ConfigSource::Builder`].
    ///
    /// ```
    /// use otlp_sdk::config::{Config, ConfigSource};
    ///
    /// let mut config = Config::default();
    /// config.batch.max_queue_size = Some(256); // fewer than max_export_batch_size (512)
    /// let err = config.validate().unwrap_err();
    /// assert_eq!(err.key(), Some("batch.max_export_batch_size"));
    /// assert_eq!(err.origin(), ConfigSource::Builder);
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate::validate(self, &origin::Origins::new(ConfigSource::Builder))
    }

    /// The exporter settings of `signal`: [`exporter`](Self::exporter) for
    /// spans, [`logs.exporter`](LogsConfig::exporter) for log records,
    /// [`metrics.exporter`](MetricsConfig::exporter) for metrics.
    pub fn exporter_for(&self, signal: Signal) -> &ExporterConfig {
        match signal {
            Signal::Traces => &self.exporter,
            Signal::Logs => &self.logs.exporter,
            Signal::Metrics => &self.metrics.exporter,
        }
    }

    /// Whether this configuration exports nothing of `signal`: the whole
    /// SDK is off ([`disabled`](Self::disabled), `OTEL_SDK_DISABLED`), or
    /// the signal's exporter is [`ExporterKind::None`]
    /// (`OTEL_TRACES_EXPORTER=none`, `OTEL_LOGS_EXPORTER=none`,
    /// `OTEL_METRICS_EXPORTER=none`).
    ///
    /// The two differ for what the program gives in code. `OTEL_SDK_DISABLED`
    /// turns the providers built `with_config` off: nothing is recorded,
    /// whatever processors or readers they have. An exporter `none` means,
    /// as the specification says, no exporter set up by configuration:
    /// processors and readers given in code still get the signal's records;
    /// those that [stand for that `none`](crate::Exporter::stands_for_none)
    /// (`otlp-contrib`'s pipeline builds them from such a configuration) get
    /// nothing, so that with nothing else the provider records nothing (a
    /// tracer provider still samples, so that its spans propagate the
    /// sampler's decision). A batch pipeline's durable queue stays closed
    /// under `OTEL_SDK_DISABLED` and over an exporter standing for `none`;
    /// over an exporter given in code, `none` leaves it as configured.
    ///
    /// ```
    /// use otlp_sdk::Signal;
    /// use otlp_sdk::config::{ConfigLoader, ExporterKind};
    ///
    /// let config = ConfigLoader::new()
    ///     .with_config_dir("no-such-dir")
    ///     .with_env([("OTEL_TRACES_EXPORTER", "none"), ("OTEL_LOGS_EXPORTER", "console")])
    ///     .load()?;
    /// assert!(config.is_disabled(Signal::Traces));
    /// assert!(!config.is_disabled(Signal::Logs));
    /// assert_eq!(config.logs.exporter.kind, ExporterKind::Console);
    /// assert_eq!(config.metrics.exporter.kind, ExporterKind::Otlp);
    /// # Ok::<(), otlp_sdk::config::ConfigError>(())
    /// ```
    pub fn is_disabled(&self, signal: Signal) -> bool {
        self.disabled || self.exporter_for(signal).kind == ExporterKind::None
    }

    /// The service name the resource should carry: [`service_name`](Self::service_name),
    /// else the last `service.name` entry of [`resource_attributes`](Self::resource_attributes)
    /// (the loader moves such an entry into `service_name`; code may not), as
    /// a provider's resource keeps the last value given for a key. A blank
    /// name (empty or white space) is no name, here as for the loader and
    /// the providers: it is passed over.
    pub fn effective_service_name(&self) -> Option<&str> {
        let named = |name: &&str| !name.trim().is_empty();
        self.service_name.as_deref().filter(named).or_else(|| {
            self.resource_attributes
                .iter()
                .rev()
                .filter(|(key, _)| key == "service.name")
                .map(|(_, value)| value.as_str())
                .find(named)
        })
    }
}

/// The OTLP transport and body encoding (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// OTLP/gRPC (`grpc`), default port 4317.
    Grpc,
    /// OTLP/HTTP with protobuf bodies (`http/protobuf`, the default), port 4318.
    #[default]
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies (`http/json`), port 4318.
    HttpJson,
}

impl Protocol {
    /// The value as written in `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
        }
    }

    /// The endpoint used when none is configured.
    pub const fn default_endpoint(self) -> &'static str {
        match self {
            Protocol::Grpc => "http://localhost:4317",
            Protocol::HttpProtobuf | Protocol::HttpJson => "http://localhost:4318",
        }
    }

    /// The body encoding this protocol carries.
    pub const fn encoding(self) -> otlp_core::encode::Encoding {
        match self {
            Protocol::HttpJson => otlp_core::encode::Encoding::Json,
            Protocol::Grpc | Protocol::HttpProtobuf => otlp_core::encode::Encoding::Protobuf,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Request body compression (`OTEL_EXPORTER_OTLP_COMPRESSION`; `zstd` is our extension).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compression {
    /// No compression (the default).
    #[default]
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

impl Compression {
    /// The value as written in configuration (`none`, `gzip`, `zstd`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a signal's records are exported with (`OTEL_TRACES_EXPORTER`,
/// `OTEL_LOGS_EXPORTER`, `OTEL_METRICS_EXPORTER`; key `exporter.kind`).
///
/// One exporter per signal: a list such as `otlp,console` is refused, and so
/// are the specification's other names (`zipkin`, `prometheus`, `logging`),
/// which this project does not build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExporterKind {
    /// OTLP over the signal's protocol and endpoint (the default).
    #[default]
    Otlp,
    /// OTLP/JSON lines on standard output, one per export request (the
    /// specification's file exporter format; `otlp-contrib`'s pipeline
    /// builds it).
    Console,
    /// No exporter from configuration ([`Config::is_disabled`]): a provider
    /// built `with_config` records the signal only for the processors or
    /// readers given in code, and with none records nothing. Spans still
    /// get ids and carry context, sampled as the sampler says (unlike
    /// `OTEL_SDK_DISABLED`, which samples nothing and turns off what is
    /// given in code too), so that a service without a traces exporter does
    /// not end the traces it passes on.
    None,
}

impl ExporterKind {
    /// The value as written in configuration (`otlp`, `console`, `none`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ExporterKind::Otlp => "otlp",
            ExporterKind::Console => "console",
            ExporterKind::None => "none",
        }
    }
}

impl fmt::Display for ExporterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Request headers (or gRPC metadata). `Debug` shows the names and hides the values,
/// which often carry credentials.
///
/// ```
/// use otlp_sdk::config::Headers;
///
/// let headers = Headers::from_iter([("authorization", "Bearer s3cr3t")]);
/// assert!(!format!("{headers:?}").contains("s3cr3t"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No headers.
    pub const fn new() -> Self {
        Headers(Vec::new())
    }

    /// Sets a header, replacing an earlier value of the same (case-insensitive) name.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self
            .0
            .iter_mut()
            .find(|(existing, _)| existing.eq_ignore_ascii_case(&name))
        {
            Some(entry) => entry.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// Sets every header of `entries` as [`insert`](Self::insert) would, in
    /// one pass: linear in the number of headers, where inserting them one
    /// by one searches the list each time.
    pub(crate) fn merge(&mut self, entries: impl IntoIterator<Item = (String, String)>) {
        parse::merge_entries(&mut self.0, entries, |name| name.to_ascii_lowercase());
    }

    /// The headers in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut headers = Headers::new();
        headers.merge(
            iter.into_iter()
                .map(|(name, value)| (name.into(), value.into())),
        );
        headers
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, _)| (name, "<redacted>")))
            .finish()
    }
}

/// One of the PEM files of a signal's [`TlsConfig`], as errors name it: the
/// configuration key of the signal's section and the two variables that can
/// set it (see [`setting`](Self::setting)). The exporters' TLS errors use it,
/// so that they name what the user set, whichever signal it was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsFile {
    /// The CA certificate(s) to trust (`certificate`).
    Certificate,
    /// The client's certificate (`client_certificate`).
    ClientCertificate,
    /// The client's private key (`client_key`).
    ClientKey,
}

impl TlsFile {
    /// The file's key in `signal`'s section and the variables that set it:
    /// `logs.exporter.certificate (OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE or
    /// OTEL_EXPORTER_OTLP_CERTIFICATE)`; traces' section is `exporter.*`.
    ///
    /// ```
    /// use otlp_sdk::Signal;
    /// use otlp_sdk::config::TlsFile;
    ///
    /// assert_eq!(
    ///     TlsFile::ClientKey.setting(Signal::Traces),
    ///     "exporter.client_key (OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY or OTEL_EXPORTER_OTLP_CLIENT_KEY)"
    /// );
    /// ```
    pub const fn setting(self, signal: Signal) -> &'static str {
        macro_rules! setting {
            ($section:literal, $signal:literal, $key:literal, $variable:literal) => {
                concat!(
                    $section,
                    "exporter.",
                    $key,
                    " (OTEL_EXPORTER_OTLP_",
                    $signal,
                    $variable,
                    " or OTEL_EXPORTER_OTLP_",
                    $variable,
                    ")"
                )
            };
        }
        match (signal, self) {
            (Signal::Logs, TlsFile::Certificate) => {
                setting!("logs.", "LOGS_", "certificate", "CERTIFICATE")
            }
            (Signal::Logs, TlsFile::ClientCertificate) => {
                setting!("logs.", "LOGS_", "client_certificate", "CLIENT_CERTIFICATE")
            }
            (Signal::Logs, TlsFile::ClientKey) => {
                setting!("logs.", "LOGS_", "client_key", "CLIENT_KEY")
            }
            (Signal::Metrics, TlsFile::Certificate) => {
                setting!("metrics.", "METRICS_", "certificate", "CERTIFICATE")
            }
            (Signal::Metrics, TlsFile::ClientCertificate) => {
                setting!(
                    "metrics.",
                    "METRICS_",
                    "client_certificate",
                    "CLIENT_CERTIFICATE"
                )
            }
            (Signal::Metrics, TlsFile::ClientKey) => {
                setting!("metrics.", "METRICS_", "client_key", "CLIENT_KEY")
            }
            (_, TlsFile::Certificate) => setting!("", "TRACES_", "certificate", "CERTIFICATE"),
            (_, TlsFile::ClientCertificate) => {
                setting!("", "TRACES_", "client_certificate", "CLIENT_CERTIFICATE")
            }
            (_, TlsFile::ClientKey) => setting!("", "TRACES_", "client_key", "CLIENT_KEY"),
        }
    }

    /// The file `path` as errors show it, `setting` being the name
    /// [`setting`](Self::setting) gives it: a client key's (any signal's) as
    /// [`REDACTED`], as the configuration's own errors and `Debug` output
    /// show it, any other as given. A key's path is no secret, but the
    /// setting may hold the key itself, pasted where its path goes (a secret
    /// mounted as `OTEL_EXPORTER_OTLP_CLIENT_KEY`): the file it names then
    /// cannot be read, and its error would print the key.
    ///
    /// ```
    /// use std::path::Path;
    /// use otlp_sdk::Signal;
    /// use otlp_sdk::config::TlsFile;
    ///
    /// let key = TlsFile::ClientKey.setting(Signal::Logs);
    /// assert_eq!(TlsFile::shown_path(key, Path::new("/etc/tls/client.key")), "<redacted>");
    /// let ca = TlsFile::Certificate.setting(Signal::Logs);
    /// assert_eq!(TlsFile::shown_path(ca, Path::new("/etc/tls/ca.pem")), "/etc/tls/ca.pem");
    /// ```
    pub fn shown_path(setting: &str, path: &Path) -> String {
        let file = [Signal::Traces, Signal::Logs, Signal::Metrics]
            .into_iter()
            .flat_map(|signal| TlsFile::ALL.map(|file| (file, file.setting(signal))))
            .find_map(|(file, name)| (name == setting).then_some(file));
        match file {
            Some(file) => file.show(path),
            None => path.display().to_string(),
        }
    }

    /// Every TLS file.
    const ALL: [TlsFile; 3] = [
        TlsFile::Certificate,
        TlsFile::ClientCertificate,
        TlsFile::ClientKey,
    ];

    /// The one rule for showing this file's `path` in errors, followed by
    /// [`shown_path`](Self::shown_path) (the exporters' TLS errors) and by
    /// the configuration's own validation: a client key's as [`REDACTED`]
    /// (see `shown_path` for why), any other as given.
    pub(crate) fn show(self, path: &Path) -> String {
        match self {
            TlsFile::ClientKey => REDACTED.to_owned(),
            TlsFile::Certificate | TlsFile::ClientCertificate => path.display().to_string(),
        }
    }
}

/// TLS settings for the exporter: PEM file paths, read by the exporter when
/// it is built (the gRPC one only for an `https://` endpoint; an unreadable
/// or unusable file fails the build, naming the setting), and the gRPC
/// `insecure` flag.
///
/// Each file is a setting of its own: a signal's own
/// (`OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE`, `logs.exporter.client_key`, …)
/// wins over the generic one file by file, as the specification says of every
/// `OTEL_EXPORTER_OTLP_<SIGNAL>_*` variable and as the Java and Python SDKs
/// read them. So a signal's own client certificate pairs with the generic key
/// when the signal names no key of its own (a certificate renewed for the same
/// key), and a signal's own pair replaces the generic pair; opentelemetry-go
/// instead takes a signal's pair only when both halves are set, and ignores a
/// half. A certificate left without its key here, or a key without its
/// certificate, is a configuration error naming both settings.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// CA certificate(s) to trust (`OTEL_EXPORTER_OTLP_CERTIFICATE`): they
    /// replace the default roots (the system's), as the Collector's `ca_file`
    /// and opentelemetry-go's certificate pool do, so a public CA must be in
    /// the file too if one is to be trusted.
    pub ca_certificate: Option<PathBuf>,
    /// Client certificate for mTLS (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`):
    /// PEM, the leaf first, then the intermediates a server needs to reach
    /// its trusted root.
    pub client_certificate: Option<PathBuf>,
    /// Client private key for mTLS (`OTEL_EXPORTER_OTLP_CLIENT_KEY`): PEM,
    /// PKCS#8, PKCS#1 or SEC1, unencrypted (no setting takes a passphrase).
    /// Redacted from `Debug` and errors.
    pub client_key: Option<PathBuf>,
    /// For gRPC endpoints without a scheme: `true` means plaintext, else TLS
    /// (`OTEL_EXPORTER_OTLP_INSECURE`). As the specification says, an
    /// `http://` or `https://` scheme wins (`insecure` never turns an
    /// `https://` endpoint into plaintext, nor verifies less), and OTLP/HTTP
    /// ignores it.
    pub insecure: Option<bool>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("ca_certificate", &self.ca_certificate)
            .field("client_certificate", &self.client_certificate)
            .field(
                "client_key",
                &self.client_key.as_ref().map(|_| "<redacted>"),
            )
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// The log pipeline's share of a [`Config`] (section `logs`): its own exporter
/// settings, batching and durable queue.
///
/// The loader fills [`exporter`](Self::exporter) with the generic settings
/// (`OTEL_EXPORTER_OTLP_*`, section `exporter`) and the logs-specific ones
/// (`OTEL_EXPORTER_OTLP_LOGS_*`, section `logs.exporter`) over them; the
/// traces-specific ones never reach it. [`batch`](Self::batch) starts from
/// [`BatchConfig::logs_default`] (not from the span pipeline's `batch`), then
/// `OTEL_BLRP_*` and section `logs.batch`. [`durable`](Self::durable) is
/// off unless section `logs.durable` names a directory
/// (`OTLP__LOGS__DURABLE__DIRECTORY`); it inherits nothing from the span
/// pipeline's `durable`.
///
/// Plain data: cloning copies the strings it holds.
///
/// ```
/// use std::time::Duration;
/// use otlp_sdk::Signal;
/// use otlp_sdk::config::ConfigLoader;
///
/// let config = ConfigLoader::new()
///     .with_config_dir("no-such-dir")
///     .with_env([
///         ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
///         ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "gzip"),
///         ("OTEL_BLRP_SCHEDULE_DELAY", "200"),
///     ])
///     .load()?;
/// assert_eq!(
///     config.logs.exporter.endpoint_for(Signal::Logs),
///     "http://collector:4318/v1/logs"
/// );
/// assert_eq!(config.logs.exporter.compression.as_str(), "gzip");
/// assert_eq!(config.exporter.compression.as_str(), "none"); // spans: untouched
/// assert_eq!(config.logs.batch.scheduled_delay, Duration::from_millis(200));
/// # Ok::<(), otlp_sdk::config::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LogsConfig {
    /// Where and how log records are sent; use
    /// [`endpoint_for(Signal::Logs)`](ExporterConfig::endpoint_for) for the URL.
    pub exporter: ExporterConfig,
    /// Queueing and batching of log records (default [`BatchConfig::logs_default`]:
    /// 1 s scheduled delay, 30 s export timeout, batches of 512, the queue bounded
    /// by 64 MiB of encoded records and by a count only when
    /// `OTEL_BLRP_MAX_QUEUE_SIZE` or `logs.batch.max_queue_size` is set).
    pub batch: BatchConfig,
    /// The log pipeline's durable queue (section `logs.durable`, the keys of
    /// `durable`: `OTLP__LOGS__DURABLE__DIRECTORY`, `…__FSYNC`,
    /// `…__FSYNC_INTERVAL`, `…__MAX_BYTES`, `…__SEGMENT_BYTES`; no standard
    /// variable). Off (`None`) unless a directory is given; the defaults of
    /// [`DurableConfig::new`] for the keys not given. Its directory must
    /// differ from the span pipeline's ([`Config::durable`]): loading and
    /// [`Config::validate`] refuse one directory for both, naming both keys.
    pub durable: Option<DurableConfig>,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            exporter: ExporterConfig::default(),
            batch: BatchConfig::logs_default(),
            durable: None,
        }
    }
}

/// The metrics pipeline's share of a [`Config`] (section `metrics`): its own
/// exporter settings, how often the periodic reader collects and exports, and
/// the aggregation defaults of the meter provider.
///
/// The loader fills [`exporter`](Self::exporter) as it does for logs: the
/// generic settings (`OTEL_EXPORTER_OTLP_*`, section `exporter`) with the
/// metrics-specific ones (`OTEL_EXPORTER_OTLP_METRICS_*`, section
/// `metrics.exporter`) over them; the traces- and logs-specific ones never
/// reach it. Metrics have no batch settings: each collection is exported as
/// one request.
///
/// Plain data: cloning copies the strings it holds.
///
/// ```
/// use std::time::Duration;
/// use otlp_sdk::Signal;
/// use otlp_sdk::config::{ConfigLoader, TemporalityPreference};
///
/// let config = ConfigLoader::new()
///     .with_config_dir("no-such-dir")
///     .with_env([
///         ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
///         ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip"),
///         ("OTEL_METRIC_EXPORT_INTERVAL", "15000"),
///         ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
///         ("OTLP__METRICS__CARDINALITY_LIMIT", "500"),
///     ])
///     .load()?;
/// let metrics = &config.metrics;
/// assert_eq!(
///     metrics.exporter.endpoint_for(Signal::Metrics),
///     "http://collector:4318/v1/metrics"
/// );
/// assert_eq!(metrics.exporter.compression.as_str(), "gzip");
/// assert_eq!(config.exporter.compression.as_str(), "none"); // spans: untouched
/// assert_eq!(metrics.export_interval, Duration::from_secs(15));
/// assert_eq!(metrics.export_timeout, Duration::from_secs(30)); // the default
/// assert_eq!(metrics.temporality, TemporalityPreference::Delta);
/// assert_eq!(metrics.cardinality_limit, 500);
/// # Ok::<(), otlp_sdk::config::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsConfig {
    /// Where and how metrics are sent; use
    /// [`endpoint_for(Signal::Metrics)`](ExporterConfig::endpoint_for) for the URL.
    pub exporter: ExporterConfig,
    /// Time between the start of two collections (`OTEL_METRIC_EXPORT_INTERVAL`,
    /// key `metrics.export_interval`; default 60 s, more than 0: unlike a
    /// batch's delay, nothing would wake a reader with no interval, since
    /// measurements only update the aggregation, so 0 could only mean
    /// collecting without pause).
    pub export_interval: Duration,
    /// Time one export may take, retries included (`OTEL_METRIC_EXPORT_TIMEOUT`,
    /// key `metrics.export_timeout`; default 30 s, `0` = no limit).
    pub export_timeout: Duration,
    /// Delta or cumulative per instrument kind
    /// (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`, key
    /// `metrics.temporality`; default cumulative).
    pub temporality: TemporalityPreference,
    /// The aggregation of histograms no view configures
    /// (`OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`, key
    /// `metrics.default_histogram_aggregation`; default explicit buckets).
    pub default_histogram_aggregation: DefaultHistogramAggregation,
    /// Attribute sets per metric stream that get series of their own
    /// (`OTLP__METRICS__CARDINALITY_LIMIT`, key `metrics.cardinality_limit`;
    /// default [`DEFAULT_CARDINALITY_LIMIT`](Self::DEFAULT_CARDINALITY_LIMIT),
    /// at least 1). Past it, measurements with new attribute sets go to the one
    /// series with the attribute `otel.metric.overflow=true`.
    pub cardinality_limit: usize,
    /// Which measurements may become exemplars (`OTEL_METRICS_EXEMPLAR_FILTER`,
    /// key `metrics.exemplar_filter`; default trace-based).
    pub exemplar_filter: ExemplarFilter,
}

impl MetricsConfig {
    /// The default [`export_interval`](Self::export_interval), 60 s
    /// (`OTEL_METRIC_EXPORT_INTERVAL`'s default).
    pub const DEFAULT_EXPORT_INTERVAL: Duration = Duration::from_millis(60_000);

    /// The default [`export_timeout`](Self::export_timeout), 30 s
    /// (`OTEL_METRIC_EXPORT_TIMEOUT`'s default).
    pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_millis(30_000);

    /// The default [`cardinality_limit`](Self::cardinality_limit), 2000: the
    /// specification's default per metric stream. At the limit, new attribute
    /// sets are aggregated into the overflow series.
    pub const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

    /// The smallest [`cardinality_limit`](Self::cardinality_limit): one series
    /// of its own, beside the overflow series (the specification: "a positive
    /// integer").
    pub const MIN_CARDINALITY_LIMIT: usize = 1;
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            exporter: ExporterConfig::default(),
            export_interval: Self::DEFAULT_EXPORT_INTERVAL,
            export_timeout: Self::DEFAULT_EXPORT_TIMEOUT,
            temporality: TemporalityPreference::default(),
            default_histogram_aggregation: DefaultHistogramAggregation::default(),
            cardinality_limit: Self::DEFAULT_CARDINALITY_LIMIT,
            exemplar_filter: ExemplarFilter::default(),
        }
    }
}

/// The attribute limits of spans and log records (section `limits`), as the
/// sources set them: each field is `None` unless a source set it.
/// [`span_limits`](Self::span_limits) and
/// [`log_record_limits`](Self::log_record_limits) resolve them as the
/// specification says: a model-specific limit
/// (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`) wins over the generic one
/// (`OTEL_ATTRIBUTE_COUNT_LIMIT`), whichever source set either; with neither,
/// the model's default (128 per count, no length cap).
/// [`TracerProviderBuilder::with_config`](crate::TracerProviderBuilder::with_config)
/// and [`LoggerProviderBuilder::with_config`](crate::LoggerProviderBuilder::with_config)
/// apply them.
///
/// Any whole number is accepted, `0` included (a count of 0 keeps no
/// attribute, a length of 0 empties every string).
///
/// Plain data: `Copy`.
///
/// ```
/// use otlp_sdk::config::ConfigLoader;
///
/// let config = ConfigLoader::new()
///     .with_config_dir("no-such-dir")
///     .with_env([
///         ("OTEL_ATTRIBUTE_COUNT_LIMIT", "64"),
///         ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "32"), // wins for spans
///         ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1024"),
///         ("OTEL_SPAN_EVENT_COUNT_LIMIT", "16"),
///     ])
///     .load()?;
/// let spans = config.limits.span_limits();
/// assert_eq!(spans.max_attributes, 32);
/// assert_eq!(spans.max_attributes_per_event, 64); // the generic limit
/// assert_eq!(spans.max_events, 16);
/// assert_eq!(spans.max_links, 128); // the default
/// assert_eq!(spans.max_attribute_value_length, Some(1024));
/// let logs = config.limits.log_record_limits();
/// assert_eq!(logs.max_attributes, 64);
/// assert_eq!(logs.max_attribute_value_length, Some(1024));
/// # Ok::<(), otlp_sdk::config::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Attributes per span, event, link or log record unless a model-specific
    /// limit is set (`OTEL_ATTRIBUTE_COUNT_LIMIT`, key `limits.attribute_count`).
    pub attribute_count: Option<usize>,
    /// Longest attribute value of spans, events, links and log records unless
    /// a model-specific limit is set (`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, key
    /// `limits.attribute_value_length`).
    pub attribute_value_length: Option<usize>,
    /// Attributes per span (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, key
    /// `limits.span_attribute_count`).
    pub span_attribute_count: Option<usize>,
    /// Longest attribute value of spans, their events and links
    /// (`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, key
    /// `limits.span_attribute_value_length`).
    pub span_attribute_value_length: Option<usize>,
    /// Events per span (`OTEL_SPAN_EVENT_COUNT_LIMIT`, key
    /// `limits.span_event_count`; no generic fallback).
    pub span_event_count: Option<usize>,
    /// Links per span (`OTEL_SPAN_LINK_COUNT_LIMIT`, key
    /// `limits.span_link_count`; no generic fallback).
    pub span_link_count: Option<usize>,
    /// Attributes per span event (`OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`, key
    /// `limits.event_attribute_count`).
    pub event_attribute_count: Option<usize>,
    /// Attributes per span link (`OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`, key
    /// `limits.link_attribute_count`).
    pub link_attribute_count: Option<usize>,
    /// Attributes per log record (`OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT`, key
    /// `limits.log_record_attribute_count`).
    pub log_record_attribute_count: Option<usize>,
    /// Longest attribute value of log records
    /// (`OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT`, key
    /// `limits.log_record_attribute_value_length`).
    pub log_record_attribute_value_length: Option<usize>,
}

impl LimitsConfig {
    /// The span limits: each model-specific setting, else the generic one,
    /// else [`SpanLimits::default`]'s value.
    pub fn span_limits(&self) -> SpanLimits {
        let defaults = SpanLimits::default();
        let count = |specific: Option<usize>, default: usize| {
            specific.or(self.attribute_count).unwrap_or(default)
        };
        SpanLimits {
            max_attributes: count(self.span_attribute_count, defaults.max_attributes),
            max_events: self.span_event_count.unwrap_or(defaults.max_events),
            max_links: self.span_link_count.unwrap_or(defaults.max_links),
            max_attributes_per_event: count(
                self.event_attribute_count,
                defaults.max_attributes_per_event,
            ),
            max_attributes_per_link: count(
                self.link_attribute_count,
                defaults.max_attributes_per_link,
            ),
            max_attribute_value_length: self
                .span_attribute_value_length
                .or(self.attribute_value_length)
                .or(defaults.max_attribute_value_length),
        }
    }

    /// The log record limits: each model-specific setting, else the generic
    /// one, else [`LogRecordLimits::default`]'s value.
    pub fn log_record_limits(&self) -> LogRecordLimits {
        let defaults = LogRecordLimits::default();
        LogRecordLimits {
            max_attributes: self
                .log_record_attribute_count
                .or(self.attribute_count)
                .unwrap_or(defaults.max_attributes),
            max_attribute_value_length: self
                .log_record_attribute_value_length
                .or(self.attribute_value_length)
                .or(defaults.max_attribute_value_length),
        }
    }
}

/// Where and how an exporter sends one signal's records. `Debug` hides URL
/// user-info and header values.
///
/// One value serves one pipeline: [`Config::exporter`] for spans,
/// [`LogsConfig::exporter`] for log records, [`MetricsConfig::exporter`] for
/// metrics. [`endpoint_for`](Self::endpoint_for) gives the URL for a signal.
#[derive(Clone, PartialEq)]
pub struct ExporterConfig {
    /// Base endpoint for all signals (`OTEL_EXPORTER_OTLP_ENDPOINT`); for HTTP,
    /// `v1/traces`, `v1/logs` or `v1/metrics` is appended.
    pub endpoint: Option<String>,
    /// Traces endpoint, used exactly as given (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
    pub traces_endpoint: Option<String>,
    /// Logs endpoint, used exactly as given (`OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`,
    /// `logs.exporter.logs_endpoint`).
    pub logs_endpoint: Option<String>,
    /// Metrics endpoint, used exactly as given (`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`,
    /// `metrics.exporter.metrics_endpoint`).
    pub metrics_endpoint: Option<String>,
    /// Transport and encoding.
    pub protocol: Protocol,
    /// Timeout of one export attempt (`OTEL_EXPORTER_OTLP_TIMEOUT`, default 10 s).
    pub timeout: Duration,
    /// Body compression.
    pub compression: Compression,
    /// Extra request headers / gRPC metadata.
    pub headers: Headers,
    /// TLS files and the gRPC `insecure` flag.
    pub tls: TlsConfig,
    /// What exports the signal: OTLP (the default), the console, or nothing
    /// (`OTEL_TRACES_EXPORTER`, `OTEL_LOGS_EXPORTER`, `OTEL_METRICS_EXPORTER`).
    pub kind: ExporterKind,
}

impl fmt::Debug for ExporterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `https://user:password@host` must not reach a log through `{:?}`.
        let redacted = |url: &Option<String>| url.as_deref().map(redact_userinfo);
        f.debug_struct("ExporterConfig")
            .field("endpoint", &redacted(&self.endpoint))
            .field("traces_endpoint", &redacted(&self.traces_endpoint))
            .field("logs_endpoint", &redacted(&self.logs_endpoint))
            .field("metrics_endpoint", &redacted(&self.metrics_endpoint))
            .field("protocol", &self.protocol)
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field("headers", &self.headers)
            .field("tls", &self.tls)
            .field("kind", &self.kind)
            .finish()
    }
}

impl Default for ExporterConfig {
    fn default() -> Self {
        ExporterConfig {
            endpoint: None,
            traces_endpoint: None,
            logs_endpoint: None,
            metrics_endpoint: None,
            protocol: Protocol::default(),
            timeout: Duration::from_secs(10),
            compression: Compression::None,
            headers: Headers::new(),
            tls: TlsConfig::default(),
            kind: ExporterKind::Otlp,
        }
    }
}

impl ExporterConfig {
    /// The URL `signal`'s records are sent to, after the specification's rules:
    /// the signal's own endpoint ([`traces_endpoint`](Self::traces_endpoint),
    /// [`logs_endpoint`](Self::logs_endpoint) or
    /// [`metrics_endpoint`](Self::metrics_endpoint)) is used as given; else a
    /// generic HTTP endpoint gets `v1/traces`, `v1/logs` or `v1/metrics`
    /// appended with exactly one `/`; a generic gRPC endpoint is used as given; with neither, the
    /// protocol's default. A gRPC endpoint without a scheme gets `http://` when
    /// `insecure` is true and `https://` otherwise.
    ///
    /// ```
    /// use otlp_sdk::Signal;
    /// use otlp_sdk::config::ExporterConfig;
    ///
    /// let exporter = ExporterConfig {
    ///     endpoint: Some("http://collector:4318/".into()),
    ///     logs_endpoint: Some("http://logs:9000/ingest".into()),
    ///     ..ExporterConfig::default()
    /// };
    /// assert_eq!(exporter.endpoint_for(Signal::Traces), "http://collector:4318/v1/traces");
    /// assert_eq!(exporter.endpoint_for(Signal::Logs), "http://logs:9000/ingest");
    /// assert_eq!(exporter.endpoint_for(Signal::Metrics), "http://collector:4318/v1/metrics");
    /// ```
    pub fn endpoint_for(&self, signal: Signal) -> String {
        let own = match signal {
            Signal::Traces => &self.traces_endpoint,
            Signal::Logs => &self.logs_endpoint,
            Signal::Metrics => &self.metrics_endpoint,
        };
        if let Some(endpoint) = own {
            return self.with_scheme(endpoint);
        }
        let base = self
            .endpoint
            .as_deref()
            .unwrap_or(self.protocol.default_endpoint());
        let base = self.with_scheme(base);
        match self.protocol {
            Protocol::Grpc => base,
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                format!("{}/v1/{}", base.trim_end_matches('/'), signal.as_str())
            }
        }
    }

    /// The URL spans are sent to: [`endpoint_for(Signal::Traces)`](Self::endpoint_for).
    pub fn traces_endpoint(&self) -> String {
        self.endpoint_for(Signal::Traces)
    }

    fn with_scheme(&self, endpoint: &str) -> String {
        if endpoint.contains("://") || self.protocol != Protocol::Grpc {
            endpoint.to_owned()
        } else if self.tls.insecure == Some(true) {
            format!("http://{endpoint}")
        } else {
            format!("https://{endpoint}")
        }
    }
}

/// What `on_end` does when the queue is full.
///
/// The default is [`Block`](FullPolicy::Block) for [`FullPolicy::DEFAULT_BLOCK_TIMEOUT`]:
/// a producer that outruns a healthy pipeline is slowed to its pace instead
/// of losing spans, while a stalled pipeline (backend down) drops at once and
/// never holds producers. [`Drop`](FullPolicy::Drop) is the OpenTelemetry
/// specification's behaviour (`OTLP__BATCH__FULL_POLICY=drop`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FullPolicy {
    /// Drop the span and count it (`dropped_queue_full`; a span that could
    /// never be queued, larger encoded than the queue or than a request may
    /// be, `dropped_oversized`, as under `Block`). Never waits: what the
    /// OpenTelemetry specification's batch processor does.
    Drop,
    /// Backpressure: wait for room while the pipeline makes progress; drop and
    /// count only once it is stalled. A slow but healthy backend (exports in
    /// flight within their attempt timeout, or completing) slows a producer
    /// that outruns it to its pace, and nothing is lost, however long each
    /// answer takes. The pipeline is *stalled* when exports fail and are
    /// being retried (the backend is down or refuses), or when nothing has
    /// moved for a whole attempt timeout (the backend hangs): a producer then
    /// waits this bound at most, drops, and so do the following producers at
    /// once, without waiting, until the loop takes spans again — a dead
    /// backend holds producers for one bound per stall, not one per span. A
    /// waiting producer sleeps in short steps and is woken as soon as there
    /// is room; it does not spin. With the durable queue, failing exports do
    /// not stall the pipeline while its disk has room: the loop moves spans
    /// to disk, and producers wait for it (only a loop that takes nothing
    /// for a whole attempt timeout stalls it). Once the disk is three
    /// quarters full (the last quarter is kept for batches in flight), a
    /// failing pipeline is stalled again.
    Block(Duration),
}

impl FullPolicy {
    /// The wait bound of the default policy, and of `full_policy = "block"`
    /// without a `block_timeout`.
    pub const DEFAULT_BLOCK_TIMEOUT: Duration = Duration::from_millis(100);
}

impl Default for FullPolicy {
    fn default() -> Self {
        FullPolicy::Block(FullPolicy::DEFAULT_BLOCK_TIMEOUT)
    }
}

/// Queueing and batching (`OTEL_BSP_*` and section `batch` for spans,
/// `OTEL_BLRP_*` and section `logs.batch` for log records).
///
/// The queue is bounded by bytes ([`max_queue_bytes`](Self::max_queue_bytes),
/// 64 MiB), and by a count only when one is set: the specification's default
/// of 2048 for `OTEL_BSP_MAX_QUEUE_SIZE` and `OTEL_BLRP_MAX_QUEUE_SIZE` is not
/// applied, since the byte bound already protects memory whatever the
/// records' sizes. What is said of spans below holds for log records in a log
/// pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchConfig {
    /// Bytes the queue holds (`OTLP__BATCH__MAX_QUEUE_BYTES`, key `max_queue_bytes`,
    /// default 64 MiB; there is no standard `OTEL_*` variable for it): encoded
    /// spans waiting for export take at most this many bytes; beyond it new
    /// spans wait ([`FullPolicy::Block`]) or are dropped and counted
    /// ([`FullPolicy::Drop`], or once a blocked wait gives up).
    pub max_queue_bytes: usize,
    /// A cap on the number of queued spans, only when set (`OTEL_BSP_MAX_QUEUE_SIZE`,
    /// `OTLP__BATCH__MAX_QUEUE_SIZE`, key `max_queue_size`; default `None`: the
    /// queue is bounded by [`max_queue_bytes`](Self::max_queue_bytes) alone). When
    /// set, whichever limit is reached first makes the queue full.
    pub max_queue_size: Option<usize>,
    /// Largest batch (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512); at most
    /// `max_queue_size` when that is set.
    pub max_export_batch_size: usize,
    /// Smallest batch size adaptive batching goes down to (default 64).
    pub min_export_batch_size: usize,
    /// Longest a span waits before its batch is cut (`OTEL_BSP_SCHEDULE_DELAY`, default 5 s).
    ///
    /// Zero is valid, as the specification's durations are non-negative: then
    /// what arrives is exported at once. The export loop has no tick; it
    /// sleeps until a record comes, and each record pays for a look at
    /// whether the loop sleeps (a `SeqCst` fence) and the first one after it
    /// fell asleep for waking it. At a low rate that is a request per record;
    /// while every export slot is taken, records gather into batches.
    pub scheduled_delay: Duration,
    /// Total time for one batch, retries included (`OTEL_BSP_EXPORT_TIMEOUT`, default 30 s).
    pub export_timeout: Duration,
    /// Exports in flight at once (default 4).
    pub max_concurrent_exports: usize,
    /// Adaptive batching (default off: every batch is cut at `max_export_batch_size`).
    ///
    /// When on, the batch size starts at `min_export_batch_size` and, at every cut:
    /// doubles (up to the maximum) when at least two batches of the current size
    /// are queued — a backlog is building and bigger requests carry more spans
    /// per round trip; halves (down to the minimum) when recent exports took
    /// longer than a quarter of the attempt timeout — the backend struggles with
    /// requests this large; shrinks by a quarter when less than a quarter of a
    /// batch is waiting — load is light and small batches arrive sooner. The
    /// export loop is woken as soon as the current size is queued.
    pub adaptive: bool,
    /// What to do when the queue is full (default: wait while exports make
    /// progress, at most 100 ms once the pipeline is stalled; see [`FullPolicy`]).
    pub full_policy: FullPolicy,
}

impl BatchConfig {
    /// The default [`max_queue_bytes`](Self::max_queue_bytes), 64 MiB: the OTLP
    /// request limit, so the queue holds at least one largest request's worth of
    /// encoded spans. At the limit, `on_end` applies the [`FullPolicy`].
    pub const DEFAULT_MAX_QUEUE_BYTES: usize = 64 * 1024 * 1024;

    /// The defaults of a log pipeline: those of spans but the scheduled delay,
    /// 1 s (`OTEL_BLRP_SCHEDULE_DELAY`'s default; spans' is 5 s). As for
    /// spans, the queue is bounded by bytes, and by a count only when
    /// `OTEL_BLRP_MAX_QUEUE_SIZE` is set.
    pub fn logs_default() -> Self {
        BatchConfig {
            scheduled_delay: Duration::from_millis(1000),
            ..BatchConfig::default()
        }
    }
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_queue_bytes: Self::DEFAULT_MAX_QUEUE_BYTES,
            max_queue_size: None,
            max_export_batch_size: 512,
            min_export_batch_size: 64,
            scheduled_delay: Duration::from_millis(5000),
            export_timeout: Duration::from_millis(30_000),
            max_concurrent_exports: 4,
            adaptive: false,
            full_policy: FullPolicy::default(),
        }
    }
}

/// Tuning that trades memory for speed (section `performance`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerformanceConfig {
    /// Largest request body before compression; bigger batches are split (default 64 MiB,
    /// the specification's cap).
    pub max_request_bytes: usize,
    /// Encode buffers kept for reuse (default: twice `max_concurrent_exports`;
    /// at most 4096 whatever the setting).
    pub buffer_pool_size: Option<usize>,
    /// Threads that send the requests (default 1, at most
    /// [`MAX_IO_THREADS`](Self::MAX_IO_THREADS)). With 1 the export loop's
    /// own thread sends them, between batches; with more, a runtime of that
    /// many threads beside the loop does (a pipeline compressing or
    /// encrypting many large requests at once).
    pub io_threads: usize,
}

impl PerformanceConfig {
    /// The most [`io_threads`](Self::io_threads) a pipeline takes: 256. The
    /// threads are started when the pipeline is built, each with its own
    /// stack, and their work (compressing, encrypting and sending the
    /// requests in flight, at most `max_concurrent_exports` of them) gains
    /// nothing from more threads than the machine has cores: 256 is above
    /// the core count of the largest common servers. A bigger count is a
    /// mistake (a typo, a byte count in the wrong key), refused by the
    /// configuration and by a pipeline's `build()` with an error naming
    /// `performance.io_threads` and the value, where it started that many
    /// threads (or panicked in tokio's builder).
    pub const MAX_IO_THREADS: usize = 256;
}

impl Default for PerformanceConfig {
    fn default() -> Self {
        PerformanceConfig {
            max_request_bytes: otlp_core::encode::MAX_REQUEST_BYTES,
            buffer_pool_size: None,
            io_threads: 1,
        }
    }
}
