import t, { type Test } from 'tap'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { WebSocket } from 'ws'
import { eventually } from '../helper'
import { startTestPush } from './helper'

type Refusal = { status: number, body: unknown }

// Opens a socket (optionally through a proxy's X-Forwarded-For); resolves with it, or with the upgrade's refusal.
function attempt (t: Test, url: string, forwardedFor?: string): Promise<WebSocket | Refusal> {
  const ws = new WebSocket(url, { headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } })
  t.teardown(() => ws.terminate())
  ws.on('error', () => {})
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (req, res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => { body += chunk.toString() })
      res.on('end', () => {
        req.destroy()
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) })
      })
    })
    ws.once('error', reject)
  })
}

const opened = (outcome: WebSocket | Refusal): outcome is WebSocket => outcome instanceof WebSocket

// Closes the socket and waits until this process has let go of its slot.
async function closeAndRelease (app: FastifyInstance, ws: WebSocket, address: string, before: number): Promise<void> {
  ws.close()
  await eventually(async () => app.push.sockets.count(address) === before - 1)
}

t.test('one address gets at most PUSH_MAX_SOCKETS_PER_ADDRESS sockets, then a 429 before the upgrade', async (t) => {
  const { app, url } = await startTestPush(t, { PUSH_MAX_SOCKETS_PER_ADDRESS: 3 })
  const sockets: WebSocket[] = []
  for (let i = 0; i < 3; i++) {
    const outcome = await attempt(t, url)
    if (!opened(outcome)) throw new Error(`socket ${i} refused: ${JSON.stringify(outcome)}`)
    sockets.push(outcome)
  }
  const refused = await attempt(t, url)
  t.same(refused, { status: 429, body: { error: 'Too many sockets from this address: at most 3' } })
  // Without TRUST_PROXY a client's own X-Forwarded-For is ignored: it cannot pose as another address.
  t.same(await attempt(t, url, '203.0.113.9'), refused, 'a forged forwarded address does not help')
  t.equal(app.push.sockets.count('127.0.0.1'), 3, 'refusals hold no slot')

  await closeAndRelease(app, sockets[0], '127.0.0.1', 3)
  t.ok(opened(await attempt(t, url)), 'a closed socket frees its slot')
  t.equal((await attempt(t, url) as Refusal).status, 429, 'and only one')
})

t.test('a burst of upgrades at once: exactly the cap gets through', async (t) => {
  const { app, url } = await startTestPush(t, { PUSH_MAX_SOCKETS_PER_ADDRESS: 5 })
  const outcomes = await Promise.all(Array.from({ length: 30 }, () => attempt(t, url)))
  t.equal(outcomes.filter(opened).length, 5)
  t.equal(outcomes.filter((o) => !opened(o) && o.status === 429).length, 25)
  t.equal(app.push.sockets.count('127.0.0.1'), 5)
})

t.test('behind a proxy (TRUST_PROXY) each forwarded address has its own cap', async (t) => {
  const { app, url } = await startTestPush(t, { PUSH_MAX_SOCKETS_PER_ADDRESS: 2, TRUST_PROXY: true })
  for (const address of ['198.51.100.1', '198.51.100.2']) {
    t.ok(opened(await attempt(t, url, address)), `${address}: first`)
    t.ok(opened(await attempt(t, url, address)), `${address}: second`)
    t.equal((await attempt(t, url, address) as Refusal).status, 429, `${address}: third refused`)
  }
  t.equal(app.push.sockets.count('198.51.100.1'), 2)
  t.equal(app.push.sockets.count('127.0.0.1'), 0, 'the proxy itself is not counted')
  t.ok(opened(await attempt(t, url)), 'nor is a client of its own address held up by them')
  // One IPv6 subscriber usually holds a whole /64: its addresses share one cap.
  t.ok(opened(await attempt(t, url, '2001:db8:1:2::a')), 'an IPv6 address')
  t.ok(opened(await attempt(t, url, '2001:db8:1:2:ffff::b')), 'another of its /64')
  t.equal((await attempt(t, url, '2001:db8:1:2::c') as Refusal).status, 429, 'a third of that /64 is refused')
  t.ok(opened(await attempt(t, url, '2001:db8:1:3::a')), 'the next /64 has its own cap')
})

// Rule: whatever the order of opens and closes across addresses, a socket opens exactly when its
// address holds fewer than the cap, and a refusal is always a 429 in the one error form.
t.test('property: any sequence of opens and closes keeps every address within the cap', async (t) => {
  const cap = 3
  const addresses = ['192.0.2.1', '192.0.2.2', '2001:db8::1']
  const { app, url } = await startTestPush(t, { PUSH_MAX_SOCKETS_PER_ADDRESS: cap, TRUST_PROXY: true })
  const op = fc.record({ open: fc.boolean(), address: fc.constantFrom(...addresses), pick: fc.nat() })
  let steps = 0
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 20, maxLength: 80 }), async (ops) => {
    const held = new Map<string, WebSocket[]>(addresses.map((a) => [a, []]))
    try {
      for (const { open, address, pick } of ops) {
        steps++
        const mine = held.get(address)!
        if (!open && mine.length > 0) {
          const [ws] = mine.splice(pick % mine.length, 1)
          await closeAndRelease(app, ws, address, mine.length + 1)
          continue
        }
        const outcome = await attempt(t, url, address)
        if (mine.length < cap) {
          if (!opened(outcome)) throw new Error(`${address} refused below the cap: ${JSON.stringify(outcome)}`)
          mine.push(outcome)
        } else if (opened(outcome) || outcome.status !== 429 || typeof (outcome.body as { error?: unknown }).error !== 'string') {
          throw new Error(`${address} at the cap was not refused with a 429: ${opened(outcome) ? 'opened' : JSON.stringify(outcome)}`)
        }
        if (app.push.sockets.count(address) !== mine.length) throw new Error(`${address}: counted ${app.push.sockets.count(address)}, open ${mine.length}`)
      }
    } finally {
      for (const [address, mine] of held) while (mine.length > 0) await closeAndRelease(app, mine.pop()!, address, mine.length + 1)
    }
  }), { seed: 8, numRuns: 6 })
  t.ok(steps >= 120, `${steps} opens and closes checked`)
})
