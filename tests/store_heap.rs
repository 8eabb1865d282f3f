//! The store's in-memory ring, measured with the counting allocator the benches share
//! (`tests/common/counting_alloc.rs`): the heap it holds per event beyond each event's packed
//! bytes, for a timeline arriving in time order and for hostile arrival orders. The budget
//! charges every event [`STORE_EVENT_OVERHEAD_BYTES`] beyond its packed bytes; the real
//! figure must stay under it whatever the order, or a full store would hold more memory than
//! its budget says.
//!
//! One test function: nothing else allocates in this process while it measures.

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use nostrp2p::event::{Event, VerifiedEvent, KIND_POST, KIND_REACTION};
use nostrp2p::keys::SecretKey;
use nostrp2p::limits::STORE_EVENT_OVERHEAD_BYTES;
use nostrp2p::store::ring::{cost_of, Loc, Ring};
use nostrp2p::time::UnixTime;

const NOW: UnixTime = UnixTime(1_800_000_000);
/// Events per measurement: 3,000 fill the id index's table to 73 % (4,096 slots), its
/// usual fill, so its share is neither flattered nor inflated.
const N: u64 = 3_000;

fn key(n: u32) -> SecretKey {
    let mut b = [0u8; 32];
    b[28..].copy_from_slice(&n.to_be_bytes());
    SecretKey::from_bytes(b).expect("valid key")
}

/// A timeline mix: posts, replies with e/p tags, likes; `t` is `created_at`.
fn event(keys: &[SecretKey], i: u64, t: u64) -> VerifiedEvent {
    let k = &keys[(i % keys.len() as u64) as usize];
    let target = "ab".repeat(32);
    let (kind, tags, content) = match i % 10 {
        0..=6 => (KIND_POST, vec![], format!("post {i}: {}", "lorem ipsum dolor sit amet ".repeat(3))),
        7 | 8 => (
            KIND_POST,
            vec![vec!["e".into(), target.clone(), String::new(), "root".into()], vec!["p".into(), target.clone()]],
            format!("reply {i}: sounds good to me"),
        ),
        _ => (KIND_REACTION, vec![vec!["e".into(), target.clone()], vec!["p".into(), target]], "+".into()),
    };
    Event::new_signed(k, UnixTime(1_700_000_000 + t), kind, tags, content, &[0; 32]).verify(NOW).expect("verifies")
}

/// Heap bytes per event the ring holds beyond the packed bytes, after inserting `events`
/// in the given order (measured by dropping the ring: what that frees is what it held).
fn beyond_packed(events: Vec<VerifiedEvent>) -> i64 {
    let n = events.len() as i64;
    let packed: i64 = events.iter().map(|e| (cost_of(e) as usize - STORE_EVENT_OVERHEAD_BYTES) as i64).sum();
    let mut ring = Ring::new(1 << 40, key(999).public_key());
    for ev in events {
        assert!(ring.insert(ev, Loc { seg: 0, len: 1 }).kept);
    }
    assert_eq!(ring.len() as i64, n);
    let held = counting_alloc::live() as i64;
    drop(ring);
    let held = held - counting_alloc::live() as i64;
    (held - packed) / n
}

#[test]
fn ring_heap_per_event_beyond_its_bytes() {
    let keys: Vec<SecretKey> = (1..=20).map(key).collect();
    // The usual case: each event newer than the last.
    let in_order = beyond_packed((0..N).map(|i| event(&keys, i, i)).collect());
    // Hostile orders: newest first; and a shuffle (a catch-up sync of old events).
    let descending = beyond_packed((0..N).map(|i| event(&keys, i, N - i)).collect());
    let shuffled = beyond_packed((0..N).map(|i| event(&keys, i, (i * 1_237) % N)).collect());
    // Pairs of newest-first runs after each other (each run lands just past a full chunk).
    let sawtooth = beyond_packed((0..N).map(|i| event(&keys, i, (i / 100) * 100 + (99 - i % 100))).collect());
    let figures = format!("in order {in_order}, descending {descending}, shuffled {shuffled}, sawtooth {sawtooth}");
    println!("heap per event beyond its packed bytes: {figures}");
    // 72-byte slots in full chunks plus the id index (≈ 23 B at this fill) and the likes.
    // A `BTreeMap` at its 55 % fill for appends held ≈ 160 B here.
    assert!(in_order <= 110, "time-ordered timeline: {figures}");
    // malloc's header and rounding come on top of the requested sizes counted here.
    let allowance = STORE_EVENT_OVERHEAD_BYTES as i64 - 16;
    for (name, v) in [("descending", descending), ("shuffled", shuffled), ("sawtooth", sawtooth)] {
        assert!(v <= allowance, "{name} order costs more than the budget charges: {figures}");
    }
}
