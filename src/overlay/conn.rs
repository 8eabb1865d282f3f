//! Connections: handshake (signed record + nonce challenge), per-connection limits, liveness,
//! dial/queue/close, and frame dispatch to the protocol parts.
//!
//! A connection is `Dialing` → `Hello` (both sides sent `Hello{record, nonce}`) → `Up` once the
//! peer's `Auth` (its node key's signature over our nonce) verifies. Only `Up` connections carry
//! protocol messages; messages for a connection still opening wait in its bounded queue.
//! Duplicate connections to one node: the first stays primary (`by_node`), later ones are spares
//! that close when idle and take over if the primary dies.

use super::caches::Bucket;
use super::params::*;
use super::{Overlay, Redial, Stats};
use crate::overlay::types::Instant;
use crate::wire::{Addr, ConnId, Hello, Key32, Msg, NodeId, NodeRecord, Role};

/// Why a connection was opened (decides what happens when it comes up or fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Accepted from a peer.
    Inbound,
    /// To a bootstrap address: reachability check / join / attach.
    Bootstrap,
    /// Dial-back check for `requester` (a connection of ours) expecting node `expect`.
    Probe { requester: ConnId, expect: NodeId, addr: Addr },
    /// To a passive peer to make it an active neighbour.
    Neighbor { high: bool },
    /// To a core node that should become our home.
    Home,
    /// On-demand (unicast next hop, shuffle reply, ForwardJoin target).
    Direct,
}

#[derive(Debug)]
pub enum Phase {
    Dialing,
    /// `authorised`: the peer's record carries a valid owner delegation (checked in `on_hello`).
    Hello {
        nonce: u64,
        peer: Option<Box<Hello>>,
        authorised: bool,
    },
    Up,
}

/// Outcome of checking a signed node record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordCheck {
    /// Well-formed and signed; `authorised` if the owner's delegation is valid now.
    Valid {
        /// The owner authorised the node key.
        authorised: bool,
    },
    /// Signed correctly, but the owner's delegation expired by our clock: drop, never ban.
    Expired,
    /// Forged or malformed: provably bad, bans the sender.
    Invalid,
}

/// One connection's state.
#[derive(Debug)]
pub struct Conn {
    pub outbound: bool,
    pub remote: Option<Addr>,
    pub phase: Phase,
    pub peer: Option<NodeId>,
    pub peer_role: Role,
    pub peer_addr: Option<Addr>,
    /// The peer's node key, once its `Auth` verified.
    pub peer_key: Option<Key32>,
    pub purpose: Purpose,
    pub queue: Vec<Msg>,
    pub opened: Instant,
    pub last_rx: Instant,
    pub last_tx: Instant,
    pub msgs: Bucket,
    pub payload: Bucket,
    /// Admission budget for new events when this is not a relay link (`admission.rs`).
    pub inject: Bucket,
    pub violations: u32,
    pub pings: u32,
    pub reach_checked: bool,
    /// When a `DirDigest` from this connection was last answered.
    pub dir_answered: Option<Instant>,
    /// Records the peer may still fetch with one `DirWant`: the count of ids our last `DirIds`
    /// offered it (0 after that `DirWant`), so a want never costs more than a digest answer.
    pub dir_offered: u32,
    /// We sent this peer a `DirDigest` and take one `DirIds` in answer (unasked ones are ignored).
    pub dir_asked: bool,
    /// New node ids this link may still add beyond its prefix's gossip budget: the join
    /// catch-up of a link to a configured bootstrap peer (`dir_admit.rs`).
    pub catchup: u32,
    /// Capability bits the peer's `Hello` announced (`Hello::features`; 0 for older builds).
    pub features: u8,
    /// Ring lookups this peer may still hand us (`RING_FIND_PER_S`).
    pub ring_finds: Bucket,
}

