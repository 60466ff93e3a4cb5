import { Type } from 'typebox'
import { Compile } from 'typebox/compile'
import { MESSAGE_COLUMNS, type MessageRow } from '../../../lib/models'
import { PREVIEW_LINKS } from '../../../lib/tasks'
import { addJobInTransaction, failTask, finishTask, type TaskFactory } from '../context'
import { renderSource, taskIdOf } from '../task-input'

const Payload = Compile(Type.Object({ taskId: Type.String({ format: 'uuid' }), messageId: Type.Integer({ minimum: 1 }), source: Type.String() }))

const UPDATE_MESSAGE = {
  name: 'update-message',
  text: `UPDATE messages SET source = $2, html = $3, updated_at = now() WHERE id = $1 AND user_id = $4 RETURNING ${MESSAGE_COLUMNS}`,
}

// Re-renders an edited message; the task ends in 204 (or 404/403 if the message went away meanwhile).
const editMessage: TaskFactory = (ctx) => async (payload, helpers) => {
  if (!Payload.Check(payload)) {
    helpers.logger.error('edit_message: invalid payload, its task ends with an error')
    const taskId = taskIdOf(payload)
    if (taskId !== null) await failTask(ctx, taskId, { status: 500, body: { error: 'The task failed' } })
    return
  }
  const { taskId, messageId, source } = payload
  await finishTask(ctx, helpers, taskId, () => renderSource(source), async (client, task, rendered) => {
    const { rows } = await client.query<MessageRow>({ ...UPDATE_MESSAGE, values: [messageId, source, rendered.html, task.userId] })
    if (rows.length === 0) {
      const exists = await client.query('SELECT 1 FROM messages WHERE id = $1', [messageId])
      return exists.rowCount === 0
        ? { response: { status: 404, body: { error: 'Message not found' } } }
        : { response: { status: 403, body: { error: 'You can only edit your own messages' } } }
    }
    const message = rows[0]
    if (rendered.links.length > 0 && ctx.config.LINK_PREVIEW_MAX_LINKS > 0) {
      await addJobInTransaction(client, PREVIEW_LINKS, { messageId: message.id, source }, 2)
    }
    return { response: { status: 204 }, message }
  })
}

export default editMessage
