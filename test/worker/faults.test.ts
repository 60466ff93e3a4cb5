import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { resolve } from 'node:path'
import pg from 'pg'
import { buildTestApi, createUser, testEnv, TEST_SECRET, count, testPool, waitFor } from '../helper'
import { buildApi } from '../../services/api/app'
import { buildWorker } from '../../services/worker/app'
import { startEmbeddedPostgres } from '../../lib/embedded-postgres'
import { migrate } from '../../lib/migrations'
import type { ConfigInput } from '../../plugins/config'

import { PUBLISH_LOCK } from '../../lib/queries/events'
const FIXTURE = resolve(__dirname, 'fixtures', 'worker-process.ts')

// Quick heartbeats, so a restarted worker takes a dead one's jobs over sooner (test/faults/ uses the defaults).
const HEARTBEAT = { intervalMs: 250, deadAfterMs: 1500 }

async function startWorkerProcess (env: object): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(env), JSON.stringify(HEARTBEAT)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString() })
  await waitFor(async () => out.includes('ready') || child.exitCode !== null, 20000, 'the worker process')
  if (child.exitCode !== null) throw new Error('worker process failed to start')
  return child
}

// Starts a worker process and waits until its post job blocks on a lock the `locker` session holds;
// returns the process and the blocked backend's pid (pg_locks spans the server: other tests wait too).
async function startBlockedWorker (t: Test, env: object, pool: pg.Pool, locker: pg.PoolClient): Promise<{ child: ChildProcess, blocked: number }> {
  const { rows: [{ pid: lockerPid }] } = await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  const child = await startWorkerProcess(env)
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const blocked = await waitFor(async () => {
    const { rows } = await pool.query<{ pid: number }>('SELECT pid FROM pg_locks WHERE NOT granted AND $1 = ANY(pg_blocking_pids(pid))', [lockerPid])
    return rows[0]?.pid
  }, 20000, 'the job to block mid-transaction')
  return { child, blocked }
}

// SIGKILLs the worker, lets `unblock` free its lock, then waits until PostgreSQL ends the orphaned backend.
async function killWorker (child: ChildProcess, blocked: number, pool: pg.Pool, unblock: () => Promise<void>): Promise<void> {
  child.kill('SIGKILL')
  await once(child, 'exit')
  await unblock()
  await waitFor(async () => await count(pool, 'SELECT 1 FROM pg_stat_activity WHERE pid = $1', [blocked]) === 0, 20000, 'the orphaned transaction to end')
}

// Starts a new worker process after a crash, with no manual step: the new worker releases the
// post jobs the dead one still holds (its heartbeat stopped); returns how many it held.
async function restartWorker (t: Test, env: ConfigInput, pool: pg.Pool): Promise<number> {
  const held = await count(pool, "SELECT 1 FROM graphile_worker.jobs WHERE task_identifier = 'post_message' AND locked_by IS NOT NULL")
  const restarted = await startWorkerProcess(env)
  t.teardown(async () => { if (restarted.exitCode === null) { restarted.kill('SIGTERM'); await once(restarted, 'exit') } })
  return held
}

t.test('a worker SIGKILLed in the middle of a post job: after a restart, one message and the final response', async (t) => {
  const env = await testEnv(t)
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)

  // Hold the task's row: the job's transaction has begun and blocks on it, before it could send its COMMIT.
  const posted = await app.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload: { source: 'survives a crash' } })
  t.equal(posted.statusCode, 202)
  const taskId = String(posted.headers.location).split('/').pop()
  const locker = await pool.connect()
  await locker.query('BEGIN')
  await locker.query('SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE', [taskId])
  const { child, blocked } = await startBlockedWorker(t, env, pool, locker)
  t.equal(await count(pool, "SELECT 1 FROM messages WHERE source = 'survives a crash'"), 0, 'nothing committed yet')

  // The dead worker's transaction is rolled back by PostgreSQL once its connection is found gone.
  await killWorker(child, blocked, pool, async () => {
    await locker.query('ROLLBACK')
    locker.release()
  })
  t.equal(await count(pool, "SELECT 1 FROM messages WHERE source = 'survives a crash'"), 0, 'the half-done post left nothing behind')
  const pending = await app.inject({ method: 'GET', url: posted.headers.location as string, headers: user.auth })
  t.equal(pending.statusCode, 202, 'the task is still pending')

  t.equal(await restartWorker(t, env, pool), 1, 'the job was still locked by the killed worker')
  const final = await waitFor(async () => {
    const res = await app.inject({ method: 'GET', url: posted.headers.location as string, headers: { ...user.auth, prefer: 'wait=5' } })
    return res.statusCode === 202 ? null : res
  }, 20000, 'the released job to run')
  t.equal(final.statusCode, 201)
  t.equal(final.json().source, 'survives a crash')
  t.equal(await count(pool, "SELECT 1 FROM messages WHERE source = 'survives a crash'"), 1, 'exactly one message')
  t.equal(await count(pool, "SELECT 1 FROM events WHERE class = 'Message' AND model->>'source' = 'survives a crash'"), 1, 'exactly one event')
})

