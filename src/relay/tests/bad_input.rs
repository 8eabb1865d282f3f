//! Hostile client messages and bounds: each gets the right NIP-01 answer, never a panic.

use super::*;
use crate::limits::{
    RELAY_MAX_CONN_FILTER_BYTES, RELAY_MAX_FILTERS, RELAY_MAX_FILTER_VALUES, RELAY_MAX_LIMIT, RELAY_MAX_MESSAGE_BYTES,
    RELAY_MAX_SUBS, RELAY_RATE_BURST, RELAY_RATE_PER_SEC,
};

fn answer(text: &str) -> Vec<String> {
    let store = FakeStore::default();
    let mut r = relay();
    send(&mut r, &store, text).replies
}

fn starts(text: &str, prefix: &str) {
    let got = answer(text);
    assert_eq!(got.len(), 1, "{text:.80}: {got:?}");
    assert!(got[0].starts_with(prefix), "{text:.80} answered {:.200}", got[0]);
}

#[test]
fn malformed_messages_get_a_notice() {
    for text in [
        "",
        "not json",
        "{\"EVENT\":1}",
        "[]",
        "[1,2]",
        "[null]",
        "\"EVENT\"",
        "[\"EVENT\"]",
        "[\"EVENT\",{},{}]",
        "[\"CLOSE\"]",
        "[\"CLOSE\",\"a\",\"b\"]",
        "[\"CLOSE\",7]",
        "[\"REQ\"]",
        "[\"REQ\",5,{}]",
        "[\"REQ\",\"\",{}]",
        "[\"AUTH\"]",
        "[\"COUNT\",\"s\",{}]",
        "[\"event\",{}]",
        "[\"EVENT\",{\"id\":\"zz\"}]",
        "[\"EVENT\",[1,2,3]]",
        "\u{feff}[\"CLOSE\",\"s\"]",
    ] {
        starts(text, "[\"NOTICE\",\"invalid: ");
    }
    starts(
        &format!("[\"REQ\",\"{}\",{{}}]", "s".repeat(65)),
        "[\"NOTICE\",\"invalid: REQ: a subscription id is 1 to 64",
    );
    // An unknown verb is echoed clipped and escaped, never raw.
    let got = answer(&format!("[\"{}\\n\"]", "X".repeat(5000)));
    assert!(got[0].len() < 200 && got[0].contains("unknown message type"), "{}", got[0]);
}

#[test]
fn an_oversized_message_is_refused_before_parsing() {
    let text = format!("[\"NOTICE\",\"{}\"]", "a".repeat(RELAY_MAX_MESSAGE_BYTES));
    starts(&text, "[\"NOTICE\",\"invalid: message of ");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for depth in [200, 100_000] {
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        starts(&text, "[\"NOTICE\",\"invalid: message is not JSON");
        let in_filter = format!("[\"REQ\",\"s\",{{\"x\":{}{}}}]", "[".repeat(depth), "]".repeat(depth));
        let got = answer(&in_filter);
        assert!(got[0].starts_with("[\"NOTICE\",\"invalid: message is not JSON"), "{:.100}", got[0]);
    }
}

#[test]
fn a_malformed_event_with_a_readable_id_gets_ok_false_invalid() {
    let ev = signed(&owner(), WALL.0, KIND_POST, &[], "x");
    let mut v: serde_json::Value = serde_json::from_str(&crate::event::json::to_client_json(&ev)).expect("JSON");
    for (field, bad) in [("sig", "zz"), ("pubkey", "12"), ("kind", "-1"), ("created_at", "1.5"), ("tags", "{}")] {
        let mut broken = v.clone();
        broken[field] = serde_json::from_str(&format!("\"{bad}\"")).expect("string");
        starts(&format!("[\"EVENT\",{broken}]"), &format!("[\"OK\",\"{}\",false,\"invalid: ", hexid(&ev)));
    }
    v["kind"] = serde_json::json!(70_000);
    starts(&format!("[\"EVENT\",{v}]"), &format!("[\"OK\",\"{}\",false,\"invalid: field \\\"kind\\\"", hexid(&ev)));
    v["kind"] = serde_json::json!(1);
    v["content"] = serde_json::json!(null);
    starts(&format!("[\"AUTH\",{v}]"), &format!("[\"OK\",\"{}\",false,\"invalid: ", hexid(&ev)));
}

