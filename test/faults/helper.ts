import type { Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import pg from 'pg'
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../lib/embedded-postgres'
import { migrate } from '../../lib/migrations'
import { TEST_SECRET, waitFor } from '../helper'
import type { ConfigInput } from '../../plugins/config'

const WORKER = resolve(__dirname, '..', 'worker', 'fixtures', 'worker-process.ts')

// A PostgreSQL of the test's own (the shared test server must never be stopped), durable, so an
// immediate shutdown loses no acknowledged commit; restart() stops it the given way and starts it again.
export interface OwnPostgres {
  env: ConfigInput
  url: string
  restart: (signal: 'SIGINT' | 'SIGQUIT', downMs?: number) => Promise<{ downMs: number }>
}

export async function ownPostgres (t: Test, port: number, database: string): Promise<OwnPostgres> {
  const dir = `.data/test-faults-${port}`
  let server: EmbeddedDatabase | null = await startEmbeddedPostgres({ dir, port })
  t.teardown(async () => { await server?.stop() })
  const admin = new pg.Client({ connectionString: server.url('postgres') })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  await admin.query(`CREATE DATABASE ${database}`)
  await admin.end()
  const url = server.url(database)
  await migrate(url)
  return {
    url,
    env: { DATABASE_URL: url, JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', NODE_ENV: 'test', API_PORT: 0, PUSH_PORT: 0 },
    // SIGINT: a fast shutdown (`pg_ctl stop -m fast`); SIGQUIT: an immediate one (a crash, then recovery).
    restart: async (signal, downMs = 0) => {
      const stopped = Date.now()
      const postmaster = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0])
      process.kill(postmaster, signal)
      await server!.stopped
      server = null
      await new Promise((resolve) => setTimeout(resolve, downMs))
      server = await startEmbeddedPostgres({ dir, port })
      return { downMs: Date.now() - stopped }
    },
  }
}

// A worker in a child process (so it can be SIGKILLed, and its exit seen), ready when this resolves.
export async function workerProcess (t: Test, env: ConfigInput): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(env)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString() })
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    await once(child, 'exit')
  })
  await waitFor(async () => out.includes('ready') || child.exitCode !== null, 20000, 'the worker process')
  if (child.exitCode !== null) throw new Error('worker process failed to start')
  return child
}

// Counts of stored messages by source, among the given sources.
export async function storedCounts (pool: pg.Pool, sources: string[]): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ source: string, n: number }>(
    'SELECT source, count(*)::int AS n FROM messages WHERE source = ANY($1) GROUP BY source', [sources])
  return new Map(rows.map((r) => [r.source, r.n]))
}
