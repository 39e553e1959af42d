//! Attribute collections with unique keys, as the specification asks of
//! every exported one: [`KeyFilter`], which tells most distinct keys apart
//! without comparing them, and the deduplication of a finished collection
//! (a span's events and links, a log record), a repeated key keeping its
//! last value in its first place.

use std::cell::RefCell;
use std::collections::HashMap;

use otlp_core::{AnyValue, KeyValue};

/// Collections of up to this many attributes are deduplicated by comparing
/// keys the [`KeyFilter`] cannot tell apart: no allocation, and nearly every
/// record, span, event and link has fewer. A larger collection (the filter's
/// 128 bits fill up, so nearly every key would be compared with every key
/// before it: n²/2 comparisons) goes through a hash map, one lookup per key.
const COMPARED_KEYS_MAX: usize = 32;

/// A 128-bit Bloom filter over attribute keys: one bit per key. Kept in one
/// `u128` so that a run of `set_attribute` calls carries it in registers (as
/// two words indexed by the hash it went through memory, a store and a
/// dependent load per attribute).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KeyFilter(u128);

impl KeyFilter {
    /// The bit of `key`: from its length and three words read at its start,
    /// middle and end, which together cover every byte of a key of up to 24
    /// bytes (keys of one call site often share their length and their
    /// first bytes, `http.request.*`, or differ in one byte, `a0`..`a7`).
    /// The three products are independent, so they overlap in the pipeline
    /// instead of chaining one multiply per word. A longer key hashes part
    /// of its bytes; keys the filter cannot tell apart are compared.
    #[inline]
    pub(crate) fn bit(key: &str) -> u128 {
        let bytes = key.as_bytes();
        let len = bytes.len();
        let word_at = |at: usize| {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(eight)
        };
        let (first, middle, last) = if len >= 8 {
            (word_at(0), word_at(len / 2 - 4), word_at(len - 8))
        } else {
            // Byte by byte: a variable-length copy would be a call to
            // `memcpy` and a store-to-load stall.
            let short = bytes
                .iter()
                .enumerate()
                .fold(0u64, |word, (at, byte)| word | u64::from(*byte) << (8 * at));
            (short, 0, 0)
        };
        let hash = (first ^ len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ middle.rotate_left(23).wrapping_mul(0x517c_c1b7_2722_0a95)
            ^ last.rotate_left(47).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        1 << (hash >> 57)
    }

    /// Records `key`; says whether it may have been seen before.
    #[inline]
    pub(crate) fn insert(&mut self, key: &str) -> bool {
        let bit = KeyFilter::bit(key);
        let maybe_seen = self.0 & bit != 0;
        self.0 |= bit;
        maybe_seen
    }
}

/// Whether two keys are equal: an inline byte loop, as keys are short and
/// a call to `memcmp` for each pair the filter could not tell apart costs
/// more than the comparison.
#[inline]
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    #[cfg(test)]
    tests::COMPARISONS.with(|count| count.set(count.get() + 1));
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Leaves one attribute per key in `attributes`, as OTLP asks of every
/// collection ("Attribute keys MUST be unique"): a repeated key keeps the
/// last value given, in its first place; the order of the kept keys is
/// otherwise unchanged. What otlp-sdk does with an event's, a link's, a
/// scope's, a log record's or an exemplar's attributes (before the
/// attribute cap, so that a repeat neither takes a distinct key's place nor
/// counts as dropped), and what a program or bridge that builds records
/// itself (`otlp-contrib`'s `opentelemetry_sdk` bridge) calls for the same.
///
/// Keys a 128-bit filter tells apart cost no comparison, and a collection
/// of distinct `'static` keys seen before on this thread costs a look-up;
/// past 32 attributes, a hash map finds the repeats, so the cost grows with
/// the collection's size, not its square. No allocation unless a key
/// repeats or the collection is large.
///
/// ```
/// use otlp_core::KeyValue;
///
/// let mut attributes = vec![
///     KeyValue::new("a", 1),
///     KeyValue::new("b", 2),
///     KeyValue::new("a", 3),
/// ];
/// otlp_sdk::keep_last_value_per_key(&mut attributes);
/// assert_eq!(attributes, [KeyValue::new("a", 3), KeyValue::new("b", 2)]);
/// ```
pub fn keep_last_value_per_key(attributes: &mut Vec<KeyValue>) {
    dedupe_into(&mut KeyFilter::default(), attributes);
}

/// Records every key of `attributes` in `filter` (which may hold keys set
/// before), and dedupes `attributes` if one of its keys truly repeats one
/// before it. The filter only says a key *may* repeat (with a dozen keys,
/// two share a bit more often than not): such a key is compared with the
/// keys before it, and only a true repeat dedupes the whole vector.
///
/// A collection whose keys are all `'static` text (the field names of a
/// `tracing` call site, the keys of a `log` record written in code) is
/// remembered per thread when they are distinct: the next one with the same
/// keys at the same addresses, the next record of that call site, takes the
/// filter's bits from there and compares no key ([`RememberedKeySets`]).
pub(crate) fn dedupe_into(filter: &mut KeyFilter, attributes: &mut Vec<KeyValue>) {
    if attributes.len() > COMPARED_KEYS_MAX {
        for attribute in attributes.iter() {
            filter.insert(&attribute.key);
        }
        dedupe_hashed(attributes);
        return;
    }
    let place =
        (attributes.len() >= REMEMBERED_KEYS_MIN).then(|| RememberedKeySets::place(attributes));
    if let Some(place) = place
        && let Some(bits) = RememberedKeySets::bits_of(place, attributes)
    {
        filter.0 |= bits;
        return;
    }
    let mut repeated = false;
    let mut all_static = true;
    let mut own_bits = 0;
    for (index, attribute) in attributes.iter().enumerate() {
        let bit = KeyFilter::bit(&attribute.key);
        own_bits |= bit;
        all_static &= attribute.key.is_static();
        if filter.0 & bit != 0 && !repeated {
            repeated = attributes[..index]
                .iter()
                .any(|earlier| same_key(&earlier.key, &attribute.key));
        }
        filter.0 |= bit;
    }
    if repeated {
        dedupe_keep_last(attributes);
    } else if let Some(place) = place
        && all_static
    {
        RememberedKeySets::remember(place, attributes, own_bits);
    }
}

/// Collections shorter than this are deduplicated without looking at the
/// remembered key sets: hashing a few keys costs what finding them does.
const REMEMBERED_KEYS_MIN: usize = 4;

/// Key sets each thread remembers ([`RememberedKeySets`]).
const REMEMBERED_KEY_SETS: usize = 16;

/// The distinct `'static` keys of collections this thread deduplicated,
/// by the address and length of each key's text, with their filter bits:
/// a direct-mapped table of [`REMEMBERED_KEY_SETS`] places, picked from the
/// first and last keys' addresses and the collection's length. A set that
/// lands on a taken place replaces it (its vector keeps its capacity: no
/// allocation once each place held the longest set it gets, at most
/// [`COMPARED_KEYS_MAX`] keys: 8 KiB per thread at the very most, freed
/// when the thread ends).
///
/// Two `'static` texts at the same address with the same length are the
/// same text, so a collection whose keys match a remembered set key for key
/// has exactly its keys: distinct, with those bits. A key that is not
/// `'static` (built at run time, or inline) never matches: its address says
/// nothing of its text. (A library unloaded and another loaded at the same
/// address could make a remembered address hold other text; a program that
/// unloads code whose `'static` keys it still records has broken Rust's own
/// `'static` promise first.)
#[derive(Default)]
struct RememberedKeySets {
    places: [KeySet; REMEMBERED_KEY_SETS],
}

/// One remembered set: each key's address and length, and their bits.
#[derive(Default)]
struct KeySet {
    keys: Vec<(usize, usize)>,
    bits: u128,
}

thread_local! {
    static REMEMBERED: RefCell<RememberedKeySets> = RefCell::default();
}

impl RememberedKeySets {
    /// The place of a collection's key set.
    fn place(attributes: &[KeyValue]) -> usize {
        let (Some(first), Some(last)) = (attributes.first(), attributes.last()) else {
            return 0;
        };
        let mixed = (address(&first.key) ^ address(&last.key).rotate_left(17) ^ attributes.len())
            .wrapping_mul(0x9e37_79b9_7f4a_7c15_u64 as usize);
        (mixed >> (usize::BITS - 8)) % REMEMBERED_KEY_SETS
    }

