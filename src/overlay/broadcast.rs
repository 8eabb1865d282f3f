//! Broadcast: Plumtree (Epidemic Broadcast Trees, Leitão et al., SRDS 2007) over the core active
//! views plus home→leaf links, carrying events and signed directory records; directory
//! anti-entropy on new core links.
//!
//! Validate before forward (spec §2.4): size → seen? → id + signature (`Crypto`) → per-author
//! rate → deliver + forward. An invalid payload bans its sender; nothing invalid is relayed.
//! Leaves are sinks: they forward only their own messages, and never receive directory records.
//! Invariant: `eager ∩ lazy = ∅`; both ⊆ connected peers.

use super::admission::Entry;
use super::dir_admit::Refused;
use super::directory::{record_msg_id, Merge};
use super::interest::Audience;
use super::params::*;
use super::trees::Via;
use super::{Checked, Delivery, Held, Instant, Missing, Output, Overlay, Rejected, Timer};
use crate::limits::MAX_FUTURE_SKEW;
use crate::wire::{Body, ConnId, Gossip, GossipKind, Msg, MsgId, NodeId, NodeRecord, Role, Sig, MAX_BODY_BYTES};

impl Overlay {
    /// Rebuild and sign our own record from the current role, address and homes.
    pub(super) fn sign_record(&mut self) {
        let unix_ms = self.unix_now().saturating_mul(1000) + self.now.0 % 1000;
        let seq = unix_ms.max(self.record.seq + 1);
        let mut rec = NodeRecord {
            node: self.me,
            owner: self.cfg.owner,
            node_key: self.crypto.node_key(),
            delegation: self.cfg.delegation.clone(),
            role: self.role,
            // A wildcard address (`-l 0.0.0.0:…` on the first node) is never advertised: peers
            // would dial themselves. Such a node is reached through the links others open to it.
            addr: if self.role == Role::Core { self.advertised.filter(|a| !a.is_unspecified()) } else { None },
            homes: if self.role == Role::Leaf { self.homes.to_vec() } else { Vec::new() },
            seq,
            expires: self.unix_now() + RECORD_TTL_S,
            sig: Sig([0; 64]),
        };
        rec.sig = self.crypto.sign(&rec.signing_hash());
        self.record = rec;
    }

    /// Note that our record changed; it is re-published after `RECORD_DEBOUNCE_MS`, so a leaf
    /// that gains two homes in a row (or a node that changes role) publishes once.
    pub(super) fn mark_record_dirty(&mut self) {
        if self.record_dirty.is_none() {
            self.record_dirty = Some(self.now);
        }
    }

    /// Sign a fresh record and broadcast it (core: to the core tree; leaf: to its homes).
    pub(super) fn publish_record(&mut self) {
        if self.reach_deadline.is_some() || (self.role == Role::Leaf && self.homes.is_empty()) {
            return;
        }
        if self.role == Role::Core && self.advertised.is_none() {
            return;
        }
        self.sign_record();
        self.record_dirty = None;
        self.record_published = self.now;
        let bytes = crate::wire::encode_record(&self.record);
        let body = Body::from_slice(&bytes);
        let id = record_msg_id(&self.record, &bytes);
        if self.role == Role::Core {
            let rec = self.record.clone();
            let authorised = rec.delegation.is_some();
            let unix = self.unix_now();
            self.dir.merge(&rec, body.clone(), authorised, unix);
            if self.ring_on() {
                // Ring directory: stored at the holders of our id, and (`auto` at `Both`)
                // broadcast as well.
                self.ring_publish(self.me);
                if self.records_ring_only() {
                    return;
                }
            }
        }
        let g = Gossip { id, round: 0, kind: GossipKind::Record, body };
        self.cache.insert(g.clone(), None, self.now);
        self.push(g, None, None);
    }

