import type pg from 'pg'

// Worker processes beat every second in `worker_instances` (services/worker/heartbeat.ts); one
// silent for this long is dead, and the jobs it held locked are released by the others.
export const WORKER_DEAD_AFTER_MS = 5000

// How many workers are running jobs now: a recent heartbeat that names a live job runner.
export async function liveWorkers (pool: Pick<pg.Pool, 'query'>, deadAfterMs = WORKER_DEAD_AFTER_MS): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM worker_instances
     WHERE heartbeat_at >= now() - make_interval(secs => $1) AND cardinality(pool_ids) > 0`, [deadAfterMs / 1000])
  return rows[0].n
}
