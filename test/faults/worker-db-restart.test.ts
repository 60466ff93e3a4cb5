import t from 'tap'
import pg from 'pg'
import { buildApi } from '../../services/api/app'
import { createUser, waitFor } from '../helper'
import { ownPostgres, storedCounts, workerProcess } from './helper'

const PORT = 5480
const RATE = 120 // posts per second
const LOAD_MS = 10000

// Rule (issue 12 #10): the worker rides out PostgreSQL restarts under load (a fast shutdown, and a
// crash with seconds of outage): its process stays up, it stores again once the database is back, and every post
// accepted with 202 is stored exactly once in the end, with no operator.
t.test('the worker survives PostgreSQL restarts under load; every accepted post is stored exactly once', async (t) => {
  const db = await ownPostgres(t, PORT, 'flack_worker_restart')
  const api = await buildApi({ env: db.env })
  t.teardown(() => api.close())
  await api.ready()
  const worker = await workerProcess(t, { ...db.env, LOG_LEVEL: process.env.FAULT_LOG ?? 'silent' })
  const pool = new pg.Pool({ connectionString: db.url, max: 2 })
  pool.on('error', () => {})
  t.teardown(() => pool.end())
  const user = await createUser(api)

  const accepted: string[] = []
  const other: string[] = []
  const answers = new Map<number, number>()
  let sent = 0
  const inFlight = new Set<Promise<void>>()
  const post = (source: string): void => {
    const done = api.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload: { source } }).then((res) => {
      answers.set(res.statusCode, (answers.get(res.statusCode) ?? 0) + 1)
      ;(res.statusCode === 202 || res.statusCode === 201 ? accepted : other).push(source)
    }, () => { other.push(source) }).finally(() => inFlight.delete(done))
    inFlight.add(done)
  }
  const started = Date.now()
  const load = (async () => {
    // Paced in 25 ms ticks, catching up after a slow tick, for LOAD_MS.
    while (Date.now() - started < LOAD_MS) {
      const due = Math.floor((Date.now() - started) * RATE / 1000)
      while (sent < due) post(`load ${sent++}`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    await Promise.all([...inFlight])
  })()

  // Stored count, read through the restarts (null while the database is down).
  const stored = async (): Promise<number | null> => {
    try { return (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM messages')).rows[0].n } catch { return null }
  }
  const recoveries: string[] = []
  // A fast restart, then a crash with 2 s of outage before the database is back.
  for (const [at, signal, outage] of [[2000, 'SIGINT', 0], [5000, 'SIGQUIT', 2000]] as const) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + at - Date.now())))
    const { downMs } = await db.restart(signal, outage)
    const up = Date.now()
    const before = await waitFor(stored, 10000, 'the database back')
    await waitFor(async () => ((await stored()) ?? 0) > before, 15000, 'a message stored after the restart').catch(async (err) => {
      const jobs = await pool.query("SELECT k.identifier AS task, j.locked_by, count(*)::int AS n, max(j.attempts) AS a, min(j.run_at) AS r, min(j.locked_at) AS l FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks k ON k.id = j.task_id GROUP BY 1, 2")
      const instances = await pool.query('SELECT pool_ids, heartbeat_at FROM worker_instances')
      t.comment(JSON.stringify({ answers: [...answers], jobs: jobs.rows, instances: instances.rows, now: new Date() }))
      throw err
    })
    recoveries.push(`${signal === 'SIGINT' ? 'fast' : 'immediate'} restart: down ${downMs} ms, storing again ${Date.now() - up} ms after it was back`)
    t.equal(worker.exitCode, null, `the worker process is still running after the ${signal === 'SIGINT' ? 'fast' : 'immediate'} restart`)
  }
  await load

  const drainStart = Date.now()
  await waitFor(async () => {
    const counts = await storedCounts(pool, accepted)
    return accepted.every((s) => counts.get(s) === 1) || null
  }, 20000, 'every accepted post stored').catch(async (err) => {
    const jobs = await pool.query("SELECT k.identifier AS task, j.locked_by, count(*)::int AS n, max(j.attempts) AS a, min(j.run_at) AS r, min(j.locked_at) AS l FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks k ON k.id = j.task_id GROUP BY 1, 2")
    const instances = await pool.query('SELECT pool_ids, heartbeat_at FROM worker_instances')
    t.comment(JSON.stringify({ answers: [...answers], jobs: jobs.rows, instances: instances.rows, now: new Date(), exit: worker.exitCode }))
    throw err
  })
  const counts = await storedCounts(pool, [...accepted, ...other])
  t.ok(accepted.every((s) => counts.get(s) === 1), `each of the ${accepted.length} accepted posts stored exactly once`)
  t.ok(other.every((s) => (counts.get(s) ?? 0) <= 1), 'a post answered otherwise is stored at most once')
  t.equal(worker.exitCode, null, 'the worker process is still running')
  t.equal(worker.signalCode, null)
  t.ok(accepted.length > RATE * LOAD_MS / 1000 / 2, 'most posts were accepted')
  t.comment(`${sent} posts at ${RATE}/s: ${[...answers].map(([s, n]) => `${n} x ${s}`).join(', ')}`)
  for (const line of recoveries) t.comment(line)
  t.comment(`all accepted posts stored ${Date.now() - drainStart} ms after the load ended`)
})
