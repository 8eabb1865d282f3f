//! Glue between the driver, the overlay state machine, the transport and the store: the one
//! place that turns overlay outputs into socket operations and deliveries into stored events.
//!
//! Owned by the driver's loop (single owner, no shared state). Reads no clock itself: the
//! driver passes `now`. Node identity: a node key in `<data dir>/node.key` (created on first
//! start: zero configuration) and, if present, the owner's authorisation of it in
//! `<data dir>/node-auth.json` (docs/overlay.md "Identity"), kept by `state.rs`.
//!
//! Which events travel how, offline delivery, catch-up and fetches are the application layer's
//! decisions (`crate::app`, a pure state machine owned here): overlay deliveries become app
//! inputs, app outputs become overlay publishes/unicasts or store inserts, connection changes
//! become `NodeUp`/`Joined`. The app's resend queue and mailbox are persisted in the data dir
//! (atomic snapshot files) at most every `APP_PERSIST_INTERVAL` and at shutdown, a ring core's
//! held records at most every `RING_PERSIST_INTERVAL` and at shutdown.
//!
//! Split along its seams: `deliver.rs` (the received-event check and overlay deliveries as
//! app inputs), `follow_sync.rs` (interest set from the owner's follow list), `state.rs`
//! (files in the data dir), `status.rs` (`/status` figures).

use std::collections::BTreeSet;
use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use crate::reactor::{Async, Timer};
use futures_lite::future;
use smol::LocalExecutor;

use super::bootstrap::Bootstrap;
use super::deliver::{delivered, verify_event, Ctx};
use super::follow_sync::FollowSync;
use super::state;
pub use super::state::{NODE_AUTH_FILE, NODE_KEY_FILE};
use super::status::{self, OtherProtocol};
use super::{to_addr, to_socket, Net, NetEvent, SendOutcome};
use datagram::Datagrams;

mod datagram;
use crate::app::{self, App, AppConfig, FetchTarget};
use crate::event::VerifiedEvent;
use crate::http::Miss;
use crate::keys::{PublicKey, SecretKey};
use crate::limits::{APP_PERSIST_INTERVAL, RING_PERSIST_INTERVAL, STORED_BUF_KEEP};
use crate::overlay::crypto::SchnorrCrypto;
use crate::overlay::{params::LEAF_SLOTS, Config, Input, Output, Overlay, RoleChoice};
use crate::store::Store;
use crate::time::{Instant, Now, UnixTime};
use crate::wire::{Body, Key32, MsgId, NodeId};

/// How long resolving `-b host:port` may take at start (Android has no system resolver for a
/// static binary: `platform::resolve` asks the configured nameservers itself). A name that does
/// not resolve is tried again later (see `net::bootstrap`).
const BOOT_RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

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
    /// When the held ring records were last written (`RING_PERSIST_INTERVAL`).
    last_ring_persist: UnixTime,
    /// The `-b` peer: why it does not work, when to resolve it again.
    bootstrap: Option<Bootstrap>,
    /// Events newly stored from the network since the last [`OverlayRuntime::drain_stored`]
    /// (the relay's live subscriptions get them). Bounded by one wake's work: the driver
    /// takes them after every call that can store.
    stored: Vec<crate::event::Event>,
    /// The datagram path (issue 11; `runtime/datagram.rs`).
    dg: Datagrams,
    /// Keeps the overlay's interest set on the owner's newest follow list.
    follows: FollowSync,
    /// Peers dropped for speaking another protocol version (for `/status`).
    other_protocol: OtherProtocol,
}

