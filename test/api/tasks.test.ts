import t from 'tap'
import { buildTestApi, count, createUser, testPool, waitFor } from '../helper'
import { buildTestWorker, refuseMessage } from '../worker/helper'
import { preferredWait } from '../../services/api/routes/tasks'
import { queuePostMessage, validateMessageSource } from '../../lib/tasks'
import { inTransaction } from '../../lib/db'

t.test('Prefer header parsing', async (t) => {
  t.equal(preferredWait(undefined), null)
  t.equal(preferredWait('wait=5'), 5)
  t.equal(preferredWait('respond-async, wait=3'), 3)
  t.equal(preferredWait('wait=99'), 10, 'capped at 10')
  t.equal(preferredWait('handling=lenient'), null)
  t.equal(preferredWait('wait=abc'), null)
})

t.test('validateMessageSource (shared with the push service)', async (t) => {
  t.equal(validateMessageSource('hi', 10), 'hi')
  for (const bad of [undefined, null, 3, '', '  ', 'x'.repeat(11), 'a\u0000b']) {
    let status: number | undefined
    try { validateMessageSource(bad, 10) } catch (err) { status = (err as { statusCode?: number }).statusCode }
    t.equal(status, 400, JSON.stringify(bad))
  }
})

t.test('GET /api/tasks/:id: 401, 404 unknown, 404 for someone else\'s task', async (t) => {
  const app = await buildTestApi(t)
  const alice = await createUser(app)
  const bob = await createUser(app)
  const posted = await app.inject({ method: 'POST', url: '/api/messages', headers: alice.auth, payload: { source: 'mine' } })
  const location = posted.headers.location as string
  t.equal((await app.inject({ method: 'GET', url: location })).statusCode, 401)
  t.equal((await app.inject({ method: 'GET', url: location, headers: bob.auth })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: location, headers: { ...bob.auth, prefer: 'wait=3' } })).statusCode, 404, 'no waiting on another user\'s task')
  t.equal((await app.inject({ method: 'GET', url: '/api/tasks/00000000-0000-4000-8000-000000000000', headers: alice.auth })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: '/api/tasks/not-a-uuid', headers: alice.auth })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: location, headers: alice.auth })).statusCode, 202)
})

t.test('Prefer: wait times out with 202, and is woken by NOTIFY when the task ends', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const posted = await app.inject({ method: 'POST', url: '/api/messages', headers: { ...user.auth, prefer: 'wait=1' }, payload: { source: 'later' } })
  t.equal(posted.statusCode, 202, 'no worker yet: still pending after the wait')
  t.equal(posted.headers['preference-applied'], 'wait=1')
  const location = posted.headers.location as string

  const started = Date.now()
  const held = app.inject({ method: 'GET', url: location, headers: { ...user.auth, prefer: 'wait=10' } })
  await new Promise((resolve) => setTimeout(resolve, 300))
  await buildTestWorker(t)
  const res = await held
  const elapsed = Date.now() - started
  t.equal(res.statusCode, 201)
  t.equal(res.json().source, 'later')
  t.ok(elapsed < 5000, `answered when the task ended (${elapsed} ms), not after the full wait`)
  t.equal(app.taskWaiter.size, 0, 'no waiter left behind')

  const capped = await app.inject({ method: 'GET', url: location, headers: { ...user.auth, prefer: 'wait=60' } })
  t.equal(capped.statusCode, 201)
  t.equal(capped.headers['preference-applied'], 'wait=10')
})

t.test('a job delivered twice creates one message (idempotent by task id)', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)
  const taskId = await queuePostMessage(pool, user.id, 'only once')
  // The same job again, twice: as if delivered more than once, even concurrently.
  for (let i = 0; i < 2; i++) {
    await pool.query(`SELECT graphile_worker.add_job('post_message', json_build_object('taskId', $1::text, 'source', 'only once'))`, [taskId])
  }
  await buildTestWorker(t)
  await waitFor(async () => await count(pool, "SELECT 1 FROM graphile_worker.jobs WHERE task_identifier = 'post_message'") === 0, 10000, 'the jobs')
  t.equal(await count(pool, "SELECT 1 FROM messages WHERE source = 'only once'"), 1)
  t.equal(await count(pool, "SELECT 1 FROM events WHERE class = 'Message' AND model->>'source' = 'only once'"), 1)
  const res = await app.inject({ method: 'GET', url: `/api/tasks/${taskId}`, headers: user.auth })
  t.equal(res.statusCode, 201)
})

t.test('a task that fails for good answers 500 with no internals', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)
  // The database refuses this one write, every time.
  await refuseMessage(pool, 'boom', 'secret internal detail')
  const posted = await app.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload: { source: 'boom' } })
  // Down to its last attempt, so the test need not sit through the retry backoff.
  // (graphile-worker's public view hides payloads; this database holds this one post job.)
  await pool.query("SELECT graphile_worker.reschedule_jobs(array(SELECT id FROM graphile_worker.jobs WHERE task_identifier = 'post_message'), max_attempts => 1)")
  await buildTestWorker(t)
  const res = await app.inject({ method: 'GET', url: posted.headers.location as string, headers: { ...user.auth, prefer: 'wait=10' } })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { error: 'The task failed' })
  t.notMatch(res.body, /secret|internal detail|boom/)
  t.equal(await count(pool, "SELECT 1 FROM messages WHERE source = 'boom'"), 0)
})

t.test('queuePostMessage also queues inside the caller\'s transaction', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const taskId = await inTransaction(app.pg, (client) => queuePostMessage(client, user.id, 'in a transaction'))
  const res = await app.inject({ method: 'GET', url: `/api/tasks/${taskId}`, headers: user.auth })
  t.equal(res.statusCode, 202)
})
