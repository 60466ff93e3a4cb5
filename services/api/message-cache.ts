import fp from 'fastify-plugin'
import fresh from 'fresh'
import { Type } from '../../lib/typebox'
import type pg from 'pg'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { EVENTS_CHANNEL, newestSeq } from '../../lib/queries/events'
import type { RoomKind } from '../../lib/models'
import { recentMessages, timedMessages } from '../../lib/queries/messages'
import { roomKind } from '../../lib/queries/rooms'
import type { Notifications } from '../../plugins/notifications'
import { httpError } from '../../plugins/errors'
import type { Db } from '../../lib/db'
import { ROOM_NOT_FOUND } from '../../lib/queries/access'
import { mustRead } from './room-access'
import { EventStream } from '../../lib/stream/stream'
import type { EventFrame } from '../../lib/stream/frames'
import { HISTORY_SECONDS, NEWEST_HELD, RoomWindow, type Body } from './message-window'

// Loaded rooms kept, and their messages' JSON bytes in all: the least recently read go first.
const MAX_ROOMS = 200
const MAX_BYTES = 32 * 1024 * 1024
// A room bigger than this is listed from the database, as if not cached.
const MAX_ROOM_BYTES = 8 * 1024 * 1024
// A read waits this long at most for the cache to apply what the database has; then it reads the database.
const CATCH_UP_MS = 2000
// Freshness queries in flight at once.
const MAX_CHECKS = 2

interface Room { kind: RoomKind, window: RoomWindow }

// Each api process's copy of the recent messages of the rooms read lately, kept current by the
// event stream (lib/stream/stream.ts). Before serving, a read makes sure every event committed
// before it arrived is applied (one coalesced max(seq) query for all reads waiting at once), so a
// client never lists older than what any instance already told it.
export class MessageCache {
  private readonly rooms = new Map<number, Room>()
  private readonly loading = new Set<number>()
  private stream: EventStream
  private closed = false
  // Message ids changed by events not yet re-read, and the newest seq received.
  private pending = new Map<number, number>()
  private receivedSeq = 0
  // Every event up to this seq is applied to the rooms held.
  private appliedSeq = 0
  private started = false
  // Loads and re-reads run one at a time, in order: a load's snapshot is never overwritten by an older row.
  private queue: Promise<void> = Promise.resolve()
  private nextCheck: Promise<number> | null = null
  private startCheck: (() => void) | null = null
  private checking = 0
  private readonly waiters = new Set<{ seq: number, wake: () => void }>()
  private unsubscribe: () => void = () => {}

  constructor (private readonly pool: pg.Pool, private readonly notifications: Notifications, private readonly log: FastifyBaseLogger) {
    this.stream = this.newStream()
    let connected = false
    // After a lost LISTEN connection (a database restart), events may have been pruned meanwhile: start over.
    this.unsubscribe = notifications.subscribe(EVENTS_CHANNEL, {
      onNotification: () => {},
      onConnect: () => {
        if (connected) this.clear()
        connected = true
      },
    })
  }

  private newStream (): EventStream {
    const stream = new EventStream(this.pool, this.notifications, this.log, { frames: 0, bytes: 0 })
    stream.taps.add((frames) => this.take(frames))
    return stream
  }

  // Until the stream is positioned, lists read the database; a stream that could not start is replaced and tried again.
  start (): void {
    const stream = this.stream
    stream.start().then(() => {
      this.receivedSeq = this.appliedSeq = stream.lastSeq
      this.started = true
    }, (err: Error) => {
      this.log.warn({ err }, 'message cache: no event stream yet; lists read the database')
      void stream.close()
      if (this.closed) return
      this.stream = this.newStream()
      setTimeout(() => { if (!this.closed) this.start() }, 1000).unref()
    })
  }

  async close (): Promise<void> {
    this.closed = true
    this.started = false
    this.unsubscribe()
    await this.stream.close()
    await this.queue
    for (const waiter of this.waiters) waiter.wake()
  }

  clear (): void {
    this.rooms.clear()
  }

  get size (): number { return this.rooms.size }

  // The room's window, current with every event committed before the call; null: the room is
  // missing, undefined: the cache cannot answer (read the database). No access check here.
  async room (roomId: number): Promise<Room | null | undefined> {
    if (!this.started || !await this.caughtUp()) return undefined
    const room = this.rooms.get(roomId) ?? await this.enqueue(() => this.load(roomId)).catch(() => undefined)
    if (room === null || room === undefined) return room
    if (room.window.bytes > MAX_ROOM_BYTES) return undefined
    // Most recently read last: eviction takes the first.
    this.rooms.delete(roomId)
    this.rooms.set(roomId, room)
    return room
  }

  private async load (roomId: number): Promise<Room | null> {
    const held = this.rooms.get(roomId)
    if (held !== undefined) return held
    const kind = await roomKind(this.pool, roomId)
    if (kind === null) return null
    // Events taken from now on are re-read after the snapshot; earlier ones committed before it.
    this.loading.add(roomId)
    try {
      const since = Math.floor(Date.now() / 1000) - HISTORY_SECONDS - 60
      const rows = await recentMessages(this.pool, roomId, NEWEST_HELD, since)
      const window = new RoomWindow(roomId, since * 1e6, rows[0]?.floor ?? 0, this.appliedSeq)
      for (const row of rows) window.put(row)
      const room = { kind, window }
      this.rooms.set(roomId, room)
      this.evict()
      return room
    } finally {
      this.loading.delete(roomId)
    }
  }

  private evict (): void {
    let bytes = 0
    for (const room of this.rooms.values()) bytes += room.window.bytes
    for (const [id, room] of this.rooms) {
      if (this.rooms.size <= MAX_ROOMS && bytes <= MAX_BYTES) break
      this.rooms.delete(id)
      bytes -= room.window.bytes
    }
  }

