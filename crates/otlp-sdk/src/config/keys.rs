//! [`apply`], the one place where a value for a key ([`Setting`]) is parsed,
//! checked and stored.
//!
//! Files, `OTLP__SECTION__KEY` overrides and the standard `OTEL_*` variables all
//! end up here, so each key has exactly one parser (with a [`Dialect`] switch for
//! the few places where the `OTEL_*` syntax differs).
//!
//! Exporter settings are staged apart per [`Scope`]: the generic ones (section
//! `exporter`, `OTEL_EXPORTER_OTLP_X`), the traces-specific ones
//! (`OTEL_EXPORTER_OTLP_TRACES_X`), the logs-specific ones (section
//! `logs.exporter`, `OTEL_EXPORTER_OTLP_LOGS_X`) and the metrics-specific ones
//! (section `metrics.exporter`, `OTEL_EXPORTER_OTLP_METRICS_X`). Each scope is filled by every
//! source in order (a later source wins within a scope); [`Staged::resolve`] then
//! gives each signal the generic values with its own over them, so a specific
//! value wins over a generic one whichever source set either.

use std::path::PathBuf;
use std::time::Duration;

use super::node::Node;
use super::origin::Origins;
use super::parse::{self, Dialect, ListSyntax};
use super::propagator_options::{self, PropagatorsConfig};
use super::setting::{Scope, Setting};
use super::validate;
use super::{
    Compression, Config, ConfigError, ConfigSource, ConfigWarning, DefaultHistogramAggregation,
    ExemplarFilter, ExporterConfig, ExporterKind, FullPolicy, Protocol, SamplerName,
    TemporalityPreference,
};
use crate::durable::{DurableConfig, FsyncPolicy};

/// How long [`FullPolicy::Block`] waits when `full_policy = "block"` is given
/// without a `block_timeout`.
pub(crate) const DEFAULT_BLOCK_TIMEOUT: Duration = FullPolicy::DEFAULT_BLOCK_TIMEOUT;

/// Who is setting a value, and how they spell the key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx<'a> {
    /// The source.
    pub origin: &'a ConfigSource,
    /// The key as the source spells it (`OTEL_BSP_MAX_QUEUE_SIZE`, `batch.max_queue_size`).
    pub spelled: &'a str,
    /// The syntax values are read with.
    pub dialect: Dialect,
    /// Which configuration the value goes to.
    pub scope: Scope,
}

/// A configuration being assembled from its sources.
///
/// Until [`resolve`](Self::resolve), `config.exporter` holds the generic exporter
/// settings (and `traces_endpoint`), and the per-signal ones wait in
/// `traces_exporter`, `logs_exporter` and `metrics_exporter`, meaningful only
/// where [`Origins`] records them (under `traces.exporter.*`,
/// `logs.exporter.*` and `metrics.exporter.*`).
#[derive(Clone, Debug)]
pub(crate) struct Staged {
    /// The values so far.
    pub config: Config,
    /// Traces-specific exporter values (`OTEL_EXPORTER_OTLP_TRACES_X`).
    pub traces_exporter: ExporterConfig,
    /// Logs-specific exporter values (section `logs.exporter`, `OTEL_EXPORTER_OTLP_LOGS_X`).
    pub logs_exporter: ExporterConfig,
    /// Metrics-specific exporter values (section `metrics.exporter`,
    /// `OTEL_EXPORTER_OTLP_METRICS_X`).
    pub metrics_exporter: ExporterConfig,
    /// A `block_timeout` given while the policy is not (yet) `block`.
    pub block_timeout: Option<Duration>,
    /// The same for `logs.batch`.
    pub logs_block_timeout: Option<Duration>,
    /// A `durable.fsync_interval` given while the fsync policy is not (yet) `interval`.
    pub fsync_interval: Option<Duration>,
    /// The same for `logs.durable`.
    pub logs_fsync_interval: Option<Duration>,
    /// Sampler arguments rejected so far, each with the error it would be:
    /// whether that is an error depends on the sampler, which a later
    /// source may name ([`settle_sampler_args`]).
    pub rejected_sampler_args: Vec<ConfigError>,
    /// The sampler name refused last, as given, unless a later one was
    /// accepted: lenient loading ignores a refused `OTEL_TRACES_SAMPLER`,
    /// and [`settle_sampler_args`] then says why an argument is unused.
    pub refused_sampler: Option<String>,
    /// Who set what.
    pub origins: Origins,
}

