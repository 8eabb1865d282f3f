//! The hand-written `AppMsg` and packed-event codec against the serde code it replaced (kept
//! in tests only, as the oracle): the same bytes for random messages, and on mutated input
//! nothing accepted that serde refused, the same value where both accept, and a refusal only
//! of forms no encoder of ours writes.

use super::*;
use crate::app::msg::{decode, encode, AppMsg, Bytes, Envelope, Wire, WireRef, APP_MSG_VERSION};
use crate::event::packed;
use crate::limits::CATCHUP_PAGE_EVENTS;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn int(&mut self) -> u64 {
        const EDGES: [u64; 8] = [0, 127, 128, 255, 65_536, 0xffff_ffff, 1 << 32, u64::MAX];
        if self.below(2) == 0 {
            EDGES[self.below(8) as usize]
        } else {
            self.next() >> self.below(64)
        }
    }
    fn text(&mut self) -> String {
        const PARTS: [&str; 6] = ["", "a", "日本", "e", "\u{1F600}", "0123456789abcdef0123456789abcdef"];
        (0..self.below(5)).map(|_| PARTS[self.below(6) as usize]).collect()
    }
    fn event(&mut self) -> Event {
        const NAMES: [&str; 6] = ["E1", "E2", "E4", "E8", "E12", "E15"];
        let mut e = fixture(NAMES[self.below(6) as usize]);
        if self.below(2) == 0 {
            e.created_at = UnixTime(self.int());
            e.kind = self.int() as u16;
            e.content = self.text();
            e.tags = (0..self.below(20)).map(|_| (0..self.below(4)).map(|_| self.text()).collect()).collect();
        }
        e
    }
    fn events(&mut self) -> Vec<Event> {
        (0..self.below(3)).map(|_| self.event()).collect()
    }
    fn bytes(&mut self) -> Bytes {
        let n = if self.below(8) == 0 { 300 } else { self.below(20) };
        Bytes((0..n).map(|_| self.next() as u8).collect())
    }
    fn key(&mut self) -> PublicKey {
        let mut k = [0u8; 32];
        k.iter_mut().for_each(|b| *b = self.next() as u8);
        PublicKey(k)
    }
    fn target(&mut self) -> FetchTarget {
        let mut k = [0u8; 32];
        k.iter_mut().for_each(|b| *b = self.next() as u8);
        match self.below(3) {
            0 => FetchTarget::Profile(PublicKey(k)),
            1 => FetchTarget::FollowList(PublicKey(k)),
            _ => FetchTarget::Post(EventId(k)),
        }
    }
    fn msg(&mut self) -> AppMsg {
        match self.below(11) {
            0 => AppMsg::Event(self.event()),
            1 => AppMsg::Deposit { dst: self.int(), sealed: self.bytes() },
            2 => AppMsg::MailReq,
            3 => AppMsg::Mail {
                envelopes: (0..self.below(20)).map(|_| Envelope { id: self.int(), sealed: self.bytes() }).collect(),
                more: self.below(2) == 0,
            },
            4 => AppMsg::MailAck { ids: (0..self.below(20)).map(|_| self.int()).collect() },
            5 => AppMsg::SyncReq { since: self.int(), until: self.int(), limit: self.int() as u32 },
            6 => AppMsg::SyncResp { events: self.events(), more: (self.below(2) == 0).then(|| self.int()) },
            7 => AppMsg::FetchReq(self.target()),
            8 => AppMsg::AuthorSyncReq {
                author: self.key(),
                since: self.int(),
                until: self.int(),
                limit: self.int() as u32,
            },
            9 => AppMsg::AuthorSyncResp { author: self.key(), events: self.events() },
            _ => AppMsg::FetchResp { target: self.target(), events: self.events().into_iter().take(1).collect() },
        }
    }
}

fn old_encode(msg: &AppMsg) -> Vec<u8> {
    rmp_serde::to_vec(&WireRef { v: APP_MSG_VERSION, msg }).expect("serde encodes")
}

