//! The node directory: one signed `NodeRecord` per node id, held by core nodes (spec §2.3).
//!
//! Decides which record wins (newer `seq`; an owner-authorised key beats an unauthorised one; among
//! unauthorised keys the first seen keeps the id until its record expires), computes the
//! anti-entropy digest, and answers unicast routing lookups. Pure: signature checks happen before
//! `merge` is called. Bounded by `DIR_CAP`; when full, new ids are refused (counted by the caller).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::params::{DIR_BUCKETS, MAX_HOMES};
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
    /// Unix seconds.
    pub expires: u64,
    /// Role.
    pub role: Role,
    /// Address (core).
    pub addr: Option<Addr>,
    /// Homes (leaf), at most `MAX_HOMES`.
    pub homes: Vec<NodeId>,
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
}

impl Directory {
    /// An empty directory holding at most `cap` records.
    pub fn new(cap: usize) -> Directory {
        Directory { entries: BTreeMap::new(), digest: vec![0; DIR_BUCKETS], cap }
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
            expires: rec.expires,
            role: rec.role,
            addr: rec.addr,
            homes: rec.homes.iter().copied().take(MAX_HOMES).collect(),
        };
        let outcome = match self.entries.get(&rec.node) {
            None if self.entries.len() >= self.cap => return Merge::Full,
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
                    // Unauthorised keys: first seen keeps the id while its record lives.
                    !old.authorised && old.expires < unix_now
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

    /// Drop expired records.
    pub fn expire(&mut self, unix_now: u64) {
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
        assert_eq!(d.merge(&rec(1, 3, 11), b.clone(), false, 200), Merge::Conflict, "authorised beats expiry");
        let id = record_msg_id(&rec(1, 2, 9), b"x");
        assert!(d.has_record_id(&id));
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
