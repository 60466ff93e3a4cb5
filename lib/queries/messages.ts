import type { Db } from '../db'
import { MESSAGE_COLUMNS, type MessageRow } from '../models'
import { lockRooms, readableBy } from './access'
import { TASKS_CHANNEL } from './tasks'

// The messages table (full-text search is search.ts).

// A message row with its updated_at to the microsecond, which orders the lists (the JSON has seconds).
export type TimedRow = MessageRow & { micros: string }
const TIMED_COLUMNS = `${MESSAGE_COLUMNS}, (extract(epoch FROM updated_at) * 1000000)::bigint::text AS micros`

// A room's newest `newest` messages by id and those updated after `since` (unix seconds), each part
// through its index; `floor` is the lowest id of the first part (null: the room has fewer).
export async function recentMessages (db: Db, roomId: number, newest: number, since: number): Promise<Array<TimedRow & { floor: number | null }>> {
  const { rows } = await db.query<TimedRow & { floor: number | null }>({
    name: 'messages-recent',
    text: `WITH floor AS (SELECT id FROM messages WHERE room_id = $1 ORDER BY id DESC OFFSET $3 LIMIT 1)
           SELECT ${TIMED_COLUMNS}, (SELECT id FROM floor) AS floor FROM messages WHERE room_id = $1 AND id >= COALESCE((SELECT id FROM floor), 0)
           UNION SELECT ${TIMED_COLUMNS}, (SELECT id FROM floor) FROM messages WHERE updated_at > to_timestamp($2) AND room_id = $1`,
    values: [roomId, since, newest - 1],
  })
  return rows
}

// These messages as they are now (a deleted one as its tombstone row; a missing id is absent).
export async function timedMessages (db: Db, ids: number[]): Promise<TimedRow[]> {
  const { rows } = await db.query<TimedRow>({ name: 'messages-timed', text: `SELECT ${TIMED_COLUMNS} FROM messages WHERE id = ANY($1::int[])`, values: [ids] })
  return rows
}

// A room's messages updated after `since` (unix seconds), optionally one author's, oldest update first.
export async function messagesSince (db: Db, roomId: number, since: number, userId: number | null): Promise<MessageRow[]> {
  const { rows } = await db.query<MessageRow>({
    name: 'messages-updated-since',
    text: `SELECT ${MESSAGE_COLUMNS} FROM messages
           WHERE updated_at > to_timestamp($1) AND ($2::int IS NULL OR user_id = $2::int) AND room_id = $3
           ORDER BY updated_at, id`,
    values: [since, userId, roomId],
  })
  return rows
}

