//! Per-author trees running in simulated nodes (issue 10; docs/scaling.md "Per-author trees"):
//! cores in follow mode subscribe to their owners' and leaves' followees and posts travel over
//! the author's tree, not the core Plumtree. Small and fast; waits are conditions on
//! simulated time.

use std::collections::BTreeMap;

use nostrp2p::overlay::sim::{Sim, SimConfig};
use nostrp2p::overlay::topic::topic_of;
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

/// follow_big's shape in the simulator: a few popular authors and quiet ones, cores and
/// leaves both posting, every author posting once right after the homes attached.
#[test]
fn every_authors_post_reaches_every_follower_cores_and_leaves_alike() {
    let mut sim = sim(8, 24);
    let leaves = leaves_of(&sim);
    let alive = sim.alive();
    let owners: Vec<Key32> = sim.nodes.iter().map(|n| n.owner()).collect();
    let mut seed = 42u64;
    let mut below = |n: usize| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 33) % n as u64) as usize
    };
    let popular = [alive[1], alive[2], leaves[1]];
    let mut follows: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &l in &leaves {
        let mut set: Vec<usize> = popular.iter().copied().filter(|p| *p != l).collect();
        for _ in 0..2 {
            let a = alive[below(alive.len())];
            if a != l && !set.contains(&a) {
                set.push(a);
            }
        }
        sim.input(l, Input::SetInterest(set.iter().map(|a| owners[*a]).collect()));
        follows.insert(l, set);
    }
    let index: BTreeMap<NodeId, usize> = sim.nodes.iter().enumerate().map(|(i, n)| (n.overlay.node_id(), i)).collect();
    // Every home wants each of its leaves' followees and is attached to that tree.
    let ok = sim.run_until_cond(1_000, 120_000, |s| {
        follows.iter().all(|(l, set)| {
            s.nodes[*l].overlay.homes().iter().all(|h| {
                let t = s.nodes[index[h]].overlay.tree_table();
                set.iter().all(|a| {
                    let topic = topic_of(&owners[*a]);
                    t.is_some_and(|t| t.wants(topic) && t.depth(topic).is_some())
                })
            })
        })
    });
    assert!(ok, "homes did not attach to the trees: {}", describe(&sim));
    let mut authors: Vec<usize> = follows.values().flatten().copied().collect();
    authors.sort_unstable();
    authors.dedup();
    let posts: Vec<(usize, nostrp2p::wire::MsgId)> = authors.iter().map(|&a| (a, sim.publish(a, 300))).collect();
    let missing = |s: &Sim| -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (l, set) in &follows {
            for (a, id) in posts.iter().filter(|(a, _)| set.contains(a)) {
                if !s.nodes[*l].delivered.contains_key(id) {
                    out.push((*l, *a));
                }
            }
        }
        out
    };
    let ok = sim.run_until_cond(500, 60_000, |s| missing(s).is_empty());
    assert!(ok, "followers missed posts (follower, author): {:?}; {}", missing(&sim), describe(&sim));
}

