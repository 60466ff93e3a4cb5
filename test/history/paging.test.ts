import t from 'tap'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { buildTestApi, createUser, testPool } from '../helper'
import { createRoom, insertMessages, markDeleted } from '../rooms/helper'
import { PAGE_QUERIES } from '../../lib/queries/messages'

interface PageJson { messages: Array<{ id: number, room_id: number, deleted: boolean, source: string, html: string }>, _links: { older?: string, newer?: string } }

async function get (app: FastifyInstance, url: string): Promise<PageJson> {
  const res = await app.inject(url)
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
  return res.json()
}

// Follows one kind of link from `start` to its end; every page's ids in order, concatenated.
async function walk (app: FastifyInstance, start: string, way: 'older' | 'newer'): Promise<{ pages: PageJson[], ids: number[] }> {
  const pages: PageJson[] = []
  for (let url: string | undefined = start; url !== undefined; url = pages[pages.length - 1]._links[way]) {
    pages.push(await get(app, url))
    if (pages.length > 500) throw new Error('too many pages')
  }
  const ordered = way === 'older' ? [...pages].reverse() : pages
  return { pages, ids: ordered.flatMap((page) => page.messages.map((m) => m.id)) }
}

t.test('paging over generated histories: every message exactly once, in order, links exactly when more exist', async (t) => {
  const app = await buildTestApi(t)
  const pool = await testPool(t)
  const alice = await createUser(app)
  const room = await createRoom(app, alice, 'paged')
  const other = await createRoom(app, alice, 'interleaved')
  const model: number[] = []
  let seed = 0
  // Each run adds a few messages to both rooms (the other room's ids fall between ours) and pages again.
  await fc.assert(fc.asyncProperty(
    fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 100 }), fc.nat(),
    async (added, noise, limit, pick) => {
      seed++
      for (let i = 0; i < added; i++) {
        model.push(...await insertMessages(pool, room.id, alice.id, 1, `r${seed}-`))
        if (i % 3 === 0) await insertMessages(pool, other.id, alice.id, noise, 'noise')
      }
      if (model.length > 0) await markDeleted(pool, model[pick % model.length])
      const base = `/api/rooms/${room.id}/messages?limit=${limit}`

      const back = await walk(app, base, 'older')
      t.same(back.ids, model, 'backwards from the newest page: the whole history once, in order')
      const last = back.pages[back.pages.length - 1]
      t.equal(last._links.older, undefined)
      back.pages.forEach((page, i) => {
        t.equal(page._links.newer !== undefined, i > 0, 'newer exactly when newer messages exist')
        if (i < back.pages.length - 1) t.equal(page.messages.length, limit, 'only the last page back is short')
        t.ok(page.messages.every((m) => m.room_id === room.id && (!m.deleted || (m.source === '' && m.html === ''))))
      })

      // Forwards from the oldest page, by its newer links.
      const oldest = back.pages[back.pages.length - 1]
      const forward = oldest._links.newer === undefined ? { pages: [], ids: [] } : await walk(app, oldest._links.newer, 'newer')
      t.same([...oldest.messages.map((m) => m.id), ...forward.ids], model, 'forwards from the oldest page: the whole history once, in order')
      for (const page of forward.pages) t.ok(page.messages.length <= limit)

      // Any cursor, in the room or not: the page is the model's slice, links exactly when more exist.
      const cursor = model.length === 0 ? 1 + (pick % 50) : Math.max(1, model[pick % model.length] + (pick % 3) - 1)
      const before = (await get(app, `${base}&before=${cursor}`))
      const older = model.filter((id) => id < cursor)
      t.same(before.messages.map((m) => m.id), older.slice(-limit), `before=${cursor}`)
      t.equal(before._links.older !== undefined, older.length > limit)
      t.equal(before._links.newer !== undefined, model.some((id) => id >= cursor))
      const after = (await get(app, `${base}&after=${cursor}`))
      const newer = model.filter((id) => id > cursor)
      t.same(after.messages.map((m) => m.id), newer.slice(0, limit), `after=${cursor}`)
      t.equal(after._links.newer !== undefined, newer.length > limit)
      t.equal(after._links.older !== undefined, model.some((id) => id <= cursor))
    }), { numRuns: 40, seed: 13 })
})

