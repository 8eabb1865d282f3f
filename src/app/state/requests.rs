//! The requesting side of catch-up and fetches: what a node asks for when it (re)joins or
//! when its client misses something, and what it accepts back (only what it asked for).

use super::catchup::Catchup;
use super::{App, Pending, SyncSession};
use crate::app::classify::is_broadcast_class;
use crate::app::msg::AppMsg;
use crate::app::ring::support_servers;
use crate::app::{CatchupPlan, Context, FetchTarget};
use crate::event::Event;
use crate::keys::{NodeId, PublicKey};
use crate::limits::{SYNC_MARGIN, SYNC_MAX_LOOKBACK, SYNC_MAX_PAGES, SYNC_PAGE_EVENTS, SYNC_PEERS, SYNC_TIMEOUT};
use crate::time::UnixTime;

impl App {
    pub(super) fn on_joined(&mut self, now: UnixTime, ctx: &dyn Context) {
        self.resend.all_due(now);
        let me = ctx.me();
        for s in support_servers(ctx, me) {
            self.send(s, &AppMsg::MailReq, None, now);
        }
        let floor = UnixTime(now.0.saturating_sub(SYNC_MAX_LOOKBACK.as_secs()));
        let since = UnixTime(self.last_heard.0.saturating_sub(SYNC_MARGIN.as_secs())).max(floor);
        if ctx.catchup_plan() == CatchupPlan::Peers {
            self.catchup = None;
            return self.sync_from_peers(since, now, ctx);
        }
        // Follow mode (or not known yet): ask the followees' trees (`catchup.rs`).
        self.catchup = Some(Catchup::new(since, now));
        self.catchup_tick(now, ctx);
    }

    /// The broadcast-mode catch-up: everything since `since` from [`SYNC_PEERS`] random
    /// neighbours.
    pub(super) fn sync_from_peers(&mut self, since: UnixTime, now: UnixTime, ctx: &dyn Context) {
        let me = ctx.me();
        let peers = ctx.neighbours();
        if peers.is_empty() {
            return;
        }
        let start = (self.rng.next_u64() % peers.len() as u64) as usize;
        let chosen: Vec<NodeId> =
            (0..peers.len()).map(|i| peers[(start + i) % peers.len()]).filter(|p| *p != me).take(SYNC_PEERS).collect();
        for peer in chosen {
            let req = AppMsg::SyncReq { since: since.0, until: now.0, limit: SYNC_PAGE_EVENTS as u32 };
            if self.send(peer, &req, Some(Pending::Sync { peer }), now) {
                let deadline = now.saturating_add(SYNC_TIMEOUT);
                self.syncs.insert(peer, SyncSession { since, until: now, started: now, pages: 1, deadline });
            }
        }
    }

    pub(super) fn on_sync_resp(&mut self, src: NodeId, events: Vec<Event>, more: Option<UnixTime>, now: UnixTime) {
        let Some(mut s) = self.syncs.remove(&src) else {
            self.stats.refused_events += events.len() as u64;
            return;
        };
        for ev in events {
            match ev.verify(now) {
                Ok(v) if is_broadcast_class(&v) && v.created_at >= s.since && v.created_at <= s.until => self.store(v),
                Ok(_) => self.stats.refused_events += 1,
                Err(_) => self.stats.invalid_events += 1,
            }
        }
        // The window up to the session's start is now covered.
        self.note_heard(s.started);
        if let Some(next) = more.filter(|t| *t < s.until && *t >= s.since && s.pages < SYNC_MAX_PAGES) {
            let req = AppMsg::SyncReq { since: s.since.0, until: next.0, limit: SYNC_PAGE_EVENTS as u32 };
            if self.send(src, &req, Some(Pending::Sync { peer: src }), now) {
                s.until = next;
                s.pages += 1;
                s.deadline = now.saturating_add(SYNC_TIMEOUT);
                self.syncs.insert(src, s);
            }
        }
    }

    pub(super) fn on_local_miss(
        &mut self,
        target: FetchTarget,
        author: Option<PublicKey>,
        now: UnixTime,
        ctx: &dyn Context,
    ) {
        let author = match target {
            FetchTarget::Profile(pk) | FetchTarget::FollowList(pk) => Some(pk),
            FetchTarget::Post(_) => author,
        };
        let me = ctx.me();
        if author.is_some_and(|pk| pk.node_id() == me) {
            return;
        }
        if !self.fetches.try_ask(target, now) {
            self.stats.fetch_limited += 1;
            return;
        }
        let req = AppMsg::FetchReq(target);
        let Some(pk) = author else {
            for peer in ctx.neighbours().into_iter().filter(|p| *p != me).take(SYNC_PEERS) {
                self.send(peer, &req, Some(Pending::Fetch { fallback: Vec::new(), target }), now);
            }
            return;
        };
        let node = pk.node_id();
        // Only the owner's server has a follow list; anyone may have a profile or a post.
        let fallback = match target {
            FetchTarget::FollowList(_) => Vec::new(),
            _ => support_servers(ctx, node).into_iter().filter(|s| *s != me).collect(),
        };
        if ctx.is_reachable(node) || fallback.is_empty() {
            self.send(node, &req, Some(Pending::Fetch { fallback, target }), now);
        } else {
            for s in fallback {
                self.send(s, &req, Some(Pending::Fetch { fallback: Vec::new(), target }), now);
            }
        }
    }
}
