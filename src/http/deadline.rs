//! A connection deadline that moves later without touching the reactor.
//!
//! Arming a `Timer` inserts into the reactor's timer map (with async-io it also woke the
//! thread that waited on it, "async-io": one extra wake and context switch). A keep-alive HTTP
//! connection re-armed its idle timer after every request, and a websocket its ping timer
//! after every message read: on `cargo bench --bench net3` that was a reactor wake per post on
//! the publishing node, competing for a CPU with the post's forward. A [`Deadline`] keeps
//! its timer armed at the earliest deadline it was given; moving the deadline later only
//! writes a field, and when the timer fires early it is re-armed once for the real deadline.
//! So a busy connection arms its timer about once per timeout period, not once per request.
//!
//! Must not: read anything but the monotonic clock, or ever fire before its deadline.

use std::time::{Duration, Instant};

use crate::reactor::Timer;

/// A deadline that [`Deadline::expired`] waits for; [`Deadline::set_after`] moves it.
#[derive(Debug)]
pub(super) struct Deadline {
    timer: Timer,
    /// When the timer is armed for (`None`: not armed, or it fired).
    armed: Option<Instant>,
    /// The deadline itself.
    at: Instant,
}

impl Deadline {
    /// A deadline `after` from now (the timer is armed on the first wait).
    pub(super) fn after(after: Duration) -> Deadline {
        Deadline { timer: Timer::never(), armed: None, at: Instant::now() + after }
    }

    /// Moves the deadline to `after` from now (earlier or later).
    pub(super) fn set_after(&mut self, after: Duration) {
        self.at = Instant::now() + after;
    }

    /// Waits until the deadline has passed (never returns earlier). Cancel-safe: dropping
    /// the wait keeps the timer armed for the next one.
    pub(super) async fn expired(&mut self) {
        loop {
            // A later deadline keeps the earlier arming (it fires, then re-arms below); an
            // earlier one, or none armed, arms now.
            if self.armed.is_none_or(|armed| armed > self.at) {
                self.timer.set_at(self.at);
                self.armed = Some(self.at);
            }
            (&mut self.timer).await;
            // A fired timer stays pending until set again.
            self.armed = None;
            if Instant::now() >= self.at {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future;

    /// Moving the deadline later never makes it fire at the earlier time; it fires after the
    /// new one, and the arming survives a dropped wait (as when a read wins the race).
    #[test]
    fn a_moved_deadline_fires_at_the_new_time_never_before() {
        let mut d = Deadline::after(Duration::from_millis(1));
        // Arms the timer for the first deadline (whether or not it already passed).
        let _ = future::block_on(future::poll_once(d.expired()));
        d.set_after(Duration::from_millis(30));
        let at = d.at;
        let _ = crate::reactor::block_on(d.expired());
        assert!(Instant::now() >= at, "fired before its deadline");
        // Earlier again: armed for the earlier time at once.
        d.set_after(Duration::ZERO);
        let _ = crate::reactor::block_on(d.expired());
        assert!(Instant::now() >= d.at);
    }

    /// A deadline in the past fires at once, repeatedly (each wait re-arms a fired timer).
    #[test]
    fn an_expired_deadline_keeps_firing() {
        let mut d = Deadline::after(Duration::ZERO);
        for _ in 0..3 {
            let _ = crate::reactor::block_on(d.expired());
        }
    }
}
