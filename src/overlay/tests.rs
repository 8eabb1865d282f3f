//! Hand-fed unit tests of the state machine: exact outputs for malformed input and a bad
//! handshake (the simulator covers the protocols end to end).

use super::sim::FakeCrypto;
use super::*;
use crate::wire::{Hello, Sig};

pub(super) fn node(seed: u64) -> Overlay {
    node_with(seed, vec![])
}

/// A core node with owner key `seed`, listening on 10.0.0.`seed`:7000, dialling `bootstrap`.
pub(super) fn node_with(seed: u64, bootstrap: Vec<Addr>) -> Overlay {
    let mut owner = [0u8; 32];
    owner[31] = seed as u8;
    let cfg = Config {
        owner: Key32(owner),
        delegation: None,
        listen: Some(Addr::v4([10, 0, 0, seed as u8], 7000)),
        bootstrap,
        role: RoleChoice::Core,
        leaf_slots: params::LEAF_SLOTS,
        delivery: crate::wire::DeliveryMode::Auto,
        directory: crate::overlay::DirectoryMode::Broadcast,
        seed,
    };
    Overlay::new(cfg, Box::new(FakeCrypto::new([seed as u8; 32])), t(0))
}

/// Clock readings `ms` after start (wall clock at the simulator's origin).
pub(super) fn t(ms: u64) -> Now {
    super::sim::sim_now(Instant(ms), 0)
}

pub(super) fn drain(o: &mut Overlay) -> Vec<Output> {
    std::iter::from_fn(|| o.poll_output()).collect()
}

/// The addresses `o` asks to dial now (its other outputs are dropped).
fn dials(o: &mut Overlay) -> Vec<Addr> {
    drain(o)
        .into_iter()
        .filter_map(|out| match out {
            Output::Dial { addr, .. } => Some(addr),
            _ => None,
        })
        .collect()
}

#[test]
fn malformed_input_is_counted_and_the_connection_closed() {
    let mut o = node(1);
    o.handle_input(Input::Accepted { conn: ConnId(1), remote: Addr::v4([10, 0, 0, 9], 1) }, t(5));
    let out = drain(&mut o);
    assert!(matches!(out.as_slice(), [Output::Send { conn: ConnId(1), msg: Msg::Hello(_) }]), "{out:?}");
    o.handle_input(Input::Malformed { conn: ConnId(1) }, t(6));
    let out = drain(&mut o);
    assert!(matches!(out.as_slice(), [Output::Close { conn: ConnId(1) }]), "{out:?}");
    assert_eq!(o.stats().malformed, 1);
    assert_eq!(o.conn_count(), 0);
}

#[test]
fn a_protocol_message_before_the_handshake_or_a_bad_auth_closes() {
    let mut o = node(1);
    o.handle_input(Input::Accepted { conn: ConnId(1), remote: Addr::v4([10, 0, 0, 9], 1) }, t(5));
    drain(&mut o);
    o.handle_input(Input::Frame { conn: ConnId(1), msg: Msg::Join }, t(6));
    assert!(matches!(drain(&mut o).as_slice(), [Output::Close { .. }]));
    assert_eq!(o.stats().handshake_failed, 1);

    // A correct Hello from node 2, then an Auth signed for the wrong nonce.
    let peer = node(2);
    o.handle_input(Input::Accepted { conn: ConnId(2), remote: Addr::v4([10, 0, 0, 2], 1) }, t(7));
    drain(&mut o);
    let hello = Hello { record: peer.record.clone(), nonce: 99 };
    o.handle_input(Input::Frame { conn: ConnId(2), msg: Msg::Hello(Box::new(hello)) }, t(8));
    let out = drain(&mut o);
    assert!(matches!(out.as_slice(), [Output::Send { msg: Msg::Auth(_), .. }]), "{out:?}");
    o.handle_input(Input::Frame { conn: ConnId(2), msg: Msg::Auth(Sig([0; 64])) }, t(9));
    assert!(matches!(drain(&mut o).as_slice(), [Output::Close { conn: ConnId(2) }]));
    assert!(o.connected_nodes().is_empty());
}

#[test]
fn a_record_for_another_node_id_is_refused() {
    // The record says node id X but the owner key's low 64 bits are another id.
    let mut o = node(1);
    let mut forged = node(2).record.clone();
    forged.node = NodeId(12345);
    o.handle_input(Input::Accepted { conn: ConnId(3), remote: Addr::v4([10, 0, 0, 2], 1) }, t(1));
    drain(&mut o);
    o.handle_input(
        Input::Frame { conn: ConnId(3), msg: Msg::Hello(Box::new(Hello { record: forged, nonce: 1 })) },
        t(2),
    );
    assert!(matches!(drain(&mut o).as_slice(), [Output::Close { conn: ConnId(3) }]));
    assert_eq!(o.stats().handshake_failed, 1);
}

