//! The HTTP front under hostile clients, against a real `nostrp2p server` process on loopback:
//! a huge `Content-Length`, a 100 MB header line, idle connections past the cap, slow bodies,
//! websocket handshakes, CORS on the front's own errors, and SIGTERM with clients attached.
//!
//! Each test asserts that the process stays up, answers its owner and (where memory is the
//! attack) stays under a bound derived from the named limits. Deadlines here are failure
//! guards that turn a hang into a failure, never speed claims.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::cluster::WAIT;
use common::*;
use nostrp2p::limits::{MAX_HTTP_BODY_BYTES, MAX_HTTP_CONNS, MAX_HTTP_HEAD_BYTES, MAX_WS_MESSAGE_BYTES};

/// A raw connection with a read timeout (the guard against a server that never answers).
fn raw(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    s
}

/// Reads one response head (status and lowercased headers); `None` when the server closed
/// the connection first.
fn read_head(r: &mut impl BufRead) -> Option<(u16, Vec<(String, String)>)> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let status = line.split_whitespace().nth(1)?.parse().ok()?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            return Some((status, headers));
        }
        let (k, v) = l.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Whether the server closes `s` (EOF or reset) before the read timeout.
fn closed_by_server(s: &mut impl Read) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {
                return false
            }
            Err(_) => return true,
        }
    }
}

fn alive(node: &mut Node) -> bool {
    node.child.try_wait().expect("try_wait").is_none()
}

/// The owner's `/status` answers 200 (its own fresh connection).
fn owner_served(node: &Node) -> bool {
    node.client().get("/status").status == 200
}

/// Resident memory of the server in KiB, from `/proc/<pid>/status`.
fn vm_rss_kib(node: &Node) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.child.id())).expect("proc status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS line");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmRSS value")
}

fn start(tag: &str) -> (TempDir, Node) {
    let dir = TempDir::new(tag);
    let node = Node::start(NodeOpts::new(NPUB_A, dir.path()));
    (dir, node)
}

#[test]
fn huge_content_length_is_refused_without_allocating() {
    let (_dir, mut node) = start("hostile-cl");
    let mut s = raw(node.http);
    let head = "POST /publish HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n\
                Content-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n";
    s.write_all(head.as_bytes()).expect("write head");
    // Part of the claimed body: the server must not wait for (or allocate) the rest.
    let _ = s.write_all(&[b' '; 64 * 1024]);
    let mut r = BufReader::new(s);
    let (status, headers) = read_head(&mut r).expect("an answer, not a dead process");
    assert_eq!(status, 413);
    assert_eq!(header(&headers, "connection"), Some("close"));
    assert_eq!(header(&headers, "access-control-allow-origin"), Some("http://evil.example"));
    assert!(closed_by_server(&mut r), "the connection is closed after a 413");
    assert!(alive(&mut node), "the server survived; log:\n{}", node.log_text());
    assert!(owner_served(&node));
}

#[test]
fn hundred_mb_header_line_is_rejected_early_within_a_memory_bound() {
    let (_dir, mut node) = start("hostile-hdr");
    let before = vm_rss_kib(&node);
    let s = raw(node.http);
    let mut w = s.try_clone().expect("clone");
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\nX-Big: ");
        let chunk = vec![b'a'; 1024 * 1024];
        for _ in 0..100 {
            if w.write_all(&chunk).is_err() {
                return false; // the server closed: rejected early
            }
        }
        true
    });
    let mut r = BufReader::new(s);
    let answer = read_head(&mut r);
    if let Some((status, _)) = &answer {
        assert!(*status == 431 || *status == 400, "status {status}");
    }
    let _ = writer.join();
    assert!(alive(&mut node), "the server survived; log:\n{}", node.log_text());
    let after = vm_rss_kib(&node);
    // Generous: a few head buffers plus allocator slack, far below the 100 MB sent.
    let bound_kib = before + (8 * MAX_HTTP_HEAD_BYTES as u64 + 16 * 1024 * 1024) / 1024;
    assert!(after <= bound_kib, "RSS {after} KiB after the attack (before {before} KiB, bound {bound_kib} KiB)");
    assert!(owner_served(&node));
}

