//! Support servers on the 64-bit id ring (design gist): for node X, the successors (first
//! known node id ≥ the point, wrapping) of X + 2⁶⁴/3 and of X + 2·2⁶⁴/3, never X itself.
//!
//! Change from the gist, written down: when both points land on the same node (few nodes, or
//! a gap in the ring), the second support server is the next node after the first, so X has
//! two distinct support servers whenever at least three nodes are known. With two nodes X has
//! one; alone, none. Pure: reads the known ids through [`Context::node_at_or_after`].

use super::Context;
use crate::keys::NodeId;

/// ⌊2⁶⁴ / 3⌋: a third of the ring.
pub const RING_THIRD: u64 = u64::MAX / 3;

/// The first known node with id ≥ `start` (wrapping past the top), skipping `exclude`.
pub fn successor(ctx: &dyn Context, start: u64, exclude: &[NodeId]) -> Option<NodeId> {
    let mut at = start;
    let mut wrapped = false;
    // Each step either returns, skips one excluded node, or wraps; wrapping twice means the
    // ring holds nothing but excluded nodes.
    for _ in 0..2 * (exclude.len() + 2) {
        let Some(cand) = ctx.node_at_or_after(at) else {
            if wrapped {
                return None;
            }
            wrapped = true;
            at = 0;
            continue;
        };
        if !exclude.contains(&cand) {
            return Some(cand);
        }
        match cand.0.checked_add(1) {
            Some(next) => at = next,
            None if wrapped => return None,
            None => {
                wrapped = true;
                at = 0;
            }
        }
    }
    None
}

/// The support servers of `x` (0, 1 or 2 distinct nodes, never `x`).
pub fn support_servers(ctx: &dyn Context, x: NodeId) -> Vec<NodeId> {
    let mut out = Vec::with_capacity(2);
    if let Some(first) = successor(ctx, x.0.wrapping_add(RING_THIRD), &[x]) {
        out.push(first);
        if let Some(second) = successor(ctx, x.0.wrapping_add(2 * RING_THIRD), &[x, first]) {
            out.push(second);
        }
    }
    out
}

/// How many successors of each third point may hold mail for a node: the support servers
/// themselves plus one more per point, so a depositor whose directory is a little out of date
/// (a node joined or left near the point) is still accepted.
pub const SUPPORT_SLACK: usize = 2;

/// True if `me` may keep sealed mail for `dst`: it is among the first [`SUPPORT_SLACK`]
/// successors (excluding `dst`) of one of `dst`'s two points. Refusing other deposits keeps
/// a hostile node from filling this mailbox with mail for arbitrary nodes.
pub fn may_support(ctx: &dyn Context, me: NodeId, dst: NodeId) -> bool {
    if me == dst {
        return false;
    }
    for point in [dst.0.wrapping_add(RING_THIRD), dst.0.wrapping_add(2 * RING_THIRD)] {
        let mut seen = vec![dst];
        for _ in 0..SUPPORT_SLACK {
            match successor(ctx, point, &seen) {
                Some(n) if n == me => return true,
                Some(n) => seen.push(n),
                None => break,
            }
        }
    }
    false
}