#[test]
fn bad_filters_close_the_subscription_with_invalid() {
    let many: Vec<String> = (0..=RELAY_MAX_FILTER_VALUES).map(|i| format!("\"{i:064x}\"")).collect();
    let many = many.join(",");
    let too_many_filters = ["{}"; RELAY_MAX_FILTERS + 1].join(",");
    for f in [
        "[\"REQ\",\"s\"]".to_string(),
        format!("[\"REQ\",\"s\",{too_many_filters}]"),
        "[\"REQ\",\"s\",[]]".into(),
        "[\"REQ\",\"s\",{},5]".into(),
        "[\"REQ\",\"s\",{\"ids\":[\"abc\"]}]".into(),
        "[\"REQ\",\"s\",{\"authors\":\"00\"}]".into(),
        "[\"REQ\",\"s\",{\"authors\":[1]}]".into(),
        "[\"REQ\",\"s\",{\"kinds\":[65536]}]".into(),
        "[\"REQ\",\"s\",{\"kinds\":[-1]}]".into(),
        "[\"REQ\",\"s\",{\"kinds\":[1.5]}]".into(),
        "[\"REQ\",\"s\",{\"since\":-5}]".into(),
        "[\"REQ\",\"s\",{\"until\":\"now\"}]".into(),
        "[\"REQ\",\"s\",{\"limit\":-1}]".into(),
        "[\"REQ\",\"s\",{\"#t\":[1]}]".into(),
        format!("[\"REQ\",\"s\",{{\"#t\":[\"{}\"]}}]", "t".repeat(300)),
        format!("[\"REQ\",\"s\",{{\"ids\":[{many}]}}]"),
        format!("[\"REQ\",\"s\",{{\"#e\":[{many}]}}]"),
    ] {
        starts(&f, "[\"CLOSED\",\"s\",\"invalid: ");
    }
    // A huge limit is clamped, unknown fields ignored, multi-letter tags ignored.
    let store = FakeStore::default();
    let mut r = relay();
    let h = send(&mut r, &store, "[\"REQ\",\"s\",{\"limit\":18446744073709551615,\"search\":\"x\",\"#tt\":[1]}]");
    assert_eq!(h, Handled::default());
    let f = filter::Filter::parse(&serde_json::json!({"limit": 1u64 << 60})).expect("parses");
    assert_eq!(f.effective_limit(), RELAY_MAX_LIMIT);
}

#[test]
fn subscriptions_per_connection_are_bounded_and_a_replacement_does_not_count() {
    let store = FakeStore::default();
    let mut r = relay();
    for i in 0..RELAY_MAX_SUBS {
        assert_eq!(send(&mut r, &store, &format!("[\"REQ\",\"s{i}\",{{}}]")), Handled::default());
    }
    let h = send(&mut r, &store, "[\"REQ\",\"one-more\",{}]");
    assert!(h.replies[0].starts_with("[\"CLOSED\",\"one-more\",\"error: at most 20 open subscriptions"));
    assert_eq!(send(&mut r, &store, "[\"REQ\",\"s0\",{\"kinds\":[1]}]"), Handled::default(), "same id replaces");
    send(&mut r, &store, "[\"CLOSE\",\"s1\"]");
    assert_eq!(send(&mut r, &store, "[\"REQ\",\"one-more\",{}]"), Handled::default(), "a CLOSE frees a slot");
}

#[test]
fn filter_bytes_per_connection_are_bounded() {
    let store = FakeStore::default();
    let mut r = relay();
    // 1,000 authors (≈ 32 KiB) per subscription.
    let authors: Vec<String> = (0..1000).map(|i| format!("\"{i:064x}\"")).collect();
    let req = |sub: &str| format!("[\"REQ\",\"{sub}\",{{\"authors\":[{}]}}]", authors.join(","));
    let per_sub = filter::Filter::parse(
        &serde_json::from_str::<serde_json::Value>(&format!("{{\"authors\":[{}]}}", authors.join(","))).expect("JSON"),
    )
    .expect("filter")
    .cost();
    let fits = RELAY_MAX_CONN_FILTER_BYTES / per_sub;
    assert!(fits >= 1);
    for i in 0..fits {
        assert_eq!(send(&mut r, &store, &req(&format!("a{i}"))), Handled::default());
    }
    let h = send(&mut r, &store, &req("over"));
    assert!(h.replies[0].starts_with("[\"CLOSED\",\"over\",\"error: the open subscriptions' filters exceed"));
    assert_eq!(send(&mut r, &store, &req("a0")), Handled::default(), "replacing frees its own share first");
}

