import { existsSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { migrate } from './migrations'
import { embeddedPort, embeddedUrl } from './embedded-postgres'

export interface Closeable { close: () => Promise<unknown> }

// Reads `.env` (of the working folder) into process.env when present; variables already set win.
export function loadEnvFile (path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path)
}

// Outside production, no DATABASE_URL means the local embedded PostgreSQL (npm start's, or the Procfile.dev db).
export function useLocalDatabase (env: NodeJS.ProcessEnv): void {
  if ((env.DATABASE_URL ?? '') === '' && env.NODE_ENV !== 'production') env.DATABASE_URL = embeddedUrl(embeddedPort(env))
}

export interface ShutdownOptions {
  graceMs: number
  log: (line: string) => void
  // Also shut down when the parent that launched us dies (npm or foreman killed with SIGKILL).
  stopWithParent?: boolean
}

// Launched by foreman: it passes signals on but its death would leave us running.
export const underForeman = (): boolean => process.env.FOREMAN_WORKER_NAME !== undefined

// One orderly shutdown per process: the first SIGINT, SIGTERM or fatal error runs `close` within
// the grace period; repeats are ignored quietly (a terminal's Ctrl-C reaches us beside npm's or
// foreman's relay of it).
export function onShutdown (close: () => Promise<void>, { graceMs, log, stopWithParent = false }: ShutdownOptions): (reason: string, code?: number) => void {
  let closing = false
  const shutdown = (reason: string, code = 0): void => {
    if (closing) return
    closing = true
    if (code === 0) log(`${reason}: shutting down`)
    setTimeout(() => {
      log(`shutdown took longer than ${graceMs / 1000} s: exiting`)
      process.exit(1)
    }, graceMs).unref()
    close().then(() => process.exit(code), (err: unknown) => {
      log(`shutdown failed: ${err instanceof Error ? err.message : String(err)}`)
      process.exit(1)
    })
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => shutdown(signal))
  const fatal = (err: unknown): void => {
    if (closing) log(`while shutting down: ${err instanceof Error ? err.message : String(err)}`)
    else console.error(err)
    shutdown('fatal error', 1)
  }
  process.on('uncaughtException', fatal)
  process.on('unhandledRejection', fatal)
  if (stopWithParent) {
    const parent = process.ppid
    setInterval(() => { if (process.ppid !== parent) shutdown('parent process exited') }, 500).unref()
  }
  return shutdown
}

// Applies pending migrations (under the migration lock), waiting for a database that is still starting.
export async function migrateWhenReady (url: string, log: (line: string) => void, stopped: () => boolean, waitMs = 120_000): Promise<void> {
  const deadline = Date.now() + waitMs
  let said = false
  for (;;) {
    try {
      await migrate(url, log)
      return
    } catch (err) {
      if (!unreachable(err) || Date.now() > deadline || stopped()) throw err
      if (!said) log(`waiting for the database at ${new URL(url).host}`)
      said = true
      await sleep(250)
    }
  }
}

// Not there yet, or starting up or shutting down (57P03): worth another try.
function unreachable (err: unknown): boolean {
  const code = (err as { code?: string }).code
  return code === 'ECONNREFUSED' || code === '57P03' || code === 'ECONNRESET' || /Connection terminated/.test(String((err as Error).message))
}

// Owns the process for a service run on its own: reads .env, finds the database, with
// `--migrate` waits for it and applies migrations (no release phase ran), starts the service
// and closes it on the first SIGINT/SIGTERM.
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
    if (process.argv.includes('--migrate') && url !== undefined) await migrateWhenReady(url, log, () => closing)
    return closing ? null : await start()
  })()
  service.catch((err: unknown) => {
    if (closing) return
    log(`failed to start: ${err instanceof Error ? err.message : String(err)}`)
    shutdown('failed to start', 1)
  })
}
