//! Deterministic discrete-event simulator: many `Overlay`s in one process (iroh-gossip's pattern,
//! spec §2.11). Compiled for tests and with the `sim` feature (the benchmark example).
//!
//! Time jumps from event to event (a `BinaryHeap` ordered by `(time, seq)`, FIFO on ties); latency,
//! frame loss, churn and partitions are drawn from one seeded SplitMix64, so a seed replays
//! exactly. Links are TCP-like: per-direction FIFO, latency fixed per link. Unreachable (NATed)
//! nodes refuse dials after a connect timeout; a partition blackholes frames and refuses dials
//! across groups. Every frame is metered with its exact encoded length (`wire::frame_len`).
//! Signatures use [`FakeCrypto`] (cheap, but a bad one is still detected and banned).

mod fake;
mod heap;
pub mod trees;

pub use heap::HeapParts;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

pub use fake::{fake_event, fake_event_at, FakeCrypto};

use super::{Config, Delivery, Input, Instant, Now, Output, Overlay, RoleChoice, SplitMix64};
use crate::time::UnixTime;
use crate::wire::{
    frame_len, Addr, Body, ConnId, Gossip, GossipKind, Key32, Msg, MsgId, NodeId, Role, UndeliverableReason,
};

/// Simulation parameters.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// RNG seed.
    pub seed: u64,
    /// Core (reachable) nodes.
    pub cores: usize,
    /// Leaf (NATed) nodes.
    pub leaves: usize,
    /// Link latency range (one way), ms.
    pub latency_ms: (u64, u64),
    /// Extra one-way latency on links touching a leaf (home links, mobile), ms.
    pub leaf_extra_ms: u64,
    /// Frame loss, per mille, on established links (handshake frames included).
    pub loss_permille: u32,
    /// Nodes join uniformly over this window, ms.
    pub join_window_ms: u64,
    /// Meter every frame's encoded size (costs an encode per frame).
    pub meter: bool,
    /// Check the stepped node's invariants every this many steps (1 = always).
    pub check_every: u64,
    /// Every node's `--delivery` setting.
    pub delivery: crate::wire::DeliveryMode,
    /// Every node's `--directory` setting.
    pub directory: super::DirectoryMode,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            seed: 1,
            cores: 100,
            leaves: 0,
            latency_ms: (20, 150),
            leaf_extra_ms: 0,
            loss_permille: 0,
            join_window_ms: 10_000,
            meter: false,
            check_every: 1,
            delivery: crate::wire::DeliveryMode::Auto,
            directory: super::DirectoryMode::Broadcast,
        }
    }
}

/// Per-node traffic counters (frames sent and received on the wire).
#[derive(Debug, Default, Clone, Copy)]
pub struct Traffic {
    /// Bytes of event payload frames (Gossip of an event, Routed) sent + received.
    pub payload_bytes: u64,
    /// Bytes of every other frame sent + received.
    pub control_bytes: u64,
    /// Frames sent + received.
    pub frames: u64,
    /// Event payload frames received (for per-role RMR).
    pub event_frames_in: u64,
    /// Bytes of every frame received (what a leaf's radio downloads).
    pub bytes_in: u64,
}

/// One simulated node.
pub struct SimNode {
    /// The state machine.
    pub overlay: Overlay,
    /// Its address.
    pub addr: Addr,
    /// Accepts dials (core) or not (NATed leaf).
    pub reachable: bool,
    /// Running.
    pub alive: bool,
    /// Broadcasts delivered: id → time.
    pub delivered: BTreeMap<MsgId, Instant>,
    /// Unicast payloads received: (src, msg_id).
    pub unicasts_in: Vec<(NodeId, u64)>,
    /// Unicast outcomes: msg_id → result.
    pub unicast_done: BTreeMap<u64, Result<u8, UndeliverableReason>>,
    /// Traffic meter.
    pub traffic: Traffic,
    /// Partition group.
    pub group: u8,
    /// How far this node's wall clock is off true simulated time, in seconds (skew tests; the
    /// node's monotonic clock is always right).
    pub clock_offset_s: i64,
    cfg: Config,
    key: [u8; 32],
    next_inbound: u64,
    next_timeout: Option<Instant>,
}

