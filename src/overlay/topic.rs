//! Per-author delivery trees among core nodes (issue 10; docs/scaling.md "Per-author trees"):
//! Scribe over the ring of `ring.rs`, with SplitStream's push-down when a node is full. Pure and
//! sans-IO: the caller passes the ring table and the time in, and drains [`TopicOut`]s. Run in
//! nodes by `trees.rs`, at scale by `sim/trees.rs` (`examples/trees_bench.rs`). The parent's side
//! of a subscription (taking children, push-down, acking refreshes) is in `topic_parent.rs`.
//!
//! * **Topic.** One per author: its key on the ring is [`topic_of`] (a hash of the author's
//!   key, so popular authors' roots spread over the cores); its **root** is the key's ring owner.
//! * **Join.** A core that wants an author (its owner follows it, or a leaf of it does) sends
//!   `Subscribe` to `ring.next_hop(topic)`. Each hop keeps the sender as a child (at most
//!   `TOPIC_CHILDREN`; a full node answers `Redirect` to one of its children instead) and, if it
//!   is not in the tree yet, joins the same way. A parent tells each child its depth (`Ack`; the
//!   root is depth 0) and, when its depth changes, tells its children at once; a node whose path
//!   broke tells its children `depth: None` (detached) and they wait for it to rejoin.
//! * **Soft state.** Children refresh every `TOPIC_REFRESH_MS`, once per parent: by digest to
//!   a parent that speaks it (`topic_digest.rs`: one frame per link, every entry renewed on a
//!   match, the whole list only after a mismatch), else the whole list in one batch. A child
//!   not heard for `TOPIC_CHILD_TTL_MS` is forgotten, and a node whose last child and own
//!   interest are gone unsubscribes. `Unsubscribe` on unfollow. A parent acks a periodic list
//!   refresh only if its newest id or depth changed since its last ack to that child, or that
//!   ack is `TOPIC_QUIET_ACK_MAX_MS` old (a re-sent subscription is always acked).
//! * **Posts.** The author's home routes the post toward the root (`routed: true`, hop by hop);
//!   the first tree member on the way floods it over the tree's edges (parent and children, not
//!   back where it came from), so it never has to climb to the root first. Each member keeps the
//!   latest `TOPIC_RECENT` ids per topic and announces them in every ack: a child that missed
//!   one (a broken link, a new parent) asks for it ([`TopicOut::Want`]), and a child holding
//!   one the ack does not list (the parent was down, or joined after the post) passes it up,
//!   at most once per `TOPIC_PUSH_UP_MS`. This is Plumtree's
//!   eager push plus IHAVE repair, on a tree the subscriptions built instead of one pruned out of
//!   a flood.
//!
//! Hostile inputs. The sender of every message is the authenticated connection (`from`), never
//! a field: an `Unsubscribe` removes only its sender, an `Ack` or `Redirect` counts only from
//! the node we subscribed to. A node takes a child only if it is the topic's root, already
//! attached to the tree, or nearer the key than the sender (a genuine routing step), and never
//! takes its own parent as a child: so parent pointers follow strictly shrinking ring distance
//! or lead into an attached tree, and cannot loop; the depth cap (`TOPIC_MAX_DEPTH`) catches any
//! loop that races past this anyway. A claim to be the root (`depth: 0`) is believed only from a
//! node that could own the key as far as our ring table knows. One peer holds at most
//! `TOPIC_SUBS_PER_PEER` child entries and the node at most `TOPIC_CAP` topics: a subscriber
//! flood costs refusals, never memory. Posts are signed events checked by the caller before
//! they reach here; a tree copy from a node that is neither parent nor child is dropped.
//!
//! Must not: read a clock or RNG, or hold anything unbounded.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use sha2::{Digest, Sha256};

