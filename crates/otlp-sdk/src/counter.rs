//! [`ShardedCounter`]: a monotonic counter many threads bump without contending.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

const SHARDS: usize = 16;

/// A monotonic counter split over cache-line-padded shards. Each thread adds
/// to its own shard (assigned round-robin the first time it counts), so
/// producers on different cores do not bounce one cache line. Reading sums the
/// shards: the sum is at least every increment that happened before the read.
///
/// Cost: `add` is one relaxed-ordering `fetch_add` on a mostly-private line
/// (plus a thread-local read); `get` reads 16 lines.
#[derive(Debug, Default)]
pub(crate) struct ShardedCounter {
    shards: [CachePadded<AtomicU64>; SHARDS],
}

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn shard_index() -> usize {
    SHARD.with(|shard| {
        let mut index = shard.get();
        if index == usize::MAX {
            index = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
            shard.set(index);
        }
        index
    })
}

impl ShardedCounter {
    /// Adds `amount`. Release ordering: a reader that sees this increment also
    /// sees everything this thread did before it.
    #[inline]
    pub(crate) fn add(&self, amount: u64) {
        self.shards[shard_index()].fetch_add(amount, Ordering::Release);
    }

    /// The total so far.
    pub(crate) fn get(&self) -> u64 {
        self.shards
            .iter()
            .map(|shard| shard.load(Ordering::Acquire))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn concurrent_adds_are_all_counted() {
        let counter = Arc::new(ShardedCounter::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        counter.add(1);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(counter.get(), 80_000);
    }
}