impl SimNode {
    /// The owner's key (the author of the posts it publishes).
    pub fn owner(&self) -> Key32 {
        self.cfg.owner
    }

    /// A node that has just started: alive, in partition group 0, nothing delivered yet.
    fn fresh(overlay: Overlay, addr: Addr, reachable: bool, cfg: Config, key: [u8; 32]) -> SimNode {
        SimNode {
            overlay,
            addr,
            reachable,
            alive: true,
            delivered: BTreeMap::new(),
            unicasts_in: Vec::new(),
            unicast_done: BTreeMap::new(),
            traffic: Traffic::default(),
            group: 0,
            clock_offset_s: 0,
            cfg,
            key,
            next_inbound: 0,
            next_timeout: None,
        }
    }
}

/// What a queued event does. The input is boxed: the queue's entries move on every push and
/// pop (≈ log2 of the queue length times each), and an inline `Input` made them large: the
/// copying was ≈ 8 % of a 100k-node run (perf, join phase), the heap's own work ≈ 13 %.
#[derive(Debug)]
enum What {
    Input(Box<Input>),
    Timeout,
}

#[derive(Debug)]
struct Scheduled {
    at: Instant,
    seq: u64,
    node: usize,
    what: What,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

#[derive(Debug, Clone, Copy)]
struct End {
    node: usize,
    conn: ConnId,
    latency: u64,
    /// Last scheduled arrival at the far end (FIFO).
    last: Instant,
}

/// The simulator.
pub struct Sim {
    /// Current time.
    pub now: Instant,
    /// Nodes, by index.
    pub nodes: Vec<SimNode>,
    /// Global counter of event-payload Gossip frames sent (for RMR).
    pub event_gossip_frames: u64,
    /// Frames delivered per message type, and their bytes when metering.
    pub msg_counts: BTreeMap<&'static str, (u64, u64)>,
    /// Events processed.
    pub steps: u64,
    cfg: SimConfig,
    seq: u64,
    rng: SplitMix64,
    queue: BinaryHeap<Reverse<Scheduled>>,
    /// Open links by (node, its connection id). Looked up for every frame sent: a hash map,
    /// since at 100k nodes a B-tree of ≈ 2 million links costs a chain of cache misses per
    /// frame. Never iterated in its own order: `kill` and `inject` sort what they collect.
    links: HashMap<(usize, ConnId), End>,
    by_addr: BTreeMap<Addr, usize>,
    counter: u64,
    /// Nodes whose inputs and outputs are printed, for debugging: `$SIM_TRACE` is a
    /// comma-separated list of node indices, `$SIM_TRACE_FROM_MS` the simulated time the
    /// printing starts (default 0), so a long run can trace only its last phase.
    /// `$SIM_TRACE_MATCH` traces every node but prints only lines containing that text (a
    /// lookup's key, say: where one is lost along a route of unknown cores).
    trace: Vec<usize>,
    trace_from: Instant,
    trace_match: Option<String>,
}

/// Unix time of simulated `Instant(0)`.
pub const SIM_UNIX_ORIGIN: u64 = 1_750_000_000;

/// Clock readings at simulated time `t` for a node whose wall clock is `offset_s` off.
pub fn sim_now(t: Instant, offset_s: i64) -> Now {
    let wall = (SIM_UNIX_ORIGIN + t.0 / 1000).saturating_add_signed(offset_s);
    Now::new(t, UnixTime(wall))
}

/// Node `i`'s address: every node in its own /24 (cores 10.x.y.1, leaves 100.x.y.1).
fn sim_addr(i: usize, core: bool) -> Addr {
    let ip = (i as u32).to_be_bytes();
    Addr::v4([if core { 10 } else { 100 }, ip[2], ip[3], 1], 7000)
}

impl Sim {
    /// Build the network: core nodes first (node 0 has no bootstrap), then leaves; each node's
    /// bootstrap is a random earlier core node, and nodes join in index order over `join_window_ms`.
    pub fn new(cfg: SimConfig) -> Sim {
        let mut rng = SplitMix64::new(cfg.seed);
        let mut sim = Sim {
            now: Instant(0),
            nodes: Vec::new(),
            event_gossip_frames: 0,
            msg_counts: BTreeMap::new(),
            steps: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            links: HashMap::new(),
            by_addr: BTreeMap::new(),
            counter: 0,
            trace: std::env::var("SIM_TRACE")
                .map(|v| v.split(',').filter_map(|i| i.trim().parse().ok()).collect())
                .unwrap_or_default(),
            trace_from: Instant(std::env::var("SIM_TRACE_FROM_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(0)),
            trace_match: std::env::var("SIM_TRACE_MATCH").ok().filter(|m| !m.is_empty()),
            rng: SplitMix64::new(cfg.seed ^ 0x5EED),
            cfg: cfg.clone(),
        };
        let total = cfg.cores + cfg.leaves;
        for i in 0..total {
            let core = i < cfg.cores;
            let mut owner = [0u8; 32];
            owner[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
            owner[24..32].copy_from_slice(&rng.next_u64().to_be_bytes());
            // Every node in its own /24 (entry admission budgets are per IP prefix).
            let addr = sim_addr(i, core);
            let bootstrap = if i == 0 {
                vec![]
            } else {
                let j = rng.below(i.min(cfg.cores) as u64) as usize;
                vec![sim_addr(j, true)]
            };
            let node_cfg = Config {
                owner: Key32(owner),
                delegation: None,
                listen: Some(addr),
                bootstrap,
                role: RoleChoice::Auto,
                leaf_slots: super::params::LEAF_SLOTS,
                delivery: cfg.delivery,
                directory: cfg.directory,
                seed: rng.next_u64(),
            };
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
            let join_at = Instant(cfg.join_window_ms * i as u64 / total.max(1) as u64);
            let overlay = Overlay::new(node_cfg.clone(), Box::new(FakeCrypto::new(key)), sim_now(join_at, 0));
            sim.by_addr.insert(addr, i);
            sim.nodes.push(SimNode::fresh(overlay, addr, core, node_cfg, key));
            sim.set_timeout(i, join_at);
        }
        sim
    }

    fn push(&mut self, at: Instant, node: usize, what: What) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled { at, seq: self.seq, node, what }));
    }

