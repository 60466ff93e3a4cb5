// One orderly shutdown per process, on a signal, a fatal error or the parent's death.

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
    // Node exits with this if close() ends up waiting on nothing that keeps the process alive.
    process.exitCode = code
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
