import type { Db } from '../db'

// graphile-worker's job queue, written from inside our own transactions (its add_job function).

// Queues a job; inside a transaction it exists only if that commits.
export async function addJob (db: Db, identifier: string, payload: object, maxAttempts: number): Promise<void> {
  await db.query({
    name: `add-job-${identifier}`,
    text: 'SELECT graphile_worker.add_job($1::text, $2::json, max_attempts => $3::int)',
    values: [identifier, JSON.stringify(payload), maxAttempts],
  })
}

// One `identifier` job per payload (JSON texts), in one statement. Sent, not awaited first: the
// worker's batch pipelines its COMMIT behind it.
export function addJobs (db: Db, identifier: string, payloads: string[], maxAttempts: number): Promise<unknown> {
  return db.query({
    name: `add-jobs-${identifier}`,
    text: 'SELECT graphile_worker.add_job($1::text, p, max_attempts => $2::int) FROM unnest($3::json[]) AS p',
    values: [identifier, maxAttempts, payloads],
  })
}
