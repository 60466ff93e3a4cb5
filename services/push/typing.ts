import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import type { Notifications } from '../../plugins/notifications'
import type { EventStream } from './stream'

// Typing notices cross instances by NOTIFY only: never stored, never replayed.
export const TYPING_CHANNEL = 'flack_typing'
export const TYPING_INTERVAL_MS = 3000
// NOTIFY payloads stay under PostgreSQL's 8000 bytes: a bigger room's readers are looked up by each instance.
const MAX_PAYLOAD_BYTES = 7000

// At most one per key every interval; old entries are swept whenever the map has doubled.
export class Throttle {
  private readonly last = new Map<string, number>()
  private sweepAt = 1024

  constructor (private readonly intervalMs: number) {}

  allow (key: string, now = performance.now()): boolean {
    const previous = this.last.get(key)
    if (previous !== undefined && now - previous < this.intervalMs) return false
    this.last.set(key, now)
    if (this.last.size >= this.sweepAt) {
      for (const [old, at] of this.last) if (now - at >= this.intervalMs) this.last.delete(old)
      this.sweepAt = Math.max(1024, this.last.size * 2)
    }
    return true
  }
}

// readers: null for a public room (anyone), 'members' when too many to carry.
interface TypingNotice { room_id: number, user_id: number, readers: number[] | null | 'members' }

const ROOM_READERS = {
  name: 'push-typing-room-readers',
  text: `SELECT CASE WHEN r.kind = 'public' THEN NULL ELSE ARRAY(SELECT m.user_id FROM memberships m WHERE m.room_id = r.id) END AS readers
         FROM rooms r WHERE r.id = $1`,
}
const MEMBERS_AMONG = {
  name: 'push-typing-members-among',
  text: 'SELECT user_id FROM memberships WHERE room_id = $1 AND user_id = ANY($2::int[])',
}

// Sends this instance's typing notices and shows everyone's to the sockets here that may read the room;
// throttled both where sent and where shown, so a user typing on two instances still shows once per interval.
export class Typing {
  private readonly sent: Throttle
  private readonly shown: Throttle
  private unsubscribe: () => void = () => {}

  constructor (private readonly pool: pg.Pool, private readonly notifications: Notifications, private readonly stream: EventStream,
    private readonly log: FastifyBaseLogger, intervalMs = TYPING_INTERVAL_MS) {
    this.sent = new Throttle(intervalMs)
    this.shown = new Throttle(intervalMs)
  }

  start (): void {
    this.unsubscribe = this.notifications.subscribe(TYPING_CHANNEL, { onNotification: (payload) => this.receive(payload) })
  }

  close (): void { this.unsubscribe() }

  // false when the user may not read the room, exactly as when it does not exist.
  async send (userId: number, roomId: number): Promise<boolean> {
    const { rows } = await this.pool.query<{ readers: number[] | null }>({ ...ROOM_READERS, values: [roomId] })
    const room = rows[0]
    if (room === undefined || (room.readers !== null && !room.readers.includes(userId))) return false
    if (!this.sent.allow(`${userId}:${roomId}`)) return true
    let payload = JSON.stringify({ room_id: roomId, user_id: userId, readers: room.readers })
    if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) payload = JSON.stringify({ room_id: roomId, user_id: userId, readers: 'members' })
    await this.pool.query({ name: 'push-typing-notify', text: 'SELECT pg_notify($1, $2)', values: [TYPING_CHANNEL, payload] })
    return true
  }

  private receive (payload: string): void {
    const notice = JSON.parse(payload) as TypingNotice
    if (!this.shown.allow(`${notice.user_id}:${notice.room_id}`)) return
    if (notice.readers !== 'members') {
      this.stream.typing(notice.room_id, notice.user_id, notice.readers)
      return
    }
    this.pool.query<{ user_id: number }>({ ...MEMBERS_AMONG, values: [notice.room_id, this.stream.viewers()] }).then(
      ({ rows }) => this.stream.typing(notice.room_id, notice.user_id, rows.map((row) => row.user_id)),
      (err: Error) => this.log.warn({ err }, 'push: looking up a typing notice\'s readers failed'))
  }
}
