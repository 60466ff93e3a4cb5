import t from 'tap'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { buildTestApi, count, createUser, testPool, waitFor } from '../helper'
import { buildTestWorker } from '../worker/helper'

const jobsQueued = "SELECT 1 FROM graphile_worker.jobs WHERE task_identifier IN ('post_message', 'edit_message')"

t.test('POST /api/messages validates before anything is queued', async (t) => {
  const app = await buildTestApi(t, { MESSAGE_MAX_LENGTH: 20 })
  const pool = await testPool(t)
  const user = await createUser(app)
  const before = await count(pool, 'SELECT 1 FROM tasks')
  const jobsBefore = await count(pool, jobsQueued)
  for (const payload of [{}, { source: '' }, { source: '   \n ' }, { source: 42 }, { source: 'x'.repeat(21) }, { source: 'ok', extra: 1 }]) {
    const res = await app.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.type(res.json().error, 'string')
  }
  const anonymous = await app.inject({ method: 'POST', url: '/api/messages', payload: { source: 'hi' } })
  t.equal(anonymous.statusCode, 401)
  t.equal(await count(pool, 'SELECT 1 FROM tasks'), before, 'no task recorded')
  t.equal(await count(pool, jobsQueued), jobsBefore, 'no job queued')
})

t.test('POST answers 202 + Location; the task row and its job are written together', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const user = await createUser(app)
  const res = await app.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload: { source: 'queued only' } })
  t.equal(res.statusCode, 202)
  const location = res.headers.location as string
  t.match(location, /^\/api\/tasks\/[0-9a-f-]{36}$/)
  const taskId = location.split('/').pop()
  t.equal(await count(pool, "SELECT 1 FROM tasks WHERE id = $1 AND status = 'queued'", [taskId]), 1)
  t.equal(await count(pool, 'SELECT 1 FROM graphile_worker.jobs WHERE task_identifier = $1', ['post_message']), 1, 'its one job')
  // No worker is running: the task stays pending.
  const status = await app.inject({ method: 'GET', url: location, headers: user.auth })
  t.equal(status.statusCode, 202)
  t.equal(status.headers.location, location)
  t.equal(status.headers['retry-after'], '1')
})

t.test('the worker creates and renders the message; Prefer: wait answers 201 directly', async (t) => {
  const app = await buildTestApi(t)
  await buildTestWorker(t)
  const pool = await testPool(t)
  const user = await createUser(app)
  const eventsBefore = await count(pool, "SELECT 1 FROM events WHERE class = 'Message'")
  const res = await app.inject({
    method: 'POST', url: '/api/messages', headers: { ...user.auth, prefer: 'wait=5' }, payload: { source: 'hello *world*!' },
  })
  t.equal(res.statusCode, 201)
  t.equal(res.headers['preference-applied'], 'wait=5')
  const message = res.json()
  t.equal(res.headers.location, `/api/messages/${message.id}`)
  t.equal(message.html, 'hello <em>world</em>!')
  t.equal(message.source, 'hello *world*!')
  t.equal(message.user_id, user.id)
  t.same(message._links, { self: `/api/messages/${message.id}`, user: `/api/users/${user.id}` })
  t.equal(await count(pool, "SELECT 1 FROM events WHERE class = 'Message'"), eventsBefore + 1, 'one Message event')

  const got = await app.inject({ method: 'GET', url: `/api/messages/${message.id}` })
  t.equal(got.statusCode, 200)
  t.same(got.json(), message)
  t.equal((await app.inject({ method: 'GET', url: '/api/messages/999999' })).statusCode, 404)
})

t.test('without Prefer, the task answers its final response once done', async (t) => {
  const app = await buildTestApi(t)
  await buildTestWorker(t)
  const user = await createUser(app)
  const res = await app.inject({ method: 'POST', url: '/api/messages', headers: user.auth, payload: { source: '*hello* world!' } })
  t.equal(res.statusCode, 202)
  t.notOk(res.headers['preference-applied'])
  const final = await waitFor(async () => {
    const status = await app.inject({ method: 'GET', url: res.headers.location as string, headers: user.auth })
    return status.statusCode === 201 ? status : null
  }, 10000, 'the task to finish')
  t.equal(final.json().html, '<em>hello</em> world!')
  t.equal(final.headers.location, `/api/messages/${final.json().id}`)
})

