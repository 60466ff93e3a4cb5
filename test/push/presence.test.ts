import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { resolve } from 'node:path'
import { WebSocket } from 'ws'
import type { FastifyInstance } from 'fastify'
import { markUsersOffline } from '../../lib/queries/presence'
import { buildTestApi, createUser, testEnv, type TestUser, eventually } from '../helper'
import type { ConfigInput } from '../../plugins/config'
import { TestClient, connect, startTestPush, type Frame } from './helper'
import { buildTestWorker } from '../worker/helper'

async function isOnline (app: FastifyInstance, id: number): Promise<boolean> {
  const { rows } = await app.pg.query<{ online: boolean }>('SELECT online FROM users WHERE id = $1', [id])
  return rows[0].online
}

const connectionCount = async (app: FastifyInstance, userId: number): Promise<number> =>
  Number((await app.pg.query<{ n: string }>('SELECT count(*) AS n FROM push_connections WHERE user_id = $1', [userId])).rows[0].n)

const userEvent = (id: number, online: boolean) => (frame: Frame): boolean =>
  frame.type === 'updated_model' && frame.class === 'User' && frame.model?.id === id && frame.model?.online === online

// An api, a push instance, and a user tied to one of its sockets.
async function tiedUser (t: Test, overrides: ConfigInput = {}): Promise<{ api: FastifyInstance, app: FastifyInstance, user: TestUser, client: TestClient }> {
  const api = await buildTestApi(t)
  const { app, url } = await startTestPush(t, overrides)
  const user = await createUser(api)
  const client = await connect(t, url)
  client.send({ type: 'ping_user', token: user.token, ref: 1 })
  t.equal((await client.nextMatching((f) => f.ref === 1)).type, 'ack', 'tied')
  return { api, app, user, client }
}

t.test('ping_user ties the connection to the user and marks them online', async (t) => {
  const api = await buildTestApi(t)
  const { app, url } = await startTestPush(t)
  const user = await createUser(api)
  await markUsersOffline(app.pg, { userIds: [user.id], liveWithinSeconds: 60 })
  t.notOk(await isOnline(app, user.id))

  const client = await connect(t, url)
  client.send({ type: 'ping_user', token: user.token, ref: 'p1' })
  // The ack follows a last_seen write, so the online event may reach the socket before it.
  const seen = (match: (f: Frame) => boolean) => async (): Promise<boolean> => client.frames.some(match)
  await eventually(seen(userEvent(user.id, true)))
  await eventually(seen((f) => f.type === 'ack' && f.ref === 'p1'))
  t.pass('online event and acknowledgement both arrived')
  t.ok(await isOnline(app, user.id))
  t.equal(await connectionCount(app, user.id), 1, 'a connection row holds the user online')

  // The sweeper, however long the user has been unseen, leaves a connected user online.
  await app.pg.query("UPDATE users SET last_seen_at = now() - interval '1 hour' WHERE id = $1", [user.id])
  t.same(await markUsersOffline(app.pg, { unseenForSeconds: 60, liveWithinSeconds: 60 }), [])
  t.ok(await isOnline(app, user.id))

  client.send({ type: 'ping_user', token: 'not-a-token', ref: 7 })
  t.same(await client.nextMatching((f) => f.type === 'error'), { type: 'error', ref: 7, error: 'Invalid or expired token' })

  const observer = await connect(t, url)
  await client.close()
  await observer.nextMatching(userEvent(user.id, false))
  t.notOk(await isOnline(app, user.id), 'the last connection closed: offline')
  t.equal(await connectionCount(app, user.id), 0)
})

t.test('presence across two instances: offline only when the last connection anywhere closes', async (t) => {
  const api = await buildTestApi(t)
  const a = await startTestPush(t)
  const b = await startTestPush(t)
  const user = await createUser(api)
  const onA = await connect(t, a.url)
  const onB = await connect(t, b.url)
  const observer = await connect(t, b.url)
  for (const client of [onA, onB]) {
    client.send({ type: 'ping_user', token: user.token, ref: 1 })
    await client.nextMatching((f) => f.type === 'ack')
  }
  t.equal(await connectionCount(a.app, user.id), 2)

  await onA.close()
  await eventually(async () => await connectionCount(a.app, user.id) === 1)
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.ok(await isOnline(a.app, user.id), 'still connected on the other instance')

  await onB.close()
  await observer.nextMatching(userEvent(user.id, false))
  t.notOk(await isOnline(a.app, user.id))
})

