import { Type } from 'typebox'
import { Value } from 'typebox/value'
import { messageJson, messageUrl, type MessageRow } from '../../../plugins/models'
import { PREVIEW_LINKS } from '../../../plugins/tasks'
import { renderMessage } from '../render'
import { addJobInTransaction, finishTask, messageColumns, type TaskFactory } from '../context'

// Jobs may have been queued by an older version: checked, never trusted.
const Payload = Type.Object({ taskId: Type.String({ format: 'uuid' }), source: Type.String() })

const INSERT_MESSAGE = {
  name: 'insert-message',
  text: `INSERT INTO messages (source, html, user_id) VALUES ($1, $2, $3) RETURNING ${messageColumns}`,
}

// Creates and renders a posted message; the task ends in 201 with it. Previews follow in their own job.
const postMessage: TaskFactory = (ctx) => async (payload, helpers) => {
  if (!Value.Check(Payload, payload)) {
    helpers.logger.error('post_message: invalid payload, dropped')
    return
  }
  const { taskId, source } = payload
  const rendered = renderMessage(source)
  await finishTask(ctx, helpers, taskId, async (client, task) => {
    const { rows } = await client.query<MessageRow>({ ...INSERT_MESSAGE, values: [source, rendered.html, task.userId] })
    const message = rows[0]
    if (rendered.links.length > 0 && ctx.config.LINK_PREVIEW_MAX_LINKS > 0) {
      await addJobInTransaction(client, PREVIEW_LINKS, { messageId: message.id, source }, 2)
    }
    return { response: { status: 201, headers: { location: messageUrl(message.id) }, body: messageJson(message) }, message }
  })
}

export default postMessage
