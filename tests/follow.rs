//! Follower multicast across real server processes on loopback (issue 10, docs/scaling.md
//! "Delivery"): two core servers A and B, and a leaf L (`NOSTRP2P_ROLE=leaf`,
//! `--delivery follow`) attached to both. L's owner follows A: L gets A's post and not C's;
//! after L's owner replaces A by C and D in a newer follow list (an unfollow of A), L gets C's
//! posts and no longer A's, and C's post from before the follow (its homes push a new
//! followee's recent posts when they learn the new set). Posts are published on B (`--accept-any-author`), so that one
//! server originates all of them. Every wait is on state (`/status`, timelines), never a sleep.
//!
//! The second test runs four core servers in `--delivery follow` (per-author trees among cores,
//! docs/scaling.md "Per-author trees"): a core whose owner follows an author gets the author's
//! post over the tree, a core whose owner does not never stores it, a quote repost reaches the
//! quoted author's core, and an unfollow stops it.
//! The third restarts a follow-mode core and checks it catches up on what it missed by asking
//! its followee's tree (`/status` counts the events from the tree and the author's server).

mod common;

use common::cluster::*;
use common::*;
use nostrp2p::event::{Event, KIND_FOLLOW_LIST, KIND_POST};
use nostrp2p::time::UnixTime;

const SECRET_L: &str = "4444444444444444444444444444444444444444444444444444444444444444";
const SECRET_D: &str = "5555555555555555555555555555555555555555555555555555555555555555";

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn signed_at(secret: &str, at: u64, kind: u16, tags: Vec<Vec<String>>, content: &str) -> Event {
    Event::new_signed(&key(secret), UnixTime(at), kind, tags, content.into(), &[3; 32])
}

fn follow_list(at: u64, follows: &[&str]) -> Event {
    let tags = follows.iter().map(|h| vec!["p".to_string(), h.to_string()]).collect();
    signed_at(SECRET_L, at, KIND_FOLLOW_LIST, tags, "")
}

/// Followees the home `node` holds for its leaves, summed (`/status`).
fn leaf_followees(node: &Node) -> u64 {
    status(node)["network"]["delivery"]["leaf_followees"].as_u64().unwrap_or(0)
}

/// True when L follows `n` authors and every home it is linked to holds that set.
fn homes_holding(cores: &[&Node], l: &Node, n: u64) -> bool {
    let linked = peers(l);
    let holding = cores.iter().filter(|c| leaf_followees(c) == n).count() as u64;
    status(l)["network"]["delivery"]["following"] == n && linked >= 1 && holding >= linked
}

#[test]
fn a_follow_leaf_gets_its_followees_posts_only_and_unfollow_stops_them() {
    let dirs = [TempDir::new("follow-a"), TempDir::new("follow-b"), TempDir::new("follow-l")];
    let a = start_node(HEX_A, &dirs[0], None);
    let b = Node::start(
        NodeOpts::new(HEX_B, dirs[1].path()).arg("-b").arg(&overlay_addr(&a).to_string()).arg("--accept-any-author"),
    );
    let l_hex = key(SECRET_L).public_key().to_hex();
    let mut opts = NodeOpts::new(&l_hex, dirs[2].path())
        .arg("-b")
        .arg(&overlay_addr(&a).to_string())
        .arg("--delivery")
        .arg("follow");
    opts.env.push(("NOSTRP2P_ROLE".into(), "leaf".into()));
    let l = Node::start(opts);
    let all = [&a, &b, &l];
    wait_until("a leaf attached to core homes", &all, || {
        status(&a)["network"]["role"] == "core"
            && status(&b)["network"]["role"] == "core"
            && status(&l)["network"]["role"] == "leaf"
            && peers(&l) >= 1
    });
    assert_eq!(status(&l)["network"]["delivery"]["setting"], "follow");

    // L's owner follows A: both homes hold the one-author set before anything is posted.
    let t0 = now();
    publish(&l, &follow_list(t0, &[HEX_A]));
    wait_until("L's homes hold its set {A}", &all, || homes_holding(&[&a, &b], &l, 1));

    let stranger = signed_at(SECRET_C, now(), KIND_POST, vec![], "C posts; L does not follow C");
    let followee = signed_at(SECRET_A, now(), KIND_POST, vec![], "A posts; L follows A");
    publish(&b, &stranger);
    publish(&b, &followee);
    // Both homes have the stranger's post, and L has the followee's post sent after it by the
    // same origin: a home that forwarded the stranger's post would have done so by now.
    wait_until("A's post at L, C's post at both homes", &all, || {
        has(&l, &followee) && has(&a, &stranger) && has(&b, &stranger)
    });
    assert!(!has(&l, &stranger), "a leaf in follow mode received a post of an author it does not follow");

    // Unfollow A, follow C and D instead (a newer kind 3 replaces the old one).
    publish(&l, &follow_list(t0 + 1, &[HEX_C, &key(SECRET_D).public_key().to_hex()]));
    wait_until("L's homes hold its new set {C, D}", &all, || homes_holding(&[&a, &b], &l, 2));
    let unfollowed = signed_at(SECRET_A, now(), KIND_POST, vec![], "A posts after L unfollowed A");
    let newly = signed_at(SECRET_C, now(), KIND_POST, vec![], "C posts; L follows C now");
    publish(&b, &unfollowed);
    publish(&b, &newly);
    wait_until("C's post at L, A's new post at both homes", &all, || {
        has(&l, &newly) && has(&a, &unfollowed) && has(&b, &unfollowed)
    });
    assert!(!has(&l, &unfollowed), "an unfollowed author's post still reached the leaf");
    // C's first post reached both homes before L followed C: when a home learns the new set
    // it pushes the newly followed authors' recent posts it holds.
    wait_until("C's post from before the follow at L", &all, || has(&l, &stranger));
    assert_eq!(status(&l)["network"]["dropped"]["interest_limited"], 0);
}

