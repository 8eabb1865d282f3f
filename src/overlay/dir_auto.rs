//! `--directory auto`'s switch (issue 10; docs/scaling.md "Directory", "The switch"): pure
//! decisions, no IO, time passed in. The same shape as `--delivery auto` (`sample.rs`).
//!
//! A core in `auto` moves through three levels by its estimated network size `N` against
//! `T` = `RING_ON_NODES` (a test may lower it):
//!
//! * `Broadcast` (N < T): the broadcast directory exactly as with `--directory broadcast`.
//! * `Both` (T ≤ N): it also runs the ring (table, its own and its leaves' records stored at
//!   their holders, lookups when the local directory misses), and still broadcasts records
//!   and keeps everyone's.
//! * `Ring` (`RING_ONLY_FACTOR` × T ≤ N): it stops broadcasting its own and its leaves'
//!   records and relies on the ring (it still relays others' broadcast records while anyone
//!   sends them, bounded by `DIR_CAP` as always).
//!
//! Each level is left downwards only below 3/4 of its entry size (`sample::next_level`).
//!
//! **Why nobody becomes invisible.** A `Broadcast` core finds only records that are
//! broadcast; only a `Ring` core withholds its records from the broadcast. A core at `Ring`
//! has an estimate of at least ¾ × 6T = 4.5T (it entered at 6T and leaves below 4.5T); a core
//! at `Broadcast` has one under T (it climbs as soon as it reaches T). So they coexist only if
//! their estimates differ more than 4.5×; within 4× every core that may meet a ring-only core
//! runs the ring itself, and every `Both` core both broadcasts and stores, so `Broadcast` and
//! `Ring` cores each find it. The compile-time check below keeps the constants so.
//!
//! **Which estimate.** `Broadcast`: the directory's size (every core holds every record,
//! exact below `DIR_CAP`). `Ring`: the larger of the directory's size and the ring's
//! estimate (`estimate_nodes_ring`): the directory drains there as records expire and must
//! not pull the estimate down. `Both`: the directory's size, unless the ring's estimate is
//! more than `DIR_AUTO_RING_OVERRULES_PCT` of it (nodes went ring-only and withhold their
//! records from the broadcast); the ring's estimate alone right after the ring comes on (a
//! table still filling) would drop the core back at once, and its error (2× at worst) alone
//! took a fifth of a 10k network's cores ring-only, so a growing network crosses `6T` on the
//! directory's count, every core within an estimate or two of the others.
//!
//! Must not: read a clock.

use super::params::{AUTO_DOWN_NUM, DIR_AUTO_RING_OVERRULES_PCT, DIR_RING_ONLY_HOLD_MS, RING_ONLY_FACTOR};
use super::sample::{SizeLevel, Switch};

// The argument above: a `Ring` core's lowest estimate (¾ × factor × T) is at least 4 × the
// highest estimate of a `Broadcast` core (T).
const _: () = assert!(RING_ONLY_FACTOR * AUTO_DOWN_NUM >= 4 * 4);

/// Where a core in `--directory auto` stands (ordered: each level includes the ones below).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DirLevel {
    /// Small network: the broadcast directory only.
    Broadcast,
    /// The ring runs beside the broadcast directory.
    Both,
    /// Its own and its leaves' records are on the ring only.
    Ring,
}

impl DirLevel {
    /// Name for `/status`.
    pub fn as_str(self) -> &'static str {
        match self {
            DirLevel::Broadcast => "broadcast",
            DirLevel::Both => "both",
            DirLevel::Ring => "ring",
        }
    }
}

impl SizeLevel for DirLevel {
    const BOTTOM: DirLevel = DirLevel::Broadcast;
    const TOP: DirLevel = DirLevel::Ring;

    fn entry(self, t: u64) -> u64 {
        match self {
            DirLevel::Broadcast => 0,
            DirLevel::Both => t,
            DirLevel::Ring => t.saturating_mul(RING_ONLY_FACTOR),
        }
    }

