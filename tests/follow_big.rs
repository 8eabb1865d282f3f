//! Issue 10's real-process check of follow delivery at size: `NOSTRP2P_BIG=1 cargo test --release
//! --test follow_big -- --nocapture` starts `NOSTRP2P_BIG_NODES` (default 100) server processes
//! on 127.x loopback addresses, a quarter core and the rest leaves, all in `--delivery follow`,
//! with a Zipf follow graph: every node follows 2–5 authors drawn with weight 1/rank (a few
//! popular authors, many quiet ones, cores and leaves alike). Once every home holds its leaves'
//! sets and every tree is attached, every followed author posts once; every follower must get
//! each followee's post, no non-following leaf (nor a core with no leaf followers) may store
//! it, and no post may be stored by more cores than its author, its core followers and the
//! homes of its leaf author and leaf followers (broadcast would put it on every core). Prints
//! join and subscribe time, the slowest delivery and the bytes sent per node. Skipped (passes
//! at once) without the flag: it takes minutes on a shared 2-core machine. Waits are on
//! state, never a sleep.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use common::cluster::*;
use common::*;
use nostrp2p::event::{Event, KIND_FOLLOW_LIST, KIND_POST};
use nostrp2p::time::UnixTime;

fn secret(i: usize) -> String {
    format!("{:064x}", 0x5eed_0000 + i)
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn signed(i: usize, kind: u16, tags: Vec<Vec<String>>, content: &str) -> Event {
    Event::new_signed(&key(&secret(i)), UnixTime(now()), kind, tags, content.into(), &[3; 32])
}

/// A small deterministic generator (the graph is the same every run).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn delivery(node: &Node, field: &str) -> Option<u64> {
    status(node)["network"]["delivery"][field].as_u64()
}

