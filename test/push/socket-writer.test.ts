import t from 'tap'
import { SocketWriter, POLICY_VIOLATION } from '../../services/push/socket-writer'
import { wireFrames, eventFrame } from '../../lib/stream/frames'
import { waitFor } from '../helper'
import { FakeSocket } from './fake-socket'

const LIMIT = 1000

function writer (): { socket: FakeSocket, writer: SocketWriter, slow: () => number } {
  const socket = new FakeSocket()
  let slow = 0
  return { socket, writer: new SocketWriter(socket.ws, LIMIT, { slow: () => { slow++ } }), slow: () => slow }
}

t.test('writes text and wire frames while the client keeps up', async (t) => {
  const { socket, writer: w } = writer()
  w.write('{"type":"ack","ref":1}')
  w.writeFramed(wireFrames([eventFrame('7', 'Message', '{"id":1}'), eventFrame('8', 'User', '{"id":2}')]))
  t.same(socket.written.map((f) => f.type === 'ack' ? f.ref : f.seq), [1, 7, 8])
  t.equal(socket.closedWith, null)
})

t.test('past the buffer limit the client is closed as slow, and cut a moment later', async (t) => {
  const { socket, writer: w, slow } = writer()
  socket.bufferedAmount = LIMIT + 1
  w.write('{"type":"ack","ref":1}')
  t.same(socket.written, [], 'nothing more is queued')
  t.same(socket.closedWith, { code: POLICY_VIOLATION, reason: 'Send buffer full: reading too slowly' })
  t.equal(slow(), 1)
  w.writeFramed(wireFrames([eventFrame('9', 'Message', '{}')]))
  t.equal(slow(), 1, 'once')
  await waitFor(async () => socket.terminated, 5000, 'the slow client to be cut')
})

t.test('drained waits for the client to take most of its queue, or closes it as slow', async (t) => {
  const { socket, writer: w } = writer()
  socket.bufferedAmount = LIMIT / 2
  const waiting = w.drained(5000)
  setTimeout(() => { socket.bufferedAmount = 0 }, 50)
  t.equal(await waiting, true, 'drained once the queue went down')

  socket.bufferedAmount = LIMIT / 2
  t.equal(await w.drained(50), false, 'never drained')
  t.equal(socket.closedWith?.code, POLICY_VIOLATION)

  const other = writer()
  other.socket.bufferedAmount = LIMIT / 2
  const closing = other.writer.drained(5000)
  other.socket.close(1000, 'bye')
  t.equal(await closing, false, 'a socket closed meanwhile is not waited for')
})
