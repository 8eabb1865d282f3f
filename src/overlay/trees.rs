//! Per-author delivery trees in a node (issue 10; docs/scaling.md "Per-author trees"): moves
//! the tree frames between peers and `topic.rs`'s pure [`TopicTable`].
//!
//! Must not: send a tree frame to a peer that did not announce `FEATURE_TREES` (an older build
//! drops the link on an unknown variant), or act on one from such a peer.

use super::{ConnId, Overlay};
use crate::wire::{Msg, NodeId, FEATURE_TREES};

impl Overlay {
    /// A tree frame from an authenticated peer.
    pub(super) fn on_tree_frame(&mut self, conn: ConnId, _from: NodeId, _msg: Msg) {
        let announced = self.conns.get(&conn).is_some_and(|c| c.features & FEATURE_TREES != 0);
        if !announced || !self.trees_on() {
            self.stats.tree_dropped += 1;
        }
    }

    /// True if this node runs the per-author trees now.
    pub(super) fn trees_on(&self) -> bool {
        false
    }
}
