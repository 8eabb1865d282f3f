//! Lazy push (IHAVE) figures on the simulator (issue 11): what holding a quiet link's IHAVEs
//! longer costs in repair time. Each scenario publishes posts from varied nodes, waits (on
//! simulated time, bounded) until every live node has each one, asserts full delivery, and
//! prints delivery %, p50 / p99 / max delivery time and IHAVE frames per post, the figures
//! docs/overlay.md §4 quotes. Lossy links (2 % and 5 % of frames dropped once the network has
//! settled; a worst case: the real datagram path repairs its own gaps by `LinkResend`) are the case where repair goes through IHAVE → GRAFT, so where the lazy period shows.

use nostrp2p::overlay::sim::{Sim, SimConfig};

struct Figures {
    delivered_pct: f64,
    p50: u64,
    p99: u64,
    max: u64,
    ihave_frames_per_post: f64,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// `posts` posts, one every `gap_ms`, from nodes spread over the network; waits up to 120 s of
/// simulated time for full delivery.
fn run(label: &str, cfg: SimConfig, loss_permille: u32, posts: usize, gap_ms: u64) -> Figures {
    let n = cfg.cores + cfg.leaves;
    let mut sim = Sim::new(cfg);
    assert!(sim.run_until_cond(1_000, 300_000, |s| s.settled()), "{label}: did not settle");
    sim.run_for(5_000);
    sim.set_loss(loss_permille);
    let ihaves_before = ihave_frames(&sim);
    let mut ids = Vec::new();
    for k in 0..posts {
        let from = (k * 7 + 3) % n;
        let at = sim.now;
        ids.push((sim.publish(from, 300), at));
        sim.run_for(gap_ms);
    }
    let done = sim.run_until_cond(500, 120_000, |s| ids.iter().all(|(id, _)| s.missing(id).is_empty()));
    let mut times = Vec::new();
    let mut want = 0usize;
    for (id, at) in &ids {
        for i in sim.alive() {
            want += 1;
            if let Some(t) = sim.nodes[i].delivered.get(id) {
                times.push(t.0 - at.0);
            }
        }
    }
    times.sort_unstable();
    let f = Figures {
        delivered_pct: 100.0 * times.len() as f64 / want as f64,
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        max: times.last().copied().unwrap_or(0),
        ihave_frames_per_post: (ihave_frames(&sim) - ihaves_before) as f64 / posts as f64,
    };
    eprintln!(
        "{label}: delivered {:.2} %, delivery time p50 {} ms, p99 {} ms, max {} ms, IHAVE frames delivered per post {:.1}",
        f.delivered_pct, f.p50, f.p99, f.max, f.ihave_frames_per_post
    );
    if !done {
        eprintln!("{label}: not every post reached every node within 120 s");
    }
    f
}

fn ihave_frames(sim: &Sim) -> u64 {
    sim.msg_counts.get("IHave").map_or(0, |c| c.0)
}

fn cfg(seed: u64) -> SimConfig {
    SimConfig { seed, cores: 40, leaves: 20, join_window_ms: 5_000, ..SimConfig::default() }
}

#[test]
fn lossless_links_deliver_at_tree_speed() {
    let f = run("60 nodes, no loss", cfg(11), 0, 40, 250);
    assert_eq!(f.delivered_pct, 100.0);
}

#[test]
fn lossy_links_are_repaired_by_ihave_and_graft() {
    for (seed, loss) in [(12, 20), (13, 50)] {
        let label = format!("60 nodes, {} % frame loss", loss / 10);
        let f = run(&label, cfg(seed), loss, 40, 250);
        // A lost IHAVE or GRAFT is not sent again (Plumtree's repair has no retry of its
        // own), so a few deliveries can be missing at this loss: bounded, not zero.
        assert!(f.delivered_pct >= 99.5, "{label}: {:.2} %", f.delivered_pct);
    }
}
