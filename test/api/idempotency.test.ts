import t from 'tap'
import fc from 'fast-check'
import { buildTestApi, count, createUser, testPool, waitFor } from '../helper'
import { buildTestWorker } from '../worker/helper'
import { createRoom } from '../rooms/helper'

// The rule: among one user's posts with the same Idempotency-Key, the first is queued and every repeat
// (same source, same room) answers with its task (same Location), nothing more queued; so a retry
// after a lost answer posts once. The same key with another source or room is a 422 that changes nothing.

t.test('a repeated post with the same Idempotency-Key answers with the first one\'s task and is stored once', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const alice = await createUser(app)
  const headers = { ...alice.auth, 'idempotency-key': 'compose-1' }
  const first = await app.inject({ method: 'POST', url: '/api/messages', headers, payload: { source: 'once' } })
  const again = await app.inject({ method: 'POST', url: '/api/messages', headers, payload: { source: 'once' } })
  t.equal(first.statusCode, 202)
  t.equal(again.statusCode, 202)
  t.equal(again.headers.location, first.headers.location, 'the same task')
  t.equal(await count(pool, 'SELECT 1 FROM tasks'), 1)
  t.equal(await count(pool, 'SELECT 1 FROM graphile_worker._private_jobs'), 1, 'one job')

  await buildTestWorker(t)
  const done = await waitFor(async () => {
    const res = await app.inject({ url: first.headers.location as string, headers: alice.auth })
    return res.statusCode === 201 && res
  }, 15000, 'the post stored')
  // After the task ended, a retry still gets it (with Prefer: wait, its final answer), not a new post.
  const late = await app.inject({ method: 'POST', url: '/api/messages', headers: { ...headers, prefer: 'wait=5' }, payload: { source: 'once' } })
  t.equal(late.statusCode, 201)
  t.same(late.json(), done.json(), 'the first post\'s message')
  t.equal(await count(pool, "SELECT 1 FROM messages WHERE source = 'once'"), 1, 'stored once')
})

t.test('keys over generated concurrent posts: one task per user and key; other users are apart', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const users = [await createUser(app), await createUser(app)]
  const room = await createRoom(app, users[0], 'keys')
  let run = 0
  const post = fc.record({ user: fc.nat({ max: 1 }), key: fc.constantFrom('a', 'b', 'c'), viaRoom: fc.boolean() })
  await fc.assert(fc.asyncProperty(fc.array(post, { minLength: 1, maxLength: 12 }), async (posts) => {
    run++
    const answers = await Promise.all(posts.map((p, i) => app.inject({
      method: 'POST',
      url: p.viaRoom ? `/api/rooms/${room.id}/messages` : '/api/messages',
      headers: { ...users[p.user].auth, 'idempotency-key': `run${run}-${p.key}` },
      payload: { source: `run ${run} post ${i}` },
    })))
    const byKey = new Map<string, string>()
    for (const [i, p] of posts.entries()) {
      // Sent at once, a key's other messages find its first one queued (422) or, racing it, its task.
      if (answers[i].statusCode === 422) continue
      if (answers[i].statusCode !== 202) throw new Error(`post ${i}: ${answers[i].statusCode} ${answers[i].body}`)
      const id = `${p.user}/${p.key}`
      const location = answers[i].headers.location as string
      if ((byKey.get(id) ?? location) !== location) throw new Error(`${id}: two tasks`)
      byKey.set(id, location)
    }
    if (new Set(byKey.values()).size !== byKey.size) throw new Error('two users or keys share a task')
    const tasks = await count(pool, "SELECT 1 FROM tasks t JOIN graphile_worker._private_jobs j ON j.payload->>'taskId' = t.id::text WHERE t.id = ANY($1::uuid[])", [[...byKey.values()].map((l) => l.split('/').pop())])
    if (tasks !== byKey.size) throw new Error(`${tasks} tasks with jobs for ${byKey.size} distinct keys`)
  }), { seed: 20261130, numRuns: 30 })
  t.pass('30 generated runs')
})

t.test('rule over generated sequences: a repeat answers with the first task; another source or room is a 422 that queues and joins nothing', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const [alice, bob] = [await createUser(app), await createUser(app)]
  const rooms = [1, (await createRoom(app, bob, 'keys-a')).id, (await createRoom(app, bob, 'keys-b')).id]
  let run = 0
  const post = fc.record({ user: fc.nat({ max: 1 }), key: fc.constantFrom('a', 'b'), source: fc.constantFrom('one', 'two'), room: fc.nat({ max: 2 }), viaRoom: fc.boolean() })
  await fc.assert(fc.asyncProperty(fc.array(post, { minLength: 2, maxLength: 8 }), async (posts) => {
    run++
    const first = new Map<string, { source: string, room: number, location: string }>()
    for (const p of posts) {
      const user = [alice, bob][p.user]
      const roomId = rooms[p.room]
      const source = `run ${run} ${p.source}`
      const tasksBefore = await count(pool, 'SELECT 1 FROM tasks')
      const memberBefore = await count(pool, 'SELECT 1 FROM memberships WHERE user_id = $1 AND room_id = $2', [user.id, roomId])
      const res = await app.inject({
        method: 'POST',
        url: p.viaRoom ? `/api/rooms/${roomId}/messages` : '/api/messages',
        headers: { ...user.auth, 'idempotency-key': `run${run}-${p.key}` },
        payload: p.viaRoom ? { source } : { source, room_id: roomId },
      })
      const id = `${p.user}/${p.key}`
      const held = first.get(id)
      if (held === undefined) {
        if (res.statusCode !== 202) throw new Error(`first post of ${id}: ${res.statusCode} ${res.body}`)
        first.set(id, { source, room: roomId, location: res.headers.location as string })
      } else if (held.source === source && held.room === roomId) {
        if (res.statusCode !== 202 || res.headers.location !== held.location) throw new Error(`repeat of ${id}: ${res.statusCode} ${String(res.headers.location)}`)
        if (await count(pool, 'SELECT 1 FROM tasks') !== tasksBefore) throw new Error(`repeat of ${id} queued a task`)
      } else {
        if (res.statusCode !== 422 || res.json().error !== 'Idempotency-Key already used for another message') throw new Error(`${id} with another message: ${res.statusCode} ${res.body}`)
        if (await count(pool, 'SELECT 1 FROM tasks') !== tasksBefore) throw new Error(`${id} with another message queued a task`)
        const memberAfter = await count(pool, 'SELECT 1 FROM memberships WHERE user_id = $1 AND room_id = $2', [user.id, roomId])
        if (memberAfter !== memberBefore) throw new Error(`${id} with another message joined room ${roomId}`)
      }
    }
  }), { seed: 20261201, numRuns: 25 })
  t.pass('25 generated sequences')
})

t.test('a bad Idempotency-Key is refused with a 400 and nothing is queued', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const alice = await createUser(app)
  for (const key of ['', 'x'.repeat(129), 'tab\there', 'é']) {
    const res = await app.inject({ method: 'POST', url: '/api/messages', headers: { ...alice.auth, 'idempotency-key': key }, payload: { source: 'no' } })
    t.equal(res.statusCode, 400, JSON.stringify(key))
    t.match(res.json(), { error: /^Invalid request/ })
  }
  t.equal(await count(pool, 'SELECT 1 FROM tasks'), 0)
})
