//! Follow-mode catch-up (issue 10, docs/scaling.md "Catch-up by followees"): a core that runs
//! the per-author trees holds only its followees' posts, and so do its neighbours (each for
//! its own followees), so after a (re)join it asks each followed author's *tree* for what it
//! missed instead of two random neighbours: the author's tree parent (a follower home stores
//! the author; answered from its store), else — the parent had nothing, failed, was already
//! asked [`CATCHUP_PER_PEER`] times, or the tree did not attach within [`CATCHUP_TREE_WAIT`] —
//! the author's own server, which stores everything its owner posts.
//!
//! Bounds: ≤ [`CATCHUP_AUTHORS`] authors per (re)join, ≤ [`CATCHUP_SENDS_PER_TICK`] requests
//! per second, ≤ 2 requests per author, the whole catch-up ends after [`CATCHUP_TIMEOUT`].
//! Hostile answers: only from the node an author's request went to, only events that verify,
//! are broadcast-class, by that author and inside the window; everything else is counted in
//! `refused_events` / `invalid_events` and dropped. Answers are rate-limited per source by the
//! answering side like `SyncReq` (`AnswerLimiter`).

use std::collections::BTreeMap;

use super::{App, Pending};
use crate::app::classify::is_broadcast_class;
use crate::app::msg::AppMsg;
use crate::app::{CatchupPlan, Context, TreeSource};
use crate::event::Event;
use crate::keys::{NodeId, PublicKey};
use crate::limits::{
    CATCHUP_AUTHORS, CATCHUP_PAGE_EVENTS, CATCHUP_PER_PEER, CATCHUP_SENDS_PER_TICK, CATCHUP_TIMEOUT, CATCHUP_TREE_WAIT,
};
use crate::time::UnixTime;

/// One followed author's catch-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Waiting for the author's tree to attach (until the catch-up's `tree_deadline`).
    WaitTree,
    /// Asked this tree parent.
    AskedParent(NodeId),
    /// Asked the author's own server.
    AskedAuthor(NodeId),
}

/// A follow-mode catch-up in progress (one per (re)join).
#[derive(Clone, Debug)]
pub(super) struct Catchup {
    since: UnixTime,
    until: UnixTime,
    /// Past it the catch-up ends.
    deadline: UnixTime,
    /// Past it an author whose tree has not attached is asked of its own server.
    tree_deadline: UnixTime,
    /// `None` until the plan is known (the node's role may still be being decided).
    authors: Option<BTreeMap<PublicKey, Step>>,
    /// Requests sent to each peer (≤ [`CATCHUP_PER_PEER`] each; ≤ 2 × `CATCHUP_AUTHORS` keys).
    per_peer: BTreeMap<NodeId, u32>,
    /// The next tick.
    next: UnixTime,
}

impl Catchup {
    pub(super) fn new(since: UnixTime, now: UnixTime) -> Catchup {
        Catchup {
            since,
            until: now,
            deadline: now.saturating_add(CATCHUP_TIMEOUT),
            tree_deadline: now.saturating_add(CATCHUP_TREE_WAIT),
            authors: None,
            per_peer: BTreeMap::new(),
            next: now,
        }
    }

    /// When the next tick is due.
    pub(super) fn next_tick(&self) -> UnixTime {
        self.next
    }

    /// Authors still being caught up (tests).
    pub(super) fn pending(&self) -> usize {
        self.authors.as_ref().map_or(0, BTreeMap::len)
    }
}

impl App {
    /// Paces the follow-mode catch-up: learns the plan, asks the trees that attached, falls
    /// back to the authors' own servers, ends it when done or timed out.
    pub(super) fn catchup_tick(&mut self, now: UnixTime, ctx: &dyn Context) {
        let Some(mut c) = self.catchup.take() else { return };
        if now >= c.deadline {
            self.stats.catchup_unanswered += c.pending() as u64;
            return;
        }
        if c.authors.is_none() {
            match ctx.catchup_plan() {
                CatchupPlan::Trees(list) => {
                    let me = ctx.me();
                    let mut authors: Vec<PublicKey> = list.into_iter().filter(|a| a.node_id() != me).collect();
                    authors.sort();
                    authors.dedup();
                    authors.truncate(CATCHUP_AUTHORS);
                    c.authors = Some(authors.into_iter().map(|a| (a, Step::WaitTree)).collect());
                }
                CatchupPlan::Undecided if now < c.tree_deadline => {}
                // A leaf or broadcast delivery after all (or still undecided): the old way.
                CatchupPlan::Undecided | CatchupPlan::Peers => return self.sync_from_peers(c.since, now, ctx),
            }
        }
        let mut sends = 0;
        let waiting: Vec<PublicKey> =
            c.authors.iter().flatten().filter(|(_, s)| **s == Step::WaitTree).map(|(a, _)| *a).collect();
        for author in waiting {
            if sends >= CATCHUP_SENDS_PER_TICK {
                break;
            }
            let parent = match ctx.tree_source(&author) {
                TreeSource::Parent(p) if p != ctx.me() => Some(p),
                TreeSource::Unknown if now < c.tree_deadline => continue,
                TreeSource::Parent(_) | TreeSource::Unknown | TreeSource::Root => None,
            };
            let parent = parent.filter(|p| c.per_peer.get(p).copied().unwrap_or(0) < CATCHUP_PER_PEER);
            sends += 1;
            match parent {
                Some(p) => self.catchup_ask(&mut c, author, p, true, now),
                None => self.catchup_ask_author(&mut c, author, now, ctx),
            }
        }
        if c.authors.as_ref().is_some_and(BTreeMap::is_empty) {
            return;
        }
        c.next = now.saturating_add(std::time::Duration::from_secs(1));
        self.catchup = Some(c);
    }

