import { checkNesting } from '../../lib/tasks'
import { isUuid } from '../../lib/models'
import { renderMessage, type RenderedMessage } from './render'
import type { JobHelpers } from 'graphile-worker'
import { GAVE_UP, failTask, permanentError, type WorkerContext } from './context'

// A job's source, checked again before rendering (the job may come from an older version or
// another writer): what cannot be rendered ends its task at once, as no retry would help.
export function renderSource (source: string): RenderedMessage {
  try {
    checkNesting(source)
  } catch (err) {
    throw permanentError(400, (err as Error).message, err)
  }
  try {
    return renderMessage(source)
  } catch (err) {
    throw permanentError(500, 'The message could not be rendered', err)
  }
}

// A payload that failed its check ends its task with an error, when it names one (no retry would help).
export async function failInvalidPayload (ctx: WorkerContext, helpers: JobHelpers, payload: unknown): Promise<void> {
  helpers.logger.error(`${helpers.job.task_identifier}: invalid payload, its task ends with an error`)
  const id = (payload as { taskId?: unknown } | null)?.taskId
  if (typeof id === 'string' && isUuid(id)) await failTask(ctx, id, GAVE_UP)
}
