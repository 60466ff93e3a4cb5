import fp from 'fastify-plugin'
import pg from 'pg'

export interface Subscriber {
  onNotification: (payload: string) => void
  // After every (re)connect, once its channel is listened to: notifications sent while
  // disconnected are lost, so catch up here.
  onConnect?: () => void
  onError?: (err: Error) => void
}

// One LISTEN connection per process, shared by every channel anyone waits on; reconnects on its own.
export class Notifications {
  private client: pg.Client | null = null
  private connected = false
  private closed = false
  private timer: NodeJS.Timeout | undefined
  private checker: NodeJS.Timeout | undefined
  private checking = false
  private readonly channels = new Map<string, Set<Subscriber>>()
  // Channels the current client listens to.
  private readonly listening = new Set<string>()
  // The current client's queries, one at a time (pg 9 refuses a query sent while another runs).
  private queries: Promise<unknown> = Promise.resolve()

  private readonly retryMs: number
  private readonly checkMs: number

  // `report` hears of a lost connection and of a subscriber's exception. `checkMs`: how often the
  // connection must answer a query, since a peer gone without a reset (a NAT timeout) sends no error.
  constructor (private readonly databaseUrl: string, private readonly report: (err: Error, what: string) => void = () => {},
    { retryMs = 1000, checkMs = 30_000 }: { retryMs?: number, checkMs?: number } = {}) {
    this.retryMs = retryMs
    this.checkMs = checkMs
  }

  // Connects on the first subscription; returns the unsubscribe.
  subscribe (channel: string, subscriber: Subscriber): () => void {
    let subscribers = this.channels.get(channel)
    if (subscribers === undefined) this.channels.set(channel, subscribers = new Set())
    subscribers.add(subscriber)
    const client = this.client
    if (client === null) {
      if (!this.closed && this.timer === undefined) this.connect()
    } else if (this.connected) {
      this.listenTo(client, channel).then(() => {
        if (this.client === client && subscribers.has(subscriber)) this.call(() => subscriber.onConnect?.())
      }, (err: Error) => this.retry(client, err))
    }
    return () => { subscribers.delete(subscriber) }
  }

  // Every subscriber of every channel, as they are now (a callback may subscribe or unsubscribe).
  private everyone (): Subscriber[] {
    return [...this.channels.values()].flatMap((subscribers) => [...subscribers])
  }

  // A subscriber's exception is reported, never allowed to break the connection others share.
  private call (callback: () => void): void {
    try {
      callback()
    } catch (err) {
      this.report(err as Error, 'a notification subscriber failed')
    }
  }

  private connect (): void {
    if (this.checker === undefined) {
      this.checker = setInterval(() => this.check(), this.checkMs)
      this.checker.unref()
    }
    const next = new pg.Client({ connectionString: this.databaseUrl, keepAlive: true, keepAliveInitialDelayMillis: 10_000 })
    this.client = next
    this.listening.clear()
    this.queries = Promise.resolve()
    next.on('notification', (msg) => {
      for (const subscriber of [...this.channels.get(msg.channel) ?? []]) this.call(() => subscriber.onNotification(msg.payload ?? ''))
    })
    next.on('error', (err) => this.retry(next, err))
    next.on('end', () => this.retry(next, new Error('listener connection ended')))
    next.connect()
      .then(async () => {
        // Live iteration: a channel subscribed meanwhile is listened to as well.
        for (const channel of this.channels.keys()) await this.listenTo(next, channel)
        if (this.client !== next) return
        this.connected = true
        for (const subscriber of this.everyone()) this.call(() => subscriber.onConnect?.())
      })
      .catch((err: Error) => this.retry(next, err))
  }

  private async listenTo (client: pg.Client, channel: string): Promise<void> {
    if (this.listening.has(channel)) return
    await this.query(client, `LISTEN ${pg.escapeIdentifier(channel)}`)
    if (this.client === client) this.listening.add(channel)
  }

  private query (client: pg.Client, text: string): Promise<unknown> {
    const result = this.queries.then(() => client.query(text))
    this.queries = result.catch(() => {})
    return result
  }

  // A query unanswered within checkMs means the connection is dead, however quiet it stayed.
  private check (): void {
    const client = this.client
    if (client === null || !this.connected || this.checking) return
    this.checking = true
    let timer: NodeJS.Timeout | undefined
    const silent = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`LISTEN connection did not answer within ${this.checkMs} ms`)), this.checkMs)
      timer.unref()
    })
    Promise.race([this.query(client, 'SELECT 1'), silent])
      .catch((err: Error) => this.retry(client, err))
      .finally(() => {
        clearTimeout(timer)
        this.checking = false
      })
  }

  // Only the current client's failure counts: a replaced one's late errors change nothing.
  private retry (failed: pg.Client, err: Error): void {
    if (this.client !== failed) return
    this.client = null
    this.connected = false
    failed.removeAllListeners('end')
    failed.end().catch(() => {})
    this.report(err, 'LISTEN connection lost; reconnecting')
    for (const subscriber of this.everyone()) this.call(() => subscriber.onError?.(err))
    if (!this.closed && this.timer === undefined) this.timer = setTimeout(() => { this.timer = undefined; this.connect() }, this.retryMs)
  }

  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
    clearInterval(this.checker)
    const last = this.client
    this.client = null
    this.connected = false
    last?.removeAllListeners('end')
    // A healthy server answers the goodbye at once; a silent one must not hold up shutdown.
    await Promise.race([last?.end().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000).unref())])
  }
}

declare module 'fastify' {
  interface FastifyInstance { notifications: Notifications }
}

export default fp(async (fastify) => {
  const notifications = new Notifications(fastify.config.DATABASE_URL, (err, what) => fastify.log.warn({ err }, what))
  fastify.decorate('notifications', notifications)
  fastify.addHook('onClose', () => notifications.close())
}, { name: 'notifications', dependencies: ['config'], fastify: '5.x' })
