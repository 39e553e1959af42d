//! Configuration files: finding `config/default.*` and `config/{RUN_ENV}.*`,
//! parsing YAML or TOML into a [`Node`] tree, and applying its
//! `section.key` entries through [`keys::apply`].

use std::path::{Path, PathBuf};

use super::keys::{self, Ctx, Staged};
use super::node::Node;
use super::parse::Dialect;
use super::setting::{
    self, LOGS_SECTION, METRICS_SECTION, Scope, Setting, Unknown, shown_redacted,
};
use super::{ConfigError, ConfigSource};

/// The extensions looked for, in this order, for each file stem.
const EXTENSIONS: &[&str] = &["yaml", "yml", "toml"];

/// A configuration file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// `.yaml` / `.yml`.
    Yaml,
    /// `.toml`.
    Toml,
}

impl Format {
    /// The format a file name's extension says (case-insensitive).
    pub(crate) fn of(path: &Path) -> Result<Format, ConfigError> {
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match extension.to_ascii_lowercase().as_str() {
            "yaml" | "yml" => Ok(Format::Yaml),
            "toml" => Ok(Format::Toml),
            _ => Err(ConfigError::FileRejected {
                path: path.to_owned(),
                reason: "unsupported file type: the name must end in .yaml, .yml or .toml"
                    .to_owned(),
            }),
        }
    }
}

/// The files to read from `dir`, lowest precedence first: `default.*`, then
/// `{run_env}.*`. Missing files are skipped; two files with the same stem
/// (`default.yaml` and `default.toml`) are an error, as neither would be
/// obviously the one that counts.
pub(crate) fn discover(dir: &Path, run_env: Option<&str>) -> Result<Vec<PathBuf>, ConfigError> {
    let mut stems = vec!["default"];
    if let Some(run_env) = run_env
        && run_env != "default"
    {
        stems.push(run_env);
    }
    let mut files = Vec::new();
    for stem in stems {
        if let Some(path) = find_stem(dir, stem)? {
            files.push(path);
        }
    }
    Ok(files)
}

fn find_stem(dir: &Path, stem: &str) -> Result<Option<PathBuf>, ConfigError> {
    let found: Vec<PathBuf> = EXTENSIONS
        .iter()
        .map(|extension| dir.join(format!("{stem}.{extension}")))
        .filter(|path| path.is_file())
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        [first, second, ..] => Err(ConfigError::FileRejected {
            path: first.clone(),
            reason: format!(
                "ambiguous: {} exists too; keep only one file named {stem:?}",
                second.display()
            ),
        }),
    }
}

/// Reads `path` and applies every entry in it.
pub(crate) fn apply_file(staged: &mut Staged, path: &Path) -> Result<(), ConfigError> {
    let root = read(path)?;
    let origin = ConfigSource::File(path.to_owned());
    apply_tree(staged, &root, &origin, path)
}

/// Reads and parses `path` according to its extension.
pub(crate) fn read(path: &Path) -> Result<Node, ConfigError> {
    let format = Format::of(path)?;
    let text = std::fs::read_to_string(path).map_err(|err| ConfigError::FileUnreadable {
        path: path.to_owned(),
        reason: match err.kind() {
            std::io::ErrorKind::NotFound => "file not found".to_owned(),
            _ => err.to_string(),
        },
    })?;
    match format {
        Format::Yaml => parse_yaml(path, &text),
        Format::Toml => parse_toml(path, &text),
    }
}

#[cfg(feature = "yaml")]
fn parse_yaml(path: &Path, text: &str) -> Result<Node, ConfigError> {
    serde_norway::from_str::<Node>(text).map_err(|err| {
        let location = err.location();
        let (line, column) = (
            location.as_ref().map(|l| l.line()),
            location.as_ref().map(|l| l.column()),
        );
        // The message carries its own " at line L column C"; the error shows the location itself.
        let reason = match (line, column) {
            (Some(l), Some(c)) => {
                err.to_string()
                    .replacen(&format!(" at line {l} column {c}"), "", 1)
            }
            _ => err.to_string(),
        };
        ConfigError::FileSyntax {
            path: path.to_owned(),
            line,
            column,
            reason,
        }
    })
}

#[cfg(not(feature = "yaml"))]
fn parse_yaml(path: &Path, _text: &str) -> Result<Node, ConfigError> {
    Err(ConfigError::FileRejected {
        path: path.to_owned(),
        reason: "YAML support is not compiled in: enable the `yaml` feature of otlp-sdk".to_owned(),
    })
}

