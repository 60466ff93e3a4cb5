import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import { EVENTS_CHANNEL } from '../../plugins/events'
import type { Notifications } from '../../plugins/notifications'
import { wireFrames, type EventFrame } from './frames'
import { PAGE_SIZE, newestEventSeq, readEventsAfter } from './replay'
import { RecentFrames } from './recent'

// Something that takes the event stream: a socket, in practice. `wire` is the batch already
// framed for the wire, to write in one go when the subscriber wants all of it.
export interface Subscriber {
  deliver: (frames: EventFrame[], wire: Buffer) => void
  // Called when deliver threw: the subscriber may have missed frames and must not go on silently.
  fail: (err: Error) => void
}

const START_TIMEOUT_MS = 15000
// Waits before retrying a failed read, growing while failures repeat.
const RETRY_MS = [100, 500, 2000, 5000]

// On the process's one LISTEN connection (plugins/notifications.ts), each notification wakes one
// batched read of every event after the last one seen; each frame, serialised once, goes to
// every subscriber in seq order.
export class EventStream {
  // The newest event handed to subscribers; everything at or below it has been delivered.
  lastSeq = 0
  readonly subscribers = new Set<Subscriber>()
  private unsubscribe: () => void = () => {}
  private started = false
  private reading = false
  private readAgain = false
  private idle: Promise<void> = Promise.resolve()
  private markIdle: () => void = () => {}
  private closed = false
  private failures = 0
  private retryTimer: NodeJS.Timeout | undefined

  // The newest frames, for replays from memory.
  readonly recent: RecentFrames

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
            newestEventSeq(this.pool).then((seq) => {
              positioning = false
              if (this.closed || this.started) return
              this.lastSeq = seq
              this.recent.startAt(seq)
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
    if (!this.started) return
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
        if (page.length > 0) this.broadcast(page)
      } while (page.length === PAGE_SIZE)
    } while (this.readAgain)
  }

  private broadcast (frames: EventFrame[]): void {
    this.lastSeq = frames[frames.length - 1].seq
    this.recent.add(frames)
    const wire = wireFrames(frames)
    for (const subscriber of this.subscribers) {
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
  }

  private retry (again: () => void): void {
    if (this.closed) return
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(again, RETRY_MS[Math.min(this.failures++, RETRY_MS.length - 1)])
    this.retryTimer.unref()
  }

  add (subscriber: Subscriber): void { this.subscribers.add(subscriber) }
  remove (subscriber: Subscriber): void { this.subscribers.delete(subscriber) }

  async close (): Promise<void> {
    this.started = false
    this.closed = true
    clearTimeout(this.retryTimer)
    this.unsubscribe()
    await this.idle
  }
}
