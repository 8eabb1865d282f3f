//! The `/req` answer cache through [`route`] against the real store: a repeated request is
//! answered from the cache, and never with a stale answer after the store changed.

use super::*;
use crate::store::{Store, StoreConfig};

/// A directory under the system temp dir, unique per test, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("nostrp2p-http-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(dir: &TempDir) -> Store {
    let cfg = StoreConfig { budget_bytes: 64 * 1024 * 1024, owner: pubkey(A_HEX) };
    Store::open(&dir.0, cfg).expect("store opens").0
}

fn post_at(created_at: u64, content: &str) -> crate::event::VerifiedEvent {
    signed(A_SECRET, created_at, 1, &[], content).verify(NOW).expect("verifies")
}

/// Routes `body` as the client does (gzip accepted) and returns the decoded contents.
fn poll(store: &Store, cache: &mut ReqCache, body: &str) -> Vec<String> {
    let req = with_header(post("/req", body), "Accept-Encoding", "gzip, deflate");
    let resp = reply(route(&req, store, &cfg(), &NodeInfo::default(), NOW, cache));
    assert_eq!(resp.status, 200);
    let raw = if resp.header("Content-Encoding") == Some("gzip") { gunzip(&resp.body) } else { resp.body };
    let events = crate::event::msgpack::decode_events(&raw).expect("layout");
    events.into_iter().map(|w| w.event.content).collect()
}

const FIRST_POLL: &str = r#"{"kinds":[40000],"since":-1,"until":-1,"limit":300}"#;

#[test]
fn a_repeated_poll_is_served_from_the_cache_until_the_store_changes() {
    let dir = TempDir::new("insert");
    let mut store = open(&dir);
    let mut cache = ReqCache::new();
    for i in 0..20 {
        store.insert(post_at(1_700_000_000 + i, &format!("post number {i} with some words"))).expect("insert");
    }
    let first = poll(&store, &mut cache, FIRST_POLL);
    assert_eq!(first.len(), 20);
    assert_eq!(poll(&store, &mut cache, FIRST_POLL), first);
    assert_eq!(cache.hits_misses(), (1, 1), "the second identical poll is a hit");

    // A new event must show in the very next poll.
    store.insert(post_at(1_700_000_100, "the newest post")).expect("insert");
    let after = poll(&store, &mut cache, FIRST_POLL);
    assert_eq!(after.len(), 21, "a stale timeline was served");
    assert_eq!(after.last().map(String::as_str), Some("the newest post"));

    // A deletion (kind 5) by the author removes the post from the answer.
    let victim = post_at(1_700_000_200, "to be deleted");
    let victim_id = crate::hex::encode(&victim.id.0);
    store.insert(victim).expect("insert");
    assert_eq!(poll(&store, &mut cache, FIRST_POLL).len(), 22);
    let deletion = signed(A_SECRET, 1_700_000_300, 5, &[&["e", &victim_id]], "").verify(NOW).expect("verifies");
    store.insert(deletion).expect("insert");
    let after_delete = poll(&store, &mut cache, FIRST_POLL);
    assert!(!after_delete.iter().any(|c| c == "to be deleted"), "a deleted post was served from the cache");
}

#[test]
fn a_late_arrival_invalidates_window_polls() {
    let dir = TempDir::new("late");
    let mut store = open(&dir);
    let mut cache = ReqCache::new();
    store.insert(post_at(1_700_000_000, "on time")).expect("insert");
    // The client's later polls ask for [previous tick, now] by created_at.
    let window = r#"{"kinds":[40000],"since":1700000500,"until":1700000510,"limit":-1}"#;
    assert!(poll(&store, &mut cache, window).is_empty());
    assert!(poll(&store, &mut cache, window).is_empty());
    // An old event arrives now: the store notes its arrival and the same poll must show it.
    let late = post_at(1_699_999_000, "arrived late");
    let id = late.id;
    store.insert(late).expect("insert");
    store.note_arrival(&id, UnixTime(1_700_000_505));
    assert_eq!(poll(&store, &mut cache, window), vec!["arrived late".to_string()]);
}

