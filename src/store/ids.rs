//! The ring's id index: event id → `created_at`, which with the id is the event's key in the
//! ring's ordered map.
//!
//! Memory: keyed by the id's first 8 bytes, not all 32, so an entry is 16 B instead of 40 B
//! (≈ 18 B instead of ≈ 46 B per event at the hash table's fill), about 30 B less per stored
//! event. Ids are SHA-256 hashes, so 8-byte prefixes are spread evenly; two different ids
//! with the same prefix are possible (an author grinding 2³² hashes can make a pair of their
//! own), so the index never trusts a prefix alone: a hit is confirmed against the full key by
//! the caller's `exists`, and an id whose prefix is taken by another live event goes to
//! `spill`, a full-id map that is empty unless such pairs are stored. Behaviour is therefore
//! exactly that of a map keyed by the whole id; only the memory differs.
//!
//! Bound: one entry per live event (the ring's byte budget bounds those), in one of the two maps.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use crate::event::EventId;
use crate::time::UnixTime;

/// The index key: the id's first 8 bytes.
fn short(id: &EventId) -> u64 {
    let [a, b, c, d, e, f, g, h, ..] = id.0;
    u64::from_le_bytes([a, b, c, d, e, f, g, h])
}

/// Id → `created_at` of every live event. See the module doc.
#[derive(Default)]
pub struct IdIndex {
    by_short: HashMap<u64, UnixTime>,
    spill: HashMap<EventId, UnixTime>,
}

impl IdIndex {
    /// The `created_at` of the live event `id`. `exists(key)` tells whether the ring holds the
    /// event with that exact key (the prefix may belong to another id).
    pub fn get(&self, id: &EventId, exists: impl Fn(&(UnixTime, EventId)) -> bool) -> Option<UnixTime> {
        if let Some(t) = self.by_short.get(&short(id)) {
            if exists(&(*t, *id)) {
                return Some(*t);
            }
        }
        self.spill.get(id).copied()
    }

    /// Indexes a live event that is not indexed yet.
    pub fn insert(&mut self, id: EventId, created_at: UnixTime) {
        match self.by_short.entry(short(&id)) {
            Entry::Vacant(v) => {
                v.insert(created_at);
            }
            Entry::Occupied(_) => {
                self.spill.insert(id, created_at);
            }
        }
    }

    /// Forgets a live event's entry (call before or after removing it from the ring: an id is
    /// in `spill` exactly when it is not the owner of its prefix).
    pub fn remove(&mut self, id: &EventId) {
        if self.spill.remove(id).is_none() {
            self.by_short.remove(&short(id));
        }
    }

    /// Number of indexed events.
    pub fn len(&self) -> usize {
        self.by_short.len() + self.spill.len()
    }

    /// Ids whose prefix was taken by another live event. For tests.
    #[cfg(test)]
    pub fn spilled(&self) -> usize {
        self.spill.len()
    }
}
