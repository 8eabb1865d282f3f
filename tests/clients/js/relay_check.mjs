// Drives a nostrp2p node's NIP-01 relay with nostr-tools, a client no one here wrote
// (run by tests/relay_clients.rs). Usage:
//   node relay_check.mjs ws://127.x.y.z:port <owner secret key hex>
// (or env RELAY_URL, OWNER_SECRET). Prints one JSON line of results; exits non-zero on any
// failure. Every wait has a generous failure guard (the machine is shared), never a speed claim.
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent } from 'nostr-tools/pure'
import WebSocket from 'ws'
import { GUARD_MS, results, fail, check } from './report.mjs'

useWebSocketImplementation(WebSocket)

const url = process.argv[2] ?? process.env.RELAY_URL
const skHex = process.argv[3] ?? process.env.OWNER_SECRET
if (!url || !/^[0-9a-f]{64}$/.test(skHex ?? '')) fail('usage: relay_check.mjs <ws url> <secret key hex>')
const sk = Uint8Array.from(Buffer.from(skHex, 'hex'))
const pk = getPublicKey(sk)
const guard = setTimeout(() => fail('failure guard: the relay did not answer in time'), GUARD_MS * 2)

// Subscribes, collects events until the relay's own EOSE (the library's EOSE timeout is set far
// beyond the guard, so `oneose` means the relay said EOSE), then closes the subscription.
function query(relay, filters) {
  return new Promise((resolve) => {
    const got = []
    const sub = relay.subscribe(filters, {
      eoseTimeout: GUARD_MS * 10,
      onevent: (e) => got.push(e),
      oneose: () => {
        sub.close()
        resolve(got)
      },
    })
  })
}
const ids = (evs) => evs.map((e) => e.id).sort()
const same = (a, b) => JSON.stringify(ids(a)) === JSON.stringify(ids(b))

const relay = await Relay.connect(url)
relay.publishTimeout = GUARD_MS
relay.baseEoseTimeout = GUARD_MS * 10

// Publish three owner posts and get OK true for each (the node answers once durable).
const now = Math.floor(Date.now() / 1000)
const post = (dt, tags, content) =>
  finalizeEvent({ kind: 1, created_at: now - dt, tags, content }, sk)
const old = post(100, [['t', 'nostrp2p']], 'tagged, oldest')
const mid = post(50, [], 'middle')
const young = post(10, [['t', 'other']], 'newest')
for (const ev of [old, mid, young]) {
  const reason = await relay.publish(ev).catch((e) => fail(`publish refused: ${e.message}`))
  check(`publish ${ev.content}`, typeof reason === 'string', String(reason))
}
// A duplicate is still OK true.
const dup = await relay.publish(old).catch((e) => fail(`duplicate refused: ${e.message}`))
check('duplicate OK', dup.startsWith('duplicate:'), dup)

// REQ with each filter field; the events come back verified by nostr-tools and EOSE ends them.
const all = [old, mid, young]
let got = await query(relay, [{ ids: [old.id] }])
check('REQ ids', same(got, [old]), JSON.stringify(ids(got)))
got = await query(relay, [{ authors: [pk], kinds: [1] }])
check('REQ authors+kinds', same(got, all), JSON.stringify(ids(got)))
check('events verify', got.every((e) => verifyEvent(e)), 'bad signature from relay')
got = await query(relay, [{ kinds: [1], '#t': ['nostrp2p'] }])
check('REQ #t', same(got, [old]), JSON.stringify(ids(got)))
got = await query(relay, [{ kinds: [1], since: now - 60 }])
check('REQ since', same(got, [mid, young]), JSON.stringify(ids(got)))
got = await query(relay, [{ kinds: [1], until: now - 60 }])
check('REQ until', same(got, [old]), JSON.stringify(ids(got)))
got = await query(relay, [{ kinds: [1], limit: 1 }])
check('REQ limit', same(got, [young]), JSON.stringify(ids(got)))
got = await query(relay, [{ kinds: [1], authors: [getPublicKey(generateSecretKey())] }])
check('REQ no match', got.length === 0, JSON.stringify(ids(got)))

// Live: a subscription open before a publish gets the event after EOSE.
const live = post(5, [], 'live')
const livePromise = new Promise((resolve) => {
  let eosed = false
  relay.subscribe([{ kinds: [1], since: now - 6 }], {
    eoseTimeout: GUARD_MS * 10,
    oneose: () => {
      eosed = true
      relay.publish(live).catch((e) => fail(`live publish refused: ${e.message}`))
    },
    onevent: (e) => eosed && e.id === live.id && resolve(e),
  })
})
check('live EVENT after EOSE', (await livePromise).id === live.id)

// Someone else's event: refused (`restricted:`), and not stored.
const stranger = finalizeEvent({ kind: 1, created_at: now, tags: [], content: 'not the owner' }, generateSecretKey())
const refused = await relay.publish(stranger).then(
  (r) => fail(`non-owner event accepted: ${r}`),
  (e) => e.message,
)
check('non-owner refused', refused.startsWith('restricted:'), refused)
got = await query(relay, [{ ids: [stranger.id] }])
check('non-owner not stored', got.length === 0)

// A tampered event (content changed after signing): refused as `invalid:`.
const tampered = { ...post(1, [], 'signed'), content: 'tampered' }
const bad = await relay.publish(tampered).then(
  (r) => fail(`tampered event accepted: ${r}`),
  (e) => e.message,
)
check('bad signature refused', bad.startsWith('invalid:'), bad)

// NIP-42: the library answers the relay's challenge with a signed kind-22242 event.
const authReason = await relay.auth(async (t) => finalizeEvent(t, sk)).catch((e) => fail(`AUTH refused: ${e.message}`))
check('NIP-42 auth', typeof authReason === 'string', String(authReason))
relay.close()

// NIP-11 on the same port.
const http = url.replace(/^ws/, 'http')
const res = await fetch(http, { headers: { Accept: 'application/nostr+json' } })
check('NIP-11 status', res.status === 200, String(res.status))
const info = await res.json()
check('NIP-11 pubkey', info.pubkey === pk, JSON.stringify(info))
check('NIP-11 nips', [1, 11, 42].every((n) => info.supported_nips?.includes(n)), JSON.stringify(info.supported_nips))

clearTimeout(guard)
results.ok = true
results.library = 'nostr-tools'
console.log(JSON.stringify(results))
process.exit(0)
