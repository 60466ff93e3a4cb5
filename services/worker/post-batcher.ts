import type pg from 'pg'
import { publishEvents } from '../../plugins/events'
import { MESSAGE_COLUMNS, messageJson, messageUrl, type MessageRow } from '../../plugins/models'
import { PREVIEW_LINKS, TASKS_CHANNEL } from '../../plugins/tasks'
import { asTransaction, inTransaction } from './context'

export interface Post { taskId: string, source: string, html: string, hasLinks: boolean }

const LOCK_TASKS = {
  name: 'lock-post-tasks',
  text: `SELECT id::text, user_id AS "userId" FROM tasks
         WHERE id = ANY($1::uuid[]) AND status NOT IN ('done', 'failed') FOR UPDATE`,
}
// Inserted in the posts' order, so ascending ids follow it.
const INSERT_MESSAGES = {
  name: 'insert-messages',
  text: `INSERT INTO messages (source, html, user_id)
         SELECT s, h, u FROM unnest($1::text[], $2::text[], $3::int[]) WITH ORDINALITY AS p(s, h, u, n) ORDER BY n
         RETURNING ${MESSAGE_COLUMNS}`,
}
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
    await inTransaction(this.pool, async (client) => {
      const { rows: tasks } = await client.query<{ id: string, userId: number }>({ ...LOCK_TASKS, values: [posts.map((p) => p.taskId)] })
      const userOf = new Map(tasks.map((task) => [task.id, task.userId]))
      const unwritten = new Set(userOf.keys())
      // Finished already or gone with its user: nothing to do. A job delivered twice into
      // the same batch is written once.
      const live = posts.filter((p) => unwritten.delete(p.taskId))
      if (live.length === 0) return
      const { rows } = await client.query<MessageRow>({
        ...INSERT_MESSAGES,
        values: [live.map((p) => p.source), live.map((p) => p.html), live.map((p) => userOf.get(p.taskId))],
      })
      const messages = rows.sort((a, b) => a.id - b.id)
      const previews = live.flatMap((p, i) => (p.hasLinks ? [JSON.stringify({ messageId: messages[i].id, source: p.source })] : []))
      if (previews.length > 0) await client.query({ ...QUEUE_PREVIEWS, values: [previews] })
      const bodies = messages.map(messageJson)
      await client.query({
        ...FINISH_TASKS,
        values: [live.map((p) => p.taskId), messages.map((m) => m.id), messages.map((m) => JSON.stringify({ location: messageUrl(m.id) })), bodies.map((b) => JSON.stringify(b))],
      })
      await publishEvents(asTransaction(client), 'Message', bodies)
    })
  }
}
