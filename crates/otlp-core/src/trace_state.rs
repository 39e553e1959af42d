//! [`TraceState`]: the W3C `tracestate` list of vendor entries.

use std::fmt;
use std::sync::Arc;

use crate::error::{TraceStateError, shown};

/// Maximum number of list members the W3C specification allows.
pub const MAX_TRACE_STATE_MEMBERS: usize = 32;

/// The W3C `tracestate` header: an ordered list of `key=value` vendor entries.
///
/// Cost model: stored as its validated, canonical header text behind an
/// `Arc<str>` (or nothing when empty), so cloning is one reference-count
/// increment and encoding to OTLP (which carries the header text) copies nothing.
/// Mutations build a new list.
///
/// ```
/// use otlp_core::TraceState;
///
/// let state = TraceState::parse("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE")?;
/// assert_eq!(state.get("congo"), Some("t61rcWkgMzE"));
/// let state = state.insert("acme", "1")?;
/// assert_eq!(state.header(), "acme=1,rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
/// # Ok::<(), otlp_core::TraceStateError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct TraceState(Option<Arc<str>>);

impl TraceState {
    /// The empty trace state.
    pub const EMPTY: TraceState = TraceState(None);

    /// Parses a `tracestate` header value strictly, per W3C Trace Context level 2
    /// (whose key grammar accepts every level-1 key and a few more).
    ///
    /// Empty list members and optional whitespace around members are accepted
    /// and dropped from the canonical form. More than 32 members or a
    /// malformed key or value reject the whole header. A key given more than
    /// once keeps its first (left-most, the latest) member and the others are
    /// dropped: W3C lets a receiver "discard duplicate keys", and its test
    /// suite (`test_tracestate_duplicated_keys`) wants the rest of the header
    /// kept, not every vendor's member lost for one sender's mistake
    /// (opentelemetry-rust keeps the duplicates). Each member received counts
    /// towards the 32, duplicates too. An error shows at most 64 characters
    /// of the member, key or value it rejects, so a hostile header of any
    /// size costs an error of a few hundred bytes.
    ///
    /// ```
    /// use otlp_core::TraceState;
    ///
    /// let state = TraceState::parse("congo=2,rojo=1,congo=1")?;
    /// assert_eq!(state.header(), "congo=2,rojo=1");
    /// # Ok::<(), otlp_core::TraceStateError>(())
    /// ```
    pub fn parse(header: &str) -> Result<Self, TraceStateError> {
        let mut canonical = String::with_capacity(header.len());
        let mut count = 0usize;
        for member in header.split(',') {
            let member = member.trim_matches([' ', '\t']);
            if member.is_empty() {
                continue;
            }
            let (key, value) = split_member(member)?;
            count += 1;
            if count > MAX_TRACE_STATE_MEMBERS {
                return Err(TraceStateError::TooManyMembers {
                    max: MAX_TRACE_STATE_MEMBERS,
                });
            }
            if entries_of(&canonical).any(|(existing, _)| existing == key) {
                continue;
            }
            if !canonical.is_empty() {
                canonical.push(',');
            }
            canonical.push_str(key);
            canonical.push('=');
            canonical.push_str(value);
        }
        Ok(TraceState::from_canonical(canonical))
    }

    /// Parses leniently: keeps the valid members (up to 32, first key wins)
    /// and skips the malformed ones, instead of rejecting the whole header.
    /// For states from sources with looser rules than W3C's (an SDK's API,
    /// say); headers from the wire should go through [`parse`](Self::parse).
    ///
    /// ```
    /// use otlp_core::TraceState;
    ///
    /// let state = TraceState::parse_lenient("good=1,BAD=2,café=3,also=ok");
    /// assert_eq!(state.header(), "good=1,also=ok");
    /// ```
    pub fn parse_lenient(header: &str) -> Self {
        let mut canonical = String::with_capacity(header.len());
        let mut count = 0usize;
        for member in header.split(',') {
            let member = member.trim_matches([' ', '\t']);
            let Ok((key, value)) = split_member(member) else {
                continue;
            };
            if count == MAX_TRACE_STATE_MEMBERS
                || entries_of(&canonical).any(|(existing, _)| existing == key)
            {
                continue;
            }
            count += 1;
            if !canonical.is_empty() {
                canonical.push(',');
            }
            canonical.push_str(key);
            canonical.push('=');
            canonical.push_str(value);
        }
        TraceState::from_canonical(canonical)
    }