/// The exporter settings other than `headers`, each staged per scope.
const EXPORTER_SCALARS: &[Setting] = &[
    Setting::ExporterEndpoint,
    Setting::ExporterTracesEndpoint,
    Setting::ExporterLogsEndpoint,
    Setting::ExporterMetricsEndpoint,
    Setting::ExporterProtocol,
    Setting::ExporterTimeout,
    Setting::ExporterCompression,
    Setting::ExporterCertificate,
    Setting::ExporterClientCertificate,
    Setting::ExporterClientKey,
    Setting::ExporterInsecure,
    Setting::ExporterKind,
];

impl Staged {
    /// Defaults, attributed to [`ConfigSource::Default`].
    pub(crate) fn new() -> Self {
        Staged {
            config: Config::default(),
            traces_exporter: ExporterConfig::default(),
            logs_exporter: ExporterConfig::default(),
            metrics_exporter: ExporterConfig::default(),
            block_timeout: None,
            logs_block_timeout: None,
            fsync_interval: None,
            logs_fsync_interval: None,
            rejected_sampler_args: Vec::new(),
            refused_sampler: None,
            origins: Origins::new(ConfigSource::Default),
        }
    }

    /// The exporter values of `scope`.
    fn exporter_mut(&mut self, scope: Scope) -> &mut ExporterConfig {
        match scope {
            Scope::Shared => &mut self.config.exporter,
            Scope::Traces => &mut self.traces_exporter,
            Scope::Logs => &mut self.logs_exporter,
            Scope::Metrics => &mut self.metrics_exporter,
        }
    }

    /// The finished configuration: each signal's exporter is the generic values
    /// with the signal's own over them (a signal's own headers replace the
    /// generic ones), a batch size no source set follows a smaller count cap
    /// (the default 512 becomes 100 under `OTEL_BSP_MAX_QUEUE_SIZE=100`, as
    /// the other SDKs clamp it), and the
    /// origins name, for every setting, the source of the value that won
    /// (`exporter.*` for spans, `logs.exporter.*` for logs,
    /// `metrics.exporter.*` for metrics). Each signal keeps only its own
    /// endpoint.
    pub(crate) fn resolve(mut self) -> (Config, Origins) {
        let generic = self.config.exporter.clone();
        let origins = &mut self.origins;
        // Logs and metrics first: they copy the generic origins, which traces
        // then replace.
        let mut logs = overlay(&generic, &self.logs_exporter, Scope::Logs, origins);
        logs.traces_endpoint = None;
        logs.metrics_endpoint = None;
        let mut metrics = overlay(&generic, &self.metrics_exporter, Scope::Metrics, origins);
        metrics.traces_endpoint = None;
        metrics.logs_endpoint = None;
        let mut traces = overlay(&generic, &self.traces_exporter, Scope::Traces, origins);
        traces.logs_endpoint = None;
        traces.metrics_endpoint = None;
        self.config.exporter = traces;
        self.config.logs.exporter = logs;
        self.config.metrics.exporter = metrics;
        for (batch, scope) in [
            (&mut self.config.batch, Scope::Shared),
            (&mut self.config.logs.batch, Scope::Logs),
        ] {
            let batch_size = scope.dotted(Setting::BatchMaxExportBatchSize);
            if let Some(cap) = batch.max_queue_size
                && !self.origins.is_recorded(&batch_size)
            {
                batch.max_export_batch_size = batch.max_export_batch_size.min(cap);
            }
        }
        (self.config, self.origins)
    }
}

/// `generic` with the values `scope` recorded over it. Origins end up under the
/// names validation uses: a traces-specific one replaces the generic one under
/// `exporter.*`; a generic one is copied to `logs.exporter.*` (or
/// `metrics.exporter.*`) when logs (or metrics) set none.
fn overlay(
    generic: &ExporterConfig,
    specific: &ExporterConfig,
    scope: Scope,
    origins: &mut Origins,
) -> ExporterConfig {
    let resolved_name = |dotted: &str| match scope {
        Scope::Logs | Scope::Metrics => format!("{}{dotted}", scope.prefix()),
        Scope::Shared | Scope::Traces => dotted.to_owned(),
    };
    let mut resolved = generic.clone();
    for &key in EXPORTER_SCALARS {
        let (own, shared) = (scope.dotted(key), key.dotted());
        if origins.is_recorded(&own) {
            copy_exporter_value(&mut resolved, specific, key);
            origins.copy(&own, &resolved_name(shared));
        } else {
            origins.copy(shared, &resolved_name(shared));
        }
    }
    // Headers are one setting: a signal's own replace the generic ones
    // altogether (as the other SDKs read `OTEL_EXPORTER_OTLP_<SIGNAL>_HEADERS`),
    // so a credential meant for the generic backend never reaches a signal
    // that names its own headers (and usually its own backend).
    let headers_key = Setting::ExporterHeaders.dotted();
    let (headers, prefix) = if specific.headers.is_empty() {
        (&generic.headers, String::new())
    } else {
        (&specific.headers, scope.prefix().to_owned())
    };
    for (name, _) in headers.iter() {
        let dotted = format!("{headers_key}.{}", name.to_ascii_lowercase());
        origins.copy(&format!("{prefix}{dotted}"), &resolved_name(&dotted));
    }
    resolved.headers = headers.clone();
    resolved
}

