//! Store tests of the log: recovery from cut and corrupt records, foreign files, retention,
//! and a real `kill -9` of a process that inserts and syncs.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::log::{encode_record, scan, segment_name, MAGIC};
use super::tests::{cfg, ids, key, open, post, signed, TempDir};
use super::*;
use crate::event::KIND_PROFILE;
use crate::limits::SEGMENT_MAX_BYTES;

const BIG: u64 = 64 * 1024 * 1024;

pub(super) fn seg_path(dir: &Path, no: u32) -> PathBuf {
    dir.join(segment_name(no))
}

/// `(offset, len)` of every record of a segment file.
pub(super) fn records(path: &Path) -> Vec<(u64, u32)> {
    let bytes = fs::read(path).expect("read segment");
    let mut out = Vec::new();
    assert_eq!(scan(&bytes, |off, len, _| out.push((off, len))), vec![]);
    out
}

pub(super) fn segment_numbers(dir: &Path) -> Vec<u32> {
    let mut nos: Vec<u32> = fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry"))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| log::parse_segment_name(e.file_name().to_str()?))
        .collect();
    nos.sort_unstable();
    nos
}

/// Opens with small segments so that tests get several.
pub(super) fn open_small(dir: &Path, config: StoreConfig, segment_bytes: u64) -> (Store, Recovery) {
    let (store, recovery) = Store::open_with(dir, config, segment_bytes).expect("store opens");
    store.ring.check();
    (store, recovery)
}

#[test]
fn a_cut_in_the_last_record_at_any_byte_keeps_every_earlier_record() {
    let dir = TempDir::new("cut");
    let owner = key(1);
    let events: Vec<VerifiedEvent> = (0..4).map(|i| post(&key(2), 100 + i, &format!("cut {i}"))).collect();
    {
        let (mut store, _) = open(&dir.0, cfg(BIG, &owner));
        for ev in &events {
            store.insert(ev.clone()).expect("insert");
        }
        store.sync().expect("sync");
    }
    let path = seg_path(&dir.0, 1);
    let original = fs::read(&path).expect("read");
    let &(last_off, last_len) = records(&path).last().expect("records");
    assert_eq!(last_off + u64::from(last_len), original.len() as u64);
    for cut in last_off..original.len() as u64 {
        fs::write(&path, &original[..cut as usize]).expect("write");
        let (store, recovery) = open(&dir.0, cfg(BIG, &owner));
        assert_eq!(ids(&store.last_n(10)), ids(&events[..3].iter().map(|e| e.as_event()).collect::<Vec<_>>()));
        if cut == last_off {
            assert!(recovery.damaged.is_empty(), "a cut at a record boundary is a clean end");
        } else {
            assert_eq!(recovery.damaged.len(), 1, "cut at {cut}");
            assert_eq!(recovery.damaged[0].offset, last_off);
            assert_eq!(recovery.damaged[0].fate, Fate::TornTail, "cut at {cut}");
        }
        assert!(!dir.0.join(repair::QUARANTINE_DIR).exists(), "a torn append is not quarantined");
        drop(store);
        assert_eq!(fs::metadata(&path).expect("stat").len(), last_off, "truncated at the bad record");
    }
    // The truncated log takes new records after the good ones.
    let (mut store, _) = open(&dir.0, cfg(BIG, &owner));
    store.insert(events[3].clone()).expect("insert");
    store.sync().expect("sync");
    drop(store);
    let (store, recovery) = open(&dir.0, cfg(BIG, &owner));
    assert!(recovery.damaged.is_empty());
    assert_eq!(store.len(), 4);
}

