//! `cargo bench --bench server`: measures a real `nostrp2p server` process on loopback and
//! prints the figures next to the original Go server's (measured on these machines).
//!
//! Figures: publish throughput with durable acks over one keep-alive connection, and the
//! server's CPU per publish; `/req` latency and server CPU of the client's 300-event first
//! poll with 10,000 events stored, repeated (answered from the server's cache) and each one
//! different (rendered and compressed afresh); the poll's size and deflate time at levels 1
//! and 6; RSS idle, after 1,000 and after 10,000 events; CPU seconds used while idle for
//! `BENCH_IDLE_SECS` (default 60) scaled to a minute; the stripped binary's size; with
//! valgrind installed (and `BENCH_CALLGRIND` not `0`), instructions per publish and per poll
//! counted by callgrind on the same data (slow: about a minute). `BENCH_BIN` measures another
//! build of the server. Server CPU comes from `/proc/<pid>/stat` (10 ms ticks) over
//! thousands of requests. `BENCH_RSS_ONLY=1` measures only the memory figures (idle and after
//! 10,000 posts), each with where the resident pages are (`/proc/<pid>/smaps` summed per
//! mapped file: the binary, libc, the heap, thread stacks and other anonymous memory).
//! Not a test: nothing here asserts.

#[allow(dead_code)] // the tests use more of the client than the benchmark
#[path = "../tests/common/client.rs"]
mod client;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use client::HttpClient;
use nostrp2p::event::json::to_client_json;
use nostrp2p::event::Event;
use nostrp2p::keys::SecretKey;
use nostrp2p::time::UnixTime;

// The original Go server, measured side by side on this machine (issue 11; RSS after 1,000
// posts and the binary from issue 2).
const GO_POSTS_PER_S: f64 = 81.0; // 60–81/s, the best round
const GO_PUBLISH_CPU_MS: f64 = 2.79;
const GO_PUBLISH_MINSTR: f64 = 3.59;
const GO_REQ_P50_MS: f64 = 5.8;
const GO_REQ_CPU_MS: f64 = 6.4;
const GO_IDLE_RSS_MB: f64 = 14.9;
const GO_RSS_1000_MB: f64 = 28.0; // 27–29 MB
const GO_RSS_10K_MB: f64 = 47.2;
const GO_IDLE_CPU_S_PER_MIN: f64 = 0.58; // 0.5–0.67
const GO_BINARY_MB: f64 = 9.8;

const EVENTS: u64 = 10_000;
/// Concurrent keep-alive connections for the group-commit figure, and posts each sends.
const CONCURRENT: u64 = 4;
const CONCURRENT_POSTS: u64 = 1_000;
/// Polls per `/req` figure.
const POLLS: usize = 500;
/// Requests per callgrind figure (the server runs ~50× slower under valgrind).
const CALLGRIND_REQS: u64 = 50;
const POLL: &[u8] = br#"{"kinds":[40000],"since":-1,"until":-1,"limit":300}"#;
const HTTP: &str = "127.0.0.1:39401";