use super::params::{
    TOPIC_ACK_TIMEOUT_MS, TOPIC_BATCH, TOPIC_CAP, TOPIC_MAX_DEPTH, TOPIC_MAX_REDIRECTS, TOPIC_OUTBOX_CAP,
    TOPIC_PUSH_UP_MS, TOPIC_RECENT, TOPIC_REFRESH_MS, TOPIC_RETRY_SCANS,
};
use super::ring::{dist, Hop, RingTable};
use super::types::Instant;
use crate::wire::{Key32, MsgId, NodeId};

/// The ring key of an author's topic: the low 64 bits of SHA-256("nostrp2p/topic" ‖ key).
pub fn topic_of(author: &Key32) -> NodeId {
    let mut h = Sha256::new();
    h.update(b"nostrp2p/topic");
    h.update(author.0);
    let d = h.finalize();
    let mut low = [0u8; 8];
    low.copy_from_slice(&d[..8]);
    NodeId(u64::from_le_bytes(low))
}

pub use super::topic_msg::{PostVerdict, TopicMsg, TopicOut, TopicStats};

#[derive(Debug, Clone)]
struct Child {
    node: NodeId,
    /// Last `Subscribe` from it plus `TOPIC_CHILD_TTL_MS`.
    expires: Instant,
    /// Our last ack to it: the 4-byte prefix of the newest id it announced, and when.
    acked: Option<Acked>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Acked {
    newest: Option<[u8; 4]>,
    at: Instant,
}

/// Outbox capacity kept between bursts (64 × 56 B).
const OUTBOX_KEEP: usize = 64;

/// Bounds the memory figure of `TOPIC_CHILDREN` and `TOPIC_CAP` (params.rs).
const _: () = assert!(std::mem::size_of::<Child>() <= 32);

fn prefix(id: &MsgId) -> [u8; 4] {
    [id.0[0], id.0[1], id.0[2], id.0[3]]
}

#[derive(Debug, Clone, Default)]
struct Topic {
    /// This node's owner or one of its leaves wants the author.
    local: bool,
    /// The node we subscribed to (pending until it acks with a depth).
    parent: Option<NodeId>,
    /// Our depth: `Some` = attached to the root (0 = we are the root).
    depth: Option<u8>,
    redirects: u8,
    /// Grown one entry at a time (`topic_parent.rs`): most topics have one or two children,
    /// and `Vec`'s first growth to four would cost 64–96 B more per topic (at 4,000 topics
    /// a core, 0.3 MB; in the 100k-node simulator, 10,000 cores of it, 3 GB).
    children: Vec<Child>,
    /// Newest first, ≤ `TOPIC_RECENT` (a `Vec`: 8 B less per topic than a `VecDeque`).
    recent: Vec<MsgId>,
    /// Last time we passed our parent posts its ack did not list (≤ once per `TOPIC_PUSH_UP_MS`).
    pushed_up: Option<Instant>,
    /// A post went to our parent since our last refresh digest to it: the digest asks the
    /// parent to confirm it has our newest id (`topic_digest.rs`).
    sent_up: bool,
}

/// Held per topic (`TOPIC_CAP` of them at most); 8 B more is 0.3 GB in the 100k simulator.
const _: () = assert!(std::mem::size_of::<Topic>() <= 88);

/// What a parent holds for one peer that is its child in some trees (`topic_digest.rs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PeerSubs {
    /// Child entries over all topics (≤ `TOPIC_SUBS_PER_PEER`).
    entries: u32,
    /// Wrapping sum of `topic_mix` over those topics: with `entries`, the digest a child's
    /// refresh is compared with, kept up to date as entries come and go.
    sum: u64,
    /// The last matching digest: every entry lives `TOPIC_CHILD_TTL_MS` past it.
    renewed: Option<Instant>,
    /// The last `Resync` we sent it (≤ one per `TOPIC_RESYNC_GAP_MS`).
    asked: Option<Instant>,
    /// Asked, and its `relisted` digest has not come yet.
    awaiting: bool,
}

