//! Relay tests: golden bytes of every relay→client message, every bad client message, and
//! the per-connection state machine (publish policy, REQ/EOSE/live, privacy, NIP-42, bounds).

use super::*;
use crate::event::{Event, KIND_POST, KIND_REACTION};
use crate::keys::SecretKey;
use crate::testkit::FakeStore;

mod bad_input;
mod store;

pub(super) const WALL: UnixTime = UnixTime(1_800_000_000);
pub(super) const T0: Instant = Instant(1_000_000);
pub(super) const C: ConnId = ConnId(1);
pub(super) const CHALLENGE: [u8; 16] = [0xab; 16];

pub(super) fn key(n: u32) -> SecretKey {
    let mut bytes = [0u8; 32];
    bytes[28..].copy_from_slice(&n.to_be_bytes());
    SecretKey::from_bytes(bytes).expect("small non-zero scalars are valid keys")
}

pub(super) fn signed(k: &SecretKey, at: u64, kind: u16, tags: &[&[&str]], content: &str) -> Event {
    let tags = tags.iter().map(|t| t.iter().map(|s| s.to_string()).collect()).collect();
    Event::new_signed(k, UnixTime(at), kind, tags, content.to_string(), &[7; 32])
}

pub(super) fn owner() -> SecretKey {
    key(1)
}

pub(super) fn relay_with(cfg: RelayConfig) -> Relay {
    let mut r = Relay::new(cfg);
    r.open(C, CHALLENGE, T0).expect("first connection opens");
    r
}

pub(super) fn relay() -> Relay {
    relay_with(RelayConfig { owner: owner().public_key(), writable: true, accept_any_author: false })
}

pub(super) fn send(r: &mut Relay, store: &dyn EventQuery, text: &str) -> Handled {
    r.handle_message(C, text.as_bytes(), store, T0, WALL)
}

pub(super) fn event_msg(ev: &Event) -> String {
    format!("[\"EVENT\",{}]", crate::event::json::to_client_json(ev))
}

/// Every pending message of connection `C`.
pub(super) fn drain(r: &mut Relay, store: &dyn EventQuery) -> Vec<String> {
    std::iter::from_fn(|| r.poll_message(C, store)).collect()
}

/// The ids of the `EVENT` messages, in order.
pub(super) fn event_ids(msgs: &[String]) -> Vec<String> {
    msgs.iter()
        .filter_map(|m| {
            let v: serde_json::Value = serde_json::from_str(m).ok()?;
            (v[0] == "EVENT").then(|| v[2]["id"].as_str().map(str::to_string)).flatten()
        })
        .collect()
}

pub(super) fn hexid(ev: &Event) -> String {
    crate::hex::encode(&ev.id.0)
}

pub(super) fn auth_event(k: &SecretKey, at: u64, challenge: &str, relay: &str) -> Event {
    signed(k, at, kinds::KIND_AUTH, &[&["relay", relay], &["challenge", challenge]], "")
}

pub(super) fn login(r: &mut Relay, store: &dyn EventQuery, k: &SecretKey) {
    let ev = auth_event(k, WALL.0, &crate::hex::encode(&CHALLENGE), "ws://100.64.0.1:20001");
    let h = send(r, store, &format!("[\"AUTH\",{}]", crate::event::json::to_client_json(&ev)));
    assert_eq!(h.replies, vec![msg::ok(&ev.id, true, "")]);
}

#[test]
fn golden_relay_messages() {
    let id = EventId([0x11; 32]);
    let idh = "1111111111111111111111111111111111111111111111111111111111111111";
    assert_eq!(msg::ok(&id, true, ""), format!("[\"OK\",\"{idh}\",true,\"\"]"));
    assert_eq!(msg::ok(&id, false, "invalid: \"q\"\n"), format!("[\"OK\",\"{idh}\",false,\"invalid: \\\"q\\\"\\n\"]"));
    assert_eq!(msg::eose("s1"), "[\"EOSE\",\"s1\"]");
    assert_eq!(msg::closed("s\u{1}é", "error: x"), "[\"CLOSED\",\"s\\u0001é\",\"error: x\"]");
    assert_eq!(msg::notice("invalid: bad"), "[\"NOTICE\",\"invalid: bad\"]");
    assert_eq!(msg::auth("abc"), "[\"AUTH\",\"abc\"]");
    let ev = crate::testkit::fixture("E1");
    let expected = format!("[\"EVENT\",\"tl\",{}]", crate::testkit::fixture_json("E1").trim());
    assert_eq!(msg::event("tl", &ev), expected, "the event inside is byte-exact client JSON");
}

