//! The ring directory's protocol (issue 10 part 2; docs/scaling.md "Directory"), run when
//! `--directory ring`: `ring.rs` decides (table, routing, replicas), this module moves the
//! frames `FindNode`, `Found`, `Store` and `Neighbours` and keeps the state they need.
//!
//! * **Table upkeep.** Every authenticated core peer that announced `FEATURE_RING` is offered
//!   to the table at its verified id and address. Each round (`RING_ROUND_MS`, on the
//!   housekeeping tick) the node sends its lists to its nearest successor and predecessor
//!   (`Neighbours { ask }`; lists a neighbour already has go empty once they have not changed
//!   for `RING_LISTS_SETTLE_MS`, in full again on a change, to a neighbour whose own came in
//!   full, or every `RING_LISTS_RESEND_ROUNDS`), dials the claimed cores worth verifying (at most
//!   `RING_VERIFY_PER_LIST` per list: nothing enters the table without a handshake), and looks
//!   one finger point up.
//! * **Records at the holders.** A core does not gossip its record: each refresh looks its own
//!   id up and sends the record (`Store`) to the holders named in the answer. A home does the
//!   same for an attached leaf's record. A holder keeps a stored record only if it is one of
//!   the key's holders by its own table, the record is signed by its node (forgery bans the
//!   link), not expired (expiry clamped by `Directory::merge`), and the sender's prefix is
//!   within its new-id budget (`dir_admit.rs`, the issue-8 rules). The owner's lookup of its
//!   own id doubles as the read-back check: a refresh always re-stores.
//! * **Lookups.** `FindNode` is routed greedily hop by hop (each hop strictly closer to the key
//!   clockwise, so no table can make it loop; `RING_LOOKUP_MAX_HOPS` cuts a hostile walk). A
//!   hop whose best next hop is not connected sends the lookup to a connected ring core making
//!   at least half that progress instead, if there is one (`ring_shortcut`: fewer dials). Every
//!   hop remembers where a lookup came from (`RING_PENDING_CAP`, `RING_LOOKUP_TIMEOUT_MS`) and
//!   the answer goes back the same way, so a forged origin cannot aim answers at a victim.
//!   A lookup of a key already on its way to the same hop is not sent again: it takes that
//!   answer (a relay for many origins would otherwise spend the next hop's per-peer budget).
//!   A lookup whose link closes before the answer is routed again at once, once.
//!   Lookups per peer are rate-limited (`RING_FIND_PER_S`); over budget they are counted and
//!   dropped, never a ban. An answer is accepted only from the hop it was sent to; its record
//!   must be the key's and validly signed, and its holders are claims (dialled, verified by the
//!   handshake, before anything enters a table).
//! * **Unicast.** A destination not in the directory starts a lookup; the unicast waits for
//!   it (its own timeout still runs) and the found record is kept `LOOKUP_CACHE_MS`.
//! * **Handoff.** When the table changes (a core enters, or leaves after a failed dial), each
//!   record this node holds goes to the cores that hold it now by our table and did not
//!   before, and to no one else (`dht_store.rs`). A record this node no longer holds is forgotten once handed off
//!   and not in use as a lookup result. Held records survive a restart (`dht_persist.rs`).
//!
//! * **Co-holders reconcile.** Every `RING_SYNC_MS` a ring-only core compares the records it shares
//!   with each connected co-holder by count and fingerprint, and lists them only when they
//!   differ (`dht_sync.rs`).
//!
//! Parts: this file (state, frame dispatch, table upkeep), `dht_lookup.rs` (lookups and the
//! unicasts waiting on them), `dht_store.rs` (records at their holders), `dht_sync.rs`
//! (co-holders comparing what they hold), `dht_persist.rs`.
//!
//! Every ring frame passes [`ring_frame_fits`] first: a peer that did not announce
//! `FEATURE_RING`, or a list over its bound, is counted in `Stats::ring_dropped` and dropped
//! whole (never a ban: a later build may send more).

use std::collections::BTreeMap;

use super::params::*;
use super::ring::{RingPeer, RingTable};
use super::Overlay;
use crate::wire::{Addr, ConnId, FindNode, Msg, NodeId, PeerRef, Role, Routed, FEATURE_RING};