#[test]
fn a_wildcard_listen_address_is_never_advertised() {
    let mut cfg_node = node(4);
    assert!(cfg_node.record.addr.is_some());
    let mut owner = [0u8; 32];
    owner[31] = 5;
    let cfg = Config {
        owner: Key32(owner),
        delegation: None,
        listen: Some(Addr::v4([0, 0, 0, 0], 20000)),
        bootstrap: vec![],
        role: RoleChoice::Auto,
        leaf_slots: params::LEAF_SLOTS,
        delivery: crate::wire::DeliveryMode::Auto,
        directory: crate::overlay::DirectoryMode::Broadcast,
        seed: 5,
    };
    let wild = Overlay::new(cfg, Box::new(FakeCrypto::new([5; 32])), t(0));
    assert_eq!(wild.role(), Role::Core);
    assert_eq!(wild.record.addr, None, "peers would dial 0.0.0.0, i.e. themselves");
    cfg_node.handle_timeout(t(1));
}

/// Handshake `o` with `peer` on inbound connection `conn` from `remote`; returns o's outputs
/// after the peer's `Auth` (or after its `Hello` when `auth` is false).
fn handshake(o: &mut Overlay, peer: &Overlay, peer_key: [u8; 32], conn: u64, remote: Addr, auth: bool) -> Vec<Output> {
    o.handle_input(Input::Accepted { conn: ConnId(conn), remote }, t(10));
    let (nonce, mut out) = answer_hello(o, peer, ConnId(conn), 11);
    if auth {
        out.extend(send_auth(o, peer, peer_key, nonce, ConnId(conn), 12));
    }
    out
}

/// An authenticated inbound connection `conn` from `peer` (node key `peer_key`) at `remote`.
pub(super) fn handshake_with(o: &mut Overlay, peer: &Overlay, peer_key: [u8; 32], conn: u64, remote: Addr) {
    handshake(o, peer, peer_key, conn, remote, true);
}

/// Drain `o`'s outputs; the nonce of the `Hello` it sent (every handshake's first step).
pub(super) fn hello_nonce(o: &mut Overlay) -> u64 {
    drain(o)
        .into_iter()
        .find_map(|out| match out {
            Output::Send { msg: Msg::Hello(h), .. } => Some(h.nonce),
            _ => None,
        })
        .expect("says hello")
}

/// `peer`'s side of the handshake after `o` said hello on `conn`: its `Hello` at `at`.
/// Returns the nonce `o` asked it to sign and o's outputs.
pub(super) fn answer_hello(o: &mut Overlay, peer: &Overlay, conn: ConnId, at: u64) -> (u64, Vec<Output>) {
    let nonce = hello_nonce(o);
    let hello = Hello { record: peer.record.clone(), nonce: 7 };
    o.handle_input(Input::Frame { conn, msg: Msg::Hello(Box::new(hello)) }, t(at));
    (nonce, drain(o))
}

/// `peer`'s `Auth` on `conn` at `at`: its node key `peer_key` signs `nonce`. Returns o's outputs.
pub(super) fn send_auth(
    o: &mut Overlay,
    peer: &Overlay,
    peer_key: [u8; 32],
    nonce: u64,
    conn: ConnId,
    at: u64,
) -> Vec<Output> {
    let sig = FakeCrypto::new(peer_key).sign(&Hello::auth_hash(nonce, peer.node_id()));
    o.handle_input(Input::Frame { conn, msg: Msg::Auth(sig) }, t(at));
    drain(o)
}

#[test]
fn a_hello_without_auth_never_reaches_the_directory() {
    // The squatter's Hello (a valid record under its own key, claiming node 2's id) is never
    // followed by an Auth: nothing of it may be kept.
    let mut o = node(1);
    let before = o.directory_len();
    let squatter = node(2);
    handshake(&mut o, &squatter, [2; 32], 5, Addr::v4([10, 0, 0, 9], 1), false);
    assert_eq!(o.directory_len(), before, "merged before authentication");
    assert!(o.directory().get(squatter.node_id()).is_none());
}

