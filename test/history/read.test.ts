import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApi, createUser, eventually, testPool, type TestUser } from '../helper'
import { addMember, createRoom, insertMessages } from '../rooms/helper'
import { startTestPush } from '../push/helper'
import { framesUntil, postInRoom, socketAs } from '../push/rooms-helper'

const GENERAL = 1

const markRead = async (app: FastifyInstance, user: TestUser | null, roomId: number, payload: unknown): Promise<{ statusCode: number, json: () => { error?: string } }> =>
  app.inject({ method: 'PUT', url: `/api/rooms/${roomId}/read`, headers: user?.auth ?? {}, payload: payload as object })

const viewOf = async (app: FastifyInstance, user: TestUser, roomId: number): Promise<{ last_read_id: number | null, unread: number | null }> =>
  (await app.inject({ url: `/api/rooms/${roomId}`, headers: user.auth })).json()

t.test('read markers: members only, messages of that room only, forward only', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const [alice, bob, eve] = [await createUser(app), await createUser(app), await createUser(app)]
  const pub = await createRoom(app, alice, 'open')
  const priv = await createRoom(app, alice, 'closed', true)
  const [p1, p2, p3] = await insertMessages(pool, pub.id, bob.id, 3)
  const [s1] = await insertMessages(pool, priv.id, alice.id, 1)
  const [g1] = await insertMessages(pool, GENERAL, bob.id, 1)
  const markers = async (): Promise<unknown[]> => (await pool.query('SELECT room_id, user_id, last_read_id FROM memberships ORDER BY 1, 2')).rows

  const before = await markers()
  t.equal((await markRead(app, null, pub.id, { message_id: p1 })).statusCode, 401, 'a token is needed')
  t.equal((await markRead(app, eve, pub.id, { message_id: p1 })).statusCode, 403, 'a public room not joined')
  const missing = await markRead(app, eve, 2147483647, { message_id: p1 })
  const outsider = await markRead(app, eve, priv.id, { message_id: s1 })
  t.equal(outsider.statusCode, 404, 'a private room not joined')
  t.same(outsider.json(), missing.json(), 'answered as a missing room')
  for (const payload of [{}, { message_id: s1 }, { message_id: g1 }, { message_id: 2147483647 }, { message_id: 0 }, { message_id: '1' }, { message_id: p1, x: 1 }]) {
    const res = await markRead(app, alice, pub.id, payload)
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.type(res.json().error, 'string')
  }
  t.same(await markers(), before, 'nothing refused changed a marker')

  t.equal((await markRead(app, alice, pub.id, { message_id: p2 })).statusCode, 204)
  t.equal((await viewOf(app, alice, pub.id)).last_read_id, p2)
  t.equal((await markRead(app, alice, pub.id, { message_id: p1 })).statusCode, 204, 'an older id: 204')
  t.equal((await viewOf(app, alice, pub.id)).last_read_id, p2, '... and the marker stays')
  t.equal((await markRead(app, alice, pub.id, { message_id: p3 })).statusCode, 204)
  t.match(await viewOf(app, alice, pub.id), { last_read_id: p3, unread: 0 })

  t.equal((await markRead(app, eve, GENERAL, { message_id: g1 })).statusCode, 204, 'everyone is a member of general')
  t.match(await viewOf(app, eve, GENERAL), { last_read_id: g1, unread: 0 })
  t.equal((await app.inject('/api/rooms/1')).json().member_count, 3, 'general\'s count stays every user')
})

t.test('unread: others\' messages after the marker, not deleted, at most 999, null for a non-member; a joiner starts at the newest', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const [alice, bob, eve] = [await createUser(app), await createUser(app), await createUser(app)]
  const room = await createRoom(app, alice, 'busy')
  await insertMessages(pool, room.id, bob.id, 5)
  await addMember(app, bob, room.id, bob.id)
  t.match(await viewOf(app, bob, room.id), { unread: 0 }, 'a new member starts at the newest message')
  t.match(await viewOf(app, eve, room.id), { last_read_id: null, unread: null }, 'a non-member')
  const ids = await insertMessages(pool, room.id, alice.id, 10)
  await insertMessages(pool, room.id, bob.id, 4)
  t.equal((await viewOf(app, bob, room.id)).unread, 10, 'one\'s own messages are never unread')
  await pool.query('UPDATE messages SET deleted = true WHERE id = ANY($1)', [ids.slice(0, 3)])
  t.equal((await viewOf(app, bob, room.id)).unread, 7, 'deleted ones are not')
  await markRead(app, bob, room.id, { message_id: ids[5] })
  t.equal((await viewOf(app, bob, room.id)).unread, 4)
  await insertMessages(pool, room.id, alice.id, 1200)
  t.equal((await viewOf(app, bob, room.id)).unread, 999, 'capped')
  const listed = (await app.inject({ url: '/api/rooms', headers: bob.auth })).json().rooms.find((r: { id: number }) => r.id === room.id)
  t.equal(listed.unread, 999, 'the list says the same')
})

t.test('a marker move is pushed to that user\'s sockets only', async (t) => {
  const api = await buildTestApi(t)
  const push = await startTestPush(t)
  const [alice, bob] = [await createUser(api), await createUser(api)]
  const room = await createRoom(api, alice, 'devices')
  await addMember(api, bob, room.id, bob.id)
  const start = Number((await api.pg.query<{ seq: string }>('SELECT max(seq) AS seq FROM events')).rows[0].seq)
  await eventually(async () => push.app.push.stream.lastSeq >= start)
  const phone = await socketAs(t, push.url, alice)
  const laptop = await socketAs(t, push.url, alice)
  const others = [await socketAs(t, push.url, bob), await socketAs(t, push.url, null)]

  await postInRoom(api.pg, room.id, bob.id, 'one')
  const seen = await postInRoom(api.pg, room.id, bob.id, 'two')
  const messageId = Number((await api.pg.query('SELECT max(id) AS id FROM messages WHERE room_id = $1', [room.id])).rows[0].id)
  t.equal((await markRead(api, alice, room.id, { message_id: messageId })).statusCode, 204)
  t.equal((await markRead(api, alice, room.id, { message_id: messageId - 1 })).statusCode, 204, 'a no-op publishes nothing')
  // A fence every socket sees: anything for them published before it has arrived by then.
  const fence = await postInRoom(api.pg, room.id, bob.id, 'fence')

  const marker = { class: 'Membership', model: { room_id: room.id, user_id: alice.id, role: 'owner', last_read_id: messageId } }
  for (const socket of [phone, laptop]) {
    const frames = (await framesUntil(socket, fence)).filter((frame) => frame.seq! > seen)
    t.match(frames, [marker, { class: 'Message' }], 'alice\'s sockets: the move once, then the fence')
    t.equal(frames.length, 2)
  }
  for (const socket of others) {
    const frames = await framesUntil(socket, fence)
    t.notOk(frames.some((frame) => frame.class === 'Membership' && frame.model?.user_id === alice.id && frame.model?.last_read_id === messageId),
      'nobody else hears of it')
  }
})
