import { scheduleNext, withExclusiveLock } from '../recurring'
import type { TaskFactory } from '../context'

export const PRUNE = 'prune'
export const PRUNE_EVERY_SECONDS = 60
const PRUNE_LOCK = 0x666c7072
const BATCH = 5000

// Deletes in batches so no statement holds locks for long on a big table.
const statements = [
  // The event stream keeps EVENT_RETENTION_SECONDS; older `since` positions get a reset. Up to the
  // newest old event by seq, so what is kept has no holes (created_at is when a transaction began).
  `DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= (
     SELECT max(seq) FROM events WHERE created_at < now() - make_interval(secs => $1)) ORDER BY seq LIMIT $2)`,
  // Finished tasks are answered for as long as events are kept.
  `DELETE FROM tasks WHERE id IN (SELECT id FROM tasks WHERE status IN ('done', 'failed') AND updated_at < now() - make_interval(secs => $1) LIMIT $2)`,
]
// Push instances that stopped heartbeating (killed): their connection rows go with them.
const PRUNE_INSTANCES = 'DELETE FROM push_instances WHERE heartbeat_at < now() - make_interval(secs => $1)'

const prune: TaskFactory = (ctx) => async (_payload, helpers) => {
  const { EVENT_RETENTION_SECONDS, OFFLINE_AFTER_SECONDS } = ctx.config
  try {
    await withExclusiveLock(ctx.db.pool, PRUNE_LOCK, async () => {
      for (const text of statements) {
        for (;;) {
          const { rowCount } = await ctx.db.pool.query(text, [EVENT_RETENTION_SECONDS, BATCH])
          if ((rowCount ?? 0) < BATCH) break
        }
      }
      await ctx.db.pool.query(PRUNE_INSTANCES, [3 * OFFLINE_AFTER_SECONDS])
    })
  } catch (err) {
    // A failed run is not retried: the next one is due soon anyway.
    helpers.logger.error(`prune: ${(err as Error).message}`)
  } finally {
    await scheduleNext(helpers, PRUNE, PRUNE_EVERY_SECONDS)
  }
}

export default prune