/// The same poll with an ignored extra key, so that no two bodies are equal: never cached.
fn fresh_poll(i: usize) -> Vec<u8> {
    format!(r#"{{"kinds":[40000],"since":-1,"until":-1,"limit":300,"n":{i}}}"#).into_bytes()
}

fn signed_post(key: &SecretKey, at: u64, content: String) -> String {
    to_client_json(&Event::new_signed(key, UnixTime(at), 1, vec![], content, &[0; 32]))
}

/// `/req` figures: p50, p99 and server CPU-ms per poll.
struct Polls {
    p50_ms: f64,
    p99_ms: f64,
    cpu_ms: f64,
}

fn polls(c: &mut HttpClient, pid: u32, body: impl Fn(usize) -> Vec<u8>) -> Polls {
    let mut lat = Vec::with_capacity(POLLS);
    let cpu0 = cpu_seconds(pid);
    for i in 0..POLLS {
        let b = body(i);
        let t = Instant::now();
        let r = c.post("/req", &b);
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(r.status, 200);
    }
    let cpu_ms = (cpu_seconds(pid) - cpu0) * 1e3 / POLLS as f64;
    lat.sort_by(f64::total_cmp);
    Polls { p50_ms: lat[lat.len() / 2], p99_ms: lat[lat.len() * 99 / 100], cpu_ms }
}

fn main() {
    let bin = std::env::var("BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_nostrp2p").to_string());
    let idle_secs: u64 = std::env::var("BENCH_IDLE_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let dir = std::env::temp_dir().join(format!("nostrp2p-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let key = SecretKey::parse("0000000000000000000000000000000000000000000000000000000000000003").expect("key");
    let owner = key.public_key().to_npub();
    println!("nostrp2p server benchmark ({bin})");
    println!("signing {EVENTS} events ...");
    let bodies: Vec<String> = (0..EVENTS)
        .map(|i| {
            signed_post(
                &key,
                1_700_000_000 + i,
                format!("benchmark post {i}: the quick brown fox jumps over the lazy dog"),
            )
        })
        .collect();

    let mut child = start_server(&[&bin], &owner, &dir);
    let pid = child.id();
    let addr: SocketAddr = HTTP.parse().expect("addr");
    let mut c = HttpClient::connect(addr);
    std::thread::sleep(Duration::from_secs(2));
    let idle_rss = rss_mb(pid);
    let idle_private = rss_field_mb(pid, "RssAnon:");
    let rss_only = std::env::var("BENCH_RSS_ONLY").is_ok_and(|v| v == "1");
    if rss_only {
        println!("idle: RSS {idle_rss:.2} MB, private {idle_private:.2} MB");
        print_smaps(pid);
    }

    // Publish throughput, durable acks, one keep-alive connection, one request at a time.
    let cpu0 = cpu_seconds(pid);
    let t = Instant::now();
    for (i, body) in bodies.iter().enumerate() {
        let r = c.post("/publish", body.as_bytes());
        assert_eq!(r.status, 200, "publish {i}: {}", r.text());
    }
    let publish_rate = EVENTS as f64 / t.elapsed().as_secs_f64();
    let publish_cpu_ms = (cpu_seconds(pid) - cpu0) * 1e3 / EVENTS as f64;
    let rss_10k = rss_mb(pid);
    let private_10k = rss_field_mb(pid, "RssAnon:");
    if rss_only {
        println!("after {EVENTS} posts ({publish_rate:.0}/s): RSS {rss_10k:.2} MB, private {private_10k:.2} MB");
        print_smaps(pid);
        // `BENCH_RSS_HOLD=S`: S seconds to look at the server from outside (gdb, heaptrack).
        let hold: u64 = std::env::var("BENCH_RSS_HOLD").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
        if hold > 0 {
            println!("holding server pid {pid} for {hold} s");
            std::thread::sleep(Duration::from_secs(hold));
        }
        // A poll renders and compresses a timeline: what it leaves resident.
        let _ = polls(&mut c, pid, fresh_poll);
        println!(
            "after {POLLS} fresh polls: RSS {:.2} MB, private {:.2} MB",
            rss_mb(pid),
            rss_field_mb(pid, "RssAnon:")
        );
        print_smaps(pid);
        stop(&mut child);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }

    // The client's 300-event first poll: repeated (the cache answers), then each different.
    let cached = polls(&mut c, pid, |_| POLL.to_vec());
    let fresh = polls(&mut c, pid, fresh_poll);
    let answer = c.post("/req", POLL);
    let raw = answer.decoded_body();
    let deflate = [1, 6].map(|level| deflate_figures(&raw, level));

    // The same publishes with several clients at once: they share fsyncs (group commit).
    let t = Instant::now();
    let threads: Vec<_> = (0..CONCURRENT)
        .map(|w| {
            let key = key.clone();
            std::thread::spawn(move || {
                let mut c = HttpClient::connect(addr);
                for i in 0..CONCURRENT_POSTS {
                    let body =
                        signed_post(&key, 1_600_000_000 + w * CONCURRENT_POSTS + i, format!("concurrent {w}/{i}"));
                    let r = c.post("/publish", body.as_bytes());
                    assert_eq!(r.status, 200, "{}", r.text());
                }
            })
        })
        .collect();
    for th in threads {
        th.join().expect("publisher thread");
    }
    // Signing happens in the client threads too; it is counted, so this is a lower bound.
    let concurrent_rate = (CONCURRENT * CONCURRENT_POSTS) as f64 / t.elapsed().as_secs_f64();

    // Idle CPU.
    let cpu0 = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(idle_secs));
    let idle_cpu_per_min = (cpu_seconds(pid) - cpu0) * 60.0 / idle_secs as f64;
    stop(&mut child);

    // Instructions, counted by callgrind on the same data directory.
    let instr = callgrind_figures(&bin, &owner, &dir, &key);

    // RSS after 1,000 events, from a fresh process (apples to apples with the Go figure).
    let rss_1000 = {
        let _ = std::fs::remove_dir_all(&dir);
        let mut child = start_server(&[&bin], &owner, &dir);
        let mut c = HttpClient::connect(addr);
        for body in &bodies[..1000] {
            assert_eq!(c.post("/publish", body.as_bytes()).status, 200);
        }
        let rss = rss_mb(child.id());
        stop(&mut child);
        rss
    };
    let _ = std::fs::remove_dir_all(&dir);
    let bin_mb = std::fs::metadata(&bin).map(|m| m.len() as f64 / 1e6).unwrap_or(f64::NAN);

    println!();
    println!("{:<52} {:>12} {:>12} {:>8}", "figure (lower is better unless said)", "nostrp2p", "original", "ratio");
    let higher = |name: &str, ours: f64, go: f64| row(name, ours, go, ours / go);
    let lower = |name: &str, ours: f64, go: f64| row(name, ours, go, go / ours);
    higher("publish, durable acks, 1 connection (posts/s, higher)", publish_rate, GO_POSTS_PER_S);
    higher(&format!("publish, {CONCURRENT} clients at once (posts/s, higher)"), concurrent_rate, GO_POSTS_PER_S);
    lower("server CPU per durable publish (ms)", publish_cpu_ms, GO_PUBLISH_CPU_MS);
    lower("  instructions per publish (M, callgrind)", instr.publish, GO_PUBLISH_MINSTR);
    lower("/req 300-event poll, 10k stored, p50 (ms)", fresh.p50_ms, GO_REQ_P50_MS);
    lower("  its server CPU per poll (ms)", fresh.cpu_ms, GO_REQ_CPU_MS);
    lower("  p99 (ms)", fresh.p99_ms, f64::NAN);
    lower("  instructions per poll (M, callgrind)", instr.poll, f64::NAN);
    lower("the same poll repeated (cache), p50 (ms)", cached.p50_ms, GO_REQ_P50_MS);
    lower("  its server CPU per poll (ms)", cached.cpu_ms, GO_REQ_CPU_MS);
    lower("  p99 (ms)", cached.p99_ms, f64::NAN);
    lower("  instructions per poll (M, callgrind)", instr.cached_poll, f64::NAN);
    lower("RSS idle (MB)", idle_rss, GO_IDLE_RSS_MB);
    lower("RSS after 1,000 posts (MB)", rss_1000, GO_RSS_1000_MB);
    lower("RSS after 10,000 posts (MB)", rss_10k, GO_RSS_10K_MB);
    lower("  of which private (heap+stacks) idle (MB)", idle_private, f64::NAN);
    lower("  of which private after 10,000 posts (MB)", private_10k, f64::NAN);
    lower("idle CPU (CPU-s per minute)", idle_cpu_per_min.max(1e-3), GO_IDLE_CPU_S_PER_MIN);
    lower("binary, stripped (MB)", bin_mb, GO_BINARY_MB);
    println!(
        "/req answer: {} events, {} bytes MessagePack, {} bytes as sent ({})",
        decoded_events(&raw),
        raw.len(),
        answer.body.len(),
        answer.header("content-encoding").unwrap_or("identity")
    );
    for (level, (bytes, us)) in [1, 6].iter().zip(deflate) {
        println!("  gzip level {level} of it (this build's miniz_oxide): {bytes} bytes in {us:.0} us");
    }
    let fsync = fsync_ms(&std::env::temp_dir());
    println!(
        "fdatasync on this disk: {fsync:.2} ms (one durable ack at a time bounds one connection to ~{:.0}/s)",
        1000.0 / fsync
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average now: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    println!("(ratio = how many times better than the original; idle CPU measured over {idle_secs} s; an idle CPU below the 10 ms tick shows as 0.001)");
}

/// gzip size and median time of `raw` at `level`, in this process.
fn deflate_figures(raw: &[u8], level: u32) -> (usize, f64) {
    let mut size = 0;
    let mut t: Vec<f64> = (0..30)
        .map(|_| {
            let start = Instant::now();
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            let _ = enc.write_all(raw);
            size = enc.finish().map_or(0, |v| v.len());
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (size, t[t.len() / 2])
}

fn decoded_events(raw: &[u8]) -> usize {
    nostrp2p::event::msgpack::decode_events(raw).map_or(0, |v| v.len())
}

/// Millions of instructions per request, counted by callgrind.
struct Instr {
    publish: f64,
    poll: f64,
    cached_poll: f64,
}

/// Restarts the server on `dir` under callgrind and counts the instructions of
/// [`CALLGRIND_REQS`] publishes, fresh polls and repeated polls (counters zeroed before and
/// dumped after each). NaN when valgrind is missing or `BENCH_CALLGRIND=0`.
fn callgrind_figures(bin: &str, owner: &str, dir: &Path, key: &SecretKey) -> Instr {
    let none = Instr { publish: f64::NAN, poll: f64::NAN, cached_poll: f64::NAN };
    let has_valgrind = Command::new("valgrind").arg("--version").output().is_ok_and(|o| o.status.success());
    if std::env::var("BENCH_CALLGRIND").is_ok_and(|v| v == "0") || !has_valgrind {
        println!("(no instruction counts: valgrind missing or BENCH_CALLGRIND=0)");
        return none;
    }
    println!("counting instructions under callgrind ...");
    let out = dir.with_extension("callgrind");
    let _ = std::fs::remove_dir_all(&out);
    if std::fs::create_dir_all(&out).is_err() {
        return none;
    }
    let out_file = format!("--callgrind-out-file={}", out.join("cg.out").display());
    let mut child = start_server(&["valgrind", "--tool=callgrind", "--quiet", &out_file, bin], owner, dir);
    let pid = child.id();
    let mut c = HttpClient::connect(HTTP.parse().expect("addr"));
    // Warm up: the first requests fault in pages and grow buffers.
    for i in 0..5 {
        assert_eq!(c.post("/req", &fresh_poll(1_000_000 + i)).status, 200);
    }
    let mut n = 0;
    let mut measure = |what: &mut dyn FnMut(u64)| -> f64 {
        let _ = Command::new("callgrind_control").args(["-z", &pid.to_string()]).output();
        for i in 0..CALLGRIND_REQS {
            what(i);
        }
        let _ = Command::new("callgrind_control").args(["-d", &pid.to_string()]).output();
        n += 1;
        let dump = std::fs::read_dir(&out)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(&format!(".{n}")))
            .find_map(|e| std::fs::read_to_string(e.path()).ok())
            .unwrap_or_default();
        let total = dump
            .lines()
            .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse::<f64>().ok()))
            .unwrap_or(f64::NAN);
        total / CALLGRIND_REQS as f64 / 1e6
    };
    let poll = measure(&mut |i| assert_eq!(c.post("/req", &fresh_poll(i as usize)).status, 200));
    let cached_poll = measure(&mut |_| assert_eq!(c.post("/req", POLL).status, 200));
    let publish = measure(&mut |i| {
        let body = signed_post(key, 1_500_000_000 + i, format!("callgrind post {i}: the quick brown fox jumps"));
        assert_eq!(c.post("/publish", body.as_bytes()).status, 200);
    });
    stop(&mut child);
    let _ = std::fs::remove_dir_all(&out);
    Instr { publish, poll, cached_poll }
}

