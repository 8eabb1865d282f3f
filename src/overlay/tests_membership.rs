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
