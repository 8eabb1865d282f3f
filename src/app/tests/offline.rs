//! Offline delivery parts on their own: the resend schedule, the ring, the mailbox, snapshots.

use std::time::Duration;

use super::*;
use crate::app::mailbox::{Deposited, Mailbox};
use crate::app::resend::{backoff, ResendQueue};
use crate::app::ring::{successor, support_servers, RING_THIRD};
use crate::limits::{
    MAILBOX_PER_DEST_BYTES, MAILBOX_PER_DEST_COUNT, MAILBOX_TOTAL_BYTES, OFFLINE_KEEP, RESEND_CAP, RESEND_MAX_DELAY,
};

const MIN: u64 = 60;
const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

fn key(n: u64, b: u8) -> (NodeId, EventId) {
    (NodeId(n), EventId([b; 32]))
}

#[test]
fn backoff_doubles_from_one_minute_up_to_six_hours() {
    let secs: Vec<u64> = (1..=12).map(|n| backoff(n).as_secs()).collect();
    assert_eq!(secs, [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600, 21600]);
    assert_eq!(backoff(u32::MAX), RESEND_MAX_DELAY);
}

/// Drives one entry that always fails; returns the attempt times (seconds after queueing).
fn attempts_until_dropped(q: &mut ResendQueue, k: (NodeId, EventId), start: UnixTime) -> Vec<u64> {
    let mut times = Vec::new();
    let mut now = start;
    for _ in 0..1000 {
        if !q.expire(now).is_empty() {
            break;
        }
        if q.due(now, 10).contains(&k) {
            times.push(now.0 - start.0);
            q.mark_sent(&k);
            q.failed(&k, now);
        }
        match q.next_deadline() {
            Some(t) => now = t.max(now),
            None => break,
        }
    }
    times
}

#[test]
fn resend_schedule_over_a_week() {
    let mut q = ResendQueue::default();
    let k = key(1, 1);
    q.insert(k, NOW);
    let times = attempts_until_dropped(&mut q, k, NOW);
    // At once, then +1, +2, +4 … minutes (the original's XOR bug gave up after 40 minutes).
    assert_eq!(&times[..6], &[0, MIN, 3 * MIN, 7 * MIN, 15 * MIN, 31 * MIN]);
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| *g <= 6 * HOUR), "never more than six hours apart");
    assert!(times.iter().any(|t| *t > 6 * DAY), "still trying on day seven");
    assert!(*times.last().expect("attempts") < 7 * DAY, "but not after a week");
    assert!(q.is_empty(), "dropped after a week");
    // 10 tries in the first 511 minutes, then one every 6 h: ⌊(7 d − 511 min) / 6 h⌋ = 26.
    assert_eq!(times.len(), 36);
}

#[test]
fn node_up_makes_its_entries_due_at_once_and_only_its() {
    let mut q = ResendQueue::default();
    q.insert(key(1, 1), NOW);
    q.insert(key(2, 2), NOW);
    for k in [key(1, 1), key(2, 2)] {
        q.mark_sent(&k);
        q.failed(&k, NOW);
    }
    let later = UnixTime(NOW.0 + 10);
    assert!(q.due(later, 10).is_empty());
    assert_eq!(q.node_up(NodeId(1), later), 1);
    assert_eq!(q.due(later, 10), vec![key(1, 1)]);
    assert_eq!(q.get(&key(1, 1)).expect("kept").failures, 1, "failures are kept");
}

#[test]
fn in_flight_entries_are_not_sent_twice_and_delivery_removes_them() {
    let mut q = ResendQueue::default();
    q.insert(key(1, 1), NOW);
    q.mark_sent(&key(1, 1));
    assert!(q.due(NOW, 10).is_empty());
    assert!(q.delivered(&key(1, 1)));
    assert!(q.is_empty());
}

#[test]
fn a_full_queue_drops_its_oldest_entry() {
    let mut q = ResendQueue::default();
    for i in 0..RESEND_CAP as u64 {
        assert_eq!(q.insert(key(i, 0), UnixTime(NOW.0 + i)), None);
    }
    assert_eq!(q.insert(key(u64::MAX, 9), UnixTime(NOW.0 + 1_000_000)), Some(key(0, 0)));
    assert_eq!(q.len(), RESEND_CAP);
}

