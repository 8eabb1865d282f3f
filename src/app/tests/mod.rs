//! Tests of the application layer: pure, fast, deterministic. Helpers here: the original's
//! signed fixtures (Appendix A), a fake store, a fake overlay context, and a tiny in-process
//! network (`Net`) that carries unicasts and broadcasts between `App`s instantly, with
//! nodes switched on and off.

use std::collections::BTreeMap;

use super::*;
use crate::event::{Event, EventId};
use crate::time::UnixTime;

mod catchup;
mod classify;
mod flows;
mod offline;
mod wire;
mod wire_oracle;

/// A clock after every fixture (events are checked against it).
const NOW: UnixTime = UnixTime(1_717_100_000);

const A_SECRET: &str = "0000000000000000000000000000000000000000000000000000000000000003";
const B_SECRET: &str = "76f5056ae58d6460e4272ff038e49432e91c5fe7b670f49577bf483c180b48db";
const C_SECRET: &str = "68ff284f96fd5b36bfd8a88eab49a30dbde6f3c8c6662c4ab6e7c1f2444d1002";

fn fixture(name: &str) -> Event {
    crate::testkit::fixture(name)
}

fn verified(name: &str) -> VerifiedEvent {
    fixture(name).verify(NOW).expect("fixture verifies")
}

fn user(secret: &str) -> SecretKey {
    SecretKey::parse(secret).expect("test secret")
}

fn pk_a() -> PublicKey {
    user(A_SECRET).public_key()
}
fn pk_b() -> PublicKey {
    user(B_SECRET).public_key()
}
fn pk_c() -> PublicKey {
    user(C_SECRET).public_key()
}

/// A node key for tests, distinct per `n`.
fn node_secret(n: u8) -> SecretKey {
    SecretKey::from_bytes([n.max(1); 32]).expect("valid scalar")
}

/// An event signed by `secret` (aux_rand zero).
fn signed(secret: &SecretKey, created_at: u64, kind: u16, tags: &[&[&str]], content: &str) -> VerifiedEvent {
    let tags = tags.iter().map(|t| t.iter().map(|s| s.to_string()).collect()).collect();
    Event::new_signed(secret, UnixTime(created_at), kind, tags, content.to_string(), &[0; 32])
        .verify(NOW)
        .expect("test event verifies")
}

use crate::testkit::FakeStore;

/// A directory of nodes: id → (node key, online).
#[derive(Clone, Default)]
struct Dir {
    nodes: BTreeMap<NodeId, (PublicKey, bool)>,
    /// Follower multicast with nobody following anybody: broadcasts reach no other node, and
    /// the contexts say so (`Context::follower_multicast`).
    follow: bool,
}

/// A [`Context`] seen from one node.
struct Ctx<'a> {
    me: NodeId,
    dir: &'a Dir,
}

impl Context for Ctx<'_> {
    fn me(&self) -> NodeId {
        self.me
    }
    fn node_at_or_after(&self, at: u64) -> Option<NodeId> {
        self.dir.nodes.range(NodeId(at)..).next().map(|(n, _)| *n)
    }
    fn node_key(&self, node: NodeId) -> Option<PublicKey> {
        self.dir.nodes.get(&node).map(|(k, _)| *k)
    }
    fn is_reachable(&self, node: NodeId) -> bool {
        self.dir.nodes.get(&node).is_some_and(|(_, up)| *up)
    }
    fn neighbours(&self) -> Vec<NodeId> {
        self.dir.nodes.iter().filter(|(n, (_, up))| **n != self.me && *up).map(|(n, _)| *n).collect()
    }
    fn follower_multicast(&self) -> bool {
        self.dir.follow
    }
}

/// A ring context with just ids (keys are irrelevant for ring tests).
fn ring_dir(ids: &[u64]) -> Dir {
    let key = node_secret(9).public_key();
    Dir { nodes: ids.iter().map(|i| (NodeId(*i), (key, true))).collect(), follow: false }
}

/// One node of the in-process network.
struct Node {
    app: App,
    store: FakeStore,
    /// Every unicast payload this node received (the privacy tests grep them).
    received: Vec<Vec<u8>>,
}

/// Several nodes delivering to each other instantly; offline nodes fail unicasts.
struct Net {
    dir: Dir,
    nodes: BTreeMap<NodeId, Node>,
    now: UnixTime,
}

