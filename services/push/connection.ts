import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import { WebSocket, type RawData } from 'ws'
import type { AuthUser } from '../../plugins/auth'
import { taskUrl } from '../../lib/models'
import type { Duplex } from 'node:stream'
import { RESET_FRAME, ackFrame, errorFrame, frameBytes, parseClientFrame, visibleTo, wireFrames, type ClientFrame, type EventFrame, type Ref } from './frames'
import type { MessagePosting } from './posting'
import type { InstancePresence } from './presence'
import { PAGE_SIZE, canReplaySince, readEventsAfter } from './replay'
import type { EventStream, Subscriber } from './stream'
import type { Typing } from './typing'

// Close codes (RFC 6455 §7.4.1).
export const GOING_AWAY = 1001
export const POLICY_VIOLATION = 1008
export const INTERNAL_ERROR = 1011

const TEXT = { binary: false }
// As the REST API answers a room that does not exist or may not be read.
const ROOM_NOT_FOUND = 'Room not found'
const SLOW_CLOSE_GRACE_MS = 1000

// What every connection on one instance shares.
export interface PushContext {
  stream: EventStream
  presence: InstancePresence
  typing: Typing
  pool: pg.Pool
  log: FastifyBaseLogger
  userForToken: (token: string) => Promise<{ user: AuthUser, tokenId: string } | null>
  markSeen: (user: AuthUser) => Promise<void>
  posting: MessagePosting
  maxBufferBytes: number
  framesPerSecond: number
  heartbeatMs: number
  connections: Set<PushConnection>
  // Set on shutdown: closing sockets then leave presence to the instance's own cleanup.
  closing: boolean
}

const kConnection = Symbol('push connection')
type TaggedSocket = WebSocket & { [kConnection]: PushConnection }

// One client socket: its position in the event stream, its user (after ping_user), its frame budget.
export class PushConnection implements Subscriber {
  // The newest event this client has (been sent); nothing at or below it is sent again.
  private lastSeq = 0
  // Live frames held back while a replay runs; null once live.
  private pending: EventFrame[] | null = null
  private pendingBytes = 0
  alive = true
  private userId: number | null = null
  // Whose private and direct rooms this socket sees: the user of its last valid ping_user.
  viewer: number | null = null
  // The token that gave this socket its viewer: revoking it takes the view back.
  viewerToken: string | null = null
  // With auth=1: the `since` to stream from once the first frame, a ping_user, names the viewer.
  private awaitingAuth: { since: number | undefined, timer: NodeJS.Timeout, firstTaken: boolean } | null = null
  private connectionId: string | null = null
  // The tie of userId's connection: a ping_user is acknowledged only once it holds.
  private tied: Promise<void> = Promise.resolve()
  private tokens: number
  // Monotonic, so a wall-clock step back cannot drain every bucket.
  private refilledAt = performance.now()
  private dropped = 0
  private closed = false

  constructor (readonly socket: WebSocket, private readonly ctx: PushContext) {
    this.tokens = ctx.framesPerSecond
    ;(socket as TaggedSocket)[kConnection] = this
    // Shared listeners (no closure per socket) keep an idle connection small.
    socket.on('message', onMessage)
    socket.on('pong', onPong)
    socket.on('close', onClose)
  }

  // Streams events after `since` (replayed first) or, without it, from now on. With `auth`, nothing
  // is sent until the first frame, a ping_user, says in whose view.
  start (since: number | undefined, auth = false): void {
    this.ctx.connections.add(this)
    if (auth) {
      const timer = setTimeout(() => this.close(POLICY_VIOLATION, 'auth=1: the first frame must be ping_user'), this.ctx.heartbeatMs)
      timer.unref()
      this.awaitingAuth = { since, timer, firstTaken: false }
      return
    }
    this.stream(since)
  }

  private stream (since: number | undefined): void {
    if (since === undefined || since === this.ctx.stream.lastSeq) {
      this.lastSeq = this.ctx.stream.lastSeq
      this.ctx.stream.add(this)
      return
    }
    this.lastSeq = since
    const held = this.ctx.stream.recent.after(since)
    if (held !== null) {
      // All of it still in memory: written and subscribed in one go, so nothing falls in between.
      this.sendNewer(held)
      this.ctx.stream.add(this)
      return
    }
    this.pending = []
    // Subscribed before the replay reads, so every event is in the replay, the pending frames, or both.
    this.ctx.stream.add(this)
    this.replay().catch((err: Error) => {
      this.ctx.log.error({ err }, 'push: replay failed')
      this.close(INTERNAL_ERROR, 'Replay failed; reconnect')
    })
  }

