//! The gossip overlay as a sans-IO state machine (spec overlay.md §2; STYLE.md "Overlay").
//!
//! `handle_input(input, now)` and `handle_timeout(now)` take everything that happens (frames,
//! connections, commands, time); `poll_output()` yields what to do (send, dial, close, deliver);
//! `poll_timeout()` says when to call back. No IO, no clock, no global RNG: randomness is a
//! seeded field, timers are data, and everything whose order reaches an output lives in a `Vec`
//! or `BTreeMap`. Bad peer input is counted in [`Stats`] and dropped, never a panic.
//!
//! Parts: `conn` (handshake, liveness, limits), `membership` (HyParView core views, reachability,
//! leaf homes), `broadcast` (Plumtree + directory records), `unicast` (directory routing + acks).
//! Invariants: `by_node[n] = c` ⇒ `conns[c]` is `Up` with peer `n`; every id in `active`,
//! `leaves`, `homes`, `eager`, `lazy` has an `Up` connection (checked by `check_invariants`).

mod admission;
mod also;
mod broadcast;
mod caches;
mod conn;
pub mod crypto;
pub mod dht;
pub mod dht_persist;
mod dir_admit;
pub mod dir_auto;
mod dir_switch;
mod dir_sync;
pub mod directory;
mod interest;
mod membership;
pub mod params;
pub mod ring;
pub mod sample;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_abuse;
#[cfg(test)]
mod tests_also;
#[cfg(test)]
mod tests_dht;
#[cfg(test)]
mod tests_dht_persist;
#[cfg(test)]
mod tests_dht_sync;
#[cfg(test)]
mod tests_dir;
#[cfg(test)]
mod tests_dir_auto;
#[cfg(test)]
mod tests_dir_sync;
#[cfg(test)]
mod tests_interest;
#[cfg(test)]
mod tests_membership;
#[cfg(test)]
mod tests_trees;
#[cfg(test)]
mod tests_unicast;
pub mod topic;
mod topic_msg;
mod trees;
pub mod types;
mod unicast;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::time::UnixTime;
pub use caches::{Bans, Bucket, MsgCache, Seen};
use conn::{Conn, Purpose};
pub use crypto::{Checked, Crypto, Rejected, SchnorrCrypto};
pub use dht::DirectoryMode;
pub use directory::Directory;
pub use interest::Audience;
use params::*;
pub use types::{Instant, Now, SplitMix64};

pub use crate::wire::ConnId;
use crate::wire::{
    Addr, Body, DeliveryMode, Key32, Msg, MsgId, NodeId, NodeRecord, PeerRef, Role, UndeliverableReason,
};

/// How a node decides its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChoice {
    /// Dial-back check decides (no listen address ⇒ leaf; no bootstrap ⇒ core).
    Auto,
    /// Always core (e.g. a VPS with a known public address).
    Core,
    /// Always leaf (a phone on mobile data).
    Leaf,
}

/// Static configuration of one node.
#[derive(Debug, Clone)]
pub struct Config {
    /// The owner's Nostr pubkey; the node id is its low 64 bits.
    pub owner: Key32,
    /// The owner's authorisation of this node key (a signed Nostr event), if configured.
    pub delegation: Option<Body>,
    /// Address this node listens on (a wildcard IP is replaced by the one peers observe).
    pub listen: Option<Addr>,
    /// Nodes to contact first (`-b`).
    pub bootstrap: Vec<Addr>,
    /// Role policy.
    pub role: RoleChoice,
    /// Leaf slots offered (≤ `LEAF_SLOTS`).
    pub leaf_slots: usize,
    /// RNG seed.
    pub seed: u64,
    /// `--delivery`: broadcast, follow or auto (docs/scaling.md "Delivery").
    pub delivery: DeliveryMode,
    /// `--directory`: broadcast, ring or auto (docs/scaling.md "Directory").
    pub directory: DirectoryMode,
}

