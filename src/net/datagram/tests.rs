//! Datagram path tests: forged, replayed, truncated, oversized and unknown datagrams are dropped
//! and counted; a link is usable only once the peer's datagram arrived; gaps are counted.

use super::*;
use crate::wire::{Body, Gossip, MsgId, NodeId};

fn addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 9], 7000))
}

/// Two ends of one link: `a` on connection 1, `b` on connection 2, offers exchanged; returns
/// the probes each one sent.
fn pair() -> (Links, Links, Vec<u8>, Vec<u8>) {
    let (mut a, mut b) = (Links::default(), Links::default());
    assert!(a.offer(ConnId(1), 0xaaaa, [1; 32]));
    assert!(b.offer(ConnId(2), 0xbbbb, [2; 32]));
    let (_, probe_to_b) = a.accept(ConnId(1), addr(), 0xbbbb, [2; 32]).expect("probe");
    let (_, probe_to_a) = b.accept(ConnId(2), addr(), 0xaaaa, [1; 32]).expect("probe");
    (a, b, probe_to_b, probe_to_a)
}

fn gossip_frame(n: u8) -> Vec<u8> {
    let g = Gossip { id: MsgId::UNSET, round: 1, kind: GossipKind::Event, body: Body::from_slice(&[n; 200]) };
    wire::encode_frame(&Msg::Gossip(g)).expect("encodes")
}

/// Both probes arrive and each end tells the other by TCP (an empty `LinkResend`) that it heard
/// it: the link is up both ways.
fn up(a: &mut Links, b: &mut Links, probe_to_b: &[u8], probe_to_a: &[u8]) {
    b.open(probe_to_b).expect("probe");
    a.open(probe_to_a).expect("probe");
    assert_eq!(b.take_confirm(), Some(ConnId(2)), "b heard a for the first time");
    assert_eq!(a.take_confirm(), Some(ConnId(1)), "a heard b for the first time");
    assert!(a.resend(ConnId(1), &[]).is_empty() && b.resend(ConnId(2), &[]).is_empty());
}

#[test]
fn a_link_is_usable_only_after_the_peers_datagram_arrived() {
    let (mut a, mut b, probe_to_b, probe_to_a) = pair();
    assert!(!a.usable(ConnId(1)) && !b.usable(ConnId(2)));
    assert!(a.seal_for(ConnId(1), &gossip_frame(1), false).is_none(), "no payload before the path is proven");
    let (conn, frames) = b.open(&probe_to_b).expect("valid probe");
    assert_eq!((conn, frames.len()), (ConnId(2), 0));
    assert_eq!(b.take_confirm(), Some(ConnId(2)));
    a.resend(ConnId(1), &[]);
    assert!(!b.usable(ConnId(2)), "b heard a, but a has not told b it hears b");
    assert!(!a.usable(ConnId(1)), "a has not heard b yet");
    a.open(&probe_to_a).expect("valid probe");
    assert_eq!(a.take_confirm(), Some(ConnId(1)));
    assert!(a.usable(ConnId(1)), "a heard b and b confirmed hearing a");
    b.resend(ConnId(2), &[]);
    assert!(b.usable(ConnId(2)));
    assert_eq!(b.take_confirm(), None, "told once");
    let (_, d) = b.seal_for(ConnId(2), &gossip_frame(1), false).expect("usable");
    let (conn, frames) = a.open(&d).expect("valid");
    assert_eq!(conn, ConnId(1));
    let msgs = decode_frames(frames).expect("decodes");
    assert!(matches!(msgs.as_slice(), [Msg::Gossip(_)]));
    assert_eq!(a.stats().dropped, 0);
}

