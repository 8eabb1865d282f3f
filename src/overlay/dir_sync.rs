//! The broadcast directory's anti-entropy between core nodes (spec §2.3; docs/overlay.md §6).
//!
//! A link sends its `DirDigest` (per id bucket, XOR of a hash of (id, seq)) when it enters the
//! active view; each connection's digest is answered at most once per `DIR_ANSWER_INTERVAL_MS`.
//!
//! * **Two-step** (peer announced `FEATURE_DIR_IDS`): the answer is `DirIds`, the (id, seq) of
//!   our records in the buckets that differ (at most `DIR_IDS_PER_ANSWER`, from a bucket
//!   picked by the clock). The asker replies with `DirWant`: the ids it lacks or holds older *and will
//!   take* — updates of ids it holds, ids another prefix offered before (vouched), and new ids
//!   only as far as this link's catch-up allowance and its prefix's gossip budget reach
//!   (`dir_admit.rs`; the rest are remembered, so a second prefix's offer vouches for them). We then send exactly those records
//!   (never more than the `DirIds` offered). At 10,000 nodes a bucket holds ≈ 39 records: the
//!   old answer re-sent ≈ 9 KB per differing bucket, both ways, and a receiver whose new-id
//!   budget was spent refused most of it and was sent it all again by the next link (measured:
//!   6.7 GB of `DirRecords`, ≈ 270 KB per digest, issue 8/10).
//! * **Old peers** (no capability bit): the whole differing buckets as `DirRecords`, as before.
//!
//! Records from either path are admitted one by one (`admit_gossiped_id`, then the check).

use super::conn::RecordCheck;
use super::directory::Merge;
use super::params::*;
use super::Overlay;
use crate::wire::{Body, ConnId, Msg, NodeId, Role, FEATURE_DIR_IDS};

impl Overlay {
    /// Send our digest to `node` (a link entering the active view) and take one `DirIds` back.
    pub(super) fn send_dir_digest(&mut self, node: NodeId) {
        if self.records_ring_only() {
            // Records live on the ring here: asking a `both` neighbour for everyone's would
            // bring back what `ring_forget` drops, every round (traced at 10k nodes with 603
            // cores at `both` and 397 at `ring`: 66 KB/min of `DirIds` and 17 of `DirRecords`
            // per core, 116 KB/min of idle control in all).
            return;
        }
        let digest = self.dir.digest();
        if let Some(c) = self.by_node.get(&node).copied().and_then(|c| self.conns.get_mut(&c)) {
            c.dir_asked = true;
        }
        self.send_node(node, Msg::DirDigest(digest));
    }

    pub(super) fn on_dir_digest(&mut self, conn: ConnId, from: NodeId, digest: Vec<u32>) {
        if self.role != Role::Core || self.leaves.contains(&from) {
            return;
        }
        if self.records_ring_only() {
            // Not a directory to copy from: it forgets what it neither holds nor uses, so
            // every bucket differs from a `both` neighbour's and each answer listed up to
            // `DIR_IDS_PER_ANSWER` ids (≈ 70 KB) the asker already had (10k nodes, seed 1,
            // after the fix above: `DirIds` 65 + `DirRecords` 15 KB/min per core). A `both`
            // core finds what it lacks on the ring.
            self.stats_mut().rate_dropped += 1;
            return;
        }
        // One ~1.3 KB digest can ask for the whole directory (up to `DIR_CAP` records): answer
        // each connection at most once per `DIR_ANSWER_INTERVAL_MS` (a link sends one on start).
        let now = self.now;
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if c.dir_answered.is_some_and(|t| now.since(t) < DIR_ANSWER_INTERVAL_MS) {
            self.stats_mut().rate_dropped += 1;
            return;
        }
        c.dir_answered = Some(now);
        if c.features & FEATURE_DIR_IDS != 0 {
            // Where a bounded answer starts, so repeated exchanges cover other buckets; from
            // the clock, not the node's random stream (which every other choice shares).
            let start = (now.0 / 1_000 % DIR_BUCKETS as u64) as usize;
            let ids = self.dir.ids_differing(&digest, start, DIR_IDS_PER_ANSWER);
            if let Some(c) = self.conns.get_mut(&conn) {
                c.dir_offered = ids.len() as u32;
            }
            if !ids.is_empty() {
                self.send(conn, Msg::DirIds(ids));
            }
            return;
        }
        let records = self.dir.records_differing(&digest);
        for chunk in records.chunks(DIR_RECORDS_PER_FRAME) {
            self.send(conn, Msg::DirRecords(chunk.to_vec()));
        }
    }

