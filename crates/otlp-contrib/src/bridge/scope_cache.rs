//! [`ScopeCache`]: one shared `otlp_core` scope per distinct `opentelemetry` scope.

use std::cell::RefCell;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use dashmap::DashMap;
use opentelemetry::{Array, KeyValue, Value};

use super::value_convert::{convert_attribute_plain, str_from};

/// Most distinct scopes cached; past it, scopes are converted per span.
pub(crate) const MAX_CACHED_SCOPES: usize = 1024;

/// A converted scope and the `opentelemetry` scope it came from.
#[derive(Debug)]
struct CachedScope {
    source: opentelemetry::InstrumentationScope,
    converted: Arc<otlp_core::InstrumentationScope>,
}

thread_local! {
    /// The last scope this thread converted, and the cache it belongs to.
    static LAST_SCOPE: RefCell<Option<(u64, CachedScope)>> = const { RefCell::new(None) };
}

/// Gives every span of the same instrumentation scope the same
/// `Arc<otlp_core::InstrumentationScope>`.
///
/// The `opentelemetry` SDK hands each finished span its own copy of its
/// tracer's scope. Converting it per span would allocate, and spans would
/// carry distinct `Arc`s, so grouping them by scope at encode time would fall
/// back to comparing contents. This cache converts each distinct scope once.
///
/// Read path: first the calling thread's last hit (a thread-local, no lock and
/// no shared write: one span after another from the same tracer, the common
/// case, costs a comparison of the scope's name, version, schema URL and
/// attributes plus a reference-count increment); then a [`DashMap`] keyed by
/// a hash of the scope's contents (a sharded read lock). A miss converts and
/// inserts. At most [`MAX_CACHED_SCOPES`] scopes are kept; past that, scopes are
/// converted per span (correct, only slower).
#[derive(Debug)]
pub(crate) struct ScopeCache {
    /// Tells this cache's thread-local entries from other caches'.
    id: u64,
    scopes: DashMap<u64, Vec<CachedScope>>,
    len: AtomicUsize,
}

impl Default for ScopeCache {
    fn default() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        ScopeCache {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            scopes: DashMap::new(),
            len: AtomicUsize::new(0),
        }
    }
}

impl ScopeCache {
    /// The shared converted form of `scope`.
    pub(crate) fn get(
        &self,
        scope: opentelemetry::InstrumentationScope,
    ) -> Arc<otlp_core::InstrumentationScope> {
        let last_hit = LAST_SCOPE
            .try_with(|last| match &*last.borrow() {
                Some((id, cached)) if *id == self.id && same_scope(&cached.source, &scope) => {
                    Some(Arc::clone(&cached.converted))
                }
                _ => None,
            })
            .ok()
            .flatten();
        if let Some(converted) = last_hit {
            return converted;
        }
        let converted = self.shared(&scope);
        let remembered = CachedScope {
            source: scope,
            converted: Arc::clone(&converted),
        };
        // Fails only while the thread is being torn down: nothing to remember then.
        let _ = LAST_SCOPE.try_with(|last| *last.borrow_mut() = Some((self.id, remembered)));
        converted
    }

    /// Scopes cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    fn shared(
        &self,
        scope: &opentelemetry::InstrumentationScope,
    ) -> Arc<otlp_core::InstrumentationScope> {
        let hash = scope_hash(scope);
        if let Some(bucket) = self.scopes.get(&hash)
            && let Some(cached) = bucket
                .iter()
                .find(|cached| same_scope(&cached.source, scope))
        {
            return Arc::clone(&cached.converted);
        }
        let converted = Arc::new(convert_scope(scope));
        if self.len.load(Ordering::Relaxed) >= MAX_CACHED_SCOPES {
            return converted;
        }
        let mut bucket = self.scopes.entry(hash).or_default();
        // Another thread may have converted it meanwhile: share its copy.
        if let Some(cached) = bucket
            .iter()
            .find(|cached| same_scope(&cached.source, scope))
        {
            return Arc::clone(&cached.converted);
        }
        bucket.push(CachedScope {
            source: scope.clone(),
            converted: Arc::clone(&converted),
        });
        self.len.fetch_add(1, Ordering::Relaxed);
        converted
    }
}

