//! `POST /req`: every case of the original spec's §4.3 table, the lookups, gzip, and the
//! byte-exact answers of §4.4 / Appendix A.

use super::*;
use crate::event::msgpack::{decode_events, encode_events, SigMode};

/// Copies of E1 at times 1000, 1010, …: the timeline cases only look at `created_at`.
fn timeline_store(n: u64) -> FakeStore {
    let e1 = event("E1");
    fake_store((0..n).map(|i| {
        let mut e = e1.clone();
        e.created_at = UnixTime(1000 + 10 * i);
        e.id.0[..8].copy_from_slice(&i.to_be_bytes());
        e
    }))
}

/// The `/req` answer (no gzip requested): its status and decoded events.
fn ask(store: &FakeStore, body: &str) -> Vec<(u64, bool)> {
    let resp = reply(route_with(&post("/req", body), store, &cfg()));
    assert_eq!(resp.status, 200, "{body}: {}", String::from_utf8_lossy(&resp.body));
    assert_eq!(resp.header("Content-Type"), Some("application/octet-stream"));
    assert_eq!(resp.header("Content-Encoding"), None);
    let events = decode_events(&resp.body).expect("client layout");
    events.iter().map(|w| (w.event.created_at.0, w.has_sig)).collect()
}

fn times(answer: &[(u64, bool)]) -> Vec<u64> {
    answer.iter().map(|(t, _)| *t).collect()
}

fn range(from: u64, to: u64) -> Vec<u64> {
    (from..=to).step_by(10).collect()
}

