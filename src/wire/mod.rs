//! Server-to-server messages and their frame codec. No IO, no clock, no state.
//!
//! A frame is `u32 big-endian length ‖ u8 PROTOCOL_VERSION ‖ MessagePack(Msg)`, where the length
//! counts the version byte and the body and is at most [`MAX_FRAME_BYTES`]. MessagePack is the
//! compact form `rmp_serde` wrote (structs as arrays, enum variants by name), now written and read
//! by hand in `codec` (binary size, README "Benchmarks"). Decoding never panics on any input: a bad length, version or body is a [`DecodeError`]; the caller counts it and drops
//! the connection (spec overlay.md §2.9).

mod codec;
mod msg;
pub mod types;

use std::error::Error;
use std::fmt;

pub use crate::msgpack::ReadError;

pub use msg::{
    DeliveryMode, FindNode, Found, Gossip, GossipKind, Hello, Interest, Msg, NodeRecord, Routed, UndeliverableReason,
    FEATURE_ALSO, FEATURE_DATAGRAM, FEATURE_DIGESTS, FEATURE_DIR_IDS, FEATURE_INTEREST, FEATURE_LINK_SENT,
    FEATURE_RING, FEATURE_TREES,
};
pub use types::{Addr, Body, ConnId, Key32, MsgId, NodeId, PeerRef, Role, Sig};

/// Version byte of every frame; a peer speaking another version is disconnected.
pub const PROTOCOL_VERSION: u8 = 3;

/// Largest frame (version byte + body) accepted or produced: 256 KiB. Bounds the reader's buffer
/// per connection (worst case `MAX_FRAME_BYTES` per reader task). Events are far smaller
/// (`MAX_BODY_BYTES`); the rest is room for batched directory records and IHAVE lists.
pub const MAX_FRAME_BYTES: usize = 256 * 1024;

/// Largest broadcast or unicast payload: an event (`limits::MAX_EVENT_BYTES` canonical bytes,
/// whose MessagePack form is at most a little larger) or a node record.
pub const MAX_BODY_BYTES: usize = crate::limits::MAX_EVENT_BYTES + 4 * 1024;

/// Length of the frame header (the u32 length prefix).
pub const HEADER_BYTES: usize = 4;

const _: () = assert!(MAX_FRAME_BYTES >= MAX_BODY_BYTES + 16 * 1024);

/// Why bytes from a peer are not a frame. The connection that sent them is dropped.
#[derive(Debug)]
pub enum DecodeError {
    /// The length prefix exceeds [`MAX_FRAME_BYTES`].
    TooLarge {
        /// Announced length.
        len: usize,
    },
    /// The length prefix is 0 (no version byte).
    Empty,
    /// The frame speaks another protocol version.
    BadVersion {
        /// Version byte received.
        got: u8,
    },
    /// Fewer bytes than the header announced (only from [`decode_frame`] on a partial buffer).
    Truncated {
        /// Bytes needed for the whole frame.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// The body is not a valid MessagePack `Msg`.
    Malformed(ReadError),
    /// The body decoded but bytes were left over.
    TrailingBytes {
        /// How many bytes were left.
        extra: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLarge { len } => write!(f, "frame of {len} bytes exceeds {MAX_FRAME_BYTES}"),
            DecodeError::Empty => write!(f, "empty frame"),
            DecodeError::BadVersion { got } => write!(f, "protocol version {got}, expected {PROTOCOL_VERSION}"),
            DecodeError::Truncated { need, have } => write!(f, "truncated frame: need {need} bytes, have {have}"),
            DecodeError::Malformed(_) => write!(f, "malformed message body"),
            DecodeError::TrailingBytes { extra } => write!(f, "{extra} trailing bytes after message"),
        }
    }
}

impl Error for DecodeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            DecodeError::Malformed(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a message could not be framed (an oversized local payload; never peer input).
#[derive(Debug)]
pub enum EncodeError {
    /// The encoded message would exceed [`MAX_FRAME_BYTES`].
    TooLarge {
        /// Encoded length (version byte + body).
        len: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::TooLarge { len } => write!(f, "message of {len} bytes exceeds {MAX_FRAME_BYTES}"),
        }
    }
}

