//! Admission of new broadcast events by where they enter the network (issue 8 item 5).
//!
//! Bans are per node id and author limits per key, so a host with fresh keys gets around
//! both; and a per-link payload limit low enough to stop it capped the whole network (every
//! post crosses every core tree link) at ~20 posts/s. So the two are separated:
//!
//! * **Relay links** carry everyone's posts and are limited only by the per-link flood guard
//!   (`CONN_PAYLOAD_PER_S`, far above honest load) and the per-author limit. A relay link is one
//!   to a core active-view neighbour or a home that *we* dialled (its address came from our
//!   bootstrap list or directory), or one the peer opened that has stayed in our view for
//!   `RELAY_TRUST_MS`: a stranger cannot become a relay just by saying `Join`.
//! * **Every other link** (a leaf, an on-demand or brand-new inbound connection) is an entry
//!   point: each event new to us that it brings, other than its own owner's posts, takes a
//!   token from the connection's budget (`INJECT_PER_S`) *and* from the budget of its IP prefix
//!   (IPv4 /24, IPv6 /48: `INJECT_PREFIX_PER_S`), so many connections from one host or subnet
//!   share one budget. Over budget ⇒ dropped and counted, never marked seen (the same event can
//!   still arrive through a relay) and never a ban.
//!
//! A node's own owner's posts (author's node id = the authenticated peer's node id) are only
//! per-author limited: that is what a leaf sends. Pure: time comes from the overlay's `now`.

use super::conn::Conn;
use super::params::*;
use super::Overlay;
use crate::wire::{Addr, ConnId, Key32, NodeId};

/// The network an address belongs to, as far as one operator usually controls it: IPv4 /24,
/// IPv6 /48 (tag byte 4 or 6, then the prefix bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Prefix([u8; 7]);

impl Prefix {
    /// The prefix of `addr`.
    pub fn of(addr: &Addr) -> Prefix {
        let mut p = [0u8; 7];
        match addr.as_v4() {
            Some(a) => {
                p[0] = 4;
                p[1..4].copy_from_slice(&a[..3]);
            }
            None => {
                p[0] = 6;
                p[1..7].copy_from_slice(&addr.ip[..6]);
            }
        }
        Prefix(p)
    }
}

/// Where a new event entered, captured when it arrives (a held event is admitted later).
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    /// The connection, while it exists.
    pub conn: Option<ConnId>,
    /// A relay link (see the module doc).
    pub relay: bool,
    /// The peer's network.
    pub prefix: Option<Prefix>,
}

impl Overlay {
    /// True if `c` (to node `from`) is a relay link: see the module doc.
    pub(super) fn is_relay_link(&self, c: &Conn, from: NodeId) -> bool {
        // A parent or child in a per-author tree relays like an active-view neighbour, under
        // the same trust rule (we dialled it, or it stayed `RELAY_TRUST_MS`).
        let upstream = self.active.contains(&from) || self.homes.contains(&from) || self.is_tree_neighbour(from);
        upstream && (c.outbound || self.now.since(c.opened) >= RELAY_TRUST_MS)
    }

    /// How an event arriving on `conn` from `from` is admitted.
    pub(super) fn entry_of(&self, conn: ConnId, from: NodeId) -> Entry {
        match self.conns.get(&conn) {
            Some(c) => Entry {
                conn: Some(conn),
                relay: self.is_relay_link(c, from),
                prefix: c.remote.as_ref().map(Prefix::of),
            },
            None => Entry { conn: None, relay: false, prefix: None },
        }
    }

    /// Charge a verified event new to us against its entry point's budgets; false ⇒ drop it
    /// (counted in `inject_dropped`).
    pub(super) fn admit_new_event(&mut self, entry: &Entry, from: NodeId, author: Key32) -> bool {
        if entry.relay || NodeId::of_pubkey(&author.0) == from {
            return true;
        }
        let now = self.now;
        let conn_ok = match entry.conn.and_then(|c| self.conns.get_mut(&c)) {
            Some(c) => c.inject.take(now),
            None => true,
        };
        let ok = conn_ok && entry.prefix.is_none_or(|p| self.prefixes.allow(p, now));
        if !ok {
            self.stats_mut().inject_dropped += 1;
            log::debug!("event from {from} over its entry budget: dropped");
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_group_a_subnet_and_nothing_more() {
        let p = |a: [u8; 4]| Prefix::of(&Addr::v4(a, 1));
        assert_eq!(p([10, 1, 2, 3]), p([10, 1, 2, 200]));
        assert_ne!(p([10, 1, 2, 3]), p([10, 1, 3, 3]));
        let v6 = |last: u8, sixth: u8| {
            let mut ip = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last];
            ip[5] = sixth;
            Prefix::of(&Addr { ip, port: 1 })
        };
        assert_eq!(v6(1, 0), v6(2, 0), "same /48");
        assert_ne!(v6(1, 0), v6(1, 1), "another /48");
        assert_ne!(p([32, 1, 13, 184]), v6(1, 0), "v4 and v6 never collide");
    }
}
