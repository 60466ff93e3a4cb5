import t from 'tap'
import { publishEvent } from '../../lib/queries/events'
import { inTransaction } from '../../lib/db'
import { eventually, listeningBackends } from '../helper'
import { connect, publish, startTestPush, type TestClient } from './helper'

const message = (id: number): object => ({ id, source: `m${id}` })

async function takeEvents (client: TestClient, count: number, ms = 10000): Promise<number[]> {
  const seqs: number[] = []
  while (seqs.length < count) {
    const frame = await client.next(ms)
    if (frame.type !== 'updated_model') throw new Error(`unexpected frame ${JSON.stringify(frame)}`)
    seqs.push(frame.seq as number)
  }
  return seqs
}

t.test('live events arrive in seq order as updated_model frames', async (t) => {
  const { app, url } = await startTestPush(t)
  const client = await connect(t, url)
  const published = [await publish(app, 'Message', message(1)), await publish(app, 'User', { id: 7, nickname: 'n' })]
  const first = await client.next()
  t.same(first, { type: 'updated_model', seq: published[0], class: 'Message', model: { id: 1, source: 'm1' } })
  const second = await client.next()
  t.same(second, { type: 'updated_model', seq: published[1], class: 'User', model: { id: 7, nickname: 'n' } })
  t.same(await client.drain(100), [], 'nothing else')
})

// Replays are served from the instance's memory of recent events when they can be, else from the database.
const DATABASE_ONLY = { replayMemory: { frames: 0, bytes: 0 } }
const replaySources = [['memory first', {}], ['database only', DATABASE_ONLY]] as const

