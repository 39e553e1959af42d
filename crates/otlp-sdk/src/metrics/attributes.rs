//! Attribute sets: how a measurement's attributes name its series.
//!
//! OTLP treats a series' attributes as a set: `{a=1, b=2}` and `{b=2, a=1}`
//! are one series, and of a key given twice the last value counts. The
//! recording path avoids building that set: it hashes and compares the
//! attributes as given (after the view's key filter), which finds the series
//! whenever a call site passes its attributes in the same order, as call
//! sites do. Only a miss builds the canonical set ([`canonical`]: sorted by
//! key, one value per key), which is what a series stores and exports.
//!
//! Values compare by content, floats by their bits (so a `NaN` attribute
//! still names one series, not a new one per measurement).

use std::hash::Hasher;
use std::sync::Arc;

use otlp_core::{AnyValue, KeyValue, Str};

// The hash is shared with the export loop's group table, which names
// resources and scopes by their attributes the same way.
pub(crate) use crate::attribute_hash::hash_all;
use crate::attribute_hash::hash_in_order;

/// Which attribute keys a stream keeps (a view's attribute filter).
#[derive(Clone, Debug, Default)]
pub(crate) enum KeyFilter {
    /// Every key.
    #[default]
    All,
    /// Only these keys.
    Only(Arc<[Str]>),
}

impl KeyFilter {
    /// Whether the attribute with this key is kept.
    #[inline]
    pub(crate) fn keeps(&self, key: &str) -> bool {
        match self {
            KeyFilter::All => true,
            KeyFilter::Only(keys) => keys.iter().any(|kept| kept.as_str() == key),
        }
    }

    /// Whether every key is kept.
    #[inline]
    pub(crate) fn is_all(&self) -> bool {
        matches!(self, KeyFilter::All)
    }
}

/// The attributes the filter keeps, in the order given.
#[inline]
pub(crate) fn kept<'a>(
    attributes: &'a [KeyValue],
    filter: &'a KeyFilter,
) -> impl Iterator<Item = &'a KeyValue> + 'a {
    attributes
        .iter()
        .filter(move |attribute| filter.keeps(&attribute.key))
}

/// Hash of the kept attributes, in the order given (the hash of
/// [`attribute_hash`](crate::attribute_hash): equal to [`hash_all`] of the
/// kept attributes).
#[inline]
pub(crate) fn hash_kept(attributes: &[KeyValue], filter: &KeyFilter) -> u64 {
    hash_in_order(kept(attributes, filter))
}

/// Whether `stored` equals the kept attributes of `given`, in order.
#[inline]
pub(crate) fn same_kept(stored: &[KeyValue], given: &[KeyValue], filter: &KeyFilter) -> bool {
    if filter.is_all() {
        return stored.len() == given.len()
            && stored.iter().zip(given).all(|(a, b)| same_key_value(a, b));
    }
    let mut given = kept(given, filter);
    for attribute in stored {
        match given.next() {
            Some(other) if same_key_value(attribute, other) => {}
            _ => return false,
        }
    }
    given.next().is_none()
}

/// The canonical set of the kept attributes: sorted by key, and of a key
/// given more than once only the last value.
pub(crate) fn canonical(attributes: &[KeyValue], filter: &KeyFilter) -> Vec<KeyValue> {
    let mut set: Vec<KeyValue> = kept(attributes, filter).cloned().collect();
    // A stable sort keeps repeats of a key in the order given, so the last
    // of each run is the last value given for it.
    set.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    let mut deduped: Vec<KeyValue> = Vec::with_capacity(set.len());
    for attribute in set {
        match deduped.last_mut() {
            Some(last) if last.key == attribute.key => *last = attribute,
            _ => deduped.push(attribute),
        }
    }
    deduped
}

/// A canonical attribute set as a map key (hashed and compared as above).
#[derive(Clone, Debug)]
pub(crate) struct AttributeSet(pub(crate) Vec<KeyValue>);

impl PartialEq for AttributeSet {
    fn eq(&self, other: &Self) -> bool {
        same_kept(&self.0, &other.0, &KeyFilter::All)
    }
}

impl Eq for AttributeSet {}

impl std::hash::Hash for AttributeSet {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(hash_all(&self.0));
    }
}

/// Whether two attributes are the same (floats by bits).
#[inline]
pub(crate) fn same_key_value(a: &KeyValue, b: &KeyValue) -> bool {
    same_bytes(a.key.as_bytes(), b.key.as_bytes()) && same_value(&a.value, &b.value)
}

