//! The §5.1 table row by row with the original's fixtures, and the receiving rules.

use super::*;
use crate::app::classify::{accepts_unicast, classify, is_broadcast_class, quoted_author, Route};

#[test]
fn e1_post_is_broadcast() {
    assert_eq!(classify(&fixture("E1")), Route::Broadcast);
}

#[test]
fn e2_reply_goes_to_the_parent_author_only() {
    assert_eq!(classify(&fixture("E2")), Route::Unicast(vec![pk_a()]));
}

#[test]
fn e5_mention_goes_to_the_mentioned_user() {
    assert_eq!(classify(&fixture("E5")), Route::Unicast(vec![pk_c()]));
}

#[test]
fn e3_like_goes_to_the_liked_author() {
    assert_eq!(classify(&fixture("E3")), Route::Unicast(vec![pk_a()]));
}

#[test]
fn e13_like_without_p_tag_stays_local() {
    assert_eq!(classify(&fixture("E13")), Route::Local);
}

#[test]
fn reposts_quotes_and_profiles_are_broadcast() {
    for name in ["E6", "E7", "E4", "E14"] {
        assert_eq!(classify(&fixture(name)), Route::Broadcast, "{name}");
    }
}

#[test]
fn e8_and_e16_follow_lists_stay_local() {
    assert_eq!(classify(&fixture("E8")), Route::Local);
    assert_eq!(classify(&fixture("E16")), Route::Local);
}

#[test]
fn e15_reply_to_self_is_broadcast_like_the_original() {
    // The original's quirk (§5.1 row 3), kept on purpose: a reply whose only p tag is the
    // author is a normal post for everyone.
    assert_eq!(classify(&fixture("E15")), Route::Broadcast);
}

#[test]
fn e11_deletion_of_a_post_is_broadcast_like_the_post() {
    // Issue 9: a kind 5 goes where the deleted event went (was: local, as "anything else").
    assert_eq!(classify(&fixture("E11")), Route::Broadcast);
}

#[test]
fn reply_in_a_thread_goes_to_each_distinct_participant_but_not_the_author() {
    let b = user(B_SECRET);
    let (a, c) = (pk_a().to_hex(), pk_c().to_hex());
    let me = pk_b().to_hex();
    let ev =
        signed(&b, 1_717_000_000, 1, &[&["e", "00", "", "root"], &["p", &a], &["p", &me], &["p", &c], &["p", &a]], "x");
    assert_eq!(classify(&ev), Route::Unicast(vec![pk_a(), pk_c()]));
}

#[test]
fn like_goes_to_the_first_p_tag_only() {
    let b = user(B_SECRET);
    let (a, c) = (pk_a().to_hex(), pk_c().to_hex());
    let ev = signed(&b, 1_717_000_000, 7, &[&["e", "00"], &["p", &c], &["p", &a]], "+");
    assert_eq!(classify(&ev), Route::Unicast(vec![pk_c()]));
    let own = signed(&b, 1_717_000_000, 7, &[&["e", "00"], &["p", &pk_b().to_hex()]], "+");
    assert_eq!(classify(&own), Route::Local, "liking one's own post tells nobody");
}

#[test]
fn a_malformed_p_tag_never_makes_a_post_public() {
    let b = user(B_SECRET);
    let ev = signed(&b, 1_717_000_000, 1, &[&["p", "not-a-key"]], "secret-ish");
    assert_eq!(classify(&ev), Route::Local);
    let mixed = signed(&b, 1_717_000_000, 1, &[&["p", "zz"], &["p", &pk_c().to_hex()]], "x");
    assert_eq!(classify(&mixed), Route::Unicast(vec![pk_c()]));
}

#[test]
fn receiving_rules() {
    // By broadcast: only broadcast-class events are kept.
    for (name, keep) in [
        ("E1", true),
        ("E4", true),
        ("E6", true),
        ("E7", true),
        ("E15", true),
        ("E2", false),
        ("E3", false),
        ("E5", false),
        ("E8", false),
    ] {
        assert_eq!(is_broadcast_class(&fixture(name)), keep, "{name}");
    }
    // By unicast: only when this node's owner is a recipient.
    assert!(accepts_unicast(&fixture("E2"), &pk_a()));
    assert!(!accepts_unicast(&fixture("E2"), &pk_c()), "a reply to A is not C's");
    assert!(accepts_unicast(&fixture("E5"), &pk_c()));
    assert!(!accepts_unicast(&fixture("E5"), &pk_a()));
    assert!(accepts_unicast(&fixture("E3"), &pk_a()));
    assert!(!accepts_unicast(&fixture("E1"), &pk_a()), "a post does not come by unicast");
    assert!(!accepts_unicast(&fixture("E8"), &pk_b()), "a follow list is never delivered");
}

