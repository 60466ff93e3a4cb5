import { markUsersOffline } from '../../../lib/queries/presence'
import { scheduleNext, withExclusiveLock } from '../recurring'
import type { TaskFactory } from '../context'

export const SWEEP_PRESENCE = 'sweep_presence'
const SWEEP_LOCK = 0x666c7377

// Marks offline every user unseen for OFFLINE_AFTER_SECONDS without a live push connection
// (one User event per flip), then queues the next sweep. One sweep at a time across workers.
const sweepPresence: TaskFactory = (ctx) => async (_payload, helpers) => {
  const { OFFLINE_AFTER_SECONDS, OFFLINE_SWEEP_SECONDS } = ctx.config
  try {
    await withExclusiveLock(ctx.db.pool, SWEEP_LOCK, async () => {
      const flipped = await markUsersOffline(ctx.db.pool, { unseenForSeconds: OFFLINE_AFTER_SECONDS, liveWithinSeconds: OFFLINE_AFTER_SECONDS })
      if (flipped.length > 0) helpers.logger.debug(`marked ${flipped.length} users offline`)
    })
  } catch (err) {
    // A failed run is not retried: the next one is due soon anyway.
    helpers.logger.error(`sweep: ${(err as Error).message}`)
  } finally {
    await scheduleNext(helpers, SWEEP_PRESENCE, OFFLINE_SWEEP_SECONDS)
  }
}

export default sweepPresence
