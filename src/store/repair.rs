//! What recovery does with the damaged ranges [`scan`](super::scan::scan) found in a
//! segment: keep a copy in the quarantine, then take them out of the segment, crash-safely.
//!
//! Each damaged range gets a [`Fate`]:
//! - an incomplete record at the very end of the last segment is a crash in the middle of an
//!   append (nothing acknowledged is in it): cut off, not copied ([`Fate::TornTail`]);
//! - any other range is copied to `quarantine/seg-NNNNNNNN-at-OFFSET-CRC.bad` in the store
//!   directory (synced), then removed from the segment ([`Fate::Quarantined`]);
//! - when the copy would take the quarantine past [`QUARANTINE_MAX_BYTES`], or cannot be
//!   written, the range stays where it is ([`Fate::LeftInPlace`]): nothing is deleted without
//!   a copy, and the scanner skips the range again at every start;
//! - bytes past the largest size a segment can reach were never written by us and are cut
//!   off ([`Fate::CutBeyondBound`]).
//!
//! Crash safety: the copies are durable before the segment changes. A segment that only
//! loses its end is truncated (atomic); otherwise the good bytes are written to
//! `seg-NNNNNNNN.log.fix`, synced, renamed over the segment and the directory synced. A power
//! cut at any point leaves either the old segment or the repaired one; a leftover `.fix`
//! file is deleted at the next start (see [`is_leftover`]), and a quarantine copy made again
//! gets the same name (offset and CRC of its bytes), so nothing is counted twice.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::limits::QUARANTINE_MAX_BYTES;

use super::log::{segment_name, sync_dir};
use super::scan::{BadRecord, Damage, MAGIC};
use super::StoreError;

/// The store directory's subdirectory that holds copies of damaged bytes.
pub const QUARANTINE_DIR: &str = "quarantine";

/// Suffix of a repaired segment before it is renamed over the original.
const FIX_SUFFIX: &str = ".fix";

/// What recovery did with one damaged range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// An incomplete record at the end of the last segment (a crash while appending): cut off.
    TornTail,
    /// Copied to this file, then removed from the segment.
    Quarantined(PathBuf),
    /// Left in the segment (the quarantine is full or could not be written).
    LeftInPlace,
    /// Bytes past the largest size a segment can reach: cut off.
    CutBeyondBound,
}

impl fmt::Display for Fate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fate::TornTail => write!(f, "an incomplete last record (a crash while appending), cut off"),
            Fate::Quarantined(p) => write!(f, "copied to {} and removed from the segment", p.display()),
            Fate::LeftInPlace => write!(
                f,
                "left in place: the quarantine is full ({QUARANTINE_MAX_BYTES} bytes) or unwritable; \
                 it is skipped at every start"
            ),
            Fate::CutBeyondBound => write!(f, "beyond the largest segment size, cut off"),
        }
    }
}

/// One damaged range of a segment file and what recovery did with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damaged {
    /// The segment file.
    pub file: PathBuf,
    /// Offset of the first damaged byte in the file as it was found.
    pub offset: u64,
    /// Damaged bytes.
    pub len: u64,
    /// What was wrong at `offset`.
    pub reason: BadRecord,
    /// What recovery did.
    pub fate: Fate,
}

/// The quarantine directory and the bytes it holds.
pub struct Quarantine {
    dir: PathBuf,
    used: u64,
}

impl Quarantine {
    /// The quarantine of the store in `store_dir` (not created until something is copied).
    /// A quarantine that cannot be listed counts as full.
    pub fn open(store_dir: &Path) -> Quarantine {
        let dir = store_dir.join(QUARANTINE_DIR);
        let used = match fs::read_dir(&dir) {
            Ok(entries) => entries.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => {
                log::warn!("store: cannot list {}: {e}; damaged bytes will be left in place", dir.display());
                QUARANTINE_MAX_BYTES
            }
        };
        Quarantine { dir, used }
    }

    /// Bytes held.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Copies `bytes` (found at `offset` of segment `seg`) into the quarantine, durably.
    /// `Ok(None)`: no room.
    fn keep(&mut self, seg: u32, offset: u64, bytes: &[u8]) -> Result<Option<PathBuf>, StoreError> {
        let name = format!("seg-{seg:08}-at-{offset}-{:08x}.bad", crc32fast::hash(bytes));
        let path = self.dir.join(name);
        if fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
            return Ok(Some(path)); // copied by an earlier, interrupted recovery
        }
        if self.used.saturating_add(bytes.len() as u64) > QUARANTINE_MAX_BYTES {
            return Ok(None);
        }
        if !self.dir.is_dir() {
            fs::create_dir_all(&self.dir).map_err(io_err("create directory", &self.dir))?;
            if let Some(parent) = self.dir.parent() {
                sync_dir(parent)?;
            }
        }
        let mut file = File::create(&path).map_err(io_err("create", &path))?;
        file.write_all(bytes).and_then(|()| file.sync_all()).map_err(io_err("write", &path))?;
        sync_dir(&self.dir)?;
        self.used += bytes.len() as u64;
        Ok(Some(path))
    }
}