/// Something that happened.
#[derive(Debug, Clone)]
pub enum Input {
    /// A peer connected to us.
    Accepted {
        /// Driver-allocated id (top bit clear).
        conn: ConnId,
        /// Peer's address as observed.
        remote: Addr,
    },
    /// A dial asked for by `Output::Dial` succeeded.
    Connected {
        /// The id from the `Dial`.
        conn: ConnId,
    },
    /// A connection ended, or a dial failed.
    Closed {
        /// Which.
        conn: ConnId,
    },
    /// A decoded frame.
    Frame {
        /// From.
        conn: ConnId,
        /// The message.
        msg: Msg,
    },
    /// Undecodable bytes arrived (the driver closes the connection too).
    Malformed {
        /// From.
        conn: ConnId,
    },
    /// Broadcast our own (already validated) event.
    Publish {
        /// Event id.
        id: MsgId,
        /// Event bytes.
        body: Body,
        /// Its author and `p` tags ([`Audience::of`] the verified event), for the home→leaf
        /// filter: the overlay does not check the event a second time to read them.
        audience: Audience,
    },
    /// The transport did not queue this `Gossip` for `conn` (its send queue had no room for
    /// payload, `net::PAYLOAD_HEADROOM_*`): the peer is told `IHave` instead and can `Graft`.
    Shed {
        /// Where it was to go.
        conn: ConnId,
        /// The message as it was emitted.
        msg: Msg,
    },
    /// Send a payload to one node, with acknowledgement.
    Unicast {
        /// Destination node id.
        dst: NodeId,
        /// Caller-chosen id, reported back in `UnicastDone`.
        msg_id: u64,
        /// Payload.
        payload: Body,
    },
    /// The owner's followees changed (from their newest kind 3): a leaf tells its homes.
    SetInterest(Vec<Key32>),
    /// Home: recent stored posts of a leaf's newly followed authors (the driver's answer to
    /// [`Overlay::take_leaf_backfill`]), pushed to that leaf.
    LeafBackfill {
        /// The leaf.
        leaf: NodeId,
        /// Encoded events (`event::packed`), ≤ `LEAF_BACKFILL_BYTES` of them are sent.
        bodies: Vec<Body>,
    },
}

/// Something to do.
#[derive(Debug, Clone)]
pub enum Output {
    /// Send a message on a connection (`try_send`; a full queue is the driver's to count).
    Send {
        /// Where.
        conn: ConnId,
        /// What.
        msg: Msg,
    },
    /// Open a connection; report `Connected` or `Closed` with this id.
    Dial {
        /// Overlay-allocated id (top bit set).
        conn: ConnId,
        /// Where.
        addr: Addr,
    },
    /// Close a connection (no `Closed` input follows).
    Close {
        /// Which.
        conn: ConnId,
    },
    /// A validated payload for the application.
    Deliver(Delivery),
    /// Outcome of an `Input::Unicast`.
    UnicastDone {
        /// The caller's id.
        msg_id: u64,
        /// Destination.
        dst: NodeId,
        /// Acked (with hop count) or failed.
        result: Result<u8, UndeliverableReason>,
    },
}

/// A validated payload.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A broadcast event (id and signature verified).
    Broadcast {
        /// Event id.
        id: MsgId,
        /// Its author.
        author: Key32,
        /// Event bytes.
        body: Body,
        /// The event as [`Crypto::verify_event`] checked it (see [`Checked`]): the receiver
        /// uses it as is and never verifies it again.
        /// Boxed: an event is ~270 bytes and most outputs are not deliveries.
        event: Option<Box<crate::event::VerifiedEvent>>,
    },
    /// A unicast payload addressed to this node.
    Unicast {
        /// Origin node.
        src: NodeId,
        /// Origin's id.
        msg_id: u64,
        /// Payload.
        payload: Body,
    },
}