t.test('a page is one index range: Index Scan on (room_id, id), no Sort, at any depth', async (t) => {
  const pool = await testPool(t)
  const app = await buildTestApi(t)
  const alice = await createUser(app)
  // 40 rooms taking turns, as a busy server's are: the room paged holds a fortieth of the table.
  const { rows: rooms } = await pool.query<{ id: number }>(
    "INSERT INTO rooms (name, name_key, kind) SELECT 'big' || i, 'big' || i, 'public' FROM generate_series(1, 40) AS i RETURNING id")
  await pool.query(`INSERT INTO messages (source, html, user_id, room_id)
    SELECT 'x' || i, 'x' || i, $1, ($2::int[])[1 + i % 40] FROM generate_series(1, 80000) AS i`, [alice.id, rooms.map((r) => r.id)])
  await pool.query('ANALYZE messages')
  const { rows: [{ min, max }] } = await pool.query('SELECT min(id)::int AS min, max(id)::int AS max FROM messages WHERE room_id = $1', [rooms[0].id])
  const client = await pool.connect()
  t.teardown(() => client.release())
  // Both the custom plans of the first executions and the generic plan a prepared statement settles on.
  for (const mode of ['force_custom_plan', 'force_generic_plan']) {
    await client.query(`SET plan_cache_mode = ${mode}`)
    for (const [name, query] of Object.entries(PAGE_QUERIES)) {
      await client.query(`PREPARE q AS ${query.text}`)
      for (const cursor of [min + 10, Math.floor((min + max) / 2), max - 10, 2 ** 31]) {
        const values = query.text.includes('LIMIT $3') ? [rooms[0].id, cursor, 51] : [rooms[0].id, cursor]
        const { rows } = await client.query(`EXPLAIN (FORMAT JSON) EXECUTE q(${values.join(', ')})`)
        const plan = JSON.stringify(rows[0]['QUERY PLAN'])
        t.match(plan, /"Node Type":"Index (Only )?Scan"/, `${mode} ${name} at ${cursor}: an index scan`)
        t.match(plan, /"Index Name":"messages_room_id_id_idx"/, 'on (room_id, id)')
        t.notMatch(plan, /"Node Type":"(Sort|Seq Scan|Bitmap Heap Scan)"/, 'no sort, no scan of the whole room')
        t.notMatch(plan, /"Filter"/, 'every condition bounds the index range: no row is read to be thrown away')
      }
      await client.query('DEALLOCATE q')
    }
  }
})

t.test('paging errors: both cursors, bad cursors and limits are 400; an unreadable room 404 as a missing one', async (t) => {
  const app = await buildTestApi(t)
  const [alice, bob] = [await createUser(app), await createUser(app)]
  const secret = await createRoom(app, alice, 'secret', true)
  const base = `/api/rooms/${secret.id}/messages`
  for (const query of ['?before=5&after=4', '?before=-1', '?after=0', '?before=abc', '?limit=0', '?limit=101', '?cursor=1']) {
    const res = await app.inject({ url: base + query, headers: alice.auth })
    t.equal(res.statusCode, 400, query)
    t.type(res.json().error, 'string')
  }
  const missing = await app.inject({ url: '/api/rooms/2147483647/messages?before=5', headers: bob.auth })
  for (const headers of [bob.auth, {}]) {
    const res = await app.inject({ url: `${base}?before=5`, headers })
    t.equal(res.statusCode, 404)
    t.same(res.json(), missing.json(), 'the same answer as a missing room')
  }
})