/// Copies the field `key` names from `from` into `to`.
fn copy_exporter_value(to: &mut ExporterConfig, from: &ExporterConfig, key: Setting) {
    match key {
        Setting::ExporterEndpoint => to.endpoint.clone_from(&from.endpoint),
        Setting::ExporterTracesEndpoint => to.traces_endpoint.clone_from(&from.traces_endpoint),
        Setting::ExporterLogsEndpoint => to.logs_endpoint.clone_from(&from.logs_endpoint),
        Setting::ExporterMetricsEndpoint => {
            to.metrics_endpoint.clone_from(&from.metrics_endpoint);
        }
        Setting::ExporterProtocol => to.protocol = from.protocol,
        Setting::ExporterTimeout => to.timeout = from.timeout,
        Setting::ExporterCompression => to.compression = from.compression,
        Setting::ExporterCertificate => to.tls.ca_certificate.clone_from(&from.tls.ca_certificate),
        Setting::ExporterClientCertificate => to
            .tls
            .client_certificate
            .clone_from(&from.tls.client_certificate),
        Setting::ExporterClientKey => to.tls.client_key.clone_from(&from.tls.client_key),
        Setting::ExporterInsecure => to.tls.insecure = from.tls.insecure,
        Setting::ExporterKind => to.kind = from.kind,
        _ => {}
    }
}

/// Parses `node` for `key`, checks it and stores it. A null or blank value means
/// "not set" and changes nothing. On error nothing is changed but
/// [`Staged::refused_sampler`], set to a refused sampler name (an accepted
/// one clears it). A rejected sampler argument is not an error yet: it is
/// kept in [`Staged::rejected_sampler_args`] until the sampler is known.
pub(crate) fn apply(
    staged: &mut Staged,
    key: Setting,
    node: &Node,
    ctx: Ctx<'_>,
) -> Result<(), ConfigError> {
    if node.is_unset() {
        return Ok(());
    }
    let invalid = |reason: String| {
        ConfigError::invalid(ctx.spelled, key.shown(node), reason, ctx.origin.clone())
    };
    match key {
        Setting::ResourceAttributes => apply_attributes(staged, node, ctx).map_err(invalid),
        Setting::ExporterHeaders => apply_headers(staged, node, ctx).map_err(invalid),
        _ => match apply_scalar(staged, key, node, ctx.scope, ctx.dialect) {
            Ok(()) => {
                if key == Setting::SamplerName {
                    staged.refused_sampler = None;
                }
                let dotted = ctx.scope.dotted(key);
                staged.origins.record(dotted, ctx.origin, ctx.spelled);
                Ok(())
            }
            // Whether the argument is used depends on the sampler, which a
            // later source may name: `settle_sampler_args` decides.
            Err(reason) if key == Setting::SamplerArg => {
                staged.rejected_sampler_args.push(invalid(reason));
                Ok(())
            }
            Err(reason) => {
                if key == Setting::SamplerName {
                    staged.refused_sampler = Some(key.shown(node));
                }
                Err(invalid(reason))
            }
        },
    }
}

