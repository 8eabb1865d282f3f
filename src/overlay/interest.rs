//! Follower multicast, first landing (issue 10; docs/scaling.md "Delivery"): interest sets
//! between a leaf and its homes, and the home→leaf filter.
//!
//! A leaf holds its owner's followee set (handed in by the application from the owner's newest
//! kind 3, `Input::SetInterest`) and sends it, with its `--delivery` mode, to each home whose
//! `Hello` announced `FEATURE_INTEREST` — on attach and whenever it changes (an unfollow is an
//! unsubscribe), at most once per `INTEREST_SEND_INTERVAL_MS` per home (changes in between are
//! coalesced and sent when the interval is over). A home keeps one set per attached leaf:
//! replaced, never merged; refused whole when oversized or over its rate; forgotten when the
//! leaf's link closes. When the leaf's delivery resolves to `Follow`, the home forwards it (eager
//! payload and IHAVE) only events whose author the leaf follows, that its owner wrote, or that
//! `p`-tag its owner. Core nodes running the per-author trees (`trees.rs`) receive only what
//! they or their leaves want, what they relay, and the public sample if subscribed.
//!
//! Must not: send `Interest` to a peer that did not announce it (an older build would drop the
//! link on the unknown variant), or hold more than `MAX_INTEREST_AUTHORS` keys per leaf.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::caches::Bucket;
use super::dir_auto::dir_estimate;
use super::params::*;
use super::sample::AutoLevel;
use super::{Instant, Overlay};
use crate::wire::{
    Body, ConnId, DeliveryMode, Gossip, GossipKind, Interest, Key32, Msg, NodeId, Role, FEATURE_INTEREST,
};

/// Who a broadcast event concerns: its author and the nodes of the owners it `p`-tags. Read
/// from the verified event by whoever holds it (the overlay for a received event, the driver
/// for the owner's own, `Input::Publish`), so the filter never checks an event again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    pub(super) author: Key32,
    /// Node ids (`low64(pubkey)`) of `p`-tagged users, at most `MAX_AUDIENCE_PTAGS`.
    pub(super) mentions: Vec<NodeId>,
}

impl Audience {
    /// From a verified event (`p` tags that are not 64-hex keys are ignored).
    pub fn of(author: Key32, event: Option<&crate::event::VerifiedEvent>) -> Audience {
        let mentions = event
            .map(|e| {
                e.tag_values("p")
                    .filter_map(|v| crate::hex::decode_array::<32>(v).ok())
                    .map(|k| NodeId::of_pubkey(&k))
                    .take(MAX_AUDIENCE_PTAGS)
                    .collect()
            })
            .unwrap_or_default();
        Audience { author, mentions }
    }
}

/// A home's view of one attached leaf's interest set.
#[derive(Debug)]
struct LeafInterest {
    mode: DeliveryMode,
    /// Sorted, distinct, ≤ `MAX_INTEREST_AUTHORS`.
    authors: Vec<Key32>,
    /// Update budget (`INTEREST_UPDATE_BURST`, then one per `INTEREST_UPDATE_INTERVAL_MS`).
    updates: Bucket,
}

/// Both sides' state. Memory: a home holds ≤ `LEAF_SLOTS` × `MAX_INTEREST_AUTHORS` × 32 B
/// (64 × 1,000 × 32 B = 2 MiB worst case); a leaf holds its own set (32 KB) and one entry per
/// home.
#[derive(Debug, Default)]
pub(super) struct Interests {
    /// Leaf side: our owner's followees (sorted, distinct, bounded).
    own: Vec<Key32>,
    /// Leaf side, per home: when we last sent it our set, and whether it lacks the current one.
    homes: BTreeMap<NodeId, (Option<Instant>, bool)>,
    /// Home side, per attached leaf.
    leaves: BTreeMap<NodeId, LeafInterest>,
    /// Home side: leaves' newly followed authors, for the driver to push their recent stored
    /// posts (≤ `LEAF_BACKFILL_QUEUE` entries of ≤ `LEAF_BACKFILL_AUTHORS` keys).
    backfill: VecDeque<(NodeId, Vec<Key32>)>,
}

