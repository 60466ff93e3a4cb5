import type pg from 'pg'
import type { Transaction } from '../plugins/database'
import { announce, userChanged } from './auth-cache'
import { messageJson, userJson, type MessageRow, type UserRow } from './models'

export const EVENTS_CHANNEL = 'flack_events'
// Serialises publishers so seq order equals commit order: a reader that has seen
// seq N can never later find a committed event below N.
export const PUBLISH_LOCK = 0x666c6163

export type EventClass = 'User' | 'Message' | 'Room' | 'Membership'

// A Prisma transaction, or a raw pg client inside a transaction (lib/rooms.ts).
type Publisher = Transaction | pg.ClientBase

// Records model changes in the caller's transaction (a worker's batch in one go: one lock,
// one statement, one NOTIFY); NOTIFY fires on commit. Returns the newest seq. The database function
// (migration event_rooms) stamps each event with its room and readers, from the model's room_id;
// `onlyTo` names the readers instead (a read-marker move: its user's sockets alone).
export async function publishEvents (tx: Publisher, cls: EventClass, models: object[], onlyTo?: number[]): Promise<bigint> {
  const text = 'SELECT publish_events($1::text, $2::jsonb[], $3::bigint, $4::text, $5::int[]) AS seq'
  const values = [cls, models.map((model) => JSON.stringify(model)), PUBLISH_LOCK, EVENTS_CHANNEL, onlyTo ?? null]
  // Sent before the first await either way, so a caller may pipeline COMMIT behind it.
  const rows = '$queryRawUnsafe' in tx
    ? await tx.$queryRawUnsafe<Array<{ seq: bigint | string | null }>>(text, ...values)
    : (await tx.query<{ seq: string | null }>(text, values)).rows
  return BigInt(rows[0].seq ?? 0)
}

export const publishEvent = (tx: Publisher, cls: EventClass, model: object, onlyTo?: number[]): Promise<bigint> =>
  publishEvents(tx, cls, [model], onlyTo)

// Every process caching this user drops it when the change commits.
export async function publishUser (tx: Transaction, user: UserRow): Promise<bigint> {
  await announce(tx, userChanged(user.id))
  return publishEvent(tx, 'User', userJson(user))
}
export const publishMessage = (tx: Transaction, message: MessageRow): Promise<bigint> => publishEvent(tx, 'Message', messageJson(message))

