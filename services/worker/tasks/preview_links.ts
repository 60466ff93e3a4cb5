import { Type } from 'typebox'
import { Compile } from 'typebox/compile'
import { publishMessage } from '../../../lib/events'
import { MESSAGE_COLUMNS, type MessageRow } from '../../../lib/models'
import { previewHtml, renderMessage, type LinkPreview } from '../render'
import { inTransaction } from '../../../lib/db'
import { asTransaction, type TaskFactory } from '../context'

const Payload = Compile(Type.Object({ messageId: Type.Integer({ minimum: 1 }), source: Type.String() }))

// Only if the message still has the source the previews were made for (an edit queues its own).
const SAVE_PREVIEWS = {
  name: 'save-previews',
  text: `UPDATE messages SET html = $3, updated_at = now() WHERE id = $1 AND source = $2 RETURNING ${MESSAGE_COLUMNS}`,
}

// Fetches the previews of a message's first links (outside any transaction: a slow page holds
// no lock), then saves the message again and publishes the update.
const previewLinks: TaskFactory = (ctx) => async (payload, helpers) => {
  if (!Payload.Check(payload)) {
    helpers.logger.error('preview_links: invalid payload, dropped')
    return
  }
  const { messageId, source } = payload
  const rendered = renderMessage(source)
  const links = rendered.links.slice(0, ctx.config.LINK_PREVIEW_MAX_LINKS)
  const previews = (await Promise.all(links.map((link) => ctx.previewer.preview(link)))).filter((p): p is LinkPreview => p !== null)
  if (previews.length === 0) return
  const html = rendered.html + previews.map(previewHtml).join('')
  await inTransaction(ctx.db.pool, async (client) => {
    const { rows } = await client.query<MessageRow>({ ...SAVE_PREVIEWS, values: [messageId, source, html] })
    if (rows.length > 0) await publishMessage(asTransaction(client), rows[0])
  })
}

export default previewLinks
