//! Environment variables: the standard `OTEL_*` ones and the nested
//! `OTLP__SECTION__KEY` overrides, both applied through [`keys::apply`].

use std::collections::BTreeMap;

use super::file::unknown_key;
use super::keys::{self, Ctx, Staged};
use super::node::Node;
use super::parse::Dialect;
use super::propagator_options::accepted_names;
use super::setting::shown_redacted;
use super::setting::{LOGS_SECTION, METRICS_SECTION, Scope, Setting};
use super::{ConfigError, ConfigSource, ConfigWarning};
use crate::Signal;

/// The prefix of the nested overrides.
pub(crate) const OVERRIDE_PREFIX: &str = "OTLP__";

/// Exporter settings that exist as `OTEL_EXPORTER_OTLP_X`, `OTEL_EXPORTER_OTLP_TRACES_X`,
/// `OTEL_EXPORTER_OTLP_LOGS_X` and `OTEL_EXPORTER_OTLP_METRICS_X` (the endpoints,
/// whose meaning differs, are apart).
const EXPORTER_SETTINGS: &[(&str, Setting)] = &[
    ("PROTOCOL", Setting::ExporterProtocol),
    ("TIMEOUT", Setting::ExporterTimeout),
    ("COMPRESSION", Setting::ExporterCompression),
    ("HEADERS", Setting::ExporterHeaders),
    ("CERTIFICATE", Setting::ExporterCertificate),
    ("CLIENT_CERTIFICATE", Setting::ExporterClientCertificate),
    ("CLIENT_KEY", Setting::ExporterClientKey),
    ("INSECURE", Setting::ExporterInsecure),
];

/// Batch settings that exist as `OTEL_BSP_X` (spans) and `OTEL_BLRP_X` (log records).
const BATCH_SETTINGS: &[(&str, Setting)] = &[
    ("SCHEDULE_DELAY", Setting::BatchScheduledDelay),
    ("EXPORT_TIMEOUT", Setting::BatchExportTimeout),
    ("MAX_QUEUE_SIZE", Setting::BatchMaxQueueSize),
    ("MAX_EXPORT_BATCH_SIZE", Setting::BatchMaxExportBatchSize),
];

/// The metrics pipeline's own variables (not exporter settings: no generic
/// form). The cardinality limit has no standard variable:
/// `OTLP__METRICS__CARDINALITY_LIMIT`.
const METRICS_SETTINGS: &[(&str, Setting)] = &[
    (
        "OTEL_METRIC_EXPORT_INTERVAL",
        Setting::MetricsExportInterval,
    ),
    ("OTEL_METRIC_EXPORT_TIMEOUT", Setting::MetricsExportTimeout),
    (
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        Setting::MetricsTemporality,
    ),
    (
        "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
        Setting::MetricsDefaultHistogramAggregation,
    ),
    (
        "OTEL_METRICS_EXEMPLAR_FILTER",
        Setting::MetricsExemplarFilter,
    ),
];

/// The attribute limits (section `limits`): the generic ones and those of
/// spans, events, links and log records. The specific ones win over the
/// generic ones when the limits are resolved
/// ([`LimitsConfig::span_limits`](super::LimitsConfig::span_limits)), whatever the order.
const LIMIT_SETTINGS: &[(&str, Setting)] = &[
    ("OTEL_ATTRIBUTE_COUNT_LIMIT", Setting::LimitsAttributeCount),
    (
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        Setting::LimitsAttributeValueLength,
    ),
    (
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
        Setting::LimitsSpanAttributeCount,
    ),
    (
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        Setting::LimitsSpanAttributeValueLength,
    ),
    ("OTEL_SPAN_EVENT_COUNT_LIMIT", Setting::LimitsSpanEventCount),
    ("OTEL_SPAN_LINK_COUNT_LIMIT", Setting::LimitsSpanLinkCount),
    (
        "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
        Setting::LimitsEventAttributeCount,
    ),
    (
        "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
        Setting::LimitsLinkAttributeCount,
    ),
    (
        "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
        Setting::LimitsLogRecordAttributeCount,
    ),
    (
        "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        Setting::LimitsLogRecordAttributeValueLength,
    ),
];