#[test]
fn a_hundred_processes_deliver_to_followers_only() {
    if std::env::var_os("NOSTRP2P_BIG").is_none() {
        eprintln!("follow_big: skipped (set NOSTRP2P_BIG=1)");
        return;
    }
    let n: usize = std::env::var("NOSTRP2P_BIG_NODES").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let cores = (n / 4).max(4);
    let t_start = Instant::now();
    let dirs: Vec<TempDir> = (0..n).map(|i| TempDir::new(&format!("big-{i}"))).collect();
    let hex: Vec<String> = (0..n).map(|i| key(&secret(i)).public_key().to_hex()).collect();
    let mut rng = Lcg(42);
    let mut nodes: Vec<Node> = Vec::with_capacity(n);
    for i in 0..n {
        let mut opts = NodeOpts::new(&hex[i], dirs[i].path()).arg("--delivery").arg("follow");
        if i > 0 {
            let boot = &nodes[rng.below(i.min(cores))];
            opts = opts.arg("-b").arg(&overlay_addr(boot).to_string());
        }
        if i >= cores {
            opts.env.push(("NOSTRP2P_ROLE".into(), "leaf".into()));
        }
        nodes.push(Node::start(opts));
    }
    wait_big("cores know every core, leaves attached", &nodes, || {
        nodes[..cores].iter().all(|c| status(c)["network"]["role"] == "core" && nodes_known(c) >= cores as u64)
            && nodes[cores..].iter().all(|l| status(l)["network"]["role"] == "leaf" && peers(l) >= 1)
    });
    let t_joined = t_start.elapsed();

    // The follow graph (Zipf): authors ranked by a fixed shuffle, each node (core or leaf)
    // follows 2–5 of them drawn with weight 1/rank: a few popular authors, many quiet ones.
    let mut rank: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        rank.swap(i, rng.below(i + 1));
    }
    let weights: Vec<f64> = (1..=n).map(|r| 1.0 / r as f64).collect();
    let total: f64 = weights.iter().sum();
    let mut follows: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for f in 0..n {
        let k = 2 + rng.below(4);
        let set = follows.entry(f).or_default();
        for _ in 0..k {
            let mut x = rng.below(1_000_000) as f64 / 1_000_000.0 * total;
            let mut r = 0;
            while r + 1 < n && x >= weights[r] {
                x -= weights[r];
                r += 1;
            }
            if rank[r] != f {
                set.insert(rank[r]);
            }
        }
    }
    for (&f, set) in &follows {
        let tags = set.iter().map(|a| vec!["p".to_string(), hex[*a].clone()]).collect();
        publish(&nodes[f], &signed(f, KIND_FOLLOW_LIST, tags, ""));
    }
    // A leaf sends a changed set to its homes at most every 15 s: the posts go out once every
    // home holds it (the cores' per-leaf sets, summed, match the leaves' sets times their
    // homes) and every core is attached to each tree it holds.
    wait_big("every home holds its leaves' sets and every tree is attached", &nodes, || {
        let want: u64 =
            follows.iter().filter(|(f, _)| **f >= cores).map(|(f, set)| set.len() as u64 * peers(&nodes[*f])).sum();
        let held: u64 = nodes[..cores].iter().map(|c| delivery(c, "leaf_followees").unwrap_or(0)).sum();
        follows.iter().all(|(f, set)| delivery(&nodes[*f], "following") == Some(set.len() as u64))
            && held == want
            && nodes[..cores]
                .iter()
                .all(|c| delivery(c, "topics").is_some() && delivery(c, "topics") == delivery(c, "topics_attached"))
    });
    let t_subscribed = t_start.elapsed();
    let sent_before: Vec<u64> = nodes.iter().map(bytes_sent).collect();

    // Every author that has a follower posts once, on its own server.
    let authors: BTreeSet<usize> = follows.values().flatten().copied().collect();
    let posts: Vec<(usize, Event)> =
        authors.iter().map(|&a| (a, signed(a, KIND_POST, vec![], &format!("post by {a}")))).collect();
    let t_post = Instant::now();
    for (a, ev) in &posts {
        publish(&nodes[*a], ev);
    }
    let id_hex = |ev: &Event| nostrp2p::hex::encode(&ev.id.0);
    // When each (follower, post) pair was first seen (polling: an upper bound on the delay).
    let mut seen_at: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    let deadline = Instant::now() + BIG_WAIT;
    let gaps = loop {
        let mut gaps = Vec::new();
        for (f, set) in &follows {
            let have = ids(&nodes[*f]);
            let at = t_post.elapsed().as_secs_f64();
            for (a, ev) in posts.iter().filter(|(a, _)| set.contains(a)) {
                if seen_at.contains_key(&(*f, *a)) {
                    continue;
                }
                if have.contains(&id_hex(ev)) {
                    seen_at.insert((*f, *a), at);
                } else {
                    gaps.push((*f, *a, id_hex(ev)));
                }
            }
        }
        if gaps.is_empty() || Instant::now() > deadline {
            break gaps;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(gaps.is_empty(), "followers still miss posts: {}", diagnose(&nodes, cores, &gaps));
    let done_at = seen_at.values().copied().fold(0.0, f64::max);
    let sent_after: Vec<u64> = nodes.iter().map(bytes_sent).collect();
    // Strangers: nodes that neither wrote nor follow the post. A leaf must not have it; a core
    // may (it may be a follower's home), but one with no leaf followers at all must not.
    let mut pairs = 0;
    let mut strangers = Vec::new();
    for (f, set) in &follows {
        let have = ids(&nodes[*f]);
        let bare_core = *f < cores && delivery(&nodes[*f], "leaf_followees") == Some(0);
        for (a, ev) in &posts {
            if a != f && !set.contains(a) && (*f >= cores || bare_core) {
                pairs += 1;
                if have.contains(&id_hex(ev)) {
                    strangers.push((*f, *a));
                }
            }
        }
    }
    let core_has: Vec<BTreeSet<String>> = nodes[..cores].iter().map(ids).collect();
    let storing: Vec<usize> =
        posts.iter().map(|(_, ev)| core_has.iter().filter(|h| h.contains(&id_hex(ev))).count()).collect();
    // A core may store a post only as its author, a follower, or a home of the leaf author or
    // of a leaf follower: more cores than that means it was broadcast.
    let homes: Vec<usize> = nodes.iter().map(|x| peers(x) as usize).collect();
    let bound = |a: usize| -> usize {
        let fans = follows.iter().filter(|(_, set)| set.contains(&a));
        let via = fans.map(|(f, _)| if *f < cores { 1 } else { homes[*f] }).sum::<usize>();
        (via + if a < cores { 1 } else { homes[a] }).min(cores)
    };
    let overstored: Vec<(usize, usize, usize)> = posts
        .iter()
        .zip(&storing)
        .filter(|((a, _), k)| **k > bound(*a))
        .map(|((a, _), k)| (*a, *k, bound(*a)))
        .collect();
    let pairs_followed: usize = follows.values().map(BTreeSet::len).sum();
    let per_node = |v: &[u64]| v.iter().sum::<u64>() as f64 / n as f64 / 1024.0;
    let posting: Vec<u64> = sent_after.iter().zip(&sent_before).map(|(a, b)| a.saturating_sub(*b)).collect();
    let mut popularity: Vec<usize> =
        authors.iter().map(|a| follows.values().filter(|s| s.contains(a)).count()).collect();
    popularity.sort_unstable_by(|a, b| b.cmp(a));
    eprintln!(
        "follow_big: {n} processes ({cores} core, {} leaves), {} posts, {pairs_followed} follower×followee pairs \
         (followers per author, top 5: {:?}); joined in {:.0} s, subscribed in {:.0} s; delivery {} of \
         {pairs_followed} pairs, slowest {done_at:.1} s after publishing; {} of {pairs} stranger pairs received \
         it; cores storing a post, mean {:.1} of {cores}; bytes sent per node: {:.0} KiB to join and \
         subscribe, {:.1} KiB while posting (max {:.1} KiB)",
        n - cores,
        posts.len(),
        &popularity[..popularity.len().min(5)],
        t_joined.as_secs_f64(),
        t_subscribed.as_secs_f64(),
        seen_at.len(),
        strangers.len(),
        storing.iter().sum::<usize>() as f64 / storing.len().max(1) as f64,
        per_node(&sent_before),
        per_node(&posting),
        posting.iter().copied().max().unwrap_or(0) as f64 / 1024.0,
    );
    assert!(strangers.is_empty(), "non-followers got posts of authors they do not follow: {strangers:?}");
    assert!(
        overstored.is_empty(),
        "cores stored posts of authors none of their leaves follow (author, cores storing, bound): {overstored:?}"
    );
}

/// Bytes the node sent to peers (stream frames and datagrams), from `/status`.
fn bytes_sent(node: &Node) -> u64 {
    let t = &status(node)["network"]["transport"];
    t["stream_bytes_sent"].as_u64().unwrap_or(0) + t["datagram_bytes_sent"].as_u64().unwrap_or(0)
}

/// A hundred processes on two shared cores take minutes to join: a longer bound than `WAIT`.
const BIG_WAIT: std::time::Duration = std::time::Duration::from_secs(900);

/// Polls `cond` until it holds; panics after [`BIG_WAIT`] with the first node's log.
fn wait_big(what: &str, nodes: &[Node], mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + BIG_WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}; node 0's log:\n{}", nodes[0].log_text());
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// What went wrong for each (follower, author, post) still missing: every node's log lines
/// naming the post (ids are logged by their first 4 bytes) and the follower's homes.
fn diagnose(nodes: &[Node], cores: usize, gaps: &[(usize, usize, String)]) -> String {
    let mut out = format!(
        "{} missing (follower, author): {:?}\n",
        gaps.len(),
        gaps.iter().map(|g| (g.0, g.1)).collect::<Vec<_>>()
    );
    let short: BTreeSet<&str> = gaps.iter().map(|g| &g.2[..8]).collect();
    for (i, n) in nodes.iter().enumerate() {
        let role = if i < cores { "core" } else { "leaf" };
        let st = status(n);
        out += &format!("== node {i} ({role}) id {} delivery {}\n", st["node_id"], st["network"]["delivery"]);
        for line in n.log_text().lines().filter(|l| short.iter().any(|s| l.contains(s))) {
            out += line;
            out += "\n";
        }
    }
    out
}
