//! Hand-fed tests of unicast failure reports (issue 8): an `Undeliverable` counts only when
//! signed by a node on the route the unicast took; anyone else's makes the origin give up nothing.

use super::sim::FakeCrypto;
use super::tests::{drain, handshake_with, node_with, t};
use super::*;
use crate::wire::Routed;

const MSG: u64 = 42;

/// `o` (node 1) knows relay-less destination D (node 4, core, not connected: dialled on
/// demand) and is connected to an attacker X (node 3); it starts unicast `MSG` to D.
fn stage() -> (Overlay, Overlay, Overlay) {
    let mut o = node_with(1, vec![]);
    let d = node_with(4, vec![]);
    let x = node_with(3, vec![]);
    handshake_with(&mut o, &d, [4; 32], 7, Addr::v4([10, 0, 0, 4], 5555));
    o.handle_input(Input::Closed { conn: ConnId(7) }, t(13));
    assert!(o.directory().get(d.node_id()).is_some(), "D's record was merged");
    handshake_with(&mut o, &x, [3; 32], 6, Addr::v4([10, 9, 0, 3], 5555));
    drain(&mut o);
    o.handle_input(Input::Unicast { dst: d.node_id(), msg_id: MSG, payload: Body::from_slice(b"sealed") }, t(20));
    let out = drain(&mut o);
    assert!(out.iter().any(|x| matches!(x, Output::Dial { .. })), "D is dialled on demand: {out:?}");
    (o, d, x)
}

fn gave_up(out: &[Output]) -> bool {
    out.iter().any(|x| matches!(x, Output::UnicastDone { msg_id: MSG, result: Err(_), .. }))
}

/// An `Undeliverable{Unknown}` for unicast `MSG` claiming `src`, signed with `key`.
fn report(o: &Overlay, d: &Overlay, src: NodeId, key: [u8; 32]) -> Msg {
    let of = Routed::signing_hash(o.node_id(), d.node_id(), MSG, b"sealed");
    let reason = UndeliverableReason::Unknown;
    let sig = FakeCrypto::new(key).sign(&Routed::undeliverable_hash(src, &of, reason));
    Msg::Undeliverable { src, dst: o.node_id(), msg_id: MSG, reason, of: MsgId(of), sig }
}

#[test]
fn an_undeliverable_from_a_node_off_the_route_is_ignored() {
    let (mut o, d, x) = stage();
    // X was never handed the unicast; "Unknown" would make the origin give up at once. It
    // signs with its own key (a valid signature) and even knows the payload's hash.
    o.handle_input(Input::Frame { conn: ConnId(6), msg: report(&o, &d, x.node_id(), [3; 32]) }, t(30));
    assert!(!gave_up(&drain(&mut o)), "a node off the route made the origin give up");
    // Claiming to be the destination does not help without its key.
    o.handle_input(Input::Frame { conn: ConnId(6), msg: report(&o, &d, d.node_id(), [3; 32]) }, t(31));
    assert!(!gave_up(&drain(&mut o)), "a report in the destination's name, signed by another key, counted");
    assert_eq!(o.stats().forged, 2);
    // The destination's own report (relayed by anyone) counts.
    o.handle_input(Input::Frame { conn: ConnId(6), msg: report(&o, &d, d.node_id(), [4; 32]) }, t(32));
    assert!(gave_up(&drain(&mut o)), "the destination's signed report did not count");
}