/// Every standard variable read, with the setting and scope it writes, in the
/// order applied: `OTEL_SERVICE_NAME` after `OTEL_RESOURCE_ATTRIBUTES` (so it
/// wins over a `service.name` attribute). The `_TRACES_`, `_LOGS_` and
/// `_METRICS_` variants write their own scope, which wins over the generic one
/// when the configuration is resolved, whatever the order. The metrics
/// pipeline's own settings (`OTEL_METRIC_EXPORT_INTERVAL`, …) are keys of
/// section `metrics` and are written in [`Scope::Shared`], where their dotted
/// names already say `metrics.`.
pub(crate) fn otel_variables() -> Vec<(String, Setting, Scope)> {
    let mut vars: Vec<(String, Setting, Scope)> = vec![
        (
            "OTEL_SDK_DISABLED".into(),
            Setting::ServiceDisabled,
            Scope::Shared,
        ),
        (
            "OTEL_RESOURCE_ATTRIBUTES".into(),
            Setting::ResourceAttributes,
            Scope::Shared,
        ),
        (
            "OTEL_SERVICE_NAME".into(),
            Setting::ServiceName,
            Scope::Shared,
        ),
        (
            "OTEL_TRACES_SAMPLER".into(),
            Setting::SamplerName,
            Scope::Shared,
        ),
        (
            "OTEL_TRACES_SAMPLER_ARG".into(),
            Setting::SamplerArg,
            Scope::Shared,
        ),
        (
            "OTEL_PROPAGATORS".into(),
            Setting::PropagationPropagators,
            Scope::Shared,
        ),
        (
            Signal::Traces.exporter_variable().into(),
            Setting::ExporterKind,
            Scope::Traces,
        ),
        (
            Signal::Logs.exporter_variable().into(),
            Setting::ExporterKind,
            Scope::Logs,
        ),
        (
            Signal::Metrics.exporter_variable().into(),
            Setting::ExporterKind,
            Scope::Metrics,
        ),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            Setting::ExporterEndpoint,
            Scope::Shared,
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".into(),
            Setting::ExporterTracesEndpoint,
            Scope::Shared,
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT".into(),
            Setting::ExporterLogsEndpoint,
            Scope::Logs,
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT".into(),
            Setting::ExporterMetricsEndpoint,
            Scope::Metrics,
        ),
    ];
    for (suffix, key) in EXPORTER_SETTINGS {
        vars.push((format!("OTEL_EXPORTER_OTLP_{suffix}"), *key, Scope::Shared));
        vars.push((
            format!("OTEL_EXPORTER_OTLP_TRACES_{suffix}"),
            *key,
            Scope::Traces,
        ));
        vars.push((
            format!("OTEL_EXPORTER_OTLP_LOGS_{suffix}"),
            *key,
            Scope::Logs,
        ));
        vars.push((
            format!("OTEL_EXPORTER_OTLP_METRICS_{suffix}"),
            *key,
            Scope::Metrics,
        ));
    }
    for (suffix, key) in BATCH_SETTINGS {
        vars.push((format!("OTEL_BSP_{suffix}"), *key, Scope::Shared));
    }
    for (suffix, key) in BATCH_SETTINGS {
        vars.push((format!("OTEL_BLRP_{suffix}"), *key, Scope::Logs));
    }
    for (name, key) in METRICS_SETTINGS.iter().chain(LIMIT_SETTINGS) {
        vars.push(((*name).to_owned(), *key, Scope::Shared));
    }
    vars
}

