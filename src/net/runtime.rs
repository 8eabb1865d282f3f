//! Glue between the driver, the overlay state machine, the transport and the store: the one
//! place that turns overlay outputs into socket operations and deliveries into stored events.
//!
//! Owned by the driver's loop (single owner, no shared state). Reads no clock itself: the
//! driver passes `now`. Node identity: a node key in `<data dir>/node.key` (created on first
//! start: zero configuration) and, if present, the owner's authorisation of it in
//! `<data dir>/node-auth.json` (docs/overlay.md "Identity").
//!
//! Which events travel how, offline delivery, catch-up and fetches are the application layer's
//! decisions (`crate::app`, a pure state machine owned here): overlay deliveries become app
//! inputs, app outputs become overlay publishes/unicasts or store inserts, connection changes
//! become `NodeUp`/`Joined`. The app's resend queue and mailbox are persisted in the data dir
//! (atomic snapshot files) at most every `APP_PERSIST_INTERVAL` and at shutdown.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};

use async_io::{Async, Timer};
use futures_lite::future;
use smol::LocalExecutor;

use super::bootstrap::Bootstrap;
use super::datagram::{self, Links};
use super::{to_addr, to_socket, Net, NetEvent, SendOutcome};
use crate::app::{self, persist, App, AppConfig, FetchTarget};
use crate::event::{Event, VerifiedEvent};
use crate::http::Miss;
use crate::keys::{PublicKey, SecretKey};
use crate::limits::APP_PERSIST_INTERVAL;
use crate::overlay::crypto::{Checked, Rejected, SchnorrCrypto};
use crate::overlay::{params::LEAF_SLOTS, Config, Delivery, Input, Output, Overlay, RoleChoice};
use crate::store::Store;
use crate::time::{Instant, Now, UnixTime};
use crate::wire::{Body, Key32, MsgId, NodeId};

/// How long resolving `-b host:port` may take at start (Android has no system resolver for a
/// static binary: `platform::resolve` asks the configured nameservers itself). A name that does
/// not resolve is tried again later (see `net::bootstrap`).
const BOOT_RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

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

/// The running overlay of one server, with the microblog application on top.
pub struct OverlayRuntime<'a> {
    overlay: Overlay,
    net: Net<'a>,
    app: App,
    local: SocketAddr,
    data_dir: PathBuf,
    /// Nodes connected after the last drain (to tell `NodeUp` and `Joined`).
    connected: BTreeSet<NodeId>,
    /// The latest clock readings passed in, to turn the app's wall-clock deadlines into
    /// monotonic ones (re-read on every call, so a stepped wall clock is followed at once).
    clock: Now,
    /// When the app's state was last written to disk.
    last_persist: UnixTime,
    /// The `-b` peer: why it does not work, when to resolve it again.
    bootstrap: Option<Bootstrap>,
    /// Events newly stored from the network since the last [`OverlayRuntime::take_stored`]
    /// (the relay's live subscriptions get them). Bounded by one wake's work: the driver
    /// takes them after every call that can store.
    stored: Vec<crate::event::Event>,
    /// Datagram links of core↔core connections (`net::datagram`).
    links: Links,
    /// Frames waiting to leave by datagram at the end of this drain, per connection (at most
    /// `datagram::MAX_FRAMES_BYTES` each).
    dgram_out: std::collections::BTreeMap<crate::wire::ConnId, Vec<u8>>,
    /// Our UDP port, if the socket could be bound.
    udp_port: Option<u16>,
    /// Test hook (debug builds only, `NOSTRP2P_TEST_DROP_DATAGRAMS=N`): every Nth payload
    /// datagram is dropped instead of sent, to test loss repair between real servers. 0: off.
    drop_every: u32,
    drop_count: u32,
    /// The owner (whose newest follow list sets the overlay's interest set).
    owner: PublicKey,
    /// Id of the follow list the interest set was last derived from.
    follow_list: Option<crate::event::EventId>,
    /// Connections dropped because the peer spoke another protocol version (for `/status`).
    other_protocol_peers: u64,
    /// The version the last such peer spoke.
    other_protocol: Option<u8>,
}

/// What the application layer sees of the overlay (`app::Context`).
struct Ctx<'o>(&'o Overlay);

impl app::Context for Ctx<'_> {
    fn me(&self) -> NodeId {
        self.0.node_id()
    }

    fn node_at_or_after(&self, at: u64) -> Option<NodeId> {
        self.0.directory().node_at_or_after(at)
    }

    fn node_key(&self, node: NodeId) -> Option<PublicKey> {
        self.0.directory().get(node).map(|e| PublicKey(e.node_key.0))
    }

    fn is_reachable(&self, node: NodeId) -> bool {
        self.0.directory().get(node).is_some()
    }

    fn neighbours(&self) -> Vec<NodeId> {
        self.0.connected_nodes()
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N], OverlayError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| OverlayError::Random(e.to_string()))?;
    Ok(b)
}

