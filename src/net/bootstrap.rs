//! The bootstrap peer given with `-b`: what became of each dial to it, so that a bootstrap
//! that does not work says why (a warn line with the cause and what to check, and
//! `/status`), and when to resolve its host name again.
//!
//! Pure bookkeeping: the runtime feeds it the overlay's dials and the transport's outcomes,
//! with `now`; it never dials (the overlay redials bootstrap addresses with its own backoff,
//! `overlay::params::BACKOFF_*`) and never resolves (it says when; the runtime does it on a
//! helper thread). A name is resolved again when it did not resolve (backoff from
//! [`RESOLVE_RETRY_BASE`] to [`RESOLVE_RETRY_MAX`]) and after every
//! [`RESOLVE_AFTER_FAILURES`] failed dials in a row (its address may have changed).
//!
//! Memory: at most [`MAX_BOOT_ADDRS`] addresses and [`MAX_TRACKED_DIALS`] dials in flight.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::http::BootstrapInfo;
use crate::time::Instant;
use crate::wire::ConnId;

/// Addresses of one bootstrap name handed to the overlay (a name may resolve to many).
pub const MAX_BOOT_ADDRS: usize = 8;
/// Dials to bootstrap addresses followed at once (the overlay makes one per address).
const MAX_TRACKED_DIALS: usize = 2 * MAX_BOOT_ADDRS;
/// First wait before resolving a name that did not resolve; doubles per failure.
pub const RESOLVE_RETRY_BASE: Duration = Duration::from_secs(5);
/// Longest wait between resolutions of a name that does not resolve.
pub const RESOLVE_RETRY_MAX: Duration = Duration::from_secs(300);
/// Failed dials in a row after which a name is resolved again.
pub const RESOLVE_AFTER_FAILURES: u64 = 3;
/// Failures logged at warn; after these, only every [`WARN_EVERY`]th (the rest at debug).
const WARN_FIRST: u64 = 5;
/// See [`WARN_FIRST`].
const WARN_EVERY: u64 = 10;

/// Why the bootstrap peer did not work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The host name did not resolve.
    Resolve,
    /// Nothing listens there (TCP reset).
    Refused,
    /// No answer to the TCP connect within `DIAL_TIMEOUT`.
    TimedOut,
    /// Another connect error (no route, network down, …).
    Unreachable,
    /// It answered in HTTP: the HTTP port, not the overlay port.
    Http,
    /// It sent bytes that are not overlay frames.
    NotOverlay,
    /// It accepted the connection but never completed the overlay handshake.
    NoAnswer,
    /// It answered, then closed the connection (a version mismatch, or it refused us).
    Dropped,
}

impl Cause {
    /// A short description (shown in `/status`).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Resolve => "cannot resolve the host name",
            Cause::Refused => "connection refused",
            Cause::TimedOut => "connect timed out",
            Cause::Unreachable => "cannot connect",
            Cause::Http => "it answered HTTP, not the overlay protocol",
            Cause::NotOverlay => "not a nostrp2p overlay peer",
            Cause::NoAnswer => "connected, but it never answered the overlay handshake",
            Cause::Dropped => "it answered, then closed the connection",
        }
    }

    /// What the user should check.
    pub fn hint(self) -> &'static str {
        match self {
            Cause::Resolve => "check the name and that this machine's network and DNS are up",
            Cause::Refused => "is nostrp2p running there, and is this its overlay port (-l)?",
            Cause::TimedOut | Cause::Unreachable => {
                "check the address, that the host is up, and firewalls or port forwarding on its side"
            }
            Cause::Http | Cause::NotOverlay | Cause::NoAnswer => {
                "-b must be the peer's overlay port (its -l), not its HTTP port (overlay port + 1)"
            }
            Cause::Dropped => "see the peer's log; are both running compatible nostrp2p versions?",
        }
    }

    /// The cause of a failed TCP connect.
    pub fn of_connect(kind: io::ErrorKind) -> Cause {
        match kind {
            io::ErrorKind::ConnectionRefused => Cause::Refused,
            io::ErrorKind::TimedOut => Cause::TimedOut,
            _ => Cause::Unreachable,
        }
    }
}

