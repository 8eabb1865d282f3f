//! Membership: the reachability (dial-back) check that picks a node's role, HyParView for core
//! nodes (HyParView, Leitão et al., DSN 2007; iroh-gossip's deviations, spec §1.2), and leaf
//! attachment to core "homes" (spec §2.3).
//!
//! Invariants: `active` ⊆ connected core nodes, ≤ `ACTIVE_VIEW`; `passive` holds no active node
//! and not ourselves, ≤ `PASSIVE_VIEW`; a leaf has ≤ `MAX_HOMES` homes and tries to keep `HOMES`;
//! a lost home is replaced immediately from the candidates (or the bootstrap list).

use super::conn::Purpose;
use super::params::*;
use super::Overlay;
use crate::wire::{Addr, ConnId, Msg, NodeId, PeerRef, Role};

impl Overlay {
    /// Our own reference (core nodes with a known address).
    fn me_ref(&self) -> Option<PeerRef> {
        self.advertised.map(|addr| PeerRef { node: self.me, addr })
    }

    /// The address of a connected (or known) core node.
    pub(super) fn peer_ref(&self, node: NodeId) -> Option<PeerRef> {
        let signed = || self.dir.get(node).and_then(|e| e.addr).filter(|a| !a.is_unspecified());
        let addr = self.link_addr(node).or_else(signed)?;
        Some(PeerRef { node, addr })
    }

    /// Where `node` can be reached, by our links to it: the address it advertised on any of
    /// them, else where we dialled it when it is a core (a contact whose `Hello` predates its
    /// own reachability result advertises no address yet).
    pub(super) fn link_addr(&self, node: NodeId) -> Option<Addr> {
        let links = || self.conns.values().filter(|c| c.is_up() && c.peer == Some(node));
        let usable = |a: &Addr| !a.is_unspecified();
        links()
            .find_map(|c| c.peer_addr.filter(usable))
            .or_else(|| links().find(|c| c.outbound && c.peer_role == Role::Core).and_then(|c| c.remote).filter(usable))
    }

    pub(super) fn on_bootstrap_up(&mut self, conn: ConnId, node: NodeId) {
        let remote = self.conns.get(&conn).and_then(|c| c.remote);
        self.redials.retain(|r| Some(r.addr) != remote);
        if self.reach_deadline.is_some() {
            if let Some(listen) = self.cfg.listen {
                self.send(conn, Msg::ReachCheck(listen));
                // The check fails only if sent and unanswered: a dead bootstrap does not make a
                // reachable node a leaf.
                let deadline = self.now.plus_ms(REACH_TIMEOUT_MS);
                self.reach_deadline = self.reach_deadline.map(|d| d.min(deadline));
            }
            return;
        }
        match self.role {
            Role::Core => {
                // Our Hello may predate the reachability result: send the current signed record
                // first, so the contact (and its ForwardJoin walk) knows our address.
                let bytes = crate::wire::encode_record(&self.record);
                self.send(conn, Msg::DirRecords(vec![crate::wire::Body::from_slice(&bytes)]));
                // The contact answers with NeighborReply; we add it to the active view only
                // then, so a contact that is not ready (still checking its own reachability)
                // cannot leave us with a one-sided link.
                self.pending_neighbor.insert(node, self.now.plus_ms(NEIGHBOR_TIMEOUT_MS));
                self.send(conn, Msg::Join);
            }
            Role::Leaf => {
                if !self.homes.contains(&node) && !self.pending_homes.contains(&node) {
                    self.pending_homes.push(node);
                    self.send(conn, Msg::Attach);
                }
            }
        }
    }

