//! The ring records a core holds, kept across restarts (issue 10 part 2, docs/scaling.md
//! "Directory"): the driver writes [`Overlay::ring_snapshot`] to `ring-records.bin` in the
//! data dir (atomically, at most every `RING_PERSIST_INTERVAL` and on a clean shutdown) and
//! hands the file back to [`Overlay::ring_restore`] at start. Pure: bytes in, bytes out.
//!
//! File: `RING_FILE_MAGIC` (8 B), SHA-256 of the rest (32 B), record count (u32 LE), then per
//! record its length (u32 LE) and its signed `NodeRecord` bytes as received. At most
//! `RING_PERSIST_CAP` records of at most `RING_FILE_RECORD_MAX_BYTES` each.
//!
//! Hostile or damaged files. The file is never trusted: a wrong magic, a checksum mismatch,
//! a truncated or oversized file, or a count or length over its bound rejects the whole file
//! (the caller logs a warning and starts empty, as before persistence existed). A file that
//! passes is still only a list of claims: every record's signature (and delegation) is checked
//! again, expired ones and this node's own are dropped, and the rest enter the directory
//! through `Directory::merge` like a `Store` from a peer (its cap and expiry clamp apply).

use sha2::{Digest, Sha256};

use super::conn::RecordCheck;
use super::params::{RING_FILE_MAX_BYTES, RING_FILE_RECORD_MAX_BYTES, RING_PERSIST_CAP};
use super::Overlay;
use crate::wire::{Body, NodeId};

/// First bytes of a ring record file (format version 1).
pub const RING_FILE_MAGIC: &[u8; 8] = b"NP2PRNG1";
/// Header: magic, checksum, record count.
const HEADER: usize = 8 + 32 + 4;

/// Why a ring record file was rejected whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingFileError {
    /// Larger than `RING_FILE_MAX_BYTES`.
    TooLarge(usize),
    /// Not a ring record file (or another version).
    Magic,
    /// The checksum does not match: damaged.
    Checksum,
    /// Ends inside a record, or bytes follow the last one.
    Truncated,
    /// A count or a record length over its bound.
    Bound,
}

impl std::fmt::Display for RingFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RingFileError::TooLarge(n) => write!(f, "ring record file of {n} bytes exceeds {RING_FILE_MAX_BYTES}"),
            RingFileError::Magic => write!(f, "not a ring record file"),
            RingFileError::Checksum => write!(f, "ring record file damaged (checksum mismatch)"),
            RingFileError::Truncated => write!(f, "ring record file truncated"),
            RingFileError::Bound => write!(f, "ring record file over its record bounds"),
        }
    }
}

impl std::error::Error for RingFileError {}

/// What a restore did with the file's records.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    /// Records taken into the directory.
    pub kept: usize,
    /// Records dropped: unreadable, badly signed, expired, this node's own, or refused by the
    /// directory (full, older than one held).
    pub dropped: usize,
}

/// The file bytes for `records` (at most `RING_PERSIST_CAP`, longer ones left out).
pub fn encode_ring_file(records: &[Body]) -> Vec<u8> {
    let kept: Vec<&Body> =
        records.iter().filter(|b| b.as_slice().len() <= RING_FILE_RECORD_MAX_BYTES).take(RING_PERSIST_CAP).collect();
    let mut rest = Vec::with_capacity(4 + kept.iter().map(|b| 4 + b.as_slice().len()).sum::<usize>());
    rest.extend_from_slice(&(kept.len() as u32).to_le_bytes());
    for b in kept {
        rest.extend_from_slice(&(b.as_slice().len() as u32).to_le_bytes());
        rest.extend_from_slice(b.as_slice());
    }
    let mut out = Vec::with_capacity(HEADER + rest.len());
    out.extend_from_slice(RING_FILE_MAGIC);
    out.extend_from_slice(&Sha256::digest(&rest));
    out.extend_from_slice(&rest);
    out
}

fn le32(b: &[u8], at: usize) -> Result<usize, RingFileError> {
    let s: [u8; 4] = b.get(at..at + 4).and_then(|s| s.try_into().ok()).ok_or(RingFileError::Truncated)?;
    Ok(u32::from_le_bytes(s) as usize)
}