// The message, if the viewer may read its room; otherwise null, as for one never written.
export async function readableMessage (db: Db, id: number, viewer: number | null): Promise<MessageRow | null> {
  const { rows } = await db.query<MessageRow>({
    name: 'messages-readable-by-id',
    text: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = $1 AND ${readableBy('messages.room_id', '$2::int')}`,
    values: [id, viewer],
  })
  return rows[0] ?? null
}

// The author of a message the viewer may read and that is not deleted (a tombstone cannot be edited); null otherwise.
export async function editableMessageAuthor (db: Db, id: number, viewer: number | null): Promise<number | null> {
  const { rows } = await db.query<{ userId: number }>({
    name: 'messages-editable-author',
    text: `SELECT user_id AS "userId" FROM messages WHERE id = $1 AND NOT deleted AND ${readableBy('messages.room_id', '$2::int')}`,
    values: [id, viewer],
  })
  return rows[0]?.userId ?? null
}

export interface PostToWrite { taskId: string, source: string, html: string, roomId: number }

// Locks the posts' unfinished tasks, ends with `refusal` (a 404 body) those whose author may no longer
// read the room, and writes the others' messages in the posts' order (ascending ids follow it);
// each message comes back with its task. Run lockRooms on the posts' rooms first.
const WRITE_POSTS = {
  name: 'write-messages',
  text: `WITH p AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[]) WITH ORDINALITY AS p(task_id, source, html, room_id, n)),
         live AS (SELECT p.task_id, p.source, p.html, p.room_id, p.n, t.user_id,
                         ${readableBy('p.room_id', 't.user_id')} AS readable
                  FROM p JOIN (SELECT id, user_id FROM tasks WHERE id IN (SELECT task_id FROM p) AND status NOT IN ('done', 'failed') FOR UPDATE) t
                  ON t.id = p.task_id),
         ok AS (SELECT *, row_number() OVER (ORDER BY n) AS k FROM live WHERE readable),
         refused AS (UPDATE tasks t SET status = 'done', response_status = 404, response_headers = '{}', response_body = $5::jsonb, updated_at = now()
                     FROM live WHERE t.id = live.task_id AND NOT live.readable RETURNING pg_notify('${TASKS_CHANNEL}', t.id::text)),
         m AS (INSERT INTO messages (source, html, user_id, room_id) SELECT source, html, user_id, room_id FROM ok ORDER BY k RETURNING ${MESSAGE_COLUMNS})
         SELECT m.*, ok.task_id::text AS "taskId" FROM (SELECT *, row_number() OVER (ORDER BY id) AS k FROM m) m JOIN ok USING (k)
         ORDER BY m.id`,
}

// Sent before the first await, so the worker's batch can pipeline it.
export async function writePosts (db: Db, posts: PostToWrite[], refusal: string): Promise<Array<MessageRow & { taskId: string }>> {
  const { rows } = await db.query<MessageRow & { taskId: string }>({
    ...WRITE_POSTS,
    values: [posts.map((p) => p.taskId), posts.map((p) => p.source), posts.map((p) => p.html), posts.map((p) => p.roomId), refusal],
  })
  return rows
}

const LOCK_ROOMS = { name: 'lock-post-rooms', text: lockRooms('$1::int[]') }

// The non-public rooms among `roomIds`, locked FOR SHARE until the transaction ends (see lockRooms).
export function lockRoomsForWrite (db: Db, roomIds: number[]): Promise<unknown> {
  return db.query({ ...LOCK_ROOMS, values: [roomIds] })
}

// The new html, only if the message still has the source the previews were made for (an edit queues
// its own) and is not deleted (a late preview must not bring the text back); null otherwise.
export async function savePreviews (db: Db, id: number, source: string, html: string): Promise<MessageRow | null> {
  const { rows } = await db.query<MessageRow>({
    name: 'messages-save-previews',
    text: `UPDATE messages SET html = $3, updated_at = now() WHERE id = $1 AND source = $2 AND NOT deleted RETURNING ${MESSAGE_COLUMNS}`,
    values: [id, source, html],
  })
  return rows[0] ?? null
}

const LOCK_MESSAGE_ROOM = { name: 'messages-lock-room', text: lockRooms('ARRAY(SELECT room_id FROM messages WHERE id = $1)') }

// Before an edit or a delete checks the read rule: a removal from the message's private room
// commits before the check, or waits for the change (see lockRooms).
export async function lockMessageRoom (db: Db, id: number): Promise<void> {
  await db.query({ ...LOCK_MESSAGE_ROOM, values: [id] })
}

// An edit by the author: 'forbidden' for someone else's message, 'missing' when it is gone, deleted
// (an edit run after the delete must not revive it) or its room is no longer readable by the editor.
export async function editOwnMessage (db: Db, id: number, editorId: number, source: string, html: string): Promise<MessageRow | 'missing' | 'forbidden'> {
  await lockMessageRoom(db, id)
  const { rows } = await db.query<MessageRow>({
    name: 'messages-edit',
    text: `UPDATE messages m SET source = $3, html = $4, updated_at = now(), edited_at = now()
           WHERE id = $1 AND user_id = $2 AND NOT deleted AND ${readableBy('m.room_id', '$2')} RETURNING ${MESSAGE_COLUMNS}`,
    values: [id, editorId, source, html],
  })
  if (rows.length > 0) return rows[0]
  const readable = await db.query({ name: 'messages-editable', text: `SELECT 1 FROM messages m WHERE id = $1 AND NOT deleted AND ${readableBy('m.room_id', '$2')}`, values: [id, editorId] })
  return readable.rowCount === 0 ? 'missing' : 'forbidden'
}

// The message locked FOR UPDATE if `userId` may read its room (else null): whether it is a tombstone
// already, and whether the user may delete it (its author or the room's owner).
export async function lockDeletable (db: Db, id: number, userId: number): Promise<{ deleted: boolean, allowed: boolean } | null> {
  const { rows } = await db.query<{ deleted: boolean, allowed: boolean }>({
    name: 'messages-delete-check',
    text: `SELECT m.deleted, (m.user_id = $2 OR EXISTS (SELECT 1 FROM memberships o WHERE o.room_id = m.room_id AND o.user_id = $2 AND o.role = 'owner')) AS allowed
           FROM messages m WHERE m.id = $1 AND ${readableBy('m.room_id', '$2::int')} FOR UPDATE OF m`,
    values: [id, userId],
  })
  return rows[0] ?? null
}

// Empties a message for good, keeping its id and times. clock_timestamp, not now(): taken after the
// row lock, so later than any update that held it (lists page by updated_at).
export async function tombstoneMessage (db: Db, id: number): Promise<MessageRow> {
  const { rows } = await db.query<MessageRow>({
    name: 'messages-tombstone',
    text: `UPDATE messages SET deleted = true, source = '', html = '', updated_at = GREATEST(clock_timestamp(), updated_at)
           WHERE id = $1 RETURNING ${MESSAGE_COLUMNS}`,
    values: [id],
  })
  return rows[0]
}

export interface PageQuery { before?: number, after?: number, limit: number }
export interface Page { messages: MessageRow[], older: number | null, newer: number | null }

// Pages walk the (room_id, id) index from the cursor: one index range per page, as cheap at the
// ten-millionth message as at the tenth. The id bound is bigint so "no cursor" needs no other plan.
// Keyset form on purpose: with `room_id = $1 ... ORDER BY id` a generic plan may walk the primary
// key filtering by room, reading the whole table below the cursor for a quiet room; ordered by
// (room_id, id) with a row comparison, only this index gives the order without a sort.
const PAGE_BACKWARD = {
  name: 'rooms-page-backward',
  text: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE (room_id, id) < ($1, $2::bigint) AND room_id >= $1 ORDER BY room_id DESC, id DESC LIMIT $3`,
}
const PAGE_FORWARD = {
  name: 'rooms-page-forward',
  text: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE (room_id, id) > ($1, $2::bigint) AND room_id <= $1 ORDER BY room_id, id LIMIT $3`,
}
const HAS_NEWER = { name: 'rooms-page-has-newer', text: 'SELECT 1 FROM messages WHERE (room_id, id) > ($1, $2::bigint) AND room_id <= $1 ORDER BY room_id, id LIMIT 1' }
const HAS_OLDER = { name: 'rooms-page-has-older', text: 'SELECT 1 FROM messages WHERE (room_id, id) < ($1, $2::bigint) AND room_id >= $1 ORDER BY room_id DESC, id DESC LIMIT 1' }
const NO_CURSOR = 2 ** 31
// For the test that checks their plans.
export const PAGE_QUERIES = { PAGE_BACKWARD, PAGE_FORWARD, HAS_NEWER, HAS_OLDER }

// One page of a room's full history, oldest first (tombstones included, so clients drop them).
// older/newer: the cursor (a `before` / an `after` id) of the next page that way, null when none.
export async function messagePage (db: Db, roomId: number, query: PageQuery): Promise<Page> {
  const forward = query.after !== undefined
  const cursor = query.after ?? query.before ?? NO_CURSOR
  const { rows } = await db.query<MessageRow>({ ...(forward ? PAGE_FORWARD : PAGE_BACKWARD), values: [roomId, cursor, query.limit + 1] })
  const more = rows.length > query.limit
  const messages = rows.slice(0, query.limit)
  if (!forward) messages.reverse()
  if (forward) {
    // The older side: anything before the page's first message (or, for an empty page, up to the cursor).
    // Capped: a link past the largest id would not pass validation.
    const edge = messages.length > 0 ? messages[0].id : Math.min(cursor + 1, 2 ** 31 - 1)
    const older = (await db.query({ ...HAS_OLDER, values: [roomId, edge] })).rowCount! > 0
    return { messages, older: older ? edge : null, newer: more ? messages[messages.length - 1].id : null }
  }
  const edge = messages.length > 0 ? messages[messages.length - 1].id : cursor - 1
  const newer = query.before !== undefined && (await db.query({ ...HAS_NEWER, values: [roomId, edge] })).rowCount! > 0
  return { messages, older: more ? messages[0].id : null, newer: newer ? edge : null }
}
