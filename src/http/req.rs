//! `POST /req`: the filter JSON, the original's timeline rules, and which stored events
//! answer (original spec §4.3). Rendering to MessagePack is `encode_events` (§4.4).
//!
//! Dispatch, first match wins: `40000 ∈ kinds` → timeline; else `1` → one post by id;
//! else `0` → latest profile; else `3` → latest follow list; else → empty `Evts`.
//!
//! Timeline (kinds ∋ 40000), exactly the original's rules:
//! ```text
//! since == 0 → since = until = -1, "no period"     (the original's "for Nostr clients")
//! until == 0 → until = +∞
//! limit == 0 → limit = -1
//! limit != -1 → the last `limit` events; since/until ignored
//! limit == -1 → every event with since <= created_at <= until
//! no period → keep only the last UNPERIODED_REQ_MAX (50)
//! ```
//! Events of all kinds, ascending `created_at`, with `Sig`. Decisions where the original is
//! undefined or buggy: a negative limit other than -1 means "no limit" (the original's
//! rank arithmetic returned nearly everything); `since > until` is empty (the original
//! returned the range reversed); every answer is capped at [`MAX_REQ_EVENTS`] events and
//! [`MAX_REQ_ANSWER_BYTES`] (the newest are kept).
//!
//! Lookups (kinds 0, 1, 3) answer `Sig` nil, as the original. Kind 1 needs `ids[0]` and
//! `authors[0]` (400 `Ids and Authors are needed`) and returns the event with exactly that
//! id if its author matches (the original looked up by timestamp and could return another
//! event). Kinds 0/3 need `authors[0]` (the original crashed with a 500) and return the
//! latest event of that author (the original's index was never written: always empty).
//!
//! Lenient like the original, whose decoder swallowed type errors: a field of the wrong
//! type counts as absent (numbers 0, lists empty), and a body that is JSON but not an
//! object is an empty filter. Only invalid JSON (or an empty body) is a 400.

use serde_json::Value;

use super::{Miss, Reject};
use crate::event::msgpack::SigMode;
use crate::event::{Event, EventId, KIND_FOLLOW_LIST, KIND_POST, KIND_PROFILE, KIND_REQ_TIMELINE};
use crate::hex;
use crate::keys::PublicKey;
use crate::limits::{LATE_WINDOW_SLACK, MAX_REQ_ANSWER_BYTES, MAX_REQ_EVENTS, UNPERIODED_REQ_MAX};
use crate::query::{EventQuery, Found};
use crate::time::UnixTime;

/// The parts of a NIP-01 filter the original reads (`#x` tags were parsed, never used).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    /// `kinds`, integers only.
    pub kinds: Vec<i64>,
    /// `ids[0]` when it is a string.
    pub first_id: Option<String>,
    /// `authors[0]` when it is a string.
    pub first_author: Option<String>,
    /// `since` (0 when absent or not a number).
    pub since: i64,
    /// `until` (0 when absent or not a number).
    pub until: i64,
    /// `limit` (0 when absent or not a number).
    pub limit: i64,
}

/// Parses a filter body leniently (module doc).
///
/// # Errors
/// 400 for an empty body or invalid JSON.
pub(crate) fn parse_filter(body: &[u8]) -> Result<Filter, Reject> {
    if body.is_empty() {
        return Err(Reject::new(400, "JSON payload is empty"));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| Reject::new(400, format!("invalid JSON: {e}")))?;
    let Value::Object(map) = value else { return Ok(Filter::default()) };
    // Go's decoder matches keys case-insensitively.
    let get = |name: &str| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    let first_string = |name: &str| match get(name) {
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    let kinds = match get("kinds") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_i64).collect(),
        _ => Vec::new(),
    };
    Ok(Filter {
        kinds,
        first_id: first_string("ids"),
        first_author: first_string("authors"),
        since: get("since").map_or(0, number),
        until: get("until").map_or(0, number),
        limit: get("limit").map_or(0, number),
    })
}