#[test]
fn one_network_cannot_flood_the_directory_with_new_ids() {
    let mut o = node(1);
    let before = o.directory_len();
    for k in 0..100u64 {
        let sybil = node(10 + k);
        let key = [(10 + k) as u8; 32];
        handshake(&mut o, &sybil, key, 100 + k, Addr::v4([10, 9, 9, (k % 250) as u8], 4000), true);
    }
    let added = o.directory_len() - before;
    assert!(added as u64 <= params::NEW_IDS_PER_PREFIX_BURST, "one /24 added {added} ids");
    assert!(o.stats().prefix_limited > 0);
    // Another network is still welcome.
    let honest = node(200);
    handshake(&mut o, &honest, [200; 32], 999, Addr::v4([10, 7, 7, 7], 4000), true);
    assert!(o.directory().get(honest.node_id()).is_some());
}

#[test]
fn a_reach_check_dials_only_the_observed_ip() {
    // The peer at 10.0.0.9 asks to be dialled back at a third party's address.
    let mut o = node(1);
    let peer = node(2);
    handshake(&mut o, &peer, [2; 32], 5, Addr::v4([10, 0, 0, 9], 1234), true);
    o.handle_input(Input::Frame { conn: ConnId(5), msg: Msg::ReachCheck(Addr::v4([192, 0, 2, 80], 80)) }, t(20));
    let dials = dials(&mut o);
    assert_eq!(dials, vec![Addr::v4([10, 0, 0, 9], 80)], "observed IP, claimed port");
}

#[test]
fn directory_digests_are_answered_once_per_interval() {
    let mut o = node(1);
    for k in 0..20u64 {
        let other = node(30 + k);
        handshake(&mut o, &other, [(30 + k) as u8; 32], 300 + k, Addr::v4([10, 3, k as u8, 1], 4000), true);
    }
    let peer = node(2);
    handshake(&mut o, &peer, [2; 32], 5, Addr::v4([10, 0, 0, 9], 1234), true);
    let records = |out: Vec<Output>| -> usize {
        out.iter()
            .map(|x| match x {
                Output::Send { msg: Msg::DirRecords(r), .. } => r.len(),
                _ => 0,
            })
            .sum()
    };
    let mut total = 0;
    for i in 0..50 {
        o.handle_input(Input::Frame { conn: ConnId(5), msg: Msg::DirDigest(vec![0; 256]) }, t(30 + i));
        total += records(drain(&mut o));
    }
    let dir = o.directory_len();
    assert!(dir >= 20, "{dir}");
    assert!(total <= dir, "50 digests made {total} records for a directory of {dir}");
}

#[test]
fn a_bootstrap_resolved_after_start_is_dialled_and_checks_reachability_first() {
    let mut owner = [0u8; 32];
    owner[31] = 6;
    let cfg = Config {
        owner: Key32(owner),
        delegation: None,
        listen: Some(Addr::v4([10, 0, 0, 6], 7000)),
        bootstrap: vec![], // `-b name` did not resolve at start
        role: RoleChoice::Auto,
        leaf_slots: params::LEAF_SLOTS,
        delivery: crate::wire::DeliveryMode::Auto,
        directory: crate::overlay::DirectoryMode::Broadcast,
        seed: 6,
    };
    let mut o = Overlay::new(cfg, Box::new(FakeCrypto::new([6; 32])), t(0));
    o.handle_timeout(t(1));
    assert!(!o.is_deciding());
    assert!(!drain(&mut o).iter().any(|out| matches!(out, Output::Dial { .. })));
    let boot = Addr::v4([10, 0, 0, 7], 7000);
    o.set_bootstrap(vec![boot], Instant(2));
    assert!(o.is_deciding(), "a NATed Pi must not claim core without the dial-back check");
    o.handle_timeout(t(5_000));
    let dials = dials(&mut o);
    assert_eq!(dials, vec![boot]);
    // Another address replaces it: the old one is no longer redialled.
    let moved = Addr::v4([10, 0, 0, 8], 7000);
    o.set_bootstrap(vec![moved], Instant(6_000));
    assert!(o.redials.iter().all(|r| r.addr != boot || r.purpose != conn::Purpose::Bootstrap));
    assert!(o.redials.iter().any(|r| r.addr == moved));
}

