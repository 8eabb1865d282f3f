//! Store measurements: memory per event (a counting allocator against the store's own
//! accounting, the bytes and allocations each stored event costs beyond its serialised size,
//! and the process's resident/private memory from `/proc/self/smaps_rollup`), insert + sync
//! rate at several group-commit batch sizes, recovery time and the client's queries
//! (`last_n(300)`, 10-second windows).
//!
//! Run with `cargo bench --bench store` (release profile); the store directory is created
//! under the system temp dir and removed. Not part of `cargo test`.

#[path = "../tests/common/counting_alloc.rs"]
mod counting_alloc;

use std::time::Instant;

use nostrp2p::event::{Event, EventId, Sig, VerifiedEvent, KIND_POST, KIND_REACTION};
use nostrp2p::keys::SecretKey;
use nostrp2p::query::EventQuery;
use nostrp2p::store::{Store, StoreConfig};
use nostrp2p::time::UnixTime;

/// Live heap bytes (signed: the store's growth is a difference of two of these).
fn live() -> isize {
    counting_alloc::live() as isize
}

/// Live heap allocations.
fn live_allocs() -> isize {
    counting_alloc::live_allocs() as isize
}

const NOW: UnixTime = UnixTime(1_800_000_000);

/// This bench's heap per stored event before the compact indexes (commit f935e25, 10,000
/// events): 392 B of event (inline + heap) + 258 B of store structures.
const BEFORE_HEAP_PER_EVENT: isize = 651;
/// The same after the compact indexes, while each event was still a decoded `Event` (strings
/// and tags on the heap; commit b80ea3f): before one allocation per event (`store::compact`).
const BEFORE_PACKED_HEAP_PER_EVENT: isize = 533;
/// Issue 11's figure for the server: private memory per stored event beyond its bytes.
const BEFORE_SERVER_PRIVATE_BEYOND: f64 = 900.0;

