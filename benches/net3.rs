//! `cargo bench --bench net3`: three real `nostrp2p server` processes on loopback (distinct
//! 127.x addresses, stores on disk, peered), N pre-signed posts published on node A through
//! `/publish`, one at a time. Prints, beside the original Go server's figures (issue 11):
//! - post → visible on B and C: from just before the `/publish` request is written to the
//!   moment B's (and C's) websocket live subscription delivers the event (the driver inserts
//!   an event into the index before it fans it out, so `/req` sees it at that moment too; the
//!   bench checks B's and C's `/req` for every post); p50 / p99 over both receivers;
//! - bytes and packets per post between the nodes: kernel per-socket counters (`ss -tin`
//!   `bytes_sent`, `segs_out`, `data_segs_out`) summed over every overlay socket of the three
//!   nodes, minus the idle traffic counted over the same duration. IP bytes = TCP payload +
//!   52 B per packet (20 B IPv4 + 20 B TCP + 12 B timestamp option, what Linux puts on
//!   loopback); the figure at 40 B per packet is printed too. Packets count pure ACKs.
//!   Datagrams (the core↔core path for eager copies and IHAVEs) are counted by each node's
//!   `/status` `network.transport` (`datagrams_sent`, `datagram_bytes_sent`: UDP payload) and
//!   added with 28 B each (IPv4 20 + UDP 8).
//!
//! - server CPU time and context switches per post: `/proc/<pid>/task/*/schedstat` (ns on a
//!   CPU, every thread; not the 10 ms ticks of utime + stime) and `/proc/<pid>/task/*/status`
//!   (voluntary + involuntary switches, every thread) of the three servers, minus the idle
//!   figures over the same duration.
//! - what each node's datagrams carried (payloads, IHAVE-only, tail and path probes) per post,
//!   and the p50 / p99 of each round of 50 posts (how noisy one run is), and of each post's
//!   first and second receiver apart. A context switch is a thread
//!   going to sleep or being woken: the hand-offs a post costs, which on a busy machine are
//!   where the latency goes (each one may wait for a CPU).
//!
//! `NET3_BIN` runs another build of the server (e.g. a copy of main's, to compare two builds
//! in turns on the same loaded machine). `NET3_POSTS` (default 200) sets N and `NET3_GAP_MS` (default 100) the pause between posts:
//! a person posts a few times a second at most, and batching timers only look good when
//! posts come back to back (`NET3_GAP_MS=0` shows that case). Not a test: nothing here
//! asserts a speed.

#[allow(dead_code)] // the tests use more of the client than the benchmark
#[path = "../tests/common/client.rs"]
mod client;
#[allow(dead_code)]
#[path = "../tests/common/ws.rs"]
mod ws;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use client::HttpClient;
use nostrp2p::event::json::to_client_json;
use nostrp2p::event::msgpack::decode_events;
use nostrp2p::event::Event;
use nostrp2p::hex;
use nostrp2p::keys::SecretKey;
use nostrp2p::time::UnixTime;
use ws::Ws;

// The original Go server, 3 nodes on this machine (issue 11).
const GO_P50_MS: f64 = 5.7;
const GO_P99_MS: f64 = 25.5;
const GO_IP_BYTES: f64 = 857.0;
const GO_PACKETS: f64 = 3.9;

const OVERLAY_PORT: u16 = 20000;
/// Header bytes per packet on Linux loopback: IPv4 20 + TCP 20 + timestamps 12.
const HEADER_BYTES: f64 = 52.0;
/// Header bytes per datagram: IPv4 20 + UDP 8.
const UDP_HEADER_BYTES: f64 = 28.0;
const SECRETS: [&str; 3] = [
    "0000000000000000000000000000000000000000000000000000000000000003",
    "76f5056ae58d6460e4272ff038e49432e91c5fe7b670f49577bf483c180b48db",
    "68ff284f96fd5b36bfd8a88eab49a30dbde6f3c8c6662c4ab6e7c1f2444d1002",
];

