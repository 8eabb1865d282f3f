//! Hand-fed tests of ring co-holders reconciling what they hold (`dht_sync.rs`).

use super::params::*;
use super::tests::{drain, t};
use super::tests_dht::{id, leaf_record_body, ring_host_with, sends, stored, RING};
use super::*;
use crate::wire::FEATURE_DIGESTS;

const SYNC: u8 = RING | FEATURE_DIGESTS;

/// Host 10 with ring peers 20, 30, 40 (conns 20, 21, 22) announcing `features`; leaf 5's
/// record (home 20) stored at the host, which with 20 and 30 holds key 5.
fn host_holding_5(features: u8) -> Overlay {
    let (mut host, _peers) = ring_host_with(&[20, 30, 40], features);
    assert_eq!(host.dht().expect("ring").table().holders(id(5)), vec![id(10), id(20), id(30)]);
    host.handle_input(Input::Frame { conn: ConnId(20), msg: Msg::Store(vec![leaf_record_body(5, id(20))]) }, t(100));
    assert!(host.dir.get(id(5)).is_some());
    drain(&mut host);
    host
}

fn syncs(out: &[Output]) -> Vec<(ConnId, NodeId, NodeId, u32, u64)> {
    sends(out)
        .into_iter()
        .filter_map(|(c, m)| match m {
            Msg::RingSync { lo, hi, count, fp } => Some((c, lo, hi, count, fp)),
            _ => None,
        })
        .collect()
}

/// The ring's housekeeping at `at` ms (the links stay up: no ping timeouts run).
fn tick(host: &mut Overlay, at: u64) -> Vec<Output> {
    host.now = Instant(at);
    host.ring_tick();
    drain(host)
}

fn sync_period(host: &mut Overlay) -> Vec<Output> {
    tick(host, RING_SYNC_MS + 1_000)
}

#[test]
fn each_period_a_core_sends_its_co_holders_one_fingerprint_and_no_list() {
    let mut host = host_holding_5(SYNC);
    let out = sync_period(&mut host);
    let got = syncs(&out);
    let conns: Vec<ConnId> = got.iter().map(|s| s.0).collect();
    assert_eq!(conns, vec![ConnId(20), ConnId(21), ConnId(22)], "one each to 20, 30, 40: {got:?}");
    for (c, lo, hi, count, fp) in got {
        let peer = [id(20), id(30), id(40)][(c.0 - 20) as usize];
        assert_eq!((lo, hi), (id(10), id(10)), "the whole ring");
        assert_eq!((count, fp), super::dht::sync_fingerprint(&host.shared_held(peer, lo, hi)));
    }
    // 20 and 30 hold key 5 with the host: their fingerprints count it.
    assert!(host.shared_held(id(30), id(10), id(10)).iter().any(|(k, _)| *k == id(5)));
    assert!(!host.shared_held(id(40), id(10), id(10)).iter().any(|(k, _)| *k == id(5)));
    // Not again before the next period.
    assert!(syncs(&tick(&mut host, RING_SYNC_MS + 2 * RING_ROUND_MS)).is_empty());
    assert_eq!(syncs(&tick(&mut host, 2 * RING_SYNC_MS + 2_000)).len(), 3, "and again the next period");
}

