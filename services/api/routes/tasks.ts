import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { httpError } from '../../../plugins/errors'
import { taskUrl } from '../../../lib/models'
import { isFinished, readTask, type TaskRow } from '../../../lib/tasks'
import { MessageSchema, NoContent, errors } from '../schemas'

export const MAX_WAIT_SECONDS = 10

export const TaskPending = Type.Object({ status: Type.String({ description: 'queued: not finished yet' }) })

// The responses a task can end with, plus 202 while it runs.
export const taskResponses = { 201: MessageSchema, 202: TaskPending, 204: NoContent, ...errors(400, 401, 403, 404, 500, 503) }

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
// Woken by NOTIFY: a read per wake-up, no polling.
async function waitForTask (fastify: FastifyInstance, taskId: string, userId: number, waitMs: number): Promise<TaskRow> {
  const deadline = Date.now() + waitMs
  for (let first = true; ; first = false) {
    const remaining = deadline - Date.now()
    const held = remaining > 0 ? fastify.taskWaiter.wait(taskId, remaining) : null
    let task: TaskRow | null
    try {
      task = await readTask(fastify.pg, taskId)
    } catch (err) {
      held?.cancel()
      throw err
    }
    // Someone else's task is as unknown as a missing one.
    if (task === null || (first && task.userId !== userId)) {
      held?.cancel()
      throw httpError(404, 'Task not found')
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

// Answers for a task: 202 + Location while it runs, else its stored final response.
export async function replyWithTask (fastify: FastifyInstance, request: FastifyRequest, reply: FastifyReply, taskId: string): Promise<FastifyReply> {
  const wait = preferredWait(request.headers.prefer as string | undefined)
  const task = await waitForTask(fastify, taskId, request.currentUser!.id, (wait ?? 0) * 1000)
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
      summary: 'An asynchronous request: 202 while it runs, then its final response',
      security: [{ bearer: [] }],
      params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
      headers: PreferHeaders,
      response: taskResponses,
    },
  }, async (request, reply) => replyWithTask(app, request, reply, request.params.id))
}
