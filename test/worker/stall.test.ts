import t, { type Test } from 'tap'
import pg from 'pg'
import { testEnv, waitFor } from '../helper'
import { buildTestWorker } from './helper'

// Rule: the worker replaces its runner when a job has waited, runnable, for the stall time (5 s), or
// sat locked by the runner's own pool that long, with no job running or started meanwhile (a stuck
// runner); never because a healthy, idle runner took a job that fell due a little late (its poll, a
// busy machine, a row held for a moment).
const STALL_MS = 5000

// A worker with one task and no recurring jobs, idle for longer than the stall time; then one job,
// which falls due while another transaction holds its row for `holdMs` (the runner skips held rows);
// once the row is free, the runner is woken as graphile-worker's own inserts wake it.
async function dueJobHeld (t: Test, task: string, holdMs: number): Promise<{ restarts: number, ran: number }> {
  let ran = 0
  const worker = await buildTestWorker(t, {}, { tasks: { [task]: async () => { ran++ } } })
  await new Promise((resolve) => setTimeout(resolve, STALL_MS + 500))
  const client = new pg.Client({ connectionString: String((await testEnv(t)).DATABASE_URL) })
  await client.connect()
  t.teardown(() => client.end())
  const { rows: [{ id }] } = await client.query<{ id: string }>("SELECT (graphile_worker.add_job($1, '{}'::json, run_at => now() + interval '1 second')).id", [task])
  await client.query('BEGIN')
  await client.query('SELECT 1 FROM graphile_worker._private_jobs WHERE id = $1 FOR UPDATE', [id])
  await new Promise((resolve) => setTimeout(resolve, 1000 + holdMs))
  await client.query('ROLLBACK')
  await client.query(`SELECT pg_notify('jobs:insert', '{"count": 1}')`)
  await waitFor(async () => ran > 0, 15000, `the ${task} job to run`)
  return { restarts: worker.health().restarts, ran }
}

t.test('an idle runner that takes a due job 2.5 s late is left running', async (t) => {
  const { restarts, ran } = await dueJobHeld(t, 'stall_probe_late', 2500)
  t.equal(ran, 1, 'the job ran once')
  t.equal(restarts, 0, 'no restart')
})

t.test('a job left waiting past the stall time gets a new runner, and runs once', async (t) => {
  const { restarts, ran } = await dueJobHeld(t, 'stall_probe_stuck', STALL_MS + 2000)
  t.equal(ran, 1, 'the job ran once')
  t.ok(restarts >= 1, `${restarts} restart(s)`)
})

// A local queue that holds a job without handing it to a worker: the job is locked by the live pool
// (as graphile-worker's fetch leaves it) and never starts.
t.test('a job its own pool has held unstarted past the stall time gets a new runner, and runs once', async (t) => {
  let ran = 0
  const worker = await buildTestWorker(t, {}, { tasks: { stall_probe_held: async () => { ran++ } } })
  const pool = new pg.Pool({ connectionString: String((await testEnv(t)).DATABASE_URL), max: 1 })
  t.teardown(() => pool.end())
  const poolId = await waitFor(async () => (await pool.query<{ id: string }>('SELECT pool_ids[1] AS id FROM worker_instances WHERE cardinality(pool_ids) > 0')).rows[0]?.id, 5000, 'the runner\'s pool')
  await new Promise((resolve) => setTimeout(resolve, STALL_MS + 500))
  const { rows: [{ id }] } = await pool.query<{ id: string }>("SELECT (graphile_worker.add_job('stall_probe_held', '{}'::json, run_at => now() + interval '1 hour')).id")
  const held = await pool.query('UPDATE graphile_worker._private_jobs SET locked_by = $1, locked_at = now(), run_at = now(), attempts = 1 WHERE id = $2', [poolId, id])
  t.equal(held.rowCount, 1, 'the job is locked by the live pool')
  await waitFor(async () => ran > 0, 20000, 'the held job to run')
  t.equal(ran, 1, 'the job ran once')
  t.ok(worker.health().restarts >= 1, `${worker.health().restarts} restart(s)`)
})
