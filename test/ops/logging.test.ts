// One log line per request, with what an operator needs and no secret; readable on a terminal.
import t from 'tap'
import fc from 'fast-check'
import { buildApi } from '../../services/api/app'
import { basic, createUser, testEnv } from '../helper'
import { loggerOptions, readable } from '../../lib/logging'
import { PassThrough } from 'node:stream'
import { loadConfig } from '../../plugins/config'

t.test('every request, answered or refused, logs exactly one info line with method, url, status, time and id, and no secret', async (t) => {
  const lines: string[] = []
  const app = await buildApi({ env: await testEnv(t, { LOG_LEVEL: 'info' }), logStream: { write: (line) => { lines.push(line) } } })
  t.teardown(() => app.close())
  const user = await createUser(app, 'logged', 'a secret password')
  const secrets = ['a secret password', user.token, Buffer.from('logged:a wrong password').toString('base64')]
  // Seeded, so a failure replays.
  const requests = fc.sample(fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
    url: fc.oneof(fc.constantFrom('/api/users', `/api/users/${user.id}`, '/api/tokens', '/api/messages', '/readyz', '/healthz', '/nowhere'), fc.nat().map((n) => `/api/users/${n}x`)),
    headers: fc.constantFrom<Record<string, string>>({}, user.auth, { authorization: basic('logged', 'a wrong password') }, { cookie: `session=${user.token}` }),
    payload: fc.constantFrom<object>({ password: 'a secret password' }, { source: 'hi' }, {}),
  }), { numRuns: 300, seed: 9 })
  const sent: Array<{ method: string, url: string }> = []
  lines.length = 0
  for (const { method, url, headers, payload } of requests) {
    await app.inject({ method, url, headers, ...(method === 'GET' || method === 'DELETE' ? {} : { payload }) })
    sent.push({ method, url })
  }
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  const logged = parsed.filter((line) => line.msg === 'request')
  t.equal(logged.length, sent.length, 'one request line per request')
  // Background work (the notifications hub under load) may log; nothing else about a request at info.
  t.same(parsed.filter((line) => line.msg !== 'request' && (line.reqId !== undefined || /request|not found/i.test(String(line.msg)))), [], 'and no other request line')
  t.same(logged.map((l) => [l.method, l.url]), sent.map((s) => [s.method, s.url]), 'method and url of each')
  t.ok(logged.every((l) => l.level === 30 && typeof l.statusCode === 'number' && typeof l.responseTime === 'number' && typeof l.reqId === 'string'), 'info, with status, response time and request id')
  t.equal(new Set(logged.map((l) => l.reqId)).size, sent.length, 'request ids differ')
  const all = lines.join('')
  for (const secret of secrets) t.notOk(all.includes(secret), `no ${secret.slice(0, 6)}... in the log`)
})

t.test('readable lines on a terminal, JSON lines otherwise', async (t) => {
  const config = loadConfig({ DATABASE_URL: 'postgresql://x@127.0.0.1/x', JWT_SECRET: 'a'.repeat(32) })
  const tty = process.stdout.isTTY
  t.teardown(() => { process.stdout.isTTY = tty })
  process.stdout.isTTY = true
  const pretty = loggerOptions(config, 'api') as { stream?: { constructor: { name: string } } }
  t.ok(pretty.stream !== undefined, 'a terminal gets pino-pretty')
  process.stdout.isTTY = false
  t.equal((loggerOptions(config, 'api') as { stream?: unknown }).stream, undefined, 'a pipe or file gets pino\'s JSON')
})

t.test('the readable form keeps a request on one line', async (t) => {
  const out = new PassThrough()
  let text = ''
  out.on('data', (chunk: Buffer) => { text += chunk.toString() })
  const stream = readable(out)
  stream.write(JSON.stringify({ level: 30, time: Date.now(), name: 'api', reqId: 'req-7', method: 'GET', url: '/api/users', statusCode: 200, responseTime: 6.6, msg: 'request' }) + '\n')
  await new Promise((resolve) => setImmediate(resolve))
  t.match(text, /^\[[\d:.]+\] INFO \(api\): GET \/api\/users 200 6\.6 ms \[req-7\]\n$/)
})
