import t, { type Test } from 'tap'
import fc from 'fast-check'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { basic, buildTestApi, count, createUser, testPool, type TestUser } from '../helper'
import { startTestPush } from '../push/helper'

// Values a client may put in any path segment or query field.
const hostileNumbers = ['Infinity', '-Infinity', '+Infinity', 'NaN', '1e400', '-1e400', '1e3', '1.5', '-1', '0', '-0', '0x10', '0b1', '0o7',
  '2147483648', '4294967296', '9007199254740993', '1'.repeat(300), '-' + '9'.repeat(400), ' 1', '1 ', '', 'null', 'true', '[]', '{}']
const hostileText = ['%zz', '%', '%ff%fe', '%c3%28', '%00', '..%2f..', "' OR 1=1--", '<script>', '\u0000', '\uffff', '😀', 'a'.repeat(5000)]

const hostileValue = fc.oneof(
  fc.constantFrom(...hostileNumbers).map(encodeURIComponent),
  fc.constantFrom(...hostileText).map((v) => v.startsWith('%') || v.startsWith('..') ? v : encodeURIComponent(v)),
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
  fc.double().map(String).map(encodeURIComponent),
  fc.stringMatching(/^[0-9]{1,400}$/),
  fc.fullUnicodeString({ maxLength: 40 }).map(encodeURIComponent),
  fc.uint8Array({ maxLength: 12 }).map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
)

interface Route { method: string, path: string, query: string[] }

// Every route of the app, from its router, with the query fields its OpenAPI document names.
function routesOf (app: FastifyInstance): Route[] {
  type Paths = Record<string, Record<string, { parameters?: Array<{ in: string, name: string }> }>>
  // The push service has no OpenAPI document: its one query field is named below.
  const documented: Paths = 'swagger' in app ? (app.swagger() as { paths: Paths }).paths : {}
  const stack: string[] = []
  const routes: Route[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+) \(([^)]+)\)/.exec(line)
    if (match === null) continue
    const depth = match[1].length / 4
    stack[depth] = (depth === 0 ? '' : stack[depth - 1]) + match[2]
    for (const method of match[3].split(', ')) {
      const path = stack[depth]
      const operation = documented[path.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()]
      const query = (operation?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)
      routes.push({ method, path, query: [...query, ...(path === '/ws' ? ['since'] : []), 'unknown_field'] })
    }
  }
  return routes
}

function assertOneErrorForm (t: Test, res: { statusCode: number, body: string, headers: Record<string, unknown> }, what: string): void {
  if (res.statusCode < 400 || what.startsWith('HEAD ')) return
  let body: unknown
  try { body = JSON.parse(res.body) } catch { body = res.body }
  const ok = typeof body === 'object' && body !== null && Object.keys(body).length === 1 && typeof (body as { error?: unknown }).error === 'string'
  if (!ok) t.fail(`${what}: ${res.statusCode} ${res.body.slice(0, 200)} is not {"error": "..."}`)
}

const validBody = (route: Route, user: TestUser): object | undefined => {
  if (route.method !== 'POST' && route.method !== 'PUT') return undefined
  if (route.path.startsWith('/api/users')) return route.method === 'POST' ? { nickname: 'h' + Math.random().toString(36).slice(2, 10), password: 'password1' } : { nickname: user.nickname }
  return { source: 'hello' }
}

t.test('ids and times: Infinity, 1e400, huge and fractional numbers are a 400 on every route that takes them', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const urls = (v: string): Array<[string, string]> => [
    ['GET', `/api/users/${v}`], ['PUT', `/api/users/${v}`], ['GET', `/api/messages/${v}`], ['PUT', `/api/messages/${v}`],
    ['GET', `/api/messages?user_id=${v}`], ['GET', `/api/messages?updated_since=${v}`], ['GET', `/api/users?updated_since=${v}`],
  ]
  for (const value of ['Infinity', '-Infinity', '1e400', '-1e400', '9'.repeat(90), '1.5', '0', '-1', '2147483648', 'NaN', '1e3', ' 1']) {
    for (const [method, url] of urls(encodeURIComponent(value))) {
      // 0 and 2^31 are fine times, just not ids.
      if ((value === '0' || value === '2147483648') && url.includes('updated_since')) continue
      const res = await app.inject({ method: method as 'GET', url, headers: user.auth, ...(method === 'PUT' ? { payload: { source: 'x', nickname: 'y' } } : {}) })
      t.equal(res.statusCode, 400, `${method} ${url}`)
      assertOneErrorForm(t, res, `${method} ${url}`)
    }
  }
  // The bounds themselves are valid.
  t.equal((await app.inject({ method: 'GET', url: '/api/users/2147483647' })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: '/api/users?updated_since=0' })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/api/messages?updated_since=253402300799' })).statusCode, 200)
})

