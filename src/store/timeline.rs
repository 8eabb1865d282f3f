//! The ring's ordered map of live events, `(created_at, id)` → entry: a B-tree whose leaves
//! are sorted `Vec`s of up to [`CHUNK`] entries, kept full when events arrive in time order.
//!
//! Why not `BTreeMap`: its leaves hold at most 11 entries and a node split on an append at
//! the right edge leaves 6 behind, so a timeline (nearly every event is the newest so far)
//! fills its nodes to ≈ 55 %: ≈ 133 B per 72-byte slot with the internal nodes. Here an
//! append into a full last chunk starts a new chunk instead of splitting it, so appended
//! chunks stay 100 % full (≈ 73 B per slot). An insert into the middle of a full chunk splits
//! it in halves, and a half, or a chunk left smaller by a removal, is merged into its
//! neighbour whenever both fit in one, so any two neighbouring chunks hold more than [`CHUNK`]
//! entries together: the fill is over 50 % whatever the order of inserts and removals (at
//! worst ≈ 145 B per slot, like `BTreeMap`'s worst case), and no input can make a chunk per
//! event.
//!
//! Chunks are keyed in an outer `BTreeMap` by a lower bound of their keys: the first key they
//! held when created (or a smaller key inserted before it). Removing a chunk's first entry
//! leaves the bound as it is, which stays correct: every key of a chunk is ≥ its bound and <
//! the next chunk's bound. The key `k`, if present, is in the chunk with the greatest bound
//! ≤ `k`. Pure data structure: no IO, no clock, no panics on any range.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::ops::RangeBounds;

use super::ring::Key;

/// Entries per chunk: one allocation of `CHUNK` × (40 B key + entry). 64 × 72 B = 4.5 KiB,
/// below malloc's mmap threshold; inserting into or removing from the middle moves at most
/// that many bytes. Memory: part of the store budget (`STORE_EVENT_OVERHEAD_BYTES`).
pub const CHUNK: usize = 64;

/// Ordered map `Key` → `V` in chunks. See the module doc.
pub struct Timeline<V> {
    chunks: BTreeMap<Key, Vec<(Key, V)>>,
    len: usize,
}

impl<V> Default for Timeline<V> {
    fn default() -> Self {
        Timeline { chunks: BTreeMap::new(), len: 0 }
    }
}

/// Whether `k` is at or past the range's start.
fn after_start(start: Bound<&Key>, k: &Key) -> bool {
    match start {
        Bound::Included(s) => k >= s,
        Bound::Excluded(s) => k > s,
        Bound::Unbounded => true,
    }
}

/// Whether `k` is at or before the range's end.
fn before_end(end: Bound<&Key>, k: &Key) -> bool {
    match end {
        Bound::Included(e) => k <= e,
        Bound::Excluded(e) => k < e,
        Bound::Unbounded => true,
    }
}

