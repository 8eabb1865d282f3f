"""Drives two peered nostrp2p nodes with nostr-sdk (PyPI), a client no one here wrote (run by
tests/relay_clients.rs). Usage: python two_nodes.py ws://A ws://B <A secret hex> <B secret hex>.
Checks: a post published on A arrives live (after EOSE) in a nostr-sdk subscription on B; a
reply to B's owner published on A reaches B and is served there to a client that
authenticates as B's owner with nostr-sdk's own NIP-42 handling (`SignerAuthenticator`), and
to no client that does not (unauthenticated, or authenticated as another key). Prints one
JSON line of results; exits non-zero on any failure. Timeouts are failure guards."""
import asyncio
import json
import os
import sys
import time

import nostr_sdk as n
from report import GUARD, check, fail, results


async def client_on(url, auth_keys=None):
    b = n.ClientBuilder()
    if auth_keys is not None:
        b = b.authenticator(n.SignerAuthenticator(auth_keys))
    c = b.build()
    await c.add_relay(n.RelayUrl.parse(url))
    await c.connect()
    return c


async def fetch_ids(client, f, refusal_ok=False):
    """Ids of the stored events the relay serves for `f` (a refusal raised by the library
    counts as none when `refusal_ok`)."""
    try:
        evs = await client.fetch_events(n.ReqTarget.auto([f]), timeout=GUARD, policy=n.ReqExitPolicy.EXIT_ON_EOSE())
    except Exception as e:  # noqa: BLE001 - nostr-sdk raises its own error types
        if refusal_ok:
            return set()
        fail(f"fetch refused: {e}")
    return {e.id().to_hex() for e in evs}


async def wait_eose(stream, sub_id):
    """Reads notifications until `sub_id`'s EOSE: from then on the relay has the subscription.
    (`subscribe` returns before the REQ reached the relay: a post published at once on another
    node could reach B before B has the subscription, and arrive stored, not live.)"""
    while True:
        note = await asyncio.wait_for(stream.next(), GUARD.total_seconds())
        if note is None:
            fail("notification stream ended")
        if note.is_MESSAGE():
            m = note.message.as_enum()
            if m.is_END_OF_STORED_EVENTS() and m.subscription_id == sub_id:
                return


async def wait_live(stream, sub_id, event_id, eosed=False):
    """Reads notifications until `event_id` arrives on `sub_id` after that subscription's EOSE;
    returns whether it came after EOSE."""
    while True:
        note = await asyncio.wait_for(stream.next(), GUARD.total_seconds())
        if note is None:
            fail("notification stream ended")
        if note.is_MESSAGE():
            m = note.message.as_enum()
            if m.is_END_OF_STORED_EVENTS() and m.subscription_id == sub_id:
                eosed = True
            elif m.is_EVENT_MSG() and m.subscription_id == sub_id and m.event.id().to_hex() == event_id:
                return eosed


async def main(url_a, url_b, sk_a, sk_b):
    # nostr-sdk calls the authenticator back from its own threads; uniffi needs to know
    # which asyncio loop runs Python coroutines (see uniffi_set_event_loop in nostr_sdk).
    n.uniffi_set_event_loop(asyncio.get_running_loop())
    keys_a, keys_b, keys_c = n.Keys.parse(sk_a), n.Keys.parse(sk_b), n.Keys.generate()
    pk_a, pk_b = keys_a.public_key(), keys_b.public_key()
    now = int(time.time())
    on_a = await client_on(url_a)

    # 1. Live across nodes: subscribe on B, EOSE, then a post on A arrives.
    anon_b = await client_on(url_b)
    stream = anon_b.notifications()
    feed = n.Filter().author(pk_a).kind(n.Kind(1)).since(n.Timestamp.from_secs(now - 1))
    sub = await anon_b.subscribe(n.ReqTarget.auto([feed]))
    await wait_eose(stream, sub.id)
    post = n.EventBuilder(n.Kind(1), "nostr-sdk: from A, live on B").custom_created_at(n.Timestamp.from_secs(now)).finalize(keys_a)
    waiter = asyncio.create_task(wait_live(stream, sub.id, post.id().to_hex(), eosed=True))
    out = await on_a.send_event(post, ok_timeout=GUARD)
    check("publish on A", len(out.success) == 1 and not out.failed, str(out))
    check("live on B after EOSE", await waiter)

    # 2. A reply to B's owner, published on A, is served on B to B's owner after AUTH.
    reply = (
        n.EventBuilder(n.Kind(1), "nostr-sdk: reply to B")
        .tags([n.Tag.event(post.id()), n.Tag.public_key(pk_b)])
        .custom_created_at(n.Timestamp.from_secs(now + 1))
        .finalize(keys_a)
    )
    out = await on_a.send_event(reply, ok_timeout=GUARD)
    check("reply published on A", len(out.success) == 1 and not out.failed, str(out))
    owner_b = await client_on(url_b, keys_b)
    inbox = n.Filter().pubkey(pk_b)
    rid = reply.id().to_hex()
    deadline = time.monotonic() + GUARD.total_seconds()
    while rid not in await fetch_ids(owner_b, inbox, refusal_ok=True):
        if time.monotonic() > deadline:
            fail("the reply never reached B's owner")
        await asyncio.sleep(0.2)
    check("reply served to B owner after AUTH", True)
    got = await fetch_ids(anon_b, inbox, refusal_ok=True)
    check("unauthenticated does not get reply", rid not in got, str(got))
    got = await fetch_ids(anon_b, n.Filter().author(pk_a))
    check("unauthenticated broad REQ hides reply", rid not in got and post.id().to_hex() in got, str(got))
    other_b = await client_on(url_b, keys_c)
    got = await fetch_ids(other_b, inbox, refusal_ok=True)
    check("other key does not get reply", rid not in got, str(got))
    got = await fetch_ids(other_b, n.Filter().author(pk_a))
    check("other key broad REQ hides reply", rid not in got and post.id().to_hex() in got, str(got))

    for c in (on_a, anon_b, owner_b, other_b):
        await c.disconnect()
    results["ok"] = True
    results["library"] = "nostr-sdk"
    print(json.dumps(results), flush=True)
    # Leave without tearing down the asyncio loop under nostr-sdk's FFI threads: with the
    # authenticator's loop registered (uniffi_set_event_loop), the interpreter's teardown
    # sometimes crashes (SIGSEGV) after every check has passed and been printed.
    os._exit(0)


if len(sys.argv) != 5:
    fail("usage: two_nodes.py <ws A> <ws B> <A secret hex> <B secret hex>")
asyncio.run(main(*sys.argv[1:]))