/// Applies the standard variables. In lenient mode a rejected value becomes a
/// warning and is ignored, except that a rejected boolean reads as `false`
/// and a rejected `OTEL_PROPAGATORS` keeps the names it could accept (a
/// second warning if those are refused too).
pub(crate) fn apply_otel(
    staged: &mut Staged,
    env: &BTreeMap<String, String>,
    lenient: bool,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    for (name, key, scope) in otel_variables() {
        let Some(value) = env.get(&name) else {
            continue;
        };
        let origin = ConfigSource::Env(name.clone());
        let ctx = Ctx {
            origin: &origin,
            spelled: &name,
            dialect: Dialect::Otel,
            scope,
        };
        match keys::apply(staged, key, &Node::Str(value.clone()), ctx) {
            Ok(()) => {}
            Err(err) if lenient => {
                if key.is_boolean() {
                    warnings.push(ConfigWarning(err.replaced_by("false")));
                    keys::apply(staged, key, &Node::Bool(false), ctx)?;
                    continue;
                }
                warnings.push(ConfigWarning(err));
                if key == Setting::PropagationPropagators
                    && let Some(accepted) = accepted_names(value)
                    && let Err(err) = keys::apply(staged, key, &Node::Str(accepted), ctx)
                {
                    warnings.push(ConfigWarning(err));
                }
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Applies every `OTLP__SECTION__KEY` (and `OTLP__SECTION__MAP__NAME`) variable,
/// in name order. Unknown sections or keys are errors.
pub(crate) fn apply_overrides(
    staged: &mut Staged,
    env: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    let overrides = env
        .range(OVERRIDE_PREFIX.to_owned()..)
        .take_while(|(name, _)| name.starts_with(OVERRIDE_PREFIX));
    for (name, value) in overrides {
        apply_override(staged, name, value)?;
    }
    Ok(())
}

fn apply_override(staged: &mut Staged, name: &str, value: &str) -> Result<(), ConfigError> {
    let origin = ConfigSource::Env(name.to_owned());
    let text = Node::Str(value.to_owned());
    let path = &name[OVERRIDE_PREFIX.len()..];
    let segments: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
    // `OTLP__LOGS__SUBSECTION__KEY[__NAME]` and `OTLP__METRICS__EXPORTER__KEY[__NAME]`:
    // the rest is read as for the top level. `OTLP__METRICS__KEY` is a key of
    // section `metrics` itself.
    let (scope, segments) = match segments.split_first() {
        Some((first, rest)) if first == LOGS_SECTION => (Scope::Logs, rest),
        Some((first, [key])) if first == METRICS_SECTION && key != "exporter" => {
            let key = Setting::lookup_metrics(key)
                .map_err(|unknown| unknown_key(name, &text, unknown.reason(), &origin))?;
            let ctx = Ctx {
                origin: &origin,
                spelled: name,
                dialect: Dialect::Native,
                scope: Scope::Shared,
            };
            return keys::apply(staged, key, &text, ctx);
        }
        Some((first, rest)) if first == METRICS_SECTION => (Scope::Metrics, rest),
        _ => (Scope::Shared, segments.as_slice()),
    };
    let (section, key_name, entry) = match segments {
        [section, key] => (section, key, None),
        [section, key, entry] if !entry.is_empty() => (section, key, Some(entry)),
        _ => {
            let reason = match scope {
                Scope::Logs => {
                    "expected OTLP__LOGS__EXPORTER__KEY, OTLP__LOGS__BATCH__KEY or \
                     OTLP__LOGS__DURABLE__KEY, or OTLP__LOGS__EXPORTER__HEADERS__NAME for one header"
                }
                Scope::Metrics => {
                    "expected OTLP__METRICS__KEY or OTLP__METRICS__EXPORTER__KEY, \
                     or OTLP__METRICS__EXPORTER__HEADERS__NAME for one header"
                }
                Scope::Shared | Scope::Traces => {
                    "expected OTLP__SECTION__KEY, or OTLP__SECTION__MAP__NAME for headers and attributes"
                }
            };
            return Err(unknown_key(name, &text, reason.to_owned(), &origin));
        }
    };
    let key = match scope {
        Scope::Logs | Scope::Metrics => Setting::lookup_in(scope, section, key_name),
        Scope::Shared | Scope::Traces => Setting::lookup(section, key_name),
    }
    .map_err(|unknown| unknown_key(name, &text, unknown.reason(), &origin))?;
    let node = match entry {
        None => text,
        Some(entry) => {
            let Some(entry) = key.entry_name(entry) else {
                let reason = format!(
                    "{} is not a map: use {OVERRIDE_PREFIX}{}{}__{}",
                    scope.dotted(key),
                    match scope {
                        Scope::Logs => "LOGS__",
                        Scope::Metrics => "METRICS__",
                        Scope::Shared | Scope::Traces => "",
                    },
                    section.to_ascii_uppercase(),
                    key_name.to_ascii_uppercase()
                );
                return Err(ConfigError::UnknownKey {
                    key: name.to_owned(),
                    value: shown_redacted(name, &text),
                    reason,
                    origin,
                });
            };
            Node::Map(vec![(entry, text)])
        }
    };
    let ctx = Ctx {
        origin: &origin,
        spelled: name,
        dialect: Dialect::Native,
        scope,
    };
    keys::apply(staged, key, &node, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exporter_variable_has_a_traces_a_logs_and_a_metrics_variant_in_their_own_scope() {
        let vars = otel_variables();
        let find = |name: &str| {
            let found = vars.iter().position(|(n, _, _)| n == name);
            let at = found.unwrap_or_else(|| panic!("{name} is not read"));
            (at, vars[at].1, vars[at].2)
        };
        for (suffix, key) in EXPORTER_SETTINGS {
            let generic = find(&format!("OTEL_EXPORTER_OTLP_{suffix}"));
            let traces = find(&format!("OTEL_EXPORTER_OTLP_TRACES_{suffix}"));
            let logs = find(&format!("OTEL_EXPORTER_OTLP_LOGS_{suffix}"));
            let metrics = find(&format!("OTEL_EXPORTER_OTLP_METRICS_{suffix}"));
            assert_eq!((generic.1, generic.2), (*key, Scope::Shared), "{suffix}");
            assert_eq!((traces.1, traces.2), (*key, Scope::Traces), "{suffix}");
            assert_eq!((logs.1, logs.2), (*key, Scope::Logs), "{suffix}");
            assert_eq!((metrics.1, metrics.2), (*key, Scope::Metrics), "{suffix}");
        }
        let metrics_endpoint = find("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
        assert_eq!(
            (metrics_endpoint.1, metrics_endpoint.2),
            (Setting::ExporterMetricsEndpoint, Scope::Metrics)
        );
        for (name, key) in METRICS_SETTINGS {
            let (_, found, scope) = find(name);
            assert_eq!((found, scope), (*key, Scope::Shared), "{name}");
            assert!(key.dotted().starts_with("metrics."), "{name}");
        }
        for (name, key) in LIMIT_SETTINGS {
            let (_, found, scope) = find(name);
            assert_eq!((found, scope), (*key, Scope::Shared), "{name}");
            assert!(key.dotted().starts_with("limits."), "{name}");
        }
        for (suffix, key) in BATCH_SETTINGS {
            assert_eq!(find(&format!("OTEL_BSP_{suffix}")).2, Scope::Shared);
            assert_eq!(find(&format!("OTEL_BLRP_{suffix}")).1, *key);
            assert_eq!(find(&format!("OTEL_BLRP_{suffix}")).2, Scope::Logs);
        }
        let logs_endpoint = find("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT");
        assert_eq!(
            (logs_endpoint.1, logs_endpoint.2),
            (Setting::ExporterLogsEndpoint, Scope::Logs)
        );
        assert!(find("OTEL_RESOURCE_ATTRIBUTES").0 < find("OTEL_SERVICE_NAME").0);
    }
}
