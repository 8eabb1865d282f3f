//! The client's HTTP API against a real `nostrp2p server` process on loopback: every kind the
//! Flutter client sends, the byte-exact answer layout, every error case, CORS, gzip, `/status`.

mod common;

use common::*;
use nostrp2p::event::msgpack::{decode_events, encode_events, SigMode};
use nostrp2p::hex;

const TIMELINE_FIRST_POLL: &[u8] = br#"{"kinds":[40000],"since":-1,"until":-1,"limit":300}"#;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

fn ids(resp: &HttpResponse) -> Vec<String> {
    decode_events(&resp.decoded_body()).expect("msgpack answer").iter().map(|w| hex::encode(&w.event.id.0)).collect()
}

fn fixture_id(name: &str) -> String {
    hex::encode(&fixture_event(name).id.0)
}

#[test]
fn owner_publishes_every_kind_and_reads_it_back() {
    let dir = TempDir::new("api-owner");
    let node = Node::start(NodeOpts::new(NPUB_A, dir.path()));
    let mut c = node.client();
    // A's own events: post, profile, follow list, escaping, reply to self.
    for name in ["E1", "E4", "E8", "E12", "E15"] {
        let r = c.post("/publish", fixture(name).as_bytes());
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        assert_eq!(r.text(), "{\n  \"Status\": \"SUCCESS\"\n}", "{name}");
    }
    // Publishing the same event twice is fine and stores it once.
    assert_eq!(c.post("/publish", fixture("E1").as_bytes()).status, 200);

    let r = c.post("/req", TIMELINE_FIRST_POLL);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    // Ascending created_at, all kinds mixed, signatures kept.
    assert_eq!(ids(&r), ["E1", "E4", "E8", "E12", "E15"].map(fixture_id));
    let evs = decode_events(&r.decoded_body()).expect("decode");
    assert!(evs.iter().all(|w| w.has_sig));
    // Tags and content byte-exact (E12 has escapes and non-ASCII; E15 has a 4-element e tag).
    assert_eq!(evs[3].event, fixture_event("E12"));
    assert_eq!(evs[4].event, fixture_event("E15"));
    // The byte-exact layout: the whole answer equals the golden encoding.
    let expected = ["E1", "E4", "E8", "E12", "E15"].map(fixture_event);
    assert_eq!(r.decoded_body(), encode_events(expected.iter(), SigMode::Keep));
}