/// Counters (monotonic) for logs, `/status` and the simulator.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Frames that did not decode.
    pub malformed: u64,
    /// Payloads with a bad id or signature (each bans its sender while it is connected).
    pub invalid: u64,
    /// Connections refused because the peer is banned.
    pub banned_rejects: u64,
    /// Frames dropped by per-connection rate limits.
    pub rate_dropped: u64,
    /// Events dropped by the per-author limit.
    pub author_dropped: u64,
    /// Duplicate payloads received.
    pub duplicates: u64,
    /// Records refused because another key holds the node id.
    pub id_conflicts: u64,
    /// Outputs dropped because the outbox was full.
    pub outbox_dropped: u64,
    /// Messages dropped from a not-yet-up connection's queue.
    pub queue_dropped: u64,
    /// Handshakes that failed (bad record, bad auth, timeout).
    pub handshake_failed: u64,
    /// Broadcasts delivered to the application.
    pub delivered: u64,
    /// GRAFTs sent.
    pub grafts: u64,
    /// Links declared dead by silence.
    pub dead_links: u64,
    /// Events and records dropped (never banned for) because of the clocks: dated beyond the
    /// hold window, a record expired or an owner's delegation expired by our clock.
    pub time_dropped: u64,
    /// New events dropped because their entry link or IP prefix was over its admission budget.
    pub inject_dropped: u64,
    /// Events held because they were dated a little beyond our window (released later).
    pub time_held: u64,
    /// Unicasts and acks whose source is not who signed them (dropped, never delivered).
    pub forged: u64,
    /// Handshakes refused because the peer's IP prefix added too many new node ids lately.
    pub prefix_limited: u64,
    /// Gossiped records of new node ids dropped because their link's IP prefix (and catch-up
    /// allowance) had added too many new ids lately (`dir_admit.rs`).
    pub gossip_limited: u64,
    /// Anti-entropy records merged (new or newer), from `DirRecords`.
    pub dir_records_merged: u64,
    /// Anti-entropy records received that we already held (or older, expired, or our own):
    /// bytes the exchange wasted.
    pub dir_records_useless: u64,
    /// Ids a peer's `DirIds` offered that we lack but did not ask for: this link's new-id
    /// allowance and prefix budget were spent (asked again in a later exchange).
    pub dir_not_wanted: u64,
    /// New ids taken without charge because a link from another prefix had offered them
    /// before and been refused over budget (`dir_admit.rs`, vouched ids).
    pub dir_vouched: u64,
    /// Records not kept because the directory was full of live records.
    pub dir_full: u64,
    /// `Join`s re-sent to a bootstrap contact that had refused (or not answered) ours: a
    /// contact still checking its own reachability refuses, and a core that never joined
    /// stayed an island with the cores that joined through it (`membership.rs`).
    pub join_retries: u64,
    /// Eager pushes the transport had no room for, announced by `IHave` instead.
    pub shed_to_ihave: u64,
    /// IHAVEs held, not sent, because the eager copy's sender named the peer as another
    /// receiver of the same push (`Msg::GossipAlso`, `also.rs`).
    pub also_skipped: u64,
    /// Of those, released as ordinary IHAVEs: the sender's link dropped within the hold, or
    /// the hold was full.
    pub also_released: u64,
    /// Held IHAVEs sent as the slow digest when their hold ended (`also.rs`).
    pub also_digested: u64,
    /// Ids of `IHave` frames the transport had no room for either, announced again on the
    /// next flush.
    pub ihave_requeued: u64,
    /// Interest sets refused: oversized, over a leaf's update budget, or not from a leaf of ours.
    pub interest_dropped: u64,
    /// Events not forwarded to a leaf because its owner does not follow their author (follow
    /// delivery): bandwidth saved, not a loss.
    pub leaf_filtered: u64,
    /// Ring directory frames refused: from a peer that did not announce the ring, with a list
    /// over its bound, or while this node runs the broadcast directory.
    pub ring_dropped: u64,
    /// Tree frames refused: from a peer that did not announce the trees, or while this node
    /// does not run them (`--delivery` resolves to broadcast, or it is a leaf).
    pub tree_dropped: u64,
    /// Posts taken from a tree first and relayed on the core Plumtree when its copy came.
    pub tree_late_plumtree: u64,
    /// Posts this core had relayed on a tree before anyone here wanted the author, delivered
    /// when the owner or a leaf started following (from the message cache).
    pub tree_late_delivered: u64,
    /// The same, but the post had left the message cache (`MSG_CACHE_MS`): not delivered.
    pub tree_late_uncached: u64,
    /// Stored posts of a leaf's newly followed authors pushed to it (`Input::LeafBackfill`).
    pub leaf_backfilled: u64,
    /// Membership's connection costs (`membership.rs`), counted to find where an idle core's
    /// handshakes come from (`overlay_bench`'s idle breakdown).
    pub memb: MembStats,
}