t.test('Fastify\'s own errors answer in the one form, in the api and the push service', async (t) => {
  const api = await buildTestApi(t)
  const push = await startTestPush(t)
  for (const app of [api, push.app]) {
    const badUrl = await app.inject({ method: 'GET', url: '/api/users/%zz' })
    t.equal(badUrl.statusCode, 400)
    t.same(Object.keys(badUrl.json()), ['error'], badUrl.body)
    // However long, an id reaches its route's validation (the push service has no such route): not another route's 403 or 414.
    for (const digits of [101, 5000]) {
      const long = await app.inject({ method: 'GET', url: `/api/users/${'1'.repeat(digits)}` })
      t.equal(long.statusCode, app === api ? 400 : 404, `${digits}-digit id`)
      t.same(Object.keys(long.json()), ['error'], long.body)
      t.equal(long.headers['x-content-type-options'], 'nosniff')
    }
  }
  const badQuery = await push.app.inject({ method: 'GET', url: '/ws?since=%zz' })
  t.equal(badQuery.statusCode, 400)
  t.same(Object.keys(badQuery.json()), ['error'], badQuery.body)
  t.type(badQuery.json().error, 'string')
})

t.test('JSON responses carry X-Content-Type-Options: nosniff', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  for (const url of ['/api/users', `/api/users/${user.id}`, '/api/users/999999', '/api/nothing', '/stats', '/api/messages']) {
    const res = await app.inject({ method: 'GET', url, headers: user.auth })
    t.equal(res.headers['x-content-type-options'], 'nosniff', url)
  }
})

t.test('token responses are never cached (RFC 6749 §5.1)', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const res = await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: basic(user.nickname, user.password) } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(res.headers.pragma, 'no-cache')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
})

t.test('property: no path or query value makes any route of the api or push service answer 5xx, and every error is {"error": "..."}', async (t) => {
  const api = await buildTestApi(t)
  const push = (await startTestPush(t)).app
  const user = await createUser(api)
  const apps = [api, push]
  // Readiness answers 503 by design while something it needs is down, whatever the request.
  const routes = [...routesOf(api).map((r) => ({ ...r, app: 0 })), ...routesOf(push).map((r) => ({ ...r, app: 1 }))]
    .filter((r) => !r.path.startsWith('/readyz'))
  t.ok(routes.length >= 25, `${routes.length} routes`)
  t.ok(routes.some((r) => r.path === '/api/messages/:id' && r.method === 'PUT'), 'the routes include PUT /api/messages/:id')
  t.ok(routes.some((r) => r.path === '/ws' && r.app === 1), 'and the push socket\'s')
  let requests = 0
  await fc.assert(fc.asyncProperty(
    fc.constantFrom(...routes), hostileValue, fc.nat(), fc.boolean(), fc.boolean(),
    async ({ app: which, ...route }, value, pick, twice, authed) => {
      const app = apps[which]
      const fields = route.query
      const field = fields[pick % fields.length]
      const params = route.path.includes(':') ? route.path.replace(/:\w+/g, pick % 2 === 0 ? value : '1') : route.path
      const query = `${field}=${value}${twice ? `&${field}=${value}` : ''}`
      const url = `${params.replace('*', `/${value}`)}?${query}`
      const body = validBody(route, user)
      const options: InjectOptions = { method: route.method as 'GET', url, headers: authed ? user.auth : {}, ...(body === undefined ? {} : { payload: body }) }
      const res = await app.inject(options)
      requests++
      if (res.statusCode >= 500) t.fail(`${route.method} ${url}: ${res.statusCode} ${res.body.slice(0, 200)}`)
      assertOneErrorForm(t, res, `${route.method} ${url}`)
      return res.statusCode < 500
    }), { numRuns: 800, seed: 12 })
  t.ok(requests >= 800, `${requests} requests`)
})

