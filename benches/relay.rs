//! Relay protocol measurements (pure code, no sockets): the stored part of a `REQ` for a
//! 300-event timeline with 10,000 events stored (parse, query, render until `EOSE`), a
//! 1,500-author timeline filter, a 30-author one (the scan stops at `RELAY_SCAN_MAX` when
//! few match), and live matching of one new event against 128 connections × 20 subscriptions.
//!
//! Run with `cargo bench --bench relay` (release profile). The store directory is created
//! under the system temp dir and removed. Not part of `cargo test`.

use std::time::Instant;

use nostrp2p::event::{Event, KIND_POST};
use nostrp2p::keys::SecretKey;
use nostrp2p::relay::{ConnId, Relay, RelayConfig};
use nostrp2p::store::{Store, StoreConfig};
use nostrp2p::time::{Instant as Now, UnixTime};

const STORED: u64 = 10_000;
const AUTHORS: u32 = 1_500;

fn key(n: u32) -> SecretKey {
    let mut bytes = [0u8; 32];
    bytes[28..].copy_from_slice(&n.to_be_bytes());
    SecretKey::from_bytes(bytes).expect("small non-zero scalars are valid keys")
}

fn main() {
    let dir = std::env::temp_dir().join(format!("nostrp2p-bench-relay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let owner = key(1);
    let keys: Vec<SecretKey> = (2..2 + AUTHORS).map(key).collect();
    let wall = UnixTime(1_800_000_000);
    let cfg = StoreConfig { budget_bytes: 64 * 1024 * 1024, owner: owner.public_key() };
    let (mut store, _) = Store::open(&dir, cfg).expect("store opens");
    for i in 0..STORED {
        let k = &keys[(i % u64::from(AUTHORS)) as usize];
        let content = format!("post {i}: a typical short note about the day, with a few words more");
        let ev = Event::new_signed(k, UnixTime(wall.0 - STORED + i), KIND_POST, Vec::new(), content, &[0; 32]);
        store.insert(ev.verify(wall).expect("valid")).expect("insert");
    }
    store.sync().expect("sync");

    let rcfg = RelayConfig { owner: owner.public_key(), writable: true, accept_any_author: false };
    let all_authors: Vec<String> = keys.iter().map(|k| format!("\"{}\"", k.public_key().to_hex())).collect();
    let few_authors = all_authors[..30].join(",");
    let all_authors = all_authors.join(",");
    let cases = [
        ("kinds [1], limit 300", "{\"kinds\":[1],\"limit\":300}".to_string()),
        ("1,500 authors, limit 300", format!("{{\"authors\":[{all_authors}],\"limit\":300}}")),
        ("30 authors, limit 300", format!("{{\"authors\":[{few_authors}],\"limit\":300}}")),
    ];
    for (name, filter) in cases {
        let rounds = 20;
        let mut events = 0;
        let t = Instant::now();
        for r in 0..rounds {
            let mut relay = Relay::new(rcfg);
            relay.open(ConnId(1), [0; 16], Now(0)).expect("opens");
            let req = format!("[\"REQ\",\"r{r}\",{filter}]");
            let h = relay.handle_message(ConnId(1), req.as_bytes(), &store, Now(0), wall);
            assert!(h.replies.is_empty(), "{:?}", h.replies);
            let mut bytes = 0;
            while let Some(m) = relay.poll_message(ConnId(1), &store) {
                bytes += m.len();
                events += 1;
            }
            assert!(bytes > 0);
        }
        let per = t.elapsed() / rounds;
        println!("REQ {name} over {STORED} stored: {per:?} per REQ ({} messages incl. EOSE)", events / rounds);
    }

    let mut relay = Relay::new(rcfg);
    for c in 0..128u64 {
        relay.open(ConnId(c), [0; 16], Now(0)).expect("opens");
        for s in 0..20u32 {
            let k = &keys[((c as u32 * 20 + s) % AUTHORS) as usize];
            let req = format!("[\"REQ\",\"s{s}\",{{\"authors\":[\"{}\"],\"limit\":0}}]", k.public_key().to_hex());
            relay.handle_message(ConnId(c), req.as_bytes(), &store, Now(0), wall);
            while relay.poll_message(ConnId(c), &store).is_some() {}
        }
    }
    let ev = Event::new_signed(&keys[0], wall, KIND_POST, Vec::new(), "live".into(), &[0; 32]);
    let rounds = 200;
    let t = Instant::now();
    let mut sent = 0;
    for _ in 0..rounds {
        sent = relay.handle_new_event(&ev, &store, wall).len();
    }
    println!(
        "live matching, 128 connections x 20 subscriptions: {:?} per event ({sent} EVENT messages)",
        t.elapsed() / rounds
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
