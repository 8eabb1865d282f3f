//! Answers to other nodes' requests (catch-up sync, fetches) and the rate limit of this node's
//! own fetches. Pure functions of the store ([`EventQuery`]) and the request.
//!
//! Privacy: a sync answer and a post-by-id answer carry only broadcast-class events (never a
//! reply, mention, like or follow list); a follow list is answered only by its owner's node;
//! a profile is public (it was broadcast).

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::classify::is_broadcast_class;
use super::msg::FetchTarget;
use crate::event::{Event, KIND_FOLLOW_LIST, KIND_PROFILE};
use crate::keys::PublicKey;
use crate::limits::{
    CATCHUP_PAGE_EVENTS, FETCH_ANSWER_WINDOW, FETCH_INTERVAL, FETCH_TABLE_CAP, SYNC_PAGE_BYTES, SYNC_PAGE_EVENTS,
    SYNC_SCAN_EVENTS,
};
use crate::query::EventQuery;
use crate::time::UnixTime;

/// Bytes an event is counted for in a page (its encoded size is below this).
pub fn wire_size(ev: &Event) -> usize {
    // Content and tags dominate; ids, key and signature are ~200 B as MessagePack arrays.
    256 + ev.content.len() + ev.tags.iter().map(|t| 2 + t.iter().map(|s| 2 + s.len()).sum::<usize>()).sum::<usize>()
}

/// A catch-up page: the newest broadcast-class events with `since <= created_at <= until`
/// (oldest first), at most `limit` (≤ [`SYNC_PAGE_EVENTS`]) and [`SYNC_PAGE_BYTES`], and the
/// `until` to ask next when the window holds more (always strictly below `until`).
pub fn answer_sync(
    store: &dyn EventQuery,
    since: UnixTime,
    until: UnixTime,
    limit: u32,
) -> (Vec<Event>, Option<UnixTime>) {
    let limit = (limit as usize).min(SYNC_PAGE_EVENTS);
    if since > until || limit == 0 {
        return (Vec::new(), None);
    }
    let scanned = store.window(since, until, SYNC_SCAN_EVENTS);
    let saturated = scanned.len() >= SYNC_SCAN_EVENTS;
    let mut page: Vec<Event> = Vec::new();
    let mut bytes = 0;
    let mut cut = false;
    // Newest first, so a cut page resumes below the oldest event sent.
    for ev in scanned.iter().rev().filter(|e| is_broadcast_class(e)) {
        let size = wire_size(ev);
        if page.len() >= limit || bytes + size > SYNC_PAGE_BYTES {
            cut = true;
            break;
        }
        bytes += size;
        page.push(ev.as_ref().clone());
    }
    page.reverse();
    let resume = if cut {
        page.first().map(|e| e.created_at)
    } else if saturated {
        scanned.first().map(|e| e.created_at)
    } else {
        None
    };
    // Progress guarantee: the next window ends strictly earlier (events sharing the cut
    // second beyond the page are left out rather than looping).
    let more = resume
        .map(|t| if t < until { t } else { UnixTime(until.0.saturating_sub(1)) })
        .filter(|t| *t >= since && *t < until);
    (page, more)
}

/// A follow-mode catch-up answer: the newest broadcast-class events by `author` with
/// `since <= created_at <= until`, at most `limit` (≤ [`CATCHUP_PAGE_EVENTS`]) and
/// [`SYNC_PAGE_BYTES`], newest first. Examines at most [`SYNC_SCAN_EVENTS`] stored events
/// (others' events are skipped without decoding), so one answer's work is bounded.
pub fn answer_author(
    store: &dyn EventQuery,
    author: &PublicKey,
    since: UnixTime,
    until: UnixTime,
    limit: u32,
) -> Vec<Event> {
    let limit = (limit as usize).min(CATCHUP_PAGE_EVENTS);
    let mut page: Vec<Event> = Vec::new();
    if since > until || limit == 0 {
        return page;
    }
    let pre = |pk: &PublicKey, _kind: u16| pk == author;
    let mut bytes = 0;
    for ev in store.newest_first_where(since, until, &pre).take(SYNC_SCAN_EVENTS).flatten() {
        if !is_broadcast_class(&ev) {
            continue;
        }
        let size = wire_size(&ev);
        if page.len() >= limit || bytes + size > SYNC_PAGE_BYTES {
            break;
        }
        bytes += size;
        page.push(ev.into_owned());
    }
    page
}

/// The answer to a fetch, if this node has it.
pub fn answer_fetch(store: &dyn EventQuery, owner: &PublicKey, target: &FetchTarget) -> Option<Event> {
    match target {
        FetchTarget::Profile(pk) => store.latest_replaceable(pk, KIND_PROFILE).map(Cow::into_owned),
        FetchTarget::FollowList(pk) if pk == owner => {
            store.latest_replaceable(pk, KIND_FOLLOW_LIST).map(Cow::into_owned)
        }
        FetchTarget::FollowList(_) => None,
        FetchTarget::Post(id) => store.get(id).filter(|e| is_broadcast_class(e)).map(Cow::into_owned),
    }
}

/// True if `ev` is a valid answer to `target`.
pub fn answers(target: &FetchTarget, ev: &Event) -> bool {
    match target {
        FetchTarget::Profile(pk) => ev.kind == KIND_PROFILE && ev.pubkey == *pk,
        FetchTarget::FollowList(pk) => ev.kind == KIND_FOLLOW_LIST && ev.pubkey == *pk,
        FetchTarget::Post(id) => ev.id == *id && is_broadcast_class(ev),
    }
}

/// When this node last asked for each target: one request per [`FETCH_INTERVAL`], answers
/// accepted within [`FETCH_ANSWER_WINDOW`]. Bounded by [`FETCH_TABLE_CAP`].
#[derive(Clone, Debug, Default)]
pub struct FetchTable {
    asked: BTreeMap<FetchTarget, UnixTime>,
}

impl FetchTable {
    /// Records a request for `target` at `now` if one is allowed; false if rate-limited (or
    /// the table is full of recent requests).
    pub fn try_ask(&mut self, target: FetchTarget, now: UnixTime) -> bool {
        if let Some(at) = self.asked.get(&target) {
            if at.saturating_add(FETCH_INTERVAL) > now {
                return false;
            }
        }
        if !self.asked.contains_key(&target) && self.asked.len() >= FETCH_TABLE_CAP {
            let oldest = self.asked.iter().min_by_key(|(t, at)| (**at, **t)).map(|(t, at)| (*t, *at));
            match oldest {
                Some((t, at)) if at.saturating_add(FETCH_INTERVAL) <= now => {
                    self.asked.remove(&t);
                }
                _ => return false,
            }
        }
        self.asked.insert(target, now);
        true
    }

    /// True if an answer for `target` arriving at `now` was asked for.
    pub fn expects(&self, target: &FetchTarget, now: UnixTime) -> bool {
        self.asked.get(target).is_some_and(|at| at.saturating_add(FETCH_ANSWER_WINDOW) >= now)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.asked.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.asked.is_empty()
    }
}
