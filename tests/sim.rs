//! Simulator scenarios (spec §2.13): delivery at 1,000 nodes with leaves, partitions and heal,
//! churn, a flooding peer, an invalid-signature peer, unicast through homes. Every wait is a
//! bounded condition on *simulated* time; nothing here measures wall-clock time.
//! Replay one seed with `SIM_SEED=n`; print nodes' inputs/outputs with `SIM_TRACE=i,j,..` (from `SIM_TRACE_FROM_MS`).

use nostrp2p::overlay::sim::{fake_event, Sim, SimConfig};
use nostrp2p::wire::Role;
use nostrp2p::wire::{Gossip, GossipKind, Msg};

fn seeds(default: &[u64]) -> Vec<u64> {
    match std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(s) => vec![s],
        None => default.to_vec(),
    }
}

fn settle(sim: &mut Sim) {
    if !sim.run_until_cond(1_000, 300_000, |s| s.settled()) {
        let d = sim.describe();
        let bad: Vec<&str> = d
            .lines()
            .filter(|l| {
                l.contains("alive=true")
                    && (l.contains("deciding=true")
                        || l.contains("active=[] ") && l.contains("Core")
                        || l.contains("homes=[] ") && l.contains("Leaf"))
            })
            .collect();
        panic!("network did not settle at t={}:\n{}", sim.now.0, bad.join("\n"));
    }
}

fn core_nodes(sim: &Sim) -> Vec<usize> {
    sim.alive().into_iter().filter(|i| sim.nodes[*i].overlay.role() == Role::Core).collect()
}

fn leaf_nodes(sim: &Sim) -> Vec<usize> {
    sim.alive().into_iter().filter(|i| sim.nodes[*i].overlay.role() == Role::Leaf).collect()
}

#[test]
fn small_networks_deliver_every_post() {
    for seed in seeds(&[1, 2, 3, 4, 5, 6, 7, 8]) {
        let mut sim = Sim::new(SimConfig { seed, cores: 20, leaves: 10, loss_permille: 0, ..SimConfig::default() });
        settle(&mut sim);
        for k in 0..5 {
            let from = (seed as usize * 7 + k * 5) % 30;
            let id = sim.publish(from, 300);
            let ok = sim.run_until_cond(500, 60_000, |s| s.missing(&id).is_empty());
            assert!(ok, "seed={seed} post {k} from #{from} missing at {:?}\n{}", sim.missing(&id), sim.describe());
        }
    }
}

#[test]
fn thousand_nodes_with_leaves_deliver_everything() {
    let mut sim = Sim::new(SimConfig {
        seed: 42,
        cores: 300,
        leaves: 700,
        join_window_ms: 60_000,
        check_every: 97,
        ..SimConfig::default()
    });
    settle(&mut sim);
    assert!(leaf_nodes(&sim).len() >= 690, "leaves: {}", leaf_nodes(&sim).len());
    let mut ids = Vec::new();
    for k in 0..10 {
        let from = (k * 97) % 1000;
        ids.push(sim.publish(from, 500));
        sim.run_for(200);
    }
    let ok = sim.run_until_cond(1_000, 60_000, |s| ids.iter().all(|id| s.missing(id).is_empty()));
    let missing: Vec<usize> = ids.iter().map(|id| sim.missing(id).len()).collect();
    if !ok {
        let d = sim.describe();
        for i in sim.missing(&ids[0]) {
            eprintln!("{}", d.lines().nth(i).unwrap_or(""));
        }
        for l in d.lines().filter(|l| l.contains("daa17301 alive")) {
            eprintln!("{l}");
        }
    }
    assert!(ok, "missing per post: {missing:?}");
    for n in &sim.nodes {
        assert_eq!(n.overlay.stats().invalid, 0);
    }
    eprintln!("steps={} now={} counts={:?}", sim.steps, sim.now.0, sim.msg_counts);
}

#[test]
fn partition_then_heal() {
    let mut sim = Sim::new(SimConfig { seed: 7, cores: 120, leaves: 80, check_every: 13, ..SimConfig::default() });
    settle(&mut sim);
    // Split cores (and their leaves, by index) into two halves; frames across vanish.
    sim.partition(|i| (i % 2) as u8);
    sim.run_for(300_000); // silent links die (DEAD_MS), views and homes repair inside each half
    let id0 = sim.publish(0, 300);
    let id1 = sim.publish(1, 300);
    sim.run_for(30_000);
    let half = |sim: &Sim, g: usize| -> Vec<usize> { sim.alive().into_iter().filter(|i| i % 2 == g).collect() };
    let reached0 = half(&sim, 0).iter().filter(|i| sim.nodes[**i].delivered.contains_key(&id0)).count();
    let reached1 = half(&sim, 1).iter().filter(|i| sim.nodes[**i].delivered.contains_key(&id1)).count();
    let crossed = half(&sim, 1).iter().filter(|i| sim.nodes[**i].delivered.contains_key(&id0)).count();
    assert_eq!(crossed, 0, "a post crossed the partition");
    assert!(reached0 >= 95 && reached1 >= 95, "inside halves: {reached0}/100 and {reached1}/100");
    sim.partition(|_| 0);
    // Healing needs active-view refreshes to pick nodes of the other half (minutes): probe with
    // a post every 2 simulated minutes until one reaches everybody.
    let mut healed = false;
    for k in 0..10 {
        sim.run_for(120_000);
        let id = sim.publish(2 + 2 * k, 300);
        if sim.run_until_cond(1_000, 30_000, |s| s.missing(&id).is_empty()) {
            healed = true;
            break;
        }
    }
    assert!(healed, "partition never healed");
}

