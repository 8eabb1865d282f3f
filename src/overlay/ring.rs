//! Chord-style ring among core nodes: the routing and replica decisions of the scalable
//! directory (issue 10 part 2; docs/scaling.md "Directory"). Pure, and not wired into the
//! overlay yet: nodes still use the broadcast directory (`directory.rs`).
//!
//! Each core keeps its `RING_SUCCESSORS` nearest successors and predecessors on the 64-bit id
//! ring and `RING_FINGERS` finger slots (finger i = the first known core at or after me + 2^i).
//! A key (a node id) is *owned* by its successor; its record is held by [`RingTable::holders`]:
//! the first `RING_REPLICAS` cores at or after it with pairwise distinct IP prefixes (then the
//! nearest others, so a private network on one subnet still keeps three copies). Routing is
//! greedy clockwise: forward to the known core closest before the key, so every hop strictly
//! shrinks the clockwise distance to the key (no loop is possible; ≈ ½·log2(cores) hops).
//!
//! Hostile inputs. Only *verified* cores (an authenticated connection, or a signed record we
//! checked) enter the table through [`RingTable::offer`], and a core sits where its id puts it:
//! a peer claiming to be everyone's successor displaces no closer core. Neighbour lists from
//! peers are unverified claims: [`RingTable::worth_verifying`] keeps at most
//! `RING_VERIFY_PER_LIST` that would improve the table, for the caller to handshake first.
//! Ids packed right after a key from one network get one of its replicas (distinct prefixes);
//! how many ids a network adds at all is bounded by the issue-8 new-id budgets.

use std::collections::BTreeMap;

use super::params::RING_VERIFY_PER_LIST;
use super::params::{LOOKUP_CACHE_CAP, LOOKUP_CACHE_MS, RING_FINGERS, RING_REPLICAS, RING_SUCCESSORS};
use super::types::Instant;
use crate::wire::NodeId;

/// Clockwise distance from `a` to `b` on the 2^64 ring.
pub fn dist(a: u64, b: u64) -> u64 {
    b.wrapping_sub(a)
}

/// True if `x` lies in the clockwise arc (a, b]; (a, a] is the whole ring.
pub fn in_arc(a: u64, x: u64, b: u64) -> bool {
    a == b || (x != a && dist(a, x) <= dist(a, b))
}

/// A verified core on the ring: its id and the network prefix of its address (`Addr::prefix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingPeer {
    /// Node id (its position).
    pub node: NodeId,
    /// IP prefix (/24, /48) of its address.
    pub prefix: u64,
}

/// A key's holders ([`RingTable::holder_set`]), nearest the key first: at most
/// `RING_REPLICAS`, held inline (no allocation: callers take one per held record on every
/// table change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holders {
    ids: [NodeId; RING_REPLICAS],
    len: usize,
}

impl Holders {
    /// The holders, nearest the key first.
    pub fn as_slice(&self) -> &[NodeId] {
        &self.ids[..self.len]
    }
    /// True if `node` is one of them.
    pub fn contains(&self, node: &NodeId) -> bool {
        self.as_slice().contains(node)
    }
    /// The holders, nearest the key first.
    pub fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.as_slice().iter().copied()
    }
}

/// Where a lookup for a key goes from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// This node owns the key (it is the key's successor as far as it knows).
    Local,
    /// The given core owns the key: the last hop.
    Owner(NodeId),
    /// Forward to the given core, the known one closest before the key.
    Forward(NodeId),
}

/// Why a ring operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingError {
    /// A node offered itself as its own neighbour.
    Myself,
    /// A walk over the tables did not end within its hop limit (cannot happen with greedy
    /// routing; reported instead of looping).
    TooManyHops,
    /// A walk reached a node that has no table.
    UnknownNode(NodeId),
}

