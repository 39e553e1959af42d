//! [`Resource`]: the entity that produces telemetry (service, host, process...).
//!
//! Cost of building one: see [`Resource`]; repeated keys are found pairwise
//! up to [`PAIRWISE_MAX`] attributes, through an index sorted by key past it.

use std::sync::{Arc, OnceLock};

use crate::{AnyValue, KeyValue, Str};

/// Up to this many attributes, repeated keys are found by comparing each key
/// with the ones kept before it: at most 120 comparisons and no allocation,
/// cheaper than sorting an index for the few attributes a resource has.
/// Past it, an index sorted by key finds them (n log n comparisons).
const PAIRWISE_MAX: usize = 16;

/// The attributes describing what produced a span (`service.name`, `host.name`, ...).
///
/// A pipeline has one or a few resources; spans share them through an `Arc`,
/// so a span never copies its resource. Keys are unique: [`Resource::new`]
/// keeps the last value given for a key, in the place where the key first
/// appears.
///
/// Cost of building one ([`Resource::new`], [`Resource::merge`]): up to 16
/// attributes, each key is compared with the ones kept before it, without
/// allocating; past that, through an index sorted by key (n log n key
/// comparisons, two `usize` per attribute for the time of the call), since
/// a configuration file may give any number of attributes.
///
/// ```
/// use otlp_core::{KeyValue, Resource};
///
/// let resource = Resource::new([
///     KeyValue::new("service.name", "checkout"),
///     KeyValue::new("service.version", "1.4.2"),
/// ]);
/// assert_eq!(resource.service_name(), Some("checkout"));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource {
    /// The attributes, each key once.
    pub attributes: Vec<KeyValue>,
    /// Attributes discarded before this resource was built.
    pub dropped_attributes_count: u32,
    /// Schema URL the attribute names follow (`""` if none).
    pub schema_url: Str,
}

impl Resource {
    /// A resource with these attributes; a later duplicate key replaces an
    /// earlier one's value, in the place where the key first appears.
    ///
    /// Cost: the attributes are collected into one `Vec`; repeated keys are
    /// found in n log n key comparisons at most (see [`Resource`]).
    pub fn new(attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        let mut attributes: Vec<KeyValue> = attributes.into_iter().collect();
        keep_each_key_once(&mut attributes);
        Resource {
            attributes,
            ..Resource::default()
        }
    }

    /// The shared empty resource (one allocation per process, then refcount bumps).
    pub fn empty() -> Arc<Resource> {
        static EMPTY: OnceLock<Arc<Resource>> = OnceLock::new();
        EMPTY.get_or_init(|| Arc::new(Resource::default())).clone()
    }

    /// Sets one attribute, replacing any previous value for its key (in its
    /// place). Cost: one pass over the attributes.
    pub fn set(&mut self, attribute: KeyValue) {
        match self
            .attributes
            .iter_mut()
            .find(|kv| same_key(kv, &attribute))
        {
            Some(existing) => existing.value = attribute.value,
            None => self.attributes.push(attribute),
        }
    }

    /// This resource with a schema URL.
    pub fn with_schema_url(mut self, schema_url: impl Into<Str>) -> Self {
        self.schema_url = schema_url.into();
        self
    }

    /// Whether the two resources encode to the same OTLP bytes: `==`, but
    /// with double attributes compared by bit pattern ([`AnyValue::wire_eq`]).
    /// Encoders group records by this, so that resources differing only by
    /// `0.0` and `-0.0` stay apart and equal ones holding a NaN share a group.
    pub fn wire_eq(&self, other: &Resource) -> bool {
        self.dropped_attributes_count == other.dropped_attributes_count
            && self.schema_url == other.schema_url
            && KeyValue::all_wire_eq(&self.attributes, &other.attributes)
    }

