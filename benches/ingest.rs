//! `cargo bench --bench ingest`: how fast ONE real `nostrp2p server` process verifies and
//! stores events pushed by peers speaking the wire protocol over loopback, next to the raw
//! BIP-340 verify rate of `secp256k1` on this machine (issue 8: goal ≥ 70 % of it).
//!
//! * **Relay links** (what a busy core node carries): raw peers join the server's
//!   active view as core nodes and wait until they count as relay links (`RELAY_TRUST_MS`
//!   after joining), so the entry admission budget no longer applies; then each pushes
//!   pre-signed distinct events from `AUTHORS` authors (each within the per-author burst) as
//!   fast as its socket takes them, one link flood-guard burst (`CONN_PAYLOAD_BURST`) per
//!   round; between rounds the benchmark lets the guard refill. Figures: events stored per
//!   second of wall time while flooding, and per second of the server's CPU time (summed over
//!   its threads from `/proc/<pid>/task/*/schedstat`): what one core sustains, whatever else
//!   runs on a shared machine. The ratio compares the latter with the raw verify rate.
//! * **A stranger's link** (the limits as they are, against spam): one fresh leaf pushes valid
//!   events from fresh keys; its entry budget lets only a few be stored.
//!
//! * **Steady state**: a fresh node's seen set, message cache and store indexes grow, and
//!   the kernel zeroes the fresh pages (8.5 % of the server's CPU in an idle profile). Before
//!   the measured rounds, `BENCH_INGEST_WARMUP` rounds (default 6) push events from other
//!   authors, unmeasured, into a store of `BENCH_INGEST_STORE_MIB` (default 1): the store is
//!   then at its budget and evicting, and the message cache (`MSG_CACHE_CAP` = 2,048) full.
//!   The seen set (`SEEN_CAP` = 65,536) is not at its cap unless the warm-up is ~66 rounds.
//!   `BENCH_INGEST_WARMUP=0 BENCH_INGEST_STORE_MIB=32` measures a fresh node as before.
//!
//! * **Why a figure is what it is** (`ingest/probe.rs`): per round, how often the server's
//!   loop thread slept and was woken (events per wake), how often it was preempted, the
//!   hypervisor's steal ticks, and the raw verify rate measured in the server's shape (right
//!   after the round, by a thread that slept since the last one). `BENCH_INGEST_CALLGRIND=1`
//!   runs the server under callgrind, instrumented during the measured rounds only, and prints
//!   its instructions per stored event next to one check's (load-independent; use few
//!   rounds, e.g. `BENCH_INGEST_ROUNDS=4`). `BENCH_INGEST_STRACE=1` prints the server's
//!   syscalls over the rounds (`strace -c -f`: counts, not times).
//!
//! A round ends when each link's `Pong` comes back (a link's frames are handled in order); the
//! stored count is then read from `/status` (`events_received`). `BENCH_INGEST_ROUNDS` (default
//! 20, at most 24: each author's burst) and `BENCH_INGEST_PEERS` (default 1) set the rounds and
//! flooding links. The per-round ratios vary on a shared machine, so the summary gives their
//! median and spread next to the total, and the load average before and after. The raw verify rates are per CPU-second of the benchmark's
//! thread, like the server's figure. Not a test: nothing here asserts.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "ingest/probe.rs"]
mod probe;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use common::raw::{now, user, RawLink, RawPeer};
use common::{HttpClient, Node, NodeOpts, TempDir};
use nostrp2p::event::{packed, Event};
use nostrp2p::keys::{self, SecretKey};
use nostrp2p::overlay::params::{
    AUTHOR_BURST, CONN_PAYLOAD_BURST, CONN_PAYLOAD_PER_S, INJECT_BURST, INJECT_PER_S, RELAY_TRUST_MS,
};
use nostrp2p::time::UnixTime;
use nostrp2p::wire::{encode_frame, Body, Gossip, GossipKind, Msg, MsgId};
use probe::{callgrind_control, ir_child, report_instructions, Probe, ShapedVerifier, IR_CHILD};

/// Raw core peers flooding at once by default (`BENCH_INGEST_PEERS`, at most the active view
/// size, 5). One: with more, the server also forwards every event to the other raw peers,
/// which measures forwarding too (and see the report about slow-peer disconnects).
const PEERS: usize = 1;
/// Distinct authors of the relayed events.
const AUTHORS: usize = 400;
/// Unmeasured rounds before the measured ones (`BENCH_INGEST_WARMUP`): steady state.
const WARMUP_ROUNDS: usize = 6;
/// The store's budget in MiB (`BENCH_INGEST_STORE_MIB`): small, so the warm-up fills it.
const STORE_MIB: usize = 1;
/// Events the stranger pushes, each from a key nobody has seen.
const STRANGER_EVENTS: usize = 2_000;
/// How long a stored-count wait may take before the benchmark reports what it got.
const WAIT: Duration = Duration::from_secs(30);

