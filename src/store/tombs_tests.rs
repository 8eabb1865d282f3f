//! Store tests for NIP-09 deletion, NIP-01 addressable and ephemeral kinds: memory semantics,
//! hostile deletions (someone else's, of a deletion), bounds, and survival across reopen.

use super::tests::{key, signed, TempDir};
use super::tombs::{parse_coord, Tombstones};
use super::*;
use crate::hex;
use crate::limits::TOMBSTONES_CAP;

const BIG: u64 = 64 * 1024 * 1024;

fn cfg(owner: &crate::keys::SecretKey) -> StoreConfig {
    StoreConfig { budget_bytes: BIG, owner: owner.public_key() }
}

fn open(dir: &Path, owner: &crate::keys::SecretKey) -> Store {
    Store::open(dir, cfg(owner)).expect("open store").0
}

fn h(id: &EventId) -> String {
    hex::encode(&id.0)
}

#[test]
fn a_deletion_removes_its_authors_events_and_they_never_come_back_even_after_reopen() {
    let dir = TempDir::new("delete");
    let owner = key(1);
    let own = signed(&owner, 100, 1, &[], "mine");
    let other = signed(&key(2), 101, 1, &[], "theirs");
    let del = signed(&owner, 200, 5, &[&["e", &h(&own.id)], &["e", &h(&other.id)], &["e", "zz"]], "");
    {
        let mut store = open(&dir.0, &owner);
        store.insert(own.clone()).expect("insert");
        store.insert(other.clone()).expect("insert");
        assert_eq!(store.insert(del.clone()).expect("insert"), Inserted::New { evicted: 0 });
        assert!(store.get(&own.id).is_none(), "the owner's post is gone");
        assert_eq!(store.get(&other.id).map(|e| e.id), Some(other.id), "someone else's post stays");
        assert!(store.get(&del.id).is_some(), "the deletion request itself is kept and served");
        assert_eq!(store.insert(own.clone()).expect("insert"), Inserted::Refused(Refusal::Deleted));
        assert!(store.is_deleted(&own) && !store.is_deleted(&other));
        store.ring.check();
        store.sync().expect("sync");
    }
    let mut store = open(&dir.0, &owner);
    assert!(store.get(&own.id).is_none(), "replaying the log keeps it deleted");
    assert!(store.get(&other.id).is_some());
    assert_eq!(store.insert(own).expect("insert"), Inserted::Refused(Refusal::Deleted));
    store.ring.check();
}

#[test]
fn a_deletion_that_arrives_first_blocks_the_event_and_a_deletion_cannot_be_deleted() {
    let dir = TempDir::new("delete-first");
    let owner = key(1);
    let mut store = open(&dir.0, &owner);
    let post = signed(&key(3), 100, 1, &[], "later arrival");
    let del = signed(&key(3), 200, 5, &[&["e", &h(&post.id)]], "");
    store.insert(del.clone()).expect("insert");
    assert_eq!(store.insert(post).expect("insert"), Inserted::Refused(Refusal::Deleted));
    let del2 = signed(&key(3), 300, 5, &[&["e", &h(&del.id)]], "");
    store.insert(del2).expect("insert");
    assert!(store.get(&del.id).is_some(), "NIP-09: deleting a deletion has no effect");
    store.ring.check();
}

