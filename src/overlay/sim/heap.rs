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

/// Overlay fields measured one by one (the rest count as "other overlay state").
const FIELDS: usize = 8;

/// Drops one overlay field by field; returns what each drop freed (no allocation here, so
/// the caller's measurement of the whole overlay is not disturbed).
fn dismantle(o: Overlay, live: &dyn Fn() -> usize) -> [(&'static str, usize); FIELDS] {
    let Overlay { dir, dht, seen, cache, missing, conns, by_node, timers, outbox, passive, candidates, .. } = o;
    [
        ("directory (records)", freed(live, dir)),
        ("ring directory state", freed(live, dht)),
        ("seen ids", freed(live, seen)),
        ("message cache", freed(live, cache)),
        ("missing (lazy pull)", freed(live, missing)),
        ("connections", freed(live, (conns, by_node))),
        ("timers + outbox", freed(live, (timers, outbox))),
        ("peer samples", freed(live, (passive, candidates))),
    ]
    // The rest (limiters, bans, views, crypto, config) drops on return.
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
        let mut nodes = std::mem::take(&mut self.nodes).into_iter();
        for n in &mut nodes {
            if !n.alive {
                parts.add(None, "stopped nodes", freed(live, n));
                continue;
            }
            let role = n.overlay.role();
            *parts.nodes.entry(role).or_default() += 1;
            let book = (n.delivered, n.unicasts_in, n.unicast_done, n.cfg);
            parts.add(Some(role), "sim bookkeeping (delivered map, config)", freed(live, book));
            let before = live();
            let fields = dismantle(n.overlay, live);
            let total = before.saturating_sub(live());
            let named: usize = fields.iter().map(|(_, b)| *b).sum();
            for (part, bytes) in fields {
                parts.add(Some(role), part, bytes);
            }
            parts.add(Some(role), "other overlay state", total.saturating_sub(named));
        }
        parts.add(None, "node table", freed(live, nodes));
        parts
    }
}
