//! [`TargetLoggers`]: one logger per event target, its scope named after
//! the target, as `opentelemetry-appender-tracing` records reach the
//! collector through `opentelemetry-otlp` (and as this crate's
//! `bridge` (`OtlpLogProcessor`) exports them).

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use dashmap::DashMap;
use otlp_core::InstrumentationScope;
use otlp_sdk::{Logger, LoggerProvider};

/// Most distinct targets given a logger of their own: a program has one per
/// module that logs, rarely more than a few hundred. Past it, a record goes
/// to the layer's default scope with its target as the `target` attribute.
pub(super) const MAX_TARGETS: usize = 4096;

/// A target and the logger whose scope it names.
#[derive(Debug)]
pub(super) struct TargetLogger {
    target: Box<str>,
    pub(super) logger: Logger,
}

thread_local! {
    /// The entry this thread used last, and the cache it belongs to.
    static LAST_TARGET: RefCell<Option<(u64, Arc<TargetLogger>)>> = const { RefCell::new(None) };
}

/// The loggers of one provider, one per target.
///
/// Per record: the calling thread's last entry (a thread-local: one
/// comparison of the target's text, then a reference-count increment; no
/// lock, no allocation); else a [`DashMap`] lookup by the target (a sharded
/// read lock); a target seen for the first time makes its logger once.
#[derive(Debug)]
pub(super) struct TargetLoggers {
    /// Tells this cache's thread-local entries from other caches'.
    id: u64,
    provider: LoggerProvider,
    loggers: DashMap<Box<str>, Arc<TargetLogger>>,
    len: AtomicUsize,
}

impl TargetLoggers {
    pub(super) fn new(provider: LoggerProvider) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        TargetLoggers {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            provider,
            loggers: DashMap::new(),
            len: AtomicUsize::new(0),
        }
    }

    /// The logger of `target`; `None` once [`MAX_TARGETS`] other targets
    /// have one.
    pub(super) fn get(&self, target: &str) -> Option<Arc<TargetLogger>> {
        let last_hit = LAST_TARGET
            .try_with(|last| match &*last.borrow() {
                Some((id, entry)) if *id == self.id && *entry.target == *target => {
                    Some(Arc::clone(entry))
                }
                _ => None,
            })
            .ok()
            .flatten();
        if last_hit.is_some() {
            return last_hit;
        }
        let entry = self.shared(target)?;
        // Fails only while the thread is being torn down: nothing to remember then.
        let _ =
            LAST_TARGET.try_with(|last| *last.borrow_mut() = Some((self.id, Arc::clone(&entry))));
        Some(entry)
    }

    fn shared(&self, target: &str) -> Option<Arc<TargetLogger>> {
        if let Some(entry) = self.loggers.get(target) {
            return Some(Arc::clone(&entry));
        }
        if self.len.load(Ordering::Relaxed) >= MAX_TARGETS {
            return None;
        }
        // Made before the map's shard is locked: nothing runs under it but
        // the insertion (another thread may have inserted the target
        // meanwhile: its entry wins, this one is dropped).
        let made = Arc::new(TargetLogger {
            target: Box::from(target),
            logger: self
                .provider
                .logger_with_scope(InstrumentationScope::new(target.to_owned())),
        });
        let entry = self.loggers.entry(Box::from(target)).or_insert_with(|| {
            self.len.fetch_add(1, Ordering::Relaxed);
            made
        });
        Some(Arc::clone(&entry))
    }

    /// Targets that have a logger.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_logger_per_target_its_scope_named_after_it() {
        let loggers = TargetLoggers::new(LoggerProvider::builder().build());
        let orders = loggers.get("shop::orders").expect("a logger");
        assert_eq!(orders.logger.scope().name.as_ref(), "shop::orders");
        assert!(orders.logger.scope().version.is_empty());
        let again = loggers.get("shop::orders").expect("a logger");
        assert!(Arc::ptr_eq(&orders, &again), "the same entry");
        let payments = loggers.get("shop::payments").expect("a logger");
        assert_eq!(payments.logger.scope().name.as_ref(), "shop::payments");
        // Back to the first, which is no longer this thread's last.
        assert!(Arc::ptr_eq(
            &loggers.get("shop::orders").expect("a logger"),
            &orders
        ));
        assert_eq!(loggers.len(), 2);
    }

    #[test]
    fn past_the_cap_no_more_loggers_are_made() {
        let loggers = TargetLoggers::new(LoggerProvider::builder().build());
        for index in 0..MAX_TARGETS {
            assert!(loggers.get(&format!("module_{index}")).is_some());
        }
        assert!(loggers.get("one_too_many").is_none());
        assert!(
            loggers.get("module_7").is_some(),
            "known targets keep theirs"
        );
        assert_eq!(loggers.len(), MAX_TARGETS);
    }

    #[test]
    fn two_caches_do_not_share_a_threads_last_entry() {
        let first = TargetLoggers::new(LoggerProvider::builder().with_service_name("a").build());
        let second = TargetLoggers::new(LoggerProvider::builder().with_service_name("b").build());
        let a = first.get("app").expect("a logger");
        let b = second.get("app").expect("a logger");
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(&first.get("app").expect("a logger"), &a));
    }
}