/// Sort, dedup and bound a followee list (the first `MAX_INTEREST_AUTHORS` distinct keys in
/// the order given are kept).
pub(super) fn normalise(authors: Vec<Key32>) -> Vec<Key32> {
    let mut kept: Vec<Key32> = Vec::with_capacity(authors.len().min(MAX_INTEREST_AUTHORS));
    let mut sorted: Vec<Key32> = Vec::new();
    for a in authors {
        if kept.len() >= MAX_INTEREST_AUTHORS {
            break;
        }
        if let Err(i) = sorted.binary_search(&a) {
            sorted.insert(i, a);
            kept.push(a);
        }
    }
    sorted
}

impl Interests {
    /// True if the owner follows nobody (leaf or core).
    pub(super) fn own_is_empty(&self) -> bool {
        self.own.is_empty()
    }

    /// True if an attached leaf in `auto` told us it follows nobody (a newcomer: its home
    /// subscribes to the public sample for it).
    pub(super) fn a_leaf_follows_nobody(&self) -> bool {
        self.leaves.values().any(|l| l.mode == DeliveryMode::Auto && l.authors.is_empty())
    }
}

impl Overlay {
    /// The configured `--delivery` setting.
    pub fn delivery(&self) -> DeliveryMode {
        self.cfg.delivery
    }

    /// What this node does now: a core node resolves `auto` by its level (`sample.rs`: follow
    /// from `Both` on, i.e. past `AUTO_FOLLOW_MIN_NODES` estimated nodes); a leaf in `auto`
    /// leaves it to its homes and reports `Auto`.
    pub fn delivery_active(&self) -> DeliveryMode {
        match (self.cfg.delivery, self.role) {
            (DeliveryMode::Auto, Role::Core) if self.auto.level >= AutoLevel::Both => DeliveryMode::Follow,
            (DeliveryMode::Auto, Role::Core) => DeliveryMode::Broadcast,
            (m, _) => m,
        }
    }

    /// `--delivery auto`'s level (meaningful on a core in `auto`) and the estimated network
    /// size it was last set from.
    pub fn auto_level(&self) -> (AutoLevel, u64) {
        (self.auto.level, self.auto.estimate)
    }

    /// Lower `auto`'s threshold `T` (tests and small private networks that want the trees
    /// early; never raised past `AUTO_FOLLOW_MIN_NODES`). Takes effect at the next estimate.
    pub fn lower_auto_threshold(&mut self, nodes: u64) {
        self.auto.min_nodes = nodes.clamp(1, AUTO_FOLLOW_MIN_NODES as u64);
        self.auto.at = None;
    }

    /// Put a core in `auto` at `level` with `estimate` (hand-fed tests of a large network).
    #[cfg(test)]
    pub(super) fn force_auto(&mut self, level: AutoLevel, estimate: u64) {
        self.auto.level = level;
        self.auto.estimate = estimate;
        self.auto.min_nodes = 1;
    }

    /// The estimated network size: with the broadcast directory its size (every core holds
    /// every node's record); with the ring, the successor spacing scaled by the records held.
    pub(super) fn estimate_nodes(&self) -> u64 {
        if self.cfg.directory == super::DirectoryMode::Auto {
            // One estimate for both switches: `--directory auto`'s once the ring runs (the
            // directory drains at its `Ring` level), the directory's size below.
            return dir_estimate(self.dir_level(), self.dir.len() as u64, self.dir_auto.estimate);
        }
        self.ring_estimate_nodes().unwrap_or(self.dir.len() as u64)
    }

    /// Housekeeping: a core in `auto` re-estimates the network size (the directory's size at
    /// every tick; the ring's walk over held records every `AUTO_ESTIMATE_MS`) and moves its
    /// level (with hysteresis).
    pub(super) fn auto_tick(&mut self) {
        if self.role != Role::Core || self.cfg.delivery != DeliveryMode::Auto {
            return;
        }
        if self.ring_runs() && !self.auto.due(self.now) {
            return;
        }
        let est = self.estimate_nodes();
        if let Some(before) = self.auto.update(est, self.now) {
            log::info!(
                "delivery auto: {} -> {} (≈ {est} nodes, threshold {})",
                before.as_str(),
                self.auto.level.as_str(),
                self.auto.min_nodes
            );
        }
    }

