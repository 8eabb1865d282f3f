//! The on-disk half of the store: append-only segment files of checksummed records.
//!
//! Layout: a directory of `seg-NNNNNNNN.log` files (8 decimal digits, ascending). Each file
//! starts with the 8-byte [`MAGIC`] and holds records
//! `[u32 len][u32 crc32][len bytes of postcard(Event)]`, both integers little-endian, the
//! CRC-32 (IEEE) taken over the 4 length bytes and the payload. Other files are ignored.
//!
//! Recovery ([`Log::open`]) reads every segment in order ([`scan`]): a damaged record is
//! skipped and reading resumes at the next good one, so damage loses only the records whose
//! bytes it hit. The damaged bytes are copied to the quarantine and taken out of the segment
//! (crash-safely; see [`repair`] for the rules, the bound, and the torn tail of a crash
//! while appending, which is simply cut off). A record that decodes but whose id is not the
//! hash of its fields counts as damaged: the log never hands out an event with a wrong id.
//! The store directory may also hold a `quarantine/` directory and, after a power cut during
//! a repair, a `seg-NNNNNNNN.log.fix` file (deleted at start).
//!
//! Durability: [`Log::append`] writes the whole record to the OS in one `write` (a process
//! crash loses nothing after it returns); [`Log::sync`] makes everything durable against
//! power loss (`fdatasync` of the active segment, plus the directory after files were
//! created or deleted). Segments other than the active one are synced when they are left.
//!
//! This module moves bytes only; which segments to delete is decided in `mod.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::event::Event;
use crate::limits::{MAX_RECORD_BYTES, SEGMENT_MAX_BYTES};

use super::repair::{self, Damaged, Fate, Quarantine, QUARANTINE_DIR};
use super::ring::Loc;
pub use super::scan::{scan, BadRecord, MAGIC, RECORD_HEADER_BYTES};
use super::StoreError;

/// Largest size a segment file can reach: a full segment, or a header and one record
/// larger than a segment. Recovery reads no more than this of a file.
const MAX_SEGMENT_FILE_BYTES: u64 = SEGMENT_MAX_BYTES + (MAGIC.len() + RECORD_HEADER_BYTES + MAX_RECORD_BYTES) as u64;

/// Largest segment number (the file name has 8 digits).
const MAX_SEGMENT_NO: u32 = 99_999_999;

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} events from {} records in {} segment files", self.events, self.records, self.segments)?;
        if !self.damaged.is_empty() {
            let bytes: u64 = self.damaged.iter().map(|d| d.len).sum();
            let count = |want: fn(&Fate) -> bool| self.damaged.iter().filter(|d| want(&d.fate)).count();
            write!(
                f,
                "; {} damaged ranges ({bytes} bytes): {} quarantined, {} left in place, {} torn tails cut off",
                self.damaged.len(),
                count(|f| matches!(f, Fate::Quarantined(_))),
                count(|f| matches!(f, Fate::LeftInPlace)),
                count(|f| matches!(f, Fate::TornTail | Fate::CutBeyondBound)),
            )?;
        }
        if self.ignored_files > 0 {
            write!(f, "; {} unrelated files ignored", self.ignored_files)?;
        }
        Ok(())
    }
}

/// What recovery found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Segment files read.
    pub segments: usize,
    /// Good records read.
    pub records: u64,
    /// Events live after replay.
    pub events: u64,
    /// Records whose id was already live (left by an interrupted retention).
    pub duplicates: u64,
    /// Damaged byte ranges found and what was done with them, in file order.
    pub damaged: Vec<Damaged>,
    /// Files in the directory that are not segments (ignored).
    pub ignored_files: usize,
}

/// Appends `[len][crc][postcard(ev)]` to `buf`.
///
/// # Errors
/// [`StoreError::Encode`] if postcard fails, [`StoreError::RecordTooLarge`] if the payload
/// exceeds [`MAX_RECORD_BYTES`] (a verified event never does).
pub fn encode_record(ev: &Event, buf: &mut Vec<u8>) -> Result<(), StoreError> {
    let start = buf.len();
    buf.extend_from_slice(&[0; RECORD_HEADER_BYTES]);
    let mut out = postcard::to_extend(ev, std::mem::take(buf)).map_err(StoreError::Encode)?;
    let len = out.len() - start - RECORD_HEADER_BYTES;
    if len > MAX_RECORD_BYTES {
        out.truncate(start);
        *buf = out;
        return Err(StoreError::RecordTooLarge { len });
    }
    let len_le = u32::try_from(len).expect("len <= MAX_RECORD_BYTES").to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len_le);
    crc.update(&out[start + RECORD_HEADER_BYTES..]);
    out[start..start + 4].copy_from_slice(&len_le);
    out[start + 4..start + 8].copy_from_slice(&crc.finalize().to_le_bytes());
    *buf = out;
    Ok(())
}

