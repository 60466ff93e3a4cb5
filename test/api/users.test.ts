import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApi, createUser, rowCount, uniqueNickname, waitFor } from '../helper'

const stored = async (app: FastifyInstance, id: number): Promise<{ nickname: string, passwordHash: string }> =>
  (await app.pg.query('SELECT nickname, password_hash AS "passwordHash" FROM users WHERE id = $1', [id])).rows[0]

t.test('POST /api/users registers a user', async (t) => {
  const app = await buildTestApi(t)
  const nickname = uniqueNickname('reg')
  const res = await app.inject({ method: 'POST', url: '/api/users', payload: { nickname, password: 'password1' } })
  t.equal(res.statusCode, 201)
  const user = res.json()
  t.equal(res.headers.location, `/api/users/${user.id}`)
  t.same(Object.keys(user).sort(), ['_links', 'created_at', 'id', 'last_seen_at', 'nickname', 'online', 'updated_at'])
  t.equal(user.nickname, nickname)
  t.equal(user.online, false)
  t.ok(Number.isInteger(user.created_at) && Math.abs(user.created_at - Date.now() / 1000) < 60, 'times are unix seconds')
  t.same(user._links, { self: `/api/users/${user.id}`, messages: `/api/messages?user_id=${user.id}`, tokens: '/api/tokens' })
  t.notMatch(res.body, /password|scrypt/)
  const { passwordHash } = await stored(app, user.id)
  t.match(passwordHash, /^scrypt\$/, 'password stored as a scrypt hash')
  t.notMatch(passwordHash, /password1/)
})

t.test('POST /api/users rejects bad registrations with 400 and stores nothing', async (t) => {
  const app = await buildTestApi(t)
  const taken = await createUser(app)
  const before = await rowCount(app, 'users')
  const cases: Array<[string, unknown]> = [
    ['missing nickname', { password: 'password1' }],
    ['missing password', { nickname: 'someone' }],
    ['empty nickname', { nickname: '', password: 'password1' }],
    ['nickname too long', { nickname: 'x'.repeat(33), password: 'password1' }],
    ['nickname with a space', { nickname: 'a b', password: 'password1' }],
    ['nickname with a control character', { nickname: 'a\u0000b', password: 'password1' }],
    ['nickname of invisible characters', { nickname: '\u200b\u200b', password: 'password1' }],
    ['password too short', { nickname: 'someone', password: 'short' }],
    ['password too long', { nickname: 'someone', password: 'x'.repeat(257) }],
    ['nickname of the wrong type', { nickname: 12345, password: 'password1' }],
    ['password of the wrong type', { nickname: 'someone', password: ['password1'] }],
    ['an extra field', { nickname: 'someone', password: 'password1', admin: true }],
    ['a body that is not an object', ['someone', 'password1']],
    ['a taken nickname', { nickname: taken.nickname, password: 'password1' }],
  ]
  for (const [name, payload] of cases) {
    const res = await app.inject({ method: 'POST', url: '/api/users', payload: payload as object })
    t.equal(res.statusCode, 400, name)
    t.type(res.json().error, 'string', `${name}: {error}`)
  }
  t.equal(await rowCount(app, 'users'), before, 'no user was created')
})

t.test('a 32-character unicode nickname is accepted', async (t) => {
  const app = await buildTestApi(t)
  const nickname = 'ñ'.repeat(31) + 'é'
  const res = await app.inject({ method: 'POST', url: '/api/users', payload: { nickname, password: 'password1' } })
  t.equal(res.statusCode, 201)
  t.equal(res.json().nickname, nickname)
})

t.test('GET /api/users lists users ordered by updated_at then nickname, with filters', async (t) => {
  const app = await buildTestApi(t)
  const names = ['carol', 'alice', 'bob']
  for (const nickname of names) {
    await app.inject({ method: 'POST', url: '/api/users', payload: { nickname, password: 'password1' } })
  }
  // Same updated_at for all three: the nickname breaks the tie.
  await app.pg.query("UPDATE users SET updated_at = '2026-01-01T00:00:00Z'")
  const all = await app.inject({ method: 'GET', url: '/api/users' })
  t.equal(all.statusCode, 200)
  t.same(all.json().users.map((u: { nickname: string }) => u.nickname), ['alice', 'bob', 'carol'])

  await app.pg.query("UPDATE users SET updated_at = '2026-01-02T00:00:00Z' WHERE nickname = 'alice'")
  const ordered = await app.inject({ method: 'GET', url: '/api/users' })
  t.same(ordered.json().users.map((u: { nickname: string }) => u.nickname), ['bob', 'carol', 'alice'])

  const since = Date.parse('2026-01-01T00:00:00Z') / 1000
  const newer = await app.inject({ method: 'GET', url: `/api/users?updated_since=${since}` })
  t.same(newer.json().users.map((u: { nickname: string }) => u.nickname), ['alice'], 'updated_since is strictly after')

  // A token marks its owner online, so ?online=1 lists the caller.
  const dave = await createUser(app, 'dave')
  const online = await app.inject({ method: 'GET', url: '/api/users?online=1', headers: dave.auth })
  t.same(online.json().users.map((u: { nickname: string }) => u.nickname), ['dave'])
  const offline = await app.inject({ method: 'GET', url: '/api/users?online=0' })
  t.same(offline.json().users.map((u: { nickname: string }) => u.nickname).sort(), ['alice', 'bob', 'carol'])

  for (const query of ['online=2', 'online=yes', 'updated_since=abc', 'updated_since=-1', 'sort=nickname']) {
    const res = await app.inject({ method: 'GET', url: `/api/users?${query}` })
    t.equal(res.statusCode, 400, query)
  }
  const badToken = await app.inject({ method: 'GET', url: '/api/users', headers: { authorization: 'Bearer nope' } })
  t.equal(badToken.statusCode, 401, 'a token that is sent must be valid')
})

