import t from 'tap'
import { basic, buildTestApi, count, createUser, testDatabase, testEnv, testPool } from '../helper'
import { faultyRelay } from '../support/net'
import { buildApi } from '../../services/api/app'

t.test('/healthz and /readyz', async (t) => {
  const app = await buildTestApi(t)
  t.same((await app.inject('/healthz')).json(), { status: 'ok' })
  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 200)
})

t.test('/readyz answers 503 quickly when the database is unreachable', async (t) => {
  const app = await buildTestApi(t, { DATABASE_URL: 'postgresql://nobody:x@127.0.0.1:1/none' })
  const started = Date.now()
  const res = await app.inject('/readyz')
  t.equal(res.statusCode, 503)
  t.ok(Date.now() - started < 5000, 'no hang')
  const api = await app.inject('/api/users/1')
  t.equal(api.statusCode, 503)
  t.same(api.json(), { error: 'Service temporarily unavailable' })
})

// A database gone silent (a dropped route: queries hang rather than fail) is unavailable too: each
// request ends in the one 503 form at the query timeout, not a 500, and the api serves again once it is back.
t.test('a database that goes silent: reads and posts answer 503 at the query timeout, and the api recovers', async (t) => {
  const relay = await faultyRelay(t, await testDatabase(t))
  const app = await buildTestApi(t, { DATABASE_URL: relay.url })
  const pool = await testPool(t)
  const user = await createUser(app)
  await relay.cut()
  const [read, posted] = await Promise.all([
    app.inject({ method: 'GET', url: '/api/rooms', headers: user.auth }),
    app.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload: { source: 'into the silence' } }),
  ])
  for (const res of [read, posted]) {
    t.equal(res.statusCode, 503, res.body)
    t.same(res.json(), { error: 'Service temporarily unavailable' })
  }
  await relay.mend()
  t.equal((await app.inject({ method: 'GET', url: '/api/rooms', headers: user.auth })).statusCode, 200, 'serving again')
  // The post's fate was unknown to the api: at most one task, never a duplicate.
  t.ok(await count(pool, 'SELECT 1 FROM tasks') <= 1)
})

t.test('/stats counts requests per second over the window', async (t) => {
  const app = await buildTestApi(t, { REQUEST_STATS_WINDOW_SECONDS: 10 })
  for (let i = 0; i < 29; i++) await app.inject('/healthz')
  const res = await app.inject('/stats')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { requests_per_second: 3 }, '30 requests (this one included) over 10 s')
})

t.test('/docs/json is an OpenAPI document of the routes', async (t) => {
  const app = await buildTestApi(t)
  const doc = (await app.inject('/docs/json')).json()
  t.match(doc.openapi, /^3\./)
  for (const path of ['/api/users', '/api/users/{id}', '/api/tokens', '/stats']) t.ok(doc.paths[path], path)
  t.ok(doc.paths['/api/users'].post.responses['201'], 'response schemas documented')
})

t.test('no response or log line carries password or token material', async (t) => {
  const lines: string[] = []
  const app = await buildApi({ env: await testEnv(t, { LOG_LEVEL: 'trace' }), logStream: { write: (line) => { lines.push(line) } } })
  t.teardown(() => app.close())
  const user = await createUser(app, 'secretive', 'my secret password')
  await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: basic('secretive', 'a wrong password') } })
  await app.inject({ method: 'PUT', url: `/api/users/${user.id}`, headers: user.auth, payload: { password: 'another secret password' } })
  for (const url of ['/api/users', `/api/users/${user.id}`]) {
    const res = await app.inject({ url, headers: user.auth })
    t.notMatch(res.body, /secret password|scrypt|password_hash|passwordHash/)
  }
  t.ok(lines.length >= 6, 'requests were logged (one line each)')
  const log = lines.join('')
  for (const secret of ['secret password', 'wrong password', 'scrypt$', user.token, Buffer.from('secretive:a wrong password').toString('base64')]) {
    t.notOk(log.includes(secret), `log does not contain ${secret.slice(0, 12)}...`)
  }
})