fn apply_scalar(
    staged: &mut Staged,
    key: Setting,
    node: &Node,
    scope: Scope,
    dialect: Dialect,
) -> Result<(), String> {
    if scope == Scope::Metrics && key.dotted().starts_with("batch.") {
        // `lookup_in` offers no `metrics.batch`: this is a caller's mistake.
        return Err("metrics have no batch settings".to_owned());
    }
    if scope == Scope::Metrics && key.dotted().starts_with("durable.") {
        // Nor `metrics.durable`: a metrics reader has no durable queue.
        return Err("metrics have no durable queue".to_owned());
    }
    let Staged {
        config,
        traces_exporter,
        logs_exporter,
        metrics_exporter,
        block_timeout,
        logs_block_timeout,
        fsync_interval,
        logs_fsync_interval,
        rejected_sampler_args: _,
        refused_sampler: _,
        origins: _,
    } = staged;
    let (exporter, batch, block_timeout) = match scope {
        Scope::Shared => (&mut config.exporter, &mut config.batch, block_timeout),
        Scope::Traces => (traces_exporter, &mut config.batch, block_timeout),
        Scope::Logs => (logs_exporter, &mut config.logs.batch, logs_block_timeout),
        // Batch keys were refused above.
        Scope::Metrics => (metrics_exporter, &mut config.batch, block_timeout),
    };
    // The span pipeline's durable queue, or the log pipeline's.
    let (durable_config, fsync_interval) = match scope {
        Scope::Logs => (&mut config.logs.durable, logs_fsync_interval),
        // Metrics' durable keys were refused above.
        Scope::Shared | Scope::Traces | Scope::Metrics => (&mut config.durable, fsync_interval),
    };
    let metrics = &mut config.metrics;
    let retry = &mut config.retry;
    let performance = &mut config.performance;
    let limits = &mut config.limits;
    match key {
        Setting::ServiceName => config.service_name = Some(string(node)?),
        Setting::ServiceDisabled => config.disabled = parse::boolean(node, dialect)?,
        Setting::SamplerName => {
            config.sampler.name = Some(sampler_name(node)?);
        }
        Setting::SamplerArg => {
            let ratio = parse::number(node)?;
            validate::sampler_ratio(ratio)?;
            config.sampler.arg = Some(ratio);
        }
        Setting::PropagationPropagators => config.propagators = propagators(node)?,
        Setting::ExporterEndpoint => exporter.endpoint = Some(string(node)?),
        Setting::ExporterTracesEndpoint => exporter.traces_endpoint = Some(string(node)?),
        Setting::ExporterLogsEndpoint => exporter.logs_endpoint = Some(string(node)?),
        Setting::ExporterMetricsEndpoint => exporter.metrics_endpoint = Some(string(node)?),
        Setting::ExporterProtocol => exporter.protocol = parse::choice(node, PROTOCOLS)?,
        Setting::ExporterTimeout => exporter.timeout = parse::timeout(node, dialect)?,
        Setting::ExporterCompression => exporter.compression = parse::choice(node, COMPRESSIONS)?,
        Setting::ExporterCertificate => exporter.tls.ca_certificate = Some(path(node)?),
        Setting::ExporterClientCertificate => exporter.tls.client_certificate = Some(path(node)?),
        Setting::ExporterClientKey => exporter.tls.client_key = Some(path(node)?),
        Setting::ExporterInsecure => exporter.tls.insecure = Some(parse::boolean(node, dialect)?),
        Setting::ExporterKind => exporter.kind = exporter_kind(node)?,
        Setting::BatchMaxQueueBytes => batch.max_queue_bytes = positive(node)?,
        Setting::BatchMaxQueueSize => batch.max_queue_size = Some(positive(node)?),
        Setting::BatchMaxExportBatchSize => batch.max_export_batch_size = positive(node)?,
        Setting::BatchMinExportBatchSize => batch.min_export_batch_size = positive(node)?,
        // Zero is valid (the specification's durations are non-negative):
        // records are exported as soon as they come.
        Setting::BatchScheduledDelay => batch.scheduled_delay = parse::duration(node, dialect)?,
        Setting::BatchExportTimeout => batch.export_timeout = parse::timeout(node, dialect)?,
        Setting::BatchMaxConcurrentExports => batch.max_concurrent_exports = positive(node)?,
        Setting::BatchAdaptive => batch.adaptive = parse::boolean(node, dialect)?,
        Setting::BatchFullPolicy => {
            batch.full_policy = match parse::choice(node, FULL_POLICIES)? {
                FullPolicyName::Drop => FullPolicy::Drop,
                FullPolicyName::Block => {
                    FullPolicy::Block(block_timeout.unwrap_or(DEFAULT_BLOCK_TIMEOUT))
                }
            }
        }
        Setting::BatchBlockTimeout => {
            let timeout = nonzero_duration(node, dialect)?;
            *block_timeout = Some(timeout);
            if let FullPolicy::Block(_) = batch.full_policy {
                batch.full_policy = FullPolicy::Block(timeout);
            }
        }
        Setting::RetryEnabled => retry.enabled = parse::boolean(node, dialect)?,
        Setting::RetryInitialBackoff => retry.initial_backoff = nonzero_duration(node, dialect)?,
        Setting::RetryMaxBackoff => retry.max_backoff = nonzero_duration(node, dialect)?,
        Setting::RetryMultiplier => {
            let multiplier = parse::number(node)?;
            validate::multiplier(multiplier)?;
            retry.multiplier = multiplier;
        }
        Setting::RetryRandomizationFactor => {
            let factor = parse::number(node)?;
            validate::randomization_factor(factor)?;
            retry.randomization_factor = factor;
        }
        Setting::PerformanceMaxRequestBytes => {
            let bytes = parse::count(node)?;
            validate::request_bytes(bytes)?;
            performance.max_request_bytes = bytes;
        }
        Setting::PerformanceBufferPoolSize => performance.buffer_pool_size = Some(positive(node)?),
        Setting::PerformanceIoThreads => {
            let threads = parse::count(node)?;
            validate::io_threads(threads)?;
            performance.io_threads = threads;
        }
        Setting::DurableDirectory => durable(durable_config).directory = path(node)?,
        Setting::DurableFsync => {
            durable(durable_config).fsync = match parse::choice(node, FSYNC_POLICIES)? {
                FsyncName::EveryBatch => FsyncPolicy::EveryBatch,
                FsyncName::Never => FsyncPolicy::Never,
                FsyncName::Interval => {
                    FsyncPolicy::Interval(fsync_interval.unwrap_or(DEFAULT_FSYNC_INTERVAL))
                }
            }
        }
        Setting::DurableFsyncInterval => {
            let interval = nonzero_duration(node, dialect)?;
            *fsync_interval = Some(interval);
            let durable = durable(durable_config);
            if let FsyncPolicy::Interval(_) = durable.fsync {
                durable.fsync = FsyncPolicy::Interval(interval);
            }
        }
        Setting::DurableMaxBytes => durable(durable_config).max_bytes = positive(node)? as u64,
        Setting::DurableSegmentBytes => {
            durable(durable_config).segment_bytes = positive(node)? as u64
        }
        Setting::LimitsAttributeCount => limits.attribute_count = Some(parse::count(node)?),
        Setting::LimitsAttributeValueLength => {
            limits.attribute_value_length = Some(parse::count(node)?);
        }
        Setting::LimitsSpanAttributeCount => {
            limits.span_attribute_count = Some(parse::count(node)?);
        }
        Setting::LimitsSpanAttributeValueLength => {
            limits.span_attribute_value_length = Some(parse::count(node)?);
        }
        Setting::LimitsSpanEventCount => limits.span_event_count = Some(parse::count(node)?),
        Setting::LimitsSpanLinkCount => limits.span_link_count = Some(parse::count(node)?),
        Setting::LimitsEventAttributeCount => {
            limits.event_attribute_count = Some(parse::count(node)?);
        }
        Setting::LimitsLinkAttributeCount => {
            limits.link_attribute_count = Some(parse::count(node)?);
        }
        Setting::LimitsLogRecordAttributeCount => {
            limits.log_record_attribute_count = Some(parse::count(node)?);
        }
        Setting::LimitsLogRecordAttributeValueLength => {
            limits.log_record_attribute_value_length = Some(parse::count(node)?);
        }
        Setting::MetricsExportInterval => {
            metrics.export_interval = nonzero_duration(node, dialect)?;
        }
        Setting::MetricsExportTimeout => metrics.export_timeout = parse::timeout(node, dialect)?,
        Setting::MetricsTemporality => metrics.temporality = parse::choice(node, TEMPORALITIES)?,
        Setting::MetricsDefaultHistogramAggregation => {
            metrics.default_histogram_aggregation = parse::choice(node, HISTOGRAM_AGGREGATIONS)?;
        }
        Setting::MetricsCardinalityLimit => {
            let limit = parse::count(node)?;
            validate::cardinality_limit(limit)?;
            metrics.cardinality_limit = limit;
        }
        Setting::MetricsExemplarFilter => {
            metrics.exemplar_filter = parse::choice(node, EXEMPLAR_FILTERS)?;
        }
        Setting::ResourceAttributes | Setting::ExporterHeaders => {
            return Err("expected a map".to_owned());
        }
    }
    Ok(())
}

