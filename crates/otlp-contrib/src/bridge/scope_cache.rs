//! [`ScopeCache`]: one shared `otlp_core` scope per distinct `opentelemetry` scope.

use std::cell::RefCell;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use dashmap::DashMap;
use opentelemetry::{Array, KeyValue, Value};

use super::convert::{convert_attribute_plain, str_from};

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
    otlp_core::InstrumentationScope {
        name: str_from(scope.name()),
        version: scope.version().map(str_from).unwrap_or_default(),
        schema_url: scope.schema_url().map(str_from).unwrap_or_default(),
        attributes: scope.attributes().map(convert_attribute_plain).collect(),
        dropped_attributes_count: 0,
    }
}

/// A hash of the scope's contents, attributes in order (consistent with [`same_scope`]).
pub(crate) fn scope_hash(scope: &opentelemetry::InstrumentationScope) -> u64 {
    let mut hasher = DefaultHasher::new();
    scope.name().hash(&mut hasher);
    scope.version().hash(&mut hasher);
    scope.schema_url().hash(&mut hasher);
    for attribute in scope.attributes() {
        // `KeyValue`'s hash reads floats by their bits, as `same_value` compares them.
        attribute.hash(&mut hasher);
    }
    hasher.finish()
}

/// Whether two scopes have the same contents, attributes in the same order.
///
/// Unlike `opentelemetry`'s own `PartialEq` this never allocates (that one sorts
/// copies of both attribute lists) and compares floats by their bits, so a
/// scope with a NaN attribute still finds itself in the cache.
pub(crate) fn same_scope(
    a: &opentelemetry::InstrumentationScope,
    b: &opentelemetry::InstrumentationScope,
) -> bool {
    if a.name() != b.name() || a.version() != b.version() || a.schema_url() != b.schema_url() {
        return false;
    }
    let (mut a, mut b) = (a.attributes(), b.attributes());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if same_attribute(a, b) => {}
            _ => return false,
        }
    }
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
