//! Test harness: starts real `nostrp2p server` processes on unique loopback addresses and
//! talks to them over real sockets.
//!
//! Each node gets its own 127.a.b.c address (from the test process id and a counter), so
//! tests running in parallel, and other test processes, never fight over ports. Readiness
//! is the server's own "HTTP API listening" log line: nothing sleeps.
#![allow(dead_code, unused_imports)] // each test binary uses a different part of the harness

pub mod client;
pub mod cluster;
pub mod raw;
pub mod ws;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nostrp2p::event::Event;
use nostrp2p::keys::SecretKey;

pub use client::{HttpClient, HttpResponse};

/// How long a server may take to start before the test fails (generous: CI shares 2 cores).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The original's fixture users (Appendix A).
pub const SECRET_A: &str = "0000000000000000000000000000000000000000000000000000000000000003";
pub const SECRET_B: &str = "76f5056ae58d6460e4272ff038e49432e91c5fe7b670f49577bf483c180b48db";
pub const SECRET_C: &str = "68ff284f96fd5b36bfd8a88eab49a30dbde6f3c8c6662c4ab6e7c1f2444d1002";
pub const NPUB_A: &str = "npub1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmus6gq266";
pub const HEX_A: &str = "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9";
pub const HEX_B: &str = "d70653b0973aa1ec9b9525c147952fdb161f52482f38915c6db671e529443f01";
pub const HEX_C: &str = "a82e782078ed0ebda1b40a93bad5433114cb1293059283bb61ceedbbebdf119c";

/// The JSON of fixture `E<n>` exactly as the client POSTs it, and its parsed event.
pub use nostrp2p::testkit::{fixture as fixture_event, fixture_json as fixture};

pub fn key(secret_hex: &str) -> SecretKey {
    SecretKey::parse(secret_hex).expect("test key")
}

/// A fresh unique loopback address for one node (port fixed; the IP differs).
pub fn unique_loopback() -> IpAddr {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id();
    IpAddr::V4(Ipv4Addr::new(127, (pid % 250 + 1) as u8, ((pid / 250) % 250) as u8, (n % 250 + 2) as u8))
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "nostrp2p-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Settings for one server process.
#[derive(Clone, Debug)]
pub struct NodeOpts {
    pub owner: String,
    pub ip: IpAddr,
    pub port: u16,
    pub data_dir: PathBuf,
    pub extra: Vec<String>,
    /// Extra environment variables (test-only overrides such as `NOSTRP2P_TEST_WS_PING_MS`).
    pub env: Vec<(String, String)>,
    /// A program (and its arguments) to run the server under, e.g. `valgrind --tool=callgrind`
    /// (the ingest benchmark's instruction count); empty: the server runs directly.
    pub wrapper: Vec<String>,
}

impl NodeOpts {
    pub fn new(owner: &str, data_dir: &Path) -> NodeOpts {
        NodeOpts {
            owner: owner.into(),
            ip: unique_loopback(),
            port: 20000,
            data_dir: data_dir.into(),
            extra: vec![],
            env: vec![],
            wrapper: vec![],
        }
    }

    pub fn arg(mut self, a: &str) -> NodeOpts {
        self.extra.push(a.into());
        self
    }
}

/// A running server process; killed on drop.
pub struct Node {
    pub child: Child,
    pub opts: NodeOpts,
    pub http: SocketAddr,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Node {
    /// Starts `nostrp2p server` and waits until its HTTP API is listening.
    pub fn start(opts: NodeOpts) -> Node {
        let bin = env!("CARGO_BIN_EXE_nostrp2p");
        let mut cmd = match opts.wrapper.split_first() {
            Some((prog, args)) => {
                let mut c = Command::new(prog);
                c.args(args).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.arg("server")
            .arg("-p")
            .arg(&opts.owner)
            .arg("-l")
            .arg(SocketAddr::new(opts.ip, opts.port).to_string())
            .arg("--data-dir")
            .arg(&opts.data_dir)
            .args(&opts.extra)
            .envs(opts.env.iter().map(|(k, v)| (k, v)));
        let (child, log, ready_rx) = spawn_logged(cmd);
        let http = SocketAddr::new(opts.ip, opts.port + 1);
        let mut node = Node { child, opts, http, log };
        if ready_rx.recv_timeout(START_TIMEOUT).is_err() {
            let status = node.child.try_wait().ok().flatten();
            panic!("server did not become ready (exit status {status:?}); log:\n{}", node.log_text());
        }
        node
    }

    pub fn client(&self) -> HttpClient {
        HttpClient::connect(self.http)
    }

    pub fn log_text(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// SIGTERM, then wait for the exit status (bounded).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "server ignored SIGTERM; log:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: a crash, no chance to flush.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines a server printed to stderr, collected by a reader thread.
pub type Log = Arc<Mutex<Vec<String>>>;

/// Spawns a server command with debug logging (unless the command sets `RUST_LOG`, as the
/// ingest benchmark does), collecting its stderr; the receiver gets a message once the server
/// logs that its HTTP API is listening (its readiness signal).
pub fn spawn_logged(mut cmd: Command) -> (Child, Log, std::sync::mpsc::Receiver<()>) {
    if !cmd.get_envs().any(|(k, _)| k == "RUST_LOG") {
        cmd.env("RUST_LOG", "debug");
    }
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start nostrp2p");
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().expect("stderr piped");
    let log2 = Arc::clone(&log);
    std::thread::spawn(move || {
        let mut ready = Some(ready_tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("HTTP API listening on") {
                if let Some(tx) = ready.take() {
                    let _ = tx.send(());
                }
            }
            log2.lock().expect("log lock").push(line);
        }
    });
    (child, log, ready_rx)
}

/// Runs the binary with `args` to completion and returns (exit code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nostrp2p")).args(args).output().expect("run nostrp2p");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
