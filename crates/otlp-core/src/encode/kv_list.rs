//! A key-value list value (`AnyValue::KvList`) as the encoders write it: each
//! key once. OTLP's `common.proto` says of a `KeyValueList` that "the keys
//! MUST be unique", and a list built by a program may repeat one; a
//! repeated key keeps its last value, in the place where the key first
//! appears, as otlp-sdk keeps a span's or a log record's attributes. The
//! protobuf and JSON encoders both write a list through [`unique_entries`]
//! when one of its keys repeats ([`RepeatFinder`] tells), so their lengths
//! and bytes agree; [`KeyValue::each_key_once`] gives the same entries to
//! everyone else (`AnyValue::wire_eq`, otlp-sdk's attribute hash), so that
//! lists which encode alike also compare and hash alike.
//!
//! Cost: a list without a repeated key (nearly every one) is written as
//! given; its keys go through a filter (up to [`FILTERED_ENTRIES_MAX`]
//! entries, no allocation) or a hash set (longer lists) in the protobuf
//! encoder's length pass, and in a pass of their own before OTLP/JSON. Only
//! a list with a repeated key pays for a plan of which value goes where.

use std::collections::{HashMap, HashSet};

use crate::{AnyValue, KeyValue};

/// Lists of up to this many entries are checked for a repeated key through
/// a 64-bit filter of their keys ([`key_bit`]): a key is compared with the
/// ones before it only when its bit was taken already. No allocation, and
/// one pass over a list without a repeat but for a few collisions.
const FILTERED_ENTRIES_MAX: usize = 64;

/// The entries of a key-value list to write, in order: each distinct key
/// once, with the last value given for it, in its first place.
pub(crate) fn unique_entries(entries: &[KeyValue]) -> UniqueEntries<'_> {
    if !has_repeated_key(entries) {
        return UniqueEntries::AsGiven(entries.iter());
    }
    UniqueEntries::Planned {
        entries,
        plan: first_and_last_places(entries).into_iter(),
    }
}

/// Keeps each key of `entries` once, in place, as [`unique_entries`] writes
/// the list: the last value given for it, in the place where it first
/// appears. For attributes kept rather than written (a resource's). Cost: as
/// [`unique_entries`]: one pass without a repeated key, else a hash map of
/// the keys and a plan, then one pass of swaps.
pub(crate) fn keep_each_key_once(entries: &mut Vec<KeyValue>) {
    if !has_repeated_key(entries) {
        return;
    }
    let places = first_and_last_places(entries);
    let kept = places.len();
    // Places are in increasing order of first place, each at or after its
    // slot, and every entry at or after a first place is still where it was
    // given (swaps only move entries below it): the last value is taken
    // into the first place, then the entry into its slot.
    for (slot, (first, last)) in places.into_iter().enumerate() {
        if last != first {
            let (head, from_last) = entries.split_at_mut(last);
            std::mem::swap(&mut head[first].value, &mut from_last[0].value);
        }
        entries.swap(slot, first);
    }
    entries.truncate(kept);
}

/// Each distinct key's first place and the place of its last value, in the
/// order of the first places.
fn first_and_last_places(entries: &[KeyValue]) -> Vec<(usize, usize)> {
    let mut places: HashMap<&str, (usize, usize)> = HashMap::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        places
            .entry(&*entry.key)
            .and_modify(|(_, last)| *last = index)
            .or_insert((index, index));
    }
    entries
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| match places.get(&*entry.key) {
            Some(&(first, last)) if first == index => Some((first, last)),
            _ => None,
        })
        .collect()
}

fn has_repeated_key(entries: &[KeyValue]) -> bool {
    let mut finder = RepeatFinder::new(entries);
    entries
        .iter()
        .enumerate()
        .any(|(index, entry)| finder.repeats(index, &entry.key))
}

/// Tells, walking a list's keys in order, whether the key at each index
/// repeats an earlier one: through a filter of the keys seen ([`key_bit`],
/// comparing only on a collision) up to [`FILTERED_ENTRIES_MAX`] entries,
/// through a hash set past that. The protobuf encoder asks it while it adds
/// up a list's length, so that a list without a repeat costs no pass of its
/// own.
pub(super) struct RepeatFinder<'a> {
    entries: &'a [KeyValue],
    seen: u64,
    /// The keys seen, for a long list.
    long: Option<HashSet<&'a str>>,
}

impl<'a> RepeatFinder<'a> {
    pub(super) fn new(entries: &'a [KeyValue]) -> Self {
        let long =
            (entries.len() > FILTERED_ENTRIES_MAX).then(|| HashSet::with_capacity(entries.len()));
        RepeatFinder {
            entries,
            seen: 0,
            long,
        }
    }

