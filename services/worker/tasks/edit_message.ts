import { Compile, Type } from '../../../lib/typebox'
import { PREVIEW_LINKS } from '../../../lib/tasks'
import { editOwnMessage } from '../../../lib/queries/messages'
import { addJob } from '../../../lib/queries/jobs'
import { finishTask, type TaskFactory } from '../context'
import { failInvalidPayload, renderSource } from '../task-input'

const Payload = Compile(Type.Object({ taskId: Type.String({ format: 'uuid' }), messageId: Type.Integer({ minimum: 1 }), source: Type.String() }))

// Re-renders an edited message and marks it edited; the task ends in 204, or 404 when the message
// is gone (deleted included: an edit queued before the delete and run after it must not revive it)
// or its room no longer readable by the editor, 403 when it is someone else's.
const editMessage: TaskFactory = (ctx) => async (payload, helpers) => {
  if (!Payload.Check(payload)) return failInvalidPayload(ctx, helpers, payload)
  const { taskId, messageId, source } = payload
  await finishTask(ctx, helpers, taskId, () => renderSource(source), async (client, task, rendered) => {
    const message = await editOwnMessage(client, messageId, task.userId, source, rendered.html)
    if (message === 'missing') return { response: { status: 404, body: { error: 'Message not found' } } }
    if (message === 'forbidden') return { response: { status: 403, body: { error: 'You can only edit your own messages' } } }
    if (rendered.links.length > 0 && ctx.config.LINK_PREVIEW_MAX_LINKS > 0) {
      await addJob(client, PREVIEW_LINKS, { messageId: message.id, source }, 2)
    }
    return { response: { status: 204 }, message }
  })
}

export default editMessage
