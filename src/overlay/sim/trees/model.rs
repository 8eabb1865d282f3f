//! The models around the trees of `trees.rs`: link latencies, the Zipf follow graph's
//! sampler, and broadcast as the first-arrival flood over a random graph of the cores (what
//! Plumtree's eager tree converges to), run beside the trees for the side-by-side figures.
//! Pure functions of their inputs; no protocol state.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::overlay::params::ACTIVE_VIEW;
use crate::overlay::SplitMix64;
use crate::wire::NodeId;

/// One-way latency of a link, 20–150 ms, fixed per unordered pair.
pub(super) fn latency(a: u64, b: u64) -> u64 {
    let (x, y) = if a < b { (a, b) } else { (b, a) };
    let mut r = SplitMix64::new(x ^ y.rotate_left(17));
    20 + r.below(131)
}

/// Zipf(1) sampler over `n` ranks by inverse CDF.
pub(super) struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub(super) fn new(n: usize) -> Zipf {
        let mut acc = 0.0;
        let cdf = (1..=n)
            .map(|k| {
                acc += 1.0 / k as f64;
                acc
            })
            .collect::<Vec<_>>();
        let total = acc;
        Zipf { cdf: cdf.into_iter().map(|c| c / total).collect() }
    }
    pub(super) fn sample(&self, rng: &mut SplitMix64) -> usize {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1)
    }
}

/// A random graph of the cores, each linking to `ACTIVE_VIEW` / 2 (rounded up) random others
/// both ways: HyParView's active views, ≈ `ACTIVE_VIEW` links per core.
pub(super) fn random_graph(c: usize, rng: &mut SplitMix64) -> Vec<Vec<u32>> {
    let mut adj: Vec<Vec<u32>> = vec![Vec::new(); c];
    for i in 0..c {
        for _ in 0..ACTIVE_VIEW.div_ceil(2) {
            let j = rng.below(c as u64) as usize;
            if j != i {
                adj[i].push(j as u32);
                adj[j].push(i as u32);
            }
        }
    }
    adj
}

/// Slowest arrival (absolute ms) of a flood from `origin` over `adj`, then to every leaf
/// through its nearer home: the first-arrival tree, the best broadcast can do.
pub(super) fn broadcast_flood(
    ids: &[NodeId],
    adj: &[Vec<u32>],
    origin: usize,
    homes: &[[usize; 2]],
    node_ids: &[u64],
    start: u64,
) -> u64 {
    let c = ids.len();
    let mut best: Vec<u64> = vec![u64::MAX; c];
    let mut heap = BinaryHeap::new();
    best[origin] = start;
    heap.push(Reverse((start, origin)));
    while let Some(Reverse((t, i))) = heap.pop() {
        if t > best[i] {
            continue;
        }
        for &j in &adj[i] {
            let j = j as usize;
            let tj = t + latency(ids[i].0, ids[j].0);
            if tj < best[j] {
                best[j] = tj;
                heap.push(Reverse((tj, j)));
            }
        }
    }
    let core_max = best.iter().copied().filter(|t| *t != u64::MAX).max().unwrap_or(start);
    let leaf_max = (c..homes.len())
        .map(|l| {
            homes[l].iter().map(|h| best[*h].saturating_add(latency(ids[*h].0, node_ids[l]))).min().unwrap_or(start)
        })
        .max()
        .unwrap_or(start);
    core_max.max(leaf_max)
}
