import t from 'tap'
import fc from 'fast-check'
import pg from 'pg'
import type { FastifyInstance } from 'fastify'
import { buildTestApi, count, createUser, testEnv, testPool, waitFor, type TestUser } from '../helper'
import { buildTestWorker } from '../worker/helper'
import { addMember, createRoom, directRoom } from './helper'
import { TASKS_CHANNEL } from '../../lib/tasks'

// Posting into rooms: only readers may post (an outsider's post is a missing room's 404, with
// nothing queued); a public room joins its poster; the worker checks the rule again as it stores
// the message, so a member removed while the post waited cannot post.

const WAIT = { prefer: 'wait=10' }
const POST_JOBS = "SELECT 1 FROM graphile_worker.jobs WHERE task_identifier = 'post_message'"

const taskId = (location: string): string => location.split('/').pop()!

async function post (app: FastifyInstance, user: TestUser | null, roomId: number | null, source: string, viaRoom: boolean, wait = false) {
  const headers = { ...(user === null ? {} : user.auth), ...(wait ? WAIT : {}) }
  return viaRoom && roomId !== null
    ? app.inject({ method: 'POST', url: `/api/rooms/${roomId}/messages`, headers, payload: { source } })
    : app.inject({ method: 'POST', url: '/api/messages', headers, payload: roomId === null ? { source } : { source, room_id: roomId } })
}

async function taskAnswer (app: FastifyInstance, user: TestUser, location: string) {
  return waitFor(async () => {
    const res = await app.inject({ method: 'GET', url: location, headers: { ...user.auth, ...WAIT } })
    return res.statusCode !== 202 && res
  }, 20000, `task ${location}`)
}

t.test('members post into public, private and direct rooms; the messages are stored there and listed there', async (t) => {
  const app = await buildTestApi(t)
  await buildTestWorker(t)
  const [a, b] = [await createUser(app), await createUser(app)]
  const rooms = [await createRoom(app, a, 'pub'), await createRoom(app, a, 'priv', true), await directRoom(app, a, b)]
  await addMember(app, a, rooms[1].id, b.id)
  for (const room of rooms) {
    for (const [user, viaRoom] of [[a, true], [b, false]] as const) {
      const source = `${room.kind} by ${user.nickname} *${viaRoom ? 'route' : 'body'}*`
      const res = await post(app, user, room.id, source, viaRoom, true)
      t.equal(res.statusCode, 201, `${room.kind} via ${viaRoom ? 'route' : 'body'}`)
      const message = res.json()
      t.equal(message.room_id, room.id)
      t.equal(message.user_id, user.id)
      t.equal(message.edited_at, null)
      t.equal(res.headers.location, `/api/messages/${message.id}`)
      const byRoom = await app.inject({ method: 'GET', url: `/api/rooms/${room.id}/messages`, headers: a.auth })
      t.ok(byRoom.json().messages.some((m: { id: number }) => m.id === message.id), 'in the room\'s messages')
      const flack = await app.inject({ method: 'GET', url: `/api/messages?room_id=${room.id}`, headers: b.auth })
      t.ok(flack.json().messages.some((m: { id: number }) => m.id === message.id), 'in the Flack list of the room')
      const general = await app.inject({ method: 'GET', url: '/api/messages', headers: b.auth })
      t.notOk(general.json().messages.some((m: { id: number }) => m.id === message.id), 'not in general')
    }
  }
  // Flack's post (no room) still lands in general.
  const flack = await post(app, b, null, 'to general', false, true)
  t.equal(flack.statusCode, 201)
  t.equal(flack.json().room_id, 1)
  t.equal((await post(app, b, 1, 'to general too', true, true)).json().room_id, 1)
})