/// True if a ring frame's lists are within their bounds (`RING_NEIGHBOURS_MAX`,
/// `RING_STORE_PER_FRAME`, `RING_REPLICAS` holders). Other frames are not ring frames: false.
pub(crate) fn ring_frame_fits(msg: &Msg) -> bool {
    match msg {
        Msg::FindNode(_) => true,
        Msg::Found(f) => f.holders.len() <= RING_REPLICAS,
        Msg::Store(records) => records.len() <= RING_STORE_PER_FRAME,
        Msg::Neighbours { peers, .. } => peers.len() <= RING_NEIGHBOURS_MAX,
        Msg::RingSync { .. } => true,
        Msg::RingHave { ids, .. } => ids.len() <= RING_SYNC_IDS_MAX,
        _ => false,
    }
}

/// `--directory`: which directory a node runs (docs/scaling.md "Directory").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryMode {
    /// Every core holds every record, spread on the broadcast tree (`directory.rs`).
    Broadcast,
    /// Records held by `RING_REPLICAS` cores on the id ring, found by routed lookups.
    Ring,
    /// Broadcast in a small network, the ring beside it from `RING_ON_NODES`, the ring only
    /// from `RING_ONLY_FACTOR` × that (`dir_auto.rs`).
    Auto,
}

impl DirectoryMode {
    /// The name `--directory` takes and `/status` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            DirectoryMode::Broadcast => "broadcast",
            DirectoryMode::Ring => "ring",
            DirectoryMode::Auto => "auto",
        }
    }
    /// The mode named `name`.
    pub fn from_name(name: &str) -> Option<DirectoryMode> {
        [DirectoryMode::Broadcast, DirectoryMode::Ring, DirectoryMode::Auto].into_iter().find(|m| m.as_str() == name)
    }
}

/// Where a lookup's answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Back {
    /// Back to the hop it came from, under that hop's id, on the link it came in on while
    /// that link is up (see `deliver_found`).
    Hop { node: NodeId, id: u64, conn: ConnId },
    /// Ours: unicasts wait for the record.
    Unicast,
    /// Ours: store this record (our own, or an attached leaf's) at the holders found.
    Store,
    /// Ours: a finger point; the owner found is dialled (and verified) to enter the table.
    Finger,
}

/// A lookup this node started or forwarded, awaiting its `Found` (≈ 64 B).
#[derive(Debug, Clone)]
struct Pending {
    key: NodeId,
    back: Back,
    /// The hop the `FindNode` went to: the only one whose answer counts.
    to: NodeId,
    at: super::Instant,
    /// Hops the lookup had taken when it reached us (to route it again).
    hops: u8,
    /// Already routed again once after its link closed (see `ring_link_lost`).
    retried: bool,
    /// Not sent: it waits for the answer to this earlier lookup of the same key to the same
    /// hop (coalesced, see `route_find_again`).
    lead: Option<u64>,
    /// Of our unicast lookups: 0 when routed, i when asked of the i-th holder of the last
    /// answer directly because the holders before it answered without the record (`ask_next_holder`).
    alt: u8,
}

impl Pending {
    /// Still awaiting its answer: not yet past `RING_LOOKUP_TIMEOUT_MS` (a timed-out one only
    /// waits for the sweep in `ring_tick`).
    fn live(&self, now: super::Instant) -> bool {
        now.since(self.at) < RING_LOOKUP_TIMEOUT_MS
    }
}

/// A unicast frame waiting for a lookup (`RING_PARKED_CAP`).
#[derive(Debug, Clone)]
pub(super) enum Parked {
    /// A unicast relayed for someone (its destination or source is being looked up).
    Routed { r: Routed, from: NodeId },
    /// An ack or failure report on its way to an origin we do not know yet.
    Control { dst: NodeId, msg: Msg, from: Option<NodeId> },
}

