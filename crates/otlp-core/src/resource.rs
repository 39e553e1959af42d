//! [`Resource`]: the entity that produces telemetry (service, host, process...).

use std::sync::{Arc, OnceLock};

use crate::{AnyValue, KeyValue, Str};

/// The attributes describing what produced a span (`service.name`, `host.name`, ...).
///
/// A pipeline has one or a few resources; spans share them through an `Arc`,
/// so a span never copies its resource. Keys are unique: [`Resource::new`]
/// keeps the last value given for a key.
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
    /// A resource with these attributes; a later duplicate key replaces an earlier one.
    pub fn new(attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        let mut resource = Resource::default();
        for attribute in attributes {
            resource.set(attribute);
        }
        resource
    }

    /// The shared empty resource (one allocation per process, then refcount bumps).
    pub fn empty() -> Arc<Resource> {
        static EMPTY: OnceLock<Arc<Resource>> = OnceLock::new();
        EMPTY.get_or_init(|| Arc::new(Resource::default())).clone()
    }

    /// Sets one attribute, replacing any previous value for its key.
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

    /// A resource holding this one's attributes updated by `other`'s (other wins on conflicts).
    /// The schema URL is `other`'s when set, else this one's.
    pub fn merge(&self, other: &Resource) -> Resource {
        let mut merged = self.clone();
        for attribute in &other.attributes {
            merged.set(attribute.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

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
