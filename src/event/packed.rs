//! The server-to-server MessagePack form of an event (wire v2): a 7-element array
//! `[bin32 id, bin32 pubkey, created_at, kind, tags, content, bin64 sig]`. No IO, no state.
//!
//! The derived serde form of [`Event`] writes `EventId` and `PublicKey` as arrays of 32
//! integers (≈ 48 B each in MessagePack, ≈ +34 B per event against `bin`); it stays what it is
//! because the on-disk log (postcard, where a fixed array is already 32 raw bytes) uses it.
//! Everything an event travels in between servers (gossip bodies, application messages, sealed
//! mail) uses this form instead: [`encode`] / [`decode`], or [`put_event`] / [`read_event`]
//! inside a larger message. Golden bytes are pinned in `src/wire/tests.rs`.
//!
//! Written and read by hand (binary size, README "Benchmarks"); the serde helpers below it exist
//! only in tests, as the oracle the hand-written code is checked against. The reader accepts
//! what the serde one accepted from any encoder of ours: ids, keys and signatures as `bin` or
//! (first version) as arrays of integers, integers in any width; it refuses text as a byte
//! string or bytes as text, which no encoder wrote.

#[cfg(test)]
use std::fmt;

#[cfg(test)]
use serde::de::{self, SeqAccess, Visitor};
#[cfg(test)]
use serde::ser::SerializeTuple;
#[cfg(test)]
use serde::{Deserializer, Serialize, Serializer};

use super::{Event, EventId, Sig};
use crate::keys::PublicKey;
use crate::msgpack::{put_array_len, put_bin, put_str, put_uint, ReadError, Reader};
use crate::time::UnixTime;

/// Append `e` in the packed form.
pub(crate) fn put_event(out: &mut Vec<u8>, e: &Event) {
    put_array_len(out, 7);
    put_bin(out, &e.id.0);
    put_bin(out, &e.pubkey.0);
    put_uint(out, e.created_at.0);
    put_uint(out, u64::from(e.kind));
    put_array_len(out, e.tags.len());
    for tag in &e.tags {
        put_array_len(out, tag.len());
        for elem in tag {
            put_str(out, elem);
        }
    }
    put_str(out, &e.content);
    put_bin(out, &e.sig.0);
}

/// Read one packed event. Every list is bounded by the bytes left before room is reserved.
///
/// # Errors
/// The next value is not a packed event.
pub(crate) fn read_event(r: &mut Reader<'_>) -> Result<Event, ReadError> {
    r.fields(7)?;
    let id = EventId(read_fixed(r)?);
    let pubkey = PublicKey(read_fixed(r)?);
    let created_at = UnixTime(r.uint()?);
    let kind = r.uint()?;
    let n = r.array_len()?;
    let mut tags = Vec::with_capacity(crate::msgpack::prealloc::<Vec<String>>(n));
    for _ in 0..n {
        let m = r.array_len()?;
        let mut tag = Vec::with_capacity(crate::msgpack::prealloc::<String>(m));
        for _ in 0..m {
            tag.push(read_string(r)?);
        }
        tags.push(tag);
    }
    let content = read_string(r)?;
    let sig = Sig(read_fixed(r)?);
    Ok(Event { id, pubkey, created_at, kind, tags, content, sig })
}

/// `N` bytes as one `bin`, or as an array of `N` integers (the first version's form).
pub(crate) fn read_fixed<const N: usize>(r: &mut Reader<'_>) -> Result<[u8; N], ReadError> {
    if !matches!(r.rest().first(), Some(0x90..=0x9f | 0xdc | 0xdd)) {
        return r.bin_array();
    }
    r.fields(N)?;
    let mut out = [0u8; N];
    for b in &mut out {
        *b = r.uint()?;
    }
    Ok(out)
}

/// A UTF-8 text string.
fn read_string(r: &mut Reader<'_>) -> Result<String, ReadError> {
    let at = r.at();
    let bytes = r.str()?;
    std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| Reader::invalid(at, "text that is not UTF-8"))
}

#[cfg(test)]
/// `[u8; 32]` as one MessagePack `bin`.
struct Bin32<'a>(&'a [u8; 32]);

#[cfg(test)]
impl Serialize for Bin32<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

#[cfg(test)]
/// Reads exactly 32 bytes (a `bin`; an array of integers is accepted too, for data written by
/// the first version).
struct Bin32Visitor;

#[cfg(test)]
impl<'de> Visitor<'de> for Bin32Visitor {
    type Value = [u8; 32];
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("32 bytes")
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<[u8; 32], E> {
        <[u8; 32]>::try_from(v).map_err(|_| E::invalid_length(v.len(), &self))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; 32], A::Error> {
        let mut out = [0u8; 32];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(i, &self))?;
        }
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(33, &self));
        }
        Ok(out)
    }
}

#[cfg(test)]
struct Bin32Seed;

#[cfg(test)]
impl<'de> de::DeserializeSeed<'de> for Bin32Seed {
    type Value = [u8; 32];
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<[u8; 32], D::Error> {
        d.deserialize_bytes(Bin32Visitor)
    }
}

#[cfg(test)]
/// serde `with` helper for a [`PublicKey`] as `bin`.
pub mod key {
    use super::*;

    /// Serialise as 32-byte `bin`.
    pub fn serialize<S: Serializer>(k: &PublicKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&k.0)
    }
    /// Deserialise from 32 bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PublicKey, D::Error> {
        d.deserialize_bytes(Bin32Visitor).map(PublicKey)
    }
}