impl std::fmt::Display for RingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RingError::Myself => write!(f, "a node cannot be its own ring neighbour"),
            RingError::TooManyHops => write!(f, "ring walk exceeded its hop limit"),
            RingError::UnknownNode(n) => write!(f, "ring walk reached {n}, which has no table"),
        }
    }
}

impl std::error::Error for RingError {}

/// One core's view of the ring; see the module doc. ≈ 2 KB (`RING_FINGERS` slots dominate)
/// plus the index `by_id` (≤ 2 × `RING_SUCCESSORS` + `RING_FINGERS` + 1 entries of 16 B,
/// ≈ 0.5 KB for a table of ≈ 30 distinct cores).
#[derive(Debug, Clone)]
pub struct RingTable {
    me: RingPeer,
    /// Clockwise nearest first, ≤ `RING_SUCCESSORS`.
    succ: Vec<RingPeer>,
    /// Counter-clockwise nearest first, ≤ `RING_SUCCESSORS`.
    pred: Vec<RingPeer>,
    /// `fingers[i]`: best known core at or after me + 2^i.
    fingers: Vec<Option<RingPeer>>,
    /// Every distinct core of the three lists above, and `me`, sorted by id: rebuilt by
    /// `reindex` whenever they change, so `holders` and `known` walk it instead of sorting the
    /// lists per call. `holders` runs for every held record on every housekeeping tick and for
    /// every record whenever a core connects: sorting there was ≈ 65 % of the simulator's
    /// time at 10k nodes. Invariant: `by_id` is what `reindex` builds from the lists now.
    by_id: Vec<RingPeer>,
}

fn finger_point(me: u64, i: usize) -> u64 {
    me.wrapping_add(1u64 << (i % 64))
}

/// Insert `p` into `list` kept sorted by `key` (smaller first) and at most `cap` long; true if
/// the list changed. An entry for the same node is replaced (its address may have moved).
fn insert_sorted(list: &mut Vec<RingPeer>, p: RingPeer, cap: usize, key: impl Fn(&RingPeer) -> u64) -> bool {
    if let Some(old) = list.iter_mut().find(|x| x.node == p.node) {
        let changed = old.prefix != p.prefix;
        old.prefix = p.prefix;
        return changed;
    }
    let at = list.partition_point(|x| key(x) < key(&p));
    if at >= cap {
        return false;
    }
    list.insert(at, p);
    list.truncate(cap);
    true
}

impl RingTable {
    /// A table knowing nobody.
    pub fn new(me: RingPeer) -> RingTable {
        RingTable { me, succ: Vec::new(), pred: Vec::new(), fingers: vec![None; RING_FINGERS], by_id: vec![me] }
    }

    /// The table a core converges to when it knows the whole ring `all` (sorted by id, may
    /// contain `me`): what stabilisation reaches. For the simulator, benches and tests.
    pub fn converged(me: RingPeer, all: &[RingPeer]) -> RingTable {
        let mut t = RingTable::new(me);
        if all.is_empty() {
            return t;
        }
        let n = all.len();
        let at = all.partition_point(|p| p.node.0 <= me.node.0);
        // One extra step each way: `all` may hold `me`, which `offer` refuses.
        for k in 0..(RING_SUCCESSORS + 1).min(n) {
            let _ = t.offer(all[(at + k) % n]);
            let _ = t.offer(all[(at + n - 1 - k) % n]);
        }
        for i in 0..RING_FINGERS {
            let point = finger_point(me.node.0, i);
            let j = all.partition_point(|p| p.node.0 < point) % n;
            let _ = t.offer(all[j]);
        }
        t
    }

    /// This node.
    pub fn me(&self) -> NodeId {
        self.me.node
    }
    /// Successors, nearest first.
    pub fn successors(&self) -> &[RingPeer] {
        &self.succ
    }
    /// Predecessors, nearest first.
    pub fn predecessors(&self) -> &[RingPeer] {
        &self.pred
    }

