//! [`Setting`]: every setting a file or an `OTLP__` override can name, and [`apply`],
//! the one place where a value for a key is parsed, checked and stored.
//!
//! Files, `OTLP__SECTION__KEY` overrides and the standard `OTEL_*` variables all
//! end up here, so each key has exactly one parser (with a [`Dialect`] switch for
//! the few places where the `OTEL_*` syntax differs).

use std::path::PathBuf;
use std::time::Duration;

use super::error::REDACTED;
use super::node::Node;
use super::origin::Origins;
use super::parse::{self, Dialect, ListSyntax};
use super::validate::{self, redact_userinfo};
use super::{Compression, Config, ConfigError, ConfigSource, FullPolicy, Protocol};
use crate::durable::{DurableConfig, FsyncPolicy};

/// How long [`FullPolicy::Block`] waits when `full_policy = "block"` is given
/// without a `block_timeout`.
pub(crate) const DEFAULT_BLOCK_TIMEOUT: Duration = FullPolicy::DEFAULT_BLOCK_TIMEOUT;

/// A configuration setting, named `section.key` in files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Setting {
    ServiceName,
    ServiceDisabled,
    ResourceAttributes,
    ExporterEndpoint,
    ExporterTracesEndpoint,
    ExporterProtocol,
    ExporterTimeout,
    ExporterCompression,
    ExporterHeaders,
    ExporterCertificate,
    ExporterClientCertificate,
    ExporterClientKey,
    ExporterInsecure,
    BatchMaxQueueBytes,
    BatchMaxQueueSize,
    BatchMaxExportBatchSize,
    BatchMinExportBatchSize,
    BatchScheduledDelay,
    BatchExportTimeout,
    BatchMaxConcurrentExports,
    BatchAdaptive,
    BatchFullPolicy,
    BatchBlockTimeout,
    RetryEnabled,
    RetryInitialBackoff,
    RetryMaxBackoff,
    RetryMultiplier,
    RetryRandomizationFactor,
    PerformanceMaxRequestBytes,
    PerformanceBufferPoolSize,
    PerformanceIoThreads,
    DurableDirectory,
    DurableFsync,
    DurableFsyncInterval,
    DurableMaxBytes,
    DurableSegmentBytes,
}

/// Every key with its dotted name, grouped by section in file order.
const KEYS: &[(&str, Setting)] = &[
    ("service.name", Setting::ServiceName),
    ("service.disabled", Setting::ServiceDisabled),
    ("resource.attributes", Setting::ResourceAttributes),
    ("exporter.endpoint", Setting::ExporterEndpoint),
    ("exporter.traces_endpoint", Setting::ExporterTracesEndpoint),
    ("exporter.protocol", Setting::ExporterProtocol),
    ("exporter.timeout", Setting::ExporterTimeout),
    ("exporter.compression", Setting::ExporterCompression),
    ("exporter.headers", Setting::ExporterHeaders),
    ("exporter.certificate", Setting::ExporterCertificate),
    (
        "exporter.client_certificate",
        Setting::ExporterClientCertificate,
    ),
    ("exporter.client_key", Setting::ExporterClientKey),
    ("exporter.insecure", Setting::ExporterInsecure),
    ("batch.max_queue_bytes", Setting::BatchMaxQueueBytes),
    ("batch.max_queue_size", Setting::BatchMaxQueueSize),
    (
        "batch.max_export_batch_size",
        Setting::BatchMaxExportBatchSize,
    ),
    (
        "batch.min_export_batch_size",
        Setting::BatchMinExportBatchSize,
    ),
    ("batch.scheduled_delay", Setting::BatchScheduledDelay),
    ("batch.export_timeout", Setting::BatchExportTimeout),
    (
        "batch.max_concurrent_exports",
        Setting::BatchMaxConcurrentExports,
    ),
    ("batch.adaptive", Setting::BatchAdaptive),
    ("batch.full_policy", Setting::BatchFullPolicy),
    ("batch.block_timeout", Setting::BatchBlockTimeout),
    ("retry.enabled", Setting::RetryEnabled),
    ("retry.initial_backoff", Setting::RetryInitialBackoff),
    ("retry.max_backoff", Setting::RetryMaxBackoff),
    ("retry.multiplier", Setting::RetryMultiplier),
    (
        "retry.randomization_factor",
        Setting::RetryRandomizationFactor,
    ),
    (
        "performance.max_request_bytes",
        Setting::PerformanceMaxRequestBytes,
    ),
    (
        "performance.buffer_pool_size",
        Setting::PerformanceBufferPoolSize,
    ),
    ("performance.io_threads", Setting::PerformanceIoThreads),
    ("durable.directory", Setting::DurableDirectory),
    ("durable.fsync", Setting::DurableFsync),
    ("durable.fsync_interval", Setting::DurableFsyncInterval),
    ("durable.max_bytes", Setting::DurableMaxBytes),
    ("durable.segment_bytes", Setting::DurableSegmentBytes),
];

