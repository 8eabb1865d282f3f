//! Ring-directory figures (issue 10 part 2; docs/scaling.md "Directory"), side by side with
//! today's broadcast directory at the same sizes.
//!
//! `cargo run --release --example ring_bench [-- NODES,NODES,... [CORE_PERCENT [SEED]]]`
//! (default 10000,100000,1000000 nodes, 10 % core, seed 1).
//!
//! What is measured, per size: every core's converged ring table (`RingTable::converged`, what
//! stabilisation reaches), 20,000 greedy lookups from random cores to random node ids (hops
//! p50/p99/max and whether each ended at the true owner), the records each core holds when
//! every node's record sits at its `RING_REPLICAS` holders, and the heap bytes of one
//! directory record and one ring table (a counting allocator around real `Directory::merge`
//! calls and real tables). What is computed from those: directory memory per core, and the
//! control traffic per core for record refreshes and ring upkeep, from encoded frame sizes of
//! today's messages of the same shape (the lookup frames are not on the wire yet). The
//! broadcast column uses the same per-record costs with every core holding every record.

use std::collections::BTreeMap;
use std::time::Instant as WallClock;

use nostrp2p::overlay::params::{DIR_CAP, RECORD_REFRESH_MS, RING_REPLICAS, RING_SUCCESSORS};
use nostrp2p::overlay::ring::{walk, RingPeer, RingTable};
use nostrp2p::overlay::{Directory, SplitMix64};
use nostrp2p::wire::{
    frame_len, Addr, Body, Key32, Msg, MsgId, NodeId, NodeRecord, PeerRef, Role, Sig, UndeliverableReason,
};

#[path = "../tests/common/counting_alloc.rs"]
mod counting_alloc;

/// Lookups per size.
const LOOKUPS: usize = 20_000;
/// Ring upkeep: each core asks its successor and predecessor for their lists once a minute
/// (stabilise) and looks one finger up per minute (fix-fingers).
const STABILISE_PER_MIN: f64 = 2.0;
/// Today's measured broadcast cost of one record refresh at one core (record frame, duplicate
/// copies and IHAVEs, sent + received; issue 10 from the 10k simulator run): ≈ 1 KB.
const BROADCAST_BYTES_PER_RECORD: f64 = 1_000.0;

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn record(node: u64, role: Role) -> NodeRecord {
    NodeRecord {
        node: NodeId(node),
        owner: Key32([7; 32]),
        node_key: Key32([9; 32]),
        delegation: None,
        role,
        addr: (role == Role::Core).then(|| Addr::v4([198, 51, 100, (node % 250) as u8], 9735)),
        homes: if role == Role::Leaf { vec![NodeId(node ^ 1), NodeId(node ^ 2)] } else { Vec::new() },
        seq: 1_780_000_000,
        expires: 1_780_129_600,
        sig: Sig([3; 64]),
    }
}

/// Heap bytes per directory record (9 leaves : 1 core) and encoded record size.
fn record_cost() -> (f64, f64) {
    let n = 10_000u64;
    let before = counting_alloc::live();
    let mut dir = Directory::new(n as usize);
    let mut enc = 0usize;
    for i in 0..n {
        let rec = record(i.wrapping_mul(0x9e37_79b9_7f4a_7c15), if i % 10 == 0 { Role::Core } else { Role::Leaf });
        let bytes = nostrp2p::wire::encode_record(&rec);
        enc += bytes.len();
        dir.merge(&rec, Body::from_slice(&bytes), false, 1_780_000_000);
    }
    let heap = counting_alloc::live().saturating_sub(before);
    drop(dir);
    (heap as f64 / n as f64, enc as f64 / n as f64)
}

