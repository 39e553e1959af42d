//! [`ShardedCounter`]: a monotonic counter many threads bump without contending.

use std::cell::Cell;
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

/// [`SHARD`] before the thread has a shard.
const UNCLAIMED: u8 = u8::MAX;
/// [`SHARD`] values from this one on name `shared[value - SHARED_BASE]`.
const SHARED_BASE: u8 = OWNED_SHARDS as u8;

thread_local! {
    /// The calling thread's shard, as one byte: `0..OWNED_SHARDS` an owned
    /// shard, [`SHARED_BASE`]`..` a shared one, [`UNCLAIMED`] none yet. A
    /// const thread-local without a destructor, so that reading it on every
    /// add is a plain load (a thread-local with a destructor checks its
    /// state first), and it stays readable while the thread's other
    /// thread-locals are destroyed.
    static SHARD: Cell<u8> = const { Cell::new(UNCLAIMED) };
    /// Gives an owned shard back when the thread exits (touched once, when
    /// the shard is claimed, so that the destructor is registered).
    static CLAIM: ShardClaim = const { ShardClaim };
}

/// Releases the thread's owned shard, if it has one, when the thread exits;
/// later adds of the exiting thread (from other thread-locals' destructors)
/// go to a shared shard.
struct ShardClaim;

impl Drop for ShardClaim {
    fn drop(&mut self) {
        let shard = SHARD.with(|shard| shard.replace(SHARED_BASE));
        if shard < SHARED_BASE {
            // Release: the next owner sees every value this thread stored.
            CLAIMED[usize::from(shard)].store(false, Ordering::Release);
        }
    }
}

/// The calling thread's shard, claimed on its first add.
#[inline]
fn shard() -> Shard {
    match SHARD.with(Cell::get) {
        UNCLAIMED => claim(),
        owned if owned < SHARED_BASE => Shard::Owned(usize::from(owned)),
        shared => Shard::Shared(usize::from(shared - SHARED_BASE)),
    }
}

/// Claims a free owned shard for the calling thread, or picks a shared one.
#[cold]
fn claim() -> Shard {
    // The destructor must be registered before the claim can be held: a
    // thread whose thread-locals are already being destroyed cannot
    // register it, and counts in a shared shard.
    if CLAIM.try_with(|_| ()).is_ok() {
        for (index, claimed) in CLAIMED.iter().enumerate() {
            // Acquire: the previous owner's writes (released on its exit) are seen.
            if claimed
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                SHARD.with(|shard| shard.set(index as u8));
                return Shard::Owned(index);
            }
        }
    }
    let index = NEXT_SHARED.fetch_add(1, Ordering::Relaxed) % SHARED_SHARDS;
    SHARD.with(|shard| shard.set(SHARED_BASE + index as u8));
    Shard::Shared(index)
}

impl ShardedCounter {
    /// Adds `amount`. Release ordering: a reader that sees this increment also
    /// sees everything this thread did before it.
    #[inline]
    pub(crate) fn add(&self, amount: u64) {
        match shard() {
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
    fn adds_from_a_thread_locals_destructor_are_counted_whatever_the_order() {
        // A pipeline's thread-locals may count as they are destroyed, before
        // or after the thread's claim is given back: either way the add
        // lands, and the claim is free for the next thread.
        struct AddsOnExit(Arc<ShardedCounter>);
        impl Drop for AddsOnExit {
            fn drop(&mut self) {
                self.0.add(5);
            }
        }
        thread_local! {
            static ON_EXIT: std::cell::RefCell<Option<AddsOnExit>> =
                const { std::cell::RefCell::new(None) };
        }
        let counter = Arc::new(ShardedCounter::default());
        for _ in 0..3 * OWNED_SHARDS {
            let counter = counter.clone();
            std::thread::spawn(move || {
                // Registered before and after the claim's destructor.
                ON_EXIT.with(|slot| *slot.borrow_mut() = Some(AddsOnExit(counter.clone())));
                counter.add(1);
            })
            .join()
            .unwrap();
        }
        assert_eq!(counter.get(), 3 * OWNED_SHARDS as u64 * 6);
        let free = CLAIMED
            .iter()
            .filter(|claimed| !claimed.load(Ordering::Acquire))
            .count();
        // Other tests' threads may hold some claims meanwhile: not all were
        // kept by the exited threads.
        assert!(free > 0);
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
