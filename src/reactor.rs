//! The server's own reactor: the loop's thread waits on the sockets and timers itself and runs
//! the executor between waits, so a frame that arrives is read, handled and answered by one
//! thread with one wake-up (issue 11: idle p50 latency, issue 8: idle ingest).
//!
//! Why not `async-io`: its reactor is shared with a helper thread ("async-io") that takes it
//! over whenever the thread running `block_on` stops reacting to poll its futures, so each
//! readiness event first woke that thread, which then woke the loop's thread (two context
//! switches and a cross-CPU wake per hop); with `futures_lite::block_on` the helper thread did
//! all the waiting. async-io cannot run without that thread. This module is a small
//! single-threaded replacement for the part of its API the server uses ([`Async`] over TCP
//! and UDP sockets, [`Timer`], [`block_on`]), built on `rustix`'s safe epoll calls
//! (`#![forbid(unsafe_code)]` holds; the `polling` crate's `add` is `unsafe`).
//!
//! - Sources are registered once, edge-triggered for both directions; an operation is always
//!   tried first and its task waits (stores its waker) only after `WouldBlock`. Readiness is
//!   dispatched only by [`block_on`]'s wait on the same thread, so no event can slip in
//!   between a failed try and the waker being stored.
//! - Timers are a `BTreeMap` by deadline; the wait sleeps until the earliest one.
//! - Wakes from other threads (the resolver thread, `async-signal`'s pipe, which still uses
//!   async-io's thread) write an eventfd, only while the loop's thread is asleep in
//!   `epoll_wait` (a wake on the loop's own thread costs no syscall).
//! - Everything is per thread (`thread_local!`): a source or timer belongs to the thread that
//!   created it, which must be the one running [`block_on`].
//!
//! Linux and Android only (epoll); elsewhere the same names are async-io's types and
//! `futures_lite`'s `block_on` (the helper-thread design, correct but with the extra hop).

#[cfg(any(target_os = "linux", target_os = "android"))]
mod epoll;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod io;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod timer;

#[cfg(any(target_os = "linux", target_os = "android"))]
pub use epoll::block_on;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub use io::Async;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub use timer::Timer;

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub use async_io::{Async, Timer};

/// Runs `future` to completion on this thread (async-io's reactor thread waits on I/O).
///
/// # Errors
/// None on this platform; the signature matches the epoll version's.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> std::io::Result<T> {
    Ok(futures_lite::future::block_on(future))
}
