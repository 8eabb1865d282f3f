//! A raw overlay peer for hostile tests: speaks the wire protocol by hand over TCP with its own
//! (valid) node key, then sends whatever frames the test wants. A socket read timeout only
//! turns a hang into a failure; nothing waits a fixed time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use super::cluster::{nodes_known, overlay_addr, peers, start_node, wait_until};
use super::{Node, TempDir};
use nostrp2p::keys::SecretKey;
use nostrp2p::overlay::crypto::{Crypto, Rejected, SchnorrCrypto};
use nostrp2p::wire::{
    decode_body, decode_header, encode_frame, Addr, Hello, Key32, Msg, NodeId, NodeRecord, Role, Sig, HEADER_BYTES,
};

/// Test user `i`'s secret key (user 0 owns A, user 1 owns B, others are attackers).
pub fn user(i: u8) -> SecretKey {
    SecretKey::from_bytes([i + 1; 32]).expect("valid test key")
}

/// Two real servers, B bootstrapped from A, each knowing both (the stage of every hostile test).
pub fn pair(tag: &str) -> (Vec<TempDir>, Node, Node) {
    let dirs: Vec<TempDir> = (0..2).map(|i| TempDir::new(&format!("{tag}-{i}"))).collect();
    let a = start_node(&user(0).public_key().to_hex(), &dirs[0], None);
    let b = start_node(&user(1).public_key().to_hex(), &dirs[1], Some(overlay_addr(&a)));
    wait_until("both servers to know both", &[&a, &b], || {
        nodes_known(&a) >= 2 && nodes_known(&b) >= 2 && peers(&a) >= 1 && peers(&b) >= 1
    });
    (dirs, a, b)
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A record of `owner`'s node (no delegation, valid for an hour) signed by `crypto`'s node key.
pub fn signed_record(crypto: &mut SchnorrCrypto, owner: Key32, role: Role, addr: Option<Addr>) -> NodeRecord {
    let mut record = NodeRecord {
        node: NodeId::of_pubkey(&owner.0),
        owner,
        node_key: crypto.node_key(),
        delegation: None,
        role,
        addr,
        homes: vec![],
        seq: now() * 1000,
        expires: now() + 3_600,
        sig: Sig([0; 64]),
    };
    record.sig = crypto.sign(&record.signing_hash());
    record
}

/// A peer that speaks the wire protocol by hand.
pub struct RawPeer {
    pub stream: TcpStream,
}

impl RawPeer {
    /// The next frame, or `None` once the server closed the connection (or sent garbage).
    pub fn try_read_msg(&mut self) -> Option<Msg> {
        let mut h = [0u8; HEADER_BYTES];
        self.stream.read_exact(&mut h).ok()?;
        let len = decode_header(h).ok()?;
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body).ok()?;
        decode_body(&body).ok()
    }

    pub fn read_msg(&mut self) -> Msg {
        self.try_read_msg().expect("a valid frame from the server")
    }

    pub fn send(&mut self, msg: &Msg) {
        self.stream.write_all(&encode_frame(msg).expect("encodes")).expect("send");
    }

    /// Like `send`, but a connection the server already closed is not an error.
    pub fn try_send(&mut self, msg: &Msg) -> bool {
        self.stream.write_all(&encode_frame(msg).expect("encodes")).is_ok()
    }

    /// Connects to `to` as a leaf of owner `owner` with node key `node_secret`, and
    /// authenticates (Hello both ways, Auth both ways).
    pub fn connect(to: SocketAddr, owner: &SecretKey, node_secret: [u8; 32]) -> RawPeer {
        RawPeer::connect_claiming(to, Key32(owner.public_key().0), node_secret, Role::Leaf)
    }

    /// Connects claiming to be owner `owner`'s node (the owner's public key is public: anyone
    /// can claim it) with its own node key `node_secret` and no delegation, in `role`.
    pub fn connect_claiming(to: SocketAddr, owner: Key32, node_secret: [u8; 32], role: Role) -> RawPeer {
        RawPeer::connect_advertising(to, owner, node_secret, role, None)
    }

    /// Like `connect_claiming`, with `addr` in the record (a core node must advertise one to
    /// be taken into the server's active view by `Join`).
    pub fn connect_advertising(
        to: SocketAddr,
        owner: Key32,
        node_secret: [u8; 32],
        role: Role,
        addr: Option<Addr>,
    ) -> RawPeer {
        RawPeer::connect_announcing(to, owner, node_secret, role, addr, 0)
    }

    /// Like `connect_advertising`, announcing capability bits `features` in its `Hello` nonce
    /// (0: a peer of the build before capabilities).
    pub fn connect_announcing(
        to: SocketAddr,
        owner: Key32,
        node_secret: [u8; 32],
        role: Role,
        addr: Option<Addr>,
        features: u8,
    ) -> RawPeer {
        let mut crypto = SchnorrCrypto::new(node_secret, |_, _, _| Err(Rejected::Malformed)).expect("node key");
        let record = signed_record(&mut crypto, owner, role, addr);
        let node = record.node;
        let stream = TcpStream::connect(to).expect("connect to the overlay port");
        stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        let mut peer = RawPeer { stream };
        let nonce = if features == 0 { 1 } else { Hello::tag_nonce(1, features) };
        peer.send(&Msg::Hello(Box::new(Hello { record, nonce })));
        let their_nonce = loop {
            if let Msg::Hello(h) = peer.read_msg() {
                break h.nonce;
            }
        };
        peer.try_send(&Msg::Auth(crypto.sign(&Hello::auth_hash(their_nonce, node))));
        peer
    }

    /// A core peer (owner `user(seed)`, node key `node_secret`) that advertises a listener of its
    /// own on 127.0.0.1 and joins `to`'s active view; the listener must stay open while it is used.
    pub fn join_active_view(to: SocketAddr, seed: u8, node_secret: [u8; 32]) -> (RawPeer, TcpListener) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("advertised address");
        let port = listener.local_addr().expect("local addr").port();
        let owner = Key32(user(seed).public_key().0);
        let mut raw =
            RawPeer::connect_advertising(to, owner, node_secret, Role::Core, Some(Addr::v4([127, 0, 0, 1], port)));
        raw.send(&Msg::Join);
        loop {
            match raw.read_msg() {
                Msg::NeighborReply { ok: true } => return (raw, listener),
                Msg::NeighborReply { ok: false } => panic!("the server refused raw peer {seed} as a neighbour"),
                _ => {}
            }
        }
    }

    /// Waits until the server has processed every frame sent so far (frames on one connection
    /// are handled in order, so its `Pong` comes after all of them).
    pub fn sync(&mut self, n: u32) {
        self.sync_collect(n).expect("the server answered the ping");
    }

    /// Pings and returns every other frame received before the matching `Pong`, or `None` if
    /// the server closed the connection first.
    pub fn sync_collect(&mut self, n: u32) -> Option<Vec<Msg>> {
        if !self.try_send(&Msg::Ping(n)) {
            return None;
        }
        let mut seen = Vec::new();
        loop {
            match self.try_read_msg()? {
                Msg::Pong(m) if m == n => return Some(seen),
                other => seen.push(other),
            }
        }
    }
}

