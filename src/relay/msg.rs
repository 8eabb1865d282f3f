//! NIP-01 messages: parsing what a client sends, rendering what the relay answers.
//!
//! Client → relay: `["EVENT", <event>]`, `["REQ", <sub id>, <filter>…]`, `["CLOSE", <sub id>]`
//! and NIP-42 `["AUTH", <event>]`. A message that is not one of these is answered with the
//! message the client should get (`NOTICE`, `CLOSED` or `OK false` with NIP-01's
//! machine-readable prefix), never a panic: [`parse`] returns that answer as its error.
//!
//! Relay → client: `EVENT`, `OK`, `EOSE`, `CLOSED`, `NOTICE` and `AUTH`, rendered as compact
//! JSON (no spaces); the event inside `EVENT` uses the canonical escaping of
//! [`crate::event::json`]. The exact bytes are pinned by golden tests.
//!
//! Bounds: the message length ([`RELAY_MAX_MESSAGE_BYTES`]) is checked before parsing;
//! serde_json refuses nesting deeper than 128, so hostile depth cannot overflow the stack.

use serde_json::Value;

use super::filter::Filter;
use crate::event::json::parse_event_value;
use crate::event::{Event, EventId};
use crate::hex;
use crate::limits::{RELAY_MAX_FILTERS, RELAY_MAX_MESSAGE_BYTES, RELAY_MAX_SUB_ID_BYTES};

/// A well-formed client message. Events are parsed but not yet verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientMsg {
    /// `["EVENT", event]`: publish.
    Event(Event),
    /// `["REQ", sub, filters…]`: stored events, `EOSE`, then live ones.
    Req {
        /// Subscription id (1 to [`RELAY_MAX_SUB_ID_BYTES`] bytes).
        sub: String,
        /// 1 to [`RELAY_MAX_FILTERS`] filters, OR-ed.
        filters: Vec<Filter>,
    },
    /// `["CLOSE", sub]`: end a subscription.
    Close(String),
    /// `["AUTH", event]`: NIP-42 authentication (a signed kind 22242 event).
    Auth(Event),
}

/// Why a client message was refused, as the answer the client gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadMsg {
    /// Answered `["NOTICE", msg]`: nothing in it could be tied to an event or subscription.
    Notice(String),
    /// Answered `["CLOSED", sub, msg]`: a `REQ` with a readable subscription id (which the
    /// relay then forgets, as NIP-01 says a `CLOSED` ends the subscription).
    Closed {
        /// Subscription id.
        sub: String,
        /// Prefixed reason.
        msg: String,
    },
    /// Answered `["OK", id, false, msg]`: an `EVENT` or `AUTH` with a readable id.
    Ok {
        /// Event id.
        id: EventId,
        /// Prefixed reason.
        msg: String,
    },
}

impl BadMsg {
    /// The message to send.
    pub fn render(&self) -> String {
        match self {
            BadMsg::Notice(m) => notice(m),
            BadMsg::Closed { sub, msg } => closed(sub, msg),
            BadMsg::Ok { id, msg } => ok(id, false, msg),
        }
    }
}

fn bad_notice(m: String) -> BadMsg {
    BadMsg::Notice(m)
}

fn bad_closed(sub: &str, msg: String) -> BadMsg {
    BadMsg::Closed { sub: sub.to_string(), msg }
}