/// Settles the sampler arguments the sources gave that were rejected: the
/// argument is the ratio samplers' (`traceidratio`,
/// `parentbased_traceidratio`) only, so for any other sampler, or none
/// (the provider's own), a bad one is unused and only a warning, which says
/// why: the sampler in force takes none, and when lenient loading ignored a
/// refused sampler name ([`Staged::refused_sampler`]), that it was refused.
/// For a ratio sampler it is an error, or when `lenient` and it came from
/// `OTEL_TRACES_SAMPLER_ARG`, a warning (the earlier value stays), as for
/// any rejected standard variable.
pub(crate) fn settle_sampler_args(
    staged: &mut Staged,
    lenient: bool,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    let name = staged.config.sampler.name;
    for mut error in std::mem::take(&mut staged.rejected_sampler_args) {
        let standard = matches!(error.origin(), ConfigSource::Env(ref variable) if variable.starts_with("OTEL_"));
        match name {
            Some(name) if name.uses_arg() => {
                if !(lenient && standard) {
                    return Err(error);
                }
            }
            _ => {
                if let ConfigError::InvalidValue { reason, .. } = &mut error {
                    let unused = match (&staged.refused_sampler, name) {
                        (Some(refused), Some(name)) => format!(
                            "the sampler {refused:?} was refused, and the one named before it, \
                             {}, takes no argument",
                            name.as_str()
                        ),
                        (Some(refused), None) => format!(
                            "the sampler {refused:?} was refused, and the provider's own \
                             takes no argument"
                        ),
                        (None, Some(name)) => {
                            format!("the sampler {} takes no argument", name.as_str())
                        }
                        (None, None) => {
                            "no sampler is named, and the provider's own takes no argument"
                                .to_owned()
                        }
                    };
                    reason.push_str(&format!(" (unused: {unused})"));
                }
            }
        }
        warnings.push(ConfigWarning(error));
    }
    Ok(())
}

