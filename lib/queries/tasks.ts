import { createHash, randomUUID } from 'node:crypto'
import type { Db } from '../db'

// The tasks table: one row per asynchronous request (202 + Location) and, once ended, its final
// response. A task's graphile-worker job is written by the same statement, so both commit or neither.

export const TASKS_CHANNEL = 'flack_tasks'
// Attempts before a task is given up and answers 500.
export const TASK_MAX_ATTEMPTS = 5

// A task id that exists already (an Idempotency-Key repeated) inserts nothing and queues no job.
const QUEUE_TASK = `WITH task AS (
    INSERT INTO tasks (id, user_id, kind, message_id, request_hash) VALUES ($1::uuid, $2::int, $3::varchar, $4::int, decode($6::text, 'hex'))
    ON CONFLICT (id) DO NOTHING RETURNING id)
  SELECT graphile_worker.add_job($3::text, $5::json, max_attempts => ${TASK_MAX_ATTEMPTS}) FROM task`

// requestHash: a keyed task's payload, hashed (hex), to tell a repeat from another request with the same key.
export interface NewTask { id: string, userId: number, kind: string, messageId: number | null, payload: string, requestHash: string | null }

// A task of `kind` (also its job's task identifier) whose job gets `payload` plus the task's id. With
// a client's idempotency key the id comes from the user, the kind and the key, so a repeat is the same task.
export function newTask (userId: number, kind: string, messageId: number | null, payload: object, key?: string): NewTask {
  const id = key === undefined ? randomUUID() : keyedTaskId(userId, kind, key)
  const requestHash = key === undefined ? null : createHash('sha256').update(JSON.stringify(payload)).digest('hex')
  return { id, userId, kind, messageId, payload: JSON.stringify({ taskId: id, ...payload }), requestHash }
}

// The request hash of the task with this id, if it exists: undefined when none does (null: recorded without one).
export async function taskRequestHash (db: Db, id: string): Promise<string | null | undefined> {
  const { rows } = await db.query<{ hash: string | null }>({ name: 'task-request-hash', text: "SELECT encode(request_hash, 'hex') AS hash FROM tasks WHERE id = $1::uuid", values: [id] })
  return rows.length === 0 ? undefined : rows[0].hash
}

