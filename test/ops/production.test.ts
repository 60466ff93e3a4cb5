// The production Procfile as a platform runs it: each line through `sh -c`, the release line first,
// then api, worker and push from the compiled dist/ with no tsx or esbuild loaded at run time.
import t, { type Test } from 'tap'
import { once } from 'node:events'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { WebSocket } from 'ws'
import { testEnv, waitFor } from '../helper'
import { freePort } from '../support/net'
import { childrenOf, killLeftovers, npm, procfile, root, run, STACK, tempDir, type Run } from './processes'

// The TypeScript files the build compiles whose dist/ output is missing or older than them.
function staleSources (): string[] {
  const stale: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) {
        if (relative(root, path) !== join('services', 'api', 'public')) walk(path)
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const built = join(root, 'dist', relative(root, path).replace(/\.ts$/, '.js'))
        const builtAt = (() => { try { return statSync(built).mtimeMs } catch { return -1 } })()
        if (builtAt < statSync(path).mtimeMs) stale.push(relative(root, path))
      }
    }
  }
  for (const dir of ['lib', 'plugins', 'services', 'scripts', 'generated']) walk(join(root, dir))
  return stale
}

// The dist/ files that require the package `name` or one of its subpaths.
function requirersOf (name: string): string[] {
  const found: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.js') && new RegExp(`require\\("${name}(/[\\w/.-]+)?"\\)`).test(readFileSync(path, 'utf8'))) found.push(relative(root, path))
    }
  }
  walk(join(root, 'dist'))
  return found
}

const cmdline = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')

async function ready (t: Test, url: string, process: Run): Promise<void> {
  await waitFor(async () => (await fetch(`${url}/readyz`).catch(() => null))?.status === 200, 30000, `${url}/readyz: ${process.output()}`)
}

t.test('the Procfile runs the compiled build: release, then api, worker and push carry a message and stop with 0', async (t) => {
  killLeftovers(t)
  const lines = procfile()
  t.same([...lines.keys()].sort(), ['api', 'push', 'release', 'worker'], 'a release line and three processes')
  // V8 memory options (e.g. --max-semi-space-size) may come before the script; no --import or --require.
  for (const [name, command] of lines) t.match(command, /^(exec )?node( --[\w-]+(=\w+)?)* dist\/\S+\.js$/, `${name} runs compiled JavaScript with plain node`)
  for (const [name, command] of lines) t.notMatch(command, /--(import|require|loader|experimental)/, `${name} loads nothing before the script`)

  // npm install's postinstall builds dist/; rebuild only when a source changed since (a checkout being edited).
  const stale = staleSources()
  if (stale.length > 0) {
    t.comment(`dist/ is older than ${stale.length} source(s) (${stale.slice(0, 3).join(', ')}...): npm run build`)
    const build = npm(['run', 'build'], process.env)
    t.equal((await build.exit).code, 0, `npm run build: ${build.output()}`)
    t.same(staleSources(), [], 'the build is current')
  }
  // TypeBox's 700 ES modules, loaded one by one, cost each process 5 to 10 MiB at rest.
  t.same(requirersOf('typebox'), [], 'dist/ loads TypeBox only as dist/lib/typebox.js, bundled in one file')

  const [apiPort, pushPort] = [await freePort(), await freePort()]
  const settings = Object.fromEntries(Object.entries(await testEnv(t)).map(([key, value]) => [key, String(value)]))
  const env: NodeJS.ProcessEnv = {
    ...process.env, ...settings, NODE_ENV: 'production', LOG_LEVEL: 'warn',
    DATA_DIR: tempDir('flack-production-'), API_PORT: String(apiPort), PUSH_PORT: String(pushPort),
  }
  const sh = (name: string): Run => run('/bin/sh', ['-c', lines.get(name)!], env)

  const release = sh('release')
  t.same(await release.exit, { code: 0, signal: null }, `release: ${release.output()}`)

  const processes = { api: sh('api'), worker: sh('worker'), push: sh('push') }
  const api = `http://127.0.0.1:${apiPort}`
  await ready(t, api, processes.api)
  await ready(t, `http://127.0.0.1:${pushPort}`, processes.push)
  await waitFor(async () => (await fetch(`${api}/readyz/worker`).catch(() => null))?.status === 200, 30000, `a live worker: ${processes.worker.output()}`)

  for (const [name, { child }] of Object.entries(processes)) {
    // `exec` in the line: the shell became node, so the pid is the service's own.
    t.match(cmdline(child.pid!), /^node( --[\w-]+(=\w+)?)* dist\/\S+\.js $/, `${name} is node running dist/ (no tsx loader)`)
    const helpers = childrenOf(child.pid!).map(cmdline)
    t.same(helpers.filter((line) => /esbuild|tsx/.test(line)), [], `${name} has no esbuild or tsx child process`)
    // tap's processinfo adds its own --import to NODE_OPTIONS of every child; tsx must not be there.
    const options = readFileSync(`/proc/${child.pid!}/environ`, 'utf8').split('\0').filter((entry) => entry.startsWith('NODE_OPTIONS='))
    t.notMatch(options.join(' '), /tsx|esbuild/, `${name}'s NODE_OPTIONS load no transpiler`)
  }

  const created = await fetch(`${api}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname: 'production', password: 'password1' }) })
  t.equal(created.status, 201)
  const signedIn = await fetch(`${api}/api/tokens`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from('production:password1').toString('base64')}` } })
  const { token } = await signedIn.json() as { token: string }
  const socket = new WebSocket(`ws://127.0.0.1:${pushPort}/ws`)
  t.teardown(() => socket.terminate())
  await once(socket, 'open')
  const delivered = new Promise<void>((resolve) => socket.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { class?: string, model?: { source?: string } }
    if (frame.class === 'Message' && frame.model?.source === 'compiled') resolve()
  }))
  const posted = await fetch(`${api}/api/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', prefer: 'wait=10' }, body: JSON.stringify({ source: 'compiled' }) })
  t.equal(posted.status, 201, 'posted through the api, written by the worker')
  await delivered
  t.pass('received on a socket of the push process')
  socket.close()

  for (const process of Object.values(processes)) process.signal('SIGTERM', 'top')
  for (const [name, process] of Object.entries(processes)) {
    t.same(await process.exit, { code: 0, signal: null }, `${name} exits with 0 on SIGTERM`)
    t.notMatch(process.output(), STACK, `${name}: no stack trace`)
  }
})