#[test]
fn forged_replayed_and_malformed_datagrams_are_dropped_and_counted() {
    let (_a, mut b, probe_to_b, _) = pair();
    let good = {
        let mut a2 = Links::default();
        a2.offer(ConnId(1), 0xaaaa, [1; 32]);
        a2.accept(ConnId(1), addr(), 0xbbbb, [2; 32]);
        a2.seal_for(ConnId(1), &gossip_frame(3), true).expect("sealed").1
    };
    let mut flipped = good.clone();
    flipped[HEAD_BYTES + 5] ^= 1;
    let mut wrong_key = seal(0xbbbb, &[9; 32], 7, &gossip_frame(3));
    let unknown = seal(0xcccc, &[2; 32], 1, &gossip_frame(3));
    let huge = seal(0xbbbb, &[2; 32], 9, &vec![0u8; MAX_FRAMES_BYTES + 1]);
    let cases: Vec<(&[u8], DatagramError)> = vec![
        (&[], DatagramError::TooShort),
        (&good[..HEAD_BYTES + MAC_BYTES - 1], DatagramError::TooShort),
        (&flipped, DatagramError::BadMac),
        (&wrong_key, DatagramError::BadMac),
        (&unknown, DatagramError::UnknownToken),
        (&huge, DatagramError::TooLarge),
    ];
    for (n, (d, want)) in cases.into_iter().enumerate() {
        assert_eq!(b.open(d).map(|_| ()), Err(want), "case {n}");
        assert_eq!(b.stats().dropped, n as u64 + 1);
        assert!(!b.usable(ConnId(2)), "a forged datagram proves no path");
    }
    b.open(&probe_to_b).expect("the real probe");
    b.open(&good).expect("the real datagram");
    assert_eq!(b.open(&good).map(|_| ()), Err(DatagramError::Replay), "replayed");
    assert_eq!(b.open(&probe_to_b).map(|_| ()), Err(DatagramError::Replay), "an older one replayed");
    // seq 0 never counts as fresh
    wrong_key = seal(0xbbbb, &[2; 32], 0, &[]);
    assert_eq!(b.open(&wrong_key).map(|_| ()), Err(DatagramError::Replay));
    assert_eq!(b.stats().received, 2);
}

#[test]
fn only_eager_events_and_ihaves_travel_by_datagram() {
    assert!(decode_frames(&gossip_frame(1)).is_ok());
    let ihave = wire::encode_frame(&Msg::IHave(vec![(MsgId([3; 32]), 1)])).expect("encodes");
    let mut two = gossip_frame(1);
    two.extend_from_slice(&ihave);
    assert_eq!(decode_frames(&two).map(|m| m.len()), Ok(2));
    // An eager copy naming its twins (FEATURE_ALSO) travels like a plain one; a record does not.
    let g = |kind| Gossip { id: MsgId::UNSET, round: 1, kind, body: Body::from_slice(b"x") };
    let also = wire::encode_frame(&Msg::GossipAlso(g(wire::GossipKind::Event), vec![NodeId(3)])).expect("encodes");
    assert_eq!(decode_frames(&also).map(|m| m.len()), Ok(1));
    let record = Msg::GossipAlso(g(wire::GossipKind::Record), vec![NodeId(3)]);
    for other in [Msg::Prune, Msg::Join, Msg::Ping(1), Msg::DirRecords(vec![]), record] {
        let f = wire::encode_frame(&other).expect("encodes");
        assert_eq!(decode_frames(&f).map(|_| ()), Err(DatagramError::NotAllowed), "{}", other.name());
    }
    let mut cut = gossip_frame(1);
    cut.pop();
    assert_eq!(decode_frames(&cut).map(|_| ()), Err(DatagramError::BadFrame));
    assert_eq!(decode_frames(b"\xff\xff\xff\xff\x03").map(|_| ()), Err(DatagramError::BadFrame));
}

#[test]
fn replay_window_accepts_reordering_and_counts_gaps() {
    let mut w = ReplayWindow::default();
    assert!(!w.fresh(0));
    assert_eq!(w.record(1), 0);
    assert_eq!(w.record(4), 2, "2 and 3 skipped");
    assert!(w.fresh(3) && w.fresh(2));
    assert_eq!(w.record(3), -1, "a late one fills a gap");
    assert!(!w.fresh(3) && !w.fresh(4) && !w.fresh(1));
    assert_eq!(w.record(4 + REPLAY_WINDOW), i64::from(REPLAY_WINDOW) - 1);
    assert!(!w.fresh(2), "beyond the window is never fresh");
    assert!(!w.fresh(4), "exactly the window back is too old");
    assert!(w.fresh(5 + REPLAY_WINDOW));
    assert_eq!(w.record(u32::MAX), i64::from(u32::MAX - 4 - REPLAY_WINDOW) - 1);
    assert!(!w.fresh(u32::MAX));
}

