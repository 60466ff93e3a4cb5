// `npm start` in a process group of its own, with the pids and ports a clean stop must leave empty.
import type { Test } from 'tap'
import { freePort } from '../support/net'
import { childrenOf, killLeftovers, npm, nothingLeft, parentOf, postmaster, runEnv, SECOND_SIGNAL, STACK, type Run } from './processes'

export interface System { run: Run, url: string, pushPort: number, pids: number[], ports: number[], postgresPid: number }

// Whatever the test's outcome, nothing it started outlives it.
export async function startSystem (t: Test, dataDir: string, pgPort: number): Promise<System> {
  const [apiPort, pushPort] = [await freePort(), await freePort()]
  killLeftovers(t, dataDir)
  const run = npm(['start'], runEnv(dataDir, pgPort, { API_PORT: String(apiPort), PUSH_PORT: String(pushPort) }))
  const [, url] = await run.waitFor(/Flack is running at (\S+)/)
  const pg = postmaster(dataDir)
  if (pg === null) throw new Error('no postmaster.pid')
  // npm, the node it execs into, the supervisor, PostgreSQL.
  const pids = [run.child.pid!, ...childrenOf(run.child.pid!), parentOf(pg.pid), pg.pid]
  return { run, url, pushPort, pids, ports: [apiPort, pushPort, pgPort], postgresPid: pg.pid }
}

// One orderly shutdown: exit code 0, no stack trace, no second-signal exit, nothing left.
export async function stoppedCleanly (t: Test, system: System, graceMs = 20000): Promise<void> {
  const started = Date.now()
  const { code } = await system.run.exit
  const out = system.run.output()
  t.equal(code, 0, 'exit code 0')
  t.notMatch(out, STACK, 'no stack trace')
  t.notMatch(out, SECOND_SIGNAL, 'no second-signal exit')
  // Our own announcement only: graphile-worker may say "we're shutting down" when the database is gone too.
  t.equal(out.match(/^(SIGINT|SIGTERM): shutting down$/gm)?.length, 1, 'one shutdown')
  await nothingLeft(system.pids, system.ports)
  t.ok(Date.now() - started < graceMs, `stopped within ${graceMs} ms (${Date.now() - started} ms)`)
}