t.test('an outsider\'s post into a private or direct room is a missing room\'s 404, and nothing is queued', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const [a, b, outsider] = [await createUser(app), await createUser(app), await createUser(app)]
  const priv = await createRoom(app, a, 'secret', true)
  const direct = await directRoom(app, a, b)
  const missing = 2147483647
  const missingAnswers = [await post(app, outsider, missing, 'x', true), await post(app, outsider, missing, 'x', false)]
  for (const res of missingAnswers) t.equal(res.statusCode, 404)
  const shape = (res: Awaited<ReturnType<typeof post>>) => ({ status: res.statusCode, body: res.body, type: res.headers['content-type'], length: res.headers['content-length'] })
  for (const roomId of [priv.id, direct.id]) {
    for (const viaRoom of [true, false]) {
      for (const wait of [false, true]) {
        const res = await post(app, outsider, roomId, 'let me in', viaRoom, wait)
        t.same(shape(res), shape(missingAnswers[viaRoom ? 0 : 1]), `room ${roomId} via ${viaRoom ? 'route' : 'body'}`)
      }
    }
  }
  t.equal(await count(pool, 'SELECT 1 FROM tasks WHERE user_id = $1', [outsider.id]), 0, 'no task')
  t.equal(await count(pool, POST_JOBS), 0, 'no job')
  t.equal(await count(pool, 'SELECT 1 FROM memberships WHERE user_id = $1', [outsider.id]), 0, 'joined nothing')
  t.equal((await post(app, null, priv.id, 'anonymous', true)).statusCode, 401)
  // Bad input is a 400 whatever the room, so it tells nothing of it either.
  for (const roomId of [priv.id, missing]) {
    t.equal((await post(app, outsider, roomId, '   ', true)).statusCode, 400)
    t.equal((await post(app, outsider, roomId, '   ', false)).statusCode, 400)
  }
  t.equal((await app.inject({ method: 'POST', url: '/api/rooms/0/messages', headers: outsider.auth, payload: { source: 'x' } })).statusCode, 400)
  t.equal((await app.inject({ method: 'POST', url: '/api/messages', headers: outsider.auth, payload: { source: 'x', room_id: 'one' } })).statusCode, 400)
})

t.test('posting into a public room one has not joined joins it', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const [a, b] = [await createUser(app), await createUser(app)]
  const room = await createRoom(app, a, 'open')
  t.equal((await app.inject({ method: 'GET', url: `/api/rooms/${room.id}`, headers: b.auth })).json().member, false)
  const res = await post(app, b, room.id, 'hello', false)
  t.equal(res.statusCode, 202, 'queued (no worker runs)')
  const view = (await app.inject({ method: 'GET', url: `/api/rooms/${room.id}`, headers: b.auth })).json()
  t.equal(view.member, true)
  t.equal(view.role, 'member')
  t.equal(await count(pool, "SELECT 1 FROM events WHERE class = 'Membership' AND (model->>'user_id')::int = $1", [b.id]), 1, 'the join is pushed')
  t.equal((await post(app, b, room.id, 'again', true)).statusCode, 202)
  t.equal(await count(pool, 'SELECT 1 FROM memberships WHERE user_id = $1', [b.id]), 1, 'joined once')
})

t.test('a member removed while the post waited cannot post: the task ends 404 and nothing is stored', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const [a, b] = [await createUser(app), await createUser(app)]
  const room = await createRoom(app, a, 'team', true)
  await addMember(app, a, room.id, b.id)
  const [earlier] = await pool.query<{ id: number }>('INSERT INTO messages (source, html, user_id, room_id) VALUES ($1, $1, $2, $3) RETURNING id', ['before', b.id, room.id]).then((r) => r.rows)
  const posted = await post(app, b, room.id, 'after my removal', true)
  const edited = await app.inject({ method: 'PUT', url: `/api/messages/${earlier.id}`, headers: b.auth, payload: { source: 'edited after removal' } })
  const stays = await post(app, a, room.id, 'the owner still posts', false)
  for (const res of [posted, edited, stays]) t.equal(res.statusCode, 202)
  const removed = await app.inject({ method: 'DELETE', url: `/api/rooms/${room.id}/members/${b.id}`, headers: a.auth })
  t.equal(removed.statusCode, 204)

  // The refusal wakes waiting requests like any other ending.
  const listener = new pg.Client({ connectionString: String((await testEnv(t)).DATABASE_URL) })
  await listener.connect()
  t.teardown(() => listener.end())
  const notified = new Set<string>()
  listener.on('notification', (n) => { if (n.payload !== undefined) notified.add(n.payload) })
  await listener.query(`LISTEN ${TASKS_CHANNEL}`)

  await buildTestWorker(t)
  for (const res of [posted, edited]) {
    const answer = await taskAnswer(app, b, res.headers.location as string)
    t.equal(answer.statusCode, 404)
    t.same(answer.json(), res === posted ? { error: 'Room not found' } : { error: 'Message not found' })
  }
  t.equal((await taskAnswer(app, a, stays.headers.location as string)).statusCode, 201, 'a member of the same batch posts')
  await waitFor(async () => notified.has(taskId(posted.headers.location as string)), 10000, 'the refusal notified')
  const { rows } = await pool.query<{ source: string, user_id: number }>('SELECT source, user_id FROM messages WHERE room_id = $1 ORDER BY id', [room.id])
  t.same(rows.map((r) => r.source), ['before', 'the owner still posts'], 'nothing of the removed member stored, the edit not applied')
  t.equal(await count(pool, "SELECT 1 FROM tasks WHERE user_id = $1 AND status = 'done' AND response_status = 404", [b.id]), 2)
})

