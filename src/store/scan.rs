//! Reading a segment's bytes back: the records that are good and the byte ranges that are
//! damaged. Pure (no IO); [`super::log::Log::open`] decides what to do with the damage.
//!
//! Damage does not end the scan. After a bad record the scanner looks, byte by byte, for the
//! next offset where a complete record starts whose length is in range, whose CRC-32 matches,
//! which decodes, whose id is the hash of its fields **and whose signature verifies**, and
//! carries on from there: one damaged record loses only itself. The signature check guards
//! against a false resynchronisation *inside* the damaged region: an event's content could
//! carry the bytes of a whole record of a forged event (its id and CRC are easy to compute,
//! a signature is not), and only records this node wrote may be read back. Records read in
//! order, without a resync, are not signature-checked again: they were verified before they
//! were written, and their CRC and id hash still match (a 40 µs check per record would make
//! a Pi's start-up several seconds slower).
//!
//! A damaged range that runs to the end of the bytes is what a crash in the middle of an
//! append looks like (a torn tail); one followed by good records is damage in the middle
//! (bit rot, a lost sector). The scanner reports both the same way; the caller tells them
//! apart by position.
//!
//! Cost: the search hashes candidate payloads, at most [`RESYNC_MAX_CRC_BYTES`] per call;
//! past that the rest of the bytes is one damaged range ([`Damage::gave_up`]).
//! Memory: the returned `Vec` has at most one entry per good record plus one (each damaged
//! range but the last is followed by a good record of ≥ 100 bytes), so ≤ 24 B per 100 B
//! of segment in the worst case and usually empty.

use std::fmt;

use crate::event::Event;
use crate::keys;
use crate::limits::{MAX_RECORD_BYTES, MAX_TAGS, MAX_TAG_ELEMS, RESYNC_MAX_CRC_BYTES};

/// First bytes of every segment file (format name and version 1).
pub const MAGIC: [u8; 8] = *b"np2plog\x01";

/// Bytes before a record's payload: length and checksum.
pub const RECORD_HEADER_BYTES: usize = 8;

/// Why the bytes at some offset are not a good record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadRecord {
    /// The file does not start with [`MAGIC`].
    Header,
    /// Fewer than 8 bytes left: a record header cut short (a crash while appending).
    ShortHeader,
    /// The length field is zero or above [`MAX_RECORD_BYTES`].
    BadLength {
        /// The length read.
        len: u32,
    },
    /// The file ends before the payload does (a crash while appending).
    ShortPayload {
        /// The length read.
        len: u32,
    },
    /// The CRC does not match.
    Checksum,
    /// The payload is not a postcard event, or has bytes left over.
    Decode,
    /// The payload decodes but breaks a limit or its id is not the hash of its fields.
    Invalid,
    /// The file goes on past the largest size a segment can reach.
    SegmentTooLong,
}

impl BadRecord {
    /// An incomplete record: what a crash in the middle of an append leaves at the end.
    pub fn is_incomplete(self) -> bool {
        matches!(self, BadRecord::ShortHeader | BadRecord::ShortPayload { .. })
    }
}

impl fmt::Display for BadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadRecord::Header => write!(f, "not a segment file header"),
            BadRecord::ShortHeader => write!(f, "record header cut short"),
            BadRecord::BadLength { len } => write!(f, "record length {len} out of range 1..={MAX_RECORD_BYTES}"),
            BadRecord::ShortPayload { len } => write!(f, "record of {len} bytes cut short"),
            BadRecord::Checksum => write!(f, "checksum mismatch"),
            BadRecord::Decode => write!(f, "payload is not an encoded event"),
            BadRecord::Invalid => write!(f, "event breaks a limit or its id does not match its hash"),
            BadRecord::SegmentTooLong => write!(f, "file longer than any segment can be"),
        }
    }
}

/// A damaged byte range `start..end` of a segment: no good record starts inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Damage {
    /// First damaged byte.
    pub start: u64,
    /// One past the last damaged byte (the next good record starts here, or the bytes end).
    pub end: u64,
    /// What was wrong at `start`.
    pub reason: BadRecord,
    /// The search for the next good record ran out of [`RESYNC_MAX_CRC_BYTES`]: good
    /// records may hide in `start..end`.
    pub gave_up: bool,
}

