//! Time as values: [`Instant`] (monotonic milliseconds) and [`UnixTime`] (wall-clock seconds).
//!
//! Nothing in this module reads a clock; the driver does (see `driver::SystemClock`) and
//! passes the values in. That keeps every decision reproducible in tests and simulations.

use std::time::Duration;

/// Milliseconds since an arbitrary origin: process start in production, 0 in simulations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(pub u64);

impl Instant {
    /// `self + d`, saturating instead of overflowing.
    pub fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(duration_ms(d)))
    }

    /// `self + ms` milliseconds, saturating (the overlay's timers are millisecond constants).
    pub fn plus_ms(self, ms: u64) -> Instant {
        Instant(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self` (0 if `earlier` is later).
    pub fn since(self, earlier: Instant) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Time elapsed from `earlier` to `self`; zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// Seconds since the Unix epoch, as Nostr's `created_at`. Compared by the core, never read by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(pub u64);

impl UnixTime {
    /// `self + d` (whole seconds), saturating.
    pub fn saturating_add(self, d: Duration) -> UnixTime {
        UnixTime(self.0.saturating_add(d.as_secs()))
    }

    /// `self - d` (whole seconds), saturating at the epoch.
    pub fn saturating_sub(self, d: Duration) -> UnixTime {
        UnixTime(self.0.saturating_sub(d.as_secs()))
    }
}

/// One reading of both clocks, taken by the driver (the only clock reader) and passed to the
/// state machines with every input and timeout.
///
/// `mono` must never go back (callers keep the larger of two readings); `wall` may jump either
/// way (NTP stepping a Pi's clock after boot, a user fixing a phone's time): the machines compare
/// event and record times with it, but time their timers with `mono` only (quinn-proto: "input
/// events represent monotonically increasing time").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Monotonic milliseconds (timers, rate limits, ages).
    pub mono: Instant,
    /// Wall-clock seconds (Nostr `created_at`, record and delegation expiry).
    pub wall: UnixTime,
}

impl Now {
    /// Both readings.
    pub fn new(mono: Instant, wall: UnixTime) -> Now {
        Now { mono, wall }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Instant(u64::MAX - 1).saturating_add(Duration::from_secs(1)), Instant(u64::MAX));
        assert_eq!(Instant(5).saturating_since(Instant(9)), Duration::ZERO);
        assert_eq!(Instant(1500).saturating_since(Instant(500)), Duration::from_secs(1));
        assert_eq!(UnixTime(3).saturating_sub(Duration::from_secs(10)), UnixTime(0));
    }
}