#[test]
fn one_offer_per_connection_and_tokens_are_unique() {
    let (mut a, _, _, _) = pair();
    assert!(a.accept(ConnId(1), addr(), 0xbbbb, [2; 32]).is_none(), "a second offer sends no probe");
    assert!(!a.offer(ConnId(1), 0x1, [0; 32]));
    assert!(!a.offer(ConnId(3), 0xaaaa, [0; 32]), "token in use");
    assert!(a.accept(ConnId(9), addr(), 1, [0; 32]).is_none(), "no offer of ours on that connection yet");
    assert!(a.accept(ConnId(9), addr(), 2, [0; 32]).is_none());
    assert!(a.offer(ConnId(9), 0x9, [9; 32]));
    let (_, probe) = a.early_probe(ConnId(9)).expect("the early offer gets its probe now");
    assert_eq!(&probe[..8], &1u64.to_be_bytes(), "sealed with the first offer's token, not the second");
    assert!(a.early_probe(ConnId(9)).is_none(), "once");
    a.remove(ConnId(9));
    a.remove(ConnId(1));
    assert!(a.is_empty());
    let d = seal(0xaaaa, &[1; 32], 5, &[]);
    assert_eq!(a.open(&d).map(|_| ()), Err(DatagramError::UnknownToken), "token gone with its connection");
}

#[test]
fn sealed_datagrams_fit_the_minimum_mtu() {
    let (mut a, mut b, p, q) = pair();
    up(&mut a, &mut b, &p, &q);
    let (_, d) = b.seal_for(ConnId(2), &vec![0u8; MAX_FRAMES_BYTES], false).expect("fits");
    assert_eq!(d.len(), MAX_DATAGRAM_BYTES);
    assert!(b.seal_for(ConnId(2), &vec![0u8; MAX_FRAMES_BYTES + 1], false).is_none());
    assert!(a.open(&d).is_ok());
}

#[test]
fn a_probe_to_a_wrong_address_is_repaired_by_the_peers_datagram_and_bounded() {
    // b guessed a's address wrong (a dialled from another source IP): its probe went nowhere.
    let (mut a, mut b, probe_to_b, _lost) = pair();
    let real_a = SocketAddr::from(([127, 0, 0, 7], 20000));
    b.open(&probe_to_b).expect("a's probe reaches b");
    let (to, again) = b.learn(ConnId(2), real_a).expect("b probes a's real address");
    assert_eq!(to, real_a);
    a.open(&again).expect("the second probe reaches a");
    // Each tells the other it heard it (by TCP).
    assert_eq!((b.take_confirm(), a.take_confirm()), (Some(ConnId(2)), Some(ConnId(1))));
    a.resend(ConnId(1), &[]);
    b.resend(ConnId(2), &[]);
    assert!(a.usable(ConnId(1)) && b.usable(ConnId(2)), "both directions work");
    assert!(b.learn(ConnId(2), real_a).is_none(), "same address: no more probes");
    let (to, _) = b.seal_for(ConnId(2), &gossip_frame(1), false).expect("usable");
    assert_eq!(to, real_a, "payloads follow the learned address");
    // A peer that keeps moving gets at most MAX_REPROBES probes.
    let mut sent = 1;
    for i in 0..10u8 {
        if b.learn(ConnId(2), SocketAddr::from(([127, 0, 1, i], 20000))).is_some() {
            sent += 1;
        }
    }
    assert_eq!(sent, usize::from(MAX_REPROBES));
    assert!(b.learn(ConnId(9), real_a).is_none(), "no link, nothing sent");
}

#[test]
fn a_peer_datagram_that_overtakes_its_offer_sets_where_the_link_sends() {
    // a's probe reaches b before a's `Link` frame (UDP overtakes TCP); b's guess of a's address
    // (the TCP source, e.g. 127.0.0.1 for a dialler on loopback) is wrong.
    let (mut a, mut b) = (Links::default(), Links::default());
    assert!(a.offer(ConnId(1), 0xaaaa, [1; 32]));
    assert!(b.offer(ConnId(2), 0xbbbb, [2; 32]));
    let (_, probe_to_b) = a.accept(ConnId(1), addr(), 0xbbbb, [2; 32]).expect("probe");
    let real_a = SocketAddr::from(([127, 0, 0, 7], 20000));
    b.open(&probe_to_b).expect("a's probe");
    assert!(b.learn(ConnId(2), real_a).is_none(), "no offer from a yet: nothing to send");
    let wrong_guess = SocketAddr::from(([127, 0, 0, 1], 20000));
    let (to, _) = b.accept(ConnId(2), wrong_guess, 0xaaaa, [1; 32]).expect("probe");
    assert_eq!(to, real_a, "the probe goes where a's datagram came from");
    b.resend(ConnId(2), &[]); // a heard that probe and said so by TCP
    let (to, _) = b.seal_for(ConnId(2), &gossip_frame(1), false).expect("usable");
    assert_eq!(to, real_a, "and so do payloads");
}

