import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import type { Notifications } from '../../plugins/notifications'
import { typingFrame, wireFrames, type EventFrame } from './frames'
import { PAGE_SIZE, readEventsAfter } from './replay'
import { EVENTS_CHANNEL, streamStart } from '../queries/events'
import { RecentFrames } from './recent'

// Something that takes the event stream: a socket, in practice. `wire` is the batch already
// framed for the wire, to write in one go when the subscriber wants all of it.
export interface Subscriber {
  // The user whose rooms it may see besides public ones (none: public rooms only).
  readonly viewer?: number | null
  // Only the frames it may see, in seq order.
  deliver: (frames: EventFrame[], wire: Buffer) => void
  // A frame outside the event stream (typing): written as it comes, never replayed.
  notify?: (data: string) => void
  // Called when deliver threw: the subscriber may have missed frames and must not go on silently.
  fail: (err: Error) => void
}

const START_TIMEOUT_MS = 15000
// Waits before retrying a failed read, growing while failures repeat.
const RETRY_MS = [100, 500, 2000, 5000]

// On the process's one LISTEN connection (plugins/notifications.ts), each notification wakes one
// batched read of every event after the last one seen; each frame, serialised once, goes to
// every subscriber that may see it, in seq order. A private or direct room's frame goes only to
// its readers' subscribers, found through an index by viewer: it costs its readers, not every socket.
export class EventStream {
  // The newest event handed to subscribers; everything at or below it has been delivered.
  lastSeq = 0
  readonly subscribers = new Set<Subscriber>()
  private readonly byViewer = new Map<number, Set<Subscriber>>()
  private unsubscribe: () => void = () => {}
  private started = false
  private reading = false
  private readAgain = false
  private idle: Promise<void> = Promise.resolve()
  private markIdle: () => void = () => {}
  private closed = false
  private failures = 0
  private retryTimer: NodeJS.Timeout | undefined
  // Set while sockets' views may be stale (revocations announced in a LISTEN outage went unheard):
  // nothing is delivered until they are checked again and this resolves.
  private held: Promise<void> | null = null
  private releaseHeld: () => void = () => {}

  // The newest frames, for replays from memory.
  readonly recent: RecentFrames
  // Every frame, whoever may see it, in seq order: for caches that check access themselves (the api's message lists).
  readonly taps = new Set<(frames: EventFrame[]) => void>()

  constructor (private readonly pool: pg.Pool, private readonly notifications: Notifications, private readonly log: FastifyBaseLogger,
    memory: { frames: number, bytes: number }) {
    this.recent = new RecentFrames(memory.frames, memory.bytes)
  }

