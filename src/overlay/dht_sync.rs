//! Ring co-holders comparing what they hold, by ranges (issue 10, "reconciliation by ranges";
//! docs/scaling.md "Co-holders reconcile"). A child of `dht`.
//!
//! Why. Records reach their holders by stores and handoffs, and one can miss a holder: a
//! handoff that went to a table still filling, a `Store` refused while the holder's own table
//! said it was none (traced in the 1k and 30k simulator: a key's **first holder lacked a record
//! its second and third holders had**, and every lookup ends at the first holder). Lookups
//! work around it (`ask_next_holder`); this repairs it at the holders.
//!
//! How. Every `RING_SYNC_MS` a ring-only core (pinned `ring`, or `auto` at `Ring`: one at
//! `Both` keeps the broadcast directory and does not sync) sends each connected co-holder that announced
//! `FEATURE_DIGESTS` (a core that holds one of our held keys too, by our table; at most
//! `RING_SYNC_PEERS_MAX`) one `RingSync`: the count and fingerprint of the records both hold,
//! over the whole ring. The peer computes the same over the same set by its own table; equal
//! (the rule): nothing more. Different: it answers `RingHave`, the (id, seq) of its records in
//! the arc, clockwise, at most `RING_SYNC_IDS_MAX` (cut there, the arc ends at the last key
//! listed and the asker goes on from it: at most `RING_SYNC_STEPS` arcs a period). The asker
//! then stores at the peer each of its records in the arc that the peer lacks or holds older
//! (`Store`, kept by the peer's usual holder and admission rules). Both sides ask, so each
//! learns what it lacks within one period.
//!
//! Hostile inputs. The sender is the connection. A `RingHave` counts only as the answer to
//! our outstanding `RingSync` to that peer, for that arc; all it decides is which of *our*
//! held records we store at the peer, once per arc we asked about. `RingSync`s are taken at
//! most `RING_SYNC_ANSWERS_PER_ROUND` per peer per round; more are counted and dropped (never a
//! ban: an honest peer sends one a period, and one per arc of a cut list); the budget is taken
//! before our side is computed (that walks the directory).
//!
//! Must not: hold anything unbounded, ban anyone, or take a record from a `RingHave`.

use std::collections::BTreeMap;

use crate::overlay::params::*;
use crate::overlay::ring::{dist, in_arc};
use crate::overlay::Overlay;
use crate::wire::{Body, Msg, NodeId, FEATURE_DIGESTS};

/// Our `RingSync` to a peer awaiting its answer: the arc asked about, where the whole sync
/// ends, and how many arcs it has gone through this period.
#[derive(Debug, Clone, Copy)]
pub(super) struct SyncOut {
    lo: NodeId,
    hi: NodeId,
    end: NodeId,
    steps: u8,
}

