//! [`Origins`]: which source last set each setting, so that validation errors can
//! name the key the way the user wrote it (`OTEL_BSP_MAX_QUEUE_SIZE`, not
//! `batch.max_queue_size`).

use std::collections::HashMap;

use super::ConfigSource;

/// The source and the spelling of the key that last set a setting
/// ([`ConfigOrigins::set_by`]): `OTEL_TRACES_EXPORTER` from the environment,
/// `exporter.kind` from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetBy {
    /// Where the value came from.
    pub source: ConfigSource,
    /// The key as that source spells it.
    pub key: String,
}

/// Which source set each setting of a [`Config`](super::Config) that
/// [`ConfigLoader::load_with_origins`](super::ConfigLoader::load_with_origins)
/// loaded, for a program that says why it does what its configuration
/// asks ("spans are off: `exporter.kind=none` in `config/default.yaml`").
///
/// Cost: one map entry per setting a source gave; [`set_by`](Self::set_by)
/// hashes the key and clones what it returns.
#[derive(Clone, Debug)]
pub struct ConfigOrigins(Origins);

impl ConfigOrigins {
    pub(crate) fn new(origins: Origins) -> Self {
        ConfigOrigins(origins)
    }

    /// The source that set `key`, and the key as that source spells it;
    /// `None` when no source did (the default holds). `key` is dotted as in
    /// a file, per signal as the loader resolved it: `exporter.kind` (spans),
    /// `logs.exporter.kind`, `metrics.exporter.kind`, `service.disabled`,
    /// `sampler.name`. A value a signal took from the generic exporter
    /// settings is reported under the signal's key with the generic key's
    /// spelling: `exporter.kind` in a file, for `logs.exporter.kind`.
    pub fn set_by(&self, key: &str) -> Option<SetBy> {
        self.0.is_recorded(key).then(|| self.0.of(key))
    }
}

/// Last writer per dotted setting name (`batch.max_queue_size`,
/// `exporter.headers.x-api-key`). Settings nobody set report `fallback`.
#[derive(Clone, Debug)]
pub(crate) struct Origins {
    settings: HashMap<String, SetBy>,
    fallback: ConfigSource,
}

impl Origins {
    /// No setting recorded; unrecorded settings are attributed to `fallback`.
    pub(crate) fn new(fallback: ConfigSource) -> Self {
        Origins {
            settings: HashMap::new(),
            fallback,
        }
    }

    /// Records that `key` (spelled `spelled` in `source`) set `dotted`.
    pub(crate) fn record(
        &mut self,
        dotted: impl Into<String>,
        source: &ConfigSource,
        spelled: &str,
    ) {
        let setting = SetBy {
            source: source.clone(),
            key: spelled.to_owned(),
        };
        self.settings.insert(dotted.into(), setting);
    }

    /// Records for `to` whoever set `from`, if anyone did (nothing changes otherwise).
    pub(crate) fn copy(&mut self, from: &str, to: &str) {
        if from == to {
            return;
        }
        if let Some(setting) = self.settings.get(from).cloned() {
            self.settings.insert(to.to_owned(), setting);
        }
    }

    /// Who set `dotted`: the recorded setting, or the dotted name itself from `fallback`.
    pub(crate) fn of(&self, dotted: &str) -> SetBy {
        self.settings.get(dotted).cloned().unwrap_or_else(|| SetBy {
            source: self.fallback.clone(),
            key: dotted.to_owned(),
        })
    }

    /// Whether a source (not the fallback) set `dotted`.
    pub(crate) fn is_recorded(&self, dotted: &str) -> bool {
        self.settings.contains_key(dotted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrecorded_settings_fall_back_to_their_dotted_name() {
        let mut origins = Origins::new(ConfigSource::Builder);
        let env = ConfigSource::Env("OTEL_BSP_MAX_QUEUE_SIZE".into());
        origins.record("batch.max_queue_size", &env, "OTEL_BSP_MAX_QUEUE_SIZE");
        assert_eq!(
            origins.of("batch.max_queue_size").key,
            "OTEL_BSP_MAX_QUEUE_SIZE"
        );
        assert_eq!(origins.of("batch.max_queue_size").source, env);
        assert!(origins.is_recorded("batch.max_queue_size"));
        assert_eq!(origins.of("batch.adaptive").key, "batch.adaptive");
        assert_eq!(origins.of("batch.adaptive").source, ConfigSource::Builder);

        origins.copy("batch.max_queue_size", "logs.batch.max_queue_size");
        origins.copy("batch.adaptive", "logs.batch.adaptive");
        assert_eq!(
            origins.of("logs.batch.max_queue_size").key,
            "OTEL_BSP_MAX_QUEUE_SIZE"
        );
        assert!(!origins.is_recorded("logs.batch.adaptive"));
    }
}
