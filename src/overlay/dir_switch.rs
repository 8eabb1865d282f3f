//! `--directory auto` on a node: the level (`dir_auto.rs` decides), what each level switches
//! on, and the predicates the directory code asks (`ring_on`, `records_ring_only`). Thin glue:
//! no decision of its own beyond reading counts for the pure functions.
//!
//! Invariant: with `--directory auto` the ring's state (`dht`) exists once the level has
//! reached `Both` and is kept when it falls back (its lookups end by their timeout; it is
//! only ≈ 2 KB).

use super::dir_auto::{dir_estimate, DirLevel};
use super::params::DIR_AUTO_RING_PEERS;
use super::{DirectoryMode, Overlay};
use crate::wire::{Role, FEATURE_RING};

impl Overlay {
    /// The configured `--directory` setting.
    pub fn directory_mode(&self) -> DirectoryMode {
        self.cfg.directory
    }

    /// What the directory resolves to now: `--directory auto`'s level on a core in `auto`;
    /// `Broadcast` or `Ring` for the pinned settings (a leaf holds no directory and reports
    /// its setting's level, `Broadcast` for `auto`).
    pub fn dir_level(&self) -> DirLevel {
        match self.cfg.directory {
            DirectoryMode::Broadcast => DirLevel::Broadcast,
            DirectoryMode::Ring => DirLevel::Ring,
            DirectoryMode::Auto if self.role == Role::Core => self.dir_auto.level,
            DirectoryMode::Auto => DirLevel::Broadcast,
        }
    }

    /// The estimate `--directory auto` last went by (0 before the first, or not in `auto`).
    pub fn dir_estimate(&self) -> u64 {
        self.dir_auto.estimate
    }

    /// How many times `--directory auto` changed this core's level (0 when pinned).
    pub fn dir_level_changes(&self) -> u64 {
        self.dir_auto.changes
    }

    /// True if this node runs the ring machinery now (announces it, keeps a table): pinned
    /// `ring`, or `auto` from `Both`.
    pub(super) fn ring_runs(&self) -> bool {
        self.dht.is_some() && self.dir_level() >= DirLevel::Both
    }

    /// True if records of this core and its leaves go to the ring only, not the broadcast
    /// (pinned `ring`, or `auto` at `Ring`).
    pub(super) fn records_ring_only(&self) -> bool {
        self.ring_on() && self.dir_level() == DirLevel::Ring
    }

    /// True if broadcast records from others are relayed and kept: everything but pinned
    /// `ring` (an `auto` core at `Ring` still relays what others broadcast, bounded by
    /// `DIR_CAP`, so a core whose estimate lags keeps finding them).
    pub(super) fn relays_records(&self) -> bool {
        !(self.ring_on() && self.cfg.directory == DirectoryMode::Ring)
    }

    /// Lower `--directory auto`'s threshold `T` (tests and small private networks; never
    /// raised past `RING_ON_NODES`). Takes effect at the next estimate.
    pub fn lower_dir_threshold(&mut self, nodes: u64) {
        self.dir_auto.min_nodes = nodes.clamp(1, super::params::RING_ON_NODES);
        self.dir_auto.at = None;
    }

    /// Core peers in the active view that announced the ring, and the view's size.
    fn ring_peers(&self) -> (usize, usize) {
        let ring = self
            .active
            .iter()
            .filter(|n| {
                self.by_node.get(n).and_then(|c| self.conns.get(c)).is_some_and(|c| c.features & FEATURE_RING != 0)
            })
            .count();
        (ring, self.active.len())
    }

    /// Housekeeping: a core in `--directory auto` re-estimates the network size (the
    /// directory's size at every tick below the ring; with the ring, every `AUTO_ESTIMATE_MS`)
    /// and moves its level. A core whose active view is all cores running the ring (at least
    /// `DIR_AUTO_RING_PEERS` of them) counts as at least `T`: a core that starts (or restarts)
    /// in a network that went ring-only finds few records broadcast, so its directory alone
    /// would keep it off the ring for good. (A peer can claim the ring falsely: it only buys
    /// the ring's upkeep, never a split, since `Both` also broadcasts.)
    pub(super) fn dir_tick(&mut self) {
        if self.cfg.directory != DirectoryMode::Auto || self.role != Role::Core || self.reach_deadline.is_some() {
            return;
        }
        let level = self.dir_auto.level;
        if level >= DirLevel::Both && !self.dir_auto.due(self.now) {
            return;
        }
        let ring_est = if level >= DirLevel::Both { self.ring_estimate_nodes().unwrap_or(0) } else { 0 };
        let mut est = dir_estimate(level, self.dir.len() as u64, ring_est);
        let (ring, active) = self.ring_peers();
        if active >= DIR_AUTO_RING_PEERS && ring == active {
            est = est.max(self.dir_auto.min_nodes);
        }
        let Some(before) = self.dir_auto.update(est, self.now) else { return };
        let after = self.dir_auto.level;
        log::info!(
            "directory auto: {} -> {} (≈ {est} nodes, threshold {})",
            before.as_str(),
            after.as_str(),
            self.dir_auto.min_nodes
        );
        if before == DirLevel::Broadcast {
            self.ring_switch_on();
        }
        if after == DirLevel::Ring || before == DirLevel::Ring {
            // Our record goes where the new level puts it (the ring only, or both again).
            self.mark_record_dirty();
        }
    }

    /// `Both` reached: create the ring's state if this is the first time, offer it the core
    /// peers already connected that run the ring (their `Hello` said so), and store our own
    /// and our leaves' records at their holders once the table has filled (the read-back).
    fn ring_switch_on(&mut self) {
        if self.dht.is_none() {
            let prefix = self.advertised.or(self.cfg.listen).map_or(0, |a| a.prefix());
            self.dht = Some(Box::new(super::dht::Dht::new(self.me, prefix, self.now)));
        }
        for node in self.connected_nodes() {
            self.ring_peer_up(node);
        }
    }
}
