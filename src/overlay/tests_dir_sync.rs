//! Hand-fed tests of the two-step directory anti-entropy (`dir_sync.rs`): a digest from a peer
//! that announced `FEATURE_DIR_IDS` is answered with ids, not whole buckets of records; the
//! asker wants only what it lacks and its new-id budget admits; a `DirWant` gets no more
//! records than the `DirIds` offered; unasked `DirIds` are ignored.

use super::directory::Directory;
use super::tests::{drain, hello_nonce, node_with as node, send_auth, t};
use super::tests_dir::{fabricated, send_records};
use super::*;
use crate::wire::{Hello, FEATURE_DIR_IDS, MAX_FRAME_BYTES};

/// Handshake on inbound `conn` from `peer` at `remote`, its `Hello` announcing `features`.
fn connect(o: &mut Overlay, peer: &Overlay, key: [u8; 32], conn: u64, remote: Addr, features: u8, at: u64) {
    let conn = ConnId(conn);
    o.handle_input(Input::Accepted { conn, remote }, t(at));
    let nonce = hello_nonce(o);
    let hello = Hello { record: peer.record.clone(), nonce: Hello::tag_nonce(7, features) };
    o.handle_input(Input::Frame { conn, msg: Msg::Hello(Box::new(hello)) }, t(at + 1));
    drain(o);
    send_auth(o, peer, key, nonce, conn, at + 2);
    assert!(o.connected_nodes().contains(&peer.node_id()), "handshake on {conn:?} failed");
}

/// A core `o` holding `3 × GOSSIP_NEW_IDS_BURST` fabricated records (fed by three /24s).
fn core_with_records() -> (Overlay, Vec<Overlay>, u64) {
    let mut o = node(1, vec![]);
    let mut feeders = Vec::new();
    let n = GOSSIP_NEW_IDS_BURST;
    for k in 0..3u64 {
        let p = node(40 + k, vec![]);
        connect(&mut o, &p, [(40 + k) as u8; 32], 40 + k, Addr::v4([10, 40, k as u8, 1], 4000), 0, 10);
        send_records(&mut o, ConnId(40 + k), k * n..(k + 1) * n, 1, 20);
        feeders.push(p);
    }
    assert!(o.directory_len() as u64 >= 3 * n);
    (o, feeders, 3 * n)
}

fn frames(out: &[Output]) -> (usize, usize, Vec<&Msg>) {
    let mut bytes = 0;
    let mut records = 0;
    let mut msgs = Vec::new();
    for x in out {
        if let Output::Send { msg, .. } = x {
            bytes += crate::wire::frame_len(msg);
            if let Msg::DirRecords(r) = msg {
                records += r.len();
            }
            msgs.push(msg);
        }
    }
    (bytes, records, msgs)
}

#[test]
fn a_digest_is_answered_with_ids_and_only_the_wanted_records_follow() {
    let (mut o, _feeders, n) = core_with_records();
    // The peer holds everything but 12 records, spread over the id space.
    let mut theirs = Directory::new(DIR_CAP);
    let mut missing = Vec::new();
    for (i, (node, e)) in o.directory().iter().enumerate() {
        if i % 250 == 7 {
            missing.push(*node);
            continue;
        }
        let rec: NodeRecord = rmp_serde::from_slice(e.body.as_slice()).expect("decodes");
        theirs.merge(&rec, e.body.clone(), false, 0);
    }
    assert!(missing.len() >= 12);
    let differ = (0..DIR_BUCKETS).filter(|b| theirs.digest()[*b] != o.directory().digest()[*b]).count();
    assert!(differ <= missing.len(), "{differ} buckets differ, {} missing", missing.len());
    let q = node(2, vec![]);
    connect(&mut o, &q, [2; 32], 5, Addr::v4([10, 0, 0, 9], 1234), FEATURE_DIR_IDS, 100);
    o.handle_input(Input::Frame { conn: ConnId(5), msg: Msg::DirDigest(theirs.digest()) }, t(110));
    let out = drain(&mut o);
    let (bytes, records, msgs) = frames(&out);
    assert_eq!(records, 0, "whole buckets of records answered a digest");
    let offered: Vec<(NodeId, u64)> = msgs
        .iter()
        .find_map(|m| match m {
            Msg::DirIds(ids) => Some(ids.clone()),
            _ => None,
        })
        .expect("answered with ids");
    let after = (0..DIR_BUCKETS).filter(|b| theirs.digest()[*b] != o.directory().digest()[*b]).count();
    assert!(after <= missing.len() + 1, "{after} buckets differ after connecting");
    assert!(missing.iter().all(|m| offered.iter().any(|(n, _)| n == m)), "every missing id offered");
    // ≈ 19 B per id in the differing buckets, about 12 of 256 buckets of ~12 records.
    assert!(bytes <= 20 * offered.len() + 64, "{bytes} B for {} ids", offered.len());
    assert!(offered.len() < n as usize / 8, "{} ids offered for {} missing", offered.len(), missing.len());
    // The peer asks for the missing ones (and more than were offered, which is cut).
    let mut want = missing.clone();
    want.extend(o.directory().iter().map(|(k, _)| *k));
    o.handle_input(Input::Frame { conn: ConnId(5), msg: Msg::DirWant(want) }, t(120));
    let out = drain(&mut o);
    let sent: Vec<NodeId> = frames(&out)
        .2
        .iter()
        .filter_map(|m| match m {
            Msg::DirRecords(r) => Some(r.clone()),
            _ => None,
        })
        .flatten()
        .map(|b| rmp_serde::from_slice::<NodeRecord>(b.as_slice()).expect("decodes").node)
        .collect();
    assert_eq!(sent.len(), offered.len(), "a want is cut at what the DirIds offered");
    assert_eq!(sent[..missing.len()], missing[..], "the wanted records, in order");
    // A second want without a new digest answer gets nothing.
    o.handle_input(Input::Frame { conn: ConnId(5), msg: Msg::DirWant(missing.clone()) }, t(130));
    assert_eq!(frames(&drain(&mut o)).1, 0, "a want was served twice");
}

