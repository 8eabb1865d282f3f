//! The single-threaded driver: the only code that reads clocks, touches files and sockets,
//! and handles signals. It owns the store; the HTTP front's connection tasks (on the same
//! executor) reach it through bounded channels: one for requests, one for websocket messages.
//!
//! Loop: wait for an HTTP job, a websocket message, an accepted connection, a signal or the
//! stats timer; answer reads at once; for writes, insert every queued publish, hand the new
//! ones to the network (forward first: the writer tasks put them on the wire before the
//! fsync), fsync once (group commit), then answer them all. So an owner's event is on disk
//! before its `200`, and a burst of publishes costs one fsync. Every job is answered (no
//! timeout on the core): a client never gets a 503 for a publish that is in fact stored.
//!
//! Events from the network are inserted (readable by `/req` and live subscriptions) at once
//! and fsynced later, at most `NET_SYNC_DELAY` after they arrived or with the next group
//! commit: nobody was promised them, and catch-up fetches them again after a power cut.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::reactor::Timer;
use futures_lite::{future, StreamExt};
use smol::LocalExecutor;

use crate::cli::ServerConfig;
use crate::http::front::{self, BindError, HttpFront, HttpJob, WsConnId, WsIn, WsOut};
use crate::http::{self, HttpConfig, NodeInfo, Routed};
use crate::limits::{HTTP_QUEUE_CAP, NET_SYNC_DELAY, STATS_LOG_INTERVAL, WS_INBOX_CAP};
use crate::net::runtime::{OverlayError, OverlayRuntime, OverlayWake};
use crate::query::EventQuery;
use crate::store::{Store, StoreConfig, StoreError};
use crate::time::{Instant, UnixTime};

mod relay;

/// The version printed by `--version` and shown by `GET /status`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The process's clocks. The only place that reads them.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    origin: std::time::Instant,
}

impl SystemClock {
    /// A clock whose [`Instant`] 0 is now.
    pub fn start() -> SystemClock {
        SystemClock { origin: std::time::Instant::now() }
    }

    /// Monotonic time since start.
    pub fn now(&self) -> Instant {
        Instant(u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// Wall-clock time (Nostr's `created_at` scale).
    pub fn unix_now(&self) -> UnixTime {
        UnixTime(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }
}

/// A fault that stops the server (non-zero exit): a human must act.
#[derive(Debug)]
pub enum Fatal {
    /// The event store cannot be opened or written.
    Store(StoreError),
    /// The HTTP address cannot be bound.
    Bind(BindError),
    /// Signal handlers cannot be installed.
    Signals(std::io::Error),
    /// The overlay cannot start (address in use, node key unwritable).
    Overlay(OverlayError),
    /// The reactor cannot be created or waited on (no file descriptors, epoll failed).
    Runtime(std::io::Error),
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fatal::Store(e) => write!(f, "event store: {e}"),
            Fatal::Bind(e) => write!(f, "{e}"),
            Fatal::Signals(e) => write!(f, "cannot install SIGINT/SIGTERM handlers: {e}"),
            Fatal::Overlay(e) => write!(f, "overlay: {e}"),
            Fatal::Runtime(e) => write!(f, "event loop (epoll): {e}"),
        }
    }
}

impl std::error::Error for Fatal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Fatal::Store(e) => Some(e),
            Fatal::Bind(e) => Some(e),
            Fatal::Signals(e) => Some(e),
            Fatal::Overlay(e) => Some(e),
            Fatal::Runtime(e) => Some(e),
        }
    }
}

/// Why the loop woke up.
enum Wake {
    Job(HttpJob),
    Conn(std::net::TcpStream),
    Ws(WsIn),
    Signal(i32),
    Stats,
    /// Events from the network wait for an fsync.
    NetSync,
    Overlay(OverlayWake),
}