    pub(super) fn on_reach_check(&mut self, conn: ConnId, from: NodeId, claimed: Addr) {
        let observed = self.conns.get(&conn).and_then(|c| c.remote);
        let already = self.conns.get(&conn).is_some_and(|c| c.reach_checked);
        // Any node can dial back (even a NATed one dials out fine); once per connection.
        if already {
            return self.send(conn, Msg::ReachResult { ok: false, addr: claimed });
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.reach_checked = true;
        }
        // Dial back only the IP the peer is seen from (with the port it claims): a peer cannot
        // make us dial a third party. One exception: a peer seen on loopback is a process on
        // this host, whose kernel picks 127.0.0.1 as source for any 127/8 destination; it may
        // name another loopback address (never a non-loopback one).
        let Some(o) = observed else {
            return self.send(conn, Msg::ReachResult { ok: false, addr: claimed });
        };
        let addr =
            if o.is_loopback() && claimed.is_loopback() { claimed } else { Addr { ip: o.ip, port: claimed.port } };
        if self.dial(addr, Purpose::Probe { requester: conn, expect: from, addr }).is_none() {
            self.send(conn, Msg::ReachResult { ok: false, addr });
        }
    }

    pub(super) fn on_reach_result(&mut self, _conn: ConnId, ok: bool, addr: Addr) {
        if self.reach_deadline.is_some() {
            self.decide_role(ok, Some(addr));
        }
    }

    /// End the reachability check: core if dialled back, leaf otherwise.
    pub(super) fn decide_role(&mut self, reachable: bool, addr: Option<Addr>) {
        self.reach_deadline = None;
        self.role = if reachable { Role::Core } else { Role::Leaf };
        self.advertised = if reachable { addr.or(self.cfg.listen) } else { None };
        self.mark_record_dirty();
        self.sign_record();
        log::info!("role decided: {:?} (advertised {:?})", self.role, self.advertised);
        let boots = self.bootstrap_links();
        for (conn, node) in boots {
            self.on_bootstrap_up(conn, node);
        }
    }

    // ---------------- HyParView (core) ----------------

    pub(super) fn on_join(&mut self, conn: ConnId, from: NodeId) {
        let joiner = self.peer_ref(from);
        let (true, Some(joiner)) = (self.role == Role::Core && self.reach_deadline.is_none(), joiner) else {
            return self.send(conn, Msg::NeighborReply { ok: false });
        };
        self.add_active(from);
        self.send(conn, Msg::NeighborReply { ok: true });
        let others: Vec<NodeId> = self.active.iter().copied().filter(|n| *n != from).collect();
        for n in others {
            self.send_node(n, Msg::FwdJoin { peer: joiner, ttl: ARWL });
        }
    }

    pub(super) fn on_forward_join(&mut self, from: NodeId, peer: PeerRef, ttl: u8) {
        if self.role != Role::Core || peer.node == self.me || self.active.contains(&peer.node) {
            return;
        }
        if !self.active.contains(&from) {
            // Not a join walk (those travel between active neighbours): a core that refused our
            // low-priority request introduces another core it refused (`introduce_short`). Asked
            // at low priority: if that core filled its view meanwhile it refuses, and nobody is
            // evicted for it.
            if self.active.len() < ACTIVE_VIEW {
                self.stats.memb.introduced += 1;
                self.request_neighbor(peer, false);
            }
            return;
        }
        if ttl == 0 || self.active.len() <= 1 {
            return self.request_neighbor(peer, true);
        }
        if ttl == PRWL {
            self.add_passive(peer);
        }
        let choices: Vec<NodeId> = self.active.iter().copied().filter(|n| *n != from && *n != peer.node).collect();
        match self.rng.pick(choices.len()) {
            Some(i) => {
                self.send_node(choices[i], Msg::FwdJoin { peer, ttl: ttl - 1 });
            }
            None => self.request_neighbor(peer, true),
        }
    }

    /// Ask `peer` to become an active neighbour (dialling it if needed).
    pub(super) fn request_neighbor(&mut self, peer: PeerRef, high: bool) {
        if peer.node == self.me || self.active.contains(&peer.node) || self.pending_neighbor.contains_key(&peer.node) {
            return;
        }
        self.pending_neighbor.insert(peer.node, self.now.plus_ms(NEIGHBOR_TIMEOUT_MS));
        if high {
            self.stats.memb.neighbor_high += 1;
        } else {
            self.stats.memb.neighbor_low += 1;
        }
        if !self.send_node(peer.node, Msg::Neighbor { high })
            && self.dial(peer.addr, Purpose::Neighbor { high }).is_none()
        {
            self.pending_neighbor.remove(&peer.node);
        }
    }

