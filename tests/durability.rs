//! Data survives restarts and crashes: a clean SIGTERM exits 0 and keeps everything; a
//! `kill -9` in the middle of a stream of publishes loses nothing that was answered 200;
//! bytes damaged in the middle of a segment lose only the records they hit.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use nostrp2p::event::json::to_client_json;
use nostrp2p::event::msgpack::decode_events;
use nostrp2p::event::Event;
use nostrp2p::hex;
use nostrp2p::time::UnixTime;

const ALL: &[u8] = br#"{"kinds":[40000],"since":-1,"until":-1,"limit":10000}"#;

fn stored_ids(c: &mut HttpClient) -> BTreeSet<String> {
    let r = c.post("/req", ALL);
    assert_eq!(r.status, 200, "{}", r.text());
    decode_events(&r.decoded_body()).expect("answer").iter().map(|w| hex::encode(&w.event.id.0)).collect()
}

fn post_number(i: u64) -> Event {
    Event::new_signed(&key(SECRET_A), UnixTime(1_717_000_000 + i), 1, vec![], format!("post number {i}"), &[0; 32])
}

#[test]
fn clean_restart_keeps_everything() {
    let dir = TempDir::new("restart");
    let node = Node::start(NodeOpts::new(NPUB_A, dir.path()));
    let mut c = node.client();
    for name in ["E1", "E4", "E8", "E12", "E15"] {
        assert_eq!(c.post("/publish", fixture(name).as_bytes()).status, 200);
    }
    let before = stored_ids(&mut c);
    let opts = node.opts.clone();
    let status = node.terminate();
    assert!(status.success(), "SIGTERM must exit 0, got {status:?}");
    let node = Node::start(opts);
    let mut c = node.client();
    assert_eq!(stored_ids(&mut c), before);
    // The profile and follow-list indexes are rebuilt too (the original lost them on restart).
    let r = c.post("/req", format!(r#"{{"authors":["{HEX_A}"],"kinds":[0]}}"#).as_bytes());
    assert_eq!(decode_events(&r.decoded_body()).expect("profile").len(), 1);
    let r = c.post("/req", format!(r#"{{"authors":["{HEX_A}"],"kinds":[3]}}"#).as_bytes());
    assert_eq!(decode_events(&r.decoded_body()).expect("follows").len(), 1);
}

#[test]
fn kill_9_while_publishing_loses_no_acknowledged_event() {
    let dir = TempDir::new("crash");
    let node = Node::start(NodeOpts::new(NPUB_A, dir.path()));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    // Two concurrent publishers, so the kill lands in the middle of group commits.
    let workers: Vec<_> = (0..2u64)
        .map(|w| {
            let (acked, stop, addr) = (Arc::clone(&acked), Arc::clone(&stop), node.http);
            std::thread::spawn(move || {
                let mut c = HttpClient::connect(addr);
                for i in 0..100_000u64 {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let e = post_number(i * 2 + w);
                    // After the kill, requests fail: that ends this publisher.
                    let Ok(r) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        c.post("/publish", to_client_json(&e).as_bytes())
                    })) else {
                        return;
                    };
                    if r.status == 200 {
                        acked.lock().expect("lock").push(hex::encode(&e.id.0));
                    }
                }
            })
        })
        .collect();
    // Kill once a good number of events were acknowledged (bounded wait).
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.lock().expect("lock").len() < 300 {
        assert!(Instant::now() < deadline, "publishing too slow; log:\n{}", node.log_text());
        std::thread::sleep(Duration::from_millis(5));
    }
    let opts = node.opts.clone();
    node.kill();
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        let _ = w.join();
    }
    let acked: BTreeSet<String> = acked.lock().expect("lock").iter().cloned().collect();
    assert!(acked.len() >= 300);

    let node = Node::start(opts);
    let mut c = node.client();
    let stored = stored_ids(&mut c);
    let missing: Vec<_> = acked.difference(&stored).collect();
    assert!(missing.is_empty(), "{} acknowledged events lost, e.g. {:?}", missing.len(), missing.first());
    // The store is still writable after recovery.
    let r = c.post("/publish", fixture("E1").as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
}

/// SD cards rot: 16 flipped bytes in the middle of a segment after a crash lose only the
/// events whose record bytes they hit (the acknowledged set is the oracle), the damaged
/// bytes are kept in the quarantine, and the store goes on taking posts.
#[test]
fn flipped_bytes_in_the_middle_of_a_segment_lose_only_the_records_they_hit() {
    let dir = TempDir::new("rot");
    let node = Node::start(NodeOpts::new(NPUB_A, dir.path()));
    let mut c = node.client();
    let mut acked = BTreeSet::new();
    for i in 0..400 {
        let e = post_number(i);
        let r = c.post("/publish", to_client_json(&e).as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
        acked.insert(hex::encode(&e.id.0));
    }
    let opts = node.opts.clone();
    node.kill();

    let seg = dir.path().join("seg-00000001.log");
    let mut bytes = std::fs::read(&seg).expect("the first segment");
    // Which event each record holds, read from the file before it is damaged.
    let mut records = Vec::new();
    let damage = nostrp2p::store::scan::scan(&bytes, |off, len, ev| records.push((off, len, hex::encode(&ev.id.0))));
    assert!(damage.is_empty() && records.len() >= 400, "{damage:?}, {} records", records.len());
    let at = bytes.len() / 2;
    for b in &mut bytes[at..at + 16] {
        *b ^= 0xa5;
    }
    std::fs::write(&seg, &bytes).expect("damage the segment");
    let hit: BTreeSet<String> = records
        .iter()
        .filter(|(off, len, _)| (*off as usize) < at + 16 && at < (*off + u64::from(*len)) as usize)
        .map(|(_, _, id)| id.clone())
        .collect();
    assert!((1..=2).contains(&hit.len()), "16 bytes touch one or two records: {hit:?}");

    let node = Node::start(opts);
    let mut c = node.client();
    let stored = stored_ids(&mut c);
    let lost: BTreeSet<&String> = acked.difference(&stored).collect();
    assert_eq!(lost, hit.iter().collect(), "lost {} acknowledged events; log:\n{}", lost.len(), node.log_text());
    let quarantined: Vec<_> = std::fs::read_dir(dir.path().join("quarantine")).expect("quarantine").collect();
    assert_eq!(quarantined.len(), 1);
    let r = c.post("/publish", fixture("E1").as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
}