fn main() {
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    if let Ok(mode) = std::env::var(IR_CHILD) {
        ir_child(&mode, env("BENCH_INGEST_IR_REPEAT", 0));
        return;
    }
    let callgrind = std::env::var("BENCH_INGEST_CALLGRIND").is_ok_and(|v| v == "1");
    let strace = std::env::var("BENCH_INGEST_STRACE").is_ok_and(|v| v == "1");
    let rounds = env("BENCH_INGEST_ROUNDS", 20);
    let peers_n = env("BENCH_INGEST_PEERS", PEERS);
    let warmup = env("BENCH_INGEST_WARMUP", WARMUP_ROUNDS);
    let store_mib = env("BENCH_INGEST_STORE_MIB", STORE_MIB);
    let per_link = CONN_PAYLOAD_BURST as usize;
    let total = peers_n * per_link * rounds;
    assert!(total.div_ceil(AUTHORS) <= AUTHOR_BURST as usize, "more events per author than its burst");
    let warm_total = peers_n * per_link * warmup;
    println!(
        "nostrp2p ingest benchmark: {peers_n} relay links x {per_link} events x {rounds} rounds, {AUTHORS} authors"
    );

    println!("signing {total} events ...");
    let authors: Vec<SecretKey> = (0..AUTHORS).map(|a| key(0x51, a as u64)).collect();
    let events: Vec<Event> = (0..total)
        .map(|i| {
            let content = format!("ingest post {i}: the quick brown fox jumps over the lazy dog");
            Event::new_signed(&authors[i % AUTHORS], UnixTime(now()), 1, vec![], content, &[0; 32])
        })
        .collect();
    // Warm-up authors: distinct keys, so the measured authors' per-author budgets stay whole.
    let warm_authors: Vec<SecretKey> = (0..AUTHORS).map(|a| key(0x52, a as u64)).collect();
    let warm_frames: Vec<Vec<u8>> = (0..warm_total)
        .map(|i| {
            let content = format!("warm-up post {i}: the quick brown fox jumps over the lazy dog");
            gossip_frame(&Event::new_signed(&warm_authors[i % AUTHORS], UnixTime(now()), 1, vec![], content, &[0; 32]))
        })
        .collect();
    assert!(warm_total.div_ceil(AUTHORS) <= AUTHOR_BURST as usize, "more warm-up events per author than its burst");

    let (raw_rate, full_rate) = verify_rates(&events);
    println!("raw secp256k1 Schnorr verify (parsed key): {raw_rate:.0} per CPU-second");
    // While the rounds run, the flooding peers and the kernel keep the machine's other CPU(s)
    // busy; on a VM whose virtual CPUs may share a physical core (or a frequency budget),
    // that alone can slow a check. The same check with a thread spinning beside it tells.
    let raw_busy = with_spinner(|| verify_rates(&events).0);
    println!(
        "raw verify with a thread spinning beside it: {raw_busy:.0} per CPU-second ({:.0} % of the rate alone)",
        100.0 * raw_busy / raw_rate
    );
    println!(
        "Event::verify (canonical JSON streamed into SHA-256, key parse memoised per author, Schnorr): {full_rate:.0} per CPU-second"
    );

    let dir = TempDir::new("ingest-bench");
    let owner = user(0).public_key().to_hex();
    let mut opts = NodeOpts::new(&owner, dir.path()).arg("--store-mib").arg(&store_mib.to_string());
    opts.env.push(("RUST_LOG".into(), "warn,nostrp2p::driver=info,nostrp2p::net=info".into()));
    let cg_out = dir.path().join("callgrind.out");
    if callgrind {
        // Instrumented only while the measured rounds run (`callgrind_control -i on/off`).
        opts.wrapper = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
            .iter()
            .map(|s| s.to_string())
            .chain([format!("--callgrind-out-file={}", cg_out.display())])
            .collect();
    }
    let node = Node::start(opts);
    let pid = node.child.id();
    let shaped = ShapedVerifier::start(&events);
    let overlay = SocketAddr::new(node.opts.ip, node.opts.port);
    let mut http = node.client();

    // The raw core peers join the server's active view, then stay until they are relay links.
    let (peers, _listeners): (Vec<Flooder>, Vec<TcpListener>) = (0..peers_n)
        .map(|p| {
            let (raw, listener) = RawPeer::join_active_view(overlay, 2 + p as u8, [0x60 + p as u8; 32]);
            (Flooder::start(raw), listener)
        })
        .unzip();
    let trusted_at = Instant::now() + Duration::from_millis(RELAY_TRUST_MS + 2_000);
    println!("waiting {} s until the raw peers' links count as relay links ...", RELAY_TRUST_MS / 1000 + 2);
    while Instant::now() < trusted_at {
        for f in &peers {
            f.send(&encode_frame(&Msg::Ping(0)).expect("encodes")); // keeps the inbound links alive
        }
        std::thread::sleep(Duration::from_secs(5).min(trusted_at.saturating_duration_since(Instant::now())));
    }

    // Unmeasured warm-up: fills the store to its budget and the message cache to its cap.
    for r in 0..warmup {
        let base = r * peers_n * per_link;
        std::thread::scope(|s| {
            for (p, f) in peers.iter().enumerate() {
                let burst = warm_frames[base + p * per_link..base + (p + 1) * per_link].concat();
                s.spawn(move || f.send(&burst));
            }
        });
        for (i, f) in peers.iter().enumerate() {
            f.sync(1_000_000 + (r * peers_n + i + 1) as u32);
        }
        std::thread::sleep(Duration::from_millis(CONN_PAYLOAD_BURST * 1000 / CONN_PAYLOAD_PER_S + 500));
    }
    if warmup > 0 {
        let st = status(&mut http);
        println!(
            "warm-up: {warmup} rounds, {} events received; store {} events, {} of {} bytes, {} evicted",
            st["network"]["events_received"],
            st["store"]["events"],
            st["store"]["bytes"],
            st["store"]["budget_bytes"],
            st["store"]["evicted"]
        );
    }

    let frames: Vec<Vec<u8>> = events.iter().map(gossip_frame).collect();
    let load_before = load_average();
    let mut per_round: Vec<f64> = Vec::with_capacity(rounds);
    let mut stored = received(&mut http);
    let (mut wall, mut cpu, mut done) = (0.0, 0.0, 0usize);
    let ticks0 = user_system_ticks(pid);
    let (mut shape_rows, mut probe_sum) = (Vec::with_capacity(rounds), Probe::default());
    if callgrind {
        callgrind_control(&["-i", "on"], pid);
    }
    let strace_out = dir.path().join("strace.txt");
    let mut tracer = strace.then(|| {
        let child = std::process::Command::new("strace")
            .args(["-c", "-f", "-o"])
            .arg(&strace_out)
            .args(["-p", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("strace");
        // Wait until it is attached (the server's `TracerPid` is set).
        let attached = Instant::now() + WAIT;
        while Instant::now() < attached
            && std::fs::read_to_string(format!("/proc/{pid}/status"))
                .unwrap_or_default()
                .lines()
                .any(|l| l.split_whitespace().eq(["TracerPid:", "0"]))
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        child
    });
    for r in 0..rounds {
        let base = r * peers_n * per_link;
        let bursts: Vec<Vec<u8>> =
            (0..peers_n).map(|p| frames[base + p * per_link..base + (p + 1) * per_link].concat()).collect();
        let p0 = Probe::read(pid);
        let (c0, t0) = (cpu_seconds(pid), Instant::now());
        std::thread::scope(|s| {
            for (f, burst) in peers.iter().zip(&bursts) {
                s.spawn(move || f.send(burst));
            }
        });
        // A link's frames are handled in order: its `Pong` means all its events were handled.
        for (i, f) in peers.iter().enumerate() {
            f.sync((r * peers_n + i + 1) as u32);
        }
        let (dt, dc) = (t0.elapsed().as_secs_f64(), cpu_seconds(pid) - c0);
        let probe = Probe::read(pid).minus(&p0);
        let got = received(&mut http);
        let n = got - stored;
        // The raw check in the server's shape: a thread that slept since the last round
        // verifies as many events back to back, right after the server's round.
        let raw_shaped = shaped.round(n as usize);
        println!(
            "  round {}: {n} events stored in {:.3} s wall ({:.0}/s), {:.3} s server CPU ({:.0}/CPU-s); \
             woken {} times ({:.0} events/wake), {} steal ticks; \
             raw verify just after, woken likewise: {raw_shaped:.0}/CPU-s",
            r + 1,
            dt,
            n as f64 / dt,
            dc,
            n as f64 / dc,
            probe.wakes,
            n as f64 / probe.wakes.max(1) as f64,
            probe.steal,
        );
        if dc > 0.0 && n > 0 {
            shape_rows.push((n as f64 / dc) / raw_shaped);
        }
        probe_sum = probe_sum.plus(&probe);
        stored = got;
        if dc > 0.0 && n > 0 {
            per_round.push(n as f64 / dc);
        }
        wall += dt;
        cpu += dc;
        done += n as usize;
        // Let every link's flood guard refill before the next round.
        std::thread::sleep(Duration::from_millis(CONN_PAYLOAD_BURST * 1000 / CONN_PAYLOAD_PER_S + 500));
    }
    if callgrind {
        callgrind_control(&["-i", "off"], pid);
        callgrind_control(&["-d"], pid);
    }
    if let Some(mut t) = tracer.take() {
        let _ = std::process::Command::new("kill").args(["-INT", &t.id().to_string()]).status();
        let _ = t.wait();
        println!("server syscalls over the rounds (strace -c -f; {done_so_far} events):", done_so_far = total);
        for line in std::fs::read_to_string(&strace_out).unwrap_or_default().lines() {
            println!("  {line}");
        }
    }
    for line in node.log_text().lines().filter(|l| l.contains("slow peer") || l.contains("ban")) {
        println!("  server log: {line}");
    }
    let per_cpu = done as f64 / cpu;
    let load_after = load_average();
    per_round.sort_by(f64::total_cmp);
    let pct = |r: f64| 100.0 * r / raw_rate;
    let (median, lo, hi) = match per_round.as_slice() {
        [] => (f64::NAN, f64::NAN, f64::NAN),
        v => (v[v.len() / 2], v[0], v[v.len() - 1]),
    };
    let ticks = user_system_ticks(pid);
    let (user_s, sys_s) = ((ticks.0 - ticks0.0) / 100.0, (ticks.1 - ticks0.1) / 100.0);

    // A stranger's leaf link: valid events from fresh keys, pushed at once.
    let mut stranger = RawPeer::connect(overlay, &user(9), [0x99; 32]);
    stranger.sync(1);
    let spam: Vec<u8> = (0..STRANGER_EVENTS)
        .flat_map(|k| {
            let ev = Event::new_signed(&key(0x77, k as u64), UnixTime(now()), 1, vec![], format!("spam {k}"), &[0; 32]);
            gossip_frame(&ev)
        })
        .collect();
    let before = received(&mut http);
    let (c0, t0) = (cpu_seconds(pid), Instant::now());
    stranger.stream.write_all(&spam).expect("flood");
    stranger.sync(2);
    let (dt, dc) = (t0.elapsed().as_secs_f64(), cpu_seconds(pid) - c0);
    let kept = received(&mut http) - before;

    println!();
    println!("relay links: {done} of {total} events stored; {:.0} events/s wall while flooding", done as f64 / wall);
    println!(
        "server CPU per stored event: {:.1} us => {per_cpu:.0} events/s per core = {:.0} % of the raw verify rate (goal >= 70 %)",
        1e6 / per_cpu,
        100.0 * per_cpu / raw_rate
    );
    println!(
        "  = {:.0} % of the raw verify rate measured with a thread spinning beside it",
        100.0 * per_cpu / raw_busy
    );
    println!(
        "per round: median {median:.0}/CPU-s = {:.0} % of raw (spread {:.0}–{:.0} %, {} rounds)",
        pct(median),
        pct(lo),
        pct(hi),
        per_round.len()
    );
    println!("  server CPU split over the rounds (10 ms ticks): user {user_s:.2} s, kernel {sys_s:.2} s");
    shape_rows.sort_by(f64::total_cmp);
    if let [lo, .., hi] = shape_rows.as_slice() {
        println!(
            "  vs the raw verify measured in the server's shape (after each round, by a thread woken like the server): \
             median {:.0} % (spread {:.0}–{:.0} %)",
            100.0 * shape_rows[shape_rows.len() / 2],
            100.0 * lo,
            100.0 * hi
        );
    }
    println!(
        "  wake shape: {:.1} events per wake of the server's loop thread (it slept {} times), preempted {} times, \
         {} steal ticks over the rounds",
        done as f64 / probe_sum.wakes.max(1) as f64,
        probe_sum.wakes,
        probe_sum.preempted,
        probe_sum.steal
    );
    if callgrind {
        report_instructions(&cg_out, done);
    }
    println!("  load average (1 min) before the rounds {load_before}, after {load_after}");
    println!(
        "stranger's link: {STRANGER_EVENTS} fresh-key events pushed, {kept} stored (entry budget {INJECT_BURST} + {INJECT_PER_S}/s; \
         flood guard {CONN_PAYLOAD_BURST} + {CONN_PAYLOAD_PER_S}/s), {dt:.2} s, {:.0} us server CPU per pushed event",
        1e6 * dc / STRANGER_EVENTS as f64
    );
    drop(peers);
    drop(node);
}

/// A secret key made from a tag and a counter (always a valid scalar for these inputs).
fn key(tag: u8, i: u64) -> SecretKey {
    let mut s = [tag; 32];
    s[..8].copy_from_slice(&(i + 1).to_be_bytes());
    SecretKey::from_bytes(s).expect("valid key")
}

fn gossip_frame(ev: &Event) -> Vec<u8> {
    let body = Body::from_slice(&packed::encode(ev));
    encode_frame(&Msg::Gossip(Gossip { id: MsgId(ev.id.0), round: 1, kind: GossipKind::Event, body })).expect("encodes")
}

/// (raw Schnorr verifies, full `Event::verify`s) per CPU-second of this thread, each over ≥ 1 s
/// (CPU time, not wall time: the machine may be shared).
fn verify_rates(events: &[Event]) -> (f64, f64) {
    let sample = &events[..events.len().min(2_000)];
    let parsed: Vec<_> = sample.iter().map(|e| (e.pubkey.to_xonly().expect("valid key"), e.id.0, e.sig.0)).collect();
    let rate = |f: &mut dyn FnMut() -> usize| {
        let (t, c) = (Instant::now(), thread_cpu_seconds());
        let mut n = 0;
        while t.elapsed() < Duration::from_secs(1) {
            n += f();
        }
        n as f64 / (thread_cpu_seconds() - c)
    };
    let raw = rate(&mut || parsed.iter().filter(|(pk, id, sig)| keys::verify(pk, id, sig)).count());
    let now = UnixTime(now());
    let full = rate(&mut || sample.iter().filter(|e| (*e).clone().verify(now).is_ok()).count());
    (raw, full)
}

/// Runs `f` while another thread spins (keeps a second CPU busy, as the flooders do).
fn with_spinner<T>(f: impl FnOnce() -> T) -> T {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let spinner = std::thread::spawn(move || {
        let mut x = 0u64;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    });
    std::thread::sleep(Duration::from_millis(50));
    let out = f();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    spinner.join().expect("spinner");
    out
}

/// A raw peer's link, written by the benchmark, read by a thread that answers pings and
/// drops everything else (the events the server forwards to it): `RawLink`.
struct Flooder(RawLink);

impl Flooder {
    fn start(raw: RawPeer) -> Flooder {
        Flooder(raw.into_link(|_| {}))
    }

    /// Pings with `n` (≠ 0) and waits for its `Pong` (bounded by `WAIT`).
    fn sync(&self, n: u32) {
        if !self.0.sync(n, WAIT) {
            println!("  (no Pong {n} within {} s: the server dropped it or the link)", WAIT.as_secs());
        }
    }

    fn send(&self, bytes: &[u8]) {
        assert!(self.0.send(bytes), "the server closed a raw peer's link");
    }
}

/// The 1-minute load average (`/proc/loadavg`), as printed there.
fn load_average() -> String {
    let s = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    s.split_whitespace().next().unwrap_or("?").to_owned()
}

/// `/status` `network.events_received`.
fn received(http: &mut HttpClient) -> u64 {
    status(http)["network"]["events_received"].as_u64().unwrap_or(0)
}

/// The server's `/status` document.
fn status(http: &mut HttpClient) -> serde_json::Value {
    let r = http.get("/status");
    serde_json::from_slice(&r.decoded_body()).unwrap_or_default()
}

/// CPU seconds used by the calling thread (nanosecond `schedstat`).
fn thread_cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN) / 1e9
}

/// CPU seconds used by all of `pid`'s threads (nanosecond `schedstat`; the 10 ms `stat` ticks
/// where schedstat is missing).
fn cpu_seconds(pid: u32) -> f64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten();
    let ns: Option<u64> = tasks
        .map(|t| {
            std::fs::read_to_string(t.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()))
        })
        .sum();
    if let Some(ns) = ns.filter(|n| *n > 0) {
        return ns as f64 / 1e9;
    }
    let (user, system) = user_system_ticks(pid);
    (user + system) / 100.0
}

/// `pid`'s (user, kernel) CPU time in clock ticks of 10 ms, from `/proc/<pid>/stat`.
fn user_system_ticks(pid: u32) -> (f64, f64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11), ticks(12))
}
