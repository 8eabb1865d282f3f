//! The in-memory half of the store: every live event under a byte budget, with its indexes.
//!
//! Pure state, no IO, no clock: [`Ring::admit`] decides whether an event would be kept,
//! [`Ring::insert`] applies it and evicts, the query methods answer from memory. The log
//! (`log.rs`) is driven by `mod.rs`; the ring only remembers, per event, where its record
//! lives ([`Loc`]) so that retention can tell which segments still hold live events.
//!
//! Order and eviction: events are kept in a [`Timeline`] (an ordered map in chunks of 64)
//! keyed by `(created_at, id)`, the order
//! every query answers in (ties broken by id, so answers are deterministic). "Oldest" for
//! eviction means the smallest `(created_at, id)`, not insertion order: the store then always
//! holds the newest events by the clock the timeline is read by, so a time window is never
//! missing a newer event while holding an older one, and a burst of old-dated events (a
//! catch-up sync, a backfill) cannot flush the recent timeline: such events are the first to
//! go, and when the store is full they are not kept at all ([`Admission::Drop`]).
//!
//! Pinned events (kept beyond eviction): the owner's own events, each author's latest kind 0
//! and, as an owner's event, the owner's latest kind 3. Pinned bytes are capped at
//! [`PINNED_SHARE_PERCENT`] of the budget; past the cap the oldest pinned events lose their pin
//! (and become ordinary events, evicted oldest first), except the owner's latest profile and
//! follow list, which always stay, even past the whole budget.
//!
//! Allocation: the budget is in bytes and events vary from ≈ 450 B to over 128 KiB, so a
//! slot array allocated once (STYLE's `Box<[Option<_>]>`) would have to be sized for the
//! smallest event and cost ≈ 200 B × budget / 450 B up front, about half the budget, even
//! when nearly empty. Instead each event is one allocation of packed bytes ([`compact`]:
//! no per-tag or per-string allocations, no inline `Event`), and the maps grow with use; the
//! budget, which counts their share ([`cost_of`]), bounds them all. Queries decode the
//! events they return (owned `Event`s); eviction reads the author and kind in place.
//!
//! Memory per event: the packed bytes, one 72-byte `events` slot (key and entry; ≈ 73 B with
//! the chunks full, as they are when events arrive in time order, where a `BTreeMap` filled
//! its nodes to 55 %: ≈ 133 B) and one id-index slot ([`ids`], keyed by an 8-byte id prefix). Whether an event is pinned is a flag in its entry, not a
//! second ordered set: eviction finds the oldest unpinned event by walking `events` from
//! `evict_floor`, a key below which no event is evictable (and `enforce_pinned_cap` likewise
//! from `pin_floor`). Each walk moves its floor up past what it skipped and floors only move
//! down when an event is unpinned or an older one arrives, so the walks cost amortised O(1)
//! map steps per evicted or unpinned event. `benches/store.rs` prints the bytes per event.
//!
//! Invariants (checked by `debug_assert!` after each mutation, fully by `check` in tests):
//! every live event is in `events` and `by_id`; `pinned_count`, `bytes` and `pinned_bytes`
//! are the count of pinned entries and the sums of the entries' costs; no unpinned event is
//! below `evict_floor` and no pinned one below `pin_floor` except the owner's latest profile
//! and follow list; `latest` and `likes` only name live events; `bytes <= budget` unless only
//! pinned events are left.

use std::collections::HashMap;

use crate::event::{Event, EventId, VerifiedEvent, KIND_FOLLOW_LIST, KIND_PROFILE, KIND_REACTION};
use crate::keys::PublicKey;
use crate::limits::{PINNED_SHARE_PERCENT, STORE_EVENT_OVERHEAD_BYTES};
use crate::time::UnixTime;

use super::compact;
use super::ids::IdIndex;
use super::timeline::Timeline;
use super::tombs::{self, d_tag, is_addressable, is_ephemeral, Coord, Target, Tombstones, KIND_DELETION};

/// Position in the query order: `(created_at, id)`.
pub type Key = (UnixTime, EventId);

/// The smallest key.
const FIRST: Key = (UnixTime(0), EventId([0; 32]));