    fn set_timeout(&mut self, node: usize, at: Instant) {
        let n = &mut self.nodes[node];
        if n.next_timeout.is_some_and(|t| t <= at) && n.next_timeout.is_some_and(|t| t >= self.now) {
            return;
        }
        n.next_timeout = Some(at);
        self.push(at, node, What::Timeout);
    }

    fn traced(&self, node: usize) -> bool {
        self.now >= self.trace_from && (self.trace_match.is_some() || self.trace.contains(&node))
    }

    /// Print a traced line (only if it contains `$SIM_TRACE_MATCH`, when that is set).
    fn trace_line(&self, line: String) {
        if self.trace_match.as_ref().is_none_or(|m| line.contains(m.as_str())) {
            eprintln!("{line}");
        }
    }

    /// "#peer " for a traced line about `node`'s connection `conn`, if the link is open.
    fn trace_peer(&self, node: usize, conn: Option<ConnId>) -> String {
        match conn.and_then(|c| self.links.get(&(node, c))) {
            Some(end) => format!("#{} ", end.node),
            None => String::new(),
        }
    }

    /// Process one event; false if the queue is empty.
    pub fn step(&mut self) -> bool {
        let Some(Reverse(ev)) = self.queue.pop() else { return false };
        self.now = ev.at;
        self.steps += 1;
        let i = ev.node;
        if !self.nodes[i].alive {
            return true;
        }
        if self.traced(i) {
            let conn = match &ev.what {
                What::Input(input) => match **input {
                    Input::Accepted { conn, .. }
                    | Input::Connected { conn, .. }
                    | Input::Closed { conn, .. }
                    | Input::Frame { conn, .. } => Some(conn),
                    _ => None,
                },
                What::Timeout => None,
            };
            self.trace_line(format!("{:>8} #{i} <- {}{:?}", self.now.0, self.trace_peer(i, conn), ev.what));
        }
        match ev.what {
            What::Input(input) => {
                let now = self.node_now(i);
                self.nodes[i].overlay.handle_input(*input, now)
            }
            What::Timeout => {
                if self.nodes[i].next_timeout != Some(ev.at) {
                    return true; // superseded
                }
                self.nodes[i].next_timeout = None;
                let now = self.node_now(i);
                self.nodes[i].overlay.handle_timeout(now);
            }
        }
        while let Some(out) = self.nodes[i].overlay.poll_output() {
            self.route(i, out);
        }
        if let Some(at) = self.nodes[i].overlay.poll_timeout() {
            self.set_timeout(i, at.max(self.now));
        }
        if self.steps % self.cfg.check_every.max(1) == 0 {
            self.nodes[i].overlay.check_invariants();
        }
        true
    }

