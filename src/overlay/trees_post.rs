//! Posts on the per-author trees in a node (`trees.rs`): a `TopicPost` checked and taken
//! (`on_topic_post`), put on its author's tree and the sample's (`tree_forward`), fetched by a
//! child (`on_topic_fetch`), delivered late when a relay starts wanting the topic
//! (`deliver_relayed`), and passed on over the core Plumtree while some cores still use it
//! (`tree_late_plumtree`). Split out of `trees.rs`, which keeps the tree state, the topics'
//! upkeep, the control frames and the ring; a child module, so it shares `Trees`' fields.

use super::Via;
use crate::overlay::interest::Audience;
use crate::overlay::params::*;
use crate::overlay::sample::{in_sample, sample_accepts, sample_topic};
use crate::overlay::topic::{topic_of, PostVerdict};
use crate::overlay::{ConnId, Overlay};
use crate::wire::{Body, Gossip, GossipKind, Key32, Msg, MsgId, NodeId, MAX_BODY_BYTES};

impl Overlay {
    /// A post this core relayed without delivering (nobody here wanted its author then; now
    /// someone does): delivered and pushed to the leaves from the message cache. Verified
    /// again: the checked event of a relayed post is not kept (at most `TOPIC_RECENT` per
    /// newly wanted topic).
    pub(super) fn deliver_relayed(&mut self, id: MsgId) {
        let Some(g) = self.cache.get(&id).filter(|g| g.kind == GossipKind::Event).cloned() else {
            self.stats.tree_late_uncached += 1;
            return;
        };
        let Ok(checked) = self.crypto.verify_event(&g.id, g.body.as_slice(), self.unix_now()) else {
            self.stats.tree_late_uncached += 1;
            return;
        };
        let audience = Audience::of(checked.author, checked.event.as_ref());
        self.push_leaves_only(g.clone(), None, &audience);
        self.stats.tree_late_delivered += 1;
        self.deliver_event(g.id, g.body, checked);
    }

    /// A child asks for a post we announced: sent if we hold it and the asker is a neighbour
    /// in that topic's tree (anyone else fetches by the application's `FetchReq`).
    pub(super) fn on_topic_fetch(&mut self, from: NodeId, topic: NodeId, id: MsgId) {
        let Some(t) = self.trees.as_ref() else { return };
        let neighbour = t.table.parent(topic) == Some(from) || t.table.children(topic).contains(&from);
        let body = self.cache.get(&id).filter(|g| g.kind == GossipKind::Event).map(|g| g.body.clone());
        match body {
            Some(body) if neighbour => self.send_node(from, Msg::TopicPost { topic, routed: false, body }),
            _ => {
                self.stats.tree_dropped += 1;
                false
            }
        };
    }

    /// A post on a tree: checked like a gossiped event (`on_event`), without Plumtree's
    /// duplicate pruning.
    pub(super) fn on_topic_post(&mut self, conn: ConnId, from: NodeId, topic: NodeId, routed: bool, body: Body) {
        if body.len() > MAX_BODY_BYTES {
            return self.ban_conn(conn);
        }
        let Some(id) = self.crypto.event_id(body.as_slice()) else {
            return self.ban_conn(conn);
        };
        if self.seen.contains(&id) {
            self.stats.duplicates += 1;
            return;
        }
        let g = Gossip { id, round: 0, kind: GossipKind::Event, body };
        self.check_and_accept(conn, from, g, Via::Tree { routed }, Some(topic));
    }