// A UUID (version 8: custom) from a SHA-256 of the user, the kind and the key.
function keyedTaskId (userId: number, kind: string, key: string): string {
  const bytes = createHash('sha256').update(`${userId}\n${kind}\n${key}`).digest().subarray(0, 16)
  bytes[6] = (bytes[6] & 0x0f) | 0x80
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

// One task and its job, in the caller's statement (or transaction).
export async function insertTask (db: Db, task: NewTask): Promise<void> {
  await db.query(QUEUE_TASK, [task.id, task.userId, task.kind, task.messageId, task.payload, task.requestHash])
}

// Many tasks and their jobs in one statement (so one commit), through graphile-worker's add_jobs:
// one call and one NOTIFY for them all; the jobs are inserted in the tasks' order; ids that exist are skipped.
// Only a batch with a keyed task writes request hashes; others skip the column. Written always (NULLs
// for unkeyed posts), the bench's accepted posts measured 4,005-4,556/s against 4,919-5,094 (wide spread).
function queueTasksStatement (keyed: boolean): { name: string, text: string } {
  const [param, field, column, value] = keyed ? [', $6::text[]', ', hash', ', request_hash', ", decode(hash, 'hex')"] : ['', '', '', '']
  return {
    name: keyed ? 'queue-keyed-tasks' : 'queue-tasks',
    text: `WITH spec AS (
      SELECT * FROM unnest($1::uuid[], $2::int[], $3::varchar[], $4::int[], $5::json[]${param}) WITH ORDINALITY AS s(id, user_id, kind, message_id, payload${field}, n)),
    task AS (INSERT INTO tasks (id, user_id, kind, message_id${column}) SELECT id, user_id, kind, message_id${value} FROM spec ORDER BY n
      ON CONFLICT (id) DO NOTHING RETURNING id)
    SELECT count(*) FROM graphile_worker.add_jobs(ARRAY(
      SELECT (spec.kind, spec.payload, NULL, NULL, ${TASK_MAX_ATTEMPTS}::smallint, NULL, NULL, NULL)::graphile_worker.job_spec
      FROM spec JOIN task USING (id) ORDER BY spec.n))`,
  }
}
const QUEUE_TASKS = queueTasksStatement(false)
const QUEUE_KEYED_TASKS = queueTasksStatement(true)

export async function insertTasks (db: Db, tasks: NewTask[]): Promise<void> {
  // One row per id: a key repeated within the batch would otherwise join the inserted task twice and queue two jobs.
  const seen = new Set<string>()
  tasks = tasks.filter((task) => !seen.has(task.id) && seen.add(task.id))
  const values: unknown[] = [tasks.map((t) => t.id), tasks.map((t) => t.userId), tasks.map((t) => t.kind), tasks.map((t) => t.messageId), tasks.map((t) => t.payload)]
  const keyed = tasks.some((t) => t.requestHash !== null)
  if (keyed) values.push(tasks.map((t) => t.requestHash))
  await db.query({ ...(keyed ? QUEUE_KEYED_TASKS : QUEUE_TASKS), values })
}

export interface TaskRow {
  userId: number
  status: 'queued' | 'done' | 'failed'
  responseStatus: number | null
  responseHeaders: Record<string, string> | null
  responseBody: unknown
}

const READ_TASK = `SELECT user_id AS "userId", status, response_status AS "responseStatus",
  response_headers AS "responseHeaders", response_body AS "responseBody" FROM tasks WHERE id = $1::uuid`

// `id` must be a UUID (the column's type).
export async function taskById (db: Db, id: string): Promise<TaskRow | null> {
  const { rows } = await db.query<TaskRow>(READ_TASK, [id])
  return rows[0] ?? null
}

export interface LockedTask { userId: number, messageId: number | null }

// The task, locked until the transaction ends; null when it has ended already or is gone.
export async function lockUnfinishedTask (db: Db, id: string): Promise<LockedTask | null> {
  const { rows } = await db.query<LockedTask>({
    name: 'lock-task',
    text: `SELECT user_id AS "userId", message_id AS "messageId" FROM tasks
           WHERE id = $1::uuid AND status NOT IN ('done', 'failed') FOR UPDATE`,
    values: [id],
  })
  return rows[0] ?? null
}

export interface FinalResponse { status: number, headers?: Record<string, string>, body?: unknown }

// Stores a task's final response and wakes its waiters (on commit).
export async function endTask (db: Db, id: string, status: 'done' | 'failed', response: FinalResponse, messageId: number | null): Promise<void> {
  await db.query({
    name: 'finish-task',
    text: `UPDATE tasks SET status = $2, message_id = COALESCE($3, message_id), response_status = $4,
             response_headers = $5::jsonb, response_body = $6::jsonb, updated_at = now()
           WHERE id = $1::uuid RETURNING pg_notify('${TASKS_CHANNEL}', id::text)`,
    values: [id, status, messageId, response.status, JSON.stringify(response.headers ?? {}), JSON.stringify(response.body ?? null)],
  })
}

// Post tasks ended 201 with their messages, in one statement: ids, message ids, headers and bodies side by side.
export const ENDING_POSTS = {
  name: 'finish-post-tasks',
  text: `UPDATE tasks t SET status = 'done', message_id = f.message_id, response_status = 201,
           response_headers = f.headers, response_body = f.body, updated_at = now()
         FROM unnest($1::uuid[], $2::int[], $3::jsonb[], $4::jsonb[]) AS f(id, message_id, headers, body)
         WHERE t.id = f.id RETURNING pg_notify('${TASKS_CHANNEL}', t.id::text)`,
}

// Sent, not awaited first: the worker's batch pipelines its COMMIT behind it.
export function endPostTasks (db: Db, ids: string[], messageIds: number[], headers: string[], bodies: string[]): Promise<unknown> {
  return db.query({ ...ENDING_POSTS, values: [ids, messageIds, headers, bodies] })
}

// The safety net under "every accepted task ends": a queued task whose job is gone, or has used
// all its attempts and is not running, can no longer be ended by it, so it ends here with a 500.
// A task and its job (named by the task's kind, carrying its id) are inserted by one statement and
// a job is deleted only after its task ended, so one snapshot never shows a live task's job as
// gone; the row is re-checked when locked. Returns how many ended.
export async function endStrandedTasks (db: Db): Promise<number> {
  const { rowCount } = await db.query({
    name: 'end-stranded-tasks',
    text: `WITH stranded AS (
        SELECT t.id FROM tasks t
        WHERE t.status = 'queued' AND NOT EXISTS (
          SELECT 1 FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks k ON k.id = j.task_id
          WHERE k.identifier = t.kind AND j.payload->>'taskId' = t.id::text
            AND (j.attempts < j.max_attempts OR j.locked_at IS NOT NULL))
        LIMIT 1000 FOR UPDATE OF t SKIP LOCKED)
      UPDATE tasks SET status = 'failed', response_status = 500, response_headers = '{}'::jsonb,
        response_body = '{"error": "The task failed"}'::jsonb, updated_at = now()
      FROM stranded WHERE tasks.id = stranded.id AND tasks.status = 'queued'
      RETURNING pg_notify('${TASKS_CHANNEL}', tasks.id::text)`,
  })
  return rowCount ?? 0
}

// Deletes up to `batch` tasks that ended more than `seconds` ago; returns how many went.
export async function pruneEndedTasks (db: Db, seconds: number, batch: number): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM tasks WHERE id IN (
    SELECT id FROM tasks WHERE status IN ('done', 'failed') AND updated_at < now() - make_interval(secs => $1) LIMIT $2)`, [seconds, batch])
  return rowCount ?? 0
}
