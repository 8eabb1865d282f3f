//! Bounded caches and limiters: seen ids (count AND age), the GRAFT message cache, token buckets,
//! the per-author limiter and the ban list.
//!
//! Pure and deterministic: time is passed in; every structure has a hard capacity and evicts in
//! a defined order (oldest first, or fullest bucket first), never by `HashMap` order. The seen
//! set and the message cache index ids in hash tables (looked up for every received message;
//! a 65,536-entry `BTreeMap` of 32-byte keys cost ≈ 17 key comparisons per lookup) and are
//! never iterated: their eviction order lives in the `VecDeque` beside them. The tables use
//! std's keyed SipHash (`RandomState`), so ids ground to collide cannot slow them down.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use super::types::Instant;
use crate::wire::{Gossip, Key32, MsgId, NodeId};

/// Ids seen recently: bounded by `cap` entries and by `max_age_ms`.
/// Invariant: `order` and `set` hold the same ids (`order` oldest first).
#[derive(Debug)]
pub struct Seen {
    set: HashSet<MsgId>,
    order: VecDeque<(Instant, MsgId)>,
    cap: usize,
    max_age_ms: u64,
}

impl Seen {
    /// An empty cache.
    pub fn new(cap: usize, max_age_ms: u64) -> Seen {
        Seen { set: HashSet::new(), order: VecDeque::new(), cap, max_age_ms }
    }
    /// True if `id` was inserted and has not expired or been evicted.
    pub fn contains(&self, id: &MsgId) -> bool {
        self.set.contains(id)
    }
    /// Remember `id`; returns false if it was already there.
    pub fn insert(&mut self, id: MsgId, now: Instant) -> bool {
        if self.set.contains(&id) {
            return false;
        }
        while self.order.len() >= self.cap {
            self.pop_oldest();
        }
        self.set.insert(id);
        self.order.push_back((now, id));
        debug_assert_eq!(self.set.len(), self.order.len());
        true
    }
    /// Drop entries older than the age bound.
    pub fn expire(&mut self, now: Instant) {
        while let Some((t, _)) = self.order.front() {
            if now.since(*t) < self.max_age_ms {
                break;
            }
            self.pop_oldest();
        }
    }
    fn pop_oldest(&mut self) {
        if let Some((_, id)) = self.order.pop_front() {
            self.set.remove(&id);
        }
    }
    /// Number of ids held.
    pub fn len(&self) -> usize {
        self.set.len()
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

/// Recent messages kept to answer GRAFTs; bounded by count and age like [`Seen`].
#[derive(Debug)]
pub struct MsgCache {
    map: HashMap<MsgId, (Gossip, Option<NodeId>)>,
    order: VecDeque<(Instant, MsgId)>,
    cap: usize,
    max_age_ms: u64,
}

impl MsgCache {
    /// An empty cache.
    pub fn new(cap: usize, max_age_ms: u64) -> MsgCache {
        MsgCache { map: HashMap::new(), order: VecDeque::new(), cap, max_age_ms }
    }
    /// Keep `msg`, received from `from` (`None`: our own); its body is shared, not copied.
    pub fn insert(&mut self, msg: Gossip, from: Option<NodeId>, now: Instant) {
        if self.map.contains_key(&msg.id) {
            return;
        }
        while self.order.len() >= self.cap {
            if let Some((_, id)) = self.order.pop_front() {
                self.map.remove(&id);
            }
        }
        self.order.push_back((now, msg.id));
        self.map.insert(msg.id, (msg, from));
    }
    /// The cached message.
    pub fn get(&self, id: &MsgId) -> Option<&Gossip> {
        self.map.get(id).map(|(g, _)| g)
    }
    /// The round a message arrived with and who sent it.
    pub fn arrival(&self, id: &MsgId) -> Option<(u16, Option<NodeId>)> {
        self.map.get(id).map(|(g, from)| (g.round, *from))
    }
    /// Drop old messages.
    pub fn expire(&mut self, now: Instant) {
        while let Some((t, id)) = self.order.front().copied() {
            if now.since(t) < self.max_age_ms {
                break;
            }
            self.order.pop_front();
            self.map.remove(&id);
        }
    }
}

/// A token bucket in milli-tokens: `rate` tokens per second (or per minute), at most `burst`.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    milli: u64,
    last: Instant,
    /// Milli-tokens gained per ms = `rate / den` (rate per second ⇒ den 1, per minute ⇒ den 60).
    rate: u64,
    den: u64,
    burst: u64,
}

impl Bucket {
    /// A full bucket refilling `rate_per_s` tokens per second.
    pub fn new(rate_per_s: u64, burst: u64, now: Instant) -> Bucket {
        Bucket { milli: burst * 1000, last: now, rate: rate_per_s, den: 1, burst }
    }
    /// A full bucket refilling `per_min` tokens per minute.
    pub fn per_minute(per_min: u64, burst: u64, now: Instant) -> Bucket {
        Bucket { milli: burst * 1000, last: now, rate: per_min, den: 60, burst }
    }
    fn refill(&mut self, now: Instant) {
        let dt = now.since(self.last);
        self.last = now;
        let gain = self.rate.saturating_mul(dt) / self.den;
        self.milli = self.milli.saturating_add(gain).min(self.burst * 1000);
    }
    /// Take one token; false if empty.
    pub fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.milli >= 1000 {
            self.milli -= 1000;
            true
        } else {
            false
        }
    }
    /// Tokens available now (whole).
    pub fn level(&mut self, now: Instant) -> u64 {
        self.refill(now);
        self.milli / 1000
    }
}