/// Where an event's record lives in the log: segment number and record length in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    /// Segment number (the `N` of `seg-N.log`).
    pub seg: u32,
    /// Length of the whole record (header included).
    pub len: u32,
}

/// What [`Ring::insert`] would do with an event, decided without changing anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// An event with this id is already stored.
    Duplicate,
    /// Valid but not kept: the store is full of newer events (or the event is larger than the
    /// budget), so it would be the first one evicted. Nothing needs to be written.
    Drop,
    /// Will be stored.
    Keep,
    /// Never stored: see [`Refusal`].
    Refused(Refusal),
}

/// Why the store refuses an event whatever its room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its author deleted it (NIP-09): a tombstone names it.
    Deleted,
    /// An ephemeral kind (20000–29999, NIP-01): relayed live, never stored.
    Ephemeral,
    /// An addressable event (30000–39999) older than the stored version of its author,
    /// kind and `d` value: only the latest is kept (NIP-01).
    Superseded,
}

/// An event removed by eviction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evicted {
    /// Its id.
    pub id: EventId,
    /// Where its record was.
    pub loc: Loc,
}

/// The outcome of [`Ring::insert`].
#[derive(Debug, Default)]
pub struct Outcome {
    /// Whether the inserted event is still live (false only in the rare case where the
    /// pinned cap unpinned it and it was then evicted at once).
    pub kept: bool,
    /// Events evicted to stay within the budget (may include the inserted one).
    pub evicted: Vec<Evicted>,
    /// Events removed because the inserted event is their author's deletion request (NIP-09).
    pub deleted: Vec<Evicted>,
}

/// One live event: its packed bytes ([`compact`], the event's only allocation) and the
/// store's figures for it. Held inline in the map (32 B a slot).
struct Entry {
    packed: Box<[u8]>,
    loc: Loc,
    cost: u32,
    pinned: bool,
}

impl Entry {
    /// The stored event, decoded. `None` only if the packed bytes were corrupted in memory,
    /// a bug (caught by `debug_assert`); callers then treat the event as absent.
    fn event(&self, key: &Key) -> Option<Event> {
        let ev = compact::decode(key.1, key.0, &self.packed);
        debug_assert!(ev.is_ok(), "packed bytes decode: {ev:?}");
        ev.ok()
    }
}

/// Live events and their indexes. See the module doc for order, eviction and pinning.
pub struct Ring {
    budget: u64,
    owner: PublicKey,
    /// The entries are 32 B (the event's bytes are behind the entry's one pointer), in
    /// [`Timeline`]'s chunks (a slot is 72 B with its key).
    events: Timeline<Entry>,
    by_id: IdIndex,
    /// No unpinned event has a smaller key.
    evict_floor: Key,
    /// No pinned event has a smaller key, except the owner's latest profile and follow list.
    pin_floor: Key,
    pinned_count: usize,
    /// Latest replaceable event (NIP-01: kinds 0, 3, 10000–19999) per author and kind.
    latest: HashMap<(PublicKey, u16), Key>,
    /// Latest addressable event (NIP-01: kinds 30000–39999) per author, kind and `d` value.
    latest_addr: HashMap<Coord, Key>,
    /// NIP-09 deletion targets, rebuilt by replaying the deletion requests.
    tombs: Tombstones,
    /// Reactions (kind 7, not "-") per reacted event id, ascending.
    likes: HashMap<EventId, Vec<Key>>,
    bytes: u64,
    pinned_bytes: u64,
    evicted_total: u64,
}

/// Bytes an event accounts for against the budget: its packed bytes (exactly what the ring
/// allocates for it, [`compact::packed_len`]) plus a fixed share for malloc's header and
/// rounding and the map entries and indexes that point at it (measured, see
/// [`STORE_EVENT_OVERHEAD_BYTES`]).
pub fn cost_of(ev: &Event) -> u64 {
    (compact::packed_len(ev) + STORE_EVENT_OVERHEAD_BYTES) as u64
}

/// NIP-01 replaceable kinds: only the latest per author counts.
pub fn is_replaceable(kind: u16) -> bool {
    kind == KIND_PROFILE || kind == KIND_FOLLOW_LIST || (10_000..20_000).contains(&kind)
}

