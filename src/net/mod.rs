//! The overlay's TCP transport: listener, dialer, and one reader and one bounded writer task per
//! connection on the driver's `LocalExecutor`. Thin: it moves frames, it decides nothing.
//!
//! Every task reports into one bounded inbox ([`NetEvent`]); the driver owns [`Net`] and the
//! overlay and never awaits a peer: sends go into the connection's writer queue, bounded in
//! frames and bytes (`PEER_QUEUE_FRAMES`, `PEER_QUEUE_BYTES`). What does not fit is never a
//! reason to disconnect: a burst we fan out ourselves (the driver handles a whole inbox of
//! frames before the writers run) is ours, not the peer's. An eager `Gossip` push is queued
//! only while `PAYLOAD_HEADROOM_*` stays free for control frames; one that is not is handed
//! back ([`SendOutcome::Shed`]) and the overlay announces it by `IHave` instead (the peer
//! grafts it), and an `IHave` that does not fit is handed back to be announced again; other
//! frames that do not fit are dropped and counted. A peer is slow only when
//! its socket accepts no byte for `SLOW_PEER_STALL` while we have bytes for it: then its
//! writer closes the connection (counted in `slow_disconnects`). Readers decode with
//! `wire` and stop at the first bad frame (counted by the overlay as `Malformed`). Failed dials
//! report their cause, and a peer that answers in HTTP is told apart from other garbage, so
//! the runtime can say why a bootstrap peer does not work ([`bootstrap`]).

pub mod bootstrap;
pub mod datagram;
mod deliver;
mod follow_sync;
mod frames;
pub mod runtime;
mod state;
mod status;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::rc::Rc;
use std::time::Duration;

use crate::reactor::{Async, Timer};
use futures_lite::{future, AsyncWriteExt};
use smol::LocalExecutor;

use crate::wire::{self, Addr, ConnId, Msg};

/// Frames queued per connection writer (with [`PEER_QUEUE_BYTES`]).
pub const PEER_QUEUE_FRAMES: usize = 256;
/// Bytes queued per connection writer: with the writer's coalescing buffer
/// (≤ `WRITE_COALESCE_BYTES + MAX_FRAME_BYTES`), at most ≈ 832 KiB per peer while it reads
/// slower than we send (≈ 100 MiB at `MAX_CONNS` = 128, ≈ 8 MiB at a typical 10 links).
pub const PEER_QUEUE_BYTES: usize = 512 * 1024;
/// Queue room an eager `Gossip` push may not take: kept for control frames (IHAVE, GRAFT,
/// pings, acks, directory answers), so a payload burst never crowds out the repair path.
pub const PAYLOAD_HEADROOM_FRAMES: usize = 64;
/// Like [`PAYLOAD_HEADROOM_FRAMES`], in bytes.
pub const PAYLOAD_HEADROOM_BYTES: usize = 128 * 1024;
/// A peer whose socket takes no byte for this long while we have bytes for it does not read:
/// it is disconnected (a reader that is merely slow keeps making progress and stays).
pub const SLOW_PEER_STALL: Duration = Duration::from_secs(30);
const _: () = assert!(wire::MAX_FRAME_BYTES <= PEER_QUEUE_BYTES - PAYLOAD_HEADROOM_BYTES);
const _: () = assert!(PAYLOAD_HEADROOM_FRAMES < PEER_QUEUE_FRAMES);
/// Events waiting for the driver; readers wait (backpressure on their own socket only).
pub const NET_INBOX_CAP: usize = 1024;
/// A dial that has not connected within this is a failure.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
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
    /// A UDP datagram arrived on the overlay port from that address (unchecked:
    /// `datagram::Links::open`).
    Datagram(Vec<u8>, SocketAddr),
    /// A host name resolution asked for with [`Net::resolve`] finished.
    Resolved(Result<Vec<SocketAddr>, String>),
}

