import { TASKS_CHANNEL } from '../../../lib/tasks'
import { scheduleNext } from '../recurring'
import type { TaskFactory } from '../context'

export const END_STRANDED_TASKS = 'end_stranded_tasks'
export const END_STRANDED_EVERY_SECONDS = 10

// The safety net under "every accepted task ends": a queued task whose job is gone, or has used
// all its attempts and is not running, can no longer be ended by it, so it ends here with a 500.
// A task and its job (named by the task's kind, carrying its id) are inserted by one statement and
// a job is deleted only after its task ended, so one snapshot never shows a live task's job as
// gone; the row is re-checked when locked.
const END_STRANDED = {
  name: 'end-stranded-tasks',
  text: `WITH stranded AS (
      SELECT t.id FROM tasks t
      WHERE t.status = 'queued' AND NOT EXISTS (
        SELECT 1 FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks k ON k.id = j.task_id
        WHERE k.identifier = t.kind AND j.payload->>'taskId' = t.id::text
          AND (j.attempts < j.max_attempts OR j.locked_at IS NOT NULL))
      LIMIT 1000 FOR UPDATE OF t SKIP LOCKED)
    UPDATE tasks SET status = 'failed', response_status = 500, response_headers = '{}'::jsonb,
      response_body = '{"error": "The task failed"}'::jsonb, updated_at = now()
    FROM stranded WHERE tasks.id = stranded.id AND tasks.status = 'queued'
    RETURNING pg_notify('${TASKS_CHANNEL}', tasks.id::text)`,
}

const endStrandedTasks: TaskFactory = (ctx) => async (_payload, helpers) => {
  try {
    const { rowCount } = await ctx.db.pool.query(END_STRANDED)
    if ((rowCount ?? 0) > 0) helpers.logger.warn(`ended ${rowCount} stranded tasks with an error`)
  } catch (err) {
    // A failed run is not retried: the next one is due soon anyway.
    helpers.logger.error(`stranded tasks: ${(err as Error).message}`)
  } finally {
    await scheduleNext(helpers, END_STRANDED_TASKS, END_STRANDED_EVERY_SECONDS)
  }
}

export default endStrandedTasks
