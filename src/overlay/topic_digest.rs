//! Tree refresh by digest (issue 10; docs/scaling.md "Per-author trees", "Refresh by digest"):
//! soft state that costs per parent–child link, not per topic, between peers that announced
//! `FEATURE_DIGESTS`. Split out of `topic.rs`; shares `TopicTable`'s private state as a
//! child module.
//!
//! * **Child.** Every `TOPIC_REFRESH_MS` it sends each such parent one `Digest`: how many
//!   topics it has there and the wrapping sum of [`topic_mix`] over their keys, instead of the
//!   list (8 B a topic). The digest also names the topics it passed a post up on since the last
//!   one, with its newest id's first 4 bytes (`check`), so a copy lost on the way up is found.
//! * **Parent.** It keeps, per child peer, the count and the sum of the entries it holds for it
//!   (updated as entries come and go, so a digest costs no scan). A match renews every entry at
//!   once (`PeerSubs::renewed`) and is answered only with acks for topics that had a post the
//!   child was not told about (`posted`), or whose `check` differs: nothing at all when nothing
//!   happened. A mismatch is answered with `Resync` (at most once per `TOPIC_RESYNC_GAP_MS` per
//!   child): the child re-sends its list as `Subscribe` batches and then a `relisted` digest, and
//!   the parent drops the entries the list did not name. A parent that forgot its children
//!   (restarted, or they expired) holds nothing, so the first digest of each gets them back.
//! * **Acks.** No quiet ack: a child learns of a post it missed from the ack a matching digest
//!   brings (the post arrived since it was last told), of one it holds and the parent lacks
//!   from its own `check`.
//!
//! Hostile inputs: the sender is the connection, and a digest speaks only for the sender's own
//! entries (a forged match keeps its own entries alive, a forged mismatch costs it its list);
//! a huge `count` is a number compared, never allocated for; `check` is read up to
//! `TOPIC_BATCH` and only for topics where the sender is our child; a `Resync` is answered only
//! to a parent we sent a digest to since the last refresh, once; entry-less peers asked to
//! resync are at most `TOPIC_RESYNC_PEERS`.

use std::collections::BTreeMap;

use super::{prefix, Child, TopicMsg, TopicTable};
use crate::overlay::params::{
    TOPIC_BATCH, TOPIC_CHILD_TTL_MS, TOPIC_NEWS_KEEP_REFRESHES, TOPIC_RESYNC_GAP_MS, TOPIC_RESYNC_PEERS,
};
use crate::overlay::types::Instant;
use crate::wire::{MsgId, NodeId};