#[test]
fn open_sends_the_challenge_and_connections_are_bounded() {
    let mut r = Relay::new(RelayConfig { owner: owner().public_key(), writable: true, accept_any_author: false });
    assert_eq!(r.open(C, CHALLENGE, T0), Ok(msg::auth(&"ab".repeat(16))));
    assert_eq!(r.open(C, CHALLENGE, T0), Err(OpenError::InUse));
    for n in 2..=crate::limits::RELAY_MAX_CONNS as u64 {
        r.open(ConnId(n), CHALLENGE, T0).expect("below the cap");
    }
    assert_eq!(r.open(ConnId(10_000), CHALLENGE, T0), Err(OpenError::Full));
    r.close(ConnId(2));
    assert!(r.open(ConnId(10_000), CHALLENGE, T0).is_ok(), "a closed connection frees its slot");
}

#[test]
fn publish_policy_answers_with_the_nip01_prefixes() {
    let store = FakeStore::default();
    let mut r = relay();
    let own = signed(&owner(), WALL.0, KIND_POST, &[], "hi");
    let h = send(&mut r, &store, &event_msg(&own));
    assert!(h.replies.is_empty(), "the OK waits for the store");
    assert_eq!(h.accepted, Some(Accepted::Store(own.clone().verify(WALL).expect("valid"))));

    let mut forged = own.clone();
    forged.content = "changed".into();
    let h = send(&mut r, &store, &event_msg(&forged));
    assert!(h.replies[0].starts_with(&format!("[\"OK\",\"{}\",false,\"invalid: id does not match", hexid(&own))));
    assert_eq!(h.accepted, None);

    let mut bad_sig = own.clone();
    bad_sig.sig.0[5] ^= 1;
    assert!(
        send(&mut r, &store, &event_msg(&bad_sig)).replies[0].contains("false,\"invalid: signature does not verify")
    );

    let theirs = signed(&key(2), WALL.0, KIND_POST, &[], "spam");
    let h = send(&mut r, &store, &event_msg(&theirs));
    assert_eq!(h.replies, vec![msg::ok(&theirs.id, false, "restricted: only this node's owner may publish here")]);

    let future = signed(&owner(), WALL.0 + 3600, KIND_POST, &[], "later");
    assert!(send(&mut r, &store, &event_msg(&future)).replies[0].contains("false,\"invalid: created_at"));

    let expired = signed(&owner(), WALL.0 - 10, KIND_POST, &[&["expiration", &(WALL.0 - 1).to_string()]], "x");
    assert_eq!(
        send(&mut r, &store, &event_msg(&expired)).replies,
        vec![msg::ok(&expired.id, false, "invalid: this event has expired (NIP-40)")]
    );
    let auth_as_event = auth_event(&owner(), WALL.0, "c", "ws://x");
    assert!(send(&mut r, &store, &event_msg(&auth_as_event)).replies[0].contains("false,\"invalid: an AUTH event"));

    let stored = FakeStore::with([own.clone()]);
    assert_eq!(
        send(&mut r, &stored, &event_msg(&own)).replies,
        vec![msg::ok(&own.id, true, "duplicate: already have this event")]
    );

    let eph = signed(&owner(), WALL.0, 20_001, &[], "typing");
    let h = send(&mut r, &store, &event_msg(&eph));
    assert_eq!(h.replies, vec![msg::ok(&eph.id, true, "")], "ephemeral events get their OK at once");
    assert!(matches!(h.accepted, Some(Accepted::Ephemeral(_))));

    let mut any = relay_with(RelayConfig { owner: owner().public_key(), writable: true, accept_any_author: true });
    assert!(matches!(send(&mut any, &store, &event_msg(&theirs)).accepted, Some(Accepted::Store(_))));
    let mut ro = relay_with(RelayConfig { owner: owner().public_key(), writable: false, accept_any_author: false });
    assert_eq!(
        send(&mut ro, &store, &event_msg(&own)).replies,
        vec![msg::ok(&own.id, false, "restricted: this node is read-only")]
    );
}