#[cfg(feature = "toml")]
fn parse_toml(path: &Path, text: &str) -> Result<Node, ConfigError> {
    toml::from_str::<Node>(text).map_err(|err| {
        let (line, column) = match err.span() {
            Some(span) => {
                let (line, column) = line_and_column(text, span.start);
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        ConfigError::FileSyntax {
            path: path.to_owned(),
            line,
            column,
            reason: err.message().trim().to_owned(),
        }
    })
}

#[cfg(not(feature = "toml"))]
fn parse_toml(path: &Path, _text: &str) -> Result<Node, ConfigError> {
    Err(ConfigError::FileRejected {
        path: path.to_owned(),
        reason: "TOML support is not compiled in: enable the `toml` feature of otlp-sdk".to_owned(),
    })
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
#[cfg_attr(not(feature = "toml"), allow(dead_code))]
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Applies a parsed file: a map of sections, each a map of keys (`logs`: a map
/// of subsections, each a map of keys; `metrics`: its own keys and the
/// subsection `exporter`).
fn apply_tree(
    staged: &mut Staged,
    root: &Node,
    origin: &ConfigSource,
    path: &Path,
) -> Result<(), ConfigError> {
    let sections = match root {
        Node::Null => return Ok(()),
        Node::Map(sections) => sections,
        other => {
            return Err(ConfigError::FileRejected {
                path: path.to_owned(),
                reason: format!(
                    "the top level must be a map of sections ({}), not {}",
                    setting::sections().join(", "),
                    other.describe()
                ),
            });
        }
    };
    for (section, body) in sections {
        apply_section(staged, section, body, origin)?;
    }
    Ok(())
}

fn apply_section(
    staged: &mut Staged,
    section: &str,
    body: &Node,
    origin: &ConfigSource,
) -> Result<(), ConfigError> {
    if section == LOGS_SECTION {
        let Some(subsections) = map_entries(section, body, "subsections", origin)? else {
            return Ok(());
        };
        for (subsection, body) in subsections {
            let spelled = format!("{section}.{subsection}");
            if let Err(Unknown::Section(reason)) = Setting::lookup_logs(subsection, "") {
                return Err(unknown_key(&spelled, body, reason, origin));
            }
            apply_keys(staged, &spelled, body, Scope::Logs, origin)?;
        }
        return Ok(());
    }
    if section == METRICS_SECTION {
        let Some(entries) = map_entries(section, body, "keys", origin)? else {
            return Ok(());
        };
        for (name, value) in entries {
            let spelled = format!("{section}.{name}");
            if name == "exporter" {
                apply_keys(staged, &spelled, value, Scope::Metrics, origin)?;
                continue;
            }
            let key = Setting::lookup_metrics(name)
                .map_err(|unknown| unknown_key(&spelled, value, unknown.reason(), origin))?;
            let ctx = Ctx {
                origin,
                spelled: &spelled,
                dialect: Dialect::Native,
                scope: Scope::Shared,
            };
            keys::apply(staged, key, value, ctx)?;
        }
        return Ok(());
    }
    if let Err(Unknown::Section(reason)) = Setting::lookup(section, "") {
        return Err(unknown_key(section, body, reason, origin));
    }
    apply_keys(staged, section, body, Scope::Shared, origin)
}

/// Applies the keys of `section` (spelled in full: `batch`, `logs.batch`,
/// `metrics.exporter`).
fn apply_keys(
    staged: &mut Staged,
    section: &str,
    body: &Node,
    scope: Scope,
    origin: &ConfigSource,
) -> Result<(), ConfigError> {
    let Some(entries) = map_entries(section, body, "keys", origin)? else {
        return Ok(());
    };
    for (name, value) in entries {
        let spelled = format!("{section}.{name}");
        let key = match scope {
            Scope::Logs | Scope::Metrics => {
                let subsection = section.rsplit('.').next().unwrap_or(section);
                Setting::lookup_in(scope, subsection, name)
            }
            Scope::Shared | Scope::Traces => Setting::lookup(section, name),
        }
        .map_err(|unknown| unknown_key(&spelled, value, unknown.reason(), origin))?;
        let ctx = Ctx {
            origin,
            spelled: &spelled,
            dialect: Dialect::Native,
            scope,
        };
        keys::apply(staged, key, value, ctx)?;
    }
    Ok(())
}

/// The entries of a section's body: `None` when null, an error naming the
/// section when not a map.
fn map_entries<'a>(
    section: &str,
    body: &'a Node,
    what: &str,
    origin: &ConfigSource,
) -> Result<Option<&'a [(String, Node)]>, ConfigError> {
    match body {
        Node::Null => Ok(None),
        Node::Map(entries) => Ok(Some(entries)),
        other => Err(ConfigError::invalid(
            section,
            shown_redacted(section, other),
            format!("section {section:?} must be a map of {what}"),
            origin.clone(),
        )),
    }
}

/// An error for a key (or section) no setting has.
pub(crate) fn unknown_key(
    spelled: &str,
    value: &Node,
    reason: String,
    origin: &ConfigSource,
) -> ConfigError {
    ConfigError::UnknownKey {
        key: spelled.to_owned(),
        value: shown_redacted(spelled, value),
        reason,
        origin: origin.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::REDACTED;
    use super::*;

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(Format::of(Path::new("a/b.YAML")), Ok(Format::Yaml));
        assert_eq!(Format::of(Path::new("b.yml")), Ok(Format::Yaml));
        assert_eq!(Format::of(Path::new("b.toml")), Ok(Format::Toml));
        let err = Format::of(Path::new("b.json")).unwrap_err();
        assert!(
            err.to_string().contains("must end in .yaml, .yml or .toml"),
            "{err}"
        );
    }

    #[test]
    fn line_and_column_count_characters() {
        let text = "a = 1\nbé = x\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, text.find('x').unwrap()), (2, 6));
    }

    /// A misspelt key or section may hold a header value, a client key or
    /// an endpoint with a password: the unknown-key error (and warning)
    /// shows none of them, in its message or its `Debug` output.
    #[test]
    fn unknown_keys_and_sections_show_no_secret_they_hold() {
        use crate::config::ConfigLoader;

        let loader = || ConfigLoader::new().with_config_dir("no-such-config-dir");
        let hidden = |error: ConfigError| {
            assert!(matches!(error, ConfigError::UnknownKey { .. }), "{error}");
            assert!(!error.to_string().contains("s3cret"), "{error}");
            assert!(!format!("{error:?}").contains("s3cret"), "{error:?}");
        };
        for (name, value) in [
            ("OTLP__EXPORTER__HEADRES", "authorization=Bearer s3cret"),
            (
                "OTLP__LOGS__EXPORTER__HEADRES",
                "authorization=Bearer s3cret",
            ),
            (
                "OTLP__METRICS__EXPORTER__HEADRES",
                "authorization=Bearer s3cret",
            ),
            (
                "OTLP__EXPORTER__CLIENT_KYE",
                "-----BEGIN PRIVATE KEY----- s3cret",
            ),
            (
                "OTLP__EXPORTER__ENDPIONT",
                "http://user:s3cret@collector:4318",
            ),
            ("OTLP__BATCH__ENDPOINT", "http://user:s3cret@collector:4318"),
        ] {
            hidden(loader().with_env([(name, value)]).load().expect_err(name));
        }
        let dir =
            std::env::temp_dir().join(format!("otlp-sdk-unknown-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        for (file, text) in [
            // A misspelt section: its keys are spelt right.
            (
                "exporters.yaml",
                "exporters:\n  endpoint: http://user:s3cret@collector:4318\n  headers:\n    authorization: Bearer s3cret\n",
            ),
            (
                "logs.yaml",
                "logs:\n  exproter:\n    client_key: /run/s3cret.key\n    endpoint: [\"http://user:s3cret@collector\"]\n",
            ),
            // A section given as a value.
            (
                "section.yaml",
                "exporter: http://user:s3cret@collector:4318\n",
            ),
            (
                "key.toml",
                "[exporter]\nheadres = \"authorization=Bearer s3cret\"\n",
            ),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, text).expect("a configuration file");
            let result = loader().with_file(&path).with_env([("X", "y")]).load();
            let _ = std::fs::remove_file(&path);
            match result.expect_err(file) {
                error @ ConfigError::UnknownKey { .. } => hidden(error),
                error => {
                    assert!(!error.to_string().contains("s3cret"), "{file}: {error}");
                    assert!(
                        !format!("{error:?}").contains("s3cret"),
                        "{file}: {error:?}"
                    );
                }
            }
        }
        let _ = std::fs::remove_dir(&dir);
        // A value that is no secret is still shown.
        let error = loader()
            .with_env([("OTLP__BATCH__MAX_QUEUE", "5")])
            .load()
            .expect_err("an unknown key");
        assert_eq!(error.value(), Some("5"), "{error}");
        assert_eq!(setting::typos_apart("headres", "headers"), 1);
        assert_eq!(setting::typos_apart("hedaers", "headers"), 1);
        assert_eq!(setting::typos_apart("client_kye", "client_key"), 1);
        assert_eq!(setting::typos_apart("headrs", "headers"), 1);
        assert!(setting::typos_apart("nope", "headers") > 2);
        assert!(setting::typos_apart("max_queue", "headers") > 2);
    }

    #[test]
    fn unknown_values_with_secret_names_are_redacted() {
        let value = Node::Str("Bearer abc".into());
        assert_eq!(shown_redacted("exporter.header", &value), REDACTED);
        assert_eq!(shown_redacted("batch.max_queue", &Node::Int(3)), "3");
    }
}