t.test('a worker SIGKILLed with its COMMIT already sent: the post lands whole or not at all, then exactly once', async (t) => {
  const env = await testEnv(t)
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)
  const source = 'committed on the wire'

  // Hold the publish lock: the batch's last step (events insert, then COMMIT, pipelined together) waits on it.
  const locker = await pool.connect()
  await locker.query('SELECT pg_advisory_lock($1)', [PUBLISH_LOCK])
  const posted = await app.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload: { source } })
  t.equal(posted.statusCode, 202)
  const { child, blocked } = await startBlockedWorker(t, env, pool, locker)
  await killWorker(child, blocked, pool, async () => {
    await locker.query('SELECT pg_advisory_unlock($1)', [PUBLISH_LOCK])
    locker.release()
  })

  // The COMMIT may run after its client is gone; either way nothing is half-written.
  const messages = await count(pool, 'SELECT 1 FROM messages WHERE source = $1', [source])
  const done = await count(pool, "SELECT 1 FROM tasks WHERE status = 'done'")
  const events = await count(pool, "SELECT 1 FROM events WHERE class = 'Message' AND model->>'source' = $1", [source])
  t.comment(`the dead worker's COMMIT ${messages === 1 ? 'ran' : 'did not run'}`)
  t.ok(messages <= 1, 'at most one message')
  t.same([done, events], [messages, messages], 'the task and the event committed with the message, or none of them')

  await restartWorker(t, env, pool)
  await waitFor(async () => await count(pool, "SELECT 1 FROM graphile_worker.jobs WHERE task_identifier = 'post_message'") === 0, 20000, 'the job to run again')
  const final = await app.inject({ method: 'GET', url: posted.headers.location as string, headers: user.auth })
  t.equal(final.statusCode, 201)
  t.equal(await count(pool, 'SELECT 1 FROM messages WHERE source = $1', [source]), 1, 'exactly one message')
  t.equal(await count(pool, "SELECT 1 FROM events WHERE class = 'Message' AND model->>'source' = $1", [source]), 1, 'exactly one event')
})

t.test('database down: /readyz answers 503 and requests fail fast with a clear error; both recover', async (t) => {
  const port = 5451
  const server = await startEmbeddedPostgres({ dir: `.data/test-fault-postgres-${port}`, port, ephemeral: true })
  let running = true
  t.teardown(async () => { if (running) await server.stop() })
  const admin = new pg.Client({ connectionString: server.url('postgres') })
  await admin.connect()
  await admin.query('DROP DATABASE IF EXISTS flack_fault WITH (FORCE)')
  await admin.query('CREATE DATABASE flack_fault')
  await admin.end()
  await migrate(server.url('flack_fault'))
  const env = { DATABASE_URL: server.url('flack_fault'), JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', NODE_ENV: 'test' }
  const app = await buildApi({ env })
  t.teardown(() => app.close())
  await app.ready()
  const worker = buildWorker({ env })
  t.teardown(() => worker.close())
  await worker.start()
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  const user = await createUser(app)

  await server.stop()
  running = false
  let started = Date.now()
  const down = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(down.statusCode, 503)
  t.same(down.json(), { status: 'database unavailable' })
  t.ok(Date.now() - started < 5000, 'no hang')
  started = Date.now()
  const post = await app.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload: { source: 'while down' } })
  t.equal(post.statusCode, 503)
  t.same(post.json(), { error: 'Service temporarily unavailable' })
  t.ok(Date.now() - started < 5000, 'no hang')

  const again = await startEmbeddedPostgres({ dir: `.data/test-fault-postgres-${port}`, port, ephemeral: true })
  running = true
  t.teardown(() => again.stop())
  await waitFor(async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200, 20000, 'readiness')
  const res = await app.inject({ method: 'POST', url: '/api/messages', headers: { ...user.auth, prefer: 'wait=10' }, payload: { source: 'after the outage' } })
  t.equal(res.statusCode, 201, 'the API, its task listener and the worker recovered')
  t.equal(res.json().html, 'after the outage')
})
