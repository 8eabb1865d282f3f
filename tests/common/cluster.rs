//! Helpers for tests with several real servers: start nodes that bootstrap from one another,
//! publish, look at `/req` and `/status`, and wait on conditions (bounded polling, no timed
//! assertions: the deadline only turns a hang into a failure with every node's log).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use nostrp2p::event::json::to_client_json;
use nostrp2p::event::msgpack::decode_events;
use nostrp2p::event::Event;
use nostrp2p::hex;

use super::{Node, NodeOpts, TempDir};

/// Bounded wait for network effects (generous: CI shares 2 cores with other tests).
pub const WAIT: Duration = Duration::from_secs(120);

const TIMELINE_ALL: &[u8] = br#"{"kinds":[40000],"since":-1,"until":-1,"limit":10000}"#;

/// Starts a node for `owner` (hex or npub) in `dir`, bootstrapping from `boot` if given.
pub fn start_node(owner: &str, dir: &TempDir, boot: Option<SocketAddr>) -> Node {
    let mut opts = NodeOpts::new(owner, dir.path());
    if let Some(b) = boot {
        opts = opts.arg("-b").arg(&b.to_string());
    }
    Node::start(opts)
}

/// The node's overlay address (for `-b`).
pub fn overlay_addr(node: &Node) -> SocketAddr {
    SocketAddr::new(node.opts.ip, node.opts.port)
}

/// Every event the node would show in a timeline.
pub fn timeline(node: &Node) -> Vec<Event> {
    let r = node.client().post("/req", TIMELINE_ALL);
    assert_eq!(r.status, 200, "{}", r.text());
    decode_events(&r.decoded_body()).expect("client layout").into_iter().map(|w| w.event).collect()
}

/// Ids (hex) in the node's timeline.
pub fn ids(node: &Node) -> BTreeSet<String> {
    timeline(node).iter().map(|e| hex::encode(&e.id.0)).collect()
}

pub fn has(node: &Node, ev: &Event) -> bool {
    ids(node).contains(&hex::encode(&ev.id.0))
}

pub fn status(node: &Node) -> serde_json::Value {
    let r = node.client().get("/status");
    serde_json::from_slice(&r.decoded_body()).unwrap_or_default()
}

pub fn peers(node: &Node) -> u64 {
    status(node)["peers"].as_u64().unwrap_or(0)
}

pub fn nodes_known(node: &Node) -> u64 {
    status(node)["network"]["nodes_known"].as_u64().unwrap_or(0)
}

pub fn publish(node: &Node, ev: &Event) {
    publish_json(node, &to_client_json(ev));
}

pub fn publish_json(node: &Node, json: &str) {
    let r = node.client().post("/publish", json.as_bytes());
    assert_eq!(r.status, 200, "publish on {}: {}", node.http, r.text());
}

/// Polls `cond` until it holds; panics with every node's log after [`WAIT`].
pub fn wait_until(what: &str, nodes: &[&Node], mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        if Instant::now() > deadline {
            let logs: Vec<String> = nodes.iter().map(|n| format!("== {}\n{}", n.http, n.log_text())).collect();
            panic!("timed out waiting for {what}; logs:\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until every node knows all `n` nodes (directory records, needed for unicast) and
/// has at least one peer.
pub fn wait_converged(nodes: &[&Node], n: u64) {
    wait_until("every node to know every node", nodes, || {
        nodes.iter().all(|node| nodes_known(node) >= n && peers(node) >= 1)
    });
}

/// Whether any file under `dir` contains `needle` (privacy checks on a node's disk).
pub fn dir_contains(dir: &std::path::Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            dir_contains(&p, needle)
        } else {
            std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
        }
    })
}
