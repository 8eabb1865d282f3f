// Drives two peered nostrp2p nodes with nostr-tools, a client no one here wrote (run by
// tests/relay_clients.rs). Usage:
//   node two_nodes.mjs ws://A ws://B <A's secret hex> <B's secret hex>
// Checks: a post on A arrives live (after EOSE) in a subscription on B; a reply to B's owner
// published on A reaches B and is served there only after NIP-42 AUTH as B's owner (not
// unauthenticated, not authenticated as someone else); a NIP-09 deletion on A removes the
// post on A and on B, re-publishing it is refused `blocked:`, and the deletion is served.
// Prints one JSON line of results; exits non-zero on any failure. Waits are on events; the
// guard only turns a hang into a failure.
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure'
import WebSocket from 'ws'
import { GUARD_MS, results, fail, check } from './report.mjs'

useWebSocketImplementation(WebSocket)

const [urlA, urlB, skAHex, skBHex] = process.argv.slice(2)
const hex64 = /^[0-9a-f]{64}$/
if (!urlA || !urlB || !hex64.test(skAHex ?? '') || !hex64.test(skBHex ?? '')) {
  fail('usage: two_nodes.mjs <ws A> <ws B> <A secret hex> <B secret hex>')
}
const skA = Uint8Array.from(Buffer.from(skAHex, 'hex'))
const skB = Uint8Array.from(Buffer.from(skBHex, 'hex'))
const skC = generateSecretKey()
const [pkA, pkB] = [getPublicKey(skA), getPublicKey(skB)]
setTimeout(() => fail('failure guard: the nodes did not answer in time'), GUARD_MS * 4)

async function connect(url) {
  const r = await Relay.connect(url)
  r.publishTimeout = GUARD_MS
  r.baseEoseTimeout = GUARD_MS * 10
  return r
}
// AUTH as `sk` with nostr-tools' own NIP-42 handling, once the relay's challenge is in.
async function authAs(relay, sk) {
  while (!relay.challenge) await new Promise((r) => setTimeout(r, 10))
  return relay.auth(async (t) => finalizeEvent(t, sk))
}
// Stored events until the relay's EOSE, or the reason of its CLOSED.
function query(relay, filters) {
  return new Promise((resolve) => {
    const got = []
    const sub = relay.subscribe(filters, {
      eoseTimeout: GUARD_MS * 10,
      onevent: (e) => got.push(e),
      oneose: () => {
        sub.close()
        resolve({ events: got })
      },
      onclose: (reason) => resolve({ events: got, closed: reason }),
    })
  })
}
// A subscription that resolves `eose` at EOSE and `arrived(id)` when that event comes live.
function live(relay, filters) {
  const waiting = new Map()
  const seen = new Set()
  let eose
  const eosed = new Promise((r) => (eose = r))
  let afterEose = false
  relay.subscribe(filters, {
    eoseTimeout: GUARD_MS * 10,
    oneose: () => {
      afterEose = true
      eose()
    },
    onevent: (e) => {
      if (!afterEose) return
      seen.add(e.id)
      waiting.get(e.id)?.(e)
    },
    onclose: (reason) => closing || fail(`live subscription closed: ${reason}`),
  })
  const arrived = (id) => (seen.has(id) ? Promise.resolve() : new Promise((r) => waiting.set(id, r)))
  return { eosed, arrived, seen }
}
let closing = false
const ids = (r) => r.events.map((e) => e.id)
const now = Math.floor(Date.now() / 1000)

const a = await connect(urlA)
const bAnon = await connect(urlB)

// 1. A post published over the websocket on A arrives live on a subscription on B.
const feed = live(bAnon, [{ authors: [pkA], kinds: [1, 5] }])
await feed.eosed
const post = finalizeEvent({ kind: 1, created_at: now, tags: [], content: 'from A, live on B' }, skA)
check('publish on A', typeof (await a.publish(post)) === 'string')
await feed.arrived(post.id)
check('live on B after EOSE', true)

// 2. A reply to B's owner, published on A, reaches B and is served there only to B's owner.
const bOwner = await connect(urlB)
const authReason = await authAs(bOwner, skB).catch((e) => fail(`AUTH as B refused: ${e.message}`))
check('AUTH as B', typeof authReason === 'string', String(authReason))
const inbox = live(bOwner, [{ '#p': [pkB] }])
await inbox.eosed
const reply = finalizeEvent(
  { kind: 1, created_at: now + 1, tags: [['e', post.id], ['p', pkB]], content: 'reply to B' },
  skA,
)
check('reply published on A', typeof (await a.publish(reply)) === 'string')
await inbox.arrived(reply.id)
check('reply live to B owner', true)
let r = await query(bOwner, [{ ids: [reply.id] }])
check('reply served to B owner', ids(r).includes(reply.id), JSON.stringify(r))
r = await query(bAnon, [{ '#p': [pkB] }])
check('unauthenticated #p CLOSED', r.closed?.startsWith('auth-required:'), JSON.stringify(r))
r = await query(bAnon, [{ ids: [reply.id] }, { authors: [pkA] }])
check('unauthenticated never sees reply', !ids(r).includes(reply.id) && ids(r).includes(post.id), JSON.stringify(r))
const bStranger = await connect(urlB)
await authAs(bStranger, skC).catch((e) => fail(`AUTH as C refused: ${e.message}`))
r = await query(bStranger, [{ '#p': [pkB] }])
check('other key #p CLOSED', r.closed?.startsWith('auth-required:'), JSON.stringify(r))
r = await query(bStranger, [{ authors: [pkA] }])
check('other key never sees reply', !ids(r).includes(reply.id) && ids(r).includes(post.id), JSON.stringify(r))

// 3. NIP-09: A deletes the post; it goes wherever the post went.
const deletion = finalizeEvent(
  { kind: 5, created_at: now + 2, tags: [['e', post.id], ['k', '1']], content: 'oops' },
  skA,
)
check('deletion published on A', typeof (await a.publish(deletion)) === 'string')
await feed.arrived(deletion.id)
check('deletion reached B', true)
r = await query(a, [{ ids: [post.id] }])
check('deleted on A', r.events.length === 0, JSON.stringify(r))
r = await query(bAnon, [{ ids: [post.id] }, { authors: [pkA], kinds: [1] }])
check('deleted on B', !ids(r).includes(post.id), JSON.stringify(r))
const again = await a.publish(post).then(
  (x) => fail(`deleted event accepted again: ${x}`),
  (e) => e.message,
)
check('re-publish blocked', again.startsWith('blocked:'), again)
r = await query(a, [{ kinds: [5], authors: [pkA] }])
check('deletion served on A', ids(r).includes(deletion.id), JSON.stringify(r))
r = await query(bAnon, [{ kinds: [5], authors: [pkA] }])
check('deletion served on B', ids(r).includes(deletion.id), JSON.stringify(r))

check('unauthenticated live never got reply', !feed.seen.has(reply.id))

closing = true
for (const relay of [a, bAnon, bOwner, bStranger]) relay.close()
results.ok = true
results.library = 'nostr-tools'
console.log(JSON.stringify(results))
process.exit(0)
