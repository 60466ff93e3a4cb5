import t from 'tap'
import type pg from 'pg'
import type { FastifyInstance } from 'fastify'
import { buildTestApi, count, createUser, eventually, testPool, type TestUser } from '../helper'
import { addMember, createRoom, directRoom, insertMessages } from '../rooms/helper'
import { startTestPush } from '../push/helper'
import { framesUntil, postInRoom, socketAs } from '../push/rooms-helper'

// DELETE /api/messages/:id: the author or the room's owner turns a message into a tombstone,
// everywhere at once: GET, lists, pages, search, unread counts and push (live and on replay).

const GENERAL = 1
const MISSING = 2147483647

const del = (app: FastifyInstance, user: TestUser | null, id: number | string) =>
  app.inject({ method: 'DELETE', url: `/api/messages/${id}`, headers: user?.auth ?? {} })

// Everything a delete could change: the messages (all columns, search text included) and the events.
const snapshot = async (pool: pg.Pool): Promise<unknown> => ({
  messages: (await pool.query('SELECT *, search::text AS search FROM messages ORDER BY id')).rows,
  events: (await pool.query('SELECT seq FROM events ORDER BY seq')).rows,
})

t.test('who may delete: the author and the room\'s owner (204); another reader 403; an outsider as for a missing id (404)', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const [owner, author, reader, outsider] = [await createUser(app), await createUser(app), await createUser(app), await createUser(app)]
  const priv = await createRoom(app, owner, 'team', true)
  const pub = await createRoom(app, owner, 'town')
  await addMember(app, owner, priv.id, author.id)
  await addMember(app, owner, priv.id, reader.id)
  const direct = await directRoom(app, author, reader)
  const [p1, p2, p3, p4] = await insertMessages(pool, priv.id, author.id, 4, 'private ')
  const [o1, o2] = await insertMessages(pool, pub.id, author.id, 2, 'public ')
  const [g1] = await insertMessages(pool, GENERAL, author.id, 1, 'general ')
  const [d1] = await insertMessages(pool, direct.id, author.id, 1, 'direct ')

  const missing = await del(app, outsider, MISSING)
  t.equal(missing.statusCode, 404)
  t.same(missing.json(), { error: 'Message not found' })
  const before = await snapshot(pool)
  const shape = (res: Awaited<ReturnType<typeof del>>) => ({ status: res.statusCode, body: res.body, type: res.headers['content-type'], length: res.headers['content-length'] })
  for (const id of [p1, d1]) t.same(shape(await del(app, outsider, id)), shape(missing), `an outsider's delete of message ${id}: a missing id's answer`)
  for (const id of [p1, o1, g1, d1]) {
    const res = await del(app, reader, id)
    t.equal(res.statusCode, 403, `a reader who is neither author nor owner: message ${id}`)
    t.same(res.json(), { error: 'Only the author or the room\'s owner can delete a message' })
  }
  t.equal((await del(app, outsider, o1)).statusCode, 403, 'a public room\'s message: anyone reads it, so 403')
  t.equal((await del(app, null, p1)).statusCode, 401, 'a token is needed')
  for (const id of ['0', 'x', '1.5', '99999999999']) t.equal((await del(app, author, id)).statusCode, 400, `id ${id}`)
  t.same(await snapshot(pool), before, 'nothing refused changed anything, nor published anything')

  for (const [who, id] of [[author, p1], [owner, p2], [author, o1], [owner, o2], [author, g1], [author, d1]] as const) {
    const res = await del(app, who, id)
    t.equal(res.statusCode, 204, `${who === owner ? 'the owner' : 'the author'} deletes ${id}`)
    t.equal(res.body, '')
  }
  // Deleting a tombstone again: 204 for those allowed, and nothing changes or is pushed.
  const deleted = await snapshot(pool)
  t.equal((await del(app, author, p1)).statusCode, 204, 'again: 204')
  t.equal((await del(app, owner, p1)).statusCode, 204, 'again, by the owner: 204')
  t.equal((await del(app, reader, p1)).statusCode, 403, 'a tombstone is still not the reader\'s to delete')
  t.same(shape(await del(app, outsider, p1)), shape(missing), 'nor visible to an outsider')
  t.same(await snapshot(pool), deleted, 'a repeated delete changes and publishes nothing')
  // An edit of a tombstone is refused at once, as for a message that is gone, with nothing queued.
  const tasksBefore = await count(pool, 'SELECT count(*) FROM tasks')
  for (const id of [p1, o1, g1, d1]) {
    const edit = await app.inject({ method: 'PUT', url: `/api/messages/${id}`, headers: author.auth, payload: { source: 'back' } })
    t.same({ status: edit.statusCode, body: edit.json() }, { status: 404, body: { error: 'Message not found' } }, `editing tombstone ${id}: 404 at once`)
  }
  t.equal(await count(pool, 'SELECT count(*) FROM tasks'), tasksBefore, 'no edit task queued')
  t.same(await snapshot(pool), deleted, 'and nothing changed')

  // An author removed from the private room may no longer read it: as missing as any other message there.
  await app.inject({ method: 'DELETE', url: `/api/rooms/${priv.id}/members/${author.id}`, headers: owner.auth })
  t.same(shape(await del(app, author, p3)), shape(missing), 'a former member: 404')
  t.equal((await del(app, owner, p4)).statusCode, 204, 'the owner still deletes the former member\'s message')
  const { rows } = await pool.query('SELECT id FROM messages WHERE NOT deleted ORDER BY id')
  t.same(rows.map((r) => r.id), [p3], 'exactly the allowed deletes took effect')
})

