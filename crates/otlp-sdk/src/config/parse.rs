//! Typed readers over a [`Node`]: numbers, booleans, durations, enums and the
//! `k1=v1,k2=v2` list syntax of `OTEL_EXPORTER_OTLP_HEADERS` and
//! `OTEL_RESOURCE_ATTRIBUTES`.
//!
//! Each reader returns the reason as a `String` on failure; `keys.rs` turns it
//! into a [`ConfigError`](super::ConfigError) that names the key and the value.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::time::Duration;

use super::node::Node;

/// Which syntax a value is read with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// The standard `OTEL_*` variables: durations are integer milliseconds; a
    /// boolean is true only for `true` (any case).
    Otel,
    /// Files and `OTLP__` overrides: durations may carry a unit (`250ms`, `5s`,
    /// `2m`, `1h`); booleans are `true` or `false`.
    Native,
}

/// What a loaded timeout of `0` ("no limit", per the specification) is
/// stored as: the largest number of milliseconds a 32-bit integer holds
/// (about 24.8 days). A program that bounds what "no limit" may mean for
/// itself (a command-line tool that must end) compares with this.
pub const NO_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// Text of a scalar, trimmed.
pub(crate) fn text(node: &Node) -> Result<String, String> {
    node.scalar_text()
        .map(|s| s.trim().to_owned())
        .ok_or_else(|| format!("expected a single value, found a {}", kind(node)))
}

/// A non-negative whole number.
pub(crate) fn count(node: &Node) -> Result<usize, String> {
    match node {
        Node::Int(n) => whole(*n),
        Node::Str(s) => {
            let s = s.trim();
            if let Some(digits) = s.strip_prefix('-')
                && !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err("must not be negative".to_owned());
            }
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err("not a whole number".to_owned());
            }
            s.parse::<usize>()
                .map_err(|_| format!("too large (at most {})", usize::MAX))
        }
        other => Err(format!("expected a whole number, found a {}", kind(other))),
    }
}

fn whole(n: i128) -> Result<usize, String> {
    if n < 0 {
        return Err("must not be negative".to_owned());
    }
    usize::try_from(n).map_err(|_| format!("too large (at most {})", usize::MAX))
}

/// A finite number.
pub(crate) fn number(node: &Node) -> Result<f64, String> {
    let value = match node {
        Node::Float(x) => *x,
        // Precision loss is irrelevant for the small factors configured here.
        Node::Int(n) => *n as f64,
        Node::Str(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| "not a number".to_owned())?,
        other => return Err(format!("expected a number, found a {}", kind(other))),
    };
    if value.is_finite() {
        Ok(value)
    } else {
        Err("must be a finite number".to_owned())
    }
}

/// A boolean. In the `OTEL_*` dialect anything but `true`/`false` (any case) is
/// an error here; lenient loading then reads it as `false`, as the specification says.
pub(crate) fn boolean(node: &Node, dialect: Dialect) -> Result<bool, String> {
    match node {
        Node::Bool(b) => Ok(*b),
        Node::Str(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Node::Str(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        Node::Str(_) => Err(match dialect {
            Dialect::Otel => {
                "expected true or false (only \"true\", in any case, means true)".to_owned()
            }
            Dialect::Native => "expected true or false".to_owned(),
        }),
        other => Err(format!("expected true or false, found a {}", kind(other))),
    }
}

/// A duration: whole milliseconds, or (native dialect) a whole number with a unit.
pub(crate) fn duration(node: &Node, dialect: Dialect) -> Result<Duration, String> {
    match node {
        Node::Int(n) => whole(*n).map(|ms| Duration::from_millis(ms as u64)),
        Node::Str(s) => duration_text(s.trim(), dialect),
        Node::Float(_) => Err(match dialect {
            Dialect::Otel => "expected whole milliseconds".to_owned(),
            Dialect::Native => {
                "expected whole milliseconds or a whole number with a unit (ms, s, m, h)".to_owned()
            }
        }),
        other => Err(format!("expected a duration, found a {}", kind(other))),
    }
}

fn duration_text(s: &str, dialect: Dialect) -> Result<Duration, String> {
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '-')
        .unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let unit = unit.trim();
    if digits.is_empty() || (dialect == Dialect::Otel && !unit.is_empty()) {
        return Err(match dialect {
            Dialect::Otel => "expected whole milliseconds".to_owned(),
            Dialect::Native => {
                "not a duration: expected whole milliseconds or a whole number with a unit (ms, s, m, h)"
                    .to_owned()
            }
        });
    }
    let millis_per_unit: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        fraction if fraction.starts_with('.') => {
            return Err("whole numbers only: use a smaller unit (1500ms, not 1.5s)".to_owned());
        }
        _ => {
            return Err(format!(
                "unknown unit {unit:?}: use ms, s, m or h (a bare number is milliseconds)"
            ));
        }
    };
    let amount = count(&Node::Str(digits.to_owned()))? as u64;
    amount
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| "too large".to_owned())
}