#[test]
fn churn_keeps_delivering() {
    let mut sim = Sim::new(SimConfig { seed: 11, cores: 150, leaves: 250, check_every: 13, ..SimConfig::default() });
    settle(&mut sim);
    let n = sim.nodes.len();
    let mut disturbed = vec![0u64; n]; // last time each node was killed or restarted
    let mut killed: Vec<usize> = Vec::new();
    let mut during = Vec::new();
    for round in 0..6 {
        // Restart last round's victims, kill 5 % new ones (never node 0, the bootstrap of many).
        for i in killed.drain(..) {
            sim.restart(i);
            disturbed[i] = sim.now.0;
        }
        for _ in 0..20 {
            let v = 1 + sim.rng().below(n as u64 - 1) as usize;
            if sim.nodes[v].alive {
                sim.kill(v);
                disturbed[v] = sim.now.0;
                killed.push(v);
            }
        }
        let from = 1 + (round * 37) % (n - 1);
        if sim.nodes[from].alive {
            during.push((sim.publish(from, 300), sim.now.0, from));
        }
        sim.run_for(20_000);
    }
    sim.run_for(30_000);
    // Posts made during churn reach ≥ 99 % of the nodes that were up throughout (a node that
    // restarted misses them until the catch-up of the Sync issue; the target is ≥ 99.9 %).
    let (mut got_all, mut want_all) = (0, 0);
    for (id, at, from) in &during {
        let stayed: Vec<usize> =
            sim.alive().into_iter().filter(|i| disturbed[*i] + 1_000 < *at || *i == *from).collect();
        let got = stayed.iter().filter(|i| sim.nodes[**i].delivered.contains_key(id)).count();
        got_all += got;
        want_all += stayed.len();
        assert!(got * 100 >= stayed.len() * 98, "post from #{from}: {got}/{} during churn", stayed.len());
    }
    eprintln!("delivery during churn: {got_all}/{want_all}");
    for i in killed.drain(..) {
        sim.restart(i);
    }
    // After the churn stops and the overlay repairs, delivery is complete again.
    settle(&mut sim);
    let id = sim.publish(5, 300);
    let ok = sim.run_until_cond(1_000, 60_000, |s| s.missing(&id).is_empty());
    assert!(ok, "after churn, missing {:?}", sim.missing(&id));
}

#[test]
fn invalid_signature_gets_its_sender_banned_and_is_never_relayed() {
    let mut sim = Sim::new(SimConfig { seed: 3, cores: 30, leaves: 10, ..SimConfig::default() });
    settle(&mut sim);
    let bad = 4;
    let victim = sim.nodes[bad].overlay.connected_nodes()[0];
    let victim = (0..sim.nodes.len()).find(|i| sim.nodes[*i].overlay.node_id() == victim).expect("connected to a node");
    let author = [9u8; 32];
    let (id, body) = fake_event(author, 1, 300, false);
    assert!(sim.inject(bad, victim, Msg::Gossip(Gossip { id, round: 0, kind: GossipKind::Event, body })));
    sim.run_for(5_000);
    assert_eq!(sim.nodes[victim].overlay.stats().invalid, 1);
    assert!(
        !sim.nodes[victim].overlay.connected_nodes().contains(&sim.nodes[bad].overlay.node_id()),
        "not disconnected"
    );
    assert!(sim.alive().iter().all(|i| !sim.nodes[*i].delivered.contains_key(&id)), "invalid event delivered");
    // The banned node stays out of the victim's connections even as it keeps trying.
    sim.run_for(120_000);
    assert!(!sim.nodes[victim].overlay.connected_nodes().contains(&sim.nodes[bad].overlay.node_id()));
}

