//! Hand-fed tests of the per-author trees in a node (`trees.rs`): frames from a peer that did
//! not announce them, a post labelled with another author's topic, an oversized subscribe
//! batch, an own post in follow mode staying off the core Plumtree, and posts labelled with the
//! public sample's topic (ineligible, or one author grinding ids into it).

use super::params::*;
use super::sample::{in_sample, sample_accepts, sample_bits, sample_topic, AutoLevel};
use super::sim::fake_event_at;
use super::tests::{drain, t};
use super::tests_interest::{self, node, owner};
use super::topic::topic_of;
use super::*;
use crate::wire::{DeliveryMode, FEATURE_DIGESTS, FEATURE_INTEREST, FEATURE_TREES};

/// A core in `delivery` mode (the follower-multicast tests' node maker).
fn core(seed: u8, delivery: DeliveryMode) -> Overlay {
    node(seed, RoleChoice::Core, vec![], delivery)
}

/// `peer` connects to `home` on inbound `conn`; its nonce announces `features`.
fn connect(home: &mut Overlay, peer: &mut Overlay, conn: ConnId, features: u8) {
    tests_interest::connect(home, peer, conn, features, false);
}

fn sent(outs: &[Output], conn: ConnId) -> Vec<&Msg> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { conn: c, msg } if *c == conn => Some(msg),
            _ => None,
        })
        .collect()
}

#[test]
fn tree_frames_from_a_peer_that_did_not_announce_them_are_dropped() {
    let mut home = core(1, DeliveryMode::Follow);
    let (mut old, mut new) = (core(2, DeliveryMode::Follow), core(3, DeliveryMode::Follow));
    connect(&mut home, &mut old, ConnId(20), FEATURE_INTEREST);
    connect(&mut home, &mut new, ConnId(21), FEATURE_INTEREST | FEATURE_TREES);
    home.handle_input(Input::Frame { conn: ConnId(20), msg: Msg::Subscribe(vec![NodeId(9)]) }, t(10));
    assert!(sent(&drain(&mut home), ConnId(20)).is_empty(), "no answer to a peer that did not announce trees");
    assert_eq!(home.stats().tree_dropped, 1);
    assert!(home.tree_table().is_none_or(|t| t.children(NodeId(9)).is_empty()), "not taken as a child");
    home.handle_input(Input::Frame { conn: ConnId(21), msg: Msg::Subscribe(vec![NodeId(9)]) }, t(11));
    let outs = drain(&mut home);
    assert!(sent(&outs, ConnId(21)).iter().any(|m| m.is_tree()), "a peer that announced them is answered");
    assert_eq!(home.stats().tree_dropped, 1);
}

#[test]
fn digest_frames_from_a_peer_that_did_not_announce_them_are_dropped() {
    let mut home = core(1, DeliveryMode::Follow);
    let (mut old, mut new) = (core(2, DeliveryMode::Follow), core(3, DeliveryMode::Follow));
    connect(&mut home, &mut old, ConnId(20), FEATURE_INTEREST | FEATURE_TREES);
    connect(&mut home, &mut new, ConnId(21), FEATURE_INTEREST | FEATURE_TREES | FEATURE_DIGESTS);
    let digest = Msg::TopicDigest { count: 3, hash: 1, relisted: false, check: vec![] };
    home.handle_input(Input::Frame { conn: ConnId(20), msg: digest.clone() }, t(10));
    assert!(sent(&drain(&mut home), ConnId(20)).is_empty(), "no answer without the digest bit");
    assert_eq!(home.stats().tree_dropped, 1);
    assert!(home.tree_stats().is_none_or(|st| st.digests_mismatched == 0), "not even looked at");
    // From a peer that announced it: we hold nothing for it, so it is asked for its list.
    home.handle_input(Input::Frame { conn: ConnId(21), msg: digest }, t(11));
    let outs = drain(&mut home);
    assert!(sent(&outs, ConnId(21)).iter().any(|m| matches!(m, Msg::TopicResync(0))), "answered");
    assert_eq!(home.stats().tree_dropped, 1);
}