/// A home that subscribes after its author posted gets the post from the tree's recent ids
/// (the parent's `Ack` announces them, the new member fetches what it lacks): a follow made
/// just after a post does not miss it.
#[test]
fn a_home_that_subscribes_after_a_post_fetches_it_from_the_tree() {
    let mut sim = sim(8, 16);
    let leaves = leaves_of(&sim);
    let author = sim.alive()[1];
    let key: Key32 = sim.nodes[author].owner();
    let topic = topic_of(&key);
    let index: BTreeMap<NodeId, usize> = sim.nodes.iter().enumerate().map(|(i, n)| (n.overlay.node_id(), i)).collect();
    let (first, late): (Vec<usize>, Vec<usize>) = leaves.iter().partition(|l| *l % 2 == 0);
    for &l in &first {
        sim.input(l, Input::SetInterest(vec![key]));
    }
    let attached = |s: &Sim, ls: &[usize]| {
        ls.iter().all(|l| {
            s.nodes[*l].overlay.homes().iter().all(|h| {
                s.nodes[index[h]].overlay.tree_table().is_some_and(|t| t.wants(topic) && t.depth(topic).is_some())
            })
        })
    };
    assert!(sim.run_until_cond(1_000, 120_000, |s| attached(s, &first)), "{}", describe(&sim));
    let id = sim.publish(author, 300);
    assert!(sim.run_until_cond(500, 30_000, |s| first.iter().all(|l| s.nodes[*l].delivered.contains_key(&id))));
    for &l in &late {
        sim.input(l, Input::SetInterest(vec![key]));
    }
    assert!(sim.run_until_cond(1_000, 120_000, |s| attached(s, &late)), "{}", describe(&sim));
    let late_homes: Vec<usize> =
        late.iter().flat_map(|l| sim.nodes[*l].overlay.homes().iter().map(|h| index[h]).collect::<Vec<_>>()).collect();
    let ok = sim.run_until_cond(500, 30_000, |s| late_homes.iter().all(|h| s.nodes[*h].delivered.contains_key(&id)));
    let missed: Vec<usize> =
        late_homes.iter().copied().filter(|h| !sim.nodes[*h].delivered.contains_key(&id)).collect();
    assert!(ok, "homes that subscribed after the post never got it: {missed:?}; {}", describe(&sim));
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

/// The refresh by digest between nodes (`FEATURE_DIGESTS`, real frames through the codec):
/// past several child TTLs with nothing happening, every home stays attached on digests
/// alone (no list, no resync after the first periods), and a post then still reaches every
/// follower.
#[test]
fn trees_stay_up_on_refresh_digests_alone_and_still_deliver() {
    use nostrp2p::overlay::params::{TOPIC_CHILD_TTL_MS, TOPIC_REFRESH_MS};
    let mut sim = sim(20, 40);
    let leaves = leaves_of(&sim);
    let author = 5usize;
    let key: Key32 = sim.nodes[author].owner();
    let followers: Vec<usize> = leaves.iter().copied().step_by(2).collect();
    for &l in &followers {
        sim.input(l, Input::SetInterest(vec![key]));
    }
    let index: BTreeMap<NodeId, usize> = sim.nodes.iter().enumerate().map(|(i, n)| (n.overlay.node_id(), i)).collect();
    let attached = |s: &Sim| {
        followers.iter().all(|l| {
            s.nodes[*l].overlay.homes().iter().all(|h| {
                let o = &s.nodes[index[h]].overlay;
                o.tree_topics().is_some() && o.tree_parents() == o.tree_topics()
            })
        })
    };
    assert!(sim.run_until_cond(1_000, 120_000, attached), "homes did not attach: {}", describe(&sim));
    let digests = |s: &Sim| -> (u64, u64) {
        s.nodes
            .iter()
            .filter_map(|n| n.overlay.tree_stats())
            .fold((0, 0), |(m, r), st| (m + st.digests_matched, r + st.resyncs_asked))
    };
    sim.run_for(2 * TOPIC_REFRESH_MS);
    let (matched0, resyncs0) = digests(&sim);
    assert!(matched0 > 0, "no digest matched: {}", describe(&sim));
    sim.run_for(2 * TOPIC_CHILD_TTL_MS);
    let (matched, resyncs) = digests(&sim);
    assert!(matched > matched0, "digests stopped");
    assert_eq!(resyncs, resyncs0, "a resync with nothing changing");
    assert!(attached(&sim), "a home fell off its tree on digests: {}", describe(&sim));
    let id = sim.publish(author, 300);
    let ok = sim.run_until_cond(500, 30_000, |s| followers.iter().all(|l| s.nodes[*l].delivered.contains_key(&id)));
    assert!(ok, "a follower missed the post after the quiet hour: {}", describe(&sim));
}
