//! Unicast to a node id by directory lookup, ≤ 3 hops, with acknowledgement (spec §2.5).
//!
//! Routes: a direct link if there is one; a leaf hands everything to a home; a core node looks
//! the destination up: a core destination is dialled on demand, a leaf destination is reached via
//! one of its homes (a retry picks the next home). A core node relays core→core traffic only to a
//! leaf attached to it, so routes cannot loop. Acks and `Undeliverable` travel the same way back.
//! Pending unicasts are bounded by `PENDING_UNICAST_CAP`; each gets `UNICAST_ATTEMPTS` tries.

use super::params::*;
use super::{Delivery, Output, Overlay, PendingUnicast, Timer};
use crate::wire::{Addr, Body, Key32, Msg, MsgId, NodeId, Role, Routed, Sig, UndeliverableReason, MAX_BODY_BYTES};

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
        self.pending_unicast.insert(msg_id, PendingUnicast { dst, payload, attempt: 0, hash, sig });
        self.attempt_unicast(msg_id);
    }

    fn attempt_unicast(&mut self, msg_id: u64) {
        let Some(p) = self.pending_unicast.get(&msg_id).cloned() else { return };
        self.schedule(self.now.plus_ms(UNICAST_TIMEOUT_MS), Timer::UnicastTimeout(msg_id));
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
        if let Err(reason) = self.forward_routed(r, None) {
            self.unicast_failed(msg_id, reason);
        }
    }

    fn unicast_failed(&mut self, msg_id: u64, reason: UndeliverableReason) {
        let Some(p) = self.pending_unicast.get_mut(&msg_id) else { return };
        p.attempt += 1;
        if p.attempt < UNICAST_ATTEMPTS && reason != UndeliverableReason::Unknown {
            return self.attempt_unicast(msg_id);
        }
        let dst = p.dst;
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

    /// Deliver or pass on a unicast; `Err` if it cannot go further from here.
    fn forward_routed(&mut self, mut r: Routed, from: Option<NodeId>) -> Result<(), UndeliverableReason> {
        if r.dst == self.me {
            let hash = Routed::signing_hash(r.src, r.dst, r.msg_id, r.payload.as_slice());
            let sig = self.crypto.sign(&Routed::ack_hash(&hash));
            let ack = Msg::RoutedAck { src: self.me, dst: r.src, msg_id: r.msg_id, hops: r.hops, of: MsgId(hash), sig };
            self.emit(Output::Deliver(Delivery::Unicast { src: r.src, msg_id: r.msg_id, payload: r.payload }));
            // The ack is a new message from here (not a relay): route it as an origin would.
            self.route_control(r.src, ack, None);
            return Ok(());
        }
        if r.ttl == 0 {
            return Err(UndeliverableReason::TtlExpired);
        }
        let hop = self.next_hop(r.dst, r.attempt, from)?;
        r.ttl -= 1;
        r.hops += 1;
        if self.send_hop(hop, Msg::Routed(r)) {
            Ok(())
        } else {
            Err(UndeliverableReason::NoRoute)
        }
    }

    /// Route an ack / undeliverable toward `dst` (the unicast's origin). Control traffic that
    /// cannot go on is dropped, never bounced (bouncing could loop); the origin's timeout retries.
    fn route_control(&mut self, dst: NodeId, msg: Msg, from: Option<NodeId>) {
        if let Ok(hop) = self.next_hop(dst, 0, from) {
            self.send_hop(hop, msg);
        }
    }

    pub(super) fn on_routed(&mut self, from: NodeId, r: Routed) {
        if r.payload.len() > MAX_BODY_BYTES {
            return;
        }
        let (src, msg_id) = (r.src, r.msg_id);
        if let Err(reason) = self.forward_routed(r, Some(from)) {
            // The previous hop is connected and one step closer to the origin.
            self.send_node(from, Msg::Undeliverable { src: self.me, dst: src, msg_id, reason });
        }
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
        self.route_control(dst, Msg::RoutedAck { src, dst, msg_id, hops, of, sig }, Some(from));
    }

    pub(super) fn on_undeliverable(
        &mut self,
        from: NodeId,
        src: NodeId,
        dst: NodeId,
        msg_id: u64,
        reason: UndeliverableReason,
    ) {
        if dst == self.me {
            return self.unicast_failed(msg_id, reason);
        }
        self.route_control(dst, Msg::Undeliverable { src, dst, msg_id, reason }, Some(from));
    }
}
