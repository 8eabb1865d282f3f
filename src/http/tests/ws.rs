//! The websocket codec against RFC 6455's examples and hostile frames.

use super::*;

/// A masked client frame.
fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![first];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

#[test]
fn accept_key_matches_the_rfc_example() {
    assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert!(valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
    assert!(!valid_key("dGhlIHNhbXBsZSBub25jZQ="));
    assert!(!valid_key("dGhlIHNhbXBsZSBub25jZ\r\n=="));
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
}

#[test]
fn the_rfc_masked_hello_decodes() {
    // RFC 6455 §5.7: a single-frame masked text message "Hello".
    let mut buf = vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    let mut d = Decoder::default();
    assert_eq!(d.decode(&mut buf), Ok(Some(WsEvent::Text("Hello".into()))));
    assert!(buf.is_empty());
}

#[test]
fn frames_arriving_in_pieces_and_fragments_reassemble() {
    let mut stream = client_frame(0x01, b"Hel"); // text, not final
    stream.extend(client_frame(0x89, b"p")); // a ping between fragments is allowed
    stream.extend(client_frame(0x80, b"lo")); // final continuation
    let mut d = Decoder::default();
    let mut buf = Vec::new();
    let mut events = Vec::new();
    for b in stream {
        buf.push(b);
        while let Some(ev) = d.decode(&mut buf).expect("valid") {
            events.push(ev);
        }
    }
    assert_eq!(events, [WsEvent::Ping(b"p".to_vec()), WsEvent::Text("Hello".into())]);
}

#[test]
fn a_huge_length_claim_fails_on_the_header_alone() {
    let mut buf = vec![0x81, 0xff];
    buf.extend_from_slice(&u64::MAX.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(Decoder::default().decode(&mut buf), Err(WsError::TooBig));
    // Fragments that add up past the bound fail too.
    let half = vec![b'a'; MAX_WS_MESSAGE_BYTES / 2 + 1];
    let mut d = Decoder::default();
    let mut buf = client_frame(0x01, &half);
    assert_eq!(d.decode(&mut buf), Ok(None));
    buf = client_frame(0x00, &half);
    assert_eq!(d.decode(&mut buf), Err(WsError::TooBig));
    assert_eq!(WsError::TooBig.close_code(), 1009);
}

#[test]
fn protocol_violations_are_errors() {
    let cases: Vec<(Vec<u8>, WsError)> = vec![
        (vec![0x81, 0x00], WsError::Protocol("client frame not masked")),
        (client_frame(0xc1, b"x"), WsError::Protocol("reserved bits set")),
        (client_frame(0x09, b"x"), WsError::Protocol("fragmented or long control frame")),
        (client_frame(0x89, &[0; 126]), WsError::Protocol("fragmented or long control frame")),
        (client_frame(0x80, b"x"), WsError::Protocol("continuation without a message")),
        (client_frame(0x83, b"x"), WsError::Protocol("unknown opcode")),
        (client_frame(0x82, b"x"), WsError::Binary),
        (client_frame(0x81, &[0xff, 0xfe]), WsError::InvalidUtf8),
    ];
    for (mut buf, want) in cases {
        assert_eq!(Decoder::default().decode(&mut buf), Err(want));
    }
    let mut d = Decoder::default();
    let mut buf = client_frame(0x01, b"a");
    assert_eq!(d.decode(&mut buf), Ok(None));
    buf = client_frame(0x81, b"b");
    assert_eq!(d.decode(&mut buf), Err(WsError::Protocol("new message inside a fragmented one")));
}

#[test]
fn server_frames_are_unmasked_with_the_right_length_form() {
    assert_eq!(text_frame("hi"), [0x81, 2, b'h', b'i']);
    assert_eq!(&text_frame(&"x".repeat(200))[..4], &[0x81, 126, 0, 200]);
    assert_eq!(&text_frame(&"x".repeat(70_000))[..10], &[0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    assert_eq!(close_frame(1009), [0x88, 2, 0x03, 0xf1]);
    assert_eq!(pong_frame(b"p"), [0x8a, 1, b'p']);
}

#[test]
fn the_rate_bucket_allows_a_burst_then_the_sustained_rate() {
    let mut b = RateBucket::default();
    for _ in 0..WS_MSG_BURST {
        assert_eq!(b.take(0), Ok(()));
    }
    let wait = b.take(0).expect_err("burst spent");
    assert_eq!(wait, Duration::from_millis(1000 / u64::from(WS_MSGS_PER_SEC)));
    assert_eq!(b.take(wait.as_millis() as u64), Ok(()));
    // A long pause refills to the burst, not beyond.
    for _ in 0..WS_MSG_BURST {
        assert_eq!(b.take(3_600_000), Ok(()));
    }
    assert!(b.take(3_600_000).is_err());
}