    /// Whether `key`, the key at `index`, repeats one before it; ask for
    /// each index in turn, from 0.
    #[inline]
    pub(super) fn repeats(&mut self, index: usize, key: &'a str) -> bool {
        if let Some(seen) = &mut self.long {
            return !seen.insert(key);
        }
        let bit = key_bit(key);
        let maybe_seen = self.seen & bit != 0;
        self.seen |= bit;
        maybe_seen
            && self.entries[..index]
                .iter()
                .any(|earlier| *earlier.key == *key)
    }
}

/// The bit of `key` in a 64-bit filter: from its length and its first and
/// last bytes (keys of one list most often differ in one of them: `a0`..`a7`,
/// `http.request.method` and `http.route`).
#[inline]
fn key_bit(key: &str) -> u64 {
    let (first, last) = match key.as_bytes() {
        [] => (0, 0),
        [only] => (*only, *only),
        [first, .., last] => (*first, *last),
    };
    let mixed = (key.len() as u64 | u64::from(first) << 32 | u64::from(last) << 40)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    1 << (mixed >> 58)
}

/// The iterator of [`unique_entries`]: `(key, value)` pairs.
pub(crate) enum UniqueEntries<'a> {
    /// No key repeats: every entry, in order.
    AsGiven(std::slice::Iter<'a, KeyValue>),
    /// A key repeats: each key's first place and the index of its last value.
    Planned {
        entries: &'a [KeyValue],
        plan: std::vec::IntoIter<(usize, usize)>,
    },
}

impl<'a> Iterator for UniqueEntries<'a> {
    type Item = (&'a str, &'a AnyValue);

    fn next(&mut self) -> Option<Self::Item> {
        let entry = match self {
            UniqueEntries::AsGiven(entries) => entries.next()?,
            UniqueEntries::Planned { entries, plan } => &entries[plan.next()?.1],
        };
        Some((&entry.key, &entry.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(entries: &[KeyValue]) -> Vec<(String, AnyValue)> {
        unique_entries(entries)
            .map(|(key, value)| (key.to_owned(), value.clone()))
            .collect()
    }

    fn pairs(entries: &[(&str, i64)]) -> Vec<(String, AnyValue)> {
        entries
            .iter()
            .map(|&(key, value)| (key.to_owned(), AnyValue::Int(value)))
            .collect()
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_in_its_first_place() {
        let list = [
            KeyValue::new("a", 1),
            KeyValue::new("b", 2),
            KeyValue::new("a", 3),
            KeyValue::new("c", 4),
            KeyValue::new("b", 5),
            KeyValue::new("a", 6),
        ];
        assert_eq!(written(&list), pairs(&[("a", 6), ("b", 5), ("c", 4)]));
    }

    #[test]
    fn lists_without_a_repeated_key_are_written_as_given() {
        let list = [
            KeyValue::new("b", 1),
            KeyValue::new("a", 2),
            KeyValue::new("", 3),
        ];
        assert_eq!(written(&list), pairs(&[("b", 1), ("a", 2), ("", 3)]));
        assert_eq!(written(&[]), pairs(&[]));
    }

    /// Keys of one length with the same first and last bytes share their
    /// filter bit: they are compared, and only an equal key is a repeat.
    #[test]
    fn keys_sharing_a_filter_bit_are_compared() {
        assert_eq!(key_bit("axb"), key_bit("ayb"));
        let list = [KeyValue::new("axb", 1), KeyValue::new("ayb", 2)];
        assert_eq!(written(&list), pairs(&[("axb", 1), ("ayb", 2)]));
        let list = [
            KeyValue::new("axb", 1),
            KeyValue::new("ayb", 2),
            KeyValue::new("axb", 3),
        ];
        assert_eq!(written(&list), pairs(&[("axb", 3), ("ayb", 2)]));
    }

    #[test]
    fn long_lists_are_checked_through_the_hash_set() {
        let keys = (0..FILTERED_ENTRIES_MAX * 2)
            .map(|index| format!("key {index}"))
            .collect::<Vec<_>>();
        let mut list = keys
            .iter()
            .enumerate()
            .map(|(index, key)| KeyValue::new(key.clone(), index as i64))
            .collect::<Vec<_>>();
        let expected = keys
            .iter()
            .enumerate()
            .map(|(index, key)| (key.clone(), AnyValue::Int(index as i64)))
            .collect::<Vec<_>>();
        assert_eq!(written(&list), expected);
        // The last entry repeats the first key: one entry fewer, the first
        // carrying the last value.
        list.push(KeyValue::new(keys[0].clone(), -1));
        let mut expected = expected;
        expected[0].1 = AnyValue::Int(-1);
        assert_eq!(written(&list), expected);
    }
}
