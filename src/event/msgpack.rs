//! The client's MessagePack layout of a `/req` answer, byte for byte as the original Go
//! server emits it (original spec §4.4): `{"Evts":[{Id,Pubkey,Created_at,Kind,Tags,Content,Sig}…]}`.
//!
//! Rules the Flutter client depends on: string keys in this order; `Id`/`Pubkey`/`Sig` and
//! every tag element as **bin**; `Created_at` as float64 (`cb`, the web build cannot read
//! 64-bit integers); `Kind` always `cd` + 2 bytes; `Sig` nil (`c0`) for single-event lookups.
//! A decoder for the same layout is here too, for tests, benchmarks and tools.

use std::fmt;

use rmp::encode;

use super::{Event, EventId, Sig};
use crate::keys::PublicKey;
use crate::time::UnixTime;

/// Whether each event in an answer carries its signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigMode {
    /// Timeline answers keep `Sig`.
    Keep,
    /// Lookups of kinds 0, 1 and 3 send `Sig` as nil, as the original does.
    Nil,
}

/// Encodes `{"Evts":[...]}` for `events` (in the given order).
pub fn encode_events<'a>(events: impl ExactSizeIterator<Item = &'a Event>, sig: SigMode) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + events.len() * 400);
    write_answer_head(&mut out, events.len());
    for e in events {
        encode_event(&mut out, e, sig);
    }
    out
}

/// `{"Evts":` and the array header for `n` events: what [`encode_events`] writes before the
/// first event (for answers rendered piecewise, e.g. from the store's packed bytes).
pub(crate) fn write_answer_head(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&[0x81, 0xa4, b'E', b'v', b't', b's']);
    let n = u32::try_from(n).expect("answers are bounded far below 2^32 events");
    write(encode::write_array_len(out, n));
}

/// Writes to a `Vec` cannot fail; rmp's signature says they might.
fn write<T, E: fmt::Debug>(r: Result<T, E>) {
    r.expect("writing MessagePack into a Vec cannot fail");
}

/// One event in the answer layout, appended to `out`.
pub(crate) fn encode_event(out: &mut Vec<u8>, e: &Event, sig: SigMode) {
    write_event_head(out, &e.id.0, &e.pubkey.0, e.created_at, e.kind, e.tags.len());
    for tag in &e.tags {
        write_tag_head(out, tag.len());
        for elem in tag {
            write_tag_element(out, elem.as_bytes());
        }
    }
    write_event_tail(out, &e.content, &e.sig.0, sig);
}

/// One event's map header and fields up to the `Tags` array header for `ntags` tags. An
/// event is this, then per tag [`write_tag_head`] and its [`write_tag_element`]s, then
/// [`write_event_tail`]: the pieces [`encode_events`] uses, so any caller writes the same bytes.
pub(crate) fn write_event_head(
    out: &mut Vec<u8>,
    id: &[u8; 32],
    pubkey: &[u8; 32],
    created_at: UnixTime,
    kind: u16,
    ntags: usize,
) {
    out.push(0x87);
    key(out, "Id");
    write(encode::write_bin(out, id));
    key(out, "Pubkey");
    write(encode::write_bin(out, pubkey));
    key(out, "Created_at");
    // Seconds up to 2^53 are exact in a float64.
    write(encode::write_f64(out, created_at.0 as f64));
    key(out, "Kind");
    write(encode::write_u16(out, kind));
    key(out, "Tags");
    write(encode::write_array_len(out, len32(ntags)));
}

/// A tag's array header for `nelems` elements.
pub(crate) fn write_tag_head(out: &mut Vec<u8>, nelems: usize) {
    write(encode::write_array_len(out, len32(nelems)));
}

/// One tag element (as `bin`, as the original).
pub(crate) fn write_tag_element(out: &mut Vec<u8>, elem: &[u8]) {
    write(encode::write_bin(out, elem));
}

/// The `Content` and `Sig` fields that end an event.
pub(crate) fn write_event_tail(out: &mut Vec<u8>, content: &str, sig_bytes: &[u8; 64], sig: SigMode) {
    key(out, "Content");
    write(encode::write_str(out, content));
    key(out, "Sig");
    match sig {
        SigMode::Keep => write(encode::write_bin(out, sig_bytes)),
        SigMode::Nil => write(encode::write_nil(out)),
    }
}

fn key(out: &mut Vec<u8>, k: &str) {
    write(encode::write_str(out, k));
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).expect("tag counts are bounded by limits::MAX_TAGS")
}

/// One event as decoded from an answer (its signature may be absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireEvent {
    /// The event; its `sig` is all zeros when the answer carried nil.
    pub event: Event,
    /// Whether `Sig` was present (not nil).
    pub has_sig: bool,
}

