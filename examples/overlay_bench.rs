//! Overlay benchmark on the deterministic simulator (spec overlay.md §2.13).
//!
//! `cargo run --release --features sim --example overlay_bench [-- NODES [CORE_PERCENT [SEED]]]`
//! (default 10,000 nodes, 10 % core, seed 1). Prints delivery ratio, delivery time p50/p99,
//! duplicates per message (RMR), bytes per post per node, control bytes per node per minute (core
//! and leaf), unicast success and hops; then the 3-node comparison with the original NostrP2P
//! (bytes per post, idle traffic). All times are simulated; the wall-clock time only says how
//! long the simulation took.
//!
//! `BENCH_LOAD=200,400 cargo run --release --features sim --example overlay_bench -- 1000` runs
//! only the throughput phase instead (issue 8 item 5): for each rate, a fresh network of NODES
//! takes that many posts per second from random senders for `BENCH_LOAD_SECS` (default 10)
//! simulated seconds; it prints delivery, delivery time, drops and bans.

use std::time::Instant as WallClock;

use nostrp2p::overlay::sim::{Sim, SimConfig};
use nostrp2p::wire::Role;

/// Size of one post on the wire as the original encodes it (msgpack `Np2pEvent` of a short
/// kind-1 note: id 34 + pubkey 34 + created_at 9 + kind 3 + tags 1 + sig 66 + ~20 B content +
/// ~50 B of map keys).
const POST_BYTES: usize = 220;

