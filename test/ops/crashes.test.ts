// A killed `npm start` leaves nothing serving, a dead database cannot hold its shutdown past the
// grace period, and the next start recovers with the data.
import t from 'tap'
import { waitFor } from '../helper'
import { alive, listening, nothingLeft, postmaster, tempDir } from './processes'
import { startSystem, stoppedCleanly } from './system'

const dataDir = tempDir('flack-crashes-')
const pgPort = 5471

t.test('SIGKILL to npm: the services and PostgreSQL stop within seconds', async (t) => {
  const system = await startSystem(dataDir, pgPort)
  t.equal((await fetch(`${system.url}api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname: 'survivor', password: 'password1' }) })).status, 201)
  const killed = Date.now()
  system.run.signal('SIGKILL', 'top')
  await nothingLeft(system.pids, system.ports, 10000)
  t.pass(`nothing left running or listening after ${Date.now() - killed} ms`)
})

t.test('SIGKILL to the node process: PostgreSQL stops within seconds', async (t) => {
  const system = await startSystem(dataDir, pgPort)
  const killed = Date.now()
  process.kill(system.pids[1], 'SIGKILL')
  await nothingLeft(system.pids, system.ports, 10000)
  t.pass(`nothing left running or listening after ${Date.now() - killed} ms`)
})

t.test('PostgreSQL killed: npm start starts it again; killed at shutdown, the shutdown still ends cleanly and in time', async (t) => {
  const system = await startSystem(dataDir, pgPort)
  process.kill(system.postgresPid, 'SIGKILL')
  const again = await waitFor(async () => {
    const pg = postmaster(dataDir)
    return pg !== null && pg.pid !== system.postgresPid && (await fetch(`${system.url}readyz`)).status === 200 && pg.pid
  }, 20000, 'PostgreSQL started again and the api ready')
  t.pass('started again, and the api is ready')
  system.pids.push(again)
  process.kill(again, 'SIGKILL')
  await waitFor(async () => !alive(again), 10000, 'PostgreSQL gone')
  system.run.signal('SIGINT', 'group')
  await stoppedCleanly(t, system, 15000 + 5000)
})

t.test('the supervisor killed too: the next start stops the idle PostgreSQL left behind, says so, and has the data', async (t) => {
  const killed = await startSystem(dataDir, pgPort)
  process.kill(killed.pids[2], 'SIGKILL')
  killed.run.signal('SIGKILL', 'group')
  await killed.run.exit
  await waitFor(async () => !alive(killed.pids[1]) && !await listening(killed.ports[0]), 10000, 'the services gone')
  t.ok(alive(killed.postgresPid), 'PostgreSQL left running, its owner gone')

  const system = await startSystem(dataDir, pgPort)
  t.match(system.run.output(), `stopping the idle PostgreSQL (pid ${killed.postgresPid}) left running`)
  t.notOk(alive(killed.postgresPid), 'the leftover is gone')
  const users = await (await fetch(`${system.url}api/users`)).json() as { users: Array<{ nickname: string }> }
  t.same(users.users.map((u) => u.nickname), ['survivor'])
  system.run.signal('SIGINT', 'group')
  await stoppedCleanly(t, system)
  t.equal(postmaster(dataDir), null, 'PostgreSQL removed its postmaster.pid: a clean stop')
})
