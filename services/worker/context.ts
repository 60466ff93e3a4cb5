import type pg from 'pg'
import type { JobHelpers, Task } from 'graphile-worker'
import type { Config } from '../../plugins/config'
import type { Database } from '../../plugins/database'
import { publishMessage } from '../../lib/events'
import type { MessageRow } from '../../lib/models'
import { inTransaction } from '../../lib/db'
import { endTask, lockUnfinishedTask, type FinalResponse, type LockedTask } from '../../lib/queries/tasks'
import type { Previewer } from './link-preview'

// What every task gets: the validated config, the shared database, the link previewer.
export interface WorkerContext {
  config: Config
  db: Database
  // Sends a step's statements together (pg pipeline mode): one round trip per step of a batch.
  pipelined: pg.Pool
  previewer: Previewer
}

export type TaskFactory = (ctx: WorkerContext) => Task

export type { FinalResponse } from '../../lib/queries/tasks'

export interface TaskOutcome {
  response: FinalResponse
  // Published last, so the global publish lock is held for the shortest time.
  message?: MessageRow
}

// Runs a task's work and stores its final response in one transaction, once: the task row
// is locked and skipped when already finished, so a job delivered twice changes nothing.
// `prepare` runs first, outside the transaction (rendering holds no row lock).
export async function finishTask<P> (ctx: WorkerContext, helpers: JobHelpers, taskId: string, prepare: () => P,
  work: (client: pg.PoolClient, task: LockedTask, prepared: P) => Promise<TaskOutcome>): Promise<void> {
  await failingForGood(ctx, helpers, taskId, async () => {
    const prepared = prepare()
    await inTransaction(ctx.db.pool, async (client) => {
      const task = await lockUnfinishedTask(client, taskId)
      if (task === null) return // finished already, or gone with its user
      const outcome = await work(client, task, prepared)
      await endTask(client, taskId, 'done', outcome.response, outcome.message?.id ?? null)
      if (outcome.message !== undefined) await publishMessage(client, outcome.message)
    })
  })
}

// A failure no retry can fix (the source cannot be rendered, the job is invalid): its task ends
// at once with this response instead of being retried.
export class PermanentError extends Error {
  constructor (readonly response: FinalResponse & { body: { error: string } }, options?: ErrorOptions) {
    super(response.body.error, options)
  }
}

export const permanentError = (status: number, error: string, cause?: unknown): PermanentError =>
  new PermanentError({ status, body: { error } }, { cause })

export const GAVE_UP: FinalResponse = { status: 500, body: { error: 'The task failed' } }

// Ends a task that is still unfinished with an error response (a no-op for a finished one). A
// client error is a final answer like an edit's 403 ('done'); 'failed' tasks answer a 500.
export async function failTask (ctx: WorkerContext, taskId: string, response: FinalResponse): Promise<void> {
  await inTransaction(ctx.db.pool, async (client) => {
    if (await lockUnfinishedTask(client, taskId) !== null) await endTask(client, taskId, response.status < 500 ? 'done' : 'failed', response, null)
  })
}

// A failing task ends with its error at once when no retry can fix it, else on its last attempt.
// If storing that fails too, the job fails and is retried (or the stranded-task sweep ends it).
export async function failingForGood (ctx: WorkerContext, helpers: JobHelpers, taskId: string, attempt: () => Promise<void>): Promise<void> {
  try {
    await attempt()
  } catch (err) {
    const permanent = err instanceof PermanentError
    if (!permanent && helpers.job.attempts < helpers.job.max_attempts) throw err
    helpers.logger.error(`task ${taskId} failed for good: ${(err as Error).message}`)
    await failTask(ctx, taskId, permanent ? err.response : GAVE_UP)
  }
}