/// The durable-queue settings (`config.durable` or `config.logs.durable`),
/// created with their defaults (and no directory, which validation then asks
/// for) by the first `durable.*` (or `logs.durable.*`) key.
fn durable(durable: &mut Option<DurableConfig>) -> &mut DurableConfig {
    durable.get_or_insert_with(|| DurableConfig::new(PathBuf::new()))
}

/// The fsync interval when `durable.fsync = "interval"` comes without `durable.fsync_interval`.
const DEFAULT_FSYNC_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Clone, Copy)]
enum FsyncName {
    EveryBatch,
    Interval,
    Never,
}

const FSYNC_POLICIES: &[(&str, FsyncName)] = &[
    ("every_batch", FsyncName::EveryBatch),
    ("interval", FsyncName::Interval),
    ("never", FsyncName::Never),
];

const PROTOCOLS: &[(&str, Protocol)] = &[
    ("grpc", Protocol::Grpc),
    ("http/protobuf", Protocol::HttpProtobuf),
    ("http/json", Protocol::HttpJson),
];

const TEMPORALITIES: &[(&str, TemporalityPreference)] = &[
    ("cumulative", TemporalityPreference::Cumulative),
    ("delta", TemporalityPreference::Delta),
    ("lowmemory", TemporalityPreference::LowMemory),
];

const HISTOGRAM_AGGREGATIONS: &[(&str, DefaultHistogramAggregation)] = &[
    (
        "explicit_bucket_histogram",
        DefaultHistogramAggregation::ExplicitBucketHistogram,
    ),
    (
        "base2_exponential_bucket_histogram",
        DefaultHistogramAggregation::Base2ExponentialBucketHistogram,
    ),
];

const EXEMPLAR_FILTERS: &[(&str, ExemplarFilter)] = &[
    ("trace_based", ExemplarFilter::TraceBased),
    ("always_on", ExemplarFilter::AlwaysOn),
    ("always_off", ExemplarFilter::AlwaysOff),
];

const EXPORTER_KINDS: &[(&str, ExporterKind)] = &[
    ("otlp", ExporterKind::Otlp),
    ("console", ExporterKind::Console),
    ("none", ExporterKind::None),
];

const COMPRESSIONS: &[(&str, Compression)] = &[
    ("gzip", Compression::Gzip),
    ("none", Compression::None),
    ("zstd", Compression::Zstd),
];

#[derive(Clone, Copy)]
enum FullPolicyName {
    Drop,
    Block,
}

const FULL_POLICIES: &[(&str, FullPolicyName)] = &[
    ("drop", FullPolicyName::Drop),
    ("block", FullPolicyName::Block),
];

/// A text value. Decimal numbers are refused: YAML and TOML would already have
/// rewritten them (`1.10` becomes `1.1`), so they must be quoted.
fn string(node: &Node) -> Result<String, String> {
    if let Node::Float(x) = node {
        return Err(format!(
            "decimal number {x} would lose its spelling: write it in quotes"
        ));
    }
    parse::text(node)
}