    pub(super) fn on_neighbor(&mut self, conn: ConnId, from: NodeId, high: bool) {
        let core = self.role == Role::Core && self.reach_deadline.is_none();
        let ok = core && (high || self.active.len() < ACTIVE_VIEW || self.active.contains(&from));
        if ok {
            self.add_active(from);
        } else if core {
            self.introduce_short(conn, from);
        }
        self.send(conn, Msg::NeighborReply { ok });
    }

    /// A full core refusing a low-priority `Neighbor` (its sender is one short) introduces the
    /// sender to the last core it refused within `SHORT_HINT_MS`, or remembers the sender for
    /// the next. Two cores one short each rarely pick each other from their passive views, and
    /// full cores refuse them, so each core evicted by an active-view refresh asked ≈ 7.7 times
    /// (5.3 of them dials, each a handshake) before it found a partner (10k, idle). Sent before
    /// the refusal, so the sender asks the introduced core instead of another random one.
    fn introduce_short(&mut self, conn: ConnId, from: NodeId) {
        let now = self.now;
        let hint = self.short_hint.take().filter(|(p, at)| p.node != from && now.since(*at) < SHORT_HINT_MS);
        match hint {
            Some((p, _)) => self.send(conn, Msg::FwdJoin { peer: p, ttl: 0 }),
            None => self.short_hint = self.peer_ref(from).map(|p| (p, now)),
        }
    }

    pub(super) fn on_neighbor_reply(&mut self, from: NodeId, ok: bool) {
        self.pending_neighbor.remove(&from);
        if ok && self.role == Role::Core {
            if self.is_bootstrap_peer(from) {
                // A contact took our `Join` (or a high-priority request): we are in its part
                // of the overlay, no retry needed.
                self.join_retries_left = 0;
            }
            self.add_active(from);
        } else {
            if !ok {
                self.stats.memb.neighbor_refused += 1;
            }
            if let Some(p) = self.peer_ref(from) {
                self.add_passive(p);
            }
        }
    }

    pub(super) fn add_active(&mut self, node: NodeId) {
        if node == self.me || self.active.contains(&node) || !self.by_node.contains_key(&node) {
            return;
        }
        self.pending_neighbor.remove(&node);
        if self.active.len() >= ACTIVE_VIEW {
            let candidates: Vec<NodeId> = self.active.clone();
            if let Some(i) = self.rng.pick(candidates.len()) {
                let evicted = candidates[i];
                self.stats.memb.active_evicted += 1;
                self.send_node(evicted, Msg::Disconnect { alive: true });
                let r = self.peer_ref(evicted);
                self.remove_active(evicted);
                if let Some(r) = r {
                    self.add_passive(r);
                }
            }
        }
        log::debug!("active view + {node}");
        self.active.push(node);
        self.passive.retain(|p| p.node != node);
        self.lazy.remove(&node);
        self.eager.insert(node);
        if !self.records_ring_only() {
            // The broadcast directory's anti-entropy (the ring keeps records at their holders).
            self.send_dir_digest(node);
        }
    }

    /// Remove from the active view (and the broadcast tree unless it is also a leaf/home).
    pub(super) fn remove_active(&mut self, node: NodeId) {
        self.active.retain(|n| *n != node);
        if !self.leaves.contains(&node) && !self.homes.contains(&node) {
            self.eager.remove(&node);
            self.lazy.remove(&node);
        }
    }

    pub(super) fn add_passive(&mut self, p: PeerRef) {
        if p.addr.is_unspecified()
            || p.node == self.me
            || self.active.contains(&p.node)
            || self.passive.iter().any(|q| q.node == p.node)
        {
            return;
        }
        if self.passive.len() >= PASSIVE_VIEW {
            if let Some(i) = self.rng.pick(self.passive.len()) {
                self.passive.swap_remove(i);
            }
        }
        self.passive.push(p);
    }

    pub(super) fn add_passive_many(&mut self, peers: &[PeerRef]) {
        for p in peers.iter().take(SHUFFLE_ACTIVE + SHUFFLE_PASSIVE + 1) {
            self.add_passive(*p);
        }
    }

