import pg from 'pg'

export interface ListenerOptions {
  databaseUrl: string
  channels: string[]
  onNotification: (channel: string, payload: string) => void
  // Called after every (re)connect: notifications sent while disconnected are lost, so catch up here.
  onConnect?: () => void
  onError?: (err: Error) => void
  retryMs?: number
}

export interface Listener { close: () => Promise<void> }

// One LISTEN connection per process, shared by everyone waiting on it; reconnects on its own.
export function listen (options: ListenerOptions): Listener {
  let client: pg.Client | null = null
  let closed = false
  let timer: NodeJS.Timeout | undefined
  const retryMs = options.retryMs ?? 1000

  const retry = (err: Error): void => {
    options.onError?.(err)
    const old = client
    client = null
    old?.removeAllListeners('end')
    old?.end().catch(() => {})
    if (!closed && timer === undefined) timer = setTimeout(() => { timer = undefined; connect() }, retryMs)
  }

  const connect = (): void => {
    const next = new pg.Client({ connectionString: options.databaseUrl, keepAlive: true })
    client = next
    next.on('notification', (msg) => options.onNotification(msg.channel, msg.payload ?? ''))
    next.on('error', retry)
    next.on('end', () => retry(new Error('listener connection ended')))
    next.connect()
      .then(async () => {
        for (const channel of options.channels) await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
        if (client === next) options.onConnect?.()
      })
      .catch((err: Error) => { if (client === next) retry(err) })
  }

  connect()
  return {
    close: async () => {
      closed = true
      clearTimeout(timer)
      const last = client
      client = null
      last?.removeAllListeners('end')
      await last?.end().catch(() => {})
    },
  }
}