#[test]
fn a_broadcast_mode_core_drops_tree_frames() {
    let mut home = core(1, DeliveryMode::Broadcast);
    let mut peer = core(3, DeliveryMode::Follow);
    connect(&mut home, &mut peer, ConnId(21), FEATURE_INTEREST | FEATURE_TREES);
    home.handle_input(Input::Frame { conn: ConnId(21), msg: Msg::Subscribe(vec![NodeId(9)]) }, t(10));
    assert!(sent(&drain(&mut home), ConnId(21)).is_empty());
    assert_eq!(home.stats().tree_dropped, 1);
    assert_eq!(home.tree_topics(), None);
}

#[test]
fn an_oversized_subscribe_batch_is_read_up_to_its_bound() {
    let mut home = core(1, DeliveryMode::Follow);
    let mut peer = core(3, DeliveryMode::Follow);
    connect(&mut home, &mut peer, ConnId(21), FEATURE_INTEREST | FEATURE_TREES);
    let topics: Vec<NodeId> = (0..(TOPIC_BATCH as u64 + 10)).map(|i| NodeId(i * 7919 + 1)).collect();
    home.handle_input(Input::Frame { conn: ConnId(21), msg: Msg::Subscribe(topics) }, t(10));
    drain(&mut home);
    let st = home.tree_stats().expect("trees on");
    assert_eq!(st.batch_overflow, 10);
    assert!(home.tree_topics().unwrap_or(0) <= TOPIC_BATCH + 1, "its own topic and at most one batch");
}

#[test]
fn a_tree_post_labelled_with_another_authors_topic_is_neither_stored_nor_relayed() {
    let mut home = core(1, DeliveryMode::Follow);
    let mut peer = core(3, DeliveryMode::Follow);
    connect(&mut home, &mut peer, ConnId(21), FEATURE_INTEREST | FEATURE_TREES);
    let author = owner(40);
    let (_, body) = fake_event_at(author.0, 1, 100, true, super::sim::SIM_UNIX_ORIGIN);
    let wrong = topic_of(&owner(41));
    let msg = Msg::TopicPost { topic: wrong, routed: true, body: body.clone() };
    home.handle_input(Input::Frame { conn: ConnId(21), msg }, t(10));
    let outs = drain(&mut home);
    assert!(!outs.iter().any(|o| matches!(o, Output::Deliver(_))), "not stored");
    assert!(!outs.iter().any(|o| matches!(o, Output::Send { msg: Msg::TopicPost { .. }, .. })), "not relayed");
    assert_eq!(home.stats().tree_dropped, 1);
    assert_eq!(home.stats().invalid, 0, "never a ban: the event itself is valid");
    // The right topic on a tree nobody here wants: passed on or dropped, never stored here.
    let msg = Msg::TopicPost { topic: topic_of(&author), routed: true, body };
    home.handle_input(Input::Frame { conn: ConnId(21), msg }, t(20));
    assert!(!drain(&mut home).iter().any(|o| matches!(o, Output::Deliver(_))), "a relay does not store it");
}

#[test]
fn an_own_post_in_follow_mode_stays_off_the_core_plumtree() {
    for (delivery, expect_gossip) in [(DeliveryMode::Follow, false), (DeliveryMode::Broadcast, true)] {
        let mut home = core(1, delivery);
        let mut peer = core(3, DeliveryMode::Follow);
        connect(&mut home, &mut peer, ConnId(21), FEATURE_INTEREST | FEATURE_TREES);
        // Make the peer an eager Plumtree neighbour, as an active-view core is.
        home.handle_input(Input::Frame { conn: ConnId(21), msg: Msg::Neighbor { high: true } }, t(5));
        home.handle_input(Input::Frame { conn: ConnId(21), msg: Msg::Graft { id: None, round: 0 } }, t(6));
        drain(&mut home);
        let (id, body) = fake_event_at(owner(1).0, 4, 100, true, super::sim::SIM_UNIX_ORIGIN);
        home.handle_input(Input::Publish { id, body, audience: Audience::of(owner(1), None) }, t(10));
        let mut outs = drain(&mut home);
        home.handle_timeout(t(10 + IHAVE_LAZY_MS + 1));
        outs.extend(drain(&mut home));
        let gossip = sent(&outs, ConnId(21)).iter().any(|m| matches!(m, Msg::Gossip(_) | Msg::IHave(_)));
        assert_eq!(gossip, expect_gossip, "{delivery:?}");
    }
}

