import t from 'tap'
import type pg from 'pg'
import { buildTestApi, createUser, waitFor } from '../helper'
import { addMember, createRoom } from '../rooms/helper'
import { startTestPush, type Frame, type TestClient } from './helper'
import { socketAs } from './rooms-helper'

// Counts the queries sent through the push's own pool (they still run: nothing is faked).
function countQueries (pool: pg.Pool): { readonly n: number } {
  const counter = { n: 0 }
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown
  ;(pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    counter.n++
    return query(...args)
  }
  return counter
}

// A seeded PRNG (mulberry32), so a failure replays.
function prng (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

async function answers (client: TestClient, refs: string[]): Promise<Frame[]> {
  return waitFor(async () => {
    const found = refs.map((ref) => client.frames.find((f) => f.ref === ref))
    return found.every((f) => f !== undefined) ? found as Frame[] : null
  }, 15000, 'every typing frame answered')
}

// Rule: the 3 s per-user-per-room throttle comes before the room lookup, so a flood of typing frames
// costs at most one lookup and one NOTIFY per user and room in each interval, whatever the answers.
t.test('a flood of typing frames costs a bounded number of queries, and each answer is what one lookup gives', async (t) => {
  const api = await buildTestApi(t)
  const push = await startTestPush(t, { PUSH_FRAMES_PER_SECOND: 1000 }, { typingIntervalMs: 60_000 })
  const [alice, bob] = [await createUser(api), await createUser(api)]
  const secret = await createRoom(api, bob, `hush-${process.pid}`, true)
  const shared = await createRoom(api, bob, `ours-${process.pid}`, true)
  await addMember(api, bob, shared.id, alice.id)
  const open = await createRoom(api, bob, `open-${process.pid}`)
  // Readable: general, a public room, a private one she is in; not: a private one she is not in, a missing one.
  const rooms = [{ id: 1, ok: true }, { id: open.id, ok: true }, { id: shared.id, ok: true }, { id: secret.id, ok: false }, { id: 2147483000, ok: false }]
  const socket = await socketAs(t, push.url, alice)
  const counter = countQueries(push.app.pg)

  const random = prng(10)
  const sent: Array<{ ref: string, ok: boolean }> = []
  for (let i = 0; i < 400; i++) {
    const room = rooms[Math.floor(random() * rooms.length)]
    const ref = `t${i}`
    sent.push({ ref, ok: room.ok })
    socket.send({ type: 'typing', token: alice.token, room_id: room.id, ref })
  }
  const got = await answers(socket, sent.map((s) => s.ref))
  const wrong = sent.filter((s, i) => s.ok ? got[i].type !== 'ack' : got[i].type !== 'error' || got[i].error !== 'Room not found')
  t.same(wrong, [], 'an ack where the room may be read, else "Room not found", as one lookup answers')
  // One lookup per room and one NOTIFY per readable room at most.
  t.ok(counter.n <= rooms.length + rooms.filter((r) => r.ok).length, `${counter.n} queries for 400 typing frames over ${rooms.length} rooms`)
})
