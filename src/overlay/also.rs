//! Eager copies that name their twins (issue 11, docs/overlay.md §4): when a node pushes its
//! own message eagerly to several peers in one wake, each copy names the others
//! (`Msg::GossipAlso`, only to peers that announced `FEATURE_ALSO`), and a receiver does not
//! announce that message lazily (IHAVE) to a named peer: the peer got the same copy from the
//! same sender in the same wake. In a 3-node network this removes the last packets above two
//! per post: B and C each announced every post of A to the other.
//!
//! Repair: the skipped IHAVEs are *held* (`ALSO_HOLD_MS`, at most `ALSO_HOLD_CAP`), not
//! forgotten. While the sender's link stays up its own repair covers the named peer (a lost
//! datagram is asked for again, a shed push is announced by the sender); if the sender's link
//! drops within the hold (it crashed between its sends, or before a lost datagram was
//! repaired) the held IHAVEs are released as ordinary ones and the named peer grafts. When
//! the hold ends they all go out anyway, batched, as a slow digest (about one frame per peer
//! per hold), so a named peer that did not get the message is repaired late, never not.
//!
//! Hostile senders: the names are the sender's word (authenticated by the link, unverifiable
//! otherwise). A liar can only delay, by up to `ALSO_HOLD_MS`, *this* node's announcements of
//! messages *it* delivered here first, to the peers it names; see docs/overlay.md §4.

use std::collections::VecDeque;

use super::params::{ALSO_HOLD_CAP, ALSO_HOLD_MS, ALSO_MAX_NAMED};
use super::{Instant, Overlay};
use crate::wire::{ConnId, Gossip, GossipKind, Msg, MsgId, NodeId, FEATURE_ALSO};

/// A held IHAVE: `id` (at `round`) was not announced to `peer` because `origin`'s copy named
/// it. 64 B.
#[derive(Clone, Debug)]
pub(super) struct Covered {
    peer: NodeId,
    id: MsgId,
    round: u16,
    origin: NodeId,
    until: Instant,
}

/// The held IHAVEs, oldest first (one hold for all, so also earliest expiry first), and the
/// names of the eager copy being handled now.
#[derive(Default)]
pub(super) struct Also {
    held: VecDeque<Covered>,
    /// (sender, named peers) of the `GossipAlso` being handled (set only during that call).
    rx: Option<(NodeId, Vec<NodeId>)>,
}

impl Also {
    /// Held IHAVEs.
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.held.len()
    }
}

impl Overlay {
    /// The eager copy of `g` for `to`, one of `eager` (this push's eager receivers): our own
    /// event to a peer that understands it names the others (≤ `ALSO_MAX_NAMED`); anything
    /// else is a plain `Gossip`. Relayed messages name no one: the saving is the author's
    /// first hop, where the two receivers' mutual IHAVEs were (and a relay's copy stays as
    /// small as before).
    pub(super) fn eager_copy(&self, g: &Gossip, to: NodeId, eager: &[NodeId], from: Option<NodeId>) -> Msg {
        let own_event = from.is_none() && g.kind == GossipKind::Event;
        if !own_event || eager.len() < 2 || !self.peer_speaks(to, FEATURE_ALSO) {
            return Msg::Gossip(g.clone());
        }
        let named: Vec<NodeId> = eager.iter().copied().filter(|n| *n != to).take(ALSO_MAX_NAMED).collect();
        Msg::GossipAlso(g.clone(), named)
    }

    /// An eager copy that names other receivers: handled as a `Gossip`, with the names in
    /// force while it is (a record's names are ignored: records are never named).
    pub(super) fn on_gossip_also(&mut self, conn: ConnId, from: NodeId, g: Gossip, mut named: Vec<NodeId>) {
        if g.kind == GossipKind::Event {
            named.truncate(ALSO_MAX_NAMED);
            named.retain(|n| *n != self.me && *n != from);
            self.also.rx = Some((from, named));
        }
        self.on_gossip(conn, from, g);
        self.also.rx = None;
    }

    /// Called by `push` for each lazy peer: true if the copy being handled (from `from`) named
    /// `peer`, in which case the IHAVE of `id` is held here instead of queued.
    pub(super) fn hold_if_named(&mut self, peer: NodeId, id: MsgId, round: u16, from: Option<NodeId>) -> bool {
        let Some((origin, named)) = &self.also.rx else { return false };
        if Some(*origin) != from || !named.contains(&peer) {
            return false;
        }
        let origin = *origin;
        if self.also.held.len() >= ALSO_HOLD_CAP {
            if let Some(old) = self.also.held.pop_front() {
                self.stats_mut().also_released += 1;
                self.queue_ihave(old.peer, old.id, old.round);
            }
        }
        self.stats_mut().also_skipped += 1;
        let until = self.now.plus_ms(ALSO_HOLD_MS);
        self.also.held.push_back(Covered { peer, id, round, origin, until });
        true
    }

    /// `node`'s last link dropped: the IHAVEs held on its word go out as ordinary ones (it may
    /// have died between its sends, or before its datagram repair finished).
    pub(super) fn release_covered(&mut self, node: NodeId) {
        if !self.also.held.iter().any(|c| c.origin == node) {
            return;
        }
        let (release, keep): (VecDeque<Covered>, VecDeque<Covered>) =
            std::mem::take(&mut self.also.held).into_iter().partition(|c| c.origin == node);
        self.also.held = keep;
        for c in release {
            self.stats_mut().also_released += 1;
            self.queue_ihave(c.peer, c.id, c.round);
        }
    }

    /// Housekeeping: once the oldest held IHAVE's hold is over, every held one goes out as a
    /// slow digest (the shed path: frames of up to `MAX_IHAVE_BATCH` ids, one per peer). A
    /// named peer that has the message ignores it; one that a lying sender named without
    /// sending it the message grafts it now, at most `ALSO_HOLD_MS` late, instead of never.
    /// Releasing all at once keeps the digest to about one frame per peer per hold.
    pub(super) fn expire_covered(&mut self) {
        if self.also.held.front().is_none_or(|c| c.until > self.now) {
            return;
        }
        for c in std::mem::take(&mut self.also.held) {
            self.stats_mut().also_digested += 1;
            self.queue_shed(c.peer, c.id, c.round);
        }
    }
}
