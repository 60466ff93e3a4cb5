import { Compile, Type } from '../../../lib/typebox'
import { publishMessage } from '../../../lib/events'
import { savePreviews } from '../../../lib/queries/messages'
import { previewHtml, renderMessage, type LinkPreview } from '../render'
import { inTransaction } from '../../../lib/db'
import type { TaskFactory } from '../context'

const Payload = Compile(Type.Object({ messageId: Type.Integer({ minimum: 1 }), source: Type.String() }))

// Fetches the previews of a message's first links (outside any transaction: a slow page holds
// no lock), then saves the message again and publishes the update. savePreviews skips a message
// edited since (its edit queues its own) or deleted (a late preview must not bring the text back).
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
    const message = await savePreviews(client, messageId, source, html)
    if (message !== null) await publishMessage(client, message)
  })
}

export default previewLinks
