import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import { WORKER_DEAD_AFTER_MS } from '../../lib/worker-instances'

export interface HeartbeatSettings {
  intervalMs: number
  // A worker whose row is older than this is dead (killed, or cut off): its job locks are released.
  deadAfterMs: number
}

export const HEARTBEAT_DEFAULTS: HeartbeatSettings = { intervalMs: 1000, deadAfterMs: WORKER_DEAD_AFTER_MS }

interface Log { warn: (line: string) => void, info: (line: string) => void }

// Also tells whether jobs have been waiting, unlocked, for a second or more (see onBeat).
const BEAT = {
  name: 'worker-instance-beat',
  text: `INSERT INTO worker_instances (id, pool_ids) VALUES ($1::uuid, $2::text[])
         ON CONFLICT (id) DO UPDATE SET pool_ids = EXCLUDED.pool_ids, heartbeat_at = now()
         RETURNING EXISTS (SELECT 1 FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks k ON k.id = j.task_id
           WHERE j.locked_at IS NULL AND j.run_at <= now() - interval '1 second' AND j.attempts < j.max_attempts
             AND k.identifier = ANY($3::text[])) AS waiting`,
}
// Jobs locked (for longer than a heartbeat could take to record their pool) by a graphile-worker
// pool that no live worker announces: their worker was killed, or its runner stopped without
// releasing them. graphile-worker's own force_unlock_workers frees them; a NOTIFY wakes the workers.
const RELEASE_ORPHANED = {
  name: 'worker-release-orphaned',
  text: `WITH live AS (
      SELECT unnest(pool_ids) AS pool_id FROM worker_instances WHERE heartbeat_at >= now() - make_interval(secs => $1)),
    orphaned AS (
      SELECT array_agg(DISTINCT locked_by) AS pool_ids, count(*) AS jobs FROM graphile_worker._private_jobs
      WHERE locked_by IS NOT NULL AND locked_at < now() - make_interval(secs => $1)
        AND locked_by NOT IN (SELECT pool_id FROM live))
    SELECT jobs::int, pool_ids, graphile_worker.force_unlock_workers(pool_ids),
      pg_notify('jobs:insert', json_build_object('count', jobs)::text)
    FROM orphaned WHERE pool_ids IS NOT NULL`,
}
const FORGET_DEAD = 'DELETE FROM worker_instances WHERE heartbeat_at < now() - make_interval(secs => $1)'

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

  // Called after each beat that got through, with whether jobs are waiting (a stalled runner shows).
  onBeat: (jobsWaiting: boolean) => void = () => {}

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
      const { rows } = await this.pool.query<{ waiting: boolean }>({ ...BEAT, values: [this.instanceId, this.poolId === null ? [] : [this.poolId], this.taskNames] })
      this.connectedSince ??= sentAt
      this.lastBeatAt = sentAt
      this.onBeat(rows[0].waiting)
      // Every other beat is enough for the release; dead rows are forgotten now and then.
      this.beats++
      if (sentAt - this.connectedSince >= this.settings.deadAfterMs && this.beats % 2 === 0) await this.releaseOrphaned()
      if (this.beats % 60 === 0) await this.pool.query(FORGET_DEAD, [Math.max(60, 10 * this.settings.deadAfterMs / 1000)])
    } catch (err) {
      this.connectedSince = null
      this.log.warn(`worker heartbeat failed: ${(err as Error).message}`)
    }
  }

  // Releases the jobs of dead workers; returns how many.
  async releaseOrphaned (): Promise<number> {
    const { rows } = await this.pool.query<{ jobs: number, pool_ids: string[] }>({ ...RELEASE_ORPHANED, values: [this.settings.deadAfterMs / 1000] })
    if (rows.length === 0) return 0
    this.log.info(`released ${rows[0].jobs} jobs locked by dead worker pools ${rows[0].pool_ids.join(', ')}`)
    return rows[0].jobs
  }

  // Stops beating and removes our row (the runner has stopped and released its jobs by then).
  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    await this.beating
    await this.pool.query('DELETE FROM worker_instances WHERE id = $1', [this.instanceId]).catch(() => {})
  }
}
