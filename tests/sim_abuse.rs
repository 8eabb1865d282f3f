//! Simulator scenarios for issue 8 items 3 and 5: clocks that disagree (skew, a step after
//! start, events dated just inside the window) never make an honest node ban another, and
//! spam from fresh keys is contained where it enters while honest traffic of 200 posts/s at
//! 1,000 nodes is delivered in full. Every wait is a bounded condition on simulated time.
//! Replay one seed with `SIM_SEED=n`.

use nostrp2p::overlay::params::{INJECT_BURST, INJECT_PER_S, MSG_CACHE_CAP};
use nostrp2p::overlay::sim::{fake_event_at, Sim, SimConfig, SIM_UNIX_ORIGIN};
use nostrp2p::wire::{Gossip, GossipKind, Msg, MsgId, Role};

fn seeds(default: &[u64]) -> Vec<u64> {
    match std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(s) => vec![s],
        None => default.to_vec(),
    }
}

fn settle(sim: &mut Sim) {
    assert!(sim.run_until_cond(1_000, 300_000, |s| s.settled()), "network did not settle at t={}", sim.now.0);
}

/// Bans and refusals of any kind, summed over the given nodes.
fn bans(sim: &Sim, nodes: &[usize]) -> (u64, u64) {
    let invalid = nodes.iter().map(|i| sim.nodes[*i].overlay.stats().invalid).sum();
    let refused = nodes.iter().map(|i| sim.nodes[*i].overlay.stats().banned_rejects).sum();
    (invalid, refused)
}

fn index_of(sim: &Sim, node: nostrp2p::wire::NodeId) -> Option<usize> {
    (0..sim.nodes.len()).find(|i| sim.nodes[*i].overlay.node_id() == node)
}

/// The true simulated Unix time now.
fn true_unix(sim: &Sim) -> u64 {
    SIM_UNIX_ORIGIN + sim.now.0 / 1000
}

#[test]
fn skewed_clocks_and_a_clock_step_ban_nobody_and_deliver_everything() {
    for seed in seeds(&[21, 22]) {
        let mut sim = Sim::new(SimConfig { seed, cores: 40, leaves: 20, check_every: 7, ..SimConfig::default() });
        // Every clock is off by up to ±10 min; node 3 (a core) boots 3 h behind, like a Pi
        // without a real-time clock before NTP answers.
        for i in 0..sim.nodes.len() {
            sim.nodes[i].clock_offset_s = sim.rng().range(0, 1_200) as i64 - 600;
        }
        let stepped = 3;
        sim.nodes[stepped].clock_offset_s = -3 * 3_600;
        settle(&mut sim);
        sim.run_for(20_000);
        // NTP answers: node 3's clock steps to within the skew of the others.
        sim.nodes[stepped].clock_offset_s = 420;
        sim.run_for(5_000);
        let n = sim.nodes.len();
        let mut ids: Vec<MsgId> = Vec::new();
        for k in 0..20 {
            let from = if k == 0 { stepped } else { sim.rng().below(n as u64) as usize };
            ids.push(sim.publish(from, 300));
            sim.run_for(500);
        }
        // Posts dated by a clock 10 min ahead reach nodes 10 min behind once they are within
        // the receivers' window: up to 5 simulated minutes later.
        let ok = sim.run_until_cond(1_000, 600_000, |s| ids.iter().all(|id| s.missing(id).is_empty()));
        let missing: Vec<usize> = ids.iter().map(|id| sim.missing(id).len()).collect();
        assert!(ok, "seed={seed}: missing per post {missing:?}");
        let all: Vec<usize> = (0..n).collect();
        assert_eq!(bans(&sim, &all), (0, 0), "seed={seed}: an honest node was banned");
        let held: u64 = sim.nodes.iter().map(|x| x.overlay.stats().time_held).sum();
        assert!(held > 0, "seed={seed}: no event was ever outside a window: the skew was not exercised");
        eprintln!("seed={seed}: {} posts delivered to all {n} nodes, {held} held for a while, 0 bans", ids.len());
    }
}

#[test]
fn events_dated_at_the_edge_of_the_window_partition_nobody() {
    let mut sim = Sim::new(SimConfig { seed: 31, cores: 30, leaves: 10, check_every: 7, ..SimConfig::default() });
    // Half the nodes run 5 min behind: an event dated "now + 14:59" by a correct clock is
    // 20 minutes ahead for them.
    for i in 0..sim.nodes.len() {
        sim.nodes[i].clock_offset_s = if i % 2 == 0 { -300 } else { 0 };
    }
    settle(&mut sim);
    sim.run_for(20_000);
    let attacker = 5;
    let targets: Vec<usize> =
        sim.nodes[attacker].overlay.connected_nodes().into_iter().filter_map(|n| index_of(&sim, n)).collect();
    assert!(!targets.is_empty());
    for k in 0..40u64 {
        // Fresh authors, dated at the very edge of a correct clock's window; a few far out.
        let ahead = if k % 10 == 9 { 3 * 3_600 } else { 15 * 60 - 1 };
        let mut author = [0xA0; 32];
        author[..8].copy_from_slice(&k.to_be_bytes());
        let (id, body) = fake_event_at(author, k, 200, true, true_unix(&sim) + ahead);
        for &t in &targets {
            sim.inject(attacker, t, Msg::Gossip(Gossip { id, round: 0, kind: GossipKind::Event, body: body.clone() }));
        }
        sim.run_for(100);
    }
    let honest = sim.publish(8, 300);
    sim.run_for(60_000);
    let all: Vec<usize> = (0..sim.nodes.len()).collect();
    assert_eq!(bans(&sim, &all), (0, 0), "a node was banned over the clocks");
    assert!(sim.missing(&honest).is_empty(), "honest post missing at {:?}", sim.missing(&honest));
    for &t in &targets {
        assert!(
            sim.nodes[t].overlay.connected_nodes().contains(&sim.nodes[attacker].overlay.node_id()),
            "#{t} disconnected the sender of merely future-dated events"
        );
    }
    let dropped: u64 = targets.iter().map(|t| sim.nodes[*t].overlay.stats().time_dropped).sum();
    assert!(dropped > 0, "events 3 h ahead were not dropped");
}

