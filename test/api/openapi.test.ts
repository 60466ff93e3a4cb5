import t from 'tap'
import fc from 'fast-check'
import Ajv from 'ajv'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { basic, buildTestApi, createUser, testPool } from '../helper'
import { OPENAPI_FILE, formatDocument } from '../../scripts/openapi'

const ROOT = join(__dirname, '..', '..')

interface Response { description: string, headers?: Record<string, unknown>, content?: Record<string, { schema: object }> }
interface Parameter { in: string, name: string, required?: boolean }
interface Operation {
  operationId?: string, summary?: string, tags?: string[], security?: Array<Record<string, string[]>>,
  parameters?: Parameter[], requestBody?: unknown, responses: Record<string, Response>
}
interface Document {
  openapi: string, servers?: Array<{ url: string }>, tags?: Array<{ name: string }>,
  paths: Record<string, Record<string, Operation>>, components: { schemas: Record<string, object> }
}
interface Op { method: string, path: string, pointer: string, operation: Operation }

function operations (doc: Document): Op[] {
  return Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({
    method: method.toUpperCase(), path, operation, pointer: `#/paths/${path.replaceAll('~', '~0').replaceAll('/', '~1')}/${method}`,
  })))
}

const served = async (app: FastifyInstance): Promise<Document> => (await app.inject('/docs/json')).json()

t.test('the served document is docs/openapi.json, byte for byte (else: npm run openapi)', async (t) => {
  const app = await buildTestApi(t)
  const doc = await served(app)
  const committed = readFileSync(OPENAPI_FILE, 'utf8')
  t.same(JSON.parse(committed), doc, 'same content')
  t.equal(committed, formatDocument(doc), 'same text')
})

t.test('every operation has an operationId, a summary, tags, security and described responses', async (t) => {
  const app = await buildTestApi(t)
  const doc = await served(app)
  t.match(doc.openapi, /^3\./)
  t.ok(doc.servers !== undefined && doc.servers.length > 0, 'servers')
  const tags = new Set((doc.tags ?? []).map((tag) => tag.name))
  const ids = new Set<string>()
  const ops = operations(doc)
  t.ok(ops.length >= 13, `${ops.length} operations`)
  for (const { method, path, operation } of ops) {
    const what = `${method} ${path}`
    t.ok(operation.operationId !== undefined && !ids.has(operation.operationId), `${what}: a unique operationId`)
    ids.add(operation.operationId ?? '')
    t.ok(operation.summary, `${what}: summary`)
    t.ok(operation.tags !== undefined && operation.tags.length > 0 && operation.tags.every((tag) => tags.has(tag)), `${what}: declared tags`)
    t.ok(Array.isArray(operation.security), `${what}: security stated`)
    for (const [status, response] of Object.entries(operation.responses)) {
      t.ok(response.description !== '' && response.description !== 'Default Response', `${what} ${status}: described`)
      if (Number(status) >= 400) {
        t.same(response.content?.['application/json']?.schema, { $ref: '#/components/schemas/Error' }, `${what} ${status}: the shared Error schema`)
      }
    }
    for (const status of ['500', '503']) t.ok(operation.responses[status], `${what}: ${status}`)
    if (operation.requestBody !== undefined || method === 'DELETE') {
      for (const status of ['400', '413', '415']) t.ok(operation.responses[status], `${what} reads a body: ${status}`)
    }
    if (path.includes('{')) for (const status of ['400']) t.ok(operation.responses[status], `${what} has a path parameter: ${status}`)
  }
  t.same(Object.keys(doc.components.schemas).sort(), ['Error', 'Message', 'Room', 'User'])
})

