import type pg from 'pg'
import { publishEvents } from '../../lib/queries/events'
import { messageJson, messageUrl } from '../../lib/models'
import { PREVIEW_LINKS } from '../../lib/tasks'
import { GENERAL_ROOM_ID, ROOM_NOT_FOUND } from '../../lib/queries/access'
import { lockRoomsForWrite, writePosts } from '../../lib/queries/messages'
import { endPostTasks } from '../../lib/queries/tasks'
import { addJobs } from '../../lib/queries/jobs'
import { GroupCommit } from '../../lib/group-commit'

export interface Post { taskId: string, roomId: number, source: string, html: string, hasLinks: boolean }

// The answer of a post whose room is gone or no longer readable by its author (as for a missing room).
const NO_ROOM = JSON.stringify({ error: ROOM_NOT_FOUND })

// Group commit for post_message jobs: the jobs running at the same moment are written in one
// transaction (one lock of their tasks, one insert, one event publish), so round trips and the
// global publish lock are paid per batch, not per message. A batch that fails is retried one
// post at a time, so a bad post fails alone.
export class PostBatcher {
  private readonly group: GroupCommit<Post>

  constructor (private readonly pool: pg.Pool, maxBatch = 64) {
    this.group = new GroupCommit((posts) => this.commit(posts), maxBatch)
  }

  post (post: Post): Promise<void> {
    return this.group.add(post)
  }

  private async commit (posts: Post[]): Promise<void> {
    // A job delivered twice into the same batch is written once.
    const unique = [...new Map(posts.map((p) => [p.taskId, p])).values()]
    const client = await this.pool.connect()
    try {
      // The pool pipelines: each step's statements go out together, one round trip per step.
      const rooms = [...new Set(unique.map((p) => p.roomId))].filter((id) => id !== GENERAL_ROOM_ID)
      const [, , rows] = await settled([
        client.query('BEGIN'),
        rooms.length > 0 ? lockRoomsForWrite(client, rooms) : undefined,
        writePosts(client, unique, NO_ROOM),
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
        endPostTasks(client, rows.map((m) => m.taskId), rows.map((m) => m.id), rows.map((m) => JSON.stringify({ location: messageUrl(m.id) })), bodies.map((b) => JSON.stringify(b))),
        previews.length > 0 ? addJobs(client, PREVIEW_LINKS, previews, 2) : undefined,
        publishEvents(client, 'Message', bodies),
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