    /// Run until `until` (absolute time).
    pub fn run_until(&mut self, until: Instant) {
        while let Some(Reverse(ev)) = self.queue.peek() {
            if ev.at > until {
                break;
            }
            self.step();
        }
        self.now = self.now.max(until);
    }

    /// Run for `ms` more.
    pub fn run_for(&mut self, ms: u64) {
        let until = self.now.plus_ms(ms);
        self.run_until(until);
    }

    /// Run (in steps of `step_ms`, at most `max_ms`) until `cond` holds; returns whether it did.
    pub fn run_until_cond(&mut self, step_ms: u64, max_ms: u64, mut cond: impl FnMut(&Sim) -> bool) -> bool {
        let end = self.now.plus_ms(max_ms);
        while self.now < end {
            if cond(self) {
                return true;
            }
            self.run_for(step_ms);
        }
        cond(self)
    }

    fn lat(&mut self, a: usize, b: usize) -> u64 {
        let (lo, hi) = self.cfg.latency_ms;
        let mut l = self.rng.range(lo, hi);
        if !self.nodes[a].reachable || !self.nodes[b].reachable {
            l += self.cfg.leaf_extra_ms;
        }
        l
    }

    fn meter(&mut self, from: usize, to: usize, msg: &Msg) {
        if let Msg::Gossip(Gossip { kind: GossipKind::Event, .. })
        | Msg::GossipAlso(Gossip { kind: GossipKind::Event, .. }, _) = msg
        {
            self.event_gossip_frames += 1;
            self.nodes[to].traffic.event_frames_in += 1;
        }
        let len = if self.cfg.meter { frame_len(msg) as u64 } else { 0 };
        let c = self.msg_counts.entry(msg.name()).or_default();
        c.0 += 1;
        c.1 += len;
        if !self.cfg.meter {
            return;
        }
        self.nodes[to].traffic.bytes_in += len;
        for n in [from, to] {
            let t = &mut self.nodes[n].traffic;
            t.frames += 1;
            if msg.is_payload() {
                t.payload_bytes += len;
            } else {
                t.control_bytes += len;
            }
        }
    }

