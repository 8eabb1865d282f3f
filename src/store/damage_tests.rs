//! Store tests of damage in the middle of the log: bytes flipped anywhere lose only the
//! records they hit, the damaged bytes go to the quarantine (bounded), the repair survives
//! being interrupted, and bytes that merely look like a record inside damage are not trusted.

use std::fs;
use std::path::Path;

use super::disk_tests::{open_small, records, seg_path, segment_numbers};
use super::log::{encode_record, MAGIC};
use super::repair::QUARANTINE_DIR;
use super::scan::{scan, scan_with_budget, Damage};
use super::tests::{cfg, ids, key, open, post, TempDir};
use super::*;
use crate::event::Sig;
use crate::limits::QUARANTINE_MAX_BYTES;

const BIG: u64 = 64 * 1024 * 1024;

/// Writes `n` posts through a store with `segment_bytes` segments; returns them in order.
fn fill(dir: &Path, n: u64, segment_bytes: u64) -> Vec<VerifiedEvent> {
    let events: Vec<VerifiedEvent> =
        (0..n).map(|i| post(&key(2), 100 + i, &format!("damage {i:03} {}", "x".repeat(100)))).collect();
    let (mut store, _) = open_small(dir, cfg(BIG, &key(1)), segment_bytes);
    for ev in &events {
        store.insert(ev.clone()).expect("insert");
    }
    store.sync().expect("sync");
    events
}

/// XORs `len` bytes at `at` of `path` with a non-zero pattern (every byte changes).
fn flip(path: &Path, at: u64, len: usize) -> Vec<u8> {
    let mut bytes = fs::read(path).expect("read");
    let original = bytes.clone();
    for b in &mut bytes[at as usize..at as usize + len] {
        *b ^= 0x5a;
    }
    fs::write(path, &bytes).expect("write");
    original
}

fn quarantine_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = fs::read_dir(dir.join(QUARANTINE_DIR)) else { return Vec::new() };
    let mut files: Vec<_> = entries.map(|e| e.expect("entry").path()).collect();
    files.sort();
    files
}

#[test]
fn a_flipped_byte_in_a_middle_segment_loses_only_that_record() {
    let dir = TempDir::new("flip");
    let events = fill(&dir.0, 30, 1024);
    let segs = segment_numbers(&dir.0);
    assert!(segs.len() >= 4, "{segs:?}");
    let middle = seg_path(&dir.0, segs[1]);
    let recs = records(&middle);
    assert!(recs.len() >= 3);
    let (bad_off, bad_len) = recs[1];
    let original = flip(&middle, bad_off + 20, 1);

    let (store, recovery) = open_small(&dir.0, cfg(BIG, &key(1)), 1024);
    let lost_index = records(&seg_path(&dir.0, segs[0])).len() + 1;
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(store.get(&ev.id).is_some(), i != lost_index, "event {i}");
    }
    assert_eq!(recovery.damaged.len(), 1, "{recovery:?}");
    let d = &recovery.damaged[0];
    assert_eq!((d.offset, d.len, d.reason), (bad_off, u64::from(bad_len), BadRecord::Checksum));
    let Fate::Quarantined(copy) = &d.fate else { panic!("not quarantined: {d:?}") };
    let mut damaged = original[bad_off as usize..(bad_off + u64::from(bad_len)) as usize].to_vec();
    damaged[20] ^= 0x5a;
    assert_eq!(fs::read(copy).expect("quarantine copy"), damaged, "the copy holds the damaged bytes");
    drop(store);
    // The segment was repaired: it reads clean now, and the next start finds nothing to do.
    assert_eq!(records(&middle).len(), recs.len() - 1);
    let (store, recovery) = open_small(&dir.0, cfg(BIG, &key(1)), 1024);
    assert!(recovery.damaged.is_empty(), "{recovery:?}");
    assert_eq!(store.len(), events.len() - 1);
    assert_eq!(quarantine_files(&dir.0).len(), 1);
}

