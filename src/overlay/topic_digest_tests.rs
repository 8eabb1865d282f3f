//! Tests of the refresh by digest (`topic_digest.rs`): per-link cost when nothing happens,
//! repair of lost copies both ways, a parent that forgot its children, stale entries after a
//! resync, and the hostile cases (a digest mismatching on purpose, a huge count from a peer
//! with no entries, a flood of entry-less peers, a `Resync` nobody asked for).

use super::tests::{Net, T0};
use super::*;
use crate::overlay::params::{TOPIC_CHILD_TTL_MS, TOPIC_RESYNC_GAP_MS, TOPIC_RESYNC_PEERS};

/// Two cores: the child `c` subscribes to `n` topics the root `r` owns (all on one link).
fn pair(n: u64, seed: u64) -> (Net, NodeId, NodeId, Vec<NodeId>) {
    let mut net = Net::new(2, seed);
    let ids = net.ids();
    let (c, r) = (ids[0], ids[1]);
    assert!(r.0 - c.0 > n, "seed {seed}: the keys below r are r's");
    let topics: Vec<NodeId> = (0..n).map(|i| NodeId(r.0 - i)).collect();
    for k in &topics {
        net.want(c, *k);
    }
    net.run(T0);
    for k in &topics {
        assert_eq!(net.tables[&c].depth(*k), Some(1), "attached below the root");
        assert_eq!(net.tables[&c].parent(*k), Some(r));
    }
    (net, c, r, topics)
}

/// Run every table's timers at `at` (`digest`: every peer speaks digests) and collect what
/// they send, without delivering it.
fn timers(net: &mut Net, at: Instant, digest: bool) -> Vec<(NodeId, TopicOut)> {
    let mut outs = Vec::new();
    for n in net.ids() {
        if let (Some(t), Some(r)) = (net.tables.get_mut(&n), net.rings.get(&n)) {
            t.handle_timeout(r, at, &|_| digest);
            while let Some(o) = t.poll_output() {
                outs.push((n, o));
            }
        }
    }
    outs
}

/// Deliver `outs` and everything they cause at `at`; returns every control message carried
/// (from, to, msg) and every `Want`.
fn deliver(net: &mut Net, at: Instant, outs: Vec<(NodeId, TopicOut)>) -> (Vec<(NodeId, NodeId, TopicMsg)>, usize) {
    let (mut msgs, mut wants) = (Vec::new(), 0);
    let mut queue: std::collections::VecDeque<(NodeId, TopicOut)> = outs.into();
    while let Some((from, o)) = queue.pop_front() {
        let to = match o {
            TopicOut::Send { to, msg } => {
                msgs.push((from, to, msg.clone()));
                if let (Some(t), Some(r)) = (net.tables.get_mut(&to), net.rings.get(&to)) {
                    t.handle_msg(r, from, msg, at);
                }
                to
            }
            TopicOut::Post { to, topic, id, routed } => {
                if let (Some(t), Some(r)) = (net.tables.get_mut(&to), net.rings.get(&to)) {
                    t.handle_post(r, Some(from), topic, id, routed);
                }
                to
            }
            TopicOut::Want { .. } => {
                wants += 1;
                continue;
            }
            TopicOut::Relayed { .. } => continue,
        };
        if let Some(t) = net.tables.get_mut(&to) {
            while let Some(o) = t.poll_output() {
                queue.push_back((to, o));
            }
        }
    }
    (msgs, wants)
}

fn period(k: u64) -> Instant {
    Instant(k * TOPIC_REFRESH_MS)
}

#[test]
fn a_matching_digest_renews_every_entry_and_nothing_comes_back() {
    let (mut net, c, r, topics) = pair(50, 1);
    // Ten periods, far past the child TTL: one digest a period on the link, not 50 topics.
    for k in 1..=10 {
        let outs = timers(&mut net, period(k), true);
        let (msgs, _) = deliver(&mut net, period(k), outs);
        assert_eq!(msgs.len(), 1, "period {k}: one frame on the link, {msgs:?}");
        assert!(matches!(msgs[0], (f, t, TopicMsg::Digest { count: 50, relisted: false, .. }) if f == c && t == r));
    }
    const { assert!(10 * TOPIC_REFRESH_MS > 2 * TOPIC_CHILD_TTL_MS) };
    for k in &topics {
        assert_eq!(net.tables[&r].children(*k), vec![c], "entry renewed by the digests");
    }
    assert_eq!(net.tables[&r].stats.digests_matched, 10);
    assert_eq!(net.tables[&r].entries_of(c), 50);
    // Refresh by list on the same tree: the whole list every period.
    let outs = timers(&mut net, period(11), false);
    let (msgs, _) = deliver(&mut net, period(11), outs);
    assert!(matches!(&msgs[0].2, TopicMsg::Subscribe { topics } if topics.len() == 50), "{msgs:?}");
}

