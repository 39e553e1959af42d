//! [`ConfigError`], [`ConfigWarning`] and [`ConfigSource`]: what went wrong while
//! loading or validating a [`Config`](super::Config), and where the value came from.
//!
//! Every error names the key (or the file), the value and the reason. Values that
//! may carry credentials — header values, the client key path, the user-info part
//! of an endpoint URL — are shown as [`REDACTED`].

use std::fmt;
use std::path::PathBuf;

use otlp_core::printable::Printable;

/// What secret values are replaced with in errors, warnings and `Debug` output.
pub const REDACTED: &str = "<redacted>";

/// An endpoint as errors, warnings and `Debug` output show it: its
/// user-info, if any, replaced by [`REDACTED`].
///
/// ```
/// use otlp_sdk::config::redact_userinfo;
///
/// assert_eq!(
///     redact_userinfo("https://user:secret@collector:4318/v1/traces"),
///     "https://<redacted>@collector:4318/v1/traces"
/// );
/// assert_eq!(redact_userinfo("user:secret@collector:4317"), "<redacted>@collector:4317");
/// assert_eq!(redact_userinfo("http://collector:4318/?a=b@c"), "http://collector:4318/?a=b@c");
/// // A password with an unencoded `/`, `?` or `#` is hidden whole.
/// assert_eq!(redact_userinfo("http://user:pa/ss@collector:4318/v1"), "http://<redacted>@collector:4318/v1");
/// assert_eq!(redact_userinfo("http://user:pa#ss@collector:4318/v1"), "http://<redacted>@collector:4318/v1");
/// ```
pub fn redact_userinfo(url: &str) -> String {
    let (prefix, rest) = match url.split_once("://") {
        // Whatever precedes "://" may itself hold the user-info (`u:pw@://host`).
        Some((scheme, rest)) if !scheme.contains('@') => (format!("{scheme}://"), rest),
        _ => (String::new(), url),
    };
    let mut end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if !rest[..end].contains('@')
        && password_cut_off(&rest[..end])
        && let Some(first_at) = rest[end..].find('@').map(|at| end + at)
    {
        // `user:pa/ss@host`, `user:pa?ss@host`, `user:pa#ss@host`: a
        // password with a `/`, `?` or `#` ends what looks like the
        // authority; the user-info runs to the last `@` before the query
        // (or fragment) that follows an `@`.
        let query = rest[first_at..]
            .find(['?', '#'])
            .map_or(rest.len(), |query| first_at + query);
        let at = rest[..query].rfind('@').unwrap_or(first_at);
        end = at + rest[at..].find(['/', '?', '#']).unwrap_or(rest.len() - at);
    }
    match rest[..end].rsplit_once('@') {
        Some((_, host)) => format!("{prefix}{REDACTED}@{host}{}", &rest[end..]),
        None => url.to_owned(),
    }
}

/// Whether `authority` (up to the first `/`, `?` or `#`) ends in a port
/// that is no port (`user:pa` of `user:pa/ss@host`): then what follows may
/// be the rest of a password, and the "port" its head. A host, a
/// `host:port` and an IPv6 literal are not.
pub(super) fn password_cut_off(authority: &str) -> bool {
    match authority.rsplit_once(':') {
        Some((_, port)) => {
            !port.is_empty() && !port.ends_with(']') && !port.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

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
            ConfigSource::Env(_) => f.write_str("environment"),
            ConfigSource::Builder => f.write_str("builder"),
        }
    }
}

