//! Recycled attribute vectors: the export loop hands the emptied `Vec`s of
//! exported spans back to the threads that create spans.
//!
//! A span's attributes are its one heap allocation. Allocated on an
//! application thread and freed on the export loop, each would cost a
//! `malloc` plus a cross-thread `free` (which contends for the allocator's
//! arena lock with the producer's next `malloc`). Instead the loop clears the
//! vector (dropping its values, which for static and short strings touches
//! nothing shared) and parks it here; the next span takes it with one
//! lock-free pop. The stash is bounded; a vector that does not fit is freed.

use std::sync::OnceLock;

use crossbeam_queue::ArrayQueue;
use otlp_core::{KeyValue, SpanData};

/// Vectors kept at most (each with room for a handful of attributes).
const STASH_CAPACITY: usize = 4096;
/// Capacity given to a new vector: most spans carry a handful of attributes.
pub(crate) const FRESH_CAPACITY: usize = 8;
/// Larger vectors are freed rather than kept, so the stash stays small.
const MAX_KEPT_CAPACITY: usize = 64;

fn stash() -> &'static ArrayQueue<Vec<KeyValue>> {
    static STASH: OnceLock<ArrayQueue<Vec<KeyValue>>> = OnceLock::new();
    STASH.get_or_init(|| ArrayQueue::new(STASH_CAPACITY))
}

/// An empty vector for a new span's attributes: a recycled one if any.
#[inline]
pub(crate) fn attribute_vec() -> Vec<KeyValue> {
    stash()
        .pop()
        .unwrap_or_else(|| Vec::with_capacity(FRESH_CAPACITY))
}

/// Takes the attribute vectors out of exported spans and stashes them empty.
pub(crate) fn recycle_attributes(spans: &mut [SpanData]) {
    let stash = stash();
    for span in spans {
        let capacity = span.attributes.capacity();
        if !(FRESH_CAPACITY..=MAX_KEPT_CAPACITY).contains(&capacity) {
            continue;
        }
        let mut attributes = std::mem::take(&mut span.attributes);
        attributes.clear();
        if stash.push(attributes).is_err() {
            // Full: nothing more to keep from this batch.
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_vectors_come_back_empty_with_their_capacity() {
        let mut spans: Vec<SpanData> = (0..3)
            .map(|i| {
                SpanData::builder("s")
                    .attributes((0..FRESH_CAPACITY).map(|k| KeyValue::new("k", format!("{i}{k}"))))
                    .build()
            })
            .collect();
        recycle_attributes(&mut spans);
        assert!(spans.iter().all(|span| span.attributes.is_empty()));
        let recycled = attribute_vec();
        assert!(recycled.is_empty() && recycled.capacity() >= FRESH_CAPACITY);
    }
}
