import type pg from 'pg'
import type { JobHelpers } from 'graphile-worker'

// Recurring jobs (more often than cron's one minute): each run queues the next under a job
// key, so however many workers start, at most one run is pending.
export async function scheduleNext (helpers: Pick<JobHelpers, 'addJob'>, identifier: string, afterSeconds: number): Promise<void> {
  await helpers.addJob(identifier, {}, {
    jobKey: identifier,
    jobKeyMode: 'preserve_run_at',
    runAt: new Date(Date.now() + afterSeconds * 1000),
    maxAttempts: 3,
  })
}

// Runs `work` only if no other process is running it (session advisory lock, not waited for).
export async function withExclusiveLock (pool: pg.Pool, key: number, work: () => Promise<void>): Promise<boolean> {
  const client = await pool.connect()
  try {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [key])
    if (!rows[0].locked) return false
    try {
      await work()
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [key])
    }
    return true
  } finally {
    client.release()
  }
}