/// The propagators: the `OTEL_PROPAGATORS` comma-separated list, or (files)
/// a list of names.
fn propagators(node: &Node) -> Result<PropagatorsConfig, String> {
    match node {
        Node::Seq(items) => {
            let names = items.iter().map(string).collect::<Result<Vec<_>, _>>()?;
            propagator_options::parse_names(names.iter().map(String::as_str))
        }
        _ => propagator_options::parse_names(string(node)?.split(',')),
    }
}

/// A sampler name (`OTEL_TRACES_SAMPLER`, `sampler.name`). A sampler the
/// specification names but this SDK does not build (`jaeger_remote`,
/// `parentbased_jaeger_remote`, `xray`) is refused saying so, not as an
/// unknown name.
fn sampler_name(node: &Node) -> Result<SamplerName, String> {
    parse::choice(node, &SamplerName::ALL).map_err(|expected| match parse::text(node) {
        Ok(text)
            if SamplerName::NOT_BUILT
                .iter()
                .any(|known| known.eq_ignore_ascii_case(&text)) =>
        {
            format!(
                "{text:?} is a sampler of the specification that this SDK does not build; {expected}"
            )
        }
        _ => expected,
    })
}

/// An exporter kind (`OTEL_TRACES_EXPORTER`, `exporter.kind`). The
/// specification lets an SDK take a comma-separated list; this one takes one
/// exporter per signal, and a list is refused saying so (listing the names
/// alone would name the very ones the list holds).
fn exporter_kind(node: &Node) -> Result<ExporterKind, String> {
    parse::choice(node, EXPORTER_KINDS).map_err(|expected| {
        if parse::text(node).is_ok_and(|text| text.contains(',')) {
            format!("one exporter per signal, not a list: {expected}")
        } else {
            expected
        }
    })
}

fn path(node: &Node) -> Result<PathBuf, String> {
    string(node).map(PathBuf::from)
}

fn positive(node: &Node) -> Result<usize, String> {
    let n = parse::count(node)?;
    validate::at_least_one(n)?;
    Ok(n)
}

fn nonzero_duration(node: &Node, dialect: Dialect) -> Result<Duration, String> {
    let duration = parse::duration(node, dialect)?;
    validate::longer_than_zero(duration)?;
    Ok(duration)
}

/// The entries of a map-valued key: a map (files, `OTLP__…__NAME`) or the
/// `k1=v1,k2=v2` list syntax (`OTEL_*`, `OTLP__SECTION__KEY`).
fn entries(node: &Node, list: ListSyntax, what: &str) -> Result<Vec<(String, String)>, String> {
    match node {
        Node::Map(entries) => entries
            .iter()
            .filter(|(_, value)| !value.is_unset())
            .map(|(key, value)| {
                let value = string(value).map_err(|reason| format!("{what} {key:?}: {reason}"))?;
                Ok((key.clone(), value))
            })
            .collect(),
        Node::Str(text) => parse::list(text, list),
        _ => Err(format!(
            "expected a map of {what}s to values, or {what}=value,…"
        )),
    }
}

/// Merges resource attributes: later values win per key, first position kept.
/// A `service.name` attribute sets [`Config::service_name`] instead, so that a
/// later `OTEL_SERVICE_NAME` (or any later source) overrides it.
fn apply_attributes(staged: &mut Staged, node: &Node, ctx: Ctx<'_>) -> Result<(), String> {
    let syntax = ListSyntax {
        decode_keys: true,
        show_entries: true,
    };
    let entries = entries(node, syntax, "attribute")?;
    for (key, _) in &entries {
        validate::attribute_key(key)?;
    }
    let mut attributes = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        if key == "service.name" {
            // A blank name is no name, as a blank `OTEL_SERVICE_NAME` or a
            // blank value in a file: the earlier service name stays.
            if value.trim().is_empty() {
                continue;
            }
            staged.config.service_name = Some(value);
            staged
                .origins
                .record(Setting::ServiceName.dotted(), ctx.origin, ctx.spelled);
            continue;
        }
        let dotted = format!("{}.{key}", Setting::ResourceAttributes.dotted());
        staged.origins.record(dotted, ctx.origin, ctx.spelled);
        attributes.push((key, value));
    }
    parse::merge_entries(
        &mut staged.config.resource_attributes,
        attributes,
        String::clone,
    );
    Ok(())
}

