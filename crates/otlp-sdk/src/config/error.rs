//! Configuration errors and warnings. (Being written: see the config task.)

use std::fmt;
use std::path::PathBuf;

/// Where a configuration value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// Built-in default.
    Default,
    /// A configuration file.
    File(PathBuf),
    /// An environment variable (its name).
    Env(String),
    /// Set by the program.
    Builder,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::Default => f.write_str("default"),
            ConfigSource::File(path) => write!(f, "file {}", path.display()),
            ConfigSource::Env(name) => write!(f, "environment variable {name}"),
            ConfigSource::Builder => f.write_str("builder"),
        }
    }
}

/// A configuration value was rejected: names the key, the value and the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {value:?} for {key} (from {origin}): {reason}")]
pub struct ConfigError {
    /// The key, as the source spells it (`OTEL_BSP_MAX_QUEUE_SIZE`, `batch.max_queue_size`).
    pub key: String,
    /// The offending value (redacted for secrets).
    pub value: String,
    /// Why it was rejected.
    pub reason: String,
    /// Where it came from.
    pub origin: ConfigSource,
}

/// A problem that lenient loading reported instead of failing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning(pub ConfigError);