/// Whether `a` replaces `b` as an author's latest replaceable event: newer `created_at` wins,
/// and on equal time the lower id wins (NIP-01).
fn supersedes(a: &Key, b: &Key) -> bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
}

/// Kinds whose owner's latest event keeps its pin past the pinned cap.
fn is_spared_kind(kind: u16) -> bool {
    kind == KIND_PROFILE || kind == KIND_FOLLOW_LIST
}

/// The event a reaction reacts to: the last `e` tag (NIP-25). Dislikes (`-`) are not likes.
fn liked_post(ev: &Event) -> Option<EventId> {
    if ev.kind != KIND_REACTION || ev.content == "-" {
        return None;
    }
    let hex = ev.tag_values("e").last()?;
    crate::hex::decode_array::<32>(hex).ok().map(EventId)
}

impl Ring {
    /// An empty ring holding at most `budget` bytes (as measured by [`cost_of`]).
    pub fn new(budget: u64, owner: PublicKey) -> Ring {
        Ring {
            budget,
            owner,
            events: Timeline::default(),
            by_id: IdIndex::default(),
            evict_floor: FIRST,
            pin_floor: FIRST,
            pinned_count: 0,
            latest: HashMap::new(),
            latest_addr: HashMap::new(),
            tombs: Tombstones::default(),
            likes: HashMap::new(),
            bytes: 0,
            pinned_bytes: 0,
            evicted_total: 0,
        }
    }

    fn pinned_cap(&self) -> u64 {
        self.budget / 100 * PINNED_SHARE_PERCENT
    }

    /// Whether `ev` would be pinned on arrival: the owner's, or a newer latest profile.
    fn would_pin(&self, ev: &Event) -> bool {
        if ev.pubkey == self.owner {
            return true;
        }
        ev.kind == KIND_PROFILE && self.would_be_latest(ev)
    }

    fn would_be_latest(&self, ev: &Event) -> bool {
        match self.latest.get(&(ev.pubkey, ev.kind)) {
            None => true,
            Some(cur) => supersedes(&(ev.created_at, ev.id), cur),
        }
    }

    /// Decides what inserting `ev` would do, without changing anything. Exact for events
    /// that are not pinned on arrival; pinned ones are always admitted.
    pub fn admit(&self, ev: &Event) -> Admission {
        if self.time_of(&ev.id).is_some() {
            return Admission::Duplicate;
        }
        if is_ephemeral(ev.kind) {
            return Admission::Refused(Refusal::Ephemeral);
        }
        if self.tombs.covers(ev) {
            return Admission::Refused(Refusal::Deleted);
        }
        if is_addressable(ev.kind) {
            let cur = self.latest_addr.get(&(ev.pubkey, ev.kind, d_tag(ev).to_string()));
            if cur.is_some_and(|cur| !supersedes(&(ev.created_at, ev.id), cur)) {
                return Admission::Refused(Refusal::Superseded);
            }
        }
        if self.would_pin(ev) {
            return Admission::Keep;
        }
        let over = (self.bytes + cost_of(ev)).saturating_sub(self.budget);
        if over == 0 {
            return Admission::Keep;
        }
        // Eviction takes the smallest keys first, so the event survives only if the
        // evictable events older than it free enough room.
        let key = (ev.created_at, ev.id);
        let mut freed = 0u64;
        if key <= self.evict_floor {
            return Admission::Drop;
        }
        for (_, e) in self.events.range(self.evict_floor..key).filter(|(_, e)| !e.pinned) {
            freed += u64::from(e.cost);
            if freed >= over {
                return Admission::Keep;
            }
        }
        Admission::Drop
    }