fn run(nodes: usize, core_pct: usize, seed: u64, per_record: f64, record_bytes: f64) {
    let wall = WallClock::now();
    let cores = (nodes * core_pct / 100).max(1);
    let mut rng = SplitMix64::new(seed);
    let mut ids: Vec<u64> = (0..nodes).map(|_| rng.next_u64()).collect();
    ids.sort();
    ids.dedup();
    // The first `cores` of a shuffled copy are the cores, each on its own random /24.
    let mut shuffled = ids.clone();
    rng.shuffle(&mut shuffled);
    let mut all: Vec<RingPeer> =
        shuffled[..cores].iter().map(|n| RingPeer { node: NodeId(*n), prefix: rng.next_u64() >> 40 }).collect();
    all.sort_by_key(|p| p.node);

    let before = counting_alloc::live();
    let tables: BTreeMap<NodeId, RingTable> = all.iter().map(|p| (p.node, RingTable::converged(*p, &all))).collect();
    let table_bytes = counting_alloc::live().saturating_sub(before) as f64 / cores as f64;
    let fingers: usize = tables.values().map(|t| t.distinct_fingers()).sum();

    // Lookups.
    let mut hops = Vec::with_capacity(LOOKUPS);
    let mut right = 0;
    for _ in 0..LOOKUPS {
        let from = all[rng.below(all.len() as u64) as usize].node;
        let key = ids[rng.below(ids.len() as u64) as usize];
        let owner = all[all.partition_point(|p| p.node.0 < key) % all.len()].node;
        if let Ok((got, h)) = walk(&tables, from, NodeId(key)) {
            right += usize::from(got == owner);
            hops.push(h);
        }
    }
    hops.sort_unstable();
    let mean_hops = hops.iter().map(|h| *h as f64).sum::<f64>() / hops.len().max(1) as f64;

    // Records per core: every node's record at its holders (as its owner sees them).
    let mut held: BTreeMap<NodeId, u32> = all.iter().map(|p| (p.node, 0)).collect();
    for key in &ids {
        let owner = all[all.partition_point(|p| p.node.0 < *key) % all.len()].node;
        for h in tables[&owner].holders(NodeId(*key)) {
            if let Some(c) = held.get_mut(&h) {
                *c += 1;
            }
        }
    }
    let mut counts: Vec<u32> = held.values().copied().collect();
    counts.sort_unstable();
    let mean_held = ids.len() as f64 * RING_REPLICAS as f64 / cores as f64;

    // Frame sizes of today's messages with the shape of the ring's (lookup ≈ a signed routed
    // control message; neighbour list ≈ a shuffle reply of RING_SUCCESSORS peers).
    let lookup = frame_len(&Msg::Undeliverable {
        src: NodeId(u64::MAX),
        dst: NodeId(u64::MAX),
        msg_id: u64::MAX,
        reason: UndeliverableReason::NoRoute,
        of: MsgId([0xff; 32]),
        sig: Sig([0xff; 64]),
    }) as f64;
    let peer = PeerRef { node: NodeId(u64::MAX), addr: Addr::v4([198, 51, 100, 7], 9735) };
    let list = frame_len(&Msg::ShuffleReply(vec![peer; RING_SUCCESSORS])) as f64;
    let store = frame_len(&Msg::DirRecords(vec![Body::from_slice(&vec![0u8; record_bytes as usize])])) as f64;
    let refresh_min = (RECORD_REFRESH_MS / 60_000) as f64;
    // Each node's refresh: a lookup (mean hops, then the answer) and RING_REPLICAS stores;
    // every frame counted at its sender and its receiver.
    let per_refresh = 2.0 * (mean_hops * lookup + list + RING_REPLICAS as f64 * store);
    let refresh_kb = ids.len() as f64 * per_refresh / cores as f64 / refresh_min / 1_000.0;
    // Stabilise: each core starts STABILISE_PER_MIN exchanges and answers as many (request +
    // list each). Fix-fingers: one lookup per core per minute, each frame counted twice.
    let upkeep_kb = (STABILISE_PER_MIN * 2.0 * (lookup + list) + 2.0 * (mean_hops * lookup + list)) / 1_000.0;
    let ring_mem = (mean_held * per_record + table_bytes) / 1e6;
    let max_mem = (*counts.last().unwrap_or(&0) as f64 * per_record + table_bytes) / 1e6;

    let bc_held = ids.len().min(DIR_CAP);
    let bc_all = ids.len();
    println!("## {nodes} nodes, {cores} core ({core_pct} %), seed {seed}");
    println!("| figure | ring directory | broadcast directory (today) |");
    println!("|---|---|---|");
    println!(
        "| records per core | mean {:.1}, p50 {}, p99 {}, max {} | {bc_all} (cap {DIR_CAP}: keeps {bc_held}) |",
        mean_held,
        percentile(&counts, 0.5),
        percentile(&counts, 0.99),
        counts.last().unwrap_or(&0)
    );
    println!(
        "| directory memory per core | {:.3} MB mean, {:.3} MB max (records {:.0} B each + table {:.0} B) | {:.1} MB for all {bc_all} ({:.1} MB at the cap) |",
        ring_mem,
        max_mem,
        per_record,
        table_bytes,
        bc_all as f64 * per_record / 1e6,
        bc_held as f64 * per_record / 1e6
    );
    println!(
        "| lookup hops (from a core) | p50 {}, p99 {}, max {}, mean {:.2} (log2 cores = {:.1}); {} / {} at the true owner | 0 (local) |",
        percentile(&hops, 0.5),
        percentile(&hops, 0.99),
        hops.last().unwrap_or(&0),
        mean_hops,
        (cores as f64).log2(),
        right,
        LOOKUPS
    );
    println!("| distinct fingers per core | mean {:.1} | - |", fingers as f64 / cores as f64);
    println!(
        "| control KB/min per core: record refreshes | {:.2} (computed) | {:.1} (computed, 1 KB per record) |",
        refresh_kb,
        bc_all as f64 * BROADCAST_BYTES_PER_RECORD / refresh_min / 1_000.0
    );
    println!("| control KB/min per core: ring upkeep | {:.2} (computed) | - |", upkeep_kb);
    println!("| bench wall time | {:.1} s | |", wall.elapsed().as_secs_f64());
    println!();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = args
        .get(1)
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    let core_pct: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let (per_record, record_bytes) = record_cost();
    println!("directory record: {per_record:.0} B of heap each (encoded {record_bytes:.0} B; 9 leaves : 1 core, no delegation)\n");
    for n in sizes {
        run(n, core_pct.clamp(1, 100), seed, per_record, record_bytes);
    }
}
