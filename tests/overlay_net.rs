//! Real processes on loopback: five `nostrp2p server`s form one overlay. A post published through
//! one node's HTTP API appears in every other node's `/req`; a like is unicast to the liked
//! user's server only; a killed node that restarts rejoins and catches new posts again.
//! Every wait is bounded polling on a condition, never a timed assertion.

mod common;

use std::time::{Duration, Instant};

use common::cluster::{ids, peers, publish, wait_until, WAIT};
use common::*;
use nostrp2p::event::Event;
use nostrp2p::hex;
use nostrp2p::keys::SecretKey;
use nostrp2p::time::UnixTime;

fn user(i: u8) -> SecretKey {
    SecretKey::from_bytes([i + 1; 32]).expect("valid test key")
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn event(key: &SecretKey, kind: u16, tags: Vec<Vec<String>>, content: &str) -> Event {
    Event::new_signed(key, UnixTime(now()), kind, tags, content.into(), &[7; 32])
}

fn has_event(node: &Node, id: &str) -> bool {
    ids(node).contains(id)
}

fn start(i: u8, dir: &TempDir, boot: Option<&Node>) -> Node {
    let mut opts = NodeOpts::new(&user(i).public_key().to_hex(), dir.path());
    if let Some(b) = boot {
        opts = opts.arg("-b").arg(&std::net::SocketAddr::new(b.opts.ip, b.opts.port).to_string());
    }
    Node::start(opts)
}

#[test]
fn five_processes_broadcast_unicast_and_heal() {
    let dirs: Vec<TempDir> = (0..5).map(|i| TempDir::new(&format!("overlay-{i}"))).collect();
    let first = start(0, &dirs[0], None);
    let mut nodes = vec![first];
    for i in 1..5u8 {
        let n = start(i, &dirs[i as usize], Some(&nodes[0]));
        nodes.push(n);
    }
    {
        let refs: Vec<&Node> = nodes.iter().collect();
        // Posts reach the nodes that are in the overlay when they are published (catch-up of
        // older posts is the Sync issue's job), so wait for the views to fill first.
        wait_until("every node to have 3 peers", &refs, || nodes.iter().all(|n| peers(n) >= 3));
    }

    // Broadcast: a post published on node 2 reaches every other node's /req.
    let post = event(&user(2), 1, vec![], "hello overlay");
    let id = hex::encode(&post.id.0);
    publish(&nodes[2], &post);
    {
        let refs: Vec<&Node> = nodes.iter().collect();
        wait_until("the post on every node", &refs, || nodes.iter().all(|n| has_event(n, &id)));
    }

    // Unicast: a like by user 3 of user 1's post goes to user 1's server only.
    let liked = event(&user(1), 1, vec![], "like me");
    publish(&nodes[1], &liked);
    let like = event(
        &user(3),
        7,
        vec![vec!["e".into(), hex::encode(&liked.id.0)], vec!["p".into(), user(1).public_key().to_hex()]],
        "+",
    );
    let like_id = hex::encode(&like.id.0);
    publish(&nodes[3], &like);
    {
        let refs: Vec<&Node> = nodes.iter().collect();
        wait_until("the like on user 1's server", &refs, || has_event(&nodes[1], &like_id));
    }
    assert!(!has_event(&nodes[4], &like_id), "a unicast like was broadcast");
    assert!(!has_event(&nodes[0], &like_id), "a unicast like was broadcast");

    // Heal: kill node 4 hard, restart it on the same address and data dir; it rejoins, and a
    // new post reaches it (and its own post reaches the others).
    let opts = nodes[4].opts.clone();
    let victim = nodes.pop().expect("five nodes");
    victim.kill();
    let back = Node::start(opts);
    nodes.push(back);
    {
        let refs: Vec<&Node> = nodes.iter().collect();
        wait_until("the restarted node to reconnect", &refs, || peers(&nodes[4]) >= 2);
    }
    let after = event(&user(0), 1, vec![], "after the restart");
    let after_id = hex::encode(&after.id.0);
    publish(&nodes[0], &after);
    let from_back = event(&user(4), 1, vec![], "I am back");
    let back_id = hex::encode(&from_back.id.0);
    publish(&nodes[4], &from_back);
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_until("posts across the restarted node", &refs, || {
        has_event(&nodes[4], &after_id) && nodes.iter().all(|n| has_event(n, &back_id))
    });
}

#[test]
fn owner_authorised_node_key_is_accepted() {
    let dir = TempDir::new("overlay-auth");
    let node_secret = [0x5a; 32];
    std::fs::write(dir.path().join("node.key"), hex::encode(&node_secret)).expect("write node key");
    let node_pub = nostrp2p::overlay::crypto::public_of(node_secret).expect("valid");
    let owner = user(9);
    let (code, json, err) = run_cli(&["authorize-node", &owner.to_hex(), &hex::encode(&node_pub.0), "30"]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(dir.path().join("node-auth.json"), json.trim()).expect("write auth");
    let node = Node::start(NodeOpts::new(&owner.public_key().to_hex(), dir.path()));
    let deadline = Instant::now() + WAIT;
    while !node.log_text().contains("node key authorised by the owner") {
        assert!(Instant::now() < deadline, "authorisation not accepted:\n{}", node.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Someone else's authorisation is refused (and the node still starts, unauthorised).
    let other = TempDir::new("overlay-auth-other");
    std::fs::write(other.path().join("node.key"), hex::encode(&node_secret)).expect("write node key");
    std::fs::write(other.path().join("node-auth.json"), json.trim()).expect("write auth");
    let stranger = Node::start(NodeOpts::new(&user(8).public_key().to_hex(), other.path()));
    let deadline = Instant::now() + WAIT;
    while !stranger.log_text().contains("not a valid, unexpired authorisation") {
        assert!(Instant::now() < deadline, "foreign authorisation accepted:\n{}", stranger.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
}
