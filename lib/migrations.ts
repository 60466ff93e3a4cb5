import pg from 'pg'
import { createHash, randomUUID } from 'node:crypto'
import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Logger, runMigrations as runWorkerMigrations } from 'graphile-worker'
import { PROJECT_ROOT } from './project-root'

export const MIGRATIONS_DIR = resolve(PROJECT_ROOT, 'prisma', 'migrations')
const MIGRATION_LOCK = 0x666c6d67
const quietWorkerLogger = new Logger(() => () => {})

// Prisma's own bookkeeping table, so `prisma migrate deploy/status` agree with us where the CLI runs.
const CREATE_PRISMA_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`

export interface Migration { name: string, sql: string, checksum: string }

export function readMigrations (dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8')
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') }
    })
}

// Applies pending migrations, each in its own transaction, under an advisory lock
// (several processes may start at once); then graphile-worker's own schema. `before`: stop at
// the first migration named from it on (tests of a migration on an older schema's data).
export async function migrate (databaseUrl: string, log: (line: string) => void = () => {}, before?: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  const applied: string[] = []
  try {
    await client.query('SET client_min_messages = warning')
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
    await client.query(CREATE_PRISMA_TABLE)
    const { rows } = await client.query<{ migration_name: string, checksum: string }>(
      'SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL')
    const done = new Map(rows.map((row) => [row.migration_name, row.checksum]))
    for (const migration of readMigrations()) {
      if (before !== undefined && migration.name >= before) break
      const checksum = done.get(migration.name)
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) throw new Error(`migration ${migration.name} was edited after it was applied`)
        continue
      }
      await client.query('BEGIN')
      try {
        await client.query(migration.sql)
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
           VALUES ($1, $2, $3, now(), now(), 1)`, [randomUUID(), migration.checksum, migration.name])
        await client.query('COMMIT')
      } catch (err) {
        await client.query('ROLLBACK')
        throw new Error(`migration ${migration.name} failed: ${(err as Error).message}`)
      }
      applied.push(migration.name)
      log(`applied migration ${migration.name}`)
    }
    await runWorkerMigrations({ connectionString: databaseUrl, logger: quietWorkerLogger })
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {})
    await client.end()
  }
  return applied
}
