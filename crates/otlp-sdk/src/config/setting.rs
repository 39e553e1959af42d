//! [`Setting`]: every setting a file or an `OTLP__` override can name, by
//! its dotted key, and the [`Scope`] (section) it is staged in: the names
//! only. Parsing, checking and storing a value is [`keys::apply`](super::keys::apply)'s.

use super::error::{REDACTED, redact_userinfo};
use super::node::Node;

/// A configuration setting, named `section.key` in files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Setting {
    ServiceName,
    ServiceDisabled,
    ResourceAttributes,
    SamplerName,
    SamplerArg,
    PropagationPropagators,
    ExporterEndpoint,
    ExporterTracesEndpoint,
    ExporterLogsEndpoint,
    ExporterMetricsEndpoint,
    ExporterProtocol,
    ExporterTimeout,
    ExporterCompression,
    ExporterHeaders,
    ExporterCertificate,
    ExporterClientCertificate,
    ExporterClientKey,
    ExporterInsecure,
    ExporterKind,
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
    LimitsAttributeCount,
    LimitsAttributeValueLength,
    LimitsSpanAttributeCount,
    LimitsSpanAttributeValueLength,
    LimitsSpanEventCount,
    LimitsSpanLinkCount,
    LimitsEventAttributeCount,
    LimitsLinkAttributeCount,
    LimitsLogRecordAttributeCount,
    LimitsLogRecordAttributeValueLength,
    MetricsExportInterval,
    MetricsExportTimeout,
    MetricsTemporality,
    MetricsDefaultHistogramAggregation,
    MetricsCardinalityLimit,
    MetricsExemplarFilter,
}

/// Every key with its dotted name, grouped by section in file order.
const KEYS: &[(&str, Setting)] = &[
    ("service.name", Setting::ServiceName),
    ("service.disabled", Setting::ServiceDisabled),
    ("resource.attributes", Setting::ResourceAttributes),
    ("sampler.name", Setting::SamplerName),
    ("sampler.arg", Setting::SamplerArg),
    ("propagation.propagators", Setting::PropagationPropagators),
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
    ("exporter.kind", Setting::ExporterKind),
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
    ("limits.attribute_count", Setting::LimitsAttributeCount),
    (
        "limits.attribute_value_length",
        Setting::LimitsAttributeValueLength,
    ),
    (
        "limits.span_attribute_count",
        Setting::LimitsSpanAttributeCount,
    ),
    (
        "limits.span_attribute_value_length",
        Setting::LimitsSpanAttributeValueLength,
    ),
    ("limits.span_event_count", Setting::LimitsSpanEventCount),
    ("limits.span_link_count", Setting::LimitsSpanLinkCount),
    (
        "limits.event_attribute_count",
        Setting::LimitsEventAttributeCount,
    ),
    (
        "limits.link_attribute_count",
        Setting::LimitsLinkAttributeCount,
    ),
    (
        "limits.log_record_attribute_count",
        Setting::LimitsLogRecordAttributeCount,
    ),
    (
        "limits.log_record_attribute_value_length",
        Setting::LimitsLogRecordAttributeValueLength,
    ),
    ("metrics.export_interval", Setting::MetricsExportInterval),
    ("metrics.export_timeout", Setting::MetricsExportTimeout),
    ("metrics.temporality", Setting::MetricsTemporality),
    (
        "metrics.default_histogram_aggregation",
        Setting::MetricsDefaultHistogramAggregation,
    ),
    (
        "metrics.cardinality_limit",
        Setting::MetricsCardinalityLimit,
    ),
    ("metrics.exemplar_filter", Setting::MetricsExemplarFilter),
];

/// The section whose subsections (`exporter`, `batch`, `durable`) hold the log pipeline's settings.
pub(crate) const LOGS_SECTION: &str = "logs";

/// The subsections of [`LOGS_SECTION`], mirroring the top-level sections of the same names.
const LOGS_SUBSECTIONS: &[&str] = &["exporter", "batch", "durable"];

/// The dotted name of the logs-only key [`Setting::ExporterLogsEndpoint`]
/// (under `logs.`, it is `logs.exporter.logs_endpoint`).
const LOGS_ENDPOINT_KEY: &str = "exporter.logs_endpoint";

/// The section of the metrics pipeline: its own keys (`metrics.export_interval`,
/// in [`KEYS`]) and the subsection `exporter`.
pub(crate) const METRICS_SECTION: &str = "metrics";

/// The subsections of [`METRICS_SECTION`]: metrics have no batch settings.
const METRICS_SUBSECTIONS: &[&str] = &["exporter"];

