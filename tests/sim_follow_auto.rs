//! `--delivery auto` part-way through its switch (issue 10; docs/scaling.md "Delivery",
//! `src/overlay/sample.rs`): simulated cores at three different levels at once — `Preparing`
//! (trees on, still publishing on the core Plumtree), `Both` (leaves filtered too) and `Trees`
//! (publishing on the trees only) — by thresholds lowered per node, as estimates that differ
//! up to 4× would place them. No follower may miss a followed post in that window, and a
//! newcomer who follows nobody still gets the public sample. Waits are conditions on simulated
//! time.

use std::collections::BTreeMap;

use nostrp2p::overlay::sample::{in_sample, sample_bits, AutoLevel};
use nostrp2p::overlay::sim::{Sim, SimConfig};
use nostrp2p::overlay::topic::topic_of;
use nostrp2p::overlay::Input;
use nostrp2p::wire::{DeliveryMode, Key32, MsgId, NodeId, Role};

/// (node, author) of a post the node should have and has not.
type Pair = (usize, usize);

const CORES: usize = 60;
const LEAVES: usize = 140;
const NODES: u64 = (CORES + LEAVES) as u64;

/// The level core `i` is placed at, and the threshold that places it there at `NODES`.
fn level_of(i: usize) -> (AutoLevel, u64) {
    match i % 3 {
        0 => (AutoLevel::Preparing, NODES * 3 / 2), // N = 0.67 T
        1 => (AutoLevel::Both, NODES * 3 / 4),      // N = 1.33 T
        _ => (AutoLevel::Trees, NODES * 2 / 5),     // N = 2.5 T
    }
}

