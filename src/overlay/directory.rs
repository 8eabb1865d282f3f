//! The node directory: one signed `NodeRecord` per node id, held by core nodes (spec §2.3).
//!
//! Decides which record wins (newer `seq`; an owner-authorised key beats an unauthorised one; among
//! unauthorised keys the first seen keeps the id while it is live, i.e. re-announced here within
//! `RECORD_LIVE_S`; expiry is clamped to `RECORD_TTL_S` from arrival), computes the
//! anti-entropy digest, and answers unicast routing lookups. Pure: signature checks happen before
//! `merge` is called. Bounded by `DIR_CAP`; when full, dead and stale records are evicted for a
//! newcomer, and only if every record is live is the newcomer refused (counted by the caller).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::params::{DIR_BUCKETS, DIR_EVICT_BATCH, DIR_EXPIRE_EVERY_S, MAX_HOMES, RECORD_LIVE_S, RECORD_TTL_S};
use crate::wire::{Addr, Body, Key32, MsgId, NodeId, NodeRecord, PeerRef, Role};

/// What the directory keeps per node: the routing fields and the encoded record (shared bytes).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Encoded record, re-sent during anti-entropy.
    pub body: Body,
    /// Key the record is signed with.
    pub node_key: Key32,
    /// True if the owner authorised `node_key`.
    pub authorised: bool,
    /// Record version.
    pub seq: u64,
    /// Unix seconds (clamped to at most `RECORD_TTL_S` after it reached this node).
    pub expires: u64,
    /// Unix seconds (this node's clock) when this version arrived: the record is *live* while
    /// `refreshed + RECORD_LIVE_S` has not passed.
    pub refreshed: u64,
    /// Role.
    pub role: Role,
    /// Address (core).
    pub addr: Option<Addr>,
    /// Homes (leaf), at most `MAX_HOMES`.
    pub homes: Vec<NodeId>,
}

impl Entry {
    /// Not expired, and re-announced recently enough (see `RECORD_LIVE_S`).
    pub fn is_live(&self, unix_now: u64) -> bool {
        self.expires >= unix_now && unix_now <= self.refreshed.saturating_add(RECORD_LIVE_S)
    }
}

/// Outcome of [`Directory::merge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// First record for this id.
    New,
    /// Replaced an older record.
    Updated,
    /// Not newer than what we hold.
    Stale,
    /// Another key holds this id (see module doc); the record is refused and counted.
    Conflict,
    /// The directory is full.
    Full,
}

/// The message id of a record broadcast: node id ‖ seq ‖ first 16 bytes of SHA-256(body), so
/// "have we seen it" is answered by the directory itself without a seen-set entry.
pub fn record_msg_id(rec: &NodeRecord, body: &[u8]) -> MsgId {
    let mut id = [0u8; 32];
    id[..8].copy_from_slice(&rec.node.0.to_be_bytes());
    id[8..16].copy_from_slice(&rec.seq.to_be_bytes());
    let h = Sha256::digest(body);
    id[16..].copy_from_slice(&h[..16]);
    MsgId(id)
}

// `ids_differing` reads a bucket as the range of ids sharing their top byte.
const _: () = assert!(DIR_BUCKETS == 256);

fn bucket_of(node: NodeId) -> usize {
    ((node.0 >> 56) as usize) % DIR_BUCKETS
}

