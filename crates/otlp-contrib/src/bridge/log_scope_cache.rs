//! [`LogScopeCache`]: one shared `otlp_core` scope per distinct logger scope and target.

use std::borrow::Cow;
use std::cell::RefCell;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use dashmap::DashMap;
use opentelemetry::InstrumentationScope;

use super::scope_cache::{convert_scope, same_scope, scope_hash};
use super::value_convert::str_from;

/// Most distinct (scope, target) pairs cached: a program has one per module
/// that logs, rarely more than a few hundred. Past it, scopes are converted
/// per record (correct, one allocation more).
pub(crate) const MAX_CACHED_LOG_SCOPES: usize = 4096;

/// A converted scope and what it was converted from.
#[derive(Debug)]
struct CachedLogScope {
    /// The record's target, which names the exported scope when present.
    target: Option<Cow<'static, str>>,
    source: InstrumentationScope,
    converted: Arc<otlp_core::InstrumentationScope>,
}

impl CachedLogScope {
    fn matches(&self, scope: &InstrumentationScope, target: Option<&str>) -> bool {
        self.target.as_deref() == target && same_scope(&self.source, scope)
    }
}

thread_local! {
    /// The entry this thread used last, and the cache it belongs to.
    static LAST_LOG_SCOPE: RefCell<Option<(u64, Arc<CachedLogScope>)>> = const { RefCell::new(None) };
}

/// Gives every log record of the same logger scope and target the same
/// `Arc<otlp_core::InstrumentationScope>`.
///
/// The exported scope is the logger's scope with its name replaced by the
/// record's target when the record has one, as `opentelemetry-otlp` exports
/// it (`opentelemetry-appender-tracing` gives every record its event's
/// target, a module path, under one logger named `""`).
///
/// Read path, per record: the calling thread's last entry (a thread-local:
/// a comparison of target, name, version, schema URL and attributes, then a
/// reference-count increment; no lock, no allocation); else a [`DashMap`]
/// keyed by a hash of both (a sharded read lock, and the entry's `Arc` moved
/// into the thread-local: still no allocation). A miss converts once and
/// inserts. At most [`MAX_CACHED_LOG_SCOPES`] entries are kept.
#[derive(Debug)]
pub(crate) struct LogScopeCache {
    /// Tells this cache's thread-local entries from other caches'.
    id: u64,
    scopes: DashMap<u64, Vec<Arc<CachedLogScope>>>,
    len: AtomicUsize,
}

impl Default for LogScopeCache {
    fn default() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        LogScopeCache {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            scopes: DashMap::new(),
            len: AtomicUsize::new(0),
        }
    }
}

impl LogScopeCache {
    /// The shared converted scope of a record with `target` from a logger of `scope`.
    pub(crate) fn get(
        &self,
        scope: &InstrumentationScope,
        target: Option<&Cow<'static, str>>,
    ) -> Arc<otlp_core::InstrumentationScope> {
        let target_text = target.map(|target| target.as_ref());
        let last_hit = LAST_LOG_SCOPE
            .try_with(|last| match &*last.borrow() {
                Some((id, cached)) if *id == self.id && cached.matches(scope, target_text) => {
                    Some(Arc::clone(&cached.converted))
                }
                _ => None,
            })
            .ok()
            .flatten();
        if let Some(converted) = last_hit {
            return converted;
        }
        let entry = self.shared(scope, target);
        let converted = Arc::clone(&entry.converted);
        // Fails only while the thread is being torn down: nothing to remember then.
        let _ = LAST_LOG_SCOPE.try_with(|last| *last.borrow_mut() = Some((self.id, entry)));
        converted
    }