/// Why a core opened connections and changed its active view (monotonic counters).
#[derive(Debug, Default, Clone, Copy)]
pub struct MembStats {
    /// Connections accepted (each costs a handshake: two `Hello`s, two `Auth`s).
    pub accepted: u64,
    /// Dials to ask a passive peer to become a neighbour (`Purpose::Neighbor`).
    pub dials_neighbor: u64,
    /// On-demand dials (`Purpose::Direct`): ring, unicast and tree frames to a node without a
    /// link.
    pub dials_direct: u64,
    /// Other dials (bootstrap, home, dial-back probe).
    pub dials_other: u64,
    /// `Neighbor` requests sent at low priority (refills of a view one short) ...
    pub neighbor_low: u64,
    /// ... and at high priority (empty view, active-view refresh, a walk's end).
    pub neighbor_high: u64,
    /// `NeighborReply { ok: false }` received.
    pub neighbor_refused: u64,
    /// Introductions to another core one short taken (`FwdJoin` from a non-neighbour).
    pub introduced: u64,
    /// Active neighbours dropped to make room for a new one.
    pub active_evicted: u64,
    /// Active-view refreshes started (`ACTIVE_REFRESH_ONE_IN`).
    pub refreshes: u64,
    /// Idle on-demand links closed (`ONDEMAND_IDLE_MS`) or trimmed (`ONDEMAND_CAP`).
    pub ondemand_closed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Graft(MsgId),
    IHaveFlush,
    UnicastTimeout(u64),
    /// A unicast that waited for a ring lookup tries again.
    UnicastRetry(u64),
}

/// A connection to redial after a backoff.
#[derive(Debug, Clone)]
struct Redial {
    addr: Addr,
    purpose: Purpose,
    attempt: u32,
    at: Instant,
}

/// A missing broadcast announced by IHAVEs.
#[derive(Debug, Clone)]
struct Missing {
    announcers: Vec<(NodeId, u16)>,
}

/// An event dated a little beyond our window, waiting for our clock to catch up.
#[derive(Debug, Clone)]
struct Held {
    entry: admission::Entry,
    from: NodeId,
    created_at: u64,
    g: crate::wire::Gossip,
}

/// A unicast awaiting its ack.
#[derive(Debug, Clone)]
struct PendingUnicast {
    dst: NodeId,
    payload: Body,
    attempt: u8,
    /// `Routed::signing_hash` of this unicast (the ack must sign `Routed::ack_hash` of it).
    hash: [u8; 32],
    /// Our signature over `hash`, sent with every attempt.
    sig: crate::wire::Sig,
    /// The node the current attempt was handed to (a report of failure counts from it, the
    /// destination or one of its homes only).
    via: Option<NodeId>,
}

