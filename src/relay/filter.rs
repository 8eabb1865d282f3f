//! NIP-01 filters: parsing, matching one event, and answering a `REQ` from the store.
//!
//! A filter's fields are AND-ed, the values inside one field OR-ed, the filters of one `REQ`
//! OR-ed. `ids` and `authors` are exact 64-hex values (NIP-01 dropped prefixes); `#x` is any
//! single-letter tag (`#e`, `#p`, `#t`, `#d`…), matched on the tag's first value. An empty
//! list matches nothing. Unknown fields are ignored (as most relays do).
//!
//! Bounds: each field holds at most [`RELAY_MAX_FILTER_VALUES`] values and each tag value at
//! most [`RELAY_MAX_TAG_VALUE_BYTES`]; [`Filter::cost`] is what a subscription holds in memory.
//! A query answers at most [`RELAY_MAX_LIMIT`] events and examines at most
//! [`RELAY_SCAN_MAX`] stored events per filter. Pure: `now` is a parameter.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

use crate::event::{Event, EventId};
use crate::hex;
use crate::keys::PublicKey;
use crate::limits::{
    RELAY_DEFAULT_LIMIT, RELAY_MAX_FILTER_VALUES, RELAY_MAX_LIMIT, RELAY_MAX_TAG_VALUE_BYTES, RELAY_SCAN_MAX,
};
use crate::query::EventQuery;
use crate::time::UnixTime;

/// One parsed filter. `None` means the field was absent (matches anything).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Event ids.
    pub ids: Option<Vec<EventId>>,
    /// Authors.
    pub authors: Option<Vec<PublicKey>>,
    /// Kinds.
    pub kinds: Option<Vec<u16>>,
    /// Single-letter tag filters: letter and accepted first values.
    pub tags: Vec<(char, Vec<String>)>,
    /// Oldest `created_at` (inclusive).
    pub since: Option<UnixTime>,
    /// Newest `created_at` (inclusive).
    pub until: Option<UnixTime>,
    /// Most stored events wanted (clamped to [`RELAY_MAX_LIMIT`]).
    pub limit: Option<usize>,
}

/// Why a JSON value is not a filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError(String);

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FilterError {}

fn bad(why: String) -> FilterError {
    FilterError(why)
}

impl Filter {
    /// Parses a NIP-01 filter object.
    ///
    /// # Errors
    /// [`FilterError`] naming the field and what is wrong (its message follows `invalid:`).
    pub fn parse(v: &Value) -> Result<Filter, FilterError> {
        let Value::Object(map) = v else { return Err(bad("a filter is a JSON object".into())) };
        let mut f = Filter::default();
        for (key, value) in map {
            match key.as_str() {
                "ids" => f.ids = Some(list(key, value, |s| hex::decode_array::<32>(s).ok().map(EventId))?),
                "authors" => f.authors = Some(list(key, value, |s| hex::decode_array::<32>(s).ok().map(PublicKey))?),
                "kinds" => f.kinds = Some(kinds(value)?),
                "since" => f.since = Some(UnixTime(uint(key, value)?)),
                "until" => f.until = Some(UnixTime(uint(key, value)?)),
                "limit" => {
                    f.limit = Some(usize::try_from(uint(key, value)?).unwrap_or(usize::MAX).min(RELAY_MAX_LIMIT))
                }
                k => {
                    let mut chars = k.chars();
                    if let (Some('#'), Some(letter), None) = (chars.next(), chars.next(), chars.next()) {
                        if letter.is_ascii_alphabetic() {
                            let values =
                                list(key, value, |s| (s.len() <= RELAY_MAX_TAG_VALUE_BYTES).then(|| s.to_string()))?;
                            f.tags.retain(|(l, _)| *l != letter);
                            f.tags.push((letter, values));
                        }
                    }
                }
            }
        }
        Ok(f)
    }

    /// Bytes this filter holds (see [`crate::limits::RELAY_MAX_CONN_FILTER_BYTES`]).
    pub fn cost(&self) -> usize {
        let tags: usize = self.tags.iter().map(|(_, vs)| 32 + vs.iter().map(|v| 24 + v.len()).sum::<usize>()).sum();
        std::mem::size_of::<Filter>()
            + self.ids.as_ref().map_or(0, |v| v.len() * 32)
            + self.authors.as_ref().map_or(0, |v| v.len() * 32)
            + self.kinds.as_ref().map_or(0, |v| v.len() * 8)
            + tags
    }

    /// The part of [`Filter::matches`] that needs only the author and kind.
    pub fn matches_author_and_kind(&self, pubkey: &PublicKey, kind: u16) -> bool {
        self.authors.as_ref().is_none_or(|a| a.contains(pubkey))
            && self.kinds.as_ref().is_none_or(|k| k.contains(&kind))
    }

