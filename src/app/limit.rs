//! Per-source answer budget: how many requests from one (authenticated) node are answered.
//!
//! A GCRA token bucket per source node in whole seconds of wall time: each answer pushes the
//! source's "theoretical arrival time" by [`ANSWER_INTERVAL`]; an answer is allowed while that
//! time is at most `ANSWER_BURST - 1` intervals ahead of now. Pure: time comes in.

use std::collections::BTreeMap;

use crate::keys::NodeId;
use crate::limits::{ANSWER_BURST, ANSWER_INTERVAL, ANSWER_SOURCES_CAP};
use crate::time::UnixTime;

/// The answer budget of every source (bounded by [`ANSWER_SOURCES_CAP`]).
#[derive(Debug, Default)]
pub struct AnswerLimiter {
    /// Source → the time its budget is full again (Unix seconds).
    tat: BTreeMap<NodeId, u64>,
}

impl AnswerLimiter {
    /// May `src` be answered at `now`? Spends one answer if so.
    pub fn allow(&mut self, src: NodeId, now: UnixTime) -> bool {
        let step = ANSWER_INTERVAL.as_secs().max(1);
        let tolerance = step * u64::from(ANSWER_BURST.saturating_sub(1));
        let tat = self.tat.get(&src).copied().unwrap_or(0).max(now.0);
        if tat > now.0 + tolerance {
            return false;
        }
        if !self.tat.contains_key(&src) && self.tat.len() >= ANSWER_SOURCES_CAP {
            self.evict(now);
        }
        self.tat.insert(src, tat + step);
        true
    }

    /// Forget refilled sources; if none, the one that refills first.
    fn evict(&mut self, now: UnixTime) {
        self.tat.retain(|_, t| *t > now.0);
        if self.tat.len() >= ANSWER_SOURCES_CAP {
            if let Some(first) = self.tat.iter().min_by_key(|(_, t)| **t).map(|(n, _)| *n) {
                self.tat.remove(&first);
            }
        }
    }

    /// Sources tracked.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.tat.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_stays_bounded_and_refilled_sources_go_first() {
        let mut l = AnswerLimiter::default();
        for i in 0..(ANSWER_SOURCES_CAP as u64 + 10) {
            assert!(l.allow(NodeId(i), UnixTime(1000)));
        }
        assert!(l.len() <= ANSWER_SOURCES_CAP);
        assert!(l.allow(NodeId(u64::MAX), UnixTime(10_000)));
        assert_eq!(l.len(), 1, "every other source had refilled");
    }
}
