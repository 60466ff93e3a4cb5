import fp from 'fastify-plugin'
import { listen, type Listener } from './listener'
import { TASKS_CHANNEL } from './tasks'

// Holds `Prefer: wait` requests until their task ends: the job's final transaction runs
// pg_notify(flack_tasks, <task id>), and one LISTEN connection per process wakes the waiters.
export class TaskWaiter {
  private readonly waiting = new Map<string, Set<() => void>>()
  private listener: Listener | null = null
  private closed = false

  constructor (private readonly databaseUrl: string, private readonly onError: (err: Error) => void = () => {}) {}

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

  // Opens the LISTEN connection (at ready, so the first held request does not pay for it).
  start (): void {
    if (this.listener !== null || this.closed) return
    this.listener = listen({
      databaseUrl: this.databaseUrl,
      channels: [TASKS_CHANNEL],
      onNotification: (_channel, taskId) => this.wake(taskId),
      // Notifications sent while (re)connecting are lost: every waiter re-reads its task.
      onConnect: () => this.wakeAll(),
      onError: this.onError,
    })
  }

  private wake (taskId: string): void {
    const set = this.waiting.get(taskId)
    if (set !== undefined) for (const cancel of [...set]) cancel()
  }

  private wakeAll (): void {
    for (const set of [...this.waiting.values()]) for (const cancel of [...set]) cancel()
  }

  async close (): Promise<void> {
    this.closed = true
    this.wakeAll()
    await this.listener?.close()
  }
}

declare module 'fastify' {
  interface FastifyInstance { taskWaiter: TaskWaiter }
}

export default fp(async (fastify) => {
  const waiter = new TaskWaiter(fastify.config.DATABASE_URL, (err) => fastify.log.warn({ err }, 'task listener'))
  fastify.decorate('taskWaiter', waiter)
  fastify.addHook('onReady', async () => { waiter.start() })
  // Held requests answer at once on shutdown rather than delay it.
  fastify.addHook('preClose', async () => { await waiter.close() })
}, { name: 'task-waiter', dependencies: ['config'], fastify: '5.x' })
