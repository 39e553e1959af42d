//! Counting heap allocations per thread, to check what a code path allocates.
//!
//! [`CountingAllocator`] wraps the system allocator and counts, for each
//! thread, every `alloc`, `alloc_zeroed` and `realloc` it serves (frees are
//! not counted: they never allocate). A bench binary installs it with
//! `#[global_allocator]`; [`count_allocations`] then tells how many
//! allocations a closure made **on the calling thread**, so work other
//! threads do at the same time (an export loop) is not counted.
//!
//! Cost: one thread-local increment per allocation, on every thread, on top
//! of the system allocator. Both sides of a comparison pay it per allocation,
//! so the side that allocates more pays more; a thread-local add is about a
//! nanosecond, against tens for `malloc` itself.
//!
//! ```no_run
//! use otlp_benches::alloc_count::{CountingAllocator, count_allocations};
//!
//! #[global_allocator]
//! static ALLOCATOR: CountingAllocator = CountingAllocator;
//!
//! let (boxed, allocations) = count_allocations(|| Box::new(7));
//! assert_eq!((*boxed, allocations), (7, 1));
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Allocations served to this thread. `const`-initialised and without a
    /// destructor, so reading it never allocates and works during thread exit.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with` only fails for thread-locals being destroyed; this one has
    // no destructor, but an allocator must never panic.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

/// The system allocator, counting allocations per thread; see the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingAllocator;

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so this allocator upholds exactly the `GlobalAlloc` contract
// `System` does. The only addition, `count_one`, touches a `const`
// thread-local `Cell` without a destructor: it does not allocate (no
// recursion into the allocator), does not unwind, and does not touch the
// memory being allocated or freed.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract
        // (`ptr` came from this allocator, which is `System` underneath).
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations served to the calling thread so far. Always 0 unless
/// [`CountingAllocator`] is the global allocator.
pub fn allocations_on_this_thread() -> u64 {
    ALLOCATIONS.try_with(Cell::get).unwrap_or(0)
}

/// Runs `work` and returns its result with the number of allocations it made
/// on the calling thread (0 unless [`CountingAllocator`] is installed).
pub fn count_allocations<R>(work: impl FnOnce() -> R) -> (R, u64) {
    let before = allocations_on_this_thread();
    let result = work();
    (result, allocations_on_this_thread() - before)
}

/// Whether [`CountingAllocator`] is the global allocator of this process.
pub fn is_counting() -> bool {
    count_allocations(|| drop(std::hint::black_box(Box::new(0u8)))).1 > 0
}