    /// Stores `ev` (whose record is at `loc`), updates the indexes, applies the pinned cap
    /// and evicts the oldest unpinned events until the budget holds. A duplicate id is
    /// ignored (`kept: false`, nothing evicted); callers normally ask [`Ring::admit`] first.
    pub fn insert(&mut self, ev: VerifiedEvent, loc: Loc) -> Outcome {
        if self.time_of(&ev.id).is_some() {
            return Outcome::default();
        }
        let key = (ev.created_at, ev.id);
        let cost = cost_of(&ev);
        let mut pinned = ev.pubkey == self.owner;
        if is_replaceable(ev.kind) {
            let slot = (ev.pubkey, ev.kind);
            let previous = self.latest.get(&slot).copied();
            if previous.is_none_or(|cur| supersedes(&key, &cur)) {
                self.latest.insert(slot, key);
                if let Some(old) = previous.filter(|_| ev.pubkey == self.owner && is_spared_kind(ev.kind)) {
                    // No longer spared: it is walked like any other pinned event again.
                    self.pin_floor = self.pin_floor.min(old);
                }
                if ev.kind == KIND_PROFILE {
                    pinned = true;
                }
                // The superseded profile of another author is no longer worth a pin.
                if let Some(old) = previous.filter(|_| ev.kind == KIND_PROFILE && ev.pubkey != self.owner) {
                    self.unpin(&old);
                }
            }
        }
        let mut deleted = if ev.kind == KIND_DELETION { self.apply_deletion(&ev) } else { Vec::new() };
        if is_addressable(ev.kind) {
            // Only the latest version is kept (NIP-01); `admit` refuses older arrivals.
            let slot = (ev.pubkey, ev.kind, d_tag(&ev).to_string());
            match self.latest_addr.get(&slot).copied() {
                Some(cur) if !supersedes(&key, &cur) => {}
                Some(cur) => {
                    deleted.push(self.remove_any(&cur));
                    self.latest_addr.insert(slot, key);
                }
                None => {
                    self.latest_addr.insert(slot, key);
                }
            }
        }
        if let Some(post) = liked_post(&ev) {
            let list = self.likes.entry(post).or_default();
            let at = list.partition_point(|k| *k < key);
            list.insert(at, key);
        }
        self.by_id.insert(ev.id, ev.created_at);
        let cost32 = u32::try_from(cost).expect("an event's cost is bounded by MAX_EVENT_BYTES");
        self.events.insert(key, Entry { packed: compact::encode(&ev), loc, cost: cost32, pinned });
        self.bytes += cost;
        if pinned {
            self.pinned_count += 1;
            self.pinned_bytes += cost;
            self.pin_floor = self.pin_floor.min(key);
        } else {
            self.evict_floor = self.evict_floor.min(key);
        }
        self.enforce_pinned_cap();
        let evicted = self.evict_to_budget();
        let kept = self.events.contains_key(&key);
        self.debug_check();
        Outcome { kept, evicted, deleted }
    }

    /// Remembers the targets of deletion request `del` and removes the live events it names
    /// that are by its author (pinned ones included; other deletions never).
    fn apply_deletion(&mut self, del: &Event) -> Vec<Evicted> {
        self.tombs.note(del);
        let mut doomed: Vec<Key> = Vec::new();
        for t in tombs::targets_of(del) {
            let key = match t {
                Target::Id(id) => self.time_of(&id).map(|t| (t, id)),
                Target::Addr(coord) => self.latest_addr.get(&coord).copied(),
            };
            if let Some(key) = key.filter(|k| !doomed.contains(k)) {
                if self.event_at(&key).is_some_and(|ev| self.tombs.covers(&ev)) {
                    doomed.push(key);
                }
            }
        }
        doomed.iter().map(|key| self.remove_any(key)).collect()
    }

    /// Removes a live event, pinned or not, with its index entries.
    fn remove_any(&mut self, key: &Key) -> Evicted {
        self.unpin(key);
        let entry = self.remove(key);
        Evicted { id: key.1, loc: entry.loc }
    }

    /// Unpins the oldest pinned events while pinned bytes exceed the cap, sparing the
    /// owner's latest profile and follow list.
    fn enforce_pinned_cap(&mut self) {
        let cap = self.pinned_cap();
        let spare = [KIND_PROFILE, KIND_FOLLOW_LIST].map(|kind| self.latest.get(&(self.owner, kind)).copied());
        while self.pinned_bytes > cap {
            let oldest = self
                .events
                .range(self.pin_floor..)
                .find(|(k, e)| e.pinned && !spare.contains(&Some(**k)))
                .map(|(k, _)| *k);
            let Some(oldest) = oldest else {
                // Nothing but the spared events is pinned: the last key is a valid floor.
                self.pin_floor = self.events.last_key_value().map_or(FIRST, |(k, _)| *k);
                break;
            };
            self.pin_floor = oldest;
            self.unpin(&oldest);
        }
    }

