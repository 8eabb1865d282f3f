//! Unicast to a node id by directory lookup, ≤ 3 hops, with acknowledgement (spec §2.5).
//!
//! Routes: a direct link if there is one; a leaf hands everything to a home; a core node looks
//! the destination up: a core destination is dialled on demand, a leaf destination is reached via
//! one of its homes (a retry picks the next home). A core node relays core→core traffic only to a
//! leaf attached to it, so routes cannot loop. Acks and `Undeliverable` travel the same way back.
//! Pending unicasts are bounded by `PENDING_UNICAST_CAP`; each gets `UNICAST_ATTEMPTS` tries.
//! Both answers are signed by the node that gives them; the origin counts an ack only from the
//! destination and an `Undeliverable` only from a node on the route (the hop it handed the
//! attempt to, the destination, or one of the destination's homes). A home checks both for
//! its leaves (which hold no directory), with the routes it handed their unicasts to.

use super::params::*;
use super::{Delivery, Output, Overlay, PendingUnicast, Timer};
use crate::wire::{Addr, Body, Key32, Msg, MsgId, NodeId, Role, Routed, Sig, UndeliverableReason, MAX_BODY_BYTES};

/// Why a unicast is not delivered from here.
enum Check {
    /// The signature is not the claimed source's.
    Forged,
    /// The source's node key is not known here (yet).
    UnknownKey,
}

/// The fields of a `Msg::Undeliverable`.
pub(super) struct Undeliverable {
    pub src: NodeId,
    pub dst: NodeId,
    pub msg_id: u64,
    pub reason: UndeliverableReason,
    pub of: MsgId,
    pub sig: Sig,
}

/// The fields of a `Msg::RoutedAck`.
pub(super) struct RoutedAck {
    pub src: NodeId,
    pub dst: NodeId,
    pub msg_id: u64,
    pub hops: u8,
    pub of: MsgId,
    pub sig: Sig,
}

impl Overlay {
    /// The node key of `node`: from its authenticated connection, else from the directory.
    pub(super) fn node_key_of(&self, node: NodeId) -> Option<Key32> {
        let conn = self.by_node.get(&node).and_then(|c| self.conns.get(c)).and_then(|c| c.peer_key);
        conn.or_else(|| self.dir.get(node).map(|e| e.node_key))
    }

    pub(super) fn start_unicast(&mut self, dst: NodeId, msg_id: u64, payload: Body) {
        if dst == self.me {
            self.emit(Output::Deliver(Delivery::Unicast { src: self.me, msg_id, payload }));
            return self.emit(Output::UnicastDone { msg_id, dst, result: Ok(0) });
        }
        if self.pending_unicast.len() >= PENDING_UNICAST_CAP || payload.len() > MAX_BODY_BYTES {
            return self.emit(Output::UnicastDone { msg_id, dst, result: Err(UndeliverableReason::NoRoute) });
        }
        let hash = Routed::signing_hash(self.me, dst, msg_id, payload.as_slice());
        let sig = self.crypto.sign(&hash);
        self.pending_unicast.insert(msg_id, PendingUnicast { dst, payload, attempt: 0, hash, sig, via: None });
        self.attempt_unicast(msg_id);
    }

    fn attempt_unicast(&mut self, msg_id: u64) {
        let Some(p) = self.pending_unicast.get(&msg_id).cloned() else { return };
        self.schedule(self.now.plus_ms(UNICAST_TIMEOUT_MS), Timer::UnicastTimeout(msg_id));
        if let Some(key) = self.ring_missing(p.dst, p.attempt) {
            // Ring directory: look the missing record up; tried again when it is found.
            self.ring_find_for_unicast(key);
            return;
        }
        let r = Routed {
            src: self.me,
            dst: p.dst,
            msg_id,
            ttl: UNICAST_TTL,
            hops: 0,
            attempt: p.attempt,
            payload: p.payload,
            sig: p.sig,
        };
        match self.forward_routed(r, None) {
            Ok(hop) => {
                if let Some(p) = self.pending_unicast.get_mut(&msg_id) {
                    p.via = Some(hop);
                }
            }
            Err(reason) => self.unicast_failed(msg_id, reason),
        }
    }

    /// A unicast whose destination lookup answered: try it again (same attempt).
    pub(super) fn retry_unicast(&mut self, msg_id: u64) {
        if self.pending_unicast.get(&msg_id).is_some_and(|p| p.via.is_none()) {
            self.attempt_unicast(msg_id);
        }
    }

