//! Real processes on loopback: a peer of the previous protocol version is refused visibly
//! (log + `/status`), not split off silently, and a peer of an older build of this protocol
//! gets only frames it decodes (`GossipAlso`, `LinkSent` only to peers announcing them). Every wait is
//! bounded polling on state or a socket read with a timeout.

mod common;

use std::io::Write;
use std::net::{TcpStream, UdpSocket};

use common::cluster::{overlay_addr, publish, start_node, status, wait_until};
use common::raw::{now, pair, user, RawPeer};
use common::TempDir;
use nostrp2p::event::Event;
use nostrp2p::net::datagram::seal;
use nostrp2p::time::UnixTime;
use nostrp2p::wire::{
    Addr, Key32, Msg, NodeId, Role, FEATURE_ALSO, FEATURE_DATAGRAM, FEATURE_INTEREST, FEATURE_LINK_SENT,
};

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

/// A joined core peer with a working datagram link to `to`'s node: it answers the node's
/// `Link` offer with its own, sends it one datagram (so the node hears it) and confirms by TCP
/// (an empty `LinkResend`) that it heard the node's probe. Returns the peer, its listener and
/// UDP socket (kept open) once the node confirmed hearing it too.
fn linked_core(to: std::net::SocketAddr, seed: u8, features: u8) -> (RawPeer, std::net::TcpListener, UdpSocket) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("advertised address");
    let addr = Some(Addr::v4([127, 0, 0, 1], listener.local_addr().expect("local addr").port()));
    let mut raw =
        RawPeer::connect_announcing(to, Key32(user(seed).public_key().0), [seed; 32], Role::Core, addr, features);
    raw.send(&Msg::Join);
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
    udp.set_read_timeout(Some(std::time::Duration::from_secs(60))).expect("timeout");
    // The node's `Link` offer can come before or after its answer to the `Join`.
    let (mut link, mut joined) = (None, false);
    while link.is_none() || !joined {
        match raw.read_msg() {
            Msg::Link { token, key, .. } => link = Some((token, key.0)),
            Msg::NeighborReply { ok } => joined = ok,
            Msg::Ping(n) => raw.send(&Msg::Pong(n)),
            _ => {}
        }
    }
    let (token, key) = link.expect("the loop ends with an offer");
    let port = udp.local_addr().expect("local").port();
    raw.send(&Msg::Link { port, token: 0x5eed_0000 + u64::from(seed), key: Key32([seed; 32]) });
    let mut probe = [0u8; 2048];
    let (_, from) = udp.recv_from(&mut probe).expect("the node's probe");
    udp.send_to(&seal(token, &key, 1, &[]), from).expect("our probe");
    raw.send(&Msg::LinkResend(Vec::new()));
    loop {
        match raw.read_msg() {
            Msg::LinkResend(seqs) if seqs.is_empty() => return (raw, listener, udp),
            Msg::Ping(n) => raw.send(&Msg::Pong(n)),
            _ => {}
        }
    }
}

/// What the peer gets by TCP up to the eager copy of `body` (answering Pings).
fn frames_until_copy_of(raw: &mut RawPeer, body: &[u8]) -> Vec<Msg> {
    let mut seen = Vec::new();
    loop {
        let m = raw.read_msg();
        if let Msg::Ping(n) = m {
            raw.send(&Msg::Pong(n));
        }
        let done = matches!(&m, Msg::Gossip(g) | Msg::GossipAlso(g, _) if g.body.as_slice() == body);
        seen.push(m);
        if done {
            return seen;
        }
    }
}

/// Interop of `LinkSent` (issue 11, tail loss): a link's last datagram sequence number rides
/// on a later TCP frame only to a peer that announced `FEATURE_LINK_SENT`; a peer of the
/// build before (datagrams, no `LinkSent`) never gets the frame it could not decode.
#[test]
fn a_tail_rides_only_to_peers_that_understand_it() {
    // Two real servers: a node alone never decides its role, and offers links only as core.
    let (_dirs, a, _b) = pair("linksent-interop");
    let to = overlay_addr(&a);
    let (mut new, _l1, _u1) = linked_core(to, 31, FEATURE_INTEREST | FEATURE_DATAGRAM | FEATURE_LINK_SENT);
    let (mut older, _l2, _u2) = linked_core(to, 32, FEATURE_INTEREST | FEATURE_DATAGRAM);
    let small = Event::new_signed(&user(0), UnixTime(now()), 1, vec![], "by datagram".into(), &[1; 32]);
    publish(&a, &small);
    wait_until("the post to leave by datagram", &[&a], || {
        status(&a)["network"]["transport"]["datagrams_by_kind"]["payload"].as_u64() >= Some(3)
    });
    // A tail rides only `TAIL_RIDE_MS` after the last datagram: the protocol's wait.
    std::thread::sleep(std::time::Duration::from_millis(nostrp2p::net::datagram::TAIL_RIDE_MS + 200));
    let large = Event::new_signed(&user(0), UnixTime(now()), 1, vec![], "x".repeat(2_000), &[2; 32]);
    publish(&a, &large);
    let body = nostrp2p::event::packed::encode(&large);
    let rides = |seen: &[Msg]| seen.iter().any(|m| matches!(m, Msg::LinkSent(_)));
    assert!(rides(&frames_until_copy_of(&mut new, &body)), "the peer that announced it got LinkSent");
    assert!(!rides(&frames_until_copy_of(&mut older, &body)), "the older build did not");
}
