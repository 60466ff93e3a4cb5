import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import {
  WORKER_DEAD_AFTER_MS, beatWorkerInstance, deleteWorkerInstance, forgetDeadWorkerInstances, releaseOrphanedJobs,
} from '../../lib/queries/worker-instances'

export interface HeartbeatSettings {
  intervalMs: number
  // A worker whose row is older than this is dead (killed, or cut off): its job locks are released.
  deadAfterMs: number
}

export const HEARTBEAT_DEFAULTS: HeartbeatSettings = { intervalMs: 1000, deadAfterMs: WORKER_DEAD_AFTER_MS }

interface Log { warn: (line: string) => void, info: (line: string) => void }

// This worker's heartbeat row (its id and its live graphile-worker pool id), and the release of
// the jobs that dead workers left locked, which graphile-worker would otherwise hold for 4 hours.
export class WorkerHeartbeat {
  readonly instanceId = randomUUID()
  private poolId: string | null = null
  private timer: NodeJS.Timeout | undefined
  private beating: Promise<void> | null = null
  private again = false
  private stopped = false
  // Since when our beats have got through without a gap: only then may we judge others dead
  // (after a database outage every worker's row is old, and theirs get fresh within a beat).
  private connectedSince: number | null = null
  private lastBeatAt = 0
  private beats = 0

  // Called after each beat that got through, with how long the oldest due job has waited and the
  // oldest of this worker's locked jobs has been held (a stalled runner shows).
  onBeat: (jobs: { waitedMs: number, heldMs: number }) => void = () => {}

  constructor (private readonly pool: pg.Pool, private readonly log: Log, private readonly taskNames: string[],
    private readonly settings: HeartbeatSettings = HEARTBEAT_DEFAULTS) {}

  start (): void {
    this.timer = setInterval(() => this.tick(), this.settings.intervalMs)
    this.timer.unref()
    this.tick()
  }

  // The pool this worker's runner locks jobs with (null while it has none); recorded at once.
  setPool (poolId: string | null): void {
    this.poolId = poolId
    this.tick()
  }

  // Whether our last beat got through recently: the database sees this worker alive.
  get alive (): boolean {
    return !this.stopped && Date.now() - this.lastBeatAt < this.settings.deadAfterMs
  }

  // Runs a beat now, or right after the one running (a slow beat is never overlapped).
  private tick (): void {
    if (this.stopped) return
    if (this.beating !== null) {
      this.again = true
      return
    }
    this.beating = this.beat().finally(() => {
      this.beating = null
      if (this.again) {
        this.again = false
        this.tick()
      }
    })
  }

  private async beat (): Promise<void> {
    const sentAt = Date.now()
    try {
      const jobs = await beatWorkerInstance(this.pool, this.instanceId, this.poolId === null ? [] : [this.poolId], this.taskNames)
      this.connectedSince ??= sentAt
      this.lastBeatAt = sentAt
      this.onBeat(jobs)
      // Every other beat is enough for the release; dead rows are forgotten now and then.
      this.beats++
      if (sentAt - this.connectedSince >= this.settings.deadAfterMs && this.beats % 2 === 0) await this.releaseOrphaned()
      if (this.beats % 60 === 0) await forgetDeadWorkerInstances(this.pool, Math.max(60, 10 * this.settings.deadAfterMs / 1000))
    } catch (err) {
      this.connectedSince = null
      this.log.warn(`worker heartbeat failed: ${(err as Error).message}`)
    }
  }

  // Releases the jobs of dead workers; returns how many.
  async releaseOrphaned (): Promise<number> {
    const released = await releaseOrphanedJobs(this.pool, this.settings.deadAfterMs / 1000)
    if (released === null) return 0
    this.log.info(`released ${released.jobs} jobs locked by dead worker pools ${released.poolIds.join(', ')}`)
    return released.jobs
  }

  // Stops beating and removes our row (the runner has stopped and released its jobs by then).
  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    await this.beating
    await deleteWorkerInstance(this.pool, this.instanceId).catch(() => {})
  }
}
