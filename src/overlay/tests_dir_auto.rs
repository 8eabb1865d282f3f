//! Hand-fed tests of `--directory auto` on a node (`dir_switch.rs`): a core that switched the
//! ring on after a link's handshake is taken into the table by its first ring frame; a core
//! whose active peers all run the ring runs it too.

use super::dir_auto::DirLevel;
use super::tests::{drain, t};
use super::tests_dht::{connect, core_in};
use super::*;
use crate::wire::{FEATURE_DIGESTS, FEATURE_DIR_IDS, FEATURE_INTEREST, FEATURE_RING};

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

/// An `auto` core at `T` = 1,000 whose active view is `peers` cores, `ring` of which announce
/// the ring; returns its level after a housekeeping tick.
fn level_with_ring_peers(peers: u8, ring: u8) -> DirLevel {
    let mut host = core_in(1, DirectoryMode::Auto);
    host.lower_dir_threshold(1_000);
    for i in 0..peers {
        let mut p = core_in(10 + i, DirectoryMode::Auto);
        let features = if i < ring { FEATURE_INTEREST | FEATURE_RING } else { FEATURE_INTEREST };
        let conn = ConnId(20 + u64::from(i));
        connect(&mut host, &mut p, conn, features);
        host.handle_input(Input::Frame { conn, msg: Msg::Join }, t(10));
    }
    assert_eq!(host.active_view().len(), peers as usize);
    host.handle_timeout(t(2_000));
    host.dir_level()
}

/// Core 1 in `--directory auto` (T = 1) with `peers` core peers announcing `features`, its
/// estimate taken twice: at `level` (asserted). A core whose estimate has reached ring-only
/// waits `DIR_RING_ONLY_HOLD_MS` before it goes there (`dir_auto.rs` tests the wait): skipped
/// here, with links to peers that would otherwise have to answer for 10 simulated minutes.
fn auto_host(peers: u8, features: u8, level: DirLevel) -> Overlay {
    let mut host = core_in(1, DirectoryMode::Auto);
    host.lower_dir_threshold(1);
    for i in 0..peers {
        let mut p = core_in(10 + i, DirectoryMode::Auto);
        connect(&mut host, &mut p, ConnId(20 + u64::from(i)), features);
    }
    host.handle_timeout(t(2_000));
    host.handle_timeout(t(2_000 + AUTO_ESTIMATE_MS + 1_000));
    if host.dir_auto.reached_at.is_some() {
        host.dir_auto.level = DirLevel::Ring;
        host.dir_auto.reached_at = None;
    }
    assert_eq!(host.dir_level(), level, "estimate {}", host.dir_estimate());
    drain(&mut host);
    host
}

#[test]
fn a_core_whose_active_peers_all_run_the_ring_runs_it_whatever_its_directory_says() {
    // A handful of records (far below T): the directory alone keeps the core at `broadcast`
    // unless every one of at least `DIR_AUTO_RING_PEERS` active peers runs the ring (a core
    // starting in a network that went ring-only sees few records broadcast).
    assert_eq!(level_with_ring_peers(3, 3), DirLevel::Both);
    assert_eq!(level_with_ring_peers(3, 2), DirLevel::Broadcast);
    assert_eq!(level_with_ring_peers(2, 2), DirLevel::Broadcast);
    assert_eq!(level_with_ring_peers(4, 4), DirLevel::Both);
}

#[test]
fn a_ring_only_core_does_not_ask_its_neighbours_for_their_directory() {
    // Traced at 10k simulated nodes (603 cores at `both`, 397 at `ring`): a ring-only core's
    // digest to a `both` neighbour brought back the records it had dropped as neither held nor
    // used, every round: 66 KB/min of `DirIds` and 17 of `DirRecords` per core.
    let digests = |peers: u8, level: DirLevel| -> usize {
        let mut host = auto_host(peers, FEATURE_INTEREST | FEATURE_RING, level);
        // A new core peer joins the active view.
        let mut p = core_in(99, DirectoryMode::Auto);
        connect(&mut host, &mut p, ConnId(90), FEATURE_INTEREST | FEATURE_RING);
        host.handle_input(Input::Frame { conn: ConnId(90), msg: Msg::Join }, t(70_000));
        assert!(host.active_view().contains(&p.node_id()), "joined the active view");
        drain(&mut host).iter().filter(|o| matches!(o, Output::Send { msg: Msg::DirDigest(_), .. })).count()
    };
    assert_eq!(digests(2, DirLevel::Both), 1, "a core at `both` asks, as before");
    assert_eq!(digests(8, DirLevel::Ring), 0, "a ring-only core does not");
}

#[test]
fn a_ring_only_core_does_not_answer_a_neighbours_digest() {
    // The other half of the test above, traced at 10k nodes after it: a `both` neighbour's
    // digest differed from a ring-only core's in every bucket (it forgets records it neither
    // holds nor uses), and each answer listed up to `DIR_IDS_PER_ANSWER` ids the asker had:
    // `DirIds` 65 + `DirRecords` 15 KB/min per core of 115.
    let answers = |peers: u8, level: DirLevel| -> usize {
        let mut host = auto_host(peers, FEATURE_INTEREST | FEATURE_RING | FEATURE_DIR_IDS, level);
        // A digest of an empty directory: every bucket with a record of ours differs.
        let digest = Msg::DirDigest(vec![0; DIR_BUCKETS]);
        host.handle_input(Input::Frame { conn: ConnId(20), msg: digest }, t(70_000));
        drain(&mut host).iter().filter(|o| matches!(o, Output::Send { msg: Msg::DirIds(_), .. })).count()
    };
    assert_eq!(answers(2, DirLevel::Both), 1, "a core at `both` answers, as before");
    assert_eq!(answers(8, DirLevel::Ring), 0, "a ring-only core does not");
}

#[test]
fn a_core_at_both_neither_sends_nor_answers_co_holder_fingerprints() {
    // Traced at 10k nodes: `both` cores keep everyone's records and synced them with
    // ring-only co-holders, pushing 175,797 records in 10 idle minutes (`Store` 48.7 KB/min
    // per core), refused again and again. Only ring-only cores sync.
    let syncs_and_answers = |peers: u8, level: DirLevel| -> (usize, u64) {
        let mut host = auto_host(peers, FEATURE_INTEREST | FEATURE_RING | FEATURE_DIGESTS, level);
        let sync = Msg::RingSync { lo: host.node_id(), hi: host.node_id(), count: 99, fp: 1 };
        host.handle_input(Input::Frame { conn: ConnId(20), msg: sync }, t(70_000));
        let mut out = drain(&mut host);
        host.now = Instant(70_000 + RING_SYNC_MS + RING_ROUND_MS);
        host.ring_tick();
        out.extend(drain(&mut host));
        let sent = out
            .iter()
            .filter(|o| matches!(o, Output::Send { msg: Msg::RingSync { .. } | Msg::RingHave { .. }, .. }))
            .count();
        (sent, host.dht().map_or(0, |d| d.stats().sync_dropped))
    };
    assert_eq!(syncs_and_answers(2, DirLevel::Both), (0, 1), "`both`: nothing sent, the fingerprint dropped");
    let (sent, dropped) = syncs_and_answers(8, DirLevel::Ring);
    assert!(sent > 0 && dropped == 0, "ring-only: answered and synced ({sent} sent, {dropped} dropped)");
}
