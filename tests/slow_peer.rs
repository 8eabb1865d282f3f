//! Real server, raw core peers on loopback (issue 8, "never punishes an honest peer"): a burst
//! the server fans out itself must never cost a peer that reads its link, and a peer that does
//! not read at all is still closed within a bound.
//!
//! Four raw core peers join the server's active view and wait until their links count as relay
//! links (`RELAY_TRUST_MS`); then each floods one flood-guard burst (`CONN_PAYLOAD_BURST`) of
//! distinct events at once, so the server forwards every event to the other three while their
//! writer queues cannot hold the burst. Each reading peer must keep its link and get, for every
//! event of the others, either the event or an `IHave` for it (nothing is lost silently). A
//! fifth peer never reads (receive buffer shrunk): after a flood of large events fills its
//! socket, the server closes it within `SLOW_PEER_STALL` and keeps the readers.
//! Every wait is bounded polling on a condition; socket timeouts only turn a hang into a failure.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::{peers, wait_until};
use common::raw::{now, user, RawPeer};
use common::{Node, NodeOpts, TempDir};
use nostrp2p::event::{packed, Event};
use nostrp2p::keys::SecretKey;
use nostrp2p::net::SLOW_PEER_STALL;
use nostrp2p::overlay::params::{CONN_PAYLOAD_BURST, CONN_PAYLOAD_PER_S, RELAY_TRUST_MS};
use nostrp2p::time::UnixTime;
use nostrp2p::wire::{encode_frame, Body, Gossip, GossipKind, Msg, MsgId};

/// Flooding and reading links.
const LINKS: usize = 4;
/// Authors of the burst (each stays within the per-author burst).
const AUTHORS: usize = 400;
/// Large events of the second flood, and their content size: together well beyond what the
/// kernel buffers of the non-reading link hold (send buffer ≤ 4 MiB here, receive shrunk).
const BIG_EVENTS: usize = 80;
const BIG_CONTENT: usize = 100 * 1024;

fn key(tag: u8, i: u64) -> SecretKey {
    let mut s = [tag; 32];
    s[..8].copy_from_slice(&(i + 1).to_be_bytes());
    SecretKey::from_bytes(s).expect("valid key")
}

/// The server log's last lines (for a failure message).
fn tail(node: &Node) -> String {
    let log = node.log_text();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn gossip_frame(ev: &Event) -> Vec<u8> {
    let body = Body::from_slice(&packed::encode(ev));
    encode_frame(&Msg::Gossip(Gossip { id: MsgId(ev.id.0), round: 1, kind: GossipKind::Event, body })).expect("encodes")
}

/// A raw core peer in the server's active view; a thread reads its link (unless it is the
/// non-reader), answers pings, and records every event id it got or was told about.
struct Link {
    w: Arc<Mutex<TcpStream>>,
    known: Arc<Mutex<BTreeSet<[u8; 32]>>>,
    closed: Arc<AtomicBool>,
    pongs: Mutex<mpsc::Receiver<u32>>,
    _listener: TcpListener,
}

impl Link {
    fn join(server: SocketAddr, p: u8, read: bool) -> Link {
        let (mut raw, listener) = RawPeer::join_active_view(server, 2 + p, [0x70 + p; 32]);
        let (tx, pongs) = mpsc::channel();
        let known = Arc::new(Mutex::new(BTreeSet::new()));
        let closed = Arc::new(AtomicBool::new(false));
        if !read {
            // A tiny receive buffer (no autotuning): the server's writes stall soon.
            rustix::net::sockopt::set_socket_recv_buffer_size(&raw.stream, 4096).expect("SO_RCVBUF");
        }
        let w = Arc::new(Mutex::new(raw.stream.try_clone().expect("clone socket")));
        if read {
            raw.stream.set_read_timeout(None).expect("blocking reads");
            let (w2, known2, closed2) = (Arc::clone(&w), Arc::clone(&known), Arc::clone(&closed));
            std::thread::spawn(move || {
                while let Some(m) = raw.try_read_msg() {
                    match m {
                        Msg::Ping(n) => {
                            let pong = encode_frame(&Msg::Pong(n)).expect("encodes");
                            let _ = w2.lock().expect("socket lock").write_all(&pong);
                        }
                        Msg::Pong(n) => {
                            let _ = tx.send(n);
                        }
                        // Protocol 3: the id travels once, inside the packed event.
                        Msg::Gossip(g) => {
                            if let Some(id) = nostrp2p::event::packed::claimed_id(g.body.as_slice()) {
                                known2.lock().expect("ids lock").insert(id);
                            }
                        }
                        Msg::IHave(ids) => known2.lock().expect("ids lock").extend(ids.iter().map(|(id, _)| id.0)),
                        _ => {}
                    }
                }
                closed2.store(true, Ordering::SeqCst);
            });
        } else {
            std::mem::forget(raw); // the socket stays open (a clone is in `w`), never read
        }
        Link { w, known, closed, pongs: Mutex::new(pongs), _listener: listener }
    }

    /// Sends `bytes`; false if the server already closed the link.
    fn send(&self, bytes: &[u8]) -> bool {
        self.w.lock().expect("socket lock").write_all(bytes).is_ok()
    }

    /// Pings with `n` and waits for its `Pong`; false if none came (link closed).
    fn sync(&self, n: u32) -> bool {
        if !self.send(&encode_frame(&Msg::Ping(n)).expect("encodes")) {
            return false;
        }
        let deadline = Instant::now() + common::cluster::WAIT;
        let pongs = self.pongs.lock().expect("pongs lock");
        while let Ok(m) = pongs.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if m == n {
                return true;
            }
        }
        false
    }

    fn knows(&self, id: &[u8; 32]) -> bool {
        self.known.lock().expect("ids lock").contains(id)
    }
}