/// Per-author broadcast limiter (events per minute per Nostr key).
pub type AuthorLimiter = KeyedLimiter<Key32>;

/// One token bucket per key (an author, an IP prefix). Bounded: when full, the key with the
/// most tokens (the least active, so the least informative) is forgotten; a forgotten key
/// comes back with a full bucket, which is why the fullest is the one to forget.
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    buckets: BTreeMap<K, Bucket>,
    cap: usize,
    per_min: u64,
    burst: u64,
}

impl<K: Ord + Copy> KeyedLimiter<K> {
    /// An empty limiter: `cap` keys, each refilling `per_min` tokens per minute up to `burst`.
    pub fn new(cap: usize, per_min: u64, burst: u64) -> KeyedLimiter<K> {
        KeyedLimiter { buckets: BTreeMap::new(), cap, per_min, burst }
    }
    /// Take one token from `author`'s budget.
    pub fn allow(&mut self, author: K, now: Instant) -> bool {
        if !self.buckets.contains_key(&author) && self.buckets.len() >= self.cap {
            let mut fullest: Option<(u64, K)> = None;
            for (k, b) in self.buckets.iter_mut() {
                let l = b.level(now);
                if fullest.is_none_or(|(fl, _)| l > fl) {
                    fullest = Some((l, *k));
                }
            }
            if let Some((_, k)) = fullest {
                self.buckets.remove(&k);
            }
        }
        let (per_min, burst) = (self.per_min, self.burst);
        self.buckets.entry(author).or_insert_with(|| Bucket::per_minute(per_min, burst, now)).take(now)
    }
}

/// Banned nodes with expiry and a repeat count (bans double per repeat).
#[derive(Debug, Default)]
pub struct Bans {
    until: BTreeMap<NodeId, (Instant, u32)>,
}

impl Bans {
    /// True if `node` is banned at `now`.
    pub fn is_banned(&self, node: NodeId, now: Instant) -> bool {
        self.until.get(&node).is_some_and(|(t, _)| *t > now)
    }
    /// Ban `node` for `base_ms × 2^(repeats)`, capped at `max_ms`.
    pub fn ban(&mut self, node: NodeId, now: Instant, base_ms: u64, max_ms: u64, cap: usize) {
        let repeats = self.until.get(&node).map_or(0, |(_, n)| *n);
        let ms = base_ms.saturating_mul(1u64 << repeats.min(20)).min(max_ms);
        if !self.until.contains_key(&node) && self.until.len() >= cap {
            // Forget the ban that ends first.
            if let Some(k) = self.until.iter().min_by_key(|(_, (t, _))| *t).map(|(k, _)| *k) {
                self.until.remove(&k);
            }
        }
        self.until.insert(node, (now.plus_ms(ms), repeats + 1));
    }
    /// Forget bans that ended long ago (keeps the repeat count while a ban is recent).
    pub fn expire(&mut self, now: Instant, keep_ms: u64) {
        self.until.retain(|_, (t, _)| t.plus_ms(keep_ms) > now);
    }
}

