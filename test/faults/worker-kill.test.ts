import t from 'tap'
import { buildTestApi, count, createUser, testEnv, testPool, waitFor } from '../helper'
import { buildTestWorker } from '../worker/helper'
import { storedCounts, workerProcess } from './helper'

import { PUBLISH_LOCK } from '../../lib/queries/events'
const POSTS = 150

// Rule (issue 12 #11): the jobs a SIGKILLed worker held locked, its full local queue included, are
// released by a live worker within seconds, with no operator: every accepted post is stored within 15 s.
t.test('a worker SIGKILLed with a full local queue: a live worker takes its jobs over, every post stored once', async (t) => {
  const env = await testEnv(t)
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)

  // Every post's last step waits on the publish lock: the doomed worker locks jobs and holds them.
  const locker = await pool.connect()
  await locker.query('SELECT pg_advisory_lock($1)', [PUBLISH_LOCK])
  let locked = true
  t.teardown(async () => {
    if (locked) await locker.query('SELECT pg_advisory_unlock($1)', [PUBLISH_LOCK])
    locker.release()
  })
  const sources: string[] = []
  for (let i = 0; i < POSTS; i++) {
    const res = await app.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload: { source: `kill ${i}` } })
    t.equal(res.statusCode, 202)
    sources.push(`kill ${i}`)
  }
  const doomed = await workerProcess(t, { ...env, WORKER_CONCURRENCY: 4, WORKER_LOCAL_QUEUE_SIZE: 64 })
  const held = await waitFor(async () => {
    const n = await count(pool, 'SELECT 1 FROM graphile_worker._private_jobs WHERE locked_by IS NOT NULL')
    return n >= 64 ? n : null
  }, 10000, 'the doomed worker to fill its local queue')
  const { rows: [{ pools }] } = await pool.query<{ pools: string[] }>('SELECT array_agg(DISTINCT locked_by) AS pools FROM graphile_worker._private_jobs WHERE locked_by IS NOT NULL')
  t.equal(pools.length, 1, 'one pool holds them')

  await buildTestWorker(t)
  doomed.kill('SIGKILL')
  const killedAt = Date.now()
  await locker.query('SELECT pg_advisory_unlock($1)', [PUBLISH_LOCK])
  locked = false

  await waitFor(async () => {
    const counts = await storedCounts(pool, sources)
    return sources.every((s) => counts.get(s) === 1) || null
  }, 15000, 'every post stored')
  const recovery = Date.now() - killedAt
  const counts = await storedCounts(pool, sources)
  t.ok(sources.every((s) => counts.get(s) === 1), `each of the ${POSTS} posts stored exactly once`)
  t.equal(await count(pool, 'SELECT 1 FROM graphile_worker._private_jobs WHERE locked_by = ANY($1)', [pools]), 0, 'nothing left locked by the dead worker')
  t.equal(await count(pool, "SELECT 1 FROM tasks WHERE status = 'queued'"), 0, 'every task ended')
  t.comment(`the killed worker held ${held} jobs; all ${POSTS} posts stored ${recovery} ms after the kill`)
})