/// Ring counters for `/status` and the simulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct DhtStats {
    /// Lookups this node started.
    pub lookups: u64,
    /// Of those, answered with the record asked for.
    pub found: u64,
    /// Sum and maximum of the hop counts of answered lookups.
    pub hops_sum: u64,
    /// See `hops_sum`.
    pub hops_max: u8,
    /// Lookups forwarded for others.
    pub forwarded: u64,
    /// Lookups not sent because the same key was already on its way to the same hop: they
    /// take that answer.
    pub coalesced: u64,
    /// Records sent to holders (refreshes and handoffs).
    pub stores_sent: u64,
    /// Records kept as a holder.
    pub stores_kept: u64,
    /// Stored records refused because this node is not one of their holders.
    pub stores_not_holder: u64,
    /// Frames not parked because the queue was full (`RING_PARKED_CAP`).
    pub park_full: u64,
    /// Unicast lookups that timed out (`RING_LOOKUP_TIMEOUT_MS`) with frames waiting.
    pub lookup_timeouts: u64,
    /// Unicast lookups answered without the record.
    pub found_empty: u64,
    /// Lookups not sent because `RING_PENDING_CAP` was reached.
    pub pending_full: u64,
    /// Lookups routed again after their link closed (`ring_link_lost`).
    pub rerouted: u64,
    /// Answers that could not go back: the link to the hop that asked had closed.
    pub found_unsent: u64,
    /// Of `lookups`: finger points, store/read-back lookups, unicast lookups.
    pub lookups_finger: u64,
    /// See `lookups_finger`.
    pub lookups_store: u64,
    /// See `lookups_finger`.
    pub lookups_unicast: u64,
    /// Ring frames that needed a new connection (the member was not connected).
    pub dials_send: u64,
    /// Claimed cores dialled to verify them (`ring_consider`).
    pub dials_verify: u64,
    /// Holders dialled to store a record at them.
    pub dials_store: u64,
    /// Unicast lookups answered without the record, asked again of the next holder directly.
    pub asked_next_holder: u64,
    /// Co-holder reconciliation (`dht_sync.rs`): `RingSync`s sent, received ones whose
    /// fingerprint matched ours, and answered with a `RingHave`.
    pub sync_sent: u64,
    /// See `sync_sent`.
    pub sync_equal: u64,
    /// See `sync_sent`.
    pub sync_answered: u64,
    /// `RingSync`s over a peer's budget and `RingHave`s we did not ask for: dropped.
    pub sync_dropped: u64,
    /// Records stored at a co-holder that lacked them (or held them older).
    pub sync_pushed: u64,
}

/// The ring directory's state (≈ 2 KB table + addresses + pending lookups).
#[derive(Debug, Clone)]
pub struct Dht {
    table: RingTable,
    /// Addresses of the table's members (at most `2 × RING_SUCCESSORS + RING_FINGERS`).
    addrs: BTreeMap<NodeId, Addr>,
    pending: BTreeMap<u64, Pending>,
    next_id: u64,
    next_round: super::Instant,
    finger_turn: usize,
    parked: Vec<(NodeId, Parked)>,
    next_readback: super::Instant,
    /// A lookup of our own id has been answered by the ring (not by our own table): until
    /// then one is sent whenever none is under way (`ring_tick`; Chord's join).
    joined: bool,
    /// Leaves' records stored here and not yet found at their first holder: (key, when to
    /// look again, the wait after that) (≤ `RING_CONFIRM_CAP`, see `RING_CONFIRM_MS`).
    confirm: Vec<(NodeId, super::Instant, u64)>,
    /// Per neighbour: a digest of the lists last sent it and the rounds since they were sent
    /// in full (≤ `RING_NEIGHBOURS_MAX` entries, ≈ 40 B each; see `ring_lists_for`).
    lists_sent: BTreeMap<NodeId, (u64, u32)>,
    /// Digest of our lists when last built, and since when they are so (`RING_LISTS_SETTLE_MS`).
    lists_now: (u64, super::Instant),
    /// Digest of the held records last snapshotted (`dht_persist.rs`).
    pub(super) saved: Option<[u8; 32]>,
    /// Co-holder reconciliation (`dht_sync.rs`): the next period, our syncs awaiting an answer
    /// (≤ `RING_SYNC_PEERS_MAX`), and the `RingSync`s taken per peer this round (only
    /// connected peers send them: ≤ `MAX_CONNS`).
    next_sync: super::Instant,
    sync_out: BTreeMap<NodeId, sync::SyncOut>,
    sync_answered: BTreeMap<NodeId, u8>,
    stats: DhtStats,
}