/// Converts a scope (cold path: once per distinct scope).
pub(crate) fn convert_scope(
    scope: &opentelemetry::InstrumentationScope,
) -> otlp_core::InstrumentationScope {
    let mut attributes = scope.attributes().map(convert_attribute_plain).collect();
    otlp_sdk::keep_last_value_per_key(&mut attributes);
    otlp_core::InstrumentationScope {
        name: str_from(scope.name()),
        version: scope.version().map(str_from).unwrap_or_default(),
        schema_url: scope.schema_url().map(str_from).unwrap_or_default(),
        attributes,
        dropped_attributes_count: 0,
    }
}

/// A hash of the scope's contents, attributes in any order (consistent with
/// [`same_scope`]): the attributes' own hashes are summed. Read on a miss of
/// the thread-local entry only; one hasher per attribute.
pub(crate) fn scope_hash(scope: &opentelemetry::InstrumentationScope) -> u64 {
    let mut hasher = DefaultHasher::new();
    scope.name().hash(&mut hasher);
    scope.version().hash(&mut hasher);
    scope.schema_url().hash(&mut hasher);
    let (mut attributes, mut count) = (0u64, 0usize);
    for attribute in scope.attributes() {
        // `KeyValue`'s hash reads floats by their bits, as `same_value` compares them.
        let mut own = DefaultHasher::new();
        attribute.hash(&mut own);
        attributes = attributes.wrapping_add(own.finish());
        count += 1;
    }
    attributes.hash(&mut hasher);
    count.hash(&mut hasher);
    hasher.finish()
}

/// Whether two scopes have the same contents, attributes in any order:
/// `opentelemetry`'s scopes compare their attributes as a set (its
/// `PartialEq` and `Hash` sort them by key), so `opentelemetry-otlp` exports
/// the spans of two tracers whose scopes differ only in attribute order as
/// one scope, and so must the bridge.
///
/// Cost: attributes in the same order (the thread-local hit: the same tracer
/// again) are compared once, in order; other orders count each attribute's
/// occurrences in both lists (quadratic in the attribute count, a few at
/// most on a scope). Never allocates, unlike `opentelemetry`'s `PartialEq`
/// (which sorts copies of both lists), and compares floats by their bits, so
/// a scope with a NaN attribute still finds itself in the cache.
pub(crate) fn same_scope(
    a: &opentelemetry::InstrumentationScope,
    b: &opentelemetry::InstrumentationScope,
) -> bool {
    if a.name() != b.name() || a.version() != b.version() || a.schema_url() != b.schema_url() {
        return false;
    }
    let (mut left, mut right) = (a.attributes(), b.attributes());
    loop {
        match (left.next(), right.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if same_attribute(x, y) => {}
            (Some(_), Some(_)) => break,
            _ => return false,
        }
    }
    let occurrences = |scope: &opentelemetry::InstrumentationScope, attribute: &KeyValue| {
        scope
            .attributes()
            .filter(|other| same_attribute(attribute, other))
            .count()
    };
    a.attributes().count() == b.attributes().count()
        && a.attributes()
            .all(|attribute| occurrences(a, attribute) == occurrences(b, attribute))
}

