//! The ring directory's lookups (`FindNode` routed greedily hop by hop, `Found` back the
//! same way) and the unicasts that wait for them (see `dht.rs` for the rules). A child of
//! `dht`: it shares the private lookup state.

use super::{Back, Parked, Pending};
use crate::overlay::conn::RecordCheck;
use crate::overlay::directory::Merge;
use crate::overlay::params::*;
use crate::overlay::ring::{dist, Hop};
use crate::overlay::{Overlay, Timer};
use crate::wire::{ConnId, FindNode, Found, Msg, NodeId, PeerRef, Role, Routed, UndeliverableReason, FEATURE_RING};

impl Overlay {
    /// Start a lookup of `key` from here.
    pub(super) fn ring_lookup(&mut self, key: NodeId, back: Back) {
        let now = self.now;
        let Some(d) = self.dht.as_mut() else { return };
        // A unicast lookup of the same key already under way takes this one's place, unless it
        // has timed out and only waits for the next sweep (`ring_tick`, once a second): traced
        // in `tests/sim_ring.rs` seed 4, a unicast's next attempt (`UNICAST_TIMEOUT_MS` after
        // the last, the same as `RING_LOOKUP_TIMEOUT_MS`) found its last attempt's lost lookup
        // not yet swept, sent none, and the attempt was spent waiting for nothing.
        if back == Back::Unicast && d.pending.values().any(|p| p.key == key && p.back == Back::Unicast && p.live(now)) {
            return;
        }
        d.stats.lookups += 1;
        match back {
            Back::Finger => d.stats.lookups_finger += 1,
            Back::Store => d.stats.lookups_store += 1,
            Back::Unicast => d.stats.lookups_unicast += 1,
            Back::Hop { .. } => {}
        }
        self.route_find(FindNode { id: 0, key, hops: 0 }, back);
    }

    /// Route a lookup one hop on (or answer it here). `back` says where the answer goes.
    pub(super) fn route_find(&mut self, f: FindNode, back: Back) {
        self.route_find_again(f, back, false);
    }

    /// `route_find`; `retried` marks a lookup routed again after its link closed.
    pub(super) fn route_find_again(&mut self, f: FindNode, back: Back, retried: bool) {
        let Some(d) = self.dht.as_ref() else { return };
        // A holder that has the record answers a lookup from another node itself instead of
        // routing it on to the key's first holder: a holder asked directly after the first one
        // answered without it (`ask_next_holder`) must not send the ask back there.
        if matches!(back, Back::Hop { .. }) && d.table.stores(f.key) && self.dir.get(f.key).is_some() {
            let found = self.answer_here(f.key, f.hops);
            return self.deliver_found(back, found);
        }
        let asker = match back {
            Back::Hop { node, .. } => Some(node),
            _ => None,
        };
        let next = match d.table.next_hop(f.key) {
            _ if f.hops >= RING_LOOKUP_MAX_HOPS => None,
            // Our own id is always ours by our own table, which is no proof that the ring
            // agrees: a lookup of it starts at a ring core instead (`ring_entry`). Traced in
            // `overlay_bench` at 100k nodes: 518 of 10,000 cores were missing from their true
            // neighbours' tables for good; each had joined knowing only far-off cores, and
            // its own lookup, ended at once on its own table, stored its record there and
            // never asked the ring who its neighbours are (Chord's join asks just that).
            Hop::Local if f.key == self.me && asker.is_none() => self.ring_entry(),
            Hop::Local => None,
            Hop::Owner(n) => Some(n),
            Hop::Forward(n) => Some(self.ring_shortcut(f.key, n, asker)),
        };
        let Some(d) = self.dht.as_mut() else { return };
        let Some(next) = next.filter(|n| Some(*n) != asker) else {
            let found = self.answer_here(f.key, f.hops);
            return self.deliver_found(back, found);
        };
        if d.pending.len() >= RING_PENDING_CAP {
            d.stats.pending_full += 1;
            self.stats.ring_dropped += 1;
            return;
        }
        let id = d.next_id;
        d.next_id += 1;
        // The same key already on its way to the same hop: wait for that answer instead of
        // sending again. Traced in `tests/sim_ring.rs`: a core relaying for many origins sent
        // 139 lookups for 16 keys to one owner in one second, past its `RING_FIND_PER_S`
        // budget there; the dropped ones timed out and their unicasts failed.
        // (Not onto one that timed out and waits for its sweep: its answer is not coming.)
        let now = self.now;
        let lead = d
            .pending
            .iter()
            .find(|(_, p)| p.key == f.key && p.to == next && p.lead.is_none() && p.live(now))
            .map(|(k, _)| *k);
        d.pending.insert(id, Pending { key: f.key, back, to: next, at: self.now, hops: f.hops, retried, lead, alt: 0 });
        if matches!(back, Back::Hop { .. }) {
            d.stats.forwarded += 1;
        }
        if lead.is_some() {
            d.stats.coalesced += 1;
            return;
        }
        if !self.ring_send(next, Msg::FindNode(FindNode { id, key: f.key, hops: f.hops + 1 })) {
            if let Some(d) = self.dht.as_mut() {
                d.pending.remove(&id);
            }
        }
    }

