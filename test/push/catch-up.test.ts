import t, { type Test } from 'tap'
import { CatchUp, type CatchUpTarget } from '../../services/push/catch-up'
import { SocketWriter } from '../../services/push/socket-writer'
import type { EventFrame } from '../../lib/stream/frames'
import { waitFor } from '../helper'
import { publish, startTestPush } from './helper'
import { FakeSocket } from './fake-socket'

// A catch-up fed by a real instance's stream and database, writing to a fake client.
async function setUp (t: Test, replayMemory?: { frames: number, bytes: number }) {
  const { app } = await startTestPush(t, {}, replayMemory === undefined ? {} : { replayMemory })
  const ctx = app.push.context
  const socket = new FakeSocket()
  const writer = new SocketWriter(socket.ws, ctx.maxBufferBytes, { slow: () => {} })
  let viewer: number | null = null
  let closed = false
  let catchUp: CatchUp | undefined
  const target: CatchUpTarget = {
    writer,
    ctx,
    get viewer () { return viewer },
    viewNow: () => viewer,
    get closed () { return closed },
    deliver: (frames: EventFrame[], wire: Buffer) => catchUp?.deliver(frames, wire),
    fail: () => { closed = true },
  }
  catchUp = new CatchUp(target)
  t.teardown(() => { closed = true; ctx.stream.remove(target) })
  return { app, socket, catchUp, target, setViewer: (v: number | null) => { viewer = v } }
}

const seqs = (socket: FakeSocket): number[] => socket.ofType('updated_model').map((f) => f.seq as number)

for (const [source, memory] of [['memory', undefined], ['database', { frames: 0, bytes: 0 }]] as const) {
  // Rule: after `since`, every event it may see exactly once, in seq order, whatever is published meanwhile.
  t.test(`a replay from ${source} then live frames: no gap, no duplicate, in order`, async (t) => {
    const { app, socket, catchUp } = await setUp(t, memory)
    const published: number[] = []
    for (let i = 0; i < 20; i++) published.push(await publish(app, 'Message', { id: i }))
    await waitFor(async () => app.push.stream.lastSeq >= published[published.length - 1] && true, 10000, 'the stream to see them')
    catchUp.start(published[4])
    const live = (async () => { for (let i = 20; i < 40; i++) published.push(await publish(app, 'Message', { id: i })) })()
    await live
    await waitFor(async () => seqs(socket).length >= 35 && true, 15000, 'every frame after since')
    t.same(seqs(socket), published.slice(5), 'each once, in order')
    t.equal(catchUp.replaying, false, 'live after the replay')
  })
}

t.test('a replay shows a private room\'s events only to its readers', async (t) => {
  const { app, socket, catchUp, setViewer } = await setUp(t, { frames: 0, bytes: 0 })
  const before = await publish(app, 'Message', { id: 0 })
  await app.pg.query(`INSERT INTO events (class, model, readers) VALUES ('Message', '{"id":1}', '{42}'), ('Message', '{"id":2}', '{43}')`)
  const fence = await publish(app, 'Message', { id: 3 })
  setViewer(42)
  catchUp.start(before)
  await waitFor(async () => seqs(socket).includes(fence), 10000, 'the fence')
  t.same(socket.ofType('updated_model').map((f) => (f.model as { id: number }).id), [1, 3], 'its own private event and the public one')
})

t.test('a since beyond the history gets a reset', async (t) => {
  const { socket, catchUp } = await setUp(t, { frames: 0, bytes: 0 })
  catchUp.start(10 ** 12)
  await waitFor(async () => socket.ofType('reset').length === 1, 10000, 'a reset')
  t.pass('reset')
})
