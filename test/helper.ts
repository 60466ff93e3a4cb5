import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { randomBytes } from 'node:crypto'
import { buildApi } from '../services/api/app'
import type { ConfigInput } from '../plugins/config'

type TestContext = Test

const adminUrl = process.env.FLACK_TEST_ADMIN_URL
const template = process.env.FLACK_TEST_TEMPLATE
export const TEST_SECRET = 'test-secret-that-is-at-least-32-characters-long'

function databaseUrl (name: string): string {
  if (adminUrl === undefined) throw new Error('run the tests with `npm test` (it prepares the test database)')
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

export async function adminQuery (sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl('postgres') })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

// The connections still open on a test database, after a grace period for closes in flight.
async function connectionsLeftOn (name: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl('postgres') })
  await client.connect()
  try {
    for (let deadline = Date.now() + 3000; ; await new Promise((resolve) => setTimeout(resolve, 50))) {
      const { rows } = await client.query<{ line: string }>(
        "SELECT format('%s: %s', state, left(query, 60)) AS line FROM pg_stat_activity WHERE datname = $1", [name])
      if (rows.length === 0 || Date.now() > deadline) return rows.map((r) => `${name} ${r.line}`)
    }
  } finally {
    await client.end()
  }
}

const databases = new WeakMap<TestContext, Promise<string>>()
const created: string[] = []
let dropAtEnd = false

// A test's own database, cloned from the migrated template (shared by every service the
// test builds); all are dropped when the file ends.
export function testDatabase (t: TestContext): Promise<string> {
  let database = databases.get(t)
  if (database === undefined) {
    const name = `flack_test_${process.pid}_${randomBytes(4).toString('hex')}`
    created.push(name)
    database = adminQuery(`CREATE DATABASE ${name} TEMPLATE ${template}`).then(() => databaseUrl(name))
    databases.set(t, database)
    if (!dropAtEnd) {
      dropAtEnd = true
      let root: TestContext = t
      while (root.parent !== undefined && root.parent !== null) root = root.parent as TestContext
      root.teardown(async () => {
        const leaks: string[] = []
        for (const name of created) {
          leaks.push(...await connectionsLeftOn(name))
          await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
        }
        // FORCE would hide a connection the code under test never closed: that is a failure.
        if (leaks.length > 0) throw new Error(`connections left open when the test ended: ${leaks.join('; ')}`)
      })
    }
  }
  return database
}

// The settings every test service gets: this file's database, a fixed secret, quiet logs.
export async function testEnv (t: TestContext, overrides: ConfigInput = {}): Promise<ConfigInput> {
  return { DATABASE_URL: await testDatabase(t), JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', NODE_ENV: 'test', ...overrides }
}

// A fresh, ready api for one test, closed when the test ends.
export async function buildTestApi (t: TestContext, overrides: ConfigInput = {}): Promise<FastifyInstance> {
  const app = await buildApi({ env: await testEnv(t, overrides) })
  t.teardown(() => app.close())
  await app.ready()
  return app
}

// How many rows a table has, for tests that check a request stored nothing.
export async function rowCount (app: FastifyInstance, table: 'users' | 'tokens'): Promise<number> {
  return Number((await app.pg.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0].n)
}

let counter = 0
export const uniqueNickname = (prefix = 'user'): string => `${prefix}${process.pid % 1000}x${++counter}`

export const basic = (nickname: string, password: string): string =>
  `Basic ${Buffer.from(`${nickname}:${password}`).toString('base64')}`

export interface TestUser { id: number, nickname: string, password: string, token: string, auth: { authorization: string } }

// Registers a user and signs in through the public API.
export async function createUser (app: FastifyInstance, nickname = uniqueNickname(), password = 'correct horse'): Promise<TestUser> {
  const created = await app.inject({ method: 'POST', url: '/api/users', payload: { nickname, password } })
  if (created.statusCode !== 201) throw new Error(`register failed: ${created.statusCode} ${created.body}`)
  const signedIn = await app.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: basic(nickname, password) } })
  if (signedIn.statusCode !== 200) throw new Error(`sign in failed: ${signedIn.statusCode} ${signedIn.body}`)
  const token = signedIn.json().token as string
  return { id: created.json().id, nickname, password, token, auth: { authorization: `Bearer ${token}` } }
}

// Polls until check gives a value (not null, undefined or false); fails after timeoutMs.
export async function waitFor<T> (check: () => Promise<T | null | undefined | false>, timeoutMs = 10000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== null && value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

// Polls a yes/no check until yes (state written asynchronously, such as presence rows); fails after ms.
export async function eventually (check: () => Promise<boolean>, ms = 5000): Promise<void> {
  await waitFor(check, ms, `a condition, for ${ms} ms`)
}

// A plain pg pool on this test file's database, for assertions.
export async function testPool (t: TestContext): Promise<pg.Pool> {
  const env = await testEnv(t)
  const pool = new pg.Pool({ connectionString: String(env.DATABASE_URL), max: 3 })
  t.teardown(() => pool.end())
  return pool
}

export const count = async (pool: pg.Pool, sql: string, values: unknown[] = []): Promise<number> =>
  Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM (${sql}) q`, values)).rows[0].n)

// The backends of this database that are listening (their last statement was a LISTEN), but the caller's.
export async function listeningBackends (db: { query: (text: string) => Promise<{ rows: Array<{ pid: number }> }> }): Promise<number[]> {
  const { rows } = await db.query(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()")
  return rows.map((r) => r.pid)
}
