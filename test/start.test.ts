import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { once } from 'node:events'
import { WebSocket } from 'ws'
import { freePort } from './support/net'

const root = resolve(__dirname, '..')

// Runs `npm start`'s script with an embedded database in a fresh DATA_DIR; resolves with the page URL.
function start (dataDir: string, pushPort = 0): { child: ChildProcess, url: Promise<string> } {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, EMBEDDED_POSTGRES_PORT: '5499', API_PORT: '0', PUSH_PORT: String(pushPort), LOG_LEVEL: 'warn' }
  delete env.DATABASE_URL
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts/start.ts')], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] })
  const url = new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /Flack is running at (\S+)/.exec(out)
      if (match !== null) resolve(match[1])
    })
    child.on('exit', (code) => reject(new Error(`start exited with ${code}: ${out}`)))
  })
  return { child, url }
}

t.test('npm start runs on an embedded database, stops cleanly on SIGINT and keeps the data', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'flack-start-'))
  const pushPort = await freePort()
  const first = start(dataDir, pushPort)
  const url = await first.url
  // The push service runs too: the new user's event reaches a socket.
  const socket = new WebSocket(`ws://127.0.0.1:${pushPort}/ws`)
  t.teardown(() => socket.terminate())
  await once(socket, 'open')
  const event = new Promise<{ class: string, model: { nickname: string } }>((resolve) => socket.on('message', (data) => resolve(JSON.parse(data.toString()))))
  const created = await fetch(`${url}api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname: 'persistent', password: 'password1' }) })
  t.equal(created.status, 201)
  const pushed = await event
  t.same([pushed.class, pushed.model.nickname], ['User', 'persistent'], 'pushed to a socket')
  first.child.kill('SIGINT')
  const [code] = await once(first.child, 'exit')
  t.equal(code, 0, 'clean exit on SIGINT')

  const second = start(dataDir)
  const again = await second.url
  const users = await (await fetch(`${again}api/users`)).json() as { users: Array<{ nickname: string }> }
  t.same(users.users.map((u) => u.nickname), ['persistent'], 'data kept across starts')
  second.child.kill('SIGTERM')
  const [code2] = await once(second.child, 'exit')
  t.equal(code2, 0, 'clean exit on SIGTERM')
})
