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

/// Hash of the kept attributes, in the order given.
#[inline]
pub(crate) fn hash_kept(attributes: &[KeyValue], filter: &KeyFilter) -> u64 {
    let mut hasher = FxHasher::default();
    for attribute in kept(attributes, filter) {
        hash_key_value(&mut hasher, attribute);
    }
    hasher.finish()
}

/// Hash of a stored attribute list (every entry kept).
pub(crate) fn hash_all(attributes: &[KeyValue]) -> u64 {
    hash_kept(attributes, &KeyFilter::All)
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
    a.key.as_str() == b.key.as_str() && same_value(&a.value, &b.value)
}

fn same_value(a: &AnyValue, b: &AnyValue) -> bool {
    match (a, b) {
        (AnyValue::String(a), AnyValue::String(b)) => a.as_str() == b.as_str(),
        (AnyValue::Bool(a), AnyValue::Bool(b)) => a == b,
        (AnyValue::Int(a), AnyValue::Int(b)) => a == b,
        (AnyValue::Double(a), AnyValue::Double(b)) => a.to_bits() == b.to_bits(),
        (AnyValue::Bytes(a), AnyValue::Bytes(b)) => a == b,
        (AnyValue::Array(a), AnyValue::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(a, b)| same_value(a, b))
        }
        (AnyValue::KvList(a), AnyValue::KvList(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(a, b)| same_key_value(a, b))
        }
        _ => false,
    }
}

#[inline]
fn hash_key_value(hasher: &mut FxHasher, attribute: &KeyValue) {
    hasher.write(attribute.key.as_bytes());
    hash_value(hasher, &attribute.value);
}

fn hash_value(hasher: &mut FxHasher, value: &AnyValue) {
    match value {
        AnyValue::String(text) => {
            hasher.write_u8(1);
            hasher.write(text.as_bytes());
        }
        AnyValue::Bool(flag) => hasher.write_u8(2 + u8::from(*flag)),
        AnyValue::Int(number) => {
            hasher.write_u8(4);
            hasher.write_u64(*number as u64);
        }
        AnyValue::Double(number) => {
            hasher.write_u8(5);
            hasher.write_u64(number.to_bits());
        }
        AnyValue::Bytes(bytes) => {
            hasher.write_u8(6);
            hasher.write(bytes);
        }
        AnyValue::Array(items) => {
            hasher.write_u8(7);
            hasher.write_usize(items.len());
            for item in items.iter() {
                hash_value(hasher, item);
            }
        }
        AnyValue::KvList(entries) => {
            hasher.write_u8(8);
            hasher.write_usize(entries.len());
            for entry in entries.iter() {
                hash_key_value(hasher, entry);
            }
        }
    }
}

/// The multiply-rotate hash of rustc (`FxHasher`), with a final mix so the
/// low bits (which pick a table slot) depend on every input byte. Not
/// resistant to chosen collisions: attribute sets come from the program's
/// own call sites, and the cardinality limit bounds any table.
#[derive(Default)]
struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
        // The length ends the field, so "ab"+"c" and "a"+"bc" differ.
        self.add(bytes.len() as u64);
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    #[inline]
    fn write_u64(&mut self, word: u64) {
        self.add(word);
    }

    #[inline]
    fn write_usize(&mut self, word: usize) {
        self.add(word as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Fold the high bits (well mixed by the multiply) into the low ones.
        self.hash ^ (self.hash >> 29) ^ (self.hash >> 47)
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
}