// Valid UTF-8 around a sequence no decoder may accept.
const invalidUtf8 = fc.tuple(
  fc.string({ maxLength: 6 }),
  fc.oneof(
    fc.constantFrom([0xff], [0xfe], [0xc3, 0x28], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf5, 0x80, 0x80, 0x80], [0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98]),
    fc.uint8Array({ minLength: 1, maxLength: 8 }).map((a) => [...a]).filter((bytes) => !isUtf8(Buffer.from(bytes))),
  ),
  fc.string({ maxLength: 6 }),
).map(([before, bad, after]) => Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)]))

function isUtf8 (bytes: Buffer): boolean {
  try { new TextDecoder('utf-8', { fatal: true }).decode(bytes); return true } catch { return false }
}

// A JSON body whose one string field holds raw bytes (JSON itself passes bytes >= 0x20 through).
function bodyWith (fields: Record<string, string>, field: string, bytes: Buffer): Buffer {
  const marker = '\u0001MARK\u0001'
  const text = JSON.stringify({ ...fields, [field]: marker })
  const [head, tail] = text.split(JSON.stringify(marker).slice(1, -1))
  const escaped = Buffer.from(bytes.toString('latin1').replace(/["\\]/g, '\\$&').replace(/[\u0000-\u001f]/g, ' '), 'latin1')
  return Buffer.concat([Buffer.from(head), escaped, Buffer.from(tail)])
}

t.test('property: invalid UTF-8 in any string field of any body is a 400 and stores nothing', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)
  const posted = await app.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload: { source: 'mine' } })
  t.equal(posted.statusCode, 202)
  const { rows: [message] } = await pool.query<{ id: number }>("INSERT INTO messages (source, html, user_id) VALUES ('m', '<p>m</p>', $1) RETURNING id", [user.id])
  const snapshot = async (): Promise<number[]> => [
    await count(pool, 'SELECT * FROM users'), await count(pool, 'SELECT * FROM tasks'), await count(pool, 'SELECT * FROM tokens'),
    await count(pool, 'SELECT * FROM users WHERE nickname LIKE $1', ['%\uFFFD%'])]
  const before = await snapshot()
  const bodyRoutes: Array<{ method: 'POST' | 'PUT', url: string, fields: Record<string, string> }> = [
    { method: 'POST', url: '/api/users', fields: { nickname: 'fresh', password: 'password1' } },
    { method: 'PUT', url: `/api/users/${user.id}`, fields: { nickname: 'renamed', password: 'password2' } },
    { method: 'POST', url: '/api/messages', fields: { source: 'hello' } },
    { method: 'PUT', url: `/api/messages/${message.id}`, fields: { source: 'edited' } },
  ]
  const cases = bodyRoutes.flatMap((route) => Object.keys(route.fields).map((field) => ({ ...route, field })))
  await fc.assert(fc.asyncProperty(fc.constantFrom(...cases), invalidUtf8, async (route, bytes) => {
    const res = await app.inject({
      method: route.method, url: route.url, headers: { ...user.auth, 'content-type': 'application/json; charset=utf-8' },
      payload: bodyWith(route.fields, route.field, bytes),
    })
    if (res.statusCode !== 400) t.fail(`${route.method} ${route.url} ${route.field}=${bytes.toString('hex')}: ${res.statusCode} ${res.body}`)
    assertOneErrorForm(t, res, route.url)
    return res.statusCode === 400
  }), { numRuns: 300, seed: 3 })
  t.same(await snapshot(), before, 'nothing stored')
  // The same bodies in valid UTF-8 are accepted: the parser only refuses what is not UTF-8.
  const ok = await app.inject({ method: 'POST', url: '/api/users', headers: { 'content-type': 'application/json' }, payload: Buffer.from('{"nickname":"ünï😀","password":"password1"}') })
  t.equal(ok.statusCode, 201, ok.body)
  t.equal(ok.json().nickname, 'ünï😀')
})