/// Where the bootstrap stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Dialling (or handshaking with) the bootstrap.
    Connecting,
    /// The last attempt failed; the overlay retries with backoff.
    Failed(Cause),
    /// Connected to the overlay (through the bootstrap or peers learnt from it).
    Joined,
}

/// One dial to a bootstrap address.
#[derive(Clone, Copy, Debug)]
struct Dial {
    conn: ConnId,
    addr: SocketAddr,
    answered: bool,
}

/// The `-b` peer's bookkeeping. See the module doc.
#[derive(Debug)]
pub struct Bootstrap {
    host: String,
    is_name: bool,
    addrs: Vec<SocketAddr>,
    state: State,
    attempts: u64,
    failures: u64,
    failures_in_a_row: u64,
    dials: Vec<Dial>,
    /// When to resolve the name again (`None`: not planned).
    resolve_at: Option<Instant>,
    resolving: bool,
    resolve_failures: u32,
    last_addr: Option<SocketAddr>,
}

impl Bootstrap {
    /// The bootstrap `host` (as given to `-b`) and what resolving it at start gave.
    pub fn new(host: &str, resolved: Result<Vec<SocketAddr>, String>, now: Instant) -> Bootstrap {
        let name = host.rsplit_once(':').map_or(host, |(h, _)| h).trim_start_matches('[').trim_end_matches(']');
        let mut b = Bootstrap {
            host: host.to_owned(),
            is_name: name.parse::<IpAddr>().is_err(),
            addrs: Vec::new(),
            state: State::Connecting,
            attempts: 0,
            failures: 0,
            failures_in_a_row: 0,
            dials: Vec::new(),
            resolve_at: None,
            resolving: false,
            resolve_failures: 0,
            last_addr: None,
        };
        b.resolving = true; // the start-up resolution counts as one
        b.on_resolved(resolved, now);
        b
    }

    /// The addresses to give the overlay (at most [`MAX_BOOT_ADDRS`]).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The host as given.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Where it stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// The overlay dials `addr` on `conn`; tracked if it is a bootstrap address.
    pub fn on_dial(&mut self, conn: ConnId, addr: SocketAddr) {
        if !self.addrs.contains(&addr) {
            return;
        }
        self.attempts += 1;
        self.last_addr = Some(addr);
        if self.dials.len() >= MAX_TRACKED_DIALS {
            self.dials.remove(0);
        }
        self.dials.push(Dial { conn, addr, answered: false });
        if self.state != State::Joined {
            self.state = State::Connecting;
        }
    }

    /// A dial failed at the TCP level.
    pub fn on_dial_failed(&mut self, conn: ConnId, kind: io::ErrorKind, now: Instant) {
        if let Some(d) = self.take(conn) {
            self.fail(d.addr, Cause::of_connect(kind), now);
        }
    }

    /// A frame arrived on `conn`: the peer speaks the overlay protocol.
    pub fn on_frame(&mut self, conn: ConnId) {
        if let Some(d) = self.dials.iter_mut().find(|d| d.conn == conn) {
            d.answered = true;
        }
    }

    /// Undecodable bytes arrived on `conn` (`http`: they began like an HTTP answer).
    pub fn on_malformed(&mut self, conn: ConnId, http: bool, now: Instant) {
        if let Some(d) = self.take(conn) {
            self.fail(d.addr, if http { Cause::Http } else { Cause::NotOverlay }, now);
        }
    }

    /// `conn` closed (either side). A bootstrap connection that closes before the node joined
    /// is a failure: without an answer, or after one.
    pub fn on_closed(&mut self, conn: ConnId, now: Instant) {
        if let Some(d) = self.take(conn) {
            if self.state != State::Joined {
                self.fail(d.addr, if d.answered { Cause::Dropped } else { Cause::NoAnswer }, now);
            }
        }
    }

