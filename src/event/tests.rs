//! Golden tests: every fixture of the original's Appendix A, the canonical serialization,
//! and the byte-exact MessagePack of §4.4.

use super::json::{canonical_bytes, parse_event, to_client_json, JsonError};
use super::msgpack::{decode_events, encode_events, SigMode};
use super::*;
use crate::testkit::{fixture_json as fixture, unhex};

const NOW: UnixTime = UnixTime(1_800_000_000);

#[test]
fn every_valid_fixture_verifies_and_e9_does_not() {
    for i in 1..=16 {
        let name = format!("E{i}");
        let parsed = parse_event(fixture(&name).as_bytes()).expect("fixture parses");
        let result = parsed.event.clone().verify(NOW);
        if name == "E9" {
            assert_eq!(result.err(), Some(EventError::BadSignature), "{name}");
        } else {
            let v = result.unwrap_or_else(|e| panic!("{name} must verify: {e}"));
            assert_eq!(v.compute_id(), v.id, "{name}");
        }
        assert_eq!(parsed.tags_null, name == "E16", "{name}: tags null flag");
    }
}

#[test]
fn canonical_serialization_matches_the_spec() {
    let e1 = parse_event(fixture("E1").as_bytes()).expect("E1").event;
    assert_eq!(
        String::from_utf8(canonical_bytes(&e1)).expect("utf8"),
        r#"[0,"f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9",1717000000,1,[],"hello nostrp2p"]"#
    );
    let e12 = parse_event(fixture("E12").as_bytes()).expect("E12").event;
    assert_eq!(
        String::from_utf8(canonical_bytes(&e12)).expect("utf8"),
        "[0,\"f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9\",1717001000,1,[],\"line1\\nline2 \\\"quoted\\\" \\\\ こんにちは世界\"]"
    );
    let e2 = parse_event(fixture("E2").as_bytes()).expect("E2").event;
    assert!(String::from_utf8(canonical_bytes(&e2))
        .expect("utf8")
        .contains(r#"[["e","c9918d6c813a5530841c4193c0c377c96def5ddca08917c5c0f05c6f2f6ffe61","","root"],["p","#));
}

#[test]
fn control_characters_are_escaped_like_go_nostr() {
    let mut e = parse_event(fixture("E1").as_bytes()).expect("E1").event;
    e.content = "\u{1}\u{1f}\u{7f}/\u{8}\u{c}\r\t".into();
    let s = String::from_utf8(canonical_bytes(&e)).expect("utf8");
    assert!(s.ends_with("\"\\u0001\\u001f\u{7f}/\\b\\f\\r\\t\"]"), "{s}");
}

#[test]
fn client_json_round_trips() {
    for i in 1..=15 {
        let json = fixture(&format!("E{i}"));
        let e = parse_event(json.as_bytes()).expect("parses").event;
        assert_eq!(to_client_json(&e), json, "E{i}");
    }
}

#[test]
fn wrong_id_is_rejected_even_with_a_valid_signature() {
    let mut e = parse_event(fixture("E1").as_bytes()).expect("E1").event;
    e.id.0[0] ^= 1;
    assert!(matches!(e.verify(NOW), Err(EventError::IdMismatch { .. })));
}

#[test]
fn future_events_are_rejected_old_ones_are_not() {
    let e = parse_event(fixture("E1").as_bytes()).expect("E1").event;
    let too_early = UnixTime(1_717_000_000 - MAX_FUTURE_SKEW.as_secs() - 1);
    assert!(matches!(e.clone().verify(too_early), Err(EventError::FromTheFuture { .. })));
    assert!(e.clone().verify(UnixTime(1_717_000_000 - MAX_FUTURE_SKEW.as_secs())).is_ok());
    assert!(e.verify(UnixTime(4_000_000_000)).is_ok());
}

#[test]
fn oversized_and_overtagged_events_are_rejected() {
    let mut e = parse_event(fixture("E1").as_bytes()).expect("E1").event;
    e.content = "x".repeat(MAX_EVENT_BYTES);
    assert!(matches!(e.clone().verify(NOW), Err(EventError::TooLarge { .. })));
    e.content.clear();
    e.tags = vec![vec!["t".into()]; MAX_TAGS + 1];
    assert_eq!(e.verify(NOW).err(), Some(EventError::TooManyTags));
}

#[test]
fn malformed_json_names_the_problem() {
    let cases: &[(&str, &str)] = &[
        ("", "invalid JSON"),
        ("[1,2]", "expected a JSON object"),
        (r#"{"id":"00"}"#, "field \"id\""),
        (r#"{"id":5}"#, "field \"id\": expected a hex string"),
    ];
    for (body, want) in cases {
        let err = parse_event(body.as_bytes()).expect_err(body).to_string();
        assert!(err.contains(want), "{body}: {err}");
    }
    let e1 = fixture("E1");
    let bad_kind = e1.replace("\"kind\":1", "\"kind\":70000");
    assert!(parse_event(bad_kind.as_bytes()).expect_err("kind").to_string().contains("0 to 65535"));
    let float_time = e1.replace("1717000000", "1717000000.5");
    assert!(matches!(parse_event(float_time.as_bytes()), Err(JsonError::Field { field: "created_at", .. })));
    let bad_tag = e1.replace("\"tags\":[]", "\"tags\":[[1]]");
    assert!(matches!(parse_event(bad_tag.as_bytes()), Err(JsonError::Field { field: "tags", .. })));
    let no_sig = e1.replace("\"sig\"", "\"xsig\"");
    assert!(matches!(parse_event(no_sig.as_bytes()), Err(JsonError::Missing("sig"))));
    // Keys match case-insensitively, as Go's decoder does.
    let upper = e1.replace("\"content\"", "\"Content\"");
    assert!(parse_event(upper.as_bytes()).is_ok());
}

#[test]
fn msgpack_layout_is_byte_exact() {
    let e1 = parse_event(fixture("E1").as_bytes()).expect("E1").event;
    let e1_nil = "81a4457674739187a24964c420c9918d6c813a5530841c4193c0c377c96def5ddca08917c5c0f05c6f2f6ffe61a65075626b6579c420f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9aa437265617465645f6174cb41d995d5d0000000a44b696e64cd0001a45461677390a7436f6e74656e74ae68656c6c6f206e6f737472703270a3536967c0";
    assert_eq!(encode_events([&e1].into_iter(), SigMode::Nil), unhex(e1_nil));
    let e1_sig = format!(
        "{}c440e3e4716de4101dfe3dd5003947b010f8ce6822d2ad96edb70ff99a7f8b03dd80bd7d2cd442bb30103cee7aa379167cb6de60e9bbdfe327c1cb46fd016d80b024",
        &e1_nil[..e1_nil.len() - 2]
    );
    assert_eq!(encode_events([&e1].into_iter(), SigMode::Keep), unhex(&e1_sig));
    let e4 = parse_event(fixture("E4").as_bytes()).expect("E4").event;
    let e4_nil = "81a4457674739187a24964c420f1d6a75516f49ed66e5819bdc6e2e3af33dbe826b2a53372c60b60a6524f8890a65075626b6579c420f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9aa437265617465645f6174cb41d995d61b000000a44b696e64cd0000a45461677390a7436f6e74656e74d9437b226e616d65223a22616c696365222c2261626f7574223a226869222c2270696374757265223a2268747470733a2f2f6578616d706c652e636f6d2f612e706e67227da3536967c0";
    assert_eq!(encode_events([&e4].into_iter(), SigMode::Nil), unhex(e4_nil));
    assert_eq!(encode_events(std::iter::empty(), SigMode::Keep), unhex("81a44576747390"));
}

#[test]
fn msgpack_tags_are_bin_elements() {
    let e2 = parse_event(fixture("E2").as_bytes()).expect("E2").event;
    let bytes = encode_events([&e2].into_iter(), SigMode::Keep);
    let hex = crate::hex::encode(&bytes);
    let e_id_ascii = crate::hex::encode(b"c9918d6c813a5530841c4193c0c377c96def5ddca08917c5c0f05c6f2f6ffe61");
    let expected_tags = format!("a4546167739294c40165c440{e_id_ascii}c400c404726f6f7492c40170c440");
    assert!(hex.contains(&expected_tags), "{hex}");
    let decoded = decode_events(&bytes).expect("decodes");
    assert_eq!(decoded.len(), 1);
    assert_eq!(decoded[0].event, e2);
    assert!(decoded[0].has_sig);
}

#[test]
fn msgpack_arrays_switch_to_array16_past_15() {
    let e1 = parse_event(fixture("E1").as_bytes()).expect("E1").event;
    let many = vec![e1; 16];
    let bytes = encode_events(many.iter(), SigMode::Keep);
    assert_eq!(&bytes[..9], &unhex("81a445767473dc0010")[..9]);
    assert_eq!(decode_events(&bytes).expect("decodes").len(), 16);
}

#[test]
fn decoder_rejects_garbage_without_panicking() {
    for bad in [&[][..], &[0x81], &[0x81, 0xa4, b'E', b'v', b't', b's', 0x91, 0x87], &[0xc1; 20]] {
        assert!(decode_events(bad).is_err());
    }
}

#[test]
fn new_signed_reproduces_fixture_e1() {
    let key =
        crate::keys::SecretKey::parse("0000000000000000000000000000000000000000000000000000000000000003").expect("key");
    let e = Event::new_signed(&key, UnixTime(1_717_000_000), KIND_POST, vec![], "hello nostrp2p".into(), &[0; 32]);
    assert_eq!(e, parse_event(fixture("E1").as_bytes()).expect("E1").event);
    assert!(e.verify(NOW).is_ok());
}

fn key_parses() -> u64 {
    crate::keys::KEY_PARSES.with(|c| c.get())
}

fn secret(i: u64) -> keys::SecretKey {
    let mut s = [0x42; 32];
    s[..8].copy_from_slice(&(i + 1).to_be_bytes());
    keys::SecretKey::from_bytes(s).expect("valid scalar")
}

fn post(key: &keys::SecretKey, n: u64) -> Event {
    Event::new_signed(key, UnixTime(NOW.0 - n), KIND_POST, vec![], format!("post {n}"), &[0; 32])
}

/// The second event of an author does not pay for parsing its key again (a square root).
#[test]
fn an_authors_key_is_parsed_once_for_many_events() {
    let k = secret(1);
    let (a, b, c) = (post(&k, 1), post(&k, 2), post(&k, 3));
    let before = key_parses();
    for e in [a, b, c] {
        assert!(e.verify(NOW).is_ok());
    }
    assert_eq!(key_parses() - before, 1, "one parse for three events of one author");
}

/// The id hash is computed from the pieces without building the canonical bytes: it must be
/// the SHA-256 of exactly those bytes, for every fixture and for hostile strings (every
/// escape, control bytes, multi-byte text, escapes at the ends of runs).
#[test]
fn streamed_id_hash_equals_the_hash_of_the_canonical_bytes() {
    use sha2::{Digest, Sha256};
    let mut events: Vec<Event> =
        (1..=16).map(|i| parse_event(fixture(&format!("E{i}")).as_bytes()).expect("fixture").event).collect();
    let nasty: String = (0u8..0x80).map(char::from).chain("\"\\é世界\u{7f}\u{2028}".chars()).collect();
    let mut e = events[0].clone();
    e.content = format!("\n{nasty}\"");
    e.tags = vec![vec![], vec!["\"".into(), "\\".into(), nasty.clone()], vec![String::new()]];
    e.created_at = UnixTime(u64::MAX);
    e.kind = u16::MAX;
    events.push(e);
    for e in &events {
        let bytes = canonical_bytes(e);
        let want: [u8; 32] = Sha256::digest(&bytes).into();
        assert_eq!(json::canonical_hash(e, MAX_EVENT_BYTES), (want, bytes.len()));
    }
}

/// An oversized event is refused by its exact canonical length, whatever it contains.
#[test]
fn oversized_event_reports_its_exact_canonical_length() {
    let mut e = parse_event(fixture("E1").as_bytes()).expect("E1").event;
    e.content = "\u{1}".repeat(MAX_EVENT_BYTES); // 6 bytes each once escaped
    let len = canonical_bytes(&e).len();
    assert_eq!(e.verify(NOW), Err(EventError::TooLarge { len }));
}
