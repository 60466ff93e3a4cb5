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

  constructor (private readonly options: PushOptions) {
    window.addEventListener('online', this.retryNow)
  }

  get seq (): number | null { return this.lastSeq }
  get isOpen (): boolean { return this.socket?.readyState === WebSocket.OPEN }

  // Forget the stream position: the next connection is treated as a fresh start.
  forgetPosition (): void { this.lastSeq = null }

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
    socket?.close(1000, 'signed out')
    this.failPending(new Error('signed out'))
  }

  // Closes the current socket as if the network dropped; reconnects as usual.
  drop (): void { this.socket?.close(4000, 'dropped by client') }

  // Sends a post over the socket; resolves with the task URL once acknowledged.
  post (source: string): Promise<string | null> {
    const socket = this.socket
    if (socket === null || socket.readyState !== WebSocket.OPEN || this.token === null) return Promise.reject(new Error('socket not open'))
    const ref = crypto.randomUUID()
    return new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => this.settle(ref, new Error('no acknowledgement')), ACK_TIMEOUT_MS)
      this.pending.set(ref, { resolve, reject, timer })
      socket.send(JSON.stringify({ type: 'post_message', token: this.token, source, ref }))
    })
  }

  private connect (): void {
    window.clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    const resumed = this.lastSeq !== null
    const url = new URL(this.options.url)
    if (resumed) url.searchParams.set('since', String(this.lastSeq))
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
      if (this.token !== null) socket.send(JSON.stringify({ type: 'ping_user', token: this.token }))
      this.options.onState('open')
      this.options.onOpen(resumed)
    }
    socket.onmessage = (event) => this.receive(event.data)
    socket.onclose = () => {
      if (this.socket !== socket) return
      this.socket = null
      this.failPending(new Error('socket closed'))
      if (!this.stopped) this.scheduleRetry()
    }
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
      this.settle(frame.ref, frame.type === 'ack' ? frame.task ?? null : new Error(frame.error))
      return
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
