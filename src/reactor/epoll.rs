//! The per-thread reactor core: the epoll instance, the registered sources' wakers, the
//! timers, and [`block_on`], which polls a future and, while it is pending, waits in
//! `epoll_wait` until a source is ready, a timer is due or a waker is called.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use rustix::event::epoll;

use crate::limits::{REACTOR_EVENTS_PER_WAIT, REACTOR_MAX_WAIT};

/// `epoll` data of the eventfd (sources use `generation << 32 | slot`, generation ≥ 1).
const NOTIFY_KEY: u64 = u64::MAX;

/// Which way a task waits on a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dir {
    Read,
    Write,
}

/// A registered source's slot: which registration it is and who waits on it.
struct Source {
    generation: u32,
    read: Option<Waker>,
    write: Option<Waker>,
}

/// A registration handle: the slot and its generation (a reused slot has a new one, so a
/// stale handle or event never reaches the new owner).
#[derive(Clone, Copy, Debug)]
pub(super) struct Key {
    slot: usize,
    generation: u32,
}

/// How the loop's thread is woken from elsewhere.
struct Notify {
    /// Written (from other threads only) while the loop's thread sleeps in `epoll_wait`.
    eventfd: OwnedFd,
    /// A waker was called since the future was last polled.
    notified: AtomicBool,
    /// The loop's thread is in (or about to enter) `epoll_wait`.
    sleeping: AtomicBool,
}

impl Wake for Notify {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Dekker-style with `wait`: it sets `sleeping` then reads `notified`; this sets
        // `notified` then reads `sleeping`, so at least one of the two sees the other.
        if !self.notified.swap(true, Ordering::SeqCst) && self.sleeping.load(Ordering::SeqCst) {
            let _ = rustix::io::write(&self.eventfd, &1u64.to_ne_bytes());
        }
    }
}

/// One thread's reactor.
pub(super) struct Reactor {
    epoll: OwnedFd,
    notify: Arc<Notify>,
    /// Slab of sources: one per open socket (bounded by the server's connection caps).
    sources: Vec<Option<Source>>,
    free: Vec<usize>,
    next_generation: u32,
    /// Wakers of pending timers by (deadline, timer id): one per armed [`super::Timer`].
    timers: BTreeMap<(Instant, u64), Waker>,
    next_timer: u64,
    /// Readiness events of one wait ([`REACTOR_EVENTS_PER_WAIT`]; the rest come next wait).
    events: Vec<epoll::Event>,
}