/// Why bytes are not an answer in the client's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a /req answer: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Decodes `{"Evts":[...]}` strictly: the same types the Dart client insists on.
///
/// # Errors
/// [`DecodeError`] describing the first deviation.
pub fn decode_events(mut buf: &[u8]) -> Result<Vec<WireEvent>, DecodeError> {
    let r = &mut buf;
    let n = rmp::decode::read_map_len(r).map_err(err("top-level map"))?;
    if n != 1 {
        return Err(DecodeError(format!("top-level map has {n} entries, expected 1")));
    }
    expect_key(r, "Evts")?;
    let count = rmp::decode::read_array_len(r).map_err(err("Evts array"))?;
    let mut events = Vec::with_capacity(count.min(4096) as usize);
    for _ in 0..count {
        events.push(decode_event(r)?);
    }
    if !r.is_empty() {
        return Err(DecodeError(format!("{} trailing bytes", r.len())));
    }
    Ok(events)
}

fn decode_event(r: &mut &[u8]) -> Result<WireEvent, DecodeError> {
    let n = rmp::decode::read_map_len(r).map_err(err("event map"))?;
    if n != 7 {
        return Err(DecodeError(format!("event map has {n} entries, expected 7")));
    }
    expect_key(r, "Id")?;
    let id = bin_array::<32>(r, "Id")?;
    expect_key(r, "Pubkey")?;
    let pubkey = bin_array::<32>(r, "Pubkey")?;
    expect_key(r, "Created_at")?;
    let created = rmp::decode::read_f64(r).map_err(err("Created_at float64"))?;
    if !(0.0..9.007_199_254_740_992e15).contains(&created) || created.fract() != 0.0 {
        return Err(DecodeError(format!("Created_at {created} is not a whole number of seconds")));
    }
    expect_key(r, "Kind")?;
    let kind = rmp::decode::read_u16(r).map_err(err("Kind uint16"))?;
    expect_key(r, "Tags")?;
    let ntags = rmp::decode::read_array_len(r).map_err(err("Tags array"))?;
    let mut tags = Vec::new();
    for _ in 0..ntags {
        let nelems = rmp::decode::read_array_len(r).map_err(err("tag array"))?;
        let mut tag = Vec::new();
        for _ in 0..nelems {
            let bytes = bin(r, "tag element")?;
            tag.push(String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError("tag element is not UTF-8".into()))?);
        }
        tags.push(tag);
    }
    expect_key(r, "Content")?;
    let len = rmp::decode::read_str_len(r).map_err(err("Content str"))? as usize;
    let content = take(r, len, "Content")?;
    let content = String::from_utf8(content.to_vec()).map_err(|_| DecodeError("Content is not UTF-8".into()))?;
    expect_key(r, "Sig")?;
    let (sig, has_sig) = if r.first() == Some(&0xc0) {
        *r = &r[1..];
        ([0u8; 64], false)
    } else {
        (bin_array::<64>(r, "Sig")?, true)
    };
    let event = Event {
        id: EventId(id),
        pubkey: PublicKey(pubkey),
        created_at: UnixTime(created as u64),
        kind,
        tags,
        content,
        sig: Sig(sig),
    };
    Ok(WireEvent { event, has_sig })
}

fn err<E: fmt::Display>(what: &'static str) -> impl Fn(E) -> DecodeError {
    move |e| DecodeError(format!("{what}: {e}"))
}

fn expect_key(r: &mut &[u8], want: &str) -> Result<(), DecodeError> {
    let len = rmp::decode::read_str_len(r).map_err(err("map key"))? as usize;
    let got = take(r, len, "map key")?;
    if got != want.as_bytes() {
        return Err(DecodeError(format!("key {:?}, expected {want:?}", String::from_utf8_lossy(got))));
    }
    Ok(())
}

fn bin<'a>(r: &mut &'a [u8], what: &'static str) -> Result<&'a [u8], DecodeError> {
    let len = rmp::decode::read_bin_len(r).map_err(err(what))? as usize;
    take(r, len, what)
}

fn bin_array<const N: usize>(r: &mut &[u8], what: &'static str) -> Result<[u8; N], DecodeError> {
    let b = bin(r, what)?;
    <[u8; N]>::try_from(b).map_err(|_| DecodeError(format!("{what} is {} bytes, expected {N}", b.len())))
}

fn take<'a>(r: &mut &'a [u8], len: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
    if r.len() < len {
        return Err(DecodeError(format!("{what} truncated")));
    }
    let (head, tail) = r.split_at(len);
    *r = tail;
    Ok(head)
}
