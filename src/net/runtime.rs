//! Glue between the driver, the overlay state machine, the transport and the store: the one
//! place that turns overlay outputs into socket operations and deliveries into stored events.
//!
//! Owned by the driver's loop (single owner, no shared state). Reads no clock itself: the
//! driver passes `now`. Node identity: a node key in `<data dir>/node.key` (created on first
//! start: zero configuration) and, if present, the owner's authorisation of it in
//! `<data dir>/node-auth.json` (docs/overlay.md "Identity").
//!
//! Which events travel how is the original's rule (original spec §5.1), kept minimal here: a
//! reply/mention (kind 1 with `p` tags of others and no `q` tag) and a like (kind 7) are unicast
//! to the server of each tagged user; a follow list (kind 3) stays local; everything else is
//! broadcast. Resend queues and profile requests belong to the microblog-rules issue.

use std::fmt;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};

use async_io::{Async, Timer};
use futures_lite::future;
use smol::LocalExecutor;

use super::{to_addr, to_socket, Net, NetEvent, SendOutcome};
use crate::event::{Event, KIND_FOLLOW_LIST, KIND_POST, KIND_REACTION};
use crate::keys::PublicKey;
use crate::overlay::crypto::{Rejected, SchnorrCrypto};
use crate::overlay::{self, params::LEAF_SLOTS, Config, Delivery, Input, Output, Overlay, RoleChoice};
use crate::store::Store;
use crate::time::{Instant, UnixTime};
use crate::wire::{Body, Key32, MsgId, NodeId};

/// File holding the node key (64 hex characters), created on first start.
pub const NODE_KEY_FILE: &str = "node.key";
/// Optional file with the owner's signed authorisation of the node key (a Nostr event, JSON).
pub const NODE_AUTH_FILE: &str = "node-auth.json";

/// Why the overlay could not start (a fault: the server exits).
#[derive(Debug)]
pub enum OverlayError {
    /// The overlay address cannot be bound.
    Bind(SocketAddr, std::io::Error),
    /// The node key file cannot be read or written.
    NodeKey(PathBuf, std::io::Error),
    /// No randomness for a new node key.
    Random(String),
}

impl fmt::Display for OverlayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OverlayError::Bind(a, _) => write!(f, "cannot listen for overlay peers on {a}"),
            OverlayError::NodeKey(p, _) => write!(f, "node key file {}", p.display()),
            OverlayError::Random(e) => write!(f, "no randomness for the node key: {e}"),
        }
    }
}

impl std::error::Error for OverlayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OverlayError::Bind(_, e) | OverlayError::NodeKey(_, e) => Some(e),
            OverlayError::Random(_) => None,
        }
    }
}

/// Why the driver's loop woke for the overlay.
#[derive(Debug)]
pub enum OverlayWake {
    /// A transport event.
    Net(NetEvent),
    /// The overlay's timer is due.
    Timer,
}

/// The running overlay of one server.
pub struct OverlayRuntime<'a> {
    overlay: Overlay,
    net: Net<'a>,
    owner: PublicKey,
    next_msg_id: u64,
    local: SocketAddr,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], OverlayError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| OverlayError::Random(e.to_string()))?;
    Ok(b)
}

/// Load the node key, or create and store a new one (zero configuration).
fn node_key(data_dir: &Path) -> Result<[u8; 32], OverlayError> {
    let path = data_dir.join(NODE_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) => crate::hex::decode_array::<32>(s.trim()).map_err(|e| {
            OverlayError::NodeKey(path.clone(), std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = random_bytes()?;
            std::fs::create_dir_all(data_dir).map_err(|e| OverlayError::NodeKey(path.clone(), e))?;
            std::fs::write(&path, crate::hex::encode(&key)).map_err(|e| OverlayError::NodeKey(path.clone(), e))?;
            restrict(&path);
            log::info!("created node key {}", path.display());
            Ok(key)
        }
        Err(e) => Err(OverlayError::NodeKey(path, e)),
    }
}

#[cfg(unix)]
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}
#[cfg(not(unix))]
fn restrict(_path: &Path) {}

/// The overlay's event check: MessagePack `Event` whose id matches, verified (id hash,
/// signature, time window) by `event::Event::verify`.
fn verify_event(id: &MsgId, body: &[u8], unix_now: u64) -> Result<Key32, Rejected> {
    let ev: Event = rmp_serde::from_slice(body).map_err(|_| Rejected::Malformed)?;
    if ev.id.0 != id.0 {
        return Err(Rejected::BadId);
    }
    let pubkey = ev.pubkey.0;
    match ev.verify(UnixTime(unix_now)) {
        Ok(_) => Ok(Key32(pubkey)),
        Err(crate::event::EventError::FromTheFuture { .. }) => Err(Rejected::FromTheFuture),
        Err(crate::event::EventError::IdMismatch { .. }) => Err(Rejected::BadId),
        Err(crate::event::EventError::TooLarge { .. } | crate::event::EventError::TooManyTags) => {
            Err(Rejected::Malformed)
        }
        Err(_) => Err(Rejected::BadSig),
    }
}