    pub(super) fn unicast_failed(&mut self, msg_id: u64, reason: UndeliverableReason) {
        let Some(p) = self.pending_unicast.get_mut(&msg_id) else { return };
        p.attempt += 1;
        p.via = None;
        let (dst, attempt) = (p.dst, p.attempt);
        // Ring directory: a route from a looked-up record failed; look it up afresh.
        self.ring_forget_cached(dst);
        if attempt < UNICAST_ATTEMPTS && reason != UndeliverableReason::Unknown {
            return self.attempt_unicast(msg_id);
        }
        self.pending_unicast.remove(&msg_id);
        self.emit(Output::UnicastDone { msg_id, dst, result: Err(reason) });
    }

    pub(super) fn on_unicast_timeout(&mut self, msg_id: u64) {
        // Every attempt schedules a timeout; only the newest one (none newer pending) counts.
        let newer = self.timers.values().any(|t| *t == Timer::UnicastTimeout(msg_id));
        if !newer && self.pending_unicast.contains_key(&msg_id) {
            self.unicast_failed(msg_id, UndeliverableReason::NoRoute);
        }
    }

    /// Next hop toward `dst`: (node, address to dial if not connected).
    fn next_hop(
        &self,
        dst: NodeId,
        attempt: u8,
        from: Option<NodeId>,
    ) -> Result<(NodeId, Option<Addr>), UndeliverableReason> {
        if self.by_node.contains_key(&dst) {
            return Ok((dst, None));
        }
        if self.role == Role::Leaf || self.reach_deadline.is_some() {
            let up: Vec<NodeId> = self.homes.iter().copied().filter(|h| self.by_node.contains_key(h)).collect();
            return match up.len() {
                0 => Err(UndeliverableReason::NoRoute),
                n => Ok((up[attempt as usize % n], None)),
            };
        }
        let from_core = from.is_some_and(|f| !self.leaves.contains(&f));
        let entry = self.dir.get(dst).ok_or(UndeliverableReason::Unknown)?;
        match entry.role {
            Role::Core if from_core => Err(UndeliverableReason::NoRoute),
            Role::Core => entry.addr.map(|a| (dst, Some(a))).ok_or(UndeliverableReason::NoRoute),
            Role::Leaf if from_core => Err(UndeliverableReason::NotAttached),
            Role::Leaf => {
                let homes: Vec<NodeId> = entry.homes.iter().copied().filter(|h| *h != self.me).collect();
                if homes.is_empty() {
                    return Err(UndeliverableReason::NotAttached);
                }
                // Prefer the attempt's home; any connected home first if the attempt's is not.
                let h = homes[attempt as usize % homes.len()];
                if self.by_node.contains_key(&h) {
                    return Ok((h, None));
                }
                match self.dir.get(h).and_then(|e| e.addr) {
                    Some(a) => Ok((h, Some(a))),
                    None => homes
                        .iter()
                        .find(|x| self.by_node.contains_key(x))
                        .map(|x| (*x, None))
                        .ok_or(UndeliverableReason::NoRoute),
                }
            }
        }
    }

    fn send_hop(&mut self, hop: (NodeId, Option<Addr>), msg: Msg) -> bool {
        match hop {
            (n, None) => self.send_node(n, msg),
            (n, Some(a)) => self.send_or_dial(n, a, msg),
        }
    }

    /// Deliver or pass on a unicast: the node it went to (us when delivered here); `Err` if
    /// it cannot go further from here.
    fn forward_routed(&mut self, mut r: Routed, from: Option<NodeId>) -> Result<NodeId, UndeliverableReason> {
        if r.dst == self.me {
            let hash = Routed::signing_hash(r.src, r.dst, r.msg_id, r.payload.as_slice());
            let sig = self.crypto.sign(&Routed::ack_hash(&hash));
            let ack = Msg::RoutedAck { src: self.me, dst: r.src, msg_id: r.msg_id, hops: r.hops, of: MsgId(hash), sig };
            self.emit(Output::Deliver(Delivery::Unicast { src: r.src, msg_id: r.msg_id, payload: r.payload }));
            // A leaf acks through the home that handed it over: that home checked the origin's
            // signature, so it holds the origin's record and a route back; another home may
            // have to look it up (traced at 100k nodes: unicasts delivered up to three times
            // failed, every ack sent through the leaf's first home, whose lookup failed).
            let via =
                from.filter(|h| self.role == Role::Leaf && self.homes.contains(h) && self.by_node.contains_key(h));
            match via {
                Some(home) => {
                    self.send_node(home, ack);
                }
                // The ack is a new message from here (not a relay): route it as an origin would.
                None => self.route_control(r.src, ack, None),
            }
            return Ok(self.me);
        }
        if r.ttl == 0 {
            return Err(UndeliverableReason::TtlExpired);
        }
        let hop = self.next_hop(r.dst, r.attempt, from)?;
        r.ttl -= 1;
        r.hops += 1;
        if self.send_hop(hop, Msg::Routed(r)) {
            Ok(hop.0)
        } else {
            Err(UndeliverableReason::NoRoute)
        }
    }