#[test]
fn cached_answers_keep_each_requests_own_headers_and_encoding() {
    let dir = TempDir::new("headers");
    let mut store = open(&dir);
    let mut cache = ReqCache::new();
    for i in 0..20 {
        store.insert(post_at(1_700_000_000 + i, &format!("post {i}"))).expect("insert");
    }
    let gz = with_header(post("/req", FIRST_POLL), "Accept-Encoding", "gzip");
    let plain = post("/req", FIRST_POLL);
    let cors =
        with_header(with_header(post("/req", FIRST_POLL), "Accept-Encoding", "gzip"), "Origin", "http://a.example");
    let mut route_it = |req: &Request| reply(route(req, &store, &cfg(), &NodeInfo::default(), NOW, &mut cache));
    let (a, b, c, d) = (route_it(&gz), route_it(&plain), route_it(&cors), route_it(&plain));
    assert_eq!(a.header("Content-Encoding"), Some("gzip"));
    assert_eq!(b.header("Content-Encoding"), None, "identity asked, identity served");
    assert_eq!(gunzip(&a.body), b.body);
    assert_eq!(c.body, a.body, "same body from the cache");
    assert_eq!(c.header("Access-Control-Allow-Origin"), Some("http://a.example"), "the request's own CORS headers");
    assert_eq!(a.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(d, b);
    assert_eq!(cache.hits_misses(), (2, 2));
}

#[test]
fn lookups_that_miss_are_never_cached() {
    let dir = TempDir::new("miss");
    let store = open(&dir);
    let mut cache = ReqCache::new();
    let body = format!(r#"{{"authors":["{B_HEX}"],"kinds":[0]}}"#);
    for _ in 0..2 {
        let routed = route(&post("/req", &body), &store, &cfg(), &NodeInfo::default(), NOW, &mut cache);
        assert!(matches!(routed, Routed::ReplyAndFetch { .. }), "every miss asks the network");
    }
}

/// Golden: the real store's `/req` answers are rendered from its packed bytes; they must be
/// byte for byte what the client got when each event was decoded first and then encoded
/// (`encode_events` over the decoding queries), for a first poll and a window poll, with tags
/// and non-ASCII content.
#[test]
fn answers_rendered_from_packed_bytes_are_byte_exact() {
    let dir = TempDir::new("golden");
    let mut store = open(&dir);
    for i in 0..40u64 {
        let tags: Vec<Vec<String>> =
            (0..i % 4).map(|j| vec!["t".into(), format!("tag {j} é"), "x".repeat(j as usize * 90)]).collect();
        let tags: Vec<Vec<&str>> = tags.iter().map(|t| t.iter().map(String::as_str).collect()).collect();
        let tags: Vec<&[&str]> = tags.iter().map(Vec::as_slice).collect();
        let content = format!("post {i} ü {}", "w".repeat(i as usize * 7));
        let ev = signed(A_SECRET, 1_700_000_000 + i, 1, &tags, &content).verify(NOW).expect("verifies");
        store.insert(ev).expect("insert");
    }
    let cases: [(&str, Vec<crate::query::Found<'_>>); 2] = [
        (FIRST_POLL, store.last_n(300)),
        (
            r#"{"kinds":[40000],"since":1700000010,"until":1700000020}"#,
            store.window(UnixTime(1_700_000_010), UnixTime(1_700_000_020), crate::limits::MAX_REQ_EVENTS),
        ),
    ];
    for (body, decoded) in cases {
        let req = post("/req", body);
        let resp = reply(route(&req, &store, &cfg(), &NodeInfo::default(), NOW, &mut ReqCache::new()));
        assert_eq!(resp.status, 200);
        let before = crate::event::msgpack::encode_events(
            decoded.iter().map(AsRef::as_ref),
            crate::event::msgpack::SigMode::Keep,
        );
        assert!(!decoded.is_empty());
        assert_eq!(resp.body, before, "{body}");
    }
}
