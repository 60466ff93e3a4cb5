import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import type { Notifications } from '../../plugins/notifications'
import type { EventStream } from '../../lib/stream/stream'
import { OncePerInterval, Throttle } from './throttle'
import { membersAmong, roomReaders } from '../../lib/queries/memberships'
import { notify } from '../../lib/queries/notify'

// Typing notices cross instances by NOTIFY only: never stored, never replayed.
export const TYPING_CHANNEL = 'flack_typing'
export const TYPING_INTERVAL_MS = 3000
// NOTIFY payloads stay under PostgreSQL's 8000 bytes: a bigger room's readers are looked up by each instance.
const MAX_PAYLOAD_BYTES = 7000

// readers: null for a public room (anyone), 'members' when too many to carry.
interface TypingNotice { room_id: number, user_id: number, readers: number[] | null | 'members' }

// Sends this instance's typing notices and shows everyone's to the sockets here that may read the room;
// throttled both where sent and where shown, so a user typing on two instances still shows once per interval.
export class Typing {
  // Per user and room, one lookup (and notice) per interval: a flood of typing frames costs no query.
  private readonly sent: OncePerInterval<boolean>
  private readonly shown: Throttle
  private unsubscribe: () => void = () => {}

  constructor (private readonly pool: pg.Pool, private readonly notifications: Notifications, private readonly stream: EventStream,
    private readonly log: FastifyBaseLogger, intervalMs = TYPING_INTERVAL_MS) {
    this.sent = new OncePerInterval(intervalMs)
    this.shown = new Throttle(intervalMs)
  }

  start (): void {
    this.unsubscribe = this.notifications.subscribe(TYPING_CHANNEL, { onNotification: (payload) => this.receive(payload) })
  }

  close (): void { this.unsubscribe() }

  // false when the user may not read the room, exactly as when it does not exist. Within the interval
  // the first frame's answer stands: a member removed meanwhile sends no new notice, only gets an ack.
  send (userId: number, roomId: number): Promise<boolean> {
    return this.sent.run(`${userId}:${roomId}`, () => this.lookUpAndNotify(userId, roomId))
  }

  private async lookUpAndNotify (userId: number, roomId: number): Promise<boolean> {
    const readers = await roomReaders(this.pool, roomId)
    if (readers === undefined || (readers !== null && !readers.includes(userId))) return false
    let payload = JSON.stringify({ room_id: roomId, user_id: userId, readers })
    if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) payload = JSON.stringify({ room_id: roomId, user_id: userId, readers: 'members' })
    await notify(this.pool, TYPING_CHANNEL, payload)
    return true
  }

  private receive (payload: string): void {
    const notice = JSON.parse(payload) as TypingNotice
    if (!this.shown.allow(`${notice.user_id}:${notice.room_id}`)) return
    if (notice.readers !== 'members') {
      this.stream.typing(notice.room_id, notice.user_id, notice.readers)
      return
    }
    membersAmong(this.pool, notice.room_id, this.stream.viewers()).then(
      (members) => this.stream.typing(notice.room_id, notice.user_id, members),
      (err: Error) => this.log.warn({ err }, 'push: looking up a typing notice\'s readers failed'))
  }
}