    /// Route an ack / undeliverable toward `dst` (the unicast's origin). Control traffic that
    /// cannot go on is dropped, never bounced (bouncing could loop); the origin's timeout retries.
    pub(super) fn route_control(&mut self, dst: NodeId, msg: Msg, from: Option<NodeId>) {
        // Ring directory: a leaf origin whose home's record is not held here (no address to
        // dial) has that record looked up first, as a relayed unicast does (`ring_missing`).
        if let Some(home) = self.ring_missing(dst, 0).filter(|k| *k != dst) {
            if self.ring_park(home, super::dht::Parked::Control { dst, msg: msg.clone(), from }) {
                return;
            }
        }
        match self.next_hop(dst, 0, from) {
            Ok(hop) => {
                self.send_hop(hop, msg);
            }
            Err(UndeliverableReason::Unknown) => {
                // Ring directory: look the origin up and send it then (dropped if the ring is off).
                self.ring_park(dst, super::dht::Parked::Control { dst, msg, from });
            }
            Err(_) => {}
        }
    }

    /// Is `r` really from `r.src`? Checked by whoever delivers it: the destination, or the
    /// home that hands it to its leaf (a leaf holds no directory and trusts its homes' check).
    fn check_routed(&mut self, r: &Routed, hash: &[u8; 32], from: NodeId) -> Result<(), Check> {
        match self.node_key_of(r.src) {
            Some(key) => {
                if self.crypto.verify(&key, hash, &r.sig) {
                    Ok(())
                } else {
                    Err(Check::Forged)
                }
            }
            None if self.role == Role::Leaf && r.dst == self.me && self.homes.contains(&from) => Ok(()),
            None => Err(Check::UnknownKey),
        }
    }

    pub(super) fn on_routed(&mut self, from: NodeId, r: Routed) {
        if r.payload.len() > MAX_BODY_BYTES {
            return;
        }
        let (src, msg_id) = (r.src, r.msg_id);
        // What a report of failure names (one SHA-256 of the payload per hop: unicasts are rare).
        let of = Routed::signing_hash(r.src, r.dst, r.msg_id, r.payload.as_slice());
        let delivers = r.dst == self.me || (self.role == Role::Core && self.leaves.contains(&r.dst));
        if delivers {
            match self.check_routed(&r, &of, from) {
                Ok(()) => {}
                Err(Check::Forged) => {
                    // Dropped without an answer; the relaying peer may be honest: no ban.
                    self.stats.forged += 1;
                    return;
                }
                Err(Check::UnknownKey) if self.ring_park(src, super::dht::Parked::Routed { r: r.clone(), from }) => {
                    // Ring directory: the source's record is looked up, then this is checked again.
                    return;
                }
                Err(Check::UnknownKey) => {
                    let msg = self.undeliverable(src, msg_id, of, UndeliverableReason::UnknownSource);
                    self.send_node(from, msg);
                    return;
                }
            }
        }
        let missing = if delivers { None } else { self.ring_missing(r.dst, r.attempt) };
        if missing.is_some_and(|k| self.ring_park(k, super::dht::Parked::Routed { r: r.clone(), from })) {
            // Ring directory: the destination is looked up; this goes on when it is found.
            return;
        }
        let dst = r.dst;
        match self.forward_routed(r, Some(from)) {
            Ok(hop) if src == from && self.role == Role::Core && self.leaves.contains(&from) => {
                // Our leaf's own unicast: remember its route to check reports for it.
                if self.leaf_routes.len() >= LEAF_ROUTES_CAP {
                    self.leaf_routes.pop_front();
                }
                self.leaf_routes.push_back((of, dst, hop));
            }
            Ok(_) => {}
            Err(reason) => {
                // The previous hop is connected and one step closer to the origin.
                let msg = self.undeliverable(src, msg_id, of, reason);
                self.send_node(from, msg);
            }
        }
    }

