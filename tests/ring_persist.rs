//! A ring holder keeps the records it holds across a restart (issue 10 part 2, "persisted
//! across restarts"; `src/overlay/dht_persist.rs`). Real server processes on loopback with
//! `--directory ring`; the other ring cores are raw peers speaking the wire protocol by hand,
//! so nobody can re-store a record behind the test's back. Every wait is on a frame or on
//! `/status`, never on log text (a socket read timeout only turns a hang into a failure).

mod common;

use std::net::TcpListener;

use common::cluster::overlay_addr;
use common::raw::{signed_record, user, RawPeer};
use common::{Node, NodeOpts, TempDir};
use nostrp2p::overlay::crypto::{Rejected, SchnorrCrypto};
use nostrp2p::wire::{Addr, Body, FindNode, Key32, Msg, NodeId, Role, FEATURE_INTEREST, FEATURE_RING};

fn start(dir: &TempDir, ip: Option<std::net::IpAddr>) -> Node {
    let mut opts = NodeOpts::new(&user(0).public_key().to_hex(), dir.path()).arg("--directory").arg("ring");
    if let Some(ip) = ip {
        opts.ip = ip;
    }
    opts.env.push(("NOSTRP2P_ROLE".into(), "core".into()));
    Node::start(opts)
}

/// A raw ring core of test user `owner` (node key `[seed; 32]`), advertising a listener it
/// keeps open, so the server takes it into its ring table.
fn ring_peer(server: &Node, owner: u8, seed: u8) -> (RawPeer, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("advertised address");
    let port = listener.local_addr().expect("addr").port();
    let peer = RawPeer::connect_announcing(
        overlay_addr(server),
        Key32(user(owner).public_key().0),
        [seed; 32],
        Role::Core,
        Some(Addr::v4([127, 0, 0, 1], port)),
        FEATURE_INTEREST | FEATURE_RING,
    );
    (peer, listener)
}

/// A validly signed core record of test user `owner` with node key `[seed; 32]`.
fn record(owner: u8, seed: u8) -> (NodeId, Body) {
    let mut crypto = SchnorrCrypto::new([seed; 32], |_, _, _| Err(Rejected::Malformed)).expect("node key");
    let owner = Key32(user(owner).public_key().0);
    let rec = signed_record(&mut crypto, owner, Role::Core, Some(Addr::v4([127, 0, 0, 1], 9)));
    (rec.node, Body::from_slice(&nostrp2p::wire::encode_record(&rec)))
}

/// Ask the server for `key` and return the record bytes its answer carries.
fn lookup(peer: &mut RawPeer, id: u64, key: NodeId) -> Option<Body> {
    peer.send(&Msg::FindNode(FindNode { id, key, hops: 0 }));
    loop {
        match peer.read_msg() {
            Msg::Found(f) if f.id == id && f.key == key => return f.record,
            Msg::Ping(n) => peer.send(&Msg::Pong(n)),
            _ => {}
        }
    }
}

#[test]
fn a_restarted_ring_holder_answers_for_a_record_it_held_before() {
    let dir = TempDir::new("ring-persist");
    let server = start(&dir, None);
    let ip = server.opts.ip;
    // Core 7 stores core 9's record at the server (two ring cores: both hold every key).
    let (z, z_body) = record(9, 90);
    let (mut seven, _l7) = ring_peer(&server, 7, 70);
    seven.send(&Msg::Store(vec![z_body.clone()]));
    assert_eq!(lookup(&mut seven, 1, z), Some(z_body.clone()), "held before the restart");
    drop(seven);
    let status = server.terminate();
    assert!(status.success(), "clean shutdown: {status:?}");
    assert!(dir.path().join("ring-records.bin").exists(), "written at shutdown");

    // Restarted on the same data dir: a different core asks, nobody has stored anything since.
    let server = start(&dir, Some(ip));
    let (mut eight, _l8) = ring_peer(&server, 8, 80);
    assert_eq!(lookup(&mut eight, 2, z), Some(z_body), "answered from the records kept across the restart");
    drop(eight);
    server.terminate();

    // A damaged file is ignored with a warning: the server starts and holds nothing from it.
    let path = dir.path().join("ring-records.bin");
    let mut bytes = std::fs::read(&path).expect("file");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&path, &bytes).expect("damage it");
    let server = start(&dir, Some(ip));
    let (mut eight, _l8) = ring_peer(&server, 8, 80);
    assert_eq!(lookup(&mut eight, 3, z), None, "nothing trusted from a damaged file");
}