#[test]
fn foreign_files_empty_segments_and_bad_records_are_survived() {
    let dir = TempDir::new("garbage");
    let owner = key(1);
    let good = post(&key(2), 100, "good");
    {
        let (mut store, _) = open(&dir.0, cfg(BIG, &owner));
        store.insert(good.clone()).expect("insert");
        store.sync().expect("sync");
    }
    fs::write(dir.0.join("notes.txt"), b"hello").expect("write");
    fs::write(dir.0.join("seg-1.log"), b"not ours").expect("write");
    fs::create_dir(dir.0.join("seg-00000050.log")).expect("mkdir");
    fs::write(seg_path(&dir.0, 2), b"").expect("zero-length segment");
    fs::write(seg_path(&dir.0, 3), b"GARBAGE!GARBAGE!").expect("bad header");
    // Segment 4: a good record, then a length beyond the limit.
    let mut four = MAGIC.to_vec();
    let second = post(&key(3), 101, "second");
    encode_record(&second, &mut four).expect("encode");
    let huge_at = four.len() as u64;
    four.extend_from_slice(&u32::MAX.to_le_bytes());
    four.extend_from_slice(&[0; 100]);
    fs::write(seg_path(&dir.0, 4), &four).expect("write");
    // Segment 5: a record with a valid checksum whose id is not its hash.
    let mut five = MAGIC.to_vec();
    let mut forged = post(&key(3), 102, "original").into_event();
    forged.content = "changed after signing".into();
    encode_record(&forged, &mut five).expect("encode");
    fs::write(seg_path(&dir.0, 5), &five).expect("write");

    let (store, recovery) = open(&dir.0, cfg(BIG, &owner));
    assert_eq!(recovery.ignored_files, 3);
    let reasons: Vec<(PathBuf, u64, BadRecord, bool)> = recovery
        .damaged
        .iter()
        .map(|d| (d.file.clone(), d.offset, d.reason, matches!(d.fate, Fate::Quarantined(_))))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (seg_path(&dir.0, 3), 0, BadRecord::Header, true),
            (seg_path(&dir.0, 4), huge_at, BadRecord::BadLength { len: u32::MAX }, true),
            (seg_path(&dir.0, 5), MAGIC.len() as u64, BadRecord::Invalid, true),
        ]
    );
    assert_eq!(ids(&store.last_n(10)), vec![good.id, second.id]);
    assert_eq!(store.get(&forged.id), None);
    // Emptied segments other than the active one are deleted; foreign files are left alone.
    assert_eq!(segment_numbers(&dir.0), vec![1, 4, 5]);
    assert!(dir.0.join("notes.txt").exists() && dir.0.join("seg-1.log").exists());
    // The damaged bytes were kept: three copies in the quarantine, which is not a foreign file.
    assert_eq!(fs::read_dir(dir.0.join(repair::QUARANTINE_DIR)).expect("quarantine").count(), 3);
    let (_, recovery) = open(&dir.0, cfg(BIG, &owner));
    assert_eq!((recovery.ignored_files, recovery.damaged.len()), (3, 0));
}

#[test]
fn an_unwritable_directory_is_an_error_not_a_panic() {
    let dir = TempDir::new("unwritable");
    fs::write(&dir.0, b"a file where the directory should be").expect("write");
    let result = Store::open(&dir.0, cfg(BIG, &key(1)));
    assert!(matches!(result, Err(StoreError::Io { .. })), "{:?}", result.err());
    let _ = fs::remove_file(&dir.0);
}