/// Counters of the transport.
#[derive(Debug, Default, Clone, Copy)]
pub struct NetStats {
    /// Frames other than eager pushes dropped because a writer queue was full.
    pub dropped_full: u64,
    /// Eager pushes handed back to the overlay (announced by `IHave` instead).
    pub shed: u64,
    /// Peers disconnected because their socket took nothing for `SLOW_PEER_STALL`.
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
    /// Bytes in `tx` (the writer task subtracts what it takes).
    queued: Rc<Cell<usize>>,
    /// The peer's address (its IP is where datagrams to it go).
    peer: Option<SocketAddr>,
}

/// Whether a writer queue holding `frames` frames and `bytes` bytes has room for `msg`, a frame
/// of `len` bytes. An eager `Gossip` push is queued only while `PAYLOAD_HEADROOM_*` stays free
/// for control frames.
fn has_room(msg: &Msg, frames: usize, bytes: usize, len: usize) -> bool {
    let (max_frames, max_bytes) = if matches!(msg, Msg::Gossip(_) | Msg::GossipAlso(..)) {
        (PEER_QUEUE_FRAMES - PAYLOAD_HEADROOM_FRAMES, PEER_QUEUE_BYTES - PAYLOAD_HEADROOM_BYTES)
    } else {
        (PEER_QUEUE_FRAMES, PEER_QUEUE_BYTES)
    };
    frames < max_frames && bytes + len <= max_bytes
}

/// Whether a frame that found no room goes back to the overlay, which has something better to
/// do than lose it: an eager `Gossip` push is announced by `IHave` instead, and an `IHave` (what
/// shed pushes become) is announced again on the next flush, so a burst we fan out never
/// loses an announcement silently. Other frames are dropped and counted (`dropped_full`).
fn hand_back(msg: &Msg) -> bool {
    matches!(msg, Msg::Gossip(_) | Msg::GossipAlso(..) | Msg::IHave(_))
}

/// Outcome of [`Net::send`].
#[derive(Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Queued, or dropped and counted (no connection, cannot encode).
    Ok,
    /// An eager `Gossip` push or an `IHave` found no room: hand it back to the overlay
    /// (`Input::Shed`).
    Shed,
    /// Another frame found no room: dropped and counted (`dropped_full`).
    Full,
}

