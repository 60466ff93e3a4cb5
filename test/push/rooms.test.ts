import t from 'tap'
import { publishEvent } from '../../lib/queries/events'
import { inTransaction } from '../../lib/db'
import { membershipJson } from '../../lib/models'
import { buildTestApi, createUser, eventually, type TestUser } from '../helper'
import { addMember, createRoom } from '../rooms/helper'
import { startTestPush, type TestClient } from './helper'
import { framesUntil, postInRoom, roomSeqs, socketAs } from './rooms-helper'

const GENERAL = 1

// The seqs of a room's events published after `after`: what one change put on the stream.
async function roomEventsAfter (api: Awaited<ReturnType<typeof buildTestApi>>, roomId: number, after: number): Promise<number[]> {
  const { rows } = await api.pg.query<{ seq: string }>('SELECT seq FROM events WHERE room_id = $1 AND seq > $2 ORDER BY seq', [roomId, after])
  return rows.map((row) => Number(row.seq))
}

t.test('a private room\'s events reach its members on every instance, live and replayed, and never anyone else', async (t) => {
  const api = await buildTestApi(t)
  const a = await startTestPush(t)
  const b = await startTestPush(t)
  // Remembers a single frame: every replay from it reads the database.
  const fromDatabase = await startTestPush(t, {}, { replayMemory: { frames: 1, bytes: 1 << 20 } })
  const [alice, bob, carol, eve] = [await createUser(api), await createUser(api), await createUser(api), await createUser(api)]
  const room = await createRoom(api, alice, 'secret plans', true)
  await addMember(api, alice, room.id, bob.id)
  const start = Number((await api.pg.query<{ seq: string }>('SELECT max(seq) AS seq FROM events')).rows[0].seq)
  // Sockets opened once both instances streamed the setup, so theirs starts after `start`.
  await eventually(async () => a.app.push.stream.lastSeq >= start && b.app.push.stream.lastSeq >= start)

  const live: Array<[string, TestUser | null, TestClient]> = [
    ['alice on a', alice, await socketAs(t, a.url, alice)],
    ['bob on b', bob, await socketAs(t, b.url, bob)],
    ['carol on b, not yet a member', carol, await socketAs(t, b.url, carol)],
    ['eve tied on a', eve, await socketAs(t, a.url, eve)],
    ['eve tied on b', eve, await socketAs(t, b.url, eve)],
    ['anonymous on a', null, await socketAs(t, a.url, null)],
  ]
  const untied = await socketAs(t, b.url, null)

  // Each change, and the seqs it published in the room.
  let last = start
  const step = async (change: () => Promise<unknown>): Promise<number[]> => {
    await change()
    const seqs = await roomEventsAfter(api, room.id, last)
    t.ok(seqs.length > 0, 'the change is an event of the room')
    last = seqs[seqs.length - 1]
    return seqs
  }
  const m1 = await step(() => postInRoom(api.pg, room.id, alice.id, 'secret 1'))
  const carolJoins = await step(() => addMember(api, alice, room.id, carol.id))
  const m2 = await step(() => postInRoom(api.pg, room.id, bob.id, 'secret 2'))
  const bobRemoved = await step(async () => {
    const res = await api.inject({ method: 'DELETE', url: `/api/rooms/${room.id}/members/${bob.id}`, headers: alice.auth })
    t.equal(res.statusCode, 204)
  })
  const m3 = await step(() => postInRoom(api.pg, room.id, alice.id, 'secret 3'))
  const renamed = await step(async () => {
    const res = await api.inject({ method: 'PUT', url: `/api/rooms/${room.id}`, headers: alice.auth, payload: { topic: 'hush' } })
    t.equal(res.statusCode, 204)
  })
  // General's message reaches every socket, as in Flack, and fences what came before it.
  const fence = await postInRoom(api.pg, GENERAL, eve.id, 'in general')

  const expected = new Map<number | null, number[]>([
    [alice.id, [...m1, ...carolJoins, ...m2, ...bobRemoved, ...m3, ...renamed]],
    [bob.id, [...m1, ...carolJoins, ...m2, ...bobRemoved]],
    [carol.id, [...carolJoins, ...m2, ...bobRemoved, ...m3, ...renamed]],
    [eve.id, []],
    [null, []],
  ])
  const rooms = new Set([room.id])
  for (const [name, user, client] of live) {
    const frames = await framesUntil(client, fence)
    t.same(roomSeqs(frames, rooms), expected.get(user?.id ?? null), `${name}: exactly the room's events it may see, live`)
    t.equal(frames.at(-1)?.model?.source, 'in general', `${name}: general's message arrives`)
  }
  t.same(roomSeqs(await framesUntil(untied, fence), rooms), [], 'an untied socket gets nothing of the room')

  for (const [where, url] of [['from memory', a.url], ['from the database', fromDatabase.url]]) {
    for (const user of [alice, bob, carol, eve, null]) {
      const client = await socketAs(t, url, null, { since: start, auth: user !== null })
      if (user !== null) client.send({ type: 'ping_user', token: user.token })
      const frames = await framesUntil(client, fence)
      t.same(roomSeqs(frames, rooms), expected.get(user?.id ?? null), `${user?.nickname ?? 'anonymous'}: the same on replay ${where}`)
      const seqs = frames.map((frame) => frame.seq as number)
      t.ok(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]), 'in order, no duplicate')
    }
  }
})