/// Why a `section`/`key` pair names no setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Unknown {
    /// No such section; the reason lists the sections.
    Section(String),
    /// The section exists but has no such key; the reason lists its keys.
    Key(String),
}

impl Unknown {
    /// The explanation for an error message.
    pub(crate) fn reason(self) -> String {
        match self {
            Unknown::Section(reason) | Unknown::Key(reason) => reason,
        }
    }
}

impl Setting {
    /// The key `name` of `section` (both exact, lower case).
    pub(crate) fn lookup(section: &str, name: &str) -> Result<Setting, Unknown> {
        let keys: Vec<(&str, Setting)> = KEYS
            .iter()
            .filter_map(|(dotted, key)| {
                let (s, n) = dotted.split_once('.')?;
                (s == section).then_some((n, *key))
            })
            .collect();
        if keys.is_empty() {
            return Err(Unknown::Section(format!(
                "no section {section:?}; expected one of {}",
                sections().join(", ")
            )));
        }
        keys.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, key)| *key)
            .ok_or_else(|| {
                let names: Vec<&str> = keys.iter().map(|(n, _)| *n).collect();
                Unknown::Key(format!(
                    "section {section:?} has no key {name:?}; expected one of {}",
                    names.join(", ")
                ))
            })
    }

    /// The dotted name, `section.key`.
    pub(crate) fn dotted(self) -> &'static str {
        KEYS.iter()
            .find(|(_, key)| *key == self)
            .map_or("", |(dotted, _)| dotted)
    }

    /// For map-valued keys, the map key an `OTLP__SECTION__KEY__NAME` variable
    /// names: `NAME` lower-cased with `_` turned into the map's natural separator
    /// (`-` for header names, `.` for attribute keys). `None` for other keys.
    pub(crate) fn entry_name(self, name: &str) -> Option<String> {
        let separator = match self {
            Setting::ExporterHeaders => '-',
            Setting::ResourceAttributes => '.',
            _ => return None,
        };
        Some(
            name.to_ascii_lowercase()
                .replace('_', &separator.to_string()),
        )
    }

    /// Whether the value is a boolean (lenient `OTEL_*` loading reads a bad one as `false`).
    pub(crate) fn is_boolean(self) -> bool {
        matches!(
            self,
            Setting::ServiceDisabled
                | Setting::ExporterInsecure
                | Setting::BatchAdaptive
                | Setting::RetryEnabled
        )
    }

    /// The value as it may appear in an error: secrets redacted.
    pub(crate) fn shown(self, node: &Node) -> String {
        match self {
            Setting::ExporterHeaders | Setting::ExporterClientKey => REDACTED.to_owned(),
            Setting::ExporterEndpoint | Setting::ExporterTracesEndpoint => {
                redact_userinfo(&node.describe())
            }
            _ => node.describe(),
        }
    }
}

