// The Procfile.dev `db` process: the embedded PostgreSQL under DATA_DIR, in the foreground until
// signalled (with DATABASE_URL set, nothing to run: it only waits, as foreman ends all when one ends).
// Its stop waits a while for the services' connections to close.
import { loadEnvFile } from '../lib/env-file'
import { onShutdown, underForeman } from '../lib/shutdown'
import { localDatabase, type LocalDatabase } from './local-database'

const log = (line: string): void => console.log(line)
let stopping = false

async function main (): Promise<LocalDatabase> {
  loadEnvFile()
  const db = await localDatabase(process.env, log, 'refuse')
  db.stopped.then(() => {
    if (stopping) return
    log('PostgreSQL stopped unexpectedly')
    process.exit(1)
  }, () => {})
  if (db.embedded) log(`PostgreSQL is ready at ${db.url.replace(/\/\/[^@]*@/, '//')}`)
  else setInterval(() => {}, 1 << 30)
  return db
}

const started = main()
const shutdown = onShutdown(async () => {
  stopping = true
  await (await started.catch(() => null))?.stop()
}, { graceMs: 30000, log, stopWithParent: underForeman() })
started.catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  shutdown('failed to start', 1)
})