    fn from_canonical(canonical: String) -> Self {
        if canonical.is_empty() {
            TraceState(None)
        } else {
            TraceState(Some(Arc::from(canonical)))
        }
    }

    /// The canonical header text (`""` when empty).
    pub fn header(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }

    /// Whether the list has no members.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The members in order, as `(key, value)` pairs.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        entries_of(self.header())
    }

    /// The value for `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries()
            .find(|(existing, _)| *existing == key)
            .map(|(_, value)| value)
    }

    /// A new list with `key=value` first and any older entry for `key` removed,
    /// as the specification asks of a vendor updating its entry.
    ///
    /// When the list already holds 32 members and `key` is not one of them,
    /// the right-most member is removed to make room, as W3C Trace Context
    /// (section 3.3.1.1) asks: the new entry is never refused for the count.
    /// Errors only for a malformed key or value.
    ///
    /// ```
    /// use otlp_core::{TraceState, MAX_TRACE_STATE_MEMBERS};
    ///
    /// let full: Vec<String> = (0..MAX_TRACE_STATE_MEMBERS).map(|i| format!("k{i}=v")).collect();
    /// let state = TraceState::parse(&full.join(","))?.insert("acme", "1")?;
    /// assert_eq!(state.entries().count(), MAX_TRACE_STATE_MEMBERS);
    /// assert_eq!(state.entries().next(), Some(("acme", "1")));
    /// assert_eq!(state.get("k31"), None);
    /// # Ok::<(), otlp_core::TraceStateError>(())
    /// ```
    pub fn insert(&self, key: &str, value: &str) -> Result<Self, TraceStateError> {
        validate_key(key)?;
        validate_value(key, value)?;
        let others = self
            .entries()
            .filter(|(existing, _)| *existing != key)
            .take(MAX_TRACE_STATE_MEMBERS - 1);
        let mut canonical = format!("{key}={value}");
        for (other_key, other_value) in others {
            canonical.push(',');
            canonical.push_str(other_key);
            canonical.push('=');
            canonical.push_str(other_value);
        }
        Ok(TraceState::from_canonical(canonical))
    }

    /// A new list without `key`.
    pub fn remove(&self, key: &str) -> Self {
        let mut canonical = String::with_capacity(self.header().len());
        for (other_key, other_value) in self.entries().filter(|(existing, _)| *existing != key) {
            if !canonical.is_empty() {
                canonical.push(',');
            }
            canonical.push_str(other_key);
            canonical.push('=');
            canonical.push_str(other_value);
        }
        TraceState::from_canonical(canonical)
    }
}

fn entries_of(canonical: &str) -> impl Iterator<Item = (&str, &str)> + Clone {
    canonical
        .split(',')
        .filter(|member| !member.is_empty())
        .filter_map(|member| member.split_once('='))
}

fn split_member(member: &str) -> Result<(&str, &str), TraceStateError> {
    let Some((key, value)) = member.split_once('=') else {
        return Err(TraceStateError::MissingEquals {
            member: shown(member),
        });
    };
    validate_key(key)?;
    validate_value(key, value)?;
    Ok((key, value))
}

/// `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`.
fn is_key_char(byte: u8) -> bool {
    matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@')
}

/// `key = ( lcalpha / DIGIT ) 0*255( keychar )`: W3C Trace Context level 2
/// (section 3.3.1.3.1), a superset of level 1's `simple-key /
/// multi-tenant-key`, whose `tenant@system` form it keeps without level 1's
/// limits on each side. Level 2's grammar is taken because systems send keys
/// only it allows (a digit first without a tenant, an `@` elsewhere), and a
/// key refused loses the whole header, every other vendor's member with it.
fn validate_key(key: &str) -> Result<(), TraceStateError> {
    let bytes = key.as_bytes();
    let valid = (1..=256).contains(&bytes.len())
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes.iter().all(|&b| is_key_char(b));
    if valid {
        Ok(())
    } else {
        Err(TraceStateError::InvalidKey { key: shown(key) })
    }
}

/// `value = 0*255(chr) nblk-chr` with `chr = %x20 / nblk-chr` and
/// `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E`.
fn validate_value(key: &str, value: &str) -> Result<(), TraceStateError> {
    let bytes = value.as_bytes();
    let is_nblk = |b: u8| matches!(b, 0x21..=0x2b | 0x2d..=0x3c | 0x3e..=0x7e);
    let valid = (1..=256).contains(&bytes.len())
        && bytes.iter().all(|&b| b == 0x20 || is_nblk(b))
        && bytes.last().is_some_and(|&b| is_nblk(b));
    if valid {
        Ok(())
    } else {
        Err(TraceStateError::InvalidValue {
            key: key.to_owned(),
            value: shown(value),
        })
    }
}