fn tree_status(node: &Node, field: &str) -> Option<u64> {
    status(node)["network"]["delivery"][field].as_u64()
}

fn core_follow(owner: &str, dir: &TempDir, boot: Option<&Node>, any_author: bool) -> Node {
    let mut opts = NodeOpts::new(owner, dir.path()).arg("--delivery").arg("follow");
    if let Some(b) = boot {
        opts = opts.arg("-b").arg(&overlay_addr(b).to_string());
    }
    if any_author {
        opts = opts.arg("--accept-any-author");
    }
    Node::start(opts)
}

#[test]
fn follow_mode_cores_get_their_followees_posts_over_the_trees_and_nothing_else() {
    let dirs: Vec<TempDir> = (0..4).map(|i| TempDir::new(&format!("trees-{i}"))).collect();
    let hex_d = key(SECRET_D).public_key().to_hex();
    let hex_x = key(SECRET_L).public_key().to_hex();
    let a = core_follow(HEX_A, &dirs[0], None, true);
    let b = core_follow(HEX_B, &dirs[1], Some(&a), false);
    let c = core_follow(HEX_C, &dirs[2], Some(&a), false);
    let d = core_follow(&hex_d, &dirs[3], Some(&b), false);
    let all = [&a, &b, &c, &d];
    wait_until("four cores that know each other", &all, || {
        all.iter().all(|n| status(n)["network"]["role"] == "core" && nodes_known(n) >= 4)
    });
    // B's owner follows A, C's owner follows X (whose posts are also published on A).
    let t0 = now();
    let follows_of = |secret: &str, at: u64, list: &[&str]| {
        let tags = list.iter().map(|h| vec!["p".to_string(), h.to_string()]).collect();
        signed_at(secret, at, KIND_FOLLOW_LIST, tags, "")
    };
    publish(&b, &follows_of(SECRET_B, t0, &[HEX_A]));
    publish(&c, &follows_of(SECRET_C, t0, &[&hex_x]));
    let attached =
        |n: &Node| tree_status(n, "topics").is_some() && tree_status(n, "topics") == tree_status(n, "topics_attached");
    wait_until("B and C subscribed (own topic + one followee), every tree attached", &all, || {
        tree_status(&b, "topics_wanted") == Some(2)
            && tree_status(&c, "topics_wanted") == Some(2)
            && all.iter().all(|n| attached(n))
    });

    let p1 = signed_at(SECRET_A, now(), KIND_POST, vec![], "A posts; B follows A");
    let x1 = signed_at(SECRET_L, now(), KIND_POST, vec![], "X posts; C follows X");
    publish(&a, &p1);
    publish(&a, &x1);
    wait_until("A's post at B, X's post at C", &all, || has(&b, &p1) && has(&c, &x1));
    assert!(!has(&c, &p1) && !has(&d, &p1), "a core whose owner does not follow A stored A's post");
    assert!(!has(&b, &x1) && !has(&d, &x1), "a core whose owner does not follow X stored X's post");

    // X quotes a post of D's owner, who follows nobody: the quote reaches D's core like a
    // reply (docs/scaling.md "Delivery": `quoted_author`), X's followers (C) over the tree as
    // before, and no other core.
    let quoted = "ab".repeat(32);
    let tags = vec![
        vec!["e".to_string(), quoted, String::new(), "mention".to_string()],
        vec!["p".to_string(), hex_d.clone()],
        vec!["q".to_string()],
    ];
    let quote = signed_at(SECRET_L, now(), KIND_POST, tags, "X quotes D");
    publish(&a, &quote);
    wait_until("X's quote of D at D and at C", &all, || has(&d, &quote) && has(&c, &quote));
    assert!(!has(&b, &quote), "a core whose owner neither follows X nor was quoted stored the quote");

    // B's owner unfollows A (a newer follow list: X and C instead).
    publish(&b, &follows_of(SECRET_B, t0 + 1, &[&hex_x, HEX_C]));
    wait_until("B resubscribed (own topic + X + C)", &all, || {
        tree_status(&b, "topics_wanted") == Some(3) && all.iter().all(|n| attached(n))
    });
    let p2 = signed_at(SECRET_A, now(), KIND_POST, vec![], "A posts after B unfollowed A");
    let x2 = signed_at(SECRET_L, now(), KIND_POST, vec![], "X posts again");
    publish(&a, &p2);
    publish(&a, &x2);
    wait_until("X's new post at B and C", &all, || has(&b, &x2) && has(&c, &x2));
    assert!(!has(&b, &p2), "an unfollowed author's post still reached B");
    assert!(status(&b)["network"]["delivery"]["active"] == "follow");
}

