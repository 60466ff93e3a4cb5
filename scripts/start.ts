// `npm start`: the whole system in one process — database (embedded unless
// DATABASE_URL is set), migrations, then the api, worker and push services.
import closeWithGrace from 'close-with-grace'
import { migrate } from '../lib/migrations'
import type { Closeable } from '../lib/run-service'
import { localDatabase } from './local-database'
import { startApi } from '../services/api/server'
import { startWorker } from '../services/worker/server'
import { startPush } from '../services/push/server'

async function main (): Promise<void> {
  const log = (line: string): void => console.log(line)
  const db = await localDatabase(process.env, log)
  const services: Closeable[] = []
  closeWithGrace({ delay: 15000 }, async ({ err, signal }) => {
    if (err !== undefined) console.error(err)
    else log(`${signal ?? 'exit'}: shutting down`)
    // Stop accepting work first, the database last.
    for (const service of services.reverse()) await service.close().catch((e) => console.error(e))
    await db.stop()
  })
  await migrate(db.url, log)
  const env = { ...process.env, DATABASE_URL: db.url }
  services.push(await startWorker(env))
  services.push(await startPush(env))
  const api = await startApi(env)
  services.push(api)
  const { port } = api.server.address() as { port: number }
  log(`Flack is running at http://${hostForUrl(api.config.HOST)}:${port}/`)
}

const hostForUrl = (host: string): string => (host === '0.0.0.0' || host === '::' ? 'localhost' : host)

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
})
