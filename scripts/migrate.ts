// `npm run migrate` (and the Procfile's release line): apply pending migrations.
import { migrate } from '../lib/migrations'
import { localDatabase } from './local-database'

async function main (): Promise<void> {
  const log = (line: string): void => console.log(line)
  const db = await localDatabase(process.env, log)
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