/// The serde decoder's verdict (before the version and count checks both sides share).
fn old_decode(bytes: &[u8]) -> Option<AppMsg> {
    let w: Wire = crate::msgpack::from_slice(bytes).ok()?;
    (w.v == APP_MSG_VERSION).then_some(w.msg)
}

fn new_decode(bytes: &[u8]) -> Option<AppMsg> {
    decode(bytes).ok()
}

#[test]
fn random_app_messages_and_events_encode_to_the_serde_bytes() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..5_000 {
        let msg = rng.msg();
        let bytes = encode(&msg);
        assert_eq!(bytes, old_encode(&msg), "{msg:?}");
        if matches!(&msg, AppMsg::SyncResp { events, .. } if events.len() > crate::limits::SYNC_PAGE_EVENTS) {
            continue;
        }
        assert_eq!(decode(&bytes).ok().as_ref(), Some(&msg));
        let ev = rng.event();
        let packed_bytes = packed::encode(&ev);
        assert_eq!(packed_bytes, packed::encode_with_serde(&ev));
        assert_eq!(packed::decode(&packed_bytes).ok(), Some(ev));
    }
}

#[test]
fn mutated_app_messages_are_judged_like_serde_did() {
    let mut rng = Rng(0x0bad_cafe_f00d_0001);
    let (mut refusals, mut inputs) = (0, 0);
    for _ in 0..3_000 {
        let good = encode(&rng.msg());
        for _ in 0..6 {
            let mut m = good.clone();
            let i = rng.below(m.len() as u64) as usize;
            match rng.below(4) {
                0 => m[i] ^= 1 << rng.below(8),
                1 => m[i] = [0xc0, 0xc3, 0xcc, 0xc4, 0xa1, 0x90, 0x81, 0xdc][rng.below(8) as usize],
                2 => m.truncate(i),
                _ => {
                    m.remove(i);
                }
            }
            inputs += 1;
            match (new_decode(&m), old_decode(&m)) {
                (Some(a), Some(b)) => assert_eq!(a, b),
                (Some(a), None) => panic!("accepted what serde refused: {a:?} from {m:02x?}"),
                (None, Some(b)) => {
                    // Refused by the count check both share, or a form no encoder writes.
                    let counted = matches!(&b, AppMsg::FetchResp { events, .. } if events.len() > 1)
                        || matches!(&b, AppMsg::AuthorSyncResp { events, .. } if events.len() > CATCHUP_PAGE_EVENTS);
                    assert!(counted || old_encode(&b) != m, "refused a canonical encoding of {b:?}");
                    refusals += 1;
                }
                (None, None) => {}
            }
            // The packed event inside, alone.
            if let (Some(a), Some(b)) = (packed::decode(&m).ok(), packed::decode_with_serde(&m)) {
                assert_eq!(a, b);
            } else {
                assert!(packed::decode(&m).is_err() || packed::decode_with_serde(&m).is_some());
            }
        }
    }
    assert!(refusals < inputs / 20, "{refusals} of {inputs}");
}

#[test]
fn first_version_ids_as_integer_arrays_still_decode() {
    // The serde reader took ids, keys and signatures as arrays of integers (data of the first
    // version); the hand-written one keeps that, and refuses bytes given as text.
    let ev = fixture("E1");
    let mut old = vec![0x97, 0xdc, 0x00, 0x20];
    for b in ev.id.0 {
        old.extend_from_slice(&[0xcc, b]);
    }
    let packed_bytes = packed::encode(&ev);
    old.extend_from_slice(&packed_bytes[35..]);
    assert_eq!(packed::decode_with_serde(&old).as_ref(), Some(&ev));
    assert_eq!(packed::decode(&old).ok().as_ref(), Some(&ev));
    let mut text = packed_bytes.clone();
    text[1] = 0xd9; // str8(32) instead of bin8(32)
    assert!(packed::decode(&text).is_err());
}