  private async replay (): Promise<void> {
    // The newest event read so far, seen or not: the next page starts after it.
    let from = this.lastSeq
    for (;;) {
      const page = await readEventsAfter(this.ctx.pool, from, PAGE_SIZE)
      // Checked after the read: events pruned before it then show as a reset, never as a gap.
      const complete = await canReplaySince(this.ctx.pool, from)
      if (this.closed) return
      if (!complete) {
        this.write(RESET_FRAME)
        this.lastSeq = 0
        break
      }
      this.sendNewer(page)
      if (page.length > 0) from = page[page.length - 1].seq
      const pending = this.pending ?? []
      // Caught up with what the live stream holds for us: the rest is in `pending`.
      if (page.length < PAGE_SIZE || (pending.length > 0 && from >= pending[0].seq)) break
      if (!await this.drained()) return
    }
    const pending = this.pending ?? []
    this.pending = null
    this.pendingBytes = 0
    this.sendNewer(pending)
  }

  // Waits for the socket to take what was written; false when it never does (closed as slow).
  private async drained (): Promise<boolean> {
    const deadline = Date.now() + this.ctx.heartbeatMs
    while (this.socket.bufferedAmount > this.ctx.maxBufferBytes / 4) {
      if (this.closed) return false
      if (Date.now() > deadline) {
        this.closeSlow()
        return false
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    return !this.closed
  }

  deliver (frames: EventFrame[], wire: Buffer): void {
    if (this.pending !== null) {
      for (const frame of frames) {
        this.pending.push(frame)
        this.pendingBytes += frameBytes(frame)
      }
      if (this.pendingBytes > this.ctx.maxBufferBytes) this.closeSlow()
      return
    }
    if (frames[0].seq > this.lastSeq) {
      this.lastSeq = frames[frames.length - 1].seq
      this.writeFramed(wire)
      return
    }
    this.sendNewer(frames)
  }

  // The frames this client does not have yet and may see, as one write.
  private sendNewer (frames: EventFrame[]): void {
    const newer = frames.filter((frame) => frame.seq > this.lastSeq && visibleTo(frame, this.viewer))
    if (newer.length === 0) return
    this.lastSeq = newer[newer.length - 1].seq
    this.writeFramed(wireFrames(newer))
  }

  // A client that stops reading must not make this process buffer without bound.
  private writable (): boolean {
    const socket = this.socket
    if (socket.readyState !== WebSocket.OPEN) return false
    if (socket.bufferedAmount > this.ctx.maxBufferBytes) {
      this.closeSlow()
      return false
    }
    return true
  }

  private write (data: Buffer | string): void {
    if (this.writable()) this.socket.send(data, TEXT)
  }

  // Frames already on wire form go straight to the TCP socket: no extension is negotiated
  // (perMessageDeflate is off) and ws writes synchronously, so nothing can interleave.
  private writeFramed (wire: Buffer): void {
    if (this.writable()) (this.socket as unknown as { _socket: Duplex })._socket.write(wire)
  }

  private closeSlow (): void {
    if (this.socket.readyState !== WebSocket.OPEN) return
    this.ctx.log.info({ user: this.userId }, 'push: closing a slow consumer')
    this.close(POLICY_VIOLATION, 'Send buffer full: reading too slowly')
    // Its close frame waits behind everything already queued: do not wait for it long.
    setTimeout(() => this.socket.terminate(), SLOW_CLOSE_GRACE_MS).unref()
  }

  // Dropped from the stream after a delivery bug: it may lack frames, so it reconnects with since.
  fail (): void {
    this.close(INTERNAL_ERROR, 'Delivery failed; reconnect with since')
  }

  close (code: number, reason: string): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(code, reason)
  }

  receive (data: RawData, isBinary: boolean): void {
    this.alive = true
    if (!this.takeFrameToken()) return
    if (isBinary) {
      this.write(errorFrame('Binary frames are not supported: send JSON text frames'))
      return
    }
    const frame = parseClientFrame(data.toString())
    if (this.awaitingAuth !== null && !this.awaitingAuth.firstTaken) {
      if ('error' in frame || frame.type !== 'ping_user') {
        this.close(POLICY_VIOLATION, 'auth=1: the first frame must be ping_user')
        return
      }
      this.awaitingAuth.firstTaken = true
    }
    if ('error' in frame) {
      this.write(errorFrame(frame.error, frame.ref))
      return
    }
    this.handle(frame).catch((err: Error) => {
      this.ctx.log.error({ err }, `push: ${frame.type} failed`)
      this.write(errorFrame('Internal server error', frame.ref))
    })
  }

  // A token bucket of PUSH_FRAMES_PER_SECOND: the first frame over it gets an error, a flood gets closed.
  private takeFrameToken (): boolean {
    const rate = this.ctx.framesPerSecond
    const now = performance.now()
    this.tokens = Math.min(rate, this.tokens + (now - this.refilledAt) * rate / 1000)
    this.refilledAt = now
    if (this.tokens >= 1) {
      this.tokens -= 1
      this.dropped = 0
      return true
    }
    this.dropped++
    if (this.dropped === 1) this.write(errorFrame(`Too many frames: at most ${rate} per second`))
    else if (this.dropped > rate) this.close(POLICY_VIOLATION, 'Too many frames')
    return false
  }

  private async handle (frame: ClientFrame): Promise<void> {
    const found = await this.ctx.userForToken(frame.token)
    if (this.closed) return
    if (found === null) {
      // A token that no longer holds takes back the view it gave: public rooms only from now on.
      if (frame.type === 'ping_user') this.unview()
      this.reply(frame.ref, 'Invalid or expired token')
      if (this.awaitingAuth !== null) this.close(POLICY_VIOLATION, 'auth=1: the first ping_user must carry a valid token')
      return
    }
    if (frame.type === 'ping_user') {
      this.viewerToken = found.tokenId
      return this.pingUser(found.user, frame.ref)
    }
    if (frame.type === 'typing') return this.typing(found.user, frame.roomId, frame.ref)
    return this.postMessage(found.user, frame.source, frame.roomId, frame.ref)
  }

  // Ties this connection to the user: online while it (or another of theirs) is open.
  private async pingUser (user: AuthUser, ref: Ref | undefined): Promise<void> {
    this.view(user.id)
    if (this.userId !== user.id) {
      if (this.userId !== null && this.connectionId !== null) this.untie()
      const connectionId = randomUUID()
      this.userId = user.id
      this.connectionId = connectionId
      this.tied = this.ctx.presence.tie(connectionId, user.id).catch((err: Error) => {
        // Untied again, with no offline flip (its own flip rolled back): the next ping_user ties afresh.
        if (this.connectionId === connectionId) this.untie(false)
        throw err
      })
    }
    // A ping_user sent while the first one's tie runs waits for it, and fails with it.
    await this.tied
    await this.ctx.markSeen(user)
    if (ref !== undefined) this.write(ackFrame(ref))
  }

  // Back to the anonymous view (public rooms): the token that gave the user's view was revoked or failed.
  unview (): void {
    this.viewerToken = null
    if (this.viewer === null) return
    const previous = this.viewer
    this.viewer = null
    this.ctx.stream.reindex(this, previous)
  }

  // From now on this socket sees the user's rooms; with auth=1, its stream starts here.
  private view (userId: number): void {
    if (this.viewer !== userId) {
      const previous = this.viewer
      this.viewer = userId
      this.ctx.stream.reindex(this, previous)
    }
    const awaiting = this.awaitingAuth
    if (awaiting === null) return
    this.awaitingAuth = null
    clearTimeout(awaiting.timer)
    this.stream(awaiting.since)
  }

  private async typing (user: AuthUser, roomId: number, ref: Ref | undefined): Promise<void> {
    if (!await this.ctx.typing.send(user.id, roomId)) return this.reply(ref, ROOM_NOT_FOUND)
    if (ref !== undefined) this.write(ackFrame(ref))
  }

  notify (data: string): void {
    this.write(data)
  }

  private async postMessage (user: AuthUser, source: unknown, roomId: number, ref: Ref | undefined): Promise<void> {
    const posting = this.ctx.posting
    const problem = posting.invalidSource(source)
    if (problem !== null) return this.reply(ref, problem)
    await this.ctx.markSeen(user)
    const taskId = await posting.post(user.id, source as string, roomId)
    if (taskId === null) return this.reply(ref, ROOM_NOT_FOUND)
    if (ref !== undefined) this.write(ackFrame(ref, { task: taskUrl(taskId) }))
  }

  private reply (ref: Ref | undefined, error: string): void {
    this.write(errorFrame(error, ref))
  }

  // `goOffline`: false when the tie never committed, so nothing of it is to be undone.
  private untie (goOffline = true): void {
    const userId = this.userId
    const connectionId = this.connectionId
    this.userId = null
    this.connectionId = null
    if (userId === null || connectionId === null || this.ctx.closing) return
    this.ctx.presence.untie(connectionId, userId, goOffline).catch((err: Error) => this.ctx.log.error({ err }, 'push: presence update on close failed'))
  }

  onClosed (): void {
    if (this.closed) return
    this.closed = true
    this.pending = null
    if (this.awaitingAuth !== null) clearTimeout(this.awaitingAuth.timer)
    this.awaitingAuth = null
    this.ctx.stream.remove(this)
    this.ctx.connections.delete(this)
    this.untie()
  }
}

function onMessage (this: WebSocket, data: RawData, isBinary: boolean): void {
  (this as TaggedSocket)[kConnection].receive(data, isBinary)
}

function onPong (this: WebSocket): void {
  (this as TaggedSocket)[kConnection].alive = true
}

function onClose (this: WebSocket): void {
  (this as TaggedSocket)[kConnection].onClosed()
}
