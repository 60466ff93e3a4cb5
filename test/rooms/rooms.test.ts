import t from 'tap'
import { buildTestApi, createUser, testPool, uniqueNickname } from '../helper'
import { addMember, createRoom, directRoom, insertMessages } from './helper'

const ROOM_FIELDS = ['id', 'name', 'topic', 'kind', 'created_at', 'updated_at', 'created_by', 'member_count', '_links']
const VIEWER_FIELDS = ['member', 'role', 'last_read_id', 'unread']

t.test('a room\'s JSON: the contract\'s fields, and the token user\'s place only with a token', async (t) => {
  const app = await buildTestApi(t)
  const alice = await createUser(app)
  const created = await app.inject({ method: 'POST', url: '/api/rooms', headers: alice.auth, payload: { name: '  Café ☕ team  ', topic: ' daily ' } })
  t.equal(created.statusCode, 201)
  const room = created.json()
  t.equal(created.headers.location, `/api/rooms/${room.id}`)
  t.same(Object.keys(room), [...ROOM_FIELDS, ...VIEWER_FIELDS])
  t.match(room, {
    name: 'Café ☕ team', topic: 'daily', kind: 'public', created_by: alice.id, member_count: 1,
    _links: { self: `/api/rooms/${room.id}`, messages: `/api/rooms/${room.id}/messages`, members: `/api/rooms/${room.id}/members` },
    member: true, role: 'owner', last_read_id: 0, unread: 0,
  })
  t.ok(Number.isInteger(room.created_at) && room.created_at === room.updated_at)
  const anonymous = (await app.inject(`/api/rooms/${room.id}`)).json()
  t.same(Object.keys(anonymous), ROOM_FIELDS, 'anonymous: no viewer fields')

  const general = (await app.inject({ method: 'GET', url: '/api/rooms/1', headers: alice.auth })).json()
  t.match(general, { id: 1, name: 'general', kind: 'public', created_by: null, member_count: 1, member: true, role: 'member', last_read_id: 0 })
  const bob = await createUser(app)
  t.match((await app.inject({ method: 'GET', url: `/api/rooms/${room.id}`, headers: bob.auth })).json(),
    { member: false, role: null, last_read_id: null, unread: null }, 'a non-member of a public room')
  t.equal((await app.inject('/api/rooms/1')).json().member_count, 2, 'every user is in general')
})

t.test('names: trimmed, 1-64 code points, unique among public rooms regardless of case', async (t) => {
  const app = await buildTestApi(t)
  const alice = await createUser(app)
  const post = (payload: object): Promise<{ statusCode: number, json: () => { error?: string } }> =>
    app.inject({ method: 'POST', url: '/api/rooms', headers: alice.auth, payload })
  for (const payload of [{}, { name: '' }, { name: '   ' }, { name: 'x'.repeat(65) }, { name: '😀'.repeat(65) }, { name: 'a\nb' }, { name: 'a\u0000b' }, { name: '\u200b\u200b' },
    { name: 42 }, { name: 'ok', private: 'yes' }, { name: 'ok', extra: 1 }, { name: 'ok', topic: 't'.repeat(251) }, { name: 'General' }, { name: ' GENERAL ' }]) {
    const res = await post(payload)
    t.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 60))
    t.type(res.json().error, 'string')
  }
  t.equal((await post({ name: '😀'.repeat(64) })).statusCode, 201, '64 emoji are 64 characters')
  t.equal((await post({ name: 'Straße' })).statusCode, 201)
  t.equal((await post({ name: 'STRASSE' })).statusCode, 400, 'case-folded: ß is ss')
  t.equal((await post({ name: 'general', private: true })).statusCode, 201, 'a private room may be called general')
  const pool = await testPool(t)
  t.equal((await pool.query('SELECT count(*)::int AS n FROM rooms')).rows[0].n, 4, 'the refused ones made nothing')
})

t.test('PUT /api/rooms/:id: only the owner renames or sets the topic', async (t) => {
  const app = await buildTestApi(t)
  const [alice, bob] = [await createUser(app), await createUser(app)]
  const room = await createRoom(app, alice, 'plans')
  await createRoom(app, alice, 'taken')
  const put = (user: typeof alice, id: number, payload: object): Promise<{ statusCode: number }> =>
    app.inject({ method: 'PUT', url: `/api/rooms/${id}`, headers: user.auth, payload })
  t.equal((await put(bob, room.id, { topic: 'x' })).statusCode, 403, 'not the owner')
  t.equal((await put(alice, 1, { topic: 'x' })).statusCode, 403, 'general has no owner')
  t.equal((await put(alice, room.id, {})).statusCode, 400, 'nothing to change')
  t.equal((await put(alice, room.id, { name: 'TAKEN' })).statusCode, 400, 'a taken name')
  t.equal((await put(alice, room.id, { name: ' Plans 2 ', topic: 'q3' })).statusCode, 204)
  t.match((await app.inject(`/api/rooms/${room.id}`)).json(), { name: 'Plans 2', topic: 'q3' })
  t.equal((await put(alice, room.id, { name: 'plans 2' })).statusCode, 204, 'a room may change its own name\'s case')
  t.equal((await put(alice, 999999, { topic: 'x' })).statusCode, 404)
})

