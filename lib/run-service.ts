import { useLocalDatabase } from './database-url'
import { loadEnvFile } from './env-file'
import type * as MigrateWhenReady from './migrate-when-ready'
import { onShutdown, underForeman } from './shutdown'
import { releaseStartupGarbage } from './startup-garbage'
import { restoreTierUp } from './tier-up'

export interface Closeable { close: () => Promise<unknown> }

// Owns the process for a service run on its own: reads .env, finds the database, with
// `--migrate` waits for it and applies migrations (no release phase ran), starts the service
// and closes it on the first SIGINT/SIGTERM. Once started, V8 compiles hot code as usual (lib/tier-up.ts)
// and the startup's garbage goes back to the system (lib/startup-garbage.ts).
export function runService (name: string, start: () => Promise<Closeable>): void {
  const log = (line: string): void => console.error(`${name}: ${line}`)
  let closing = false
  let service: Promise<Closeable | null> = Promise.resolve(null)
  const shutdown = onShutdown(async () => {
    closing = true
    await (await service.catch(() => null))?.close()
  }, { graceMs: 10000, log, stopWithParent: underForeman() })
  service = (async () => {
    loadEnvFile()
    useLocalDatabase(process.env)
    const url = process.env.DATABASE_URL
    // Loaded only when asked: migrations bring graphile-worker's whole package, which a running api or push never needs.
    if (process.argv.includes('--migrate') && url !== undefined) await (require('./migrate-when-ready') as typeof MigrateWhenReady).migrateWhenReady(url, log, () => closing)
    if (closing) return null
    const started = await start()
    restoreTierUp()
    releaseStartupGarbage()
    return started
  })()
  service.catch((err: unknown) => {
    if (closing) return
    log(`failed to start: ${err instanceof Error ? err.message : String(err)}`)
    shutdown('failed to start', 1)
  })
}