    fn route(&mut self, from: usize, out: Output) {
        if self.traced(from) {
            let conn = match out {
                Output::Send { conn, .. } => Some(conn),
                _ => None,
            };
            self.trace_line(format!("{:>8} #{from} -> {}{:?}", self.now.0, self.trace_peer(from, conn), out));
        }
        match out {
            Output::Send { conn, msg } => {
                let Some(end) = self.links.get(&(from, conn)).copied() else { return };
                let cut = self.nodes[from].group != self.nodes[end.node].group;
                let lost = self.cfg.loss_permille > 0 && self.rng.below(1000) < self.cfg.loss_permille as u64;
                if cut || lost {
                    return;
                }
                self.meter(from, end.node, &msg);
                let at = self.now.plus_ms(end.latency).max(end.last);
                if let Some(e) = self.links.get_mut(&(from, conn)) {
                    e.last = at;
                }
                self.push(at, end.node, What::Input(Box::new(Input::Frame { conn: end.conn, msg })));
            }
            Output::Dial { conn, addr } => {
                let target = self.by_addr.get(&addr).copied();
                let ok = target.filter(|&t| {
                    let n = &self.nodes[t];
                    n.alive && n.reachable && n.group == self.nodes[from].group && t != from
                });
                match ok {
                    Some(t) => {
                        let lat = self.lat(from, t);
                        self.nodes[t].next_inbound += 1;
                        let inbound = ConnId(self.nodes[t].next_inbound);
                        let at1 = self.now.plus_ms(lat);
                        let at2 = self.now.plus_ms(2 * lat);
                        self.links.insert((from, conn), End { node: t, conn: inbound, latency: lat, last: at2 });
                        self.links.insert((t, inbound), End { node: from, conn, latency: lat, last: at1 });
                        let remote = self.nodes[from].addr;
                        self.push(at1, t, What::Input(Box::new(Input::Accepted { conn: inbound, remote })));
                        self.push(at2, from, What::Input(Box::new(Input::Connected { conn })));
                    }
                    None => {
                        // NAT / firewall drops the SYN: connect timeout. Dead host: refused.
                        let delay = if target.is_some_and(|t| self.nodes[t].alive) { 3_000 } else { 200 };
                        let at = self.now.plus_ms(delay);
                        self.push(at, from, What::Input(Box::new(Input::Closed { conn })));
                    }
                }
            }
            Output::Close { conn } => {
                if let Some(end) = self.links.remove(&(from, conn)) {
                    self.links.remove(&(end.node, end.conn));
                    let at = self.now.plus_ms(end.latency).max(end.last);
                    self.push(at, end.node, What::Input(Box::new(Input::Closed { conn: end.conn })));
                }
            }
            Output::Deliver(Delivery::Broadcast { id, .. }) => {
                let now = self.now;
                self.nodes[from].delivered.entry(id).or_insert(now);
            }
            Output::Deliver(Delivery::Unicast { src, msg_id, .. }) => self.nodes[from].unicasts_in.push((src, msg_id)),
            Output::UnicastDone { msg_id, result, .. } => {
                self.nodes[from].unicast_done.insert(msg_id, result);
            }
        }
    }

    /// Node `i`'s clock readings now (its wall clock skewed by `clock_offset_s`).
    pub fn node_now(&self, i: usize) -> Now {
        sim_now(self.now, self.nodes[i].clock_offset_s)
    }

    /// Publish a fresh valid event of `size` bytes from node `i`, dated by node `i`'s own
    /// (possibly skewed) wall clock; returns its id.
    pub fn publish(&mut self, i: usize, size: usize) -> MsgId {
        self.counter += 1;
        let author = self.nodes[i].cfg.owner.0;
        let created_at = self.node_now(i).wall.0;
        let (id, body) = fake_event_at(author, self.counter, size, true, created_at);
        let now = self.now;
        self.nodes[i].delivered.insert(id, now);
        let audience = crate::overlay::Audience::of(Key32(author), None);
        self.input(i, Input::Publish { id, body, audience });
        id
    }

    /// Feed an input to node `i` now (and route its outputs).
    pub fn input(&mut self, i: usize, input: Input) {
        let now = self.now;
        self.push(now, i, What::Input(Box::new(input)));
        self.run_until(now);
    }

    /// Send a unicast from node `i` to node `j`'s id.
    pub fn unicast(&mut self, i: usize, j: usize, msg_id: u64) {
        let dst = self.nodes[j].overlay.node_id();
        self.input(i, Input::Unicast { dst, msg_id, payload: Body::from_slice(b"hello") });
    }

    /// Inject a raw message from node `i` to connected node `j` (adversarial tests).
    pub fn inject(&mut self, i: usize, j: usize, msg: Msg) -> bool {
        let target = self.nodes[j].overlay.node_id();
        let conn = self.links.iter().filter(|((n, _), e)| *n == i && e.node == j).map(|((_, c), _)| *c).min();
        let _ = target;
        match conn {
            Some(c) => {
                self.route(i, Output::Send { conn: c, msg });
                true
            }
            None => false,
        }
    }

