import t from 'tap'
import { createHmac, randomUUID } from 'node:crypto'
import { TEST_SECRET, basic, buildTestApi, count, createUser, rowCount, testPool, waitFor } from '../helper'
import { tokenRevoked, userTokensRevoked } from '../../lib/auth-cache'
import { PUBLISH_LOCK } from '../../lib/queries/events'

const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')
function jwt (payload: object, secret = TEST_SECRET, header: object = { alg: 'HS256', typ: 'JWT' }): string {
  const body = `${b64(header)}.${b64(payload)}`
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`
}
const now = (): number => Math.floor(Date.now() / 1000)

t.test('POST /api/tokens signs in with Basic auth', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const res = await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: basic(user.nickname, user.password) } })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { token: /^[\w-]+\.[\w-]+\.[\w-]+$/ })
  const me = await app.inject({ method: 'GET', url: `/api/users/${user.id}`, headers: { authorization: `Bearer ${res.json().token}` } })
  t.equal(me.statusCode, 200)
  t.equal(me.json().online, true, 'signing in marks the user online')
})

// One instant, one clock read: a token's row expires exactly when its JWT's exp says, for every sign-in.
t.test('a token row expires at the JWT\'s exp, to the millisecond', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)
  for (let i = 0; i < 40; i++) {
    const { token } = (await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: basic(user.nickname, user.password) } })).json()
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { jti: string, iat: number, exp: number }
    const { rows: [row] } = await pool.query<{ ms: string }>('SELECT extract(epoch FROM expires_at) * 1000 AS ms FROM tokens WHERE id = $1', [claims.jti])
    if (Number(row.ms) !== claims.exp * 1000) return t.fail(`token ${i}: row expires at ${row.ms}, JWT exp ${claims.exp * 1000}`)
  }
  t.pass('40 sign-ins: row and JWT agree')
})

t.test('failed sign-ins answer 401 with a Bearer challenge', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const headers: Array<[string, string | undefined]> = [
    ['no header', undefined],
    ['wrong password', basic(user.nickname, 'wrong password')],
    ['unknown nickname', basic('nobody-here', user.password)],
    ['no colon', `Basic ${Buffer.from('justanickname').toString('base64')}`],
    ['empty nickname', basic('', user.password)],
    ['not base64', 'Basic %%%not-base64%%%'],
    ['bearer instead of basic', `Bearer ${user.token}`],
    ['scheme only', 'Basic'],
    ['garbage', 'xyz'],
  ]
  for (const [name, authorization] of headers) {
    const res = await app.inject({ method: 'POST', url: '/api/tokens', headers: authorization === undefined ? {} : { authorization } })
    t.equal(res.statusCode, 401, name)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="Authentication Required"', `${name}: no browser prompt`)
    t.type(res.json().error, 'string')
  }
  t.equal(await rowCount(app, 'tokens'), 1, 'no token issued')
})

t.test('failed logins are rate-limited per nickname and address, and per address', async (t) => {
  const app = await buildTestApi(t, { LOGIN_FAILURES_PER_NICKNAME: 3, LOGIN_FAILURES_PER_ADDRESS: 5 })
  const user = await createUser(app)
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: basic(user.nickname, 'bad guess') } })
    t.equal(res.statusCode, 401)
  }
  const limited = await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: basic(user.nickname, user.password) } })
  t.equal(limited.statusCode, 429, 'even the right password, from the address that guessed, waits once the pair is limited')
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After given')
  const other = await createUser(app)
  const fromElsewhere = await app.inject({ method: 'POST', url: '/api/tokens', remoteAddress: '10.1.1.1', headers: { authorization: basic(other.nickname, other.password) } })
  t.equal(fromElsewhere.statusCode, 200, 'other nicknames are unaffected')
  for (let i = 0; i < 2; i++) {
    await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: basic(`guess${i}`, 'bad guess') } })
  }
  const addressLimited = await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: basic(other.nickname, other.password) } })
  t.equal(addressLimited.statusCode, 429, 'the address is limited after 5 failures')
})

t.test('DELETE /api/tokens revokes only the token used', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const second = (await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: basic(user.nickname, user.password) } })).json().token
  const res = await app.inject({ method: 'DELETE', url: '/api/tokens', headers: user.auth })
  t.equal(res.statusCode, 204)
  t.equal((await app.inject({ method: 'GET', url: '/api/users', headers: user.auth })).statusCode, 401, 'revoked token refused')
  t.equal((await app.inject({ method: 'DELETE', url: '/api/tokens', headers: user.auth })).statusCode, 401, 'cannot revoke twice')
  t.equal((await app.inject({ method: 'GET', url: '/api/users', headers: { authorization: `Bearer ${second}` } })).statusCode, 200, 'other token still works')
  t.equal((await app.inject({ method: 'DELETE', url: '/api/tokens' })).statusCode, 401, 'no token')
})

t.test('forged, expired, revoked and wrongly signed tokens are refused', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const jti = (app.jwt.decode(user.token) as { jti: string }).jti
  const revokedJti = randomUUID()
  await app.pg.query("INSERT INTO tokens (id, user_id, expires_at, revoked_at) VALUES ($1, $2, now() + interval '1 hour', now())", [revokedJti, user.id])
  const expiredRowJti = randomUUID()
  await app.pg.query("INSERT INTO tokens (id, user_id, expires_at) VALUES ($1, $2, now() - interval '1 second')", [expiredRowJti, user.id])
  const tokens: Array<[string, string]> = [
    ['wrong secret', jwt({ sub: String(user.id), jti, iat: now() }, 'another-secret-another-secret-another')],
    ['expired', jwt({ sub: String(user.id), jti, iat: now() - 7200, exp: now() - 3600 })],
    ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: String(user.id), jti })}.`],
    ['unknown jti', jwt({ sub: String(user.id), jti: randomUUID(), iat: now() })],
    ['jti that is not a uuid', jwt({ sub: String(user.id), jti: "x' OR 1=1 --", iat: now() })],
    ['another user id', jwt({ sub: String(user.id + 1), jti, iat: now() })],
    ['sub not a number', jwt({ sub: 'admin', jti, iat: now() })],
    ['revoked row', jwt({ sub: String(user.id), jti: revokedJti, iat: now() })],
    ['expired row', jwt({ sub: String(user.id), jti: expiredRowJti, iat: now() })],
    ['tampered payload', `${user.token.split('.')[0]}.${b64({ sub: String(user.id + 1), jti })}.${user.token.split('.')[2]}`],
    ['not a jwt', 'hello'],
    ['empty', ''],
  ]
  for (const [name, token] of tokens) {
    const res = await app.inject({ method: 'GET', url: '/api/users', headers: { authorization: `Bearer ${token}` } })
    t.equal(res.statusCode, 401, name)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="Authentication Required"')
  }
  t.equal((await app.inject({ method: 'GET', url: '/api/users', headers: user.auth })).statusCode, 200, 'the real token works')
})

