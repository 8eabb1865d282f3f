//! Tests of the per-author trees (`topic.rs`): trees built over converged ring tables by a tiny
//! in-order message pump, and the hostile cases (subscriber flood, false root, looping parent
//! pointers, an unsubscribe for someone else, a redirect into one's own subtree).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::*;
use crate::overlay::params::{TOPIC_CAP, TOPIC_CHILDREN, TOPIC_CHILD_TTL_MS, TOPIC_MAX_DEPTH, TOPIC_SUBS_PER_PEER};
use crate::overlay::ring::{RingPeer, RingTable};
use crate::overlay::SplitMix64;

pub(super) const T0: Instant = Instant(0);

/// Cores with converged tables and a topic table each; messages delivered in order, instantly.
pub(super) struct Net {
    pub(super) rings: BTreeMap<NodeId, RingTable>,
    pub(super) tables: BTreeMap<NodeId, TopicTable>,
    pub(super) queue: VecDeque<(NodeId, TopicOut)>,
    /// Fresh deliveries per node: (topic, id).
    pub(super) got: BTreeMap<NodeId, BTreeSet<MsgId>>,
    /// Control messages carried.
    pub(super) carried: usize,
}

impl Net {
    pub(super) fn new(cores: usize, seed: u64) -> Net {
        let mut rng = SplitMix64::new(seed);
        let mut all: Vec<RingPeer> =
            (0..cores).map(|_| RingPeer { node: NodeId(rng.next_u64()), prefix: rng.next_u64() >> 40 }).collect();
        all.sort_by_key(|p| p.node);
        let rings: BTreeMap<NodeId, RingTable> = all.iter().map(|p| (p.node, RingTable::converged(*p, &all))).collect();
        let tables = all.iter().map(|p| (p.node, TopicTable::new(p.node, T0))).collect();
        Net { rings, tables, queue: VecDeque::new(), got: BTreeMap::new(), carried: 0 }
    }
    pub(super) fn ids(&self) -> Vec<NodeId> {
        self.rings.keys().copied().collect()
    }
    pub(super) fn drain(&mut self, node: NodeId) {
        if let Some(t) = self.tables.get_mut(&node) {
            while let Some(o) = t.poll_output() {
                self.queue.push_back((node, o));
            }
        }
    }
    pub(super) fn want(&mut self, node: NodeId, topic: NodeId) {
        let ring = &self.rings[&node];
        assert!(self.tables.get_mut(&node).map(|t| t.want(ring, topic, T0)).unwrap_or(false));
        self.drain(node);
    }
    pub(super) fn run(&mut self, now: Instant) {
        let mut steps = 0;
        while let Some((from, o)) = self.queue.pop_front() {
            steps += 1;
            assert!(steps < 1_000_000, "message storm");
            let (to, post) = match o {
                TopicOut::Send { to, msg } => {
                    self.carried += 1;
                    if let (Some(t), Some(r)) = (self.tables.get_mut(&to), self.rings.get(&to)) {
                        t.handle_msg(r, from, msg, now);
                    }
                    (to, None)
                }
                TopicOut::Post { to, topic, id, routed } => (to, Some((topic, id, routed))),
                TopicOut::Want { .. } => continue,
                TopicOut::Relayed { id, .. } => {
                    self.got.entry(from).or_default().insert(id);
                    continue;
                }
            };
            if let Some((topic, id, routed)) = post {
                if let (Some(t), Some(r)) = (self.tables.get_mut(&to), self.rings.get(&to)) {
                    if t.handle_post(r, Some(from), topic, id, routed) == PostVerdict::Fresh {
                        self.got.entry(to).or_default().insert(id);
                    }
                }
            }
            self.drain(to);
        }
    }
    pub(super) fn publish(&mut self, at: NodeId, topic: NodeId, id: MsgId) -> PostVerdict {
        let v = self.tables.get_mut(&at).map(|t| t.handle_post(&self.rings[&at], None, topic, id, false));
        self.drain(at);
        self.run(T0);
        v.unwrap_or(PostVerdict::Stray)
    }
    pub(super) fn has(&self, node: NodeId, id: MsgId) -> bool {
        self.got.get(&node).is_some_and(|s| s.contains(&id))
    }
    /// True if every parent pointer chain of `topic` ends at a root without repeating.
    fn acyclic(&self, topic: NodeId) -> bool {
        self.tables.keys().all(|start| {
            let mut at = *start;
            for _ in 0..=self.tables.len() {
                match self.tables[&at].parent(topic) {
                    None => return true,
                    Some(p) => at = p,
                }
            }
            false
        })
    }
}

