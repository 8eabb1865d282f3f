//! The event store: every live event in memory under a byte budget ([`ring`]), persisted in
//! an append-only, checksummed segment log ([`log`]), with retention by whole segments.
//!
//! Owned by the driver (one owner, no locks). [`Store::insert`] decides in pure code
//! ([`ring::Ring::admit`]) whether an event is kept, appends its record (handed to the OS at
//! once: a process crash loses nothing after `insert` returned), then updates memory.
//! [`Store::sync`] is the group commit: one `fdatasync` for every insert since the last one;
//! the driver calls it before answering `/publish` with 200. Every event for which `sync`
//! returned `Ok` survives `kill -9` and power loss (unless evicted by the budget since).
//!
//! Retention (in `sync`, decided by the pure [`plan_retention`]): a segment other than the
//! active one is deleted once none of its records is live. Pinned events can keep an old
//! segment alive forever, so when the segment files exceed [`DISK_BUDGET_FACTOR`] × budget,
//! the live events of the old segment with the smallest live share (at most half) are
//! re-appended to the active segment, synced, and only then is that segment deleted: no live
//! event is ever without a durable record, and each byte is rewritten about once at most.
//!
//! Recovery replays the log through the same `admit`/`insert` rules as at run time, so
//! indexes, pins and evictions are rebuilt, never stored. Eviction writes nothing (no
//! tombstones: SD cards wear), so records of evicted events stay until their segment goes;
//! replaying them can, at the oldest edge of a full store, exchange events of nearly the
//! same age with what was live before. Events newer than that edge come back exactly.
//!
//! NIP-01/NIP-09 classes ([`tombs`]): ephemeral kinds are refused, an addressable event
//! replaces the older version of its author, kind and `d` value, and a kind-5 deletion
//! request removes its author's named events and leaves tombstones that refuse them from then
//! on. Tombstones live in their own small file ([`tombfile`]), written at the group commit
//! before any segment is retired, so they outlive the deletion request's record.
//!
//! After a failed `fdatasync` the state of the disk is unknown (Linux may have dropped the
//! dirty pages), so the store refuses further writes ([`StoreError::Poisoned`]); queries
//! still answer from memory. The driver should treat it as a fault and restart: recovery
//! reads back what the disk really has.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::event::{Event, EventId, VerifiedEvent};
use crate::keys::PublicKey;
use crate::limits::{DISK_BUDGET_FACTOR, SEGMENT_MAX_BYTES, SEGMENT_MIN_BYTES};
use crate::query::{AnswerEvent, EventQuery, Found, StoreStats};
use crate::time::UnixTime;

pub(crate) mod compact;
#[cfg(test)]
mod damage_tests;
#[cfg(test)]
mod disk_tests;
pub(crate) mod ids;
pub mod late;
pub mod log;
pub mod repair;
pub mod ring;
#[cfg(test)]
mod ring_tests;
pub mod scan;
#[cfg(test)]
mod tests;
pub(crate) mod timeline;
pub mod tombfile;
pub mod tombs;
#[cfg(test)]
mod tombs_tests;

use self::late::LateArrivals;
use self::log::Log;
pub use self::log::Recovery;
pub use self::repair::{Damaged, Fate};
pub use self::ring::Refusal;
use self::ring::{Admission, Loc, Ring};
pub use self::scan::BadRecord;
use self::tombfile::TombFile;

/// How a store is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// Bytes of events kept in memory (`--store-mib` × 2²⁰), as measured by [`ring::cost_of`].
    pub budget_bytes: u64,
    /// The node owner's key: their events are pinned.
    pub owner: PublicKey,
}

/// What [`Store::insert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// Stored and written to the log; `evicted` older events made room.
    New {
        /// Events evicted by this insert.
        evicted: usize,
    },
    /// An event with this id is already stored; nothing written.
    Duplicate,
    /// Valid but not kept: the store is full of newer events (or the event alone exceeds
    /// the budget), so it would have been the first evicted. Nothing written.
    Dropped,
    /// Never stored whatever the room (deleted by its author, or ephemeral). Nothing written.
    Refused(Refusal),
}

