//! Follower multicast across real server processes on loopback (issue 10, docs/scaling.md
//! "Delivery"): two core servers A and B, and a leaf L (`NOSTRP2P_ROLE=leaf`,
//! `--delivery follow`) attached to both. L's owner follows A: L gets A's post and not C's;
//! after L's owner replaces A by C and D in a newer follow list (an unfollow of A), L gets C's
//! posts and no longer A's. Posts are published on B (`--accept-any-author`), so that one
//! server originates all of them. Every wait is on state (`/status`, timelines), never a sleep.

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
    assert_eq!(status(&l)["network"]["dropped"]["interest_limited"], 0);
}