/// The records of a ring record file, unverified (see the module doc); the whole file is
/// rejected on any damage.
///
/// # Errors
/// [`RingFileError`] says which check failed.
pub fn decode_ring_file(bytes: &[u8]) -> Result<Vec<Body>, RingFileError> {
    if bytes.len() > RING_FILE_MAX_BYTES {
        return Err(RingFileError::TooLarge(bytes.len()));
    }
    if bytes.len() < HEADER {
        return Err(if bytes.starts_with(&RING_FILE_MAGIC[..bytes.len().min(8)]) {
            RingFileError::Truncated
        } else {
            RingFileError::Magic
        });
    }
    if &bytes[..8] != RING_FILE_MAGIC {
        return Err(RingFileError::Magic);
    }
    if Sha256::digest(&bytes[40..]).as_slice() != &bytes[8..40] {
        return Err(RingFileError::Checksum);
    }
    let count = le32(bytes, 40)?;
    if count > RING_PERSIST_CAP {
        return Err(RingFileError::Bound);
    }
    let mut at = HEADER;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = le32(bytes, at)?;
        if len > RING_FILE_RECORD_MAX_BYTES {
            return Err(RingFileError::Bound);
        }
        let body = bytes.get(at + 4..at + 4 + len).ok_or(RingFileError::Truncated)?;
        out.push(Body::from_slice(body));
        at += 4 + len;
    }
    if at != bytes.len() {
        return Err(RingFileError::Truncated);
    }
    Ok(out)
}

impl Overlay {
    /// The records this node holds as a ring holder (its own left out: it makes it anew), as
    /// the file's bytes with a digest of their (id, seq) list, if they changed since the last
    /// [`Overlay::ring_saved`]; `None` if unchanged or the ring is off here.
    pub fn ring_snapshot(&self) -> Option<(Vec<u8>, [u8; 32])> {
        let d = self.dht.as_ref()?;
        let held: Vec<(NodeId, u64, Body)> = self
            .dir
            .iter()
            .filter(|(k, _)| **k != self.me && d.table().stores(**k))
            .map(|(k, e)| (*k, e.seq, e.body.clone()))
            .collect();
        let mut h = Sha256::new();
        for (k, seq, _) in &held {
            h.update(k.0.to_le_bytes());
            h.update(seq.to_le_bytes());
        }
        let digest: [u8; 32] = h.finalize().into();
        if d.saved == Some(digest) {
            return None;
        }
        let bodies: Vec<Body> = held.into_iter().map(|(_, _, b)| b).collect();
        Some((encode_ring_file(&bodies), digest))
    }

    /// The snapshot with `digest` is on disk: the next one is made only after a change.
    pub fn ring_saved(&mut self, digest: [u8; 32]) {
        if let Some(d) = self.dht.as_mut() {
            d.saved = Some(digest);
        }
    }

    /// Take the records of a ring record file back (at start, before any peer): each is
    /// verified again (see the module doc). With `--directory broadcast`, nothing is taken.
    ///
    /// # Errors
    /// [`RingFileError`] if the file is damaged: nothing is taken from it.
    pub fn ring_restore(&mut self, bytes: &[u8]) -> Result<Restored, RingFileError> {
        let bodies = decode_ring_file(bytes)?;
        let mut r = Restored::default();
        if self.cfg.directory == super::DirectoryMode::Broadcast {
            r.dropped = bodies.len();
            return Ok(r);
        }
        let unix = self.unix_now();
        for body in bodies {
            let Ok(rec) = crate::wire::decode_record(body.as_slice()) else {
                r.dropped += 1;
                continue;
            };
            let authorised = match self.check_record(&rec) {
                RecordCheck::Valid { authorised } if rec.expires >= unix && rec.node != self.me => authorised,
                _ => {
                    r.dropped += 1;
                    continue;
                }
            };
            match self.dir.merge(&rec, body, authorised, unix) {
                super::directory::Merge::New | super::directory::Merge::Updated => r.kept += 1,
                _ => r.dropped += 1,
            }
        }
        Ok(r)
    }
}