/// Everything the loop owns.
struct Node {
    store: Store,
    http_cfg: HttpConfig,
    clock: SystemClock,
    listen: String,
    http_addr: String,
    data_dir: String,
    /// Publishes inserted but not yet fsynced, with their pending answers.
    pending: Vec<(http::PublishCtx, async_channel::Sender<http::Response>)>,
    /// Open websockets and their outbound queues (at most `MAX_WS_CONNS`, the front's cap).
    websockets: BTreeMap<WsConnId, async_channel::Sender<WsOut>>,
    /// NIP-01 protocol state of every websocket.
    relay: crate::relay::Relay,
    /// The NIP-11 document (rendered once).
    relay_doc: String,
    /// Websocket `EVENT`s inserted but not yet fsynced, with their `OK`s.
    ws_oks: Vec<relay::PendingOk>,
    /// Owner events newly stored by this batch: handed to the application once durable.
    published: Vec<crate::event::VerifiedEvent>,
    /// Lookups of this batch that found nothing: the application asks the network.
    misses: Vec<http::Miss>,
    /// Recent `/req` answers, valid while the store's generation is unchanged.
    req_cache: http::ReqCache,
    /// Connected overlay peers (for `/status`).
    peers: u64,
    /// Network figures (for `/status`), refreshed after each overlay wake.
    network: Option<http::NetworkInfo>,
    /// When events stored from the network (not yet fsynced) must be synced.
    net_sync_at: Option<Instant>,
    /// [`NET_SYNC_DELAY`], or the test override.
    net_sync_delay: u64,
}

/// Runs the server on this thread until SIGINT or SIGTERM: one `LocalExecutor` for the loop
/// and every connection task, run by the server's own reactor (`crate::reactor`), so the
/// thread that waits on the sockets is the one that handles what they bring.
///
/// # Errors
/// [`Fatal::Runtime`] if the reactor cannot be set up; otherwise as [`run`].
pub fn serve(cfg: ServerConfig, data_dir: PathBuf) -> Result<(), Fatal> {
    let ex = LocalExecutor::new();
    crate::reactor::block_on(ex.run(run(&ex, cfg, data_dir))).map_err(Fatal::Runtime)?
}

