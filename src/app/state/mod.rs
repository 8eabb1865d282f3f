//! [`App`]: the state machine of the application layer (see the module doc of `app`).
//!
//! Owns the resend queue, the mailbox, the fetch table, the unicasts awaiting their outcome,
//! the catch-up sessions and cursor, and a bounded outbox. Every handler ends with `pump`,
//! which sends what is due while fewer than [`APP_INFLIGHT_CAP`] unicasts are in flight.

use std::collections::{BTreeMap, VecDeque};

mod catchup;
mod requests;
mod snapshot;

use log::{debug, info, warn};

use super::answer::{answer_author, answer_fetch, answer_sync, answers, FetchTable};
use super::classify::{accepts_unicast, classify, is_broadcast_class, quoted_author, Route};
use super::limit::AnswerLimiter;
use super::mailbox::{Deposited, Mailbox};
use super::msg::{self, AppMsg, Bytes, FetchTarget};
use super::resend::{ResendKey, ResendQueue};
use super::ring::{may_support, support_servers};
use super::seal::{self, SealRandom};
use super::{AppConfig, Context, Entropy, Input, Output};
use crate::event::{Event, VerifiedEvent};
use crate::keys::{NodeId, PublicKey, SecretKey};
use crate::limits::{APP_INFLIGHT_CAP, APP_INFLIGHT_TIMEOUT, APP_OUTBOX_CAP, MAX_APP_MSG_BYTES, SYNC_CURSOR_STEP};
use crate::query::EventQuery;
use crate::time::UnixTime;

/// A broadcast created this recently tells that its author's node is online.
const FRESH_BROADCAST_SECS: u64 = 600;

/// Counters for logs and `/status` (monotonic).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppStats {
    /// Unicast payloads that did not decode.
    pub malformed: u64,
    /// Events from peers whose id, signature or time failed.
    pub invalid_events: u64,
    /// Events received that this node must not keep (wrong class, not a recipient, unasked).
    pub refused_events: u64,
    /// Events handed to the store from other nodes.
    pub stored: u64,
    /// Resend entries dropped after [`crate::limits::OFFLINE_KEEP`] or for room.
    pub resend_dropped: u64,
    /// Sealed envelopes kept for other nodes.
    pub deposits_kept: u64,
    /// Deposits refused (unknown destination, too large).
    pub deposits_refused: u64,
    /// Envelopes evicted from the mailbox (bounds or age).
    pub mail_evicted: u64,
    /// Envelopes for this node opened.
    pub mail_opened: u64,
    /// Envelopes for this node that did not open or held no valid event.
    pub mail_bad: u64,
    /// Fetches not sent because of the rate limit.
    pub fetch_limited: u64,
    /// Outputs or tracked sends dropped because a bound was reached.
    pub dropped_sends: u64,
    /// Requests not answered because their source spent its answer budget.
    pub answers_limited: u64,
    /// Events received in follow-mode catch-up answers from a followee's tree parent.
    pub catchup_from_tree: u64,
    /// Events received in follow-mode catch-up answers from a followee's own server.
    pub catchup_from_author: u64,
    /// Followed authors whose catch-up got no answer (unreachable, failed, timed out).
    pub catchup_unanswered: u64,
}

#[derive(Clone, Debug)]
enum Pending {
    Resend(ResendKey),
    Deposit { key: ResendKey, supporter: NodeId },
    Mail,
    Sync { peer: NodeId },
    Fetch { fallback: Vec<NodeId>, target: FetchTarget },
    Catchup { author: PublicKey },
}

#[derive(Clone, Debug)]
struct InFlight {
    what: Pending,
    sent: UnixTime,
}

#[derive(Clone, Copy, Debug)]
struct SyncSession {
    since: UnixTime,
    until: UnixTime,
    started: UnixTime,
    pages: u32,
    deadline: UnixTime,
}

/// The application state machine. See the module doc of `app`.
pub struct App {
    owner: PublicKey,
    node_secret: SecretKey,
    rng: Entropy,
    next_msg_id: u64,
    resend: ResendQueue,
    mailbox: Mailbox,
    fetches: FetchTable,
    inflight: BTreeMap<u64, InFlight>,
    syncs: BTreeMap<NodeId, SyncSession>,
    /// The follow-mode catch-up in progress, if any.
    catchup: Option<catchup::Catchup>,
    answers: AnswerLimiter,
    last_heard: UnixTime,
    saved_heard: UnixTime,
    outbox: VecDeque<Output>,
    outbox_dirty: bool,
    mailbox_dirty: bool,
    stats: AppStats,
}

