//! Store tests for NIP-09 deletion, NIP-01 addressable and ephemeral kinds: memory semantics,
//! hostile deletions (someone else's, of a deletion), bounds, survival across reopen and
//! across the retirement of the deletion's segment, and a damaged tombstone file.

use super::tests::{key, signed, TempDir};
use std::io::Write;

use super::tombfile::{self, TombFile};
use super::tombs::{parse_coord, TombKey, Tombstones};
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

/// Files of the log in `dir` (segment numbers).
fn segment_numbers(dir: &Path) -> Vec<u32> {
    let mut nos: Vec<u32> = std::fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| log::parse_segment_name(e.ok()?.file_name().to_str()?))
        .collect();
    nos.sort_unstable();
    nos
}

/// Known gap of replay-only tombstones: someone else's deletion is evicted by newer events,
/// its segment is retired, and after a restart the deleted event was accepted again.
#[test]
fn a_tombstone_outlives_the_retirement_of_its_deletions_segment_and_a_restart() {
    let dir = TempDir::new("tomb-retired");
    let owner = key(1);
    let config = StoreConfig { budget_bytes: 16 * 1024, owner: owner.public_key() };
    let stranger = key(3);
    let victim = signed(&stranger, 100, 1, &[], "regretted");
    let coord = format!("30023:{}:essay", stranger.public_key().to_hex());
    let article = signed(&stranger, 100, 30023, &[&["d", "essay"]], "draft");
    let del = signed(&stranger, 101, 5, &[&["e", &h(&victim.id)], &["a", &coord]], "");
    {
        let (mut store, _) = Store::open_with(&dir.0, config, 4096).expect("open");
        store.insert(victim.clone()).expect("insert");
        store.insert(article.clone()).expect("insert");
        store.insert(del.clone()).expect("insert");
        store.sync().expect("sync");
        let first = segment_numbers(&dir.0)[0];
        // Newer events push the deletion out of the budget and its segment out of the log.
        let mut t = 1_000;
        while segment_numbers(&dir.0).contains(&first) {
            assert!(t < 20_000, "the deletion's segment was never retired");
            store.insert(signed(&key(4), t, 1, &[], &"x".repeat(200))).expect("insert");
            store.sync().expect("sync");
            t += 1;
        }
        assert!(store.get(&del.id).is_none(), "the deletion itself was evicted");
        assert_eq!(store.insert(victim.clone()).expect("insert"), Inserted::Refused(Refusal::Deleted));
    }
    let (mut store, _) = Store::open_with(&dir.0, config, 4096).expect("reopen");
    assert_eq!(
        store.insert(victim.clone()).expect("insert"),
        Inserted::Refused(Refusal::Deleted),
        "the deleted event is refused after the restart too"
    );
    assert_eq!(store.insert(article).expect("insert"), Inserted::Refused(Refusal::Deleted), "and the coordinate");
    let newer = signed(&stranger, 102, 30023, &[&["d", "essay"]], "rewritten");
    assert!(!store.is_deleted(&newer), "a version newer than the deletion is not covered");
    store.ring.check();
}

fn tomb(i: u32) -> super::tombs::Tomb {
    let mut b = [0u8; 32];
    b[..4].copy_from_slice(&i.to_be_bytes());
    let who = crate::keys::PublicKey([9; 32]);
    let target = if i % 2 == 0 { TombKey::Id(EventId(b)) } else { TombKey::Addr(who, 30023, b) };
    (target, who, UnixTime(u64::from(i)))
}

fn load(dir: &Path) -> (TombFile, tombfile::Loaded) {
    TombFile::open(dir).expect("the tombstone file opens whatever its content")
}

#[test]
fn a_damaged_tombstone_file_keeps_every_good_record_and_is_rewritten() {
    let dir = TempDir::new("tombfile");
    std::fs::create_dir_all(&dir.0).expect("mkdir");
    let path = dir.0.join(tombfile::TOMB_FILE);
    let all: Vec<_> = (0..3).map(tomb).collect();
    let (mut tf, loaded) = load(&dir.0);
    assert!(loaded.tombs.is_empty() && loaded.damaged == 0);
    tf.save(&all, false, || all.iter().copied()).expect("save");
    assert_eq!(load(&dir.0).1.tombs, all);
    let full_len = 8 + 3 * tombfile::RECORD_BYTES as u64;

    // A torn last record: the good ones load, and the next save cuts the tail off.
    std::fs::OpenOptions::new().append(true).open(&path).and_then(|mut f| f.write_all(&[7; 10])).expect("tear");
    let (mut tf, loaded) = load(&dir.0);
    assert_eq!((loaded.tombs.as_slice(), loaded.damaged), (all.as_slice(), 1));
    tf.save(&[], false, || all.iter().copied()).expect("rewrite");
    assert_eq!(std::fs::metadata(&path).expect("stat").len(), full_len);

    // A flipped byte in the middle record: that record alone is skipped.
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[8 + tombfile::RECORD_BYTES + 40] ^= 0xff;
    std::fs::write(&path, &bytes).expect("write");
    let loaded = load(&dir.0).1;
    assert_eq!((loaded.tombs, loaded.damaged), (vec![all[0], all[2]], 1));

    // No valid header: nothing is trusted, and the next save rewrites from memory.
    std::fs::write(&path, b"garbage!and more").expect("write");
    let (mut tf, loaded) = load(&dir.0);
    assert_eq!((loaded.tombs.len(), loaded.damaged), (0, 1));
    tf.save(&[], false, || all.iter().copied()).expect("rewrite");
    assert_eq!(load(&dir.0).1.tombs, all);
}

#[test]
fn the_tombstone_file_stays_within_its_record_bound() {
    let dir = TempDir::new("tombfile-bound");
    std::fs::create_dir_all(&dir.0).expect("mkdir");
    let (mut tf, _) = load(&dir.0);
    let batch = TOMBSTONES_CAP as u32;
    for round in 0..3u32 {
        let pending: Vec<_> = (round * batch..(round + 1) * batch).map(tomb).collect();
        // Memory holds only the newest TOMBSTONES_CAP names.
        tf.save(&pending, false, || pending.iter().copied()).expect("save");
        assert!(tf.records() <= crate::limits::TOMBSTONE_FILE_MAX_RECORDS, "round {round}: {}", tf.records());
    }
    let len = std::fs::metadata(dir.0.join(tombfile::TOMB_FILE)).expect("stat").len();
    assert!(len <= 8 + crate::limits::TOMBSTONE_FILE_MAX_RECORDS * tombfile::RECORD_BYTES as u64);
    assert_eq!(load(&dir.0).1.tombs.last(), Some(&tomb(3 * batch - 1)));
}

#[test]
fn the_tombstone_file_is_not_a_stray_file_to_the_log() {
    let dir = TempDir::new("tombfile-stray");
    let owner = key(1);
    let victim = signed(&owner, 100, 1, &[], "gone");
    {
        let mut store = open(&dir.0, &owner);
        store.insert(victim.clone()).expect("insert");
        store.insert(signed(&owner, 101, 5, &[&["e", &h(&victim.id)]], "")).expect("insert");
        store.sync().expect("sync");
    }
    assert!(dir.0.join(tombfile::TOMB_FILE).is_file());
    let (_, recovery) = Store::open(&dir.0, cfg(&owner)).expect("reopen");
    assert_eq!(recovery.ignored_files, 0);
}
