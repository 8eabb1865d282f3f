//! [`Async`]: a non-blocking socket registered with this thread's reactor, with the part of
//! async-io's `Async` API the server uses (TCP listener and streams, UDP socket).
//!
//! Every operation is tried first; only on `WouldBlock` does the task wait, by storing its
//! waker for that direction (see the module doc of `reactor`).
//!
//! Must not: block the thread; lose a waiter (a second task waiting the same way wakes the
//! first, which tries again); keep a slot or an epoll entry after drop or `into_inner`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::future::poll_fn;

use super::epoll::{with, Dir, Key};

/// A registered socket: the slot is freed when dropped (closing the fd removes it from the
/// epoll set).
#[derive(Debug)]
pub struct Async<T: AsFd> {
    io: T,
    reg: Registration,
}

/// The reactor slot of an [`Async`]; freed on drop.
#[derive(Debug)]
struct Registration(Key);

impl Drop for Registration {
    fn drop(&mut self) {
        let wakers = with(|r| r.release(self.0));
        drop(wakers);
    }
}

impl<T: AsFd> Async<T> {
    /// Makes `io` non-blocking and registers it.
    ///
    /// # Errors
    /// The socket cannot be made non-blocking or registered (or no reactor).
    pub fn new(io: T) -> io::Result<Async<T>> {
        rustix::io::ioctl_fionbio(&io, true)?;
        let key = with(|r| r.register(io.as_fd()))??;
        Ok(Async { io, reg: Registration(key) })
    }

    /// The socket.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// Unregisters the socket and hands it back (still non-blocking).
    ///
    /// # Errors
    /// None today; the signature is async-io's.
    pub fn into_inner(self) -> io::Result<T> {
        let Async { io, reg } = self;
        let _ = with(|r| r.unwatch(io.as_fd()));
        drop(reg);
        Ok(io)
    }

    /// Tries `op`; on `WouldBlock` waits for `dir` readiness and returns `Pending`.
    fn poll_io<R>(
        &self,
        dir: Dir,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            match op(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return match with(|r| r.wait_on(self.reg.0, dir, cx.waker())) {
                        Ok(before) => {
                            // Another task waited this way: let it try again (no lost wake).
                            if let Some(w) = before {
                                w.wake();
                            }
                            Poll::Pending
                        }
                        Err(e) => Poll::Ready(Err(e)),
                    };
                }
                r => return Poll::Ready(r),
            }
        }
    }
}

impl Async<TcpListener> {
    /// Binds a listener to `addr`.
    ///
    /// # Errors
    /// The address cannot be bound or registered.
    pub fn bind(addr: SocketAddr) -> io::Result<Async<TcpListener>> {
        Async::new(TcpListener::bind(addr)?)
    }

    /// Waits for the next connection.
    ///
    /// # Errors
    /// As `accept(2)` (or registering the stream).
    pub async fn accept(&self) -> io::Result<(Async<TcpStream>, SocketAddr)> {
        let (stream, peer) = poll_fn(|cx| self.poll_io(Dir::Read, cx, TcpListener::accept)).await?;
        Ok((Async::new(stream)?, peer))
    }
}

impl Async<TcpStream> {
    /// Connects to `addr` without blocking the thread.
    ///
    /// # Errors
    /// The connection is refused, unreachable, or fails otherwise.
    pub async fn connect(addr: SocketAddr) -> io::Result<Async<TcpStream>> {
        use rustix::net::{AddressFamily, SocketFlags, SocketType};
        let family = if addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
        let fd =
            rustix::net::socket_with(family, SocketType::STREAM, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC, None)?;
        match rustix::net::connect(&fd, &addr) {
            Ok(()) | Err(rustix::io::Errno::INPROGRESS) => {}
            Err(e) => return Err(e.into()),
        }
        let stream = Async::new(TcpStream::from(fd))?;
        poll_fn(|cx| stream.poll_io(Dir::Write, cx, connected)).await?;
        Ok(stream)
    }
}

/// Whether a non-blocking connect finished: `WouldBlock` while it is in progress.
fn connected(s: &TcpStream) -> io::Result<()> {
    if let Err(e) = rustix::net::sockopt::socket_error(s)? {
        return Err(e.into());
    }
    match s.peer_addr() {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
        Err(e) => Err(e),
    }
}

impl Async<UdpSocket> {
    /// Binds a UDP socket to `addr`.
    ///
    /// # Errors
    /// The address cannot be bound or registered.
    pub fn bind(addr: SocketAddr) -> io::Result<Async<UdpSocket>> {
        Async::new(UdpSocket::bind(addr)?)
    }

    /// Waits for the next datagram.
    ///
    /// # Errors
    /// As `recvfrom(2)`.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.poll_io(Dir::Read, cx, |s| s.recv_from(buf))).await
    }
}