/// Load the node key, or create and store a new one (zero configuration).
///
/// The new key is written atomically (temporary file, fsync, rename, directory fsync), so a
/// power cut never leaves a half-written key. An empty file (left by older versions after a
/// power cut during the first start) counts as missing; any other unreadable content is an
/// error for a human to look at, because a new key would change the node's identity.
fn node_key(data_dir: &Path) -> Result<[u8; 32], OverlayError> {
    let path = data_dir.join(NODE_KEY_FILE);
    let existing = match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().is_empty() => {
            log::warn!("{} is empty (interrupted first start?): making a new node key", path.display());
            None
        }
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(OverlayError::NodeKey(path, e)),
    };
    if let Some(s) = existing {
        return crate::hex::decode_array::<32>(s.trim()).map_err(|e| {
            OverlayError::NodeKey(path.clone(), std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
        });
    }
    let key: [u8; 32] = random_bytes()?;
    std::fs::create_dir_all(data_dir).map_err(|e| OverlayError::NodeKey(path.clone(), e))?;
    persist::write_atomic(&path, crate::hex::encode(&key).as_bytes())
        .map_err(|e| OverlayError::NodeKey(path.clone(), e))?;
    restrict(&path);
    log::info!("created node key {}", path.display());
    Ok(key)
}

#[cfg(unix)]
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}
#[cfg(not(unix))]
fn restrict(_path: &Path) {}

