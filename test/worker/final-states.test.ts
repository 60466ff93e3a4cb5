import t from 'tap'
import fc from 'fast-check'
import { randomUUID } from 'node:crypto'
import { buildTestApi, createUser, count, eventually, testPool, waitFor, type TestUser } from '../helper'
import { buildTestWorker, refuseMessage } from './helper'
import { queueEditMessage, queuePostMessage } from '../../lib/tasks'
import type { FastifyInstance } from 'fastify'

// Hostile sources: deep nesting of every kind, mixed, huge tables, long lines, odd characters.
const unit = fc.constantFrom('>', '> ', '- ', '* ', '+ ', '1. ', '2) ', '*', '**', '_', '~~', '**a ', ' a**', '> - ', '[a', '](x)', '|', '| a ', '|---',
  '\n', '  ', '`', '<b>', 'x.com ', 'a@b.co ', 'word ', '\u202e', '😀', '&#x0;')
const hostile = fc.oneof(
  fc.tuple(unit, fc.integer({ min: 1, max: 2000 })).map(([u, n]) => u.repeat(n)),
  fc.array(fc.tuple(unit, fc.integer({ min: 1, max: 400 })).map(([u, n]) => u.repeat(n)), { minLength: 1, maxLength: 8 }).map((p) => p.join('')),
  fc.integer({ min: 2, max: 60 }).map((cols) => `|${' a |'.repeat(cols)}\n|${'---|'.repeat(cols)}\n` + `|${' x |'.repeat(cols)}\n`.repeat(20)),
  fc.string({ minLength: 1, maxLength: 300 }),
).map((s) => s.slice(0, 4000))

interface Final { status: number, body: unknown }

// The task's answer once it has ended (never 202 again), checked to be a final response.
async function finalAnswer (app: FastifyInstance, user: TestUser, location: string, ms: number): Promise<Final> {
  return await waitFor(async () => {
    const res = await app.inject({ method: 'GET', url: location, headers: user.auth })
    if (res.statusCode === 202) return null
    return { status: res.statusCode, body: res.body === '' ? null : res.json() }
  }, ms, `the task ${location} to end`)
}

function isErrorForm (body: unknown): boolean {
  return typeof body === 'object' && body !== null && Object.keys(body).length === 1 && typeof (body as { error?: unknown }).error === 'string'
}

t.test('rule: every post and edit the api accepts reaches a final state; what it refuses is a 400 and queues nothing', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)
  await buildTestWorker(t)
  const first = await app.inject({ method: 'POST', url: '/api/messages', headers: { ...user.auth, prefer: 'wait=10' }, payload: { source: 'to edit' } })
  t.equal(first.statusCode, 201)
  const messageId = first.json().id as number

  const sources = fc.sample(hostile, { numRuns: 160, seed: 7 })
  const accepted: string[] = []
  let refused = 0
  for (const [i, source] of sources.entries()) {
    const tasksBefore = await count(pool, 'SELECT 1 FROM tasks')
    const res = i % 4 === 3
      ? await app.inject({ method: 'PUT', url: `/api/messages/${messageId}`, headers: user.auth, payload: { source } })
      : await app.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload: { source } })
    if (res.statusCode === 202) {
      accepted.push(res.headers.location as string)
    } else if (res.statusCode === 201 || res.statusCode === 204) {
      accepted.push('') // ended before the answer was read (issue 12, #14): final already
    } else {
      t.equal(res.statusCode, 400, `refused with 400: ${JSON.stringify(source.slice(0, 30))}`)
      t.ok(isErrorForm(res.json()), 'in the one error form')
      t.equal(await count(pool, 'SELECT 1 FROM tasks'), tasksBefore, 'nothing queued')
      refused++
    }
  }
  t.ok(accepted.length > 40 && refused > 20, `${accepted.length} accepted, ${refused} refused`)
  for (const location of accepted.filter((l) => l !== '')) {
    const final = await finalAnswer(app, user, location, 20000)
    if (![201, 204].includes(final.status)) t.fail(`task ended in ${final.status}: ${JSON.stringify(final.body)}`)
  }
  t.equal(await count(pool, "SELECT 1 FROM tasks WHERE status = 'queued'"), 0, 'no task left queued')
})

