import t from 'tap'
import { randomUUID } from 'node:crypto'
import { buildTestApi, createUser, count, testPool, waitFor } from '../helper'
import { buildTestWorker } from './helper'

const SWEEP_LOCK = 0x666c7377

t.test('presence sweeper: stale users go offline with a User event; live push connections hold users online', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const stale = await createUser(app)
  const held = await createUser(app)
  const fresh = await createUser(app)
  await pool.query("UPDATE users SET last_seen_at = now() - interval '2 minutes' WHERE id = ANY($1)", [[stale.id, held.id]])
  const instance = randomUUID()
  await pool.query('INSERT INTO push_instances (id) VALUES ($1)', [instance])
  await pool.query('INSERT INTO push_connections (id, instance_id, user_id) VALUES ($1, $2, $3)', [randomUUID(), instance, held.id])

  // Another process holds the sweep: this worker's sweeps skip their turn.
  const locker = await pool.connect()
  await locker.query('SELECT pg_advisory_lock($1)', [SWEEP_LOCK])
  await buildTestWorker(t, { OFFLINE_SWEEP_SECONDS: 1 })
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal(await count(pool, 'SELECT 1 FROM users WHERE id = $1 AND online', [stale.id]), 1, 'no sweep while another one runs')
  await locker.query('SELECT pg_advisory_unlock($1)', [SWEEP_LOCK])
  locker.release()

  await waitFor(async () => await count(pool, 'SELECT 1 FROM users WHERE id = $1 AND NOT online', [stale.id]) === 1, 10000, 'the sweep')
  t.equal(await count(pool, 'SELECT 1 FROM users WHERE id = $1 AND online', [held.id]), 1, 'a live push connection keeps its user online')
  t.equal(await count(pool, 'SELECT 1 FROM users WHERE id = $1 AND online', [fresh.id]), 1, 'a recently seen user stays online')
  const events = await pool.query("SELECT model FROM events WHERE class = 'User' AND (model->>'id')::int = $1 ORDER BY seq DESC LIMIT 1", [stale.id])
  t.equal(events.rows[0].model.online, false, 'the flip was published')
  const listed = await app.inject({ method: 'GET', url: '/api/users?online=0' })
  t.ok(listed.json().users.some((u: { id: number }) => u.id === stale.id))
})

t.test('one pending sweep and prune job, however many workers run', async (t) => {
  await buildTestWorker(t, { OFFLINE_SWEEP_SECONDS: 1 })
  await buildTestWorker(t, { OFFLINE_SWEEP_SECONDS: 1 })
  const pool = await testPool(t)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  for (const task of ['sweep_presence', 'prune']) {
    // The job key holds exactly one job, pending or running: none would fail too.
    t.equal(await count(pool, 'SELECT 1 FROM graphile_worker.jobs WHERE key = $1', [task]), 1, `${task}: one job`)
  }
})

t.test('prune: old events and tasks, dead push instances', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)
  // created_at is when an event's transaction began, so an old one can follow a recent one in seq.
  await pool.query("INSERT INTO events (class, model) VALUES ('User', '{}')")
  await pool.query("INSERT INTO events (class, model, created_at) VALUES ('User', '{}', now() - interval '2 hours')")
  const oldSeq = (await pool.query('SELECT max(seq) AS seq FROM events')).rows[0].seq
  const { rows: [{ seq: recentSeq }] } = await pool.query("INSERT INTO events (class, model) VALUES ('User', '{}') RETURNING seq")
  const dead = randomUUID()
  const alive = randomUUID()
  await pool.query("INSERT INTO push_instances (id, heartbeat_at) VALUES ($1, now() - interval '1 hour'), ($2, now())", [dead, alive])
  await pool.query('INSERT INTO push_connections (id, instance_id, user_id) VALUES ($1, $2, $3)', [randomUUID(), dead, user.id])
  const oldTask = randomUUID()
  await pool.query("INSERT INTO tasks (id, user_id, kind, status, updated_at) VALUES ($1, $2, 'post_message', 'done', now() - interval '2 hours')", [oldTask, user.id])
  const pendingTask = randomUUID()
  await pool.query("INSERT INTO tasks (id, user_id, kind, updated_at) VALUES ($1, $2, 'post_message', now() - interval '2 hours')", [pendingTask, user.id])

  await buildTestWorker(t, { EVENT_RETENTION_SECONDS: 3600, OFFLINE_AFTER_SECONDS: 60 })
  await waitFor(async () => await count(pool, 'SELECT 1 FROM events WHERE seq <= $1', [oldSeq]) === 0, 10000, 'the prune')
  t.same((await pool.query('SELECT seq FROM events')).rows.map((r) => r.seq), [recentSeq], 'what is kept starts after the old event: no gap for a replay')
  await waitFor(async () => await count(pool, 'SELECT 1 FROM push_instances WHERE id = $1', [dead]) === 0, 5000, 'the dead instance')
  t.equal(await count(pool, 'SELECT 1 FROM push_connections WHERE instance_id = $1', [dead]), 0, 'its connections went with it')
  t.equal(await count(pool, 'SELECT 1 FROM push_instances WHERE id = $1', [alive]), 1)
  t.equal(await count(pool, 'SELECT 1 FROM tasks WHERE id = $1', [oldTask]), 0, 'old finished task pruned')
  t.equal(await count(pool, 'SELECT 1 FROM tasks WHERE id = $1', [pendingTask]), 1, 'unfinished task kept')
})