/// Runs the server until SIGINT or SIGTERM.
///
/// # Errors
/// [`Fatal`] when the store, the HTTP address or the signal handlers cannot be set up, or
/// the store fails while running.
pub async fn run(ex: &LocalExecutor<'static>, cfg: ServerConfig, data_dir: PathBuf) -> Result<(), Fatal> {
    let clock = SystemClock::start();
    let budget_bytes = cfg.store_mib * 1024 * 1024;
    let (store, recovery) =
        Store::open(&data_dir, StoreConfig { budget_bytes, owner: cfg.owner }).map_err(Fatal::Store)?;
    log::info!("event store {}: {recovery}", data_dir.display());

    let mut signals =
        async_signal::Signals::new([async_signal::Signal::Int, async_signal::Signal::Term]).map_err(Fatal::Signals)?;
    // Signals reach the loop through a channel from their own task: polling the signal
    // stream itself reads its pipe (a syscall), and the loop would do that on every wake.
    let (signal_tx, signal_rx) = async_channel::bounded::<i32>(1);
    ex.spawn(async move {
        while let Some(s) = signals.next().await {
            if signal_tx.send(s.map_or(0, |s| s as i32)).await.is_err() {
                break;
            }
        }
    })
    .detach();
    let (jobs_tx, jobs) = async_channel::bounded::<HttpJob>(HTTP_QUEUE_CAP);
    let (ws_tx, ws_in) = async_channel::bounded::<WsIn>(WS_INBOX_CAP);
    let front: HttpFront = front::start(ex, cfg.http, jobs_tx, ws_tx).map_err(Fatal::Bind)?;
    let http_addr = front.local_addr();
    log::info!(
        "nostrp2p {VERSION}: owner {} (node id {}), {} ({} MiB store{})",
        cfg.owner.to_npub(),
        cfg.owner.node_id(),
        if cfg.writable { "writable" } else { "read-only" },
        cfg.store_mib,
        if cfg.accept_any_author { ", accepts any author" } else { "" }
    );
    let mut overlay = OverlayRuntime::start(
        ex,
        cfg.owner,
        cfg.listen,
        cfg.boot_peer.as_deref(),
        crate::net::runtime::Modes { delivery: cfg.delivery, directory: cfg.directory },
        &data_dir,
        crate::overlay::Now::new(clock.now(), clock.unix_now()),
    )
    .map_err(Fatal::Overlay)?;
    log::info!("HTTP API listening on http://{http_addr} (point your client here)");

    let mut node = Node {
        store,
        http_cfg: HttpConfig {
            owner: cfg.owner,
            writable: cfg.writable,
            accept_any_author: cfg.accept_any_author,
            version: VERSION,
        },
        clock,
        listen: cfg.listen.to_string(),
        http_addr: http_addr.to_string(),
        data_dir: data_dir.display().to_string(),
        pending: Vec::new(),
        websockets: BTreeMap::new(),
        relay: relay::new_relay(&cfg),
        relay_doc: relay::info_document(&cfg),
        ws_oks: Vec::new(),
        published: Vec::new(),
        misses: Vec::new(),
        req_cache: http::ReqCache::new(),
        peers: 0,
        network: None,
        net_sync_at: None,
        net_sync_delay: net_sync_delay_ms(),
    };

    let mut next_stats = clock.now().saturating_add(STATS_LOG_INTERVAL);
    // The loop's timers live across iterations and are re-armed only when their deadline
    // changes (`Rearm`): with async-io, arming a timer woke its reactor thread, and doing it
    // for three timers on every wake put that thread on the CPU just before a post's
    // websocket push and overlay forward (the own reactor's timers are a map insert).
    let mut stats_timer = Timer::at(clock.origin + Duration::from_millis(next_stats.0));
    let mut sync_timer = Rearm::new();
    let mut overlay_timer = Rearm::new();
    let result = loop {
        sync_timer.set(node.net_sync_at, clock);
        overlay_timer.set(overlay.poll_timeout(), clock);
        let http = future::or(
            future::or(async { jobs.recv().await.map_or(Wake::Signal(0), Wake::Job) }, async {
                ws_in.recv().await.map_or(Wake::Signal(0), Wake::Ws)
            }),
            async { front.accepted().await.map_or(Wake::Signal(0), Wake::Conn) },
        );
        let wake = future::or(
            future::or(
                future::or(http, async { signal_rx.recv().await.map_or(Wake::Signal(0), Wake::Signal) }),
                future::or(
                    async {
                        (&mut stats_timer).await;
                        Wake::Stats
                    },
                    async {
                        (&mut sync_timer.timer).await;
                        Wake::NetSync
                    },
                ),
            ),
            async { Wake::Overlay(overlay.wait(&mut overlay_timer.timer).await) },
        )
        .await;
        match wake {
            Wake::Job(job) => {
                node.handle_job(job);
                // Group commit: take whatever else is already queued, then one fsync for all.
                while let Ok(job) = jobs.try_recv() {
                    node.handle_job(job);
                }
                if let Err(e) = node.flush(&mut overlay).await {
                    break Err(e);
                }
            }
            Wake::Conn(stream) => front.adopt(stream),
            Wake::Ws(msg) => {
                node.handle_ws(msg);
                while let Ok(msg) = ws_in.try_recv() {
                    node.handle_ws(msg);
                }
                if let Err(e) = node.flush(&mut overlay).await {
                    break Err(e);
                }
            }
            Wake::NetSync => {
                sync_timer.fired();
                node.net_sync_at = None;
                if let Err(e) = node.sync_store() {
                    break Err(e);
                }
            }
            Wake::Overlay(w) => {
                if matches!(w, OverlayWake::Timer) {
                    overlay_timer.fired();
                }
                let stored = overlay.handle(w, clock.now(), clock.unix_now(), &mut node.store);
                node.peers = overlay.peers();
                node.network = Some(overlay.network_info());
                node.network_events_stored(stored, &mut overlay);
            }
            Wake::Signal(sig) => {
                log::info!("signal {sig} received: stopping");
                break Ok(());
            }
            Wake::Stats => {
                let s = node.store.stats();
                log::info!(
                    "store: {} events, {} of {} bytes, {} evicted, {} segments ({} bytes on disk)",
                    s.events,
                    s.bytes,
                    s.budget_bytes,
                    s.evicted,
                    s.segments,
                    s.disk_bytes
                );
                next_stats = clock.now().saturating_add(STATS_LOG_INTERVAL);
                stats_timer.set_at(clock.origin + Duration::from_millis(next_stats.0));
            }
        }
    };
    // Never wait on a client: stop accepting and end every connection (their tasks are
    // dropped with the executor), then make the store durable.
    front.stop();
    overlay.persist(clock.unix_now(), true);
    while let Ok(job) = jobs.try_recv() {
        let _ = job.reply.try_send(http::too_busy(&job.req));
    }
    let synced = node.store.sync().map_err(Fatal::Store);
    if synced.is_ok() {
        log::info!("store synced; bye");
    }
    result.and(synced)
}

/// A loop timer kept across iterations: armed for a deadline, re-armed only when the
/// deadline changes or after it fired (a fired `Timer` stays pending until set again).
struct Rearm {
    timer: Timer,
    deadline: Option<Instant>,
}

impl Rearm {
    fn new() -> Rearm {
        Rearm { timer: Timer::never(), deadline: None }
    }

