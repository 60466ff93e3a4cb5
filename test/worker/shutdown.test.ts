import t from 'tap'
import { buildWorker } from '../../services/worker/app'
import { testEnv, count, testPool, waitFor } from '../helper'

t.test('a stopped worker leaves no job locked: jobs in flight finish, queued ones go back', async (t) => {
  const pool = await testPool(t)
  await pool.query("SELECT graphile_worker.add_job('slow', json_build_object('n', n)) FROM generate_series(1, 300) n")
  let finished = 0
  const worker = buildWorker({
    env: await testEnv(t, { WORKER_CONCURRENCY: 4, WORKER_LOCAL_QUEUE_SIZE: 50 }),
    tasks: { slow: async () => { await new Promise((resolve) => setTimeout(resolve, 20)); finished++ } },
  })
  await worker.start()
  await waitFor(async () => finished >= 8, 10000, 'some jobs done')
  await worker.close()
  const left = await count(pool, 'SELECT 1 FROM graphile_worker.jobs')
  t.ok(left > 0 && left < 300, `stopped midway (${left} left)`)
  t.equal(left + finished, 300, 'every job either ran once or is still queued')
  t.equal(await count(pool, 'SELECT 1 FROM graphile_worker.jobs WHERE locked_at IS NOT NULL'), 0, 'none left locked')

  // Another worker takes the rest at once, not after the 4-hour lock timeout.
  let rest = 0
  const next = buildWorker({ env: await testEnv(t), tasks: { slow: async () => { rest++ } } })
  t.teardown(() => next.close())
  await next.start()
  await waitFor(async () => await count(pool, 'SELECT 1 FROM graphile_worker.jobs') === 0, 10000, 'the rest')
  t.equal(rest, left)
})