/// A JSON number as `i64`: integers as they are, floats truncated and saturated, anything
/// else 0 (the original's swallowed type error).
fn number(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or_else(|| n.as_f64().map_or(0, |f| f as i64)),
        _ => 0,
    }
}

/// What a timeline request asks the store for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// The last `n` events.
    LastN(usize),
    /// Events with `since <= created_at <= until`.
    Window {
        /// Inclusive lower bound.
        since: UnixTime,
        /// Inclusive upper bound.
        until: UnixTime,
    },
    /// No event can match.
    Nothing,
}

/// The original's since/until/limit rules (module doc) as a [`Plan`] plus its cap.
pub(crate) fn timeline_plan(since: i64, until: i64, limit: i64) -> (Plan, usize) {
    let (since, until, cap) = if since == 0 { (-1, -1, UNPERIODED_REQ_MAX) } else { (since, until, MAX_REQ_EVENTS) };
    let until = if until == 0 { i64::MAX } else { until };
    if limit > 0 {
        let n = usize::try_from(limit).unwrap_or(usize::MAX).min(cap);
        return (Plan::LastN(n), cap);
    }
    if until < 0 || since > until {
        return (Plan::Nothing, cap);
    }
    let since = UnixTime(u64::try_from(since).unwrap_or(0));
    let until = UnixTime(u64::try_from(until).unwrap_or(0));
    (Plan::Window { since, until }, cap)
}

/// An answer: events oldest first, whether they carry `Sig`, and what a lookup missed.
pub(crate) type Selected<'s> = (Vec<Found<'s>>, SigMode, Option<Miss>);

/// The events answering `filter`, oldest first, whether they carry `Sig`, and for a lookup
/// that found nothing, what to ask the network for.
///
/// # Errors
/// 400 when a lookup lacks `ids[0]`/`authors[0]` or they are not 64 hex characters.
pub(crate) fn select<'s>(filter: &Filter, store: &'s impl EventQuery) -> Result<Selected<'s>, Reject> {
    let has = |k: i64| filter.kinds.contains(&k);
    if has(i64::from(KIND_REQ_TIMELINE)) {
        let (plan, cap) = timeline_plan(filter.since, filter.until, filter.limit);
        let events = match plan {
            Plan::LastN(n) => store.last_n(n),
            Plan::Window { since, until } => {
                with_late_arrivals(store.window(since, until, cap), store, since, until, cap)
            }
            Plan::Nothing => Vec::new(),
        };
        return Ok((cap_answer(events, cap), SigMode::Keep, None));
    }
    if has(i64::from(KIND_POST)) {
        let (Some(id), Some(author)) = (&filter.first_id, &filter.first_author) else {
            return Err(Reject::new(400, "Ids and Authors are needed"));
        };
        let id = EventId(hex_arg("ids[0]", id)?);
        let author = PublicKey(hex_arg("authors[0]", author)?);
        let found = store.get(&id).filter(|e| e.pubkey == author);
        let miss = found.is_none().then_some(Miss::Post { id, author });
        return Ok((found.into_iter().collect(), SigMode::Nil, miss));
    }
    for kind in [KIND_PROFILE, KIND_FOLLOW_LIST] {
        if has(i64::from(kind)) {
            let Some(author) = &filter.first_author else {
                return Err(Reject::new(400, "Authors are needed"));
            };
            let author = PublicKey(hex_arg("authors[0]", author)?);
            let found = store.latest_replaceable(&author, kind);
            let miss = found.is_none().then_some(if kind == KIND_PROFILE {
                Miss::Profile(author)
            } else {
                Miss::FollowList(author)
            });
            return Ok((found.into_iter().collect(), SigMode::Nil, miss));
        }
    }
    Ok((Vec::new(), SigMode::Nil, None))
}

