//! `POST /publish`: decide whether one client-signed event is accepted (original spec §4.2).
//!
//! Order of checks, first failure answers:
//! 1. empty body → 400 `JSON payload is empty`;
//! 2. JSON decode → 400 naming the field (`parse_event` also checks hex lengths here; the
//!    original decoded hex only after the signature check — a bad-hex body is therefore a
//!    400 even on a read-only server, where the original said 406);
//! 3. read-only server → 406 `Write is denied`;
//! 4. [`Event::verify`]: size → 413, `created_at` too far in the future → 400, id not the
//!    hash → 400 (the original never checked the id), signature → 400 `Invalid Sig`;
//! 5. author is not the owner → 403, unless `accept_any_author` (the original accepted any
//!    author for kinds 1/6/7 and silently dropped other authors' kinds 0/3 with a 200);
//! 6. per kind: 1 needs content (`Content is required`), non-empty tags, and `p` tags with a
//!    64-hex value; 0 and 3 need `tags` not null (`Tags is null`); 7 needs a `p` tag with a
//!    64-hex value; 6 needs nothing; any other kind → 400 `unsupported kind N` (the
//!    original answered all of these with a 500 and a stack trace).
//!
//! Pure: the caller stores the accepted event and only then answers (see `publish_done`).

use super::request::Request;
use super::{HttpConfig, Reject};
use crate::event::json::{parse_event, Parsed};
use crate::event::{
    Event, EventError, VerifiedEvent, KIND_FOLLOW_LIST, KIND_POST, KIND_PROFILE, KIND_REACTION, KIND_REPOST,
};
use crate::hex;
use crate::time::UnixTime;

/// The original's message for an event whose signature does not verify (kept verbatim).
pub(crate) const INVALID_SIG: &str = "Invalid Sig";

/// Checks one `/publish` body.
///
/// # Errors
/// [`Reject`] with the status and message of the first failed check (module doc).
pub(super) fn check(req: &Request, cfg: &HttpConfig, now: UnixTime) -> Result<VerifiedEvent, Reject> {
    if req.body.is_empty() {
        return Err(Reject::new(400, "JSON payload is empty"));
    }
    let Parsed { event, tags_null } = parse_event(&req.body).map_err(|e| Reject::new(400, e.to_string()))?;
    if !cfg.writable {
        return Err(Reject::new(406, "Write is denied"));
    }
    let event = event.verify(now).map_err(verify_rejection)?;
    if !cfg.accept_any_author && event.pubkey != cfg.owner {
        return Err(Reject::new(
            403,
            format!(
                "event is signed by {}, not by this server's owner; only the owner's events are accepted",
                event.pubkey.to_hex()
            ),
        ));
    }
    check_kind(&event, tags_null)?;
    Ok(event)
}

fn verify_rejection(e: EventError) -> Reject {
    match e {
        EventError::BadSignature => Reject::new(400, INVALID_SIG),
        EventError::BadPubkey => Reject::new(400, format!("{INVALID_SIG}: {e}")),
        EventError::TooLarge { .. } | EventError::TooManyTags => Reject::new(413, e.to_string()),
        EventError::FromTheFuture { .. } | EventError::IdMismatch { .. } => Reject::new(400, e.to_string()),
    }
}

fn check_kind(e: &Event, tags_null: bool) -> Result<(), Reject> {
    match e.kind {
        KIND_POST => {
            if e.content.is_empty() {
                return Err(Reject::new(400, "Content is required"));
            }
            for (i, tag) in e.tags.iter().enumerate() {
                match tag.first().map(String::as_str) {
                    None => return Err(Reject::new(400, format!("tag {i} is empty"))),
                    Some("p") => check_p_value(i, tag)?,
                    Some(_) => {}
                }
            }
            Ok(())
        }
        KIND_REPOST => Ok(()),
        KIND_PROFILE | KIND_FOLLOW_LIST if tags_null => Err(Reject::new(400, "Tags is null")),
        KIND_PROFILE | KIND_FOLLOW_LIST => Ok(()),
        KIND_REACTION => {
            let first_p = e.tags.iter().enumerate().find(|(_, t)| t.first().map(String::as_str) == Some("p"));
            match first_p {
                Some((i, tag)) => check_p_value(i, tag),
                None => Err(Reject::new(400, "a reaction (kind 7) needs a p tag naming the liked event's author")),
            }
        }
        other => Err(Reject::new(400, format!("unsupported kind {other}: this server accepts kinds 0, 1, 3, 6 and 7"))),
    }
}

/// A `p` tag's value must be a 64-hex public key: the server routes the event to that
/// user's server (the original panicked on a missing or malformed value).
fn check_p_value(index: usize, tag: &[String]) -> Result<(), Reject> {
    let Some(value) = tag.get(1) else {
        return Err(Reject::new(400, format!("p tag {index} has no pubkey")));
    };
    hex::decode_array::<32>(value).map(|_| ()).map_err(|e| Reject::new(400, format!("p tag {index}: {e}")))
}
