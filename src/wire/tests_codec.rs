//! The hand-written codec against the serde code it replaced (kept in tests only, as the
//! oracle): the same bytes out for random messages of every variant, and on random and mutated
//! input it accepts nothing the serde decoder refused, decodes to the same value, and refuses
//! only forms that no encoder of this protocol writes.

use sha2::{Digest, Sha256};

use super::*;
use crate::msgpack::Reader;

/// xorshift64: deterministic, no dependency.
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
    fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }
    /// An integer from every width class (fixint, u8, u16, u32, u64 boundaries and random).
    fn int(&mut self) -> u64 {
        const EDGES: [u64; 12] =
            [0, 1, 127, 128, 255, 256, 65_535, 65_536, 0xffff_ffff, 1 << 32, u64::MAX - 1, u64::MAX];
        match self.below(3) {
            0 => EDGES[self.below(EDGES.len() as u64) as usize],
            1 => self.below(300),
            _ => self.next() >> self.below(64),
        }
    }
    fn u8(&mut self) -> u8 {
        self.int() as u8
    }
    fn u16(&mut self) -> u16 {
        self.int() as u16
    }
    fn u32(&mut self) -> u32 {
        self.int() as u32
    }
    fn len(&mut self) -> usize {
        match self.below(10) {
            0 => 16 + self.below(20) as usize, // array16
            1..=3 => 0,
            _ => 1 + self.below(4) as usize,
        }
    }
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.next() as u8;
        }
        out
    }
    fn body(&mut self) -> Body {
        let n = match self.below(20) {
            0 => 256 + self.below(700) as usize, // bin16
            1 => 0,
            _ => self.below(40) as usize,
        };
        Body((0..n).map(|_| self.next() as u8).collect::<Vec<u8>>().into())
    }
    fn node(&mut self) -> NodeId {
        NodeId(self.int())
    }
    fn addr(&mut self) -> Addr {
        if self.bool() {
            Addr::v4(self.bytes(), self.u16())
        } else {
            Addr { ip: self.bytes(), port: self.u16() }
        }
    }
    fn peer(&mut self) -> PeerRef {
        PeerRef { node: self.node(), addr: self.addr() }
    }
    fn peers(&mut self) -> Vec<PeerRef> {
        (0..self.len()).map(|_| self.peer()).collect()
    }
    fn reason(&mut self) -> UndeliverableReason {
        use UndeliverableReason::*;
        [Unknown, TtlExpired, NotAttached, NoRoute, UnknownSource][self.below(5) as usize]
    }
    fn record(&mut self) -> NodeRecord {
        NodeRecord {
            node: self.node(),
            owner: Key32(self.bytes()),
            node_key: Key32(self.bytes()),
            delegation: if self.bool() { Some(self.body()) } else { None },
            role: if self.bool() { Role::Core } else { Role::Leaf },
            addr: if self.bool() { Some(self.addr()) } else { None },
            homes: (0..self.len()).map(|_| self.node()).collect(),
            seq: self.int(),
            expires: self.int(),
            sig: Sig(self.bytes()),
        }
    }
    fn msg(&mut self) -> Msg {
        match self.below(45) {
            0 => Msg::Hello(Box::new(Hello { record: self.record(), nonce: self.int() })),
            1 => Msg::Auth(Sig(self.bytes())),
            2 => Msg::Ping(self.u32()),
            3 => Msg::Pong(self.u32()),
            4 => Msg::Link { port: self.u16(), token: self.int(), key: Key32(self.bytes()) },
            5 => Msg::LinkResend((0..self.len()).map(|_| self.u32()).collect()),
            6 => Msg::ReachCheck(self.addr()),
            7 => Msg::ReachResult { ok: self.bool(), addr: self.addr() },
            8 => Msg::Join,
            9 => Msg::FwdJoin { peer: self.peer(), ttl: self.u8() },
            10 => Msg::Neighbor { high: self.bool() },
            11 => Msg::NeighborReply { ok: self.bool() },
            12 => Msg::Disconnect { alive: self.bool() },
            13 => Msg::Shuffle { origin: self.peer(), peers: self.peers(), ttl: self.u8() },
            14 => Msg::ShuffleReply(self.peers()),
            15 => Msg::Attach,
            16 => Msg::AttachAck { ok: self.bool(), alternatives: self.peers() },
            17 => Msg::Gossip(Gossip {
                id: MsgId::UNSET,
                round: self.u16(),
                kind: if self.bool() { GossipKind::Event } else { GossipKind::Record },
                body: self.body(),
            }),
            18 => Msg::IHave((0..self.len()).map(|_| (MsgId(self.bytes()), self.u16())).collect()),
            19 => Msg::Graft { id: if self.bool() { Some(MsgId(self.bytes())) } else { None }, round: self.u16() },
            20 => Msg::Prune,
            21 => Msg::DirDigest((0..self.len()).map(|_| self.u32()).collect()),
            22 => Msg::DirRecords((0..self.len()).map(|_| self.body()).collect()),
            23 => Msg::Routed(Routed {
                src: self.node(),
                dst: self.node(),
                msg_id: self.int(),
                ttl: self.u8(),
                hops: self.u8(),
                attempt: self.u8(),
                payload: self.body(),
                sig: Sig(self.bytes()),
            }),
            24 => Msg::RoutedAck {
                src: self.node(),
                dst: self.node(),
                msg_id: self.int(),
                hops: self.u8(),
                of: MsgId(self.bytes()),
                sig: Sig(self.bytes()),
            },
            25 => Msg::Undeliverable {
                src: self.node(),
                dst: self.node(),
                msg_id: self.int(),
                reason: self.reason(),
                of: MsgId(self.bytes()),
                sig: Sig(self.bytes()),
            },
            26 => Msg::Interest(Interest {
                mode: DeliveryMode::ALL[self.below(3) as usize],
                authors: (0..self.len()).map(|_| Key32(self.bytes())).collect(),
            }),
            27 => Msg::FindNode(FindNode { id: self.int(), key: self.node(), hops: self.u8() }),
            28 => Msg::Found(Found {
                id: self.int(),
                key: self.node(),
                hops: self.u8(),
                record: if self.bool() { Some(self.body()) } else { None },
                holders: self.peers(),
            }),
            29 => Msg::Store((0..self.len()).map(|_| self.body()).collect()),
            30 => Msg::Neighbours { ask: self.bool(), peers: self.peers() },
            31 => Msg::Subscribe((0..self.len()).map(|_| self.node()).collect()),
            32 => Msg::Unsubscribe((0..self.len()).map(|_| self.node()).collect()),
            33 => Msg::TopicAck {
                topic: self.node(),
                depth: if self.bool() { Some(self.u8()) } else { None },
                recent: (0..self.len()).map(|_| MsgId(self.bytes())).collect(),
            },
            34 => Msg::TopicRedirect { topic: self.node(), to: self.node() },
            35 => Msg::TopicRefused(self.node()),
            36 => Msg::TopicPost { topic: self.node(), routed: self.bool(), body: self.body() },
            37 => Msg::TopicFetch { topic: self.node(), id: MsgId(self.bytes()) },
            38 => Msg::DirIds((0..self.len()).map(|_| (self.node(), self.int())).collect()),
            39 => Msg::DirWant((0..self.len()).map(|_| self.node()).collect()),
            40 => Msg::GossipAlso(
                Gossip {
                    id: MsgId::UNSET,
                    round: self.u16(),
                    kind: if self.bool() { GossipKind::Event } else { GossipKind::Record },
                    body: self.body(),
                },
                (0..self.len()).map(|_| self.node()).collect(),
            ),
            41 => Msg::LinkSent(self.u32()),
            42 => Msg::TopicDigest {
                count: self.u32(),
                hash: self.int(),
                relisted: self.bool(),
                check: (0..self.len()).map(|_| (self.node(), self.u32())).collect(),
            },
            43 => Msg::TopicResync(self.u32()),
            _ => Msg::Hello(Box::new(Hello { record: self.record(), nonce: self.int() })),
        }
    }
}