#[test]
fn fresh_key_spam_is_contained_where_it_enters() {
    let mut sim = Sim::new(SimConfig { seed: 41, cores: 40, leaves: 20, check_every: 7, ..SimConfig::default() });
    settle(&mut sim);
    sim.run_for(70_000); // links older than RELAY_TRUST_MS
    let spammer = sim.alive().into_iter().find(|i| sim.nodes[*i].overlay.role() == Role::Leaf).expect("a leaf");
    let homes: Vec<usize> =
        sim.nodes[spammer].overlay.homes().to_vec().into_iter().filter_map(|n| index_of(&sim, n)).collect();
    assert_eq!(homes.len(), 2);
    // 1,000 valid events from 1,000 fresh keys over 10 s, each sprayed at both homes.
    let t0 = sim.now;
    let mut spam = Vec::new();
    for k in 0..1_000u64 {
        let mut author = [0x5B; 32];
        author[..8].copy_from_slice(&k.to_be_bytes());
        let (id, body) = fake_event_at(author, k, 200, true, true_unix(&sim));
        spam.push(id);
        for &h in &homes {
            sim.inject(spammer, h, Msg::Gossip(Gossip { id, round: 0, kind: GossipKind::Event, body: body.clone() }));
        }
        sim.run_for(10);
    }
    let secs = sim.now.since(t0) / 1000 + 1;
    let honest = sim.publish(7, 300);
    sim.run_for(60_000);
    let far: Vec<usize> = sim
        .alive()
        .into_iter()
        .filter(|i| *i != spammer && !homes.contains(i) && sim.nodes[*i].overlay.role() == Role::Core)
        .collect();
    let worst = far.iter().map(|i| spam.iter().filter(|id| sim.nodes[*i].delivered.contains_key(id)).count()).max();
    // Each home admits at most its connection budget from the spammer (the prefix budget is
    // larger); both homes together relay at most twice that onward.
    let budget = 2 * (INJECT_BURST + INJECT_PER_S * secs) as usize;
    let worst = worst.unwrap_or(0);
    eprintln!("spam from 1,000 fresh keys over {secs} s: worst far node got {worst} (budget {budget})");
    assert!(worst <= budget, "a far node got {worst} spam events (budget {budget})");
    assert!(sim.missing(&honest).is_empty(), "honest post lost during the spam: {:?}", sim.missing(&honest));
    let dropped: u64 = homes.iter().map(|h| sim.nodes[*h].overlay.stats().inject_dropped).sum();
    assert!(dropped > 0, "entry admission never engaged");
    let honest_nodes: Vec<usize> = sim.alive().into_iter().filter(|i| *i != spammer).collect();
    assert_eq!(bans(&sim, &honest_nodes).0, 0, "an honest node was banned");
}

/// 200 posts/s network-wide from many authors at 1,000 nodes: everything arrives, no link is
/// throttled into losing posts or banned. `SIM_LOAD_SECS` (default 3) and `SIM_LOAD_RATE`
/// (default 200) stretch it; `examples/overlay_bench.rs` runs the long version.
#[test]
fn two_hundred_posts_per_second_at_1000_nodes_are_all_delivered() {
    let secs: u64 = std::env::var("SIM_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let rate: u64 = std::env::var("SIM_LOAD_RATE").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let mut sim = Sim::new(SimConfig {
        seed: 51,
        cores: 100,
        leaves: 900,
        join_window_ms: 60_000,
        check_every: 997,
        ..SimConfig::default()
    });
    settle(&mut sim);
    sim.run_for(60_000); // inbound links become relay links
    let n = sim.nodes.len();
    let mut ids = Vec::new();
    let step_ms = 1_000 / rate.max(1);
    for _ in 0..secs * rate {
        let from = sim.rng().below(n as u64) as usize;
        ids.push(sim.publish(from, 300));
        sim.run_for(step_ms);
    }
    assert!(ids.len() < MSG_CACHE_CAP, "the GRAFT cache must hold a whole test's posts");
    sim.run_until_cond(1_000, 60_000, |s| ids.iter().all(|id| s.missing(id).is_empty()));
    let want = ids.len() * n;
    let got: usize = ids.iter().map(|id| n - sim.missing(id).len()).sum();
    let stats: Vec<_> = sim.nodes.iter().map(|x| x.overlay.stats().clone()).collect();
    let rate_dropped: u64 = stats.iter().map(|s| s.rate_dropped).sum();
    let inject_dropped: u64 = stats.iter().map(|s| s.inject_dropped).sum();
    let author_dropped: u64 = stats.iter().map(|s| s.author_dropped).sum();
    let all: Vec<usize> = (0..n).collect();
    eprintln!(
        "{rate} posts/s for {secs} s at {n} nodes: delivered {got}/{want}; rate_dropped={rate_dropped} \
         inject_dropped={inject_dropped} author_dropped={author_dropped} bans={:?}",
        bans(&sim, &all)
    );
    assert_eq!(got, want, "not every post reached every node");
    assert_eq!(bans(&sim, &all), (0, 0), "an honest node was banned");
}
