//! Per-author delivery trees in a node (issue 10; docs/scaling.md "Per-author trees"): moves
//! the tree frames between peers and `topic.rs`'s pure [`TopicTable`], feeds it the interest
//! sets, and sends posts over it instead of over the all-cores Plumtree.
//!
//! * **When.** A core set to `--delivery follow`, or in `auto` from the `preparing` level on
//!   (`sample.rs`: the estimated size against `AUTO_FOLLOW_MIN_NODES`); leaves never do (their
//!   homes do it for them). Below the `trees` level an `auto` core publishes on the core
//!   Plumtree too, stores every post it takes, and passes a tree-taken post on over the
//!   Plumtree when its Plumtree copy comes (`tree_late_plumtree`), so cores not switched yet
//!   miss nothing.
//! * **Which topics.** The owner's followees, every attached leaf's interest set, and the
//!   public sample for a newcomer (`wants_sample`): synced on
//!   each housekeeping tick (`want` what is new, `unwant` what went: an unfollow unsubscribes).
//! * **Ring.** With `--directory ring` the trees route over the ring directory's table. With
//!   `--directory broadcast` every core holds every core's record, so the table is the
//!   converged ring of the directory's live cores (`RingTable::converged`), rebuilt every
//!   `TREE_RING_REBUILD_MS`, minus the cores found unreachable or not speaking the trees lately
//!   (`TREE_DOWN_CAP` of them, each for `TREE_DOWN_MS`).
//! * **Posts.** An event published here (by the owner or an attached leaf) goes to the leaves
//!   that want it and onto its author's tree (`TopicTable::handle_post`), never to the core
//!   Plumtree. A `TopicPost` is verified like a gossiped event, its topic must be its author's,
//!   and it is delivered to the application only if this node wants the topic (a relay core on
//!   the path does not store it). A Plumtree event from a core of a broadcast-mode node is
//!   handled as before and also put on its tree, so mixed networks do not split. The post path
//!   is in `trees_post.rs`.
//!
//! * **Refresh.** By digest (`topic_digest.rs`) to a connected parent that announced
//!   `FEATURE_DIGESTS`, else the whole list.
//!
//! Must not: send a tree frame to a peer that did not announce `FEATURE_TREES`, or a digest
//! frame to one that did not announce `FEATURE_DIGESTS` (an older build drops the link on
//! an unknown variant), or act on one from such a peer; hold anything unbounded (the table has
//! its caps; `down` is capped).

use std::collections::{BTreeMap, BTreeSet};

use super::params::*;
use super::ring::{RingPeer, RingTable};
use super::sample::{sample_bits, sample_topic, AutoLevel, SampleGate, SampleStats};
use super::topic::{topic_of, TopicMsg, TopicOut, TopicTable};
use super::{ConnId, Instant, Overlay};
use crate::wire::{DeliveryMode, Key32, Msg, MsgId, NodeId, Role, FEATURE_DIGESTS, FEATURE_TREES};

/// A node's tree state (cores in follow mode only; boxed in `Overlay`).
#[derive(Debug)]
pub(super) struct Trees {
    pub(super) table: TopicTable,
    /// The ring built from the broadcast directory (unused with `--directory ring`).
    ring: RingTable,
    ring_built: Option<Instant>,
    /// Directory size at the last build: a change rebuilds at the next tick.
    ring_dir_len: usize,
    /// Topics `want`ed for the owner or a leaf (≤ `TOPIC_CAP`).
    wanted: BTreeSet<NodeId>,
    /// Our parents and children in any tree (links kept open), refreshed every tick.
    neighbours: BTreeSet<NodeId>,
    /// Cores left out of the built ring until the instant given (≤ `TREE_DOWN_CAP`).
    down: BTreeMap<NodeId, Instant>,
    /// The sample topic's per-author gap and rate (`sample.rs`).
    sample: SampleGate,
    /// Posts taken from a tree and not passed on over the core Plumtree, newest last
    /// (≤ `TREE_TOOK_CAP`): a Plumtree copy of one arriving later is relayed then.
    took: std::collections::VecDeque<MsgId>,
}

