import { Compile, Type } from '../../../lib/typebox'
import { failingForGood, type TaskFactory } from '../context'
import { PostBatcher } from '../post-batcher'
import { GENERAL_ROOM_ID } from '../../../lib/queries/access'
import { failInvalidPayload, renderSource } from '../task-input'

// Jobs may have been queued by an older version: checked, never trusted (one with no roomId posts to general).
const Payload = Compile(Type.Object({ taskId: Type.String({ format: 'uuid' }), source: Type.String(), roomId: Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647 })) }))

// Creates and renders a posted message in its room; the task ends in 201 with it (404 when its
// author may no longer read the room). Previews follow in their own job.
const postMessage: TaskFactory = (ctx) => {
  const batcher = new PostBatcher(ctx.pipelined)
  return async (payload, helpers) => {
    if (!Payload.Check(payload)) return failInvalidPayload(ctx, helpers, payload)
    const { taskId, source, roomId = GENERAL_ROOM_ID } = payload
    // Yield first: graphile-worker's next fetch goes out before this batch's CPU-bound rendering.
    await new Promise((resolve) => setImmediate(resolve))
    await failingForGood(ctx, helpers, taskId, async () => {
      const rendered = renderSource(source)
      const hasLinks = rendered.links.length > 0 && ctx.config.LINK_PREVIEW_MAX_LINKS > 0
      await batcher.post({ taskId, roomId, source, html: rendered.html, hasLinks })
    })
  }
}

export default postMessage