impl fmt::Display for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header())
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceState({:?})", self.header())
    }
}

impl std::str::FromStr for TraceState {
    type Err = TraceStateError;

    fn from_str(header: &str) -> Result<Self, Self::Err> {
        TraceState::parse(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_members_and_whitespace_are_dropped_from_the_canonical_form() {
        let state = TraceState::parse(" a=1 ,, \tb=2\t,").unwrap();
        assert_eq!(state.header(), "a=1,b=2");
        assert!(TraceState::parse("").unwrap().is_empty());
        assert!(TraceState::parse(" , ").unwrap().is_empty());
    }

    #[test]
    fn multi_tenant_keys_are_accepted() {
        let state = TraceState::parse("fw529a3039@dt=dXNlcg,1tenant@vendor=x").unwrap();
        assert_eq!(state.get("1tenant@vendor"), Some("x"));
    }

    #[test]
    fn keys_of_w3c_level_2_are_accepted() {
        // Level 2: `( lcalpha / DIGIT ) 0*255( keychar )`, `@` a key
        // character like any other; level 1 refused all three.
        let state = TraceState::parse("1vendor=a,tenant@averylongsystemid=b,a@b@c=c,k=d").unwrap();
        assert_eq!(state.get("1vendor"), Some("a"));
        assert_eq!(state.get("tenant@averylongsystemid"), Some("b"));
        assert_eq!(state.get("a@b@c"), Some("c"));
        assert_eq!(state.get("k"), Some("d"));
        let longest = format!("9{}", "z".repeat(255));
        assert!(TraceState::parse(&format!("{longest}=v")).is_ok());
        let err = TraceState::parse(&format!("{longest}z=v")).unwrap_err();
        assert!(matches!(err, TraceStateError::InvalidKey { .. }), "{err}");
    }

    #[test]
    fn malformed_members_are_rejected_with_the_offending_text() {
        let cases = [
            ("UPPER=1", "UPPER"),
            ("_abc=1", "_abc"),
            ("@vendor=1", "@vendor"),
            ("a@B=1", "a@B"),
            ("a.b=1", "a.b"),
            ("noequals", "noequals"),
            ("a=", "a"),
            ("a=x,y", "y"),
            ("a=caf\u{e9}", "a"),
            ("a=has=eq", "a"),
        ];
        for (header, culprit) in cases {
            let err = TraceState::parse(header).unwrap_err();
            assert!(err.to_string().contains(culprit), "{header}: {err}");
        }
    }

    #[test]
    fn an_error_shows_at_most_64_characters_of_what_it_rejects() {
        // A hostile `tracestate` of 1 MiB cost a 1 MiB copy in its error,
        // which `SpanContext::from_headers` then threw away.
        let huge = 1 << 20;
        let cut = |text: &str| format!("{}…", &text[..64]);
        let upper = "K".repeat(huge);
        let lower = "k".repeat(huge);
        let value = "v".repeat(huge);
        let accents = "é".repeat(huge);
        let cases = [
            (
                format!("{upper}=1"),
                TraceStateError::InvalidKey { key: cut(&upper) },
            ),
            (
                format!("{lower}=1"),
                TraceStateError::InvalidKey { key: cut(&lower) },
            ),
            (
                format!("{accents}=1"),
                TraceStateError::InvalidKey {
                    key: format!("{}…", "é".repeat(64)),
                },
            ),
            (
                format!("a=1,b={value}"),
                TraceStateError::InvalidValue {
                    key: "b".to_owned(),
                    value: cut(&value),
                },
            ),
            (
                format!("a=1,{lower}"),
                TraceStateError::MissingEquals {
                    member: cut(&lower),
                },
            ),
        ];
        for (header, expected) in cases {
            let err = TraceState::parse(&header).unwrap_err();
            let shown = err.to_string().len();
            assert!(shown < 600, "{shown} bytes of message for {expected}");
            assert_eq!(err, expected);
        }
        let err = TraceState::EMPTY.insert(&upper, "1").unwrap_err();
        assert_eq!(err, TraceStateError::InvalidKey { key: cut(&upper) });
        let err = TraceState::EMPTY.insert("a", &value).unwrap_err();
        assert_eq!(
            err,
            TraceStateError::InvalidValue {
                key: "a".to_owned(),
                value: cut(&value)
            }
        );
    }

    #[test]
    fn an_error_names_a_short_key_or_value_whole() {
        let key = "K".repeat(64);
        let value = format!("{}=", "v".repeat(63));
        let member = "m".repeat(64);
        let cases = [
            (
                format!("{key}=1"),
                TraceStateError::InvalidKey { key: key.clone() },
            ),
            (
                format!("a={value}"),
                TraceStateError::InvalidValue {
                    key: "a".to_owned(),
                    value: value.clone(),
                },
            ),
            (
                member.clone(),
                TraceStateError::MissingEquals {
                    member: member.clone(),
                },
            ),
            (
                "Bad=1".to_owned(),
                TraceStateError::InvalidKey {
                    key: "Bad".to_owned(),
                },
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(TraceState::parse(&header), Err(expected), "{header}");
        }
        // One character more is cut, and says so.
        let err = TraceState::parse(&format!("{key}K=1")).unwrap_err();
        assert_eq!(
            err,
            TraceStateError::InvalidKey {
                key: format!("{key}…")
            }
        );
    }

    #[test]
    fn values_may_contain_inner_spaces() {
        let state = TraceState::parse("a=x y").unwrap();
        assert_eq!(state.get("a"), Some("x y"));
    }

    #[test]
    fn at_most_32_members() {
        let header: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        assert!(TraceState::parse(&header.join(",")).is_ok());
        let header: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert_eq!(
            TraceState::parse(&header.join(",")).unwrap_err(),
            TraceStateError::TooManyMembers { max: 32 }
        );
    }

    #[test]
    fn a_duplicated_key_keeps_its_first_member_and_the_rest_of_the_header() {
        // W3C Trace Context: a receiver "MAY also discard duplicate keys",
        // and its test suite (test_tracestate_duplicated_keys) expects the
        // header inherited, the duplicates kept or one of them dropped —
        // never the whole header, every other vendor's member with it.
        let state = TraceState::parse("a=1,b=2,a=3").unwrap();
        assert_eq!(state.header(), "a=1,b=2");
        assert_eq!(state.get("a"), Some("1"), "the left-most is the latest");
        assert_eq!(TraceState::parse("foo=1,foo=1").unwrap().header(), "foo=1");
        // A duplicate still counts as a member of the list received (at
        // most 32), and a malformed one still rejects the header.
        let mut members: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        members.push("k0=again".to_owned());
        assert_eq!(
            TraceState::parse(&members.join(",")),
            Err(TraceStateError::TooManyMembers { max: 32 })
        );
        assert!(matches!(
            TraceState::parse("a=1,a="),
            Err(TraceStateError::InvalidValue { .. })
        ));
    }

    #[test]
    fn insert_moves_the_key_to_the_front_and_remove_drops_it() {
        let state = TraceState::parse("a=1,b=2").unwrap();
        let state = state.insert("b", "3").unwrap();
        assert_eq!(state.header(), "b=3,a=1");
        assert_eq!(state.remove("b").header(), "a=1");
        assert!(state.remove("a").remove("b").is_empty());
        assert!(state.insert("Bad", "1").is_err());
    }

    #[test]
    fn insert_into_a_full_list_drops_the_right_most_member() {
        let members: Vec<String> = (0..MAX_TRACE_STATE_MEMBERS)
            .map(|i| format!("k{i}=v{i}"))
            .collect();
        let full = TraceState::parse(&members.join(",")).unwrap();

        let added = full.insert("acme", "1").unwrap();
        let mut expected = vec!["acme=1".to_owned()];
        expected.extend_from_slice(&members[..MAX_TRACE_STATE_MEMBERS - 1]);
        assert_eq!(added.header(), expected.join(","));

        // Updating a key already in the full list drops nothing.
        let updated = full.insert("k31", "new").unwrap();
        let mut expected = vec!["k31=new".to_owned()];
        expected.extend_from_slice(&members[..MAX_TRACE_STATE_MEMBERS - 1]);
        assert_eq!(updated.header(), expected.join(","));
        let updated = full.insert("k5", "new").unwrap();
        assert_eq!(updated.entries().count(), MAX_TRACE_STATE_MEMBERS);
        assert_eq!(updated.entries().next(), Some(("k5", "new")));
        assert_eq!(updated.get("k31"), Some("v31"));
    }
}
