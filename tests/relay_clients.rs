//! The relay driven by third-party Nostr clients no one here wrote, each against a real
//! `nostrp2p server` process: `nostr-tools` (npm, with `ws`; tests/clients/js/relay_check.mjs)
//! and `nostr-sdk` (PyPI; tests/clients/py/relay_check.py). Both: publish with `OK`, `REQ`
//! with each filter field ending in `EOSE`, a non-owner event refused and not stored.
//! nostr-tools also: duplicate, live delivery, a tampered event refused, NIP-42 and NIP-11.
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

/// Skips loudly (fails under `CI`) if the client cannot run; else starts a node, runs the
/// client's script against it and returns the checks it reports, after asserting success.
fn run_client(
    name: &str,
    probe: &[&str],
    needs: &[&str],
    install: &str,
    program: &Path,
    script: &str,
) -> Option<Vec<String>> {
    if let Some(why) = skip_reason(probe, needs, install) {
        assert!(std::env::var_os("CI").is_none(), "CI is set but the {name} client cannot run: {why}");
        // Written to the stderr handle, not with eprintln!: the harness captures the print
        // macros, so this banner is on the screen of a plain `cargo test`.
        let banner = format!(
            "\n*** SKIPPED: {name} relay test (tests/relay_clients.rs): {why} ***\n*** The relay was NOT tested with {name}. ***\n"
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), banner.as_bytes());
        return None;
    }
    let dir = TempDir::new(&format!("relay-{name}"));
    let node = start_node(HEX_A, &dir, None);
    let out = Command::new(program)
        .arg(clients_dir().join(script))
        .arg(format!("ws://{}", node.http))
        .arg(SECRET_A)
        .current_dir(clients_dir())
        .output()
        .expect("run the client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let context = || format!("stdout:\n{stdout}\nstderr:\n{stderr}\nnode log:\n{}", node.log_text());
    assert!(out.status.success(), "{script} failed ({}):\n{}", out.status, context());
    let line = stdout.lines().last().unwrap_or("");
    let result: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON line ({e}):\n{}", context()));
    assert_eq!(result["ok"], true, "{}", context());
    assert_eq!(result["library"], name);
    // The node saw what the client did: its posts are stored, the stranger's is not.
    let stored = common::cluster::timeline(&node);
    assert!(stored.len() >= 3 && stored.iter().all(|e| e.pubkey.to_hex() == HEX_A), "{}", context());
    let checks =
        result["checks"].as_array().map_or(vec![], |a| a.iter().filter_map(Value::as_str).map(String::from).collect());
    Some(checks)
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
    let install = "run `cd tests/clients/js && npm ci`; .ci/run does";
    let needs = ["js/node_modules/nostr-tools", "js/node_modules/ws"];
    let Some(checks) =
        run_client("nostr-tools", &["node", "--version"], &needs, install, Path::new("node"), "js/relay_check.mjs")
    else {
        return;
    };
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
    for must in COMMON_CHECKS.iter().chain(&extra) {
        assert!(checks.iter().any(|c| c == must), "check {must:?} did not run: {checks:?}");
    }
}

#[test]
fn nostr_sdk_publishes_queries_and_is_refused_like_any_relay_client() {
    let install = "run `python3 -m venv tests/clients/py/venv && tests/clients/py/venv/bin/pip install -r tests/clients/py/requirements.txt`; .ci/run does";
    let python = clients_dir().join("py/venv/bin/python");
    let py = python.to_string_lossy().into_owned();
    let Some(checks) =
        run_client("nostr-sdk", &[&py, "-c", "import nostr_sdk"], &[], install, &python, "py/relay_check.py")
    else {
        return;
    };
    for must in COMMON_CHECKS {
        assert!(checks.iter().any(|c| c == must), "check {must:?} did not run: {checks:?}");
    }
}
