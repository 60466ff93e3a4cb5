import t from 'tap'
import { buildTestApi, createUser, testPool, waitFor, type TestUser } from '../helper'
import { markUsersOffline } from '../../lib/queries/presence'
import type { FastifyInstance } from 'fastify'

// The events published after this call (each test has its own database, so only this test's).
async function eventsFromNow (app: FastifyInstance): Promise<() => Promise<Array<{ class: string, model: { id: number, online: boolean } }>>> {
  const { rows: [{ last }] } = await app.pg.query<{ last: string }>('SELECT coalesce(max(seq), 0) AS last FROM events')
  return async () => (await app.pg.query('SELECT class, model FROM events WHERE seq > $1 ORDER BY seq', [last])).rows
}

// The process has heard the offline announcement: its presence cache no longer holds the user.
const heardOffline = async (app: FastifyInstance, user: TestUser): Promise<void> => {
  await waitFor(async () => !app.authCache.seenRecently(user.id, 60_000), 3000, 'the offline announcement')
}

const stored = async (app: FastifyInstance, user: TestUser): Promise<{ online: boolean, lastSeenAt: Date, updatedAt: Date }> =>
  (await app.pg.query('SELECT online, last_seen_at AS "lastSeenAt", updated_at AS "updatedAt" FROM users WHERE id = $1', [user.id])).rows[0]

const online = async (app: FastifyInstance, user: TestUser): Promise<boolean> => (await stored(app, user)).online

t.test('an authenticated request flips its user online and publishes one User event', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  await markUsersOffline(app.pg, { userIds: [user.id], liveWithinSeconds: 60 })
  await heardOffline(app, user)
  const events = await eventsFromNow(app)
  const res = await app.inject({ method: 'GET', url: '/api/users?online=1', headers: user.auth })
  t.same(res.json().users.map((u: { id: number }) => u.id), [user.id], 'answered after being marked online')
  await app.inject({ method: 'GET', url: '/api/users', headers: user.auth })
  const published = await events()
  t.equal(published.length, 1, 'exactly one event for one flip')
  t.match(published[0], { class: 'User', model: { id: user.id, online: true } })
})

t.test('an online user seen recently costs no write on a read request', async (t) => {
  const app = await buildTestApi(t, { PRESENCE_REFRESH_SECONDS: 2 })
  const user = await createUser(app)
  // The presence cache works only once the process listens for announcements (at once, bar a slow start).
  await waitFor(async () => {
    await app.inject({ method: 'GET', url: '/api/users', headers: user.auth })
    return app.authCache.seenRecently(user.id, 60_000)
  }, 5000, 'the presence cache')
  const seen = new Date(Date.now() - 30_000)
  await app.pg.query('UPDATE users SET last_seen_at = $2 WHERE id = $1', [user.id, seen])
  await app.inject({ method: 'GET', url: '/api/users', headers: user.auth })
  t.same((await stored(app, user)).lastSeenAt, seen, 'not written within the refresh window')

  await new Promise((resolve) => setTimeout(resolve, 2100))
  const events = await eventsFromNow(app)
  await app.inject({ method: 'GET', url: '/api/users', headers: user.auth })
  const after = await stored(app, user)
  t.ok(after.lastSeenAt.getTime() > Date.now() - 5000, 'refreshed once the window passed')
  t.equal((await events()).length, 0, 'refreshing last_seen_at publishes nothing')
})

// Rule: refreshing an online user's last_seen_at never holds up a request. A transaction that has
// the user's row (a password or nickname change waiting to publish, another instance's flip) may
// keep it for a while; the request answers at once and a later one records the visit.
t.test('a due presence refresh does not wait for a transaction holding the user\'s row', async (t) => {
  const app = await buildTestApi(t, { PRESENCE_REFRESH_SECONDS: 1 })
  const pool = await testPool(t)
  const holds = [
    'SELECT 1 FROM users WHERE id = $1 FOR UPDATE',
    'SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE',
    "UPDATE users SET nickname = nickname || 'x' WHERE id = $1",
    'UPDATE users SET password_hash = password_hash WHERE id = $1',
  ]
  for (const hold of holds) {
    const user = await createUser(app)
    await waitFor(async () => {
      await app.inject({ url: `/api/users/${user.id}`, headers: user.auth })
      return app.authCache.seenRecently(user.id, 60_000)
    }, 5000, 'the presence cache')
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const holder = await pool.connect()
    await holder.query('BEGIN')
    await holder.query(hold, [user.id])
    try {
      const started = Date.now()
      const answer = await Promise.race([
        app.inject({ url: `/api/users/${user.id}`, headers: user.auth }).then((res) => res.statusCode),
        new Promise((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3000)),
      ])
      t.equal(answer, 200, `${hold}: answered in ${Date.now() - started} ms`)
    } finally {
      await holder.query('ROLLBACK')
      holder.release()
    }
    const before = (await stored(app, user)).lastSeenAt.getTime()
    await waitFor(async () => {
      await app.inject({ url: `/api/users/${user.id}`, headers: user.auth })
      return (await stored(app, user)).lastSeenAt.getTime() > before
    }, 5000, 'a later request to record the visit')
  }
})

t.test('a user marked offline elsewhere is marked online again by the next request', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const other = await buildTestApi(t)
  await markUsersOffline(other.pg, { userIds: [user.id], liveWithinSeconds: 60 })
  await heardOffline(app, user)
  await app.inject({ method: 'GET', url: '/api/users', headers: user.auth })
  t.equal(await online(app, user), true, 'the announcement cleared this process\'s presence cache')
})

t.test('a token revoked through one api instance is refused by another at once', async (t) => {
  const first = await buildTestApi(t)
  const second = await buildTestApi(t)
  const user = await createUser(first)
  t.equal((await second.inject({ method: 'GET', url: '/api/users', headers: user.auth })).statusCode, 200, 'cached as valid')
  t.equal((await first.inject({ method: 'DELETE', url: '/api/tokens', headers: user.auth })).statusCode, 204)
  // Well within the 60 s the token would otherwise stay cached.
  await waitFor(async () => (await second.inject({ method: 'GET', url: '/api/users', headers: user.auth })).statusCode === 401, 3000, 'a 401')
  t.pass('refused')
})

t.test('signing out marks the user offline and publishes it', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  t.equal(await online(app, user), true)
  const before = (await stored(app, user)).updatedAt
  const events = await eventsFromNow(app)
  t.equal((await app.inject({ method: 'DELETE', url: '/api/tokens', headers: user.auth })).statusCode, 204)
  t.equal(await online(app, user), false)
  t.ok((await stored(app, user)).updatedAt > before, 'updated_at bumped')
  t.match(await events(), [{ class: 'User', model: { id: user.id, online: false } }])
})

t.test('a live push connection keeps a signed-out user online', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const instanceId = crypto.randomUUID()
  await app.pg.query('INSERT INTO push_instances (id) VALUES ($1)', [instanceId])
  await app.pg.query('INSERT INTO push_connections (id, instance_id, user_id) VALUES ($1, $2, $3)', [crypto.randomUUID(), instanceId, user.id])
  await app.inject({ method: 'DELETE', url: '/api/tokens', headers: user.auth })
  t.equal(await online(app, user), true)
})