    fn climb_hold_ms(self) -> u64 {
        match self {
            DirLevel::Ring => DIR_RING_ONLY_HOLD_MS,
            _ => 0,
        }
    }

    fn up(self) -> DirLevel {
        match self {
            DirLevel::Broadcast => DirLevel::Both,
            _ => DirLevel::Ring,
        }
    }

    fn down(self) -> DirLevel {
        match self {
            DirLevel::Ring => DirLevel::Both,
            _ => DirLevel::Broadcast,
        }
    }
}

/// The estimate a core at `level` goes by (see the module doc): the directory's size
/// `dir_len` at `Broadcast`; at `Both` the same unless the ring's estimate exceeds it by
/// more than `DIR_AUTO_RING_OVERRULES_PCT` (then the ring's); at `Ring` the larger of the two.
pub fn dir_estimate(level: DirLevel, dir_len: u64, ring_estimate: u64) -> u64 {
    match level {
        DirLevel::Broadcast => dir_len,
        DirLevel::Both if ring_estimate.saturating_mul(100) <= dir_len.saturating_mul(DIR_AUTO_RING_OVERRULES_PCT) => {
            dir_len
        }
        _ => dir_len.max(ring_estimate),
    }
}

/// A core's `--directory auto` state (threshold `RING_ON_NODES` unless a test lowers it).
pub type DirSwitch = Switch<DirLevel>;

#[cfg(test)]
mod tests {
    use super::super::params::RING_ON_NODES;
    use super::super::sample::next_level;
    use super::super::types::Instant;
    use super::*;
    use DirLevel::*;

    #[test]
    fn levels_climb_with_the_estimate_and_fall_only_below_three_quarters() {
        let t = 2_000;
        let only = t * RING_ONLY_FACTOR;
        let mut l = Broadcast;
        let mut seen = Vec::new();
        for est in [0, t - 1, t, only - 1, only] {
            l = next_level(l, est, t);
            seen.push(l);
        }
        assert_eq!(seen, vec![Broadcast, Broadcast, Both, Both, Ring]);
        // Just under the entry size keeps the level; under 3/4 of it leaves it.
        assert_eq!(next_level(Ring, only * 3 / 4, t), Ring);
        assert_eq!(next_level(Ring, only * 3 / 4 - 1, t), Both);
        assert_eq!(next_level(Both, t * 3 / 4, t), Both);
        assert_eq!(next_level(Both, t * 3 / 4 - 1, t), Broadcast);
        // A jump goes straight through, both ways.
        assert_eq!(next_level(Broadcast, 1_000_000, t), Ring);
        assert_eq!(next_level(Ring, 10, t), Broadcast);
        // The default threshold.
        assert_eq!(next_level(Broadcast, RING_ON_NODES - 1, RING_ON_NODES), Broadcast);
        assert_eq!(next_level(Broadcast, RING_ON_NODES, RING_ON_NODES), Both);
    }