fn ov(now: Instant) -> overlay::Instant {
    overlay::Instant(now.0)
}

impl<'a> OverlayRuntime<'a> {
    /// Bind the overlay address, load the identity, and start joining via `boot_peer`.
    ///
    /// # Errors
    /// [`OverlayError`] if the address cannot be bound or the node key cannot be kept.
    pub fn start(
        ex: &'a LocalExecutor<'static>,
        owner: PublicKey,
        listen: SocketAddr,
        boot_peer: Option<&str>,
        data_dir: &Path,
        now: Instant,
        unix: UnixTime,
    ) -> Result<OverlayRuntime<'a>, OverlayError> {
        let listener = Async::<TcpListener>::bind(listen).map_err(|e| OverlayError::Bind(listen, e))?;
        let local = listener.get_ref().local_addr().map_err(|e| OverlayError::Bind(listen, e))?;
        let secret = node_key(data_dir)?;
        let delegation = match std::fs::read(data_dir.join(NODE_AUTH_FILE)) {
            Ok(bytes) => {
                let node_pub = crate::overlay::crypto::public_of(secret);
                let ok = node_pub.is_some_and(|k| {
                    crate::overlay::crypto::check_delegation_event(&Key32(owner.0), &k, &bytes, unix.0)
                });
                if ok {
                    log::info!("node key authorised by the owner ({NODE_AUTH_FILE})");
                    Some(Body::from_slice(&bytes))
                } else {
                    log::warn!("{NODE_AUTH_FILE} is not a valid, unexpired authorisation of this node key: ignored");
                    None
                }
            }
            Err(_) => {
                let node_pub =
                    crate::overlay::crypto::public_of(secret).map(|k| crate::hex::encode(&k.0)).unwrap_or_default();
                log::info!(
                    "no {NODE_AUTH_FILE}: node key {node_pub} is unauthorised (first-come node id). To authorise it, run \
                     `nostrp2p authorize-node <your nsec> {node_pub}` where your secret key lives and save the output as \
                     {} (docs/overlay.md)",
                    data_dir.join(NODE_AUTH_FILE).display()
                );
                None
            }
        };
        let crypto = SchnorrCrypto::new(secret, verify_event).ok_or_else(|| {
            OverlayError::NodeKey(data_dir.join(NODE_KEY_FILE), std::io::ErrorKind::InvalidData.into())
        })?;
        let bootstrap: Vec<_> = boot_peer
            .and_then(|b| match b.to_socket_addrs() {
                Ok(addrs) => Some(addrs.map(to_addr).collect::<Vec<_>>()),
                Err(e) => {
                    log::warn!("cannot resolve bootstrap peer {b}: {e}");
                    None
                }
            })
            .unwrap_or_default();
        let seed = u64::from_be_bytes(random_bytes()?);
        let cfg = Config {
            owner: Key32(owner.0),
            delegation,
            listen: Some(to_addr(local)),
            bootstrap,
            role: match std::env::var("NOSTRP2P_ROLE").as_deref() {
                Ok("core") => RoleChoice::Core,
                Ok("leaf") => RoleChoice::Leaf,
                _ => RoleChoice::Auto,
            },
            unix_at_origin: unix.0.saturating_sub(now.0 / 1000),
            leaf_slots: LEAF_SLOTS,
            seed,
        };
        let overlay = Overlay::new(cfg, Box::new(crypto), ov(now));
        let net = Net::new(ex);
        net.listen(listener);
        log::info!("overlay listening on {local}, node id {}", owner.node_id());
        Ok(OverlayRuntime { overlay, net, owner, next_msg_id: u64::from_be_bytes(random_bytes()?), local })
    }

    /// The bound overlay address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Connected overlay nodes.
    pub fn peers(&self) -> u64 {
        self.overlay.connected_nodes().len() as u64
    }

    /// When the overlay wants its timer, as a monotonic `Instant`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.overlay.poll_timeout().map(|t| Instant(t.0))
    }

    /// Wait for a transport event or until `deadline` (a `std::time::Instant`).
    pub async fn wait(&self, deadline: Option<std::time::Instant>) -> OverlayWake {
        future::or(
            async {
                match self.net.recv().await {
                    Some(ev) => OverlayWake::Net(ev),
                    None => future::pending().await,
                }
            },
            async {
                match deadline {
                    Some(at) => {
                        Timer::at(at).await;
                    }
                    None => future::pending::<()>().await,
                }
                OverlayWake::Timer
            },
        )
        .await
    }

    /// Handle one wake (and whatever else the transport has ready); returns how many events
    /// were stored (the driver syncs the store once for all of them).
    pub fn handle(&mut self, wake: OverlayWake, now: Instant, unix: UnixTime, store: &mut Store) -> usize {
        let mut stored = 0;
        match wake {
            OverlayWake::Timer => self.overlay.handle_timeout(ov(now)),
            OverlayWake::Net(ev) => self.on_net(ev, now),
        }
        stored += self.drain(now, unix, store);
        // Take what else is already queued, bounded so the loop stays responsive.
        for _ in 0..256 {
            let Some(ev) = self.net.try_recv() else { break };
            self.on_net(ev, now);
            stored += self.drain(now, unix, store);
        }
        stored
    }

    fn on_net(&mut self, ev: NetEvent, now: Instant) {
        let input = match ev {
            NetEvent::Incoming(stream, peer) => match self.net.adopt_inbound(stream) {
                Some(conn) => Input::Accepted { conn, remote: to_addr(peer) },
                None => return,
            },
            NetEvent::Dialed(conn, stream) => {
                if !self.net.adopt_outbound(conn, stream) {
                    Input::Closed { conn }
                } else {
                    Input::Connected { conn }
                }
            }
            NetEvent::Closed(conn) => {
                self.net.forget(conn);
                Input::Closed { conn }
            }
            NetEvent::Frame(conn, msg) => Input::Frame { conn, msg },
            NetEvent::Malformed(conn, e) => {
                log::debug!("malformed frame from {conn:?}: {e}");
                self.net.forget(conn);
                Input::Malformed { conn }
            }
        };
        self.overlay.handle_input(input, ov(now));
    }

    fn drain(&mut self, now: Instant, unix: UnixTime, store: &mut Store) -> usize {
        let mut stored = 0;
        while let Some(out) = self.overlay.poll_output() {
            match out {
                Output::Send { conn, msg } => {
                    if self.net.send(conn, &msg) == SendOutcome::Disconnected {
                        self.overlay.handle_input(Input::Closed { conn }, ov(now));
                    }
                }
                Output::Dial { conn, addr } => self.net.dial(conn, to_socket(addr)),
                Output::Close { conn } => self.net.close(conn),
                Output::Deliver(Delivery::Broadcast { body, .. }) => stored += store_body(&body, unix, store),
                Output::Deliver(Delivery::Unicast { src, payload, .. }) => {
                    log::debug!("unicast from {src}");
                    stored += store_body(&payload, unix, store);
                }
                Output::UnicastDone { msg_id, dst, result } => match result {
                    Ok(hops) => log::debug!("unicast {msg_id:x} to {dst} acked after {hops} hops"),
                    Err(reason) => log::info!("unicast {msg_id:x} to {dst} failed: {reason:?}"),
                },
            }
        }
        stored
    }

    /// Send our owner's freshly stored event into the network (broadcast or unicast).
    pub fn publish(&mut self, ev: &Event, now: Instant) {
        let Ok(bytes) = rmp_serde::to_vec(ev) else { return };
        let body = Body::from_slice(&bytes);
        let targets = unicast_targets(ev, &self.owner);
        match targets {
            None => self.overlay.handle_input(Input::Publish { id: MsgId(ev.id.0), body }, ov(now)),
            Some(dsts) => {
                for dst in dsts {
                    self.next_msg_id = self.next_msg_id.wrapping_add(1);
                    let input = Input::Unicast {
                        dst: NodeId(dst.node_id().0),
                        msg_id: self.next_msg_id,
                        payload: body.clone(),
                    };
                    self.overlay.handle_input(input, ov(now));
                }
            }
        }
    }

    /// Run the outputs produced by `publish` (no store access needed: nothing is delivered).
    pub fn flush(&mut self, now: Instant, unix: UnixTime, store: &mut Store) -> usize {
        self.drain(now, unix, store)
    }
}

