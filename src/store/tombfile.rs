//! The tombstone file: NIP-09 deletion targets ([`super::tombs`]) kept on disk independent of
//! the segment log, so a name outlives the retirement of its deletion request's segment.
//!
//! Format: the 8-byte magic, then fixed-size records of [`RECORD_BYTES`] in the order the
//! names were noted (a name moved later by a later deletion appears again, later):
//! `tag (1: id, 2: coordinate) | kind u16 LE | id or SHA-256 of d (32) | deleter (32) |
//! created_at u64 LE | CRC-32 of the preceding 75 bytes LE`. A coordinate's author is the
//! deleter (NIP-09 lets one delete only one's own).
//!
//! Written only when something is deleted: new names are appended at the store's group commit
//! and synced before any segment may be retired. When the file holds
//! [`TOMBSTONE_FILE_MAX_RECORDS`] records it is rewritten from memory (at most
//! [`TOMBSTONES_CAP`] live names) to a temporary file, synced and renamed over, so it stays
//! within about 10 MiB. Reading is bounded the same way; a record with a bad checksum is
//! skipped, a torn last record cut off, and a file with a wrong magic is rewritten from what
//! the log's replay rebuilt (never a panic, never a refusal to start).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::log::sync_dir;
use super::tombs::{Tomb, TombKey};
use super::StoreError;
use crate::event::EventId;
use crate::keys::PublicKey;
#[cfg(doc)]
use crate::limits::TOMBSTONES_CAP;
use crate::limits::TOMBSTONE_FILE_MAX_RECORDS;
use crate::time::UnixTime;

/// The file's name in the store directory.
pub const TOMB_FILE: &str = "tombstones";
/// The temporary name while the file is rewritten.
pub const TOMB_FILE_TMP: &str = "tombstones.tmp";
const MAGIC: [u8; 8] = *b"NP2PTMB1";
/// Bytes of one record.
pub const RECORD_BYTES: usize = 79;

/// Whether `name` is one of this module's files (the log leaves them alone).
pub fn is_own_file(name: &str) -> bool {
    name == TOMB_FILE || name == TOMB_FILE_TMP
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io { what, path: path.to_path_buf(), source }
}

/// Encodes one tombstone.
pub fn encode(&(key, who, at): &Tomb) -> [u8; RECORD_BYTES] {
    let mut r = [0u8; RECORD_BYTES];
    let (tag, kind, bytes) = match key {
        TombKey::Id(id) => (1u8, 0u16, id.0),
        TombKey::Addr(_, kind, d) => (2u8, kind, d),
    };
    r[0] = tag;
    r[1..3].copy_from_slice(&kind.to_le_bytes());
    r[3..35].copy_from_slice(&bytes);
    r[35..67].copy_from_slice(&who.0);
    r[67..75].copy_from_slice(&at.0.to_le_bytes());
    let crc = crc32fast::hash(&r[..75]);
    r[75..].copy_from_slice(&crc.to_le_bytes());
    r
}

/// Decodes one record; `None` for a bad checksum or tag.
pub fn decode(r: &[u8; RECORD_BYTES]) -> Option<Tomb> {
    let crc = u32::from_le_bytes([r[75], r[76], r[77], r[78]]);
    if crc32fast::hash(&r[..75]) != crc {
        return None;
    }
    let kind = u16::from_le_bytes([r[1], r[2]]);
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&r[3..35]);
    let mut who = [0u8; 32];
    who.copy_from_slice(&r[35..67]);
    let mut at = [0u8; 8];
    at.copy_from_slice(&r[67..75]);
    let who = PublicKey(who);
    let key = match r[0] {
        1 => TombKey::Id(EventId(bytes)),
        2 => TombKey::Addr(who, kind, bytes),
        _ => return None,
    };
    Some((key, who, UnixTime(u64::from_le_bytes(at))))
}

/// What [`TombFile::open`] read back.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Good records, in file order.
    pub tombs: Vec<Tomb>,
    /// Records skipped for a bad checksum, plus one for a torn tail or a wrong magic.
    pub damaged: u64,
}

/// The open tombstone file. See the module doc.
pub struct TombFile {
    dir: PathBuf,
    /// Open for appending once it exists with a good header.
    file: Option<File>,
    /// Records in the file.
    records: u64,
    /// The file must be rewritten from memory before the next append (bad header, torn tail,
    /// a failed append).
    rewrite: bool,
    /// Appended since the last sync.
    dirty: bool,
    /// A sync failed: what is on disk is unknown (see [`StoreError::Poisoned`]).
    poisoned: bool,
}

