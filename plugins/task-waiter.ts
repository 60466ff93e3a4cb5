import fp from 'fastify-plugin'
import type { Notifications } from './notifications'
import { TASKS_CHANNEL } from '../lib/tasks'

// Holds `Prefer: wait` requests until their task ends: the job's final transaction runs
// pg_notify(flack_tasks, <task id>), and the process's LISTEN connection wakes the waiters.
export class TaskWaiter {
  private readonly waiting = new Map<string, Set<() => void>>()
  private unsubscribe: (() => void) | null = null
  private closed = false

  constructor (private readonly notifications: Notifications) {}

  // Resolves when the task is announced as finished, or after `ms`. The caller registers
  // before it reads the task, and reads it again afterwards: nothing slips between.
  wait (taskId: string, ms: number): { done: Promise<void>, cancel: () => void } {
    this.start()
    let wake!: () => void
    const done = new Promise<void>((resolve) => { wake = resolve })
    const timer = setTimeout(() => cancel(), ms)
    const cancel = (): void => {
      clearTimeout(timer)
      const set = this.waiting.get(taskId)
      set?.delete(cancel)
      if (set?.size === 0) this.waiting.delete(taskId)
      wake()
    }
    let set = this.waiting.get(taskId)
    if (set === undefined) this.waiting.set(taskId, set = new Set())
    set.add(cancel)
    if (this.closed) cancel()
    return { done, cancel }
  }

  get size (): number { return this.waiting.size }

  get isClosed (): boolean { return this.closed }

  // Listens (at ready, so the first held request does not pay for it).
  start (): void {
    if (this.unsubscribe !== null || this.closed) return
    this.unsubscribe = this.notifications.subscribe(TASKS_CHANNEL, {
      onNotification: (taskId) => this.wake(taskId),
      // Notifications sent while (re)connecting are lost: every waiter re-reads its task.
      onConnect: () => this.wakeAll(),
    })
  }

  private wake (taskId: string): void {
    const set = this.waiting.get(taskId)
    if (set !== undefined) for (const cancel of [...set]) cancel()
  }

  private wakeAll (): void {
    for (const set of [...this.waiting.values()]) for (const cancel of [...set]) cancel()
  }

  close (): void {
    this.closed = true
    this.wakeAll()
    this.unsubscribe?.()
  }
}

declare module 'fastify' {
  interface FastifyInstance { taskWaiter: TaskWaiter }
}

export default fp(async (fastify) => {
  const waiter = new TaskWaiter(fastify.notifications)
  fastify.decorate('taskWaiter', waiter)
  fastify.addHook('onReady', async () => { waiter.start() })
  // Held requests answer at once on shutdown rather than delay it.
  fastify.addHook('preClose', async () => { waiter.close() })
}, { name: 'task-waiter', dependencies: ['notifications'], fastify: '5.x' })