// A valid request, but with a token that cannot be valid: a route that checks tokens answers 401.
t.test('security: exactly the routes that check a token say so', async (t) => {
  const app = await buildTestApi(t)
  const user = await createUser(app)
  const doc = await served(app)
  for (const { method, path, operation } of operations(doc)) {
    const url = path.replace('{id}', path.startsWith('/api/users') ? String(user.id) : '1')
    // Bodies are validated before tokens are checked: each route gets one it accepts.
    const payload = operation.requestBody === undefined
      ? undefined
      : path.startsWith('/api/users') ? { nickname: `sec${Math.random().toString(36).slice(2, 9)}`, ...(method === 'POST' ? { password: 'a password' } : {}) } : { source: 'hi' }
    const res = await app.inject({ method: method as InjectOptions['method'], url, payload, headers: { authorization: 'Bearer not.a.token' } })
    const schemes = (operation.security ?? []).flatMap((requirement) => Object.keys(requirement))
    const optional = (operation.security ?? []).some((requirement) => Object.keys(requirement).length === 0)
    if (res.statusCode === 401) {
      t.ok(schemes.includes('bearer') || schemes.includes('basic'), `${method} ${path} checks tokens and documents a scheme`)
      t.ok(operation.responses['401'], `${method} ${path}: 401 documented`)
    } else {
      t.same(schemes, [], `${method} ${path} ignores tokens and documents none`)
    }
    if (schemes.includes('bearer') && !optional) {
      const anonymous = await app.inject({ method: method as InjectOptions['method'], url, payload })
      t.equal(anonymous.statusCode, 401, `${method} ${path}: a required token is required`)
    }
  }
})

// Generated requests, valid and not, to every operation: whatever a route answers is in its
// documentation, errors in the one form, successes in the documented schema.
t.test('every status a route answers is documented, with a body of the documented schema', async (t) => {
  const app = await buildTestApi(t, { LOGIN_FAILURES_PER_NICKNAME: 1, BODY_LIMIT_BYTES: 2048 })
  const doc = await served(app)
  const ajv = new Ajv({ strict: false })
  ajv.addSchema({ ...doc, $id: 'openapi' })
  const users = [await createUser(app), await createUser(app)]
  const posted = await app.inject({ method: 'POST', url: '/api/messages', headers: users[0].auth, payload: { source: 'hi' } })
  const taskId = String(posted.headers.location).split('/').pop() ?? ''
  // A message of each user (written as the worker would), so edits meet an author and a stranger.
  const pool = await testPool(t)
  const { rows } = await pool.query<{ id: number }>("INSERT INTO messages (source, html, user_id) VALUES ('a', 'a', $1), ('b', 'b', $2) RETURNING id", [users[0].id, users[1].id])
  const ops = operations(doc)
  const seen = new Map<string, Set<string>>()

  const idValue = fc.oneof(
    fc.constantFrom('1', String(users[0].id), String(users[1].id), taskId, ...rows.map((row) => String(row.id))),
    fc.integer({ min: -5, max: 1e6 }).map(String), fc.constantFrom('0', 'abc', '1.5', '1e3', '99999999999', '%20', 'x'.repeat(120)),
  )
  // Tokens are issued when a request is sent: an earlier DELETE /api/tokens may have revoked any other.
  const auth = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(0, 1).map((user) => ({ bearerOf: user })) },
    { weight: 1, arbitrary: fc.constantFrom(undefined, 'Bearer not.a.token', 'Basic Zm9v') },
    { weight: 1, arbitrary: fc.constantFrom(...users).map((user) => basic(user.nickname, user.password)) },
    { weight: 1, arbitrary: fc.constantFrom(...users).map((user) => basic(user.nickname, 'a wrong password')) },
  )
  const queryValue = fc.oneof(fc.constantFrom('0', '1', '2', '-1', 'x', '1700000000', '99999999999999'), fc.integer().map(String))
  const jsonBody = fc.oneof(
    fc.record({ source: fc.oneof(fc.string(), fc.constant('hello *there*'), fc.constant('')) }),
    fc.record({ nickname: fc.oneof(fc.string({ maxLength: 40 }), fc.stringMatching(/^[a-z]{3,20}$/)), password: fc.string({ minLength: 6, maxLength: 12 }) }, { requiredKeys: [] }),
    fc.jsonValue({ maxDepth: 2 }),
  ).map((value) => ({ type: 'application/json', text: JSON.stringify(value) ?? 'null' }))
  const body = fc.oneof(
    { weight: 4, arbitrary: jsonBody },
    { weight: 1, arbitrary: fc.constantFrom('{bad', '', 'x'.repeat(3000)).map((text) => ({ type: 'application/json', text })) },
    { weight: 1, arbitrary: fc.constantFrom('application/xml', 'text/plain', 'application/x-www-form-urlencoded').map((type) => ({ type, text: 'a=1' })) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  )
  const request = fc.record({
    op: fc.constantFrom(...ops),
    id: idValue,
    auth,
    query: fc.dictionary(fc.constantFrom('online', 'updated_since', 'user_id', 'other'), queryValue, { maxKeys: 2 }),
    body,
    prefer: fc.option(fc.constantFrom('wait=0', 'wait=abc', 'respond-async', 'wait=0, handling=lenient'), { nil: undefined }),
  })

  await fc.assert(fc.asyncProperty(request, async ({ op, id, auth, query, body, prefer }) => {
    const search = new URLSearchParams(query).toString()
    const authorization = typeof auth === 'object' ? `Bearer ${await app.issueToken(users[auth.bearerOf].id)}` : auth
    const options: InjectOptions = {
      method: op.method as InjectOptions['method'],
      url: op.path.replace(/\{[a-z_]+\}/g, id) + (search === '' ? '' : `?${search}`),
      headers: { ...(authorization === undefined ? {} : { authorization }), ...(prefer === undefined ? {} : { prefer }) },
    }
    if (body !== undefined && op.method !== 'GET') {
      options.headers = { ...options.headers, 'content-type': body.type }
      options.payload = body.text
    }
    const res = await app.inject(options)
    const status = String(res.statusCode)
    const response = op.operation.responses[status]
    const what = `${options.method} ${options.url} (${JSON.stringify(options.payload ?? '').slice(0, 60)}) answered ${status} ${res.body.slice(0, 120)}`
    if (response === undefined) throw new Error(`${what}: not documented`)
    const schema = response.content?.['application/json']?.schema
    if (schema === undefined) {
      if (res.body !== '') throw new Error(`${what}: a body where none is documented`)
    } else {
      const validate = ajv.getSchema(`openapi${op.pointer}/responses/${status}/content/application~1json/schema`)
      if (validate === undefined) throw new Error(`${what}: schema not found`)
      const json = res.json() as unknown
      if (!validate(json)) throw new Error(`${what}: body breaks the documented schema: ${ajv.errorsText(validate.errors)}`)
      if (res.statusCode >= 400 && Object.keys(json as object).length !== 1) throw new Error(`${what}: not the one error form {"error": "..."}`)
    }
    seen.set(`${op.method} ${op.path}`, (seen.get(`${op.method} ${op.path}`) ?? new Set()).add(status))
  }), { seed: 20261204, numRuns: 600 })

  const all = new Set([...seen.values()].flatMap((statuses) => [...statuses]))
  t.comment(`statuses seen: ${[...all].sort().join(', ')}`)
  for (const status of ['200', '201', '202', '204', '400', '401', '403', '404', '413', '415', '429']) t.ok(all.has(status), `the inputs reached a ${status}`)
})