/// The case: 16 flipped bytes anywhere in a segment. For each of many positions the
/// events lost are exactly those whose record bytes the 16 bytes touched.
#[test]
fn sixteen_flipped_bytes_anywhere_lose_exactly_the_records_they_touch() {
    let dir = TempDir::new("sixteen");
    let events = fill(&dir.0, 40, BIG);
    let path = seg_path(&dir.0, 1);
    let recs = records(&path);
    assert_eq!(recs.len(), events.len());
    let pristine = fs::read(&path).expect("read");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for round in 0..24 {
        // A deterministic spread of positions, including the header and the last record.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let at = match round {
            0 => 0,
            1 => pristine.len() as u64 - 16,
            _ => x % (pristine.len() as u64 - 16),
        };
        fs::write(&path, &pristine).expect("restore");
        let _ = fs::remove_dir_all(dir.0.join(QUARANTINE_DIR));
        flip(&path, at, 16);
        let hit = |off: u64, len: u32| off < at + 16 && at < off + u64::from(len);
        let (store, recovery) = open(&dir.0, cfg(BIG, &key(1)));
        for (ev, &(off, len)) in events.iter().zip(&recs) {
            assert_eq!(store.get(&ev.id).is_none(), hit(off, len), "round {round}: 16 bytes at {at}; {recovery:?}");
        }
        assert!(!recovery.damaged.is_empty(), "round {round}");
        // Appending after the repair works and everything reads back.
        drop(store);
        let (mut store, _) = open(&dir.0, cfg(BIG, &key(1)));
        let kept = store.len();
        let more = post(&key(3), 999, &format!("after round {round}"));
        store.insert(more.clone()).expect("insert");
        store.sync().expect("sync");
        drop(store);
        let (store, recovery) = open(&dir.0, cfg(BIG, &key(1)));
        assert!(recovery.damaged.is_empty(), "round {round}: {recovery:?}");
        assert_eq!(store.len(), kept + 1);
        assert!(store.get(&more.id).is_some());
        drop(store);
        fs::write(&path, &pristine).expect("restore");
        let _ = fs::remove_file(seg_path(&dir.0, 2));
    }
}

#[test]
fn a_record_hidden_inside_damage_is_not_trusted_without_its_signature() {
    let dir = TempDir::new("hidden");
    fs::create_dir_all(&dir.0).expect("mkdir");
    // A forged event: its id matches its fields (anyone can hash), its signature is junk.
    let mut forged = post(&key(3), 500, "forged").into_event();
    forged.sig = Sig([7; 64]);
    let mut hidden = Vec::new();
    encode_record(&forged, &mut hidden).expect("encode");
    let good = post(&key(2), 501, "good after the damage");
    let mut bytes = MAGIC.to_vec();
    // A damaged record (bad CRC) whose payload carries the forged record whole.
    let mut payload = vec![0xee; 10];
    payload.extend_from_slice(&hidden);
    payload.extend_from_slice(&[0xee; 10]);
    bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(&payload);
    let good_at = bytes.len() as u64;
    encode_record(&good, &mut bytes).expect("encode");
    fs::write(seg_path(&dir.0, 1), &bytes).expect("write");

    let mut seen = Vec::new();
    let damage = scan(&bytes, |off, _, ev| seen.push((off, ev.id)));
    assert_eq!(seen, vec![(good_at, good.id)], "only the real record after the damage");
    assert_eq!(
        damage,
        vec![Damage { start: MAGIC.len() as u64, end: good_at, reason: BadRecord::Checksum, gave_up: false }]
    );
    let (store, _) = open(&dir.0, cfg(BIG, &key(1)));
    assert_eq!(ids(&store.last_n(10)), vec![good.id]);
}

#[test]
fn damage_in_the_file_header_keeps_every_record() {
    let dir = TempDir::new("magic");
    let events = fill(&dir.0, 5, BIG);
    flip(&seg_path(&dir.0, 1), 2, 3);
    let (store, recovery) = open(&dir.0, cfg(BIG, &key(1)));
    assert_eq!(store.len(), events.len());
    assert_eq!(recovery.damaged.len(), 1);
    assert_eq!((recovery.damaged[0].offset, recovery.damaged[0].len), (0, MAGIC.len() as u64));
    drop(store);
    assert_eq!(fs::read(seg_path(&dir.0, 1)).expect("read")[..MAGIC.len()], MAGIC, "header rewritten");
    assert_eq!(records(&seg_path(&dir.0, 1)).len(), events.len());
}