/// How an event reached [`Overlay::accept_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Via {
    /// Plumtree (or published by an attached leaf, which uses `Gossip` to its homes).
    Gossip,
    /// A `TopicPost` on the author's tree (or on its way there).
    Tree {
        /// The frame's `routed` flag.
        routed: bool,
    },
}

fn to_msg(m: TopicMsg) -> Msg {
    match m {
        TopicMsg::Subscribe { topics } => Msg::Subscribe(topics),
        TopicMsg::Unsubscribe { topics } => Msg::Unsubscribe(topics),
        TopicMsg::Ack { topic, depth, recent } => Msg::TopicAck { topic, depth, recent },
        TopicMsg::Redirect { topic, to } => Msg::TopicRedirect { topic, to },
        TopicMsg::Refused { topic } => Msg::TopicRefused(topic),
        TopicMsg::Digest { count, hash, relisted, check } => Msg::TopicDigest { count, hash, relisted, check },
        TopicMsg::Resync { held } => Msg::TopicResync(held),
    }
}

impl Overlay {
    /// True if this node runs the per-author trees now: a core set to `--delivery follow`, or
    /// in `auto` from the `Preparing` level on (`sample.rs`: half `AUTO_FOLLOW_MIN_NODES`).
    pub(super) fn trees_on(&self) -> bool {
        self.role == Role::Core
            && self.reach_deadline.is_none()
            && match self.cfg.delivery {
                DeliveryMode::Follow => true,
                DeliveryMode::Auto => self.auto.level >= AutoLevel::Preparing,
                DeliveryMode::Broadcast => false,
            }
    }

    /// True if posts published here (or by our leaves) go on the trees only, not also on the
    /// core Plumtree: `follow`, or `auto` at the `Trees` level (twice `AUTO_FOLLOW_MIN_NODES`).
    /// Below it an `auto` core publishes on both, so cores not switched yet still get them.
    pub(super) fn trees_only(&self) -> bool {
        self.trees_on() && (self.cfg.delivery == DeliveryMode::Follow || self.auto.level == AutoLevel::Trees)
    }

    /// True if this core subscribes to the public sample: it is in `auto` and its owner, or an
    /// attached leaf in `auto`, follows nobody yet (a newcomer's global view). An explicit
    /// `follow` with an empty set is taken as meant.
    pub(super) fn wants_sample(&self) -> bool {
        let owner_new = self.cfg.delivery == DeliveryMode::Auto && self.interest.own_is_empty();
        owner_new || self.interest.a_leaf_follows_nobody()
    }

    /// The sample's state for `/status`: (subscribed, attached, share bits, counters), if the
    /// trees run.
    pub fn sample_state(&self) -> Option<(bool, bool, u32, SampleStats)> {
        let t = self.trees.as_ref().filter(|_| self.trees_on())?;
        let topic = sample_topic();
        let attached = t.table.depth(topic).is_some();
        Some((t.wanted.contains(&topic), attached, self.sample_bits_now(), t.sample.stats))
    }

    /// The sample share for our current estimate (`sample_bits`).
    fn sample_bits_now(&self) -> u32 {
        let est = match self.cfg.delivery {
            DeliveryMode::Auto if self.auto.estimate > 0 => self.auto.estimate,
            _ => self.estimate_nodes_cheap(),
        };
        sample_bits(est)
    }

    /// The estimate without the ring's walk over held records (a `follow` core, which keeps
    /// no `auto` state): the directory size, or the ring's core count.
    fn estimate_nodes_cheap(&self) -> u64 {
        match self.dht.as_ref().filter(|_| self.trees_on_dht()) {
            None => self.dir.len() as u64,
            Some(d) => super::sample::estimate_cores_ring(d.table()),
        }
    }

    /// Topics held, if the trees run (`/status`).
    pub fn tree_topics(&self) -> Option<usize> {
        self.trees.as_ref().filter(|_| self.trees_on()).map(|t| t.table.len())
    }

    /// Topics wanted for the owner or a leaf, if the trees run.
    pub fn tree_wanted(&self) -> Option<usize> {
        self.trees.as_ref().filter(|_| self.trees_on()).map(|t| t.wanted.len())
    }

    /// Topics attached to their tree (acked by a parent, or rooted here), if the trees run.
    pub fn tree_parents(&self) -> Option<usize> {
        self.trees.as_ref().filter(|_| self.trees_on()).map(|t| t.table.attached())
    }

