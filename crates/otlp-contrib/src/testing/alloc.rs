//! [`CountingAllocator`]: counts the allocations one thread makes, for
//! tests that promise "no allocation" on a path.
//!
//! Install it as the test binary's global allocator, then measure:
//!
//! ```
//! use otlp_contrib::testing::alloc::{CountingAllocator, allocations_during};
//!
//! #[global_allocator]
//! static ALLOCATOR: CountingAllocator = CountingAllocator;
//!
//! let (allocations, _) = allocations_during(|| vec![0u8; 16]);
//! assert_eq!(allocations, 1);
//! let (allocations, _) = allocations_during(|| 2 + 2);
//! assert_eq!(allocations, 0);
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Allocations counted on this thread while counting is on (`None`: off).
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The system allocator, counting the allocations (and reallocations) made
/// by a thread inside [`allocations_during`]. Other threads are not counted.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAllocator;

fn note_allocation() {
    // `try_with`: the thread-local may be gone while a thread exits.
    let _ = COUNT.try_with(|count| {
        if let Some(seen) = count.get() {
            count.set(Some(seen + 1));
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold. The bookkeeping only touches a
// const-initialised thread-local `Cell`, which never allocates (so it cannot
// recurse into the allocator) and is never shared between threads.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged; `ptr` came from `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `work` and returns how many allocations this thread made during it
/// (zero unless [`CountingAllocator`] is the global allocator), with its result.
pub fn allocations_during<T>(work: impl FnOnce() -> T) -> (usize, T) {
    COUNT.with(|count| count.set(Some(0)));
    let result = work();
    let allocations = COUNT.with(|count| count.replace(None)).unwrap_or(0);
    (allocations, result)
}