/// One node's overlay state. See the module doc.
pub struct Overlay {
    cfg: Config,
    me: NodeId,
    crypto: Box<dyn Crypto>,
    rng: SplitMix64,
    now: Instant,
    /// Wall clock of the last input (may step either way; only compared, never timed with).
    wall: UnixTime,
    /// (mono, wall) at the last clock-step check: a wall clock that moved more than
    /// `CLOCK_STEP_S` away from the monotonic one was stepped, and our record is re-signed.
    wall_ref: (Instant, UnixTime),
    role: Role,
    reach_deadline: Option<Instant>,
    advertised: Option<Addr>,
    record: NodeRecord,
    record_dirty: Option<Instant>,
    record_published: Instant,
    conns: BTreeMap<ConnId, Conn>,
    by_node: BTreeMap<NodeId, ConnId>,
    next_conn: u64,
    active: Vec<NodeId>,
    passive: Vec<PeerRef>,
    pending_neighbor: BTreeMap<NodeId, Instant>,
    /// The last core refused a low-priority `Neighbor` here (it is one short), and when: the
    /// next one refused is introduced to it (`membership.rs` `introduce_short`). One slot.
    short_hint: Option<(PeerRef, Instant)>,
    /// `Join`s still to re-send to our bootstrap contacts (0 once one accepted us, see
    /// `membership.rs` `retry_join`), and when the next may go.
    join_retries_left: u8,
    next_join_retry: Instant,
    leaves: Vec<NodeId>,
    /// A leaf's homes: a structural bound, so a fixed-capacity vector (no heap, no growth).
    homes: heapless::Vec<NodeId, MAX_HOMES>,
    pending_homes: Vec<NodeId>,
    candidates: Vec<PeerRef>,
    next_shuffle: Instant,
    /// Shuffles every `SHUFFLE_INTERVAL_MS` until then (a start, a lost neighbour or a dead
    /// passive entry moves it to `SHUFFLE_CALM_AFTER_MS` from then), every
    /// `SHUFFLE_CALM_INTERVAL_MS` after (`membership.rs` `maintain_core`).
    shuffle_fast_until: Instant,
    redials: Vec<Redial>,
    eager: BTreeSet<NodeId>,
    lazy: BTreeSet<NodeId>,
    seen: Seen,
    cache: MsgCache,
    missing: BTreeMap<MsgId, Missing>,
    held: Vec<Held>,
    /// Lazy-push IHAVEs waiting for a payload to ride on or their due time: (peer, id,
    /// round, due). Bounded by `IHAVE_PENDING_CAP`.
    ihave_pending: Vec<(NodeId, MsgId, u16, Instant)>,
    /// IHAVEs for eager pushes the transport shed (`Input::Shed`): sent only by the batch
    /// timer, never piggybacked (a piggyback would ride on the next push, shed as well).
    /// Bounded by `IHAVE_PENDING_CAP` too.
    shed_pending: Vec<(NodeId, MsgId, u16)>,
    /// IHAVEs not sent because the sender of the eager copy named the peer (`also.rs`).
    also: also::Also,
    /// When the pending `Timer::IHaveFlush` fires (the earliest one, if several are queued).
    ihave_timer: Option<Instant>,
    unsent_own: Vec<(MsgId, Audience)>,
    interest: interest::Interests,
    /// Per-author trees (cores in follow mode, `trees.rs`), boxed: created when first on.
    trees: Option<Box<trees::Trees>>,
    /// `--delivery auto`'s level and the estimated network size (`sample.rs`).
    auto: sample::AutoSwitch,
    /// `--directory auto`'s level and estimate (`dir_auto.rs`).
    dir_auto: dir_auto::DirSwitch,
    /// Set only around `push_leaves_only`: `push` then skips every core peer.
    leaves_only: bool,
    /// Set only around `push_cores_only`: `push` then skips every leaf.
    cores_only: bool,
    dir: Directory,
    /// The ring directory's state (`--directory ring`, or `auto` once it reached `Both`),
    /// boxed: ≈ 2 KB that broadcast nodes skip.
    dht: Option<Box<dht::Dht>>,
    authors: caches::AuthorLimiter,
    prefixes: caches::KeyedLimiter<admission::Prefix>,
    bans: Bans,
    prefix_budget: caches::PrefixBudget,
    gossip_budget: caches::PrefixBudget,
    /// Ids refused over their prefix's budget, for vouching by another prefix (`dir_admit.rs`).
    refused_ids: dir_admit::RefusedIds,
    pending_unicast: BTreeMap<u64, PendingUnicast>,
    /// Home: where our leaves' unicasts went, (payload hash, destination, hop), oldest first;
    /// at most `LEAF_ROUTES_CAP`.
    leaf_routes: VecDeque<([u8; 32], NodeId, NodeId)>,
    timers: BTreeMap<(Instant, u64), Timer>,
    timer_seq: u64,
    next_tick: Instant,
    outbox: VecDeque<Output>,
    stats: Stats,
}