t.test('members: join a public room yourself, add anyone to your private room, a direct room never changes', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const [alice, bob, carol] = [await createUser(app), await createUser(app), await createUser(app)]
  const pub = await createRoom(app, alice, 'open')
  const priv = await createRoom(app, alice, 'closed', true)
  const direct = await directRoom(app, alice, bob)
  const put = async (user: typeof alice, room: number, member: number): Promise<number> =>
    (await app.inject({ method: 'PUT', url: `/api/rooms/${room}/members/${member}`, headers: user.auth })).statusCode
  const del = async (user: typeof alice, room: number, member: number): Promise<number> =>
    (await app.inject({ method: 'DELETE', url: `/api/rooms/${room}/members/${member}`, headers: user.auth })).statusCode

  const [newest] = (await insertMessages(pool, pub.id, alice.id, 3)).slice(-1)
  t.equal(await put(bob, pub.id, bob.id), 204, 'bob joins the public room')
  t.match((await app.inject({ method: 'GET', url: `/api/rooms/${pub.id}`, headers: bob.auth })).json(), { member: true, role: 'member', last_read_id: newest, unread: 0 },
    'a new member\'s marker starts at the newest message')
  await insertMessages(pool, pub.id, alice.id, 2)
  await insertMessages(pool, pub.id, bob.id, 1)
  t.equal((await app.inject({ method: 'GET', url: `/api/rooms/${pub.id}`, headers: bob.auth })).json().unread, 2, 'unread: others\' messages after the marker')
  t.equal(await put(bob, pub.id, bob.id), 204, 'joining again changes nothing')
  t.equal(await put(bob, pub.id, carol.id), 403, 'nobody puts someone else in a public room')
  t.equal(await put(bob, 1, bob.id), 204, 'general: everyone already is a member')
  t.equal(await put(bob, priv.id, bob.id), 404, 'a private room is invisible to a non-member')
  t.equal(await put(alice, priv.id, bob.id), 204, 'alice adds bob')
  t.equal(await put(bob, priv.id, carol.id), 204, 'any member adds anyone')
  t.equal(await put(alice, priv.id, 999999), 404, 'a missing user')
  t.equal(await put(alice, direct.id, carol.id), 403, 'a direct room\'s members never change')
  t.equal(await del(alice, direct.id, alice.id), 403, 'nobody leaves a direct room')
  t.equal(await del(alice, 1, alice.id), 403, 'nobody leaves general')
  t.equal(await del(bob, priv.id, carol.id), 403, 'only the owner removes others')
  t.equal(await del(alice, pub.id, carol.id), 404, 'carol is not a member')
  t.equal(await del(alice, priv.id, carol.id), 204, 'the owner removes carol')
  t.equal(await put(carol, priv.id, carol.id), 404, 'and the room is gone for her')
  t.equal(await del(bob, pub.id, bob.id), 204, 'bob leaves')
  const members = async (room: number): Promise<number[]> =>
    (await app.inject({ method: 'GET', url: `/api/rooms/${room}/members`, headers: alice.auth })).json().users.map((u: { id: number }) => u.id).sort()
  t.same(await members(pub.id), [alice.id])
  t.same(await members(priv.id), [alice.id, bob.id].sort())
  t.same(await members(direct.id), [alice.id, bob.id].sort())
  t.same(await members(1), [alice.id, bob.id, carol.id].sort(), 'general: everyone')
})

t.test('an owner who leaves hands the room to its longest-standing member', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const users = [await createUser(app), await createUser(app), await createUser(app), await createUser(app)]
  const [alice, bob, carol, dave] = users
  for (const isPrivate of [true, false]) {
    const room = await createRoom(app, alice, uniqueNickname('room'), isPrivate)
    // Joined in the order dave, bob, carol (times set apart, so the order is not a tie).
    for (const [i, user] of [dave, bob, carol].entries()) {
      if (isPrivate) await addMember(app, alice, room.id, user.id)
      else t.equal((await app.inject({ method: 'PUT', url: `/api/rooms/${room.id}/members/${user.id}`, headers: user.auth })).statusCode, 204)
      await pool.query("UPDATE memberships SET joined_at = now() - ($3::int * interval '1 minute') WHERE room_id = $1 AND user_id = $2", [room.id, user.id, 10 - i])
    }
    const owner = async (): Promise<number[]> =>
      (await pool.query("SELECT user_id FROM memberships WHERE room_id = $1 AND role = 'owner'", [room.id])).rows.map((r) => r.user_id)
    const leave = async (user: typeof alice): Promise<number> =>
      (await app.inject({ method: 'DELETE', url: `/api/rooms/${room.id}/members/${user.id}`, headers: user.auth })).statusCode
    t.equal(await leave(alice), 204)
    t.same(await owner(), [dave.id], `${isPrivate ? 'private' : 'public'}: dave, the first to join, owns it`)
    t.equal(await leave(bob), 204, 'a member leaves: no change of owner')
    t.same(await owner(), [dave.id])
    t.equal(await leave(dave), 204)
    t.same(await owner(), [carol.id], 'then carol')
    t.equal((await app.inject({ method: 'PUT', url: `/api/rooms/${room.id}`, headers: carol.auth, payload: { topic: 'mine' } })).statusCode, 204, 'who may now change it')
    t.equal(await leave(carol), 204, 'the last one leaves')
    t.same(await owner(), [])
  }
})