impl Error for EncodeError {}

/// Encode `msg` as one complete frame (header included).
///
/// # Errors
/// [`EncodeError::TooLarge`] if the frame would exceed [`MAX_FRAME_BYTES`].
pub fn encode_frame(msg: &Msg) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&[0, 0, 0, 0, PROTOCOL_VERSION]);
    codec::put_msg(&mut out, msg);
    let len = out.len() - HEADER_BYTES;
    if len > MAX_FRAME_BYTES {
        return Err(EncodeError::TooLarge { len });
    }
    let len32 = u32::try_from(len).map_err(|_| EncodeError::TooLarge { len })?;
    out[..HEADER_BYTES].copy_from_slice(&len32.to_be_bytes());
    Ok(out)
}

/// Bytes `msg` occupies on the wire as a frame (header included); used by the simulator's meter.
pub fn frame_len(msg: &Msg) -> usize {
    let mut out = Vec::new();
    codec::put_msg(&mut out, msg);
    out.len() + HEADER_BYTES + 1
}

/// The MessagePack form of a node record: a directory body (its id is the SHA-256 of these
/// bytes) and what a `Hello` carries.
pub fn encode_record(record: &NodeRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    codec::put_record_fields(&mut out, record, true);
    out
}

/// Decode a node record from the start of `bytes`. Bytes after it are ignored, as the serde
/// decoder before it did (a directory body's id covers every byte, so they cannot be changed
/// unnoticed; the record's signature covers its fields).
///
/// # Errors
/// The bytes do not start with a node record.
pub fn decode_record(bytes: &[u8]) -> Result<NodeRecord, ReadError> {
    codec::read_record(&mut crate::msgpack::Reader::new(bytes))
}

/// Check a length prefix; returns the number of bytes that follow it.
///
/// # Errors
/// [`DecodeError::TooLarge`] or [`DecodeError::Empty`].
pub fn decode_header(header: [u8; HEADER_BYTES]) -> Result<usize, DecodeError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(DecodeError::TooLarge { len });
    }
    if len == 0 {
        return Err(DecodeError::Empty);
    }
    Ok(len)
}

/// Decode the part of a frame after the header (version byte + body).
///
/// # Errors
/// Any [`DecodeError`] but `Truncated`.
pub fn decode_body(bytes: &[u8]) -> Result<Msg, DecodeError> {
    let Some((&version, body)) = bytes.split_first() else {
        return Err(DecodeError::Empty);
    };
    if version != PROTOCOL_VERSION {
        return Err(DecodeError::BadVersion { got: version });
    }
    let mut r = crate::msgpack::Reader::new(body);
    let msg = codec::read_msg(&mut r).map_err(DecodeError::Malformed)?;
    if !r.rest().is_empty() {
        return Err(DecodeError::TrailingBytes { extra: r.rest().len() });
    }
    Ok(msg)
}

/// Decode one frame from the start of `buf`; returns the message and the bytes consumed.
///
/// # Errors
/// [`DecodeError::Truncated`] if `buf` holds less than one whole frame (read more and retry), any
/// other variant if the frame is bad (drop the connection).
pub fn decode_frame(buf: &[u8]) -> Result<(Msg, usize), DecodeError> {
    let Some(header) = buf.get(..HEADER_BYTES) else {
        return Err(DecodeError::Truncated { need: HEADER_BYTES, have: buf.len() });
    };
    let mut h = [0u8; HEADER_BYTES];
    h.copy_from_slice(header);
    let len = decode_header(h)?;
    let end = HEADER_BYTES + len;
    let Some(rest) = buf.get(HEADER_BYTES..end) else {
        return Err(DecodeError::Truncated { need: end, have: buf.len() });
    };
    Ok((decode_body(rest)?, end))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_codec;