#[test]
fn generic_reposts_and_relay_lists_are_broadcast_like_reposts_and_profiles() {
    let a = user(A_SECRET);
    let c_hex = pk_c().to_hex();
    assert_eq!(classify(&signed(&a, 1, 16, &[&["e", &"11".repeat(32)], &["p", &c_hex]], "")), Route::Broadcast);
    assert_eq!(classify(&signed(&a, 1, 10002, &[&["r", "ws://100.64.0.1:20001"]], "")), Route::Broadcast);
}

#[test]
fn a_deletion_goes_where_the_deleted_event_went() {
    let a = user(A_SECRET);
    let e = "22".repeat(32);
    // Deleting a post (no one addressed): broadcast, as the post was.
    assert_eq!(classify(&signed(&a, 1, 5, &[&["e", &e], &["k", "1"]], "")), Route::Broadcast);
    // Deleting a reply or like (the parties p-tagged, NIP-09 lets clients name them): to them.
    let c_hex = pk_c().to_hex();
    assert_eq!(classify(&signed(&a, 1, 5, &[&["e", &e], &["p", &c_hex]], "")), Route::Unicast(vec![pk_c()]));
    // Deleting a follow list (kind 3 stays home): stays home too.
    assert_eq!(
        classify(&signed(&a, 1, 5, &[&["a", &format!("3:{}:", pk_a().to_hex())], &["k", "3"]], "")),
        Route::Local
    );
}

#[test]
fn kinds_the_network_does_not_carry_stay_local() {
    let a = user(A_SECRET);
    for kind in [2, 4, 8, 13, 14, 30023, 30078, 1984] {
        assert_eq!(classify(&signed(&a, 1, kind, &[], "")), Route::Local, "kind {kind}");
    }
}

#[test]
fn a_repost_or_quote_names_one_quoted_author_whom_a_unicast_copy_may_reach() {
    // The original's client: repost E6 and quote E7 `p`-tag the quoted author (A).
    assert_eq!(quoted_author(&fixture("E6")), Some(pk_a()));
    assert_eq!(quoted_author(&fixture("E7")), Some(pk_a()));
    assert!(accepts_unicast(&fixture("E7"), &pk_a()) && accepts_unicast(&fixture("E6"), &pk_a()));
    assert!(!accepts_unicast(&fixture("E7"), &pk_b()), "only the quoted author keeps a unicast quote");
    assert_eq!(quoted_author(&fixture("E1")), None, "a plain post quotes nobody");
    assert_eq!(quoted_author(&fixture("E2")), None, "a reply is unicast by its own rule");
    let b = user(B_SECRET);
    let (a, c) = (pk_a().to_hex(), pk_c().to_hex());
    // NIP-18's `q` tag carries the pubkey: it wins over the `p` tags.
    let nip18 = signed(&b, 1_717_000_000, 1, &[&["p", &c], &["q", "00", "", &a]], "quoting");
    assert_eq!(quoted_author(&nip18), Some(pk_a()));
    // A spammer listing many keys buys one copy: the first `p` tag only.
    let many = signed(&b, 1_717_000_000, 1, &[&["q"], &["p", &c], &["p", &a], &["p", &c]], "spam");
    assert_eq!(quoted_author(&many), Some(pk_c()));
    assert!(!accepts_unicast(&many, &pk_a()), "a later p tag of a quote is not a recipient");
    let generic = signed(&b, 1_717_000_000, 16, &[&["e", "00"], &["p", &c], &["k", "1"]], "");
    assert_eq!(quoted_author(&generic), Some(pk_c()));
    let own = signed(&b, 1_717_000_000, 6, &[&["e", "00"], &["p", &pk_b().to_hex()]], "");
    assert_eq!(quoted_author(&own), None, "a self-repost reaches its followers only");
    let bad = signed(&b, 1_717_000_000, 6, &[&["e", "00"], &["p", "zz"], &["p", &a]], "");
    assert_eq!(quoted_author(&bad), None, "a malformed first p tag names nobody");
}