#[test]
fn a_gap_asks_for_the_missing_datagrams_which_are_resent_once_then_the_link_falls_back() {
    let (mut a, mut b, probe_to_b, probe_to_a) = pair();
    up(&mut a, &mut b, &probe_to_b, &probe_to_a);
    assert!(b.take_asks().is_none(), "no gap yet");
    let sent: Vec<Vec<u8>> =
        (0..4).map(|i| b.seal_for(ConnId(2), &gossip_frame(i), false).expect("usable").1).collect();
    // Datagrams 2 and 3 of four (seq 3 and 4 after b's probe) are lost.
    a.open(&sent[0]).expect("first");
    assert!(a.take_asks().is_none());
    a.open(&sent[3]).expect("last");
    let (conn, seqs) = a.take_asks().expect("a gap");
    assert_eq!((conn, seqs.clone()), (ConnId(1), vec![3, 4]));
    let again = b.resend(ConnId(2), &seqs);
    assert_eq!(again, vec![gossip_frame(1), gossip_frame(2)], "exactly the lost frames");
    assert!(b.resend(ConnId(2), &seqs).is_empty(), "each is given once: no amplification");
    assert!(b.resend(ConnId(2), &[99, 0, u32::MAX]).is_empty(), "unknown numbers are ignored");
    assert!(b.resend(ConnId(7), &[5]).is_empty(), "no link");
    assert_eq!(b.stats().resent, 2);
    assert!(b.usable(ConnId(2)), "two losses do not decide a fallback");
    // More loss: past FALLBACK_MIN_LOST and one in FALLBACK_LOSS_DIV, payloads go by TCP.
    for i in 0..4 {
        b.seal_for(ConnId(2), &gossip_frame(i), false).expect("usable");
    }
    let asked: Vec<u32> = (7..=9).collect();
    assert_eq!(b.resend(ConnId(2), &asked).len(), 3);
    assert!(!b.usable(ConnId(2)), "5 of 8 lost: fallen back to TCP");
    assert_eq!(b.stats().fallbacks, 1);
}

#[test]
fn the_resend_ring_is_bounded_and_a_huge_gap_asks_only_for_the_newest() {
    let (mut a, mut b, probe_to_b, probe_to_a) = pair();
    up(&mut a, &mut b, &probe_to_b, &probe_to_a);
    for i in 0..(RESEND_RING as u8 * 3) {
        b.seal_for(ConnId(2), &gossip_frame(i), false).expect("usable");
    }
    let oldest: Vec<u32> = (2..2 + RESEND_RING as u32 * 2).collect();
    assert!(b.resend(ConnId(2), &oldest).is_empty(), "only the newest RESEND_RING are kept");
    // A forged-looking jump (valid MAC: only the peer could send it) asks for a bounded list.
    let far = seal(0xaaaa, &[1; 32], 1_000_000, &gossip_frame(1));
    a.open(&far).expect("fresh");
    let (_, seqs) = a.take_asks().expect("gap");
    assert_eq!(seqs.len(), MAX_RESEND_ASK);
    assert_eq!(seqs.last(), Some(&999_999));
}

/// A path open one way only (a firewall drops a's datagrams to b): a hears b's probe, but b
/// never hears a, so b never confirms, and a keeps its payloads on TCP instead of sending them
/// where they are lost without a gap b could see.
#[test]
fn a_path_open_one_way_only_keeps_payloads_on_tcp() {
    let (mut a, _b, _lost_probe_to_b, probe_to_a) = pair();
    a.open(&probe_to_a).expect("b's probe arrives");
    assert_eq!(a.take_confirm(), Some(ConnId(1)), "a tells b it hears b");
    assert!(!a.usable(ConnId(1)), "b never said it hears a");
    assert!(a.seal_for(ConnId(1), &gossip_frame(1), false).is_none());
}

