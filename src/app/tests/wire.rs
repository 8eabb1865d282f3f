//! `AppMsg` encoding (round trips, hostile bytes never panic) and sealed mail.

use super::*;
use crate::app::msg::{decode, encode, AppMsg, Bytes, DecodeError, Envelope, APP_MSG_VERSION};
use crate::app::seal::{open, seal, SealError, SealRandom, SEAL_OVERHEAD};
use crate::limits::MAX_APP_MSG_BYTES;

fn samples() -> Vec<AppMsg> {
    vec![
        AppMsg::Event(fixture("E2")),
        AppMsg::Deposit { dst: 42, sealed: Bytes(vec![1, 2, 3]) },
        AppMsg::MailReq,
        AppMsg::Mail { envelopes: vec![Envelope { id: 7, sealed: Bytes(vec![9; 100]) }], more: true },
        AppMsg::MailAck { ids: vec![1, 2, 3] },
        AppMsg::SyncReq { since: 1, until: 2, limit: 500 },
        AppMsg::SyncResp { events: vec![fixture("E1"), fixture("E4")], more: Some(1_717_000_000) },
        AppMsg::FetchReq(FetchTarget::Profile(pk_a())),
        AppMsg::FetchReq(FetchTarget::Post(fixture("E1").id)),
        AppMsg::FetchResp { target: FetchTarget::FollowList(pk_a()), events: vec![fixture("E8")] },
        AppMsg::AuthorSyncReq { author: pk_b(), since: 1, until: 2, limit: 100 },
        AppMsg::AuthorSyncResp { author: pk_b(), events: vec![fixture("E1")] },
    ]
}

#[test]
fn every_message_round_trips() {
    for m in samples() {
        let bytes = encode(&m);
        assert!(!bytes.is_empty());
        assert_eq!(decode(&bytes).expect("decodes"), m);
    }
}

#[test]
fn sealed_bytes_are_one_bin_not_an_integer_array() {
    let m = AppMsg::Deposit { dst: 1, sealed: Bytes(vec![0xff; 1000]) };
    assert!(encode(&m).len() < 1000 + 32, "1000 bytes ≥ 0x80 would double as an array");
}

#[test]
fn truncated_messages_are_errors() {
    for m in samples() {
        let bytes = encode(&m);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "{m:?} cut at {cut}");
        }
    }
}

#[test]
fn garbage_never_panics() {
    // A deterministic byte soup: every prefix and some flips of real messages.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2000 {
        let len = (x % 300) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = decode(&bytes);
    }
    for m in samples() {
        let bytes = encode(&m);
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xa5;
            let _ = decode(&b);
        }
    }
}

#[test]
fn huge_length_prefixes_are_errors_without_allocating() {
    // [v, {Deposit: [dst, bin32 of 4 GiB]}] and an array claiming 2^32-1 envelopes.
    let mut deposit = vec![0x92, 0x01, 0x81, 0xa7];
    deposit.extend_from_slice(b"Deposit");
    deposit.extend_from_slice(&[0x92, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00]);
    assert!(matches!(decode(&deposit), Err(DecodeError::Malformed(_))));
    let mut mail = vec![0x92, 0x01, 0x81, 0xa4];
    mail.extend_from_slice(b"Mail");
    mail.extend_from_slice(&[0x92, 0xdd, 0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(decode(&mail), Err(DecodeError::Malformed(_))));
}

#[test]
fn oversized_and_foreign_versions_are_refused() {
    let big = vec![0u8; MAX_APP_MSG_BYTES + 1];
    assert!(matches!(decode(&big), Err(DecodeError::TooLarge { .. })));
    let mut other = encode(&AppMsg::MailReq);
    assert_eq!(other[1], APP_MSG_VERSION as u8);
    other[1] = 9;
    assert!(matches!(decode(&other), Err(DecodeError::Version(9))));
    let e = decode(&[0xc1]).expect_err("reserved byte");
    assert!(std::error::Error::source(&e).is_some(), "the rmp cause is kept");
}

#[test]
fn too_many_events_in_one_answer_are_refused() {
    let m = AppMsg::FetchResp { target: FetchTarget::Profile(pk_a()), events: vec![fixture("E4"), fixture("E4")] };
    assert!(matches!(decode(&encode(&m)), Err(DecodeError::TooMany)));
    let events = vec![fixture("E1"); crate::limits::CATCHUP_PAGE_EVENTS + 1];
    let m = AppMsg::AuthorSyncResp { author: pk_a(), events };
    assert!(matches!(decode(&encode(&m)), Err(DecodeError::TooMany)));
}

fn rnd(n: u8) -> SealRandom {
    SealRandom { ephemeral: [n; 32], nonce: [n; 12] }
}

#[test]
fn seal_then_open_round_trips_for_both_key_parities() {
    for n in 1..=20u8 {
        let secret = node_secret(n);
        let plain = format!("message {n}");
        let sealed = seal(&secret.public_key(), plain.as_bytes(), &rnd(n.wrapping_add(100))).expect("seals");
        assert_eq!(sealed.len(), plain.len() + SEAL_OVERHEAD);
        assert_eq!(open(&secret, &sealed).expect("opens"), plain.as_bytes());
    }
}

#[test]
fn a_wrong_key_or_a_tampered_byte_does_not_open() {
    let to = node_secret(5);
    let sealed = seal(&to.public_key(), b"for node five", &rnd(7)).expect("seals");
    assert_eq!(open(&node_secret(6), &sealed), Err(SealError::Forged));
    for i in 0..sealed.len() {
        let mut t = sealed.clone();
        t[i] ^= 1;
        assert!(open(&to, &t).is_err(), "flipped byte {i} must not open");
    }
    assert_eq!(open(&to, &sealed[..SEAL_OVERHEAD - 1]), Err(SealError::Truncated));
    assert_eq!(
        seal(&to.public_key(), b"x", &SealRandom { ephemeral: [0; 32], nonce: [0; 12] }),
        Err(SealError::BadRandom)
    );
}

#[test]
fn sealed_reply_shows_neither_its_content_nor_its_id() {
    let reply = fixture("E2");
    let plain = crate::event::packed::encode(&reply);
    let sealed = seal(&node_secret(3).public_key(), &plain, &rnd(11)).expect("seals");
    let deposit = encode(&AppMsg::Deposit { dst: pk_a().node_id().0, sealed: Bytes(sealed.clone()) });
    for hay in [&sealed, &deposit] {
        assert!(!contains(hay, reply.content.as_bytes()), "content visible");
        assert!(!contains(hay, &reply.id.0[..8]), "event id visible");
        assert!(!contains(hay, &reply.pubkey.0[..8]), "author visible");
        assert!(!contains(hay, &reply.sig.0[..8]), "signature visible");
    }
    assert!(contains(&plain, reply.content.as_bytes()), "the check itself can see plaintext");
}
