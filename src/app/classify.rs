//! Where an event goes (spec original-nostrp2p.md §5.1, bugs fixed) and whether a node keeps
//! an event that reached it. Pure functions of the event (and the owner's key).
//!
//! | event | route |
//! |---|---|
//! | kind 1 with a `q` tag (quote repost) | broadcast |
//! | kind 1 with no `p` tag naming someone other than the author | broadcast (a reply to one's own post included: the original's quirk, kept so threads look the same) |
//! | kind 1 with `p` tags of others (reply, mention) | unicast to each distinct p-tagged user's node |
//! | kind 6 (repost), kind 16 (generic repost), kind 0 (profile), kind 10002 (relay list, NIP-65) | broadcast |
//! | kind 7 (like) | unicast to the node of the **first** `p` tag (none, or the author: local) |
//! | kind 5 (deletion, NIP-09) | where the deleted events went: unicast to its `p`-tagged parties; local if its `k`/`a` tags name only kinds that stay home; else broadcast |
//! | kind 3 (follow list), anything else | local only (kept on the owner's node for their own clients) |
//!
//! Privacy rule for malformed tags: a kind-1 event with a `p` tag that is not a 64-hex key
//! is treated as addressed (never broadcast); its valid keys still get it.
//!
//! Receiving: a broadcast is kept only if it is broadcast-class by these same rules (a reply
//! that arrives by broadcast is neither stored nor re-served); an event that arrives by unicast
//! (directly or as sealed mail) is kept only if this node's owner is one of its recipients.
//!
//! Follower multicast (issue 10, docs/scaling.md "Delivery"): a broadcast no longer reaches
//! every node, so a repost or quote repost would reach the reposted author only if they follow
//! the reposter. Its author's node therefore also sends it to the node of its
//! [`quoted_author`] (one per event), like a reply; that node keeps it ([`accepts_unicast`]).

use crate::event::{Event, KIND_FOLLOW_LIST, KIND_POST, KIND_PROFILE, KIND_REACTION, KIND_REPOST};
use crate::hex;
use crate::keys::PublicKey;

/// The route of an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// To every node.
    Broadcast,
    /// Only to the servers of these users (distinct, in tag order, never the author).
    Unicast(Vec<PublicKey>),
    /// Stays on the author's server.
    Local,
}

/// The route of `ev` per the table in the module doc.
pub fn classify(ev: &Event) -> Route {
    match ev.kind {
        KIND_PROFILE | KIND_REPOST | KIND_GENERIC_REPOST | KIND_RELAY_LIST => Route::Broadcast,
        KIND_DELETION => classify_deletion(ev),
        KIND_POST => classify_post(ev),
        KIND_REACTION => match ev.tag_values("p").next().map(parse_key) {
            Some(Some(pk)) if pk != ev.pubkey => Route::Unicast(vec![pk]),
            _ => Route::Local,
        },
        KIND_FOLLOW_LIST => Route::Local,
        _ => Route::Local,
    }
}

/// NIP-09 kind 5 (deletion request).
pub const KIND_DELETION: u16 = 5;
/// NIP-18 kind 16 (generic repost).
pub const KIND_GENERIC_REPOST: u16 = 16;
/// NIP-65 kind 10002 (relay list).
pub const KIND_RELAY_LIST: u16 = 10002;

/// Kinds that leave the author's node (broadcast or unicast): a deletion naming only other
/// kinds (in `k` tags or `a` addresses) stays home, as the deleted events did.
const TRAVELLING_KINDS: [u16; 6] =
    [KIND_PROFILE, KIND_POST, KIND_REPOST, KIND_REACTION, KIND_GENERIC_REPOST, KIND_RELAY_LIST];

