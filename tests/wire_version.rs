//! Real processes on loopback: a peer of the previous protocol version is refused visibly
//! (log + `/status`), not split off silently, and a peer of an older build of this protocol
//! gets only frames it decodes (`GossipAlso` only to peers announcing it). Every wait is
//! bounded polling on state or a socket read with a timeout.

mod common;

use std::io::Write;
use std::net::TcpStream;

use common::cluster::{overlay_addr, publish, start_node, status, wait_until};
use common::raw::{now, user, RawPeer};
use common::TempDir;
use nostrp2p::event::Event;
use nostrp2p::time::UnixTime;
use nostrp2p::wire::{Addr, Key32, Msg, NodeId, Role, FEATURE_ALSO, FEATURE_INTEREST};

/// A frame of protocol 2 (the build before the id-once `Gossip`): a `Ping(7)`, byte for byte
/// as that build wrote it (`tests/vectors/wire-v2.txt` of that build).
const V2_PING: [u8; 9] = [0, 0, 0, 5, 2, 0x81, 0xa1, 0x50, 0x07];

#[test]
fn a_peer_of_the_previous_protocol_is_named_in_status_and_the_log() {
    let dir = TempDir::new("udp-v2");
    let a = start_node(&user(0).public_key().to_hex(), &dir, None);
    assert_eq!(status(&a)["network"]["transport"]["protocol"], 3);
    let mut old = TcpStream::connect(overlay_addr(&a)).expect("connect");
    old.write_all(&V2_PING).expect("send");
    wait_until("the node to count the old peer", &[&a], || {
        status(&a)["network"]["transport"]["other_protocol_peers"].as_u64() >= Some(1)
    });
    assert_eq!(status(&a)["network"]["transport"]["other_protocol"], 2);
    wait_until("the log to say what to do", &[&a], || a.log_text().contains("speaks protocol 2, we speak 3"));
}

/// A core peer joined to `to`'s active view, announcing `features` (0: a build before
/// capability bits; without `FEATURE_ALSO`: a build before `GossipAlso`).
fn joined_core(to: std::net::SocketAddr, seed: u8, features: u8) -> (RawPeer, std::net::TcpListener, NodeId) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("advertised address");
    let port = listener.local_addr().expect("local addr").port();
    let owner = Key32(user(seed).public_key().0);
    let addr = Some(Addr::v4([127, 0, 0, 1], port));
    let mut raw = RawPeer::connect_announcing(to, owner, [seed; 32], Role::Core, addr, features);
    raw.send(&Msg::Join);
    loop {
        match raw.read_msg() {
            Msg::NeighborReply { ok: true } => return (raw, listener, NodeId::of_pubkey(&owner.0)),
            Msg::NeighborReply { ok: false } => panic!("raw peer {seed} refused as a neighbour"),
            _ => {}
        }
    }
}

/// The eager copy of `body` the peer gets next (reads until one arrives; the socket's read
/// timeout turns a hang into a failure).
fn next_copy_of(raw: &mut RawPeer, body: &[u8]) -> Msg {
    loop {
        match raw.read_msg() {
            Msg::Ping(n) => raw.send(&Msg::Pong(n)),
            m @ (Msg::Gossip(_) | Msg::GossipAlso(..)) => {
                let (Msg::Gossip(g) | Msg::GossipAlso(g, _)) = &m else { continue };
                if g.body.as_slice() == body {
                    return m;
                }
            }
            _ => {}
        }
    }
}

/// Interop of the `GossipAlso` frame (issue 11): a real server's own post goes to a peer that
/// announced `FEATURE_ALSO` as a copy naming the other receiver, and to peers of older builds
/// (an older capability set, or none at all) as the plain `Gossip` they decode.
#[test]
fn an_own_post_names_its_twins_only_to_peers_that_understand_it() {
    let dir = TempDir::new("also-interop");
    let a = start_node(&user(0).public_key().to_hex(), &dir, None);
    let to = overlay_addr(&a);
    let (mut new, _l1, new_id) = joined_core(to, 21, FEATURE_INTEREST | FEATURE_ALSO);
    let (mut older, _l2, older_id) = joined_core(to, 22, FEATURE_INTEREST);
    let (mut oldest, _l3, oldest_id) = joined_core(to, 23, 0);
    let post = Event::new_signed(&user(0), UnixTime(now()), 1, vec![], "named twins".into(), &[9; 32]);
    publish(&a, &post);
    let body = nostrp2p::event::packed::encode(&post);
    match next_copy_of(&mut new, &body) {
        Msg::GossipAlso(_, named) => {
            assert!(named.contains(&older_id) && named.contains(&oldest_id), "{named:?}");
            assert!(!named.contains(&new_id), "a copy does not name its own receiver");
        }
        other => panic!("the peer that announced FEATURE_ALSO got {}", other.name()),
    }
    assert!(matches!(next_copy_of(&mut older, &body), Msg::Gossip(_)), "older build: plain Gossip");
    assert!(matches!(next_copy_of(&mut oldest, &body), Msg::Gossip(_)), "oldest build: plain Gossip");
}