    /// Sends one request for `author` to `to` (its tree parent, or its own server).
    fn catchup_ask(&mut self, c: &mut Catchup, author: PublicKey, to: NodeId, parent: bool, now: UnixTime) {
        let req =
            AppMsg::AuthorSyncReq { author, since: c.since.0, until: c.until.0, limit: CATCHUP_PAGE_EVENTS as u32 };
        let Some(authors) = c.authors.as_mut() else { return };
        let whom = if parent { "its tree parent" } else { "its own server" };
        log::debug!("catch-up: asking {whom} {to} for {}'s posts since {}", author.node_id(), c.since.0);
        if self.send(to, &req, Some(Pending::Catchup { author }), now) {
            *c.per_peer.entry(to).or_insert(0) += 1;
            authors.insert(author, if parent { Step::AskedParent(to) } else { Step::AskedAuthor(to) });
        } else {
            authors.remove(&author);
            self.stats.catchup_unanswered += 1;
        }
    }

    /// Asks `author`'s own server, unless it is unknown, this node, or already asked enough.
    fn catchup_ask_author(&mut self, c: &mut Catchup, author: PublicKey, now: UnixTime, ctx: &dyn Context) {
        let node = author.node_id();
        let spent = c.per_peer.get(&node).copied().unwrap_or(0) >= CATCHUP_PER_PEER;
        if node == ctx.me() || spent || !ctx.is_reachable(node) {
            if let Some(a) = c.authors.as_mut() {
                a.remove(&author);
            }
            self.stats.catchup_unanswered += 1;
            return;
        }
        self.catchup_ask(c, author, node, false, now);
    }

    /// An `AuthorSyncResp`: kept only if `src` is the node asked for that author.
    pub(super) fn on_author_sync_resp(
        &mut self,
        src: NodeId,
        author: PublicKey,
        events: Vec<Event>,
        now: UnixTime,
        ctx: &dyn Context,
    ) {
        let step = self.catchup.as_ref().and_then(|c| c.authors.as_ref()?.get(&author).copied());
        let from_parent = match step {
            Some(Step::AskedParent(p)) if p == src => true,
            Some(Step::AskedAuthor(n)) if n == src => false,
            _ => {
                self.stats.refused_events += events.len() as u64;
                return;
            }
        };
        let Some(mut c) = self.catchup.take() else { return };
        let mut kept = 0u64;
        for ev in events {
            match ev.verify(now) {
                Ok(v)
                    if v.pubkey == author
                        && is_broadcast_class(&v)
                        && v.created_at >= c.since
                        && v.created_at <= c.until =>
                {
                    kept += 1;
                    self.store(v);
                }
                Ok(_) => self.stats.refused_events += 1,
                Err(_) => self.stats.invalid_events += 1,
            }
        }
        log::debug!("catch-up: {kept} events of {} from {src}", author.node_id());
        if from_parent {
            self.stats.catchup_from_tree += kept;
        } else {
            self.stats.catchup_from_author += kept;
        }
        if from_parent && kept == 0 {
            // A relay on the tree stores nothing of the author: its own server does.
            self.catchup_ask_author(&mut c, author, now, ctx);
        } else if let Some(a) = c.authors.as_mut() {
            a.remove(&author);
        }
        if !c.authors.as_ref().is_some_and(BTreeMap::is_empty) {
            self.catchup = Some(c);
        }
    }

    /// The request for `author` was not delivered: a parent's failure falls back to the
    /// author's own server; the author's own failure ends that author's catch-up.
    pub(super) fn on_catchup_failed(&mut self, author: PublicKey, now: UnixTime, ctx: &dyn Context) {
        let Some(mut c) = self.catchup.take() else { return };
        match c.authors.as_ref().and_then(|a| a.get(&author)).copied() {
            Some(Step::AskedParent(_)) => self.catchup_ask_author(&mut c, author, now, ctx),
            Some(Step::AskedAuthor(_)) => {
                if let Some(a) = c.authors.as_mut() {
                    a.remove(&author);
                }
                self.stats.catchup_unanswered += 1;
            }
            Some(Step::WaitTree) | None => {}
        }
        if !c.authors.as_ref().is_some_and(BTreeMap::is_empty) {
            self.catchup = Some(c);
        }
    }
}
