#!/usr/bin/env python3
"""scripts/smoke_http.py — start a nostrp2p server with a given command and check its HTTP API
from the host: GET /status answers, POST /publish accepts the fixture event E1, POST /req returns
(gzip'd) MessagePack that contains E1's id bytes.

Used by the aarch64 smoke test (server under qemu-aarch64-static), the Termux package test (the
packaged run script under a Termux-like prefix) and the Pi image boot test (--no-start, against a
forwarded port). Talks only to the given 127.0.0.1 address. Every wait is bounded.

Usage: smoke_http.py --http 127.0.0.1:PORT [--start 'shell command'] [--log FILE] [--ready-timeout S]
                     [--no-publish]   (only check that E1 is already stored, e.g. after a reboot)
Prints 'N passed, N failed' as its last line; exit status 0 only when nothing failed.
"""
import argparse
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

# Fixture user A (secret key 0x…03) and its signed kind-1 event E1 (shared test vectors).
NPUB_A = "npub1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmus6gq266"
E1 = {
    "id": "c9918d6c813a5530841c4193c0c377c96def5ddca08917c5c0f05c6f2f6ffe61",
    "pubkey": "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9",
    "created_at": 1717000000,
    "kind": 1,
    "tags": [],
    "content": "hello nostrp2p",
    "sig": "e3e4716de4101dfe3dd5003947b010f8ce6822d2ad96edb70ff99a7f8b03dd80bd7d2cd442bb30103cee7aa379167cb6de60e9bbdfe327c1cb46fd016d80b024",
}
REQ_BODY = {"kinds": [40000], "since": -1, "until": -1, "limit": 300}
HTTP_TIMEOUT_S = 20  # one request, with the server emulated by qemu


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http", required=True, help="HTTP address host:port (127.0.0.1 only)")
    ap.add_argument("--start", help="shell command that starts the server (killed at the end)")
    ap.add_argument("--log", help="file for the started command's stdout+stderr")
    ap.add_argument("--ready-timeout", type=float, default=90.0)
    ap.add_argument("--no-publish", action="store_true", help="do not publish E1; expect it stored already")
    args = ap.parse_args()
    host = args.http.rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost", "[::1]"):
        sys.exit(f"smoke_http: refusing to talk to {args.http}: loopback only")
    base = f"http://{args.http}"
    passed, failed = 0, 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"ok   {name}", flush=True)
        else:
            failed += 1
            print(f"FAIL {name} {detail}", flush=True)

    proc = None
    if args.start:
        out = open(args.log, "wb") if args.log else subprocess.DEVNULL
        proc = subprocess.Popen(args.start, shell=True, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # 1. readiness: GET /status (bounded)
        deadline = time.monotonic() + args.ready_timeout
        status, ready_after = None, None
        t0 = time.monotonic()
        while time.monotonic() < deadline:
            if proc and proc.poll() is not None:
                break
            try:
                status = http("GET", base + "/status")
                ready_after = time.monotonic() - t0
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.25)
        if proc and proc.poll() is not None:
            check("server still running", False, f"exited with {proc.returncode}")
        check("GET /status answers", status is not None and status[0] == 200,
              f"got {status[0] if status else 'no answer'} within {args.ready_timeout}s")
        if status is None:
            return passed, failed
        print(f"info ready after {ready_after:.1f}s; /status: {status[2][:300]!r}", flush=True)

        # 2. publish E1 (NIP-01 JSON, as the Flutter client sends it)
        if not args.no_publish:
            code, _, body = http("POST", base + "/publish", json.dumps(E1).encode(),
                                 {"Content-Type": "application/json", "Accept": "application/json"})
            check("POST /publish E1 -> 200", code == 200, f"got {code} {body[:200]!r}")

        # 3. /req returns MessagePack containing E1's id bytes (gzip'd either as body or encoding)
        code, headers, body = http("POST", base + "/req", json.dumps(REQ_BODY).encode(),
                                   {"Content-Type": "application/json", "Accept": "application/octet-stream",
                                    "Accept-Encoding": "gzip"})
        raw = body
        if raw[:2] == b"\x1f\x8b":
            try:
                raw = gzip.decompress(raw)
            except OSError as e:
                check("/req body gunzips", False, str(e))
        check("POST /req -> 200", code == 200, f"got {code} {body[:200]!r}")
        check("/req answer carries E1's id bytes", bytes.fromhex(E1["id"]) in raw,
              f"{len(raw)} bytes: {raw[:120]!r}")
    finally:
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
    return passed, failed


if __name__ == "__main__":
    p, f = main()
    print(f"{p} passed, {f} failed")
    sys.exit(0 if f == 0 else 1)