#[test]
fn first_poll_returns_the_last_n_ascending_with_sig() {
    let store = timeline_store(400);
    let answer = ask(&store, r#"{"kinds":[40000],"since":-1,"until":-1,"limit":300}"#);
    assert_eq!(times(&answer), range(2000, 4990));
    assert!(answer.iter().all(|(_, sig)| *sig), "timeline answers keep Sig");
}

#[test]
fn later_polls_return_the_inclusive_window() {
    let store = timeline_store(100);
    assert_eq!(times(&ask(&store, r#"{"kinds":[40000],"since":1100,"until":1200,"limit":-1}"#)), range(1100, 1200));
    assert_eq!(times(&ask(&store, r#"{"kinds":[40000],"since":1101,"until":1109,"limit":-1}"#)), Vec::<u64>::new());
}

#[test]
fn since_alone_is_open_ended() {
    let store = timeline_store(100);
    assert_eq!(times(&ask(&store, r#"{"kinds":[40000],"since":1900}"#)), range(1900, 1990));
}

#[test]
fn no_period_no_limit_is_empty() {
    let store = timeline_store(100);
    assert!(ask(&store, r#"{"kinds":[40000]}"#).is_empty());
    assert!(ask(&store, r#"{"kinds":[40000],"until":1500,"limit":-1}"#).is_empty());
}

#[test]
fn no_period_truncates_to_the_last_50() {
    let store = timeline_store(200);
    assert_eq!(times(&ask(&store, r#"{"kinds":[40000],"limit":100}"#)), range(2500, 2990));
    assert_eq!(times(&ask(&store, r#"{"kinds":[40000],"limit":20}"#)), range(2800, 2990));
}

#[test]
fn a_limit_ignores_the_window() {
    let store = timeline_store(100);
    assert_eq!(times(&ask(&store, r#"{"kinds":[40000],"since":1000,"until":1050,"limit":10}"#)), range(1900, 1990));
}

#[test]
fn since_after_until_is_empty() {
    let store = timeline_store(100);
    assert!(ask(&store, r#"{"kinds":[40000],"since":1500,"until":1200,"limit":-1}"#).is_empty());
}

#[test]
fn every_answer_is_capped() {
    let store = timeline_store(crate::limits::MAX_REQ_EVENTS as u64 + 5);
    let last = 1000 + 10 * (crate::limits::MAX_REQ_EVENTS as u64 + 4);
    let all = ask(&store, r#"{"kinds":[40000],"since":1,"limit":-1}"#);
    assert_eq!(all.len(), crate::limits::MAX_REQ_EVENTS);
    assert_eq!(all.last().map(|(t, _)| *t), Some(last), "the newest are kept");
    assert_eq!(ask(&store, r#"{"kinds":[40000],"since":1,"limit":1000000}"#).len(), crate::limits::MAX_REQ_EVENTS);
}

#[test]
fn timeline_wins_and_mixes_all_kinds() {
    let store = fake_store(["E1", "E2", "E3", "E4", "E8", "E14"].map(event));
    let resp = reply(route_with(&post("/req", r#"{"kinds":[1,0,3,40000],"since":1,"limit":-1}"#), &store, &cfg()));
    let kinds: Vec<u16> = decode_events(&resp.body).expect("layout").iter().map(|w| w.event.kind).collect();
    assert_eq!(kinds, vec![1, 1, 7, 0, 3, 0]);
}

#[test]
fn e1_answers_are_byte_exact() {
    let e1_nil = "81a4457674739187a24964c420c9918d6c813a5530841c4193c0c377c96def5ddca08917c5c0f05c6f2f6ffe61a65075626b6579c420f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9aa437265617465645f6174cb41d995d5d0000000a44b696e64cd0001a45461677390a7436f6e74656e74ae68656c6c6f206e6f737472703270a3536967c0";
    let sig = "c440e3e4716de4101dfe3dd5003947b010f8ce6822d2ad96edb70ff99a7f8b03dd80bd7d2cd442bb30103cee7aa379167cb6de60e9bbdfe327c1cb46fd016d80b024";
    let store = fake_store([event("E1")]);
    let lookup = format!(r#"{{"ids":["{E1_ID}"],"authors":["{A_HEX}"],"kinds":[1]}}"#);
    assert_eq!(reply(route_with(&post("/req", &lookup), &store, &cfg())).body, unhex(e1_nil));
    let timeline =
        reply(route_with(&post("/req", r#"{"kinds":[40000],"since":-1,"until":-1,"limit":300}"#), &store, &cfg()));
    assert_eq!(timeline.body, unhex(&format!("{}{sig}", &e1_nil[..e1_nil.len() - 2])));
}

#[test]
fn gzip_only_when_the_request_accepts_it() {
    let store = fake_store(["E1", "E2", "E12"].map(event));
    let body = r#"{"kinds":[40000],"since":-1,"until":-1,"limit":300}"#;
    let expected = encode_events(store.events.iter(), SigMode::Keep);
    let gz = reply(route_with(&with_header(post("/req", body), "Accept-Encoding", "gzip, deflate"), &store, &cfg()));
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("Content-Encoding"), Some("gzip"));
    assert_eq!(gz.header("Content-Type"), Some("application/octet-stream"));
    assert_eq!(gz.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(gunzip(&gz.body), expected);
    let raw = reply(route_with(&post("/req", body), &store, &cfg()));
    assert_eq!(raw.header("Content-Encoding"), None, "fix of bug 8.1 #7");
    assert_eq!(raw.body, expected);
    let refused = reply(route_with(&with_header(post("/req", body), "Accept-Encoding", "gzip;q=0"), &store, &cfg()));
    assert_eq!(refused.body, expected);
}

#[test]
fn profile_lookup_returns_the_latest_without_sig() {
    let e4_nil = "81a4457674739187a24964c420f1d6a75516f49ed66e5819bdc6e2e3af33dbe826b2a53372c60b60a6524f8890a65075626b6579c420f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9aa437265617465645f6174cb41d995d61b000000a44b696e64cd0000a45461677390a7436f6e74656e74d9437b226e616d65223a22616c696365222c2261626f7574223a226869222c2270696374757265223a2268747470733a2f2f6578616d706c652e636f6d2f612e706e67227da3536967c0";
    let older = signed(A_SECRET, 1_700_000_000, 0, &[], "{\"name\":\"old\"}");
    let store = fake_store([event("E1"), older, event("E4"), event("E14")]);
    let resp = reply(route_with(&post("/req", &format!(r#"{{"authors":["{A_HEX}"],"kinds":[0]}}"#)), &store, &cfg()));
    assert_eq!(resp.body, unhex(e4_nil));
    let bob = decode_events(
        &reply(route_with(&post("/req", &format!(r#"{{"authors":["{B_HEX}"],"kinds":[0]}}"#)), &store, &cfg())).body,
    )
    .expect("layout");
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].event.id, event("E14").id);
    assert!(!bob[0].has_sig);
}

#[test]
fn follow_list_lookup_returns_the_latest_of_two() {
    let newer = signed(A_SECRET, 1_717_009_999, 3, &[&["p", B_HEX, "", ""], &["p", A_HEX, "", ""]], "");
    let store = fake_store([event("E8"), newer.clone(), event("E4")]);
    let body = format!(r#"{{"authors":["{A_HEX}"],"kinds":[3]}}"#);
    let resp = reply(route_with(&post("/req", &body), &store, &cfg()));
    assert_eq!(resp.body, encode_events([&newer].into_iter(), SigMode::Nil));
    let without_newer = fake_store([event("E8")]);
    let resp = reply(route_with(&post("/req", &body), &without_newer, &cfg()));
    assert_eq!(resp.body, encode_events([&event("E8")].into_iter(), SigMode::Nil));
    let none = reply(route_with(&post("/req", &format!(r#"{{"authors":["{B_HEX}"],"kinds":[3]}}"#)), &store, &cfg()));
    assert_eq!(none.body, unhex("81a44576747390"));
}

#[test]
fn post_lookup_is_by_exact_id_and_author() {
    let store = fake_store(["E1", "E2", "E4"].map(event));
    let e2_id = crate::hex::encode(&event("E2").id.0);
    let found = reply(route_with(
        &post("/req", &format!(r#"{{"ids":["{e2_id}"],"authors":["{B_HEX}"],"kinds":[1]}}"#)),
        &store,
        &cfg(),
    ));
    assert_eq!(found.body, encode_events([&event("E2")].into_iter(), SigMode::Nil));
    let wrong_author = format!(r#"{{"ids":["{e2_id}"],"authors":["{A_HEX}"],"kinds":[1]}}"#);
    assert_eq!(reply(route_with(&post("/req", &wrong_author), &store, &cfg())).body, unhex("81a44576747390"));
    let unknown = format!(r#"{{"ids":["{}"],"authors":["{A_HEX}"],"kinds":[1]}}"#, "00".repeat(32));
    assert_eq!(reply(route_with(&post("/req", &unknown), &store, &cfg())).body, unhex("81a44576747390"));
}

#[test]
fn lookup_errors_are_400() {
    let store = fake_store([event("E1")]);
    let ask_err = |body: &str| error_of(route_with(&post("/req", body), &store, &cfg()));
    let needed = (400, "Ids and Authors are needed".to_string());
    assert_eq!(ask_err(r#"{"kinds":[1]}"#), needed);
    assert_eq!(ask_err(&format!(r#"{{"kinds":[1],"ids":["{E1_ID}"]}}"#)), needed);
    assert_eq!(ask_err(&format!(r#"{{"kinds":[1],"authors":["{A_HEX}"],"ids":[]}}"#)), needed);
    assert_eq!(
        ask_err(&format!(r#"{{"kinds":[1],"authors":["{A_HEX}"],"ids":["xyz"]}}"#)),
        (400, "ids[0]: expected 64 hex characters, found 3".into())
    );
    assert_eq!(ask_err(r#"{"kinds":[0]}"#), (400, "Authors are needed".into()));
    assert_eq!(ask_err(r#"{"kinds":[3],"authors":[]}"#), (400, "Authors are needed".into()));
    assert_eq!(
        ask_err(r#"{"kinds":[0],"authors":["npub"]}"#),
        (400, "authors[0]: expected 64 hex characters, found 4".into())
    );
    assert_eq!(ask_err(""), (400, "JSON payload is empty".into()));
    let (status, msg) = ask_err("{\"kinds\":[40000]");
    assert_eq!(status, 400);
    assert!(msg.starts_with("invalid JSON"), "{msg}");
}

#[test]
fn no_or_other_kinds_answer_empty() {
    let store = fake_store(["E1", "E4"].map(event));
    for body in ["{}", r#"{"kinds":[]}"#, r#"{"kinds":[7,6]}"#, r#"{"kinds":"40000"}"#, "[40000]", "null"] {
        let resp = reply(route_with(&post("/req", body), &store, &cfg()));
        assert_eq!((resp.status, resp.body), (200, unhex("81a44576747390")), "{body}");
    }
}

#[test]
fn wrong_types_are_swallowed_like_the_original() {
    let store = timeline_store(10);
    // `limit` a string counts as 0 → -1 → window; `until` a bool counts as 0 → +∞.
    assert_eq!(times(&ask(&store, r#"{"kinds":[40000],"since":1050,"until":true,"limit":"x"}"#)), range(1050, 1090));
}

#[test]
fn big_answers_keep_the_newest_events_that_fit_the_byte_cap() {
    let content = "x".repeat(100 * 1024);
    let mut store = timeline_store(100);
    for e in &mut store.events {
        e.content = content.clone();
    }
    let answer = ask(&store, r#"{"kinds":[40000],"since":-1,"until":-1,"limit":300}"#);
    let fits = crate::limits::MAX_REQ_ANSWER_BYTES / (content.len() + 200);
    assert_eq!(answer.len(), fits);
    assert_eq!(times(&answer), range(1000 + 10 * (100 - fits as u64), 1990));
}

#[test]
fn late_arrivals_come_after_the_window_and_only_once() {
    // Events at 1000..1990; #5 (created 1050) and #95 (created 1950) arrived late, at 3000.
    let mut store = timeline_store(100);
    store.late = vec![(UnixTime(3000), 5), (UnixTime(3000), 95)];
    // A later poll [2995, 3005]: nothing was created then, but two events arrived.
    let answer = ask(&store, r#"{"kinds":[40000],"since":2995,"until":3005,"limit":-1}"#);
    assert_eq!(times(&answer), vec![1050, 1950]);
    // A window that already holds #95 by created_at answers it once, late #5 after it.
    let answer = ask(&store, r#"{"kinds":[40000],"since":1940,"until":3005,"limit":-1}"#);
    assert_eq!(times(&answer), vec![1940, 1950, 1960, 1970, 1980, 1990, 1050]);
    // A phone clock running ahead: the arrival window starts LATE_WINDOW_SLACK early.
    let answer = ask(&store, r#"{"kinds":[40000],"since":3030,"until":3040,"limit":-1}"#);
    assert_eq!(times(&answer), vec![1050, 1950]);
    let answer = ask(&store, r#"{"kinds":[40000],"since":3061,"until":3070,"limit":-1}"#);
    assert!(answer.is_empty());
    // Last-N polls are by created_at only.
    let answer = ask(&store, r#"{"kinds":[40000],"since":-1,"until":-1,"limit":2}"#);
    assert_eq!(times(&answer), vec![1980, 1990]);
}

#[test]
fn lookups_that_find_nothing_ask_the_network_and_hits_do_not() {
    let a = event("E1").pubkey;
    let store = fake_store([event("E4")]);
    let miss = |body: &str| match route_with(&post("/req", body), &store, &cfg()) {
        Routed::ReplyAndFetch { reply, miss } => {
            assert_eq!(reply.status, 200);
            Some(miss)
        }
        Routed::Reply(_) => None,
        Routed::Publish { .. } => panic!("a /req is never a publish"),
    };
    let b = PublicKey::parse("d70653b0973aa1ec9b9525c147952fdb161f52482f38915c6db671e529443f01").expect("B");
    assert_eq!(miss(&format!(r#"{{"authors":["{}"],"kinds":[0]}}"#, a.to_hex())), None);
    assert_eq!(miss(&format!(r#"{{"authors":["{}"],"kinds":[0]}}"#, b.to_hex())), Some(Miss::Profile(b)));
    assert_eq!(miss(&format!(r#"{{"authors":["{}"],"kinds":[3]}}"#, a.to_hex())), Some(Miss::FollowList(a)));
    let id = event("E1").id;
    let body = format!(r#"{{"ids":["{}"],"authors":["{}"],"kinds":[1]}}"#, crate::hex::encode(&id.0), a.to_hex());
    assert_eq!(miss(&body), Some(Miss::Post { id, author: a }));
    assert_eq!(miss(r#"{"kinds":[40000],"limit":5}"#), None);
}

/// Hostile: a packed record damaged in memory (truncated, bad UTF-8, absurd counts) between
/// good ones is left out of the answer, never a panic and never a broken array: the answer
/// still decodes, with the others, and equals what decoding the good ones gives.
#[test]
fn a_damaged_packed_record_is_left_out_of_the_answer() {
    use crate::query::AnswerEvent;
    let good: Vec<crate::event::Event> = (0..3u64)
        .map(|i| {
            let mut e = event("E1");
            e.created_at = UnixTime(1000 + i);
            e
        })
        .collect();
    let packed: Vec<Box<[u8]>> = good.iter().map(crate::store::compact::encode).collect();
    let huge_count = [[0u8; 98].as_slice(), &[0xff, 0xff, 0xff, 0xff, 0x0f]].concat();
    let bad_utf8 = [[0u8; 98].as_slice(), &[0, 0xc3]].concat();
    let damaged: [&[u8]; 3] = [&packed[0][..50], &huge_count, &bad_utf8];
    for bad in damaged {
        let events = vec![
            AnswerEvent::Packed { id: good[0].id, created_at: good[0].created_at, bytes: &packed[0] },
            AnswerEvent::Packed { id: good[1].id, created_at: good[1].created_at, bytes: bad },
            AnswerEvent::Packed { id: good[2].id, created_at: good[2].created_at, bytes: &packed[2] },
        ];
        let out = super::super::req::render(&events, SigMode::Keep);
        let decoded = decode_events(&out).expect("still the client layout");
        assert_eq!(decoded.len(), 2);
        assert_eq!(out, encode_events([&good[0], &good[2]].into_iter(), SigMode::Keep));
    }
}
