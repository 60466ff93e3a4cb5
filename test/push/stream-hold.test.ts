import t from 'tap'
import type { EventFrame } from '../../lib/stream/frames'
import type { Subscriber } from '../../lib/stream/stream'
import { waitFor } from '../helper'
import { publish, startTestPush } from './helper'

// Rule: while held (views being checked after a LISTEN outage) the stream delivers nothing, typing
// notices included; once resumed it delivers everything held back, in order, once.
t.test('a held stream delivers nothing until resumed, then all of it', async (t) => {
  const { app } = await startTestPush(t)
  const stream = app.push.stream
  const got: number[] = []
  const notices: string[] = []
  const subscriber: Subscriber = { viewer: null, deliver: (frames: EventFrame[]) => { got.push(...frames.map((f) => f.seq)) }, notify: (d) => { notices.push(d) }, fail: () => {} }
  stream.add(subscriber)
  t.teardown(() => stream.remove(subscriber))
  const first = await publish(app, 'Message', { id: 1 })
  await waitFor(async () => got.includes(first), 10000, 'a live event')

  stream.hold()
  let released = false
  void stream.released().then(() => { released = true })
  const held = [await publish(app, 'Message', { id: 2 }), await publish(app, 'Message', { id: 3 })]
  stream.typing(1, 99, null)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same([got, notices, released], [[first], [], false], 'nothing while held')

  stream.resume()
  await waitFor(async () => got.length === 3, 10000, 'the held events')
  t.same(got, [first, ...held], 'in order, once')
  t.equal(released, true, 'replays waiting on it go on')
})
