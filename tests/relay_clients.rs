//! The relay driven by third-party Nostr clients no one here wrote, each against a real
//! `nostrp2p server` process: `nostr-tools` (npm, with `ws`; tests/clients/js/relay_check.mjs)
//! and `nostr-sdk` (PyPI; tests/clients/py/relay_check.py). Both: publish with `OK`, `REQ`
//! with each filter field ending in `EOSE`, a non-owner event refused and not stored.
//! nostr-tools also: duplicate, live delivery, a tampered event refused, NIP-42 and NIP-11.
//! Across two peered nodes (one shared stage, tests/clients/{js,py}/two_nodes.*): live
//! delivery from A to a subscription on B, a reply to B's owner served only after AUTH as
//! B's owner (both libraries), NIP-09 deletion on both nodes (nostr-tools); then raw `ws`
//! frames abuse A (js/bad_input.mjs) and A still serves its owner.
//!
//! Needs `node` with `tests/clients/js/node_modules`, and `tests/clients/py/venv` with
//! nostr-sdk (`.ci/run` installs both). Without them a test prints a SKIPPED banner that
//! `cargo test` shows, unless env `CI` is set: then a missing client is a failure, so CI can
//! never skip it silently.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::cluster::start_node;
use common::*;
use serde_json::Value;

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Why a client cannot run here, if it cannot: the first command of `probe` fails, or a path
/// that its install makes is missing.
fn skip_reason(probe: &[&str], needs: &[&str], install: &str) -> Option<String> {
    let (cmd, args) = probe.split_first()?;
    if Command::new(cmd).args(args).output().map_or(true, |o| !o.status.success()) {
        return Some(format!("`{}` does not run ({install})", probe.join(" ")));
    }
    needs.iter().find(|p| !clients_dir().join(p).exists()).map(|p| format!("tests/clients/{p} missing ({install})"))
}