    pub(super) fn on_disconnect(&mut self, from: NodeId, alive: bool) {
        let was = self.active.contains(&from);
        let r = self.peer_ref(from);
        self.remove_active(from);
        if alive && was {
            if let Some(r) = r {
                self.add_passive(r);
            }
        }
    }

    fn sample_views(&mut self) -> Vec<PeerRef> {
        let mut act: Vec<PeerRef> = self.active.clone().into_iter().filter_map(|n| self.peer_ref(n)).collect();
        self.rng.shuffle(&mut act);
        let mut pas = self.passive.clone();
        self.rng.shuffle(&mut pas);
        act.truncate(SHUFFLE_ACTIVE);
        pas.truncate(SHUFFLE_PASSIVE);
        act.extend(pas);
        act
    }

    pub(super) fn on_shuffle(&mut self, from: NodeId, origin: PeerRef, peers: Vec<PeerRef>, ttl: u8) {
        if self.role != Role::Core || origin.node == self.me {
            return;
        }
        let next: Vec<NodeId> = self.active.iter().copied().filter(|n| *n != from && *n != origin.node).collect();
        if ttl > 0 && !next.is_empty() {
            if let Some(i) = self.rng.pick(next.len()) {
                self.send_node(next[i], Msg::Shuffle { origin, peers, ttl: ttl - 1 });
            }
            return;
        }
        let mut reply = self.passive.clone();
        self.rng.shuffle(&mut reply);
        reply.truncate(peers.len().min(SHUFFLE_ACTIVE + SHUFFLE_PASSIVE + 1));
        // The paper answers over a temporary connection to the origin: at idle that was a
        // handshake per core per minute (0.98 of 4.63 dials at 10k), to pass 8 addresses. Over a
        // link we have instead: the origin's if any, else back to the walk's last hop, whose
        // passive view takes the sample as well (the origin's sample reached us either way).
        let to = if self.by_node.contains_key(&origin.node) { origin.node } else { from };
        self.send_node(to, Msg::ShuffleReply(reply));
        self.add_passive_many(&peers);
        self.add_passive(origin);
    }

    /// Core upkeep: neighbour timeouts, refill the active view, shuffle, fall back to bootstrap.
    pub(super) fn maintain_core(&mut self) {
        let now = self.now;
        self.keep_eager_floor();
        self.pending_neighbor.retain(|_, deadline| *deadline > now);
        // Before the refill below, which would ask the contact at low priority (refused by a
        // full view) and leave it pending.
        self.retry_join();
        if self.passive.len() < SHUFFLE_PASSIVE && self.active.len() < ACTIVE_VIEW {
            let sample = self.dir.sample_cores(PASSIVE_VIEW / 2, |n| self.rng.below(n as u64) as usize);
            for p in sample {
                self.add_passive(p);
            }
        }
        if self.active.len() + self.pending_neighbor.len() < ACTIVE_VIEW {
            let choices: Vec<PeerRef> =
                self.passive.iter().copied().filter(|p| !self.pending_neighbor.contains_key(&p.node)).collect();
            if let Some(i) = self.rng.pick(choices.len()) {
                let high = self.active.is_empty();
                self.request_neighbor(choices[i], high);
            }
        }
        if self.active.is_empty() && self.pending_neighbor.is_empty() {
            self.ensure_bootstrap_redial();
        }
        if now >= self.next_shuffle {
            let calm = now >= self.shuffle_fast_until;
            self.next_shuffle = now.plus_ms(if calm { SHUFFLE_CALM_INTERVAL_MS } else { SHUFFLE_INTERVAL_MS });
            // Active-view refresh: now and then link to a random core from the directory, even
            // with a full view. HyParView alone never replaces healthy links, so two halves of a
            // healed partition would stay apart; this merges them within minutes.
            if self.active.len() >= ACTIVE_VIEW && self.rng.below(ACTIVE_REFRESH_ONE_IN) == 0 {
                let sample = self.dir.sample_cores(1, |n| self.rng.below(n as u64) as usize);
                if let Some(p) = sample.into_iter().find(|p| p.node != self.me && !self.active.contains(&p.node)) {
                    self.stats.memb.refreshes += 1;
                    self.request_neighbor(p, true);
                }
            }
            let targets = self.active.clone();
            if let (Some(i), Some(origin)) = (self.rng.pick(targets.len()), self.me_ref()) {
                let peers = self.sample_views();
                self.send_node(targets[i], Msg::Shuffle { origin, peers, ttl: SHUFFLE_TTL });
            }
        }
    }