/// Why the store could not do what was asked. All of these are faults (disk, permissions),
/// not bad input: the driver reports them and, for `open` and `Poisoned`, stops.
#[derive(Debug)]
pub enum StoreError {
    /// A file operation failed.
    Io {
        /// What was being done ("append to", "sync", …).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// postcard could not encode an event (should not happen for a verified event).
    Encode(postcard::Error),
    /// An encoded event is larger than [`crate::limits::MAX_RECORD_BYTES`].
    RecordTooLarge {
        /// Payload length.
        len: usize,
    },
    /// Segment numbers ran out (99,999,999 segments).
    SegmentsExhausted,
    /// An earlier `sync` failed, so what is on disk is unknown; restart to recover.
    Poisoned,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io { what, path, source } => write!(f, "cannot {what} {}: {source}", path.display()),
            StoreError::Encode(e) => write!(f, "cannot encode an event for the log: {e}"),
            StoreError::RecordTooLarge { len } => write!(f, "encoded event of {len} bytes is too large for the log"),
            StoreError::SegmentsExhausted => write!(f, "the store ran out of segment numbers"),
            StoreError::Poisoned => write!(f, "an earlier disk sync failed; restart to recover the store"),
        }
    }
}

impl StoreError {
    /// The disk (or the user's quota) is full: the user must free space.
    pub fn is_no_space(&self) -> bool {
        matches!(self, StoreError::Io { source, .. }
            if matches!(source.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded))
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io { source, .. } => Some(source),
            StoreError::Encode(e) => Some(e),
            _ => None,
        }
    }
}

/// Live events whose record is in one segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentLive {
    /// Number of live events.
    pub events: u32,
    /// Their record bytes.
    pub bytes: u64,
}

/// What retention should do now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionPlan {
    /// Segments with no live event: delete.
    pub delete: Vec<u32>,
    /// Over the disk limit: re-append this segment's live events, then delete it.
    pub compact: Option<u32>,
}

/// Decides retention from the segment files (`number → length`), the live figures per
/// segment, the active segment and the disk limit. Pure.
///
/// Compaction picks the old segment with the smallest live share, and only one that is at
/// most half live: moving it frees at least as many bytes as it writes, so each byte the
/// log writes is rewritten at most about once more (SD cards wear). While the segment files
/// exceed the limit, the live records (≤ the budget) fill at most half of them on average,
/// so such a segment exists except when the few always-kept events outweigh a tiny budget.
pub fn plan_retention(
    files: &BTreeMap<u32, u64>,
    live: &BTreeMap<u32, SegmentLive>,
    active: u32,
    disk_limit: u64,
) -> RetentionPlan {
    let live_of = |no: &u32| live.get(no).copied().unwrap_or_default();
    let delete: Vec<u32> = files.keys().copied().filter(|no| *no != active && live_of(no).events == 0).collect();
    let kept_disk: u64 = files.iter().filter(|(no, _)| !delete.contains(no)).map(|(_, len)| len).sum();
    let mut compact: Option<(u32, u64, u64)> = None;
    if kept_disk > disk_limit {
        for (&no, &len) in files.iter().filter(|(no, _)| **no != active && !delete.contains(no)) {
            let bytes = live_of(&no).bytes;
            let at_most_half_live = bytes.saturating_mul(2) <= len;
            // bytes / len < best_bytes / best_len, in integers.
            let better =
                compact.is_none_or(|(_, b, l)| u128::from(bytes) * u128::from(l) < u128::from(b) * u128::from(len));
            if at_most_half_live && better {
                compact = Some((no, bytes, len));
            }
        }
    }
    RetentionPlan { delete, compact: compact.map(|(no, _, _)| no) }
}

