import t from 'tap'
import { WebSocket } from 'ws'
import { buildTestApi, createUser } from '../helper'
import { buildTestWorker } from '../worker/helper'
import { TestClient, connect, publish, startTestPush } from './helper'

t.test('bad frames get an error frame and leave the connection (and others) working', async (t) => {
  const { app, url } = await startTestPush(t, { PUSH_FRAMES_PER_SECOND: 1000 })
  const client = await connect(t, url)
  const bystander = await connect(t, url)
  const cases: Array<[unknown, string]> = [
    ['not json', 'Frame is not valid JSON'],
    ['[1,2]', 'Frame must be a JSON object'],
    ['null', 'Frame must be a JSON object'],
    ['"text"', 'Frame must be a JSON object'],
    [{ token: 'x' }, 'Frame must have a string type'],
    [{ type: 42 }, 'Frame must have a string type'],
    [{ type: 'shutdown', token: 'x' }, 'Unknown frame type: shutdown'],
    [{ type: 'ping_user' }, 'A token is required'],
    [{ type: 'ping_user', token: 12 }, 'A token is required'],
    [{ type: 'ping_user', token: 'x'.repeat(5000) }, 'Invalid or expired token'],
    [{ type: 'ping_user', token: 'x', ref: { a: 1 } }, 'ref must be a string of at most 128 characters or a number'],
    [{ type: 'post_message', source: 'hi' }, 'A token is required'],
    [{ type: 'post_message', token: 'nope', source: 'hi' }, 'Invalid or expired token'],
  ]
  for (const [frame, error] of cases) {
    client.send(frame)
    t.same(await client.next(), { type: 'error', error }, JSON.stringify(frame).slice(0, 60))
  }
  client.send({ type: 'nope', token: 'x', ref: 'r1' })
  t.same(await client.next(), { type: 'error', ref: 'r1', error: 'Unknown frame type: nope' }, 'the ref comes back')

  client.ws.send(Buffer.from([1, 2, 3]), { binary: true })
  t.same(await client.next(), { type: 'error', error: 'Binary frames are not supported: send JSON text frames' })

  const seq = await publish(app, 'Message', { id: 1 })
  t.equal((await client.next()).seq, seq, 'still receiving')
  t.equal((await bystander.next()).seq, seq)
  t.same(await bystander.drain(50), [], 'the bystander saw none of it')
})

t.test('an oversized frame closes with 1009; others keep going', async (t) => {
  const { app, url } = await startTestPush(t, { PUSH_MAX_FRAME_BYTES: 1024 })
  const client = await connect(t, url)
  const bystander = await connect(t, url)
  client.send({ type: 'post_message', token: 'x', source: 'y'.repeat(2000) })
  t.equal((await client.closed).code, 1009)
  const seq = await publish(app, 'Message', { id: 2 })
  t.equal((await bystander.next()).seq, seq)
})

t.test('a flood beyond the per-connection rate gets an error, then a 1008 close', async (t) => {
  const { app, url } = await startTestPush(t, { PUSH_FRAMES_PER_SECOND: 5 })
  const client = await connect(t, url)
  const bystander = await connect(t, url)
  // All at once, so no token comes back between them.
  for (let i = 0; i < 55; i++) client.send('[]')
  for (let i = 0; i < 5; i++) t.equal((await client.next()).error, 'Frame must be a JSON object')
  t.same(await client.next(), { type: 'error', error: 'Too many frames: at most 5 per second' })
  t.equal((await client.closed).code, 1008)
  const seq = await publish(app, 'Message', { id: 3 })
  t.equal((await bystander.next()).seq, seq)

  const polite = await connect(t, url)
  for (let i = 0; i < 8; i++) {
    polite.send('[]')
    t.equal((await polite.next()).error, 'Frame must be a JSON object')
    await new Promise((resolve) => setTimeout(resolve, 210))
  }
  t.equal(polite.ws.readyState, WebSocket.OPEN, 'within the rate, never limited')
})

