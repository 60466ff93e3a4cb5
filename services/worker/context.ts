import type pg from 'pg'
import type { JobHelpers, Task } from 'graphile-worker'
import type { Config } from '../../plugins/config'
import type { Database, Transaction } from '../../plugins/database'
import { publishMessage } from '../../plugins/events'
import type { MessageRow } from '../../lib/models'
import { TASKS_CHANNEL } from '../../lib/tasks'
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

export async function inTransaction<T> (pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const result = await work(client)
    await client.query('COMMIT')
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release()
  }
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
export async function finishTask (ctx: WorkerContext, helpers: JobHelpers, taskId: string,
  work: (client: pg.PoolClient, task: LockedTask) => Promise<TaskOutcome>): Promise<void> {
  await failingForGood(ctx, helpers, taskId, () => inTransaction(ctx.db.pool, async (client) => {
    const { rows } = await client.query<LockedTask>({ ...LOCK_TASK, values: [taskId] })
    if (rows.length === 0) return // finished already, or gone with its user
    const outcome = await work(client, rows[0])
    await storeResponse(client, taskId, 'done', outcome.response, outcome.message?.id ?? null)
    if (outcome.message !== undefined) await publishMessage(asTransaction(client), outcome.message)
  }))
}

// On its last attempt a failing task is ended with a 500 instead of being retried.
export async function failingForGood (ctx: WorkerContext, helpers: JobHelpers, taskId: string, attempt: () => Promise<void>): Promise<void> {
  try {
    await attempt()
  } catch (err) {
    if (helpers.job.attempts < helpers.job.max_attempts) throw err
    helpers.logger.error(`task ${taskId} failed for good: ${(err as Error).message}`)
    await inTransaction(ctx.db.pool, async (client) => {
      const { rows } = await client.query({ ...LOCK_TASK, values: [taskId] })
      if (rows.length > 0) await storeResponse(client, taskId, 'failed', { status: 500, body: { error: 'The task failed' } }, null)
    })
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
