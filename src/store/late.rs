//! Late arrivals: events stored well after their `created_at`, remembered by arrival time.
//!
//! The Flutter client polls `[previous poll, now]` by `created_at` (original spec §7.4). An
//! event that reaches this server after the poll that covered its `created_at` (a reply
//! resent after an outage, a post from catch-up sync, mail from a support server, or an
//! author with a slow clock) would never be shown until the app restarts. The timeline
//! window therefore also answers the events that *arrived* in `[since, until]` by this
//! server's clock (see `http::req`); this index is what makes that cheap and bounded.
//! It is memory only: after a restart the client's first poll is a last-N poll anyway.

use std::collections::VecDeque;
use std::time::Duration;

use crate::event::EventId;
use crate::limits::{LATE_AFTER, LATE_ARRIVALS_CAP};
use crate::time::UnixTime;

/// Bounded FIFO of `(arrived, id)`, in arrival order (arrival times never decrease).
#[derive(Debug, Default)]
pub struct LateArrivals {
    q: VecDeque<(UnixTime, EventId)>,
}

impl LateArrivals {
    /// Records `id` if it arrived more than [`LATE_AFTER`] after it was created. The oldest
    /// entry goes when [`LATE_ARRIVALS_CAP`] is reached.
    pub fn note(&mut self, id: EventId, created_at: UnixTime, arrived: UnixTime) {
        if arrived <= created_at.saturating_add(LATE_AFTER) {
            return;
        }
        // A clock step backwards must not break the order the queries rely on.
        let arrived = self.q.back().map_or(arrived, |&(last, _)| arrived.max(last));
        if self.q.len() == LATE_ARRIVALS_CAP {
            self.q.pop_front();
        }
        self.q.push_back((arrived, id));
        debug_assert!(self.q.len() <= LATE_ARRIVALS_CAP);
    }

    /// Ids that arrived in `[since, until]`, in arrival order.
    pub fn between(&self, since: UnixTime, until: UnixTime) -> impl Iterator<Item = &EventId> + '_ {
        let start = self.q.partition_point(|&(at, _)| at < since);
        self.q.range(start..).take_while(move |&&(at, _)| at <= until).map(|(_, id)| id)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.q.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }
}

/// How late an event must be to be remembered (re-exported for tests).
pub const fn threshold() -> Duration {
    LATE_AFTER
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> EventId {
        EventId([n; 32])
    }

    #[test]
    fn only_late_events_are_remembered_and_queried_by_arrival() {
        let mut l = LateArrivals::default();
        let late = threshold().as_secs() + 1;
        l.note(id(1), UnixTime(100), UnixTime(100)); // on time
        l.note(id(2), UnixTime(100), UnixTime(100 + late)); // late, arrived at 100+late
        l.note(id(3), UnixTime(50), UnixTime(200));
        assert_eq!(l.len(), 2);
        let got: Vec<_> = l.between(UnixTime(100), UnixTime(199)).copied().collect();
        assert_eq!(got, vec![id(2)]);
        let got: Vec<_> = l.between(UnixTime(0), UnixTime(u64::MAX)).copied().collect();
        assert_eq!(got, vec![id(2), id(3)]);
        assert_eq!(l.between(UnixTime(201), UnixTime(300)).count(), 0);
    }

    #[test]
    fn bounded_and_ordered_even_if_the_clock_steps_back() {
        let mut l = LateArrivals::default();
        for i in 0..(LATE_ARRIVALS_CAP as u64 + 10) {
            l.note(EventId([0; 32]), UnixTime(0), UnixTime(1000 + i));
        }
        assert_eq!(l.len(), LATE_ARRIVALS_CAP);
        l.note(id(9), UnixTime(0), UnixTime(5)); // clock went back: kept at the end
        assert_eq!(l.between(UnixTime(0), UnixTime(u64::MAX)).last(), Some(&id(9)));
    }
}
