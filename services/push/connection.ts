import type { RawData, WebSocket } from 'ws'
import { errorFrame, parseClientFrame, visibleTo, wireFrames, type EventFrame } from '../../lib/stream/frames'
import { CatchUp, type CatchUpTarget } from './catch-up'
import { runCommand, type CommandSocket } from './commands'
import type { PushContext } from './context'
import { FrameBudget } from './frame-budget'
import { INTERNAL_ERROR, POLICY_VIOLATION, SocketWriter } from './socket-writer'
import { UserTie } from './user-tie'
import { SocketView } from './view'

export { GOING_AWAY, INTERNAL_ERROR, POLICY_VIOLATION } from './socket-writer'
export type { PushContext } from './context'

const kConnection = Symbol('push connection')
type TaggedSocket = WebSocket & { [kConnection]: PushConnection }

// One client socket, put together from its parts: its place in the event stream (catch-up), what
// it writes (writer) and may read (view), the frames it sends (budget, commands), its user (tie).
export class PushConnection implements CatchUpTarget, CommandSocket {
  alive = true
  closed = false
  readonly writer: SocketWriter
  // Made at the first ping_user: an anonymous socket never needs them (idle sockets stay small).
  viewing: SocketView | null = null
  private tied: UserTie | null = null
  private readonly catchUp: CatchUp
  private readonly budget: FrameBudget
  // With auth=1: the `since` to stream from once the first frame, a ping_user, names the viewer.
  private awaiting: { since: number | undefined, timer: NodeJS.Timeout, firstTaken: boolean } | null = null

  constructor (readonly socket: WebSocket, readonly ctx: PushContext) {
    this.writer = new SocketWriter(socket, ctx.maxBufferBytes, this)
    this.catchUp = new CatchUp(this)
    this.budget = new FrameBudget(ctx.framesPerSecond)
    ;(socket as TaggedSocket)[kConnection] = this
    // Shared listeners (no closure per socket) keep an idle connection small.
    socket.on('message', onMessage)
    socket.on('pong', onPong)
    socket.on('close', onClose)
  }

  // Which rooms it sees (public ones only until a ping_user).
  get view (): SocketView { return this.viewing ??= new SocketView(this, this.ctx.stream) }

  // Its user, for presence.
  get tie (): UserTie { return this.tied ??= new UserTie(this.ctx) }

  // Whose private rooms this socket sees, as the stream indexes it.
  get viewer (): number | null { return this.viewing?.viewer ?? null }

  // The same, once a view whose token has expired is ended (in case its timer runs late).
  viewNow (): number | null {
    this.viewing?.lapse()
    return this.viewer
  }

  slow (): void {
    this.ctx.log.info({ user: this.tied?.userId ?? null }, 'push: closing a slow consumer')
  }

  get awaitingAuth (): boolean { return this.awaiting !== null }

  // Streams events after `since` (replayed first) or, without it, from now on. With `auth`, nothing
  // is sent until the first frame, a ping_user, says in whose view.
  start (since: number | undefined, auth = false): void {
    this.ctx.connections.add(this)
    if (auth) {
      const timer = setTimeout(() => this.close(POLICY_VIOLATION, 'auth=1: the first frame must be ping_user'), this.ctx.heartbeatMs)
      timer.unref()
      this.awaiting = { since, timer, firstTaken: false }
      return
    }
    this.catchUp.start(since)
  }

  // A ping_user named the viewer: with auth=1, the stream starts here.
  viewed (): void {
    const awaiting = this.awaiting
    if (awaiting === null) return
    this.awaiting = null
    clearTimeout(awaiting.timer)
    this.catchUp.start(awaiting.since)
  }

  deliver (frames: EventFrame[], wire: Buffer): void {
    if (this.viewing?.lapse() === true) {
      // Chosen for a view that has just ended: only what anyone may see goes.
      frames = frames.filter((frame) => visibleTo(frame, null))
      if (frames.length === 0) return
      wire = wireFrames(frames)
    }
    this.catchUp.deliver(frames, wire)
  }

  // A typing notice, picked by the socket's view: not for one that has just ended.
  notify (data: string): void {
    if (this.viewing?.lapse() === true) return
    this.write(data)
  }

  write (data: Buffer | string): void {
    this.writer.write(data)
  }

  // Dropped from the stream after a delivery bug: it may lack frames, so it reconnects with since.
  fail (): void {
    this.close(INTERNAL_ERROR, 'Delivery failed; reconnect with since')
  }

  close (code: number, reason: string): void {
    this.writer.close(code, reason)
  }

  receive (data: RawData, isBinary: boolean): void {
    this.alive = true
    const verdict = this.budget.take()
    if (verdict !== 'take') {
      if (verdict === 'warn') this.write(errorFrame(`Too many frames: at most ${this.budget.rate} per second`))
      else if (verdict === 'close') this.close(POLICY_VIOLATION, 'Too many frames')
      return
    }
    if (isBinary) {
      this.write(errorFrame('Binary frames are not supported: send JSON text frames'))
      return
    }
    const frame = parseClientFrame(data.toString())
    if (this.awaiting !== null && !this.awaiting.firstTaken) {
      if ('error' in frame || frame.type !== 'ping_user') {
        this.close(POLICY_VIOLATION, 'auth=1: the first frame must be ping_user')
        return
      }
      this.awaiting.firstTaken = true
    }
    if ('error' in frame) {
      this.write(errorFrame(frame.error, frame.ref))
      return
    }
    runCommand(this, frame).catch((err: Error) => {
      this.ctx.log.error({ err }, `push: ${frame.type} failed`)
      this.write(errorFrame('Internal server error', frame.ref))
    })
  }

  onClosed (): void {
    if (this.closed) return
    this.closed = true
    this.catchUp.stop()
    if (this.awaiting !== null) clearTimeout(this.awaiting.timer)
    this.awaiting = null
    this.viewing?.close()
    this.ctx.stream.remove(this)
    this.ctx.connections.delete(this)
    this.tied?.untie()
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