/// A configuration could not be loaded or is invalid.
///
/// The value-level variants ([`InvalidValue`](ConfigError::InvalidValue),
/// [`UnknownKey`](ConfigError::UnknownKey)) name the key as the source spells it
/// (`OTEL_BSP_MAX_QUEUE_SIZE`, `OTLP__BATCH__MAX_QUEUE_SIZE`, `batch.max_queue_size`),
/// the value and the reason; the file-level variants name the file.
///
/// ```
/// use otlp_sdk::config::ConfigLoader;
///
/// let err = ConfigLoader::new()
///     .with_config_dir("no-such-dir")
///     .with_env([("OTEL_BSP_MAX_QUEUE_SIZE", "lots")])
///     .load()
///     .unwrap_err();
/// assert_eq!(err.key(), Some("OTEL_BSP_MAX_QUEUE_SIZE"));
/// assert_eq!(err.value(), Some("lots"));
/// assert!(err.to_string().contains("not a whole number"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value was rejected.
    #[error("invalid value {value:?} for {} (from {origin}): {reason}", ShownKey(.key))]
    InvalidValue {
        /// The key, as the source spells it.
        key: String,
        /// The offending value ([`REDACTED`] for secrets).
        value: String,
        /// Why it was rejected.
        reason: String,
        /// Where it came from.
        origin: ConfigSource,
    },
    /// A section or key that the configuration does not have (usually a typo).
    #[error("unknown key {} with value {value:?} (from {origin}): {reason}", ShownKey(.key))]
    UnknownKey {
        /// The key, as the source spells it.
        key: String,
        /// Its value ([`REDACTED`] when it may be a secret).
        value: String,
        /// What was expected instead.
        reason: String,
        /// Where it came from.
        origin: ConfigSource,
    },
    /// A value that is accepted but that this SDK does not act on (only ever
    /// in a [`ConfigWarning`]): `baggage` in `OTEL_PROPAGATORS`.
    #[error("{value:?} for {} (from {origin}) is accepted but does nothing: {reason}", ShownKey(.key))]
    NotActedOn {
        /// The key, as the source spells it.
        key: String,
        /// The value accepted.
        value: String,
        /// Why nothing is done for it.
        reason: String,
        /// Where it came from.
        origin: ConfigSource,
    },
    /// A rejected value that lenient loading replaced with another instead
    /// of ignoring it (only ever in a [`ConfigWarning`]): a boolean variable
    /// other than `true`/`false` read as `false`, as the specification
    /// requires, or a batch size above the queue size lowered to it.
    #[error("invalid value {value:?} for {} (from {origin}): {reason}; {used} is used instead", ShownKey(.key))]
    Replaced {
        /// The key, as the source spells it.
        key: String,
        /// The rejected value ([`REDACTED`] for secrets).
        value: String,
        /// Why it was rejected.
        reason: String,
        /// The value used in its place (boxed: keeps the error as small as
        /// the others).
        used: Box<str>,
        /// Where it came from.
        origin: ConfigSource,
    },
    /// A configuration file exists (or was named explicitly) but cannot be read.
    #[error("cannot read configuration file {}: {reason}", .path.display())]
    FileUnreadable {
        /// The file.
        path: PathBuf,
        /// Why (the I/O error).
        reason: String,
    },
    /// A configuration file is not valid YAML or TOML.
    #[error("cannot parse configuration file {}{}: {reason}", .path.display(), Location::of(.line, .column))]
    FileSyntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem, when the parser knows it.
        line: Option<usize>,
        /// 1-based column of the problem, when the parser knows it.
        column: Option<usize>,
        /// The parser's message.
        reason: String,
    },
    /// A configuration file cannot be used: unsupported extension, format support
    /// compiled out, or two files of different formats for the same name.
    #[error("configuration file {}: {reason}", .path.display())]
    FileRejected {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// A key as an error message shows it: as the source spelled it, but for
/// the characters that would change how the message shows (control
/// characters, line separators, bidirectional formatting), written escaped
/// (`\u{1b}`). A key comes from a file or a variable name, which can hold
/// anything: it must not rewrite the terminal the message is printed on,
/// nor fake a line. Values are shown quoted and escaped (`{:?}`) already.
struct ShownKey<'a>(&'a str);

impl fmt::Display for ShownKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Printable(self.0).fmt(f)
    }
}

impl ConfigError {
    /// An [`InvalidValue`](ConfigError::InvalidValue) error.
    pub fn invalid(
        key: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
        origin: ConfigSource,
    ) -> Self {
        ConfigError::InvalidValue {
            key: key.into(),
            value: value.into(),
            reason: reason.into(),
            origin,
        }
    }

    /// This rejected value (an [`InvalidValue`](ConfigError::InvalidValue))
    /// as [`Replaced`](ConfigError::Replaced) by `used`; other errors are
    /// returned as they are.
    pub(crate) fn replaced_by(self, used: impl Into<Box<str>>) -> Self {
        match self {
            ConfigError::InvalidValue {
                key,
                value,
                reason,
                origin,
            } => ConfigError::Replaced {
                key,
                value,
                reason,
                used: used.into(),
                origin,
            },
            other => other,
        }
    }

