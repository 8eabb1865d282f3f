//! Hand-fed tests of the ring directory's protocol (`dht.rs`): frames from peers that did not
//! announce the ring, oversized lists, and (with `--directory ring`) hostile lookups and stores.

use super::params::*;
use super::sim::FakeCrypto;
use super::tests::{drain, t};
use super::*;
use crate::wire::{FindNode, Found, Hello, FEATURE_INTEREST, FEATURE_RING};

pub(super) fn owner(seed: u8) -> Key32 {
    let mut k = [0u8; 32];
    k[31] = seed;
    Key32(k)
}

pub(super) fn core(seed: u8) -> Overlay {
    let cfg = Config {
        owner: owner(seed),
        delegation: None,
        listen: Some(Addr::v4([10, 0, seed, 1], 7000)),
        bootstrap: vec![],
        role: RoleChoice::Core,
        leaf_slots: LEAF_SLOTS,
        seed: seed as u64,
        delivery: DeliveryMode::Auto,
    };
    Overlay::new(cfg, Box::new(FakeCrypto::new([seed; 32])), t(0))
}

/// `peer` connects to `host` on inbound `conn` (full handshake; its nonce announces `features`).
pub(super) fn connect(host: &mut Overlay, peer: &mut Overlay, conn: ConnId, features: u8) {
    host.handle_input(Input::Accepted { conn, remote: Addr::v4([10, 0, peer.me.0 as u8, 1], 40000) }, t(1));
    let nonce = drain(host)
        .into_iter()
        .find_map(|o| match o {
            Output::Send { msg: Msg::Hello(h), .. } => Some(h.nonce),
            _ => None,
        })
        .expect("host says hello");
    let hello = Hello { record: peer.record.clone(), nonce: Hello::tag_nonce(5, features) };
    host.handle_input(Input::Frame { conn, msg: Msg::Hello(Box::new(hello)) }, t(2));
    let sig = peer.crypto.sign(&Hello::auth_hash(nonce, peer.me));
    host.handle_input(Input::Frame { conn, msg: Msg::Auth(sig) }, t(3));
    drain(host);
    assert!(host.connected_nodes().contains(&peer.me), "handshake completed");
}

fn ring_samples() -> Vec<Msg> {
    vec![
        Msg::FindNode(FindNode { id: 1, key: NodeId(5), hops: 0 }),
        Msg::Found(Found { id: 1, key: NodeId(5), hops: 1, record: None, holders: vec![] }),
        Msg::Store(vec![]),
        Msg::Neighbours { ask: true, peers: vec![] },
    ]
}

#[test]
fn ring_frames_from_a_peer_that_did_not_announce_the_ring_are_counted_not_banned() {
    let mut host = core(1);
    let mut peer = core(2);
    connect(&mut host, &mut peer, ConnId(20), FEATURE_INTEREST);
    for (i, msg) in ring_samples().into_iter().enumerate() {
        host.handle_input(Input::Frame { conn: ConnId(20), msg }, t(10 + i as u64));
        let out = drain(&mut host);
        assert!(out.iter().all(|o| !matches!(o, Output::Close { .. })), "link kept");
        assert!(out.iter().all(|o| !matches!(o, Output::Send { msg, .. } if msg.is_ring())), "no answer");
    }
    assert_eq!(host.stats().ring_dropped, 4);
    assert_eq!(host.stats().invalid, 0);
    assert!(host.connected_nodes().contains(&peer.me));
}

#[test]
fn oversized_ring_lists_are_refused_whole() {
    let mut host = core(1);
    let mut peer = core(2);
    connect(&mut host, &mut peer, ConnId(20), FEATURE_INTEREST | FEATURE_RING);
    let pr = PeerRef { node: NodeId(9), addr: Addr::v4([9, 9, 9, 9], 9) };
    let too_many = [
        Msg::Neighbours { ask: true, peers: vec![pr; RING_NEIGHBOURS_MAX + 1] },
        Msg::Store(vec![Body::from_slice(b"x"); RING_STORE_PER_FRAME + 1]),
        Msg::Found(Found { id: 1, key: NodeId(5), hops: 1, record: None, holders: vec![pr; RING_REPLICAS + 1] }),
    ];
    for msg in too_many {
        assert!(!dht::ring_frame_fits(&msg), "{}", msg.name());
        host.handle_input(Input::Frame { conn: ConnId(20), msg }, t(10));
        let out = drain(&mut host);
        assert!(out.iter().all(|o| !matches!(o, Output::Send { msg, .. } if msg.is_ring())), "no answer");
    }
    assert_eq!(host.stats().ring_dropped, 3);
    assert!(host.connected_nodes().contains(&peer.me), "never a ban");
    for msg in ring_samples() {
        assert!(dht::ring_frame_fits(&msg), "{}", msg.name());
    }
}
