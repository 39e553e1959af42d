//! The hash of an attribute list in the order given, doubles by their bits:
//! equal by [`KeyValue::all_wire_eq`] (what encodes to the same OTLP bytes)
//! means equal hashes, so `0.0` and `-0.0` hash apart and a NaN hashes as
//! itself. The metrics SDK finds a measurement's series by it
//! (`metrics::attributes`) and the export loop's group table its resources
//! and scopes (`group_table`); it imports nothing of the pipeline, so both
//! can use it without an import circle.
//!
//! A key-value list value hashes as the encoders write it, each key once
//! ([`KeyValue::each_key_once`]), so lists that differ only by a repeated
//! key's earlier value hash alike, as they compare.
//!
//! Cost: one folded multiply per attribute for keys and values of up to 16
//! bytes, one more per 16 bytes beyond; no copy, and no allocation but for
//! a key-value list value that repeats a key.

use otlp_core::{AnyValue, KeyValue};

/// Hash of a stored attribute list, in order (every entry).
#[inline]
pub(crate) fn hash_all(attributes: &[KeyValue]) -> u64 {
    hash_in_order(attributes)
}

/// Hash of the attributes given, in the order given: [`hash_all`] of a
/// list holding them.
#[inline]
pub(crate) fn hash_in_order<'a>(attributes: impl IntoIterator<Item = &'a KeyValue>) -> u64 {
    let mut hash = SEED_SET;
    for attribute in attributes {
        // Each attribute hashes on its own (independent multiplies the CPU
        // overlaps); only the combining step is a chain.
        hash = fold(hash ^ hash_key_value(attribute), SEED_NEXT);
    }
    hash
}

const SEED_SET: u64 = 0x243f_6a88_85a3_08d3;
const SEED_NEXT: u64 = 0x1319_8a2e_0370_7344;
const SEED_KEY: u64 = 0xa409_3822_299f_31d0;
const SEED_VALUE: u64 = 0x082e_fa98_ec4e_6c89;
const SEED_BYTES: u64 = 0x4528_21e6_38d0_1377;

/// The folded multiply: the 128-bit product's halves xor-ed (as in
/// foldhash and wyhash); every input bit reaches every output bit.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// Hash of a byte string: one folded multiply for up to 16 bytes (its
/// first and last eight, or four, or three bytes), one more per 16 beyond.
/// No copy: the words are read from the slice.
#[inline]
fn hash_bytes(bytes: &[u8], seed: u64) -> u64 {
    let len = bytes.len();
    let word = |at: usize| {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(eight)
    };
    let half = |at: usize| {
        let mut four = [0u8; 4];
        four.copy_from_slice(&bytes[at..at + 4]);
        u64::from(u32::from_le_bytes(four))
    };
    let mut hash = seed;
    let (a, b) = if len > 16 {
        let mut at = 0;
        while at + 16 < len {
            hash = fold(word(at) ^ hash, word(at + 8) ^ SEED_BYTES);
            at += 16;
        }
        (word(len - 16), word(len - 8))
    } else if len >= 8 {
        (word(0), word(len - 8))
    } else if len >= 4 {
        (half(0), half(len - 4))
    } else if len > 0 {
        (
            u64::from(bytes[0]) << 16 | u64::from(bytes[len / 2]) << 8 | u64::from(bytes[len - 1]),
            0,
        )
    } else {
        (0, 0)
    };
    fold(a ^ hash, b ^ hash.rotate_left(32) ^ SEED_BYTES ^ len as u64)
}

