//! The relay driven by a third-party Nostr client no one here wrote: `nostr-tools` (npm, with
//! `ws`) runs tests/clients/js/relay_check.mjs against a real `nostrp2p server` process:
//! publish with `OK`, `REQ` with each filter field and `EOSE`, live delivery, a non-owner
//! and a tampered event refused, NIP-42 auth and NIP-11.
//!
//! Needs `node` and `tests/clients/js/node_modules` (`.ci/run` installs both with
//! `npm ci`). Without them the test prints a SKIPPED banner that `cargo test` shows, unless
//! env `CI` is set: then a missing client is a failure, so CI can never skip it silently.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::cluster::start_node;
use common::*;
use serde_json::Value;

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/js")
}

/// Why the JS client cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    if Command::new("node").arg("--version").output().map_or(true, |o| !o.status.success()) {
        return Some("`node` not found (install nodejs)".into());
    }
    if !js_dir().join("node_modules/nostr-tools").is_dir() || !js_dir().join("node_modules/ws").is_dir() {
        return Some("tests/clients/js/node_modules missing (run `cd tests/clients/js && npm ci`)".into());
    }
    None
}

#[test]
fn nostr_tools_publishes_queries_and_is_refused_like_any_relay_client() {
    if let Some(why) = skip_reason() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but the nostr-tools client cannot run: {why}");
        // Written to the stderr handle, not with eprintln!: the harness captures the print
        // macros, so this banner is on the screen of a plain `cargo test`.
        let banner = format!(
            "\n*** SKIPPED: nostr-tools relay test (tests/relay_clients.rs): {why} ***\n*** The relay was NOT tested with a third-party client. ***\n"
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), banner.as_bytes());
        return;
    }
    let dir = TempDir::new("relay-nostr-tools");
    let node = start_node(HEX_A, &dir, None);
    let url = format!("ws://{}", node.http);
    let out = Command::new("node")
        .arg(js_dir().join("relay_check.mjs"))
        .arg(&url)
        .arg(SECRET_A)
        .current_dir(js_dir())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let context = || format!("stdout:\n{stdout}\nstderr:\n{stderr}\nnode log:\n{}", node.log_text());
    assert!(out.status.success(), "relay_check.mjs failed ({}):\n{}", out.status, context());
    let line = stdout.lines().last().unwrap_or("");
    let result: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON line ({e}):\n{}", context()));
    assert_eq!(result["ok"], true, "{}", context());
    assert_eq!(result["library"], "nostr-tools");
    let checks: Vec<&str> =
        result["checks"].as_array().map_or(vec![], |a| a.iter().filter_map(Value::as_str).collect());
    for must in [
        "duplicate OK",
        "REQ ids",
        "REQ authors+kinds",
        "events verify",
        "REQ #t",
        "REQ since",
        "REQ until",
        "REQ limit",
        "REQ no match",
        "live EVENT after EOSE",
        "non-owner refused",
        "non-owner not stored",
        "bad signature refused",
        "NIP-42 auth",
        "NIP-11 pubkey",
        "NIP-11 nips",
    ] {
        assert!(checks.contains(&must), "check {must:?} did not run: {}", context());
    }
    // The node saw what the client did: the three posts and the live one are stored.
    assert_eq!(common::cluster::timeline(&node).len(), 4, "{}", context());
}
