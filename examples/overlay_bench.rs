//! Overlay benchmark on the deterministic simulator (spec overlay.md §2.13).
//!
//! `cargo run --release --features sim --example overlay_bench [-- NODES [CORE_PERCENT [SEED]]]
//! [--directory broadcast|ring|both] [--delivery broadcast|auto|follow]` (default 10,000 nodes,
//! 10 % core, seed 1, broadcast; `both` runs the ring directory and then the broadcast one in the
//! same process and prints them side by side). Delivery is pinned to `broadcast` unless
//! `--delivery` says otherwise: the delivery figure counts every node receiving every post,
//! which is what broadcast promises; under `auto` past 2,000 nodes posts go on the per-author
//! trees to followers only, and nobody here follows anybody (the trees' figures come from
//! `trees_bench`). Prints delivery ratio, delivery time p50/p99,
//! duplicates per message (RMR), bytes per post per node, control bytes per node per minute (core
//! and leaf), unicast success and hops; then the 3-node comparison with the original NostrP2P
//! (bytes per post, idle traffic). All times are simulated; the wall-clock time only says how
//! long the simulation took.
//!
//! With `--directory auto` the idle window starts once no core changed level for
//! `BENCH_QUIET` minutes (default 12: longer than a core's 10-minute wait before it goes
//! ring-only; at most 60 minutes of settling); the switch-over's level
//! changes and traffic print on their own line. `BENCH_SETTLE_MIN` (default 2) sets the
//! minutes run after the join settled, `BENCH_DIR_MIN_NODES` lowers `auto`'s threshold T.
//! With the ring on, a ring audit prints before the unicasts (each node's record at how many
//! of its true holders; tables whose first successor/predecessor is wrong).
//!
//! `BENCH_LOAD=200,400 cargo run --release --features sim --example overlay_bench -- 1000` runs
//! only the throughput phase instead (issue 8 item 5): for each rate, a fresh network of NODES
//! takes that many posts per second from random senders for `BENCH_LOAD_SECS` (default 10)
//! simulated seconds; it prints delivery, delivery time, drops and bans.

use std::time::Instant as WallClock;

use nostrp2p::overlay::dir_auto::DirLevel;
use nostrp2p::overlay::params::{RECORD_REFRESH_MS, RING_LOOKUP_MAX_HOPS, RING_REPLICAS};
use nostrp2p::overlay::ring::Hop;
use nostrp2p::overlay::sim::{Sim, SimConfig};
use nostrp2p::overlay::DirectoryMode;
use nostrp2p::wire::{DeliveryMode, Role};

#[path = "../tests/common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::live;

/// Peak resident set of this process (VmHWM), bytes; reset by [`reset_peak`].
fn peak_rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Current resident set of this process (VmRSS), bytes.
fn rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Progress lines while a long run goes (a partial run still tells how far it got): one every
/// `BENCH_PROGRESS_S` simulated seconds (default 60), with the events, wall time and memory.
struct Progress {
    wall: WallClock,
    every_ms: u64,
    next_ms: u64,
    steps0: u64,
    at0: WallClock,
}

impl Progress {
    fn new() -> Progress {
        let every_s = std::env::var("BENCH_PROGRESS_S").ok().and_then(|v| v.parse().ok()).unwrap_or(60u64);
        Progress {
            wall: WallClock::now(),
            every_ms: every_s.max(1) * 1_000,
            next_ms: 0,
            steps0: 0,
            at0: WallClock::now(),
        }
    }

    /// Print a line if `sim` passed the next progress point (or if `force`).
    fn tick(&mut self, sim: &Sim, phase: &str, force: bool) {
        if !force && sim.now.0 < self.next_ms {
            return;
        }
        self.next_ms = (sim.now.0 / self.every_ms + 1) * self.every_ms;
        let dt = self.at0.elapsed().as_secs_f64();
        let rate = (sim.steps - self.steps0) as f64 / dt.max(1e-3);
        self.steps0 = sim.steps;
        self.at0 = WallClock::now();
        println!(
            "progress: {phase}, simulated {:.0} s, {} events ({rate:.0}/s since the last line), wall {:.0} s, heap {:.2} GB, RSS {:.2} GB",
            sim.now.0 as f64 / 1e3,
            sim.steps,
            self.wall.elapsed().as_secs_f64(),
            live() as f64 / 1e9,
            rss() as f64 / 1e9
        );
    }

    /// Run `ms` simulated, printing progress lines on the way.
    fn run_for(&mut self, sim: &mut Sim, ms: u64, phase: &str) {
        let end = sim.now.plus_ms(ms);
        while sim.now < end {
            let step = self.every_ms.min(end.since(sim.now));
            sim.run_for(step);
            self.tick(sim, phase, false);
        }
    }
}