/// The file name of segment `no`.
pub fn segment_name(no: u32) -> String {
    format!("seg-{no:08}.log")
}

/// The segment number of a file name, if it is one of ours.
pub fn parse_segment_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("seg-")?.strip_suffix(".log")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io { what, path: path.to_path_buf(), source }
}

/// The segment files of a store directory and the open active segment.
pub struct Log {
    dir: PathBuf,
    /// Every segment file and its length.
    segments: BTreeMap<u32, u64>,
    active_no: u32,
    active: File,
    segment_limit: u64,
    /// Reused record buffer.
    buf: Vec<u8>,
    /// Appended since the last sync.
    dirty: bool,
    /// Files created or deleted since the last directory sync.
    dir_dirty: bool,
    /// A failed write could not be undone: the next append starts a new segment.
    rotate_next: bool,
    /// Highest segment number named in the directory (even by a non-file), never reused.
    highest_name: u32,
    /// An `fdatasync` failed: what reached the disk is unknown, so nothing more is written
    /// (after a failed fsync Linux may drop the dirty pages and report success next time).
    poisoned: bool,
}

impl Log {
    /// Opens (creating if needed) the log in `dir`, replays every good record through
    /// `on_event(event, loc)` in log order, repairs damaged segments, and opens the last segment
    /// (or a new one) for appending.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the directory or a segment cannot be created, read or repaired.
    pub fn open(
        dir: &Path,
        segment_limit: u64,
        mut on_event: impl FnMut(Event, Loc),
    ) -> Result<(Log, Recovery), StoreError> {
        if !dir.is_dir() {
            fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
            // The new directory's own entry must survive a power loss too.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        let mut recovery = Recovery::default();
        let mut segments = BTreeMap::new();
        // Highest segment-like name, even of something that is not a file: never reused.
        let mut highest_name = 0;
        for entry in fs::read_dir(dir).map_err(io_err("list directory", dir))? {
            let entry = entry.map_err(io_err("list directory", dir))?;
            let name = entry.file_name();
            let parsed = name.to_str().and_then(parse_segment_name);
            highest_name = highest_name.max(parsed.unwrap_or(0));
            match parsed {
                Some(no) if entry.file_type().is_ok_and(|t| t.is_file()) => {
                    segments.insert(no, 0u64);
                }
                None if name == QUARANTINE_DIR => {}
                None if name.to_str().is_some_and(super::tombfile::is_own_file) => {}
                None if name.to_str().is_some_and(repair::is_leftover) => {
                    // A repair cut short by a crash: the segment itself is intact.
                    let path = entry.path();
                    log::warn!("store: deleting {} (left by an interrupted repair)", path.display());
                    fs::remove_file(&path).map_err(io_err("delete", &path))?;
                }
                _ => {
                    log::warn!("store: ignoring {} (not a segment file)", entry.path().display());
                    recovery.ignored_files += 1;
                }
            }
        }
        let mut bytes = Vec::new();
        let mut quarantine = Quarantine::open(dir);
        let last_no = segments.last_key_value().map(|(&no, _)| no);
        for (&no, len) in segments.iter_mut() {
            let path = dir.join(segment_name(no));
            bytes.clear();
            let mut file = File::open(&path).map_err(io_err("open", &path))?;
            let file_len = file.metadata().map_err(io_err("read", &path))?.len();
            // A segment never grows past this; reading more could exhaust memory.
            (&mut file).take(MAX_SEGMENT_FILE_BYTES).read_to_end(&mut bytes).map_err(io_err("read", &path))?;
            drop(file);
            recovery.segments += 1;
            let damage = scan(&bytes, |_offset, rec_len, event| {
                recovery.records += 1;
                on_event(event, Loc { seg: no, len: rec_len });
            });
            let file_len = file_len.max(bytes.len() as u64);
            let (new_len, damaged) =
                repair::repair(dir, no, &bytes, file_len, Some(no) == last_no, &damage, &mut quarantine)?;
            *len = new_len;
            recovery.damaged.extend(damaged);
        }
        drop(bytes);
        let last = segments.last_key_value().map(|(&no, &len)| (no, len));
        let (active_no, active, dir_dirty) = match last {
            Some((no, len)) if len < segment_limit => {
                let path = dir.join(segment_name(no));
                let mut file = OpenOptions::new().append(true).open(&path).map_err(io_err("open", &path))?;
                if len < MAGIC.len() as u64 {
                    // Empty or cut inside the header: start the file again.
                    file.set_len(0).map_err(io_err("truncate", &path))?;
                    file.write_all(&MAGIC).map_err(io_err("write", &path))?;
                    file.sync_all().map_err(io_err("sync", &path))?;
                    segments.insert(no, MAGIC.len() as u64);
                }
                (no, file, false)
            }
            _ => {
                let no = next_segment_no(highest_name)?;
                let file = create_segment(dir, no)?;
                segments.insert(no, MAGIC.len() as u64);
                (no, file, true)
            }
        };
        let mut log = Log {
            dir: dir.to_path_buf(),
            segments,
            active_no,
            active,
            segment_limit,
            buf: Vec::new(),
            dirty: false,
            dir_dirty,
            rotate_next: false,
            highest_name: highest_name.max(active_no),
            poisoned: false,
        };
        log.sync()?;
        Ok((log, recovery))
    }

    /// Appends one record to the active segment (starting a new segment first when this
    /// one is full) and hands it to the OS.
    ///
    /// # Errors
    /// [`StoreError::Io`] when writing fails; the partial record is cut off again so later
    /// records stay readable (if even that fails, the next append starts a new segment).
    pub fn append(&mut self, ev: &Event) -> Result<Loc, StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let encoded = encode_record(ev, &mut buf);
        let result = encoded.and_then(|()| self.write_record(&buf));
        self.buf = buf;
        result
    }