impl RawPeer {
    /// Splits the link: the test keeps writing (from any thread) while a thread reads it,
    /// answers the server's pings, hands `Pong`s to [`RawLink::sync`] and every other message
    /// to `on_msg` (e.g. the events the server forwards).
    pub fn into_link(self, mut on_msg: impl FnMut(Msg) + Send + 'static) -> RawLink {
        let mut reader = RawPeer { stream: self.stream.try_clone().expect("clone socket") };
        reader.stream.set_read_timeout(None).expect("blocking reads");
        let w = Arc::new(Mutex::new(self.stream));
        let closed = Arc::new(AtomicBool::new(false));
        let (w2, closed2) = (Arc::clone(&w), Arc::clone(&closed));
        let (tx, pongs) = mpsc::channel();
        std::thread::spawn(move || {
            while let Some(m) = reader.try_read_msg() {
                match m {
                    Msg::Ping(n) => {
                        let pong = encode_frame(&Msg::Pong(n)).expect("encodes");
                        let _ = w2.lock().expect("socket lock").write_all(&pong);
                    }
                    Msg::Pong(n) => {
                        let _ = tx.send(n);
                    }
                    other => on_msg(other),
                }
            }
            closed2.store(true, Ordering::SeqCst);
        });
        RawLink { w, pongs: Mutex::new(pongs), closed }
    }
}

/// A raw peer's link read by its own thread ([`RawPeer::into_link`]).
pub struct RawLink {
    w: Arc<Mutex<TcpStream>>,
    pongs: Mutex<mpsc::Receiver<u32>>,
    closed: Arc<AtomicBool>,
}

impl RawLink {
    /// Sends `bytes` (whole frames); false if the server already closed the link.
    pub fn send(&self, bytes: &[u8]) -> bool {
        self.w.lock().expect("socket lock").write_all(bytes).is_ok()
    }

    /// Pings with `n` (≠ 0) and waits up to `wait` for its `Pong`: the server has handled
    /// every frame sent before it. False if none came (link closed, or the wait ran out).
    pub fn sync(&self, n: u32, wait: Duration) -> bool {
        if !self.send(&encode_frame(&Msg::Ping(n)).expect("encodes")) {
            return false;
        }
        let deadline = Instant::now() + wait;
        let pongs = self.pongs.lock().expect("pongs lock");
        while let Ok(m) = pongs.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if m == n {
                return true;
            }
        }
        false
    }

    /// True once the reading thread saw the server close the link.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}