    fn unpin(&mut self, key: &Key) {
        let Some(entry) = self.events.get_mut(key) else { return };
        if !entry.pinned {
            return;
        }
        entry.pinned = false;
        self.pinned_bytes -= u64::from(entry.cost);
        self.pinned_count -= 1;
        self.evict_floor = self.evict_floor.min(*key);
    }

    fn evict_to_budget(&mut self) -> Vec<Evicted> {
        let mut evicted = Vec::new();
        while self.bytes > self.budget {
            let oldest = self.events.range(self.evict_floor..).find(|(_, e)| !e.pinned).map(|(k, _)| *k);
            let Some(key) = oldest else {
                // Everything from the floor on is pinned: the last key is a valid floor.
                self.evict_floor = self.events.last_key_value().map_or(FIRST, |(k, _)| *k);
                break;
            };
            self.evict_floor = key;
            let entry = self.remove(&key);
            evicted.push(Evicted { id: key.1, loc: entry.loc });
        }
        self.evicted_total += evicted.len() as u64;
        evicted
    }

    /// Removes an unpinned entry and its index entries.
    fn remove(&mut self, key: &Key) -> Entry {
        let entry = self.events.remove(key).expect("evictable keys name live events");
        debug_assert!(!entry.pinned);
        self.bytes -= u64::from(entry.cost);
        self.by_id.remove(&key.1);
        let (Some(pubkey), Some(kind)) = (compact::pubkey(&entry.packed), compact::kind(&entry.packed)) else {
            debug_assert!(false, "packed bytes hold a pubkey and a kind");
            return entry;
        };
        let slot = (pubkey, kind);
        if self.latest.get(&slot) == Some(key) {
            self.latest.remove(&slot);
        }
        // Only these kinds are in the other indexes; only they need the whole event.
        if is_addressable(kind) || kind == KIND_REACTION {
            let Some(ev) = entry.event(key) else { return entry };
            if is_addressable(kind) {
                let coord = (pubkey, kind, d_tag(&ev).to_string());
                if self.latest_addr.get(&coord) == Some(key) {
                    self.latest_addr.remove(&coord);
                }
            }
            if let Some(post) = liked_post(&ev) {
                if let Some(list) = self.likes.get_mut(&post) {
                    list.retain(|k| k != key);
                    if list.is_empty() {
                        self.likes.remove(&post);
                    }
                }
            }
        }
        entry
    }

    /// Moves an event's record location (after retention re-appended it).
    pub fn relocate(&mut self, id: &EventId, loc: Loc) {
        if let Some(t) = self.time_of(id) {
            if let Some(entry) = self.events.get_mut(&(t, *id)) {
                entry.loc = loc;
            }
        }
    }

    /// Ids and locations of the live events whose record is in segment `seg`, in query order.
    pub fn live_in_segment(&self, seg: u32) -> Vec<(EventId, Loc)> {
        self.events.iter().filter(|(_, e)| e.loc.seg == seg).map(|(k, e)| (k.1, e.loc)).collect()
    }