#[test]
fn when_the_quarantine_is_full_the_damage_stays_in_place_and_is_skipped() {
    let dir = TempDir::new("full");
    let events = fill(&dir.0, 10, BIG);
    let path = seg_path(&dir.0, 1);
    let recs = records(&path);
    fs::create_dir_all(dir.0.join(QUARANTINE_DIR)).expect("mkdir");
    // A sparse file that fills the quarantine's bound without using the disk.
    let filler = fs::File::create(dir.0.join(QUARANTINE_DIR).join("old.bad")).expect("create");
    filler.set_len(QUARANTINE_MAX_BYTES - 10).expect("set_len");
    drop(filler);
    flip(&path, recs[4].0 + 30, 4);
    let damaged = fs::read(&path).expect("read");
    for start in 0..2 {
        let (store, recovery) = open(&dir.0, cfg(BIG, &key(1)));
        assert_eq!(store.len(), events.len() - 1, "start {start}");
        assert!(store.get(&events[4].id).is_none());
        assert_eq!(recovery.damaged.len(), 1);
        assert_eq!(recovery.damaged[0].fate, Fate::LeftInPlace);
        drop(store);
        assert_eq!(fs::read(&path).expect("read"), damaged, "nothing deleted without a copy");
    }
    assert_eq!(quarantine_files(&dir.0).len(), 1, "only the filler");
}

#[test]
fn a_repair_interrupted_by_a_power_cut_is_redone_without_loss() {
    let dir = TempDir::new("interrupted");
    let events = fill(&dir.0, 12, BIG);
    let path = seg_path(&dir.0, 1);
    let recs = records(&path);
    flip(&path, recs[6].0 + 40, 2);
    let damaged = fs::read(&path).expect("read");
    // First start: the repair copies to the quarantine and rewrites the segment.
    let (store, _) = open(&dir.0, cfg(BIG, &key(1)));
    assert_eq!(store.len(), events.len() - 1);
    drop(store);
    let copies = quarantine_files(&dir.0);
    assert_eq!(copies.len(), 1);
    // Power cut before the rename: the old segment is back, with a half-written `.fix` beside it.
    fs::write(&path, &damaged).expect("restore the unrepaired segment");
    let leftover = dir.0.join(format!("{}.fix", log::segment_name(1)));
    fs::write(&leftover, &damaged[..damaged.len() / 2]).expect("write leftover");
    let (store, recovery) = open(&dir.0, cfg(BIG, &key(1)));
    assert_eq!(store.len(), events.len() - 1);
    assert_eq!(recovery.ignored_files, 0, "the leftover is ours, not a foreign file");
    assert!(!leftover.exists(), "the leftover was deleted");
    assert_eq!(quarantine_files(&dir.0), copies, "the same copy, not a second one");
    assert_eq!(records(&path).len(), events.len() - 1);
}

#[test]
fn the_resync_search_is_bounded() {
    let dir = TempDir::new("budget");
    let _ = fill(&dir.0, 6, BIG);
    let bytes = fs::read(seg_path(&dir.0, 1)).expect("read");
    let recs = records(&seg_path(&dir.0, 1));
    let mut damaged = bytes.clone();
    damaged[recs[1].0 as usize + 4] ^= 1; // the CRC of the second record
    let mut seen = 0;
    let full = scan_with_budget(&damaged, u64::MAX, |_, _, _| seen += 1);
    assert_eq!((seen, full.len(), full[0].gave_up), (5, 1, false));
    // With no budget the search gives up at once: the rest of the bytes is one damaged range.
    seen = 0;
    let none = scan_with_budget(&damaged, 0, |_, _, _| seen += 1);
    assert_eq!(seen, 1);
    assert_eq!(
        none,
        vec![Damage { start: recs[1].0, end: bytes.len() as u64, reason: BadRecord::Checksum, gave_up: true }]
    );
}
