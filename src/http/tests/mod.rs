//! Tests of the HTTP API through [`route`] only: no sockets, a fake in-memory store, the
//! original's signed fixtures (Appendix A) and the byte-exact answers of its §4.4.

use std::io::Read;

use super::*;
use crate::event::{Event, EventId, Sig};
use crate::keys::SecretKey;
use crate::query::StoreStats;
use crate::testkit::{fixture_json as fixture, FakeStore};

mod cache;
mod publish;
mod req;
mod routing;

/// A clock well after every fixture.
const NOW: UnixTime = UnixTime(1_800_000_000);

/// User A's secret key (Appendix A): the owner in these tests.
const A_SECRET: &str = "0000000000000000000000000000000000000000000000000000000000000003";
const A_HEX: &str = "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9";
const B_HEX: &str = "d70653b0973aa1ec9b9525c147952fdb161f52482f38915c6db671e529443f01";
const E1_ID: &str = "c9918d6c813a5530841c4193c0c377c96def5ddca08917c5c0f05c6f2f6ffe61";

/// Figures the fake store reports, to check `/status` copies them.
const FAKE_STATS: StoreStats = StoreStats {
    events: 3,
    bytes: 1234,
    budget_bytes: 33_554_432,
    evicted: 5,
    pinned: 2,
    segments: 1,
    disk_bytes: 4096,
};

/// A fake store holding `events`, answering [`FAKE_STATS`].
fn fake_store(events: impl IntoIterator<Item = Event>) -> FakeStore {
    FakeStore { stats: FAKE_STATS, ..FakeStore::with(events) }
}

fn event(name: &str) -> Event {
    crate::testkit::fixture(name)
}

fn pubkey(hex: &str) -> PublicKey {
    PublicKey::parse(hex).expect("test key")
}

fn cfg() -> HttpConfig {
    HttpConfig { owner: pubkey(A_HEX), writable: true, accept_any_author: false, version: "test-version" }
}

/// An event signed by `secret_hex` (aux_rand zero, like the fixtures).
fn signed(secret_hex: &str, created_at: u64, kind: u16, tags: &[&[&str]], content: &str) -> Event {
    let sk = SecretKey::parse(secret_hex).expect("test secret");
    let mut e = Event {
        id: EventId([0; 32]),
        pubkey: sk.public_key(),
        created_at: UnixTime(created_at),
        kind,
        tags: tags.iter().map(|t| t.iter().map(|s| s.to_string()).collect()).collect(),
        content: content.to_string(),
        sig: Sig([0; 64]),
    };
    e.id = e.compute_id();
    e.sig = Sig(sk.sign(&e.id.0, &[0; 32]));
    e
}

/// A `POST` with the headers the Flutter client sends, minus `Accept-Encoding`.
fn post(path: &str, body: &str) -> Request {
    Request {
        method: "POST".into(),
        path: path.into(),
        headers: vec![
            ("Host".into(), "192.168.1.10:20001".into()),
            ("content-type".into(), "application/json".into()),
            ("accept".into(), "application/octet-stream".into()),
            ("Access-Control-Request-Method".into(), "POST".into()),
            ("Access-Control-Request-Private-Network".into(), "true".into()),
        ],
        body: body.as_bytes().to_vec(),
        body_too_large: false,
    }
}

fn with_header(mut req: Request, name: &str, value: &str) -> Request {
    req.headers.push((name.into(), value.into()));
    req
}

fn route_with(req: &Request, store: &FakeStore, cfg: &HttpConfig) -> Routed {
    route(req, store, cfg, &NodeInfo::default(), NOW, &mut ReqCache::new())
}

/// The answer, or a panic if the request was accepted for storing.
fn reply(routed: Routed) -> Response {
    match routed {
        Routed::Reply(resp) | Routed::ReplyAndFetch { reply: resp, .. } => resp,
        Routed::Publish { event, .. } => panic!("expected a reply, got an accepted event {:?}", event.id),
    }
}

/// Routes and expects an error: returns (status, the `Error` message), checking the shape.
fn error_of(routed: Routed) -> (u16, String) {
    let resp = reply(routed);
    assert_eq!(resp.header("Content-Type"), Some(CONTENT_TYPE_JSON));
    let body = String::from_utf8(resp.body).expect("UTF-8 error body");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON error body");
    let msg = v["Error"].as_str().unwrap_or_else(|| panic!("no Error field in {body}")).to_string();
    assert_eq!(body, response::json_object("Error", &msg), "indented like the original");
    (resp.status, msg)
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("valid gzip");
    out
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}
