//! Per-author trees at scale (issue 10; docs/scaling.md "Per-author trees"): a discrete-event
//! run of every core's real [`TopicTable`] over converged ring tables (what stabilisation
//! reaches; `RingTable::converged`), with a Zipf-like follow graph, side by side with a
//! broadcast flood over the same cores and link latencies.
//!
//! Only the tree protocol runs here (subscriptions, acks, redirects, refreshes, tree copies of
//! posts); the rest of a node is a model, said where used: a leaf hangs off two random homes,
//! its homes subscribe for its followees, and it gets a post from the first of its homes to have
//! it (+ that link's latency). Broadcast is modelled as the first-arrival flood over a random
//! graph of `ACTIVE_VIEW` links per core (what Plumtree's eager tree converges to). Control
//! frame sizes are estimates from the wire frames of the same shape (consts below; the digest
//! frames at their largest encoding). Links are 20–150 ms one way, fixed per pair; no loss.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::overlay::params::{ACTIVE_VIEW, TOPIC_QUIET_ACK_MAX_MS, TOPIC_REFRESH_MS};
use crate::overlay::ring::{RingPeer, RingTable};
use crate::overlay::topic::{topic_of, PostVerdict, TopicMsg, TopicOut, TopicTable};
use crate::overlay::{Instant, SplitMix64};
use crate::wire::{frame_len, Gossip, GossipKind, Key32, Msg, MsgId, NodeId};

mod model;

use model::{broadcast_flood, latency, random_graph, Zipf};

/// Bytes of a post's event as sim_follow uses (400 B body).
pub const POST_BODY_BYTES: usize = 400;
/// Extra bytes of a tree copy over a Gossip frame: topic key (9 B) + routed flag (1 B).
pub const TREE_COPY_EXTRA: usize = 10;
/// Estimated frame bytes: header + variant tag (a `Subscribe`/`Unsubscribe` adds 9 B a topic).
pub const CONTROL_FRAME_BASE: usize = 8;
/// Per topic in a `Subscribe`/`Unsubscribe`/`Redirect`/`Refused`/`Ack` (u64 key, MessagePack).
pub const TOPIC_KEY_BYTES: usize = 9;
/// Per id announced in an `Ack` (32 B + tag).
pub const ACK_ID_BYTES: usize = 34;
/// A `TopicDigest` frame without check items, at its largest (`u32::MAX` count, a 9-byte
/// hash: the golden vector's 26 B).
pub const DIGEST_FRAME_BYTES: usize = 26;
/// Per check item of a `TopicDigest` (a 2-array of a 9-byte key and a 5-byte prefix).
pub const DIGEST_CHECK_BYTES: usize = 15;
/// A `TopicResync` frame at its largest (golden vector).
pub const RESYNC_FRAME_BYTES: usize = 14;
/// The steady idle window: long enough that a parent without digests sends its quiet acks
/// (`TOPIC_QUIET_ACK_MAX_MS` after the join acks) inside it.
pub const IDLE_STEADY_MS: u64 = TOPIC_QUIET_ACK_MAX_MS + TOPIC_REFRESH_MS;
/// A leaf's bytes per post it receives under follow delivery (eager payload frame and its
/// share of IHAVEs), measured by `tests/sim_follow.rs`: 662 B.
pub const LEAF_BYTES_PER_POST: f64 = 662.0;
/// A follow leaf's idle bytes received per minute (keepalives, acks), measured by
/// `tests/sim_follow.rs`: 16 B/min, 23 KB a day.
pub const LEAF_IDLE_BYTES_PER_MIN: f64 = 16.0;
/// Simulated time a post is given to reach its followers (a later arrival counts as missed).
pub const POST_WINDOW_MS: u64 = 10_000;
/// Queue capacity kept after a burst of events has drained (× 32 B).
const QUEUE_KEEP: usize = 1 << 16;
/// Posts per author per day (issue 10's figure).
pub const POSTS_PER_DAY: f64 = 10.0;

