//! Follower multicast in the simulator (issue 10, docs/scaling.md "Delivery"): 1,000 nodes
//! (300 core, 700 leaves) with a realistic follow graph — a few popular authors followed by
//! many, many quiet ones followed by a few. In follow mode every leaf receives each followee's
//! post and no leaf receives a stranger's; the bytes a leaf receives are measured per post
//! and extrapolated to a day at 100k nodes (200 followees × 10 posts/day), side by side with
//! broadcast in the same run. Waits are conditions on simulated time; nothing is timed.

use std::collections::{BTreeMap, BTreeSet};

use nostrp2p::overlay::sim::{Sim, SimConfig};
use nostrp2p::overlay::Input;
use nostrp2p::wire::{DeliveryMode, Key32, MsgId, NodeId, Role};

const CORES: usize = 300;
const LEAVES: usize = 700;
const POPULAR: usize = 5;
const QUIET_AUTHORS: usize = 40;
const POST_BYTES: usize = 400;

struct Run {
    /// Leaves that got each post (author index, post id).
    posts: Vec<(usize, MsgId)>,
    follows: BTreeMap<usize, BTreeSet<usize>>,
    /// Bytes received per leaf per post published, and per leaf per idle minute.
    leaf_bytes_per_post: f64,
    leaf_idle_bytes_per_min: f64,
    /// Posts a leaf received on average.
    leaf_posts_in: f64,
    strangers: usize,
    missed: Vec<(usize, usize)>,
}

fn settle(sim: &mut Sim) {
    assert!(sim.run_until_cond(1_000, 300_000, |s| s.settled()), "network did not settle");
}

fn leaves(sim: &Sim) -> Vec<usize> {
    sim.alive().into_iter().filter(|i| sim.nodes[*i].overlay.role() == Role::Leaf).collect()
}

/// Popular authors (first cores and leaves) followed by ~30 % of leaves each; every leaf also
/// follows 3 quiet authors at random.
fn follow_graph(sim: &mut Sim, leaves: &[usize]) -> (Vec<usize>, BTreeMap<usize, BTreeSet<usize>>) {
    let mut authors: Vec<usize> = (0..POPULAR).map(|k| if k % 2 == 0 { k * 7 } else { CORES + k * 11 }).collect();
    for k in 0..QUIET_AUTHORS {
        authors.push(if k % 3 == 0 { 50 + k * 5 } else { CORES + 100 + k * 13 });
    }
    let mut follows: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for &l in leaves {
        let set = follows.entry(l).or_default();
        for &a in &authors[..POPULAR] {
            if sim.rng().below(10) < 3 && a != l {
                set.insert(a);
            }
        }
        for _ in 0..3 {
            let a = authors[POPULAR + sim.rng().below(QUIET_AUTHORS as u64) as usize];
            if a != l {
                set.insert(a);
            }
        }
    }
    (authors, follows)
}