    /// The filter bits of `attributes`' keys, if they are the set
    /// remembered at their `place` (and so distinct).
    fn bits_of(place: usize, attributes: &[KeyValue]) -> Option<u128> {
        REMEMBERED
            .try_with(|sets| {
                let sets = sets.try_borrow().ok()?;
                let set = &sets.places[place];
                let same = set.keys.len() == attributes.len()
                    && attributes
                        .iter()
                        .zip(&set.keys)
                        .all(|(attribute, &(at, len))| {
                            attribute.key.is_static()
                                && address(&attribute.key) == at
                                && attribute.key.len() == len
                        });
                same.then_some(set.bits)
            })
            .ok()
            .flatten()
    }

    /// Remembers `attributes`' keys, all `'static` and distinct, with their
    /// filter `bits`, at their `place`.
    fn remember(place: usize, attributes: &[KeyValue], bits: u128) {
        let _ = REMEMBERED.try_with(|sets| {
            if let Ok(mut sets) = sets.try_borrow_mut() {
                let set = &mut sets.places[place];
                set.keys.clear();
                set.keys.extend(
                    attributes
                        .iter()
                        .map(|attribute| (address(&attribute.key), attribute.key.len())),
                );
                set.bits = bits;
            }
        });
    }
}

/// Where a key's text is.
fn address(key: &otlp_core::Str) -> usize {
    key.as_str().as_ptr() as usize
}

/// [`dedupe_keep_last`] for a large collection: each key's first place
/// found through a hash map, then each repeat's value moved there and the
/// repeats removed in one pass. Allocates the map and one index per
/// attribute.
#[cold]
#[inline(never)]
fn dedupe_hashed(attributes: &mut Vec<KeyValue>) {
    let first_places: Vec<usize> = {
        let mut places: HashMap<&str, usize> = HashMap::with_capacity(attributes.len());
        attributes
            .iter()
            .enumerate()
            .map(|(index, attribute)| *places.entry(attribute.key.as_str()).or_insert(index))
            .collect()
    };
    let mut repeated = false;
    for (index, &place) in first_places.iter().enumerate() {
        if place != index {
            // Later repeats come later: the last value is the one left.
            let value = std::mem::replace(&mut attributes[index].value, AnyValue::Bool(false));
            attributes[place].value = value;
            repeated = true;
        }
    }
    if repeated {
        let mut index = 0;
        attributes.retain(|_| {
            let first = first_places[index] == index;
            index += 1;
            first
        });
    }
}

/// Removes duplicate keys, keeping the last value at the first position.
fn dedupe_keep_last(attributes: &mut Vec<KeyValue>) {
    let mut index = 1;
    while index < attributes.len() {
        let (before, rest) = attributes.split_at_mut(index);
        match before.iter_mut().find(|kv| same_key(&kv.key, &rest[0].key)) {
            Some(earlier) => {
                earlier.value = rest[0].value.clone();
                attributes.remove(index);
            }
            None => index += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    thread_local! {
        /// Calls of [`same_key`] on this thread.
        pub(super) static COMPARISONS: Cell<u64> = const { Cell::new(0) };
    }

    /// Runs `f`; the [`same_key`] calls it made.
    fn comparisons_of(f: impl FnOnce()) -> u64 {
        let before = COMPARISONS.with(Cell::get);
        f();
        COMPARISONS.with(Cell::get) - before
    }

    #[test]
    fn a_large_collection_is_deduplicated_in_time_that_grows_with_its_size() {
        // A log record (or a span's start attributes, an event, a link)
        // with thousands of attributes: they are deduplicated before the
        // count cap, and once the 128-bit key filter is full every key was
        // compared with every key before it, n²/2 comparisons (10,000
        // attributes held the emitting thread for seconds).
        let keys = 4_000;
        let distinct: Vec<KeyValue> = (0..keys)
            .map(|i| KeyValue::new(format!("attribute.{i}"), i as i64))
            .collect();
        let mut attributes = distinct.clone();
        let compared = comparisons_of(|| keep_last_value_per_key(&mut attributes));
        assert_eq!(attributes, distinct);
        assert!(compared <= 4 * keys as u64, "{compared} key comparisons");

        // Every key twice, the second value wins in the first place.
        let mut attributes: Vec<KeyValue> = (0..2 * keys)
            .map(|i| KeyValue::new(format!("attribute.{}", i % keys), i as i64))
            .collect();
        let compared = comparisons_of(|| keep_last_value_per_key(&mut attributes));
        let expected: Vec<KeyValue> = (0..keys)
            .map(|i| KeyValue::new(format!("attribute.{i}"), (i + keys) as i64))
            .collect();
        assert_eq!(attributes, expected);
        assert!(compared <= 4 * keys as u64, "{compared} key comparisons");

        // Through a filter that keeps every key, for the span's later calls.
        let mut filter = KeyFilter::default();
        let mut attributes = distinct.clone();
        dedupe_into(&mut filter, &mut attributes);
        assert!(
            distinct
                .iter()
                .all(|attribute| filter.insert(&attribute.key))
        );
    }

    #[test]
    fn the_key_filter_never_misses_a_repeated_key() {
        let keys: Vec<String> = (0..200).map(|i| format!("key.{i}")).collect();
        let mut filter = KeyFilter::default();
        for key in &keys {
            filter.insert(key);
        }
        assert!(keys.iter().all(|key| filter.insert(key)));
        assert!(!KeyFilter::default().insert(""));
    }

    #[test]
    fn keys_that_differ_in_one_byte_mostly_get_their_own_bit() {
        // Every byte of a key of up to 24 bytes reaches the hash: eight keys
        // that differ in one byte, anywhere, land on (nearly) eight bits.
        let sets: [Vec<String>; 4] = [
            (0..8).map(|i| format!("a{i}")).collect(),
            (0..8).map(|i| format!("attribute.key.0{i}")).collect(),
            (0..8).map(|i| format!("http.{i}.request.method")).collect(),
            (0..8)
                .map(|i| format!("service.inst{i}nce.id.xx"))
                .collect(),
        ];
        for keys in &sets {
            let bits: std::collections::HashSet<u128> =
                keys.iter().map(|key| KeyFilter::bit(key)).collect();
            assert!(
                bits.len() >= 7,
                "{keys:?} share bits: {} distinct",
                bits.len()
            );
        }
    }

    /// Eight `'static` keys, as a `tracing` call site's fields.
    const STATIC_KEYS: [&str; 8] = [
        "http.route",
        "url.path",
        "server.address",
        "user_agent.original",
        "client.address",
        "enduser.id",
        "tenant.id",
        "request.id",
    ];

    fn static_collection(values: i64) -> Vec<KeyValue> {
        STATIC_KEYS
            .iter()
            .map(|&key| KeyValue::new(key, values))
            .collect()
    }

    /// The bits remembered for `attributes`' keys on this thread, if any.
    fn remembered_bits(attributes: &[KeyValue]) -> Option<u128> {
        RememberedKeySets::bits_of(RememberedKeySets::place(attributes), attributes)
    }

    fn filter_bits(attributes: &[KeyValue]) -> u128 {
        let mut filter = KeyFilter::default();
        for attribute in attributes {
            filter.insert(&attribute.key);
        }
        filter.0
    }

    #[test]
    fn distinct_static_keys_are_remembered_and_give_the_same_bits() {
        let mut first = static_collection(1);
        assert_eq!(remembered_bits(&first), None);
        let mut filter = KeyFilter::default();
        dedupe_into(&mut filter, &mut first);
        let expected = filter_bits(&first);
        assert_eq!(filter.0, expected);
        // The next collection of the same keys is found, bits and all, and
        // a filter holding earlier keys keeps them.
        let mut next = static_collection(2);
        assert_eq!(remembered_bits(&next), Some(expected));
        let earlier = KeyFilter::bit("earlier.key");
        let mut filter = KeyFilter(earlier);
        dedupe_into(&mut filter, &mut next);
        assert_eq!(filter.0, expected | earlier);
        assert_eq!(next, static_collection(2));
    }

    #[test]
    fn a_repeated_static_key_is_never_remembered_and_always_deduplicated() {
        let repeated = || {
            let mut attributes = static_collection(1);
            attributes.push(KeyValue::new(STATIC_KEYS[3], 9));
            attributes
        };
        for _ in 0..3 {
            let mut attributes = repeated();
            keep_last_value_per_key(&mut attributes);
            assert_eq!(attributes.len(), STATIC_KEYS.len());
            assert_eq!(attributes[3], KeyValue::new(STATIC_KEYS[3], 9));
            assert_eq!(remembered_bits(&repeated()), None);
        }
    }

    #[test]
    fn keys_that_are_not_static_never_match_a_remembered_set() {
        let mut remembered = static_collection(1);
        keep_last_value_per_key(&mut remembered);
        assert!(remembered_bits(&static_collection(1)).is_some());
        // The same texts, but owned (or inline): their addresses say nothing
        // of their text, so they are hashed, and a repeat among them is
        // found.
        let owned: Vec<KeyValue> = STATIC_KEYS
            .iter()
            .map(|&key| KeyValue::new(key.to_owned(), 1))
            .collect();
        assert_eq!(remembered_bits(&owned), None);
        let mut with_repeat = owned.clone();
        with_repeat[7] = KeyValue::new(STATIC_KEYS[0].to_owned(), 2);
        keep_last_value_per_key(&mut with_repeat);
        assert_eq!(with_repeat.len(), 7);
        assert_eq!(with_repeat[0], KeyValue::new(STATIC_KEYS[0], 2));
        // One key fewer, or another order: not the remembered set.
        assert_eq!(remembered_bits(&static_collection(1)[1..]), None);
        let mut reordered = static_collection(1);
        reordered.swap(2, 5);
        let mut filter = KeyFilter::default();
        let reordered_bits = filter_bits(&reordered);
        dedupe_into(&mut filter, &mut reordered);
        assert_eq!(filter.0, reordered_bits);
    }

    #[test]
    fn a_key_repeated_twice_among_others_keeps_its_last_value_in_its_first_place() {
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
            attributes,
            [
                KeyValue::new("exception.message", "third"),
                KeyValue::new("a", 2),
                KeyValue::new("b", true),
            ]
        );
        let mut none: Vec<KeyValue> = Vec::new();
        keep_last_value_per_key(&mut none);
        assert!(none.is_empty());
        let mut one = vec![KeyValue::new("", "empty key")];
        keep_last_value_per_key(&mut one);
        assert_eq!(one, [KeyValue::new("", "empty key")]);
    }

    #[test]
    fn distinct_keys_are_left_alone_whatever_the_filter_says() {
        // Keys the filter cannot tell apart from an earlier one (several of
        // these share a bit, as checked) are compared, not merged.
        let distinct: Vec<KeyValue> = (0..COMPARED_KEYS_MAX)
            .map(|index| KeyValue::new(format!("attribute.{index:02}"), index as i64))
            .collect();
        let bits: std::collections::HashSet<u128> = distinct
            .iter()
            .map(|attribute| KeyFilter::bit(&attribute.key))
            .collect();
        assert!(bits.len() < distinct.len(), "no two keys share a bit");
        let mut attributes = distinct.clone();
        let compared = comparisons_of(|| keep_last_value_per_key(&mut attributes));
        assert!(compared > 0, "no key was compared");
        assert_eq!(attributes, distinct);
    }

    #[test]
    fn dedupe_keeps_the_last_value_in_the_first_place() {
        let mut attributes = vec![
            KeyValue::new("a", 1),
            KeyValue::new("b", 2),
            KeyValue::new("a", 3),
        ];
        dedupe_keep_last(&mut attributes);
        assert_eq!(
            attributes,
            vec![KeyValue::new("a", 3), KeyValue::new("b", 2)]
        );
    }
}