    /// The event `g`, new here, came `via` from `from` (a leaf of ours, a core, or `None`:
    /// published by the owner), on the tree of `arrived_on` if it came as a `TopicPost`: puts
    /// it on its author's tree (`TopicTable::handle_post`) and, where it enters the trees here
    /// (published here or by a leaf of ours) and its id is in the sample, on the sample tree
    /// too; a tree copy is passed along the other of the two trees if this node is in it.
    /// Returns true if the application should get it (anything but a tree copy of topics
    /// nobody here wants: a relay core on the path does not store it). The caller pushes it to
    /// the leaves.
    pub(in crate::overlay) fn tree_forward(
        &mut self,
        g: &Gossip,
        author: &Key32,
        from: Option<NodeId>,
        via: Via,
        arrived_on: Option<NodeId>,
    ) -> bool {
        let own = topic_of(author);
        let sample = sample_topic();
        let bits = self.sample_bits_now();
        // Published here or by a leaf of ours (not a Plumtree copy from another core).
        let entry = from.is_none_or(|f| self.leaves.contains(&f));
        let now = self.now;
        let on_dht = self.trees_on_dht();
        let Some(t) = self.trees.as_mut() else { return true };
        let ring = match self.dht.as_ref().filter(|_| on_dht) {
            Some(d) => d.table(),
            None => &t.ring,
        };
        let deliver = match via {
            // Published here, by a leaf, or a Plumtree copy from a broadcast-mode core: it
            // enters its author's tree here (and the sample's, if it is ours to put on).
            Via::Gossip => {
                t.table.handle_post(ring, None, own, g.id, false);
                if entry && in_sample(&g.id, bits) && t.sample.admit(author, now).is_ok() {
                    t.sample.stats.entered += 1;
                    t.table.handle_post(ring, None, sample, g.id, false);
                }
                true
            }
            Via::Tree { routed } => {
                let topic = arrived_on.unwrap_or(own);
                let on_sample = topic == sample;
                // `new_here`: not a duplicate on this tree (a member's fresh copy, or a routed
                // copy passing through a non-member): it is `seen` from now on, so the other
                // tree must be served now or never.
                let (mut new_here, mut fresh_wanted) = (false, false);
                if !on_sample || t.sample.admit(author, now).is_ok() {
                    let mut verdict = t.table.handle_post(ring, from, topic, g.id, routed);
                    if verdict == PostVerdict::Stray {
                        // A tree copy from a node that is not (or no longer) our neighbour: the
                        // tree changed under the post. It is verified and would be taken as
                        // `routed` from anyone, so it is taken as that rather than lost
                        // (counted in `stray_posts` all the same).
                        verdict = t.table.handle_post(ring, from, topic, g.id, true);
                    }
                    new_here = verdict != PostVerdict::Duplicate;
                    fresh_wanted = verdict == PostVerdict::Fresh && t.table.wants(topic);
                    if on_sample && new_here {
                        t.sample.stats.relayed += 1;
                    }
                }
                // The same post on the other tree it travels on, if we are in that one too: a
                // copy arriving there later is a duplicate here and would stop.
                if on_sample {
                    if t.table.holds(own) && t.table.handle_post(ring, None, own, g.id, false) == PostVerdict::Fresh {
                        fresh_wanted |= t.table.wants(own);
                    }
                } else if new_here
                    && t.table.holds(sample)
                    && in_sample(&g.id, bits)
                    && t.sample.admit(author, now).is_ok()
                {
                    t.sample.stats.relayed += 1;
                    if t.table.handle_post(ring, None, sample, g.id, false) == PostVerdict::Fresh {
                        fresh_wanted |= t.table.wants(sample);
                    }
                }
                fresh_wanted
            }
        };
        t.neighbours = t.table.neighbours();
        self.drain_trees();
        // A core still publishing on the Plumtree (`auto` below `Trees`) keeps its global
        // view: it stores every post it takes, from a tree or not (a tree copy that passed
        // first makes the Plumtree copy a duplicate).
        deliver || !self.trees_only()
    }

    /// May a tree copy labelled `topic` carry this post by `author`? Its author's topic, or
    /// the sample's if the id is eligible (`sample_accepts`; an ineligible one is counted).
    pub(in crate::overlay) fn tree_label_ok(&mut self, topic: NodeId, author: &Key32, id: &MsgId) -> bool {
        if topic == topic_of(author) {
            return true;
        }
        let ok = topic == sample_topic() && sample_accepts(id, self.sample_bits_now());
        if !ok && topic == sample_topic() {
            if let Some(t) = self.trees.as_mut() {
                t.sample.stats.ineligible += 1;
            }
        }
        ok
    }

    /// A post taken from a tree (not passed on over the core Plumtree).
    pub(in crate::overlay) fn tree_took(&mut self, id: MsgId) {
        let Some(t) = self.trees.as_mut() else { return };
        if t.took.len() >= TREE_TOOK_CAP {
            t.took.pop_front();
        }
        t.took.push_back(id);
    }

    /// A Plumtree copy of `id` came from `from` after a tree copy: while some cores still
    /// publish on the Plumtree (`auto` below `Trees`, or `broadcast`), the flood must not stop
    /// at a core that happened to get the tree copy first, so it is passed on to our core
    /// Plumtree peers now, once (our leaves had it from the tree copy).
    pub(in crate::overlay) fn tree_late_plumtree(&mut self, id: &MsgId, from: NodeId) {
        let Some(t) = self.trees.as_mut() else { return };
        let Some(at) = t.took.iter().position(|x| x == id) else { return };
        t.took.remove(at);
        let Some(g) = self.cache.get(id).cloned() else { return };
        self.stats.tree_late_plumtree += 1;
        self.cores_only = true;
        self.push(g, Some(from), None);
        self.cores_only = false;
    }

    /// Plumtree's push restricted to our attached leaves (filtered by their interest sets).
    pub(in crate::overlay) fn push_leaves_only(&mut self, g: Gossip, from: Option<NodeId>, audience: &Audience) {
        self.leaves_only = true;
        self.push(g, from, Some(audience));
        self.leaves_only = false;
    }
}