t.test('origin allow-list', async (t) => {
  const { url } = await startTestPush(t, { API_PORT: 5999 })
  const port = new URL(url).port
  await connect(t, url)
  t.pass('no Origin (not a browser): accepted')
  await connect(t, url, { origin: 'http://localhost:5999' })
  await connect(t, url, { origin: 'http://127.0.0.1:5999' })
  await connect(t, url, { origin: `http://127.0.0.1:${port}` })
  t.pass('the api page and the push service own origins: accepted')
  await t.rejects(connect(t, url, { origin: 'http://evil.example' }), /403/)
  await t.rejects(connect(t, url, { origin: 'http://localhost:6000' }), /403/)
  await t.rejects(connect(t, url, { origin: 'null' }), /403/)
  // A page opened by LAN address (HOST=0.0.0.0): the address the socket was reached by.
  await connect(t, url, { origin: 'http://192.168.1.20:5999', host: `192.168.1.20:${port}` })
  await connect(t, url, { origin: `http://[fd00::20]:${port}`, host: `[FD00::20]:${port}` })
  t.pass('the same pages at the Host header\'s address: accepted')
  await t.rejects(connect(t, url, { origin: 'http://192.168.1.20:6000', host: `192.168.1.20:${port}` }), /403/, 'not another port there')
  await t.rejects(connect(t, url, { origin: 'http://evil.example:5999', host: `192.168.1.20:${port}` }), /403/, 'not another host')
  await t.rejects(connect(t, url, { origin: 'http://192.168.1.20:5999' }), /403/, 'not an address the socket was not reached by')
  // DNS rebinding: the attacker's name, pointed at us, arrives as both Origin and Host.
  await t.rejects(connect(t, url, { origin: 'http://rebind.example:5999', host: `rebind.example:${port}` }), /403/, 'not a name from Host')

  const listed = await startTestPush(t, { PUSH_ALLOWED_ORIGINS: 'https://chat.example.com, http://localhost:8080' })
  await connect(t, listed.url, { origin: 'https://chat.example.com' })
  await connect(t, listed.url, { origin: 'http://localhost:8080' })
  await t.rejects(connect(t, listed.url, { origin: 'http://localhost:5000' }), /403/, 'a configured list replaces the defaults')
  const any = await startTestPush(t, { PUSH_ALLOWED_ORIGINS: '*' })
  await connect(t, any.url, { origin: 'http://anything.example' })
})

t.test('post_message goes through the worker; ack with the task, then the message event', async (t) => {
  const api = await buildTestApi(t)
  await buildTestWorker(t)
  const { url } = await startTestPush(t)
  const user = await createUser(api)
  const client = await connect(t, url)

  client.send({ type: 'post_message', token: user.token, source: 'hello *world*!', ref: 'm1' })
  const ack = await client.nextMatching((f) => f.type === 'ack')
  t.match(ack, { type: 'ack', ref: 'm1', task: /^\/api\/tasks\/[0-9a-f-]{36}$/ })
  const event = await client.nextMatching((f) => f.type === 'updated_model' && f.class === 'Message', 10000)
  t.match(event.model, { source: 'hello *world*!', html: 'hello <em>world</em>!', user_id: user.id })
  const task = await api.inject({ method: 'GET', url: ack.task!, headers: { ...user.auth, prefer: 'wait=5' } })
  t.equal(task.statusCode, 201)

  client.send({ type: 'post_message', token: user.token, source: '   ', ref: 'm2' })
  t.match(await client.nextMatching((f) => f.type === 'error'), { ref: 'm2', error: /empty/ })
  client.send({ type: 'post_message', token: user.token, ref: 'm3' })
  t.match(await client.nextMatching((f) => f.type === 'error'), { ref: 'm3', error: /source/ })
  client.send({ type: 'post_message', token: user.token, source: 'no ref' })
  const quiet = await client.nextMatching((f) => f.type === 'updated_model' && f.class === 'Message', 10000)
  t.equal(quiet.model?.source, 'no ref', 'without ref: posted, no ack')
  t.notOk(client.frames.some((f) => f.type === 'ack' && f.ref === undefined))

  const anonymous = new TestClient(new WebSocket(url))
  t.teardown(() => anonymous.ws.terminate())
  await anonymous.opened
  anonymous.send({ type: 'post_message', source: 'sneaky', ref: 1 })
  t.same(await anonymous.next(), { type: 'error', ref: 1, error: 'A token is required' }, 'anonymous clients cannot post')
  const { rows } = await api.pg.query("SELECT 1 FROM tasks WHERE kind = 'post_message'")
  t.equal(rows.length, 2, 'only the valid posts were queued')
})
