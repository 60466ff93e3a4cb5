import pg from 'pg'
import { insertTasks, type NewTask } from './queries/tasks'
import { GroupCommit } from './group-commit'

// The api's side of services/worker/post-batcher.ts: the tasks queued while an insert is in flight go
// together in the next one, one statement and so one commit, one add_jobs call and one NOTIFY for
// them all. A batch whose fate is unknown (connection lost, timeout) fails as a whole.
export class TaskBatcher {
  private readonly group: GroupCommit<NewTask>

  constructor (pool: pg.Pool, maxBatch = 100) {
    this.group = new GroupCommit((tasks) => insertTasks(pool, tasks), maxBatch, rolledBack)
  }

  queue (task: NewTask): Promise<void> {
    return this.group.add(task)
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