struct Proc {
    child: Child,
    ip: IpAddr,
    dir: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Proc {
    fn http(&self) -> SocketAddr {
        SocketAddr::new(self.ip, OVERLAY_PORT + 1)
    }
    fn overlay(&self) -> SocketAddr {
        SocketAddr::new(self.ip, OVERLAY_PORT)
    }
}

fn start(bin: &str, secret: &str, ip: IpAddr, boot: Option<SocketAddr>, tag: &str) -> Proc {
    // A (the only node posted to) takes the bench's many authors.
    let dir = std::env::temp_dir().join(format!("nostrp2p-net3-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let npub = SecretKey::parse(secret).expect("key").public_key().to_npub();
    let mut cmd = Command::new(bin);
    cmd.args(["server", "-p", &npub, "-l", &SocketAddr::new(ip, OVERLAY_PORT).to_string(), "--data-dir"])
        .arg(&dir)
        .env("RUST_LOG", std::env::var("NET3_LOG").unwrap_or_else(|_| "info".into()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    match boot {
        Some(b) => cmd.args(["-b", &b.to_string()]),
        None => cmd.arg("--accept-any-author"),
    };
    let mut child = cmd.spawn().expect("start nostrp2p");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    // `NET3_LOG=debug` (any `RUST_LOG` level): each node's log goes to a file, to trace a run.
    let mut log = std::env::var_os("NET3_LOG").and_then(|_| {
        let path = std::env::temp_dir().join(format!("nostrp2p-net3-{}-{tag}.log", std::process::id()));
        println!("  node {tag}'s log: {}", path.display());
        std::fs::File::create(path).ok()
    });
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(f) = log.as_mut() {
                use std::io::Write;
                let _ = writeln!(f, "{line}");
            }
            if line.contains("HTTP API listening on") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(());
                }
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("server ready");
    Proc { child, ip, dir }
}

fn status(p: &Proc) -> serde_json::Value {
    let r = HttpClient::connect(p.http()).get("/status");
    serde_json::from_slice(&r.decoded_body()).unwrap_or_default()
}

/// Kernel counters of one overlay socket: (bytes_sent, segs_out, data_segs_out).
type Counters = BTreeMap<String, (u64, u64, u64)>;

/// CPU time (ns on a CPU, summed over every thread: field 1 of `/proc/<pid>/task/*/schedstat`,
/// which the scheduler keeps in nanoseconds, where `/proc/<pid>/stat`'s utime + stime are 10 ms
/// ticks sampled at the timer interrupt) and context switches (all threads) of the servers. A
/// thread that ended in between is not counted (the servers' threads live as long as they do).
fn proc_counters(pids: &[u32]) -> (u64, u64) {
    let mut cpu_ns = 0;
    let mut switches = 0;
    for pid in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { continue };
        for task in tasks.flatten() {
            let sched = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            cpu_ns += sched.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            switches += status
                .lines()
                .filter(|l| l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary_ctxt_switches"))
                .filter_map(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
                .sum::<u64>();
        }
    }
    (cpu_ns, switches)
}

/// Every TCP socket with one end on an overlay address of the three nodes.
fn counters(ips: &[IpAddr]) -> Counters {
    let out = Command::new("ss").args(["-tinH", "state", "established"]).output().expect("run ss");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut map = Counters::new();
    let mut key: Option<String> = None;
    let overlay: Vec<String> = ips.iter().map(|ip| format!("{ip}:{OVERLAY_PORT}")).collect();
    for line in text.lines() {
        if !line.starts_with(char::is_whitespace) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            key = cols
                .iter()
                .any(|c| overlay.iter().any(|o| c == o))
                .then(|| cols.iter().rev().take(2).copied().collect::<Vec<_>>().join(" "));
            continue;
        }
        let Some(k) = key.take() else { continue };
        let field = |name: &str| {
            line.split_whitespace().find_map(|w| w.strip_prefix(name)).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        };
        map.insert(k, (field("bytes_sent:"), field("segs_out:"), field("data_segs_out:")));
    }
    map
}

/// Datagrams sent by the nodes so far: (UDP payload bytes, datagrams).
fn udp_counters(procs: &[&Proc]) -> (u64, u64) {
    procs.iter().fold((0, 0), |(b, d), p| {
        let t = &status(p)["network"]["transport"];
        let get = |k: &str| t[k].as_u64().unwrap_or(0);
        (b + get("datagram_bytes_sent"), d + get("datagrams_sent"))
    })
}

/// Posts per round in the per-round latency line (two receivers each).
const ROUND_POSTS: usize = 50;

/// Wait after the last post before the traffic is read (≥ the 2.5 s a quiet IHAVE can wait).
const SETTLE: Duration = Duration::from_secs(3);

/// What a node's datagrams carried so far, by kind (`/status` `network.transport`).
#[derive(Clone, Copy, Default)]
struct Kinds {
    /// With an eager copy of an event (and maybe IHAVEs behind it).
    payload: u64,
    /// Only IHAVEs.
    ihave_only: u64,
    /// Empty: tail probes (`datagram::TAIL_PROBE_MS`).
    tail: u64,
    /// Empty: path probes of a link being set up.
    path: u64,
    /// IHAVE frames in any of them.
    ihave_frames: u64,
}

fn kinds(p: &Proc) -> Kinds {
    let s = status(p);
    let t = &s["network"]["transport"];
    let get = |k: &str| t["datagrams_by_kind"][k].as_u64().unwrap_or(0);
    Kinds {
        payload: get("payload"),
        ihave_only: get("ihave_only"),
        tail: get("tail_probes"),
        path: get("path_probes"),
        ihave_frames: get("ihave_frames"),
    }
}

/// `after - before` for each kind, per post.
fn kinds_per_post(before: Kinds, after: Kinds, n: f64) -> String {
    let d = |a: u64, b: u64| a.saturating_sub(b) as f64 / n;
    format!(
        "{:.3} payload, {:.3} IHAVE-only, {:.3} tail probes, {:.3} path probes ({:.3} IHAVE frames)",
        d(after.payload, before.payload),
        d(after.ihave_only, before.ihave_only),
        d(after.tail, before.tail),
        d(after.path, before.path),
        d(after.ihave_frames, before.ihave_frames)
    )
}

/// Traffic between two snapshots: (payload bytes, packets, data packets).
fn delta(before: &Counters, after: &Counters) -> (u64, u64, u64) {
    let mut d = (0, 0, 0);
    for (k, a) in after {
        let b = before.get(k).copied().unwrap_or_default();
        d.0 += a.0.saturating_sub(b.0);
        d.1 += a.1.saturating_sub(b.1);
        d.2 += a.2.saturating_sub(b.2);
    }
    d
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// A live subscription on `p`: reports (node, event id, arrival) for each new kind-1 event.
fn subscribe(p: &Proc, node: usize, tx: mpsc::Sender<(usize, String, Instant)>) {
    let mut ws = Ws::connect(p.http());
    ws.send(r#"["REQ","live",{"kinds":[1],"limit":0}]"#);
    loop {
        let msg = ws.recv();
        if msg[0] == "EOSE" {
            break;
        }
    }
    std::thread::spawn(move || loop {
        match ws.read_frame() {
            Some((1, text)) => {
                let at = Instant::now();
                let v: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
                if v[0] == "EVENT" {
                    let id = v[2]["id"].as_str().unwrap_or_default().to_string();
                    if tx.send((node, id, at)).is_err() {
                        return;
                    }
                }
            }
            Some((9, p)) => ws.send_frame(10, &p),
            Some(_) => {}
            None => return,
        }
    });
}

/// Whether `/req` on `p` answers the kind-1 lookup of post `id` by `author` with the post.
fn on_req(p: &Proc, id: &str, author: &str) -> bool {
    let lookup = format!(r#"{{"kinds":[1],"ids":["{id}"],"authors":["{author}"]}}"#);
    let r = HttpClient::connect(p.http()).post("/req", lookup.as_bytes());
    decode_events(&r.decoded_body()).map(|evs| evs.iter().any(|w| hex::encode(&w.event.id.0) == id)).unwrap_or(false)
}

fn main() {
    let bin = std::env::var("NET3_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_nostrp2p").to_owned());
    let bin = bin.as_str();
    let posts: usize = std::env::var("NET3_POSTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let gap = Duration::from_millis(std::env::var("NET3_GAP_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(100));
    let pid = std::process::id();
    let ips: Vec<IpAddr> = (1..=3)
        .map(|n| IpAddr::V4(Ipv4Addr::new(127, 77, (pid % 250) as u8 + 1, (pid / 250 % 80) as u8 * 3 + n)))
        .collect();
    println!("nostrp2p 3-node benchmark ({bin}), {posts} posts on A, one at a time, {gap:?} apart");
    let a = start(bin, SECRETS[0], ips[0], None, "a");
    let b = start(bin, SECRETS[1], ips[1], Some(a.overlay()), "b");
    let c = start(bin, SECRETS[2], ips[2], Some(a.overlay()), "c");
    let nodes = [&a, &b, &c];
    let deadline = Instant::now() + Duration::from_secs(120);
    while !nodes.iter().all(|n| {
        let s = status(n);
        s["network"]["nodes_known"].as_u64().unwrap_or(0) >= 3 && s["peers"].as_u64().unwrap_or(0) >= 2
    }) {
        assert!(Instant::now() < deadline, "the three nodes did not connect to one another");
        std::thread::sleep(Duration::from_millis(200));
    }

    // One author per post: every node limits each author to `AUTHOR_PER_MIN` broadcasts.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let bodies: Vec<(String, String, String)> = (0..posts + 10)
        .map(|i| {
            let content = format!("net3 post {i}: the quick brown fox jumps over the lazy dog");
            let mut secret = [7u8; 32];
            secret[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            let key = SecretKey::from_bytes(secret).expect("key");
            let e = Event::new_signed(&key, UnixTime(now), 1, vec![], content, &[(i % 256) as u8; 32]);
            (hex::encode(&e.id.0), to_client_json(&e), e.pubkey.to_hex())
        })
        .collect();

    let (tx, rx) = mpsc::channel();
    subscribe(&b, 1, tx.clone());
    subscribe(&c, 2, tx);
    let mut client = HttpClient::connect(a.http());
    let mut one = |i: usize, lat: &mut Vec<f64>| {
        let (id, json, author) = &bodies[i];
        let t0 = Instant::now();
        let r = client.post("/publish", json.as_bytes());
        assert_eq!(r.status, 200, "publish: {}", r.text());
        let mut got = [false; 3];
        while !(got[1] && got[2]) {
            let Ok((node, seen, at)) = rx.recv_timeout(Duration::from_secs(30)) else {
                panic!(
                    "post {i} did not reach B and C (seen {got:?}; on /req of B: {}, C: {})",
                    on_req(&b, id, author),
                    on_req(&c, id, author)
                );
            };
            if seen == *id && !got[node] {
                got[node] = true;
                lat.push(at.duration_since(t0).as_secs_f64() * 1000.0);
            }
        }
    };
    // Warm up (links settle into their broadcast tree).
    let mut warm = Vec::new();
    for i in 0..10 {
        one(posts + i, &mut warm);
    }
    // What the start and the warm-up cause later is not the run's: the nodes' own records,
    // re-signed `RECORD_DEBOUNCE_MS` after their role is decided and announced on the lazy
    // B↔C link `IHAVE_QUIET_MS` + jitter after that (one IHAVE-only datagram, in some runs
    // inside the window), and the warm-up's tail probes.
    std::thread::sleep(SETTLE);

    let pids: Vec<u32> = nodes.iter().map(|n| n.child.id()).collect();
    let before = counters(&ips);
    let udp_a_before = udp_counters(&[&a]);
    let udp_before = udp_counters(&[&b, &c]);
    let udp_before = (udp_before.0 + udp_a_before.0, udp_before.1 + udp_a_before.1);
    let kinds_before = [kinds(&a), kinds(&b), kinds(&c)];
    let proc_before = proc_counters(&pids);
    let t = Instant::now();
    let mut lat = Vec::with_capacity(posts * 2);
    let mut missing_on_req = 0;
    for (i, (id, _, author)) in bodies.iter().enumerate().take(posts) {
        std::thread::sleep(gap);
        one(i, &mut lat);
        for n in [&b, &c] {
            if !on_req(n, id, author) {
                missing_on_req += 1;
            }
        }
    }
    // What the posts cause later (a quiet link's IHAVEs, `IHAVE_QUIET_MS` + jitter; the
    // links' tail probes, `TAIL_PROBE_MS`) belongs to them, not to the idle window after.
    std::thread::sleep(SETTLE);
    let busy = t.elapsed();
    let after = counters(&ips);
    let udp_a_after = udp_counters(&[&a]);
    let udp_after = udp_counters(&[&b, &c]);
    let udp_after = (udp_after.0 + udp_a_after.0, udp_after.1 + udp_a_after.1);
    let kinds_after = [kinds(&a), kinds(&b), kinds(&c)];
    let proc_after = proc_counters(&pids);
    let idle_before = counters(&ips);
    let udp_idle_before = udp_counters(&[&a, &b, &c]);
    let proc_idle_before = proc_counters(&pids);
    std::thread::sleep(busy);
    let idle_after = counters(&ips);
    let udp_idle_after = udp_counters(&[&a, &b, &c]);
    let proc_idle_after = proc_counters(&pids);
    let udp = |x: (u64, u64), y: (u64, u64)| (y.0.saturating_sub(x.0), y.1.saturating_sub(x.1));
    let (udp_bytes, udp_dgrams) = udp(udp_before, udp_after);
    let (udp_idle_bytes, udp_idle_dgrams) = udp(udp_idle_before, udp_idle_after);
    let (bytes, packets, data) = delta(&before, &after);
    let (idle_bytes, idle_packets, idle_data) = delta(&idle_before, &idle_after);

    let by_post = lat.clone();
    lat.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
    let n = posts as f64;
    let payload = (bytes.saturating_sub(idle_bytes)) as f64 / n;
    let pkts = (packets.saturating_sub(idle_packets)) as f64 / n;
    let data_pkts = (data.saturating_sub(idle_data)) as f64 / n;
    let dgrams = udp_dgrams.saturating_sub(udp_idle_dgrams) as f64 / n;
    let dgram_payload = udp_bytes.saturating_sub(udp_idle_bytes) as f64 / n;
    let tcp_ip_bytes = payload + pkts * HEADER_BYTES;
    let ip_bytes = tcp_ip_bytes + dgram_payload + dgrams * UDP_HEADER_BYTES;
    let all_pkts = pkts + dgrams;
    // A's datagrams are the payloads (and tail probes); B's and C's, their IHAVEs to each other.
    let from_a = udp_a_after.1.saturating_sub(udp_a_before.1) as f64 / n;
    let busy_proc = (proc_after.0 - proc_before.0, proc_after.1 - proc_before.1);
    let idle_proc = (proc_idle_after.0 - proc_idle_before.0, proc_idle_after.1 - proc_idle_before.1);
    let cpu_ms = busy_proc.0.saturating_sub(idle_proc.0) as f64 / 1e6 / n;
    let switches = busy_proc.1.saturating_sub(idle_proc.1) as f64 / n;
    println!(
        "  {:.1} s of posting and 3 s after; idle over the same time: {idle_bytes} B, {idle_packets} packets; {missing_on_req} \
         /req checks missed a post",
        busy.as_secs_f64()
    );
    println!("| figure | Go original | nostrp2p | ratio (Go / ours) | goal |");
    println!("|---|---|---|---|---|");
    println!("| post → visible on B/C, p50 | {GO_P50_MS} ms | {p50:.2} ms | {:.2}× | ≤ 1.1 ms |", GO_P50_MS / p50);
    println!("| post → visible on B/C, p99 | {GO_P99_MS} ms | {p99:.2} ms | {:.2}× | ≤ 5 ms |", GO_P99_MS / p99);
    println!(
        "| IP bytes per post (payload + 52 B/packet) | {GO_IP_BYTES} B | {ip_bytes:.0} B | {:.2}× | ≤ 600 B |",
        GO_IP_BYTES / ip_bytes
    );
    println!("| TCP: IP bytes per post (payload + 52 B/packet) | – | {tcp_ip_bytes:.0} B | | |");
    println!("| TCP payload per post | – | {payload:.0} B | | |");
    println!(
        "| UDP: datagrams per post, IP bytes (payload + 28 B) | – | {dgrams:.2}, {:.0} B | | |",
        dgram_payload + dgrams * UDP_HEADER_BYTES
    );
    println!("| UDP: datagrams per post sent by A / by B and C | – | {from_a:.2} / {:.2} | | |", dgrams - from_a);
    println!(
        "| packets per post (TCP with pure ACKs + datagrams) | {GO_PACKETS} | {all_pkts:.2} | {:.2}× | ≤ 2 |",
        GO_PACKETS / all_pkts
    );
    println!("| TCP data packets per post | – | {data_pkts:.2} | | |");
    println!("| server CPU per post, 3 nodes (schedstat ns, minus idle) | – | {cpu_ms:.2} ms | | |");
    println!(
        "| context switches per post, 3 nodes (idle over the same time: {}) | – | {switches:.1} | | |",
        idle_proc.1
    );
    for (name, i) in [("A", 0), ("B", 1), ("C", 2)] {
        println!("  {name}'s datagrams per post: {}", kinds_per_post(kinds_before[i], kinds_after[i], n));
    }
    // The same run cut into rounds: how far one run's p50 is from the next on this machine.
    let rounds: Vec<String> = by_post
        .chunks(ROUND_POSTS.max(1) * 2)
        .filter(|r| r.len() >= 20)
        .map(|r| {
            let mut r = r.to_vec();
            r.sort_by(f64::total_cmp);
            format!("{:.2}/{:.2}", percentile(&r, 0.5), percentile(&r, 0.99))
        })
        .collect();
    println!("  p50/p99 ms per round of {ROUND_POSTS} posts, in order: {}", rounds.join(", "));
    // Each post's first and second receiver apart: when the servers share a CPU, the second
    // one's figure holds the first one's run (it preempts A between A's two sends).
    let (mut first, mut second): (Vec<f64>, Vec<f64>) =
        by_post.chunks(2).filter(|p| p.len() == 2).map(|p| (p[0].min(p[1]), p[0].max(p[1]))).unzip();
    first.sort_by(f64::total_cmp);
    second.sort_by(f64::total_cmp);
    println!(
        "  first / second receiver of each post, p50: {:.2} / {:.2} ms, p99: {:.2} / {:.2} ms",
        percentile(&first, 0.5),
        percentile(&second, 0.5),
        percentile(&first, 0.99),
        percentile(&second, 0.99)
    );
}