    /// The value of an attribute.
    pub fn get(&self, key: &str) -> Option<&AnyValue> {
        self.attributes
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| &kv.value)
    }

    /// The `service.name` attribute, if it is a string.
    pub fn service_name(&self) -> Option<&str> {
        self.get("service.name").and_then(AnyValue::as_str)
    }

    /// A resource holding this one's attributes updated by `other`'s (other
    /// wins on conflicts, in this one's place; `other`'s new keys follow, in
    /// its order). The dropped attribute counts add up.
    ///
    /// The schema URL is `other`'s when set, else this one's. When both are
    /// set and differ, the specification calls the merge an error whose
    /// result is undefined (and `opentelemetry_sdk` clears the URL); this
    /// merge keeps `other`'s, the updating resource's, as when they agree.
    ///
    /// ```
    /// use otlp_core::{KeyValue, Resource};
    ///
    /// let detected = Resource::new([KeyValue::new("host.name", "a")])
    ///     .with_schema_url("https://opentelemetry.io/schemas/1.24.0");
    /// let given = Resource::new([KeyValue::new("service.name", "checkout")])
    ///     .with_schema_url("https://opentelemetry.io/schemas/1.26.0");
    /// let merged = detected.merge(&given);
    /// assert_eq!(merged.schema_url, "https://opentelemetry.io/schemas/1.26.0");
    /// assert_eq!(merged.attributes.len(), 2);
    /// ```
    ///
    /// Cost: both resources' attributes are cloned; up to 16 of `other`'s
    /// are looked up one by one, more in n log n key comparisons (see
    /// [`Resource`]).
    pub fn merge(&self, other: &Resource) -> Resource {
        let mut merged = self.clone();
        if other.attributes.len() <= PAIRWISE_MAX {
            for attribute in &other.attributes {
                merged.set(attribute.clone());
            }
        } else {
            merged.attributes.extend(other.attributes.iter().cloned());
            keep_each_key_once(&mut merged.attributes);
        }
        merged.dropped_attributes_count = self
            .dropped_attributes_count
            .saturating_add(other.dropped_attributes_count);
        if !other.schema_url.is_empty() {
            merged.schema_url = other.schema_url.clone();
        }
        merged
    }
}

/// Removes repeated keys from `attributes`: each key stays in the place where
/// it first appears, with the last value given for it.
fn keep_each_key_once(attributes: &mut Vec<KeyValue>) {
    if attributes.len() <= PAIRWISE_MAX {
        keep_each_key_once_pairwise(attributes);
    } else {
        keep_each_key_once_sorted(attributes);
    }
}

/// [`keep_each_key_once`] comparing each key with the ones kept before it.
fn keep_each_key_once_pairwise(attributes: &mut Vec<KeyValue>) {
    // `attributes[..kept]` are the keys kept so far, each with the latest
    // value seen for it; `attributes[kept..index]` are spent repeats.
    let mut kept = 0;
    for index in 0..attributes.len() {
        let (before, from_here) = attributes.split_at_mut(index);
        let attribute = &mut from_here[0];
        match before[..kept]
            .iter_mut()
            .find(|earlier| same_key(earlier, attribute))
        {
            Some(earlier) => std::mem::swap(&mut earlier.value, &mut attribute.value),
            None => {
                attributes.swap(kept, index);
                kept += 1;
            }
        }
    }
    attributes.truncate(kept);
}

/// [`keep_each_key_once`] through an index sorted by key (then by place).
fn keep_each_key_once_sorted(attributes: &mut Vec<KeyValue>) {
    /// In `last_of`, at a repeat's place.
    const REPEAT: usize = usize::MAX;
    let mut order: Vec<usize> = (0..attributes.len()).collect();
    order.sort_unstable_by(|&a, &b| compare_keys(&attributes[a], &attributes[b]).then(a.cmp(&b)));
    // At each key's first place, the place of its last value; `REPEAT` at
    // every later place of a key.
    let mut last_of = vec![REPEAT; attributes.len()];
    for places in order.chunk_by(|&a, &b| same_key(&attributes[a], &attributes[b])) {
        if let (Some(&first), Some(&last)) = (places.first(), places.last()) {
            last_of[first] = last;
        }
    }
    drop(order);
    // As in the pairwise pass: `attributes[..kept]` are kept, the places
    // from `kept` to `index` are spent. A key's last place comes after its
    // first, so it is still untouched when its value is taken.
    let mut kept = 0;
    for (index, &last) in last_of.iter().enumerate() {
        if last == REPEAT {
            continue;
        }
        if last != index {
            let (first, from_last) = attributes.split_at_mut(last);
            std::mem::swap(&mut first[index].value, &mut from_last[0].value);
        }
        attributes.swap(kept, index);
        kept += 1;
    }
    attributes.truncate(kept);
}

