// End to end behind the real load balancer: deploy/nginx.conf (ports rewritten) in front of two
// api instances, a worker and two push instances; clients reach both push instances through nginx.
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { WebSocket } from 'ws'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { freePort, waitForPort } from '../support/net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApi } from '../../services/api/app'
import { testEnv } from '../helper'
import { buildTestWorker } from '../worker/helper'
import { connect, startTestPush, type TestClient } from '../push/helper'

// Where .ci/run's apt-get puts it, or anywhere on PATH.
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx', ...(process.env.PATH ?? '').split(':').filter((dir) => dir.startsWith('/')).map((dir) => join(dir, 'nginx'))]
  .find((path) => existsSync(path))
const CONF = resolve(__dirname, '../../deploy/nginx.conf')
const PUBLIC = resolve(__dirname, '../../services/api/public')

const port = (app: FastifyInstance): number => (app.server.address() as AddressInfo).port

// deploy/nginx.conf with this run's ports (the listen port and the four upstream servers) and
// the assets' root, which the file gives relative to the prefix of its documented run command.
function rewriteConf (conf: string, ports: { listen: number, api: [number, number], push: [number, number] }): string {
  const upstreams: Record<string, number> = { 5000: ports.api[0], 5002: ports.api[1], 5001: ports.push[0], 5003: ports.push[1] }
  let out = conf.replace(/^(\s*)listen\s+8080;/m, `$1listen 127.0.0.1:${ports.listen};`)
  out = out.replace(/server 127\.0\.0\.1:(500[0-3])/g, (_, p: string) => `server 127.0.0.1:${upstreams[p]}`)
  out = out.replace(/^(\s*)root \.\.\/\.\.\/services\/api\/public;/m, `$1root ${PUBLIC};`)
  // As root, workers would run as `nobody`, who may not read a checkout under /root.
  const user = process.getuid?.() === 0 ? 'user root;\n' : ''
  return out.replace(/^worker_processes auto;/m, `${user}worker_processes 2;`)
}


t.test('a message posted through one api instance reaches socket clients on both push instances through nginx', { skip: NGINX === undefined && process.env.CI !== 'true' ? 'nginx is not installed (apt-get install nginx)' : false }, async (t) => {
  const apis: FastifyInstance[] = []
  for (let i = 0; i < 2; i++) {
    const api = await buildApi({ env: await testEnv(t, { API_PORT: 0, TRUST_PROXY: '127.0.0.1' }) })
    t.teardown(() => api.close())
    await api.listen({ port: 0, host: '127.0.0.1' })
    apis.push(api)
  }
  await buildTestWorker(t)
  const pushes = [await startTestPush(t, { TRUST_PROXY: '127.0.0.1' }), await startTestPush(t, { TRUST_PROXY: '127.0.0.1' })]

  const prefix = mkdtempSync(join(tmpdir(), 'flack-nginx-'))
  mkdirSync(join(prefix, 'logs'))
  mkdirSync(join(prefix, 'tmp'))
  t.teardown(() => rmSync(prefix, { recursive: true, force: true }))
  const listen = await freePort()
  const conf = join(prefix, 'nginx.conf')
  writeFileSync(conf, rewriteConf(readFileSync(CONF, 'utf8'), {
    listen,
    api: [port(apis[0]), port(apis[1])],
    push: [port(pushes[0].app), port(pushes[1].app)],
  }))
  const nginx = spawn(NGINX!, ['-p', prefix, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'inherit', 'inherit'] })
  const exited = new Promise<void>((resolve) => nginx.once('exit', () => resolve()))
  t.teardown(async () => {
    nginx.kill('SIGTERM')
    await exited
  })
  await waitForPort(listen)
  const base = `http://127.0.0.1:${listen}`

  const health = await fetch(`${base}/healthz`)
  t.equal(health.status, 200, 'api reachable through nginx')

  // Sockets through nginx until both push instances hold some (round robin, no affinity).
  const clients: TestClient[] = []
  for (let i = 0; i < 12 && pushes.some((p) => p.app.push.connections.size === 0); i++) {
    clients.push(await connect(t, `ws://127.0.0.1:${listen}/ws`))
  }
  for (let i = 0; i < 2; i++) clients.push(await connect(t, `ws://127.0.0.1:${listen}/ws`))
  t.ok(pushes.every((p) => p.app.push.connections.size > 0), `both push instances hold clients (${pushes.map((p) => p.app.push.connections.size).join(' + ')})`)

  // nginx replaces a client's own X-Forwarded-For: a forged one must not buy a fresh per-address cap.
  const forged = new WebSocket(`ws://127.0.0.1:${listen}/ws`, { headers: { 'x-forwarded-for': '203.0.113.7' } })
  t.teardown(() => forged.terminate())
  await once(forged, 'open')
  t.equal(pushes.reduce((n, p) => n + p.app.push.sockets.count('203.0.113.7'), 0), 0, 'the forged address is not believed')
  t.equal(pushes.reduce((n, p) => n + p.app.push.sockets.count('127.0.0.1'), 0), clients.length + 1, 'every socket counts against the address nginx saw')

  const nickname = `nginx${process.pid % 10000}`
  const created = await fetch(`${base}/api/users`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname, password: 'correct horse' }),
  })
  t.equal(created.status, 201)
  const signedIn = await fetch(`${base}/api/tokens`, {
    method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${nickname}:correct horse`).toString('base64')}` },
  })
  const { token } = await signedIn.json() as { token: string }

  // Straight to one api instance, then through nginx (whichever instance it picks).
  const direct = await fetch(`http://127.0.0.1:${port(apis[0])}/api/messages`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ source: 'via api one' }),
  })
  t.ok(direct.status === 202 || direct.status === 201, `posted to one api instance (${direct.status})`)
  const balanced = await fetch(`${base}/api/messages`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ source: 'via nginx' }),
  })
  t.ok(balanced.status === 202 || balanced.status === 201, `posted through nginx (${balanced.status})`)
  clients[0].send({ type: 'post_message', token, source: 'via socket', ref: 'r' })

  const expected = ['via api one', 'via nginx', 'via socket']
  for (const client of clients) {
    const got: string[] = []
    while (got.length < expected.length) {
      const frame = await client.next(10000)
      if (frame.type === 'updated_model' && frame.class === 'Message') got.push(frame.model?.source as string)
    }
    t.same([...got].sort(), [...expected].sort(), 'every client got every message once')
  }

  // A client resumes on whichever instance nginx picks, from its last seq.
  const last = clients[1].frames.filter((f) => f.type === 'updated_model').at(-1)!.seq!
  const resumed = await connect(t, `ws://127.0.0.1:${listen}/ws`, { since: last - 1 })
  t.equal((await resumed.next()).seq, last, 'replayed through nginx')

  // With both api instances gone, nginx still serves the page's assets itself; the page is the api's.
  for (const api of apis) await api.close()
  for (const [path, type] of [['/styles.css', 'text/css; charset=utf-8'], ['/dist/app.js', 'application/javascript; charset=utf-8']]) {
    const asset = await fetch(`${base}${path}`)
    t.equal(asset.status, 200, `${path} served by nginx`)
    t.equal(asset.headers.get('content-type'), type)
    t.equal(asset.headers.get('x-content-type-options'), 'nosniff')
    t.equal(await asset.text(), readFileSync(join(PUBLIC, path), 'utf8'))
  }
  t.equal((await fetch(`${base}/`)).status, 502, 'the page itself comes from the api')
  t.equal((await fetch(`${base}/src/app.ts`)).status, 502, 'nothing else from the checkout')
})
