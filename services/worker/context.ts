import type pg from 'pg'
import type { JobHelpers, Task } from 'graphile-worker'
import type { Config } from '../../plugins/config'
import type { Database, Transaction } from '../../plugins/database'
import { publishMessage } from '../../lib/events'
import type { MessageRow } from '../../lib/models'
import { TASKS_CHANNEL } from '../../lib/tasks'
import { inTransaction } from '../../lib/db'
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

// publishEvent speaks Prisma's raw-query surface; this lets a raw pg client (a few
// round trips cheaper per job) take part in the same transaction.
export function asTransaction (client: pg.PoolClient): Transaction {
  return {
    $executeRawUnsafe: async (text: string, ...values: unknown[]) => (await client.query(text, values)).rowCount ?? 0,
    $queryRawUnsafe: async (text: string, ...values: unknown[]) => (await client.query(text, values)).rows,
  } as unknown as Transaction
}

export interface FinalResponse { status: number, headers?: Record<string, string>, body?: unknown }

export interface TaskOutcome {
  response: FinalResponse
  // Published last, so the global publish lock is held for the shortest time.
  message?: MessageRow
}

interface LockedTask { userId: number, messageId: number | null }

const LOCK_TASK = {
  name: 'lock-task',
  text: `SELECT user_id AS "userId", message_id AS "messageId" FROM tasks
         WHERE id = $1::uuid AND status NOT IN ('done', 'failed') FOR UPDATE`,
}
const FINISH_TASK = {
  name: 'finish-task',
  text: `UPDATE tasks SET status = $2, message_id = COALESCE($3, message_id), response_status = $4,
           response_headers = $5::jsonb, response_body = $6::jsonb, updated_at = now()
         WHERE id = $1::uuid RETURNING pg_notify('${TASKS_CHANNEL}', id::text)`,
}

async function storeResponse (client: pg.PoolClient, taskId: string, status: 'done' | 'failed', response: FinalResponse, messageId: number | null): Promise<void> {
  await client.query({
    ...FINISH_TASK,
    values: [taskId, status, messageId, response.status, JSON.stringify(response.headers ?? {}), JSON.stringify(response.body ?? null)],
  })
}

// Runs a task's work and stores its final response in one transaction, once: the task row
// is locked and skipped when already finished, so a job delivered twice changes nothing.
// `prepare` runs first, outside the transaction (rendering holds no row lock).
export async function finishTask<P> (ctx: WorkerContext, helpers: JobHelpers, taskId: string, prepare: () => P,
  work: (client: pg.PoolClient, task: LockedTask, prepared: P) => Promise<TaskOutcome>): Promise<void> {
  await failingForGood(ctx, helpers, taskId, async () => {
    const prepared = prepare()
    await inTransaction(ctx.db.pool, async (client) => {
      const { rows } = await client.query<LockedTask>({ ...LOCK_TASK, values: [taskId] })
      if (rows.length === 0) return // finished already, or gone with its user
      const outcome = await work(client, rows[0], prepared)
      await storeResponse(client, taskId, 'done', outcome.response, outcome.message?.id ?? null)
      if (outcome.message !== undefined) await publishMessage(asTransaction(client), outcome.message)
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
    const { rows } = await client.query({ ...LOCK_TASK, values: [taskId] })
    if (rows.length > 0) await storeResponse(client, taskId, response.status < 500 ? 'done' : 'failed', response, null)
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

// Queues a job from inside the caller's transaction.
export async function addJobInTransaction (client: pg.PoolClient, identifier: string, payload: object, maxAttempts: number): Promise<void> {
  await client.query({
    name: `add-job-${identifier}`,
    text: 'SELECT graphile_worker.add_job($1::text, $2::json, max_attempts => $3::int)',
    values: [identifier, JSON.stringify(payload), maxAttempts],
  })
}
