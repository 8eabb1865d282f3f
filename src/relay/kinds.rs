//! Which events a relay connection may see and which may leave this node: NIP-40
//! expiration, NIP-70 protection, and the privacy rule for addressed events.
//!
//! Privacy rule: public events (anyone's broadcast-class posts, reposts and profiles,
//! everything the owner wrote, events that do not name the owner) are readable by any
//! connection, so the node can be its owner's outbox relay (NIP-65). Events addressed to the
//! owner — replies, mentions and likes by others that `p`-tag the owner, delivered here — and
//! direct messages (whoever wrote them) are served only to a connection authenticated
//! (NIP-42) as the owner.
//!
//! Pure functions of the event, the owner and the time passed in.

use crate::app::classify::is_broadcast_class;
use crate::event::Event;
use crate::keys::PublicKey;
use crate::time::UnixTime;

/// Kind 22242: NIP-42 client authentication (sent with `AUTH`, never stored).
pub const KIND_AUTH: u16 = 22242;

/// Direct-message kinds (NIP-04 DM 4, NIP-59 seal 13 and gift wrap 1059, NIP-17 chat 14 and
/// file 15): served to the owner only, whoever wrote them.
pub const PRIVATE_KINDS: [u16; 5] = [4, 13, 14, 15, 1059];

/// The NIP-40 `expiration` time, when the event has a well-formed one.
pub fn expiration(ev: &Event) -> Option<UnixTime> {
    ev.tag_values("expiration").next().and_then(|v| v.parse::<u64>().ok()).map(UnixTime)
}

/// Whether `ev` has expired at `now` (NIP-40): neither served, accepted nor gossiped.
pub fn is_expired(ev: &Event, now: UnixTime) -> bool {
    expiration(ev).is_some_and(|at| at <= now)
}

/// Whether `ev` carries the NIP-70 `["-"]` tag: only its author may publish it, and it stays
/// on its author's node.
pub fn is_protected(ev: &Event) -> bool {
    ev.tags.iter().any(|t| t.len() == 1 && t[0] == "-")
}

/// Whether any connection may read `ev` (the module doc's privacy rule): not a direct
/// message, and written by the owner, or broadcast-class, or not addressed to the owner.
pub fn is_public(ev: &Event, owner: &PublicKey) -> bool {
    if PRIVATE_KINDS.contains(&ev.kind) {
        return false;
    }
    ev.pubkey == *owner || is_broadcast_class(ev) || !addresses(ev, owner)
}

/// Whether `ev` names `owner` in a `p` tag (a reply, mention or like meant for them).
fn addresses(ev: &Event, owner: &PublicKey) -> bool {
    let owner_hex = owner.to_hex();
    ev.tag_values("p").any(|v| v.eq_ignore_ascii_case(&owner_hex))
}

/// Whether `ev` may be sent to other nodes at `now`: not protected (NIP-70) and not expired
/// (NIP-40). The driver asks this before routing an owner's event as `/publish` does.
pub fn may_leave_node(ev: &Event, now: UnixTime) -> bool {
    !is_protected(ev) && !is_expired(ev, now)
}
