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
  private readonly channels = new Map<string, Set<Subscriber>>()
  // Channels the current client listens to.
  private readonly listening = new Set<string>()

  // `report` hears of a lost connection and of a subscriber's exception.
  constructor (private readonly databaseUrl: string, private readonly report: (err: Error, what: string) => void = () => {}, private readonly retryMs = 1000) {}

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
    const next = new pg.Client({ connectionString: this.databaseUrl, keepAlive: true })
    this.client = next
    this.listening.clear()
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
    await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
    if (this.client === client) this.listening.add(channel)
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
    const last = this.client
    this.client = null
    this.connected = false
    last?.removeAllListeners('end')
    await last?.end().catch(() => {})
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