#[test]
fn retention_deletes_dead_segments_and_reappends_pinned_events() {
    let dir = TempDir::new("retain");
    let owner = key(1);
    let filler = |i: u64| post(&key(2), 1000 + i, &format!("filler {i:04} {}", "y".repeat(200)));
    let budget = 16 * ring::cost_of(&filler(0));
    // The owner's profile always stays, so it must move out of the first segment.
    let profile = signed(&owner, 6, KIND_PROFILE, &[], r#"{"name":"me"}"#);
    let seg_bytes = 1024;
    let (mut store, _) = open_small(&dir.0, cfg(budget, &owner), seg_bytes);
    store.insert(profile.clone()).expect("insert");
    // The real limit (2 × budget) is generous because memory costs more per event than a
    // record; a tighter one makes the pinned posts spread over many segments matter.
    let limit = 8 * 1024;
    assert!(limit < disk_limit(budget, seg_bytes));
    store.disk_limit = limit;
    let (mut written, mut max_disk) = (0u64, 0u64);
    let mut own = Vec::new();
    for i in 0..300 {
        // A small pinned post now and then keeps every segment partly live.
        let ev = if i % 4 == 0 { post(&owner, 10 + i, &format!("own {i}")) } else { filler(i) };
        if ev.pubkey == owner.public_key() {
            own.push(ev.clone());
        }
        written += 8 + postcard::to_allocvec(ev.as_event()).expect("encode").len() as u64;
        store.insert(ev).expect("insert");
        store.sync().expect("sync");
        max_disk = max_disk.max(store.stats().disk_bytes);
        store.ring.check();
    }
    assert!(written > 3 * limit, "the test writes far more than the limit");
    assert!(max_disk <= limit + 2 * seg_bytes, "disk {max_disk} > limit {limit}");
    let segs = segment_numbers(&dir.0);
    assert!(!segs.contains(&1), "the first segment was compacted away: {segs:?}");
    let (compactions, reappended) = store.compacted;
    assert!(compactions > 0 && reappended > 0);
    eprintln!("{compactions} compactions re-appended {reappended} records for 300 inserted");
    assert!(reappended < 300, "write amplification below 2");
    assert_eq!(store.stats().segments as usize, segs.len());
    let on_disk: u64 = segs.iter().map(|no| fs::metadata(seg_path(&dir.0, *no)).expect("stat").len()).sum();
    assert_eq!(store.stats().disk_bytes, on_disk);
    let live_own: Vec<EventId> = own.iter().filter(|e| store.get(&e.id).is_some()).map(|e| e.id).collect();
    assert!(live_own.len() > 5, "the newest own posts stay pinned");
    assert!(store.get(&own[0].id).is_none(), "the oldest own posts went past the pinned cap");
    let before = ids(&store.last_n(1000));
    drop(store);
    let (store, recovery) = open_small(&dir.0, cfg(budget, &owner), seg_bytes);
    assert!(recovery.damaged.is_empty());
    assert_eq!(recovery.duplicates, 0);
    for id in &live_own {
        assert_eq!(store.get(id).map(|e| e.id), Some(*id));
    }
    assert_eq!(store.latest_replaceable(&owner.public_key(), KIND_PROFILE).map(|e| e.id), Some(profile.id));
    assert_eq!(ids(&store.last_n(1000)), before, "recovery restores exactly the live set");
}

#[test]
fn retention_plan_deletes_dead_segments_and_compacts_the_emptiest() {
    let files: BTreeMap<u32, u64> = [(1, 1000), (2, 1000), (3, 1000), (4, 500)].into();
    let live: BTreeMap<u32, SegmentLive> = [
        (1, SegmentLive { events: 2, bytes: 300 }),
        (3, SegmentLive { events: 1, bytes: 100 }),
        (4, SegmentLive { events: 1, bytes: 100 }),
    ]
    .into();
    let plan = plan_retention(&files, &live, 4, 10_000);
    assert_eq!(plan, RetentionPlan { delete: vec![2], compact: None });
    let plan = plan_retention(&files, &live, 4, 2000);
    assert_eq!(plan, RetentionPlan { delete: vec![2], compact: Some(3) });
    // A segment more than half live is never compacted: it would write more than it frees.
    let full: BTreeMap<u32, SegmentLive> =
        [(1, SegmentLive { events: 9, bytes: 600 }), (3, SegmentLive { events: 9, bytes: 900 })].into();
    let plan = plan_retention(&[(1, 1000), (3, 1000), (4, 10)].into(), &full, 4, 0);
    assert_eq!(plan, RetentionPlan { delete: vec![], compact: None });
    // The smallest live share wins, not the fewest live bytes.
    let shares: BTreeMap<u32, SegmentLive> =
        [(1, SegmentLive { events: 1, bytes: 90 }), (2, SegmentLive { events: 1, bytes: 100 })].into();
    let plan = plan_retention(&[(1, 100), (2, 1000), (4, 10)].into(), &shares, 4, 0);
    assert_eq!(plan.compact, Some(2));
    let plan = plan_retention(&files, &BTreeMap::new(), 4, 0);
    assert_eq!(plan, RetentionPlan { delete: vec![1, 2, 3], compact: None }, "the active segment stays");
}

#[test]
fn appends_after_a_cut_header_start_the_segment_again() {
    let dir = TempDir::new("header");
    let owner = key(1);
    fs::create_dir_all(&dir.0).expect("mkdir");
    fs::write(seg_path(&dir.0, 1), &MAGIC[..3]).expect("write");
    let ev = post(&key(2), 100, "after a cut header");
    {
        let (mut store, recovery) = open(&dir.0, cfg(BIG, &owner));
        assert!(recovery.damaged.is_empty(), "a prefix of the header is an empty segment");
        store.insert(ev.clone()).expect("insert");
        store.sync().expect("sync");
    }
    let mut file = OpenOptions::new().append(true).open(seg_path(&dir.0, 1)).expect("open");
    file.write_all(&[1, 2, 3]).expect("write");
    drop(file);
    let (store, recovery) = open(&dir.0, cfg(BIG, &owner));
    assert_eq!(recovery.damaged.len(), 1);
    assert_eq!(recovery.damaged[0].fate, Fate::TornTail);
    assert_eq!(ids(&store.last_n(10)), vec![ev.id]);
}

/// Set in the child process of the `kill -9` test: the store directory to write to.
const CRASH_DIR_VAR: &str = "NOSTRP2P_STORE_CRASH_DIR";

/// The child of [`kill_9_at_any_moment_keeps_every_synced_event`]: inserts and syncs in
/// small batches forever, printing each batch's ids once `sync` returned Ok. Does nothing
/// unless started by that test.
#[test]
#[ignore = "started as a child process by kill_9_at_any_moment_keeps_every_synced_event"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR_VAR) else { return };
    let round: u32 = std::env::var("NOSTRP2P_STORE_CRASH_ROUND").ok().and_then(|r| r.parse().ok()).unwrap_or(0);
    let (mut store, _) = Store::open_with(Path::new(&dir), cfg(BIG, &key(1)), 4096).expect("child opens");
    let author = key(2 + round);
    for batch in 0u64.. {
        let events: Vec<VerifiedEvent> = (0..3)
            .map(|i| post(&author, 1_000_000 + batch * 3 + i, &format!("round {round} batch {batch} #{i}")))
            .collect();
        for ev in &events {
            store.insert(ev.clone()).expect("child insert");
        }
        store.sync().expect("child sync");
        let line: Vec<String> = events.iter().map(|e| crate::hex::encode(&e.id.0)).collect();
        println!("SYNCED {}", line.join(" "));
    }
}

