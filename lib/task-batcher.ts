import pg from 'pg'
import { insertTasks, type NewTask } from './queries/tasks'

// Group commit for queued tasks (the api's side of services/worker/post-batcher.ts): the tasks
// queued while a flush is in flight go together in the next one, one statement and so one commit,
// one add_jobs call and one NOTIFY for them all. A caller's promise settles only after its task
// committed or failed; a batch the database refused is retried task by task, in order, so a bad
// task fails alone; a batch whose fate is unknown (connection lost, timeout) fails as a whole.
export class TaskBatcher {
  private readonly waiting: Array<{ task: NewTask, done: (err?: Error) => void }> = []
  private flushing = false

  constructor (private readonly pool: pg.Pool, private readonly maxBatch = 100) {}

  queue (task: NewTask): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ task, done: (err) => (err === undefined ? resolve() : reject(err)) })
      if (!this.flushing) void this.flush()
    })
  }

  private async flush (): Promise<void> {
    this.flushing = true
    // Let the tasks queued in this tick join the first batch.
    await new Promise((resolve) => setImmediate(resolve))
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch)
      try {
        await insertTasks(this.pool, batch.map((item) => item.task))
        for (const item of batch) item.done()
      } catch (err) {
        if (batch.length === 1 || !rolledBack(err)) for (const item of batch) item.done(err as Error)
        else for (const item of batch) await insertTasks(this.pool, [item.task]).then(() => item.done(), (e: Error) => item.done(e))
      }
    }
    this.flushing = false
  }
}

// The server refused the statement, so nothing of it committed; not a lost connection, a
// cancelled or timed-out statement, a shutdown or a lack of resources (classes 08, 57, 53).
function rolledBack (err: unknown): boolean {
  return err instanceof pg.DatabaseError && typeof err.code === 'string' && !/^(08|53|57)/.test(err.code)
}

const batchers = new WeakMap<pg.Pool, TaskBatcher>()

// The one batcher of a pool (each process has one pool).
export function taskBatcher (pool: pg.Pool): TaskBatcher {
  let batcher = batchers.get(pool)
  if (batcher === undefined) batchers.set(pool, batcher = new TaskBatcher(pool))
  return batcher
}