/// `None` ⇒ broadcast; `Some(users)` ⇒ unicast to each user's server (empty ⇒ keep local).
fn unicast_targets(ev: &Event, owner: &PublicKey) -> Option<Vec<PublicKey>> {
    let others = || -> Vec<PublicKey> {
        let mut v: Vec<PublicKey> =
            ev.tag_values("p").filter_map(|p| PublicKey::parse(p).ok()).filter(|p| p != owner).collect();
        v.dedup();
        v
    };
    match ev.kind {
        KIND_FOLLOW_LIST => Some(Vec::new()),
        KIND_REACTION => Some(others().into_iter().take(1).collect()),
        KIND_POST if !ev.has_tag("q") && !others().is_empty() => Some(others()),
        _ => None,
    }
}

fn store_body(body: &Body, unix: UnixTime, store: &mut Store) -> usize {
    let Ok(ev) = rmp_serde::from_slice::<Event>(body.as_slice()) else { return 0 };
    // Checked once more here: the overlay's check is behind a trait and this is the value
    // the store accepts (a VerifiedEvent can only come from `verify`).
    match ev.verify(unix) {
        Ok(v) => match store.insert(v) {
            Ok(crate::store::Inserted::New { .. }) => 1,
            Ok(_) => 0,
            Err(e) => {
                log::error!("cannot store an event from the overlay: {e}");
                0
            }
        },
        Err(e) => {
            log::debug!("delivered event failed verification: {e}");
            0
        }
    }
}