/// Whether the client can run; if not, skips loudly (fails under `CI`).
fn available(name: &str, probe: &[&str], needs: &[&str], install: &str) -> bool {
    let Some(why) = skip_reason(probe, needs, install) else { return true };
    assert!(std::env::var_os("CI").is_none(), "CI is set but the {name} client cannot run: {why}");
    // Written to the stderr handle, not with eprintln!: the harness captures the print
    // macros, so this banner is on the screen of a plain `cargo test`.
    let banner = format!(
        "\n*** SKIPPED: {name} relay test (tests/relay_clients.rs): {why} ***\n*** The relay was NOT tested with {name}. ***\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), banner.as_bytes());
    false
}

/// Runs a client script with `args`, asserts it succeeded as `library`, and returns the checks
/// it reports. On failure, shows its output and every node's log.
fn run_script(library: &str, program: &Path, script: &str, args: &[String], nodes: &[&Node]) -> Vec<String> {
    let out = Command::new(program)
        .arg(clients_dir().join(script))
        .args(args)
        .current_dir(clients_dir())
        .output()
        .expect("run the client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let context = || {
        let logs: Vec<String> = nodes.iter().map(|n| format!("== node {}\n{}", n.http, n.log_text())).collect();
        format!("stdout:\n{stdout}\nstderr:\n{stderr}\nnode logs:\n{}", logs.join("\n"))
    };
    assert!(out.status.success(), "{script} failed ({}):\n{}", out.status, context());
    let line = stdout.lines().last().unwrap_or("");
    let result: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON line ({e}):\n{}", context()));
    assert_eq!(result["ok"], true, "{}", context());
    assert_eq!(result["library"], library);
    result["checks"].as_array().map_or(vec![], |a| a.iter().filter_map(Value::as_str).map(String::from).collect())
}

fn assert_ran(checks: &[String], expected: &[&str]) {
    for must in expected {
        assert!(checks.iter().any(|c| c == must), "check {must:?} did not run: {checks:?}");
    }
}

const JS_INSTALL: &str = "run `cd tests/clients/js && npm ci`; .ci/run does";
const JS_NEEDS: [&str; 2] = ["js/node_modules/nostr-tools", "js/node_modules/ws"];
const PY_INSTALL: &str = "run `python3 -m venv tests/clients/py/venv && tests/clients/py/venv/bin/pip install -r tests/clients/py/requirements.txt`; .ci/run does";

fn python() -> PathBuf {
    clients_dir().join("py/venv/bin/python")
}

fn js_available() -> bool {
    available("nostr-tools", &["node", "--version"], &JS_NEEDS, JS_INSTALL)
}

fn py_available() -> bool {
    let py = python().to_string_lossy().into_owned();
    available("nostr-sdk", &[&py, "-c", "import nostr_sdk"], &[], PY_INSTALL)
}

/// Starts a node, runs the client's script against it and returns the checks it reports,
/// after asserting success and that the node stored the owner's posts and not the stranger's.
fn run_client(name: &str, program: &Path, script: &str) -> Vec<String> {
    let dir = TempDir::new(&format!("relay-{name}"));
    let node = start_node(HEX_A, &dir, None);
    let args = [format!("ws://{}", node.http), SECRET_A.to_string()];
    let checks = run_script(name, program, script, &args, &[&node]);
    // The node saw what the client did: its posts are stored, the stranger's is not.
    let stored = common::cluster::timeline(&node);
    assert!(stored.len() >= 3 && stored.iter().all(|e| e.pubkey.to_hex() == HEX_A), "{}", node.log_text());
    checks
}

const COMMON_CHECKS: [&str; 8] = [
    "REQ ids",
    "REQ authors+kinds",
    "REQ #t",
    "REQ since",
    "REQ until",
    "REQ limit",
    "non-owner refused",
    "non-owner not stored",
];

#[test]
fn nostr_tools_publishes_queries_and_is_refused_like_any_relay_client() {
    if !js_available() {
        return;
    }
    let checks = run_client("nostr-tools", Path::new("node"), "js/relay_check.mjs");
    let extra = [
        "duplicate OK",
        "events verify",
        "REQ no match",
        "live EVENT after EOSE",
        "bad signature refused",
        "NIP-42 auth",
        "NIP-11 pubkey",
        "NIP-11 nips",
    ];
    assert_ran(&checks, &COMMON_CHECKS);
    assert_ran(&checks, &extra);
}

#[test]
fn nostr_sdk_publishes_queries_and_is_refused_like_any_relay_client() {
    if !py_available() {
        return;
    }
    let checks = run_client("nostr-sdk", &python(), "py/relay_check.py");
    assert_ran(&checks, &COMMON_CHECKS);
}

/// One two-node stage for every cross-node check (the CI budget is tight): A and B peered on
/// loopback, each knowing both (unicast needs the directory). nostr-tools and nostr-sdk each
/// see a post from A live on B and a reply to B's owner served only after AUTH as B's owner;
/// nostr-tools also deletes a post (NIP-09) on A and sees it gone on both nodes; then raw
/// `ws` frames abuse A, which still serves its owner.
#[test]
fn two_nodes_live_delivery_nip42_private_events_nip09_deletion_and_bad_input_through_client_libraries() {
    let (js, py) = (js_available(), py_available());
    if !js && !py {
        return;
    }
    let (da, db) = (TempDir::new("relay-two-a"), TempDir::new("relay-two-b"));
    let a = start_node(HEX_A, &da, None);
    let b = start_node(HEX_B, &db, Some(common::cluster::overlay_addr(&a)));
    common::cluster::wait_converged(&[&a, &b], 2);
    let urls = [format!("ws://{}", a.http), format!("ws://{}", b.http)];
    let two = [urls[0].clone(), urls[1].clone(), SECRET_A.to_string(), SECRET_B.to_string()];
    if py {
        let checks = run_script("nostr-sdk", &python(), "py/two_nodes.py", &two, &[&a, &b]);
        assert_ran(
            &checks,
            &[
                "live on B after EOSE",
                "reply served to B owner after AUTH",
                "unauthenticated does not get reply",
                "unauthenticated broad REQ hides reply",
                "other key does not get reply",
                "other key broad REQ hides reply",
            ],
        );
    }
    if js {
        let checks = run_script("nostr-tools", Path::new("node"), "js/two_nodes.mjs", &two, &[&a, &b]);
        assert_ran(
            &checks,
            &[
                "live on B after EOSE",
                "AUTH as B",
                "reply live to B owner",
                "reply served to B owner",
                "unauthenticated #p CLOSED",
                "unauthenticated never sees reply",
                "other key #p CLOSED",
                "other key never sees reply",
                "unauthenticated live never got reply",
                "deletion reached B",
                "deleted on A",
                "deleted on B",
                "re-publish blocked",
                "deletion served on A",
                "deletion served on B",
            ],
        );
        let bad = [urls[0].clone(), SECRET_A.to_string()];
        let checks = run_script("ws+nostr-tools", Path::new("node"), "js/bad_input.mjs", &bad, &[&a]);
        assert_ran(
            &checks,
            &[
                "malformed JSON: NOTICE invalid",
                "unknown verb: NOTICE invalid",
                "oversized message: NOTICE invalid",
                "11 filters: CLOSED invalid",
                "21st subscription: CLOSED error",
                "bad signature: OK false invalid",
                "id mismatch: OK false invalid",
                "over the frame cap: close 1009",
                "flood: one answer per REQ, in order",
                "owner publishes afterwards",
                "owner reads afterwards",
            ],
        );
    }
    // Both processes are still up and answer over REST.
    for node in [&a, &b] {
        assert_eq!(node.client().get("/status").status, 200, "{}", node.log_text());
    }
}