/// A post by `author` (counter `from` on: the counter used is returned) that is, or is not,
/// eligible for the sample at `bits`: what a spammer grinding ids does.
fn sample_post(author: Key32, from: u64, bits: u32, eligible: bool) -> (u64, Body) {
    (from..from + 1_000_000)
        .map(|i| (i, fake_event_at(author.0, i, 100, true, super::sim::SIM_UNIX_ORIGIN)))
        .find(|(_, (id, _))| if eligible { in_sample(id, bits) } else { !sample_accepts(id, bits) })
        .map(|(i, (_, body))| (i, body))
        .expect("a million ids hold one of each")
}

#[test]
fn a_sample_labelled_post_must_be_eligible_and_an_author_gets_one_per_gap() {
    // A core in `auto` at the trees level in a network it estimates at 100k nodes (k = 10):
    // its owner follows nobody, so it wants the sample.
    let mut home = core(1, DeliveryMode::Auto);
    home.force_auto(AutoLevel::Trees, 100_000);
    let mut peer = core(3, DeliveryMode::Follow);
    connect(&mut home, &mut peer, ConnId(21), FEATURE_INTEREST | FEATURE_TREES);
    home.handle_timeout(t(TICK_CORE_MS + 1));
    drain(&mut home);
    // The tick re-estimated from the 2-node directory: back to the large network.
    home.force_auto(AutoLevel::Trees, 100_000);
    let bits = sample_bits(100_000);
    assert_eq!(bits, 10);
    assert_eq!(home.sample_state().map(|s| s.0), Some(true), "a newcomer core wants the sample");
    let spammer = owner(40);
    // Not eligible (an id that hashes above the share, even with the slack): dropped, counted,
    // never a ban.
    let (_, body) = sample_post(spammer, 1, bits, false);
    let msg = Msg::TopicPost { topic: sample_topic(), routed: true, body };
    home.handle_input(Input::Frame { conn: ConnId(21), msg }, t(TICK_CORE_MS + 10));
    let outs = drain(&mut home);
    assert!(!outs.iter().any(|o| matches!(o, Output::Deliver(_))), "not stored");
    assert!(!outs.iter().any(|o| matches!(o, Output::Send { msg: Msg::TopicPost { .. }, .. })), "not relayed");
    assert_eq!(home.sample_state().map(|s| s.3.ineligible), Some(1));
    assert_eq!(home.stats().invalid, 0);
    // Ground ids: the first eligible post is taken, the next ones of the same author within
    // `SAMPLE_AUTHOR_GAP_MS` are not (counted), whatever their share.
    let mut counter = 1_000;
    let mut delivered = 0;
    for k in 0..5u64 {
        let (used, body) = sample_post(spammer, counter, bits, true);
        counter = used + 1;
        let msg = Msg::TopicPost { topic: sample_topic(), routed: true, body };
        home.handle_input(Input::Frame { conn: ConnId(21), msg }, t(TICK_CORE_MS + 100 + k));
        delivered += drain(&mut home).iter().filter(|o| matches!(o, Output::Deliver(_))).count();
    }
    let st = home.sample_state().expect("trees on").3;
    assert_eq!(delivered, 1, "one sample post per author per gap");
    assert_eq!(st.author_gap, 4);
    assert_eq!(home.stats().invalid, 0, "never a ban");
}