    /// Where a lookup of our own id starts: the connected ring core nearest before us, else
    /// the table's first predecessor (dialled). From there greedy routing reaches the core
    /// whose arc holds our id by *its* table (or the core before us that knows us answers
    /// itself, naming the cores after us that it knows), never our own view. Not the core
    /// nearest after us: traced at 100k nodes, a core that joined early got its successors
    /// right, ≈ 57 cores joined between it and them later, and its read-back went to its
    /// first successor, a holder of its record, which answered at once from a table that
    /// knew none of them either.
    fn ring_entry(&self) -> Option<NodeId> {
        let me = self.me.0;
        let connected = self.ring_cores_connected(None).max_by_key(|n| dist(me, n.0));
        connected.or_else(|| self.dht.as_ref()?.table.predecessors().first().map(|p| p.node))
    }

    /// Connected ring cores other than us and `but`: authenticated, announced the ring, with
    /// a verified address; not a leaf of ours (the rule by which a peer enters the table,
    /// `ring_peer_up`). A leaf's handshake while it still checked its reachability showed
    /// role core (with no address), and a leaf drops ring frames (tried without these checks:
    /// 1k nodes acked 584 of 1,000 unicasts).
    pub(super) fn ring_cores_connected(&self, but: Option<NodeId>) -> impl Iterator<Item = NodeId> + '_ {
        let ring_core = |c: &ConnId| {
            self.conns.get(c).is_some_and(|c| {
                c.is_up() && c.features & FEATURE_RING != 0 && c.peer_role == Role::Core && c.peer_addr.is_some()
            })
        };
        self.by_node
            .iter()
            .filter(move |(n, c)| Some(**n) != but && **n != self.me && !self.leaves.contains(n) && ring_core(c))
            .map(|(n, _)| *n)
    }

    /// The hop a lookup for `key` takes when the table's best hop `best` (a `Forward`, never
    /// the owner) is not connected: a connected ring core that is strictly closer to the key
    /// (clockwise, so routing still cannot loop) and makes at least half of `best`'s progress,
    /// the one making the most; `best` itself if none does (it is then dialled). Traced in
    /// `overlay_bench` at 10k nodes: of a core's ≈ 5.5 handshakes per idle minute, 1.6 were
    /// dials for ring frames, most of them finger lookups' hops to table members whose idle
    /// links had been closed. A connected core here is authenticated and announced the ring,
    /// as every table member was when it entered. Mean unicast hops at 10k: 2.80 → 2.81.
    fn ring_shortcut(&self, key: NodeId, best: NodeId, asker: Option<NodeId>) -> NodeId {
        if self.by_node.contains_key(&best) {
            return best;
        }
        let me = self.me.0;
        let (dk, db) = (dist(me, key.0), dist(me, best.0));
        self.ring_cores_connected(asker)
            .map(|n| (dist(me, n.0), n))
            .filter(|(dn, _)| *dn < dk && *dn >= db / 2)
            .max()
            .map_or(best, |(_, n)| n)
    }

    /// The answer this node gives for `key`: its record if held, and the holders it sees.
    pub(in crate::overlay) fn answer_here(&self, key: NodeId, hops: u8) -> Found {
        let record = self.dir.get(key).map(|e| e.body.clone());
        let mut holders = Vec::new();
        if let Some(d) = self.dht.as_ref() {
            for h in d.table.holders(key) {
                let r =
                    if h == self.me { self.advertised.map(|addr| PeerRef { node: h, addr }) } else { d.peer_ref(h) };
                holders.extend(r);
            }
        }
        Found { id: 0, key, hops, record, holders }
    }

    pub(in crate::overlay) fn on_find_node(&mut self, conn: ConnId, from: NodeId, f: FindNode) {
        let now = self.now;
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if !c.ring_finds.take(now) {
            // A lookup flood from one peer: its lookups are dropped, the link is kept.
            self.stats.ring_dropped += 1;
            return;
        }
        // Checked before the lookup is answered (which may end our own lookup's wait).
        let back = f.key == self.me && self.dht.as_ref().is_some_and(|d| d.own_lookup_live(now));
        self.route_find(f.clone(), Back::Hop { node: from, id: f.id, conn });
        // Our own lookup of our id has come back to us: `from` takes us for its successor, so
        // its lists name the cores after us as it knows them; our table, which sent the lookup
        // round the ring, may not. Ask for them (and tell it ours). Traced in `overlay_bench`
        // at 100k nodes: a core whose table skipped ≈ 100 cores after it sent its join lookup
        // to its (wrong) successor; the walk came round to a core just before it, which handed
        // it back; the core answered from its own table and stayed outside the ring, and a
        // unicast's lookup through it went round the ring for good.
        if back {
            let peers = self.ring_lists_for(from, true, false);
            self.send_node(from, Msg::Neighbours { ask: true, peers });
        }
    }

    pub(in crate::overlay) fn on_found(&mut self, conn: ConnId, from: NodeId, f: Found) {
        let Some(d) = self.dht.as_mut() else { return };
        let ours = d.pending.get(&f.id).is_some_and(|p| p.to == from && p.key == f.key);
        if !ours {
            // Not an answer to anything we sent this peer: dropped, counted.
            self.stats.ring_dropped += 1;
            return;
        }
        let Some(p) = d.pending.remove(&f.id) else { return };
        if let Some(body) = &f.record {
            match crate::wire::decode_record(body.as_slice()) {
                Ok(rec) if rec.node == f.key => match self.check_record(&rec) {
                    RecordCheck::Valid { authorised } => {
                        let unix = self.unix_now();
                        if rec.expires >= unix
                            && self.dir.merge(&rec, body.clone(), authorised, unix) == Merge::Conflict
                        {
                            self.stats.id_conflicts += 1;
                        }
                    }
                    RecordCheck::Expired => self.stats.time_dropped += 1,
                    RecordCheck::Invalid => return self.ban_conn(conn),
                },
                // A record of another node, or not a record: an invalid answer.
                _ => return self.ban_conn(conn),
            }
        }
        // No record: our unicast lookup asks the next holder, and the unicasts waiting for this
        // key (and our coalesced lookups) wait for that answer instead of this one.
        let asked = p.back == Back::Unicast
            && f.record.is_none()
            && self.dir.get(f.key).is_none()
            && self.ask_next_holder(&p, &f);
        // The lookups that waited for this one take the same answer.
        let Some(d) = self.dht.as_mut() else { return };
        let followers: Vec<u64> =
            d.pending.iter().filter(|(_, q)| q.lead == Some(f.id) && q.key == f.key).map(|(k, _)| *k).collect();
        let backs: Vec<Back> = followers.iter().filter_map(|k| d.pending.remove(k)).map(|q| q.back).collect();
        for back in backs.into_iter().filter(|b| !(asked && *b == Back::Unicast)) {
            self.deliver_found(back, f.clone());
        }
        if !asked {
            self.deliver_found(p.back, f);
        }
    }

    /// Our unicast lookup `p` was answered without the record by `f`'s first holder (or by the
    /// holder asked before): ask the next holder of the answer's list directly, which answers
    /// from its own copy. Traced at 1k simulated nodes (`overlay_bench` seeds 2 and 3): a leaf's
    /// record held by its second and third holders but not its first, and every lookup ended at
    /// the first. False if there is no next holder to ask (the unicasts fail as `Unknown`).
    fn ask_next_holder(&mut self, p: &Pending, f: &Found) -> bool {
        let alt = p.alt as usize + 1;
        let me = self.me;
        let Some(h) = f.holders.iter().take(RING_REPLICAS).filter(|h| h.node != me).nth(alt).copied() else {
            return false;
        };
        let now = self.now;
        let Some(d) = self.dht.as_mut() else { return false };
        if d.pending.len() >= RING_PENDING_CAP {
            d.stats.pending_full += 1;
            return false;
        }
        let id = d.next_id;
        d.next_id += 1;
        d.stats.asked_next_holder += 1;
        let pending = Pending {
            key: f.key,
            back: Back::Unicast,
            to: h.node,
            at: now,
            hops: 0,
            retried: false,
            lead: None,
            alt: alt as u8,
        };
        d.pending.insert(id, pending);
        let sent = self.send_or_dial(h.node, h.addr, Msg::FindNode(FindNode { id, key: f.key, hops: 1 }));
        if !sent {
            if let Some(d) = self.dht.as_mut() {
                d.pending.remove(&id);
            }
        }
        sent
    }

    /// Hand an answer on: back to the hop it came from, or to our own purpose.
    pub(super) fn deliver_found(&mut self, back: Back, mut f: Found) {
        match back {
            Back::Hop { node, id, conn } => {
                f.id = id;
                // On the link the lookup came in on, not on whichever link to that node is our
                // main one: with two links between a pair, each end may count a different one
                // as main and close the other as a spare (`SPARE_IDLE_MS`). Traced in
                // `tests/sim_ring.rs` seed 4: a relay answered on its main link to the asker,
                // the asker closed that link as an idle spare while the answer was on it, and
                // the lookup (and the unicast attempt waiting for it) timed out.
                let on_arrival = self.conns.get(&conn).is_some_and(|c| c.is_up() && c.peer == Some(node));
                if on_arrival {
                    self.send(conn, Msg::Found(f));
                } else if !self.send_node(node, Msg::Found(f)) {
                    if let Some(d) = self.dht.as_mut() {
                        d.stats.found_unsent += 1;
                    }
                }
            }
            Back::Unicast => {
                let waiting: Vec<u64> = self
                    .pending_unicast
                    .iter()
                    .filter(|(_, u)| {
                        u.via.is_none()
                            && (u.dst == f.key || self.dir.get(u.dst).is_some_and(|e| e.homes.contains(&f.key)))
                    })
                    .map(|(k, _)| *k)
                    .collect();
                self.unpark(f.key);
                if f.record.is_none() && self.dir.get(f.key).is_none() {
                    if let Some(d) = self.dht.as_mut() {
                        d.stats.found_empty += 1;
                    }
                    // The holders do not know it: the unicasts fail now (no retry loop).
                    for msg_id in waiting {
                        self.unicast_failed(msg_id, crate::wire::UndeliverableReason::Unknown);
                    }
                    return;
                }
                if let Some(d) = self.dht.as_mut() {
                    if f.record.is_some() {
                        d.stats.found += 1;
                        d.stats.hops_sum += u64::from(f.hops);
                        d.stats.hops_max = d.stats.hops_max.max(f.hops);
                    }
                }
                for msg_id in waiting {
                    self.schedule(self.now, Timer::UnicastRetry(msg_id));
                }
            }
            Back::Store => {
                if f.key == self.me && f.hops > 0 {
                    if let Some(d) = self.dht.as_mut() {
                        d.joined = true;
                    }
                }
                let Some(e) = self.dir.get(f.key) else { return };
                let body = e.body.clone();
                let seq = e.seq;
                let held = f.record.as_ref().and_then(|b| crate::wire::decode_record(b.as_slice()).ok());
                // Answered here (`hops` 0: we are the key's first holder, as a core always is
                // of its own id, and a home may be of its leaf's): our own copy proves nothing
                // about the other holders, so the record goes to them. Traced in
                // `tests/sim_ring.rs` seed 7: a home that was its leaf's first holder never
                // stored the leaf's record elsewhere; a co-holder answered with the leaf's
                // stale handshake record for good (≈ 2 `Store`s per such record per read-back).
                if f.hops > 0 && held.is_some_and(|r| r.seq >= seq) {
                    // Read-back check passed: the owner core holds the current record.
                    self.ring_confirmed(f.key);
                    self.ring_consider(&f.holders);
                    return;
                }
                if let Some(d) = self.dht.as_mut() {
                    d.stats.found += u64::from(f.record.is_some() && f.hops > 0);
                }
                for h in f.holders.iter().take(RING_REPLICAS) {
                    if h.node == self.me {
                        continue;
                    }
                    let dial = !self.by_node.contains_key(&h.node);
                    if let Some(d) = self.dht.as_mut() {
                        d.stats.stores_sent += 1;
                        d.stats.dials_store += u64::from(dial);
                    }
                    self.send_or_dial(h.node, h.addr, Msg::Store(vec![body.clone()]));
                }
                self.ring_consider(&f.holders);
            }
            Back::Finger => self.ring_consider(&f.holders),
        }
    }

    /// The record a unicast to `dst` still needs here, with the ring on: `dst`'s own, or (a
    /// leaf's) the record of the home this attempt goes through when no home is connected.
    pub(in crate::overlay) fn ring_missing(&self, dst: NodeId, attempt: u8) -> Option<NodeId> {
        if !self.ring_on() || dst == self.me || self.by_node.contains_key(&dst) {
            return None;
        }
        let Some(e) = self.dir.get(dst) else { return Some(dst) };
        if e.role != Role::Leaf {
            return None;
        }
        let homes: Vec<NodeId> = e.homes.iter().copied().filter(|h| *h != self.me).collect();
        if homes.is_empty() || homes.iter().any(|h| self.by_node.contains_key(h)) {
            return None;
        }
        let h = homes[attempt as usize % homes.len()];
        self.dir.get(h).is_none().then_some(h)
    }

    /// Hold `p` until `key` is looked up; false if the ring is off here or the queue is full.
    pub(in crate::overlay) fn ring_park(&mut self, key: NodeId, p: Parked) -> bool {
        if !self.ring_on() {
            return false;
        }
        let Some(d) = self.dht.as_mut() else { return false };
        if d.parked.len() >= RING_PARKED_CAP {
            d.stats.park_full += 1;
            self.stats.ring_dropped += 1;
            return false;
        }
        // A later attempt of a unicast already waiting here replaces the earlier copy, so a
        // failed lookup reports it once (on the newest route), not once per attempt: the origin
        // counts every report as one failed attempt and gave up after its last attempt had
        // already got through (traced in `tests/sim_ring.rs`).
        if let Parked::Routed { r, .. } = &p {
            let same = |q: &Parked| matches!(q, Parked::Routed { r: o, .. } if o.src == r.src && o.msg_id == r.msg_id);
            d.parked.retain(|(_, q)| !same(q));
        }
        d.parked.push((key, p));
        self.ring_lookup(key, Back::Unicast);
        true
    }

    /// A lookup for `key` ended: the frames waiting for it go on, or fail if it was not found.
    pub(in crate::overlay) fn unpark(&mut self, key: NodeId) {
        let Some(d) = self.dht.as_mut() else { return };
        let (ready, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut d.parked).into_iter().partition(|(k, _)| *k == key);
        d.parked = rest;
        let known = self.dir.get(key).is_some();
        for (_, p) in ready {
            match p {
                Parked::Routed { r, from } if known => self.on_routed(from, r),
                Parked::Routed { r, from } => {
                    let of = Routed::signing_hash(r.src, r.dst, r.msg_id, r.payload.as_slice());
                    // The destination's record, or (at the destination) the source's key.
                    let reason =
                        if r.dst == key { UndeliverableReason::Unknown } else { UndeliverableReason::UnknownSource };
                    let msg = self.undeliverable(r.src, r.msg_id, of, reason);
                    self.send_node(from, msg);
                }
                Parked::Control { dst, msg, from } if known => self.route_control(dst, msg, from),
                Parked::Control { .. } => {}
            }
        }
    }

    /// A unicast to `dst`, which is not in our directory: look it up (the unicast is retried
    /// when the answer comes). False if the ring is off here.
    pub(in crate::overlay) fn ring_find_for_unicast(&mut self, dst: NodeId) -> bool {
        if !self.ring_on() {
            return false;
        }
        self.ring_lookup(dst, Back::Unicast);
        true
    }

    /// A unicast to `dst` failed: forget its record (and its homes'), so the next attempt looks them up again instead of reusing a stale answer.
    pub(in crate::overlay) fn ring_forget_cached(&mut self, dst: NodeId) {
        if !self.ring_on() {
            return;
        }
        let mut keys = vec![dst];
        keys.extend(self.dir.get(dst).map(|e| e.homes.clone()).unwrap_or_default());
        for k in keys {
            // A record this node holds is kept: the next lookup would be answered here, from
            // nothing, and the unicast would fail for good as `Unknown` (traced in
            // `tests/sim_ring.rs` seed 1: a core that held its destination's record lost it
            // to one timed-out attempt). A holder's copy is kept current by the first-hand
            // stores its co-holders pass on (`on_store`).
            let held = self.dht.as_ref().is_some_and(|d| d.table.stores(k));
            if k != self.me && !held && !self.by_node.contains_key(&k) {
                self.dir.remove(k);
            }
        }
    }
}
