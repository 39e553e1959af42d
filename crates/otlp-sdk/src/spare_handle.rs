//! A thread's spare handle on the batch pipeline its last span went to.
//!
//! A recording span holds a handle (an `Arc`) on the pipeline it will be
//! handed to when it ends. Cloned when the span starts and released when it
//! is dropped, that is two locked read-modify-writes per span on one
//! reference count that every producing thread shares, so with several
//! producers its cache line travels between their cores on every span.
//! Instead a span that is dropped leaves its handle here, and the next span
//! the thread starts for the same pipeline takes it: in the steady state the
//! count is not touched at all.
//!
//! The cost: a thread keeps one pipeline's shared state (its queue's slots
//! and recycled shells; not its export loop, which stops at shutdown as
//! before) allocated after the pipeline is shut down and dropped, until the
//! thread starts a span for another pipeline or exits.

use std::cell::Cell;
use std::sync::Arc;

use crate::processor::Shared;

thread_local! {
    static SPARE: Cell<Option<Arc<Shared>>> = const { Cell::new(None) };
}

/// A handle on `pipeline`: this thread's spare one if it is on `pipeline`,
/// else a clone (the spare, on another pipeline, is released).
#[inline]
pub(crate) fn take(pipeline: &Arc<Shared>) -> Arc<Shared> {
    SPARE
        .try_with(|spare| take_from(spare, pipeline))
        .unwrap_or_else(|_| Arc::clone(pipeline))
}

/// Keeps `handle` as this thread's spare (releasing the one it replaces, if
/// any: a span that ended inside another leaves one too).
#[inline]
pub(crate) fn give_back(handle: Arc<Shared>) {
    // A thread that is exiting has no spare any more: the handle is released.
    let _ = SPARE.try_with(|spare| give_back_to(spare, handle));
}

#[inline]
fn take_from<T>(spare: &Cell<Option<Arc<T>>>, wanted: &Arc<T>) -> Arc<T> {
    match spare.take() {
        Some(kept) => reuse(kept, wanted),
        None => Arc::clone(wanted),
    }
}

/// `kept` if it is `wanted`, else a clone of `wanted` (`kept` released).
#[inline]
pub(crate) fn reuse<T>(kept: Arc<T>, wanted: &Arc<T>) -> Arc<T> {
    if Arc::ptr_eq(&kept, wanted) {
        kept
    } else {
        Arc::clone(wanted)
    }
}

#[inline]
fn give_back_to<T>(spare: &Cell<Option<Arc<T>>>, handle: Arc<T>) {
    drop(spare.replace(Some(handle)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spare_handle_is_reused_for_its_own_target_only() {
        let spare = Cell::new(None);
        let pipeline = Arc::new("pipeline");
        let other = Arc::new("other");
        // Nothing spare: a clone.
        let first = take_from(&spare, &pipeline);
        assert_eq!(Arc::strong_count(&pipeline), 2);
        // Given back and taken again: the same handle, no new reference.
        give_back_to(&spare, first);
        let again = take_from(&spare, &pipeline);
        assert_eq!(Arc::strong_count(&pipeline), 2);
        // A spare on another target is released, and a clone taken.
        give_back_to(&spare, again);
        let switched = take_from(&spare, &other);
        assert_eq!(Arc::strong_count(&pipeline), 1);
        assert_eq!(Arc::strong_count(&other), 2);
        // A second handle given back replaces (releases) the first.
        give_back_to(&spare, switched);
        give_back_to(&spare, Arc::clone(&other));
        assert_eq!(Arc::strong_count(&other), 2);
        drop(spare);
        assert_eq!(Arc::strong_count(&other), 1);
    }
}