/// The overlay's event check: MessagePack `Event` whose id matches, verified (id hash,
/// signature, time window) by `event::Event::verify`. The verified event travels on with the
/// overlay's delivery to the app and the store: this is the only check a received event gets.
fn verify_event(id: &MsgId, body: &[u8], unix_now: u64) -> Result<Checked, Rejected> {
    let ev: Event = crate::event::packed::decode(body).map_err(|_| Rejected::Malformed)?;
    if ev.id.0 != id.0 {
        return Err(Rejected::BadId);
    }
    let author = Key32(ev.pubkey.0);
    match ev.verify(UnixTime(unix_now)) {
        Ok(v) => Ok(Checked { author, event: Some(v) }),
        Err(crate::event::EventError::FromTheFuture { created_at, .. }) => Err(Rejected::FromTheFuture { created_at }),
        Err(crate::event::EventError::IdMismatch { .. }) => Err(Rejected::BadId),
        Err(crate::event::EventError::TooLarge { .. } | crate::event::EventError::TooManyTags) => {
            Err(Rejected::Malformed)
        }
        Err(_) => Err(Rejected::BadSig),
    }
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
        delivery: crate::wire::DeliveryMode,
        data_dir: &Path,
        clock: Now,
    ) -> Result<OverlayRuntime<'a>, OverlayError> {
        let (now, unix) = (clock.mono, clock.wall);
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
        let node_secret = SecretKey::from_bytes(secret)
            .map_err(|_| OverlayError::NodeKey(data_dir.join(NODE_KEY_FILE), std::io::ErrorKind::InvalidData.into()))?;
        let mut app = App::new(AppConfig { owner, node_secret, seed: random_bytes()? });
        restore_app(&mut app, data_dir, unix);
        let bootstrap = boot_peer.map(|b| {
            let resolved = crate::platform::resolve(b, BOOT_RESOLVE_TIMEOUT).map_err(|e| e.to_string());
            Bootstrap::new(b, resolved, now)
        });
        let seed = u64::from_be_bytes(random_bytes()?);
        let cfg = Config {
            owner: Key32(owner.0),
            delegation,
            listen: Some(to_addr(local)),
            bootstrap: bootstrap.as_ref().map(|b| b.addrs().iter().copied().map(to_addr).collect()).unwrap_or_default(),
            role: match std::env::var("NOSTRP2P_ROLE").as_deref() {
                Ok("core") => RoleChoice::Core,
                Ok("leaf") => RoleChoice::Leaf,
                _ => RoleChoice::Auto,
            },
            leaf_slots: LEAF_SLOTS,
            seed,
            delivery,
        };
        let overlay = Overlay::new(cfg, Box::new(crypto), Now::new(now, unix));
        let mut net = Net::new(ex);
        net.listen(listener);
        // The datagram path shares the TCP port number (one rule for a firewall). Without it
        // (port taken, no UDP) every frame goes by TCP as before.
        let udp_port = match Async::<UdpSocket>::bind(local) {
            Ok(sock) => {
                net.listen_udp(sock);
                Some(local.port())
            }
            Err(e) => {
                log::warn!("no datagram path: cannot bind udp {local}: {e}");
                None
            }
        };
        log::info!("overlay listening on {local}, node id {}", owner.node_id());
        Ok(OverlayRuntime {
            overlay,
            net,
            app,
            local,
            data_dir: data_dir.to_path_buf(),
            connected: BTreeSet::new(),
            clock: Now::new(now, unix),
            last_persist: unix,
            bootstrap,
            stored: Vec::new(),
            owner,
            follow_list: None,
            other_protocol_peers: 0,
            other_protocol: None,
            links: Links::default(),
            dgram_out: std::collections::BTreeMap::new(),
            udp_port,
            drop_every: test_drop_every(),
            drop_count: 0,
        })
    }

    /// The bound overlay address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Connected overlay nodes.
    pub fn peers(&self) -> u64 {
        self.overlay.connected_nodes().len() as u64
    }

    /// When the overlay or the application wants its timer, as a monotonic `Instant`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let Now { mono, wall } = self.clock;
        let to_instant = |t: UnixTime| mono.plus_ms(t.0.saturating_sub(wall.0).saturating_mul(1000));
        let persist = (self.app.outbox_dirty() || self.app.mailbox_dirty())
            .then(|| to_instant(self.last_persist.saturating_add(APP_PERSIST_INTERVAL)));
        let resolve = self.bootstrap.as_ref().and_then(Bootstrap::poll_timeout);
        [self.overlay.poll_timeout(), self.app.poll_timeout().map(to_instant), persist, resolve]
            .into_iter()
            .flatten()
            .min()
    }

    /// Wait for a transport event or until `timer` fires. The driver keeps the timer between
    /// calls and re-arms it only when [`OverlayRuntime::poll_timeout`] changes: arming a
    /// timer wakes the reactor thread, which on a busy machine competes for a CPU with the
    /// work a post is waiting for.
    pub async fn wait(&self, timer: &mut Timer) -> OverlayWake {
        future::or(
            async {
                match self.net.recv().await {
                    Some(ev) => OverlayWake::Net(ev),
                    None => future::pending().await,
                }
            },
            async {
                timer.await;
                OverlayWake::Timer
            },
        )
        .await
    }

    /// Handle one wake (and whatever else the transport has ready); returns how many events
    /// were stored (the driver syncs the store once for all of them).
    pub fn handle(&mut self, wake: OverlayWake, now: Instant, unix: UnixTime, store: &mut Store) -> usize {
        self.clock = Now::new(now, unix);
        let mut stored = 0;
        match wake {
            OverlayWake::Timer => {
                // Both machines treat an early call as harmless.
                self.overlay.handle_timeout(self.clock);
                self.app.handle_timeout(unix, &Ctx(&self.overlay), &*store);
                self.persist(unix, false);
            }
            OverlayWake::Net(ev) => self.on_net(ev),
        }
        stored += self.drain(unix, store);
        // Take what else is already queued, bounded so the loop stays responsive.
        for _ in 0..256 {
            let Some(ev) = self.net.try_recv() else { break };
            self.on_net(ev);
            stored += self.drain(unix, store);
        }
        // The role is often decided on a timer, after the handshakes: offer links then too.
        if self.udp_port.is_some() && self.overlay.role() == crate::wire::Role::Core && !self.overlay.is_deciding() {
            for conn in self.net.conn_ids() {
                self.maybe_offer(conn);
            }
            self.flush_datagrams();
        }
        if let Some(b) = self.bootstrap.as_mut() {
            if b.poll_resolve(now) {
                self.net.resolve(b.host().to_owned());
            }
        }
        stored
    }

    fn on_net(&mut self, ev: NetEvent) {
        let now = self.clock.mono;
        let boot = self.bootstrap.as_mut();
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
            NetEvent::DialFailed(conn, kind) => {
                if let Some(b) = boot {
                    b.on_dial_failed(conn, kind, now);
                }
                Input::Closed { conn }
            }
            NetEvent::Closed(conn) => {
                if let Some(b) = boot {
                    b.on_closed(conn, now);
                }
                self.net.forget(conn);
                self.links.remove(conn);
                Input::Closed { conn }
            }
            NetEvent::Frame(conn, crate::wire::Msg::Link { port, token, key }) => {
                return self.on_link(conn, port, token, key.0);
            }
            NetEvent::Frame(conn, crate::wire::Msg::LinkResend(seqs)) => {
                // Re-sent by TCP: only what we sent this peer, each once (no amplification).
                for frames in self.links.resend(conn, &seqs) {
                    for msg in datagram::decode_frames(&frames).unwrap_or_default() {
                        let _ = self.net.send(conn, &msg);
                    }
                }
                return;
            }
            NetEvent::Frame(conn, msg) => {
                if let Some(b) = boot {
                    b.on_frame(conn);
                }
                self.overlay.handle_input(Input::Frame { conn, msg }, self.clock);
                return self.maybe_offer(conn);
            }
            NetEvent::Datagram(d, from) => return self.on_datagram(&d, from),
            NetEvent::Malformed(conn, e) => {
                if let crate::wire::DecodeError::BadVersion { got } = e {
                    other_protocol(&mut self.other_protocol_peers, &mut self.other_protocol, conn, got);
                }
                log::debug!("malformed frame from {conn:?}: {e}");
                if let Some(b) = boot {
                    b.on_malformed(conn, false, now);
                }
                self.net.forget(conn);
                self.links.remove(conn);
                Input::Malformed { conn }
            }
            NetEvent::AnsweredHttp(conn) => {
                log::debug!("{conn:?} answered in HTTP");
                if let Some(b) = boot {
                    b.on_malformed(conn, true, now);
                }
                self.net.forget(conn);
                self.links.remove(conn);
                Input::Malformed { conn }
            }
            NetEvent::Resolved(result) => {
                let changed = boot.and_then(|b| b.on_resolved(result, now));
                if let Some(addrs) = changed {
                    self.overlay.set_bootstrap(addrs.into_iter().map(to_addr).collect(), now);
                }
                return;
            }
        };
        self.overlay.handle_input(input, self.clock);
    }

    /// Runs overlay and application outputs until both are quiet; returns events stored.
    fn drain(&mut self, unix: UnixTime, store: &mut Store) -> usize {
        self.sync_interest(store);
        let mut stored = 0;
        loop {
            let mut progressed = false;
            while let Some(out) = self.overlay.poll_output() {
                progressed = true;
                self.on_overlay_output(out, unix, store);
            }
            self.notice_membership(unix, store);
            while let Some(out) = self.app.poll_output() {
                progressed = true;
                stored += self.on_app_output(out, unix, store);
            }
            if !progressed {
                self.flush_datagrams();
                return stored;
            }
        }
    }

    /// Hand the overlay the owner's followees when their newest follow list changed (at start,
    /// and after each new kind 3): a leaf tells its homes, an unfollow unsubscribes. Runs on
    /// every drain, so the unchanged case is one index lookup; the list is decoded on change.
    fn sync_interest(&mut self, store: &Store) {
        use crate::query::EventQuery;
        let id = store.latest_replaceable_id(&self.owner, crate::event::KIND_FOLLOW_LIST);
        if id == self.follow_list {
            return;
        }
        self.follow_list = id;
        let list = store.latest_replaceable(&self.owner, crate::event::KIND_FOLLOW_LIST);
        let authors = list.as_deref().map(app::follows::followees).unwrap_or_default();
        log::info!("following {} authors (delivery {:?})", authors.len(), self.overlay.delivery());
        let keys = authors.into_iter().map(|k| Key32(k.0)).collect();
        self.overlay.handle_input(Input::SetInterest(keys), self.clock);
    }

    fn on_overlay_output(&mut self, out: Output, unix: UnixTime, store: &Store) {
        let input = match out {
            Output::Send { conn, msg } => {
                if datagram::allowed(&msg) && self.links.usable(conn) && self.queue_datagram(conn, &msg) {
                    return;
                }
                if self.net.send(conn, &msg) == SendOutcome::Shed {
                    self.overlay.handle_input(Input::Shed { conn, msg }, self.clock);
                }
                return;
            }
            Output::Dial { conn, addr } => {
                if let Some(b) = self.bootstrap.as_mut() {
                    b.on_dial(conn, to_socket(addr));
                }
                return self.net.dial(conn, to_socket(addr));
            }
            Output::Close { conn } => {
                if let Some(b) = self.bootstrap.as_mut() {
                    b.on_closed(conn, self.clock.mono);
                }
                self.links.remove(conn);
                return self.net.close(conn);
            }
            Output::Deliver(d) => match delivered(d) {
                Some(input) => input,
                None => return,
            },
            Output::UnicastDone { msg_id, dst, result } => {
                match &result {
                    Ok(hops) => log::debug!("unicast {msg_id:x} to {dst} acked after {hops} hops"),
                    Err(reason) => log::debug!("unicast {msg_id:x} to {dst} failed: {reason:?}"),
                }
                app::Input::UnicastDone { msg_id, dst, ok: result.is_ok() }
            }
        };
        self.app.handle_input(input, unix, &Ctx(&self.overlay), store);
    }

    fn on_app_output(&mut self, out: app::Output, unix: UnixTime, store: &mut Store) -> usize {
        match out {
            app::Output::Broadcast(ev) => {
                let bytes = crate::event::packed::encode(ev.as_event());
                let input = Input::Publish { id: MsgId(ev.id.0), body: Body::from_slice(&bytes) };
                self.overlay.handle_input(input, self.clock);
                0
            }
            app::Output::Unicast { dst, msg_id, payload } => {
                let input = Input::Unicast { dst, msg_id, payload: Body::from_slice(&payload) };
                self.overlay.handle_input(input, self.clock);
                0
            }
            app::Output::Store(ev) => {
                let id = ev.id;
                let copy = ev.as_event().clone();
                match store.insert(ev) {
                    Ok(crate::store::Inserted::New { .. }) => {
                        store.note_arrival(&id, unix);
                        self.stored.push(copy);
                        1
                    }
                    Ok(_) => 0,
                    Err(e) => {
                        log::error!("cannot store event {id} from the network: {e}");
                        0
                    }
                }
            }
        }
    }

    /// Tells the app about links that came up (`NodeUp`) and about (re)joining (`Joined`).
    fn notice_membership(&mut self, unix: UnixTime, store: &Store) {
        let now_connected: BTreeSet<NodeId> = self.overlay.connected_nodes().into_iter().collect();
        if let Some(b) = self.bootstrap.as_mut() {
            b.on_peers(now_connected.len());
        }
        if now_connected == self.connected {
            return;
        }
        let joined = self.connected.is_empty() && !now_connected.is_empty();
        let ups: Vec<NodeId> = now_connected.difference(&self.connected).copied().collect();
        self.connected = now_connected;
        for n in ups {
            self.app.handle_input(app::Input::NodeUp(n), unix, &Ctx(&self.overlay), store);
        }
        if joined {
            log::info!("joined the overlay: catching up");
            self.app.handle_input(app::Input::Joined, unix, &Ctx(&self.overlay), store);
        }
    }

    /// The owner's freshly stored (durable) event: the app decides where it goes.
    pub fn publish(&mut self, ev: VerifiedEvent, now: Instant, unix: UnixTime, store: &mut Store) -> usize {
        self.clock = Now::new(now, unix);
        self.app.handle_input(app::Input::Published(ev), unix, &Ctx(&self.overlay), &*store);
        self.drain(unix, store)
    }

    /// Events stored from the network since the last call, oldest first.
    pub fn take_stored(&mut self) -> Vec<crate::event::Event> {
        std::mem::take(&mut self.stored)
    }

    /// The owner's client asked for something the store does not have: ask the network.
    pub fn local_miss(&mut self, miss: Miss, now: Instant, unix: UnixTime, store: &mut Store) -> usize {
        self.clock = Now::new(now, unix);
        let (target, author) = match miss {
            Miss::Profile(pk) => (FetchTarget::Profile(pk), Some(pk)),
            Miss::FollowList(pk) => (FetchTarget::FollowList(pk), Some(pk)),
            Miss::Post { id, author } => (FetchTarget::Post(id), Some(author)),
        };
        self.app.handle_input(app::Input::LocalMiss { target, author }, unix, &Ctx(&self.overlay), &*store);
        self.drain(unix, store)
    }

    /// Writes the app's resend queue and mailbox if they changed, at most every
    /// `APP_PERSIST_INTERVAL` unless `force` (shutdown).
    pub fn persist(&mut self, unix: UnixTime, force: bool) {
        if !force && unix < self.last_persist.saturating_add(APP_PERSIST_INTERVAL) {
            return;
        }
        self.last_persist = unix;
        if self.app.outbox_dirty() {
            match persist::write_atomic(&self.data_dir.join(persist::OUTBOX_FILE), &self.app.snapshot_outbox()) {
                Ok(()) => self.app.mark_outbox_saved(),
                Err(e) => log::error!("cannot save the resend queue in {}: {e}", self.data_dir.display()),
            }
        }
        if self.app.mailbox_dirty() {
            match persist::write_atomic(&self.data_dir.join(persist::MAILBOX_FILE), &self.app.snapshot_mailbox()) {
                Ok(()) => self.app.mark_mailbox_saved(),
                Err(e) => log::error!("cannot save the support-server mailbox in {}: {e}", self.data_dir.display()),
            }
        }
    }

    /// Offer a datagram link on `conn` once it is authenticated and this node is core (once;
    /// checked on every frame, since the role is decided after the first handshakes). A leaf
    /// (behind NAT) never offers, so a link only forms between two core nodes: a datagram goes
    /// only to a peer that offered one.
    fn maybe_offer(&mut self, conn: crate::wire::ConnId) {
        let Some(port) = self.udp_port else { return };
        if self.links.offered(conn)
            || self.overlay.role() != crate::wire::Role::Core
            || self.overlay.is_deciding()
            || self.overlay.up_peer_role(conn).is_none()
            || self.overlay.up_peer_features(conn) & crate::wire::FEATURE_DATAGRAM == 0
        {
            return;
        }
        let (Ok(t), Ok(key)) = (random_bytes::<8>(), random_bytes::<32>()) else { return };
        let token = u64::from_be_bytes(t);
        if self.links.offer(conn, token, key) {
            let _ = self.net.send(conn, &crate::wire::Msg::Link { port, token, key: Key32(key) });
            if let Some((to, probe)) = self.links.early_probe(conn) {
                self.net.send_datagram(to, &probe);
            }
        }
    }

    /// The peer's datagram offer: datagrams to it go to its TCP address's IP and this port.
    /// One probe proves the path to it (sent now, not in answer to a datagram: a datagram is
    /// never answered with a datagram, so the path cannot reflect or amplify).
    fn on_link(&mut self, conn: crate::wire::ConnId, port: u16, token: u64, key: [u8; 32]) {
        // The advertised listen IP (a node dialling out may use another source address, e.g.
        // 127.0.0.1 on loopback), else the connection's remote IP.
        let ip = match self.overlay.up_peer_listen(conn) {
            Some(a) => to_socket(a).ip(),
            None => match self.net.peer_addr(conn) {
                Some(p) => p.ip(),
                None => return,
            },
        };
        if port == 0 || ip.is_unspecified() {
            return;
        }
        let to = SocketAddr::new(ip, port);
        if let Some((to, probe)) = self.links.accept(conn, to, token, key) {
            log::debug!("datagram link offered on {conn:?}: probing {to}");
            self.net.send_datagram(to, &probe);
        }
    }

    /// A datagram: checked by `Links::open`, then its frames go to the overlay exactly as if
    /// they had come on that connection's TCP stream. Anything wrong is counted and dropped.
    fn on_datagram(&mut self, d: &[u8], from: SocketAddr) {
        let (conn, frames) = match self.links.open(d) {
            Ok(x) => x,
            Err(e) => return log::debug!("datagram from {from} dropped: {e:?}"),
        };
        if let Some((to, probe)) = self.links.learn(conn, from) {
            log::debug!("datagram link {conn:?}: the peer is at {from}, probing it there");
            self.net.send_datagram(to, &probe);
        }
        if let Some((c, seqs)) = self.links.take_asks() {
            log::debug!("datagram link {c:?}: asking for {} lost datagram(s) by TCP", seqs.len());
            let _ = self.net.send(c, &crate::wire::Msg::LinkResend(seqs));
        }
        match datagram::decode_frames(frames) {
            Ok(msgs) => {
                log::trace!("datagram from {from} on {conn:?}: {} frames", msgs.len());
                for msg in msgs {
                    self.overlay.handle_input(Input::Frame { conn, msg }, self.clock);
                }
            }
            Err(e) => {
                log::debug!("datagram on {conn:?} refused: {e:?}");
                self.links.count_bad_frames();
            }
        }
    }

    /// Add `msg` to `conn`'s datagram; `false` if it does not fit one (it goes by TCP).
    fn queue_datagram(&mut self, conn: crate::wire::ConnId, msg: &crate::wire::Msg) -> bool {
        let Ok(frame) = crate::wire::encode_frame(msg) else { return false };
        if frame.len() > datagram::MAX_FRAMES_BYTES {
            return false;
        }
        let pending = self.dgram_out.entry(conn).or_default();
        if pending.len() + frame.len() > datagram::MAX_FRAMES_BYTES {
            let full = std::mem::take(pending);
            self.send_payload(conn, &full);
        }
        self.dgram_out.entry(conn).or_default().extend_from_slice(&frame);
        true
    }

    /// Send what this drain queued for datagrams (one datagram per peer, usually).
    fn flush_datagrams(&mut self) {
        for (conn, frames) in std::mem::take(&mut self.dgram_out) {
            self.send_payload(conn, &frames);
        }
    }

    /// One payload datagram to `conn`'s peer; by TCP if the link stopped being usable since
    /// the frames were queued (it fell back). The test hook may drop it after sealing (as the
    /// network would: it is in the resend ring and counted as sent).
    fn send_payload(&mut self, conn: crate::wire::ConnId, frames: &[u8]) {
        let Some((to, d)) = self.links.seal_for(conn, frames, false) else {
            for msg in datagram::decode_frames(frames).unwrap_or_default() {
                let _ = self.net.send(conn, &msg);
            }
            return;
        };
        if self.drop_every > 0 {
            self.drop_count += 1;
            if self.drop_count % self.drop_every == 0 {
                return;
            }
        }
        self.net.send_datagram(to, &d);
    }

    /// Figures for `/status`.
    pub fn network_info(&self) -> crate::http::NetworkInfo {
        let (following, leaves_filtering, leaf_followees) = self.overlay.interest_sizes();
        crate::http::NetworkInfo {
            role: match self.overlay.role() {
                crate::wire::Role::Core => "core",
                crate::wire::Role::Leaf => "leaf",
            },
            nodes_known: self.overlay.directory_len() as u64,
            delivery: self.overlay.delivery().as_str(),
            delivery_active: self.overlay.delivery_active().as_str(),
            following: following as u64,
            leaves_filtering: leaves_filtering as u64,
            leaf_followees: leaf_followees as u64,
            resend_waiting: self.app.resend().len() as u64,
            mailbox_envelopes: self.app.mailbox().len() as u64,
            mail_opened: self.app.stats().mail_opened,
            events_received: self.app.stats().stored,
            bootstrap: self.bootstrap.as_ref().map(Bootstrap::info),
            dropped: {
                let o = self.overlay.stats();
                crate::http::DroppedInfo {
                    invalid: o.invalid,
                    rate_limited: o.rate_dropped,
                    author_limited: o.author_dropped,
                    admission_limited: o.inject_dropped,
                    time_window: o.time_dropped,
                    forged: o.forged,
                    new_ids_limited: o.prefix_limited,
                    gossip_limited: o.gossip_limited,
                    datagrams: self.links.stats().dropped,
                    interest_limited: o.interest_dropped,
                }
            },
            transport: crate::http::TransportInfo {
                protocol: crate::wire::PROTOCOL_VERSION,
                other_protocol_peers: self.other_protocol_peers,
                other_protocol: self.other_protocol,
                datagram_links: self.links.len() as u64,
                datagrams: self.links.stats(),
                datagram_send_failed: self.net.stats().datagram_send_failed,
            },
        }
    }
}

