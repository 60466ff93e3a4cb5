import type { RoomPost } from '../../lib/tasks'

// How a socket's post_message reaches the worker: the same task record and job as POST /api/messages.
export interface MessagePosting {
  // Why this source cannot be posted, or null when it can (checked before anything is queued).
  invalidSource: (source: unknown) => string | null
  // Records the task and queues the post in one transaction; resolves to the task's id, or to why
  // nothing was queued (lib/tasks.ts). `key`: the client's, as REST's Idempotency-Key.
  post: (userId: number, source: string, roomId: number, key?: string) => Promise<RoomPost>
}