/// Tail loss: the last payload before a quiet spell is lost. Nothing after it would show the
/// gap; the tail probe (an empty datagram `TAIL_PROBE_MS` later) does, once per burst.
#[test]
fn a_lost_last_datagram_is_revealed_by_the_tail_probe_and_resent() {
    let (mut a, mut b, probe_to_b, probe_to_a) = pair();
    up(&mut a, &mut b, &probe_to_b, &probe_to_a);
    let t0 = Instant(10_000);
    assert!(b.tick(t0).is_empty(), "nothing sent yet: no tail to probe");
    let (_, first) = b.seal_for(ConnId(2), &gossip_frame(1), false).expect("usable");
    b.tick(t0.plus_ms(400));
    let (_, _lost) = b.seal_for(ConnId(2), &gossip_frame(2), false).expect("usable");
    a.open(&first).expect("first arrives");
    assert!(a.take_asks().is_none());
    assert!(b.tick(t0.plus_ms(400 + TAIL_PROBE_MS - 1)).is_empty(), "not yet quiet long enough");
    assert_eq!(b.poll_timeout(), Some(t0.plus_ms(400 + TAIL_PROBE_MS)));
    let probes = b.tick(t0.plus_ms(400 + TAIL_PROBE_MS));
    assert_eq!(probes.len(), 1, "one tail probe");
    let (conn, frames) = a.open(&probes[0].1).expect("authenticated probe");
    assert_eq!((conn, frames.len()), (ConnId(1), 0));
    let (conn, seqs) = a.take_asks().expect("the probe shows the gap");
    assert_eq!(conn, ConnId(1));
    assert_eq!(b.resend(ConnId(2), &seqs), vec![gossip_frame(2)], "the lost post comes by TCP");
    assert!(b.tick(t0.plus_ms(60_000)).is_empty(), "one probe per burst");
    assert_eq!(b.poll_timeout(), None);
    assert_eq!(b.stats().tail_probes, 1);
}

/// Tail loss on a clean link to a peer that reads `Msg::LinkSent`: no probe datagram of its
/// own; the tail rides on a TCP frame sent anyway (the idle Ping or its Pong), the receiver
/// sees what never came and asks for it, and it is resent. Before this, the link sent an empty
/// datagram `TAIL_PROBE_MS` after every burst (one packet per burst per link).
#[test]
fn a_lost_last_datagram_rides_on_a_tcp_frame_sent_anyway_and_is_resent() {
    let (mut a, mut b, probe_to_b, probe_to_a) = pair();
    up(&mut a, &mut b, &probe_to_b, &probe_to_a);
    b.ride_tails(ConnId(2));
    let t0 = Instant(10_000);
    b.tick(t0);
    let (_, first) = b.seal_for(ConnId(2), &gossip_frame(1), false).expect("usable");
    b.tick(t0.plus_ms(400));
    let (_, _lost) = b.seal_for(ConnId(2), &gossip_frame(2), false).expect("usable");
    a.open(&first).expect("first arrives");
    assert_eq!(b.tail_ride(ConnId(2)), None, "a frame right after the datagram could overtake it");
    assert!(b.tick(t0.plus_ms(400 + TAIL_PROBE_MS)).is_empty(), "no probe datagram on a clean link");
    assert_eq!(b.poll_timeout(), Some(t0.plus_ms(400 + TAIL_QUIET_MS)), "the probe waits for the bound");
    // The idle Ping (or the Pong answering the peer's) leaves by TCP 30 s later: the tail rides.
    b.tick(t0.plus_ms(400 + 30_000));
    let seq = b.tail_ride(ConnId(2)).expect("the tail rides on the Ping");
    b.rode(ConnId(2));
    assert_eq!(b.tail_ride(ConnId(2)), None, "once per tail");
    let seqs = a.on_sent(ConnId(1), seq).expect("the last datagram never came");
    assert_eq!(b.resend(ConnId(2), &seqs), vec![gossip_frame(2)], "the lost post comes by TCP");
    assert!(b.tick(t0.plus_ms(60_000)).is_empty(), "no probe after the ride");
    assert_eq!(b.poll_timeout(), None);
    assert_eq!((b.stats().tail_probes, b.stats().tail_rides), (0, 1));
    assert_eq!(a.stats().lost, 1);
    // A later datagram does not ask for it again (it was taken as received).
    let (_, next) = b.seal_for(ConnId(2), &gossip_frame(3), false).expect("usable");
    a.open(&next).expect("arrives");
    assert!(a.take_asks().is_none(), "nothing missing any more");
    // Nothing lost: the same ride asks for nothing (a TCP frame before the lossy link's quick
    // probe: it rides there too).
    b.advance(t0.plus_ms(60_000 + TAIL_RIDE_MS));
    let seq = b.tail_ride(ConnId(2)).expect("rides");
    assert_eq!(a.on_sent(ConnId(1), seq), None, "everything arrived");
    // A `LinkSent` that found no room in the send queue (not `rode`) leaves the probe armed.
    let probes = b.tick(t0.plus_ms(60_000 + TAIL_PROBE_MS));
    assert_eq!(probes.len(), 1, "the tail was not taken: the (lossy link's) probe still comes");
}