fn mix(mut z: u64) -> u64 {
    // splitmix64's finaliser: a fixed, well-spread 64-bit hash (no key: co-holders must agree).
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Count and fingerprint of a set of (id, seq): the wrapping sum of each pair's hash, so the
/// order does not matter and equal sets always agree.
pub(crate) fn fingerprint(entries: &[(NodeId, u64)]) -> (u32, u64) {
    let fp = entries.iter().fold(0u64, |acc, (id, seq)| acc.wrapping_add(mix(id.0 ^ mix(*seq))));
    (u32::try_from(entries.len()).unwrap_or(u32::MAX), fp)
}

impl Overlay {
    /// The records we hold that `peer` holds too by our table, with keys in the arc (lo, hi]
    /// (lo == hi: the whole ring), as (id, seq) clockwise from `lo`.
    pub(in crate::overlay) fn shared_held(&self, peer: NodeId, lo: NodeId, hi: NodeId) -> Vec<(NodeId, u64)> {
        let Some(d) = self.dht.as_ref() else { return Vec::new() };
        let mut out: Vec<(NodeId, u64)> = self
            .dir
            .iter()
            .filter(|(k, _)| in_arc(lo.0, k.0, hi.0))
            .filter(|(k, _)| {
                let hs = d.table.holder_set(**k);
                hs.contains(&self.me) && hs.contains(&peer)
            })
            .map(|(k, e)| (*k, e.seq))
            .collect();
        out.sort_by_key(|(k, _)| dist(lo.0, k.0).wrapping_sub(1));
        out
    }

    /// Co-holders to sync with: the other holders of our held keys by our table, connected
    /// and speaking `FEATURE_DIGESTS` (at most `RING_SYNC_PEERS_MAX`, nearest first).
    fn sync_peers(&self) -> Vec<NodeId> {
        let Some(d) = self.dht.as_ref() else { return Vec::new() };
        let mut peers: Vec<NodeId> = Vec::new();
        for (key, _) in self.dir.iter() {
            let hs = d.table.holder_set(*key);
            if !hs.contains(&self.me) {
                continue;
            }
            for h in hs.iter() {
                if h != self.me && !peers.contains(&h) && self.peer_speaks(h, FEATURE_DIGESTS) {
                    peers.push(h);
                }
            }
        }
        let me = self.me.0;
        peers.sort_by_key(|p| dist(me, p.0).min(dist(p.0, me)));
        peers.truncate(RING_SYNC_PEERS_MAX);
        peers
    }

    /// Every `RING_SYNC_MS`: one `RingSync` over the whole ring to each co-holder.
    pub(super) fn ring_sync_due(&mut self) {
        if !self.records_ring_only() {
            // At `auto`'s `both` level records still travel on the broadcast tree and the
            // directory keeps everyone's: syncing it pushed 175,797 records at 10k nodes in
            // 10 idle minutes (`Store` 48.7 KB/min per core), most of them refused again and
            // again by ring-only co-holders. The ring alone is what this repairs.
            return;
        }
        let now = self.now;
        let Some(d) = self.dht.as_mut() else { return };
        if now < d.next_sync {
            return;
        }
        d.next_sync = now.plus_ms(RING_SYNC_MS);
        d.sync_out.clear();
        for peer in self.sync_peers() {
            self.send_sync(peer, SyncOut { lo: self.me, hi: self.me, end: self.me, steps: 0 });
        }
    }

    fn send_sync(&mut self, peer: NodeId, out: SyncOut) {
        let (count, fp) = fingerprint(&self.shared_held(peer, out.lo, out.hi));
        if self.send_node(peer, Msg::RingSync { lo: out.lo, hi: out.hi, count, fp }) {
            if let Some(d) = self.dht.as_mut() {
                d.stats.sync_sent += 1;
                d.sync_out.insert(peer, out);
            }
        }
    }

    /// A co-holder's count and fingerprint: nothing if ours agree, else our list of the arc.
    pub(super) fn on_ring_sync(&mut self, from: NodeId, lo: NodeId, hi: NodeId, count: u32, fp: u64) {
        // Budget first: computing our side walks the directory (20,000 records in a
        // broadcast-sized one), so a flood must not get that far. A core that still keeps the
        // broadcast directory (`both`) does not sync (see `ring_sync_due`).
        let ring_only = self.records_ring_only();
        let Some(d) = self.dht.as_mut() else { return };
        if !ring_only {
            d.stats.sync_dropped += 1;
            return;
        }
        let taken = d.sync_answered.entry(from).or_insert(0);
        if *taken >= RING_SYNC_ANSWERS_PER_ROUND {
            d.stats.sync_dropped += 1;
            return;
        }
        *taken += 1;
        let mine = self.shared_held(from, lo, hi);
        let Some(d) = self.dht.as_mut() else { return };
        if fingerprint(&mine) == (count, fp) {
            d.stats.sync_equal += 1;
            return;
        }
        d.stats.sync_answered += 1;
        let (ids, hi) = if mine.len() > RING_SYNC_IDS_MAX {
            let ids = mine[..RING_SYNC_IDS_MAX].to_vec();
            let last = ids[RING_SYNC_IDS_MAX - 1].0;
            (ids, last)
        } else {
            (mine, hi)
        };
        self.send_node(from, Msg::RingHave { lo, hi, ids });
    }

    /// A co-holder's list for the arc we asked about: store there what it lacks, and go on
    /// with the rest of the ring if it cut the list.
    pub(super) fn on_ring_have(&mut self, from: NodeId, lo: NodeId, hi: NodeId, ids: Vec<(NodeId, u64)>) {
        let Some(d) = self.dht.as_mut() else { return };
        // Ours only, for the arc asked about, ending within it.
        let asked =
            d.sync_out.get(&from).copied().filter(|o| o.lo == lo && (hi == o.hi || in_arc(o.lo.0, hi.0, o.hi.0)));
        let Some(out) = asked else {
            d.stats.sync_dropped += 1;
            return;
        };
        d.sync_out.remove(&from);
        let theirs: BTreeMap<NodeId, u64> = ids.into_iter().filter(|(k, _)| in_arc(lo.0, k.0, hi.0)).collect();
        let send: Vec<Body> = self
            .shared_held(from, lo, hi)
            .into_iter()
            .filter(|(k, seq)| theirs.get(k).is_none_or(|s| s < seq))
            .filter_map(|(k, _)| self.dir.get(k).map(|e| e.body.clone()))
            .collect();
        if let Some(d) = self.dht.as_mut() {
            d.stats.sync_pushed += send.len() as u64;
        }
        self.send_store_batches(from, send);
        if hi != out.hi && out.steps + 1 < RING_SYNC_STEPS {
            self.send_sync(from, SyncOut { lo: hi, hi: out.end, end: out.end, steps: out.steps + 1 });
        }
    }
}
