import t from 'tap'
import { buildTestApi, createUser, count, testPool, waitFor } from '../helper'
import { buildTestWorker, refuseMessage } from './helper'
import { queuePostMessage } from '../../lib/tasks'

t.test('posts queued together are written in batches, in order, each with its own task response', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)
  const taskIds: string[] = []
  for (let i = 0; i < 40; i++) taskIds.push(await queuePostMessage(pool, user.id, `batch ${i} *x*`))
  await buildTestWorker(t)
  await waitFor(async () => await count(pool, "SELECT 1 FROM tasks WHERE status = 'done'") === 40, 10000, 'all tasks')
  const { rows } = await pool.query<{ id: number, source: string }>("SELECT id, source FROM messages ORDER BY id")
  t.equal(rows.length, 40, 'one message per post')
  for (const taskId of taskIds) {
    const res = await app.inject({ method: 'GET', url: `/api/tasks/${taskId}`, headers: user.auth })
    t.equal(res.statusCode, 201)
    t.equal(res.headers.location, `/api/messages/${res.json().id}`)
    const task = await pool.query('SELECT message_id FROM tasks WHERE id = $1', [taskId])
    t.equal(task.rows[0].message_id, res.json().id, 'the task points at its own message')
  }
  const events = await pool.query<{ id: number }>("SELECT (model->>'id')::int AS id FROM events WHERE class = 'Message' ORDER BY seq")
  t.same(events.rows.map((e) => e.id), rows.map((r) => r.id), 'one event per message, in message order')
})

t.test('a post the database refuses fails alone; the rest of its batch is written', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)
  await refuseMessage(pool, 'bad')
  const sources = ['one', 'two', 'bad', 'three', 'four']
  for (const source of sources) await queuePostMessage(pool, user.id, source)
  await pool.query('SELECT graphile_worker.reschedule_jobs(array(SELECT id FROM graphile_worker.jobs), max_attempts => 1)')
  await buildTestWorker(t)
  await waitFor(async () => await count(pool, "SELECT 1 FROM tasks WHERE status IN ('done', 'failed')") === 5, 10000, 'all tasks ended')
  const { rows } = await pool.query<{ source: string }>('SELECT source FROM messages ORDER BY id')
  t.same(rows.map((r) => r.source), ['one', 'two', 'three', 'four'])
  t.equal(await count(pool, "SELECT 1 FROM tasks WHERE status = 'failed' AND response_status = 500"), 1)
})
