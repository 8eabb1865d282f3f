//! `Sim::heap_parts`, the simulator's memory breakdown (examples/overlay_bench.rs prints it):
//! the parts must account for every byte the simulation held, and put the broadcast
//! directory's records where they are (at the cores). Heap bytes come from the counting
//! allocator the benches share (`tests/common/counting_alloc.rs`).

use nostrp2p::overlay::sim::{Sim, SimConfig};
use nostrp2p::overlay::DirectoryMode;
use nostrp2p::wire::Role;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::live;

#[test]
fn heap_parts_account_for_the_whole_simulation() {
    // One test in this binary: nothing else allocates while it measures.
    let mut sim = Sim::new(SimConfig { seed: 3, cores: 12, leaves: 28, check_every: 7, ..SimConfig::default() });
    assert!(sim.run_until_cond(1_000, 300_000, |s| s.settled()), "network did not settle");
    for k in 0..5 {
        sim.publish(k * 7, 300);
        sim.run_for(200);
    }
    sim.run_for(10_000);
    let cores = sim.nodes.iter().filter(|n| n.overlay.role() == Role::Core).count() as u64;
    let records: usize =
        sim.nodes.iter().filter(|n| n.overlay.role() == Role::Core).map(|n| n.overlay.directory_len()).sum();
    assert!(records as u64 >= cores * 30, "broadcast directory: every core holds (nearly) every record");

    let before = live();
    let parts = sim.heap_parts(&live);
    let after = live();
    assert!(sim.nodes.is_empty(), "taken apart");
    assert_eq!(parts.nodes.values().sum::<u64>(), 40, "every live node measured");
    let sum: u64 = parts.bytes.values().sum();
    let shown = format!("{parts:?}");
    // The answer's own map was allocated meanwhile: what dropping it frees goes back in.
    let kept = (parts.bytes.clone(), parts.nodes.clone());
    let with_map = live();
    drop(parts);
    let own = with_map - live();
    let (bytes, nodes) = kept;
    let freed = (before - after + own) as u64;
    assert_eq!(sum, freed, "the parts add up to what the simulation held: {shown}");
    let parts = nostrp2p::overlay::sim::HeapParts { bytes, nodes };
    let dir_core = parts.bytes[&(Some(Role::Core), "directory (records)")];
    let dir_leaf = parts.bytes.get(&(Some(Role::Leaf), "directory (records)")).copied().unwrap_or(0);
    assert!(dir_core / cores > 40 * 100, "a core's directory holds ~40 records of >100 B: {dir_core}");
    assert!(dir_core / cores > 10 * (dir_leaf / parts.nodes[&Role::Leaf].max(1)), "leaves hold few records");
    assert!(parts.bytes[&(Some(Role::Core), "seen ids")] > 0, "posts were seen");
    let _ = DirectoryMode::Ring;
}