impl futures_lite::AsyncRead for &Async<TcpStream> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.poll_io(Dir::Read, cx, |mut s| s.read(buf))
    }
}

impl futures_lite::AsyncWrite for &Async<TcpStream> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_io(Dir::Write, cx, |mut s| s.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.io.shutdown(Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reactor::{block_on, Timer};
    use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
    use std::time::Duration;

    fn loopback() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 0))
    }

    /// Bytes cross a connection both ways; a peer that closes is seen as EOF (0 bytes), not
    /// a hang; a write far larger than the socket buffers completes while the peer reads.
    #[test]
    fn a_stream_moves_bytes_sees_eof_and_waits_for_a_slow_reader() {
        let ex = smol::LocalExecutor::new();
        let out = block_on(ex.run(async {
            let listener = Async::<TcpListener>::bind(loopback())?;
            let addr = listener.get_ref().local_addr()?;
            let big = vec![7u8; 8 << 20];
            let sender = ex.spawn(async move {
                let (stream, _) = listener.accept().await?;
                (&stream).write_all(&big).await?;
                (&stream).close().await?;
                io::Result::Ok(())
            });
            let stream = Async::<TcpStream>::connect(addr).await?;
            let mut got = Vec::new();
            (&stream).read_to_end(&mut got).await?;
            sender.await?;
            io::Result::Ok(got.len())
        }));
        assert_eq!(out.ok().and_then(Result::ok), Some(8 << 20));
    }

    /// A dial to a port nobody listens on fails with an error instead of waiting.
    #[test]
    fn a_refused_dial_is_an_error() {
        let port = std::net::TcpListener::bind(loopback()).and_then(|l| l.local_addr());
        let Ok(addr) = port else { return };
        // The listener is dropped: the port is closed.
        let r = block_on(Async::<TcpStream>::connect(addr));
        assert!(matches!(r, Ok(Err(ref e)) if e.kind() == io::ErrorKind::ConnectionRefused), "{r:?}");
    }

    /// A waker called from another thread wakes the loop's thread out of `epoll_wait`
    /// (the resolver thread and async-signal's thread reach the loop this way).
    #[test]
    fn a_wake_from_another_thread_ends_the_wait() {
        let (tx, rx) = async_channel::bounded::<u32>(1);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send_blocking(5)
        });
        // The guard comes first: if only its expiry woke the loop, it wins the race.
        let got = block_on(future::or(
            async {
                Timer::after(Duration::from_secs(60)).await;
                None
            },
            async { rx.recv().await.ok() },
        ));
        assert_eq!(got.ok().flatten(), Some(5), "woken by the other thread, not the 60 s guard");
        assert!(t.join().is_ok_and(|r| r.is_ok()));
    }

    /// Two tasks reading the same socket: both get data, neither waits for ever (a second
    /// waiter displaces the first, which is woken to try again).
    #[test]
    fn two_readers_of_one_socket_are_both_served() {
        let ex = smol::LocalExecutor::new();
        let out = block_on(ex.run(async {
            let a = Async::<UdpSocket>::bind(loopback())?;
            let b = std::net::UdpSocket::bind(loopback())?;
            let to = a.get_ref().local_addr()?;
            let a = std::rc::Rc::new(a);
            let (a1, a2) = (a.clone(), a.clone());
            let r1 = ex.spawn(async move { a1.recv_from(&mut [0u8; 16]).await.map(|x| x.0) });
            let r2 = ex.spawn(async move { a2.recv_from(&mut [0u8; 16]).await.map(|x| x.0) });
            future::yield_now().await; // both wait now
            future::yield_now().await;
            b.send_to(b"one", to)?;
            b.send_to(b"three", to)?;
            let both = async { Some((r1.await, r2.await)) };
            let guard = async {
                Timer::after(Duration::from_secs(60)).await;
                None
            };
            io::Result::Ok(match future::or(guard, both).await {
                Some((n1, n2)) => Some(n1? + n2?),
                None => None,
            })
        }));
        assert_eq!(out.ok().and_then(Result::ok), Some(Some(8)), "a reader was left waiting");
    }

    /// Sockets opened and closed by the thousand reuse their slots: the reactor's memory
    /// follows the open sockets, not the ones ever opened; `into_inner` frees the slot too.
    #[test]
    fn closed_sockets_free_their_slots() {
        for _ in 0..1_000 {
            let s = Async::<UdpSocket>::bind(loopback());
            assert!(s.is_ok());
        }
        let kept = Async::<UdpSocket>::bind(loopback()).and_then(Async::into_inner);
        assert!(kept.is_ok());
        assert!(with(|r| r.sources_len()).is_ok_and(|n| n <= 4), "{:?}", with(|r| r.sources_len()));
        assert_eq!(with(|r| r.open_sources()).ok(), Some(0));
    }
}
