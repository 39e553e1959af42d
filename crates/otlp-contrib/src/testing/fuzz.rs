//! Hostile input from valid input: byte-level mutations as proptest
//! strategies (bit flips, byte changes, insertions, removals, truncation,
//! repetition) — the shapes a parser meets from a broken or malicious peer.
//! Each suite brings its own dictionary of bytes that mean something to the
//! parser under test (delimiters, varint continuation bits, quotes).
//!
//! ```
//! use otlp_contrib::testing::fuzz::{config, mutated_text};
//! use proptest::prelude::*;
//! use proptest::test_runner::TestRunner;
//!
//! let mut runner = TestRunner::new(config(64));
//! let headers = mutated_text(Just("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned()), b"-0f");
//! runner
//!     .run(&headers, |header| {
//!         let _ = otlp_core::SpanContext::from_traceparent(&header); // never panics
//!         Ok(())
//!     })
//!     .expect("no panic");
//! ```

use std::ops::Range;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::Config;

/// The longest slice [`Mutation::Repeat`] repeats.
const MAX_REPEAT: usize = 64;

/// A hostile suite's proptest configuration: `default_cases` cases unless
/// `PROPTEST_CASES` says otherwise (for long bounded runs, e.g.
/// `PROPTEST_CASES=20000 cargo test --test hostile_w3c`); failing inputs are
/// not persisted, they are kept as named regression tests instead.
pub fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// One edit of a byte string; positions wrap to the string's current length.
#[derive(Clone, Debug)]
pub enum Mutation {
    /// Flip one bit.
    Flip(Index, u8),
    /// Replace one byte.
    Set(Index, u8),
    /// Insert bytes.
    Insert(Index, Vec<u8>),
    /// Remove up to this many bytes.
    Remove(Index, usize),
    /// Cut the string short.
    Truncate(Index),
    /// Repeat a slice of up to this many bytes in place.
    Repeat(Index, usize),
}

/// Any byte, or (as often) one of `dictionary`.
fn interesting_byte(dictionary: &'static [u8]) -> BoxedStrategy<u8> {
    if dictionary.is_empty() {
        return any::<u8>().boxed();
    }
    prop_oneof![any::<u8>(), select(dictionary)].boxed()
}

/// One mutation; bytes it sets or inserts favour `dictionary`.
pub fn mutation(dictionary: &'static [u8]) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        (any::<Index>(), interesting_byte(dictionary))
            .prop_map(|(at, byte)| Mutation::Set(at, byte)),
        (any::<Index>(), vec(interesting_byte(dictionary), 1..6))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        (any::<Index>(), 1usize..8).prop_map(|(at, len)| Mutation::Remove(at, len)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1usize..MAX_REPEAT).prop_map(|(at, len)| Mutation::Repeat(at, len)),
    ]
}

/// `count` mutations (a range: `0..4` includes none at all).
pub fn mutations(
    dictionary: &'static [u8],
    count: Range<usize>,
) -> impl Strategy<Value = Vec<Mutation>> {
    vec(mutation(dictionary), count)
}

/// Applies one mutation.
pub fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    let at = |index: &Index, room: usize| if room == 0 { 0 } else { index.index(room) };
    match mutation {
        Mutation::Flip(index, bit) if len > 0 => bytes[at(index, len)] ^= 1 << (bit % 8),
        Mutation::Set(index, byte) if len > 0 => bytes[at(index, len)] = *byte,
        Mutation::Insert(index, new) => {
            let position = at(index, len + 1);
            bytes.splice(position..position, new.iter().copied());
        }
        Mutation::Remove(index, count) if len > 0 => {
            let start = at(index, len);
            bytes.drain(start..start.saturating_add(*count).min(len));
        }
        Mutation::Truncate(index) => bytes.truncate(at(index, len + 1)),
        Mutation::Repeat(index, count) if len > 0 => {
            let start = at(index, len);
            let end = start.saturating_add(*count).min(len);
            let copy = bytes[start..end].to_vec();
            bytes.splice(end..end, copy);
        }
        _ => {}
    }
}

/// `bytes` with `mutations` applied in order.
pub fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        apply(&mut bytes, mutation);
    }
    bytes
}

/// `valid` inputs with one to four mutations applied.
pub fn mutated(
    valid: impl Strategy<Value = Vec<u8>>,
    dictionary: &'static [u8],
) -> impl Strategy<Value = Vec<u8>> {
    (valid, mutations(dictionary, 1..5)).prop_map(|(bytes, mutations)| mutate(bytes, &mutations))
}

/// `valid` text with one to four byte-level mutations; invalid UTF-8 becomes U+FFFD.
pub fn mutated_text(
    valid: impl Strategy<Value = String>,
    dictionary: &'static [u8],
) -> impl Strategy<Value = String> {
    mutated(valid.prop_map(String::into_bytes), dictionary)
        .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    use super::*;

    /// An `Index` that lands on `position` of a 10-byte string.
    fn at(position: usize) -> Index {
        let mut runner = TestRunner::deterministic();
        loop {
            let index = any::<Index>()
                .new_tree(&mut runner)
                .map(|tree| tree.current())
                .expect("an index");
            if index.index(10) == position {
                return index;
            }
        }
    }

    #[test]
    fn each_mutation_edits_as_named() {
        let edit = |mutation: Mutation| mutate(b"0123456789".to_vec(), &[mutation]);
        assert_eq!(edit(Mutation::Flip(at(0), 0)), b"1123456789");
        assert_eq!(edit(Mutation::Set(at(9), b'x')), b"012345678x");
        assert_eq!(edit(Mutation::Remove(at(2), 3)), b"0156789");
        assert_eq!(edit(Mutation::Remove(at(8), 7)), b"01234567");
        assert_eq!(edit(Mutation::Repeat(at(7), 2)), b"012345678789");
        assert_eq!(edit(Mutation::Repeat(at(8), 5)), b"012345678989");
        // Edits of an empty string that need a byte do nothing.
        assert_eq!(mutate(Vec::new(), &[Mutation::Flip(at(3), 1)]), b"");
        assert_eq!(mutate(Vec::new(), &[Mutation::Repeat(at(3), 4)]), b"");
        assert_eq!(
            mutate(Vec::new(), &[Mutation::Insert(at(3), b"ab".to_vec())]),
            b"ab"
        );
    }

    #[test]
    fn mutated_inputs_differ_from_the_valid_one() {
        let mut runner = TestRunner::deterministic();
        let strategy = mutated(Just(b"0123456789".to_vec()), b"-");
        let changed = (0..200)
            .filter(|_| {
                let bytes = strategy
                    .new_tree(&mut runner)
                    .map(|tree| tree.current())
                    .expect("an input");
                bytes != b"0123456789"
            })
            .count();
        // A mutation can undo itself (a flip flipped back), rarely.
        assert!(changed > 150, "{changed} of 200 changed");
    }
}