/// A deletion goes where the deleted events went. Its own tags say where: the parties it
/// `p`-tags (a deleted reply or like was sent to them), or the kinds it names (`k` tags, the
/// kind prefix of `a` addresses). With neither it is broadcast: a deletion only carries ids,
/// and every node holding a copy must drop it.
fn classify_deletion(ev: &Event) -> Route {
    if let Route::Unicast(to) = classify_post(ev) {
        return Route::Unicast(to);
    }
    let named: Vec<Option<u16>> = ev
        .tag_values("k")
        .map(|k| k.parse().ok())
        .chain(ev.tag_values("a").map(|a| a.split(':').next().and_then(|k| k.parse().ok())))
        .collect();
    let travels = |k: &Option<u16>| k.is_none_or(|k| TRAVELLING_KINDS.contains(&k));
    if !named.is_empty() && !named.iter().any(travels) {
        return Route::Local;
    }
    Route::Broadcast
}

fn classify_post(ev: &Event) -> Route {
    if ev.has_tag("q") {
        return Route::Broadcast;
    }
    let mut others: Vec<PublicKey> = Vec::new();
    let mut addressed = false;
    for value in ev.tag_values("p") {
        match parse_key(value) {
            Some(pk) if pk == ev.pubkey => {}
            Some(pk) => {
                addressed = true;
                if !others.contains(&pk) {
                    others.push(pk);
                }
            }
            None => addressed = true,
        }
    }
    match (addressed, others.is_empty()) {
        (false, _) => Route::Broadcast,
        (true, false) => Route::Unicast(others),
        (true, true) => Route::Local,
    }
}

fn parse_key(value: &str) -> Option<PublicKey> {
    hex::decode_array::<32>(value).ok().map(PublicKey)
}

/// True if `ev` travels by broadcast: what a node keeps from a broadcast, serves to a catch-up
/// sync and answers to a request for a post by id.
pub fn is_broadcast_class(ev: &Event) -> bool {
    classify(ev) == Route::Broadcast
}

/// True if a node whose owner is `owner` keeps `ev` received by unicast or sealed mail: the
/// owner is one of the event's recipients (the original stored anything, spec §5.1), or the
/// author a repost or quote repost names ([`quoted_author`]).
pub fn accepts_unicast(ev: &Event, owner: &PublicKey) -> bool {
    match classify(ev) {
        Route::Unicast(to) => to.contains(owner),
        Route::Broadcast => quoted_author(ev).as_ref() == Some(owner),
        Route::Local => false,
    }
}

/// The author whose event `ev` reposts or quotes (kind 6, kind 16, or a kind 1 with a `q`
/// tag), to whose node the reposter's node also sends it under follower multicast: the first
/// `q` tag's pubkey field if it is a key (NIP-18: `["q", id, relay, pubkey]`), else the first
/// `p` tag (the original's client writes `[["e",id,"","mention"],["p",author],["q"]]` for a
/// quote and `[["e",id,""],["p",author]]` for a repost, and NIP-18 asks reposts for that `p`
/// tag). `None` if that is not a key, or is the reposter (a self-quote reaches its followers).
///
/// **One per event**, as a like tells only its first `p` tag: both clients name one quoted
/// event, and a spammer listing many keys buys one unicast, not one per key. The key is the
/// reposter's claim (nothing proves that author wrote the quoted event), so a repost naming
/// someone is exactly as strong as a mention of them, which anyone can send already.
pub fn quoted_author(ev: &Event) -> Option<PublicKey> {
    let quote = match ev.kind {
        KIND_REPOST | KIND_GENERIC_REPOST => true,
        KIND_POST => ev.has_tag("q"),
        _ => false,
    };
    if !quote {
        return None;
    }
    let in_q = ev.tags.iter().find(|t| t.first().map(String::as_str) == Some("q")).and_then(|t| t.get(3));
    let key = match in_q.and_then(|v| parse_key(v)) {
        Some(k) => Some(k),
        None => ev.tag_values("p").next().and_then(parse_key),
    };
    key.filter(|k| *k != ev.pubkey)
}