t.test('with the database unreachable, every operation answers a documented status', async (t) => {
  const app = await buildTestApi(t, { DATABASE_URL: 'postgresql://nobody:x@127.0.0.1:1/none' })
  const doc = await served(app)
  for (const { method, path, operation } of operations(doc)) {
    const res = await app.inject({ method: method as InjectOptions['method'], url: path.replace('{id}', '1'), headers: { authorization: 'Basic Zm9vOmJhcg==' } })
    t.ok(operation.responses[String(res.statusCode)], `${method} ${path}: ${res.statusCode} is documented`)
  }
})

// CI lints the committed document; it must stay offline (redocly.yaml turns telemetry off).
t.test('redocly lint finds no problem in docs/openapi.json', async (t) => {
  const cli = join(ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js')
  const { stdout } = await promisify(execFile)(process.execPath, [cli, 'lint', 'docs/openapi.json', '--config', 'redocly.yaml', '--format', 'json'], {
    cwd: ROOT,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    timeout: 60_000,
  }).catch((err: { stdout?: string, stderr?: string }) => {
    t.fail(`redocly lint failed: ${err.stdout ?? ''}${err.stderr ?? ''}`)
    return { stdout: err.stdout ?? '{}' }
  })
  const report = JSON.parse(stdout) as { totals?: { errors: number, warnings: number }, problems?: Array<{ ruleId: string, message: string }> }
  t.same(report.totals, { errors: 0, warnings: 0, ignored: 2 }, (report.problems ?? []).map((p) => `${p.ruleId}: ${p.message}`).join('; '))
})