impl Damage {
    /// Bytes in the range.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the range is empty (never, for a range [`scan`] returned).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Reads the records of one segment's bytes, calling `on_record(offset, record_len, event)`
/// for each good one in order, and returns the damaged ranges in order (empty: all good).
/// A file shorter than [`MAGIC`] that is a prefix of it (a crash while creating) is empty.
pub fn scan(bytes: &[u8], on_record: impl FnMut(u64, u32, Event)) -> Vec<Damage> {
    scan_with_budget(bytes, RESYNC_MAX_CRC_BYTES, on_record)
}

/// [`scan`] with a chosen resync budget (tests use small ones).
pub(crate) fn scan_with_budget(bytes: &[u8], budget: u64, mut on_record: impl FnMut(u64, u32, Event)) -> Vec<Damage> {
    let mut damage = Vec::new();
    if bytes.len() < MAGIC.len() {
        if !MAGIC.starts_with(bytes) {
            damage.push(Damage { start: 0, end: bytes.len() as u64, reason: BadRecord::Header, gave_up: false });
        }
        return damage;
    }
    let mut budget = budget;
    // `Some((start, reason))` while inside a damaged range.
    let mut bad: Option<(usize, BadRecord)> = None;
    let mut off = MAGIC.len();
    if bytes[..MAGIC.len()] != MAGIC {
        bad = Some((0, BadRecord::Header));
        off = 1;
    }
    while off < bytes.len() {
        match bad {
            None => match read_record(bytes, off, None) {
                Ok((event, len)) => {
                    on_record(off as u64, len as u32, event);
                    off += len;
                }
                Err(reason) => {
                    bad = Some((off, reason));
                    off += 1;
                }
            },
            Some((start, reason)) => {
                if bytes.len() - off < RECORD_HEADER_BYTES {
                    break; // no record fits any more: the damage runs to the end
                }
                if budget == 0 {
                    damage.push(Damage { start: start as u64, end: bytes.len() as u64, reason, gave_up: true });
                    return damage;
                }
                match read_record(bytes, off, Some(&mut budget)) {
                    Ok((event, len)) => {
                        damage.push(Damage { start: start as u64, end: off as u64, reason, gave_up: false });
                        bad = None;
                        on_record(off as u64, len as u32, event);
                        off += len;
                    }
                    Err(_) => off += 1,
                }
            }
        }
    }
    if let Some((start, reason)) = bad {
        damage.push(Damage { start: start as u64, end: bytes.len() as u64, reason, gave_up: false });
    }
    damage
}

/// The record at `off`: its event and total length (header included). `resync` is the
/// remaining CRC budget when looking for the next record after damage: the bytes hashed
/// are taken from it, and the signature must verify too.
fn read_record(bytes: &[u8], off: usize, resync: Option<&mut u64>) -> Result<(Event, usize), BadRecord> {
    let rest = &bytes[off..];
    let header = rest.get(..RECORD_HEADER_BYTES).ok_or(BadRecord::ShortHeader)?;
    let len_le: [u8; 4] = header[..4].try_into().expect("4 bytes");
    let len = u32::from_le_bytes(len_le);
    if len == 0 || len as usize > MAX_RECORD_BYTES {
        return Err(BadRecord::BadLength { len });
    }
    let end = RECORD_HEADER_BYTES + len as usize;
    let payload = rest.get(RECORD_HEADER_BYTES..end).ok_or(BadRecord::ShortPayload { len })?;
    let resyncing = resync.is_some();
    if let Some(budget) = resync {
        *budget = budget.saturating_sub(len as u64 + 4);
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len_le);
    crc.update(payload);
    if crc.finalize().to_le_bytes() != header[4..8] {
        return Err(BadRecord::Checksum);
    }
    let event = match postcard::take_from_bytes::<Event>(payload) {
        Ok((event, [])) => event,
        _ => return Err(BadRecord::Decode),
    };
    if !plausible(&event) || (resyncing && !signed(&event)) {
        return Err(BadRecord::Invalid);
    }
    Ok((event, end))
}

/// The checks of `Event::verify` that do not need the signature: our log only holds events
/// that passed all of them, so failing one means the record is not what we wrote.
fn plausible(ev: &Event) -> bool {
    ev.tags.len() <= MAX_TAGS && ev.tags.iter().all(|t| t.len() <= MAX_TAG_ELEMS) && ev.compute_id() == ev.id
}

/// Whether the event's signature verifies (its id was checked by [`plausible`]).
fn signed(ev: &Event) -> bool {
    ev.pubkey.to_xonly().is_ok_and(|pk| keys::verify(&pk, &ev.id.0, &ev.sig.0))
}