/// Merges headers: later values win per (case-insensitive) name.
fn apply_headers(staged: &mut Staged, node: &Node, ctx: Ctx<'_>) -> Result<(), String> {
    let syntax = ListSyntax {
        decode_keys: false,
        show_entries: false,
    };
    let entries = entries(node, syntax, "header")?;
    for (index, (name, value)) in entries.iter().enumerate() {
        validate::header_name(name).map_err(|reason| format!("entry {}: {reason}", index + 1))?;
        validate::header_value(value).map_err(|reason| format!("header {name:?}: {reason}"))?;
    }
    for (name, _) in &entries {
        let dotted = format!(
            "{}.{}",
            ctx.scope.dotted(Setting::ExporterHeaders),
            name.to_ascii_lowercase()
        );
        staged.origins.record(dotted, ctx.origin, ctx.spelled);
    }
    staged.exporter_mut(ctx.scope).headers.merge(entries);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_ctx(origin: &ConfigSource) -> Ctx<'_> {
        Ctx {
            origin,
            spelled: "test.key",
            dialect: Dialect::Native,
            scope: Scope::Shared,
        }
    }

    #[test]
    fn metrics_batch_keys_are_refused_and_change_nothing() {
        let origin = ConfigSource::Builder;
        let mut staged = Staged::new();
        let ctx = Ctx {
            scope: Scope::Metrics,
            ..file_ctx(&origin)
        };
        let err = apply(
            &mut staged,
            Setting::BatchScheduledDelay,
            &Node::Int(5),
            ctx,
        )
        .unwrap_err();
        assert!(err.reason().contains("no batch settings"), "{err}");
        assert_eq!(staged.config.batch, super::super::BatchConfig::default());
    }

    #[test]
    fn entry_names_use_the_maps_separator() {
        assert_eq!(
            Setting::ExporterHeaders.entry_name("X_API_KEY").as_deref(),
            Some("x-api-key")
        );
        assert_eq!(
            Setting::ResourceAttributes
                .entry_name("DEPLOYMENT_ENVIRONMENT")
                .as_deref(),
            Some("deployment.environment")
        );
        assert_eq!(Setting::BatchAdaptive.entry_name("X"), None);
    }

    #[test]
    fn block_timeout_applies_in_either_order() {
        let origin = ConfigSource::Builder;
        let mut staged = Staged::new();
        apply(
            &mut staged,
            Setting::BatchFullPolicy,
            &Node::Str("drop".into()),
            file_ctx(&origin),
        )
        .unwrap();
        apply(
            &mut staged,
            Setting::BatchBlockTimeout,
            &Node::Str("2s".into()),
            file_ctx(&origin),
        )
        .unwrap();
        assert_eq!(staged.config.batch.full_policy, FullPolicy::Drop);
        apply(
            &mut staged,
            Setting::BatchFullPolicy,
            &Node::Str("BLOCK".into()),
            file_ctx(&origin),
        )
        .unwrap();
        assert_eq!(
            staged.config.batch.full_policy,
            FullPolicy::Block(Duration::from_secs(2))
        );

        let mut staged = Staged::new();
        apply(
            &mut staged,
            Setting::BatchFullPolicy,
            &Node::Str("block".into()),
            file_ctx(&origin),
        )
        .unwrap();
        assert_eq!(
            staged.config.batch.full_policy,
            FullPolicy::Block(DEFAULT_BLOCK_TIMEOUT)
        );
        apply(
            &mut staged,
            Setting::BatchBlockTimeout,
            &Node::Int(30),
            file_ctx(&origin),
        )
        .unwrap();
        assert_eq!(
            staged.config.batch.full_policy,
            FullPolicy::Block(Duration::from_millis(30))
        );
    }

    #[test]
    fn a_bad_entry_leaves_the_map_untouched() {
        let origin = ConfigSource::Builder;
        let mut staged = Staged::new();
        let node = Node::Str("a=1,b=%zz".into());
        let err = apply(
            &mut staged,
            Setting::ResourceAttributes,
            &node,
            file_ctx(&origin),
        )
        .unwrap_err();
        assert!(err.reason().contains("entry 2"), "{err}");
        assert!(staged.config.resource_attributes.is_empty());
    }

    #[test]
    fn decimal_numbers_are_refused_for_text_keys() {
        let origin = ConfigSource::Builder;
        let mut staged = Staged::new();
        let err = apply(
            &mut staged,
            Setting::ServiceName,
            &Node::Float(1.1),
            file_ctx(&origin),
        )
        .unwrap_err();
        assert!(err.reason().contains("write it in quotes"), "{err}");
        apply(
            &mut staged,
            Setting::ServiceName,
            &Node::Int(7),
            file_ctx(&origin),
        )
        .unwrap();
        assert_eq!(staged.config.service_name.as_deref(), Some("7"));
    }
}
