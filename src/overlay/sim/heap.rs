//! Where the simulator's memory goes: [`Sim::heap_parts`] takes the simulation apart one
//! component at a time and asks the caller's live-heap counter (a counting global allocator in
//! the benchmark) how much each drop freed. Lives here, a child of `overlay`, because it has to
//! move private fields out of `Overlay`; it changes nothing in the protocol.

use std::collections::BTreeMap;

use super::Sim;
use crate::overlay::Overlay;
use crate::wire::Role;

/// Heap bytes freed by dropping each component, by node role (`None`: the simulator's own).
#[derive(Debug, Default)]
pub struct HeapParts {
    /// (role, component) → bytes.
    pub bytes: BTreeMap<(Option<Role>, &'static str), u64>,
    /// Live nodes of each role when measured.
    pub nodes: BTreeMap<Role, u64>,
}

impl HeapParts {
    fn add(&mut self, role: Option<Role>, part: &'static str, freed: usize) {
        *self.bytes.entry((role, part)).or_default() += freed as u64;
    }

    /// Total over every component of `role`.
    pub fn total(&self, role: Option<Role>) -> u64 {
        self.bytes.iter().filter(|((r, _), _)| *r == role).map(|(_, b)| *b).sum()
    }
}

/// Drops `value` and returns how many bytes `live` says that freed.
fn freed<T>(live: &dyn Fn() -> usize, value: T) -> usize {
    let before = live();
    drop(value);
    before.saturating_sub(live())
}

/// Drops one overlay field by field into `parts` (fields not named, e.g. ones added later,
/// count as "other").
fn dismantle(o: Overlay, live: &dyn Fn() -> usize, parts: &mut HeapParts) {
    let role = Some(o.role);
    let Overlay { dir, dht, seen, cache, missing, conns, by_node, timers, outbox, passive, candidates, .. } = o;
    parts.add(role, "directory (records)", freed(live, dir));
    parts.add(role, "ring directory state", freed(live, dht));
    parts.add(role, "seen ids", freed(live, seen));
    parts.add(role, "message cache", freed(live, cache));
    parts.add(role, "missing (lazy pull)", freed(live, missing));
    parts.add(role, "connections", freed(live, (conns, by_node)));
    parts.add(role, "timers + outbox", freed(live, (timers, outbox)));
    parts.add(role, "peer samples", freed(live, (passive, candidates)));
    // The rest (limiters, bans, views, crypto, config) drops on return; the caller charges
    // it to "other overlay state".
}

impl Sim {
    /// Take the whole simulation apart, measuring each component with `live` (current live
    /// heap bytes). The simulation is empty afterwards: call it last.
    pub fn heap_parts(&mut self, live: &dyn Fn() -> usize) -> HeapParts {
        let mut parts = HeapParts::default();
        let queue = std::mem::take(&mut self.queue);
        parts.add(None, "event queue (in-flight frames)", freed(live, queue));
        let links = (std::mem::take(&mut self.links), std::mem::take(&mut self.by_addr));
        parts.add(None, "links + address map", freed(live, links));
        let nodes = std::mem::take(&mut self.nodes);
        for n in nodes {
            if !n.alive {
                continue;
            }
            let role = n.overlay.role();
            *parts.nodes.entry(role).or_default() += 1;
            let book = (n.delivered, n.unicasts_in, n.unicast_done, n.cfg);
            parts.add(Some(role), "sim bookkeeping (delivered map, config)", freed(live, book));
            let before = live();
            let mut sub = HeapParts::default();
            dismantle(n.overlay, live, &mut sub);
            let total = before.saturating_sub(live()) as u64;
            let named = sub.total(Some(role));
            for ((r, p), b) in sub.bytes {
                parts.add(r, p, b as usize);
            }
            parts.add(Some(role), "other overlay state", total.saturating_sub(named) as usize);
        }
        parts
    }
}
