import pg from 'pg'
import { httpError } from '../plugins/errors'
import type { Db } from './db'
import { isUuid } from './models'
import { insertTask, newTask, taskById, taskRequestHash, type NewTask, type TaskRow } from './queries/tasks'
import { taskBatcher } from './task-batcher'
import { enterToPost } from './rooms'
import { GENERAL_ROOM_ID, ROOM_NOT_FOUND } from './queries/access'
import { MAX_MARKDOWN_NESTING, markdownNesting } from './markdown-nesting'

// Asynchronous requests (202 + Location): a `tasks` row per request, and a graphile-worker
// job that ends it by storing the final response (lib/queries/tasks.ts writes both at once).
// On the pool, the tasks queued at the same moment commit together (lib/task-batcher.ts).

export { TASKS_CHANNEL, TASK_MAX_ATTEMPTS, type TaskRow } from './queries/tasks'

export const POST_MESSAGE = 'post_message'
export const EDIT_MESSAGE = 'edit_message'
export const PREVIEW_LINKS = 'preview_links'

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

// Records a post task into a room and queues its job; returns the task id. Validate the source
// and check the user may read the room first (the worker checks again as it stores the message).
// `key`: the client's Idempotency-Key; a repeat of it by the same user is the first post's task.
export function queuePostMessage (db: Db, userId: number, source: string, roomId: number = GENERAL_ROOM_ID, key?: string): Promise<string> {
  return queueTask(db, userId, POST_MESSAGE, null, { source, roomId }, key)
}

export const KEY_REUSED = 'Idempotency-Key already used for another message'

// A post's task, or why nothing was queued: a room the user may not read (404), or a key the user
// already gave another message (422).
export type RoomPost = { taskId: string } | { status: 404 | 422, error: string }

// A post into a room the user may post into (a public one not yet joined is joined). REST and the
// socket both post through this. A key already used answers before anything changes: with the
// same source and room, the first post's task (nothing queued again); with others, a 422.
export async function queueRoomPost (db: Db, userId: number, source: string, roomId: number, key?: string): Promise<RoomPost> {
  const task = newTask(userId, POST_MESSAGE, null, { source, roomId }, key)
  if (key !== undefined) {
    const held = await taskRequestHash(db, task.id)
    if (held !== undefined) return held === null || held === task.requestHash ? { taskId: task.id } : { status: 422, error: KEY_REUSED }
  }
  if (!await enterToPost(db, userId, roomId)) return { status: 404, error: ROOM_NOT_FOUND }
  return { taskId: await insertNewTask(db, task) }
}

// Records an edit task for a message the caller has checked is the user's own.
export function queueEditMessage (db: Db, userId: number, messageId: number, source: string): Promise<string> {
  return queueTask(db, userId, EDIT_MESSAGE, messageId, { messageId, source })
}

// Null for an id that is not a UUID, as for a missing task.
export async function readTask (db: Db, id: string): Promise<TaskRow | null> {
  return isUuid(id) ? taskById(db, id) : null
}

// Records a task and its job; resolves once both committed (or, on a client, once written in its transaction).
async function queueTask (db: Db, userId: number, kind: string, messageId: number | null, payload: object, key?: string): Promise<string> {
  return await insertNewTask(db, newTask(userId, kind, messageId, payload, key))
}

// On the pool, through its batcher (one commit for the tasks queued together); on a client, in its transaction.
async function insertNewTask (db: Db, task: NewTask): Promise<string> {
  await (db instanceof pg.Pool ? taskBatcher(db).queue(task) : insertTask(db, task))
  return task.id
}

export const isFinished = (task: TaskRow): boolean => task.status === 'done' || task.status === 'failed'
