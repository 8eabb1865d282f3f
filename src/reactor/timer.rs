//! [`Timer`]: a one-shot deadline on this thread's reactor, with async-io's `Timer` API as
//! far as the server uses it (`at`, `after`, `never`, `set_at`, awaiting `&mut Timer`).
//!
//! Must not: fire before its deadline; stay registered after it fired, was re-set or dropped.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::epoll::with;

/// Completes (with its deadline) once the deadline has passed; then stays pending until set
/// again, as async-io's does. A timer set to "never" is pending for ever.
#[derive(Debug)]
pub struct Timer {
    when: Option<Instant>,
    /// The reactor entry while armed: (deadline, id).
    armed: Option<(Instant, u64)>,
}

impl Timer {
    /// A timer that never fires.
    pub fn never() -> Timer {
        Timer { when: None, armed: None }
    }

    /// A timer that fires at `at`.
    pub fn at(at: Instant) -> Timer {
        Timer { when: Some(at), armed: None }
    }

    /// A timer that fires `after` from now (never, if that is beyond the clock's range).
    pub fn after(after: Duration) -> Timer {
        Timer { when: Instant::now().checked_add(after), armed: None }
    }

    /// Sets the deadline to `at` (earlier or later), whether or not the timer fired.
    pub fn set_at(&mut self, at: Instant) {
        self.disarm();
        self.when = Some(at);
    }

    fn disarm(&mut self) {
        if let Some((at, id)) = self.armed.take() {
            // The waker is dropped outside the reactor's borrow.
            let waker = with(|r| r.timer_cancel(at, id));
            drop(waker);
        }
    }
}

impl Future for Timer {
    type Output = Instant;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Instant> {
        let this = self.get_mut();
        let Some(when) = this.when else { return Poll::Pending };
        if Instant::now() >= when {
            this.disarm();
            this.when = None;
            return Poll::Ready(when);
        }
        let armed = this.armed;
        let registered = with(|r| {
            let id = match armed {
                Some((_, id)) => id,
                None => r.timer_id(),
            };
            r.timer_set(when, id, cx.waker());
            id
        });
        match registered {
            Ok(id) => this.armed = Some((when, id)),
            // No reactor (out of file descriptors): the timer cannot fire; say so once per
            // poll rather than spin.
            Err(e) => log::error!("timer cannot be armed: {e}"),
        }
        Poll::Pending
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.disarm();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reactor::block_on;
    use futures_lite::future;

    /// A timer fires at its deadline, never before, then stays pending until set again; a
    /// re-set timer fires again; a dropped or re-set timer leaves nothing armed.
    #[test]
    fn a_timer_fires_once_at_its_deadline_and_again_when_set_again() {
        let start = Instant::now();
        let mut t = Timer::after(Duration::from_millis(20));
        let fired = block_on(&mut t).ok();
        assert!(fired.is_some_and(|at| at >= start + Duration::from_millis(20)));
        assert!(Instant::now() >= start + Duration::from_millis(20), "never early");
        assert!(future::block_on(future::poll_once(&mut t)).is_none(), "pending after firing");
        t.set_at(Instant::now());
        assert!(future::block_on(future::poll_once(&mut t)).is_some(), "fires again once set");
        let mut later = Timer::after(Duration::from_secs(3600));
        assert!(future::block_on(future::poll_once(&mut later)).is_none());
        assert_eq!(with(|r| r.timers_len()).ok(), Some(1), "armed while pending");
        later.set_at(Instant::now() + Duration::from_secs(7200));
        assert!(future::block_on(future::poll_once(&mut later)).is_none());
        assert_eq!(with(|r| r.timers_len()).ok(), Some(1), "re-set replaces, not adds");
        drop(later);
        assert_eq!(with(|r| r.timers_len()).ok(), Some(0), "dropped: disarmed");
    }

    /// Of two timers the earlier fires first and the later one is not cut short.
    #[test]
    fn the_earlier_of_two_timers_fires_first() {
        let start = Instant::now();
        let order = block_on(future::or(
            async {
                Timer::after(Duration::from_millis(60)).await;
                "late"
            },
            async {
                Timer::after(Duration::from_millis(10)).await;
                "early"
            },
        ));
        assert_eq!(order.ok(), Some("early"));
        assert!(Instant::now() >= start + Duration::from_millis(10));
    }
}