pub(super) fn owner(net: &Net, key: NodeId) -> NodeId {
    let ids = net.ids();
    ids[ids.partition_point(|n| n.0 < key.0) % ids.len()]
}

#[test]
fn subscribers_attach_and_only_the_tree_gets_the_post() {
    let mut net = Net::new(60, 1);
    let ids = net.ids();
    let topic = topic_of(&Key32([5; 32]));
    let subs: Vec<NodeId> = ids.iter().copied().step_by(3).collect();
    for s in &subs {
        net.want(*s, topic);
    }
    net.run(T0);
    let root = owner(&net, topic);
    assert_eq!(net.tables[&root].depth(topic), Some(0), "the ring owner is the root");
    for s in &subs {
        assert!(net.tables[s].depth(topic).is_some(), "{s} attached");
    }
    assert!(net.acyclic(topic));
    // Published at a node outside the tree: routed to it, then flooded over it.
    let outsider = ids.iter().copied().find(|n| net.tables[n].is_empty()).expect("some core holds no topic");
    assert_eq!(net.publish(outsider, topic, MsgId([1; 32])), PostVerdict::Routed);
    for s in &subs {
        assert!(net.has(*s, MsgId([1; 32])), "subscriber {s} got the post");
    }
    for n in &ids {
        if net.has(*n, MsgId([1; 32])) {
            assert!(!net.tables[n].is_empty(), "{n} got it without being in the tree");
        }
    }
    // Every member got exactly one fresh copy (duplicates are not Fresh), so nothing looped.
    let members = ids.iter().filter(|n| !net.tables[*n].is_empty()).count();
    let received = ids.iter().filter(|n| net.has(**n, MsgId([1; 32]))).count();
    assert_eq!(received, members, "members other than the origin");
}

#[test]
fn unwant_prunes_the_branch_and_refresh_expires_silent_children() {
    let mut net = Net::new(40, 2);
    let ids = net.ids();
    let topic = topic_of(&Key32([6; 32]));
    let a = ids[3];
    net.want(a, topic);
    net.run(T0);
    let members: Vec<NodeId> = ids.iter().copied().filter(|n| !net.tables[n].is_empty()).collect();
    assert!(members.len() >= 2, "a and at least the root");
    if let Some(t) = net.tables.get_mut(&a) {
        t.unwant(topic);
    }
    net.drain(a);
    net.run(T0);
    for n in &ids {
        assert!(net.tables[n].is_empty(), "{n} still holds the topic after the only subscriber left");
    }
    // A child that stops refreshing is forgotten after its TTL.
    let b = ids[7];
    net.want(b, topic);
    net.run(T0);
    let parent = net.tables[&b].parent(topic).expect("b subscribed");
    net.tables.remove(&b); // b vanishes without a word
    let later = Instant(TOPIC_CHILD_TTL_MS + TOPIC_REFRESH_MS);
    for n in net.ids() {
        if let (Some(t), Some(r)) = (net.tables.get_mut(&n), net.rings.get(&n)) {
            t.handle_timeout(r, later, &|_| false);
        }
        net.drain(n);
    }
    net.run(later);
    assert!(!net.tables[&parent].children(topic).contains(&b));
}

#[test]
fn a_full_node_pushes_subscribers_down_and_every_one_still_gets_posts() {
    let mut net = Net::new(200, 3);
    let ids = net.ids();
    let topic = topic_of(&Key32([7; 32]));
    for s in &ids {
        net.want(*s, topic);
    }
    net.run(T0);
    let mut redirected = 0;
    for (n, t) in &net.tables {
        assert!(t.children(topic).len() <= TOPIC_CHILDREN, "{n} over TOPIC_CHILDREN");
        assert!(t.depth(topic).is_some(), "{n} attached");
        redirected += t.stats.redirected;
    }
    assert!(redirected > 0, "the root was full: some subscribers were pushed down");
    assert!(net.acyclic(topic));
    net.publish(ids[0], topic, MsgId([2; 32]));
    let missing = ids.iter().skip(1).filter(|n| !net.has(**n, MsgId([2; 32]))).count();
    assert_eq!(missing, 0);
}