/// Scenario parameters.
#[derive(Debug, Clone)]
pub struct TreeConfig {
    /// Nodes (cores + leaves).
    pub nodes: usize,
    /// Percent of nodes that are cores.
    pub core_pct: usize,
    /// Authors each node follows (Zipf over all nodes, exponent 1).
    pub followees: usize,
    /// Posts published (authors: the 5 most followed, the rest uniform).
    pub posts: usize,
    /// RNG seed.
    pub seed: u64,
    /// Cores refresh by digest (`FEATURE_DIGESTS`); false: every refresh is the whole
    /// `Subscribe` list, as between peers of builds without it.
    pub digest: bool,
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct TreeReport {
    /// Cores in the ring.
    pub cores: usize,
    /// Mean / max topics a core holds after the joins.
    pub topics_mean: f64,
    /// See `topics_mean`.
    pub topics_max: usize,
    /// Mean / max depth of a follower's home in the trees.
    pub depth_max: u8,
    /// Followers (of posts' authors) that should receive a post, summed over posts.
    pub follower_deliveries_due: u64,
    /// Of those, received.
    pub follower_deliveries_done: u64,
    /// Slowest delivery to a follower over all posts, ms (tree).
    pub slowest_ms: u64,
    /// 99th percentile of delivery to a follower, ms (tree).
    pub p99_ms: u64,
    /// The same for the broadcast flood to every node, ms.
    pub broadcast_slowest_ms: u64,
    /// Mean over posts of the post's followers.
    pub followers_per_post: f64,
    /// Cores that held a copy of a post without anybody at them following the author (relay
    /// hops), per post on average.
    pub relays_per_post: f64,
    /// Core upload per day, mean and max over cores, MB (tree): every node posting
    /// `POSTS_PER_DAY`, scaled from the posts run.
    pub core_upload_mb_day_mean: f64,
    /// See `core_upload_mb_day_mean`.
    pub core_upload_mb_day_max: f64,
    /// The same under broadcast (computed: each core uploads each post once on the eager tree
    /// on average, IHAVEs to its other links, and to its leaves), MB/day.
    pub broadcast_core_upload_mb_day: f64,
    /// Tree control traffic per core once joined (refreshes and acks), sent + received, KB/min.
    pub idle_control_kb_min: f64,
    /// The busiest core's, KB/min.
    pub idle_control_kb_min_max: f64,
    /// The same over the refresh period right after the posts (a parent acks a refresh only
    /// when its newest id changed since its last ack to that child, `TOPIC_QUIET_ACK_MAX_MS`).
    pub control_after_posts_kb_min: f64,
    /// Refreshes not acked (`TopicStats::acks_saved`), all cores, whole run.
    pub acks_saved: u64,
    /// Tree control per core over `IDLE_STEADY_MS` from the end of the joins (the quiet acks of
    /// the list refresh fall inside it), sent + received, KB/min; and the busiest core's.
    pub idle_steady_kb_min: f64,
    /// See `idle_steady_kb_min`.
    pub idle_steady_kb_min_max: f64,
    /// Bytes sent over that window by frame kind, all cores: `Subscribe` (and `Unsubscribe`),
    /// `Ack`, `Digest`, `Resync`, the rest (`Redirect`, `Refused`).
    pub idle_steady_bytes: [u64; 5],
    /// The digest counters summed over cores, whole run: matched, mismatched, resyncs asked,
    /// resyncs answered, entries dropped after a relist, news acks, check acks.
    pub digest_stats: [u64; 7],
    /// Leaf MB/day, mean and max over leaves (followees × posts/day × `LEAF_BYTES_PER_POST`).
    pub leaf_mb_day_mean: f64,
    /// See `leaf_mb_day_mean`.
    pub leaf_mb_day_max: f64,
    /// Leaf MB/day from the run: for each leaf, the posts it received in the run over the posts
    /// its followees published there (its delivery ratio; 1 if none of them posted), times
    /// followees × `POSTS_PER_DAY` × `LEAF_BYTES_PER_POST`, plus `LEAF_IDLE_BYTES_PER_MIN` for
    /// a day; mean and max over leaves.
    pub leaf_mb_day_run_mean: f64,
    /// See `leaf_mb_day_run_mean`.
    pub leaf_mb_day_run_max: f64,
    /// Followees per leaf, mean (the graph draws `2 × followees` Zipf picks and keeps the
    /// distinct ones, so popular picks repeat and a leaf may follow fewer).
    pub leaf_followees_mean: f64,
    /// Leaf MB/day under broadcast (every post of every node).
    pub broadcast_leaf_mb_day: f64,
    /// Counters summed over cores.
    pub false_roots: u64,
    /// Loops cut, summed.
    pub loops_cut: u64,
    /// Redirects, summed.
    pub redirected: u64,
    /// Heap bytes each component held at the end of the run, if a live-heap counter was
    /// passed to [`run_measured`] (filled by dropping the components one by one).
    pub heap: Vec<(&'static str, u64)>,
}

/// An event in flight. Kept small: at 100k nodes every parent acks every child's refresh in
/// the same second once per `TOPIC_QUIET_ACK_MAX_MS`, tens of millions of events at once, so
/// the two common messages without a list (a one-topic `Subscribe`, an `Ack` announcing no
/// ids) travel inline and only the others are boxed.
enum What {
    Msg(Box<TopicMsg>),
    Subscribe1(NodeId),
    Ack0 { topic: NodeId, depth: Option<u8> },
    Post { topic: NodeId, post: u32, routed: bool },
    Timer,
}

impl What {
    fn from_msg(msg: TopicMsg) -> What {
        match msg {
            TopicMsg::Subscribe { topics } if topics.len() == 1 => What::Subscribe1(topics[0]),
            TopicMsg::Ack { topic, depth, recent } if recent.is_empty() => What::Ack0 { topic, depth },
            m => What::Msg(Box::new(m)),
        }
    }
}

struct Ev {
    from: u32,
    to: u32,
    what: What,
}

/// Bits of [`Scheduled::key`] below the time: the sequence number (FIFO among equal times).
const SEQ_BITS: u32 = 38;

/// A queued event, ordered by (time, sequence): `key` is `at << SEQ_BITS | seq`.
struct Scheduled {
    key: u64,
    ev: Ev,
}

const _: () = assert!(std::mem::size_of::<Scheduled>() <= 32);

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

struct World {
    ids: Vec<NodeId>,
    index: HashMap<NodeId, u32>,
    rings: Vec<RingTable>,
    tables: Vec<TopicTable>,
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    now: u64,
    sent: Vec<u64>,
    recv: Vec<u64>,
    /// Bytes of post copies (tree, routed, and a home's push to its leaves) sent per core.
    post_sent: Vec<u64>,
    /// First arrival (ms) of the current post at each core.
    arrival: Vec<Option<u64>>,
    post_frame: usize,
    timer_at: Vec<Option<u64>>,
    digest: bool,
    /// Control bytes sent by frame kind (see `TreeReport::idle_steady_bytes`).
    kind_bytes: [u64; 5],
}

fn msg_bytes(m: &TopicMsg) -> usize {
    CONTROL_FRAME_BASE
        + match m {
            TopicMsg::Subscribe { topics } | TopicMsg::Unsubscribe { topics } => topics.len() * TOPIC_KEY_BYTES,
            TopicMsg::Ack { recent, .. } => TOPIC_KEY_BYTES + 2 + recent.len() * ACK_ID_BYTES,
            TopicMsg::Redirect { .. } => 2 * TOPIC_KEY_BYTES,
            TopicMsg::Refused { .. } => TOPIC_KEY_BYTES,
            TopicMsg::Digest { check, .. } => {
                DIGEST_FRAME_BYTES - CONTROL_FRAME_BASE + check.len() * DIGEST_CHECK_BYTES
            }
            TopicMsg::Resync { .. } => RESYNC_FRAME_BYTES - CONTROL_FRAME_BASE,
        }
}

fn msg_kind(m: &TopicMsg) -> usize {
    match m {
        TopicMsg::Subscribe { .. } | TopicMsg::Unsubscribe { .. } => 0,
        TopicMsg::Ack { .. } => 1,
        TopicMsg::Digest { .. } => 2,
        TopicMsg::Resync { .. } => 3,
        TopicMsg::Redirect { .. } | TopicMsg::Refused { .. } => 4,
    }
}

impl World {
    fn schedule(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        assert!(at < 1 << (64 - SEQ_BITS) && self.seq < 1 << SEQ_BITS, "simulated time or events overflow the key");
        self.queue.push(Reverse(Scheduled { key: at << SEQ_BITS | self.seq, ev }));
    }
    fn arm(&mut self, i: u32) {
        let at = self.tables[i as usize].poll_timeout().0;
        if self.timer_at[i as usize].is_none_or(|t| at < t) {
            self.timer_at[i as usize] = Some(at);
            self.schedule(at, Ev { from: i, to: i, what: What::Timer });
        }
    }
    fn drain(&mut self, i: u32) {
        while let Some(o) = self.tables[i as usize].poll_output() {
            let (to, what, bytes) = match o {
                TopicOut::Send { to, msg } => {
                    let b = msg_bytes(&msg);
                    self.kind_bytes[msg_kind(&msg)] += b as u64;
                    (to, What::from_msg(msg), b)
                }
                TopicOut::Post { to, topic, id, routed } => {
                    let mut n = [0u8; 4];
                    n.copy_from_slice(&id.0[..4]);
                    (to, What::Post { topic, post: u32::from_le_bytes(n), routed }, self.post_frame + TREE_COPY_EXTRA)
                }
                // Repair fetches: no loss in this run, so a Want means a duplicate; not sent.
                TopicOut::Want { .. } => continue,
                // Delivered from the node's own cache: nothing travels (and this bench posts
                // only after every subscription is made).
                TopicOut::Relayed { .. } => continue,
            };
            let Some(&j) = self.index.get(&to) else { continue };
            self.sent[i as usize] += bytes as u64;
            if matches!(what, What::Post { .. }) {
                self.post_sent[i as usize] += bytes as u64;
            }
            self.recv[j as usize] += bytes as u64;
            let at = self.now + latency(self.ids[i as usize].0, to.0);
            self.schedule(at, Ev { from: i, to: j, what });
        }
        self.arm(i);
    }
    fn run_until(&mut self, end: u64) {
        while self.queue.peek().is_some_and(|Reverse(s)| s.key >> SEQ_BITS <= end) {
            let Some(Reverse(Scheduled { key, ev })) = self.queue.pop() else { break };
            let at = key >> SEQ_BITS;
            self.now = at;
            let (to, now) = (ev.to as usize, Instant(at));
            match ev.what {
                What::Timer => {
                    if self.timer_at[to] != Some(at) {
                        continue;
                    }
                    self.timer_at[to] = None;
                    let digest = self.digest;
                    self.tables[to].handle_timeout(&self.rings[to], now, &|_| digest);
                }
                What::Msg(m) => self.tables[to].handle_msg(&self.rings[to], self.ids[ev.from as usize], *m, now),
                What::Subscribe1(topic) => {
                    let m = TopicMsg::Subscribe { topics: vec![topic] };
                    self.tables[to].handle_msg(&self.rings[to], self.ids[ev.from as usize], m, now);
                }
                What::Ack0 { topic, depth } => {
                    let m = TopicMsg::Ack { topic, depth, recent: Vec::new() };
                    self.tables[to].handle_msg(&self.rings[to], self.ids[ev.from as usize], m, now);
                }
                What::Post { topic, post, routed } => {
                    let mut id = [0u8; 32];
                    id[..4].copy_from_slice(&post.to_le_bytes());
                    let from = Some(self.ids[ev.from as usize]);
                    if self.tables[to].handle_post(&self.rings[to], from, topic, MsgId(id), routed)
                        == PostVerdict::Fresh
                    {
                        self.arrival[to].get_or_insert(at);
                    }
                }
            }
            self.drain(ev.to);
        }
        self.now = self.now.max(end);
        // Give back the room of a burst (the heap never shrinks by itself).
        if self.queue.capacity() > QUEUE_KEEP && self.queue.len() < self.queue.capacity() / 4 {
            self.queue.shrink_to(QUEUE_KEEP.max(2 * self.queue.len()));
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted.get(((sorted.len().saturating_sub(1)) as f64 * p).round() as usize).copied().unwrap_or(0)
}

/// Run the scenario; `log` gets progress lines (the bench prints them).
pub fn run(cfg: &TreeConfig, log: &mut dyn FnMut(&str)) -> TreeReport {
    run_measured(cfg, log, None)
}

/// Drops `value` and returns how many bytes `live` says that freed.
fn freed<T>(live: &dyn Fn() -> usize, value: T) -> u64 {
    let before = live();
    drop(value);
    before.saturating_sub(live()) as u64
}

/// [`run`], and with `live` (the caller's live-heap counter, e.g. a counting global
/// allocator) the heap each component holds at the end, in [`TreeReport::heap`].
pub fn run_measured(cfg: &TreeConfig, log: &mut dyn FnMut(&str), live: Option<&dyn Fn() -> usize>) -> TreeReport {
    let mut rng = SplitMix64::new(cfg.seed);
    let n = cfg.nodes;
    let cores = (n * cfg.core_pct / 100).max(2);
    // Node i is a core if i < cores; its ring id is random.
    let node_ids: Vec<u64> = (0..n).map(|_| rng.next_u64()).collect();
    let mut peers: Vec<RingPeer> =
        (0..cores).map(|i| RingPeer { node: NodeId(node_ids[i]), prefix: rng.next_u64() >> 40 }).collect();
    peers.sort_by_key(|p| p.node);
    let ids: Vec<NodeId> = peers.iter().map(|p| p.node).collect();
    let index: HashMap<NodeId, u32> = ids.iter().enumerate().map(|(i, id)| (*id, i as u32)).collect();
    let rings: Vec<RingTable> = peers.iter().map(|p| RingTable::converged(*p, &peers)).collect();
    let tables: Vec<TopicTable> = ids.iter().map(|id| TopicTable::new(*id, Instant(0))).collect();
    let core_idx: Vec<usize> = (0..cores).map(|i| index[&NodeId(node_ids[i])] as usize).collect();
    let core_of = |i: usize| core_idx[i];
    // Homes: a core is its own home; a leaf gets two distinct random cores.
    let homes: Vec<[usize; 2]> = (0..n)
        .map(|i| {
            if i < cores {
                let c = core_of(i);
                [c, c]
            } else {
                let a = rng.below(cores as u64) as usize;
                let b = (a + 1 + rng.below(cores as u64 - 1) as usize) % cores;
                [a, b]
            }
        })
        .collect();
    // Follow graph: popularity rank r ↦ node perm[r].
    let mut perm: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut perm);
    let zipf = Zipf::new(n);
    let mut followers: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut follow_count = vec![0usize; n];
    for (i, count) in follow_count.iter_mut().enumerate() {
        let mut mine: Vec<usize> = (0..cfg.followees * 2).map(|_| perm[zipf.sample(&mut rng)]).collect();
        mine.sort_unstable();
        mine.dedup();
        mine.retain(|a| *a != i);
        mine.truncate(cfg.followees);
        *count = mine.len();
        for a in mine {
            followers[a].push(i as u32);
        }
    }
    let authors: Vec<Key32> = (0..n)
        .map(|i| {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&node_ids[i].to_le_bytes());
            Key32(k)
        })
        .collect();
    let (_, body) = crate::overlay::sim::fake_event(authors[0].0, 0, POST_BODY_BYTES, true);
    let post_frame = frame_len(&Msg::Gossip(Gossip { id: MsgId::UNSET, round: 3, kind: GossipKind::Event, body }));
    let mut w = World {
        ids,
        index,
        rings,
        tables,
        queue: BinaryHeap::new(),
        seq: 0,
        now: 0,
        sent: vec![0; cores],
        recv: vec![0; cores],
        post_sent: vec![0; cores],
        arrival: vec![None; cores],
        post_frame,
        timer_at: vec![None; cores],
        digest: cfg.digest,
        kind_bytes: [0; 5],
    };
    log(&format!("{n} nodes, {cores} cores: graph built"));

    // Joins: every home wants its leaves' and its owner's followees, spread over a minute.
    let mut wants: Vec<(u64, usize, NodeId)> = Vec::new();
    for (a, fs) in followers.iter().enumerate() {
        let topic = topic_of(&authors[a]);
        let mut hs: Vec<usize> = fs.iter().flat_map(|f| homes[*f as usize]).collect();
        hs.sort_unstable();
        hs.dedup();
        for h in hs {
            wants.push((rng.below(60_000), h, topic));
        }
    }
    wants.sort_unstable_by_key(|w| w.0);
    let join_subs = wants.len();
    for (at, h, topic) in wants {
        w.run_until(at);
        let ring = &w.rings[h];
        w.tables[h].want(ring, topic, Instant(at));
        w.drain(h as u32);
    }
    w.run_until(120_000);
    let topics: Vec<usize> = w.tables.iter().map(|t| t.len()).collect();
    let topics_mean = topics.iter().sum::<usize>() as f64 / cores as f64;
    log(&format!(
        "joined: {join_subs} home subscriptions, {} queued events left; topics per core: mean {topics_mean:.0}",
        w.queue.len()
    ));

    // Idle: one full refresh period, bytes counted.
    let (sent0, recv0, kinds0) = (w.sent.clone(), w.recv.clone(), w.kind_bytes);
    let (s0, r0): (u64, u64) = (w.sent.iter().sum(), w.recv.iter().sum());
    let t0 = w.now;
    w.run_until(t0 + TOPIC_REFRESH_MS);
    let idle = (w.sent.iter().sum::<u64>() - s0 + w.recv.iter().sum::<u64>() - r0) as f64;
    let idle_control_kb_min = idle / cores as f64 / 1_000.0 / (TOPIC_REFRESH_MS as f64 / 60_000.0);
    let idle_max = (0..cores).map(|c| w.sent[c] - sent0[c] + w.recv[c] - recv0[c]).max().unwrap_or(0);
    let idle_kb_min_max = idle_max as f64 / 1_000.0 / (TOPIC_REFRESH_MS as f64 / 60_000.0);
    log(&format!("tree control per core once joined: {idle_control_kb_min:.2} KB/min (busiest {idle_kb_min_max:.2})"));
    // The rest of the steady window, quiet acks included.
    w.run_until(t0 + IDLE_STEADY_MS);
    let steady: Vec<u64> = (0..cores).map(|c| w.sent[c] - sent0[c] + w.recv[c] - recv0[c]).collect();
    let per_min = |b: u64| b as f64 / 1_000.0 / (IDLE_STEADY_MS as f64 / 60_000.0);
    let idle_steady_kb_min = per_min(steady.iter().sum::<u64>()) / cores as f64;
    let idle_steady_kb_min_max = per_min(steady.iter().copied().max().unwrap_or(0));
    let mut idle_steady_bytes = [0u64; 5];
    for (k, b) in idle_steady_bytes.iter_mut().enumerate() {
        *b = w.kind_bytes[k] - kinds0[k];
    }
    log(&format!(
        "steady tree control per core over {} min: {idle_steady_kb_min:.2} KB/min (busiest {idle_steady_kb_min_max:.2})",
        IDLE_STEADY_MS / 60_000
    ));

    // Posts: the 5 most followed authors, then uniform ones; each after the last settled.
    let mut post_authors: Vec<usize> = perm.iter().take(5.min(cfg.posts)).copied().collect();
    while post_authors.len() < cfg.posts {
        post_authors.push(rng.below(n as u64) as usize);
    }
    let mut delays: Vec<u64> = Vec::new();
    let (mut leaf_due, mut leaf_got) = (vec![0u32; n - cores], vec![0u32; n - cores]);
    let mut rep = TreeReport { cores, ..TreeReport::default() };
    let (mut relays, mut fol_sum) = (0u64, 0u64);
    // Upload is measured over the uniform authors only (every node posts 10/day; the popular
    // five would otherwise stand for 5 / `posts` of all posts).
    let popular = 5.min(cfg.posts);
    let mut sent_before: Vec<u64> = w.post_sent.clone();
    let mut bcast_slowest = 0;
    let adj = random_graph(cores, &mut rng);
    for (p, &a) in post_authors.iter().enumerate() {
        if p == popular {
            sent_before.clone_from(&w.post_sent);
        }
        w.arrival.iter_mut().for_each(|x| *x = None);
        let topic = topic_of(&authors[a]);
        let start = w.now + 1;
        // The author's home publishes (a leaf's post reaches its first home after one link).
        let (home, lat) =
            if a < cores { (core_of(a), 0) } else { (homes[a][0], latency(node_ids[a], w.ids[homes[a][0]].0)) };
        w.run_until(start + lat);
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&(p as u32).to_le_bytes());
        w.arrival[home] = Some(w.now);
        let ring = &w.rings[home];
        let _ = w.tables[home].handle_post(ring, None, topic, MsgId(id), false);
        w.drain(home as u32);
        w.run_until(start + POST_WINDOW_MS);
        fol_sum += followers[a].len() as u64;
        for &f in &followers[a] {
            let f = f as usize;
            rep.follower_deliveries_due += 1;
            if f >= cores {
                leaf_due[f - cores] += 1;
            }
            let got = if f < cores {
                w.arrival[core_of(f)].map(|t| t - start)
            } else {
                homes[f]
                    .iter()
                    .filter_map(|h| w.arrival[*h].map(|t| t - start + latency(w.ids[*h].0, node_ids[f])))
                    .min()
            };
            if let Some(d) = got {
                rep.follower_deliveries_done += 1;
                delays.push(d);
                if f >= cores {
                    // The home's push to its leaf (payload and IHAVE share, as measured).
                    w.post_sent[homes[f][0]] += LEAF_BYTES_PER_POST as u64;
                    leaf_got[f - cores] += 1;
                }
            }
        }
        relays +=
            w.arrival.iter().enumerate().filter(|(c, t)| t.is_some() && !w.tables[*c].wants(topic)).count() as u64;
        bcast_slowest = bcast_slowest.max(broadcast_flood(&w.ids, &adj, home, &homes, &node_ids, start + lat) - start);
        if (p + 1) % 10 == 0 {
            // Progress, so a run stopped early still says something.
            log(&format!(
                "post {}: delivered {} of {}, slowest {} ms; leaves got {} of {} due",
                p + 1,
                rep.follower_deliveries_done,
                rep.follower_deliveries_due,
                delays.iter().max().copied().unwrap_or(0),
                leaf_got.iter().map(|x| u64::from(*x)).sum::<u64>(),
                leaf_due.iter().map(|x| u64::from(*x)).sum::<u64>()
            ));
        }
    }
    let (s0, r0): (u64, u64) = (w.sent.iter().sum(), w.recv.iter().sum());
    let t0 = w.now;
    w.run_until(t0 + TOPIC_REFRESH_MS);
    let after = (w.sent.iter().sum::<u64>() - s0 + w.recv.iter().sum::<u64>() - r0) as f64;
    rep.control_after_posts_kb_min = after / cores as f64 / 1_000.0 / (TOPIC_REFRESH_MS as f64 / 60_000.0);
    delays.sort_unstable();
    rep.slowest_ms = delays.last().copied().unwrap_or(0);
    rep.p99_ms = percentile(&delays, 0.99);
    rep.broadcast_slowest_ms = bcast_slowest;
    rep.followers_per_post = fol_sum as f64 / post_authors.len().max(1) as f64;
    rep.relays_per_post = relays as f64 / post_authors.len().max(1) as f64;
    rep.topics_mean = topics_mean;
    rep.topics_max = topics.iter().copied().max().unwrap_or(0);
    rep.depth_max = followers
        .iter()
        .enumerate()
        .flat_map(|(a, fs)| {
            let t = topic_of(&authors[a]);
            fs.iter().filter_map(|f| w.tables[homes[*f as usize][0]].depth(t)).collect::<Vec<_>>()
        })
        .max()
        .unwrap_or(0);
    // Upload: bytes the post run added per core, per post, scaled to n × 10 posts a day.
    let per_day = n as f64 * POSTS_PER_DAY / (post_authors.len() - popular).max(1) as f64;
    let up: Vec<f64> = (0..cores).map(|c| (w.post_sent[c] - sent_before[c]) as f64 * per_day / 1e6).collect();
    rep.core_upload_mb_day_mean = up.iter().sum::<f64>() / cores as f64;
    rep.core_upload_mb_day_max = up.iter().copied().fold(0.0, f64::max);
    let leaves_per_core = (n - cores) as f64 * 2.0 / cores as f64;
    let ihave = 40.0;
    let per_post_core =
        post_frame as f64 + (ACTIVE_VIEW as f64 - 2.0) * ihave + leaves_per_core / 2.0 * (post_frame as f64 + ihave);
    rep.broadcast_core_upload_mb_day = n as f64 * POSTS_PER_DAY * per_post_core / 1e6;
    let leaf_mb: Vec<f64> =
        (cores..n).map(|l| follow_count[l] as f64 * POSTS_PER_DAY * LEAF_BYTES_PER_POST / 1e6).collect();
    rep.leaf_mb_day_mean = leaf_mb.iter().sum::<f64>() / leaf_mb.len().max(1) as f64;
    rep.leaf_mb_day_max = leaf_mb.iter().copied().fold(0.0, f64::max);
    let idle_mb = LEAF_IDLE_BYTES_PER_MIN * 1_440.0 / 1e6;
    let leaf_run: Vec<f64> = leaf_mb
        .iter()
        .zip(leaf_due.iter().zip(&leaf_got))
        .map(|(mb, (due, got))| if *due == 0 { *mb } else { *mb * f64::from(*got) / f64::from(*due) } + idle_mb)
        .collect();
    rep.leaf_mb_day_run_mean = leaf_run.iter().sum::<f64>() / leaf_run.len().max(1) as f64;
    rep.leaf_mb_day_run_max = leaf_run.iter().copied().fold(0.0, f64::max);
    rep.leaf_followees_mean = follow_count[cores..].iter().sum::<usize>() as f64 / (n - cores).max(1) as f64;
    rep.broadcast_leaf_mb_day = n as f64 * POSTS_PER_DAY * 565.0 / 1e6;
    rep.idle_control_kb_min = idle_control_kb_min;
    rep.idle_steady_kb_min = idle_steady_kb_min;
    rep.idle_steady_kb_min_max = idle_steady_kb_min_max;
    rep.idle_steady_bytes = idle_steady_bytes;
    rep.idle_control_kb_min_max = idle_kb_min_max;
    for t in &w.tables {
        rep.false_roots += t.stats.false_root;
        rep.loops_cut += t.stats.loops_cut;
        rep.redirected += t.stats.redirected;
        rep.acks_saved += t.stats.acks_saved;
        let s = &t.stats;
        let d = [
            s.digests_matched,
            s.digests_mismatched,
            s.resyncs_asked,
            s.resyncs_answered,
            s.relist_dropped,
            s.news_acks,
            s.check_acks,
        ];
        for (a, b) in rep.digest_stats.iter_mut().zip(d) {
            *a += b;
        }
    }
    if let Some(live) = live {
        let World { rings, tables, queue, index, .. } = w;
        rep.heap = vec![
            ("topic tables", freed(live, tables)),
            ("ring tables", freed(live, rings)),
            ("event queue", freed(live, queue)),
            ("id index", freed(live, index)),
            ("follow graph", freed(live, (followers, follow_count))),
            ("delays", freed(live, delays)),
        ];
    }
    rep
}
