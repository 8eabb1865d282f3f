//! The support server's mailbox: sealed envelopes kept for nodes that were unreachable, handed
//! over when they come back and deleted when they acknowledge.
//!
//! The mailbox never sees an event: envelopes are opaque ([`super::seal`]). Bounds: at most
//! [`MAILBOX_PER_DEST_COUNT`] envelopes and [`MAILBOX_PER_DEST_BYTES`] per destination (full ⇒
//! its oldest goes), [`MAILBOX_TOTAL_BYTES`] in all (full ⇒ the oldest envelope of the
//! destination holding the most bytes goes), each kept at most [`OFFLINE_KEEP`]. Hand-over
//! attempts per destination back off like the resend queue and are due at once when the
//! destination is seen. Pure; persisted through [`Mailbox::snapshot`].

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::msg::{Bytes, Envelope};
use super::resend::backoff;
use super::SnapshotError;
use crate::keys::NodeId;
use crate::limits::{
    MAILBOX_PER_DEST_BYTES, MAILBOX_PER_DEST_COUNT, MAILBOX_TOTAL_BYTES, MAIL_BATCH_BYTES, MAX_SEALED_BYTES,
    OFFLINE_KEEP, RESEND_BASE_DELAY,
};
use crate::time::UnixTime;

const SNAPSHOT_VERSION: u16 = 1;
/// Bytes an envelope is counted for beyond its sealed bytes (ids, times, queue slot).
const ENVELOPE_OVERHEAD: usize = 48;

#[derive(Clone, Debug)]
struct Item {
    id: u64,
    stored: UnixTime,
    sealed: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
struct DestBox {
    items: VecDeque<Item>,
    bytes: usize,
    next_push: UnixTime,
    pushes: u32,
}

/// What [`Mailbox::deposit`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deposited {
    /// Kept; `evicted` older envelopes made room.
    Kept {
        /// Envelopes dropped for room.
        evicted: usize,
    },
    /// Larger than [`MAX_SEALED_BYTES`]; not kept.
    TooLarge,
}

/// See the module doc.
#[derive(Clone, Debug, Default)]
pub struct Mailbox {
    dests: BTreeMap<NodeId, DestBox>,
    total: usize,
    next_id: u64,
}

#[derive(Serialize, Deserialize)]
struct Snap {
    v: u16,
    next_id: u64,
    // (dst, id, stored, sealed)
    items: Vec<(u64, u64, u64, Bytes)>,
}

fn cost(sealed: &[u8]) -> usize {
    sealed.len() + ENVELOPE_OVERHEAD
}

impl Mailbox {
    /// Envelopes held in all.
    pub fn len(&self) -> usize {
        self.dests.values().map(|b| b.items.len()).sum()
    }

    /// True if no envelope is held.
    pub fn is_empty(&self) -> bool {
        self.dests.is_empty()
    }

    /// Bytes accounted in all.
    pub fn bytes(&self) -> usize {
        self.total
    }

    /// Envelopes held for `dst`.
    pub fn count_for(&self, dst: NodeId) -> usize {
        self.dests.get(&dst).map_or(0, |b| b.items.len())
    }

    /// Keeps `sealed` for `dst`.
    pub fn deposit(&mut self, dst: NodeId, sealed: Vec<u8>, now: UnixTime) -> Deposited {
        if sealed.len() > MAX_SEALED_BYTES {
            return Deposited::TooLarge;
        }
        let c = cost(&sealed);
        let mut evicted = 0;
        {
            let b = self
                .dests
                .entry(dst)
                .or_insert_with(|| DestBox { next_push: now.saturating_add(RESEND_BASE_DELAY), ..DestBox::default() });
            while !b.items.is_empty()
                && (b.items.len() >= MAILBOX_PER_DEST_COUNT || b.bytes + c > MAILBOX_PER_DEST_BYTES)
            {
                if let Some(old) = b.items.pop_front() {
                    b.bytes -= cost(&old.sealed);
                    self.total -= cost(&old.sealed);
                    evicted += 1;
                }
            }
        }
        while self.total + c > MAILBOX_TOTAL_BYTES {
            let Some(fattest) = self.dests.iter().max_by_key(|(n, b)| (b.bytes, **n)).map(|(n, _)| *n) else { break };
            let Some(b) = self.dests.get_mut(&fattest) else { break };
            let Some(old) = b.items.pop_front() else { break };
            b.bytes -= cost(&old.sealed);
            self.total -= cost(&old.sealed);
            evicted += 1;
        }
        self.next_id = self.next_id.wrapping_add(1);
        let id = self.next_id;
        let b = self.dests.entry(dst).or_default();
        b.bytes += c;
        b.items.push_back(Item { id, stored: now, sealed });
        self.total += c;
        self.dests.retain(|_, b| !b.items.is_empty());
        Deposited::Kept { evicted }
    }