#[test]
fn hostile_subscriber_flood_from_one_peer_is_capped_per_peer() {
    let net = Net::new(30, 4);
    let ids = net.ids();
    let (me, attacker, honest) = (ids[0], ids[1], ids[2]);
    let ring = &net.rings[&me];
    let mut t = TopicTable::new(me, T0);
    // Topics this node is root of, so it accepts any sender as a routing step.
    let pred = ids[ids.len() - 1];
    let mine: Vec<NodeId> =
        (1..=(TOPIC_SUBS_PER_PEER + 2_000) as u64).map(|i| NodeId(pred.0.wrapping_add(i))).collect();
    assert!(mine.iter().all(|k| ring.next_hop(*k) == Hop::Local));
    assert_eq!(mine.len(), TOPIC_SUBS_PER_PEER + 2_000);
    for chunk in mine.chunks(TOPIC_BATCH + 10) {
        t.handle_msg(ring, attacker, TopicMsg::Subscribe { topics: chunk.to_vec() }, T0);
    }
    assert_eq!(t.entries_of(attacker), TOPIC_SUBS_PER_PEER);
    assert!(t.len() <= TOPIC_SUBS_PER_PEER && t.len() < TOPIC_CAP);
    assert!(t.stats.refused_peer_cap > 0 && t.stats.batch_overflow > 0);
    // An honest peer still gets in.
    t.handle_msg(ring, honest, TopicMsg::Subscribe { topics: vec![mine[TOPIC_SUBS_PER_PEER + 1]] }, T0);
    assert_eq!(t.entries_of(honest), 1);
}

#[test]
fn hostile_root_claim_from_a_node_that_cannot_own_the_key_is_ignored() {
    let mut net = Net::new(40, 5);
    let ids = net.ids();
    let topic = topic_of(&Key32([8; 32]));
    let root = owner(&net, topic);
    // A subscriber whose first hop is not the owner.
    let sub = ids
        .iter()
        .copied()
        .find(|n| matches!(net.rings[n].next_hop(topic), Hop::Forward(_)))
        .expect("someone routes through a middle hop");
    net.want(sub, topic);
    net.queue.clear(); // the honest hop never answers
    let liar = net.tables[&sub].parent(topic).expect("pending parent");
    assert_ne!(liar, root);
    let ring = &net.rings[&sub];
    let t = net.tables.get_mut(&sub).expect("sub");
    t.handle_msg(ring, liar, TopicMsg::Ack { topic, depth: Some(0), recent: vec![] }, T0);
    assert_eq!(t.depth(topic), None, "a false root claim must not attach");
    assert_eq!(t.stats.false_root, 1);
    // And an Ack from a node we did not subscribe to counts for nothing.
    t.handle_msg(ring, root, TopicMsg::Ack { topic, depth: Some(0), recent: vec![] }, T0);
    assert_eq!(t.depth(topic), None);
    assert_eq!(t.stats.stray_control, 1);
}

#[test]
fn hostile_depth_counting_up_cuts_a_parent_loop() {
    let mut net = Net::new(40, 6);
    let ids = net.ids();
    let topic = topic_of(&Key32([9; 32]));
    let sub = ids.iter().copied().find(|n| net.rings[n].next_hop(topic) != Hop::Local).expect("non-root");
    net.want(sub, topic);
    net.queue.clear();
    let parent = net.tables[&sub].parent(topic).expect("pending");
    let ring = &net.rings[&sub];
    let t = net.tables.get_mut(&sub).expect("sub");
    // A looping chain reports ever larger depths; at the cap the node leaves that parent.
    for d in 1..TOPIC_MAX_DEPTH {
        t.handle_msg(ring, parent, TopicMsg::Ack { topic, depth: Some(d), recent: vec![] }, T0);
    }
    assert_eq!(t.stats.loops_cut, 1);
    assert_eq!(t.depth(topic), None);
    // It joined again along the ring (the same next hop: it sent a fresh Subscribe).
    let resent = std::iter::from_fn(|| t.poll_output())
        .filter(|o| matches!(o, TopicOut::Send { msg: TopicMsg::Subscribe { .. }, .. }))
        .count();
    assert_eq!(resent, 1);
}

#[test]
fn hostile_redirect_into_own_subtree_and_parent_subscribing_to_child_make_no_loop() {
    let mut net = Net::new(40, 7);
    let ids = net.ids();
    let topic = topic_of(&Key32([10; 32]));
    for s in &ids {
        net.want(*s, topic);
    }
    net.run(T0);
    // A node with a child and a parent: its parent (hostile, or just confused) redirects it
    // into its own child, and later subscribes to it.
    let (x, child) = ids
        .iter()
        .find_map(|n| {
            let t = &net.tables[n];
            t.parent(topic).and(t.children(topic).first().map(|c| (*n, *c)))
        })
        .expect("an inner node");
    let p = net.tables[&x].parent(topic).expect("parent");
    let ring = net.rings[&x].clone();
    let t = net.tables.get_mut(&x).expect("x");
    t.handle_msg(&ring, p, TopicMsg::Redirect { topic, to: child }, T0);
    assert_eq!(t.stats.stray_control, 1, "a redirect to an attached node is not ours to follow");
    assert_ne!(t.parent(topic), Some(child));
    // The parent subscribes to x: x drops it as parent rather than form a 2-cycle.
    t.handle_msg(&ring, p, TopicMsg::Subscribe { topics: vec![topic] }, T0);
    assert_ne!(t.parent(topic), Some(p));
    net.drain(x);
    net.run(T0);
    assert!(net.acyclic(topic), "parent pointers stay a tree");
}