fn old_encode(msg: &Msg) -> Vec<u8> {
    rmp_serde::to_vec(msg).expect("serde encodes")
}

/// What the serde decoder made of a body (trailing bytes refused, as `decode_body` did).
fn old_decode(bytes: &[u8]) -> Option<Msg> {
    let (msg, rest): (Msg, _) = crate::msgpack::from_prefix(bytes).ok()?;
    rest.is_empty().then_some(msg)
}

fn new_encode(msg: &Msg) -> Vec<u8> {
    let mut out = Vec::new();
    codec::put_msg(&mut out, msg);
    out
}

fn new_decode(bytes: &[u8]) -> Option<Msg> {
    let mut r = Reader::new(bytes);
    let msg = codec::read_msg(&mut r).ok()?;
    r.rest().is_empty().then_some(msg)
}

/// The oracle check for one input: same value where both decode; nothing the serde decoder
/// refused; and a refusal of what serde accepted only for a form our encoders never write.
fn check(input: &[u8], refusals: &mut usize) {
    match (new_decode(input), old_decode(input)) {
        (Some(a), Some(b)) => assert_eq!(a, b, "{input:02x?}"),
        (Some(a), None) => panic!("accepted what serde refused: {a:?} from {input:02x?}"),
        (None, Some(b)) => {
            assert_ne!(old_encode(&b), input, "refused a canonical encoding of {b:?}");
            *refusals += 1;
        }
        (None, None) => {}
    }
}