#[test]
fn the_message_rate_is_limited_per_connection_and_refills() {
    let store = FakeStore::default();
    let mut r = relay();
    r.open(ConnId(2), CHALLENGE, T0).expect("opens");
    let ev = signed(&owner(), WALL.0, KIND_POST, &[], "x");
    for _ in 0..RELAY_RATE_BURST {
        assert!(send(&mut r, &store, "[\"CLOSE\",\"x\"]").replies.is_empty());
    }
    assert_eq!(send(&mut r, &store, "[\"CLOSE\",\"x\"]").replies, vec![msg::notice("rate-limited: slow down")]);
    assert_eq!(send(&mut r, &store, &event_msg(&ev)).replies, vec![msg::ok(&ev.id, false, "rate-limited: slow down")]);
    assert_eq!(send(&mut r, &store, "[\"REQ\",\"q\",{}]").replies, vec![msg::closed("q", "rate-limited: slow down")]);
    assert_eq!(send(&mut r, &store, "garbage").replies.len(), 1, "garbage is answered (and costs a token)");
    let other = r.handle_message(ConnId(2), b"[\"CLOSE\",\"x\"]", &store, T0, WALL);
    assert!(other.replies.is_empty(), "another connection has its own bucket");
    let later = Instant(T0.0 + 1000 / u64::from(RELAY_RATE_PER_SEC));
    assert!(r.handle_message(C, b"[\"CLOSE\",\"x\"]", &store, later, WALL).replies.is_empty(), "refilled");
    // A clock that goes backwards refills nothing and does not panic.
    assert_eq!(r.handle_message(C, b"[\"CLOSE\",\"x\"]", &store, Instant(0), WALL).replies.len(), 1);
}

#[test]
fn unknown_connections_get_nothing() {
    let store = FakeStore::default();
    let mut r = relay();
    assert_eq!(r.handle_message(ConnId(99), b"[\"REQ\",\"s\",{}]", &store, T0, WALL), Handled::default());
    assert_eq!(r.poll_message(ConnId(99), &store), None);
}

#[test]
fn a_req_answers_at_most_the_backlog_bound() {
    let a = key(4);
    let store = FakeStore::with((0..(RELAY_MAX_LIMIT as u64 + 50)).map(|i| signed(&a, 100 + i, KIND_POST, &[], "x")));
    let mut r = relay();
    send(&mut r, &store, &format!("[\"REQ\",\"s\",{{\"limit\":{}}}]", RELAY_MAX_LIMIT * 5));
    let msgs = drain(&mut r, &store);
    assert_eq!(event_ids(&msgs).len(), RELAY_MAX_LIMIT);
    assert_eq!(msgs.last(), Some(&msg::eose("s")));
}

#[test]
fn a_closed_answer_ends_the_subscription_of_that_id() {
    let a = key(4);
    let store = FakeStore::default();
    let live = signed(&a, 100, KIND_POST, &[], "x");
    let o = owner().public_key().to_hex();
    for refused in [
        "[\"REQ\",\"s\",{\"kinds\":[-1]}]".to_string(),
        "[\"REQ\",\"s\",{\"kinds\":[4]}]".to_string(),
        format!("[\"REQ\",\"s\",{{\"#p\":[\"{o}\"]}}]"),
    ] {
        let mut r = relay();
        send(&mut r, &store, "[\"REQ\",\"s\",{}]");
        assert_eq!(r.handle_new_event(&live, &store, WALL).len(), 1);
        let h = send(&mut r, &store, &refused);
        assert!(h.replies[0].starts_with("[\"CLOSED\",\"s\","), "{:?}", h.replies);
        assert!(r.handle_new_event(&live, &store, WALL).is_empty(), "after CLOSED nothing more for s: {refused}");
    }
}
