//! The overlay's TCP transport: listener, dialer, and one reader and one bounded writer task per
//! connection on the driver's `LocalExecutor`. Thin: it moves frames, it decides nothing.
//!
//! Every task reports into one bounded inbox ([`NetEvent`]); the driver owns [`Net`] and the
//! overlay and never awaits a peer: sends are `try_send` into the connection's writer queue
//! (`PEER_QUEUE_FRAMES`), a full queue drops the frame and counts it, and a peer whose queue
//! stays full for `SLOW_PEER_MAX_DROPS` frames in a row is disconnected. Readers decode with
//! `wire` and stop at the first bad frame (counted by the overlay as `Malformed`). Failed dials
//! report their cause, and a peer that answers in HTTP is told apart from other garbage, so
//! the runtime can say why a bootstrap peer does not work ([`bootstrap`]).

pub mod bootstrap;
pub mod datagram;
pub mod runtime;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::rc::Rc;
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use smol::LocalExecutor;

use crate::wire::{self, Addr, ConnId, Msg};

/// Frames queued per connection writer (most frames are < 1 KB; worst case
/// `PEER_QUEUE_FRAMES × MAX_FRAME_BYTES` per peer, bounded further by the overlay's limits).
pub const PEER_QUEUE_FRAMES: usize = 256;
/// Consecutive dropped frames (queue full) after which a slow peer is disconnected.
pub const SLOW_PEER_MAX_DROPS: u32 = 64;
/// Events waiting for the driver; readers wait (backpressure on their own socket only).
pub const NET_INBOX_CAP: usize = 1024;
/// A dial that has not connected within this is a failure.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// A single frame write that takes longer than this means the peer is gone.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long resolving the bootstrap host name may take (on a helper thread).
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the transport tasks report.
#[derive(Debug)]
pub enum NetEvent {
    /// The listener accepted a connection (not yet adopted).
    Incoming(TcpStream, SocketAddr),
    /// A dial finished (not yet adopted).
    Dialed(ConnId, TcpStream),
    /// A dial failed: why (`TimedOut` after [`DIAL_TIMEOUT`]).
    DialFailed(ConnId, std::io::ErrorKind),
    /// A connection ended.
    Closed(ConnId),
    /// A frame arrived.
    Frame(ConnId, Msg),
    /// Undecodable bytes arrived; the reader has stopped.
    Malformed(ConnId, wire::DecodeError),
    /// The peer answered in HTTP (its bytes began `HTTP`); the reader has stopped.
    AnsweredHttp(ConnId),
    /// A UDP datagram arrived on the overlay port (unchecked: `datagram::Links::open`).
    Datagram(Vec<u8>),
    /// A host name resolution asked for with [`Net::resolve`] finished.
    Resolved(Result<Vec<SocketAddr>, String>),
}

/// Counters of the transport.
#[derive(Debug, Default, Clone, Copy)]
pub struct NetStats {
    /// Frames dropped because a writer queue was full.
    pub dropped_full: u64,
    /// Peers disconnected for staying full.
    pub slow_disconnects: u64,
    /// Frames that could not be encoded (too large: a local bug or oversized payload).
    pub encode_failed: u64,
    /// Bytes queued for sending.
    pub bytes_out: u64,
    /// Datagrams the UDP socket refused to send (buffer full, unreachable).
    pub datagram_send_failed: u64,
}

struct Writer {
    tx: async_channel::Sender<Vec<u8>>,
    full_in_a_row: u32,
    /// The peer's address (its IP is where datagrams to it go).
    peer: Option<SocketAddr>,
}

/// Outcome of [`Net::send`] the driver must act on.
#[derive(Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Queued (or dropped and counted).
    Ok,
    /// The peer stayed too slow and was disconnected: tell the overlay it closed.
    Disconnected,
}

/// The transport: writer handles by connection, and the inbox the tasks report to.
pub struct Net<'a> {
    ex: &'a LocalExecutor<'static>,
    inbox_tx: async_channel::Sender<NetEvent>,
    inbox: async_channel::Receiver<NetEvent>,
    writers: BTreeMap<ConnId, Writer>,
    next_inbound: u64,
    stats: NetStats,
    /// The overlay's UDP socket (datagram path), if it could be bound.
    udp: Option<Rc<Async<UdpSocket>>>,
}

/// `SocketAddr` → the overlay's [`Addr`].
pub fn to_addr(a: SocketAddr) -> Addr {
    match a.ip() {
        IpAddr::V4(v4) => Addr::v4(v4.octets(), a.port()),
        IpAddr::V6(v6) => Addr { ip: v6.octets(), port: a.port() },
    }
}

/// The overlay's [`Addr`] → `SocketAddr`.
pub fn to_socket(a: Addr) -> SocketAddr {
    match a.as_v4() {
        Some(v4) => SocketAddr::new(IpAddr::V4(Ipv4Addr::from(v4)), a.port),
        None => SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a.ip)), a.port),
    }
}

