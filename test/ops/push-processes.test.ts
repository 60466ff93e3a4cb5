// PUSH_PROCESSES=2: one push command runs two processes on one port, each a full push instance,
// supervised by a primary that replaces a killed one and stops them all on a signal.
import t, { type Test } from 'tap'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { join } from 'node:path'
import { availableParallelism } from 'node:os'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import { buildApi } from '../../services/api/app'
import { pushProcesses } from '../../services/push/server'
import { createUser, testEnv, testPool, waitFor, type TestUser } from '../helper'
import { buildTestWorker } from '../worker/helper'
import { connect, type TestClient } from '../push/helper'
import { freePort } from '../support/net'
import { killLeftovers, nothingLeft, root, run, STACK, type Run } from './processes'

interface Cluster { run: Run, port: number, url: string, pids: number[] }

const strings = (env: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(env).map(([name, value]) => [name, String(value)]))

// `node services/push/server.ts` as the Procfile.dev line runs it, with the given settings.
async function pushCommand (t: Test, extra: Record<string, string>): Promise<Run> {
  killLeftovers(t)
  const env = strings(await testEnv(t, { HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...extra }))
  const command = run(process.execPath, ['--import', 'tsx', join(root, 'services/push/server.ts')], { ...process.env, ...env })
  // What the processes said, when the test failed.
  t.teardown(() => { if (!t.passing()) process.stderr.write(`push output:\n${command.output()}\n`) })
  return command
}

async function startCluster (t: Test): Promise<Cluster> {
  const port = await freePort()
  const started = await pushCommand(t, { PUSH_PROCESSES: '2', PUSH_PORT: String(port) })
  const [, pids] = await started.waitFor(/2 processes serving one port \(pids (\d+, \d+)\)/)
  return { run: started, port, url: `ws://127.0.0.1:${port}/ws`, pids: pids.split(', ').map(Number) }
}

async function startApi (t: Test): Promise<FastifyInstance> {
  const api = await buildApi({ env: await testEnv(t) })
  t.teardown(() => api.close())
  return api
}

// `count` sockets tied to the user; resolves with the push instances holding them (by presence rows).
async function tiedSockets (t: Test, pool: pg.Pool, url: string, user: TestUser, count: number): Promise<{ clients: TestClient[], instances: Set<string> }> {
  const clients = await Promise.all(Array.from({ length: count }, () => connect(t, url)))
  for (const client of clients) client.send({ type: 'ping_user', token: user.token })
  const rows = await waitFor(async () => {
    const { rows } = await pool.query<{ instance_id: string }>('SELECT instance_id FROM push_connections WHERE user_id = $1', [user.id])
    return rows.length === count && rows
  }, 20000, `${count} presence rows`)
  return { clients, instances: new Set(rows.map((row) => row.instance_id)) }
}

// One cluster start for the whole story (each start costs seconds of loading under tsx).
t.test('two processes on one port: both take sockets, a post reaches all; kill -9 of one: replaced; SIGTERM: all stop, exit 0', async (t) => {
  const cluster = await startCluster(t)
  const api = await startApi(t)
  await buildTestWorker(t)
  const pool = await testPool(t)
  const user = await createUser(api)
  const { clients, instances } = await tiedSockets(t, pool, cluster.url, user, 16)
  t.equal(instances.size, 2, 'the sockets are served by two push instances')

  const source = `to every socket ${Date.now()}`
  const posted = await api.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload: { source } })
  t.ok(posted.statusCode === 201 || posted.statusCode === 202, 'post accepted')
  await Promise.all(clients.map((client) => client.nextMatching((f) => f.class === 'Message' && f.model?.source === source, 20000)))
  t.pass('the message reached all 16 sockets')

  const [victim, survivor] = cluster.pids
  process.kill(victim, 'SIGKILL')
  const [, replacement] = await cluster.run.waitFor(new RegExp(`process (\\d+) serving in place of ${victim}`), 30000)
  t.match(cluster.run.output(), new RegExp(`process ${victim} exited \\(SIGKILL\\): starting another`), 'the death is logged')
  const again = await tiedSockets(t, pool, cluster.url, await createUser(api), 8)
  t.equal(again.instances.size, 2, 'new sockets are served by the survivor and the replacement')
  t.ok([...again.instances].some((id) => !instances.has(id)), 'one of them is a new instance, the replacement')

  const closes = again.clients.map((client) => client.closed.then(({ code }) => code))
  cluster.run.signal('SIGTERM', 'top')
  const { code } = await cluster.run.exit
  t.equal(code, 0, 'SIGTERM to the primary: exit 0')
  t.notMatch(cluster.run.output(), STACK, 'no stack trace')
  await nothingLeft([cluster.run.child.pid!, survivor, Number(replacement)], [cluster.port])
  t.pass('every process gone, nothing listening')
  const codes = await Promise.all(closes)
  t.same(new Set(codes), new Set([1001]), 'the sockets closed with 1001, going away')
})

t.test('a taken port or a bad PUSH_PROCESSES: exit 1 promptly, saying why', async (t) => {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const taken = await pushCommand(t, { PUSH_PROCESSES: '2', PUSH_PORT: String((server.address() as AddressInfo).port) })
  const bad = await pushCommand(t, { PUSH_PROCESSES: 'many', PUSH_PORT: '0' })
  t.equal((await taken.exit).code, 1, 'taken port: exit 1')
  t.match(taken.output(), /EADDRINUSE|address already in use/, 'names the error')
  t.match(taken.output(), /before all 2 had started/, 'the primary says the start failed')
  t.notMatch(taken.output(), /took longer than/, 'within the grace period')
  t.equal((await bad.exit).code, 1, 'bad value: exit 1')
  t.match(bad.output(), /PUSH_PROCESSES/, 'names the variable')
})

t.test('PUSH_PROCESSES: exactly 1 to 99 or auto, anything else refused naming the variable', async (t) => {
  fc.assert(fc.property(fc.oneof(fc.string(), fc.integer({ min: -1000, max: 1000 }).map(String), fc.constantFrom('auto', 'AUTO', '01', '1.5', '2 ', ' auto')), (value) => {
    const valid = value === 'auto' || (/^[1-9][0-9]?$/.test(value))
    let got: number | Error
    try { got = pushProcesses({ PUSH_PROCESSES: value }) } catch (err) { got = err as Error }
    if (value === '') return got === 1
    if (!valid) return got instanceof Error && /PUSH_PROCESSES/.test(got.message)
    return got === (value === 'auto' ? availableParallelism() : Number(value))
  }), { seed: 14, numRuns: 500 })
  t.pass('500 generated values')
})