    /// Back to shuffling every `SHUFFLE_INTERVAL_MS` for `SHUFFLE_CALM_AFTER_MS`: a neighbour
    /// was lost or a passive entry was dead, so passive views are worth refreshing.
    pub(super) fn shuffle_unsettled(&mut self) {
        self.shuffle_fast_until = self.now.plus_ms(SHUFFLE_CALM_AFTER_MS);
        self.next_shuffle = self.next_shuffle.min(self.now.plus_ms(SHUFFLE_INTERVAL_MS));
    }

    /// True if our connection to `node` is one we dialled to a configured bootstrap peer.
    fn is_bootstrap_peer(&self, node: NodeId) -> bool {
        self.by_node.get(&node).and_then(|c| self.conns.get(c)).is_some_and(|c| c.purpose == Purpose::Bootstrap)
    }

    /// Our authenticated links to configured bootstrap contacts.
    fn bootstrap_links(&self) -> Vec<(ConnId, NodeId)> {
        self.conns
            .iter()
            .filter(|(_, c)| c.is_up() && c.purpose == Purpose::Bootstrap)
            .filter_map(|(k, c)| c.peer.map(|n| (*k, n)))
            .collect()
    }

    /// Re-send our `Join` to the bootstrap contacts until one accepts it (`JOIN_RETRIES`, every
    /// `JOIN_RETRY_MS`). A contact still checking its own reachability refuses a `Join`; the
    /// high-priority fallback request (`maintain_core`) stops once anyone links to us, and the
    /// low-priority ones are refused by full views, so a core that cores joined *through* before
    /// its own `Join` succeeded stayed an island with them for minutes (the broadcast directory
    /// never crossed over: docs/scaling.md, 1k seed 2).
    ///
    /// Both directories. With the ring directory the retries once cost unicasts between leaves
    /// in `tests/sim_ring.rs` (seeds 5, 7, 8: 997–998 of 1,000): they changed who saw a leaf's
    /// handshake record while it still checked its reachability, and a ring holder kept that
    /// stale record because the leaf's home had named other holders. Traced and fixed in
    /// `dht_store.rs` (`on_store` passes first-hand stores on to the co-holders).
    fn retry_join(&mut self) {
        if self.join_retries_left == 0 || self.now < self.next_join_retry {
            return;
        }
        let boots = self.bootstrap_links();
        if boots.iter().any(|(_, n)| self.active.contains(n)) {
            // A contact linked to us on its own (a forwarded join): joined.
            self.join_retries_left = 0;
            return;
        }
        let mut sent = false;
        for (conn, node) in boots {
            if self.pending_neighbor.contains_key(&node) {
                continue;
            }
            self.pending_neighbor.insert(node, self.now.plus_ms(NEIGHBOR_TIMEOUT_MS));
            self.send(conn, Msg::Join);
            sent = true;
        }
        if sent {
            self.join_retries_left -= 1;
            self.stats.join_retries += 1;
            self.next_join_retry = self.now.plus_ms(JOIN_RETRY_MS);
        }
    }

    fn ensure_bootstrap_redial(&mut self) {
        for addr in self.cfg.bootstrap.clone() {
            let connected = self.conns.values().any(|c| c.remote == Some(addr) && c.outbound);
            if !connected && !self.redials.iter().any(|r| r.addr == addr) {
                self.schedule_redial(addr, Purpose::Bootstrap);
            }
        }
    }

    // ---------------- leaves ----------------

    fn alternatives(&mut self) -> Vec<PeerRef> {
        let mut alts: Vec<PeerRef> = self.active.clone().into_iter().filter_map(|n| self.peer_ref(n)).collect();
        alts.extend(self.passive.iter().copied());
        self.rng.shuffle(&mut alts);
        alts.truncate(MAX_ALTERNATIVES);
        alts
    }

