//! The spare attribute vector of each thread: a span's (or log record's)
//! one allocation, made once per thread rather than once per record.
//!
//! Log records take part through [`Logger::attribute_vector`](crate::Logger::attribute_vector)
//! and [`Logger::emit`](crate::Logger::emit), which keeps the record's vector.
//!
//! A span's attributes live in a vector it allocates at its first attribute.
//! When the span has been encoded into a pipeline's queue, nothing needs the
//! vector any more: it is emptied (its values dropped, here, on the thread
//! that made them) and kept for this thread's next span. So is the vector of
//! start attributes given to a span that does not record (sampled out): it
//! is emptied when the span starts. It never leaves the thread, so a thread
//! keeps at most one, of at most [`MAX_KEPT_CAPACITY`] attributes.

use otlp_core::KeyValue;

/// Capacity given to a span's attribute vector at its first attribute: most
/// spans carry a handful.
const FRESH_CAPACITY: usize = 8;
/// A larger vector is freed rather than kept for the thread's next span.
const MAX_KEPT_CAPACITY: usize = 64;

thread_local! {
    /// The attribute vector of this thread's last span encoded into a
    /// pipeline, emptied, for its next span: a span's one allocation is
    /// then made once per thread, not once per span. It never leaves the
    /// thread.
    static SPARE_ATTRIBUTES: std::cell::Cell<Vec<KeyValue>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Keeps an ended span's attribute vector, emptied, for this thread's next span.
#[inline]
pub(crate) fn keep(mut attributes: Vec<KeyValue>) {
    if attributes.capacity() == 0 || attributes.capacity() > MAX_KEPT_CAPACITY {
        return;
    }
    KeyValue::clear_vec(&mut attributes);
    // A thread being torn down has no spare to keep: the vector is freed.
    let _ = SPARE_ATTRIBUTES.try_with(|spare| drop(spare.replace(attributes)));
}

/// An empty attribute vector with room: this thread's spare, or a new one.
pub(crate) fn take() -> Vec<KeyValue> {
    SPARE_ATTRIBUTES
        .try_with(std::cell::Cell::take)
        .ok()
        .filter(|spare| spare.capacity() > 0)
        .unwrap_or_else(|| Vec::with_capacity(FRESH_CAPACITY))
}
