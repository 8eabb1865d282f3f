//! `cargo bench --bench relay_ws`: the NIP-01 relay measured over real websockets against real
//! `nostrp2p server` processes on loopback, side by side with `nostr-rs-relay` when one is
//! installed (`NOSTR_RS_RELAY=/path/to/nostr-rs-relay`, or on `PATH`; otherwise its column
//! says "not installed").
//!
//! Figures: publish rate with `OK` (one connection one-at-a-time, pipelined, the first
//! `WS_MSG_BURST` pipelined, and 4 connections); `REQ` → `EOSE` latency of a 300-event
//! timeline with 10,000 stored, on a fresh connection each time; live latency from an `EVENT`
//! sent to a server to the `EVENT` on a subscriber of the same server; memory per idle websocket and RSS with 1,000 idle
//! websockets. Our node caps websockets at `MAX_WS_CONNS`, so its 1,000-connection figure is
//! extrapolated from the cost per connection measured at the cap (printed as such).
//! Not a test: nothing here asserts a speed; it panics only when a server misbehaves.

#[allow(dead_code)] // the tests use more of the client than the benchmark
#[path = "../tests/common/client.rs"]
mod client;
#[allow(dead_code)]
#[path = "../tests/common/ws.rs"]
mod ws;

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use client::HttpClient;
use nostrp2p::event::json::to_client_json;
use nostrp2p::event::{Event, KIND_POST};
use nostrp2p::hex;
use nostrp2p::keys::SecretKey;
use nostrp2p::limits::{MAX_WS_CONNS, WS_MSGS_PER_SEC, WS_MSG_BURST};
use nostrp2p::time::UnixTime;
use serde_json::Value;
use ws::Ws;

/// Events stored before the `REQ` figure.
const STORED: u64 = 10_000;
const TIMELINE: &str = r#"{"kinds":[1],"limit":300}"#;
const REQ_ROUNDS: usize = 200;
/// Events for the one-at-a-time and the pipelined publish figures.
const SERIAL: usize = 200;
const PIPELINED: usize = 400;
const CONNS: usize = 4;
const PER_CONN: usize = 200;
/// Posts for each live-latency figure.
const LIVE: usize = 300;
/// Idle websockets for the memory figures.
const IDLE: usize = 1_000;
/// Guard against a server that stops answering (turns a hang into a message).
const READ_GUARD: Duration = Duration::from_secs(30);