/// Starts a node whose file-descriptor limit is `nofile` (like the Pi unit's `LimitNOFILE`,
/// but lower than the connections the test opens).
fn start_with_nofile(dir: &TempDir, nofile: u32) -> Node {
    let opts = NodeOpts::new(NPUB_A, dir.path());
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_nostrp2p"))
        .arg("server")
        .arg("-p")
        .arg(&opts.owner)
        .arg("-l")
        .arg(SocketAddr::new(opts.ip, opts.port).to_string())
        .arg("--data-dir")
        .arg(&opts.data_dir);
    let (child, log, ready) = spawn_logged(cmd);
    let http = SocketAddr::new(opts.ip, opts.port + 1);
    let node = Node { child, opts, http, log };
    assert!(ready.recv_timeout(START_TIMEOUT).is_ok(), "server did not start; log:\n{}", node.log_text());
    node
}

#[test]
fn idle_connections_beyond_the_cap_do_not_lock_the_owner_out() {
    let (_dir, mut node) = start("hostile-idle");
    owner_served_despite_idle_connections(&mut node);
}

#[test]
fn idle_connections_beyond_the_fd_limit_do_not_lock_the_owner_out() {
    let dir = TempDir::new("hostile-nofile");
    let mut node = start_with_nofile(&dir, 128);
    owner_served_despite_idle_connections(&mut node);
}

fn owner_served_despite_idle_connections(node: &mut Node) {
    let mut idle = Vec::new();
    for _ in 0..MAX_HTTP_CONNS + 64 {
        if let Ok(s) = TcpStream::connect_timeout(&node.http, Duration::from_secs(2)) {
            idle.push(s);
        }
    }
    assert!(alive(node), "the server survived {} idle connections", idle.len());
    // Served once the idle ones were refused or timed out (the wait is a failure guard).
    let deadline = Instant::now() + WAIT;
    loop {
        let mut c = TcpStream::connect_timeout(&node.http, Duration::from_secs(10)).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let _ = c.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
        if read_head(&mut BufReader::new(c)).is_some_and(|(status, _)| status == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "owner never served; log:\n{}", node.log_text());
        assert!(alive(node), "server died; log:\n{}", node.log_text());
    }
    assert!(alive(node));
    drop(idle);
}

#[test]
fn slow_body_clients_do_not_lock_the_owner_out() {
    let (_dir, mut node) = start("hostile-slow");
    let mut slow = Vec::new();
    for _ in 0..8 {
        let mut s = raw(node.http);
        // A body big enough that no server reads it in advance together with the head.
        let head =
            "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
        s.write_all(head.as_bytes()).expect("write");
        slow.push(s);
    }
    assert!(owner_served(&node), "the owner is answered while bodies trickle");
    // The stalled clients are eventually answered or dropped, not kept forever.
    for s in &mut slow {
        assert!(closed_by_server(s), "a stalled body is cut off by a deadline");
    }
    assert!(alive(&mut node));
}