    pub(super) fn on_attach(&mut self, conn: ConnId, from: NodeId) {
        let alternatives = self.alternatives();
        let core = self.role == Role::Core && self.reach_deadline.is_none();
        let slots = self.cfg.leaf_slots.min(LEAF_SLOTS);
        let ok = core && (self.leaves.contains(&from) || (self.leaves.len() < slots && !self.active.contains(&from)));
        if ok && !self.leaves.contains(&from) {
            self.leaves.push(from);
            if self.ring_on() {
                // Ring directory: this home stores the leaf's record at its holders.
                self.ring_publish(from);
            }
            self.lazy.remove(&from);
            self.eager.insert(from);
        }
        self.send(conn, Msg::AttachAck { ok, alternatives });
    }

    pub(super) fn on_attach_ack(&mut self, from: NodeId, ok: bool, alternatives: Vec<PeerRef>) {
        self.pending_homes.retain(|n| *n != from);
        for p in alternatives.into_iter().take(MAX_ALTERNATIVES) {
            if p.node != self.me && !self.candidates.iter().any(|q| q.node == p.node) {
                if self.candidates.len() >= MAX_CANDIDATES {
                    self.candidates.remove(0);
                }
                self.candidates.push(p);
            }
        }
        if self.role != Role::Leaf {
            return;
        }
        // `push` fails only when MAX_HOMES homes are held: then this attachment is not needed.
        if ok && !self.homes.contains(&from) && self.homes.push(from).is_ok() {
            self.lazy.remove(&from);
            self.eager.insert(from);
            self.mark_record_dirty();
            self.flush_interest();
            if let Some(p) = self.peer_ref(from) {
                if !self.candidates.contains(&p) && self.candidates.len() < MAX_CANDIDATES {
                    self.candidates.push(p);
                }
            }
        } else if !ok {
            self.candidates.retain(|p| p.node != from);
            if !self.is_in_use(from) {
                if let Some(c) = self.by_node.get(&from).copied() {
                    self.drop_conn(c);
                }
            }
        }
        self.maintain_leaf();
    }

    /// Leaf upkeep: keep `HOMES` homes, falling back to the bootstrap list.
    pub(super) fn maintain_leaf(&mut self) {
        if self.role != Role::Leaf || self.reach_deadline.is_some() {
            return;
        }
        self.keep_eager_floor();
        if self.homes.len() + self.pending_homes.len() >= HOMES {
            return;
        }
        let choices: Vec<PeerRef> = self
            .candidates
            .iter()
            .copied()
            .filter(|p| !self.homes.contains(&p.node) && !self.pending_homes.contains(&p.node) && p.node != self.me)
            .collect();
        match self.rng.pick(choices.len()) {
            Some(i) => {
                let p = choices[i];
                self.pending_homes.push(p.node);
                if !self.send_node(p.node, Msg::Attach) && self.dial(p.addr, Purpose::Home).is_none() {
                    self.pending_homes.retain(|n| *n != p.node);
                }
            }
            None if self.homes.is_empty() && self.pending_homes.is_empty() => self.ensure_bootstrap_redial(),
            None => {}
        }
    }

    /// Node-level cleanup after its connection ended.
    pub(super) fn on_node_down(&mut self, node: NodeId, purpose: Purpose, remote: Option<Addr>) {
        let was_active = self.active.contains(&node);
        self.remove_active(node);
        self.pending_neighbor.remove(&node);
        self.leaves.retain(|n| *n != node);
        self.forget_interest(node);
        self.tree_node_down(node);
        let was_home = self.homes.contains(&node);
        self.homes.retain(|n| *n != node);
        self.pending_homes.retain(|n| *n != node);
        self.eager.remove(&node);
        self.lazy.remove(&node);
        if was_home {
            self.candidates.retain(|p| p.node != node);
            self.mark_record_dirty();
            self.maintain_leaf();
        }
        if was_active && self.role == Role::Core {
            // Lost without a `Disconnect`: the neighbourhood is changing, shuffle at the fast pace.
            self.shuffle_unsettled();
            self.maintain_core();
        }
        if purpose == Purpose::Bootstrap && self.active.is_empty() && self.homes.is_empty() {
            if let Some(addr) = remote {
                self.schedule_redial(addr, Purpose::Bootstrap);
            }
        }
    }
}
