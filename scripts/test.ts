// `npm test`: builds a migrated template database (on DATABASE_URL's server, or an
// embedded throwaway PostgreSQL), then runs tap; each test file clones the template.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { resolve } from 'node:path'
import pg from 'pg'
import { migrate } from '../lib/migrations'
import { startEmbeddedPostgres } from '../lib/embedded-postgres'

export const TEMPLATE = 'flack_test_template'

async function main (): Promise<number> {
  const log = (line: string): void => console.error(line)
  let adminUrl = process.env.DATABASE_URL
  let stop = async (): Promise<void> => {}
  if (adminUrl === undefined || adminUrl === '') {
    const port = Number(process.env.EMBEDDED_POSTGRES_TEST_PORT ?? 5434)
    const server = await startEmbeddedPostgres({ dir: `.data/test-postgres-${port}`, port, ephemeral: true, log })
    adminUrl = server.url('postgres')
    stop = server.stop
  }
  try {
    await recreateTemplate(adminUrl)
    const url = new URL(adminUrl)
    url.pathname = `/${TEMPLATE}`
    await migrate(url.toString())
    const args = process.argv.slice(2)
    // Not spawnSync: a blocked event loop stops draining the embedded server's log pipe,
    // and PostgreSQL then hangs writing its log (checkpoints first, then every DROP DATABASE).
    const tap = spawn(resolve(__dirname, '..', 'node_modules', '.bin', 'tap'), args, {
      stdio: 'inherit',
      env: { ...process.env, FLACK_TEST_ADMIN_URL: adminUrl, FLACK_TEST_TEMPLATE: TEMPLATE },
    })
    const [code] = await once(tap, 'exit') as [number | null]
    return code ?? 1
  } finally {
    await stop()
  }
}

async function recreateTemplate (adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    await client.query(`DROP DATABASE IF EXISTS ${TEMPLATE} WITH (FORCE)`)
    await client.query(`CREATE DATABASE ${TEMPLATE}`)
  } finally {
    await client.end()
  }
}

main().then((code) => process.exit(code), (err) => {
  console.error(err)
  process.exit(1)
})