/// Sends a websocket handshake on the HTTP port; returns the stream after the `101`.
fn ws_connect(addr: SocketAddr) -> BufReader<TcpStream> {
    let mut s = raw(addr);
    let req = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    s.write_all(req.as_bytes()).expect("write handshake");
    let mut r = BufReader::new(s);
    let (status, headers) = read_head(&mut r).expect("handshake answer");
    assert_eq!(status, 101);
    // RFC 6455 §1.3's example key and answer.
    assert_eq!(header(&headers, "sec-websocket-accept"), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    r
}

#[test]
fn websocket_handshakes_do_not_lock_the_owner_out_and_sigterm_does_not_wait() {
    let (_dir, mut node) = start("hostile-ws");
    let sockets: Vec<_> = (0..8).map(|_| ws_connect(node.http)).collect();
    assert!(owner_served(&node), "the owner is answered with websockets open");
    assert!(alive(&mut node));
    let status = node.terminate(); // fails if the server ignores SIGTERM (guard timeout)
    assert!(status.success(), "SIGTERM exits 0 with websockets open: {status:?}");
    drop(sockets);
}

#[test]
fn websocket_text_reaches_the_driver_and_its_answer_comes_back() {
    let (_dir, mut node) = start("hostile-wsmsg");
    let mut ws = ws_connect(node.http);
    // The relay greets with its NIP-42 challenge.
    let (op, payload) = ws::read_frame(&mut ws).expect("an answer frame");
    assert_eq!(op, 1, "text frame");
    assert!(payload.starts_with(br#"["AUTH",""#), "{}", String::from_utf8_lossy(&payload));
    ws.get_mut().write_all(&ws::client_frame(1, br#"["REQ","sub",{}]"#)).expect("send");
    let (op, payload) = ws::read_frame(&mut ws).expect("an answer frame");
    assert_eq!(op, 1, "text frame");
    assert_eq!(String::from_utf8_lossy(&payload), r#"["EOSE","sub"]"#);
    // Ping is answered with the same payload.
    ws.get_mut().write_all(&ws::client_frame(9, b"hi")).expect("ping");
    assert_eq!(ws::read_frame(&mut ws), Some((10, b"hi".to_vec())));
    // An oversized message closes that connection with 1009, and only that one.
    let mut other = ws_connect(node.http);
    let big = vec![b'x'; MAX_WS_MESSAGE_BYTES + 1];
    let _ = ws.get_mut().write_all(&ws::client_frame(1, &big));
    let (op, payload) = ws::read_frame(&mut ws).expect("a close frame");
    assert_eq!((op, &payload[..2]), (8, &1009u16.to_be_bytes()[..]));
    assert_eq!(ws::read_frame(&mut other).map(|(op, _)| op), Some(1), "AUTH");
    other.get_mut().write_all(&ws::client_frame(1, b"[\"CLOSE\"")).expect("send");
    assert_eq!(ws::read_frame(&mut other).map(|(op, _)| op), Some(1), "NOTICE");
    assert!(alive(&mut node));
    assert!(owner_served(&node));
}

#[test]
fn front_errors_carry_cors_headers() {
    let (_dir, node) = start("hostile-cors");
    // More header lines than the front accepts: refused by the front itself.
    let mut s = raw(node.http);
    let mut head = String::from("GET /status HTTP/1.1\r\nHost: x\r\nOrigin: http://app.example\r\n");
    for i in 0..nostrp2p::limits::MAX_HTTP_HEADERS + 1 {
        head.push_str(&format!("X-Pad-{i}: y\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("write");
    let (status, headers) = read_head(&mut BufReader::new(s)).expect("answer");
    assert_eq!(status, 431);
    assert!(header(&headers, "access-control-allow-origin").is_some(), "CORS on 431: {headers:?}");
    // A body the front does not take (chunked) is refused with CORS too.
    let mut s = raw(node.http);
    let head = "POST /publish HTTP/1.1\r\nHost: x\r\nOrigin: http://app.example\r\nTransfer-Encoding: chunked\r\n\r\n";
    s.write_all(head.as_bytes()).expect("write");
    let (status, headers) = read_head(&mut BufReader::new(s)).expect("answer");
    assert!(status == 411 || status == 400 || status == 501, "status {status}");
    assert_eq!(header(&headers, "access-control-allow-origin"), Some("http://app.example"));
    // An oversized body (within the linger bound) still gets its 413 to the client.
    let mut c = node.client();
    assert_eq!(c.post("/publish", &vec![b' '; MAX_HTTP_BODY_BYTES + 1]).status, 413);
    assert!(owner_served(&node));
}

#[test]
fn pipelined_requests_expect_continue_and_head_work() {
    let (_dir, node) = start("hostile-pipe");
    let mut s = raw(node.http);
    // Two requests in one write: answered in order on the same connection.
    s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let (status, headers) = read_head(&mut r).expect("answer");
        let len: usize = header(&headers, "content-length").and_then(|v| v.parse().ok()).expect("length");
        let mut body = vec![0; len];
        r.read_exact(&mut body).expect("body");
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 404]);
    // `Expect: 100-continue` (curl does this for bodies over 1 KiB) gets its interim answer.
    let body = fixture("E1");
    let head = format!(
        "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    assert_eq!(read_head(&mut r).map(|(status, _)| status), Some(100));
    s.write_all(body.as_bytes()).expect("write body");
    let (status, headers) = read_head(&mut r).expect("answer");
    assert_eq!(status, 200);
    let len: usize = header(&headers, "content-length").and_then(|v| v.parse().ok()).expect("length");
    let mut answer = vec![0; len];
    r.read_exact(&mut answer).expect("body");
    // HEAD: the head of the answer, no body; the connection stays usable.
    s.write_all(b"HEAD /status HTTP/1.1\r\nHost: x\r\n\r\nGET /status HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    assert_eq!(read_head(&mut r).map(|(status, _)| status), Some(405));
    assert_eq!(read_head(&mut r).map(|(status, _)| status), Some(200));
}
