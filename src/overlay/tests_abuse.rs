//! Hand-fed tests of clock handling and entry admission (issue 8 items 3 and 5): exact
//! counters and outputs for future-dated events, a stepped wall clock, an expired delegation,
//! and the per-link and per-prefix budgets for new events.

use super::directory::record_msg_id;
use super::sim::{fake_event_at, sim_now, FakeCrypto, SIM_UNIX_ORIGIN};
use super::*;
use crate::wire::{Gossip, GossipKind, Hello};

fn node_with(seed: u8, delegation: Option<&[u8]>) -> Overlay {
    let mut owner = [0u8; 32];
    owner[31] = seed;
    let cfg = Config {
        owner: Key32(owner),
        delegation: delegation.map(Body::from_slice),
        listen: Some(Addr::v4([10, 0, 0, seed], 7000)),
        bootstrap: vec![],
        role: RoleChoice::Core,
        leaf_slots: params::LEAF_SLOTS,
        delivery: crate::wire::DeliveryMode::Auto,
        seed: seed as u64,
    };
    Overlay::new(cfg, Box::new(FakeCrypto::new([seed; 32])), at(0, 0))
}

fn node(seed: u8) -> Overlay {
    node_with(seed, None)
}

/// Clock readings `ms` after start, the wall clock `offset_s` off.
fn at(ms: u64, offset_s: i64) -> Now {
    sim_now(Instant(ms), offset_s)
}

fn drain(o: &mut Overlay) -> Vec<Output> {
    std::iter::from_fn(|| o.poll_output()).collect()
}

/// `peer` connects to `o` on inbound connection `conn` from `remote` (full handshake).
fn connect(o: &mut Overlay, peer: &mut Overlay, conn: ConnId, remote: Addr, now: Now) {
    o.handle_input(Input::Accepted { conn, remote }, now);
    let nonce = match drain(o).as_slice() {
        [Output::Send { msg: Msg::Hello(h), .. }] => h.nonce,
        other => panic!("expected our Hello, got {other:?}"),
    };
    let hello = Hello { record: peer.record.clone(), nonce: 7 };
    o.handle_input(Input::Frame { conn, msg: Msg::Hello(Box::new(hello)) }, now);
    drain(o);
    let sig = peer.crypto.sign(&Hello::auth_hash(nonce, peer.me));
    o.handle_input(Input::Frame { conn, msg: Msg::Auth(sig) }, now);
    drain(o);
    assert!(o.connected_nodes().contains(&peer.me), "handshake with {} failed", peer.me);
}

fn event(author: [u8; 32], k: u64, created_at: u64, valid: bool) -> Msg {
    let (id, body) = fake_event_at(author, k, 100, valid, created_at);
    Msg::Gossip(Gossip { id, round: 1, kind: GossipKind::Event, body })
}

fn delivered(out: &[Output]) -> usize {
    out.iter().filter(|o| matches!(o, Output::Deliver(Delivery::Broadcast { .. }))).count()
}

#[test]
fn future_dated_events_are_held_or_dropped_never_banned_and_released_when_the_clock_allows() {
    let mut o = node(1);
    let mut peer = node(2);
    let conn = ConnId(1);
    connect(&mut o, &mut peer, conn, Addr::v4([10, 0, 0, 2], 1), at(0, 0));
    let author = peer.cfg.owner.0; // the peer's own posts: only the per-author limit applies
    let w = SIM_UNIX_ORIGIN;
    // 20 min ahead: 5 min beyond the window, so held.
    o.handle_input(Input::Frame { conn, msg: event(author, 1, w + 20 * 60, true) }, at(10, 0));
    // 3 h ahead: beyond the hold too, so dropped.
    o.handle_input(Input::Frame { conn, msg: event(author, 2, w + 3 * 3_600, true) }, at(20, 0));
    assert_eq!(delivered(&drain(&mut o)), 0);
    let s = o.stats().clone();
    assert_eq!((s.time_held, s.time_dropped, s.invalid), (1, 1, 0), "{s:?}");
    assert!(o.connected_nodes().contains(&peer.me), "disconnected over the clocks");
    // A forged event 20 min ahead is held too (the window is checked before the signature)...
    o.handle_input(Input::Frame { conn, msg: event(author, 3, w + 20 * 60, false) }, at(30, 0));
    assert_eq!((o.stats().time_held, o.stats().invalid), (2, 0));
    // Our clock steps forward 6 min (NTP): both are inside the window now. The good one is
    // delivered; the forged one is provably bad data, which still bans its sender.
    o.handle_timeout(at(2_000, 6 * 60));
    assert_eq!(delivered(&drain(&mut o)), 1, "held event not released");
    assert_eq!(o.stats().invalid, 1);
    assert!(!o.connected_nodes().contains(&peer.me), "a forger kept its link");
}

