// `npm start`: the whole system in one process — database (embedded unless
// DATABASE_URL is set), migrations, then the api, worker and push services.
import { setTimeout as sleep } from 'node:timers/promises'
import { migrate } from '../lib/migrations'
import { loadEnvFile } from '../lib/env-file'
import type { Closeable } from '../lib/run-service'
import { onShutdown } from '../lib/shutdown'
import { localDatabase, type LocalDatabase } from './local-database'
import { startApi } from '../services/api/server'
import { startWorker } from '../services/worker/server'
import { startPush } from '../services/push/server'

const log = (line: string): void => console.log(line)
const services: Closeable[] = []
let db: LocalDatabase | null = null

async function main (): Promise<void> {
  loadEnvFile()
  db = await localDatabase(process.env, log, 'refuse')
  restartWhenStopped(db)
  if (stopping) return
  await migrate(db.url, log)
  if (stopping) return
  const env = { ...process.env, DATABASE_URL: db.url }
  services.push(await startWorker(env))
  services.push(await startPush(env))
  const api = await startApi(env)
  services.push(api)
  const { port } = api.server.address() as { port: number }
  log(`Flack is running at http://${hostForUrl(api.config.HOST)}:${port}/`)
}

// A crashed or killed embedded PostgreSQL is started again; the services reconnect on their own.
function restartWhenStopped (current: LocalDatabase): void {
  current.stopped.then(async () => {
    for (let attempt = 1; attempt <= 10 && !stopping; attempt++) {
      log(`embedded PostgreSQL stopped unexpectedly: starting it again (attempt ${attempt})`)
      try {
        db = await localDatabase(process.env, log, 'refuse')
        restartWhenStopped(db)
        return
      } catch (err) {
        log(`could not start PostgreSQL: ${err instanceof Error ? err.message : String(err)}`)
        await sleep(500 * attempt)
      }
    }
  }, () => {})
}

const hostForUrl = (host: string): string => (host === '0.0.0.0' || host === '::' ? 'localhost' : host)

let stopping = false
const started = main()
// Stop accepting work first, the database last (once startup has settled, so nothing starts after).
const shutdown = onShutdown(async () => {
  stopping = true
  await started.catch(() => {})
  for (const service of services.reverse()) {
    await service.close().catch((err: unknown) => log(`closing: ${err instanceof Error ? err.message : String(err)}`))
  }
  await db?.stop()
}, { graceMs: 15000, log, stopWithParent: process.env.npm_lifecycle_event === 'start' })

started.catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  shutdown('failed to start', 1)
})