#[inline]
fn same_value(a: &AnyValue, b: &AnyValue) -> bool {
    match (a, b) {
        (AnyValue::String(a), AnyValue::String(b)) => same_bytes(a.as_bytes(), b.as_bytes()),
        (AnyValue::Int(a), AnyValue::Int(b)) => a == b,
        (AnyValue::Bool(a), AnyValue::Bool(b)) => a == b,
        _ => same_nested_value(a, b),
    }
}

/// [`same_value`] for the rarer kinds, nested ones included (not inlined:
/// it recurses).
fn same_nested_value(a: &AnyValue, b: &AnyValue) -> bool {
    match (a, b) {
        (AnyValue::String(a), AnyValue::String(b)) => same_bytes(a.as_bytes(), b.as_bytes()),
        (AnyValue::Bool(a), AnyValue::Bool(b)) => a == b,
        (AnyValue::Int(a), AnyValue::Int(b)) => a == b,
        (AnyValue::Double(a), AnyValue::Double(b)) => a.to_bits() == b.to_bits(),
        (AnyValue::Bytes(a), AnyValue::Bytes(b)) => a == b,
        (AnyValue::Array(a), AnyValue::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(a, b)| same_value(a, b))
        }
        // As the encoders write them, each key once.
        (AnyValue::KvList(_), AnyValue::KvList(_)) => a.wire_eq(b),
        _ => false,
    }
}

/// Whether two byte strings are equal. The same memory (a `&'static str`
/// key or value cloned from the call site's literal into the series) is
/// equal at once; short strings compare by overlapping words, inline, where
/// a call to `memcmp` costs more than the comparison.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    if std::ptr::eq(a.as_ptr(), b.as_ptr()) {
        return true;
    }
    let word = |bytes: &[u8], at: usize| {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(eight)
    };
    let half = |bytes: &[u8], at: usize| {
        let mut four = [0u8; 4];
        four.copy_from_slice(&bytes[at..at + 4]);
        u32::from_le_bytes(four)
    };
    match len {
        0 => true,
        1..=3 => a[0] == b[0] && a[len / 2] == b[len / 2] && a[len - 1] == b[len - 1],
        4..=7 => half(a, 0) == half(b, 0) && half(a, len - 4) == half(b, len - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, len - 8) == word(b, len - 8),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_set_is_sorted_and_keeps_the_last_value_of_a_repeated_key() {
        let given = [
            KeyValue::new("b", 1),
            KeyValue::new("a", "x"),
            KeyValue::new("b", 2),
        ];
        let set = canonical(&given, &KeyFilter::All);
        assert_eq!(set, vec![KeyValue::new("a", "x"), KeyValue::new("b", 2)]);
    }

    #[test]
    fn a_key_filter_keeps_only_its_keys_in_hash_equality_and_canonical_form() {
        let filter = KeyFilter::Only(Arc::from([Str::from("route")]));
        let given = [KeyValue::new("user", 7), KeyValue::new("route", "/a")];
        let stored = [KeyValue::new("route", "/a")];
        assert!(same_kept(&stored, &given, &filter));
        assert_eq!(hash_kept(&given, &filter), hash_all(&stored));
        assert_eq!(canonical(&given, &filter), stored.to_vec());
        assert!(!same_kept(
            &stored,
            &[KeyValue::new("route", "/b")],
            &filter
        ));
    }

    #[test]
    fn nan_attributes_name_one_series_and_types_are_told_apart() {
        let nan = [KeyValue::new("v", f64::NAN)];
        assert!(same_kept(&nan, &nan, &KeyFilter::All));
        let int = [KeyValue::new("v", 1)];
        let text = [KeyValue::new("v", "1")];
        assert!(!same_kept(&int, &text, &KeyFilter::All));
        assert_ne!(hash_all(&int), hash_all(&text));
    }

    #[test]
    fn byte_strings_compare_equal_only_when_equal_at_every_length() {
        for len in 0..40 {
            let text: Vec<u8> = (0..len as u8).map(|i| b'a' + i % 26).collect();
            let copy = text.clone();
            assert!(same_bytes(&text, &copy), "{len}");
            for at in 0..len {
                let mut other = text.clone();
                other[at] ^= 1;
                assert!(!same_bytes(&text, &other), "{len} at {at}");
            }
            assert!(!same_bytes(&text, &text[..len.saturating_sub(1)]) || len == 0);
        }
    }
}
