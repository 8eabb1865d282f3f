//! Per-author trees running in simulated nodes (issue 10; docs/scaling.md "Per-author trees"):
//! cores in follow mode subscribe to their owners' and leaves' followees and posts travel over
//! the author's tree, not the core Plumtree. Small and fast; waits are conditions on
//! simulated time.

use std::collections::BTreeMap;

use nostrp2p::overlay::sim::{Sim, SimConfig};
use nostrp2p::overlay::Input;
use nostrp2p::wire::{DeliveryMode, Key32, NodeId, Role};

fn sim(cores: usize, leaves: usize) -> Sim {
    let mut sim = Sim::new(SimConfig {
        seed: 7,
        cores,
        leaves,
        join_window_ms: 10_000,
        check_every: 31,
        delivery: DeliveryMode::Follow,
        ..SimConfig::default()
    });
    assert!(sim.run_until_cond(1_000, 300_000, |s| s.settled()), "network did not settle");
    sim
}

fn leaves_of(sim: &Sim) -> Vec<usize> {
    sim.alive().into_iter().filter(|i| sim.nodes[*i].overlay.role() == Role::Leaf).collect()
}

#[test]
fn a_cores_post_reaches_its_followers_over_the_tree_and_no_stranger() {
    let mut sim = sim(20, 40);
    let leaves = leaves_of(&sim);
    let author = 3usize;
    let key: Key32 = sim.nodes[author].owner();
    let followers: Vec<usize> = leaves.iter().copied().step_by(3).collect();
    for &l in &followers {
        sim.input(l, Input::SetInterest(vec![key]));
    }
    let index: BTreeMap<NodeId, usize> = sim.nodes.iter().enumerate().map(|(i, n)| (n.overlay.node_id(), i)).collect();
    // Every follower's homes subscribed and attached.
    let ok = sim.run_until_cond(1_000, 120_000, |s| {
        followers.iter().all(|l| {
            s.nodes[*l].overlay.homes().iter().all(|h| {
                let o = &s.nodes[index[h]].overlay;
                o.tree_topics().is_some() && o.tree_parents() == o.tree_topics()
            })
        })
    });
    assert!(ok, "homes did not attach to the trees: {}", describe(&sim));
    let id = sim.publish(author, 300);
    let ok = sim.run_until_cond(500, 30_000, |s| followers.iter().all(|l| s.nodes[*l].delivered.contains_key(&id)));
    let missed: Vec<usize> = followers.iter().copied().filter(|l| !sim.nodes[*l].delivered.contains_key(&id)).collect();
    assert!(ok, "followers missed the post: {missed:?}; {}", describe(&sim));
    sim.run_for(5_000);
    let strangers: Vec<usize> = leaves
        .iter()
        .copied()
        .filter(|l| !followers.contains(l) && sim.nodes[*l].delivered.contains_key(&id))
        .collect();
    assert!(strangers.is_empty(), "leaves that follow nobody got it: {strangers:?}");
    // Cores with no follower among their leaves never stored it (broadcast would give it to
    // every core): relays on the tree pass it on without delivering it.
    let homes_of_followers: Vec<usize> =
        followers.iter().flat_map(|l| sim.nodes[*l].overlay.homes().iter().map(|h| index[h])).collect();
    let other_cores: Vec<usize> = sim
        .alive()
        .into_iter()
        .filter(|c| sim.nodes[*c].overlay.role() == Role::Core && *c != author && !homes_of_followers.contains(c))
        .collect();
    assert!(!other_cores.is_empty(), "the test needs cores no follower is attached to");
    let got: Vec<usize> = other_cores.iter().copied().filter(|c| sim.nodes[*c].delivered.contains_key(&id)).collect();
    assert!(got.is_empty(), "cores without followers stored it: {got:?} of {other_cores:?}");
}

fn describe(sim: &Sim) -> String {
    let mut s = String::new();
    for (i, n) in sim.nodes.iter().enumerate() {
        if let (Some(t), Some(st)) = (n.overlay.tree_topics(), n.overlay.tree_stats()) {
            s.push_str(&format!(
                "\n{i}: topics {t} attached {:?} {st:?} dropped {}",
                n.overlay.tree_parents(),
                n.overlay.stats().tree_dropped
            ));
        }
    }
    s
}
