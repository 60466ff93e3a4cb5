import { Type } from 'typebox'
import { Compile } from 'typebox/compile'
import { MESSAGE_COLUMNS, type MessageRow } from '../../../lib/models'
import { PREVIEW_LINKS } from '../../../lib/tasks'
import { addJobInTransaction, finishTask, type TaskFactory } from '../context'
import { failInvalidPayload, renderSource } from '../task-input'
import { lockRooms, readableBy } from '../../../lib/rooms'

const Payload = Compile(Type.Object({ taskId: Type.String({ format: 'uuid' }), messageId: Type.Integer({ minimum: 1 }), source: Type.String() }))

// The message's room may be read by the editor ($2).
const READABLE = readableBy('m.room_id', '$2')
const LOCK_ROOM = { name: 'lock-edit-room', text: lockRooms('ARRAY(SELECT room_id FROM messages WHERE id = $1)') }
const UPDATE_MESSAGE = {
  name: 'update-message',
  text: `UPDATE messages m SET source = $3, html = $4, updated_at = now(), edited_at = now() WHERE id = $1 AND user_id = $2 AND ${READABLE}
         RETURNING ${MESSAGE_COLUMNS}`,
}
// Why an edit changed nothing: no row (gone, or in a room the editor may not read) is a 404, else a 403.
const EDITABLE = {
  name: 'message-editable',
  text: `SELECT 1 FROM messages m WHERE id = $1 AND ${READABLE}`,
}

// Re-renders an edited message and marks it edited; the task ends in 204, or 404 when the message
// is gone or its room no longer readable by the editor, 403 when it is someone else's.
const editMessage: TaskFactory = (ctx) => async (payload, helpers) => {
  if (!Payload.Check(payload)) return failInvalidPayload(ctx, helpers, payload)
  const { taskId, messageId, source } = payload
  await finishTask(ctx, helpers, taskId, () => renderSource(source), async (client, task, rendered) => {
    await client.query({ ...LOCK_ROOM, values: [messageId] })
    const { rows } = await client.query<MessageRow>({ ...UPDATE_MESSAGE, values: [messageId, task.userId, source, rendered.html] })
    if (rows.length === 0) {
      const readable = await client.query({ ...EDITABLE, values: [messageId, task.userId] })
      return readable.rowCount === 0
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
