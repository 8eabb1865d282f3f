//! `AppMsg`: what one node's application layer says to another inside an overlay unicast
//! payload. MessagePack (rmp-serde, structs as arrays) behind a version number; no IO.
//!
//! Decoding never panics and never allocates more than the input: the length is checked
//! against [`MAX_APP_MSG_BYTES`] first, rmp-serde reads from a slice (a length prefix larger
//! than what is left is an error), and counts are checked after decoding. A message that does
//! not decode is a [`DecodeError`]: the caller counts it and drops it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::event::{packed, Event, EventId};
use crate::keys::PublicKey;
use crate::limits::{CATCHUP_PAGE_EVENTS, MAX_APP_MSG_BYTES, SYNC_PAGE_EVENTS};

/// Version of the application protocol; a message of another version is refused.
pub const APP_MSG_VERSION: u16 = 2;

/// Opaque bytes, encoded as one MessagePack `bin` (not an array of integers).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} B)", self.0.len())
    }
}

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

/// What a node asks another for when it lacks it locally (spec §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FetchTarget {
    /// The latest profile (kind 0) of this user.
    Profile(#[serde(with = "packed::key")] PublicKey),
    /// The follow list (kind 3) of this user; only the user's own server answers it.
    FollowList(#[serde(with = "packed::key")] PublicKey),
    /// A post by id; answered only if it is broadcast-class.
    Post(#[serde(with = "packed::id")] EventId),
}

/// One sealed envelope held by a support server, with the id its `MailAck` names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Mailbox-local id.
    pub id: u64,
    /// `seal::Sealed` bytes; only the destination can open them.
    pub sealed: Bytes,
}

/// An application message. See the module doc of `app` for the exchanges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppMsg {
    /// Direct delivery of a reply, mention or like to a recipient's node.
    Event(#[serde(with = "packed::event")] Event),
    /// To a support server: keep this for node `dst` until it comes back.
    Deposit {
        /// The node the envelope is for.
        dst: u64,
        /// Sealed to `dst`'s node key.
        sealed: Bytes,
    },
    /// To a support server: hand over what you keep for me.
    MailReq,
    /// From a support server: envelopes kept for the receiver; `more` if others follow.
    Mail {
        /// The envelopes.
        envelopes: Vec<Envelope>,
        /// More envelopes wait (sent after the ack).
        more: bool,
    },
    /// To a support server: these envelopes were received; delete them.
    MailAck {
        /// Envelope ids.
        ids: Vec<u64>,
    },
    /// Catch-up: broadcast-class events with `since <= created_at <= until`, newest first.
    SyncReq {
        /// Window start (Unix seconds).
        since: u64,
        /// Window end (Unix seconds).
        until: u64,
        /// Events wanted at most.
        limit: u32,
    },
    /// Catch-up answer; `more` is the `until` to ask next when the window has more.
    SyncResp {
        /// Broadcast-class events only.
        #[serde(with = "packed::events")]
        events: Vec<Event>,
        /// Resume point (strictly below the request's `until`), if there is more.
        more: Option<u64>,
    },
    /// A request for a profile, follow list or post.
    FetchReq(FetchTarget),
    /// The answer (empty when this node does not have it).
    FetchResp {
        /// What was asked.
        target: FetchTarget,
        /// At most one event.
        #[serde(with = "packed::events")]
        events: Vec<Event>,
    },
    /// Follow-mode catch-up (issue 10): broadcast-class events by `author` with
    /// `since <= created_at <= until`, newest first; asked of the author's tree parent, or of
    /// the author's own server.
    AuthorSyncReq {
        /// The followed author.
        #[serde(with = "packed::key")]
        author: PublicKey,
        /// Window start (Unix seconds).
        since: u64,
        /// Window end (Unix seconds).
        until: u64,
        /// Events wanted at most (clamped to `CATCHUP_PAGE_EVENTS`).
        limit: u32,
    },
    /// The answer: that author's events (empty when this node stores none in the window).
    AuthorSyncResp {
        /// The author asked for.
        #[serde(with = "packed::key")]
        author: PublicKey,
        /// Broadcast-class events by `author` only.
        #[serde(with = "packed::events")]
        events: Vec<Event>,
    },
}

#[derive(Serialize)]
struct WireRef<'a> {
    v: u16,
    msg: &'a AppMsg,
}

#[derive(Deserialize)]
struct Wire {
    v: u16,
    msg: AppMsg,
}

/// Why bytes from a peer are not an [`AppMsg`]. Counted and dropped by the caller.
#[derive(Debug)]
pub enum DecodeError {
    /// Longer than [`MAX_APP_MSG_BYTES`]; not decoded at all.
    TooLarge {
        /// Payload length.
        len: usize,
    },
    /// Not a valid MessagePack `AppMsg`.
    Malformed(rmp_serde::decode::Error),
    /// Another protocol version.
    Version(u16),
    /// More events or ids than one message may carry.
    TooMany,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLarge { len } => {
                write!(f, "application message of {len} bytes exceeds {MAX_APP_MSG_BYTES}")
            }
            DecodeError::Malformed(_) => f.write_str("malformed application message"),
            DecodeError::Version(v) => write!(f, "application message version {v}, expected {APP_MSG_VERSION}"),
            DecodeError::TooMany => f.write_str("application message carries too many items"),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DecodeError::Malformed(e) => Some(e),
            _ => None,
        }
    }
}

/// Encodes a message (infallible for these types; an encoder error would be a bug, so it
/// yields an empty payload that every receiver rejects rather than a panic).
pub fn encode(msg: &AppMsg) -> Vec<u8> {
    rmp_serde::to_vec(&WireRef { v: APP_MSG_VERSION, msg }).unwrap_or_default()
}

/// Decodes and bounds-checks a message.
///
/// # Errors
/// [`DecodeError`] saying why the bytes are not a message of this version.
pub fn decode(bytes: &[u8]) -> Result<AppMsg, DecodeError> {
    if bytes.len() > MAX_APP_MSG_BYTES {
        return Err(DecodeError::TooLarge { len: bytes.len() });
    }
    let wire: Wire = crate::msgpack::from_slice(bytes).map_err(DecodeError::Malformed)?;
    if wire.v != APP_MSG_VERSION {
        return Err(DecodeError::Version(wire.v));
    }
    let too_many = match &wire.msg {
        AppMsg::SyncResp { events, .. } => events.len() > SYNC_PAGE_EVENTS,
        AppMsg::FetchResp { events, .. } => events.len() > 1,
        AppMsg::AuthorSyncResp { events, .. } => events.len() > CATCHUP_PAGE_EVENTS,
        // Each envelope or id costs at least a few bytes, so the size check bounds these.
        _ => false,
    };
    if too_many {
        return Err(DecodeError::TooMany);
    }
    Ok(wire.msg)
}
