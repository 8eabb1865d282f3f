//! NAT test in network namespaces (model: `tests/netlab/`, copied from the project's netlab):
//! a public node and two nodes behind separate NAT routers. The NATed nodes find out they are
//! not reachable (dial-back check), attach to the public node as leaves, and a post from one
//! reaches the other, and so does a unicast (a like) — both relayed through the public node.
//!
//! Needs root, `ip`, `nft` and `python3` (the HTTP client runs inside the namespaces, where this
//! process cannot connect). Without them (or with `NOSTRP2P_SKIP_NAT_TEST` set) the test does
//! nothing and prints a SKIPPED banner that `cargo test` shows (it is not captured).
//! Traffic stays inside the namespaces it creates (nothing is attached to the root namespace).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use std::time::{Duration, Instant};

use common::{spawn_logged, Log, TempDir};
use nostrp2p::event::json::to_client_json;
use nostrp2p::event::msgpack::decode_events;
use nostrp2p::event::Event;
use nostrp2p::hex;
use nostrp2p::keys::SecretKey;
use nostrp2p::time::UnixTime;

const WAIT: Duration = Duration::from_secs(90);

fn skip_reason() -> Option<String> {
    if std::env::var_os("NOSTRP2P_SKIP_NAT_TEST").is_some() {
        return Some("NOSTRP2P_SKIP_NAT_TEST is set".into());
    }
    let root = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root.unwrap_or(false) {
        return Some("not running as root (network namespaces need root)".into());
    }
    for tool in ["ip", "nft", "python3"] {
        let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().map(|o| o.status.success());
        if !found.unwrap_or(false) {
            return Some(format!("`{tool}` not installed (apt-get install nftables iproute2 python3)"));
        }
    }
    None
}

fn lab_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/netlab")
}

/// The namespaces of one lab; torn down on drop (also when the test panics).
struct Lab {
    prefix: String,
}

impl Lab {
    fn up() -> Lab {
        let prefix = format!("n{}", std::process::id() % 100_000);
        let out = Command::new("bash")
            .arg(lab_dir().join("setup.sh"))
            .env("NP2P_LAB_PREFIX", &prefix)
            .output()
            .expect("run setup.sh");
        assert!(out.status.success(), "netlab setup failed: {}", String::from_utf8_lossy(&out.stderr));
        Lab { prefix }
    }

    fn ns(&self, host: &str) -> String {
        format!("{}_{host}", self.prefix)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(lab_dir().join("teardown.sh")).env("NP2P_LAB_PREFIX", &self.prefix).output();
    }
}

/// A server process inside a namespace.
struct NsNode {
    child: Child,
    ns: String,
    http: String,
    log: Log,
}

impl NsNode {
    fn start(ns: &str, owner: &SecretKey, listen: &str, boot: Option<&str>, dir: &Path) -> NsNode {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_nostrp2p"), "server", "-p"])
            .arg(owner.public_key().to_hex())
            .args(["-l", listen, "--data-dir"])
            .arg(dir);
        if let Some(b) = boot {
            cmd.args(["-b", b]);
        }
        let (child, log, rx) = spawn_logged(cmd);
        let (ip, port) = listen.rsplit_once(':').expect("host:port");
        let http = format!("{ip}:{}", port.parse::<u16>().expect("port") + 1);
        let node = NsNode { child, ns: ns.into(), http, log };
        assert!(rx.recv_timeout(WAIT).is_ok(), "server in {ns} did not start:\n{}", node.log_text());
        node
    }

