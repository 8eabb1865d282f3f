//! What the HTTP API (and later the overlay's catch-up) asks of the event store.
//!
//! A trait so that `http::route` stays a pure function testable against a tiny in-memory
//! fake, and the real [`crate::store::Store`] implements it. Every answer is ascending by
//! `created_at` (ties broken by id), which is the order the Flutter client relies on.

use std::borrow::Cow;

use crate::event::{Event, EventId};
use crate::keys::PublicKey;
use crate::time::UnixTime;

/// A stored event as a query answers it: borrowed from a store that keeps decoded events
/// (the test fake), or decoded afresh by the real store, which keeps events packed in one
/// allocation each (`store::compact`). Either way it derefs to [`Event`].
pub type Found<'a> = Cow<'a, Event>;

/// Read access to stored events.
pub trait EventQuery {
    /// The `n` most recent events by `created_at`, returned oldest first.
    fn last_n(&self, n: usize) -> Vec<Found<'_>>;

    /// Events with `since <= created_at <= until`, oldest first; at most `max` of them (the
    /// most recent `max` when there are more). Empty when `since > until`.
    fn window(&self, since: UnixTime, until: UnixTime, max: usize) -> Vec<Found<'_>>;

    /// Events stored late (well after their `created_at`) that *arrived* in `[since, until]`
    /// by this server's clock, in arrival order, at most `max`. Stores that do not track
    /// arrivals answer none.
    fn arrived_late(&self, since: UnixTime, until: UnixTime, max: usize) -> Vec<Found<'_>> {
        let _ = (since, until, max);
        Vec::new()
    }

    /// The event with exactly this id.
    fn get(&self, id: &EventId) -> Option<Found<'_>>;

    /// Whether the event with exactly this id is stored (without decoding it).
    fn contains(&self, id: &EventId) -> bool {
        self.get(id).is_some()
    }

    /// The latest event of a replaceable `kind` (0 profile, 3 follow list) by `author`.
    fn latest_replaceable(&self, author: &PublicKey, kind: u16) -> Option<Found<'_>>;

    /// Events with `since <= created_at <= until`, newest first (the order a relay's `REQ`
    /// wants, NIP-01). Lazy in the real store, so a bounded scan costs only what it reads.
    fn newest_first<'a>(&'a self, since: UnixTime, until: UnixTime) -> Box<dyn Iterator<Item = Found<'a>> + 'a> {
        Box::new(self.window(since, until, usize::MAX).into_iter().rev())
    }

    /// [`EventQuery::newest_first`] with a cheap first test: an event whose author and kind
    /// fail `pre` is `None` (the real store reads both in place and does not decode it), so a
    /// caller bounding its scan with `take` still counts every event examined.
    fn newest_first_where<'a>(
        &'a self,
        since: UnixTime,
        until: UnixTime,
        pre: &'a dyn Fn(&PublicKey, u16) -> bool,
    ) -> Box<dyn Iterator<Item = Option<Found<'a>>> + 'a> {
        Box::new(self.newest_first(since, until).map(move |e| pre(&e.pubkey, e.kind).then_some(e)))
    }

    /// Whether `ev` is not superseded by a newer version of the same replaceable or
    /// addressable slot (NIP-01). Stores that keep no such index answer true.
    fn is_current(&self, ev: &Event) -> bool {
        let _ = ev;
        true
    }

    /// Whether `ev`'s author deleted it (NIP-09). Stores without tombstones answer false.
    fn is_deleted(&self, ev: &Event) -> bool {
        let _ = ev;
        false
    }

    /// A number that changes whenever the answer to any of these queries may change (an
    /// insert, an eviction, a deletion, a noted arrival). `/req` answers are cached while
    /// it stays the same; `None` (the default) means "unknown": nothing is cached.
    fn generation(&self) -> Option<u64> {
        None
    }

    /// Figures for `GET /status`.
    fn stats(&self) -> StoreStats;
}

/// Store figures shown by `GET /status` and in periodic log lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Events held.
    pub events: u64,
    /// Bytes the held events account for against the budget.
    pub bytes: u64,
    /// The byte budget.
    pub budget_bytes: u64,
    /// Events evicted since start.
    pub evicted: u64,
    /// Events kept beyond eviction (owner's events, latest profiles and follow list).
    pub pinned: u64,
    /// Segment files on disk.
    pub segments: u64,
    /// Bytes of all segment files on disk.
    pub disk_bytes: u64,
}
