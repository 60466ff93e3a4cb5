import type pg from 'pg'
import { eventsAfter, retainedRange } from '../queries/events'
import { eventFrame, type EventFrame } from './frames'

export const PAGE_SIZE = 500

// Events after `after`, oldest first, at most `limit`: the one read both fan-out and replay use.
export async function readEventsAfter (pool: pg.Pool, after: number, limit = PAGE_SIZE): Promise<EventFrame[]> {
  const rows = await eventsAfter(pool, after, limit)
  return rows.map((row) => eventFrame(row.seq, row.class, row.model, row.readers))
}

// Whether a client that has seen everything up to `since` can be brought up to date from the
// events kept. Not when an event after `since` was pruned, nor when `since` is from another
// history (beyond anything this database has issued). Sequence gaps left by rolled-back
// transactions can make this answer "reset" needlessly, which costs the client a reload only.
export async function canReplaySince (pool: pg.Pool, since: number): Promise<boolean> {
  const { oldest, issued } = await retainedRange(pool)
  const last = issued ?? 0
  if (since > last) return false
  if (oldest === null) return since >= last
  return since >= oldest - 1
}
