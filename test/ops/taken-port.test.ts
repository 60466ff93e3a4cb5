// A service whose port is taken fails to start at once, says why, and leaves no database connection.
import t, { type Test } from 'tap'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { join } from 'node:path'
import pg from 'pg'
import { startApi } from '../../services/api/server'
import { startPush } from '../../services/push/server'
import { testEnv, waitFor } from '../helper'
import { killLeftovers, root, run } from './processes'

const SERVICES = [
  { name: 'api', start: startApi, script: 'services/api/server.ts', portVariable: 'API_PORT' },
  { name: 'push', start: startPush, script: 'services/push/server.ts', portVariable: 'PUSH_PORT' },
] as const

async function takenPort (t: Test): Promise<number> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as AddressInfo).port
}

const strings = (env: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(env).map(([name, value]) => [name, String(value)]))

// Other sessions on the database (the pool, the LISTEN connection of a half-started service).
async function connections (url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')
    return rows[0].n
  } finally {
    await client.end()
  }
}

for (const service of SERVICES) {
  t.test(`${service.name}: listen fails with EADDRINUSE and what it opened is closed`, async (t) => {
    const env = strings(await testEnv(t, { [service.portVariable]: await takenPort(t), HOST: '127.0.0.1' }))
    await t.rejects(service.start(env), { code: 'EADDRINUSE' })
    await waitFor(async () => await connections(env.DATABASE_URL) === 0, 5000, 'no connection left')
    t.pass('no connection left')
  })
}

// Both services at once (each process spends most of its time loading).
t.test('api and push run on their own: exit 1 promptly, naming the taken address', async (t) => {
  killLeftovers(t)
  await Promise.all(SERVICES.map(async (service) => {
    const env = strings(await testEnv(t, { [service.portVariable]: await takenPort(t), HOST: '127.0.0.1' }))
    const started = Date.now()
    const child = run(process.execPath, ['--import', 'tsx', join(root, service.script)], { ...process.env, ...env })
    t.equal((await child.exit).code, 1, `${service.name}: exit code 1`)
    const out = child.output()
    t.match(out, /failed to start: .*(EADDRINUSE|address already in use)/, `${service.name}: says the address is in use`)
    t.notMatch(out, /took longer than/, `${service.name}: within its grace period, not cut off by it`)
    t.comment(`${service.name} exited after ${Date.now() - started} ms`)
  }))
})