    /// Size of our own interest set (leaf), number of leaves whose set we hold and the sum
    /// of their sizes (home).
    pub fn interest_sizes(&self) -> (usize, usize, usize) {
        let held = self.interest.leaves.values().map(|l| l.authors.len()).sum();
        (self.interest.own.len(), self.interest.leaves.len(), held)
    }

    /// The owner's followees and every attached leaf's (the topics a core in follow mode
    /// subscribes to): ≤ (1 + `LEAF_SLOTS`) × `MAX_INTEREST_AUTHORS` keys.
    pub(super) fn interest_authors(&self) -> BTreeSet<Key32> {
        let mut out: BTreeSet<Key32> = self.interest.own.iter().copied().collect();
        for l in self.interest.leaves.values() {
            out.extend(l.authors.iter().copied());
        }
        out
    }

    /// The set a home holds for `leaf` (tests, `/status` of a home).
    pub fn leaf_interest(&self, leaf: NodeId) -> Option<(DeliveryMode, &[Key32])> {
        self.interest.leaves.get(&leaf).map(|l| (l.mode, l.authors.as_slice()))
    }

    /// The application's new followee set (from the owner's newest kind 3). Replaces the old
    /// one; a leaf sends it to its homes (rate-limited, coalesced).
    pub(super) fn set_interest(&mut self, authors: Vec<Key32>) {
        let set = normalise(authors);
        if set == self.interest.own {
            return;
        }
        self.interest.own = set;
        for h in self.interest.homes.values_mut() {
            h.1 = true;
        }
        self.flush_interest();
    }

    /// Leaf: send our set to every home that lacks it and may be sent one now. Called on
    /// change, on attach and on housekeeping (for updates that waited for the interval).
    pub(super) fn flush_interest(&mut self) {
        if self.role != Role::Leaf || self.cfg.delivery == DeliveryMode::Broadcast {
            return;
        }
        let homes: Vec<NodeId> = self.homes.to_vec();
        self.interest.homes.retain(|n, _| homes.contains(n));
        for h in homes {
            let speaks = self.peer_speaks(h, FEATURE_INTEREST);
            let entry = self.interest.homes.entry(h).or_insert((None, true));
            let due = entry.0.is_none_or(|t| self.now.since(t) >= INTEREST_SEND_INTERVAL_MS);
            if !entry.1 || !due || !speaks {
                continue;
            }
            *entry = (Some(self.now), false);
            let msg = Msg::Interest(Interest { mode: self.cfg.delivery, authors: self.interest.own.clone() });
            self.send_node(h, msg);
        }
    }

    /// True if some attached leaf has told us its interest set (the filter may apply).
    #[cfg(test)]
    pub(super) fn filters_leaves(&self) -> bool {
        self.role == Role::Core && !self.interest.leaves.is_empty()
    }

    /// True if `node`'s connection announced `feature` in its `Hello`.
    pub(super) fn peer_speaks(&self, node: NodeId, feature: u8) -> bool {
        let conn = self.by_node.get(&node).and_then(|c| self.conns.get(c));
        conn.is_some_and(|c| c.features & feature != 0)
    }

    /// Home: a leaf's interest set. Anything else sending one, an oversized set, or an update
    /// over the leaf's budget is counted (`interest_dropped`) and dropped; never a ban (a
    /// future build may allow more).
    pub(super) fn on_interest(&mut self, _conn: ConnId, from: NodeId, msg: Interest) {
        if self.role != Role::Core || !self.leaves.contains(&from) || msg.authors.len() > MAX_INTEREST_AUTHORS {
            self.stats.interest_dropped += 1;
            return;
        }
        let now = self.now;
        let known = self.interest.leaves.contains_key(&from);
        let entry = self.interest.leaves.entry(from).or_insert_with(|| LeafInterest {
            mode: DeliveryMode::Broadcast,
            authors: Vec::new(),
            updates: Bucket::per_minute(60_000 / INTEREST_UPDATE_INTERVAL_MS, INTEREST_UPDATE_BURST, now),
        });
        if !entry.updates.take(now) {
            self.stats.interest_dropped += 1;
            return;
        }
        entry.mode = msg.mode;
        let mut authors = msg.authors;
        authors.sort_unstable();
        authors.dedup();
        // Newly followed authors of a leaf that had a set (a first set comes with the leaf's
        // own catch-up from its homes, `SyncReq`).
        let added: Vec<Key32> = if known && entry.mode != DeliveryMode::Broadcast {
            authors
                .iter()
                .filter(|a| entry.authors.binary_search(a).is_err())
                .take(LEAF_BACKFILL_AUTHORS)
                .copied()
                .collect()
        } else {
            Vec::new()
        };
        entry.authors = authors;
        log::debug!("leaf {from}: interest {:?}, {} authors ({} new)", entry.mode, entry.authors.len(), added.len());
        if !added.is_empty() {
            if self.interest.backfill.len() >= LEAF_BACKFILL_QUEUE {
                self.interest.backfill.pop_front();
                self.stats.interest_dropped += 1;
            }
            self.interest.backfill.push_back((from, added));
        }
    }