impl Overlay {
    /// A node that starts at `now`: it dials its bootstrap nodes on the first `handle_timeout`.
    pub fn new(cfg: Config, crypto: Box<dyn Crypto>, clock: Now) -> Overlay {
        let now = clock.mono;
        let me = NodeId::of_pubkey(&cfg.owner.0);
        let role = match (cfg.role, cfg.listen, cfg.bootstrap.is_empty()) {
            (RoleChoice::Leaf, _, _) | (RoleChoice::Auto, None, _) => Role::Leaf,
            _ => Role::Core,
        };
        let deciding = cfg.role == RoleChoice::Auto && cfg.listen.is_some() && !cfg.bootstrap.is_empty();
        let advertised = if role == Role::Core && !deciding { cfg.listen } else { None };
        let record = NodeRecord {
            node: me,
            owner: cfg.owner,
            node_key: crypto.node_key(),
            delegation: cfg.delegation.clone(),
            role,
            addr: advertised,
            homes: Vec::new(),
            seq: 0,
            expires: 0,
            sig: crate::wire::Sig([0; 64]),
        };
        let mut o = Overlay {
            me,
            rng: SplitMix64::new(cfg.seed),
            now,
            wall: clock.wall,
            wall_ref: (now, clock.wall),
            role,
            // Deciding, check not sent yet: no deadline until a `ReachCheck` is out.
            reach_deadline: deciding.then_some(Instant(u64::MAX)),
            advertised,
            record,
            record_dirty: Some(now),
            record_published: now,
            conns: BTreeMap::new(),
            by_node: BTreeMap::new(),
            next_conn: 0,
            active: Vec::new(),
            passive: Vec::new(),
            pending_neighbor: BTreeMap::new(),
            short_hint: None,
            join_retries_left: JOIN_RETRIES,
            next_join_retry: now,
            leaves: Vec::new(),
            homes: heapless::Vec::new(),
            pending_homes: Vec::new(),
            candidates: Vec::new(),
            next_shuffle: now.plus_ms(SHUFFLE_INTERVAL_MS),
            shuffle_fast_until: now.plus_ms(SHUFFLE_CALM_AFTER_MS),
            redials: Vec::new(),
            eager: BTreeSet::new(),
            lazy: BTreeSet::new(),
            seen: Seen::new(SEEN_CAP, SEEN_MS),
            cache: MsgCache::new(MSG_CACHE_CAP, MSG_CACHE_MS),
            missing: BTreeMap::new(),
            held: Vec::new(),
            ihave_pending: Vec::new(),
            shed_pending: Vec::new(),
            also: also::Also::default(),
            ihave_timer: None,
            unsent_own: Vec::new(),
            interest: interest::Interests::default(),
            trees: None,
            auto: sample::AutoSwitch::new(AUTO_FOLLOW_MIN_NODES as u64),
            dir_auto: dir_auto::DirSwitch::new(RING_ON_NODES),
            leaves_only: false,
            cores_only: false,
            dir: Directory::new(DIR_CAP),
            // `auto` creates it when it first reaches `Both` (`dir_switch.rs`).
            dht: (cfg.directory == DirectoryMode::Ring)
                .then(|| Box::new(dht::Dht::new(me, cfg.listen.map_or(0, |a| a.prefix()), now))),
            authors: caches::AuthorLimiter::new(AUTHOR_CAP, AUTHOR_PER_MIN, AUTHOR_BURST),
            prefixes: caches::KeyedLimiter::new(PREFIX_CAP, INJECT_PREFIX_PER_S * 60, INJECT_PREFIX_BURST),
            bans: Bans::default(),
            prefix_budget: caches::PrefixBudget::default(),
            gossip_budget: caches::PrefixBudget::default(),
            refused_ids: dir_admit::RefusedIds::default(),
            pending_unicast: BTreeMap::new(),
            leaf_routes: VecDeque::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            next_tick: now,
            outbox: VecDeque::new(),
            stats: Stats::default(),
            crypto,
            cfg,
        };
        for addr in o.cfg.bootstrap.clone() {
            o.redials.push(Redial { addr, purpose: Purpose::Bootstrap, attempt: 0, at: now });
        }
        o.sign_record();
        o
    }

