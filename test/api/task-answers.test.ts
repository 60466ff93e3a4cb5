import t from 'tap'
import { buildTestApi, count, createUser, testDatabase, testPool, waitFor } from '../helper'
import { faultyRelay } from '../support/net'
import { buildTestWorker } from '../worker/helper'

t.test('a queued post answers 202 with its Location when the database becomes unreachable during Prefer: wait', async (t) => {
  const relay = await faultyRelay(t, await testDatabase(t))
  const app = await buildTestApi(t, { DATABASE_URL: relay.url })
  const pool = await testPool(t)
  const user = await createUser(app)
  // Waits of 1 to 3 s, some cut before their first read, some while held: no worker runs, so every task stays queued.
  const posts = [1, 2, 3, 1, 2, 3].map((wait) => app.inject({
    method: 'POST', url: '/api/messages', headers: { ...user.auth, prefer: `wait=${wait}` }, payload: { source: `wait ${wait}` },
  }))
  // Committed is not enough: the api must have the insert's answer too (else the post's fate is unknown to it, a 503).
  await waitFor(async () => await count(pool, 'SELECT * FROM tasks') === 6 && app.taskWaiter.size === 6, 10000, 'the tasks queued, and every request holding')
  await relay.cut()
  const cut = Date.now()
  const answers = await Promise.all(posts)
  const elapsed = Date.now() - cut
  for (const res of answers) {
    t.equal(res.statusCode, 202, res.body)
    t.match(res.headers.location, /^\/api\/tasks\/[0-9a-f-]{36}$/)
    t.same(res.json(), { status: 'queued' })
  }
  // The longest wait is 3 s: the answers come well inside 10 s of the cut, not held by the hanging reads.
  t.ok(elapsed < 3000 + 7000, `answered by the end of the longest wait (${elapsed} ms after the cut), not held by the hanging reads`)

  // The database comes back: the same tasks end once, as accepted.
  await relay.mend()
  await buildTestWorker(t)
  await waitFor(async () => await count(pool, "SELECT * FROM tasks WHERE status = 'done'") === 6, 15000, 'the tasks done')
  t.equal(await count(pool, 'SELECT * FROM messages'), 6, 'every post stored once')
  const location = answers[0].headers.location as string
  t.equal((await app.inject({ method: 'GET', url: location, headers: user.auth })).statusCode, 201)
})

t.test('without Prefer, a post or an edit answers 202 with its Location even when the task has already ended', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)
  const { rows: [message] } = await pool.query<{ id: number }>("INSERT INTO messages (source, html, user_id) VALUES ('m', '<p>m</p>', $1) RETURNING id", [user.id])
  // A task that is finished the moment it is queued: the fastest worker there could be.
  await pool.query(`CREATE FUNCTION finish_at_once() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.status := 'done'; NEW.response_status := 201; NEW.response_body := '{"id": 1}'; RETURN NEW; END $$`)
  await pool.query('CREATE TRIGGER finish_at_once BEFORE INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION finish_at_once()')
  for (const [method, url] of [['POST', '/api/messages'], ['PUT', `/api/messages/${message.id}`]] as const) {
    const res = await app.inject({ method, url, headers: user.auth, payload: { source: 'fast' } })
    t.equal(res.statusCode, 202, `${method} ${url}: ${res.body}`)
    t.match(res.headers.location, /^\/api\/tasks\//)
    t.same(res.json(), { status: 'queued' })
  }
})

t.test('property: with a worker running, every post and edit without Prefer answers 202 with a Location', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  await buildTestWorker(t)
  const user = await createUser(app)
  const { rows: [message] } = await pool.query<{ id: number }>("INSERT INTO messages (source, html, user_id) VALUES ('m', '<p>m</p>', $1) RETURNING id", [user.id])
  const statuses = new Map<number, number>()
  for (let batch = 0; batch < 20; batch++) {
    const answers = await Promise.all(Array.from({ length: 15 }, (_, i) => app.inject(i % 5 === 4
      ? { method: 'PUT', url: `/api/messages/${message.id}`, headers: user.auth, payload: { source: `edit ${batch}.${i}` } }
      : { method: 'POST', url: '/api/messages', headers: user.auth, payload: { source: `post ${batch}.${i}` } })))
    for (const res of answers) {
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      if (res.statusCode === 202 && typeof res.headers.location !== 'string') t.fail('202 without a Location')
    }
    // Let the worker catch up, so later posts race a worker that is idle and quick.
    await waitFor(async () => await count(pool, "SELECT * FROM tasks WHERE status = 'queued'") === 0, 15000, 'the queue drained')
  }
  t.same(Object.fromEntries(statuses), { 202: 300 }, '300 answers, all 202')
})
