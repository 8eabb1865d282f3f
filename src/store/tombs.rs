//! NIP-09 deletion tombstones and NIP-01 event classes, as the store sees them.
//!
//! A kind-5 deletion request names events by id (`e` tags) and addressable events by
//! coordinate (`a` tags, `kind:pubkey:d`). The store drops the named events **by the same
//! author** and remembers the names here, so a copy arriving later (gossip, catch-up, a client
//! re-publishing) is refused and never served again.
//!
//! Bounded: at most [`TOMBSTONES_CAP`] names; past it the oldest name is forgotten (a deleted
//! event that comes back after that is older than nearly everything stored, so a full store
//! drops it anyway). Persistence needs no log format of its own: the deletion request is an
//! ordinary stored event, and recovery replays it through the same insert, which rebuilds
//! the tombstones — as long as the deletion's record is still in a segment (it is while the
//! deletion is live; the owner's are pinned).
//!
//! Pure: no IO, no clock.

use std::collections::{HashMap, VecDeque};

use crate::event::{Event, EventId};
use crate::hex;
use crate::keys::PublicKey;
use crate::limits::TOMBSTONES_CAP;
use crate::time::UnixTime;

/// Kind 5: deletion request (NIP-09).
pub const KIND_DELETION: u16 = 5;

/// NIP-01 ephemeral kinds: delivered to live subscriptions, never stored.
pub fn is_ephemeral(kind: u16) -> bool {
    (20_000..30_000).contains(&kind)
}

/// NIP-01 addressable kinds: the latest per author, kind and `d` tag counts.
pub fn is_addressable(kind: u16) -> bool {
    (30_000..40_000).contains(&kind)
}

/// The `d` value of an addressable event: its first `d` tag's value, `""` when absent (NIP-01).
pub fn d_tag(ev: &Event) -> &str {
    ev.tag_values("d").next().unwrap_or("")
}

/// An addressable event's coordinate: author, kind and `d` value.
pub type Coord = (PublicKey, u16, String);

/// What a deletion request names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// An event id (`e` tag).
    Id(EventId),
    /// An addressable coordinate (`a` tag) whose author is the deleter.
    Addr(Coord),
}

/// The targets of a deletion request `del` (kind 5): its `e` tags with a 64-hex value and its
/// `a` tags `kind:pubkey:d` whose pubkey is the deleter (NIP-09: only one's own events).
/// Malformed tags are skipped.
pub fn targets_of(del: &Event) -> Vec<Target> {
    let mut out = Vec::new();
    for v in del.tag_values("e") {
        if let Ok(id) = hex::decode_array::<32>(v) {
            out.push(Target::Id(EventId(id)));
        }
    }
    for v in del.tag_values("a") {
        if let Some(coord) = parse_coord(v).filter(|c| c.0 == del.pubkey) {
            out.push(Target::Addr(coord));
        }
    }
    out
}

/// Parses a NIP-01 `a` value `kind:pubkey:d` (the `d` part may contain `:`).
pub fn parse_coord(v: &str) -> Option<Coord> {
    let mut parts = v.splitn(3, ':');
    let kind: u16 = parts.next()?.parse().ok()?;
    let pk = hex::decode_array::<32>(parts.next()?).ok()?;
    let d = parts.next().unwrap_or("");
    Some((PublicKey(pk), kind, d.to_string()))
}

/// Remembered deletion targets: who deleted and when. See the module doc.
#[derive(Default)]
pub struct Tombstones {
    /// Target → (deleter, deletion's `created_at`).
    map: HashMap<Target, (PublicKey, UnixTime)>,
    /// Insertion order, for forgetting the oldest; same keys as `map`.
    order: VecDeque<Target>,
}

impl Tombstones {
    /// Remembers every target of deletion `del`. Past [`TOMBSTONES_CAP`] the oldest go.
    pub fn note(&mut self, del: &Event) {
        for t in targets_of(del) {
            let value = (del.pubkey, del.created_at);
            match self.map.get_mut(&t) {
                Some(v) => {
                    // A later deletion of the same coordinate reaches further.
                    if v.1 < value.1 {
                        *v = value;
                    }
                }
                None => {
                    if self.order.len() >= TOMBSTONES_CAP {
                        if let Some(old) = self.order.pop_front() {
                            self.map.remove(&old);
                        }
                    }
                    self.map.insert(t.clone(), value);
                    self.order.push_back(t);
                }
            }
        }
        debug_assert_eq!(self.map.len(), self.order.len());
    }

    /// Whether `ev` was deleted by its author: its id was named by a deletion of the same
    /// author, or it is addressable and its coordinate was deleted at or after its
    /// `created_at`. Deletion requests themselves are never deleted (NIP-09).
    pub fn covers(&self, ev: &Event) -> bool {
        if ev.kind == KIND_DELETION || self.map.is_empty() {
            return false;
        }
        if let Some((who, _)) = self.map.get(&Target::Id(ev.id)) {
            if *who == ev.pubkey {
                return true;
            }
        }
        if is_addressable(ev.kind) {
            let coord = Target::Addr((ev.pubkey, ev.kind, d_tag(ev).to_string()));
            if let Some((_, at)) = self.map.get(&coord) {
                return ev.created_at <= *at;
            }
        }
        false
    }

    /// Number of remembered targets.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}
