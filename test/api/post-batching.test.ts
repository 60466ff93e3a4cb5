import t from 'tap'
import fc from 'fast-check'
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { buildApi } from '../../services/api/app'
import { buildTestApi, createUser, testPool, type TestUser } from '../helper'
import { createRoom } from '../rooms/helper'
import { ownPostgres } from '../faults/helper'
import { embeddedTestPort } from '../ops/processes'
import { queuePostMessage } from '../../lib/tasks'
import { taskBatcher } from '../../lib/task-batcher'
import { newTask } from '../../lib/queries/tasks'

// Rule (issue 14): the api commits the posts queued at the same moment together (lib/task-batcher.ts),
// and still answers each one alone: a 202 only once its task and job are committed, a 404 with
// nothing queued for a room the poster may not read, a failure for the post that fails and no other.

// Each task id with its job's count, for the given task ids.
async function jobsOf (pool: pg.Pool, taskIds: string[]): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ id: string, n: number }>(
    "SELECT payload->>'taskId' AS id, count(*)::int AS n FROM graphile_worker._private_jobs WHERE payload->>'taskId' = ANY($1) GROUP BY 1", [taskIds])
  return new Map(rows.map((r) => [r.id, r.n]))
}

const taskOf = (location: string | undefined): string => String(location).split('/').pop()!

t.test('concurrent posts: every 202 has its task and job committed; a post into a private room of others is a 404 with nothing queued', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const users = [await createUser(app), await createUser(app), await createUser(app)]
  const owner = users[0]
  const secret = await createRoom(app, owner, `secret-${randomUUID().slice(0, 8)}`, true)
  // Seeded: the same posts on every run; each a user, a room (general or the private one) and a source.
  const plan = fc.sample(fc.record({ user: fc.nat({ max: users.length - 1 }), secret: fc.boolean(), wait: fc.boolean() }), { seed: 14, numRuns: 300 })
  const answers = await Promise.all(plan.map(async (p, i) => {
    const user: TestUser = users[p.user]
    const res = await app.inject({
      method: 'POST',
      url: p.secret ? `/api/rooms/${secret.id}/messages` : '/api/messages',
      headers: { ...user.auth, ...(p.wait ? { prefer: 'wait=0' } : {}) },
      payload: { source: `post ${i}` },
    })
    return { ...p, i, status: res.statusCode, task: res.headers.location === undefined ? null : taskOf(res.headers.location as string) }
  }))
  for (const a of answers) {
    const expected = a.secret && a.user !== 0 ? 404 : 202
    if (a.status !== expected) t.fail(`post ${a.i} (user ${a.user}, ${a.secret ? 'private room' : 'general'}) answered ${a.status}, not ${expected}`)
  }
  const accepted = answers.filter((a) => a.status === 202).map((a) => a.task!)
  const jobs = await jobsOf(pool, accepted)
  t.ok(accepted.every((id) => jobs.get(id) === 1), `each of the ${accepted.length} accepted posts has exactly one job`)
  const { rows } = await pool.query<{ id: string }>("SELECT id FROM tasks WHERE kind = 'post_message'")
  t.same(rows.map((r) => r.id).sort(), [...accepted].sort(), 'the tasks are exactly the accepted posts: nothing queued for a refused one')
})

t.test('one user\'s posts keep their order: one after another, and within one batch', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)
  const ids: string[] = []
  for (let i = 0; i < 20; i++) {
    // Others post at the same moment, so each of these lands in a batch with them.
    const [mine] = await Promise.all([
      app.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload: { source: `mine ${i}` } }),
      ...Array.from({ length: 5 }, () => queuePostMessage(app.pg, user.id, 'noise')),
    ])
    ids.push(taskOf(mine.headers.location as string))
  }
  // Queued in one tick: one batch.
  const together = Array.from({ length: 100 }, (_, i) => newTask(user.id, 'post_message', null, { source: `together ${i}`, roomId: 1 }))
  await Promise.all(together.map((task) => taskBatcher(app.pg).queue(task)))
  const order = async (taskIds: string[]): Promise<string[]> => (await pool.query<{ id: string }>(
    "SELECT j.payload->>'taskId' AS id FROM graphile_worker._private_jobs j WHERE j.payload->>'taskId' = ANY($1) ORDER BY j.run_at, j.id", [taskIds])).rows.map((r) => r.id)
  t.same(await order(ids), ids, 'posts made one after another are picked up in that order')
  t.same(await order(together.map((task) => task.id)), together.map((task) => task.id), 'a batch\'s jobs are inserted in the order queued')
})

t.test('a post the database refuses fails alone; the others of its batch are committed', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)
  // A user id that does not exist breaks the tasks' foreign key: the batch is retried one by one.
  const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => queuePostMessage(app.pg, i % 10 === 3 ? 2147483000 : user.id, `p ${i}`)))
  const refused = results.filter((r) => r.status === 'rejected')
  const done = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  t.equal(refused.length, 4, 'the four posts of the missing user fail')
  t.ok(refused.every((r) => (r as PromiseRejectedResult).reason.code === '23503'), 'with the database\'s own error')
  const jobs = await jobsOf(pool, done)
  t.equal(done.length, 36)
  t.ok(done.every((id) => jobs.get(id) === 1), 'every other post is committed with its job')
})

t.test('a PostgreSQL crash under concurrent posts loses and duplicates no accepted post', async (t) => {
  const db = await ownPostgres(t, embeddedTestPort(6), 'flack_post_batching')
  const api = await buildApi({ env: db.env })
  t.teardown(() => api.close())
  await api.ready()
  const pool = new pg.Pool({ connectionString: db.url, max: 2 })
  pool.on('error', () => {})
  t.teardown(() => pool.end())
  const user = await createUser(api)

  const accepted: string[] = []
  const answers = new Map<number, number>()
  let sent = 0
  let stopping = false
  // 30 clients posting back to back until told to stop.
  const client = async (): Promise<void> => {
    while (!stopping) {
      const source = `load ${sent++}`
      const res = await api.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload: { source } })
      answers.set(res.statusCode, (answers.get(res.statusCode) ?? 0) + 1)
      if (res.statusCode === 202) accepted.push(taskOf(res.headers.location as string))
      else await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  const clients = Array.from({ length: 30 }, client)
  const acceptedBy = async (n: number): Promise<void> => { while (accepted.length < n) await new Promise((resolve) => setTimeout(resolve, 20)) }
  await acceptedBy(300)
  await db.restart('SIGQUIT', 1000)
  const before = accepted.length
  await acceptedBy(before + 300)
  stopping = true
  await Promise.all(clients)

  const jobs = await jobsOf(pool, accepted)
  t.ok(accepted.every((id) => jobs.get(id) === 1), `each of the ${accepted.length} accepted posts has its task's one job after the crash`)
  const { rows } = await pool.query<{ n: number, sources: number }>(
    "SELECT count(*)::int AS n, count(DISTINCT payload->>'source')::int AS sources FROM graphile_worker._private_jobs")
  t.equal(rows[0].n, rows[0].sources, 'no post queued twice')
  t.ok(rows[0].n >= accepted.length && rows[0].n <= sent, 'the queued posts are the accepted ones, and perhaps some answered during the crash')
  t.ok((answers.get(503) ?? 0) + (answers.get(500) ?? 0) > 0 || before < accepted.length, 'the crash was met under load')
  t.comment(`${sent} posts: ${[...answers].map(([s, n]) => `${n} x ${s}`).join(', ')}`)
})
