//! [`TargetLoggers`]: one logger per event target, its scope named after
//! the target, as `opentelemetry-appender-tracing` records reach the
//! collector through `opentelemetry-otlp` (and as this crate's
//! `bridge` (`OtlpLogProcessor`) exports them).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

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
    /// The entry this thread used last, and the cache it belongs to. Weak:
    /// an entry's logger holds its provider, whose pipeline shuts down (and
    /// exports what it holds) when its last handle is dropped; a thread's
    /// last entry must not keep it alive once the layer is gone.
    static LAST_TARGET: RefCell<Option<(u64, Weak<TargetLogger>)>> = const { RefCell::new(None) };
}

/// The loggers of one provider, one per target.
///
/// Per record ([`TargetLoggers::with_logger`]): the calling thread's last
/// entry, used where the thread keeps it (a thread-local: one comparison of
/// the target's text; no lock, no allocation, no reference count written);
/// else a [`DashMap`] lookup by the target (a sharded read lock); a target
/// seen for the first time makes its logger once.
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

    /// Runs `f` on `carried` and the logger of the target `target_of` reads
    /// from it: `None` when it names none, or once [`MAX_TARGETS`] other
    /// targets have a logger. (`carried` goes through so that the target
    /// may be borrowed from it.)
    ///
    /// The thread's last entry is used in place, not cloned: a clone would
    /// write the entry's reference count twice per record, one cache line
    /// that every thread logging through the target writes. `f` may log
    /// again (a record emitted while one is): the thread's entry is then
    /// only read.
    // Inlined into its one caller: called, it copied the record's fields and
    // `f`'s captures into `pending` right after the caller wrote them, wide
    // loads over narrow stores the processor cannot forward (half of this
    // function's samples; `log_layer_threads 1`: 213 -> 204 ns per record).
    #[inline(always)]
    pub(super) fn with_logger<T>(
        &self,
        carried: T,
        target_of: impl Fn(&T) -> Option<&str>,
        f: impl FnOnce(T, Option<&Logger>),
    ) {
        let mut pending = Some((carried, f));
        let _ = LAST_TARGET.try_with(|last| {
            let Ok(last) = last.try_borrow() else {
                return;
            };
            let Some((id, entry)) = last.as_ref() else {
                return;
            };
            if *id != self.id {
                return;
            }
            // SAFETY: an entry stored under `self.id` was taken by `get`
            // from `self.loggers` (ids are never reused), which holds a
            // strong reference to it and never removes one: it lives as long
            // as `self`, borrowed for this whole call. Read through the
            // pointer rather than upgraded: an upgrade would write the
            // entry's reference count, a line every thread logging the
            // target shares.
            #[allow(unsafe_code)]
            let entry = unsafe { &*entry.as_ptr() };
            let hit = pending
                .as_ref()
                .and_then(|(carried, _)| target_of(carried))
                .is_some_and(|target| *entry.target == *target);
            if hit && let Some((carried, f)) = pending.take() {
                f(carried, Some(&entry.logger));
            }
        });
        if let Some((carried, f)) = pending {
            let entry = target_of(&carried).and_then(|target| self.get(target));
            f(carried, entry.as_deref().map(|entry| &entry.logger));
        }
    }

    /// The logger of `target`; `None` once [`MAX_TARGETS`] other targets
    /// have one.
    pub(super) fn get(&self, target: &str) -> Option<Arc<TargetLogger>> {
        let last_hit = LAST_TARGET
            .try_with(|last| match &*last.borrow() {
                Some((id, entry)) if *id == self.id => {
                    entry.upgrade().filter(|entry| *entry.target == *target)
                }
                _ => None,
            })
            .ok()
            .flatten();
        if last_hit.is_some() {
            return last_hit;
        }
        let entry = self.shared(target)?;
        // Nothing to remember while the thread is being torn down, nor while
        // `with_logger` reads the entry (a record emitted inside another).
        let _ = LAST_TARGET.try_with(|last| {
            if let Ok(mut last) = last.try_borrow_mut() {
                *last = Some((self.id, Arc::downgrade(&entry)));
            }
        });
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

    /// The scope name of the logger `with_logger` gives for `target`.
    fn scope_of(loggers: &TargetLoggers, target: &str) -> Option<String> {
        let mut seen = None;
        loggers.with_logger(
            target,
            |target| Some(*target),
            |_, logger| {
                seen = logger.map(|logger| logger.scope().name.to_string());
            },
        );
        seen
    }

    #[test]
    fn the_threads_last_entry_is_used_in_place() {
        let loggers = TargetLoggers::new(LoggerProvider::builder().build());
        // Made, and this thread's last entry.
        let entry = loggers.get("shop::orders").expect("a logger");
        let counted = Arc::strong_count(&entry);
        let mut calls = 0;
        loggers.with_logger(
            "shop::orders",
            |target| Some(*target),
            |_, logger| {
                calls += 1;
                let logger = logger.expect("a logger");
                assert_eq!(logger.scope().name.as_ref(), "shop::orders");
                // No clone of the entry while the record is made.
                assert_eq!(Arc::strong_count(&entry), counted);
            },
        );
        assert_eq!(calls, 1);
        // Another target takes the slow path and becomes the last entry.
        assert_eq!(
            scope_of(&loggers, "shop::payments").as_deref(),
            Some("shop::payments")
        );
        // No target: no logger.
        let mut got = Some(());
        loggers.with_logger((), |_| None, |_, logger| got = logger.map(|_| ()));
        assert_eq!(got, None);
    }

    #[test]
    fn a_record_made_while_another_is_gets_its_own_logger() {
        let loggers = TargetLoggers::new(LoggerProvider::builder().build());
        let _ = loggers.get("outer");
        let mut inner = None;
        loggers.with_logger(
            "outer",
            |target| Some(*target),
            |_, outer| {
                assert_eq!(outer.expect("a logger").scope().name.as_ref(), "outer");
                // Its own entry is read meanwhile: a new target is not
                // remembered then, and nothing panics.
                inner = scope_of(&loggers, "inner");
                assert_eq!(scope_of(&loggers, "outer").as_deref(), Some("outer"));
            },
        );
        assert_eq!(inner.as_deref(), Some("inner"));
        assert_eq!(scope_of(&loggers, "inner").as_deref(), Some("inner"));
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