    /// Broadcast our own event (its audience read from the event the driver verified).
    pub(super) fn publish_event(&mut self, id: MsgId, body: Body, audience: Audience) {
        if body.len() > MAX_BODY_BYTES || !self.seen.insert(id, self.now) {
            return;
        }
        log::debug!("publishing event {id} to {} eager, {} lazy peers", self.eager.len(), self.lazy.len());
        let g = Gossip { id, round: 0, kind: GossipKind::Event, body };
        self.cache.insert(g.clone(), None, self.now);
        if self.role == Role::Core && self.ensure_trees() {
            // Follow delivery: onto the author's tree and to our leaves; not the core Plumtree
            // once on the trees only (`auto` below that level publishes on both).
            self.tree_forward(&g, &audience.author, None, Via::Gossip, None);
            if self.trees_only() {
                return self.push_leaves_only(g, None, &audience);
            }
        }
        if self.eager.is_empty() && self.lazy.is_empty() {
            // Not connected yet (still joining, or all links lost): send it once we are.
            if self.unsent_own.len() >= UNSENT_OWN_CAP {
                self.unsent_own.remove(0);
            }
            self.unsent_own.push((id, audience.clone()));
        }
        self.push(g, None, Some(&audience));
    }

    /// Push our own messages published while we had no peers (called on housekeeping).
    pub(super) fn flush_unsent_own(&mut self) {
        if self.unsent_own.is_empty() || self.eager.is_empty() {
            return;
        }
        for (id, audience) in std::mem::take(&mut self.unsent_own) {
            if let Some(g) = self.cache.get(&id).cloned() {
                self.push(g, None, Some(&audience));
            }
        }
    }

    /// Eager push to eager peers, IHAVE to lazy peers (never back to `from`; records never to
    /// leaves; an event to a leaf only if it wants it, `interest.rs`).
    pub(super) fn push(&mut self, mut g: Gossip, from: Option<NodeId>, audience: Option<&Audience>) {
        g.round = g.round.saturating_add(1);
        // Each peer is judged once: `leaf_wants` both counts a filtered leaf and skips it.
        let mut filtered = 0;
        let mut keep = |o: &Overlay, n: &NodeId| {
            if Some(*n) == from || (g.kind == GossipKind::Record && o.leaves.contains(n)) {
                return false;
            }
            if (o.leaves_only && !o.leaves.contains(n)) || (o.cores_only && o.leaves.contains(n)) {
                return false;
            }
            let is_leaf = o.role == Role::Core && o.leaves.contains(n);
            if g.kind == GossipKind::Event && is_leaf && !o.leaf_wants(*n, audience) {
                filtered += 1;
                return false;
            }
            true
        };
        let mut eager: Vec<NodeId> = self.eager.iter().copied().filter(|n| keep(self, n)).collect();
        let mut lazy: Vec<NodeId> = self.lazy.iter().copied().filter(|n| keep(self, n)).collect();
        self.stats.leaf_filtered += filtered;
        if self.role == Role::Leaf && eager.len() > 1 {
            // A leaf's own message goes in full to one home and as IHAVE to the others
            // (spec §2.4): both homes are in the core tree, so a second full copy would only
            // be a duplicate there. The other home can GRAFT it if the first one failed.
            let keep = self.rng.pick(eager.len()).unwrap_or(0);
            let chosen = eager.swap_remove(keep);
            lazy.append(&mut eager);
            eager.push(chosen);
        }
        for &n in &eager {
            let copy = self.eager_copy(&g, n, &eager, from);
            self.send_node(n, copy);
            // Piggyback: the IHAVEs waiting for this peer go right behind the payload, so the
            // transport writes both in one segment.
            self.flush_ihaves_to(n);
        }
        for n in lazy {
            if !self.hold_if_named(n, g.id, g.round, from) {
                log::debug!("IHAVE of {:?} {} (from {from:?}) queued for {n}", g.kind, g.id);
                self.queue_ihave(n, g.id, g.round);
            }
        }
    }

