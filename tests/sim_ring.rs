//! The ring directory (`--directory ring`, `src/overlay/dht.rs`) running in the simulator:
//! cores find each other's and the leaves' records by routed lookups instead of holding every
//! record. Waits are bounded conditions on simulated time. `SIM_RING_NODES=n` runs one size
//! (default 100 here; the 1,000-node figures of docs/scaling.md come from `SIM_RING_NODES=1000`).

use nostrp2p::overlay::ring::{RingPeer, RingTable};
use nostrp2p::overlay::sim::{Sim, SimConfig};
use nostrp2p::overlay::DirectoryMode;
use nostrp2p::wire::{NodeId, Role};

fn settle(sim: &mut Sim) {
    assert!(sim.run_until_cond(1_000, 300_000, |s| s.settled()), "network did not settle:\n{}", sim.describe());
}

struct Figures {
    sent: usize,
    acked: usize,
    dir_per_core: f64,
    control_kb_min_per_core: f64,
    lookups: u64,
    found: u64,
    hops_mean: f64,
    hops_max: u8,
}

/// Unicasts sent per run: at 1,000 pairs one failure is 0.1 %, the goal's resolution.
const PAIRS: usize = 1_000;

/// SplitMix64's output function: a fixed, well-mixed pair order.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn run(nodes: usize, directory: DirectoryMode, seed: u64) -> Figures {
    let cores = nodes * 3 / 10;
    let mut sim = Sim::new(SimConfig {
        seed,
        cores,
        leaves: nodes - cores,
        check_every: 13,
        directory,
        // The default delivery (`auto`; at 100 nodes every core stays at its broadcast level,
        // but leaves send their interest sets, which shifts the run's timing): seed 1 found
        // two lookup races this way (tests_dht.rs). `SIM_RING_BROADCAST=1` pins broadcast.
        delivery: if std::env::var_os("SIM_RING_BROADCAST").is_some() {
            nostrp2p::wire::DeliveryMode::Broadcast
        } else {
            nostrp2p::wire::DeliveryMode::Auto
        },
        ..SimConfig::default()
    });
    settle(&mut sim);
    print_levels(&sim, "after settling");
    // Ring rounds (stabilise + fingers) and record stores; the broadcast run gets the same time.
    sim.run_for(40 * 60_000);
    print_levels(&sim, "after 40 min");
    let core_ids: Vec<usize> = sim.alive().into_iter().filter(|i| sim.nodes[*i].overlay.role() == Role::Core).collect();
    // Idle control traffic per core over 5 minutes, refreshes included when they fall in it.
    sim.set_meter(true);
    let before: u64 = core_ids.iter().map(|i| sim.nodes[*i].traffic.control_bytes).sum();
    sim.run_for(5 * 60_000);
    let after: u64 = core_ids.iter().map(|i| sim.nodes[*i].traffic.control_bytes).sum();
    sim.set_meter(false);
    let control = (after - before) as f64 / 1024.0 / 5.0 / core_ids.len() as f64;
    let dir: usize = core_ids.iter().map(|i| sim.nodes[*i].overlay.directory_len()).sum();
    let n = sim.nodes.len();
    // Distinct pseudo-random pairs (the earlier `k × prime mod n` repeated every n pairs, so
    // 200 pairs at 100 nodes were 100 pairs sent twice).
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let mut k = 0u64;
    while pairs.len() < PAIRS.min(n * (n - 1)) {
        k += 1;
        let h = mix(seed ^ k);
        let (a, b) = ((h % n as u64) as usize, ((h >> 32) % n as u64) as usize);
        if a != b && !pairs.contains(&(a, b)) {
            pairs.push((a, b));
        }
    }
    for (k, (a, b)) in pairs.iter().enumerate() {
        sim.unicast(*a, *b, 1_000 + k as u64);
    }
    let done = |s: &Sim| {
        pairs.iter().enumerate().all(|(k, (a, _))| s.nodes[*a].unicast_done.contains_key(&(1_000 + k as u64)))
    };
    sim.run_until_cond(1_000, 120_000, done);
    let acked = pairs
        .iter()
        .enumerate()
        .filter(|(k, (a, _))| matches!(sim.nodes[*a].unicast_done.get(&(1_000 + *k as u64)), Some(Ok(_))))
        .count();
    let mut reasons = std::collections::BTreeMap::new();
    for (k, (a, b)) in pairs.iter().enumerate() {
        if let Some(Err(r)) = sim.nodes[*a].unicast_done.get(&(1_000 + k as u64)) {
            let key = format!("{r:?} {:?}->{:?}", sim.nodes[*a].overlay.role(), sim.nodes[*b].overlay.role());
            if std::env::var_os("SIM_RING_DEBUG").is_some() {
                let dst = sim.nodes[*b].overlay.node_id();
                let homes = sim.nodes[*b].overlay.homes().to_vec();
                let e = sim.nodes[*a].overlay.directory().get(dst).map(|e| (e.role, e.homes.clone()));
                println!("{} #{a}->#{b} {r:?}: dst homes {homes:?}, origin's entry {e:?}", 1_000 + k);
                trace_record(&sim, *a);
                trace_record(&sim, *b);
            }
            *reasons.entry(key).or_insert(0) += 1;
        } else if !sim.nodes[*a].unicast_done.contains_key(&(1_000 + k as u64)) {
            *reasons.entry("pending".to_string()).or_insert(0) += 1;
        }
    }
    if !reasons.is_empty() {
        println!("failures: {reasons:?}");
    }
    if std::env::var_os("SIM_RING_DEBUG").is_some() {
        let (mut pf, mut to, mut fe, mut pe, mut rr, mut fu) = (0, 0, 0, 0, 0, 0);
        for i in &core_ids {
            if let Some(d) = sim.nodes[*i].overlay.dht() {
                let s = d.stats();
                (pf, to, fe, pe) = (pf + s.park_full, to + s.lookup_timeouts, fe + s.found_empty, pe + s.pending_full);
                (rr, fu) = (rr + s.rerouted, fu + s.found_unsent);
            }
        }
        println!("park_full {pf}, lookup timeouts {to}, found empty {fe}, pending full {pe}, rerouted {rr}, found unsent {fu}, timed-out pending {}", sim.nodes.iter().map(|n| n.overlay.dht().map_or(0, |d| d.pending_len())).sum::<usize>());
    }
    let (mut lookups, mut found, mut hops_sum, mut hops_max) = (0, 0, 0, 0u8);
    for i in &core_ids {
        if let Some(d) = sim.nodes[*i].overlay.dht() {
            let s = d.stats();
            lookups += s.lookups;
            found += s.found;
            hops_sum += s.hops_sum;
            hops_max = hops_max.max(s.hops_max);
        }
    }
    Figures {
        sent: pairs.len(),
        acked,
        dir_per_core: dir as f64 / core_ids.len() as f64,
        control_kb_min_per_core: control,
        lookups,
        found,
        hops_mean: hops_sum as f64 / found.max(1) as f64,
        hops_max,
    }
}