impl Conn {
    fn new(outbound: bool, remote: Option<Addr>, purpose: Purpose, now: Instant) -> Conn {
        Conn {
            outbound,
            remote,
            phase: Phase::Dialing,
            peer: None,
            peer_role: Role::Leaf,
            peer_addr: None,
            peer_key: None,
            purpose,
            queue: Vec::new(),
            opened: now,
            last_rx: now,
            last_tx: now,
            msgs: Bucket::new(CONN_MSGS_PER_S, CONN_MSGS_BURST, now),
            payload: Bucket::new(CONN_PAYLOAD_PER_S, CONN_PAYLOAD_BURST, now),
            inject: Bucket::new(INJECT_PER_S, INJECT_BURST, now),
            violations: 0,
            pings: 0,
            reach_checked: false,
            dir_answered: None,
            dir_offered: 0,
            dir_asked: false,
            features: 0,
            ring_finds: Bucket::new(RING_FIND_PER_S, RING_FIND_BURST, now),
            catchup: if outbound && purpose == Purpose::Bootstrap { DIR_CATCHUP_NEW_IDS } else { 0 },
        }
    }
    /// True once authenticated.
    pub fn is_up(&self) -> bool {
        matches!(self.phase, Phase::Up)
    }
}

impl Overlay {
    /// Dial `addr` for `purpose`; returns the new connection id (None if at `MAX_CONNS`; a
    /// reachability probe may use `PROBE_RESERVE_CONNS` more).
    pub(super) fn dial(&mut self, addr: Addr, purpose: Purpose) -> Option<ConnId> {
        let cap = if matches!(purpose, Purpose::Probe { .. }) { MAX_CONNS + PROBE_RESERVE_CONNS } else { MAX_CONNS };
        if self.conns.len() >= cap {
            return None;
        }
        self.next_conn += 1;
        let m = &mut self.stats.memb;
        match purpose {
            Purpose::Neighbor { .. } => m.dials_neighbor += 1,
            Purpose::Direct => m.dials_direct += 1,
            _ => m.dials_other += 1,
        }
        let id = ConnId(ConnId::OUTBOUND_BIT | self.next_conn);
        self.conns.insert(id, Conn::new(true, Some(addr), purpose, self.now));
        self.emit(super::Output::Dial { conn: id, addr });
        Some(id)
    }

