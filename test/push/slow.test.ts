import t from 'tap'
import type { Socket } from 'node:net'
import { eventually } from '../helper'
import { connect, publish, startTestPush } from './helper'

t.test('a slow consumer is closed once its buffer passes the limit; a fast one keeps receiving', async (t) => {
  const { app, url } = await startTestPush(t, { PUSH_MAX_BUFFER_BYTES: 65536 })
  const fast = await connect(t, url)
  const slow = await connect(t, url)
  // Stops reading: the kernel buffers fill, then the server's own buffer grows.
  const slowSocket = (slow.ws as unknown as { _socket: Socket })._socket
  slowSocket.pause()
  t.equal(app.push.connections.size, 2)

  const pad = 'x'.repeat(100_000)
  const seqs: number[] = []
  for (let i = 0; i < 150; i++) seqs.push(await publish(app, 'Message', { id: i, pad }))
  const got: number[] = []
  while (got.length < seqs.length) got.push((await fast.next(10000)).seq as number)
  t.same(got, seqs, 'the fast client got every event, in order')

  await eventually(async () => app.push.connections.size === 1, 5000)
  t.pass('the slow client was dropped')
  slowSocket.resume()
  const { code } = await slow.closed
  t.ok(code === 1008 || code === 1006, `closed (${code})`)

  const after = await publish(app, 'Message', { id: 'after' })
  t.equal((await fast.next()).seq, after, 'the fast client is unaffected')
})