#[test]
fn a_parent_that_forgot_its_children_gets_them_back_within_one_refresh() {
    let (mut net, c, r, topics) = pair(40, 2);
    net.tables.insert(r, TopicTable::new(r, period(1))); // restarted, every entry gone
    let outs = timers(&mut net, period(1), true);
    let (msgs, _) = deliver(&mut net, period(1), outs);
    let resyncs = msgs.iter().filter(|m| matches!(m.2, TopicMsg::Resync { held: 0 })).count();
    assert_eq!(resyncs, 1, "{msgs:?}");
    for k in &topics {
        assert_eq!(net.tables[&r].children(*k), vec![c], "{k} back");
        assert_eq!(net.tables[&c].depth(*k), Some(1));
    }
    // And the next period matches again.
    let outs = timers(&mut net, period(2), true);
    let (msgs, _) = deliver(&mut net, period(2), outs);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(net.tables[&r].stats.digests_matched, 2, "the relisted digest and this one");
}

#[test]
fn entries_the_child_no_longer_lists_go_after_a_resync() {
    let (mut net, c, r, _) = pair(20, 3);
    // The root holds an entry the child does not have with it (the child moved on without an
    // `Unsubscribe`): here a subscription the child never made.
    let extra = NodeId(r.0 - 1_000);
    let ring = &net.rings[&r];
    let t = net.tables.get_mut(&r).expect("root");
    t.handle_msg(ring, c, TopicMsg::Subscribe { topics: vec![extra] }, T0);
    while t.poll_output().is_some() {}
    assert_eq!(net.tables[&r].entries_of(c), 21);
    let outs = timers(&mut net, period(1), true);
    let (msgs, _) = deliver(&mut net, period(1), outs);
    assert!(msgs.iter().any(|m| matches!(m.2, TopicMsg::Resync { held: 21 })), "{msgs:?}");
    assert!(msgs.iter().any(|m| matches!(m.2, TopicMsg::Digest { relisted: true, .. })));
    assert_eq!(net.tables[&r].entries_of(c), 20, "the unlisted entry went");
    assert!(!net.tables[&r].holds(extra), "and the topic with it");
    assert_eq!(net.tables[&r].stats.relist_dropped, 1);
    let outs = timers(&mut net, period(2), true);
    let (msgs, _) = deliver(&mut net, period(2), outs);
    assert_eq!(msgs.len(), 1, "in step again: {msgs:?}");
}

#[test]
fn a_copy_lost_on_the_way_down_is_acked_after_the_next_digest() {
    let (mut net, c, r, topics) = pair(5, 4);
    let (k, id) = (topics[2], MsgId([9; 32]));
    let ring = &net.rings[&r];
    let t = net.tables.get_mut(&r).expect("root");
    assert_eq!(t.handle_post(ring, None, k, id, false), PostVerdict::Fresh);
    while t.poll_output().is_some() {} // the copy to the child is lost
    let outs = timers(&mut net, period(1), true);
    let (msgs, wants) = deliver(&mut net, period(1), outs);
    let acks: Vec<_> =
        msgs.iter().filter(|m| matches!(&m.2, TopicMsg::Ack { recent, .. } if recent == &[id])).collect();
    assert_eq!(acks.len(), 1, "{msgs:?}");
    assert_eq!(wants, 1, "the child fetches it");
    // Told once: the period after brings nothing.
    let outs = timers(&mut net, period(2), true);
    let (msgs, _) = deliver(&mut net, period(2), outs);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let _ = c;
}

#[test]
fn a_copy_received_needs_no_ack_and_one_lost_on_the_way_up_is_found_by_the_check() {
    let (mut net, c, r, topics) = pair(5, 5);
    // A post the child passes up that arrives: the digest's check matches, nothing comes back.
    let (k, id) = (topics[0], MsgId([3; 32]));
    let ring = &net.rings[&c];
    let t = net.tables.get_mut(&c).expect("child");
    assert_eq!(t.handle_post(ring, None, k, id, false), PostVerdict::Fresh);
    net.drain(c);
    net.run(T0);
    assert!(net.has(r, id));
    let outs = timers(&mut net, period(1), true);
    let (msgs, _) = deliver(&mut net, period(1), outs);
    assert!(matches!(&msgs[0].2, TopicMsg::Digest { check, .. } if check.len() == 1), "{msgs:?}");
    assert_eq!(msgs.len(), 1, "nothing back: {msgs:?}");
    // One whose copy up is lost: the check differs, the root acks, the child passes it up.
    let (k, id) = (topics[1], MsgId([4; 32]));
    let ring = &net.rings[&c];
    let t = net.tables.get_mut(&c).expect("child");
    assert_eq!(t.handle_post(ring, None, k, id, false), PostVerdict::Fresh);
    while t.poll_output().is_some() {}
    assert!(!net.has(r, id));
    let outs = timers(&mut net, period(2), true);
    deliver(&mut net, period(2), outs);
    assert_eq!(net.tables[&r].stats.check_acks, 1);
    let ring = &net.rings[&r];
    let again = net.tables.get_mut(&r).expect("root").handle_post(ring, Some(c), k, id, false);
    assert_eq!(again, PostVerdict::Duplicate, "the root has it now");
}