#[test]
fn an_old_peer_still_gets_whole_buckets() {
    let (mut o, _feeders, n) = core_with_records();
    let q = node(2, vec![]);
    connect(&mut o, &q, [2; 32], 5, Addr::v4([10, 0, 0, 9], 1234), 0, 100);
    o.handle_input(Input::Frame { conn: ConnId(5), msg: Msg::DirDigest(vec![0; DIR_BUCKETS]) }, t(110));
    let out = drain(&mut o);
    let (_, records, msgs) = frames(&out);
    assert_eq!(records, o.directory_len(), "an empty digest gets every record");
    assert!(records as u64 > n);
    assert!(!msgs.iter().any(|m| matches!(m, Msg::DirIds(_))), "DirIds to a peer that cannot read it");
}

#[test]
fn the_asker_wants_only_what_it_lacks_and_its_budget_admits() {
    let (mut o, _feeders, n) = core_with_records();
    let q = node(2, vec![]);
    let q_conn = ConnId(5);
    connect(&mut o, &q, [2; 32], 5, Addr::v4([10, 0, 0, 9], 1234), FEATURE_DIR_IDS, 100);
    // Unasked ids are ignored: they would only make us ask.
    let fresh: Vec<(NodeId, u64)> = (10 * n..10 * n + 5)
        .map(|k| (rmp_serde::from_slice::<NodeRecord>(fabricated(k, 1).as_slice()).expect("decodes").node, 1))
        .collect();
    o.handle_input(Input::Frame { conn: q_conn, msg: Msg::DirIds(fresh) }, t(105));
    assert!(!frames(&drain(&mut o)).2.iter().any(|m| matches!(m, Msg::DirWant(_))), "answered unasked ids");
    // q joins: o adds it to its active view and sends its digest.
    o.handle_input(Input::Frame { conn: q_conn, msg: Msg::Join }, t(110));
    let out = drain(&mut o);
    let (_, _, msgs) = frames(&out);
    assert!(msgs.iter().any(|m| matches!(m, Msg::DirDigest(_))), "no digest on a new active link");
    // q offers: 10 ids o holds at the same seq, 10 it holds older, and 2 × burst new ones.
    let held: Vec<NodeId> = o.directory().iter().map(|(k, _)| *k).take(20).collect();
    let mut ids: Vec<(NodeId, u64)> = held[..10].iter().map(|k| (*k, 1)).collect();
    ids.extend(held[10..].iter().map(|k| (*k, 2)));
    let new: Vec<(NodeId, u64)> = (10 * n..10 * n + 2 * GOSSIP_NEW_IDS_BURST)
        .map(|k| (rmp_serde::from_slice::<NodeRecord>(fabricated(k, 1).as_slice()).expect("decodes").node, 1))
        .collect();
    ids.extend(new.iter().copied());
    o.handle_input(Input::Frame { conn: q_conn, msg: Msg::DirIds(ids) }, t(120));
    let out = drain(&mut o);
    let want: Vec<NodeId> = frames(&out)
        .2
        .iter()
        .find_map(|m| match m {
            Msg::DirWant(w) => Some(w.clone()),
            _ => None,
        })
        .expect("asks");
    assert!(held[10..].iter().all(|k| want.contains(k)), "newer versions of held ids are wanted");
    assert!(!held[..10].iter().any(|k| want.contains(k)), "ids held at the same seq are wanted");
    let new_wanted = want.iter().filter(|k| new.iter().any(|(n, _)| n == *k)).count() as u64;
    assert_eq!(new_wanted, GOSSIP_NEW_IDS_BURST, "new ids beyond the prefix budget were asked for");
    assert_eq!(o.stats().dir_not_wanted, GOSSIP_NEW_IDS_BURST);
    // The want fits in one frame.
    assert!(crate::wire::frame_len(&Msg::DirWant(want)) < MAX_FRAME_BYTES);
    // A second answer to the same digest is ignored.
    o.handle_input(Input::Frame { conn: q_conn, msg: Msg::DirIds(new) }, t(130));
    assert!(!frames(&drain(&mut o)).2.iter().any(|m| matches!(m, Msg::DirWant(_))), "asked twice");
}

#[test]
fn a_full_answer_fits_one_frame() {
    let ids: Vec<(NodeId, u64)> = (0..DIR_IDS_PER_ANSWER as u64).map(|k| (NodeId(u64::MAX - k), u64::MAX)).collect();
    let len = crate::wire::frame_len(&Msg::DirIds(ids));
    assert!(len <= MAX_FRAME_BYTES, "{len}");
    let want: Vec<NodeId> = (0..DIR_IDS_PER_ANSWER as u64).map(|k| NodeId(u64::MAX - k)).collect();
    assert!(crate::wire::frame_len(&Msg::DirWant(want)) <= MAX_FRAME_BYTES);
}