#[test]
fn hostile_unsubscribe_names_only_its_sender() {
    let mut net = Net::new(30, 8);
    let ids = net.ids();
    let topic = topic_of(&Key32([11; 32]));
    for s in &ids {
        net.want(*s, topic);
    }
    net.run(T0);
    let root = owner(&net, topic);
    let kids = net.tables[&root].children(topic);
    let stranger = ids.iter().copied().find(|n| *n != root && !kids.contains(n)).expect("a non-child");
    let ring = net.rings[&root].clone();
    let t = net.tables.get_mut(&root).expect("root");
    t.handle_msg(&ring, stranger, TopicMsg::Unsubscribe { topics: vec![topic] }, T0);
    assert_eq!(t.children(topic), kids, "a stranger's unsubscribe changes nothing");
}

/// A `nodes`-node tree for topic `key` with every second node subscribed: (net, topic, root, a
/// subscriber whose parent is not the root).
fn tree_with_inner_subscriber(nodes: usize, seed: u64, key: u8) -> (Net, NodeId, NodeId, NodeId) {
    let mut net = Net::new(nodes, seed);
    let ids = net.ids();
    let topic = topic_of(&Key32([key; 32]));
    for s in ids.iter().step_by(2) {
        net.want(*s, topic);
    }
    net.run(T0);
    let root = owner(&net, topic);
    let x = ids
        .iter()
        .copied()
        .find(|n| net.tables[n].parent(topic).is_some_and(|p| p != root) && net.tables[n].wants(topic))
        .expect("a subscriber below an inner node");
    (net, topic, root, x)
}

#[test]
fn a_lost_parent_is_replaced_and_the_new_parent_s_ihave_repairs_the_gap() {
    let (mut net, topic, root, x) = tree_with_inner_subscriber(50, 9, 12);
    let dead = net.tables[&x].parent(topic).expect("parent");
    // The parent dies; a post goes out meanwhile and x misses it.
    net.tables.remove(&dead);
    net.publish(root, topic, MsgId([3; 32]));
    assert!(!net.has(x, MsgId([3; 32])));
    for r in net.rings.values_mut() {
        r.remove(dead);
    }
    let ring = net.rings[&x].clone();
    if let Some(t) = net.tables.get_mut(&x) {
        t.handle_disconnect(&ring, dead, Instant(1));
    }
    net.drain(x);
    let mut wants = Vec::new();
    while let Some((from, o)) = net.queue.pop_front() {
        match o {
            TopicOut::Want { id, .. } => wants.push(id),
            TopicOut::Send { to, msg } => {
                if let (Some(t), Some(r)) = (net.tables.get_mut(&to), net.rings.get(&to)) {
                    t.handle_msg(r, from, msg, Instant(1));
                }
                net.drain(to);
            }
            TopicOut::Post { .. } | TopicOut::Relayed { .. } => {}
        }
    }
    assert!(net.tables[&x].depth(topic).is_some(), "x rejoined");
    assert!(wants.contains(&MsgId([3; 32])), "the new parent's ack announced the missed post");
}

