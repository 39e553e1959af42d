//! [`Pool`]: a bounded, lock-free pool of reusable objects with an RAII guard.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_queue::ArrayQueue;

type Factory<T> = Box<dyn Fn() -> T + Send + Sync>;
type Reset<T> = Box<dyn Fn(&mut T) + Send + Sync>;

struct PoolInner<T> {
    idle: ArrayQueue<T>,
    create: Factory<T>,
    reset: Option<Reset<T>>,
    hits: AtomicU64,
    misses: AtomicU64,
    discarded: AtomicU64,
}

/// A pool of reusable objects (encode buffers, batch vectors...).
///
/// [`get`](Pool::get) hands out an idle object (a hit) or creates one (a
/// miss); the [`Pooled`] guard gives it back when dropped, after the reset
/// hook has run. At most `max_idle` objects wait in the pool; extra returns
/// are dropped (and counted). Cloning a `Pool` shares it.
///
/// Cost model: `get` is one lock-free queue operation and one relaxed
/// counter increment; the return is one queue operation; a miss runs the
/// factory. No locks, no `unsafe`, no raw pointers: the guard owns the object
/// and borrows the pool.
///
/// ```
/// use otlp_sdk::Pool;
///
/// let buffers = Pool::with_reset(4, || Vec::<u8>::with_capacity(4096), Vec::clear);
/// {
///     let mut buffer = buffers.get();
///     buffer.extend_from_slice(b"hello");
/// } // returned, cleared, capacity kept
/// let buffer = buffers.get();
/// assert!(buffer.is_empty() && buffer.capacity() >= 4096);
/// assert_eq!((buffers.stats().hits, buffers.stats().misses), (1, 1));
/// ```
pub struct Pool<T> {
    inner: Arc<PoolInner<T>>,
}

impl<T> Clone for Pool<T> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
        }
    }
}

/// Counters of a [`Pool`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// `get` calls served by an idle object.
    pub hits: u64,
    /// `get` calls that had to create an object.
    pub misses: u64,
    /// Returned objects dropped because the pool was full.
    pub discarded: u64,
    /// Objects idle in the pool now.
    pub idle: usize,
}

impl<T: Send + 'static> Pool<T> {
    /// A pool keeping at most `max_idle` objects (at least 1), creating new ones with `create`.
    pub fn new(max_idle: usize, create: impl Fn() -> T + Send + Sync + 'static) -> Self {
        Pool::build(max_idle, Box::new(create), None)
    }

    fn build(max_idle: usize, create: Factory<T>, reset: Option<Reset<T>>) -> Self {
        Pool {
            inner: Arc::new(PoolInner {
                idle: ArrayQueue::new(max_idle.max(1)),
                create,
                reset,
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                discarded: AtomicU64::new(0),
            }),
        }
    }

    /// Like [`new`](Pool::new), with a hook run on every object as it comes
    /// back (to clear a buffer, say) before it waits for the next `get`.
    pub fn with_reset(
        max_idle: usize,
        create: impl Fn() -> T + Send + Sync + 'static,
        reset: impl Fn(&mut T) + Send + Sync + 'static,
    ) -> Self {
        Pool::build(max_idle, Box::new(create), Some(Box::new(reset)))
    }

    /// An idle object, or a new one.
    pub fn get(&self) -> Pooled<'_, T> {
        let item = match self.inner.idle.pop() {
            Some(item) => {
                self.inner.hits.fetch_add(1, Ordering::Relaxed);
                item
            }
            None => {
                self.inner.misses.fetch_add(1, Ordering::Relaxed);
                (self.inner.create)()
            }
        };
        Pooled {
            item: Some(item),
            pool: &self.inner,
        }
    }

    /// Gives back an object that left the pool by [`Pooled::detach`] (or any
    /// object of the right kind). The reset hook runs first.
    pub fn put(&self, item: T) {
        self.inner.give_back(item);
    }

    /// Current counters.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            hits: self.inner.hits.load(Ordering::Relaxed),
            misses: self.inner.misses.load(Ordering::Relaxed),
            discarded: self.inner.discarded.load(Ordering::Relaxed),
            idle: self.inner.idle.len(),
        }
    }
}

impl<T> PoolInner<T> {
    fn give_back(&self, mut item: T) {
        if let Some(reset) = &self.reset {
            reset(&mut item);
        }
        if self.idle.push(item).is_err() {
            self.discarded.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl<T> fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("idle", &self.inner.idle.len())
            .field("max_idle", &self.inner.idle.capacity())
            .finish()
    }
}

/// An object borrowed from a [`Pool`]; returns to it when dropped.
pub struct Pooled<'p, T> {
    /// Always `Some` until dropped or detached.
    item: Option<T>,
    pool: &'p PoolInner<T>,
}

impl<T> Pooled<'_, T> {
    /// Takes the object out for good; it will not return to the pool unless
    /// given back with [`Pool::put`].
    pub fn detach(mut self) -> T {
        match self.item.take() {
            Some(item) => item,
            None => unreachable!("a Pooled holds its item until dropped or detached"),
        }
    }
}

impl<T> Deref for Pooled<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match &self.item {
            Some(item) => item,
            None => unreachable!("a Pooled holds its item until dropped or detached"),
        }
    }
}

impl<T> DerefMut for Pooled<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.item {
            Some(item) => item,
            None => unreachable!("a Pooled holds its item until dropped or detached"),
        }
    }
}

impl<T> Drop for Pooled<'_, T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            self.pool.give_back(item);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Pooled<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_beyond_max_idle_are_discarded_and_counted() {
        let pool = Pool::new(2, Vec::<u8>::new);
        let guards: Vec<_> = (0..3).map(|_| pool.get()).collect();
        drop(guards);
        let stats = pool.stats();
        assert_eq!((stats.misses, stats.idle, stats.discarded), (3, 2, 1));
    }

    #[test]
    fn detached_objects_can_be_put_back_and_are_reset() {
        let pool = Pool::with_reset(2, Vec::<u8>::new, Vec::clear);
        let mut buffer = pool.get().detach();
        buffer.push(1);
        assert_eq!(pool.stats().idle, 0);
        pool.put(buffer);
        assert_eq!(pool.stats().idle, 1);
        assert!(pool.get().is_empty());
    }

    #[test]
    fn concurrent_use_never_loses_count() {
        let pool = Pool::new(8, || 0u64);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..1_000 {
                        let mut item = pool.get();
                        *item += 1;
                    }
                });
            }
        });
        let stats = pool.stats();
        assert_eq!(stats.hits + stats.misses, 4_000);
        assert!(stats.misses <= 8 + stats.discarded);
    }
}
