//! The parent's side of a subscription (`topic.rs`): taking a child, SplitStream's push-down
//! when full, the per-peer and per-node caps, and acking: a new child at once, a periodic
//! refresh only when this node has news for it (`TOPIC_QUIET_ACK_MAX_MS`). Split out of
//! `topic.rs` to keep that file to the subscriber's side, posts and timers; it shares
//! `TopicTable`'s private state as a child module.

use super::{prefix, topic_mix, Acked, Child, Topic, TopicMsg, TopicTable};
use crate::overlay::params::{
    TOPIC_CAP, TOPIC_CHILDREN, TOPIC_CHILD_TTL_MS, TOPIC_QUIET_ACK_MAX_MS, TOPIC_REFRESH_MIN_GAP_MS,
    TOPIC_SUBS_PER_PEER,
};
use crate::overlay::ring::{dist, Hop, RingTable};
use crate::overlay::types::Instant;
use crate::wire::NodeId;

impl TopicTable {
    /// Send `child` our depth and recent ids for `topic`, and remember what it was told.
    pub(super) fn ack_child(&mut self, topic: NodeId, child: NodeId, now: Instant) {
        let Some(t) = self.topics.get_mut(&topic) else { return };
        let newest = t.recent.first().map(prefix);
        let (depth, recent) = (t.depth, t.recent.to_vec());
        if let Some(c) = t.children.iter_mut().find(|c| c.node == child) {
            c.acked = Some(Acked { newest, at: now });
        }
        self.send(child, TopicMsg::Ack { topic, depth, recent });
    }

    pub(super) fn drop_child(&mut self, topic: NodeId, node: NodeId) {
        let Some(t) = self.topics.get_mut(&topic) else { return };
        let before = t.children.len();
        t.children.retain(|c| c.node != node);
        if t.children.len() != before {
            if let Some(p) = self.per_peer.get_mut(&node) {
                p.entries = p.entries.saturating_sub(1);
                p.sum = p.sum.wrapping_sub(topic_mix(topic));
                if p.entries == 0 && p.asked.is_none() {
                    self.per_peer.remove(&node);
                }
            }
        }
    }

    /// A `Subscribe` for `topic` from `from`: a refresh of an existing child (acked only when
    /// there is news), or a new child taken, pushed down or refused.
    pub(super) fn subscribe(&mut self, ring: &RingTable, from: NodeId, topic: NodeId, now: Instant) {
        if from == self.me {
            return;
        }
        let expires = now.plus_ms(TOPIC_CHILD_TTL_MS);
        // Our parent subscribing to us has lost its path: it is our parent no longer.
        if let Some(t) = self.topics.get_mut(&topic).filter(|t| t.parent == Some(from)) {
            t.parent = None;
            self.waiting.insert(topic, now);
            self.set_depth(topic, None, now);
            self.wait_from(now);
        }
        if let Some(t) = self.topics.get_mut(&topic) {
            if let Some(c) = t.children.iter_mut().find(|c| c.node == from) {
                // A periodic refresh is acked only if the child was not told our newest id
                // lately (`TOPIC_QUIET_ACK_MAX_MS`); a re-sent subscription (the child is
                // still waiting for an ack) always is.
                let heard = Instant(c.expires.0.saturating_sub(TOPIC_CHILD_TTL_MS));
                let periodic = now.since(heard) >= TOPIC_REFRESH_MIN_GAP_MS;
                let newest = t.recent.first().map(prefix);
                let told = c.acked.is_some_and(|a| a.newest == newest && now.since(a.at) < TOPIC_QUIET_ACK_MAX_MS);
                c.expires = expires;
                if t.depth.is_some() {
                    if periodic && told {
                        self.stats.acks_saved += 1;
                    } else {
                        self.ack_child(topic, from, now);
                    }
                }
                return;
            }
        }
        let root = ring.next_hop(topic) == Hop::Local;
        let attached = self.topics.get(&topic).is_some_and(|t| t.depth.is_some());
        let on_path = dist(from.0, topic.0) > dist(self.me.0, topic.0);
        if !(root || attached || on_path) {
            self.stats.refused_not_on_path += 1;
            self.send(from, TopicMsg::Refused { topic });
            return;
        }
        if let Some(t) = self.topics.get(&topic) {
            if t.children.len() >= TOPIC_CHILDREN {
                // SplitStream push-down: to one of our children, spread by the subscriber's id,
                // preferring children nearer the key than the subscriber (they take it as a
                // routing step even while they are still joining, and distance keeps shrinking).
                let nearer: Vec<NodeId> =
                    t.children.iter().map(|c| c.node).filter(|c| dist(c.0, topic.0) < dist(from.0, topic.0)).collect();
                let pool: Vec<NodeId> =
                    if nearer.is_empty() { t.children.iter().map(|c| c.node).collect() } else { nearer };
                let to = pool[(from.0 % pool.len() as u64) as usize];
                self.stats.redirected += 1;
                self.send(from, TopicMsg::Redirect { topic, to });
                return;
            }
        }
        if self.entries_of(from) >= TOPIC_SUBS_PER_PEER {
            self.stats.refused_peer_cap += 1;
            self.send(from, TopicMsg::Refused { topic });
            return;
        }
        if !self.topics.contains_key(&topic) {
            if self.topics.len() >= TOPIC_CAP {
                self.stats.refused_topic_cap += 1;
                self.send(from, TopicMsg::Refused { topic });
                return;
            }
            self.topics.insert(topic, Topic::default());
        }
        let p = self.per_peer.entry(from).or_default();
        p.entries += 1;
        p.sum = p.sum.wrapping_add(topic_mix(topic));
        let Some(t) = self.topics.get_mut(&topic) else { return };
        if t.children.len() == t.children.capacity() {
            t.children.reserve_exact(1); // see `Topic::children`
        }
        t.children.push(Child { node: from, expires, acked: None });
        let (attached, idle) = (t.depth.is_some(), t.parent.is_none());
        if attached {
            self.ack_child(topic, from, now);
        } else if idle {
            self.join(ring, topic, now);
        }
    }
}
