//! Real processes on loopback: a `-b` bootstrap peer that does not work is not silent. Pointed
//! at a closed port, at a node's HTTP port, or at a listener that accepts and never answers,
//! a server shows `"bootstrap": {"state": "failed: …", "attempts": n}` in `/status`, keeps
//! retrying (attempts grow), and joins once a real node appears at that address. Waits are
//! bounded polling on `/status`, never on log wording or a fixed sleep.

mod common;

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::cluster::{overlay_addr, peers, start_node, status, wait_until};
use common::*;
use nostrp2p::keys::SecretKey;

/// The owner (hex) of node `i`.
fn owner(i: u8) -> String {
    SecretKey::from_bytes([i + 1; 32]).expect("valid test key").public_key().to_hex()
}

/// The node's bootstrap state and attempts, from `/status`.
fn bootstrap(node: &Node) -> (String, u64) {
    let s = status(node);
    let b = &s["bootstrap"];
    (b["state"].as_str().unwrap_or("").to_owned(), b["attempts"].as_u64().unwrap_or(0))
}

/// Waits until the node has failed at least twice in a row on its bootstrap (a retry
/// happened), and returns the state it shows.
fn wait_failing_with_retries(node: &Node) -> String {
    let mut state = String::new();
    wait_until("the bootstrap to fail and be retried", &[node], || {
        let (s, attempts) = bootstrap(node);
        state = s;
        state.starts_with("failed: ") && attempts >= 2
    });
    assert_eq!(peers(node), 0);
    state
}

fn wait_joined(node: &Node, other: &Node) {
    wait_until("the node to join through its bootstrap", &[node, other], || {
        bootstrap(node).0 == "joined" && peers(node) >= 1
    });
}

#[test]
fn a_closed_port_fails_visibly_and_the_node_joins_when_a_peer_appears_there() {
    let (dir_a, dir_b) = (TempDir::new("boot-closed-a"), TempDir::new("boot-closed-b"));
    // Node A's address, reserved but not started yet.
    let opts_a = NodeOpts::new(&owner(0), dir_a.path());
    let boot = SocketAddr::new(opts_a.ip, opts_a.port);
    let b = start_node(&owner(1), &dir_b, Some(boot));
    let state = wait_failing_with_retries(&b);
    assert_eq!(state, "failed: connection refused");
    assert_eq!(status(&b)["bootstrap"]["addr"].as_str(), Some(boot.to_string().as_str()));
    let a = Node::start(opts_a);
    wait_joined(&b, &a);
}

#[test]
fn the_http_port_by_mistake_fails_visibly() {
    let (dir_a, dir_b) = (TempDir::new("boot-http-a"), TempDir::new("boot-http-b"));
    let a = start_node(&owner(0), &dir_a, None);
    let b = start_node(&owner(1), &dir_b, Some(a.http));
    let state = wait_failing_with_retries(&b);
    eprintln!("-b at the HTTP port shows: {state}");
    assert!(peers(&a) == 0, "A's HTTP side is not an overlay peer");
}

/// A TCP listener that accepts connections and never sends a byte.
struct Silent {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Silent {
    fn start(ip: IpAddr, port: u16) -> Silent {
        let listener = TcpListener::bind((ip, port)).expect("bind the silent listener");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => held.push(s),
                    // Polling the flag; nothing waits on this interval.
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Silent { addr, stop, thread: Some(thread) }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_peer_that_never_answers_fails_visibly_and_the_node_joins_when_a_real_one_replaces_it() {
    let (dir_a, dir_b) = (TempDir::new("boot-silent-a"), TempDir::new("boot-silent-b"));
    let opts_a = NodeOpts::new(&owner(0), dir_a.path());
    let silent = Silent::start(opts_a.ip, opts_a.port);
    let b = start_node(&owner(1), &dir_b, Some(silent.addr));
    let state = wait_failing_with_retries(&b);
    assert_eq!(state, "failed: connected, but it never answered the overlay handshake");
    drop(silent);
    let a = Node::start(opts_a);
    assert_eq!(overlay_addr(&a), SocketAddr::new(a.opts.ip, a.opts.port));
    wait_joined(&b, &a);
}
