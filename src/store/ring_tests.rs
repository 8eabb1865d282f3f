//! Ring tests for the compact indexes: the 8-byte-prefix id index against ids an author can
//! grind to share a prefix, and the eviction / pin floors under pins, unpins and changes of
//! the owner's spared profile and follow list (`Ring::check` verifies both floors).

use super::ring::{Admission, Loc, Ring};
use super::tests::{key, post, signed, Rng};
use crate::event::{Event, EventId, VerifiedEvent, KIND_FOLLOW_LIST, KIND_POST, KIND_PROFILE};
use crate::keys::PublicKey;
use crate::time::UnixTime;

const LOC: Loc = Loc { seg: 1, len: 300 };

/// An event with a chosen id (the ring trusts its caller to have verified ids).
fn with_id(id: EventId, author: PublicKey, created_at: u64, kind: u16) -> VerifiedEvent {
    let ev = Event {
        id,
        pubkey: author,
        created_at: UnixTime(created_at),
        kind,
        tags: Vec::new(),
        content: format!("event {}", id.0[31]),
        sig: crate::event::Sig([0; 64]),
    };
    VerifiedEvent::from_own_log(ev)
}

/// Ids whose first 8 bytes are equal and whose last byte is `n`.
fn colliding(n: u8) -> EventId {
    let mut id = [0xab; 32];
    id[31] = n;
    EventId(id)
}

#[test]
fn ids_sharing_a_prefix_are_each_found_duplicated_and_removed_alone() {
    let author = key(2).public_key();
    let mut ring = Ring::new(1 << 30, key(1).public_key());
    // Same prefix; a and b even share created_at, so their keys differ only in the id.
    let a = with_id(colliding(1), author, 100, KIND_POST);
    let b = with_id(colliding(2), author, 100, KIND_POST);
    let c = with_id(colliding(3), author, 50, KIND_POST);
    for ev in [&a, &b, &c] {
        assert_eq!(ring.admit(ev), Admission::Keep);
        assert!(ring.insert(ev.clone(), LOC).kept);
        ring.check();
    }
    for ev in [&a, &b, &c] {
        assert_eq!(ring.get(&ev.id).map(|e| e.id), Some(ev.id));
        assert_eq!(ring.admit(ev), Admission::Duplicate);
        assert!(!ring.insert(ev.clone(), LOC).kept, "a duplicate is not stored twice");
    }
    assert_eq!(ring.get(&colliding(4)), None, "an unknown id with a known prefix is not found");
    assert_eq!(ring.len(), 3);
    // Delete the prefix's first owner: the spilled ones stay reachable, and a newcomer with
    // the same prefix is indexed again.
    let del = signed(&key(2), 200, 5, &[&["e", &crate::hex::encode(&a.id.0)]], "");
    ring.insert(del, LOC);
    ring.check();
    assert_eq!(ring.get(&a.id), None);
    assert_eq!(ring.get(&b.id).map(|e| e.id), Some(b.id));
    assert_eq!(ring.get(&c.id).map(|e| e.id), Some(c.id));
    let d = with_id(colliding(4), author, 300, KIND_POST);
    assert!(ring.insert(d.clone(), LOC).kept);
    ring.check();
    for ev in [&b, &c, &d] {
        assert_eq!(ring.get(&ev.id).map(|e| e.id), Some(ev.id));
    }
}

#[test]
fn random_pins_unpins_and_spare_changes_keep_both_floors_valid() {
    let owner = key(1);
    let mut rng = Rng(7);
    let pool: Vec<VerifiedEvent> = (0..240u64)
        .map(|i| {
            let at = 100 + (i * 37) % 200;
            match i % 8 {
                0 | 1 => post(&owner, at, &format!("own {i}")),
                2 => signed(&owner, at, KIND_PROFILE, &[], &format!("{{\"name\":\"{i}\"}}")),
                3 => signed(&owner, at, KIND_FOLLOW_LIST, &[], ""),
                4 => signed(&key(2 + (i % 4) as u32), at, KIND_PROFILE, &[], "{}"),
                _ => post(&key(6 + (i % 5) as u32), at, &"x".repeat((i % 9) as usize * 30)),
            }
        })
        .collect();
    let typical = super::ring::cost_of(&pool[5]);
    for budget in [4 * typical, 12 * typical, 40 * typical] {
        let mut ring = Ring::new(budget, owner.public_key());
        for _ in 0..700 {
            let ev = pool[rng.below(pool.len() as u64) as usize].clone();
            if ring.admit(&ev) == Admission::Keep {
                ring.insert(ev, LOC);
            }
            ring.check();
        }
        assert!(ring.evicted_total() > 0, "the budget was exercised");
    }
}