t.test('a tombstone: GET answers it, lists and pages keep it, search no longer finds it, unread skips it', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const [alice, bob] = [await createUser(app), await createUser(app)]
  const room = await createRoom(app, alice, 'notes', true)
  await addMember(app, alice, room.id, bob.id)
  const [kept, gone] = await insertMessages(pool, room.id, alice.id, 2, 'zanzibar plans ')
  const [flack] = await insertMessages(pool, GENERAL, alice.id, 1, 'zanzibar in general ')
  // Times in the past, so the tombstone's new updated_at is visibly later.
  await pool.query("UPDATE messages SET created_at = now() - interval '1 hour', updated_at = now() - interval '1 hour', edited_at = now() - interval '1 hour' WHERE id = $1", [gone])
  const original = (await app.inject({ url: `/api/messages/${gone}`, headers: bob.auth })).json()
  const search = async (): Promise<number[]> =>
    (await app.inject({ url: '/api/search?q=zanzibar', headers: bob.auth })).json().results.map((r: { message: { id: number } }) => r.message.id)
  const unread = async (): Promise<number> => (await app.inject({ url: `/api/rooms/${room.id}`, headers: bob.auth })).json().unread
  t.same((await search()).sort(), [kept, gone, flack].sort())
  t.equal(await unread(), 2, 'both unread before')

  t.equal((await del(app, alice, gone)).statusCode, 204)
  t.equal((await del(app, alice, flack)).statusCode, 204)
  const tombstone = (await app.inject({ url: `/api/messages/${gone}`, headers: bob.auth }))
  t.equal(tombstone.statusCode, 200, 'GET answers the tombstone')
  const body = tombstone.json()
  t.match(body, { id: gone, deleted: true, source: '', html: '', user_id: alice.id, room_id: room.id, created_at: original.created_at, edited_at: original.edited_at })
  t.ok(body.updated_at > original.updated_at, 'a new updated_at')
  const row = (await pool.query('SELECT source, html, deleted, search::text AS search FROM messages WHERE id = $1', [gone])).rows[0]
  t.same(row, { source: '', html: '', deleted: true, search: '' }, 'the text is gone from the row too, its search words with it')

  const page = (await app.inject({ url: `/api/rooms/${room.id}/messages`, headers: bob.auth })).json().messages
  t.same(page.map((m: { id: number, deleted: boolean }) => [m.id, m.deleted]), [[kept, false], [gone, true]], 'the page keeps it, as a tombstone')
  const since = (await app.inject({ url: `/api/messages?room_id=${room.id}&updated_since=${original.updated_at}`, headers: bob.auth })).json().messages
  t.match(since, [{ id: kept }, { id: gone, deleted: true, source: '', html: '' }], 'a Flack client polling updated_since gets the tombstone, last')
  t.match((await app.inject('/api/messages')).json().messages, [{ id: flack, deleted: true, source: '' }], 'general\'s list too')
  t.same(await search(), [kept], 'search no longer finds it')
  t.equal(await unread(), 1, 'unread skips it')
})