/// The section names, in file order.
pub(crate) fn sections() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for (dotted, _) in KEYS {
        let section = dotted.split_once('.').map_or(*dotted, |(s, _)| s);
        if !names.contains(&section) {
            names.push(section);
        }
    }
    names
}

/// Who is setting a value, and how they spell the key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx<'a> {
    /// The source.
    pub origin: &'a ConfigSource,
    /// The key as the source spells it (`OTEL_BSP_MAX_QUEUE_SIZE`, `batch.max_queue_size`).
    pub spelled: &'a str,
    /// The syntax values are read with.
    pub dialect: Dialect,
}

/// A configuration being assembled from its sources.
#[derive(Clone, Debug)]
pub(crate) struct Staged {
    /// The values so far.
    pub config: Config,
    /// A `block_timeout` given while the policy is not (yet) `block`.
    pub block_timeout: Option<Duration>,
    /// A `durable.fsync_interval` given while the fsync policy is not (yet) `interval`.
    pub fsync_interval: Option<Duration>,
    /// Who set what.
    pub origins: Origins,
}

impl Staged {
    /// Defaults, attributed to [`ConfigSource::Default`].
    pub(crate) fn new() -> Self {
        Staged {
            config: Config::default(),
            block_timeout: None,
            fsync_interval: None,
            origins: Origins::new(ConfigSource::Default),
        }
    }
}

/// Parses `node` for `key`, checks it and stores it. A null or blank value means
/// "not set" and changes nothing. On error nothing is changed.
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
        _ => {
            apply_scalar(staged, key, node, ctx.dialect).map_err(invalid)?;
            staged.origins.record(key.dotted(), ctx.origin, ctx.spelled);
            Ok(())
        }
    }
}