impl<V> Timeline<V> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bound of the chunk that holds `k` if anything does.
    fn chunk_of(&self, k: &Key) -> Option<Key> {
        self.chunks.range(..=*k).next_back().map(|(b, _)| *b)
    }

    /// The entry at `k`.
    pub fn get(&self, k: &Key) -> Option<&V> {
        let chunk = self.chunks.get(&self.chunk_of(k)?)?;
        let at = chunk.binary_search_by(|(x, _)| x.cmp(k)).ok()?;
        chunk.get(at).map(|(_, v)| v)
    }

    /// The entry at `k`, mutable.
    pub fn get_mut(&mut self, k: &Key) -> Option<&mut V> {
        let bound = self.chunk_of(k)?;
        let chunk = self.chunks.get_mut(&bound)?;
        let at = chunk.binary_search_by(|(x, _)| x.cmp(k)).ok()?;
        chunk.get_mut(at).map(|(_, v)| v)
    }

    /// Whether `k` has an entry.
    pub fn contains_key(&self, k: &Key) -> bool {
        self.get(k).is_some()
    }

    /// The bound of the chunk after the one at `bound`.
    fn next_bound(&self, bound: &Key) -> Option<Key> {
        self.chunks.range((Bound::Excluded(*bound), Bound::Unbounded)).next().map(|(b, _)| *b)
    }

    /// The bound of the chunk before the one at `bound`.
    fn prev_bound(&self, bound: &Key) -> Option<Key> {
        self.chunks.range(..*bound).next_back().map(|(b, _)| *b)
    }

    fn chunk_len(&self, bound: &Key) -> usize {
        self.chunks.get(bound).map_or(0, Vec::len)
    }

    /// Moves the chunk at `from` onto the end of its predecessor `into` if both fit in one
    /// chunk (no reallocation: every chunk has room for [`CHUNK`]). Returns whether it did.
    fn merge(&mut self, into: Option<Key>, from: Option<Key>) -> bool {
        let (Some(into), Some(from)) = (into, from) else { return false };
        if self.chunk_len(&into) + self.chunk_len(&from) > CHUNK {
            return false;
        }
        let Some(mut moved) = self.chunks.remove(&from) else { return false };
        match self.chunks.get_mut(&into) {
            Some(dest) => dest.append(&mut moved),
            None => {
                debug_assert!(false, "merge of a chunk into a missing one");
                self.chunks.insert(from, moved);
                return false;
            }
        }
        true
    }

    /// Sets the entry at `k`; returns the one it replaced.
    pub fn insert(&mut self, k: Key, v: V) -> Option<V> {
        let bound = match self.chunk_of(&k) {
            Some(b) => b,
            // Before every chunk: the first chunk takes it and `k` becomes its bound.
            None => match self.chunks.pop_first() {
                Some((_, chunk)) => {
                    self.chunks.insert(k, chunk);
                    k
                }
                None => {
                    self.chunks.insert(k, Vec::with_capacity(CHUNK));
                    k
                }
            },
        };
        let Some(chunk) = self.chunks.get_mut(&bound) else {
            debug_assert!(false, "the bound just found names a chunk");
            return None;
        };
        let at = match chunk.binary_search_by(|(x, _)| x.cmp(&k)) {
            Ok(at) => return chunk.get_mut(at).map(|e| std::mem::replace(&mut e.1, v)),
            Err(at) => at,
        };
        self.len += 1;
        if chunk.len() < CHUNK {
            chunk.insert(at, (k, v));
            return None;
        }
        if at == CHUNK {
            // Past the end of a full chunk: the next chunk's front if it has room (its bound
            // moves down to `k`), else a new chunk. An append leaves the full chunk full.
            let next = self.next_bound(&bound).filter(|n| self.chunk_len(n) < CHUNK);
            let mut dest = next.and_then(|n| self.chunks.remove(&n)).unwrap_or_else(|| Vec::with_capacity(CHUNK));
            dest.insert(0, (k, v));
            self.chunks.insert(k, dest);
            return None;
        }
        // Into the middle of a full chunk: split it in halves, then merge each half with its
        // outer neighbour where they fit (neighbouring chunks always hold more than CHUNK).
        let mut upper = Vec::with_capacity(CHUNK);
        upper.extend(chunk.drain(CHUNK / 2..));
        if at <= CHUNK / 2 {
            chunk.insert(at, (k, v));
        } else {
            upper.insert(at - CHUNK / 2, (k, v));
        }
        let upper_bound = upper.first().map(|(b, _)| *b)?;
        self.chunks.insert(upper_bound, upper);
        let after = self.next_bound(&upper_bound);
        self.merge(Some(upper_bound), after);
        let before = self.prev_bound(&bound);
        self.merge(before, Some(bound));
        None
    }

    /// Removes the entry at `k` and returns it. A chunk left empty goes; one that now fits
    /// in a neighbour together with it is merged into it.
    pub fn remove(&mut self, k: &Key) -> Option<V> {
        let bound = self.chunk_of(k)?;
        let chunk = self.chunks.get_mut(&bound)?;
        let at = chunk.binary_search_by(|(x, _)| x.cmp(k)).ok()?;
        let (_, v) = chunk.remove(at);
        self.len -= 1;
        if chunk.is_empty() {
            self.chunks.remove(&bound);
        } else {
            let before = self.prev_bound(&bound);
            if !self.merge(before, Some(bound)) {
                let after = self.next_bound(&bound);
                self.merge(Some(bound), after);
            }
        }
        Some(v)
    }

    /// Entries with keys in `range`, in key order (double-ended). An empty or inverted range
    /// gives nothing.
    pub fn range<R: RangeBounds<Key>>(&self, range: R) -> impl DoubleEndedIterator<Item = (&Key, &V)> + '_ {
        let (start, end) = (range.start_bound().cloned(), range.end_bound().cloned());
        let empty = match (&start, &end) {
            (Bound::Included(s), Bound::Included(e)) => s > e,
            (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => s >= e,
            _ => false,
        };
        // Chunks from the one that would hold the start to the last whose bound is in range.
        let from = match &start {
            Bound::Included(s) | Bound::Excluded(s) => self.chunk_of(s),
            Bound::Unbounded => None,
        };
        let chunks = (!empty).then(|| {
            let lower = from.map_or(Bound::Unbounded, Bound::Included);
            self.chunks.range((lower, end))
        });
        chunks.into_iter().flatten().flat_map(move |(_, chunk)| {
            let lo = chunk.partition_point(|(k, _)| !after_start(start.as_ref(), k));
            let hi = chunk.partition_point(|(k, _)| before_end(end.as_ref(), k)).max(lo);
            chunk.get(lo..hi).unwrap_or(&[]).iter().map(|(k, v)| (k, v))
        })
    }

    /// Every entry in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Key, &V)> + '_ {
        self.chunks.values().flat_map(|chunk| chunk.iter().map(|(k, v)| (k, v)))
    }

    /// Every key in order. For tests.
    #[cfg(test)]
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Key> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Every entry's value in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// The greatest key and its entry.
    pub fn last_key_value(&self) -> Option<(&Key, &V)> {
        self.chunks.values().next_back().and_then(|c| c.last()).map(|(k, v)| (k, v))
    }

    /// Chunks and the entries they hold, for tests and the invariant check.
    #[cfg(test)]
    pub fn chunk_lens(&self) -> Vec<usize> {
        self.chunks.values().map(Vec::len).collect()
    }

    /// The module doc's invariants, in O(n). For tests.
    #[cfg(test)]
    pub fn check(&self) {
        let mut prev: Option<Key> = None;
        let bounds: Vec<Key> = self.chunks.keys().copied().collect();
        let mut total = 0;
        for (i, (bound, chunk)) in self.chunks.iter().enumerate() {
            assert!(!chunk.is_empty() && chunk.len() <= CHUNK, "chunk sizes");
            assert!(chunk.capacity() <= CHUNK, "a chunk never grows past CHUNK");
            assert!(chunk.first().is_some_and(|(k, _)| k >= bound), "bound is a lower bound");
            if let Some(next) = bounds.get(i + 1) {
                assert!(chunk.last().is_some_and(|(k, _)| k < next), "keys below the next bound");
                let next_len = self.chunks.get(next).map_or(0, Vec::len);
                assert!(chunk.len() + next_len > CHUNK, "neighbours would not fit in one chunk");
            }
            for (k, _) in chunk {
                assert!(prev.is_none_or(|p| p < *k), "keys strictly ascending");
                prev = Some(*k);
            }
            total += chunk.len();
        }
        assert_eq!(total, self.len);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{Timeline, CHUNK};
    use crate::event::EventId;
    use crate::time::UnixTime;

    use super::Key;

    fn key(t: u64, id: u8) -> Key {
        (UnixTime(t), EventId([id; 32]))
    }

    /// xorshift64*: deterministic pseudo-random operations.
    fn next(s: &mut u64) -> u64 {
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        s.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The timeline answers exactly as a `BTreeMap` would, for every query it has.
    fn same(t: &Timeline<u64>, m: &BTreeMap<Key, u64>) {
        t.check();
        assert_eq!(t.len(), m.len());
        assert!(t.iter().eq(m.iter()), "iteration");
        assert!(t.iter().rev().eq(m.iter().rev()), "reverse iteration");
        assert_eq!(t.last_key_value(), m.last_key_value());
    }

    /// At most two chunks per `CHUNK` entries (plus one): the fill is over 50 %.
    fn dense(t: &Timeline<u64>) {
        let chunks = t.chunk_lens().len();
        assert!(chunks <= 2 * t.len() / CHUNK + 1, "{chunks} chunks for {} entries", t.len());
    }

    #[test]
    fn appends_in_time_order_fill_every_chunk() {
        let mut t = Timeline::default();
        for i in 0..10 * CHUNK as u64 + 3 {
            assert_eq!(t.insert(key(i, 1), i), None);
        }
        let lens = t.chunk_lens();
        assert_eq!(lens.len(), 11);
        assert!(lens[..10].iter().all(|l| *l == CHUNK), "{lens:?}");
        t.check();
    }

    /// Hostile order: each key just after a full chunk and below the previous one. With a new
    /// chunk per such key this would cost a 4.5 KiB chunk per event.
    #[test]
    fn descending_keys_after_a_full_chunk_do_not_make_a_chunk_each() {
        let mut t = Timeline::default();
        for i in 0..CHUNK as u64 {
            t.insert(key(i, 1), i);
        }
        for i in 0..20 * CHUNK as u64 {
            t.insert(key(1_000_000 - i, 1), i);
            dense(&t);
        }
        t.check();
    }

    /// Hostile order: keys alternately at both ends of the middle of full chunks, and
    /// removals that leave every chunk nearly empty.
    #[test]
    fn removals_merge_nearly_empty_neighbours() {
        let mut t = Timeline::default();
        let mut m = BTreeMap::new();
        for i in 0..40 * CHUNK as u64 {
            t.insert(key(i, 0), i);
            m.insert(key(i, 0), i);
        }
        // Keep one in CHUNK/2: without merging, every chunk would hold one or two entries.
        for i in 0..40 * CHUNK as u64 {
            if i % (CHUNK as u64 / 2) != 0 {
                assert_eq!(t.remove(&key(i, 0)), m.remove(&key(i, 0)));
                dense(&t);
            }
        }
        same(&t, &m);
        assert_eq!(t.remove(&key(1, 0)), None, "absent");
    }

    #[test]
    fn random_operations_match_a_btreemap() {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut t = Timeline::default();
        let mut m = BTreeMap::new();
        for round in 0..20_000u64 {
            let k = key(next(&mut s) % 3_000, (next(&mut s) % 3) as u8);
            match next(&mut s) % 5 {
                0 | 1 => assert_eq!(t.insert(k, round), m.insert(k, round)),
                2 => assert_eq!(t.remove(&k), m.remove(&k)),
                3 => {
                    assert_eq!(t.get(&k), m.get(&k));
                    assert_eq!(t.contains_key(&k), m.contains_key(&k));
                    if let (Some(a), Some(b)) = (t.get_mut(&k), m.get_mut(&k)) {
                        *a += 1;
                        *b += 1;
                    }
                }
                _ => {
                    let (a, b) = (k, key(next(&mut s) % 3_000, 1));
                    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                    assert!(t.range(lo..=hi).eq(m.range(lo..=hi)), "inclusive range");
                    assert!(t.range(lo..hi).rev().eq(m.range(lo..hi).rev()), "half-open range");
                    assert!(t.range(lo..).eq(m.range(lo..)), "range from");
                    assert!(t.range(..hi).rev().take(7).eq(m.range(..hi).rev().take(7)), "range to");
                }
            }
            if round % 997 == 0 {
                same(&t, &m);
                dense(&t);
            }
        }
        same(&t, &m);
        dense(&t);
    }

    /// Ranges a `BTreeMap` would panic on are empty, not a panic.
    #[test]
    fn inverted_and_empty_ranges_are_empty() {
        let mut t = Timeline::default();
        for i in 0..200 {
            t.insert(key(i, 0), i);
        }
        let (a, b) = (key(150, 0), key(50, 0));
        assert_eq!(t.range(a..b).count(), 0);
        assert_eq!(t.range(a..=b).count(), 0);
        assert_eq!(t.range(a..a).count(), 0);
        assert_eq!(t.range(a..=a).count(), 1);
        use std::ops::Bound::Excluded;
        assert_eq!(t.range((Excluded(a), Excluded(a))).count(), 0);
        assert_eq!(Timeline::<u64>::default().range(..).count(), 0);
    }
}
