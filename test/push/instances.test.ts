import t from 'tap'
import { buildTestApi, createUser, eventually } from '../helper'
import { buildTestWorker } from '../worker/helper'
import { connect, startTestPush, type TestClient } from './helper'

async function messageSources (client: TestClient, count: number): Promise<{ seqs: number[], sources: string[] }> {
  const seqs: number[] = []
  const sources: string[] = []
  while (sources.length < count) {
    const frame = await client.next(10000)
    if (frame.type !== 'updated_model') continue
    seqs.push(frame.seq as number)
    if (frame.class === 'Message') sources.push(frame.model?.source as string)
  }
  return { seqs, sources }
}

t.test('api, worker and two push instances on one database: every event reaches both, once each, in order', async (t) => {
  const api = await buildTestApi(t)
  await buildTestWorker(t)
  const a = await startTestPush(t)
  const b = await startTestPush(t)
  const user = await createUser(api)
  // The sign-up's events broadcast everywhere first, so no client starts before or after them.
  const { rows: [{ max }] } = await api.pg.query<{ max: string }>('SELECT max(seq) AS max FROM events')
  await eventually(async () => a.app.push.stream.lastSeq >= Number(max) && b.app.push.stream.lastSeq >= Number(max))
  const clients = [await connect(t, a.url), await connect(t, a.url), await connect(t, b.url), await connect(t, b.url)]
  const sources = Array.from({ length: 20 }, (_, i) => `message ${i}`)
  // Posted concurrently: the order is the commit order, the same for everyone.
  await Promise.all(sources.map(async (source) => {
    const res = await api.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload: { source } })
    t.ok(res.statusCode === 202 || res.statusCode === 201, 'accepted')
  }))
  const seen = await Promise.all(clients.map((client) => messageSources(client, sources.length)))
  for (const { seqs, sources: got } of seen) {
    t.same([...got].sort(), [...sources].sort(), 'each message exactly once')
    t.ok(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]), 'in seq order')
    t.same(seqs, seen[0].seqs, 'the same stream on every instance')
  }
  for (const client of clients) t.same((await client.drain(100)).filter((f) => f.class === 'Message'), [], 'no duplicates')
})
