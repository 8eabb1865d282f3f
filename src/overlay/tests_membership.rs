//! Hand-fed tests of HyParView's idle costs (`membership.rs`): which frames a core sends, and
//! whether it dials, when a shuffle walk ends at it and when cores one short ask it for a link.

use super::tests::{drain, handshake_with, node, t};
use super::*;
use crate::wire::PeerRef;

/// Core `seed`'s address (as `tests::node_with` configures it).
fn addr(seed: u64) -> Addr {
    Addr::v4([10, 0, 0, seed as u8], 7000)
}

/// An authenticated link from core `seed` on connection `seed` (returns the peer's node id).
fn link(o: &mut Overlay, seed: u64) -> NodeId {
    let peer = node(seed);
    handshake_with(o, &peer, [seed as u8; 32], seed, addr(seed));
    drain(o);
    peer.node_id()
}

/// `o` with `n` active neighbours (cores 10, 11, …, linked and taken at high priority).
fn with_active(n: u64) -> Overlay {
    let mut o = node(1);
    for k in 0..n {
        link(&mut o, 10 + k);
        o.handle_input(Input::Frame { conn: ConnId(10 + k), msg: Msg::Neighbor { high: true } }, t(20));
        drain(&mut o);
    }
    assert_eq!(o.active_view().len(), n as usize);
    o
}

/// The frames `o` sends on `conn` among `out`, and whether it dials anything.
fn sent_on(out: &[Output], conn: u64) -> (Vec<&Msg>, bool) {
    let msgs = out
        .iter()
        .filter_map(|x| match x {
            Output::Send { conn: c, msg } if *c == ConnId(conn) => Some(msg),
            _ => None,
        })
        .collect();
    (msgs, out.iter().any(|x| matches!(x, Output::Dial { .. })))
}

#[test]
fn a_shuffle_reply_goes_over_a_link_instead_of_dialling_the_walks_origin() {
    let mut o = with_active(2);
    let origin = PeerRef { node: node(40).node_id(), addr: addr(40) };
    let sample = vec![PeerRef { node: node(41).node_id(), addr: addr(41) }];
    // The walk ends here (ttl 0); we have no link to its origin: the reply goes back to the hop.
    o.handle_input(Input::Frame { conn: ConnId(10), msg: Msg::Shuffle { origin, peers: sample, ttl: 0 } }, t(30));
    let out = drain(&mut o);
    let (msgs, dialled) = sent_on(&out, 10);
    assert!(!dialled, "a handshake to pass a few addresses: {out:?}");
    assert!(matches!(msgs.as_slice(), [Msg::ShuffleReply(_)]), "{out:?}");
    // With a link to the origin, the reply takes it.
    link(&mut o, 40);
    o.handle_input(Input::Frame { conn: ConnId(11), msg: Msg::Shuffle { origin, peers: vec![], ttl: 0 } }, t(31));
    let out = drain(&mut o);
    assert!(matches!(sent_on(&out, 40).0.as_slice(), [Msg::ShuffleReply(_)]), "{out:?}");
}

#[test]
fn a_full_core_introduces_the_cores_one_short_it_refuses_to_each_other() {
    let mut o = with_active(ACTIVE_VIEW as u64);
    let y = link(&mut o, 20);
    link(&mut o, 21);
    link(&mut o, 22);
    link(&mut o, 23);
    let ask = |o: &mut Overlay, conn: u64, at: u64| {
        o.handle_input(Input::Frame { conn: ConnId(conn), msg: Msg::Neighbor { high: false } }, t(at));
        drain(o)
    };
    // The first is refused and remembered.
    let out = ask(&mut o, 20, 1_000);
    assert!(matches!(sent_on(&out, 20).0.as_slice(), [Msg::NeighborReply { ok: false }]), "{out:?}");
    // The second is introduced to it (before the refusal, so it asks it next), and refused.
    let out = ask(&mut o, 21, 2_000);
    let (msgs, dialled) = sent_on(&out, 21);
    assert!(!dialled);
    match msgs.as_slice() {
        [Msg::FwdJoin { peer, ttl: 0 }, Msg::NeighborReply { ok: false }] => {
            assert_eq!(*peer, PeerRef { node: y, addr: addr(20) })
        }
        other => panic!("expected an introduction to core 20, then the refusal: {other:?}"),
    }
    // One introduction per remembered core; and a remembered core goes stale.
    let out = ask(&mut o, 22, 3_000);
    assert!(matches!(sent_on(&out, 22).0.as_slice(), [Msg::NeighborReply { ok: false }]), "{out:?}");
    let out = ask(&mut o, 23, 3_000 + SHORT_HINT_MS);
    assert!(matches!(sent_on(&out, 23).0.as_slice(), [Msg::NeighborReply { ok: false }]), "{out:?}");
    assert_eq!(o.active_view().len(), ACTIVE_VIEW);
}

#[test]
fn an_introduced_core_is_asked_at_low_priority_and_only_by_a_core_one_short() {
    let introduce = |o: &mut Overlay| {
        let y = PeerRef { node: node(30).node_id(), addr: addr(30) };
        o.handle_input(Input::Frame { conn: ConnId(20), msg: Msg::FwdJoin { peer: y, ttl: 0 } }, t(1_000));
        drain(o)
    };
    // One short: core 20 (connected, not a neighbour) introduces core 30 (linked too).
    let mut o = with_active(ACTIVE_VIEW as u64 - 1);
    link(&mut o, 20);
    link(&mut o, 30);
    let out = introduce(&mut o);
    // Low priority: were core 30 full by now, it refuses and nobody is evicted for us.
    assert!(matches!(sent_on(&out, 30).0.as_slice(), [Msg::Neighbor { high: false }]), "{out:?}");
    assert_eq!(o.stats().memb.introduced, 1);
    // A full core ignores an introduction.
    let mut o = with_active(ACTIVE_VIEW as u64);
    link(&mut o, 20);
    link(&mut o, 30);
    let out = introduce(&mut o);
    assert!(sent_on(&out, 30).0.is_empty() && !sent_on(&out, 30).1, "{out:?}");
}

#[test]
fn a_calm_core_shuffles_less_often_and_a_lost_neighbour_brings_the_fast_pace_back() {
    let mut o = with_active(3);
    // Shuffles sent in (from, to], one housekeeping tick a second.
    let shuffles = |o: &mut Overlay, from: u64, to: u64| {
        let mut n = 0;
        for s in (from / 1_000 + 1)..=(to / 1_000) {
            o.handle_timeout(t(s * 1_000));
            n += drain(o).iter().filter(|x| matches!(x, Output::Send { msg: Msg::Shuffle { .. }, .. })).count();
            // Keep the links alive (pongs for its pings, nothing else).
            for c in 10..13 {
                o.handle_input(Input::Frame { conn: ConnId(c), msg: Msg::Pong(0) }, t(s * 1_000));
            }
            drain(o);
        }
        n
    };
    let start = SHUFFLE_CALM_AFTER_MS;
    assert_eq!(shuffles(&mut o, 0, start), (start / SHUFFLE_INTERVAL_MS) as usize, "fast after the start");
    // Nine calm minutes: three shuffles (nine at the fast pace).
    let calm = 9 * 60_000;
    assert_eq!(shuffles(&mut o, start, start + calm), 3, "one per calm interval");
    // A neighbour's link breaks (no Disconnect): the next shuffle comes within a fast period.
    let at = start + calm + 1_000;
    o.handle_input(Input::Closed { conn: ConnId(12) }, t(at));
    drain(&mut o);
    assert_eq!(shuffles(&mut o, at, at + SHUFFLE_INTERVAL_MS), 1);
}