/// The window's events (ascending `created_at`), then the events that arrived late in the
/// same window by this server's clock and are not already in it. The client prepends each
/// event it receives, so a late arrival shows at the top of the timeline, as new, instead of
/// never (original spec §7.4: it only asks `[previous poll, now]` by `created_at`). The
/// arrival window starts [`LATE_WINDOW_SLACK`] early to forgive a phone clock running ahead.
fn with_late_arrivals<'s>(
    mut events: Vec<Found<'s>>,
    store: &'s impl EventQuery,
    since: UnixTime,
    until: UnixTime,
    cap: usize,
) -> Vec<Found<'s>> {
    for late in store.arrived_late(since.saturating_sub(LATE_WINDOW_SLACK), until, cap) {
        if !(since..=until).contains(&late.created_at) {
            events.push(late);
        }
    }
    events
}

fn hex_arg(what: &str, s: &str) -> Result<[u8; 32], Reject> {
    hex::decode_array::<32>(s).map_err(|e| Reject::new(400, format!("{what}: {e}")))
}

/// Keeps the newest events within `max` events and [`MAX_REQ_ANSWER_BYTES`] (whatever the
/// store returned; a store is trusted to be ascending, not to respect the cap).
fn cap_answer(mut events: Vec<Found<'_>>, max: usize) -> Vec<Found<'_>> {
    if events.len() > max {
        events.drain(..events.len() - max);
    }
    let mut bytes = 0usize;
    let keep = events
        .iter()
        .rev()
        .take_while(|e| {
            bytes = bytes.saturating_add(wire_size(e));
            bytes <= MAX_REQ_ANSWER_BYTES
        })
        .count();
    events.drain(..events.len() - keep);
    events
}

/// An upper bound of one event's MessagePack size in an answer: 200 bytes of keys, ids,
/// key, time, kind and signature, plus content and tags with their length prefixes.
fn wire_size(e: &Event) -> usize {
    let tags: usize = e.tags.iter().map(|t| 5 + t.iter().map(|s| 5 + s.len()).sum::<usize>()).sum();
    200 + e.content.len() + tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_follows_the_original_rules() {
        let w = |s, u| Plan::Window { since: UnixTime(s), until: UnixTime(u) };
        assert_eq!(timeline_plan(-1, -1, 300), (Plan::LastN(300), MAX_REQ_EVENTS));
        assert_eq!(timeline_plan(10, 20, -1), (w(10, 20), MAX_REQ_EVENTS));
        assert_eq!(timeline_plan(10, 0, 0), (w(10, i64::MAX as u64), MAX_REQ_EVENTS));
        assert_eq!(timeline_plan(0, 0, 0), (Plan::Nothing, UNPERIODED_REQ_MAX));
        assert_eq!(timeline_plan(0, 50, -1), (Plan::Nothing, UNPERIODED_REQ_MAX));
        assert_eq!(timeline_plan(0, 0, 100), (Plan::LastN(UNPERIODED_REQ_MAX), UNPERIODED_REQ_MAX));
        assert_eq!(timeline_plan(10, 20, 5), (Plan::LastN(5), MAX_REQ_EVENTS));
        assert_eq!(timeline_plan(30, 20, -1), (Plan::Nothing, MAX_REQ_EVENTS));
        assert_eq!(timeline_plan(-5, 20, -1), (w(0, 20), MAX_REQ_EVENTS));
        assert_eq!(timeline_plan(10, 20, -7), (w(10, 20), MAX_REQ_EVENTS));
        assert_eq!(timeline_plan(1, 2, i64::MAX), (Plan::LastN(MAX_REQ_EVENTS), MAX_REQ_EVENTS));
    }

    #[test]
    fn filter_parsing_is_lenient_about_types_only() {
        let f = parse_filter(br#"{"kinds":[40000,"x",1.5],"since":"no","until":12.9,"limit":null,"ids":[7]}"#)
            .expect("valid JSON");
        assert_eq!(f, Filter { kinds: vec![40000], until: 12, ..Filter::default() });
        assert_eq!(parse_filter(b"[1]").expect("JSON"), Filter::default());
        assert_eq!(
            parse_filter(br#"{"Kinds":[3],"AUTHORS":["ab"]}"#).expect("JSON").first_author.as_deref(),
            Some("ab")
        );
        assert_eq!(parse_filter(b"{").expect_err("syntax").status, 400);
        assert_eq!(parse_filter(b"").expect_err("empty").msg, "JSON payload is empty");
    }
}
