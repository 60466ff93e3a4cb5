import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '../../../lib/typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { httpError } from '../../../plugins/errors'
import { taskUrl } from '../../../lib/models'
import { isFinished, readTask, type TaskRow } from '../../../lib/tasks'
import { SECURITY, taskResponses } from '../responses'

export const MAX_WAIT_SECONDS = 10

export const PreferHeaders = Type.Object({
  prefer: Type.Optional(Type.String({ description: 'wait=N (N <= 10): hold the request until the task ends or N seconds pass' })),
})

// RFC 7240 `Prefer: wait=N`, capped; null when absent.
export function preferredWait (header: string | undefined): number | null {
  if (header === undefined) return null
  const match = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?(?:$|[,;\s])/i.exec(header)
  return match === null ? null : Math.min(Number(match[1]), MAX_WAIT_SECONDS)
}

// Reads the task, then (when asked) holds on until it ends or the wait runs out.
// Woken by NOTIFY: a read per wake-up, no polling. `known`: the task this request just
// queued; it exists and is the user's, so a read that fails or hangs (database out of
// reach) is no news, never an error: an accepted task answers 202 with its Location.
async function waitForTask (fastify: FastifyInstance, taskId: string, userId: number, waitMs: number, known: TaskRow | null): Promise<TaskRow> {
  const deadline = Date.now() + waitMs
  let task = known
  for (;;) {
    const remaining = deadline - Date.now()
    const held = remaining > 0 ? fastify.taskWaiter.wait(taskId, remaining) : null
    try {
      if (task === null) {
        task = await readTask(fastify.pg, taskId)
        // Someone else's task is as unknown as a missing one.
        if (task === null || task.userId !== userId) throw httpError(404, 'Task not found')
      } else {
        task = await readQuietly(fastify, taskId, Math.max(remaining, LAST_READ_MS)) ?? task
      }
    } catch (err) {
      held?.cancel()
      throw err
    }
    if (held === null || isFinished(task)) {
      held?.cancel()
      return task
    }
    await held.done
    // Shutting down: answer 202 with what was read rather than query a closing pool.
    if (fastify.taskWaiter.isClosed) return task
  }
}

// The read after the wait ran out may take this long before the answer goes without it.
const LAST_READ_MS = 1000

// The task, or null when the read fails or takes longer than `ms`.
async function readQuietly (fastify: FastifyInstance, taskId: string, ms: number): Promise<TaskRow | null> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<null>((resolve) => { timer = setTimeout(resolve, ms, null) })
  const read = readTask(fastify.pg, taskId).catch((err: unknown) => {
    fastify.log.warn({ err, taskId }, 'task read failed: answering with what is known')
    return null
  })
  try {
    return await Promise.race([read, late])
  } finally {
    clearTimeout(timer)
  }
}

const queuedTask = (userId: number): TaskRow =>
  ({ userId, status: 'queued', responseStatus: null, responseHeaders: null, responseBody: null })

// Answers for a task: 202 + Location while it runs, else its stored final response.
// `queued`: the request has just queued it; without `Prefer: wait` that is a 202 with
// no query (even when the task has already ended: the Location has its answer).
export async function replyWithTask (fastify: FastifyInstance, request: FastifyRequest, reply: FastifyReply, taskId: string, queued = false): Promise<FastifyReply> {
  const wait = preferredWait(request.headers.prefer as string | undefined)
  const userId = request.currentUser!.id
  const known = queued ? queuedTask(userId) : null
  const task = known !== null && wait === null ? known : await waitForTask(fastify, taskId, userId, (wait ?? 0) * 1000, known)
  if (wait !== null) reply.header('preference-applied', `wait=${wait}`)
  if (!isFinished(task)) {
    return reply.code(202).header('location', taskUrl(taskId)).header('retry-after', '1').send({ status: task.status })
  }
  if (task.status === 'failed' || task.responseStatus === null) {
    return reply.code(500).send({ error: 'The task failed' })
  }
  for (const [name, value] of Object.entries(task.responseHeaders ?? {})) reply.header(name, value)
  reply.code(task.responseStatus)
  return task.responseStatus === 204 ? reply.send() : reply.send(task.responseBody)
}

export default async function tasks (app: FastifyInstance): Promise<void> {
  const fastify = app.withTypeProvider<TypeBoxTypeProvider>()

  fastify.get('/api/tasks/:id', {
    preHandler: fastify.authenticate,
    schema: {
      operationId: 'getTask',
      tags: ['tasks'],
      summary: 'An asynchronous request: 202 while it runs, then its final response',
      description: 'Only the task\'s own user may read it. While the task runs: 202 with Location and Retry-After. Once it ended: its final response (status, headers and body), as often as asked. `Prefer: wait=N` holds the request until the task ends or N seconds (at most 10) pass.',
      security: SECURITY.token,
      params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
      headers: PreferHeaders,
      response: taskResponses,
    },
  }, async (request, reply) => replyWithTask(app, request, reply, request.params.id))
}