    /// The authors whose trees this node runs for itself and its leaves (the follow-mode
    /// catch-up asks each one's tree), if the trees run; `None` otherwise.
    pub fn tree_authors(&self) -> Option<Vec<Key32>> {
        self.trees_on().then(|| self.interest_authors().into_iter().collect())
    }

    /// Where `author`'s tree reaches this node: `Some(Some(parent))` once attached below a
    /// parent, `Some(None)` if this node is the root, `None` if not attached (or no trees).
    pub fn tree_source(&self, author: &Key32) -> Option<Option<NodeId>> {
        let t = self.trees.as_ref().filter(|_| self.trees_on())?;
        let topic = topic_of(author);
        match t.table.depth(topic)? {
            0 => Some(None),
            _ => t.table.parent(topic).map(Some),
        }
    }

    /// The tree table, if the trees ever ran (tests, the simulator).
    pub fn tree_table(&self) -> Option<&TopicTable> {
        self.trees.as_ref().map(|t| &t.table)
    }

    /// The trees' counters, if they ever ran.
    pub fn tree_stats(&self) -> Option<&super::topic::TopicStats> {
        self.trees.as_ref().map(|t| &t.table.stats)
    }

    /// True if `node` is our parent or child in some tree (its link is kept open).
    pub(super) fn is_tree_neighbour(&self, node: NodeId) -> bool {
        self.trees.as_ref().is_some_and(|t| t.neighbours.contains(&node))
    }

    pub(super) fn ensure_trees(&mut self) -> bool {
        if !self.trees_on() {
            return false;
        }
        if self.trees.is_none() {
            self.trees = Some(Box::new(Trees {
                table: TopicTable::new(self.me, self.now),
                ring: RingTable::new(RingPeer { node: self.me, prefix: 0 }),
                ring_built: None,
                ring_dir_len: 0,
                wanted: BTreeSet::new(),
                neighbours: BTreeSet::new(),
                down: BTreeMap::new(),
                sample: SampleGate::new(self.now),
                took: std::collections::VecDeque::new(),
            }));
            log::info!("delivery: per-author trees on");
        }
        true
    }

    /// True if the trees route on the ring directory's table: with `--directory ring`, or
    /// `auto` once records go to the ring only. Below that (`auto` at `Broadcast` or `Both`)
    /// every core still holds the broadcast directory, so the trees keep the ring built from
    /// it, the one every core not yet running the ring routes on too.
    pub(super) fn trees_on_dht(&self) -> bool {
        self.dht.is_some() && self.records_ring_only()
    }

    /// Rebuild the broadcast directory's ring if due (or `force`).
    fn rebuild_ring(&mut self, force: bool) {
        if self.trees_on_dht() {
            return;
        }
        let now = self.now;
        let unix = self.unix_now();
        let my_prefix = self.advertised.map_or(0, |a| a.prefix());
        let dir_len = self.dir.len();
        let Some(t) = self.trees.as_mut() else { return };
        let fresh = t.ring_built.is_some_and(|b| now.since(b) < TREE_RING_REBUILD_MS);
        // A grown directory rebuilds early only while the ring is still small (a node starting
        // up): later growth waits for the period, so one tree does not move on every join.
        let early = t.ring_dir_len != dir_len && t.ring.known().len() < TREE_RING_EARLY_CORES;
        if !force && fresh && !early {
            return;
        }
        t.ring_built = Some(now);
        t.ring_dir_len = dir_len;
        t.down.retain(|_, until| *until > now);
        let mut all: Vec<RingPeer> = self
            .dir
            .iter()
            .filter(|(n, e)| e.role == Role::Core && e.is_live(unix) && !t.down.contains_key(n))
            .filter_map(|(n, e)| e.addr.map(|a| RingPeer { node: *n, prefix: a.prefix() }))
            .collect();
        all.sort_by_key(|p| p.node.0);
        let before: Vec<NodeId> = t.ring.known().iter().map(|p| p.node).collect();
        t.ring = RingTable::converged(RingPeer { node: self.me, prefix: my_prefix }, &all);
        if t.ring.known().iter().map(|p| p.node).ne(before) {
            t.table.ring_changed(&t.ring, now);
            self.drain_trees();
        }
    }

