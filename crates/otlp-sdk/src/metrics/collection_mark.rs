//! Which collection the calling thread is running the callbacks of.
//!
//! A provider's collection marks its thread with an id of its own while it
//! runs the observable instruments' callbacks ([`CollectionMark`]), so that
//! callbacks that read one source for several instruments
//! ([`observe_pipeline`](super::observe_pipeline): sixteen instruments, one
//! `StatsSnapshot`) read it once per collection ([`current`]) and their
//! points agree with each other. Ids are unique in the process, so two
//! providers, or two collections of one provider running at once on two
//! threads, never share one.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// The next collection's id; 0 is "no collection".
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The id of the collection this thread is running callbacks for; 0:
    /// none.
    static CURRENT: Cell<u64> = const { Cell::new(0) };
}

/// The id of the collection whose callbacks the calling thread is running,
/// if any.
pub(crate) fn current() -> Option<u64> {
    let id = CURRENT.try_with(Cell::get).unwrap_or(0);
    (id != 0).then_some(id)
}

/// Marks the thread with a new collection id until dropped; puts back what
/// was there (a collection started inside a callback of another one).
pub(crate) struct CollectionMark(u64);

impl CollectionMark {
    pub(crate) fn new() -> Self {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        CollectionMark(CURRENT.try_with(|current| current.replace(id)).unwrap_or(0))
    }
}

impl Drop for CollectionMark {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.set(self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_gives_a_new_id_and_puts_back_the_outer_one() {
        assert_eq!(current(), None);
        let outer = CollectionMark::new();
        let first = current().expect("marked");
        {
            let _inner = CollectionMark::new();
            let second = current().expect("marked");
            assert_ne!(first, second);
        }
        assert_eq!(current(), Some(first));
        drop(outer);
        assert_eq!(current(), None);
        let _again = CollectionMark::new();
        assert_ne!(current(), Some(first), "ids are not reused");
    }
}
