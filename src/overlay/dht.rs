//! The ring directory's protocol (issue 10 part 2; docs/scaling.md "Directory"): the frames
//! `FindNode`, `Found`, `Store` and `Neighbours` as they arrive from peers. `ring.rs` holds the
//! pure routing and replica decisions this module drives.
//!
//! Every ring frame passes [`ring_frame_fits`] first: a peer that did not announce
//! `FEATURE_RING` in its `Hello`, or a list over its bound, is counted in `Stats::ring_dropped`
//! and dropped whole (never a ban: a later build may send more).

use super::params::{RING_NEIGHBOURS_MAX, RING_REPLICAS, RING_STORE_PER_FRAME};
use super::Overlay;
use crate::wire::{ConnId, Msg, FEATURE_RING};

/// True if a ring frame's lists are within their bounds (`RING_NEIGHBOURS_MAX`,
/// `RING_STORE_PER_FRAME`, `RING_REPLICAS` holders). Other frames are not ring frames: false.
pub(crate) fn ring_frame_fits(msg: &Msg) -> bool {
    match msg {
        Msg::FindNode(_) => true,
        Msg::Found(f) => f.holders.len() <= RING_REPLICAS,
        Msg::Store(records) => records.len() <= RING_STORE_PER_FRAME,
        Msg::Neighbours { peers, .. } => peers.len() <= RING_NEIGHBOURS_MAX,
        _ => false,
    }
}

impl Overlay {
    /// A ring frame from an authenticated peer.
    pub(super) fn on_ring_frame(&mut self, conn: ConnId, msg: Msg) {
        let announced = self.conns.get(&conn).is_some_and(|c| c.features & FEATURE_RING != 0);
        if !announced || !ring_frame_fits(&msg) {
            self.stats.ring_dropped += 1;
            return;
        }
        // This build runs the broadcast directory only; the ring is not switched on yet.
        self.stats.ring_dropped += 1;
    }
}
