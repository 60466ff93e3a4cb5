import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApi, count, createUser, testPool, type TestUser } from '../helper'
import { buildTestWorker } from '../worker/helper'
import { addMember, createRoom } from '../rooms/helper'
import { connect, startTestPush } from '../push/helper'

// Leaving a room is not final for a public one: posting into it joins again (lib/rooms.ts
// enterToPost, on REST and on the socket). A private room left is, to its former member, as
// missing as any other room they may not read.

const WAIT = { prefer: 'wait=10' }
const MISSING_ROOM = 2147483647

const leave = async (app: FastifyInstance, user: TestUser, roomId: number): Promise<void> => {
  const res = await app.inject({ method: 'DELETE', url: `/api/rooms/${roomId}/members/${user.id}`, headers: user.auth })
  if (res.statusCode !== 204) throw new Error(`leave failed: ${res.statusCode} ${res.body}`)
}
const view = async (app: FastifyInstance, user: TestUser, roomId: number) => (await app.inject({ url: `/api/rooms/${roomId}`, headers: user.auth })).json()
const joins = (pool: Awaited<ReturnType<typeof testPool>>, roomId: number, userId: number) =>
  count(pool, "SELECT 1 FROM events WHERE class = 'Membership' AND (model->>'room_id')::int = $1 AND (model->>'user_id')::int = $2 AND model->>'role' = 'member'", [roomId, userId])

t.test('join, leave, post: the post is stored and the poster is a member again (REST and socket)', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  await buildTestWorker(t)
  const { url } = await startTestPush(t)
  const [owner, bob] = [await createUser(app), await createUser(app)]
  const room = await createRoom(app, owner, 'square')

  await addMember(app, bob, room.id, bob.id)
  await leave(app, bob, room.id)
  t.match(await view(app, bob, room.id), { member: false, role: null }, 'left')
  const posted = await app.inject({ method: 'POST', url: `/api/rooms/${room.id}/messages`, headers: { ...bob.auth, ...WAIT }, payload: { source: 'back *again*' } })
  t.equal(posted.statusCode, 201, 'the post is stored')
  t.match(posted.json(), { room_id: room.id, user_id: bob.id, source: 'back *again*', html: 'back <em>again</em>', deleted: false })
  t.match(await view(app, bob, room.id), { member: true, role: 'member', unread: 0 }, 'a member again')
  t.equal(await joins(pool, room.id, bob.id), 2, 'both joins pushed')
  const listed = (await app.inject({ url: `/api/rooms/${room.id}/messages`, headers: bob.auth })).json().messages
  t.same(listed.map((m: { id: number }) => m.id), [posted.json().id], 'in the room\'s history')

  // The same through the socket's post_message.
  await leave(app, bob, room.id)
  const socket = await connect(t, url)
  socket.send({ type: 'post_message', token: bob.token, source: 'and once more', room_id: room.id, ref: 'r' })
  const ack = await socket.nextMatching((frame) => (frame.type === 'ack' || frame.type === 'error') && frame.ref === 'r', 10000)
  t.equal(ack.type, 'ack')
  const done = await app.inject({ url: ack.task!, headers: { ...bob.auth, ...WAIT } })
  t.equal(done.statusCode, 201, 'stored')
  t.equal(done.json().room_id, room.id)
  t.match(await view(app, bob, room.id), { member: true, role: 'member' }, 'a member again')
  t.equal(await count(pool, 'SELECT 1 FROM memberships WHERE room_id = $1 AND user_id = $2', [room.id, bob.id]), 1, 'one membership row')
})

t.test('a private room left cannot be posted into: 404 as for a missing room, nothing queued, not joined', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  await buildTestWorker(t)
  const { url } = await startTestPush(t)
  const [owner, bob] = [await createUser(app), await createUser(app)]
  const room = await createRoom(app, owner, 'hideout', true)
  await addMember(app, owner, room.id, bob.id)
  const before = await app.inject({ method: 'POST', url: `/api/rooms/${room.id}/messages`, headers: { ...bob.auth, ...WAIT }, payload: { source: 'while a member' } })
  t.equal(before.statusCode, 201)
  await leave(app, bob, room.id)

  const tasks = await count(pool, 'SELECT 1 FROM tasks')
  const missing = await app.inject({ method: 'POST', url: `/api/rooms/${MISSING_ROOM}/messages`, headers: bob.auth, payload: { source: 'x' } })
  for (const res of [
    await app.inject({ method: 'POST', url: `/api/rooms/${room.id}/messages`, headers: bob.auth, payload: { source: 'let me back' } }),
    await app.inject({ method: 'POST', url: '/api/messages', headers: { ...bob.auth, ...WAIT }, payload: { source: 'let me back', room_id: room.id } }),
  ]) {
    t.equal(res.statusCode, 404)
    t.same(res.json(), missing.json(), 'a missing room\'s answer')
  }
  const socket = await connect(t, url)
  socket.send({ type: 'post_message', token: bob.token, source: 'x', room_id: MISSING_ROOM, ref: 'missing' })
  const missingFrame = await socket.nextMatching((frame) => frame.ref === 'missing', 10000)
  socket.send({ type: 'post_message', token: bob.token, source: 'let me back', room_id: room.id, ref: 'missing' })
  t.same(await socket.nextMatching((frame) => frame.ref === 'missing', 10000), missingFrame, 'the socket: a missing room\'s error')
  t.equal(await count(pool, 'SELECT 1 FROM tasks'), tasks, 'nothing queued')
  t.match(await view(app, owner, room.id), { member_count: 1 }, 'not joined')
  t.equal(await count(pool, 'SELECT 1 FROM messages WHERE room_id = $1', [room.id]), 1, 'nothing stored')
})
