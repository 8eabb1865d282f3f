//! The in-memory form of a stored event: ONE heap allocation of packed bytes per event.
//!
//! A decoded [`Event`] costs one allocation for its content, one for its tag list, one per tag
//! and one per tag element, each with its malloc header and rounding, plus ~190 B inline. The
//! ring instead keeps `Box<[u8]>` in this layout, and decodes on the way out (queries return
//! owned events; `/req` renders them at once):
//!
//! ```text
//! pubkey [32] | sig [64] | kind u16 LE | tag count (varint)
//!   per tag:     element count (varint), per element: length (varint), UTF-8 bytes
//! content: the rest, UTF-8
//! ```
//!
//! The id and `created_at` are not repeated: they are the ring's key. Varints are LEB128
//! (7 bits a byte, at most 5 bytes for a `u32`). No IO, no state.
//!
//! Bytes come only from [`encode`], but [`decode`] trusts nothing: every length is checked
//! against the bytes left (so counts and allocations are bounded by the input's length),
//! strings are checked UTF-8, and trailing garbage cannot hide in a tag list. Bad bytes give
//! a [`CompactError`], never a panic.

use std::fmt;

use crate::event::{Event, EventId, Sig};
use crate::keys::PublicKey;
use crate::time::UnixTime;

/// Offset of the 2-byte kind, after the pubkey and the signature.
const KIND_AT: usize = 96;
/// Bytes before the tag count: pubkey, signature, kind.
const FIXED: usize = KIND_AT + 2;

/// Why packed bytes are not an event (a bug in the store if it ever happens).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompactError {
    /// The bytes end inside the fixed fields, a varint or a string.
    Truncated,
    /// A varint is longer than 5 bytes or does not fit a `u32`.
    BadVarint,
    /// A tag element or the content is not UTF-8.
    NotUtf8,
}

impl fmt::Display for CompactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompactError::Truncated => write!(f, "packed event is truncated"),
            CompactError::BadVarint => write!(f, "packed event has a malformed length"),
            CompactError::NotUtf8 => write!(f, "packed event has a string that is not UTF-8"),
        }
    }
}

impl std::error::Error for CompactError {}

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// The packed length of `ev` (what [`encode`] allocates, exactly).
pub fn packed_len(ev: &Event) -> usize {
    let tags: usize = ev
        .tags
        .iter()
        .map(|t| varint_len(t.len()) + t.iter().map(|s| varint_len(s.len()) + s.len()).sum::<usize>())
        .sum();
    FIXED + varint_len(ev.tags.len()) + tags + ev.content.len()
}