    fn write_record(&mut self, record: &[u8]) -> Result<Loc, StoreError> {
        let active_len = self.active_len();
        let full = active_len > MAGIC.len() as u64 && active_len + record.len() as u64 > self.segment_limit;
        if full || self.rotate_next {
            self.rotate()?;
        }
        let path = self.active_path();
        let before = self.active_len();
        if let Err(e) = self.active.write_all(record) {
            if self.active.set_len(before).is_err() {
                self.rotate_next = true;
            }
            return Err(io_err("append to", &path)(e));
        }
        self.dirty = true;
        let len = u32::try_from(record.len()).expect("records are bounded by MAX_RECORD_BYTES");
        self.segments.insert(self.active_no, before + u64::from(len));
        Ok(Loc { seg: self.active_no, len })
    }

    /// Syncs the segment being left, then creates the next one.
    fn rotate(&mut self) -> Result<(), StoreError> {
        self.sync_active()?;
        let no = next_segment_no(self.highest_name)?;
        self.active = create_segment(&self.dir, no)?;
        self.active_no = no;
        self.highest_name = no;
        self.segments.insert(no, MAGIC.len() as u64);
        self.dir_dirty = true;
        self.rotate_next = false;
        Ok(())
    }

    /// Makes every appended record (and created or deleted file) durable.
    ///
    /// # Errors
    /// [`StoreError::Io`] when `fdatasync` fails; what reached the disk is then unknown.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.sync_active()?;
        if self.dir_dirty {
            sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        Ok(())
    }

    /// `fdatasync` of the active segment if anything was appended; poisons the log on failure.
    fn sync_active(&mut self) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        if self.dirty {
            if let Err(e) = self.active.sync_data() {
                self.poisoned = true;
                let e = io_err("sync", &self.active_path())(e);
                log::error!("store: {e}; refusing further writes until restart");
                return Err(e);
            }
            self.dirty = false;
        }
        Ok(())
    }

    /// Deletes a segment other than the active one (the caller made sure nothing live is
    /// in it). Durable at the next [`Log::sync`].
    ///
    /// # Errors
    /// [`StoreError::Io`] when the file cannot be removed.
    pub fn delete(&mut self, no: u32) -> Result<(), StoreError> {
        debug_assert_ne!(no, self.active_no, "the active segment is never deleted");
        if no == self.active_no || !self.segments.contains_key(&no) {
            return Ok(());
        }
        let path = self.dir.join(segment_name(no));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("delete", &path)(e)),
        }
        self.segments.remove(&no);
        self.dir_dirty = true;
        Ok(())
    }

    /// Every segment and its file length.
    pub fn segments(&self) -> &BTreeMap<u32, u64> {
        &self.segments
    }

    /// The segment appended to.
    pub fn active_no(&self) -> u32 {
        self.active_no
    }

    /// Total bytes of all segment files.
    pub fn disk_bytes(&self) -> u64 {
        self.segments.values().sum()
    }

    fn active_len(&self) -> u64 {
        self.segments.get(&self.active_no).copied().unwrap_or(0)
    }

    fn active_path(&self) -> PathBuf {
        self.dir.join(segment_name(self.active_no))
    }
}

fn next_segment_no(no: u32) -> Result<u32, StoreError> {
    if no >= MAX_SEGMENT_NO {
        return Err(StoreError::SegmentsExhausted);
    }
    Ok(no + 1)
}

/// Creates segment `no` with its header, synced (the directory is synced by the caller).
fn create_segment(dir: &Path, no: u32) -> Result<File, StoreError> {
    let path = dir.join(segment_name(no));
    let mut file = OpenOptions::new().append(true).create_new(true).open(&path).map_err(io_err("create", &path))?;
    file.write_all(&MAGIC).map_err(io_err("write", &path))?;
    file.sync_data().map_err(io_err("sync", &path))?;
    Ok(file)
}

pub(super) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err("sync directory", dir))
}
