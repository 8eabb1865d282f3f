//! The broadcast directory after a mass join (issue 8/10; docs/scaling.md "Simulator at scale"):
//! every core node must hold every node's record, and the core overlay must be one piece, within
//! a bounded *simulated* time. 1k seed 2 of `overlay_bench` once left cores with 476 of 1,000
//! records: the core overlay had split into three parts during the join (a core whose contact
//! was still checking its own reachability had its `Join` refused and never retried it; cores
//! that joined through it formed an island). This scenario shows the same at 300 nodes, seed 2.
//! Replay one seed with `SIM_SEED=n`.

use std::collections::BTreeMap;

use nostrp2p::overlay::sim::{Sim, SimConfig};
use nostrp2p::wire::{NodeId, Role};

fn seeds(default: &[u64]) -> Vec<u64> {
    match std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(s) => vec![s],
        None => default.to_vec(),
    }
}

fn cores(sim: &Sim) -> Vec<usize> {
    sim.alive().into_iter().filter(|i| sim.nodes[*i].overlay.role() == Role::Core).collect()
}

/// Sizes of the connected parts of the core nodes' active-view graph, largest first.
fn core_parts(sim: &Sim) -> Vec<usize> {
    let cs = cores(sim);
    let index: BTreeMap<NodeId, usize> =
        cs.iter().enumerate().map(|(k, i)| (sim.nodes[*i].overlay.node_id(), k)).collect();
    let mut part: Vec<usize> = (0..cs.len()).collect();
    fn root(part: &mut [usize], mut x: usize) -> usize {
        while part[x] != x {
            part[x] = part[part[x]];
            x = part[x];
        }
        x
    }
    for (k, i) in cs.iter().enumerate() {
        for n in sim.nodes[*i].overlay.active_view() {
            if let Some(&m) = index.get(n) {
                let (a, b) = (root(&mut part, k), root(&mut part, m));
                part[a] = b;
            }
        }
    }
    let mut sizes: BTreeMap<usize, usize> = BTreeMap::new();
    for k in 0..cs.len() {
        *sizes.entry(root(&mut part, k)).or_default() += 1;
    }
    let mut v: Vec<usize> = sizes.into_values().collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v
}

/// (records lacking summed over cores, the core lacking most, how many it lacks).
fn lacking(sim: &Sim) -> (usize, usize, usize) {
    let ids: Vec<NodeId> = sim.alive().iter().map(|i| sim.nodes[*i].overlay.node_id()).collect();
    let mut total = 0;
    let mut worst = (0, 0);
    for c in cores(sim) {
        let d = sim.nodes[c].overlay.directory();
        let n = ids.iter().filter(|id| d.get(**id).is_none()).count();
        total += n;
        if n > worst.1 {
            worst = (c, n);
        }
    }
    (total, worst.0, worst.1)
}

#[test]
fn after_a_mass_join_every_core_holds_every_record_and_the_core_overlay_is_one_piece() {
    for seed in seeds(&[1, 2, 3]) {
        let nodes = 300;
        let cfg = SimConfig {
            seed,
            cores: nodes / 10,
            leaves: nodes - nodes / 10,
            latency_ms: (20, 150),
            // As `overlay_bench`: 20 ms per node, at least 10 s (the cores join in the first second).
            join_window_ms: 10_000,
            check_every: 97,
            ..SimConfig::default()
        };
        let mut sim = Sim::new(cfg);
        assert!(sim.run_until_cond(1_000, 300_000, |s| s.settled()), "seed {seed}: did not settle");
        let settled_at = sim.now;
        // Six simulated minutes after settling. The broadcast of the last joins' records takes
        // seconds; a record a core missed while the core overlay was still forming comes with
        // the digest exchange of one of its next new links (minutes: 300 nodes seeds 1-6 all
        // whole within 6). The split overlay (the bug) left cores short for longer: seed 2 had
        // 3,062 records lacking 2 minutes after settling, 729 after 6.
        let whole = sim.run_until_cond(1_000, 360_000, |s| core_parts(s).len() == 1 && lacking(s).0 == 0);
        let (total, worst, worst_n) = lacking(&sim);
        assert!(
            whole,
            "seed {seed}: {}s after settling (t={} s) the core overlay is in parts {:?} and cores lack {total} \
             records (core {worst} lacks {worst_n} of {nodes})",
            sim.now.since(settled_at) / 1_000,
            sim.now.0 / 1_000,
            core_parts(&sim),
        );
    }
}
