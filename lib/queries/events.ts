import type { Db } from '../db'

// The events table: every model change, in commit order, for the push services' fan-out and replay.

export const EVENTS_CHANNEL = 'flack_events'
// Serialises publishers so seq order equals commit order: a reader that has seen
// seq N can never later find a committed event below N.
export const PUBLISH_LOCK = 0x666c6163

export type EventClass = 'User' | 'Message' | 'Room' | 'Membership'

// Records model changes in the caller's transaction (a worker's batch in one go: one lock,
// one statement, one NOTIFY); NOTIFY fires on commit. Returns the newest seq. The database function
// (migration event_rooms) stamps each event with its room and readers, from the model's room_id;
// `onlyTo` names the readers instead (a read-marker move: its user's sockets alone).
export async function publishEvents (db: Db, cls: EventClass, models: object[], onlyTo?: number[]): Promise<bigint> {
  // Sent before the first await, so a caller may pipeline COMMIT behind it.
  const { rows } = await db.query<{ seq: string | null }>(
    'SELECT publish_events($1::text, $2::jsonb[], $3::bigint, $4::text, $5::int[]) AS seq',
    [cls, models.map((model) => JSON.stringify(model)), PUBLISH_LOCK, EVENTS_CHANNEL, onlyTo ?? null])
  return BigInt(rows[0].seq ?? 0)
}

export const publishEvent = (db: Db, cls: EventClass, model: object, onlyTo?: number[]): Promise<bigint> =>
  publishEvents(db, cls, [model], onlyTo)

export interface EventRow { seq: string, class: string, model: string, readers: number[] | null }

// Events after `after`, oldest first, at most `limit`: the one read both fan-out and replay use.
export async function eventsAfter (db: Db, after: number, limit: number): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>({
    name: 'push-events-after',
    text: 'SELECT e.seq::text AS seq, e.class, e.model::text AS model, e.readers FROM events e WHERE e.seq > $1 ORDER BY e.seq LIMIT $2',
    values: [after, limit],
  })
  return rows
}

// The newest event committed (0: none): what a read that must not be staler than now waits for.
export async function newestSeq (db: Db): Promise<number> {
  const { rows } = await db.query<{ seq: string | null }>({ name: 'push-newest-event', text: 'SELECT max(seq)::text AS seq FROM events' })
  return Number(rows[0].seq ?? 0)
}

// Where a fresh stream starts: after the newest event committed; and the last seq ever issued, since
// everything up to it (pruned, or still being committed) is not in a memory that starts now.
export async function streamStart (db: Db): Promise<{ newest: number, issued: number }> {
  const { rows } = await db.query<{ newest: string | null, issued: string | null }>({
    name: 'push-stream-start',
    text: `SELECT (SELECT max(seq) FROM events)::text AS newest,
                  pg_sequence_last_value(pg_get_serial_sequence('events', 'seq'))::text AS issued`,
  })
  const newest = Number(rows[0].newest ?? 0)
  return { newest, issued: Math.max(newest, Number(rows[0].issued ?? 0)) }
}

// The oldest seq kept (null: none) and the last seq ever issued (null: none yet).
export async function retainedRange (db: Db): Promise<{ oldest: number | null, issued: number | null }> {
  const { rows } = await db.query<{ oldest: string | null, issued: string | null }>({
    name: 'push-retained-range',
    text: `SELECT (SELECT min(seq) FROM events)::text AS oldest,
                  pg_sequence_last_value(pg_get_serial_sequence('events', 'seq'))::text AS issued`,
  })
  const { oldest, issued } = rows[0]
  return { oldest: oldest === null ? null : Number(oldest), issued: issued === null ? null : Number(issued) }
}

// The newest event created before `seconds` ago: pruning stops there (by seq, so what stays has no holes).
export async function pruneBoundary (db: Db, seconds: number): Promise<string | null> {
  const { rows } = await db.query<{ seq: string }>(
    'SELECT seq FROM events WHERE created_at < now() - make_interval(secs => $1) ORDER BY created_at DESC LIMIT 1', [seconds])
  return rows[0]?.seq ?? null
}

// Deletes up to `batch` events at or before `seq`; returns how many went.
export async function pruneEvents (db: Db, seq: string, batch: number): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= $1 ORDER BY seq LIMIT $2)', [seq, batch])
  return rowCount ?? 0
}
