//! Recycled span shells: the export loop hands what exported spans leave
//! behind back to the threads that create spans.
//!
//! A span's attributes are its one heap allocation, and its resource and
//! scope are two shared handles. Allocated and cloned on an application
//! thread, then freed and released on the export loop, each span would cost
//! a `malloc` plus a cross-thread `free` (which contends for the allocator's
//! arena lock with the producer's next `malloc`), and two reference-count
//! increments on the producer matched by two decrements on the loop: locked
//! operations on cache lines that travel between the cores.
//!
//! Instead the loop keeps a [`Shell`] of each exported span: its attribute
//! vector, cleared (dropping its values, which for static and short strings
//! touches nothing shared), and its resource and scope handles, moved rather
//! than released. Each batch pipeline keeps its own shells; the next span of
//! a provider exporting through it takes one with a lock-free pop and, when
//! its tracer has the shell's resource and scope (the common case), uses the
//! handles as they are. The shells are bounded; those that do not fit are
//! dropped.

use std::sync::Arc;

use crossbeam_queue::ArrayQueue;
use otlp_core::{InstrumentationScope, KeyValue, Resource, SpanData};

/// Shells a pipeline keeps at most (fewer when its queue is smaller: there
/// are never more spans in flight than the queue holds plus a few batches).
const MAX_SHELLS: usize = 4096;
/// Capacity given to a new attribute vector: most spans carry a handful.
pub(crate) const FRESH_CAPACITY: usize = 8;
/// Larger attribute vectors are freed rather than kept, so shells stay small.
const MAX_KEPT_CAPACITY: usize = 64;

/// `kept` if it is `wanted`, else a clone of `wanted` (`kept` released).
#[inline]
fn reuse<T>(kept: Arc<T>, wanted: &Arc<T>) -> Arc<T> {
    if Arc::ptr_eq(&kept, wanted) {
        kept
    } else {
        Arc::clone(wanted)
    }
}

/// What an exported span leaves for a new one.
#[derive(Debug)]
pub(crate) struct Shell {
    /// Empty; with room for a handful of attributes, or none.
    attributes: Vec<KeyValue>,
    /// The exported span's resource handle.
    resource: Arc<Resource>,
    /// The exported span's scope handle.
    scope: Arc<InstrumentationScope>,
}

impl Shell {
    /// The shell's parts for a span of `resource` and `scope`: its own
    /// handles where they are the same, else clones of the ones asked for.
    #[inline]
    pub(crate) fn fit(
        self,
        resource: &Arc<Resource>,
        scope: &Arc<InstrumentationScope>,
    ) -> (Vec<KeyValue>, Arc<Resource>, Arc<InstrumentationScope>) {
        (
            self.attributes,
            reuse(self.resource, resource),
            reuse(self.scope, scope),
        )
    }
}

/// A pipeline's shells, kept by its export loop for the spans of its
/// providers: bounded, lock-free on both sides.
pub(crate) struct Shells(ArrayQueue<Shell>);

impl Shells {
    /// Room for as many shells as the pipeline's queue holds spans, up to
    /// [`MAX_SHELLS`].
    pub(crate) fn new(max_queue_size: usize) -> Self {
        Shells(ArrayQueue::new(max_queue_size.clamp(1, MAX_SHELLS)))
    }

    /// A shell for a new span, if an exported span left one.
    #[inline]
    pub(crate) fn take(&self) -> Option<Shell> {
        // Looked at first: `pop` on an empty queue costs a fence.
        if self.0.is_empty() {
            return None;
        }
        self.0.pop()
    }

    /// Frees every kept shell (at shutdown: nothing more is exported, and a
    /// shut-down pipeline keeps no memory for spans that will not come).
    pub(crate) fn clear(&self) {
        while self.0.pop().is_some() {}
    }

