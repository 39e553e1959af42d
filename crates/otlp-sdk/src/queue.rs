//! [`SpanQueue`]: the bounded lock-free queue between producers and the export loop.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::Instant;

use crossbeam_queue::ArrayQueue;
use otlp_core::SpanData;

/// Finished spans waiting for the export loop.
///
/// Producers `push` without blocking, locking or allocating (the slots are
/// allocated once, up front). The loop is woken only when it sleeps *and* a
/// batch's worth is waiting: one `unpark` (a futex wake) per sleep, never one
/// per span.
///
/// The wake-up cannot be lost: the loop sets `loop_sleeping` and then checks
/// the length; a producer pushes (a `SeqCst` compare-exchange inside the
/// queue) and then reads `loop_sleeping`, both `SeqCst`, so at least one of the
/// two sees the other. An `unpark` before the loop parks makes the park return
/// at once.
#[derive(Debug)]
pub(crate) struct SpanQueue {
    spans: ArrayQueue<SpanData>,
    /// Queue length at which a sleeping loop is woken (the current batch size).
    wake_at: AtomicUsize,
    loop_sleeping: AtomicBool,
    loop_thread: OnceLock<Thread>,
}

impl SpanQueue {
    pub(crate) fn new(capacity: usize, wake_at: usize) -> Self {
        SpanQueue {
            spans: ArrayQueue::new(capacity.max(1)),
            wake_at: AtomicUsize::new(wake_at.max(1)),
            loop_sleeping: AtomicBool::new(false),
            loop_thread: OnceLock::new(),
        }
    }

    /// Records which thread to wake (the export loop); set once at start.
    pub(crate) fn set_loop_thread(&self, thread: Thread) {
        let _ = self.loop_thread.set(thread);
    }

    /// Adds a span, or gives it back if the queue is full.
    // The span itself is the error value, handed back by move as ArrayQueue does: boxing it
    // would put an allocation on the hot path.
    #[allow(clippy::result_large_err)]
    #[inline]
    pub(crate) fn push(&self, span: SpanData) -> Result<(), SpanData> {
        self.spans.push(span)?;
        if self.loop_sleeping.load(Ordering::SeqCst)
            && self.spans.len() >= self.wake_at.load(Ordering::Relaxed)
        {
            self.wake_loop();
        }
        Ok(())
    }

    /// Wakes the loop if it sleeps waiting for spans.
    pub(crate) fn wake_loop(&self) {
        if self.loop_sleeping.swap(false, Ordering::SeqCst) {
            self.unpark_loop();
        }
    }

    /// Wakes the loop whatever it waits for (commands, finished exports).
    pub(crate) fn unpark_loop(&self) {
        if let Some(thread) = self.loop_thread.get() {
            thread.unpark();
        }
    }

    pub(crate) fn pop(&self) -> Option<SpanData> {
        self.spans.pop()
    }

    /// Moves up to `max` spans into `batch`; returns how many.
    pub(crate) fn pop_into(&self, batch: &mut Vec<SpanData>, max: usize) -> usize {
        let start = batch.len();
        while batch.len() - start < max {
            match self.spans.pop() {
                Some(span) => batch.push(span),
                None => break,
            }
        }
        batch.len() - start
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.spans.capacity()
    }

    pub(crate) fn set_wake_at(&self, wake_at: usize) {
        self.wake_at.store(wake_at.max(1), Ordering::Relaxed);
    }

    /// Parks the calling (loop) thread until `deadline`, an unpark, or — when
    /// `wake_on_spans` — a batch's worth of spans. Returns at once if `ready()`
    /// holds after announcing the sleep.
    pub(crate) fn park_loop(
        &self,
        deadline: Instant,
        wake_on_spans: bool,
        ready: impl Fn() -> bool,
    ) {
        if wake_on_spans {
            self.loop_sleeping.store(true, Ordering::SeqCst);
            if self.spans.len() >= self.wake_at.load(Ordering::Relaxed) {
                self.loop_sleeping.store(false, Ordering::SeqCst);
                return;
            }
        }
        if !ready() {
            let now = Instant::now();
            if deadline > now {
                std::thread::park_timeout(deadline - now);
            }
        }
        self.loop_sleeping.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn full_queue_gives_the_span_back() {
        let queue = SpanQueue::new(2, 1);
        for _ in 0..2 {
            assert!(queue.push(SpanData::builder("a").build()).is_ok());
        }
        let rejected = queue.push(SpanData::builder("b").build());
        assert_eq!(rejected.err().map(|span| span.name), Some("b".into()));
    }

    #[test]
    fn a_batch_worth_of_spans_wakes_a_parked_loop() {
        let queue = Arc::new(SpanQueue::new(64, 8));
        let sleeper = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                queue.set_loop_thread(std::thread::current());
                let start = Instant::now();
                // Park until woken; the deadline is far away.
                while queue.len() < 8 {
                    queue.park_loop(Instant::now() + Duration::from_secs(30), true, || false);
                }
                start.elapsed()
            })
        };
        while queue.loop_thread.get().is_none() {
            std::thread::yield_now();
        }
        for _ in 0..8 {
            queue.push(SpanData::builder("s").build()).unwrap();
        }
        let waited = sleeper.join().unwrap();
        assert!(waited < Duration::from_secs(30));
    }
}
