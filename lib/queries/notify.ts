import type { Db } from '../db'

// NOTIFY on a channel: inside a transaction it is delivered on commit, on the pool at once.
export async function notify (db: Db, channel: string, payload: string): Promise<void> {
  await db.query({ name: 'notify', text: 'SELECT pg_notify($1, $2)', values: [channel, payload] })
}