t.test('a token read that raced a revocation is not cached as valid', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const later = Date.now() + 60_000
  const jti = randomUUID()
  await waitFor(async () => {
    app.authCache.rememberToken(jti, user.id, later, app.authCache.tokenEpoch)
    return app.authCache.userForToken(jti) === user.id
  }, 5000, 'the cache to listen')
  for (const notice of [tokenRevoked(jti), userTokensRevoked(user.id)]) {
    app.authCache.forget(notice)
    // The token's row was read before the revocation committed; its answer comes after the notice.
    const readAt = app.authCache.tokenEpoch
    app.authCache.forget(notice)
    app.authCache.rememberToken(jti, user.id, later, readAt)
    t.equal(app.authCache.userForToken(jti), null, `not remembered across ${notice.split(':')[0]}`)
  }
})

// Rule: once a password change has answered 204, no token issued before it is accepted anywhere,
// not even by a request that read the token's row while the change was still uncommitted.
t.test('a token read while a password change commits is refused as soon as the change answers', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  for (let round = 0; round < 5; round++) {
    const user = await createUser(app)
    t.equal((await app.inject({ url: `/api/users/${user.id}`, headers: user.auth })).statusCode, 200, 'the token works (and is cached)')
    // Holding the publish lock stops the change after it revoked the tokens and before it commits.
    const locker = await pool.connect()
    await locker.query('SELECT pg_advisory_lock($1)', [PUBLISH_LOCK])
    const change = app.inject({ method: 'PUT', url: `/api/users/${user.id}`, headers: user.auth, payload: { password: `new password ${round}` } })
    await waitFor(async () => await count(pool, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") > 0, 5000, 'the change to wait')
    const during = await app.inject({ url: `/api/users/${user.id}`, headers: user.auth })
    t.equal(during.statusCode, 200, 'while uncommitted, the token still reads as valid')
    await locker.query('SELECT pg_advisory_unlock($1)', [PUBLISH_LOCK])
    locker.release()
    t.equal((await change).statusCode, 204)
    const after = await app.inject({ url: `/api/users/${user.id}`, headers: user.auth })
    t.equal(after.statusCode, 401, `round ${round}: the old token is refused once the change answered`)
  }
})