    /// The transport had no room for an eager push to `conn` (a burst larger than its send
    /// queue): announce it lazily instead; the peer grafts it if nobody else sends it. An
    /// `IHave` that found no room either is announced again on the next flush.
    pub(super) fn on_shed(&mut self, conn: ConnId, msg: Msg) {
        let Some(peer) = self.conns.get(&conn).and_then(|c| c.peer) else { return };
        match msg {
            Msg::Gossip(g) | Msg::GossipAlso(g, _) => {
                self.stats_mut().shed_to_ihave += 1;
                self.queue_shed(peer, g.id, g.round);
            }
            Msg::IHave(ids) => {
                self.stats_mut().ihave_requeued += ids.len() as u64;
                for (id, round) in ids {
                    self.queue_shed(peer, id, round);
                }
            }
            _ => {}
        }
    }

    pub(super) fn queue_shed(&mut self, peer: NodeId, id: MsgId, round: u16) {
        if self.shed_pending.len() >= IHAVE_PENDING_CAP {
            self.shed_pending.remove(0);
            self.stats_mut().outbox_dropped += 1;
        }
        self.shed_pending.push((peer, id, round));
        self.schedule_ihave_flush(self.now.plus_ms(IHAVE_LAZY_MS));
    }

    /// Send now the IHAVEs waiting for `peer` (frames of ≤ `IHAVE_DATAGRAM_IDS` ids).
    fn flush_ihaves_to(&mut self, peer: NodeId) {
        if !self.ihave_pending.iter().any(|(p, ..)| *p == peer) {
            return;
        }
        let mut ids = Vec::new();
        self.ihave_pending.retain(|(p, id, round, _)| {
            if *p == peer {
                ids.push((*id, *round));
            }
            *p != peer
        });
        for chunk in ids.chunks(IHAVE_DATAGRAM_IDS) {
            self.send_node(peer, Msg::IHave(chunk.to_vec()));
        }
    }

    /// `peer` has these ids (it announced or sent them): an IHAVE for them would tell it nothing.
    fn forget_ihaves(&mut self, peer: NodeId, has: impl Fn(&MsgId) -> bool) {
        if self.ihave_pending.iter().any(|(p, ..)| *p == peer) {
            self.ihave_pending.retain(|(p, id, ..)| !(*p == peer && has(id)));
        }
    }

    /// Lazy push of `id` to `peer` (quiet-link rule: `IHAVE_QUIET_MS`).
    pub(super) fn queue_ihave(&mut self, peer: NodeId, id: MsgId, round: u16) {
        if self.ihave_pending.len() >= IHAVE_PENDING_CAP {
            self.ihave_pending.remove(0);
            self.stats_mut().outbox_dropped += 1;
        }
        let due = self.now.plus_ms(IHAVE_QUIET_MS + self.rng.below(IHAVE_QUIET_JITTER_MS));
        self.ihave_pending.push((peer, id, round, due));
        if self.ihave_pending.iter().filter(|(p, ..)| *p == peer).count() >= IHAVE_DATAGRAM_IDS {
            // A full datagram's worth: waiting longer would only need a second packet.
            return self.flush_ihaves_to(peer);
        }
        self.schedule_ihave_flush(due);
    }

    /// Make sure an `IHaveFlush` timer fires at `at` or earlier.
    fn schedule_ihave_flush(&mut self, at: Instant) {
        if self.ihave_timer.is_none_or(|t| at < t) {
            self.ihave_timer = Some(at);
            self.schedule(at, Timer::IHaveFlush);
        }
    }

