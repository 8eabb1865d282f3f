//! The NIP-01 relay protocol as a sans-IO state machine: what every websocket connection
//! says, and what the relay answers. The driver moves the bytes; nothing here does IO or
//! reads a clock (`now`/`wall` are parameters) or a random source (the NIP-42 challenge is).
//!
//! Driver contract (`handle_*` in, `poll_*` out):
//! - [`Relay::open`] when a websocket is up: send the returned `AUTH` challenge.
//! - [`Relay::handle_message`] for each text message: send `replies`; if `accepted` holds a
//!   [`Accepted::Store`] event, store it (and route it as `/publish` does, unless
//!   [`kinds::may_leave_node`] says no), then send [`stored_ok`] for the outcome — exactly one
//!   `OK` per `EVENT`. An [`Accepted::Ephemeral`] event was already answered: only fan it
//!   out with [`Relay::handle_new_event`].
//! - After every call, drain [`Relay::poll_message`] for that connection while its writer has
//!   room: stored results of a `REQ` are rendered one at a time, then `EOSE`.
//! - [`Relay::handle_new_event`] with every newly stored event (from any client, the network,
//!   late arrivals, mail) and every ephemeral one: the live `EVENT`s to send.
//! - [`Relay::close`] when the socket goes.
//!
//! Policy: writes are the owner's only unless `accept_any_author`; a NIP-70 protected event
//! needs AUTH as its author; reads follow [`kinds`]' privacy rule, and a `REQ` that asks for
//! the owner's private events without AUTH is answered `CLOSED` `auth-required:`.
//!
//! Bounds (src/limits.rs `RELAY_*`): connections, subscriptions and filter bytes per
//! connection, pending results per connection, message size and a per-connection message
//! rate (token bucket).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use crate::event::{EventId, VerifiedEvent};
use crate::hex;
use crate::keys::PublicKey;
use crate::limits::{
    RELAY_MAX_BACKLOG, RELAY_MAX_CONNS, RELAY_MAX_CONN_FILTER_BYTES, RELAY_MAX_SUBS, RELAY_RATE_BURST,
    RELAY_RATE_PER_SEC,
};
use crate::query::EventQuery;
use crate::store::{Inserted, Refusal, StoreError};
use crate::time::{Instant, UnixTime};

pub mod auth;
pub mod filter;
pub mod info;
pub mod kinds;
pub mod msg;
#[cfg(test)]
mod tests;

use self::filter::Filter;
use self::kinds::{is_expired, is_protected, is_public, KIND_AUTH, PRIVATE_KINDS};
use self::msg::ClientMsg;
use crate::store::tombs::is_ephemeral;

/// A connection, numbered by the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// Write policy, from the node's configuration (as for `/publish`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelayConfig {
    /// The node owner's key.
    pub owner: PublicKey,
    /// `false` on a read-only node: every `EVENT` is refused.
    pub writable: bool,
    /// `--accept-any-author`: events by other authors are accepted too.
    pub accept_any_author: bool,
}

/// Why [`Relay::open`] refused a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// [`RELAY_MAX_CONNS`] connections are open; the driver should close the socket.
    Full,
    /// The driver reused a live connection number (a driver bug).
    InUse,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Full => write!(f, "{RELAY_MAX_CONNS} relay connections are open"),
            OpenError::InUse => write!(f, "connection number already in use"),
        }
    }
}

impl std::error::Error for OpenError {}

/// An event a client published that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// To be stored (and routed); answer with [`stored_ok`] once the store decided.
    Store(VerifiedEvent),
    /// Ephemeral (NIP-01 20000–29999): already answered `OK`; fan out, never store.
    Ephemeral(VerifiedEvent),
}

/// What [`Relay::handle_message`] decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Handled {
    /// Messages to send to the connection now, in order.
    pub replies: Vec<String>,
    /// A published event for the driver (see the module doc).
    pub accepted: Option<Accepted>,
}

impl Handled {
    fn reply(msg: String) -> Handled {
        Handled { replies: vec![msg], accepted: None }
    }
}

