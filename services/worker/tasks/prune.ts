import { pruneBoundary, pruneEvents } from '../../../lib/queries/events'
import { pruneEndedTasks } from '../../../lib/queries/tasks'
import { forgetDeadPushInstances } from '../../../lib/queries/presence'
import { scheduleNext, withExclusiveLock } from '../recurring'
import type { TaskFactory } from '../context'

export const PRUNE = 'prune'
export const PRUNE_EVERY_SECONDS = 60
const PRUNE_LOCK = 0x666c7072
const BATCH = 5000

// Deletes in batches until a batch comes back short, so no statement holds locks for long on a big table.
async function inBatches (remove: (batch: number) => Promise<number>): Promise<void> {
  while (await remove(BATCH) >= BATCH) { /* more to go */ }
}

const prune: TaskFactory = (ctx) => async (_payload, helpers) => {
  const { EVENT_RETENTION_SECONDS, OFFLINE_AFTER_SECONDS } = ctx.config
  const pool = ctx.db.pool
  try {
    await withExclusiveLock(pool, PRUNE_LOCK, async () => {
      // Events up to the newest one older than the retention go, by seq, so what is kept has no
      // holes; older `since` positions then get a reset.
      const boundary = await pruneBoundary(pool, EVENT_RETENTION_SECONDS)
      if (boundary !== null) await inBatches((batch) => pruneEvents(pool, boundary, batch))
      // Finished tasks are answered for as long as events are kept.
      await inBatches((batch) => pruneEndedTasks(pool, EVENT_RETENTION_SECONDS, batch))
      // Push instances that stopped heartbeating (killed): their connection rows go with them.
      await forgetDeadPushInstances(pool, 3 * OFFLINE_AFTER_SECONDS)
    })
  } catch (err) {
    // A failed run is not retried: the next one is due soon anyway.
    helpers.logger.error(`prune: ${(err as Error).message}`)
  } finally {
    await scheduleNext(helpers, PRUNE, PRUNE_EVERY_SECONDS)
  }
}

export default prune