    /// Home: a leaf's newly followed authors, for the driver to look up their recent stored
    /// posts and hand back as `Input::LeafBackfill` (oldest update first).
    pub fn take_leaf_backfill(&mut self) -> Option<(NodeId, Vec<Key32>)> {
        self.interest.backfill.pop_front()
    }

    /// Home: push these stored events (the driver's answer to [`Overlay::take_leaf_backfill`])
    /// to `leaf`, if it is still attached, as ordinary event gossip (the leaf checks them like
    /// any other; one it holds is a duplicate).
    pub(super) fn on_leaf_backfill(&mut self, leaf: NodeId, bodies: Vec<Body>) {
        if self.role != Role::Core || !self.leaves.contains(&leaf) {
            return;
        }
        let mut bytes = 0;
        for body in bodies {
            bytes += body.len();
            if bytes > LEAF_BACKFILL_BYTES {
                break;
            }
            let Some(id) = self.crypto.event_id(body.as_slice()) else { continue };
            self.stats.leaf_backfilled += 1;
            self.send_node(leaf, Msg::Gossip(Gossip { id, round: 0, kind: GossipKind::Event, body }));
        }
    }

    /// A link closed: forget what it told us, and what we told it.
    pub(super) fn forget_interest(&mut self, node: NodeId) {
        self.interest.leaves.remove(&node);
        self.interest.homes.remove(&node);
    }

    /// Home→leaf filter: may this event go (payload or IHAVE) to `peer`? Everything but
    /// attached leaves whose delivery resolves to `Follow` gets everything; a leaf in `auto`
    /// whose owner follows nobody resolves to broadcast.
    pub(super) fn leaf_wants(&self, peer: NodeId, audience: Option<&Audience>) -> bool {
        let Some(li) = self.interest.leaves.get(&peer) else { return true };
        let follow = match li.mode {
            DeliveryMode::Broadcast => false,
            DeliveryMode::Follow => true,
            // A newcomer who follows nobody yet needs the global view to find people: in
            // `auto` an empty set keeps broadcast (an explicit `follow` is taken as meant).
            DeliveryMode::Auto => !li.authors.is_empty() && self.delivery_active() == DeliveryMode::Follow,
        };
        let Some(a) = audience else { return true };
        !follow
            || li.authors.binary_search(&a.author).is_ok()
            || NodeId::of_pubkey(&a.author.0) == peer
            || a.mentions.contains(&peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u16) -> Key32 {
        let mut k = [0u8; 32];
        k[..2].copy_from_slice(&i.to_be_bytes());
        Key32(k)
    }

    #[test]
    fn normalise_sorts_dedups_and_bounds() {
        let got = normalise(vec![key(3), key(1), key(3), key(2)]);
        assert_eq!(got, vec![key(1), key(2), key(3)]);
        let many: Vec<Key32> =
            (0..(MAX_INTEREST_AUTHORS as u16 + 50)).rev().collect::<Vec<_>>().into_iter().map(key).collect();
        let got = normalise(many);
        assert_eq!(got.len(), MAX_INTEREST_AUTHORS);
        // The first ones given are kept (kind 3 order), then sorted.
        assert_eq!(got.last(), Some(&key(MAX_INTEREST_AUTHORS as u16 + 49)));
        assert!(got.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_largest_interest_frame_fits_a_frame() {
        let msg = Msg::Interest(Interest { mode: DeliveryMode::Follow, authors: vec![key(1); MAX_INTEREST_AUTHORS] });
        assert!(crate::wire::frame_len(&msg) < crate::wire::MAX_FRAME_BYTES / 4);
    }
}