#[cfg(test)]
/// serde `with` helper for an [`EventId`] as `bin`.
pub mod id {
    use super::*;

    /// Serialise as 32-byte `bin`.
    pub fn serialize<S: Serializer>(k: &EventId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&k.0)
    }
    /// Deserialise from 32 bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<EventId, D::Error> {
        d.deserialize_bytes(Bin32Visitor).map(EventId)
    }
}

#[cfg(test)]
/// serde `with` helper for one [`Event`] in the packed form.
pub mod event {
    use super::*;

    /// Serialise as the 7-element array.
    pub fn serialize<S: Serializer>(e: &Event, s: S) -> Result<S::Ok, S::Error> {
        Packed(e).serialize(s)
    }
    /// Deserialise the 7-element array.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Event, D::Error> {
        d.deserialize_tuple(7, EventVisitor)
    }
}

#[cfg(test)]
/// serde `with` helper for a `Vec<Event>` in the packed form.
pub mod events {
    use super::*;

    /// Serialise as an array of packed events.
    pub fn serialize<S: Serializer>(v: &[Event], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(Packed))
    }
    /// Deserialise an array of packed events (the caller bounds the count afterwards; each
    /// element costs input bytes, so the input length bounds the allocation).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Event>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<Event>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of events")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Event>, A::Error> {
                let mut out = Vec::new();
                while let Some(PackedOwned(e)) = seq.next_element()? {
                    out.push(e);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V)
    }
}

#[cfg(test)]
/// Serialises an event in the packed form.
struct Packed<'a>(&'a Event);

#[cfg(test)]
impl Serialize for Packed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut t = s.serialize_tuple(7)?;
        t.serialize_element(&Bin32(&e.id.0))?;
        t.serialize_element(&Bin32(&e.pubkey.0))?;
        t.serialize_element(&e.created_at.0)?;
        t.serialize_element(&e.kind)?;
        t.serialize_element(&e.tags)?;
        t.serialize_element(&e.content)?;
        t.serialize_element(&e.sig)?;
        t.end()
    }
}

#[cfg(test)]
/// Deserialises an event in the packed form.
struct PackedOwned(Event);

#[cfg(test)]
impl<'de> serde::Deserialize<'de> for PackedOwned {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PackedOwned, D::Error> {
        d.deserialize_tuple(7, EventVisitor).map(PackedOwned)
    }
}

#[cfg(test)]
struct EventVisitor;

#[cfg(test)]
impl<'de> Visitor<'de> for EventVisitor {
    type Value = Event;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a packed event [id, pubkey, created_at, kind, tags, content, sig]")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Event, A::Error> {
        let missing = |i| de::Error::invalid_length(i, &"7 elements");
        let id = seq.next_element_seed(Bin32Seed)?.ok_or_else(|| missing(0))?;
        let pubkey = seq.next_element_seed(Bin32Seed)?.ok_or_else(|| missing(1))?;
        let created_at: u64 = seq.next_element()?.ok_or_else(|| missing(2))?;
        let kind: u16 = seq.next_element()?.ok_or_else(|| missing(3))?;
        let tags: Vec<Vec<String>> = seq.next_element()?.ok_or_else(|| missing(4))?;
        let content: String = seq.next_element()?.ok_or_else(|| missing(5))?;
        let sig: Sig = seq.next_element()?.ok_or_else(|| missing(6))?;
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(8, &"7 elements"));
        }
        Ok(Event {
            id: EventId(id),
            pubkey: PublicKey(pubkey),
            created_at: UnixTime(created_at),
            kind,
            tags,
            content,
            sig,
        })
    }
}

/// The packed MessagePack bytes of `e`.
pub fn encode(e: &Event) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + e.content.len());
    put_event(&mut out, e);
    out
}

/// The id a packed event claims, read from its first field without decoding the rest: the bytes
/// must start like [`encode`]'s output (`fixarray(7) ‖ bin8(32) ‖ id`). `None` otherwise (such a
/// body would not be [`decode`]d as an event either). Verification checks the id against the hash.
pub fn claimed_id(bytes: &[u8]) -> Option<[u8; 32]> {
    let rest = bytes.strip_prefix(&[0x97, 0xc4, 0x20])?;
    rest.get(..32)?.try_into().ok()
}

/// Decodes packed MessagePack bytes; the whole input must be one event.
///
/// # Errors
/// The MessagePack error if `bytes` are not exactly one packed event.
pub fn decode(bytes: &[u8]) -> Result<Event, ReadError> {
    let mut r = Reader::new(bytes);
    let e = read_event(&mut r)?;
    if !r.rest().is_empty() {
        return Err(Reader::invalid(r.at(), "trailing bytes after the event"));
    }
    Ok(e)
}

/// The serde form, kept as the oracle (`rmp_serde` with the helpers above).
#[cfg(test)]
pub(crate) fn encode_with_serde(e: &Event) -> Vec<u8> {
    rmp_serde::to_vec(&Packed(e)).expect("serde encodes")
}

/// The serde reading, kept as the oracle.
#[cfg(test)]
pub(crate) fn decode_with_serde(bytes: &[u8]) -> Option<Event> {
    let (PackedOwned(e), rest) = crate::msgpack::from_prefix(bytes).ok()?;
    rest.is_empty().then_some(e)
}
