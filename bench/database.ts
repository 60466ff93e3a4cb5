import pg from 'pg'
import { startEmbeddedPostgres } from '../lib/embedded-postgres'
import { migrate } from '../lib/migrations'

export interface BenchDatabase { url: string, stop: () => Promise<void> }

// A fresh, migrated database for one benchmark: on DATABASE_URL's server, or an embedded throwaway
// cluster on `port` (each section its own; BENCH_POSTGRES_PORT, `--postgres-port=`, overrides it).
export async function benchDatabase (name: string, port: number): Promise<BenchDatabase> {
  port = Number(process.env.BENCH_POSTGRES_PORT ?? port)
  let adminUrl = process.env.DATABASE_URL
  let stopServer = async (): Promise<void> => {}
  if (adminUrl === undefined || adminUrl === '') {
    const server = await startEmbeddedPostgres({ dir: `.data/bench-postgres-${port}`, port, ephemeral: true })
    adminUrl = server.url('postgres')
    stopServer = server.stop
  }
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  await migrate(url.toString())
  return { url: url.toString(), stop: stopServer }
}
