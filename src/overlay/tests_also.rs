//! Hand-fed tests of eager copies that name their twins (`also.rs`): who gets a
//! `GossipAlso` (only peers that announced `FEATURE_ALSO`: older builds keep plain `Gossip`),
//! the held IHAVE and its release when the sender's link drops, and hostile names (the
//! sender itself, us, thousands of strangers, a record, an invalid event, a flood past the
//! hold's cap): bounded, never a ban for the names alone.

use super::params::*;
use super::sim::{fake_event_at, SIM_UNIX_ORIGIN};
use super::tests::{drain, t};
use super::tests_dht::{connect, core, owner};
use super::*;
use crate::wire::{
    Gossip, GossipKind, FEATURE_ALSO, FEATURE_DATAGRAM, FEATURE_DIR_IDS, FEATURE_INTEREST, FEATURE_TREES,
};

/// What a build before `FEATURE_ALSO` announces.
const OLD: u8 = FEATURE_INTEREST | FEATURE_DATAGRAM | FEATURE_TREES | FEATURE_DIR_IDS;
const NEW: u8 = OLD | FEATURE_ALSO;
const FROM_2: ConnId = ConnId(20);
const TO_3: ConnId = ConnId(21);

/// Node 1 with peers 2 (on `FROM_2`) and 3 (on `TO_3`) in its active view, both eager.
fn host(f2: u8, f3: u8) -> (Overlay, NodeId, NodeId) {
    let (mut h, mut p2, mut p3) = (core(1), core(2), core(3));
    connect(&mut h, &mut p2, FROM_2, f2);
    connect(&mut h, &mut p3, TO_3, f3);
    h.handle_input(Input::Frame { conn: FROM_2, msg: Msg::Join }, t(10));
    h.handle_input(Input::Frame { conn: TO_3, msg: Msg::Join }, t(11));
    drain(&mut h);
    assert!(h.eager.contains(&p2.me) && h.eager.contains(&p3.me), "both eager");
    (h, p2.me, p3.me)
}

/// `host` with peer 3 made lazy (it pruned us), as B↔C in net3.
fn host_with_lazy_3() -> (Overlay, NodeId, NodeId) {
    let (mut h, p2, p3) = host(NEW, NEW);
    h.handle_input(Input::Frame { conn: TO_3, msg: Msg::Prune }, t(12));
    assert!(h.lazy.contains(&p3) && h.eager.contains(&p2));
    (h, p2, p3)
}

/// A valid event by author `k` (one author per event: the per-author limit stays out of it).
fn event(k: u64, at_ms: u64, valid: bool) -> Gossip {
    let mut author = [0u8; 32];
    author[..8].copy_from_slice(&k.to_be_bytes());
    let (id, body) = fake_event_at(author, k, 100, valid, SIM_UNIX_ORIGIN + at_ms / 1000);
    EVENTS.with(|e| e.borrow_mut().insert(id));
    Gossip { id, round: 1, kind: GossipKind::Event, body }
}

fn sent_to(outs: &[Output], conn: ConnId) -> Vec<Msg> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { conn: c, msg } if *c == conn => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

/// IHAVE ids of events (ours start with `EVENT_MARK`; not the host's own record) sent to `conn`.
fn ihaves_to(outs: &[Output], conn: ConnId) -> Vec<MsgId> {
    sent_to(outs, conn)
        .into_iter()
        .flat_map(|m| match m {
            Msg::IHave(ids) => {
                ids.into_iter().map(|(id, _)| id).filter(|id| EVENTS.with(|e| e.borrow().contains(id))).collect()
            }
            _ => Vec::new(),
        })
        .collect()
}

thread_local! {
    /// Ids of the events this test thread made.
    static EVENTS: std::cell::RefCell<std::collections::BTreeSet<MsgId>> = Default::default();
}

/// Everything `h` sends from `from_ms` to `to_ms`, its timers run every 100 ms.
fn run(h: &mut Overlay, from_ms: u64, to_ms: u64) -> Vec<Output> {
    let mut outs = Vec::new();
    let mut now = from_ms;
    while now <= to_ms {
        h.handle_timeout(t(now));
        outs.extend(drain(h));
        now += 100;
    }
    outs
}