/// Events a node received in answers to its follow-mode catch-up, from its trees' parents and
/// from its followees' own servers (`/status`).
fn catchup_events(node: &Node) -> u64 {
    let d = &status(node)["network"]["delivery"];
    d["catchup_from_tree"].as_u64().unwrap_or(0) + d["catchup_from_author"].as_u64().unwrap_or(0)
}

#[test]
fn a_restarted_follow_core_catches_up_on_its_followees_posts_along_their_trees() {
    // A's owner posts; B and C follow A; D follows nobody. B stops, A posts more than a tree
    // ack announces (`TOPIC_RECENT` = 4), B restarts: it asks A's tree (its parent there, or
    // A's own server when the parent does not store A), not two random neighbours.
    let dirs: Vec<TempDir> = (0..4).map(|i| TempDir::new(&format!("catchup-{i}"))).collect();
    let hex_d = key(SECRET_D).public_key().to_hex();
    let a = core_follow(HEX_A, &dirs[0], None, false);
    let b = core_follow(HEX_B, &dirs[1], Some(&a), false);
    let c = core_follow(HEX_C, &dirs[2], Some(&a), false);
    let d = core_follow(&hex_d, &dirs[3], Some(&b), false);
    let attached =
        |n: &Node| tree_status(n, "topics").is_some() && tree_status(n, "topics") == tree_status(n, "topics_attached");
    {
        let all = [&a, &b, &c, &d];
        wait_until("four cores that know each other", &all, || {
            all.iter().all(|n| status(n)["network"]["role"] == "core" && nodes_known(n) >= 4)
        });
        let t0 = now();
        for (node, secret) in [(&b, SECRET_B), (&c, SECRET_C)] {
            let tags = vec![vec!["p".to_string(), HEX_A.to_string()]];
            publish(node, &signed_at(secret, t0, KIND_FOLLOW_LIST, tags, ""));
        }
        wait_until("B and C on A's tree", &all, || {
            tree_status(&b, "topics_wanted") == Some(2)
                && tree_status(&c, "topics_wanted") == Some(2)
                && all.iter().all(|n| attached(n))
        });
        let first = signed_at(SECRET_A, now(), KIND_POST, vec![], "A posts while B is up");
        publish(&a, &first);
        wait_until("A's first post at B and C", &all, || has(&b, &first) && has(&c, &first));
    }
    let b_opts = b.opts.clone();
    assert!(b.terminate().success());

    let t1 = now();
    let missed: Vec<Event> =
        (0..6).map(|i| signed_at(SECRET_A, t1 - 6 + i, KIND_POST, vec![], &format!("missed {i}"))).collect();
    for p in &missed {
        publish(&a, p);
    }
    wait_until("the posts B missed at C", &[&a, &c, &d], || missed.iter().all(|p| has(&c, p)));

    let b = Node::start(b_opts);
    let all = [&a, &b, &c, &d];
    wait_until("B caught up on every post it missed", &all, || missed.iter().all(|p| has(&b, p)));
    let delivery = &status(&b)["network"]["delivery"];
    let (tree, author) = (&delivery["catchup_from_tree"], &delivery["catchup_from_author"]);
    eprintln!("B's catch-up: {tree} events from the tree, {author} from A's server");
    assert!(catchup_events(&b) >= missed.len() as u64, "B's missed posts did not come by its follow catch-up");
    assert!(missed.iter().all(|p| !has(&d, p)), "a core that does not follow A stored A's post");
}

