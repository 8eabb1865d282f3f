//! NIP-01 JSON: parsing the event a client POSTs, the canonical serialization that is hashed
//! into the id, and the client's own JSON form (for tests, benchmarks and tools).
//!
//! Parsing never panics: every malformed body yields a [`JsonError`] naming the field.

use std::fmt;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Event, EventId, Sig};
use crate::hex;
use crate::keys::PublicKey;
use crate::time::UnixTime;

/// An event parsed from JSON, plus the one fact the JSON had that the event does not keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The event (tags `null` become `[]`, as the id is computed over `[]`).
    pub event: Event,
    /// The body said `"tags": null` (or had no tags); the original rejects that for kinds 0 and 3.
    pub tags_null: bool,
}

/// Why a JSON body is not an event.
#[derive(Debug)]
pub enum JsonError {
    /// Not JSON at all (the cause says where).
    Syntax(serde_json::Error),
    /// JSON, but not an object.
    NotAnObject,
    /// A required field is absent.
    Missing(&'static str),
    /// A field has the wrong type or an invalid value.
    Field {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        why: String,
    },
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Syntax(e) => write!(f, "invalid JSON: {e}"),
            JsonError::NotAnObject => write!(f, "expected a JSON object"),
            JsonError::Missing(field) => write!(f, "field \"{field}\" is missing"),
            JsonError::Field { field, why } => write!(f, "field \"{field}\": {why}"),
        }
    }
}

impl std::error::Error for JsonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JsonError::Syntax(e) => Some(e),
            _ => None,
        }
    }
}

/// Parses a NIP-01 event object. Keys match case-insensitively and unknown keys are ignored,
/// as the original's Go decoder does.
///
/// # Errors
/// [`JsonError`] naming what is malformed.
pub fn parse_event(body: &[u8]) -> Result<Parsed, JsonError> {
    let value: Value = serde_json::from_slice(body).map_err(JsonError::Syntax)?;
    parse_event_value(value).map(|event| Parsed { tags_null: event.1, event: event.0 })
}

/// [`parse_event`] of an already parsed JSON value (a relay's `["EVENT", {…}]`); the flag
/// says the value had `"tags": null` or no tags.
///
/// # Errors
/// [`JsonError`] naming what is malformed ([`JsonError::Syntax`] never).
pub fn parse_event_value(value: Value) -> Result<(Event, bool), JsonError> {
    let Value::Object(map) = value else { return Err(JsonError::NotAnObject) };
    let get = |name: &'static str| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);

    let id = hex_field::<32>(get("id"), "id")?;
    let pubkey = hex_field::<32>(get("pubkey"), "pubkey")?;
    let sig = hex_field::<64>(get("sig"), "sig")?;
    let created_at = match get("created_at") {
        None => return Err(JsonError::Missing("created_at")),
        Some(v) => v.as_u64().ok_or_else(|| JsonError::Field {
            field: "created_at",
            why: format!("expected a non-negative integer (seconds), found {}", short(v)),
        })?,
    };
    let kind = match get("kind") {
        None => return Err(JsonError::Missing("kind")),
        Some(v) => v.as_u64().and_then(|k| u16::try_from(k).ok()).ok_or_else(|| JsonError::Field {
            field: "kind",
            why: format!("expected an integer from 0 to 65535, found {}", short(v)),
        })?,
    };
    let (tags, tags_null) = match get("tags") {
        None | Some(Value::Null) => (Vec::new(), true),
        Some(Value::Array(tags)) => (parse_tags(tags)?, false),
        Some(v) => {
            return Err(JsonError::Field { field: "tags", why: format!("expected an array, found {}", short(v)) })
        }
    };
    let content = match get("content") {
        None => return Err(JsonError::Missing("content")),
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            return Err(JsonError::Field { field: "content", why: format!("expected a string, found {}", short(v)) })
        }
    };
    let event = Event {
        id: EventId(id),
        pubkey: PublicKey(pubkey),
        created_at: UnixTime(created_at),
        kind,
        tags,
        content,
        sig: Sig(sig),
    };
    Ok((event, tags_null))
}

fn parse_tags(tags: &[Value]) -> Result<Vec<Vec<String>>, JsonError> {
    let bad = |why: String| JsonError::Field { field: "tags", why };
    tags.iter()
        .enumerate()
        .map(|(i, tag)| match tag {
            Value::Array(elems) => elems
                .iter()
                .enumerate()
                .map(|(j, e)| match e {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(bad(format!("element {j} of tag {i} is {}, expected a string", short(other)))),
                })
                .collect(),
            other => Err(bad(format!("tag {i} is {}, expected an array of strings", short(other)))),
        })
        .collect()
}

fn hex_field<const N: usize>(v: Option<&Value>, field: &'static str) -> Result<[u8; N], JsonError> {
    match v {
        None => Err(JsonError::Missing(field)),
        Some(Value::String(s)) => hex::decode_array::<N>(s).map_err(|e| JsonError::Field { field, why: e.to_string() }),
        Some(other) => Err(JsonError::Field { field, why: format!("expected a hex string, found {}", short(other)) }),
    }
}

