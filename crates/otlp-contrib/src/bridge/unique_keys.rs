//! [`keep_last_value_per_key`]: converted attribute collections with one
//! value per key.
//!
//! OTLP requires it of every collection ("Attribute keys MUST be unique",
//! `common.proto`), but `opentelemetry_sdk` keeps every value set for a key
//! on spans, events, links, scopes and log records, and `opentelemetry-otlp`
//! sends them all: `tracing-opentelemetry` records an error as
//! `exception.message` once per field and per event, for instance. The
//! converters keep the last value set, in the key's first place: what
//! setting an attribute again means in the specification, and what
//! otlp-sdk's own spans and log records do.
//!
//! Cost model: up to [`COMPARED_KEYS_MAX`] keys, one pass with a 128-bit
//! filter (each key's length and four of its bytes), no allocation; keys the
//! filter tells apart are never compared, and a key it cannot is compared
//! with the keys before it. Past that, a hash set (one allocation). A real
//! repeat (rare) rebuilds the collection in one more pass through a hash
//! map.

use std::collections::{HashMap, HashSet};

use otlp_core::{AnyValue, KeyValue};

/// Above this many attributes, repeats are found with a hash set: the
/// filter's 128 bits would tell fewer keys apart and the comparisons grow
/// with the square of the count.
const COMPARED_KEYS_MAX: usize = 32;

/// Leaves one attribute per key in `attributes`: the last value given for
/// a repeated key, in that key's first place. The order of the kept keys
/// is otherwise unchanged.
pub(crate) fn keep_last_value_per_key(attributes: &mut Vec<KeyValue>) {
    if has_repeated_key(attributes) {
        keep_last(attributes);
    }
}

fn has_repeated_key(attributes: &[KeyValue]) -> bool {
    if attributes.len() < 2 {
        return false;
    }
    if attributes.len() > COMPARED_KEYS_MAX {
        let mut seen = HashSet::with_capacity(attributes.len());
        return !attributes
            .iter()
            .all(|attribute| seen.insert(attribute.key.as_str()));
    }
    let mut seen = 0u128;
    attributes.iter().enumerate().any(|(index, attribute)| {
        let key = attribute.key.as_str();
        let bit = 1u128 << filter_slot(key);
        let maybe_seen = seen & bit != 0;
        seen |= bit;
        maybe_seen
            && attributes[..index]
                .iter()
                .any(|earlier| earlier.key.as_str() == key)
    })
}

/// The filter's bit for `key`: from its length and its first, middle and
/// last two bytes (keys of one call site often share a prefix, or differ in
/// their last byte).
fn filter_slot(key: &str) -> u32 {
    let bytes = key.as_bytes();
    let len = bytes.len();
    let byte = |at: usize| bytes.get(at).map_or(0, |&byte| u64::from(byte));
    let word = len as u64
        | byte(0) << 16
        | byte(len / 2) << 24
        | byte(len.wrapping_sub(1)) << 32
        | byte(len.wrapping_sub(2)) << 40;
    (word.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 57) as u32
}

/// Moves each repeat's value to its key's first place (later repeats come
/// later, so the last value is the one left there), then drops the repeats.
#[cold]
#[inline(never)]
fn keep_last(attributes: &mut Vec<KeyValue>) {
    let first_places: Vec<usize> = {
        let mut places: HashMap<&str, usize> = HashMap::with_capacity(attributes.len());
        attributes
            .iter()
            .enumerate()
            .map(|(index, attribute)| *places.entry(attribute.key.as_str()).or_insert(index))
            .collect()
    };
    for (index, &place) in first_places.iter().enumerate() {
        if place != index {
            let value = std::mem::replace(&mut attributes[index].value, AnyValue::Bool(false));
            attributes[place].value = value;
        }
    }
    let mut index = 0;
    attributes.retain(|_| {
        let first = first_places[index] == index;
        index += 1;
        first
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_and_values(attributes: &[KeyValue]) -> Vec<(String, AnyValue)> {
        attributes
            .iter()
            .map(|attribute| (attribute.key.as_str().to_owned(), attribute.value.clone()))
            .collect()
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_in_its_first_place() {
        let mut attributes = vec![
            KeyValue::new("exception.message", "first"),
            KeyValue::new("a", 1),
            KeyValue::new("exception.message", "second"),
            KeyValue::new("b", true),
            KeyValue::new("a", 2),
            KeyValue::new("exception.message", "third"),
        ];
        keep_last_value_per_key(&mut attributes);
        assert_eq!(
            keys_and_values(&attributes),
            [
                ("exception.message".to_owned(), AnyValue::from("third")),
                ("a".to_owned(), AnyValue::Int(2)),
                ("b".to_owned(), AnyValue::Bool(true)),
            ]
        );
    }

    #[test]
    fn unique_keys_are_left_alone_whatever_the_filter_says() {
        // Keys the filter cannot tell apart from some earlier one (several of
        // these share a bit, as checked) are compared, not merged.
        let mut attributes: Vec<KeyValue> = (0..COMPARED_KEYS_MAX)
            .map(|index| KeyValue::new(format!("attribute.{index:02}"), index as i64))
            .collect();
        let slots: HashSet<u32> = attributes
            .iter()
            .map(|attribute| filter_slot(attribute.key.as_str()))
            .collect();
        assert!(slots.len() < attributes.len(), "no two keys share a bit");
        let before = keys_and_values(&attributes);
        keep_last_value_per_key(&mut attributes);
        assert_eq!(keys_and_values(&attributes), before);
    }

    #[test]
    fn large_collections_are_deduplicated_through_a_hash_set() {
        let mut attributes: Vec<KeyValue> = (0..100)
            .map(|index| KeyValue::new(format!("k{}", index % 40), index as i64))
            .collect();
        keep_last_value_per_key(&mut attributes);
        // The last of 0..100 with each remainder: 80..99, then 60..79.
        let expected: Vec<(String, AnyValue)> = (0..40)
            .map(|key| {
                let last = if key < 20 { key + 80 } else { key + 40 };
                (format!("k{key}"), AnyValue::Int(last))
            })
            .collect();
        assert_eq!(keys_and_values(&attributes), expected);
    }

    #[test]
    fn empty_and_single_collections_are_unchanged() {
        let mut none: Vec<KeyValue> = Vec::new();
        keep_last_value_per_key(&mut none);
        assert!(none.is_empty());
        let mut one = vec![KeyValue::new("", "empty key")];
        keep_last_value_per_key(&mut one);
        assert_eq!(one.len(), 1);
    }
}
