import type { Db } from '../db'

// The worker_instances table: each worker process beats every second (services/worker/heartbeat.ts);
// one silent for this long is dead, and the jobs it held locked are released by the others.
export const WORKER_DEAD_AFTER_MS = 5000

// How many workers are running jobs now: a recent heartbeat that names a live job runner.
export async function liveWorkers (db: Db, deadAfterMs = WORKER_DEAD_AFTER_MS): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM worker_instances
     WHERE heartbeat_at >= now() - make_interval(secs => $1) AND cardinality(pool_ids) > 0`, [deadAfterMs / 1000])
  return rows[0].n
}

// Writes the worker's beat (its live graphile-worker pool ids); returns, in ms (0: none), how long
// the next runnable job of `taskNames` (in graphile-worker's order, through its own index) has been
// due, and how long the oldest job its pools locked has been held, so a stalled runner shows
// (whether it stopped fetching or running).
export async function beatWorkerInstance (db: Db, instanceId: string, poolIds: string[], taskNames: string[]): Promise<{ waitedMs: number, heldMs: number }> {
  const { rows } = await db.query<{ waitedMs: number, heldMs: number }>({
    name: 'worker-instance-beat',
    text: `INSERT INTO worker_instances (id, pool_ids) VALUES ($1::uuid, $2::text[])
           ON CONFLICT (id) DO UPDATE SET pool_ids = EXCLUDED.pool_ids, heartbeat_at = now()
           RETURNING coalesce((SELECT extract(epoch FROM now() - j.run_at) * 1000
               FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks k ON k.id = j.task_id
               WHERE j.is_available AND j.run_at <= now() AND k.identifier = ANY($3::text[])
               ORDER BY j.priority, j.run_at LIMIT 1), 0)::float8 AS "waitedMs",
             (SELECT coalesce(extract(epoch FROM now() - min(locked_at)) * 1000, 0)::float8
               FROM graphile_worker._private_jobs WHERE locked_by = ANY($2::text[])) AS "heldMs"`,
    values: [instanceId, poolIds, taskNames],
  })
  return rows[0]
}

// Jobs locked (for longer than a heartbeat could take to record their pool) by a graphile-worker
// pool that no live worker announces: their worker was killed, or its runner stopped without
// releasing them. graphile-worker's own force_unlock_workers frees them; a NOTIFY wakes the workers.
// Returns the jobs released and their pools, or null when none.
export async function releaseOrphanedJobs (db: Db, deadAfterSeconds: number): Promise<{ jobs: number, poolIds: string[] } | null> {
  const { rows } = await db.query<{ jobs: number, poolIds: string[] }>({
    name: 'worker-release-orphaned',
    text: `WITH live AS (
        SELECT unnest(pool_ids) AS pool_id FROM worker_instances WHERE heartbeat_at >= now() - make_interval(secs => $1)),
      orphaned AS (
        SELECT array_agg(DISTINCT locked_by) AS pool_ids, count(*) AS jobs FROM graphile_worker._private_jobs
        WHERE locked_by IS NOT NULL AND locked_at < now() - make_interval(secs => $1)
          AND locked_by NOT IN (SELECT pool_id FROM live))
      SELECT jobs::int, pool_ids AS "poolIds", graphile_worker.force_unlock_workers(pool_ids),
        pg_notify('jobs:insert', json_build_object('count', jobs)::text)
      FROM orphaned WHERE pool_ids IS NOT NULL`,
    values: [deadAfterSeconds],
  })
  return rows[0] ?? null
}

export async function forgetDeadWorkerInstances (db: Db, seconds: number): Promise<void> {
  await db.query('DELETE FROM worker_instances WHERE heartbeat_at < now() - make_interval(secs => $1)', [seconds])
}

export async function deleteWorkerInstance (db: Db, instanceId: string): Promise<void> {
  await db.query('DELETE FROM worker_instances WHERE id = $1', [instanceId])
}