/// Parses one text message.
///
/// # Errors
/// [`BadMsg`]: the answer the client gets instead.
pub fn parse(text: &[u8]) -> Result<ClientMsg, BadMsg> {
    if text.len() > RELAY_MAX_MESSAGE_BYTES {
        return Err(bad_notice(format!(
            "invalid: message of {} bytes is larger than the {RELAY_MAX_MESSAGE_BYTES}-byte limit",
            text.len()
        )));
    }
    let value: Value =
        serde_json::from_slice(text).map_err(|e| bad_notice(format!("invalid: message is not JSON: {e}")))?;
    let Value::Array(mut items) = value else {
        return Err(bad_notice(String::from("invalid: a message is a JSON array whose first element is a verb")));
    };
    let verb = match items.first() {
        Some(Value::String(v)) => v.clone(),
        _ => return Err(bad_notice(String::from("invalid: a message is a JSON array whose first element is a verb"))),
    };
    match verb.as_str() {
        "EVENT" | "AUTH" => {
            if items.len() != 2 {
                return Err(bad_notice(format!("invalid: {verb} takes exactly one event")));
            }
            let raw = items.swap_remove(1);
            let id = event_id_of(&raw);
            let (event, _) = parse_event_value(raw).map_err(|e| match id {
                Some(id) => BadMsg::Ok { id, msg: format!("invalid: {e}") },
                None => bad_notice(format!("invalid: {verb}: {e}")),
            })?;
            Ok(if verb == "EVENT" { ClientMsg::Event(event) } else { ClientMsg::Auth(event) })
        }
        "REQ" => {
            let sub = sub_id(items.get(1), &verb)?;
            let raw_filters = &items[2..];
            if raw_filters.is_empty() {
                return Err(bad_closed(&sub, "invalid: REQ needs at least one filter".into()));
            }
            if raw_filters.len() > RELAY_MAX_FILTERS {
                return Err(bad_closed(&sub, format!("invalid: at most {RELAY_MAX_FILTERS} filters per REQ")));
            }
            let filters = raw_filters
                .iter()
                .map(Filter::parse)
                .collect::<Result<Vec<Filter>, _>>()
                .map_err(|e| bad_closed(&sub, format!("invalid: {e}")))?;
            Ok(ClientMsg::Req { sub, filters })
        }
        "CLOSE" => {
            if items.len() != 2 {
                return Err(bad_notice(String::from("invalid: CLOSE takes exactly one subscription id")));
            }
            Ok(ClientMsg::Close(sub_id(items.get(1), &verb)?))
        }
        _ => Err(bad_notice(format!("invalid: unknown message type {}", json_str(&clip(&verb, 32))))),
    }
}

/// The `id` of an event-like value, when it is a 64-hex string (so a malformed event can
/// still get its `OK false`).
fn event_id_of(v: &Value) -> Option<EventId> {
    let id = v.as_object()?.get("id")?.as_str()?;
    hex::decode_array::<32>(id).ok().map(EventId)
}

fn sub_id(v: Option<&Value>, verb: &str) -> Result<String, BadMsg> {
    match v {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= RELAY_MAX_SUB_ID_BYTES => Ok(s.clone()),
        Some(Value::String(_)) => {
            Err(bad_notice(format!("invalid: {verb}: a subscription id is 1 to {RELAY_MAX_SUB_ID_BYTES} bytes")))
        }
        _ => Err(bad_notice(format!("invalid: {verb}: the second element must be a subscription id string"))),
    }
}

/// The first `n` bytes of `s` at most, cut on a character boundary.
fn clip(s: &str, n: usize) -> String {
    let mut end = s.len().min(n);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// A JSON string literal for `s` (serde_json escaping).
fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a str always serializes")
}

/// `["EVENT",<sub>,<event>]` with the event already rendered as JSON.
pub fn event_json(sub: &str, event_json: &str) -> String {
    format!("[\"EVENT\",{},{event_json}]", json_str(sub))
}

/// `["EVENT",<sub>,<event>]`.
pub fn event(sub: &str, ev: &Event) -> String {
    event_json(sub, &crate::event::json::to_client_json(ev))
}

/// `["OK",<id>,<accepted>,<message>]`.
pub fn ok(id: &EventId, accepted: bool, message: &str) -> String {
    format!("[\"OK\",\"{}\",{accepted},{}]", hex::encode(&id.0), json_str(message))
}

/// `["EOSE",<sub>]`.
pub fn eose(sub: &str) -> String {
    format!("[\"EOSE\",{}]", json_str(sub))
}

/// `["CLOSED",<sub>,<message>]`.
pub fn closed(sub: &str, message: &str) -> String {
    format!("[\"CLOSED\",{},{}]", json_str(sub), json_str(message))
}

/// `["NOTICE",<message>]`.
pub fn notice(message: &str) -> String {
    format!("[\"NOTICE\",{}]", json_str(message))
}

/// `["AUTH",<challenge>]` (NIP-42).
pub fn auth(challenge: &str) -> String {
    format!("[\"AUTH\",{}]", json_str(challenge))
}