#[test]
fn resend_snapshot_round_trips() {
    let mut q = ResendQueue::default();
    q.insert(key(1, 1), NOW);
    q.insert(key(2, 2), UnixTime(NOW.0 + 5));
    q.mark_sent(&key(1, 1));
    q.failed(&key(1, 1), NOW);
    q.deposited(&key(1, 1), NodeId(77));
    q.mark_sent(&key(2, 2));
    let back = ResendQueue::from_snapshot(&q.snapshot()).expect("round trip");
    let e = back.get(&key(1, 1)).expect("entry");
    assert_eq!((e.failures, e.next, e.deposited.clone()), (1, UnixTime(NOW.0 + 60), vec![NodeId(77)]));
    assert!(!back.get(&key(2, 2)).expect("entry").in_flight, "in flight at save ⇒ due after restart");
    assert!(ResendQueue::from_snapshot(b"\x92\x07\x90").is_err(), "other version");
    assert!(ResendQueue::from_snapshot(b"garbage").is_err());
}

#[test]
fn support_servers_are_the_successors_of_the_thirds() {
    let x = 1000u64;
    let dir = ring_dir(&[x, x + RING_THIRD + 5, x + RING_THIRD + 9, x.wrapping_add(2 * RING_THIRD) + 1]);
    let ctx = Ctx { me: NodeId(x), dir: &dir };
    assert_eq!(
        support_servers(&ctx, NodeId(x)),
        vec![NodeId(x + RING_THIRD + 5), NodeId(x.wrapping_add(2 * RING_THIRD) + 1)]
    );
}

#[test]
fn support_servers_wrap_around_the_top_of_the_ring() {
    let x = u64::MAX - 10;
    // x + 1/3 wraps to ≈ RING_THIRD − 11; the only nodes are below it ⇒ wrap to the smallest.
    let dir = ring_dir(&[5, 7, x]);
    let ctx = Ctx { me: NodeId(x), dir: &dir };
    assert_eq!(support_servers(&ctx, NodeId(x)), vec![NodeId(5), NodeId(7)]);
    assert_eq!(successor(&ctx, u64::MAX, &[]), Some(NodeId(5)), "past the last node ⇒ the first");
}

#[test]
fn support_servers_with_few_nodes_never_include_x() {
    let dir = ring_dir(&[10]);
    let ctx = Ctx { me: NodeId(10), dir: &dir };
    assert!(support_servers(&ctx, NodeId(10)).is_empty(), "alone: none");
    let dir = ring_dir(&[10, 20]);
    let ctx = Ctx { me: NodeId(10), dir: &dir };
    assert_eq!(support_servers(&ctx, NodeId(10)), vec![NodeId(20)], "two nodes: one");
    let dir = ring_dir(&[10, 20, 30]);
    let ctx = Ctx { me: NodeId(10), dir: &dir };
    assert_eq!(
        support_servers(&ctx, NodeId(10)),
        vec![NodeId(20), NodeId(30)],
        "both thirds land on 20: the next one is second"
    );
    let empty = ring_dir(&[]);
    let ctx = Ctx { me: NodeId(10), dir: &empty };
    assert!(support_servers(&ctx, NodeId(10)).is_empty());
}