fn stop(child: &mut std::process::Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

/// Starts the server (`cmd`, the binary or valgrind and its arguments) for `owner` on
/// 127.0.0.1:39400 (HTTP :39401) and returns once its HTTP API listens; its further output
/// is drained in the background.
fn start_server(cmd: &[&str], owner: &str, dir: &Path) -> std::process::Child {
    let mut child = Command::new(cmd[0])
        .args(&cmd[1..])
        .args(["server", "-p", owner, "-l", "127.0.0.1:39400", "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "warn,nostrp2p::driver=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start server");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.contains("HTTP API listening on") => break,
            Some(Ok(_)) => {}
            _ => panic!("server did not start"),
        }
    }
    std::thread::spawn(move || for _ in lines.by_ref() {});
    child
}

fn row(name: &str, ours: f64, theirs: f64, ratio: f64) {
    let fmt = |v: f64| if v.is_nan() { "-".to_string() } else { format!("{v:.2}") };
    println!(
        "{name:<52} {:>12} {:>12} {:>8}",
        fmt(ours),
        fmt(theirs),
        if ratio.is_nan() { "-".into() } else { format!("{ratio:.1}x") }
    );
}

/// Median latency of a 400-byte append + fdatasync in `dir`'s file system.
fn fsync_ms(dir: &Path) -> f64 {
    let path = dir.join(format!("nostrp2p-fsync-probe-{}", std::process::id()));
    let Ok(mut f) = std::fs::File::create(&path) else { return f64::NAN };
    let mut v: Vec<f64> = (0..50)
        .map(|_| {
            let t = Instant::now();
            let _ = f.write_all(&[0u8; 400]);
            let _ = f.sync_data();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let _ = std::fs::remove_file(&path);
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Resident and private-dirty kB per mapping name in `/proc/<pid>/smaps` (anonymous
/// mappings other than the heap and the main stack summed as "[anon]"), largest first.
fn print_smaps(pid: u32) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut parts: Vec<(String, u64, u64, u32)> = Vec::new();
    let mut cur = String::new();
    let kb = |l: &str| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    for l in s.lines() {
        let head = l.split_whitespace().next().unwrap_or("");
        if head.contains('-') && !head.ends_with(':') {
            cur = l.split_whitespace().nth(5).unwrap_or("[anon]").to_string();
            if cur == "[anon]" {
                // Each anonymous mapping on its own: malloc's thread arenas and large blocks.
                cur = format!("[anon] {head}");
            }
            match parts.iter_mut().find(|p| p.0 == cur) {
                Some(p) => p.3 += 1,
                None => parts.push((cur.clone(), 0, 0, 1)),
            }
        } else if let Some(p) = parts.iter_mut().find(|p| p.0 == cur) {
            if l.starts_with("Rss:") {
                p.1 += kb(l);
            } else if l.starts_with("Private_Dirty:") {
                p.2 += kb(l);
            }
        }
    }
    parts.sort_by_key(|p| std::cmp::Reverse(p.1));
    for (name, rss, dirty, maps) in parts.iter().filter(|p| p.1 > 0) {
        println!("  {rss:>6} kB resident, {dirty:>6} kB private dirty, {maps:>2} mappings: {name}");
    }
}

fn rss_mb(pid: u32) -> f64 {
    rss_field_mb(pid, "VmRSS:")
}

/// A memory figure of `/proc/<pid>/status` in MB (`VmRSS:` all resident pages; `RssAnon:`
/// the private ones, without the binary's and libc's shared file pages).
fn rss_field_mb(pid: u32, field: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1000.0)
}

fn cpu_seconds(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is 14th, stime 15th overall.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
