//! Per-author delivery trees at scale (issue 10; docs/scaling.md "Per-author trees"), side by
//! side with broadcast in the same run: delivery to followers, slowest delivery, core upload,
//! leaf bytes, idle tree control traffic and topics per core.
//!
//! `cargo run --release --features sim --example trees_bench [-- NODES,NODES,... [FOLLOWEES [POSTS [SEED [digest|list]]]]]`
//! (default 1000,10000 nodes, 30 followees, 200 posts, seed 1, refresh by digest; 10 % core;
//! `list`: every refresh is the whole `Subscribe` list, as between builds without
//! `FEATURE_DIGESTS`: do not run it at 100k, its quiet acks come all at once). Issue 10's figures at
//! 100k nodes: `trees_bench 100000 200 50` (≈ 8–11 GB of heap on the 10k trend; hours of CPU share on
//! a loaded 2-core machine; docs/scaling.md "Per-author trees").

use std::time::Instant as WallClock;

use nostrp2p::overlay::sim::trees::{run_measured, TreeConfig};

#[path = "../tests/common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{live, peak, reset_peak};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<usize> = args
        .first()
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000]);
    let followees = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(30);
    let posts = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let digest = args.get(4).is_none_or(|s| s != "list");
    for nodes in sizes {
        let wall = WallClock::now();
        let cfg = TreeConfig { nodes, core_pct: 10, followees, posts, seed, digest };
        reset_peak();
        let mut log = |l: &str| {
            let (s, gb, top) = (wall.elapsed().as_secs_f64(), 1e-9 * live() as f64, 1e-9 * peak() as f64);
            eprintln!("  [{s:.1}s, heap {gb:.2} GB, peak {top:.2}] {l}");
        };
        let r = run_measured(&cfg, &mut log, Some(&live));
        let pct = 100.0 * r.follower_deliveries_done as f64 / r.follower_deliveries_due.max(1) as f64;
        let how = if digest { "refresh by digest" } else { "refresh by list" };
        println!("== {nodes} nodes ({} cores), {followees} followees each (Zipf), {posts} posts, {how} ==", r.cores);
        println!(
            "topics per core: mean {:.0}, max {}; deepest follower home: depth {}",
            r.topics_mean, r.topics_max, r.depth_max
        );
        println!(
            "delivery to followers: {pct:.3} % ({} of {}), {:.1} followers per post, {:.1} relay cores per post",
            r.follower_deliveries_done, r.follower_deliveries_due, r.followers_per_post, r.relays_per_post
        );
        println!(
            "slowest delivery to a follower: tree {} ms (p99 {} ms) | broadcast flood to all {} ms",
            r.slowest_ms, r.p99_ms, r.broadcast_slowest_ms
        );
        println!(
            "core upload MB/day (every node posting 10/day): tree mean {:.1}, max {:.1} | broadcast {:.1}",
            r.core_upload_mb_day_mean, r.core_upload_mb_day_max, r.broadcast_core_upload_mb_day
        );
        println!(
            "leaf MB/day: tree mean {:.2}, max {:.2} | broadcast {:.1}",
            r.leaf_mb_day_mean, r.leaf_mb_day_max, r.broadcast_leaf_mb_day
        );
        println!(
            "leaf MB/day from the run ({:.1} followees on average × 10 posts/day × 662 B per received post × the \
             leaf's delivery ratio in the run, + 23 KB idle): mean {:.2}, max {:.2} (goal ≤ 5) | broadcast {:.1}",
            r.leaf_followees_mean, r.leaf_mb_day_run_mean, r.leaf_mb_day_run_max, r.broadcast_leaf_mb_day
        );
        println!(
            "tree control per core once joined: {:.2} KB/min (busiest core {:.2}); redirects {}, false roots {}, loops cut {}",
            r.idle_control_kb_min, r.idle_control_kb_min_max, r.redirected, r.false_roots, r.loops_cut
        );
        println!(
            "tree control per core over the refresh period after the posts: {:.2} KB/min; refreshes not acked {}",
            r.control_after_posts_kb_min, r.acks_saved
        );
        let [sub, ack, dig, res, other] = r.idle_steady_bytes.map(|b| b as f64 / 1e6);
        println!(
            "steady tree control per core over {} min (quiet acks included): {:.2} KB/min (busiest core {:.2}); \
             MB sent by kind: subscribe {sub:.2}, ack {ack:.2}, digest {dig:.2}, resync {res:.3}, other {other:.3}",
            nostrp2p::overlay::sim::trees::IDLE_STEADY_MS / 60_000,
            r.idle_steady_kb_min,
            r.idle_steady_kb_min_max
        );
        let [m, mm, ra, rn, rd, na, ca] = r.digest_stats;
        println!(
            "digests: matched {m}, mismatched {mm}; resyncs asked {ra}, answered {rn}, entries dropped {rd}; \
             acks for news {na}, for checks {ca}"
        );
        let parts: Vec<String> = r.heap.iter().map(|(k, b)| format!("{k} {:.1}", *b as f64 / 1e6)).collect();
        println!("heap MB at the end: {}; peak {:.1}", parts.join(", "), peak() as f64 / 1e6);
        println!("wall {:.1} s", wall.elapsed().as_secs_f64());
    }
}