t.test('a ping_user whose tie failed is tied by the next one, not acknowledged unheld', async (t) => {
  const api = await buildTestApi(t)
  const { app, url } = await startTestPush(t)
  const user = await createUser(api)
  const instance = app.push.presence.instanceId
  // The instance's row gone (another instance took it for dead): no connection row can be written.
  await api.pg.query('DELETE FROM push_instances WHERE id = $1', [instance])
  const client = await connect(t, url)
  // The second is sent while the first one's tie runs: it must not be acknowledged either.
  client.send({ type: 'ping_user', token: user.token, ref: 1 })
  client.send({ type: 'ping_user', token: user.token, ref: '1b' })
  const answer = (ref: unknown): Frame | undefined => client.frames.find((f) => f.ref === ref)
  await eventually(async () => answer(1) !== undefined && answer('1b') !== undefined)
  t.same([answer(1)?.type, answer('1b')?.type], ['error', 'error'])

  await api.pg.query('INSERT INTO push_instances (id) VALUES ($1)', [instance])
  client.send({ type: 'ping_user', token: user.token, ref: 2 })
  await eventually(async () => answer(2) !== undefined)
  t.equal(answer(2)?.type, 'ack')
  t.equal(await connectionCount(api, user.id), 1, 'the retry recorded the connection')
})

t.test('an instance taken for dead puts its connections back, and their users online', async (t) => {
  const { api, app, user } = await tiedUser(t, { OFFLINE_AFTER_SECONDS: 2 })
  // As another instance does to one that missed its heartbeats; the sweeper then finds the user unheld.
  // Repeated, since a heartbeat landing between the two puts the connection back first.
  await eventually(async () => {
    await api.pg.query('DELETE FROM push_instances WHERE id = $1', [app.push.presence.instanceId])
    return (await markUsersOffline(api.pg, { userIds: [user.id], liveWithinSeconds: 2 })).length === 1
  })
  t.notOk(await isOnline(api, user.id), 'taken offline')

  await eventually(async () => await connectionCount(api, user.id) === 1 && await isOnline(api, user.id))
  t.pass('the next heartbeat restored the connection row and the user is online')
})

t.test('an instance whose beats failed long enough to be skipped by the sweeper puts its users back online', async (t) => {
  const { api, app, user } = await tiedUser(t, { OFFLINE_AFTER_SECONDS: 2 })
  // The database refuses this instance's beats (as in an outage) until its heartbeat is stale.
  await api.pg.query(`CREATE FUNCTION refuse_beat() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'beat refused'; END $$`)
  await api.pg.query('CREATE TRIGGER refuse_beat BEFORE UPDATE ON push_instances FOR EACH ROW EXECUTE FUNCTION refuse_beat()')
  const instance = app.push.presence.instanceId
  await eventually(async () => (await api.pg.query("SELECT 1 FROM push_instances WHERE id = $1 AND heartbeat_at < now() - interval '2 seconds'", [instance])).rows.length === 1)
  t.equal((await markUsersOffline(api.pg, { userIds: [user.id], liveWithinSeconds: 2 })).length, 1, 'the sweeper took the user offline')

  await api.pg.query('DROP TRIGGER refuse_beat ON push_instances')
  await eventually(async () => await isOnline(api, user.id))
  t.pass('the first beat that got through put the user online again')
  t.equal(await connectionCount(api, user.id), 1)
})

