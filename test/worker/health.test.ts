import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { resolve } from 'node:path'
import { buildTestApi, testEnv, testPool, waitFor } from '../helper'
import { buildTestWorker } from './helper'

const SERVER = resolve(__dirname, '..', '..', 'services', 'worker', 'server.ts')

t.test('/readyz/worker answers 503 while no worker runs jobs, 200 while one does', async (t) => {
  const app = await buildTestApi(t)
  const idle = await app.inject('/readyz/worker')
  t.equal(idle.statusCode, 503)
  t.same(idle.json(), { status: 'no worker running', workers: 0 })
  t.equal((await app.inject('/readyz')).statusCode, 200, 'the api itself stays ready')

  const worker = await buildTestWorker(t)
  t.match(worker.health(), { running: true })
  await waitFor(async () => (await app.inject('/readyz/worker')).statusCode === 200, 5000, 'the heartbeat')
  t.same((await app.inject('/readyz/worker')).json(), { status: 'ok', workers: 1 })
  t.ok(worker.health().alive, 'the worker knows its heartbeat gets through')

  await worker.close()
  const gone = await app.inject('/readyz/worker')
  t.equal(gone.statusCode, 503, 'a closed worker leaves at once')
})

// graphile-worker stops its runner for good when a newer version announces a breaking migration:
// the worker process then exits non-zero (a supervisor restarts it), never 0 as if all were well.
t.test('a worker stopped for good exits non-zero', async (t) => {
  const env = await testEnv(t)
  const pool = await testPool(t)
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: { ...process.env, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) },
    stdio: ['ignore', 'ignore', 'ignore'],
  })
  const exited = once(child, 'exit')
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  await waitFor(async () => (await pool.query('SELECT 1 FROM worker_instances WHERE cardinality(pool_ids) > 0')).rowCount === 1, 20000, 'the worker running')
  // Repeated: the runner may not be listening yet when its first heartbeat is written.
  let ended = false
  void exited.then(() => { ended = true })
  await waitFor(async () => {
    if (!ended) await pool.query(`NOTIFY "worker:migrate", '{"migrationNumber": 999, "breaking": true}'`)
    return ended
  }, 20000, 'the worker to exit')
  const [code] = await exited
  t.not(code, 0, `exit code ${String(code)}`)
  t.not(code, null)
})
