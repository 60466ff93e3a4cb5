import t from 'tap'
import fc from 'fast-check'
import type pg from 'pg'
import type { FastifyInstance } from 'fastify'
import { buildApi } from '../../services/api/app'
import { buildTestApi, createUser, listeningBackends, testPool, waitFor, type TestUser } from '../helper'
import { buildTestWorker } from '../worker/helper'
import { createRoom, insertMessages } from '../rooms/helper'
import { publishEvents } from '../../lib/queries/events'
import { MESSAGE_COLUMNS, messageJson, type MessageRow } from '../../lib/models'
import { ownPostgres } from '../faults/helper'
import { embeddedTestPort } from '../ops/processes'

// The message lists are served from each api instance's memory (services/api/message-cache.ts).

const ids = (res: { json: () => { messages: Array<{ id: number }> } }): number[] => res.json().messages.map((m) => m.id)

// A second instance on the same database whose cache is bypassed: today's answer, from the database.
async function fromDatabase (t: Parameters<typeof buildTestApi>[0]): Promise<FastifyInstance> {
  const app = await buildTestApi(t)
  app.messageCache.room = async () => undefined
  return app
}

// Writes a changed row and its event, as every writer in the system does.
async function change (pool: pg.Pool, sql: string, values: unknown[]): Promise<void> {
  const { rows } = await pool.query<MessageRow>(`${sql} RETURNING ${MESSAGE_COLUMNS}`, values)
  if (rows.length > 0) await publishEvents(pool, 'Message', rows.map(messageJson))
}

t.test('read-your-writes on any instance: a post, an edit and a delete answered on one are listed on the other at once', async (t) => {
  const a = await buildTestApi(t)
  const b = await buildTestApi(t)
  await buildTestWorker(t)
  const alice = await createUser(a)
  const room = await createRoom(a, alice, 'ryw')
  const apps = [a, b]
  for (const app of apps) t.equal((await app.inject(`/api/messages?room_id=${room.id}`)).statusCode, 200, 'cache warm')
  for (let i = 0; i < 30; i++) {
    const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a]
    const posted = await writer.inject({ method: 'POST', url: `/api/rooms/${room.id}/messages`, headers: { ...alice.auth, prefer: 'wait=5' }, payload: { source: `m${i}` } })
    t.equal(posted.statusCode, 201)
    const id = posted.json().id as number
    const list = await reader.inject(`/api/messages?room_id=${room.id}`)
    t.ok(ids(list).includes(id), `post ${i} listed on the other instance`)
    t.equal(ids(await reader.inject(`/api/rooms/${room.id}/messages`)).at(-1), id, `post ${i} on the other instance's newest page`)
    if (i % 3 === 0) {
      const edited = await writer.inject({ method: 'PUT', url: `/api/messages/${id}`, headers: { ...alice.auth, prefer: 'wait=5' }, payload: { source: `edited ${i}` } })
      t.equal(edited.statusCode, 204)
      const after = (await reader.inject(`/api/messages?room_id=${room.id}`)).json().messages.find((m: { id: number }) => m.id === id)
      t.equal(after.source, `edited ${i}`, 'the edit is listed on the other instance')
    }
    if (i % 5 === 0) {
      t.equal((await writer.inject({ method: 'DELETE', url: `/api/messages/${id}`, headers: alice.auth })).statusCode, 204)
      const page = (await reader.inject(`/api/rooms/${room.id}/messages`)).json().messages.find((m: { id: number }) => m.id === id)
      t.equal(page.deleted, true, 'the delete is listed on the other instance')
    }
  }
})

t.test('a private room: 404 exactly as a missing room for outsiders, ETag or not; private caching for members', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const alice = await createUser(app)
  const bob = await createUser(app)
  const secret = await createRoom(app, alice, 'secret', true)
  await insertMessages(pool, secret.id, alice.id, 3)
  const urls = (id: number): string[] => [`/api/messages?room_id=${id}`, `/api/rooms/${id}/messages`]
  for (const [url, missing] of urls(secret.id).map((u, i) => [u, urls(2147483647)[i]])) {
    const mine = await app.inject({ url, headers: alice.auth })
    t.equal(mine.statusCode, 200)
    t.equal(mine.headers['cache-control'], 'private, no-cache', 'a member\'s answer: no shared cache may keep it')
    const etag = String(mine.headers.etag)
    t.equal((await app.inject({ url, headers: { ...alice.auth, 'if-none-match': etag } })).statusCode, 304, 'the member revalidates')
    const gone = await app.inject({ url: missing, headers: bob.auth })
    for (const [who, headers] of [['bob', bob.auth], ['anonymous', {}]] as const) {
      for (const extra of [{}, { 'if-none-match': etag }, { 'if-none-match': '*' }]) {
        const res = await app.inject({ url, headers: { ...headers, ...extra } })
        t.equal(res.statusCode, 404, `${who}: 404`)
        t.equal(res.body, gone.body, `${who}: the same body as a missing room`)
        t.equal(res.headers.etag, undefined, `${who}: no ETag`)
      }
    }
    // A change moves the ETag: the member gets the new list.
    await insertMessages(pool, secret.id, alice.id, 1, 'later')
    const changed = await app.inject({ url, headers: { ...alice.auth, 'if-none-match': etag } })
    t.equal(changed.statusCode, 200)
    t.not(changed.headers.etag, etag)
  }
  const open = await app.inject('/api/messages')
  t.equal(open.headers['cache-control'], 'no-cache', 'a public room to an anonymous caller: revalidated, shareable')
  t.equal((await app.inject({ url: '/api/messages', headers: alice.auth })).headers['cache-control'], 'private, no-cache', 'any answer to a token: private')
  t.equal((await app.inject({ url: '/api/messages', headers: { 'if-none-match': `W/${String(open.headers.etag)}` } })).statusCode, 304, 'weak comparison')
})