#[test]
fn an_own_post_names_its_twin_only_to_a_peer_that_announced_the_feature() {
    let (mut h, p2, p3) = host(NEW, OLD);
    let g = event(1, 1_000, true);
    let audience = interest::Audience::of(owner(1), None);
    h.handle_input(Input::Publish { id: g.id, body: g.body.clone(), audience }, t(1_000));
    let outs = drain(&mut h);
    // Peer 2 understands it: the copy names peer 3. Peer 3 (an older build) gets plain Gossip.
    assert!(
        matches!(&sent_to(&outs, FROM_2)[..], [Msg::GossipAlso(x, named)] if x.body == g.body && named == &vec![p3])
    );
    assert!(matches!(&sent_to(&outs, TO_3)[..], [Msg::Gossip(x)] if x.body == g.body));
    // A relayed message names no one (only the author's first hop does).
    let relayed = event(2, 1_100, true);
    h.handle_input(Input::Frame { conn: TO_3, msg: Msg::Gossip(relayed.clone()) }, t(1_100));
    let outs = drain(&mut h);
    assert!(matches!(&sent_to(&outs, FROM_2)[..], [Msg::Gossip(x)] if x.body == relayed.body), "{outs:?}");
    let _ = p2;
}

#[test]
fn a_named_twin_gets_no_ihave_while_the_sender_lives_and_gets_it_when_the_sender_drops() {
    let (mut h, _p2, p3) = host_with_lazy_3();
    // Control: a plain copy from 2 is announced to lazy 3 within the quiet period.
    let plain = event(1, 1_000, true);
    h.handle_input(Input::Frame { conn: FROM_2, msg: Msg::Gossip(plain.clone()) }, t(1_000));
    let outs = run(&mut h, 1_000, 1_000 + IHAVE_QUIET_MS + IHAVE_QUIET_JITTER_MS + 100);
    assert_eq!(ihaves_to(&outs, TO_3), vec![plain.id]);
    // A copy naming 3: no IHAVE, held.
    let named = event(2, 5_000, true);
    h.handle_input(Input::Frame { conn: FROM_2, msg: Msg::GossipAlso(named.clone(), vec![p3]) }, t(5_000));
    let outs = run(&mut h, 5_000, 20_000);
    assert!(ihaves_to(&outs, TO_3).is_empty(), "{outs:?}");
    assert_eq!((h.also.held(), h.stats().also_skipped), (1, 1));
    // The sender's link drops: the held IHAVE goes out as an ordinary one.
    h.handle_input(Input::Closed { conn: FROM_2 }, t(20_000));
    let outs = run(&mut h, 20_000, 20_000 + IHAVE_QUIET_MS + IHAVE_QUIET_JITTER_MS + 100);
    assert_eq!(ihaves_to(&outs, TO_3), vec![named.id]);
    assert_eq!((h.also.held(), h.stats().also_released), (0, 1));
}

#[test]
fn a_held_ihave_goes_out_in_the_slow_digest_after_the_hold_if_the_sender_stayed() {
    let (mut h, _p2, p3) = host_with_lazy_3();
    let g = event(1, 1_000, true);
    let id = g.id;
    h.handle_input(Input::Frame { conn: FROM_2, msg: Msg::GossipAlso(g, vec![p3]) }, t(1_000));
    // Keep both links alive (pings answered) through the hold: nothing to 3 meanwhile.
    let mut now = 1_000;
    while now + 10_000 < 1_000 + ALSO_HOLD_MS {
        now += 10_000;
        h.handle_input(Input::Frame { conn: FROM_2, msg: Msg::Ping(1) }, t(now));
        h.handle_input(Input::Frame { conn: TO_3, msg: Msg::Ping(1) }, t(now));
        h.handle_timeout(t(now));
        assert!(ihaves_to(&drain(&mut h), TO_3).is_empty(), "at {now} ms");
    }
    // After the hold: the digest announces it to 3 (a sender that named 3 but never sent it
    // the post, i.e. a liar, delays 3's repair by the hold, never stops it).
    let mut announced = Vec::new();
    while now < 1_000 + ALSO_HOLD_MS + 2 * TICK_CORE_MS + IHAVE_LAZY_MS {
        now += 1_000;
        h.handle_input(Input::Frame { conn: FROM_2, msg: Msg::Ping(1) }, t(now));
        h.handle_input(Input::Frame { conn: TO_3, msg: Msg::Ping(1) }, t(now));
        h.handle_timeout(t(now));
        announced.extend(ihaves_to(&drain(&mut h), TO_3));
    }
    assert_eq!(announced, vec![id]);
    assert_eq!((h.also.held(), h.stats().also_released, h.stats().also_digested), (0, 0, 1));
}