t.test('an edit sets edited_at; it is null before', async (t) => {
  const app = await buildTestApi(t)
  await buildTestWorker(t)
  const a = await createUser(app)
  const room = await createRoom(app, a, 'edits', true)
  const posted = await post(app, a, room.id, 'first', true, true)
  t.equal(posted.statusCode, 201)
  const message = posted.json()
  t.equal(message.edited_at, null)
  t.equal((await app.inject({ method: 'GET', url: `/api/messages/${message.id}`, headers: a.auth })).json().edited_at, null)
  const edit = await app.inject({ method: 'PUT', url: `/api/messages/${message.id}`, headers: { ...a.auth, ...WAIT }, payload: { source: 'second' } })
  t.equal(edit.statusCode, 204)
  const after = (await app.inject({ method: 'GET', url: `/api/messages/${message.id}`, headers: a.auth })).json()
  t.equal(after.source, 'second')
  t.equal(after.room_id, room.id)
  t.type(after.edited_at, 'number')
  t.ok(after.edited_at >= message.created_at && after.edited_at === after.updated_at, 'edited when updated')
})

// The property: with every membership change made while posts wait, each post is answered 202
// exactly when its author may read the room then (else 404, nothing queued), and ends 201 in the
// room exactly when its author may still read it as the worker stores it (else 404, nothing stored).
type Step = { type: 'add' | 'remove', user: number } | { type: 'post', user: number, room: 'private' | 'public' | 'direct' | 'missing', viaRoom: boolean }
const USERS = 4 // user 0 owns the private room; users 0 and 1 share the direct room
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ type: fc.constantFrom('add' as const, 'remove' as const), user: fc.integer({ min: 1, max: USERS - 1 }) }),
  fc.record({ type: fc.constant('post' as const), user: fc.nat({ max: USERS - 1 }), room: fc.constantFrom('private' as const, 'private' as const, 'public' as const, 'direct' as const, 'missing' as const), viaRoom: fc.boolean() }),
)