  // Resolves once listening and positioned at the newest event, so no later event is missed.
  start (): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('push: could not listen for events (database unreachable?)')), START_TIMEOUT_MS)
      let positioning = false
      this.unsubscribe = this.notifications.subscribe(EVENTS_CHANNEL, {
        onNotification: () => this.catchUp(),
        onConnect: () => {
          if (this.started) {
            // Notifications sent while reconnecting were lost: read whatever they announced.
            this.catchUp()
            return
          }
          // One read at a time, whether called by a reconnect or by a retry.
          const position = (): void => {
            if (this.closed || this.started || positioning) return
            positioning = true
            streamStart(this.pool).then(({ newest, issued }) => {
              positioning = false
              if (this.closed || this.started) return
              this.lastSeq = newest
              // Events issued before now (pruned, or still committing) were never in this memory.
              this.recent.startAt(issued)
              this.started = true
              this.failures = 0
              clearTimeout(timer)
              resolve()
              this.catchUp()
            }, (err: Error) => {
              positioning = false
              this.log.warn({ err }, 'push: reading the newest event failed; retrying')
              this.retry(position)
            })
          }
          position()
        },
      })
    })
  }

  // Reads in a loop while notifications keep arriving; one read at a time keeps seq order.
  catchUp (): void {
    if (!this.started || this.held !== null) return
    if (this.reading) {
      this.readAgain = true
      return
    }
    this.reading = true
    this.idle = new Promise((resolve) => { this.markIdle = resolve })
    this.readLoop().then(() => { this.failures = 0 }, (err: Error) => {
      this.log.error({ err }, 'push: reading new events failed; retrying')
      // From the same position: a quiet stream may bring no notification to retry on.
      this.retry(() => this.catchUp())
    }).finally(() => {
      this.reading = false
      this.markIdle()
    })
  }

  private async readLoop (): Promise<void> {
    do {
      this.readAgain = false
      let page: EventFrame[]
      do {
        page = await readEventsAfter(this.pool, this.lastSeq, PAGE_SIZE)
        // Read again once released: lastSeq has not moved.
        if (this.held !== null) return
        if (page.length > 0) this.broadcast(page)
      } while (page.length === PAGE_SIZE)
    } while (this.readAgain)
  }

  private broadcast (frames: EventFrame[]): void {
    this.lastSeq = frames[frames.length - 1].seq
    this.recent.add(frames)
    for (const tap of this.taps) tap(frames)
    if (this.subscribers.size === 0) return
    if (frames.every((frame) => frame.readers === null)) {
      const wire = wireFrames(frames)
      for (const subscriber of this.subscribers) this.send(subscriber, frames, wire)
      return
    }
    const open = frames.filter((frame) => frame.readers === null)
    // Each reader's subscribers with the restricted frames they get, in seq order.
    const own = new Map<Subscriber, EventFrame[]>()
    for (const frame of frames) {
      if (frame.readers === null) continue
      for (const reader of frame.readers) {
        for (const subscriber of this.byViewer.get(reader) ?? []) {
          const mine = own.get(subscriber)
          if (mine === undefined) own.set(subscriber, [frame])
          else mine.push(frame)
        }
      }
    }
    if (open.length > 0) {
      const wire = wireFrames(open)
      for (const subscriber of this.subscribers) if (!own.has(subscriber)) this.send(subscriber, open, wire)
    }
    // Readers of the same frames (all of a room's, usually) share one wire buffer.
    const wires = new Map<string, Buffer>()
    for (const [subscriber, mine] of own) {
      const all = open.length === 0 ? mine : [...open, ...mine].sort((a, b) => a.seq - b.seq)
      const key = all.map((frame) => frame.seq).join()
      let wire = wires.get(key)
      if (wire === undefined) wires.set(key, wire = wireFrames(all))
      this.send(subscriber, all, wire)
    }
  }

  private send (subscriber: Subscriber, frames: EventFrame[], wire: Buffer): void {
    // One subscriber's bug must not cost the others this batch (lastSeq has moved past it).
    try {
      subscriber.deliver(frames, wire)
    } catch (err) {
      this.log.error({ err }, 'push: delivering to a subscriber failed')
      this.remove(subscriber)
      try {
        subscriber.fail(err as Error)
      } catch (failed) {
        this.log.error({ err: failed }, 'push: closing a failed subscriber failed')
      }
    }
  }

  private retry (again: () => void): void {
    if (this.closed) return
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(again, RETRY_MS[Math.min(this.failures++, RETRY_MS.length - 1)])
    this.retryTimer.unref()
  }

  add (subscriber: Subscriber): void {
    this.subscribers.add(subscriber)
    this.index(subscriber, subscriber.viewer ?? null)
  }

  remove (subscriber: Subscriber): void {
    this.subscribers.delete(subscriber)
    this.unindex(subscriber, subscriber.viewer ?? null)
  }

  // Stops delivery (live, replays and typing) until `resume`; idempotent.
  hold (): void {
    if (this.held === null) this.held = new Promise((resolve) => { this.releaseHeld = resolve })
  }

  // Delivery goes on, from where it stopped.
  resume (): void {
    if (this.held === null) return
    this.held = null
    this.releaseHeld()
    this.catchUp()
  }

  // Resolves when delivery is not held (at once, usually).
  released (): Promise<void> {
    return this.held ?? Promise.resolve()
  }

  // A typing notice to the room's other readers here (readers null: a public room, every socket).
  typing (roomId: number, userId: number, readers: number[] | null): void {
    // Never stored, so dropped while views may be stale.
    if (this.held !== null) return
    const data = typingFrame(roomId, userId)
    const send = (subscriber: Subscriber): void => {
      if ((subscriber.viewer ?? null) !== userId) subscriber.notify?.(data)
    }
    if (readers === null) {
      for (const subscriber of this.subscribers) send(subscriber)
      return
    }
    for (const reader of readers) for (const subscriber of this.byViewer.get(reader) ?? []) send(subscriber)
  }

  // The users this instance has sockets of.
  viewers (): number[] { return [...this.byViewer.keys()] }

  // A subscriber's viewer changed (ping_user) from `previous`: its rooms' frames follow it from the next batch.
  reindex (subscriber: Subscriber, previous: number | null): void {
    if (!this.subscribers.has(subscriber)) return
    this.unindex(subscriber, previous)
    this.index(subscriber, subscriber.viewer ?? null)
  }

  private index (subscriber: Subscriber, viewer: number | null): void {
    if (viewer === null) return
    let set = this.byViewer.get(viewer)
    if (set === undefined) this.byViewer.set(viewer, set = new Set())
    set.add(subscriber)
  }

  private unindex (subscriber: Subscriber, viewer: number | null): void {
    if (viewer === null) return
    const set = this.byViewer.get(viewer)
    set?.delete(subscriber)
    if (set?.size === 0) this.byViewer.delete(viewer)
  }

  async close (): Promise<void> {
    this.started = false
    this.closed = true
    // Replays waiting for a resume end (their sockets are closing).
    this.releaseHeld()
    clearTimeout(this.retryTimer)
    this.unsubscribe()
    await this.idle
  }
}
