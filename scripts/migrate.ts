// `npm run migrate` (and the Procfile's release line): apply pending migrations. A live embedded
// PostgreSQL of this checkout (npm start's, the Procfile.dev db) is used and left running.
import { migrate } from '../lib/migrations'
import { loadEnvFile } from '../lib/env-file'
import { localDatabase } from './local-database'

async function main (): Promise<void> {
  const log = (line: string): void => console.log(line)
  loadEnvFile()
  const db = await localDatabase(process.env, log, 'reuse')
  try {
    const applied = await migrate(db.url, log)
    log(applied.length === 0 ? 'database is up to date' : `applied ${applied.length} migration(s)`)
  } finally {
    await db.stop()
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
})