#[test]
fn addressable_events_keep_the_latest_per_d_and_an_a_tag_deletes_up_to_its_time() {
    let dir = TempDir::new("addressable");
    let owner = key(1);
    let mut store = open(&dir.0, &owner);
    let a = key(4);
    let v1 = signed(&a, 100, 30023, &[&["d", "x"]], "v1");
    let v2 = signed(&a, 200, 30023, &[&["d", "x"]], "v2");
    let y = signed(&a, 150, 30023, &[&["d", "y"]], "y");
    store.insert(v1.clone()).expect("insert");
    store.insert(v2.clone()).expect("insert");
    assert!(store.get(&v1.id).is_none(), "a newer version of the same d replaces the older");
    assert_eq!(store.insert(v1.clone()).expect("insert"), Inserted::Refused(Refusal::Superseded));
    store.insert(y.clone()).expect("insert");
    assert!(store.is_current(&v2) && store.is_current(&y));
    let coord = format!("30023:{}:x", a.public_key().to_hex());
    // Someone else cannot delete a's article with an `a` tag.
    store.insert(signed(&key(5), 300, 5, &[&["a", &coord]], "")).expect("insert");
    assert!(store.get(&v2.id).is_some());
    store.insert(signed(&a, 250, 5, &[&["a", &coord]], "")).expect("insert");
    assert!(store.get(&v2.id).is_none(), "the latest version up to the deletion's time is gone");
    assert!(store.get(&y.id).is_some(), "another d value stays");
    assert_eq!(
        store.insert(signed(&a, 240, 30023, &[&["d", "x"]], "v3")).expect("insert"),
        Inserted::Refused(Refusal::Deleted)
    );
    let v4 = signed(&a, 260, 30023, &[&["d", "x"]], "v4");
    assert_eq!(store.insert(v4.clone()).expect("insert"), Inserted::New { evicted: 0 }, "newer than the deletion");
    assert!(store.is_current(&v4));
    store.ring.check();
}

#[test]
fn ephemeral_events_are_never_stored_and_other_kinds_are() {
    let dir = TempDir::new("ephemeral");
    let owner = key(1);
    let mut store = open(&dir.0, &owner);
    let eph = signed(&owner, 100, 20001, &[], "typing");
    assert_eq!(store.insert(eph.clone()).expect("insert"), Inserted::Refused(Refusal::Ephemeral));
    assert!(store.get(&eph.id).is_none());
    for kind in [2u16, 4, 16, 1063, 10002, 30078] {
        let ev = signed(&owner, 100 + u64::from(kind), kind, &[], "k");
        assert_eq!(store.insert(ev).expect("insert"), Inserted::New { evicted: 0 }, "kind {kind}");
    }
    store.ring.check();
}

#[test]
fn tombstones_are_bounded_oldest_forgotten_first() {
    let author = key(6);
    let mut tombs = Tombstones::default();
    // Each deletion names 4,096 ids: a hostile author filling the set.
    let rounds = TOMBSTONES_CAP / 4096 + 2;
    let mut first: Option<VerifiedEvent> = None;
    for r in 0..rounds {
        let ids: Vec<String> = (0..4096u32)
            .map(|i| {
                let mut b = [0u8; 32];
                b[..4].copy_from_slice(&(r as u32).to_be_bytes());
                b[4..8].copy_from_slice(&i.to_be_bytes());
                hex::encode(&b)
            })
            .collect();
        let tags: Vec<Vec<String>> = ids.iter().map(|id| vec!["e".to_string(), id.clone()]).collect();
        let del = Event::new_signed(&author, UnixTime(100 + r as u64), 5, tags, String::new(), &[0; 32]);
        tombs.note(&del);
        assert!(tombs.len() <= TOMBSTONES_CAP);
        if r == 0 {
            let mut target = del.clone();
            target.kind = 1;
            target.id = EventId(hex::decode_array::<32>(&ids[0]).expect("hex"));
            first = Some(VerifiedEvent::from_own_log(target));
        }
    }
    assert_eq!(tombs.len(), TOMBSTONES_CAP);
    let first = first.expect("round 0 ran");
    assert!(!tombs.covers(&first), "the oldest name was forgotten");
}

#[test]
fn coordinates_parse_strictly() {
    let pk = key(7).public_key().to_hex();
    assert_eq!(parse_coord(&format!("30023:{pk}:a:b")).map(|c| c.2), Some("a:b".to_string()));
    assert_eq!(parse_coord(&format!("30023:{pk}")).map(|c| c.2), Some(String::new()));
    for bad in ["", "x:y:z", "70000:00:d", &format!("-1:{pk}:d"), &format!("30023:{}:d", &pk[..10])] {
        assert_eq!(parse_coord(bad), None, "{bad}");
    }
}
