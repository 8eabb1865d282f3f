//! `cargo run --release --example udp_floor`: this machine's wake-up floor for a post's path,
//! to compare `cargo bench --bench net3`'s latency with (issue 11). Three processes on
//! loopback pass one small UDP datagram along the chain a post takes, client → A → B →
//! client, one round trip every 100 ms (net3's pace, so the cores go idle in between, as they
//! do between posts); each hop is a process blocked in `recv_from` that sends the datagram on
//! as soon as it wakes. Prints p50 / p99 of the chain's time: what two sleeping processes
//! cost to wake and forward, with no work at all, the floor under net3's figure (which adds
//! HTTP, a signature check, the store, a websocket and a third process).
//!
//! `UDP_FLOOR_ROUNDS` (default 200) and `UDP_FLOOR_GAP_MS` (default 100). Sends only on
//! 127.0.0.1. Not a test: nothing here asserts a speed.

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One hop: receive on `listen`, send each datagram on to `next`, until killed.
fn hop(listen: &str, next: &str) -> std::io::Result<()> {
    let sock = UdpSocket::bind(listen)?;
    let next: SocketAddr = next.parse().map_err(std::io::Error::other)?;
    let mut buf = [0u8; 64];
    loop {
        let (n, _) = sock.recv_from(&mut buf)?;
        sock.send_to(&buf[..n], next)?;
    }
}

fn free_port() -> std::io::Result<SocketAddr> {
    UdpSocket::bind("127.0.0.1:0")?.local_addr()
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, listen, next] = args.as_slice() {
        if mode == "hop" {
            return hop(listen, next);
        }
    }
    let rounds = env("UDP_FLOOR_ROUNDS", 200) as usize;
    let gap = Duration::from_millis(env("UDP_FLOOR_GAP_MS", 100));
    let client = UdpSocket::bind("127.0.0.1:0")?;
    client.set_read_timeout(Some(Duration::from_secs(5)))?;
    let (a, b) = (free_port()?, free_port()?);
    let me = std::env::current_exe()?;
    let spawn = |listen: SocketAddr, next: SocketAddr| {
        Command::new(&me).args(["hop", &listen.to_string(), &next.to_string()]).stdin(Stdio::null()).spawn().map(Kill)
    };
    let _b = spawn(b, client.local_addr()?)?;
    let _a = spawn(a, b)?;
    let mut buf = [0u8; 64];
    // The hops are ready once a datagram makes the whole round.
    let ready = Instant::now() + Duration::from_secs(10);
    loop {
        client.send_to(b"warm", a)?;
        if client.recv_from(&mut buf).is_ok() {
            break;
        }
        if Instant::now() > ready {
            return Err(std::io::Error::other("the hops did not answer"));
        }
    }
    let mut lat = Vec::with_capacity(rounds);
    for i in 0..rounds {
        std::thread::sleep(gap);
        let t0 = Instant::now();
        client.send_to(&(i as u64).to_be_bytes(), a)?;
        loop {
            let (n, _) = client.recv_from(&mut buf)?;
            if buf[..n] == (i as u64).to_be_bytes() {
                break;
            }
        }
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat.get(((lat.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN);
    println!(
        "UDP chain client → A → B → client, {rounds} rounds {gap:?} apart: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}