t.test('an offline flip waits for a connection being recorded elsewhere, then sees it', async (t) => {
  const api = await buildTestApi(t)
  const user = await createUser(api)
  await api.pg.query('UPDATE users SET online = true WHERE id = $1', [user.id])
  // Another instance in the middle of a tie: the user's row locked, its connection written, not yet committed.
  const instanceId = randomUUID()
  await api.pg.query('INSERT INTO push_instances (id) VALUES ($1)', [instanceId])
  const tie = await api.pg.connect()
  t.teardown(() => tie.release())
  await tie.query('BEGIN')
  await tie.query('SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE', [user.id])
  await tie.query('INSERT INTO push_connections (id, instance_id, user_id) VALUES ($1, $2, $3)', [randomUUID(), instanceId, user.id])

  let done = false
  const flip = markUsersOffline(api.pg, { userIds: [user.id], liveWithinSeconds: 60 }).finally(() => { done = true })
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.notOk(done, 'the offline flip waits for the tie')
  await tie.query('COMMIT')
  t.same(await flip, [], 'and then sees its connection')
  t.ok(await isOnline(api, user.id))
})

t.test('heartbeats drop a peer that stops answering pings, and its user goes offline', async (t) => {
  const api = await buildTestApi(t)
  const { app, url } = await startTestPush(t, { PUSH_HEARTBEAT_SECONDS: 1 })
  const user = await createUser(api)
  const dead = new TestClient(new WebSocket(url, { autoPong: false }))
  t.teardown(() => dead.ws.terminate())
  await dead.opened
  dead.send({ type: 'ping_user', token: user.token, ref: 1 })
  await dead.nextMatching((f) => f.type === 'ack')
  const started = Date.now()
  const { code } = await dead.closed
  t.equal(code, 1006, 'cut without a close handshake')
  t.ok(Date.now() - started < 4500, 'within two heartbeat periods, and slack for a busy machine')
  await eventually(async () => !await isOnline(app, user.id))
  t.equal(app.push.connections.size, 0)
})

t.test('graceful shutdown: close code 1001, instance row removed', async (t) => {
  const { api, app, user, client } = await tiedUser(t)
  const instance = app.push.presence.instanceId
  await app.close()
  const { code } = await client.closed
  t.equal(code, 1001)
  const { rows } = await api.pg.query('SELECT 1 FROM push_instances WHERE id = $1', [instance])
  t.equal(rows.length, 0, 'instance row (and its connections) deleted')
  t.equal(await connectionCount(api, user.id), 0)
})

t.test('a SIGKILLed instance holds no one online past the sweeper timeout', async (t) => {
  const api = await buildTestApi(t, { OFFLINE_AFTER_SECONDS: 2 })
  const user = await createUser(api)
  const env = { ...await testEnv(t, { OFFLINE_AFTER_SECONDS: 2, PUSH_PORT: 0, LOG_LEVEL: 'info' }) }
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, '../../services/push/server.ts')], {
    env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(() => { child.kill('SIGKILL') })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (match !== null) resolve(Number(match[1]))
    })
    child.once('exit', (code) => reject(new Error(`push exited early (${code}): ${out}`)))
  })
  const client = await connect(t, `ws://127.0.0.1:${port}/ws`)
  client.send({ type: 'ping_user', token: user.token, ref: 1 })
  await client.nextMatching((f) => f.type === 'ack')
  await api.pg.query("UPDATE users SET last_seen_at = now() - interval '1 hour' WHERE id = $1", [user.id])
  // The real sweeper, every second.
  await buildTestWorker(t, { OFFLINE_AFTER_SECONDS: 2, OFFLINE_SWEEP_SECONDS: 1 })
  await new Promise((resolve) => setTimeout(resolve, 2500))
  t.ok(await isOnline(api, user.id), 'held online through several sweeps while the instance lives')

  child.kill('SIGKILL')
  const killedAt = Date.now()
  await client.closed
  await eventually(async () => !await isOnline(api, user.id), 10000)
  // The timeout, one sweep period, graphile-worker's 2 s poll for a job that comes due, and slack for a busy machine.
  const seconds = (Date.now() - killedAt) / 1000
  t.ok(seconds <= 2 + 1 + 2 + 3, `offline ${seconds.toFixed(1)} s after the kill`)
})
