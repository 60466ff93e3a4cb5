import t, { type Test } from 'tap'
import { PushConnection } from '../../services/push/connection'
import { POLICY_VIOLATION } from '../../services/push/socket-writer'
import { buildTestApi, createUser, waitFor } from '../helper'
import { createRoom } from '../rooms/helper'
import { startTestPush } from './helper'
import { FakeSocket, type Written } from './fake-socket'

// A connection of a real instance (its database, stream and presence) to a fake client.
async function setUp (t: Test, overrides = {}) {
  const api = await buildTestApi(t)
  const { app } = await startTestPush(t, overrides)
  const socket = new FakeSocket()
  const connection = new PushConnection(socket.ws, app.push.context)
  t.teardown(() => socket.terminate())
  const answer = async (frame: Record<string, unknown>): Promise<Written> => {
    const ref = `r${Math.random()}`
    socket.receive({ ...frame, ref })
    return waitFor(async () => socket.written.find((f) => f.ref === ref), 10000, `the answer to ${String(frame.type)}`)
  }
  return { api, app, socket, connection, answer }
}

t.test('ping_user ties the socket to its user and gives it the user\'s view; a bad token gets an error', async (t) => {
  const { api, app, connection, answer } = await setUp(t)
  const alice = await createUser(api)
  connection.start(undefined)
  t.match(await answer({ type: 'ping_user', token: 'nope' }), { type: 'error', error: 'Invalid or expired token' })
  t.equal(connection.viewer, null)
  t.match(await answer({ type: 'ping_user', token: alice.token }), { type: 'ack' })
  t.equal(connection.viewer, alice.id)
  t.equal(connection.tie.userId, alice.id)
  t.same(app.push.stream.viewers(), [alice.id])
  t.match(await answer({ type: 'ping_user', token: `${alice.token}x` }), { type: 'error' })
  t.equal(connection.viewer, null, 'a failed ping_user takes the view back')
})

t.test('typing and post_message answer as one lookup says', async (t) => {
  const { api, connection, answer } = await setUp(t)
  const [alice, bob] = [await createUser(api), await createUser(api)]
  const secret = await createRoom(api, bob, `c-${process.pid}`, true)
  connection.start(undefined)
  t.match(await answer({ type: 'typing', token: alice.token, room_id: 1 }), { type: 'ack' })
  t.match(await answer({ type: 'typing', token: alice.token, room_id: secret.id }), { type: 'error', error: 'Room not found' })
  t.match(await answer({ type: 'post_message', token: alice.token, source: 'hi' }), { type: 'ack', task: /^\/api\/tasks\// })
  t.match(await answer({ type: 'post_message', token: alice.token, source: 'hi', room_id: secret.id }), { type: 'error', error: 'Room not found' })
  t.match(await answer({ type: 'post_message', token: alice.token, source: 42 }), { type: 'error' })
})

t.test('with auth=1 the first frame must be a valid ping_user, and the stream starts with it', async (t) => {
  const { api, app, socket, connection, answer } = await setUp(t)
  const alice = await createUser(api)
  connection.start(undefined, true)
  t.equal(connection.awaitingAuth, true)
  t.notOk(app.push.stream.subscribers.has(connection), 'nothing streamed before the ping_user')
  t.match(await answer({ type: 'ping_user', token: alice.token }), { type: 'ack' })
  t.equal(connection.awaitingAuth, false)
  t.ok(app.push.stream.subscribers.has(connection))

  const other = new FakeSocket()
  new PushConnection(other.ws, app.push.context).start(undefined, true)
  other.receive({ type: 'typing', token: alice.token, room_id: 1 })
  t.equal(other.closedWith?.code, POLICY_VIOLATION, 'any other first frame closes it')
  other.finishClose()
  t.equal(socket.closedWith, null)
})

t.test('a flood of frames gets one warning, then the socket is closed', async (t) => {
  const { socket, connection } = await setUp(t, { PUSH_FRAMES_PER_SECOND: 3 })
  connection.start(undefined)
  for (let i = 0; i < 10; i++) socket.receive('not json')
  t.equal(socket.written.filter((f) => typeof f.error === 'string' && f.error.startsWith('Too many frames')).length, 1)
  t.equal(socket.closedWith?.code, POLICY_VIOLATION)
})

t.test('closing lets go of everything: stream, index, presence tie, connection set', async (t) => {
  const { api, app, socket, connection, answer } = await setUp(t)
  const alice = await createUser(api)
  connection.start(undefined)
  await answer({ type: 'ping_user', token: alice.token })
  socket.close(1000, 'bye')
  socket.finishClose()
  t.notOk(app.push.stream.subscribers.has(connection))
  t.same(app.push.stream.viewers(), [])
  t.notOk(app.push.connections.has(connection))
  t.equal(connection.tie.userId, null)
})
