//! [`KeyInterner`]: one shared allocation per long attribute key.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use otlp_core::Str;

/// Most distinct keys the table keeps; past it, keys are copied instead.
pub(crate) const MAX_INTERNED_KEYS: usize = 4096;

/// Longest key the table keeps; longer keys are copied (they are not names
/// a program repeats).
pub(crate) const MAX_INTERNED_KEY_LEN: usize = 256;

/// A bounded table of long attribute keys (`http.response.status_code`,
/// `messaging.destination.name`...), so that every span carrying one shares a
/// single `Arc<str>` instead of copying it.
///
/// `opentelemetry::Key` does not say whether its text is `'static`, so the
/// bridge cannot borrow it. Keys of up to 23 bytes never come here: they are
/// stored inline in [`Str`] without allocating. Longer keys are looked up
/// here: a hit is a sharded read lock and a reference-count increment, a miss
/// allocates once. The table holds at most [`MAX_INTERNED_KEYS`] keys of at
/// most [`MAX_INTERNED_KEY_LEN`] bytes; beyond that keys are copied, so a
/// program that makes up keys at run time cannot grow it without bound.
#[derive(Debug, Default)]
pub(crate) struct KeyInterner {
    keys: DashMap<Arc<str>, ()>,
    len: AtomicUsize,
}

impl KeyInterner {
    /// The shared string for `key`.
    pub(crate) fn intern(&self, key: &str) -> Str {
        if let Some(hit) = self.keys.get(key) {
            return Str::from(Arc::clone(hit.key()));
        }
        if key.len() > MAX_INTERNED_KEY_LEN || self.len.load(Ordering::Relaxed) >= MAX_INTERNED_KEYS
        {
            return Str::copy_from(key);
        }
        let shared: Arc<str> = Arc::from(key);
        match self.keys.entry(Arc::clone(&shared)) {
            // Another thread interned it meanwhile: share its copy.
            Entry::Occupied(entry) => Str::from(Arc::clone(entry.key())),
            Entry::Vacant(entry) => {
                entry.insert(());
                self.len.fetch_add(1, Ordering::Relaxed);
                Str::from(shared)
            }
        }
    }

    /// Keys held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_long_key_is_one_shared_allocation() {
        let interner = KeyInterner::default();
        let a = interner.intern("messaging.destination.name");
        let b = interner.intern(&String::from("messaging.destination.name"));
        assert_eq!(a, "messaging.destination.name");
        assert_eq!(a.as_ptr(), b.as_ptr());
        assert_eq!(interner.len(), 1);
    }

    #[test]
    fn the_table_is_bounded_and_copies_past_its_bounds() {
        let interner = KeyInterner::default();
        for i in 0..MAX_INTERNED_KEYS + 10 {
            let key = format!("a.key.long.enough.to.intern.{i}");
            assert_eq!(interner.intern(&key), key.as_str());
        }
        assert_eq!(interner.len(), MAX_INTERNED_KEYS);
        let huge = "k".repeat(MAX_INTERNED_KEY_LEN + 1);
        let a = interner.intern(&huge);
        let b = interner.intern(&huge);
        assert_eq!(a, b);
        assert_ne!(a.as_ptr(), b.as_ptr());
    }
}
