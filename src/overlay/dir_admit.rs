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
//! * **Vouched ids.** In an honest mass join one link — a core's broadcast-tree parent — relays
//!   nearly every new record, far more than one prefix's burst (10,000 at 10,000 nodes), so
//!   cores were left short of records and the anti-entropy storm followed (issue 8/10). An id
//!   refused over one prefix's budget (or offered in `DirIds` and not asked for) is remembered
//!   with that prefix (`RefusedIds`, at most `DIR_REFUSED_CAP`); when a link from *another*
//!   prefix relays it too (a graft after the lazy `IHave`, or a `DirIds` offer), it is taken
//!   without charge. A Sybil flood from one /24 stays bounded (all its links share the prefix);
//!   an attacker holding core links from two prefixes can vouch for its own ids (bounded by
//!   `DIR_CAP` and by live records never being evicted: not fixed here).
//! * **Join catch-up.** A joining node legitimately learns the whole directory (up to
//!   `DIR_CAP`) from its first digest exchange. A link we dialled to one of our configured
//!   bootstrap peers (`-b`: the contact the operator chose, who could mislead a newcomer
//!   anyway) may add `DIR_CATCHUP_NEW_IDS` (= `DIR_CAP`) new ids before it draws on its
//!   prefix's budget. Other links — the neighbours found through it, and every inbound link —
//!   only have the budget, which covers a thousand ids at once, so a node whose bootstrap is
//!   unhelpful still catches up, from several links, just more slowly.
//!
//! Pure: time comes from the overlay's `now`.

use std::collections::{HashMap, VecDeque};

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

/// Node ids refused over a prefix's new-id budget (or offered in `DirIds` and not asked for),
/// each with the prefix that offered it first; at most `DIR_REFUSED_CAP`, oldest forgotten
/// first. The same id later relayed by a link from *another* prefix is taken without charge:
/// two networks vouch for it (see the module doc).
#[derive(Debug, Default)]
pub(super) struct RefusedIds {
    by_id: HashMap<NodeId, u64>,
    /// Insertion order; may hold ids already forgotten (skipped, compacted at twice the cap).
    order: VecDeque<NodeId>,
}

impl RefusedIds {
    /// True if `node` was refused from a prefix other than `prefix`.
    pub(super) fn vouched(&self, node: NodeId, prefix: u64) -> bool {
        self.by_id.get(&node).is_some_and(|p| *p != prefix)
    }

    /// Forget `node` (taken, or its record turned out forged).
    pub(super) fn forget(&mut self, node: NodeId) {
        self.by_id.remove(&node);
    }

    /// Remember that `prefix` offered `node` and it was refused; the first prefix is kept.
    pub(super) fn note(&mut self, node: NodeId, prefix: u64) {
        if self.by_id.contains_key(&node) {
            return;
        }
        while self.by_id.len() >= DIR_REFUSED_CAP {
            match self.order.pop_front() {
                Some(old) => {
                    self.by_id.remove(&old);
                }
                None => break,
            }
        }
        if self.order.len() >= 2 * DIR_REFUSED_CAP {
            let by_id = &self.by_id;
            self.order.retain(|n| by_id.contains_key(n));
        }
        self.by_id.insert(node, prefix);
        self.order.push_back(node);
    }
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
        if self.refused_ids.vouched(node, prefix) {
            self.refused_ids.forget(node);
            self.stats.dir_vouched += 1;
            return true;
        }
        if self.gossip_budget.allow(prefix, now, GOSSIP_NEW_IDS_BURST, GOSSIP_NEW_ID_INTERVAL_MS, PREFIX_TABLE_CAP) {
            return true;
        }
        self.refused_ids.note(node, prefix);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_ids_vouch_only_across_prefixes_and_stay_bounded() {
        let mut r = RefusedIds::default();
        r.note(NodeId(1), 7);
        assert!(!r.vouched(NodeId(1), 7), "one prefix cannot vouch for its own offer");
        assert!(r.vouched(NodeId(1), 8));
        r.note(NodeId(1), 8);
        assert!(!r.vouched(NodeId(1), 7), "the first prefix is kept");
        // A flood of refused ids (ids are not checked before the budget): bounded, oldest first.
        for k in 0..3 * DIR_REFUSED_CAP as u64 {
            r.note(NodeId(1_000 + k), 9);
            if k % 2 == 0 {
                r.forget(NodeId(1_000 + k));
            }
        }
        assert!(r.by_id.len() <= DIR_REFUSED_CAP, "{} ids", r.by_id.len());
        assert!(r.order.len() <= 2 * DIR_REFUSED_CAP, "{} in the age queue", r.order.len());
        assert!(!r.vouched(NodeId(1), 8), "the oldest was forgotten");
        assert!(r.vouched(NodeId(1_000 + 3 * DIR_REFUSED_CAP as u64 - 1), 8));
    }
}
