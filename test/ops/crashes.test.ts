// A killed `npm start` leaves nothing serving, a killed PostgreSQL or supervisor is brought back
// under supervision, a dead database cannot hold its shutdown past the grace period, and the next
// start recovers with the data.
import t from 'tap'
import { waitFor } from '../helper'
import { alive, embeddedTestPort, listening, nothingLeft, parentOf, postmaster, tempDir } from './processes'
import { startSystem, stoppedCleanly } from './system'

const dataDir = tempDir('flack-crashes-')
const pgPort = embeddedTestPort(2)

// While polling, a process may be gone between two looks.
function parentOrNone (pid: number): number | null {
  try {
    return parentOf(pid)
  } catch {
    return null
  }
}

t.test('SIGKILL to npm: the services and PostgreSQL stop within seconds', async (t) => {
  const system = await startSystem(t, dataDir, pgPort)
  t.equal((await fetch(`${system.url}api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname: 'survivor', password: 'password1' }) })).status, 201)
  const killed = Date.now()
  system.run.signal('SIGKILL', 'top')
  await nothingLeft(system.pids, system.ports, 10000)
  t.pass(`nothing left running or listening after ${Date.now() - killed} ms`)
})

t.test('SIGKILL to the node process: PostgreSQL stops within seconds', async (t) => {
  const system = await startSystem(t, dataDir, pgPort)
  const killed = Date.now()
  process.kill(system.pids[1], 'SIGKILL')
  await nothingLeft(system.pids, system.ports, 10000)
  t.pass(`nothing left running or listening after ${Date.now() - killed} ms`)
})

// One npm start for three faults in turn: PostgreSQL killed, its supervisor killed, PostgreSQL killed at shutdown.
t.test('PostgreSQL or its supervisor killed: npm start brings back a supervised PostgreSQL; killed at shutdown, the shutdown still ends cleanly and in time', async (t) => {
  const system = await startSystem(t, dataDir, pgPort)
  process.kill(system.postgresPid, 'SIGKILL')
  const again = await waitFor(async () => {
    const pg = postmaster(dataDir)
    return pg !== null && pg.pid !== system.postgresPid && (await fetch(`${system.url}readyz`)).status === 200 && pg.pid
  }, 20000, 'PostgreSQL started again and the api ready')
  t.pass('started again, and the api is ready')
  system.pids.push(again, parentOf(again))

  const orphaned = parentOf(again)
  process.kill(orphaned, 'SIGKILL')
  const supervised = await waitFor(async () => {
    const pg = postmaster(dataDir)
    if (pg === null || !alive(pg.pid)) return false
    const supervisor = parentOrNone(pg.pid)
    return supervisor !== null && supervisor !== orphaned && parentOrNone(supervisor) === system.pids[1] && (await fetch(`${system.url}readyz`)).status === 200 && pg.pid
  }, 20000, 'PostgreSQL under a new supervisor of npm start\'s node process')
  t.pass('the supervisor killed: PostgreSQL supervised again, and the api ready')
  system.pids.push(supervised, parentOf(supervised))

  process.kill(supervised, 'SIGKILL')
  await waitFor(async () => !alive(supervised), 10000, 'PostgreSQL gone')
  system.run.signal('SIGINT', 'group')
  await stoppedCleanly(t, system, 15000 + 5000)
})

t.test('the supervisor killed too: the next start stops the idle PostgreSQL left behind, says so, and has the data; SIGTERM to the group stops it cleanly', async (t) => {
  const killed = await startSystem(t, dataDir, pgPort)
  // Stopped first, so the node process cannot react to its supervisor's death before it dies too.
  process.kill(killed.pids[1], 'SIGSTOP')
  process.kill(killed.pids[2], 'SIGKILL')
  killed.run.signal('SIGKILL', 'group')
  await killed.run.exit
  await waitFor(async () => !alive(killed.pids[1]) && !await listening(killed.ports[0]), 10000, 'the services gone')
  t.ok(alive(killed.postgresPid), 'PostgreSQL left running, its owner gone')

  const system = await startSystem(t, dataDir, pgPort)
  t.match(system.run.output(), `stopping the idle PostgreSQL (pid ${killed.postgresPid}) left running`)
  t.notOk(alive(killed.postgresPid), 'the leftover is gone')
  const users = await (await fetch(`${system.url}api/users`)).json() as { users: Array<{ nickname: string }> }
  t.same(users.users.map((u) => u.nickname), ['survivor'])
  // SIGTERM to the group: this start serves signals.test.ts's case too, sparing it one.
  system.run.signal('SIGTERM', 'group')
  await stoppedCleanly(t, system)
  t.equal(postmaster(dataDir), null, 'PostgreSQL removed its postmaster.pid: a clean stop')
})