/// Debug trace (`SIM_RING_DEBUG`): each core's `auto` level and estimated network size.
fn print_levels(sim: &Sim, when: &str) {
    if std::env::var_os("SIM_RING_DEBUG").is_none() {
        return;
    }
    let levels: Vec<String> = sim
        .alive()
        .into_iter()
        .filter(|i| sim.nodes[*i].overlay.role() == Role::Core)
        .map(|i| format!("#{i}:{:?}", sim.nodes[i].overlay.auto_level()))
        .collect();
    println!("auto levels {when}: {}", levels.join(" "));
}

/// Debug trace (`SIM_RING_DEBUG`): where node `i`'s record is held, against the holders a
/// converged ring names, and what each true holder's own table says.
fn trace_record(sim: &Sim, i: usize) {
    let key = sim.nodes[i].overlay.node_id();
    let cores: Vec<usize> = sim.alive().into_iter().filter(|j| sim.nodes[*j].overlay.role() == Role::Core).collect();
    let all: Vec<RingPeer> = cores
        .iter()
        .map(|j| RingPeer { node: sim.nodes[*j].overlay.node_id(), prefix: sim.nodes[*j].addr.prefix() })
        .collect();
    // The owner's converged table holds the key's neighbourhood, so it names the true holders.
    let mut sorted = all.clone();
    sorted.sort_by_key(|p| p.node.0.wrapping_sub(key.0));
    let owner = sorted.iter().find(|p| p.node != key).copied().expect("cores exist");
    let truth = RingTable::converged(owner, &all).holders(key);
    let held: Vec<NodeId> = cores
        .iter()
        .filter(|j| sim.nodes[**j].overlay.directory().get(key).is_some())
        .map(|j| sim.nodes[*j].overlay.node_id())
        .collect();
    println!(
        "  record of #{i} {key:?} ({:?}, homes {:?}): true holders {truth:?}; held by {held:?}",
        sim.nodes[i].overlay.role(),
        sim.nodes[i].overlay.homes()
    );
    for h in truth {
        let Some(j) = cores.iter().find(|j| sim.nodes[**j].overlay.node_id() == h) else { continue };
        let d = sim.nodes[*j].overlay.dht().map(|d| (d.table().holders(key), d.stats().stores_not_holder));
        println!("    holder {h:?}: its view of the holders and refusals {d:?}");
    }
    for h in sim.nodes[i].overlay.homes() {
        let Some(j) = cores.iter().find(|j| sim.nodes[**j].overlay.node_id() == *h) else { continue };
        let d = sim.nodes[*j].overlay.dht().map(|d| d.table().holders(key));
        let has = sim.nodes[*j].overlay.directory().get(key).is_some();
        println!("    home {h:?}: holds it {has}, its view of the holders {d:?}");
    }
}