    /// Every live event's record location (to rebuild per-segment figures).
    pub fn locations(&self) -> impl Iterator<Item = Loc> + '_ {
        self.events.values().map(|e| e.loc)
    }

    /// The `created_at` of the live event `id`.
    fn time_of(&self, id: &EventId) -> Option<UnixTime> {
        self.by_id.get(id, |key| self.events.contains_key(key))
    }

    /// The live event with this key, decoded.
    fn event_at(&self, key: &Key) -> Option<Event> {
        self.events.get(key).and_then(|e| e.event(key))
    }

    /// Whether the live event `id` exists.
    pub fn contains(&self, id: &EventId) -> bool {
        self.time_of(id).is_some()
    }

    /// The `created_at` of the live event `id`, without decoding it.
    pub fn created_at(&self, id: &EventId) -> Option<UnixTime> {
        self.time_of(id)
    }

    /// The event with exactly this id.
    pub fn get(&self, id: &EventId) -> Option<Event> {
        let t = self.time_of(id)?;
        self.event_at(&(t, *id))
    }

    /// The `n` newest events, oldest first.
    pub fn last_n(&self, n: usize) -> Vec<Event> {
        let mut out: Vec<Event> = self.events.iter().rev().take(n).filter_map(|(k, e)| e.event(k)).collect();
        out.reverse();
        out
    }

    /// The `n` newest events' keys and packed bytes, oldest first (not decoded).
    pub fn last_n_packed(&self, n: usize) -> Vec<(Key, &[u8])> {
        let mut out: Vec<(Key, &[u8])> = self.events.iter().rev().take(n).map(|(k, e)| (*k, &*e.packed)).collect();
        out.reverse();
        out
    }

    /// [`Ring::window`]'s events as keys and packed bytes (not decoded).
    pub fn window_packed(&self, since: UnixTime, until: UnixTime, max: usize) -> Vec<(Key, &[u8])> {
        if since > until {
            return Vec::new();
        }
        let range = (since, EventId([0; 32]))..=(until, EventId([0xff; 32]));
        let mut out: Vec<(Key, &[u8])> =
            self.events.range(range).rev().take(max).map(|(k, e)| (*k, &*e.packed)).collect();
        out.reverse();
        out
    }

    /// The live event `id`'s key and packed bytes (not decoded).
    pub fn get_packed(&self, id: &EventId) -> Option<(Key, &[u8])> {
        let key = (self.time_of(id)?, *id);
        self.events.get(&key).map(|e| (key, &*e.packed))
    }

    /// Events with `since <= created_at <= until`, oldest first, the newest `max` of them.
    pub fn window(&self, since: UnixTime, until: UnixTime, max: usize) -> Vec<Event> {
        if since > until {
            return Vec::new();
        }
        let range = (since, EventId([0; 32]))..=(until, EventId([0xff; 32]));
        let mut out: Vec<Event> = self.events.range(range).rev().take(max).filter_map(|(k, e)| e.event(k)).collect();
        out.reverse();
        out
    }

    /// Live events with `since <= created_at <= until`, newest first (ties: higher id first),
    /// each decoded as the iterator reaches it.
    pub fn newest_first(&self, since: UnixTime, until: UnixTime) -> impl Iterator<Item = Event> + '_ {
        let range = if since > until {
            None
        } else {
            Some(self.events.range((since, EventId([0; 32]))..=(until, EventId([0xff; 32]))))
        };
        range.into_iter().flatten().rev().filter_map(|(k, e)| e.event(k))
    }

    /// [`Ring::newest_first`], but each event for which `pre(author, kind)` is false (read in
    /// place) is `None`, not decoded: a scan pays the decoding only for likely matches and
    /// still counts every event it examined.
    pub fn newest_first_where<'a>(
        &'a self,
        since: UnixTime,
        until: UnixTime,
        pre: &'a dyn Fn(&PublicKey, u16) -> bool,
    ) -> impl Iterator<Item = Option<Event>> + 'a {
        let range = if since > until {
            None
        } else {
            Some(self.events.range((since, EventId([0; 32]))..=(until, EventId([0xff; 32]))))
        };
        range.into_iter().flatten().rev().map(move |(k, e)| {
            let head = compact::pubkey(&e.packed).zip(compact::kind(&e.packed));
            head.filter(|(pk, kind)| pre(pk, *kind)).and_then(|_| e.event(k))
        })
    }

    /// Whether `ev` is not superseded: for a replaceable or addressable kind, it is the
    /// latest live one of its author and kind (and `d` value); every other event is current.
    pub fn is_current(&self, ev: &Event) -> bool {
        let key = (ev.created_at, ev.id);
        if is_replaceable(ev.kind) {
            self.latest.get(&(ev.pubkey, ev.kind)) == Some(&key)
        } else if is_addressable(ev.kind) {
            self.latest_addr.get(&(ev.pubkey, ev.kind, d_tag(ev).to_string())) == Some(&key)
        } else {
            true
        }
    }

    /// Whether a tombstone names `ev` (its author deleted it).
    pub fn is_deleted(&self, ev: &Event) -> bool {
        self.tombs.covers(ev)
    }

    /// Number of remembered deletion targets.
    pub fn tombstones(&self) -> usize {
        self.tombs.len()
    }

    /// The remembered deletion targets (the store persists them).
    pub fn tombs(&self) -> &Tombstones {
        &self.tombs
    }

    /// The remembered deletion targets, to restore them or take the new ones.
    pub fn tombs_mut(&mut self) -> &mut Tombstones {
        &mut self.tombs
    }

    /// The id of the latest replaceable event of `kind` by `author`, without decoding it.
    pub fn latest_replaceable_id(&self, author: &PublicKey, kind: u16) -> Option<EventId> {
        self.latest.get(&(*author, kind)).map(|(_, id)| *id)
    }

    /// The latest replaceable event of `kind` by `author`.
    pub fn latest_replaceable(&self, author: &PublicKey, kind: u16) -> Option<Event> {
        let key = self.latest.get(&(*author, kind))?;
        self.event_at(key)
    }

    /// Live reactions to `post`, oldest first.
    pub fn likes_of(&self, post: &EventId) -> Vec<Event> {
        self.likes.get(post).map_or_else(Vec::new, |keys| keys.iter().filter_map(|k| self.event_at(k)).collect())
    }

    /// Live events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event is stored.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Bytes accounted against the budget.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The byte budget.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Pinned events.
    pub fn pinned_len(&self) -> usize {
        self.pinned_count
    }

    /// Events evicted since this ring was made.
    pub fn evicted_total(&self) -> u64 {
        self.evicted_total
    }

    /// Cheap invariants, after every mutation in debug builds.
    fn debug_check(&self) {
        debug_assert_eq!(self.events.len(), self.by_id.count());
        debug_assert!(self.pinned_count <= self.events.len());
        debug_assert!(self.pinned_bytes <= self.bytes);
        debug_assert!(self.bytes <= self.budget || self.pinned_count == self.events.len());
        debug_assert!(self.latest.len() + self.latest_addr.len() <= self.events.len());
        debug_assert!(self.tombs.len() <= crate::limits::TOMBSTONES_CAP);
    }

    /// Bytes of pinned events. For tests.
    #[cfg(test)]
    pub fn pinned_bytes_for_test(&self) -> u64 {
        self.pinned_bytes
    }

    /// Every invariant of the module doc, in O(n). For tests.
    #[cfg(test)]
    pub fn check(&self) {
        self.debug_check();
        let (mut bytes, mut pinned_bytes, mut pinned_count) = (0u64, 0u64, 0usize);
        self.events.check();
        for (key, e) in self.events.iter() {
            let ev = e.event(key).expect("packed bytes decode");
            assert_eq!(*key, (ev.created_at, ev.id));
            assert_eq!(self.time_of(&key.1), Some(key.0));
            let spared =
                [KIND_PROFILE, KIND_FOLLOW_LIST].iter().any(|k| self.latest.get(&(self.owner, *k)) == Some(key));
            if e.pinned {
                pinned_count += 1;
                assert!(*key >= self.pin_floor || spared, "a pinned event below the pin floor");
            } else {
                assert!(*key >= self.evict_floor, "an evictable event below the eviction floor");
            }
            assert_eq!(u64::from(e.cost), cost_of(&ev));
            bytes += u64::from(e.cost);
            if e.pinned {
                pinned_bytes += u64::from(e.cost);
            }
        }
        assert_eq!((bytes, pinned_bytes, pinned_count), (self.bytes, self.pinned_bytes, self.pinned_count));
        let event = |key: &Key| self.event_at(key).expect("index keys name live events");
        for (slot, key) in &self.latest {
            let e = event(key);
            assert_eq!((e.pubkey, e.kind), *slot);
        }
        for (slot, key) in &self.latest_addr {
            let e = event(key);
            assert_eq!((e.pubkey, e.kind, d_tag(&e).to_string()), *slot);
        }
        assert!(self.events.keys().all(|k| !self.tombs.covers(&event(k))), "no live event is deleted");
        for (post, keys) in &self.likes {
            assert!(!keys.is_empty() && keys.windows(2).all(|w| w[0] < w[1]));
            assert!(keys.iter().all(|k| liked_post(&event(k)) == Some(*post)));
        }
    }
}