thread_local! {
    static REACTOR: RefCell<Option<Reactor>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread's reactor, creating it on first use.
///
/// # Errors
/// The reactor cannot be created (no file descriptors left), or is in use further up this
/// call stack (a bug: the reactor never calls out while borrowed), or the thread is ending.
pub(super) fn with<R>(f: impl FnOnce(&mut Reactor) -> R) -> io::Result<R> {
    REACTOR
        .try_with(|cell| {
            let mut slot = cell.try_borrow_mut().map_err(|_| io::Error::other("reactor re-entered"))?;
            if slot.is_none() {
                *slot = Some(Reactor::new()?);
            }
            slot.as_mut().map(f).ok_or_else(|| io::Error::other("no reactor"))
        })
        .map_err(|_| io::Error::other("reactor gone: the thread is ending"))?
}

impl Reactor {
    fn new() -> io::Result<Reactor> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let eventfd =
            rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK)?;
        epoll::add(&epoll, &eventfd, epoll::EventData::new_u64(NOTIFY_KEY), epoll::EventFlags::IN)?;
        Ok(Reactor {
            epoll,
            notify: Arc::new(Notify { eventfd, notified: AtomicBool::new(false), sleeping: AtomicBool::new(false) }),
            sources: Vec::new(),
            free: Vec::new(),
            next_generation: 1,
            timers: BTreeMap::new(),
            next_timer: 0,
            events: Vec::with_capacity(REACTOR_EVENTS_PER_WAIT),
        })
    }

    /// Registers `fd` for both directions, edge-triggered.
    pub(super) fn register(&mut self, fd: BorrowedFd<'_>) -> io::Result<Key> {
        let slot = self.free.pop().unwrap_or(self.sources.len());
        let generation = self.next_generation;
        self.next_generation = self.next_generation.checked_add(1).unwrap_or(1);
        let data = epoll::EventData::new_u64(u64::from(generation) << 32 | slot as u64);
        let flags = epoll::EventFlags::IN
            | epoll::EventFlags::OUT
            | epoll::EventFlags::RDHUP
            | epoll::EventFlags::PRI
            | epoll::EventFlags::ET;
        if let Err(e) = epoll::add(&self.epoll, fd, data, flags) {
            if slot < self.sources.len() {
                self.free.push(slot);
            }
            return Err(e.into());
        }
        let source = Some(Source { generation, read: None, write: None });
        match self.sources.get_mut(slot) {
            Some(s) => *s = source,
            None => self.sources.push(source),
        }
        Ok(Key { slot, generation })
    }

    /// Stops watching `fd` (it stays open).
    pub(super) fn unwatch(&mut self, fd: BorrowedFd<'_>) {
        let _ = epoll::delete(&self.epoll, fd);
    }

    /// Frees `key`'s slot (its fd is closed or unwatched); returns its wakers, to be
    /// dropped outside the borrow (dropping a task's last waker may drop the task).
    pub(super) fn release(&mut self, key: Key) -> [Option<Waker>; 2] {
        let Some(s) = self.sources.get_mut(key.slot) else { return [None, None] };
        if s.as_ref().is_some_and(|s| s.generation == key.generation) {
            self.free.push(key.slot);
            if let Some(s) = s.take() {
                return [s.read, s.write];
            }
        }
        [None, None]
    }

    /// Makes `waker` the one woken when `key` is ready in `dir`; returns a different waker
    /// that waited there before (the caller wakes it, so that no waiter is ever lost).
    pub(super) fn wait_on(&mut self, key: Key, dir: Dir, waker: &Waker) -> Option<Waker> {
        let Some(Some(s)) = self.sources.get_mut(key.slot) else { return None };
        if s.generation != key.generation {
            return None;
        }
        let slot = match dir {
            Dir::Read => &mut s.read,
            Dir::Write => &mut s.write,
        };
        match slot {
            Some(w) if w.will_wake(waker) => None,
            _ => slot.replace(waker.clone()),
        }
    }

    /// Arms (or re-arms) timer `id` at `at` with `waker`.
    pub(super) fn timer_set(&mut self, at: Instant, id: u64, waker: &Waker) {
        match self.timers.get_mut(&(at, id)) {
            Some(w) if w.will_wake(waker) => {}
            Some(w) => *w = waker.clone(),
            None => {
                self.timers.insert((at, id), waker.clone());
            }
        }
    }

    /// A fresh timer id.
    pub(super) fn timer_id(&mut self) -> u64 {
        self.next_timer = self.next_timer.wrapping_add(1);
        self.next_timer
    }

    /// Disarms timer `id` armed at `at`.
    pub(super) fn timer_cancel(&mut self, at: Instant, id: u64) -> Option<Waker> {
        self.timers.remove(&(at, id))
    }

    /// Slots ever used, and those in use (tests).
    #[cfg(test)]
    pub(super) fn sources_len(&self) -> usize {
        self.sources.len()
    }

    #[cfg(test)]
    pub(super) fn open_sources(&self) -> usize {
        self.sources.iter().flatten().count()
    }

    /// Armed timers (tests).
    #[cfg(test)]
    pub(super) fn timers_len(&self) -> usize {
        self.timers.len()
    }

    /// Moves the wakers of due timers into `wake`.
    fn due_timers(&mut self, now: Instant, wake: &mut Vec<Waker>) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            wake.push(entry.remove());
        }
    }

    /// One wait: due timers, else sleep in `epoll_wait` until a source is ready, the next
    /// timer is due or another thread wakes us (not at all if a waker was already called).
    /// Wakers to call are put in `wake` (called by the caller, outside the borrow).
    fn turn(&mut self, wake: &mut Vec<Waker>) -> io::Result<()> {
        let now = Instant::now();
        self.due_timers(now, wake);
        let notify = self.notify.clone();
        let mut timeout = if wake.is_empty() {
            self.timers.keys().next().map(|(at, _)| round_up_ms(at.saturating_duration_since(now)))
        } else {
            Some(Duration::ZERO)
        };
        notify.sleeping.store(true, Ordering::SeqCst);
        if notify.notified.load(Ordering::SeqCst) {
            timeout = Some(Duration::ZERO);
        }
        let timeout = timeout.map(|t| t.min(REACTOR_MAX_WAIT));
        let ts = timeout.and_then(|t| rustix::event::Timespec::try_from(t).ok());
        self.events.clear();
        let waited = epoll::wait(&self.epoll, rustix::buffer::spare_capacity(&mut self.events), ts.as_ref());
        notify.sleeping.store(false, Ordering::SeqCst);
        match waited {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        for ev in &self.events {
            let data = ev.data.u64();
            if data == NOTIFY_KEY {
                let mut buf = [0u8; 8];
                let _ = rustix::io::read(&notify.eventfd, &mut buf);
                continue;
            }
            let slot = usize::try_from(data & u64::from(u32::MAX)).unwrap_or(usize::MAX);
            let generation = u32::try_from(data >> 32).unwrap_or(0);
            let Some(Some(s)) = self.sources.get_mut(slot) else { continue };
            if s.generation != generation {
                continue;
            }
            let f = ev.flags;
            let broken = f.intersects(epoll::EventFlags::ERR | epoll::EventFlags::HUP);
            if broken || f.intersects(epoll::EventFlags::IN | epoll::EventFlags::RDHUP | epoll::EventFlags::PRI) {
                wake.extend(s.read.take());
            }
            if broken || f.contains(epoll::EventFlags::OUT) {
                wake.extend(s.write.take());
            }
        }
        self.due_timers(Instant::now(), wake);
        Ok(())
    }
}

/// `epoll_wait` counts in whole milliseconds: round up, so a timer is never woken for early.
fn round_up_ms(d: Duration) -> Duration {
    let ms = d.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Runs `future` to completion on this thread, waiting on this thread's reactor (its
/// sources and timers) whenever the future is pending.
///
/// # Errors
/// The reactor cannot be created, or `epoll_wait` fails for a reason other than a signal.
pub fn block_on<T>(future: impl Future<Output = T>) -> io::Result<T> {
    let notify = with(|r| r.notify.clone())?;
    let waker = Waker::from(notify.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let mut wake = Vec::new();
    loop {
        notify.notified.store(false, Ordering::SeqCst);
        if let Poll::Ready(t) = future.as_mut().poll(&mut cx) {
            return Ok(t);
        }
        // Wait until a waker is called: by a ready source or timer (on this thread, in the
        // loop below) or from another thread (through the eventfd).
        loop {
            with(|r| r.turn(&mut wake))??;
            for w in wake.drain(..) {
                w.wake();
            }
            if notify.notified.load(Ordering::SeqCst) {
                break;
            }
        }
    }
}