    #[test]
    fn a_ring_only_core_and_a_broadcast_only_core_need_estimates_more_than_four_times_apart() {
        // Every pair of estimates within 4× of each other, walked up and down in every order:
        // whenever one core is at `Ring`, the other is not at `Broadcast`.
        for t in [1, 7, 100, RING_ON_NODES] {
            let grid: Vec<u64> = (0..=60).map(|i| t * RING_ONLY_FACTOR * 2 * i / 60).collect();
            for &a in &grid {
                for &b in grid.iter().filter(|b| **b <= a.saturating_mul(4) && a <= b.saturating_mul(4)) {
                    // Any history: each core reached its level climbing or falling.
                    for start_a in [Broadcast, Ring] {
                        for start_b in [Broadcast, Ring] {
                            let la = next_level(start_a, a, t);
                            let lb = next_level(start_b, b, t);
                            let split = (la == Ring && lb == Broadcast) || (lb == Ring && la == Broadcast);
                            assert!(!split, "t={t}: {a} at {la:?}, {b} at {lb:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_estimate_ignores_a_draining_directory_once_the_ring_runs() {
        // At `Ring` the directory holds only what this core holds and caches: the ring's
        // estimate keeps the level.
        let t = 100;
        let ring_est = t * RING_ONLY_FACTOR;
        assert_eq!(next_level(Ring, dir_estimate(Ring, 12, ring_est), t), Ring);
        // Right after the ring comes on, its table is empty (estimate 1): the directory holds.
        assert_eq!(next_level(Both, dir_estimate(Both, t, 1), t), Both);
        // Below the ring, only the directory counts (there is no table).
        assert_eq!(dir_estimate(Broadcast, 50, 10_000), 50);
        // At `Both` the broadcast directory's exact count holds against the ring's noise: a
        // 10k network whose ring estimate says 13,000 on this core does not take it
        // ring-only (T = 2,000: ring-only from 12,000).
        let t2 = 2_000;
        assert_eq!(dir_estimate(Both, 10_000, 13_000), 10_000);
        assert_eq!(next_level(Both, dir_estimate(Both, 10_000, 13_000), t2), Both);
        assert_eq!(dir_estimate(Both, 10_000, 20_103), 10_000, "the worst seen at 10k nodes");
        assert_eq!(dir_estimate(Both, 10_000, 30_001), 30_001);
        // The ring overrules a directory it finds far smaller (nodes withhold their records
        // from the broadcast: a core restarted into a ring-only network).
        assert_eq!(dir_estimate(Both, 900, 100_000), 100_000);
        assert_eq!(next_level(Both, dir_estimate(Both, 900, 100_000), t2), Ring);
        // At `Ring` the larger, as before (the directory drains there).
        assert_eq!(dir_estimate(Ring, 10_000, 13_000), 13_000);
        let mut s = DirSwitch::new(t);
        assert_eq!(s.update(t, Instant(0)), Some(Broadcast));
        assert_eq!(s.level, Both);
        assert_eq!(s.update(t, Instant(1)), None);
        assert!(!s.due(Instant(1)) && s.due(Instant(1 + super::super::params::AUTO_ESTIMATE_MS)));
    }

    #[test]
    fn a_core_goes_ring_only_only_once_its_estimate_has_held() {
        // While a core joins, its directory is still filling and the ring's estimate can
        // overrule it for a few minutes: that alone must not take it ring-only for good.
        let t = 2_000;
        let only = t * RING_ONLY_FACTOR;
        let hold = DIR_RING_ONLY_HOLD_MS;
        let mut s = DirSwitch::new(t);
        // A jump from the bottom goes to `both` at once, not further.
        assert_eq!(s.update(only * 10, Instant(0)), Some(Broadcast));
        assert_eq!(s.level, Both);
        assert_eq!(s.update(only, Instant(hold - 1)), None);
        assert_eq!(s.level, Both);
        // Held long enough (every estimate since at least `only`): ring-only.
        assert_eq!(s.update(only, Instant(hold)), Some(Both));
        assert_eq!(s.level, Ring);
        // An estimate under `only` (even inside the hysteresis band) restarts the wait.
        let mut s = DirSwitch::new(t);
        s.update(t, Instant(0));
        s.update(only, Instant(1_000));
        s.update(only - 1, Instant(1_000 + hold / 2));
        assert_eq!(s.update(only, Instant(1_000 + hold)), None, "the wait restarted at the dip");
        assert_eq!(s.level, Both);
        assert_eq!(s.update(only, Instant(1_000 + hold + hold)), Some(Both));
        assert_eq!(s.level, Ring);
        // Falling is at once, as before.
        assert_eq!(s.update(only * 3 / 4 - 1, Instant(1_000 + 3 * hold)), Some(Ring));
        assert_eq!(s.level, Both);
    }
}
