// Procfile.dev under node-foreman on a fresh data folder with no DATABASE_URL: the db process runs
// the embedded PostgreSQL, the services wait for it and migrate; SIGINT stops every process.
import t, { type Test } from 'tap'
import { once } from 'node:events'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import { waitFor } from '../helper'
import { freePort } from '../support/net'
import { childrenOf, embeddedTestPort, killLeftovers, nothingLeft, parentOf, postmaster, root, run, runEnv, STACK, SECOND_SIGNAL, tempDir, type Run } from './processes'

const dataDir = tempDir('flack-foreman-')
const pgPort = embeddedTestPort(3)

interface Foreman { run: Run, api: string, pushPort: number, pids: number[], ports: number[] }

async function foreman (t: Test): Promise<Foreman> {
  const [apiPort, pushPort] = [await freePort(), await freePort()]
  killLeftovers(t, dataDir)
  // -e: foreman would read the checkout's .env over the environment; the services' own reading
  // of it cannot override what runEnv sets (DATABASE_URL='' included), as set variables win.
  const nf = run(process.execPath, [join(root, 'node_modules/foreman/nf.js'), 'start', '-j', 'Procfile.dev', '-e', join(dataDir, '.env')],
    runEnv(dataDir, pgPort, { API_PORT: String(apiPort), PUSH_PORT: String(pushPort) }))
  const api = `http://127.0.0.1:${apiPort}`
  await waitFor(async () => (await fetch(`${api}/readyz`).catch(() => null))?.status === 200, 60000, `readiness: ${nf.output()}`)
  await waitFor(async () => (await fetch(`http://127.0.0.1:${pushPort}/readyz`).catch(() => null))?.status === 200, 30000, 'push readiness')
  const pg = postmaster(dataDir)!
  const pids = [nf.child.pid!, ...childrenOf(nf.child.pid!), parentOf(pg.pid), pg.pid]
  t.equal(pids.length, 7, 'foreman, its four processes, the supervisor and PostgreSQL')
  return { run: nf, api, pushPort, pids, ports: [apiPort, pushPort, pgPort] }
}

async function stopsCleanly (t: Test, system: Foreman, to: 'top' | 'group'): Promise<void> {
  system.run.signal('SIGINT', to)
  await system.run.exit
  const out = system.run.output()
  t.notMatch(out, STACK, 'no stack trace')
  t.notMatch(out, SECOND_SIGNAL, 'no second-signal exit')
  if (!t.equal(out.match(/Exited Successfully/g)?.length, 4, 'every process exited with 0')) t.comment(out)
  await nothingLeft(system.pids, system.ports)
  t.equal(postmaster(dataDir), null, 'PostgreSQL stopped cleanly')
}

t.test('nf start -j Procfile.dev: a message through the api reaches a push socket, and is kept', async (t) => {
  const first = await foreman(t)
  const created = await fetch(`${first.api}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname: 'foreman', password: 'password1' }) })
  t.equal(created.status, 201)
  const signedIn = await fetch(`${first.api}/api/tokens`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from('foreman:password1').toString('base64')}` } })
  const { token } = await signedIn.json() as { token: string }
  const socket = new WebSocket(`ws://127.0.0.1:${first.pushPort}/ws`)
  t.teardown(() => socket.terminate())
  await once(socket, 'open')
  const delivered = new Promise<void>((resolve) => socket.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { class?: string, model?: { source?: string } }
    if (frame.class === 'Message' && frame.model?.source === 'through foreman') resolve()
  }))
  const posted = await fetch(`${first.api}/api/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', prefer: 'wait=10' }, body: JSON.stringify({ source: 'through foreman' }) })
  t.equal(posted.status, 201, 'posted through the api, written by the worker')
  await delivered
  t.pass('received on a socket of the push process')
  await stopsCleanly(t, first, 'top')

  const second = await foreman(t)
  const { messages } = await (await fetch(`${second.api}/api/messages`)).json() as { messages: Array<{ source: string }> }
  t.same(messages.map((m) => m.source), ['through foreman'], 'the message is still there on the next start')
  await stopsCleanly(t, second, 'group')
})