fn same_attribute(a: &KeyValue, b: &KeyValue) -> bool {
    a.key == b.key && same_value(&a.value, &b.value)
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F64(a), Value::F64(b)) => a.to_bits() == b.to_bits(),
        (Value::Array(Array::F64(a)), Value::Array(Array::F64(b))) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits())
        }
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(name: &'static str, attributes: Vec<KeyValue>) -> opentelemetry::InstrumentationScope {
        opentelemetry::InstrumentationScope::builder(name)
            .with_version("1.2.3")
            .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
            .with_attributes(attributes)
            .build()
    }

    #[test]
    fn equal_scopes_share_one_arc_across_threads() {
        let cache = Arc::new(ScopeCache::default());
        let first = cache.get(scope("db", vec![KeyValue::new("pool", 3)]));
        let again = cache.get(scope("db", vec![KeyValue::new("pool", 3)]));
        assert!(Arc::ptr_eq(&first, &again));
        let other_thread = {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || cache.get(scope("db", vec![KeyValue::new("pool", 3)])))
                .join()
                .unwrap()
        };
        assert!(Arc::ptr_eq(&first, &other_thread));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn different_scopes_get_different_arcs_even_when_interleaved() {
        let cache = ScopeCache::default();
        let a = cache.get(scope("a", vec![]));
        let b = cache.get(scope("b", vec![]));
        let b_other_version = cache.get(
            opentelemetry::InstrumentationScope::builder("b")
                .with_version("2")
                .build(),
        );
        let b_other_attribute = cache.get(scope("b", vec![KeyValue::new("k", 1)]));
        assert!(!Arc::ptr_eq(&a, &b));
        assert_ne!(*b, *b_other_version);
        assert_ne!(*b, *b_other_attribute);
        assert!(Arc::ptr_eq(&a, &cache.get(scope("a", vec![]))));
        assert!(Arc::ptr_eq(&b, &cache.get(scope("b", vec![]))));
        assert_eq!(cache.len(), 4);
    }

    #[test]
    fn two_caches_do_not_share_thread_local_entries() {
        let one = ScopeCache::default();
        let two = ScopeCache::default();
        let from_one = one.get(scope("s", vec![]));
        let from_two = two.get(scope("s", vec![]));
        assert!(!Arc::ptr_eq(&from_one, &from_two));
        assert_eq!(two.len(), 1);
    }

    /// `opentelemetry` compares scopes' attributes as a set: two tracers
    /// whose scopes differ only in attribute order are one scope to
    /// `opentelemetry-otlp`, and must share one converted scope (one scope
    /// group in the request), through the thread-local entry and the map.
    #[test]
    fn scopes_differing_only_in_attribute_order_share_one_arc() {
        let cache = ScopeCache::default();
        let (a, b, c) = (
            KeyValue::new("a", 1),
            KeyValue::new("b", "two"),
            KeyValue::new("c", 3.5),
        );
        let first = cache.get(scope("s", vec![a.clone(), b.clone(), c.clone()]));
        let reordered = cache.get(scope("s", vec![c.clone(), a.clone(), b.clone()]));
        assert!(Arc::ptr_eq(&first, &reordered));
        let _ = cache.get(scope("reset the thread-local entry", vec![]));
        let reordered = cache.get(scope("s", vec![b.clone(), c.clone(), a.clone()]));
        assert!(Arc::ptr_eq(&first, &reordered));
        assert_eq!(cache.len(), 2);
        // The same attributes counted differently are another scope.
        let twice_a = cache.get(scope("s", vec![a.clone(), a.clone(), b.clone()]));
        let twice_b = cache.get(scope("s", vec![a.clone(), b.clone(), b.clone()]));
        assert!(!Arc::ptr_eq(&twice_a, &twice_b));
        assert!(!Arc::ptr_eq(&first, &cache.get(scope("s", vec![a, b]))));
        assert_eq!(cache.len(), 5);
    }

    #[test]
    fn a_nan_attribute_still_hits_the_cache() {
        let cache = ScopeCache::default();
        let nan = || scope("nan", vec![KeyValue::new("x", f64::NAN)]);
        let first = cache.get(nan());
        let _ = cache.get(scope("reset the thread-local entry", vec![]));
        assert!(Arc::ptr_eq(&first, &cache.get(nan())));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn conversion_keeps_every_field() {
        let converted = convert_scope(&scope("lib", vec![KeyValue::new("k", "v")]));
        assert_eq!(converted.name, "lib");
        assert_eq!(converted.version, "1.2.3");
        assert_eq!(
            converted.schema_url,
            "https://opentelemetry.io/schemas/1.30.0"
        );
        assert_eq!(
            converted.attributes,
            vec![otlp_core::KeyValue::new("k", "v")]
        );
        let bare = convert_scope(&opentelemetry::InstrumentationScope::builder("bare").build());
        assert_eq!((bare.version.as_str(), bare.schema_url.as_str()), ("", ""));
    }
}