/// The transport: writer handles by connection, and the inbox the tasks report to.
pub struct Net<'a> {
    ex: &'a LocalExecutor<'static>,
    inbox_tx: async_channel::Sender<NetEvent>,
    inbox: async_channel::Receiver<NetEvent>,
    writers: BTreeMap<ConnId, Writer>,
    next_inbound: u64,
    stats: NetStats,
    /// Shared with the writer tasks, which close stalled peers.
    slow_disconnects: Rc<Cell<u64>>,
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
        Net {
            ex,
            inbox_tx,
            inbox,
            writers: BTreeMap::new(),
            next_inbound: 0,
            stats: NetStats::default(),
            slow_disconnects: Rc::new(Cell::new(0)),
            udp: None,
        }
    }

    /// Counters.
    pub fn stats(&self) -> NetStats {
        NetStats { slow_disconnects: self.slow_disconnects.get(), ..self.stats }
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
                        Ok((n, from)) => {
                            let d = buf.get(..n).unwrap_or_default().to_vec();
                            if tx.send(NetEvent::Datagram(d, from)).await.is_err() {
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
        let queued = Rc::new(Cell::new(0));
        self.writers.insert(conn, Writer { tx, queued: queued.clone(), peer });
        let inbox = self.inbox_tx.clone();
        let reader = stream.clone();
        self.ex.spawn(read_loop(conn, reader, inbox)).detach();
        let slow = self.slow_disconnects.clone();
        self.ex.spawn(write_loop(conn, stream, rx, queued, slow)).detach();
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

    /// Queue `msg` on `conn`; never waits, never disconnects (see the module doc).
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
        let len = frame.len();
        if has_room(msg, w.tx.len(), w.queued.get(), len) && w.tx.try_send(frame).is_ok() {
            w.queued.set(w.queued.get() + len);
            self.stats.bytes_out += len as u64;
            return SendOutcome::Ok;
        }
        if w.tx.is_closed() {
            return SendOutcome::Ok; // the writer ended; the reader's `Closed` follows
        }
        if hand_back(msg) {
            self.stats.shed += 1;
            return SendOutcome::Shed;
        }
        self.stats.dropped_full += 1;
        log::debug!("send queue of {conn:?} full: {} dropped", msg.name());
        SendOutcome::Full
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
    let mut reader = frames::frame_reader(&*stream);
    let ev = loop {
        match frames::next_frame(&mut reader).await {
            Ok(msg) => {
                if inbox.send(NetEvent::Frame(conn, msg)).await.is_err() {
                    return;
                }
            }
            Err(frames::ReadEnd::Closed) => break NetEvent::Closed(conn),
            Err(frames::ReadEnd::Http) => break NetEvent::AnsweredHttp(conn),
            Err(frames::ReadEnd::Malformed(e)) => break NetEvent::Malformed(conn, e),
        }
    };
    let _ = stream.get_ref().shutdown(std::net::Shutdown::Both);
    let _ = inbox.send(ev).await;
}

/// Frames already queued are written together, up to this many bytes per write (one buffer of
/// this size per connection at most while writing): with `TCP_NODELAY`, what one driver tick
/// queued for a peer (a post and the IHAVEs riding with it) leaves as one segment.
pub const WRITE_COALESCE_BYTES: usize = 64 * 1024;

async fn write_loop(
    conn: ConnId,
    stream: Rc<Async<TcpStream>>,
    rx: async_channel::Receiver<Vec<u8>>,
    queued: Rc<Cell<usize>>,
    slow: Rc<Cell<u64>>,
) {
    let mut writer = &*stream;
    'frames: while let Ok(mut frame) = rx.recv().await {
        while frame.len() < WRITE_COALESCE_BYTES {
            match rx.try_recv() {
                Ok(next) => frame.extend_from_slice(&next),
                Err(_) => break,
            }
        }
        queued.set(queued.get().saturating_sub(frame.len()));
        let mut rest = &frame[..];
        while !rest.is_empty() {
            let write = async { Some(writer.write(rest).await) };
            let stall = async {
                Timer::after(SLOW_PEER_STALL).await;
                None
            };
            match future::or(write, stall).await {
                Some(Ok(n)) if n > 0 => rest = &rest[n..],
                Some(_) => break 'frames,
                None => {
                    slow.set(slow.get() + 1);
                    log::info!("closing {conn:?}: its socket took nothing for {} s", SLOW_PEER_STALL.as_secs());
                    break 'frames;
                }
            }
        }
    }
    let _ = writer.flush().await;
    let _ = stream.get_ref().shutdown(std::net::Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Gossip, GossipKind, MsgId};

    #[test]
    fn a_full_queue_hands_back_pushes_and_announcements_and_drops_other_control_frames() {
        let push = Msg::Gossip(Gossip {
            id: MsgId([1; 32]),
            round: 1,
            kind: GossipKind::Event,
            body: crate::wire::Body::from_slice(&[]),
        });
        let ihave = Msg::IHave(vec![(MsgId([2; 32]), 1)]);
        let ping = Msg::Ping(7);
        let payload_full = PEER_QUEUE_FRAMES - PAYLOAD_HEADROOM_FRAMES;
        // A push stops at the headroom; control frames may use it.
        assert!(has_room(&push, payload_full - 1, 0, 100));
        assert!(!has_room(&push, payload_full, 0, 100));
        assert!(has_room(&ihave, payload_full, 0, 100) && has_room(&ping, payload_full, 0, 100));
        assert!(!has_room(&push, 0, PEER_QUEUE_BYTES - PAYLOAD_HEADROOM_BYTES, 1));
        // Queue full: the push and the IHAVE go back to the overlay (an IHAVE used to be dropped,
        // which lost the announcement of every push shed before it: tests/slow_peer.rs).
        assert!(!has_room(&ihave, PEER_QUEUE_FRAMES, 0, 100));
        assert!(hand_back(&push) && hand_back(&ihave));
        assert!(!hand_back(&ping));
        // An eager copy naming its twins is a push like any other.
        let Msg::Gossip(g) = push else { unreachable!("built as a push") };
        let named = Msg::GossipAlso(g, vec![crate::wire::NodeId(3)]);
        assert!(!has_room(&named, payload_full, 0, 100) && hand_back(&named));
    }
}
