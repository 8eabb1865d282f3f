//! Test fixtures shared by the unit tests and (through the `sim` feature) the integration
//! tests: the original's signed events (Appendix A of its spec, `tests/vectors/fixtures.tsv`)
//! and an in-memory [`EventQuery`]. Not part of the server: compiled only for tests and `sim`.

use std::borrow::Cow;

use crate::event::json::parse_event;
use crate::event::{Event, EventId};
use crate::keys::PublicKey;
use crate::query::{EventQuery, Found, StoreStats};
use crate::time::UnixTime;

const FIXTURES: &str = include_str!("../tests/vectors/fixtures.tsv");

/// The JSON of fixture `name` (`"E1"` … `"E16"`) exactly as the client POSTs it.
pub fn fixture_json(name: &str) -> &'static str {
    FIXTURES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let mut f = l.splitn(3, '\t');
            (f.next() == Some(name)).then(|| f.nth(1).expect("fixture JSON"))
        })
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

/// Fixture `name`, parsed (not verified).
pub fn fixture(name: &str) -> Event {
    parse_event(fixture_json(name).as_bytes()).expect("fixture parses").event
}

/// Bytes from hex (test literals only).
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

/// An [`EventQuery`] over a `Vec` kept sorted by `(created_at, id)`, with optional late
/// arrivals and fixed store figures.
#[derive(Default, Clone, Debug)]
pub struct FakeStore {
    /// The events, sorted by `(created_at, id)`.
    pub events: Vec<Event>,
    /// Indexes into `events` of late arrivals, with their arrival times (ascending).
    pub late: Vec<(UnixTime, usize)>,
    /// What `stats()` answers.
    pub stats: StoreStats,
    /// What `generation()` answers (`None`: answers are never cached). Tests that change
    /// the fields directly must change it too when they set it.
    pub generation: Option<u64>,
}

impl FakeStore {
    /// A store holding `events`.
    pub fn with(events: impl IntoIterator<Item = Event>) -> FakeStore {
        let mut store = FakeStore { events: events.into_iter().collect(), ..FakeStore::default() };
        store.events.sort_by_key(|e| (e.created_at, e.id));
        store
    }

    /// Adds `ev` unless its id is held.
    pub fn insert(&mut self, ev: Event) {
        self.generation = self.generation.map(|g| g + 1);
        if self.get(&ev.id).is_none() {
            self.events.push(ev);
            self.events.sort_by_key(|e| (e.created_at, e.id));
        }
    }

    /// Whether the id is held.
    pub fn has(&self, id: &EventId) -> bool {
        self.get(id).is_some()
    }
}

impl EventQuery for FakeStore {
    fn last_n(&self, n: usize) -> Vec<Found<'_>> {
        self.events[self.events.len().saturating_sub(n)..].iter().map(Cow::Borrowed).collect()
    }

    fn window(&self, since: UnixTime, until: UnixTime, max: usize) -> Vec<Found<'_>> {
        let all: Vec<Found<'_>> =
            self.events.iter().filter(|e| since <= e.created_at && e.created_at <= until).map(Cow::Borrowed).collect();
        all[all.len().saturating_sub(max)..].to_vec()
    }

    fn arrived_late(&self, since: UnixTime, until: UnixTime, max: usize) -> Vec<Found<'_>> {
        let arrived = self.late.iter().filter(|(at, _)| since <= *at && *at <= until);
        arrived.map(|(_, i)| Cow::Borrowed(&self.events[*i])).take(max).collect()
    }

    fn get(&self, id: &EventId) -> Option<Found<'_>> {
        self.events.iter().find(|e| e.id == *id).map(Cow::Borrowed)
    }

    fn latest_replaceable(&self, author: &PublicKey, kind: u16) -> Option<Found<'_>> {
        self.events.iter().rev().find(|e| e.pubkey == *author && e.kind == kind).map(Cow::Borrowed)
    }

    fn generation(&self) -> Option<u64> {
        self.generation
    }

    fn stats(&self) -> StoreStats {
        self.stats
    }
}