/// Start a new peak (heap counter and, where the kernel allows, VmHWM).
fn reset_peak() {
    counting_alloc::reset_peak();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Today's measured broadcast cost of one record refresh at one core (record frame, duplicate
/// copies and IHAVEs, sent + received; issue 10, from the 10k simulator run): ≈ 1 KB.
const BROADCAST_BYTES_PER_RECORD: f64 = 1_000.0;
/// Heap bytes of one directory record as `ring_bench` measures it (real `Directory::merge`).
const RECORD_HEAP_BYTES: f64 = 401.0;

/// Size of one post on the wire as the original encodes it (msgpack `Np2pEvent` of a short
/// kind-1 note: id 34 + pubkey 34 + created_at 9 + kind 3 + tags 1 + sig 66 + ~20 B content +
/// ~50 B of map keys).
const POST_BYTES: usize = 220;

/// What keeps `Sim::settled` false: cores still checking their reachability, cores with an
/// empty active view, leaves without a home (the first few of each).
fn unsettled(sim: &Sim) -> String {
    let (mut deciding, mut lonely, mut homeless) = (Vec::new(), Vec::new(), Vec::new());
    for i in sim.alive() {
        let o = &sim.nodes[i].overlay;
        if o.is_deciding() {
            deciding.push(i);
        } else if o.role() == Role::Core && o.active_view().is_empty() {
            lonely.push(i);
        } else if o.role() == Role::Leaf && o.homes().is_empty() {
            homeless.push(i);
        }
    }
    let first = |v: &[usize]| format!("{} {:?}", v.len(), &v[..v.len().min(8)]);
    format!(
        "deciding {}, cores without peers {}, leaves without a home {}",
        first(&deciding),
        first(&lonely),
        first(&homeless)
    )
}

/// How many cores stand at each `--directory auto` level.
fn levels(sim: &Sim) -> std::collections::BTreeMap<&'static str, usize> {
    let mut at = std::collections::BTreeMap::new();
    for n in sim.nodes.iter().filter(|n| n.overlay.role() == Role::Core) {
        *at.entry(n.overlay.dir_level().as_str()).or_insert(0) += 1;
    }
    at
}

/// `--directory auto`: the levels count as settled after this many minutes without a change
/// (longer than `DIR_RING_ONLY_HOLD_MS`: a core waits that long before it goes ring-only).
const AUTO_QUIET_MIN: u32 = (nostrp2p::overlay::params::DIR_RING_ONLY_HOLD_MS / 60_000) as u32 + 2;
/// `--directory auto`: at most this many minutes of settling before the idle window.
const AUTO_SETTLE_MAX_MIN: u64 = 60;

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

/// The figures one run prints, kept for the side-by-side table.
#[derive(Default, Clone)]
struct Figures {
    label: String,
    delivered: f64,
    p50: u64,
    p99: u64,
    max: u64,
    rmr: f64,
    unicast: f64,
    core_idle_kb: f64,
    refresh_kb: f64,
    dir_mb_core: f64,
    dir_mb_core_max: f64,
    heap_per_node: f64,
    peak_heap: u64,
    peak_rss: u64,
    wall_s: f64,
}

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    let mut directory = "broadcast".to_string();
    if let Some(k) = args.iter().position(|a| a == "--directory") {
        directory = args.get(k + 1).cloned().unwrap_or_default();
        args.drain(k..(k + 2).min(args.len()));
    }
    let mut delivery = DeliveryMode::Broadcast;
    if let Some(k) = args.iter().position(|a| a == "--delivery") {
        delivery = match args.get(k + 1).map(String::as_str) {
            Some("broadcast") => DeliveryMode::Broadcast,
            Some("auto") => DeliveryMode::Auto,
            Some("follow") => DeliveryMode::Follow,
            other => {
                eprintln!("--delivery takes broadcast, auto or follow, not {other:?}");
                std::process::exit(2);
            }
        };
        args.drain(k..(k + 2).min(args.len()));
    }
    let modes: Vec<DirectoryMode> = match directory.as_str() {
        "broadcast" => vec![DirectoryMode::Broadcast],
        "ring" => vec![DirectoryMode::Ring],
        "both" => vec![DirectoryMode::Ring, DirectoryMode::Broadcast],
        "auto" => vec![DirectoryMode::Auto],
        other => {
            eprintln!("--directory takes broadcast, ring, auto or both, not {other:?}");
            std::process::exit(2);
        }
    };
    let nodes: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let core_pct: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let cores = (nodes * core_pct / 100).max(1);
    if let Ok(rates) = std::env::var("BENCH_LOAD") {
        let secs = std::env::var("BENCH_LOAD_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
        for rate in rates.split(',').filter_map(|r| r.trim().parse().ok()) {
            load(nodes, cores, seed, rate, secs, delivery);
        }
        return;
    }
    let mut all = Vec::new();
    for mode in modes {
        all.push(big_network(nodes, cores, seed, mode, delivery));
    }
    side_by_side(nodes, cores, &all);
    if std::env::var_os("BENCH_SKIP_3").is_none() {
        three_nodes(seed);
    }
}