/// Segment size for a budget: `budget / 8` within [`SEGMENT_MIN_BYTES`]..=[`SEGMENT_MAX_BYTES`].
pub fn segment_limit(budget: u64) -> u64 {
    (budget / 8).clamp(SEGMENT_MIN_BYTES, SEGMENT_MAX_BYTES)
}

/// Disk bytes the segment files may take before retention compacts.
pub fn disk_limit(budget: u64, segment_bytes: u64) -> u64 {
    budget.saturating_mul(DISK_BUDGET_FACTOR).saturating_add(segment_bytes.saturating_mul(2))
}

/// The event store. See the module doc.
pub struct Store {
    ring: Ring,
    log: Log,
    live: BTreeMap<u32, SegmentLive>,
    disk_limit: u64,
    /// Segments compacted and records re-appended since open (the write amplification).
    compacted: (u64, u64),
    /// Events that arrived long after their `created_at` (memory only).
    late: LateArrivals,
    /// NIP-09 tombstones on disk.
    tombfile: TombFile,
    /// Changes with every change a query can see ([`EventQuery::generation`]): every
    /// `&mut self` method that changes `ring` or `late` bumps it.
    generation: u64,
}

impl Store {
    /// Opens the store in `dir` (created if missing), replays the log into memory (see
    /// [`log::Log::open`] for what recovery keeps, skips and quarantines), and applies retention.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the directory cannot be created, read or written.
    pub fn open(dir: &Path, cfg: StoreConfig) -> Result<(Store, Recovery), StoreError> {
        Store::open_with(dir, cfg, segment_limit(cfg.budget_bytes))
    }

    /// [`Store::open`] with a chosen segment size (tests use small segments).
    fn open_with(dir: &Path, cfg: StoreConfig, segment_bytes: u64) -> Result<(Store, Recovery), StoreError> {
        let mut ring = Ring::new(cfg.budget_bytes, cfg.owner);
        // Tombstones first: the log's replay then refuses deleted events as at run time.
        let (tombfile, tombs) = TombFile::open(dir)?;
        for t in tombs.tombs {
            ring.tombs_mut().restore(t);
        }
        let mut duplicates = 0;
        let (log, mut recovery) = Log::open(dir, segment_bytes, |event, loc| {
            // Records were verified before they were written, and `scan` re-checked the id.
            match ring.admit(&event) {
                Admission::Duplicate => duplicates += 1,
                Admission::Drop | Admission::Refused(_) => {}
                Admission::Keep => {
                    ring.insert(VerifiedEvent::from_own_log(event), loc);
                }
            }
        })?;
        recovery.duplicates = duplicates;
        recovery.events = ring.len() as u64;
        let mut live: BTreeMap<u32, SegmentLive> = BTreeMap::new();
        for loc in ring.locations() {
            add_live(&mut live, loc);
        }
        let mut store = Store {
            ring,
            log,
            live,
            disk_limit: disk_limit(cfg.budget_bytes, segment_bytes),
            compacted: (0, 0),
            late: LateArrivals::default(),
            tombfile,
            generation: 0,
        };
        store.sync()?;
        ::log::info!(
            "store: {} events ({} of {} bytes) from {} segments, {} damaged ranges",
            recovery.events,
            store.ring.bytes(),
            store.ring.budget(),
            recovery.segments,
            recovery.damaged.len()
        );
        Ok((store, recovery))
    }

    /// Notes when a just-stored event arrived, so a late one is still shown by the client's
    /// next timeline poll (see [`late`]). Unknown ids are ignored.
    pub fn note_arrival(&mut self, id: &EventId, arrived: UnixTime) {
        if let Some(created_at) = self.ring.created_at(id) {
            self.generation = self.generation.wrapping_add(1);
            self.late.note(*id, created_at, arrived);
        }
    }

