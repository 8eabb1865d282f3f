//! The NIP-01 relay wired into real `nostrp2p server` processes, driven by a hand-written
//! websocket client (tests/common/ws.rs) so that it can misbehave: publish with a durable
//! `OK`, `REQ`/`EOSE`/live from every source (another websocket, HTTP `/publish`, the
//! network), large answers paced within the outbound queue, NIP-11, and the idle ping that
//! frees the slot of a vanished client. Deadlines are failure guards, never speed claims.

mod common;

use common::cluster::{overlay_addr, publish, start_node, wait_until};
use common::ws::Ws;
use common::*;
use nostrp2p::event::json::to_client_json;
use nostrp2p::event::{Event, KIND_POST};
use nostrp2p::hex;
use nostrp2p::limits::{MAX_WS_CONNS, WS_OUTBOX_CAP};
use nostrp2p::time::UnixTime;
use serde_json::{json, Value};

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn signed_at(secret: &str, at: u64, kind: u16, tags: Vec<Vec<String>>, content: &str) -> Event {
    Event::new_signed(&key(secret), UnixTime(at), kind, tags, content.into(), &[3; 32])
}

fn signed(secret: &str, kind: u16, content: &str) -> Event {
    signed_at(secret, now(), kind, vec![], content)
}

fn id_hex(ev: &Event) -> String {
    hex::encode(&ev.id.0)
}

/// Opens a websocket and reads the relay's greeting (`["AUTH", challenge]`).
fn open(node: &Node) -> Ws {
    let mut ws = Ws::connect(node.http);
    let hello = ws.recv();
    assert_eq!(hello[0], "AUTH", "first message is the NIP-42 challenge: {hello}");
    ws
}

fn publish_ws(ws: &mut Ws, ev: &Event) -> Value {
    ws.send(&format!("[\"EVENT\",{}]", to_client_json(ev)));
    let ok = ws.recv();
    assert_eq!(ok[0], "OK", "{ok}");
    assert_eq!(ok[1], id_hex(ev));
    ok
}