#[test]
fn no_follower_misses_a_post_while_cores_switch_and_newcomers_get_the_sample() {
    let mut sim = Sim::new(SimConfig {
        seed: 11,
        cores: CORES,
        leaves: LEAVES,
        join_window_ms: 10_000,
        check_every: 31,
        delivery: DeliveryMode::Auto,
        ..SimConfig::default()
    });
    for i in 0..CORES {
        sim.nodes[i].overlay.lower_auto_threshold(level_of(i).1);
    }
    assert!(sim.run_until_cond(1_000, 300_000, |s| s.settled()), "network did not settle");
    let cores: Vec<usize> = sim.alive().into_iter().filter(|i| sim.nodes[*i].overlay.role() == Role::Core).collect();
    let leaves: Vec<usize> = sim.alive().into_iter().filter(|i| sim.nodes[*i].overlay.role() == Role::Leaf).collect();
    assert!(cores.iter().all(|c| *c < CORES), "a reachable node became a leaf");
    let at_level = |s: &Sim| cores.iter().all(|c| s.nodes[*c].overlay.auto_level().0 == level_of(*c).0);
    assert!(sim.run_until_cond(1_000, 120_000, at_level), "levels: {}", levels(&sim, &cores));

    // Follow graph: two popular authors (a `Trees` core and a leaf), two random others each;
    // the owners of `Both` and `Trees` cores follow too. Newcomers follow nobody: every fifth leaf and
    // every fourth core.
    let owners: Vec<Key32> = sim.nodes.iter().map(|n| n.owner()).collect();
    let mut seed = 5u64;
    let mut below = |n: usize| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 33) % n as u64) as usize
    };
    let everyone: Vec<usize> = sim.alive();
    let popular = [cores[2], leaves[0]];
    let newcomer = |i: usize| if i < CORES { i % 4 == 3 } else { i % 5 == 0 };
    let mut follows: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &n in leaves.iter().chain(cores.iter().filter(|c| *c % 3 != 0)) {
        if newcomer(n) {
            continue;
        }
        let mut set: Vec<usize> = popular.iter().copied().filter(|p| *p != n).collect();
        for _ in 0..2 {
            let a = everyone[below(everyone.len())];
            if a != n && !set.contains(&a) {
                set.push(a);
            }
        }
        sim.input(n, Input::SetInterest(set.iter().map(|a| owners[*a]).collect()));
        follows.insert(n, set);
    }
    let newcomers: Vec<usize> = everyone.iter().copied().filter(|i| newcomer(*i)).collect();
    let index: BTreeMap<NodeId, usize> = sim.nodes.iter().enumerate().map(|(i, n)| (n.overlay.node_id(), i)).collect();
    // Every home runs the trees, holds its leaves' sets, and is attached to each followee's
    // tree; every newcomer's home (and newcomer core) to the sample's.
    let homes_of = |s: &Sim, n: usize| -> Vec<usize> {
        if n < CORES {
            vec![n]
        } else {
            s.nodes[n].overlay.homes().iter().map(|h| index[h]).collect()
        }
    };
    let attached = |s: &Sim| {
        let followed = follows.iter().all(|(n, set)| {
            homes_of(s, *n).iter().all(|h| {
                let t = s.nodes[*h].overlay.tree_table();
                set.iter().all(|a| {
                    let topic = topic_of(&owners[*a]);
                    t.is_some_and(|t| t.wants(topic) && t.depth(topic).is_some())
                })
            })
        });
        let sampled = newcomers.iter().all(|n| {
            homes_of(s, *n)
                .iter()
                .all(|h| s.nodes[*h].overlay.sample_state().is_some_and(|(want, att, ..)| want && att))
        });
        followed && sampled
    };
    assert!(sim.run_until_cond(1_000, 180_000, attached), "trees did not attach; levels: {}", levels(&sim, &cores));

    // Authors: every followed one, and a few more cores of each level; one post every 20 s
    // (the sample's rate budget is 4 a minute at each node: a burst of sample posts would be
    // cut, as it should).
    let mut authors: Vec<usize> = follows.values().flatten().copied().collect();
    authors.extend(cores.iter().copied().step_by(7));
    authors.sort_unstable();
    authors.dedup();
    let mut posts: Vec<(usize, MsgId)> = Vec::new();
    for &a in &authors {
        posts.push((a, sim.publish(a, 300)));
        sim.run_for(20_000);
    }
    let bits = sample_bits(NODES);
    let sampled: Vec<(usize, MsgId)> = posts.iter().copied().filter(|(_, id)| in_sample(id, bits)).collect();
    assert!(sampled.len() >= 4, "the test needs sample posts: {} of {}", sampled.len(), posts.len());
    let missing = |s: &Sim| -> (Vec<Pair>, Vec<Pair>) {
        let mut followers = Vec::new();
        for (n, set) in &follows {
            for (a, id) in posts.iter().filter(|(a, _)| set.contains(a)) {
                if !s.nodes[*n].delivered.contains_key(id) {
                    followers.push((*n, *a));
                }
            }
        }
        let mut fresh = Vec::new();
        for n in &newcomers {
            for (a, id) in &sampled {
                if !s.nodes[*n].delivered.contains_key(id) {
                    fresh.push((*n, *a));
                }
            }
        }
        (followers, fresh)
    };
    let ok = sim.run_until_cond(1_000, 60_000, |s| {
        let (f, n) = missing(s);
        f.is_empty() && n.is_empty()
    });
    let (f, n) = missing(&sim);
    let pairs: usize = follows.values().map(|set| posts.iter().filter(|(a, _)| set.contains(a)).count()).sum();
    eprintln!(
        "auto window: {} posts ({} in the sample), {pairs} follower×post pairs, {} missed; {} newcomers × {} sample posts, {} missed",
        posts.len(),
        sampled.len(),
        f.len(),
        newcomers.len(),
        sampled.len(),
        n.len()
    );
    if !ok {
        for (node, a) in n.iter().take(6) {
            let id = posts.iter().find(|(x, _)| x == a).map(|p| p.1).expect("posted");
            let homes = homes_of(&sim, *node);
            for h in homes {
                let o = &sim.nodes[h].overlay;
                eprintln!(
                    "newcomer {node} home {h} level {:?} sample {:?} has {}; author {a} level {:?}, stats {:?}",
                    o.auto_level(),
                    o.sample_state(),
                    sim.nodes[h].delivered.contains_key(&id),
                    sim.nodes[*a].overlay.auto_level(),
                    o.stats(),
                );
            }
        }
    }
    assert!(ok, "missed (node, author): followers {f:?}, newcomers {n:?}; levels: {}", levels(&sim, &cores));

    // The trees do their job: a `Trees`-level core's post outside the sample is not stored by
    // a `Trees`-level core that neither follows it nor has a leaf who does.
    let trees_level = |c: usize| level_of(c).0 == AutoLevel::Trees;
    let wanted_at =
        |s: &Sim, c: usize, a: usize| s.nodes[c].overlay.tree_table().is_some_and(|t| t.wants(topic_of(&owners[a])));
    let mut checked = 0;
    for (a, id) in posts.iter().filter(|(a, id)| trees_level(*a) && *a < CORES && !in_sample(id, bits)) {
        for &c in cores.iter().filter(|c| trees_level(**c) && **c != *a) {
            if !wanted_at(&sim, c, *a) {
                checked += 1;
                assert!(!sim.nodes[c].delivered.contains_key(id), "core {c} stored {a}'s post without wanting it");
            }
        }
    }
    eprintln!("{checked} Trees-level core × unwanted post pairs, none stored");
    assert!(checked > 0, "the test needs core×post pairs nobody wants");
}

fn levels(sim: &Sim, cores: &[usize]) -> String {
    cores
        .iter()
        .map(|c| {
            let (l, est) = sim.nodes[*c].overlay.auto_level();
            format!("{c}:{}({est})", l.as_str())
        })
        .collect::<Vec<_>>()
        .join(" ")
}
