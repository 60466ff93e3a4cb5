import type pg from 'pg'
import type { JobHelpers } from 'graphile-worker'
import { advisoryUnlock, tryAdvisoryLock } from '../../lib/queries/locks'

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
    if (!await tryAdvisoryLock(client, key)) return false
    try {
      await work()
    } finally {
      await advisoryUnlock(client, key)
    }
    return true
  } finally {
    client.release()
  }
}