fn apply_scalar(
    staged: &mut Staged,
    key: Setting,
    node: &Node,
    dialect: Dialect,
) -> Result<(), String> {
    let config = &mut staged.config;
    let exporter = &mut config.exporter;
    let batch = &mut config.batch;
    let retry = &mut config.retry;
    let performance = &mut config.performance;
    match key {
        Setting::ServiceName => config.service_name = Some(string(node)?),
        Setting::ServiceDisabled => config.disabled = parse::boolean(node, dialect)?,
        Setting::ExporterEndpoint => exporter.endpoint = Some(string(node)?),
        Setting::ExporterTracesEndpoint => exporter.traces_endpoint = Some(string(node)?),
        Setting::ExporterProtocol => exporter.protocol = parse::choice(node, PROTOCOLS)?,
        Setting::ExporterTimeout => exporter.timeout = parse::timeout(node, dialect)?,
        Setting::ExporterCompression => exporter.compression = parse::choice(node, COMPRESSIONS)?,
        Setting::ExporterCertificate => exporter.tls.ca_certificate = Some(path(node)?),
        Setting::ExporterClientCertificate => exporter.tls.client_certificate = Some(path(node)?),
        Setting::ExporterClientKey => exporter.tls.client_key = Some(path(node)?),
        Setting::ExporterInsecure => exporter.tls.insecure = Some(parse::boolean(node, dialect)?),
        Setting::BatchMaxQueueBytes => batch.max_queue_bytes = positive(node)?,
        Setting::BatchMaxQueueSize => batch.max_queue_size = Some(positive(node)?),
        Setting::BatchMaxExportBatchSize => batch.max_export_batch_size = positive(node)?,
        Setting::BatchMinExportBatchSize => batch.min_export_batch_size = positive(node)?,
        Setting::BatchScheduledDelay => batch.scheduled_delay = nonzero_duration(node, dialect)?,
        Setting::BatchExportTimeout => batch.export_timeout = parse::timeout(node, dialect)?,
        Setting::BatchMaxConcurrentExports => batch.max_concurrent_exports = positive(node)?,
        Setting::BatchAdaptive => batch.adaptive = parse::boolean(node, dialect)?,
        Setting::BatchFullPolicy => {
            batch.full_policy = match parse::choice(node, FULL_POLICIES)? {
                FullPolicyName::Drop => FullPolicy::Drop,
                FullPolicyName::Block => {
                    FullPolicy::Block(staged.block_timeout.unwrap_or(DEFAULT_BLOCK_TIMEOUT))
                }
            }
        }
        Setting::BatchBlockTimeout => {
            let timeout = nonzero_duration(node, dialect)?;
            staged.block_timeout = Some(timeout);
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
        Setting::PerformanceIoThreads => performance.io_threads = positive(node)?,
        Setting::DurableDirectory => durable(config).directory = path(node)?,
        Setting::DurableFsync => {
            durable(config).fsync = match parse::choice(node, FSYNC_POLICIES)? {
                FsyncName::EveryBatch => FsyncPolicy::EveryBatch,
                FsyncName::Never => FsyncPolicy::Never,
                FsyncName::Interval => {
                    FsyncPolicy::Interval(staged.fsync_interval.unwrap_or(DEFAULT_FSYNC_INTERVAL))
                }
            }
        }
        Setting::DurableFsyncInterval => {
            let interval = nonzero_duration(node, dialect)?;
            staged.fsync_interval = Some(interval);
            let durable = durable(config);
            if let FsyncPolicy::Interval(_) = durable.fsync {
                durable.fsync = FsyncPolicy::Interval(interval);
            }
        }
        Setting::DurableMaxBytes => durable(config).max_bytes = positive(node)? as u64,
        Setting::DurableSegmentBytes => durable(config).segment_bytes = positive(node)? as u64,
        Setting::ResourceAttributes | Setting::ExporterHeaders => {
            return Err("expected a map".to_owned());
        }
    }
    Ok(())
}

/// The durable-queue settings, created with their defaults (and no
/// directory, which validation then asks for) by the first `durable.*` key.
fn durable(config: &mut Config) -> &mut DurableConfig {
    config
        .durable
        .get_or_insert_with(|| DurableConfig::new(PathBuf::new()))
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
    for (key, value) in entries {
        if key == "service.name" {
            staged.config.service_name = Some(value);
            staged
                .origins
                .record(Setting::ServiceName.dotted(), ctx.origin, ctx.spelled);
            continue;
        }
        let attributes = &mut staged.config.resource_attributes;
        match attributes.iter_mut().find(|(existing, _)| *existing == key) {
            Some(entry) => entry.1 = value,
            None => attributes.push((key.clone(), value)),
        }
        let dotted = format!("{}.{key}", Setting::ResourceAttributes.dotted());
        staged.origins.record(dotted, ctx.origin, ctx.spelled);
    }
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
    for (name, value) in entries {
        let dotted = format!(
            "{}.{}",
            Setting::ExporterHeaders.dotted(),
            name.to_ascii_lowercase()
        );
        staged.config.exporter.headers.insert(name, value);
        staged.origins.record(dotted, ctx.origin, ctx.spelled);
    }
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
        }
    }

    #[test]
    fn every_key_round_trips_through_its_dotted_name() {
        for (dotted, key) in KEYS {
            let (section, name) = dotted.split_once('.').unwrap();
            assert_eq!(Setting::lookup(section, name), Ok(*key));
            assert_eq!(key.dotted(), *dotted);
        }
        assert_eq!(
            sections(),
            [
                "service",
                "resource",
                "exporter",
                "batch",
                "retry",
                "performance",
                "durable"
            ]
        );
    }

    #[test]
    fn unknown_sections_and_keys_list_the_alternatives() {
        let section = Setting::lookup("bach", "max_queue_size")
            .unwrap_err()
            .reason();
        assert!(
            section.starts_with("no section \"bach\"; expected one of service, resource"),
            "{section}"
        );
        let key = Setting::lookup("batch", "max_queue").unwrap_err().reason();
        assert!(key.contains("has no key \"max_queue\""), "{key}");
        assert!(key.contains("max_queue_size"), "{key}");
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