/// The `OK` for an event the driver stored (or tried to): NIP-01 prefixes for each outcome.
pub fn stored_ok(id: &EventId, outcome: &Result<Inserted, StoreError>) -> String {
    match outcome {
        Ok(Inserted::New { .. }) => msg::ok(id, true, ""),
        Ok(Inserted::Duplicate) => msg::ok(id, true, "duplicate: already have this event"),
        Ok(Inserted::Refused(Refusal::Superseded)) => {
            msg::ok(id, true, "duplicate: a newer version of this event is stored")
        }
        Ok(Inserted::Refused(Refusal::Ephemeral)) => msg::ok(id, true, ""),
        Ok(Inserted::Refused(Refusal::Deleted)) => msg::ok(id, false, "blocked: its author deleted this event"),
        Ok(Inserted::Dropped) => msg::ok(id, false, "error: not stored: the store is full of newer events"),
        Err(_) => msg::ok(id, false, "error: this node could not store the event"),
    }
}

/// One open subscription.
struct Sub {
    id: String,
    /// Distinguishes a subscription from an earlier one with the same id (backlog entries).
    serial: u64,
    filters: Vec<Filter>,
    cost: usize,
}

/// Something waiting to be sent to a connection.
enum Pending {
    Event { serial: u64, id: EventId },
    Eose { serial: u64 },
}

/// Token bucket in thousandths of a message.
struct Bucket {
    milli: u64,
    at: Instant,
}

impl Bucket {
    const CAP: u64 = RELAY_RATE_BURST as u64 * 1000;

    fn take(&mut self, now: Instant) -> bool {
        let refill = now.since(self.at).saturating_mul(u64::from(RELAY_RATE_PER_SEC));
        self.milli = self.milli.saturating_add(refill).min(Bucket::CAP);
        self.at = self.at.max(now);
        if self.milli >= 1000 {
            self.milli -= 1000;
            true
        } else {
            false
        }
    }
}

/// One websocket connection's state.
struct Conn {
    challenge: String,
    authed: Option<PublicKey>,
    subs: Vec<Sub>,
    backlog: VecDeque<Pending>,
    bucket: Bucket,
}

impl Conn {
    fn filter_bytes(&self) -> usize {
        self.subs.iter().map(|s| s.cost).sum()
    }

    fn backlog_events(&self) -> usize {
        self.backlog.iter().filter(|p| matches!(p, Pending::Event { .. })).count()
    }
}

/// Every connection's protocol state. See the module doc.
pub struct Relay {
    cfg: RelayConfig,
    conns: BTreeMap<ConnId, Conn>,
    next_serial: u64,
}

impl Relay {
    /// A relay with no connections.
    pub fn new(cfg: RelayConfig) -> Relay {
        Relay { cfg, conns: BTreeMap::new(), next_serial: 0 }
    }

    /// Registers a new connection with its NIP-42 `challenge` bytes (random, from the
    /// driver); returns the `["AUTH", challenge]` message to send first.
    ///
    /// # Errors
    /// [`OpenError`]: the driver closes the socket.
    pub fn open(&mut self, conn: ConnId, challenge: [u8; 16], now: Instant) -> Result<String, OpenError> {
        if self.conns.contains_key(&conn) {
            return Err(OpenError::InUse);
        }
        if self.conns.len() >= RELAY_MAX_CONNS {
            return Err(OpenError::Full);
        }
        let challenge = hex::encode(&challenge);
        let hello = msg::auth(&challenge);
        let bucket = Bucket { milli: Bucket::CAP, at: now };
        self.conns.insert(conn, Conn { challenge, authed: None, subs: Vec::new(), backlog: VecDeque::new(), bucket });
        Ok(hello)
    }

    /// Forgets a connection (its subscriptions and pending results).
    pub fn close(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
    }

    /// Open connections.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// The key a connection authenticated as (NIP-42), if any.
    pub fn authed(&self, conn: ConnId) -> Option<PublicKey> {
        self.conns.get(&conn).and_then(|c| c.authed)
    }

