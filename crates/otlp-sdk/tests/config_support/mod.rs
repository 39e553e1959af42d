//! Helpers shared by the configuration tests (`config.rs`, `config_logs.rs`):
//! a temporary directory, a loader with exactly the given variables, and
//! the assertion that an error names its key, value and reason.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use otlp_sdk::config::{Config, ConfigError, ConfigLoader, ExporterConfig};

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = format!(
            "otlp-sdk-{}-{}-{}-{name}",
            env!("CARGO_CRATE_NAME"),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(unique);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A loader with exactly these variables and an empty config directory.
pub fn loader(dir: &TempDir, env: &[(&str, &str)]) -> ConfigLoader {
    ConfigLoader::new()
        .with_config_dir(dir.path())
        .with_env(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

pub fn load(env: &[(&str, &str)]) -> Config {
    let dir = TempDir::new("env");
    loader(&dir, env).load().unwrap()
}

pub fn load_err(env: &[(&str, &str)]) -> ConfigError {
    let dir = TempDir::new("env-err");
    loader(&dir, env).load().unwrap_err()
}

pub fn headers(exporter: &ExporterConfig) -> Vec<(String, String)> {
    exporter
        .headers
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The error names the key, shows the value and says why, both in its fields and its message.
pub fn assert_names(err: &ConfigError, key: &str, value: &str, reason: &str) {
    assert_eq!(err.key(), Some(key), "{err}");
    assert_eq!(err.value(), Some(value), "{err}");
    assert!(
        err.reason().contains(reason),
        "reason {:?} lacks {reason:?}",
        err.reason()
    );
    let message = err.to_string();
    assert!(message.contains(key), "{message}");
    assert!(message.contains(&format!("{value:?}")), "{message}");
    assert!(message.contains(reason), "{message}");
}