    /// The key the error is about, as the source spells it (`None` for file-level errors).
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::InvalidValue { key, .. }
            | ConfigError::UnknownKey { key, .. }
            | ConfigError::NotActedOn { key, .. }
            | ConfigError::Replaced { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The rejected value, redacted for secrets (`None` for file-level errors).
    pub fn value(&self) -> Option<&str> {
        match self {
            ConfigError::InvalidValue { value, .. }
            | ConfigError::UnknownKey { value, .. }
            | ConfigError::NotActedOn { value, .. }
            | ConfigError::Replaced { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Why the value, key or file was rejected.
    pub fn reason(&self) -> &str {
        match self {
            ConfigError::InvalidValue { reason, .. }
            | ConfigError::UnknownKey { reason, .. }
            | ConfigError::NotActedOn { reason, .. }
            | ConfigError::Replaced { reason, .. }
            | ConfigError::FileUnreadable { reason, .. }
            | ConfigError::FileSyntax { reason, .. }
            | ConfigError::FileRejected { reason, .. } => reason,
        }
    }

    /// Where the rejected value came from: a file error's origin is that file.
    pub fn origin(&self) -> ConfigSource {
        match self {
            ConfigError::InvalidValue { origin, .. }
            | ConfigError::UnknownKey { origin, .. }
            | ConfigError::NotActedOn { origin, .. }
            | ConfigError::Replaced { origin, .. } => origin.clone(),
            ConfigError::FileUnreadable { path, .. }
            | ConfigError::FileSyntax { path, .. }
            | ConfigError::FileRejected { path, .. } => ConfigSource::File(path.clone()),
        }
    }
}

/// Renders ` (line L, column C)` when known, nothing otherwise.
struct Location(Option<usize>, Option<usize>);

impl Location {
    fn of(line: &Option<usize>, column: &Option<usize>) -> Self {
        Location(*line, *column)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(line), Some(column)) => write!(f, " (line {line}, column {column})"),
            (Some(line), None) => write!(f, " (line {line})"),
            _ => Ok(()),
        }
    }
}

/// A problem that loading reported instead of failing, shown as what was
/// done: `ignored: …` when the value named in the error was ignored (for
/// `OTEL_PROPAGATORS`, only the names refused were); `replaced: …` for a
/// [`Replaced`](ConfigError::Replaced) value (a boolean variable read as
/// `false`, as the specification requires; a batch size above the queue
/// size lowered to it), whose message names the value used; `note: …` for
/// a [`NotActedOn`](ConfigError::NotActedOn) value.
/// [Lenient](super::ConfigLoader::lenient) loading reports rejected `OTEL_*`
/// values so.
///
/// In both modes, a bad sampler argument that the sampler does not use is
/// reported so, and so is a value that is accepted but not acted on:
/// `baggage` in `OTEL_PROPAGATORS` (or `propagation.propagators`), since
/// this SDK does not propagate baggage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning(pub ConfigError);

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            // Nothing was ignored: the value stands, it only does nothing.
            accepted @ ConfigError::NotActedOn { .. } => write!(f, "note: {accepted}"),
            replaced @ ConfigError::Replaced { .. } => write!(f, "replaced: {replaced}"),
            ignored => write!(f, "ignored: {ignored}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_with_control_or_bidi_characters_is_shown_escaped() {
        let hostile = "OTLP__BATCH__X\u{1b}[2J\nconfig ok\u{202e}";
        let err = ConfigError::UnknownKey {
            key: hostile.into(),
            value: "1".into(),
            reason: "no such key".into(),
            origin: ConfigSource::Env(hostile.into()),
        };
        assert_eq!(
            err.to_string(),
            "unknown key OTLP__BATCH__X\\u{1b}[2J\\nconfig ok\\u{202e} with value \"1\" \
             (from environment): no such key"
        );
        assert_eq!(err.key(), Some(hostile), "the key itself as spelled");
    }

    #[test]
    fn invalid_value_names_key_value_reason_and_origin() {
        let err = ConfigError::invalid(
            "OTEL_BSP_MAX_QUEUE_SIZE",
            "-1",
            "must not be negative",
            ConfigSource::Env("OTEL_BSP_MAX_QUEUE_SIZE".into()),
        );
        assert_eq!(
            err.to_string(),
            "invalid value \"-1\" for OTEL_BSP_MAX_QUEUE_SIZE (from environment): must not be negative"
        );
    }

    #[test]
    fn file_syntax_error_shows_line_and_column() {
        let err = ConfigError::FileSyntax {
            path: "config/default.toml".into(),
            line: Some(3),
            column: Some(7),
            reason: "expected `=`".into(),
        };
        assert_eq!(
            err.to_string(),
            "cannot parse configuration file config/default.toml (line 3, column 7): expected `=`"
        );
        assert_eq!(err.key(), None);
        assert_eq!(
            err.origin(),
            ConfigSource::File("config/default.toml".into())
        );
    }
}