for (const [source, extra] of replaySources) {
  t.test(`since replays what came after it, then live, with no gap and no duplicate (${source})`, async (t) => {
    const { app, url } = await startTestPush(t, {}, extra)
    const seqs: number[] = []
    for (let i = 0; i < 5; i++) seqs.push(await publish(app, 'Message', message(i)))
    const client = await connect(t, url, { since: seqs[1] })
    t.same(await takeEvents(client, 3), seqs.slice(2))
    const live = await publish(app, 'Message', message(5))
    t.same(await takeEvents(client, 1), [live])
    t.same(await client.drain(100), [])

    const upToDate = await connect(t, url, { since: live })
    const next = await publish(app, 'Message', message(6))
    t.same(await takeEvents(upToDate, 1), [next], 'a client already up to date gets only new events')
  })

  t.test(`replay over several pages while events are published concurrently (${source})`, async (t) => {
    const { app, url } = await startTestPush(t, {}, extra)
    // A long history, written directly (no NOTIFY needed for the past).
    await app.pg.query(`INSERT INTO events (class, model) SELECT 'Message', jsonb_build_object('id', i) FROM generate_series(1, 1200) i`)
    const { rows } = await app.pg.query<{ seq: string }>('SELECT min(seq)::text AS seq FROM events')
    const oldest = Number(rows[0].seq)

    let publishing = true
    const publisher = (async () => {
      let n = 0
      while (publishing && n < 400) await publish(app, 'Message', message(10000 + n++))
    })()
    const sinces = [oldest - 1, oldest + 100, oldest + 700, oldest + 1150]
    const clients: Array<{ since: number, client: TestClient }> = []
    for (const since of sinces) {
      clients.push({ since, client: await connect(t, url, { since }) })
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await new Promise((resolve) => setTimeout(resolve, 300))
    publishing = false
    await publisher
    const { rows: all } = await app.pg.query<{ seq: string }>('SELECT e.seq::text AS seq FROM events e ORDER BY e.seq')
    const every = all.map((r) => Number(r.seq))
    for (const { since, client } of clients) {
      const expected = every.filter((seq) => seq > since)
      const got = await takeEvents(client, expected.length)
      t.same(got, expected, `since ${since}: every event after it exactly once, in order`)
      t.same(await client.drain(50), [], `since ${since}: nothing more`)
    }
  })
}

t.test('reset when since is older than what is kept, or from another history', async (t) => {
  // The database's retention is the point here: nothing served from memory.
  const { app, url } = await startTestPush(t, {}, DATABASE_ONLY)
  const seqs: number[] = []
  for (let i = 0; i < 4; i++) seqs.push(await publish(app, 'Message', message(i)))
  // The pruning job removes old events.
  await app.pg.query('DELETE FROM events WHERE seq <= $1', [seqs[1]])

  const kept = await connect(t, url, { since: seqs[1] })
  t.same(await takeEvents(kept, 2), seqs.slice(2), 'nothing after since was pruned: plain replay')

  const stale = await connect(t, url, { since: seqs[0] })
  t.same(await stale.next(), { type: 'reset' })
  const live = await publish(app, 'Message', message(9))
  t.same(await takeEvents(stale, 1), [live], 'live events follow the reset')

  const future = await connect(t, url, { since: live + 1000 })
  t.same(await future.next(), { type: 'reset' }, 'a since beyond anything issued is from another database')
  const after = await publish(app, 'Message', message(10))
  t.same(await takeEvents(future, 1), [after])

  await app.pg.query('DELETE FROM events')
  const emptied = await connect(t, url, { since: seqs[0] })
  t.same(await emptied.next(), { type: 'reset' }, 'everything pruned')
  const current = await connect(t, url, { since: after })
  const last = await publish(app, 'Message', message(11))
  t.same(await takeEvents(current, 1), [last], 'an up-to-date client with an empty log just continues')
})

// After a reset the client reloads, which shows every event committed before the reset: the socket
// then gets only later ones, also when its instance had not yet streamed the earlier ones.
t.test('after a reset, only events committed after it follow, even those the instance had not streamed yet', async (t) => {
  const { app, url } = await startTestPush(t, {}, DATABASE_ONLY)
  const [a, b] = [await publish(app, 'Message', message(1)), await publish(app, 'Message', message(2))]
  // The instance has streamed both: a client at `a` is then behind what it holds, not level with it.
  await eventually(async () => app.push.stream.lastSeq === b)
  // Committed with no NOTIFY yet, as if their notices were still on the way: the stream has not read them.
  for (const id of [3, 4]) await app.pg.query("INSERT INTO events (class, model, readers) VALUES ('Message', $1, NULL)", [JSON.stringify(message(id))])
  await app.pg.query('DELETE FROM events WHERE seq <= $1', [b])
  const stale = await connect(t, url, { since: a })
  t.same(await stale.next(), { type: 'reset' })
  const live = await publish(app, 'Message', message(9))
  t.same(await takeEvents(stale, 1), [live], 'the live event comes first, not the two committed before the reset')
})

t.test('a failed read of new events is retried without waiting for another notification', async (t) => {
  const { app, url } = await startTestPush(t)
  const client = await connect(t, url)
  // The notification goes out while the table is out of reach, so the read it wakes fails.
  const seq = Number(await inTransaction(app.pg, async (client) => {
    const published = await publishEvent(client, 'Message', message(1))
    await client.query('ALTER TABLE events RENAME TO events_away')
    return published
  }))
  await new Promise((resolve) => setTimeout(resolve, 300))
  await app.pg.query('ALTER TABLE events_away RENAME TO events')
  const frame = await client.next(5000)
  t.same([frame.type, frame.seq], ['updated_model', seq])
})

t.test('a push instance holds one LISTEN connection, for events and auth announcements alike', async (t) => {
  const { app, url } = await startTestPush(t)
  await connect(t, url)
  const listening = async (): Promise<number> => (await listeningBackends(app.pg)).length
  // Eventually: an earlier test's instance may take a moment to leave pg_stat_activity.
  await eventually(async () => await listening() === 1)
  t.equal(await listening(), 1)
})

t.test('a malformed since is refused before the upgrade', async (t) => {
  const { url } = await startTestPush(t)
  for (const since of ['abc', '-1', '1.5', '01', '99999999999999999999']) {
    await t.rejects(connect(t, `${url}?since=${encodeURIComponent(since)}`), /400/, since)
  }
})

t.test('a subscriber that throws is dropped and told; the others still get the batch', async (t) => {
  const { app, url } = await startTestPush(t)
  const failures: string[] = []
  // Ahead of the client in delivery order.
  app.push.stream.add({ deliver: () => { throw new Error('subscriber bug') }, fail: (err) => failures.push(err.message) })
  const client = await connect(t, url)
  const first = await publish(app, 'Message', message(1))
  t.same(await takeEvents(client, 1), [first], 'delivered past the failing subscriber')
  t.same(failures, ['subscriber bug'])
  const second = await publish(app, 'Message', message(2))
  t.same(await takeEvents(client, 1), [second])
  t.same(failures, ['subscriber bug'], 'dropped: not called again')
})

t.test('a since within the recent events is replayed from memory, older ones from the database', async (t) => {
  const { app, url } = await startTestPush(t, {}, { replayMemory: { frames: 3, bytes: 1 << 20 } })
  const seqs: number[] = []
  for (let i = 0; i < 5; i++) seqs.push(await publish(app, 'Message', message(i)))
  await eventually(async () => app.push.stream.lastSeq === seqs[4])
  // With the table out of reach, only memory can answer.
  await app.pg.query('ALTER TABLE events RENAME TO events_away')
  const recent = await connect(t, url, { since: seqs[1] })
  t.same(await takeEvents(recent, 3), seqs.slice(2), 'the last three, from memory')
  const older = await connect(t, url, { since: seqs[0] })
  t.equal((await older.closed).code, 1011, 'older than memory: the database was asked, and failed')
  await app.pg.query('ALTER TABLE events_away RENAME TO events')
  const again = await connect(t, url, { since: seqs[0] })
  t.same(await takeEvents(again, 4), seqs.slice(1), 'and answers once it can')
})