/// A timeout: a duration where `0` means "no limit" ([`NO_TIMEOUT`]).
pub(crate) fn timeout(node: &Node, dialect: Dialect) -> Result<Duration, String> {
    duration(node, dialect).map(|d| if d.is_zero() { NO_TIMEOUT } else { d })
}

/// One of `choices` (case-insensitive).
pub(crate) fn choice<T: Copy>(node: &Node, choices: &[(&str, T)]) -> Result<T, String> {
    let given = text(node)?;
    choices
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&given))
        .map(|(_, value)| *value)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
            format!("expected one of {}", names.join(", "))
        })
}

/// How to read a `k1=v1,k2=v2` list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ListSyntax {
    /// Percent-decode keys too (resource attributes), not only values.
    pub decode_keys: bool,
    /// Whether the entries may appear in error reasons (not for headers).
    pub show_entries: bool,
}

/// Parses `k1=v1,k2=v2`: keys and values trimmed, values (and, if asked, keys)
/// percent-decoded; blank entries skipped. Any bad entry fails the whole list.
pub(crate) fn list(text: &str, syntax: ListSyntax) -> Result<Vec<(String, String)>, String> {
    let mut entries = Vec::new();
    for (index, entry) in text.split(',').enumerate() {
        if entry.trim().is_empty() {
            continue;
        }
        let number = index + 1;
        let shown = |what: &str| {
            if syntax.show_entries {
                format!("entry {number} ({:?}) {what}", entry.trim())
            } else {
                format!("entry {number} {what}")
            }
        };
        let Some((key, value)) = entry.split_once('=') else {
            return Err(shown("is not key=value"));
        };
        let key = key.trim();
        let key = if syntax.decode_keys {
            percent_decode(key).map_err(|why| shown(&format!("has a bad key: {why}")))?
        } else {
            key.to_owned()
        };
        if key.is_empty() {
            return Err(shown("has an empty key"));
        }
        let value = percent_decode(value.trim()).map_err(|why| {
            if syntax.show_entries {
                shown(&format!("has a bad value: {why}"))
            } else {
                // The entry is hidden (a header's value is a secret), its
                // name is not.
                shown(&format!("(`{key}`) has a bad value: {why}"))
            }
        })?;
        entries.push((key, value));
    }
    Ok(entries)
}

/// RFC 3986 percent-decoding (`+` stays `+`); the result must be UTF-8.
pub(crate) fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or("incomplete percent-encoding")?;
            // Two hex digits exactly (`from_str_radix` would also take `+A`).
            let digit = |d: u8| (d as char).to_digit(16).ok_or("invalid percent-encoding");
            let byte = digit(hex[0])? * 16 + digit(hex[1])?;
            out.push(u8::try_from(byte).map_err(|_| "invalid percent-encoding")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-decodes to invalid UTF-8".to_owned())
}

