//! [`Resource`]: the entity that produces telemetry (service, host, process...).
//!
//! Cost of building one: see [`Resource`]; repeated keys are settled by the
//! rule and the code the encoders write key-value lists with
//! (`encode::kv_list::keep_each_key_once`): linear in the attributes.

use std::sync::{Arc, OnceLock};

use crate::encode::kv_list::keep_each_key_once;
use crate::{AnyValue, KeyValue, Str};

/// The attributes describing what produced a span (`service.name`, `host.name`, ...).
///
/// A pipeline has one or a few resources; spans share them through an `Arc`,
/// so a span never copies its resource. Keys are unique: [`Resource::new`]
/// keeps the last value given for a key, in the place where the key first
/// appears.
///
/// Cost of building one ([`Resource::new`], [`Resource::merge`]): linear
/// in the attributes, since a configuration file may give any number of
/// them. Repeated keys are found and settled as the encoders settle a
/// key-value list's: one pass through a filter of the keys (a hash set past
/// 64 attributes), and only when a key repeats, a hash map of the keys.
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
    /// Cost: the attributes are collected into one `Vec`; without a repeated
    /// key, one more pass over them; with one, a hash map of the keys.
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
            .find(|kv| kv.key == attribute.key)
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
    /// Cost: both resources' attributes are cloned, and repeated keys
    /// settled as [`Resource::new`] settles them.
    pub fn merge(&self, other: &Resource) -> Resource {
        let mut merged = self.clone();
        merged.attributes.extend(other.attributes.iter().cloned());
        keep_each_key_once(&mut merged.attributes);
        merged.dropped_attributes_count = self
            .dropped_attributes_count
            .saturating_add(other.dropped_attributes_count);
        if !other.schema_url.is_empty() {
            merged.schema_url = other.schema_url.clone();
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Range;

    use super::*;

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

    #[test]
    fn building_and_merging_many_attributes_is_not_quadratic() {
        // A configuration file may give any number of resource attributes:
        // 20,000 took 0.8 s per provider build in release (8.9 s in debug)
        // when each one was compared with every one before it. No clock is
        // read (tests assert no times on a shared machine): with 150,000
        // attributes such a scan would keep this test running for minutes,
        // which shows; settled through a hash map, it takes milliseconds.
        const N: usize = 100_000;
        // Every key once, then the first half again with new values.
        let given = numbered(0..N, 0).chain(numbered(0..N / 2, N));
        let resource = Resource::new(given);
        assert!(
            holds_numbered(&resource, N, |i| if i < N / 2 { i + N } else { i }),
            "each key in its first place with its last value"
        );

        // Half of `other`'s keys are `resource`'s, half are new.
        let other = Resource::new(numbered(N / 2..N + N / 2, 2 * N));
        let merged = resource.merge(&other);
        assert!(
            holds_numbered(&merged, N + N / 2, |i| if i < N / 2 {
                i + N
            } else {
                i + 2 * N
            }),
            "the other's values win, its new keys go last in its order"
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
    fn new_and_merge_keep_what_set_in_a_loop_keeps() {
        // Keys drawn from a few, so that most repeat, in many arrangements,
        // short (the encoders' filter) and long (their hash set): `new` and
        // `merge` keep what `Resource::set` one attribute at a time keeps.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for len in [0, 1, 2, 5, 16, 17, 40, 64, 65, 300] {
            for distinct in [1, 3, 17, 64, 1000] {
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
                let (front, back) = given.split_at(len / 3);
                let merged = Resource::new(front.to_vec()).merge(&Resource::new(back.to_vec()));
                assert_eq!(
                    merged.attributes, expected.attributes,
                    "{len} of {distinct}"
                );
                let built = Resource::new(given);
                assert_eq!(built.attributes, expected.attributes, "{len} of {distinct}");
            }
        }
    }

    #[test]
    fn merging_many_attributes_into_a_few_keeps_the_order_rule() {
        let base = Resource::new([KeyValue::new("k.3", "base"), KeyValue::new("b", "base")]);
        let other = Resource::new(numbered(0..20, 0));
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