/// Per source IP prefix budget of new directory ids (GCRA in monotonic ms; see
/// `NEW_IDS_PER_PREFIX_BURST`). Bounded by `PREFIX_TABLE_CAP`.
#[derive(Debug, Default)]
pub struct PrefixBudget {
    tat: BTreeMap<u64, u64>,
}

impl PrefixBudget {
    /// May `prefix` add one more new id at `now`? Spends it if so.
    pub fn allow(&mut self, prefix: u64, now: Instant, burst: u64, interval_ms: u64, cap: usize) -> bool {
        let tolerance = interval_ms * burst.saturating_sub(1);
        let tat = self.tat.get(&prefix).copied().unwrap_or(0).max(now.0);
        if tat > now.0 + tolerance {
            return false;
        }
        if !self.tat.contains_key(&prefix) && self.tat.len() >= cap {
            self.tat.retain(|_, t| *t > now.0);
            if self.tat.len() >= cap {
                return false;
            }
        }
        self.tat.insert(prefix, tat + interval_ms);
        true
    }

    /// How many times `allow` would say yes for `prefix` at `now` (spends nothing).
    pub fn available(&self, prefix: u64, now: Instant, burst: u64, interval_ms: u64) -> u64 {
        let tolerance = interval_ms * burst.saturating_sub(1);
        let tat = self.tat.get(&prefix).copied().unwrap_or(0).max(now.0);
        match (now.0 + tolerance).checked_sub(tat) {
            Some(room) => room / interval_ms.max(1) + 1,
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_is_bounded_by_count_and_age() {
        let mut s = Seen::new(3, 1000);
        for i in 0..5u8 {
            assert!(s.insert(MsgId([i; 32]), Instant(i as u64)));
        }
        assert_eq!(s.len(), 3);
        assert!(!s.contains(&MsgId([0; 32])));
        assert!(s.contains(&MsgId([4; 32])));
        assert!(!s.insert(MsgId([4; 32]), Instant(10)));
        s.expire(Instant(1003));
        assert_eq!(s.len(), 1);
        s.expire(Instant(5000));
        assert!(s.is_empty());
    }

    #[test]
    fn buckets_refill() {
        let mut b = Bucket::new(10, 2, Instant(0));
        assert!(b.take(Instant(0)));
        assert!(b.take(Instant(0)));
        assert!(!b.take(Instant(0)));
        assert!(b.take(Instant(100)));
        let mut m = Bucket::per_minute(30, 1, Instant(0));
        assert!(m.take(Instant(0)));
        assert!(!m.take(Instant(1000)));
        assert!(m.take(Instant(2000)));
    }

    #[test]
    fn author_limiter_and_bans() {
        let mut a = AuthorLimiter::new(2, 30, 2);
        let k = Key32([1; 32]);
        assert!(a.allow(k, Instant(0)));
        assert!(a.allow(k, Instant(0)));
        assert!(!a.allow(k, Instant(0)));
        assert!(a.allow(Key32([2; 32]), Instant(0)));
        assert!(a.allow(Key32([3; 32]), Instant(0)));
        let mut bans = Bans::default();
        bans.ban(NodeId(1), Instant(0), 100, 1000, 4);
        assert!(bans.is_banned(NodeId(1), Instant(99)));
        assert!(!bans.is_banned(NodeId(1), Instant(100)));
        bans.ban(NodeId(1), Instant(100), 100, 1000, 4);
        assert!(bans.is_banned(NodeId(1), Instant(299)));
    }
}