#[test]
fn a_stepped_wall_clock_re_signs_our_record() {
    let mut o = node(1);
    o.handle_timeout(at(4_000, 0));
    let first = o.record.expires;
    assert_eq!(first, SIM_UNIX_ORIGIN + 4 + params::RECORD_TTL_S);
    // A Pi without RTC: NTP steps the clock 3 h forward at 10 s.
    o.handle_timeout(at(10_000, 3 * 3_600));
    o.handle_timeout(at(10_000 + params::RECORD_DEBOUNCE_MS + 1_000, 3 * 3_600));
    assert!(o.record.expires >= first + 3 * 3_600, "record still signed with the old time: {}", o.record.expires);
    // Slow drift inside CLOCK_STEP_S is no step.
    let now = o.record.expires;
    o.handle_timeout(at(30_000, 3 * 3_600 + 10));
    o.handle_timeout(at(30_000 + params::RECORD_DEBOUNCE_MS + 1_000, 3 * 3_600 + 10));
    assert_eq!(o.record.expires, now, "re-signed without a step");
}

#[test]
fn an_expired_owner_delegation_is_dropped_without_a_ban() {
    let until = SIM_UNIX_ORIGIN + 60;
    let d = format!("ok-until:{until}");
    let mut o = node(1);
    let mut peer = node_with(2, Some(d.as_bytes()));
    let conn = ConnId(1);
    connect(&mut o, &mut peer, conn, Addr::v4([10, 0, 0, 2], 1), at(0, 0));
    // Two minutes later the peer re-publishes its record; the delegation has expired by our
    // clock (which may be the one that is wrong).
    peer.handle_timeout(at(120_000, 0));
    peer.sign_record();
    let bytes = rmp_serde::to_vec(&peer.record).expect("encodes");
    let id = record_msg_id(&peer.record, &bytes);
    let g = Gossip { id, round: 1, kind: GossipKind::Record, body: Body::from_slice(&bytes) };
    o.handle_input(Input::Frame { conn, msg: Msg::Gossip(g) }, at(120_000, 0));
    drain(&mut o);
    assert_eq!(o.stats().invalid, 0, "banned over an expiry");
    assert_eq!(o.stats().time_dropped, 1);
    assert!(o.connected_nodes().contains(&peer.me));
}

#[test]
fn new_events_are_admitted_per_link_and_per_prefix_own_posts_are_not() {
    let mut o = node(1);
    let now = at(0, 0);
    let w = SIM_UNIX_ORIGIN;
    let mut k = 0u64;
    // Sends `n` events from fresh authors on `conn`; returns how many were delivered.
    let mut spray = |o: &mut Overlay, conn: ConnId, n: u64| {
        let mut got = 0;
        for _ in 0..n {
            k += 1;
            let mut author = [0xF0; 32];
            author[..8].copy_from_slice(&k.to_be_bytes());
            o.handle_input(Input::Frame { conn, msg: event(author, k, w, true) }, now);
            got += delivered(&drain(o));
        }
        got
    };
    let burst = params::INJECT_BURST as usize;
    let prefix = params::INJECT_PREFIX_BURST as usize;
    let mut peers: Vec<Overlay> = (2..=5).map(node).collect();
    let remotes = [[10, 0, 0, 2], [10, 0, 0, 3], [10, 0, 0, 4], [10, 0, 1, 5]];
    for (i, (p, r)) in peers.iter_mut().zip(remotes).enumerate() {
        connect(&mut o, p, ConnId(i as u64 + 1), Addr::v4(r, 1), now);
    }
    // A young inbound link: its own burst, then nothing; the rest of the prefix budget is
    // shared by every link from 10.0.0.0/24.
    assert_eq!(spray(&mut o, ConnId(1), 2 * burst as u64), burst);
    assert_eq!(spray(&mut o, ConnId(2), 2 * burst as u64), burst);
    assert_eq!(spray(&mut o, ConnId(3), burst as u64), prefix - 2 * burst, "prefix budget not shared");
    // Another /24 has its own budget.
    assert_eq!(spray(&mut o, ConnId(4), burst as u64), burst);
    assert_eq!(o.stats().inject_dropped as usize, 2 * burst + burst - (prefix - 2 * burst));
    assert_eq!(o.stats().invalid, 0);
    assert_eq!(o.connected_nodes().len(), 4, "a link was closed for volume");
    // A peer's own owner's posts are not entry-limited (only per author).
    let own = peers[0].cfg.owner.0;
    let mut got = 0;
    for j in 0..params::AUTHOR_BURST {
        o.handle_input(Input::Frame { conn: ConnId(1), msg: event(own, 10_000 + j, w, true) }, now);
        got += delivered(&drain(&mut o));
    }
    assert_eq!(got as u64, params::AUTHOR_BURST);
}