#[test]
fn protected_events_need_auth_as_their_author() {
    let store = FakeStore::default();
    let mut r = relay_with(RelayConfig { owner: owner().public_key(), writable: true, accept_any_author: true });
    let prot = signed(&owner(), WALL.0, KIND_POST, &[&["-"]], "only here");
    assert!(
        send(&mut r, &store, &event_msg(&prot)).replies[0].contains("false,\"auth-required: this event is protected")
    );
    login(&mut r, &store, &key(3));
    assert!(send(&mut r, &store, &event_msg(&prot)).replies[0].contains("false,\"restricted: this event is protected"));
    login(&mut r, &store, &owner());
    assert!(matches!(send(&mut r, &store, &event_msg(&prot)).accepted, Some(Accepted::Store(_))));
    assert!(!kinds::may_leave_node(&prot, WALL), "a protected event stays on its author's node");
}

#[test]
fn every_event_gets_exactly_one_ok() {
    let store = FakeStore::default();
    let mut r = relay();
    let cases = [
        signed(&owner(), WALL.0, KIND_POST, &[], "a"),
        signed(&owner(), WALL.0, 20_000, &[], "eph"),
        signed(&key(2), WALL.0, KIND_POST, &[], "other"),
        signed(&owner(), WALL.0, 30_023, &[&["d", "x"]], "article"),
        signed(&owner(), WALL.0, 5, &[&["e", &"00".repeat(32)]], ""),
    ];
    for ev in cases {
        let h = send(&mut r, &store, &event_msg(&ev));
        let oks = h.replies.iter().filter(|m| m.starts_with("[\"OK\"")).count();
        let later = usize::from(matches!(h.accepted, Some(Accepted::Store(_))));
        assert_eq!(oks + later, 1, "kind {}: {:?}", ev.kind, h.replies);
    }
    let id = EventId([1; 32]);
    for outcome in [
        Ok(Inserted::New { evicted: 2 }),
        Ok(Inserted::Duplicate),
        Ok(Inserted::Dropped),
        Ok(Inserted::Refused(Refusal::Deleted)),
        Ok(Inserted::Refused(Refusal::Superseded)),
        Err(StoreError::Poisoned),
    ] {
        let ok = stored_ok(&id, &outcome);
        let v: serde_json::Value = serde_json::from_str(&ok).expect("OK is JSON");
        let m = v[3].as_str().expect("message");
        assert!(m.is_empty() || ["duplicate: ", "blocked: ", "error: "].iter().any(|p| m.starts_with(p)), "{ok}");
    }
}