/// A field of `/proc/self/smaps_rollup` in bytes (`Rss:`, `Anonymous:`); 0 where there is none.
fn smaps_bytes(field: &str) -> i64 {
    let s = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<i64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn key(n: u32) -> SecretKey {
    let mut b = [0u8; 32];
    b[28..].copy_from_slice(&n.to_be_bytes());
    SecretKey::from_bytes(b).expect("valid key")
}

/// A mix like a timeline: posts of ~140 characters, replies with e/p tags, likes.
fn event(keys: &[SecretKey], i: u64) -> VerifiedEvent {
    let k = &keys[(i % keys.len() as u64) as usize];
    let target = "ab".repeat(32);
    let (kind, tags, content) = match i % 10 {
        0..=6 => (KIND_POST, vec![], format!("post {i}: {}", "lorem ipsum dolor sit amet ".repeat(5))),
        7 | 8 => (
            KIND_POST,
            vec![vec!["e".into(), target.clone(), String::new(), "root".into()], vec!["p".into(), target.clone()]],
            format!("reply {i}: sounds good to me"),
        ),
        _ => (KIND_REACTION, vec![vec!["e".into(), target.clone()], vec!["p".into(), target]], "+".into()),
    };
    let mut ev = Event {
        id: EventId([0; 32]),
        pubkey: k.public_key(),
        created_at: UnixTime(1_700_000_000 + i),
        kind,
        tags,
        content,
        sig: Sig([0; 64]),
    };
    ev.id = ev.compute_id();
    ev.sig = Sig(k.sign(&ev.id.0, &[0; 32]));
    ev.verify(NOW).expect("verifies")
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("store bench: run with `cargo bench --bench store`");
        return;
    }
    let n: u64 = std::env::var("STORE_BENCH_EVENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(40_000);
    let dir = std::env::temp_dir().join(format!("nostrp2p-store-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let keys: Vec<SecretKey> = (1..=50).map(key).collect();
    let owner = key(999).public_key();
    let cfg = StoreConfig { budget_bytes: 1 << 40, owner };

    let (rss0, private0) = (smaps_bytes("Rss:"), smaps_bytes("Anonymous:"));
    let t = Instant::now();
    let events: Vec<VerifiedEvent> = (0..n).map(|i| event(&keys, i)).collect();
    let serialised: usize = events.iter().map(|e| postcard::to_allocvec(e.as_event()).map_or(0, |v| v.len())).sum();
    let serialised = (serialised / n as usize) as isize;
    println!("signed+verified {n} events in {:.2?}", t.elapsed());
    let copies = events.clone();

    // Memory: heap growth of the store while it takes ownership of already-allocated events,
    // plus the events' own heap (measured by dropping the clones).
    let (before_clone_drop, allocs_before_drop) = (live(), live_allocs());
    drop(copies);
    let event_heap = before_clone_drop - live();
    let event_allocs = allocs_before_drop - live_allocs() - 1; // less the Vec's buffer
    let base = live();
    // The events' own allocations move into the store with them.
    let base_allocs = live_allocs() - event_allocs;
    let (mut store, _) = Store::open(&dir, cfg).expect("open");
    let t = Instant::now();
    for (i, ev) in events.into_iter().enumerate() {
        store.insert(ev).expect("insert");
        if i % 16 == 15 {
            store.sync().expect("sync");
        }
    }
    store.sync().expect("sync");
    let elapsed = t.elapsed();
    let index_heap = live() - base;
    let allocs = live_allocs() - base_allocs;
    let (rss1, private1) = (smaps_bytes("Rss:"), smaps_bytes("Anonymous:"));
    let stats = store.stats();
    let real = event_heap + index_heap;
    let per = |v: isize| v / n as isize;
    println!(
        "memory: {} B/event real heap (events {} + store {}), {} B/event accounted; real/accounted = {:.2}",
        per(real),
        per(event_heap),
        per(index_heap),
        stats.bytes / n,
        real as f64 / stats.bytes as f64
    );
    println!(
        "bytes per stored event beyond its serialised size ({serialised} B postcard): {} B heap now, {} B with \
         decoded events (heap {BEFORE_PACKED_HEAP_PER_EVENT} B/event at b80ea3f), {} B before the compact indexes \
         (heap {} B/event at f935e25); {:.1} live allocations per event",
        per(real) - serialised,
        BEFORE_PACKED_HEAP_PER_EVENT - serialised,
        BEFORE_HEAP_PER_EVENT - serialised,
        BEFORE_HEAP_PER_EVENT,
        allocs as f64 / n as f64
    );
    println!(
        "process memory growth with {n} events stored: RSS {} B/event, private {} B/event ({} B beyond the \
         serialised size; issue 11 measured ≈ {BEFORE_SERVER_PRIVATE_BEYOND:.0} B in the server); malloc's \
         headers and free space included",
        (rss1 - rss0) / n as i64,
        (private1 - private0) / n as i64,
        (private1 - private0) / n as i64 - serialised as i64,
    );
    println!(
        "insert+sync, batches of 16: {n} in {elapsed:.2?} = {:.0}/s; disk {} B/event",
        n as f64 / elapsed.as_secs_f64(),
        stats.disk_bytes / n
    );

    let t = Instant::now();
    let mut got = 0;
    for _ in 0..100 {
        got += store.last_n(300).len();
    }
    println!("last_n(300): {:.2?} each ({got} events)", t.elapsed() / 100);
    let t = Instant::now();
    let mut got = 0;
    for i in 0..1000u64 {
        let since = UnixTime(1_700_000_000 + (i * 37) % n);
        got += store.window(since, UnixTime(since.0 + 10), 10_000).len();
    }
    println!("window(10 s): {:.2?} each ({got} events)", t.elapsed() / 1000);

    // Pre-signed, so that only the store is timed. Batch = inserts per `sync` (group commit).
    for (round, batch) in [1u64, 4, 16, 64, u64::MAX].into_iter().enumerate() {
        let m = 2000u64;
        let fresh: Vec<VerifiedEvent> = (0..m).map(|i| event(&keys, n + round as u64 * 100_000 + i)).collect();
        let t = Instant::now();
        for (i, ev) in (0u64..).zip(fresh) {
            store.insert(ev).expect("insert");
            if batch != u64::MAX && i % batch == batch - 1 {
                store.sync().expect("sync");
            }
        }
        let e = t.elapsed();
        let label = if batch == u64::MAX { "no sync".to_string() } else { format!("sync every {batch}") };
        println!("insert, {label:>13}: {:>8.0} events/s", m as f64 / e.as_secs_f64());
    }
    store.sync().expect("sync");
    drop(store);

    let t = Instant::now();
    let (store, recovery) = Store::open(&dir, cfg).expect("reopen");
    println!("recovery: {} records from {} segments in {:.2?}", recovery.records, recovery.segments, t.elapsed());
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
