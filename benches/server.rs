//! `cargo bench --bench server`: measures a real `nostrp2p server` process on loopback and
//! prints the figures next to the original Go server's (measured on these machines).
//!
//! Figures: publish throughput with durable acks over one keep-alive connection; `/req`
//! latency of the client's 300-event first poll with 10,000 events stored; RSS idle, after
//! 1,000 and after 10,000 events; CPU seconds used while idle for `BENCH_IDLE_SECS` (default
//! 60) scaled to a minute; the stripped binary's size. Not a test: nothing here asserts.

#[allow(dead_code)] // the tests use more of the client than the benchmark
#[path = "../tests/common/client.rs"]
mod client;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use client::HttpClient;
use nostrp2p::event::json::to_client_json;
use nostrp2p::event::Event;
use nostrp2p::keys::SecretKey;
use nostrp2p::time::UnixTime;

// The original Go server, measured on these machines (issue #2).
const GO_POSTS_PER_S: f64 = 140.0;
const GO_IDLE_RSS_MB: f64 = 15.0;
const GO_RSS_1000_MB: f64 = 28.0; // 27–29 MB
const GO_IDLE_CPU_S_PER_MIN: f64 = 0.58; // 0.5–0.67
const GO_BINARY_MB: f64 = 9.8;

const EVENTS: u64 = 10_000;
/// Concurrent keep-alive connections for the group-commit figure, and posts each sends.
const CONCURRENT: u64 = 4;
const CONCURRENT_POSTS: u64 = 1_000;
const POLL: &[u8] = br#"{"kinds":[40000],"since":-1,"until":-1,"limit":300}"#;