t.test('the tombstone is pushed live to the room\'s readers on every push instance, and replayed; an outsider never sees it', async (t) => {
  const api = await buildTestApi(t)
  const [one, two] = [await startTestPush(t), await startTestPush(t)]
  const [alice, bob, eve] = [await createUser(api), await createUser(api), await createUser(api)]
  const room = await createRoom(api, alice, 'pushed', true)
  await addMember(api, alice, room.id, bob.id)
  const posted = await postInRoom(api.pg, room.id, alice.id, 'soon gone')
  const id = Number((await api.pg.query('SELECT max(id) AS id FROM messages WHERE room_id = $1', [room.id])).rows[0].id)
  await eventually(async () => one.app.push.stream.lastSeq >= posted && two.app.push.stream.lastSeq >= posted)
  const readers = [await socketAs(t, one.url, alice), await socketAs(t, two.url, bob)]
  const others = [await socketAs(t, one.url, eve), await socketAs(t, two.url, null)]

  t.equal((await del(api, bob, id)).statusCode, 403)
  t.equal((await del(api, alice, id)).statusCode, 204)
  // A public fence every socket sees: anything for them published before it has arrived by then.
  const fence = await postInRoom(api.pg, GENERAL, eve.id, 'fence')
  const tombstone = { type: 'updated_model', class: 'Message', model: { id, room_id: room.id, deleted: true, source: '', html: '' } }
  for (const socket of readers) {
    const frames = (await framesUntil(socket, fence)).filter((frame) => frame.class === 'Message' && frame.seq! > posted)
    t.match(frames, [tombstone, { model: { source: 'fence' } }], 'the tombstone arrives live, once')
    t.equal(frames.length, 2)
  }
  for (const socket of others) {
    const frames = await framesUntil(socket, fence)
    t.notOk(frames.some((frame) => frame.model?.room_id === room.id), 'nothing of the private room')
  }
  t.equal((await del(api, alice, id)).statusCode, 204, 'deleted again')
  const replayed = await socketAs(t, two.url, bob, { since: posted, auth: true })
  const replay = (await framesUntil(replayed, fence)).filter((frame) => frame.class === 'Message')
  t.match(replay, [tombstone, { model: { source: 'fence' } }], 'replay: the tombstone, then the fence; the repeated delete published nothing')
  t.equal(replay.length, 2)
})

t.test('deletes at once by the author, the owner, a reader and an outsider: one tombstone, one event, each answered by its rule', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const [owner, author, reader, outsider] = [await createUser(app), await createUser(app), await createUser(app), await createUser(app)]
  const room = await createRoom(app, owner, 'crowd', true)
  await addMember(app, owner, room.id, author.id)
  await addMember(app, owner, room.id, reader.id)
  const ids = await insertMessages(pool, room.id, author.id, 20, 'contested ')
  for (const id of ids) {
    const answers = await Promise.all([author, owner, reader, outsider, author, owner].map((user) => del(app, user, id)))
    t.same(answers.map((res) => res.statusCode), [204, 204, 403, 404, 204, 204], `message ${id}`)
  }
  const { rows } = await pool.query<{ id: number, n: number }>(
    "SELECT (model->>'id')::int AS id, count(*)::int AS n FROM events WHERE class = 'Message' AND (model->>'deleted')::bool GROUP BY 1 ORDER BY 1")
  t.same(rows, ids.map((id) => ({ id, n: 1 })), 'exactly one tombstone event per message')
  t.equal(await count(pool, 'SELECT 1 FROM messages WHERE deleted AND source = \'\' AND html = \'\''), ids.length)
})