/// A peer spoke another protocol version: its connection is dropped like any undecodable one
/// (the formats differ), but this is an operator's problem, not an attack, so it is logged (once
/// per version in a row) and shown in `/status` rather than left in the debug log.
fn other_protocol(count: &mut u64, last: &mut Option<u8>, conn: crate::wire::ConnId, got: u8) {
    *count += 1;
    if *last != Some(got) {
        log::warn!(
            "peer on {conn:?} speaks protocol {got}, we speak {}: upgrade one of them",
            crate::wire::PROTOCOL_VERSION
        );
    }
    *last = Some(got);
}

/// Reads the app's persisted resend queue and mailbox; a damaged file is logged and ignored
/// (senders retry, so nothing is lost for good).
fn restore_app(app: &mut App, data_dir: &Path, unix: UnixTime) {
    let outbox = data_dir.join(persist::OUTBOX_FILE);
    match persist::read_snapshot(&outbox) {
        Ok(Some(bytes)) => {
            if let Err(e) = app.restore_outbox(&bytes) {
                log::warn!("{}: {e}; starting with an empty resend queue", outbox.display());
            }
        }
        Ok(None) => {}
        Err(e) => log::warn!("cannot read {}: {e}; starting with an empty resend queue", outbox.display()),
    }
    let mailbox = data_dir.join(persist::MAILBOX_FILE);
    match persist::read_snapshot(&mailbox) {
        Ok(Some(bytes)) => {
            if let Err(e) = app.restore_mailbox(&bytes, unix) {
                log::warn!("{}: {e}; starting with an empty mailbox", mailbox.display());
            }
        }
        Ok(None) => {}
        Err(e) => log::warn!("cannot read {}: {e}; starting with an empty mailbox", mailbox.display()),
    }
}

