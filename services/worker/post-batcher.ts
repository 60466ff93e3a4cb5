import type pg from 'pg'
import { publishEvents } from '../../lib/events'
import { MESSAGE_COLUMNS, messageJson, messageUrl, type MessageRow } from '../../lib/models'
import { PREVIEW_LINKS, TASKS_CHANNEL } from '../../lib/tasks'
import { asTransaction } from './context'
import { GENERAL_ROOM_ID, lockRooms, readableBy } from '../../lib/rooms'

export interface Post { taskId: string, roomId: number, source: string, html: string, hasLinks: boolean }

// The answer of a post whose room is gone or no longer readable by its author (as for a missing room).
const NO_ROOM = JSON.stringify({ error: 'Room not found' })

// Locks the posts' unfinished tasks, ends in 404 those whose author may no longer read the room,
// and writes the others' messages in the posts' order (ascending ids follow it); each
// message comes back with its task.
const WRITE_MESSAGES = {
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
const LOCK_POST_ROOMS = { name: 'lock-post-rooms', text: lockRooms('$1::int[]') }
const QUEUE_PREVIEWS = {
  name: 'queue-previews',
  text: `SELECT graphile_worker.add_job('${PREVIEW_LINKS}', p, max_attempts => 2) FROM unnest($1::json[]) AS p`,
}
const FINISH_TASKS = {
  name: 'finish-post-tasks',
  text: `UPDATE tasks t SET status = 'done', message_id = f.message_id, response_status = 201,
           response_headers = f.headers, response_body = f.body, updated_at = now()
         FROM unnest($1::uuid[], $2::int[], $3::jsonb[], $4::jsonb[]) AS f(id, message_id, headers, body)
         WHERE t.id = f.id RETURNING pg_notify('${TASKS_CHANNEL}', t.id::text)`,
}

// Group commit for post_message jobs: the jobs running at the same moment are written in one
// transaction (one lock of their tasks, one insert, one event publish), so round trips and the
// global publish lock are paid per batch, not per message. A batch that fails is retried one
// post at a time, so a bad post fails alone.
export class PostBatcher {
  private readonly waiting: Array<{ post: Post, done: (err?: Error) => void }> = []
  private flushing = false

  constructor (private readonly pool: pg.Pool, private readonly maxBatch = 64) {}

  post (post: Post): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ post, done: (err) => (err === undefined ? resolve() : reject(err)) })
      if (!this.flushing) void this.flush()
    })
  }

  private async flush (): Promise<void> {
    this.flushing = true
    // Let the jobs started in this tick join the first batch.
    await new Promise((resolve) => setImmediate(resolve))
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch)
      try {
        await this.commit(batch.map((item) => item.post))
        for (const item of batch) item.done()
      } catch (err) {
        if (batch.length === 1) batch[0].done(err as Error)
        else for (const item of batch) await this.commit([item.post]).then(() => item.done(), (e: Error) => item.done(e))
      }
    }
    this.flushing = false
  }

  private async commit (posts: Post[]): Promise<void> {
    // A job delivered twice into the same batch is written once.
    const unique = [...new Map(posts.map((p) => [p.taskId, p])).values()]
    const client = await this.pool.connect()
    try {
      // The pool pipelines: each step's statements go out together, one round trip per step.
      const rooms = [...new Set(unique.map((p) => p.roomId))].filter((id) => id !== GENERAL_ROOM_ID)
      const [, , { rows }] = await settled([
        client.query('BEGIN'),
        rooms.length > 0 ? client.query({ ...LOCK_POST_ROOMS, values: [rooms] }) : undefined,
        client.query<MessageRow & { taskId: string }>({
          ...WRITE_MESSAGES,
          values: [unique.map((p) => p.taskId), unique.map((p) => p.source), unique.map((p) => p.html), unique.map((p) => p.roomId), NO_ROOM],
        }),
      ])
      // Finished already, gone with its user or refused: nothing more to do.
      if (rows.length === 0) {
        await client.query('COMMIT')
        return
      }
      const hasLinks = new Set(unique.filter((p) => p.hasLinks).map((p) => p.taskId))
      const previews = rows.flatMap((m) => (hasLinks.has(m.taskId) ? [JSON.stringify({ messageId: m.id, source: m.source })] : []))
      const bodies = rows.map(messageJson)
      // COMMIT goes out behind the statements it commits, so it relies on two things: a statement that
      // fails, fails in the server (our values are plain strings and numbers, which pg cannot fail to
      // send), turning COMMIT into a rollback; and publishEvents sending its insert before its first await.
      await settled([
        client.query({
          ...FINISH_TASKS,
          values: [rows.map((m) => m.taskId), rows.map((m) => m.id), rows.map((m) => JSON.stringify({ location: messageUrl(m.id) })), bodies.map((b) => JSON.stringify(b))],
        }),
        previews.length > 0 ? client.query({ ...QUEUE_PREVIEWS, values: [previews] }) : undefined,
        publishEvents(asTransaction(client), 'Message', bodies),
        client.query('COMMIT'),
      ])
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }
}

// Waits for every pipelined statement (none may be left running), then fails with the first error.
async function settled<T extends readonly unknown[]> (steps: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(steps)
  const failed = results.find((r) => r.status === 'rejected')
  if (failed !== undefined) throw failed.reason
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> }
}