#[test]
fn req_answers_stored_newest_first_then_eose_then_live_until_close() {
    let a = key(4);
    let old = signed(&a, 100, KIND_POST, &[], "old");
    let mid = signed(&a, 200, KIND_POST, &[], "mid");
    let new = signed(&a, 300, KIND_POST, &[], "new");
    let store = FakeStore::with([mid.clone(), old.clone(), new.clone()]);
    let mut r = relay();
    assert_eq!(send(&mut r, &store, r#"["REQ","s",{"kinds":[1],"limit":2}]"#), Handled::default());
    let msgs = drain(&mut r, &store);
    assert_eq!(event_ids(&msgs), vec![hexid(&new), hexid(&mid)]);
    assert_eq!(msgs.last(), Some(&msg::eose("s")));
    assert_eq!(msgs[0], msg::event("s", &new));

    let live = signed(&a, 400, KIND_POST, &[], "live");
    assert_eq!(r.handle_new_event(&live, &store, WALL), vec![(C, msg::event("s", &live))]);
    let like = signed(&a, 400, KIND_REACTION, &[], "+");
    assert!(r.handle_new_event(&like, &store, WALL).is_empty(), "kinds:[1] does not match a like");

    // Same id again replaces the subscription; CLOSE ends it.
    send(&mut r, &store, r#"["REQ","s",{"kinds":[7]}]"#);
    assert_eq!(drain(&mut r, &store), vec![msg::eose("s")]);
    assert_eq!(r.handle_new_event(&like, &store, WALL).len(), 1);
    assert!(r.handle_new_event(&live, &store, WALL).is_empty());
    assert_eq!(send(&mut r, &store, r#"["CLOSE","s"]"#), Handled::default());
    assert!(r.handle_new_event(&like, &store, WALL).is_empty());
    assert_eq!(send(&mut r, &store, r#"["CLOSE","never-opened"]"#), Handled::default());
}

#[test]
fn results_of_a_closed_subscription_are_not_sent() {
    let a = key(4);
    let store = FakeStore::with((0..5).map(|i| signed(&a, 100 + i, KIND_POST, &[], "x")));
    let mut r = relay();
    send(&mut r, &store, r#"["REQ","s",{}]"#);
    send(&mut r, &store, r#"["CLOSE","s"]"#);
    assert!(drain(&mut r, &store).is_empty());
}

#[test]
fn each_filter_field_selects_what_nip01_says() {
    let (a, b) = (key(4), key(5));
    let o = owner().public_key().to_hex();
    let root = signed(&a, 100, KIND_POST, &[&["t", "nostr"]], "root");
    let reply_b = signed(&b, 110, KIND_POST, &[&["e", &hexid(&root)], &["p", &a.public_key().to_hex()]], "re");
    let art = signed(&a, 120, 30_023, &[&["d", "slug"], &["t", "rust"]], "article");
    let prof = signed(&b, 130, 0, &[], "{}");
    let own = signed(&owner(), 140, KIND_POST, &[&["p", &o]], "self mention");
    let store = FakeStore::with([root.clone(), reply_b.clone(), art.clone(), prof.clone(), own.clone()]);
    let mut r = relay();
    let cases: Vec<(String, Vec<&Event>)> = vec![
        (format!(r#"{{"ids":["{}"]}}"#, hexid(&art)), vec![&art]),
        (format!(r#"{{"authors":["{}"]}}"#, a.public_key().to_hex()), vec![&art, &root]),
        (r#"{"kinds":[0,30023]}"#.into(), vec![&prof, &art]),
        (format!(r##"{{"#e":["{}"]}}"##, hexid(&root)), vec![&reply_b]),
        (format!(r##"{{"#p":["{}"]}}"##, a.public_key().to_hex()), vec![&reply_b]),
        (r##"{"#t":["nostr","rust"]}"##.into(), vec![&art, &root]),
        (r##"{"#d":["slug"]}"##.into(), vec![&art]),
        (r#"{"since":120}"#.into(), vec![&own, &prof, &art]),
        (r#"{"until":110}"#.into(), vec![&reply_b, &root]),
        (r#"{"since":110,"until":120,"limit":1}"#.into(), vec![&art]),
        (r#"{"ids":[]}"#.into(), vec![]),
        (r#"{"limit":0}"#.into(), vec![]),
        (r##"{"kinds":[1],"#t":["nostr"],"authors":[]}"##.into(), vec![]),
    ];
    for (i, (filter, want)) in cases.iter().enumerate() {
        let sub = format!("f{i}");
        assert_eq!(send(&mut r, &store, &format!(r#"["REQ","{sub}",{filter}]"#)), Handled::default(), "{filter}");
        let msgs = drain(&mut r, &store);
        assert_eq!(event_ids(&msgs), want.iter().map(|e| hexid(e)).collect::<Vec<_>>(), "{filter}");
        assert_eq!(msgs.last(), Some(&msg::eose(&sub)));
        send(&mut r, &store, &format!(r#"["CLOSE","{sub}"]"#));
    }
    // Two filters are OR-ed and an event matching both is sent once.
    send(&mut r, &store, &format!(r#"["REQ","or",{{"kinds":[0]}},{{"authors":["{}"]}}]"#, b.public_key().to_hex()));
    assert_eq!(event_ids(&drain(&mut r, &store)), vec![hexid(&prof), hexid(&reply_b)]);
}

#[test]
fn addressed_events_are_served_only_to_the_owner_after_auth() {
    let b = key(5);
    let o = owner().public_key().to_hex();
    let post = signed(&b, 100, KIND_POST, &[], "public");
    let reply = signed(&b, 110, KIND_POST, &[&["p", &o]], "to the owner");
    let like = signed(&b, 120, KIND_REACTION, &[&["p", &o], &["e", &"00".repeat(32)]], "+");
    let dm = signed(&owner(), 130, 4, &[&["p", &b.public_key().to_hex()]], "secret");
    let store = FakeStore::with([post.clone(), reply.clone(), like.clone(), dm.clone()]);
    let mut r = relay();
    send(&mut r, &store, r#"["REQ","all",{}]"#);
    assert_eq!(event_ids(&drain(&mut r, &store)), vec![hexid(&post)], "anonymous readers see public events only");
    assert!(r.handle_new_event(&reply, &store, WALL).is_empty(), "nor live private ones");
    let h = send(&mut r, &store, &format!(r##"["REQ","mine",{{"#p":["{o}"]}}]"##));
    assert!(h.replies[0].starts_with("[\"CLOSED\",\"mine\",\"auth-required: "), "{:?}", h.replies);
    let h = send(&mut r, &store, r#"["REQ","dms",{"kinds":[4]}]"#);
    assert!(h.replies[0].starts_with("[\"CLOSED\",\"dms\",\"auth-required: "));
    login(&mut r, &store, &key(9));
    assert!(send(&mut r, &store, r#"["REQ","dms",{"kinds":[4]}]"#).replies[0].contains("auth-required"));
    login(&mut r, &store, &owner());
    send(&mut r, &store, r#"["REQ","all",{}]"#);
    let all = event_ids(&drain(&mut r, &store));
    assert_eq!(all, vec![hexid(&dm), hexid(&like), hexid(&reply), hexid(&post)]);
    assert_eq!(r.handle_new_event(&reply, &store, WALL).len(), 1);
}

#[test]
fn auth_checks_kind_signature_time_challenge_and_relay_tag() {
    let store = FakeStore::default();
    let mut r = relay();
    let ch = crate::hex::encode(&CHALLENGE);
    let k = owner();
    let mut bad_sig = auth_event(&k, WALL.0, &ch, "ws://a");
    bad_sig.sig.0[0] ^= 1;
    let cases = [
        (signed(&k, WALL.0, 1, &[&["relay", "ws://a"], &["challenge", &ch]], ""), "invalid: an AUTH event is kind"),
        (bad_sig, "invalid: signature does not verify"),
        (auth_event(&k, WALL.0 - 3600, &ch, "ws://a"), "invalid: created_at is more than"),
        (auth_event(&k, WALL.0, "other", "ws://a"), "invalid: the challenge tag"),
        (auth_event(&k, WALL.0, &ch, "http://a"), "invalid: the relay tag"),
        (auth_event(&k, WALL.0, &ch, "ws://"), "invalid: the relay tag"),
    ];
    for (ev, why) in cases {
        let h = send(&mut r, &store, &format!("[\"AUTH\",{}]", crate::event::json::to_client_json(&ev)));
        assert!(h.replies[0].starts_with(&format!("[\"OK\",\"{}\",false,\"{why}", hexid(&ev))), "{:?}", h.replies);
        assert_eq!(r.authed(C), None);
    }
    login(&mut r, &store, &k);
    assert_eq!(r.authed(C), Some(k.public_key()));
}

#[test]
fn expired_events_are_neither_served_nor_sent_live() {
    let a = key(4);
    let gone = signed(&a, 100, KIND_POST, &[&["expiration", &WALL.0.to_string()]], "gone");
    let stays = signed(&a, 100, KIND_POST, &[&["expiration", &(WALL.0 + 1).to_string()]], "stays");
    let store = FakeStore::with([gone.clone(), stays.clone()]);
    let mut r = relay();
    send(&mut r, &store, r#"["REQ","s",{}]"#);
    assert_eq!(event_ids(&drain(&mut r, &store)), vec![hexid(&stays)]);
    assert!(r.handle_new_event(&gone, &store, WALL).is_empty());
    assert!(!kinds::may_leave_node(&gone, WALL) && kinds::may_leave_node(&stays, WALL));
}

#[test]
fn nip11_document_names_the_owner_nips_and_limits() {
    let cfg =
        info::InfoConfig { name: "n".into(), owner: owner().public_key(), writable: true, accept_any_author: false };
    let doc: serde_json::Value = serde_json::from_str(&info::render(&cfg)).expect("JSON");
    assert_eq!(doc["pubkey"], owner().public_key().to_hex());
    assert_eq!(doc["supported_nips"], serde_json::json!([1, 9, 11, 40, 42, 70]));
    assert_eq!(doc["limitation"]["max_subscriptions"], crate::limits::RELAY_MAX_SUBS);
    assert_eq!(doc["limitation"]["restricted_writes"], true);
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
}
