//! The server side of RFC 6455 websockets as pure code: the handshake's accept key, a frame
//! decoder that reassembles messages within [`MAX_WS_MESSAGE_BYTES`], and frame encoding.
//! No IO: `front.rs` feeds bytes in and writes what comes out.
//!
//! Why our own ~200 lines instead of `async-tungstenite`: we already parse the HTTP head
//! (httparse), so only framing is left; tungstenite would bring its own HTTP types, a second
//! `rand`, `getrandom` and `digest`, and `thiserror`/`syn` (≈ 25 crates to build on a Pi),
//! and its IO loop would hide the bounds this module states and tests directly.
//!
//! Rules enforced (RFC 6455 §5): client frames must be masked; RSV bits must be 0 (no
//! extension is negotiated); control frames are ≤ 125 bytes and not fragmented; a
//! continuation needs a message in progress and a new message needs none; text must be
//! UTF-8 (checked on the whole message, §8.1); a frame header announcing more than the
//! message bound fails before any payload is read, so a claim never allocates.

use std::time::Duration;

use sha1::{Digest, Sha1};

use crate::limits::{MAX_WS_MESSAGE_BYTES, WS_MSGS_PER_SEC, WS_MSG_BURST};

/// RFC 6455 §1.3: appended to the client's key before hashing.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Opcodes (RFC 6455 §5.2).
const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// Close codes (RFC 6455 §7.4.1).
pub(crate) const CLOSE_NORMAL: u16 = 1000;
/// The server is going away (shutdown).
pub(crate) const CLOSE_GOING_AWAY: u16 = 1001;
/// Binary data, which NIP-01 does not use.
pub(crate) const CLOSE_UNSUPPORTED: u16 = 1003;
/// The client does not read its messages fast enough (outbound queue full).
pub(crate) const CLOSE_POLICY: u16 = 1008;

/// A whole message or control frame from the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WsEvent {
    /// A complete text message (UTF-8 checked).
    Text(String),
    /// A ping: answer with a pong carrying the same payload.
    Ping(Vec<u8>),
    /// The client closes: answer with a close frame and end the connection.
    Close,
}

/// Why a client's bytes are not a valid websocket stream; each maps to a close code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WsError {
    /// Broken framing (unmasked, RSV set, bad opcode or fragmentation): 1002.
    Protocol(&'static str),
    /// A message longer than [`MAX_WS_MESSAGE_BYTES`]: 1009.
    TooBig,
    /// A text message that is not UTF-8: 1007.
    InvalidUtf8,
    /// A binary message (NIP-01 is text): 1003.
    Binary,
}

impl WsError {
    /// The close code to send (RFC 6455 §7.4.1).
    pub(crate) fn close_code(self) -> u16 {
        match self {
            WsError::Protocol(_) => 1002,
            WsError::TooBig => 1009,
            WsError::InvalidUtf8 => 1007,
            WsError::Binary => CLOSE_UNSUPPORTED,
        }
    }
}

impl std::fmt::Display for WsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WsError::Protocol(why) => write!(f, "websocket protocol error: {why}"),
            WsError::TooBig => write!(f, "websocket message larger than {MAX_WS_MESSAGE_BYTES} bytes"),
            WsError::InvalidUtf8 => write!(f, "websocket text message is not UTF-8"),
            WsError::Binary => write!(f, "binary websocket messages are not supported"),
        }
    }
}

impl std::error::Error for WsError {}

/// Whether `key` is a `Sec-WebSocket-Key`: base64 of 16 bytes (24 characters, `==` end).
pub(crate) fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() == 24 && b[22..] == *b"==" && b[..22].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
}

/// `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2).
pub(crate) fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(ACCEPT_GUID.as_bytes());
    base64(&h.finalize())
}

/// Standard base64 with padding (RFC 4648 §4); only used for the 20-byte accept hash.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Reassembles client frames into messages. Holds the message in progress (≤
/// [`MAX_WS_MESSAGE_BYTES`]).
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    /// Payload of a fragmented text message so far (`Some` while one is in progress).
    partial: Option<Vec<u8>>,
}