fn print(nodes: usize, name: &str, f: &Figures) {
    println!(
        "{nodes:>6} nodes {name:>10}: unicast acked {}/{} ({:.1} %), records per core {:.0}, idle control {:.1} KB/min per core, lookups {} (found {}), hops mean {:.1} max {}",
        f.acked,
        f.sent,
        100.0 * f.acked as f64 / f.sent as f64,
        f.dir_per_core,
        f.control_kb_min_per_core,
        f.lookups,
        f.found,
        f.hops_mean,
        f.hops_max
    );
}

/// Seeds the default run covers (≈ 2 s each at 100 nodes); `SIM_SEED=n` runs one. Seeds 5,
/// 7, 8 failed with the Join retry on before holders passed first-hand stores on, seed 1
/// when a failed attempt made a holder forget the record it held.
const SEEDS: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

#[test]
fn ring_directory_delivers_unicasts_side_by_side_with_broadcast() {
    let nodes = std::env::var("SIM_RING_NODES").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let seeds: Vec<u64> = match std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(s) => vec![s],
        None if nodes > 100 => vec![SEEDS[0]],
        None => SEEDS.to_vec(),
    };
    let cores = (nodes * 3 / 10) as f64;
    for (i, seed) in seeds.iter().enumerate() {
        let ring = run(nodes, DirectoryMode::Ring, *seed);
        print(nodes, &format!("ring s{seed}"), &ring);
        if i == 0 && std::env::var_os("SIM_RING_SKIP_BROADCAST").is_none() {
            let bc = run(nodes, DirectoryMode::Broadcast, *seed);
            print(nodes, &format!("bcast s{seed}"), &bc);
        }
        assert!(ring.acked * 1000 >= ring.sent * 999, "seed {seed}: unicast acked {}/{}", ring.acked, ring.sent);
        assert!(f64::from(ring.hops_max) <= cores.log2().ceil(), "lookup hops {} > log2({cores})", ring.hops_max);
    }
}
