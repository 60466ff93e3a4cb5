import t from 'tap'
import pg from 'pg'
import { buildTestApi, createUser, testDatabase, type TestUser } from '../helper'
import { EVENTS_CHANNEL } from '../../plugins/events'
import { markUsersOffline } from '../../plugins/presence'
import type { FastifyInstance } from 'fastify'

// A real LISTEN on the events channel; returns the events published after it started.
async function listenForEvents (t: Parameters<typeof testDatabase>[0]): Promise<() => Promise<Array<{ class: string, model: { id: number, online: boolean } }>>> {
  const client = new pg.Client({ connectionString: await testDatabase(t) })
  await client.connect()
  t.teardown(() => client.end())
  const seqs: string[] = []
  client.on('notification', (msg) => seqs.push(msg.payload ?? ''))
  await client.query(`LISTEN ${EVENTS_CHANNEL}`)
  return async () => {
    await new Promise((resolve) => setTimeout(resolve, 100))
    if (seqs.length === 0) return []
    const { rows } = await client.query('SELECT class, model FROM events WHERE seq = ANY($1::bigint[]) ORDER BY seq', [seqs])
    return rows
  }
}

const online = async (app: FastifyInstance, user: TestUser): Promise<boolean> =>
  (await app.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).online

t.test('an authenticated request flips its user online and publishes one User event', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  await markUsersOffline(app.prisma, { userIds: [user.id], liveWithinSeconds: 60 })
  await new Promise((resolve) => setTimeout(resolve, 100))
  const events = await listenForEvents(t)
  const res = await app.inject({ method: 'GET', url: '/api/users?online=1', headers: user.auth })
  t.same(res.json().users.map((u: { id: number }) => u.id), [user.id], 'answered after being marked online')
  await app.inject({ method: 'GET', url: '/api/users', headers: user.auth })
  const published = await events()
  t.equal(published.length, 1, 'exactly one event for one flip')
  t.match(published[0], { class: 'User', model: { id: user.id, online: true } })
})

t.test('an online user seen recently costs no write on a read request', async (t) => {
  const app = await buildTestApi(t, { PRESENCE_REFRESH_SECONDS: 1 })
  const user = await createUser(app)
  const seen = new Date(Date.now() - 30_000)
  await app.prisma.user.update({ where: { id: user.id }, data: { lastSeenAt: seen } })
  await app.inject({ method: 'GET', url: '/api/users', headers: user.auth })
  t.same((await app.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).lastSeenAt, seen, 'not written within the refresh window')

  await new Promise((resolve) => setTimeout(resolve, 1100))
  const events = await listenForEvents(t)
  await app.inject({ method: 'GET', url: '/api/users', headers: user.auth })
  const after = await app.prisma.user.findUniqueOrThrow({ where: { id: user.id } })
  t.ok(after.lastSeenAt.getTime() > Date.now() - 5000, 'refreshed once the window passed')
  t.equal((await events()).length, 0, 'refreshing last_seen_at publishes nothing')
})

t.test('a user marked offline elsewhere is marked online again by the next request', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const other = await buildTestApi(t)
  await markUsersOffline(other.prisma, { userIds: [user.id], liveWithinSeconds: 60 })
  await new Promise((resolve) => setTimeout(resolve, 100))
  await app.inject({ method: 'GET', url: '/api/users', headers: user.auth })
  t.equal(await online(app, user), true, 'the announcement cleared this process\'s presence cache')
})

t.test('a token revoked through one api instance is refused by another at once', async (t) => {
  const first = await buildTestApi(t)
  const second = await buildTestApi(t)
  const user = await createUser(first)
  t.equal((await second.inject({ method: 'GET', url: '/api/users', headers: user.auth })).statusCode, 200, 'cached as valid')
  t.equal((await first.inject({ method: 'DELETE', url: '/api/tokens', headers: user.auth })).statusCode, 204)
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal((await second.inject({ method: 'GET', url: '/api/users', headers: user.auth })).statusCode, 401)
})

t.test('signing out marks the user offline and publishes it', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  t.equal(await online(app, user), true)
  const before = (await app.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).updatedAt
  const events = await listenForEvents(t)
  t.equal((await app.inject({ method: 'DELETE', url: '/api/tokens', headers: user.auth })).statusCode, 204)
  t.equal(await online(app, user), false)
  t.ok((await app.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).updatedAt >= before, 'updated_at bumped')
  t.match(await events(), [{ class: 'User', model: { id: user.id, online: false } }])
})

t.test('a live push connection keeps a signed-out user online', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const instance = await app.prisma.pushInstance.create({ data: { id: crypto.randomUUID() } })
  await app.prisma.pushConnection.create({ data: { id: crypto.randomUUID(), instanceId: instance.id, userId: user.id } })
  await app.inject({ method: 'DELETE', url: '/api/tokens', headers: user.auth })
  t.equal(await online(app, user), true)
})