t.test('concurrent POST /api/users/:id/direct on two api instances make one room per pair', async (t) => {
  const apps = [await buildTestApi(t), await buildTestApi(t)]
  const pool = await testPool(t)
  const users = [await createUser(apps[0]), await createUser(apps[0]), await createUser(apps[0])]
  const pairs: Array<[number, number]> = [[0, 1], [1, 2], [0, 2], [1, 1]]
  const calls = pairs.flatMap(([a, b], pair) => Array.from({ length: 8 }, (_, i) => ({ pair, from: users[i % 2 === 0 ? a : b], to: users[i % 2 === 0 ? b : a], app: apps[i % 2] })))
  const answers = await Promise.all(calls.map(async (call) => ({ ...call, res: await call.app.inject({ method: 'POST', url: `/api/users/${call.to.id}/direct`, headers: call.from.auth }) })))
  for (const [pair] of pairs.entries()) {
    const mine = answers.filter((a) => a.pair === pair)
    const ids = new Set(mine.map((a) => a.res.json().id))
    t.equal(ids.size, 1, `pair ${pair}: one room`)
    t.same(mine.map((a) => a.res.statusCode).sort(), [200, 200, 200, 200, 200, 200, 200, 201], `pair ${pair}: made once (201), found afterwards (200)`)
    t.match(mine[0].res.json(), { kind: 'direct', name: null, member: true, role: 'member' })
  }
  t.equal((await pool.query("SELECT count(*)::int AS n FROM rooms WHERE kind = 'direct'")).rows[0].n, pairs.length)
  t.same((await pool.query("SELECT m.room_id, count(*)::int AS n FROM memberships m JOIN rooms r ON r.id = m.room_id WHERE r.kind = 'direct' GROUP BY 1 ORDER BY 1")).rows.map((r) => r.n).sort(),
    [1, 2, 2, 2], 'two members, or one for notes to self')
  t.equal((await apps[0].inject({ method: 'POST', url: '/api/users/999999/direct', headers: users[0].auth })).statusCode, 404, 'a missing user')
  await pool.query('DELETE FROM users WHERE id = $1', [users[2].id])
  t.equal((await apps[0].inject({ method: 'POST', url: `/api/users/${users[2].id}/direct`, headers: users[0].auth })).statusCode, 404,
    'a deleted user, though the pair\'s room is left')
})

t.test('GET /api/rooms/:id/messages: the newest page, oldest first', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const alice = await createUser(app)
  const room = await createRoom(app, alice, 'history')
  const ids = await insertMessages(pool, room.id, alice.id, 120)
  await insertMessages(pool, 1, alice.id, 5, 'general')
  await pool.query('UPDATE messages SET deleted = true, edited_at = now() WHERE id = $1', [ids[119]])
  const page = async (query: string): Promise<{ statusCode: number, json: () => { messages: Array<{ id: number }>, _links: object } }> =>
    app.inject(`/api/rooms/${room.id}/messages${query}`)
  const first = (await page('')).json()
  t.same(first.messages.map((m) => m.id), ids.slice(-50), 'default: 50, oldest first')
  t.same(first._links, { older: `/api/rooms/${room.id}/messages?before=${ids[70]}&limit=50` }, 'older messages exist; nothing newer')
  t.same((await page('?limit=100')).json().messages.map((m) => m.id), ids.slice(-100))
  t.same((await page('?limit=1')).json().messages.map((m) => m.id), ids.slice(-1))
  t.match((await page('?limit=1')).json().messages[0], { room_id: room.id, deleted: true, source: '', html: '', edited_at: Number }, 'a deleted message is a tombstone')
  t.match((await page('?limit=2')).json().messages[0], { room_id: room.id, deleted: false, source: 'm119', edited_at: null })
  for (const query of ['?limit=0', '?limit=101', '?limit=x', '?limit=1.5', '?limit=1e2', '?before=3&after=1', '?before=0', '?after=x', '?before=2147483648']) t.equal((await page(query)).statusCode, 400, query)
  t.equal((await app.inject('/api/rooms/999999/messages')).statusCode, 404)
})
