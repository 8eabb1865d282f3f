//! `POST /publish`: every fixture, every rejection with its status and message, and the
//! answers after storing.

use super::*;

/// What `/publish` must do with a fixture.
#[derive(Debug, PartialEq)]
enum Want {
    Accept,
    Reject(u16, &'static str),
}

fn outcome(name: &str, cfg: &HttpConfig) -> Want {
    match route_with(&post("/publish", fixture(name)), &FakeStore::default(), cfg) {
        Routed::Publish { event, .. } => {
            assert_eq!(event.id, super::event(name).id, "{name}: the event handed to the driver");
            Want::Accept
        }
        other => {
            let (status, msg) = error_of(other);
            let expected = match (name, status) {
                ("E9", _) => "Invalid Sig",
                ("E10", _) => "Content is required",
                ("E11", _) => "unsupported kind 5: this server accepts kinds 0, 1, 3, 6 and 7",
                ("E13", 400) => "a reaction (kind 7) needs a p tag naming the liked event's author",
                ("E16", _) => "Tags is null",
                (_, 403) => "not the owner",
                _ => "unexpected",
            };
            if expected == "not the owner" {
                assert!(msg.contains("not by this server's owner"), "{name}: {msg}");
            } else {
                assert_eq!(msg, expected, "{name}");
            }
            Want::Reject(status, expected)
        }
    }
}

#[test]
fn every_fixture_by_default_only_the_owner_publishes() {
    use Want::*;
    let table = [
        ("E1", Accept),
        ("E2", Reject(403, "not the owner")),
        ("E3", Reject(403, "not the owner")),
        ("E4", Accept),
        ("E5", Reject(403, "not the owner")),
        ("E6", Reject(403, "not the owner")),
        ("E7", Reject(403, "not the owner")),
        ("E8", Accept),
        ("E9", Reject(400, "Invalid Sig")),
        ("E10", Reject(400, "Content is required")),
        ("E11", Reject(400, "unsupported kind 5: this server accepts kinds 0, 1, 3, 6 and 7")),
        ("E12", Accept),
        ("E13", Reject(403, "not the owner")),
        ("E14", Reject(403, "not the owner")),
        ("E15", Accept),
        ("E16", Reject(400, "Tags is null")),
    ];
    for (name, want) in table {
        assert_eq!(outcome(name, &cfg()), want, "{name}");
    }
}

#[test]
fn every_fixture_with_accept_any_author() {
    use Want::*;
    let open = HttpConfig { accept_any_author: true, ..cfg() };
    for name in ["E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8", "E12", "E14", "E15"] {
        assert_eq!(outcome(name, &open), Accept, "{name}");
    }
    assert_eq!(outcome("E9", &open), Reject(400, "Invalid Sig"));
    assert_eq!(outcome("E10", &open), Reject(400, "Content is required"));
    assert_eq!(outcome("E13", &open), Reject(400, "a reaction (kind 7) needs a p tag naming the liked event's author"));
    assert_eq!(outcome("E16", &open), Reject(400, "Tags is null"));
}

#[test]
fn success_answer_is_the_originals_after_storing() {
    let routed = route_with(
        &with_header(post("/publish", fixture("E1")), "Accept-Encoding", "gzip, deflate"),
        &FakeStore::default(),
        &cfg(),
    );
    let Routed::Publish { done, .. } = routed else { panic!("E1 is accepted") };
    let ok = publish_done(done.clone(), Ok(()));
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("Content-Type"), Some("application/json; charset=utf-8"));
    // The client accepts gzip, but a body this short goes as it is (gzip would make it longer).
    assert_eq!(ok.header("Content-Encoding"), None);
    assert_eq!(ok.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(ok.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(ok.header("Access-Control-Allow-Private-Network"), Some("true"));
    assert_eq!(ok.body, b"{\n  \"Status\": \"SUCCESS\"\n}");

    let full = publish_done(done.clone(), Err(StoreFailure::NoSpace("ENOSPC".into())));
    assert_eq!(full.status, 507);
    assert_eq!(String::from_utf8(full.body).expect("utf8"), "{\n  \"Error\": \"storage failed, disk full: ENOSPC\"\n}");
    let io = publish_done(done, Err(StoreFailure::Io("segment write failed".into())));
    assert_eq!(io.status, 503);
    assert!(String::from_utf8(io.body).expect("utf8").contains("storage failed: segment write failed"));
}

#[test]
fn plain_success_body_without_gzip() {
    let Routed::Publish { done, .. } = route_with(&post("/publish", fixture("E4")), &FakeStore::default(), &cfg())
    else {
        panic!("E4 is accepted")
    };
    let ok = publish_done(done, Ok(()));
    assert_eq!(ok.header("Content-Encoding"), None);
    assert_eq!(ok.body, b"{\n  \"Status\": \"SUCCESS\"\n}");
}

#[test]
fn deny_write_is_406_after_decoding_before_the_signature() {
    let read_only = HttpConfig { writable: false, ..cfg() };
    let store = FakeStore::default();
    for name in ["E1", "E9", "E2"] {
        assert_eq!(
            error_of(route_with(&post("/publish", fixture(name)), &store, &read_only)),
            (406, "Write is denied".into())
        );
    }
    let (status, _) = error_of(route_with(&post("/publish", "{nope"), &store, &read_only));
    assert_eq!(status, 400, "a decode error comes first, as in the original");
}

#[test]
fn body_problems_are_400_413_415() {
    let store = FakeStore::default();
    let cfg = cfg();
    assert_eq!(error_of(route_with(&post("/publish", ""), &store, &cfg)), (400, "JSON payload is empty".into()));
    let (status, msg) = error_of(route_with(&post("/publish", "{\"id\": x}"), &store, &cfg));
    assert_eq!(status, 400);
    assert!(msg.starts_with("invalid JSON"), "{msg}");

    let bad_hex = fixture("E1").replace(E1_ID, &"zz".repeat(32));
    let (status, msg) = error_of(route_with(&post("/publish", &bad_hex), &store, &cfg));
    assert_eq!((status, msg.as_str()), (400, "field \"id\": invalid hex character at position 0"));
    let odd_hex = fixture("E1").replace(E1_ID, &E1_ID[1..]);
    assert_eq!(error_of(route_with(&post("/publish", &odd_hex), &store, &cfg)).0, 400);

    let mut too_large = post("/publish", "");
    too_large.body_too_large = true;
    let (status, msg) = error_of(route_with(&too_large, &store, &cfg));
    assert_eq!((status, msg.as_str()), (413, "request body is larger than 262144 bytes"));

    let mut form = post("/publish", fixture("E1"));
    form.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
    let form = with_header(form, "Content-Type", "application/x-www-form-urlencoded");
    let expected = (415, "Bad Content-Type or charset, expected 'application/json'".to_string());
    assert_eq!(error_of(route_with(&form, &store, &cfg)), expected);
    let mut none = post("/publish", fixture("E1"));
    none.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
    assert_eq!(error_of(route_with(&none, &store, &cfg)), expected);
}

#[test]
fn verification_failures_say_what_failed() {
    let store = FakeStore::default();
    let cfg = cfg();
    // A valid signature over a different id: the original stored it under the wrong id.
    let mut e = signed(A_SECRET, 1_717_000_000, 1, &[], "hello");
    e.id = super::event("E1").id;
    let (status, msg) = error_of(route_with(&post("/publish", &crate::event::json::to_client_json(&e)), &store, &cfg));
    assert_eq!(status, 400);
    assert!(msg.starts_with("id does not match the event's hash (expected "), "{msg}");

    let future = signed(A_SECRET, NOW.0 + 3600, 1, &[], "from the future");
    let (status, msg) =
        error_of(route_with(&post("/publish", &crate::event::json::to_client_json(&future)), &store, &cfg));
    assert_eq!(status, 400);
    assert!(msg.contains("ahead of this server's clock"), "{msg}");
    let slightly_ahead = signed(A_SECRET, NOW.0 + 60, 1, &[], "clock skew is forgiven");
    let body = crate::event::json::to_client_json(&slightly_ahead);
    assert!(matches!(route_with(&post("/publish", &body), &store, &cfg), Routed::Publish { .. }));

    // Too large: checked before the id, so no need to sign it.
    let mut big = super::event("E1");
    big.content = "x".repeat(crate::limits::MAX_EVENT_BYTES);
    let (status, msg) =
        error_of(route_with(&post("/publish", &crate::event::json::to_client_json(&big)), &store, &cfg));
    assert_eq!(status, 413);
    assert!(msg.contains("limit"), "{msg}");

    // A pubkey that is not on the curve cannot have signed anything.
    let mut off_curve = super::event("E1");
    off_curve.pubkey = PublicKey([0xff; 32]);
    off_curve.id = off_curve.compute_id();
    let open = HttpConfig { accept_any_author: true, ..cfg.clone() };
    let (status, msg) =
        error_of(route_with(&post("/publish", &crate::event::json::to_client_json(&off_curve)), &store, &open));
    assert_eq!((status, msg.as_str()), (400, "Invalid Sig: pubkey is not a valid secp256k1 x-only key"));
}

#[test]
fn per_kind_checks_turn_the_originals_panics_into_400s() {
    let store = FakeStore::default();
    let cfg = cfg();
    let check =
        |e: Event| error_of(route_with(&post("/publish", &crate::event::json::to_client_json(&e)), &store, &cfg));
    let like_without_p = signed(A_SECRET, 1_717_000_000, 7, &[&["e", E1_ID]], "+");
    assert_eq!(check(like_without_p).1, "a reaction (kind 7) needs a p tag naming the liked event's author");
    let like_bad_p = signed(A_SECRET, 1_717_000_000, 7, &[&["e", E1_ID], &["p", "abc"]], "+");
    assert_eq!(check(like_bad_p), (400, "p tag 1: expected 64 hex characters, found 3".into()));
    let empty_tag = signed(A_SECRET, 1_717_000_000, 1, &[&[]], "hi");
    assert_eq!(check(empty_tag), (400, "tag 0 is empty".into()));
    let bare_p = signed(A_SECRET, 1_717_000_000, 1, &[&["p"]], "hi");
    assert_eq!(check(bare_p), (400, "p tag 0 has no pubkey".into()));
    let kind_42 = signed(A_SECRET, 1_717_000_000, 42, &[], "hi");
    assert_eq!(check(kind_42), (400, "unsupported kind 42: this server accepts kinds 0, 1, 3, 6 and 7".into()));
    let profile_null_tags = fixture("E4").replace("\"tags\":[]", "\"tags\":null");
    let routed = route_with(&post("/publish", &profile_null_tags), &store, &cfg);
    assert_eq!(error_of(routed), (400, "Tags is null".into()));

    // What the client really sends passes: a like with e and p, a repost, a quote marker.
    let like = signed(A_SECRET, 1_717_000_000, 7, &[&["e", E1_ID], &["p", B_HEX]], "+");
    let repost = signed(A_SECRET, 1_717_000_000, 6, &[&["e", E1_ID, ""], &["p", B_HEX]], "{}");
    let quote = signed(A_SECRET, 1_717_000_000, 1, &[&["e", E1_ID, "", "mention"], &["p", B_HEX], &["q"]], "q");
    for e in [like, repost, quote] {
        let body = crate::event::json::to_client_json(&e);
        assert!(
            matches!(route_with(&post("/publish", &body), &store, &cfg), Routed::Publish { .. }),
            "kind {}",
            e.kind
        );
    }
}
