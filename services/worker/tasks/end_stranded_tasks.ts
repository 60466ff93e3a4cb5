import { endStrandedTasks as endStranded } from '../../../lib/queries/tasks'
import { scheduleNext } from '../recurring'
import type { TaskFactory } from '../context'

export const END_STRANDED_TASKS = 'end_stranded_tasks'
export const END_STRANDED_EVERY_SECONDS = 10

// The safety net under "every accepted task ends" (lib/queries/tasks.ts says how it is safe).
const endStrandedTasks: TaskFactory = (ctx) => async (_payload, helpers) => {
  try {
    const ended = await endStranded(ctx.db.pool)
    if (ended > 0) helpers.logger.warn(`ended ${ended} stranded tasks with an error`)
  } catch (err) {
    // A failed run is not retried: the next one is due soon anyway.
    helpers.logger.error(`stranded tasks: ${(err as Error).message}`)
  } finally {
    await scheduleNext(helpers, END_STRANDED_TASKS, END_STRANDED_EVERY_SECONDS)
  }
}

export default endStrandedTasks
