//! A small cache of rendered `/req` answer bodies, so that a repeated identical request
//! costs a copy instead of a store query, a MessagePack encoding and a deflate.
//!
//! Sound because an answer depends only on the request body, whether it accepts gzip, and
//! the store's contents: the store reports a generation ([`EventQuery::generation`]) that
//! changes with every change a query could see, and the first lookup under a new generation
//! empties the cache. A store that reports none is never cached. CORS headers are added per
//! request, so only the body and its encoding are kept.
//!
//! Bounded: [`REQ_CACHE_ENTRIES`] entries, [`REQ_CACHE_BYTES`] of bodies in all (a larger
//! answer is not kept), keys of at most [`REQ_CACHE_MAX_KEY_BYTES`] (a longer request is not
//! cached); the least recently used entry goes first.
//!
//! [`EventQuery::generation`]: crate::query::EventQuery::generation

use crate::limits::{REQ_CACHE_BYTES, REQ_CACHE_ENTRIES, REQ_CACHE_MAX_KEY_BYTES};

/// A cached answer body and whether it is gzip'd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Encoded {
    /// The body exactly as sent.
    pub body: Vec<u8>,
    /// `body` is gzip (send `Content-Encoding: gzip`).
    pub gzipped: bool,
}

#[derive(Debug)]
struct Entry {
    key: Vec<u8>,
    accepts_gzip: bool,
    answer: Encoded,
}

/// The cache itself: owned by the driver, passed to [`super::route`].
#[derive(Debug, Default)]
pub struct ReqCache {
    /// The store generation every entry was rendered under.
    generation: Option<u64>,
    /// Most recently used last.
    entries: Vec<Entry>,
    /// Sum of the entries' body lengths.
    bytes: usize,
    hits: u64,
    misses: u64,
}

impl ReqCache {
    /// An empty cache.
    pub fn new() -> ReqCache {
        ReqCache::default()
    }

    /// The answer rendered for `key` (the request body) under store generation `generation`,
    /// if any. A different generation than the entries' empties the cache first.
    pub(crate) fn get(&mut self, generation: u64, key: &[u8], accepts_gzip: bool) -> Option<Encoded> {
        self.invalidate_unless(generation);
        let found = self.entries.iter().position(|e| e.accepts_gzip == accepts_gzip && e.key == key);
        let Some(i) = found else {
            self.misses += 1;
            return None;
        };
        self.hits += 1;
        let entry = self.entries.remove(i);
        let answer = entry.answer.clone();
        self.entries.push(entry);
        Some(answer)
    }

    /// Keeps `answer` for `key` under `generation`, within the bounds (module doc).
    pub(crate) fn put(&mut self, generation: u64, key: &[u8], accepts_gzip: bool, answer: &Encoded) {
        self.invalidate_unless(generation);
        if key.len() > REQ_CACHE_MAX_KEY_BYTES || answer.body.len() > REQ_CACHE_BYTES {
            return;
        }
        if let Some(i) = self.entries.iter().position(|e| e.accepts_gzip == accepts_gzip && e.key == key) {
            let old = self.entries.remove(i);
            self.bytes -= old.answer.body.len();
        }
        while !self.entries.is_empty()
            && (self.entries.len() >= REQ_CACHE_ENTRIES || self.bytes + answer.body.len() > REQ_CACHE_BYTES)
        {
            let old = self.entries.remove(0);
            self.bytes -= old.answer.body.len();
        }
        self.bytes += answer.body.len();
        self.entries.push(Entry { key: key.to_vec(), accepts_gzip, answer: answer.clone() });
    }

    /// Requests answered from the cache and requests that were not, since start.
    pub fn hits_misses(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// Entries and body bytes held now.
    pub fn held(&self) -> (usize, usize) {
        (self.entries.len(), self.bytes)
    }

    fn invalidate_unless(&mut self, generation: u64) {
        if self.generation != Some(generation) {
            self.entries.clear();
            self.bytes = 0;
            self.generation = Some(generation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(n: usize) -> Encoded {
        Encoded { body: vec![7; n], gzipped: true }
    }

    #[test]
    fn a_new_generation_empties_the_cache() {
        let mut c = ReqCache::new();
        c.put(1, b"k", true, &enc(10));
        assert_eq!(c.get(1, b"k", true), Some(enc(10)));
        assert_eq!(c.get(1, b"k", false), None, "gzip and identity are different answers");
        assert_eq!(c.get(2, b"k", true), None, "stale after the store changed");
        assert_eq!(c.held(), (0, 0));
        // An answer rendered under an older generation is not kept under the new one.
        c.put(1, b"k", true, &enc(10));
        assert_eq!(c.get(2, b"k", true), None);
        assert_eq!(c.hits_misses(), (1, 3));
    }

    #[test]
    fn hostile_requests_cannot_grow_it() {
        let mut c = ReqCache::new();
        // Many distinct filters: only the last REQ_CACHE_ENTRIES stay.
        for i in 0..1000u32 {
            c.put(1, &i.to_be_bytes(), true, &enc(100));
        }
        assert_eq!(c.held(), (REQ_CACHE_ENTRIES, REQ_CACHE_ENTRIES * 100));
        assert!(c.get(1, &999u32.to_be_bytes(), true).is_some());
        assert!(c.get(1, &0u32.to_be_bytes(), true).is_none());
        // A long key or a huge answer is not kept at all.
        c.put(1, &vec![b'x'; REQ_CACHE_MAX_KEY_BYTES + 1], true, &enc(10));
        c.put(1, b"huge", true, &enc(REQ_CACHE_BYTES + 1));
        assert!(c.get(1, b"huge", true).is_none());
        assert_eq!(c.held().0, REQ_CACHE_ENTRIES);
        // Big answers evict by bytes, never exceeding the budget.
        for i in 0..10u8 {
            c.put(1, &[i], true, &enc(REQ_CACHE_BYTES / 3));
            assert!(c.held().1 <= REQ_CACHE_BYTES);
        }
        assert_eq!(c.held().0, 3);
    }

    #[test]
    fn least_recently_used_goes_first() {
        let mut c = ReqCache::new();
        for i in 0..REQ_CACHE_ENTRIES as u8 {
            c.put(1, &[i], true, &enc(1));
        }
        assert!(c.get(1, &[0], true).is_some());
        c.put(1, b"new", true, &enc(1));
        assert!(c.get(1, &[0], true).is_some(), "recently used is kept");
        assert!(c.get(1, &[1], true).is_none(), "least recently used went");
        // Replacing a key does not duplicate it.
        c.put(1, b"new", true, &enc(5));
        assert_eq!(c.held().0, REQ_CACHE_ENTRIES);
        assert_eq!(c.get(1, b"new", true), Some(enc(5)));
    }
}
