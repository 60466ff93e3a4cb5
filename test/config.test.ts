import t from 'tap'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigSchema, loadConfig } from '../plugins/config'
import { buildApi } from '../services/api/app'

const url = 'postgresql://user:pw@localhost:5432/flack'
const secret = 'a-test-secret-that-is-long-enough-1234'

t.test('defaults', async (t) => {
  const config = loadConfig({ DATABASE_URL: url, JWT_SECRET: secret })
  t.match(config, { API_PORT: 5000, PUSH_PORT: 5001, OFFLINE_AFTER_SECONDS: 60, OFFLINE_SWEEP_SECONDS: 5, REQUEST_STATS_WINDOW_SECONDS: 15, LINK_PREVIEW_ALLOW_PRIVATE: false, NODE_ENV: 'development', LOG_LEVEL: 'info' })
})

t.test('values are coerced from their string forms', async (t) => {
  const config = loadConfig({ DATABASE_URL: url, JWT_SECRET: secret, API_PORT: '6000', LINK_PREVIEW_ALLOW_PRIVATE: 'true' })
  t.equal(config.API_PORT, 6000)
  t.equal(config.LINK_PREVIEW_ALLOW_PRIVATE, true)
})

t.test('bad settings fail with a message naming the variable', async (t) => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ JWT_SECRET: secret }, /DATABASE_URL/],
    [{ DATABASE_URL: 'mysql://x', JWT_SECRET: secret }, /DATABASE_URL/],
    [{ DATABASE_URL: url, JWT_SECRET: secret, API_PORT: 'http' }, /API_PORT/],
    [{ DATABASE_URL: url, JWT_SECRET: secret, API_PORT: '70000' }, /API_PORT/],
    [{ DATABASE_URL: url, JWT_SECRET: secret, LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ DATABASE_URL: url, JWT_SECRET: 'short' }, /JWT_SECRET/],
    [{ DATABASE_URL: url, JWT_SECRET: secret, OFFLINE_AFTER_SECONDS: '0' }, /OFFLINE_AFTER_SECONDS/],
    [{ DATABASE_URL: url, JWT_SECRET: secret, LINK_PREVIEW_ALLOW_PRIVATE: 'maybe' }, /LINK_PREVIEW_ALLOW_PRIVATE/],
    [{ DATABASE_URL: url, NODE_ENV: 'production' }, /JWT_SECRET/],
  ]
  for (const [env, message] of bad) t.throws(() => loadConfig(env), message, JSON.stringify(env))
  await t.rejects(buildApi({ env: { DATABASE_URL: url, JWT_SECRET: secret, API_PORT: 'nope' } }), /API_PORT/, 'the factory refuses to build')
})

t.test('outside production a JWT secret is generated once and kept under DATA_DIR', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flack-config-'))
  const first = loadConfig({ DATABASE_URL: url, DATA_DIR: dir })
  const second = loadConfig({ DATABASE_URL: url, DATA_DIR: dir })
  t.ok(first.JWT_SECRET.length >= 32)
  t.equal(second.JWT_SECRET, first.JWT_SECRET)
  t.equal(readFileSync(join(dir, 'jwt-secret'), 'utf8'), first.JWT_SECRET)
})

t.test('process.env is never read by the loader', async (t) => {
  process.env.API_PORT = '7777'
  t.teardown(() => { delete process.env.API_PORT })
  t.equal(loadConfig({ DATABASE_URL: url, JWT_SECRET: secret }).API_PORT, 5000)
})

t.test('.env.example lists every setting with its default', async (t) => {
  const example = readFileSync(join(__dirname, '..', '.env.example'), 'utf8')
  const listed = new Map([...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]))
  const defaults = loadConfig({ DATABASE_URL: url, JWT_SECRET: secret }) as unknown as Record<string, unknown>
  for (const key of Object.keys(ConfigSchema.properties)) {
    t.ok(listed.has(key), `${key} is listed`)
    if (key in defaults && key !== 'DATABASE_URL' && key !== 'JWT_SECRET') t.equal(listed.get(key), String(defaults[key]), `${key} default`)
  }
})