    /// The IHAVE timer: send the shed IHAVEs (frames of ≤ `MAX_IHAVE_BATCH` ids), and the
    /// pending IHAVEs of every peer whose oldest one is due (all of that peer's, in frames of ≤ `IHAVE_DATAGRAM_IDS` ids); then re-arm
    /// for the next due one. Harmless if called early (a superseded timer).
    pub(super) fn flush_ihaves(&mut self) {
        let now = self.now;
        if self.ihave_timer.is_some_and(|t| t <= now) {
            self.ihave_timer = None;
        }
        let mut by_peer: std::collections::BTreeMap<NodeId, Vec<(MsgId, u16)>> = Default::default();
        for (peer, id, round) in std::mem::take(&mut self.shed_pending) {
            by_peer.entry(peer).or_default().push((id, round));
        }
        let due: std::collections::BTreeSet<NodeId> =
            self.ihave_pending.iter().filter(|(.., at)| *at <= now).map(|(p, ..)| *p).collect();
        for peer in due {
            self.flush_ihaves_to(peer);
        }
        // The shed ones go to a peer whose queue was full: in as few frames as the receiver
        // takes (a datagram's worth each would need more queue room than a burst leaves).
        for (peer, ids) in by_peer {
            for chunk in ids.chunks(MAX_IHAVE_BATCH) {
                self.send_node(peer, Msg::IHave(chunk.to_vec()));
            }
        }
        if let Some(next) = self.ihave_pending.iter().map(|(.., at)| *at).min() {
            self.schedule_ihave_flush(next);
        }
    }

    /// Eager links to core peers (active view) or homes.
    fn eager_upstream(&self) -> usize {
        self.eager.iter().filter(|n| self.active.contains(n) || self.homes.contains(n)).count()
    }

    /// The eager floor: `MIN_EAGER_CORE`, but below the active view size (keeping every link
    /// eager would be flooding: in a 3-node network RMR 1 instead of 0); 1 for a leaf.
    fn eager_floor(&self) -> usize {
        match self.role {
            Role::Core => MIN_EAGER_CORE.min(self.active.len().saturating_sub(1)).max(1),
            Role::Leaf => 1,
        }
    }

    /// Keep a core node's eager core links ≥ `MIN_EAGER_CORE` (a leaf's eager homes ≥ 1).
    /// Concurrent broadcasts from many senders prune different edges of the same cycles, which
    /// leaves plain Plumtree's eager graph as a forest repaired only by GRAFTs (seconds each);
    /// this floor keeps it connected at a small RMR cost (measured in the benchmark).
    pub(super) fn keep_eager_floor(&mut self) {
        let floor = self.eager_floor();
        while self.eager_upstream() < floor {
            let lazy_up: Vec<NodeId> =
                self.lazy.iter().copied().filter(|n| self.active.contains(n) || self.homes.contains(n)).collect();
            let Some(i) = self.rng.pick(lazy_up.len()) else { return };
            let n = lazy_up[i];
            self.lazy.remove(&n);
            self.eager.insert(n);
            self.send_node(n, Msg::Graft { id: None, round: 0 });
        }
    }

    fn duplicate_from(&mut self, from: NodeId) {
        self.stats_mut().duplicates += 1;
        let upstream = self.active.contains(&from) || self.homes.contains(&from);
        let floor = self.eager_floor();
        if upstream && self.eager.contains(&from) && self.eager_upstream() <= floor {
            return;
        }
        if self.eager.remove(&from) {
            self.lazy.insert(from);
            self.send_node(from, Msg::Prune);
        }
    }

    fn have(&self, id: &MsgId) -> bool {
        self.seen.contains(id) || self.dir.has_record_id(id) || self.held.iter().any(|h| h.g.id == *id)
    }

    /// An eager copy from a peer. Its id is not on the wire: it is derived from the body first
    /// (an event's claimed id, checked against the hash by verification; a record's
    /// `record_msg_id`), and a body it cannot be derived from is invalid.
    pub(super) fn on_gossip(&mut self, conn: ConnId, from: NodeId, mut g: Gossip) {
        if g.body.len() > MAX_BODY_BYTES {
            return self.ban_conn(conn);
        }
        match g.kind {
            GossipKind::Event => {
                let Some(id) = self.crypto.event_id(g.body.as_slice()) else {
                    log::debug!("gossip from {from} is not an event");
                    return self.ban_conn(conn);
                };
                g.id = id;
                self.on_event(conn, from, g)
            }
            GossipKind::Record => {
                let Ok(rec) = crate::wire::decode_record(g.body.as_slice()) else {
                    return self.ban_conn(conn);
                };
                g.id = record_msg_id(&rec, g.body.as_slice());
                self.on_record_gossip(conn, from, g, rec)
            }
        }
    }