t.test('property: posts follow the read rule when queued and again when stored', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const users: TestUser[] = []
  for (let i = 0; i < USERS; i++) users.push(await createUser(app))
  const direct = await directRoom(app, users[0], users[1])
  let runs = 0
  let refusedByWorker = 0

  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 8, maxLength: 20 }), async (steps) => {
    const priv = await createRoom(app, users[0], `p${runs}`, true)
    const pub = await createRoom(app, users[0], `o${runs++}`)
    const roomIds = { private: priv.id, public: pub.id, direct: direct.id, missing: 2147483647 }
    const members = new Set([0])
    const accepted: Array<{ user: number, room: keyof typeof roomIds, location: string, source: string }> = []
    for (const [i, s] of steps.entries()) {
      if (s.type !== 'post') {
        const res = await app.inject({ method: s.type === 'add' ? 'PUT' : 'DELETE', url: `/api/rooms/${priv.id}/members/${users[s.user].id}`, headers: users[0].auth })
        t.equal(res.statusCode, s.type === 'add' || members.has(s.user) ? 204 : 404)
        if (s.type === 'add') members.add(s.user)
        else members.delete(s.user)
        continue
      }
      const source = `run ${runs} step ${i}`
      const res = await post(app, users[s.user], roomIds[s.room], source, s.viaRoom)
      const readable = s.room === 'public' || (s.room === 'private' && members.has(s.user)) || (s.room === 'direct' && s.user < 2)
      if (res.statusCode !== (readable ? 202 : 404)) throw new Error(`step ${i} ${JSON.stringify(s)}: ${res.statusCode} ${res.body}`)
      if (readable) accepted.push({ user: s.user, room: s.room, location: res.headers.location as string, source })
    }
    const worker = await buildTestWorker(t)
    try {
      for (const p of accepted) {
        const answer = await taskAnswer(app, users[p.user], p.location)
        const stored = p.room !== 'private' || members.has(p.user)
        if (answer.statusCode !== (stored ? 201 : 404)) throw new Error(`${JSON.stringify(p)}: ${answer.statusCode} ${answer.body}`)
        if (stored && answer.json().room_id !== roomIds[p.room]) throw new Error(`${JSON.stringify(p)} stored in room ${answer.json().room_id}`)
        if (!stored) refusedByWorker++
      }
    } finally {
      await worker.close()
    }
    // As a set: the worker runs jobs side by side, so storing order need not be accepting order.
    const { rows } = await pool.query<{ source: string }>('SELECT source FROM messages WHERE source LIKE $1', [`run ${runs} %`])
    const expected = accepted.filter((p) => p.room !== 'private' || members.has(p.user)).map((p) => p.source).sort()
    if (JSON.stringify(rows.map((r) => r.source).sort()) !== JSON.stringify(expected)) throw new Error(`stored ${JSON.stringify(rows)}, expected ${JSON.stringify(expected)}`)
    // Each outsider refused at once left no task behind.
    if (await count(pool, "SELECT 1 FROM tasks WHERE status = 'queued'") !== 0) throw new Error('a task was left queued')
  }), { seed: 20261130, numRuns: 25 })
  t.ok(refusedByWorker > 0, `the worker refused ${refusedByWorker} posts of removed members`)
  t.equal(await count(pool, 'SELECT 1 FROM messages WHERE room_id = $1', [2147483647]), 0)
})

// Removal and storing serialise on the room: a post or an edit stored while its author is being
// removed is published before the removal frame, never after it (the removed user's sockets stop there).
t.test('a removal racing a post and an edit: what is stored comes before the removal', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  await buildTestWorker(t)
  const [a, b] = [await createUser(app), await createUser(app)]
  const stored = { post: 0, edit: 0 }
  for (let i = 0; i < 40; i++) {
    const room = await createRoom(app, a, `race${i}`, true)
    await addMember(app, a, room.id, b.id)
    const { rows: [mine] } = await pool.query<{ id: number }>('INSERT INTO messages (source, html, user_id, room_id) VALUES ($1, $1, $2, $3) RETURNING id', ['mine', b.id, room.id])
    const [posted, edited] = await Promise.all([
      post(app, b, room.id, `race ${i}`, true),
      app.inject({ method: 'PUT', url: `/api/messages/${mine.id}`, headers: b.auth, payload: { source: `edit ${i}` } }),
      new Promise((resolve) => setTimeout(resolve, i % 8)).then(() => app.inject({ method: 'DELETE', url: `/api/rooms/${room.id}/members/${b.id}`, headers: a.auth })),
    ])
    const removal = `SELECT seq FROM events WHERE class = 'Membership' AND (model->>'room_id')::int = ${room.id} AND (model->>'user_id')::int = ${b.id} AND model->>'role' IS NULL`
    for (const [kind, res] of [['post', posted], ['edit', edited]] as const) {
      // Refused at once (404) when the removal came first, else queued.
      if (res.statusCode === 404) continue
      const answer = await taskAnswer(app, b, res.headers.location as string)
      t.ok([201, 204, 404].includes(answer.statusCode), `${kind} ${i}: ${answer.statusCode}`)
      if (answer.statusCode === 404) continue
      stored[kind]++
      const id = kind === 'post' ? answer.json().id : mine.id
      const { rows } = await pool.query<{ message: string, removal: string }>(`SELECT
          (SELECT max(seq) FROM events WHERE class = 'Message' AND (model->>'id')::int = $1) AS message, (${removal}) AS removal`, [id])
      t.ok(Number(rows[0].message) < Number(rows[0].removal), `${kind} ${i}: message event ${rows[0].message} before removal ${rows[0].removal}`)
    }
  }
  t.comment(`stored before their author's removal: ${stored.post} of 40 racing posts, ${stored.edit} of 40 racing edits`)
})