/// One core's trees. Memory: ≤ `TOPIC_CAP` topics (≈ 600 B each worst case, see `params`) and
/// `TOPIC_OUTBOX_CAP` outputs.
#[derive(Debug)]
pub struct TopicTable {
    me: NodeId,
    topics: BTreeMap<NodeId, Topic>,
    /// Per peer with child entries here (≤ `TOPIC_SUBS_PER_PEER` each), plus at most
    /// `TOPIC_RESYNC_PEERS` entry-less peers asked to resync lately.
    per_peer: BTreeMap<NodeId, PeerSubs>,
    /// Topics with a new post in the last `TOPIC_NEWS_KEEP_REFRESHES` refresh periods (the
    /// value: `refreshes` then; a subset of `topics`): a matching digest is answered with an
    /// ack for those the child was not told about.
    posted: BTreeMap<NodeId, u32>,
    /// Refresh periods run so far (wrapping; ages `posted`).
    refreshes: u32,
    /// Parents sent a refresh digest since the last refresh: each may ask one `Resync`.
    digest_sent: BTreeSet<NodeId>,
    out: VecDeque<TopicOut>,
    next_refresh: Instant,
    /// Topics waiting since when (subscription unanswered, refused, or parent detached): a
    /// subset of `topics`, so ≤ `TOPIC_CAP` entries of ≈ 40 B.
    waiting: BTreeMap<NodeId, Instant>,
    /// Earliest moment a waiting topic may need a retry.
    next_check: Option<Instant>,
    /// Counters.
    pub stats: TopicStats,
}

/// True if `p` can be `key`'s owner as far as `ring` knows: no known core (nor this one) lies
/// in the clockwise arc [key, p).
fn plausible_root(ring: &RingTable, key: NodeId, p: NodeId) -> bool {
    let dp = dist(key.0, p.0);
    let me = ring.me();
    me != p && dist(key.0, me.0) >= dp && ring.known().iter().all(|q| q.node == p || dist(key.0, q.node.0) >= dp)
}

impl TopicTable {
    /// No topics; the first refresh is due `TOPIC_REFRESH_MS` after `now`.
    pub fn new(me: NodeId, now: Instant) -> TopicTable {
        TopicTable {
            me,
            topics: BTreeMap::new(),
            per_peer: BTreeMap::new(),
            posted: BTreeMap::new(),
            refreshes: 0,
            digest_sent: BTreeSet::new(),
            out: VecDeque::new(),
            next_refresh: now.plus_ms(TOPIC_REFRESH_MS),
            waiting: BTreeMap::new(),
            next_check: None,
            stats: TopicStats::default(),
        }
    }

