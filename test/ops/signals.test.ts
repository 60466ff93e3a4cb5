// `npm start` stops once and in order however it is signalled, and never loses its database to
// another command of the same checkout.
import t from 'tap'
import { once } from 'node:events'
import { WebSocket } from 'ws'
import { embeddedTestPort, npm, runEnv, tempDir } from './processes'
import { startSystem, stoppedCleanly } from './system'

const dataDir = tempDir('flack-signals-')
const pgPort = embeddedTestPort(1)

t.test('Ctrl-C (SIGINT to the group), with npm run migrate and a second npm start run beside it', async (t) => {
  const system = await startSystem(t, dataDir, pgPort)
  const socket = new WebSocket(`ws://127.0.0.1:${system.pushPort}/ws`)
  t.teardown(() => socket.terminate())
  await once(socket, 'open')
  const pushed = new Promise<{ class: string, model: { nickname: string } }>((resolve) => socket.on('message', (data) => resolve(JSON.parse(data.toString()))))
  const created = await fetch(`${system.url}api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname: 'keeper', password: 'password1' }) })
  t.equal(created.status, 201)
  const event = await pushed
  t.same([event.class, event.model.nickname], ['User', 'keeper'], 'pushed to a socket')

  // Both at once, as two terminals might.
  const migrate = npm(['run', 'migrate'], runEnv(dataDir, pgPort))
  const second = npm(['start'], runEnv(dataDir, pgPort))
  t.equal((await migrate.exit).code, 0, 'npm run migrate succeeds')
  t.match(migrate.output(), /already running .*using it and leaving it running/)
  t.equal((await second.exit).code, 1, 'a second npm start refuses')
  t.match(second.output(), /already running .*stop that first, or set DATABASE_URL/)
  t.equal((await fetch(`${system.url}readyz`)).status, 200, 'the running system kept its database')

  system.run.signal('SIGINT', 'group')
  await stoppedCleanly(t, system)
})

t.test('SIGTERM to npm only', async (t) => {
  const system = await startSystem(t, dataDir, pgPort)
  const users = await (await fetch(`${system.url}api/users`)).json() as { users: Array<{ nickname: string }> }
  t.same(users.users.map((u) => u.nickname), ['keeper'], 'data kept across starts')
  system.run.signal('SIGTERM', 'top')
  await stoppedCleanly(t, system)
})

// SIGTERM to the group: the last test of crashes.test.ts stops its system so (one start fewer).
