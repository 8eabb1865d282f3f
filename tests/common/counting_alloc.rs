//! A counting global allocator for the programs that measure heap bytes: `benches/store.rs`,
//! `examples/ring_bench.rs`, `examples/overlay_bench.rs` and `tests/sim_heap.rs` each include
//! this one file (`#[path = "../tests/common/counting_alloc.rs"] mod counting_alloc;`), which
//! installs it as that program's `#[global_allocator]`. It cannot live in the library, which
//! forbids `unsafe` code.
//!
//! It forwards every call to the system allocator unchanged and keeps four counters: live
//! bytes, their peak since [`reset_peak`], live allocations (blocks allocated and not yet
//! freed) and the number of `realloc` calls. Sizes are the requested `Layout` sizes, not
//! malloc's chunk sizes: malloc's headers and rounding are not in these figures.
#![allow(unsafe_code)] // the GlobalAlloc impl below; nothing else
#![allow(dead_code)] // each program reads the counters it needs

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The allocator: the system's, counted.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static REALLOCS: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: forwards to the system allocator unchanged; only adds counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: same layout contract as the caller's.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            grew(l.size());
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: same layout contract as the caller's.
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            grew(l.size());
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        ALLOCS.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: `p` came from this allocator with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            REALLOCS.fetch_add(1, Ordering::Relaxed);
            if new >= l.size() {
                grew(new - l.size());
            } else {
                LIVE.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Bytes allocated and not yet freed.
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// The most [`live`] has been since the start or the last [`reset_peak`].
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Starts a new peak at today's [`live`].
pub fn reset_peak() {
    PEAK.store(live(), Ordering::Relaxed);
}

/// Allocations not yet freed (a `realloc` keeps the count).
pub fn live_allocs() -> usize {
    ALLOCS.load(Ordering::Relaxed)
}

/// `realloc` calls so far.
pub fn reallocs() -> usize {
    REALLOCS.load(Ordering::Relaxed)
}