#[test]
fn random_messages_encode_to_the_serde_bytes_and_decode_back() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20_000 {
        let msg = rng.msg();
        seen.insert(msg.name());
        let bytes = new_encode(&msg);
        assert_eq!(bytes, old_encode(&msg), "{msg:?}");
        assert_eq!(new_decode(&bytes).as_ref(), Some(&msg));
        if let Msg::Hello(h) = &msg {
            let rec = &h.record;
            let old_fields = (
                rec.node,
                rec.owner,
                rec.node_key,
                &rec.delegation,
                rec.role,
                rec.addr,
                &rec.homes,
                rec.seq,
                rec.expires,
            );
            let mut h = Sha256::new();
            h.update(b"nostrp2p/node-record/v1");
            h.update(rmp_serde::to_vec(&old_fields).expect("encodes"));
            let old_hash: [u8; 32] = h.finalize().into();
            assert_eq!(rec.signing_hash(), old_hash, "signed bytes of {rec:?}");
            assert_eq!(encode_record(rec), rmp_serde::to_vec(rec).expect("encodes"));
        }
    }
    assert_eq!(seen.len(), 46, "every variant (and both gossip kinds of both gossip frames) generated: {seen:?}");
}

#[test]
fn mutated_and_random_input_is_judged_like_serde_did() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut refusals = 0;
    let mut inputs = 0;
    for _ in 0..6_000 {
        let msg = rng.msg();
        let good = new_encode(&msg);
        for _ in 0..8 {
            let mut m = good.clone();
            match rng.below(6) {
                0 if !m.is_empty() => {
                    let i = rng.below(m.len() as u64) as usize;
                    m[i] ^= 1 << rng.below(8);
                }
                1 if !m.is_empty() => {
                    // An interesting marker: nil, bools, int/bin/str/array/map headers.
                    const MARKERS: [u8; 16] = [
                        0xc0, 0xc2, 0xc3, 0xcc, 0xcd, 0xd0, 0xc4, 0xc5, 0xa1, 0xd9, 0x90, 0x91, 0xdc, 0x80, 0x81, 0xff,
                    ];
                    let i = rng.below(m.len() as u64) as usize;
                    m[i] = MARKERS[rng.below(16) as usize];
                }
                2 => m.truncate(rng.below(m.len() as u64 + 1) as usize),
                3 => {
                    let i = rng.below(m.len() as u64 + 1) as usize;
                    m.insert(i, rng.next() as u8);
                }
                4 if !m.is_empty() => {
                    let i = rng.below(m.len() as u64) as usize;
                    m.remove(i);
                }
                _ => m = (0..rng.below(40)).map(|_| rng.next() as u8).collect(),
            }
            check(&m, &mut refusals);
            inputs += 1;
        }
    }
    // The refused-but-serde-accepted forms are rare corners (a struct as a map, a variant by
    // number, an id as an integer array, bytes in a str); mostly both refuse or both agree.
    assert!(refusals < inputs / 20, "{refusals} of {inputs}");
}