    /// Whether `ev` matches every field of this filter (`limit` aside).
    pub fn matches(&self, ev: &Event) -> bool {
        if self.ids.as_ref().is_some_and(|ids| !ids.contains(&ev.id))
            || self.authors.as_ref().is_some_and(|a| !a.contains(&ev.pubkey))
            || self.kinds.as_ref().is_some_and(|k| !k.contains(&ev.kind))
            || self.since.is_some_and(|s| ev.created_at < s)
            || self.until.is_some_and(|u| ev.created_at > u)
        {
            return false;
        }
        self.tags.iter().all(|(letter, values)| {
            ev.tags.iter().any(|t| match (t.first(), t.get(1)) {
                (Some(name), Some(v)) => name.len() == 1 && name.starts_with(*letter) && values.contains(v),
                _ => false,
            })
        })
    }

    /// The number of stored events this filter asks for.
    pub fn effective_limit(&self) -> usize {
        self.limit.unwrap_or(RELAY_DEFAULT_LIMIT).min(RELAY_MAX_LIMIT)
    }
}

fn uint(key: &str, v: &Value) -> Result<u64, FilterError> {
    v.as_u64().ok_or_else(|| bad(format!("filter field \"{key}\" must be a non-negative integer")))
}

fn kinds(v: &Value) -> Result<Vec<u16>, FilterError> {
    let Value::Array(items) = v else { return Err(bad("filter field \"kinds\" must be an array".into())) };
    if items.len() > RELAY_MAX_FILTER_VALUES {
        return Err(bad(format!("filter field \"kinds\" has more than {RELAY_MAX_FILTER_VALUES} values")));
    }
    items
        .iter()
        .map(|k| {
            k.as_u64()
                .and_then(|k| u16::try_from(k).ok())
                .ok_or_else(|| bad("filter field \"kinds\" holds integers from 0 to 65535".into()))
        })
        .collect()
}

/// An array of at most [`RELAY_MAX_FILTER_VALUES`] strings, each accepted by `conv`.
fn list<T>(key: &str, v: &Value, conv: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, FilterError> {
    let Value::Array(items) = v else { return Err(bad(format!("filter field \"{key}\" must be an array"))) };
    if items.len() > RELAY_MAX_FILTER_VALUES {
        return Err(bad(format!("filter field \"{key}\" has more than {RELAY_MAX_FILTER_VALUES} values")));
    }
    items
        .iter()
        .map(|item| {
            item.as_str().and_then(&conv).ok_or_else(|| {
                let what = match key {
                    "ids" | "authors" => "64 lowercase hex characters".to_string(),
                    _ => format!("strings of at most {RELAY_MAX_TAG_VALUE_BYTES} bytes"),
                };
                bad(format!("filter field \"{key}\" holds {what}"))
            })
        })
        .collect()
}

/// Answers the stored part of a `REQ`: the ids of the events matching any of `filters` for
/// which `visible` holds, newest first (ties: lower id first, NIP-01), each filter limited
/// to its `limit`, all together to `max` (≤ [`RELAY_MAX_LIMIT`]).
pub fn query(filters: &[Filter], store: &dyn EventQuery, max: usize, visible: &dyn Fn(&Event) -> bool) -> Vec<EventId> {
    let mut found: BTreeSet<(Reverse<UnixTime>, EventId)> = BTreeSet::new();
    for f in filters {
        let limit = f.effective_limit();
        if limit == 0 {
            continue;
        }
        let mut add = |ev: &Event| {
            found.insert((Reverse(ev.created_at), ev.id));
        };
        if let Some(ids) = &f.ids {
            ids.iter()
                .filter_map(|id| store.get(id))
                .filter(|ev| f.matches(ev) && visible(ev))
                .take(limit)
                .for_each(|ev| add(&ev));
        } else {
            let since = f.since.unwrap_or(UnixTime(0));
            let until = f.until.unwrap_or(UnixTime(u64::MAX));
            // Author and kind are read in place; only events passing them are decoded.
            let pre = |pk: &PublicKey, kind: u16| f.matches_author_and_kind(pk, kind);
            store
                .newest_first_where(since, until, &pre)
                .take(RELAY_SCAN_MAX)
                .flatten()
                .filter(|ev| f.matches(ev) && visible(ev))
                .take(limit)
                .for_each(|ev| add(&ev));
        }
    }
    found.into_iter().take(max.min(RELAY_MAX_LIMIT)).map(|(_, id)| id).collect()
}