    /// Empties `spans` (an exported batch), keeping a shell of each span
    /// while there is room; the rest of every span is dropped here.
    pub(crate) fn recycle(&self, spans: &mut Vec<SpanData>) {
        for span in spans.drain(..) {
            let SpanData {
                mut attributes,
                resource,
                scope,
                ..
            } = span;
            if attributes.capacity() > MAX_KEPT_CAPACITY {
                attributes = Vec::new();
            }
            attributes.clear();
            let shell = Shell {
                attributes,
                resource,
                scope,
            };
            if self.0.push(shell).is_err() {
                // Full: nothing more is kept, the rest drop with the drain.
                break;
            }
        }
    }
}

impl std::fmt::Debug for Shells {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shells")
            .field("kept", &self.0.len())
            .finish()
    }
}

/// An empty vector for the attributes of a span whose shell had no room.
pub(crate) fn attribute_vec() -> Vec<KeyValue> {
    Vec::with_capacity(FRESH_CAPACITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` spans of one resource and scope, with `attributes` each.
    fn batch(count: usize, attributes: usize) -> Vec<SpanData> {
        let resource = Arc::new(Resource::new([KeyValue::new("service.name", "recycled")]));
        let scope = Arc::new(InstrumentationScope::new("recycled"));
        (0..count)
            .map(|i| {
                SpanData::builder(format!("span {i}"))
                    .attributes((0..attributes).map(|k| KeyValue::new("k", format!("{i}.{k}"))))
                    .resource(Arc::clone(&resource))
                    .scope(Arc::clone(&scope))
                    .build()
            })
            .collect()
    }

    #[test]
    fn exported_spans_come_back_as_empty_shells_with_their_handles() {
        let shells = Shells::new(16);
        let mut spans = batch(3, FRESH_CAPACITY);
        spans.extend(batch(1, MAX_KEPT_CAPACITY + 1));
        let resource = Arc::clone(&spans[0].resource);
        let scope = Arc::clone(&spans[0].scope);
        shells.recycle(&mut spans);
        assert!(spans.is_empty());
        let shells: Vec<Shell> = std::iter::from_fn(|| shells.take()).collect();
        assert_eq!(shells.len(), 4);
        assert!(shells.iter().all(|shell| shell.attributes.is_empty()));
        // The big vector was freed, the others kept with their room.
        let roomy = shells
            .iter()
            .filter(|s| s.attributes.capacity() >= FRESH_CAPACITY);
        assert_eq!(roomy.count(), 3);
        // The handles were moved, not released: still held by the shells.
        assert!(
            shells[..3]
                .iter()
                .all(|s| Arc::ptr_eq(&s.resource, &resource))
        );
        assert!(shells[..3].iter().all(|s| Arc::ptr_eq(&s.scope, &scope)));
        assert_eq!(Arc::strong_count(&resource), 1 + 3);
    }

    #[test]
    fn a_full_stash_keeps_nothing_and_the_spans_are_dropped() {
        let shells = Shells(ArrayQueue::new(2));
        let mut spans = batch(5, 2);
        let resource = Arc::clone(&spans[0].resource);
        shells.recycle(&mut spans);
        assert!(spans.is_empty());
        assert_eq!(shells.0.len(), 2);
        assert_eq!(Arc::strong_count(&resource), 1 + 2);
    }

    #[test]
    fn a_shell_fits_a_span_of_other_handles_by_cloning_them() {
        let kept = batch(1, 0).remove(0);
        let other = batch(1, 0).remove(0);
        let shell = Shell {
            attributes: Vec::new(),
            resource: Arc::clone(&kept.resource),
            scope: Arc::clone(&kept.scope),
        };
        let (_, resource, scope) = shell.fit(&other.resource, &kept.scope);
        assert!(Arc::ptr_eq(&resource, &other.resource));
        assert!(Arc::ptr_eq(&scope, &kept.scope));
        // The shell's resource handle was released, its scope handle kept.
        assert_eq!(Arc::strong_count(&kept.resource), 1);
        assert_eq!(Arc::strong_count(&kept.scope), 2);
    }
}
