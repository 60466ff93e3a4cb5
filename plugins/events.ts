import fp from 'fastify-plugin'
import type { Transaction } from './database'
import { announce, userChanged } from '../lib/auth-cache'
import { messageJson, userJson, type MessageRow, type UserRow } from '../lib/models'

export const EVENTS_CHANNEL = 'flack_events'
// Serialises publishers so seq order equals commit order: a reader that has seen
// seq N can never later find a committed event below N.
const PUBLISH_LOCK = 0x666c6163

export type EventClass = 'User' | 'Message'

// Records model changes in the caller's transaction (a worker's batch in one go: one lock,
// one insert, one NOTIFY); NOTIFY fires on commit. Returns the newest seq.
export async function publishEvents (tx: Transaction, cls: EventClass, models: object[]): Promise<bigint> {
  // Every event row is joined to the lock's single row, so no seq is drawn before the lock is held.
  const rows = await tx.$queryRawUnsafe<Array<{ seq: bigint }>>(
    `WITH ins AS (
       INSERT INTO events (class, model)
       SELECT $1, m FROM (SELECT pg_advisory_xact_lock($3)) AS publishing, unnest($2::jsonb[]) WITH ORDINALITY AS u(m, n) ORDER BY n
       RETURNING seq)
     SELECT max(seq) AS seq, pg_notify('${EVENTS_CHANNEL}', max(seq)::text)::text AS notified FROM ins`,
    cls, models.map((model) => JSON.stringify(model)), PUBLISH_LOCK)
  return rows[0].seq
}

export const publishEvent = (tx: Transaction, cls: EventClass, model: object): Promise<bigint> => publishEvents(tx, cls, [model])

// Every process caching this user drops it when the change commits.
export async function publishUser (tx: Transaction, user: UserRow): Promise<bigint> {
  await announce(tx, userChanged(user.id))
  return publishEvent(tx, 'User', userJson(user))
}
export const publishMessage = (tx: Transaction, message: MessageRow): Promise<bigint> => publishEvent(tx, 'Message', messageJson(message))

// Decorates nothing: callers import the functions above.
export default fp(async () => {}, { name: 'events', dependencies: ['database'], fastify: '5.x' })