impl Net {
    /// Nodes owned by the given users (node id = the owner's low 64 bits).
    fn new(owners: &[(PublicKey, u8)]) -> Net {
        let mut dir = Dir::default();
        let mut nodes = BTreeMap::new();
        for (owner, n) in owners {
            let secret = node_secret(*n);
            dir.nodes.insert(owner.node_id(), (secret.public_key(), true));
            let app = App::new(AppConfig { owner: *owner, node_secret: secret, seed: [*n; 32] });
            nodes.insert(owner.node_id(), Node { app, store: FakeStore::default(), received: Vec::new() });
        }
        Net { dir, nodes, now: NOW }
    }

    fn node(&self, owner: &PublicKey) -> &Node {
        self.nodes.get(&owner.node_id()).expect("node exists")
    }

    fn set_online(&mut self, owner: &PublicKey, up: bool) {
        if let Some(e) = self.dir.nodes.get_mut(&owner.node_id()) {
            e.1 = up;
        }
    }

    /// The owner publishes through their own node (stored there first, as the driver does).
    fn publish(&mut self, owner: &PublicKey, ev: VerifiedEvent) {
        let id = owner.node_id();
        if let Some(n) = self.nodes.get_mut(&id) {
            n.store.insert(ev.as_event().clone());
        }
        self.input(id, Input::Published(ev));
    }

    fn input(&mut self, id: NodeId, input: Input) {
        let dir = self.dir.clone();
        let now = self.now;
        if let Some(n) = self.nodes.get_mut(&id) {
            n.app.handle_input(input, now, &Ctx { me: id, dir: &dir }, &n.store);
        }
        self.run();
    }

    /// Advances the clock to `t`, firing timeouts of online nodes as they come due.
    fn advance_to(&mut self, t: UnixTime) {
        for _ in 0..100_000 {
            let due = self
                .nodes
                .iter()
                .filter(|(id, _)| self.dir.nodes.get(id).is_some_and(|(_, up)| *up))
                .filter_map(|(id, n)| n.app.poll_timeout().map(|at| (at.max(self.now), *id)))
                .filter(|(at, _)| *at <= t)
                .min();
            let Some((at, id)) = due else {
                self.now = t;
                return;
            };
            self.now = at;
            let dir = self.dir.clone();
            if let Some(n) = self.nodes.get_mut(&id) {
                n.app.handle_timeout(at, &Ctx { me: id, dir: &dir }, &n.store);
            }
            self.run();
        }
        panic!("timeouts keep firing without the clock moving");
    }

    /// Carries out every pending output until the network is quiet.
    fn run(&mut self) {
        for _ in 0..10_000 {
            let mut work = None;
            for (id, n) in self.nodes.iter_mut() {
                if let Some(out) = n.app.poll_output() {
                    work = Some((*id, out));
                    break;
                }
            }
            let Some((from, out)) = work else { return };
            self.carry(from, out);
        }
        panic!("the network did not settle");
    }

    fn up(&self, id: NodeId) -> bool {
        self.dir.nodes.get(&id).is_some_and(|(_, up)| *up)
    }

    fn carry(&mut self, from: NodeId, out: Output) {
        match out {
            Output::Store(ev) => {
                if let Some(n) = self.nodes.get_mut(&from) {
                    n.store.insert(ev.into_event());
                }
            }
            Output::Broadcast(ev) => {
                let targets: Vec<NodeId> =
                    self.nodes.keys().copied().filter(|n| *n != from && self.up(*n) && !self.dir.follow).collect();
                for t in targets {
                    self.input_no_run(t, Input::Broadcast(ev.clone()));
                }
            }
            Output::Unicast { dst, msg_id, payload } => {
                let ok = self.up(dst) && self.up(from) && self.nodes.contains_key(&dst);
                if ok {
                    if let Some(n) = self.nodes.get_mut(&dst) {
                        n.received.push(payload.clone());
                    }
                    self.input_no_run(dst, Input::Unicast { src: from, payload });
                }
                self.input_no_run(from, Input::UnicastDone { msg_id, dst, ok });
            }
        }
    }

    fn input_no_run(&mut self, id: NodeId, input: Input) {
        let dir = self.dir.clone();
        let now = self.now;
        if let Some(n) = self.nodes.get_mut(&id) {
            n.app.handle_input(input, now, &Ctx { me: id, dir: &dir }, &n.store);
        }
    }
}

/// True if `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