    /// Stores a verified event: appends its record (handed to the OS before returning),
    /// then updates memory and evicts. Durable against power loss after [`Store::sync`].
    ///
    /// # Errors
    /// [`StoreError::Io`] when the append fails (memory is then unchanged), or
    /// [`StoreError::Poisoned`] after a failed sync.
    pub fn insert(&mut self, ev: VerifiedEvent) -> Result<Inserted, StoreError> {
        match self.ring.admit(&ev) {
            Admission::Duplicate => return Ok(Inserted::Duplicate),
            Admission::Drop => return Ok(Inserted::Dropped),
            Admission::Refused(why) => return Ok(Inserted::Refused(why)),
            Admission::Keep => {}
        }
        // Before anything changes (an append error leaves memory as it was; a spare bump
        // only costs a cache miss).
        self.generation = self.generation.wrapping_add(1);
        let loc = self.log.append(&ev)?;
        add_live(&mut self.live, loc);
        let outcome = self.ring.insert(ev, loc);
        for gone in outcome.evicted.iter().chain(&outcome.deleted) {
            sub_live(&mut self.live, gone.loc);
        }
        self.debug_check();
        Ok(if outcome.kept { Inserted::New { evicted: outcome.evicted.len() } } else { Inserted::Dropped })
    }

    /// Group commit: makes every insert so far durable, then applies retention (deleting
    /// dead segments, compacting one old segment when over the disk limit).
    ///
    /// # Errors
    /// [`StoreError::Io`]; a failed `fdatasync` also poisons the store (see the module doc).
    pub fn sync(&mut self) -> Result<(), StoreError> {
        // Tombstones are durable before a segment holding their deletion request may go.
        let (pending, overflow) = self.ring.tombs_mut().take_pending();
        let ring = &self.ring;
        self.tombfile.save(&pending, overflow, || ring.tombs().all())?;
        let plan = plan_retention(self.log.segments(), &self.live, self.log.active_no(), self.disk_limit);
        if let Some(seg) = plan.compact {
            self.reappend(seg)?;
        }
        self.log.sync()?;
        // Only now, with the re-appended copies durable, may old segments go.
        let plan = plan_retention(self.log.segments(), &self.live, self.log.active_no(), u64::MAX);
        if !plan.delete.is_empty() {
            for seg in plan.delete {
                self.log.delete(seg)?;
                self.live.remove(&seg);
            }
            self.log.sync()?;
        }
        self.debug_check();
        Ok(())
    }

    /// Re-appends the live events of segment `seg` to the active segment.
    fn reappend(&mut self, seg: u32) -> Result<(), StoreError> {
        let moving = self.ring.live_in_segment(seg);
        ::log::debug!("store: retention re-appends {} live events of segment {seg}", moving.len());
        self.compacted.0 += 1;
        self.compacted.1 += moving.len() as u64;
        for (id, old) in moving {
            let ev = self.ring.get(&id).expect("live_in_segment names live events");
            let loc = self.log.append(&ev)?;
            self.ring.relocate(&id, loc);
            add_live(&mut self.live, loc);
            sub_live(&mut self.live, old);
        }
        Ok(())
    }

    /// The id of `author`'s latest replaceable event of `kind`, without decoding it (a caller
    /// polling for a change decodes only when the id moved).
    pub fn latest_replaceable_id(&self, author: &PublicKey, kind: u16) -> Option<EventId> {
        self.ring.latest_replaceable_id(author, kind)
    }

    /// Live likes (kind 7 reactions other than `-`) of `post`, oldest first.
    pub fn likes_of(&self, post: &EventId) -> Vec<Event> {
        self.ring.likes_of(post)
    }

    /// Number of live events.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether no event is stored.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    fn debug_check(&self) {
        debug_assert!(self.live.keys().all(|no| self.log.segments().contains_key(no)));
        debug_assert_eq!(self.live.values().map(|l| u64::from(l.events)).sum::<u64>(), self.ring.len() as u64);
    }
}

