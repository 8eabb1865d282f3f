//! Nostr events (NIP-01): the types, the id check and the BIP-340 signature check.
//!
//! An [`Event`] is whatever arrived; a [`VerifiedEvent`] is one whose id is the SHA-256 of its
//! canonical serialization ([`json::canonical_bytes`]), whose signature verifies for its
//! pubkey, and whose `created_at` is not too far in the future. Only `VerifiedEvent`s are
//! stored, served or forwarded. Time is a parameter: nothing here reads a clock.
//!
//! Canonical byte form: the NIP-01 JSON array `[0,pubkey,created_at,kind,tags,content]`
//! with go-nostr's escaping (pinned by the golden fixtures in `tests.rs`). MessagePack is only
//! a transport (`msgpack.rs` for the client's layout, postcard for the on-disk log).

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hex;
use crate::keys::{self, PublicKey};
use crate::limits::{MAX_EVENT_BYTES, MAX_FUTURE_SKEW, MAX_TAGS, MAX_TAG_ELEMS};
use crate::time::UnixTime;

pub mod json;
pub mod msgpack;
pub mod packed;

/// Kind 0: profile metadata (replaceable: the latest per author wins).
pub const KIND_PROFILE: u16 = 0;
/// Kind 1: text note (also reply, mention, quote repost; told apart by tags).
pub const KIND_POST: u16 = 1;
/// Kind 3: follow list (replaceable).
pub const KIND_FOLLOW_LIST: u16 = 3;
/// Kind 6: repost.
pub const KIND_REPOST: u16 = 6;
/// Kind 7: reaction (the client only sends `+`, a like).
pub const KIND_REACTION: u16 = 7;
/// Not an event kind: in a `/req` filter it asks for the timeline (NostrP2P-specific).
pub const KIND_REQ_TIMELINE: u32 = 40000;

/// SHA-256 of the canonical serialization: the event's identity.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId(pub [u8; 32]);

/// A BIP-340 Schnorr signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sig(pub [u8; 64]);

/// An event as received: nothing about it has been checked yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Claimed id (checked against the hash by [`Event::verify`]).
    pub id: EventId,
    /// Author's x-only public key.
    pub pubkey: PublicKey,
    /// Author's claimed creation time.
    pub created_at: UnixTime,
    /// Event kind.
    pub kind: u16,
    /// Tags, each a non-empty-or-empty list of strings, kept byte-exactly.
    pub tags: Vec<Vec<String>>,
    /// Content, kept byte-exactly.
    pub content: String,
    /// Signature over the id.
    pub sig: Sig,
}

/// An event whose id, signature and timestamp were checked. Construct with [`Event::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEvent(Event);

/// Why an event is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventError {
    /// The canonical serialization is longer than [`MAX_EVENT_BYTES`].
    TooLarge {
        /// Canonical length in bytes.
        len: usize,
    },
    /// More tags, or more elements in one tag, than the limits allow.
    TooManyTags,
    /// `created_at` is more than [`MAX_FUTURE_SKEW`] ahead of the receiver's clock.
    FromTheFuture {
        /// The event's `created_at`.
        created_at: u64,
        /// The receiver's clock.
        now: u64,
    },
    /// The `id` is not the SHA-256 of the canonical serialization.
    IdMismatch {
        /// The id computed from the fields.
        computed: EventId,
    },
    /// The public key is not a point on secp256k1.
    BadPubkey,
    /// The Schnorr signature does not verify.
    BadSignature,
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::TooLarge { len } => {
                write!(f, "event is {len} bytes, more than the {MAX_EVENT_BYTES}-byte limit")
            }
            EventError::TooManyTags => {
                write!(f, "event has more than {MAX_TAGS} tags or a tag with more than {MAX_TAG_ELEMS} elements")
            }
            EventError::FromTheFuture { created_at, now } => write!(
                f,
                "created_at {created_at} is more than {} s ahead of this server's clock ({now})",
                MAX_FUTURE_SKEW.as_secs()
            ),
            EventError::IdMismatch { computed } => {
                write!(f, "id does not match the event's hash (expected {})", hex::encode(&computed.0))
            }
            EventError::BadPubkey => write!(f, "pubkey is not a valid secp256k1 x-only key"),
            EventError::BadSignature => write!(f, "signature does not verify"),
        }
    }
}

impl std::error::Error for EventError {}

impl Event {
    /// SHA-256 of the canonical serialization (what the id must be).
    pub fn compute_id(&self) -> EventId {
        EventId(Sha256::digest(json::canonical_bytes(self)).into())
    }

