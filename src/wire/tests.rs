//! Codec tests: round trips, and bad input (truncated, oversized, wrong version, garbage) that
//! must come back as a `DecodeError`, never a panic.

use super::*;

fn sample_record() -> NodeRecord {
    NodeRecord {
        node: NodeId(0x0102_0304_0506_0708),
        owner: Key32([7; 32]),
        node_key: Key32([9; 32]),
        delegation: Some(Body::from_slice(b"{\"kind\":30078}")),
        role: Role::Leaf,
        addr: None,
        homes: vec![NodeId(1), NodeId(2)],
        seq: 1_700_000_000_000,
        expires: 1_700_100_000,
        sig: Sig([3; 64]),
    }
}

fn samples() -> Vec<Msg> {
    vec![
        Msg::Hello(Box::new(Hello { record: sample_record(), nonce: 42 })),
        Msg::Auth(Sig([1; 64])),
        Msg::Ping(7),
        Msg::Pong(7),
        Msg::ReachCheck(Addr::v4([127, 0, 0, 2], 20000)),
        Msg::ReachResult { ok: true, addr: Addr::v4([10, 0, 0, 1], 1) },
        Msg::Join,
        Msg::FwdJoin { peer: PeerRef { node: NodeId(5), addr: Addr::v4([1, 2, 3, 4], 5) }, ttl: 6 },
        Msg::Neighbor { high: true },
        Msg::NeighborReply { ok: false },
        Msg::Disconnect { alive: true },
        Msg::Shuffle { origin: PeerRef { node: NodeId(1), addr: Addr::v4([1, 1, 1, 1], 1) }, peers: vec![], ttl: 3 },
        Msg::ShuffleReply(vec![PeerRef { node: NodeId(2), addr: Addr::v4([2, 2, 2, 2], 2) }]),
        Msg::Attach,
        Msg::AttachAck { ok: false, alternatives: vec![] },
        Msg::Gossip(Gossip {
            id: MsgId([4; 32]),
            round: 3,
            kind: GossipKind::Event,
            body: Body::from_slice(&[1, 2, 3]),
        }),
        Msg::IHave(vec![(MsgId([5; 32]), 1), (MsgId([6; 32]), 2)]),
        Msg::Graft { id: Some(MsgId([5; 32])), round: 1 },
        Msg::Graft { id: None, round: 0 },
        Msg::Prune,
        Msg::DirDigest(vec![0; 256]),
        Msg::DirRecords(vec![Body::from_slice(b"abc")]),
        Msg::Routed(Routed {
            src: NodeId(1),
            dst: NodeId(2),
            msg_id: 9,
            ttl: 3,
            hops: 0,
            attempt: 1,
            payload: Body::from_slice(b"x"),
        }),
        Msg::RoutedAck { src: NodeId(2), dst: NodeId(1), msg_id: 9, hops: 2 },
        Msg::Undeliverable { src: NodeId(3), dst: NodeId(1), msg_id: 9, reason: UndeliverableReason::NotAttached },
    ]
}

#[test]
fn every_message_round_trips_and_frame_len_matches() {
    for msg in samples() {
        let frame = encode_frame(&msg).expect("small messages encode");
        assert_eq!(frame.len(), frame_len(&msg), "{msg:?}");
        let (back, used) = decode_frame(&frame).expect("own frames decode");
        assert_eq!(used, frame.len());
        assert_eq!(back, msg);
    }
}

#[test]
fn compact_sizes() {
    // Control messages must stay tiny: they dominate a leaf's idle traffic.
    assert!(frame_len(&Msg::Ping(1)) <= 12, "{}", frame_len(&Msg::Ping(1)));
    let ihave = Msg::IHave(vec![(MsgId([5; 32]), 1)]);
    assert!(frame_len(&ihave) <= 50, "{}", frame_len(&ihave));
}

#[test]
fn truncated_frames_ask_for_more() {
    let frame = encode_frame(&samples()[0]).expect("encodes");
    for cut in 0..frame.len() {
        match decode_frame(&frame[..cut]) {
            Err(DecodeError::Truncated { need, have }) => {
                assert_eq!(have, cut);
                assert!(need > cut);
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

#[test]
fn oversized_and_empty_lengths_are_rejected_before_reading() {
    let big = ((MAX_FRAME_BYTES + 1) as u32).to_be_bytes();
    assert!(matches!(decode_header(big), Err(DecodeError::TooLarge { .. })));
    assert!(matches!(decode_header(u32::MAX.to_be_bytes()), Err(DecodeError::TooLarge { .. })));
    assert!(matches!(decode_header([0; 4]), Err(DecodeError::Empty)));
    let huge_body = Msg::DirRecords(vec![Body::from_slice(&vec![0u8; MAX_FRAME_BYTES])]);
    assert!(matches!(encode_frame(&huge_body), Err(EncodeError::TooLarge { .. })));
}

#[test]
fn wrong_version_and_trailing_bytes() {
    let mut frame = encode_frame(&Msg::Ping(1)).expect("encodes");
    frame[4] = PROTOCOL_VERSION + 1;
    assert!(matches!(decode_frame(&frame), Err(DecodeError::BadVersion { .. })));
    let mut frame = encode_frame(&Msg::Ping(1)).expect("encodes");
    frame.push(0xc0);
    let len = (frame.len() - 4) as u32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    assert!(matches!(decode_frame(&frame), Err(DecodeError::TrailingBytes { extra: 1 })));
}

#[test]
fn garbage_never_panics() {
    // Deterministic pseudo-random garbage plus mutations of valid frames.
    let mut x: u64 = 0x1234_5678;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..20_000 {
        let n = (next() % 300) as usize;
        let mut body: Vec<u8> = (0..n).map(|_| next() as u8).collect();
        if !body.is_empty() {
            body[0] = PROTOCOL_VERSION;
        }
        let _ = decode_body(&body);
    }
    for msg in samples() {
        let frame = encode_frame(&msg).expect("encodes");
        for i in 4..frame.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut f = frame.clone();
                f[i] ^= flip;
                let _ = decode_frame(&f);
            }
        }
    }
    // A bin header announcing 4 GiB inside a small frame must fail without allocating it.
    let evil = [PROTOCOL_VERSION, 0x81, 0xa6, b'G', b'o', b's', b's', b'i', b'p', 0x94, 0xc6, 0xff, 0xff, 0xff, 0xff];
    assert!(decode_body(&evil).is_err());
}

#[test]
fn decode_error_keeps_its_cause() {
    use std::error::Error;
    let err = decode_body(&[PROTOCOL_VERSION, 0xc1]).expect_err("0xc1 is never valid msgpack");
    assert!(matches!(err, DecodeError::Malformed(_)));
    assert!(err.source().is_some());
    assert!(!err.to_string().is_empty());
}
