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

use crate::limits::SENDMMSG_BATCH;

/// Sends each `(to, datagram)` of `batch` from `sock`, all in one `sendmmsg(2)` per
/// [`SENDMMSG_BATCH`] on Linux (elsewhere one `sendto` each); returns how many could not be
/// sent (a full buffer, an unreachable address: the caller counts them, nothing waits).
///
/// Why one call (issue 11): on loopback each send runs the receiver's wake-up inside the
/// call, and on return to user space the woken receiver, asleep for the last 100 ms and so
/// owed CPU time, preempts the sender when the scheduler put it on the sender's CPU. With a
/// `sendto` per peer, a post's second receiver was woken only after the first had run
/// (`perf sched timehist` of `net3`: A woke B, B ran 0.18 ms, then A woke C); with one call
/// every receiver is woken before the sender can be preempted.
pub fn send_datagrams(sock: &std::net::UdpSocket, batch: &[(std::net::SocketAddr, Vec<u8>)]) -> usize {
    let mut failed = 0;
    for chunk in batch.chunks(SENDMMSG_BATCH) {
        failed += send_chunk(sock, chunk);
    }
    failed
}

#[cfg(target_os = "linux")]
fn send_chunk(sock: &std::net::UdpSocket, chunk: &[(std::net::SocketAddr, Vec<u8>)]) -> usize {
    use rustix::net::addr::SocketAddrArg;
    use rustix::net::{sendmmsg, MMsgHdr, SendAncillaryBuffer, SendFlags};
    use std::io::IoSlice;
    let addrs: Vec<_> = chunk.iter().map(|(to, _)| to.as_any()).collect();
    let iovs: Vec<[IoSlice<'_>; 1]> = chunk.iter().map(|(_, d)| [IoSlice::new(d)]).collect();
    let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> = chunk.iter().map(|_| Default::default()).collect();
    let mut msgs: Vec<MMsgHdr<'_>> = addrs
        .iter()
        .zip(&iovs)
        .zip(controls.iter_mut())
        .map(|((addr, iov), control)| MMsgHdr::new_with_addr(addr, iov, control))
        .collect();
    let (mut next, mut failed) = (0, 0);
    while next < msgs.len() {
        // `sendmmsg` stops at the first message that fails: it reports the ones before it,
        // or the error if it was the first. That one is counted and skipped.
        match msgs.get_mut(next..).map(|rest| sendmmsg(sock, rest, SendFlags::DONTWAIT)) {
            Some(Ok(sent)) if sent > 0 => next += sent,
            Some(Err(rustix::io::Errno::INTR)) => {}
            _ => {
                failed += 1;
                next += 1;
            }
        }
    }
    failed
}

#[cfg(not(target_os = "linux"))]
fn send_chunk(sock: &std::net::UdpSocket, chunk: &[(std::net::SocketAddr, Vec<u8>)]) -> usize {
    chunk.iter().filter(|(to, d)| sock.send_to(d, to).is_err()).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{SocketAddr, UdpSocket};
    use std::time::Duration;

    fn receiver() -> (UdpSocket, SocketAddr) {
        let r = UdpSocket::bind("127.0.0.1:0").expect("bind");
        r.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let a = r.local_addr().expect("addr");
        (r, a)
    }

    /// Every datagram of a batch reaches its own receiver, in order, whole; a batch longer
    /// than one `sendmmsg` call is sent in full.
    #[test]
    fn a_batch_reaches_every_receiver() {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let (r1, a1) = receiver();
        let (r2, a2) = receiver();
        let mut batch = Vec::new();
        for i in 0..SENDMMSG_BATCH + 3 {
            let to = if i % 2 == 0 { a1 } else { a2 };
            batch.push((to, vec![u8::try_from(i % 251).unwrap_or(0); 1 + i % 7]));
        }
        assert_eq!(send_datagrams(&sock, &batch), 0);
        let mut buf = [0u8; 64];
        for (i, (to, d)) in batch.iter().enumerate() {
            let r = if *to == a1 { &r1 } else { &r2 };
            let n = r.recv(&mut buf).expect("datagram");
            assert_eq!(buf.get(..n), Some(d.as_slice()), "datagram {i}");
        }
    }

    /// A destination the socket cannot send to (IPv6 from an IPv4 socket) fails alone: it
    /// is counted, and the datagrams after it in the batch still leave (`sendmmsg` stops at
    /// a failed message; the rest must be sent by a further call).
    #[test]
    fn a_failing_destination_does_not_stop_the_rest_of_the_batch() {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let (r1, a1) = receiver();
        let bad: SocketAddr = "[::1]:9".parse().expect("addr");
        let batch = vec![(bad, b"x".to_vec()), (a1, b"one".to_vec()), (bad, b"y".to_vec()), (a1, b"two".to_vec())];
        assert_eq!(send_datagrams(&sock, &batch), 2);
        let mut buf = [0u8; 16];
        for want in [&b"one"[..], b"two"] {
            let n = r1.recv(&mut buf).expect("datagram");
            assert_eq!(buf.get(..n), Some(want));
        }
    }
}