#[test]
fn kill_9_at_any_moment_keeps_every_synced_event() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = TempDir::new("kill9");
    let exe = std::env::current_exe().expect("test binary");
    let mut synced: Vec<EventId> = Vec::new();
    for (round, batches) in [1usize, 7, 23, 2, 40].into_iter().enumerate() {
        let mut child = Command::new(&exe)
            .args(["--exact", "store::disk_tests::crash_child", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CRASH_DIR_VAR, &dir.0)
            .env("NOSTRP2P_STORE_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut seen = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("child output");
            let Some(ids) = line.strip_prefix("SYNCED ") else { continue };
            for hex in ids.split(' ') {
                synced.push(EventId(crate::hex::decode_array::<32>(hex).expect("hex id")));
            }
            seen += 1;
            if seen == batches {
                break;
            }
        }
        assert_eq!(seen, batches, "round {round}: the child stopped early");
        child.kill().expect("SIGKILL the child"); // mid-insert or mid-sync: the child never stops writing
        child.wait().expect("reap the child");
        let (store, recovery) = open_small(&dir.0, cfg(BIG, &key(1)), 4096);
        // Unsynced inserts usually survive too: `insert` hands each record to the OS.
        assert!(store.len() >= synced.len());
        for id in &synced {
            assert!(store.get(id).is_some(), "round {round}: synced event {id} lost; {recovery:?}");
        }
    }
}

#[test]
fn a_segment_file_longer_than_any_segment_is_read_only_up_to_the_bound() {
    let dir = TempDir::new("long");
    fs::create_dir_all(&dir.0).expect("mkdir");
    let ev = post(&key(2), 100, &"z".repeat(1000));
    let mut record = Vec::new();
    encode_record(&ev, &mut record).expect("encode");
    let mut bytes = MAGIC.to_vec();
    let bound = SEGMENT_MAX_BYTES as usize + MAGIC.len() + log::RECORD_HEADER_BYTES + crate::limits::MAX_RECORD_BYTES;
    while bytes.len() <= bound + 10 * record.len() {
        bytes.extend_from_slice(&record);
    }
    fs::write(seg_path(&dir.0, 1), &bytes).expect("write");
    let (store, recovery) = open(&dir.0, cfg(BIG, &key(1)));
    assert_eq!(ids(&store.last_n(10)), vec![ev.id]);
    assert_eq!(recovery.damaged.len(), 1);
    let cut = &recovery.damaged[0];
    assert_eq!((cut.reason, &cut.fate), (BadRecord::SegmentTooLong, &Fate::CutBeyondBound));
    assert!(cut.offset <= bound as u64 && cut.offset > (bound - record.len()) as u64, "{cut:?}");
    assert_eq!(cut.offset + cut.len, bytes.len() as u64);
    assert_eq!(fs::metadata(seg_path(&dir.0, 1)).expect("stat").len(), cut.offset);
}
