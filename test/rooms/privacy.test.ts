import t from 'tap'
import { randomBytes } from 'node:crypto'
import type { InjectOptions } from 'fastify'
import { buildTestApi, createUser, testPool, type TestUser } from '../helper'
import { addMember, createRoom, directRoom, insertMessages } from './helper'

// Two members (alice owns a private room with bob; alice and bob share a direct room) and an
// outsider, eve: to her, on every path, their rooms are exactly as absent as a room that never existed.
t.test('an outsider learns nothing of a private or a direct room, on any rooms path', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const [alice, bob, eve] = [await createUser(app), await createUser(app), await createUser(app)]
  const secretName = `secret-${randomBytes(4).toString('hex')}`
  const secretTopic = `topic-${randomBytes(4).toString('hex')}`
  const privateRoom = await createRoom(app, alice, secretName, true)
  t.equal((await app.inject({ method: 'PUT', url: `/api/rooms/${privateRoom.id}`, headers: alice.auth, payload: { topic: secretTopic } })).statusCode, 204)
  await addMember(app, alice, privateRoom.id, bob.id)
  const direct = await directRoom(app, alice, bob)
  await insertMessages(pool, privateRoom.id, alice.id, 3, `private-${secretName}-`)
  await insertMessages(pool, direct.id, bob.id, 3, `direct-${secretName}-`)
  const missing = 2147483647

  const anonymous = { id: 0, auth: {} } as unknown as TestUser
  const probes = (room: number): Array<[string, InjectOptions['method'], string, TestUser, object?]> => [
    ['the room', 'GET', `/api/rooms/${room}`, eve],
    ['the room, anonymous', 'GET', `/api/rooms/${room}`, anonymous],
    ['a topic change', 'PUT', `/api/rooms/${room}`, eve, { topic: 'mine now' }],
    ['a rename', 'PUT', `/api/rooms/${room}`, eve, { name: 'renamed' }],
    ['a rename to a bad name', 'PUT', `/api/rooms/${room}`, eve, { name: '   ' }],
    ['the members', 'GET', `/api/rooms/${room}/members`, eve],
    ['the members, anonymous', 'GET', `/api/rooms/${room}/members`, anonymous],
    ['joining', 'PUT', `/api/rooms/${room}/members/${eve.id}`, eve],
    ['adding a member', 'PUT', `/api/rooms/${room}/members/${alice.id}`, eve],
    ['adding a missing user', 'PUT', `/api/rooms/${room}/members/${missing}`, eve],
    ['leaving', 'DELETE', `/api/rooms/${room}/members/${eve.id}`, eve],
    ['removing the owner', 'DELETE', `/api/rooms/${room}/members/${alice.id}`, eve],
    ['removing a member', 'DELETE', `/api/rooms/${room}/members/${bob.id}`, eve],
    ['the messages', 'GET', `/api/rooms/${room}/messages`, eve],
    ['a page of messages, anonymous', 'GET', `/api/rooms/${room}/messages?limit=5`, anonymous],
    ['a bad limit', 'GET', `/api/rooms/${room}/messages?limit=0`, eve],
  ]
  const state = async (): Promise<unknown> => ({
    rooms: (await pool.query('SELECT * FROM rooms ORDER BY id')).rows,
    memberships: (await pool.query('SELECT * FROM memberships ORDER BY room_id, user_id')).rows,
  })
  const before = await state()

  const missingAnswers = probes(missing)
  for (const room of [privateRoom, direct]) {
    const answers = probes(room.id)
    for (const [i, [what, method, url, user, payload]] of answers.entries()) {
      const res = await app.inject({ method, url, headers: user.auth, ...(payload === undefined ? {} : { payload }) })
      const [, , missingUrl, missingUser, missingPayload] = missingAnswers[i]
      const absent = await app.inject({ method, url: missingUrl, headers: missingUser.auth, ...(missingPayload === undefined ? {} : { payload: missingPayload }) })
      t.equal(res.statusCode, absent.statusCode, `${room.kind}: ${what} answers as for a missing room (${res.statusCode})`)
      t.ok(res.statusCode === 404 || res.statusCode === 400, `${room.kind}: ${what} is refused`)
      t.equal(res.body, absent.body, `${room.kind}: ${what}: the same body`)
      t.equal(res.headers['content-type'], absent.headers['content-type'], `${room.kind}: ${what}: the same type`)
      t.notMatch(res.body, secretName, `${room.kind}: ${what}: no name`)
    }
  }
  t.same(await state(), before, 'nothing changed')

  for (const user of [eve, anonymous]) {
    const list = await app.inject({ method: 'GET', url: '/api/rooms', headers: user.auth })
    t.equal(list.statusCode, 200)
    const ids = list.json().rooms.map((room: { id: number }) => room.id)
    t.notOk(ids.includes(privateRoom.id) || ids.includes(direct.id), `${user === eve ? 'eve' : 'anonymous'}: neither room is listed`)
    t.notMatch(list.body, secretName, 'no name in the list')
    t.notMatch(list.body, secretTopic, 'no topic in the list')
    for (const url of ['/api/rooms/1/members', '/api/rooms/1/messages', `/api/users/${alice.id}`, '/api/users']) {
      const res = await app.inject({ method: 'GET', url, headers: user.auth })
      t.notMatch(res.body, secretName, `${url}: nothing of the rooms`)
    }
    for (const url of ['/api/messages', `/api/messages?user_id=${bob.id}`, `/api/messages?user_id=${alice.id}`]) {
      const res = await app.inject({ method: 'GET', url, headers: user.auth })
      t.equal(res.statusCode, 200)
      t.notMatch(res.body, secretName, `${url}: nothing of the rooms`)
    }
    const absentMessage = await app.inject({ method: 'GET', url: `/api/messages/${missing}`, headers: user.auth })
    const absentList = await app.inject({ method: 'GET', url: `/api/messages?room_id=${missing}`, headers: user.auth })
    const absentEdit = await app.inject({ method: 'PUT', url: `/api/messages/${missing}`, headers: eve.auth, payload: { source: 'mine now' } })
    for (const room of [privateRoom, direct]) {
      const list = await app.inject({ method: 'GET', url: `/api/messages?room_id=${room.id}`, headers: user.auth })
      t.same([list.statusCode, list.body], [absentList.statusCode, absentList.body], `${room.kind}: its Flack list answers as for a missing room`)
      const ids = (await pool.query<{ id: number }>('SELECT id FROM messages WHERE room_id = $1', [room.id])).rows.map((r) => r.id)
      for (const id of ids) {
        const one = await app.inject({ method: 'GET', url: `/api/messages/${id}`, headers: user.auth })
        t.same([one.statusCode, one.body], [absentMessage.statusCode, absentMessage.body], `${room.kind}: message ${id} answers as a missing one`)
        const edit = await app.inject({ method: 'PUT', url: `/api/messages/${id}`, headers: eve.auth, payload: { source: 'mine now' } })
        t.same([edit.statusCode, edit.body], [absentEdit.statusCode, absentEdit.body], `${room.kind}: editing message ${id} answers as a missing one`)
      }
    }
  }

  // The members see their rooms, with their place in them.
  const seen = async (user: TestUser): Promise<Map<number, { role: string | null, member: boolean }>> =>
    new Map((await app.inject({ method: 'GET', url: '/api/rooms', headers: user.auth })).json().rooms.map((room: { id: number }) => [room.id, room]))
  t.match((await seen(alice)).get(privateRoom.id), { name: secretName, topic: secretTopic, member: true, role: 'owner', member_count: 2 })
  t.match((await seen(bob)).get(privateRoom.id), { member: true, role: 'member' })
  t.match((await seen(bob)).get(direct.id), { name: null, kind: 'direct', member: true, role: 'member', member_count: 2 })
  t.equal((await app.inject({ method: 'GET', url: `/api/rooms/${direct.id}/messages`, headers: alice.auth })).json().messages.length, 3)
  const flackList = await app.inject({ method: 'GET', url: `/api/messages?room_id=${privateRoom.id}`, headers: bob.auth })
  t.equal(flackList.json().messages.length, 3, 'a member reads the Flack list of the room')
  const first = flackList.json().messages[0]
  t.equal((await app.inject({ method: 'GET', url: `/api/messages/${first.id}`, headers: bob.auth })).json().room_id, privateRoom.id, 'and each message')

  // A private room's name blocks no one, so it cannot be found by trying names.
  for (const [name, isPrivate] of [[secretName, false], [secretName.toUpperCase(), false], [secretName, true]] as const) {
    const res = await app.inject({ method: 'POST', url: '/api/rooms', headers: eve.auth, payload: { name, private: isPrivate } })
    t.equal(res.statusCode, isPrivate || name === secretName ? 201 : 400, `eve names a ${isPrivate ? 'private' : 'public'} room ${name}`)
  }
  t.equal((await app.inject({ method: 'PUT', url: `/api/rooms/${privateRoom.id}`, headers: alice.auth, payload: { name: secretName.toUpperCase() } })).statusCode, 204,
    'a private room may share a public room\'s name')

  // The direct room of two others stays theirs: eve asking for hers with alice gets a new one.
  const evesDirect = await app.inject({ method: 'POST', url: `/api/users/${alice.id}/direct`, headers: eve.auth })
  t.equal(evesDirect.statusCode, 201)
  t.not(evesDirect.json().id, direct.id, 'a room of her own')
  t.equal((await app.inject({ method: 'GET', url: `/api/rooms/${direct.id}`, headers: eve.auth })).statusCode, 404, 'alice and bob\'s room still hidden')
})