/// follow_big's loss at 16 processes, made small: a member holds a post its parent never got
/// (the parent was down, or joined the tree after the post went out). The parent's ack lists
/// its recent ids without it, so the member passes the post up; from there it floods the tree.
#[test]
fn a_member_passes_up_a_post_its_new_parent_lacks() {
    let (mut net, topic, root, x) = tree_with_inner_subscriber(40, 11, 21);
    let ids = net.ids();
    let parent = net.tables[&x].parent(topic).expect("parent");
    // The parent restarts (all its tree state gone); x's post goes out meanwhile and is lost.
    let post = MsgId([7; 32]);
    if let Some(t) = net.tables.get_mut(&x) {
        t.handle_post(&net.rings[&x], None, topic, post, false);
        while t.poll_output().is_some() {}
    }
    net.tables.insert(parent, TopicTable::new(parent, T0));
    let ring = net.rings[&x].clone();
    if let Some(t) = net.tables.get_mut(&x) {
        t.handle_disconnect(&ring, parent, Instant(1));
    }
    net.drain(x);
    net.run(Instant(1));
    assert!(net.tables[&x].depth(topic).is_some(), "x rejoined");
    assert!(net.has(root, post), "the root got the post x passed up");
    // Members outside the restarted parent's old subtree (those below it wait for their refresh).
    let below = |net: &Net, n: NodeId| {
        let mut at = n;
        for _ in 0..=ids.len() {
            match net.tables[&at].parent(topic) {
                Some(p) if p == parent => return true,
                Some(p) => at = p,
                None => return false,
            }
        }
        true
    };
    let members: Vec<NodeId> =
        ids.iter().copied().filter(|n| net.tables[n].wants(topic) && *n != x && !below(&net, *n)).collect();
    assert!(!members.is_empty());
    let missed: Vec<NodeId> = members.iter().copied().filter(|n| !net.has(*n, post)).collect();
    assert!(missed.is_empty(), "members without the post: {missed:?}");
}

#[test]
fn a_relay_that_starts_wanting_the_topic_delivers_the_posts_it_only_passed_on() {
    let mut net = Net::new(60, 5);
    let ids = net.ids();
    let topic = topic_of(&Key32([9; 32]));
    for s in ids.iter().copied().step_by(4) {
        net.want(s, topic);
    }
    net.run(T0);
    let relay = ids
        .iter()
        .copied()
        .find(|n| !net.tables[n].is_empty() && !net.tables[n].wants(topic))
        .expect("some member only relays");
    let outsider = ids.iter().copied().find(|n| net.tables[n].is_empty()).expect("some core holds no topic");
    net.publish(outsider, topic, MsgId([2; 32]));
    assert!(net.has(relay, MsgId([2; 32])), "the relay passed the post on");
    net.got.clear();
    net.want(relay, topic);
    net.run(T0);
    assert!(net.has(relay, MsgId([2; 32])), "the post the relay passed on is delivered once it is wanted");
    // Wanting it again emits nothing more.
    net.got.clear();
    net.want(relay, topic);
    net.run(T0);
    assert!(!net.has(relay, MsgId([2; 32])));
}

#[test]
fn a_periodic_refresh_is_acked_only_when_the_parents_newest_id_changed_or_after_a_while() {
    use crate::overlay::params::{TOPIC_QUIET_ACK_MAX_MS, TOPIC_REFRESH_MS};
    let mut net = Net::new(8, 21);
    let topic = NodeId(0x5555_0000_0000_0000);
    let root = owner(&net, topic);
    let child = net.ids().into_iter().find(|n| *n != root).expect("two cores");
    // `child` subscribes to the root at `at` (ms); the acks the root sends it back.
    let subscribe = |net: &mut Net, at: u64| -> usize {
        let ring = &net.rings[&root];
        let t = net.tables.get_mut(&root).expect("root");
        t.handle_msg(ring, child, TopicMsg::Subscribe { topics: vec![topic] }, Instant(at));
        std::iter::from_fn(|| t.poll_output())
            .filter(|o| matches!(o, TopicOut::Send { to, msg: TopicMsg::Ack { .. } } if *to == child))
            .count()
    };
    assert_eq!(subscribe(&mut net, 0), 1, "a new child is acked");
    assert_eq!(subscribe(&mut net, 10_000), 1, "a re-sent subscription (the ack was lost) is acked");
    let mut at = 10_000 + TOPIC_REFRESH_MS;
    assert_eq!(subscribe(&mut net, at), 0, "a refresh with nothing new is not acked");
    // A post on the root: the next refresh carries its id (the child may have missed it).
    let ring = &net.rings[&root];
    let t = net.tables.get_mut(&root).expect("root");
    assert_eq!(t.handle_post(ring, None, topic, MsgId([7; 32]), false), PostVerdict::Fresh);
    while t.poll_output().is_some() {}
    at += TOPIC_REFRESH_MS;
    assert_eq!(subscribe(&mut net, at), 1, "the refresh after a new post is acked");
    let last_ack = at;
    let mut acks = 0;
    while at < last_ack + TOPIC_QUIET_ACK_MAX_MS {
        at += TOPIC_REFRESH_MS;
        acks += subscribe(&mut net, at);
    }
    assert_eq!(acks, 1, "one ack per `TOPIC_QUIET_ACK_MAX_MS` even when nothing changes");
    assert_eq!(net.tables[&root].stats.acks_saved, 1 + (TOPIC_QUIET_ACK_MAX_MS / TOPIC_REFRESH_MS - 1));
}