    /// Send to an `Up` connection, or queue while it is opening.
    pub(super) fn send(&mut self, conn: ConnId, msg: Msg) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if c.is_up() {
            c.last_tx = self.now;
            self.emit(super::Output::Send { conn, msg });
        } else if c.queue.len() < CONN_QUEUE_CAP {
            c.queue.push(msg);
        } else {
            self.stats.queue_dropped += 1;
        }
    }

    /// Send to a node we are connected to; false if we are not.
    pub(super) fn send_node(&mut self, node: NodeId, msg: Msg) -> bool {
        match self.by_node.get(&node).copied() {
            Some(c) => {
                self.send(c, msg);
                true
            }
            None => false,
        }
    }

    /// Send to a node, dialling `addr` on demand if there is no connection yet.
    pub(super) fn send_or_dial(&mut self, node: NodeId, addr: Addr, msg: Msg) -> bool {
        if self.send_node(node, msg.clone()) {
            return true;
        }
        // A connection to that address still opening?
        let opening =
            self.conns.iter().find(|(_, c)| !c.is_up() && c.outbound && c.remote == Some(addr)).map(|(k, _)| *k);
        let conn = match opening {
            Some(c) => Some(c),
            None => {
                self.trim_ondemand();
                self.dial(addr, Purpose::Direct)
            }
        };
        match conn {
            Some(c) => {
                self.send(c, msg);
                true
            }
            None => false,
        }
    }

    /// Close our side of a connection and forget it.
    pub(super) fn drop_conn(&mut self, conn: ConnId) {
        if self.conns.contains_key(&conn) {
            self.emit(super::Output::Close { conn });
            self.on_closed(conn);
        }
    }

    pub(super) fn on_accepted(&mut self, conn: ConnId, remote: Addr) {
        if self.role == Role::Leaf && self.reach_deadline.is_none() || self.conns.len() >= MAX_CONNS {
            // Leaves never accept (they relay nothing); a full table refuses.
            self.emit(super::Output::Close { conn });
            return;
        }
        self.conns.insert(conn, Conn::new(false, Some(remote), Purpose::Inbound, self.now));
        self.stats.memb.accepted += 1;
        self.start_hello(conn);
    }

    pub(super) fn on_connected(&mut self, conn: ConnId) {
        if self.conns.contains_key(&conn) {
            self.start_hello(conn);
        } else {
            // A dial we gave up on (handshake timeout, table full) completed late: close it.
            self.emit(super::Output::Close { conn });
        }
    }

    fn start_hello(&mut self, conn: ConnId) {
        let ring = if self.ring_runs() { crate::wire::FEATURE_RING } else { 0 };
        let features = crate::wire::FEATURE_INTEREST
            | crate::wire::FEATURE_DATAGRAM
            | crate::wire::FEATURE_TREES
            | crate::wire::FEATURE_DIGESTS
            | crate::wire::FEATURE_DIR_IDS
            | crate::wire::FEATURE_ALSO
            | crate::wire::FEATURE_LINK_SENT
            | ring;
        let nonce = Hello::tag_nonce(self.rng.next_u64(), features);
        let record = self.record.clone();
        let Some(c) = self.conns.get_mut(&conn) else { return };
        c.phase = Phase::Hello { nonce, peer: None, authorised: false };
        c.last_rx = self.now;
        self.emit(super::Output::Send { conn, msg: Msg::Hello(Box::new(Hello { record, nonce })) });
    }

    /// Checks a peer's record: id matches owner, signed by its node key, delegation valid if any.
    /// An expired delegation is told apart from a bad one (checked again at time 0, only when
    /// it failed): expiry depends on the clocks and never bans, forgery does.
    pub(super) fn check_record(&mut self, rec: &NodeRecord) -> RecordCheck {
        if rec.node != NodeId::of_pubkey(&rec.owner.0) || rec.homes.len() > MAX_HOMES {
            return RecordCheck::Invalid;
        }
        if !self.crypto.verify(&rec.node_key, &rec.signing_hash(), &rec.sig) {
            return RecordCheck::Invalid;
        }
        let unix = self.unix_now();
        let Some(d) = &rec.delegation else { return RecordCheck::Valid { authorised: false } };
        if self.crypto.check_delegation(&rec.owner, &rec.node_key, d.as_slice(), unix) {
            RecordCheck::Valid { authorised: true }
        } else if self.crypto.check_delegation(&rec.owner, &rec.node_key, d.as_slice(), 0) {
            RecordCheck::Expired
        } else {
            RecordCheck::Invalid
        }
    }

    fn on_hello(&mut self, conn: ConnId, hello: Box<Hello>) {
        let Some(c) = self.conns.get(&conn) else { return };
        if !matches!(c.phase, Phase::Hello { peer: None, .. }) {
            return self.fail_handshake(conn);
        }
        let probe_expect = match c.purpose {
            Purpose::Probe { expect, .. } => Some(expect),
            _ => None,
        };
        let rec = &hello.record;
        if rec.node == self.me {
            return self.fail_handshake(conn);
        }
        if self.bans.is_banned(rec.node, self.now) {
            self.stats.banned_rejects += 1;
            return self.drop_conn(conn);
        }
        let authorised = match self.check_record(rec) {
            RecordCheck::Valid { authorised } => authorised,
            RecordCheck::Expired => {
                // The owner's authorisation ran out (or our clock is ahead): refused, no ban.
                self.stats.time_dropped += 1;
                return self.fail_handshake(conn);
            }
            RecordCheck::Invalid => return self.fail_handshake(conn),
        };
        if probe_expect.is_some_and(|e| e != rec.node) {
            return self.fail_handshake(conn);
        }
        // The record is merged only once the peer proved it holds the node key (`on_auth`).
        let sig = self.crypto.sign(&Hello::auth_hash(hello.nonce, self.me));
        if let Some(c) = self.conns.get_mut(&conn) {
            c.peer_role = rec.role;
            c.peer_addr = rec.addr;
            c.features = Hello::features(hello.nonce);
            if let Phase::Hello { peer, authorised: a, .. } = &mut c.phase {
                *peer = Some(hello);
                *a = authorised;
            }
        }
        self.emit(super::Output::Send { conn, msg: Msg::Auth(sig) });
    }

    fn on_auth(&mut self, conn: ConnId, sig: crate::wire::Sig) {
        let Some(c) = self.conns.get(&conn) else { return };
        let Phase::Hello { nonce, peer: Some(hello), authorised } = &c.phase else { return self.fail_handshake(conn) };
        let node = hello.record.node;
        let key = hello.record.node_key;
        let hash = Hello::auth_hash(*nonce, node);
        if !self.crypto.verify(&key, &hash, &sig) {
            return self.fail_handshake(conn);
        }
        if self.role == Role::Core && self.reach_deadline.is_none() {
            let (rec, authorised, remote) = (hello.record.clone(), *authorised, c.remote);
            if !self.merge_hello_record(&rec, authorised, remote) {
                return self.fail_handshake(conn);
            }
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.peer_key = Some(key);
        }
        self.on_up(conn, node);
    }

    /// Merge an authenticated peer's record; false if the peer must be refused: another key
    /// holds its node id, or its network (IP prefix) has added too many new ids lately.
    fn merge_hello_record(&mut self, rec: &NodeRecord, authorised: bool, remote: Option<Addr>) -> bool {
        let unix = self.unix_now();
        let is_new = self.dir.get(rec.node).is_none();
        if is_new {
            let prefix = remote.map_or(0, |a| a.prefix());
            let now = self.now;
            if !self.prefix_budget.allow(
                prefix,
                now,
                NEW_IDS_PER_PREFIX_BURST,
                NEW_ID_PREFIX_INTERVAL_MS,
                PREFIX_TABLE_CAP,
            ) {
                self.stats.prefix_limited += 1;
                return false;
            }
        }
        let body = crate::wire::Body::from_slice(&crate::wire::encode_record(rec));
        match self.dir.merge(rec, body, authorised, unix) {
            super::directory::Merge::Conflict => {
                // Another key holds this node id: refuse the impostor (or the second server).
                self.stats.id_conflicts += 1;
                log::warn!("node id {} claimed by a different node key; refused", rec.node);
                false
            }
            super::directory::Merge::Full => {
                self.stats.dir_full += 1;
                true
            }
            _ => true,
        }
    }

    fn fail_handshake(&mut self, conn: ConnId) {
        self.stats.handshake_failed += 1;
        self.drop_conn(conn);
    }

    fn on_up(&mut self, conn: ConnId, node: NodeId) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        c.phase = Phase::Up;
        c.peer = Some(node);
        c.last_rx = self.now;
        let mut queued = std::mem::take(&mut c.queue);
        let (purpose, features) = (c.purpose, c.features);
        // A second connection to a node we already reach (a dial race, or a dial-back probe) is
        // kept as a spare: `by_node` keeps pointing at the first, the spare closes when idle, and
        // takes over if the first dies. No tie-break messages, and both sides stay consistent.
        log::debug!("{conn:?} up: node {node} ({:?})", purpose);
        self.by_node.entry(node).or_insert(conn);
        self.tree_filter_queue(node, features, &mut queued);
        if features & crate::wire::FEATURE_TREES != 0 {
            self.tree_peer_up(node);
        }
        for m in queued {
            self.send(conn, m);
        }
        self.ring_peer_up(node);
        self.on_purpose_up(conn, node, purpose);
    }

    fn on_purpose_up(&mut self, conn: ConnId, node: NodeId, purpose: Purpose) {
        match purpose {
            Purpose::Probe { requester, expect, addr } => {
                if !self.send_node(expect, Msg::ReachResult { ok: true, addr }) {
                    self.send(requester, Msg::ReachResult { ok: true, addr });
                }
                if self.by_node.get(&node) != Some(&conn) {
                    self.drop_conn(conn);
                }
            }
            Purpose::Bootstrap => self.on_bootstrap_up(conn, node),
            Purpose::Neighbor { high } => {
                self.send(conn, Msg::Neighbor { high });
            }
            Purpose::Home => self.send(conn, Msg::Attach),
            Purpose::Inbound | Purpose::Direct => {}
        }
    }

    /// True if `node` is in a view, a home, a leaf, or has a pending neighbor request.
    pub(super) fn is_in_use(&self, node: NodeId) -> bool {
        self.active.contains(&node)
            || self.leaves.contains(&node)
            || self.homes.contains(&node)
            || self.pending_homes.contains(&node)
            || self.pending_neighbor.contains_key(&node)
            || self.is_tree_neighbour(node)
            || self.ring_in_use(node)
    }

    pub(super) fn on_closed(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else { return };
        if let Purpose::Probe { requester, addr, .. } = c.purpose {
            if !c.is_up() {
                self.send(requester, Msg::ReachResult { ok: false, addr });
            }
        }
        if !c.is_up() {
            if matches!(c.purpose, Purpose::Bootstrap | Purpose::Home | Purpose::Neighbor { .. }) {
                self.on_dial_failed(c.remote, c.purpose);
            }
            if c.outbound {
                self.ring_dial_failed(c.remote);
                self.tree_dial_failed(c.remote);
            }
            return;
        }
        let Some(node) = c.peer else { return };
        if self.by_node.get(&node) != Some(&conn) {
            return;
        }
        // A spare connection to the same node takes over; otherwise the node is gone.
        let spare = self.conns.iter().find(|(_, s)| s.is_up() && s.peer == Some(node)).map(|(k, _)| *k);
        match spare {
            Some(s) => {
                self.by_node.insert(node, s);
                // Lookups we sent on the closed link are lost with it even though the node is
                // still connected (traced in `tests/sim_ring.rs` with `auto` delivery: a peer
                // trimmed its link while dialling us again for a unicast; our lookup, sent the
                // same moment, waited out its timeout on the dead link and the unicast parked
                // on it failed). Route them again over the link that took over.
                self.ring_link_lost(node);
            }
            None => {
                self.by_node.remove(&node);
                self.release_covered(node);
                self.on_node_down(node, c.purpose, c.remote);
                self.ring_link_lost(node);
            }
        }
    }

    fn on_dial_failed(&mut self, remote: Option<Addr>, purpose: Purpose) {
        match purpose {
            Purpose::Bootstrap => {
                if let Some(addr) = remote {
                    self.schedule_redial(addr, Purpose::Bootstrap);
                }
            }
            Purpose::Home => {
                if let Some(addr) = remote {
                    self.candidates.retain(|p| p.addr != addr);
                    self.pending_homes.retain(|n| self.by_node.contains_key(n));
                }
            }
            Purpose::Neighbor { .. } => {
                if let Some(addr) = remote {
                    self.shuffle_unsettled();
                    self.passive.retain(|p| p.addr != addr);
                    let failed: Vec<_> =
                        self.pending_neighbor.keys().copied().filter(|n| !self.by_node.contains_key(n)).collect();
                    for n in failed {
                        self.pending_neighbor.remove(&n);
                    }
                }
            }
            _ => {}
        }
    }

    pub(super) fn schedule_redial(&mut self, addr: Addr, purpose: Purpose) {
        if let Some(r) = self.redials.iter_mut().find(|r| r.addr == addr) {
            r.attempt += 1;
            let at = self.now.plus_ms(backoff(r.attempt, &mut self.rng));
            r.at = at;
            return;
        }
        let at = self.now.plus_ms(backoff(0, &mut self.rng));
        self.redials.push(Redial { addr, purpose, attempt: 0, at });
    }

    pub(super) fn run_redials(&mut self) {
        let now = self.now;
        let due: Vec<Redial> = self.redials.iter().filter(|r| r.at <= now).cloned().collect();
        for r in due {
            // Keep the entry (with its attempt count) until the connection comes up.
            if let Some(e) = self.redials.iter_mut().find(|e| e.addr == r.addr) {
                e.at = now.plus_ms(BACKOFF_MAX_MS);
            }
            if self.conns.values().any(|c| c.remote == Some(r.addr) && c.outbound) {
                continue;
            }
            self.dial(r.addr, r.purpose);
        }
    }

    /// Count a frame against the connection's buckets; false ⇒ drop it.
    fn admit(&mut self, conn: ConnId, msg: &Msg) -> bool {
        let now = self.now;
        let Some(c) = self.conns.get_mut(&conn) else { return false };
        c.last_rx = now;
        if !c.msgs.take(now) {
            c.violations += 1;
            self.stats.rate_dropped += 1;
            if c.violations > RATE_VIOLATIONS_MAX {
                // Throttled first, closed only when it keeps flooding; banned only if it is not
                // one of our relay links (an honest relay is never banned for volume).
                let peer = c.peer;
                let relay = self.conns.get(&conn).zip(peer).is_some_and(|(c, n)| self.is_relay_link(c, n));
                match peer {
                    Some(node) if !relay => self.bans.ban(node, now, BAN_FLOOD_MS, BAN_MAX_MS, BANS_CAP),
                    _ => {}
                }
                self.drop_conn(conn);
            }
            return false;
        }
        if msg.is_payload() && !c.payload.take(now) {
            // Payload over the flood guard: throttled (dropped, counted), never a violation.
            self.stats.rate_dropped += 1;
            return false;
        }
        true
    }

    /// Ban the node behind `conn` for sending an invalid payload, and disconnect it.
    pub(super) fn ban_conn(&mut self, conn: ConnId) {
        self.stats.invalid += 1;
        if let Some(node) = self.conns.get(&conn).and_then(|c| c.peer) {
            log::info!("banning {node}: invalid payload");
            self.bans.ban(node, self.now, BAN_INVALID_MS, BAN_MAX_MS, BANS_CAP);
        }
        self.drop_conn(conn);
    }

    pub(super) fn on_frame(&mut self, conn: ConnId, msg: Msg) {
        let Some(c) = self.conns.get(&conn) else {
            // A connection we no longer track (closed by us, frames still in flight): make sure
            // the transport drops it too.
            return self.emit(super::Output::Close { conn });
        };
        if !c.is_up() {
            if let Some(cm) = self.conns.get_mut(&conn) {
                cm.last_rx = self.now;
            }
            return match msg {
                Msg::Hello(h) => self.on_hello(conn, h),
                Msg::Auth(sig) => self.on_auth(conn, sig),
                _ => self.fail_handshake(conn),
            };
        }
        let Some(from) = c.peer else { return };
        if !self.admit(conn, &msg) {
            return;
        }
        match msg {
            Msg::Hello(_) | Msg::Auth(_) => self.fail_handshake(conn),
            // The transport's (`net::datagram`); one that reaches the overlay is ignored.
            Msg::Link { .. } | Msg::LinkResend(_) | Msg::LinkSent(_) => {}
            Msg::Ping(n) => self.send(conn, Msg::Pong(n)),
            Msg::Pong(_) => {}
            Msg::ReachCheck(addr) => self.on_reach_check(conn, from, addr),
            Msg::ReachResult { ok, addr } => self.on_reach_result(conn, ok, addr),
            Msg::Join => self.on_join(conn, from),
            Msg::FwdJoin { peer, ttl } => self.on_forward_join(from, peer, ttl),
            Msg::Neighbor { high } => self.on_neighbor(conn, from, high),
            Msg::NeighborReply { ok } => self.on_neighbor_reply(from, ok),
            Msg::Disconnect { alive } => self.on_disconnect(from, alive),
            Msg::Shuffle { origin, peers, ttl } => self.on_shuffle(from, origin, peers, ttl),
            Msg::ShuffleReply(peers) => self.add_passive_many(&peers),
            Msg::Attach => self.on_attach(conn, from),
            Msg::AttachAck { ok, alternatives } => self.on_attach_ack(from, ok, alternatives),
            Msg::Gossip(g) => self.on_gossip(conn, from, g),
            Msg::GossipAlso(g, named) => self.on_gossip_also(conn, from, g, named),
            Msg::IHave(ids) => self.on_ihave(from, ids),
            Msg::Graft { id, round } => self.on_graft(from, id, round),
            Msg::Prune => self.on_prune(from),
            Msg::DirDigest(d) => self.on_dir_digest(conn, from, d),
            Msg::DirRecords(r) => self.on_dir_records(conn, r),
            Msg::DirIds(ids) => self.on_dir_ids(conn, ids),
            Msg::DirWant(ids) => self.on_dir_want(conn, from, ids),
            Msg::Routed(r) => self.on_routed(from, r),
            Msg::RoutedAck { src, dst, msg_id, hops, of, sig } => {
                self.on_routed_ack(from, super::unicast::RoutedAck { src, dst, msg_id, hops, of, sig })
            }
            Msg::Undeliverable { src, dst, msg_id, reason, of, sig } => {
                self.on_undeliverable(from, super::unicast::Undeliverable { src, dst, msg_id, reason, of, sig })
            }
            Msg::Interest(i) => self.on_interest(conn, from, i),
            Msg::FindNode(_)
            | Msg::Found(_)
            | Msg::Store(_)
            | Msg::Neighbours { .. }
            | Msg::RingSync { .. }
            | Msg::RingHave { .. } => self.on_ring_frame(conn, from, msg),
            Msg::Subscribe(_)
            | Msg::Unsubscribe(_)
            | Msg::TopicAck { .. }
            | Msg::TopicRedirect { .. }
            | Msg::TopicRefused(_)
            | Msg::TopicPost { .. }
            | Msg::TopicFetch { .. }
            | Msg::TopicDigest { .. }
            | Msg::TopicResync(_) => self.on_tree_frame(conn, from, msg),
        }
    }

    /// Pings on idle outbound links; closes dead links, stuck handshakes and idle on-demand links.
    pub(super) fn check_liveness(&mut self) {
        let now = self.now;
        let idle_ping = if self.role == Role::Core { PING_IDLE_CORE_MS } else { PING_IDLE_LEAF_MS };
        let mut to_close = Vec::new();
        let mut to_ping = Vec::new();
        for (id, c) in &self.conns {
            if !c.is_up() {
                if now.since(c.opened) > HANDSHAKE_TIMEOUT_MS {
                    to_close.push(*id);
                }
                continue;
            }
            let silent = now.since(c.last_rx);
            if silent > DEAD_MS {
                to_close.push(*id);
            } else if c.outbound && silent >= idle_ping && now.since(c.last_tx) >= idle_ping {
                to_ping.push(*id);
            } else if let Some(node) = c.peer {
                let idle = silent.min(now.since(c.last_tx));
                let spare = self.by_node.get(&node) != Some(id);
                if (spare && idle > SPARE_IDLE_MS) || (!self.is_in_use(node) && idle > ONDEMAND_IDLE_MS) {
                    to_close.push(*id);
                }
            }
        }
        for id in to_ping {
            let n = self.conns.get_mut(&id).map_or(0, |c| {
                c.pings += 1;
                c.pings
            });
            self.send(id, Msg::Ping(n));
        }
        for id in to_close {
            match self.conns.get(&id) {
                Some(c) if c.is_up() && now.since(c.last_rx) > DEAD_MS => self.stats.dead_links += 1,
                Some(c) if c.is_up() => self.stats.memb.ondemand_closed += 1,
                _ => {}
            }
            self.drop_conn(id);
        }
    }

    /// Keep at most `ONDEMAND_CAP` on-demand connections: close the least recently used.
    pub(super) fn trim_ondemand(&mut self) {
        let mut spare: Vec<(Instant, ConnId)> = self
            .conns
            .iter()
            .filter(|(_, c)| c.is_up() && c.peer.is_some_and(|n| !self.is_in_use(n)))
            .map(|(k, c)| (c.last_tx.max(c.last_rx), *k))
            .collect();
        if spare.len() < ONDEMAND_CAP {
            return;
        }
        spare.sort();
        let excess = spare.len() + 1 - ONDEMAND_CAP;
        for (_, id) in spare.into_iter().take(excess) {
            self.stats.memb.ondemand_closed += 1;
            self.drop_conn(id);
        }
    }

    /// Stats, mutable for the protocol parts.
    pub(super) fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }
}

/// Reconnect backoff: base × 1.5^attempt, ±50 % jitter, capped (mesh's schedule).
fn backoff(attempt: u32, rng: &mut super::SplitMix64) -> u64 {
    let mut ms = BACKOFF_BASE_MS as f64;
    for _ in 0..attempt.min(30) {
        ms *= 1.5;
    }
    let ms = (ms as u64).min(BACKOFF_MAX_MS);
    rng.range(ms / 2, ms + ms / 2)
}