/// The dotted name of the metrics-only key [`Setting::ExporterMetricsEndpoint`]
/// (under `metrics.`, it is `metrics.exporter.metrics_endpoint`).
const METRICS_ENDPOINT_KEY: &str = "exporter.metrics_endpoint";

/// Which configuration a key writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    /// The top-level sections: `exporter.*` is generic and reaches every
    /// signal; `batch.*` is the span pipeline's; the keys of `metrics` itself
    /// (`metrics.export_interval`, not `metrics.exporter.*`) are the metrics
    /// pipeline's.
    Shared,
    /// The span pipeline's exporter only, over the generic values
    /// (`OTEL_EXPORTER_OTLP_TRACES_X`).
    Traces,
    /// The log pipeline's (section `logs`, `OTEL_EXPORTER_OTLP_LOGS_X`, `OTEL_BLRP_*`);
    /// exporter values go over the generic ones.
    Logs,
    /// The metrics pipeline's exporter (section `metrics.exporter`,
    /// `OTEL_EXPORTER_OTLP_METRICS_X`), over the generic values.
    Metrics,
}

impl Scope {
    /// What precedes a setting's dotted name in [`Origins`](super::origin::Origins): `logs.` for logs
    /// (so that errors name `logs.batch.max_queue_size`), `metrics.` for
    /// metrics (`metrics.exporter.timeout`), `traces.` (internal only:
    /// resolution moves these to the plain name) for traces.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Scope::Shared => "",
            Scope::Traces => "traces.",
            Scope::Logs => "logs.",
            Scope::Metrics => "metrics.",
        }
    }

    /// The section holding this scope's subsections (`logs`, `metrics`).
    pub(crate) fn section(self) -> Option<&'static str> {
        match self {
            Scope::Logs => Some(LOGS_SECTION),
            Scope::Metrics => Some(METRICS_SECTION),
            Scope::Shared | Scope::Traces => None,
        }
    }

    /// The subsections of [`section`](Self::section), each mirroring the
    /// top-level section of that name.
    fn subsections(self) -> &'static [&'static str] {
        match self {
            Scope::Logs => LOGS_SUBSECTIONS,
            Scope::Metrics => METRICS_SUBSECTIONS,
            Scope::Shared | Scope::Traces => &[],
        }
    }

    /// The signal's own endpoint key and its name in the `exporter`
    /// subsection, which takes the place of `traces_endpoint` there.
    fn own_endpoint(self) -> Option<(&'static str, Setting)> {
        match self {
            Scope::Logs => Some(("logs_endpoint", Setting::ExporterLogsEndpoint)),
            Scope::Metrics => Some(("metrics_endpoint", Setting::ExporterMetricsEndpoint)),
            Scope::Shared | Scope::Traces => None,
        }
    }

    /// The dotted name `key` is recorded under in this scope.
    pub(crate) fn dotted(self, key: Setting) -> String {
        format!("{}{}", self.prefix(), key.dotted())
    }
}

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
    /// The key `name` of the top-level `section` (both exact, lower case).
    pub(crate) fn lookup(section: &str, name: &str) -> Result<Setting, Unknown> {
        let keys: Vec<(&str, Setting)> = section_keys(section);
        if keys.is_empty() {
            return Err(Unknown::Section(format!(
                "no section {section:?}; expected one of {}",
                sections().join(", ")
            )));
        }
        Self::find(section, &keys, name)
    }

    /// The key `name` of `logs.{subsection}` (both exact, lower case): the keys
    /// of the top-level section of that name, with `logs_endpoint` instead of
    /// `traces_endpoint`.
    pub(crate) fn lookup_logs(subsection: &str, name: &str) -> Result<Setting, Unknown> {
        Self::lookup_in(Scope::Logs, subsection, name)
    }

    /// The key `name` of `{section}.{subsection}` for the signal section of
    /// `scope` (`logs.batch`, `metrics.exporter`; both exact, lower case): the
    /// keys of the top-level section of that name, with the signal's own
    /// endpoint (`logs_endpoint`, `metrics_endpoint`) instead of
    /// `traces_endpoint`.
    pub(crate) fn lookup_in(
        scope: Scope,
        subsection: &str,
        name: &str,
    ) -> Result<Setting, Unknown> {
        let (Some(section), Some((own_name, own_key))) = (scope.section(), scope.own_endpoint())
        else {
            return Self::lookup(subsection, name);
        };
        let subsections = scope.subsections();
        if !subsections.contains(&subsection) {
            return Err(Unknown::Section(format!(
                "section {section:?} has no subsection {subsection:?}; expected one of {}",
                subsections.join(", ")
            )));
        }
        let mut keys = section_keys(subsection);
        if let Some(at) = keys
            .iter()
            .position(|(_, key)| *key == Setting::ExporterTracesEndpoint)
        {
            keys[at] = (own_name, own_key);
        }
        Self::find(&format!("{section}.{subsection}"), &keys, name)
    }

    /// The key `name` of the section `metrics` itself (`export_interval`, …);
    /// the subsection `exporter` is looked up with [`lookup_in`](Self::lookup_in).
    pub(crate) fn lookup_metrics(name: &str) -> Result<Setting, Unknown> {
        let mut keys: Vec<(&str, Setting)> = section_keys(METRICS_SECTION);
        Self::find(METRICS_SECTION, &keys, name).map_err(|_| {
            // List the subsection too: `exporter` is a valid name here.
            keys.insert(0, ("exporter", Setting::ExporterEndpoint));
            let names: Vec<&str> = keys.iter().map(|(n, _)| *n).collect();
            Unknown::Key(format!(
                "section {METRICS_SECTION:?} has no key {name:?}; expected one of {}",
                names.join(", ")
            ))
        })
    }

    fn find(section: &str, keys: &[(&str, Setting)], name: &str) -> Result<Setting, Unknown> {
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

    /// The dotted name, `section.key` (for the span pipeline and the generic
    /// exporter settings; [`Scope::dotted`] adds the scope's prefix).
    pub(crate) fn dotted(self) -> &'static str {
        match self {
            Setting::ExporterLogsEndpoint => return LOGS_ENDPOINT_KEY,
            Setting::ExporterMetricsEndpoint => return METRICS_ENDPOINT_KEY,
            _ => {}
        }
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
            Setting::ExporterEndpoint
            | Setting::ExporterTracesEndpoint
            | Setting::ExporterLogsEndpoint
            | Setting::ExporterMetricsEndpoint => shown_redacted(self.dotted(), node),
            _ => node.describe(),
        }
    }
}