/// What the application gets of an overlay delivery. A broadcast comes with the event the
/// overlay verified (`verify_event`): it is handed on as is, never checked a second time.
fn delivered(d: Delivery) -> Option<app::Input> {
    match d {
        Delivery::Broadcast { event: Some(ev), .. } => Some(app::Input::Broadcast(*ev)),
        // Only a `Crypto` whose payloads are not Nostr events delivers none (not this one).
        Delivery::Broadcast { id, event: None, .. } => {
            log::error!("broadcast {id} delivered without its verified event: dropped");
            None
        }
        Delivery::Unicast { src, payload, .. } => {
            Some(app::Input::Unicast { src, payload: payload.as_slice().to_vec() })
        }
    }
}

/// `NOSTRP2P_TEST_DROP_DATAGRAMS` in a debug build (tests); always 0 in a release build.
fn test_drop_every() -> u32 {
    if cfg!(debug_assertions) {
        std::env::var("NOSTRP2P_TEST_DROP_DATAGRAMS").ok().and_then(|v| v.parse().ok()).unwrap_or(0)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overlay::crypto::Crypto;
    use crate::wire::{Addr, ConnId, Gossip, GossipKind, Hello, Msg, NodeRecord, Role, Sig};

    const UNIX: u64 = 1_700_000_000;

    fn key(b: u8) -> SecretKey {
        SecretKey::from_bytes([b; 32]).expect("valid test key")
    }

    /// A server's overlay (real Schnorr, the server's event check) with a leaf of `peer_owner`
    /// authenticated on inbound connection 1, the way `tests/common/raw.rs` does it over TCP.
    fn overlay_with_leaf(peer_owner: &SecretKey, clock: Now) -> Overlay {
        let crypto = SchnorrCrypto::new([7; 32], verify_event).expect("node key");
        let cfg = Config {
            owner: Key32(key(1).public_key().0),
            delegation: None,
            listen: Some(Addr::v4([127, 0, 0, 1], 7000)),
            bootstrap: vec![],
            role: RoleChoice::Core,
            leaf_slots: LEAF_SLOTS,
            seed: 1,
            delivery: crate::wire::DeliveryMode::Auto,
        };
        let mut o = Overlay::new(cfg, Box::new(crypto), clock);
        let conn = ConnId(1);
        o.handle_input(Input::Accepted { conn, remote: Addr::v4([127, 0, 0, 2], 5000) }, clock);
        let mut nonce = None;
        while let Some(out) = o.poll_output() {
            if let Output::Send { msg: Msg::Hello(h), .. } = out {
                nonce = Some(h.nonce);
            }
        }
        let mut peer = SchnorrCrypto::new([8; 32], verify_event).expect("peer key");
        let owner = Key32(peer_owner.public_key().0);
        let node = NodeId::of_pubkey(&owner.0);
        let mut record = NodeRecord {
            node,
            owner,
            node_key: peer.node_key(),
            delegation: None,
            role: Role::Leaf,
            addr: None,
            homes: vec![],
            seq: UNIX * 1000,
            expires: UNIX + 3_600,
            sig: Sig([0; 64]),
        };
        record.sig = peer.sign(&record.signing_hash());
        o.handle_input(Input::Frame { conn, msg: Msg::Hello(Box::new(Hello { record, nonce: 9 })) }, clock);
        let auth = peer.sign(&Hello::auth_hash(nonce.expect("the server's Hello"), node));
        o.handle_input(Input::Frame { conn, msg: Msg::Auth(auth) }, clock);
        while o.poll_output().is_some() {}
        assert_eq!(o.connected_nodes(), vec![node], "handshake");
        o
    }

    /// The receive path from the wire to the store: overlay (`verify_event`), then what the
    /// runtime hands the app, then the app's decision to store. One Schnorr check per event.
    #[test]
    fn a_received_event_is_verified_exactly_once_on_its_way_to_the_store() {
        let clock = Now::new(Instant(0), UnixTime(UNIX));
        let author = key(3);
        let mut o = overlay_with_leaf(&author, clock);
        let mut app = App::new(AppConfig { owner: key(1).public_key(), node_secret: key(7), seed: [5; 32] });
        let store = crate::testkit::FakeStore::default();
        let ev = Event::new_signed(&author, UnixTime(UNIX), 1, vec![], "once".into(), &[0; 32]);
        let body = Body::from_slice(&crate::event::packed::encode(&ev));
        let gossip = Gossip { id: MsgId(ev.id.0), round: 1, kind: GossipKind::Event, body };
        // Through the codec: the id is not on the wire (protocol 3), the overlay derives it.
        let frame = crate::wire::encode_frame(&Msg::Gossip(gossip)).expect("encodes");
        let (msg, _) = crate::wire::decode_frame(&frame).expect("decodes");

        crate::keys::VERIFY_CALLS.with(|c| c.set(0));
        o.handle_input(Input::Frame { conn: ConnId(1), msg }, clock);
        let mut inputs = Vec::new();
        while let Some(out) = o.poll_output() {
            if let Output::Deliver(d) = out {
                inputs.extend(delivered(d));
            }
        }
        assert_eq!(inputs.len(), 1, "one delivery");
        for input in inputs {
            app.handle_input(input, UnixTime(UNIX), &Ctx(&o), &store);
        }
        let stored: Vec<_> =
            std::iter::from_fn(|| app.poll_output()).filter(|out| matches!(out, app::Output::Store(_))).collect();
        assert!(matches!(stored.as_slice(), [app::Output::Store(v)] if v.id == ev.id), "stored once: {stored:?}");
        assert_eq!(crate::keys::VERIFY_CALLS.with(|c| c.get()), 1, "Schnorr checks for one received event");
    }

    /// Hostile: a gossip body whose id cannot be derived (not a packed event), or whose claimed
    /// id is not its hash, is invalid: the sender is dropped and nothing is delivered.
    #[test]
    fn gossip_without_a_derivable_or_true_id_is_refused() {
        let clock = Now::new(Instant(0), UnixTime(UNIX));
        let author = key(3);
        let ev = Event::new_signed(&author, UnixTime(UNIX), 1, vec![], "real".into(), &[0; 32]);
        let mut forged = crate::event::packed::encode(&ev);
        let last = forged.len() - 70;
        forged[last] ^= 1; // content changed, claimed id kept
        for body in [b"garbage".to_vec(), forged] {
            let mut o = overlay_with_leaf(&author, clock);
            let g = Gossip { id: MsgId(ev.id.0), round: 1, kind: GossipKind::Event, body: Body::from_slice(&body) };
            let frame = crate::wire::encode_frame(&Msg::Gossip(g)).expect("encodes");
            let (msg, _) = crate::wire::decode_frame(&frame).expect("decodes");
            o.handle_input(Input::Frame { conn: ConnId(1), msg }, clock);
            let delivered =
                std::iter::from_fn(|| o.poll_output()).filter(|out| matches!(out, Output::Deliver(_))).count();
            assert_eq!(delivered, 0);
            assert!(o.connected_nodes().is_empty(), "the sender of an invalid event is dropped");
        }
    }

    fn temp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("nostrp2p-nodekey-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    #[test]
    fn node_key_is_created_once_and_survives_an_empty_file_but_not_garbage() {
        let dir = temp("a");
        let first = node_key(&dir).expect("created");
        assert_eq!(node_key(&dir).expect("read back"), first, "the same key on the next start");
        // An empty file (power cut during an old version's first start) is replaced.
        std::fs::write(dir.join(NODE_KEY_FILE), b"").expect("truncate");
        let second = node_key(&dir).expect("re-created");
        assert_ne!(second, first);
        assert_eq!(node_key(&dir).expect("read back"), second);
        // Garbage is a fault for a human: a new key would silently change the node's identity.
        std::fs::write(dir.join(NODE_KEY_FILE), b"not hex").expect("garbage");
        assert!(matches!(node_key(&dir), Err(OverlayError::NodeKey(..))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