/// Whether two attributes have the same key (counted in tests, which pin
/// how many comparisons building a resource takes).
fn same_key(a: &KeyValue, b: &KeyValue) -> bool {
    #[cfg(test)]
    tests::count_key_comparison();
    a.key == b.key
}

/// The order of two attributes' keys (counted in tests, as [`same_key`]).
fn compare_keys(a: &KeyValue, b: &KeyValue) -> std::cmp::Ordering {
    #[cfg(test)]
    tests::count_key_comparison();
    a.key.cmp(&b.key)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::ops::Range;

    use super::*;

    thread_local! {
        /// Key comparisons made on this thread (each test runs on its own).
        static KEY_COMPARISONS: Cell<u64> = const { Cell::new(0) };
    }

    pub(super) fn count_key_comparison() {
        KEY_COMPARISONS.with(|count| count.set(count.get() + 1));
    }

    /// What `build` gives, and how many key comparisons it made.
    fn counting_key_comparisons<T>(build: impl FnOnce() -> T) -> (T, u64) {
        KEY_COMPARISONS.with(|count| count.set(0));
        let built = build();
        (built, KEY_COMPARISONS.with(Cell::get))
    }

    /// Attributes `k.<i>` for each `i` of `keys`, valued `i + offset`.
    fn numbered(keys: Range<usize>, offset: usize) -> impl Iterator<Item = KeyValue> {
        keys.map(move |i| KeyValue::new(format!("k.{i}"), (i + offset) as i64))
    }

    /// Whether `resource` holds `k.0` to `k.<len - 1>` in that order, each
    /// valued by `value(i)`.
    fn holds_numbered(resource: &Resource, len: usize, value: impl Fn(usize) -> usize) -> bool {
        resource.attributes.len() == len
            && resource.attributes.iter().enumerate().all(|(i, kv)| {
                kv.key == format!("k.{i}").as_str() && kv.value == AnyValue::Int(value(i) as i64)
            })
    }

    /// At most 4 n log2 n: what a sort of the keys costs, with room to spare;
    /// a scan of the attributes already there per attribute costs n² / 2.
    fn n_log_n_bound(n: usize) -> u64 {
        4 * n as u64 * u64::from(n.ilog2() + 1)
    }

    #[test]
    fn building_and_merging_compare_keys_n_log_n_times_not_once_per_pair() {
        // A configuration file may give any number of resource attributes:
        // 20,000 took 0.8 s per provider build in release when each one was
        // compared with every one before it.
        const N: usize = 4_096;
        // Every key once, then the first half again with new values.
        let given = numbered(0..N, 0).chain(numbered(0..N / 2, N));
        let (resource, comparisons) = counting_key_comparisons(|| Resource::new(given));
        assert!(
            holds_numbered(&resource, N, |i| if i < N / 2 { i + N } else { i }),
            "each key in its first place with its last value"
        );
        assert!(
            comparisons <= n_log_n_bound(N + N / 2),
            "{comparisons} key comparisons to build from {} attributes",
            N + N / 2
        );

        // Half of `other`'s keys are `resource`'s, half are new.
        let other = Resource::new(numbered(N / 2..N + N / 2, 2 * N));
        let (merged, comparisons) = counting_key_comparisons(|| resource.merge(&other));
        assert!(
            holds_numbered(&merged, N + N / 2, |i| if i < N / 2 {
                i + N
            } else {
                i + 2 * N
            }),
            "the other's values win, its new keys go last in its order"
        );
        assert!(
            comparisons <= n_log_n_bound(2 * N),
            "{comparisons} key comparisons to merge {N} attributes into {N}"
        );
    }

    #[test]
    fn each_key_keeps_its_first_place_and_its_last_value() {
        let resource = Resource::new([
            KeyValue::new("a", 1),
            KeyValue::new("b", 1),
            KeyValue::new("a", 2),
            KeyValue::new("c", 1),
            KeyValue::new("b", 2),
            KeyValue::new("a", 3),
        ]);
        assert_eq!(
            resource.attributes,
            [
                KeyValue::new("a", 3),
                KeyValue::new("b", 2),
                KeyValue::new("c", 1)
            ]
        );
    }

    #[test]
    fn the_pairwise_and_the_sorted_passes_keep_the_same_attributes() {
        // Keys drawn from a few, so that most repeat, in many arrangements;
        // the pairwise pass is `Resource::set` in a loop, the old `new`.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for len in [0, 1, 2, 5, PAIRWISE_MAX, PAIRWISE_MAX + 1, 40, 300] {
            for distinct in [1, 3, 17, 64] {
                let given: Vec<KeyValue> = (0..len)
                    .map(|value| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        KeyValue::new(format!("k{}", state % distinct), value as i64)
                    })
                    .collect();
                let mut expected = Resource::default();
                for attribute in given.clone() {
                    expected.set(attribute);
                }
                let mut pairwise = given.clone();
                keep_each_key_once_pairwise(&mut pairwise);
                let mut sorted = given;
                keep_each_key_once_sorted(&mut sorted);
                assert_eq!(pairwise, expected.attributes, "{len} of {distinct}");
                assert_eq!(sorted, expected.attributes, "{len} of {distinct}");
            }
        }
    }

    #[test]
    fn merging_many_attributes_into_a_few_keeps_the_order_rule() {
        let base = Resource::new([KeyValue::new("k.3", "base"), KeyValue::new("b", "base")]);
        let other = Resource::new(numbered(0..PAIRWISE_MAX + 4, 0));
        let merged = base.merge(&other);
        let mut expected = base.clone();
        for attribute in other.attributes {
            expected.set(attribute);
        }
        assert_eq!(merged, expected);
        assert_eq!(merged.attributes[0], KeyValue::new("k.3", 3));
    }

    #[test]
    fn merging_two_different_schema_urls_keeps_the_updating_ones() {
        let base = Resource::new([KeyValue::new("a", 1)]).with_schema_url("https://a/1.0");
        let over = Resource::new([KeyValue::new("b", 1)]).with_schema_url("https://b/2.0");
        assert_eq!(base.merge(&over).schema_url, "https://b/2.0");
        assert_eq!(over.merge(&base).schema_url, "https://a/1.0");
        let unset = Resource::new([KeyValue::new("c", 1)]);
        assert_eq!(base.merge(&unset).schema_url, "https://a/1.0");
        assert_eq!(unset.merge(&base).schema_url, "https://a/1.0");
    }

    #[test]
    fn later_duplicate_keys_win() {
        let resource = Resource::new([KeyValue::new("k", 1), KeyValue::new("k", 2)]);
        assert_eq!(resource.attributes.len(), 1);
        assert_eq!(resource.get("k"), Some(&AnyValue::Int(2)));
    }

    #[test]
    fn merge_prefers_the_other_resource() {
        let base = Resource::new([KeyValue::new("a", "1"), KeyValue::new("b", "1")]);
        let over = Resource::new([KeyValue::new("b", "2")]).with_schema_url("s");
        let merged = base.merge(&over);
        assert_eq!(merged.get("a").and_then(AnyValue::as_str), Some("1"));
        assert_eq!(merged.get("b").and_then(AnyValue::as_str), Some("2"));
        assert_eq!(merged.schema_url, "s");
    }

    #[test]
    fn empty_resource_is_shared() {
        assert!(Arc::ptr_eq(&Resource::empty(), &Resource::empty()));
    }
}
