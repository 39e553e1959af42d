//! A key-value list value (`AnyValue::KvList`) as the encoders write it: each
//! key once. OTLP's `common.proto` says of a `KeyValueList` that "the keys
//! MUST be unique", and a list built by a program may repeat one; a
//! repeated key keeps its last value, in the place where the key first
//! appears, as otlp-sdk keeps a span's or a log record's attributes. The
//! protobuf and JSON encoders both write a list through [`unique_entries`],
//! so their lengths and bytes agree.
//!
//! Cost: a list without a repeated key (nearly every one) is written as
//! given, after comparing its keys pairwise (up to [`COMPARED_ENTRIES_MAX`]
//! entries, no allocation) or through a hash set (longer lists). Only a list
//! with a repeated key pays for a plan of which value goes where.

use std::collections::{HashMap, HashSet};

use crate::{AnyValue, KeyValue};

/// Lists of up to this many entries are checked for a repeated key by
/// comparing every pair (at most 120 comparisons, most of them of lengths).
const COMPARED_ENTRIES_MAX: usize = 16;

/// The entries of a key-value list to write, in order: each distinct key
/// once, with the last value given for it, in its first place.
pub(super) fn unique_entries(entries: &[KeyValue]) -> UniqueEntries<'_> {
    if !has_repeated_key(entries) {
        return UniqueEntries::AsGiven(entries.iter());
    }
    // Each key's first and last index.
    let mut places: HashMap<&str, (usize, usize)> = HashMap::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        places
            .entry(&*entry.key)
            .and_modify(|(_, last)| *last = index)
            .or_insert((index, index));
    }
    let plan = entries
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| match places.get(&*entry.key) {
            Some(&(first, last)) if first == index => Some(last),
            _ => None,
        })
        .collect::<Vec<_>>();
    UniqueEntries::Planned {
        entries,
        plan: plan.into_iter(),
    }
}

fn has_repeated_key(entries: &[KeyValue]) -> bool {
    if entries.len() <= COMPARED_ENTRIES_MAX {
        return entries.iter().enumerate().any(|(index, entry)| {
            entries[..index]
                .iter()
                .any(|earlier| earlier.key == entry.key)
        });
    }
    let mut seen = HashSet::with_capacity(entries.len());
    !entries.iter().all(|entry| seen.insert(&*entry.key))
}

/// The iterator of [`unique_entries`]: `(key, value)` pairs.
pub(super) enum UniqueEntries<'a> {
    /// No key repeats: every entry, in order.
    AsGiven(std::slice::Iter<'a, KeyValue>),
    /// A key repeats: at each key's first place, the index of its last value.
    Planned {
        entries: &'a [KeyValue],
        plan: std::vec::IntoIter<usize>,
    },
}

impl<'a> Iterator for UniqueEntries<'a> {
    type Item = (&'a str, &'a AnyValue);

    fn next(&mut self) -> Option<Self::Item> {
        let entry = match self {
            UniqueEntries::AsGiven(entries) => entries.next()?,
            UniqueEntries::Planned { entries, plan } => &entries[plan.next()?],
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

    #[test]
    fn long_lists_are_checked_through_the_hash_set() {
        let keys = (0..COMPARED_ENTRIES_MAX * 4)
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