#[test]
fn flooding_peer_is_contained() {
    let mut sim = Sim::new(SimConfig { seed: 5, cores: 60, leaves: 40, check_every: 7, ..SimConfig::default() });
    settle(&mut sim);
    let flooder = 6;
    let neighbours: Vec<usize> = sim.nodes[flooder]
        .overlay
        .connected_nodes()
        .into_iter()
        .filter_map(|n| (0..sim.nodes.len()).find(|i| sim.nodes[*i].overlay.node_id() == n))
        .collect();
    let author = [7u8; 32];
    let mut flood_ids = Vec::new();
    // 1,000 valid events from one author within 10 s, sprayed at every neighbour.
    for k in 0..1_000u64 {
        let (id, body) = fake_event(author, k, 200, true);
        flood_ids.push(id);
        for &n in &neighbours {
            sim.inject(flooder, n, Msg::Gossip(Gossip { id, round: 0, kind: GossipKind::Event, body: body.clone() }));
        }
        if k % 100 == 0 {
            sim.run_for(1_000);
        }
    }
    let honest = sim.publish(20, 300);
    sim.run_for(60_000);
    let far: Vec<usize> = sim.alive().into_iter().filter(|i| *i != flooder && !neighbours.contains(i)).collect();
    let worst = far
        .iter()
        .map(|i| flood_ids.iter().filter(|id| sim.nodes[*i].delivered.contains_key(id)).count())
        .max()
        .unwrap_or(0);
    // Per-author limit: burst 60 + 30/min; every node enforces it, so nothing more propagates.
    assert!(worst <= 100, "a far node got {worst} flood events");
    assert!(sim.missing(&honest).is_empty(), "honest post lost during the flood: {:?}", sim.missing(&honest));
    let dropped: u64 = neighbours
        .iter()
        .map(|i| sim.nodes[*i].overlay.stats().rate_dropped + sim.nodes[*i].overlay.stats().author_dropped)
        .sum();
    assert!(dropped > 0, "limits never engaged");
}

#[test]
fn unicast_reaches_leaves_through_homes_and_is_acked() {
    let mut sim = Sim::new(SimConfig { seed: 9, cores: 40, leaves: 60, check_every: 7, ..SimConfig::default() });
    settle(&mut sim);
    sim.run_for(20_000); // records spread
    let cores = core_nodes(&sim);
    let leaves = leaf_nodes(&sim);
    let pairs = [
        (leaves[0], leaves[1]),
        (leaves[2], cores[3]),
        (cores[4], leaves[5]),
        (cores[6], cores[7]),
        (leaves[8], leaves[8 + 20]),
    ];
    for (k, (a, b)) in pairs.iter().enumerate() {
        sim.unicast(*a, *b, 100 + k as u64);
    }
    sim.run_for(30_000);
    for (k, (a, b)) in pairs.iter().enumerate() {
        let msg_id = 100 + k as u64;
        let result = sim.nodes[*a].unicast_done.get(&msg_id).copied();
        let hops = result.and_then(|r| r.ok());
        assert!(matches!(hops, Some(1..=3)), "unicast #{a}->#{b}: {result:?}");
        let src = sim.nodes[*a].overlay.node_id();
        assert!(sim.nodes[*b].unicasts_in.contains(&(src, msg_id)), "#{b} did not get it");
    }
    // A unicast to a node id nobody knows fails cleanly.
    sim.input(
        cores[0],
        nostrp2p::overlay::Input::Unicast {
            dst: nostrp2p::wire::NodeId(12345),
            msg_id: 1,
            payload: nostrp2p::wire::Body::from_slice(b"x"),
        },
    );
    sim.run_for(40_000);
    assert!(matches!(sim.nodes[cores[0]].unicast_done.get(&1), Some(Err(_))));
}

#[test]
fn impostor_cannot_take_over_a_node_id() {
    let mut sim = Sim::new(SimConfig { seed: 13, cores: 30, leaves: 10, ..SimConfig::default() });
    settle(&mut sim);
    sim.run_for(20_000); // records spread
    let victim = 12;
    let id = sim.nodes[victim].overlay.node_id();
    let bad = sim.add_impostor(victim);
    sim.run_for(60_000);
    let conflicts: u64 = sim.nodes.iter().map(|n| n.overlay.stats().id_conflicts).sum();
    assert!(conflicts > 0, "nobody noticed the second key for {id}");
    assert!(sim.nodes[bad].overlay.connected_nodes().is_empty(), "the impostor got connected");
    // Unicasts to the id still reach the real node.
    sim.unicast(3, victim, 77);
    sim.run_for(20_000);
    assert!(matches!(sim.nodes[3].unicast_done.get(&77), Some(Ok(_))));
    assert!(sim.nodes[victim].unicasts_in.iter().any(|(_, m)| *m == 77));
    assert!(sim.nodes[bad].unicasts_in.is_empty());
}

#[test]
fn leaf_replaces_a_lost_home_at_once() {
    let mut sim = Sim::new(SimConfig { seed: 17, cores: 20, leaves: 20, ..SimConfig::default() });
    settle(&mut sim);
    let leaf = leaf_nodes(&sim)[0];
    let homes = sim.nodes[leaf].overlay.homes().to_vec();
    assert_eq!(homes.len(), 2, "a leaf keeps two homes");
    let lost = (0..sim.nodes.len()).find(|i| sim.nodes[*i].overlay.node_id() == homes[0]).expect("home exists");
    sim.kill(lost);
    // The replacement is dialled as soon as the loss is seen (bounded simulated wait).
    let replaced = sim.run_until_cond(100, 20_000, |s| {
        let h = s.nodes[leaf].overlay.homes();
        h.len() == 2 && !h.contains(&homes[0])
    });
    assert!(replaced, "homes after the loss: {:?}", sim.nodes[leaf].overlay.homes());
    let id = sim.publish(if lost == 1 { 2 } else { 1 }, 300);
    assert!(sim.run_until_cond(500, 30_000, |s| s.nodes[leaf].delivered.contains_key(&id)));
}
