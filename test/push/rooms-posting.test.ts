import t from 'tap'
import { buildTestApi, count, createUser, testPool } from '../helper'
import { buildTestWorker } from '../worker/helper'
import { addMember, createRoom } from '../rooms/helper'
import { connect, startTestPush } from './helper'

const MISSING_ROOM = 2147483647

// post_message takes the REST route's path into rooms: a room the poster may not read is answered
// exactly as one that does not exist, and nothing is queued for it.
t.test('post_message with room_id: members post, an outsider learns nothing and queues nothing', async (t) => {
  const api = await buildTestApi(t)
  await buildTestWorker(t)
  const pool = await testPool(t)
  const { url } = await startTestPush(t)
  const [alice, bob, eve] = [await createUser(api), await createUser(api), await createUser(api)]
  const secret = await createRoom(api, alice, `hideout-${process.pid}`, true)
  await addMember(api, alice, secret.id, bob.id)
  const square = await createRoom(api, alice, `square-${process.pid}`)

  const bobs = await connect(t, url)
  bobs.send({ type: 'post_message', token: bob.token, source: 'in the hideout', room_id: secret.id, ref: 'b1' })
  const ack = await bobs.nextMatching((f) => f.type === 'ack' && f.ref === 'b1')
  const done = await api.inject({ method: 'GET', url: ack.task!, headers: { ...bob.auth, prefer: 'wait=5' } })
  t.equal(done.statusCode, 201, 'a member posts into the private room')
  t.equal(done.json().room_id, secret.id)

  const eves = await connect(t, url)
  const tasks = await count(pool, 'SELECT 1 FROM tasks')
  eves.send({ type: 'post_message', token: eve.token, source: 'let me in', room_id: MISSING_ROOM, ref: 'missing' })
  const missing = await eves.nextMatching((f) => f.type === 'error' && f.ref === 'missing')
  eves.send({ type: 'post_message', token: eve.token, source: 'let me in', room_id: secret.id, ref: 'missing' })
  const refused = await eves.nextMatching((f) => f.type === 'error' && f.ref === 'missing')
  t.same(refused, missing, 'the outsider\'s answer is that of a room that does not exist')
  t.equal(await count(pool, 'SELECT 1 FROM tasks'), tasks, 'and nothing was queued')
  t.equal(await count(pool, 'SELECT 1 FROM memberships WHERE user_id = $1', [eve.id]), 0, 'nor joined')

  for (const bad of [0, -1, 1.5, 'x', null]) {
    eves.send({ type: 'post_message', token: eve.token, source: 'hi', room_id: bad, ref: 'bad' })
    t.match(await eves.nextMatching((f) => f.type === 'error' && f.ref === 'bad'), { error: /room_id/ }, `room_id ${JSON.stringify(bad)}`)
  }

  eves.send({ type: 'post_message', token: eve.token, source: 'hello square', room_id: square.id, ref: 'e1' })
  const joined = await eves.nextMatching((f) => f.type === 'ack' && f.ref === 'e1')
  t.equal((await api.inject({ method: 'GET', url: joined.task!, headers: { ...eve.auth, prefer: 'wait=5' } })).statusCode, 201, 'anyone posts into a public room')
  t.match((await api.inject({ method: 'GET', url: `/api/rooms/${square.id}`, headers: eve.auth })).json(), { member: true, role: 'member' }, 'and has joined it')

  eves.send({ type: 'post_message', token: eve.token, source: 'to general', ref: 'e2' })
  const general = await eves.nextMatching((f) => f.type === 'ack' && f.ref === 'e2')
  t.equal((await api.inject({ method: 'GET', url: general.task!, headers: { ...eve.auth, prefer: 'wait=5' } })).json().room_id, 1, 'without room_id: general, as in Flack')
})

// One post however it travels: the client's key makes a socket post and its REST fallback (sent when
// the socket's acknowledgement was lost) the same task; a bad key, or one used for another message, is refused before anything is queued.
t.test('post_message takes an Idempotency-Key like REST: the same key over the socket and REST is one post', async (t) => {
  const api = await buildTestApi(t)
  const pool = await testPool(t)
  const { url } = await startTestPush(t)
  const alice = await createUser(api)
  const socket = await connect(t, url)
  socket.send({ type: 'post_message', token: alice.token, source: 'sent twice', key: 'draft-7', ref: 's1' })
  const ack = await socket.nextMatching((f) => f.type === 'ack' && f.ref === 's1')
  const rest = await api.inject({ method: 'POST', url: '/api/messages', headers: { ...alice.auth, 'idempotency-key': 'draft-7' }, payload: { source: 'sent twice' } })
  t.equal(rest.headers.location, ack.task, 'the REST retry is the socket post\'s task')
  socket.send({ type: 'post_message', token: alice.token, source: 'sent twice', key: 'draft-7', ref: 's2' })
  t.equal((await socket.nextMatching((f) => f.type === 'ack' && f.ref === 's2')).task, ack.task, 'and so is a socket repeat')
  socket.send({ type: 'post_message', token: alice.token, source: 'bad key', key: 'x'.repeat(129), ref: 's3' })
  t.match(await socket.nextMatching((f) => f.ref === 's3'), { type: 'error', error: /key/ })
  socket.send({ type: 'post_message', token: alice.token, source: 'another message', key: 'draft-7', ref: 's4' })
  t.same(await socket.nextMatching((f) => f.ref === 's4'), { type: 'error', ref: 's4', error: 'Idempotency-Key already used for another message' }, 'the key with another message is refused, as REST\'s 422')
  await buildTestWorker(t)
  t.equal((await api.inject({ method: 'GET', url: ack.task!, headers: { ...alice.auth, prefer: 'wait=5' } })).statusCode, 201)
  t.equal(await count(pool, "SELECT 1 FROM messages WHERE source = 'sent twice'"), 1, 'stored once')
  t.equal(await count(pool, "SELECT 1 FROM tasks"), 1, 'the bad key and the reused one queued nothing')
})
