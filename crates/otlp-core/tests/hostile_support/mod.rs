//! Shared pieces of the `hostile_*` fuzz suites: the case count (overridable
//! with `PROPTEST_CASES` for long bounded runs) and structure-aware mutations
//! of valid inputs (bit flips, byte changes, insertions, removals, truncation,
//! duplication), the input shapes a parser meets from a broken or malicious peer.
#![allow(dead_code)]

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

/// The proptest configuration of a hostile suite: `default_cases` cases unless
/// `PROPTEST_CASES` says otherwise (`PROPTEST_CASES=20000 cargo test --test hostile_w3c`).
pub fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        // A failing input is kept as an explicit regression test instead.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One edit of a byte string.
#[derive(Clone, Debug)]
pub enum Mutation {
    /// Flip one bit.
    Flip(Index, u8),
    /// Replace one byte (biased towards bytes that mean something to the parsers).
    Set(Index, u8),
    /// Insert bytes.
    Insert(Index, Vec<u8>),
    /// Remove up to `len` bytes.
    Remove(Index, usize),
    /// Cut the input short.
    Truncate(Index),
    /// Repeat a slice in place.
    Duplicate(Index, usize),
}

/// Bytes that are delimiters, varint continuation bits, hex digits or limits.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        prop::sample::select(vec![
            0x00u8, 0x01, 0x02, 0x07, 0x08, 0x0a, 0x12, 0x1a, 0x22, 0x7f, 0x80, 0xff, b'-', b',',
            b'=', b' ', b'\t', b'0', b'f', b'F', b'z', b'@', b'"', b'{', b'[', b'%', b'\n',
        ]),
    ]
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        (any::<Index>(), interesting_byte()).prop_map(|(at, byte)| Mutation::Set(at, byte)),
        (any::<Index>(), vec(interesting_byte(), 1..6))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        (any::<Index>(), 1usize..8).prop_map(|(at, len)| Mutation::Remove(at, len)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1usize..32).prop_map(|(at, len)| Mutation::Duplicate(at, len)),
    ]
}

/// Applies `mutation` to `bytes` (positions wrap to the current length).
pub fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    let at = |index: &Index, room: usize| if room == 0 { 0 } else { index.index(room) };
    match mutation {
        Mutation::Flip(index, bit) if len > 0 => bytes[at(index, len)] ^= 1 << bit,
        Mutation::Set(index, byte) if len > 0 => bytes[at(index, len)] = *byte,
        Mutation::Insert(index, new) => {
            let position = at(index, len + 1);
            bytes.splice(position..position, new.iter().copied());
        }
        Mutation::Remove(index, count) if len > 0 => {
            let start = at(index, len);
            let end = (start + count).min(len);
            bytes.drain(start..end);
        }
        Mutation::Truncate(index) => bytes.truncate(at(index, len + 1)),
        Mutation::Duplicate(index, count) if len > 0 => {
            let start = at(index, len);
            let end = (start + count).min(len);
            let copy = bytes[start..end].to_vec();
            bytes.splice(end..end, copy);
        }
        _ => {}
    }
}

/// `valid` inputs with one to four mutations applied.
pub fn mutated(valid: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (valid, vec(mutation(), 1..5)).prop_map(|(mut bytes, mutations)| {
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        bytes
    })
}

/// `valid` text with one to four byte-level mutations; invalid UTF-8 becomes U+FFFD.
pub fn mutated_text(valid: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    mutated(valid.prop_map(String::into_bytes))
        .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}