/// How this node's overlay delivers posts and finds node records (`--delivery`, `--directory`).
#[derive(Debug, Clone, Copy)]
pub struct Modes {
    /// `--delivery`.
    pub delivery: crate::wire::DeliveryMode,
    /// `--directory`.
    pub directory: crate::overlay::DirectoryMode,
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
        modes: Modes,
        data_dir: &Path,
        clock: Now,
    ) -> Result<OverlayRuntime<'a>, OverlayError> {
        let (now, unix) = (clock.mono, clock.wall);
        let listener = Async::<TcpListener>::bind(listen).map_err(|e| OverlayError::Bind(listen, e))?;
        let local = listener.get_ref().local_addr().map_err(|e| OverlayError::Bind(listen, e))?;
        let secret = state::node_key(data_dir)?;
        let delegation = state::load_delegation(owner, secret, data_dir, unix);
        let crypto = SchnorrCrypto::new(secret, verify_event).ok_or_else(|| {
            OverlayError::NodeKey(data_dir.join(NODE_KEY_FILE), std::io::ErrorKind::InvalidData.into())
        })?;
        let node_secret = SecretKey::from_bytes(secret)
            .map_err(|_| OverlayError::NodeKey(data_dir.join(NODE_KEY_FILE), std::io::ErrorKind::InvalidData.into()))?;
        let mut app = App::new(AppConfig { owner, node_secret, seed: state::random_bytes()? });
        state::restore_app(&mut app, data_dir, unix);
        let bootstrap = boot_peer.map(|b| {
            let resolved = crate::platform::resolve(b, BOOT_RESOLVE_TIMEOUT).map_err(|e| e.to_string());
            Bootstrap::new(b, resolved, now)
        });
        let seed = u64::from_be_bytes(state::random_bytes()?);
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
            delivery: modes.delivery,
            directory: modes.directory,
        };
        let mut overlay = Overlay::new(cfg, Box::new(crypto), Now::new(now, unix));
        // Tests and small private networks: `auto`'s threshold lowered (never raised).
        if let Some(n) = std::env::var("NOSTRP2P_AUTO_MIN_NODES").ok().and_then(|v| v.parse::<u64>().ok()) {
            overlay.lower_auto_threshold(n);
        }
        // The same for `--directory auto`'s threshold (`RING_ON_NODES`).
        if let Some(n) = std::env::var("NOSTRP2P_DIR_MIN_NODES").ok().and_then(|v| v.parse::<u64>().ok()) {
            overlay.lower_dir_threshold(n);
        }
        state::restore_ring(&mut overlay, data_dir);
        let mut net = Net::new(ex);
        net.listen(listener);
        let dg = Datagrams::bind(local, &mut net);
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
            last_ring_persist: unix,
            bootstrap,
            stored: Vec::new(),
            dg,
            follows: FollowSync::new(owner),
            other_protocol: OtherProtocol::default(),
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
        let datagrams = self.dg.links.poll_timeout();
        [self.overlay.poll_timeout(), self.app.poll_timeout().map(to_instant), persist, resolve, datagrams]
            .into_iter()
            .flatten()
            .min()
    }

    /// Wait for a transport event or until `timer` fires. The driver keeps the timer between
    /// calls and re-arms it only when [`OverlayRuntime::poll_timeout`] changes (with
    /// async-io, arming a timer woke its reactor thread; with the server's own reactor it is a
    /// map insert, still not free on every wake).
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
        self.datagram_wake();
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
                self.dg.links.remove(conn);
                Input::Closed { conn }
            }
            NetEvent::Frame(conn, crate::wire::Msg::Link { port, token, key }) => {
                return self.on_link(conn, port, token, key.0);
            }
            NetEvent::Frame(conn, crate::wire::Msg::LinkResend(seqs)) => return self.on_link_resend(conn, &seqs),
            NetEvent::Frame(conn, crate::wire::Msg::LinkSent(seq)) => return self.on_link_sent(conn, seq),
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
                    self.other_protocol.note(conn, got);
                }
                log::debug!("malformed frame from {conn:?}: {e}");
                if let Some(b) = boot {
                    b.on_malformed(conn, false, now);
                }
                self.net.forget(conn);
                self.dg.links.remove(conn);
                Input::Malformed { conn }
            }
            NetEvent::AnsweredHttp(conn) => {
                log::debug!("{conn:?} answered in HTTP");
                if let Some(b) = boot {
                    b.on_malformed(conn, true, now);
                }
                self.net.forget(conn);
                self.dg.links.remove(conn);
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
        // Every path in (a wake, an owner's publish, a local miss) drains: the datagram links
        // date what they send from here (`datagram::TAIL_PROBE_MS`).
        self.dg.links.advance(self.clock.mono);
        self.follows.sync(store, &mut self.overlay, self.clock);
        let mut stored = 0;
        loop {
            let mut progressed = false;
            while let Some(out) = self.overlay.poll_output() {
                progressed = true;
                self.on_overlay_output(out, unix, store);
            }
            progressed |= super::follow_sync::backfill_leaves(store, &mut self.overlay, self.clock);
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

    fn on_overlay_output(&mut self, out: Output, unix: UnixTime, store: &Store) {
        let input = match out {
            Output::Send { conn, msg } => {
                if self.try_datagram(conn, &msg) {
                    return;
                }
                self.ride_tail(conn);
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
                self.dg.links.remove(conn);
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
                let audience = crate::overlay::Audience::of(Key32(ev.pubkey.0), Some(&ev));
                let input = Input::Publish { id: MsgId(ev.id.0), body: Body::from_slice(&bytes), audience };
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
        // Runs after every transport event: the unchanged case compares in place, allocating
        // nothing (it built two sets per received event before).
        if let Some(b) = self.bootstrap.as_mut() {
            b.on_peers(self.overlay.connected_iter().len());
        }
        if self.overlay.connected_iter().eq(self.connected.iter().copied()) {
            return;
        }
        let now_connected: BTreeSet<NodeId> = self.overlay.connected_iter().collect();
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

    /// Hands `f` the events stored from the network since the last call, oldest first. The
    /// buffer keeps its capacity (up to `STORED_BUF_KEEP`) for the next wake: rebuilding it on
    /// every wake of a flood re-grew it from nothing each time.
    pub fn drain_stored(&mut self, f: impl FnMut(&crate::event::Event)) {
        drain_bounded(&mut self.stored, STORED_BUF_KEEP, f);
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
        if force || unix >= self.last_ring_persist.saturating_add(RING_PERSIST_INTERVAL) {
            self.last_ring_persist = unix;
            state::save_ring(&mut self.overlay, &self.data_dir);
        }
        if !force && unix < self.last_persist.saturating_add(APP_PERSIST_INTERVAL) {
            return;
        }
        self.last_persist = unix;
        state::save_app(&mut self.app, &self.data_dir);
    }

    /// Figures for `/status`.
    pub fn network_info(&self) -> crate::http::NetworkInfo {
        status::network_info(
            &self.overlay,
            &self.app,
            self.bootstrap.as_ref(),
            &self.other_protocol,
            self.net.stats(),
            self.dg.links.stats(),
            self.dg.links.len() as u64,
        )
    }
}

/// Hands `f` every item of `buf` in order and empties it, keeping its capacity for the next
/// round unless it grew past `keep` (then it shrinks back to `keep`).
fn drain_bounded<T>(buf: &mut Vec<T>, keep: usize, mut f: impl FnMut(&T)) {
    for item in buf.drain(..) {
        f(&item);
    }
    if buf.capacity() > keep {
        buf.shrink_to(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::drain_bounded;

    /// A flood stores events on every wake: the buffer must not be rebuilt (and re-grown from
    /// nothing) each time, yet one huge wake must not pin its memory for good.
    #[test]
    fn the_stored_buffer_keeps_its_capacity_up_to_the_bound() {
        let mut buf: Vec<u32> = (0..100).collect();
        let mut seen = Vec::new();
        drain_bounded(&mut buf, 512, |x| seen.push(*x));
        assert_eq!(seen, (0..100).collect::<Vec<_>>(), "every item, in order");
        assert!(buf.is_empty() && buf.capacity() >= 100, "capacity kept: {}", buf.capacity());
        buf.extend(0..5_000);
        drain_bounded(&mut buf, 512, |_| {});
        assert!(buf.is_empty() && buf.capacity() <= 512, "shrunk back: {}", buf.capacity());
    }
}
