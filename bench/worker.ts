// Worker benchmarks: (a) the asynchronous post round trip (POST with Prefer: wait=5 to the final
// 201) at a steady 200 requests/s, api and worker in their own processes; (b) post_message jobs/s
// of one worker next to graphile-worker no-op jobs/s, measured in the same run.
import pg from 'pg'
import { benchDatabase } from './database'
import { pacedLoad } from './paced'
import { ms, percentile } from './stats'
import { printTable, type Row } from './table'
import { option } from './options'
import { launch, message, stop, tsx, SECRET, type Launched } from './launch'
import { buildWorker } from '../services/worker/app'

const RATE = 200
const DURATION_SECONDS = option('trip-seconds', 15)
const JOBS = option('jobs', 20000)
const WARM_UP_JOBS = Math.ceil(JOBS / 4)
const env = (url: string) => ({ DATABASE_URL: url, JWT_SECRET: SECRET, LOG_LEVEL: 'warn', NODE_ENV: 'production' })

async function child (role: string, url: string): Promise<{ process: Launched, port?: number }> {
  const proc = launch(role, [...tsx('bench/worker-process.ts'), role, url], process.env, true)
  return { process: proc, port: (await message<{ port?: number }>(proc)).port }
}

async function json (res: Response): Promise<Record<string, unknown>> { return await res.json() as Record<string, unknown> }

async function roundTrip (url: string): Promise<Record<string, number>> {
  const api = await child('api', url)
  const worker = await child('worker', url)
  try {
    const base = `http://127.0.0.1:${api.port}`
    await fetch(`${base}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname: 'bench', password: 'bench-password' }) })
    const { token } = await json(await fetch(`${base}/api/tokens`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from('bench:bench-password').toString('base64')}` } }))
    const load = (seconds: number) => pacedLoad({
      origin: base,
      path: '/api/messages',
      method: 'POST',
      headers: { authorization: `Bearer ${String(token)}`, 'content-type': 'application/json', prefer: 'wait=5' },
      body: JSON.stringify({ source: 'hello *world*! a benchmark message' }),
      rate: RATE,
      seconds,
    })
    await load(3) // warm-up
    const result = await load(DURATION_SECONDS)
    return { p50: percentile(result.latencies, 50), p99: percentile(result.latencies, 99), requests: result.sent, created: result.statuses[201] ?? 0, rate: result.sent / result.seconds }
  } finally {
    await stop(worker.process)
    await stop(api.process)
  }
}

// Jobs/s of one in-process worker draining a backlog of `JOBS` jobs, from its start (jobs queued
// in one transaction reach an already idle graphile-worker pool through a single nudge). A smaller
// drain first warms the code up, as the round trip's warm-up does.
async function drain (url: string, pool: pg.Pool, queue: (jobs: number) => string, done: string, tasks?: Record<string, () => Promise<void>>): Promise<number> {
  let rate = 0
  for (const jobs of [WARM_UP_JOBS, JOBS]) {
    // Each run starts alike: an idle, vacuumed queue (no dead rows left by the run before) gets a burst.
    await pool.query('VACUUM ANALYZE graphile_worker._private_jobs, tasks, messages, events')
    await pool.query(queue(jobs))
    const worker = buildWorker({ env: env(url), tasks })
    const started = process.hrtime.bigint()
    await worker.start()
    for (;;) {
      const { rows } = await pool.query<{ n: string }>(done)
      if (Number(rows[0].n) === 0) break
      await new Promise((r) => setTimeout(r, 20))
    }
    rate = jobs / (Number(process.hrtime.bigint() - started) / 1e9)
    await worker.close()
  }
  return rate
}

// Done when no job of the kind is left (a post's job goes once its task is stored): a cheap probe, the same for both.
const pending = (task: string): string =>
  `SELECT count(*) AS n FROM (SELECT 1 FROM graphile_worker.jobs WHERE task_identifier = '${task}' LIMIT 1) j`

async function throughput (url: string): Promise<{ post: number, noop: number }> {
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  pool.on('error', () => {})
  try {
    const { rows } = await pool.query<{ id: number }>("INSERT INTO users (nickname, password_hash) VALUES ('jobs', 'x') RETURNING id")
    const userId = rows[0].id
    const noop = await drain(url, pool,
      (jobs) => `SELECT graphile_worker.add_job('noop', json_build_object('n', n)) FROM generate_series(1, ${jobs}) n`,
      pending('noop'),
      { noop: async () => {} })
    const post = await drain(url, pool,
      (jobs) => `WITH t AS (INSERT INTO tasks (id, user_id, kind) SELECT gen_random_uuid(), ${userId}, 'post_message' FROM generate_series(1, ${jobs}) RETURNING id)
       SELECT graphile_worker.add_job('post_message', json_build_object('taskId', t.id, 'source', 'hello *world*! job ' || t.id)) FROM t`,
      pending('post_message'))
    return { post, noop }
  } finally {
    await pool.end()
  }
}

export async function benchWorker (): Promise<Row[]> {
  const db = await benchDatabase('flack_bench_worker', 5462)
  try {
    const log = (line: string): void => { process.stderr.write(`bench worker: ${line}\n`) }
    log(`post round trip at ${RATE} req/s for ${DURATION_SECONDS} s`)
    const trip = await roundTrip(db.url)
    log(`${JOBS} no-op jobs, then ${JOBS} post_message jobs`)
    const jobs = await throughput(db.url)
    const round = (n: number): number => Math.round(n * 10) / 10
    return [
      { benchmark: `post round trip p50 (Prefer: wait=5, ${RATE} req/s)`, result: ms(trip.p50), target: '≤ 10 ms', ok: trip.p50 <= 10 ? 'yes' : 'no' },
      { benchmark: `post round trip p99 (Prefer: wait=5, ${RATE} req/s)`, result: ms(trip.p99), target: '≤ 40 ms', ok: trip.p99 <= 40 ? 'yes' : 'no' },
      { benchmark: 'round trips answered 201 / sent', result: `${trip.created} / ${trip.requests}`, target: 'all', ok: trip.created === trip.requests ? 'yes' : 'no' },
      { benchmark: 'graphile-worker no-op jobs/s (1 worker)', result: round(jobs.noop), target: '', ok: '' },
      { benchmark: 'post_message jobs/s (1 worker)', result: round(jobs.post), target: '', ok: '' },
      { benchmark: 'post_message / no-op', result: `${Math.round(jobs.post / jobs.noop * 100)} %`, target: '≥ 50 %', ok: jobs.post / jobs.noop >= 0.5 ? 'yes' : 'no' },
    ]
  } finally {
    await db.stop()
  }
}

if (require.main === module) {
  benchWorker().then((rows) => { printTable(rows); process.exit(0) }, (err) => { console.error(err); process.exit(1) })
}