impl TombFile {
    /// Reads the file in `dir` (missing is empty), at most [`TOMBSTONE_FILE_MAX_RECORDS`]
    /// records.
    ///
    /// # Errors
    /// [`StoreError::Io`] when an existing file cannot be read.
    pub fn open(dir: &Path) -> Result<(TombFile, Loaded), StoreError> {
        let mut tf =
            TombFile { dir: dir.to_path_buf(), file: None, records: 0, rewrite: false, dirty: false, poisoned: false };
        let mut loaded = Loaded::default();
        let path = dir.join(TOMB_FILE);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((tf, loaded)),
            Err(e) => return Err(io_err("open", &path)(e)),
        };
        let max = MAGIC.len() as u64 + TOMBSTONE_FILE_MAX_RECORDS * RECORD_BYTES as u64;
        let mut r = BufReader::new(file.take(max));
        let mut magic = [0u8; 8];
        let got = read_full(&mut r, &mut magic).map_err(io_err("read", &path))?;
        if got < magic.len() || magic != MAGIC {
            ::log::warn!("store: {} has no valid header; rewriting it from the log", path.display());
            loaded.damaged += 1;
            tf.rewrite = true;
            return Ok((tf, loaded));
        }
        let mut rec = [0u8; RECORD_BYTES];
        loop {
            let got = read_full(&mut r, &mut rec).map_err(io_err("read", &path))?;
            if got < RECORD_BYTES {
                if got > 0 {
                    // A torn last record (crash while appending): the rewrite drops it.
                    loaded.damaged += 1;
                    tf.rewrite = true;
                }
                break;
            }
            tf.records += 1;
            match decode(&rec) {
                Some(t) => loaded.tombs.push(t),
                None => loaded.damaged += 1,
            }
        }
        if loaded.damaged > 0 {
            ::log::warn!("store: {} damaged tombstone records in {}", loaded.damaged, path.display());
        }
        if !tf.rewrite {
            tf.file = Some(OpenOptions::new().append(true).open(&path).map_err(io_err("open", &path))?);
        }
        Ok((tf, loaded))
    }

    /// Writes `pending` (or, when `all_needed` or the file is full or damaged, everything in
    /// `all`) and makes it durable.
    ///
    /// # Errors
    /// [`StoreError::Io`]; a failed `fdatasync` poisons the file ([`StoreError::Poisoned`]).
    pub fn save<I: Iterator<Item = Tomb>>(
        &mut self,
        pending: &[Tomb],
        all_needed: bool,
        all: impl FnOnce() -> I,
    ) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        let full = self.records + pending.len() as u64 > TOMBSTONE_FILE_MAX_RECORDS;
        if self.rewrite || all_needed || full || (self.file.is_none() && !pending.is_empty()) {
            return self.rewrite_with(all());
        }
        if let Some(file) = self.file.as_mut().filter(|_| !pending.is_empty()) {
            let buf: Vec<u8> = pending.iter().flat_map(encode).collect();
            if let Err(e) = file.write_all(&buf) {
                // Part of a record may be on disk: start over from memory next time.
                self.rewrite = true;
                return Err(io_err("append to", &self.dir.join(TOMB_FILE))(e));
            }
            self.records += pending.len() as u64;
            self.dirty = true;
        }
        if self.dirty {
            if let Some(file) = &self.file {
                if let Err(e) = file.sync_data() {
                    self.poisoned = true;
                    return Err(io_err("sync", &self.dir.join(TOMB_FILE))(e));
                }
            }
            self.dirty = false;
        }
        Ok(())
    }

    /// Replaces the file by `tombs`: a temporary file, synced, renamed over, directory synced.
    fn rewrite_with(&mut self, tombs: impl Iterator<Item = Tomb>) -> Result<(), StoreError> {
        let (tmp, path) = (self.dir.join(TOMB_FILE_TMP), self.dir.join(TOMB_FILE));
        self.file = None;
        self.rewrite = true;
        let mut buf = MAGIC.to_vec();
        let mut records = 0u64;
        for t in tombs {
            buf.extend_from_slice(&encode(&t));
            records += 1;
        }
        let mut f = File::create(&tmp).map_err(io_err("create", &tmp))?;
        f.write_all(&buf).map_err(io_err("write", &tmp))?;
        if let Err(e) = f.sync_all() {
            self.poisoned = true;
            return Err(io_err("sync", &tmp)(e));
        }
        drop(f);
        fs::rename(&tmp, &path).map_err(io_err("rename", &tmp))?;
        sync_dir(&self.dir)?;
        self.file = Some(OpenOptions::new().append(true).open(&path).map_err(io_err("open", &path))?);
        self.records = records;
        self.rewrite = false;
        self.dirty = false;
        Ok(())
    }

    /// Records in the file.
    pub fn records(&self) -> u64 {
        self.records
    }
}

/// Reads until `buf` is full or the end; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