impl App {
    /// A fresh application state (restore snapshots with [`App::restore_outbox`] and
    /// [`App::restore_mailbox`] before the first input).
    pub fn new(cfg: AppConfig) -> App {
        let mut rng = Entropy::from_seed(cfg.seed);
        let next_msg_id = rng.next_u64();
        App {
            owner: cfg.owner,
            node_secret: cfg.node_secret,
            rng,
            next_msg_id,
            resend: ResendQueue::default(),
            mailbox: Mailbox::default(),
            fetches: FetchTable::default(),
            inflight: BTreeMap::new(),
            syncs: BTreeMap::new(),
            catchup: None,
            answers: AnswerLimiter::default(),
            last_heard: UnixTime(0),
            saved_heard: UnixTime(0),
            outbox: VecDeque::new(),
            outbox_dirty: false,
            mailbox_dirty: false,
            stats: AppStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> &AppStats {
        &self.stats
    }
    /// The resend queue (read-only, for `/status` and tests).
    pub fn resend(&self) -> &ResendQueue {
        &self.resend
    }
    /// The mailbox kept for other nodes (read-only).
    pub fn mailbox(&self) -> &Mailbox {
        &self.mailbox
    }
    /// When this node last heard a broadcast (the catch-up cursor).
    pub fn last_heard(&self) -> UnixTime {
        self.last_heard
    }

    /// Handles one input. Never fails: bad peer input is counted and dropped.
    pub fn handle_input(&mut self, input: Input, now: UnixTime, ctx: &dyn Context, store: &dyn EventQuery) {
        match input {
            Input::Published(ev) => self.on_published(ev, now, ctx),
            Input::Broadcast(ev) => self.on_broadcast(ev, now),
            Input::Unicast { src, payload } => {
                self.node_up(src, now);
                match msg::decode(&payload) {
                    Ok(m) => self.on_msg(src, m, now, ctx, store),
                    Err(e) => {
                        self.stats.malformed += 1;
                        debug!("app: dropped a message from {src}: {e}");
                    }
                }
            }
            Input::UnicastDone { msg_id, ok, .. } => {
                if let Some(f) = self.inflight.remove(&msg_id) {
                    self.on_done(f.what, ok, now, ctx, store);
                }
            }
            Input::NodeUp(node) => self.node_up(node, now),
            Input::Joined => self.on_joined(now, ctx),
            Input::LocalMiss { target, author } => self.on_local_miss(target, author, now, ctx),
        }
        self.pump(now, ctx, store);
    }

    /// Handles the passage of time (expiries, retries). Harmless when called early.
    pub fn handle_timeout(&mut self, now: UnixTime, ctx: &dyn Context, store: &dyn EventQuery) {
        for (dst, id) in self.resend.expire(now) {
            self.stats.resend_dropped += 1;
            self.outbox_dirty = true;
            warn!("app: gave up delivering {id} to node {dst} after a week");
        }
        let expired = self.mailbox.expire(now);
        if expired > 0 {
            self.stats.mail_evicted += expired as u64;
            self.mailbox_dirty = true;
            info!("app: {expired} sealed envelopes expired unclaimed");
        }
        let stale: Vec<u64> = self
            .inflight
            .iter()
            .filter(|(_, f)| f.sent.saturating_add(APP_INFLIGHT_TIMEOUT) <= now)
            .map(|(k, _)| *k)
            .collect();
        for id in stale {
            if let Some(f) = self.inflight.remove(&id) {
                self.on_done(f.what, false, now, ctx, store);
            }
        }
        self.syncs.retain(|_, s| s.deadline > now);
        if self.catchup.as_ref().is_some_and(|c| c.next_tick() <= now) {
            self.catchup_tick(now, ctx);
        }
        self.pump(now, ctx, store);
    }

    /// The next output to carry out.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outbox.pop_front()
    }

    /// When to call [`App::handle_timeout`] next (wall clock; the driver sleeps for
    /// `deadline − now` seconds, at least zero).
    pub fn poll_timeout(&self) -> Option<UnixTime> {
        let mut next = self.inflight.values().map(|f| f.sent.saturating_add(APP_INFLIGHT_TIMEOUT)).min();
        next = min_opt(next, self.syncs.values().map(|s| s.deadline).min());
        next = min_opt(next, self.catchup.as_ref().map(catchup::Catchup::next_tick));
        if self.inflight.len() < APP_INFLIGHT_CAP {
            next = min_opt(next, self.resend.next_deadline());
            next = min_opt(next, self.mailbox.next_deadline());
        }
        next
    }

    fn emit(&mut self, out: Output) {
        if self.outbox.len() >= APP_OUTBOX_CAP {
            self.stats.dropped_sends += 1;
            return;
        }
        self.outbox.push_back(out);
    }

    /// Encodes and queues a unicast; `track` awaits its outcome. False if not sent.
    fn send(&mut self, dst: NodeId, m: &AppMsg, track: Option<Pending>, now: UnixTime) -> bool {
        let payload = msg::encode(m);
        if payload.is_empty() || payload.len() > MAX_APP_MSG_BYTES {
            self.stats.dropped_sends += 1;
            return false;
        }
        if track.is_some() && self.inflight.len() >= APP_INFLIGHT_CAP {
            self.stats.dropped_sends += 1;
            return false;
        }
        self.next_msg_id = self.next_msg_id.wrapping_add(1);
        let msg_id = self.next_msg_id;
        if let Some(what) = track {
            self.inflight.insert(msg_id, InFlight { what, sent: now });
        }
        self.emit(Output::Unicast { dst, msg_id, payload });
        true
    }

    fn store(&mut self, ev: VerifiedEvent) {
        self.stats.stored += 1;
        self.emit(Output::Store(ev));
    }

    fn note_heard(&mut self, now: UnixTime) {
        if now > self.last_heard {
            self.last_heard = now;
            if self.last_heard >= self.saved_heard.saturating_add(SYNC_CURSOR_STEP) {
                self.outbox_dirty = true;
            }
        }
    }

    fn node_up(&mut self, node: NodeId, now: UnixTime) {
        self.resend.node_up(node, now);
        self.mailbox.node_up(node, now);
    }

    fn on_published(&mut self, ev: VerifiedEvent, now: UnixTime, ctx: &dyn Context) {
        match classify(&ev) {
            Route::Broadcast => {
                // Under follower multicast a repost reaches the reposter's followers only:
                // the reposted author's node gets it like a reply (resend queue, sealed mail
                // when offline), once.
                let quoted = quoted_author(&ev).map(|k| k.node_id()).filter(|n| *n != ctx.me());
                if let Some(node) = quoted.filter(|_| ctx.follower_multicast()) {
                    if let Some((d, id)) = self.resend.insert((node, ev.id), now) {
                        self.stats.resend_dropped += 1;
                        warn!("app: resend queue full; dropped {id} for node {d}");
                    }
                    self.outbox_dirty = true;
                }
                self.emit(Output::Broadcast(ev));
            }
            Route::Unicast(to) => {
                let me = ctx.me();
                let mut nodes: Vec<NodeId> = Vec::new();
                for node in to.iter().map(PublicKey::node_id).filter(|n| *n != me) {
                    if !nodes.contains(&node) {
                        nodes.push(node);
                    }
                }
                for node in nodes {
                    if let Some((d, id)) = self.resend.insert((node, ev.id), now) {
                        self.stats.resend_dropped += 1;
                        warn!("app: resend queue full; dropped {id} for node {d}");
                    }
                }
                self.outbox_dirty = true;
            }
            Route::Local => {}
        }
    }

    fn on_broadcast(&mut self, ev: VerifiedEvent, now: UnixTime) {
        if !is_broadcast_class(&ev) {
            self.stats.refused_events += 1;
            debug!("app: a broadcast {} of kind {} is not broadcast-class; not kept", ev.id, ev.kind);
            return;
        }
        self.note_heard(now);
        if ev.created_at.saturating_add(std::time::Duration::from_secs(FRESH_BROADCAST_SECS)) >= now {
            self.node_up(ev.pubkey.node_id(), now);
        }
        self.store(ev);
    }

    fn on_msg(&mut self, src: NodeId, m: AppMsg, now: UnixTime, ctx: &dyn Context, store: &dyn EventQuery) {
        match m {
            AppMsg::Event(ev) => self.on_direct_event(ev, now),
            AppMsg::Deposit { dst, sealed } => self.on_deposit(src, NodeId(dst), sealed.0, now, ctx),
            AppMsg::MailReq => self.mailbox.node_up(src, now),
            AppMsg::Mail { envelopes, .. } => {
                let ids: Vec<u64> = envelopes.iter().map(|e| e.id).collect();
                for env in envelopes {
                    self.open_mail(&env.sealed.0, now);
                }
                self.send(src, &AppMsg::MailAck { ids }, None, now);
            }
            AppMsg::MailAck { ids } => {
                if self.mailbox.ack(src, &ids, now) > 0 {
                    self.mailbox_dirty = true;
                }
            }
            AppMsg::SyncReq { .. } | AppMsg::FetchReq(_) | AppMsg::AuthorSyncReq { .. }
                if !self.answers.allow(src, now) =>
            {
                self.stats.answers_limited += 1;
            }
            AppMsg::SyncReq { since, until, limit } => {
                let (events, more) = answer_sync(store, UnixTime(since), UnixTime(until), limit);
                let resp = AppMsg::SyncResp { events, more: more.map(|t| t.0) };
                self.send(src, &resp, None, now);
            }
            AppMsg::SyncResp { events, more } => self.on_sync_resp(src, events, more.map(UnixTime), now),
            AppMsg::AuthorSyncReq { author, since, until, limit } => {
                let events = answer_author(store, &author, UnixTime(since), UnixTime(until), limit);
                self.send(src, &AppMsg::AuthorSyncResp { author, events }, None, now);
            }
            AppMsg::AuthorSyncResp { author, events } => self.on_author_sync_resp(src, author, events, now, ctx),
            AppMsg::FetchReq(target) => {
                let events: Vec<Event> = answer_fetch(store, &self.owner, &target).into_iter().collect();
                self.send(src, &AppMsg::FetchResp { target, events }, None, now);
            }
            AppMsg::FetchResp { target, events } => {
                if !self.fetches.expects(&target, now) {
                    self.stats.refused_events += events.len() as u64;
                    return;
                }
                for ev in events {
                    match ev.verify(now) {
                        Ok(v) if answers(&target, &v) => self.store(v),
                        Ok(_) => self.stats.refused_events += 1,
                        Err(_) => self.stats.invalid_events += 1,
                    }
                }
            }
        }
    }

    fn on_direct_event(&mut self, ev: Event, now: UnixTime) {
        match ev.verify(now) {
            Ok(v) if accepts_unicast(&v, &self.owner) => self.store(v),
            Ok(v) => {
                self.stats.refused_events += 1;
                debug!("app: unicast event {} does not name this node's owner; not kept", v.id);
            }
            Err(e) => {
                self.stats.invalid_events += 1;
                debug!("app: invalid unicast event: {e}");
            }
        }
    }

    fn open_mail(&mut self, sealed: &[u8], now: UnixTime) {
        let event = seal::open(&self.node_secret, sealed)
            .ok()
            .and_then(|plain| crate::event::packed::decode(&plain).ok())
            .and_then(|ev| ev.verify(now).ok());
        match event {
            Some(v) if accepts_unicast(&v, &self.owner) => {
                self.stats.mail_opened += 1;
                self.store(v);
            }
            Some(_) => self.stats.refused_events += 1,
            None => self.stats.mail_bad += 1,
        }
    }

    fn on_deposit(&mut self, src: NodeId, dst: NodeId, sealed: Vec<u8>, now: UnixTime, ctx: &dyn Context) {
        if dst == ctx.me() {
            // Someone holds this node for a support server of itself: it is simply our mail.
            return self.open_mail(&sealed, now);
        }
        if ctx.node_key(dst).is_none() || !may_support(ctx, ctx.me(), dst) {
            self.stats.deposits_refused += 1;
            debug!("app: deposit from {src} for node {dst} refused (unknown, or not one of its support servers)");
            return;
        }
        match self.mailbox.deposit(dst, sealed, now) {
            Deposited::Kept { evicted } => {
                self.stats.deposits_kept += 1;
                self.stats.mail_evicted += evicted as u64;
                self.mailbox_dirty = true;
            }
            Deposited::TooLarge => self.stats.deposits_refused += 1,
        }
    }

    fn on_done(&mut self, what: Pending, ok: bool, now: UnixTime, ctx: &dyn Context, store: &dyn EventQuery) {
        match what {
            Pending::Resend(key) if ok => {
                self.resend.delivered(&key);
                self.outbox_dirty = true;
            }
            Pending::Resend(key) => {
                self.resend.failed(&key, now);
                self.outbox_dirty = true;
                self.deposit_copies(key, now, ctx, store);
            }
            Pending::Deposit { key, supporter } if ok => {
                self.resend.deposited(&key, supporter);
                self.outbox_dirty = true;
            }
            Pending::Deposit { .. } | Pending::Mail => {}
            Pending::Sync { peer } if !ok => {
                self.syncs.remove(&peer);
            }
            Pending::Sync { .. } => {}
            Pending::Fetch { fallback, target } if !ok => {
                for node in fallback {
                    let track = Pending::Fetch { fallback: Vec::new(), target };
                    self.send(node, &AppMsg::FetchReq(target), Some(track), now);
                }
            }
            Pending::Fetch { .. } => {}
            Pending::Catchup { author } if !ok => self.on_catchup_failed(author, now, ctx),
            Pending::Catchup { .. } => {}
        }
    }

    /// After a failed direct delivery: seal the event to the destination's node key and
    /// deposit it at each of its support servers that does not hold a copy yet.
    fn deposit_copies(&mut self, key: ResendKey, now: UnixTime, ctx: &dyn Context, store: &dyn EventQuery) {
        let (dst, id) = key;
        let held = self.resend.get(&key).map(|e| e.deposited.clone()).unwrap_or_default();
        let targets: Vec<NodeId> = support_servers(ctx, dst).into_iter().filter(|s| !held.contains(s)).collect();
        if targets.is_empty() {
            return;
        }
        let (Some(node_key), Some(ev)) = (ctx.node_key(dst), store.get(&id)) else { return };
        let plain = crate::event::packed::encode(&ev);
        let Some(sealed) = self.seal_to(&node_key, &plain) else { return };
        for s in targets {
            if s == ctx.me() {
                if let Deposited::Kept { .. } = self.mailbox.deposit(dst, sealed.clone(), now) {
                    self.resend.deposited(&key, s);
                    self.mailbox_dirty = true;
                }
                continue;
            }
            let m = AppMsg::Deposit { dst: dst.0, sealed: Bytes(sealed.clone()) };
            self.send(s, &m, Some(Pending::Deposit { key, supporter: s }), now);
        }
    }

    fn seal_to(&mut self, key: &PublicKey, plain: &[u8]) -> Option<Vec<u8>> {
        // A random 32-byte string is an invalid scalar with probability ≈ 2⁻¹²⁸; retry anyway.
        for _ in 0..4 {
            let nonce_src = self.rng.bytes32();
            let mut nonce = [0u8; 12];
            nonce.copy_from_slice(&nonce_src[..12]);
            let rnd = SealRandom { ephemeral: self.rng.bytes32(), nonce };
            match seal::seal(key, plain, &rnd) {
                Ok(s) => return Some(s),
                Err(seal::SealError::BadRandom) => continue,
                Err(_) => return None,
            }
        }
        None
    }

    /// Sends what is due while fewer than [`APP_INFLIGHT_CAP`] unicasts are in flight.
    fn pump(&mut self, now: UnixTime, _ctx: &dyn Context, store: &dyn EventQuery) {
        let room = APP_INFLIGHT_CAP.saturating_sub(self.inflight.len());
        for key in self.resend.due(now, room) {
            let Some(ev) = store.get(&key.1) else {
                // Evicted from the store (should not happen: the owner's events are pinned).
                self.resend.delivered(&key);
                self.stats.resend_dropped += 1;
                self.outbox_dirty = true;
                continue;
            };
            let m = AppMsg::Event(ev.into_owned());
            if self.send(key.0, &m, Some(Pending::Resend(key)), now) {
                self.resend.mark_sent(&key);
            } else {
                self.resend.failed(&key, now);
            }
        }
        for dst in self.mailbox.due(now) {
            if self.inflight.len() >= APP_INFLIGHT_CAP {
                break;
            }
            let (envelopes, more) = self.mailbox.batch(dst);
            if !envelopes.is_empty() {
                self.send(dst, &AppMsg::Mail { envelopes, more }, Some(Pending::Mail), now);
            }
            self.mailbox.pushed(dst, now);
        }
    }
}

fn min_opt(a: Option<UnixTime>, b: Option<UnixTime>) -> Option<UnixTime> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}