    fn on_event(&mut self, conn: ConnId, from: NodeId, g: Gossip) {
        if self.seen.contains(&g.id) {
            self.forget_ihaves(from, |id| *id == g.id);
            // A Plumtree copy of a post we took from a tree first: relayed on the Plumtree now,
            // or the flood stops here and our Plumtree peers (cores not switched yet) miss it.
            self.tree_late_plumtree(&g.id, from);
            return self.duplicate_from(from);
        }
        self.check_and_accept(conn, from, g, Via::Gossip, None)
    }

    /// Verify a new event and accept it; `topic` is the tree a `TopicPost` claimed.
    pub(super) fn check_and_accept(&mut self, conn: ConnId, from: NodeId, g: Gossip, via: Via, topic: Option<NodeId>) {
        if self.held.iter().any(|h| h.g.id == g.id) {
            return;
        }
        let unix = self.unix_now();
        let checked = match self.crypto.verify_event(&g.id, g.body.as_slice(), unix) {
            Ok(c) => c,
            Err(Rejected::FromTheFuture { created_at }) => {
                let entry = self.entry_of(conn, from);
                return self.hold_future(entry, from, g, created_at);
            }
            Err(e) => {
                log::debug!("invalid event {} from {from}: {e}", g.id);
                return self.ban_conn(conn);
            }
        };
        let entry = self.entry_of(conn, from);
        self.accept_event(&entry, from, checked, g, via, topic);
    }

    /// An event dated beyond our window (`MAX_FUTURE_SKEW`): another node's clock (or ours) is
    /// off, or an attacker dates events so that nodes a little behind would refuse them. Never
    /// a ban, and never marked seen (it may be fine a minute later): held, bounded, if it is at
    /// most `FUTURE_HOLD_S` further out, else dropped and counted.
    fn hold_future(&mut self, entry: Entry, from: NodeId, g: Gossip, created_at: u64) {
        let window_end = self.unix_now().saturating_add(MAX_FUTURE_SKEW.as_secs());
        if created_at > window_end.saturating_add(FUTURE_HOLD_S) {
            log::debug!("event {} from {from} dated {} s ahead: dropped", g.id, created_at - self.unix_now());
            self.stats_mut().time_dropped += 1;
            return;
        }
        if self.held.len() >= FUTURE_HOLD_CAP {
            self.held.remove(0);
            self.stats_mut().time_dropped += 1;
        }
        self.stats_mut().time_held += 1;
        self.held.push(Held { entry, from, created_at, g });
    }

    /// Re-check held events that our (possibly stepped) wall clock now lets in.
    pub(super) fn release_held(&mut self) {
        let window_end = self.unix_now().saturating_add(MAX_FUTURE_SKEW.as_secs());
        if !self.held.iter().any(|h| h.created_at <= window_end) {
            return;
        }
        let (due, keep): (Vec<Held>, Vec<Held>) =
            std::mem::take(&mut self.held).into_iter().partition(|h| h.created_at <= window_end);
        self.held = keep;
        let unix = self.unix_now();
        for h in due {
            if self.seen.contains(&h.g.id) {
                continue;
            }
            match self.crypto.verify_event(&h.g.id, h.g.body.as_slice(), unix) {
                Ok(checked) => {
                    let mut entry = h.entry;
                    entry.conn = entry.conn.filter(|c| self.conns.contains_key(c));
                    self.accept_event(&entry, h.from, checked, h.g, Via::Gossip, None);
                }
                // Held before its signature was checked: provably bad now, so its sender is
                // banned if it is still connected (counted as invalid either way).
                Err(e) => {
                    log::debug!("held event {} from {} is invalid: {e}", h.g.id, h.from);
                    match h.entry.conn.filter(|c| self.conns.contains_key(c)) {
                        Some(c) => self.ban_conn(c),
                        None => self.stats_mut().invalid += 1,
                    }
                }
            }
        }
    }