t.test('rule: a job that fails, whatever it does, ends its task: at once when no retry can help, after its attempts otherwise', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)
  const { rows: [{ id: messageId }] } = await pool.query("INSERT INTO messages (source, html, user_id) VALUES ('m', 'm', $1) RETURNING id", [user.id])
  await refuseMessage(pool, 'refused by the database')
  const started = Date.now()

  // Queued by an older version or another writer, past the api's checks: sources too deep to render.
  const deep = ['>'.repeat(3999) + 'a', '- '.repeat(1999) + 'a', '*'.repeat(1999) + 'a' + '*'.repeat(1999), '1. '.repeat(1333)]
  const tooDeep = [
    ...await Promise.all(deep.map((source) => queuePostMessage(pool, user.id, source))),
    ...await Promise.all(deep.map((source) => queueEditMessage(pool, user.id, messageId, source))),
  ]
  // Poisoned payloads that still name their task.
  const poisoned: string[] = []
  for (const payload of [{ source: 42 }, { source: null }, {}, { source: 'x', messageId: 'nope' }]) {
    const taskId = randomUUID()
    const kind = 'messageId' in payload ? 'edit_message' : 'post_message'
    await pool.query("INSERT INTO tasks (id, user_id, kind) VALUES ($1, $2, $3)", [taskId, user.id, kind])
    await pool.query('SELECT graphile_worker.add_job($1, $2::json, max_attempts => 5)', [kind, JSON.stringify({ taskId, ...payload })])
    poisoned.push(taskId)
  }
  // A post the database refuses on every attempt (two attempts here, to keep the test short).
  const refusedTask = await queuePostMessage(pool, user.id, 'refused by the database')
  await pool.query("UPDATE graphile_worker._private_jobs SET max_attempts = 2 WHERE payload->>'taskId' = $1", [refusedTask])
  // Jobs already gone, or out of attempts, with their task still queued (a crash, an operator, a bug).
  const stranded = randomUUID()
  await pool.query("INSERT INTO tasks (id, user_id, kind) VALUES ($1, $2, 'post_message')", [stranded, user.id])
  const exhausted = await queuePostMessage(pool, user.id, 'never runs')
  await pool.query("UPDATE graphile_worker._private_jobs SET attempts = max_attempts WHERE payload->>'taskId' = $1", [exhausted])

  await buildTestWorker(t)
  const answer = async (taskId: string, ms: number): Promise<Final> => await finalAnswer(app, user, `/api/tasks/${taskId}`, ms)
  for (const taskId of tooDeep) {
    const final = await answer(taskId, 10000)
    t.equal(final.status, 400, 'too deep to render: 400')
    t.match(final.body, { error: /nest at most/ })
  }
  t.ok(Date.now() - started < 15000, 'without waiting for retries')
  // The task ends inside the job, just before the worker marks that job done: wait only for jobs still running (no error yet).
  await eventually(async () => await count(pool, "SELECT 1 FROM graphile_worker._private_jobs WHERE payload->>'taskId' = ANY($1) AND last_error IS NULL", [tooDeep]) === 0)
  t.equal(await count(pool, "SELECT 1 FROM graphile_worker._private_jobs WHERE payload->>'taskId' = ANY($1)", [tooDeep]), 0, 'their jobs completed, none left to retry')
  for (const taskId of poisoned) t.same(await answer(taskId, 10000), { status: 500, body: { error: 'The task failed' } }, 'poisoned payload: 500')
  t.same(await answer(refusedTask, 20000), { status: 500, body: { error: 'The task failed' } }, 'refused on every attempt: 500 after the last')
  t.same(await answer(stranded, 20000), { status: 500, body: { error: 'The task failed' } }, 'job gone: ended by the sweep')
  t.same(await answer(exhausted, 20000), { status: 500, body: { error: 'The task failed' } }, 'out of attempts: ended by the sweep')
  t.equal(await count(pool, "SELECT 1 FROM tasks WHERE status = 'queued'"), 0, 'no task left queued')
  t.equal(await count(pool, 'SELECT 1 FROM messages'), 1, 'nothing stored but the first message')
})
