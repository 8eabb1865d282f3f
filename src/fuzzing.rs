//! Fuzz entry points: one function per decoder that bytes from strangers (or a rotting disk)
//! reach, shared by the `cargo fuzz` targets in `fuzz/` and by `tests/fuzz_corpus.rs`, which
//! replays every committed corpus file in a plain `cargo test`.
//!
//! Each takes arbitrary bytes and must not panic (release builds abort on panic). Beyond that,
//! each checks an invariant with `assert!` (a failed one is a finding like a crash): what
//! decodes re-encodes and decodes to the same value, and the segment scanner accounts for
//! every byte exactly once. Exposed only with the `sim` feature (like the simulator), hidden
//! from the docs: not an API.

use crate::app::msg as app_msg;
use crate::event::json::{parse_event, to_client_json};
use crate::http::{route, HttpConfig, NodeInfo, Request, Routed};
use crate::keys::PublicKey;
use crate::store::scan::{scan, MAGIC};
use crate::testkit::{fixture, FakeStore};
use crate::time::UnixTime;
use crate::wire;

/// The clock the entry points run at (fixed: runs must be reproducible).
const NOW: UnixTime = UnixTime(1_800_000_000);

/// An overlay frame as read from a peer: `decode_frame` on the bytes. A decoded message
/// re-encodes, and that decodes to the same message.
pub fn frame(data: &[u8]) {
    let Ok((msg, used)) = wire::decode_frame(data) else { return };
    assert!(used <= data.len());
    let again = wire::encode_frame(&msg).expect("a decoded message re-encodes");
    let (back, used_again) = wire::decode_frame(&again).expect("a re-encoded message decodes");
    assert_eq!(back, msg);
    assert_eq!(used_again, again.len());
}

/// A `/publish` body: the event JSON parser, then verification (which must only reject). A
/// parsed event printed as the client's JSON parses back to the same event.
pub fn event_json(data: &[u8]) {
    let Ok(parsed) = parse_event(data) else { return };
    let printed = to_client_json(&parsed.event);
    let back = parse_event(printed.as_bytes()).expect("printed JSON parses");
    assert_eq!(back.event, parsed.event);
    let _ = parsed.event.verify(NOW);
}

/// A `/req` body through the whole route, against a store of the fixtures.
pub fn req(data: &[u8]) {
    let store =
        FakeStore { generation: Some(1), ..FakeStore::with(["E1", "E2", "E4", "E8", "E12", "E15"].map(fixture)) };
    let cfg = HttpConfig { owner: PublicKey([0; 32]), writable: true, accept_any_author: false, version: "fuzz" };
    let request = Request {
        method: "POST".into(),
        path: "/req".into(),
        headers: vec![("Accept-Encoding".into(), "gzip".into())],
        body: data.to_vec(),
        body_too_large: false,
    };
    let mut cache = crate::http::ReqCache::new();
    let first = route(&request, &store, &cfg, &NodeInfo::default(), NOW, &mut cache);
    // A second identical request may come from the cache: it must be the same answer.
    let again = route(&request, &store, &cfg, &NodeInfo::default(), NOW, &mut cache);
    if let (Routed::Reply(a), Routed::Reply(b)) = (&first, &again) {
        assert_eq!(a, b, "a cached /req answer differs from the fresh one");
    }
}

/// A segment file as recovery reads it: every byte after the header is in exactly one good
/// record or one damaged range, in order.
pub fn segment(data: &[u8]) {
    let mut spans: Vec<(u64, u64, bool)> = Vec::new();
    let damage = scan(data, |off, len, _| spans.push((off, off + u64::from(len), true)));
    spans.extend(damage.iter().map(|d| (d.start, d.end, false)));
    spans.sort_unstable();
    let len = data.len() as u64;
    let mut at = if data.len() >= MAGIC.len() && data[..MAGIC.len()] == MAGIC {
        MAGIC.len() as u64
    } else if data.len() < MAGIC.len() && MAGIC.starts_with(data) {
        len // a prefix of the header: an empty segment
    } else {
        0
    };
    for (start, end, _) in &spans {
        assert_eq!(*start, at, "a gap or an overlap at {at}: {spans:?}");
        assert!(end > start && *end <= len);
        at = *end;
    }
    assert_eq!(at, len, "bytes after {at} unaccounted: {spans:?}");
}

/// An application message (the payload of a unicast): decode, and what decodes round-trips.
pub fn app_message(data: &[u8]) {
    let Ok(msg) = app_msg::decode(data) else { return };
    let again = app_msg::encode(&msg);
    assert_eq!(app_msg::decode(&again).expect("a re-encoded message decodes"), msg);
}

/// The entry point of a target by name (for the corpus replay), if there is one.
pub fn by_name(target: &str) -> Option<fn(&[u8])> {
    Some(match target {
        "frame" => frame,
        "event_json" => event_json,
        "req" => req,
        "segment" => segment,
        "app_msg" => app_message,
        _ => return None,
    })
}