    /// The oldest envelopes for `dst` that fit one `Mail` message, and whether more wait.
    pub fn batch(&self, dst: NodeId) -> (Vec<Envelope>, bool) {
        let Some(b) = self.dests.get(&dst) else { return (Vec::new(), false) };
        let mut out = Vec::new();
        let mut bytes = 0;
        for it in &b.items {
            // The first envelope always goes (deposits are at most one batch large).
            if !out.is_empty() && bytes + it.sealed.len() + 16 > MAIL_BATCH_BYTES {
                break;
            }
            bytes += it.sealed.len() + 16;
            out.push(Envelope { id: it.id, sealed: Bytes(it.sealed.clone()) });
        }
        let more = out.len() < b.items.len();
        (out, more)
    }

    /// `dst` acknowledged these envelopes: delete them. Returns how many were deleted; if
    /// some remain, they are due for hand-over at once.
    pub fn ack(&mut self, dst: NodeId, ids: &[u64], now: UnixTime) -> usize {
        let Some(b) = self.dests.get_mut(&dst) else { return 0 };
        let before = b.items.len();
        let mut freed = 0;
        b.items.retain(|it| {
            let keep = !ids.contains(&it.id);
            if !keep {
                freed += cost(&it.sealed);
            }
            keep
        });
        b.bytes -= freed;
        self.total -= freed;
        let deleted = before - b.items.len();
        if b.items.is_empty() {
            self.dests.remove(&dst);
        } else if deleted > 0 {
            b.pushes = 0;
            b.next_push = now;
        }
        deleted
    }

    /// `dst` was seen: hand-over is due at once.
    pub fn node_up(&mut self, dst: NodeId, now: UnixTime) {
        if let Some(b) = self.dests.get_mut(&dst) {
            b.next_push = b.next_push.min(now);
        }
    }

    /// Destinations whose hand-over is due.
    pub fn due(&self, now: UnixTime) -> Vec<NodeId> {
        self.dests.iter().filter(|(_, b)| b.next_push <= now).map(|(n, _)| *n).collect()
    }

    /// A hand-over to `dst` was sent at `now`: the next one waits (until an ack or backoff).
    pub fn pushed(&mut self, dst: NodeId, now: UnixTime) {
        if let Some(b) = self.dests.get_mut(&dst) {
            b.pushes = b.pushes.saturating_add(1);
            b.next_push = now.saturating_add(backoff(b.pushes));
        }
    }

    /// Deletes envelopes older than [`OFFLINE_KEEP`]; returns how many.
    pub fn expire(&mut self, now: UnixTime) -> usize {
        let mut n = 0;
        for b in self.dests.values_mut() {
            while b.items.front().is_some_and(|it| it.stored.saturating_add(OFFLINE_KEEP) <= now) {
                if let Some(old) = b.items.pop_front() {
                    b.bytes -= cost(&old.sealed);
                    self.total -= cost(&old.sealed);
                    n += 1;
                }
            }
        }
        self.dests.retain(|_, b| !b.items.is_empty());
        n
    }

    /// The next hand-over or expiry time.
    pub fn next_deadline(&self) -> Option<UnixTime> {
        self.dests
            .values()
            .filter_map(|b| b.items.front().map(|it| b.next_push.min(it.stored.saturating_add(OFFLINE_KEEP))))
            .min()
    }

    /// Bytes of the whole mailbox.
    pub fn snapshot(&self) -> Vec<u8> {
        let items = self
            .dests
            .iter()
            .flat_map(|(dst, b)| b.items.iter().map(move |it| (dst.0, it.id, it.stored.0, Bytes(it.sealed.clone()))))
            .collect();
        rmp_serde::to_vec(&Snap { v: SNAPSHOT_VERSION, next_id: self.next_id, items }).unwrap_or_default()
    }

    /// A mailbox from [`Mailbox::snapshot`] bytes, re-applying every bound; hand-overs are
    /// due at `now`.
    ///
    /// # Errors
    /// [`SnapshotError`] when the bytes are not a snapshot of this version.
    pub fn from_snapshot(bytes: &[u8], now: UnixTime) -> Result<Mailbox, SnapshotError> {
        let snap: Snap = crate::msgpack::from_slice(bytes).map_err(SnapshotError::Malformed)?;
        if snap.v != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version(snap.v));
        }
        let mut m = Mailbox::default();
        for (dst, id, stored, sealed) in snap.items {
            if m.deposit(NodeId(dst), sealed.0, UnixTime(stored)) != Deposited::TooLarge {
                if let Some(it) = m.dests.get_mut(&NodeId(dst)).and_then(|b| b.items.back_mut()) {
                    it.id = id;
                }
            }
        }
        for b in m.dests.values_mut() {
            b.next_push = now;
        }
        m.next_id = snap.next_id.max(m.next_id);
        Ok(m)
    }
}
