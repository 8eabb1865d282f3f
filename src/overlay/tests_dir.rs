//! Hand-fed tests of the gossiped new-id budget and the join catch-up allowance
//! (`dir_admit.rs`): a peer's `DirRecords` and record broadcasts of fabricated ids are bounded
//! per IP prefix, refreshes are free, and a link to our bootstrap peer may deliver a whole
//! directory.

use super::sim::FakeCrypto;
use super::tests::{answer_hello, drain, node_with as node, send_auth, t};
use super::*;
use crate::wire::{Gossip, GossipKind, Sig};

const UNIX0: u64 = super::sim::SIM_UNIX_ORIGIN;

/// A fabricated core record number `k`, signed by the attacker's node key `[0x99; 32]`.
pub(super) fn fabricated(k: u64, seq: u64) -> Body {
    let mut crypto = FakeCrypto::new([0x99; 32]);
    let mut owner = [0xab; 32];
    // The node id is the key's last 8 bytes: distinct ids, spread over the id space (an odd
    // multiplier is a bijection).
    owner[24..].copy_from_slice(&(k + 1_000_000).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    let mut rec = NodeRecord {
        node: NodeId::of_pubkey(&owner),
        owner: Key32(owner),
        node_key: crypto.node_key(),
        delegation: None,
        role: Role::Core,
        addr: Some(Addr::v4([192, 0, 2, 1], 7000)),
        homes: vec![],
        seq,
        expires: UNIX0 + 3_600,
        sig: Sig([0; 64]),
    };
    rec.sig = crypto.sign(&rec.signing_hash());
    Body::from_slice(&rmp_serde::to_vec(&rec).unwrap_or_default())
}

/// Completes the handshake on `conn` (already accepted, or dialled and connected) with `peer`.
pub(super) fn authenticate(o: &mut Overlay, peer: &Overlay, peer_key: [u8; 32], conn: ConnId, at: u64) {
    let (nonce, _) = answer_hello(o, peer, conn, at);
    send_auth(o, peer, peer_key, nonce, conn, at + 1);
    assert!(o.connected_nodes().contains(&peer.node_id()), "handshake on {conn:?} failed");
}

/// Sends records `ks` (at `seq`) on `conn` in `DirRecords` frames.
pub(super) fn send_records(o: &mut Overlay, conn: ConnId, ks: std::ops::Range<u64>, seq: u64, at: u64) {
    let bodies: Vec<Body> = ks.map(|k| fabricated(k, seq)).collect();
    for (i, chunk) in bodies.chunks(DIR_RECORDS_PER_FRAME).enumerate() {
        o.handle_input(Input::Frame { conn, msg: Msg::DirRecords(chunk.to_vec()) }, t(at + i as u64));
        drain(o);
    }
}

#[test]
fn gossiped_records_of_new_ids_are_bounded_per_prefix_and_refreshes_are_free() {
    let mut o = node(1, vec![]);
    let peer = node(2, vec![]);
    o.handle_input(Input::Accepted { conn: ConnId(5), remote: Addr::v4([10, 9, 9, 9], 4000) }, t(10));
    authenticate(&mut o, &peer, [2; 32], ConnId(5), 11);
    let before = o.directory_len() as u64;
    let n = 2 * GOSSIP_NEW_IDS_BURST;
    send_records(&mut o, ConnId(5), 0..n, 1, 20);
    let added = o.directory_len() as u64 - before;
    assert_eq!(added, GOSSIP_NEW_IDS_BURST, "one prefix added {added} new ids from {n} records");
    assert_eq!(o.stats().gossip_limited, n - GOSSIP_NEW_IDS_BURST);
    assert_eq!(o.stats().invalid, 0, "over budget is not an offence");
    assert!(o.connected_nodes().contains(&peer.node_id()), "the link survives");
    // A newer version of an id we hold costs nothing, though the budget is spent.
    send_records(&mut o, ConnId(5), 0..10, 2, 100);
    assert!((0..10).all(|k| {
        let rec: NodeRecord = rmp_serde::from_slice(fabricated(k, 2).as_slice()).expect("decodes");
        o.directory().seq_of(rec.node) == Some(2)
    }));
    // A broadcast record of a new id is held to the same budget (it would be relayed on).
    let body = fabricated(n + 1, 1);
    let rec: NodeRecord = rmp_serde::from_slice(body.as_slice()).expect("decodes");
    let g = Gossip { id: directory::record_msg_id(&rec, body.as_slice()), kind: GossipKind::Record, round: 0, body };
    o.handle_input(Input::Frame { conn: ConnId(5), msg: Msg::Gossip(g) }, t(200));
    assert!(o.directory().get(rec.node).is_none(), "a broadcast record got past the budget");
    // Another link from the same /24 draws on the same budget; the budget refills with time.
    let later = 200 + 10 * GOSSIP_NEW_ID_INTERVAL_MS;
    send_records(&mut o, ConnId(5), n..n + 20, 1, later);
    let refilled = o.directory_len() as u64 - before - GOSSIP_NEW_IDS_BURST;
    assert!((10..=11).contains(&refilled), "{refilled} ids after ten refill intervals");
}

#[test]
fn a_joining_node_learns_a_whole_directory_from_its_bootstrap_peer() {
    let boot = Addr::v4([10, 0, 0, 2], 7000);
    let mut o = node(1, vec![boot]);
    o.handle_timeout(t(1));
    let conn = drain(&mut o)
        .into_iter()
        .find_map(|out| match out {
            Output::Dial { conn, addr } if addr == boot => Some(conn),
            _ => None,
        })
        .expect("dials its bootstrap");
    o.handle_input(Input::Connected { conn }, t(2));
    let contact = node(2, vec![]);
    authenticate(&mut o, &contact, [2; 32], conn, 3);
    let before = o.directory_len() as u64;
    let n = 3 * GOSSIP_NEW_IDS_BURST;
    send_records(&mut o, conn, 0..n, 1, 10);
    assert_eq!(o.directory_len() as u64 - before, n, "the join catch-up was cut short");
    assert_eq!(o.stats().gossip_limited, 0);
    // An inbound stranger gets only the budget, even while we are joining.
    let stranger = node(3, vec![]);
    o.handle_input(Input::Accepted { conn: ConnId(9), remote: Addr::v4([10, 8, 8, 8], 4000) }, t(500));
    authenticate(&mut o, &stranger, [3; 32], ConnId(9), 501);
    let mid = o.directory_len() as u64;
    send_records(&mut o, ConnId(9), n..3 * n, 1, 600);
    assert_eq!(o.directory_len() as u64 - mid, GOSSIP_NEW_IDS_BURST);
}

/// The honest mass join (issue 8/10): a core's broadcast-tree parent relays nearly every new
/// record, more than one prefix's budget, so records were refused and left to anti-entropy
/// (the storm). A record refused over one prefix's budget is taken free when a link from
/// another prefix relays it too; a Sybil's second link from its own /24 adds nothing.
#[test]
fn an_id_refused_over_one_prefixs_budget_is_taken_when_another_prefix_relays_it() {
    let mut o = node(1, vec![]);
    let links = [(5, [10, 40, 0, 1]), (6, [10, 40, 0, 2]), (7, [10, 41, 0, 1])];
    for (i, (conn, ip)) in links.iter().enumerate() {
        let peer = node(2 + i as u64, vec![]);
        o.handle_input(Input::Accepted { conn: ConnId(*conn), remote: Addr::v4(*ip, 4000) }, t(10));
        authenticate(&mut o, &peer, [2 + i as u8; 32], ConnId(*conn), 11);
    }
    let b = GOSSIP_NEW_IDS_BURST;
    let before = o.directory_len() as u64;
    // The tree parent (prefix 10.40.0) relays three budgets' worth: two are refused.
    send_records(&mut o, ConnId(5), 0..3 * b, 1, 20);
    assert_eq!(o.directory_len() as u64 - before, b);
    // The same ids again from another link of the same /24: still refused (the Sybil bound).
    send_records(&mut o, ConnId(6), b..3 * b, 1, 40);
    assert_eq!(o.directory_len() as u64 - before, b, "a second link from one /24 vouched for its own ids");
    // A link from another prefix relays them: all taken, and its own budget is untouched.
    send_records(&mut o, ConnId(7), b..3 * b, 1, 60);
    assert_eq!(o.directory_len() as u64 - before, 3 * b, "ids relayed by two prefixes stayed refused");
    send_records(&mut o, ConnId(7), 3 * b..5 * b, 1, 80);
    assert_eq!(o.directory_len() as u64 - before, 4 * b, "the second prefix's own budget");
    assert_eq!(o.stats().invalid, 0);
}

/// Every way a valid record is not kept is counted: a directory full of live records refuses
/// a newcomer from `DirRecords` *and* from a record broadcast in `dir_full` (the broadcast path
/// dropped it silently, `DirRecords` counted it as merely useless).
#[test]
fn records_refused_by_a_full_directory_are_counted_on_every_path() {
    let mut o = node(1, vec![]);
    let peer = node(2, vec![]);
    o.handle_input(Input::Accepted { conn: ConnId(5), remote: Addr::v4([10, 9, 9, 9], 4000) }, t(10));
    authenticate(&mut o, &peer, [2; 32], ConnId(5), 11);
    // Room for two more (the cap is structural; a small one stands for `DIR_CAP`).
    let mut small = directory::Directory::new(o.directory_len() + 2);
    for (node, e) in o.directory().iter() {
        let rec: NodeRecord = rmp_serde::from_slice(e.body.as_slice()).expect("decodes");
        assert_eq!(small.merge(&rec, e.body.clone(), e.authorised, UNIX0), directory::Merge::New, "{node}");
    }
    o.dir = small;
    send_records(&mut o, ConnId(5), 0..5, 1, 20);
    assert_eq!(o.stats().dir_full, 3, "DirRecords");
    let body = fabricated(9, 1);
    let rec: NodeRecord = rmp_serde::from_slice(body.as_slice()).expect("decodes");
    let g = Gossip { id: directory::record_msg_id(&rec, body.as_slice()), kind: GossipKind::Record, round: 0, body };
    o.handle_input(Input::Frame { conn: ConnId(5), msg: Msg::Gossip(g) }, t(30));
    assert!(o.directory().get(rec.node).is_none());
    assert_eq!(o.stats().dir_full, 4, "a record broadcast");
    assert_eq!(o.stats().invalid, 0, "a full directory is not the sender's offence");
}
