//! Loading a [`Config`] from files, `OTEL_*` variables and `OTLP__` overrides.
//! (Being written: see the config task.)

use super::{Config, ConfigError};

/// Loads a [`Config`] from its sources.
#[derive(Debug, Default)]
pub struct ConfigLoader {}

impl ConfigLoader {
    /// A loader reading the process environment and `config/`.
    pub fn new() -> Self {
        ConfigLoader {}
    }

    /// Loads and validates.
    pub fn load(self) -> Result<Config, ConfigError> {
        Ok(Config::default())
    }
}
