//! Environment variables: the standard `OTEL_*` ones and the nested
//! `OTLP__SECTION__KEY` overrides, both applied through [`keys::apply`].

use std::collections::BTreeMap;

use super::file::{shown_unknown, unknown_key};
use super::keys::{self, Ctx, Setting, Staged};
use super::node::Node;
use super::parse::Dialect;
use super::{ConfigError, ConfigSource, ConfigWarning};

/// The prefix of the nested overrides.
pub(crate) const OVERRIDE_PREFIX: &str = "OTLP__";

/// Exporter settings that exist as `OTEL_EXPORTER_OTLP_X` and `OTEL_EXPORTER_OTLP_TRACES_X`.
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

/// Every standard variable read, in the order applied (a later one wins):
/// `OTEL_SERVICE_NAME` after `OTEL_RESOURCE_ATTRIBUTES` (so it wins over a
/// `service.name` attribute), and each `_TRACES_` variant after its generic one.
pub(crate) fn otel_variables() -> Vec<(String, Setting)> {
    let mut vars: Vec<(String, Setting)> = vec![
        ("OTEL_SDK_DISABLED".into(), Setting::ServiceDisabled),
        (
            "OTEL_RESOURCE_ATTRIBUTES".into(),
            Setting::ResourceAttributes,
        ),
        ("OTEL_SERVICE_NAME".into(), Setting::ServiceName),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            Setting::ExporterEndpoint,
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".into(),
            Setting::ExporterTracesEndpoint,
        ),
    ];
    for (suffix, key) in EXPORTER_SETTINGS {
        vars.push((format!("OTEL_EXPORTER_OTLP_{suffix}"), *key));
        vars.push((format!("OTEL_EXPORTER_OTLP_TRACES_{suffix}"), *key));
    }
    vars.extend([
        (
            "OTEL_BSP_SCHEDULE_DELAY".into(),
            Setting::BatchScheduledDelay,
        ),
        (
            "OTEL_BSP_EXPORT_TIMEOUT".into(),
            Setting::BatchExportTimeout,
        ),
        ("OTEL_BSP_MAX_QUEUE_SIZE".into(), Setting::BatchMaxQueueSize),
        (
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE".into(),
            Setting::BatchMaxExportBatchSize,
        ),
    ]);
    vars
}

/// Applies the standard variables. In lenient mode a rejected value becomes a
/// warning and is ignored, except that a rejected boolean reads as `false`.
pub(crate) fn apply_otel(
    staged: &mut Staged,
    env: &BTreeMap<String, String>,
    lenient: bool,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    for (name, key) in otel_variables() {
        let Some(value) = env.get(&name) else {
            continue;
        };
        let origin = ConfigSource::Env(name.clone());
        let ctx = Ctx {
            origin: &origin,
            spelled: &name,
            dialect: Dialect::Otel,
        };
        match keys::apply(staged, key, &Node::Str(value.clone()), ctx) {
            Ok(()) => {}
            Err(err) if lenient => {
                warnings.push(ConfigWarning(err));
                if key.is_boolean() {
                    keys::apply(staged, key, &Node::Bool(false), ctx)?;
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
    let (section, key_name, entry) = match segments.as_slice() {
        [section, key] => (section, key, None),
        [section, key, entry] if !entry.is_empty() => (section, key, Some(entry)),
        _ => {
            let reason = "expected OTLP__SECTION__KEY, or OTLP__SECTION__MAP__NAME for headers and attributes";
            return Err(unknown_key(name, &text, reason.to_owned(), &origin));
        }
    };
    let key = Setting::lookup(section, key_name)
        .map_err(|unknown| unknown_key(name, &text, unknown.reason(), &origin))?;
    let node = match entry {
        None => text,
        Some(entry) => {
            let Some(entry) = key.entry_name(entry) else {
                let reason = format!(
                    "{} is not a map: use OTLP__{}__{}",
                    key.dotted(),
                    section.to_ascii_uppercase(),
                    key_name.to_ascii_uppercase()
                );
                return Err(ConfigError::UnknownKey {
                    key: name.to_owned(),
                    value: shown_unknown(name, &text),
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
    };
    keys::apply(staged, key, &node, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exporter_variable_has_a_traces_variant_applied_after_it() {
        let vars = otel_variables();
        let position = |name: &str| vars.iter().position(|(n, _)| n == name).unwrap();
        for (suffix, _) in EXPORTER_SETTINGS {
            let generic = position(&format!("OTEL_EXPORTER_OTLP_{suffix}"));
            let traces = position(&format!("OTEL_EXPORTER_OTLP_TRACES_{suffix}"));
            assert!(generic < traces, "{suffix}");
        }
        assert!(position("OTEL_RESOURCE_ATTRIBUTES") < position("OTEL_SERVICE_NAME"));
    }
}