#[test]
fn mailbox_hands_over_in_order_and_deletes_on_ack() {
    let mut m = Mailbox::default();
    let dst = NodeId(7);
    for i in 0..3u8 {
        assert_eq!(m.deposit(dst, vec![i; 100], NOW), Deposited::Kept { evicted: 0 });
    }
    let (batch, more) = m.batch(dst);
    assert_eq!(batch.iter().map(|e| e.sealed.0[0]).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert!(!more);
    let ids: Vec<u64> = batch.iter().take(2).map(|e| e.id).collect();
    assert_eq!(m.ack(dst, &ids, NOW), 2);
    assert_eq!(m.count_for(dst), 1);
    assert_eq!(m.ack(NodeId(8), &[batch[2].id], NOW), 0, "only the destination's ack counts");
    assert_eq!(m.ack(dst, &[batch[2].id], NOW), 1);
    assert!(m.is_empty());
    assert_eq!(m.bytes(), 0);
}

#[test]
fn mailbox_bounds_per_destination_and_in_total() {
    let mut m = Mailbox::default();
    for i in 0..MAILBOX_PER_DEST_COUNT + 10 {
        m.deposit(NodeId(1), vec![(i % 256) as u8; 10], NOW);
    }
    assert_eq!(m.count_for(NodeId(1)), MAILBOX_PER_DEST_COUNT);
    let big = 60 * 1024;
    let mut m = Mailbox::default();
    for _ in 0..40 {
        m.deposit(NodeId(2), vec![0; big], NOW);
    }
    assert!(m.bytes() <= MAILBOX_PER_DEST_BYTES);
    let mut m = Mailbox::default();
    for d in 0..40u64 {
        for _ in 0..16 {
            m.deposit(NodeId(d), vec![0; big], NOW);
        }
        assert!(m.bytes() <= MAILBOX_TOTAL_BYTES, "total bound after destination {d}");
    }
    assert!(m.count_for(NodeId(39)) > 0, "the newest destination got room");
    assert_eq!(m.deposit(NodeId(1), vec![0; crate::limits::MAX_SEALED_BYTES + 1], NOW), Deposited::TooLarge);
}

#[test]
fn mailbox_keeps_envelopes_for_a_week() {
    let mut m = Mailbox::default();
    m.deposit(NodeId(1), vec![1; 10], NOW);
    m.deposit(NodeId(1), vec![2; 10], UnixTime(NOW.0 + DAY));
    assert_eq!(m.expire(NOW.saturating_add(OFFLINE_KEEP - Duration::from_secs(1))), 0);
    assert_eq!(m.expire(NOW.saturating_add(OFFLINE_KEEP)), 1);
    assert_eq!(m.count_for(NodeId(1)), 1);
    assert_eq!(m.expire(UnixTime(NOW.0 + 8 * DAY)), 1);
    assert!(m.is_empty());
}

#[test]
fn mailbox_snapshot_round_trips_and_is_due_after_restart() {
    let mut m = Mailbox::default();
    m.deposit(NodeId(1), vec![1; 10], NOW);
    m.deposit(NodeId(2), vec![2; 20], NOW);
    let later = UnixTime(NOW.0 + 5);
    let back = Mailbox::from_snapshot(&m.snapshot(), later).expect("round trip");
    assert_eq!((back.count_for(NodeId(1)), back.count_for(NodeId(2)), back.bytes()), (1, 1, m.bytes()));
    assert_eq!(back.batch(NodeId(2)).0, m.batch(NodeId(2)).0, "same ids and bytes");
    assert_eq!(back.due(later), vec![NodeId(1), NodeId(2)]);
    assert!(Mailbox::from_snapshot(b"\xc1", later).is_err());
}

#[test]
fn only_nodes_near_the_thirds_may_hold_mail() {
    let x = 1000u64;
    let s1 = x + RING_THIRD + 5;
    let s1b = x + RING_THIRD + 9;
    let s1c = x + RING_THIRD + 20;
    let s2 = x.wrapping_add(2 * RING_THIRD) + 1;
    let far = x + RING_THIRD + RING_THIRD / 2;
    let dir = ring_dir(&[x, far, s1, s1b, s1c, s2]);
    let ctx = Ctx { me: NodeId(x), dir: &dir };
    let may = |n: u64| crate::app::ring::may_support(&ctx, NodeId(n), NodeId(x));
    assert!(may(s1) && may(s2), "the support servers");
    assert!(may(s1b), "the next one, for directory skew");
    assert!(!may(s1c) && !may(far), "not the others");
    assert!(!may(x), "never the node itself");
}

#[test]
fn the_fetch_table_is_bounded_and_refuses_while_full_of_recent_requests() {
    use crate::app::answer::FetchTable;
    use crate::limits::{FETCH_INTERVAL, FETCH_TABLE_CAP};
    let mut t = FetchTable::default();
    let target = |i: usize| {
        FetchTarget::Post(EventId([
            (i % 256) as u8,
            (i / 256) as u8,
            1,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ]))
    };
    for i in 0..FETCH_TABLE_CAP {
        assert!(t.try_ask(target(i), NOW));
    }
    assert!(!t.try_ask(target(FETCH_TABLE_CAP), NOW), "full of recent requests");
    assert!(!t.try_ask(target(0), UnixTime(NOW.0 + 10)), "rate-limited");
    let later = NOW.saturating_add(FETCH_INTERVAL);
    assert!(t.try_ask(target(FETCH_TABLE_CAP), later), "an old entry made room");
    assert_eq!(t.len(), FETCH_TABLE_CAP);
    assert!(t.expects(&target(FETCH_TABLE_CAP), later) && !t.expects(&target(FETCH_TABLE_CAP + 1), later));
}
