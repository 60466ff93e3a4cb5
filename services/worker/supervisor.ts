import { EventEmitter } from 'node:events'
import { run, type Runner, type RunnerOptions, type WorkerEvents } from 'graphile-worker'

// How long a runner that stops by itself may take before it is given up.
const STOP_GRACE_MS = 5000
// How long a running runner may start no job while a due job waits, or one of its own locked jobs does.
const STALL_MS = 5000
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref())

interface Log { warn: (line: string) => void, error: (line: string) => void }

export interface SupervisorOptions {
  runnerOptions: RunnerOptions
  log: Log
  // The pool id the running runner locks jobs with, or null when none runs.
  onPool: (poolId: string | null) => void
  // The runner cannot be brought back (graphile-worker saw a breaking schema migration).
  onStoppedForGood: (err: Error) => void
  minDelayMs?: number
  maxDelayMs?: number
}

// graphile-worker stops its runner on a connection error while it records finished jobs (the
// runner's promise then settles and, with nothing else scheduled, the process would end with
// code 0). This keeps a runner running: a stopped one is started again with backoff, for as long
// as it takes the database to come back. The jobs the stopped runner held stay locked by its pool
// id until the heartbeat's release frees them (see heartbeat.ts); they run again, harmlessly.
export class RunnerSupervisor {
  private runner: Runner | null = null
  private live = false
  private closing = false
  private timer: NodeJS.Timeout | undefined
  private failures = 0
  private jobs = { active: 0, lastStartAt: 0 }
  restarts = 0

  constructor (private readonly options: SupervisorOptions) {}

  get current (): Runner | null { return this.runner }

  // Whether a runner is running jobs now.
  get running (): boolean { return this.live }

  // The first start fails loudly (a worker that never ran is a configuration problem).
  async start (): Promise<Runner> {
    return await this.launch()
  }

  private async launch (): Promise<Runner> {
    const events = new EventEmitter() as WorkerEvents
    // Emitted inside run(), before the pool locks any job.
    events.on('pool:create', ({ workerPool }) => this.options.onPool(workerPool.id))
    // Each runner counts its own jobs (a given-up runner's late events change nothing here).
    const jobs = this.jobs = { active: 0, lastStartAt: Date.now() }
    events.on('job:start', () => { jobs.lastStartAt = Date.now(); jobs.active++ })
    events.on('job:complete', () => { jobs.active-- })
    let launched: Runner | null = null
    // graphile-worker 0.18 can leave a pool's shutdown waiting forever after repeated failures to
    // record jobs (its batcher's count of pending batches goes wrong): a pool that began stopping on
    // its own gets a few seconds, then is given up (it takes no more jobs) and a new runner starts.
    events.on('pool:gracefulShutdown', () => {
      if (this.closing) return
      setTimeout(() => { if (launched !== null) this.stopped(launched, new Error('the runner did not finish stopping')) }, STOP_GRACE_MS)
    })
    // And when its released local queue fails to hand jobs back, it loses that promise, whose
    // rejection then ends the process: kept handled here (those jobs stay locked by the stopped
    // pool until the heartbeat's release frees them).
    events.on('localQueue:init', ({ localQueue }) => {
      const queue = localQueue as unknown as { background: (promise: Promise<unknown>) => void }
      const background = queue.background.bind(queue)
      queue.background = (promise) => {
        try {
          background(promise)
        } catch (err) {
          promise.catch(() => {})
          throw err
        }
      }
    })
    const runner = launched = await run({ ...this.options.runnerOptions, events })
    if (this.closing) {
      await runner.stop().catch(() => {})
      throw new Error('worker closed while starting')
    }
    this.runner = runner
    this.live = true
    runner.promise.then(
      () => this.stopped(runner, new Error('the runner stopped')),
      (err: unknown) => this.stopped(runner, err instanceof Error ? err : new Error(String(err))))
    return runner
  }

  // Told by the heartbeat how long the oldest due job has waited, and the oldest job this worker's
  // pool locked has been held: a runner with no job running that has started none while a job waited,
  // or sat locked in its local queue, the whole stall time is stuck (after a database restart,
  // graphile-worker's local queue can stop fetching, or keep jobs it no longer hands out), so it is
  // stopped and a new one started; the heartbeat then releases what the old pool held. Counting from
  // the job's due time, not the last start, spares an idle runner that takes a job a little late.
  jobsWaiting ({ waitedMs, heldMs }: { waitedMs: number, heldMs: number }): void {
    const runner = this.runner
    if (Math.max(waitedMs, heldMs) < STALL_MS || !this.live || runner === null || this.jobs.active > 0 || Date.now() - this.jobs.lastStartAt < STALL_MS) return
    runner.stop().catch(() => {})
    this.stopped(runner, new Error(`no job started for ${STALL_MS / 1000} s while a job was ${waitedMs >= STALL_MS ? 'waiting' : 'held'}`))
  }

  // Once per runner: a runner replaced, or already handled (its late settling, a watchdog), is ignored.
  private stopped (runner: Runner, err: Error): void {
    if (this.runner !== runner || !this.live || this.closing) return
    this.live = false
    this.options.onPool(null)
    // graphile-worker's code for a breaking migration by a newer version: running on would be unsafe.
    if (process.exitCode === 57) {
      this.options.onStoppedForGood(err)
      return
    }
    this.options.log.error(`job runner stopped (${err.message}); starting it again`)
    this.scheduleRestart()
  }

  private scheduleRestart (): void {
    // A try costs one connection attempt: capped low, so the worker is back soon after the database.
    const min = this.options.minDelayMs ?? 250
    const delay = Math.min(this.options.maxDelayMs ?? 4000, min * 2 ** this.failures)
    this.timer = setTimeout(() => {
      this.launch().then(() => {
        this.failures = 0
        this.restarts++
        this.options.log.warn('job runner started again')
      }, (err: Error) => {
        if (this.closing) return
        this.failures++
        this.options.log.error(`job runner could not start (${err.message}); trying again in ${delay} ms`)
        this.scheduleRestart()
      })
    }, delay)
  }

  // Stops the runner (jobs in flight finish or go back) and any pending restart.
  async stop (): Promise<void> {
    this.closing = true
    clearTimeout(this.timer)
    const runner = this.runner
    // Bounded, for the same graphile-worker defect: a stop that hangs must not hang the process's shutdown.
    if (runner !== null && this.live) await Promise.race([runner.stop().catch(() => {}), sleep(2 * STOP_GRACE_MS)])
    this.live = false
  }
}