    /// Handles one text message from `conn` (see the module doc). `now` drives the rate
    /// bucket, `wall` the event checks. Unknown connections get nothing.
    pub fn handle_message(
        &mut self,
        conn: ConnId,
        text: &[u8],
        store: &dyn EventQuery,
        now: Instant,
        wall: UnixTime,
    ) -> Handled {
        let Some(c) = self.conns.get_mut(&conn) else { return Handled::default() };
        let parsed = match msg::parse(text) {
            Ok(m) => m,
            Err(bad) => {
                // Malformed input costs a token too, so garbage cannot be sent faster.
                let _ = c.bucket.take(now);
                if let msg::BadMsg::Closed { sub, .. } = &bad {
                    c.subs.retain(|s| s.id != *sub);
                }
                return Handled::reply(bad.render());
            }
        };
        if !c.bucket.take(now) {
            const WHY: &str = "rate-limited: slow down";
            return Handled::reply(match &parsed {
                ClientMsg::Event(ev) | ClientMsg::Auth(ev) => msg::ok(&ev.id, false, WHY),
                ClientMsg::Req { sub, .. } => {
                    c.subs.retain(|s| s.id != *sub);
                    msg::closed(sub, WHY)
                }
                ClientMsg::Close(_) => msg::notice(WHY),
            });
        }
        match parsed {
            ClientMsg::Event(ev) => self.handle_event(conn, ev, store, wall),
            ClientMsg::Auth(ev) => {
                let id = ev.id;
                let c = self.conns.get_mut(&conn).expect("looked up above");
                match auth::check(ev, &c.challenge, wall) {
                    Ok(pk) => {
                        c.authed = Some(pk);
                        Handled::reply(msg::ok(&id, true, ""))
                    }
                    Err(e) => Handled::reply(msg::ok(&id, false, &format!("invalid: {e}"))),
                }
            }
            ClientMsg::Req { sub, filters } => self.handle_req(conn, sub, filters, store, wall),
            ClientMsg::Close(sub) => {
                let c = self.conns.get_mut(&conn).expect("looked up above");
                c.subs.retain(|s| s.id != sub);
                Handled::default()
            }
        }
    }

    fn handle_event(
        &mut self,
        conn: ConnId,
        ev: crate::event::Event,
        store: &dyn EventQuery,
        wall: UnixTime,
    ) -> Handled {
        let id = ev.id;
        let no = |why: &str| Handled::reply(msg::ok(&id, false, why));
        if !self.cfg.writable {
            return no("restricted: this node is read-only");
        }
        let ev = match ev.verify(wall) {
            Ok(ev) => ev,
            Err(e) => return no(&format!("invalid: {e}")),
        };
        if ev.kind == KIND_AUTH {
            return no("invalid: an AUTH event is sent with AUTH, not published");
        }
        let authed = self.conns.get(&conn).and_then(|c| c.authed);
        if ev.pubkey != self.cfg.owner && !self.cfg.accept_any_author {
            return no("restricted: only this node's owner may publish here");
        }
        if is_protected(&ev) && authed != Some(ev.pubkey) {
            return no(if authed.is_none() {
                "auth-required: this event is protected (NIP-70); authenticate as its author"
            } else {
                "restricted: this event is protected (NIP-70) and you are not its author"
            });
        }
        if is_expired(&ev, wall) {
            return no("invalid: this event has expired (NIP-40)");
        }
        if store.is_deleted(&ev) {
            return no("blocked: its author deleted this event");
        }
        if store.contains(&ev.id) {
            return Handled::reply(msg::ok(&id, true, "duplicate: already have this event"));
        }
        if is_ephemeral(ev.kind) {
            return Handled { replies: vec![msg::ok(&id, true, "")], accepted: Some(Accepted::Ephemeral(ev)) };
        }
        Handled { replies: Vec::new(), accepted: Some(Accepted::Store(ev)) }
    }