#[test]
fn websocket_publish_req_eose_live_and_nip11_on_one_node() {
    let dir = TempDir::new("relay-one");
    let node = start_node(HEX_A, &dir, None);
    let mut ws = open(&node);

    // EVENT from the owner: OK true once durable; again: duplicate.
    let post = signed(SECRET_A, KIND_POST, "hello over the websocket");
    assert_eq!(publish_ws(&mut ws, &post)[2], true);
    let again = publish_ws(&mut ws, &post);
    assert_eq!(again[2], true);
    assert!(again[3].as_str().unwrap_or("").starts_with("duplicate:"), "{again}");
    // Visible to the REST client too (same store, same path as /publish).
    assert!(common::cluster::has(&node, &post));

    // Someone else's event: restricted. A bad signature: invalid.
    let other = signed(SECRET_B, KIND_POST, "not the owner");
    let no = publish_ws(&mut ws, &other);
    assert_eq!(no[2], false);
    assert!(no[3].as_str().unwrap_or("").starts_with("restricted:"), "{no}");
    let mut bad = serde_json::from_str::<Value>(&to_client_json(&signed(SECRET_A, KIND_POST, "x"))).expect("json");
    bad["content"] = json!("tampered");
    ws.send(&format!("[\"EVENT\",{bad}]"));
    let no = ws.recv();
    assert_eq!((no[0].as_str(), no[2].as_bool()), (Some("OK"), Some(false)), "{no}");
    assert!(no[3].as_str().unwrap_or("").starts_with("invalid:"), "{no}");

    // REQ: the stored post, EOSE; then live: a post from HTTP /publish and one from another
    // websocket arrive on the subscription.
    ws.send(&json!(["REQ", "tl", {"kinds": [1]}]).to_string());
    let got = ws.recv_until(|m| m[0] == "EOSE");
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0][2]["id"], id_hex(&post));
    let via_http = signed_at(SECRET_A, now() + 1, KIND_POST, vec![], "posted through REST");
    publish(&node, &via_http);
    let live = ws.recv();
    assert_eq!((live[0].as_str(), live[1].as_str()), (Some("EVENT"), Some("tl")), "{live}");
    assert_eq!(live[2]["id"], id_hex(&via_http));
    let mut other_client = open(&node);
    let via_ws = signed_at(SECRET_A, now() + 2, KIND_POST, vec![], "posted from another app");
    assert_eq!(publish_ws(&mut other_client, &via_ws)[2], true);
    let live = ws.recv();
    assert_eq!(live[2]["id"], id_hex(&via_ws), "{live}");

    // Garbage and unknown verbs: NOTICE, and the connection keeps working.
    ws.send("{not json");
    assert_eq!(ws.recv()[0], "NOTICE");
    ws.send(r#"["SHOUT","x"]"#);
    assert_eq!(ws.recv()[0], "NOTICE");

    // NIP-11 on the same port.
    let r = node.client().request("GET", "/", &[("Accept", "application/nostr+json")], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let doc: Value = serde_json::from_slice(&r.decoded_body()).expect("NIP-11 JSON");
    assert_eq!(doc["pubkey"], HEX_A);
    assert!(doc["supported_nips"].as_array().is_some_and(|n| n.contains(&json!(1)) && n.contains(&json!(42))));
}

#[test]
fn a_large_req_answer_is_paced_within_the_outbound_queue() {
    let dir = TempDir::new("relay-pace");
    let node = start_node(HEX_A, &dir, None);
    // More stored events than the queue holds: all at once would overrun it and close us.
    let n = WS_OUTBOX_CAP + 100;
    let t0 = now() - n as u64;
    let mut http = node.client();
    for i in 0..n {
        let ev = signed_at(SECRET_A, t0 + i as u64, KIND_POST, vec![], &format!("post {i}"));
        let r = http.post("/publish", to_client_json(&ev).as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let mut ws = open(&node);
    ws.send(&json!(["REQ", "all", {"kinds": [1], "limit": n}]).to_string());
    let got = ws.recv_until(|m| m[0] == "EOSE");
    assert_eq!(got.len(), n + 1, "every stored event, then EOSE");
    assert!(got[..n].iter().all(|m| m[0] == "EVENT"));
}

#[test]
fn a_post_on_node_a_appears_live_in_a_subscription_on_node_b() {
    let (da, db) = (TempDir::new("relay-live-a"), TempDir::new("relay-live-b"));
    let a = start_node(HEX_A, &da, None);
    let b = start_node(HEX_B, &db, Some(overlay_addr(&a)));
    wait_until("A and B connected", &[&a, &b], || common::cluster::peers(&a) >= 1 && common::cluster::peers(&b) >= 1);
    let mut sub = open(&b);
    sub.send(&json!(["REQ", "feed", {"authors": [HEX_A], "kinds": [1]}]).to_string());
    assert_eq!(sub.recv()[0], "EOSE");
    let mut pubws = open(&a);
    let post = signed(SECRET_A, KIND_POST, "from A, live on B");
    assert_eq!(publish_ws(&mut pubws, &post)[2], true);
    let live = sub.recv();
    assert_eq!((live[0].as_str(), live[1].as_str()), (Some("EVENT"), Some("feed")), "{live}");
    assert_eq!(live[2]["id"], id_hex(&post));
}

#[test]
fn a_silent_websocket_is_pinged_then_closed_and_a_live_one_stays() {
    let dir = TempDir::new("relay-ping");
    let mut opts = NodeOpts::new(HEX_A, dir.path());
    opts.env.push(("NOSTRP2P_TEST_WS_PING_MS".into(), "200".into()));
    let node = Node::start(opts);
    // A client that answers pings (recv does) sees several and stays open.
    let mut live = open(&node);
    let mut silent = open(&node);
    let mut pings = 0;
    while pings < 3 {
        match live.read_frame() {
            Some((9, p)) => {
                pings += 1;
                live.send_frame(10, &p);
            }
            Some((8, p)) => panic!("a client that answers pings was closed: {p:?}"),
            Some(_) => {}
            None => panic!("websocket ended"),
        }
    }
    // One that never answers gets a ping, then a close 1001, then the end.
    let mut frames = Vec::new();
    while let Some(f) = silent.read_frame() {
        frames.push(f.0);
        if f.0 == 8 {
            assert_eq!(f.1[..2], 1001u16.to_be_bytes(), "going away");
            break;
        }
    }
    assert_eq!(frames.first(), Some(&9), "pinged first: {frames:?}");
    assert_eq!(frames.last(), Some(&8), "then closed: {frames:?}");
    // The live one still works.
    live.send(&json!(["REQ", "x", {"kinds": [1]}]).to_string());
    assert_eq!(live.recv_until(|m| m[0] == "EOSE").last().map(|m| m[0].clone()), Some(json!("EOSE")));
}

/// The status line a websocket handshake gets (the 101 of an admitted one, or a refusal).
fn handshake_status(node: &Node) -> String {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::net::TcpStream::connect(node.http).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(60))).expect("timeout");
    let req = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    s.write_all(req.as_bytes()).expect("write handshake");
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).expect("status line");
    line
}

#[test]
fn every_websocket_the_front_admits_is_served_and_one_more_is_refused_503() {
    // Was: the front upgraded 192 websockets but the relay kept state for 128, so clients
    // 129..192 got a 101 and then an immediate close 1008 instead of a clear refusal.
    let dir = TempDir::new("relay-cap");
    let node = start_node(HEX_A, &dir, None);
    let mut all: Vec<Ws> = (0..MAX_WS_CONNS).map(|_| open(&node)).collect();
    let last = all.last_mut().expect("at least one");
    last.send(&json!(["REQ", "x", {"kinds": [1]}]).to_string());
    assert_eq!(last.recv()[0], "EOSE", "the last admitted websocket is served");
    assert!(handshake_status(&node).starts_with("HTTP/1.1 503"), "one more is refused");
    assert_eq!(node.client().get("/status").status, 200, "the owner's REST API still answers");
    drop(all.pop());
    wait_until("a closed websocket frees its slot", &[&node], || handshake_status(&node).starts_with("HTTP/1.1 101"));
}
