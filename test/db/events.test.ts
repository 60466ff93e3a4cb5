import t from 'tap'
import { createDatabase } from '../../plugins/database'
import { publishEvents } from '../../lib/queries/events'
import { inTransaction } from '../../lib/db'
import { testDatabase } from '../helper'

// Readers take every event after the last seq they saw: a seq drawn by a transaction that
// commits later than a higher one would be skipped. Publishing holds a lock to commit.
t.test('seq order is commit order: a second publisher waits until the first commits', async (t) => {
  const db = createDatabase({ DATABASE_URL: await testDatabase(t), DATABASE_POOL_SIZE: 4 })
  t.teardown(db.close)
  const first = await db.pool.connect()
  await first.query('BEGIN')
  await publishEvents(first, 'Message', [{ first: 1 }, { first: 2 }])
  let secondDone = false
  const second = inTransaction(db.pool, (client) => publishEvents(client, 'Message', [{ second: 1 }]))
    .then(() => { secondDone = true })
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(secondDone, false, 'the second publisher is held while the first is open')
  await first.query('COMMIT')
  first.release()
  await second
  const { rows } = await db.pool.query('SELECT model FROM events ORDER BY seq')
  t.same(rows.map((r) => r.model), [{ first: 1 }, { first: 2 }, { second: 1 }])
})