fn add_live(live: &mut BTreeMap<u32, SegmentLive>, loc: Loc) {
    let l = live.entry(loc.seg).or_default();
    l.events += 1;
    l.bytes += u64::from(loc.len);
}

fn sub_live(live: &mut BTreeMap<u32, SegmentLive>, loc: Loc) {
    let l = live.get_mut(&loc.seg).expect("a live event's segment has live figures");
    l.events -= 1;
    l.bytes -= u64::from(loc.len);
}

/// A `/req` answer's event as the ring's packed bytes (rendered without decoding).
fn packed_answer(((created_at, id), bytes): (ring::Key, &[u8])) -> AnswerEvent<'_> {
    AnswerEvent::Packed { id, created_at, bytes }
}

/// Answers are decoded from the ring's packed bytes ([`compact`]): owned events; `/req`
/// answers stay packed (`*_answer`) and are rendered from the bytes.
impl EventQuery for Store {
    fn last_n(&self, n: usize) -> Vec<Found<'_>> {
        self.ring.last_n(n).into_iter().map(Cow::Owned).collect()
    }

    fn window(&self, since: UnixTime, until: UnixTime, max: usize) -> Vec<Found<'_>> {
        self.ring.window(since, until, max).into_iter().map(Cow::Owned).collect()
    }

    fn arrived_late(&self, since: UnixTime, until: UnixTime, max: usize) -> Vec<Found<'_>> {
        self.late.between(since, until).filter_map(|id| self.ring.get(id)).take(max).map(Cow::Owned).collect()
    }

    fn get(&self, id: &EventId) -> Option<Found<'_>> {
        self.ring.get(id).map(Cow::Owned)
    }

    fn last_n_answer(&self, n: usize) -> Vec<AnswerEvent<'_>> {
        self.ring.last_n_packed(n).into_iter().map(packed_answer).collect()
    }

    fn window_answer(&self, since: UnixTime, until: UnixTime, max: usize) -> Vec<AnswerEvent<'_>> {
        self.ring.window_packed(since, until, max).into_iter().map(packed_answer).collect()
    }

    fn arrived_late_answer(&self, since: UnixTime, until: UnixTime, max: usize) -> Vec<AnswerEvent<'_>> {
        self.late.between(since, until).filter_map(|id| self.ring.get_packed(id)).take(max).map(packed_answer).collect()
    }

    fn contains(&self, id: &EventId) -> bool {
        self.ring.contains(id)
    }

    fn latest_replaceable(&self, author: &PublicKey, kind: u16) -> Option<Found<'_>> {
        self.ring.latest_replaceable(author, kind).map(Cow::Owned)
    }

    fn newest_first<'a>(&'a self, since: UnixTime, until: UnixTime) -> Box<dyn Iterator<Item = Found<'a>> + 'a> {
        Box::new(self.ring.newest_first(since, until).map(Cow::Owned))
    }

    fn newest_first_where<'a>(
        &'a self,
        since: UnixTime,
        until: UnixTime,
        pre: &'a dyn Fn(&PublicKey, u16) -> bool,
    ) -> Box<dyn Iterator<Item = Option<Found<'a>>> + 'a> {
        Box::new(self.ring.newest_first_where(since, until, pre).map(|e| e.map(Cow::Owned)))
    }

    fn is_current(&self, ev: &Event) -> bool {
        self.ring.is_current(ev)
    }

    fn is_deleted(&self, ev: &Event) -> bool {
        self.ring.is_deleted(ev)
    }

    fn generation(&self) -> Option<u64> {
        Some(self.generation)
    }

    fn stats(&self) -> StoreStats {
        StoreStats {
            events: self.ring.len() as u64,
            bytes: self.ring.bytes(),
            budget_bytes: self.ring.budget(),
            evicted: self.ring.evicted_total(),
            pinned: self.ring.pinned_len() as u64,
            segments: self.log.segments().len() as u64,
            disk_bytes: self.log.disk_bytes(),
        }
    }
}