/// Bounded repair without a TCP frame to ride on (the peer keeps the link busy the other way,
/// so no idle Ping): the probe datagram comes `TAIL_QUIET_MS` after the last payload. And where
/// loss was seen, the quick probe (`TAIL_PROBE_MS`) is back for `LOSSY_MEMORY_MS`.
#[test]
fn a_tail_is_probed_within_the_quiet_bound_and_quickly_on_a_lossy_link() {
    let (mut a, mut b, probe_to_b, probe_to_a) = pair();
    up(&mut a, &mut b, &probe_to_b, &probe_to_a);
    b.ride_tails(ConnId(2));
    let t0 = Instant(10_000);
    b.tick(t0);
    let (_, _lost) = b.seal_for(ConnId(2), &gossip_frame(1), false).expect("usable");
    assert!(b.tick(t0.plus_ms(TAIL_QUIET_MS - 1)).is_empty(), "not yet");
    let probes = b.tick(t0.plus_ms(TAIL_QUIET_MS));
    assert_eq!(probes.len(), 1, "the probe at the bound");
    a.open(&probes[0].1).expect("authenticated probe");
    let (_, seqs) = a.take_asks().expect("the probe shows the gap");
    assert_eq!(b.resend(ConnId(2), &seqs), vec![gossip_frame(1)]);
    // The link lost a datagram: its next tail gets the quick probe.
    let t1 = t0.plus_ms(TAIL_QUIET_MS + 1_000);
    b.tick(t1);
    let (_, _lost) = b.seal_for(ConnId(2), &gossip_frame(2), false).expect("usable");
    assert_eq!(b.tick(t1.plus_ms(TAIL_PROBE_MS)).len(), 1, "quick probe on a lossy link");
    // Long after the loss, the link is clean again.
    let t2 = t1.plus_ms(LOSSY_MEMORY_MS + 1_000);
    b.tick(t2);
    let (_, _) = b.seal_for(ConnId(2), &gossip_frame(3), false).expect("usable");
    assert!(b.tick(t2.plus_ms(TAIL_PROBE_MS)).is_empty(), "clean again: no quick probe");
    assert_eq!(b.stats().tail_probes, 2);
}

/// `LinkSent` is the peer's word about its own link: it can make us ask at most
/// `MAX_RESEND_ASK` numbers per frame (one TCP frame for one), once per number, and nothing
/// before its first datagram arrived or for numbers we already have.
#[test]
fn a_link_sent_asks_a_bounded_number_once() {
    let (mut a, mut b, probe_to_b, probe_to_a) = pair();
    assert_eq!(a.on_sent(ConnId(1), 5), None, "no datagram of the peer yet");
    up(&mut a, &mut b, &probe_to_b, &probe_to_a);
    assert_eq!(a.on_sent(ConnId(1), 1), None, "its probe (seq 1) arrived");
    assert_eq!(a.on_sent(ConnId(9), 5), None, "unknown connection");
    let asked = a.on_sent(ConnId(1), u32::MAX).expect("asks");
    assert_eq!(asked.len(), MAX_RESEND_ASK);
    assert_eq!(asked.last(), Some(&u32::MAX), "the newest");
    assert_eq!(a.on_sent(ConnId(1), u32::MAX), None, "once");
    assert_eq!(b.tail_ride(ConnId(2)), None, "nothing armed, and b does not ride by default");
}

fn ihave_frame(n: u8) -> Vec<u8> {
    wire::encode_frame(&Msg::IHave(vec![(MsgId([n; 32]), 2)])).expect("encodes")
}

