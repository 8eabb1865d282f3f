//! Admission of *new* node ids learnt from gossip: records in `DirRecords` anti-entropy answers
//! and record broadcasts (issue 8 item 1, the gossiped-Sybil case).
//!
//! Handshakes tie a new id to the IP it connects from (`NEW_IDS_PER_PREFIX_BURST` in
//! `conn.rs`); gossiped records are not tied to any IP, so before this one connected core node
//! could fill every directory it reached with fabricated, validly signed records (5,000 in
//! `tests/hostile.rs`, all kept) until `DIR_CAP` locked newcomers out. Now:
//!
//! * A record for an id we already hold (a refresh, a newer seq) is never charged.
//! * A new id takes one token from the budget of the IP prefix (/24, /48) of the link it came
//!   on: `GOSSIP_NEW_IDS_BURST`, then one per `GOSSIP_NEW_ID_INTERVAL_MS`. Reconnecting or
//!   opening more links from one network adds nothing. Over budget: dropped before its
//!   signature is checked, counted in `gossip_limited`, never a ban (an honest relay forwards
//!   others' records), and not remembered, so it can still arrive through another link or a
//!   later digest exchange.
//! * **Join catch-up.** A joining node legitimately learns the whole directory (up to
//!   `DIR_CAP`) from its first digest exchange. A link we dialled to one of our configured
//!   bootstrap peers (`-b`: the contact the operator chose, who could mislead a newcomer
//!   anyway) may add `DIR_CATCHUP_NEW_IDS` (= `DIR_CAP`) new ids before it draws on its
//!   prefix's budget. Other links — the neighbours found through it, and every inbound link —
//!   only have the budget, which covers a thousand ids at once, so a node whose bootstrap is
//!   unhelpful still catches up, from several links, just more slowly.
//!
//! Pure: time comes from the overlay's `now`.

use super::conn::RecordCheck;
use super::params::*;
use super::Overlay;
use crate::wire::{ConnId, NodeId, NodeRecord};

/// Why a gossiped or stored record is not merged (see [`Overlay::admit_gossiped_record`]).
pub(super) enum Refused {
    /// Over its link's new-id budget, or its delegation expired: dropped and counted, no ban.
    Dropped,
    /// Provably bad (wrong id, bad signature, forged delegation): the link is banned.
    Forged,
}

impl Overlay {
    /// May a gossiped record for `node`, arriving on `conn`, be checked and merged? True for
    /// ids we hold; a new id spends catch-up allowance or prefix budget (see the module doc).
    pub(super) fn admit_gossiped_id(&mut self, conn: ConnId, node: NodeId) -> bool {
        if self.dir.get(node).is_some() {
            return true;
        }
        let now = self.now;
        let Some(c) = self.conns.get_mut(&conn) else { return false };
        if c.catchup > 0 {
            c.catchup -= 1;
            return true;
        }
        let prefix = c.remote.map_or(0, |a| a.prefix());
        if self.gossip_budget.allow(prefix, now, GOSSIP_NEW_IDS_BURST, GOSSIP_NEW_ID_INTERVAL_MS, PREFIX_TABLE_CAP) {
            return true;
        }
        self.stats.gossip_limited += 1;
        log::debug!("record of new node {node} over its link's new-id budget: dropped");
        false
    }

    /// A record gossiped or stored on `conn`: the new-id budget first (cheap, before any
    /// signature check), then the record's own check. `Ok(authorised)` when it may be merged.
    pub(super) fn admit_gossiped_record(&mut self, conn: ConnId, rec: &NodeRecord) -> Result<bool, Refused> {
        if !self.admit_gossiped_id(conn, rec.node) {
            return Err(Refused::Dropped);
        }
        match self.check_record(rec) {
            RecordCheck::Valid { authorised } => Ok(authorised),
            RecordCheck::Expired => {
                self.stats.time_dropped += 1;
                Err(Refused::Dropped)
            }
            RecordCheck::Invalid => Err(Refused::Forged),
        }
    }
}