#[test]
fn records_decode_like_serde_did_trailing_bytes_ignored() {
    let mut rng = Rng(7);
    for _ in 0..3_000 {
        let rec = rng.record();
        let mut bytes = encode_record(&rec);
        bytes.extend_from_slice(&[0xc1, 0x00]); // ignored by both: a body's id covers them
        assert_eq!(decode_record(&bytes).as_ref(), Ok(&rec));
        let i = rng.below(bytes.len() as u64) as usize;
        bytes[i] ^= 1 << rng.below(8);
        let old = crate::msgpack::from_slice::<NodeRecord>(&bytes).ok();
        match (decode_record(&bytes).ok(), old) {
            (Some(a), Some(b)) => assert_eq!(a, b),
            (Some(a), None) => panic!("accepted what serde refused: {a:?}"),
            (None, Some(b)) => assert_ne!(&encode_record(&b)[..], &bytes[..bytes.len() - 2]),
            (None, None) => {}
        }
    }
}

#[test]
fn forms_serde_tolerated_and_no_encoder_writes_are_refused() {
    // Each was accepted by the serde decoder; none is what an encoder of this protocol writes
    // (the golden file pins what they write), so refusing them loses no honest peer.
    let find = |fields: &[u8]| {
        let mut b = vec![0x81, 0xa8];
        b.extend_from_slice(b"FindNode");
        b.extend_from_slice(fields);
        b
    };
    let canonical = find(&[0x93, 0x01, 0x02, 0x03]);
    assert_eq!(new_decode(&canonical), old_decode(&canonical));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // {"id":1,"key":2,"hops":3}: a struct as a map.
        (
            "struct as map",
            find(&[0x83, 0xa2, b'i', b'd', 1, 0xa3, b'k', b'e', b'y', 2, 0xa4, b'h', b'o', b'p', b's', 3]),
        ),
        // LinkResend's list of integers as a byte string.
        ("list as bin", {
            let mut b = vec![0x81, 0xaa];
            b.extend_from_slice(b"LinkResend");
            b.extend_from_slice(&[0xc4, 0x02, 5, 7]);
            b
        }),
        // {27: [..]}: the variant by its number.
        ("variant by number", vec![0x81, 27, 0x93, 0x01, 0x02, 0x03]),
        // {bin "FindNode": [..]}: the variant name as bytes.
        ("variant as bin", {
            let mut b = vec![0x81, 0xc4, 0x08];
            b.extend_from_slice(b"FindNode");
            b.extend_from_slice(&[0x93, 0x01, 0x02, 0x03]);
            b
        }),
        // 8 (Join's number) as a unit variant.
        ("unit variant by number", vec![0x08]),
        // Auth with its signature as 64 integers.
        ("fixed bytes as array", {
            let mut b = vec![0x81, 0xa4];
            b.extend_from_slice(b"Auth");
            b.extend_from_slice(&[0xdc, 0x00, 0x40]);
            b.extend_from_slice(&[0x01; 64]);
            b
        }),
        // A payload as a str that is not UTF-8.
        ("body as non-UTF-8 str", {
            let mut b = vec![0x81, 0xa9];
            b.extend_from_slice(b"TopicPost");
            b.extend_from_slice(&[0x93, 0x05, 0xc3, 0xa1, 0xff]);
            b
        }),
    ];
    for (what, bytes) in cases {
        let old = old_decode(&bytes).unwrap_or_else(|| panic!("{what}: serde accepted this"));
        assert_ne!(old_encode(&old), bytes, "{what}: not canonical");
        assert_eq!(new_decode(&bytes), None, "{what}");
    }
    // Accepted by both: integers in a wider form than needed, and `{"Join": nil}`.
    for bytes in [vec![0x81, 0xa1, b'P', 0xcf, 0, 0, 0, 0, 0, 0, 0, 7], vec![0x81, 0xa4, b'J', b'o', b'i', b'n', 0xc0]]
    {
        assert!(new_decode(&bytes).is_some());
        assert_eq!(new_decode(&bytes), old_decode(&bytes));
    }
}