    /// A core came up: if it was left out of the ring, it is back in.
    pub(super) fn tree_peer_up(&mut self, node: NodeId) {
        if self.trees.as_mut().is_some_and(|t| t.down.remove(&node).is_some()) {
            self.rebuild_ring(true);
        }
    }

    /// Leave `node` out of the built ring for a while (unreachable, or an older build).
    fn tree_peer_down(&mut self, node: NodeId) {
        let until = self.now.plus_ms(TREE_DOWN_MS);
        let Some(t) = self.trees.as_mut() else { return };
        if !t.ring.known().iter().any(|p| p.node == node) {
            return;
        }
        if t.down.len() >= TREE_DOWN_CAP {
            let first = t.down.keys().next().copied();
            if let Some(f) = first {
                t.down.remove(&f);
            }
        }
        t.down.insert(node, until);
        t.ring.remove(node);
    }

    /// Housekeeping: keep the topics in step with the interest sets, run the table's timers,
    /// carry out its outputs.
    pub(super) fn trees_tick(&mut self) {
        if !self.ensure_trees() {
            // Off (an `auto` core whose estimate fell): its tree links are no longer kept
            // open; the subscriptions lapse at both ends (`TOPIC_CHILD_TTL_MS`).
            if let Some(t) = self.trees.as_mut() {
                t.neighbours.clear();
            }
            return;
        }
        self.rebuild_ring(false);
        let mut desired: BTreeSet<NodeId> = self.interest_authors().iter().map(topic_of).collect();
        desired.insert(topic_of(&self.cfg.owner));
        if self.wants_sample() {
            desired.insert(sample_topic());
        }
        let now = self.now;
        let on_dht = self.trees_on_dht();
        let Some(t) = self.trees.as_mut() else { return };
        let ring = match self.dht.as_ref().filter(|_| on_dht) {
            Some(d) => d.table(),
            None => &t.ring,
        };
        let gone: Vec<NodeId> = t.wanted.difference(&desired).copied().collect();
        for topic in gone {
            t.table.unwant(topic);
            t.wanted.remove(&topic);
        }
        for topic in desired {
            if !t.wanted.contains(&topic) && t.table.want(ring, topic, now) {
                t.wanted.insert(topic);
            }
        }
        // A parent refreshed by digest must have announced it on the link it is on now; one
        // not connected gets the list (the safe form; the link is dialled for it).
        let (by_node, conns) = (&self.by_node, &self.conns);
        let speaks_digest =
            |n: NodeId| by_node.get(&n).and_then(|c| conns.get(c)).is_some_and(|c| c.features & FEATURE_DIGESTS != 0);
        t.table.handle_timeout(ring, now, &speaks_digest);
        t.neighbours = t.table.neighbours();
        self.drain_trees();
    }

    /// Carry out the table's outputs.
    fn drain_trees(&mut self) {
        let mut outs = Vec::new();
        if let Some(t) = self.trees.as_mut() {
            while let Some(o) = t.table.poll_output() {
                outs.push(o);
            }
        }
        for o in outs {
            match o {
                TopicOut::Send { to, msg } => self.tree_send(to, to_msg(msg)),
                TopicOut::Post { to, topic, id, routed } => {
                    if let Some(g) = self.cache.get(&id) {
                        let body = g.body.clone();
                        self.tree_send(to, Msg::TopicPost { topic, routed, body });
                    }
                }
                TopicOut::Relayed { id, .. } => self.deliver_relayed(id),
                TopicOut::Want { from, topic, id } => {
                    if !self.seen.contains(&id) {
                        self.tree_send(from, Msg::TopicFetch { topic, id });
                    }
                }
            }
        }
    }