// The rule (RFC 9110 §13.1.2): 304 exactly when If-None-Match is * or lists the current ETag, weak or
// strong, anywhere in a comma-separated list; any other tag (an older one, a near miss) gets the list.
t.test('If-None-Match over generated headers: 304 exactly when the current ETag (or *) is listed', async (t) => {
  const app = await buildTestApi(t)
  // Until its memory has caught up with the event stream a list comes from the database: a 200 with no ETag.
  let etag = ''
  await waitFor(async () => (etag = String((await app.inject('/api/messages')).headers.etag ?? '')) !== '', 5000, 'the cache answering')
  const other = fc.oneof(fc.constant('"0"'), fc.constant(etag.slice(0, -1) + 'x"'), fc.string({ minLength: 1, maxLength: 8 }).map((s) => `"${s.replace(/[",]/g, '')}"`))
  const tag = fc.record({ current: fc.boolean(), weak: fc.boolean(), pad: fc.constantFrom('', ' ', '  ') })
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(tag, other), { minLength: 1, maxLength: 4 }), fc.boolean(), async (tags, star) => {
    const header = star ? '*' : tags.map(([t, o]) => `${t.pad}${t.weak ? 'W/' : ''}${t.current ? etag : o}${t.pad}`).join(',')
    const expected = star || tags.some(([t]) => t.current) ? 304 : 200
    const res = await app.inject({ url: '/api/messages', headers: { 'if-none-match': header } })
    if (res.statusCode !== expected) throw new Error(`${header}: ${res.statusCode}, expected ${expected}`)
  }), { numRuns: 200 })
  t.pass('200 generated headers')
})

t.test('the 24 h window holds with no event: a message drops out when it ages past it', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const alice = await createUser(app)
  const [old, fresh] = await insertMessages(pool, 1, alice.id, 2)
  await change(pool, "UPDATE messages SET updated_at = now() - interval '24 hours' + interval '3 seconds' WHERE id = $1", [old])
  t.same(ids(await app.inject('/api/messages')), [old, fresh], 'both inside the window')
  await waitFor(async () => !ids(await app.inject('/api/messages')).includes(old), 10000, 'the old message to drop out')
  t.same(ids(await app.inject('/api/messages')), [fresh])
  t.same(ids(await app.inject('/api/rooms/1/messages')), [old, fresh], 'the newest page keeps it: pages are not limited to 24 h')
})

t.test('after the LISTEN connection drops, lists are still current and the cache resyncs', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const alice = await createUser(app)
  const [first] = await insertMessages(pool, 1, alice.id, 1)
  t.same(ids(await app.inject('/api/messages')), [first])
  const listeners = await listeningBackends(pool)
  await pool.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [listeners])
  const [second] = await insertMessages(pool, 1, alice.id, 1)
  t.same(ids(await app.inject('/api/messages')), [first, second], 'listed while the listener is down')
  await waitFor(async () => (await listeningBackends(pool)).some((pid) => !listeners.includes(pid)), 10000, 'the listener back')
  const [third] = await insertMessages(pool, 1, alice.id, 1)
  t.same(ids(await app.inject('/api/messages')), [first, second, third], 'and after it is back')
})

t.test('a database restart: the cache serves nothing stale and recovers', async (t) => {
  const db = await ownPostgres(t, embeddedTestPort(5), 'flack_list_cache_restart')
  const app = await buildApi({ env: { ...db.env, LOG_LEVEL: 'silent' } })
  t.teardown(() => app.close())
  await app.ready()
  const alice = await createUser(app)
  const { default: pgModule } = await import('pg')
  const pool = new pgModule.Pool({ connectionString: db.url, max: 2 })
  t.teardown(() => pool.end())
  pool.on('error', () => {})
  const [first] = await insertMessages(pool, 1, alice.id, 1)
  t.same(ids(await app.inject('/api/messages')), [first])
  await db.restart('SIGQUIT', 500)
  // Written right after the restart: the first answer that is not a 503 must list it.
  const [second] = await waitFor(async () => insertMessages(pool, 1, alice.id, 1).catch(() => null), 15000, 'an insert after the restart')
  const listed = await waitFor(async () => {
    const res = await app.inject('/api/messages')
    return res.statusCode === 200 ? ids(res) : null
  }, 15000, 'a list after the restart')
  t.same(listed, [first, second])
})