impl Dht {
    /// A node at `me` (address prefix `prefix`) that knows nobody yet.
    pub fn new(me: NodeId, prefix: u64, now: super::Instant) -> Dht {
        Dht {
            table: RingTable::new(RingPeer { node: me, prefix }),
            addrs: BTreeMap::new(),
            pending: BTreeMap::new(),
            next_id: 1,
            next_round: now,
            finger_turn: 0,
            parked: Vec::new(),
            // The first check comes once the table has had a few rounds to fill.
            next_readback: now.plus_ms(RING_FIRST_READBACK_MS),
            joined: false,
            confirm: Vec::new(),
            lists_sent: BTreeMap::new(),
            lists_now: (0, now),
            saved: None,
            next_sync: now.plus_ms(RING_SYNC_MS),
            sync_out: BTreeMap::new(),
            sync_answered: BTreeMap::new(),
            stats: DhtStats::default(),
        }
    }
    /// A store lookup of our own id (the join, a read-back, a publish) is awaiting its answer.
    fn own_lookup_live(&self, now: super::Instant) -> bool {
        let me = self.table.me();
        self.pending.values().any(|p| p.key == me && p.back == Back::Store && p.live(now))
    }

    /// The ring table.
    pub fn table(&self) -> &RingTable {
        &self.table
    }
    /// Counters.
    pub fn stats(&self) -> &DhtStats {
        &self.stats
    }
    /// Lookups awaiting an answer here.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
    /// The verified address of a core in the table.
    pub(super) fn addr_of(&self, node: NodeId) -> Option<Addr> {
        self.addrs.get(&node).copied()
    }

    fn peer_ref(&self, node: NodeId) -> Option<PeerRef> {
        self.addrs.get(&node).map(|a| PeerRef { node, addr: *a })
    }
}

impl Overlay {
    /// True if this node runs the ring directory now (`--directory ring`, or `auto` from
    /// `Both`: `dir_switch.rs`) and is a core node.
    pub(super) fn ring_on(&self) -> bool {
        self.ring_runs() && self.role == Role::Core && self.reach_deadline.is_none()
    }

    /// The network size by the ring (`sample.rs`): the core count from the table's spacing,
    /// scaled by the records this core holds. None without the ring's state.
    pub(super) fn ring_estimate_nodes(&self) -> Option<u64> {
        let t = self.dht.as_ref()?.table();
        let held = self.dir.iter().filter(|(n, _)| t.stores(**n)).count();
        Some(super::sample::estimate_nodes_ring(t, held, RING_REPLICAS))
    }

    /// True if a lookup waits on `node` here: ours went to it, or its answer goes back to it.
    /// Such a link is not trimmed as idle (traced in `tests/sim_ring.rs`: trimmed links lost
    /// lookups and answers, and unicasts waiting on them failed). Bounded: lookups end within
    /// `RING_LOOKUP_TIMEOUT_MS` and there are at most `RING_PENDING_CAP`.
    pub(super) fn ring_in_use(&self, node: NodeId) -> bool {
        self.dht.as_ref().is_some_and(|d| {
            d.pending.values().any(|p| p.to == node || matches!(p.back, Back::Hop { node: n, .. } if n == node))
        })
    }