/// Four core servers in `--delivery auto` with the threshold lowered to 2 nodes
/// (`NOSTRP2P_AUTO_MIN_NODES`, so 4 known nodes is twice it: the `Trees` level, publishing on
/// the trees only). D's owner follows nobody: D subscribes to the public sample, which at 4
/// nodes carries every post; B's and C's owners follow each other and get only that.
#[test]
fn auto_cores_switch_to_the_trees_and_a_newcomer_gets_the_sample() {
    let dirs: Vec<TempDir> = (0..4).map(|i| TempDir::new(&format!("auto-{i}"))).collect();
    let hex_d = key(SECRET_D).public_key().to_hex();
    let start = |owner: &str, dir: &TempDir, boot: Option<&Node>, any_author: bool| {
        let mut opts = NodeOpts::new(owner, dir.path());
        if let Some(b) = boot {
            opts = opts.arg("-b").arg(&overlay_addr(b).to_string());
        }
        if any_author {
            opts = opts.arg("--accept-any-author");
        }
        opts.env.push(("NOSTRP2P_AUTO_MIN_NODES".into(), "2".into()));
        Node::start(opts)
    };
    let a = start(HEX_A, &dirs[0], None, true);
    let b = start(HEX_B, &dirs[1], Some(&a), false);
    let c = start(HEX_C, &dirs[2], Some(&a), false);
    let d = start(&hex_d, &dirs[3], Some(&b), false);
    let all = [&a, &b, &c, &d];
    let t0 = now();
    let follows_of = |secret: &str, at: u64, list: &[&str]| {
        let tags = list.iter().map(|h| vec!["p".to_string(), h.to_string()]).collect();
        signed_at(secret, at, KIND_FOLLOW_LIST, tags, "")
    };
    publish(&a, &follows_of(SECRET_A, t0, &[HEX_B]));
    publish(&b, &follows_of(SECRET_B, t0, &[HEX_C]));
    publish(&c, &follows_of(SECRET_C, t0, &[HEX_B]));
    let delivery = |n: &Node| status(n)["network"]["delivery"].clone();
    let attached =
        |n: &Node| tree_status(n, "topics").is_some() && tree_status(n, "topics") == tree_status(n, "topics_attached");
    wait_until("four auto cores at the trees level, D on the sample tree", &all, || {
        all.iter().all(|n| delivery(n)["auto_level"] == "trees" && attached(n))
            && delivery(&d)["sample"]["subscribed"] == true
            && delivery(&d)["sample"]["attached"] == true
            && tree_status(&b, "topics_wanted") == Some(2)
            && tree_status(&c, "topics_wanted") == Some(2)
    });
    assert_eq!(delivery(&b)["sample"]["subscribed"], false, "B's owner follows someone");
    assert_eq!(delivery(&b)["active"], "follow");

    let stranger = signed_at(SECRET_L, now(), KIND_POST, vec![], "X posts; nobody follows X");
    let followed = signed_at(SECRET_C, now(), KIND_POST, vec![], "C posts; B follows C");
    publish(&a, &stranger);
    publish(&a, &followed);
    wait_until("C's post at B, both posts at D (the sample)", &all, || {
        has(&b, &followed) && has(&d, &followed) && has(&d, &stranger)
    });
    assert!(!has(&b, &stranger) && !has(&c, &stranger), "a core that follows others stored a stranger's post");
    assert!(delivery(&a)["sample"]["entered"].as_u64().unwrap_or(0) >= 2, "{}", delivery(&a));
}
