//! `AppMsg`: what one node's application layer says to another inside an overlay unicast
//! payload. MessagePack (the form rmp-serde gave it: structs as arrays, variants by name)
//! behind a version number, written and read by hand on `rmp` (binary size, README
//! "Benchmarks"); the serde derives exist only in tests, as the oracle. No IO.
//!
//! Decoding never panics and never allocates more than the input: the length is checked
//! against [`MAX_APP_MSG_BYTES`] first, every list header is checked against the bytes left
//! before room is reserved, and counts are checked after decoding. A message that does not
//! decode is a [`DecodeError`]: the caller counts it and drops it. The reader accepts what the
//! serde one accepted from our encoders (integers in any width, a unit variant also as
//! `{name: nil}`) and refuses forms none wrote (a struct as a map, a variant by number).

use std::fmt;

use serde::{Deserialize, Serialize};

#[cfg(test)]
use crate::event::packed;
use crate::event::packed::{put_event, read_event, read_fixed};
use crate::event::{Event, EventId};
use crate::keys::PublicKey;
use crate::limits::{CATCHUP_PAGE_EVENTS, MAX_APP_MSG_BYTES, SYNC_PAGE_EVENTS};
use crate::msgpack::{put_array_len, put_bin, put_bool, put_map_len, put_nil, put_str, put_uint, ReadError, Reader};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub enum FetchTarget {
    /// The latest profile (kind 0) of this user.
    Profile(#[cfg_attr(test, serde(with = "packed::key"))] PublicKey),
    /// The follow list (kind 3) of this user; only the user's own server answers it.
    FollowList(#[cfg_attr(test, serde(with = "packed::key"))] PublicKey),
    /// A post by id; answered only if it is broadcast-class.
    Post(#[cfg_attr(test, serde(with = "packed::id"))] EventId),
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
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(test, derive(Serialize, Deserialize))]
pub enum AppMsg {
    /// Direct delivery of a reply, mention or like to a recipient's node.
    Event(#[cfg_attr(test, serde(with = "packed::event"))] Event),
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
        #[cfg_attr(test, serde(with = "packed::events"))]
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
        #[cfg_attr(test, serde(with = "packed::events"))]
        events: Vec<Event>,
    },
    /// Follow-mode catch-up (issue 10): broadcast-class events by `author` with
    /// `since <= created_at <= until`, newest first; asked of the author's tree parent, or of
    /// the author's own server.
    AuthorSyncReq {
        /// The followed author.
        #[cfg_attr(test, serde(with = "packed::key"))]
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
        #[cfg_attr(test, serde(with = "packed::key"))]
        author: PublicKey,
        /// Broadcast-class events by `author` only.
        #[cfg_attr(test, serde(with = "packed::events"))]
        events: Vec<Event>,
    },
}

/// The serde form `[v, msg]`, kept as the oracle of the hand-written codec.
#[cfg(test)]
#[derive(Serialize)]
pub(crate) struct WireRef<'a> {
    pub(crate) v: u16,
    pub(crate) msg: &'a AppMsg,
}

/// The serde reading of `[v, msg]`, kept as the oracle.
#[cfg(test)]
#[derive(Deserialize)]
pub(crate) struct Wire {
    pub(crate) v: u16,
    pub(crate) msg: AppMsg,
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
    Malformed(ReadError),
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

/// Encodes a message: `[v, msg]`.
pub fn encode(msg: &AppMsg) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    put_array_len(&mut out, 2);
    put_uint(&mut out, u64::from(APP_MSG_VERSION));
    put_msg(&mut out, msg);
    out
}

fn put_msg(out: &mut Vec<u8>, msg: &AppMsg) {
    if let AppMsg::MailReq = msg {
        put_str(out, "MailReq");
        return;
    }
    put_map_len(out, 1);
    match msg {
        AppMsg::MailReq => {}
        AppMsg::Event(e) => {
            put_str(out, "Event");
            put_event(out, e);
        }
        AppMsg::Deposit { dst, sealed } => {
            put_str(out, "Deposit");
            put_array_len(out, 2);
            put_uint(out, *dst);
            put_bin(out, &sealed.0);
        }
        AppMsg::Mail { envelopes, more } => {
            put_str(out, "Mail");
            put_array_len(out, 2);
            put_array_len(out, envelopes.len());
            for e in envelopes {
                put_array_len(out, 2);
                put_uint(out, e.id);
                put_bin(out, &e.sealed.0);
            }
            put_bool(out, *more);
        }
        AppMsg::MailAck { ids } => {
            put_str(out, "MailAck");
            put_array_len(out, 1);
            put_array_len(out, ids.len());
            for id in ids {
                put_uint(out, *id);
            }
        }
        AppMsg::SyncReq { since, until, limit } => {
            put_str(out, "SyncReq");
            put_array_len(out, 3);
            put_uint(out, *since);
            put_uint(out, *until);
            put_uint(out, u64::from(*limit));
        }
        AppMsg::SyncResp { events, more } => {
            put_str(out, "SyncResp");
            put_array_len(out, 2);
            put_events(out, events);
            match more {
                Some(m) => put_uint(out, *m),
                None => put_nil(out),
            }
        }
        AppMsg::FetchReq(t) => {
            put_str(out, "FetchReq");
            put_target(out, t);
        }
        AppMsg::FetchResp { target, events } => {
            put_str(out, "FetchResp");
            put_array_len(out, 2);
            put_target(out, target);
            put_events(out, events);
        }
        AppMsg::AuthorSyncReq { author, since, until, limit } => {
            put_str(out, "AuthorSyncReq");
            put_array_len(out, 4);
            put_bin(out, &author.0);
            put_uint(out, *since);
            put_uint(out, *until);
            put_uint(out, u64::from(*limit));
        }
        AppMsg::AuthorSyncResp { author, events } => {
            put_str(out, "AuthorSyncResp");
            put_array_len(out, 2);
            put_bin(out, &author.0);
            put_events(out, events);
        }
    }
}

fn put_events(out: &mut Vec<u8>, events: &[Event]) {
    put_array_len(out, events.len());
    for e in events {
        put_event(out, e);
    }
}

fn put_target(out: &mut Vec<u8>, t: &FetchTarget) {
    put_map_len(out, 1);
    let (name, bytes) = match t {
        FetchTarget::Profile(k) => ("Profile", &k.0),
        FetchTarget::FollowList(k) => ("FollowList", &k.0),
        FetchTarget::Post(id) => ("Post", &id.0),
    };
    put_str(out, name);
    put_bin(out, bytes);
}

fn read_msg(r: &mut Reader<'_>) -> Result<AppMsg, ReadError> {
    let at = r.at();
    if r.at_str() {
        return match r.str()? {
            b"MailReq" => Ok(AppMsg::MailReq),
            _ => Err(Reader::invalid(at, "not a unit variant of AppMsg")),
        };
    }
    if r.map_len()? != 1 {
        return Err(Reader::invalid(at, "a message map with other than one entry"));
    }
    let name_at = r.at();
    Ok(match r.str()? {
        b"MailReq" => {
            if !r.nil() {
                return Err(Reader::invalid(r.at(), "a unit variant with a value"));
            }
            AppMsg::MailReq
        }
        b"Event" => AppMsg::Event(read_event(r)?),
        b"Deposit" => {
            r.fields(2)?;
            AppMsg::Deposit { dst: r.uint()?, sealed: Bytes(r.bin()?.to_vec()) }
        }
        b"Mail" => {
            r.fields(2)?;
            let n = r.array_len()?;
            let mut envelopes = Vec::with_capacity(crate::msgpack::prealloc::<Envelope>(n));
            for _ in 0..n {
                r.fields(2)?;
                envelopes.push(Envelope { id: r.uint()?, sealed: Bytes(r.bin()?.to_vec()) });
            }
            AppMsg::Mail { envelopes, more: r.bool()? }
        }
        b"MailAck" => {
            r.fields(1)?;
            let n = r.array_len()?;
            let mut ids = Vec::with_capacity(crate::msgpack::prealloc::<u64>(n));
            for _ in 0..n {
                ids.push(r.uint()?);
            }
            AppMsg::MailAck { ids }
        }
        b"SyncReq" => {
            r.fields(3)?;
            AppMsg::SyncReq { since: r.uint()?, until: r.uint()?, limit: r.uint()? }
        }
        b"SyncResp" => {
            r.fields(2)?;
            let events = read_events(r)?;
            AppMsg::SyncResp { events, more: if r.nil() { None } else { Some(r.uint()?) } }
        }
        b"FetchReq" => AppMsg::FetchReq(read_target(r)?),
        b"FetchResp" => {
            r.fields(2)?;
            AppMsg::FetchResp { target: read_target(r)?, events: read_events(r)? }
        }
        b"AuthorSyncReq" => {
            r.fields(4)?;
            AppMsg::AuthorSyncReq {
                author: PublicKey(read_fixed(r)?),
                since: r.uint()?,
                until: r.uint()?,
                limit: r.uint()?,
            }
        }
        b"AuthorSyncResp" => {
            r.fields(2)?;
            AppMsg::AuthorSyncResp { author: PublicKey(read_fixed(r)?), events: read_events(r)? }
        }
        _ => return Err(Reader::invalid(name_at, "an unknown message name")),
    })
}

fn read_events(r: &mut Reader<'_>) -> Result<Vec<Event>, ReadError> {
    let n = r.array_len()?;
    let mut events = Vec::with_capacity(n.min(SYNC_PAGE_EVENTS + 1));
    for _ in 0..n {
        events.push(read_event(r)?);
    }
    Ok(events)
}

fn read_target(r: &mut Reader<'_>) -> Result<FetchTarget, ReadError> {
    let at = r.at();
    if r.map_len()? != 1 {
        return Err(Reader::invalid(at, "a fetch target map with other than one entry"));
    }
    let name_at = r.at();
    Ok(match r.str()? {
        b"Profile" => FetchTarget::Profile(PublicKey(read_fixed(r)?)),
        b"FollowList" => FetchTarget::FollowList(PublicKey(read_fixed(r)?)),
        b"Post" => FetchTarget::Post(EventId(read_fixed(r)?)),
        _ => return Err(Reader::invalid(name_at, "an unknown fetch target")),
    })
}

/// Decodes and bounds-checks a message.
///
/// # Errors
/// [`DecodeError`] saying why the bytes are not a message of this version.
pub fn decode(bytes: &[u8]) -> Result<AppMsg, DecodeError> {
    if bytes.len() > MAX_APP_MSG_BYTES {
        return Err(DecodeError::TooLarge { len: bytes.len() });
    }
    // Bytes after the message are ignored, as the serde decoder did.
    let mut r = Reader::new(bytes);
    r.fields(2).map_err(DecodeError::Malformed)?;
    let v: u16 = r.uint().map_err(DecodeError::Malformed)?;
    // The whole message is read before the version is judged (as the serde decoder did): a
    // message that is not even well-formed is `Malformed`, whatever version it claims.
    let msg = read_msg(&mut r).map_err(DecodeError::Malformed)?;
    if v != APP_MSG_VERSION {
        return Err(DecodeError::Version(v));
    }
    let too_many = match &msg {
        AppMsg::SyncResp { events, .. } => events.len() > SYNC_PAGE_EVENTS,
        AppMsg::FetchResp { events, .. } => events.len() > 1,
        AppMsg::AuthorSyncResp { events, .. } => events.len() > CATCHUP_PAGE_EVENTS,
        // Each envelope or id costs at least a few bytes, so the size check bounds these.
        _ => false,
    };
    if too_many {
        return Err(DecodeError::TooMany);
    }
    Ok(msg)
}