    /// A ring frame from an authenticated peer.
    pub(super) fn on_ring_frame(&mut self, conn: ConnId, from: NodeId, msg: Msg) {
        let announced = self.conns.get(&conn).is_some_and(|c| c.features & FEATURE_RING != 0);
        // A core of `--directory auto` that switched the ring on after this link's handshake
        // did not announce it then: its first ring frame, to a node that runs the ring too,
        // announces it (a peer of a build without the ring never sends one).
        let late = !announced && self.cfg.directory == DirectoryMode::Auto && self.ring_on();
        if !(announced || late) || !ring_frame_fits(&msg) || !self.ring_on() {
            self.stats.ring_dropped += 1;
            return;
        }
        if late {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.features |= FEATURE_RING;
            }
            self.ring_peer_up(from);
        }
        match msg {
            Msg::FindNode(f) => self.on_find_node(conn, from, f),
            Msg::Found(f) => self.on_found(conn, from, f),
            Msg::Store(records) => self.on_store(conn, records),
            Msg::Neighbours { ask, peers } => self.on_neighbours(from, ask, peers),
            Msg::RingSync { lo, hi, count, fp } => self.on_ring_sync(from, lo, hi, count, fp),
            Msg::RingHave { lo, hi, ids } => self.on_ring_have(from, lo, hi, ids),
            _ => {}
        }
    }

    /// An authenticated core peer that runs the ring: it enters the table where its id puts it.
    pub(super) fn ring_peer_up(&mut self, node: NodeId) {
        self.ring_peer_up_at(node, None);
    }

    /// `ring_peer_up`, with the address a neighbour list or a lookup claims for it. The
    /// address is our links' (`link_addr`: advertised on any link, else where we dialled it),
    /// else the claimed one if a link from it comes from that IP (the connection shows the
    /// IP; only the port is the claim's). A core's first links may come up while it still
    /// checks its own reachability (its `Hello` names no address yet) and stay up for good:
    /// found by `overlay_bench`'s ring audit, 1–4 of 100 cores at 1k nodes lacked their true
    /// first successor while connected to it. (Not by dialling the claimed address: the link
    /// already shows the IP, and a dial per claim takes a slot of the claimed core's
    /// `MAX_CONNS`.)
    fn ring_peer_up_at(&mut self, node: NodeId, claimed: Option<Addr>) {
        let links = || self.conns.values().filter(|c| c.is_up() && c.peer == Some(node));
        if !links().any(|c| c.features & FEATURE_RING != 0 && c.peer_role == Role::Core) {
            return;
        }
        let seen = || {
            claimed.filter(|a| {
                !a.is_unspecified() && links().any(|c| !c.outbound && c.remote.is_some_and(|r| r.ip == a.ip))
            })
        };
        let Some(addr) = self.link_addr(node).or_else(seen) else { return };
        let peer = RingPeer { node, prefix: addr.prefix() };
        // Most connections change nothing: skip taking every record's holder set then.
        if !self.dht.as_ref().is_some_and(|d| d.table.would_change(peer)) {
            return;
        }
        let before = self.holder_sets();
        let Some(d) = self.dht.as_mut() else { return };
        let changed = d.table.offer(peer).unwrap_or(false);
        if changed {
            d.addrs.insert(node, addr);
            self.ring_prune_addrs();
            self.handoff_changed(before);
        }
    }

    /// The last link to `node` closed: lookups we sent it will get no answer on it (a peer
    /// trimming an idle link races our `FindNode`: traced in `tests/sim_ring.rs`, where the
    /// lookup waited out `RING_LOOKUP_TIMEOUT_MS` and the unicasts parked on it failed). Each
    /// is routed again at once from our table (a new dial, or the next best hop if the table
    /// dropped `node`), once per lookup so a flapping link cannot keep it alive for ever.
    pub(super) fn ring_link_lost(&mut self, node: NodeId) {
        let Some(d) = self.dht.as_mut() else { return };
        // Coalesced followers went (in effect) the same way: routed again too, they coalesce
        // on the first one re-sent.
        let lost: Vec<u64> = d.pending.iter().filter(|(_, p)| p.to == node && !p.retried).map(|(id, _)| *id).collect();
        for id in lost {
            let Some(d) = self.dht.as_mut() else { return };
            let Some(p) = d.pending.remove(&id) else { continue };
            d.stats.rerouted += 1;
            self.route_find_again(FindNode { id: 0, key: p.key, hops: p.hops }, p.back, true);
        }
    }

    /// A dial to a table member failed: it left (or never was); its records go to the next holders.
    /// Not a member we are connected to: a second dial to it (a lookup's hop, a claim verified
    /// again, both ends dialling at once) that fails or is refused says nothing about it being
    /// gone, and only a new connection would have offered it again. Found by `overlay_bench`'s
    /// ring audit: 5 % of 10,000 cores at 100k nodes had lost their true first successor
    /// while connected to it; its keys' holders disagreed and lookups ended at the wrong core.
    pub(super) fn ring_dial_failed(&mut self, remote: Option<Addr>) {
        let Some(addr) = remote else { return };
        let Some(d) = self.dht.as_mut() else { return };
        let by_node = &self.by_node;
        let gone: Vec<NodeId> =
            d.addrs.iter().filter(|(n, a)| **a == addr && !by_node.contains_key(n)).map(|(n, _)| *n).collect();
        for node in gone {
            let before = self.holder_sets();
            let Some(d) = self.dht.as_mut() else { return };
            if d.table.remove(node) {
                d.addrs.remove(&node);
                log::debug!("ring: {node} unreachable, removed");
                self.handoff_changed(before);
                self.ring_link_lost(node);
                return;
            }
        }
    }

    fn ring_prune_addrs(&mut self) {
        let Some(d) = self.dht.as_mut() else { return };
        let known: Vec<NodeId> = d.table.known().iter().map(|p| p.node).collect();
        d.addrs.retain(|n, _| known.contains(n));
    }

    /// Housekeeping: a round of stabilisation and one finger lookup every `RING_ROUND_MS`, and
    /// expiry of lookups that got no answer.
    pub(super) fn ring_tick(&mut self) {
        if !self.ring_on() {
            return;
        }
        let now = self.now;
        let Some(d) = self.dht.as_mut() else { return };
        d.pending.retain(|_, p| p.live(now));
        let waiting: Vec<NodeId> = d.parked.iter().map(|(k, _)| *k).collect();
        let lost: Vec<NodeId> = waiting
            .into_iter()
            .filter(|k| !d.pending.values().any(|p| p.key == *k && p.back == Back::Unicast))
            .collect();
        // The join: until the ring has answered a lookup of our own id (which names our true
        // neighbours), one goes out through a connected ring core whenever none is under way
        // (at most one per `RING_LOOKUP_TIMEOUT_MS`; none while no ring core is connected).
        let joining = !d.joined && !d.own_lookup_live(now);
        if joining && self.ring_cores_connected(None).next().is_some() {
            self.ring_lookup(self.me, Back::Store);
        }
        let Some(d) = self.dht.as_mut() else { return };
        if now >= d.next_readback {
            d.next_readback = now.plus_ms(RING_READBACK_MS);
            // The read-back check, for our record and those of the leaves we are home to.
            self.ring_lookup(self.me, Back::Store);
            for leaf in self.leaves.clone() {
                self.ring_lookup(leaf, Back::Store);
            }
        }
        self.ring_confirm_due();
        for k in lost {
            // Its lookup timed out: the frames waiting for it fail.
            if let Some(d) = self.dht.as_mut() {
                d.stats.lookup_timeouts += 1;
            }
            self.unpark(k);
        }
        let Some(d) = self.dht.as_mut() else { return };
        if now < d.next_round {
            return;
        }
        d.next_round = now.plus_ms(RING_ROUND_MS);
        d.sync_answered.clear();
        // Once a round, not every housekeeping tick: it walks the directory, which an `auto`
        // core at `Ring` still fills from others' broadcasts (≈ 9,500 records at 10k nodes,
        // each a holder check: 70 % of the 10k `auto` simulation's CPU when it ran every tick).
        if self.records_ring_only() {
            self.ring_forget();
        }
        let Some(d) = self.dht.as_mut() else { return };
        let targets = d.table.stabilise_targets();
        for t in targets {
            let peers = self.ring_lists_for(t, false, true);
            self.ring_send(t, Msg::Neighbours { ask: true, peers });
        }
        let Some(d) = self.dht.as_mut() else { return };
        let fingers = d.table.finger_targets();
        if !fingers.is_empty() {
            d.finger_turn = (d.finger_turn + 1) % fingers.len();
            let key = fingers[d.finger_turn];
            self.ring_lookup(key, Back::Finger);
        }
        self.ring_sync_due();
    }

    /// Our successors and predecessors as `PeerRef`s (at most `RING_NEIGHBOURS_MAX`).
    fn ring_lists(&self) -> Vec<PeerRef> {
        let Some(d) = self.dht.as_ref() else { return Vec::new() };
        let mut out: Vec<PeerRef> = Vec::new();
        for p in d.table.successors().iter().chain(d.table.predecessors()) {
            if let Some(r) = d.peer_ref(p.node) {
                if !out.iter().any(|o| o.node == r.node) {
                    out.push(r);
                }
            }
        }
        out.truncate(RING_NEIGHBOURS_MAX);
        out
    }

    /// Our lists for neighbour `to`: in full if they changed since we last sent them to it, if
    /// `full` (an answer to a neighbour whose own lists came in full: it is converging or
    /// repairing), while our lists changed within `RING_LISTS_SETTLE_MS`, or every
    /// `RING_LISTS_RESEND_ROUNDS` sends; otherwise empty (it has them already: the link is
    /// ordered and reliable, and the periodic full copy repairs a peer that forgot). Traced in
    /// the 10k simulator: unchanged 16-entry lists every minute both ways were a large part of
    /// a core's idle control traffic. Sent empty as soon as they stop changing, they cost
    /// `tests/sim_ring.rs` unicasts (seeds 7, 8: 998, 996 of 1,000): tables still filling had
    /// fewer chances to hear of their neighbourhood.
    ///
    /// `round`: this is our round's ask, which counts towards the periodic full copy; an
    /// answer does not (it did: between two cores that are each other's nearest neighbour, a
    /// full copy went every 2.5 rounds each way instead of every 5).
    fn ring_lists_for(&mut self, to: NodeId, full: bool, round: bool) -> Vec<PeerRef> {
        let lists = self.ring_lists();
        let now = self.now;
        let Some(d) = self.dht.as_mut() else { return lists };
        // FNV-1a over ids, address bytes and ports (a collision only delays a list a few rounds).
        let digest = lists.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, p| {
            let words = p.node.0.to_le_bytes().into_iter().chain(p.addr.ip).chain(p.addr.port.to_le_bytes());
            words.fold(h, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
        });
        if d.lists_now.0 != digest {
            d.lists_now = (digest, now);
        }
        let settling = now.since(d.lists_now.1) < RING_LISTS_SETTLE_MS;
        match d.lists_sent.get_mut(&to) {
            Some((h, n)) if *h == digest && *n + u32::from(round) < RING_LISTS_RESEND_ROUNDS && !full && !settling => {
                *n += u32::from(round);
                return Vec::new();
            }
            _ => {}
        }
        if d.lists_sent.len() >= RING_NEIGHBOURS_MAX && !d.lists_sent.contains_key(&to) {
            // Bounded: forgetting only costs a full copy next time.
            d.lists_sent.clear();
        }
        d.lists_sent.insert(to, (digest, 0));
        lists
    }

    /// Send to a ring member, dialling its known address if not connected.
    fn ring_send(&mut self, node: NodeId, msg: Msg) -> bool {
        if self.send_node(node, msg.clone()) {
            return true;
        }
        match self.dht.as_mut().and_then(|d| d.addrs.get(&node).copied().map(|a| (d, a))) {
            Some((d, addr)) => {
                d.stats.dials_send += 1;
                self.send_or_dial(node, addr, msg)
            }
            None => false,
        }
    }

    fn on_neighbours(&mut self, from: NodeId, ask: bool, peers: Vec<PeerRef>) {
        if ask {
            let peers = self.ring_lists_for(from, !peers.is_empty(), false);
            self.send_node(from, Msg::Neighbours { ask: false, peers });
        }
        self.ring_consider(&peers);
    }

    /// Claimed cores (a neighbour list, a lookup's holders): dial those worth a place in the
    /// table; the handshake verifies them and `ring_peer_up` offers them.
    fn ring_consider(&mut self, claims: &[PeerRef]) {
        let Some(d) = self.dht.as_ref() else { return };
        let rp: Vec<RingPeer> = claims.iter().map(|p| RingPeer { node: p.node, prefix: p.addr.prefix() }).collect();
        let worth = d.table.worth_verifying(&rp);
        for w in worth {
            let Some(addr) = claims.iter().find(|c| c.node == w.node).map(|c| c.addr) else { continue };
            if self.by_node.contains_key(&w.node) {
                self.ring_peer_up_at(w.node, Some(addr));
                continue;
            }
            let opening = self.conns.values().any(|c| !c.is_up() && c.remote == Some(addr));
            if !opening && self.conns.len() < MAX_CONNS {
                if let Some(d) = self.dht.as_mut() {
                    d.stats.dials_verify += 1;
                }
                self.trim_ondemand();
                self.dial(addr, super::conn::Purpose::Direct);
            }
        }
    }
}

#[path = "dht_lookup.rs"]
mod lookup;
#[path = "dht_store.rs"]
mod store;
#[path = "dht_sync.rs"]
mod sync;
#[cfg(test)]
pub(super) use sync::fingerprint as sync_fingerprint;