    /// Arms the timer for `deadline` (`None`: never) unless it is already armed for it.
    fn set(&mut self, deadline: Option<Instant>, clock: SystemClock) {
        if deadline == self.deadline {
            return;
        }
        self.deadline = deadline;
        match deadline {
            Some(t) => self.timer.set_at(clock.origin + Duration::from_millis(t.0)),
            None => self.timer = Timer::never(),
        }
    }

    /// The timer fired: the next `set` arms it again even for the same deadline.
    fn fired(&mut self) {
        self.deadline = None;
        self.timer = Timer::never();
    }
}

impl Node {
    fn info(&self) -> NodeInfo {
        NodeInfo {
            uptime: Duration::from_millis(self.clock.now().0),
            listen: Some(self.listen.clone()),
            http_listen: Some(self.http_addr.clone()),
            data_dir: Some(self.data_dir.clone()),
            peers: Some(self.peers),
            network: self.network,
        }
    }

    fn handle_job(&mut self, job: HttpJob) {
        let now = self.clock.unix_now();
        let info = self.info();
        if let Some(ctx) = http::relay_info(&job.req) {
            let _ = job.reply.try_send(ctx.render(self.relay_doc.clone().into_bytes()));
            return;
        }
        match http::route(&job.req, &self.store, &self.http_cfg, &info, now, &mut self.req_cache) {
            Routed::Reply(resp) => {
                let _ = job.reply.try_send(resp);
            }
            Routed::ReplyAndFetch { reply, miss } => {
                let _ = job.reply.try_send(reply);
                self.misses.push(miss);
            }
            Routed::Publish { event, done } => {
                let id = event.id;
                let copy = event.clone();
                match self.store.insert(event) {
                    Ok(outcome) => {
                        if matches!(outcome, crate::store::Inserted::New { .. }) {
                            self.published.push(copy);
                        }
                        log::debug!("publish {id}: {outcome:?}");
                        self.pending.push((done, job.reply));
                    }
                    Err(e) => {
                        log::error!("could not store published event {id}: {e}");
                        let _ = job.reply.try_send(http::publish_done(done, Err(store_failure(&e))));
                    }
                }
            }
        }
    }

    /// After a batch of HTTP jobs or websocket messages. Forward first: the application
    /// routes the owner's new events (as `/publish` does; NIP-70/40 events stay home) and asks
    /// the network for misses, and the loop yields once so that the peers' writer tasks put
    /// those frames on the wire; then one fsync for every pending publish (group commit) and
    /// their answers, so nothing is acknowledged before it is durable; then every newly
    /// stored event goes to the live subscriptions.
    ///
    /// # Errors
    /// A failed fsync, as in [`Node::commit`].
    async fn flush(&mut self, overlay: &mut OverlayRuntime<'_>) -> Result<(), Fatal> {
        let (now, unix) = (self.clock.now(), self.clock.unix_now());
        let mut stored = 0;
        let published = std::mem::take(&mut self.published);
        let mut forwarded = false;
        for ev in &published {
            if self.may_leave(ev.as_event()) {
                stored += overlay.publish(ev.clone(), now, unix, &mut self.store);
                forwarded = true;
            }
        }
        for miss in std::mem::take(&mut self.misses) {
            stored += overlay.local_miss(miss, now, unix, &mut self.store);
            forwarded = true;
        }
        if forwarded && !(self.pending.is_empty() && self.ws_oks.is_empty()) {
            // Let the writer tasks (same executor) send before this task blocks in fsync.
            future::yield_now().await;
        }
        self.commit()?;
        for ev in &published {
            self.fan_out(ev.as_event());
        }
        self.network_events_stored(stored, overlay);
        Ok(())
    }

    /// Events from the network: live subscriptions get them now; one fsync for all of them
    /// follows within [`NET_SYNC_DELAY`] (not acknowledged to anyone, so a power cut loses at
    /// most that window, which catch-up fetches again).
    fn network_events_stored(&mut self, stored: usize, overlay: &mut OverlayRuntime<'_>) {
        if stored > 0 && self.net_sync_at.is_none() {
            self.net_sync_at = Some(self.clock.now().plus_ms(self.net_sync_delay));
        }
        overlay.drain_stored(|ev| self.fan_out(ev));
    }

    /// Fsyncs everything inserted so far (the deferred sync of network events).
    ///
    /// # Errors
    /// A failed fsync, as in [`Node::commit`].
    fn sync_store(&mut self) -> Result<(), Fatal> {
        test_disk_gate();
        self.store.sync().map_err(|e| {
            log::error!("fsync of the event log failed: {e}");
            Fatal::Store(e)
        })
    }