    /// A verified event: admission limits, then seen + deliver (with the checked event, which
    /// is never verified again) + forward.
    fn accept_event(
        &mut self,
        entry: &Entry,
        from: NodeId,
        checked: Checked,
        g: Gossip,
        via: Via,
        topic: Option<NodeId>,
    ) {
        let author = checked.author;
        if topic.is_some_and(|t| !self.tree_label_ok(t, &author, &g.id)) {
            // A tree copy labelled with another author's topic (or the sample's, not
            // eligible): dropped, not relayed.
            self.stats_mut().tree_dropped += 1;
            return;
        }
        let audience = Audience::of(author, checked.event.as_ref());
        if !self.admit_new_event(entry, from, author) {
            return;
        }
        if !self.authors.allow(author, self.now) {
            self.stats_mut().author_dropped += 1;
            return;
        }
        log::debug!("event {} from {from} (round {})", g.id, g.round);
        self.seen.insert(g.id, self.now);
        self.missing.remove(&g.id);
        self.cache.insert(g.clone(), Some(from), self.now);
        if self.role == Role::Core && self.ensure_trees() {
            let from_leaf = self.leaves.contains(&from);
            let deliver = self.tree_forward(&g, &author, Some(from), via, topic);
            if via == Via::Gossip && (!from_leaf || !self.trees_only()) {
                // A Plumtree copy from a core not on the trees only: passed on as before too;
                // a leaf's post while `auto` still publishes on both (`sample.rs`).
                self.push(g.clone(), Some(from), Some(&audience));
            } else if deliver || from_leaf {
                self.push_leaves_only(g.clone(), Some(from), &audience);
            }
            if via != Via::Gossip {
                self.tree_took(g.id);
            }
            if deliver {
                self.deliver_event(g.id, g.body, checked);
            }
            return;
        }
        self.deliver_event(g.id, g.body.clone(), checked);
        if self.role == Role::Core {
            self.push(g, Some(from), Some(&audience));
        }
    }

    /// Hands a verified event to the application (with the checked event: never verified
    /// again) and counts it.
    pub(super) fn deliver_event(&mut self, id: MsgId, body: Body, checked: Checked) {
        self.stats_mut().delivered += 1;
        self.emit(Output::Deliver(Delivery::Broadcast {
            id,
            author: checked.author,
            body,
            event: checked.event.map(Box::new),
        }));
    }

    fn on_record_gossip(&mut self, conn: ConnId, from: NodeId, g: Gossip, rec: NodeRecord) {
        if self.role != Role::Core {
            return;
        }
        if self.dir.has_record_id(&g.id) {
            // The same record again is a duplicate (prune that link); an older one is not: it is
            // a different message that lost a race, and pruning for it could cut the tree.
            let same = self
                .dir
                .get(NodeId(u64::from_be_bytes(id_prefix(&g.id))))
                .is_some_and(|e| record_msg_id_matches(e, &g.id));
            if same {
                self.duplicate_from(from);
            }
            return;
        }
        let authorised = match self.admit_gossiped_record(conn, &rec) {
            Ok(authorised) => authorised,
            Err(Refused::Dropped) => return,
            Err(Refused::Forged) => return self.ban_conn(conn),
        };
        let unix = self.unix_now();
        if rec.expires < unix {
            self.stats_mut().time_dropped += 1;
            return;
        }
        match self.dir.merge(&rec, g.body.clone(), authorised, unix) {
            Merge::Conflict => {
                self.stats_mut().id_conflicts += 1;
                log::warn!("record for node {} signed by another key; not relayed", rec.node);
            }
            Merge::Full => self.stats_mut().dir_full += 1,
            Merge::Stale => {}
            Merge::New | Merge::Updated => {
                self.missing.remove(&g.id);
                // Ring directory: an attached leaf's record is stored at its holders by this
                // home, and not broadcast once records go to the ring only; pinned `ring`
                // relays no broadcast record (`dir_switch.rs`).
                let own_leaf = self.leaves.contains(&from) && from == rec.node;
                if self.ring_on() && own_leaf {
                    self.ring_publish(rec.node);
                }
                if !self.relays_records() || (own_leaf && self.records_ring_only()) {
                    return;
                }
                self.cache.insert(g.clone(), Some(from), self.now);
                self.push(g, Some(from), None);
            }
        }
    }