impl Decoder {
    /// Takes one frame from the front of `buf` if it is complete, returning the event it
    /// completes (`Ok(None)` for a frame that completes nothing, e.g. a fragment or a pong).
    /// Returns `Ok(None)` without consuming anything when `buf` holds less than a frame;
    /// the caller reads more and calls again. A frame announcing more than the message
    /// bound is an error as soon as its header is in.
    ///
    /// # Errors
    /// [`WsError`]: the caller closes the connection with its close code.
    pub(crate) fn decode(&mut self, buf: &mut Vec<u8>) -> Result<Option<WsEvent>, WsError> {
        let Some((fin, opcode, len, header_len)) = frame_header(buf)? else { return Ok(None) };
        let control = opcode >= OP_CLOSE;
        if control && (!fin || len > 125) {
            return Err(WsError::Protocol("fragmented or long control frame"));
        }
        let so_far = self.partial.as_ref().map_or(0, Vec::len);
        if !control && so_far.saturating_add(len) > MAX_WS_MESSAGE_BYTES {
            return Err(WsError::TooBig);
        }
        let Some(frame_end) = header_len.checked_add(len).filter(|&end| end <= buf.len()) else {
            return Ok(None); // the header is in, the payload not yet
        };
        let mask = [buf[header_len - 4], buf[header_len - 3], buf[header_len - 2], buf[header_len - 1]];
        let mut payload: Vec<u8> = buf[header_len..frame_end].to_vec();
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
        buf.drain(..frame_end);
        match opcode {
            OP_PING => Ok(Some(WsEvent::Ping(payload))),
            OP_PONG => Ok(None),
            OP_CLOSE => Ok(Some(WsEvent::Close)),
            OP_BINARY => Err(WsError::Binary),
            OP_TEXT if self.partial.is_some() => Err(WsError::Protocol("new message inside a fragmented one")),
            OP_TEXT if fin => Ok(Some(WsEvent::Text(String::from_utf8(payload).map_err(|_| WsError::InvalidUtf8)?))),
            OP_TEXT => {
                self.partial = Some(payload);
                Ok(None)
            }
            OP_CONTINUATION => {
                let Some(mut msg) = self.partial.take() else {
                    return Err(WsError::Protocol("continuation without a message"));
                };
                msg.extend_from_slice(&payload);
                if fin {
                    Ok(Some(WsEvent::Text(String::from_utf8(msg).map_err(|_| WsError::InvalidUtf8)?)))
                } else {
                    self.partial = Some(msg);
                    Ok(None)
                }
            }
            _ => Err(WsError::Protocol("unknown opcode")),
        }
    }
}

/// `(fin, opcode, payload length, header length)` of the frame at the front of `buf`, or
/// `None` when the header is not complete yet.
fn frame_header(buf: &[u8]) -> Result<Option<(bool, u8, usize, usize)>, WsError> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    if b0 & 0x70 != 0 {
        return Err(WsError::Protocol("reserved bits set"));
    }
    if b1 & 0x80 == 0 {
        return Err(WsError::Protocol("client frame not masked"));
    }
    let (len, ext) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 2),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => (u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]), 8),
            None => return Ok(None),
        },
        n => (u64::from(n), 0),
    };
    let header_len = 2 + ext + 4;
    if buf.len() < header_len {
        return Ok(None);
    }
    // Beyond the bound, the exact length no longer matters: it is refused before use.
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    Ok(Some((b0 & 0x80 != 0, b0 & 0x0f, len, header_len)))
}

/// A server text frame (unmasked, RFC 6455 §5.1).
pub(crate) fn text_frame(text: &str) -> Vec<u8> {
    frame(OP_TEXT, text.as_bytes())
}

/// A server ping (empty payload): a live client answers with a pong.
pub(crate) fn ping_frame() -> Vec<u8> {
    frame(OP_PING, &[])
}

/// A server pong carrying `payload`.
pub(crate) fn pong_frame(payload: &[u8]) -> Vec<u8> {
    frame(OP_PONG, payload)
}

/// A server close frame with `code` and no reason.
pub(crate) fn close_frame(code: u16) -> Vec<u8> {
    frame(OP_CLOSE, &code.to_be_bytes())
}

fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n => match u16::try_from(n) {
            Ok(n) => {
                out.push(126);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Err(_) => {
                out.push(127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        },
    }
    out.extend_from_slice(payload);
    out
}

/// Inbound message rate of one websocket: a token bucket of [`WS_MSG_BURST`] tokens refilled
/// at [`WS_MSGS_PER_SEC`]. Time is passed in (milliseconds since the connection opened).
#[derive(Debug)]
pub(crate) struct RateBucket {
    /// Tokens × 1000 (so refills are exact in integer milliseconds).
    milli_tokens: u64,
    last_ms: u64,
}

impl Default for RateBucket {
    fn default() -> RateBucket {
        RateBucket { milli_tokens: u64::from(WS_MSG_BURST) * 1000, last_ms: 0 }
    }
}

impl RateBucket {
    /// Takes a token at `now_ms`, or says how long to wait until one is due.
    pub(crate) fn take(&mut self, now_ms: u64) -> Result<(), Duration> {
        let elapsed = now_ms.saturating_sub(self.last_ms);
        self.last_ms = self.last_ms.max(now_ms);
        let cap = u64::from(WS_MSG_BURST) * 1000;
        self.milli_tokens = (self.milli_tokens + elapsed.saturating_mul(u64::from(WS_MSGS_PER_SEC))).min(cap);
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            Ok(())
        } else {
            let missing = 1000 - self.milli_tokens;
            Err(Duration::from_millis(missing.div_ceil(u64::from(WS_MSGS_PER_SEC))))
        }
    }
}

#[cfg(test)]
#[path = "tests/ws.rs"]
mod tests;