#[test]
fn a_burst_we_fan_out_never_closes_a_reading_peer_and_a_peer_that_never_reads_is_closed() {
    let dir = TempDir::new("slow-peer");
    let owner = user(0).public_key().to_hex();
    let mut opts = NodeOpts::new(&owner, dir.path());
    opts.env.push(("RUST_LOG".into(), "info".into()));
    let node = Node::start(opts);
    let server = SocketAddr::new(node.opts.ip, node.opts.port);

    let links: Vec<Link> = (0..LINKS).map(|p| Link::join(server, p as u8, true)).collect();
    let deaf = Link::join(server, LINKS as u8, false);
    wait_until("every raw peer to be a peer", &[&node], || peers(&node) == LINKS as u64 + 1);

    // Links the peer opened become relay links after RELAY_TRUST_MS in the active view (the
    // only fixed wait: it is the rule under test's precondition, not a synchronisation).
    let trusted_at = Instant::now() + Duration::from_millis(RELAY_TRUST_MS + 2_000);
    let mut n = 0;
    while Instant::now() < trusted_at {
        n += 1;
        for l in &links {
            assert!(l.sync(n), "a link closed while idle");
        }
        std::thread::sleep(Duration::from_secs(5).min(trusted_at.saturating_duration_since(Instant::now())));
    }

    // 1. Every link floods one burst at once.
    let per_link = CONN_PAYLOAD_BURST as usize;
    let authors: Vec<SecretKey> = (0..AUTHORS).map(|a| key(0x51, a as u64)).collect();
    let events: Vec<Event> = (0..LINKS * per_link)
        .map(|i| {
            let content = format!("burst post {i}: the quick brown fox jumps over the lazy dog");
            Event::new_signed(&authors[i % AUTHORS], UnixTime(now()), 1, vec![], content, &[0; 32])
        })
        .collect();
    let bursts: Vec<Vec<u8>> =
        (0..LINKS).map(|p| events[p * per_link..(p + 1) * per_link].iter().flat_map(gossip_frame).collect()).collect();
    std::thread::scope(|s| {
        for (l, burst) in links.iter().zip(&bursts) {
            s.spawn(move || assert!(l.send(burst), "the server closed a link during the burst"));
        }
    });
    for (p, l) in links.iter().enumerate() {
        n += 1;
        assert!(l.sync(n), "the server closed reading peer {p} after the burst; log:\n{}", tail(&node));
    }
    wait_until("every reading peer to get or be told of every other link's event", &[&node], || {
        links.iter().enumerate().all(|(p, l)| {
            assert!(!l.closed.load(Ordering::SeqCst), "the server closed reading peer {p}");
            events.iter().enumerate().all(|(i, e)| i / per_link == p || l.knows(&e.id.0))
        })
    });
    assert_eq!(peers(&node), LINKS as u64 + 1, "a link was closed by the burst");

    // 2. Large events fill the non-reader's socket; the server gives up on it, not on the readers.
    std::thread::sleep(Duration::from_millis(CONN_PAYLOAD_BURST * 1000 / CONN_PAYLOAD_PER_S + 500)); // guard refill
    let big: Vec<Vec<u8>> = (0..BIG_EVENTS)
        .map(|i| {
            let content = format!("{i} {}", "x".repeat(BIG_CONTENT));
            gossip_frame(&Event::new_signed(&key(0x52, i as u64), UnixTime(now()), 1, vec![], content, &[0; 32]))
        })
        .collect();
    let started = Instant::now();
    std::thread::scope(|s| {
        for (p, l) in links.iter().enumerate() {
            let mine: Vec<u8> = big.iter().skip(p).step_by(LINKS).flatten().copied().collect();
            s.spawn(move || assert!(l.send(&mine), "the server closed a link during the large flood"));
        }
    });
    // Its kernel may still take a few bytes now and then (the window it advertised before its
    // buffer shrank): every byte taken is progress, so the bound is several stall periods.
    let bound = SLOW_PEER_STALL * 8;
    while peers(&node) != LINKS as u64 {
        assert!(started.elapsed() < bound, "the peer that never reads is still connected; log:\n{}", tail(&node));
        std::thread::sleep(Duration::from_millis(200));
    }
    let took = started.elapsed();
    eprintln!("non-reading peer closed {:.1} s after the large flood began", took.as_secs_f64());
    for (p, l) in links.iter().enumerate() {
        n += 1;
        assert!(l.sync(n) && !l.closed.load(Ordering::SeqCst), "reading peer {p} lost its link; log:\n{}", tail(&node));
    }
    drop(deaf);
}