fn side_by_side(nodes: usize, cores: usize, all: &[Figures]) {
    println!("== side by side, {nodes} nodes ({cores} core) ==");
    let row = |name: &str, f: &dyn Fn(&Figures) -> String| {
        let cells: Vec<String> = all.iter().map(f).collect();
        println!("| {name} | {} |", cells.join(" | "));
    };
    row("directory", &|f| f.label.clone());
    row("delivery", &|f| format!("{:.4} %", f.delivered));
    row("delivery time p50 / p99 / max", &|f| format!("{} / {} / {} ms", f.p50, f.p99, f.max));
    row("duplicates (RMR)", &|f| format!("{:.3}", f.rmr));
    row("unicast acked", &|f| format!("{:.2} %", f.unicast));
    row("core idle control, measured + refreshes (computed)", &|f| {
        format!("{:.1} + {:.2} = {:.1} KB/min", f.core_idle_kb, f.refresh_kb, f.core_idle_kb + f.refresh_kb)
    });
    row("directory memory per core, mean (max)", &|f| format!("{:.3} ({:.3}) MB", f.dir_mb_core, f.dir_mb_core_max));
    row("heap per simulated node", &|f| format!("{:.1} KB", f.heap_per_node / 1e3));
    row("peak heap / peak RSS", &|f| format!("{:.2} / {:.2} GB", f.peak_heap as f64 / 1e9, f.peak_rss as f64 / 1e9));
    row("sim wall time", &|f| format!("{:.0} s", f.wall_s));
    if !all.iter().any(|f| f.label == "broadcast") {
        // Not run: every core would hold every record and receive every refresh.
        println!(
            "| broadcast directory (computed, not run) | every core holds {nodes} records ≈ {:.1} MB; refreshes ≈ {:.0} KB/min per core |",
            nodes as f64 * RECORD_HEAP_BYTES / 1e6,
            nodes as f64 * BROADCAST_BYTES_PER_RECORD / (RECORD_REFRESH_MS as f64 / 60_000.0) / 1e3
        );
    }
    println!();
}

/// Directory anti-entropy counters summed over core nodes: records merged, records that were
/// useless to their receiver, new ids refused over budget, ids offered but not asked for, new
/// ids taken because another prefix vouched for them.
fn anti_entropy(sim: &Sim) -> [u64; 5] {
    let mut t = [0u64; 5];
    for n in sim.nodes.iter().filter(|n| n.overlay.role() == Role::Core) {
        let s = n.overlay.stats();
        t[0] += s.dir_records_merged;
        t[1] += s.dir_records_useless;
        t[2] += s.gossip_limited;
        t[3] += s.dir_not_wanted;
        t[4] += s.dir_vouched;
    }
    t
}