fn run(delivery: DeliveryMode) -> Run {
    let mut sim = Sim::new(SimConfig {
        seed: 42,
        cores: CORES,
        leaves: LEAVES,
        join_window_ms: 60_000,
        check_every: 97,
        delivery,
        ..SimConfig::default()
    });
    settle(&mut sim);
    let leaves = leaves(&sim);
    let (authors, follows) = follow_graph(&mut sim, &leaves);
    for (&l, set) in &follows {
        let keys: Vec<Key32> = set.iter().map(|a| sim.nodes[*a].owner()).collect();
        sim.input(l, Input::SetInterest(keys));
    }
    // Every home holds its leaves' sets (follow mode) before anything is posted.
    let index: BTreeMap<NodeId, usize> = sim.nodes.iter().enumerate().map(|(i, n)| (n.overlay.node_id(), i)).collect();
    if delivery == DeliveryMode::Follow {
        let ok = sim.run_until_cond(1_000, 60_000, |s| {
            leaves.iter().all(|l| {
                let me = s.nodes[*l].overlay.node_id();
                s.nodes[*l].overlay.homes().iter().all(|h| s.nodes[index[h]].overlay.leaf_interest(me).is_some())
            })
        });
        assert!(ok, "homes did not learn their leaves' interest sets");
    }
    // Idle traffic first (pings), then the posts.
    sim.run_for(10_000);
    sim.set_meter(true);
    let idle_ms = 120_000;
    sim.run_for(idle_ms);
    let idle: u64 = leaves.iter().map(|l| sim.nodes[*l].traffic.bytes_in).sum();
    let before: BTreeMap<usize, u64> = leaves.iter().map(|l| (*l, sim.nodes[*l].traffic.bytes_in)).collect();
    let mut posts = Vec::new();
    let t0 = sim.now;
    for (k, &a) in authors.iter().enumerate() {
        posts.push((a, sim.publish(a, POST_BYTES)));
        if k % 5 == 4 {
            sim.run_for(200);
        }
    }
    let want = |l: usize, a: usize| delivery == DeliveryMode::Broadcast || follows[&l].contains(&a);
    sim.run_until_cond(1_000, 60_000, |s| {
        posts
            .iter()
            .all(|(a, id)| leaves.iter().all(|l| *l == *a || !want(*l, *a) || s.nodes[*l].delivered.contains_key(id)))
    });
    // Let IHAVEs and late copies land, so that the bytes are all counted.
    sim.run_for(5_000);
    let window_ms = sim.now.0 - t0.0;
    let mut missed = Vec::new();
    let mut strangers = 0;
    let mut got = 0usize;
    for (a, id) in &posts {
        for &l in &leaves {
            let has = sim.nodes[l].delivered.contains_key(id);
            got += usize::from(has && l != *a);
            if l != *a && want(l, *a) && !has {
                missed.push((l, *a));
                let homes: Vec<String> = sim.nodes[l]
                    .overlay
                    .homes()
                    .iter()
                    .map(|h| {
                        let i = index[h];
                        let n = &sim.nodes[i];
                        format!(
                            "{i}: has {} topics {:?}/{:?}",
                            n.delivered.contains_key(id),
                            n.overlay.tree_parents(),
                            n.overlay.tree_topics()
                        )
                    })
                    .collect();
                let topic = nostrp2p::overlay::topic::topic_of(&sim.nodes[*a].owner());
                for start in [sim.nodes[l].overlay.homes()[0], sim.nodes[*a].overlay.node_id()] {
                    let mut chain = vec![];
                    let mut cur = Some(start);
                    while let Some(c) = cur {
                        let t = sim.nodes[index[&c]].overlay.tree_table().unwrap();
                        chain.push(format!("{}(d{:?},kids{})", index[&c], t.depth(topic), t.children(topic).len()));
                        cur = t.parent(topic);
                        if chain.len() > 20 {
                            break;
                        }
                    }
                    eprintln!("chain {chain:?}");
                }
                let sum = |f: &dyn Fn(&nostrp2p::overlay::Stats) -> u64| {
                    sim.nodes.iter().map(|n| f(n.overlay.stats())).sum::<u64>()
                };
                let strays: u64 = sim.nodes.iter().filter_map(|n| n.overlay.tree_stats()).map(|s| s.stray_posts).sum();
                eprintln!(
                    "drops rate {} inject {} tree {} author {} outbox {} queue {} strays {strays}",
                    sum(&|s| s.rate_dropped),
                    sum(&|s| s.inject_dropped),
                    sum(&|s| s.tree_dropped),
                    sum(&|s| s.author_dropped),
                    sum(&|s| s.outbox_dropped),
                    sum(&|s| s.queue_dropped)
                );
                eprintln!("miss {l} of {a}: homes {homes:?}, author home/role {:?}", sim.nodes[*a].overlay.role());
            }
            if l != *a && !want(l, *a) && has {
                strangers += 1;
            }
        }
    }
    let bytes: u64 = leaves.iter().map(|l| sim.nodes[*l].traffic.bytes_in - before[l]).sum();
    let idle_per_ms = idle as f64 / leaves.len() as f64 / idle_ms as f64;
    let post_bytes = bytes as f64 / leaves.len() as f64 - idle_per_ms * window_ms as f64;
    Run {
        leaf_bytes_per_post: post_bytes / posts.len() as f64,
        leaf_idle_bytes_per_min: idle_per_ms * 60_000.0,
        leaf_posts_in: got as f64 / leaves.len() as f64,
        posts,
        follows,
        strangers,
        missed,
    }
}

#[test]
fn follow_mode_delivers_to_followers_only_and_fits_a_phones_budget() {
    let follow = run(DeliveryMode::Follow);
    assert!(follow.missed.is_empty(), "followers missed posts (leaf, author): {:?}", follow.missed);
    assert_eq!(follow.strangers, 0, "leaves received posts of authors they do not follow");
    let broadcast = run(DeliveryMode::Broadcast);
    assert!(broadcast.missed.is_empty(), "broadcast missed: {:?}", &broadcast.missed[..broadcast.missed.len().min(10)]);

    // Per post a leaf *receives* (payload + its IHAVE share), from each run.
    let per_in_follow = follow.leaf_bytes_per_post * follow.posts.len() as f64 / follow.leaf_posts_in.max(1.0);
    let per_in_broadcast = broadcast.leaf_bytes_per_post * broadcast.posts.len() as f64 / broadcast.leaf_posts_in;
    // A day at 100k nodes, each posting 10/day; the leaf follows 200 of them.
    let idle_day_f = follow.leaf_idle_bytes_per_min * 1_440.0;
    let idle_day_b = broadcast.leaf_idle_bytes_per_min * 1_440.0;
    let day_follow = 200.0 * 10.0 * per_in_follow + idle_day_f;
    let day_broadcast = 100_000.0 * 10.0 * per_in_broadcast + idle_day_b;
    let followees: f64 = follow.follows.values().map(|s| s.len() as f64).sum::<f64>() / follow.follows.len() as f64;
    eprintln!(
        "sim_follow: 1,000 nodes ({CORES} core, {LEAVES} leaves), {} posts of {POST_BYTES} B, {followees:.1} followees/leaf\n\
         | delivery | posts a leaf received | bytes in per received post | idle B/min | leaf MB/day at 100k nodes, 200 followees × 10 posts/day |\n\
         | broadcast | {:.1} | {:.0} | {:.0} | {:.0} |\n\
         | follow | {:.1} | {:.0} | {:.0} | {:.2} |",
        follow.posts.len(),
        broadcast.leaf_posts_in,
        per_in_broadcast,
        broadcast.leaf_idle_bytes_per_min,
        day_broadcast / 1e6,
        follow.leaf_posts_in,
        per_in_follow,
        follow.leaf_idle_bytes_per_min,
        day_follow / 1e6,
    );
    assert!(day_follow <= 5e6, "follow mode: {:.2} MB/day at a leaf", day_follow / 1e6);
    assert!(follow.leaf_posts_in < broadcast.leaf_posts_in / 3.0);
}