/// `ev` in the packed layout, in one allocation of exactly [`packed_len`] bytes.
pub fn encode(ev: &Event) -> Box<[u8]> {
    let mut out = Vec::with_capacity(packed_len(ev));
    out.extend_from_slice(&ev.pubkey.0);
    out.extend_from_slice(&ev.sig.0);
    out.extend_from_slice(&ev.kind.to_le_bytes());
    put_varint(&mut out, ev.tags.len());
    for tag in &ev.tags {
        put_varint(&mut out, tag.len());
        for s in tag {
            put_varint(&mut out, s.len());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out.extend_from_slice(ev.content.as_bytes());
    debug_assert_eq!(out.len(), packed_len(ev));
    out.into_boxed_slice()
}

/// The author, read in place.
pub fn pubkey(packed: &[u8]) -> Option<PublicKey> {
    packed.get(..32).and_then(|b| <[u8; 32]>::try_from(b).ok()).map(PublicKey)
}

/// The kind, read in place.
pub fn kind(packed: &[u8]) -> Option<u16> {
    let b = packed.get(KIND_AT..FIXED)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// Reads packed bytes front to back.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CompactError> {
        if n > self.rest.len() {
            return Err(CompactError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn varint(&mut self) -> Result<usize, CompactError> {
        let mut v: u64 = 0;
        for i in 0..5 {
            let b = *self.take(1)?.first().ok_or(CompactError::Truncated)?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return usize::try_from(u32::try_from(v).map_err(|_| CompactError::BadVarint)?)
                    .map_err(|_| CompactError::BadVarint);
            }
        }
        Err(CompactError::BadVarint)
    }

    /// A count of items that each take at least one more byte: bounded by what is left.
    fn count(&mut self) -> Result<usize, CompactError> {
        let n = self.varint()?;
        if n > self.rest.len() {
            return Err(CompactError::Truncated);
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, CompactError> {
        let n = self.varint()?;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| CompactError::NotUtf8)
    }
}

/// The event whose key is `(created_at, id)` and whose packed bytes are `packed`.
///
/// # Errors
/// [`CompactError`] when `packed` is not the output of [`encode`].
pub fn decode(id: EventId, created_at: UnixTime, packed: &[u8]) -> Result<Event, CompactError> {
    let mut r = Reader { rest: packed };
    let pubkey = PublicKey(r.take(32)?.try_into().map_err(|_| CompactError::Truncated)?);
    let sig = Sig(r.take(64)?.try_into().map_err(|_| CompactError::Truncated)?);
    let k = r.take(2)?;
    let kind = u16::from_le_bytes([k[0], k[1]]);
    let ntags = r.count()?;
    let mut tags = Vec::with_capacity(ntags);
    for _ in 0..ntags {
        let nelems = r.count()?;
        let mut tag = Vec::with_capacity(nelems);
        for _ in 0..nelems {
            tag.push(r.string()?);
        }
        tags.push(tag);
    }
    let content = std::str::from_utf8(r.rest).map_err(|_| CompactError::NotUtf8)?.to_owned();
    Ok(Event { id, pubkey, created_at, kind, tags, content, sig })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    fn sample(tags: Vec<Vec<String>>, content: &str) -> Event {
        let key = SecretKey::from_bytes([7; 32]).expect("key");
        Event::new_signed(&key, UnixTime(1_700_000_000), 30_023, tags, content.into(), &[0; 32])
    }

    fn round_trip(ev: &Event) {
        let packed = encode(ev);
        assert_eq!(packed.len(), packed_len(ev));
        assert_eq!(decode(ev.id, ev.created_at, &packed).as_ref(), Ok(ev));
        assert_eq!(pubkey(&packed), Some(ev.pubkey));
        assert_eq!(kind(&packed), Some(ev.kind));
    }

    #[test]
    fn events_round_trip_byte_exactly() {
        round_trip(&sample(vec![], ""));
        round_trip(&sample(vec![vec![]], "x"));
        round_trip(&sample(vec![vec![String::new()], vec!["e".into(), "ab".repeat(32), String::new()]], "héllo\0"));
        // Lengths on both sides of each varint byte boundary.
        for n in [127, 128, 16_383, 16_384, 100_000] {
            round_trip(&sample(vec![vec!["d".into(), "é".repeat(n / 2)]], &"z".repeat(n)));
        }
        let many: Vec<Vec<String>> = (0..300).map(|i| vec![format!("t{i}"); 16]).collect();
        round_trip(&sample(many, "many tags"));
    }

    #[test]
    fn every_truncation_is_an_error_or_a_shorter_content() {
        let ev = sample(vec![vec!["e".into(), "ab".repeat(32)], vec!["p".into()]], "body");
        let packed = encode(&ev);
        let content_at = packed.len() - ev.content.len();
        for cut in 0..packed.len() {
            match decode(ev.id, ev.created_at, &packed[..cut]) {
                // Only the content (the rest) may shrink; the fields before it never decode.
                Ok(e) => assert!(cut >= content_at && e.content.len() == cut - content_at, "cut {cut}"),
                Err(e) => assert!(cut < content_at, "cut {cut}: {e}"),
            }
        }
    }

    #[test]
    fn hostile_bytes_are_errors_not_panics_or_huge_allocations() {
        let head = [0u8; FIXED];
        let with = |tail: &[u8]| [&head[..], tail].concat();
        let id = EventId([1; 32]);
        let t = UnixTime(1);
        // A tag count of u32::MAX with nothing behind it must not reserve 4 G tags.
        assert_eq!(decode(id, t, &with(&[0xff, 0xff, 0xff, 0xff, 0x0f])), Err(CompactError::Truncated));
        // An element length past the end.
        assert_eq!(decode(id, t, &with(&[1, 1, 0x7f, b'a'])), Err(CompactError::Truncated));
        // Varints too long or too large.
        assert_eq!(decode(id, t, &with(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01])), Err(CompactError::BadVarint));
        assert_eq!(decode(id, t, &with(&[0xff, 0xff, 0xff, 0xff, 0x7f])), Err(CompactError::BadVarint));
        // Invalid UTF-8 in a tag element and in the content.
        assert_eq!(decode(id, t, &with(&[1, 1, 1, 0xff])), Err(CompactError::NotUtf8));
        assert_eq!(decode(id, t, &with(&[0, 0xc3])), Err(CompactError::NotUtf8));
        assert_eq!(pubkey(&[0; 31]), None);
        assert_eq!(kind(&[0; 97]), None);
        // Every byte string of a few bytes after the fixed part: never a panic.
        for a in 0..=255u8 {
            for b in [0u8, 1, 2, 0x7f, 0x80, 0xff] {
                let _ = decode(id, t, &with(&[a, b, b, a]));
            }
        }
    }
}
