import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import { httpError } from '../plugins/errors'
import type { Prisma } from '../plugins/database'
import { isUuid } from './models'
import { GENERAL_ROOM_ID, enterToPost } from './rooms'
import { MAX_MARKDOWN_NESTING, markdownNesting } from './markdown-nesting'

// Asynchronous requests (202 + Location): a `tasks` row per request, and a graphile-worker
// job that ends it by storing the final response. Row and job are written by one SQL
// statement, so they commit together or not at all.

export const TASKS_CHANNEL = 'flack_tasks'
export const POST_MESSAGE = 'post_message'
export const EDIT_MESSAGE = 'edit_message'
export const PREVIEW_LINKS = 'preview_links'
// Attempts before a task is given up and answers 500.
export const TASK_MAX_ATTEMPTS = 5

// A pg pool or client, or a Prisma client (the push service and the API both queue).
export type Queryable = Pick<pg.Pool, 'query'> | Pick<Prisma, '$queryRawUnsafe'>

async function queryRows<R> (db: Queryable, text: string, values: unknown[]): Promise<R[]> {
  if ('query' in db) return (await db.query(text, values)).rows as R[]
  return db.$queryRawUnsafe<R[]>(text, ...values)
}

// Trims nothing: the source is kept as written. Throws a 400 for a missing, blank, too long or too deeply nested source.
export function validateMessageSource (source: unknown, maxLength: number): string {
  if (typeof source !== 'string') throw httpError(400, 'Invalid request: source must be a string')
  if (source.trim() === '') throw httpError(400, 'Invalid request: source must not be empty')
  // PostgreSQL text cannot hold NUL: refused here rather than failing in the worker.
  if (source.includes('\u0000')) throw httpError(400, 'Invalid request: source must not contain NUL characters')
  if (source.length > maxLength) throw httpError(400, `Invalid request: source must be at most ${maxLength} characters`)
  // Checked after the length, so the measure runs on bounded input.
  checkNesting(source)
  return source
}

// Deeper Markdown would overflow the renderer's stack; the worker checks again before rendering.
export function checkNesting (source: string): void {
  if (markdownNesting(source) > MAX_MARKDOWN_NESTING) {
    throw httpError(400, `Invalid request: source must nest at most ${MAX_MARKDOWN_NESTING} levels of quotes, lists or emphasis`)
  }
}

const QUEUE_TASK = `WITH task AS (
    INSERT INTO tasks (id, user_id, kind, message_id) VALUES ($1::uuid, $2::int, $3::varchar, $4::int) RETURNING id)
  SELECT graphile_worker.add_job($3::text, $5::json, max_attempts => ${TASK_MAX_ATTEMPTS}) FROM task`

async function queueTask (db: Queryable, userId: number, kind: string, messageId: number | null, payload: object): Promise<string> {
  const id = randomUUID()
  await queryRows(db, QUEUE_TASK, [id, userId, kind, messageId, JSON.stringify({ taskId: id, ...payload })])
  return id
}

// Records a post task into a room and queues its job; returns the task id. Validate the source
// and check the user may read the room first (the worker checks again as it stores the message).
export function queuePostMessage (db: Queryable, userId: number, source: string, roomId: number = GENERAL_ROOM_ID): Promise<string> {
  return queueTask(db, userId, POST_MESSAGE, null, { source, roomId })
}

// A post into a room the user may post into (a public one not yet joined is joined); null, with
// nothing queued, when the user may not read it. REST and the socket both post through this.
export async function queueRoomPost (db: pg.Pool, userId: number, source: string, roomId: number): Promise<string | null> {
  return await enterToPost(db, userId, roomId) ? await queuePostMessage(db, userId, source, roomId) : null
}

// Records an edit task for a message the caller has checked is the user's own.
export function queueEditMessage (db: Queryable, userId: number, messageId: number, source: string): Promise<string> {
  return queueTask(db, userId, EDIT_MESSAGE, messageId, { messageId, source })
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

export async function readTask (db: Queryable, id: string): Promise<TaskRow | null> {
  if (!isUuid(id)) return null
  const rows = await queryRows<TaskRow>(db, READ_TASK, [id])
  return rows[0] ?? null
}

export const isFinished = (task: TaskRow): boolean => task.status === 'done' || task.status === 'failed'