#[test]
fn byte_exact_profile_and_lookup_answers() {
    let dir = TempDir::new("api-exact");
    let node = Node::start(NodeOpts::new(NPUB_A, dir.path()));
    let mut c = node.client();
    assert_eq!(c.post("/publish", fixture("E4").as_bytes()).status, 200);
    assert_eq!(c.post("/publish", fixture("E1").as_bytes()).status, 200);
    // Profile (kinds [0]): the spec's exact bytes, Sig nil.
    let r = c.post("/req", format!(r#"{{"authors":["{HEX_A}"],"kinds":[0]}}"#).as_bytes());
    assert_eq!(r.status, 200);
    let e4 = "81a4457674739187a24964c420f1d6a75516f49ed66e5819bdc6e2e3af33dbe826b2a53372c60b60a6524f8890a65075626b6579c420f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9aa437265617465645f6174cb41d995d61b000000a44b696e64cd0000a45461677390a7436f6e74656e74d9437b226e616d65223a22616c696365222c2261626f7574223a226869222c2270696374757265223a2268747470733a2f2f6578616d706c652e636f6d2f612e706e67227da3536967c0";
    assert_eq!(r.decoded_body(), unhex(e4));
    // Post lookup by id (kinds [1]): E1 exactly, Sig nil.
    let body = format!(r#"{{"ids":["{}"],"authors":["{HEX_A}"],"kinds":[1]}}"#, fixture_id("E1"));
    let r = c.post("/req", body.as_bytes());
    let e1 = "81a4457674739187a24964c420c9918d6c813a5530841c4193c0c377c96def5ddca08917c5c0f05c6f2f6ffe61a65075626b6579c420f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9aa437265617465645f6174cb41d995d5d0000000a44b696e64cd0001a45461677390a7436f6e74656e74ae68656c6c6f206e6f737472703270a3536967c0";
    assert_eq!(r.decoded_body(), unhex(e1));
    // Unknown author: empty answer, exactly `{"Evts":[]}`.
    let r = c.post("/req", format!(r#"{{"authors":["{HEX_B}"],"kinds":[0]}}"#).as_bytes());
    assert_eq!(r.decoded_body(), unhex("81a44576747390"));
}

#[test]
fn follow_list_answers_the_latest() {
    let dir = TempDir::new("api-follow");
    let node = Node::start(NodeOpts::new(NPUB_A, dir.path()));
    let mut c = node.client();
    let older = nostrp2p::event::Event::new_signed(
        &key(SECRET_A),
        nostrp2p::time::UnixTime(1_717_000_600),
        3,
        vec![vec!["p".into(), HEX_C.into(), "".into(), "".into()]],
        String::new(),
        &[0; 32],
    );
    let older_json = nostrp2p::event::json::to_client_json(&older);
    // The newer one first, then an older one: the newer must stay the answer.
    assert_eq!(c.post("/publish", fixture("E8").as_bytes()).status, 200);
    assert_eq!(c.post("/publish", older_json.as_bytes()).status, 200);
    let r = c.post("/req", format!(r#"{{"authors":["{HEX_A}"],"kinds":[3]}}"#).as_bytes());
    assert_eq!(ids(&r), [fixture_id("E8")]);
}

#[test]
fn any_author_mode_accepts_every_client_kind() {
    let dir = TempDir::new("api-any");
    let node = Node::start(NodeOpts::new(NPUB_A, dir.path()).arg("--accept-any-author"));
    let mut c = node.client();
    // Reply, like, mention, repost, quote repost, another user's profile.
    for name in ["E1", "E2", "E3", "E5", "E6", "E7", "E14"] {
        let r = c.post("/publish", fixture(name).as_bytes());
        assert_eq!(r.status, 200, "{name}: {}", r.text());
    }
    let r = c.post("/req", TIMELINE_FIRST_POLL);
    assert_eq!(ids(&r), ["E1", "E2", "E3", "E5", "E6", "E7", "E14"].map(fixture_id));
    let evs = decode_events(&r.decoded_body()).expect("decode");
    for (w, name) in evs.iter().zip(["E1", "E2", "E3", "E5", "E6", "E7", "E14"]) {
        assert_eq!(w.event, fixture_event(name), "{name} byte-exact");
    }
    let r = c.post("/req", format!(r#"{{"authors":["{HEX_B}"],"kinds":[0]}}"#).as_bytes());
    assert_eq!(ids(&r), [fixture_id("E14")]);
    // A like without a p tag is still rejected.
    let r = c.post("/publish", fixture("E13").as_bytes());
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn timeline_window_rules() {
    let dir = TempDir::new("api-window");
    let node = Node::start(NodeOpts::new(NPUB_A, dir.path()));
    let mut c = node.client();
    for name in ["E1", "E4", "E8", "E12", "E15"] {
        assert_eq!(c.post("/publish", fixture(name).as_bytes()).status, 200);
    }
    // The client's later polls: inclusive [since, until].
    let r = c.post("/req", br#"{"kinds":[40000],"since":1717000300,"until":1717001000,"limit":-1}"#);
    assert_eq!(ids(&r), ["E4", "E8", "E12"].map(fixture_id));
    // limit wins over the window.
    let r = c.post("/req", br#"{"kinds":[40000],"since":1717000300,"until":1717000300,"limit":2}"#);
    assert_eq!(ids(&r), ["E12", "E15"].map(fixture_id));
    // No period and no limit: empty, as the original.
    let r = c.post("/req", br#"{"kinds":[40000]}"#);
    assert!(ids(&r).is_empty());
    // since only: [since, +inf).
    let r = c.post("/req", br#"{"kinds":[40000],"since":1717000800}"#);
    assert_eq!(ids(&r), ["E12", "E15"].map(fixture_id));
    // No kinds: empty answer, 200.
    let r = c.post("/req", br#"{}"#);
    assert_eq!((r.status, ids(&r).len()), (200, 0));
}

#[test]
fn every_bad_input_gets_a_4xx_with_a_json_error() {
    let dir = TempDir::new("api-errors");
    let node = Node::start(NodeOpts::new(NPUB_A, dir.path()));
    let mut c = node.client();
    let e1 = fixture("E1");
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("empty body", vec![], 400),
        ("not JSON", b"{nope".to_vec(), 400),
        ("bad signature (E9)", fixture("E9").as_bytes().to_vec(), 400),
        ("unsupported kind 5 (E11)", fixture("E11").as_bytes().to_vec(), 400),
        ("kind 3 with null tags (E16)", fixture("E16").as_bytes().to_vec(), 400),
        ("empty content (E10)", fixture("E10").as_bytes().to_vec(), 400),
        ("someone else's post (E2)", fixture("E2").as_bytes().to_vec(), 403),
        ("bad hex id", e1.replace("\"id\":\"c9", "\"id\":\"zz").into_bytes(), 400),
        ("odd-length id", e1.replace("\"id\":\"c9", "\"id\":\"c").into_bytes(), 400),
        ("wrong id", e1.replace("\"id\":\"c9", "\"id\":\"c8").into_bytes(), 400),
        ("kind out of range", e1.replace("\"kind\":1", "\"kind\":70000").into_bytes(), 400),
    ];
    for (what, body, status) in cases {
        let r = c.post("/publish", &body);
        assert_eq!(r.status, status, "{what}: {}", r.text());
        assert!(!r.error().is_empty(), "{what}");
        assert!(r.header("content-type").is_some_and(|t| t.starts_with("application/json")), "{what}");
    }
    assert_eq!(c.post("/publish", fixture("E9").as_bytes()).error(), "Invalid Sig");
    assert_eq!(c.post("/publish", fixture("E10").as_bytes()).error(), "Content is required");
    assert_eq!(c.post("/publish", fixture("E16").as_bytes()).error(), "Tags is null");
    // Oversized body: 413, and the server keeps serving.
    let huge = vec![b' '; nostrp2p::limits::MAX_HTTP_BODY_BYTES + 10];
    assert_eq!(c.post("/publish", &huge).status, 413);
    // Wrong content type.
    let r = c.request("POST", "/publish", &[("Content-Type", "text/plain")], e1.as_bytes());
    assert_eq!(r.status, 415, "{}", r.text());
    // /req errors: kinds 0/3 without authors, kind 1 without ids.
    assert_eq!(c.post("/req", br#"{"kinds":[0]}"#).status, 400);
    assert_eq!(c.post("/req", br#"{"kinds":[3]}"#).status, 400);
    assert_eq!(c.post("/req", br#"{"kinds":[1],"authors":["aa"]}"#).status, 400);
    assert_eq!(c.post("/req", b"{nope").status, 400);
    // Routing.
    assert_eq!(c.post("/nope", b"{}").status, 404);
    assert_eq!(c.get("/publish").status, 405);
    assert_eq!(c.get("/req").status, 405);
    // Nothing bad was stored, and the node still answers.
    assert_eq!(c.post("/publish", e1.as_bytes()).status, 200);
    assert_eq!(ids(&c.post("/req", TIMELINE_FIRST_POLL)), [fixture_id("E1")]);
    assert!(!node.log_text().contains("panicked"));
}

#[test]
fn read_only_node_denies_writes() {
    let dir = TempDir::new("api-ro");
    let node = Node::start(NodeOpts::new(NPUB_A, dir.path()).arg("-w").arg("false"));
    let mut c = node.client();
    let r = c.post("/publish", fixture("E1").as_bytes());
    assert_eq!((r.status, r.error()), (406, "Write is denied".to_string()));
}

#[test]
fn gzip_only_when_accepted_and_cors_works() {
    let dir = TempDir::new("api-gzip");
    let node = Node::start(NodeOpts::new(NPUB_A, dir.path()));
    let mut c = node.client();
    // Two events, so that the answer is long enough to be worth gzip (one is not: below).
    assert_eq!(c.post("/publish", fixture("E1").as_bytes()).status, 200);
    let one = c.post("/req", TIMELINE_FIRST_POLL);
    assert!(one.body.len() < 256, "a one-event answer is short");
    assert_eq!(one.header("content-encoding"), None, "too short to gzip even when accepted");
    assert_eq!(c.post("/publish", fixture("E4").as_bytes()).status, 200);
    let plain = c.request("POST", "/req", &[("Content-Type", "application/json")], TIMELINE_FIRST_POLL);
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None, "no gzip label without Accept-Encoding: gzip");
    let zipped = c.post("/req", TIMELINE_FIRST_POLL);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(plain.body, zipped.decoded_body());
    assert_ne!(plain.body, zipped.body);
    // CORS preflight from the web client, with the private-network header it sends.
    let pre = c.request(
        "OPTIONS",
        "/req",
        &[
            ("Origin", "http://localhost:8080"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type,access-control-request-private-network"),
        ],
        b"",
    );
    assert_eq!(pre.status, 200, "{}", pre.text());
    assert_eq!(pre.header("access-control-allow-origin"), Some("http://localhost:8080"));
    assert!(pre.header("access-control-allow-methods").is_some_and(|m| m.contains("POST")));
    // A real CORS request gets an allow-origin header.
    let r = c.request(
        "POST",
        "/req",
        &[("Content-Type", "application/json"), ("Origin", "http://localhost:8080")],
        TIMELINE_FIRST_POLL,
    );
    assert_eq!(r.status, 200);
    assert!(r.header("access-control-allow-origin").is_some());
}

#[test]
fn status_reports_version_owner_and_store() {
    let dir = TempDir::new("api-status");
    let node = Node::start(NodeOpts::new(NPUB_A, dir.path()));
    let mut c = node.client();
    assert_eq!(c.post("/publish", fixture("E1").as_bytes()).status, 200);
    let r = c.get("/status");
    assert_eq!(r.status, 200, "{}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.decoded_body()).expect("status JSON");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let text = r.text();
    assert!(text.contains(NPUB_A) && text.contains(HEX_A), "{text}");
    assert_eq!(v["store"]["events"], 1, "{text}");
    // `--directory auto` by default: broadcast in a network this small.
    let d = &v["network"]["directory"];
    assert_eq!((d["setting"].as_str(), d["active"].as_str()), (Some("auto"), Some("broadcast")), "{text}");
    assert!(d["estimated_nodes"].is_u64(), "{text}");
}

#[test]
fn status_shows_the_ring_directory_switched_on_by_a_lowered_threshold() {
    // `NOSTRP2P_DIR_MIN_NODES=1`: a lone core's own record reaches the threshold.
    let dir = TempDir::new("api-status-dir");
    let mut opts = NodeOpts::new(NPUB_A, dir.path());
    opts.env.push(("NOSTRP2P_DIR_MIN_NODES".into(), "1".into()));
    let node = Node::start(opts);
    let mut c = node.client();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let r = c.get("/status");
        let v: serde_json::Value = serde_json::from_slice(&r.decoded_body()).expect("status JSON");
        let d = &v["network"]["directory"];
        if d["active"] == "both" {
            assert_eq!(d["setting"], "auto");
            assert!(d["estimated_nodes"].as_u64().is_some_and(|n| n >= 1), "{d}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never switched: {d}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn cli_commands_and_errors() {
    let (code, out, _) = run_cli(&["--version"]);
    assert_eq!((code, out.trim()), (0, format!("nostrp2p {}", env!("CARGO_PKG_VERSION")).as_str()));
    let (code, out, _) = run_cli(&["genkey"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 11, "{out}");
    assert_eq!(lines[0], "Secret Key:");
    assert!(lines[1].starts_with("nsec1"));
    assert_eq!(lines[2], "Secret Key (In Hex Representation): ");
    assert_eq!(lines[3].len(), 64);
    assert_eq!(lines[4], "Public Key:");
    assert!(lines[5].starts_with("npub1"));
    assert_eq!(lines[6], "Public key (In Hex Representation): ");
    assert_eq!(lines[8], "");
    // The printed keys belong together.
    let sk = nostrp2p::keys::SecretKey::parse(lines[1]).expect("nsec");
    assert_eq!(sk.to_hex(), lines[3]);
    assert_eq!(sk.public_key().to_npub(), lines[5]);
    assert_eq!(sk.public_key().to_hex(), lines[7]);
    // Two runs give different keys.
    assert_ne!(run_cli(&["genkey"]).1, out);
    let (code, _, err) = run_cli(&["server"]);
    assert_eq!(code, 2);
    assert!(err.contains("public key is required"), "{err}");
    let (code, _, err) = run_cli(&["server", "-p", "npub1garbage"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a public key"), "{err}");
    let (code, _, err) = run_cli(&["server", "-p", NPUB_A, "--ssl"]);
    assert_eq!(code, 2);
    assert!(err.contains("tailscale serve"), "{err}");
}

#[test]
fn unusable_data_dir_is_a_clear_fatal_error() {
    let dir = TempDir::new("api-baddir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let ip = unique_loopback().to_string();
    let (code, _, err) =
        run_cli(&["server", "-p", NPUB_A, "-l", &format!("{ip}:20000"), "--data-dir", file.to_str().expect("utf8")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("event store"), "{err}");
}
