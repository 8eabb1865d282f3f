//! Per-author delivery trees in the simulator at 1,000 nodes (issue 10; docs/scaling.md
//! "Per-author trees"): every home's real `TopicTable` over converged ring tables, a Zipf-like
//! follow graph, 60 posts. Every follower must receive every post, no tree may loop or claim a
//! false root, and a leaf's bytes must stay far under broadcast's. The figures are printed
//! (`-- --nocapture`); the 10k and 100k runs are `examples/trees_bench.rs`.

use nostrp2p::overlay::sim::trees::{run, TreeConfig};

#[test]
fn every_follower_gets_every_post_over_per_author_trees_at_1000_nodes() {
    for seed in [1u64, 2] {
        let cfg = TreeConfig { nodes: 1_000, core_pct: 10, followees: 30, posts: 60, seed, digest: true };
        let r = run(&cfg, &mut |l| eprintln!("{l}"));
        eprintln!("{r:?}");
        assert!(r.follower_deliveries_due > 1_000, "seed {seed}: the graph has followers");
        assert_eq!(r.follower_deliveries_done, r.follower_deliveries_due, "seed {seed}: a follower missed a post");
        assert_eq!(r.false_roots, 0, "seed {seed}");
        assert_eq!(r.loops_cut, 0, "seed {seed}");
        assert!(r.leaf_mb_day_max < r.broadcast_leaf_mb_day / 10.0, "seed {seed}: leaf bytes {r:?}");
        // Relays are the price of the tree: bounded by the routing path, not the network.
        assert!(r.relays_per_post < r.cores as f64 / 4.0, "seed {seed}: {r:?}");
    }
}
