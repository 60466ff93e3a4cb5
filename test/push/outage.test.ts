import t from 'tap'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../lib/embedded-postgres'
import { migrate } from '../../lib/migrations'
import { markUsersOffline } from '../../lib/queries/presence'
import { buildApi } from '../../services/api/app'
import { buildPush } from '../../services/push/app'
import { buildWorker } from '../../services/worker/app'
import { TEST_SECRET, createUser, waitFor, type TestUser } from '../helper'
import { connect, pageSocket, type TestClient } from './helper'
import { embeddedTestPort, tempDir } from '../ops/processes'

// A server of this file's own, since the shared test server must never be stopped.
const PORT = embeddedTestPort(4)
const DIR = join(tempDir('flack-push-outage-'), 'postgres')
const OFFLINE_AFTER_SECONDS = 2
const SWEEP_SECONDS = 1

// A fast shutdown, as `pg_ctl stop -m fast` or a crash-restart does: every client is cut off at once.
async function stopFast (server: EmbeddedDatabase): Promise<void> {
  process.kill(Number(readFileSync(join(DIR, 'postmaster.pid'), 'utf8').split('\n')[0]), 'SIGINT')
  await server.stopped
}

// Rule (issue 12 #13): after a database outage, presence converges within the offline timeout plus a
// sweep, both ways: sockets closed during the outage let their users go offline, and sockets
// opened (or reconnected) during it hold their users online, with one connection row each.
t.test('presence converges both ways after a real PostgreSQL outage', async (t) => {
  let server: EmbeddedDatabase | null = await startEmbeddedPostgres({ dir: DIR, port: PORT, ephemeral: true })
  t.teardown(async () => { await server?.stop() })
  const admin = new pg.Client({ connectionString: server.url('postgres') })
  await admin.connect()
  await admin.query('DROP DATABASE IF EXISTS flack_push_outage WITH (FORCE)')
  await admin.query('CREATE DATABASE flack_push_outage')
  await admin.end()
  const url = server.url('flack_push_outage')
  await migrate(url)
  const env = {
    DATABASE_URL: url, JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', NODE_ENV: 'test',
    OFFLINE_AFTER_SECONDS, OFFLINE_SWEEP_SECONDS: SWEEP_SECONDS, PUSH_PORT: 0, API_PORT: 0,
  }
  const api = await buildApi({ env })
  t.teardown(() => api.close())
  await api.ready()
  const push = await buildPush({ env })
  t.teardown(() => push.close())
  await push.listen({ port: 0, host: '127.0.0.1' })
  const wsUrl = `ws://127.0.0.1:${(push.server.address() as AddressInfo).port}/ws`
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  pool.on('error', () => {})
  t.teardown(() => pool.end())

  const online = async (user: TestUser): Promise<boolean> =>
    (await pool.query<{ online: boolean }>('SELECT online FROM users WHERE id = $1', [user.id])).rows[0].online
  const rows = async (user: TestUser): Promise<number> =>
    Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM push_connections WHERE user_id = $1', [user.id])).rows[0].n)
  const tie = async (user: TestUser): Promise<TestClient> => {
    const client = await connect(t, wsUrl)
    client.send({ type: 'ping_user', token: user.token, ref: 'tie' })
    t.equal((await client.nextMatching((f) => f.ref === 'tie')).type, 'ack')
    return client
  }
  const page = (user: TestUser) => pageSocket(t, wsUrl, user.token)

  const leaving = [await createUser(api), await createUser(api), await createUser(api)]
  const staying = await createUser(api)
  const reconnecting = await createUser(api)
  const arriving = await createUser(api)
  const leavingClients = await Promise.all(leaving.map(tie))
  await tie(staying)
  const reconnectingPage = page(reconnecting)
  await waitFor(async () => await rows(reconnecting) === 1, 10000, 'the page to tie its socket')

  // The outage.
  await stopFast(server)
  server = null
  for (const client of leavingClients) await client.close()
  await waitFor(async () => push.push.connections.size === 2, 10000, 'the server to see the closes')
  // As a network drop would: the page reconnects, and its ping_user meets the outage.
  ;(reconnectingPage.socket as unknown as { socket: WebSocket }).socket.close()
  const arrivingPage = page(arriving)
  await waitFor(async () => reconnectingPage.errors.length > 0 && arrivingPage.errors.length > 0, 15000, 'both pages to get an error for their ping_user')
  t.pass('ping_user failed during the outage on a reconnected and on a new socket')

  server = await startEmbeddedPostgres({ dir: DIR, port: PORT, ephemeral: true })
  const back = Date.now()
  // The sweeper runs from the database's return (a worker through an outage is the worker's own test).
  const worker = buildWorker({ env })
  t.teardown(() => worker.close())
  await worker.start()

  const converged = async (): Promise<boolean> => {
    for (const user of leaving) if (await online(user) || await rows(user) !== 0) return false
    for (const user of [staying, reconnecting, arriving]) if (!await online(user) || await rows(user) !== 1) return false
    return true
  }
  await waitFor(converged, 30000, 'presence to converge').catch(async (err: Error) => {
    const state = async (u: TestUser): Promise<string> => `${u.nickname}: online=${String(await online(u))} rows=${await rows(u)}`
    throw new Error(`${err.message}; ${(await Promise.all([...leaving, staying, reconnecting, arriving].map(state))).join(', ')}`)
  })
  const seconds = (Date.now() - back) / 1000
  t.pass(`converged ${seconds.toFixed(1)} s after the database returned`)
  t.ok(seconds <= OFFLINE_AFTER_SECONDS + SWEEP_SECONDS + 8, 'within the offline timeout, a sweep, the restart\'s reconnects and slack for a busy machine')

  // Held by their rows, not by a recent request: the sweeper's own query leaves them online.
  await pool.query("UPDATE users SET last_seen_at = now() - interval '1 hour'")
  const flipped = await markUsersOffline(api.pg, { unseenForSeconds: OFFLINE_AFTER_SECONDS, liveWithinSeconds: OFFLINE_AFTER_SECONDS })
  t.same(flipped.map((u) => u.id), [], 'every open socket holds its user online')
  t.equal(Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM push_connections')).rows[0].n), 3, 'no leftover connection rows')
})