/// A quiet lazy link's IHAVE-only datagram is not followed by a tail probe (in `net3` each
/// one was: a second packet per IHAVE period, 0.05 per post); a payload's tail probe still
/// comes when an IHAVE-only datagram followed the payload (the IHAVEs may be lost too), and a
/// lost IHAVE-only datagram is still seen by the next datagram's gap and resent.
#[test]
fn an_ihave_only_datagram_gets_no_tail_probe_but_a_payloads_probe_stays() {
    let (mut a, mut b, probe_to_b, probe_to_a) = pair();
    up(&mut a, &mut b, &probe_to_b, &probe_to_a);
    let t0 = Instant(10_000);
    b.tick(t0);
    let (_, _lost) = b.seal_ihaves(ConnId(2), &ihave_frame(1)).expect("usable");
    assert_eq!(b.poll_timeout(), None, "no tail probe armed by IHAVEs alone");
    assert!(b.tick(t0.plus_ms(TAIL_PROBE_MS * 5)).is_empty(), "no tail probe after IHAVEs alone");
    let (_, payload) = b.seal_for(ConnId(2), &gossip_frame(2), false).expect("usable");
    a.open(&payload).expect("arrives");
    let (_, seqs) = a.take_asks().expect("the payload shows the lost IHAVE datagram");
    assert_eq!(b.resend(ConnId(2), &seqs), vec![ihave_frame(1)], "resent by TCP");
    b.tick(t0.plus_ms(TAIL_PROBE_MS * 5 + 100));
    let (_, _also_lost) = b.seal_ihaves(ConnId(2), &ihave_frame(3)).expect("usable");
    let probes = b.tick(t0.plus_ms(TAIL_PROBE_MS * 6 + 100));
    assert_eq!(probes.len(), 1, "the payload's tail probe stays armed behind IHAVEs");
    a.open(&probes[0].1).expect("authenticated probe");
    assert!(a.take_asks().is_some(), "the probe shows the IHAVE datagram's gap");
    assert_eq!(b.stats().tail_probes, 1);
}

/// A link that fell back to TCP tries datagrams again after `FALLBACK_RETRY_MS`, with fresh
/// loss counts; a second fallback waits twice as long.
#[test]
fn a_fallen_back_link_retries_datagrams_after_a_bounded_backoff() {
    let (mut a, mut b, probe_to_b, probe_to_a) = pair();
    up(&mut a, &mut b, &probe_to_b, &probe_to_a);
    let fall_back = |b: &mut Links| {
        let seqs: Vec<u32> = (0..8)
            .map(|i| {
                let (_, d) = b.seal_for(ConnId(2), &gossip_frame(i), false).expect("usable");
                u32::from_be_bytes([d[8], d[9], d[10], d[11]])
            })
            .collect();
        assert_eq!(b.resend(ConnId(2), &seqs[..5]).len(), 5);
    };
    let t0 = Instant(5_000);
    b.tick(t0);
    fall_back(&mut b);
    assert!(!b.usable(ConnId(2)), "fallen back");
    assert!(b.tick(t0.plus_ms(FALLBACK_RETRY_MS - 1)).is_empty());
    assert!(!b.usable(ConnId(2)), "still within the backoff");
    assert_eq!(b.poll_timeout(), Some(t0.plus_ms(FALLBACK_RETRY_MS)));
    b.tick(t0.plus_ms(FALLBACK_RETRY_MS));
    assert!(b.usable(ConnId(2)), "retried after FALLBACK_RETRY_MS");
    assert_eq!((b.stats().fallbacks, b.stats().retries), (1, 1));
    // Still lossy: falls back again, now for twice as long.
    let t1 = t0.plus_ms(FALLBACK_RETRY_MS);
    fall_back(&mut b);
    assert!(!b.usable(ConnId(2)));
    b.tick(t1.plus_ms(2 * FALLBACK_RETRY_MS - 1));
    assert!(!b.usable(ConnId(2)), "the second wait is doubled");
    b.tick(t1.plus_ms(2 * FALLBACK_RETRY_MS));
    assert!(b.usable(ConnId(2)));
    // However often it falls back, the wait stays bounded.
    let mut t = t1.plus_ms(2 * FALLBACK_RETRY_MS);
    for _ in 0..12 {
        fall_back(&mut b);
        t = t.plus_ms(FALLBACK_RETRY_MAX_MS);
        b.tick(t);
        assert!(b.usable(ConnId(2)), "retried within FALLBACK_RETRY_MAX_MS");
    }
}