impl<'a> Net<'a> {
    /// A transport spawning its tasks on `ex`.
    pub fn new(ex: &'a LocalExecutor<'static>) -> Net<'a> {
        let (inbox_tx, inbox) = async_channel::bounded(NET_INBOX_CAP);
        Net { ex, inbox_tx, inbox, writers: BTreeMap::new(), next_inbound: 0, stats: NetStats::default(), udp: None }
    }

    /// Counters.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Wait for the next transport event (the driver's loop selects on this).
    pub async fn recv(&self) -> Option<NetEvent> {
        self.inbox.recv().await.ok()
    }

    /// A transport event if one is ready.
    pub fn try_recv(&self) -> Option<NetEvent> {
        self.inbox.try_recv().ok()
    }

    /// Accept connections on `listener` forever (reported as [`NetEvent::Incoming`]).
    pub fn listen(&self, listener: Async<TcpListener>) {
        let tx = self.inbox_tx.clone();
        self.ex
            .spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok((stream, peer)) => {
                            let Ok(stream) = stream.into_inner() else { continue };
                            if tx.send(NetEvent::Incoming(stream, peer)).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            log::warn!("overlay accept failed: {e}");
                            Timer::after(Duration::from_millis(100)).await;
                        }
                    }
                }
            })
            .detach();
    }

    /// Receive datagrams on `socket` forever (reported as [`NetEvent::Datagram`]) and send
    /// through it. A datagram longer than `datagram::MAX_DATAGRAM_BYTES` arrives one byte
    /// longer than that (truncated), so the check still refuses it; the receive buffer is that
    /// size once.
    pub fn listen_udp(&mut self, socket: Async<UdpSocket>) {
        let socket = Rc::new(socket);
        self.udp = Some(socket.clone());
        let tx = self.inbox_tx.clone();
        self.ex
            .spawn(async move {
                let mut buf = vec![0u8; datagram::MAX_DATAGRAM_BYTES + 1];
                loop {
                    match socket.recv_from(&mut buf).await {
                        Ok((n, _)) => {
                            let d = buf.get(..n).unwrap_or_default().to_vec();
                            if tx.send(NetEvent::Datagram(d)).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            log::debug!("overlay udp receive failed: {e}");
                            Timer::after(Duration::from_millis(10)).await;
                        }
                    }
                }
            })
            .detach();
    }

    /// Send one datagram now (never waits: a full socket buffer drops it, counted).
    pub fn send_datagram(&mut self, to: SocketAddr, d: &[u8]) {
        let Some(udp) = &self.udp else { return };
        if udp.get_ref().send_to(d, to).is_err() {
            self.stats.datagram_send_failed += 1;
        }
    }

    /// Open connections' ids.
    pub fn conn_ids(&self) -> Vec<ConnId> {
        self.writers.keys().copied().collect()
    }

    /// The remote address of `conn`.
    pub fn peer_addr(&self, conn: ConnId) -> Option<SocketAddr> {
        self.writers.get(&conn).and_then(|w| w.peer)
    }

    /// Give an accepted stream an id and start its tasks.
    pub fn adopt_inbound(&mut self, stream: TcpStream) -> Option<ConnId> {
        self.next_inbound += 1;
        let conn = ConnId(self.next_inbound & !ConnId::OUTBOUND_BIT);
        self.adopt(conn, stream).then_some(conn)
    }

    /// Start the tasks of a dialled stream.
    pub fn adopt_outbound(&mut self, conn: ConnId, stream: TcpStream) -> bool {
        self.adopt(conn, stream)
    }

    fn adopt(&mut self, conn: ConnId, stream: TcpStream) -> bool {
        let _ = stream.set_nodelay(true);
        let peer = stream.peer_addr().ok();
        let Ok(stream) = Async::new(stream) else { return false };
        let stream = Rc::new(stream);
        let (tx, rx) = async_channel::bounded::<Vec<u8>>(PEER_QUEUE_FRAMES);
        self.writers.insert(conn, Writer { tx, full_in_a_row: 0, peer });
        let inbox = self.inbox_tx.clone();
        let reader = stream.clone();
        self.ex.spawn(read_loop(conn, reader, inbox)).detach();
        self.ex.spawn(write_loop(stream, rx)).detach();
        true
    }

    /// Dial `addr` for the overlay's connection `conn` (reported as `Dialed` or `Closed`).
    pub fn dial(&self, conn: ConnId, addr: SocketAddr) {
        let tx = self.inbox_tx.clone();
        self.ex
            .spawn(async move {
                let connect = async { Async::<TcpStream>::connect(addr).await };
                let timeout = async {
                    Timer::after(DIAL_TIMEOUT).await;
                    Err(std::io::ErrorKind::TimedOut.into())
                };
                let ev = match future::or(connect, timeout).await.and_then(Async::into_inner) {
                    Ok(stream) => NetEvent::Dialed(conn, stream),
                    Err(e) => {
                        log::debug!("dial {addr} for {conn:?} failed: {e}");
                        NetEvent::DialFailed(conn, e.kind())
                    }
                };
                let _ = tx.send(ev).await;
            })
            .detach();
    }

    /// Resolve `host_port` on a helper thread (reported as [`NetEvent::Resolved`]). The caller
    /// asks for one resolution at a time.
    pub fn resolve(&self, host_port: String) {
        let tx = self.inbox_tx.clone();
        let spawned = std::thread::Builder::new().name("resolve".into()).spawn(move || {
            let result = crate::platform::resolve(&host_port, RESOLVE_TIMEOUT).map_err(|e| e.to_string());
            let _ = tx.send_blocking(NetEvent::Resolved(result));
        });
        if let Err(e) = spawned {
            let _ = self.inbox_tx.try_send(NetEvent::Resolved(Err(format!("cannot start a thread: {e}"))));
        }
    }

    /// Queue `msg` on `conn`; never waits.
    pub fn send(&mut self, conn: ConnId, msg: &Msg) -> SendOutcome {
        let Some(w) = self.writers.get_mut(&conn) else { return SendOutcome::Ok };
        let frame = match wire::encode_frame(msg) {
            Ok(f) => f,
            Err(e) => {
                self.stats.encode_failed += 1;
                log::warn!("cannot encode {} for {conn:?}: {e}", msg.name());
                return SendOutcome::Ok;
            }
        };
        let len = frame.len() as u64;
        match w.tx.try_send(frame) {
            Ok(()) => {
                w.full_in_a_row = 0;
                self.stats.bytes_out += len;
                SendOutcome::Ok
            }
            Err(async_channel::TrySendError::Full(_)) => {
                w.full_in_a_row += 1;
                self.stats.dropped_full += 1;
                if w.full_in_a_row >= SLOW_PEER_MAX_DROPS {
                    self.stats.slow_disconnects += 1;
                    log::info!("disconnecting slow peer {conn:?}");
                    self.close(conn);
                    return SendOutcome::Disconnected;
                }
                SendOutcome::Ok
            }
            Err(async_channel::TrySendError::Closed(_)) => SendOutcome::Ok,
        }
    }

    /// Close a connection: its writer flushes what is queued, then shuts the socket down,
    /// which ends the reader too (its `Closed` report is ignored by the overlay).
    pub fn close(&mut self, conn: ConnId) {
        self.writers.remove(&conn);
    }

    /// Forget a connection the reader reported closed.
    pub fn forget(&mut self, conn: ConnId) {
        self.writers.remove(&conn);
    }

    /// Open connections.
    pub fn len(&self) -> usize {
        self.writers.len()
    }

    /// True if no connection is open.
    pub fn is_empty(&self) -> bool {
        self.writers.is_empty()
    }
}