    /// Topics held.
    pub fn len(&self) -> usize {
        self.topics.len()
    }
    /// True if no topic is held.
    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }
    /// Our depth in `topic`'s tree (`Some(0)`: root), if attached.
    pub fn depth(&self, topic: NodeId) -> Option<u8> {
        self.topics.get(&topic).and_then(|t| t.depth)
    }
    /// Our parent in `topic`'s tree (pending or attached).
    pub fn parent(&self, topic: NodeId) -> Option<NodeId> {
        self.topics.get(&topic).and_then(|t| t.parent)
    }
    /// Our children in `topic`'s tree.
    pub fn children(&self, topic: NodeId) -> Vec<NodeId> {
        self.topics.get(&topic).map(|t| t.children.iter().map(|c| c.node).collect()).unwrap_or_default()
    }
    /// Topics attached to their tree (we have a depth).
    pub fn attached(&self) -> usize {
        self.topics.values().filter(|t| t.depth.is_some()).count()
    }
    /// The ring table changed (cores came or went): a topic we root but no longer own by the
    /// new table joins again along the ring (its children follow the depth change), so two
    /// roots do not stay split after tables converge.
    pub fn ring_changed(&mut self, ring: &RingTable, now: Instant) {
        let stale: Vec<NodeId> = self
            .topics
            .iter()
            .filter(|(k, t)| t.depth == Some(0) && ring.next_hop(**k) != Hop::Local)
            .map(|(k, _)| *k)
            .collect();
        for topic in stale {
            self.set_depth(topic, None, now);
            self.join(ring, topic, now);
        }
    }
    /// Every node that is our parent or child in some tree.
    pub fn neighbours(&self) -> BTreeSet<NodeId> {
        let mut out: BTreeSet<NodeId> = self.per_peer.iter().filter(|(_, p)| p.entries > 0).map(|(n, _)| *n).collect();
        out.extend(self.topics.values().filter_map(|t| t.parent));
        out
    }
    /// True if this node holds state for `topic` (a member of its tree, or waiting to be).
    pub fn holds(&self, topic: NodeId) -> bool {
        self.topics.contains_key(&topic)
    }

    /// True if this node wants `topic` for itself or its leaves.
    pub fn wants(&self, topic: NodeId) -> bool {
        self.topics.get(&topic).is_some_and(|t| t.local)
    }
    /// Child entries `peer` holds here.
    pub fn entries_of(&self, peer: NodeId) -> usize {
        self.per_peer.get(&peer).map_or(0, |p| p.entries as usize)
    }

    /// Next output to carry out.
    pub fn poll_output(&mut self) -> Option<TopicOut> {
        let out = self.out.pop_front();
        if out.is_none() && self.out.capacity() > OUTBOX_KEEP {
            // A refresh burst (one output per parent and per acked child) is over: give its
            // room back rather than hold it until the next one.
            self.out.shrink_to(OUTBOX_KEEP);
        }
        out
    }
    /// When [`TopicTable::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Instant {
        self.next_check.map_or(self.next_refresh, |c| c.min(self.next_refresh))
    }

    fn push(&mut self, o: TopicOut) {
        if self.out.len() >= TOPIC_OUTBOX_CAP {
            self.out.pop_front();
            self.stats.outbox_dropped += 1;
        }
        self.out.push_back(o);
    }
    fn send(&mut self, to: NodeId, msg: TopicMsg) {
        self.push(TopicOut::Send { to, msg });
    }
    fn wait_from(&mut self, now: Instant) {
        let at = now.plus_ms(TOPIC_ACK_TIMEOUT_MS);
        self.next_check = Some(self.next_check.map_or(at, |c| c.min(at)));
    }

    /// The owner (or a leaf) wants `topic`. Refused (false) only when `TOPIC_CAP` is reached.
    /// A topic this node only relayed until now emits [`TopicOut::Relayed`] for its recent
    /// ids: they went through without being delivered.
    pub fn want(&mut self, ring: &RingTable, topic: NodeId, now: Instant) -> bool {
        if let Some(t) = self.topics.get_mut(&topic) {
            if !t.local {
                // Relayed until now: the recent posts went through without being delivered.
                t.local = true;
                let ids: Vec<MsgId> = t.recent.iter().rev().copied().collect();
                for id in ids {
                    self.push(TopicOut::Relayed { topic, id });
                }
            }
            return true;
        }
        if self.topics.len() >= TOPIC_CAP {
            self.stats.refused_topic_cap += 1;
            return false;
        }
        self.topics.insert(topic, Topic { local: true, ..Topic::default() });
        self.join(ring, topic, now);
        true
    }

    /// Nobody here wants `topic` any more (unfollow): leaves the tree unless it relays for
    /// children.
    pub fn unwant(&mut self, topic: NodeId) {
        if let Some(t) = self.topics.get_mut(&topic) {
            t.local = false;
        }
        self.gc(topic);
    }

    /// Subscribe along the ring: to the next hop toward the key, or become the root.
    fn join(&mut self, ring: &RingTable, topic: NodeId, now: Instant) {
        let hop = ring.next_hop(topic);
        let Some(t) = self.topics.get_mut(&topic) else { return };
        t.redirects = 0;
        match hop {
            Hop::Local => {
                t.parent = None;
                self.waiting.remove(&topic);
                self.set_depth(topic, Some(0), now);
            }
            Hop::Owner(n) | Hop::Forward(n) => {
                t.parent = Some(n);
                self.waiting.insert(topic, now);
                // A node cannot be both our parent and our child.
                self.drop_child(topic, n);
                self.send(n, TopicMsg::Subscribe { topics: vec![topic] });
                self.wait_from(now);
            }
        }
    }

    /// Set our depth; on a change tell every child at once (a detached path is `None`).
    fn set_depth(&mut self, topic: NodeId, depth: Option<u8>, now: Instant) {
        let Some(t) = self.topics.get_mut(&topic) else { return };
        if t.depth == depth {
            return;
        }
        t.depth = depth;
        let kids: Vec<NodeId> = t.children.iter().map(|c| c.node).collect();
        for k in kids {
            self.ack_child(topic, k, now);
        }
    }

    /// Forget `topic` if nobody here wants it and no child relies on it.
    fn gc(&mut self, topic: NodeId) {
        let Some(t) = self.topics.get(&topic) else { return };
        if t.local || !t.children.is_empty() {
            return;
        }
        if let Some(p) = t.parent {
            self.send(p, TopicMsg::Unsubscribe { topics: vec![topic] });
        }
        self.topics.remove(&topic);
        self.waiting.remove(&topic);
    }

    /// A tree control message from the authenticated peer `from`.
    pub fn handle_msg(&mut self, ring: &RingTable, from: NodeId, msg: TopicMsg, now: Instant) {
        match msg {
            TopicMsg::Subscribe { topics } => {
                self.stats.batch_overflow += topics.len().saturating_sub(TOPIC_BATCH) as u64;
                for topic in topics.into_iter().take(TOPIC_BATCH) {
                    self.subscribe(ring, from, topic, now);
                }
            }
            TopicMsg::Unsubscribe { topics } => {
                self.stats.batch_overflow += topics.len().saturating_sub(TOPIC_BATCH) as u64;
                for topic in topics.into_iter().take(TOPIC_BATCH) {
                    self.drop_child(topic, from);
                    self.gc(topic);
                }
            }
            TopicMsg::Ack { topic, depth, recent } => self.ack(ring, from, topic, depth, recent, now),
            TopicMsg::Redirect { topic, to } => self.redirect(from, topic, to, now),
            TopicMsg::Digest { count, hash, relisted, check } => {
                self.handle_digest(from, count, hash, relisted, check, now)
            }
            TopicMsg::Resync { .. } => self.handle_resync(from),
            TopicMsg::Refused { topic } => {
                let Some(t) = self.topics.get_mut(&topic).filter(|t| t.parent == Some(from)) else {
                    self.stats.stray_control += 1;
                    return;
                };
                t.parent = None;
                self.waiting.insert(topic, now);
                self.set_depth(topic, None, now);
                self.wait_from(now);
            }
        }
    }

    fn ack(
        &mut self,
        ring: &RingTable,
        from: NodeId,
        topic: NodeId,
        depth: Option<u8>,
        recent: Vec<MsgId>,
        now: Instant,
    ) {
        if self.topics.get(&topic).is_none_or(|t| t.parent != Some(from)) {
            self.stats.stray_control += 1;
            return;
        }
        match depth {
            None => {
                self.waiting.entry(topic).or_insert(now);
                self.set_depth(topic, None, now);
                self.wait_from(now);
                return;
            }
            Some(0) if !plausible_root(ring, topic, from) => {
                self.stats.false_root += 1;
                return;
            }
            Some(d) if d.saturating_add(1) >= TOPIC_MAX_DEPTH => {
                self.stats.loops_cut += 1;
                self.set_depth(topic, None, now);
                if let Some(t) = self.topics.get_mut(&topic) {
                    t.parent = None;
                }
                self.join(ring, topic, now);
                return;
            }
            Some(d) => {
                if let Some(t) = self.topics.get_mut(&topic) {
                    self.waiting.remove(&topic);
                    t.redirects = 0;
                }
                self.set_depth(topic, Some(d + 1), now);
            }
        }
        let Some(t) = self.topics.get_mut(&topic) else { return };
        let recent: Vec<MsgId> = recent.into_iter().take(TOPIC_RECENT).collect();
        let missing: Vec<MsgId> = recent.iter().copied().filter(|id| !t.recent.contains(id)).collect();
        // The other way: posts we hold that the parent's ack does not list (it was down, or
        // joined the tree after they went out) go up, and flood the tree from there. At most
        // once per `TOPIC_PUSH_UP_MS` per topic, so a parent repeating acks cannot make us
        // upload more than `TOPIC_RECENT` posts per period.
        let due = t.pushed_up.is_none_or(|at| now.since(at) >= TOPIC_PUSH_UP_MS);
        let lacking: Vec<MsgId> =
            if due { t.recent.iter().copied().filter(|id| !recent.contains(id)).collect() } else { Vec::new() };
        if !lacking.is_empty() {
            t.pushed_up = Some(now);
            t.sent_up = true;
            self.stats.pushed_up += lacking.len() as u64;
        }
        for id in missing {
            self.push(TopicOut::Want { from, topic, id });
        }
        for id in lacking.into_iter().rev() {
            self.push(TopicOut::Post { to: from, topic, id, routed: false });
        }
    }

    fn redirect(&mut self, from: NodeId, topic: NodeId, to: NodeId, now: Instant) {
        let me = self.me;
        let Some(t) = self.topics.get_mut(&topic).filter(|t| t.parent == Some(from) && t.depth.is_none()) else {
            self.stats.stray_control += 1;
            return;
        };
        t.redirects = t.redirects.saturating_add(1);
        let own_child = t.children.iter().any(|c| c.node == to);
        if t.redirects > TOPIC_MAX_REDIRECTS || to == me || to == from || own_child {
            // Give up until the retry timer: never follow a pointer into our own subtree.
            self.stats.redirects_exhausted += 1;
            t.parent = None;
            self.waiting.insert(topic, now);
            self.wait_from(now);
            return;
        }
        t.parent = Some(to);
        self.waiting.insert(topic, now);
        self.send(to, TopicMsg::Subscribe { topics: vec![topic] });
        self.wait_from(now);
    }

    /// The link to `peer` closed (the caller has removed it from the ring table): it is no
    /// longer a child anywhere, and the topics it was parent of join again along the ring.
    pub fn handle_disconnect(&mut self, ring: &RingTable, peer: NodeId, now: Instant) {
        let affected: Vec<NodeId> = self
            .topics
            .iter()
            .filter(|(_, t)| t.parent == Some(peer) || t.children.iter().any(|c| c.node == peer))
            .map(|(k, _)| *k)
            .collect();
        for topic in affected {
            self.drop_child(topic, peer);
            if self.topics.get(&topic).is_some_and(|t| t.parent == Some(peer)) {
                self.set_depth(topic, None, now);
                self.join(ring, topic, now);
            }
            self.gc(topic);
        }
        self.per_peer.remove(&peer);
    }

    /// A post on `topic` (already verified, its author hashing to `topic`): from a peer, or
    /// `None` if published here (by the owner or a leaf). `routed` is the frame's flag.
    pub fn handle_post(
        &mut self,
        ring: &RingTable,
        from: Option<NodeId>,
        topic: NodeId,
        id: MsgId,
        routed: bool,
    ) -> PostVerdict {
        let Some(t) = self.topics.get_mut(&topic) else {
            if from.is_some() && !routed {
                self.stats.stray_posts += 1;
                return PostVerdict::Stray;
            }
            return match ring.next_hop(topic) {
                Hop::Local => PostVerdict::NoTree,
                Hop::Owner(n) | Hop::Forward(n) => {
                    self.push(TopicOut::Post { to: n, topic, id, routed: true });
                    PostVerdict::Routed
                }
            };
        };
        if t.recent.contains(&id) {
            if let Some(f) = from {
                self.mark_told(topic, f, &id);
            }
            return PostVerdict::Duplicate;
        }
        if let Some(f) = from.filter(|_| !routed) {
            if t.parent != Some(f) && !t.children.iter().any(|c| c.node == f) {
                self.stats.stray_posts += 1;
                return PostVerdict::Stray;
            }
        }
        t.recent.truncate(TOPIC_RECENT - 1);
        t.recent.insert(0, id);
        if t.parent.is_some_and(|p| Some(p) != from) {
            t.sent_up = true;
        }
        let targets: Vec<NodeId> =
            t.parent.iter().copied().chain(t.children.iter().map(|c| c.node)).filter(|n| Some(*n) != from).collect();
        if !t.children.is_empty() {
            self.posted.insert(topic, self.refreshes);
        }
        // Not joined to the tree right now (and not its root): pass it on toward the root too,
        // so a waiting member does not swallow it.
        let detached = t.parent.is_none() && t.depth != Some(0);
        for to in targets {
            self.push(TopicOut::Post { to, topic, id, routed: false });
        }
        if detached {
            if let Hop::Owner(n) | Hop::Forward(n) = ring.next_hop(topic) {
                if Some(n) != from {
                    self.push(TopicOut::Post { to: n, topic, id, routed: true });
                }
            }
        }
        if let Some(f) = from {
            // A child that sent us our newest post need not be told of it.
            self.mark_told(topic, f, &id);
        }
        PostVerdict::Fresh
    }

    /// Timers: refresh every `TOPIC_REFRESH_MS` (to each parent one `Subscribe` batch, or one
    /// digest if `speaks_digest(parent)`; children past their TTL forgotten) and retry
    /// subscriptions waiting past `TOPIC_ACK_TIMEOUT_MS`. Harmless if called early.
    pub fn handle_timeout(&mut self, ring: &RingTable, now: Instant, speaks_digest: &dyn Fn(NodeId) -> bool) {
        if self.next_check.is_some_and(|c| c <= now) {
            self.next_check = None;
            let waiting: Vec<(NodeId, Instant)> = self.waiting.iter().map(|(k, w)| (*k, *w)).collect();
            let mut earliest: Option<Instant> = None;
            for (topic, since) in waiting {
                if now.since(since) >= TOPIC_ACK_TIMEOUT_MS {
                    self.set_depth(topic, None, now);
                    self.join(ring, topic, now);
                } else {
                    let at = since.plus_ms(TOPIC_ACK_TIMEOUT_MS);
                    earliest = Some(earliest.map_or(at, |e| e.min(at)));
                }
            }
            // Scan at most `TOPIC_RETRY_SCANS` times per timeout (a retry is then up to a
            // quarter late), not once per waiting topic: the scan visits every topic.
            let floor = now.plus_ms(TOPIC_ACK_TIMEOUT_MS / TOPIC_RETRY_SCANS);
            let next = [earliest.map(|e| e.max(floor)), self.next_check.map(|c| c.max(floor))];
            self.next_check = next.into_iter().flatten().min();
        }
        if now < self.next_refresh {
            return;
        }
        self.next_refresh = now.plus_ms(TOPIC_REFRESH_MS);
        self.refresh(now, speaks_digest);
    }
}

#[path = "topic_parent.rs"]
mod parent;

#[path = "topic_digest.rs"]
mod digest;

pub use digest::{topic_digest, topic_mix};

#[cfg(test)]
#[path = "topic_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "topic_digest_tests.rs"]
mod digest_tests;
