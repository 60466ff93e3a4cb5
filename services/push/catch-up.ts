import { RESET_FRAME, frameBytes, visibleTo, wireFrames, type EventFrame } from '../../lib/stream/frames'
import { newestSeq } from '../../lib/queries/events'
import { PAGE_SIZE, canReplaySince, readEventsAfter } from '../../lib/stream/replay'
import type { Subscriber } from '../../lib/stream/stream'
import type { PushContext } from './context'
import { INTERNAL_ERROR, type SocketWriter } from './socket-writer'

// What the catch-up needs of the socket it feeds.
export interface CatchUpTarget extends Subscriber {
  readonly closed: boolean
  readonly writer: SocketWriter
  // The instance's shared parts (the push context).
  readonly ctx: CatchUpDeps
  // Whose private rooms it may see at this moment (an expired view ended first).
  viewNow: () => number | null
}

// Shared by every socket of the instance (the push context); a replay waits at most heartbeatMs for a client to drain.
export type CatchUpDeps = Pick<PushContext, 'stream' | 'pool' | 'log' | 'maxBufferBytes' | 'heartbeatMs'>

// One socket's place in the event stream: the replay after `since` (from memory or the database,
// page by page), then live frames, in seq order with no gap and no duplicate among what it may see.
export class CatchUp {
  // The newest event this client has (been sent); nothing at or below it is sent again.
  lastSeq = 0
  // Live frames held back while a replay runs; null once live.
  private pending: EventFrame[] | null = null
  private pendingBytes = 0

  // The socket's writer and the instance's parts are reached through the target: fewer fields, smaller idle sockets.
  constructor (private readonly target: CatchUpTarget) {}

  private get writer (): SocketWriter { return this.target.writer }
  private get deps (): CatchUpDeps { return this.target.ctx }

  get replaying (): boolean { return this.pending !== null }

  // Streams events after `since` (replayed first) or, without it, from now on.
  start (since: number | undefined): void {
    const stream = this.deps.stream
    if (since === undefined || since === stream.lastSeq) {
      this.lastSeq = stream.lastSeq
      stream.add(this.target)
      return
    }
    this.lastSeq = since
    const held = stream.recent.after(since)
    if (held !== null) {
      // All of it still in memory: written and subscribed in one go, so nothing falls in between.
      this.sendNewer(held)
      stream.add(this.target)
      return
    }
    this.pending = []
    // Subscribed before the replay reads, so every event is in the replay, the pending frames, or both.
    stream.add(this.target)
    this.replay().catch((err: Error) => {
      this.deps.log.error({ err }, 'push: replay failed')
      this.writer.close(INTERNAL_ERROR, 'Replay failed; reconnect')
    })
  }

  private async replay (): Promise<void> {
    const { pool } = this.deps
    // The newest event read so far, seen or not: the next page starts after it.
    let from = this.lastSeq
    for (;;) {
      const page = await readEventsAfter(pool, from, PAGE_SIZE)
      // Checked after the read: events pruned before it then show as a reset, never as a gap.
      const complete = await canReplaySince(pool, from)
      // While the views are checked again after a LISTEN outage, nothing is sent.
      await this.deps.stream.released()
      if (this.target.closed) return
      if (!complete) {
        // The client reloads after the reset, and the reload shows everything committed by now (seq
        // order is commit order): live events start after the newest of them.
        const newest = await newestSeq(pool)
        if (this.target.closed) return
        this.writer.write(RESET_FRAME)
        this.lastSeq = newest
        break
      }
      this.sendNewer(page)
      if (page.length > 0) from = page[page.length - 1].seq
      const pending = this.pending ?? []
      // Caught up with what the live stream holds for us: the rest is in `pending`.
      if (page.length < PAGE_SIZE || (pending.length > 0 && from >= pending[0].seq)) break
      if (!await this.writer.drained(this.deps.heartbeatMs) || this.target.closed) return
    }
    const pending = this.pending ?? []
    this.stop()
    this.sendNewer(pending)
  }

  // A batch from the live stream: held while a replay runs, else written (as one buffer when all of it is new).
  deliver (frames: EventFrame[], wire: Buffer): void {
    if (this.pending !== null) {
      for (const frame of frames) {
        this.pending.push(frame)
        this.pendingBytes += frameBytes(frame)
      }
      if (this.pendingBytes > this.deps.maxBufferBytes) this.writer.closeSlow()
      return
    }
    if (frames[0].seq > this.lastSeq) {
      this.lastSeq = frames[frames.length - 1].seq
      this.writer.writeFramed(wire)
      return
    }
    this.sendNewer(frames)
  }

  // The frames this client does not have yet and may see, as one write.
  private sendNewer (frames: EventFrame[]): void {
    const viewer = this.target.viewNow()
    const newer = frames.filter((frame) => frame.seq > this.lastSeq && visibleTo(frame, viewer))
    if (newer.length === 0) return
    this.lastSeq = newer[newer.length - 1].seq
    this.writer.writeFramed(wireFrames(newer))
  }

  // Lets go of held frames (the socket closed, or the replay is over).
  stop (): void {
    this.pending = null
    this.pendingBytes = 0
  }
}
