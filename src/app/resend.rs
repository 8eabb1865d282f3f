//! The resend queue (sender side): replies, mentions and likes not yet delivered to a
//! recipient's node, retried with exponential backoff for days (fixes spec §5.3).
//!
//! One entry per (destination node, event id): when it was queued, when to try next, how many
//! attempts failed, which support servers already hold a sealed copy, and whether an attempt
//! is in flight. Delay after the n-th failure: [`RESEND_BASE_DELAY`] × 2ⁿ⁻¹, capped at
//! [`RESEND_MAX_DELAY`]; an entry older than [`OFFLINE_KEEP`] is dropped. Times are wall
//! clock ([`UnixTime`]) because the queue outlives the process (see [`ResendQueue::snapshot`]).
//! Bounded by [`RESEND_CAP`]: a full queue drops its oldest entry. Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::SnapshotError;
use crate::event::EventId;
use crate::keys::NodeId;
use crate::limits::{OFFLINE_KEEP, RESEND_BASE_DELAY, RESEND_CAP, RESEND_MAX_DELAY};
use crate::time::UnixTime;

const SNAPSHOT_VERSION: u16 = 1;

/// Key of an entry: destination node and event.
pub type ResendKey = (NodeId, EventId);

/// One undelivered (destination, event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// When it was queued.
    pub queued: UnixTime,
    /// Earliest time of the next attempt.
    pub next: UnixTime,
    /// Failed attempts so far.
    pub failures: u32,
    /// Support servers that acknowledged a sealed copy.
    pub deposited: Vec<NodeId>,
    /// An attempt awaits its outcome (not persisted: after a restart it is simply due).
    pub in_flight: bool,
}

/// Delay before the attempt that follows the `failures`-th failure (`failures` ≥ 1).
pub fn backoff(failures: u32) -> std::time::Duration {
    let shift = failures.saturating_sub(1).min(31);
    RESEND_BASE_DELAY.saturating_mul(1u32 << shift).min(RESEND_MAX_DELAY)
}

/// See the module doc.
#[derive(Clone, Debug, Default)]
pub struct ResendQueue {
    entries: BTreeMap<ResendKey, Entry>,
}

#[derive(Serialize, Deserialize)]
struct Snap {
    v: u16,
    // (dst, event id, queued, next, failures, deposited)
    entries: Vec<(u64, EventId, u64, u64, u32, Vec<u64>)>,
}

impl ResendQueue {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `key`.
    pub fn get(&self, key: &ResendKey) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// Queues `key`, due at once. Returns the entry dropped to make room, if any. A key
    /// already queued is left as it is.
    pub fn insert(&mut self, key: ResendKey, now: UnixTime) -> Option<ResendKey> {
        if self.entries.contains_key(&key) {
            return None;
        }
        let mut dropped = None;
        if self.entries.len() >= RESEND_CAP {
            dropped = self.entries.iter().min_by_key(|(k, e)| (e.queued, **k)).map(|(k, _)| *k);
            if let Some(k) = dropped {
                self.entries.remove(&k);
            }
        }
        let entry = Entry { queued: now, next: now, failures: 0, deposited: Vec::new(), in_flight: false };
        self.entries.insert(key, entry);
        dropped
    }

    /// Entries due at `now` that are not in flight, oldest deadline first, at most `max`.
    pub fn due(&self, now: UnixTime, max: usize) -> Vec<ResendKey> {
        let mut due: Vec<(UnixTime, ResendKey)> =
            self.entries.iter().filter(|(_, e)| !e.in_flight && e.next <= now).map(|(k, e)| (e.next, *k)).collect();
        due.sort();
        due.into_iter().take(max).map(|(_, k)| k).collect()
    }

    /// An attempt for `key` was sent.
    pub fn mark_sent(&mut self, key: &ResendKey) {
        if let Some(e) = self.entries.get_mut(key) {
            e.in_flight = true;
        }
    }

    /// The attempt for `key` was delivered: the entry is done.
    pub fn delivered(&mut self, key: &ResendKey) -> bool {
        self.entries.remove(key).is_some()
    }

    /// The attempt for `key` failed at `now`: schedule the next one.
    pub fn failed(&mut self, key: &ResendKey, now: UnixTime) {
        if let Some(e) = self.entries.get_mut(key) {
            e.in_flight = false;
            e.failures = e.failures.saturating_add(1);
            e.next = now.saturating_add(backoff(e.failures));
        }
    }

    /// A support server acknowledged a sealed copy for `key`.
    pub fn deposited(&mut self, key: &ResendKey, supporter: NodeId) {
        if let Some(e) = self.entries.get_mut(key) {
            if !e.deposited.contains(&supporter) && e.deposited.len() < 4 {
                e.deposited.push(supporter);
            }
        }
    }

    /// `node` was seen: its entries are due at once. Returns how many.
    pub fn node_up(&mut self, node: NodeId, now: UnixTime) -> usize {
        let mut n = 0;
        for (_, e) in self.entries.range_mut((node, EventId([0; 32]))..=(node, EventId([0xff; 32]))) {
            if e.next > now {
                e.next = now;
                n += 1;
            }
        }
        n
    }

    /// Every entry due at once (this node itself just (re)joined the overlay).
    pub fn all_due(&mut self, now: UnixTime) {
        for e in self.entries.values_mut() {
            e.next = e.next.min(now);
        }
    }

    /// Removes and returns the entries queued more than [`OFFLINE_KEEP`] ago.
    pub fn expire(&mut self, now: UnixTime) -> Vec<ResendKey> {
        let old: Vec<ResendKey> = self
            .entries
            .iter()
            .filter(|(_, e)| e.queued.saturating_add(OFFLINE_KEEP) <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in &old {
            self.entries.remove(k);
        }
        old
    }

    /// The next time something is due or expires (in-flight entries only expire).
    pub fn next_deadline(&self) -> Option<UnixTime> {
        self.entries
            .values()
            .map(|e| {
                let expiry = e.queued.saturating_add(OFFLINE_KEEP);
                if e.in_flight {
                    expiry
                } else {
                    e.next.min(expiry)
                }
            })
            .min()
    }

    /// Compact bytes of the queue (in-flight attempts are saved as due).
    pub fn snapshot(&self) -> Vec<u8> {
        let entries = self
            .entries
            .iter()
            .map(|((dst, id), e)| {
                (dst.0, *id, e.queued.0, e.next.0, e.failures, e.deposited.iter().map(|n| n.0).collect())
            })
            .collect();
        rmp_serde::to_vec(&Snap { v: SNAPSHOT_VERSION, entries }).unwrap_or_default()
    }

    /// A queue from [`ResendQueue::snapshot`] bytes (at most [`RESEND_CAP`] entries kept).
    ///
    /// # Errors
    /// [`SnapshotError`] when the bytes are not a snapshot of this version.
    pub fn from_snapshot(bytes: &[u8]) -> Result<ResendQueue, SnapshotError> {
        let snap: Snap = crate::msgpack::from_slice(bytes).map_err(SnapshotError::Malformed)?;
        if snap.v != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version(snap.v));
        }
        let mut q = ResendQueue::default();
        for (dst, id, queued, next, failures, deposited) in snap.entries.into_iter().take(RESEND_CAP) {
            let deposited = deposited.into_iter().take(4).map(NodeId).collect();
            let e = Entry { queued: UnixTime(queued), next: UnixTime(next), failures, deposited, in_flight: false };
            q.entries.insert((NodeId(dst), id), e);
        }
        Ok(q)
    }
}
