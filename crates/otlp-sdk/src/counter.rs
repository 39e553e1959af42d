//! [`ShardedCounter`]: a monotonic counter many threads bump without contending.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

/// Shards each owned by one thread at a time.
const OWNED_SHARDS: usize = 16;
/// Shards the threads beyond [`OWNED_SHARDS`] share.
const SHARED_SHARDS: usize = 4;

/// A monotonic counter split over cache-line-padded shards, so that
/// producers on different cores do not bounce one cache line.
///
/// The first 16 threads that count each own a shard (a process-wide claim,
/// released when the thread exits): only that thread writes it, so adding is
/// a plain load and store, not a locked read-modify-write, which on the hot
/// path also waits for every earlier store to drain. Further threads share
/// four more shards with `fetch_add`. Reading sums the shards: the sum is at
/// least every increment that happened before the read.
#[derive(Debug, Default)]
pub(crate) struct ShardedCounter {
    owned: [CachePadded<AtomicU64>; OWNED_SHARDS],
    shared: [CachePadded<AtomicU64>; SHARED_SHARDS],
}

/// Which shard of every counter a thread writes.
#[derive(Clone, Copy, Debug)]
enum Shard {
    /// This thread owns `owned[i]`: no other thread writes it.
    Owned(usize),
    /// `shared[i]`, written with `fetch_add`.
    Shared(usize),
}

/// Owned shard indexes in use by a live thread.
static CLAIMED: [AtomicBool; OWNED_SHARDS] = [const { AtomicBool::new(false) }; OWNED_SHARDS];
static NEXT_SHARED: AtomicUsize = AtomicUsize::new(0);

/// A thread's shard, released when the thread exits.
struct ShardClaim(Shard);

impl ShardClaim {
    fn new() -> Self {
        for (index, claimed) in CLAIMED.iter().enumerate() {
            // Acquire: the previous owner's writes (released below) are seen.
            if claimed
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return ShardClaim(Shard::Owned(index));
            }
        }
        let index = NEXT_SHARED.fetch_add(1, Ordering::Relaxed) % SHARED_SHARDS;
        ShardClaim(Shard::Shared(index))
    }
}

impl Drop for ShardClaim {
    fn drop(&mut self) {
        if let Shard::Owned(index) = self.0 {
            // Release: the next owner sees every value this thread stored.
            CLAIMED[index].store(false, Ordering::Release);
        }
    }
}

thread_local! {
    static SHARD: ShardClaim = ShardClaim::new();
}

impl ShardedCounter {
    /// Adds `amount`. Release ordering: a reader that sees this increment also
    /// sees everything this thread did before it.
    #[inline]
    pub(crate) fn add(&self, amount: u64) {
        // A thread whose claim is already gone (counting from another
        // thread-local's destructor) counts in a shared shard.
        let shard = SHARD.try_with(|claim| claim.0).unwrap_or(Shard::Shared(0));
        match shard {
            Shard::Owned(index) => {
                // Only this thread writes the shard (it holds the claim), so
                // the load cannot miss another thread's increment.
                let shard = &self.owned[index];
                shard.store(
                    shard.load(Ordering::Relaxed).wrapping_add(amount),
                    Ordering::Release,
                );
            }
            Shard::Shared(index) => {
                self.shared[index].fetch_add(amount, Ordering::Release);
            }
        }
    }

    /// The total so far.
    pub(crate) fn get(&self) -> u64 {
        self.owned
            .iter()
            .chain(&self.shared)
            .map(|shard| shard.load(Ordering::Acquire))
            .fold(0, u64::wrapping_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// `threads` threads at once, each adding 1 `adds` times, then 2.
    fn count_from_threads(counter: &Arc<ShardedCounter>, threads: usize, adds: u64) {
        let threads: Vec<_> = (0..threads)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..adds {
                        counter.add(1);
                    }
                    counter.add(2);
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    }

    #[test]
    fn concurrent_adds_are_all_counted() {
        let counter = Arc::new(ShardedCounter::default());
        count_from_threads(&counter, 8, 10_000);
        assert_eq!(counter.get(), 8 * 10_002);
    }

    #[test]
    fn more_threads_than_owned_shards_and_reused_claims_lose_nothing() {
        let counter = Arc::new(ShardedCounter::default());
        // Three waves of 40 threads at once: more than the owned shards, so
        // some share; each wave's exits hand claims to the next wave.
        for _ in 0..3 {
            count_from_threads(&counter, 40, 5_000);
        }
        assert_eq!(counter.get(), 3 * 40 * 5_002);
    }
}
