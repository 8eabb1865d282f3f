//! Forward first, readable at once (issue 11), with real server processes and a slow disk:
//! `NOSTRP2P_TEST_SYNC_GATE` makes every fsync of a node's event log wait while the gate file
//! exists. No timing is asserted: each test waits on state and proves an order.
//! - An owner's publish reaches the other node while its origin still waits for its disk,
//!   and the owner's `200` still waits for that fsync (nothing acknowledged before durable).
//! - A post received from the network is readable on `/req` while the receiver's fsync of it
//!   has not happened, and a clean stop still makes it durable.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::cluster::*;
use common::*;
use nostrp2p::event::json::to_client_json;
use nostrp2p::event::Event;
use nostrp2p::time::UnixTime;

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn post(secret: &str, text: &str) -> Event {
    Event::new_signed(&key(secret), UnixTime(now()), 1, vec![], text.into(), &[5; 32])
}

/// A node whose fsyncs wait while `gate` exists, with extra environment.
fn gated_node(owner: &str, dir: &TempDir, gate: &std::path::Path, boot: Option<&Node>, env: &[(&str, &str)]) -> Node {
    let mut opts = NodeOpts::new(owner, dir.path());
    opts.env.push(("NOSTRP2P_TEST_SYNC_GATE".into(), gate.display().to_string()));
    opts.env.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    if let Some(b) = boot {
        opts = opts.arg("-b").arg(&overlay_addr(b).to_string());
    }
    Node::start(opts)
}

#[test]
fn a_publish_is_forwarded_before_its_origin_fsyncs_and_acknowledged_after() {
    let dirs = [TempDir::new("ff-a"), TempDir::new("ff-b")];
    let gate = dirs[0].path().join("slow-disk");
    let a = gated_node(HEX_A, &dirs[0], &gate, None, &[]);
    let b = start_node(HEX_B, &dirs[1], Some(overlay_addr(&a)));
    wait_converged(&[&a, &b], 2);

    std::fs::write(&gate, b"closed").expect("close the gate");
    let ev = post(SECRET_A, "forwarded while the origin's disk is slow");
    let answered = Arc::new(AtomicBool::new(false));
    let publisher = {
        let (http, json, answered) = (a.http, to_client_json(&ev), Arc::clone(&answered));
        std::thread::spawn(move || {
            let status = HttpClient::connect(http).post("/publish", json.as_bytes()).status;
            answered.store(true, Ordering::SeqCst);
            status
        })
    };
    // Before the fix the origin fsynced first, so B could not see the post while the gate is shut.
    wait_until("B to show A's post while A's fsync waits", &[&a, &b], || has(&b, &ev));
    assert!(!answered.load(Ordering::SeqCst), "A answered /publish before its fsync could finish");

    std::fs::remove_file(&gate).expect("open the gate");
    assert_eq!(publisher.join().expect("publisher"), 200);
    assert!(has(&a, &ev));
}

#[test]
fn a_received_post_is_readable_before_the_receiver_fsyncs_and_durable_after_a_clean_stop() {
    let dirs = [TempDir::new("rf-a"), TempDir::new("rf-b")];
    let gate = dirs[1].path().join("slow-disk");
    let a = start_node(HEX_A, &dirs[0], None);
    // B's deferred sync would wait an hour: only the gate or a clean stop decides when it runs.
    let b = gated_node(HEX_B, &dirs[1], &gate, Some(&a), &[("NOSTRP2P_TEST_NET_SYNC_MS", "3600000")]);
    wait_converged(&[&a, &b], 2);

    std::fs::write(&gate, b"closed").expect("close the gate");
    let ev = post(SECRET_A, "readable before the receiver's fsync");
    publish(&a, &ev);
    // Before the fix B fsynced each received post inside its loop (stuck behind the gate), so
    // its /req could not answer.
    wait_until("B's /req to show the post its disk has not synced", &[&a, &b], || has(&b, &ev));

    std::fs::remove_file(&gate).expect("open the gate");
    let opts = b.opts.clone();
    assert!(b.terminate().success());
    let b = Node::start(opts);
    assert!(has(&b, &ev), "a clean stop syncs the received post");
}