    /// Every known core once, clockwise from this node.
    pub fn known(&self) -> Vec<RingPeer> {
        // `by_id` holds `me` once: the cores after it, then those before it, is clockwise order.
        let at = self.by_id.partition_point(|p| p.node.0 <= self.me.node.0);
        let mut all = Vec::with_capacity(self.by_id.len().saturating_sub(1));
        all.extend(self.by_id[at..].iter().chain(&self.by_id[..at]).filter(|p| p.node != self.me.node));
        all
    }

    /// Rebuild `by_id` from the lists (after any change to them). Of a core listed more than
    /// once, the first copy in `entries` order is kept (the sort is stable), as the
    /// sort-and-dedup of `holders` and `known` kept before the index existed.
    fn reindex(&mut self) {
        let mut all = self.entries(1);
        all.push(self.me);
        all.sort_by_key(|p| p.node);
        all.dedup_by_key(|p| p.node);
        all.shrink_to_fit(); // `entries` reserved room for every finger: ≈ 1.3 KB per table
        self.by_id = all;
    }

    /// Successors, predecessors and fingers in that order, with room for `extra` more, and
    /// without a finger repeating the entry before it (runs of fingers on one core are the
    /// norm; the first copy is the one the callers' stable sort + dedup keeps anyway).
    fn entries(&self, extra: usize) -> Vec<RingPeer> {
        let mut all: Vec<RingPeer> = Vec::with_capacity(self.succ.len() + self.pred.len() + RING_FINGERS + extra);
        all.extend(self.succ.iter().chain(&self.pred).copied());
        for f in self.fingers.iter().flatten() {
            if all.last().is_none_or(|l| l.node != f.node) {
                all.push(*f);
            }
        }
        all
    }

    /// Distinct cores among the fingers (≈ log2 of the ring size).
    pub fn distinct_fingers(&self) -> usize {
        let mut f: Vec<NodeId> = self.fingers.iter().flatten().map(|p| p.node).collect();
        f.sort();
        f.dedup();
        f.len()
    }

    /// Take a *verified* core into the table where its id places it; true if anything changed.
    pub fn offer(&mut self, p: RingPeer) -> Result<bool, RingError> {
        let changed = self.place(p)?;
        if changed {
            self.reindex();
        }
        Ok(changed)
    }

    /// True if [`RingTable::offer`] of `p` would change the table (nothing changes here).
    pub fn would_change(&self, p: RingPeer) -> bool {
        let mut probe = self.clone();
        probe.place(p).unwrap_or(false)
    }