/// Whether a file name in the store directory is a repaired segment that a crash left
/// before its rename (the original segment is intact; delete the leftover).
pub fn is_leftover(name: &str) -> bool {
    name.strip_suffix(FIX_SUFFIX).and_then(super::log::parse_segment_name).is_some()
}

/// Decides the fate of each range of `damage` (from scanning `bytes`, the first bytes of
/// segment `no` whose file is `file_len` long), copies what must be kept, and removes what
/// may go from the file. Returns the file's new length and what happened, in file order.
///
/// # Errors
/// [`StoreError::Io`] when the segment cannot be truncated, rewritten or renamed. A copy
/// into the quarantine that fails is not an error: the range stays in place.
pub fn repair(
    dir: &Path,
    no: u32,
    bytes: &[u8],
    file_len: u64,
    is_last: bool,
    damage: &[Damage],
    quarantine: &mut Quarantine,
) -> Result<(u64, Vec<Damaged>), StoreError> {
    let path = dir.join(segment_name(no));
    let scanned = bytes.len() as u64;
    let mut done = Vec::with_capacity(damage.len() + 1);
    // Ranges to take out of the file, in order.
    let mut remove: Vec<(u64, u64)> = Vec::new();
    let too_long = file_len > scanned;
    // Where the bytes past the bound start being cut (earlier if damage runs into them).
    let mut beyond_from = scanned;
    for d in damage {
        let at_end = d.end == scanned;
        let fate = if at_end && too_long {
            beyond_from = d.start; // a record cut by the read bound: part of what goes
            continue;
        } else if at_end && is_last && d.reason.is_incomplete() {
            Fate::TornTail
        } else {
            let range = &bytes[d.start as usize..d.end as usize];
            match quarantine.keep(no, d.start, range) {
                Ok(Some(copy)) => Fate::Quarantined(copy),
                Ok(None) => Fate::LeftInPlace,
                Err(e) => {
                    log::warn!("store: cannot quarantine damaged bytes: {e}");
                    Fate::LeftInPlace
                }
            }
        };
        if fate != Fate::LeftInPlace {
            remove.push((d.start, d.end));
        }
        log::warn!(
            "store: {}: bytes {}..{} of {file_len} damaged ({}{}): {fate}",
            path.display(),
            d.start,
            d.end,
            d.reason,
            if d.gave_up { "; gave up looking for good records after it" } else { "" }
        );
        done.push(Damaged { file: path.clone(), offset: d.start, len: d.len(), reason: d.reason, fate });
    }
    if too_long {
        let fate = Fate::CutBeyondBound;
        log::warn!("store: {}: bytes {beyond_from}..{file_len} {fate}", path.display());
        done.push(Damaged {
            file: path.clone(),
            offset: beyond_from,
            len: file_len - beyond_from,
            reason: BadRecord::SegmentTooLong,
            fate,
        });
        remove.push((beyond_from, scanned));
    }
    if remove.is_empty() {
        return Ok((file_len, done));
    }
    // The bytes that stay, in order.
    let mut keep: Vec<&[u8]> = Vec::new();
    let mut cursor = 0u64;
    for &(start, end) in &remove {
        if start > cursor {
            keep.push(&bytes[cursor as usize..start as usize]);
        }
        cursor = end;
    }
    if cursor < scanned {
        keep.push(&bytes[cursor as usize..]);
    }
    let header_removed = remove.first().is_some_and(|&(start, _)| start == 0);
    let new_len = if keep.is_empty() {
        truncate(&path, 0)?
    } else if !header_removed && keep.len() == 1 {
        // Only the end goes: the first kept part is a prefix of the file.
        truncate(&path, keep[0].len() as u64)?
    } else {
        let magic: &[u8] = if header_removed { &MAGIC } else { &[] };
        rewrite(dir, &path, std::iter::once(magic).chain(keep))?
    };
    let kept_records = new_len.saturating_sub(MAGIC.len() as u64);
    log::warn!(
        "store: {}: {} damaged ranges; {kept_records} bytes of good records kept (file {file_len} -> {new_len} bytes)",
        path.display(),
        done.len()
    );
    Ok((new_len, done))
}

fn truncate(path: &Path, len: u64) -> Result<u64, StoreError> {
    let file = OpenOptions::new().write(true).open(path).map_err(io_err("open", path))?;
    file.set_len(len).map_err(io_err("truncate", path))?;
    file.sync_all().map_err(io_err("sync", path))?;
    Ok(len)
}

/// Replaces `path` by the concatenation of `parts`, crash-safely (write, sync, rename, sync
/// the directory). Returns the new length.
fn rewrite<'a>(dir: &Path, path: &Path, parts: impl Iterator<Item = &'a [u8]>) -> Result<u64, StoreError> {
    let mut tmp_name = path.file_name().expect("segment paths have a file name").to_os_string();
    tmp_name.push(FIX_SUFFIX);
    let tmp = dir.join(tmp_name);
    let mut file = File::create(&tmp).map_err(io_err("create", &tmp))?;
    let mut len = 0u64;
    for part in parts {
        file.write_all(part).map_err(io_err("write", &tmp))?;
        len += part.len() as u64;
    }
    file.sync_all().map_err(io_err("sync", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_err("rename over", path))?;
    sync_dir(dir)?;
    Ok(len)
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io { what, path: path.to_path_buf(), source }
}
