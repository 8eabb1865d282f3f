"""Drives a nostrp2p node's NIP-01 relay with nostr-sdk (PyPI), a client no one here wrote
(run by tests/relay_clients.rs). Usage: python relay_check.py ws://127.x.y.z:port <secret hex>.
Prints one JSON line of results; exits non-zero on any failure. Timeouts are failure guards."""
import asyncio
import json
import sys
import time

import nostr_sdk as n
from report import GUARD, check, fail, results


async def main(url, sk_hex):
    keys = n.Keys.parse(sk_hex)
    relay_url = n.RelayUrl.parse(url)
    client = n.Client()
    await client.add_relay(relay_url)
    await client.connect()
    now = int(time.time())

    def post(keys, dt, tags, content):
        b = n.EventBuilder(n.Kind(1), content).tags(tags).custom_created_at(n.Timestamp.from_secs(now - dt))
        return b.finalize(keys)

    old = post(keys, 100, [n.Tag.hashtag("nostrp2p")], "tagged, oldest")
    mid = post(keys, 50, [], "middle")
    young = post(keys, 10, [n.Tag.hashtag("other")], "newest")
    for ev in (old, mid, young):
        out = await client.send_event(ev, ok_timeout=GUARD)
        check(f"publish {ev.content()}", relay_url in out.success and not out.failed, str(out))

    async def query(f):
        evs = await client.fetch_events(n.ReqTarget.auto([f]), timeout=GUARD, policy=n.ReqExitPolicy.EXIT_ON_EOSE())
        return sorted(e.id().to_hex() for e in evs)

    ids = lambda *evs: sorted(e.id().to_hex() for e in evs)
    pk = keys.public_key()
    k1 = n.Kind(1)
    got = await query(n.Filter().id(old.id()))
    check("REQ ids", got == ids(old), str(got))
    got = await query(n.Filter().author(pk).kind(k1))
    check("REQ authors+kinds", got == ids(old, mid, young), str(got))
    got = await query(n.Filter().kind(k1).hashtag("nostrp2p"))
    check("REQ #t", got == ids(old), str(got))
    got = await query(n.Filter().kind(k1).since(n.Timestamp.from_secs(now - 60)))
    check("REQ since", got == ids(mid, young), str(got))
    got = await query(n.Filter().kind(k1).until(n.Timestamp.from_secs(now - 60)))
    check("REQ until", got == ids(old), str(got))
    got = await query(n.Filter().kind(k1).limit(1))
    check("REQ limit", got == ids(young), str(got))

    stranger = post(n.Keys.generate(), 0, [], "not the owner")
    out = await client.send_event(stranger, ok_timeout=GUARD)
    reason = out.failed.get(relay_url, "") if out.failed else ""
    check("non-owner refused", not out.success and reason.startswith("restricted:"), str(out))
    got = await query(n.Filter().id(stranger.id()))
    check("non-owner not stored", got == [], str(got))
    await client.disconnect()
    results["ok"] = True
    results["library"] = "nostr-sdk"
    print(json.dumps(results))


if len(sys.argv) != 3:
    fail("usage: relay_check.py <ws url> <secret key hex>")
asyncio.run(main(sys.argv[1], sys.argv[2]))
