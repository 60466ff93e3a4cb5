import type { ServerFrame } from './types'

export type ConnectionState = 'connecting' | 'open' | 'waiting'

export interface PushOptions {
  url: string
  // Called on every open; `resumed` is false when no `since` could be sent,
  // so events may have been missed and the caller must catch up through REST.
  onOpen: (resumed: boolean) => void
  onFrame: (frame: ServerFrame) => void
  onState: (state: ConnectionState, retryInSeconds?: number) => void
}

interface PendingPost { resolve: (task: string | null) => void, reject: (err: Error) => void, timer: number }

const MIN_BACKOFF_MS = 500
const MAX_BACKOFF_MS = 15000
const ACK_TIMEOUT_MS = 8000
// A failed ping_user is retried at most this far apart: the user is offline meanwhile.
const MAX_PING_RETRY_MS = 5000

// The push socket: resumes from the last event seen (`?since=`) after any drop,
// reconnecting with jittered exponential backoff.
export class PushSocket {
  private socket: WebSocket | null = null
  private lastSeq: number | null = null
  private attempts = 0
  private retryTimer: number | undefined
  private stopped = false
  private readonly pending = new Map<string, PendingPost>()
  private token: string | null = null
  // The ping_user awaiting its answer: until one is acknowledged, the socket does not hold us online.
  private pingRef: string | null = null
  private pingTimer: number | undefined
  private pingFailures = 0

  constructor (private readonly options: PushOptions) {
    window.addEventListener('online', this.retryNow)
  }

  get isOpen (): boolean { return this.socket?.readyState === WebSocket.OPEN }

  start (token: string | null): void {
    this.stopped = false
    this.token = token
    if (this.socket === null) this.connect()
  }

  stop (): void {
    this.stopped = true
    window.clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.lastSeq = null
    const socket = this.socket
    this.socket = null
    this.stopPinging()
    socket?.close(1000, 'signed out')
    this.failPending(new Error('signed out'))
  }

  // Sends a post over the socket; resolves with the task URL once acknowledged. `key`: the post's Idempotency-Key.
  post (source: string, roomId: number, key: string): Promise<string | null> {
    const socket = this.socket
    if (socket === null || socket.readyState !== WebSocket.OPEN || this.token === null) return Promise.reject(new Error('socket not open'))
    const ref = crypto.randomUUID()
    return new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => this.settle(ref, new Error('no acknowledgement')), ACK_TIMEOUT_MS)
      this.pending.set(ref, { resolve, reject, timer })
      socket.send(JSON.stringify({ type: 'post_message', token: this.token, source, room_id: roomId, key, ref }))
    })
  }

  // Tells the room's other readers we are typing; the server drops repeats within 3 s.
  typing (roomId: number): void {
    if (this.socket?.readyState !== WebSocket.OPEN || this.token === null) return
    this.socket.send(JSON.stringify({ type: 'typing', token: this.token, room_id: roomId }))
  }

  private connect (): void {
    window.clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    const resumed = this.lastSeq !== null
    const url = new URL(this.options.url)
    if (resumed) url.searchParams.set('since', String(this.lastSeq))
    // auth=1: the replay waits for our ping_user, so it includes our private and direct rooms.
    if (resumed && this.token !== null) url.searchParams.set('auth', '1')
    this.options.onState('connecting')
    let socket: WebSocket
    try {
      socket = new WebSocket(url)
    } catch {
      this.scheduleRetry()
      return
    }
    this.socket = socket
    socket.onopen = () => {
      this.attempts = 0
      this.pingFailures = 0
      this.ping(socket)
      this.options.onState('open')
      this.options.onOpen(resumed)
    }
    socket.onmessage = (event) => this.receive(event.data)
    socket.onclose = () => {
      if (this.socket !== socket) return
      this.socket = null
      this.stopPinging()
      this.failPending(new Error('socket closed'))
      if (!this.stopped) this.scheduleRetry()
    }
  }

  // Ties this socket to the user; sent again, with backoff, until acknowledged (a ping that meets a
  // database outage fails, and the user would go offline with the socket still open).
  private ping (socket: WebSocket): void {
    this.stopPinging()
    if (this.token === null || socket !== this.socket || socket.readyState !== WebSocket.OPEN) return
    const ref = `ping-${crypto.randomUUID()}`
    this.pingRef = ref
    socket.send(JSON.stringify({ type: 'ping_user', token: this.token, ref }))
    this.pingTimer = window.setTimeout(() => this.pingFailed(socket), ACK_TIMEOUT_MS)
  }

  private pingFailed (socket: WebSocket): void {
    this.stopPinging()
    const delay = Math.min(MAX_PING_RETRY_MS, MIN_BACKOFF_MS * 2 ** this.pingFailures++)
    this.pingTimer = window.setTimeout(() => this.ping(socket), delay)
  }

  private stopPinging (): void {
    window.clearTimeout(this.pingTimer)
    this.pingTimer = undefined
    this.pingRef = null
  }

  private receive (data: unknown): void {
    if (typeof data !== 'string') return
    let frame: ServerFrame
    try {
      frame = JSON.parse(data) as ServerFrame
    } catch {
      return
    }
    if (frame.type === 'updated_model') {
      // Replays can overlap what was already seen: never go backwards.
      if (this.lastSeq !== null && frame.seq <= this.lastSeq) return
      this.lastSeq = frame.seq
    } else if (frame.type === 'reset') {
      this.lastSeq = null
    } else if ((frame.type === 'ack' || frame.type === 'error') && frame.ref !== undefined) {
      if (frame.ref !== this.pingRef) {
        this.settle(frame.ref, frame.type === 'ack' ? frame.task ?? null : new Error(frame.error))
        return
      }
      if (frame.type === 'ack') {
        this.stopPinging()
        return
      }
      // A failed ping_user is sent again, and passed on: the page checks whether the token is still good.
      if (this.socket !== null) this.pingFailed(this.socket)
    }
    this.options.onFrame(frame)
  }

  private settle (ref: string, outcome: string | null | Error): void {
    const post = this.pending.get(ref)
    if (post === undefined) return
    this.pending.delete(ref)
    window.clearTimeout(post.timer)
    if (outcome instanceof Error) post.reject(outcome)
    else post.resolve(outcome)
  }

  private failPending (err: Error): void {
    for (const ref of [...this.pending.keys()]) this.settle(ref, err)
  }

  private scheduleRetry (): void {
    const ceiling = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** this.attempts)
    const delay = ceiling / 2 + Math.random() * ceiling / 2
    this.attempts++
    this.options.onState('waiting', Math.ceil(delay / 1000))
    this.retryTimer = window.setTimeout(() => this.connect(), delay)
  }

  private readonly retryNow = (): void => {
    if (!this.stopped && this.socket === null) this.connect()
  }
}
