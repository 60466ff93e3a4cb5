import type pg from 'pg'
import { eventFrame, type EventFrame } from './frames'

export const PAGE_SIZE = 500

interface EventRow { seq: string, class: string, model: string, readers: number[] | null }

// Events after `after`, oldest first, at most `limit`: the one read both fan-out and replay use.
export async function readEventsAfter (pool: pg.Pool, after: number, limit = PAGE_SIZE): Promise<EventFrame[]> {
  const { rows } = await pool.query<EventRow>({
    name: 'push-events-after',
    text: 'SELECT e.seq::text AS seq, e.class, e.model::text AS model, e.readers FROM events e WHERE e.seq > $1 ORDER BY e.seq LIMIT $2',
    values: [after, limit],
  })
  return rows.map((row) => eventFrame(row.seq, row.class, row.model, row.readers))
}

// The newest event a fresh instance starts streaming after.
export async function newestEventSeq (pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ seq: string | null }>('SELECT max(seq)::text AS seq FROM events')
  return rows[0].seq === null ? 0 : Number(rows[0].seq)
}

// Whether a client that has seen everything up to `since` can be brought up to date from the
// events kept. Not when an event after `since` was pruned, nor when `since` is from another
// history (beyond anything this database has issued). Sequence gaps left by rolled-back
// transactions can make this answer "reset" needlessly, which costs the client a reload only.
export async function canReplaySince (pool: pg.Pool, since: number): Promise<boolean> {
  const { rows } = await pool.query<{ oldest: string | null, issued: string | null }>({
    name: 'push-retained-range',
    text: `SELECT (SELECT min(seq) FROM events)::text AS oldest,
                  pg_sequence_last_value(pg_get_serial_sequence('events', 'seq'))::text AS issued`,
  })
  const issued = rows[0].issued === null ? 0 : Number(rows[0].issued)
  if (since > issued) return false
  if (rows[0].oldest === null) return since >= issued
  return since >= Number(rows[0].oldest) - 1
}