    /// The number of connected overlay nodes changed.
    pub fn on_peers(&mut self, peers: usize) {
        match (peers, self.state) {
            (0, State::Joined) => self.state = State::Connecting,
            (0, _) => {}
            (_, State::Joined) => {}
            _ => {
                log::info!("bootstrap {}: joined the overlay", self.host);
                self.state = State::Joined;
                self.failures_in_a_row = 0;
                self.dials.clear();
            }
        }
    }

    /// Whether the runtime should resolve the name now (it then calls [`Self::on_resolved`]).
    pub fn poll_resolve(&mut self, now: Instant) -> bool {
        if self.resolving || self.resolve_at.is_none_or(|at| at > now) {
            return false;
        }
        self.resolving = true;
        self.resolve_at = None;
        true
    }

    /// When [`Self::poll_resolve`] wants to be asked again.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.resolve_at.filter(|_| !self.resolving)
    }

    /// A resolution finished. Returns the new addresses when they changed (for the overlay).
    pub fn on_resolved(&mut self, result: Result<Vec<SocketAddr>, String>, now: Instant) -> Option<Vec<SocketAddr>> {
        self.resolving = false;
        match result {
            Ok(mut addrs) if !addrs.is_empty() => {
                self.resolve_failures = 0;
                addrs.truncate(MAX_BOOT_ADDRS);
                if self.state == State::Failed(Cause::Resolve) {
                    self.state = State::Connecting;
                }
                if addrs == self.addrs {
                    return None;
                }
                if !self.addrs.is_empty() {
                    log::info!("bootstrap {} now resolves to {addrs:?}", self.host);
                }
                self.addrs = addrs;
                Some(self.addrs.clone())
            }
            other => {
                let why = other.err().unwrap_or_else(|| "no address".to_owned());
                let wait = RESOLVE_RETRY_BASE.saturating_mul(1 << self.resolve_failures.min(16)).min(RESOLVE_RETRY_MAX);
                self.resolve_failures += 1;
                self.resolve_at = Some(now.saturating_add(wait));
                if self.addrs.is_empty() {
                    self.state = State::Failed(Cause::Resolve);
                    self.failures += 1;
                    self.warn(format_args!(
                        "cannot resolve bootstrap peer {}: {why}; {}; trying again in {} s",
                        self.host,
                        Cause::Resolve.hint(),
                        wait.as_secs()
                    ));
                } else {
                    log::debug!("bootstrap {}: resolving again failed ({why}); keeping {:?}", self.host, self.addrs);
                }
                None
            }
        }
    }

    /// What `/status` shows.
    pub fn info(&self) -> BootstrapInfo {
        let (state, cause) = match self.state {
            State::Connecting => ("connecting", None),
            State::Failed(c) => ("failed", Some(c.as_str())),
            State::Joined => ("joined", None),
        };
        BootstrapInfo { addr: self.last_addr.or(self.addrs.first().copied()), state, cause, attempts: self.attempts }
    }

    fn take(&mut self, conn: ConnId) -> Option<Dial> {
        let i = self.dials.iter().position(|d| d.conn == conn)?;
        Some(self.dials.remove(i))
    }

    fn fail(&mut self, addr: SocketAddr, cause: Cause, now: Instant) {
        if self.state == State::Joined {
            log::debug!("bootstrap {} ({addr}): {} (already joined)", self.host, cause.as_str());
            return;
        }
        self.state = State::Failed(cause);
        self.failures += 1;
        self.failures_in_a_row += 1;
        self.warn(format_args!(
            "bootstrap peer {} ({addr}) does not work: {}; {}; retrying with backoff (attempt {})",
            self.host,
            cause.as_str(),
            cause.hint(),
            self.attempts
        ));
        if self.is_name && self.failures_in_a_row % RESOLVE_AFTER_FAILURES == 0 && !self.resolving {
            self.resolve_at = Some(now);
        }
    }

    /// Warn for the first failures, then only now and then (a dead bootstrap is retried for
    /// as long as the node is alone).
    fn warn(&self, line: std::fmt::Arguments<'_>) {
        if self.failures <= WARN_FIRST || self.failures % WARN_EVERY == 0 {
            log::warn!("{line}");
        } else {
            log::debug!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn each_failure_names_its_cause_and_counts_the_attempt() {
        let mut b = Bootstrap::new("127.0.0.1:7000", Ok(vec![addr(7000)]), Instant(0));
        assert_eq!(b.info().state, "connecting");
        let cases = [
            (Cause::Refused, "connection refused"),
            (Cause::NoAnswer, "never answered"),
            (Cause::Http, "HTTP"),
            (Cause::Dropped, "closed"),
        ];
        for (i, (want, text)) in cases.into_iter().enumerate() {
            let conn = ConnId(ConnId::OUTBOUND_BIT | i as u64);
            b.on_dial(conn, addr(7000));
            b.on_dial(ConnId(99), addr(8000)); // not the bootstrap: ignored
            match want {
                Cause::Refused => b.on_dial_failed(conn, io::ErrorKind::ConnectionRefused, Instant(1)),
                Cause::Http => b.on_malformed(conn, true, Instant(1)),
                Cause::Dropped => {
                    b.on_frame(conn);
                    b.on_closed(conn, Instant(1));
                }
                _ => b.on_closed(conn, Instant(1)),
            }
            assert_eq!(b.state(), State::Failed(want));
            let info = b.info();
            assert_eq!((info.state, info.attempts), ("failed", i as u64 + 1));
            assert!(info.cause.is_some_and(|c| c.contains(text)), "{info:?}");
        }
        assert_eq!(b.poll_timeout(), None, "an IP address is never resolved again");
        b.on_peers(1);
        assert_eq!(b.info().state, "joined");
        b.on_peers(0);
        assert_eq!(b.info().state, "connecting");
    }

    #[test]
    fn a_name_that_does_not_resolve_is_retried_with_backoff_and_handed_over() {
        let mut b = Bootstrap::new("boot.example:7000", Err("no network".into()), Instant(0));
        assert_eq!(b.state(), State::Failed(Cause::Resolve));
        assert!(b.addrs().is_empty());
        let mut at = b.poll_timeout().expect("a retry is planned");
        assert_eq!(at, Instant(0).saturating_add(RESOLVE_RETRY_BASE));
        assert!(!b.poll_resolve(Instant(1)), "not yet");
        let mut waits = Vec::new();
        for _ in 0..10 {
            assert!(b.poll_resolve(at));
            assert!(!b.poll_resolve(at), "one resolution at a time");
            assert_eq!(b.on_resolved(Err("still down".into()), at), None);
            let next = b.poll_timeout().expect("planned");
            waits.push(next.since(at));
            at = next;
        }
        assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
        assert_eq!(*waits.last().expect("waits"), RESOLVE_RETRY_MAX.as_millis() as u64);
        assert!(b.poll_resolve(at));
        let many: Vec<SocketAddr> = (0..20).map(|i| addr(7000 + i)).collect();
        let handed = b.on_resolved(Ok(many), at).expect("new addresses");
        assert_eq!(handed.len(), MAX_BOOT_ADDRS);
        assert_eq!(b.state(), State::Connecting);
        // Failed dials in a row make it resolve again (the address may have moved).
        for i in 0..RESOLVE_AFTER_FAILURES {
            let conn = ConnId(ConnId::OUTBOUND_BIT | i);
            b.on_dial(conn, addr(7000));
            b.on_dial_failed(conn, io::ErrorKind::TimedOut, at);
        }
        assert!(b.poll_resolve(at), "re-resolve after {RESOLVE_AFTER_FAILURES} failures");
        assert_eq!(b.on_resolved(Ok(vec![addr(7000)]), at), Some(vec![addr(7000)]));
        assert_eq!(b.on_resolved(Ok(vec![addr(7000)]), at), None, "unchanged: nothing to hand over");
    }
}