fn digest_word(node: NodeId, seq: u64) -> u32 {
    let mut h = Sha256::new();
    h.update(node.0.to_be_bytes());
    h.update(seq.to_be_bytes());
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Directory of node records; see the module doc.
#[derive(Debug)]
pub struct Directory {
    entries: BTreeMap<NodeId, Entry>,
    digest: Vec<u32>,
    cap: usize,
    /// Unix second from which the next `expire` walks the records (`DIR_EXPIRE_EVERY_S`).
    next_expire: u64,
}

impl Directory {
    /// An empty directory holding at most `cap` records.
    pub fn new(cap: usize) -> Directory {
        Directory { entries: BTreeMap::new(), digest: vec![0; DIR_BUCKETS], cap, next_expire: 0 }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The smallest known *core* node id ≥ `at` (support servers are successors on the id
    /// ring). Leaves are skipped: they are often offline, never accept connections, and hold
    /// no directory, so they could not check or open a deposit.
    pub fn node_at_or_after(&self, at: u64) -> Option<NodeId> {
        self.entries.range(NodeId(at)..).find(|(_, e)| e.role == Role::Core).map(|(n, _)| *n)
    }

    /// The record of `node`.
    pub fn get(&self, node: NodeId) -> Option<&Entry> {
        self.entries.get(&node)
    }
    /// True if `id` is a record message id whose record (or a newer one) we hold.
    pub fn has_record_id(&self, id: &MsgId) -> bool {
        let mut n = [0u8; 8];
        n.copy_from_slice(&id.0[..8]);
        let mut s = [0u8; 8];
        s.copy_from_slice(&id.0[8..16]);
        self.entries.get(&NodeId(u64::from_be_bytes(n))).is_some_and(|e| e.seq >= u64::from_be_bytes(s))
    }
    /// Current seq held for `node`.
    pub fn seq_of(&self, node: NodeId) -> Option<u64> {
        self.entries.get(&node).map(|e| e.seq)
    }

    /// Merge a record whose signature (and delegation, if any) has been checked.
    pub fn merge(&mut self, rec: &NodeRecord, body: Body, authorised: bool, unix_now: u64) -> Merge {
        let entry = Entry {
            body,
            node_key: rec.node_key,
            authorised,
            seq: rec.seq,
            // A record cannot claim more life than a fresh one gets: a squatter's far-future
            // expiry would otherwise hold the id for ever.
            expires: rec.expires.min(unix_now.saturating_add(RECORD_TTL_S)),
            refreshed: unix_now,
            role: rec.role,
            addr: rec.addr,
            homes: rec.homes.iter().copied().take(MAX_HOMES).collect(),
        };
        if !self.entries.contains_key(&rec.node) && self.entries.len() >= self.cap && !self.make_room(unix_now) {
            return Merge::Full;
        }
        let outcome = match self.entries.get(&rec.node) {
            None => Merge::New,
            Some(old) => {
                let newer = rec.seq > old.seq;
                let wins = if old.node_key == rec.node_key {
                    newer
                } else if authorised {
                    // The owner authorised this key: it takes the id from an unauthorised key at
                    // once, and from another authorised key (a moved server) when newer.
                    !old.authorised || newer
                } else {
                    // Unauthorised keys: the first seen keeps the id while it is live (its node
                    // keeps re-announcing); a quiet one loses it.
                    !old.authorised && !old.is_live(unix_now)
                };
                if !wins {
                    return if old.node_key == rec.node_key { Merge::Stale } else { Merge::Conflict };
                }
                let b = bucket_of(rec.node);
                self.digest[b] ^= digest_word(rec.node, old.seq);
                Merge::Updated
            }
        };
        let b = bucket_of(rec.node);
        self.digest[b] ^= digest_word(rec.node, rec.seq);
        self.entries.insert(rec.node, entry);
        outcome
    }

    /// Evict up to `DIR_EVICT_BATCH` expired or stale records, stalest first; true if there
    /// is room now. Live records are never evicted for a newcomer: a Sybil flood is bounded
    /// where it enters (per source prefix), not by pushing out honest nodes.
    fn make_room(&mut self, unix_now: u64) -> bool {
        let mut dead: Vec<(u64, NodeId)> =
            self.entries.iter().filter(|(_, e)| !e.is_live(unix_now)).map(|(k, e)| (e.refreshed, *k)).collect();
        dead.sort();
        for (_, node) in dead.into_iter().take(DIR_EVICT_BATCH.max(1)) {
            if let Some(e) = self.entries.remove(&node) {
                self.digest[bucket_of(node)] ^= digest_word(node, e.seq);
            }
        }
        self.entries.len() < self.cap
    }

    /// Every record, by node id.
    pub fn iter(&self) -> impl Iterator<Item = (&NodeId, &Entry)> {
        self.entries.iter()
    }

    /// Forget `node`'s record (the ring directory: no longer held here).
    pub fn remove(&mut self, node: NodeId) {
        if let Some(e) = self.entries.remove(&node) {
            self.digest[bucket_of(node)] ^= digest_word(node, e.seq);
        }
    }

    /// Drop expired records: a walk of every record, so at most once per `DIR_EXPIRE_EVERY_S`
    /// (called every housekeeping tick; at 10k simulated nodes, 9,500 records a core, the
    /// walk every second was most of the simulator's CPU). Expiry is 36 h away; a record a
    /// minute past it is not live anyway (`Entry::is_live`).
    pub fn expire(&mut self, unix_now: u64) {
        if unix_now < self.next_expire {
            return;
        }
        self.next_expire = unix_now.saturating_add(DIR_EXPIRE_EVERY_S);
        let dead: Vec<NodeId> = self.entries.iter().filter(|(_, e)| e.expires < unix_now).map(|(k, _)| *k).collect();
        for node in dead {
            if let Some(e) = self.entries.remove(&node) {
                self.digest[bucket_of(node)] ^= digest_word(node, e.seq);
            }
        }
    }

    /// The anti-entropy digest: per id bucket, XOR of a hash of (id, seq).
    pub fn digest(&self) -> Vec<u32> {
        self.digest.clone()
    }

    /// Encoded records in the buckets where `theirs` differs from ours.
    pub fn records_differing(&self, theirs: &[u32]) -> Vec<Body> {
        if theirs.len() != DIR_BUCKETS {
            return Vec::new();
        }
        let differs: Vec<bool> = (0..DIR_BUCKETS).map(|b| theirs[b] != self.digest[b]).collect();
        self.entries.iter().filter(|(k, _)| differs[bucket_of(**k)]).map(|(_, e)| e.body.clone()).collect()
    }

    /// (node id, seq) of our records in the buckets where `theirs` differs from ours, whole
    /// buckets only, visited from bucket `start` on, until `max` pairs (the two-step exchange).
    pub fn ids_differing(&self, theirs: &[u32], start: usize, max: usize) -> Vec<(NodeId, u64)> {
        let mut out = Vec::new();
        if theirs.len() != DIR_BUCKETS {
            return out;
        }
        for k in 0..DIR_BUCKETS {
            let b = (start + k) % DIR_BUCKETS;
            if theirs[b] == self.digest[b] {
                continue;
            }
            let lo = NodeId((b as u64) << 56);
            let bucket: Vec<(NodeId, u64)> = if b + 1 < DIR_BUCKETS {
                self.entries.range(lo..NodeId(((b as u64) + 1) << 56)).map(|(k, e)| (*k, e.seq)).collect()
            } else {
                self.entries.range(lo..).map(|(k, e)| (*k, e.seq)).collect()
            };
            if out.len() + bucket.len() > max {
                if out.is_empty() {
                    // One bucket alone over the bound: its first `max` ids, not nothing.
                    out.extend(bucket.into_iter().take(max));
                }
                break;
            }
            out.extend(bucket);
        }
        out
    }

    /// Up to `n` core nodes, picked by `pick(len)` (the caller's seeded RNG).
    pub fn sample_cores(&self, n: usize, mut pick: impl FnMut(usize) -> usize) -> Vec<PeerRef> {
        let cores: Vec<PeerRef> = self
            .entries
            .iter()
            .filter_map(|(k, e)| match (e.role, e.addr) {
                (Role::Core, Some(addr)) if !addr.is_unspecified() => Some(PeerRef { node: *k, addr }),
                _ => None,
            })
            .collect();
        let mut out = Vec::new();
        for _ in 0..n.min(cores.len()) * 2 {
            let p = cores[pick(cores.len())];
            if !out.contains(&p) {
                out.push(p);
            }
            if out.len() >= n {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Sig;

    fn rec(node: u64, key: u8, seq: u64) -> NodeRecord {
        NodeRecord {
            node: NodeId(node),
            owner: Key32([0; 32]),
            node_key: Key32([key; 32]),
            delegation: None,
            role: Role::Core,
            addr: Some(Addr::v4([127, 0, 0, 1], 1)),
            homes: vec![],
            seq,
            expires: 100,
            sig: Sig([0; 64]),
        }
    }

    #[test]
    fn newer_wins_first_key_keeps_id_authorised_key_takes_over() {
        let mut d = Directory::new(10);
        let b = Body::from_slice(b"x");
        assert_eq!(d.merge(&rec(1, 1, 5), b.clone(), false, 0), Merge::New);
        assert_eq!(d.merge(&rec(1, 1, 5), b.clone(), false, 0), Merge::Stale);
        assert_eq!(d.merge(&rec(1, 1, 6), b.clone(), false, 0), Merge::Updated);
        assert_eq!(d.merge(&rec(1, 2, 9), b.clone(), false, 0), Merge::Conflict, "TOFU");
        assert_eq!(d.merge(&rec(1, 2, 9), b.clone(), true, 0), Merge::Updated, "owner-authorised");
        assert_eq!(d.merge(&rec(1, 1, 10), b.clone(), false, 0), Merge::Conflict);
        assert_eq!(d.merge(&rec(1, 3, 11), b.clone(), false, 200), Merge::Conflict, "authorised beats staleness");
        let id = record_msg_id(&rec(1, 2, 9), b"x");
        assert!(d.has_record_id(&id));
    }

    #[test]
    fn a_far_future_expiry_is_clamped_and_a_stale_squatter_loses_to_a_live_owner() {
        use crate::overlay::params::{RECORD_LIVE_S, RECORD_TTL_S};
        let mut d = Directory::new(10);
        let b = Body::from_slice(b"x");
        // A squatter (key 9) claims id 1 first with an expiry in the year 2500.
        let mut squat = rec(1, 9, 5);
        squat.expires = 16_725_225_600;
        let t0 = 1_750_000_000;
        assert_eq!(d.merge(&squat, b.clone(), false, t0), Merge::New);
        assert!(d.get(NodeId(1)).is_some_and(|e| e.expires <= t0 + RECORD_TTL_S), "expiry clamped");
        // While the squatter keeps re-announcing, the id is its (first come, zero-config).
        let owner = |seq: u64, at: u64| NodeRecord { expires: at + RECORD_TTL_S, ..rec(1, 1, seq) };
        assert_eq!(d.merge(&owner(6, t0 + 60), b.clone(), false, t0 + 60), Merge::Conflict);
        // Once it stops re-announcing, a live claimant takes the id long before the squatter's
        // claimed expiry (which was clamped anyway).
        let later = t0 + RECORD_LIVE_S + 1;
        assert_eq!(d.merge(&owner(7, later), b.clone(), false, later), Merge::Updated);
        assert_eq!(d.get(NodeId(1)).map(|e| e.node_key), Some(Key32([1; 32])));
        // ... and the returning squatter cannot take it back while the owner re-announces.
        let mut back = rec(1, 9, 8);
        back.expires = later + 100;
        assert_eq!(d.merge(&back, b.clone(), false, later + 10), Merge::Conflict);
        assert_eq!(d.merge(&owner(9, later + 20), b.clone(), false, later + 20), Merge::Updated, "owner re-announces");
        assert_eq!(d.merge(&back, b.clone(), false, later + 30), Merge::Conflict);
    }

    #[test]
    fn a_full_directory_evicts_dead_and_stale_records_for_newcomers() {
        use crate::overlay::params::RECORD_LIVE_S;
        let t0 = 1_750_000_000;
        let mut d = Directory::new(4);
        let b = Body::from_slice(b"x");
        for n in 1..=4 {
            let mut r = rec(n, n as u8, 1);
            r.expires = t0 + 10 * RECORD_LIVE_S;
            assert_eq!(d.merge(&r, b.clone(), false, t0), Merge::New);
        }
        // Node 2 keeps re-announcing; the others went quiet.
        let later = t0 + RECORD_LIVE_S + 1;
        let mut r2 = rec(2, 2, 2);
        r2.expires = later + 1000;
        assert_eq!(d.merge(&r2, b.clone(), false, later - 10), Merge::Updated);
        let mut newcomer = rec(50, 50, 1);
        newcomer.expires = later + 1000;
        assert_eq!(d.merge(&newcomer, b.clone(), false, later), Merge::New, "a stale record made room");
        assert!(d.get(NodeId(2)).is_some(), "the live record stays");
        assert!(d.len() <= 4);
    }

    #[test]
    fn ring_successor_skips_leaves() {
        let mut d = Directory::new(10);
        let b = Body::from_slice(b"x");
        let mut leaf = rec(20, 2, 1);
        leaf.role = Role::Leaf;
        leaf.addr = None;
        d.merge(&rec(10, 1, 1), b.clone(), false, 0);
        d.merge(&leaf, b.clone(), false, 0);
        d.merge(&rec(30, 3, 1), b.clone(), false, 0);
        assert_eq!(d.node_at_or_after(11), Some(NodeId(30)));
        assert_eq!(d.node_at_or_after(10), Some(NodeId(10)));
        assert_eq!(d.node_at_or_after(31), None);
    }

    #[test]
    fn digest_tracks_content() {
        let mut a = Directory::new(10);
        let mut b = Directory::new(10);
        let body = Body::from_slice(b"x");
        a.merge(&rec(1, 1, 5), body.clone(), false, 0);
        assert_eq!(b.records_differing(&a.digest()).len(), 0);
        assert_eq!(a.records_differing(&b.digest()).len(), 1);
        b.merge(&rec(1, 1, 5), body.clone(), false, 0);
        assert_eq!(a.digest(), b.digest());
        a.expire(1000);
        assert_eq!(a.digest(), Directory::new(1).digest());
    }
}
#[cfg(test)]
mod ids_tests {
    use super::*;
    use crate::wire::Sig;

    fn rec(node: u64, seq: u64) -> NodeRecord {
        NodeRecord {
            node: NodeId(node),
            owner: Key32([0; 32]),
            node_key: Key32([1; 32]),
            delegation: None,
            role: Role::Core,
            addr: None,
            homes: vec![],
            seq,
            expires: 100,
            sig: Sig([0; 64]),
        }
    }

    #[test]
    fn ids_differing_lists_exactly_the_differing_buckets() {
        let mut a = Directory::new(10_000);
        let mut b = Directory::new(10_000);
        let body = Body::from_slice(b"x");
        for k in 0..4_096u64 {
            let id = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            a.merge(&rec(id, 1), body.clone(), false, 0);
            if k % 1_000 != 3 {
                b.merge(&rec(id, 1), body.clone(), false, 0);
            }
        }
        let ids = a.ids_differing(&b.digest(), 77, 10_000);
        let buckets: std::collections::BTreeSet<usize> = ids.iter().map(|(n, _)| bucket_of(*n)).collect();
        assert_eq!(buckets.len(), 5, "{ids:?}");
        let per_bucket = 4_096 / DIR_BUCKETS;
        assert!(ids.len() <= 5 * 2 * per_bucket, "{} ids", ids.len());
        assert!(b.ids_differing(&b.digest(), 0, 10_000).is_empty());
        // The bound: whole buckets only, except a single bucket over it.
        assert!(a.ids_differing(&b.digest(), 0, per_bucket / 2).len() == per_bucket / 2 || ids.len() <= per_bucket);
    }
}