fn main() {
    let dir = std::env::temp_dir().join(format!("nostrp2p-bench-relayws-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let owner = SecretKey::parse("0000000000000000000000000000000000000000000000000000000000000003").expect("key");
    let ip = |last: u8| IpAddr::V4(Ipv4Addr::new(127, 79, (std::process::id() % 250) as u8, last));
    println!("relay benchmark over loopback websockets; signing events ...");
    let events = Events::new(&owner);

    let ours = {
        println!("nostrp2p:");
        let a = Ours::start(&owner, ip(2), &dir.join("a"));
        let figures = measure(&a.target(), &events, |t| fill_http(t, &events.stored));
        drop(a);
        figures
    };
    let theirs = match nrr_binary() {
        Some(bin) => {
            println!("nostr-rs-relay ({}):", bin.display());
            let r = Nrr::start(&bin, ip(4), &dir.join("nrr"));
            let t = r.target();
            Some(measure(&t, &events, |t| fill_ws(t, &events.stored)))
        }
        None => None,
    };
    let _ = std::fs::remove_dir_all(&dir);
    report(&ours, theirs.as_ref());
}

/// Every event the benchmark sends, signed before any timing starts.
struct Events {
    stored: Vec<String>,
    serial: Vec<String>,
    burst: Vec<String>,
    pipelined: Vec<String>,
    conns: Vec<Vec<String>>,
    key: SecretKey,
}

impl Events {
    fn new(key: &SecretKey) -> Events {
        let now = unix_now();
        let mut n = 0u64;
        let mut next = |what: &str| {
            n += 1;
            let content = format!("{what} {n}: the quick brown fox jumps over the lazy dog");
            let e = Event::new_signed(key, UnixTime(now - 100_000 + n), KIND_POST, vec![], content, &[0; 32]);
            (hex::encode(&e.id.0), to_client_json(&e))
        };
        let mut list = |what: &str, count: usize| (0..count).map(|_| next(what)).collect::<Vec<_>>();
        let json = |v: Vec<(String, String)>| v.into_iter().map(|(_, j)| j).collect::<Vec<_>>();
        Events {
            stored: json(list("stored", STORED as usize)),
            serial: json(list("serial", SERIAL)),
            burst: json(list("burst", WS_MSG_BURST as usize)),
            pipelined: json(list("pipelined", PIPELINED)),
            conns: (0..CONNS).map(|_| json(list("conns", PER_CONN))).collect(),
            key: key.clone(),
        }
    }
}

/// What the measurements need to know about a running relay.
struct Target {
    ws: SocketAddr,
    pid: u32,
    /// Our node greets every websocket with `["AUTH", challenge]` (NIP-42).
    greets: bool,
}

#[derive(Default)]
struct Figures {
    serial: f64,
    burst: f64,
    pipelined: f64,
    conns: f64,
    req_p50: f64,
    req_p99: f64,
    req_events: usize,
    live_p50: f64,
    live_p99: f64,
    rss_base: Mem,
    rss_cap: Mem,
    rss_idle: Option<Mem>,
    cap: usize,
}

/// `VmRSS` and private (`Private_Clean + Private_Dirty` of `smaps_rollup`), in KiB.
#[derive(Default, Clone, Copy)]
struct Mem {
    rss: f64,
    private: f64,
}

/// Runs figures 1, 2, 4 and the same-server live latency against one relay. The memory
/// figures come first, on the fresh empty server, so that no closing connection is counted.
fn measure(t: &Target, ev: &Events, fill: impl Fn(&Target)) -> Figures {
    let mut f = Figures { rss_base: mem(t.pid), cap: MAX_WS_CONNS.min(IDLE), ..Figures::default() };
    {
        let idle: Vec<Ws> = (0..f.cap).map(|_| open(t)).collect();
        f.rss_cap = mem(t.pid);
        if t.greets {
            // Our cap: one more websocket is refused; the 1,000 figure is extrapolated.
            assert!(try_open(t).is_err(), "the node took more than MAX_WS_CONNS websockets");
        } else {
            let more: Vec<Ws> = (f.cap..IDLE).map(|_| open(t)).collect();
            f.rss_idle = Some(mem(t.pid));
            drop(more);
        }
        drop(idle);
    }
    print!("  filling {STORED} events ... ");
    let _ = std::io::stdout().flush();
    let t0 = Instant::now();
    fill(t);
    println!("{:.1} s", t0.elapsed().as_secs_f64());

    println!("  REQ, publish and live figures ...");
    let mut lat = Vec::new();
    for r in 0..REQ_ROUNDS {
        let mut c = open(t);
        let t0 = Instant::now();
        c.send(&format!("[\"REQ\",\"t{r}\",{TIMELINE}]"));
        let got = c.recv_until(|m| m[0] == "EOSE");
        lat.push(t0.elapsed().as_secs_f64() * 1e3);
        f.req_events = got.len() - 1;
        c.close();
    }
    (f.req_p50, f.req_p99) = p50_p99(&mut lat);
    println!("  REQ done; publishing one at a time ...");

    let mut c = open(t);
    let t0 = Instant::now();
    for e in &ev.serial {
        c.send(&format!("[\"EVENT\",{e}]"));
        expect_ok(&c.recv());
    }
    f.serial = SERIAL as f64 / t0.elapsed().as_secs_f64();
    c.close();
    println!("  publishing pipelined ...");
    f.burst = pipelined(t, &ev.burst);
    f.pipelined = pipelined(t, &ev.pipelined);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for list in &ev.conns {
            s.spawn(|| pipelined(t, list));
        }
    });
    f.conns = (CONNS * PER_CONN) as f64 / t0.elapsed().as_secs_f64();

    println!("  live ...");
    let mut sub = open(t);
    // `since`, not `limit: 0`: nostr-rs-relay 0.8 skips the stored query, and so the `EOSE`, for `limit: 0`.
    sub.send(&format!(r#"["REQ","live",{{"kinds":[1],"since":{}}}]"#, unix_now()));
    sub.recv_until(|m| m[0] == "EOSE");
    (f.live_p50, f.live_p99) = live(t, &mut sub, &ev.key);
    f
}

/// Sends [`LIVE`] posts by `key`, dated now, over a websocket to `to` and times each until
/// `sub` sees it.
fn live(to: &Target, sub: &mut Ws, key: &SecretKey) -> (f64, f64) {
    let mut c = open(to);
    let mut lat = Vec::new();
    let mut last = Instant::now();
    for n in 0..LIVE {
        if n % 100 == 0 {
            println!("    post {n} ...");
        }
        let content = format!("live {n}: the quick brown fox jumps over the lazy dog");
        let e = Event::new_signed(key, UnixTime(unix_now()), KIND_POST, vec![], content, &[0; 32]);
        let (id, json) = (hex::encode(&e.id.0), to_client_json(&e));
        // Paced below our per-connection message rate: the figure is the live path, not
        // the wait for a rate token (which at 20/s alone would add up to 50 ms).
        let pace = Duration::from_millis(1000 / u64::from(WS_MSGS_PER_SEC) + 10);
        std::thread::sleep(pace.saturating_sub(last.elapsed()));
        last = Instant::now();
        let t0 = Instant::now();
        c.send(&format!("[\"EVENT\",{json}]"));
        let m = sub.recv_until(|m| m[0] == "EVENT" && m[2]["id"] == id.as_str());
        lat.push(t0.elapsed().as_secs_f64() * 1e3);
        assert_eq!(m.len(), 1, "only this post arrives: {m:?}");
        expect_ok(&c.recv());
    }
    c.close();
    p50_p99(&mut lat)
}

/// Posts/s of `events` sent back to back on one new connection while a second thread reads
/// the `OK`s (counted from the first byte sent to the last `OK`).
fn pipelined(t: &Target, events: &[String]) -> f64 {
    let mut c = open(t);
    let mut reader = c.split();
    let t0 = Instant::now();
    std::thread::scope(|s| {
        let r = s.spawn(move || {
            for _ in events {
                expect_ok(&reader.recv());
            }
        });
        for e in events {
            c.send(&format!("[\"EVENT\",{e}]"));
        }
        r.join().expect("reader");
    });
    let rate = events.len() as f64 / t0.elapsed().as_secs_f64();
    c.close();
    rate
}

fn expect_ok(m: &Value) {
    assert!(m[0] == "OK" && m[2] == true, "expected OK true, got {m}");
}

/// Our node: owner-only writes, so the 10,000 are published over HTTP `/publish` (its
/// websocket rate limit would make this take minutes; the store is the same).
fn fill_http(t: &Target, events: &[String]) {
    let mut c = HttpClient::connect(SocketAddr::new(t.ws.ip(), t.ws.port()));
    for e in events {
        let r = c.post("/publish", e.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

fn fill_ws(t: &Target, events: &[String]) {
    for chunk in events.chunks(1_000) {
        pipelined(t, chunk);
    }
}

/// A websocket to `t`, past the NIP-42 greeting if `t` sends one.
fn open(t: &Target) -> Ws {
    try_open(t).unwrap_or_else(|e| panic!("websocket to {}: {e}", t.ws))
}

fn try_open(t: &Target) -> Result<Ws, String> {
    let mut c = Ws::try_connect(t.ws, READ_GUARD)?;
    if t.greets {
        let hello = c.recv();
        assert_eq!(hello[0], "AUTH", "first message is the NIP-42 challenge: {hello}");
    }
    Ok(c)
}

/// One `nostrp2p server` process, killed on drop.
struct Ours {
    child: Child,
    http: SocketAddr,
}

impl Ours {
    fn start(key: &SecretKey, ip: IpAddr, dir: &Path) -> Ours {
        let overlay = SocketAddr::new(ip, 39_500);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nostrp2p"));
        cmd.args(["server", "-p", &key.public_key().to_hex(), "-l", &overlay.to_string(), "--data-dir"]).arg(dir);
        let mut child = cmd
            .env("RUST_LOG", "warn,nostrp2p::driver=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nostrp2p");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.contains("HTTP API listening on") => break,
                Some(Ok(_)) => {}
                _ => panic!("nostrp2p server did not start"),
            }
        }
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Ours { child, http: SocketAddr::new(ip, 39_501) }
    }

    fn target(&self) -> Target {
        Target { ws: self.http, pid: self.child.id(), greets: true }
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `nostr-rs-relay` with a config in its own temp dir, killed on drop.
struct Nrr {
    child: Child,
    ws: SocketAddr,
}

fn nrr_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NOSTR_RS_RELAY") {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join("nostr-rs-relay")).find(|p| p.is_file())
}

impl Nrr {
    fn start(bin: &Path, ip: IpAddr, dir: &Path) -> Nrr {
        std::fs::create_dir_all(dir).expect("nrr dir");
        let ws = SocketAddr::new(ip, 39_510);
        // Defaults otherwise (no message rate limit); SQLite in WAL mode, synchronous=NORMAL.
        let config = format!(
            "[info]\nrelay_url = \"ws://{ws}/\"\nname = \"bench\"\n\n[database]\ndata_directory = \"{}\"\n\n\
             [network]\naddress = \"{}\"\nport = {}\n",
            dir.display(),
            ws.ip(),
            ws.port()
        );
        let cfg = dir.join("config.toml");
        std::fs::write(&cfg, config).expect("nrr config");
        let child = Command::new(bin)
            .arg("--config")
            .arg(&cfg)
            .current_dir(dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nostr-rs-relay");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(ws).is_err() {
            assert!(Instant::now() < deadline, "nostr-rs-relay did not listen on {ws}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Nrr { child, ws }
    }

    fn target(&self) -> Target {
        Target { ws: self.ws, pid: self.child.id(), greets: false }
    }
}

impl Drop for Nrr {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mem(pid: u32) -> Mem {
    let kib = |file: &str, fields: &[&str]| -> f64 {
        let s = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap_or_default();
        s.lines()
            .filter(|l| fields.iter().any(|f| l.starts_with(f)))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .sum()
    };
    Mem { rss: kib("status", &["VmRSS:"]), private: kib("smaps_rollup", &["Private_Clean:", "Private_Dirty:"]) }
}

fn p50_p99(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[(v.len() * 99 / 100).min(v.len() - 1)])
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn report(ours: &Figures, theirs: Option<&Figures>) {
    println!();
    println!("{:<58} {:>14} {:>16} {:>8}", "figure", "nostrp2p", "nostr-rs-relay", "better");
    let na = if theirs.is_some() { "-" } else { "not installed" };
    // `higher`: whether a larger figure is better (rates) or worse (latency, memory).
    let row = |name: &str, ours: f64, theirs: Option<f64>, higher: bool| {
        let t = theirs.map_or(na.to_string(), |v| format!("{v:.2}"));
        let ratio = theirs.map_or("-".into(), |v| format!("{:.1}x", if higher { ours / v } else { v / ours }));
        println!("{name:<58} {ours:>14.2} {t:>16} {ratio:>8}");
    };
    let th = |f: fn(&Figures) -> f64| theirs.map(f);
    row("publish, one at a time, 1 conn (OK/s)", ours.serial, th(|f| f.serial), true);
    row(&format!("publish, first {WS_MSG_BURST} pipelined, 1 conn (OK/s)"), ours.burst, th(|f| f.burst), true);
    row(&format!("publish, {PIPELINED} pipelined, 1 conn (OK/s)"), ours.pipelined, th(|f| f.pipelined), true);
    row(&format!("publish, {CONNS} conns x {PER_CONN} pipelined (OK/s)"), ours.conns, th(|f| f.conns), true);
    row(&format!("REQ {TIMELINE} -> EOSE, {STORED} stored, p50 ms"), ours.req_p50, th(|f| f.req_p50), false);
    row("  the same, p99 ms", ours.req_p99, th(|f| f.req_p99), false);
    row("live: EVENT in -> EVENT on a subscriber, same server, p50 ms", ours.live_p50, th(|f| f.live_p50), false);
    row("  the same, p99 ms", ours.live_p99, th(|f| f.live_p99), false);
    let per = |f: &Figures, m: fn(&Mem) -> f64| (m(&f.rss_cap) - m(&f.rss_base)) / f.cap as f64;
    let per_theirs = |m: fn(&Mem) -> f64| theirs.and_then(|f| Some((m(&f.rss_idle?) - m(&f.rss_base)) / (IDLE as f64)));
    row("RSS, fresh and idle (MB)", ours.rss_base.rss / 1e3, th(|f| f.rss_base.rss / 1e3), false);
    row("  private (MB)", ours.rss_base.private / 1e3, th(|f| f.rss_base.private / 1e3), false);
    row(
        &format!("RSS with {} idle websockets (MB)", ours.cap),
        ours.rss_cap.rss / 1e3,
        th(|f| f.rss_cap.rss / 1e3),
        false,
    );
    row("  private (MB)", ours.rss_cap.private / 1e3, th(|f| f.rss_cap.private / 1e3), false);
    row("per idle websocket, RSS (KiB)", per(ours, |m| m.rss), per_theirs(|m| m.rss), false);
    row("per idle websocket, private (KiB)", per(ours, |m| m.private), per_theirs(|m| m.private), false);
    let extra = (IDLE - ours.cap) as f64;
    let ours_idle = |m: fn(&Mem) -> f64| (m(&ours.rss_cap) + extra * per(ours, m)) / 1e3;
    let their_idle = |m: fn(&Mem) -> f64| theirs.and_then(|f| Some(m(&f.rss_idle?) / 1e3));
    row(
        &format!("RSS with {IDLE} idle websockets (MB, ours extrapolated)"),
        ours_idle(|m| m.rss),
        their_idle(|m| m.rss),
        false,
    );
    row("  private (MB)", ours_idle(|m| m.private), their_idle(|m| m.private), false);
    println!(
        "(REQ answers {} events + EOSE on ours{}; our node reads at most {WS_MSGS_PER_SEC} messages/s per websocket after a \
         burst of {WS_MSG_BURST}, and caps websockets at {MAX_WS_CONNS}; nostr-rs-relay runs with its defaults: no \
         message rate limit, SQLite WAL with synchronous=NORMAL, so its OK is not fsync'd)",
        ours.req_events,
        theirs.map_or(String::new(), |f| format!(", {} on nostr-rs-relay", f.req_events))
    );
}