    /// Stop node `i` abruptly (its peers see their connections close).
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].alive = false;
        let mut ends: Vec<(ConnId, End)> =
            self.links.iter().filter(|((n, _), _)| *n == i).map(|((_, c), e)| (*c, *e)).collect();
        ends.sort_by_key(|(c, _)| *c); // the order the frames are queued in: not the map's
        for (c, end) in ends {
            self.links.remove(&(i, c));
            self.links.remove(&(end.node, end.conn));
            let at = self.now.plus_ms(end.latency);
            self.push(at, end.node, What::Input(Box::new(Input::Closed { conn: end.conn })));
        }
    }

    /// Restart node `i` with the same identity and empty state.
    pub fn restart(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        n.cfg.seed = n.cfg.seed.wrapping_add(1);
        n.overlay = Overlay::new(n.cfg.clone(), Box::new(FakeCrypto::new(n.key)), sim_now(self.now, n.clock_offset_s));
        n.alive = true;
        n.next_timeout = None;
        let now = self.now;
        self.set_timeout(i, now);
    }

    /// Put nodes into partition groups (frames across groups vanish; dials fail).
    pub fn partition(&mut self, group_of: impl Fn(usize) -> u8) {
        for (i, n) in self.nodes.iter_mut().enumerate() {
            n.group = group_of(i);
        }
    }

    /// Indices of live nodes.
    pub fn alive(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|i| self.nodes[*i].alive).collect()
    }

    /// Live nodes that have not delivered `id`.
    pub fn missing(&self, id: &MsgId) -> Vec<usize> {
        self.alive().into_iter().filter(|i| !self.nodes[*i].delivered.contains_key(id)).collect()
    }

    /// True once every live node has settled its role and leaves have ≥ 1 home, cores ≥ 1 peer.
    pub fn settled(&self) -> bool {
        self.nodes.iter().filter(|n| n.alive).all(|n| {
            let o = &n.overlay;
            !o.is_deciding()
                && match o.role() {
                    Role::Core => !o.active_view().is_empty() || self.nodes.len() == 1,
                    Role::Leaf => !o.homes().is_empty(),
                }
        })
    }

    /// Turn frame metering on or off (encoding every frame costs time; benchmarks meter only
    /// the phases they report).
    pub fn set_meter(&mut self, on: bool) {
        self.cfg.meter = on;
    }

    /// Change the frame loss rate (per mille) from now on: lossy-link scenarios settle the
    /// network without loss first, since the simulated links are otherwise TCP-like.
    pub fn set_loss(&mut self, permille: u32) {
        self.cfg.loss_permille = permille;
    }

    /// The RNG (for tests that pick random nodes reproducibly).
    pub fn rng(&mut self) -> &mut SplitMix64 {
        &mut self.rng
    }
}

impl Sim {
    /// Add a node claiming the owner (so the node id) of node `victim`, with its own node key,
    /// bootstrapping to core node 0; returns its index. Models an impostor without the
    /// victim's node key (the original had no authentication at all).
    pub fn add_impostor(&mut self, victim: usize) -> usize {
        let i = self.nodes.len();
        let mut cfg = self.nodes[victim].cfg.clone();
        let addr = sim_addr(i, true);
        cfg.listen = Some(addr);
        cfg.bootstrap = vec![self.nodes[0].addr];
        cfg.seed ^= 0xBAD;
        let key = [0xEE; 32];
        let overlay = Overlay::new(cfg.clone(), Box::new(FakeCrypto::new(key)), sim_now(self.now, 0));
        self.by_addr.insert(addr, i);
        self.nodes.push(SimNode::fresh(overlay, addr, true, cfg, key));
        let now = self.now;
        self.set_timeout(i, now);
        i
    }

    /// One line per node: role, views, homes, directory size (debugging aid).
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let o = &n.overlay;
            s.push_str(&format!(
                "#{i} {} alive={} tree={:?} {:?} deciding={} active={:?} passive={} leaves={} homes={:?} dir={} conns={} stats={:?}\n",
                o.node_id(), n.alive, o.tree_peers(), o.role(), o.is_deciding(), o.active_view(), o.passive_len(), o.leaves().len(), o.homes(), o.directory_len(), o.conn_count(), o.stats()
            ));
        }
        s
    }
}