    fn log_text(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// An HTTP request from inside the node's namespace; returns (status, body).
    fn http(&self, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let script = "import sys,urllib.request,binascii\n\
            req=urllib.request.Request('http://'+sys.argv[1]+sys.argv[2],data=binascii.unhexlify(sys.argv[3]) if sys.argv[3] else None,headers={'Content-Type':'application/json'})\n\
            try:\n r=urllib.request.urlopen(req,timeout=10); print(r.status, binascii.hexlify(r.read()).decode())\n\
            except urllib.error.HTTPError as e: print(e.code, binascii.hexlify(e.read()).decode())\n\
            except Exception as e: print(0, '')\n";
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "python3", "-c", script, &self.http, path, &hex::encode(body)])
            .output()
            .expect("python3 in namespace");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut parts = text.split_whitespace();
        let status = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let bytes = parts.next().map(unhex).unwrap_or_default();
        (status, bytes)
    }

    fn has_event(&self, id: &str) -> bool {
        let (status, body) = self.http("/req", br#"{"kinds":[40000],"limit":1000}"#);
        status == 200 && decode_events(&body).is_ok_and(|evs| evs.iter().any(|w| hex::encode(&w.event.id.0) == id))
    }

    fn publish(&self, ev: &Event) {
        let (status, body) = self.http("/publish", to_client_json(ev).as_bytes());
        assert_eq!(status, 200, "publish in {}: {}", self.ns, String::from_utf8_lossy(&body));
    }
}

impl Drop for NsNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until(what: &str, nodes: &[&NsNode], mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        if Instant::now() > deadline {
            let logs: Vec<String> = nodes.iter().map(|n| format!("[{}]\n{}", n.ns, n.log_text())).collect();
            panic!("timed out waiting for {what}; logs:\n{}", logs.join("\n-----\n"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2).filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[test]
fn post_and_unicast_cross_two_nats_through_the_public_node() {
    if let Some(why) = skip_reason() {
        // Written to the stderr handle, not with eprintln!: the test harness captures the print
        // macros (and shows them only for failing tests), not direct writes, so this banner is
        // on the screen of a plain `cargo test`.
        let banner =
            format!("\n*** SKIPPED: NAT test (tests/nat.rs): {why} ***\n*** The NAT relay path was NOT tested. ***\n");
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), banner.as_bytes());
        return;
    }
    let lab = Lab::up();
    let dirs: Vec<TempDir> = (0..3).map(|i| TempDir::new(&format!("nat-{i}"))).collect();
    let users: Vec<SecretKey> = (0..3u8).map(|i| SecretKey::from_bytes([0x40 + i; 32]).expect("test key")).collect();
    let public = NsNode::start(&lab.ns("pub"), &users[0], "10.99.0.10:20000", None, dirs[0].path());
    let h1 = NsNode::start(&lab.ns("h1"), &users[1], "192.168.101.10:20000", Some("10.99.0.10:20000"), dirs[1].path());
    let h2 = NsNode::start(&lab.ns("h2"), &users[2], "192.168.102.10:20000", Some("10.99.0.10:20000"), dirs[2].path());
    let all = [&public, &h1, &h2];
    wait_until("both NATed nodes to become leaves attached to the public node", &all, || {
        [&h1, &h2].iter().all(|n| n.log_text().contains("role decided: Leaf"))
            && public.log_text().matches("Attach").count() + public.log_text().matches("up: node").count() >= 2
            && [&h1, &h2].iter().all(|n| {
                let (s, b) = n.http("/status", b"");
                s == 200
                    && serde_json::from_slice::<serde_json::Value>(&b).is_ok_and(|v| v["peers"].as_u64() >= Some(1))
            })
    });

    // A post from behind NAT 1 reaches the node behind NAT 2 (relayed by the public node).
    let post = Event::new_signed(&users[1], UnixTime(now()), 1, vec![], "hello from behind NAT 1".into(), &[1; 32]);
    let post_id = hex::encode(&post.id.0);
    h1.publish(&post);
    wait_until("the post on h2 and the public node", &all, || h2.has_event(&post_id) && public.has_event(&post_id));

    // A unicast (a like of that post) from behind NAT 2 reaches h1 only.
    let like = Event::new_signed(
        &users[2],
        UnixTime(now()),
        7,
        vec![vec!["e".into(), post_id.clone()], vec!["p".into(), users[1].public_key().to_hex()]],
        "+".into(),
        &[2; 32],
    );
    let like_id = hex::encode(&like.id.0);
    h2.publish(&like);
    wait_until("the like on h1", &all, || h1.has_event(&like_id));
    assert!(!public.has_event(&like_id), "the unicast was stored by the relay, i.e. broadcast");
    drop(lab);
}