    pub(super) fn on_ihave(&mut self, from: NodeId, ids: Vec<(MsgId, u16)>) {
        let announced: std::collections::BTreeSet<MsgId> =
            ids.iter().take(MAX_IHAVE_BATCH).map(|(id, _)| *id).collect();
        self.forget_ihaves(from, |id| announced.contains(id));
        for (id, round) in ids.into_iter().take(MAX_IHAVE_BATCH) {
            if self.have(&id) {
                self.maybe_optimize(from, &id, round);
                continue;
            }
            let room = self.missing.len() < MISSING_CAP;
            match self.missing.get_mut(&id) {
                Some(m) if m.announcers.len() < MAX_ANNOUNCERS && !m.announcers.iter().any(|(n, _)| *n == from) => {
                    m.announcers.push((from, round));
                }
                Some(_) => {}
                None if room => {
                    self.missing.insert(id, Missing { announcers: vec![(from, round)] });
                    self.schedule(self.now.plus_ms(GRAFT_TIMEOUT_1_MS), Timer::Graft(id));
                }
                None => {}
            }
        }
    }

    /// Plumtree's tree optimisation (§3.8 of the paper): if `from` announced a message we got
    /// over a path ≥ `OPTIMIZATION_THRESHOLD` hops longer, make `from` eager and prune the
    /// sender of the slow copy. Threshold 3 measured better than the paper's 7 (spec §1.5).
    fn maybe_optimize(&mut self, from: NodeId, id: &MsgId, round: u16) {
        let Some((got_round, Some(via))) = self.cache.arrival(id) else { return };
        if via == from || round.saturating_add(OPTIMIZATION_THRESHOLD) >= got_round || !self.lazy.contains(&from) {
            return;
        }
        self.lazy.remove(&from);
        self.eager.insert(from);
        self.send_node(from, Msg::Graft { id: None, round });
        if self.eager.remove(&via) {
            self.lazy.insert(via);
            self.send_node(via, Msg::Prune);
        }
    }

    pub(super) fn on_graft_timer(&mut self, id: MsgId) {
        if self.have(&id) {
            self.missing.remove(&id);
            return;
        }
        loop {
            let Some(m) = self.missing.get_mut(&id) else { return };
            if m.announcers.is_empty() {
                self.missing.remove(&id);
                return;
            }
            let (peer, round) = m.announcers.remove(0);
            if self.by_node.contains_key(&peer) {
                if self.lazy.remove(&peer) {
                    self.eager.insert(peer);
                }
                self.stats_mut().grafts += 1;
                self.send_node(peer, Msg::Graft { id: Some(id), round });
                self.schedule(self.now.plus_ms(GRAFT_TIMEOUT_2_MS), Timer::Graft(id));
                return;
            }
        }
    }

    pub(super) fn on_graft(&mut self, from: NodeId, id: Option<MsgId>, _round: u16) {
        if self.lazy.remove(&from) {
            self.eager.insert(from);
        }
        if let Some(g) = id.and_then(|id| self.cache.get(&id)).cloned() {
            if g.kind == GossipKind::Record && self.leaves.contains(&from) {
                return;
            }
            let mut g = g;
            g.round = g.round.saturating_add(1);
            self.send_node(from, Msg::Gossip(g));
        }
    }

    pub(super) fn on_prune(&mut self, from: NodeId) {
        if self.eager.remove(&from) {
            self.lazy.insert(from);
        }
    }
}

fn id_prefix(id: &MsgId) -> [u8; 8] {
    let mut b = [0u8; 8];
    b.copy_from_slice(&id.0[..8]);
    b
}

fn record_msg_id_matches(e: &super::directory::Entry, id: &MsgId) -> bool {
    e.seq.to_be_bytes() == id.0[8..16]
}
