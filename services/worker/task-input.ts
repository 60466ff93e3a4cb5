import { checkNesting } from '../../lib/tasks'
import { isUuid } from '../../lib/models'
import { renderMessage, type RenderedMessage } from './render'
import { permanentError } from './context'

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

// The task id of a payload that failed its check, when it has one, so that task can still be ended.
export function taskIdOf (payload: unknown): string | null {
  const id = (payload as { taskId?: unknown } | null)?.taskId
  return typeof id === 'string' && isUuid(id) ? id : null
}