fn main() {
    let bin = env!("CARGO_BIN_EXE_nostrp2p");
    let idle_secs: u64 = std::env::var("BENCH_IDLE_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let dir = std::env::temp_dir().join(format!("nostrp2p-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let key = SecretKey::parse("0000000000000000000000000000000000000000000000000000000000000003").expect("key");
    println!("nostrp2p server benchmark ({bin})");
    println!("signing {EVENTS} events ...");
    let bodies: Vec<String> = (0..EVENTS)
        .map(|i| {
            let content = format!("benchmark post {i}: the quick brown fox jumps over the lazy dog");
            let e = Event::new_signed(&key, UnixTime(1_700_000_000 + i), 1, vec![], content, &[0; 32]);
            to_client_json(&e)
        })
        .collect();

    let mut child = start_server(bin, &key.public_key().to_npub(), &dir);
    let pid = child.id();
    let addr = "127.0.0.1:39401".parse().expect("addr");
    let mut c = HttpClient::connect(addr);
    std::thread::sleep(Duration::from_secs(2));
    let idle_rss = rss_mb(pid);
    let idle_private = rss_field_mb(pid, "RssAnon:");

    // Publish throughput, durable acks, one keep-alive connection, one request at a time.
    let t = Instant::now();
    for (i, body) in bodies.iter().enumerate() {
        let r = c.post("/publish", body.as_bytes());
        assert_eq!(r.status, 200, "publish {i}: {}", r.text());
        if i + 1 == 1000 {
            let rate = 1000.0 / t.elapsed().as_secs_f64();
            println!("  first 1,000 posts: {rate:.0} posts/s");
        }
    }
    let publish_rate = EVENTS as f64 / t.elapsed().as_secs_f64();
    let rss_10k = rss_mb(pid);
    let private_10k = rss_field_mb(pid, "RssAnon:");

    // The same with several clients at once: their publishes share fsyncs (group commit).
    let t = Instant::now();
    let threads: Vec<_> = (0..CONCURRENT)
        .map(|w| {
            let key = key.clone();
            std::thread::spawn(move || {
                let mut c = HttpClient::connect(addr);
                for i in 0..CONCURRENT_POSTS {
                    let at = UnixTime(1_600_000_000 + w * CONCURRENT_POSTS + i);
                    let e = Event::new_signed(&key, at, 1, vec![], format!("concurrent post {w}/{i}"), &[0; 32]);
                    let r = c.post("/publish", to_client_json(&e).as_bytes());
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

    // The client's 300-event first poll, many times.
    let mut lat = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        let r = c.post("/req", POLL);
        lat.push(t.elapsed());
        assert_eq!(r.status, 200);
    }
    lat.sort();
    let p50 = lat[lat.len() / 2];
    let p99 = lat[lat.len() * 99 / 100];
    let poll_bytes = c.post("/req", POLL).body.len();

    // Idle CPU.
    let cpu0 = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(idle_secs));
    let idle_cpu_per_min = (cpu_seconds(pid) - cpu0) * 60.0 / idle_secs as f64;
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = child.wait();

    // RSS after 1,000 events, from a fresh process (apples to apples with the Go figure).
    let rss_1000 = {
        let _ = std::fs::remove_dir_all(&dir);
        let mut child = start_server(bin, &key.public_key().to_npub(), &dir);
        let mut c = HttpClient::connect(addr);
        for body in &bodies[..1000] {
            assert_eq!(c.post("/publish", body.as_bytes()).status, 200);
        }
        let rss = rss_mb(child.id());
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let _ = child.wait();
        rss
    };
    let _ = std::fs::remove_dir_all(&dir);

    let release = std::path::Path::new(bin);
    let bin_mb = std::fs::metadata(release).map(|m| m.len() as f64 / 1e6).unwrap_or(f64::NAN);

    println!();
    println!("{:<44} {:>12} {:>12} {:>8}", "figure", "nostrp2p", "original", "ratio");
    row("publish, durable acks (posts/s, higher=better)", publish_rate, GO_POSTS_PER_S, publish_rate / GO_POSTS_PER_S);
    row(
        &format!("publish, {CONCURRENT} clients at once (posts/s)"),
        concurrent_rate,
        GO_POSTS_PER_S,
        concurrent_rate / GO_POSTS_PER_S,
    );
    row("RSS idle (MB)", idle_rss, GO_IDLE_RSS_MB, GO_IDLE_RSS_MB / idle_rss);
    row("RSS after 1,000 posts (MB)", rss_1000, GO_RSS_1000_MB, GO_RSS_1000_MB / rss_1000);
    row("RSS after 10,000 posts (MB)", rss_10k, f64::NAN, f64::NAN);
    row("  of which private (heap+stacks) idle (MB)", idle_private, f64::NAN, f64::NAN);
    row("  of which private after 10,000 posts (MB)", private_10k, f64::NAN, f64::NAN);
    row(
        "idle CPU (CPU-s per minute)",
        idle_cpu_per_min,
        GO_IDLE_CPU_S_PER_MIN,
        GO_IDLE_CPU_S_PER_MIN / idle_cpu_per_min.max(1e-3),
    );
    row("binary, stripped (MB)", bin_mb, GO_BINARY_MB, GO_BINARY_MB / bin_mb);
    println!(
        "/req 300-event poll with {EVENTS} stored: p50 {:.2} ms, p99 {:.2} ms, {poll_bytes} bytes gzip'd",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    let fsync = fsync_ms(&std::env::temp_dir());
    println!(
        "fdatasync on this disk: {fsync:.2} ms (one durable ack at a time bounds one connection to ~{:.0}/s)",
        1000.0 / fsync
    );
    println!("(ratio = how many times better than the original; idle CPU measured over {idle_secs} s; an idle CPU below the 10 ms tick shows as 0)");
}

/// Starts the server for `owner` on 127.0.0.1:39400 (HTTP :39401) and returns once its
/// HTTP API listens; its further output is drained in the background.
fn start_server(bin: &str, owner: &str, dir: &std::path::Path) -> std::process::Child {
    let mut child = Command::new(bin)
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
        "{name:<44} {:>12} {:>12} {:>8}",
        fmt(ours),
        fmt(theirs),
        if ratio.is_nan() { "-".into() } else { format!("{ratio:.1}x") }
    );
}

/// Median latency of a 400-byte append + fdatasync in `dir`'s file system.
fn fsync_ms(dir: &std::path::Path) -> f64 {
    use std::io::Write;
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