    /// Send a tree frame: on the link if `to` is connected and speaks the trees, else dial
    /// the address the ring knows (queued frames are dropped at the handshake if it does not
    /// speak them, `tree_filter_queue`).
    fn tree_send(&mut self, to: NodeId, msg: Msg) {
        let digest = matches!(msg, Msg::TopicDigest { .. } | Msg::TopicResync(_));
        if digest && !self.peer_speaks(to, FEATURE_DIGESTS) {
            // Only ever meant for a connected peer that announced it (a link that changed
            // under us): an older build would drop the link on the unknown frame.
            self.stats.tree_dropped += 1;
            return;
        }
        if self.by_node.contains_key(&to) {
            if self.peer_speaks(to, FEATURE_TREES) {
                self.send_node(to, msg);
            } else {
                self.stats.tree_dropped += 1;
                self.tree_peer_down(to);
            }
            return;
        }
        let addr = match self.dht.as_ref().filter(|_| self.trees_on_dht()) {
            Some(d) => d.addr_of(to),
            None => self.dir.get(to).and_then(|e| e.addr),
        };
        match addr {
            Some(a) if self.send_or_dial(to, a, msg) => {}
            _ => self.stats.tree_dropped += 1,
        }
    }

    /// A connection came up: tree frames queued for a peer that does not speak them are
    /// dropped (and the peer is left out of the ring for a while).
    pub(super) fn tree_filter_queue(&mut self, node: NodeId, features: u8, queued: &mut Vec<Msg>) {
        if features & FEATURE_TREES != 0 || !queued.iter().any(Msg::is_tree) {
            return;
        }
        let before = queued.len();
        queued.retain(|m| !m.is_tree());
        self.stats.tree_dropped += (before - queued.len()) as u64;
        self.tree_peer_down(node);
    }

    /// A dial to `addr` failed: if it is a core of the built ring, leave it out for a while.
    pub(super) fn tree_dial_failed(&mut self, addr: Option<crate::wire::Addr>) {
        let Some(addr) = addr else { return };
        let Some(t) = self.trees.as_ref() else { return };
        let hit = t.ring.known().iter().map(|p| p.node).find(|n| self.dir.get(*n).and_then(|e| e.addr) == Some(addr));
        if let Some(n) = hit {
            self.tree_peer_down(n);
        }
    }

    /// The link to `node` is gone: it is no longer a child anywhere, and topics it was parent
    /// of rejoin along the ring.
    pub(super) fn tree_node_down(&mut self, node: NodeId) {
        let now = self.now;
        let on_dht = self.trees_on_dht();
        let Some(t) = self.trees.as_mut() else { return };
        let ring = match self.dht.as_ref().filter(|_| on_dht) {
            Some(d) => d.table(),
            None => &t.ring,
        };
        t.table.handle_disconnect(ring, node, now);
        self.drain_trees();
    }

    /// A tree frame from an authenticated peer.
    pub(super) fn on_tree_frame(&mut self, conn: ConnId, from: NodeId, msg: Msg) {
        let features = self.conns.get(&conn).map_or(0, |c| c.features);
        let digest = matches!(msg, Msg::TopicDigest { .. } | Msg::TopicResync(_));
        let announced = features & FEATURE_TREES != 0 && (!digest || features & FEATURE_DIGESTS != 0);
        if !announced || !self.ensure_trees() {
            self.stats.tree_dropped += 1;
            return;
        }
        let tm = match msg {
            Msg::Subscribe(topics) => TopicMsg::Subscribe { topics },
            Msg::Unsubscribe(topics) => TopicMsg::Unsubscribe { topics },
            Msg::TopicAck { topic, depth, recent } => TopicMsg::Ack { topic, depth, recent },
            Msg::TopicRedirect { topic, to } => TopicMsg::Redirect { topic, to },
            Msg::TopicRefused(topic) => TopicMsg::Refused { topic },
            Msg::TopicDigest { count, hash, relisted, check } => TopicMsg::Digest { count, hash, relisted, check },
            Msg::TopicResync(held) => TopicMsg::Resync { held },
            Msg::TopicPost { topic, routed, body } => return self.on_topic_post(conn, from, topic, routed, body),
            Msg::TopicFetch { topic, id } => return self.on_topic_fetch(from, topic, id),
            _ => return,
        };
        let now = self.now;
        let on_dht = self.trees_on_dht();
        let Some(t) = self.trees.as_mut() else { return };
        let ring = match self.dht.as_ref().filter(|_| on_dht) {
            Some(d) => d.table(),
            None => &t.ring,
        };
        t.table.handle_msg(ring, from, tm, now);
        t.neighbours = t.table.neighbours();
        self.drain_trees();
    }
}

#[path = "trees_post.rs"]
mod post;