    /// Replaces the bootstrap list: the driver resolved `-b host` again, because the name did
    /// not resolve at start (a Pi that boots before its network) or its address stopped
    /// answering. New addresses are dialled at the next tick; redials of dropped ones stop. A
    /// node that started with no bootstrap address at all, picks its role itself and is still
    /// alone first checks its reachability through the new bootstrap, as it would have at start.
    pub fn set_bootstrap(&mut self, addrs: Vec<Addr>, now: Instant) {
        self.now = self.now.max(now);
        let alone = self.active.is_empty() && self.homes.is_empty() && self.leaves.is_empty();
        let auto = self.cfg.role == RoleChoice::Auto && self.cfg.listen.is_some();
        if self.cfg.bootstrap.is_empty() && !addrs.is_empty() && alone && auto && self.reach_deadline.is_none() {
            self.role = Role::Core;
            self.reach_deadline = Some(Instant(u64::MAX));
            self.advertised = None;
            self.mark_record_dirty();
            self.sign_record();
        }
        self.redials.retain(|r| r.purpose != Purpose::Bootstrap || addrs.contains(&r.addr));
        for addr in &addrs {
            if !self.redials.iter().any(|r| r.addr == *addr) {
                self.redials.push(Redial { addr: *addr, purpose: Purpose::Bootstrap, attempt: 0, at: self.now });
            }
        }
        self.cfg.bootstrap = addrs;
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.me
    }
    /// Current role (a node checking its reachability reports `Leaf` until it passes).
    pub fn role(&self) -> Role {
        self.role
    }
    /// True while the dial-back check is pending.
    pub fn is_deciding(&self) -> bool {
        self.reach_deadline.is_some()
    }
    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    /// True if broadcast `id` was received (or published) here and is still remembered.
    pub fn has_seen(&self, id: &MsgId) -> bool {
        self.seen.contains(id)
    }
    /// Active view (core).
    pub fn active_view(&self) -> &[NodeId] {
        &self.active
    }
    /// Passive view size (core).
    pub fn passive_len(&self) -> usize {
        self.passive.len()
    }
    /// Attached leaves (core).
    pub fn leaves(&self) -> &[NodeId] {
        &self.leaves
    }
    /// Homes (leaf).
    pub fn homes(&self) -> &[NodeId] {
        &self.homes
    }
    /// This node's own record as last signed (the simulator bench's ring audit).
    pub fn own_record(&self) -> &crate::wire::NodeRecord {
        &self.record
    }
    /// Plumtree eager and lazy peers (debugging, tests).
    pub fn tree_peers(&self) -> (Vec<NodeId>, Vec<NodeId>) {
        (self.eager.iter().copied().collect(), self.lazy.iter().copied().collect())
    }
    /// The ring directory's state (`--directory ring`), if on.
    pub fn dht(&self) -> Option<&dht::Dht> {
        self.dht.as_deref()
    }
    /// Directory size.
    pub fn directory_len(&self) -> usize {
        self.dir.len()
    }

    /// The node directory (read-only: records arrive only through the protocol).
    pub fn directory(&self) -> &Directory {
        &self.dir
    }
    /// Number of open or opening connections.
    pub fn conn_count(&self) -> usize {
        self.conns.len()
    }
    /// The role of the peer on `conn` once the handshake is done (`None` before, or if unknown).
    pub fn up_peer_role(&self, conn: ConnId) -> Option<Role> {
        self.conns.get(&conn).filter(|c| c.is_up()).map(|c| c.peer_role)
    }
    /// The capability bits the peer on `conn` announced in its `Hello`, once up (0 before).
    pub fn up_peer_features(&self, conn: ConnId) -> u8 {
        self.conns.get(&conn).filter(|c| c.is_up()).map_or(0, |c| c.features)
    }
    /// The listen address the peer on `conn` advertised in its record, once up.
    pub fn up_peer_listen(&self, conn: ConnId) -> Option<Addr> {
        self.conns.get(&conn).filter(|c| c.is_up()).and_then(|c| c.peer_addr)
    }
    /// Nodes with an established connection.
    pub fn connected_nodes(&self) -> Vec<NodeId> {
        self.by_node.keys().copied().collect()
    }