#[test]
fn hostile_names_are_bounded_and_never_a_ban() {
    let (mut h, p2, p3) = host_with_lazy_3();
    // Names: us, the sender itself, and thousands of strangers (not 3): nothing held, 3 still
    // hears of the post, nobody is banned for the names.
    let mut names = vec![h.me, p2];
    names.extend((0..5_000).map(|k| NodeId(0xdead_0000_0000 + k)));
    let g = event(1, 1_000, true);
    h.handle_input(Input::Frame { conn: FROM_2, msg: Msg::GossipAlso(g.clone(), names) }, t(1_000));
    let outs = run(&mut h, 1_000, 4_000);
    assert_eq!(ihaves_to(&outs, TO_3), vec![g.id]);
    assert_eq!(h.also.held(), 0);
    // 3 named far down a long list (past `ALSO_MAX_NAMED`): not read, so not held.
    let mut late = vec![NodeId(0xdead); ALSO_MAX_NAMED];
    late.push(p3);
    let g2 = event(2, 5_000, true);
    h.handle_input(Input::Frame { conn: FROM_2, msg: Msg::GossipAlso(g2.clone(), late) }, t(5_000));
    let outs = run(&mut h, 5_000, 8_000);
    assert_eq!(ihaves_to(&outs, TO_3), vec![g2.id]);
    // A record in a GossipAlso: its names are ignored (records are never named).
    let rec = crate::wire::encode_record(&h.record);
    let gr = Gossip { id: MsgId::UNSET, round: 1, kind: GossipKind::Record, body: Body::from_slice(&rec) };
    h.handle_input(Input::Frame { conn: FROM_2, msg: Msg::GossipAlso(gr, vec![p3]) }, t(9_000));
    drain(&mut h);
    assert_eq!(h.also.held(), 0);
    assert!(h.connected_nodes().contains(&p2), "no ban for names");
    assert_eq!(h.stats().invalid, 0);
    // An invalid event bans its sender as in a `Gossip`, and holds nothing.
    let bad = event(3, 10_000, false);
    h.handle_input(Input::Frame { conn: FROM_2, msg: Msg::GossipAlso(bad, vec![p3]) }, t(10_000));
    assert!(drain(&mut h).iter().any(|o| matches!(o, Output::Close { conn } if *conn == FROM_2)));
    assert_eq!((h.stats().invalid, h.also.held()), (1, 0));
}

#[test]
fn a_flood_of_named_copies_is_held_up_to_the_cap_and_the_rest_announced() {
    let (mut h, _p2, p3) = host_with_lazy_3();
    let extra = 3;
    let n = ALSO_HOLD_CAP + extra;
    let mut outs = Vec::new();
    // From 70 s on: link 2 is a relay link by then (`RELAY_TRUST_MS`), past the entry budget.
    let start = RELAY_TRUST_MS + 10_000;
    for k in 0..n as u64 {
        let at = start + k * 100;
        h.handle_input(Input::Frame { conn: TO_3, msg: Msg::Ping(1) }, t(at));
        h.handle_input(Input::Frame { conn: FROM_2, msg: Msg::GossipAlso(event(k, at, true), vec![p3]) }, t(at));
        h.handle_timeout(t(at));
        outs.extend(drain(&mut h));
    }
    assert_eq!(h.stats().also_skipped as usize, n, "every copy was accepted and named 3");
    assert_eq!(h.also.held(), ALSO_HOLD_CAP);
    assert_eq!(h.stats().also_released as usize, extra);
    let end = start + n as u64 * 100;
    outs.extend(run(&mut h, end, end + IHAVE_QUIET_MS + IHAVE_QUIET_JITTER_MS + 100));
    assert_eq!(ihaves_to(&outs, TO_3).len(), extra, "the oldest ones announced as before");
}
