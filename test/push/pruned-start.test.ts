import t from 'tap'
import { connect, publish, startTestPush } from './helper'

// Rule: a client is replayed from an instance's memory only when the memory holds every event after
// its `since`; an instance that started after the stream was pruned never held the pruned events.
t.test('an instance started after a prune resets a client that missed pruned events, for every since', async (t) => {
  const first = await startTestPush(t)
  const seqs: number[] = []
  for (let i = 0; i < 6; i++) seqs.push(await publish(first.app, 'Message', { id: i + 1, room_id: 1, source: `before ${i}` }))
  await first.app.pg.query('DELETE FROM events')

  const late = await startTestPush(t)
  const after: number[] = []
  for (let i = 0; i < 3; i++) after.push(await publish(late.app, 'Message', { id: 100 + i, room_id: 1, source: `after ${i}` }))
  const newest = after[after.length - 1]
  // Wait until the late instance broadcast them, so its memory holds them.
  const watcher = await connect(t, late.url, { since: seqs[seqs.length - 1] })
  for (const seq of after) t.equal((await watcher.next()).seq, seq, 'caught up from the pruned edge')

  for (const since of [0, ...seqs.slice(0, -1)]) {
    const client = await connect(t, late.url, { since })
    const frame = await client.next()
    t.equal(frame.type, 'reset', `since ${since}: events after it were pruned, so the client must start over (got ${JSON.stringify(frame)})`)
    await client.close()
  }
  const upToDate = await connect(t, late.url, { since: newest })
  t.same(await upToDate.drain(200), [], 'a client with everything gets nothing')
})
