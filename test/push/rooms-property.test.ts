import t from 'tap'
import { buildTestApi, createUser, eventually, type TestUser } from '../helper'
import { addMember, createRoom, directRoom } from '../rooms/helper'
import { startTestPush, type TestClient } from './helper'
import { framesUntil, postInRoom, roomSeqs, socketAs } from './rooms-helper'

const GENERAL = 1
const USERS = 5
const OPS = 100

// mulberry32: a small seeded PRNG, so a failing sequence can be run again.
function prng (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

// The rule under test: each socket receives exactly the room events its user could read when they
// happened (a member's join and removal included), live on two instances and on replay from memory
// and from the database, over generated sequences of joins, leaves and messages.
for (const seed of [1, 2, 3]) {
  t.test(`seed ${seed}: every socket gets exactly the events its user could read at that moment`, async (t) => {
    const random = prng(seed)
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]
    const api = await buildTestApi(t)
    const a = await startTestPush(t)
    const b = await startTestPush(t)
    const fromDatabase = await startTestPush(t, {}, { replayMemory: { frames: 1, bytes: 1 << 20 } })
    const users: TestUser[] = []
    for (let i = 0; i < USERS; i++) users.push(await createUser(api))
    const [owner] = users
    const privates = [await createRoom(api, owner, 'one', true), await createRoom(api, owner, 'two', true)].map((room) => room.id)
    const open = (await createRoom(api, owner, `open ${seed}`)).id
    const direct = (await directRoom(api, users[1], users[2])).id
    // Who reads each room now (a public room: everyone, anonymous included).
    const members = new Map<number, Set<number>>([
      [privates[0], new Set([owner.id])], [privates[1], new Set([owner.id])], [direct, new Set([users[1].id, users[2].id])], [open, new Set([owner.id])],
    ])
    const rooms = new Set(members.keys())
    const start = Number((await api.pg.query<{ seq: string }>('SELECT max(seq) AS seq FROM events')).rows[0].seq)
    await eventually(async () => a.app.push.stream.lastSeq >= start && b.app.push.stream.lastSeq >= start)

    const live: Array<[TestUser | null, TestClient]> = [[null, await socketAs(t, a.url, null)], [null, await socketAs(t, b.url, null)]]
    for (const [i, user] of users.entries()) live.push([user, await socketAs(t, i % 2 === 0 ? a.url : b.url, user)], [user, await socketAs(t, i % 2 === 0 ? b.url : a.url, user)])

    // Each published event with who may read it, by the model of the test alone.
    const readersOf = new Map<number, Set<number> | 'anyone'>()
    let last = start
    const record = async (readers: Set<number> | 'anyone'): Promise<void> => {
      const { rows } = await api.pg.query<{ seq: string }>('SELECT seq FROM events WHERE room_id = ANY($1) AND seq > $2 ORDER BY seq', [[...rooms], last])
      t.equal(rows.length, 1, 'one event per change')
      for (const row of rows) readersOf.set(Number(row.seq), readers)
      last = Number(rows.at(-1)?.seq ?? last)
    }
    const change = async (method: string, url: string, actor: TestUser): Promise<void> => {
      const res = await api.inject({ method, url, headers: actor.auth })
      if (res.statusCode !== 204) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
    }
    for (let op = 0; op < OPS; op++) {
      const roll = random()
      const room = pick([...privates, open])
      const inside = members.get(room)!
      const outside = users.filter((user) => !inside.has(user.id))
      const leavers = users.filter((user) => user !== owner && inside.has(user.id))
      if (roll < 0.3 && outside.length > 0) {
        const joiner = pick(outside)
        // A private room: any member adds; a public one: only oneself.
        await addMember(api, room === open ? joiner : pick(users.filter((user) => inside.has(user.id))), room, joiner.id)
        inside.add(joiner.id)
        await record(room === open ? 'anyone' : new Set(inside))
      } else if (roll < 0.55 && leavers.length > 0) {
        const leaver = pick(leavers)
        await change('DELETE', `/api/rooms/${room}/members/${leaver.id}`, random() < 0.5 ? leaver : owner)
        // The removal frame goes to the remaining members and the removed one.
        const readers = room === open ? 'anyone' : new Set(inside)
        inside.delete(leaver.id)
        await record(readers)
      } else {
        const where = pick([...privates, open, direct])
        await postInRoom(api.pg, where, pick(users).id, `op ${op}`)
        await record(where === open ? 'anyone' : new Set(members.get(where)))
      }
    }
    const fence = await postInRoom(api.pg, GENERAL, owner.id, 'fence')
    const expected = (user: TestUser | null): number[] => [...readersOf].filter(([, readers]) =>
      readers === 'anyone' || (user !== null && readers.has(user.id))).map(([seq]) => seq)
    t.ok(expected(null).length > 0 && expected(null).length < readersOf.size, 'the sequence mixes public and private events')

    for (const [user, client] of live) {
      t.same(roomSeqs(await framesUntil(client, fence), rooms), expected(user), `live: ${user?.nickname ?? 'anonymous'}`)
    }
    for (const [where, url] of [['memory', a.url], ['database', fromDatabase.url]]) {
      for (const user of [null, ...users]) {
        const client = await socketAs(t, url, null, { since: start, auth: user !== null })
        if (user !== null) client.send({ type: 'ping_user', token: user.token })
        t.same(roomSeqs(await framesUntil(client, fence), rooms), expected(user), `replay from ${where}: ${user?.nickname ?? 'anonymous'}`)
        client.ws.terminate()
      }
    }
  })
}