/// A core whose bootstrap contact refuses its `Join` (the contact is still checking its own
/// reachability) asks again until one is accepted, and only `JOIN_RETRIES` times: before, it
/// never asked again once other cores linked to it, and stayed an island with them
/// (tests/sim_dir.rs). A contact that refuses for ever costs one small frame per retry, bounded.
#[test]
fn a_refused_join_is_retried_until_accepted_and_no_more_than_the_bound() {
    let boot = Addr::v4([10, 0, 0, 9], 7000);
    let mut o = node_with(1, vec![boot]);
    let contact = node(9);
    o.handle_timeout(t(1));
    let conn = drain(&mut o)
        .into_iter()
        .find_map(|out| match out {
            Output::Dial { conn, addr } if addr == boot => Some(conn),
            _ => None,
        })
        .expect("dials its bootstrap");
    o.handle_input(Input::Connected { conn }, t(2));
    let (nonce, _) = answer_hello(&mut o, &contact, conn, 3);
    let joins = |out: &[Output]| out.iter().filter(|x| matches!(x, Output::Send { msg: Msg::Join, .. })).count();
    let mut sent = joins(&send_auth(&mut o, &contact, [9; 32], nonce, conn, 4));
    assert_eq!(sent, 1, "joins on connecting");
    // The contact refuses every Join, and someone else links to us meanwhile (a core that
    // joined through us): our view is not empty, so only the retry can get us to the contact.
    let other = node(3);
    handshake_with(&mut o, &other, [3; 32], 40, Addr::v4([10, 0, 0, 3], 7000));
    o.handle_input(Input::Frame { conn: ConnId(40), msg: Msg::Join }, t(13));
    assert!(o.active_view().contains(&other.node_id()));
    let mut at = 14;
    for _ in 0..(JOIN_RETRIES as u64 + 10) * JOIN_RETRY_MS / 1_000 {
        o.handle_input(Input::Frame { conn, msg: Msg::NeighborReply { ok: false } }, t(at));
        o.handle_timeout(t(at + 1_000));
        sent += joins(&drain(&mut o));
        at += 1_000;
    }
    assert!(sent >= 3, "a refused Join must be asked again ({sent} sent)");
    assert!(sent <= 1 + JOIN_RETRIES as usize, "retries are bounded ({sent} sent)");
    assert_eq!(o.stats().join_retries as usize, sent - 1);

    // With retries left, an accepted one ends them.
    let mut o = node_with(1, vec![boot]);
    o.handle_timeout(t(1));
    drain(&mut o);
    o.handle_input(Input::Connected { conn }, t(2));
    let (nonce, _) = answer_hello(&mut o, &contact, conn, 3);
    send_auth(&mut o, &contact, [9; 32], nonce, conn, 4);
    o.handle_input(Input::Frame { conn, msg: Msg::NeighborReply { ok: false } }, t(5));
    o.handle_timeout(t(1_005));
    assert_eq!(joins(&drain(&mut o)), 1, "asked again");
    o.handle_input(Input::Frame { conn, msg: Msg::NeighborReply { ok: true } }, t(1_100));
    assert!(o.active_view().contains(&contact.node_id()));
    let mut later = 0;
    for k in 0..60 {
        o.handle_timeout(t(2_000 + k * 1_000));
        later += joins(&drain(&mut o));
    }
    assert_eq!(later, 0, "accepted: no more Joins");
}

#[test]
fn a_reach_check_is_dialled_back_even_with_every_connection_slot_taken() {
    // At 100k simulated nodes a popular early core, its `MAX_CONNS` slots full, answered a
    // newcomer's reach check "unreachable" without dialling: the newcomer, reachable, became a
    // leaf, and the nodes bootstrapping through it never joined (the run never settled). A
    // probe is short-lived: it has `PROBE_RESERVE_CONNS` slots of its own.
    let mut o = node(1);
    let peer = node(2);
    handshake(&mut o, &peer, [2; 32], 5, Addr::v4([10, 0, 0, 9], 1234), true);
    let mut k = 0u8;
    while o.conns.len() < MAX_CONNS {
        k = k.wrapping_add(1);
        o.handle_input(
            Input::Accepted { conn: ConnId(1_000 + o.conns.len() as u64), remote: Addr::v4([10, 7, k, 1], 7000) },
            t(10),
        );
    }
    drain(&mut o);
    o.handle_input(Input::Frame { conn: ConnId(5), msg: Msg::ReachCheck(Addr::v4([10, 0, 0, 9], 7000)) }, t(20));
    let out = drain(&mut o);
    assert!(
        out.iter().any(|x| matches!(x, Output::Dial { addr, .. } if *addr == Addr::v4([10, 0, 0, 9], 7000))),
        "dialled back: {out:?}"
    );
    assert!(!out.iter().any(|x| matches!(x, Output::Send { msg: Msg::ReachResult { ok: false, .. }, .. })));
}