    /// Checks size, timestamp, id and signature, in that order (cheapest first).
    ///
    /// # Errors
    /// [`EventError`] naming the first check that failed.
    pub fn verify(self, now: UnixTime) -> Result<VerifiedEvent, EventError> {
        if self.tags.len() > MAX_TAGS || self.tags.iter().any(|t| t.len() > MAX_TAG_ELEMS) {
            return Err(EventError::TooManyTags);
        }
        // One pass, no copy of the event: the canonical pieces go straight into SHA-256.
        let (hash, len) = json::canonical_hash(&self, MAX_EVENT_BYTES);
        if len > MAX_EVENT_BYTES {
            return Err(EventError::TooLarge { len });
        }
        if self.created_at > now.saturating_add(MAX_FUTURE_SKEW) {
            return Err(EventError::FromTheFuture { created_at: self.created_at.0, now: now.0 });
        }
        let computed = EventId(hash);
        if computed != self.id {
            return Err(EventError::IdMismatch { computed });
        }
        let xonly = keys::parsed(&self.pubkey).map_err(|_| EventError::BadPubkey)?;
        if !keys::verify(&xonly, &self.id.0, &self.sig.0) {
            return Err(EventError::BadSignature);
        }
        Ok(VerifiedEvent(self))
    }

    /// A new event signed by `key` (id computed from the fields, BIP-340 with `aux_rand`).
    /// Used by `genkey`-style tools, tests, benchmarks and the node's own records.
    pub fn new_signed(
        key: &keys::SecretKey,
        created_at: UnixTime,
        kind: u16,
        tags: Vec<Vec<String>>,
        content: String,
        aux_rand: &[u8; 32],
    ) -> Event {
        let mut e = Event {
            id: EventId([0; 32]),
            pubkey: key.public_key(),
            created_at,
            kind,
            tags,
            content,
            sig: Sig([0; 64]),
        };
        e.id = e.compute_id();
        e.sig = Sig(key.sign(&e.id.0, aux_rand));
        e
    }

    /// Values of the tags named `name` (their second element), in order; tags of that name
    /// with no value are skipped.
    pub fn tag_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.tags
            .iter()
            .filter(move |t| t.first().map(String::as_str) == Some(name))
            .filter_map(|t| t.get(1).map(String::as_str))
    }

    /// Whether any tag is named `name` (e.g. the bare `["q"]` quote marker).
    pub fn has_tag(&self, name: &str) -> bool {
        self.tags.iter().any(|t| t.first().map(String::as_str) == Some(name))
    }

    /// Rough heap + inline size, for byte budgets.
    pub fn approx_size(&self) -> usize {
        let tags: usize = self.tags.iter().map(|t| 24 + t.iter().map(|s| 24 + s.len()).sum::<usize>()).sum();
        std::mem::size_of::<Event>() + tags + self.content.len()
    }
}

impl VerifiedEvent {
    /// The checked event.
    pub fn as_event(&self) -> &Event {
        &self.0
    }

    /// Gives the event back.
    pub fn into_event(self) -> Event {
        self.0
    }

    /// Marks an event read back from this node's own checksummed log as verified without
    /// re-checking the signature (it was verified before it was written). Only the store's
    /// recovery may call this.
    pub(crate) fn from_own_log(event: Event) -> VerifiedEvent {
        VerifiedEvent(event)
    }
}

impl std::ops::Deref for VerifiedEvent {
    type Target = Event;
    fn deref(&self) -> &Event {
        &self.0
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", hex::encode(&self.0))
    }
}

impl fmt::Display for EventId {
    /// The first 8 hex characters, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex::fmt_prefix(f, &self.0, 4)
    }
}

impl fmt::Debug for Sig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sig({})", hex::encode(&self.0))
    }
}

impl Serialize for Sig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Sig, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Sig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 signature bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Sig, E> {
                <[u8; 64]>::try_from(v).map(Sig).map_err(|_| E::invalid_length(v.len(), &self))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Sig, A::Error> {
                let mut out = [0u8; 64];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = seq.next_element()?.ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
                }
                Ok(Sig(out))
            }
        }
        d.deserialize_bytes(V)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PublicKey, D::Error> {
        <[u8; 32]>::deserialize(d).map(PublicKey)
    }
}

impl Serialize for UnixTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for UnixTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<UnixTime, D::Error> {
        u64::deserialize(d).map(UnixTime)
    }
}

#[cfg(test)]
mod tests;