#[test]
fn hostile_digest_that_never_matches_gets_one_resync_per_gap_and_no_renewal() {
    let (mut net, c, r, topics) = pair(10, 6);
    let ring = net.rings[&r].clone();
    let mut resyncs = 0;
    // The child's real digests are replaced by a wrong one, sent 20 times a period.
    for k in 1..=6u64 {
        for i in 0..20u64 {
            let at = Instant(k * TOPIC_REFRESH_MS + i * 1_000);
            let t = net.tables.get_mut(&r).expect("root");
            let bad = TopicMsg::Digest { count: 10, hash: 7, relisted: false, check: vec![] };
            t.handle_msg(&ring, c, bad, at);
            resyncs += std::iter::from_fn(|| t.poll_output())
                .filter(|o| matches!(o, TopicOut::Send { msg: TopicMsg::Resync { .. }, .. }))
                .count();
        }
        let t = net.tables.get_mut(&r).expect("root");
        t.handle_timeout(&ring, Instant(k * TOPIC_REFRESH_MS + 30_000), &|_| true);
        while t.poll_output().is_some() {}
    }
    let per_period = TOPIC_REFRESH_MS.div_ceil(TOPIC_RESYNC_GAP_MS) as usize;
    assert!(resyncs <= 6 * per_period, "{resyncs} resyncs");
    assert!(resyncs >= 6, "asked every period");
    for k in &topics {
        assert!(net.tables[&r].children(*k).is_empty(), "not renewed by a mismatch: expired");
    }
    assert_eq!(net.tables[&r].entries_of(c), 0);
}

#[test]
fn hostile_digests_from_peers_without_entries_are_bounded() {
    let (mut net, _, r, _) = pair(3, 7);
    let ring = net.rings[&r].clone();
    let t = net.tables.get_mut(&r).expect("root");
    let mut asked = 0;
    // A huge count from a peer with nothing here: one resync, then none within the gap.
    for i in 0..5 {
        let d = TopicMsg::Digest { count: u32::MAX, hash: u64::MAX, relisted: i % 2 == 1, check: vec![] };
        t.handle_msg(&ring, NodeId(1), d, Instant(i * 1_000));
        asked += std::iter::from_fn(|| t.poll_output()).count();
    }
    assert_eq!(asked, 1);
    // Check items for topics it is no child of are ignored.
    let d = TopicMsg::Digest { count: 0, hash: 0, relisted: false, check: vec![(NodeId(r.0), 1); 5_000] };
    t.handle_msg(&ring, NodeId(2), d, T0);
    assert_eq!(std::iter::from_fn(|| t.poll_output()).count(), 0, "empty digest of an empty peer: a match");
    // Many identities, each with nothing here: at most `TOPIC_RESYNC_PEERS` are remembered.
    for i in 0..(TOPIC_RESYNC_PEERS as u64 + 50) {
        let d = TopicMsg::Digest { count: 1, hash: 1, relisted: false, check: vec![] };
        t.handle_msg(&ring, NodeId(1_000 + i), d, T0);
    }
    while t.poll_output().is_some() {}
    assert_eq!(t.stats.resyncs_asked, TOPIC_RESYNC_PEERS as u64, "one for NodeId(1) + the rest up to the bound");
    assert!(t.per_peer.len() <= TOPIC_RESYNC_PEERS + 1, "{} peer records", t.per_peer.len());
    // They are forgotten after the gap.
    t.handle_timeout(&ring, Instant(TOPIC_REFRESH_MS + TOPIC_RESYNC_GAP_MS), &|_| true);
    assert!(t.per_peer.len() <= 1, "{} peer records left", t.per_peer.len());
}

#[test]
fn hostile_resync_nobody_asked_for_costs_nothing() {
    let (mut net, c, r, _) = pair(30, 8);
    let ring = net.rings[&c].clone();
    let t = net.tables.get_mut(&c).expect("child");
    // Before any digest, and from a node that is not our parent: ignored.
    t.handle_msg(&ring, r, TopicMsg::Resync { held: 0 }, T0);
    t.handle_msg(&ring, NodeId(5), TopicMsg::Resync { held: 0 }, T0);
    assert_eq!(std::iter::from_fn(|| t.poll_output()).count(), 0);
    // After a digest: the list once, however often it is asked.
    t.handle_timeout(&ring, period(1), &|_| true);
    while t.poll_output().is_some() {}
    let mut sent = 0;
    for _ in 0..10 {
        t.handle_msg(&ring, r, TopicMsg::Resync { held: 0 }, period(1));
        sent += std::iter::from_fn(|| t.poll_output()).count();
    }
    assert_eq!(sent, 2, "one Subscribe batch and one relisted digest");
    assert_eq!(t.stats.resyncs_answered, 1);
}
