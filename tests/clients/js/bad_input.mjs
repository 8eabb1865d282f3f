// Hostile input to a nostrp2p node's relay through the `ws` package (raw frames: client
// libraries refuse to send garbage), then nostr-tools shows the node still serves its owner
// (run by tests/relay_clients.rs). Usage:
//   node bad_input.mjs ws://node <owner secret hex>
// Each case checks the answer NIP-01 prescribes (`NOTICE` / `CLOSED` / `OK false` with the
// prefix). Prints one JSON line of results; exits non-zero on any failure. Waits are on
// messages; the guard only turns a hang into a failure.
import WebSocket from 'ws'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { finalizeEvent, getEventHash } from 'nostr-tools/pure'
import { GUARD_MS, results, fail, check } from './report.mjs'

useWebSocketImplementation(WebSocket)

const [url, skHex] = process.argv.slice(2)
if (!url || !/^[0-9a-f]{64}$/.test(skHex ?? '')) fail('usage: bad_input.mjs <ws url> <secret key hex>')
const sk = Uint8Array.from(Buffer.from(skHex, 'hex'))
setTimeout(() => fail('failure guard: the node did not answer in time'), GUARD_MS * 3)

// A raw connection: `next()` is the next message parsed (the AUTH greeting is skipped),
// `closed` resolves to the close code.
async function raw() {
  const ws = new WebSocket(url, { maxPayload: 4 << 20 })
  const queue = []
  const waiters = []
  let code
  const closed = new Promise((r) => ws.on('close', (c) => r((code = c))))
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString())
    if (m[0] === 'AUTH') return
    const w = waiters.shift()
    w ? w(m) : queue.push(m)
  })
  ws.on('error', () => {})
  await new Promise((r, j) => {
    ws.once('open', r)
    ws.once('error', j)
  })
  const next = () =>
    queue.length
      ? Promise.resolve(queue.shift())
      : code !== undefined
        ? Promise.resolve(null)
        : new Promise((r) => {
            waiters.push(r)
            closed.then(() => r(null))
          })
  return { ws, next, closed }
}
const prefix = (m, verb, pre) => m?.[0] === verb && String(m[m.length - 1]).startsWith(pre)
const now = Math.floor(Date.now() / 1000)
const ev = (content) => finalizeEvent({ kind: 1, created_at: now, tags: [], content }, sk)

let c = await raw()
c.ws.send('{not json')
let m = await c.next()
check('malformed JSON: NOTICE invalid', prefix(m, 'NOTICE', 'invalid:'), JSON.stringify(m))
c.ws.send('["SHOUT","x"]')
m = await c.next()
check('unknown verb: NOTICE invalid', prefix(m, 'NOTICE', 'invalid:'), JSON.stringify(m))
c.ws.send('["EVENT",{"id":"' + 'a'.repeat(258 * 1024) + '"}]')
m = await c.next()
check('oversized message: NOTICE invalid', prefix(m, 'NOTICE', 'invalid:'), JSON.stringify(m)?.slice(0, 200))

// Too many filters in one REQ, too many open subscriptions.
c.ws.send(JSON.stringify(['REQ', 'many', ...Array.from({ length: 11 }, () => ({ kinds: [1] }))]))
m = await c.next()
check('11 filters: CLOSED invalid', prefix(m, 'CLOSED', 'invalid:') && m[1] === 'many', JSON.stringify(m))
for (let i = 0; i < 20; i++) {
  c.ws.send(JSON.stringify(['REQ', `s${i}`, { ids: ['0'.repeat(64)] }]))
  m = await c.next()
  if (m?.[0] !== 'EOSE') fail(`subscription ${i}: ${JSON.stringify(m)}`)
}
c.ws.send(JSON.stringify(['REQ', 's20', { ids: ['0'.repeat(64)] }]))
m = await c.next()
check('21st subscription: CLOSED error', prefix(m, 'CLOSED', 'error:') && m[1] === 's20', JSON.stringify(m))

// Bad signature (id right, signature of something else), id mismatch (content changed).
const good = ev('signed')
const badSig = { ...ev('other'), content: 'signed', created_at: now }
badSig.id = getEventHash(badSig)
c.ws.send(JSON.stringify(['EVENT', badSig]))
m = await c.next()
check('bad signature: OK false invalid', m?.[0] === 'OK' && m[1] === badSig.id && m[2] === false && m[3].startsWith('invalid:'), JSON.stringify(m))
const wrongId = { ...good, content: 'tampered' }
c.ws.send(JSON.stringify(['EVENT', wrongId]))
m = await c.next()
check('id mismatch: OK false invalid', m?.[0] === 'OK' && m[2] === false && m[3].startsWith('invalid:'), JSON.stringify(m))

// A frame beyond the websocket message cap: close 1009 without reading it.
c.ws.send('["EVENT","' + 'x'.repeat(300 * 1024) + '"]')
const code = await c.closed
check('over the frame cap: close 1009', code === 1009, String(code))

// A message flood (REQs: answered at once, no disk write). The node reads a websocket at
// 20 messages/s after a burst of 50 (src/limits.rs WS_MSGS_PER_SEC, WS_MSG_BURST): the
// flooder is slowed by TCP backpressure, and every REQ still gets exactly one answer, in
// order, none dropped (the relay's own `rate-limited:` bucket, 100 deep, sits behind that
// pacing). The time it took is printed as a figure, not asserted.
c = await raw()
c.ws.send(JSON.stringify(['EVENT', good]))
m = await c.next()
check('owner event stored', m?.[0] === 'OK' && m[2] === true, JSON.stringify(m))
const FLOOD = 150
const t0 = Date.now()
for (let i = 0; i < FLOOD; i++) c.ws.send(JSON.stringify(['REQ', `f${i % 10}`, { ids: ['0'.repeat(64)] }]))
let answered = 0
for (let i = 0; i < FLOOD; i++) {
  m = await c.next()
  const ok = m?.[1] === `f${i % 10}` && (m[0] === 'EOSE' || prefix(m, 'CLOSED', 'rate-limited:'))
  if (!ok) fail(`flood answer ${i}: ${JSON.stringify(m)}`)
  answered++
}
check('flood: one answer per REQ, in order', answered === FLOOD)
results.flood_ms = Date.now() - t0
c.ws.close()

// The node still serves its owner, through nostr-tools on a fresh connection.
const relay = await Relay.connect(url)
relay.publishTimeout = GUARD_MS
const after = ev('still here')
const reason = await relay.publish(after).catch((e) => fail(`owner refused after the abuse: ${e.message}`))
check('owner publishes afterwards', typeof reason === 'string', String(reason))
const got = await new Promise((resolve) => {
  const evs = []
  const sub = relay.subscribe([{ ids: [after.id, good.id] }], {
    eoseTimeout: GUARD_MS * 10,
    onevent: (e) => evs.push(e.id),
    oneose: () => {
      sub.close()
      resolve(evs)
    },
  })
})
check('owner reads afterwards', got.includes(after.id) && got.includes(good.id), JSON.stringify(got))
relay.close()

results.ok = true
results.library = 'ws+nostr-tools'
console.log(JSON.stringify(results))
process.exit(0)