async fn read_loop(conn: ConnId, stream: Rc<Async<TcpStream>>, inbox: async_channel::Sender<NetEvent>) {
    let mut reader = &*stream;
    let ev = loop {
        let mut header = [0u8; wire::HEADER_BYTES];
        if reader.read_exact(&mut header).await.is_err() {
            break NetEvent::Closed(conn);
        }
        let len = match wire::decode_header(header) {
            Ok(len) => len,
            Err(_) if header == *b"HTTP" => break NetEvent::AnsweredHttp(conn),
            Err(e) => break NetEvent::Malformed(conn, e),
        };
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).await.is_err() {
            break NetEvent::Closed(conn);
        }
        match wire::decode_body(&body) {
            Ok(msg) => {
                if inbox.send(NetEvent::Frame(conn, msg)).await.is_err() {
                    return;
                }
            }
            Err(e) => break NetEvent::Malformed(conn, e),
        }
    };
    let _ = stream.get_ref().shutdown(std::net::Shutdown::Both);
    let _ = inbox.send(ev).await;
}

/// Frames already queued are written together, up to this many bytes per write (one buffer of
/// this size per connection at most while writing): with `TCP_NODELAY`, what one driver tick
/// queued for a peer (a post and the IHAVEs riding with it) leaves as one segment.
pub const WRITE_COALESCE_BYTES: usize = 64 * 1024;

async fn write_loop(stream: Rc<Async<TcpStream>>, rx: async_channel::Receiver<Vec<u8>>) {
    let mut writer = &*stream;
    while let Ok(mut frame) = rx.recv().await {
        while frame.len() < WRITE_COALESCE_BYTES {
            match rx.try_recv() {
                Ok(next) => frame.extend_from_slice(&next),
                Err(_) => break,
            }
        }
        let write = async { writer.write_all(&frame).await.is_ok() };
        let timeout = async {
            Timer::after(WRITE_TIMEOUT).await;
            false
        };
        if !future::or(write, timeout).await {
            break;
        }
    }
    let _ = writer.flush().await;
    let _ = stream.get_ref().shutdown(std::net::Shutdown::Both);
}