    /// `offer` without the reindex (callers reindex once after a batch).
    fn place(&mut self, p: RingPeer) -> Result<bool, RingError> {
        let me = self.me.node.0;
        if p.node.0 == me {
            return Err(RingError::Myself);
        }
        let mut changed = insert_sorted(&mut self.succ, p, RING_SUCCESSORS, |x| dist(me, x.node.0));
        changed |= insert_sorted(&mut self.pred, p, RING_SUCCESSORS, |x| dist(x.node.0, me));
        for (i, slot) in self.fingers.iter_mut().enumerate() {
            let point = finger_point(me, i);
            let better = match slot {
                None => true,
                Some(cur) if cur.node == p.node => {
                    changed |= cur.prefix != p.prefix;
                    cur.prefix = p.prefix;
                    false
                }
                Some(cur) => dist(point, p.node.0) < dist(point, cur.node.0),
            };
            if better {
                *slot = Some(p);
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Forget a core (it failed or left); the slots it held are refilled from the rest of the
    /// table. True if it was known.
    pub fn remove(&mut self, node: NodeId) -> bool {
        let before = self.succ.len() + self.pred.len();
        self.succ.retain(|p| p.node != node);
        self.pred.retain(|p| p.node != node);
        let mut found = before != self.succ.len() + self.pred.len();
        for slot in self.fingers.iter_mut() {
            if slot.is_some_and(|p| p.node == node) {
                *slot = None;
                found = true;
            }
        }
        if found {
            self.reindex();
            for p in self.known() {
                let _ = self.place(p);
            }
            self.reindex();
        }
        found
    }

    /// Where a lookup for `key` goes next (see [`Hop`]). A `Forward` target is always strictly
    /// closer (clockwise) to the key than this node.
    pub fn next_hop(&self, key: NodeId) -> Hop {
        let (me, k) = (self.me.node.0, key.0);
        let Some(s0) = self.succ.first() else { return Hop::Local };
        if k == me || self.pred.first().is_some_and(|p0| in_arc(p0.node.0, k, me)) {
            return Hop::Local;
        }
        if in_arc(me, k, s0.node.0) {
            return Hop::Owner(s0.node);
        }
        let dk = dist(me, k);
        let best = self.known().into_iter().filter(|p| dist(me, p.node.0) < dk).max_by_key(|p| dist(me, p.node.0));
        match best {
            Some(p) => Hop::Forward(p.node),
            None => Hop::Owner(s0.node),
        }
    }

    /// The cores that hold `key`'s record, as far as this node knows: the first
    /// `RING_REPLICAS` at or after the key with pairwise distinct prefixes, then (if there
    /// are not enough prefixes) the nearest others. This node counts as a candidate.
    pub fn holders(&self, key: NodeId) -> Vec<NodeId> {
        self.holder_set(key).as_slice().to_vec()
    }

    /// [`RingTable::holders`] without allocating.
    pub fn holder_set(&self, key: NodeId) -> Holders {
        let (out, len) = self.holder_peers(key);
        let mut ids = [self.me.node; RING_REPLICAS];
        for (id, p) in ids.iter_mut().zip(&out[..len]) {
            *id = p.node;
        }
        Holders { ids, len }
    }

    /// True if this node should hold `key`'s record.
    pub fn stores(&self, key: NodeId) -> bool {
        let (out, n) = self.holder_peers(key);
        out[..n].iter().any(|p| p.node == self.me.node)
    }

    /// `holders` without allocating: the candidates in order of distance from the key are
    /// `by_id` read from the first id at or after the key, wrapping around (no sort per call).
    fn holder_peers(&self, key: NodeId) -> ([RingPeer; RING_REPLICAS], usize) {
        let cands = &self.by_id;
        let start = cands.partition_point(|p| p.node.0 < key.0);
        let in_order = || cands[start..].iter().chain(&cands[..start]);
        let mut out = [self.me; RING_REPLICAS];
        let mut n = 0;
        for p in in_order() {
            if n == RING_REPLICAS {
                break;
            }
            if !out[..n].iter().any(|o| o.prefix == p.prefix) {
                out[n] = *p;
                n += 1;
            }
        }
        for p in in_order() {
            if n == RING_REPLICAS {
                break;
            }
            if !out[..n].iter().any(|o| o.node == p.node) {
                out[n] = *p;
                n += 1;
            }
        }
        out[..n].sort_by_key(|p| dist(key.0, p.node.0));
        (out, n)
    }

    /// Of a peer's claimed neighbour list, the entries worth a handshake: new cores that would
    /// enter the successor or predecessor list or a finger slot, nearest first, at most
    /// `RING_VERIFY_PER_LIST`. Nothing enters the table here.
    pub fn worth_verifying(&self, claims: &[RingPeer]) -> Vec<RingPeer> {
        let me = self.me.node.0;
        let known = self.known();
        let mut out: Vec<RingPeer> = Vec::new();
        for c in claims {
            if c.node.0 == me || known.iter().any(|k| k.node == c.node) || out.iter().any(|o| o.node == c.node) {
                continue;
            }
            if self.would_change(*c) {
                out.push(*c);
            }
        }
        out.sort_by_key(|p| dist(me, p.node.0).min(dist(p.node.0, me)));
        out.truncate(RING_VERIFY_PER_LIST);
        out
    }

    /// Who to ask for neighbour lists this stabilise round: the nearest successor and
    /// predecessor (each answer is its own lists; this node also tells them about itself, so
    /// a newcomer enters their tables once they have verified it).
    pub fn stabilise_targets(&self) -> Vec<NodeId> {
        let mut out: Vec<NodeId> = self.succ.first().iter().chain(self.pred.first().iter()).map(|p| p.node).collect();
        out.dedup();
        out
    }

    /// Finger points worth a lookup (beyond the successor; the rest repeat it), for the
    /// caller's periodic fix-fingers round.
    pub fn finger_targets(&self) -> Vec<NodeId> {
        let me = self.me.node.0;
        let gap = self.succ.first().map_or(0, |s| dist(me, s.node.0));
        (0..RING_FINGERS).filter(|i| (1u64 << (i % 64)) > gap).map(|i| NodeId(finger_point(me, i))).collect()
    }

    /// Ring size estimated from the successor list's spread (0 if alone).
    pub fn estimate_cores(&self) -> u64 {
        let Some(last) = self.succ.last() else { return 1 };
        let span = dist(self.me.node.0, last.node.0).max(1);
        (self.succ.len() as u128 * (1u128 << 64) / span as u128).min(u64::MAX as u128) as u64
    }
}

/// Follow `next_hop` from `from` over `tables` until an owner answers; (owner, hops). For the
/// simulator, benches and tests (the protocol does the same hop by hop).
pub fn walk(tables: &BTreeMap<NodeId, RingTable>, from: NodeId, key: NodeId) -> Result<(NodeId, u32), RingError> {
    let mut at = from;
    for hops in 0..=2 * RING_FINGERS as u32 {
        let t = tables.get(&at).ok_or(RingError::UnknownNode(at))?;
        match t.next_hop(key) {
            Hop::Local => return Ok((at, hops)),
            Hop::Owner(n) => return Ok((n, hops + 1)),
            Hop::Forward(n) => at = n,
        }
    }
    Err(RingError::TooManyHops)
}

/// Recent lookup results, at most `cap`, each used for `ttl_ms` (`LOOKUP_CACHE_*`). When full,
/// the oldest entry makes room: a flood of lookups costs hits, never memory.
#[derive(Debug, Clone)]
pub struct LookupCache<V> {
    map: BTreeMap<NodeId, (V, Instant)>,
    cap: usize,
    ttl_ms: u64,
}

impl<V: Clone> Default for LookupCache<V> {
    fn default() -> Self {
        LookupCache::new(LOOKUP_CACHE_CAP, LOOKUP_CACHE_MS)
    }
}

impl<V: Clone> LookupCache<V> {
    /// Empty cache.
    pub fn new(cap: usize, ttl_ms: u64) -> LookupCache<V> {
        LookupCache { map: BTreeMap::new(), cap: cap.max(1), ttl_ms }
    }
    /// Entries held (expired ones included until they are pushed out).
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// The cached result for `node`, if still fresh.
    pub fn get(&self, node: NodeId, now: Instant) -> Option<&V> {
        self.map.get(&node).filter(|(_, at)| now.since(*at) < self.ttl_ms).map(|(v, _)| v)
    }
    /// Remember `v` for `node`.
    pub fn put(&mut self, node: NodeId, v: V, now: Instant) {
        if !self.map.contains_key(&node) && self.map.len() >= self.cap {
            let ttl = self.ttl_ms;
            self.map.retain(|_, (_, at)| now.since(*at) < ttl);
            if self.map.len() >= self.cap {
                if let Some(oldest) = self.map.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| *k) {
                    self.map.remove(&oldest);
                }
            }
        }
        self.map.insert(node, (v, now));
    }
    /// Forget `node` (its cached route failed).
    pub fn remove(&mut self, node: NodeId) {
        self.map.remove(&node);
    }
}

#[cfg(test)]
#[path = "ring_tests.rs"]
mod tests;
