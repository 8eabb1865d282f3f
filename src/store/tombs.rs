//! NIP-09 deletion tombstones and NIP-01 event classes, as the store sees them.
//!
//! A kind-5 deletion request names events by id (`e` tags) and addressable events by
//! coordinate (`a` tags, `kind:pubkey:d`). The store drops the named events **by the same
//! author** and remembers the names here, so a copy arriving later (gossip, catch-up, a client
//! re-publishing) is refused and never served again.
//!
//! Bounded: at most [`TOMBSTONES_CAP`] names; past it the oldest name is forgotten (a deleted
//! event that comes back after that is older than nearly everything stored, so a full store
//! drops it anyway). A name is a fixed-size [`TombKey`]: an addressable coordinate's `d`
//! value is kept as its SHA-256, so a long `d` costs no memory here.
//!
//! Persistence: every name noted or moved later is queued ([`Tombstones::take_pending`]) and
//! the store writes it to its own small file ([`super::tombfile`]) at the next sync. The
//! deletion request's record is not enough: a deletion by someone else can be evicted and its
//! segment retired, and then a restart would forget the name and accept the deleted event
//! again from the network.
//!
//! Pure: no IO, no clock.

use std::collections::{HashMap, VecDeque};

use sha2::{Digest, Sha256};

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

/// A remembered deletion target, fixed size: an event id, or an addressable coordinate with
/// the SHA-256 of its `d` value (author, kind, hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TombKey {
    /// An event id (`e` tag).
    Id(EventId),
    /// An addressable coordinate (`a` tag): author, kind, SHA-256 of `d`.
    Addr(PublicKey, u16, [u8; 32]),
}

impl TombKey {
    /// The key of a target.
    pub fn of(t: &Target) -> TombKey {
        match t {
            Target::Id(id) => TombKey::Id(*id),
            Target::Addr((pk, kind, d)) => TombKey::addr(*pk, *kind, d),
        }
    }

    fn addr(pk: PublicKey, kind: u16, d: &str) -> TombKey {
        TombKey::Addr(pk, kind, Sha256::digest(d.as_bytes()).into())
    }
}

/// One tombstone: the target, who deleted it and the deletion's `created_at`.
pub type Tomb = (TombKey, PublicKey, UnixTime);

/// Remembered deletion targets: who deleted and when. See the module doc.
#[derive(Default)]
pub struct Tombstones {
    /// Target → (deleter, deletion's `created_at`).
    map: HashMap<TombKey, (PublicKey, UnixTime)>,
    /// Insertion order, for forgetting the oldest; same keys as `map`.
    order: VecDeque<TombKey>,
    /// Names noted or moved later since the last [`Tombstones::take_pending`], in order; at
    /// most [`TOMBSTONES_CAP`], past it `overflow` says "write them all".
    pending: Vec<Tomb>,
    overflow: bool,
}

impl Tombstones {
    /// Remembers every target of deletion `del`. Past [`TOMBSTONES_CAP`] the oldest go.
    pub fn note(&mut self, del: &Event) {
        for t in targets_of(del) {
            if self.restore((TombKey::of(&t), del.pubkey, del.created_at)) {
                if self.pending.len() >= TOMBSTONES_CAP {
                    self.pending.clear();
                    self.overflow = true;
                }
                if !self.overflow {
                    self.pending.push((TombKey::of(&t), del.pubkey, del.created_at));
                }
            }
        }
    }

    /// Remembers one tombstone (read back from the tombstone file); returns whether it was
    /// new or reached further than what was remembered. Not queued for writing.
    pub fn restore(&mut self, (key, who, at): Tomb) -> bool {
        let changed = match self.map.get_mut(&key) {
            Some(v) => {
                // A later deletion of the same coordinate reaches further.
                let later = v.1 < at;
                if later {
                    *v = (who, at);
                }
                later
            }
            None => {
                if self.order.len() >= TOMBSTONES_CAP {
                    if let Some(old) = self.order.pop_front() {
                        self.map.remove(&old);
                    }
                }
                self.map.insert(key, (who, at));
                self.order.push_back(key);
                true
            }
        };
        debug_assert_eq!(self.map.len(), self.order.len());
        changed
    }

    /// The tombstones noted since the last call, and whether more were noted than queued (then
    /// the caller should write [`Tombstones::all`] instead).
    pub fn take_pending(&mut self) -> (Vec<Tomb>, bool) {
        (std::mem::take(&mut self.pending), std::mem::replace(&mut self.overflow, false))
    }

    /// Every remembered tombstone, oldest first.
    pub fn all(&self) -> impl Iterator<Item = Tomb> + '_ {
        self.order.iter().filter_map(|k| self.map.get(k).map(|(who, at)| (*k, *who, *at)))
    }

    /// Whether `ev` was deleted by its author: its id was named by a deletion of the same
    /// author, or it is addressable and its coordinate was deleted at or after its
    /// `created_at`. Deletion requests themselves are never deleted (NIP-09).
    pub fn covers(&self, ev: &Event) -> bool {
        if ev.kind == KIND_DELETION || self.map.is_empty() {
            return false;
        }
        if let Some((who, _)) = self.map.get(&TombKey::Id(ev.id)) {
            if *who == ev.pubkey {
                return true;
            }
        }
        if is_addressable(ev.kind) {
            if let Some((_, at)) = self.map.get(&TombKey::addr(ev.pubkey, ev.kind, d_tag(ev))) {
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