#[test]
fn a_co_holder_lacking_a_record_is_sent_it_and_an_unasked_list_is_dropped() {
    // Traced at 1k and 30k simulated nodes: a key's first holder lacked a record its second
    // and third holders had, and every lookup ended there without it.
    let mut host = host_holding_5(SYNC);
    sync_period(&mut host);
    // 30 answers: it holds nothing the host shares with it.
    let have = Msg::RingHave { lo: id(10), hi: id(10), ids: vec![] };
    host.handle_input(Input::Frame { conn: ConnId(21), msg: have.clone() }, t(RING_SYNC_MS + 2_000));
    let got = stored(&drain(&mut host));
    assert!(got.contains(&(ConnId(21), id(5))), "leaf 5's record to 30: {got:?}");
    assert!(got.iter().all(|(c, _)| *c == ConnId(21)));
    // 30 holding it already (same seq) is sent nothing; the same answer twice counts once.
    host.handle_input(Input::Frame { conn: ConnId(21), msg: have }, t(RING_SYNC_MS + 3_000));
    assert!(stored(&drain(&mut host)).is_empty(), "an answer we did not ask for takes nothing");
    assert_eq!(host.dht().expect("ring").stats().sync_dropped, 1);
    let seq5 = host.dir.seq_of(id(5)).expect("held");
    let held = host.shared_held(id(20), id(10), id(10));
    host.handle_input(
        Input::Frame { conn: ConnId(20), msg: Msg::RingHave { lo: id(10), hi: id(10), ids: held.clone() } },
        t(RING_SYNC_MS + 4_000),
    );
    assert!(stored(&drain(&mut host)).is_empty(), "20 has everything: {held:?} (5 at seq {seq5})");
    // 40 lists older copies of the records it shares with the host (30, 40): it gets the
    // current ones, nothing else.
    let mine: Vec<(NodeId, u64)> =
        host.shared_held(id(40), id(10), id(10)).into_iter().map(|(k, s)| (k, s.saturating_sub(1))).collect();
    assert!(!mine.is_empty());
    host.handle_input(
        Input::Frame { conn: ConnId(22), msg: Msg::RingHave { lo: id(10), hi: id(10), ids: mine.clone() } },
        t(RING_SYNC_MS + 5_000),
    );
    let got: Vec<NodeId> = stored(&drain(&mut host)).into_iter().map(|(_, n)| n).collect();
    assert_eq!(got, mine.iter().map(|(k, _)| *k).collect::<Vec<_>>());
}

#[test]
fn a_fingerprint_that_differs_is_answered_with_the_list_and_a_flood_is_bounded() {
    let mut host = host_holding_5(SYNC);
    let held = host.shared_held(id(20), id(10), id(10));
    let (count, fp) = super::dht::sync_fingerprint(&held);
    // The same set: nothing to say.
    host.handle_input(
        Input::Frame { conn: ConnId(20), msg: Msg::RingSync { lo: id(10), hi: id(10), count, fp } },
        t(200),
    );
    assert!(sends(&drain(&mut host)).is_empty());
    assert_eq!(host.dht().expect("ring").stats().sync_equal, 1);
    // A different one: our list, clockwise from `lo`. The matching one above took one of the
    // round's budget too (each costs a walk of the directory).
    let mut answers = 0;
    for i in 0..(RING_SYNC_ANSWERS_PER_ROUND as u64 + 4) {
        let msg = Msg::RingSync { lo: id(10), hi: id(10), count, fp: fp ^ 1 };
        host.handle_input(Input::Frame { conn: ConnId(20), msg }, t(300 + i));
        for (c, m) in sends(&drain(&mut host)) {
            if let Msg::RingHave { lo, hi, ids } = m {
                assert_eq!((c, lo, hi), (ConnId(20), id(10), id(10)));
                assert_eq!(ids, held);
                answers += 1;
            }
        }
    }
    assert_eq!(answers, RING_SYNC_ANSWERS_PER_ROUND as u64 - 1, "at most the budget per round");
    assert_eq!(host.dht().expect("ring").stats().sync_dropped, 5);
    assert!(host.connected_nodes().contains(&id(20)), "never a ban");
}

#[test]
fn peers_that_did_not_announce_it_get_no_fingerprint() {
    // An older ring build refuses an unknown frame and drops the link.
    let mut host = host_holding_5(RING);
    assert!(syncs(&sync_period(&mut host)).is_empty());
}

#[test]
fn a_long_arc_is_listed_in_parts_and_gone_through_in_order() {
    let mut host = host_holding_5(SYNC);
    sync_period(&mut host);
    // 20 cut its list at key 5 (its first RING_SYNC_IDS_MAX records end there): the host
    // stores what 20 lacks up to 5 and asks for the rest, (5, 10].
    let msg = Msg::RingHave { lo: id(10), hi: id(5), ids: vec![] };
    host.handle_input(Input::Frame { conn: ConnId(20), msg }, t(RING_SYNC_MS + 2_000));
    let out = drain(&mut host);
    let got = stored(&out);
    assert!(got.contains(&(ConnId(20), id(5))), "{got:?}");
    assert!(
        got.iter().all(|(_, k)| crate::overlay::ring::in_arc(id(10).0, k.0, id(5).0)),
        "only the listed arc: {got:?}"
    );
    let next = syncs(&out);
    assert_eq!(next.len(), 1);
    let (c, lo, hi, count, fp) = next[0];
    assert_eq!((c, lo, hi), (ConnId(20), id(5), id(10)));
    assert_eq!((count, fp), super::dht::sync_fingerprint(&host.shared_held(id(20), id(5), id(10))));
}