t.test('GET /api/users/:id', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const res = await app.inject({ method: 'GET', url: `/api/users/${user.id}` })
  t.equal(res.statusCode, 200)
  t.equal(res.json().nickname, user.nickname)
  t.equal((await app.inject({ method: 'GET', url: '/api/users/999999' })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: '/api/users/99999999999999' })).statusCode, 400)
  t.equal((await app.inject({ method: 'GET', url: '/api/users/abc' })).statusCode, 400)
  t.equal((await app.inject({ method: 'GET', url: `/api/users/${user.id}`, headers: { authorization: 'Bearer x.y.z' } })).statusCode, 401)
})

t.test('PUT /api/users/:id changes your own nickname', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const other = await createUser(app)
  const nickname = uniqueNickname('renamed')
  const res = await app.inject({ method: 'PUT', url: `/api/users/${user.id}`, headers: user.auth, payload: { nickname } })
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  t.equal((await app.inject({ method: 'GET', url: `/api/users/${user.id}` })).json().nickname, nickname)

  const checks: Array<[string, number, object, object | undefined]> = [
    ['someone else', 403, { url: `/api/users/${other.id}` }, { nickname: 'hijack' }],
    ['unknown user', 404, { url: '/api/users/999999' }, { nickname: 'ghost' }],
    ['no token', 401, { url: `/api/users/${user.id}`, headers: {} }, { nickname: 'nobody' }],
    ['empty body', 400, { url: `/api/users/${user.id}` }, {}],
    ['taken nickname', 400, { url: `/api/users/${user.id}` }, { nickname: other.nickname }],
    ['invalid nickname', 400, { url: `/api/users/${user.id}` }, { nickname: 'has space' }],
    ['unknown field', 400, { url: `/api/users/${user.id}` }, { online: true }],
  ]
  for (const [name, status, req, payload] of checks) {
    const res = await app.inject({ method: 'PUT', headers: user.auth, payload, ...req })
    t.equal(res.statusCode, status, name)
  }
  t.equal((await stored(app, other.id)).nickname, other.nickname, 'other user untouched')
  t.equal((await stored(app, user.id)).nickname, nickname)
})

t.test('changing the password revokes every token of that user', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const second = await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: `Basic ${Buffer.from(`${user.nickname}:${user.password}`).toString('base64')}` } })
  const otherToken = { authorization: `Bearer ${second.json().token}` }
  const res = await app.inject({ method: 'PUT', url: `/api/users/${user.id}`, headers: user.auth, payload: { password: 'a new password' } })
  t.equal(res.statusCode, 204)
  for (const headers of [user.auth, otherToken]) {
    t.equal((await app.inject({ method: 'GET', url: '/api/users', headers })).statusCode, 401, 'old token revoked')
  }
  const old = await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: `Basic ${Buffer.from(`${user.nickname}:${user.password}`).toString('base64')}` } })
  t.equal(old.statusCode, 401, 'old password refused')
  const fresh = await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: `Basic ${Buffer.from(`${user.nickname}:a new password`).toString('base64')}` } })
  t.equal(fresh.statusCode, 200, 'new password works')
})

t.test('a cached user is dropped as soon as it changes, on every api instance', async (t) => {
  const first = await buildTestApi(t)
  const second = await buildTestApi(t)
  const user = await createUser(first)
  const get = async (app: typeof first): Promise<{ nickname: string, online: boolean }> => (await app.inject({ method: 'GET', url: `/api/users/${user.id}` })).json()
  t.equal((await get(first)).nickname, user.nickname)
  t.equal((await get(second)).nickname, user.nickname, 'both instances now hold the row')
  const nickname = uniqueNickname('changed')
  await first.inject({ method: 'PUT', url: `/api/users/${user.id}`, headers: user.auth, payload: { nickname } })
  t.equal((await get(first)).nickname, nickname, 'read your own write at once')
  // Within the 5 s its copy would otherwise be served for.
  await waitFor(async () => (await get(second)).nickname === nickname, 3000, 'the other instance to drop its copy')
  t.pass('the other instance dropped its copy')
  await second.inject({ method: 'DELETE', url: '/api/tokens', headers: user.auth })
  t.equal((await get(second)).online, false)
  await waitFor(async () => (await get(first)).online === false, 3000, 'the presence flip to reach the first cache')
  t.pass('presence flips reach every cache')
})