/// A short description of a JSON value's type for error messages (never its content).
fn short(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(n) if n.is_i64() && n.as_i64().is_some_and(|x| x < 0) => "a negative number",
        Value::Number(_) => "a number out of range",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The NIP-01 serialization `[0,"<pubkey>",<created_at>,<kind>,<tags>,"<content>"]` whose
/// SHA-256 is the id: no whitespace, strings escaped as go-nostr's `escapeString` does.
pub fn canonical_bytes(e: &Event) -> Vec<u8> {
    let mut s = String::with_capacity(96 + e.content.len() + e.tags.len() * 80);
    write_canonical(&mut s, e);
    s.into_bytes()
}

/// The SHA-256 of [`canonical_bytes`] and its length, without building it: the pieces go
/// straight into the hash. Past `limit` bytes it only counts (the caller rejects the event
/// by its length, so an oversized one costs no hashing past the limit).
pub fn canonical_hash(e: &Event, limit: usize) -> ([u8; 32], usize) {
    let mut h = Hashing { sha: Sha256::new(), len: 0, limit };
    write_canonical(&mut h, e);
    (h.sha.finalize().into(), h.len)
}

/// Where the canonical form goes: a string, or the id hash.
trait Sink {
    fn put(&mut self, s: &str);
}

impl Sink for String {
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
}

/// Feeds SHA-256 and counts bytes; stops feeding past `limit`.
struct Hashing {
    sha: Sha256,
    len: usize,
    limit: usize,
}

impl Sink for Hashing {
    fn put(&mut self, s: &str) {
        self.len = self.len.saturating_add(s.len());
        if self.len <= self.limit {
            self.sha.update(s.as_bytes());
        }
    }
}

fn write_canonical(out: &mut impl Sink, e: &Event) {
    let mut hex = [0u8; 64];
    out.put("[0,\"");
    out.put(hex_of(&e.pubkey.0, &mut hex));
    out.put("\",");
    put_u64(out, e.created_at.0);
    out.put(",");
    put_u64(out, u64::from(e.kind));
    out.put(",");
    push_tags(out, &e.tags);
    out.put(",");
    push_string(out, &e.content);
    out.put("]");
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex of 32 bytes in `buf`, without allocating.
fn hex_of<'a>(bytes: &[u8; 32], buf: &'a mut [u8; 64]) -> &'a str {
    for (pair, b) in buf.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX_DIGITS[usize::from(b >> 4)];
        pair[1] = HEX_DIGITS[usize::from(b & 0xf)];
    }
    std::str::from_utf8(buf).unwrap_or_default() // ASCII digits: always UTF-8
}

/// Decimal of `v`, without allocating.
fn put_u64(out: &mut impl Sink, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.put(std::str::from_utf8(&buf[i..]).unwrap_or_default()); // ASCII digits
}

/// The event as the client POSTs it: keys in the order id, pubkey, created_at, kind, tags,
/// content, sig.
pub fn to_client_json(e: &Event) -> String {
    let mut s = String::with_capacity(300 + e.content.len());
    s.push_str("{\"id\":\"");
    s.push_str(&hex::encode(&e.id.0));
    s.push_str("\",\"pubkey\":\"");
    s.push_str(&e.pubkey.to_hex());
    s.push_str("\",\"created_at\":");
    s.push_str(&e.created_at.0.to_string());
    s.push_str(",\"kind\":");
    s.push_str(&e.kind.to_string());
    s.push_str(",\"tags\":");
    push_tags(&mut s, &e.tags);
    s.push_str(",\"content\":");
    push_string(&mut s, &e.content);
    s.push_str(",\"sig\":\"");
    s.push_str(&hex::encode(&e.sig.0));
    s.push_str("\"}");
    s
}

fn push_tags(s: &mut impl Sink, tags: &[Vec<String>]) {
    s.put("[");
    for (i, tag) in tags.iter().enumerate() {
        if i > 0 {
            s.put(",");
        }
        s.put("[");
        for (j, elem) in tag.iter().enumerate() {
            if j > 0 {
                s.put(",");
            }
            push_string(s, elem);
        }
        s.put("]");
    }
    s.put("]");
}

/// Appends `v` as a JSON string with NIP-01's escaping: `\"`, `\\`, `\b \t \n \f \r`, other
/// control bytes as `\u00xx`; everything else (non-ASCII UTF-8, `/`, DEL) raw.
fn push_string(s: &mut impl Sink, v: &str) {
    s.put("\"");
    let mut run = 0; // start of the bytes not yet written (unescaped text goes in runs)
    for (i, c) in v.char_indices() {
        let esc = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\u{08}' => "\\b",
            '\t' => "\\t",
            '\n' => "\\n",
            '\u{0c}' => "\\f",
            '\r' => "\\r",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        s.put(&v[run..i]);
        if esc.is_empty() {
            let b = c as u8; // below 0x20
            let u = [b'\\', b'u', b'0', b'0', HEX_DIGITS[usize::from(b >> 4)], HEX_DIGITS[usize::from(b & 0xf)]];
            s.put(std::str::from_utf8(&u).unwrap_or_default()); // ASCII
        } else {
            s.put(esc);
        }
        run = i + c.len_utf8();
    }
    s.put(&v[run..]);
    s.put("\"");
}