/// Post size for the big-network phase (`BENCH_POST_BYTES`, default [`POST_BYTES`]).
fn post_bytes() -> usize {
    std::env::var("BENCH_POST_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(POST_BYTES)
}
/// Per-frame IPv4 + TCP header estimate (20 + 20 + 12 B of timestamps).
const TCPIP_HEADER: u64 = 52;
/// The same plus one pure ACK per frame (upper estimate; delayed ACKs often piggyback).
const TCPIP_PER_FRAME: u64 = TCPIP_HEADER + 52;

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn totals(sim: &Sim, role: Option<Role>) -> (u64, u64, u64, usize) {
    let mut t = (0, 0, 0, 0);
    for n in sim.nodes.iter().filter(|n| n.alive && role.is_none_or(|r| n.overlay.role() == r)) {
        t.0 += n.traffic.payload_bytes;
        t.1 += n.traffic.control_bytes;
        t.2 += n.traffic.frames;
        t.3 += 1;
    }
    t
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let nodes: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let core_pct: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let cores = (nodes * core_pct / 100).max(1);
    if let Ok(rates) = std::env::var("BENCH_LOAD") {
        let secs = std::env::var("BENCH_LOAD_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
        for rate in rates.split(',').filter_map(|r| r.trim().parse().ok()) {
            load(nodes, cores, seed, rate, secs);
        }
        return;
    }
    big_network(nodes, cores, seed);
    three_nodes(seed);
}

/// Throughput: `rate` posts/s network-wide for `secs` simulated seconds.
fn load(nodes: usize, cores: usize, seed: u64, rate: u64, secs: u64) {
    let wall = WallClock::now();
    let cfg = SimConfig {
        seed,
        cores,
        leaves: nodes - cores,
        join_window_ms: 60_000,
        check_every: 1_009,
        ..SimConfig::default()
    };
    let mut sim = Sim::new(cfg);
    sim.run_until_cond(5_000, 3_600_000, |s| s.settled());
    sim.run_for(60_000); // inbound links in the views become relay links (RELAY_TRUST_MS)
    let n = sim.nodes.len();
    let step_ms = (1_000 / rate.max(1)).max(1);
    let mut ids = Vec::new();
    for _ in 0..rate * secs {
        let from = sim.rng().below(n as u64) as usize;
        ids.push((sim.publish(from, post_bytes()), sim.now));
        sim.run_for(step_ms);
    }
    sim.run_until_cond(1_000, 120_000, |s| ids.iter().all(|(id, _)| s.missing(id).is_empty()));
    let mut delays: Vec<u64> = Vec::new();
    for (id, at) in &ids {
        for node in &sim.nodes {
            if let Some(t) = node.delivered.get(id) {
                delays.push(t.since(*at));
            }
        }
    }
    delays.sort_unstable();
    let want = ids.len() * n;
    let sum = |f: fn(&nostrp2p::overlay::Stats) -> u64| sim.nodes.iter().map(|x| f(x.overlay.stats())).sum::<u64>();
    println!(
        "{rate} posts/s x {secs} s at {n} nodes ({cores} core): delivered {}/{want} = {:.3} %, p50 {} ms, p99 {} ms, \
         max {} ms; rate_dropped {} inject_dropped {} author_dropped {} invalid(bans) {} (wall {:.0} s)",
        delays.len(),
        100.0 * delays.len() as f64 / want.max(1) as f64,
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or(0),
        sum(|s| s.rate_dropped),
        sum(|s| s.inject_dropped),
        sum(|s| s.author_dropped),
        sum(|s| s.invalid),
        wall.elapsed().as_secs_f64()
    );
}

fn big_network(nodes: usize, cores: usize, seed: u64) {
    let wall = WallClock::now();
    println!("== {nodes} nodes ({cores} core, {} leaf), links 20-150 ms one way, seed {seed} ==", nodes - cores);
    let cfg = SimConfig {
        seed,
        cores,
        leaves: nodes - cores,
        latency_ms: (20, 150),
        join_window_ms: (nodes as u64 * 20).max(10_000),
        meter: false,
        check_every: 1_009,
        ..SimConfig::default()
    };
    let mut sim = Sim::new(cfg);
    let settled = sim.run_until_cond(5_000, 3_600_000, |s| s.settled());
    sim.run_for(120_000);
    let roles = sim.alive().iter().filter(|i| sim.nodes[**i].overlay.role() == Role::Core).count();
    println!(
        "joined: settled={settled} at t={:.0} s, {roles} core / {} leaf (wall {:.0} s)",
        sim.now.0 as f64 / 1e3,
        nodes - roles,
        wall.elapsed().as_secs_f64()
    );

    // --- idle: control traffic per node per minute (metering from here on) ---
    sim.set_meter(true);
    let idle_min = 10;
    let (_, c0_core, _, n_core) = totals(&sim, Some(Role::Core));
    let (_, c0_leaf, _, n_leaf) = totals(&sim, Some(Role::Leaf));
    let f0: Vec<u64> = sim.nodes.iter().map(|n| n.traffic.control_bytes).collect();
    sim.run_for(idle_min * 60_000);
    let (_, c1_core, _, _) = totals(&sim, Some(Role::Core));
    let (_, c1_leaf, _, _) = totals(&sim, Some(Role::Leaf));
    let mut leaf_rates: Vec<u64> = sim
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.overlay.role() == Role::Leaf)
        .map(|(i, n)| (n.traffic.control_bytes - f0[i]) / idle_min)
        .collect();
    leaf_rates.sort_unstable();
    let core_rate = (c1_core - c0_core) as f64 / n_core.max(1) as f64 / idle_min as f64;
    let leaf_rate = (c1_leaf - c0_leaf) as f64 / n_leaf.max(1) as f64 / idle_min as f64;
    println!(
        "control traffic (sent+received, idle {idle_min} min): core {:.2} KB/min/node, leaf {:.2} KB/min/node (leaf p99 {:.2} KB/min)   [targets: core <= 20, leaf <= 5]",
        core_rate / 1e3,
        leaf_rate / 1e3,
        percentile(&leaf_rates, 0.99) as f64 / 1e3
    );

    if std::env::var("BENCH_DIAG").is_ok() {
        diag(&sim);
    }
    // --- posts from many senders ---
    let posts = 100;
    let gossip0 = sim.event_gossip_frames;
    let core_in0: u64 =
        sim.nodes.iter().filter(|n| n.overlay.role() == Role::Core).map(|n| n.traffic.event_frames_in).sum();
    let (p0, c0, _, _) = totals(&sim, None);
    let t0 = sim.now;
    let mut published = Vec::new();
    for k in 0..posts {
        let from = match std::env::var("BENCH_SENDER").ok().and_then(|v| v.parse().ok()) {
            Some(fixed) => fixed,
            None => sim.rng().below(nodes as u64) as usize,
        };
        let at = sim.now;
        published.push((sim.publish(from, post_bytes()), at, from));
        sim.run_for(100); // 10 posts/s network-wide
        let _ = k;
    }
    sim.run_for(60_000);
    let elapsed_min = sim.now.since(t0) as f64 / 60_000.0;
    let (p1, c1, _, _) = totals(&sim, None);
    let mut times = Vec::new();
    let mut delivered = 0u64;
    let mut expected = 0u64;
    let mut last = Vec::new();
    for (id, at, from) in &published {
        let mut worst = 0;
        for (i, n) in sim.nodes.iter().enumerate() {
            if !n.alive || i == *from {
                continue;
            }
            expected += 1;
            if let Some(t) = n.delivered.get(id) {
                delivered += 1;
                let dt = t.since(*at);
                times.push(dt);
                worst = worst.max(dt);
            }
        }
        last.push(worst);
    }
    times.sort_unstable();
    last.sort_unstable();
    let gossip = sim.event_gossip_frames - gossip0;
    let rmr = gossip as f64 / delivered.max(1) as f64 - 1.0;
    let core_in: u64 =
        sim.nodes.iter().filter(|n| n.overlay.role() == Role::Core).map(|n| n.traffic.event_frames_in).sum::<u64>()
            - core_in0;
    let core_delivered: u64 = published
        .iter()
        .map(|(id, _, from)| {
            sim.nodes
                .iter()
                .enumerate()
                .filter(|(i, n)| i != from && n.overlay.role() == Role::Core && n.delivered.contains_key(id))
                .count() as u64
        })
        .sum();
    let core_rmr = core_in as f64 / core_delivered.max(1) as f64 - 1.0;
    // Broadcast cost per post per node: payload bytes plus the control bytes above the idle rate.
    let idle_control = (core_rate * n_core as f64 + leaf_rate * n_leaf as f64) * elapsed_min;
    let extra_control = ((c1 - c0) as f64 - idle_control).max(0.0);
    let per_post_node = ((p1 - p0) as f64 + extra_control) / posts as f64 / nodes as f64 / 2.0;
    println!(
        "delivery: {delivered}/{expected} = {:.4} %   [target 100 %]",
        100.0 * delivered as f64 / expected.max(1) as f64
    );
    println!(
        "delivery time: p50 {} ms, p99 {} ms, max {} ms; per-post 'all delivered' p50 {} ms, max {} ms   [target: all <= 5,000 ms]",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or(0),
        percentile(&last, 0.5),
        last.last().copied().unwrap_or(0)
    );
    println!(
        "duplicates: RMR = {rmr:.3} ({gossip} payload frames for {delivered} deliveries, {posts} senders); core nodes alone {core_rmr:.3}, leaves {:.3}   [target <= 0.5]",
        (gossip - core_in) as f64 / (delivered - core_delivered).max(1) as f64 - 1.0
    );
    println!(
        "bytes per post per node: {:.0} B received (post body {} B; payload {:.0} B + broadcast control {:.0} B)",
        per_post_node,
        post_bytes(),
        (p1 - p0) as f64 / posts as f64 / nodes as f64 / 2.0,
        extra_control / posts as f64 / nodes as f64 / 2.0
    );

    if std::env::var("BENCH_DIAG").is_ok() {
        diag(&sim);
    }
    // --- unicast ---
    let trials = 1_000u64;
    let mut pairs = Vec::new();
    for k in 0..trials {
        let a = sim.rng().below(nodes as u64) as usize;
        let mut b = sim.rng().below(nodes as u64) as usize;
        if a == b {
            b = (b + 1) % nodes;
        }
        pairs.push((a, b, 1_000_000 + k));
        sim.unicast(a, b, 1_000_000 + k);
        sim.run_for(10);
    }
    sim.run_for(60_000);
    let mut ok = 0;
    let mut hops = [0u64; 5];
    for (a, b, id) in &pairs {
        let acked = sim.nodes[*a].unicast_done.get(id).and_then(|r| r.ok());
        let src = sim.nodes[*a].overlay.node_id();
        if let Some(h) = acked {
            if sim.nodes[*b].unicasts_in.contains(&(src, *id)) {
                ok += 1;
                hops[(h as usize).min(4)] += 1;
            }
        }
    }
    let mean_hops = (1..5).map(|h| h as u64 * hops[h]).sum::<u64>() as f64 / ok.max(1) as f64;
    println!(
        "unicast: {ok}/{trials} acked = {:.2} %, mean hops {mean_hops:.2} (1: {}, 2: {}, 3: {}, >3: {})   [target >= 99.9 %, mean <= 2.5]",
        100.0 * ok as f64 / trials as f64,
        hops[1],
        hops[2],
        hops[3],
        hops[4]
    );
    let counts: Vec<String> =
        sim.msg_counts.iter().map(|(k, (n, b))| format!("{k}={n}/{:.1}MB", *b as f64 / 1e6)).collect();
    println!("frames by type (whole run): {}", counts.join(" "));
    println!(
        "simulated {:.0} s in {:.0} s wall, {} events\n",
        sim.now.0 as f64 / 1e3,
        wall.elapsed().as_secs_f64(),
        sim.steps
    );
}

/// The original's numbers (measured on its mesh transport, 3 nodes): ≈283 B per peer message,
/// ≈815–866 B of IP traffic per post across the 3 nodes, 102–164 B/s idle for the 3 nodes.
fn three_nodes(seed: u64) {
    println!("== 3 nodes (all core): comparison with the original NostrP2P ==");
    let cfg = SimConfig { seed, cores: 3, leaves: 0, latency_ms: (1, 5), meter: true, ..SimConfig::default() };
    let mut sim = Sim::new(cfg);
    sim.run_until_cond(1_000, 120_000, |s| s.settled());
    sim.run_for(300_000);
    // Idle: the whole network's frames and bytes over 10 minutes.
    let (p0, c0, f0, _) = totals(&sim, None);
    let secs = 600;
    sim.run_for(secs * 1_000);
    let (p1, c1, f1, _) = totals(&sim, None);
    // Every frame is counted at both ends: halve for "bytes on the wire".
    let idle_bytes = ((p1 - p0) + (c1 - c0)) / 2;
    let idle_frames = (f1 - f0) / 2;
    let idle_app = idle_bytes as f64 / secs as f64;
    let idle_ip = (idle_bytes + idle_frames * TCPIP_PER_FRAME) as f64 / secs as f64;
    let idle_ip_low = (idle_bytes + idle_frames * TCPIP_HEADER) as f64 / secs as f64;
    // Posts: publish 20, 5 s apart, and count everything beyond the idle rate.
    let (p0, c0, f0, _) = totals(&sim, None);
    let t0 = sim.now;
    let posts = 20;
    for k in 0..posts {
        sim.publish(k % 3, POST_BYTES);
        sim.run_for(5_000);
    }
    let dt = sim.now.since(t0) as f64 / 1e3;
    let (p1, c1, f1, _) = totals(&sim, None);
    let bytes = ((p1 - p0) + (c1 - c0)) as f64 / 2.0 - idle_app * dt;
    let frames = (f1 - f0) as f64 / 2.0 - idle_frames as f64 / secs as f64 * dt;
    let per_post_app = bytes / posts as f64;
    let per_post_ip = (bytes + frames * TCPIP_PER_FRAME as f64) / posts as f64;
    let per_post_ip_low = (bytes + frames * TCPIP_HEADER as f64) / posts as f64;
    let gossip_frame = nostrp2p::wire::frame_len(&nostrp2p::wire::Msg::Gossip(nostrp2p::wire::Gossip {
        id: nostrp2p::wire::MsgId([0; 32]),
        round: 1,
        kind: nostrp2p::wire::GossipKind::Event,
        body: nostrp2p::wire::Body::from_slice(&[0u8; POST_BYTES]),
    }));
    println!(
        "one peer message carrying a {POST_BYTES} B post: {gossip_frame} B frame   [original: ≈283 B per peer message]"
    );
    println!(
        "per post across 3 nodes: {per_post_app:.0} B of frames, ≈{per_post_ip_low:.0}–{per_post_ip:.0} B of IP traffic ({:.1} frames; without/with one ACK per frame)   [original: ≈815–866 B IP]",
        frames / posts as f64
    );
    println!(
        "idle, whole 3-node network: {idle_app:.1} B/s of frames, ≈{idle_ip_low:.1}–{idle_ip:.1} B/s of IP traffic   [original: 102–164 B/s]"
    );
    let counts: Vec<String> = sim.msg_counts.iter().map(|(k, (n, b))| format!("{k}={n}/{b}B")).collect();
    println!("frames by type: {}", counts.join(" "));
}

/// Debug aid: components of the eager graph among core nodes, leaves without an eager home.
fn diag(sim: &Sim) {
    use std::collections::BTreeMap;
    let idx: BTreeMap<_, usize> = sim.nodes.iter().enumerate().map(|(i, n)| (n.overlay.node_id(), i)).collect();
    let n = sim.nodes.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], x: usize) -> usize {
        let mut r = x;
        while p[r] != r {
            r = p[r];
        }
        p[x] = r;
        r
    }
    let (mut both, mut one) = (0, 0);
    let mut no_eager_leaf = 0;
    for (i, node) in sim.nodes.iter().enumerate() {
        let (eager, _) = node.overlay.tree_peers();
        if node.overlay.role() == Role::Leaf && eager.is_empty() {
            no_eager_leaf += 1;
        }
        for e in eager {
            let j = idx[&e];
            if node.overlay.role() == Role::Leaf || sim.nodes[j].overlay.role() == Role::Leaf {
                continue;
            }
            let (ej, _) = sim.nodes[j].overlay.tree_peers();
            if ej.contains(&node.overlay.node_id()) {
                both += 1;
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                parent[a] = b;
            } else {
                one += 1;
            }
        }
    }
    let mut comps = std::collections::BTreeSet::new();
    for i in 0..n {
        if sim.nodes[i].overlay.role() == Role::Core {
            comps.insert(find(&mut parent, i));
        }
    }
    println!("diag: core-core eager edges symmetric {} one-sided {one}, core components {}, leaves without eager home {no_eager_leaf}", both / 2, comps.len());
}