/// A value as it may appear in an error or warning when nothing says what
/// it holds (an unknown key or section, an endpoint of the wrong type):
/// whole redacted when its name suggests a secret, or is a typo or two away
/// from `headers` or `client_key` (`OTLP__EXPORTER__HEADRES`); a map's
/// entries and a list's items each by the same rule (a misspelt section,
/// `exporters:`, with its `headers` spelt right); any text, map keys
/// included, with a URL's user-info redacted (a misspelt `endpoint`).
pub(crate) fn shown_redacted(spelled: &str, value: &Node) -> String {
    const SECRET_HINTS: &[&str] = &[
        "header", "key", "secret", "token", "password", "auth", "cred",
    ];
    const SECRET_KEYS: &[&str] = &["headers", "client_key"];
    let lower = spelled.to_ascii_lowercase();
    let last = lower.rsplit("__").next().unwrap_or(&lower);
    let last = last.rsplit('.').next().unwrap_or(last);
    if SECRET_HINTS.iter().any(|hint| lower.contains(hint))
        || SECRET_KEYS.iter().any(|key| typos_apart(last, key) <= 2)
    {
        return REDACTED.to_owned();
    }
    match value {
        Node::Str(text) => redact_userinfo(text),
        Node::Seq(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|item| shown_redacted(spelled, item))
                .collect();
            format!("[{}]", items.join(", "))
        }
        Node::Map(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(key, value)| {
                    format!(
                        "{}={}",
                        redact_userinfo(key),
                        shown_redacted(&format!("{spelled}.{key}"), value)
                    )
                })
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Node::Null | Node::Bool(_) | Node::Int(_) | Node::Float(_) => value.describe(),
    }
}