    /// Fsyncs once for every pending publish, then answers them all.
    ///
    /// # Errors
    /// A failed fsync: what reached the disk is unknown (the store refuses further writes),
    /// so the pending publishes are answered with an error (the client did not get a 200, so
    /// nothing it believes stored is lost) and the server stops; its service manager
    /// restarts it and recovery reads back what the disk really holds.
    fn commit(&mut self) -> Result<(), Fatal> {
        if self.pending.is_empty() && self.ws_oks.is_empty() {
            return Ok(());
        }
        test_disk_gate();
        // This fsync covers the network events inserted so far too.
        self.net_sync_at = None;
        let synced = self.store.sync();
        let outcome = synced.as_ref().map(|_| ()).map_err(store_failure);
        for (done, reply) in self.pending.drain(..) {
            let _ = reply.try_send(http::publish_done(done, outcome.clone()));
        }
        self.answer_ws_oks(synced.is_ok());
        synced.map_err(|e| {
            log::error!("fsync of the event log failed: {e}");
            Fatal::Store(e)
        })
    }
}

/// [`NET_SYNC_DELAY`] in ms, or `NOSTRP2P_TEST_NET_SYNC_MS` (tests only).
fn net_sync_delay_ms() -> u64 {
    std::env::var("NOSTRP2P_TEST_NET_SYNC_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::try_from(NET_SYNC_DELAY.as_millis()).unwrap_or(u64::MAX))
}

/// Tests only: a slow disk. While the file named by `NOSTRP2P_TEST_SYNC_GATE` exists, every
/// fsync of the event log waits (blocking the loop, as a slow SD card does).
fn test_disk_gate() {
    let Some(gate) = std::env::var_os("NOSTRP2P_TEST_SYNC_GATE") else { return };
    while std::path::Path::new(&gate).exists() {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// How a storage error is told to the client: 507 when the disk is full, else 503.
fn store_failure(e: &StoreError) -> http::StoreFailure {
    if e.is_no_space() {
        http::StoreFailure::NoSpace(e.to_string())
    } else {
        http::StoreFailure::Io(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::relay::queue_ws;
    use super::*;
    use crate::limits::WS_OUTBOX_CAP;

    /// A fired timer stays pending until set again: re-arming must not be skipped when the
    /// next deadline equals the one that fired (the overlay may ask again for the same one).
    #[test]
    fn a_loop_timer_fires_again_for_the_same_deadline_after_firing() {
        let clock = SystemClock::start();
        let mut t = Rearm::new();
        assert!(future::block_on(future::poll_once(&mut t.timer)).is_none(), "unset: never fires");
        t.set(Some(Instant(0)), clock);
        assert!(future::block_on(future::poll_once(&mut t.timer)).is_some(), "a due deadline fires");
        t.fired();
        t.set(Some(Instant(0)), clock);
        assert!(future::block_on(future::poll_once(&mut t.timer)).is_some(), "re-armed after firing");
        t.set(None, clock);
        assert!(future::block_on(future::poll_once(&mut t.timer)).is_none(), "disarmed");
    }

    #[test]
    fn a_full_websocket_queue_closes_that_client_without_waiting() {
        let mut websockets = BTreeMap::new();
        let (slow, slow_rx) = async_channel::bounded(WS_OUTBOX_CAP);
        let (other, other_rx) = async_channel::bounded(WS_OUTBOX_CAP);
        websockets.insert(WsConnId(1), slow);
        websockets.insert(WsConnId(2), other);
        for i in 0..WS_OUTBOX_CAP {
            assert!(queue_ws(&mut websockets, WsConnId(1), format!("m{i}")));
        }
        assert!(!slow_rx.is_closed());
        assert!(!queue_ws(&mut websockets, WsConnId(1), "one too many".into()));
        assert!(slow_rx.is_closed(), "the client's task sees its queue closed and ends");
        assert!(!websockets.contains_key(&WsConnId(1)));
        // Other clients are untouched; a client whose task ended is forgotten on next use.
        assert!(queue_ws(&mut websockets, WsConnId(2), "hi".into()));
        assert_eq!(other_rx.try_recv(), Ok(WsOut::Text("hi".into())));
        drop(other_rx);
        assert!(!queue_ws(&mut websockets, WsConnId(2), "gone".into()));
        assert!(websockets.is_empty());
    }
}