    fn handle_req(
        &mut self,
        conn: ConnId,
        sub: String,
        filters: Vec<Filter>,
        store: &dyn EventQuery,
        wall: UnixTime,
    ) -> Handled {
        let owner = self.cfg.owner;
        let c = self.conns.get_mut(&conn).expect("caller looked it up");
        let is_owner = c.authed == Some(owner);
        if !is_owner && filters.iter().any(|f| wants_private(f, &owner)) {
            // A CLOSED ends the subscription of that id, if one was open (NIP-01).
            c.subs.retain(|s| s.id != sub);
            return Handled::reply(msg::closed(
                &sub,
                "auth-required: events addressed to this node's owner are served only after AUTH as the owner",
            ));
        }
        let replacing = c.subs.iter().position(|s| s.id == sub);
        if replacing.is_none() && c.subs.len() >= RELAY_MAX_SUBS {
            return Handled::reply(msg::closed(
                &sub,
                &format!("error: at most {RELAY_MAX_SUBS} open subscriptions per connection; CLOSE one first"),
            ));
        }
        let cost: usize = filters.iter().map(Filter::cost).sum();
        let held = c.filter_bytes() - replacing.map_or(0, |i| c.subs[i].cost);
        if held + cost > RELAY_MAX_CONN_FILTER_BYTES {
            c.subs.retain(|s| s.id != sub);
            return Handled::reply(msg::closed(
                &sub,
                &format!("error: the open subscriptions' filters exceed {RELAY_MAX_CONN_FILTER_BYTES} bytes"),
            ));
        }
        if let Some(i) = replacing {
            c.subs.remove(i);
        }
        let room = RELAY_MAX_BACKLOG.saturating_sub(c.backlog_events());
        let visible = |ev: &crate::event::Event| servable(ev, &owner, is_owner, wall) && store.is_current(ev);
        let ids = filter::query(&filters, store, room, &visible);
        self.next_serial += 1;
        let serial = self.next_serial;
        c.backlog.extend(ids.into_iter().map(|id| Pending::Event { serial, id }));
        c.backlog.push_back(Pending::Eose { serial });
        c.subs.push(Sub { id: sub, serial, filters, cost });
        Handled::default()
    }

    /// The next pending message for `conn`: a stored result of a `REQ`, then its `EOSE`.
    /// Results of closed or replaced subscriptions, and events gone from the store since the
    /// query, are skipped. `None` when nothing is pending.
    pub fn poll_message(&mut self, conn: ConnId, store: &dyn EventQuery) -> Option<String> {
        let c = self.conns.get_mut(&conn)?;
        while let Some(p) = c.backlog.pop_front() {
            let (serial, id) = match p {
                Pending::Event { serial, id } => (serial, Some(id)),
                Pending::Eose { serial } => (serial, None),
            };
            let Some(sub) = c.subs.iter().find(|s| s.serial == serial) else { continue };
            match id {
                None => return Some(msg::eose(&sub.id)),
                Some(id) => {
                    if let Some(ev) = store.get(&id) {
                        return Some(msg::event(&sub.id, &ev));
                    }
                }
            }
        }
        None
    }

    /// The live `EVENT` messages for a newly stored (or ephemeral) event: one per matching
    /// subscription whose connection may see it, in connection then subscription order.
    /// Nothing for an event the store holds only as a superseded version (an older
    /// replaceable one) or that its author deleted.
    pub fn handle_new_event(
        &self,
        ev: &crate::event::Event,
        store: &dyn EventQuery,
        wall: UnixTime,
    ) -> Vec<(ConnId, String)> {
        let mut out = Vec::new();
        if !store.is_current(ev) || store.is_deleted(ev) {
            return out;
        }
        let mut json: Option<String> = None;
        for (id, c) in &self.conns {
            let is_owner = c.authed == Some(self.cfg.owner);
            if !servable(ev, &self.cfg.owner, is_owner, wall) {
                continue;
            }
            for sub in c.subs.iter().filter(|s| s.filters.iter().any(|f| f.matches(ev))) {
                let body = json.get_or_insert_with(|| crate::event::json::to_client_json(ev));
                out.push((*id, msg::event_json(&sub.id, body)));
            }
        }
        out
    }
}

/// Whether a connection (the owner's, or anyone's) may be sent `ev` at `wall`.
fn servable(ev: &crate::event::Event, owner: &PublicKey, is_owner: bool, wall: UnixTime) -> bool {
    !is_expired(ev, wall) && (is_owner || is_public(ev, owner))
}

/// Whether a filter explicitly asks for what only the owner may read: direct messages, or
/// events tagging the owner (`#p`) — replies, mentions, likes.
fn wants_private(f: &Filter, owner: &PublicKey) -> bool {
    let owner_hex = owner.to_hex();
    let dm = f.kinds.as_ref().is_some_and(|k| k.iter().any(|k| PRIVATE_KINDS.contains(k)));
    let tagged = f.tags.iter().any(|(l, vs)| *l == 'p' && vs.contains(&owner_hex));
    dm || tagged
}