  // Called by the stream with every batch, in seq order.
  private take (frames: EventFrame[]): void {
    for (const frame of frames) {
      const event = JSON.parse(frame.data.toString()) as { class: string, model: { id: number, room_id?: number } }
      if (event.class === 'Message' && (this.rooms.has(event.model.room_id!) || this.loading.has(event.model.room_id!))) this.pending.set(event.model.id, frame.seq)
      // A room's kind never changes, but a room event is rare: start that room over rather than reason about it.
      if (event.class === 'Room') this.rooms.delete(event.model.id)
    }
    this.receivedSeq = frames[frames.length - 1].seq
    this.enqueue(() => this.apply()).catch(() => {})
  }

  private async apply (): Promise<void> {
    const through = this.receivedSeq
    const changed = this.pending
    this.pending = new Map()
    if (changed.size > 0) {
      const rows = await timedMessages(this.pool, [...changed.keys()])
      for (const row of rows) {
        const window = this.rooms.get(row.roomId)?.window
        if (window === undefined) continue
        window.version = Math.max(window.version, changed.get(row.id)!)
        window.put(row)
      }
      this.evict()
    }
    this.appliedSeq = Math.max(this.appliedSeq, through)
    for (const waiter of this.waiters) if (waiter.seq <= this.appliedSeq) waiter.wake()
  }

  private enqueue<T> (op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op)
    // After a failed read the held rooms' changes are unknown: start over (nothing held, so every event counts as applied).
    this.queue = run.then(() => {}, (err: Error) => {
      this.log.warn({ err }, 'message cache: reading the database failed; starting over')
      this.clear()
      this.pending.clear()
      this.appliedSeq = Math.max(this.appliedSeq, this.receivedSeq)
    })
    return run
  }

  // Whether every event committed before the call is applied, waiting (briefly) for it if not.
  private async caughtUp (): Promise<boolean> {
    let newest: number
    try {
      newest = await this.check()
    } catch {
      return false
    }
    if (this.appliedSeq >= newest) return true
    this.stream.catchUp()
    return new Promise((resolve) => {
      const waiter = {
        seq: newest,
        wake: () => {
          clearTimeout(timer)
          this.waiters.delete(waiter)
          resolve(this.appliedSeq >= newest)
        },
      }
      const timer = setTimeout(waiter.wake, CATCH_UP_MS)
      this.waiters.add(waiter)
    })
  }

  // The newest committed event, read by a query that starts after the call: the calls waiting for
  // a free slot (or of one turn of the event loop) share one query, at most MAX_CHECKS at a time.
  private check (): Promise<number> {
    this.nextCheck ??= new Promise((resolve, reject) => {
      this.startCheck = () => {
        this.nextCheck = null
        this.startCheck = null
        this.checking++
        newestSeq(this.pool).then(resolve, reject).finally(() => {
          this.checking--
          this.startCheck?.()
        })
      }
      if (this.checking < MAX_CHECKS) setImmediate(() => this.startCheck?.())
    })
    return this.nextCheck
  }
}

// The lists' caching headers, for their schemas.
export const ListHeaders = Type.Object({ 'if-none-match': Type.Optional(Type.String({ description: 'An ETag from an earlier answer: 304 when the list is unchanged' })) })
export const LIST_HEADERS = {
  etag: { type: 'string' as const, description: 'The list\'s version: the room\'s last applied event and the count' },
  'cache-control': { type: 'string' as const, description: '`no-cache`, and `private` for a private or direct room or a request with a token' },
}
export const NOT_MODIFIED = Type.Null({ description: 'Not modified: If-None-Match names the current ETag (given only after the read check)', headers: LIST_HEADERS })

// Sends a cached list (or 304), after the caller's read check. Shared caches may keep only a public
// room's list asked for without a token; every answer is revalidated.
export function replyWithBody (request: FastifyRequest, reply: FastifyReply, body: Body, kind: RoomKind): FastifyReply {
  const shared = kind === 'public' && request.headers.authorization === undefined
  reply.header('etag', body.etag).header('cache-control', shared ? 'no-cache' : 'private, no-cache')
  // `fresh`: If-None-Match names this ETag (weak comparison), and the request does not ask for no-cache.
  if (fresh(request.headers, { etag: body.etag })) return reply.code(304).send()
  return reply.type('application/json; charset=utf-8').send(body.bytes)
}

// Sends a room's list from memory, after the read check a non-public room needs (its outsider gets the
// missing room's 404): true when sent; false when the cache cannot answer, so the caller reads the
// database. A boolean, not the reply: an async function returning the reply (a thenable) would await it.
export async function replyFromCache (cache: MessageCache, db: Db, request: FastifyRequest, reply: FastifyReply,
  roomId: number, pick: (window: RoomWindow) => Body): Promise<boolean> {
  const room = await cache.room(roomId)
  if (room === null) throw httpError(404, ROOM_NOT_FOUND)
  if (room === undefined) return false
  if (room.kind !== 'public') await mustRead(db, request.currentUser?.id ?? null, roomId)
  replyWithBody(request, reply, pick(room.window), room.kind)
  return true
}

declare module 'fastify' {
  interface FastifyInstance { messageCache: MessageCache }
}

export default fp(async (fastify) => {
  const cache = new MessageCache(fastify.pg, fastify.notifications, fastify.log)
  fastify.decorate('messageCache', cache)
  fastify.addHook('onReady', async () => { cache.start() })
  fastify.addHook('preClose', () => cache.close())
}, { name: 'message-cache', dependencies: ['notifications'], fastify: '5.x' })
