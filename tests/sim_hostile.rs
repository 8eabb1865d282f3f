//! Simulator scenarios with malicious nodes (issue 8 item 2): 10 % of the nodes forge the source
//! of unicasts (a `MailAck` "from" a victim would erase its sealed mail) and forge acks for
//! unicasts to a node that is down (so the origin would stop resending). Nothing forged may be
//! delivered, no forged ack may count, and honest unicasts must still be acked. (A leaf trusts
//! its two homes to check signatures for it, so a malicious home of the victim is out of scope.)
//! Every wait is a bounded condition on simulated time.

use std::collections::BTreeMap;

use nostrp2p::overlay::sim::{FakeCrypto, Sim, SimConfig};
use nostrp2p::overlay::Crypto;
use nostrp2p::wire::{Body, Msg, MsgId, NodeId, Role, Routed, Sig};

/// Msg ids at or above this are forged ones.
const FORGED: u64 = 1 << 40;

fn settle(sim: &mut Sim) {
    assert!(sim.run_until_cond(1_000, 300_000, |s| s.settled()), "network did not settle:\n{}", sim.describe());
}

fn index_of(sim: &Sim) -> BTreeMap<NodeId, usize> {
    sim.nodes.iter().enumerate().map(|(i, n)| (n.overlay.node_id(), i)).collect()
}

/// A unicast "from" `src` to `dst`, signed by the attacker's own key (it has not the victim's).
fn forged_routed(attacker: &mut FakeCrypto, src: NodeId, dst: NodeId, msg_id: u64) -> Msg {
    let payload = b"MailAck{ids: 1..1000}";
    let sig = attacker.sign(&Routed::signing_hash(src, dst, msg_id, payload));
    Msg::Routed(Routed { src, dst, msg_id, ttl: 3, hops: 0, attempt: 0, payload: Body::from_slice(payload), sig })
}

#[test]
fn ten_percent_malicious_nodes_forging_sources_get_nothing_delivered_or_acked() {
    let mut sim = Sim::new(SimConfig { seed: 21, cores: 40, leaves: 60, check_every: 11, ..SimConfig::default() });
    settle(&mut sim);
    sim.run_for(20_000); // records spread
    let n = sim.nodes.len();
    let malicious: Vec<usize> = (0..n).filter(|i| i % 10 == 3).collect();
    let honest: Vec<usize> = (0..n).filter(|i| i % 10 != 3).collect();
    let idx = index_of(&sim);
    let dead = honest[honest.len() / 2];
    let dead_id = sim.nodes[dead].overlay.node_id();
    sim.kill(dead);

    // Honest unicasts: to live nodes (must be acked) and to the dead node (must never be).
    let mut live_pairs = Vec::new();
    let mut to_dead = Vec::new();
    for (k, a) in honest.iter().copied().filter(|a| *a != dead).enumerate() {
        let b = honest[(k * 7 + 5) % honest.len()];
        if k % 3 == 0 {
            sim.unicast(a, dead, 5_000 + k as u64);
            to_dead.push((a, 5_000 + k as u64));
        } else if b != a && b != dead {
            sim.unicast(a, b, 1_000 + k as u64);
            live_pairs.push((a, b, 1_000 + k as u64));
        }
    }
    // The attack: every malicious node, on every link it has, forges unicasts from honest
    // victims to that neighbour, to the neighbour's leaves and to a far node, and acks "from"
    // the dead node for every unicast to it (with the right payload hash, as an on-path
    // observer could compute), sent to each origin and to each origin's homes.
    let mut forged_id = FORGED;
    for &m in &malicious {
        let mut crypto = FakeCrypto::new([0xA0 ^ m as u8; 32]);
        let neighbours: Vec<NodeId> = sim.nodes[m].overlay.connected_nodes();
        for j_id in neighbours {
            let Some(&j) = idx.get(&j_id) else { continue };
            let victim = sim.nodes[honest[(m * 13 + j) % honest.len()]].overlay.node_id();
            // A leaf neighbour has m as its home: out of scope (see the module doc).
            if sim.nodes[j].overlay.role() == Role::Leaf {
                continue;
            }
            let mut targets = vec![j_id];
            targets.extend(sim.nodes[j].overlay.leaves().iter().take(2));
            targets.push(sim.nodes[honest[(m + j) % honest.len()]].overlay.node_id());
            for dst in targets {
                forged_id += 1;
                sim.inject(m, j, forged_routed(&mut crypto, victim, dst, forged_id));
            }
            for &(a, msg_id) in &to_dead {
                let a_id = sim.nodes[a].overlay.node_id();
                // A leaf trusts its homes to check for it (it holds no directory), so a malicious
                // *home* of the origin is out of scope; any other malicious node is not.
                let m_id = sim.nodes[m].overlay.node_id();
                let m_is_home = sim.nodes[a].overlay.homes().contains(&m_id);
                let on_path = j == a || sim.nodes[a].overlay.homes().contains(&j_id);
                if !on_path || m_is_home {
                    continue;
                }
                let of = Routed::signing_hash(a_id, dead_id, msg_id, b"hello");
                let sig: Sig = crypto.sign(&Routed::ack_hash(&of));
                let ack = Msg::RoutedAck { src: dead_id, dst: a_id, msg_id, hops: 1, of: MsgId(of), sig };
                sim.inject(m, j, ack);
            }
        }
    }
    assert!(forged_id > FORGED + 50, "the attack must actually send forgeries ({})", forged_id - FORGED);
    sim.run_for(60_000);

    for &(a, b, msg_id) in &live_pairs {
        let r = sim.nodes[a].unicast_done.get(&msg_id).copied();
        assert!(matches!(r, Some(Ok(_))), "honest unicast #{a}->#{b} ({msg_id}): {r:?}");
    }
    for &(a, msg_id) in &to_dead {
        let r = sim.nodes[a].unicast_done.get(&msg_id).copied();
        assert!(!matches!(r, Some(Ok(_))), "#{a} took a forged ack for a unicast to a dead node: {r:?}");
    }
    for i in 0..n {
        let got: Vec<_> = sim.nodes[i].unicasts_in.iter().filter(|(_, m)| *m >= FORGED).collect();
        assert!(got.is_empty(), "#{i} ({:?}) delivered forged unicasts {got:?}", sim.nodes[i].overlay.role());
    }
    let forged: u64 = honest.iter().map(|i| sim.nodes[*i].overlay.stats().forged).sum();
    assert!(forged > 0, "forgeries must be counted");
    // The scenario covered leaf origins (whose home checks for them) as well as core ones.
    assert!(to_dead.iter().any(|(a, _)| sim.nodes[*a].overlay.role() == Role::Leaf));
    assert!(to_dead.iter().any(|(a, _)| sim.nodes[*a].overlay.role() == Role::Core));
}