/// How many one-character typos (a letter left out, added, replaced, or
/// swapped with its neighbour) turn `typed` into `key`: the optimal string
/// alignment distance, computed only when it may be 2 or less (else 3).
pub(crate) fn typos_apart(typed: &str, key: &str) -> usize {
    let typed: Vec<char> = typed.chars().take(key.len() + 3).collect();
    let key: Vec<char> = key.chars().collect();
    if typed.len().abs_diff(key.len()) > 2 {
        return 3;
    }
    let mut rows = vec![vec![0; key.len() + 1]; typed.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=typed.len() {
        for j in 1..=key.len() {
            let replaced = rows[i - 1][j - 1] + usize::from(typed[i - 1] != key[j - 1]);
            let mut best = replaced.min(rows[i - 1][j] + 1).min(rows[i][j - 1] + 1);
            if i > 1 && j > 1 && typed[i - 1] == key[j - 2] && typed[i - 2] == key[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[typed.len()][key.len()]
}

/// The keys of a top-level section, by their name in it.
fn section_keys(section: &str) -> Vec<(&'static str, Setting)> {
    KEYS.iter()
        .filter_map(|(dotted, key)| {
            let (s, n) = dotted.split_once('.')?;
            (s == section).then_some((n, *key))
        })
        .collect()
}

/// The section names, in file order (`metrics` after `durable`), `logs` last.
pub(crate) fn sections() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for (dotted, _) in KEYS {
        let section = dotted.split_once('.').map_or(*dotted, |(s, _)| s);
        if !names.contains(&section) {
            names.push(section);
        }
    }
    names.push(LOGS_SECTION);
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endpoint given as a list or a map (a type error) shows each URL
    /// in it with its user-info redacted, not only the first.
    #[test]
    fn an_endpoint_that_is_no_text_shows_no_password_it_holds() {
        let urls = Node::Seq(vec![
            Node::Str("http://a:s3cret@one:4318".into()),
            Node::Str("http://b:s3cret@two:4318".into()),
        ]);
        let by_name = Node::Map(vec![(
            "url".into(),
            Node::Seq(vec![
                Node::Str("http://a:s3cret@one/x".into()),
                Node::Str("http://b:s3cret@two".into()),
            ]),
        )]);
        for node in [urls, by_name] {
            for key in [
                Setting::ExporterEndpoint,
                Setting::ExporterTracesEndpoint,
                Setting::ExporterLogsEndpoint,
                Setting::ExporterMetricsEndpoint,
            ] {
                let shown = key.shown(&node);
                assert!(!shown.contains("s3cret"), "{shown}");
                assert!(shown.contains("<redacted>@two"), "{shown}");
            }
        }
        assert_eq!(Setting::ExporterEndpoint.shown(&Node::Int(4318)), "4318");
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
                "sampler",
                "propagation",
                "exporter",
                "batch",
                "retry",
                "performance",
                "durable",
                "limits",
                "metrics",
                "logs"
            ]
        );
    }

    #[test]
    fn logs_subsections_mirror_exporter_and_batch_with_their_own_endpoint() {
        for (dotted, key) in KEYS {
            let (section, name) = dotted.split_once('.').unwrap();
            let in_logs = Setting::lookup_logs(section, name);
            match (section, *key) {
                (_, Setting::ExporterTracesEndpoint) => assert!(in_logs.is_err()),
                ("exporter" | "batch" | "durable", _) => assert_eq!(in_logs, Ok(*key)),
                _ => assert!(matches!(in_logs, Err(Unknown::Section(_))), "{dotted}"),
            }
        }
        assert_eq!(
            Setting::lookup_logs("exporter", "logs_endpoint"),
            Ok(Setting::ExporterLogsEndpoint)
        );
        assert!(Setting::lookup("exporter", "logs_endpoint").is_err());
        assert_eq!(
            Scope::Logs.dotted(Setting::ExporterLogsEndpoint),
            "logs.exporter.logs_endpoint"
        );
        assert_eq!(
            Scope::Logs.dotted(Setting::BatchMaxQueueSize),
            "logs.batch.max_queue_size"
        );
        assert_eq!(
            Scope::Logs.dotted(Setting::DurableDirectory),
            "logs.durable.directory"
        );
    }

    #[test]
    fn metrics_exporter_mirrors_exporter_with_its_own_endpoint_and_no_batch() {
        for (dotted, key) in KEYS {
            let (section, name) = dotted.split_once('.').unwrap();
            let in_metrics = Setting::lookup_in(Scope::Metrics, section, name);
            match (section, *key) {
                (_, Setting::ExporterTracesEndpoint) => assert!(in_metrics.is_err()),
                ("exporter", _) => assert_eq!(in_metrics, Ok(*key)),
                _ => assert!(matches!(in_metrics, Err(Unknown::Section(_))), "{dotted}"),
            }
        }
        assert_eq!(
            Setting::lookup_in(Scope::Metrics, "exporter", "metrics_endpoint"),
            Ok(Setting::ExporterMetricsEndpoint)
        );
        assert!(Setting::lookup_in(Scope::Metrics, "exporter", "logs_endpoint").is_err());
        assert!(Setting::lookup_logs("exporter", "metrics_endpoint").is_err());
        assert!(Setting::lookup("exporter", "metrics_endpoint").is_err());
        assert_eq!(
            Scope::Metrics.dotted(Setting::ExporterMetricsEndpoint),
            "metrics.exporter.metrics_endpoint"
        );
        assert_eq!(
            Setting::lookup_metrics("cardinality_limit"),
            Ok(Setting::MetricsCardinalityLimit)
        );
        assert_eq!(
            Setting::MetricsCardinalityLimit.dotted(),
            "metrics.cardinality_limit"
        );
        let unknown = Setting::lookup_metrics("interval").unwrap_err().reason();
        assert!(
            unknown.contains("expected one of exporter, export_interval"),
            "{unknown}"
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
}