/// A full-width seed for values of one kind, so `1` and `"1"` differ.
#[inline]
const fn kind_seed(kind: u64) -> u64 {
    SEED_VALUE.wrapping_add(kind.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

#[inline]
fn hash_key_value(attribute: &KeyValue) -> u64 {
    hash_entry(&attribute.key, &attribute.value)
}

#[inline]
fn hash_entry(key: &str, value: &AnyValue) -> u64 {
    fold(
        hash_bytes(key.as_bytes(), SEED_KEY),
        hash_value(value) ^ SEED_NEXT,
    )
}

#[inline]
fn hash_value(value: &AnyValue) -> u64 {
    match value {
        AnyValue::String(text) => hash_bytes(text.as_bytes(), kind_seed(1)),
        AnyValue::Int(number) => fold(*number as u64 ^ kind_seed(4), SEED_NEXT),
        _ => hash_nested_value(value),
    }
}

/// [`hash_value`] for the rarer kinds, nested ones included (not inlined:
/// it recurses).
fn hash_nested_value(value: &AnyValue) -> u64 {
    match value {
        AnyValue::String(text) => hash_bytes(text.as_bytes(), kind_seed(1)),
        AnyValue::Bool(flag) => kind_seed(2 + u64::from(*flag)),
        AnyValue::Int(number) => fold(*number as u64 ^ kind_seed(4), SEED_NEXT),
        AnyValue::Double(number) => fold(number.to_bits() ^ kind_seed(5), SEED_NEXT),
        AnyValue::Bytes(bytes) => hash_bytes(bytes, kind_seed(6)),
        AnyValue::Array(items) => items
            .iter()
            .fold(kind_seed(7) ^ items.len() as u64, |hash, item| {
                fold(hash ^ hash_value(item), SEED_NEXT)
            }),
        // As the encoders write the list (each key once), so that lists
        // equal by `wire_eq` hash alike.
        AnyValue::KvList(entries) => KeyValue::each_key_once(entries)
            .fold(kind_seed(8), |hash, (key, value)| {
                fold(hash ^ hash_entry(key, value), SEED_NEXT)
            }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Lists equal by `wire_eq` (each key once, as the encoders write
    /// them) hash alike, at any depth.
    #[test]
    fn key_value_lists_hash_as_written() {
        let list = |entries: &[(&'static str, i64)]| {
            let entries: Vec<KeyValue> = entries
                .iter()
                .map(|&(key, value)| KeyValue::new(key, value))
                .collect();
            AnyValue::from(entries)
        };
        let repeated = list(&[("a", 1), ("b", 2), ("a", 3)]);
        let once = list(&[("a", 3), ("b", 2)]);
        let nested = |value: &AnyValue| {
            [KeyValue::new(
                "outer",
                AnyValue::Array(Arc::from([list(&[("a", 0)]), value.clone()])),
            )]
        };
        for (a, b) in [
            (
                [KeyValue::new("map", repeated.clone())],
                [KeyValue::new("map", once.clone())],
            ),
            (nested(&repeated), nested(&once)),
        ] {
            assert!(KeyValue::all_wire_eq(&a, &b));
            assert_eq!(hash_all(&a), hash_all(&b));
        }
        let other_order = [KeyValue::new("map", list(&[("b", 2), ("a", 3)]))];
        assert_ne!(
            hash_all(&[KeyValue::new("map", once)]),
            hash_all(&other_order)
        );
    }

    #[test]
    fn doubles_hash_by_their_bits_at_every_depth() {
        let nested = |value: f64| {
            [
                KeyValue::new("top", value),
                KeyValue::new(
                    "array",
                    AnyValue::Array(Arc::from([AnyValue::Double(value)])),
                ),
                KeyValue::new(
                    "list",
                    AnyValue::KvList(Arc::from([KeyValue::new("inner", value)])),
                ),
            ]
        };
        for at in 0..nested(0.0).len() {
            let zero = &nested(0.0)[at..=at];
            let minus_zero = &nested(-0.0)[at..=at];
            // `==` holds `0.0` and `-0.0` equal, but they encode apart.
            assert!(!KeyValue::all_wire_eq(zero, minus_zero));
            assert_ne!(hash_all(zero), hash_all(minus_zero), "attribute {at}");
            // A NaN is not `==` to itself, but encodes as itself.
            let nan = &nested(f64::NAN)[at..=at];
            let nan_again = &nested(f64::NAN)[at..=at];
            assert!(KeyValue::all_wire_eq(nan, nan_again));
            assert_eq!(hash_all(nan), hash_all(nan_again), "attribute {at}");
            // Two NaNs of other bits encode apart.
            let other_nan = &nested(f64::from_bits(f64::NAN.to_bits() ^ 1))[at..=at];
            assert_ne!(hash_all(nan), hash_all(other_nan), "attribute {at}");
        }
    }

    #[test]
    fn the_hash_of_the_attributes_given_is_that_of_a_list_of_them() {
        let list = [KeyValue::new("a", 1), KeyValue::new("b", "two")];
        assert_eq!(hash_in_order(list.iter()), hash_all(&list));
        assert_eq!(hash_in_order(list.iter().take(1)), hash_all(&list[..1]));
    }

    #[test]
    fn distinct_sets_hash_apart_and_spread_over_the_low_bits() {
        use std::collections::HashSet;
        let mut hashes = HashSet::new();
        let mut low_bits = HashSet::new();
        for i in 0..20_000i64 {
            let set = [
                KeyValue::new("http.route", "/cart"),
                KeyValue::new("user", format!("u{i}")),
                KeyValue::new("shard", i % 7),
            ];
            let hash = hash_all(&set);
            hashes.insert(hash);
            low_bits.insert(hash & 0x3fff);
        }
        assert_eq!(hashes.len(), 20_000);
        // 20,000 values over 16,384 slots: a good hash fills about 70%.
        assert!(low_bits.len() > 10_000, "{} of 16,384", low_bits.len());
        // Lengths around the word sizes, and the kind of a value.
        let texts = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abcdefgh",
            "abcdefghi",
            &"x".repeat(40),
        ];
        let distinct: HashSet<u64> = texts
            .iter()
            .map(|text| hash_all(&[KeyValue::new("k", text.to_string())]))
            .collect();
        assert_eq!(distinct.len(), texts.len());
        assert_ne!(
            hash_all(&[KeyValue::new("k", 1)]),
            hash_all(&[KeyValue::new("k", "1")])
        );
        assert_ne!(
            hash_all(&[KeyValue::new("a", 1), KeyValue::new("b", 2)]),
            hash_all(&[KeyValue::new("b", 2), KeyValue::new("a", 1)])
        );
    }
}
