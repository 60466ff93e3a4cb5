import cluster, { type Worker } from 'node:cluster'
import { onShutdown, underForeman } from './shutdown'

// A replaced process waits 0.1 s, doubling per quick death up to 10 s; one that served 30 s starts over.
const FIRST_DELAY_MS = 100
const MAX_DELAY_MS = 10000
const STEADY_MS = 30000
// Each process has 10 s of its own (run-service); this bounds the whole stop.
const GRACE_MS = 15000

// The primary of `processes` copies of this script (same arguments) serving one port: node:cluster's
// primary owns the listening socket and hands each accepted connection to the processes in turn, so a
// port taken by anything else is still an error. A process that dies once all have started is
// replaced; one that dies before fails the start (exit 1). SIGINT/SIGTERM stops them all, each with
// its own orderly shutdown, and exits 0 if every one stopped cleanly.
export function superviseCluster (name: string, processes: number): void {
  const log = (line: string): void => console.error(`${name}: ${line}`)
  const live = new Set<Worker>()
  const pending = new Set<NodeJS.Timeout>()
  let started = false
  let listened = 0
  let stopping = false
  let unclean = 0
  let allGone: (() => void) | null = null

  const fork = (attempt: number, replacing?: number): void => {
    const worker = cluster.fork()
    live.add(worker)
    let listeningAt = 0
    worker.once('listening', () => {
      listeningAt = Date.now()
      if (replacing !== undefined) log(`process ${worker.process.pid} serving in place of ${replacing}`)
      else if (!started && ++listened === processes) {
        started = true
        log(`${processes} processes serving one port (pids ${[...live].map((w) => w.process.pid).join(', ')})`)
      }
    })
    worker.once('exit', (code, signal) => {
      live.delete(worker)
      const how = signal === null ? `code ${code}` : signal
      if (stopping) {
        if (code !== 0) unclean++
        if (live.size === 0) allGone?.()
        return
      }
      if (!started) {
        log(`process ${worker.process.pid} exited (${how}) before all ${processes} had started`)
        shutdown('failed to start', 1)
        return
      }
      const next = listeningAt > 0 && Date.now() - listeningAt >= STEADY_MS ? 0 : attempt + 1
      const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, next - 1))
      log(`process ${worker.process.pid} exited (${how}): starting another in ${delay} ms`)
      const timer = setTimeout(() => { pending.delete(timer); fork(next, worker.process.pid) }, delay)
      pending.add(timer)
    })
  }

  const shutdown = onShutdown(async () => {
    stopping = true
    for (const timer of pending) clearTimeout(timer)
    if (live.size > 0) {
      const gone = new Promise<void>((resolve) => { allGone = resolve })
      // A terminal's Ctrl-C reaches them too; their shutdown ignores the repeat.
      for (const worker of live) worker.process.kill('SIGTERM')
      await gone
    }
    if (unclean > 0) throw new Error(`${unclean} of the processes did not stop cleanly`)
  }, { graceMs: GRACE_MS, log, stopWithParent: underForeman() })

  for (let i = 0; i < processes; i++) fork(0)
}