/// A topic key's share of a digest: SplitMix64's finaliser (a bijection, so distinct keys
/// never cancel pairwise by construction, and sums of different sets collide ≈ 2^-64).
pub fn topic_mix(topic: NodeId) -> u64 {
    let mut z = topic.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The digest of a set of topic keys: (count, wrapping sum of [`topic_mix`]); order-free, so a
/// parent keeps it up to date entry by entry.
pub fn topic_digest(topics: impl IntoIterator<Item = NodeId>) -> (u32, u64) {
    topics.into_iter().fold((0u32, 0u64), |(n, h), k| (n.wrapping_add(1), h.wrapping_add(topic_mix(k))))
}

fn newest4(id: &MsgId) -> u32 {
    u32::from_le_bytes(prefix(id))
}

impl TopicTable {
    /// Child side: our digest of `topics` (every topic we have with `parent`) to `parent`.
    pub(super) fn send_digest(&mut self, parent: NodeId, topics: &[NodeId], relisted: bool) {
        let (count, hash) = topic_digest(topics.iter().copied());
        let mut check = Vec::new();
        if !relisted {
            self.digest_sent.insert(parent);
            for k in topics {
                if check.len() >= TOPIC_BATCH {
                    break; // the rest stay marked for the next digest
                }
                let Some(t) = self.topics.get_mut(k).filter(|t| t.sent_up) else { continue };
                t.sent_up = false;
                if let Some(id) = t.recent.first() {
                    check.push((*k, newest4(id)));
                }
            }
        }
        self.send(parent, TopicMsg::Digest { count, hash, relisted, check });
    }

    /// Child side: `from` did not match our last digest. Answered once per digest we sent it:
    /// the whole list, then a `relisted` digest.
    pub(super) fn handle_resync(&mut self, from: NodeId) {
        if !self.digest_sent.remove(&from) {
            self.stats.stray_control += 1;
            return;
        }
        self.stats.resyncs_answered += 1;
        let topics: Vec<NodeId> = self.topics.iter().filter(|(_, t)| t.parent == Some(from)).map(|(k, _)| *k).collect();
        self.send_list(from, &topics);
        self.send_digest(from, &topics, true);
    }

    /// True if child entry `c` is past its TTL: neither its last `Subscribe` nor its peer's last
    /// matching digest is within `TOPIC_CHILD_TTL_MS`.
    pub(super) fn expired(&self, c: &Child, now: Instant) -> bool {
        c.expires <= now
            && self.per_peer.get(&c.node).and_then(|p| p.renewed).is_none_or(|r| r.plus_ms(TOPIC_CHILD_TTL_MS) <= now)
    }

    /// At each refresh: forget old news, and entry-less peers not asked lately.
    pub(super) fn forget_stale(&mut self, now: Instant) {
        let (g, topics) = (self.refreshes, &self.topics);
        self.posted.retain(|k, at| g.wrapping_sub(*at) < TOPIC_NEWS_KEEP_REFRESHES && topics.contains_key(k));
        self.per_peer.retain(|_, p| p.entries > 0 || p.asked.is_some_and(|a| now.since(a) < TOPIC_RESYNC_GAP_MS));
    }

    /// `child` sent us (or confirmed it holds) `id`: if it is our newest, it need not be told.
    pub(super) fn mark_told(&mut self, topic: NodeId, child: NodeId, id: &MsgId) {
        let Some(t) = self.topics.get_mut(&topic) else { return };
        if t.recent.first() != Some(id) {
            return;
        }
        if let Some(a) = t.children.iter_mut().find(|c| c.node == child).and_then(|c| c.acked.as_mut()) {
            a.newest = Some(prefix(id));
        }
    }

    /// Parent side: a refresh digest from `from`.
    pub(super) fn handle_digest(
        &mut self,
        from: NodeId,
        count: u32,
        hash: u64,
        relisted: bool,
        check: Vec<(NodeId, u32)>,
        now: Instant,
    ) {
        if from == self.me {
            return;
        }
        if relisted {
            if let Some(asked) = self.per_peer.get(&from).filter(|p| p.awaiting).and_then(|p| p.asked) {
                self.drop_unlisted(from, asked);
                if let Some(p) = self.per_peer.get_mut(&from) {
                    p.awaiting = false;
                }
            }
        }
        self.handle_check(from, check, now);
        let held = self.per_peer.get(&from).copied().unwrap_or_default();
        if (held.entries, held.sum) == (count, hash) {
            self.stats.digests_matched += 1;
            if let Some(p) = self.per_peer.get_mut(&from) {
                p.renewed = Some(now);
            }
            self.send_news(from, now);
            return;
        }
        self.stats.digests_mismatched += 1;
        let lately = held.asked.is_some_and(|a| now.since(a) < TOPIC_RESYNC_GAP_MS);
        let crowded = !self.per_peer.contains_key(&from)
            && self.per_peer.values().filter(|p| p.entries == 0).count() >= TOPIC_RESYNC_PEERS;
        if relisted || lately || crowded {
            // Asked already (or it has just re-sent its list): its entries are not renewed,
            // and the ones its list named were renewed by the list itself.
            self.stats.resyncs_limited += 1;
            return;
        }
        let p = self.per_peer.entry(from).or_default();
        p.asked = Some(now);
        p.awaiting = true;
        self.stats.resyncs_asked += 1;
        self.send(from, TopicMsg::Resync { held: held.entries });
    }

    /// A digest's check items: ack the topics where `from` is our child and its newest id is
    /// not ours (it has one we lack, which it then passes up, or lacks ours, which it fetches).
    fn handle_check(&mut self, from: NodeId, check: Vec<(NodeId, u32)>, now: Instant) {
        for (topic, theirs) in check.into_iter().take(TOPIC_BATCH) {
            let Some(t) = self.topics.get(&topic) else { continue };
            if t.depth.is_none() || !t.children.iter().any(|c| c.node == from) {
                continue;
            }
            match t.recent.first().copied() {
                Some(id) if newest4(&id) == theirs => self.mark_told(topic, from, &id),
                _ => {
                    self.stats.check_acks += 1;
                    self.ack_child(topic, from, now);
                }
            }
        }
    }

    /// After a matching digest: an ack for every topic with a recent post where `from` is our
    /// child and was not told our newest id (its copy may have been lost on the way down).
    fn send_news(&mut self, from: NodeId, now: Instant) {
        let news: Vec<NodeId> = self
            .posted
            .keys()
            .filter(|k| {
                self.topics.get(k).is_some_and(|t| {
                    let newest = t.recent.first().map(prefix);
                    t.depth.is_some()
                        && t.children.iter().any(|c| c.node == from && c.acked.is_none_or(|a| a.newest != newest))
                })
            })
            .copied()
            .collect();
        for topic in news {
            self.stats.news_acks += 1;
            self.ack_child(topic, from, now);
        }
    }

    /// `from` re-sent its list after our `Resync` at `asked`: its entries the list did not
    /// name (last `Subscribe` before `asked`) go.
    fn drop_unlisted(&mut self, from: NodeId, asked: Instant) {
        let stale: Vec<NodeId> = self
            .topics
            .iter()
            .filter(|(_, t)| {
                t.children.iter().any(|c| c.node == from && c.expires.0.saturating_sub(TOPIC_CHILD_TTL_MS) < asked.0)
            })
            .map(|(k, _)| *k)
            .collect();
        self.stats.relist_dropped += stale.len() as u64;
        for topic in stale {
            self.drop_child(topic, from);
            self.gc(topic);
        }
    }

    /// The refresh (`handle_timeout`, every `TOPIC_REFRESH_MS`): children past their TTL go,
    /// and each parent gets our digest if `speaks_digest(parent)`, else our whole list.
    pub(super) fn refresh(&mut self, now: Instant, speaks_digest: &dyn Fn(NodeId) -> bool) {
        self.refreshes = self.refreshes.wrapping_add(1);
        let expired: Vec<(NodeId, NodeId)> = self
            .topics
            .iter()
            .flat_map(|(k, t)| t.children.iter().filter(|c| self.expired(c, now)).map(|c| (*k, c.node)))
            .collect();
        for (topic, child) in expired {
            self.drop_child(topic, child);
            self.gc(topic);
        }
        self.forget_stale(now);
        let mut batches: BTreeMap<NodeId, Vec<NodeId>> = BTreeMap::new();
        for (k, t) in &self.topics {
            if let Some(p) = t.parent {
                batches.entry(p).or_default().push(*k);
            }
        }
        self.digest_sent.clear();
        for (p, topics) in batches {
            if speaks_digest(p) {
                self.send_digest(p, &topics, false);
            } else {
                for k in &topics {
                    if let Some(t) = self.topics.get_mut(k) {
                        t.sent_up = false;
                    }
                }
                self.send_list(p, &topics);
            }
        }
    }

    /// Our whole list of `topics` to parent `p`, in `TOPIC_BATCH` chunks.
    pub(super) fn send_list(&mut self, p: NodeId, topics: &[NodeId]) {
        for chunk in topics.chunks(TOPIC_BATCH) {
            self.send(p, TopicMsg::Subscribe { topics: chunk.to_vec() });
        }
    }
}