fn kind(node: &Node) -> &'static str {
    match node {
        Node::Null => "null",
        Node::Bool(_) => "boolean",
        Node::Int(_) => "whole number",
        Node::Float(_) => "decimal number",
        Node::Str(_) => "string",
        Node::Seq(_) => "list",
        Node::Map(_) => "map",
    }
}

/// Merges `entries` into the map `existing` (a vector, to keep the order the
/// sources gave): a later value wins per key, an existing key keeps its
/// position, a new key goes last. Keys are the same when `same_key` makes the
/// same value of them (lower case for header names, the key itself for
/// attributes).
///
/// Cost: one pass over `existing` and one over `entries`, with a hash map of
/// the keys: linear, whatever the sizes (a configuration of ten thousand
/// headers is merged in ten thousand steps, not fifty million).
pub(crate) fn merge_entries<K, V, N>(
    existing: &mut Vec<(K, V)>,
    entries: impl IntoIterator<Item = (K, V)>,
    same_key: impl Fn(&K) -> N,
) where
    N: Hash + Eq,
{
    let mut at: HashMap<N, usize> = existing
        .iter()
        .enumerate()
        .map(|(index, (key, _))| (same_key(key), index))
        .collect();
    for (key, value) in entries {
        match at.entry(same_key(&key)) {
            Entry::Occupied(slot) => existing[*slot.get()].1 = value,
            Entry::Vacant(slot) => {
                slot.insert(existing.len());
                existing.push((key, value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_entries_is_linear_in_the_number_of_keys() {
        use std::cell::Cell;

        use super::super::counted_key::Counted;

        let compared = Cell::new(0);
        let n = 2000;
        let mut map: Vec<(Counted<'_>, u32)> = (0..n).map(|i| (Counted(i, &compared), i)).collect();
        // Half of the keys exist, half are new.
        let entries = (n / 2..n + n / 2).map(|i| (Counted(i, &compared), i + 1));
        merge_entries(&mut map, entries, |key| key.clone());
        assert_eq!(map.len(), (n + n / 2) as usize);
        assert_eq!(map[0].1, 0, "untouched");
        assert_eq!(map[(n / 2) as usize].1, n / 2 + 1, "replaced in place");
        assert_eq!(map[n as usize].0.0, n, "new keys go last, in order");
        // Before: a search of the whole map per entry, about n * n / 2
        // comparisons (2 million); a hash lookup compares about once per hit.
        assert!(
            compared.get() <= 4 * u64::from(n),
            "{} comparisons",
            compared.get()
        );
    }

    fn s(text: &str) -> Node {
        Node::Str(text.to_owned())
    }

    #[test]
    fn counts_accept_integers_and_digits_only() {
        assert_eq!(count(&Node::Int(7)), Ok(7));
        assert_eq!(count(&s(" 4096 ")), Ok(4096));
        assert_eq!(count(&s("-1")), Err("must not be negative".to_owned()));
        assert_eq!(
            count(&Node::Int(-1)),
            Err("must not be negative".to_owned())
        );
        assert_eq!(count(&s("1e3")), Err("not a whole number".to_owned()));
        assert_eq!(
            count(&s("99999999999999999999999")).unwrap_err(),
            format!("too large (at most {})", usize::MAX)
        );
        assert!(
            count(&Node::Float(1.5))
                .unwrap_err()
                .contains("decimal number")
        );
    }

    #[test]
    fn native_durations_take_units_and_bare_milliseconds() {
        let d = |t: &str| duration(&s(t), Dialect::Native);
        assert_eq!(d("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(d("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(d("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(d("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(d("1500"), Ok(Duration::from_millis(1500)));
        assert_eq!(d("3 S"), Ok(Duration::from_secs(3)));
        assert_eq!(
            duration(&Node::Int(40), Dialect::Native),
            Ok(Duration::from_millis(40))
        );
        assert!(d("5d").unwrap_err().contains("unknown unit \"d\""));
        assert!(d("1.5s").unwrap_err().contains("whole numbers only"));
        assert_eq!(d("-5s"), Err("must not be negative".to_owned()));
        assert!(d("soon").unwrap_err().contains("not a duration"));
        assert_eq!(d("99999999999999999h"), Err("too large".to_owned()));
    }

    #[test]
    fn otel_durations_are_whole_milliseconds_only() {
        let d = |t: &str| duration(&s(t), Dialect::Otel);
        assert_eq!(d("12000"), Ok(Duration::from_millis(12_000)));
        assert_eq!(d("5s"), Err("expected whole milliseconds".to_owned()));
        assert_eq!(d("1.5"), Err("expected whole milliseconds".to_owned()));
        assert_eq!(d("-1"), Err("must not be negative".to_owned()));
    }

    #[test]
    fn zero_timeout_means_no_limit() {
        assert_eq!(timeout(&s("0"), Dialect::Otel), Ok(NO_TIMEOUT));
        assert_eq!(
            timeout(&s("7"), Dialect::Otel),
            Ok(Duration::from_millis(7))
        );
    }

    #[test]
    fn booleans_follow_the_dialect() {
        assert_eq!(boolean(&s("TRUE"), Dialect::Otel), Ok(true));
        assert_eq!(boolean(&s("False"), Dialect::Otel), Ok(false));
        assert!(
            boolean(&s("1"), Dialect::Otel)
                .unwrap_err()
                .contains("only \"true\"")
        );
        assert_eq!(boolean(&Node::Bool(true), Dialect::Native), Ok(true));
        assert_eq!(
            boolean(&s("yes"), Dialect::Native),
            Err("expected true or false".to_owned())
        );
    }

    #[test]
    fn choices_are_case_insensitive_and_listed_on_error() {
        let choices = [("grpc", 1), ("http/protobuf", 2)];
        assert_eq!(choice(&s("GRPC"), &choices), Ok(1));
        assert_eq!(
            choice(&s("http"), &choices),
            Err("expected one of grpc, http/protobuf".to_owned())
        );
    }

    #[test]
    fn lists_trim_and_percent_decode() {
        let headers = ListSyntax {
            decode_keys: false,
            show_entries: false,
        };
        assert_eq!(
            list(" api-key = a%20b%2Cc , x=1,,", headers),
            Ok(vec![
                ("api-key".into(), "a b,c".into()),
                ("x".into(), "1".into())
            ])
        );
        assert_eq!(
            list("a=1,oops", headers),
            Err("entry 2 is not key=value".to_owned())
        );
        assert_eq!(
            list("a=%zz", headers),
            Err("entry 1 (`a`) has a bad value: invalid percent-encoding".to_owned()),
            "a header's name is shown, not its value"
        );
        assert_eq!(
            list("=v", headers),
            Err("entry 1 has an empty key".to_owned())
        );
        let attrs = ListSyntax {
            decode_keys: true,
            show_entries: true,
        };
        assert_eq!(
            list("k%3D1=v%3D2", attrs),
            Ok(vec![("k=1".into(), "v=2".into())])
        );
        assert_eq!(
            list("a=1,b", attrs),
            Err("entry 2 (\"b\") is not key=value".to_owned())
        );
    }

    #[test]
    fn percent_decoding_takes_exactly_two_hex_digits() {
        assert_eq!(percent_decode("a%2Cb%2c"), Ok("a,b,".to_owned()));
        for bad in ["%+A", "%-1", "% A", "%zz", "%é"] {
            assert!(percent_decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn percent_decoding_rejects_truncation_and_bad_utf8() {
        assert_eq!(
            percent_decode("100%"),
            Err("incomplete percent-encoding".to_owned())
        );
        assert_eq!(
            percent_decode("%ff"),
            Err("percent-decodes to invalid UTF-8".to_owned())
        );
        assert_eq!(percent_decode("caf%C3%A9+x"), Ok("café+x".to_owned()));
    }
}