    /// Entries cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    fn shared(
        &self,
        scope: &InstrumentationScope,
        target: Option<&Cow<'static, str>>,
    ) -> Arc<CachedLogScope> {
        let target_text = target.map(|target| target.as_ref());
        let hash = {
            let mut hasher = DefaultHasher::new();
            scope_hash(scope).hash(&mut hasher);
            target_text.hash(&mut hasher);
            hasher.finish()
        };
        if let Some(bucket) = self.scopes.get(&hash)
            && let Some(cached) = bucket
                .iter()
                .find(|cached| cached.matches(scope, target_text))
        {
            return Arc::clone(cached);
        }
        let mut converted = convert_scope(scope);
        if let Some(target) = target_text {
            converted.name = str_from(target);
        }
        let entry = Arc::new(CachedLogScope {
            // A borrowed (`'static`) target, the usual case, is not copied.
            target: target.cloned(),
            source: scope.clone(),
            converted: Arc::new(converted),
        });
        if self.len.load(Ordering::Relaxed) >= MAX_CACHED_LOG_SCOPES {
            return entry;
        }
        let mut bucket = self.scopes.entry(hash).or_default();
        // Another thread may have converted it meanwhile: share its copy.
        if let Some(cached) = bucket
            .iter()
            .find(|cached| cached.matches(scope, target_text))
        {
            return Arc::clone(cached);
        }
        bucket.push(Arc::clone(&entry));
        self.len.fetch_add(1, Ordering::Relaxed);
        entry
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::KeyValue;

    use super::*;

    fn scope(name: &'static str) -> InstrumentationScope {
        InstrumentationScope::builder(name)
            .with_version("0.33.1")
            .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
            .with_attributes([KeyValue::new("scope.attr", 7)])
            .build()
    }

    const APP: Cow<'static, str> = Cow::Borrowed("app::orders");
    const DB: Cow<'static, str> = Cow::Borrowed("app::db");

    #[test]
    fn the_target_names_the_scope_and_the_rest_is_the_loggers() {
        let cache = LogScopeCache::default();
        let converted = cache.get(&scope("logger"), Some(&APP));
        assert_eq!(converted.name, "app::orders");
        assert_eq!(converted.version, "0.33.1");
        assert_eq!(
            converted.schema_url,
            "https://opentelemetry.io/schemas/1.30.0"
        );
        assert_eq!(
            converted.attributes,
            vec![otlp_core::KeyValue::new("scope.attr", 7)]
        );
        assert_eq!(cache.get(&scope("logger"), None).name, "logger");
    }

    #[test]
    fn equal_pairs_share_one_arc_across_threads_and_interleavings() {
        let cache = Arc::new(LogScopeCache::default());
        let app = cache.get(&scope("logger"), Some(&APP));
        let db = cache.get(&scope("logger"), Some(&DB));
        let bare = cache.get(&scope("logger"), None);
        assert!(!Arc::ptr_eq(&app, &db));
        assert!(!Arc::ptr_eq(&app, &bare));
        assert!(Arc::ptr_eq(&app, &cache.get(&scope("logger"), Some(&APP))));
        let owned_target = Cow::Owned(String::from("app::orders"));
        assert!(Arc::ptr_eq(
            &app,
            &cache.get(&scope("logger"), Some(&owned_target))
        ));
        let other_thread = {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || cache.get(&scope("logger"), Some(&DB)))
                .join()
                .expect("the thread ends")
        };
        assert!(Arc::ptr_eq(&db, &other_thread));
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn a_different_logger_scope_is_a_different_entry_even_with_the_same_target() {
        let cache = LogScopeCache::default();
        let one = cache.get(&scope("one"), Some(&APP));
        let two = cache.get(&scope("two"), Some(&APP));
        assert_eq!(
            (one.name.as_str(), two.name.as_str()),
            ("app::orders", "app::orders")
        );
        assert!(!Arc::ptr_eq(&one, &two));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn two_caches_do_not_share_thread_local_entries() {
        let one = LogScopeCache::default();
        let two = LogScopeCache::default();
        let from_one = one.get(&scope("s"), Some(&APP));
        let from_two = two.get(&scope("s"), Some(&APP));
        assert!(!Arc::ptr_eq(&from_one, &from_two));
        assert_eq!(two.len(), 1);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = LogScopeCache::default();
        for i in 0..MAX_CACHED_LOG_SCOPES + 5 {
            let target = Cow::Owned(format!("module::{i}"));
            assert_eq!(cache.get(&scope("s"), Some(&target)).name, target.as_ref());
        }
        assert_eq!(cache.len(), MAX_CACHED_LOG_SCOPES);
    }
}
