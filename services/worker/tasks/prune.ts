import type pg from 'pg'
import { scheduleNext, withExclusiveLock } from '../recurring'
import type { TaskFactory } from '../context'

export const PRUNE = 'prune'
export const PRUNE_EVERY_SECONDS = 60
const PRUNE_LOCK = 0x666c7072
const BATCH = 5000

// The newest event by creation older than the retention: events up to it by seq go, so what is
// kept has no holes (created_at is when a transaction began, and seq follows commit order).
const EVENTS_BOUNDARY = 'SELECT seq FROM events WHERE created_at < now() - make_interval(secs => $1) ORDER BY created_at DESC LIMIT 1'
// Older `since` positions then get a reset.
const PRUNE_EVENTS = 'DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= $1 ORDER BY seq LIMIT $2)'
// Finished tasks are answered for as long as events are kept.
const PRUNE_TASKS = `DELETE FROM tasks WHERE id IN (
  SELECT id FROM tasks WHERE status IN ('done', 'failed') AND updated_at < now() - make_interval(secs => $1) LIMIT $2)`
// Push instances that stopped heartbeating (killed): their connection rows go with them.
const PRUNE_INSTANCES = 'DELETE FROM push_instances WHERE heartbeat_at < now() - make_interval(secs => $1)'

// In batches, so no statement holds locks for long on a big table.
async function deleteInBatches (pool: pg.Pool, text: string, bound: unknown): Promise<void> {
  for (;;) {
    const { rowCount } = await pool.query(text, [bound, BATCH])
    if ((rowCount ?? 0) < BATCH) return
  }
}

const prune: TaskFactory = (ctx) => async (_payload, helpers) => {
  const { EVENT_RETENTION_SECONDS, OFFLINE_AFTER_SECONDS } = ctx.config
  const pool = ctx.db.pool
  try {
    await withExclusiveLock(pool, PRUNE_LOCK, async () => {
      const { rows } = await pool.query<{ seq: string }>(EVENTS_BOUNDARY, [EVENT_RETENTION_SECONDS])
      if (rows.length > 0) await deleteInBatches(pool, PRUNE_EVENTS, rows[0].seq)
      await deleteInBatches(pool, PRUNE_TASKS, EVENT_RETENTION_SECONDS)
      await pool.query(PRUNE_INSTANCES, [3 * OFFLINE_AFTER_SECONDS])
    })
  } catch (err) {
    // A failed run is not retried: the next one is due soon anyway.
    helpers.logger.error(`prune: ${(err as Error).message}`)
  } finally {
    await scheduleNext(helpers, PRUNE, PRUNE_EVERY_SECONDS)
  }
}

export default prune