interface Op { kind: 'post' | 'edit' | 'delete' | 'age', user: number, pick: number, seconds: number, text: string }

// Rule: for any history, every list the cache answers is byte for byte what the database gives.
t.test('for generated histories, every cached list equals the one computed from the database', async (t) => {
  const cached = await buildTestApi(t)
  const database = await fromDatabase(t)
  const pool = await testPool(t)
  const users: TestUser[] = [await createUser(cached), await createUser(cached)]
  const room = await createRoom(cached, users[0], 'generated')
  const model: number[] = []
  const op = fc.record({
    kind: fc.constantFrom('post', 'post', 'post', 'edit', 'delete', 'age'),
    user: fc.nat({ max: 1 }),
    pick: fc.nat(),
    seconds: fc.integer({ min: 0, max: 30 * 3600 }),
    text: fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(/\0/g, '')),
  }) as fc.Arbitrary<Op>
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 100 }), fc.nat({ max: 30 * 3600 }),
    async (ops, limit, since) => {
      for (const o of ops) {
        const id = model[o.pick % Math.max(model.length, 1)]
        const roomId = o.pick % 4 === 0 ? 1 : room.id
        if (o.kind === 'post' || model.length === 0) {
          const { rows } = await pool.query<MessageRow>(`INSERT INTO messages (source, html, user_id, room_id) VALUES ($1, $2, $3, $4) RETURNING ${MESSAGE_COLUMNS}`,
            [o.text || 'x', `<p>${o.text}</p>`, users[o.user].id, roomId])
          await publishEvents(pool, 'Message', rows.map(messageJson))
          model.push(rows[0].id)
        } else if (o.kind === 'edit') {
          await change(pool, 'UPDATE messages SET source = $2, edited_at = now(), updated_at = clock_timestamp() WHERE id = $1', [id, o.text])
        } else if (o.kind === 'delete') {
          await change(pool, "UPDATE messages SET deleted = true, source = '', html = '', updated_at = clock_timestamp() WHERE id = $1", [id])
        } else {
          await change(pool, 'UPDATE messages SET updated_at = now() - make_interval(secs => $2 + random()) WHERE id = $1', [id, o.seconds])
        }
      }
      const after = Math.floor(Date.now() / 1000) - since
      for (const url of [
        `/api/messages?room_id=${room.id}`, '/api/messages', `/api/messages?room_id=${room.id}&user_id=${users[0].id}`,
        `/api/messages?room_id=${room.id}&updated_since=${after}`, `/api/rooms/${room.id}/messages?limit=${limit}`, '/api/rooms/1/messages?limit=100',
      ]) {
        const mine = await cached.inject(url)
        const theirs = await database.inject(url)
        t.equal(mine.statusCode, 200)
        if (mine.body !== theirs.body) t.fail(`${url}: the cached body differs from the database's`, { found: mine.body, wanted: theirs.body })
        t.equal(mine.headers['content-type'], theirs.headers['content-type'])
      }
    }), { numRuns: 40, seed: 14 })
})

// Rule: a room's window holds only what its lists can show (the last 24 h, the newest page), and stays right as it sheds the rest.
t.test('a room\'s window forgets messages out of both lists, and still answers as the database', async (t) => {
  const cached = await buildTestApi(t)
  const database = await fromDatabase(t)
  const pool = await testPool(t)
  const alice = await createUser(cached)
  const room = await createRoom(cached, alice, 'big')
  const all = await insertMessages(pool, room.id, alice.id, 400)
  const same = async (what: string): Promise<void> => {
    for (const url of [`/api/messages?room_id=${room.id}`, `/api/rooms/${room.id}/messages?limit=100`, `/api/rooms/${room.id}/messages`]) {
      t.equal((await cached.inject(url)).body, (await database.inject(url)).body, `${what}: ${url}`)
    }
  }
  await same('all recent')
  await change(pool, "UPDATE messages SET updated_at = now() - interval '25 hours' WHERE id = ANY($1)", [all.slice(0, 300)])
  await same('300 aged out')
  const held = (): number => (cached.messageCache as unknown as { rooms: Map<number, { window: { size: number } }> }).rooms.get(room.id)!.window.size
  t.ok(held() <= 200, `the window shed the aged messages (holds ${held()})`)
  // An old message edited comes back into the 24 h list.
  await change(pool, "UPDATE messages SET source = 'back', updated_at = now() WHERE id = $1", [all[5]])
  await insertMessages(pool, room.id, alice.id, 3, 'new')
  await same('an old one edited, new ones posted')
})
