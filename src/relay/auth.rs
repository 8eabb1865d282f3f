//! NIP-42 authentication: checking the signed kind-22242 event a client answers the
//! relay's `["AUTH", <challenge>]` with.
//!
//! Checks, first failure answers: kind 22242; id and signature ([`Event::verify`]);
//! `created_at` within [`RELAY_AUTH_WINDOW`] of the relay's clock either way; a `challenge`
//! tag equal to this connection's challenge; a `relay` tag holding a `ws://` or `wss://` URL.
//! The relay's own URL is not compared: a node is reached under many names (Tailscale IP,
//! MagicDNS, LAN address), and the per-connection random challenge already stops an AUTH
//! event from being replayed on another connection or relay. Pure: `now` is a parameter.

use std::fmt;

use super::kinds::KIND_AUTH;
use crate::event::{Event, EventError};
use crate::keys::PublicKey;
use crate::limits::RELAY_AUTH_WINDOW;
use crate::time::UnixTime;

/// Why an AUTH event is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// Not kind 22242.
    WrongKind(u16),
    /// The id, signature or size is wrong.
    Invalid(EventError),
    /// `created_at` too far from the relay's clock.
    Stale,
    /// No `challenge` tag, or not this connection's.
    Challenge,
    /// No `relay` tag with a websocket URL.
    Relay,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::WrongKind(k) => write!(f, "an AUTH event is kind {KIND_AUTH}, not {k}"),
            AuthError::Invalid(e) => write!(f, "{e}"),
            AuthError::Stale => {
                write!(f, "created_at is more than {} s from this relay's clock", RELAY_AUTH_WINDOW.as_secs())
            }
            AuthError::Challenge => write!(f, "the challenge tag does not match this connection's challenge"),
            AuthError::Relay => write!(f, "the relay tag must hold a ws:// or wss:// URL"),
        }
    }
}

impl std::error::Error for AuthError {}

/// Checks an AUTH event against this connection's `challenge`; the authenticated key on
/// success.
///
/// # Errors
/// [`AuthError`] naming the first failed check.
pub fn check(ev: Event, challenge: &str, now: UnixTime) -> Result<PublicKey, AuthError> {
    if ev.kind != KIND_AUTH {
        return Err(AuthError::WrongKind(ev.kind));
    }
    let ev = ev.verify(now).map_err(AuthError::Invalid)?;
    let (lo, hi) = (now.saturating_sub(RELAY_AUTH_WINDOW), now.saturating_add(RELAY_AUTH_WINDOW));
    if ev.created_at < lo || ev.created_at > hi {
        return Err(AuthError::Stale);
    }
    if ev.tag_values("challenge").next() != Some(challenge) {
        return Err(AuthError::Challenge);
    }
    let relay_ok = ev.tag_values("relay").next().is_some_and(|url| {
        let lower = url.to_ascii_lowercase();
        (lower.starts_with("ws://") && lower.len() > 5) || (lower.starts_with("wss://") && lower.len() > 6)
    });
    if !relay_ok {
        return Err(AuthError::Relay);
    }
    Ok(ev.pubkey)
}