    /// Is `src` on a route a unicast took: the hop it was handed to, its destination, or one
    /// of the destination's homes (the same rule at the origin and at a leaf's home).
    fn on_route(&self, src: NodeId, dst: NodeId, via: Option<NodeId>) -> bool {
        Some(src) == via || src == dst || self.dir.get(dst).is_some_and(|e| e.homes.contains(&src))
    }

    /// Our signed report that unicast `of` (id `msg_id`, from `origin`) goes no further.
    pub(super) fn undeliverable(
        &mut self,
        origin: NodeId,
        msg_id: u64,
        of: [u8; 32],
        reason: UndeliverableReason,
    ) -> Msg {
        let sig = self.crypto.sign(&Routed::undeliverable_hash(self.me, &of, reason));
        Msg::Undeliverable { src: self.me, dst: origin, msg_id, reason, of: MsgId(of), sig }
    }

    pub(super) fn on_routed_ack(&mut self, from: NodeId, ack: RoutedAck) {
        let RoutedAck { src, dst, msg_id, hops, of, sig } = ack;
        if dst == self.me {
            let Some(p) = self.pending_unicast.get(&msg_id) else { return };
            // Only the real destination can confirm: same node, same payload, its key's signature
            // (checked here, or by our home when we are a leaf and do not know the key).
            let genuine = src == p.dst
                && of.0 == p.hash
                && match self.node_key_of(src) {
                    Some(key) => self.crypto.verify(&key, &Routed::ack_hash(&of.0), &sig),
                    None => self.role == Role::Leaf && self.homes.contains(&from),
                };
            if !genuine {
                self.stats.forged += 1;
                return;
            }
            self.pending_unicast.remove(&msg_id);
            return self.emit(Output::UnicastDone { msg_id, dst: src, result: Ok(hops) });
        }
        if self.role == Role::Core && self.leaves.contains(&dst) {
            // Our leaf cannot check who confirms (no directory): we do it for it.
            let genuine = self.node_key_of(src).is_some_and(|k| self.crypto.verify(&k, &Routed::ack_hash(&of.0), &sig));
            if !genuine {
                self.stats.forged += 1;
                return;
            }
        }
        self.route_control(dst, Msg::RoutedAck { src, dst, msg_id, hops, of, sig }, Some(from));
    }

    pub(super) fn on_undeliverable(&mut self, from: NodeId, u: Undeliverable) {
        let Undeliverable { src, dst, msg_id, reason, of, sig } = u;
        let hash = Routed::undeliverable_hash(src, &of.0, reason);
        if dst == self.me {
            let Some(p) = self.pending_unicast.get(&msg_id) else { return };
            // Only a node on the route can report: the hop we handed this attempt to, the
            // destination, or one of its homes, signing with its own key over this payload's
            // hash. A leaf (no directory) trusts its home, which checked the signature.
            let on_route = self.on_route(src, p.dst, p.via);
            let genuine = of.0 == p.hash
                && match self.node_key_of(src) {
                    Some(key) => on_route && self.crypto.verify(&key, &hash, &sig),
                    None => self.role == Role::Leaf && self.homes.contains(&from),
                };
            if !genuine {
                self.stats.forged += 1;
                return;
            }
            return self.unicast_failed(msg_id, reason);
        }
        if self.role == Role::Core && self.leaves.contains(&dst) {
            // Our leaf cannot check who reports (no directory): we do it for it, with the
            // route we handed its unicast to (a forgotten route counts as off it).
            let on_route =
                self.leaf_routes.iter().any(|(h, to, via)| *h == of.0 && self.on_route(src, *to, Some(*via)));
            let genuine = on_route && self.node_key_of(src).is_some_and(|k| self.crypto.verify(&k, &hash, &sig));
            if !genuine {
                self.stats.forged += 1;
                return;
            }
        }
        self.route_control(dst, Msg::Undeliverable { src, dst, msg_id, reason, of, sig }, Some(from));
    }
}
