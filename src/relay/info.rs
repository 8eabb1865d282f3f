//! NIP-11 relay information document, answered to `GET /` with
//! `Accept: application/nostr+json`. A pure render of the configuration and the limits.

use serde_json::json;

use crate::keys::PublicKey;
use crate::limits::{
    MAX_EVENT_BYTES, MAX_FUTURE_SKEW, MAX_TAGS, RELAY_DEFAULT_LIMIT, RELAY_MAX_FILTERS, RELAY_MAX_LIMIT,
    RELAY_MAX_MESSAGE_BYTES, RELAY_MAX_SUBS, RELAY_MAX_SUB_ID_BYTES,
};

/// NIPs this relay implements (NIP-11 `supported_nips`).
pub const SUPPORTED_NIPS: [u16; 6] = [1, 9, 11, 40, 42, 70];

/// What the document says about this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfoConfig {
    /// Relay name shown by clients.
    pub name: String,
    /// The owner's public key (NIP-11 `pubkey`).
    pub owner: PublicKey,
    /// Whether the owner's events are accepted at all.
    pub writable: bool,
    /// Whether events by other authors are accepted too.
    pub accept_any_author: bool,
}

/// The NIP-11 document as compact JSON.
pub fn render(cfg: &InfoConfig) -> String {
    let doc = json!({
        "name": cfg.name,
        "description": "A nostrp2p node: its owner's posts, timeline and mail, gossiped peer to peer.",
        "pubkey": cfg.owner.to_hex(),
        "supported_nips": SUPPORTED_NIPS,
        "software": "nostrp2p",
        "version": env!("CARGO_PKG_VERSION"),
        "limitation": {
            "max_message_length": RELAY_MAX_MESSAGE_BYTES,
            "max_subscriptions": RELAY_MAX_SUBS,
            "max_filters": RELAY_MAX_FILTERS,
            "max_limit": RELAY_MAX_LIMIT,
            "default_limit": RELAY_DEFAULT_LIMIT,
            "max_subid_length": RELAY_MAX_SUB_ID_BYTES,
            "max_event_tags": MAX_TAGS,
            "max_content_length": MAX_EVENT_BYTES,
            "created_at_upper_limit": MAX_FUTURE_SKEW.as_secs(),
            "auth_required": false,
            "payment_required": false,
            "restricted_writes": !cfg.accept_any_author || !cfg.writable,
        },
    });
    doc.to_string()
}