t.test('GET /api/messages: updated_since, user_id, order, 24 h cap', async (t) => {
  const app = await buildTestApi(t)
  await buildTestWorker(t)
  const pool = await testPool(t)
  const alice = await createUser(app)
  const bob = await createUser(app)
  const post = async (who: typeof alice, source: string): Promise<{ id: number, updated_at: number }> =>
    (await app.inject({ method: 'POST', url: '/api/messages', headers: { ...who.auth, prefer: 'wait=5' }, payload: { source } })).json()
  const a1 = await post(alice, 'one')
  const b1 = await post(bob, 'two')
  const a2 = await post(alice, 'three')
  // An old message, beyond the 24 h window, and one a moment in the past.
  await pool.query("UPDATE messages SET updated_at = now() - interval '25 hours' WHERE id = $1", [a1.id])
  await pool.query("UPDATE messages SET updated_at = now() - interval '10 seconds' WHERE id = $1", [b1.id])

  const all = await app.inject({ method: 'GET', url: '/api/messages' })
  t.equal(all.statusCode, 200)
  t.same(all.json().messages.map((m: { id: number }) => m.id), [b1.id, a2.id], 'ordered by updated_at; older than 24 h left out')
  const since0 = await app.inject({ method: 'GET', url: '/api/messages?updated_since=0' })
  t.notOk(since0.json().messages.some((m: { id: number }) => m.id === a1.id), 'updated_since cannot reach past 24 h')
  const recent = await app.inject({ method: 'GET', url: `/api/messages?updated_since=${Math.floor(Date.now() / 1000) - 5}` })
  t.same(recent.json().messages.map((m: { id: number }) => m.id), [a2.id])
  const mine = await app.inject({ method: 'GET', url: `/api/messages?user_id=${alice.id}` })
  t.same(mine.json().messages.map((m: { id: number }) => m.id), [a2.id])
  t.equal((await app.inject({ method: 'GET', url: '/api/messages', headers: { authorization: 'Bearer nope' } })).statusCode, 401)
  t.equal((await app.inject({ method: 'GET', url: '/api/messages?updated_since=abc' })).statusCode, 400)
})

t.test('PUT /api/messages/:id: 404 and 403 at once, else 202 ending in 204', async (t) => {
  const app = await buildTestApi(t)
  await buildTestWorker(t)
  const pool = await testPool(t)
  const alice = await createUser(app)
  const bob = await createUser(app)
  const created = (await app.inject({ method: 'POST', url: '/api/messages', headers: { ...alice.auth, prefer: 'wait=5' }, payload: { source: 'first' } })).json()
  const tasksBefore = await count(pool, 'SELECT 1 FROM tasks')

  t.equal((await app.inject({ method: 'PUT', url: '/api/messages/999999', headers: alice.auth, payload: { source: 'x' } })).statusCode, 404)
  const forbidden = await app.inject({ method: 'PUT', url: `/api/messages/${created.id}`, headers: bob.auth, payload: { source: 'x' } })
  t.equal(forbidden.statusCode, 403)
  t.equal((await app.inject({ method: 'PUT', url: `/api/messages/${created.id}`, headers: alice.auth, payload: { source: ' ' } })).statusCode, 400)
  t.equal((await app.inject({ method: 'PUT', url: `/api/messages/${created.id}`, payload: { source: 'x' } })).statusCode, 401)
  t.equal(await count(pool, 'SELECT 1 FROM tasks'), tasksBefore, 'nothing queued for refused edits')

  const edit = await app.inject({ method: 'PUT', url: `/api/messages/${created.id}`, headers: alice.auth, payload: { source: 'second **edit**' } })
  t.equal(edit.statusCode, 202)
  const location = edit.headers.location as string
  const done = await app.inject({ method: 'GET', url: location, headers: { ...alice.auth, prefer: 'wait=5' } })
  t.equal(done.statusCode, 204)
  t.equal(done.body, '')
  const after = (await app.inject({ method: 'GET', url: `/api/messages/${created.id}` })).json()
  t.equal(after.source, 'second **edit**')
  t.equal(after.html, 'second <strong>edit</strong>')

  const waited = await app.inject({ method: 'PUT', url: `/api/messages/${created.id}`, headers: { ...alice.auth, prefer: 'wait=5' }, payload: { source: 'third' } })
  t.equal(waited.statusCode, 204)
  t.equal(waited.headers['preference-applied'], 'wait=5')
})

t.test('link previews: a follow-up job saves the message again and publishes it', async (t) => {
  let server: Server | undefined
  const page = '<html><head><title>Foo &amp; "bar" <b></title><meta name="description" content="A <page> & more"></head><body>x</body></html>'
  server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(page)
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server!.close(() => resolve())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/page`

  const app = await buildTestApi(t)
  await buildTestWorker(t, { LINK_PREVIEW_ALLOW_PRIVATE: true })
  const pool = await testPool(t)
  const user = await createUser(app)
  const res = await app.inject({ method: 'POST', url: '/api/messages', headers: { ...user.auth, prefer: 'wait=5' }, payload: { source: `hello ${url}!` } })
  t.equal(res.statusCode, 201)
  const base = `hello <a href="${url}" rel="nofollow">${url}</a>!`
  t.equal(res.json().html, base, 'the post answers before the preview')
  const previewed = await waitFor(async () => {
    const got = (await app.inject({ method: 'GET', url: `/api/messages/${res.json().id}` })).json()
    return got.html !== base ? got : null
  }, 10000, 'the preview')
  t.equal(previewed.html, `${base}<blockquote><p><a href="${url}" rel="nofollow">Foo &amp; &quot;bar&quot; &lt;b&gt;</a></p><p>A &lt;page&gt; &amp; more</p></blockquote>`)
  const events = await pool.query("SELECT model FROM events WHERE class = 'Message' AND (model->>'id')::int = $1 ORDER BY seq", [res.json().id])
  t.equal(events.rows.length, 2, 'created, then updated with the preview')
  t.equal(events.rows[1].model.html, previewed.html)
})