    /// The peer's (id, seq) list for our digest: ask for what we lack and will admit.
    pub(super) fn on_dir_ids(&mut self, conn: ConnId, ids: Vec<(NodeId, u64)>) {
        if self.role != Role::Core {
            return;
        }
        let now = self.now;
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if !std::mem::take(&mut c.dir_asked) {
            // Unasked (or a second answer to one digest): ignored, it would only make us ask.
            self.stats_mut().rate_dropped += 1;
            return;
        }
        // New ids we may still take on this link: its catch-up allowance, then its prefix's
        // budget (spent only when the records arrive, in `on_dir_records`).
        let prefix = c.remote.map_or(0, |a| a.prefix());
        let budget = self.gossip_budget.available(prefix, now, GOSSIP_NEW_IDS_BURST, GOSSIP_NEW_ID_INTERVAL_MS);
        let mut new_ok = u64::from(c.catchup).saturating_add(budget);
        let mut want = Vec::new();
        for (node, seq) in ids.into_iter().take(DIR_IDS_PER_ANSWER) {
            if node == self.me {
                continue;
            }
            match self.dir.seq_of(node) {
                Some(held) if held >= seq => continue,
                Some(_) => want.push(node),
                // Refused from another prefix before: two networks vouch for it, no charge.
                None if self.refused_ids.vouched(node, prefix) => want.push(node),
                None if new_ok > 0 => {
                    new_ok -= 1;
                    want.push(node);
                }
                None => {
                    self.refused_ids.note(node, prefix);
                    self.stats.dir_not_wanted += 1;
                }
            }
        }
        if !want.is_empty() {
            self.send(conn, Msg::DirWant(want));
        }
    }

    /// The peer asks for records our `DirIds` offered: at most as many as were offered, once.
    pub(super) fn on_dir_want(&mut self, conn: ConnId, from: NodeId, ids: Vec<NodeId>) {
        if self.role != Role::Core || self.leaves.contains(&from) {
            return;
        }
        let Some(c) = self.conns.get_mut(&conn) else { return };
        let offered = std::mem::take(&mut c.dir_offered) as usize;
        if ids.len() > offered {
            self.stats_mut().rate_dropped += 1;
        }
        let records: Vec<Body> =
            ids.iter().take(offered).filter_map(|n| self.dir.get(*n)).map(|e| e.body.clone()).collect();
        for chunk in records.chunks(DIR_RECORDS_PER_FRAME) {
            self.send(conn, Msg::DirRecords(chunk.to_vec()));
        }
    }

    pub(super) fn on_dir_records(&mut self, conn: ConnId, records: Vec<Body>) {
        if self.role != Role::Core {
            return;
        }
        let unix = self.unix_now();
        for body in records.into_iter().take(DIR_RECORDS_PER_FRAME) {
            let Ok(rec) = crate::wire::decode_record(body.as_slice()) else { return self.ban_conn(conn) };
            if rec.node == self.me || rec.expires < unix || self.dir.seq_of(rec.node).is_some_and(|s| s >= rec.seq) {
                self.stats.dir_records_useless += 1;
                continue;
            }
            if !self.admit_gossiped_id(conn, rec.node) {
                continue;
            }
            let authorised = match self.check_record(&rec) {
                RecordCheck::Valid { authorised } => authorised,
                RecordCheck::Expired => {
                    self.stats_mut().time_dropped += 1;
                    continue;
                }
                RecordCheck::Invalid => return self.ban_conn(conn),
            };
            match self.dir.merge(&rec, body, authorised, unix) {
                Merge::Conflict => self.stats.id_conflicts += 1,
                Merge::New | Merge::Updated => self.stats.dir_records_merged += 1,
                Merge::Stale => self.stats.dir_records_useless += 1,
                Merge::Full => self.stats.dir_full += 1,
            }
        }
    }
}