/// Throughput: `rate` posts/s network-wide for `secs` simulated seconds.
fn load(nodes: usize, cores: usize, seed: u64, rate: u64, secs: u64, delivery: DeliveryMode) {
    let wall = WallClock::now();
    let cfg = SimConfig {
        seed,
        cores,
        leaves: nodes - cores,
        join_window_ms: 60_000,
        check_every: 1_009,
        delivery,
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

/// Nodes join one every 20 ms (50 a second), at least over 10 s; `BENCH_JOIN_S` sets the
/// window instead (the 100k run: 500 s, 200 a second, so ≈ 0.02 joins per core per second while
/// the leaves join, against 0.05 at 10k nodes over the default window).
fn join_window_ms(nodes: usize) -> u64 {
    match std::env::var("BENCH_JOIN_S").ok().and_then(|v| v.parse::<u64>().ok()) {
        Some(s) => s.max(1) * 1_000,
        None => (nodes as u64 * 20).max(10_000),
    }
}

fn big_network(nodes: usize, cores: usize, seed: u64, directory: DirectoryMode, delivery: DeliveryMode) -> Figures {
    let wall = WallClock::now();
    let mut progress = Progress::new();
    reset_peak();
    let heap0 = live();
    let label = directory.as_str().to_string();
    println!(
        "== {nodes} nodes ({cores} core, {} leaf), links 20-150 ms one way, seed {seed}, {label} directory, {delivery:?} delivery ==",
        nodes - cores
    );
    let cfg = SimConfig {
        seed,
        cores,
        leaves: nodes - cores,
        latency_ms: (20, 150),
        join_window_ms: join_window_ms(nodes),
        meter: false,
        check_every: 1_009,
        directory,
        delivery,
        ..SimConfig::default()
    };
    let window_s = cfg.join_window_ms / 1_000;
    let mut sim = Sim::new(cfg);
    // Tracing aid: the node ids of some indices (the trace names nodes by index), then stop.
    if let Ok(list) = std::env::var("BENCH_IDS") {
        for i in list.split(',').filter_map(|i| i.trim().parse::<usize>().ok()).filter(|i| *i < sim.nodes.len()) {
            println!("#{i} {}", sim.nodes[i].overlay.node_id());
        }
        std::process::exit(0);
    }
    // `--directory auto`'s threshold lowered (as `NOSTRP2P_DIR_MIN_NODES` does for a server).
    if let Some(t) = std::env::var("BENCH_DIR_MIN_NODES").ok().and_then(|v| v.parse::<u64>().ok()) {
        for n in sim.nodes.iter_mut() {
            n.overlay.lower_dir_threshold(t);
        }
    }
    let built = live() - heap0;
    println!(
        "built: heap {:.1} KB per node (wall {:.0} s); nodes join over {window_s} simulated s",
        built as f64 / nodes as f64 / 1e3,
        wall.elapsed().as_secs_f64()
    );
    let mut last_unsettled = 0u64;
    let settled = sim.run_until_cond(5_000, 3_600_000, |s| {
        progress.tick(s, "join", false);
        // Past the join window, say once a simulated minute what keeps it from settling.
        if s.now.0 > window_s * 1_000 + 60_000 && s.now.0 / 60_000 > last_unsettled {
            last_unsettled = s.now.0 / 60_000;
            println!("  not settled: {}", unsettled(s));
        }
        s.settled()
    });
    progress.tick(&sim, "join: settled", true);
    // `BENCH_SETTLE_MIN` (default 2): minutes run after the join settled, before the idle
    // window is metered (`auto`'s levels keep moving for a while after the overlay settled).
    let settle_min = std::env::var("BENCH_SETTLE_MIN").ok().and_then(|v| v.parse().ok()).unwrap_or(2u64);
    progress.run_for(&mut sim, settle_min * 60_000, &format!("join: settled + {settle_min} min"));
    let level_changes = |sim: &Sim| -> u64 { sim.nodes.iter().map(|n| n.overlay.dir_level_changes()).sum() };
    if directory == DirectoryMode::Auto {
        // `auto`'s levels move on their estimates for a while after the overlay settled; each
        // move hands records over. That is a one-off of a growing network, not idle upkeep:
        // run until no core changed level for `AUTO_QUIET_MIN` minutes and print its cost,
        // then meter the idle window.
        sim.set_meter(true);
        let (_, c0, _, n_core) = totals(&sim, Some(Role::Core));
        let (start, changes0) = (sim.now, level_changes(&sim));
        let (mut last, mut quiet) = (changes0, 0);
        let quiet_min = std::env::var("BENCH_QUIET").ok().and_then(|v| v.parse().ok()).unwrap_or(AUTO_QUIET_MIN);
        while quiet < quiet_min && sim.now.since(start) < AUTO_SETTLE_MAX_MIN * 60_000 {
            progress.run_for(&mut sim, 60_000, "directory auto: levels settling");
            let now = level_changes(&sim);
            (quiet, last) = if now == last { (quiet + 1, last) } else { (0, now) };
            println!("  levels {:?}, {} changes so far", levels(&sim), now - changes0);
        }
        let (_, c1, _, _) = totals(&sim, Some(Role::Core));
        let mins = sim.now.since(start) as f64 / 60_000.0;
        println!(
            "directory auto: {} level changes after the join; {} ({:.0} min, cap {AUTO_SETTLE_MAX_MIN}); cores' control traffic meanwhile {:.1} KB/min per core",
            last - changes0,
            if quiet >= quiet_min { format!("no change for the last {quiet_min} min") } else { "still changing".into() },
            mins,
            (c1 - c0) as f64 / 1e3 / n_core.max(1) as f64 / mins.max(1.0)
        );
    }
    let roles = sim.alive().iter().filter(|i| sim.nodes[**i].overlay.role() == Role::Core).count();
    println!(
        "joined: settled={settled} at t={:.0} s, {roles} core / {} leaf, heap {:.1} KB per node, peak heap {:.2} GB (wall {:.0} s)",
        sim.now.0 as f64 / 1e3,
        nodes - roles,
        (live() - heap0) as f64 / nodes as f64 / 1e3,
        counting_alloc::peak() as f64 / 1e9,
        wall.elapsed().as_secs_f64()
    );

    // --- idle: control traffic per node per minute (metering from here on) ---
    sim.set_meter(true);
    let idle_min = 10;
    let (_, c0_core, _, n_core) = totals(&sim, Some(Role::Core));
    let (_, c0_leaf, _, n_leaf) = totals(&sim, Some(Role::Leaf));
    let f0: Vec<u64> = sim.nodes.iter().map(|n| n.traffic.control_bytes).collect();
    let ae0 = anti_entropy(&sim);
    let held: Vec<usize> =
        sim.nodes.iter().filter(|n| n.overlay.role() == Role::Core).map(|n| n.overlay.directory_len()).collect();
    println!(
        "directory at idle start: {:.1} records per core (min {})",
        held.iter().sum::<usize>() as f64 / held.len().max(1) as f64,
        held.iter().min().copied().unwrap_or(0)
    );
    let types0 = sim.msg_counts.clone();
    let ring0 = ring_counts(&sim);
    let memb0 = memb_counts(&sim);
    let changes0 = level_changes(&sim);
    progress.run_for(&mut sim, idle_min * 60_000, "idle");
    if directory == DirectoryMode::Auto {
        let at = levels(&sim);
        let mut est: Vec<u64> =
            sim.nodes.iter().filter(|n| n.overlay.role() == Role::Core).map(|n| n.overlay.dir_estimate()).collect();
        est.sort_unstable();
        let q = |f: usize| est.get(est.len().saturating_sub(1) * f / 100).copied().unwrap_or(0);
        println!(
            "directory auto, cores per level after idle: {at:?}; level changes during idle {}; their estimates min {} / p10 {} / median {} / max {} ({nodes} nodes)",
            level_changes(&sim) - changes0,
            q(0),
            q(10),
            q(50),
            q(100)
        );
    }
    if directory != DirectoryMode::Broadcast {
        let ring1 = ring_counts(&sim);
        let per = |i: usize| (ring1[i] - ring0[i]) as f64 / n_core.max(1) as f64 / idle_min as f64;
        println!(
            "ring, idle, per core per minute: lookups finger {:.2}, store/read-back {:.2}, unicast {:.2}; dials for a frame {:.2}, to verify a claim {:.2}, to store {:.2}; records sent to holders {:.2}",
            per(0), per(1), per(2), per(3), per(4), per(5), per(6)
        );
        let sy = sync_counts(&sim);
        println!(
            "ring co-holder sync, whole run so far: fingerprints sent {}, equal {}, answered with a list {}, dropped {}; records stored at a co-holder that lacked them {}",
            sy[0], sy[1], sy[2], sy[3], sy[4]
        );
    }
    let memb1 = memb_counts(&sim);
    let per = |i: usize| (memb1[i] - memb0[i]) as f64 / n_core.max(1) as f64 / idle_min as f64;
    println!(
        "membership, idle, per core per minute: accepted {:.2}; dials neighbour {:.2}, on-demand {:.2}, other {:.2}; \
         Neighbor asked low {:.2} / high {:.2} (refreshes {:.2}), refused {:.2}, introductions taken {:.2}; active evicted {:.2}; idle on-demand links closed {:.2}",
        per(0), per(1), per(2), per(3), per(4), per(5), per(8), per(6), per(10), per(7), per(9)
    );
    // Where the idle bytes go, by frame type (all nodes; each frame counted once here, at
    // both of its ends in the per-node rates, hence the × 2 per core).
    let mut idle_types: Vec<(u64, &str, u64)> = sim
        .msg_counts
        .iter()
        .map(|(k, (n, b))| {
            let (n0, b0) = types0.get(k).copied().unwrap_or((0, 0));
            (b - b0, *k, n - n0)
        })
        .filter(|(b, _, _)| *b > 0)
        .collect();
    idle_types.sort_unstable_by(|a, b| b.cmp(a));
    let per_core = |b: u64| 2.0 * b as f64 / 1e3 / n_core.max(1) as f64 / idle_min as f64;
    let shown: Vec<String> =
        idle_types.iter().map(|(b, k, n)| format!("{k}={:.2} ({n} frames)", per_core(*b))).collect();
    println!(
        "idle control by frame type, KB/min per core if all were cores' (all nodes' frames x 2 / cores): {}",
        shown.join(" ")
    );
    let ae1 = anti_entropy(&sim);
    println!(
        "directory anti-entropy on cores (join / idle {idle_min} min): records merged {} / {}, useless (held already) {} / {}, \
         new ids over budget: refused {} / {}, not asked for {} / {}, vouched by a second prefix {} / {}",
        ae0[0],
        ae1[0] - ae0[0],
        ae0[1],
        ae1[1] - ae0[1],
        ae0[2],
        ae1[2] - ae0[2],
        ae0[3],
        ae1[3] - ae0[3],
        ae0[4],
        ae1[4] - ae0[4]
    );
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
    progress.tick(&sim, "posts published", true);
    progress.run_for(&mut sim, 60_000, "posts: 1 min after");
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
    if directory != DirectoryMode::Broadcast {
        ring_audit(&sim);
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
    progress.tick(&sim, "unicasts sent", true);
    sim.run_until_cond(1_000, 60_000, |s| pairs.iter().all(|(a, _, id)| s.nodes[*a].unicast_done.contains_key(id)));
    sim.run_for(1_000);
    progress.tick(&sim, "unicasts done", true);
    let mut ok = 0;
    let mut hops = [0u64; 5];
    // Why the others failed, by reason and the two ends' roles (where tracing one starts).
    let mut failed: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for (a, b, id) in &pairs {
        let done = sim.nodes[*a].unicast_done.get(id);
        let src = sim.nodes[*a].overlay.node_id();
        let roles = format!("{:?}->{:?}", sim.nodes[*a].overlay.role(), sim.nodes[*b].overlay.role());
        match done {
            Some(Ok(h)) if sim.nodes[*b].unicasts_in.contains(&(src, *id)) => {
                ok += 1;
                hops[(*h as usize).min(4)] += 1;
            }
            Some(Ok(_)) => *failed.entry(format!("acked, not delivered {roles}")).or_default() += 1,
            Some(Err(r)) => {
                *failed.entry(format!("{r:?} {roles}")).or_default() += 1;
                let key = if format!("{r:?}") == "UnknownSource" { *a } else { *b };
                unicast_diag(&sim, *a, *b, key, &format!("{r:?}"));
            }
            None => *failed.entry(format!("pending {roles}")).or_default() += 1,
        }
    }
    if !failed.is_empty() {
        println!("unicast failures: {failed:?}");
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
    // Record refreshes (every RECORD_REFRESH_MS, so outside the 10 idle minutes), computed
    // per core. Broadcast: every refresh reaches every core (≈ 1 KB each, measured at 10k).
    // Ring: a refresh is one lookup (FindNode out and Found back per hop) and RING_REPLICAS
    // Stores, frames sized from this run's own metered frames, spread over the cores; each
    // frame counts at both ends (sent + received).
    let refresh_min = RECORD_REFRESH_MS as f64 / 60_000.0;
    let avg = |name: &str, dflt: f64| {
        sim.msg_counts.get(name).filter(|(n, b)| *n > 0 && *b > 0).map_or(dflt, |(n, b)| *b as f64 / *n as f64)
    };
    let (mut found, mut hops_sum) = (0u64, 0u64);
    for n in &sim.nodes {
        if let Some(d) = n.overlay.dht() {
            found += d.stats().found;
            hops_sum += d.stats().hops_sum;
        }
    }
    let hops = if found > 0 { hops_sum as f64 / found as f64 } else { (roles.max(2) as f64).log2() / 2.0 };
    let broadcast_kb = nodes as f64 * BROADCAST_BYTES_PER_RECORD / refresh_min / 1e3;
    let ring_kb = {
        let per_refresh =
            hops * (avg("FindNode", 60.0) + avg("Found", 80.0)) + RING_REPLICAS as f64 * avg("Store", 420.0);
        nodes as f64 * per_refresh * 2.0 / roles.max(1) as f64 / refresh_min / 1e3
    };
    // `auto`: by the levels the cores stand at (mixed or `Both`: both kinds of refresh).
    let levels: Vec<DirLevel> =
        sim.nodes.iter().filter(|n| n.overlay.role() == Role::Core).map(|n| n.overlay.dir_level()).collect();
    let refresh_kb = match directory {
        DirectoryMode::Broadcast => broadcast_kb,
        DirectoryMode::Ring => ring_kb,
        DirectoryMode::Auto if levels.iter().all(|l| *l == DirLevel::Broadcast) => broadcast_kb,
        DirectoryMode::Auto if levels.iter().all(|l| *l == DirLevel::Ring) => ring_kb,
        DirectoryMode::Auto => broadcast_kb + ring_kb,
    };
    if found > 0 {
        println!("ring lookups: {found} answered, mean {hops:.2} hops");
    }
    println!(
        "core idle control traffic with record refreshes: {:.2} measured + {refresh_kb:.2} refreshes (computed) = {:.2} KB/min   [goal <= 20]",
        core_rate / 1e3,
        core_rate / 1e3 + refresh_kb
    );
    let sim_s = sim.now.0 as f64 / 1e3;
    let steps = sim.steps;
    let peak_heap = counting_alloc::peak() as u64;
    let peak = peak_rss();
    let heap_end = live() - heap0;
    let wall_s = wall.elapsed().as_secs_f64();
    let core_lens: Vec<usize> = sim
        .nodes
        .iter()
        .filter(|n| n.alive && n.overlay.role() == Role::Core)
        .map(|n| n.overlay.directory_len())
        .collect();
    let records: usize = core_lens.iter().sum();
    let max_len = core_lens.iter().copied().max().unwrap_or(0);
    // Where the memory is: take the simulation apart component by component.
    let parts = sim.heap_parts(&live);
    println!(
        "heap by component (KB per node of that role; total {:.1} KB per node):",
        heap_end as f64 / nodes as f64 / 1e3
    );
    for ((role, part), bytes) in &parts.bytes {
        let n = role.map_or(nodes as u64, |r| parts.nodes.get(&r).copied().unwrap_or(0)).max(1);
        let who = role.map_or("sim".to_string(), |r| format!("{r:?}").to_lowercase());
        println!("  {who:>5} {part:<40} {:>10.2}", *bytes as f64 / n as f64 / 1e3);
    }
    let n_cores = parts.nodes.get(&Role::Core).copied().unwrap_or(0).max(1) as f64;
    let dir_bytes = parts.bytes.get(&(Some(Role::Core), "directory (records)")).copied().unwrap_or(0)
        + parts.bytes.get(&(Some(Role::Core), "ring directory state")).copied().unwrap_or(0);
    let dir_mb_core = dir_bytes as f64 / n_cores / 1e6;
    // The fullest core, at this run's mean cost per held record (ring state included).
    let dir_max_mb = dir_bytes as f64 / records.max(1) as f64 * max_len as f64 / 1e6;
    println!(
        "directory: {:.0} records per core (max {max_len}), {:.0} B per record measured",
        records as f64 / n_cores,
        dir_bytes as f64 / records.max(1) as f64
    );
    println!(
        "directory memory per core: {dir_mb_core:.3} MB mean   [goal <= 8 MB]\n\
         simulated {sim_s:.0} s in {wall_s:.0} s wall, {steps} events, peak heap {:.2} GB, peak RSS {:.2} GB\n",
        peak_heap as f64 / 1e9,
        peak as f64 / 1e9
    );
    Figures {
        label,
        delivered: 100.0 * delivered as f64 / expected.max(1) as f64,
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        max: times.last().copied().unwrap_or(0),
        rmr,
        unicast: 100.0 * ok as f64 / trials as f64,
        core_idle_kb: core_rate / 1e3,
        refresh_kb,
        dir_mb_core,
        dir_mb_core_max: dir_max_mb,
        heap_per_node: heap_end as f64 / nodes as f64,
        peak_heap,
        peak_rss: peak,
        wall_s,
    }
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

/// The ring as a whole, against the truth the simulator knows: how many of each node's
/// `RING_REPLICAS` true holders (the first cores at or after its id) hold its current record,
/// and how many cores' tables miss their true first successor or predecessor. Printed before
/// the unicasts (a unicast to a node whose record no holder has fails).
fn ring_audit(sim: &Sim) {
    let id = |i: usize| sim.nodes[i].overlay.node_id();
    let alive = sim.alive();
    let mut cores: Vec<(u64, usize)> = alive
        .iter()
        .filter(|&&i| sim.nodes[i].overlay.role() == Role::Core && sim.nodes[i].overlay.dht().is_some())
        .map(|&i| (id(i).0, i))
        .collect();
    cores.sort_unstable();
    if cores.len() <= RING_REPLICAS {
        return;
    }
    let n = cores.len();
    let mut at = [0usize; RING_REPLICAS + 1];
    let mut missing_first = 0;
    let mut worst: Vec<usize> = Vec::new();
    for &i in &alive {
        let k = id(i);
        let seq = sim.nodes[i].overlay.own_record().seq;
        if seq == 0 {
            continue;
        }
        let start = cores.partition_point(|(c, _)| *c < k.0);
        let mut held = 0;
        for j in 0..RING_REPLICAS {
            let c = cores[(start + j) % n].1;
            let has = c == i || sim.nodes[c].overlay.directory().get(k).is_some_and(|e| e.seq >= seq);
            held += usize::from(has);
            if j == 0 && !has {
                missing_first += 1;
            }
        }
        at[held] += 1;
        if held <= 1 && worst.len() < 10 {
            worst.push(i);
        }
    }
    let (mut succ_wrong, mut pred_wrong) = (0, 0);
    for (x, &(_, c)) in cores.iter().enumerate() {
        let Some(t) = sim.nodes[c].overlay.dht().map(|d| d.table()) else { continue };
        let true_succ = cores[(x + 1) % n].0;
        let true_pred = cores[(x + n - 1) % n].0;
        let wrong_succ = t.successors().first().is_none_or(|p| p.node.0 != true_succ);
        succ_wrong += usize::from(wrong_succ);
        pred_wrong += usize::from(t.predecessors().first().is_none_or(|p| p.node.0 != true_pred));
        if wrong_succ && std::env::var_os("BENCH_AUDIT").is_some() && succ_wrong <= 10 {
            let ts = cores[(x + 1) % n].1;
            let back = sim.nodes[ts].overlay.dht().map(|d| d.table());
            println!(
                "  core #{c}: first successor {:?}, true #{ts} {:?} (known here {}, connected {}); #{ts}'s first predecessor {:?} (knows #{c}: {})",
                t.successors().first().map(|p| p.node),
                id(ts),
                t.known().iter().any(|p| p.node == id(ts)),
                sim.nodes[c].overlay.connected_nodes().contains(&id(ts)),
                back.and_then(|b| b.predecessors().first().map(|p| p.node)),
                back.is_some_and(|b| b.known().iter().any(|p| p.node == id(c)))
            );
        }
    }
    println!(
        "ring audit: nodes whose current record is at 0..={RING_REPLICAS} of its true holders: {at:?}; missing at the first holder {missing_first}; \
         cores whose table's first successor / predecessor is wrong: {succ_wrong} / {pred_wrong} of {n}{}",
        if worst.is_empty() { String::new() } else { format!("; at <= 1 holder: {worst:?}") }
    );
}

/// Debug aid: components of the eager graph among core nodes, leaves without an eager home.
/// Where the record of `key` (the node whose record a failed unicast from `a` to `b` missed) is:
/// its ideal holders (the first `RING_REPLICAS` cores at or after it), what each holds, and
/// every core holding any copy. Printed for each failed unicast (where tracing one starts).
fn unicast_diag(sim: &Sim, a: usize, b: usize, key: usize, reason: &str) {
    let id = |i: usize| sim.nodes[i].overlay.node_id();
    let k = id(key);
    let unix = sim.node_now(key).wall.0;
    let own = sim.nodes[key].overlay.directory().get(k).map(|e| (e.seq, e.homes.clone()));
    println!(
        "  failed #{a} -> #{b} ({reason}): key #{key} {k} {:?}, homes now {:?}, own record (seq, homes) {own:?}",
        sim.nodes[key].overlay.role(),
        sim.nodes[key].overlay.homes()
    );
    let mut cores: Vec<(u64, usize)> = (0..sim.nodes.len())
        .filter(|&i| sim.nodes[i].overlay.role() == Role::Core)
        .map(|i| (id(i).0.wrapping_sub(k.0), i))
        .collect();
    cores.sort_unstable();
    for &(_, c) in cores.iter().take(RING_REPLICAS + 2) {
        let e = sim.nodes[c].overlay.directory().get(k);
        let stores = sim.nodes[c].overlay.dht().is_some_and(|d| d.table().stores(k));
        println!(
            "    next core #{c} {}: stores by its table {stores}, holds seq {:?} live {:?}",
            id(c),
            e.map(|e| e.seq),
            e.map(|e| e.is_live(unix))
        );
        if std::env::var("BENCH_DIAG_STATS").is_ok() {
            println!(
                "      {:?}\n      {:?}",
                sim.nodes[c].overlay.dht().map(|d| *d.stats()),
                sim.nodes[c].overlay.stats()
            );
        }
    }
    // The route a lookup of `key` takes from the origin (or its homes) by today's tables
    // (greedy `next_hop` only: the live walk may shortcut through connected cores).
    let index: std::collections::HashMap<_, usize> = (0..sim.nodes.len()).map(|i| (id(i), i)).collect();
    let starts = match sim.nodes[a].overlay.role() {
        Role::Leaf => sim.nodes[a].overlay.homes().iter().filter_map(|h| index.get(h).copied()).collect(),
        _ => vec![a],
    };
    for s in starts {
        let mut walk = vec![format!("#{s}")];
        let mut at = s;
        for _ in 0..RING_LOOKUP_MAX_HOPS {
            let Some(t) = sim.nodes[at].overlay.dht().map(|d| d.table()) else {
                walk.push("(no table)".into());
                break;
            };
            let (step, next) = match t.next_hop(k) {
                Hop::Local => ("local", None),
                Hop::Owner(n) => ("owner", Some(n)),
                Hop::Forward(n) => ("forward", Some(n)),
            };
            let Some(n) = next else {
                walk.push(format!("{step} (holds {})", sim.nodes[at].overlay.directory().get(k).is_some()));
                break;
            };
            let conn = sim.nodes[at].overlay.connected_nodes().contains(&n);
            let Some(&i) = index.get(&n) else {
                walk.push(format!("{step} {n} (no such node)"));
                break;
            };
            walk.push(format!("{step}{} #{i}", if conn { "" } else { " (dial)" }));
            if step == "owner" {
                walk.push(format!("(holds {})", sim.nodes[i].overlay.directory().get(k).is_some()));
                break;
            }
            at = i;
        }
        println!("    route by tables: {}", walk.join(" -> "));
    }
    let homes = sim.nodes[key].overlay.homes().to_vec();
    let holding: Vec<String> = (0..sim.nodes.len())
        .filter(|&i| i != key)
        .filter_map(|i| {
            let e = sim.nodes[i].overlay.directory().get(k)?;
            let stores = sim.nodes[i].overlay.dht().is_some_and(|d| d.table().stores(k));
            let home = if homes.contains(&id(i)) { " home" } else { "" };
            let dht = sim.nodes[i].overlay.dht().map(|d| *d.stats());
            Some(format!("#{i} {}{home} seq {} stores {stores} {dht:?}", id(i), e.seq))
        })
        .collect();
    println!("    every node holding a copy:\n      {}", holding.join("\n      "));
}

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

/// Membership counters (`Stats::memb`) summed over the cores, in the order printed.
fn memb_counts(sim: &Sim) -> [u64; 11] {
    let mut c = [0u64; 11];
    for n in sim.nodes.iter().filter(|n| n.overlay.role() == Role::Core) {
        let m = n.overlay.stats().memb;
        let v = [
            m.accepted,
            m.dials_neighbor,
            m.dials_direct,
            m.dials_other,
            m.neighbor_low,
            m.neighbor_high,
            m.neighbor_refused,
            m.active_evicted,
            m.refreshes,
            m.ondemand_closed,
            m.introduced,
        ];
        for (a, b) in c.iter_mut().zip(v) {
            *a += b;
        }
    }
    c
}

/// Co-holder sync counters summed over all nodes (`dht_sync.rs`): fingerprints sent, equal,
/// answered, dropped; records pushed.
fn sync_counts(sim: &Sim) -> [u64; 5] {
    let mut c = [0u64; 5];
    for n in &sim.nodes {
        if let Some(d) = n.overlay.dht() {
            let s = d.stats();
            for (a, b) in c.iter_mut().zip([s.sync_sent, s.sync_equal, s.sync_answered, s.sync_dropped, s.sync_pushed])
            {
                *a += b;
            }
        }
    }
    c
}

/// Ring counters summed over all nodes: lookups (finger, store, unicast), dials (send,
/// verify, store), records sent to holders.
fn ring_counts(sim: &Sim) -> [u64; 7] {
    let mut c = [0u64; 7];
    for n in &sim.nodes {
        if let Some(d) = n.overlay.dht() {
            let s = d.stats();
            let v = [
                s.lookups_finger,
                s.lookups_store,
                s.lookups_unicast,
                s.dials_send,
                s.dials_verify,
                s.dials_store,
                s.stores_sent,
            ];
            for (a, b) in c.iter_mut().zip(v) {
                *a += b;
            }
        }
    }
    c
}
