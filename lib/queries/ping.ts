import type { Db } from '../db'

// Whether the database answers (readiness checks).
export async function ping (db: Db): Promise<void> {
  await db.query('SELECT 1')
}
