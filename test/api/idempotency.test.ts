import t from 'tap'
import fc from 'fast-check'
import { buildTestApi, count, createUser, testPool, waitFor } from '../helper'
import { buildTestWorker } from '../worker/helper'
import { createRoom } from '../rooms/helper'

// The rule: among one user's posts with the same Idempotency-Key, the first is queued and every other
// answers with its task (same Location), nothing more queued; so a retry after a lost answer posts once.

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

t.test('keys over generated concurrent posts: one message per user and key; other users and rooms are apart', async (t) => {
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
