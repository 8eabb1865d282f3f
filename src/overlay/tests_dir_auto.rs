//! Hand-fed tests of `--directory auto` on a node (`dir_switch.rs`): a core that switched the
//! ring on after a link's handshake is taken into the table by its first ring frame.

use super::dir_auto::DirLevel;
use super::tests::{drain, t};
use super::tests_dht::{connect, core_in};
use super::*;
use crate::wire::FEATURE_INTEREST;

#[test]
fn a_ring_frame_announces_a_peer_that_switched_the_ring_on_after_the_handshake() {
    let mut host = core_in(1, DirectoryMode::Auto);
    let mut peer = core_in(2, DirectoryMode::Auto);
    // Both below the ring at the handshake: neither announced it.
    connect(&mut host, &mut peer, ConnId(20), FEATURE_INTEREST);
    assert_eq!(host.dir_level(), DirLevel::Broadcast);
    let ask = || Msg::Neighbours { ask: true, peers: vec![] };
    // While the host does not run the ring, a ring frame is dropped, as before.
    host.handle_input(Input::Frame { conn: ConnId(20), msg: ask() }, t(10));
    assert_eq!(host.stats().ring_dropped, 1);
    assert!(drain(&mut host).iter().all(|o| !matches!(o, Output::Send { msg, .. } if msg.is_ring())));
    // The host's estimate reaches its (lowered) threshold: it runs the ring.
    host.lower_dir_threshold(1);
    host.handle_timeout(t(2_000));
    assert_eq!(host.dir_level(), DirLevel::Both, "estimate {}", host.dir_estimate());
    drain(&mut host);
    // The peer switched too and sends its first ring frame on the old link: taken, answered,
    // and the peer enters the table.
    host.handle_input(Input::Frame { conn: ConnId(20), msg: ask() }, t(2_010));
    assert_eq!(host.stats().ring_dropped, 1, "not dropped");
    let out = drain(&mut host);
    assert!(out.iter().any(|o| matches!(o, Output::Send { msg: Msg::Neighbours { ask: false, .. }, .. })), "answered");
    let known = host.dht().map(|d| d.table().known().iter().map(|p| p.node).collect::<Vec<_>>()).unwrap_or_default();
    assert!(known.contains(&peer.node_id()), "in the table: {known:?}");
}

#[test]
fn a_pinned_ring_core_still_drops_ring_frames_from_a_peer_that_did_not_announce_it() {
    let mut host = core_in(1, DirectoryMode::Ring);
    let mut peer = core_in(2, DirectoryMode::Auto);
    connect(&mut host, &mut peer, ConnId(20), FEATURE_INTEREST);
    host.handle_input(Input::Frame { conn: ConnId(20), msg: Msg::Neighbours { ask: true, peers: vec![] } }, t(10));
    assert_eq!(host.stats().ring_dropped, 1);
    assert!(host.dht().is_some_and(|d| !d.table().known().iter().any(|p| p.node == peer.node_id())));
}
