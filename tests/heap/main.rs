//! The tests that count the heap, in a binary of their own: it installs a counting global
//! allocator. One allocator serves all three modules: it counts allocations per thread
//! (`allocations`: the hot paths allocate nothing), live bytes per thread (`memory`: what a
//! parsed config holds) and live bytes of the whole process (`load`: a second round of load
//! leaves the heap where the first left it).
//!
//! The per-thread counts see only their own thread, so those tests run in parallel. The
//! process-wide count sees every thread: `load` runs this binary again for itself alone, in a
//! child process (as a new test that counts the whole process must).

#[path = "../support/mod.rs"]
mod support;

mod allocations;
mod load;
mod memory;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, Ordering};

/// Counts every allocation and the live bytes of its thread, and the live bytes of the process.
struct Counting;

thread_local! {
    /// `alloc`, `alloc_zeroed` and `realloc` calls on this thread.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    /// Bytes allocated minus bytes freed on this thread.
    static THREAD_LIVE: Cell<i64> = const { Cell::new(0) };
}

/// Bytes allocated minus bytes freed, every thread included.
static PROCESS_LIVE: AtomicI64 = AtomicI64::new(0);

fn count(allocation: bool, bytes: i64) {
    // `try_with`: the allocator is also called while thread-locals are being torn down.
    if allocation {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
    let _ = THREAD_LIVE.try_with(|n| n.set(n.get() + bytes));
    PROCESS_LIVE.fetch_add(bytes, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; counting touches no heap memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(true, layout.size() as i64);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(true, layout.size() as i64);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(true, new_size as i64 - layout.size() as i64);
        // SAFETY: as for `alloc`; `ptr` and `layout` come from this allocator, i.e. `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(false, -(layout.size() as i64));
        // SAFETY: as for `realloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread so far.
pub fn thread_allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Live bytes allocated on this thread (freed on this thread subtracted).
pub fn thread_live_bytes() -> i64 {
    THREAD_LIVE.with(Cell::get)
}

/// Live bytes of the whole process.
pub fn process_live_bytes() -> i64 {
    PROCESS_LIVE.load(Ordering::Relaxed)
}