t.test('auth=1: nothing before the first frame, which must be a ping_user with a valid token', async (t) => {
  const api = await buildTestApi(t)
  const push = await startTestPush(t)
  const alice = await createUser(api)
  const room = await createRoom(api, alice, 'private', true)
  const start = Number((await api.pg.query<{ seq: string }>('SELECT max(seq) AS seq FROM events')).rows[0].seq)
  const secret = await postInRoom(api.pg, room.id, alice.id, 'secret')
  const fence = await postInRoom(api.pg, GENERAL, alice.id, 'fence')

  const waiting = await socketAs(t, push.url, null, { since: start, auth: true })
  t.same(await waiting.drain(300), [], 'nothing is sent before the first frame')
  waiting.send({ type: 'ping_user', token: alice.token })
  t.same(roomSeqs(await framesUntil(waiting, fence), new Set([room.id])), [secret], 'then the replay in the user\'s view')

  const wrongFirst = await socketAs(t, push.url, null, { since: start, auth: true })
  wrongFirst.send({ type: 'post_message', token: alice.token, source: 'hi' })
  t.match(await wrongFirst.closed, { code: 1008 }, 'any other first frame closes the socket')
  t.same(wrongFirst.frames.filter((frame) => frame.type === 'updated_model'), [], 'having sent nothing')

  const badToken = await socketAs(t, push.url, null, { since: start, auth: true })
  badToken.send({ type: 'ping_user', token: 'not a token' })
  t.match(await badToken.closed, { code: 1008 }, 'an invalid token closes it')
  t.same(badToken.frames.filter((frame) => frame.type === 'updated_model'), [], 'having sent nothing')
})

t.test('an event published only to its user (a read-marker move) reaches that user\'s sockets alone, even in general', async (t) => {
  const api = await buildTestApi(t)
  const a = await startTestPush(t)
  const b = await startTestPush(t)
  const [alice, bob] = [await createUser(api), await createUser(api)]
  const start = Number((await api.pg.query<{ seq: string }>('SELECT max(seq) AS seq FROM events')).rows[0].seq)
  await eventually(async () => a.app.push.stream.lastSeq >= start && b.app.push.stream.lastSeq >= start)
  const sockets: Array<[TestUser | null, TestClient]> = [
    [alice, await socketAs(t, a.url, alice)], [alice, await socketAs(t, b.url, alice)], [bob, await socketAs(t, b.url, bob)], [null, await socketAs(t, a.url, null)],
  ]
  const marker = Number(await inTransaction(api.pg, (client) =>
    publishEvent(client, 'Membership', membershipJson({ roomId: GENERAL, userId: alice.id, role: 'member', lastReadId: 5 }), [alice.id])))
  const fence = await postInRoom(api.pg, GENERAL, bob.id, 'fence')
  for (const [user, client] of sockets) {
    t.same(roomSeqs(await framesUntil(client, fence), new Set([GENERAL])).filter((seq) => seq !== fence), user === alice ? [marker] : [],
      `${user?.nickname ?? 'anonymous'}: ${user === alice ? 'gets it on every instance' : 'never gets it'}`)
  }
  for (const [user, url] of [[alice, a.url], [bob, b.url]] as const) {
    const replayed = await socketAs(t, url, null, { since: start, auth: true })
    replayed.send({ type: 'ping_user', token: user.token })
    t.same(roomSeqs(await framesUntil(replayed, fence), new Set([GENERAL])).filter((seq) => seq !== fence), user === alice ? [marker] : [], 'the same on replay')
  }
})

t.test('a ping_user with another user\'s token moves the socket to that user\'s view at once', async (t) => {
  const api = await buildTestApi(t)
  const push = await startTestPush(t)
  const [alice, eve] = [await createUser(api), await createUser(api)]
  const room = await createRoom(api, alice, 'alice only', true)
  const start = Number((await api.pg.query<{ seq: string }>('SELECT max(seq) AS seq FROM events')).rows[0].seq)
  await eventually(async () => push.app.push.stream.lastSeq >= start)
  const socket = await socketAs(t, push.url, alice)
  const seen = await postInRoom(api.pg, room.id, alice.id, 'seen')
  const firstFence = await postInRoom(api.pg, GENERAL, alice.id, 'first fence')
  t.same(roomSeqs(await framesUntil(socket, firstFence), new Set([room.id])), [seen], 'alice\'s view')
  socket.send({ type: 'ping_user', token: eve.token, ref: 'moved' })
  await socket.nextMatching((frame) => frame.type === 'ack' && frame.ref === 'moved')
  await postInRoom(api.pg, room.id, alice.id, 'not for eve')
  const fence = await postInRoom(api.pg, GENERAL, alice.id, 'fence')
  t.same(roomSeqs(await framesUntil(socket, fence), new Set([room.id])), [], 'eve\'s view from then on')
})