    /// The same, in order, without collecting them (the runtime compares them on every drain).
    pub fn connected_iter(&self) -> impl ExactSizeIterator<Item = NodeId> + '_ {
        self.by_node.keys().copied()
    }

    /// Wall-clock seconds as last passed in (never read from a clock here).
    fn unix_now(&self) -> u64 {
        self.wall.0
    }

    /// Take both clock readings: `mono` only moves forward; `wall` is taken as given, and a
    /// step (NTP after boot, suspend) re-signs our record with the corrected time.
    fn set_clock(&mut self, now: Now) {
        self.now = self.now.max(now.mono);
        self.wall = now.wall;
        let expected = self.wall_ref.1 .0 + self.now.since(self.wall_ref.0) / 1000;
        if expected.abs_diff(now.wall.0) > CLOCK_STEP_S {
            log::info!("wall clock stepped by {} s: re-signing our record", now.wall.0 as i64 - expected as i64);
            self.wall_ref = (self.now, now.wall);
            self.mark_record_dirty();
        } else if self.now.since(self.wall_ref.0) > CLOCK_REF_MS {
            self.wall_ref = (self.now, now.wall);
        }
    }

    /// Feed one input. Never blocks, never fails: bad input is counted and dropped.
    pub fn handle_input(&mut self, input: Input, now: Now) {
        self.set_clock(now);
        match input {
            Input::Accepted { conn, remote } => self.on_accepted(conn, remote),
            Input::Connected { conn } => self.on_connected(conn),
            Input::Closed { conn } => self.on_closed(conn),
            Input::Frame { conn, msg } => self.on_frame(conn, msg),
            Input::Malformed { conn } => {
                self.stats.malformed += 1;
                self.drop_conn(conn);
            }
            Input::Publish { id, body, audience } => self.publish_event(id, body, audience),
            Input::Unicast { dst, msg_id, payload } => self.start_unicast(dst, msg_id, payload),
            Input::Shed { conn, msg } => self.on_shed(conn, msg),
            Input::SetInterest(authors) => self.set_interest(authors),
            Input::LeafBackfill { leaf, bodies } => self.on_leaf_backfill(leaf, bodies),
        }
    }

    /// Run due timers. Harmless if called early.
    pub fn handle_timeout(&mut self, now: Now) {
        self.set_clock(now);
        while let Some((&(at, seq), _)) = self.timers.first_key_value() {
            if at > self.now {
                break;
            }
            let Some(timer) = self.timers.remove(&(at, seq)) else { break };
            match timer {
                Timer::Graft(id) => self.on_graft_timer(id),
                Timer::IHaveFlush => self.flush_ihaves(),
                Timer::UnicastTimeout(msg_id) => self.on_unicast_timeout(msg_id),
                Timer::UnicastRetry(msg_id) => self.retry_unicast(msg_id),
            }
        }
        if self.now >= self.next_tick {
            self.housekeeping();
            let tick = if self.role == Role::Core { TICK_CORE_MS } else { TICK_LEAF_MS };
            self.next_tick = self.now.plus_ms(tick);
        }
    }

    /// Next output, if any. Drain after every `handle_*`.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outbox.pop_front()
    }

    /// When `handle_timeout` should run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = self.timers.keys().next().map(|(t, _)| *t);
        Some(t.map_or(self.next_tick, |t| t.min(self.next_tick)))
    }

    fn schedule(&mut self, at: Instant, timer: Timer) {
        self.timer_seq += 1;
        self.timers.insert((at, self.timer_seq), timer);
    }

    fn emit(&mut self, out: Output) {
        if self.outbox.len() >= OUTBOX_CAP {
            self.stats.outbox_dropped += 1;
            return;
        }
        self.outbox.push_back(out);
    }

    /// Periodic work: dials, liveness, repairs, shuffles, expiry, record refresh.
    fn housekeeping(&mut self) {
        self.run_redials();
        self.check_liveness();
        if let Some(deadline) = self.reach_deadline {
            if self.now >= deadline {
                self.decide_role(false, None);
            }
        }
        match self.role {
            Role::Core if self.reach_deadline.is_none() => self.maintain_core(),
            Role::Leaf if self.reach_deadline.is_none() => self.maintain_leaf(),
            _ => {}
        }
        self.flush_unsent_own();
        self.flush_interest();
        self.release_held();
        self.expire_covered();
        self.seen.expire(self.now);
        self.cache.expire(self.now);
        self.bans.expire(self.now, BAN_MAX_MS);
        if self.role == Role::Core {
            let unix = self.unix_now();
            self.dir.expire(unix);
        }
        self.dir_tick();
        self.ring_tick();
        self.auto_tick();
        self.trees_tick();
        let debounced = self.record_dirty.is_some_and(|t| self.now.since(t) >= RECORD_DEBOUNCE_MS);
        if debounced || self.now.since(self.record_published) >= RECORD_REFRESH_MS {
            self.publish_record();
        }
    }

    /// Assert the module invariants (simulator and tests call this after every step).
    pub fn check_invariants(&self) {
        for (node, c) in &self.by_node {
            let conn = self.conns.get(c).expect("by_node points at a live connection");
            assert!(conn.is_up() && conn.peer == Some(*node), "by_node/conns disagree for {node}");
        }
        for n in self.active.iter().chain(&self.leaves).chain(&self.homes).chain(&self.eager).chain(&self.lazy) {
            assert!(self.by_node.contains_key(n), "{} lists {n} without a connection", self.me);
        }
        assert!(self.active.len() <= ACTIVE_VIEW);
        assert!(self.passive.len() <= PASSIVE_VIEW);
        assert!(self.homes.len() <= MAX_HOMES);
        assert!(self.eager.is_disjoint(&self.lazy));
        assert!(self.conns.len() <= MAX_CONNS + 8);
    }
}
